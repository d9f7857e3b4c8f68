"""Elementwise primitives: jax.lax's unary and binary math and `stop_gradient`; bitwise
ops (`bitwise.py`), comparisons (`comparisons.py`), `select_n`/`clamp` (`selection.py`)
and the dtype conversions (`conversions.py`) join this namespace.

Every wrapper has jax.lax's name, signature, accepted dtypes and weak-type behaviour.
Operands must share one dtype and one shape, except that 0-d operands broadcast (jax
0.10's lax rule); lamina.numpy does the promotion and broadcasting before calling here.
Python scalars next to arrays take the arrays' dtype when it is of their kind
(`add(f32[3], 2.0)` is fine, `add(f32[3], 2)` is a TypeError), see `_operands`.

Most primitives are one op on one dtype class, so `_unop` / `_binop` define the whole
block (primitive, documented wrapper, abstract eval, lowering) in one call, as jax's
`standard_unop` does; the rest are written out. Lowerings map to one StableHLO/CHLO op
where one exists and otherwise compose a few ops; rules see already-checked avals.

The JVP, transpose and batching rules of these primitives are in `elementwise_rules.py`,
imported at the end of this module (together they would pass ~1300 lines).
"""
from __future__ import annotations

import builtins
import enum
import math
from typing import Any, Callable, Sequence

import numpy as np

from lamina import dtypes, tree_util
from lamina.backend.array import Array
from lamina.interpreters import lowering
from lamina.interpreters.eval import eager_binary
from lamina.interpreters.lowering import RuleContext, Value
from lamina.ir import AbstractArray, Primitive
from lamina.lax._util import (
    ArrayLike,
    check_arraylike,
    convert_python_scalars,
    naryop_abstract_eval,
    operator_index,
    scalar_operand_avals,
)

__all__ = [
    "RoundingMethod",
    # unary math
    "neg", "sign", "floor", "ceil", "round", "is_finite", "exp", "exp2", "log", "expm1",
    "log1p", "tanh", "logistic", "sin", "cos", "tan", "asin", "acos", "atan", "sinh",
    "cosh", "asinh", "acosh", "atanh", "sqrt", "rsqrt", "cbrt", "abs", "real", "imag",
    "conj", "erf", "erfc", "erf_inv", "lgamma", "digamma", "polygamma", "bessel_i1e",
    "square",
    "reciprocal", "integer_pow", "population_count", "clz",
    # bitwise
    "bitwise_not", "bitwise_and", "bitwise_or", "bitwise_xor",
    "shift_left", "shift_right_arithmetic", "shift_right_logical",
    # binary math
    "add", "sub", "mul", "div", "rem", "pow", "max", "min", "atan2", "nextafter", "complex",
    # comparisons
    "eq", "ne", "lt", "le", "gt", "ge",
    # selection and conversion
    "select_n", "select", "clamp", "convert_element_type", "bitcast_convert_type",
    "reduce_precision",
    # autodiff
    "stop_gradient",
]

DTypePredicate = Callable[[np.dtype], bool]

# --------------------------------------------------------------------------------------
# Dtype classes (jax.lax's `_float`, `_num`, ... sets) and result-dtype rules
# --------------------------------------------------------------------------------------


def _any(dtype: np.dtype) -> bool:
    return True


_float = dtypes.is_floating
_inexact = dtypes.is_inexact
_complex = dtypes.is_complex
_int = dtypes.is_integer


def _num(dtype: np.dtype) -> bool:
    return dtypes.is_integer(dtype) or dtypes.is_inexact(dtype)


def _bool_or_int(dtype: np.dtype) -> bool:
    return dtypes.is_bool(dtype) or dtypes.is_integer(dtype)


def _ordered(dtype: np.dtype) -> bool:
    return not dtypes.is_complex(dtype)


def _int_or_float(dtype: np.dtype) -> bool:
    return dtypes.is_integer(dtype) or dtypes.is_floating(dtype)


def _signed_or_inexact(dtype: np.dtype) -> bool:
    return dtypes.is_signed_integer(dtype) or dtypes.is_inexact(dtype)


def _complex_part(dtype: np.dtype) -> bool:
    """The dtypes a complex number is built from: float32 and float64 only (jax)."""
    return dtype in (dtypes.float32, dtypes.float64)


def _complex_part_or_complex(dtype: np.dtype) -> bool:
    return _complex_part(dtype) or dtypes.is_complex(dtype)


def _to_complex(dtype: np.dtype) -> np.dtype:
    return dtypes.complex128 if dtype in (dtypes.float64, dtypes.complex128) else dtypes.complex64


def _to_bool(dtype: np.dtype) -> np.dtype:
    return dtypes.bool_


_to_real = dtypes.real_dtype

# Argument descriptions shared by the generated docstrings.
_FLOAT_X = "a floating-point array or scalar."
_INEXACT_X = "a floating-point or complex array or scalar."
_ACCURACY = "only None (the backend's default accuracy) is supported."
_SAME = "with x's shape and dtype."

