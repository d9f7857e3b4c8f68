"""Fast Fourier transforms: `lax.fft` (jax.lax.fft), lowered to `stablehlo.fft`.

`fft_p` is linear: its JVP applies it to the tangent and its transpose is another FFT
(with a Hermitian-redundancy mask and scaling for RFFT/IRFFT); it acts on trailing
axes, so vmap moves the batch dimension to the front.
"""
from __future__ import annotations

import enum
from typing import Any, Sequence

import numpy as np

from lamina import dtypes
from lamina.interpreters import ad, batching, lowering
from lamina.interpreters.lowering import RuleContext, Value
from lamina.ir import AbstractArray, Primitive
from lamina.lax._util import ArrayLike, aval_of, operator_index
from lamina.lax.elementwise import convert_element_type

__all__ = ["FftType", "fft"]


class FftType(enum.IntEnum):
    """Which transform `lax.fft` computes (jax's enum and values)."""

    FFT = 0  # forward, complex -> complex
    IFFT = 1  # inverse, complex -> complex
    RFFT = 2  # forward, real -> complex (the last axis keeps n // 2 + 1 entries)
    IRFFT = 3  # inverse, complex (Hermitian half) -> real


_FFT_TYPE_NAMES = {"fft": FftType.FFT, "ifft": FftType.IFFT, "rfft": FftType.RFFT,
                   "irfft": FftType.IRFFT}
_F32, _F64 = np.dtype(np.float32), np.dtype(np.float64)
_C64, _C128 = np.dtype(np.complex64), np.dtype(np.complex128)


def _to_complex_dtype(dtype: np.dtype) -> np.dtype:
    # jax's rule: float64 (and 64-bit ints) -> complex128, anything narrower -> complex64.
    return _C128 if dtypes.to_inexact_dtype(dtype) in (_F64, _C128) else _C64


fft_p = Primitive("fft")


def fft(x: ArrayLike, fft_type: FftType | str, fft_lengths: Sequence[int]) -> Any:
    """The `len(fft_lengths)`-dimensional FFT over the trailing axes of `x`.

    Args:
      x: the input. FFT/IFFT/IRFFT convert it to a complex dtype (float64 and complex128
        stay double precision), RFFT to a floating dtype (RFFT needs float32/float64).
      fft_type: a `FftType` or one of `"fft"`, `"ifft"`, `"rfft"`, `"irfft"`.
      fft_lengths: the logical lengths of the transformed (trailing) axes. For FFT,
        IFFT and RFFT they must equal those axes' sizes; for IRFFT all but the last,
        whose input size must be `fft_lengths[-1] // 2 + 1`.

    Returns:
      The transform: complex for FFT/IFFT/RFFT (RFFT's last axis has
      `fft_lengths[-1] // 2 + 1` entries), real for IRFFT (trailing axes `fft_lengths`).
      IFFT and IRFFT are normalised by `1 / prod(fft_lengths)`.
    """
    if isinstance(fft_type, str):
        try:
            typ = _FFT_TYPE_NAMES[fft_type.lower()]
        except KeyError:
            raise ValueError(f"lax.fft: unknown fft_type {fft_type!r}; use a FftType or one of "
                             f"{sorted(_FFT_TYPE_NAMES)}") from None
    elif isinstance(fft_type, FftType):
        typ = fft_type
    else:
        raise TypeError(f"lax.fft: fft_type must be a FftType or a string, got {fft_type!r}")
    if isinstance(fft_lengths, (int, np.integer)):
        fft_lengths = (fft_lengths,)
    lengths = tuple(operator_index(n) for n in fft_lengths)
    aval = aval_of(x)
    if typ == FftType.RFFT:
        if dtypes.is_complex(aval.dtype):
            raise TypeError(f"lax.fft: RFFT takes real input, got {aval.str_short()}; use "
                            "FftType.FFT for complex input")
        target = dtypes.to_inexact_dtype(aval.dtype)
    else:
        target = _to_complex_dtype(aval.dtype)
    if aval.dtype != target:
        x = convert_element_type(x, target)
    if not lengths:
        return x  # XLA has no 0-dimensional FFT; it is the identity.
    return fft_p.bind(x, fft_type=typ, fft_lengths=lengths)


