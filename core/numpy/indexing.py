"""NumPy indexing for lamina arrays: `x[idx]` (getitem) and `x.at[idx]` (IndexUpdateHelper).

The index-producing and set functions of jax.numpy live next door: take, nonzero, where,
select, choose, compress... in `selection`, searchsorted/digitize in `sorting`, unique
and the set operations in `setops`, ix_, ravel/unravel_index, the diagonal/triangle
index helpers and fill_diagonal in `index_tricks`. The index parsing and the gather plan
shared by `x[idx]` and `x.at[idx]` are in `_index_plan`.

Indexing follows jax.numpy, which follows NumPy except for out-of-bounds indices:

* Pure basic indexing (integers, slices, None, Ellipsis) is static: at most one
  `lax.slice`, one `lax.rev` and one `lax.reshape`, never a gather. Python integers
  out of bounds raise IndexError (NumPy's rule; jax clamps them).
* Basic indexing with 0-d integer arrays is one `lax.dynamic_slice` (clamped, as jax).
* Everything else is one `lax.gather`: integer arrays broadcast together; when the
  advanced indices are not adjacent their result dimensions go first (NumPy's rule);
  negative indices wrap; out-of-bounds array indices are clamped (`mode=None`), or
  filled (`x.at[idx].get(mode='fill', fill_value=...)`).
* Boolean masks must have concrete values: they become integer arrays via `nonzero`.
* `x.at[idx].set/add/...` is the transpose: one `lax.scatter*` whose out-of-bounds
  updates are dropped by default (jax's rule), or a `lax.dynamic_update_slice` for
  in-bounds static basic indices.
"""
from __future__ import annotations

import math
import warnings
from typing import Any, Callable

import numpy as np

from lamina import dtypes, lax
from lamina.errors import ConcretizationError
from lamina.ir import Tracer
from lamina.numpy._util import (
    asarray, broadcast_shapes, broadcast_to_shape, promote_dtypes, promote_dtypes_inexact,
)
from lamina.numpy._lax_helpers import (
    _aval, _concrete_int, _const, _convert, _full, _index_dtype,
)
from lamina.numpy._index_plan import (
    _ARRAY, _ELLIPSIS, _INT, _NONE, _SLICE, _Entry, _Plan, _advanced_contiguous,
    _canonical_mode, _check_static_int, _expand_bool_masks, _expand_ellipsis,
    _normalize_static, _parse, _plan, _shape_without, _stack_pieces, _static_slice_bounds,
)

__all__: list[str] = []  # x[idx] and x.at[idx] are installed as Array methods

Array = Any  # lamina.Array or a Tracer
ArrayLike = Any


# --------------------------------------------------------------------------------------
# x[idx]
# --------------------------------------------------------------------------------------