# --------------------------------------------------------------------------------------
# Wrapper helpers
# --------------------------------------------------------------------------------------


def _operands(name: str, args: Sequence[ArrayLike]) -> list[Any]:
    """Checks the operands of `lax.<name>`; Python scalars next to arrays take the
    arrays' dtype and stay weakly typed (`convert_python_scalars`).

    NOTE: when every operand is a Python scalar each keeps its own default dtype, so
    mixing kinds is an error, as in jax (`add(2, 3.0)`).
    """
    check_arraylike(f"lax.{name}", *args)
    if builtins.all(dtypes.is_python_scalar(a) for a in args):
        return list(args)
    return convert_python_scalars(name, *args)


def _unary(prim: Primitive, x: ArrayLike, *, name: str | None = None, **params: Any) -> Array:
    check_arraylike(f"lax.{name or prim.name}", x)
    return prim.bind(x, **params)


def _check_accuracy(name: str, accuracy: Any) -> None:
    # NOTE: jax's `accuracy=` picks one of XLA's result-accuracy modes, which the CPU
    # backend ignores; only the default is supported.
    if accuracy is not None:
        raise NotImplementedError(f"lax.{name}: accuracy={accuracy!r} is not supported; "
                                  "leave it as None (the backend's default accuracy)")


def _docstring(summary: str, args: dict[str, str], returns: str) -> str:
    """A Google-style docstring for a generated wrapper."""
    lines = [summary, "", "Args:", *(f"    {k}: {v}" for k, v in args.items()),
             "", "Returns:", f"    {returns}", ""]
    return "\n".join(lines)


def _lowering_rule(lower: str | Callable[..., Value]) -> Callable[..., Value]:
    return lowering.elementwise(lower) if isinstance(lower, str) else lower


def _unop(name: str, accepts: DTypePredicate, lower: str | Callable[..., Value],
          summary: str, x_doc: str, returns: str, *, result_dtype: Any = None,
          accuracy: bool = False, public: str | None = None
          ) -> tuple[Primitive, Callable[..., Array]]:
    """The block of a unary primitive: `name` (jax's primitive name), its wrapper
    `lax.<public>(x)` (with jax's `accuracy=None` argument where jax has one), the
    standard abstract eval and `lower` (an op name, or a rule)."""
    prim = Primitive(name)
    public = public or name

    if accuracy:
        def wrapper(x: ArrayLike, accuracy: None = None) -> Array:
            _check_accuracy(public, accuracy)
            return _unary(prim, x)
        args = {"x": x_doc, "accuracy": _ACCURACY}
    else:
        def wrapper(x: ArrayLike) -> Array:  # type: ignore[misc]
            return _unary(prim, x, name=public)
        args = {"x": x_doc}

    wrapper.__name__ = wrapper.__qualname__ = public
    wrapper.__doc__ = _docstring(summary, args, returns)
    prim.def_abstract_eval(naryop_abstract_eval(public, accepts, result_dtype))
    lowering.register_lowering(prim, _lowering_rule(lower))
    return prim, wrapper


def _binop(name: str, accepts: DTypePredicate, lower: str | Callable[..., Value],
           summary: str, xy_doc: str, returns: str, *, result_dtype: Any = None,
           public: str | None = None) -> tuple[Primitive, Callable[..., Array]]:
    """The block of a binary primitive `lax.<public>(x, y)`; see `_unop`."""
    prim = Primitive(name)
    public = public or name

    fast = eager_binary(prim)

    def wrapper(x: ArrayLike, y: ArrayLike) -> Array:
        out = fast(x, y)  # two concrete Arrays, nothing tracing: straight to the executable
        if out is not None:
            return out
        return prim.bind(*_operands(public, (x, y)))

    wrapper.__name__ = wrapper.__qualname__ = public
    wrapper.__doc__ = _docstring(
        summary, {"x, y": f"{xy_doc} of one dtype; 0-d operands broadcast, and a Python "
                  "scalar takes the other operand's dtype when of its kind."}, returns)
    prim.def_abstract_eval(naryop_abstract_eval(public, accepts, result_dtype))
    lowering.register_lowering(prim, _lowering_rule(lower))
    return prim, wrapper


# --------------------------------------------------------------------------------------
# Lowering helpers
# --------------------------------------------------------------------------------------


def _full(ctx: RuleContext, value: Any, aval: AbstractArray) -> Value:
    """A constant `value` of aval's shape and dtype (a 0-d constant, broadcast)."""
    c = ctx.constant(value, AbstractArray((), aval.dtype))
    if not aval.shape:
        return c
    return ctx.op("stablehlo.broadcast_in_dim", [c], aval.strip_weak_type(),
                  {"broadcast_dimensions": lowering.i64_array(())})


def _compare_type(dtype: np.dtype) -> str:
    if dtypes.is_inexact(dtype):
        return "FLOAT"
    return "SIGNED" if dtypes.is_signed_integer(dtype) else "UNSIGNED"


