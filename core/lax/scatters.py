"""The scatter family of `lamina.lax`: `scatter`, `scatter_add`, `scatter_sub`,
`scatter_mul`, `scatter_min` and `scatter_max`, one primitive per combiner sharing
their abstract-evaluation and lowering rules, with jax.lax's API.

Part of the indexing family: re-exported by `lamina.lax.indexing` (whose docstring
describes the dimension numbers and out-of-bounds modes, and which holds the checks
gather and scatter share); their JVP, transpose and batching rules are in
`lamina.lax.indexing_rules`.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from lamina import dtypes
from lamina.interpreters import lowering
from lamina.ir import AbstractArray, Primitive
from lamina.lax._util import ArrayLike, check_arraylike, convert_python_scalars
from lamina.lax.indexing import (
    GatherScatterMode, ScatterDimensionNumbers, _canonical_dnums, _Checker,
    _check_index_dtype, _full, _index_vector_bounds,
)

__all__ = [
    "scatter",
    "scatter_add",
    "scatter_sub",
    "scatter_mul",
    "scatter_min",
    "scatter_max",
]

Array = Any  # lamina.Array or a Tracer
Value = lowering.Value


# --------------------------------------------------------------------------------------
# The scatter family: one primitive per combiner, sharing rules
# --------------------------------------------------------------------------------------


def _scatter_bind(prim: Primitive, fun_name: str, operand: ArrayLike, scatter_indices: ArrayLike,
                  updates: ArrayLike, dimension_numbers: ScatterDimensionNumbers,
                  indices_are_sorted: bool, unique_indices: bool,
                  mode: str | GatherScatterMode | None) -> Array:
    check_arraylike(f"lax.{fun_name}", operand, scatter_indices, updates)
    dnums = _canonical_dnums(dimension_numbers, ScatterDimensionNumbers, fun_name)
    operand, updates = convert_python_scalars(fun_name, operand, updates)
    return prim.bind(operand, scatter_indices, updates, dimension_numbers=dnums,
                     indices_are_sorted=bool(indices_are_sorted),
                     unique_indices=bool(unique_indices), mode=GatherScatterMode.from_any(mode))


def _scatter_window_sizes(operand: AbstractArray, updates: AbstractArray,
                          dn: ScatterDimensionNumbers) -> list[int]:
    """The window size in every operand dimension (1 where inserted or batched)."""
    windows = iter(updates.shape[d] for d in dn.update_window_dims)
    return [1 if (i in dn.inserted_window_dims or i in dn.operand_batching_dims)
            else next(windows) for i in range(operand.ndim)]


def _scatter_abstract_eval(fun_name: str, accepts: Callable[[np.dtype], bool]
                           ) -> Callable[..., AbstractArray]:
    def rule(operand: AbstractArray, indices: AbstractArray, updates: AbstractArray, *,
             dimension_numbers: ScatterDimensionNumbers, indices_are_sorted: bool,
             unique_indices: bool, mode: GatherScatterMode) -> AbstractArray:
        del indices_are_sorted, unique_indices, mode
        _check_index_dtype(fun_name, indices)
        if operand.dtype != updates.dtype:
            raise TypeError(f"lax.{fun_name} requires operand and updates to have the same "
                            f"dtype, got {operand.str_short()} and {updates.str_short()}")
        if not accepts(operand.dtype):
            raise TypeError(f"lax.{fun_name} does not accept dtype {operand.dtype.name} "
                            f"(operand {operand.str_short()})")
        dn = dimension_numbers
        check = _Checker(fun_name, f"operand {operand.str_short()}, indices "
                                   f"{indices.str_short()}, updates {updates.str_short()}, {dn}")
        batch_rank = indices.ndim - 1
        if updates.ndim != batch_rank + len(dn.update_window_dims):
            check.fail(f"updates must have rank {batch_rank + len(dn.update_window_dims)} "
                       "(the indices' batch rank plus len(update_window_dims))")
        check.sorted_unique_in_range(dn.update_window_dims, updates.ndim, "update_window_dims")
        check.sorted_unique_in_range(dn.inserted_window_dims, operand.ndim,
                                     "inserted_window_dims")
        check.sorted_unique_in_range(dn.operand_batching_dims, operand.ndim,
                                     "operand_batching_dims")
        check.disjoint(dn.inserted_window_dims, dn.operand_batching_dims,
                       "inserted_window_dims", "operand_batching_dims")
        check.disjoint(dn.scatter_dims_to_operand_dims, dn.operand_batching_dims,
                       "scatter_dims_to_operand_dims", "operand_batching_dims")
        check.sorted_unique_in_range(dn.scatter_indices_batching_dims, batch_rank,
                                     "scatter_indices_batching_dims", must_sort=False)
        if len(dn.operand_batching_dims) != len(dn.scatter_indices_batching_dims):
            check.fail("operand_batching_dims and scatter_indices_batching_dims must have the "
                       "same length")
        if operand.ndim != (len(dn.update_window_dims) + len(dn.inserted_window_dims)
                            + len(dn.operand_batching_dims)):
            check.fail("len(update_window_dims) + len(inserted_window_dims) + "
                       "len(operand_batching_dims) must equal the operand's rank")
        if len(dn.scatter_dims_to_operand_dims) != indices.shape[-1]:
            check.fail(f"scatter_dims_to_operand_dims {dn.scatter_dims_to_operand_dims} must "
                       "have one entry per element of an index vector (indices.shape[-1] = "
                       f"{indices.shape[-1]})")
        check.sorted_unique_in_range(dn.scatter_dims_to_operand_dims, operand.ndim,
                                     "scatter_dims_to_operand_dims", must_sort=False)
        scatter_dims = [d for d in range(updates.ndim) if d not in dn.update_window_dims]
        for u, i in zip(scatter_dims, range(batch_rank)):
            if updates.shape[u] != indices.shape[i]:
                check.fail(f"updates dimension {u} has size {updates.shape[u]} but the indices' "
                           f"batch dimension {i} has size {indices.shape[i]}")
        obs = tuple(operand.shape[d] for d in dn.operand_batching_dims)
        ibs = tuple(indices.shape[d] for d in dn.scatter_indices_batching_dims)
        if obs != ibs:
            check.fail(f"operand batching dimensions {obs} and indices batching dimensions "
                       f"{ibs} must have the same sizes")
        free_operand = [operand.shape[i] for i in range(operand.ndim)
                        if i not in dn.inserted_window_dims and i not in dn.operand_batching_dims]
        for bound, d in zip(free_operand, dn.update_window_dims):
            if updates.shape[d] > bound:
                check.fail(f"update window dimension {d} has size {updates.shape[d]}, larger "
                           f"than the operand's {bound}")
        return operand

    return rule


def _scatter_dnums_attr(dn: ScatterDimensionNumbers, index_vector_dim: int) -> str:
    fields = [("update_window_dims", dn.update_window_dims),
              ("inserted_window_dims", dn.inserted_window_dims),
              ("input_batching_dims", dn.operand_batching_dims),
              ("scatter_indices_batching_dims", dn.scatter_indices_batching_dims),
              ("scatter_dims_to_operand_dims", dn.scatter_dims_to_operand_dims)]
    text = ", ".join(f"{k} = [{', '.join(map(str, v))}]" for k, v in fields if v)
    sep = ", " if text else ""
    return f"#stablehlo.scatter<{text}{sep}index_vector_dim = {index_vector_dim}>"


Combiner = Callable[[lowering.RuleContext, Value, Value, AbstractArray], Value]


def _scatter_lowering(combine: Combiner) -> lowering.LoweringRule:
    """The lowering of a scatter whose update region is `combine(ctx, old, new, aval)`."""

    def rule(ctx: lowering.RuleContext, operand: Value, indices: Value, updates: Value, *,
             dimension_numbers: ScatterDimensionNumbers, indices_are_sorted: bool,
             unique_indices: bool, mode: GatherScatterMode) -> Value:
        operand_aval, indices_aval, updates_aval = ctx.avals_in
        out = ctx.aval_out.strip_weak_type()
        if updates_aval.size == 0 or operand_aval.size == 0:
            return operand  # nothing is written
        dn = dimension_numbers
        if mode == GatherScatterMode.CLIP and dn.scatter_dims_to_operand_dims:
            # Clamp each start into [0, operand_dim - window_size]; the bound is capped at
            # the index dtype's maximum so that the constant is representable.
            sizes = _scatter_window_sizes(operand_aval, updates_aval, dn)
            top = np.iinfo(indices_aval.dtype).max
            upper = [min(operand_aval.shape[d] - sizes[d], top)
                     for d in dn.scatter_dims_to_operand_dims]
            idx_aval = indices_aval.strip_weak_type()
            indices = ctx.op("stablehlo.clamp", [
                _full(ctx, 0, idx_aval), indices,
                _index_vector_bounds(ctx, upper, idx_aval)], idx_aval)
        scalar = out.update(shape=())
        body = ctx.region([scalar, scalar], lambda args: [combine(ctx, args[0], args[1], scalar)])
        return ctx.op("stablehlo.scatter", [operand, indices, updates], out, {
            "indices_are_sorted": lowering.bool_attr(indices_are_sorted),
            "scatter_dimension_numbers": _scatter_dnums_attr(dn, indices_aval.ndim - 1),
            "unique_indices": lowering.bool_attr(unique_indices)}, regions=[body])

    rule.__name__ = "scatter_lower"
    return rule


def _binary(op_name: str) -> Combiner:
    return lambda ctx, old, new, aval: ctx.op(op_name, [old, new], aval)


def _extremum(op_name: str, direction: str) -> Combiner:
    """min/max; complex numbers compare lexicographically (real part, then imaginary),
    which StableHLO's minimum/maximum do not do on every backend."""

    def combine(ctx: lowering.RuleContext, old: Value, new: Value, aval: AbstractArray) -> Value:
        if not dtypes.is_complex(aval.dtype):
            return ctx.op(op_name, [old, new], aval)
        real = aval.update(dtype=dtypes.real_dtype(aval.dtype))
        pred = aval.update(dtype=np.bool_)

        def compare(a: Value, b: Value, how: str) -> Value:
            return ctx.op("stablehlo.compare", [a, b], pred, {
                "comparison_direction": f"#stablehlo<comparison_direction {how}>",
                "compare_type": "#stablehlo<comparison_type FLOAT>"})

        re_old, re_new = (ctx.op("stablehlo.real", [v], real) for v in (old, new))
        im_old, im_new = (ctx.op("stablehlo.imag", [v], real) for v in (old, new))
        pick_old = ctx.op("stablehlo.select", [compare(re_old, re_new, "EQ"),
                                               compare(im_old, im_new, direction),
                                               compare(re_old, re_new, direction)], pred)
        return ctx.op("stablehlo.select", [pick_old, old, new], aval)

    return combine


