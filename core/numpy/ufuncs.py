"""Elementwise functions of lamina.numpy: jax.numpy's ufuncs and their relatives
(comparisons, rounding, floating-point decomposition, `clip`, `isclose`, `interp`,
`diff`, `gradient`, `convolve`...).

Every function promotes its arguments as jax.numpy does (JAX's lattice with weak
Python scalars, 32-bit defaults), broadcasts them with NumPy's rule, and is a
composition of `lamina.lax` operations. Most are one line made by a small factory;
the functions whose semantics need more (integer floor division, Python-style
remainder, `power` with a static integer exponent...) are written out. Where jax's
composition decides a result's weak type (e.g. `log2` of a Python float is strongly
typed), this module follows jax.
"""
from __future__ import annotations

import builtins
import inspect
import operator
from typing import Any, Callable, Sequence

import numpy as np

from lamina import dtypes, lax
from lamina.backend.array import Array, scalar_to_device
from lamina.interpreters.eval import eager_binary
from lamina.ir import Tracer, shaped_abstractify
from lamina.lax import elementwise as _lax_elementwise
from lamina.lax._util import canonicalize_axes, canonicalize_axis, operator_index
from lamina.numpy._util import (
    ArrayLike,
    asarray,
    broadcast_shapes,
    broadcast_to_shape,
    check_arraylike,
    promote_dtypes,
    promote_dtypes_inexact,
    promote_shapes,
)

__all__ = [
    # arithmetic
    "abs", "absolute", "fabs", "negative", "positive", "sign", "add", "subtract",
    "multiply", "divide", "true_divide", "floor_divide", "remainder", "mod", "fmod",
    "divmod", "power", "pow", "float_power", "square", "sqrt", "cbrt", "reciprocal",
    # exponentials, logarithms, trigonometry
    "exp", "exp2", "expm1", "log", "log2", "log10", "log1p", "logaddexp", "logaddexp2",
    "sin", "cos", "tan", "arcsin", "asin", "arccos", "acos", "arctan", "atan", "arctan2",
    "atan2", "sinh", "cosh", "tanh", "arcsinh", "asinh", "arccosh", "acosh", "arctanh",
    "atanh", "hypot", "deg2rad", "rad2deg", "degrees", "radians", "sinc", "i0",
    # rounding and floating-point structure
    "floor", "ceil", "trunc", "fix", "rint", "round", "around", "isnan", "isinf",
    "isfinite", "isposinf", "isneginf", "signbit", "copysign", "nextafter", "spacing",
    "ldexp", "frexp", "modf", "nan_to_num",
    # comparison and selection
    "maximum", "minimum", "fmax", "fmin", "clip", "heaviside", "equal", "not_equal",
    "less", "less_equal", "greater", "greater_equal", "isclose", "allclose",
    "array_equal", "array_equiv",
    # logical and bitwise
    "logical_and", "logical_or", "logical_xor", "logical_not", "bitwise_and",
    "bitwise_or", "bitwise_xor", "bitwise_not", "bitwise_invert", "invert",
    "bitwise_count", "left_shift", "right_shift", "bitwise_left_shift",
    "bitwise_right_shift", "gcd", "lcm",
    # complex numbers
    "real", "imag", "conj", "conjugate", "angle", "isreal", "iscomplex",
    # differences, interpolation, convolution
    "diff", "ediff1d", "gradient", "interp", "convolve", "correlate", "trapezoid",
    "unwrap",
]


# --------------------------------------------------------------------------------------
# Private helpers (reductions.py uses them too)
# --------------------------------------------------------------------------------------


def _name(fun: str) -> str:
    return f"lamina.numpy.{fun}"


def _aval(x: Any) -> Any:
    return shaped_abstractify(x)


def _to_array(fun: str, x: ArrayLike) -> Any:
    """One argument as a lamina value. Python bools are not weak (jax's rule)."""
    if _is_value(x):
        return x
    check_arraylike(_name(fun), x)
    if type(x) in (bool, int, float, complex):
        return scalar_to_device(x, dtypes.dtype_of(x), dtypes.is_weakly_typed(x))
    return asarray(x)


def _promote(fun: str, *args: ArrayLike) -> list[Any]:
    """jax's `promote_args`: check, promote dtypes (weak types included), broadcast."""
    if len(args) == 2:
        # NOTE: eager fast paths for the common `x op y` and `x op 2.0`: no lattice walk
        # when nothing changes, and a cached device constant for a Python scalar.
        x, y = args
        if _is_value(x):
            if _is_value(y) and x.aval == y.aval:
                return [x, y]
            if type(y) in (int, float, complex):
                dtype, weak = dtypes.result_type(x, y, return_weak_type_flag=True)
                return [_convert(x, dtype, weak), scalar_to_device(y, dtype, weak)]
        elif _is_value(y) and type(x) in (int, float, complex):
            dtype, weak = dtypes.result_type(x, y, return_weak_type_flag=True)
            return [scalar_to_device(x, dtype, weak), _convert(y, dtype, weak)]
    check_arraylike(_name(fun), *args)
    if len(args) == 1:
        return [_to_array(fun, args[0])]
    return promote_shapes(_name(fun), *promote_dtypes(*args))


def _promote_inexact(fun: str, *args: ArrayLike) -> list[Any]:
    """`_promote`, then integers and bools become the default float dtype."""
    return [_convert(a, dtypes.to_inexact_dtype(a.dtype), a.weak_type)
            for a in _promote(fun, *args)]


def _promote_numeric(fun: str, *args: ArrayLike) -> list[Any]:
    """`_promote`, then bools become the default integer dtype (jax's numeric rule)."""
    out = _promote(fun, *args)
    if out[0].dtype == dtypes.bool_:
        out = [_convert(a, dtypes.default_int_dtype(), a.weak_type) for a in out]
    return out


def _convert(x: Any, dtype: Any, weak_type: bool = False) -> Any:
    """`convert_element_type`, skipped when nothing changes (one dispatch less)."""
    if x.dtype == dtype and x.weak_type == weak_type:
        return x
    return lax.convert_element_type(x, dtype, weak_type=weak_type)


def _const(x: Any, value: Any, weak: bool | None = None) -> Array:
    """A 0-d constant of x's dtype, for use in an expression with x.

    By default it is weakly typed when x is a weak 0-d value and strong otherwise,
    which is what jax's compositions do (so `sinc(1.5)` is weak but `sinc` of a weak
    vector is not); `weak` overrides.

    NOTE: lax elementwise ops broadcast 0-d operands for free, so constants are never
    materialised at full size; the device copy is cached by `scalar_to_device`.
    """
    if weak is None:
        weak = x.weak_type and x.ndim == 0
    return scalar_to_device(value, x.dtype, weak)


def _full(shape: Sequence[int], value: Any, dtype: Any, weak: bool = False) -> Any:
    c = scalar_to_device(value, dtype, weak)
    return lax.broadcast_in_dim(c, tuple(shape), ()) if tuple(shape) else c


def _bcast(x: Any, shape: tuple[int, ...]) -> Any:
    return x if x.shape == shape else broadcast_to_shape(x, shape)


def _where(cond: Any, x: Any, y: Any) -> Any:
    """`where(cond, x, y)` with jax's promotion of x and y and NumPy broadcasting."""
    if not _is_value(x) or not _is_value(y) or x.dtype != y.dtype or x.weak_type != y.weak_type:
        x, y = promote_dtypes(x, y)
    shape = broadcast_shapes(_name("where"), cond.shape, x.shape, y.shape)
    if shape and 0 in shape:
        return _bcast(x, shape)
    cond = cond if cond.shape == () else _bcast(cond, shape)
    return lax.select(cond, _bcast(x, shape), _bcast(y, shape))


def _is_value(x: Any) -> bool:
    return isinstance(x, (Array, Tracer))


def _is_int(dtype: Any) -> bool:
    return dtypes.is_integer(dtype)


def _is_complex(x: Any) -> bool:
    return dtypes.is_complex(dtypes.dtype_of(x))


def _check_not_bool(fun: str, x: Any) -> None:
    if x.dtype == dtypes.bool_:
        raise TypeError(f"{_name(fun)} does not accept bool arrays (got "
                        f"{x.aval.str_short()}); convert with .astype(int) first")


def _check_not_complex(fun: str, x: Any, what: str = "") -> None:
    if dtypes.is_complex(x.dtype):
        raise TypeError(f"{_name(fun)} does not support complex inputs{what} (got "
                        f"{x.aval.str_short()}); use real/imag/abs first")


def _isnan(x: Any) -> Any:
    return lax.ne(x, x)


def _moveaxis(x: Any, source: int, destination: int) -> Any:
    destination %= builtins.max(x.ndim, 1)
    if source == destination:
        return x
    perm = [i for i in range(x.ndim) if i != source]
    perm.insert(destination, source)
    return lax.transpose(x, tuple(perm))


def _ravel(x: Any) -> Any:
    return x if x.ndim == 1 else lax.reshape(x, (x.size,))


def _take1d(x: Any, idx: Any) -> Any:
    """`x[idx]` for a 1-d `x` and an integer array `idx` of in-bounds indices."""
    dnums = lax.GatherDimensionNumbers(offset_dims=(), collapsed_slice_dims=(0,),
                                       start_index_map=(0,))
    return lax.gather(x, lax.reshape(idx, (*idx.shape, 1)), dnums, (1,), mode="clip")


# --------------------------------------------------------------------------------------
# Factories: one line per plain ufunc
# --------------------------------------------------------------------------------------

_PROMOTERS: dict[str, Callable[..., list[Any]]] = {
    "same": _promote, "inexact": _promote_inexact, "numeric": _promote_numeric}
# promote -> whether that promoter leaves two operands of one type with this dtype as is.
_UNCHANGED_BY: dict[str, Callable[[np.dtype], bool]] = {
    "same": lambda dtype: True,
    "inexact": lambda dtype: dtypes.to_inexact_dtype(dtype) == dtype,
    "numeric": lambda dtype: dtype != dtypes.bool_}

# The functions whose general path, for two Arrays of one type and a dtype accepted
# here, is exactly one lax primitive: their eager fast paths (`eager_binary`), which
# the Array operators use too (`_array_methods`).
_FAST_PATHS = {
    "add": (_lax_elementwise.add_p, _UNCHANGED_BY["numeric"]),
    "subtract": (_lax_elementwise.sub_p, _UNCHANGED_BY["numeric"]),
    "multiply": (_lax_elementwise.mul_p, _UNCHANGED_BY["numeric"]),
    "true_divide": (_lax_elementwise.div_p, _UNCHANGED_BY["inexact"]),
}
_fast_add = eager_binary(*_FAST_PATHS["add"])
_fast_subtract = eager_binary(*_FAST_PATHS["subtract"])
_fast_multiply = eager_binary(*_FAST_PATHS["multiply"])


