"""lamina.lax.bessel_i0e against jax.lax.bessel_i0e (the oracle: the same Cephes
expansion compiled by the same XLA, so values must match bit for bit), its dtype rules,
vmap and jit; and the derivatives of bessel_i0e and bessel_i1e against jax and finite
differences."""
from __future__ import annotations

import jax
import ml_dtypes
import numpy as np
import pytest

import lamina
from lamina import lax
from lamina.testing import check_grads, check_vmap

f16, f32, f64, bf16 = np.float16, np.float32, np.float64, ml_dtypes.bfloat16
NAMES = ("bessel_i0e", "bessel_i1e")

# Both Chebyshev branches and the switch at |x| = 8, tiny and huge values, ±inf, NaN.
EDGES = [0.0, -0.0, 1e-30, 1e-8, 0.5, -1.0, 2.5, 7.999, 8.0, -8.0, 8.0001, 12.0, 50.0,
         -300.0, 1e4, 1e30, np.inf, -np.inf, np.nan]
X = np.concatenate([EDGES, np.random.default_rng(0).normal(size=40) * 10])


def _x64(dtype):
    """Context managers that enable x64 in both lamina and jax for float64."""
    if dtype == f64:
        return lamina.config.override(enable_x64=True), jax.enable_x64(True)
    return lamina.config.override(), jax.enable_x64(jax.config.jax_enable_x64)


# --------------------------------------------------------------------------------------
# Values and dtype rules
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [f32, f64, f16, bf16],
                         ids=["f32", "f64", "f16", "bf16"])
def test_values_match_jax_bitwise(dtype):
    ours_cm, jax_cm = _x64(dtype)
    with ours_cm, jax_cm, np.errstate(over="ignore"):  # 1e30 is inf in float16
        x = X.astype(dtype)
        eager = np.asarray(lax.bessel_i0e(x))
        jitted = np.asarray(lamina.jit(lax.bessel_i0e)(x))
        want = np.asarray(jax.lax.bessel_i0e(x))
    assert eager.dtype == jitted.dtype == want.dtype == dtype
    np.testing.assert_array_equal(eager, want)  # NaN where jax has NaN, else identical
    np.testing.assert_array_equal(jitted, want)


def test_values_match_scipy():
    sc = pytest.importorskip("scipy.special")
    x = np.concatenate([np.linspace(-20, 20, 81), np.geomspace(1e-3, 1e5, 30)])
    with lamina.config.override(enable_x64=True):
        np.testing.assert_allclose(np.asarray(lax.bessel_i0e(x)), sc.i0e(x), rtol=1e-15)
    got = np.asarray(lax.bessel_i0e(x.astype(f32)), f64)
    np.testing.assert_allclose(got, sc.i0e(x.astype(f32).astype(f64)), rtol=2e-7)


def test_special_values_and_types():
    out = lax.bessel_i0e(1.0)
    assert out.dtype == f32 and out.aval.weak_type  # a Python float stays weakly typed
    special = np.array([0.0, np.inf, -np.inf, np.nan], f32)
    np.testing.assert_array_equal(np.asarray(lax.bessel_i0e(special)),
                                  np.array([1.0000001, 0, 0, np.nan], f32))
    empty = lax.bessel_i0e(np.zeros((0, 3), f32))
    assert empty.shape == (0, 3) and empty.dtype == f32
    shaped = lamina.eval_shape(lax.bessel_i0e, jax.ShapeDtypeStruct((2, 5), bf16))
    assert shaped.shape == (2, 5) and shaped.dtype == bf16
    assert "bessel_i0e" in str(lamina.make_jaxpr(lax.bessel_i0e)(np.ones(3, f32)))


@pytest.mark.parametrize("value", [np.int32(1), np.array([1, 2], np.uint8), True,
                                   np.complex64(1j), 3], ids=str)
