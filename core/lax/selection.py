"""`select_n`, `select` and `clamp`: jax.lax's elementwise selection primitives.

Part of `lamina.lax.elementwise`'s namespace (it imports these names back); their JVP,
transpose and batching rules are in `elementwise_rules.py` with the rest of the family.
"""
from __future__ import annotations

import builtins
from typing import Sequence

import numpy as np  # noqa: F401  (the doctests use it)

from lamina import dtypes
from lamina.backend.array import Array
from lamina.interpreters import lowering
from lamina.interpreters.lowering import RuleContext, Value
from lamina.ir import AbstractArray, Primitive
from lamina.lax._util import ArrayLike, check_arraylike
from lamina.lax.elementwise import _compare, _full, _operands

__all__ = ["select_n", "select", "clamp"]

select_n_p = Primitive("select_n")


def select_n(which: ArrayLike, *cases: ArrayLike) -> Array:
    """Picks each element from one of `cases` according to `which`.

    Args:
        which: a bool array (at most two cases: False picks `cases[0]`) or an integer
            array of indices into `cases`, either 0-d or of the cases' shape. Indices
            outside `[0, len(cases))` pick the first or last case.
        *cases: one or more arrays of one shape and dtype.

    Returns:
        An array of the cases' shape and dtype, weakly typed only if every case is.

    >>> select_n(np.array([2, 0, 1]), np.zeros(3, np.float32), np.ones(3, np.float32),
    ...          np.full(3, 2.0, np.float32))
    Array([2., 0., 1.], dtype=float32)
    """
    if not cases:
        raise ValueError("lax.select_n requires at least one case")
    check_arraylike("lax.select_n", which)
    return select_n_p.bind(which, *_operands("select_n", cases))


def _select_n_abstract_eval(which: AbstractArray, *cases: AbstractArray) -> AbstractArray:
    first = cases[0]
    if builtins.any(c.dtype != first.dtype for c in cases[1:]):
        raise TypeError(f"lax.select_n requires all cases to have the same dtype, got "
                        f"{', '.join(c.dtype.name for c in cases)}")
    if builtins.any(c.shape != first.shape for c in cases[1:]):
        raise TypeError(f"lax.select_n requires all cases to have the same shape, got "
                        f"{', '.join(str(c.shape) for c in cases)}")
    if not (dtypes.is_bool(which.dtype) or dtypes.is_integer(which.dtype)):
        raise TypeError(f"lax.select_n: `which` must be a bool or integer array, got "
                        f"{which.str_short()}")
    if dtypes.is_bool(which.dtype) and len(cases) > 2:
        raise TypeError(f"lax.select_n: a bool `which` selects between at most 2 cases, "
                        f"got {len(cases)}; use an integer `which`")
    if which.shape and which.shape != first.shape:
        raise TypeError(f"lax.select_n: `which` must be 0-d or have the cases' shape "
                        f"{first.shape}, got {which.str_short()}")
    return AbstractArray(first.shape, first.dtype, builtins.all(c.weak_type for c in cases))


def _select_n_lower(ctx: RuleContext, which: Value, *cases: Value) -> Value:
    out, which_aval = ctx.aval_out, ctx.avals_in[0]
    if len(cases) == 1:
        return cases[0]
    if dtypes.is_bool(which_aval.dtype):
        return ctx.op("stablehlo.select", [which, cases[1], cases[0]], out)

    # Binary search over the case index: log2(n) selects deep.
    def pick(offset: int, group: Sequence[Value]) -> Value:
        if len(group) == 1:
            return group[0]
        mid = len(group) // 2
        pred = _compare(ctx, "LT", which, _full(ctx, offset + mid, which_aval), which_aval)
        return ctx.op("stablehlo.select",
                      [pred, pick(offset, group[:mid]), pick(offset + mid, group[mid:])], out)

    return pick(0, cases)


select_n_p.def_abstract_eval(_select_n_abstract_eval)
lowering.register_lowering(select_n_p, _select_n_lower)


def select(pred: ArrayLike, on_true: ArrayLike, on_false: ArrayLike) -> Array:
    """Elementwise `on_true if pred else on_false` (both branches are evaluated).

    Args:
        pred: a bool array, 0-d or of the branches' shape.
        on_true, on_false: arrays of one shape and dtype.

    Returns:
        An array of the branches' shape and dtype.
    """
    # NOTE: select_n's case order is the reverse: cases[0] is taken where pred is False.
    return select_n(pred, on_false, on_true)


clamp_p = Primitive("clamp")


def clamp(min: ArrayLike, x: ArrayLike, max: ArrayLike) -> Array:
    """Elementwise clamp of x into `[min, max]` (`max` wins where `min > max`).

    Args:
        min: the lower bound, 0-d or of x's shape.
        x: the array to clamp.
        max: the upper bound, 0-d or of x's shape; all three share one dtype.

    Returns:
        `min(max(x, min), max)` with x's shape and dtype.
    """
    return clamp_p.bind(*_operands("clamp", (min, x, max)))


def _clamp_abstract_eval(lo: AbstractArray, x: AbstractArray, hi: AbstractArray
                         ) -> AbstractArray:
    if lo.dtype != x.dtype or hi.dtype != x.dtype:
        raise TypeError(f"lax.clamp requires arguments to have the same dtypes, got "
                        f"{lo.dtype.name}, {x.dtype.name}, {hi.dtype.name}")
    for bound, what in ((lo, "min"), (hi, "max")):
        if bound.shape and bound.shape != x.shape:
            raise TypeError(f"lax.clamp requires {what} to be 0-d or of x's shape {x.shape}, "
                            f"got {what}: {bound.str_short()}")
    return AbstractArray(x.shape, x.dtype, lo.weak_type and x.weak_type and hi.weak_type)


clamp_p.def_abstract_eval(_clamp_abstract_eval)
lowering.register_lowering(clamp_p, lowering.elementwise("stablehlo.clamp"))
