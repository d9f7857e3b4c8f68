"""Transformation rules (JVP, transpose, batching) of the structural primitives.

Imported at the end of `lamina.lax.structural` (kept apart so that the family module
stays readable); one block per primitive, in that module's order. Every primitive here
is linear in its array operands (index operands are not differentiable), so its JVP
applies the primitive to the tangents (`ad.deflinear`, or a rule that skips the
indices) and its transpose is the "inverse layout" op: broadcast <-> sum, slice <->
pad, concatenate <-> slices, dynamic_slice <-> dynamic_update_slice. Transposes return
cotangents of exactly the linear operand's shape and dtype.

Batching rules run in the parent trace on the underlying values; most move the batch
dimension to the front (`batching.bdim_at_front`, which broadcasts unmapped operands)
and shift the primitive's dimension parameters by one. `iota` has no operands, so it
never meets a JVP, transpose or batch rule (its tangent is a symbolic zero).
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from lamina.interpreters import ad, batching
from lamina.ir import shaped_abstractify
from lamina.lax import structural as S

not_mapped = batching.not_mapped


def _zero(dtype: Any) -> np.ndarray:
    return np.zeros((), dtype)


def _ct_value(ct: Any) -> Any:
    """A cotangent as an array (symbolic zeros instantiated)."""
    return ad.instantiate_zeros(ct)


def _reduce_sum(x: Any, axes: Sequence[int]) -> Any:
    from lamina.lax import reductions
    return reductions.reduce_sum(x, tuple(axes)) if axes else x


def _shift(dims: Sequence[int]) -> tuple[int, ...]:
    """Dimension numbers of an operand that gained a leading batch dimension."""
    return tuple(d + 1 for d in dims)


# --------------------------------------------------------------------------------------
# broadcast_in_dim
# --------------------------------------------------------------------------------------


def _broadcast_in_dim_transpose(ct: Any, operand: Any, *, shape: tuple[int, ...],
                                broadcast_dimensions: tuple[int, ...]) -> list[Any]:
    aval = operand.aval
    # NOTE: sum the new dimensions and the size-1 operand dimensions that were
    # stretched; the kept dimensions come out in operand order, so a reshape puts the
    # stretched unit dimensions back.
    stretched = [d for i, d in enumerate(broadcast_dimensions)
                 if aval.shape[i] == 1 and shape[d] != 1]
    new = [d for d in range(len(shape)) if d not in broadcast_dimensions]
    summed = _reduce_sum(_ct_value(ct), sorted(new + stretched))
    return [S.reshape(summed, aval.shape)]


def _broadcast_in_dim_batch(args: list[Any], dims: list[Any], *, shape: tuple[int, ...],
                            broadcast_dimensions: tuple[int, ...]) -> tuple[Any, int]:
    (x,), (d,) = args, dims
    x = batching.moveaxis(x, d, 0)
    size = shaped_abstractify(x).shape[0]
    return S.broadcast_in_dim(x, (size, *shape), (0, *_shift(broadcast_dimensions))), 0


ad.deflinear(S.broadcast_in_dim_p, _broadcast_in_dim_transpose)
batching.primitive_batchers[S.broadcast_in_dim_p] = _broadcast_in_dim_batch


# --------------------------------------------------------------------------------------
# reshape
# --------------------------------------------------------------------------------------


def _reshape_transpose(ct: Any, operand: Any, *, new_sizes: tuple[int, ...],
                       dimensions: tuple[int, ...] | None) -> list[Any]:
    shape = operand.aval.shape
    ct = _ct_value(ct)
    if dimensions is None:
        return [S.reshape(ct, shape)]
    # NOTE: the primitive transposed by `dimensions` before reshaping; undo both.
    moved = S.reshape(ct, tuple(shape[d] for d in dimensions))
    return [S.transpose(moved, tuple(int(i) for i in np.argsort(dimensions)))]


def _reshape_batch(args: list[Any], dims: list[Any], *, new_sizes: tuple[int, ...],
                   dimensions: tuple[int, ...] | None) -> tuple[Any, int]:
    (x,), (d,) = args, dims
    x = batching.moveaxis(x, d, 0)
    size = shaped_abstractify(x).shape[0]
    perm = None if dimensions is None else (0, *_shift(dimensions))
    return S.reshape(x, (size, *new_sizes), perm), 0


ad.deflinear(S.reshape_p, _reshape_transpose)
batching.primitive_batchers[S.reshape_p] = _reshape_batch


# --------------------------------------------------------------------------------------
# transpose
# --------------------------------------------------------------------------------------


def _transpose_transpose(ct: Any, operand: Any, *,
                         permutation: tuple[int, ...]) -> list[Any]:
    inverse = tuple(int(i) for i in np.argsort(permutation))
    return [S.transpose(_ct_value(ct), inverse)]


def _transpose_batch(args: list[Any], dims: list[Any], *,
                     permutation: tuple[int, ...]) -> tuple[Any, int]:
    (x,), (d,) = args, dims
    # NOTE: keep the batch dimension where it is: output dimension d holds it.
    unbatched = [p + (p >= d) for p in permutation]
    perm = (*unbatched[:d], d, *unbatched[d:])
    return S.transpose(x, perm), d


ad.deflinear(S.transpose_p, _transpose_transpose)
batching.primitive_batchers[S.transpose_p] = _transpose_batch


# --------------------------------------------------------------------------------------
# squeeze
# --------------------------------------------------------------------------------------


def _squeeze_transpose(ct: Any, operand: Any, *, dimensions: tuple[int, ...]) -> list[Any]:
    return [S.reshape(_ct_value(ct), operand.aval.shape)]


def _squeeze_batch(args: list[Any], dims: list[Any], *,
                   dimensions: tuple[int, ...]) -> tuple[Any, int]:
    (x,), (d,) = args, dims
    x = batching.moveaxis(x, d, 0)
    return S.squeeze(x, _shift(dimensions)), 0


ad.deflinear(S.squeeze_p, _squeeze_transpose)
batching.primitive_batchers[S.squeeze_p] = _squeeze_batch


# --------------------------------------------------------------------------------------
# rev
# --------------------------------------------------------------------------------------


def _rev_transpose(ct: Any, operand: Any, *, dimensions: tuple[int, ...]) -> list[Any]:
    return [S.rev(_ct_value(ct), dimensions)]


def _rev_batch(args: list[Any], dims: list[Any], *,
               dimensions: tuple[int, ...]) -> tuple[Any, int]:
    (x,), (d,) = args, dims
    return S.rev(x, tuple(a + (a >= d) for a in dimensions)), d


ad.deflinear(S.rev_p, _rev_transpose)
batching.primitive_batchers[S.rev_p] = _rev_batch


# --------------------------------------------------------------------------------------
# slice
# --------------------------------------------------------------------------------------


def _slice_transpose(ct: Any, operand: Any, *, start_indices: tuple[int, ...],
                     limit_indices: tuple[int, ...],
                     strides: tuple[int, ...] | None) -> list[Any]:
    aval = operand.aval
    ct = _ct_value(ct)
    ct_shape = shaped_abstractify(ct).shape
    steps = strides or (1,) * aval.ndim
    # NOTE: the last element read is start + (n - 1) * stride; pad from there (not
    # from `limit`, which a stride may overshoot), with stride - 1 interior zeros.
    config = []
    for start, n, step, dim in zip(start_indices, ct_shape, steps, aval.shape):
        end = start + (0 if n == 0 else (n - 1) * step + 1)
        config.append((start, dim - end, step - 1))
    return [S.pad(ct, _zero(aval.dtype), config)]


def _slice_batch(args: list[Any], dims: list[Any], *, start_indices: tuple[int, ...],
                 limit_indices: tuple[int, ...],
                 strides: tuple[int, ...] | None) -> tuple[Any, int]:
    (x,), (d,) = args, dims
    size = shaped_abstractify(x).shape[d]
    starts, limits = list(start_indices), list(limit_indices)
    starts.insert(d, 0)
    limits.insert(d, size)
    steps = None
    if strides is not None:
        steps = list(strides)
        steps.insert(d, 1)
    return S.slice(x, starts, limits, steps), d


ad.deflinear(S.slice_p, _slice_transpose)
batching.primitive_batchers[S.slice_p] = _slice_batch


# --------------------------------------------------------------------------------------
# dynamic_slice (operand linear; start indices are integer operands, not differentiable)
# --------------------------------------------------------------------------------------


def _dynamic_slice_jvp(primals: list[Any], tangents: list[Any], *,
                       slice_sizes: tuple[int, ...]) -> tuple[Any, Any]:
    operand, *indices = primals
    out = S.dynamic_slice_p.bind(operand, *indices, slice_sizes=slice_sizes)
    t = tangents[0]
    if isinstance(t, ad.Zero):
        return out, ad.Zero.like(out)
    return out, S.dynamic_slice_p.bind(t, *indices, slice_sizes=slice_sizes)


def _dynamic_slice_transpose(ct: Any, operand: Any, *indices: Any,
                             slice_sizes: tuple[int, ...]) -> list[Any]:
    assert ad.is_undefined_primal(operand)
    assert not any(ad.is_undefined_primal(i) for i in indices)
    aval = operand.aval
    zeros = S.full(aval.shape, 0, aval.dtype)
    ct_operand = S.dynamic_update_slice_p.bind(zeros, _ct_value(ct), *indices)
    return [ct_operand, *[None] * len(indices)]


def _stacked_indices(indices: Sequence[Any], dims: Sequence[Any], size: int) -> Any:
    """The scalar start indices (some mapped) as one `(size, n)` array of index vectors."""
    cols = [S.broadcast_in_dim(batching.bdim_at_front(i, d, size), (size, 1), (0,))
            for i, d in zip(indices, dims)]
    return S.concatenate(cols, 1)


def _index_dtype(indices: Sequence[Any]) -> np.dtype:
    from lamina import dtypes
    return shaped_abstractify(indices[0]).dtype if indices else dtypes.default_int_dtype()


def _clip_mode() -> Any:
    from lamina.lax import indexing
    return indexing.GatherScatterMode.CLIP


def _dynamic_slice_batch(args: list[Any], dims: list[Any], *,
                         slice_sizes: tuple[int, ...]) -> tuple[Any, int]:
    (operand, *indices), (op_dim, *idx_dims) = args, dims
    size = batching.dim_size(args, dims)
    if all(d is not_mapped for d in idx_dims):
        # NOTE: same window in every lane: slice the whole batch dimension.
        indices = list(indices)
        indices.insert(op_dim, _zero(_index_dtype(indices)))
        sizes = list(slice_sizes)
        sizes.insert(op_dim, size)
        return S.dynamic_slice_p.bind(operand, *indices, slice_sizes=tuple(sizes)), op_dim
    # Per-lane windows: a gather (as jax). NOTE: mode CLIP clamps the indices in the
    # program, as dynamic_slice does; XLA's own clamping (PROMISE_IN_BOUNDS) would
    # not carry over to the transpose, a scatter_add that drops windows out of bounds.
    from lamina.lax import indexing
    n = len(slice_sizes)
    starts = _stacked_indices(indices, idx_dims, size)
    if op_dim is not_mapped:
        dnums = indexing.GatherDimensionNumbers(
            offset_dims=tuple(range(1, n + 1)), collapsed_slice_dims=(),
            start_index_map=tuple(range(n)))
        return indexing.gather(operand, starts, dnums, slice_sizes, mode=_clip_mode()), 0
    operand = batching.moveaxis(operand, op_dim, 0)
    dnums = indexing.GatherDimensionNumbers(
        offset_dims=tuple(range(1, n + 1)), collapsed_slice_dims=(),
        start_index_map=tuple(range(1, n + 1)), operand_batching_dims=(0,),
        start_indices_batching_dims=(0,))
    return indexing.gather(operand, starts, dnums, (1, *slice_sizes), mode=_clip_mode()), 0


ad.primitive_jvps[S.dynamic_slice_p] = _dynamic_slice_jvp
ad.primitive_transposes[S.dynamic_slice_p] = _dynamic_slice_transpose
batching.primitive_batchers[S.dynamic_slice_p] = _dynamic_slice_batch


# --------------------------------------------------------------------------------------
# dynamic_update_slice (linear in operand and update jointly)
# --------------------------------------------------------------------------------------


def _dynamic_update_slice_jvp(primals: list[Any], tangents: list[Any]) -> tuple[Any, Any]:
    operand, update, *indices = primals
    t_operand, t_update = tangents[:2]
    out = S.dynamic_update_slice_p.bind(operand, update, *indices)
    if isinstance(t_operand, ad.Zero) and isinstance(t_update, ad.Zero):
        return out, ad.Zero.like(out)
    t_operand, t_update = ad.instantiate_zeros(t_operand), ad.instantiate_zeros(t_update)
    return out, S.dynamic_update_slice_p.bind(t_operand, t_update, *indices)


def _dynamic_update_slice_transpose(ct: Any, operand: Any, update: Any,
                                    *indices: Any) -> list[Any]:
    assert not any(ad.is_undefined_primal(i) for i in indices)
    ct = _ct_value(ct)
    update_aval = (update.aval if ad.is_undefined_primal(update)
                   else shaped_abstractify(update))
    ct_operand = ct_update = None
    if ad.is_undefined_primal(operand):
        zeros = S.full(update_aval.shape, 0, update_aval.dtype)
        ct_operand = S.dynamic_update_slice_p.bind(ct, zeros, *indices)
    if ad.is_undefined_primal(update):
        ct_update = S.dynamic_slice_p.bind(ct, *indices, slice_sizes=update_aval.shape)
    return [ct_operand, ct_update, *[None] * len(indices)]


def _dynamic_update_slice_batch(args: list[Any], dims: list[Any]) -> tuple[Any, int]:
    (operand, update, *indices), (op_dim, up_dim, *idx_dims) = args, dims
    size = batching.dim_size(args, dims)
    operand = batching.bdim_at_front(operand, op_dim, size)
    update = batching.bdim_at_front(update, up_dim, size)
    if all(d is not_mapped for d in idx_dims):
        zero = _zero(_index_dtype(indices))
        return S.dynamic_update_slice_p.bind(operand, update, zero, *indices), 0
    # Per-lane windows: a scatter with clipped indices (as jax), which clamps windows
    # into bounds exactly as dynamic_update_slice does.
    from lamina.lax import indexing
    n = len(indices)
    starts = _stacked_indices(indices, idx_dims, size)
    dnums = indexing.ScatterDimensionNumbers(
        update_window_dims=tuple(range(1, n + 1)), inserted_window_dims=(),
        scatter_dims_to_operand_dims=tuple(range(1, n + 1)), operand_batching_dims=(0,),
        scatter_indices_batching_dims=(0,))
    return indexing.scatter(operand, starts, update, dnums,
                            mode=_clip_mode()), 0


ad.primitive_jvps[S.dynamic_update_slice_p] = _dynamic_update_slice_jvp
ad.primitive_transposes[S.dynamic_update_slice_p] = _dynamic_update_slice_transpose
batching.primitive_batchers[S.dynamic_update_slice_p] = _dynamic_update_slice_batch


# --------------------------------------------------------------------------------------
# concatenate
# --------------------------------------------------------------------------------------


def _concatenate_transpose(ct: Any, *operands: Any, dimension: int) -> list[Any]:
    ct = _ct_value(ct)
    out: list[Any] = []
    start = 0
    for x in operands:
        aval = x.aval if ad.is_undefined_primal(x) else shaped_abstractify(x)
        stop = start + aval.shape[dimension]
        out.append(S.slice_in_dim(ct, start, stop, 1, dimension)
                   if ad.is_undefined_primal(x) else None)
        start = stop
    return out


def _concatenate_batch(args: list[Any], dims: list[Any], *,
                       dimension: int) -> tuple[Any, int]:
    size = batching.dim_size(args, dims)
    operands = [batching.bdim_at_front(x, d, size) for x, d in zip(args, dims)]
    return S.concatenate(operands, dimension + 1), 0


ad.deflinear(S.concatenate_p, _concatenate_transpose)
batching.primitive_batchers[S.concatenate_p] = _concatenate_batch


# --------------------------------------------------------------------------------------
# pad (linear in operand and padding value jointly)
# --------------------------------------------------------------------------------------


def _pad_transpose(ct: Any, operand: Any, padding_value: Any, *,
                   padding_config: tuple[tuple[int, int, int], ...]) -> list[Any]:
    ct = _ct_value(ct)
    aval = operand.aval if ad.is_undefined_primal(operand) else shaped_abstractify(operand)
    # NOTE: undo the edges with the opposite pad (a negative edge pad crops, and
    # cropped elements get zero cotangent back), then stride over the interior.
    lo, hi, interior = zip(*padding_config) if padding_config else ((), (), ())
    unpadded = S.pad(ct, _zero(aval.dtype), [(-a, -b, 0) for a, b in zip(lo, hi)])
    ct_operand = S.slice(unpadded, (0,) * aval.ndim, shaped_abstractify(unpadded).shape,
                         tuple(i + 1 for i in interior))
    ct_padding = None
    if ad.is_undefined_primal(padding_value):
        from lamina.lax import elementwise
        every = _reduce_sum(ct, range(aval.ndim))
        ct_padding = elementwise.sub(every, _reduce_sum(ct_operand, range(aval.ndim)))
    return [ct_operand if ad.is_undefined_primal(operand) else None, ct_padding]


def _pad_batch(args: list[Any], dims: list[Any], *,
               padding_config: tuple[tuple[int, int, int], ...]) -> tuple[Any, int]:
    (operand, padding_value), (op_dim, pv_dim) = args, dims
    size = batching.dim_size(args, dims)
    if pv_dim is not_mapped:
        config = list(padding_config)
        config.insert(op_dim, (0, 0, 0))
        return S.pad(operand, padding_value, config), op_dim
    # NOTE: a per-lane padding value: pad with zeros, then select the lane's value
    # wherever a mask padded the same way says "padding".
    from lamina.lax import elementwise
    x = batching.bdim_at_front(operand, op_dim, size)
    aval = shaped_abstractify(x)
    config = [(0, 0, 0), *padding_config]
    padded = S.pad(x, _zero(aval.dtype), config)
    mask = S.pad(S.full(aval.shape, True, np.bool_), np.False_, config)
    out_shape = shaped_abstractify(padded).shape
    values = S.broadcast_in_dim(batching.moveaxis(padding_value, pv_dim, 0), out_shape, (0,))
    return elementwise.select(mask, padded, values), 0


ad.deflinear(S.pad_p, _pad_transpose)
batching.primitive_batchers[S.pad_p] = _pad_batch


# --------------------------------------------------------------------------------------
# iota (no operands: the JVP and batching traces never see it; registered for the
# completeness of the JVP table only)
# --------------------------------------------------------------------------------------

ad.defjvp_zero(S.iota_p)


# --------------------------------------------------------------------------------------
# split
# --------------------------------------------------------------------------------------


def _split_transpose(cts: list[Any], operand: Any, *, sizes: tuple[int, ...],
                     axis: int) -> list[Any]:
    pieces = [_ct_value(ct) for ct in cts]
    return [S.concatenate(pieces, axis)]


def _split_batch(args: list[Any], dims: list[Any], *, sizes: tuple[int, ...],
                 axis: int) -> tuple[list[Any], list[int]]:
    (x,), (d,) = args, dims
    axis = axis + (axis >= d)
    return S.split(x, sizes, axis), [d] * len(sizes)


ad.deflinear(S.split_p, _split_transpose)
batching.primitive_batchers[S.split_p] = _split_batch