def _not_bool(dtype: np.dtype) -> bool:
    return not dtypes.is_bool(dtype)


def _any_dtype(dtype: np.dtype) -> bool:
    return True


# scatter ------------------------------------------------------------------------------

scatter_p = Primitive("scatter")


def scatter(operand: ArrayLike, scatter_indices: ArrayLike, updates: ArrayLike,
            dimension_numbers: ScatterDimensionNumbers, *, indices_are_sorted: bool = False,
            unique_indices: bool = False,
            mode: str | GatherScatterMode | None = None) -> Array:
    """Write `updates` into windows of `operand` at `scatter_indices` (XLA's Scatter).

    Prefer `x.at[idx].set(y)`, which builds this. When indices repeat, which update
    wins is unspecified.

    Args:
        operand: the array to update (it is not modified; a new array is returned).
        scatter_indices: integer array whose last dimension holds index vectors.
        updates: the values to write, `operand`'s dtype.
        dimension_numbers: a `ScatterDimensionNumbers`.
        indices_are_sorted: a promise that the indices are sorted (unchecked).
        unique_indices: a promise that windows do not overlap (unchecked).
        mode: a `GatherScatterMode` or `'clip'` / `'drop'` / `'promise_in_bounds'`.
            None means FILL_OR_DROP: updates whose window is not wholly in bounds are
            dropped. CLIP clamps the indices first.

    Returns:
        `operand` with the updates written.

    >>> import numpy as np
    >>> dn = ScatterDimensionNumbers(update_window_dims=(), inserted_window_dims=(0,),
    ...                              scatter_dims_to_operand_dims=(0,))
    >>> x = np.zeros(4, np.float32)
    >>> np.asarray(scatter(x, np.array([[1], [3]], np.int32), np.ones(2, np.float32),
    ...                    dn)).tolist()
    [0.0, 1.0, 0.0, 1.0]
    """
    return _scatter_bind(scatter_p, "scatter", operand, scatter_indices, updates,
                         dimension_numbers, indices_are_sorted, unique_indices, mode)


