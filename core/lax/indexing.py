"""Gather and scatter: XLA's general indexing operations, with jax.lax's API.

`gather` reads windows of an operand at computed start indices; the `scatter` family
writes (or combines) windows of updates into a copy of an operand. Their dimension
numbers are jax's NamedTuples, whose `index_vector_dim` is implicit: the index vector
is always the last dimension of the indices array.

Out-of-bounds indices follow `GatherScatterMode` as in jax: `gather` defaults to
PROMISE_IN_BOUNDS (XLA clamps the window into bounds), FILL_OR_DROP masks windows that
are not wholly in bounds with a fill value; the scatters default to FILL_OR_DROP
(XLA drops windows that are not wholly in bounds) and CLIP clamps the indices first.

This module holds the dimension numbers, the checks and lowering snippets gather and
scatter share, and `gather`; the scatter family is in `lamina.lax.scatters`,
re-exported here (this module is the family's namespace). The JVP, transpose and
batching rules live in `lamina.lax.indexing_rules`, imported at the end of this module.
"""
from __future__ import annotations

import enum
import math
import operator
from typing import Any, NamedTuple, Sequence

import numpy as np

from lamina import dtypes
from lamina.interpreters import lowering
from lamina.ir import AbstractArray, Primitive
from lamina.lax._util import ArrayLike, aval_of, canonicalize_shape, check_arraylike

__all__ = [
    "GatherDimensionNumbers",
    "ScatterDimensionNumbers",
    "GatherScatterMode",
    "gather",
    "scatter",
    "scatter_add",
    "scatter_sub",
    "scatter_mul",
    "scatter_min",
    "scatter_max",
]

Array = Any  # lamina.Array or a Tracer
Value = lowering.Value


class GatherDimensionNumbers(NamedTuple):
    """How the dimensions of a gather's operand, indices and output correspond.

    Attributes:
        offset_dims: output dimensions (sorted) that index into a gathered window.
        collapsed_slice_dims: operand dimensions (sorted) whose window size is 1 and
            that get no output dimension.
        start_index_map: for each entry of an index vector, the operand dimension it
            gives the window start of.
        operand_batching_dims: operand dimensions (sorted, window size 1) that are
            matched one-to-one with `start_indices_batching_dims`.
        start_indices_batching_dims: the indices' dimensions paired with
            `operand_batching_dims`.
    """

    offset_dims: tuple[int, ...]
    collapsed_slice_dims: tuple[int, ...]
    start_index_map: tuple[int, ...]
    operand_batching_dims: tuple[int, ...] = ()
    start_indices_batching_dims: tuple[int, ...] = ()


class ScatterDimensionNumbers(NamedTuple):
    """How the dimensions of a scatter's operand, indices and updates correspond.

    Attributes:
        update_window_dims: dimensions (sorted) of `updates` that index into a window.
        inserted_window_dims: operand dimensions (sorted) of window size 1 that have no
            dimension in `updates` (the mirror of gather's `collapsed_slice_dims`).
        scatter_dims_to_operand_dims: for each entry of an index vector, the operand
            dimension it gives the window start of.
        operand_batching_dims: operand dimensions (sorted) matched one-to-one with
            `scatter_indices_batching_dims`.
        scatter_indices_batching_dims: the indices' dimensions paired with
            `operand_batching_dims`.
    """

    update_window_dims: Sequence[int]
    inserted_window_dims: Sequence[int]
    scatter_dims_to_operand_dims: Sequence[int]
    operand_batching_dims: Sequence[int] = ()
    scatter_indices_batching_dims: Sequence[int] = ()