def _fft_abstract_eval(x: AbstractArray, *, fft_type: FftType, fft_lengths: tuple[int, ...]
                       ) -> AbstractArray:
    nd = len(fft_lengths)
    if nd > x.ndim:
        raise ValueError(f"lax.fft: {fft_type.name} over {nd} axes (fft_lengths={fft_lengths}) "
                         f"needs an input of rank >= {nd}, got shape {x.shape}")
    if any(n < 0 for n in fft_lengths):
        raise ValueError(f"lax.fft: fft_lengths must be non-negative, got {fft_lengths}")
    lead, minor = x.shape[:x.ndim - nd], x.shape[x.ndim - nd:]
    if fft_type == FftType.RFFT:
        if x.dtype not in (_F32, _F64):
            raise TypeError(f"lax.fft: RFFT input must be float32 or float64, got "
                            f"{x.str_short()}")
        if minor != fft_lengths:
            raise ValueError(f"lax.fft: RFFT input shape {x.shape} must end with fft_lengths "
                             f"{fft_lengths}")
        shape = (*lead, *fft_lengths[:-1], fft_lengths[-1] // 2 + 1)
        return AbstractArray(shape, _C128 if x.dtype == _F64 else _C64, x.weak_type)
    if x.dtype not in (_C64, _C128):
        raise TypeError(f"lax.fft: {fft_type.name} input must be complex64 or complex128, got "
                        f"{x.str_short()}")
    if fft_type == FftType.IRFFT:
        expected = (*fft_lengths[:-1], fft_lengths[-1] // 2 + 1)
        if minor != expected:
            raise ValueError(f"lax.fft: IRFFT input shape {x.shape} must end with {expected} "
                             f"(fft_lengths[:-1] and fft_lengths[-1] // 2 + 1) for "
                             f"fft_lengths {fft_lengths}")
        return AbstractArray((*lead, *fft_lengths), dtypes.real_dtype(x.dtype), x.weak_type)
    if minor != fft_lengths:
        raise ValueError(f"lax.fft: {fft_type.name} input shape {x.shape} must end with "
                         f"fft_lengths {fft_lengths}")
    return x


fft_p.def_abstract_eval(_fft_abstract_eval)


def _fft_lower(ctx: RuleContext, x: Value, *, fft_type: FftType,
               fft_lengths: tuple[int, ...]) -> Value:
    out = ctx.aval_out.strip_weak_type()
    if out.size == 0 or ctx.avals_in[0].size == 0:
        # NOTE: a transform of no data is all zeros (e.g. RFFT over an empty axis).
        zero = ctx.constant(0, AbstractArray((), out.dtype))
        return ctx.op("stablehlo.broadcast_in_dim", [zero], out,
                      {"broadcast_dimensions": lowering.i64_array(())})
    return ctx.op("stablehlo.fft", [x], out, {
        "fft_type": f"#stablehlo<fft_type {fft_type.name}>",
        "fft_length": lowering.i64_array(fft_lengths)})


lowering.register_lowering(fft_p, _fft_lower)


def _hermitian_mask(fft_lengths: tuple[int, ...], shape: tuple[int, ...], dtype: np.dtype,
                    scale: float = 1.0, invert: bool = False) -> Any:
    """Weights of RFFT's `m = n // 2 + 1` outputs along the last axis, broadcast to
    `shape`: 1 for the DC term (and the Nyquist term when n is even), 2 for the others,
    which stand for a conjugate pair of the full spectrum. Times `scale`; `invert`
    gives the reciprocal weights.

    NOTE: built from an iota, not a numpy constant, so that rules traced inside closed
    programs (jit) capture no array constants.
    """
    from lamina.lax import elementwise as el
    from lamina.lax.structural import broadcasted_iota, full
    idx = broadcasted_iota(np.int32, shape, len(shape) - 1)
    single = el.eq(idx, np.int32(0))
    if fft_lengths[-1] % 2 == 0:
        single = el.bitwise_or(single, el.eq(idx, np.int32(shape[-1] - 1)))
    pair = 0.5 if invert else 2.0
    return el.select(single, full(shape, scale, dtype), full(shape, pair * scale, dtype))


def _fft_transpose(ct: Any, x: Any, *, fft_type: FftType, fft_lengths: tuple[int, ...]
                   ) -> list[Any]:
    # The DFT matrix is symmetric, so FFT and IFFT are their own transposes. RFFT and
    # IRFFT drop (or reconstruct) the conjugate half of the spectrum: their transposes
    # weight the kept half by the Hermitian mask. The conjugations follow jax's
    # convention for cotangents of complex <-> real maps (jax issue #6223).
    from lamina.lax import elementwise as el
    assert ad.is_undefined_primal(x)
    if isinstance(ct, ad.Zero):
        return [ad.Zero(x.aval)]
    ct_aval = aval_of(ct)
    size = float(np.prod(fft_lengths))
    if fft_type == FftType.RFFT:
        # N * irfft(conj(ct) / mask)
        weights = _hermitian_mask(fft_lengths, ct_aval.shape, ct_aval.dtype, size, invert=True)
        out = fft_p.bind(el.mul(el.conj(ct), weights), fft_type=FftType.IRFFT,
                         fft_lengths=fft_lengths)
    elif fft_type == FftType.IRFFT:
        # conj(mask / N * rfft(ct))
        spectrum = fft_p.bind(ct, fft_type=FftType.RFFT, fft_lengths=fft_lengths)
        spec_aval = aval_of(spectrum)
        weights = _hermitian_mask(fft_lengths, spec_aval.shape, spec_aval.dtype, 1.0 / size)
        out = el.conj(el.mul(spectrum, weights))
    else:
        out = fft_p.bind(ct, fft_type=fft_type, fft_lengths=fft_lengths)
    return [out]


def _fft_batch(args: Sequence[Any], dims: Sequence[Any], *, fft_type: FftType,
               fft_lengths: tuple[int, ...]) -> tuple[Any, Any]:
    (x,), (d,) = args, dims
    x = batching.moveaxis(x, d, 0)
    return fft_p.bind(x, fft_type=fft_type, fft_lengths=fft_lengths), 0


ad.deflinear(fft_p, _fft_transpose)
batching.primitive_batchers[fft_p] = _fft_batch