scatter_p.def_abstract_eval(_scatter_abstract_eval("scatter", _any_dtype))
lowering.register_lowering(scatter_p, _scatter_lowering(lambda ctx, old, new, aval: new))

# scatter_add --------------------------------------------------------------------------

scatter_add_p = Primitive("scatter_add")


def scatter_add(operand: ArrayLike, scatter_indices: ArrayLike, updates: ArrayLike,
                dimension_numbers: ScatterDimensionNumbers, *, indices_are_sorted: bool = False,
                unique_indices: bool = False,
                mode: str | GatherScatterMode | None = None) -> Array:
    """Add `updates` into windows of `operand`; repeated indices accumulate.

    Args:
        operand: the array to add into (not bool).
        scatter_indices: integer array whose last dimension holds index vectors.
        updates: the values to add, `operand`'s dtype.
        dimension_numbers: a `ScatterDimensionNumbers`.
        indices_are_sorted: a promise that the indices are sorted (unchecked).
        unique_indices: a promise that windows do not overlap (unchecked).
        mode: as in `scatter` (None drops out-of-bounds windows).

    Returns:
        `operand` plus the scattered updates.

    >>> import numpy as np
    >>> dn = ScatterDimensionNumbers(update_window_dims=(), inserted_window_dims=(0,),
    ...                              scatter_dims_to_operand_dims=(0,))
    >>> np.asarray(scatter_add(np.zeros(3, np.int32), np.array([[1], [1]], np.int32),
    ...                        np.array([2, 5], np.int32), dn)).tolist()
    [0, 7, 0]
    """
    return _scatter_bind(scatter_add_p, "scatter_add", operand, scatter_indices, updates,
                         dimension_numbers, indices_are_sorted, unique_indices, mode)