class GatherScatterMode(enum.Enum):
    """What gather and scatter do with indices whose window is not wholly in bounds.

    CLIP: clamp the indices so that the whole window is in bounds.
    FILL_OR_DROP: gather returns the fill value for the whole window; scatter drops the
        whole window's updates.
    PROMISE_IN_BOUNDS: the caller promises in-bounds indices; XLA then clamps gathers
        and drops scatters.
    """

    CLIP = enum.auto()
    FILL_OR_DROP = enum.auto()
    PROMISE_IN_BOUNDS = enum.auto()

    @staticmethod
    def from_any(s: "str | GatherScatterMode | None") -> "GatherScatterMode":
        """`'clip'`, `'fill'`/`'drop'`/None, `'promise_in_bounds'`, or a member."""
        if isinstance(s, GatherScatterMode):
            return s
        if s == "clip":
            return GatherScatterMode.CLIP
        if s is None or s == "fill" or s == "drop":
            return GatherScatterMode.FILL_OR_DROP
        if s == "promise_in_bounds":
            return GatherScatterMode.PROMISE_IN_BOUNDS
        raise ValueError(f"Unknown gather/scatter mode {s!r}; expected 'clip', 'fill', 'drop', "
                         "'promise_in_bounds', None or a lax.GatherScatterMode")


# --------------------------------------------------------------------------------------
# Helpers shared by gather and scatter
# --------------------------------------------------------------------------------------


def _dims_tuple(dims: Any, field: str, fun_name: str) -> tuple[int, ...]:
    try:
        return tuple(operator.index(d) for d in dims)
    except TypeError:
        raise TypeError(f"lax.{fun_name}: dimension_numbers.{field} must be a sequence of "
                        f"integers, got {dims!r}") from None


def _canonical_dnums(dnums: Any, cls: type, fun_name: str) -> Any:
    if not isinstance(dnums, cls):
        raise TypeError(f"lax.{fun_name}: dimension_numbers must be a lax.{cls.__name__}, got "
                        f"{dnums!r}")
    return cls(*(_dims_tuple(v, f, fun_name) for f, v in zip(cls._fields, dnums)))


class _Checker:
    """Dimension-number checks that name the function and the operands' types."""

    def __init__(self, fun_name: str, context: str) -> None:
        self.fun_name, self.context = fun_name, context

    def fail(self, message: str) -> None:
        raise TypeError(f"lax.{self.fun_name}: {message} ({self.context})")

    def sorted_unique_in_range(self, dims: Sequence[int], rank: int, field: str,
                               must_sort: bool = True) -> None:
        if must_sort and list(dims) != sorted(dims):
            self.fail(f"{field} {tuple(dims)} must be sorted")
        if len(set(dims)) != len(dims):
            self.fail(f"{field} {tuple(dims)} must not repeat")
        bad = [d for d in dims if not 0 <= d < rank]
        if bad:
            self.fail(f"{field} {tuple(dims)} must lie in [0, {rank}); got {bad}")

    def disjoint(self, a: Sequence[int], b: Sequence[int], name_a: str, name_b: str) -> None:
        if set(a) & set(b):
            self.fail(f"{name_a} {tuple(a)} and {name_b} {tuple(b)} must be disjoint")


def _check_index_dtype(fun_name: str, indices: AbstractArray) -> None:
    if not dtypes.is_integer(indices.dtype):
        raise TypeError(f"lax.{fun_name}: indices must have an integer dtype, got "
                        f"{indices.str_short()}")
    if indices.ndim < 1:
        raise TypeError(f"lax.{fun_name}: indices must have rank >= 1 (the last dimension "
                        f"holds the index vectors), got {indices.str_short()}; add a trailing "
                        "dimension of size 1 to index with scalars")


def _broadcast(ctx: lowering.RuleContext, value: Value, aval: AbstractArray,
               shape: Sequence[int], dims: Sequence[int]) -> Value:
    return ctx.op("stablehlo.broadcast_in_dim", [value], aval.update(shape=shape),
                  {"broadcast_dimensions": lowering.i64_array(dims)})


def _full(ctx: lowering.RuleContext, value: Any, aval: AbstractArray) -> Value:
    """`aval`-shaped array of `value` (a scalar constant, broadcast; safe at size 0)."""
    scalar = aval.update(shape=())
    return _broadcast(ctx, ctx.constant(value, scalar), scalar, aval.shape, ())


def _index_vector_bounds(ctx: lowering.RuleContext, bounds: Sequence[int],
                         indices_aval: AbstractArray) -> Value:
    """Per-index-vector-entry constants broadcast over the indices' shape."""
    vec = indices_aval.update(shape=(len(bounds),))
    const = ctx.constant(np.asarray(bounds, indices_aval.dtype), vec)
    return _broadcast(ctx, const, vec, indices_aval.shape, (indices_aval.ndim - 1,))


