"""Shape and layout primitives, with jax.lax's names, signatures and semantics.

Primitives (one block each, in this order): `broadcast_in_dim`, `reshape`, `transpose`,
`squeeze`, `rev`, `slice`, `dynamic_slice`, `dynamic_update_slice`, `concatenate`,
`pad`, `iota`, `split`. The other public functions are compositions of these, as in
jax: `broadcast`, `broadcast_to_rank`, `expand_dims`, `slice_in_dim`, `index_in_dim`,
`dynamic_*_in_dim`, `broadcasted_iota`, `full`, `full_like`, `zeros_like_array`,
`collapse`.

Their JVP, transpose and batching rules are in `lamina.lax.structural_rules`,
imported at the end of this module.

Wrappers canonicalise (static integers become tuples of Python ints, in-range negative
axes become non-negative) and leave every check to the abstract-evaluation rules, which
the typechecker re-runs, so a bad program is rejected with the same message whether it
was built eagerly or traced. Messages name `lax.<fn>` and the offending shapes.
"""
from __future__ import annotations

import math
import warnings
from typing import Any, Callable, Sequence

import numpy as np

from lamina import dtypes
from lamina.backend.array import Array
from lamina.errors import ConcretizationError
from lamina.interpreters import lowering
from lamina.ir import AbstractArray, Primitive
from lamina.lax._util import (
    ArrayLike,
    DTypeLike,
    Shape,
    aval_of,
    canonicalize_shape,
    convert_python_scalars,
    is_array,
    operator_index,
)

__all__ = [
    "broadcast",
    "broadcast_in_dim",
    "broadcast_to_rank",
    "broadcasted_iota",
    "collapse",
    "concatenate",
    "dynamic_index_in_dim",
    "dynamic_slice",
    "dynamic_slice_in_dim",
    "dynamic_update_index_in_dim",
    "dynamic_update_slice",
    "dynamic_update_slice_in_dim",
    "expand_dims",
    "full",
    "full_like",
    "index_in_dim",
    "iota",
    "pad",
    "reshape",
    "rev",
    "slice",
    "slice_in_dim",
    "split",
    "squeeze",
    "transpose",
]

_slice = slice  # NOTE: `slice` is shadowed below by lax.slice (jax's name).


# --------------------------------------------------------------------------------------
# Local helpers
# --------------------------------------------------------------------------------------


def _aval(fun_name: str, arg_name: str, x: Any) -> AbstractArray:
    """The aval of an array argument, or a TypeError naming the function and argument."""
    if is_array(x) or isinstance(x, (np.ndarray, np.generic)) or dtypes.is_python_scalar(x):
        return aval_of(x)
    raise TypeError(f"{fun_name}: {arg_name} must be an array or a scalar, got "
                    f"{type(x).__name__}: {x!r}")


def _ints(fun_name: str, arg_name: str, values: Any) -> tuple[int, ...]:
    """A tuple of Python ints from an int or a sequence of integers (signs kept)."""
    if isinstance(values, (int, np.integer)) and not isinstance(values, bool):
        values = (values,)
    try:
        return tuple(int(operator_index(v)) for v in values)
    except ConcretizationError:
        raise
    except TypeError:
        raise TypeError(f"{fun_name}: {arg_name} must be a sequence of integers, got "
                        f"{values!r}") from None


def _axes(fun_name: str, arg_name: str, axes: Any, ndim: int) -> tuple[int, ...]:
    """Axes with in-range negative values made non-negative. Out-of-range axes are kept
    as given so that the abstract-eval rule reports them together with the shape."""
    return tuple(a + ndim if -ndim <= a < 0 else a for a in _ints(fun_name, arg_name, axes))


def _axis(fun_name: str, axis: Any, ndim: int) -> int:
    return _axes(fun_name, "axis", (axis,), ndim)[0]


def _short(avals: Sequence[AbstractArray]) -> str:
    return ", ".join(a.str_short() for a in avals)


def _layout_rule(shape_rule: Callable[..., Shape]) -> Callable[..., AbstractArray]:
    """Abstract eval of a one-operand layout op: dtype and weak type are kept, the shape
    comes from `shape_rule(aval, **params)` (which validates)."""

    def rule(operand: AbstractArray, **params: Any) -> AbstractArray:
        return operand.update(shape=shape_rule(operand, **params))

    return rule


def _lower_to(op_name: str,
              attrs: Callable[..., dict[str, str]] | None = None) -> lowering.LoweringRule:
    """The lowering to a single StableHLO op whose attributes are `attrs(**params)`."""

    def rule(ctx: lowering.RuleContext, *args: lowering.Value, **params: Any) -> Any:
        return ctx.op(op_name, list(args), ctx.aval_out, attrs(**params) if attrs else None)

    rule.__name__ = f"{op_name.split('.')[-1]}_lower"
    return rule


