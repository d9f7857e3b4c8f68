"""Comparison, selection, logical and bitwise functions of lamina.numpy: `maximum`,
`fmax`, `clip`, `less`, `isclose`, `array_equal`, `logical_and`, `bitwise_xor`, shifts,
`gcd`, `lcm`... (split from `ufuncs`).
"""
from __future__ import annotations

import builtins
from typing import Any, Callable

import numpy as np

from lamina import dtypes, lax
from lamina.backend.array import scalar_to_device
from lamina.numpy._lax_helpers import _isnan
from lamina.numpy._util import ArrayLike, asarray, broadcast_shapes, check_arraylike
from lamina.numpy.rounding import isfinite, isnan
from lamina.numpy.ufuncs import (
    _alias, _bcast, _binary, _const, _convert, _is_complex, _is_int, _is_value, _name,
    _named, _promote, _promote_inexact, _promote_numeric, _to_array, _unary, _where,
    absolute, add, floor_divide, multiply,
)

__all__ = [
    "maximum", "minimum", "fmax", "fmin", "clip", "heaviside", "equal", "not_equal",
    "less", "less_equal", "greater", "greater_equal", "isclose", "allclose",
    "array_equal", "array_equiv", "logical_and", "logical_or", "logical_xor",
    "logical_not", "bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_not",
    "bitwise_invert", "invert", "bitwise_count", "left_shift", "right_shift",
    "bitwise_left_shift", "bitwise_right_shift", "gcd", "lcm",
]


# --------------------------------------------------------------------------------------
# Comparison and selection
# --------------------------------------------------------------------------------------

maximum = _binary("maximum", lax.max, "same", "Larger of x and y (NaN if either is NaN)")
minimum = _binary("minimum", lax.min, "same", "Smaller of x and y (NaN if either is NaN)")


def fmax(x1: ArrayLike, x2: ArrayLike) -> Any:
    """Elementwise maximum that ignores NaN when the other value is a number
    (jax.numpy.fmax).

    Args:
        x1: an array or scalar.
        x2: an array or scalar broadcast-compatible with x1.

    Returns:
        The maxima, with the broadcast shape and the promoted dtype.
    """
    x1, x2 = _promote("fmax", x1, x2)
    return _where(lax.bitwise_or(greater(x1, x2), _isnan(x2)), x1, x2)


def fmin(x1: ArrayLike, x2: ArrayLike) -> Any:
    """Elementwise minimum that ignores NaN when the other value is a number
    (jax.numpy.fmin).

    Args:
        x1: an array or scalar.
        x2: an array or scalar broadcast-compatible with x1.

    Returns:
        The minima, with the broadcast shape and the promoted dtype.
    """
    x1, x2 = _promote("fmin", x1, x2)
    return _where(lax.bitwise_or(less(x1, x2), _isnan(x2)), x1, x2)


_UNSET: Any = object()


def clip(arr: ArrayLike | None = None, /, min: ArrayLike | None = None,
         max: ArrayLike | None = None, *, a: ArrayLike = _UNSET, a_min: ArrayLike = _UNSET,
         a_max: ArrayLike = _UNSET) -> Any:
    """Limit values to `[min, max]` (jax.numpy.clip).

    Args:
        arr: the array to clip.
        min: the lower bound (broadcast), or None for no lower bound.
        max: the upper bound (broadcast), or None for no upper bound.
        a, a_min, a_max: the legacy (NumPy 1.x) names of `arr`, `min` and `max`.

    Returns:
        `minimum(maximum(arr, min), max)`, with the broadcast shape and promoted dtype.

    Raises:
        ValueError: for complex values (they have no order) or no input at all.
    """
    if a is not _UNSET:
        if arr is not None:
            raise TypeError(f"{_name('clip')}: pass the array once (positionally or as a=)")
        arr = a
    if a_min is not _UNSET:
        if min is not None:
            raise TypeError(f"{_name('clip')}: pass the lower bound once (min= or a_min=)")
        min = a_min
    if a_max is not _UNSET:
        if max is not None:
            raise TypeError(f"{_name('clip')}: pass the upper bound once (max= or a_max=)")
        max = a_max
    if arr is None:
        raise ValueError(f"{_name('clip')}: no input array was provided")
    check_arraylike(_name("clip"), arr)
    if builtins.any(v is not None and _is_complex(v) for v in (arr, min, max)):
        raise ValueError(f"{_name('clip')}: complex values have no order and cannot be "
                         "clipped; clip the real or imaginary part instead")
    out = arr
    if min is not None:
        out = maximum(min, out)
    if max is not None:
        out = minimum(max, out)
    return _to_array("clip", out)