def test_rejects_non_floats_like_jax(value):
    with pytest.raises(TypeError, match="bessel_i0e"):
        lax.bessel_i0e(value)
    with pytest.raises(TypeError):
        jax.lax.bessel_i0e(value)
    with pytest.raises(TypeError, match="bessel_i0e"):
        lamina.jit(lax.bessel_i0e)(value)


def test_vmap_matches_a_loop():
    x = X[:24].astype(f32).reshape(4, 6)
    check_vmap(lax.bessel_i0e, (x,))
    check_vmap(lax.bessel_i0e, (x,), in_axes=1)
    check_vmap(lamina.vmap(lax.bessel_i0e), (x,))


# --------------------------------------------------------------------------------------
# Derivatives
# --------------------------------------------------------------------------------------

# Around the kink at 0, the tiny-x limit of i1e's derivative (|x| <= eps), the branch
# switch at 8 and far out.
GRAD_X = np.array([0.0, -0.0, 1e-9, -1e-9, 1.2e-7, -3e-7, 1e-3, 0.3, -1.7, 7.9, 8.0,
                   -8.5, 30.0, -200.0], f32)


def _elementwise_grad(grad, name, x, order=1):
    f = getattr(lamina.lax if grad is lamina.grad else jax.lax, name)
    for _ in range(order):
        f = grad(f)
    vmap = lamina.vmap if grad is lamina.grad else jax.vmap
    return np.asarray(vmap(f)(x))


@pytest.mark.parametrize("name", NAMES)
def test_grads_match_jax(name):
    for order in (1, 2):
        got = _elementwise_grad(lamina.grad, name, GRAD_X, order)
        want = _elementwise_grad(jax.grad, name, GRAD_X, order)
        np.testing.assert_allclose(got, want, rtol=2e-6, atol=1e-7,
                                   err_msg=f"order {order}")
    _, t = lamina.jvp(getattr(lax, name), (GRAD_X,), (np.full_like(GRAD_X, 2.0),))
    _, t_jax = jax.jvp(getattr(jax.lax, name), (GRAD_X,), (np.full_like(GRAD_X, 2.0),))
    np.testing.assert_allclose(np.asarray(t), np.asarray(t_jax), rtol=2e-6, atol=1e-7)


def test_i1e_derivative_at_tiny_x_is_the_limit():
    x = np.array([0.0, -0.0, 1e-30, -1e-12, np.finfo(f32).eps], f32)
    np.testing.assert_array_equal(_elementwise_grad(lamina.grad, "bessel_i1e", x), 0.5)
    # Just past eps, the formula takes over, continuously.
    near = _elementwise_grad(lamina.grad, "bessel_i1e", np.array([3e-7, -1e-5], f32))
    np.testing.assert_allclose(near, 0.5, atol=1e-5)


@pytest.mark.parametrize("name", NAMES)
def test_grads_against_finite_differences(name):
    # float64, away from the kink of |x| at 0 (i1e's derivative is smooth there, but the
    # limit branch is not differentiable again), to second order in both modes.
    x = np.array([1e-3, -0.4, 2.0, -7.5, 8.4, 25.0])
    with lamina.config.override(enable_x64=True):
        check_grads(getattr(lax, name), (x,), order=2, modes=("fwd", "rev"))


def test_derivatives_under_jit_and_vmap():
    x = GRAD_X.reshape(2, 7)

    def loss(x):
        return (lax.bessel_i0e(x) * lax.bessel_i1e(x)).sum()

    def jax_loss(x):
        return (jax.lax.bessel_i0e(x) * jax.lax.bessel_i1e(x)).sum()

    want = np.asarray(jax.vmap(jax.grad(jax_loss))(x))
    for f in (lamina.jit(lamina.vmap(lamina.grad(loss))),
              lamina.vmap(lamina.jit(lamina.grad(loss)))):
        np.testing.assert_allclose(np.asarray(f(x)), want, rtol=2e-6, atol=1e-7)
