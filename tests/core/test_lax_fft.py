"""lax.fft (stablehlo.fft) against numpy.fft and jax.lax.fft's dtype and shape rules."""
import numpy as np
import pytest

import lamina
from lamina.lax.fft import FftType, fft
from lamina.testing import assert_array_close

F32, F64 = np.dtype(np.float32), np.dtype(np.float64)
C64, C128 = np.dtype(np.complex64), np.dtype(np.complex128)
# NOTE: an n-point FFT sums n terms; float32 rounding grows like log(n) * eps * |x|.
TOL = {C64: 1e-5, F32: 1e-5, C128: 1e-12, F64: 1e-12}

SHAPES_AND_LENGTHS = [((8,), (8,)), ((3, 5), (5,)), ((2, 3, 4), (3, 4)), ((2, 3, 4), (2, 3, 4)),
                      ((1, 6), (1, 6))]


def _rand(rng, shape, dtype):
    x = rng.normal(size=shape)
    if np.issubdtype(dtype, np.complexfloating):
        x = x + 1j * rng.normal(size=shape)
    return x.astype(dtype)


def _axes(n):
    return tuple(range(-n, 0))


@pytest.mark.parametrize("shape,lengths", SHAPES_AND_LENGTHS)
@pytest.mark.parametrize("fft_type", ["FFT", "IFFT", "RFFT", "IRFFT"])
def test_fft_matches_numpy(rng, shape, lengths, fft_type):
    axes = _axes(len(lengths))
    if fft_type == "RFFT":
        x = _rand(rng, shape, F32)
        expected, out_dtype = np.fft.rfftn(x, axes=axes), C64
    elif fft_type == "IRFFT":
        x = np.fft.rfftn(_rand(rng, shape, F32), axes=axes).astype(C64)
        expected, out_dtype = np.fft.irfftn(x, s=lengths, axes=axes), F32
    else:
        x = _rand(rng, shape, C64)
        ref = np.fft.fftn if fft_type == "FFT" else np.fft.ifftn
        expected, out_dtype = ref(x, axes=axes), C64
    out = fft(x, fft_type, lengths)
    assert_array_close(out, expected.astype(out_dtype), rtol=TOL[out_dtype], atol=TOL[out_dtype])


def test_fft_type_spellings_and_enum(rng):
    x = _rand(rng, (4,), C64)
    for typ in (FftType.FFT, "fft", "FFT"):
        assert_array_close(fft(x, typ, (4,)), np.fft.fft(x).astype(C64), rtol=1e-5, atol=1e-5)
    assert [t.value for t in FftType] == [0, 1, 2, 3]
    assert_array_close(fft(x, "ifft", 4), np.fft.ifft(x).astype(C64), rtol=1e-5, atol=1e-5)


def test_fft_x64(rng):
    with lamina.config.override(enable_x64=True):
        x = _rand(rng, (3, 8), F64)
        out = fft(x, FftType.RFFT, (8,))
        assert out.dtype == C128
        assert_array_close(out, np.fft.rfft(x), rtol=TOL[C128], atol=TOL[C128])
        back = fft(np.asarray(out), FftType.IRFFT, (8,))
        assert back.dtype == F64
        assert_array_close(back, x, rtol=TOL[F64], atol=TOL[F64])
        # float64 input to FFT goes to complex128 (jax's to_complex_dtype).
        assert fft(x, "fft", (8,)).dtype == C128


@pytest.mark.parametrize("dtype,fft_type,expected", [
    (np.int32, "FFT", C64), (np.float32, "IFFT", C64), (np.float16, "FFT", C64),
    (np.bool_, "FFT", C64), (np.int32, "RFFT", C64), (np.float32, "IRFFT", F32)])
def test_fft_input_conversion(rng, dtype, fft_type, expected):
    import jax
    x = (rng.normal(size=(6,)) * 3).astype(dtype)
    lengths = (10,) if fft_type == "IRFFT" else (6,)
    out = fft(x, fft_type, lengths)
    ref = jax.lax.fft(x, fft_type, lengths)
    assert out.dtype == expected == ref.dtype
    assert_array_close(out, np.asarray(ref), rtol=1e-5, atol=1e-5)


def test_fft_empty_lengths_is_identity_after_conversion():
    out = fft(np.arange(3, dtype=np.float32), "FFT", ())
    assert out.dtype == C64
    np.testing.assert_array_equal(np.asarray(out), np.arange(3).astype(C64))


@pytest.mark.parametrize("shape,fft_type,lengths,out_shape", [
    ((0, 4), "FFT", (4,), (0, 4)), ((2, 0), "FFT", (0,), (2, 0)),
    ((2, 0), "RFFT", (0,), (2, 1)), ((2, 1), "IRFFT", (0,), (2, 0))])
def test_fft_zero_size(shape, fft_type, lengths, out_shape):
    dtype = F32 if fft_type == "RFFT" else C64
    out = fft(np.zeros(shape, dtype), fft_type, lengths)
    assert out.shape == out_shape
    assert not np.asarray(out).any()


def test_fft_errors():
    c = np.zeros((3, 4), C64)
    with pytest.raises(ValueError, match="lax.fft: unknown fft_type 'fwd'"):
        fft(c, "fwd", (4,))
    with pytest.raises(TypeError, match="lax.fft: fft_type must be"):
        fft(c, 0, (4,))
    with pytest.raises(ValueError, match=r"lax.fft: FFT input shape \(3, 4\) must end with "
                                         r"fft_lengths \(5,\)"):
        fft(c, "FFT", (5,))
    with pytest.raises(ValueError, match=r"lax.fft: FFT over 3 axes.*rank >= 3.*\(3, 4\)"):
        fft(c, "FFT", (2, 3, 4))
    with pytest.raises(ValueError, match=r"lax.fft: IRFFT input shape \(3, 4\) must end with "
                                         r"\(5,\)"):
        fft(c, "IRFFT", (8,))
    with pytest.raises(TypeError, match="lax.fft: RFFT takes real input, got c64"):
        fft(c, "RFFT", (4,))
    with pytest.raises(TypeError, match="lax.fft: RFFT input must be float32 or float64, got f16"):
        fft(np.zeros(4, np.float16), "RFFT", (4,))
    with pytest.raises(ValueError, match=r"lax.fft: RFFT input shape \(3, 4\) must end with"):
        fft(np.zeros((3, 4), F32), "RFFT", (3,))
