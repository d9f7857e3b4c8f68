"""lamina.scipy.special's sici, fresnel, owens_t, hyp1f1 and hyp2f1 against
jax.scipy.special (the oracle: the same algorithms compiled by the same XLA): random and
edge inputs in float32 and float64, dtypes and weak types of Python-scalar calls, jit,
vmap against a Python loop, and derivatives against jax.grad."""
from __future__ import annotations

import jax
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
    [0, -0.0, 1, -1, 0.5, 1.6, 2, 3.9, 4, 4.1, 7.9, 8, 8.1, 10, -10, 27, 100, 1e4, 4e4,
     1e9, 2e9, -3e9, 1e-20, nan, inf, -inf],
    _RNG.uniform(-12, 12, 16), np.exp(_RNG.uniform(-5, 8, 8))])
_H = np.concatenate([[0, 0, 1, -1, 0.5, 0.3, 3, nan, 1, inf, 2, 0],
                     _RNG.uniform(-5, 5, 16)])
_A = np.concatenate([[1, 0, 1, 2, -1, 3, 0.2, 1, nan, 1, -inf, -4],
                     _RNG.uniform(-6, 6, 16)])


@pytest.mark.parametrize("dtype", [f32, f64])
@pytest.mark.parametrize("name", ["sici", "fresnel"])
def test_pairs_match_jax(name, dtype):
    with _x64(dtype)[0], _x64(dtype)[1]:
        x = _X.astype(dtype)
        got, want = getattr(lsp, name)(x), getattr(jsp, name)(x)
        assert len(got) == 2
        for g, w in zip(got, want):
            assert_close(np.asarray(g), np.asarray(w), dtype)


@pytest.mark.parametrize("dtype", [f32, f64])
def test_owens_t_matches_jax(dtype):
    with _x64(dtype)[0], _x64(dtype)[1]:
        h, a = _H.astype(dtype), _A.astype(dtype)
        assert_close(np.asarray(lsp.owens_t(h, a)), np.asarray(jsp.owens_t(h, a)),
                     dtype)
    with _x64(f32)[0], _x64(f32)[1]:
        h, a = _H.astype(f32), _A.astype(f32)
        # broadcasting a column against a row
        got = lsp.owens_t(h[:5, None], a[None, :7])
        want = jsp.owens_t(h[:5, None], a[None, :7])
        # NOTE: the batched quadrature sum (a dot product) may round 1 ulp apart.
        assert_close(np.asarray(got), np.asarray(want), f32, 1)


_A1 = np.concatenate([[0, 1, 2, 0, 3, -2, 0.5, 1, 2.5], _RNG.uniform(0.1, 5, 10)])
_B1 = np.concatenate([[0, 1, 0, 2, 3, 1.5, 0.5, 2, 1], _RNG.uniform(0.1, 5, 10)])
_X1 = np.concatenate([[0, 1, 2, -3, 150, -1, 0.3, 120, -0.5],
                      _RNG.uniform(-20, 20, 10)])


@pytest.mark.parametrize("dtype", [f32, f64])
def test_hyp1f1_matches_jax(dtype):
    with _x64(dtype)[0], _x64(dtype)[1]:
        args = [v.astype(dtype) for v in (_A1, _B1, _X1)]
        got, want = lsp.hyp1f1(*args), jsp.hyp1f1(*args)
        assert_close(np.asarray(got), np.asarray(want), dtype)


# Series, terminating sums (a or b a non-positive integer), Euler's transformation
# (c - a - b <= -1), the digamma expansion near x = 1 (integer c - a - b), x == 1,
# x > 1, c a non-positive integer, a == c, b == c.
_HYP2F1 = np.array([
    [1, 1, 2, 0.5], [1, 1, 2, -0.5], [0.5, 1.5, 2.5, 0.3], [-2, 1, 3, 0.5],
    [-3, 2, 1.5, -0.7], [1, -1, 2, 0.95], [1, 1, 2, 0.95], [0.5, 1, 1.5, 0.97],
    [2, 1, 1, 0.92], [1, 2, 2.5, 0.99], [1.5, 0.5, 2, 1], [1, 2, 2.5, 1],
    [1, 1, 2, 1.5],
    [1, 1, 0, 0.5], [1, 1, -2, 0.5], [3, 1, 3, 0.4], [1, 2.5, 2.5, 0.4],
    [2, 3, 1.5, 0.6], [0, 1, 2, 0.5], [1, 1, 2, 0], [2.5, 1.5, 1, -2.0],
    [1.2, 0.7, 3.1, 0.999]])


