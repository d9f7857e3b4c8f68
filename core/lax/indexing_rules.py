"""Transformation rules (JVP, transpose, batching) of the gather/scatter family.

Imported at the end of `lamina.lax.indexing` (which would otherwise grow past the size
cap); every rule here registers itself in `ad.primitive_jvps`,
`ad.primitive_transposes` or `batching.primitive_batchers`.

* gather is linear in the operand: its transpose scatter-adds the cotangent into zeros
  with the mirrored dimension numbers and the same mode.
* scatter_add/scatter_sub are linear in (operand, updates): the operand's cotangent is
  the output's, the updates' is the inverse gather of it.
* scatter_mul is linear in the operand for fixed updates; its derivative in the
  updates needs `unique_indices=True` (as in jax).
* scatter (set) sends the tangents through the same scatter when the indices are
  unique; otherwise it decides the winning update of every overwritten position by
  scattering update ids, masks the losers, and finishes with scatter-adds (jax's
  scheme), so no scatter transpose is needed under reverse mode.
* scatter_min/scatter_max share ties evenly between the operand and the equal updates.
* Indices are never differentiable. Batching folds the vmapped axis into the
  dimension numbers: an extra window dimension when only the operand (and updates)
  are mapped, an extra indices batch dimension when only the indices are, and an
  operand/indices batching-dimension pair when both are.
"""
from __future__ import annotations

import math
from typing import Any, Callable, Sequence

import numpy as np

from lamina.interpreters import ad, batching
from lamina.ir import Primitive
from lamina.lax import elementwise as ew
from lamina.lax import structural as st
from lamina.lax._util import aval_of
from lamina.lax.indexing import (GatherDimensionNumbers, GatherScatterMode,
                                 ScatterDimensionNumbers, gather, gather_p, scatter,
                                 scatter_add, scatter_add_p, scatter_max_p, scatter_min_p,
                                 scatter_mul, scatter_mul_p, scatter_p, scatter_sub_p)

not_mapped = batching.not_mapped


def _shift(dims: Sequence[int], by: int = 1) -> tuple[int, ...]:
    return tuple(d + by for d in dims)


def _zeros(shape: Sequence[int], dtype: np.dtype) -> Any:
    return st.full(tuple(shape), 0, dtype)


def _is_zero(t: Any) -> bool:
    return isinstance(t, ad.Zero)


# --------------------------------------------------------------------------------------
# The gather that undoes a scatter, and the scatter that transposes a gather
# --------------------------------------------------------------------------------------


def _inverse_gather_dnums(dn: ScatterDimensionNumbers) -> GatherDimensionNumbers:
    return GatherDimensionNumbers(
        offset_dims=tuple(dn.update_window_dims),
        collapsed_slice_dims=tuple(dn.inserted_window_dims),
        start_index_map=tuple(dn.scatter_dims_to_operand_dims),
        operand_batching_dims=tuple(dn.operand_batching_dims),
        start_indices_batching_dims=tuple(dn.scatter_indices_batching_dims))


def _inverse_slice_sizes(operand_ndim: int, updates_shape: Sequence[int],
                         dn: ScatterDimensionNumbers) -> tuple[int, ...]:
    """The window of the scatter in every operand dimension (1 if inserted/batched)."""
    windows = iter(updates_shape[d] for d in dn.update_window_dims)
    return tuple(1 if (i in dn.inserted_window_dims or i in dn.operand_batching_dims)
                 else next(windows) for i in range(operand_ndim))


def _gather_updates(x: Any, indices: Any, updates_shape: Sequence[int],
                    dn: ScatterDimensionNumbers, mode: GatherScatterMode,
                    indices_are_sorted: bool = False, unique_indices: bool = False) -> Any:
    """Read back, from an operand-shaped `x`, the windows a scatter with `dn` writes:
    one value per element of `updates` (0 where a window is out of bounds and the
    mode drops it)."""
    # NOTE: out-of-bounds windows are dropped by FILL_OR_DROP scatters, so their
    # gathered values must be 0 (fill); CLIP clamps both the same way.
    return gather(x, indices, _inverse_gather_dnums(dn),
                  _inverse_slice_sizes(aval_of(x).ndim, updates_shape, dn),
                  indices_are_sorted=indices_are_sorted, unique_indices=unique_indices,
                  mode=mode, fill_value=0 if mode == GatherScatterMode.FILL_OR_DROP else None)