def _lax_fn(name: str) -> Callable[..., Any]:
    """A wrapper of the elementwise family (convert_element_type, lt, add, select).

    NOTE: imported at call time, the interpreters' cycle-breaker: the elementwise
    module may come to use structural ops at import time.
    """
    from lamina.lax import elementwise

    return getattr(elementwise, name)


def _match_scalar(fun_name: str, array: ArrayLike, scalar: ArrayLike) -> ArrayLike:
    """A Python scalar argument that must share `array`'s dtype (pad's padding value,
    dynamic_update_slice's update). If the scalar's own weak dtype already matches it
    stays a weak Python scalar (jax's weak-type result); otherwise it is converted
    when it fits (lax's rule for Python scalars, `convert_python_scalars`)."""
    if not dtypes.is_python_scalar(scalar) or dtypes.is_python_scalar(array):
        return scalar
    if dtypes.dtype_of(scalar) == _aval(fun_name, "operand", array).dtype:
        return scalar
    return convert_python_scalars(fun_name.removeprefix("lax."), array, scalar)[1]


# --------------------------------------------------------------------------------------
# broadcast_in_dim
# --------------------------------------------------------------------------------------

broadcast_in_dim_p = Primitive("broadcast_in_dim")


def broadcast_in_dim(operand: ArrayLike, shape: Sequence[int],
                     broadcast_dimensions: Sequence[int]) -> Array:
    """Broadcasts `operand` to `shape`, mapping its dimension i to `broadcast_dimensions[i]`.

    Lowers to `stablehlo.broadcast_in_dim`. Each operand dimension must be 1 or equal to
    the target dimension it maps to; `broadcast_dimensions` must be strictly increasing
    (transpose the operand first to reorder its dimensions).

    Args:
        operand: an array or scalar.
        shape: the target shape.
        broadcast_dimensions: for each operand dimension, the target dimension it
            becomes.

    Returns:
        An array of shape `shape` with `operand`'s dtype.

    >>> broadcast_in_dim(np.float32([1, 2, 3]), (2, 3), (1,)).shape
    (2, 3)
    """
    aval = _aval("lax.broadcast_in_dim", "operand", operand)
    shape = canonicalize_shape(shape, "lax.broadcast_in_dim")
    dims = _axes("lax.broadcast_in_dim", "broadcast_dimensions", broadcast_dimensions,
                 len(shape))
    if is_array(operand) and aval.shape == shape and dims == tuple(range(aval.ndim)):
        return operand
    return broadcast_in_dim_p.bind(operand, shape=shape, broadcast_dimensions=dims)


def _broadcast_in_dim_shape(operand: AbstractArray, *, shape: Shape,
                            broadcast_dimensions: tuple[int, ...]) -> Shape:
    fn, dims = "lax.broadcast_in_dim", broadcast_dimensions
    if any(d < 0 for d in shape):
        raise TypeError(f"{fn}: target shape {shape} has a negative dimension")
    if len(shape) < operand.ndim:
        raise TypeError(f"{fn}: target shape {shape} has lower rank than the operand "
                        f"{operand.str_short()}")
    if len(dims) != operand.ndim:
        raise TypeError(f"{fn}: broadcast_dimensions {dims} must have one entry per operand "
                        f"dimension, got {len(dims)} for operand {operand.str_short()}")
    if any(not 0 <= d < len(shape) for d in dims):
        raise TypeError(f"{fn}: broadcast_dimensions {dims} are out of range for the target "
                        f"shape {shape} (rank {len(shape)}); operand {operand.str_short()}")
    if any(a >= b for a, b in zip(dims, dims[1:])):
        raise TypeError(f"{fn}: broadcast_dimensions {dims} must be strictly increasing "
                        f"(sorted, no repeats); operand {operand.str_short()}, target shape "
                        f"{shape}. Use lax.transpose first to reorder operand dimensions.")
    for i, d in enumerate(dims):
        if operand.shape[i] not in (1, shape[d]):
            raise TypeError(
                f"{fn}: operand dimension {i} of {operand.str_short()} has size "
                f"{operand.shape[i]}, which must be 1 or equal to the size {shape[d]} of "
                f"target dimension {d} (target shape {shape}, broadcast_dimensions {dims})")
    return shape