def _compare(ctx: RuleContext, direction: str, x: Value, y: Value,
             aval: AbstractArray) -> Value:
    """`x <direction> y` for operands of type `aval` (same shapes)."""
    attrs = {"comparison_direction": f"#stablehlo<comparison_direction {direction}>",
             "compare_type": f"#stablehlo<comparison_type {_compare_type(aval.dtype)}>"}
    return ctx.op("stablehlo.compare", [x, y], aval.update(dtype=dtypes.bool_), attrs)


def _convert(ctx: RuleContext, x: Value, aval: AbstractArray, dtype: np.dtype) -> Value:
    return ctx.op("stablehlo.convert", [x], aval.update(dtype=dtype))


# --------------------------------------------------------------------------------------
# Unary math
# --------------------------------------------------------------------------------------

neg_p, neg = _unop(
    "neg", _num, "stablehlo.negate", "Elementwise negation, `-x` (unsigned ints wrap around).",
    "a numeric (non-bool) array or scalar.", f"`-x` {_SAME}")


def _sign_lower(ctx: RuleContext, x: Value) -> Value:
    aval = ctx.avals_in[0]
    if not dtypes.is_unsigned_integer(aval.dtype):
        return ctx.op("stablehlo.sign", [x], ctx.aval_out)
    # NOTE: stablehlo.sign has no unsigned form: 0 stays 0, everything else is 1.
    zero = _full(ctx, 0, aval)
    return ctx.op("stablehlo.select", [_compare(ctx, "EQ", x, zero, aval), zero,
                                       _full(ctx, 1, aval)], ctx.aval_out)


sign_p, sign = _unop(
    "sign", _num, _sign_lower,
    "Elementwise sign: -1, 0 or 1 (`x / |x|` for complex, 0 at 0; NaN stays NaN).",
    "a numeric (non-bool) array or scalar.", f"The signs, {_SAME}")
floor_p, floor = _unop("floor", _float, "stablehlo.floor", "Elementwise floor.", _FLOAT_X,
                       f"`floor(x)` {_SAME}")
ceil_p, ceil = _unop("ceil", _float, "stablehlo.ceil", "Elementwise ceiling.", _FLOAT_X,
                     f"`ceil(x)` {_SAME}")


class RoundingMethod(enum.IntEnum):
    """How `round` breaks ties (values exactly halfway between two integers)."""

    AWAY_FROM_ZERO = 0  # 0.5 -> 1, -0.5 -> -1, 2.5 -> 3
    TO_NEAREST_EVEN = 1  # 0.5 -> 0, 1.5 -> 2, 2.5 -> 2 (banker's rounding)


round_p = Primitive("round")


def round(x: ArrayLike,
          rounding_method: RoundingMethod | int = RoundingMethod.AWAY_FROM_ZERO) -> Array:
    """Elementwise rounding to the nearest integer.

    Args:
        x: a floating-point array or scalar.
        rounding_method: how ties are broken, a `RoundingMethod` (or its int value):
            `AWAY_FROM_ZERO` (default) or `TO_NEAREST_EVEN`.

    Returns:
        The rounded values, with x's shape and dtype.

    >>> round(np.float32(2.5)), round(np.float32(2.5), RoundingMethod.TO_NEAREST_EVEN)
    (Array(3., dtype=float32), Array(2., dtype=float32))
    """
    try:
        rounding_method = RoundingMethod(rounding_method)
    except ValueError:
        raise ValueError(f"lax.round: rounding_method must be a lax.RoundingMethod "
                         f"(AWAY_FROM_ZERO=0 or TO_NEAREST_EVEN=1), got {rounding_method!r}"
                         ) from None
    return _unary(round_p, x, rounding_method=rounding_method)


def _round_lower(ctx: RuleContext, x: Value, *, rounding_method: RoundingMethod) -> Value:
    op = ("stablehlo.round_nearest_even" if rounding_method == RoundingMethod.TO_NEAREST_EVEN
          else "stablehlo.round_nearest_afz")
    return ctx.op(op, [x], ctx.aval_out)


round_p.def_abstract_eval(naryop_abstract_eval("round", _float))
lowering.register_lowering(round_p, _round_lower)

is_finite_p, is_finite = _unop(
    "is_finite", _float, "stablehlo.is_finite",
    "Elementwise test for finiteness (neither inf nor NaN).", _FLOAT_X,
    "A bool array of x's shape.", result_dtype=_to_bool)
exp_p, exp = _unop("exp", _inexact, "stablehlo.exponential",
                   "Elementwise natural exponential, `e**x`.", _INEXACT_X, f"`e**x` {_SAME}",
                   accuracy=True)


