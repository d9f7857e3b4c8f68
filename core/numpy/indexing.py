"""NumPy indexing for lamina arrays (`x[idx]`, `x.at[idx]`) and the index-producing and
set functions of jax.numpy: take, take_along_axis, put_along_axis, where, nonzero,
select, choose, compress, searchsorted, unique and the set operations, ix_,
ravel/unravel_index, the diagonal/triangle index helpers and fill_diagonal.

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

Functions whose output size depends on values (`nonzero`, `unique`, `compress`, the set
operations...) read a count back from the device when their input is concrete; under a
transformation they need the static `size=` argument (jax's contract).
"""
from __future__ import annotations

import math
import operator
import warnings
from typing import Any, Callable, NamedTuple, Sequence

import numpy as np

from lamina import dtypes, lax
from lamina.backend.array import scalar_to_device
from lamina.errors import ConcretizationError
from lamina.ir import Tracer, shaped_abstractify
from lamina.lax._util import canonicalize_axis, operator_index
from lamina.numpy._util import (
    asarray,
    broadcast_shapes,
    broadcast_to_shape,
    check_arraylike,
    is_lamina_array,
    promote_dtypes,
    promote_dtypes_inexact,
)

__all__ = [
    "argwhere",
    "choose",
    "compress",
    "diag_indices_from",
    "digitize",
    "extract",
    "fill_diagonal",
    "flatnonzero",
    "intersect1d",
    "isin",
    "ix_",
    "nonzero",
    "put_along_axis",
    "ravel_multi_index",
    "searchsorted",
    "select",
    "setdiff1d",
    "setxor1d",
    "take",
    "take_along_axis",
    "tril_indices_from",
    "triu_indices_from",
    "union1d",
    "unique",
    "unique_all",
    "unique_counts",
    "unique_inverse",
    "unique_values",
    "unravel_index",
    "where",
]

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


# --------------------------------------------------------------------------------------
# Index parsing
# --------------------------------------------------------------------------------------

_NONE, _ELLIPSIS, _SLICE, _INT, _ARRAY, _BOOL = "none", "ellipsis", "slice", "int", "array", "bool"


class _Entry(NamedTuple):
    """One element of an index tuple: its kind, its value and the axes of x it indexes
    (`nonneg`: an index array known to hold no negative values)."""

    kind: str
    value: Any
    axes: tuple[int, ...]
    nonneg: bool = False


def _classify(idx: Any) -> tuple[str, Any]:
    if idx is None:
        return _NONE, None
    if idx is Ellipsis:
        return _ELLIPSIS, None
    if isinstance(idx, slice):
        return _SLICE, idx
    if isinstance(idx, (bool, np.bool_)):
        return _BOOL, bool(idx)
    if isinstance(idx, (int, np.integer)):
        return _INT, int(idx)
    if is_lamina_array(idx) or isinstance(idx, np.ndarray):
        dtype = idx.dtype
        if dtypes.is_bool(dtype):
            return _BOOL, idx
        if dtypes.is_integer(dtype):
            if isinstance(idx, np.ndarray) and idx.ndim == 0:
                return _INT, int(idx)
            return _ARRAY, idx
        raise TypeError(f"Indexer must have integer or boolean type, got indexer with type "
                        f"{np.dtype(dtype).name}")
    if isinstance(idx, str):
        raise TypeError(f"lamina arrays do not support string indexing; got {idx!r}")
    if isinstance(idx, (list, tuple)):
        value = asarray(idx) if any(isinstance(e, Tracer) or is_lamina_array(e) for e in idx) \
            else np.asarray(idx)
        if isinstance(value, np.ndarray) and value.size == 0:
            value = value.astype(np.int32)
        if dtypes.is_bool(value.dtype):
            return _BOOL, value
        if dtypes.is_integer(value.dtype):
            return _ARRAY, value
        raise TypeError(f"Indexer must have integer or boolean type, got indexer with type "
                        f"{np.dtype(value.dtype).name}")
    if isinstance(idx, (float, complex, np.generic)):
        raise TypeError(f"Indexer must have integer or boolean type, got indexer with type "
                        f"{np.dtype(type(idx)).name}")
    raise IndexError("only integers, slices (`:`), ellipsis (`...`), newaxis (`None`) and "
                     f"integer or boolean arrays are valid indices; got {idx!r}")


def _as_tuple(idx: Any) -> tuple[Any, ...]:
    if isinstance(idx, tuple):
        return idx
    if isinstance(idx, list):
        # NOTE: as jax (and unlike old NumPy), a list is never a multi-dimensional index.
        raise TypeError("Using a non-tuple sequence for multidimensional indexing is not "
                        "allowed; use `arr[tuple(seq)]` instead of `arr[seq]`, or "
                        "`arr[lnp.asarray(seq)]` to index with an integer array")
    return (idx,)


def _parse(idx: Any, shape: tuple[int, ...]) -> list[_Entry]:
    """The index tuple as entries with the axes each consumes; the ellipsis entry
    consumes what is left over."""
    classified = [_classify(i) for i in _as_tuple(idx)]
    consumed = []
    for kind, value in classified:
        if kind == _BOOL:
            consumed.append(np.ndim(value) if not is_lamina_array(value) else value.ndim)
        elif kind in (_NONE, _ELLIPSIS):
            consumed.append(0)
        else:
            consumed.append(1)
    n_ellipsis = sum(kind == _ELLIPSIS for kind, _ in classified)
    if n_ellipsis > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    total = sum(consumed)
    if total > len(shape):
        raise IndexError(f"Too many indices for array: array is {len(shape)}-dimensional, "
                         f"but {total} were indexed")
    entries, axis = [], 0
    for (kind, value), n in zip(classified, consumed):
        if kind == _ELLIPSIS:
            n = len(shape) - total
        entries.append(_Entry(kind, value, tuple(range(axis, axis + n))))
        axis += n
    return entries


def _expand_bool_masks(entries: list[_Entry], shape: tuple[int, ...]) -> list[_Entry]:
    """Boolean masks of rank >= 1 become one integer array per masked axis (NumPy's
    rule); their values must be concrete."""
    out = []
    for e in entries:
        if e.kind != _BOOL or np.ndim(e.value) == 0:
            out.append(e)
            continue
        mask = e.value
        mshape = tuple(mask.shape)
        expected = tuple(shape[a] for a in e.axes)
        if mshape != expected:
            raise IndexError(f"boolean index did not match the indexed array: index shape "
                             f"{mshape}, indexed dimensions {expected}")
        if isinstance(mask, Tracer):
            raise ConcretizationError(
                f"Array boolean indices must be concrete; got a traced mask "
                f"{mask.aval.str_short()}. Use lamina.numpy.where(mask, x, other) to select "
                "elementwise, or lamina.numpy.nonzero(mask, size=...) for a static-size "
                "integer index.")
        parts = np.nonzero(mask) if isinstance(mask, np.ndarray) else nonzero(mask)
        out.extend(_Entry(_ARRAY, p, (a,), nonneg=True) for p, a in zip(parts, e.axes))
    return out


def _expand_ellipsis(entries: list[_Entry], ndim: int) -> list[_Entry]:
    """Replace the ellipsis, and the implicit trailing axes, by full slices."""
    out, consumed = [], 0
    for e in entries:
        consumed += len(e.axes)
        if e.kind == _ELLIPSIS:
            out.extend(_Entry(_SLICE, slice(None), (a,)) for a in e.axes)
        else:
            out.append(e)
    out.extend(_Entry(_SLICE, slice(None), (a,)) for a in range(consumed, ndim))
    return out


def _static_slice_bounds(slc: slice, size: int) -> tuple[int, int, int]:
    """`(start, step, count)` of a slice with static bounds on an axis of `size`."""
    parts = []
    for v in (slc.start, slc.stop, slc.step):
        if isinstance(v, Tracer):
            raise ConcretizationError(
                f"Slice entries must be static integers, got a traced array "
                f"{v.aval.str_short()} in {slc}. Use lax.dynamic_slice for a slice at a "
                "traced position.")
        parts.append(None if v is None else operator.index(v))
    start, stop, step = slice(*parts).indices(size)
    return start, step, len(range(start, stop, step))


def _check_static_int(i: int, axis: int, size: int) -> None:
    if not -size <= i < size:
        raise IndexError(f"index {i} is out of bounds for axis {axis} with size {size}")


def _normalize_static(i: int, size: int) -> int:
    return i + size if i < 0 else i


def _canonical_mode(mode: Any, fun_name: str) -> str | None:
    """None, 'promise_in_bounds', 'clip' or 'fill' ('drop' is 'fill')."""
    if mode is None:
        return None
    if isinstance(mode, lax.GatherScatterMode):
        return {lax.GatherScatterMode.CLIP: "clip", lax.GatherScatterMode.FILL_OR_DROP: "fill",
                lax.GatherScatterMode.PROMISE_IN_BOUNDS: "promise_in_bounds"}[mode]
    if mode in ("clip", "promise_in_bounds"):
        return mode
    if mode in ("fill", "drop"):
        return "fill"
    raise ValueError(f"{fun_name}: invalid mode {mode!r}; expected None, 'promise_in_bounds', "
                     "'clip', 'drop' or 'fill'")


# --------------------------------------------------------------------------------------
# The gather plan (shared by x[idx] and x.at[idx].<update>)
# --------------------------------------------------------------------------------------


