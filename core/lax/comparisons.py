"""Comparisons: `eq`, `ne`, `lt`, `le`, `gt`, `ge` (bool results).

Part of `lamina.lax.elementwise`'s namespace (it imports these names back), built with
its wrapper helpers; their batching rules are in `elementwise_rules.py`.
"""
from __future__ import annotations

from typing import Callable

from lamina.interpreters import lowering
from lamina.interpreters.lowering import RuleContext, Value
from lamina.lax.elementwise import _ANY_XY, _any, _binop, _compare, _ordered, _to_bool

def _compare_lower(direction: str) -> Callable[..., Value]:
    """The comparison type follows the operand dtype: FLOAT for floating-point and
    complex, SIGNED for signed integers, UNSIGNED for unsigned integers and bool."""

    def rule(ctx: RuleContext, x: Value, y: Value) -> Value:
        x, y = lowering.broadcast_scalar_operands(ctx, (x, y))
        return _compare(ctx, direction, x, y, ctx.avals_in[0].update(shape=ctx.aval_out.shape))

    rule.__name__ = f"compare_{direction.lower()}_lower"
    return rule


_CMP_OUT = "A bool array of the common shape (NaN compares unequal to everything)."
eq_p, eq = _binop("eq", _any, _compare_lower("EQ"), "Elementwise `x == y`.", _ANY_XY,
                  _CMP_OUT, result_dtype=_to_bool)
ne_p, ne = _binop("ne", _any, _compare_lower("NE"), "Elementwise `x != y`.", _ANY_XY,
                  _CMP_OUT, result_dtype=_to_bool)
_ORDERED_XY = "non-complex arrays or scalars"
lt_p, lt = _binop("lt", _ordered, _compare_lower("LT"), "Elementwise `x < y`.", _ORDERED_XY,
                  _CMP_OUT, result_dtype=_to_bool)
le_p, le = _binop("le", _ordered, _compare_lower("LE"), "Elementwise `x <= y`.", _ORDERED_XY,
                  _CMP_OUT, result_dtype=_to_bool)
gt_p, gt = _binop("gt", _ordered, _compare_lower("GT"), "Elementwise `x > y`.", _ORDERED_XY,
                  _CMP_OUT, result_dtype=_to_bool)
ge_p, ge = _binop("ge", _ordered, _compare_lower("GE"), "Elementwise `x >= y`.", _ORDERED_XY,
                  _CMP_OUT, result_dtype=_to_bool)