broadcast_in_dim_p.def_abstract_eval(_layout_rule(_broadcast_in_dim_shape))
lowering.register_lowering(broadcast_in_dim_p, _lower_to(
    "stablehlo.broadcast_in_dim",
    lambda shape, broadcast_dimensions: {
        "broadcast_dimensions": lowering.i64_array(broadcast_dimensions)}))


def broadcast(operand: ArrayLike, sizes: Sequence[int]) -> Array:
    """Adds leading dimensions of sizes `sizes`: the result has shape
    `(*sizes, *operand.shape)`.

    Args:
        operand: an array or scalar.
        sizes: the sizes of the new leading dimensions.

    Returns:
        The broadcast array.

    >>> broadcast(np.float32([1, 2]), (3,)).shape
    (3, 2)
    """
    aval = _aval("lax.broadcast", "operand", operand)
    sizes = canonicalize_shape(sizes, "lax.broadcast")
    dims = tuple(range(len(sizes), len(sizes) + aval.ndim))
    return broadcast_in_dim(operand, sizes + aval.shape, dims)


def broadcast_to_rank(x: ArrayLike, rank: int) -> Array:
    """Adds leading dimensions of size 1 so that `x` has rank `rank`.

    Args:
        x: an array or scalar of rank at most `rank`.
        rank: the rank of the result.

    Returns:
        `x` with `rank - x.ndim` leading unit dimensions.

    >>> broadcast_to_rank(np.float32([1, 2]), 3).shape
    (1, 1, 2)
    """
    aval = _aval("lax.broadcast_to_rank", "x", x)
    rank = operator_index(rank)
    if rank < aval.ndim:
        raise ValueError(f"lax.broadcast_to_rank: rank {rank} is lower than the rank of "
                         f"{aval.str_short()}")
    return broadcast(x, (1,) * (rank - aval.ndim))


def expand_dims(array: ArrayLike, dimensions: Sequence[int]) -> Array:
    """Inserts dimensions of size 1 at `dimensions` (axes of the result).

    Args:
        array: an array or scalar.
        dimensions: positions of the new unit dimensions in the result; negative
            values count from the end of the result.

    Returns:
        The reshaped array (a `broadcast_in_dim`, as in jax).

    >>> expand_dims(np.float32([1, 2]), (0, -1)).shape
    (1, 2, 1)
    """
    fn = "lax.expand_dims"
    aval = _aval(fn, "array", array)
    given = _ints(fn, "dimensions", dimensions)
    ndim_out = aval.ndim + len(given)
    dims = tuple(d + ndim_out if d < 0 else d for d in given)
    if any(not 0 <= d < ndim_out for d in dims):
        raise ValueError(f"{fn}: dimensions {given} are out of range for a result of rank "
                         f"{ndim_out} (operand {aval.str_short()})")
    if len(set(dims)) != len(dims):
        raise ValueError(f"{fn}: repeated axis in dimensions {given}")
    shape = list(aval.shape)
    for d in sorted(dims):
        shape.insert(d, 1)
    kept = tuple(i for i in range(ndim_out) if i not in dims)
    return broadcast_in_dim(array, tuple(shape), kept)


# --------------------------------------------------------------------------------------
# reshape
# --------------------------------------------------------------------------------------

reshape_p = Primitive("reshape")


def reshape(operand: ArrayLike, new_sizes: Sequence[int],
            dimensions: Sequence[int] | None = None) -> Array:
    """Reshapes `operand` to `new_sizes` (row-major order), after transposing it by
    `dimensions` when given (jax's semantics).

    Args:
        operand: an array or scalar.
        new_sizes: the result shape; its size must equal the operand's.
        dimensions: optional permutation of the operand's dimensions applied first.

    Returns:
        The reshaped array.

    >>> reshape(np.arange(6, dtype=np.int32), (2, 3)).shape
    (2, 3)
    """
    fn = "lax.reshape"
    aval = _aval(fn, "operand", operand)
    new_sizes = canonicalize_shape(new_sizes, fn)
    dims = None if dimensions is None else _axes(fn, "dimensions", dimensions, aval.ndim)
    if dims == tuple(range(aval.ndim)):
        dims = None
    if is_array(operand) and dims is None and aval.shape == new_sizes:
        return operand
    return reshape_p.bind(operand, new_sizes=new_sizes, dimensions=dims)