class _Plan(NamedTuple):
    """How `x[idx]` maps onto one gather, and `x.at[idx]` onto one scatter.

    `pieces` are the index arrays, each placed at `start` in the gather batch shape
    `batch_shape`; `slice_shape` is the result shape (None axes included) and
    `newaxis_dims` its None axes; `shape` is x's shape with an inserted unit axis per
    scalar boolean index.
    """

    shape: tuple[int, ...]
    pieces: list[tuple[Any, int]]
    batch_shape: tuple[int, ...]
    offset_dims: tuple[int, ...]
    collapsed_dims: tuple[int, ...]
    start_index_map: tuple[int, ...]
    window: tuple[int, ...]
    slice_shape: tuple[int, ...]
    newaxis_dims: tuple[int, ...]
    advanced: bool
    sorted_indices: bool


def _advanced_contiguous(entries: list[_Entry]) -> bool:
    """NumPy: advanced indices next to each other keep their place in the result."""
    positions = [i for i, e in enumerate(entries) if e.kind in (_INT, _ARRAY)]
    return all(b - a == 1 for a, b in zip(positions, positions[1:]))


def _expand_scalar_bools(entries: list[_Entry], shape: tuple[int, ...]
                         ) -> tuple[list[_Entry], tuple[int, ...]]:
    """A scalar boolean index adds a unit axis to x, indexed by `arange(1)` (True) or
    `arange(0)` (False): NumPy's treatment of a 0-d mask."""
    new_shape, out, axis = list(shape), [], 0
    for e in entries:
        if e.kind == _BOOL:
            new_shape.insert(axis, 1)
            out.append(_Entry(_ARRAY, np.arange(int(bool(e.value)), dtype=np.int32), (axis,)))
            axis += 1
        else:
            n = len(e.axes)
            out.append(e._replace(axes=tuple(range(axis, axis + n))))
            axis += n
    return out, tuple(new_shape)


def _normalize_array(idx: Any, size: int, dtype: np.dtype, normalize: bool) -> Any:
    """An index array in `dtype`, negative entries wrapped when `normalize`."""
    if isinstance(idx, np.ndarray):
        idx = idx.astype(np.int64)
        if normalize:
            idx = np.where(idx < 0, idx + size, idx)
        return idx.astype(dtype)
    signed = dtypes.is_signed_integer(idx.dtype)
    idx = _convert(idx, dtype)
    if normalize and signed:
        idx = lax.select(lax.lt(idx, _const(0, dtype)), lax.add(idx, _const(size, dtype)), idx)
    return idx


def _plan(entries: list[_Entry], shape: tuple[int, ...], contiguous: bool,
          normalize: bool) -> _Plan:
    """The gather for `entries` (ellipsis expanded, masks converted) on an x of `shape`."""
    entries, shape = _expand_scalar_bools(entries, shape)
    dtype = _index_dtype(shape)
    advanced = any(e.kind == _ARRAY and np.ndim(e.value) > 0 for e in entries)
    adv_pos = [i for i, e in enumerate(entries) if e.kind in (_INT, _ARRAY)] if advanced else []
    insert_at = (adv_pos[0] if contiguous else 0) if advanced else -1

    pieces: list[tuple[Any, int]] = []
    batch: list[int] = []
    offset_dims, collapsed, start_map, window = [], [], [], []
    slice_shape, newaxis = [], []
    y_axis = gather_axis = 0
    sorted_indices = not advanced
    for pos, e in enumerate(entries):
        if pos == insert_at:
            arrays = [(_normalize_array(np.asarray(entries[p].value)
                                        if entries[p].kind == _INT else entries[p].value,
                                        shape[entries[p].axes[0]], dtype,
                                        normalize and not entries[p].nonneg),
                       entries[p].axes[0]) for p in adv_pos]
            try:
                bshape = broadcast_shapes("indexing", *[np.shape(a) for a, _ in arrays])
            except ValueError:
                raise IndexError("shape mismatch: indexing arrays could not be broadcast "
                                 "together with shapes "
                                 f"{' '.join(str(tuple(np.shape(a))) for a, _ in arrays)}"
                                 ) from None
            start = len(batch)
            for a, axis in arrays:
                pieces.append((a, start + len(bshape) - np.ndim(a)))
                start_map.append(axis)
                collapsed.append(axis)
            batch += bshape
            slice_shape += bshape
            y_axis += len(bshape)
            gather_axis += len(bshape)
        if pos in adv_pos:
            window.append(1)
            continue
        if e.kind == _NONE:
            slice_shape.append(1)
            newaxis.append(y_axis)
            y_axis += 1
            continue
        (axis,) = e.axes
        size = shape[axis]
        if e.kind in (_INT, _ARRAY):  # a scalar index, with no advanced arrays around
            if size == 0:
                raise IndexError(f"index is out of bounds for axis {axis} with size 0")
            if e.kind == _INT:
                value = _normalize_static(e.value, size) if normalize else e.value
                pieces.append((np.asarray(value, dtype), len(batch)))
            else:
                pieces.append((_normalize_array(e.value, size, dtype, normalize), len(batch)))
            collapsed.append(axis)
            start_map.append(axis)
            window.append(1)
            continue
        start, step, count = _static_slice_bounds(e.value, size)
        slice_shape.append(count)
        if step == 1:
            if count != size:
                pieces.append((np.asarray(start, dtype), len(batch)))
                start_map.append(axis)
            window.append(count)
            offset_dims.append(gather_axis)
        else:
            # NOTE: a strided slice gathers its (static) element indices; negative steps
            # give decreasing indices, so nothing needs reversing afterwards.
            pieces.append((np.arange(count, dtype=np.int64).astype(dtype) * step + start,
                           len(batch)))
            sorted_indices = sorted_indices and step > 0
            start_map.append(axis)
            collapsed.append(axis)
            window.append(1)
            batch.append(count)
        gather_axis += 1
        y_axis += 1
    return _Plan(shape, pieces, tuple(batch), tuple(offset_dims), tuple(sorted(collapsed)),
                 tuple(start_map), tuple(window), tuple(slice_shape), tuple(newaxis),
                 advanced, sorted_indices)


def _stack_pieces(pieces: list[tuple[Any, int]], batch: tuple[int, ...],
                  dtype: np.dtype) -> Any:
    """The gather indices array `batch + (len(pieces),)`: static pieces are combined on
    the host (one transfer), traced ones with broadcast_in_dim + concatenate."""
    k = len(pieces)
    if all(isinstance(p, np.ndarray) for p, _ in pieces):
        out = np.empty(batch + (k,), dtype)
        for j, (p, start) in enumerate(pieces):
            shape = [1] * len(batch)
            shape[start:start + p.ndim] = p.shape
            out[..., j] = np.broadcast_to(p.reshape(shape), batch)
        return asarray(out)
    target = batch + (1,)
    parts = [lax.broadcast_in_dim(np.asarray(p, dtype) if isinstance(p, np.ndarray) else p,
                                  target, tuple(range(start, start + np.ndim(p))))
             for p, start in pieces]
    return parts[0] if k == 1 else lax.concatenate(parts, len(batch))


def _shape_without(shape: tuple[int, ...], dims: Sequence[int]) -> tuple[int, ...]:
    return tuple(d for i, d in enumerate(shape) if i not in dims)


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


# --------------------------------------------------------------------------------------
# take, take_along_axis, put_along_axis
# --------------------------------------------------------------------------------------


def _check_out(out: Any, fun_name: str) -> None:
    if out is not None:
        raise NotImplementedError(f"The 'out' argument to lamina.numpy.{fun_name} is not "
                                  "supported (lamina arrays are immutable).")


def _check_int_indices(indices: Array, fun_name: str) -> None:
    if not dtypes.is_integer(indices.dtype):
        raise TypeError(f"lamina.numpy.{fun_name}: indices must have an integer dtype, got "
                        f"{indices.aval.str_short()}")


