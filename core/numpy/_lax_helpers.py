"""Small lax compositions shared by lamina.numpy's indexing, selection, sorting, setops,
index_tricks and tensor modules (private): device constants, casts, ravel/moveaxis/slice
along one axis, NaN-aware total-order comparisons and sort keys, and the checks that a
value-dependent result size is concrete.

Kept apart from `_util` (conversion, promotion and broadcasting, which every module
needs) because these are lax-level building blocks for the index/sort families only.
"""
from __future__ import annotations

import operator
from typing import Any, Sequence

import numpy as np

from lamina import dtypes, lax
from lamina.backend.array import scalar_to_device
from lamina.errors import ConcretizationError
from lamina.ir import Tracer, shaped_abstractify
from lamina.numpy._util import broadcast_shapes, broadcast_to_shape, is_lamina_array


Array = Any  # lamina.Array or a Tracer
ArrayLike = Any


# --------------------------------------------------------------------------------------
# Small lax compositions shared by indexing, sorting and tensor (private)
# --------------------------------------------------------------------------------------


def _aval(x: Any) -> Any:
    return shaped_abstractify(x)


def _int_dtype() -> np.dtype:
    """The dtype of index results (argsort, nonzero, ...): jax's default int."""
    return dtypes.default_int_dtype()


def _index_dtype(shape: Sequence[int]) -> np.dtype:
    """The dtype of gather/scatter indices into an array of `shape` (jax's rule:
    int32 unless a dimension needs more)."""
    if any(d > np.iinfo(np.int32).max for d in shape) and dtypes.x64_enabled():
        return np.dtype(np.int64)
    return np.dtype(np.int32)


def _const(value: Any, dtype: Any, weak: bool = False) -> Array:
    """A cached 0-d device constant (eager code reuses it instead of transferring)."""
    return scalar_to_device(value, np.dtype(dtype), weak)


def _full(shape: Sequence[int], value: Any, dtype: Any, weak: bool = False) -> Array:
    shape = tuple(shape)
    scalar = _const(value, dtype, weak)
    return scalar if shape == () else lax.broadcast_in_dim(scalar, shape, ())


def _convert(x: Array, dtype: Any, weak: bool = False) -> Array:
    aval = _aval(x)
    if aval.dtype == dtype and aval.weak_type == weak and is_lamina_array(x):
        return x
    return lax.convert_element_type(x, dtype, weak_type=weak)


def _ravel(x: Array) -> Array:
    aval = _aval(x)
    return x if aval.ndim == 1 else lax.reshape(x, (aval.size,))


def _moveaxis(x: Array, source: int, destination: int) -> Array:
    ndim = _aval(x).ndim
    if source == destination:
        return x
    perm = [i for i in range(ndim) if i != source]
    perm.insert(destination, source)
    return lax.transpose(x, tuple(perm))


def _slice_axis(x: Array, start: int, stop: int, axis: int = 0) -> Array:
    """`x[start:stop]` along `axis`, static and in-bounds."""
    shape = _aval(x).shape
    if start == 0 and stop == shape[axis]:
        return x
    starts = [0] * len(shape)
    limits = list(shape)
    starts[axis], limits[axis] = start, stop
    return lax.slice(x, starts, limits)


def _concat1d(parts: Sequence[Array]) -> Array:
    parts = [p for p in parts if _aval(p).shape != (0,)] or list(parts[:1])
    return parts[0] if len(parts) == 1 else lax.concatenate(parts, 0)


def _to_bool(x: Array) -> Array:
    """`x != 0` unless `x` is already bool (jax's condition rule)."""
    dtype = _aval(x).dtype
    return x if dtypes.is_bool(dtype) else lax.ne(x, _const(0, dtype))


def _count_true(mask: Array) -> Array:
    """The number of True entries of a bool array, as an int32 device scalar."""
    return lax.reduce_sum(_convert(mask, np.int32), tuple(range(_aval(mask).ndim)))


def _concrete_int(x: Array, fun_name: str, what: str) -> int:
    """Read a device scalar that determines a result shape; a ConcretizationError
    naming `size=` if it is being traced."""
    if isinstance(x, Tracer):
        raise ConcretizationError(
            f"lamina.numpy.{fun_name}: the shape of the result depends on the values of "
            f"{what}, which is traced ({x.aval.str_short()}). Pass the static `size=` "
            "argument (and `fill_value=` for the padding) to use it inside a transformation.")
    return int(x)