def heaviside(x1: ArrayLike, x2: ArrayLike, /) -> Any:
    """Heaviside step: 0 for x1 < 0, x2 at 0, 1 for x1 > 0 (jax.numpy.heaviside).

    Args:
        x1: a real array or scalar.
        x2: the value at 0, broadcast-compatible with x1.

    Returns:
        The step values, with the broadcast shape and an inexact dtype.
    """
    x1, x2 = _promote_inexact("heaviside", x1, x2)
    zero = _const(x1, 0)
    inner = _where(lax.gt(x1, zero), _const(x1, 1), _where(_isnan(x1), x1, x2))
    return _where(lax.lt(x1, zero), zero, inner)


def _ordered_compare(name: str, lax_fn: Callable[[Any, Any], Any], summary: str
                     ) -> Callable[..., Any]:
    def compare(x: Any, y: Any) -> Any:
        if dtypes.is_complex(x.dtype):
            # NOTE: complex numbers compare lexicographically (real part first), as numpy.
            xr, yr = lax.real(x), lax.real(y)
            return _where(lax.eq(xr, yr), lax_fn(lax.imag(x), lax.imag(y)), lax_fn(xr, yr))
        return lax_fn(x, y)

    return _binary(name, compare, "same", summary)


equal = _binary("equal", lax.eq, "same", "`x == y`")
not_equal = _binary("not_equal", lax.ne, "same", "`x != y`")
less = _ordered_compare("less", lax.lt, "`x < y`")
less_equal = _ordered_compare("less_equal", lax.le, "`x <= y`")
greater = _ordered_compare("greater", lax.gt, "`x > y`")
greater_equal = _ordered_compare("greater_equal", lax.ge, "`x >= y`")


def isclose(a: ArrayLike, b: ArrayLike, rtol: ArrayLike = 1e-05, atol: ArrayLike = 1e-08,
            equal_nan: bool = False) -> Any:
    """Whether `|a - b| <= atol + rtol * |b|`, elementwise (jax.numpy.isclose).

    Args:
        a: an array or scalar.
        b: an array or scalar broadcast-compatible with a.
        rtol: relative tolerance.
        atol: absolute tolerance.
        equal_nan: whether NaNs compare equal to each other.

    Returns:
        A bool array of the broadcast shape. Infinities are close only to themselves.
    """
    a, b = _promote("isclose", a, b)
    if not dtypes.is_inexact(a.dtype):
        a, b = _promote_inexact("isclose", a, b)
    tol_dtype = dtypes.real_dtype(a.dtype)

    def tol(v: Any) -> Any:
        return _convert(asarray(v), tol_dtype) if _is_value(v) or isinstance(
            v, np.ndarray) else scalar_to_device(v, tol_dtype, False)

    rtol_, atol_ = tol(rtol), tol(atol)
    if rtol_.ndim == 0 and atol_.ndim == 0:
        in_range = lax.le(lax.abs(lax.sub(a, b)),
                          lax.add(atol_, lax.mul(rtol_, lax.abs(b))))
    else:
        in_range = less_equal(lax.abs(lax.sub(a, b)),
                              add(atol_, multiply(rtol_, lax.abs(b))))
    out = lax.bitwise_or(lax.eq(a, b), lax.bitwise_and(isfinite(b), in_range))
    if equal_nan:
        out = lax.bitwise_or(out, lax.bitwise_and(_isnan(a), _isnan(b)))
    return _convert(out, dtypes.bool_)


def _all(x: Any) -> Any:
    return lax.reduce_and(x, tuple(range(x.ndim))) if x.ndim else x