def _unary(name: str, lax_fn: Callable[[Any], Any], promote: str, summary: str
           ) -> Callable[[ArrayLike], Any]:
    promoter = _PROMOTERS[promote]

    def fn(x: ArrayLike, /) -> Any:
        return lax_fn(*promoter(name, x))

    result = {"inexact": "an inexact dtype (integers and bools become the default float)",
              "numeric": "x's dtype (bools become the default integer)",
              "same": "x's dtype"}[promote]
    return _named(fn, name, f"{summary}, elementwise (jax.numpy.{name}).\n\n    Args:\n"
                            f"        x: an array or scalar.\n\n    Returns:\n        An array "
                            f"of x's shape with {result}.\n    ")


def _binary(name: str, lax_fn: Callable[[Any, Any], Any], promote: str, summary: str
            ) -> Callable[[ArrayLike, ArrayLike], Any]:
    promoter = _PROMOTERS[promote]
    unchanged = _UNCHANGED_BY[promote]

    def fn(x: ArrayLike, y: ArrayLike, /) -> Any:
        if type(x) is Array and type(y) is Array:
            # NOTE: dispatch fast path: the promoter returns two Arrays of one type (a
            # dtype it keeps) as they are.
            aval = x.aval
            if (y.aval is aval or y.aval == aval) and unchanged(aval.dtype):
                return lax_fn(x, y)
        return lax_fn(*promoter(name, x, y))

    return _named(fn, name, f"{summary}, elementwise with broadcasting (jax.numpy.{name})."
                            "\n\n    Args:\n        x: an array or scalar.\n        y: an array "
                            "or scalar broadcast-compatible with x.\n\n    Returns:\n        An "
                            "array of the broadcast shape and the promoted dtype.\n    ")


def _named(fn: Callable[..., Any], name: str, doc: str) -> Callable[..., Any]:
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = doc
    fn.__module__ = "lamina.numpy"
    return fn


def _alias(fn: Callable[..., Any], name: str) -> Callable[..., Any]:
    def alias(*args: Any, **kwargs: Any) -> Any:
        return fn(*args, **kwargs)
    alias.__signature__ = inspect.signature(fn)  # type: ignore[attr-defined]
    return _named(alias, name, f"Alias of `lamina.numpy.{fn.__name__}` (jax.numpy.{name}).")


# --------------------------------------------------------------------------------------
# Arithmetic
# --------------------------------------------------------------------------------------


def absolute(x: ArrayLike, /) -> Any:
    """Absolute value, elementwise (jax.numpy.absolute); complex gives the modulus.

    Args:
        x: an array or scalar.

    Returns:
        `|x|` of x's shape; x's dtype (the real dtype for complex x). Bools and
        unsigned integers are returned unchanged.
    """
    x = _to_array("absolute", x)
    if x.dtype == dtypes.bool_ or dtypes.is_unsigned_integer(x.dtype):
        return x
    return lax.abs(x)


abs = _alias(absolute, "abs")


def fabs(x: ArrayLike, /) -> Any:
    """Absolute value as a float, elementwise (jax.numpy.fabs); complex is rejected.

    Args:
        x: a real array or scalar.

    Returns:
        `|x|` of x's shape with an inexact dtype.
    """
    x = _to_array("fabs", x)
    _check_not_complex("fabs", x)
    return lax.abs(*_promote_inexact("fabs", x))


def negative(x: ArrayLike, /) -> Any:
    """`-x`, elementwise (jax.numpy.negative); bools are rejected as in jax.

    Args:
        x: a numeric array or scalar.

    Returns:
        `-x` with x's shape and dtype (unsigned integers wrap around).
    """
    x = _to_array("negative", x)
    _check_not_bool("negative", x)
    return lax.neg(x)


def positive(x: ArrayLike, /) -> Any:
    """`+x`: x itself as an array (jax.numpy.positive).

    Args:
        x: an array or scalar.

    Returns:
        x as a lamina array.
    """
    return _to_array("positive", x)


def sign(x: ArrayLike, /) -> Any:
    """Sign, elementwise (jax.numpy.sign): -1, 0 or 1; `x / |x|` for complex.

    Args:
        x: a numeric array or scalar.

    Returns:
        The signs, with x's shape and dtype.
    """
    x = _to_array("sign", x)
    _check_not_bool("sign", x)
    return lax.sign(x)


def add(x: ArrayLike, y: ArrayLike, /) -> Any:
    """`x + y`, elementwise with broadcasting (jax.numpy.add); for bools, logical or.

    Args:
        x: an array or scalar.
        y: an array or scalar broadcast-compatible with x.

    Returns:
        The sums, with the broadcast shape and the promoted dtype.
    """
    out = _fast_add(x, y)
    if out is not None:
        return out
    x, y = _promote("add", x, y)
    return lax.bitwise_or(x, y) if x.dtype == dtypes.bool_ else lax.add(x, y)


def subtract(x: ArrayLike, y: ArrayLike, /) -> Any:
    """`x - y`, elementwise with broadcasting (jax.numpy.subtract); bools are rejected.

    Args:
        x: an array or scalar.
        y: an array or scalar broadcast-compatible with x.

    Returns:
        The differences, with the broadcast shape and the promoted dtype.
    """
    out = _fast_subtract(x, y)
    if out is not None:
        return out
    x, y = _promote("subtract", x, y)
    _check_not_bool("subtract", x)
    return lax.sub(x, y)


def multiply(x: ArrayLike, y: ArrayLike, /) -> Any:
    """`x * y`, elementwise with broadcasting (jax.numpy.multiply); for bools, logical and.

    Args:
        x: an array or scalar.
        y: an array or scalar broadcast-compatible with x.

    Returns:
        The products, with the broadcast shape and the promoted dtype.
    """
    out = _fast_multiply(x, y)
    if out is not None:
        return out
    x, y = _promote("multiply", x, y)
    return lax.bitwise_and(x, y) if x.dtype == dtypes.bool_ else lax.mul(x, y)


true_divide = _binary("true_divide", lax.div, "inexact", "True division `x / y`")
divide = _alias(true_divide, "divide")


def floor_divide(x1: ArrayLike, x2: ArrayLike, /) -> Any:
    """`x1 // x2`, elementwise with broadcasting (jax.numpy.floor_divide).

    Rounds toward negative infinity, for negative operands too (Python's rule).
    Integer division by zero gives XLA's result rather than an error, as in jax.

    Args:
        x1: a real array or scalar.
        x2: a real array or scalar broadcast-compatible with x1.

    Returns:
        The floored quotients, with the broadcast shape and the promoted dtype.
    """
    x1, x2 = _promote_numeric("floor_divide", x1, x2)
    _check_not_complex("floor_divide", x1)
    if dtypes.is_unsigned_integer(x1.dtype):
        return lax.div(x1, x2)
    if _is_int(x1.dtype):
        quotient = lax.div(x1, x2)
        # NOTE: lax.div truncates toward zero; step down when the signs differ and
        # the division was inexact.
        adjust = lax.bitwise_and(lax.ne(lax.sign(x1), lax.sign(x2)),
                                 lax.ne(lax.rem(x1, x2), _const(x1, 0)))
        return _where(adjust, lax.sub(quotient, _const(quotient, 1)), quotient)
    return _float_divmod(x1, x2)[0]


def _float_divmod(x1: Any, x2: Any) -> tuple[Any, Any]:
    """Python's divmod for floats: the remainder takes the divisor's sign."""
    mod = lax.rem(x1, x2)
    shifted = _where(lax.eq(x2, _const(x2, 0)), x1, lax.sub(x1, mod))
    div = lax.div(shifted, x2)
    fix = lax.bitwise_and(lax.ne(mod, _const(mod, 0)), lax.ne(lax.sign(x2), lax.sign(mod)))
    mod = _where(fix, lax.add(mod, x2), mod)
    div = _where(fix, lax.sub(div, _const(div, 1, weak=div.weak_type)), div)
    return lax.round(div), mod


def remainder(x1: ArrayLike, x2: ArrayLike, /) -> Any:
    """`x1 % x2`, elementwise with broadcasting (jax.numpy.remainder).

    The result has the sign of the divisor (Python's rule); integer remainder by zero
    gives 0, as in jax.

    Args:
        x1: a real array or scalar.
        x2: a real array or scalar broadcast-compatible with x1.

    Returns:
        The remainders, with the broadcast shape and the promoted dtype.
    """
    x1, x2 = _promote_numeric("remainder", x1, x2)
    _check_not_complex("remainder", x1)
    zero = _const(x1, 0)
    if _is_int(x2.dtype):
        x2 = _where(lax.eq(x2, _const(x2, 0)), _const(x2, 1), x2)
    trunc = lax.rem(x1, x2)
    # NOTE: rem truncates (sign of x1); move it to the divisor's sign when they differ.
    fix = lax.bitwise_and(lax.ne(lax.lt(trunc, zero), lax.lt(x2, _const(x2, 0))),
                          lax.ne(trunc, zero))
    return _where(fix, lax.add(trunc, x2), trunc)


mod = _alias(remainder, "mod")


def fmod(x1: ArrayLike, x2: ArrayLike, /) -> Any:
    """C's `fmod`, elementwise with broadcasting (jax.numpy.fmod).

    The result has the sign of the dividend; integer fmod by zero gives 0, as in jax.

    Args:
        x1: a real array or scalar.
        x2: a real array or scalar broadcast-compatible with x1.

    Returns:
        The remainders, with the broadcast shape and the promoted dtype.
    """
    x1, x2 = _promote_numeric("fmod", x1, x2)
    _check_not_complex("fmod", x1)
    if _is_int(x2.dtype):
        x2 = _where(lax.eq(x2, _const(x2, 0)), _const(x2, 1), x2)
    return lax.rem(x1, x2)


def divmod(x1: ArrayLike, x2: ArrayLike, /) -> tuple[Any, Any]:
    """`(x1 // x2, x1 % x2)`, elementwise with broadcasting (jax.numpy.divmod).

    Args:
        x1: a real array or scalar.
        x2: a real array or scalar broadcast-compatible with x1.

    Returns:
        The floored quotients and the remainders (divisor's sign).
    """
    x1, x2 = _promote_numeric("divmod", x1, x2)
    _check_not_complex("divmod", x1)
    if _is_int(x1.dtype):
        return floor_divide(x1, x2), remainder(x1, x2)
    return _float_divmod(x1, x2)


def _static_exponent(x2: Any) -> int | None:
    """The exponent as a Python int when it is a concrete integer scalar, else None."""
    if isinstance(x2, (bool, int, np.integer)):
        return operator.index(x2)
    if isinstance(x2, (Array, np.ndarray)) and x2.shape == () and (
            _is_int(x2.dtype) or x2.dtype == dtypes.bool_):
        return operator.index(np.asarray(x2).item())
    return None


