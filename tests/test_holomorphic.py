"""`holomorphic=True` in `grad`, `value_and_grad`, `jacfwd`, `jacrev` and `hessian`,
and the dtype conditions all five share with jax.

Oracles: jax with the same flags, on the same function written against `jax.numpy`
(the `xnp` argument), and the analytic complex derivative computed in complex128.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import lamina
import lamina.numpy as lnp
from lamina.testing import assert_trees_close


def _both(fun):
    """fun(xnp, ...) as a lamina function and as a jax function."""
    return (lambda *a, **k: fun(lnp, *a, **k)), (lambda *a, **k: fun(jnp, *a, **k))


def _close(got, want):
    assert_trees_close(got, want, rtol=2e-5, atol=2e-5)


def _analytic(got, want):
    """Against a complex128 reference: values only (the reference is wider)."""
    assert_trees_close(got, want, rtol=2e-5, atol=2e-5, check_dtype=False)


# name -> (f(xnp, z), f'(z), f''(z)); the derivatives in numpy complex128.
FUNS = {
    "cube": (lambda xnp, z: z ** 3, lambda z: 3 * z ** 2, lambda z: 6 * z),
    "exp_sin": (lambda xnp, z: xnp.exp(z) * xnp.sin(z),
                lambda z: np.exp(z) * (np.sin(z) + np.cos(z)),
                lambda z: 2 * np.exp(z) * np.cos(z)),
}
Z0 = np.complex64(0.7 - 0.4j)
ZS = np.array([0.7 - 0.4j, -1.1 + 0.3j, 0.2 + 1.3j], np.complex64)


def _wide(z):
    return np.asarray(z).astype(np.complex128)


# --------------------------------------------------------------------------------------
# Values: jax with the same flags, and the analytic derivative
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(FUNS))
def test_grad_and_value_and_grad_are_the_complex_derivative(name):
    f, df, _ = FUNS[name]
    ours, theirs = _both(f)
    g = lamina.grad(ours, holomorphic=True)(Z0)
    _close(g, jax.grad(theirs, holomorphic=True)(Z0))
    _analytic(g, df(_wide(Z0)))
    v, g2 = lamina.value_and_grad(ours, holomorphic=True)(Z0)
    _close((v, g2), jax.value_and_grad(theirs, holomorphic=True)(Z0))
    # A Python complex is a weakly typed complex64, as in jax.
    g3 = lamina.grad(ours, holomorphic=True)(complex(Z0))
    want = jax.grad(theirs, holomorphic=True)(complex(Z0))
    _close(g3, want)
    assert g3.weak_type == want.weak_type


@pytest.mark.parametrize("jac", ["jacfwd", "jacrev"])
@pytest.mark.parametrize("name", sorted(FUNS))
def test_jacobians_are_the_complex_jacobian(name, jac):
    f, df, _ = FUNS[name]
    ours, theirs = _both(f)
    got = getattr(lamina, jac)(ours, holomorphic=True)(ZS)
    _close(got, getattr(jax, jac)(theirs, holomorphic=True)(ZS))
    _analytic(got, np.diag(df(_wide(ZS))))


@pytest.mark.parametrize("name", sorted(FUNS))
def test_hessian_is_the_second_complex_derivative(name):
    f, _, d2f = FUNS[name]
    ours, theirs = _both(lambda xnp, z: f(xnp, z).sum())
    got = lamina.hessian(ours, holomorphic=True)(ZS)
    _close(got, jax.hessian(theirs, holomorphic=True)(ZS))
    _analytic(got, np.diag(d2f(_wide(ZS))))


def _tree_fun(xnp, p):
    return {"u": p["a"] ** 2 * p["b"][0][:2],
            "v": (xnp.sin(p["b"][1]) * p["a"]).sum()}


def _tree_args():
    return {"a": np.array([0.5 + 0.25j, -0.75 + 1.0j], np.complex64),
            "b": [np.array([1.0 - 0.5j, 0.25j, 2.0 + 0.0j], np.complex64),
                  np.complex64(0.3 + 0.6j)]}


def test_pytree_of_complex_arrays():
    ours, theirs = _both(_tree_fun)
    p = _tree_args()
    _close(lamina.jacfwd(ours, holomorphic=True)(p), jax.jacfwd(theirs, holomorphic=True)(p))
    _close(lamina.jacrev(ours, holomorphic=True)(p), jax.jacrev(theirs, holomorphic=True)(p))
    s_ours = lambda p: ours(p)["v"] + ours(p)["u"].sum()  # noqa: E731
    s_theirs = lambda p: theirs(p)["v"] + theirs(p)["u"].sum()  # noqa: E731
    g = lamina.grad(s_ours, holomorphic=True)(p)
    _close(g, jax.grad(s_theirs, holomorphic=True)(p))
    a, b0, b1 = (_wide(p["a"]), _wide(p["b"][0]), _wide(p["b"][1]))
    want = {"a": 2 * a * b0[:2] + np.sin(b1),
            "b": [np.concatenate([a ** 2, [0]]), np.cos(b1) * a.sum()]}
    _analytic(g, want)


def _argnums_fun(xnp, x, n, y):
    """n: a real scale, not differentiated."""
    return (xnp.exp(x) * y ** 2 * n).sum()


@pytest.mark.parametrize("argnums", [(0, 2), (2,), (2, 0)])
def test_argnums_tuples(argnums):
    ours, theirs = _both(_argnums_fun)
    args = (ZS, np.float32(1.5), ZS[::-1] * 0.5)
    for name in ("grad", "jacfwd", "jacrev", "hessian"):
        got = getattr(lamina, name)(ours, argnums, holomorphic=True)(*args)
        want = getattr(jax, name)(theirs, argnums, holomorphic=True)(*args)
        _close(got, want)
    x, n, y = (_wide(a) for a in args)
    grads = {0: np.exp(x) * y ** 2 * n, 2: np.exp(x) * 2 * y * n}
    _analytic(lamina.grad(ours, argnums, holomorphic=True)(*args),
              tuple(grads[i] for i in argnums))


def test_has_aux():
    def fun(xnp, z):
        y = xnp.sin(z) * z
        return y.sum(), {"y": y, "n": 3}

    ours, theirs = _both(fun)
    (v, aux), g = lamina.value_and_grad(ours, has_aux=True, holomorphic=True)(ZS)
    (v2, aux2), g2 = jax.value_and_grad(theirs, has_aux=True, holomorphic=True)(ZS)
    _close((v, aux["y"], g), (v2, aux2["y"], g2))
    assert aux["n"] == 3
    g3, aux3 = lamina.grad(ours, has_aux=True, holomorphic=True)(ZS)
    _close((g3, aux3["y"]), (g2, aux2["y"]))
    z = _wide(ZS)
    _analytic(g3, np.cos(z) * z + np.sin(z))

    def vec(xnp, z):
        y = xnp.sin(z) * z
        return y, y.sum()

    ours, theirs = _both(vec)
    for name in ("jacfwd", "jacrev"):
        _close(getattr(lamina, name)(ours, has_aux=True, holomorphic=True)(ZS),
               getattr(jax, name)(theirs, has_aux=True, holomorphic=True)(ZS))
    _close(lamina.hessian(ours, has_aux=True, holomorphic=True)(ZS[0]),
           jax.hessian(theirs, has_aux=True, holomorphic=True)(ZS[0]))


# --------------------------------------------------------------------------------------
# Under jit and vmap
# --------------------------------------------------------------------------------------


def test_under_jit_and_vmap():
    f, df, d2f = FUNS["exp_sin"]
    ours, theirs = _both(f)
    g = lamina.grad(ours, holomorphic=True)
    _close(lamina.jit(g)(Z0), jax.jit(jax.grad(theirs, holomorphic=True))(Z0))
    per = lamina.vmap(g)(ZS)
    _close(per, jax.vmap(jax.grad(theirs, holomorphic=True))(ZS))
    _analytic(per, df(_wide(ZS)))
    _analytic(lamina.jit(lamina.vmap(lamina.grad(g, holomorphic=True)))(ZS), d2f(_wide(ZS)))
    # The transform traced inside jit: the dtype checks see tracers.
    jac = lamina.jit(lamina.jacrev(ours, holomorphic=True))(ZS)
    _analytic(jac, np.diag(df(_wide(ZS))))
    jac = lamina.jit(lamina.jacfwd(lamina.jit(ours), holomorphic=True))(ZS)
    _analytic(jac, np.diag(df(_wide(ZS))))
    with pytest.raises(TypeError, match="holomorphic=True requires inputs"):
        lamina.jit(g)(np.float32(1.0))


# --------------------------------------------------------------------------------------
# Without holomorphic: a real-valued function of complex inputs (jax's convention)
# --------------------------------------------------------------------------------------


def test_real_valued_function_of_complex_input_uses_jax_convention():
    ours, theirs = _both(lambda xnp, z: (xnp.abs(z) ** 2 + xnp.real(z ** 3)).sum())
    g = lamina.grad(ours)(ZS)
    _close(g, jax.grad(theirs)(ZS))
    # jax's convention is df/dx - i df/dy: 2 conj(z) for |z|^2, and g'(z) for Re g(z)
    # with g holomorphic (Cauchy-Riemann).
    z = _wide(ZS)
    _analytic(g, 2 * np.conj(z) + 3 * z ** 2)
    _close(lamina.jacrev(ours)(ZS), jax.jacrev(theirs)(ZS))


def test_jacrev_allow_int_block_matches_jax():
    """An integer input's Jacobian block: zeros of the input's dtype, as jax's."""
    ours, theirs = _both(lambda xnp, x, n: x * n.sum() * 2.0)
    args = (np.ones(2, np.float32), np.arange(3, dtype=np.int32))
    kw = dict(argnums=(0, 1), allow_int=True)
    _close(lamina.jacrev(ours, **kw)(*args), jax.jacrev(theirs, **kw)(*args))