def _exp2_lower(ctx: RuleContext, x: Value) -> Value:
    # NOTE: StableHLO has no exp2: 2**x = exp(x * ln 2). 16-bit floats are computed in
    # float32, because ln 2 rounded to float16 costs a few ulps at large |x|.
    out = ctx.aval_out
    narrow = out.dtype in (dtypes.float16, dtypes.bfloat16)
    wide = out.update(dtype=dtypes.float32) if narrow else out
    if narrow:
        x = _convert(ctx, x, out, wide.dtype)
    scaled = ctx.op("stablehlo.multiply", [x, _full(ctx, math.log(2.0), wide)], wide)
    res = ctx.op("stablehlo.exponential", [scaled], wide)
    return _convert(ctx, res, wide, out.dtype) if narrow else res


exp2_p, exp2 = _unop("exp2", _inexact, _exp2_lower, "Elementwise base-2 exponential, `2**x`.",
                     _INEXACT_X, f"`2**x` {_SAME}", accuracy=True)
log_p, log = _unop("log", _inexact, "stablehlo.log",
                   "Elementwise natural logarithm (principal branch for complex).",
                   _INEXACT_X, f"`log(x)` {_SAME} NaN for negative reals, -inf at 0.",
                   accuracy=True)
expm1_p, expm1 = _unop("expm1", _inexact, "stablehlo.exponential_minus_one",
                       "Elementwise `e**x - 1`, accurate for small |x|.", _INEXACT_X,
                       f"`exp(x) - 1` {_SAME}", accuracy=True)
log1p_p, log1p = _unop("log1p", _inexact, "stablehlo.log_plus_one",
                       "Elementwise `log(1 + x)`, accurate for small |x|.", _INEXACT_X,
                       f"`log(1 + x)` {_SAME}", accuracy=True)
tanh_p, tanh = _unop("tanh", _inexact, "stablehlo.tanh", "Elementwise hyperbolic tangent.",
                     _INEXACT_X, f"`tanh(x)` {_SAME}", accuracy=True)


def _logistic_lower(ctx: RuleContext, x: Value) -> Value:
    # NOTE: spelled out as 1 / (1 + exp(-x)) rather than stablehlo.logistic, as jax
    # does: XLA's logistic expansion has had accuracy problems on some backends.
    out = ctx.aval_out
    one = _full(ctx, 1, out)
    e = ctx.op("stablehlo.exponential", [ctx.op("stablehlo.negate", [x], out)], out)
    return ctx.op("stablehlo.divide", [one, ctx.op("stablehlo.add", [one, e], out)], out)


logistic_p, logistic = _unop("logistic", _inexact, _logistic_lower,
                             "Elementwise logistic sigmoid, `1 / (1 + exp(-x))`.", _INEXACT_X,
                             f"The sigmoid of x, {_SAME}", accuracy=True)


def _trig_lower(op_name: str, is_cos: bool) -> Callable[..., Value]:
    """sin/cos; complex arguments use expm1 for the hyperbolic parts, as jax does.

    With x = a + ib: sin x = sin a cosh b + i cos a sinh b and
    cos x = cos a cosh b - i sin a sinh b, where 2 sinh b = expm1(b) - expm1(-b) and
    2 cosh b = expm1(b) + expm1(-b) + 2 avoid the cancellation of exp(b) - exp(-b) at
    small b. Where a == 0, the term multiplied by sin a is an exact 0, because
    0 * inf would be NaN once |b| overflows.
    """

    def rule(ctx: RuleContext, x: Value) -> Value:
        out = ctx.aval_out
        if not dtypes.is_complex(out.dtype):
            return ctx.op(op_name, [x], out)
        part = out.update(dtype=dtypes.real_dtype(out.dtype))

        def op(name: str, *args: Value) -> Value:
            return ctx.op(name, list(args), part)

        a, b = op("stablehlo.real", x), op("stablehlo.imag", x)
        zero, two = _full(ctx, 0, part), _full(ctx, 2, part)
        sin_a, cos_a = op("stablehlo.sine", a), op("stablehlo.cosine", a)
        e1 = op("stablehlo.exponential_minus_one", b)
        e2 = op("stablehlo.exponential_minus_one", op("stablehlo.negate", b))
        sinh_b = op("stablehlo.divide", op("stablehlo.subtract", e1, e2), two)
        cosh_b = op("stablehlo.divide",
                    op("stablehlo.add", op("stablehlo.add", e1, e2), two), two)
        if is_cos:
            re = op("stablehlo.multiply", cos_a, cosh_b)
            im = op("stablehlo.multiply", op("stablehlo.negate", sin_a), sinh_b)
            exact = ctx.op("stablehlo.complex", [re, zero], out)
        else:
            re = op("stablehlo.multiply", sin_a, cosh_b)
            im = op("stablehlo.multiply", cos_a, sinh_b)
            exact = ctx.op("stablehlo.complex", [zero, im], out)
        a_is_zero = _compare(ctx, "EQ", a, zero, part)
        general = ctx.op("stablehlo.complex", [re, im], out)
        return ctx.op("stablehlo.select", [a_is_zero, exact, general], out)

    rule.__name__ = f"{op_name.split('.')[-1]}_lower"
    return rule