def take(a: ArrayLike, indices: ArrayLike, axis: int | None = None, out: None = None,
         mode: str | None = None, unique_indices: bool = False,
         indices_are_sorted: bool = False, fill_value: Any = None) -> Array:
    """Take elements of `a` at `indices` along `axis` (numpy.take, via one gather).

    Args:
        a: the array to take from.
        indices: integer array of indices.
        axis: the axis to take along; None takes from the flattened array.
        out: unsupported (must be None).
        mode: out-of-bounds handling: None/'fill' (the default; out-of-bounds indices
            read `fill_value`), 'clip' or 'wrap'. 'raise' is not supported.
        unique_indices: a promise passed to the gather.
        indices_are_sorted: a promise passed to the gather.
        fill_value: the value of out-of-bounds reads with mode 'fill' (default NaN for
            inexact dtypes, the minimum/maximum of signed/unsigned integers, True).

    Returns:
        `a`'s dimensions with `axis` replaced by `indices`' dimensions.

    >>> import lamina.numpy as lnp
    >>> lnp.take(lnp.asarray([[1., 2., 3.], [4., 5., 6.]]), lnp.asarray([2, 0]), axis=1)
    Array([[3., 1.],
           [6., 4.]], dtype=float32)
    """
    _check_out(out, "take")
    check_arraylike("take", a, indices)
    a, indices = asarray(a), asarray(indices)
    _check_int_indices(indices, "take")
    if axis is None:
        a = _ravel(a)
        axis = 0
    axis = canonicalize_axis(operator_index(axis), a.ndim, "lamina.numpy.take")
    size = a.shape[axis]
    if mode is None or mode == "fill":
        gather_mode = "fill"
        idx = _normalize_array(indices, size, _index_dtype(a.shape), True)
    elif mode == "raise":
        raise NotImplementedError("The 'raise' mode of lamina.numpy.take is not supported "
                                  "(it would need a device-to-host check); use 'fill', "
                                  "'clip' or 'wrap'.")
    elif mode == "wrap":
        gather_mode = "promise_in_bounds"
        idx = _floor_mod(_convert(indices, _index_dtype(a.shape)), size) if size else indices
    elif mode == "clip":
        gather_mode = "clip"
        idx = _convert(indices, _index_dtype(a.shape))
    else:
        raise ValueError(f"lamina.numpy.take: invalid mode {mode!r}; expected 'fill', 'clip' "
                         "or 'wrap'")
    out_shape = a.shape[:axis] + indices.shape + a.shape[axis + 1:]
    if size == 0:
        if indices.size:
            raise IndexError("lamina.numpy.take: cannot take a non-empty selection from an "
                             f"empty axis (axis {axis} of {a.aval.str_short()})")
        return _full(out_shape, 0, a.dtype, a.weak_type)
    if indices.size == 0:
        return _full(out_shape, 0, a.dtype, a.weak_type)
    slice_sizes = list(a.shape)
    slice_sizes[axis] = 1
    nd = indices.ndim
    dnums = lax.GatherDimensionNumbers(
        offset_dims=tuple(range(axis)) + tuple(range(axis + nd, a.ndim + nd - 1)),
        collapsed_slice_dims=(axis,), start_index_map=(axis,))
    return lax.gather(a, lax.reshape(idx, indices.shape + (1,)), dnums, tuple(slice_sizes),
                      mode=gather_mode, unique_indices=unique_indices,
                      indices_are_sorted=indices_are_sorted, fill_value=fill_value)


def _floor_mod(x: Array, n: int) -> Array:
    """`x mod n` with a non-negative result (n > 0)."""
    dtype = _aval(x).dtype
    r = lax.rem(x, _const(n, dtype))
    if dtypes.is_unsigned_integer(dtype):
        return r
    return lax.select(lax.lt(r, _const(0, dtype)), lax.add(r, _const(n, dtype)), r)


def take_along_axis(arr: ArrayLike, indices: ArrayLike, axis: int | None = -1,
                    mode: str | None = None, fill_value: Any = None) -> Array:
    """Take values of `arr` at `indices` along `axis`, matching the other dimensions
    (numpy.take_along_axis, via one gather with batching dimensions).

    Args:
        arr: the source array.
        indices: integer array of `arr`'s rank (1-D if `axis` is None), broadcast
            against `arr` in the dimensions other than `axis`.
        axis: the axis to take along; None flattens `arr`.
        mode: None/'fill' (default: out-of-bounds reads give `fill_value`), 'clip' or
            'promise_in_bounds'.
        fill_value: the value of out-of-bounds reads with mode 'fill'.

    Returns:
        The taken values, of the broadcast shape.

    >>> import lamina.numpy as lnp
    >>> x = lnp.asarray([[5, 3, 4], [2, 7, 6]])
    >>> lnp.take_along_axis(x, lnp.asarray([[1], [0]]), axis=1)
    Array([[3],
           [2]], dtype=int32)
    """
    check_arraylike("take_along_axis", arr, indices)
    a, indices = asarray(arr), asarray(indices)
    _check_int_indices(indices, "take_along_axis")
    if axis is None:
        if indices.ndim != 1:
            raise ValueError(f"lamina.numpy.take_along_axis: indices must be 1-D when axis is "
                             f"None, got shape {indices.shape}")
        a = _ravel(a)
        axis = 0
    if a.ndim != indices.ndim:
        raise ValueError(f"lamina.numpy.take_along_axis: indices and arr must have the same "
                         f"number of dimensions; got {indices.ndim} and {a.ndim}")
    axis = canonicalize_axis(operator_index(axis), a.ndim, "lamina.numpy.take_along_axis")
    idx_shape = indices.shape
    arr_shape = a.shape[:axis] + (1,) + a.shape[axis + 1:]
    out_shape = broadcast_shapes("take_along_axis", idx_shape, arr_shape)
    size = a.shape[axis]
    if size == 0 or math.prod(out_shape) == 0:
        return _full(out_shape, 0, a.dtype, a.weak_type)
    dtype = _index_dtype(a.shape)
    idx = _normalize_array(indices, size, dtype, mode != "promise_in_bounds")
    index_dims = [i for i in range(a.ndim) if i == axis or idx_shape[i] != 1]
    idx = lax.reshape(idx, tuple(out_shape[i] for i in index_dims) + (1,))
    slice_sizes, offset, start_map, collapsed = [], [], [], []
    operand_batch, index_batch, squeeze = [], [], []
    new_i = j = 0
    for i in range(a.ndim):
        if i == axis:
            slice_sizes.append(1)
            start_map.append(new_i)
            collapsed.append(new_i)
            new_i += 1
            j += 1
        elif idx_shape[i] == 1:
            offset.append(i)
            slice_sizes.append(a.shape[i])
            new_i += 1
        elif a.shape[i] == 1:
            squeeze.append(i)
            j += 1
        else:
            slice_sizes.append(1)
            operand_batch.append(new_i)
            index_batch.append(j)
            new_i += 1
            j += 1
    if squeeze:
        a = lax.squeeze(a, tuple(squeeze))
    dnums = lax.GatherDimensionNumbers(
        offset_dims=tuple(offset), collapsed_slice_dims=tuple(collapsed),
        start_index_map=tuple(start_map), operand_batching_dims=tuple(operand_batch),
        start_indices_batching_dims=tuple(index_batch))
    return lax.gather(a, idx, dnums, tuple(slice_sizes), mode="fill" if mode is None else mode,
                      fill_value=fill_value)


def put_along_axis(arr: ArrayLike, indices: ArrayLike, values: ArrayLike, axis: int | None,
                   inplace: bool = True, *, mode: str | None = None) -> Array:
    """A copy of `arr` with `values` put at `indices` along `axis` (numpy.put_along_axis).

    lamina arrays are immutable: pass `inplace=False` (as in jax) to get the updated copy.

    Args:
        arr: the array to update.
        indices: integer array of `arr`'s rank (1-D if `axis` is None).
        values: values broadcast to `indices`' shape.
        axis: the axis to put along; None flattens `arr`.
        inplace: must be False.
        mode: out-of-bounds handling, as for `x.at[idx].set` (default: dropped).

    Returns:
        The updated array, of `arr`'s shape.
    """
    if inplace:
        raise ValueError("lamina.numpy.put_along_axis cannot modify arrays in place (lamina "
                         "arrays are immutable); pass inplace=False to get an updated copy")
    check_arraylike("put_along_axis", arr, indices, values)
    a, indices = asarray(arr), asarray(indices)
    _check_int_indices(indices, "put_along_axis")
    original_shape = a.shape
    if axis is None:
        a = _ravel(a)
        axis = 0
    if a.ndim != indices.ndim:
        raise ValueError(f"lamina.numpy.put_along_axis: arr and indices must have the same "
                         f"number of dimensions; got {a.ndim} and {indices.ndim}")
    axis = canonicalize_axis(operator_index(axis), a.ndim, "lamina.numpy.put_along_axis")
    values = asarray(values)
    try:
        broadcast_shapes("put_along_axis", values.shape, indices.shape)
    except ValueError:
        raise ValueError(f"lamina.numpy.put_along_axis: values of shape {values.shape} must "
                         f"broadcast to the indices' shape {indices.shape}") from None
    values = broadcast_to_shape(values, broadcast_shapes("put_along_axis", values.shape,
                                                         indices.shape))
    idx = tuple(indices if i == axis else
                np.arange(n, dtype=np.int32).reshape([n if k == i else 1 for k in range(a.ndim)])
                for i, n in enumerate(a.shape))
    out = _scatter_update(a, idx, values, "set", indices_are_sorted=False,
                          unique_indices=False, mode=mode, normalize=True)
    return lax.reshape(out, original_shape)


# --------------------------------------------------------------------------------------
# nonzero and friends, where, select, choose, compress, extract
# --------------------------------------------------------------------------------------


def _first_true_positions(flat: Array, size: int) -> Array:
    """The positions of the first `size` True entries of a 1-D bool array, in order (one
    stable sort of (not mask, iota)); entries past the count are arbitrary."""
    n = _aval(flat).shape[0]
    iota = lax.iota(_int_dtype(), n)
    _, perm = lax.sort((lax.bitwise_not(flat), iota), num_keys=1, is_stable=True)
    if size <= n:
        return _slice_axis(perm, 0, size)
    return lax.pad(perm, _const(0, _int_dtype()), [(0, size - n, 0)])


