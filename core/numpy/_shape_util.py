"""Private helpers of lamina.numpy's shape modules (shape_ops, joining, padding) and of
the creation modules (creation, ranges, triangles): argument checks that name the
function (static ints, axes, shapes, user dtypes, device=), static slicing along one
axis, and the static gather/concatenate building blocks.

Kept in their own module so that the shape-op families can share them without importing
each other.
"""
from __future__ import annotations

import operator
from typing import Any, Sequence

import numpy as np

from lamina import dtypes, lax
from lamina.backend.array import Array as _DeviceArray
from lamina.errors import ConcretizationError
from lamina.ir import Tracer
from lamina.numpy._util import asarray, check_arraylike, is_lamina_array


Array = Any
ArrayLike = Any


# --------------------------------------------------------------------------------------
# Private helpers (shared by shape_ops, joining, padding and creation)
# --------------------------------------------------------------------------------------


def _name(fn: str) -> str:
    return f"lamina.numpy.{fn}"


def _arr(fn: str, x: ArrayLike) -> Array:
    """`x` checked (no lists) and converted to a lamina value."""
    check_arraylike(_name(fn), x)
    return asarray(x)


def _static_int(fn: str, what: str, x: Any) -> int:
    """A concrete Python int (a tracer raises ConcretizationError naming `what`)."""
    if isinstance(x, Tracer):
        raise x._concrete_value_error(f"{_name(fn)} argument `{what}`")
    try:
        return operator.index(x)
    except TypeError:
        raise TypeError(f"{_name(fn)}: `{what}` must be an integer, got "
                        f"{type(x).__name__}: {x!r}") from None


def _axis(fn: str, axis: Any, ndim: int) -> int:
    """A non-negative axis, or an error naming the function, the axis and the rank."""
    axis = _static_int(fn, "axis", axis)
    if not -ndim <= axis < ndim:
        raise ValueError(f"{_name(fn)}: axis {axis} is out of bounds for an array of "
                         f"dimension {ndim}")
    return axis % ndim


def _axes(fn: str, axes: Any, ndim: int, what: str = "axis") -> tuple[int, ...]:
    """A tuple of non-negative axes (an int is one axis); repeats are an error."""
    if isinstance(axes, (int, np.integer)) or is_lamina_array(axes):
        axes = (axes,)
    try:
        out = tuple(_axis(fn, a, ndim) for a in axes)
    except TypeError as e:
        if isinstance(e, ConcretizationError):
            raise
        raise TypeError(f"{_name(fn)}: `{what}` must be an integer or a sequence of "
                        f"integers, got {axes!r}") from None
    if len(set(out)) != len(out):
        raise ValueError(f"{_name(fn)}: repeated axis in `{what}` {tuple(axes)}")
    return out


def _host(x: Any) -> Any:
    """A concrete lamina Array as a numpy array (for static arguments); a tracer raises
    ConcretizationError; anything else is returned unchanged."""
    if isinstance(x, Tracer):
        raise x._concrete_value_error("A static (shape, axis or index) argument")
    return np.asarray(x) if isinstance(x, _DeviceArray) else x


def _shape_tuple(fn: str, shape: Any, what: str = "shape") -> tuple[int, ...]:
    """A tuple of concrete ints (entries may be negative: callers check)."""
    if isinstance(shape, Tracer):
        raise shape._concrete_value_error(f"{_name(fn)} argument `{what}`")
    shape = _host(shape)
    if isinstance(shape, (int, np.integer)) or (isinstance(shape, np.ndarray) and shape.ndim == 0):
        shape = (shape,)
    try:
        items = list(shape)
    except TypeError:
        raise TypeError(f"{_name(fn)}: `{what}` must be an integer or a sequence of "
                        f"integers, got {type(shape).__name__}: {shape!r}") from None
    return tuple(_static_int(fn, what, d) for d in items)


def _moveaxis_perm(ndim: int, source: Sequence[int], dest: Sequence[int]) -> tuple[int, ...]:
    perm = [i for i in range(ndim) if i not in source]
    for d, s in sorted(zip(dest, source)):
        perm.insert(d, s)
    return tuple(perm)


def _slice_axis(x: Array, start: int, stop: int, axis: int, step: int = 1) -> Array:
    """`x[..., start:stop:step, ...]` along `axis` with in-range static bounds; no op
    when it selects everything."""
    n = x.shape[axis]
    if start == 0 and stop == n and step == 1:
        return x
    starts = [0] * x.ndim
    limits = list(x.shape)
    strides = [1] * x.ndim
    starts[axis], limits[axis], strides[axis] = start, stop, step
    return lax.slice(x, starts, limits, strides)