def _reshape_shape(operand: AbstractArray, *, new_sizes: Shape,
                   dimensions: tuple[int, ...] | None) -> Shape:
    fn = "lax.reshape"
    if any(d < 0 for d in new_sizes):
        raise TypeError(f"{fn}: new_sizes {new_sizes} has a negative dimension")
    if dimensions is not None and sorted(dimensions) != list(range(operand.ndim)):
        raise TypeError(f"{fn}: dimensions {dimensions} must be a permutation of "
                        f"{tuple(range(operand.ndim))} for operand {operand.str_short()}")
    if math.prod(new_sizes) != operand.size:
        raise TypeError(f"{fn}: cannot reshape {operand.str_short()} ({operand.size} "
                        f"elements) into shape {new_sizes} ({math.prod(new_sizes)} elements)")
    return new_sizes


def _reshape_lower(ctx: lowering.RuleContext, x: lowering.Value, *, new_sizes: Shape,
                   dimensions: tuple[int, ...] | None) -> lowering.Value:
    if dimensions is not None:
        in_aval = ctx.avals_in[0]
        moved = in_aval.update(shape=[in_aval.shape[d] for d in dimensions])
        x = ctx.op("stablehlo.transpose", [x], moved,
                   {"permutation": lowering.i64_array(dimensions)})
    return ctx.op("stablehlo.reshape", [x], ctx.aval_out)


reshape_p.def_abstract_eval(_layout_rule(_reshape_shape))
lowering.register_lowering(reshape_p, _reshape_lower)


def collapse(operand: ArrayLike, start_dimension: int,
             stop_dimension: int | None = None) -> Array:
    """Merges dimensions `[start_dimension, stop_dimension)` into one (row-major).

    Args:
        operand: an array.
        start_dimension: first dimension to merge (Python slice semantics).
        stop_dimension: one past the last dimension to merge; None means the end.

    Returns:
        The reshaped array.

    >>> collapse(np.zeros((2, 3, 4), np.float32), 1).shape
    (2, 12)
    """
    aval = _aval("lax.collapse", "operand", operand)
    lo, hi, _ = _slice(start_dimension, stop_dimension).indices(aval.ndim)
    if hi < lo:
        raise ValueError(f"lax.collapse: invalid dimension range [{start_dimension}:"
                         f"{stop_dimension}] for operand {aval.str_short()}")
    size = math.prod(aval.shape[lo:hi])
    return reshape(operand, aval.shape[:lo] + (size,) + aval.shape[hi:])


# --------------------------------------------------------------------------------------
# transpose
# --------------------------------------------------------------------------------------

transpose_p = Primitive("transpose")


def transpose(operand: ArrayLike, permutation: Sequence[int]) -> Array:
    """Permutes the dimensions of `operand`: result dimension i is operand dimension
    `permutation[i]`.

    Args:
        operand: an array.
        permutation: a permutation of `range(operand.ndim)` (negative values count
            from the end).

    Returns:
        The transposed array.

    >>> transpose(np.zeros((2, 3), np.float32), (1, 0)).shape
    (3, 2)
    """
    aval = _aval("lax.transpose", "operand", operand)
    perm = _axes("lax.transpose", "permutation", permutation, aval.ndim)
    if is_array(operand) and perm == tuple(range(aval.ndim)):
        return operand
    return transpose_p.bind(operand, permutation=perm)


def _transpose_shape(operand: AbstractArray, *, permutation: tuple[int, ...]) -> Shape:
    if sorted(permutation) != list(range(operand.ndim)):
        raise TypeError(f"lax.transpose: permutation {permutation} is not a permutation of "
                        f"the operand's dimensions {tuple(range(operand.ndim))}; operand "
                        f"{operand.str_short()}")
    return tuple(operand.shape[d] for d in permutation)


transpose_p.def_abstract_eval(_layout_rule(_transpose_shape))
lowering.register_lowering(transpose_p, _lower_to(
    "stablehlo.transpose",
    lambda permutation: {"permutation": lowering.i64_array(permutation)}))


# --------------------------------------------------------------------------------------
# squeeze
# --------------------------------------------------------------------------------------

squeeze_p = Primitive("squeeze")


def squeeze(array: ArrayLike, dimensions: Sequence[int]) -> Array:
    """Removes the size-1 dimensions `dimensions` from `array`.

    Args:
        array: an array.
        dimensions: dimensions of size 1 to remove (negative values count from the end).

    Returns:
        The array without those dimensions.

    >>> squeeze(np.zeros((1, 3, 1), np.float32), (0, 2)).shape
    (3,)
    """
    aval = _aval("lax.squeeze", "array", array)
    dims = tuple(sorted(_axes("lax.squeeze", "dimensions", dimensions, aval.ndim)))
    if is_array(array) and not dims:
        return array
    return squeeze_p.bind(array, dimensions=dims)