def nonzero(a: ArrayLike, *, size: int | None = None,
            fill_value: ArrayLike | tuple[ArrayLike, ...] | None = None) -> tuple[Array, ...]:
    """Indices of the non-zero elements of `a`, one array per dimension (numpy.nonzero).

    Args:
        a: an array of rank >= 1.
        size: the static length of the results. Without it, `a` must be concrete (the
            count is read back); under a transformation it is required. Extra
            positions are padded with `fill_value`, surplus non-zeros dropped.
        fill_value: the padding (a scalar, or one per dimension); default 0.

    Returns:
        A tuple of `a.ndim` int arrays.

    >>> import lamina.numpy as lnp
    >>> lnp.nonzero(lnp.asarray([0, 3, 0, 5]))
    (Array([1, 3], dtype=int32),)
    """
    check_arraylike("nonzero", a)
    arr = asarray(a)
    if arr.ndim == 0:
        raise ValueError("lamina.numpy.nonzero: calling nonzero on 0-d arrays is not allowed; "
                         "use lnp.atleast_1d(x).nonzero() instead")
    mask = _to_bool(arr)
    count = None
    if size is None:
        count = _count_true(mask)
        size = _concrete_int(count, "nonzero", f"its input {arr.aval.str_short()}")
        exact = True
    else:
        size = _static_size(size, "nonzero")
        exact = False
    dtype = _int_dtype()
    if arr.size == 0 or size == 0:
        return tuple(_full((size,), 0, dtype) for _ in arr.shape)
    positions = _first_true_positions(_ravel(mask), size)
    outs = []
    stride = arr.size
    for k, dim in enumerate(arr.shape):
        stride //= dim
        out = positions if stride == 1 else lax.div(positions, _const(stride, dtype))
        if k > 0:
            out = lax.rem(out, _const(dim, dtype))
        outs.append(out)
    if not exact:
        if fill_value is None:
            fills: tuple[Any, ...] = (0,) * arr.ndim
        elif isinstance(fill_value, tuple):
            fills = fill_value
        else:
            fills = (fill_value,) * arr.ndim
        if len(fills) != arr.ndim or any(np.ndim(f) != 0 for f in fills):
            raise ValueError(f"lamina.numpy.nonzero: fill_value must be a scalar or a tuple of "
                             f"{arr.ndim} scalars; got {fill_value!r}")
        valid = lax.lt(lax.iota(np.int32, size), count if count is not None
                       else _count_true(mask))
        outs = [lax.select(valid, o, lax.broadcast_in_dim(_convert(f, dtype), (size,), ())
                           if is_lamina_array(f) else _full((size,), f, dtype))
                for o, f in zip(outs, fills)]
    return tuple(outs)


def flatnonzero(a: ArrayLike, *, size: int | None = None,
                fill_value: ArrayLike | None = None) -> Array:
    """Indices of the non-zero elements of the flattened `a` (numpy.flatnonzero).

    Args:
        a: an array.
        size: the static length of the result (see `nonzero`).
        fill_value: the padding when `size` exceeds the count (default 0).

    Returns:
        A 1-D int array.
    """
    check_arraylike("flatnonzero", a)
    return nonzero(_ravel(asarray(a)) if np.ndim(a) != 1 else a, size=size,
                   fill_value=fill_value)[0]


def argwhere(a: ArrayLike, *, size: int | None = None,
             fill_value: ArrayLike | None = None) -> Array:
    """Indices of the non-zero elements, as an `(N, a.ndim)` array (numpy.argwhere).

    Args:
        a: an array.
        size: the static number of rows (see `nonzero`).
        fill_value: the padding when `size` exceeds the count (default 0).

    Returns:
        An int array of shape `(N, a.ndim)`.
    """
    check_arraylike("argwhere", a)
    arr = asarray(a)
    if arr.ndim == 0:
        (first,) = nonzero(lax.reshape(arr, (1,)), size=size, fill_value=fill_value)
        return _full((first.shape[0], 0), 0, _int_dtype())
    parts = nonzero(arr, size=size, fill_value=fill_value)
    n = parts[0].shape[0]
    cols = [lax.reshape(p, (n, 1)) for p in parts]
    return cols[0] if len(cols) == 1 else lax.concatenate(cols, 1)


def where(condition: ArrayLike, x: ArrayLike | None = None, y: ArrayLike | None = None, /, *,
          size: int | None = None, fill_value: Any = None) -> Any:
    """`x` where `condition` is true, else `y` (numpy.where); with only `condition`,
    `nonzero(condition, size=size, fill_value=fill_value)`.

    Args:
        condition: an array; non-bool values are tested against zero.
        x: values where `condition` is true.
        y: values where `condition` is false.
        size: only for the one-argument form (see `nonzero`).
        fill_value: only for the one-argument form.

    Returns:
        The selected values, of the broadcast shape and the promoted dtype of `x`, `y`.

    >>> import lamina.numpy as lnp
    >>> lnp.where(lnp.asarray([True, False]), 1.0, lnp.asarray([5.0, 6.0]))
    Array([1., 6.], dtype=float32)
    """
    if x is None and y is None:
        check_arraylike("where", condition)
        return nonzero(condition, size=size, fill_value=fill_value)
    if x is None or y is None:
        raise ValueError("lamina.numpy.where: either both or neither of x and y should be "
                         f"given; got x={x!r} and y={y!r}")
    if size is not None or fill_value is not None:
        raise ValueError("lamina.numpy.where: size and fill_value cannot be used with the "
                         "three-argument form")
    check_arraylike("where", condition, x, y)
    x, y = promote_dtypes(x, y)
    return _where(_to_bool(asarray(condition)), x, y)


def select(condlist: Sequence[ArrayLike], choicelist: Sequence[ArrayLike],
           default: ArrayLike = 0) -> Array:
    """Elementwise, the choice of the first true condition, else `default`
    (numpy.select).

    Args:
        condlist: a sequence of conditions (non-bool values are tested against zero).
        choicelist: a sequence of arrays, one per condition.
        default: the value where no condition holds.

    Returns:
        The selected values, of the broadcast shape and promoted dtype.
    """
    if len(condlist) != len(choicelist):
        raise ValueError(f"lamina.numpy.select: condlist must have length equal to "
                         f"choicelist ({len(condlist)} vs {len(choicelist)})")
    if len(condlist) == 0:
        raise ValueError("lamina.numpy.select: condlist must be non-empty")
    check_arraylike("select", *condlist, *choicelist, default)
    default, *choices = promote_dtypes(default, *choicelist)
    conds = [_to_bool(asarray(c)) for c in condlist]
    shape = broadcast_shapes("select", *[_aval(v).shape for v in (*conds, *choices, default)])
    out = broadcast_to_shape(default, shape)
    # NOTE: later conditions first, so that the first true condition wins.
    for cond, choice in zip(reversed(conds), reversed(choices)):
        out = _where(cond, choice, out)
    return out


def choose(a: ArrayLike, choices: Sequence[ArrayLike], out: None = None,
           mode: str = "raise") -> Array:
    """Build an array from `choices`, picked elementwise by the integer array `a`
    (numpy.choose; one lax.select_n).

    Args:
        a: integer array of indices into `choices`.
        choices: a sequence of arrays (or an array, split along axis 0).
        out: unsupported (must be None).
        mode: 'raise' (a must be concrete and in range), 'wrap' or 'clip'.

    Returns:
        The chosen values, of the broadcast shape and promoted dtype.
    """
    _check_out(out, "choose")
    check_arraylike("choose", a)
    a = asarray(a)
    if is_lamina_array(choices) or isinstance(choices, np.ndarray):
        choices = [choices[i] for i in range(choices.shape[0])]
    check_arraylike("choose", *choices)
    if not dtypes.is_integer(a.dtype):
        raise TypeError(f"lamina.numpy.choose: a must be an integer array, got "
                        f"{a.aval.str_short()}")
    n = len(choices)
    if n == 0:
        raise ValueError("lamina.numpy.choose: choices must be non-empty")
    if mode == "raise":
        if isinstance(a, Tracer):
            raise ConcretizationError(
                "lamina.numpy.choose with mode='raise' needs concrete indices to check their "
                f"range, got a traced {a.aval.str_short()}; use mode='wrap' or mode='clip'")
        bad = lax.bitwise_or(lax.lt(a, _const(0, a.dtype)),
                             lax.ge(a, _const(n, a.dtype)) if n <= np.iinfo(a.dtype).max
                             else _full(a.shape, False, np.bool_))
        if a.size and bool(lax.reduce_or(bad, tuple(range(a.ndim)))):
            raise ValueError(f"lamina.numpy.choose: invalid entry in choice array (indices must "
                             f"lie in [0, {n}))")
    elif mode == "wrap":
        a = _floor_mod(a, n)
    elif mode != "clip":
        raise ValueError(f"lamina.numpy.choose: mode={mode!r} not understood; must be 'raise', "
                         "'wrap' or 'clip'")
    choices = promote_dtypes(*choices)
    shape = broadcast_shapes("choose", a.shape, *[_aval(c).shape for c in choices])
    which = _convert(broadcast_to_shape(a, shape), np.int32)
    # NOTE: select_n clamps out-of-range `which` to the first/last case, i.e. mode='clip'.
    return lax.select_n(which, *[broadcast_to_shape(c, shape) for c in choices])