# --------------------------------------------------------------------------------------
# gather
# --------------------------------------------------------------------------------------

gather_p = Primitive("gather")


def _default_fill_value(dtype: np.dtype) -> Any:
    if dtypes.is_inexact(dtype):
        return math.nan
    if dtypes.is_signed_integer(dtype):
        return int(np.iinfo(dtype).min)
    if dtypes.is_unsigned_integer(dtype):
        return int(np.iinfo(dtype).max)
    return True


def _canonical_fill_value(fill_value: Any, dtype: np.dtype) -> Any:
    """A hashable Python scalar holding `fill_value` as `dtype` would (ints wrap)."""
    if fill_value is None:
        return _default_fill_value(dtype)
    if not (dtypes.is_python_scalar(fill_value) or np.ndim(fill_value) == 0):
        raise TypeError(f"lax.gather: fill_value must be a scalar, got {fill_value!r}")
    value = np.asarray(fill_value).astype(dtype).item()
    # NOTE: NaN != NaN, so every NaN becomes the one `math.nan` object: the eager
    # executable cache then finds it by identity.
    if isinstance(value, float) and value != value:
        return math.nan
    return value


def gather(operand: ArrayLike, start_indices: ArrayLike,
           dimension_numbers: GatherDimensionNumbers, slice_sizes: Sequence[int], *,
           unique_indices: bool = False, indices_are_sorted: bool = False,
           mode: str | GatherScatterMode | None = None, fill_value: Any = None) -> Array:
    """Gather windows of `operand` at `start_indices` (XLA's Gather).

    Prefer numpy-style indexing (`x[idx]`, `x.at[idx].get(...)`), which builds this.

    Args:
        operand: the array to read from.
        start_indices: integer array whose last dimension holds index vectors (one
            entry per `dimension_numbers.start_index_map` dimension).
        dimension_numbers: a `GatherDimensionNumbers`.
        slice_sizes: the window size in every operand dimension.
        unique_indices: a promise that windows do not overlap (unchecked).
        indices_are_sorted: a promise that the indices are sorted (unchecked).
        mode: a `GatherScatterMode` or `'clip'` / `'fill'` / `'promise_in_bounds'`.
            None means PROMISE_IN_BOUNDS (XLA clamps windows into bounds).
        fill_value: with FILL_OR_DROP, the value of windows that are not wholly in
            bounds. Default: NaN for inexact dtypes, the minimum of signed and the
            maximum of unsigned integers, and True for bool.

    Returns:
        The gathered windows: batch dimensions from `start_indices` interleaved with
        window dimensions at `offset_dims`.

    >>> import numpy as np
    >>> x = np.arange(10, dtype=np.int32).reshape(5, 2)
    >>> dn = GatherDimensionNumbers(offset_dims=(1,), collapsed_slice_dims=(0,),
    ...                             start_index_map=(0,))
    >>> np.asarray(gather(x, np.array([[3], [0]], np.int32), dn, (1, 2))).tolist()
    [[6, 7], [0, 1]]
    """
    check_arraylike("lax.gather", operand, start_indices)
    dnums = _canonical_dnums(dimension_numbers, GatherDimensionNumbers, "gather")
    parsed = GatherScatterMode.PROMISE_IN_BOUNDS if mode is None else \
        GatherScatterMode.from_any(mode)
    dtype = aval_of(operand).dtype
    fill = _canonical_fill_value(fill_value, dtype) \
        if parsed == GatherScatterMode.FILL_OR_DROP else None
    return gather_p.bind(
        operand, start_indices, dimension_numbers=dnums,
        slice_sizes=canonicalize_shape(slice_sizes, "lax.gather"),
        unique_indices=bool(unique_indices), indices_are_sorted=bool(indices_are_sorted),
        mode=parsed, fill_value=fill)


