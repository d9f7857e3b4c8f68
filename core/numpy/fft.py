"""`lamina.numpy.fft`: jax.numpy.fft's API as compositions of `lamina.lax.fft` and
structural ops.

Like jax, complex transforms of float64/complex128 data stay in double precision and
everything else computes in complex64. Unlike XLA (at most 3 axes per transform), the
n-dimensional functions accept any number of axes: they transform in groups of three.
"""
from __future__ import annotations

import operator
from typing import Any, Sequence

import numpy as np

from lamina import dtypes
from lamina.lax import elementwise as el
from lamina.lax import structural as st
from lamina.lax._util import canonicalize_axis
from lamina.lax.fft import FftType
from lamina.lax.fft import fft as _lax_fft
from lamina.numpy._util import asarray, check_arraylike

__all__ = [
    "fft", "fft2", "fftfreq", "fftn", "fftshift", "hfft", "ifft", "ifft2", "ifftn",
    "ifftshift", "ihfft", "irfft", "irfft2", "irfftn", "rfft", "rfft2", "rfftfreq", "rfftn",
]

Array = Any
ArrayLike = Any

_NORMS = (None, "backward", "ortho", "forward")
_SWAPPED_NORM = {None: "forward", "backward": "forward", "ortho": "ortho",
                 "forward": "backward"}
_MAX_XLA_FFT_RANK = 3


def _moveaxis(x: Array, src: Sequence[int], dst: Sequence[int]) -> Array:
    perm = [i for i in range(x.ndim) if i not in src]
    for d, s in sorted(zip(dst, src)):
        perm.insert(d, s)
    return x if perm == list(range(x.ndim)) else st.transpose(x, tuple(perm))


def _fft_trailing(x: Array, fft_type: FftType, lengths: tuple[int, ...]) -> Array:
    """`lax.fft` over the last `len(lengths)` axes, in groups XLA accepts (<= 3 axes):
    the real axis (the last) is transformed first for RFFT and last for IRFFT."""
    k = len(lengths)
    if k <= _MAX_XLA_FFT_RANK:
        return _lax_fft(x, fft_type, lengths)
    nd = x.ndim
    head = list(range(nd - k, nd - _MAX_XLA_FFT_RANK))
    groups = [head[i:i + _MAX_XLA_FFT_RANK] for i in range(0, len(head), _MAX_XLA_FFT_RANK)]
    complex_type = FftType.IFFT if fft_type in (FftType.IFFT, FftType.IRFFT) else FftType.FFT

    def over(y: Array, axes: list[int], typ: FftType) -> Array:
        end = list(range(nd - len(axes), nd))
        y = _moveaxis(y, axes, end)
        y = _lax_fft(y, typ, tuple(y.shape[a] for a in end))
        return _moveaxis(y, end, axes)

    if fft_type in (FftType.RFFT, FftType.FFT, FftType.IFFT):
        x = _lax_fft(x, fft_type, lengths[-_MAX_XLA_FFT_RANK:])
        for g in groups:
            x = over(x, g, complex_type)
        return x
    for g in groups:  # IRFFT: the complex axes first, the Hermitian one last.
        x = over(x, g, complex_type)
    return _lax_fft(x, fft_type, lengths[-_MAX_XLA_FFT_RANK:])