def power(x1: ArrayLike, x2: ArrayLike, /) -> Any:
    """`x1 ** x2`, elementwise with broadcasting (jax.numpy.power).

    A concrete integer exponent (a Python int or a 0-d integer array) uses repeated
    multiplication (`lax.integer_pow`), so integer bases stay integers and negative
    integer exponents of integer bases are an error, as in jax. Integer arrays raised
    to integer arrays use exact square-and-multiply (exponents up to 63).

    Args:
        x1: the base, an array or scalar.
        x2: the exponent, an array or scalar broadcast-compatible with x1.

    Returns:
        The powers, with the broadcast shape and the promoted dtype.
    """
    check_arraylike(_name("power"), x1, x2)
    n = _static_exponent(x2)
    if n is not None:
        return lax.integer_pow(*_promote_numeric("power", x1), n)
    x1_, x2_ = _promote_numeric("power", x1, x2)
    if _is_int(x1_.dtype):
        return _pow_int_int(x1_, x2_)
    d1, d2 = dtypes.dtype_of(x1), dtypes.dtype_of(x2)
    if dtypes.is_inexact(d1) and _is_int(d2) and not dtypes.is_python_scalar(x2):
        # NOTE: as jax, a float base keeps its dtype under an integer exponent array
        # (lax.pow accepts integer exponents).
        b, e = promote_shapes(_name("power"), _to_array("power", x1), asarray(x2))
        return lax.pow(b, e)
    return lax.pow(x1_, x2_)


def _pow_int_int(base: Any, exp: Any) -> Any:
    """Square-and-multiply over the low 6 bits of the exponent (enough for 64-bit)."""
    one, zero = _const(exp, 1), _const(exp, 0)
    acc = _where(lax.bitwise_and(lax.eq(base, _const(base, 0)), lax.ne(exp, zero)),
                 _const(base, 0), _const(base, 1))
    for _ in range(6):
        acc = _where(lax.ne(lax.bitwise_and(exp, one), zero), lax.mul(acc, base), acc)
        base = lax.mul(base, base)
        exp = lax.shift_right_logical(exp, one)
    return acc


pow = _alias(power, "pow")
float_power = _binary("float_power", lax.pow, "inexact", "Power `x ** y` in floating point")
square = _unary("square", lax.square, "numeric", "Square `x * x`")
sqrt = _unary("sqrt", lax.sqrt, "inexact", "Square root")
cbrt = _unary("cbrt", lax.cbrt, "inexact", "Cube root (real)")
reciprocal = _unary("reciprocal", lambda x: lax.integer_pow(x, -1), "inexact", "Reciprocal `1 / x`")

# --------------------------------------------------------------------------------------
# Exponentials, logarithms, trigonometry
# --------------------------------------------------------------------------------------

exp = _unary("exp", lax.exp, "inexact", "Exponential `e ** x`")
exp2 = _unary("exp2", lax.exp2, "inexact", "Base-2 exponential `2 ** x`")
expm1 = _unary("expm1", lax.expm1, "inexact", "`exp(x) - 1`, accurate near 0")
log = _unary("log", lax.log, "inexact", "Natural logarithm")
log1p = _unary("log1p", lax.log1p, "inexact", "`log(1 + x)`, accurate near 0")
sin = _unary("sin", lax.sin, "inexact", "Sine")
cos = _unary("cos", lax.cos, "inexact", "Cosine")
tan = _unary("tan", lax.tan, "inexact", "Tangent")
arcsin = _unary("arcsin", lax.asin, "inexact", "Inverse sine")
arccos = _unary("arccos", lax.acos, "inexact", "Inverse cosine")
arctan = _unary("arctan", lax.atan, "inexact", "Inverse tangent")
sinh = _unary("sinh", lax.sinh, "inexact", "Hyperbolic sine")
cosh = _unary("cosh", lax.cosh, "inexact", "Hyperbolic cosine")
tanh = _unary("tanh", lax.tanh, "inexact", "Hyperbolic tangent")
arcsinh = _unary("arcsinh", lax.asinh, "inexact", "Inverse hyperbolic sine")
arctanh = _unary("arctanh", lax.atanh, "inexact", "Inverse hyperbolic tangent")
arctan2 = _binary("arctan2", lax.atan2, "inexact", "Quadrant-aware `arctan(x / y)`")
asin, acos, atan = _alias(arcsin, "asin"), _alias(arccos, "acos"), _alias(arctan, "atan")
asinh, atanh = _alias(arcsinh, "asinh"), _alias(arctanh, "atanh")
atan2 = _alias(arctan2, "atan2")


def _arccosh(x: Any) -> Any:
    out = lax.acosh(x)
    if dtypes.is_complex(out.dtype):
        # NOTE: pick the branch with a non-negative real part (numpy's convention).
        out = _where(lax.lt(lax.real(out), _const(lax.real(out), 0)), lax.neg(out), out)
    return out


arccosh = _unary("arccosh", _arccosh, "inexact", "Inverse hyperbolic cosine")
acosh = _alias(arccosh, "acosh")


def _log_base(fun: str, x: ArrayLike, inv_log_base: float) -> Any:
    (x,) = _promote_inexact(fun, x)
    # NOTE: jax scales by a strongly-typed constant, so the result is never weak.
    if dtypes.is_complex(x.dtype):
        r = lax.log(x)
        scale = scalar_to_device(inv_log_base, dtypes.real_dtype(x.dtype), False)
        return lax.complex(lax.mul(lax.real(r), scale), lax.mul(lax.imag(r), scale))
    return lax.mul(lax.log(x), scalar_to_device(inv_log_base, x.dtype, False))


def log2(x: ArrayLike, /) -> Any:
    """Base-2 logarithm, elementwise (jax.numpy.log2).

    Args:
        x: an array or scalar.

    Returns:
        `log(x) / log(2)` with x's shape and an inexact dtype (never weakly typed).
    """
    return _log_base("log2", x, 1.0 / np.log(2.0))


def log10(x: ArrayLike, /) -> Any:
    """Base-10 logarithm, elementwise (jax.numpy.log10).

    Args:
        x: an array or scalar.

    Returns:
        `log(x) / log(10)` with x's shape and an inexact dtype (never weakly typed).
    """
    return _log_base("log10", x, 1.0 / np.log(10.0))


def _wrap_between(x: Any, half_period: float) -> Any:
    """x shifted by multiples of 2*half_period into (-half_period, half_period]."""
    two = 2 * half_period
    return lax.sub(remainder(lax.add(x, _const(x, half_period)), _const(x, two)),
                   _const(x, half_period))


def _logaddexp_impl(x1: Any, x2: Any, base2: bool) -> Any:
    if dtypes.is_complex(x1.dtype):
        exp_, scale = (lax.exp2, 1.0 / np.log(2.0)) if base2 else (lax.exp, 1.0)
        amax = lax.max(x1, x2)
        delta = lax.sub(lax.add(x1, x2), lax.mul(amax, _const(amax, 2)))
        out = lax.log1p(exp_(delta))
        out = lax.add(amax, lax.mul(out, _const(out, scale)) if base2 else out)
        return lax.complex(lax.real(out), _wrap_between(lax.imag(out), np.pi * scale))
    return _logaddexp_real(x1, x2, base2)


def _logaddexp_real_impl(x1: Any, x2: Any, base2: bool) -> Any:
    exp_ = lax.exp2 if base2 else lax.exp
    amax = lax.max(x1, x2)
    delta = lax.sub(x1, x2)
    out = lax.log1p(exp_(lax.neg(lax.abs(delta))))
    if base2:
        out = lax.mul(out, _const(out, 1.0 / np.log(2.0)))
    # NOTE: delta is NaN when both are the same infinity (or either is NaN): then
    # x1 + x2 gives the right inf/NaN.
    return _where(_isnan(delta), lax.add(x1, x2), lax.add(amax, out))


def _logaddexp_real_jvp(base2: bool, primals: Any, tangents: Any) -> Any:
    # NOTE: a custom JVP, as jax's: differentiating max/abs above would give a zero
    # gradient where x1 == x2 (the two kinks' half-gradients cancel) instead of 1/2.
    x1, x2 = _promote_inexact("logaddexp", *primals)
    t1, t2 = tangents
    out = _logaddexp_real(x1, x2, base2)
    exp_ = lax.exp2 if base2 else lax.exp

    def finite(v: Any) -> Any:  # inf - inf would give NaN weights at infinite inputs
        return _where(lax.is_finite(v), v, _const(v, 0))

    w1 = exp_(lax.sub(finite(x1), finite(out)))
    w2 = exp_(lax.sub(finite(x2), finite(out)))
    return out, lax.add(lax.mul(t1, w1), lax.mul(t2, w2))


def _logaddexp_real(x1: Any, x2: Any, base2: bool) -> Any:
    return _logaddexp_real_custom(x1, x2, base2)


def _make_logaddexp_real_custom() -> Any:
    from lamina.custom_derivatives import custom_jvp
    fn = custom_jvp(_logaddexp_real_impl, nondiff_argnums=(2,))
    fn.defjvp(_logaddexp_real_jvp)
    return fn


_logaddexp_real_custom = _make_logaddexp_real_custom()


def logaddexp(x1: ArrayLike, x2: ArrayLike, /) -> Any:
    """`log(exp(x1) + exp(x2))` without overflow (jax.numpy.logaddexp).

    Args:
        x1: an array or scalar.
        x2: an array or scalar broadcast-compatible with x1.

    Returns:
        The results, with the broadcast shape and an inexact dtype.
    """
    return _logaddexp_impl(*_promote_inexact("logaddexp", x1, x2), base2=False)


def logaddexp2(x1: ArrayLike, x2: ArrayLike, /) -> Any:
    """`log2(2**x1 + 2**x2)` without overflow (jax.numpy.logaddexp2).

    Args:
        x1: an array or scalar.
        x2: an array or scalar broadcast-compatible with x1.

    Returns:
        The results, with the broadcast shape and an inexact dtype.
    """
    return _logaddexp_impl(*_promote_inexact("logaddexp2", x1, x2), base2=True)


def hypot(x1: ArrayLike, x2: ArrayLike, /) -> Any:
    """`sqrt(x1**2 + x2**2)` without overflow, elementwise (jax.numpy.hypot).

    Args:
        x1: a real array or scalar.
        x2: a real array or scalar broadcast-compatible with x1.

    Returns:
        The hypotenuses, with the broadcast shape and an inexact dtype.
    """
    x1, x2 = _promote_inexact("hypot", x1, x2)
    if dtypes.is_complex(x1.dtype):
        raise ValueError(f"{_name('hypot')} is not defined for complex inputs (got "
                         f"{x1.aval.str_short()}); take abs() first")
    a, b = lax.abs(x1), lax.abs(x2)
    inf = _const(a, np.inf)
    any_inf = lax.bitwise_or(lax.eq(a, inf), lax.eq(b, inf))
    hi, lo = lax.max(a, b), lax.min(a, b)
    hi_is_zero = lax.eq(hi, _const(hi, 0))
    ratio = lax.div(lo, _where(hi_is_zero, _const(hi, 1), hi))
    out = _where(hi_is_zero, hi, lax.mul(hi, lax.sqrt(lax.add(_const(ratio, 1),
                                                              lax.square(ratio)))))
    return _where(any_inf, inf, out)


deg2rad = _unary("deg2rad", lambda x: lax.mul(x, _const(x, np.pi / 180)), "inexact",
                 "Degrees to radians")
rad2deg = _unary("rad2deg", lambda x: lax.mul(x, _const(x, 180 / np.pi)), "inexact",
                 "Radians to degrees")