def _squeeze_shape(operand: AbstractArray, *, dimensions: tuple[int, ...]) -> Shape:
    fn = "lax.squeeze"
    if len(set(dimensions)) != len(dimensions):
        raise ValueError(f"{fn}: repeated axis in dimensions {dimensions}")
    if any(not 0 <= d < operand.ndim for d in dimensions):
        raise ValueError(f"{fn}: dimensions {dimensions} are out of range for operand "
                         f"{operand.str_short()} of rank {operand.ndim}")
    bad = [d for d in dimensions if operand.shape[d] != 1]
    if bad:
        raise ValueError(f"{fn}: cannot squeeze dimension(s) {tuple(bad)} of "
                         f"{operand.str_short()}: only dimensions of size 1 can be removed")
    return tuple(s for i, s in enumerate(operand.shape) if i not in dimensions)


squeeze_p.def_abstract_eval(_layout_rule(_squeeze_shape))
lowering.register_lowering(squeeze_p, _lower_to("stablehlo.reshape"))


# --------------------------------------------------------------------------------------
# rev
# --------------------------------------------------------------------------------------

rev_p = Primitive("rev")


def rev(operand: ArrayLike, dimensions: Sequence[int]) -> Array:
    """Reverses `operand` along `dimensions`.

    Args:
        operand: an array.
        dimensions: the dimensions to reverse (negative values count from the end).

    Returns:
        The reversed array.

    >>> np.asarray(rev(np.int32([1, 2, 3]), (0,))).tolist()
    [3, 2, 1]
    """
    aval = _aval("lax.rev", "operand", operand)
    dims = _axes("lax.rev", "dimensions", dimensions, aval.ndim)
    return rev_p.bind(operand, dimensions=dims)


def _rev_shape(operand: AbstractArray, *, dimensions: tuple[int, ...]) -> Shape:
    if len(set(dimensions)) != len(dimensions):
        raise TypeError(f"lax.rev: dimensions {dimensions} must be unique")
    if any(not 0 <= d < operand.ndim for d in dimensions):
        raise TypeError(f"lax.rev: dimensions {dimensions} are out of range for operand "
                        f"{operand.str_short()} of rank {operand.ndim}")
    return operand.shape


rev_p.def_abstract_eval(_layout_rule(_rev_shape))
lowering.register_lowering(rev_p, _lower_to(
    "stablehlo.reverse", lambda dimensions: {"dimensions": lowering.i64_array(dimensions)}))


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


# --------------------------------------------------------------------------------------
# concatenate
# --------------------------------------------------------------------------------------

concatenate_p = Primitive("concatenate")


def concatenate(operands: Sequence[ArrayLike], dimension: int) -> Array:
    """Joins arrays of equal dtype along `dimension`; other dimensions must match.

    Args:
        operands: a non-empty sequence of arrays.
        dimension: the dimension to join along (negative counts from the end).

    Returns:
        The concatenation.

    >>> concatenate([np.zeros((2, 3), np.float32), np.ones((2, 1), np.float32)], 1).shape
    (2, 4)
    """
    fn = "lax.concatenate"
    if is_array(operands):  # an array is a sequence of its rows, as in jax
        aval = _aval(fn, "operands", operands)
        if aval.ndim < 2:
            raise TypeError(f"{fn}: operands must be a sequence of arrays, or an array of "
                            f"rank >= 2 (a stack of them), got {aval.str_short()}")
        operands = [index_in_dim(operands, i, keepdims=False) for i in range(aval.shape[0])]
    try:
        operands = list(operands)
    except TypeError:
        raise TypeError(f"{fn}: operands must be a sequence of arrays, got "
                        f"{type(operands).__name__}") from None
    if not operands:
        raise ValueError(f"{fn} requires a non-empty sequence of arrays")
    avals = [_aval(fn, f"operands[{k}]", x) for k, x in enumerate(operands)]
    dim = _axis(fn, dimension, avals[0].ndim)
    if len(operands) == 1 and is_array(operands[0]) and 0 <= dim < avals[0].ndim:
        return operands[0]
    return concatenate_p.bind(*operands, dimension=dim)


