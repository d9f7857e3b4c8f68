"""The regularized incomplete beta function and Hurwitz zeta: `lax.betainc`/`lax.zeta`,
`lamina.scipy.special.betainc`/`beta`/`zeta` and `lamina.scipy.stats.beta`'s cdf family,
against jax (the oracle: the same algorithms compiled by the same XLA, so values match
bit for bit) and scipy (reference values): float32 and float64, edge values, jit, vmap
against a Python loop, derivatives against jax.grad and finite differences, and the
dtypes and weak types of Python-scalar calls."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import jax.scipy.special as jsp
import jax.scipy.stats as jst
import ml_dtypes
import numpy as np
import pytest
import scipy.special as sc

import lamina
import lamina.scipy.special as lsp
from lamina import lax
from lamina.scipy.stats import beta as lbeta
from lamina.testing import check_grads, check_vmap

f16, f32, f64, bf16 = np.float16, np.float32, np.float64, ml_dtypes.bfloat16
nan, inf = np.nan, np.inf


def _x64(dtype):
    """Context managers that enable x64 in both lamina and jax for float64."""
    if dtype == f64:
        return lamina.config.override(enable_x64=True), jax.enable_x64(True)
    return lamina.config.override(), jax.enable_x64(jax.config.jax_enable_x64)


def assert_same(got, want):
    """Shape, dtype, weak type, then values bit for bit (NaN where jax has NaN)."""
    assert got.shape == want.shape and got.dtype == want.dtype, (got, want)
    assert got.weak_type == want.weak_type, (got.weak_type, want.weak_type)
    np.testing.assert_array_equal(np.asarray(got), np.asarray(want))


# a, b over [1e-3, 1e3] (log-spaced and random), x over [0, 1], plus edge triples:
# NaNs, out of domain, a or b zero, infinite, tiny (subnormal in float32) or huge.
_EDGES = np.array([
    [nan, 1, .5], [1, nan, .5], [1, 1, nan], [-1, 1, .5], [1, -1, .5], [1, 1, -.1],
    [1, 1, 1.1], [0, 0, .5], [0, 1, .5], [1, 0, .5], [0, 1, 0], [1, 0, 1], [0, 1, 1],
    [inf, 1, .5], [1, inf, .5], [1e-40, 2, .3], [2, 1e-40, .3], [1e-300, 2, .3],
    [5e5, 5e5, .5], [1e6, 2, .9999], [2, 3, 0], [2, 3, 1], [3, 3, .5], [.5, .5, 1e-30],
])


def _betainc_grid():
    rng = np.random.default_rng(0)
    ab = np.concatenate([np.geomspace(1e-3, 1e3, 9), rng.uniform(0.1, 20, 4)])
    x = np.concatenate([[0, 1, 1e-30, 1 - 1e-7], np.linspace(0.02, 0.98, 7),
                        rng.uniform(0, 1, 4)])
    a, b, x = (v.ravel() for v in np.meshgrid(ab, ab, x))
    return (np.append(a, _EDGES[:, 0]), np.append(b, _EDGES[:, 1]),
            np.append(x, _EDGES[:, 2]))


A, B, X = _betainc_grid()


# --------------------------------------------------------------------------------------
# betainc: values
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [f32, f64], ids=["f32", "f64"])
def test_betainc_matches_jax_bitwise(dtype):
    ours_cm, jax_cm = _x64(dtype)
    with ours_cm, jax_cm:
        a, b, x = A.astype(dtype), B.astype(dtype), X.astype(dtype)
        assert_same(lax.betainc(a, b, x), jax.lax.betainc(a, b, x))
        assert_same(lsp.betainc(a, b, x), jsp.betainc(a, b, x))


@pytest.mark.parametrize("dtype, rtol", [(f32, 1e-4), (f64, 1e-12)], ids=["f32", "f64"])
def test_betainc_matches_scipy(dtype, rtol):
    rng = np.random.default_rng(1)
    a, b, x = rng.uniform(0.1, 50, 200), rng.uniform(0.1, 50, 200), rng.uniform(0, 1, 200)
    a, b, x = (v.astype(dtype) for v in (a, b, x))
    with _x64(dtype)[0]:
        got = np.asarray(lsp.betainc(a, b, x), f64)
    want = sc.betainc(a.astype(f64), b.astype(f64), x.astype(f64))
    np.testing.assert_allclose(got, want, rtol=rtol, atol=np.finfo(dtype).eps)


def test_betainc_edge_values():
    a, b, x = (np.array(v, f32) for v in _EDGES[:14].T)
    want = [nan, nan, nan, nan, nan, nan, nan, nan, 1, 0, 0, 1, 1, 0]
    np.testing.assert_array_equal(np.asarray(lax.betainc(a, b, x)), want)
    # closed forms: I_x(1, 1) = x, I_x(a, 1) = x^a, I_x(1, b) = 1 - (1 - x)^b
    xs = np.array([0., .1, .5, .9, 1.])
    with lamina.config.override(enable_x64=True):
        np.testing.assert_allclose(np.asarray(lsp.betainc(1., 1., xs)), xs, rtol=1e-15)
        np.testing.assert_allclose(np.asarray(lsp.betainc(2.5, 1., xs)), xs ** 2.5,
                                   rtol=1e-14)
        np.testing.assert_allclose(np.asarray(lsp.betainc(1., 3., xs)), 1 - (1 - xs) ** 3,
                                   rtol=1e-14)


@pytest.mark.parametrize("dtype", [f16, bf16], ids=["f16", "bf16"])
def test_betainc_narrow_floats_compute_in_float32(dtype):
    a, b = np.array([0.3, 1., 2.5, 7., 20.], dtype), np.array([5., 0.7, 2., 9., 1.], dtype)
    x = np.array([0.2, 0.5, 0.6, 0.4, 0.99], dtype)
    assert_same(lax.betainc(a, b, x), jax.lax.betainc(a, b, x))


def test_betainc_python_scalars_and_dtypes_like_jax():
    v = np.array([.1, .5, .9], f32)
    for args in [(2., 3., .5), (2, 3, .5), (v, 3, 2.), (2., np.float32(3.), v),
                 (True, 2, .5)]:
        assert_same(lsp.betainc(*args), jsp.betainc(*args))
    assert_same(lax.betainc(2., 3., .5), jax.lax.betainc(2., 3., .5))
    assert_same(lax.betainc(v, 3., .5), jax.lax.betainc(v, 3., .5))
    with pytest.raises(ValueError, match="complex"):
        lsp.betainc(1j, 2., .5)


def test_betainc_jit_and_vmap():
    a, b, x = (np.asarray(v[:120], f32) for v in (A, B, X))
    np.testing.assert_array_equal(np.asarray(lamina.jit(lax.betainc)(a, b, x)),
                                  np.asarray(lax.betainc(a, b, x)))
    a2, b2, x2 = (v.reshape(2, 60) for v in (a, b, x))
    assert_same(lamina.vmap(lax.betainc)(a2, b2, x2), jax.vmap(jax.lax.betainc)(a2, b2, x2))
    # NOTE: every element of one call iterates until all have converged, so a call over
    # one row stops at another term than over both (jax's does the same): where the
    # fraction converges slowly (a, b ~ 1e-3 above), results move by up to 0.4%; with
    # a, b >= 0.5 by an ulp or so.
    rng = np.random.default_rng(2)
    a2, b2 = rng.uniform(0.5, 20, (2, 2, 6)).astype(f32)
    x2 = rng.uniform(0, 1, (2, 6)).astype(f32)
    check_vmap(lax.betainc, (a2, b2, x2), 0, rtol=1e-6, atol=1e-7)
    check_vmap(lax.betainc, (a2[0], np.float32(2.), x2.T), (None, None, 1), rtol=1e-6,
               atol=1e-7)
    check_vmap(lsp.betainc, (a2[:, 0], b2[:, 0], np.float32(0.3)), (0, 0, None), rtol=1e-6,
               atol=1e-7)


# --------------------------------------------------------------------------------------
# betainc: derivatives (x only, as in jax)
# --------------------------------------------------------------------------------------

GA = np.array([0.5, 2., 7., 30., 1.5], f32)
GB = np.array([3., 0.4, 9., 2., 1.5], f32)
GX = np.array([0.2, 0.9, 0.5, 0.99, 0.01], f32)


def test_betainc_grad_x_matches_jax():
    got = lamina.grad(lambda x: lax.betainc(GA, GB, x).sum())(GX)
    want = jax.grad(lambda x: jax.lax.betainc(GA, GB, x).sum())(GX)
    np.testing.assert_array_equal(np.asarray(got), np.asarray(want))
    got = lamina.jit(lamina.vmap(lamina.grad(lsp.betainc, 2), (0, 0, 0)))(GA, GB, GX)
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-6)
    # the derivative is the Beta(a, b) density
    np.testing.assert_allclose(np.asarray(got), np.exp(np.asarray(
        lbeta.logpdf(GX.astype(f64), GA.astype(f64), GB.astype(f64)))), rtol=2e-5)


def test_betainc_grad_x_against_finite_differences():
    with lamina.config.override(enable_x64=True):
        a, b = GA.astype(f64), GB.astype(f64)
        x = np.array([0.2, 0.7, 0.5, 0.9, 0.3])
        check_grads(lambda x: lax.betainc(a, b, x), (x,), order=1, modes=("fwd", "rev"))
        check_grads(lambda x: lsp.betainc(2.5, 4., x), (x,), order=1, modes=("fwd", "rev"))


def test_betainc_has_no_derivative_in_a_or_b():
    for argnum in (0, 1):
        with pytest.raises(ValueError):
            jax.grad(jax.lax.betainc, argnum)(2., 3., .5)
        with pytest.raises(ValueError, match="betainc.*x only"):
            lamina.grad(lax.betainc, argnum)(2., 3., .5)
        with pytest.raises(ValueError, match="betainc.*x only"):
            lamina.jvp(lambda a, b: lsp.betainc(a, b, .5), (2., 3.),
                       ((1., 0.), (0., 1.))[argnum])


# --------------------------------------------------------------------------------------
# scipy.special.beta
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [f32, f64], ids=["f32", "f64"])
def test_beta_matches_jax(dtype):
    a = np.array([2., 0.5, -0.5, -1.5, 30., 1e-3, 0., -2., nan, 100.], dtype)
    b = np.array([3., 0.5, 2., -0.7, 40., 5., 1., 1.5, 1., 100.], dtype)
    ours_cm, jax_cm = _x64(dtype)
    with ours_cm, jax_cm:
        if dtype == f32:  # eager, op by op (float64: jitted only, to save compiles)
            assert_same(lsp.beta(a, b), jsp.beta(a, b))
            assert_same(lsp.beta(2., 3), jsp.beta(2., 3))
        assert_same(lamina.jit(lsp.beta)(a, b), jax.jit(jsp.beta)(a, b))
        got = np.asarray(lamina.jit(lsp.beta)(a, b), f64)
    want = sc.beta(a.astype(f64), b.astype(f64))
    # NOTE: betaln's asymptotic branch (max(a, b) >= 8) is good to ~5e-9 in float64
    # (beta(30, 40), in jax too); beta(100, 100) = 2.2e-61 underflows in float32.
    ok = np.isfinite(want) & (np.abs(a) < 50) & (np.abs(b) < 50)
    np.testing.assert_allclose(got[ok], want[ok], rtol=1e-5 if dtype == f32 else 1e-8)


# --------------------------------------------------------------------------------------
# zeta
# --------------------------------------------------------------------------------------


def _zeta_grid():
    s = np.concatenate([np.linspace(1., 10., 13), [0.5, -1., nan, 30., 100., 1.0001]])
    q = np.concatenate([np.geomspace(1e-3, 100., 8), [-1.5, -2., 0., nan, inf]])
    s, q = np.meshgrid(s, q)
    return s.ravel(), q.ravel()


S, Q = _zeta_grid()


@pytest.mark.parametrize("dtype", [f32, f64], ids=["f32", "f64"])
def test_zeta_matches_jax_bitwise(dtype):
    ours_cm, jax_cm = _x64(dtype)
    with ours_cm, jax_cm:
        s, q = S.astype(dtype), Q.astype(dtype)
        assert_same(lax.zeta(s, q), jax.lax.zeta(s, q))
        assert_same(lsp.zeta(s, q), jsp.zeta(s, q))
        assert_same(lamina.jit(lsp.zeta)(s, q), jax.jit(jsp.zeta)(s, q))
    s, q = S.astype(dtype).astype(f64), Q.astype(dtype).astype(f64)
    ok = (s > 1) & (q > 0) & np.isfinite(q) & (sc.zeta(s, q) < np.finfo(dtype).max / 2)
    with _x64(dtype)[0]:
        got = np.asarray(lax.zeta(S[ok].astype(dtype), Q[ok].astype(dtype)), f64)
    want = sc.zeta(s[ok], q[ok])
    np.testing.assert_allclose(got, want, rtol=1e-5 if dtype == f32 else 1e-12,
                               atol=np.finfo(dtype).tiny)  # underflow to 0


def test_zeta_edges_dtypes_and_scalars():
    s, q = np.array([1., 0.5, 2., 2.], f32), np.array([1., 1., -1., 1.], f32)
    got = np.asarray(lax.zeta(s, q))
    assert got[0] == inf and np.isnan(got[1]) and got[3] == np.float32(np.pi ** 2 / 6)
    for args in [(2., 1.), (2, 1), (np.float32(2.), 3), (np.arange(2, 5), 1.5)]:
        assert_same(lsp.zeta(*args), jsp.zeta(*args))
    q = np.array([1., 2.], f32)
    assert_same(lax.zeta(2., q), jax.lax.zeta(2., q))
    for x in (f16, bf16):
        s, q = np.array([2., 3.5, 7.], x), np.array([0.5, 1., 4.], x)
        assert_same(lax.zeta(s, q), jax.lax.zeta(s, q))
    for fn in (lsp.zeta, jsp.zeta):
        with pytest.raises(NotImplementedError, match="Riemann"):
            fn(2.)


def test_zeta_vmap():
    s2, q2 = S[:60].reshape(6, 10).astype(f32), Q[:60].reshape(6, 10).astype(f32)
    check_vmap(lax.zeta, (s2, q2), 0, rtol=0, atol=0)
    check_vmap(lsp.zeta, (s2[0], q2.T), (None, 1), rtol=0, atol=0)


ZS = np.array([1.5, 2., 3.3, 8., 1.1], f32)
ZQ = np.array([0.3, 1., 2.5, 10., 0.7], f32)


@pytest.mark.parametrize("argnum", [0, 1])
def test_scipy_zeta_grads_match_jax(argnum):
    # jax differentiates a truncated Euler-Maclaurin series, and reports its value with
    # the derivative: lamina does the same.
    fn = lambda s, q: lsp.zeta(s, q).sum()  # noqa: E731
    jfn = lambda s, q: jsp.zeta(s, q).sum()  # noqa: E731
    # NOTE: jitted (one compile each, not one per op of the series)
    (val, got) = lamina.jit(lamina.value_and_grad(fn, argnum))(ZS, ZQ)
    (jval, want) = jax.jit(jax.value_and_grad(jfn, argnum))(ZS, ZQ)
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-6)
    np.testing.assert_allclose(np.asarray(val), np.asarray(jval), rtol=1e-6)
    with lamina.config.override(enable_x64=True), jax.enable_x64(True):
        s, q = ZS.astype(f64), ZQ.astype(f64)
        got = lamina.jit(lamina.grad(fn, argnum))(s, q)
        want = jax.jit(jax.grad(jfn, argnum))(s, q)
        np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-13)
        # in float64 the series is accurate: against finite differences of scipy's zeta
        h = 1e-6
        shift = [np.zeros(5), np.zeros(5)]
        shift[argnum] = np.full(5, h)
        fd = (sc.zeta(s + shift[0], q + shift[1])
              - sc.zeta(s - shift[0], q - shift[1])) / (2 * h)
        np.testing.assert_allclose(np.asarray(got), fd, rtol=1e-6)


def test_lax_zeta_derivative_in_q_only():
    with pytest.raises(NotImplementedError):  # jax.lax.zeta has no derivative at all
        jax.grad(jax.lax.zeta, 1)(2., 1.5)
    with pytest.raises(NotImplementedError, match="lax.zeta.*x"):
        lamina.grad(lax.zeta, 0)(2., 1.5)
    with lamina.config.override(enable_x64=True):
        s, q = ZS.astype(f64), ZQ.astype(f64)
        got = lamina.grad(lambda q: lax.zeta(s, q).sum())(q)
        np.testing.assert_allclose(np.asarray(got), -s * sc.zeta(s + 1, q), rtol=1e-12)
        check_grads(lambda q: lax.zeta(s, q), (q,), order=2, modes=("fwd", "rev"))


# --------------------------------------------------------------------------------------
# scipy.stats.beta: cdf, logcdf, sf, logsf
# --------------------------------------------------------------------------------------

_STATS_ARGS = [
    (np.linspace(-0.5, 1.5, 9, dtype=f32), np.float32(0.7), np.float32(3.)),
    (0.5, 2., 3.), (0.3, 2, 3), (np.float32(0.3), 2, 3), (1., 2., 3.), (0., 2., 3.),
    (2.5, 2., 3., 1., 2.),
    (np.array([0.1, 0.4, 0.9], f32), np.array([1., -1., 2.], f32), 5.),
]


@pytest.mark.parametrize("fn", ["cdf", "logcdf", "sf", "logsf"])
def test_beta_distribution_cdf_family_matches_jax(fn):
    ours, theirs = getattr(lbeta, fn), getattr(jst.beta, fn)
    for args in _STATS_ARGS:
        assert_same(ours(*args), theirs(*args))
    with lamina.config.override(enable_x64=True), jax.enable_x64(True):
        x = np.linspace(0.05, 0.95, 7)
        assert_same(ours(x, 2.5, 0.8), theirs(x, 2.5, 0.8))
    np.testing.assert_allclose(np.asarray(lamina.jit(ours)(*_STATS_ARGS[0])),
                               np.asarray(theirs(*_STATS_ARGS[0])), rtol=1e-6)


def test_beta_distribution_grads():
    x = np.array([0.1, 0.35, 0.6, 0.85], f32)
    for fn in ("cdf", "sf", "logcdf", "logsf"):
        got = lamina.grad(lambda x: getattr(lbeta, fn)(x, 2., 3.).sum())(x)
        want = jax.grad(lambda x: getattr(jst.beta, fn)(x, 2., 3.).sum())(x)
        np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-6)
    # d cdf / dx is the density
    got = lamina.vmap(lamina.grad(lbeta.cdf), (0, None, None))(x, 2., 3.)
    np.testing.assert_allclose(np.asarray(got), np.asarray(lbeta.pdf(x, 2., 3.)), rtol=1e-5)
    with pytest.raises(ValueError, match="betainc"):
        lamina.grad(lbeta.cdf, 1)(0.3, 2., 3.)