radians, degrees = _alias(deg2rad, "radians"), _alias(rad2deg, "degrees")


def sinc(x: ArrayLike, /) -> Any:
    """Normalised sinc `sin(pi x) / (pi x)` (1 at 0), elementwise (jax.numpy.sinc).

    Args:
        x: an array or scalar.

    Returns:
        The values, with x's shape and an inexact dtype.
    """
    (x,) = _promote_inexact("sinc", x)
    is_zero = lax.eq(x, _const(x, 0))
    pi_x = lax.mul(x, _const(x, np.pi))
    safe = _where(is_zero, _const(x, 1), pi_x)
    return _where(is_zero, _const(x, 1), lax.div(lax.sin(safe), safe))


# Chebyshev coefficients of exp(-x) i0(x) (Cephes' i0.c): on [0, 8] in y = x/2 - 2,
# and on (8, inf) in y = 32/x - 2, where the expansion is of sqrt(x) exp(-x) i0(x).
_I0_A = (-4.41534164647933937950e-18, 3.33079451882223809783e-17, -2.43127984654795469359e-16,
         1.71539128555513303061e-15, -1.16853328779934516808e-14, 7.67618549860493561688e-14,
         -4.85644678311192946090e-13, 2.95505266312963983461e-12, -1.72682629144155570723e-11,
         9.67580903537323691224e-11, -5.18979560163526290666e-10, 2.65982372468238665035e-9,
         -1.30002500998624804212e-8, 6.04699502254191894932e-8, -2.67079385394061173391e-7,
         1.11738753912010371815e-6, -4.41673835845875056359e-6, 1.64484480707288970893e-5,
         -5.75419501008210370398e-5, 1.88502885095841655729e-4, -5.76375574538582365885e-4,
         1.63947561694133579842e-3, -4.32430999505057594430e-3, 1.05464603945949983183e-2,
         -2.37374148058994688156e-2, 4.93052842396707084878e-2, -9.49010970480476444210e-2,
         1.71620901522208775349e-1, -3.04682672343198398683e-1, 6.76795274409476084995e-1)
_I0_B = (-7.23318048787475395456e-18, -4.83050448594418207126e-18, 4.46562142029675999901e-17,
         3.46122286769746109310e-17, -2.82762398051658348494e-16, -3.42548561967721913462e-16,
         1.77256013305652638360e-15, 3.81168066935262242075e-15, -9.55484669882830764870e-15,
         -4.15056934728722208663e-14, 1.54008621752140982691e-14, 3.85277838274214270114e-13,
         7.18012445138366623367e-13, -1.79417853150680611778e-12, -1.32158118404477131188e-11,
         -3.14991652796324136454e-11, 1.18891471078464383424e-11, 4.94060238822496958910e-10,
         3.39623202570838634515e-9, 2.26666899049817806459e-8, 2.04891858946906374183e-7,
         2.89137052083475648297e-6, 6.88975834691682398426e-5, 3.36911647825569408990e-3,
         8.04490411014108831608e-1)


def _chbevl(y: Any, coeffs: Sequence[float]) -> Any:
    b0 = _const(y, coeffs[0])
    b1 = b2 = _const(y, 0.0)
    for c in coeffs[1:]:
        b2, b1 = b1, b0
        b0 = lax.add(lax.sub(lax.mul(y, b1), b2), _const(y, c))
    return lax.mul(lax.sub(b0, b2), _const(y, 0.5))


def i0(x: ArrayLike, /) -> Any:
    """Modified Bessel function of the first kind, order 0 (jax.numpy.i0).

    Args:
        x: a real array or scalar.

    Returns:
        `I0(x)` with x's shape and a floating dtype (computed in at least float32).
    """
    (x,) = _promote_inexact("i0", x)
    if dtypes.is_complex(x.dtype):
        raise ValueError(f"{_name('i0')}: complex inputs are not supported "
                         f"(got {x.aval.str_short()})")
    dtype = x.dtype
    # NOTE: the Chebyshev sums cancel heavily; 16-bit floats evaluate them in float32.
    wide = _convert(x, dtypes.float32, x.weak_type) if dtype in (
        dtypes.float16, dtypes.bfloat16) else x
    a = lax.abs(wide)
    small = lax.le(a, _const(a, 8.0))
    y_small = lax.sub(lax.mul(a, _const(a, 0.5)), _const(a, 2.0))
    y_large = lax.sub(lax.div(_const(a, 32.0), _where(small, _const(a, 1.0), a)),
                      _const(a, 2.0))
    scaled = _where(small, _chbevl(y_small, _I0_A),
                    lax.div(_chbevl(y_large, _I0_B), lax.sqrt(_where(small, _const(a, 1.0), a))))
    return _convert(lax.mul(lax.exp(a), scaled), dtype, x.weak_type)


# --------------------------------------------------------------------------------------
# Rounding and floating-point structure
# --------------------------------------------------------------------------------------


def _round_unary(name: str, lax_fn: Callable[[Any], Any], summary: str) -> Callable[..., Any]:
    def fn(x: ArrayLike, /) -> Any:
        x = _to_array(name, x)
        if x.dtype == dtypes.bool_ or _is_int(x.dtype):
            return x
        _check_not_complex(name, x)
        return lax_fn(x)

    return _named(fn, name, f"{summary}, elementwise (jax.numpy.{name}).\n\n    Args:\n"
                            "        x: a real array or scalar.\n\n    Returns:\n        An "
                            "array of x's shape and dtype (integers and bools unchanged).\n    ")


floor = _round_unary("floor", lax.floor, "Round toward negative infinity")
ceil = _round_unary("ceil", lax.ceil, "Round toward positive infinity")
trunc = _round_unary(
    "trunc", lambda x: _where(lax.lt(x, _const(x, 0)), lax.ceil(x), lax.floor(x)),
    "Round toward zero")
fix = _round_unary(
    "fix", lambda x: _where(lax.lt(x, _const(x, 0)), lax.ceil(x), lax.floor(x)),
    "Round toward zero (numpy.fix; the same as trunc)")


def rint(x: ArrayLike, /) -> Any:
    """Round to the nearest integer, ties to even, elementwise (jax.numpy.rint).

    Args:
        x: an array or scalar.

    Returns:
        The rounded values with x's shape; integers and bools become the default float
        dtype (as jax), complex rounds both parts.
    """
    x = _to_array("rint", x)
    if x.dtype == dtypes.bool_ or _is_int(x.dtype):
        return _convert(x, dtypes.default_float_dtype())
    if dtypes.is_complex(x.dtype):
        return lax.complex(rint(lax.real(x)), rint(lax.imag(x)))
    return lax.round(x, lax.RoundingMethod.TO_NEAREST_EVEN)


def round(a: ArrayLike, decimals: int = 0, out: None = None) -> Any:
    """Round to `decimals` decimal places, ties to even (jax.numpy.round).

    Args:
        a: an array or scalar.
        decimals: the number of decimals (a static int; negative rounds to tens...).
        out: unsupported; must be None.

    Returns:
        The rounded values with a's shape and dtype (integers are returned unchanged;
        complex rounds both parts).

    Raises:
        NotImplementedError: for `out`, or negative `decimals` with an integer input.
    """
    if out is not None:
        raise NotImplementedError(f"{_name('round')}: the 'out' argument is not supported")
    a = _to_array("round", a)
    decimals = operator_index(decimals)
    dtype = a.dtype
    if dtype == dtypes.bool_:
        raise ValueError(f"{_name('round')} does not accept bool arrays "
                         f"(got {a.aval.str_short()})")
    if _is_int(dtype):
        if decimals < 0:
            raise NotImplementedError(f"{_name('round')}: decimals < 0 is not implemented "
                                      f"for integer input (got {a.aval.str_short()})")
        return a

    def round_real(x: Any) -> Any:
        if decimals == 0:
            return lax.round(x, lax.RoundingMethod.TO_NEAREST_EVEN)
        # NOTE: scaling float16 by 10**decimals overflows quickly; compute in float32.
        wide = _convert(x, dtypes.float32, x.weak_type) if x.dtype == dtypes.float16 else x
        factor = _const(wide, 10.0 ** decimals)
        scaled = lax.round(lax.mul(wide, factor), lax.RoundingMethod.TO_NEAREST_EVEN)
        return _convert(lax.div(scaled, factor), x.dtype, x.weak_type)

    if decimals > np.log10(float(dtypes.finfo(dtype).max)):
        return a
    if dtypes.is_complex(dtype):
        return lax.complex(round_real(lax.real(a)), round_real(lax.imag(a)))
    return round_real(a)


def around(a: ArrayLike, decimals: int = 0, out: None = None) -> Any:
    """Alias of `lamina.numpy.round` (jax.numpy.around)."""
    return round(a, decimals, out)


def isnan(x: ArrayLike, /) -> Any:
    """Whether each element is NaN (jax.numpy.isnan).

    Args:
        x: an array or scalar.

    Returns:
        A bool array of x's shape.
    """
    x = _to_array("isnan", x)
    return _isnan(x)


def isfinite(x: ArrayLike, /) -> Any:
    """Whether each element is finite (jax.numpy.isfinite).

    Args:
        x: an array or scalar.

    Returns:
        A bool array of x's shape (all True for integers and bools).
    """
    x = _to_array("isfinite", x)
    if dtypes.is_floating(x.dtype):
        return lax.is_finite(x)
    if dtypes.is_complex(x.dtype):
        return lax.bitwise_and(lax.is_finite(lax.real(x)), lax.is_finite(lax.imag(x)))
    return _full(x.shape, True, dtypes.bool_)


def isinf(x: ArrayLike, /) -> Any:
    """Whether each element is +inf or -inf (jax.numpy.isinf).

    Args:
        x: an array or scalar.

    Returns:
        A bool array of x's shape (complex: either part infinite).
    """
    x = _to_array("isinf", x)
    if dtypes.is_floating(x.dtype):
        return lax.eq(lax.abs(x), _const(x, np.inf, weak=False))
    if dtypes.is_complex(x.dtype):
        re, im = lax.abs(lax.real(x)), lax.abs(lax.imag(x))
        return lax.bitwise_or(lax.eq(re, _const(re, np.inf, weak=False)),
                              lax.eq(im, _const(im, np.inf, weak=False)))
    return _full(x.shape, False, dtypes.bool_)


def _isposneginf(fun: str, x: ArrayLike, value: float, out: None) -> Any:
    if out is not None:
        raise NotImplementedError(f"{_name(fun)}: the 'out' argument is not supported")
    x = _to_array(fun, x)
    if dtypes.is_complex(x.dtype):
        raise ValueError(f"{_name(fun)} is not defined for complex inputs "
                         f"(got {x.aval.str_short()})")
    if dtypes.is_floating(x.dtype):
        return lax.eq(x, _const(x, value, weak=False))
    return _full(x.shape, False, dtypes.bool_)


def isposinf(x: ArrayLike, /, out: None = None) -> Any:
    """Whether each element is +inf (jax.numpy.isposinf).

    Args:
        x: a real array or scalar.
        out: unsupported; must be None.

    Returns:
        A bool array of x's shape.
    """
    return _isposneginf("isposinf", x, np.inf, out)