def _concatenate_abstract_eval(*operands: AbstractArray, dimension: int) -> AbstractArray:
    fn = "lax.concatenate"
    if not operands:
        raise TypeError(f"{fn} requires at least one operand")
    if len({o.dtype for o in operands}) > 1:
        raise TypeError(f"{fn} requires arguments to have the same dtypes, got "
                        f"{_short(operands)} (lamina.numpy.concatenate promotes dtypes)")
    if len({o.ndim for o in operands}) > 1:
        raise TypeError(f"{fn}: cannot concatenate arrays of different ranks: "
                        f"{_short(operands)}")
    first = operands[0]
    if not 0 <= dimension < first.ndim:
        raise TypeError(f"{fn}: dimension {dimension} is out of range for operands "
                        f"{_short(operands)} of rank {first.ndim}")
    rest = {o.shape[:dimension] + o.shape[dimension + 1:] for o in operands}
    if len(rest) > 1:
        raise TypeError(f"{fn}: operand shapes must match except along dimension "
                        f"{dimension}, got {_short(operands)}")
    size = sum(o.shape[dimension] for o in operands)
    shape = first.shape[:dimension] + (size,) + first.shape[dimension + 1:]
    return AbstractArray(shape, first.dtype, all(o.weak_type for o in operands))


concatenate_p.def_abstract_eval(_concatenate_abstract_eval)
lowering.register_lowering(concatenate_p, _lower_to(
    "stablehlo.concatenate", lambda dimension: {"dimension": lowering.i64_attr(dimension)}))


# --------------------------------------------------------------------------------------
# pad
# --------------------------------------------------------------------------------------

pad_p = Primitive("pad")


def pad(operand: ArrayLike, padding_value: ArrayLike,
        padding_config: Sequence[tuple[int, int, int]]) -> Array:
    """Pads `operand` with `padding_value`: `(low, high, interior)` per dimension.

    `low`/`high` elements are added at the edges (negative values remove elements),
    `interior` elements between every pair of neighbours.

    Args:
        operand: an array.
        padding_value: a scalar of the operand's dtype (a Python scalar is converted
            when it fits).
        padding_config: one `(low, high, interior)` triple of ints per dimension;
            `interior` must be non-negative.

    Returns:
        The padded array.

    >>> np.asarray(pad(np.int32([1, 2, 3]), 0, [(1, -1, 1)])).tolist()
    [0, 1, 0, 2, 0]
    """
    fn = "lax.pad"
    _aval(fn, "operand", operand)
    _aval(fn, "padding_value", padding_value)
    padding_value = _match_scalar(fn, operand, padding_value)
    try:
        config = tuple(_ints(fn, "padding_config", triple) for triple in padding_config)
    except TypeError as e:
        raise TypeError(f"{fn}: padding_config must be a sequence of (low, high, interior) "
                        f"integer triples, got {padding_config!r}") from e
    if any(len(t) != 3 for t in config):
        raise TypeError(f"{fn}: padding_config must be a sequence of (low, high, interior) "
                        f"triples, got {padding_config!r}")
    return pad_p.bind(operand, padding_value, padding_config=config)


def _pad_abstract_eval(operand: AbstractArray, padding_value: AbstractArray, *,
                       padding_config: tuple[tuple[int, int, int], ...]) -> AbstractArray:
    fn = "lax.pad"
    if operand.dtype != padding_value.dtype:
        raise TypeError(f"{fn} requires operand and padding_value to have the same dtype, "
                        f"got {operand.str_short()} and {padding_value.str_short()}")
    if padding_value.shape != ():
        raise TypeError(f"{fn}: padding_value must be a scalar, got "
                        f"{padding_value.str_short()}")
    if len(padding_config) != operand.ndim:
        raise ValueError(f"{fn}: padding_config {padding_config} needs one (low, high, "
                         f"interior) triple per dimension of the operand {operand.str_short()}")
    if any(i < 0 for _, _, i in padding_config):
        raise ValueError(f"{fn}: interior padding must be non-negative, got padding_config "
                         f"{padding_config}")
    shape = tuple(lo + hi + (0 if d == 0 else d + (d - 1) * i)
                  for (lo, hi, i), d in zip(padding_config, operand.shape))
    if any(d < 0 for d in shape):
        raise ValueError(f"{fn}: padding_config {padding_config} removes more elements than "
                         f"the operand {operand.str_short()} has (result shape {shape})")
    return AbstractArray(shape, operand.dtype, operand.weak_type and padding_value.weak_type)


def _pad_lower(ctx: lowering.RuleContext, x: lowering.Value, padding_value: lowering.Value,
               *, padding_config: tuple[tuple[int, int, int], ...]) -> lowering.Value:
    lo, hi, interior = zip(*padding_config) if padding_config else ((), (), ())
    return ctx.op("stablehlo.pad", [x, padding_value], ctx.aval_out, {
        "edge_padding_low": lowering.i64_array(lo),
        "edge_padding_high": lowering.i64_array(hi),
        "interior_padding": lowering.i64_array(interior)})


pad_p.def_abstract_eval(_pad_abstract_eval)
lowering.register_lowering(pad_p, _pad_lower)


# --------------------------------------------------------------------------------------
# iota
# --------------------------------------------------------------------------------------