scatter_add_p.def_abstract_eval(_scatter_abstract_eval("scatter_add", _not_bool))
lowering.register_lowering(scatter_add_p, _scatter_lowering(_binary("stablehlo.add")))

# scatter_sub --------------------------------------------------------------------------

scatter_sub_p = Primitive("scatter_sub")


def scatter_sub(operand: ArrayLike, scatter_indices: ArrayLike, updates: ArrayLike,
                dimension_numbers: ScatterDimensionNumbers, *, indices_are_sorted: bool = False,
                unique_indices: bool = False,
                mode: str | GatherScatterMode | None = None) -> Array:
    """Subtract `updates` from windows of `operand`; repeated indices accumulate.

    Args:
        operand: the array to subtract from (not bool).
        scatter_indices: integer array whose last dimension holds index vectors.
        updates: the values to subtract, `operand`'s dtype.
        dimension_numbers: a `ScatterDimensionNumbers`.
        indices_are_sorted: a promise that the indices are sorted (unchecked).
        unique_indices: a promise that windows do not overlap (unchecked).
        mode: as in `scatter` (None drops out-of-bounds windows).

    Returns:
        `operand` minus the scattered updates.

    >>> import numpy as np
    >>> dn = ScatterDimensionNumbers(update_window_dims=(), inserted_window_dims=(0,),
    ...                              scatter_dims_to_operand_dims=(0,))
    >>> np.asarray(scatter_sub(np.zeros(3, np.int32), np.array([[2]], np.int32),
    ...                        np.array([4], np.int32), dn)).tolist()
    [0, 0, -4]
    """
    return _scatter_bind(scatter_sub_p, "scatter_sub", operand, scatter_indices, updates,
                         dimension_numbers, indices_are_sorted, unique_indices, mode)


scatter_sub_p.def_abstract_eval(_scatter_abstract_eval("scatter_sub", _not_bool))
lowering.register_lowering(scatter_sub_p, _scatter_lowering(_binary("stablehlo.subtract")))

# scatter_mul --------------------------------------------------------------------------

scatter_mul_p = Primitive("scatter_mul")


def scatter_mul(operand: ArrayLike, scatter_indices: ArrayLike, updates: ArrayLike,
                dimension_numbers: ScatterDimensionNumbers, *, indices_are_sorted: bool = False,
                unique_indices: bool = False,
                mode: str | GatherScatterMode | None = None) -> Array:
    """Multiply windows of `operand` by `updates`; repeated indices accumulate.

    Args:
        operand: the array to multiply (not bool).
        scatter_indices: integer array whose last dimension holds index vectors.
        updates: the factors, `operand`'s dtype.
        dimension_numbers: a `ScatterDimensionNumbers`.
        indices_are_sorted: a promise that the indices are sorted (unchecked).
        unique_indices: a promise that windows do not overlap (unchecked).
        mode: as in `scatter` (None drops out-of-bounds windows).

    Returns:
        `operand` times the scattered updates.

    >>> import numpy as np
    >>> dn = ScatterDimensionNumbers(update_window_dims=(), inserted_window_dims=(0,),
    ...                              scatter_dims_to_operand_dims=(0,))
    >>> np.asarray(scatter_mul(np.ones(3, np.int32), np.array([[0], [0]], np.int32),
    ...                        np.array([2, 3], np.int32), dn)).tolist()
    [6, 1, 1]
    """
    return _scatter_bind(scatter_mul_p, "scatter_mul", operand, scatter_indices, updates,
                         dimension_numbers, indices_are_sorted, unique_indices, mode)