def isneginf(x: ArrayLike, /, out: None = None) -> Any:
    """Whether each element is -inf (jax.numpy.isneginf).

    Args:
        x: a real array or scalar.
        out: unsupported; must be None.

    Returns:
        A bool array of x's shape.
    """
    return _isposneginf("isneginf", x, -np.inf, out)


_BITS_INT = {16: dtypes.int16, 32: dtypes.int32, 64: dtypes.int64}


def signbit(x: ArrayLike, /) -> Any:
    """Whether the sign bit is set, elementwise (jax.numpy.signbit); True for -0.0.

    Args:
        x: a real array or scalar.

    Returns:
        A bool array of x's shape.
    """
    x = _to_array("signbit", x)
    if _is_int(x.dtype):
        return lax.lt(x, _const(x, 0, weak=False))
    if x.dtype == dtypes.bool_:
        return _full(x.shape, False, dtypes.bool_)
    if not dtypes.is_floating(x.dtype):
        raise ValueError(f"{_name('signbit')} is not defined for {x.aval.str_short()}")
    bits = lax.bitcast_convert_type(x, _BITS_INT[x.dtype.itemsize * 8])
    return lax.lt(bits, _const(bits, 0))


def copysign(x1: ArrayLike, x2: ArrayLike, /) -> Any:
    """The magnitude of x1 with the sign of x2, elementwise (jax.numpy.copysign).

    Args:
        x1: a real array or scalar.
        x2: a real array or scalar broadcast-compatible with x1.

    Returns:
        The results, with the broadcast shape and an inexact dtype.
    """
    x1, x2 = _promote_inexact("copysign", x1, x2)
    _check_not_complex("copysign", x1)
    mag = lax.abs(x1)
    return _where(signbit(x2), lax.neg(mag), mag)


nextafter = _binary("nextafter", lax.nextafter, "inexact",
                    "The next representable float after x toward y")


def spacing(x: ArrayLike, /) -> Any:
    """Distance to the next representable float away from zero (jax.numpy.spacing).

    Args:
        x: a real array or scalar.

    Returns:
        The spacings, with x's shape and an inexact dtype.
    """
    (x,) = _promote_inexact("spacing", x)
    if dtypes.is_complex(x.dtype):
        raise ValueError(f"{_name('spacing')} is not defined for complex inputs "
                         f"(got {x.aval.str_short()})")
    inf = _full(x.shape, np.inf, x.dtype, x.weak_type)
    if x.dtype == dtypes.float16:
        return lax.sub(lax.nextafter(x, inf), x)
    result = lax.sub(lax.nextafter(x, copysign(inf, x)), x)
    tiny = float(dtypes.finfo(x.dtype).smallest_subnormal)
    # NOTE: the subnormal fallback is strongly typed, so the result is (as in jax).
    return _where(lax.eq(result, _const(result, 0)),
                  copysign(_const(x, tiny, weak=False), x), result)


def frexp(x: ArrayLike, /) -> tuple[Any, Any]:
    """Split into mantissa and exponent, `x = m * 2**e` with `0.5 <= |m| < 1`
    (jax.numpy.frexp).

    Args:
        x: a real array or scalar.

    Returns:
        `(m, e)`: m with x's shape and an inexact dtype, e as int32. Zeros, infinities
        and NaNs give `(x, 0)`.
    """
    (x,) = _promote_inexact("frexp", x)
    _check_not_complex("frexp", x)
    info = dtypes.finfo(x.dtype)
    nbits = x.dtype.itemsize * 8
    int_t = _BITS_INT[nbits]
    nmant, nexp = int(info.nmant), int(info.nexp)
    bias = 1 - int(info.minexp)
    # NOTE: subnormals are scaled into the normal range first (and the exponent
    # corrected), so that the biased exponent field is meaningful.
    tiny = lax.lt(lax.abs(x), _const(x, float(info.tiny)))
    scaled = _where(tiny, lax.mul(x, _const(x, float(2 ** nmant))), x)
    extra = _where(tiny, _full((), -nmant, int_t), _full((), 0, int_t))
    bits = lax.bitcast_convert_type(scaled, int_t)
    mask = (1 << nexp) - 1
    field = lax.bitwise_and(lax.shift_right_logical(bits, _const(bits, nmant)),
                            _const(bits, mask))
    exponent = lax.add(lax.add(field, _const(field, 1 - bias)), extra)
    # Replace the exponent field by the one of 0.5 (bias - 1).
    cleared = lax.bitwise_and(bits, _const(bits, ~(mask << nmant)))
    mant_bits = lax.bitwise_or(cleared, _const(bits, (bias - 1) << nmant))
    mantissa = lax.bitcast_convert_type(mant_bits, x.dtype)
    special = lax.bitwise_or(lax.bitwise_or(lax.eq(x, _const(x, 0)), _isnan(x)),
                             lax.eq(lax.abs(x), _const(x, np.inf)))
    x_strong = _convert(x, x.dtype, False)
    mantissa = _where(special, x_strong, mantissa)
    exponent = _where(special, _full((), 0, int_t), exponent)
    return mantissa, _convert(exponent, dtypes.int32)


def ldexp(x1: ArrayLike, x2: ArrayLike, /) -> Any:
    """`x1 * 2**x2` for an integer exponent x2, elementwise (jax.numpy.ldexp).

    Args:
        x1: a real array or scalar (integers become the default float).
        x2: an integer array or scalar broadcast-compatible with x1.

    Returns:
        The results, with the broadcast shape and x1's inexact dtype.
    """
    check_arraylike(_name("ldexp"), x1, x2)
    d1, d2 = dtypes.dtype_of(x1), dtypes.dtype_of(x2)
    if dtypes.is_complex(d1) or dtypes.is_inexact(d2):
        raise ValueError(f"{_name('ldexp')} requires a real x1 and an integer x2, got "
                         f"{d1.name} and {d2.name}")
    (x1,) = _promote_inexact("ldexp", x1)
    x2 = _convert(_to_array("ldexp", x2), x1.dtype)
    x1, x2 = promote_shapes(_name("ldexp"), x1, x2)
    m, e = frexp(x1)
    e = lax.add(_convert(e, x1.dtype), x2)
    # NOTE: split the scaling in two steps so that 2**e never overflows on its own
    # when the result is representable (e.g. subnormal results).
    pos = lax.gt(e, _const(e, 0))
    m = _where(pos, lax.mul(m, _const(m, 2)), m)
    e = _where(pos, lax.sub(e, _const(e, 1)), e)
    out = lax.mul(m, lax.pow(_const(e, 2.0), e))
    keep = lax.bitwise_or(lax.eq(lax.abs(x1), _const(x1, np.inf)), lax.eq(x1, _const(x1, 0)))
    return _where(keep, _convert(x1, x1.dtype, False), out)


def modf(x: ArrayLike, /, out: None = None) -> tuple[Any, Any]:
    """Fractional and integral parts, both with x's sign (jax.numpy.modf).

    Args:
        x: a real array or scalar.
        out: unsupported; must be None.

    Returns:
        `(x - trunc(x), trunc(x))` with x's shape and an inexact dtype.
    """
    if out is not None:
        raise NotImplementedError(f"{_name('modf')}: the 'out' argument is not supported")
    (x,) = _promote_inexact("modf", x)
    _check_not_complex("modf", x)
    whole = _where(lax.ge(x, _const(x, 0)), lax.floor(x), lax.ceil(x))
    return lax.sub(x, whole), whole


def nan_to_num(x: ArrayLike, copy: bool = True, nan: ArrayLike = 0.0,
               posinf: ArrayLike | None = None, neginf: ArrayLike | None = None) -> Any:
    """Replace NaN and infinities by finite numbers (jax.numpy.nan_to_num).

    Args:
        x: an array or scalar.
        copy: ignored (arrays are immutable).
        nan: the value for NaN.
        posinf: the value for +inf (default: the dtype's largest finite value).
        neginf: the value for -inf (default: the dtype's most negative finite value).

    Returns:
        An array of x's shape and dtype; integer and bool inputs are unchanged.
    """
    del copy
    x = _to_array("nan_to_num", x)
    dtype = x.dtype
    if not dtypes.is_inexact(dtype):
        return x
    if dtypes.is_complex(dtype):
        parts = [nan_to_num(p, nan=nan, posinf=posinf, neginf=neginf)
                 for p in (lax.real(x), lax.imag(x))]
        return lax.complex(*parts)
    info = dtypes.finfo(dtype)
    posinf = float(info.max) if posinf is None else posinf
    neginf = float(info.min) if neginf is None else neginf
    x = _convert(x, dtype, False)

    def value(v: Any) -> Any:
        return _convert(asarray(v), dtype) if _is_value(v) else scalar_to_device(v, dtype, False)

    out = _where(_isnan(x), value(nan), x)
    out = _where(lax.eq(out, _const(out, np.inf)), value(posinf), out)
    return _where(lax.eq(out, _const(out, -np.inf)), value(neginf), out)


# --------------------------------------------------------------------------------------
# Comparison and selection
# --------------------------------------------------------------------------------------

maximum = _binary("maximum", lax.max, "same", "Larger of x and y (NaN if either is NaN)")
minimum = _binary("minimum", lax.min, "same", "Smaller of x and y (NaN if either is NaN)")


def fmax(x1: ArrayLike, x2: ArrayLike) -> Any:
    """Elementwise maximum that ignores NaN when the other value is a number
    (jax.numpy.fmax).

    Args:
        x1: an array or scalar.
        x2: an array or scalar broadcast-compatible with x1.

    Returns:
        The maxima, with the broadcast shape and the promoted dtype.
    """
    x1, x2 = _promote("fmax", x1, x2)
    return _where(lax.bitwise_or(greater(x1, x2), _isnan(x2)), x1, x2)


def fmin(x1: ArrayLike, x2: ArrayLike) -> Any:
    """Elementwise minimum that ignores NaN when the other value is a number
    (jax.numpy.fmin).

    Args:
        x1: an array or scalar.
        x2: an array or scalar broadcast-compatible with x1.

    Returns:
        The minima, with the broadcast shape and the promoted dtype.
    """
    x1, x2 = _promote("fmin", x1, x2)
    return _where(lax.bitwise_or(less(x1, x2), _isnan(x2)), x1, x2)


_UNSET: Any = object()


