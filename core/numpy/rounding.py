"""Rounding and floating-point structure in lamina.numpy: `floor`, `round`, `isnan`,
`isfinite`, `signbit`, `copysign`, `nextafter`, `spacing`, `frexp`, `ldexp`, `modf`,
`nan_to_num`... (split from `ufuncs`).
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from lamina import dtypes, lax
from lamina.backend.array import scalar_to_device
from lamina.lax._util import operator_index
from lamina.numpy._lax_helpers import _full, _isnan
from lamina.numpy._util import ArrayLike, asarray, check_arraylike, promote_shapes
from lamina.numpy.ufuncs import (
    _binary, _check_not_complex, _const, _convert, _is_int, _is_value, _name, _named,
    _promote_inexact, _to_array, _where,
)

__all__ = [
    "floor", "ceil", "trunc", "fix", "rint", "round", "around", "isnan", "isinf",
    "isfinite", "isposinf", "isneginf", "signbit", "copysign", "nextafter", "spacing",
    "ldexp", "frexp", "modf", "nan_to_num",
]


# --------------------------------------------------------------------------------------
# Rounding and floating-point structure
# --------------------------------------------------------------------------------------


def _round_unary(name: str, lax_fn: Callable[[Any], Any], summary: str) -> Callable[..., Any]:
    def fn(x: ArrayLike, /) -> Any:
        x = _to_array(name, x)
        if x.dtype == dtypes.bool_ or _is_int(x.dtype):
            return x
        _check_not_complex(name, x)
        return lax_fn(x)

    return _named(fn, name, f"{summary}, elementwise (jax.numpy.{name}).\n\n    Args:\n"
                            "        x: a real array or scalar.\n\n    Returns:\n        An "
                            "array of x's shape and dtype (integers and bools unchanged).\n    ")


floor = _round_unary("floor", lax.floor, "Round toward negative infinity")
ceil = _round_unary("ceil", lax.ceil, "Round toward positive infinity")
trunc = _round_unary(
    "trunc", lambda x: _where(lax.lt(x, _const(x, 0)), lax.ceil(x), lax.floor(x)),
    "Round toward zero")
fix = _round_unary(
    "fix", lambda x: _where(lax.lt(x, _const(x, 0)), lax.ceil(x), lax.floor(x)),
    "Round toward zero (numpy.fix; the same as trunc)")


def rint(x: ArrayLike, /) -> Any:
    """Round to the nearest integer, ties to even, elementwise (jax.numpy.rint).

    Args:
        x: an array or scalar.

    Returns:
        The rounded values with x's shape; integers and bools become the default float
        dtype (as jax), complex rounds both parts.
    """
    x = _to_array("rint", x)
    if x.dtype == dtypes.bool_ or _is_int(x.dtype):
        return _convert(x, dtypes.default_float_dtype())
    if dtypes.is_complex(x.dtype):
        return lax.complex(rint(lax.real(x)), rint(lax.imag(x)))
    return lax.round(x, lax.RoundingMethod.TO_NEAREST_EVEN)


def round(a: ArrayLike, decimals: int = 0, out: None = None) -> Any:
    """Round to `decimals` decimal places, ties to even (jax.numpy.round).

    Args:
        a: an array or scalar.
        decimals: the number of decimals (a static int; negative rounds to tens...).
        out: unsupported; must be None.

    Returns:
        The rounded values with a's shape and dtype (integers are returned unchanged;
        complex rounds both parts).

    Raises:
        NotImplementedError: for `out`, or negative `decimals` with an integer input.
    """
    if out is not None:
        raise NotImplementedError(f"{_name('round')}: the 'out' argument is not supported")
    a = _to_array("round", a)
    decimals = operator_index(decimals)
    dtype = a.dtype
    if dtype == dtypes.bool_:
        raise ValueError(f"{_name('round')} does not accept bool arrays "
                         f"(got {a.aval.str_short()})")
    if _is_int(dtype):
        if decimals < 0:
            raise NotImplementedError(f"{_name('round')}: decimals < 0 is not implemented "
                                      f"for integer input (got {a.aval.str_short()})")
        return a

    def round_real(x: Any) -> Any:
        if decimals == 0:
            return lax.round(x, lax.RoundingMethod.TO_NEAREST_EVEN)
        # NOTE: scaling float16 by 10**decimals overflows quickly; compute in float32.
        wide = _convert(x, dtypes.float32, x.weak_type) if x.dtype == dtypes.float16 else x
        factor = _const(wide, 10.0 ** decimals)
        scaled = lax.round(lax.mul(wide, factor), lax.RoundingMethod.TO_NEAREST_EVEN)
        return _convert(lax.div(scaled, factor), x.dtype, x.weak_type)

    if decimals > np.log10(float(dtypes.finfo(dtype).max)):
        return a
    if dtypes.is_complex(dtype):
        return lax.complex(round_real(lax.real(a)), round_real(lax.imag(a)))
    return round_real(a)


def around(a: ArrayLike, decimals: int = 0, out: None = None) -> Any:
    """Alias of `lamina.numpy.round` (jax.numpy.around)."""
    return round(a, decimals, out)


def isnan(x: ArrayLike, /) -> Any:
    """Whether each element is NaN (jax.numpy.isnan).

    Args:
        x: an array or scalar.

    Returns:
        A bool array of x's shape.
    """
    x = _to_array("isnan", x)
    return _isnan(x)


def isfinite(x: ArrayLike, /) -> Any:
    """Whether each element is finite (jax.numpy.isfinite).

    Args:
        x: an array or scalar.

    Returns:
        A bool array of x's shape (all True for integers and bools).
    """
    x = _to_array("isfinite", x)
    if dtypes.is_floating(x.dtype):
        return lax.is_finite(x)
    if dtypes.is_complex(x.dtype):
        return lax.bitwise_and(lax.is_finite(lax.real(x)), lax.is_finite(lax.imag(x)))
    return _full(x.shape, True, dtypes.bool_)


def isinf(x: ArrayLike, /) -> Any:
    """Whether each element is +inf or -inf (jax.numpy.isinf).

    Args:
        x: an array or scalar.

    Returns:
        A bool array of x's shape (complex: either part infinite).
    """
    x = _to_array("isinf", x)
    if dtypes.is_floating(x.dtype):
        return lax.eq(lax.abs(x), _const(x, np.inf, weak=False))
    if dtypes.is_complex(x.dtype):
        re, im = lax.abs(lax.real(x)), lax.abs(lax.imag(x))
        return lax.bitwise_or(lax.eq(re, _const(re, np.inf, weak=False)),
                              lax.eq(im, _const(im, np.inf, weak=False)))
    return _full(x.shape, False, dtypes.bool_)


def _isposneginf(fun: str, x: ArrayLike, value: float, out: None) -> Any:
    if out is not None:
        raise NotImplementedError(f"{_name(fun)}: the 'out' argument is not supported")
    x = _to_array(fun, x)
    if dtypes.is_complex(x.dtype):
        raise ValueError(f"{_name(fun)} is not defined for complex inputs "
                         f"(got {x.aval.str_short()})")
    if dtypes.is_floating(x.dtype):
        return lax.eq(x, _const(x, value, weak=False))
    return _full(x.shape, False, dtypes.bool_)


def isposinf(x: ArrayLike, /, out: None = None) -> Any:
    """Whether each element is +inf (jax.numpy.isposinf).

    Args:
        x: a real array or scalar.
        out: unsupported; must be None.

    Returns:
        A bool array of x's shape.
    """
    return _isposneginf("isposinf", x, np.inf, out)


def isneginf(x: ArrayLike, /, out: None = None) -> Any:
    """Whether each element is -inf (jax.numpy.isneginf).

    Args:
        x: a real array or scalar.
        out: unsupported; must be None.

    Returns:
        A bool array of x's shape.
    """
    return _isposneginf("isneginf", x, -np.inf, out)


_BITS_INT = {16: dtypes.int16, 32: dtypes.int32, 64: dtypes.int64}


def signbit(x: ArrayLike, /) -> Any:
    """Whether the sign bit is set, elementwise (jax.numpy.signbit); True for -0.0.

    Args:
        x: a real array or scalar.

    Returns:
        A bool array of x's shape.
    """
    x = _to_array("signbit", x)
    if _is_int(x.dtype):
        return lax.lt(x, _const(x, 0, weak=False))
    if x.dtype == dtypes.bool_:
        return _full(x.shape, False, dtypes.bool_)
    if not dtypes.is_floating(x.dtype):
        raise ValueError(f"{_name('signbit')} is not defined for {x.aval.str_short()}")
    bits = lax.bitcast_convert_type(x, _BITS_INT[x.dtype.itemsize * 8])
    return lax.lt(bits, _const(bits, 0))


def copysign(x1: ArrayLike, x2: ArrayLike, /) -> Any:
    """The magnitude of x1 with the sign of x2, elementwise (jax.numpy.copysign).

    Args:
        x1: a real array or scalar.
        x2: a real array or scalar broadcast-compatible with x1.

    Returns:
        The results, with the broadcast shape and an inexact dtype.
    """
    x1, x2 = _promote_inexact("copysign", x1, x2)
    _check_not_complex("copysign", x1)
    mag = lax.abs(x1)
    return _where(signbit(x2), lax.neg(mag), mag)


nextafter = _binary("nextafter", lax.nextafter, "inexact",
                    "The next representable float after x toward y")


def spacing(x: ArrayLike, /) -> Any:
    """Distance to the next representable float away from zero (jax.numpy.spacing).

    Args:
        x: a real array or scalar.

    Returns:
        The spacings, with x's shape and an inexact dtype.
    """
    (x,) = _promote_inexact("spacing", x)
    if dtypes.is_complex(x.dtype):
        raise ValueError(f"{_name('spacing')} is not defined for complex inputs "
                         f"(got {x.aval.str_short()})")
    inf = _full(x.shape, np.inf, x.dtype, x.weak_type)
    if x.dtype == dtypes.float16:
        return lax.sub(lax.nextafter(x, inf), x)
    result = lax.sub(lax.nextafter(x, copysign(inf, x)), x)
    tiny = float(dtypes.finfo(x.dtype).smallest_subnormal)
    # NOTE: the subnormal fallback is strongly typed, so the result is (as in jax).
    return _where(lax.eq(result, _const(result, 0)),
                  copysign(_const(x, tiny, weak=False), x), result)


def frexp(x: ArrayLike, /) -> tuple[Any, Any]:
    """Split into mantissa and exponent, `x = m * 2**e` with `0.5 <= |m| < 1`
    (jax.numpy.frexp).

    Args:
        x: a real array or scalar.

    Returns:
        `(m, e)`: m with x's shape and an inexact dtype, e as int32. Zeros, infinities
        and NaNs give `(x, 0)`.
    """
    (x,) = _promote_inexact("frexp", x)
    _check_not_complex("frexp", x)
    info = dtypes.finfo(x.dtype)
    nbits = x.dtype.itemsize * 8
    int_t = _BITS_INT[nbits]
    nmant, nexp = int(info.nmant), int(info.nexp)
    bias = 1 - int(info.minexp)
    # NOTE: subnormals are scaled into the normal range first (and the exponent
    # corrected), so that the biased exponent field is meaningful.
    tiny = lax.lt(lax.abs(x), _const(x, float(info.tiny)))
    scaled = _where(tiny, lax.mul(x, _const(x, float(2 ** nmant))), x)
    extra = _where(tiny, _full((), -nmant, int_t), _full((), 0, int_t))
    bits = lax.bitcast_convert_type(scaled, int_t)
    mask = (1 << nexp) - 1
    field = lax.bitwise_and(lax.shift_right_logical(bits, _const(bits, nmant)),
                            _const(bits, mask))
    exponent = lax.add(lax.add(field, _const(field, 1 - bias)), extra)
    # Replace the exponent field by the one of 0.5 (bias - 1).
    cleared = lax.bitwise_and(bits, _const(bits, ~(mask << nmant)))
    mant_bits = lax.bitwise_or(cleared, _const(bits, (bias - 1) << nmant))
    mantissa = lax.bitcast_convert_type(mant_bits, x.dtype)
    special = lax.bitwise_or(lax.bitwise_or(lax.eq(x, _const(x, 0)), _isnan(x)),
                             lax.eq(lax.abs(x), _const(x, np.inf)))
    x_strong = _convert(x, x.dtype, False)
    mantissa = _where(special, x_strong, mantissa)
    exponent = _where(special, _full((), 0, int_t), exponent)
    return mantissa, _convert(exponent, dtypes.int32)


def ldexp(x1: ArrayLike, x2: ArrayLike, /) -> Any:
    """`x1 * 2**x2` for an integer exponent x2, elementwise (jax.numpy.ldexp).

    Args:
        x1: a real array or scalar (integers become the default float).
        x2: an integer array or scalar broadcast-compatible with x1.

    Returns:
        The results, with the broadcast shape and x1's inexact dtype.
    """
    check_arraylike(_name("ldexp"), x1, x2)
    d1, d2 = dtypes.dtype_of(x1), dtypes.dtype_of(x2)
    if dtypes.is_complex(d1) or dtypes.is_inexact(d2):
        raise ValueError(f"{_name('ldexp')} requires a real x1 and an integer x2, got "
                         f"{d1.name} and {d2.name}")
    (x1,) = _promote_inexact("ldexp", x1)
    x2 = _convert(_to_array("ldexp", x2), x1.dtype)
    x1, x2 = promote_shapes(_name("ldexp"), x1, x2)
    m, e = frexp(x1)
    e = lax.add(_convert(e, x1.dtype), x2)
    # NOTE: split the scaling in two steps so that 2**e never overflows on its own
    # when the result is representable (e.g. subnormal results).
    pos = lax.gt(e, _const(e, 0))
    m = _where(pos, lax.mul(m, _const(m, 2)), m)
    e = _where(pos, lax.sub(e, _const(e, 1)), e)
    out = lax.mul(m, lax.pow(_const(e, 2.0), e))
    keep = lax.bitwise_or(lax.eq(lax.abs(x1), _const(x1, np.inf)), lax.eq(x1, _const(x1, 0)))
    return _where(keep, _convert(x1, x1.dtype, False), out)


def modf(x: ArrayLike, /, out: None = None) -> tuple[Any, Any]:
    """Fractional and integral parts, both with x's sign (jax.numpy.modf).

    Args:
        x: a real array or scalar.
        out: unsupported; must be None.

    Returns:
        `(x - trunc(x), trunc(x))` with x's shape and an inexact dtype.
    """
    if out is not None:
        raise NotImplementedError(f"{_name('modf')}: the 'out' argument is not supported")
    (x,) = _promote_inexact("modf", x)
    _check_not_complex("modf", x)
    whole = _where(lax.ge(x, _const(x, 0)), lax.floor(x), lax.ceil(x))
    return lax.sub(x, whole), whole


def nan_to_num(x: ArrayLike, copy: bool = True, nan: ArrayLike = 0.0,
               posinf: ArrayLike | None = None, neginf: ArrayLike | None = None) -> Any:
    """Replace NaN and infinities by finite numbers (jax.numpy.nan_to_num).

    Args:
        x: an array or scalar.
        copy: ignored (arrays are immutable).
        nan: the value for NaN.
        posinf: the value for +inf (default: the dtype's largest finite value).
        neginf: the value for -inf (default: the dtype's most negative finite value).

    Returns:
        An array of x's shape and dtype; integer and bool inputs are unchanged.
    """
    del copy
    x = _to_array("nan_to_num", x)
    dtype = x.dtype
    if not dtypes.is_inexact(dtype):
        return x
    if dtypes.is_complex(dtype):
        parts = [nan_to_num(p, nan=nan, posinf=posinf, neginf=neginf)
                 for p in (lax.real(x), lax.imag(x))]
        return lax.complex(*parts)
    info = dtypes.finfo(dtype)
    posinf = float(info.max) if posinf is None else posinf
    neginf = float(info.min) if neginf is None else neginf
    x = _convert(x, dtype, False)

    def value(v: Any) -> Any:
        return _convert(asarray(v), dtype) if _is_value(v) else scalar_to_device(v, dtype, False)

    out = _where(_isnan(x), value(nan), x)
    out = _where(lax.eq(out, _const(out, np.inf)), value(posinf), out)
    return _where(lax.eq(out, _const(out, -np.inf)), value(neginf), out)