sin_p, sin = _unop("sin", _inexact, _trig_lower("stablehlo.sine", is_cos=False),
                   "Elementwise sine.", _INEXACT_X, f"`sin(x)` {_SAME}", accuracy=True)
cos_p, cos = _unop("cos", _inexact, _trig_lower("stablehlo.cosine", is_cos=True),
                   "Elementwise cosine.", _INEXACT_X, f"`cos(x)` {_SAME}", accuracy=True)
tan_p, tan = _unop("tan", _inexact, "stablehlo.tan", "Elementwise tangent.", _INEXACT_X,
                   f"`tan(x)` {_SAME}", accuracy=True)
asin_p, asin = _unop("asin", _inexact, "chlo.asin", "Elementwise arc sine.", _INEXACT_X,
                     f"`asin(x)` {_SAME}")
acos_p, acos = _unop("acos", _inexact, "chlo.acos", "Elementwise arc cosine.", _INEXACT_X,
                     f"`acos(x)` {_SAME}")
atan_p, atan = _unop("atan", _inexact, "chlo.atan", "Elementwise arc tangent.", _INEXACT_X,
                     f"`atan(x)` {_SAME}")
sinh_p, sinh = _unop("sinh", _inexact, "chlo.sinh", "Elementwise hyperbolic sine.",
                     _INEXACT_X, f"`sinh(x)` {_SAME}")
cosh_p, cosh = _unop("cosh", _inexact, "chlo.cosh", "Elementwise hyperbolic cosine.",
                     _INEXACT_X, f"`cosh(x)` {_SAME}")
asinh_p, asinh = _unop("asinh", _inexact, "chlo.asinh",
                       "Elementwise inverse hyperbolic sine.", _INEXACT_X, f"`asinh(x)` {_SAME}")
acosh_p, acosh = _unop("acosh", _inexact, "chlo.acosh",
                       "Elementwise inverse hyperbolic cosine.", _INEXACT_X,
                       f"`acosh(x)` {_SAME}")
atanh_p, atanh = _unop("atanh", _inexact, "chlo.atanh",
                       "Elementwise inverse hyperbolic tangent.", _INEXACT_X,
                       f"`atanh(x)` {_SAME}")
sqrt_p, sqrt = _unop("sqrt", _inexact, "stablehlo.sqrt",
                     "Elementwise square root (principal branch for complex).", _INEXACT_X,
                     f"`sqrt(x)` {_SAME} NaN for negative reals.", accuracy=True)
rsqrt_p, rsqrt = _unop("rsqrt", _inexact, "stablehlo.rsqrt",
                       "Elementwise reciprocal square root, `1 / sqrt(x)`.", _INEXACT_X,
                       f"`1 / sqrt(x)` {_SAME}", accuracy=True)
cbrt_p, cbrt = _unop("cbrt", _float, "stablehlo.cbrt",
                     "Elementwise real cube root (negative for negative x).", _FLOAT_X,
                     f"`cbrt(x)` {_SAME}", accuracy=True)
abs_p, abs = _unop(
    "abs", _signed_or_inexact, "stablehlo.abs",
    "Elementwise absolute value; the modulus for complex x.",
    "a signed-integer, floating-point or complex array or scalar.",
    "`|x|` with x's shape; complex inputs give their real dtype (complex64 -> float32). "
    "The most negative integer maps to itself, as in XLA.", result_dtype=_to_real)
real_p, real = _unop("real", _complex, "stablehlo.real", "Elementwise real part.",
                     "a complex array or scalar.",
                     "The real parts, in x's real dtype (complex64 -> float32).",
                     result_dtype=_to_real)
imag_p, imag = _unop("imag", _complex, "stablehlo.imag", "Elementwise imaginary part.",
                     "a complex array or scalar.",
                     "The imaginary parts, in x's real dtype (complex64 -> float32).",
                     result_dtype=_to_real)


def _conj_lower(ctx: RuleContext, x: Value) -> Value:
    aval, out = ctx.avals_in[0], ctx.aval_out
    part = out.update(dtype=dtypes.real_dtype(out.dtype))
    if dtypes.is_complex(aval.dtype):
        re = ctx.op("stablehlo.real", [x], part)
        im = ctx.op("stablehlo.negate", [ctx.op("stablehlo.imag", [x], part)], part)
    else:
        re, im = x, _full(ctx, 0, part)
    return ctx.op("stablehlo.complex", [re, im], out)


conj_p, conj = _unop(
    "conj", _complex_part_or_complex, _conj_lower, "Elementwise complex conjugate.",
    "a complex, float32 or float64 array or scalar.",
    "The conjugate, always complex (float32 -> complex64, float64 -> complex128), as in "
    "jax.lax.", result_dtype=_to_complex)

# NOTE: the CHLO special functions compute float16/bfloat16 in float32 internally, so
# they need no explicit upcast (checked against float64 references in the tests).
erf_p, erf = _unop("erf", _float, "chlo.erf",
                   "Elementwise error function, `2/sqrt(pi) * integral_0^x exp(-t**2) dt`.",
                   _FLOAT_X, f"`erf(x)` {_SAME}")