def clip(arr: ArrayLike | None = None, /, min: ArrayLike | None = None,
         max: ArrayLike | None = None, *, a: ArrayLike = _UNSET, a_min: ArrayLike = _UNSET,
         a_max: ArrayLike = _UNSET) -> Any:
    """Limit values to `[min, max]` (jax.numpy.clip).

    Args:
        arr: the array to clip.
        min: the lower bound (broadcast), or None for no lower bound.
        max: the upper bound (broadcast), or None for no upper bound.
        a, a_min, a_max: the legacy (NumPy 1.x) names of `arr`, `min` and `max`.

    Returns:
        `minimum(maximum(arr, min), max)`, with the broadcast shape and promoted dtype.

    Raises:
        ValueError: for complex values (they have no order) or no input at all.
    """
    if a is not _UNSET:
        if arr is not None:
            raise TypeError(f"{_name('clip')}: pass the array once (positionally or as a=)")
        arr = a
    if a_min is not _UNSET:
        if min is not None:
            raise TypeError(f"{_name('clip')}: pass the lower bound once (min= or a_min=)")
        min = a_min
    if a_max is not _UNSET:
        if max is not None:
            raise TypeError(f"{_name('clip')}: pass the upper bound once (max= or a_max=)")
        max = a_max
    if arr is None:
        raise ValueError(f"{_name('clip')}: no input array was provided")
    check_arraylike(_name("clip"), arr)
    if builtins.any(v is not None and _is_complex(v) for v in (arr, min, max)):
        raise ValueError(f"{_name('clip')}: complex values have no order and cannot be "
                         "clipped; clip the real or imaginary part instead")
    out = arr
    if min is not None:
        out = maximum(min, out)
    if max is not None:
        out = minimum(max, out)
    return _to_array("clip", out)


def heaviside(x1: ArrayLike, x2: ArrayLike, /) -> Any:
    """Heaviside step: 0 for x1 < 0, x2 at 0, 1 for x1 > 0 (jax.numpy.heaviside).

    Args:
        x1: a real array or scalar.
        x2: the value at 0, broadcast-compatible with x1.

    Returns:
        The step values, with the broadcast shape and an inexact dtype.
    """
    x1, x2 = _promote_inexact("heaviside", x1, x2)
    zero = _const(x1, 0)
    inner = _where(lax.gt(x1, zero), _const(x1, 1), _where(_isnan(x1), x1, x2))
    return _where(lax.lt(x1, zero), zero, inner)


def _ordered_compare(name: str, lax_fn: Callable[[Any, Any], Any], summary: str
                     ) -> Callable[..., Any]:
    def compare(x: Any, y: Any) -> Any:
        if dtypes.is_complex(x.dtype):
            # NOTE: complex numbers compare lexicographically (real part first), as numpy.
            xr, yr = lax.real(x), lax.real(y)
            return _where(lax.eq(xr, yr), lax_fn(lax.imag(x), lax.imag(y)), lax_fn(xr, yr))
        return lax_fn(x, y)

    return _binary(name, compare, "same", summary)


equal = _binary("equal", lax.eq, "same", "`x == y`")
not_equal = _binary("not_equal", lax.ne, "same", "`x != y`")
less = _ordered_compare("less", lax.lt, "`x < y`")
less_equal = _ordered_compare("less_equal", lax.le, "`x <= y`")
greater = _ordered_compare("greater", lax.gt, "`x > y`")
greater_equal = _ordered_compare("greater_equal", lax.ge, "`x >= y`")


def isclose(a: ArrayLike, b: ArrayLike, rtol: ArrayLike = 1e-05, atol: ArrayLike = 1e-08,
            equal_nan: bool = False) -> Any:
    """Whether `|a - b| <= atol + rtol * |b|`, elementwise (jax.numpy.isclose).

    Args:
        a: an array or scalar.
        b: an array or scalar broadcast-compatible with a.
        rtol: relative tolerance.
        atol: absolute tolerance.
        equal_nan: whether NaNs compare equal to each other.

    Returns:
        A bool array of the broadcast shape. Infinities are close only to themselves.
    """
    a, b = _promote("isclose", a, b)
    if not dtypes.is_inexact(a.dtype):
        a, b = _promote_inexact("isclose", a, b)
    tol_dtype = dtypes.real_dtype(a.dtype)

    def tol(v: Any) -> Any:
        return _convert(asarray(v), tol_dtype) if _is_value(v) or isinstance(
            v, np.ndarray) else scalar_to_device(v, tol_dtype, False)

    rtol_, atol_ = tol(rtol), tol(atol)
    if rtol_.ndim == 0 and atol_.ndim == 0:
        in_range = lax.le(lax.abs(lax.sub(a, b)),
                          lax.add(atol_, lax.mul(rtol_, lax.abs(b))))
    else:
        in_range = less_equal(lax.abs(lax.sub(a, b)),
                              add(atol_, multiply(rtol_, lax.abs(b))))
    out = lax.bitwise_or(lax.eq(a, b), lax.bitwise_and(isfinite(b), in_range))
    if equal_nan:
        out = lax.bitwise_or(out, lax.bitwise_and(_isnan(a), _isnan(b)))
    return _convert(out, dtypes.bool_)


def _all(x: Any) -> Any:
    return lax.reduce_and(x, tuple(range(x.ndim))) if x.ndim else x


def allclose(a: ArrayLike, b: ArrayLike, rtol: ArrayLike = 1e-05, atol: ArrayLike = 1e-08,
             equal_nan: bool = False) -> Any:
    """Whether every element of a is close to b (jax.numpy.allclose); see `isclose`.

    Args:
        a: an array or scalar.
        b: an array or scalar broadcast-compatible with a.
        rtol: relative tolerance.
        atol: absolute tolerance.
        equal_nan: whether NaNs compare equal to each other.

    Returns:
        A 0-d bool array.
    """
    return _all(isclose(a, b, rtol, atol, equal_nan))


def array_equal(a1: ArrayLike, a2: ArrayLike, equal_nan: bool = False) -> Any:
    """Whether a1 and a2 have the same shape and elements (jax.numpy.array_equal).

    Args:
        a1: an array or scalar.
        a2: an array or scalar.
        equal_nan: whether NaNs compare equal to each other.

    Returns:
        A 0-d bool array (False when the shapes differ).
    """
    a1, a2 = _to_array("array_equal", a1), _to_array("array_equal", a2)
    if a1.shape != a2.shape:
        return scalar_to_device(False, dtypes.bool_, False)
    eq = equal(a1, a2)
    if equal_nan:
        eq = lax.bitwise_or(eq, lax.bitwise_and(isnan(a1), isnan(a2)))
    return _convert(_all(eq), dtypes.bool_)


def array_equiv(a1: ArrayLike, a2: ArrayLike) -> Any:
    """Whether a1 and a2 are equal after broadcasting (jax.numpy.array_equiv).

    Args:
        a1: an array or scalar.
        a2: an array or scalar.

    Returns:
        A 0-d bool array (False when the shapes do not broadcast).
    """
    a1, a2 = _to_array("array_equiv", a1), _to_array("array_equiv", a2)
    try:
        eq = equal(a1, a2)
    except ValueError:
        return scalar_to_device(False, dtypes.bool_, False)
    return _convert(_all(eq), dtypes.bool_)


# --------------------------------------------------------------------------------------
# Logical and bitwise
# --------------------------------------------------------------------------------------


def _to_bool(x: Any) -> Any:
    if x.dtype == dtypes.bool_:
        return x
    return lax.ne(x, _const(x, 0))


logical_and = _binary("logical_and", lambda x, y: lax.bitwise_and(_to_bool(x), _to_bool(y)),
                      "same", "Logical `x and y`")
logical_or = _binary("logical_or", lambda x, y: lax.bitwise_or(_to_bool(x), _to_bool(y)),
                     "same", "Logical `x or y`")
logical_xor = _binary("logical_xor", lambda x, y: lax.bitwise_xor(_to_bool(x), _to_bool(y)),
                      "same", "Logical `x xor y`")
logical_not = _unary("logical_not", lambda x: lax.bitwise_not(_to_bool(x)), "same",
                     "Logical `not x`")


def _bitwise(name: str, lax_fn: Callable[..., Any], nargs: int, summary: str
             ) -> Callable[..., Any]:
    def checked(*args: Any) -> Any:
        if not (args[0].dtype == dtypes.bool_ or _is_int(args[0].dtype)):
            raise TypeError(f"{_name(name)} requires integer or bool arguments, got "
                            f"{', '.join(a.aval.str_short() for a in args)}")
        return lax_fn(*args)

    return (_unary if nargs == 1 else _binary)(name, checked, "same", summary)


bitwise_and = _bitwise("bitwise_and", lax.bitwise_and, 2, "Bitwise and `x & y`")
bitwise_or = _bitwise("bitwise_or", lax.bitwise_or, 2, "Bitwise or `x | y`")
bitwise_xor = _bitwise("bitwise_xor", lax.bitwise_xor, 2, "Bitwise xor `x ^ y`")
bitwise_not = _bitwise("bitwise_not", lax.bitwise_not, 1, "Bitwise not `~x`")
invert = _bitwise("invert", lax.bitwise_not, 1, "Bitwise inversion `~x`")
bitwise_invert = _bitwise("bitwise_invert", lax.bitwise_not, 1, "Bitwise inversion `~x`")


def _shift(name: str, right: bool) -> Callable[..., Any]:
    def shift(x: Any, y: Any) -> Any:
        if not _is_int(x.dtype):
            raise TypeError(f"{_name(name)} requires integer arguments, got "
                            f"{x.aval.str_short()} and {y.aval.str_short()}")
        if not right:
            return lax.shift_left(x, y)
        if dtypes.is_unsigned_integer(x.dtype):
            return lax.shift_right_logical(x, y)
        return lax.shift_right_arithmetic(x, y)

    def fn(x1: ArrayLike, x2: ArrayLike, /) -> Any:
        return shift(*_promote_numeric(name, x1, x2))

    op = ">>" if right else "<<"
    return _named(fn, name, f"Shift `x1 {op} x2`, elementwise (jax.numpy.{name}).\n\n"
                            "    Args:\n        x1: an integer array or scalar (bools become "
                            "int32).\n        x2: the shift amounts, broadcast-compatible.\n\n"
                            "    Returns:\n        The shifted values (arithmetic right shift "
                            "for signed integers).\n    ")


left_shift = _shift("left_shift", right=False)
right_shift = _shift("right_shift", right=True)
bitwise_left_shift = _alias(left_shift, "bitwise_left_shift")
bitwise_right_shift = _alias(right_shift, "bitwise_right_shift")


def bitwise_count(x: ArrayLike, /) -> Any:
    """Number of 1 bits in `|x|`, elementwise (jax.numpy.bitwise_count).

    Args:
        x: an integer or bool array or scalar.

    Returns:
        The counts as uint8, with x's shape.
    """
    (x,) = _promote_numeric("bitwise_count", x)
    if not _is_int(x.dtype):
        raise TypeError(f"{_name('bitwise_count')} requires an integer argument, got "
                        f"{x.aval.str_short()}")
    return _convert(lax.population_count(absolute(x)), dtypes.uint8)


def _gcd_steps(dtype: np.dtype) -> int:
    """Euclid's algorithm takes fewer steps than the index of the first Fibonacci
    number above the dtype's maximum (Lamé's theorem)."""
    limit, a, b, n = int(dtypes.iinfo(dtype).max), 1, 1, 1
    while b <= limit:
        a, b, n = b, a + b, n + 1
    return n