def _transpose_scatter_dnums(dn: GatherDimensionNumbers) -> ScatterDimensionNumbers:
    return ScatterDimensionNumbers(
        update_window_dims=tuple(dn.offset_dims),
        inserted_window_dims=tuple(dn.collapsed_slice_dims),
        scatter_dims_to_operand_dims=tuple(dn.start_index_map),
        operand_batching_dims=tuple(dn.operand_batching_dims),
        scatter_indices_batching_dims=tuple(dn.start_indices_batching_dims))


# --------------------------------------------------------------------------------------
# gather
# --------------------------------------------------------------------------------------


def _gather_jvp(g: Any, operand: Any, indices: Any, *, dimension_numbers: Any,
                slice_sizes: tuple[int, ...], unique_indices: bool, indices_are_sorted: bool,
                mode: GatherScatterMode, fill_value: Any) -> Any:
    del operand, fill_value  # out-of-bounds windows are constant: zero tangent
    return gather(g, indices, dimension_numbers, slice_sizes, unique_indices=unique_indices,
                  indices_are_sorted=indices_are_sorted, mode=mode,
                  fill_value=0 if mode == GatherScatterMode.FILL_OR_DROP else None)


def _gather_transpose(ct: Any, operand: Any, indices: Any, *, dimension_numbers: Any,
                      slice_sizes: tuple[int, ...], unique_indices: bool,
                      indices_are_sorted: bool, mode: GatherScatterMode,
                      fill_value: Any) -> list[Any]:
    del slice_sizes, fill_value
    assert ad.is_undefined_primal(operand) and not ad.is_undefined_primal(indices)
    aval = operand.aval
    if _is_zero(ct):
        return [ad.Zero(aval), None]
    # NOTE: PROMISE_IN_BOUNDS gathers clamp but scatters drop; as in jax, the two
    # agree for the promised in-bounds indices.
    out = scatter_add(_zeros(aval.shape, aval.dtype), indices, ct,
                      _transpose_scatter_dnums(dimension_numbers),
                      indices_are_sorted=indices_are_sorted, unique_indices=unique_indices,
                      mode=mode)
    return [out, None]


def _gather_batch(args: Sequence[Any], dims: Sequence[Any], *, dimension_numbers: Any,
                  slice_sizes: tuple[int, ...], unique_indices: bool,
                  indices_are_sorted: bool, mode: GatherScatterMode,
                  fill_value: Any) -> tuple[Any, int]:
    operand, indices = args
    operand_bdim, indices_bdim = dims
    dn = dimension_numbers
    params = dict(mode=mode, fill_value=fill_value)
    if indices_bdim is not_mapped:
        # The batch axis becomes a full-size window dimension, first in the output.
        operand = batching.moveaxis(operand, operand_bdim, 0)
        size = aval_of(operand).shape[0]
        new = GatherDimensionNumbers(
            offset_dims=(0, *_shift(dn.offset_dims)),
            collapsed_slice_dims=_shift(dn.collapsed_slice_dims),
            start_index_map=_shift(dn.start_index_map),
            operand_batching_dims=_shift(dn.operand_batching_dims),
            start_indices_batching_dims=tuple(dn.start_indices_batching_dims))
        return gather(operand, indices, new, (size, *slice_sizes),
                      unique_indices=unique_indices, indices_are_sorted=indices_are_sorted,
                      **params), 0
    indices = batching.moveaxis(indices, indices_bdim, 0)
    if operand_bdim is not_mapped:
        # The batch axis is one more batch dimension of the indices, first in the output.
        new = GatherDimensionNumbers(
            offset_dims=_shift(dn.offset_dims),
            collapsed_slice_dims=tuple(dn.collapsed_slice_dims),
            start_index_map=tuple(dn.start_index_map),
            operand_batching_dims=tuple(dn.operand_batching_dims),
            start_indices_batching_dims=_shift(dn.start_indices_batching_dims))
        # NOTE: different lanes may read the same windows, in any order.
        return gather(operand, indices, new, slice_sizes, unique_indices=False,
                      indices_are_sorted=False, **params), 0
    # Both mapped: pair the two batch axes as batching dimensions.
    operand = batching.moveaxis(operand, operand_bdim, 0)
    size = aval_of(operand).shape[0]
    new = GatherDimensionNumbers(
        offset_dims=_shift(dn.offset_dims),
        collapsed_slice_dims=_shift(dn.collapsed_slice_dims),
        start_index_map=_shift(dn.start_index_map),
        operand_batching_dims=(0, *_shift(dn.operand_batching_dims)),
        start_indices_batching_dims=(0, *_shift(dn.start_indices_batching_dims)))
    return gather(operand, indices, new, (min(size, 1), *slice_sizes),
                  unique_indices=unique_indices, indices_are_sorted=indices_are_sorted,
                  **params), 0