def _concat(parts: Sequence[Array], axis: int) -> Array:
    parts = [p for p in parts if p.shape[axis] != 0] or list(parts[:1])
    return parts[0] if len(parts) == 1 else lax.concatenate(parts, axis)


def _repeat_unit(x: Array, n: int, axis: int) -> Array:
    """Broadcast a size-1 `axis` of `x` to size `n`."""
    shape = list(x.shape)
    shape[axis] = n
    return lax.broadcast_in_dim(x, tuple(shape), tuple(range(x.ndim)))


# NOTE: more runs than this are cheaper as one gather than as slices plus a concatenate
# (each slice is a dispatch when running eagerly).
_MAX_RUNS = 8


def _gather_static(sources: Sequence[Array], index: np.ndarray, axis: int) -> Array:
    """Select positions `index` (static, into the concatenation of `sources` along
    `axis`). Runs of consecutive positions become slices; many runs become one gather."""
    sizes = [s.shape[axis] for s in sources]
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    index = np.asarray(index, np.int64).reshape(-1)
    if index.size == 0:
        return _slice_axis(sources[0], 0, 0, axis)
    src = np.searchsorted(offsets, index, side="right") - 1
    breaks = np.flatnonzero((np.diff(index) != 1) | (np.diff(src) != 0)) + 1
    starts = np.concatenate([[0], breaks])
    stops = np.concatenate([breaks, [index.size]])
    if len(starts) <= _MAX_RUNS:
        parts = []
        for b, e in zip(starts, stops):
            s = int(src[b])
            lo = int(index[b] - offsets[s])
            parts.append(_slice_axis(sources[s], lo, lo + int(e - b), axis))
        return _concat(parts, axis)
    x = _concat(list(sources), axis)
    return _take(x, index, axis, sorted_=bool(np.all(np.diff(index) >= 0)))


def _take(x: Array, index: Any, axis: int, sorted_: bool) -> Array:
    """`x` indexed along `axis` by in-range indices (a static numpy vector or a traced
    int32 vector), as one `lax.gather`."""
    ndim = x.ndim
    if isinstance(index, np.ndarray):
        idx: Any = index.astype(np.int32).reshape(-1, 1)
    else:
        idx = lax.reshape(index, (index.shape[0], 1))
    dnums = lax.GatherDimensionNumbers(
        offset_dims=tuple(d for d in range(ndim) if d != axis),
        collapsed_slice_dims=(axis,), start_index_map=(axis,))
    slice_sizes = tuple(1 if d == axis else s for d, s in enumerate(x.shape))
    return lax.gather(x, idx, dnums, slice_sizes, indices_are_sorted=sorted_,
                      mode=lax.GatherScatterMode.PROMISE_IN_BOUNDS)


def _copy(x: Array) -> Array:
    """A new buffer with `x`'s value (jax's `_array_copy`): later `x.delete()` or
    donation leaves the copy intact. Tracers are values, not buffers: returned as is."""
    if isinstance(x, Tracer):
        return x
    from lamina.lax.elementwise import convert_element_type_p
    # NOTE: the primitive, not the wrapper (which returns an unchanged Array as is):
    # its executable writes a fresh output buffer.
    return convert_element_type_p.bind(x, new_dtype=x.dtype, weak_type=x.weak_type)


def _user_dtype(fn: str, dtype: Any) -> np.dtype | None:
    return None if dtype is None else dtypes.check_user_dtype_supported(dtype, _name(fn))


def _default_dtype(fn: str, dtype: Any) -> np.dtype:
    return dtypes.default_float_dtype() if dtype is None else _user_dtype(fn, dtype)


def _on_device(fn: str, result: Any, device: Any) -> Any:
    """`result` where jax's `device=` argument asks: on that device, or laid out by that
    sharding (`lamina.device_put`, also under transformations); None leaves it where it
    was made."""
    if device is None:
        return result
    from lamina.backend.client import Device
    from lamina.sharding import Sharding
    if not isinstance(device, (Device, Sharding)):
        raise TypeError(f"{_name(fn)}: device must be a lamina device (from lamina.devices()) "
                        f"or a sharding, got {type(device).__name__}: {device!r}")
    from lamina._device_api import device_put
    return device_put(result, device)


def _index_dtype() -> np.dtype:
    return dtypes.default_int_dtype()