def _gather_abstract_eval(operand: AbstractArray, indices: AbstractArray, *,
                          dimension_numbers: GatherDimensionNumbers,
                          slice_sizes: tuple[int, ...], unique_indices: bool,
                          indices_are_sorted: bool, mode: GatherScatterMode,
                          fill_value: Any) -> AbstractArray:
    del unique_indices, indices_are_sorted, mode, fill_value
    _check_index_dtype("gather", indices)
    dn = dimension_numbers
    check = _Checker("gather", f"operand {operand.str_short()}, indices {indices.str_short()}, "
                               f"slice_sizes {slice_sizes}, {dn}")
    batch_rank = indices.ndim - 1
    out_rank = len(dn.offset_dims) + batch_rank
    check.sorted_unique_in_range(dn.offset_dims, out_rank, "offset_dims")
    if len(dn.start_index_map) != indices.shape[-1]:
        check.fail(f"start_index_map {dn.start_index_map} must have one entry per element of "
                   f"an index vector (indices.shape[-1] = {indices.shape[-1]})")
    check.sorted_unique_in_range(dn.start_index_map, operand.ndim, "start_index_map",
                                 must_sort=False)
    check.sorted_unique_in_range(dn.collapsed_slice_dims, operand.ndim, "collapsed_slice_dims")
    check.sorted_unique_in_range(dn.operand_batching_dims, operand.ndim,
                                 "operand_batching_dims")
    check.disjoint(dn.collapsed_slice_dims, dn.operand_batching_dims, "collapsed_slice_dims",
                   "operand_batching_dims")
    check.disjoint(dn.start_index_map, dn.operand_batching_dims, "start_index_map",
                   "operand_batching_dims")
    check.sorted_unique_in_range(dn.start_indices_batching_dims, batch_rank,
                                 "start_indices_batching_dims", must_sort=False)
    if len(dn.operand_batching_dims) != len(dn.start_indices_batching_dims):
        check.fail("operand_batching_dims and start_indices_batching_dims must have the same "
                   "length")
    obs = tuple(operand.shape[d] for d in dn.operand_batching_dims)
    ibs = tuple(indices.shape[d] for d in dn.start_indices_batching_dims)
    if obs != ibs:
        check.fail(f"operand batching dimensions {obs} and indices batching dimensions {ibs} "
                   "must have the same sizes")
    if len(slice_sizes) != operand.ndim:
        check.fail(f"slice_sizes must have one entry per operand dimension ({operand.ndim})")
    if len(slice_sizes) != (len(dn.offset_dims) + len(dn.collapsed_slice_dims)
                            + len(dn.operand_batching_dims)):
        check.fail("every operand dimension must be an offset dimension or be collapsed or "
                   "batched: len(offset_dims) + len(collapsed_slice_dims) + "
                   "len(operand_batching_dims) must equal the operand's rank")
    if indices.size:
        for i, (size, bound) in enumerate(zip(slice_sizes, operand.shape)):
            if not 0 <= size <= bound:
                check.fail(f"slice_sizes[{i}] = {size} must lie in [0, {bound}]")
    for d in dn.collapsed_slice_dims:
        if slice_sizes[d] != 1:
            check.fail(f"collapsed dimension {d} must have slice size 1, got {slice_sizes[d]}")
    for d in dn.operand_batching_dims:
        if slice_sizes[d] > 1:
            check.fail(f"batching dimension {d} must have slice size 0 or 1, got "
                       f"{slice_sizes[d]}")
    window = iter(s for i, s in enumerate(slice_sizes)
                  if i not in dn.collapsed_slice_dims and i not in dn.operand_batching_dims)
    batch = iter(indices.shape[:-1])
    shape = tuple(next(window) if i in dn.offset_dims else next(batch) for i in range(out_rank))
    return AbstractArray(shape, operand.dtype, operand.weak_type)


gather_p.def_abstract_eval(_gather_abstract_eval)


def _gather_dnums_attr(dn: GatherDimensionNumbers, index_vector_dim: int) -> str:
    fields = [("offset_dims", dn.offset_dims), ("collapsed_slice_dims", dn.collapsed_slice_dims),
              ("operand_batching_dims", dn.operand_batching_dims),
              ("start_indices_batching_dims", dn.start_indices_batching_dims),
              ("start_index_map", dn.start_index_map)]
    text = ", ".join(f"{k} = [{', '.join(map(str, v))}]" for k, v in fields if v)
    sep = ", " if text else ""
    return f"#stablehlo.gather<{text}{sep}index_vector_dim = {index_vector_dim}>"