ad.defjvp(gather_p, _gather_jvp, None)
ad.primitive_transposes[gather_p] = _gather_transpose
batching.primitive_batchers[gather_p] = _gather_batch


# --------------------------------------------------------------------------------------
# Scatter family: shared pieces
# --------------------------------------------------------------------------------------


def _scatter_batch_rule(prim: Primitive) -> Callable[..., Any]:
    def rule(args: Sequence[Any], dims: Sequence[Any], *,
             dimension_numbers: ScatterDimensionNumbers, indices_are_sorted: bool,
             unique_indices: bool, mode: GatherScatterMode) -> tuple[Any, int]:
        operand, indices, updates = args
        operand_bdim, indices_bdim, updates_bdim = dims
        dn = dimension_numbers
        size = batching.dim_size(args, dims)
        operand = batching.bdim_at_front(operand, operand_bdim, size)
        updates = batching.bdim_at_front(updates, updates_bdim, size)
        if indices_bdim is not_mapped:
            # The batch axis is a full-size window dimension of the updates.
            new = ScatterDimensionNumbers(
                update_window_dims=(0, *_shift(dn.update_window_dims)),
                inserted_window_dims=_shift(dn.inserted_window_dims),
                scatter_dims_to_operand_dims=_shift(dn.scatter_dims_to_operand_dims),
                operand_batching_dims=_shift(dn.operand_batching_dims),
                scatter_indices_batching_dims=tuple(dn.scatter_indices_batching_dims))
        else:
            indices = batching.moveaxis(indices, indices_bdim, 0)
            new = ScatterDimensionNumbers(
                update_window_dims=_shift(dn.update_window_dims),
                inserted_window_dims=_shift(dn.inserted_window_dims),
                scatter_dims_to_operand_dims=_shift(dn.scatter_dims_to_operand_dims),
                operand_batching_dims=(0, *_shift(dn.operand_batching_dims)),
                scatter_indices_batching_dims=(0, *_shift(dn.scatter_indices_batching_dims)))
        return prim.bind(operand, indices, updates, dimension_numbers=new,
                         indices_are_sorted=indices_are_sorted, unique_indices=unique_indices,
                         mode=mode), 0

    rule.__name__ = f"_{prim.name}_batch"
    return rule


for _prim in (scatter_p, scatter_add_p, scatter_sub_p, scatter_mul_p, scatter_min_p,
              scatter_max_p):
    batching.primitive_batchers[_prim] = _scatter_batch_rule(_prim)


# scatter_add / scatter_sub ------------------------------------------------------------


def _scatter_addsub_jvp(prim: Primitive) -> Callable[..., Any]:
    def rule(primals: Sequence[Any], tangents: Sequence[Any], **params: Any) -> tuple[Any, Any]:
        operand, indices, updates = primals
        g_operand, _, g_updates = tangents  # indices: not differentiable
        out = prim.bind(operand, indices, updates, **params)
        if _is_zero(g_operand) and _is_zero(g_updates):
            return out, ad.Zero.like(out)
        return out, prim.bind(ad.instantiate_zeros(g_operand), indices,
                              ad.instantiate_zeros(g_updates), **params)

    rule.__name__ = f"_{prim.name}_jvp"
    return rule