def getitem(x: Array, idx: Any, *, indices_are_sorted: bool = False,
            unique_indices: bool = False, mode: Any = None, fill_value: Any = None,
            normalize_indices: bool = True) -> Array:
    """`x[idx]` with NumPy's indexing rules (see the module docstring).

    Args:
        x: a lamina array.
        idx: an index: ints, slices, None, Ellipsis, integer or boolean arrays, or a
            tuple of those.
        indices_are_sorted: a promise passed to the gather.
        unique_indices: a promise passed to the gather.
        mode: None or 'promise_in_bounds' (out-of-bounds array indices are clamped;
            Python ints out of bounds raise IndexError), 'clip', or 'fill' (out-of-bounds
            positions read `fill_value`).
        fill_value: the value read at out-of-bounds positions with mode='fill'.
        normalize_indices: wrap negative indices (NumPy's rule).

    Returns:
        The indexed array.
    """
    x = asarray(x)
    mode = _canonical_mode(mode, "getitem")
    shape = x.shape
    entries = _parse(idx, shape)
    check_ints = mode in (None, "promise_in_bounds")
    if check_ints:
        for e in entries:
            if e.kind == _INT:
                (axis,) = e.axes
                if normalize_indices:
                    _check_static_int(e.value, axis, shape[axis])
                elif not 0 <= e.value < shape[axis]:
                    raise IndexError(f"index {e.value} is out of bounds for axis {axis} with "
                                     f"size {shape[axis]}")
    kinds = {e.kind for e in entries}
    if mode != "fill" and kinds <= {_INT, _SLICE, _NONE, _ELLIPSIS}:
        return _static_getitem(x, _expand_ellipsis(entries, x.ndim), normalize_indices)
    if (mode != "fill" and kinds <= {_INT, _SLICE, _NONE, _ELLIPSIS, _ARRAY}
            and all(np.ndim(e.value) == 0 for e in entries if e.kind == _ARRAY)
            and all(_static_slice_bounds(e.value, shape[e.axes[0]])[1] in (1, -1)
                    for e in entries if e.kind == _SLICE and e.axes)):
        return _dynamic_getitem(x, _expand_ellipsis(entries, x.ndim), normalize_indices)
    entries = _expand_bool_masks(entries, shape)
    contiguous = _advanced_contiguous(entries)
    plan = _plan(_expand_ellipsis(entries, x.ndim), shape, contiguous, normalize_indices)
    if fill_value is not None:
        if isinstance(fill_value, Tracer):
            raise ConcretizationError("getitem: fill_value must be a concrete scalar, got a "
                                      f"traced array {fill_value.aval.str_short()}")
        if np.ndim(fill_value) != 0:
            raise ValueError(f"fill_value for an indexed get() must be a scalar, got shape "
                             f"{np.shape(fill_value)}")
        fill_value = np.asarray(fill_value).item()
    if math.prod(plan.slice_shape) == 0:
        return _full(plan.slice_shape, 0, x.dtype, x.weak_type)
    y = x if plan.shape == shape else lax.reshape(x, plan.shape)
    if plan.pieces:
        indices = _stack_pieces(plan.pieces, plan.batch_shape, _index_dtype(plan.shape))
        dnums = lax.GatherDimensionNumbers(offset_dims=plan.offset_dims,
                                           collapsed_slice_dims=plan.collapsed_dims,
                                           start_index_map=plan.start_index_map)
        y = lax.gather(y, indices, dnums, plan.window,
                       unique_indices=unique_indices or not plan.advanced,
                       indices_are_sorted=indices_are_sorted or plan.sorted_indices,
                       mode=mode, fill_value=fill_value)
    return lax.reshape(y, plan.slice_shape)


def _static_getitem(x: Array, entries: list[_Entry], normalize: bool) -> Array:
    """Basic indexing with static ints and slices: slice, rev, reshape."""
    shape = x.shape
    starts, limits, strides, rev, out_shape = [], [], [], [], []
    for e in entries:
        if e.kind == _NONE:
            out_shape.append(1)
            continue
        (axis,) = e.axes
        size = shape[axis]
        if e.kind == _INT:
            if size == 0:
                raise IndexError(f"index is out of bounds for axis {axis} with size 0")
            i = _normalize_static(e.value, size) if normalize else e.value
            i = min(max(i, 0), size - 1)  # NOTE: mode='clip' (bounds were checked otherwise)
            starts.append(i)
            limits.append(i + 1)
            strides.append(1)
            continue
        start, step, count = _static_slice_bounds(e.value, size)
        out_shape.append(count)
        if count == 0:
            starts.append(0)
            limits.append(0)
            strides.append(1)
        elif step > 0:
            starts.append(start)
            limits.append(start + (count - 1) * step + 1)
            strides.append(step)
        else:
            last = start + (count - 1) * step  # the smallest index taken
            starts.append(last)
            limits.append(start + 1)
            strides.append(-step)
            rev.append(len(starts) - 1)
    y = x
    if tuple(starts) != (0,) * len(shape) or tuple(limits) != shape or any(s != 1 for s in strides):
        y = lax.slice(y, starts, limits, strides)
    if rev:
        y = lax.rev(y, tuple(rev))
    return lax.reshape(y, tuple(out_shape))


