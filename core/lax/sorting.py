"""`sort`, `sort_key_val` and `top_k`: jax.lax's sorting primitives (`stablehlo.sort`
with a total-order comparator; `chlo.top_k`).

Part of `lamina.lax.reductions`' namespace (it imports these names back); their JVP and
batching rules are in `reductions_rules.py` with the rest of the family.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Callable

import numpy as np

from lamina import dtypes
from lamina.interpreters import lowering
from lamina.interpreters.lowering import RuleContext, Value
from lamina.ir import AbstractArray, Primitive
from lamina.lax._util import (ArrayLike, aval_of, canonicalize_axis, check_arraylike,
                              operator_index)
from lamina.lax.reductions import (_BOOL, _check_dtype, _compare, _is_ordered, _scalar,
                                   _select)

__all__ = ["sort", "sort_key_val", "top_k"]

Array = Any  # lamina.Array (or a Tracer while tracing)


def _sort_keys(ctx: RuleContext, x: Value, aval: AbstractArray) -> list[tuple[Value, np.dtype]]:
    """The scalar keys that order `x` (jax's order): floats with -0.0 made +0.0 and every
    NaN made +NaN, so that a total-order compare puts NaNs last and keeps equal values
    (0.0 and -0.0, NaNs) in input order for a stable sort; complex by (real, imag)."""
    if dtypes.is_complex(aval.dtype):
        part = _scalar(dtypes.real_dtype(aval.dtype))
        return [*_sort_keys(ctx, ctx.op("stablehlo.real", [x], part), part),
                *_sort_keys(ctx, ctx.op("stablehlo.imag", [x], part), part)]
    if not dtypes.is_floating(aval.dtype):
        return [(x, aval.dtype)]
    zero = ctx.constant(0, aval)
    x = _select(ctx, _compare(ctx, x, zero, "EQ", aval.dtype), zero, x, aval)
    x = _select(ctx, _compare(ctx, x, x, "NE", aval.dtype), ctx.constant(np.nan, aval), x, aval)
    return [(x, aval.dtype)]


def _sort_comparator(ctx: RuleContext, scalars: Sequence[AbstractArray], num_keys: int
                     ) -> Callable[[list[Value]], list[Value]]:
    """lhs < rhs, lexicographically over the first `num_keys` operands."""

    def body(args: list[Value]) -> list[Value]:
        lhs_keys, rhs_keys = [], []
        for i in range(num_keys):
            lhs_keys += _sort_keys(ctx, args[2 * i], scalars[i])
            rhs_keys += _sort_keys(ctx, args[2 * i + 1], scalars[i])
        less = None
        for (x, dtype), (y, _) in reversed(list(zip(lhs_keys, rhs_keys))):
            lt = _compare(ctx, x, y, "LT", dtype, total_order=True)
            if less is not None:
                eq = _compare(ctx, x, y, "EQ", dtype, total_order=True)
                lt = ctx.op("stablehlo.or", [lt, ctx.op("stablehlo.and", [eq, less], _BOOL)],
                            _BOOL)
            less = lt
        return [less]

    return body


sort_p = Primitive("sort", multiple_results=True)


def sort(operand: ArrayLike | Sequence[ArrayLike], dimension: int = -1, is_stable: bool = True,
         num_keys: int = 1) -> Array | tuple[Array, ...]:
    """Sort along `dimension` (ascending; NaNs last; -0.0 and 0.0 compare equal; complex
    numbers by real part, then imaginary part).

    Args:
        operand: an array, or a sequence of arrays of one shape sorted together: the
            first `num_keys` are the keys (lexicographic, first key primary), the others
            follow the same permutation.
        dimension: the axis to sort along.
        is_stable: keep equal keys in their input order.
        num_keys: how many leading operands are keys.

    Returns:
        The sorted array, or a tuple of sorted arrays when `operand` is a sequence.

    >>> import numpy as np
    >>> sort(np.array([2.0, np.nan, -1.0], np.float32))
    Array([-1.,  2., nan], dtype=float32)
    """
    is_seq = isinstance(operand, Sequence) and not isinstance(operand, (str, bytes))
    operands = tuple(operand) if is_seq else (operand,)
    if not operands:
        raise TypeError("lax.sort requires at least one operand")
    check_arraylike("lax.sort", *operands)
    num_keys = operator_index(num_keys)
    if not 1 <= num_keys <= len(operands):
        raise ValueError(f"lax.sort: num_keys={num_keys} must be between 1 and the number of "
                         f"operands ({len(operands)})")
    dimension = canonicalize_axis(dimension, aval_of(operands[0]).ndim, "lax.sort")
    out = sort_p.bind(*operands, dimension=dimension, is_stable=bool(is_stable),
                      num_keys=num_keys)
    return tuple(out) if is_seq else out[0]


def sort_key_val(keys: ArrayLike, values: ArrayLike, dimension: int = -1,
                 is_stable: bool = True) -> tuple[Array, Array]:
    """Sort `keys` along `dimension` and apply the same permutation to `values`.

    Args:
        keys: the array that determines the order.
        values: an array of the same shape as `keys`.
        dimension: the axis to sort along.
        is_stable: keep equal keys in their input order.

    Returns:
        `(sorted_keys, permuted_values)`.
    """
    k, v = sort((keys, values), dimension=dimension, is_stable=is_stable, num_keys=1)
    return k, v


def _sort_abstract_eval(*operands: AbstractArray, dimension: int, is_stable: bool,
                        num_keys: int) -> list[AbstractArray]:
    if not operands:
        raise TypeError("lax.sort requires at least one operand")
    shapes = {a.shape for a in operands}
    if len(shapes) != 1:
        raise TypeError("lax.sort requires operands of one shape, got "
                        f"{', '.join(a.str_short() for a in operands)}")
    first = operands[0]
    if not isinstance(dimension, int) or not 0 <= dimension < first.ndim:
        raise ValueError(f"lax.sort: dimension {dimension!r} is out of range for operand "
                         f"{first.str_short()}")
    if not isinstance(num_keys, int) or not 1 <= num_keys <= len(operands):
        raise ValueError(f"lax.sort: num_keys={num_keys!r} must be between 1 and the number "
                         f"of operands ({len(operands)})")
    return list(operands)


def _sort_lower(ctx: RuleContext, *operands: Value, dimension: int, is_stable: bool,
                num_keys: int) -> list[Value]:
    scalars = [_scalar(a.dtype) for a in ctx.avals_in]
    region = ctx.region([s for s in scalars for _ in range(2)],
                        _sort_comparator(ctx, scalars, num_keys))
    return ctx.op("stablehlo.sort", list(operands), ctx.avals_out,
                  {"dimension": lowering.i64_attr(dimension),
                   "is_stable": lowering.bool_attr(is_stable)}, regions=[region])


sort_p.def_abstract_eval(_sort_abstract_eval)
lowering.register_lowering(sort_p, _sort_lower)


top_k_p = Primitive("top_k", multiple_results=True)


def top_k(operand: ArrayLike, k: int, *, axis: int = -1) -> tuple[Array, Array]:
    """The `k` largest entries along `axis` and their int32 indices, largest first
    (equal values keep index order).

    Args:
        operand: a non-complex array of rank >= 1.
        k: how many entries to return (at most the size of `axis`).
        axis: the axis to select along (default: the last).

    Returns:
        `(values, indices)`, both with `axis` of size `k`.
    """
    check_arraylike("lax.top_k", operand)
    k = operator_index(k)
    if k < 0:
        raise ValueError(f"lax.top_k: k must be non-negative, got {k}")
    axis = canonicalize_axis(axis, aval_of(operand).ndim, "lax.top_k")
    values, indices = top_k_p.bind(operand, k=k, axis=axis)
    return values, indices


def _top_k_abstract_eval(operand: AbstractArray, *, k: int, axis: int) -> list[AbstractArray]:
    _check_dtype("top_k", operand, _is_ordered)
    if operand.ndim == 0:
        raise TypeError(f"lax.top_k needs an operand of rank >= 1, got {operand.str_short()}")
    if not isinstance(axis, int) or not 0 <= axis < operand.ndim:
        raise ValueError(f"lax.top_k: axis {axis!r} is out of range for operand "
                         f"{operand.str_short()}")
    if not isinstance(k, int) or not 0 <= k <= operand.shape[axis]:
        raise ValueError(f"lax.top_k: k={k!r} must be between 0 and the size of axis {axis} "
                         f"of operand {operand.str_short()}")
    if operand.shape[axis] > np.iinfo(np.int32).max:
        raise ValueError(f"lax.top_k: axis {axis} of {operand.str_short()} is too long for "
                         "int32 indices")
    shape = operand.shape[:axis] + (k,) + operand.shape[axis + 1:]
    return [operand.update(shape=shape), AbstractArray(shape, np.int32)]


def _top_k_lower(ctx: RuleContext, operand: Value, *, k: int, axis: int) -> list[Value]:
    aval = ctx.avals_in[0]
    last = aval.ndim - 1
    perm = list(range(aval.ndim))
    perm[axis], perm[last] = last, axis

    def transpose(x: Value, out_aval: AbstractArray) -> Value:
        return ctx.op("stablehlo.transpose", [x], out_aval,
                      {"permutation": lowering.i64_array(perm)})

    # NOTE: chlo.top_k works on the last axis; move `axis` there and back.
    out_avals = [a.update(shape=[a.shape[p] for p in perm]) for a in ctx.avals_out]
    if axis != last:
        operand = transpose(operand, aval.update(shape=[aval.shape[p] for p in perm]))
    outs = ctx.op("chlo.top_k", [operand], out_avals, {"k": lowering.i64_attr(k)})
    if axis != last:
        outs = [transpose(o, a) for o, a in zip(outs, ctx.avals_out)]
    return outs


top_k_p.def_abstract_eval(_top_k_abstract_eval)
lowering.register_lowering(top_k_p, _top_k_lower)