def allclose(a: ArrayLike, b: ArrayLike, rtol: ArrayLike = 1e-05, atol: ArrayLike = 1e-08,
             equal_nan: bool = False) -> Any:
    """Whether every element of a is close to b (jax.numpy.allclose); see `isclose`.

    Args:
        a: an array or scalar.
        b: an array or scalar broadcast-compatible with a.
        rtol: relative tolerance.
        atol: absolute tolerance.
        equal_nan: whether NaNs compare equal to each other.

    Returns:
        A 0-d bool array.
    """
    return _all(isclose(a, b, rtol, atol, equal_nan))


def array_equal(a1: ArrayLike, a2: ArrayLike, equal_nan: bool = False) -> Any:
    """Whether a1 and a2 have the same shape and elements (jax.numpy.array_equal).

    Args:
        a1: an array or scalar.
        a2: an array or scalar.
        equal_nan: whether NaNs compare equal to each other.

    Returns:
        A 0-d bool array (False when the shapes differ).
    """
    a1, a2 = _to_array("array_equal", a1), _to_array("array_equal", a2)
    if a1.shape != a2.shape:
        return scalar_to_device(False, dtypes.bool_, False)
    eq = equal(a1, a2)
    if equal_nan:
        eq = lax.bitwise_or(eq, lax.bitwise_and(isnan(a1), isnan(a2)))
    return _convert(_all(eq), dtypes.bool_)


def array_equiv(a1: ArrayLike, a2: ArrayLike) -> Any:
    """Whether a1 and a2 are equal after broadcasting (jax.numpy.array_equiv).

    Args:
        a1: an array or scalar.
        a2: an array or scalar.

    Returns:
        A 0-d bool array (False when the shapes do not broadcast).
    """
    a1, a2 = _to_array("array_equiv", a1), _to_array("array_equiv", a2)
    try:
        eq = equal(a1, a2)
    except ValueError:
        return scalar_to_device(False, dtypes.bool_, False)
    return _convert(_all(eq), dtypes.bool_)


# --------------------------------------------------------------------------------------
# Logical and bitwise
# --------------------------------------------------------------------------------------


def _to_bool(x: Any) -> Any:
    if x.dtype == dtypes.bool_:
        return x
    return lax.ne(x, _const(x, 0))


logical_and = _binary("logical_and", lambda x, y: lax.bitwise_and(_to_bool(x), _to_bool(y)),
                      "same", "Logical `x and y`")
logical_or = _binary("logical_or", lambda x, y: lax.bitwise_or(_to_bool(x), _to_bool(y)),
                     "same", "Logical `x or y`")
logical_xor = _binary("logical_xor", lambda x, y: lax.bitwise_xor(_to_bool(x), _to_bool(y)),
                      "same", "Logical `x xor y`")
logical_not = _unary("logical_not", lambda x: lax.bitwise_not(_to_bool(x)), "same",
                     "Logical `not x`")


def _bitwise(name: str, lax_fn: Callable[..., Any], nargs: int, summary: str
             ) -> Callable[..., Any]:
    def checked(*args: Any) -> Any:
        if not (args[0].dtype == dtypes.bool_ or _is_int(args[0].dtype)):
            raise TypeError(f"{_name(name)} requires integer or bool arguments, got "
                            f"{', '.join(a.aval.str_short() for a in args)}")
        return lax_fn(*args)

    return (_unary if nargs == 1 else _binary)(name, checked, "same", summary)


bitwise_and = _bitwise("bitwise_and", lax.bitwise_and, 2, "Bitwise and `x & y`")
bitwise_or = _bitwise("bitwise_or", lax.bitwise_or, 2, "Bitwise or `x | y`")
bitwise_xor = _bitwise("bitwise_xor", lax.bitwise_xor, 2, "Bitwise xor `x ^ y`")
bitwise_not = _bitwise("bitwise_not", lax.bitwise_not, 1, "Bitwise not `~x`")
invert = _bitwise("invert", lax.bitwise_not, 1, "Bitwise inversion `~x`")
bitwise_invert = _bitwise("bitwise_invert", lax.bitwise_not, 1, "Bitwise inversion `~x`")


