"""lamina.scipy.fft (dct, idct, dctn, idctn) against jax.scipy.fft and scipy.fft: norms,
lengths (pad and truncate), axes, complex input, float64, round trips, jit, vmap, grad."""
import jax
import jax.numpy as jnp
import jax.scipy.fft as jfft
import numpy as np
import pytest
import scipy.fft

import lamina
import lamina.numpy as lnp
from lamina.scipy import fft as lfft


def _x(shape, seed=0, dtype=np.float32):
    return np.random.default_rng(seed).normal(size=shape).astype(dtype)


@pytest.mark.parametrize("shape", [(1,), (5,), (6,), (3, 4)])
@pytest.mark.parametrize("norm", [None, "ortho"])
def test_dct_idct_match_jax_and_scipy(shape, norm):
    x = _x(shape)
    for name in ("dct", "idct"):
        for kw in ({}, {"n": 4}, {"n": 7}) if x.ndim == 1 else ({}, {"axis": 0}):
            ours = getattr(lfft, name)(x, norm=norm, **kw)
            theirs = getattr(jfft, name)(x, norm=norm, **kw)
            ref = getattr(scipy.fft, name)(x.astype(np.float64), norm=norm, **kw)
            assert ours.shape == theirs.shape and ours.dtype == theirs.dtype
            np.testing.assert_allclose(np.asarray(ours), ref, rtol=1e-4, atol=1e-4)
            np.testing.assert_allclose(np.asarray(ours), np.asarray(theirs), rtol=1e-4,
                                       atol=1e-4)


@pytest.mark.parametrize("norm", [None, "ortho"])
def test_dctn_idctn(norm):
    x = _x((3, 4, 5), seed=1)
    for name in ("dctn", "idctn"):
        for kw in ({}, {"axes": 1}, {"s": (2, 6), "axes": (0, 1)}):
            ours = getattr(lfft, name)(x, norm=norm, **kw)
            ref = getattr(scipy.fft, name)(x.astype(np.float64), norm=norm, **kw)
            theirs = getattr(jfft, name)(x, norm=norm, **kw)
            assert ours.shape == theirs.shape == ref.shape and ours.dtype == theirs.dtype
            np.testing.assert_allclose(np.asarray(ours), ref, rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(np.asarray(lfft.idctn(lfft.dctn(x, norm=norm), norm=norm)),
                               x, rtol=1e-4, atol=1e-5)


def test_complex_float64_jit_vmap_grad():
    c = (_x(6, 2) + 1j * _x(6, 3)).astype(np.complex64)
    for name in ("dct", "idct"):
        ours, theirs = getattr(lfft, name)(c), getattr(jfft, name)(c)
        assert ours.dtype == theirs.dtype == np.complex64
        np.testing.assert_allclose(np.asarray(ours), np.asarray(theirs), rtol=1e-4,
                                   atol=1e-4)
    with lamina.config.override(enable_x64=True), jax.enable_x64(True):
        x = _x((4, 5), 4, np.float64)
        out = lfft.dctn(x, norm="ortho")
        assert out.dtype == np.float64
        np.testing.assert_allclose(np.asarray(out), scipy.fft.dctn(x, norm="ortho"),
                                   rtol=1e-12, atol=1e-12)
    xs = _x((3, 8), 5)
    f = lamina.jit(lambda v: lfft.idct(v, norm="ortho"))
    np.testing.assert_allclose(np.asarray(lamina.vmap(f)(xs)),
                               np.stack([np.asarray(f(v)) for v in xs]), rtol=1e-5,
                               atol=1e-6)
    w = np.arange(8, dtype=np.float32)
    g = lamina.grad(lambda v: lnp.sum(lfft.dct(v) * w))(xs[0])
    want = jax.grad(lambda v: jnp.sum(jfft.dct(v) * w))(xs[0])
    np.testing.assert_allclose(np.asarray(g), np.asarray(want), rtol=1e-4, atol=1e-4)


def test_errors():
    x = _x(4)
    np.testing.assert_allclose(np.asarray(lfft.dct(x, norm="backward")),
                               np.asarray(lfft.dct(x)), rtol=1e-6)
    with pytest.raises(NotImplementedError, match="only the type-2 DCT"):
        lfft.dct(x, type=3)
    with pytest.raises(ValueError, match="norm must be None, 'backward' or 'ortho'"):
        lfft.idct(x, norm="forward")
    with pytest.raises(ValueError, match="axis 2 is out of bounds"):
        lfft.dct(x, axis=2)
    with pytest.raises(ValueError, match="s must have at most x.ndim"):
        lfft.dctn(x, s=(2, 2))