def _fft_core(name: str, fft_type: FftType, a: ArrayLike, s: Sequence[int] | None,
              axes: Sequence[int] | None, norm: str | None) -> Array:
    fun = f"lamina.numpy.fft.{name}"
    check_arraylike(fun, a)
    a = asarray(a)
    if norm not in _NORMS:
        raise ValueError(f"{fun}: invalid norm {norm!r}; use None, 'backward', 'ortho' or "
                         "'forward'")
    if s is not None:
        s = tuple(operator.index(n) for n in s)
        if axes is not None and len(s) != len(axes):
            raise ValueError(f"{fun}: s {s} and axes {tuple(axes)} have different lengths")
    if axes is None:
        axes = range(a.ndim) if s is None else range(a.ndim - len(s), a.ndim)
    axes = tuple(canonicalize_axis(ax, a.ndim, fun) for ax in axes)
    if len(set(axes)) != len(axes):
        raise ValueError(f"{fun}: repeated axes {axes}")
    if fft_type == FftType.RFFT:
        if dtypes.is_complex(a.dtype):
            raise TypeError(f"{fun}: input must be real, got {a.aval.str_short()}")
        if a.dtype not in (np.float32, np.float64):
            # NOTE: XLA's RFFT has no half precision; numpy and jax's FFT use float32 too.
            a = el.convert_element_type(a, np.float64 if a.dtype == np.int64 else np.float32)
    if not axes:
        return _lax_fft(a, fft_type, ())
    k, nd = len(axes), a.ndim
    trailing = tuple(range(nd - k, nd))
    a = _moveaxis(a, axes, trailing)
    if s is None:
        lengths = [a.shape[ax] for ax in trailing]
        if fft_type == FftType.IRFFT:
            lengths[-1] = 2 * (lengths[-1] - 1)
    else:
        lengths = list(s)
    if any(n < 1 for n in lengths):
        raise ValueError(f"{fun}: invalid number of data points {tuple(lengths)} (each must "
                         f"be >= 1) for an input of shape {a.shape}")
    in_shape = list(a.shape)
    for ax, n in zip(trailing, lengths):
        in_shape[ax] = n
    if fft_type == FftType.IRFFT:
        in_shape[-1] = lengths[-1] // 2 + 1
    a = _crop_or_pad(a, in_shape)
    out = _fft_trailing(a, fft_type, tuple(lengths))
    factor = _norm_factor(name, norm, int(np.prod(lengths)))
    if factor != 1:
        out = el.mul(out, np.asarray(factor, out.dtype))
    return _moveaxis(out, trailing, axes)


def _crop_or_pad(a: Array, shape: Sequence[int]) -> Array:
    if tuple(shape) == a.shape:
        return a
    crop = [min(n, d) for n, d in zip(shape, a.shape)]
    if crop != list(a.shape):
        a = st.slice(a, [0] * a.ndim, crop)
    if crop != list(shape):
        a = st.pad(a, np.zeros((), a.dtype), [(0, n - c, 0) for n, c in zip(shape, crop)])
    return a


def _norm_factor(name: str, norm: str | None, n: int) -> float:
    inverse = name.startswith("i")
    if norm in (None, "backward"):
        return 1.0  # lax's inverse transforms already divide by n
    if norm == "ortho":
        return float(np.sqrt(n)) if inverse else float(1 / np.sqrt(n))
    return float(n) if inverse else 1.0 / n


def _axes_1d(name: str, axis: int) -> tuple[int, ...]:
    try:
        return (operator.index(axis),)
    except TypeError:
        raise TypeError(f"lamina.numpy.fft.{name}: axis must be an integer, got {axis!r}; use "
                        f"{name}n for several axes") from None


def _one(n: int | None) -> tuple[int, ...] | None:
    return None if n is None else (n,)


def fft(a: ArrayLike, n: int | None = None, axis: int = -1, norm: str | None = None) -> Array:
    """1-D discrete Fourier transform (numpy.fft.fft).

    Args:
      a: the input (converted to complex).
      n: length of the transformed axis (cropped or zero-padded); default its size.
      axis: the axis to transform.
      norm: "backward" (default, no scaling), "ortho" (1/sqrt(n)) or "forward" (1/n).

    Returns:
      A complex array (complex128 for double-precision input, else complex64).
    """
    return _fft_core("fft", FftType.FFT, a, _one(n), _axes_1d("fft", axis), norm)


def ifft(a: ArrayLike, n: int | None = None, axis: int = -1, norm: str | None = None) -> Array:
    """1-D inverse DFT (numpy.fft.ifft); "backward" norm divides by n."""
    return _fft_core("ifft", FftType.IFFT, a, _one(n), _axes_1d("ifft", axis), norm)


def rfft(a: ArrayLike, n: int | None = None, axis: int = -1, norm: str | None = None) -> Array:
    """1-D DFT of real input, `n // 2 + 1` non-negative frequencies (numpy.fft.rfft)."""
    return _fft_core("rfft", FftType.RFFT, a, _one(n), _axes_1d("rfft", axis), norm)