iota_p = Primitive("iota")


def broadcasted_iota(dtype: DTypeLike, shape: Sequence[int], dimension: int) -> Array:
    """An array of `shape` whose values count 0, 1, 2... along `dimension`.

    Args:
        dtype: a numeric dtype (not bool).
        shape: the result shape.
        dimension: the dimension along which values increase (negative counts from
            the end).

    Returns:
        The iota array.

    >>> np.asarray(broadcasted_iota(np.int32, (2, 3), 1)).tolist()
    [[0, 1, 2], [0, 1, 2]]
    """
    fn = "lax.broadcasted_iota"
    dtype = dtypes.check_user_dtype_supported(dtype, fn)
    shape = canonicalize_shape(shape, fn)
    dim = _axis(fn, dimension, len(shape))
    return iota_p.bind(dtype=dtype, shape=shape, dimension=dim)


def iota(dtype: DTypeLike, size: int) -> Array:
    """`[0, 1, ..., size - 1]` in `dtype`.

    Args:
        dtype: a numeric dtype (not bool).
        size: the length.

    Returns:
        A 1-D array.

    >>> np.asarray(iota(np.float32, 3)).tolist()
    [0.0, 1.0, 2.0]
    """
    return broadcasted_iota(dtype, (size,), 0)


def _iota_abstract_eval(*, dtype: np.dtype, shape: Shape, dimension: int) -> AbstractArray:
    fn = "lax.iota"
    if dtypes.is_bool(dtype):
        raise TypeError(f"{fn} does not accept dtype bool; accepted dtypes are the integer, "
                        "floating and complex ones")
    if any(d < 0 for d in shape):
        raise ValueError(f"{fn}: shape {shape} has a negative dimension")
    if not 0 <= dimension < len(shape):
        raise ValueError(f"{fn}: dimension {dimension} is out of range for shape {shape}")
    return AbstractArray(shape, dtype)


def _iota_lower(ctx: lowering.RuleContext, *, dtype: np.dtype, shape: Shape,
                dimension: int) -> lowering.Value:
    return ctx.op("stablehlo.iota", [], ctx.aval_out,
                  {"iota_dimension": lowering.i64_attr(dimension)})


iota_p.def_abstract_eval(_iota_abstract_eval)
lowering.register_lowering(iota_p, _iota_lower)


# --------------------------------------------------------------------------------------
# split
# --------------------------------------------------------------------------------------

split_p = Primitive("split", multiple_results=True)


def split(operand: ArrayLike, sizes: Sequence[int], axis: int = 0) -> list[Array]:
    """Splits `operand` along `axis` into pieces of the given `sizes`.

    Args:
        operand: an array.
        sizes: non-negative piece sizes summing to `operand.shape[axis]`.
        axis: the axis to split (negative counts from the end).

    Returns:
        A list of `len(sizes)` arrays.

    >>> [p.shape for p in split(np.zeros((5, 2), np.float32), (2, 3))]
    [(2, 2), (3, 2)]
    """
    fn = "lax.split"
    aval = _aval(fn, "operand", operand)
    sizes = _ints(fn, "sizes", sizes)
    return split_p.bind(operand, sizes=sizes, axis=_axis(fn, axis, aval.ndim))


def _split_abstract_eval(operand: AbstractArray, *, sizes: tuple[int, ...],
                         axis: int) -> list[AbstractArray]:
    fn = "lax.split"
    if not 0 <= axis < operand.ndim:
        raise ValueError(f"{fn}: axis {axis} is out of range for operand "
                         f"{operand.str_short()} of rank {operand.ndim}")
    if any(s < 0 for s in sizes):
        raise ValueError(f"{fn}: sizes {sizes} must be non-negative")
    if sum(sizes) != operand.shape[axis]:
        raise ValueError(f"{fn}: sizes {sizes} sum to {sum(sizes)}, but dimension {axis} of "
                         f"the operand {operand.str_short()} has size {operand.shape[axis]}")
    shapes = [operand.shape[:axis] + (s,) + operand.shape[axis + 1:] for s in sizes]
    return [operand.update(shape=s) for s in shapes]


def _split_lower(ctx: lowering.RuleContext, x: lowering.Value, *, sizes: tuple[int, ...],
                 axis: int) -> list[lowering.Value]:
    shape = ctx.avals_in[0].shape
    start, outs = 0, []
    for size, aval in zip(sizes, ctx.avals_out):
        starts = [0] * len(shape)
        limits = list(shape)
        starts[axis], limits[axis] = start, start + size
        outs.append(ctx.op("stablehlo.slice", [x], aval, {
            "start_indices": lowering.i64_array(starts),
            "limit_indices": lowering.i64_array(limits),
            "strides": lowering.i64_array([1] * len(shape))}))
        start += size
    return outs