def _dynamic_getitem(x: Array, entries: list[_Entry], normalize: bool) -> Array:
    """Basic indexing with at least one 0-d integer array: one dynamic_slice."""
    shape = x.shape
    starts: list[Any] = []
    sizes, rev, out_shape = [], [], []
    for e in entries:
        if e.kind == _NONE:
            out_shape.append(1)
            continue
        (axis,) = e.axes
        size = shape[axis]
        if e.kind in (_INT, _ARRAY):
            if size == 0:
                raise IndexError(f"index is out of bounds for axis {axis} with size 0")
            if e.kind == _INT:
                i = _normalize_static(e.value, size) if normalize else e.value
                starts.append(min(max(i, 0), size - 1))
            else:
                starts.append(e.value)
            sizes.append(1)
            continue
        start, step, count = _static_slice_bounds(e.value, size)
        out_shape.append(count)
        if step < 0 and count:
            start = start + (count - 1) * step
            rev.append(len(starts))
        starts.append(min(start, size - count) if count else 0)
        sizes.append(count)
    y = lax.dynamic_slice(x, starts, sizes, allow_negative_indices=normalize)
    if rev:
        y = lax.rev(y, tuple(rev))
    return lax.reshape(y, tuple(out_shape))


# --------------------------------------------------------------------------------------
# x.at[idx].<update>
# --------------------------------------------------------------------------------------

_SCATTERS: dict[str, Callable[..., Array]] = {}
_ELEMENTWISE = {"set": lambda x, y: y, "add": lax.add, "sub": lax.sub, "mul": lax.mul,
                "min": lax.min, "max": lax.max}


def _scatter_fn(op: str) -> Callable[..., Array]:
    return {"set": lax.scatter, "add": lax.scatter_add, "sub": lax.scatter_sub,
            "mul": lax.scatter_mul, "min": lax.scatter_min, "max": lax.scatter_max}[op]


def _update_values(x: Array, y: Any) -> Any:
    # jax: a Python int that fits x's integer dtype takes that dtype.
    if (type(y) is int and dtypes.is_integer(x.dtype)
            and np.iinfo(x.dtype).min <= y <= np.iinfo(x.dtype).max):
        return asarray(np.asarray(y, x.dtype))
    if dtypes.is_python_scalar(y):
        return y
    # NOTE: as jax, lists and tuples of values are accepted here (unlike in lnp functions).
    return asarray(y)


def _scatter_update(x: Array, idx: Any, y: Any, op: str, *, indices_are_sorted: bool,
                    unique_indices: bool, mode: Any, normalize: bool) -> Array:
    """`x[idx] op= y`, functionally (jax's `_scatter_update`)."""
    x = asarray(x)
    y = _update_values(x, y)
    mode = _canonical_mode(mode, f"at[].{op}")
    shape, dtype, weak = x.shape, x.dtype, x.weak_type
    entries = _expand_bool_masks(_parse(idx, shape), shape)
    contiguous = _advanced_contiguous(entries)
    plan = _plan(_expand_ellipsis(entries, x.ndim), shape, contiguous, normalize)
    if math.prod(plan.slice_shape) == 0:
        return x
    y_dtype = dtypes.dtype_of(y)
    if y_dtype != dtype and dtypes.result_type(y, dtype) != dtype:
        # NOTE: as jax: still computed (in the promoted dtype, then cast back to x's).
        warnings.warn(f"x.at[idx].{op}: cannot safely cast update values of dtype "
                      f"{y_dtype.name} to {dtype.name}; this will become an error "
                      "(as in jax)", FutureWarning, stacklevel=4)
    xp, yp = promote_dtypes(x, y)
    yshape = _aval(yp).shape
    while len(yshape) > len(plan.slice_shape) and yshape[0] == 1:
        # NOTE: NumPy drops leading unit axes of the values (`x[0] = y[None]` works).
        yshape = yshape[1:]
        yp = lax.reshape(yp, yshape)
    try:
        target = broadcast_shapes("at[]", yshape, plan.slice_shape)
    except ValueError:
        target = None
    if target != plan.slice_shape:
        raise ValueError(f"x.at[idx].{op}: cannot broadcast update values of shape {yshape} "
                         f"to the indexed shape {plan.slice_shape} (x: {x.aval.str_short()})")
    yp = broadcast_to_shape(yp, plan.slice_shape)
    yp = lax.reshape(yp, _shape_without(plan.slice_shape, plan.newaxis_dims))
    if plan.shape != shape:
        xp = lax.reshape(xp, plan.shape)
    if not plan.pieces:
        out = _ELEMENTWISE[op](xp, lax.reshape(yp, plan.shape))
    elif op == "set" and _is_static_window(plan):
        starts = [0] * len(plan.shape)
        for (p, _), axis in zip(plan.pieces, plan.start_index_map):
            starts[axis] = int(p)
        out = lax.dynamic_update_slice(xp, lax.reshape(yp, plan.window), starts)
    else:
        indices = _stack_pieces(plan.pieces, plan.batch_shape, _index_dtype(plan.shape))
        dnums = lax.ScatterDimensionNumbers(update_window_dims=plan.offset_dims,
                                            inserted_window_dims=plan.collapsed_dims,
                                            scatter_dims_to_operand_dims=plan.start_index_map)
        out = _scatter_fn(op)(xp, indices, yp, dnums,
                              indices_are_sorted=indices_are_sorted or plan.sorted_indices,
                              unique_indices=unique_indices or not plan.advanced, mode=mode)
    if plan.shape != shape:
        out = lax.reshape(out, shape)
    return _convert(out, dtype, weak)


