"""The slicing primitives, with jax.lax's names, signatures and semantics: `slice`,
`dynamic_slice`, `dynamic_update_slice` (one block each), and the compositions
`slice_in_dim`, `index_in_dim`, `dynamic_slice_in_dim`, `dynamic_index_in_dim`,
`dynamic_update_slice_in_dim`, `dynamic_update_index_in_dim`.

Part of the structural family (re-exported by `lamina.lax.structural`, whose rules
module holds their JVP, transpose and batching rules); kept in its own module because
the static and dynamic slices with their index checks are a family of their own.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from lamina import dtypes
from lamina.backend.array import Array
from lamina.interpreters import lowering
from lamina.ir import AbstractArray, Primitive
from lamina.lax._util import (
    ArrayLike, Shape, aval_of, canonicalize_shape, is_array, operator_index,
)
from lamina.lax._structural_util import (
    _aval, _axis, _ints, _lax_fn, _layout_rule, _lower_to, _match_scalar, _short,
)
from lamina.lax.structural import expand_dims, squeeze

__all__ = [
    "dynamic_index_in_dim",
    "dynamic_slice",
    "dynamic_slice_in_dim",
    "dynamic_update_index_in_dim",
    "dynamic_update_slice",
    "dynamic_update_slice_in_dim",
    "index_in_dim",
    "slice",
    "slice_in_dim",
]


# --------------------------------------------------------------------------------------
# slice
# --------------------------------------------------------------------------------------

slice_p = Primitive("slice")


def slice(operand: ArrayLike, start_indices: Sequence[int], limit_indices: Sequence[int],
          strides: Sequence[int] | None = None) -> Array:
    """Static slice: `operand[start:limit:stride]` in every dimension.

    Unlike Python slicing, indices are not wrapped or clipped: they must satisfy
    `0 <= start <= limit <= dim` and strides must be positive.

    Args:
        operand: an array.
        start_indices: one start index per dimension.
        limit_indices: one (exclusive) limit index per dimension.
        strides: optional positive strides, one per dimension.

    Returns:
        The sliced array.

    >>> slice(np.zeros((4, 6), np.float32), (1, 0), (3, 6), (1, 2)).shape
    (2, 3)
    """
    fn = "lax.slice"
    _aval(fn, "operand", operand)
    start = _ints(fn, "start_indices", start_indices)
    limit = _ints(fn, "limit_indices", limit_indices)
    steps = None if strides is None else _ints(fn, "strides", strides)
    if steps is not None and all(s == 1 for s in steps) and len(steps) == len(start):
        steps = None
    return slice_p.bind(operand, start_indices=start, limit_indices=limit, strides=steps)


def _slice_shape(operand: AbstractArray, *, start_indices: tuple[int, ...],
                 limit_indices: tuple[int, ...], strides: tuple[int, ...] | None) -> Shape:
    fn, ndim = "lax.slice", operand.ndim
    where = (f"start_indices {start_indices}, limit_indices {limit_indices}, operand "
             f"{operand.str_short()}")
    if len(start_indices) != ndim or len(limit_indices) != ndim:
        raise TypeError(f"{fn}: start_indices and limit_indices need one entry per operand "
                        f"dimension (rank {ndim}); got {where}")
    if strides is not None and len(strides) != ndim:
        raise TypeError(f"{fn}: strides {strides} need one entry per operand dimension; "
                        f"operand {operand.str_short()}")
    if any(s < 0 for s in start_indices):
        raise TypeError(f"{fn}: start_indices must be non-negative; got {where}")
    if any(lim > d for lim, d in zip(limit_indices, operand.shape)):
        raise TypeError(f"{fn}: limit_indices must not exceed the operand shape "
                        f"{operand.shape}; got {where}")
    if any(lim < s for s, lim in zip(start_indices, limit_indices)):
        raise TypeError(f"{fn}: limit_indices must be >= start_indices; got {where}")
    steps = strides or (1,) * ndim
    if any(s <= 0 for s in steps):
        raise TypeError(f"{fn}: strides {steps} must be positive")
    return tuple((lim - s + st - 1) // st
                 for s, lim, st in zip(start_indices, limit_indices, steps))


slice_p.def_abstract_eval(_layout_rule(_slice_shape))
lowering.register_lowering(slice_p, _lower_to(
    "stablehlo.slice",
    lambda start_indices, limit_indices, strides: {
        "start_indices": lowering.i64_array(start_indices),
        "limit_indices": lowering.i64_array(limit_indices),
        "strides": lowering.i64_array(strides or (1,) * len(start_indices))}))


def slice_in_dim(operand: ArrayLike, start_index: int | None, limit_index: int | None,
                 stride: int = 1, axis: int = 0) -> Array:
    """`lax.slice` along one axis: `operand[..., start_index:limit_index:stride]`.

    Negative indices count from the end of the axis (they are not clipped).

    Args:
        operand: an array.
        start_index: start index (None: 0).
        limit_index: limit index (None: the axis size).
        stride: positive stride.
        axis: the axis to slice.

    Returns:
        The sliced array.

    >>> slice_in_dim(np.zeros((4, 6), np.float32), 1, -1, axis=1).shape
    (4, 4)
    """
    fn = "lax.slice_in_dim"
    aval = _aval(fn, "operand", operand)
    axis = _checked_axis(fn, axis, aval)
    size = aval.shape[axis]
    start = 0 if start_index is None else operator_index(start_index)
    limit = size if limit_index is None else operator_index(limit_index)
    start = start + size if start < 0 else start
    limit = limit + size if limit < 0 else limit
    starts, limits, strides = [0] * aval.ndim, list(aval.shape), [1] * aval.ndim
    starts[axis], limits[axis], strides[axis] = start, limit, operator_index(stride)
    return slice(operand, starts, limits, strides)


def index_in_dim(operand: ArrayLike, index: int, axis: int = 0,
                 keepdims: bool = True) -> Array:
    """`operand[..., index]` along `axis` with a static index (negative counts from
    the end).

    Args:
        operand: an array.
        index: the static index.
        axis: the axis to index.
        keepdims: keep the indexed axis (with size 1).

    Returns:
        The sub-array.

    Raises:
        IndexError: if the index is out of bounds.

    >>> index_in_dim(np.zeros((4, 6), np.float32), -1, axis=1, keepdims=False).shape
    (4,)
    """
    fn = "lax.index_in_dim"
    aval = _aval(fn, "operand", operand)
    axis = _checked_axis(fn, axis, aval)
    index, size = operator_index(index), aval.shape[axis]
    wrapped = index + size if index < 0 else index
    if not 0 <= wrapped < size:
        raise IndexError(f"{fn}: index {index} is out of bounds for axis {axis} of size "
                         f"{size} (operand {aval.str_short()})")
    result = slice_in_dim(operand, wrapped, wrapped + 1, 1, axis)
    return result if keepdims else squeeze(result, (axis,))


def _checked_axis(fn: str, axis: Any, aval: AbstractArray) -> int:
    out = _axis(fn, axis, aval.ndim)
    if not 0 <= out < aval.ndim:
        raise ValueError(f"{fn}: axis {axis} is out of bounds for operand "
                         f"{aval.str_short()} of rank {aval.ndim}")
    return out


# --------------------------------------------------------------------------------------
# dynamic_slice
# --------------------------------------------------------------------------------------


def _dynamic_indices(fn: str, operand: AbstractArray, start_indices: Any,
                     allow_negative_indices: bool | Sequence[bool]) -> list[Any]:
    """Start indices as 0-d operands of one integer dtype (what the primitives take).

    Static indices (Python and numpy integers) are wrapped when negative (if allowed)
    and clipped into `[0, dim]` here; XLA clamps every start index into
    `[0, dim - size]` anyway, so clipping changes nothing and lets the index fit a
    narrow dtype. Traced indices of a signed dtype are wrapped with `select(i < 0,
    i + dim, i)` as in jax. Mixed integer widths are promoted to one dtype (jax's
    promotion; Python ints are weak), widened if a static index does not fit.
    """
    ndim = operand.ndim
    if is_array(start_indices) or isinstance(start_indices, np.ndarray):
        idx = aval_of(start_indices)
        if idx.ndim != 1:
            raise TypeError(f"{fn}: start_indices must be a sequence of scalars or a 1-D "
                            f"array, got {idx.str_short()}")
        if isinstance(start_indices, np.ndarray):
            items = list(start_indices)
        else:
            items = [index_in_dim(start_indices, i, keepdims=False) for i in range(idx.shape[0])]
    else:
        try:
            items = list(start_indices)
        except TypeError:
            raise TypeError(f"{fn}: start_indices must be a sequence of integer scalars, "
                            f"got {start_indices!r}") from None
    if len(items) != ndim:
        raise TypeError(f"{fn}: got {len(items)} start indices for operand "
                        f"{operand.str_short()}; pass one index per dimension ({ndim})")
    if isinstance(allow_negative_indices, (bool, np.bool_)):
        allow = (bool(allow_negative_indices),) * ndim
    else:
        allow = tuple(bool(a) for a in allow_negative_indices)
        if len(allow) != ndim:
            raise TypeError(f"{fn}: allow_negative_indices needs one entry per operand "
                            f"dimension ({ndim}), got {allow_negative_indices!r}")

    static: dict[int, int] = {}
    promote_args: list[Any] = []
    for k, (i, dim, neg) in enumerate(zip(items, operand.shape, allow)):
        if is_array(i):
            a = i.aval
            if a.shape != () or not dtypes.is_integer(a.dtype):
                raise TypeError(f"{fn}: start index {k} must be an integer scalar, got "
                                f"{a.str_short()}")
            promote_args.append(a)
            continue
        host = np.asarray(i) if not isinstance(i, (np.ndarray, np.generic)) else i
        if (host.shape != () or isinstance(i, bool) or not np.issubdtype(host.dtype, np.integer)):
            raise TypeError(f"{fn}: start index {k} must be an integer scalar, got {i!r}")
        value = int(host)
        if value < 0 and not neg:
            raise ValueError(f"{fn}: start index {k} is {value}, which is negative, and "
                             "allow_negative_indices is False for that dimension")
        if value < 0:
            value += dim
        static[k] = min(max(value, 0), dim)
        promote_args.append(int if dtypes.is_python_scalar(i) else host.dtype)
    index_dtype = (dtypes.result_type(*promote_args) if promote_args
                   else dtypes.default_int_dtype())
    # Values the index dtype must hold: static indices, and `dim` where a traced signed
    # index gets `i + dim` added.
    needed = [*static.values(), *(dim for k, (i, dim, neg) in
                                  enumerate(zip(items, operand.shape, allow))
                                  if k not in static and neg
                                  and dtypes.is_signed_integer(i.aval.dtype))]
    if needed and max(needed) > np.iinfo(index_dtype).max:
        index_dtype = dtypes.promote_types(index_dtype, dtypes.default_int_dtype())

    out = []
    for k, (i, dim, neg) in enumerate(zip(items, operand.shape, allow)):
        if k in static:
            out.append(np.asarray(static[k], index_dtype))
            continue
        signed = dtypes.is_signed_integer(i.aval.dtype)
        if i.aval.dtype != index_dtype:
            i = _lax_fn("convert_element_type")(i, index_dtype)
        if neg and signed:
            lt, add, select = (_lax_fn(n) for n in ("lt", "add", "select"))
            i = select(lt(i, np.asarray(0, index_dtype)),
                       add(i, np.asarray(dim, index_dtype)), i)
        out.append(i)
    return out


def _check_index_avals(fn: str, operand: AbstractArray,
                       indices: Sequence[AbstractArray]) -> None:
    if len(indices) != operand.ndim:
        raise TypeError(f"{fn}: got {len(indices)} start indices for operand "
                        f"{operand.str_short()}; pass one index per dimension")
    if any(i.shape != () or not dtypes.is_integer(i.dtype) for i in indices):
        raise TypeError(f"{fn}: start indices must be integer scalars, got {_short(indices)}")
    if len({i.dtype for i in indices}) > 1:
        raise TypeError(f"{fn}: start indices must share one integer dtype, got "
                        f"{_short(indices)}")


dynamic_slice_p = Primitive("dynamic_slice")


def dynamic_slice(operand: ArrayLike, start_indices: Any, slice_sizes: Sequence[int], *,
                  allow_negative_indices: bool | Sequence[bool] = True) -> Array:
    """A slice of static size `slice_sizes` at (possibly traced) `start_indices`.

    As in XLA, each start index is clamped into `[0, dim - size]`, so the slice always
    lies inside the operand. Negative indices count from the end of the dimension
    when `allow_negative_indices` is true (jax's default).

    Args:
        operand: an array.
        start_indices: one integer scalar per dimension (Python or numpy integers,
            lamina arrays or tracers), or a 1-D integer array.
        slice_sizes: the static size of the slice in each dimension.
        allow_negative_indices: a bool, or one bool per dimension.

    Returns:
        The slice, of shape `slice_sizes`.

    >>> np.asarray(dynamic_slice(np.int32([0, 1, 2, 3]), (3,), (2,))).tolist()
    [2, 3]
    """
    fn = "lax.dynamic_slice"
    aval = _aval(fn, "operand", operand)
    indices = _dynamic_indices(fn, aval, start_indices, allow_negative_indices)
    sizes = canonicalize_shape(slice_sizes, fn)
    return dynamic_slice_p.bind(operand, *indices, slice_sizes=sizes)


def _dynamic_slice_abstract_eval(operand: AbstractArray, *start_indices: AbstractArray,
                                 slice_sizes: Shape) -> AbstractArray:
    fn = "lax.dynamic_slice"
    _check_index_avals(fn, operand, start_indices)
    if len(slice_sizes) != operand.ndim:
        raise TypeError(f"{fn}: slice_sizes {slice_sizes} need one entry per dimension of "
                        f"the operand {operand.str_short()}")
    if any(not 0 <= s <= d for s, d in zip(slice_sizes, operand.shape)):
        raise TypeError(f"{fn}: slice_sizes {slice_sizes} must be non-negative and at most "
                        f"the operand shape {operand.shape}")
    return AbstractArray(slice_sizes, operand.dtype, operand.weak_type)


def _dynamic_slice_lower(ctx: lowering.RuleContext, x: lowering.Value,
                         *start_indices: lowering.Value, slice_sizes: Shape) -> lowering.Value:
    return ctx.op("stablehlo.dynamic_slice", [x, *start_indices], ctx.aval_out,
                  {"slice_sizes": lowering.i64_array(slice_sizes)})


dynamic_slice_p.def_abstract_eval(_dynamic_slice_abstract_eval)
lowering.register_lowering(dynamic_slice_p, _dynamic_slice_lower)


def dynamic_slice_in_dim(operand: ArrayLike, start_index: ArrayLike, slice_size: int,
                         axis: int = 0, *, allow_negative_indices: bool = True) -> Array:
    """`dynamic_slice` along one axis: `operand[..., start:start + slice_size]` (clamped).

    Args:
        operand: an array.
        start_index: the (possibly traced) start index.
        slice_size: the static slice size.
        axis: the axis to slice.
        allow_negative_indices: whether a negative index counts from the end.

    Returns:
        The slice.

    >>> dynamic_slice_in_dim(np.zeros((4, 6), np.float32), 2, 3, axis=1).shape
    (4, 3)
    """
    fn = "lax.dynamic_slice_in_dim"
    aval = _aval(fn, "operand", operand)
    axis = _checked_axis(fn, axis, aval)
    starts: list[Any] = [0] * aval.ndim
    starts[axis] = start_index
    sizes = list(aval.shape)
    sizes[axis] = operator_index(slice_size)
    allow = [False] * aval.ndim
    allow[axis] = allow_negative_indices
    return dynamic_slice(operand, starts, sizes, allow_negative_indices=allow)


def dynamic_index_in_dim(operand: ArrayLike, index: ArrayLike, axis: int = 0,
                         keepdims: bool = True, *,
                         allow_negative_indices: bool = True) -> Array:
    """`operand[..., index]` along `axis` with a (possibly traced) index, clamped.

    Args:
        operand: an array.
        index: the (possibly traced) index.
        axis: the axis to index.
        keepdims: keep the indexed axis (with size 1).
        allow_negative_indices: whether a negative index counts from the end.

    Returns:
        The sub-array.

    >>> dynamic_index_in_dim(np.zeros((4, 6), np.float32), 1, keepdims=False).shape
    (6,)
    """
    result = dynamic_slice_in_dim(operand, index, 1, axis,
                                  allow_negative_indices=allow_negative_indices)
    if keepdims:
        return result
    return squeeze(result, (_axis("lax.dynamic_index_in_dim", axis, result.ndim),))


# --------------------------------------------------------------------------------------
# dynamic_update_slice
# --------------------------------------------------------------------------------------

dynamic_update_slice_p = Primitive("dynamic_update_slice")


def dynamic_update_slice(operand: ArrayLike, update: ArrayLike, start_indices: Any, *,
                         allow_negative_indices: bool | Sequence[bool] = True) -> Array:
    """`operand` with `update` written at (possibly traced) `start_indices`.

    As in XLA, each start index is clamped into `[0, dim - update_dim]`, so the update
    always lies inside the operand. Negative indices count from the end of the
    dimension when `allow_negative_indices` is true.

    Args:
        operand: an array.
        update: an array of the same rank and dtype, no larger than `operand`.
        start_indices: one integer scalar per dimension, or a 1-D integer array.
        allow_negative_indices: a bool, or one bool per dimension.

    Returns:
        The updated array (same shape and dtype as `operand`).

    >>> np.asarray(dynamic_update_slice(np.int32([0, 0, 0]), np.int32([7]), (1,))).tolist()
    [0, 7, 0]
    """
    fn = "lax.dynamic_update_slice"
    aval = _aval(fn, "operand", operand)
    _aval(fn, "update", update)
    update = _match_scalar(fn, operand, update)
    indices = _dynamic_indices(fn, aval, start_indices, allow_negative_indices)
    return dynamic_update_slice_p.bind(operand, update, *indices)


def _dynamic_update_slice_abstract_eval(operand: AbstractArray, update: AbstractArray,
                                        *start_indices: AbstractArray) -> AbstractArray:
    fn = "lax.dynamic_update_slice"
    if operand.dtype != update.dtype:
        raise TypeError(f"{fn} requires operand and update to have the same dtype, got "
                        f"{operand.str_short()} and {update.str_short()}")
    if operand.ndim != update.ndim:
        raise TypeError(f"{fn}: update {update.str_short()} must have the same rank as the "
                        f"operand {operand.str_short()}")
    if any(u > d for u, d in zip(update.shape, operand.shape)):
        raise TypeError(f"{fn}: update {update.str_short()} is larger than the operand "
                        f"{operand.str_short()} in some dimension")
    _check_index_avals(fn, operand, start_indices)
    weak = all(a.weak_type for a in (operand, update, *start_indices))
    return operand.update(weak_type=weak)


dynamic_update_slice_p.def_abstract_eval(_dynamic_update_slice_abstract_eval)
lowering.register_lowering(dynamic_update_slice_p, _lower_to("stablehlo.dynamic_update_slice"))


def dynamic_update_slice_in_dim(operand: ArrayLike, update: ArrayLike,
                                start_index: ArrayLike, axis: int, *,
                                allow_negative_indices: bool = True) -> Array:
    """`dynamic_update_slice` at `start_index` along `axis` (index 0 elsewhere).

    Args:
        operand: an array.
        update: an array of the same rank and dtype.
        start_index: the (possibly traced) start index along `axis`.
        axis: the axis of the update.
        allow_negative_indices: whether a negative index counts from the end.

    Returns:
        The updated array.

    >>> x = dynamic_update_slice_in_dim(np.int32([0, 0, 0]), np.int32([5, 6]), -1, 0)
    >>> np.asarray(x).tolist()
    [0, 5, 6]
    """
    fn = "lax.dynamic_update_slice_in_dim"
    aval = _aval(fn, "operand", operand)
    axis = _checked_axis(fn, axis, aval)
    starts: list[Any] = [0] * aval.ndim
    starts[axis] = start_index
    allow = [False] * aval.ndim
    allow[axis] = allow_negative_indices
    return dynamic_update_slice(operand, update, starts, allow_negative_indices=allow)


def dynamic_update_index_in_dim(operand: ArrayLike, update: ArrayLike, index: ArrayLike,
                                axis: int, *, allow_negative_indices: bool = True) -> Array:
    """`dynamic_update_slice_in_dim` with a size-1 update along `axis`; `update` may
    omit that axis.

    Args:
        operand: an array.
        update: an array of rank `operand.ndim` (size 1 along `axis`) or one less.
        index: the (possibly traced) index along `axis`.
        axis: the axis of the update.
        allow_negative_indices: whether a negative index counts from the end.

    Returns:
        The updated array.

    >>> x = dynamic_update_index_in_dim(np.zeros((2, 3), np.float32), np.ones(3, np.float32), 1, 0)
    >>> np.asarray(x).tolist()
    [[0.0, 0.0, 0.0], [1.0, 1.0, 1.0]]
    """
    fn = "lax.dynamic_update_index_in_dim"
    aval = _aval(fn, "operand", operand)
    update_aval = _aval(fn, "update", update)
    axis = _checked_axis(fn, axis, aval)
    if update_aval.ndim == aval.ndim - 1:
        update = expand_dims(update, (axis,))
    elif update_aval.ndim != aval.ndim:
        raise TypeError(f"{fn}: update {update_aval.str_short()} must have rank "
                        f"{aval.ndim} or {aval.ndim - 1} for operand {aval.str_short()}")
    return dynamic_update_slice_in_dim(operand, update, index, axis,
                                       allow_negative_indices=allow_negative_indices)