def irfft(a: ArrayLike, n: int | None = None, axis: int = -1, norm: str | None = None) -> Array:
    """Inverse of `rfft` (numpy.fft.irfft): `n` real outputs, default
    `2 * (a.shape[axis] - 1)`."""
    return _fft_core("irfft", FftType.IRFFT, a, _one(n), _axes_1d("irfft", axis), norm)


def _complex(a: ArrayLike) -> Array:
    a = asarray(a)
    if not dtypes.is_complex(a.dtype):
        a = el.convert_element_type(
            a, np.complex128 if dtypes.to_inexact_dtype(a.dtype) == np.float64 else np.complex64)
    return a


def hfft(a: ArrayLike, n: int | None = None, axis: int = -1, norm: str | None = None) -> Array:
    """DFT of a Hermitian-symmetric signal given by its first half; real output
    (numpy.fft.hfft)."""
    check_arraylike("lamina.numpy.fft.hfft", a)
    if norm not in _NORMS:
        raise ValueError(f"lamina.numpy.fft.hfft: invalid norm {norm!r}")
    return irfft(el.conj(_complex(a)), n, axis, _SWAPPED_NORM[norm])


def ihfft(a: ArrayLike, n: int | None = None, axis: int = -1, norm: str | None = None) -> Array:
    """Inverse of `hfft` for real input (numpy.fft.ihfft)."""
    check_arraylike("lamina.numpy.fft.ihfft", a)
    if norm not in _NORMS:
        raise ValueError(f"lamina.numpy.fft.ihfft: invalid norm {norm!r}")
    return el.conj(rfft(a, n, axis, _SWAPPED_NORM[norm]))


def fftn(a: ArrayLike, s: Sequence[int] | None = None, axes: Sequence[int] | None = None,
         norm: str | None = None) -> Array:
    """N-D DFT (numpy.fft.fftn) over `axes` (default: all, or the last `len(s)`), each
    cropped or zero-padded to `s`."""
    return _fft_core("fftn", FftType.FFT, a, s, axes, norm)


def ifftn(a: ArrayLike, s: Sequence[int] | None = None, axes: Sequence[int] | None = None,
          norm: str | None = None) -> Array:
    """N-D inverse DFT (numpy.fft.ifftn)."""
    return _fft_core("ifftn", FftType.IFFT, a, s, axes, norm)


def rfftn(a: ArrayLike, s: Sequence[int] | None = None, axes: Sequence[int] | None = None,
          norm: str | None = None) -> Array:
    """N-D DFT of real input; the last axis keeps `s[-1] // 2 + 1` entries (numpy.fft.rfftn)."""
    return _fft_core("rfftn", FftType.RFFT, a, s, axes, norm)


def irfftn(a: ArrayLike, s: Sequence[int] | None = None, axes: Sequence[int] | None = None,
           norm: str | None = None) -> Array:
    """Inverse of `rfftn` (numpy.fft.irfftn): real output of shape `s` on `axes`."""
    return _fft_core("irfftn", FftType.IRFFT, a, s, axes, norm)


def fft2(a: ArrayLike, s: Sequence[int] | None = None, axes: Sequence[int] = (-2, -1),
         norm: str | None = None) -> Array:
    """2-D DFT over `axes` (numpy.fft.fft2)."""
    return _fft_core("fft2", FftType.FFT, a, s, axes, norm)


def ifft2(a: ArrayLike, s: Sequence[int] | None = None, axes: Sequence[int] = (-2, -1),
          norm: str | None = None) -> Array:
    """2-D inverse DFT (numpy.fft.ifft2)."""
    return _fft_core("ifft2", FftType.IFFT, a, s, axes, norm)


def rfft2(a: ArrayLike, s: Sequence[int] | None = None, axes: Sequence[int] = (-2, -1),
          norm: str | None = None) -> Array:
    """2-D DFT of real input (numpy.fft.rfft2)."""
    return _fft_core("rfft2", FftType.RFFT, a, s, axes, norm)