def gcd(x1: ArrayLike, x2: ArrayLike) -> Any:
    """Greatest common divisor of |x1| and |x2|, elementwise (jax.numpy.gcd).

    Args:
        x1: an integer array or scalar.
        x2: an integer array or scalar broadcast-compatible with x1.

    Returns:
        The non-negative gcds (gcd(0, 0) = 0), with the broadcast shape and promoted dtype.
    """
    x1, x2 = _promote("gcd", x1, x2)
    if not _is_int(x1.dtype):
        raise ValueError(f"{_name('gcd')} requires integer arguments, got "
                         f"{x1.aval.str_short()} and {x2.aval.str_short()}")
    shape = broadcast_shapes(_name("gcd"), x1.shape, x2.shape)
    a, b = _bcast(absolute(x1), shape), _bcast(absolute(x2), shape)
    zero, one = _const(a, 0), _const(a, 1)
    zeros, ones = _bcast(zero, shape), _bcast(one, shape)
    # NOTE: a fixed number of Euclid steps (no data-dependent loop), enough for any
    # value of the dtype; finished lanes keep (g, 0).
    for _ in range(_gcd_steps(a.dtype)):
        nonzero = lax.ne(b, zero)
        a, b = (lax.select(nonzero, b, a),
                lax.select(nonzero, lax.rem(a, lax.select(nonzero, b, ones)), zeros))
    return a


def lcm(x1: ArrayLike, x2: ArrayLike) -> Any:
    """Least common multiple of |x1| and |x2|, elementwise (jax.numpy.lcm).

    Args:
        x1: an integer array or scalar.
        x2: an integer array or scalar broadcast-compatible with x1.

    Returns:
        The non-negative lcms (0 if either is 0), with the broadcast shape and promoted dtype.
    """
    x1, x2 = _promote("lcm", x1, x2)
    if not _is_int(x1.dtype):
        raise ValueError(f"{_name('lcm')} requires integer arguments, got "
                         f"{x1.aval.str_short()} and {x2.aval.str_short()}")
    a, b = absolute(x1), absolute(x2)
    d = gcd(a, b)
    is_zero = lax.eq(d, _const(d, 0))
    return _where(is_zero, _const(d, 0),
                  multiply(a, floor_divide(b, _where(is_zero, _const(d, 1), d))))


# --------------------------------------------------------------------------------------
# Complex numbers
# --------------------------------------------------------------------------------------


def real(val: ArrayLike, /) -> Any:
    """The real part (jax.numpy.real); real inputs are returned unchanged.

    Args:
        val: an array or scalar.

    Returns:
        An array of val's shape with the real dtype.
    """
    val = _to_array("real", val)
    return lax.real(val) if dtypes.is_complex(val.dtype) else val


def imag(val: ArrayLike, /) -> Any:
    """The imaginary part (jax.numpy.imag); zeros for real inputs.

    Args:
        val: an array or scalar.

    Returns:
        An array of val's shape with the real dtype.
    """
    val = _to_array("imag", val)
    if dtypes.is_complex(val.dtype):
        return lax.imag(val)
    return _full(val.shape, 0, val.dtype, val.weak_type)


def conjugate(x: ArrayLike, /) -> Any:
    """Complex conjugate (jax.numpy.conjugate); real inputs are returned unchanged.

    Args:
        x: an array or scalar.

    Returns:
        An array of x's shape and dtype.
    """
    x = _to_array("conjugate", x)
    return lax.conj(x) if dtypes.is_complex(x.dtype) else x


conj = _alias(conjugate, "conj")


def angle(z: ArrayLike, deg: bool = False) -> Any:
    """The argument (phase angle) of a complex number (jax.numpy.angle).

    Args:
        z: an array or scalar.
        deg: return degrees instead of radians.

    Returns:
        `arctan2(imag(z), real(z))` with z's shape and a real floating dtype.
    """
    z = _to_array("angle", z)
    re, im = real(z), imag(z)
    if not dtypes.is_inexact(re.dtype) or (dtypes.is_floating(z.dtype) and z.ndim == 0):
        # NOTE: as jax, 0-d real floats (of any width) also go to the default float.
        re = _convert(re, dtypes.default_float_dtype())
        im = _convert(im, re.dtype)
    out = lax.atan2(im, re)
    return rad2deg(out) if deg else out


def isreal(x: ArrayLike) -> Any:
    """Whether each element has a zero imaginary part (jax.numpy.isreal).

    Args:
        x: an array or scalar.

    Returns:
        A bool array of x's shape.
    """
    i = imag(x)
    return lax.eq(i, _const(i, 0))


def iscomplex(x: ArrayLike) -> Any:
    """Whether each element has a non-zero imaginary part (jax.numpy.iscomplex).

    Args:
        x: an array or scalar.

    Returns:
        A bool array of x's shape.
    """
    i = imag(x)
    return lax.ne(i, _const(i, 0))


# --------------------------------------------------------------------------------------
# Differences, interpolation, convolution
# --------------------------------------------------------------------------------------


def _slice_axis(x: Any, start: int | None, stop: int | None, axis: int) -> Any:
    return lax.slice_in_dim(x, start, stop, 1, axis)


def diff(a: ArrayLike, n: int = 1, axis: int = -1, prepend: ArrayLike | None = None,
         append: ArrayLike | None = None) -> Any:
    """The n-th discrete difference along an axis (jax.numpy.diff).

    Args:
        a: an array of rank >= 1.
        n: how many times to difference (a static int >= 0).
        axis: the axis along which to difference.
        prepend: values put before `a` along `axis` first (scalars are broadcast).
        append: values put after `a` along `axis` first (scalars are broadcast).

    Returns:
        The differences; `axis` shrinks by n. Bools give `!=` instead of `-`.
    """
    arr = _to_array("diff", a)
    n = operator_index(n)
    axis = operator_index(axis)
    if n == 0:
        return arr
    if n < 0:
        raise ValueError(f"{_name('diff')}: the order n must be non-negative, got {n}")
    if arr.ndim == 0:
        raise ValueError(f"{_name('diff')} requires an array of rank >= 1, got "
                         f"{arr.aval.str_short()}")
    axis = canonicalize_axis(axis, arr.ndim, _name("diff"))
    parts = []
    for extra in (prepend, arr, append):
        if extra is None:
            continue
        if extra is not arr:
            extra = _to_array("diff", extra)
            if extra.ndim == 0:
                shape = list(arr.shape)
                shape[axis] = 1
                extra = lax.broadcast_in_dim(extra, tuple(shape), ())
        parts.append(extra)
    if len(parts) > 1:
        parts = promote_dtypes(*parts)
        arr = lax.concatenate(parts, axis)
    op = lax.ne if arr.dtype == dtypes.bool_ else lax.sub
    for _ in range(n):
        arr = op(_slice_axis(arr, 1, None, axis), _slice_axis(arr, None, -1, axis))
    return arr


def ediff1d(ary: ArrayLike, to_end: ArrayLike | None = None,
            to_begin: ArrayLike | None = None) -> Any:
    """Differences of consecutive elements of the flattened array (jax.numpy.ediff1d).

    Args:
        ary: an array.
        to_end: values appended to the result (flattened, cast to ary's dtype).
        to_begin: values prepended to the result.

    Returns:
        A 1-d array.
    """
    arr = _ravel(_to_array("ediff1d", ary))
    out = lax.sub(_slice_axis(arr, 1, None, 0), _slice_axis(arr, None, -1, 0))
    parts = [out]
    if to_begin is not None:
        parts.insert(0, _convert(_ravel(_to_array("ediff1d", to_begin)), arr.dtype))
    if to_end is not None:
        parts.append(_convert(_ravel(_to_array("ediff1d", to_end)), arr.dtype))
    return lax.concatenate(parts, 0) if len(parts) > 1 else out


def gradient(f: ArrayLike, *varargs: ArrayLike, axis: int | Sequence[int] | None = None,
             edge_order: int | None = None) -> Any:
    """Second-order central differences inside, first-order at the edges
    (jax.numpy.gradient).

    Args:
        f: an array.
        *varargs: spacing: none (1), one scalar or 1-d coordinate array for all axes,
            or one per axis.
        axis: the axes to differentiate along (default all).
        edge_order: unsupported; must be None.

    Returns:
        One array per axis (a list), or a single array when there is one axis.
    """
    if edge_order is not None:
        raise NotImplementedError(f"{_name('gradient')}: edge_order is not supported")
    check_arraylike(_name("gradient"), f, *varargs)
    a, *spacing = promote_dtypes_inexact(f, *varargs) if varargs else promote_dtypes_inexact(f)
    axes = canonicalize_axes(axis, a.ndim, _name("gradient"))
    if not axes:
        return []
    if builtins.min(a.shape[ax] for ax in axes) < 2:
        raise ValueError(f"{_name('gradient')}: each differentiated axis needs at least 2 "
                         f"elements, got shape {a.shape}")
    if len(spacing) == 0:
        spacing = [None] * len(axes)
    elif len(spacing) == 1:
        spacing = spacing * len(axes)
    elif len(spacing) != len(axes):
        raise TypeError(f"{_name('gradient')}: got {len(spacing)} spacing arguments for "
                        f"{len(axes)} axes")
    grads = [_gradient_along(a, h, ax) for ax, h in zip(axes, spacing)]
    return grads[0] if len(axes) == 1 else grads


def _gradient_along(a: Any, h: Any, axis: int) -> Any:
    def sl(x: Any, start: int | None, stop: int | None) -> Any:
        return _slice_axis(x, start, stop, axis)

    first = lax.sub(sl(a, 1, 2), sl(a, 0, 1))
    last = lax.sub(sl(a, -1, None), sl(a, -2, -1))
    if h is None or h.ndim == 0:
        inner = lax.mul(lax.sub(sl(a, 2, None), sl(a, None, -2)), _const(a, 0.5))
        if h is not None:
            inner, first, last = (lax.div(v, h) for v in (inner, first, last))
        return lax.concatenate([first, inner, last], axis)
    if h.ndim != 1 or h.shape[0] != a.shape[axis]:
        raise ValueError(f"{_name('gradient')}: a spacing array must be 1-d with the axis "
                         f"length {a.shape[axis]}, got shape {h.shape}")
    shape = [1] * a.ndim
    shape[axis] = h.shape[0]
    h = lax.reshape(h, tuple(shape))
    first = true_divide(first, lax.sub(sl(h, 1, 2), sl(h, 0, 1)))
    last = true_divide(last, lax.sub(sl(h, -1, None), sl(h, -2, -1)))
    dx1 = lax.sub(sl(h, 1, -1), sl(h, 0, -2))
    dx2 = lax.sub(sl(h, 2, None), sl(h, 1, -1))
    ca = true_divide(negative(dx2), multiply(dx1, add(dx1, dx2)))
    cb = true_divide(subtract(dx2, dx1), multiply(dx1, dx2))
    cc = true_divide(dx1, multiply(dx2, add(dx1, dx2)))
    inner = add(add(multiply(ca, sl(a, 0, -2)), multiply(cb, sl(a, 1, -1))),
                multiply(cc, sl(a, 2, None)))
    first, inner, last = promote_dtypes(first, inner, last)
    return lax.concatenate([first, inner, last], axis)