def compress(condition: ArrayLike, a: ArrayLike, axis: int | None = None, *,
             size: int | None = None, fill_value: ArrayLike = 0, out: None = None) -> Array:
    """The slices of `a` along `axis` where the 1-D `condition` is true (numpy.compress).

    Args:
        condition: a 1-D array (non-bool values are tested against zero).
        a: the array.
        axis: the axis to select along; None flattens `a`.
        size: the static number of selected slices (pads with `fill_value`). Without
            it, `condition` must be concrete.
        fill_value: the padding value.
        out: unsupported (must be None).

    Returns:
        The selected slices.
    """
    _check_out(out, "compress")
    check_arraylike("compress", condition, a, fill_value)
    cond, arr = _to_bool(asarray(condition)), asarray(a)
    if cond.ndim != 1:
        raise ValueError(f"lamina.numpy.compress: condition must be a 1-D array, got shape "
                         f"{cond.shape}")
    if axis is None:
        arr, axis = _ravel(arr), 0
    axis = canonicalize_axis(operator_index(axis), arr.ndim, "lamina.numpy.compress")
    n = arr.shape[axis]
    if cond.shape[0] > n:
        extra = _slice_axis(cond, n, cond.shape[0])
        cond = _slice_axis(cond, 0, n)
        if size is None:
            _check_concrete(extra, "compress", "condition")
            if bool(lax.reduce_or(extra, (0,))):
                raise ValueError("lamina.numpy.compress: condition contains entries that are "
                                 f"out of bounds for an axis of size {n}")
    arr = _slice_axis(arr, 0, cond.shape[0], axis)
    if size is None:
        _check_concrete(cond, "compress", "condition")
        count = _concrete_int(_count_true(cond), "compress", "condition")
        idx = nonzero(cond, size=count)[0]
        return take(arr, idx, axis=axis, mode="clip")
    size = _static_size(size, "compress")
    if size > cond.shape[0]:
        raise ValueError(f"lamina.numpy.compress: size must not exceed the size of the array "
                         f"axis; got size={size} for a.shape[axis]={cond.shape[0]}")
    idx = nonzero(cond, size=size, fill_value=cond.shape[0])[0]
    fill = np.asarray(fill_value).item() if not is_lamina_array(fill_value) else fill_value
    return take(arr, idx, axis=axis, mode="fill", fill_value=fill)


def extract(condition: ArrayLike, arr: ArrayLike, *, size: int | None = None,
            fill_value: ArrayLike = 0) -> Array:
    """The elements of `arr` where `condition` is non-zero, flattened (numpy.extract).

    Args:
        condition: an array of `arr`'s size.
        arr: the array.
        size: the static length of the result (pads with `fill_value`).
        fill_value: the padding value.

    Returns:
        A 1-D array.
    """
    check_arraylike("extract", condition, arr, fill_value)
    return compress(_ravel(asarray(condition)), _ravel(asarray(arr)), size=size,
                    fill_value=fill_value)


# --------------------------------------------------------------------------------------
# searchsorted, digitize
# --------------------------------------------------------------------------------------


def _broadcast_last(x: Array, v_shape: tuple[int, ...], n: int, is_table: bool) -> Array:
    """`x` (the 1-D table, or the queries) broadcast to `v_shape + (n,)`."""
    target = v_shape + (n,)
    dims = (len(v_shape),) if is_table else tuple(range(len(v_shape)))
    return lax.broadcast_in_dim(x, target, dims)


def _searchsorted_compare_all(a: Array, v: Array, side: str) -> Array:
    n = a.shape[0]
    table = _broadcast_last(a, v.shape, n, True)
    queries = _broadcast_last(v, v.shape, n, False)
    before = _lt_total(table, queries) if side == "left" else _le_total(table, queries)
    return lax.reduce_sum(_convert(before, np.int32), (v.ndim,))


def _searchsorted_scan(a: Array, v: Array, side: str) -> Array:
    """Binary search, unrolled over ceil(log2(n + 1)) levels: the answer stays in
    [lo, hi] and is hi at the end (the interval shrinks to width <= 1)."""
    n = a.shape[0]
    lo, hi = _full(v.shape, 0, np.int32), _full(v.shape, n, np.int32)
    one = _const(1, np.int32)
    for _ in range(int(np.ceil(np.log2(n + 1)))):
        # NOTE: a logical shift treats the sum as unsigned: no overflow for n < 2**31.
        mid = lax.shift_right_logical(lax.add(lo, hi), one)
        val = take(a, mid, mode="clip")
        go_left = _le_total(v, val) if side == "left" else _lt_total(v, val)
        lo = lax.select(go_left, lo, mid)
        hi = lax.select(go_left, mid, hi)
    return hi


def _rank(x: Array) -> Array:
    """The position of each element of 1-D `x` in its stable sort."""
    n = x.shape[0]
    iota = lax.iota(np.int32, n)
    _, perm = lax.sort((x, iota), num_keys=1, is_stable=True)
    _, rank = lax.sort((perm, iota), num_keys=1, is_stable=True)
    return rank


def _searchsorted_sort(a: Array, v: Array, side: str) -> Array:
    flat = _ravel(v) if v.ndim != 1 else v
    m, n = flat.shape[0], a.shape[0]
    if side == "left":
        index = _slice_axis(_rank(_concat1d([flat, a])), 0, m)
    else:
        index = _slice_axis(_rank(_concat1d([a, flat])), n, n + m)
    return lax.reshape(lax.sub(index, _rank(flat)), v.shape)


_SEARCHSORTED = {"scan": _searchsorted_scan, "scan_unrolled": _searchsorted_scan,
                 "compare_all": _searchsorted_compare_all, "sort": _searchsorted_sort}


def searchsorted(a: ArrayLike, v: ArrayLike, side: str = "left", sorter: ArrayLike | None = None,
                 *, method: str = "scan") -> Array:
    """Indices where `v` would be inserted into the sorted 1-D `a` to keep it sorted
    (numpy.searchsorted; NaNs sort last).

    Args:
        a: a sorted 1-D array (or one sorted by `sorter`).
        v: the query values (any shape).
        side: 'left' (first suitable position) or 'right' (last).
        sorter: optional integer indices that sort `a`.
        method: 'scan' (default: a binary search, log2(len(a)) steps), 'compare_all'
            (compare every pair: fastest for small `a`, memory len(a) * v.size) or
            'sort' (co-sort `a` and `v`). 'scan_unrolled' is 'scan'.

    Returns:
        int32 indices of `v`'s shape.

    >>> import lamina.numpy as lnp
    >>> lnp.searchsorted(lnp.asarray([1, 2, 3]), lnp.asarray([2, 5]))
    Array([1, 3], dtype=int32)
    """
    if sorter is None:
        check_arraylike("searchsorted", a, v)
    else:
        check_arraylike("searchsorted", a, v, sorter)
    a, v = asarray(a), asarray(v)
    if a.ndim != 1:
        raise ValueError(f"lamina.numpy.searchsorted: a should be 1-dimensional, got "
                         f"{a.aval.str_short()}")
    if side not in ("left", "right"):
        raise ValueError(f"lamina.numpy.searchsorted: side must be 'left' or 'right', got "
                         f"{side!r}")
    if method not in _SEARCHSORTED:
        raise ValueError(f"lamina.numpy.searchsorted: invalid method {method!r}; expected one "
                         f"of {sorted(_SEARCHSORTED)}")
    a, v = promote_dtypes(a, v)
    if sorter is not None:
        a = take(a, asarray(sorter), mode="clip")
    if a.shape[0] == 0 or v.size == 0:
        return _full(v.shape, 0, np.int32)
    if method != "sort":
        a, v = _order_key(a), _order_key(v)
    return _SEARCHSORTED[method](a, v, side)


def digitize(x: ArrayLike, bins: ArrayLike, right: bool = False, *,
             method: str | None = None) -> Array:
    """The index of the bin of each value of `x` (numpy.digitize; bins increasing or
    decreasing).

    Args:
        x: the values.
        bins: a monotonic 1-D array of bin edges.
        right: whether bins include their right edge instead of their left one.
        method: the searchsorted method (default 'scan').

    Returns:
        int32 bin indices of `x`'s shape.
    """
    check_arraylike("digitize", x, bins)
    x, bins = asarray(x), asarray(bins)
    if isinstance(right, Tracer):
        raise ConcretizationError("lamina.numpy.digitize: right must be a static bool")
    if bins.ndim != 1:
        raise ValueError(f"lamina.numpy.digitize: bins must be a 1-dimensional array, got "
                         f"{bins.aval.str_short()}")
    n = bins.shape[0]
    if n == 0:
        return _full(x.shape, 0, np.int32)
    side = "left" if right else "right"
    kw = {} if method is None else {"method": method}
    increasing = searchsorted(bins, x, side=side, **kw)
    reversed_bins = lax.rev(bins, (0,))
    decreasing = lax.sub(_const(n, np.int32), searchsorted(reversed_bins, x, side=side, **kw))
    first, last = _slice_axis(bins, 0, 1), _slice_axis(bins, n - 1, n)
    is_increasing = lax.reshape(_le_total(first, last), ())
    return lax.select(is_increasing, increasing, decreasing)


# --------------------------------------------------------------------------------------
# unique and the set operations
# --------------------------------------------------------------------------------------


class UniqueAllResult(NamedTuple):
    values: Array
    indices: Array
    inverse_indices: Array
    counts: Array


class UniqueCountsResult(NamedTuple):
    values: Array
    counts: Array


class UniqueInverseResult(NamedTuple):
    values: Array
    inverse_indices: Array


