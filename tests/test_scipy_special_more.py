"""lamina.scipy.special's factorial, comb, poch, loggamma, boxcox, boxcox1p, bernoulli,
erfcx, dawsn, expi, exp1, expn, spence and bessel_jn against jax.scipy.special (the oracle: the same
algorithms compiled by the same XLA): random and edge inputs in float32 and float64,
dtypes and weak types of Python-scalar calls, jit, vmap against a Python loop, and
derivatives against jax.grad."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import jax.scipy.special as jsp
import numpy as np
import pytest

import lamina
import lamina.numpy as lnp
import lamina.scipy.special as lsp

f32, f64 = np.float32, np.float64
nan, inf = np.nan, np.inf

from ulp_oracle import _ulps, _x64  # noqa: E402


def assert_close(got, want, dtype, max_ulps=0):
    assert got.shape == want.shape and got.dtype == want.dtype, (got, want)
    assert _ulps(got, want, dtype) <= max_ulps, (_ulps(got, want, dtype), got, want)


_RNG = np.random.default_rng(0)
_X = np.concatenate([
    [0, -0.0, 1, -1, 0.5, 2, nan, inf, -inf, 1e-30, 1e-5, 3.25, 6.25, 9.5, 27, 64, 100,
     700, -3, -2.5, -50, 1e4],
    _RNG.uniform(-10, 10, 12), _RNG.uniform(0, 3, 8), np.exp(_RNG.uniform(-5, 6, 8))])
# NOTE: in a batch, E_n's series and continued fraction both run on every element (as
# in jax), and the continued fraction barely converges for tiny x: keep |x| >= 0.05.
_X_EXP = np.array([0, 0.05, -0.05, 0.3, -0.7, 1, -1, 1.5, 2, -2, 3.9, 5, 8.5, 12, -12, 20,
                   40, 70, -30, nan, inf])

# (function, inputs, max ulps in float32, in float64)
UNARY = [
    ("factorial", _X, 0, 0),
    ("loggamma", _X, 0, 0),
    ("erfcx", _X, 0, 0),
    ("dawsn", _X, 0, 0),
    ("spence", np.abs(_X[np.isfinite(_X)]), 0, 0),
    ("exp1", _X_EXP, 0, 0),
    # NOTE: for small negative x, XLA simplifies jax's fused program slightly
    # differently (up to 18 ulps in float64, at expi(-30) ~ -3e-15).
    ("expi", _X_EXP, 0, 32),
]


@pytest.mark.parametrize("dtype", [f32, f64], ids=["f32", "f64"])
@pytest.mark.parametrize("name, x, ulps32, ulps64", UNARY, ids=[u[0] for u in UNARY])
def test_unary_values_match_jax(name, x, ulps32, ulps64, dtype):
    with _x64(dtype)[0], _x64(dtype)[1]:
        x = x.astype(dtype)
        assert_close(getattr(lsp, name)(x), getattr(jsp, name)(x), dtype,
                     ulps32 if dtype == f32 else ulps64)


_A = np.concatenate([_RNG.uniform(-5, 10, 16), [0, -1, -2.5, 3, nan, inf, 1, 20, 150, 4]])
_B = np.concatenate([_RNG.uniform(-5, 10, 16), [0, 0, 2, -3, 1, 2, inf, 1.5, 0, 4]])
_N, _XN = (v.ravel() for v in np.meshgrid([0, 1, 2, 3, 4.5, 10, -1, 6000],
                                           [0, 0.05, 0.5, 1, 1.5, 2, 10, 50, -1, nan]))
BINARY = [
    ("comb", _A, _B), ("poch", _A, _B), ("boxcox", np.abs(_A), _B), ("boxcox1p", _A, _B),
    ("expn", _N, _XN),
]


@pytest.mark.parametrize("dtype", [f32, f64], ids=["f32", "f64"])
@pytest.mark.parametrize("name, a, b", BINARY, ids=[u[0] for u in BINARY])
def test_binary_values_match_jax(name, a, b, dtype):
    with _x64(dtype)[0], _x64(dtype)[1]:
        a, b = a.astype(dtype), b.astype(dtype)
        assert_close(getattr(lsp, name)(a, b), getattr(jsp, name)(a, b), dtype)


@pytest.mark.parametrize("dtype", [f32, f64], ids=["f32", "f64"])
def test_comb_with_repetition_and_bernoulli(dtype):
    with _x64(dtype)[0], _x64(dtype)[1]:
        a, b = _A.astype(dtype), _B.astype(dtype)
        assert_close(lsp.comb(a, b, repetition=True), jsp.comb(a, b, repetition=True), dtype)
        for n in ((1, 40) if dtype == f32 else (40,)):
            assert_close(lsp.bernoulli(n), jsp.bernoulli(n), dtype)


SCALAR_CALLS = [
    ("factorial", (4,)), ("comb", (5.0, 2)), ("poch", (2.0, 3)), ("loggamma", (2.5,)),
    ("boxcox1p", (3, 0.5)), ("erfcx", (1.0,)), ("dawsn", (1.0,)), ("expn", (2, 1.0)),
    ("spence", (2.0,)),
]


@pytest.mark.parametrize("name, args", SCALAR_CALLS, ids=[f"{c[0]}{c[1]}" for c in SCALAR_CALLS])
def test_python_scalars_dtype_and_weak_type_like_jax(name, args):
    got, want = getattr(lsp, name)(*args), getattr(jsp, name)(*args)
    assert (got.dtype, got.weak_type) == (want.dtype, want.weak_type)
    assert_close(got, want, f32)


def test_refusals_like_jax():
    with pytest.raises(NotImplementedError):
        lsp.factorial(3, exact=True)
    with pytest.raises(TypeError):
        lsp.spence(lnp.array([1, 2]))
    with pytest.raises(ValueError):
        lsp.bernoulli(-1)
    with pytest.raises(TypeError):
        lamina.jit(lsp.bernoulli)(3)
    for name in ("dawsn", "expi", "exp1"):
        with pytest.raises(ValueError):
            getattr(lsp, name)(lnp.array([1 + 1j]))


@pytest.mark.parametrize("name, args", [
    ("poch", (_A[:8], _B[:8])),
    ("erfcx", (_X[:10],)), ("dawsn", (_X[:10],)), ("expi", (_X_EXP[:8],)),
    ("expn", (_N[:8], _XN[:8] + 0.5)), ("spence", (np.abs(_X[:8]),)),
], ids=lambda v: v if isinstance(v, str) else "")
def test_jit_and_vmap_match_eager_and_loop(name, args):
    fn = getattr(lsp, name)
    args = tuple(a.astype(f32) for a in args)
    eager = fn(*args)
    assert_close(lamina.jit(fn)(*args), jax.jit(getattr(jsp, name))(*args), f32)
    batched = lamina.vmap(fn)(*args)
    assert_close(batched, jax.vmap(getattr(jsp, name))(*args), f32)
    looped = np.stack([np.asarray(fn(*(a[i] for a in args))) for i in range(3)])
    # NOTE: alone or in a batch, an element may take different XLA paths (and in expi's
    # batch every branch's while loop runs): close, not bit-equal, as in jax.
    np.testing.assert_allclose(np.asarray(batched)[:3], looped, rtol=1e-5)
    np.testing.assert_allclose(np.asarray(batched), np.asarray(eager), rtol=1e-5)


GRADS = [
    ("poch", 0, (2.5, 1.5)), ("poch", 1, (2.5, 1.5)), ("factorial", 0, (3.3,)),
    ("comb", 0, (6.5, 2.2)), ("loggamma", 0, (2.5,)), ("boxcox", 1, (3.0, 0.7)),
    ("boxcox1p", 0, (0.3, 0.7)), ("erfcx", 0, (12.0,)), ("dawsn", 0, (4.0,)),
    ("expi", 0, (-1.3,)), ("expn", 1, (3.0, 2.5)), ("spence", 0, (0.4,)),
]


# float32 for all, float64 for a few
_GRAD_CASES = [(*g, f32) for g in GRADS] + [(*g, f64) for g in GRADS[::4]]


@pytest.mark.parametrize("name, argnum, args, dtype", _GRAD_CASES,
                         ids=[f"{g[0]}-d{g[1]}-{g[2][-1]}-{g[3].__name__}"
                              for g in _GRAD_CASES])
def test_grads_match_jax(name, argnum, args, dtype):
    with _x64(dtype)[0], _x64(dtype)[1]:
        args_l = tuple(lnp.asarray(np.asarray(a, dtype)) for a in args)
        args_j = tuple(jnp.asarray(np.asarray(a, dtype)) for a in args)
        got = lamina.grad(getattr(lsp, name), argnums=argnum)(*args_l)
        want = jax.grad(getattr(jsp, name), argnums=argnum)(*args_j)
        assert got.dtype == want.dtype
        np.testing.assert_allclose(np.asarray(got), np.asarray(want),
                                   rtol=2e-6 if dtype == f32 else 1e-14)


def test_second_derivatives_of_custom_jvps():
    for name, x in (("erfcx", 0.7), ("dawsn", 0.9), ("expi", 1.3)):
        got = lamina.grad(lamina.grad(getattr(lsp, name)))(x)
        want = jax.grad(jax.grad(getattr(jsp, name)))(x)
        np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-5)


@pytest.mark.parametrize("dtype, n_iter", [(f32, 30), (f64, 50)], ids=["f32", "f64"])
def test_bessel_jn_matches_jax(dtype, n_iter):
    with _x64(dtype)[0], _x64(dtype)[1]:
        z = np.concatenate([[0.5, 1, -1, 7.5], _RNG.uniform(-15, 15, 8)]).astype(dtype)
        z = z.reshape(3, 4)
        got, want = lsp.bessel_jn(z, v=4, n_iter=n_iter), jsp.bessel_jn(z, v=4, n_iter=n_iter)
        assert got.shape == (5, 3, 4)
        assert_close(got, want, dtype)
        grad = lamina.grad(lambda x: lsp.bessel_jn(x, v=2, n_iter=n_iter)[2])(dtype(1.3))
        want_grad = jax.grad(lambda x: jsp.bessel_jn(x, v=2, n_iter=n_iter)[2])(dtype(1.3))
        np.testing.assert_allclose(np.asarray(grad), np.asarray(want_grad),
                                   rtol=2e-6 if dtype == f32 else 1e-14)
    with pytest.raises(TypeError):
        lsp.bessel_jn(1.0, v=1.5)
