"""Bitwise operations (logical on bool) and shifts: `bitwise_not/and/or/xor`,
`shift_left`, `shift_right_arithmetic`, `shift_right_logical`.

Part of `lamina.lax.elementwise`'s namespace (it imports these names back), built with
its wrapper helpers; their JVP and batching rules are in `elementwise_rules.py`.
"""
from __future__ import annotations

from lamina.lax.elementwise import _SAME, _binop, _bool_or_int, _int, _unop

_BITWISE_XY = "bool or integer arrays or scalars"
_BITWISE_OUT = "An array of the operands' dtype and common shape."
not_p, bitwise_not = _unop("not", _bool_or_int, "stablehlo.not",
                           "Elementwise NOT: logical for bool, bitwise (`~x`) for integers.",
                           "a bool or integer array or scalar.", f"`~x` {_SAME}",
                           public="bitwise_not")
and_p, bitwise_and = _binop("and", _bool_or_int, "stablehlo.and",
                            "Elementwise AND: logical for bool, bitwise for integers.",
                            _BITWISE_XY, _BITWISE_OUT, public="bitwise_and")
or_p, bitwise_or = _binop("or", _bool_or_int, "stablehlo.or",
                          "Elementwise OR: logical for bool, bitwise for integers.",
                          _BITWISE_XY, _BITWISE_OUT, public="bitwise_or")
xor_p, bitwise_xor = _binop("xor", _bool_or_int, "stablehlo.xor",
                            "Elementwise XOR: logical for bool, bitwise for integers.",
                            _BITWISE_XY, _BITWISE_OUT, public="bitwise_xor")
# NOTE: the names older jax.lax versions used; jax 0.10 spells them bitwise_*.

# NOTE: shifts follow XLA: the amount y is read as unsigned, and amounts of at least
# the bit width shift every bit out (giving 0, or -1 for an arithmetic right shift of
# a negative x).
_SHIFT_XY = "integer arrays or scalars (x the values, y the shift amounts)"
_SHIFT_OUT = ("The shifted values, of x's dtype. y is read as unsigned; y >= the bit "
              "width shifts every bit out.")
shift_left_p, shift_left = _binop("shift_left", _int, "stablehlo.shift_left",
                                  "Elementwise left shift of x by y bits.", _SHIFT_XY,
                                  _SHIFT_OUT)
shift_right_arithmetic_p, shift_right_arithmetic = _binop(
    "shift_right_arithmetic", _int, "stablehlo.shift_right_arithmetic",
    "Elementwise arithmetic (sign-filling) right shift of x by y bits.", _SHIFT_XY,
    _SHIFT_OUT)
shift_right_logical_p, shift_right_logical = _binop(
    "shift_right_logical", _int, "stablehlo.shift_right_logical",
    "Elementwise logical (zero-filling) right shift of x by y bits.", _SHIFT_XY, _SHIFT_OUT)
