"""lamina.scipy.signal (convolve, correlate, convolve2d, correlate2d, fftconvolve,
detrend) and lamina.scipy.integrate.trapezoid against jax.scipy and scipy: every mode and
both argument orders, dtypes, float64, complex, jit, vmap, gradients and errors."""
import jax
import jax.numpy as jnp
import jax.scipy.integrate as jint
import jax.scipy.signal as jsig
import numpy as np
import pytest
import scipy.signal

import lamina
import lamina.numpy as lnp
from lamina.scipy import integrate as lint
from lamina.scipy import signal as lsig

SHAPES = [((7,), (3,)), ((3,), (7,)), ((6,), (4,)), ((5, 4), (2, 3)), ((2, 3), (5, 4)),
          ((4, 4), (4, 4))]


def _pair(s1, s2, seed=0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    return rng.normal(size=s1).astype(dtype), rng.normal(size=s2).astype(dtype)


@pytest.mark.parametrize("s1, s2", SHAPES)
def test_all_modes_match_jax_and_scipy(s1, s2):
    a, b = _pair(s1, s2)
    names = ["convolve", "correlate", "fftconvolve"]
    names += ["convolve2d", "correlate2d"] if len(s1) == 2 else []
    for mode in ("full", "same", "valid"):
        for name in names:
            ours = getattr(lsig, name)(a, b, mode)
            theirs = getattr(jsig, name)(a, b, mode)
            ref = getattr(scipy.signal, name)(a.astype(np.float64), b.astype(np.float64),
                                              mode)
            assert ours.shape == theirs.shape == ref.shape, (name, mode)
            assert ours.dtype == theirs.dtype
            np.testing.assert_allclose(np.asarray(ours), np.asarray(theirs), rtol=1e-4,
                                       atol=1e-5, err_msg=f"{name} {mode}")
            np.testing.assert_allclose(np.asarray(ours), ref, rtol=1e-4, atol=1e-5)


def test_methods_ints_complex_and_float64():
    a, b = _pair((9,), (4,), seed=1)
    for method in ("auto", "direct", "fft"):
        np.testing.assert_allclose(np.asarray(lsig.convolve(a, b, method=method)),
                                   np.asarray(jsig.convolve(a, b, method=method)),
                                   rtol=1e-4, atol=1e-5)
    ints = lsig.convolve(np.arange(5), np.array([1, 2]))
    assert ints.dtype == jsig.convolve(np.arange(5), np.array([1, 2])).dtype
    rng = np.random.default_rng(2)
    c1 = (rng.normal(size=(4, 5)) + 1j * rng.normal(size=(4, 5))).astype(np.complex64)
    c2 = (rng.normal(size=(2, 2)) + 1j * rng.normal(size=(2, 2))).astype(np.complex64)
    for name in ("correlate2d", "fftconvolve", "correlate"):
        for mode in ("full", "same", "valid"):
            np.testing.assert_allclose(np.asarray(getattr(lsig, name)(c2, c1, mode)),
                                       np.asarray(getattr(jsig, name)(c2, c1, mode)),
                                       rtol=1e-4, atol=1e-4)
    with lamina.config.override(enable_x64=True), jax.enable_x64(True):
        a, b = _pair((8, 3), (3, 2), seed=3, dtype=np.float64)
        out = lsig.correlate2d(a, b, "same")
        assert out.dtype == np.float64
        np.testing.assert_allclose(np.asarray(out), scipy.signal.correlate2d(a, b, "same"),
                                   rtol=1e-12)


def test_fftconvolve_axes_jit_vmap_grad():
    a, b = _pair((3, 10), (3, 4), seed=4)
    np.testing.assert_allclose(np.asarray(lsig.fftconvolve(a, b, axes=1)),
                               np.asarray(jsig.fftconvolve(a, b, axes=1)), rtol=1e-4,
                               atol=1e-5)
    conv = lamina.jit(lambda x, k: lsig.convolve(x, k, mode="same"))
    batched = lamina.vmap(conv)(a, b)
    np.testing.assert_allclose(np.asarray(batched),
                               np.stack([np.asarray(conv(x, k)) for x, k in zip(a, b)]),
                               rtol=1e-5, atol=1e-6)
    w = np.arange(10, dtype=np.float32)
    g = lamina.grad(lambda x: lnp.sum(lsig.convolve(x, b[0], "same") * w))(a[0])
    want = jax.grad(lambda x: jnp.sum(jsig.convolve(x, b[0], "same") * w))(a[0])
    np.testing.assert_allclose(np.asarray(g), np.asarray(want), rtol=1e-5, atol=1e-5)


def test_detrend():
    x = np.random.default_rng(5).normal(size=(3, 12)).astype(np.float32)
    for kw in ({}, {"bp": [4, 9]}, {"axis": 0, "type": "constant"}, {"axis": 0}):
        np.testing.assert_allclose(np.asarray(lsig.detrend(x, **kw)),
                                   np.asarray(jsig.detrend(x, **kw)), rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(np.asarray(lsig.detrend(x, **kw)),
                                   scipy.signal.detrend(x.astype(np.float64), **kw),
                                   rtol=1e-4, atol=1e-4)


def test_trapezoid():
    y = np.random.default_rng(6).normal(size=(4, 7)).astype(np.float32)
    x = np.cumsum(np.abs(y[0]) + 0.1).astype(np.float32)
    for args, kw in (((), {}), ((x,), {}), ((), {"dx": 0.3}), ((), {"axis": 0})):
        ours = lint.trapezoid(y, *args, **kw)
        theirs = jint.trapezoid(y, *args, **kw)
        assert ours.shape == theirs.shape and ours.dtype == theirs.dtype
        np.testing.assert_allclose(np.asarray(ours), np.asarray(theirs), rtol=1e-5)


def test_errors():
    a, b = _pair((5, 4), (2, 3))
    with pytest.raises(ValueError, match="mode must be one of"):
        lsig.convolve(a, b, mode="circular")
    with pytest.raises(ValueError, match="method must be 'auto', 'direct' or 'fft'"):
        lsig.convolve(a, b, method="overlap-add")
    with pytest.raises(ValueError, match=r"same number of dimensions.*\(5, 4\) and \(3,\)"):
        lsig.convolve(a, b[0])
    with pytest.raises(ValueError, match="at least as large as the other"):
        lsig.convolve(a, np.ones((6, 2), np.float32))
    with pytest.raises(NotImplementedError, match="boundary='fill'"):
        lsig.convolve2d(a, b, boundary="wrap")
    with pytest.raises(ValueError, match=r"both inputs must be 2-D"):
        lsig.correlate2d(a[0], b[0])
    with pytest.raises(ValueError, match="type must be 'linear' or 'constant'"):
        lsig.detrend(a, type="quadratic")