def _scatter_addsub_transpose(prim: Primitive) -> Callable[..., Any]:
    def rule(ct: Any, operand: Any, indices: Any, updates: Any, *,
             dimension_numbers: ScatterDimensionNumbers, indices_are_sorted: bool,
             unique_indices: bool, mode: GatherScatterMode) -> list[Any]:
        assert not ad.is_undefined_primal(indices)
        operand_ct = updates_ct = None
        if _is_zero(ct):
            if ad.is_undefined_primal(operand):
                operand_ct = ad.Zero(operand.aval)
            if ad.is_undefined_primal(updates):
                updates_ct = ad.Zero(updates.aval)
            return [operand_ct, None, updates_ct]
        if ad.is_undefined_primal(operand):
            operand_ct = ct
        if ad.is_undefined_primal(updates):
            updates_ct = _gather_updates(ct, indices, updates.aval.shape, dimension_numbers,
                                         mode, indices_are_sorted, unique_indices)
            if prim is scatter_sub_p:
                updates_ct = ew.neg(updates_ct)
        return [operand_ct, None, updates_ct]

    rule.__name__ = f"_{prim.name}_transpose"
    return rule


for _prim in (scatter_add_p, scatter_sub_p):
    ad.primitive_jvps[_prim] = _scatter_addsub_jvp(_prim)
    ad.primitive_transposes[_prim] = _scatter_addsub_transpose(_prim)


# scatter_mul --------------------------------------------------------------------------

_MUL_NOT_UNIQUE = ("scatter_mul: the derivative with respect to the updates is only "
                   "implemented for unique_indices=True (as in jax); with repeated indices "
                   "the product of several updates lands on one element")


def _scatter_mul_jvp_operand(g: Any, operand: Any, indices: Any, updates: Any,
                             **params: Any) -> Any:
    del operand
    return scatter_mul_p.bind(g, indices, updates, **params)


def _scatter_mul_jvp_updates(g: Any, operand: Any, indices: Any, updates: Any, *,
                             dimension_numbers: ScatterDimensionNumbers,
                             indices_are_sorted: bool, unique_indices: bool,
                             mode: GatherScatterMode) -> Any:
    del updates
    if not unique_indices:
        raise NotImplementedError(_MUL_NOT_UNIQUE)
    aval = aval_of(operand)
    # Unique windows: out = operand * update there, so d out = operand * g there.
    spread = scatter_add(_zeros(aval.shape, aval.dtype), indices, g, dimension_numbers,
                         indices_are_sorted=indices_are_sorted, unique_indices=True, mode=mode)
    return ew.mul(operand, spread)


def _scatter_mul_transpose(ct: Any, operand: Any, indices: Any, updates: Any, *,
                           dimension_numbers: ScatterDimensionNumbers,
                           indices_are_sorted: bool, unique_indices: bool,
                           mode: GatherScatterMode) -> list[Any]:
    assert not ad.is_undefined_primal(indices)
    params = dict(indices_are_sorted=indices_are_sorted, unique_indices=unique_indices,
                  mode=mode)
    operand_ct = updates_ct = None
    if ad.is_undefined_primal(operand) and ad.is_undefined_primal(updates):
        raise NotImplementedError("scatter_mul is not linear in (operand, updates) jointly")
    if _is_zero(ct):
        if ad.is_undefined_primal(operand):
            operand_ct = ad.Zero(operand.aval)
        if ad.is_undefined_primal(updates):
            updates_ct = ad.Zero(updates.aval)
        return [operand_ct, None, updates_ct]
    if ad.is_undefined_primal(operand):
        # x -> scatter_mul(x, i, y) is a diagonal scaling: its own transpose.
        operand_ct = scatter_mul(ct, indices, updates, dimension_numbers, **params)
    if ad.is_undefined_primal(updates):
        if not unique_indices:
            raise NotImplementedError(_MUL_NOT_UNIQUE)
        updates_ct = _gather_updates(ew.mul(ct, operand), indices, updates.aval.shape,
                                     dimension_numbers, mode, indices_are_sorted, True)
    return [operand_ct, None, updates_ct]


