"""The primitives that join or cut along an axis, with jax.lax's names, signatures and
semantics: `concatenate`, `pad` (edge and interior padding, negative widths crop) and
`split` (one block each).

Part of the structural family (re-exported by `lamina.lax.structural`, whose rules
module holds their JVP, transpose and batching rules); kept in their own module because
they change an axis's extent by joining or cutting pieces, unlike the layout ops.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np  # noqa: F401  (the doctests use np)

from lamina.backend.array import Array
from lamina.interpreters import lowering
from lamina.ir import AbstractArray, Primitive
from lamina.lax._util import ArrayLike, is_array
from lamina.lax._structural_util import _aval, _axis, _ints, _lower_to, _match_scalar, _short
from lamina.lax.slicing import index_in_dim

__all__ = [
    "concatenate",
    "pad",
    "split",
]


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
