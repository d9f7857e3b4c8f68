"""Exponentials, logarithms, trigonometric and hyperbolic functions of lamina.numpy
(`exp`, `log2`, `logaddexp`, `arctan2`, `hypot`, `sinc`, `i0`...) and complex-number
parts (`real`, `imag`, `conjugate`, `angle`...); split from `ufuncs`, which keeps the
promotion helpers and the factories they are made with.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from lamina import dtypes, lax
from lamina.backend.array import scalar_to_device
from lamina.numpy._lax_helpers import _full, _isnan
from lamina.numpy._util import ArrayLike
from lamina.numpy.ufuncs import (
    _alias, _binary, _const, _convert, _name, _promote_inexact, _to_array, _unary,
    _where, remainder,
)

__all__ = [
    "exp", "exp2", "expm1", "log", "log2", "log10", "log1p", "logaddexp", "logaddexp2",
    "sin", "cos", "tan", "arcsin", "asin", "arccos", "acos", "arctan", "atan",
    "arctan2", "atan2", "sinh", "cosh", "tanh", "arcsinh", "asinh", "arccosh", "acosh",
    "arctanh", "atanh", "hypot", "deg2rad", "rad2deg", "degrees", "radians", "sinc",
    "i0",
    # complex numbers
    "real", "imag", "conj", "conjugate", "angle", "isreal", "iscomplex",
]


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
    if x.dtype in (dtypes.float16, dtypes.bfloat16):
        # NOTE: in float32: exp(|x|) alone overflows float16 from |x| ~ 11.1, where I0
        # itself (~8e3 at 11) does not.
        return _convert(_i0_custom(_convert(x, dtypes.float32, x.weak_type)), x.dtype,
                        x.weak_type)
    return _i0_custom(x)


def _i0_impl(x: Any) -> Any:
    # NOTE: exp(|x|) times the scaled function, whose lax primitive carries the
    # Chebyshev series.
    return lax.mul(lax.exp(lax.abs(x)), lax.bessel_i0e(x))


def _make_i0_custom() -> Any:
    from lamina.custom_derivatives import custom_jvp
    fn = custom_jvp(_i0_impl)
    # NOTE: I0' = I1 = exp(|x|) i1e(x), exactly 0 at x = 0 (differentiating the product
    # above would meet abs's and sign's kinks there), as jax.
    fn.defjvps(lambda g, ans, x: lax.mul(g, lax.mul(lax.exp(lax.abs(x)), lax.bessel_i1e(x))))
    return fn


_i0_custom = _make_i0_custom()


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