ad.defjvp(scatter_mul_p, _scatter_mul_jvp_operand, None, _scatter_mul_jvp_updates)
ad.primitive_transposes[scatter_mul_p] = _scatter_mul_transpose


# scatter_min / scatter_max ------------------------------------------------------------


def _scatter_extremum_jvp(prim: Primitive) -> Callable[..., Any]:
    def rule(primals: Sequence[Any], tangents: Sequence[Any], *,
             dimension_numbers: ScatterDimensionNumbers, indices_are_sorted: bool,
             unique_indices: bool, mode: GatherScatterMode) -> tuple[Any, Any]:
        operand, indices, updates = primals
        g_operand, _, g_updates = tangents
        dn = dimension_numbers
        params = dict(indices_are_sorted=indices_are_sorted, unique_indices=unique_indices,
                      mode=mode)
        out = prim.bind(operand, indices, updates, dimension_numbers=dn, **params)
        if _is_zero(g_operand) and _is_zero(g_updates):
            return out, ad.Zero.like(out)
        g_operand = ad.instantiate_zeros(g_operand)
        g_updates = ad.instantiate_zeros(g_updates)
        op_aval, up_aval = aval_of(operand), aval_of(updates)
        dtype = op_aval.dtype

        def read(x: Any) -> Any:  # operand-shaped -> updates-shaped
            return _gather_updates(x, indices, up_aval.shape, dn, mode)

        def count(mask: Any) -> Any:  # per update: how many masked updates share its place
            ones = ew.select(mask, st.full(up_aval.shape, 1, dtype),
                             _zeros(up_aval.shape, dtype))
            return read(scatter_add(_zeros(op_aval.shape, dtype), indices, ones, dn,
                                    mode=mode))

        # Where several values tie for the extremum (the operand's old value and/or
        # updates), the tangent is their average, as for jax's max.
        initial, final = read(operand), read(out)
        won = ew.eq(updates, final)  # this update is (one of) the result
        kept = ew.eq(initial, final)  # the old value is (one of) the result
        n_won = count(won)
        n_refs = count(st.full(up_aval.shape, True, np.bool_))
        one = st.full(up_aval.shape, 1, dtype)
        zero = _zeros(up_aval.shape, dtype)
        share = ew.select(kept, ew.div(one, ew.add(n_won, one)), ew.div(one, n_won))
        update_coef = ew.select(won, share, zero)
        operand_share = ew.select(kept, ew.div(one, ew.add(n_won, one)), zero)
        # NOTE: every update at a place removes 1/n_refs of the operand's tangent there
        # and puts back its share, so the place ends with operand_share * g_operand.
        operand_coef = ew.div(ew.sub(operand_share, one), n_refs)
        delta = ew.add(ew.mul(read(g_operand), operand_coef), ew.mul(g_updates, update_coef))
        return out, scatter_add(g_operand, indices, delta, dn, **params)

    rule.__name__ = f"_{prim.name}_jvp"
    return rule


for _prim in (scatter_min_p, scatter_max_p):
    ad.primitive_jvps[_prim] = _scatter_extremum_jvp(_prim)


# scatter (set) ------------------------------------------------------------------------


def _scatter_winners(operand_shape: Sequence[int], indices: Any,
                     updates_shape: Sequence[int], dn: ScatterDimensionNumbers,
                     params: dict[str, Any]) -> tuple[Any, Any]:
    """Which values survive a scatter with possibly repeated indices.

    Returns `(operand_kept, update_won)`: boolean masks of the operand's elements that
    no update overwrites and of the updates that are the ones written. Every update
    window gets an id > 0; scattering the ids with the same scatter picks the same
    winner for each element, and reading them back tells each update whether it won.
    """
    ids_shape = list(updates_shape)
    for d in dn.update_window_dims:
        ids_shape[d] = 1
    n_ids = math.prod(ids_shape)
    id_dtype = np.dtype(np.int32) if n_ids < 2**31 - 1 else np.dtype(np.int64)
    ids = ew.add(st.reshape(st.iota(id_dtype, n_ids), ids_shape), st.full((), 1, id_dtype))
    ids = st.broadcast_in_dim(ids, tuple(updates_shape), tuple(range(len(updates_shape))))
    scattered = scatter(_zeros(operand_shape, id_dtype), indices, ids, dn, **params)
    read_back = _gather_updates(scattered, indices, updates_shape, dn, params["mode"])
    operand_kept = ew.eq(scattered, _zeros(operand_shape, id_dtype))
    return operand_kept, ew.eq(ids, read_back)