def _is_static_window(plan: _Plan) -> bool:
    """Only in-bounds static starts and windows: a dynamic_update_slice suffices."""
    if plan.batch_shape or plan.advanced:
        return False
    for (p, _), axis in zip(plan.pieces, plan.start_index_map):
        if not isinstance(p, np.ndarray) or p.ndim or not 0 <= int(p) <= plan.shape[axis] \
                - plan.window[axis]:
            return False
    return True


class IndexUpdateHelper:
    """`x.at`: the functional form of in-place updates (jax's `_IndexUpdateHelper`).

    ==============================  ================================
    `x = x.at[idx].set(y)`          `x[idx] = y`
    `x = x.at[idx].add(y)`          `x[idx] += y`
    `x = x.at[idx].subtract(y)`     `x[idx] -= y`
    `x = x.at[idx].multiply(y)`     `x[idx] *= y`
    `x = x.at[idx].divide(y)`       `x[idx] /= y`
    `x = x.at[idx].power(y)`        `x[idx] **= y`
    `x = x.at[idx].min(y)`          `x[idx] = minimum(x[idx], y)`
    `x = x.at[idx].max(y)`          `x[idx] = maximum(x[idx], y)`
    `x = x.at[idx].apply(ufunc)`    `ufunc.at(x, idx)`
    `x = x.at[idx].get()`           `x = x[idx]`
    ==============================  ================================

    Repeated indices accumulate for add/multiply/min/max (unlike NumPy's `x[idx] += y`);
    for set one of the values wins. Out-of-bounds indices are dropped by updates and
    clamped by `get` unless `mode=` says otherwise ('clip', 'drop'/'fill',
    'promise_in_bounds').
    """

    __slots__ = ("array",)

    def __init__(self, array: Array) -> None:
        self.array = array

    def __getitem__(self, index: Any) -> "_IndexUpdateRef":
        return _IndexUpdateRef(self.array, index)

    def __repr__(self) -> str:
        return f"IndexUpdateHelper({self.array!r})"


