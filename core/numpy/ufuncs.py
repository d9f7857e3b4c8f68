"""Elementwise functions of lamina.numpy: the arithmetic ufuncs (`add`, `floor_divide`,
`remainder`, `power`...), plus the promotion helpers and the factories that every
elementwise module builds its functions with.

The other ufunc families live in `math_funcs` (exponentials, logarithms, trigonometry,
complex-number parts), `rounding` (rounding and floating-point structure), `logic`
(comparison, selection, logical and bitwise) and `differences` (`diff`, `gradient`,
`interp`, `convolve`...).

Every function promotes its arguments as jax.numpy does (JAX's lattice with weak
Python scalars, 32-bit defaults), broadcasts them with NumPy's rule, and is a
composition of `lamina.lax` operations. Most are one line made by a small factory;
the functions whose semantics need more (integer floor division, Python-style
remainder, `power` with a static integer exponent...) are written out. Where jax's
composition decides a result's weak type (e.g. `log2` of a Python float is strongly
typed), these modules follow jax.
"""
from __future__ import annotations

import builtins
import inspect
import operator
from typing import Any, Callable

import numpy as np

from lamina import dtypes, lax
from lamina.backend.array import Array, scalar_to_device
from lamina.interpreters.eval import eager_binary
from lamina.ir import Tracer
from lamina.lax import elementwise as _lax_elementwise
from lamina.numpy._util import (
    ArrayLike,
    asarray,
    broadcast_shapes,
    broadcast_to_shape,
    check_arraylike,
    promote_dtypes,
    promote_shapes,
)

__all__ = [
    # arithmetic
    "abs", "absolute", "fabs", "negative", "positive", "sign", "add", "subtract",
    "multiply", "divide", "true_divide", "floor_divide", "remainder", "mod", "fmod",
    "divmod", "power", "pow", "float_power", "square", "sqrt", "cbrt", "reciprocal",
]


# --------------------------------------------------------------------------------------
# Private helpers (the other elementwise modules and reductions.py use them too)
# --------------------------------------------------------------------------------------


def _name(fun: str) -> str:
    return f"lamina.numpy.{fun}"


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


def _moveaxis(x: Any, source: int, destination: int) -> Any:
    destination %= builtins.max(x.ndim, 1)
    if source == destination:
        return x
    perm = [i for i in range(x.ndim) if i != source]
    perm.insert(destination, source)
    return lax.transpose(x, tuple(perm))


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