def _scatter_jvp(primals: Sequence[Any], tangents: Sequence[Any], *,
                 dimension_numbers: ScatterDimensionNumbers, indices_are_sorted: bool,
                 unique_indices: bool, mode: GatherScatterMode) -> tuple[Any, Any]:
    operand, indices, updates = primals
    g_operand, _, g_updates = tangents
    dn = dimension_numbers
    params = dict(indices_are_sorted=indices_are_sorted, unique_indices=unique_indices,
                  mode=mode)
    if _is_zero(g_operand) and _is_zero(g_updates):
        out = scatter_p.bind(operand, indices, updates, dimension_numbers=dn, **params)
        return out, ad.Zero.like(out)
    g_operand = ad.instantiate_zeros(g_operand)
    g_updates = ad.instantiate_zeros(g_updates)
    if unique_indices:
        # Each element is written at most once: the tangents take the same path.
        return (scatter_p.bind(operand, indices, updates, dimension_numbers=dn, **params),
                scatter_p.bind(g_operand, indices, g_updates, dimension_numbers=dn, **params))
    # Repeated indices: which update wins is unspecified, so fix one choice, mask every
    # other value out and rebuild primal and tangent with scatter-adds (whose
    # transposes are simple, and which agree with each other by construction).
    op_aval, up_aval = aval_of(operand), aval_of(updates)
    kept, won = _scatter_winners(op_aval.shape, indices, up_aval.shape, dn, params)

    def mask(m: Any, x: Any) -> Any:
        aval = aval_of(x)
        return ew.select(m, x, _zeros(aval.shape, aval.dtype))

    out = scatter_add(mask(kept, operand), indices, mask(won, updates), dn, **params)
    tangent = scatter_add(mask(kept, g_operand), indices, mask(won, g_updates), dn, **params)
    return out, tangent


def _scatter_transpose(ct: Any, operand: Any, indices: Any, updates: Any, *,
                       dimension_numbers: ScatterDimensionNumbers, indices_are_sorted: bool,
                       unique_indices: bool, mode: GatherScatterMode) -> list[Any]:
    assert not ad.is_undefined_primal(indices)
    dn = dimension_numbers
    params = dict(indices_are_sorted=indices_are_sorted, unique_indices=unique_indices,
                  mode=mode)
    up_shape = aval_of(updates).shape
    operand_ct = updates_ct = None
    if _is_zero(ct):
        if ad.is_undefined_primal(operand):
            operand_ct = ad.Zero(operand.aval)
        if ad.is_undefined_primal(updates):
            updates_ct = ad.Zero(updates.aval)
        return [operand_ct, None, updates_ct]
    ct_aval = aval_of(ct)
    if ad.is_undefined_primal(operand):
        # Overwritten elements do not reach the output.
        operand_ct = scatter(ct, indices, _zeros(up_shape, ct_aval.dtype), dn, **params)
    if ad.is_undefined_primal(updates):
        updates_ct = _gather_updates(ct, indices, up_shape, dn, mode, indices_are_sorted,
                                     unique_indices)
        if not unique_indices:
            # Only the update that was written receives the cotangent.
            _, won = _scatter_winners(ct_aval.shape, indices, up_shape, dn, params)
            updates_ct = ew.select(won, updates_ct, _zeros(up_shape, ct_aval.dtype))
    return [operand_ct, None, updates_ct]


ad.primitive_jvps[scatter_p] = _scatter_jvp
ad.primitive_transposes[scatter_p] = _scatter_transpose

del _prim