def _first_mask(aux: Array, equal_nan: bool) -> Array:
    """For `aux` sorted along axis 0: True where a row differs from the previous one."""
    n = aux.shape[0]
    if n == 0:
        return _full((0,), False, np.bool_)
    ne = _ne_equal_nan(_slice_axis(aux, 1, n), _slice_axis(aux, 0, n - 1), equal_nan)
    if aux.ndim > 1:
        ne = lax.reduce_or(ne, tuple(range(1, aux.ndim)))
    return lax.pad(ne, _const(True, np.bool_), [(1, 0, 0)])


def _sort_rows(aux: Array) -> tuple[Array, Array]:
    """`aux` (n, ...) sorted lexicographically by rows, and the (stable) permutation."""
    n = aux.shape[0]
    iota = lax.iota(_int_dtype(), n)
    if aux.ndim == 1:
        return lax.sort((aux, iota), num_keys=1, is_stable=True)
    m = math.prod(aux.shape[1:])
    flat = lax.reshape(aux, (n, m))
    cols = [lax.reshape(_slice_axis(flat, j, j + 1, 1), (n,)) for j in range(m)]
    perm = lax.sort((*cols, iota), num_keys=m, is_stable=True)[-1]
    return take(aux, perm, axis=0, mode="clip"), perm


def _unique(ar: Array, axis: int, return_index: bool, return_inverse: bool,
            return_counts: bool, equal_nan: bool, size: int | None,
            fill_value: Any) -> tuple[Array, ...]:
    aux = _moveaxis(ar, axis, 0)
    n = aux.shape[0]
    if size is not None and n == 0 and size and fill_value is None:
        raise ValueError("lamina.numpy.unique: for a zero-size input with size > 0, "
                         "fill_value must be given")
    idx_dtype = _int_dtype()
    if aux.ndim > 1 and math.prod(aux.shape[1:]) == 0:
        # NOTE: rows of size zero are all equal: one unique row if there are any.
        perm = lax.iota(idx_dtype, n)
        mask = lax.eq(perm, _const(0, idx_dtype))
    else:
        aux, perm = _sort_rows(aux)
        mask = _first_mask(aux, equal_nan)
    count_dev = _count_true(mask) if n else _const(0, np.int32)
    if size is None:
        size = _concrete_int(count_dev, "unique", f"its input {ar.aval.str_short()}")
        exact = True
    else:
        exact = False
    valid = None if exact else lax.lt(lax.iota(np.int32, size), count_dev)
    if n:
        # The starts of the runs of equal values; jax pads with index 0.
        starts = _first_true_positions(mask, size + 1 if return_counts else size)
        ind = _slice_axis(starts, 0, size)
        if valid is not None:
            ind = lax.select(valid, ind, _full((size,), 0, idx_dtype))
    else:
        ind = _full((size,), 0, idx_dtype)
    if n:
        result = take(aux, ind, axis=0, mode="clip")
    else:
        result = _full((size,) + aux.shape[1:], 0, aux.dtype, aux.weak_type)
    if not exact and fill_value is not None:
        fill = _fill_scalar(fill_value, result.dtype)
        rows = lax.broadcast_in_dim(valid, result.shape, (0,))
        result = lax.select(rows, result, _full(result.shape, fill, result.dtype,
                                                result.weak_type))
    outs: list[Array] = [_moveaxis(result, 0, axis)]
    if return_index:
        outs.append(take(perm, ind, mode="clip") if n else _full((size,), 0, idx_dtype))
    if return_inverse:
        if n:
            rank = lax.sub(lax.cumsum(_convert(mask, idx_dtype), 0), _const(1, idx_dtype))
            _, inverse = lax.sort((perm, rank), num_keys=1, is_stable=True)
        else:
            inverse = _full((0,), 0, idx_dtype)
        outs.append(inverse)
    if return_counts:
        if n:
            # Run lengths: differences of the run starts, the last run ending at n (and
            # the padding, as in jax, giving zero counts).
            ends = _slice_axis(starts, 1, size + 1)
            has_end = lax.lt(lax.iota(np.int32, size), lax.sub(count_dev, _const(1, np.int32)))
            ends = lax.select(has_end, ends, _full((size,), n, idx_dtype))
            counts = lax.sub(ends, ind)
            if valid is not None:
                counts = lax.select(valid, counts, _full((size,), 0, idx_dtype))
        else:
            counts = _full((size,), 0, idx_dtype)
        outs.append(counts)
    return tuple(outs)


def _fill_scalar(fill_value: Any, dtype: np.dtype) -> Any:
    if isinstance(fill_value, Tracer):
        raise ConcretizationError("lamina.numpy: fill_value must be a concrete scalar, got a "
                                  f"traced array {fill_value.aval.str_short()}")
    if np.ndim(fill_value) != 0:
        raise ValueError(f"lamina.numpy: fill_value must be a scalar, got shape "
                         f"{np.shape(fill_value)}")
    return np.asarray(fill_value).astype(dtype).item()


def unique(ar: ArrayLike, return_index: bool = False, return_inverse: bool = False,
           return_counts: bool = False, axis: int | None = None, *, equal_nan: bool = True,
           size: int | None = None, fill_value: ArrayLike | None = None,
           sorted: bool = True) -> Any:
    """The sorted unique elements (or rows/slices along `axis`) of `ar` (numpy.unique).

    Args:
        ar: an array.
        return_index: also return the index of each value's first occurrence.
        return_inverse: also return the indices that rebuild `ar` from the uniques
            (shaped like `ar` when `axis` is None, as jax).
        return_counts: also return the number of occurrences of each value.
        axis: the axis along which slices are compared; None flattens `ar`.
        equal_nan: treat NaNs as equal (one NaN in the result).
        size: the static number of uniques (extra positions are padded; without
            `fill_value` with the smallest value). Without it, `ar` must be concrete.
        fill_value: the padding value when `size` is given.
        sorted: ignored (the result is always sorted), as in jax.

    Returns:
        The unique values, or a tuple with the requested extras (int arrays).

    >>> import lamina.numpy as lnp
    >>> lnp.unique(lnp.asarray([3, 1, 3, 2]))
    Array([1, 2, 3], dtype=int32)
    """
    del sorted
    check_arraylike("unique", ar)
    arr = asarray(ar)
    if size is None:
        _check_concrete(arr, "unique", "its input")
    else:
        size = _static_size(size, "unique")
    shape = arr.shape
    if axis is None:
        arr, axis_int = _ravel(arr) if arr.ndim != 1 else arr, 0
    else:
        axis_int = canonicalize_axis(operator_index(axis), arr.ndim, "lamina.numpy.unique")
    outs = _unique(arr, axis_int, return_index, return_inverse, return_counts, equal_nan,
                   size, fill_value)
    if return_inverse and axis is None:
        k = 2 if return_index else 1
        outs = outs[:k] + (lax.reshape(outs[k], shape),) + outs[k + 1:]
    return outs[0] if len(outs) == 1 else outs


def unique_values(x: ArrayLike, /, *, size: int | None = None,
                  fill_value: ArrayLike | None = None) -> Array:
    """The sorted unique values of `x` (array API; NaNs are not merged)."""
    check_arraylike("unique_values", x)
    return unique(x, equal_nan=False, size=size, fill_value=fill_value)


def unique_counts(x: ArrayLike, /, *, size: int | None = None,
                  fill_value: ArrayLike | None = None) -> UniqueCountsResult:
    """`(values, counts)` of the unique values of `x` (array API)."""
    check_arraylike("unique_counts", x)
    values, counts = unique(x, return_counts=True, equal_nan=False, size=size,
                            fill_value=fill_value)
    return UniqueCountsResult(values, counts)


def unique_inverse(x: ArrayLike, /, *, size: int | None = None,
                   fill_value: ArrayLike | None = None) -> UniqueInverseResult:
    """`(values, inverse_indices)` of the unique values of `x` (array API)."""
    check_arraylike("unique_inverse", x)
    values, inverse = unique(x, return_inverse=True, equal_nan=False, size=size,
                             fill_value=fill_value)
    return UniqueInverseResult(values, inverse)


def unique_all(x: ArrayLike, /, *, size: int | None = None,
               fill_value: ArrayLike | None = None) -> UniqueAllResult:
    """`(values, indices, inverse_indices, counts)` of the unique values of `x`."""
    check_arraylike("unique_all", x)
    values, indices, inverse, counts = unique(
        x, return_index=True, return_inverse=True, return_counts=True, equal_nan=False,
        size=size, fill_value=fill_value)
    return UniqueAllResult(values, indices, inverse, counts)


def _isin_flat(element: Array, test: Array) -> Array:
    """For 1-D `element`: whether each is in 1-D `test` (compare all pairs)."""
    n, m = element.shape[0], test.shape[0]
    if n == 0 or m == 0:
        return _full((n,), False, np.bool_)
    eq = lax.eq(lax.broadcast_in_dim(element, (n, m), (0,)),
                lax.broadcast_in_dim(test, (n, m), (1,)))
    return lax.reduce_or(eq, (1,))