def _check_concrete(x: Any, fun_name: str, what: str) -> None:
    if isinstance(x, Tracer):
        raise ConcretizationError(
            f"lamina.numpy.{fun_name}: {what} must have concrete values, but got a traced "
            f"array {x.aval.str_short()}. Pass the static `size=` argument (and "
            "`fill_value=`) to use it inside a transformation.")


def _static_size(size: Any, fun_name: str) -> int:
    if isinstance(size, Tracer):
        raise ConcretizationError(
            f"lamina.numpy.{fun_name}: size must be a static Python integer, got a traced "
            f"array {size.aval.str_short()}")
    size = operator.index(size)
    if size < 0:
        raise ValueError(f"lamina.numpy.{fun_name}: size must be non-negative, got {size}")
    return size


def _isnan(x: Array) -> Array:
    return lax.ne(x, x)


def _lt_total(x: Array, y: Array) -> Array:
    """`x < y` in sort order: NaNs after every number (numpy's and lax.sort's order);
    complex numbers by real part, then imaginary part."""
    dtype = _aval(x).dtype
    if dtypes.is_complex(dtype):
        xr, xi, yr, yi = lax.real(x), lax.imag(x), lax.real(y), lax.imag(y)
        real_eq = lax.bitwise_or(lax.eq(xr, yr), lax.bitwise_and(_isnan(xr), _isnan(yr)))
        return lax.bitwise_or(_lt_total(xr, yr), lax.bitwise_and(real_eq, _lt_total(xi, yi)))
    if not dtypes.is_floating(dtype):
        return lax.lt(x, y)
    return lax.bitwise_or(lax.lt(x, y), lax.bitwise_and(_isnan(y), lax.bitwise_not(_isnan(x))))


def _le_total(x: Array, y: Array) -> Array:
    dtype = _aval(x).dtype
    if not dtypes.is_inexact(dtype):
        return lax.le(x, y)
    return lax.bitwise_not(_lt_total(y, x))


_KEY_DTYPES = {2: np.dtype(np.int16), 4: np.dtype(np.int32), 8: np.dtype(np.int64)}


def _order_key(x: Array) -> Array:
    """Integers that compare like real floats in sort order (lax.sort's: NaNs last and
    equal to each other, -0.0 equal to 0.0); other non-complex dtypes unchanged.

    NOTE: computed once per operand, so that a search compares keys with one `lt`
    instead of a NaN-aware expression at every step.
    """
    dtype = _aval(x).dtype
    if not dtypes.is_floating(dtype):
        return x
    x = lax.select(_isnan(x), _full(x.shape, np.nan, dtype), x)
    x = lax.select(lax.eq(x, _const(0, dtype)), _full(x.shape, 0, dtype), x)
    key_dtype = _KEY_DTYPES[dtype.itemsize]
    bits = lax.bitcast_convert_type(x, key_dtype)
    # Negative floats order backwards as signed integers: flip their non-sign bits.
    sign = lax.shift_right_arithmetic(bits, _const(8 * dtype.itemsize - 1, key_dtype))
    return lax.bitwise_xor(bits, lax.shift_right_logical(sign, _const(1, key_dtype)))


def _ne_equal_nan(x: Array, y: Array, equal_nan: bool) -> Array:
    """`x != y`, where NaNs compare equal to each other if `equal_nan`."""
    ne = lax.ne(x, y)
    if not equal_nan or not dtypes.is_inexact(_aval(x).dtype):
        return ne
    return lax.bitwise_and(ne, lax.bitwise_not(lax.bitwise_and(_isnan(x), _isnan(y))))


def _where(condition: Array, x: Array, y: Array) -> Array:
    """select with NumPy broadcasting; x and y must already share a dtype."""
    shape = broadcast_shapes("where", _aval(condition).shape, _aval(x).shape, _aval(y).shape)
    x, y = broadcast_to_shape(x, shape), broadcast_to_shape(y, shape)
    if _aval(condition).shape not in ((), shape):
        condition = broadcast_to_shape(condition, shape)
    return lax.select(condition, x, y)