class _IndexUpdateRef:
    """`x.at[idx]`: methods return updated copies of `x`."""

    __slots__ = ("array", "index")

    def __init__(self, array: Array, index: Any) -> None:
        self.array = array
        self.index = index

    def __repr__(self) -> str:
        return f"_IndexUpdateRef({self.array!r}, {self.index!r})"

    def get(self, *, indices_are_sorted: bool = False, unique_indices: bool = False,
            mode: Any = None, fill_value: Any = None,
            wrap_negative_indices: bool = True) -> Array:
        """`x[idx]`, with control over out-of-bounds indices (`mode`, `fill_value`)."""
        return getitem(self.array, self.index, indices_are_sorted=indices_are_sorted,
                       unique_indices=unique_indices, mode=mode, fill_value=fill_value,
                       normalize_indices=wrap_negative_indices)

    def _update(self, op: str, values: Any, indices_are_sorted: bool, unique_indices: bool,
                mode: Any, wrap_negative_indices: bool, array: Array | None = None) -> Array:
        return _scatter_update(self.array if array is None else array, self.index, values, op,
                               indices_are_sorted=indices_are_sorted,
                               unique_indices=unique_indices, mode=mode,
                               normalize=wrap_negative_indices)

    def set(self, values: ArrayLike, *, indices_are_sorted: bool = False,
            unique_indices: bool = False, mode: Any = None,
            wrap_negative_indices: bool = True) -> Array:
        """`x[idx] = values` (values broadcast to `x[idx]`'s shape, cast to x's dtype)."""
        return self._update("set", values, indices_are_sorted, unique_indices, mode,
                            wrap_negative_indices)

    def add(self, values: ArrayLike, *, indices_are_sorted: bool = False,
            unique_indices: bool = False, mode: Any = None,
            wrap_negative_indices: bool = True) -> Array:
        """`x[idx] += values`; repeated indices accumulate."""
        return self._update("add", values, indices_are_sorted, unique_indices, mode,
                            wrap_negative_indices)

    def subtract(self, values: ArrayLike, *, indices_are_sorted: bool = False,
                 unique_indices: bool = False, mode: Any = None,
                 wrap_negative_indices: bool = True) -> Array:
        """`x[idx] -= values`; repeated indices accumulate."""
        return self._update("sub", values, indices_are_sorted, unique_indices, mode,
                            wrap_negative_indices)

    def multiply(self, values: ArrayLike, *, indices_are_sorted: bool = False,
                 unique_indices: bool = False, mode: Any = None,
                 wrap_negative_indices: bool = True) -> Array:
        """`x[idx] *= values`; repeated indices accumulate."""
        return self._update("mul", values, indices_are_sorted, unique_indices, mode,
                            wrap_negative_indices)

    mul = multiply

    def divide(self, values: ArrayLike, *, indices_are_sorted: bool = False,
               unique_indices: bool = False, mode: Any = None,
               wrap_negative_indices: bool = True) -> Array:
        """`x[idx] /= values` (true division, so integer x gives a float result, as jax)."""
        ones = _full(self.array.shape, 1, self.array.dtype, self.array.weak_type)
        divisor = self._update("mul", values, indices_are_sorted, unique_indices, mode,
                               wrap_negative_indices, array=ones)
        num, den = promote_dtypes_inexact(self.array, divisor)
        return lax.div(num, den)

    def power(self, values: ArrayLike, *, indices_are_sorted: bool = False,
              unique_indices: bool = False, mode: Any = None,
              wrap_negative_indices: bool = True) -> Array:
        """`x[idx] **= values` (lamina.numpy.power semantics)."""
        import lamina.numpy as lnp
        ones = _full(self.array.shape, 1, self.array.dtype, self.array.weak_type)
        exponent = self._update("mul", values, indices_are_sorted, unique_indices, mode,
                                wrap_negative_indices, array=ones)
        return lnp.power(self.array, exponent)

    def min(self, values: ArrayLike, *, indices_are_sorted: bool = False,
            unique_indices: bool = False, mode: Any = None,
            wrap_negative_indices: bool = True) -> Array:
        """`x[idx] = minimum(x[idx], values)`; repeated indices accumulate."""
        return self._update("min", values, indices_are_sorted, unique_indices, mode,
                            wrap_negative_indices)

    def max(self, values: ArrayLike, *, indices_are_sorted: bool = False,
            unique_indices: bool = False, mode: Any = None,
            wrap_negative_indices: bool = True) -> Array:
        """`x[idx] = maximum(x[idx], values)`; repeated indices accumulate."""
        return self._update("max", values, indices_are_sorted, unique_indices, mode,
                            wrap_negative_indices)

    def apply(self, func: Callable[[Array], Array], *, indices_are_sorted: bool = False,
              unique_indices: bool = False, mode: Any = None,
              wrap_negative_indices: bool = True) -> Array:
        """`func.at(x, idx)` for an elementwise `func`: applied once per occurrence of an
        index (twice where an index repeats twice)."""
        x = asarray(self.array)
        counts = self._update("add", 1, indices_are_sorted, unique_indices, mode,
                              wrap_negative_indices, array=_full(x.shape, 0, np.int32))
        times = 1 if unique_indices else _concrete_int(
            lax.reduce_max(counts, tuple(range(x.ndim))) if x.size else _const(0, np.int32),
            "at[].apply", "the number of repeats of an index (pass unique_indices=True)")
        out = x
        for k in range(times):
            applied = _convert(asarray(func(out)), x.dtype, x.weak_type)
            out = lax.select(lax.gt(counts, _const(k, np.int32)), applied, out)
        return out