def _compact(values: Array, keep: Array, size: int | None, fill_value: Any, fun_name: str,
             default_fill: str) -> Array:
    """The kept entries of sorted 1-D `values`, in order, padded to `size`."""
    count_dev = _count_true(keep)
    exact = size is None
    if exact:
        size = _concrete_int(count_dev, fun_name, "its inputs")
    n = values.shape[0]
    if n == 0 or size == 0:
        fill = 0 if fill_value is None else _fill_scalar(fill_value, values.dtype)
        return _full((size,), fill, values.dtype, values.weak_type)
    pos = nonzero(keep, size=size, fill_value=n)[0]
    out = take(values, pos, mode="clip")
    if exact:
        return out
    valid = lax.lt(lax.iota(np.int32, size), count_dev)
    if fill_value is not None:
        fill = _full((size,), _fill_scalar(fill_value, values.dtype), values.dtype,
                     values.weak_type)
    elif default_fill == "first":
        # NOTE: jax pads with the smallest result (the first one).
        fill = lax.broadcast_in_dim(_slice_axis(out, 0, 1), (size,), (0,))
    else:
        fill = _full((size,), 0, values.dtype, values.weak_type)
    return lax.select(valid, out, fill)


def _sorted_firsts(a: Array, assume_unique: bool) -> tuple[Array, Array, Array]:
    """1-D `a` sorted (stably), the mask of first occurrences, and the permutation."""
    n = a.shape[0]
    aux, perm = lax.sort((a, lax.iota(_int_dtype(), n)), num_keys=1, is_stable=True)
    mask = _full((n,), True, np.bool_) if assume_unique else _first_mask(aux, True)
    return aux, mask, perm


def union1d(ar1: ArrayLike, ar2: ArrayLike, *, size: int | None = None,
            fill_value: ArrayLike | None = None) -> Array:
    """The sorted union of the values of two arrays (numpy.union1d).

    Args:
        ar1, ar2: arrays (flattened).
        size: the static length of the result (see `unique`).
        fill_value: the padding when `size` is given.

    Returns:
        A 1-D array.
    """
    check_arraylike("union1d", ar1, ar2)
    a1, a2 = promote_dtypes(_ravel(asarray(ar1)), _ravel(asarray(ar2)))
    return unique(_concat1d([a1, a2]), size=size, fill_value=fill_value)


def intersect1d(ar1: ArrayLike, ar2: ArrayLike, assume_unique: bool = False,
                return_indices: bool = False, *, size: int | None = None,
                fill_value: ArrayLike | None = None) -> Any:
    """The sorted values present in both arrays (numpy.intersect1d).

    Args:
        ar1, ar2: arrays (flattened).
        assume_unique: promise that each input has no repeats.
        return_indices: also return the indices of the first occurrence of each value
            in `ar1` and in `ar2`.
        size: the static length of the result (padded with `fill_value`, default the
            smallest value; indices are padded with the inputs' sizes).
        fill_value: the padding value.

    Returns:
        The intersection, or `(intersection, indices1, indices2)`.
    """
    check_arraylike("intersect1d", ar1, ar2)
    a1, a2 = promote_dtypes(_ravel(asarray(ar1)), _ravel(asarray(ar2)))
    if size is not None:
        size = _static_size(size, "intersect1d")
    aux1, first1, perm1 = _sorted_firsts(a1, assume_unique)
    keep = lax.bitwise_and(first1, _isin_flat(aux1, a2))
    values = _compact(aux1, keep, size, fill_value, "intersect1d", "first")
    if not return_indices:
        return values
    n1, n2 = a1.shape[0], a2.shape[0]
    m = values.shape[0]
    if m == 0 or n1 == 0 or n2 == 0:
        return values, _full((m,), n1, _int_dtype()), _full((m,), n2, _int_dtype())
    pos1 = nonzero(keep, size=m, fill_value=n1)[0]
    ind1 = take(perm1, pos1, mode="fill", fill_value=n1)
    aux2, perm2 = lax.sort((a2, lax.iota(_int_dtype(), n2)), num_keys=1, is_stable=True)
    ind2 = take(perm2, _convert(searchsorted(aux2, values, method="compare_all"), _int_dtype()),
                mode="clip")
    valid = lax.lt(pos1, _const(n1, _int_dtype()))
    ind2 = lax.select(valid, ind2, _full((m,), n2, _int_dtype()))
    return values, ind1, ind2


def setdiff1d(ar1: ArrayLike, ar2: ArrayLike, assume_unique: bool = False, *,
              size: int | None = None, fill_value: ArrayLike | None = None) -> Array:
    """The sorted unique values of `ar1` that are not in `ar2` (numpy.setdiff1d).

    Args:
        ar1, ar2: arrays (flattened); the result has `ar1`'s dtype.
        assume_unique: promise that `ar1` has no repeats.
        size: the static length of the result (padded with `fill_value`, default 0).
        fill_value: the padding value.

    Returns:
        A 1-D array.
    """
    check_arraylike("setdiff1d", ar1, ar2)
    a1, a2 = _ravel(asarray(ar1)), _ravel(asarray(ar2))
    if size is not None:
        size = _static_size(size, "setdiff1d")
    aux1, first1, _ = _sorted_firsts(a1, assume_unique)
    c1, c2 = promote_dtypes(aux1, a2)
    keep = lax.bitwise_and(first1, lax.bitwise_not(_isin_flat(c1, c2)))
    return _compact(aux1, keep, size, fill_value, "setdiff1d", "zero")


def setxor1d(ar1: ArrayLike, ar2: ArrayLike, assume_unique: bool = False, *,
             size: int | None = None, fill_value: ArrayLike | None = None) -> Array:
    """The sorted values in exactly one of the two arrays (numpy.setxor1d).

    Args:
        ar1, ar2: arrays (flattened).
        assume_unique: promise that each input has no repeats.
        size: the static length of the result (padded with `fill_value`, default the
            smallest value).
        fill_value: the padding value.

    Returns:
        A 1-D array.
    """
    check_arraylike("setxor1d", ar1, ar2)
    a1, a2 = promote_dtypes(_ravel(asarray(ar1)), _ravel(asarray(ar2)))
    if size is not None:
        size = _static_size(size, "setxor1d")
    aux1, first1, _ = _sorted_firsts(a1, assume_unique)
    aux2, first2, _ = _sorted_firsts(a2, assume_unique)
    keep1 = lax.bitwise_and(first1, lax.bitwise_not(_isin_flat(aux1, a2)))
    keep2 = lax.bitwise_and(first2, lax.bitwise_not(_isin_flat(aux2, a1)))
    values, keep = _concat1d([aux1, aux2]), _concat1d([keep1, keep2])
    if values.shape[0]:
        # Kept values first, in sorted order.
        _, values, keep = lax.sort((lax.bitwise_not(keep), values, keep), num_keys=2)
    return _compact(values, keep, size, fill_value, "setxor1d", "first")


def isin(element: ArrayLike, test_elements: ArrayLike, assume_unique: bool = False,
         invert: bool = False, *, method: str = "auto") -> Array:
    """Whether each element of `element` is in `test_elements` (numpy.isin).

    Args:
        element: an array.
        test_elements: the values to test against (flattened).
        assume_unique: ignored (a promise that the inputs have no repeats).
        invert: return the negation.
        method: 'auto'/'compare_all' (compare every pair; memory element.size *
            test_elements.size), or 'binary_search'/'sort' (sort `test_elements`, then
            search).

    Returns:
        A bool array of `element`'s shape.
    """
    del assume_unique
    check_arraylike("isin", element, test_elements)
    e, t = promote_dtypes(asarray(element), asarray(test_elements))
    shape = _aval(e).shape
    flat, test = _ravel(e) if e.ndim != 1 else e, _ravel(t) if t.ndim != 1 else t
    if method in ("auto", "compare_all"):
        found = _isin_flat(flat, test)
    elif method in ("binary_search", "sort"):
        if test.shape[0] == 0 or flat.shape[0] == 0:
            found = _full(flat.shape, False, np.bool_)
        else:
            table = lax.sort(test)
            pos = searchsorted(table, flat)
            found = lax.eq(take(table, pos, mode="clip"), flat)
    else:
        raise ValueError(f"lamina.numpy.isin: method={method!r} is not implemented; options "
                         "are 'auto', 'compare_all', 'binary_search' and 'sort'")
    if invert:
        found = lax.bitwise_not(found)
    return lax.reshape(found, shape)


# --------------------------------------------------------------------------------------
# Index construction helpers
# --------------------------------------------------------------------------------------


def ix_(*args: ArrayLike) -> tuple[Array, ...]:
    """An open mesh from 1-D integer sequences (numpy.ix_): `x[ix_(rows, cols)]` picks
    the cross product.

    Args:
        *args: 1-D integer arrays.

    Returns:
        A tuple of arrays, the i-th of shape `(1,..., len(args[i]),..., 1)`.
    """
    check_arraylike("ix_", *args)
    n = len(args)
    out = []
    for i, a in enumerate(args):
        a = asarray(a)
        if a.ndim != 1:
            raise ValueError(f"lamina.numpy.ix_: arguments must be 1-dimensional, got shape "
                             f"{a.shape}")
        if dtypes.is_bool(a.dtype):
            raise NotImplementedError("lamina.numpy.ix_: boolean arguments are not "
                                      "implemented; use lnp.nonzero(mask)[0]")
        shape = [1] * n
        shape[i] = a.shape[0]
        out.append(lax.broadcast_in_dim(a, tuple(shape), (i,)))
    return tuple(out)