def _shift(name: str, right: bool) -> Callable[..., Any]:
    def shift(x: Any, y: Any) -> Any:
        if not _is_int(x.dtype):
            raise TypeError(f"{_name(name)} requires integer arguments, got "
                            f"{x.aval.str_short()} and {y.aval.str_short()}")
        if not right:
            return lax.shift_left(x, y)
        if dtypes.is_unsigned_integer(x.dtype):
            return lax.shift_right_logical(x, y)
        return lax.shift_right_arithmetic(x, y)

    def fn(x1: ArrayLike, x2: ArrayLike, /) -> Any:
        return shift(*_promote_numeric(name, x1, x2))

    op = ">>" if right else "<<"
    return _named(fn, name, f"Shift `x1 {op} x2`, elementwise (jax.numpy.{name}).\n\n"
                            "    Args:\n        x1: an integer array or scalar (bools become "
                            "int32).\n        x2: the shift amounts, broadcast-compatible.\n\n"
                            "    Returns:\n        The shifted values (arithmetic right shift "
                            "for signed integers).\n    ")


left_shift = _shift("left_shift", right=False)
right_shift = _shift("right_shift", right=True)
bitwise_left_shift = _alias(left_shift, "bitwise_left_shift")
bitwise_right_shift = _alias(right_shift, "bitwise_right_shift")


def bitwise_count(x: ArrayLike, /) -> Any:
    """Number of 1 bits in `|x|`, elementwise (jax.numpy.bitwise_count).

    Args:
        x: an integer or bool array or scalar.

    Returns:
        The counts as uint8, with x's shape.
    """
    (x,) = _promote_numeric("bitwise_count", x)
    if not _is_int(x.dtype):
        raise TypeError(f"{_name('bitwise_count')} requires an integer argument, got "
                        f"{x.aval.str_short()}")
    return _convert(lax.population_count(absolute(x)), dtypes.uint8)


def _gcd_steps(dtype: np.dtype) -> int:
    """Euclid's algorithm takes fewer steps than the index of the first Fibonacci
    number above the dtype's maximum (Lamé's theorem)."""
    limit, a, b, n = int(dtypes.iinfo(dtype).max), 1, 1, 1
    while b <= limit:
        a, b, n = b, a + b, n + 1
    return n


def gcd(x1: ArrayLike, x2: ArrayLike) -> Any:
    """Greatest common divisor of |x1| and |x2|, elementwise (jax.numpy.gcd).

    Args:
        x1: an integer array or scalar.
        x2: an integer array or scalar broadcast-compatible with x1.

    Returns:
        The non-negative gcds (gcd(0, 0) = 0), with the broadcast shape and promoted dtype.
    """
    x1, x2 = _promote("gcd", x1, x2)
    if not _is_int(x1.dtype):
        raise ValueError(f"{_name('gcd')} requires integer arguments, got "
                         f"{x1.aval.str_short()} and {x2.aval.str_short()}")
    shape = broadcast_shapes(_name("gcd"), x1.shape, x2.shape)
    a, b = _bcast(absolute(x1), shape), _bcast(absolute(x2), shape)
    zero, one = _const(a, 0), _const(a, 1)
    zeros, ones = _bcast(zero, shape), _bcast(one, shape)
    # NOTE: a fixed number of Euclid steps (no data-dependent loop), enough for any
    # value of the dtype; finished lanes keep (g, 0).
    for _ in range(_gcd_steps(a.dtype)):
        nonzero = lax.ne(b, zero)
        a, b = (lax.select(nonzero, b, a),
                lax.select(nonzero, lax.rem(a, lax.select(nonzero, b, ones)), zeros))
    return a


def lcm(x1: ArrayLike, x2: ArrayLike) -> Any:
    """Least common multiple of |x1| and |x2|, elementwise (jax.numpy.lcm).

    Args:
        x1: an integer array or scalar.
        x2: an integer array or scalar broadcast-compatible with x1.

    Returns:
        The non-negative lcms (0 if either is 0), with the broadcast shape and promoted dtype.
    """
    x1, x2 = _promote("lcm", x1, x2)
    if not _is_int(x1.dtype):
        raise ValueError(f"{_name('lcm')} requires integer arguments, got "
                         f"{x1.aval.str_short()} and {x2.aval.str_short()}")
    a, b = absolute(x1), absolute(x2)
    d = gcd(a, b)
    is_zero = lax.eq(d, _const(d, 0))
    return _where(is_zero, _const(d, 0),
                  multiply(a, floor_divide(b, _where(is_zero, _const(d, 1), d))))