erfc_p, erfc = _unop("erfc", _float, "chlo.erfc",
                     "Elementwise complementary error function, `1 - erf(x)`, accurate for "
                     "large x.", _FLOAT_X, f"`erfc(x)` {_SAME}")
erf_inv_p, erf_inv = _unop(
    "erf_inv", _float, "chlo.erf_inv", "Elementwise inverse error function.",
    "a floating-point array or scalar, in [-1, 1].",
    f"y with `erf(y) == x` {_SAME} ±inf at ±1, NaN outside [-1, 1].")
lgamma_p, lgamma = _unop(
    "lgamma", _float, "chlo.lgamma", "Elementwise log of the absolute value of the gamma "
    "function.", _FLOAT_X, f"`log|Gamma(x)|` {_SAME} +inf at the poles 0, -1, -2, ...")
digamma_p, digamma = _unop(
    "digamma", _float, "chlo.digamma", "Elementwise digamma function (lgamma's derivative).",
    _FLOAT_X, f"`psi(x)` {_SAME} NaN at the poles 0, -1, -2, ...")
polygamma_p, polygamma = _binop(
    "polygamma", _float, "chlo.polygamma",
    "Elementwise polygamma function: the m-th derivative of digamma, `psi^(m)(x)`.",
    "floating-point arrays or scalars (m: non-negative integral values)",
    "`psi^(m)(x)` with the operands' dtype and common shape (NaN for non-integral m).")
bessel_i1e_p, bessel_i1e = _unop(
    "bessel_i1e", _float, "chlo.bessel_i1e", "Elementwise exponentially scaled modified "
    "Bessel function of order 1, `exp(-|x|) * I1(x)`.", _FLOAT_X, f"`i1e(x)` {_SAME}")


def _square_lower(ctx: RuleContext, x: Value) -> Value:
    if dtypes.is_integer(ctx.aval_out.dtype):
        return ctx.op("stablehlo.multiply", [x, x], ctx.aval_out)
    # NOTE: chlo.square squares complex numbers without the spurious NaN/inf that
    # (a+ib)*(a+ib) gives when a*a overflows.
    return ctx.op("chlo.square", [x], ctx.aval_out)


square_p, square = _unop(
    "square", _num, _square_lower, "Elementwise square, `x * x`.",
    "an integer, floating-point or complex array or scalar.",
    f"`x * x` {_SAME} Integers wrap around on overflow.")

integer_pow_p = Primitive("integer_pow")


def integer_pow(x: ArrayLike, y: int) -> Array:
    """Elementwise `x ** y` for a static integer exponent, by repeated multiplication.

    Args:
        x: an integer, floating-point or complex array or scalar.
        y: a Python int; negative exponents are only allowed for inexact x, and
            `y == 0` gives ones (even for NaN).

    Returns:
        `x ** y` with x's shape and dtype.

    >>> integer_pow(np.float32(2.0), -2)
    Array(0.25, dtype=float32)
    """
    try:
        y = operator_index(y)
    except TypeError:
        raise TypeError(f"lax.integer_pow: the exponent y must be a static Python int, "
                        f"got {y!r}; use lax.pow for array exponents") from None
    return _unary(integer_pow_p, x, y=y)


_integer_pow_dtype_rule = naryop_abstract_eval("integer_pow", _num)


def _integer_pow_abstract_eval(x: AbstractArray, *, y: int) -> AbstractArray:
    out = _integer_pow_dtype_rule(x)
    if y < 0 and dtypes.is_integer(x.dtype):
        raise TypeError(f"lax.integer_pow: integers cannot be raised to negative powers, got "
                        f"{x.str_short()} ** {y}; convert x to a floating-point dtype first")
    return out


def _integer_pow_lower(ctx: RuleContext, x: Value, *, y: int) -> Value:
    out = ctx.aval_out
    if y == 0:
        return _full(ctx, 1, out)
    # Square-and-multiply over the bits of |y|.
    n, acc, base = builtins.abs(y), None, x
    while n:
        if n & 1:
            acc = base if acc is None else ctx.op("stablehlo.multiply", [acc, base], out)
        n >>= 1
        if n:
            base = ctx.op("stablehlo.multiply", [base, base], out)
    assert acc is not None
    if y < 0:
        acc = ctx.op("stablehlo.divide", [_full(ctx, 1, out), acc], out)
    return acc


integer_pow_p.def_abstract_eval(_integer_pow_abstract_eval)
lowering.register_lowering(integer_pow_p, _integer_pow_lower)


def reciprocal(x: ArrayLike) -> Array:
    """Elementwise reciprocal, `1 / x` (`integer_pow(x, -1)`).

    Args:
        x: a floating-point or complex array or scalar.

    Returns:
        `1 / x` with x's shape and dtype.
    """
    return integer_pow(x, -1)