split_p.def_abstract_eval(_split_abstract_eval)
lowering.register_lowering(split_p, _split_lower)


# --------------------------------------------------------------------------------------
# full and friends (compositions: a scalar constant through broadcast_in_dim)
# --------------------------------------------------------------------------------------


def _fill_scalar(fn: str, fill_value: ArrayLike, dtype: np.dtype, weak: bool) -> ArrayLike:
    """`fill_value` as a 0-d value of `dtype` (weakly typed if `weak`)."""
    if is_array(fill_value):
        aval = fill_value.aval
        if aval.shape != ():
            raise TypeError(f"{fn}: fill_value must be a scalar, got {aval.str_short()}")
        if aval.dtype == dtype and aval.weak_type == weak:
            return fill_value
        return _lax_fn("convert_element_type")(fill_value, dtype, weak_type=weak)
    if not (isinstance(fill_value, (np.ndarray, np.generic))
            or dtypes.is_python_scalar(fill_value)):
        raise TypeError(f"{fn}: fill_value must be a scalar, got {type(fill_value).__name__}: "
                        f"{fill_value!r}")
    host = np.asarray(fill_value)
    if host.shape != ():
        raise TypeError(f"{fn}: fill_value must be a scalar, got an array of shape "
                        f"{host.shape}")
    if dtypes.is_complex(host.dtype) and not dtypes.is_complex(dtype):
        # NOTE: convert_element_type's rule (and numpy's): keep the real part, warn.
        warnings.warn("Casting complex values to real discards the imaginary part",
                      np.exceptions.ComplexWarning, stacklevel=3)
        host = host.real
    with np.errstate(all="ignore"):
        host = host.astype(dtype)
    # NOTE: a weak dtype is always its kind's default, so the equivalent Python scalar
    # (`item()`) is a weakly-typed value of exactly `dtype`.
    return host.item() if weak and not dtypes.is_bool(dtype) else host


def full(shape: Sequence[int], fill_value: ArrayLike, dtype: DTypeLike | None = None) -> Array:
    """An array of `shape` filled with `fill_value`.

    Args:
        shape: the result shape.
        fill_value: a scalar. Without `dtype` its own dtype is used, and a Python
            scalar gives a weakly-typed result, as in jax.
        dtype: the result dtype; `fill_value` is converted to it.

    Returns:
        The filled array.

    >>> np.asarray(full((2,), 7, np.int8)).tolist()
    [7, 7]
    """
    fn = "lax.full"
    shape = canonicalize_shape(shape, fn)
    if dtype is None:
        aval = _aval(fn, "fill_value", fill_value)
        fill = _fill_scalar(fn, fill_value, aval.dtype, aval.weak_type)
    else:
        fill = _fill_scalar(fn, fill_value, dtypes.check_user_dtype_supported(dtype, fn), False)
    return broadcast(fill, shape)


def full_like(x: ArrayLike, fill_value: ArrayLike, dtype: DTypeLike | None = None,
              shape: Sequence[int] | None = None) -> Array:
    """An array like `x` (its shape and dtype, unless given) filled with `fill_value`.

    Args:
        x: an array, scalar, or anything with `.shape` and `.dtype`.
        fill_value: a scalar, converted to the result dtype.
        dtype: the result dtype (default: `x`'s; the result is weak if `x` is).
        shape: the result shape (default: `x`'s).

    Returns:
        The filled array.

    >>> full_like(np.zeros((2, 3), np.float32), 1).dtype
    dtype('float32')
    """
    fn = "lax.full_like"
    aval = aval_of(x)
    fill_shape = aval.shape if shape is None else canonicalize_shape(shape, fn)
    weak = dtype is None and aval.weak_type
    out_dtype = aval.dtype if dtype is None else dtypes.check_user_dtype_supported(dtype, fn)
    return broadcast(_fill_scalar(fn, fill_value, out_dtype, weak), fill_shape)


def zeros_like_array(x: ArrayLike) -> Array:
    """Zeros with the shape, dtype and weak type of `x`.

    Args:
        x: an array or scalar.

    Returns:
        The zero array.

    >>> zeros_like_array(np.ones((2,), np.int8)).dtype
    dtype('int8')
    """
    return full_like(x, 0)



# NOTE: the transformation rules live in a sibling module (this one is long enough);
# imported last because they reference the primitives and wrappers above.
from lamina.lax import structural_rules as _rules  # noqa: E402,F401