@pytest.mark.parametrize("dtype", [f32, f64])
def test_hyp2f1_matches_jax(dtype):
    rand = np.stack([_RNG.uniform(0.1, 4, 10), _RNG.uniform(0.1, 4, 10),
                     _RNG.uniform(0.5, 5, 10), _RNG.uniform(-0.8, 0.85, 10)], axis=1)
    table = np.concatenate([_HYP2F1, rand])
    with _x64(dtype)[0], _x64(dtype)[1]:
        args = [table[:, i].astype(dtype) for i in range(4)]
        got, want = lsp.hyp2f1(*args), jsp.hyp2f1(*args)
        assert_close(np.asarray(got), np.asarray(want), dtype)


CALLS = [
    ("sici", (1.5,)), ("fresnel", (1.5,)), ("owens_t", (0.5, 2.0)),
    ("owens_t", (1, 2)), ("hyp1f1", (1.0, 2.0, 0.5)),
    ("sici", (np.float32(2.0),)), ("hyp1f1", (1, 2, 3)),
]


@pytest.mark.parametrize("name,args", CALLS)
def test_dtype_and_weak_type_like_jax(name, args):
    got, want = getattr(lsp, name)(*args), getattr(jsp, name)(*args)
    got = got if isinstance(got, tuple) else (got,)
    want = want if isinstance(want, tuple) else (want,)
    for g, w in zip(got, want):
        assert g.dtype == w.dtype and g.weak_type == w.weak_type, (g, w)
        assert_close(np.asarray(g), np.asarray(w), np.float32)


def test_complex_refused():
    with pytest.raises(ValueError):
        lsp.sici(lnp.array([1 + 1j]))
    with pytest.raises(NotImplementedError):
        lsp.fresnel(lnp.array([1 + 1j]))
    with pytest.raises(ValueError):
        lsp.hyp1f1(1.0, 2.0, lnp.array([1 + 1j]))


def test_jit_and_vmap():
    x = _X[:20].astype(f32)
    for name in ("sici", "fresnel"):
        fn = getattr(lsp, name)
        for g, w in zip(lamina.jit(fn)(x), fn(x)):
            np.testing.assert_array_equal(np.asarray(g), np.asarray(w))
    h, a = _H[:8].astype(f32), _A[:8].astype(f32)
    batched = lamina.vmap(lsp.owens_t)(h, a)
    loop = np.array([np.asarray(lsp.owens_t(hi, ai)) for hi, ai in zip(h, a)])
    assert_close(np.asarray(batched), loop, f32, 2)  # the quadrature's dot may round
    args = [v[:5].astype(f32) for v in (_A1, _B1, _X1)]
    batched = lamina.vmap(lsp.hyp1f1)(*args)
    loop = np.array([np.asarray(lsp.hyp1f1(*v)) for v in zip(*args)])
    np.testing.assert_array_equal(np.asarray(batched), loop)
    np.testing.assert_array_equal(np.asarray(lamina.jit(lsp.hyp1f1)(*args)),
                                  np.asarray(lsp.hyp1f1(*args)))


@pytest.mark.parametrize("dtype", [f32, f64])
def test_grads_match_jax(dtype):
    with _x64(dtype)[0], _x64(dtype)[1]:
        c = lambda v: np.asarray(v, dtype)  # noqa: E731
        x = c([0.3, 2.5, 6.0, -9.0, 12.0])
        for name in ("sici", "fresnel"):
            for i in range(2):
                # elementwise functions: the gradient of the sum is the derivative
                g = lamina.grad(lambda v: lnp.sum(getattr(lsp, name)(v)[i]))(x)
                w = jax.grad(lambda v: jax.numpy.sum(getattr(jsp, name)(v)[i]))(x)
                assert_close(np.asarray(g), np.asarray(w), dtype)
        h, a = c([0.7, -1.5, 2.0, 0.0]), c([1.3, 0.4, -3.0, 0.5])
        g = lamina.grad(lambda h, a: lnp.sum(lsp.owens_t(h, a)), argnums=(0, 1))(h, a)
        w = jax.grad(lambda h, a: jax.numpy.sum(jsp.owens_t(h, a)),
                     argnums=(0, 1))(h, a)
        for gi, wi in zip(g, w):
            assert_close(np.asarray(gi), np.asarray(wi), dtype)
        # NOTE: the hypergeometric gradients compile slowly (jax's too): one dtype each.
        if dtype == f32:
            g = lamina.grad(lsp.hyp1f1, argnums=(0, 1, 2))(c(1.5), c(2.5), c(0.7))
            w = jax.grad(jsp.hyp1f1, argnums=(0, 1, 2))(c(1.5), c(2.5), c(0.7))
        else:
            g = lamina.grad(lsp.hyp2f1, argnums=(0, 1, 2, 3))(c(1.5), c(0.5), c(2.5),
                                                              c(0.4))
            w = jax.grad(jsp.hyp2f1, argnums=(0, 1, 2, 3))(c(1.5), c(0.5), c(2.5),
                                                           c(0.4))
        for gi, wi in zip(g, w):
            assert_close(np.asarray(gi), np.asarray(wi), dtype)
