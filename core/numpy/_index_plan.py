"""Index parsing and the gather plan shared by `x[idx]` and `x.at[idx]` (private).

`_parse` turns a NumPy index into `_Entry`s (one per index element, with the axes of x
it consumes); `_plan` maps the entries onto one `lax.gather` (and, for `x.at[idx]`, the
matching scatter). Separate from `indexing` because both the read and the update paths,
and `selection`, build on it, and it is the bulk of the indexing logic.
"""
from __future__ import annotations

import operator
from typing import Any, NamedTuple, Sequence

import numpy as np

from lamina import dtypes, lax
from lamina.errors import ConcretizationError
from lamina.ir import Tracer
from lamina.numpy._util import asarray, broadcast_shapes, is_lamina_array
from lamina.numpy._lax_helpers import _const, _convert, _index_dtype


Array = Any  # lamina.Array or a Tracer
ArrayLike = Any


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
    # NOTE: imported here: selection builds on indexing, which builds on this module.
    from lamina.numpy.selection import nonzero

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