population_count_p, population_count = _unop(
    "population_count", _int, "stablehlo.popcnt",
    "Elementwise number of set bits (of the two's-complement form for signed ints).",
    "an integer array or scalar.", f"The bit counts, {_SAME}")
clz_p, clz = _unop("clz", _int, "stablehlo.count_leading_zeros",
                   "Elementwise number of leading zero bits (the bit width for 0).",
                   "an integer array or scalar.", f"The counts, {_SAME}")

# --------------------------------------------------------------------------------------
# Binary math
# --------------------------------------------------------------------------------------

_NUM_XY = "numeric (non-bool) arrays or scalars"
add_p, add = _binop("add", _num, "stablehlo.add", "Elementwise addition, `x + y`.", _NUM_XY,
                    "`x + y` with the operands' dtype and common shape (integers wrap).")
sub_p, sub = _binop("sub", _num, "stablehlo.subtract", "Elementwise subtraction, `x - y`.",
                    _NUM_XY, "`x - y` with the operands' dtype and common shape.")
mul_p, mul = _binop("mul", _num, "stablehlo.multiply", "Elementwise product, `x * y`.",
                    _NUM_XY, "`x * y` with the operands' dtype and common shape.")
div_p, div = _binop(
    "div", _num, "stablehlo.divide",
    "Elementwise division, `x / y`; integer division truncates toward zero.", _NUM_XY,
    "`x / y` with the operands' dtype and common shape. As in XLA, an integer divided by "
    "zero gives -1 (all bits set) and `INT_MIN / -1` gives `INT_MIN`.")
rem_p, rem = _binop(
    "rem", _int_or_float, "stablehlo.remainder",
    "Elementwise remainder of truncated division, with the sign of x (C's `fmod`, not "
    "Python's `%`).", "integer or floating-point arrays or scalars",
    "`x - y * trunc(x / y)` with the operands' dtype and common shape (an integer "
    "remainder by zero gives x, as in XLA).")

pow_p = Primitive("pow")


def pow(x: ArrayLike, y: ArrayLike) -> Array:
    """Elementwise power, `x ** y`.

    Args:
        x: a floating-point or complex array or scalar.
        y: an array or scalar of x's dtype, or of any integer dtype (Python ints are
            int32); 0-d operands broadcast.

    Returns:
        `x ** y` with x's dtype and the common shape.

    >>> pow(np.float32(2.0), 3)
    Array(8., dtype=float32)
    """
    check_arraylike("lax.pow", x, y)
    # NOTE: an integer exponent keeps its own dtype (pow(f32, 2) is allowed), so only
    # a Python float/complex exponent adopts x's dtype, and a Python base adopts y's
    # dtype only when y is inexact.
    x_scalar, y_scalar = dtypes.is_python_scalar(x), dtypes.is_python_scalar(y)
    if y_scalar and not x_scalar and type(y) not in (int, bool):
        x, y = _operands("pow", (x, y))
    elif x_scalar and not y_scalar and dtypes.is_inexact(dtypes.dtype_of(y)):
        x, y = _operands("pow", (x, y))
    return pow_p.bind(x, y)


def _pow_abstract_eval(x: AbstractArray, y: AbstractArray) -> AbstractArray:
    if not dtypes.is_inexact(x.dtype) or not (y.dtype == x.dtype
                                              or dtypes.is_integer(y.dtype)):
        raise TypeError(f"lax.pow requires an inexact (float or complex) base and an "
                        f"exponent of the base's dtype or of an integer dtype, got "
                        f"{x.str_short()} and {y.str_short()}")
    shape = scalar_operand_avals((x, y))
    if shape is None:
        raise TypeError(f"lax.pow requires arguments to have the same shapes (or be 0-d), "
                        f"got {x.shape} and {y.shape}")
    return AbstractArray(shape, x.dtype, x.weak_type and y.weak_type)


def _pow_lower(ctx: RuleContext, x: Value, y: Value) -> Value:
    x, y = lowering.broadcast_scalar_operands(ctx, (x, y))
    out = ctx.aval_out
    y_aval = ctx.avals_in[1].update(shape=out.shape)
    if y_aval.dtype != out.dtype:
        # NOTE: as jax does, an integer exponent is converted to the base's dtype.
        y = _convert(ctx, y, y_aval, out.dtype)
    return ctx.op("stablehlo.power", [x, y], out)


pow_p.def_abstract_eval(_pow_abstract_eval)
lowering.register_lowering(pow_p, _pow_lower)