def irfft2(a: ArrayLike, s: Sequence[int] | None = None, axes: Sequence[int] = (-2, -1),
           norm: str | None = None) -> Array:
    """Inverse of `rfft2` (numpy.fft.irfft2)."""
    return _fft_core("irfft2", FftType.IRFFT, a, s, axes, norm)


def _freq_dtype(fun: str, dtype: Any) -> np.dtype:
    if dtype is None:
        return dtypes.default_float_dtype()
    dtype = dtypes.check_user_dtype_supported(dtype, fun)
    if not dtypes.is_inexact(dtype):
        raise ValueError(f"{fun}: dtype must be a floating or complex dtype, got {dtype}")
    return dtype


def _scaled_counts(fun: str, k: Array, n: int, d: Any, dtype: np.dtype) -> Array:
    k = el.convert_element_type(k, dtype)
    if dtypes.is_python_scalar(d) or isinstance(d, (np.ndarray, np.generic)):
        return el.mul(k, np.asarray(1.0 / (n * np.asarray(d)), dtype))
    spacing = el.convert_element_type(asarray(d), dtype)
    return el.div(k, el.mul(spacing, np.asarray(n, dtype)))


def _check_n(fun: str, n: Any) -> int:
    try:
        n = operator.index(n)
    except TypeError:
        raise TypeError(f"{fun}: n must be an integer, got {n!r}") from None
    if n < 1:
        raise ValueError(f"{fun}: n must be positive, got {n}")
    return n


def fftfreq(n: int, d: ArrayLike = 1.0, *, dtype: Any = None, device: Any = None) -> Array:
    """Sample frequencies of `fft` (numpy.fft.fftfreq):
    `[0, 1, ..., (n-1)//2, -(n//2), ..., -1] / (d * n)`.

    Args:
      n: the window length.
      d: the sample spacing.
      dtype: floating dtype of the result (default float32, float64 with x64).
      device: accepted for the array API; ignored (the default device is used).
    """
    del device
    fun = "lamina.numpy.fft.fftfreq"
    n = _check_n(fun, n)
    dtype = _freq_dtype(fun, dtype)
    i = st.iota(np.int32, n)
    k = el.select(el.lt(i, np.asarray((n + 1) // 2, np.int32)), i,
                  el.sub(i, np.asarray(n, np.int32)))
    return _scaled_counts(fun, k, n, d, dtype)


def rfftfreq(n: int, d: ArrayLike = 1.0, *, dtype: Any = None, device: Any = None) -> Array:
    """Sample frequencies of `rfft` (numpy.fft.rfftfreq): `[0, 1, ..., n//2] / (d * n)`."""
    del device
    fun = "lamina.numpy.fft.rfftfreq"
    n = _check_n(fun, n)
    return _scaled_counts(fun, st.iota(np.int32, n // 2 + 1), n, d, _freq_dtype(fun, dtype))


def _roll_axes(fun: str, x: ArrayLike, axes: int | Sequence[int] | None, inverse: bool) -> Array:
    check_arraylike(fun, x)
    x = asarray(x)
    if axes is None:
        axes = range(x.ndim)
    elif isinstance(axes, (int, np.integer)):
        axes = (axes,)
    for ax in (canonicalize_axis(a, x.ndim, fun) for a in axes):
        size = x.shape[ax]
        shift = (-(size // 2) if inverse else size // 2) % size if size else 0
        if shift:
            # roll by `shift`: the last `shift` entries move to the front.
            x = st.concatenate([st.slice_in_dim(x, size - shift, size, axis=ax),
                                st.slice_in_dim(x, 0, size - shift, axis=ax)], ax)
    return x


def fftshift(x: ArrayLike, axes: int | Sequence[int] | None = None) -> Array:
    """Move the zero frequency to the centre (numpy.fft.fftshift): roll each axis by
    `size // 2`."""
    return _roll_axes("lamina.numpy.fft.fftshift", x, axes, inverse=False)


def ifftshift(x: ArrayLike, axes: int | Sequence[int] | None = None) -> Array:
    """Inverse of `fftshift` (numpy.fft.ifftshift)."""
    return _roll_axes("lamina.numpy.fft.ifftshift", x, axes, inverse=True)