scatter_mul_p.def_abstract_eval(_scatter_abstract_eval("scatter_mul", _not_bool))
lowering.register_lowering(scatter_mul_p, _scatter_lowering(_binary("stablehlo.multiply")))

# scatter_min --------------------------------------------------------------------------

scatter_min_p = Primitive("scatter_min")


def scatter_min(operand: ArrayLike, scatter_indices: ArrayLike, updates: ArrayLike,
                dimension_numbers: ScatterDimensionNumbers, *, indices_are_sorted: bool = False,
                unique_indices: bool = False,
                mode: str | GatherScatterMode | None = None) -> Array:
    """Elementwise minimum of windows of `operand` and `updates` (NaN propagates;
    complex numbers compare lexicographically).

    Args:
        operand: the array to update.
        scatter_indices: integer array whose last dimension holds index vectors.
        updates: the candidates, `operand`'s dtype.
        dimension_numbers: a `ScatterDimensionNumbers`.
        indices_are_sorted: a promise that the indices are sorted (unchecked).
        unique_indices: a promise that windows do not overlap (unchecked).
        mode: as in `scatter` (None drops out-of-bounds windows).

    Returns:
        `operand` with each updated element replaced by its minimum with the updates.

    >>> import numpy as np
    >>> dn = ScatterDimensionNumbers(update_window_dims=(), inserted_window_dims=(0,),
    ...                              scatter_dims_to_operand_dims=(0,))
    >>> np.asarray(scatter_min(np.full(3, 5, np.int32), np.array([[1], [1]], np.int32),
    ...                        np.array([7, 2], np.int32), dn)).tolist()
    [5, 2, 5]
    """
    return _scatter_bind(scatter_min_p, "scatter_min", operand, scatter_indices, updates,
                         dimension_numbers, indices_are_sorted, unique_indices, mode)


scatter_min_p.def_abstract_eval(_scatter_abstract_eval("scatter_min", _any_dtype))
lowering.register_lowering(scatter_min_p, _scatter_lowering(_extremum("stablehlo.minimum", "LT")))

# scatter_max --------------------------------------------------------------------------

scatter_max_p = Primitive("scatter_max")


def scatter_max(operand: ArrayLike, scatter_indices: ArrayLike, updates: ArrayLike,
                dimension_numbers: ScatterDimensionNumbers, *, indices_are_sorted: bool = False,
                unique_indices: bool = False,
                mode: str | GatherScatterMode | None = None) -> Array:
    """Elementwise maximum of windows of `operand` and `updates` (NaN propagates;
    complex numbers compare lexicographically).

    Args:
        operand: the array to update.
        scatter_indices: integer array whose last dimension holds index vectors.
        updates: the candidates, `operand`'s dtype.
        dimension_numbers: a `ScatterDimensionNumbers`.
        indices_are_sorted: a promise that the indices are sorted (unchecked).
        unique_indices: a promise that windows do not overlap (unchecked).
        mode: as in `scatter` (None drops out-of-bounds windows).

    Returns:
        `operand` with each updated element replaced by its maximum with the updates.

    >>> import numpy as np
    >>> dn = ScatterDimensionNumbers(update_window_dims=(), inserted_window_dims=(0,),
    ...                              scatter_dims_to_operand_dims=(0,))
    >>> np.asarray(scatter_max(np.zeros(3, np.int32), np.array([[2], [2]], np.int32),
    ...                        np.array([7, 2], np.int32), dn)).tolist()
    [0, 0, 7]
    """
    return _scatter_bind(scatter_max_p, "scatter_max", operand, scatter_indices, updates,
                         dimension_numbers, indices_are_sorted, unique_indices, mode)


scatter_max_p.def_abstract_eval(_scatter_abstract_eval("scatter_max", _any_dtype))
lowering.register_lowering(scatter_max_p, _scatter_lowering(_extremum("stablehlo.maximum", "GT")))
