"""Cumulative reductions: `cumsum`, `cumprod`, `cummax`, `cummin`, `cumlogsumexp`.

Part of `lamina.lax.reductions`' namespace (it imports these names back). Each lowers to
a `stablehlo.reduce_window` whose window spans the whole axis (see `_cumulative_lower`);
their JVP, transpose and batching rules are in `reductions_rules.py`.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from lamina import dtypes
from lamina.interpreters import lowering
from lamina.interpreters.lowering import RuleContext, Value
from lamina.ir import AbstractArray, Primitive
from lamina.lax._util import ArrayLike, aval_of, canonicalize_axis, check_arraylike
from lamina.lax.reductions import Array, _check_dtype, _emit_reduce_window, _is_number


def _cumulative_abstract_eval(name: str, accepts: Callable[[np.dtype], bool]
                              ) -> Callable[..., AbstractArray]:
    def rule(operand: AbstractArray, *, axis: int, reverse: bool) -> AbstractArray:
        if not isinstance(axis, int) or not 0 <= axis < operand.ndim:
            raise ValueError(f"lax.{name}: axis {axis!r} is out of range for operand "
                             f"{operand.str_short()}")
        if not isinstance(reverse, bool):
            raise TypeError(f"lax.{name}: reverse must be a bool, got {reverse!r}")
        _check_dtype(name, operand, accepts)
        return operand

    rule.__name__ = f"{name}_abstract_eval"
    return rule


def _cumulative_lower(kind: str) -> Callable[..., Value]:
    """out[i] = reduce(x[0..i]) as a reduce_window whose window spans the whole axis,
    with n-1 identity elements padded before (after, for reverse) the data."""

    def rule(ctx: RuleContext, operand: Value, *, axis: int, reverse: bool) -> Value:
        shape = ctx.avals_in[0].shape
        n = shape[axis]
        if n == 0:
            # NOTE: StableHLO rejects a zero-size window; an empty axis has nothing to
            # accumulate, so the (empty) operand is the result.
            return operand
        window = [1] * len(shape)
        window[axis] = n
        padding = [(0, 0)] * len(shape)
        padding[axis] = (0, n - 1) if reverse else (n - 1, 0)
        ones = (1,) * len(shape)
        return _emit_reduce_window(ctx, operand, kind, window_dimensions=window,
                                   window_strides=ones, padding=padding, base_dilation=ones,
                                   window_dilation=ones)

    rule.__name__ = f"cum{kind}_lower"
    return rule


def _cumulative_args(name: str, operand: ArrayLike, axis: int, reverse: bool
                     ) -> tuple[ArrayLike, dict[str, Any]]:
    check_arraylike(f"lax.{name}", operand)
    axis = canonicalize_axis(axis, aval_of(operand).ndim, f"lax.{name}")
    return operand, {"axis": axis, "reverse": bool(reverse)}


_CUMULATIVE_DOC = """
    Args:
        operand: the array to scan.
        axis: the axis along which to accumulate (negative counts from the end).
        reverse: accumulate from the end of the axis instead of its start.

    Returns:
        An array of `operand`'s shape and dtype."""


cumsum_p = Primitive("cumsum")


def cumsum(operand: ArrayLike, axis: int = 0, reverse: bool = False) -> Array:
    """Cumulative sum along `axis`."""
    operand, params = _cumulative_args("cumsum", operand, axis, reverse)
    return cumsum_p.bind(operand, **params)


cumsum_p.def_abstract_eval(_cumulative_abstract_eval("cumsum", _is_number))
lowering.register_lowering(cumsum_p, _cumulative_lower("sum"))


cumprod_p = Primitive("cumprod")


def cumprod(operand: ArrayLike, axis: int = 0, reverse: bool = False) -> Array:
    """Cumulative product along `axis`."""
    operand, params = _cumulative_args("cumprod", operand, axis, reverse)
    return cumprod_p.bind(operand, **params)


cumprod_p.def_abstract_eval(_cumulative_abstract_eval("cumprod", _is_number))
lowering.register_lowering(cumprod_p, _cumulative_lower("prod"))


cummax_p = Primitive("cummax")


def cummax(operand: ArrayLike, axis: int = 0, reverse: bool = False) -> Array:
    """Cumulative maximum along `axis` (NaN propagates)."""
    operand, params = _cumulative_args("cummax", operand, axis, reverse)
    return cummax_p.bind(operand, **params)


cummax_p.def_abstract_eval(_cumulative_abstract_eval("cummax", _is_number))
lowering.register_lowering(cummax_p, _cumulative_lower("max"))


cummin_p = Primitive("cummin")


def cummin(operand: ArrayLike, axis: int = 0, reverse: bool = False) -> Array:
    """Cumulative minimum along `axis` (NaN propagates)."""
    operand, params = _cumulative_args("cummin", operand, axis, reverse)
    return cummin_p.bind(operand, **params)


cummin_p.def_abstract_eval(_cumulative_abstract_eval("cummin", _is_number))
lowering.register_lowering(cummin_p, _cumulative_lower("min"))


cumlogsumexp_p = Primitive("cumlogsumexp")


def cumlogsumexp(operand: ArrayLike, axis: int = 0, reverse: bool = False) -> Array:
    """Cumulative log(sum(exp(x))) along `axis`, computed without overflow."""
    operand, params = _cumulative_args("cumlogsumexp", operand, axis, reverse)
    return cumlogsumexp_p.bind(operand, **params)


cumlogsumexp_p.def_abstract_eval(_cumulative_abstract_eval("cumlogsumexp", dtypes.is_inexact))
lowering.register_lowering(cumlogsumexp_p, _cumulative_lower("logaddexp"))

for _f in (cumsum, cumprod, cummax, cummin, cumlogsumexp):
    _f.__doc__ = (_f.__doc__ or "") + "\n" + _CUMULATIVE_DOC
del _f