# --------------------------------------------------------------------------------------
# Errors: raised exactly where jax raises
# --------------------------------------------------------------------------------------


def _abs(xnp, z):
    return xnp.abs(z)


def _square(xnp, z):
    return z * z


def _int_out(xnp, z):
    return xnp.ones((), np.int32)


# (transform, kwargs, fun(xnp, z), argument, substrings of lamina's message or None
# when the call succeeds)
CASES = [
    ("grad", dict(holomorphic=True), _square, np.float32(2.0),
     ["holomorphic=True requires inputs with complex dtype", "float32 (f32[])"]),
    ("grad", dict(holomorphic=True), _square, np.int32(2),
     ["holomorphic=True requires inputs", "int32"]),
    ("grad", dict(holomorphic=True, allow_int=True), _square, np.int32(2),
     ["holomorphic=True requires inputs", "int32"]),
    ("grad", dict(), _square, np.int32(2), ["allow_int", "int32"]),
    ("grad", dict(allow_int=True), lambda xnp, n: n * 2.0, np.int32(2), None),
    ("grad", dict(holomorphic=True), _abs, Z0,
     ["holomorphic=True requires outputs with complex dtype", "float32 (f32[])"]),
    ("grad", dict(), _square, Z0, ["real-valued outputs", "complex64 (c64[])",
                                   "holomorphic=True"]),
    ("grad", dict(allow_int=True), _int_out, np.int32(2), ["real-valued outputs", "int32"]),
    ("grad", dict(), _abs, Z0, None),
    ("value_and_grad", dict(holomorphic=True), _square, np.float32(2.0),
     ["holomorphic=True requires inputs", "float32"]),
    ("value_and_grad", dict(holomorphic=True), _abs, Z0,
     ["holomorphic=True requires outputs", "float32"]),
    ("jacfwd", dict(holomorphic=True), _square, np.ones(2, np.float32),
     ["holomorphic=True requires inputs", "float32 (f32[2])"]),
    ("jacfwd", dict(), _square, ZS, ["real-valued inputs", "complex64 (c64[3])",
                                     "holomorphic=True"]),
    ("jacfwd", dict(), _square, np.int32(2), ["real-valued inputs", "int32"]),
    ("jacfwd", dict(holomorphic=True), _abs, ZS,
     ["holomorphic=True requires outputs", "float32 (f32[3])"]),
    ("jacfwd", dict(), lambda xnp, x: x * 1j, np.ones(2, np.float32), None),
    ("jacrev", dict(holomorphic=True), _square, np.ones(2, np.float32),
     ["holomorphic=True requires inputs", "float32 (f32[2])"]),
    ("jacrev", dict(holomorphic=True, allow_int=True), _square, np.int32(2),
     ["holomorphic=True requires inputs", "int32"]),
    ("jacrev", dict(allow_int=True), lambda xnp, n: n * 2.0, np.int32(2), None),
    ("jacrev", dict(), _square, ZS, ["real-valued outputs", "complex64 (c64[3])"]),
    ("jacrev", dict(holomorphic=True), _abs, ZS,
     ["holomorphic=True requires outputs", "float32 (f32[3])"]),
    ("jacrev", dict(), _abs, ZS, None),
    ("hessian", dict(holomorphic=True), lambda xnp, x: (x * x).sum(),
     np.ones(2, np.float32), ["holomorphic=True requires inputs", "float32"]),
    ("hessian", dict(), lambda xnp, z: xnp.abs(z).sum(), ZS,
     ["jacfwd requires real-valued inputs", "complex64"]),
]


@pytest.mark.parametrize("case", range(len(CASES)))
def test_dtype_conditions_match_jax(case):
    name, kwargs, fun, arg, expect = CASES[case]
    ours, theirs = _both(fun)
    try:
        getattr(jax, name)(theirs, **kwargs)(arg)
        jax_raised = False
    except TypeError:
        jax_raised = True
    assert jax_raised == (expect is not None)
    if expect is None:
        getattr(lamina, name)(ours, **kwargs)(arg)
        return
    with pytest.raises(TypeError) as info:
        getattr(lamina, name)(ours, **kwargs)(arg)
    for piece in expect:
        assert piece in str(info.value), (piece, str(info.value))
