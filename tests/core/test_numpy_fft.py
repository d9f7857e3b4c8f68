"""lamina.numpy.fft against numpy.fft."""
import numpy as np
import pytest

import lamina
import lamina.numpy.fft as lfft
from lamina.testing import assert_array_close

F32, F64 = np.dtype(np.float32), np.dtype(np.float64)
C64, C128 = np.dtype(np.complex64), np.dtype(np.complex128)
NORMS = [None, "backward", "ortho", "forward"]


def _rand(rng, shape, dtype):
    x = rng.normal(size=shape)
    if np.issubdtype(dtype, np.complexfloating):
        x = x + 1j * rng.normal(size=shape)
    return x.astype(dtype)


def _close(actual, desired, dtype, tol=None):
    # NOTE: float32 FFTs round like log(n) * eps * sum|x|; "forward" can scale by n.
    tol = tol or (2e-5 if np.dtype(dtype) in (F32, C64) else 1e-12)
    assert_array_close(actual, np.asarray(desired).astype(dtype), rtol=tol, atol=tol)


@pytest.mark.parametrize("norm", NORMS)
@pytest.mark.parametrize("n,axis", [(None, -1), (None, 0), (3, 1), (8, -1)])
def test_one_dimensional(rng, norm, n, axis):
    c = _rand(rng, (3, 5), C64)
    x = _rand(rng, (3, 5), F32)
    _close(lfft.fft(c, n, axis, norm), np.fft.fft(c, n, axis, norm), C64)
    _close(lfft.ifft(c, n, axis, norm), np.fft.ifft(c, n, axis, norm), C64)
    _close(lfft.rfft(x, n, axis, norm), np.fft.rfft(x, n, axis, norm), C64)
    _close(lfft.irfft(c, n, axis, norm), np.fft.irfft(c, n, axis, norm), F32, 1e-4)
    _close(lfft.hfft(c, n, axis, norm), np.fft.hfft(c, n, axis, norm), F32, 1e-4)
    _close(lfft.ihfft(x, n, axis, norm), np.fft.ihfft(x, n, axis, norm), C64)


@pytest.mark.parametrize("norm", [None, "ortho", "forward"])
@pytest.mark.parametrize("s,axes", [(None, None), ((3, 6), None), (None, (0, 2)),
                                    ((4, 2), (2, 0)), ((2, 3, 4), None)])
def test_n_dimensional(rng, norm, s, axes):
    c = _rand(rng, (3, 4, 5), C64)
    x = _rand(rng, (3, 4, 5), F32)
    if axes is None and s is not None:
        axes = tuple(range(-len(s), 0))  # numpy 2 deprecates s without axes
    _close(lfft.fftn(c, s, axes, norm), np.fft.fftn(c, s, axes, norm), C64, 1e-4)
    _close(lfft.ifftn(c, s, axes, norm), np.fft.ifftn(c, s, axes, norm), C64, 1e-4)
    _close(lfft.rfftn(x, s, axes, norm), np.fft.rfftn(x, s, axes, norm), C64, 1e-4)
    _close(lfft.irfftn(c, s, axes, norm), np.fft.irfftn(c, s, axes, norm), F32, 1e-4)


@pytest.mark.parametrize("norm", [None, "ortho"])
def test_two_dimensional(rng, norm):
    c = _rand(rng, (2, 4, 6), C64)
    x = _rand(rng, (2, 4, 6), F32)
    _close(lfft.fft2(c, norm=norm), np.fft.fft2(c, norm=norm), C64, 1e-4)
    _close(lfft.ifft2(c, (3, 3), (0, 2), norm), np.fft.ifft2(c, (3, 3), (0, 2), norm), C64)
    _close(lfft.rfft2(x, norm=norm), np.fft.rfft2(x, norm=norm), C64, 1e-4)
    _close(lfft.irfft2(c, norm=norm), np.fft.irfft2(c, norm=norm), F32, 1e-4)


def test_more_than_three_axes(rng):
    # XLA transforms at most 3 axes at once; lamina groups them.
    c = _rand(rng, (2, 3, 2, 3, 4), C64)
    x = _rand(rng, (2, 3, 2, 3, 4), F32)
    _close(lfft.fftn(c), np.fft.fftn(c), C64, 1e-4)
    _close(lfft.ifftn(c, axes=(0, 1, 2, 4)), np.fft.ifftn(c, axes=(0, 1, 2, 4)), C64, 1e-4)
    _close(lfft.rfftn(x), np.fft.rfftn(x), C64, 1e-4)
    s = (2, 3, 2, 3, 6)
    _close(lfft.irfftn(c, s, range(5)), np.fft.irfftn(c, s, range(5)), F32, 1e-4)


def test_dtypes(rng):
    ints = np.arange(6, dtype=np.int32)
    assert lfft.fft(ints).dtype == C64
    _close(lfft.fft(ints), np.fft.fft(ints), C64)
    assert lfft.rfft(ints).dtype == C64
    half = _rand(rng, (8,), np.float16)
    assert lfft.rfft(half).dtype == C64
    _close(lfft.rfft(half), np.fft.rfft(half.astype(F32)), C64)
    with lamina.config.override(enable_x64=True):
        x = _rand(rng, (4, 6), F64)
        out = lfft.rfftn(x)
        assert out.dtype == C128
        _close(out, np.fft.rfftn(x), C128)
        back = lfft.irfftn(out, x.shape)
        assert back.dtype == F64
        _close(back, x, F64)


@pytest.mark.parametrize("n", [1, 2, 7, 8])
def test_frequencies(n):
    _close(lfft.fftfreq(n), np.fft.fftfreq(n), F32)
    _close(lfft.fftfreq(n, 0.25), np.fft.fftfreq(n, 0.25), F32)
    _close(lfft.rfftfreq(n, 3.0), np.fft.rfftfreq(n, 3.0), F32)
    assert lfft.fftfreq(n, dtype=np.complex64).dtype == C64
    with pytest.raises(ValueError, match="fftfreq: n must be positive"):
        lfft.fftfreq(0)


@pytest.mark.parametrize("axes", [None, 0, (1,), (0, 2), -1])
def test_shifts(rng, axes):
    x = _rand(rng, (3, 4, 5), F32)
    np.testing.assert_array_equal(np.asarray(lfft.fftshift(x, axes)), np.fft.fftshift(x, axes))
    np.testing.assert_array_equal(np.asarray(lfft.ifftshift(x, axes)),
                                  np.fft.ifftshift(x, axes))
    np.testing.assert_array_equal(np.asarray(lfft.ifftshift(lfft.fftshift(x, axes), axes)), x)


def test_errors(rng):
    c = _rand(rng, (3, 4), C64)
    with pytest.raises(ValueError, match="fft: invalid norm 'unitary'"):
        lfft.fft(c, norm="unitary")
    with pytest.raises(ValueError, match=r"fftn: s \(2,\) and axes \(0, 1\) have different"):
        lfft.fftn(c, (2,), (0, 1))
    with pytest.raises(ValueError, match=r"fft2: repeated axes \(1, 1\)"):
        lfft.fft2(c, axes=(1, 1))
    with pytest.raises(ValueError, match="fft: axis 2 is out of bounds"):
        lfft.fft(c, axis=2)
    with pytest.raises(TypeError, match="rfft: input must be real, got c64"):
        lfft.rfft(c)
    with pytest.raises(ValueError, match=r"irfft: invalid number of data points \(0,\)"):
        lfft.irfft(np.ones((3, 1), C64))
    with pytest.raises(TypeError, match="fft: axis must be an integer"):
        lfft.fft(c, axis=(0, 1))