def _minmax_lower(op_name: str, direction: str) -> Callable[..., Value]:
    """max/min; complex numbers compare lexicographically (real part, then imaginary),
    as in jax and numpy. Floats propagate NaN."""

    def rule(ctx: RuleContext, x: Value, y: Value) -> Value:
        x, y = lowering.broadcast_scalar_operands(ctx, (x, y))
        out = ctx.aval_out
        if not dtypes.is_complex(out.dtype):
            return ctx.op(op_name, [x, y], out)
        part = out.update(dtype=dtypes.real_dtype(out.dtype))
        rx, ry = (ctx.op("stablehlo.real", [v], part) for v in (x, y))
        ix, iy = (ctx.op("stablehlo.imag", [v], part) for v in (x, y))
        which = ctx.op("stablehlo.select",
                       [_compare(ctx, "EQ", rx, ry, part), _compare(ctx, direction, ix, iy, part),
                        _compare(ctx, direction, rx, ry, part)],
                       part.update(dtype=dtypes.bool_))
        return ctx.op("stablehlo.select", [which, x, y], out)

    rule.__name__ = f"{op_name.split('.')[-1]}_lower"
    return rule


_ANY_XY = "arrays or scalars of any dtype"
max_p, max = _binop("max", _any, _minmax_lower("stablehlo.maximum", "GT"),
                    "Elementwise maximum (NaN-propagating; complex compares "
                    "lexicographically).", _ANY_XY,
                    "The larger of x and y, with the operands' dtype and common shape.")
min_p, min = _binop("min", _any, _minmax_lower("stablehlo.minimum", "LT"),
                    "Elementwise minimum (NaN-propagating; complex compares "
                    "lexicographically).", _ANY_XY,
                    "The smaller of x and y, with the operands' dtype and common shape.")
atan2_p, atan2 = _binop(
    "atan2", _inexact, "stablehlo.atan2",
    "Elementwise four-quadrant arc tangent of `x / y` (x is the numerator, as in jax.lax).",
    "floating-point or complex arrays or scalars",
    "The angle in [-pi, pi], with the operands' dtype and common shape.")

nextafter_p = Primitive("nextafter")


def nextafter(x1: ArrayLike, x2: ArrayLike) -> Array:
    """Elementwise next representable value after x1 in the direction of x2.

    Args:
        x1, x2: floating-point arrays or scalars of one dtype (0-d operands broadcast).

    Returns:
        The neighbouring values, with the operands' dtype and common shape.
    """
    return nextafter_p.bind(*_operands("nextafter", (x1, x2)))


nextafter_p.def_abstract_eval(naryop_abstract_eval("nextafter", _float))
lowering.register_lowering(nextafter_p, lowering.elementwise("chlo.next_after"))

complex_p, complex = _binop(
    "complex", _complex_part, "stablehlo.complex", "Elementwise `x + 1j * y`.",
    "float32 or float64 arrays or scalars",
    "A complex64 (from float32) or complex128 (from float64) array.",
    result_dtype=_to_complex)

# --------------------------------------------------------------------------------------
# Autodiff barrier
# --------------------------------------------------------------------------------------

stop_gradient_p = Primitive("stop_gradient")


def stop_gradient(x: Any) -> Any:
    """The identity on values, with a zero derivative: stops gradients flowing into `x`.

    Args:
        x: a pytree of arrays or scalars. Integer and bool leaves are returned as they
            are (they carry no gradient anyway).

    Returns:
        `x`, whose inexact leaves `grad`, `jvp` and the other transformations treat as
        constants.

    >>> import lamina
    >>> lamina.grad(lambda x: x * stop_gradient(x))(np.float32(3.0))
    Array(3., dtype=float32)
    """

    def stop(leaf: Any) -> Any:
        check_arraylike("lax.stop_gradient", leaf)
        if dtypes.is_inexact(dtypes.dtype_of(leaf)):
            return stop_gradient_p.bind(leaf)
        return leaf

    return tree_util.tree_map(stop, x)


stop_gradient_p.def_abstract_eval(lambda x: x)
lowering.register_lowering(stop_gradient_p, lambda ctx, x: x)

# NOTE: bitwise operations, comparisons, selection and dtype conversions live in sibling
# modules (this one would pass ~1200 lines with them) and are part of this module's namespace; they use the helpers
# above, so they are imported here, after them.
from lamina.lax.bitwise import (  # noqa: E402,F401
    and_p, bitwise_and, bitwise_not, bitwise_or, bitwise_xor, not_p, or_p, shift_left,
    shift_left_p, shift_right_arithmetic, shift_right_arithmetic_p, shift_right_logical,
    shift_right_logical_p, xor_p)
from lamina.lax.comparisons import (  # noqa: E402,F401
    eq, eq_p, ge, ge_p, gt, gt_p, le, le_p, lt, lt_p, ne, ne_p)
from lamina.lax.selection import (  # noqa: E402,F401
    clamp, clamp_p, select, select_n, select_n_p)
from lamina.lax.conversions import (  # noqa: E402,F401
    bitcast_convert_type, bitcast_convert_type_p, convert_element_type,
    convert_element_type_p, reduce_precision, reduce_precision_p)

# NOTE: the JVP, transpose and batching rules of this family live in a sibling module
# (this one would pass ~1300 lines with them); importing it registers them.
from lamina.lax import elementwise_rules as _rules  # noqa: E402,F401