def _wide_index_dtype(operand: AbstractArray, indices: AbstractArray) -> np.dtype:
    """A signed index dtype that holds every operand bound and every index value that
    could be in bounds (so the bounds check sees no wrap-around)."""
    big = any(d >= 2**31 - 1 for d in operand.shape) or indices.dtype.itemsize == 8
    return np.dtype(np.int64 if big else np.int32)


def _gather_lower(ctx: lowering.RuleContext, operand: Value, indices: Value, *,
                  dimension_numbers: GatherDimensionNumbers, slice_sizes: tuple[int, ...],
                  unique_indices: bool, indices_are_sorted: bool, mode: GatherScatterMode,
                  fill_value: Any) -> Value:
    del unique_indices
    operand_aval, indices_aval = ctx.avals_in
    out = ctx.aval_out.strip_weak_type()
    if out.size == 0:
        # NOTE: as jax does, an empty result is a constant: XLA rejects some gathers
        # from empty operands even when nothing is read.
        return _full(ctx, 0, out)
    dn = dimension_numbers
    gathered = ctx.op("stablehlo.gather", [operand, indices], out, {
        "dimension_numbers": _gather_dnums_attr(dn, indices_aval.ndim - 1),
        "indices_are_sorted": lowering.bool_attr(indices_are_sorted),
        "slice_sizes": lowering.i64_array(slice_sizes)})
    if mode != GatherScatterMode.FILL_OR_DROP or not dn.start_index_map:
        return gathered
    # FILL_OR_DROP: XLA clamps out-of-bounds windows, so mask every window whose start
    # is not in [0, operand_dim - slice_size] with the fill value.
    wide = indices_aval.update(dtype=_wide_index_dtype(operand_aval, indices_aval),
                               weak_type=False)
    idx = indices if wide.dtype == indices_aval.dtype else ctx.op(
        "stablehlo.convert", [indices], wide)
    pred = wide.update(dtype=np.bool_)
    upper = _index_vector_bounds(
        ctx, [operand_aval.shape[d] - slice_sizes[d] for d in dn.start_index_map], wide)
    ge = ctx.op("stablehlo.compare", [idx, _full(ctx, 0, wide)], pred, {
        "comparison_direction": "#stablehlo<comparison_direction GE>",
        "compare_type": "#stablehlo<comparison_type SIGNED>"})
    le = ctx.op("stablehlo.compare", [idx, upper], pred, {
        "comparison_direction": "#stablehlo<comparison_direction LE>",
        "compare_type": "#stablehlo<comparison_type SIGNED>"})
    in_bounds = ctx.op("stablehlo.and", [ge, le], pred)
    scalar_pred = pred.update(shape=())
    mask_aval = pred.update(shape=indices_aval.shape[:-1])
    body = ctx.region([scalar_pred, scalar_pred],
                      lambda args: [ctx.op("stablehlo.and", args, scalar_pred)])
    mask = ctx.op("stablehlo.reduce", [in_bounds, ctx.constant(True, scalar_pred)], mask_aval,
                  {"dimensions": lowering.i64_array([indices_aval.ndim - 1])}, regions=[body])
    batch_dims = [i for i in range(out.ndim) if i not in dn.offset_dims]
    mask = _broadcast(ctx, mask, mask_aval, out.shape, batch_dims)
    return ctx.op("stablehlo.select", [mask, gathered, _full(ctx, fill_value, out)], out)


lowering.register_lowering(gather_p, _gather_lower)


# NOTE: the scatter family lives in a sibling module (this one would be too long);
# re-exported here, primitives included, because the rules module and callers use
# `lamina.lax.indexing` as the family's namespace. Imported after the shared helpers
# and gather above, which it uses.
from lamina.lax.scatters import (  # noqa: E402,F401
    Combiner, scatter, scatter_add, scatter_add_p, scatter_max, scatter_max_p, scatter_min,
    scatter_min_p, scatter_mul, scatter_mul_p, scatter_p, scatter_sub, scatter_sub_p,
)


# NOTE: the JVP, transpose and batching rules of this family live in a sibling module
# (size cap); importing it registers them.
from lamina.lax import indexing_rules as _indexing_rules  # noqa: E402,F401
