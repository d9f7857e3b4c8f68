"""custom_jvp / custom_vjp against jax.custom_jvp / jax.custom_vjp on the same functions,
composed with jit, vmap and grad."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import lamina
import lamina.numpy as lnp
from lamina.custom_derivatives import custom_jvp, custom_vjp
from lamina.testing import assert_array_close


def _log1pexp(cj, np_):
    @cj
    def log1pexp(x):
        return np_.log(1. + np_.exp(x))

    @log1pexp.defjvp
    def log1pexp_jvp(primals, tangents):
        x, = primals
        t, = tangents
        return log1pexp(x), t * (1. - 1. / (1. + np_.exp(x)))

    return log1pexp


def _clip_gradient(cv, np_):
    @cv
    def clip_gradient(lo, hi, x):
        return x

    clip_gradient.defvjp(lambda lo, hi, x: (x, (lo, hi)),
                         lambda res, g: (None, None, np_.clip(g, res[0], res[1])))
    return clip_gradient


def _nondiff_apply(cj, np_):
    # jax docs' `app`: a function-valued nondiff argument
    @(lambda f: cj(f, nondiff_argnums=(0,)))
    def app(f, x):
        return f(x)

    @app.defjvp
    def app_jvp(f, primals, tangents):
        x, = primals
        t, = tangents
        return f(x), 2. * t

    return lambda x: app(np_.sin, x)


def _pytree_vjp(cv, np_):
    @cv
    def f(d):
        return {"s": d["a"] * d["b"], "t": np_.sin(d["a"])}

    def fwd(d):
        return f(d), (d["a"], d["b"])

    def bwd(res, g):
        a, b = res
        return ({"a": g["s"] * b + g["t"] * np_.cos(a) * 0.5, "b": None},)

    f.defvjp(fwd, bwd)
    return lambda a, b: (lambda o: np_.sum(o["s"]) + np_.sum(o["t"]))(f({"a": a, "b": b}))


X = np.array([-30., -1., 0.5, 3., 100.], np.float32)


@pytest.mark.parametrize("transform", ["grad", "jit_grad", "grad_jit", "vmap_grad",
                                       "grad_vmap"])
def test_log1pexp(transform):
    fl, fj = _log1pexp(custom_jvp, lnp), _log1pexp(jax.custom_jvp, jnp)

    def apply(api, f):
        g = api.grad(f)
        return {"grad": lambda: api.vmap(g)(X),
                "jit_grad": lambda: api.vmap(api.jit(g))(X),
                "grad_jit": lambda: api.vmap(api.grad(api.jit(f)))(X),
                "vmap_grad": lambda: api.vmap(g)(X),
                "grad_vmap": lambda: api.grad(lambda x: api.vmap(f)(x).sum())(X)}[transform]()

    expected = apply(jax, fj)
    got = apply(lamina, fl)
    assert_array_close(got, np.asarray(expected))
    assert np.isfinite(np.asarray(got)).all()  # the naive derivative is nan at 100


def test_jvp_and_values():
    fl, fj = _log1pexp(custom_jvp, lnp), _log1pexp(jax.custom_jvp, jnp)
    assert_array_close(lamina.jit(fl)(X), np.asarray(jax.jit(fj)(X)))
    out, t = lamina.jvp(fl, (X,), (np.ones_like(X),))
    eout, et = jax.jvp(fj, (X,), (np.ones_like(X),))
    assert_array_close(out, np.asarray(eout))
    assert_array_close(t, np.asarray(et))
    # a second derivative differentiates the rule itself
    assert_array_close(lamina.vmap(lamina.grad(lamina.grad(fl)))(X),
                       np.asarray(jax.vmap(jax.grad(jax.grad(fj)))(X)), rtol=1e-5, atol=1e-6)


def test_custom_jvp_staged_as_one_equation():
    fl = _log1pexp(custom_jvp, lnp)
    program = lamina.make_jaxpr(fl)(1.0)
    assert [e.primitive.name for e in program.eqns] == ["custom_jvp_call"]


def test_nondiff_argnums_and_defjvps():
    fl, fj = _nondiff_apply(custom_jvp, lnp), _nondiff_apply(jax.custom_jvp, jnp)
    assert_array_close(lamina.vmap(lamina.grad(fl))(X), np.asarray(jax.vmap(jax.grad(fj))(X)))

    def make(cj, np_):
        f = cj(lambda x, y: np_.sin(x) * y)
        f.defjvps(lambda t, ans, x, y: np_.cos(x) * y * t, None)
        return f

    gl = lamina.grad(make(custom_jvp, lnp), (0, 1))(0.3, 2.0)
    gj = jax.grad(make(jax.custom_jvp, jnp), (0, 1))(0.3, 2.0)
    for a, b in zip(gl, gj):
        assert_array_close(a, np.asarray(b))


def test_traced_nondiff_argument_is_not_differentiated():
    def make(cj):
        f = cj(lambda scale, x: scale * x, nondiff_argnums=(0,))
        f.defjvp(lambda scale, p, t: (scale * p[0], 10. * t[0]))
        return f

    fl, fj = make(custom_jvp), make(jax.custom_jvp)
    got = lamina.grad(lambda s, x: fl(s, x), (0, 1))(3.0, 2.0)
    want = jax.grad(lambda s, x: fj(s, x), (0, 1))(3.0, 2.0)
    for a, b in zip(got, want):
        assert_array_close(a, np.asarray(b))


def test_symbolic_zeros():
    seen = []

    @custom_jvp
    def f(x, n):
        return x * n

    def f_jvp(primals, tangents):
        x, n = primals
        tx, tn = tangents
        seen.append(type(tn).__name__)
        return f(x, n), tx * n

    f.defjvp(f_jvp, symbolic_zeros=True)
    assert_array_close(lamina.grad(f)(2.0, 3), np.float32(3.0))
    assert seen == ["SymbolicZero"]


def test_closure_over_traced_values():
    def make(cj, np_, c):
        @cj
        def f(x):
            return np_.sin(x) * c

        f.defjvp(lambda p, t: (f(p[0]), np_.cos(p[0]) * c * t[0]))
        return f

    w = np.array([1., 2., 3.], np.float32)
    # jit and vmap tracers closed over by both the function and its rule
    got = lamina.jit(lambda c: lamina.grad(make(custom_jvp, lnp, c))(0.5))(2.0)
    assert_array_close(got, np.float32(np.cos(0.5) * 2.0))
    got = lamina.vmap(lambda c: lamina.grad(make(custom_jvp, lnp, c))(0.5))(w)
    assert_array_close(got, (np.cos(0.5) * w).astype(np.float32))
    # differentiating with respect to a closed-over value is jax's error
    with pytest.raises(ValueError, match="closed-over value"):
        lamina.grad(lambda c: make(custom_jvp, lnp, c)(0.5))(2.0)


@pytest.mark.parametrize("transform", ["grad", "jit_grad", "grad_jit", "vmap_grad",
                                       "grad_vmap"])
def test_clip_gradient(transform):
    fl, fj = _clip_gradient(custom_vjp, lnp), _clip_gradient(jax.custom_vjp, jnp)

    def apply(api, f):
        h = lambda x: 3.0 * f(-1.0, 1.0, x) ** 2  # noqa: E731
        g = api.grad(h)
        return {"grad": lambda: api.vmap(g)(X),
                "jit_grad": lambda: api.vmap(api.jit(g))(X),
                "grad_jit": lambda: api.vmap(api.grad(api.jit(h)))(X),
                "vmap_grad": lambda: api.vmap(g)(X),
                "grad_vmap": lambda: api.grad(lambda x: api.vmap(h)(x).sum())(X)}[transform]()

    assert_array_close(apply(lamina, fl), np.asarray(apply(jax, fj)))


def test_custom_vjp_pytrees_and_values():
    fl, fj = _pytree_vjp(custom_vjp, lnp), _pytree_vjp(jax.custom_vjp, jnp)
    a, b = X[:3], X[1:4]
    assert_array_close(lamina.jit(fl)(a, b), np.asarray(fj(a, b)))
    got = lamina.grad(fl, (0, 1))(a, b)
    want = jax.grad(fj, (0, 1))(a, b)
    for g, w in zip(got, want):
        assert_array_close(g, np.asarray(w))
    # a shared (unbatched) argument's cotangent sums over the batch
    got = lamina.grad(lambda b: lamina.vmap(fl, (0, None))(np.stack([a, a]), b).sum())(b)
    want = jax.grad(lambda b: jax.vmap(fj, (0, None))(jnp.stack([a, a]), b).sum())(b)
    assert_array_close(got, np.asarray(want))


def test_custom_vjp_forward_mode_error():
    f = _clip_gradient(custom_vjp, lnp)
    with pytest.raises(TypeError, match="can't apply forward-mode autodiff"):
        lamina.jvp(lambda x: f(-1., 1., x), (1.0,), (1.0,))
    with pytest.raises(TypeError, match="can't apply forward-mode autodiff"):
        lamina.jvp(lamina.jit(lambda x: f(-1., 1., x)), (1.0,), (1.0,))


def test_custom_vjp_tracer_nondiff_error():
    f = custom_vjp(lambda s, x: s * x, nondiff_argnums=(0,))
    f.defvjp(lambda s, x: (s * x, None), lambda s, _, g: (g * s,))
    with pytest.raises(TypeError, match="nondiff_argnums"):
        lamina.jit(f)(2.0, 1.0)


@pytest.mark.parametrize("bwd, match", [
    (lambda res, g: g, "tuple of length equal"),
    (lambda res, g: (g, g), "tuple of length equal"),
    (lambda res, g: (lnp.ones(2),), "same shape/dtypes"),
])
def test_bwd_output_errors(bwd, match):
    f = custom_vjp(lambda x: x * 2.0)
    f.defvjp(lambda x: (x * 2.0, None), bwd)
    with pytest.raises((TypeError, ValueError), match=match):
        lamina.grad(f)(1.0)


def test_jvp_rule_output_errors():
    f = custom_jvp(lambda x: x * 2.0)
    f.defjvp(lambda p, t: (p[0] * 2.0, (t[0], t[0])))
    with pytest.raises(TypeError, match="equal container"):
        lamina.grad(f)(1.0)
    g = custom_jvp(lambda x: x)
    with pytest.raises(AttributeError, match="No JVP defined"):
        g(1.0)