def _searchsorted_right(sorted_1d: Any, v: Any) -> Any:
    """For each element of v, the number of elements of sorted_1d that are <= it."""
    import lamina.numpy as lnp  # NOTE: lazily: lamina.numpy imports this module.
    return lnp.searchsorted(sorted_1d, v, side="right")


def interp(x: ArrayLike, xp: ArrayLike, fp: ArrayLike, left: ArrayLike | str | None = None,
           right: ArrayLike | str | None = None, period: ArrayLike | None = None) -> Any:
    """One-dimensional piecewise-linear interpolation (jax.numpy.interp).

    Args:
        x: the points to evaluate at.
        xp: the increasing x-coordinates of the data (1-d).
        fp: the y-coordinates of the data (1-d, same length as xp).
        left: the value for x < xp[0] (default fp[0]); 'extrapolate' extends the first
            segment.
        right: the value for x > xp[-1] (default fp[-1]); 'extrapolate' extends the last.
        period: for periodic x-coordinates (then left/right are ignored).

    Returns:
        The interpolated values, with x's shape and an inexact dtype.
    """
    check_arraylike(_name("interp"), x, xp, fp)
    xp_shape, fp_shape = _aval(xp).shape, _aval(fp).shape
    if xp_shape != fp_shape or len(xp_shape) != 1:
        raise ValueError(f"{_name('interp')}: xp and fp must be 1-d arrays of equal length, "
                         f"got shapes {xp_shape} and {fp_shape}")
    if xp_shape[0] == 0:
        raise ValueError(f"{_name('interp')}: xp and fp must not be empty")
    extrapolate = {}
    for side, val in (("left", left), ("right", right)):
        if isinstance(val, str) and val != "extrapolate":
            raise ValueError(f"{_name('interp')}: the only valid string for {side} is "
                             f"'extrapolate', got {val!r}")
        extrapolate[side] = isinstance(val, str)
    x_arr, xp_arr = promote_dtypes_inexact(x, xp)
    (fp_arr,) = promote_dtypes_inexact(fp)
    if dtypes.is_complex(x_arr.dtype):
        raise ValueError(f"{_name('interp')}: complex x values are not supported")
    if period is not None:
        if _aval(period).ndim != 0:
            raise ValueError(f"{_name('interp')}: period must be a scalar, got shape "
                             f"{_aval(period).shape}")
        per = absolute(period)
        x_arr, xp_arr = remainder(x_arr, per), remainder(xp_arr, per)
        xp_arr, fp_arr = lax.sort_key_val(xp_arr, fp_arr)
        per = _convert(asarray(per), xp_arr.dtype)
        xp_arr = lax.concatenate([lax.sub(_slice_axis(xp_arr, -1, None, 0), per), xp_arr,
                                  lax.add(_slice_axis(xp_arr, 0, 1, 0), per)], 0)
        fp_arr = lax.concatenate([_slice_axis(fp_arr, -1, None, 0), fp_arr,
                                  _slice_axis(fp_arr, 0, 1, 0)], 0)
    m = xp_arr.shape[0]
    i = _searchsorted_right(xp_arr, x_arr)
    i = lax.clamp(_const(i, 1), i, _const(i, builtins.max(m - 1, 1)))
    im1 = lax.sub(i, _const(i, 1))
    f_lo, f_hi = _take1d(fp_arr, im1), _take1d(fp_arr, i)
    x_lo, x_hi = _take1d(xp_arr, im1), _take1d(xp_arr, i)
    df, dx = subtract(f_hi, f_lo), lax.sub(x_hi, x_lo)
    delta = lax.sub(x_arr, x_lo)
    eps = float(np.spacing(dtypes.finfo(xp_arr.dtype).eps))
    flat = lax.le(lax.abs(dx), _const(dx, eps))
    f = _where(flat, f_lo, add(f_lo, multiply(true_divide(delta, _where(flat, _const(dx, 1),
                                                                         dx)), df)))
    if period is None:
        if not extrapolate["left"]:
            lo = _slice1(fp_arr, 0) if left is None else left
            f = _where(lax.lt(x_arr, _slice1(xp_arr, 0)), lo, f)
        if not extrapolate["right"]:
            hi = _slice1(fp_arr, m - 1) if right is None else right
            f = _where(lax.gt(x_arr, _slice1(xp_arr, m - 1)), hi, f)
    return f


def _slice1(x: Any, i: int) -> Any:
    """x[i] of a 1-d x, as a 0-d array."""
    return lax.reshape(lax.slice_in_dim(x, i, i + 1, 1, 0), ())


def _conv1d(fun: str, a: ArrayLike, v: ArrayLike, mode: str, precision: Any,
            preferred_element_type: Any) -> Any:
    check_arraylike(_name(fun), a, v)
    if _aval(a).ndim != 1 or _aval(v).ndim != 1:
        raise ValueError(f"{_name(fun)} only supports 1-d inputs, got shapes "
                         f"{_aval(a).shape} and {_aval(v).shape}")
    if preferred_element_type is None:
        x, y = promote_dtypes_inexact(a, v)
    else:
        x, y = promote_dtypes(a, v)
    if x.shape[0] == 0 or y.shape[0] == 0:
        raise ValueError(f"{_name(fun)}: inputs cannot be empty, got shapes {x.shape} and "
                         f"{y.shape}")
    flip_out = False
    if fun == "correlate":
        y = conjugate(y)
        if x.shape[0] < y.shape[0]:
            x, y, flip_out = y, x, True
    else:
        if x.shape[0] < y.shape[0]:
            x, y = y, x
        y = lax.rev(y, (0,))
    k = y.shape[0]
    if mode == "valid":
        padding = [(0, 0)]
    elif mode == "same":
        padding = [(k // 2, k - k // 2 - 1)]
    elif mode == "full":
        padding = [(k - 1, k - 1)]
    else:
        raise ValueError(f"{_name(fun)}: mode must be 'full', 'same' or 'valid', got {mode!r}")
    out = lax.conv_general_dilated(lax.reshape(x, (1, 1, x.shape[0])),
                                   lax.reshape(y, (1, 1, k)), (1,), padding,
                                   precision=precision,
                                   preferred_element_type=preferred_element_type)
    out = lax.reshape(out, (out.shape[-1],))
    return lax.rev(out, (0,)) if flip_out else out


def convolve(a: ArrayLike, v: ArrayLike, mode: str = "full", *, precision: Any = None,
             preferred_element_type: Any = None) -> Any:
    """Discrete linear convolution of two 1-d arrays (jax.numpy.convolve).

    Args:
        a: a 1-d array.
        v: a 1-d array.
        mode: 'full' (length n+m-1), 'same' (length max(n, m)) or 'valid'
            (length max(n, m) - min(n, m) + 1).
        precision: passed to `lax.conv_general_dilated`.
        preferred_element_type: the accumulation/result dtype (then no inexact promotion).

    Returns:
        The 1-d convolution.
    """
    return _conv1d("convolve", a, v, mode, precision, preferred_element_type)


def correlate(a: ArrayLike, v: ArrayLike, mode: str = "valid", *, precision: Any = None,
              preferred_element_type: Any = None) -> Any:
    """Cross-correlation of two 1-d arrays, `sum_n a[n + k] * conj(v[n])`
    (jax.numpy.correlate).

    Args:
        a: a 1-d array.
        v: a 1-d array.
        mode: 'valid' (default), 'same' or 'full'; see `convolve`.
        precision: passed to `lax.conv_general_dilated`.
        preferred_element_type: the accumulation/result dtype (then no inexact promotion).

    Returns:
        The 1-d correlation.
    """
    return _conv1d("correlate", a, v, mode, precision, preferred_element_type)


def trapezoid(y: ArrayLike, x: ArrayLike | None = None, dx: ArrayLike = 1.0,
              axis: int = -1) -> Any:
    """Integral of y by the trapezoidal rule along an axis (jax.numpy.trapezoid).

    Args:
        y: the sampled values.
        x: the sample points (1-d, or y's shape); default uniform spacing `dx`.
        dx: the spacing when x is None.
        axis: the axis to integrate along.

    Returns:
        The integrals, with `axis` removed.
    """
    if x is None:
        check_arraylike(_name("trapezoid"), y, dx)
        (y_arr,) = promote_dtypes_inexact(y)
        axis = canonicalize_axis(operator_index(axis), y_arr.ndim, _name("trapezoid"))
        y_arr = _moveaxis(y_arr, axis, -1)
        last, n = y_arr.ndim - 1, y_arr.shape[-1]
        total = lax.reduce_sum(y_arr, (last,))
        if n == 0:
            return multiply(dx, total)
        ends = lax.add(lax.reshape(_slice_axis(y_arr, 0, 1, last), total.shape),
                       lax.reshape(_slice_axis(y_arr, n - 1, n, last), total.shape))
        return multiply(dx, lax.sub(total, lax.mul(ends, _const(ends, 0.5))))
    check_arraylike(_name("trapezoid"), y, x)
    y_arr, x_arr = promote_dtypes_inexact(y, x)
    axis = canonicalize_axis(operator_index(axis), y_arr.ndim, _name("trapezoid"))
    if x_arr.ndim == 1:
        d = diff(x_arr)
    else:
        d = _moveaxis(diff(x_arr, axis=axis), axis, -1)
    y_arr = _moveaxis(y_arr, axis, -1)
    mid = multiply(d, lax.add(_slice_axis(y_arr, 1, None, y_arr.ndim - 1),
                              _slice_axis(y_arr, None, -1, y_arr.ndim - 1)))
    return lax.mul(lax.reduce_sum(mid, (mid.ndim - 1,)), _const(mid, 0.5))


def unwrap(p: ArrayLike, discont: ArrayLike | None = None, axis: int = -1,
           period: ArrayLike = 2 * np.pi) -> Any:
    """Remove jumps larger than `discont` by adding multiples of `period`
    (jax.numpy.unwrap).

    Args:
        p: the phases.
        discont: the largest jump left alone (default period / 2).
        axis: the axis along which to unwrap.
        period: the period of the phase.

    Returns:
        The unwrapped phases, with p's shape.
    """
    check_arraylike(_name("unwrap"), p, period)
    p, period = promote_dtypes(p, period)
    if dtypes.is_complex(p.dtype):
        raise ValueError(f"{_name('unwrap')} does not support complex inputs")
    axis = canonicalize_axis(operator_index(axis), p.ndim, _name("unwrap"))
    if p.shape[axis] == 0:
        return p
    if discont is None:
        discont = true_divide(period, 2)
    interval = floor_divide(period, 2) if _is_int(p.dtype) else true_divide(period, 2)
    dd = diff(p, axis=axis)
    ddmod = subtract(remainder(add(dd, interval), period), interval)
    ddmod = _where(logical_and(equal(ddmod, negative(interval)), greater(dd, 0)),
                   interval, ddmod)
    correct = _where(less(absolute(dd), discont), 0, subtract(ddmod, dd))
    rest = add(_slice_axis(p, 1, None, axis), lax.cumsum(correct, axis))
    first = _slice_axis(p, 0, 1, axis)
    first, rest = promote_dtypes(first, rest)
    return lax.concatenate([first, rest], axis)
