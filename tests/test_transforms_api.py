"""The transformation API (`grad`, `value_and_grad`, `jvp`, `vjp`, `linearize`,
`jacfwd`, `jacrev`, `hessian`, `vmap`) and how the transformations compose.

Oracle: jax, on the same function written against `jax.numpy` (the `xnp` argument).
Per-primitive rules are tested by family in tests/core/test_transforms_*.py.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import lamina
import lamina.numpy as lnp
from lamina.testing import assert_trees_close

RTOL = {np.float32: 2e-5}


def mlp_loss(xnp, params, x, y):
    h = xnp.tanh(x @ params["w1"] + params["b1"])
    out = h @ params["w2"]
    return xnp.mean((out - y) ** 2)


def _mlp_args(seed=0):
    rng = np.random.default_rng(seed)
    params = {"w1": rng.standard_normal((3, 5)).astype(np.float32),
              "b1": rng.standard_normal(5).astype(np.float32),
              "w2": rng.standard_normal((5, 2)).astype(np.float32)}
    x = rng.standard_normal((4, 3)).astype(np.float32)
    y = rng.standard_normal((4, 2)).astype(np.float32)
    return params, x, y


def _both(fun):
    """fun(xnp, ...) as a lamina function and as a jax function."""
    return (lambda *a, **k: fun(lnp, *a, **k)), (lambda *a, **k: fun(jnp, *a, **k))


def _close(got, want):
    assert_trees_close(got, want, rtol=1e-5, atol=1e-5)


# --------------------------------------------------------------------------------------
# grad family
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("argnums", [0, 1, (0, 2), (1,)])
def test_grad_argnums_match_jax(argnums):
    ours, theirs = _both(mlp_loss)
    args = _mlp_args()
    _close(lamina.grad(ours, argnums)(*args), jax.grad(theirs, argnums)(*args))


def test_value_and_grad_has_aux():
    def loss(xnp, params, x, y):
        value = mlp_loss(xnp, params, x, y)
        return value, {"value": value, "n": x.shape[0]}

    ours, theirs = _both(loss)
    args = _mlp_args()
    (v1, aux1), g1 = lamina.value_and_grad(ours, has_aux=True)(*args)
    (v2, aux2), g2 = jax.value_and_grad(theirs, has_aux=True)(*args)
    _close((v1, aux1["value"], g1), (v2, aux2["value"], g2))
    assert aux1["n"] == 4
    g, aux = lamina.grad(ours, has_aux=True)(*args)
    _close(g, g2)


def test_grad_errors_are_jax_errors():
    with pytest.raises(TypeError, match="scalar-output"):
        lamina.grad(lambda x: x * 2)(np.ones(3, np.float32))
    with pytest.raises(TypeError, match="real- or complex-valued inputs.*int32"):
        lamina.grad(lambda x: x * 2.0)(np.int32(3))
    with pytest.raises(TypeError, match="argnums"):
        lamina.grad(lambda x: x, argnums=3)(1.0)


def test_grad_allow_int_gives_float0():
    g = lamina.grad(lambda x, n: x * n, argnums=(0, 1), allow_int=True)(2.0, 3)
    assert float(g[0]) == 3.0
    assert np.asarray(g[1]).dtype == jax.dtypes.float0


def test_grad_of_closure_and_constant_output():
    w = lnp.arange(3.0)
    _close(lamina.grad(lambda x: (x * w).sum())(np.ones(3, np.float32)),
           np.arange(3.0, dtype=np.float32))
    assert float(lamina.grad(lambda x: 3.0)(1.0)) == 0.0


def test_jvp_and_linearize_match_jax():
    ours, theirs = _both(lambda xnp, x: xnp.sin(x) * xnp.exp(x[::-1]))
    x = np.linspace(-1, 1, 5, dtype=np.float32)
    t = np.linspace(0.5, 2, 5, dtype=np.float32)
    _close(lamina.jvp(ours, (x,), (t,)), jax.jvp(theirs, (x,), (t,)))
    y, f_jvp = lamina.linearize(ours, x)
    _close((y, f_jvp(t)), jax.jvp(theirs, (x,), (t,)))


def test_jvp_type_mismatch_is_a_clear_error():
    with pytest.raises(TypeError, match="equal types"):
        lamina.jvp(lambda x: x, (np.ones(3, np.float32),), (np.ones(4, np.float32),))


def test_vjp_pytrees_match_jax():
    def f(xnp, a, b):
        return {"s": xnp.sum(a["x"] * b), "v": a["x"] ** 2}

    ours, theirs = _both(f)
    a = {"x": np.arange(1.0, 4.0, dtype=np.float32)}
    b = np.float32(2.0)
    ct = {"s": np.float32(1.5), "v": np.ones(3, np.float32)}
    out1, pull1 = lamina.vjp(ours, a, b)
    out2, pull2 = jax.vjp(theirs, a, b)
    _close((out1, pull1(ct)), (out2, pull2(ct)))


@pytest.mark.parametrize("jac", ["jacfwd", "jacrev"])
def test_jacobians_match_jax(jac):
    ours, theirs = _both(lambda xnp, x, y: xnp.tanh(x[:, None] * y[None, :]))
    x = np.linspace(-1, 1, 3, dtype=np.float32)
    y = np.linspace(0.5, 1.5, 2, dtype=np.float32)
    for argnums in (0, (0, 1)):
        _close(getattr(lamina, jac)(ours, argnums)(x, y), getattr(jax, jac)(theirs, argnums)(x, y))


def test_hessian_matches_jax():
    ours, theirs = _both(lambda xnp, x: xnp.sum(xnp.sin(x) * x[::-1] ** 2))
    x = np.linspace(-1, 1, 4, dtype=np.float32)
    _close(lamina.hessian(ours)(x), jax.hessian(theirs)(x))


# --------------------------------------------------------------------------------------
# vmap
# --------------------------------------------------------------------------------------


def test_vmap_in_axes_out_axes_match_jax():
    ours, theirs = _both(lambda xnp, x, y: (x * y.sum(), x + 1))
    x = np.arange(12.0, dtype=np.float32).reshape(3, 4)
    y = np.arange(6.0, dtype=np.float32).reshape(2, 3)
    for in_axes, out_axes in [((0, 1), 0), ((1, None), (1, 0)), ((-1, None), -1)]:
        _close(lamina.vmap(ours, in_axes, out_axes)(x, y),
               jax.vmap(theirs, in_axes, out_axes)(x, y))


def test_vmap_pytree_in_axes_and_kwargs():
    def f(d, scale):
        return d["a"] * scale + d["b"]

    d = {"a": np.ones((3, 2), np.float32), "b": np.float32(1.0)}
    got = lamina.vmap(f, in_axes=({"a": 0, "b": None}, None))(d, 2.0)
    _close(got, np.full((3, 2), 3.0, np.float32))


def test_vmap_unmapped_output_is_broadcast_and_axis_size():
    out = lamina.vmap(lambda x: 1.0, axis_size=3, in_axes=None)(np.float32(0))
    assert out.shape == (3,)


def test_vmap_errors_are_jax_errors():
    with pytest.raises(ValueError, match="inconsistent sizes"):
        lamina.vmap(lambda x, y: x + y)(np.ones(3), np.ones(4))
    with pytest.raises(ValueError, match="at least one non-None"):
        lamina.vmap(lambda x: x, in_axes=None)(np.ones(3))
    with pytest.raises(ValueError, match="axis 2"):
        lamina.vmap(lambda x: x, in_axes=2)(np.ones((3, 4)))
    with pytest.raises(ValueError, match="in_axes"):
        lamina.vmap(lambda x, y: x, in_axes=(0,))(np.ones(3), np.ones(3))


# --------------------------------------------------------------------------------------
# Composition
# --------------------------------------------------------------------------------------

COMPOSITIONS = {
    "jit(grad)": lambda t, f: t.jit(t.grad(f)),
    "grad(jit)": lambda t, f: t.grad(t.jit(f)),
    "jit(vmap(grad))": lambda t, f: t.jit(t.vmap(t.grad(f), in_axes=(None, 0, 0))),
    "vmap(grad(jit))": lambda t, f: t.vmap(t.grad(t.jit(f)), in_axes=(None, 0, 0)),
}


@pytest.mark.parametrize("name", list(COMPOSITIONS))
def test_compositions_match_jax(name):
    ours, theirs = _both(mlp_loss)
    params, x, y = _mlp_args()
    if "vmap" in name:  # per-example gradients
        x, y = x[:, None], y[:, None]
    compose = COMPOSITIONS[name]
    _close(compose(lamina, ours)(params, x, y), compose(jax, theirs)(params, x, y))


def test_higher_order_derivatives():
    ours, theirs = _both(lambda xnp, x: xnp.sin(x) * x ** 3)
    for n in (2, 3):
        f_ours, f_theirs = ours, theirs
        for _ in range(n):
            f_ours, f_theirs = lamina.grad(f_ours), jax.grad(f_theirs)
        _close(f_ours(0.7), f_theirs(0.7))
    _close(lamina.jit(lamina.grad(lamina.grad(ours)))(0.7), jax.grad(jax.grad(theirs))(0.7))


def test_vmap_of_jacrev_and_jacfwd_of_vmap():
    ours, theirs = _both(lambda xnp, x: xnp.tanh(x) * x.sum())
    x = np.linspace(-1, 1, 6, dtype=np.float32).reshape(2, 3)
    _close(lamina.vmap(lamina.jacrev(ours))(x), jax.vmap(jax.jacrev(theirs))(x))
    _close(lamina.jacfwd(lamina.vmap(ours))(x), jax.jacfwd(jax.vmap(theirs))(x))


def test_make_jaxpr_of_grad_shows_forward_and_backward():
    text = str(lamina.make_jaxpr(lamina.grad(lambda x: lnp.sin(x) * 2.0))(np.float32(1.0)))
    # the primal sin(x) is unused by the gradient, so it is dead code and dropped
    assert "cos" in text and "mul" in text and "sin" not in text


def test_escaped_tracer_is_a_clear_error():
    leaked = []

    def f(x):
        leaked.append(x)
        return x * 2

    lamina.grad(f)(1.0)
    with pytest.raises(Exception, match="escaped"):
        lnp.sin(leaked[0])


def test_hessian_of_a_small_mlp_matches_jax():
    ours, theirs = _both(mlp_loss)
    params, x, y = _mlp_args(1)
    small = {"w1": params["w1"][:, :2], "b1": params["b1"][:2], "w2": params["w2"][:2]}
    _close(lamina.hessian(ours)(small, x, y), jax.hessian(theirs)(small, x, y))
