"""Shape and layout primitives, with jax.lax's names, signatures and semantics.

Primitives (one block each, in this order): `broadcast_in_dim`, `reshape`, `transpose`,
`squeeze`, `rev`, `iota`. The other public functions here are compositions of these, as
in jax: `broadcast`, `broadcast_to_rank`, `expand_dims`, `broadcasted_iota`, `full`,
`full_like`, `zeros_like_array`, `collapse`.

The slicing family (`slice`, `dynamic_slice`, `dynamic_update_slice` and their
`*_in_dim` forms) is in `lamina.lax.slicing`, and the ops that join or cut an axis
(`concatenate`, `pad`, `split`) are in `lamina.lax.joining`; both are re-exported here,
so `lamina.lax.structural` stays the namespace of the whole structural family (the
rules module and callers use it). The shared argument helpers are in
`lamina.lax._structural_util`.

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
from typing import Sequence

import numpy as np

from lamina import dtypes
from lamina.backend.array import Array
from lamina.interpreters import lowering
from lamina.ir import AbstractArray, Primitive
from lamina.lax._util import (
    ArrayLike, DTypeLike, Shape, aval_of, canonicalize_shape, is_array, operator_index,
)
from lamina.lax._structural_util import (
    _aval, _axes, _axis, _ints, _lax_fn, _layout_rule, _lower_to,
)

__all__ = [
    "broadcast",
    "broadcast_in_dim",
    "broadcast_to_rank",
    "broadcasted_iota",
    "collapse",
    "expand_dims",
    "full",
    "full_like",
    "iota",
    "reshape",
    "rev",
    "squeeze",
    "transpose",
]

_slice = slice  # NOTE: `slice` is shadowed below by lax.slice (jax's name).


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
    return _filled(fill, shape)


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
    return _filled(_fill_scalar(fn, fill_value, out_dtype, weak), fill_shape)


# NOTE: up to this many elements (16 MB of float32), an eager constant-filled array on a
# CPU device is made on the host and copied over: XLA would compile a broadcast program
# for every new shape (10-15 ms each; most of an eager parameter init's time).
_HOST_FILL_MAX_ELEMENTS = 1 << 22


def _filled(fill: ArrayLike, shape: tuple[int, ...]) -> Array:
    """`fill` (from `_fill_scalar`) broadcast to `shape`."""
    if not is_array(fill) and math.prod(shape) <= _HOST_FILL_MAX_ELEMENTS:
        from lamina.backend.array import device_put_host
        from lamina.backend.client import default_device
        from lamina.interpreters.eval import running_eagerly
        device = default_device()
        if device.platform == "cpu" and running_eagerly():
            return device_put_host(np.full(shape, fill, dtypes.dtype_of(fill)), device,
                                   weak_type=dtypes.is_weakly_typed(fill))
    return broadcast(fill, shape)


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


# NOTE: the slicing and joining families live in sibling modules (this one would be too
# long); re-exported here, primitives included, because the rules module and callers use
# `lamina.lax.structural` as the family's namespace. Imported after the wrappers above,
# which they use.
from lamina.lax.slicing import *  # noqa: E402,F401,F403
from lamina.lax.slicing import dynamic_slice_p, dynamic_update_slice_p, slice_p  # noqa: E402,F401
from lamina.lax.joining import *  # noqa: E402,F401,F403
from lamina.lax.joining import concatenate_p, pad_p, split_p  # noqa: E402,F401
from lamina.lax import joining as _joining, slicing as _slicing  # noqa: E402

__all__ = sorted(__all__ + _slicing.__all__ + _joining.__all__)


# NOTE: the transformation rules live in a sibling module (this one is long enough);
# imported last because they reference the primitives and wrappers above.
from lamina.lax import structural_rules as _rules  # noqa: E402,F401