def ravel_multi_index(multi_index: Sequence[ArrayLike], dims: Sequence[int], mode: str = "raise",
                      order: str = "C") -> Array:
    """Flat indices from a tuple of coordinate arrays (numpy.ravel_multi_index).

    Args:
        multi_index: one integer array per dimension.
        dims: the array shape.
        mode: 'raise' (concrete indices, checked), 'wrap', 'clip' or 'ignore'.
        order: 'C' (row-major) or 'F' (column-major).

    Returns:
        The flat indices, of the broadcast shape.
    """
    if len(multi_index) != len(dims):
        raise ValueError(f"lamina.numpy.ravel_multi_index: got {len(multi_index)} index arrays "
                         f"for {len(dims)} dimensions")
    dims = tuple(operator_index(d) for d in dims)
    check_arraylike("ravel_multi_index", *multi_index)
    idx = [asarray(i) for i in multi_index]
    for i in idx:
        if not dtypes.is_integer(i.dtype):
            raise TypeError(f"lamina.numpy.ravel_multi_index: only integer indices are "
                            f"permitted, got {i.aval.str_short()}")
    dtype = dtypes.result_type(int, *idx)
    if math.prod(dims) - 1 > np.iinfo(dtype).max:
        raise ValueError(f"lamina.numpy.ravel_multi_index: {dtype} cannot hold the flat "
                         f"indices of shape {dims}")
    idx = [_convert(i, dtype) for i in idx]
    if mode == "raise":
        for i, d in zip(idx, dims):
            if isinstance(i, Tracer):
                raise ConcretizationError(
                    "lamina.numpy.ravel_multi_index with mode='raise' needs concrete indices; "
                    f"got a traced {i.aval.str_short()}. Use mode='wrap' or mode='clip'.")
            bad = lax.bitwise_or(lax.lt(i, _const(0, dtype)), lax.ge(i, _const(d, dtype)))
            if i.size and bool(lax.reduce_or(bad, tuple(range(i.ndim)))):
                raise ValueError("lamina.numpy.ravel_multi_index: invalid entry in coordinates "
                                 "array")
    elif mode == "clip":
        idx = [lax.clamp(_const(0, dtype), i, _const(max(d - 1, 0), dtype))
               for i, d in zip(idx, dims)]
    elif mode == "wrap":
        idx = [_floor_mod(i, d) for i, d in zip(idx, dims)]
    elif mode != "ignore":
        raise ValueError(f"lamina.numpy.ravel_multi_index: invalid mode={mode!r}; expected "
                         "'raise', 'wrap', 'clip' or 'ignore'")
    if order == "C":
        strides = [math.prod(dims[k + 1:]) for k in range(len(dims))]
    elif order == "F":
        strides = [math.prod(dims[:k]) for k in range(len(dims))]
    else:
        raise ValueError(f"lamina.numpy.ravel_multi_index: invalid order={order!r}; expected "
                         "'C' or 'F'")
    shape = broadcast_shapes("ravel_multi_index", *[i.shape for i in idx])
    result = _full(shape, 0, dtype)
    for i, s in zip(idx, strides):
        term = i if s == 1 else lax.mul(i, _const(s, dtype))
        result = lax.add(result, broadcast_to_shape(term, shape))
    return result


def _floor_divmod(x: Array, d: int) -> tuple[Array, Array]:
    """Python's divmod by a positive constant (floor division)."""
    dtype = _aval(x).dtype
    dc = _const(d, dtype)
    q, r = lax.div(x, dc), lax.rem(x, dc)
    if dtypes.is_unsigned_integer(dtype):
        return q, r
    neg = lax.lt(r, _const(0, dtype))
    return (lax.select(neg, lax.sub(q, _const(1, dtype)), q),
            lax.select(neg, lax.add(r, dc), r))


def unravel_index(indices: ArrayLike, shape: Sequence[int]) -> tuple[Array, ...]:
    """Coordinate arrays from flat indices into an array of `shape`
    (numpy.unravel_index; out-of-bounds indices are clamped, as jax).

    Args:
        indices: integer array of flat indices (negative ones count from the end).
        shape: the array shape.

    Returns:
        A tuple of integer arrays of `indices`' shape, one per dimension.
    """
    check_arraylike("unravel_index", indices)
    idx = asarray(indices)
    if not dtypes.is_integer(idx.dtype):
        raise TypeError(f"lamina.numpy.unravel_index: only integer indices are permitted, got "
                        f"{idx.aval.str_short()}")
    try:
        dims = [operator_index(s) for s in shape]
    except TypeError:
        dims = [operator_index(shape)]
    outs: list[Any] = [None] * len(dims)
    rest = idx
    for k in reversed(range(len(dims))):
        rest, outs[k] = _floor_divmod(rest, dims[k]) if dims[k] else (rest, rest)
    dtype = idx.dtype
    too_big = lax.gt(rest, _const(0, dtype))
    too_small = (_full(idx.shape, False, np.bool_) if dtypes.is_unsigned_integer(dtype)
                 else lax.lt(rest, _const(-1, dtype)))
    return tuple(lax.select(too_big, _full(idx.shape, max(d - 1, 0), dtype),
                            lax.select(too_small, _full(idx.shape, 0, dtype), o))
                 for d, o in zip(dims, outs))


def diag_indices_from(arr: ArrayLike) -> tuple[Array, ...]:
    """The indices of the main diagonal of a square N-d array (numpy.diag_indices_from).

    Args:
        arr: an array of rank >= 2 whose dimensions are all equal.

    Returns:
        `arr.ndim` copies of `arange(n)`.
    """
    check_arraylike("diag_indices_from", arr)
    shape = np.shape(arr) if not is_lamina_array(arr) else arr.shape
    if len(shape) < 2:
        raise ValueError("lamina.numpy.diag_indices_from: input array must be at least 2-d")
    if len(set(shape)) != 1:
        raise ValueError(f"lamina.numpy.diag_indices_from: all dimensions of the input must be "
                         f"of equal length, got shape {tuple(shape)}")
    return (lax.iota(_int_dtype(), shape[0]),) * len(shape)


def _triangle_indices(arr: Any, k: int, fun_name: str, upper: bool) -> tuple[Array, Array]:
    shape = arr.shape if hasattr(arr, "shape") else np.shape(arr)
    if len(shape) != 2:
        raise ValueError(f"lamina.numpy.{fun_name}: only 2-D inputs are accepted, got shape "
                         f"{tuple(shape)}")
    k = operator_index(k)
    # NOTE: static index arithmetic on the shape alone (no array values are read).
    rows, cols = (np.triu_indices if upper else np.tril_indices)(shape[0], k, shape[1])
    return asarray(rows.astype(_int_dtype())), asarray(cols.astype(_int_dtype()))


def triu_indices_from(arr: ArrayLike, k: int = 0) -> tuple[Array, Array]:
    """The indices of the upper triangle (diagonal offset `k`) of a 2-D array.

    Args:
        arr: a 2-D array (or anything with a `.shape`).
        k: the diagonal offset.

    Returns:
        `(rows, cols)`.
    """
    return _triangle_indices(arr, k, "triu_indices_from", upper=True)


def tril_indices_from(arr: ArrayLike, k: int = 0) -> tuple[Array, Array]:
    """The indices of the lower triangle (diagonal offset `k`) of a 2-D array.

    Args:
        arr: a 2-D array (or anything with a `.shape`).
        k: the diagonal offset.

    Returns:
        `(rows, cols)`.
    """
    return _triangle_indices(arr, k, "tril_indices_from", upper=False)


def fill_diagonal(a: ArrayLike, val: ArrayLike, wrap: bool = False, *,
                  inplace: bool = True) -> Array:
    """A copy of `a` with its main diagonal set to `val` (numpy.fill_diagonal).

    lamina arrays are immutable: pass `inplace=False` (as in jax).

    Args:
        a: an array of rank >= 2 (all dimensions equal if rank > 2).
        val: a scalar or an array whose flattened values are cycled along the diagonal.
        wrap: for tall 2-D arrays, restart the diagonal below the first square block
            (NumPy's behaviour).
        inplace: must be False.

    Returns:
        The updated array.
    """
    if inplace:
        raise NotImplementedError("lamina.numpy.fill_diagonal cannot modify arrays in place "
                                  "(lamina arrays are immutable); pass inplace=False")
    check_arraylike("fill_diagonal", a, val)
    a, val = asarray(a), asarray(val)
    if a.ndim < 2:
        raise ValueError("lamina.numpy.fill_diagonal: array must be at least 2-d")
    if a.ndim > 2 and len(set(a.shape)) != 1:
        raise ValueError(f"lamina.numpy.fill_diagonal: all dimensions of the input must be of "
                         f"equal length, got shape {a.shape}")
    # NOTE: numpy's definition on the flattened array: every (cols + 1)-th element
    # (with a.ndim > 2, every sum(strides)-th), stopping after the first square block
    # unless `wrap`.
    if a.ndim == 2:
        step = a.shape[1] + 1
        end = a.size if wrap else min(a.shape[0], a.shape[1]) * a.shape[1]
    else:
        step = sum(math.prod(a.shape[k + 1:]) for k in range(a.ndim))
        end = a.size
    positions = np.arange(0, end, step, dtype=np.int32)
    n = positions.shape[0]
    if n == 0:
        return a
    if val.ndim:
        flat = _ravel(val)
        if flat.shape[0] == 0:
            return a
        values = take(flat, np.arange(n, dtype=np.int32) % flat.shape[0], mode="clip")
    else:
        values = val
    out = _scatter_update(_ravel(a), positions, values, "set", indices_are_sorted=True,
                          unique_indices=True, mode=None, normalize=False)
    return lax.reshape(out, a.shape)
