"""The standard normal distribution function `ndtr`, its inverse `ndtri` and its
logarithm `log_ndtr`, for float32 and float64 (other dtypes raise TypeError, as jax).

`ndtri` uses the rational approximations of Cephes' `ndtri.c` (S. L. Moshier; three
regions: |p - 1/2| small, p > exp(-32) and the far tail). `log_ndtr` switches, as jax,
between `log(ndtr(x))`, `-ndtr(-x)` for large x and an asymptotic series for very
negative x, so that it stays finite and accurate far into both tails.
"""
from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np

import lamina.numpy as lnp
from lamina import lax
from lamina.custom_derivatives import custom_jvp

__all__ = ["log_ndtr", "ndtr", "ndtri"]

# Cephes ndtri.c: x = w + w^3 P0(w^2)/Q0(w^2) (times sqrt(2 pi)) for p > exp(-2) ...
_P0 = (-5.99633501014107895267E1, 9.80010754185999661536E1, -5.66762857469070293439E1,
       1.39312609387279679503E1, -1.23916583867381258016E0)
_Q0 = (1.0, 1.95448858338141759834E0, 4.67627912898881538453E0, 8.63602421390890590575E1,
       -2.25462687854119370527E2, 2.00260212380060660359E2, -8.20372256168333339912E1,
       1.59056225126211695515E1, -1.18331621121330003142E0)
# ... and x = z - log(z)/z - P(1/z)/(z Q(1/z)), z = sqrt(-2 log p), for 2 <= z < 8 ...
_P1 = (4.05544892305962419923E0, 3.15251094599893866154E1, 5.71628192246421288162E1,
       4.40805073893200834700E1, 1.46849561928858024014E1, 2.18663306850790267539E0,
       -1.40256079171354495875E-1, -3.50424626827848203418E-2, -8.57456785154685413611E-4)
_Q1 = (1.0, 1.57799883256466749731E1, 4.53907635128879210584E1, 4.13172038254672030440E1,
       1.50425385692907503408E1, 2.50464946208309415979E0, -1.42182922854787788574E-1,
       -3.80806407691578277194E-2, -9.33259480895457427372E-4)
# ... and z >= 8 (p < exp(-32)).
_P2 = (3.23774891776946035970E0, 6.91522889068984211695E0, 3.93881025292474443415E0,
       1.33303460815807542389E0, 2.01485389549179081538E-1, 1.23716634817820021358E-2,
       3.01581553508235416007E-4, 2.65806974686737550832E-6, 6.23974539184983293730E-9)
_Q2 = (1.0, 6.02427039364742014255E0, 3.67983563856160859403E0, 1.37702099489081330271E0,
       2.16236993594496635890E-1, 1.34204006088543189037E-2, 3.28014464682127739104E-4,
       2.89247864745380683936E-6, 6.79019408009981274425E-9)

# log_ndtr's segments: below `lower` the asymptotic series, above `upper` -ndtr(-x),
# log(ndtr(x)) between (where ndtr has full relative precision).
_LOG_NDTR_SEGMENTS = {np.dtype(np.float32): (-10.0, 5.0),
                      np.dtype(np.float64): (-20.0, 8.0)}
_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)


def _float_operand(name: str, x: Any) -> Any:
    x = lnp.asarray(x)
    if x.dtype not in (np.float32, np.float64):
        raise TypeError(f"lamina.scipy.special.{name}: x.dtype={x.dtype} is not "
                        "supported; expected float32 or float64 (cast integers first)")
    return x


def _const(x: Any, value: float) -> Any:
    """A strongly typed scalar of `x`'s dtype (jax's numpy-scalar constants)."""
    return lnp.asarray(np.asarray(value, x.dtype))


def _polyval(coefficients: tuple[float, ...], x: Any) -> Any:
    y = lnp.zeros_like(x)
    for c in coefficients:
        y = y * x + _const(x, c)
    return y


def _ndtr(x: Any) -> Any:
    half_sqrt_2 = _const(x, 0.5 * np.sqrt(np.asarray(2.0, x.dtype)))
    w = x * half_sqrt_2
    z = lnp.abs(w)
    one, two = _const(x, 1.0), _const(x, 2.0)
    tails = lnp.where(w > _const(x, 0.0), two - lax.erfc(z), lax.erfc(z))
    return _const(x, 0.5) * lnp.where(z < half_sqrt_2, one + lax.erf(w), tails)


def ndtr(x: Any) -> Any:
    """The standard normal CDF, `(1 + erf(x / sqrt(2))) / 2`, accurate in the left tail.

    Args:
      x: float32 or float64 array.

    Returns:
      `P[N(0, 1) < x]` with `x`'s dtype.

    Raises:
      TypeError: for other dtypes.

    >>> import lamina.numpy as lnp
    >>> ndtr(lnp.array([-1., 0., 1.]))
    Array([0.15865527, 0.5       , 0.8413447 ], dtype=float32)
    """
    return _ndtr(_float_operand("ndtr", x))


def ndtri(p: Any) -> Any:
    """The inverse of `ndtr`: `x` with `ndtr(x) == p`; -inf at 0, inf at 1, NaN outside.

    Args:
      p: float32 or float64 probabilities.

    Returns:
      The standard normal quantiles, with `p`'s dtype.

    Raises:
      TypeError: for other dtypes.

    >>> import lamina.numpy as lnp
    >>> ndtri(lnp.array([0.5, 0.975]))
    Array([0.       , 1.9599644], dtype=float32)
    """
    p = _float_operand("ndtri", p)
    c = lambda v: _const(p, v)  # noqa: E731
    # Work with the smaller of p and 1 - p; 0 is replaced by a harmless value (its
    # result is set to -inf below) so that no branch produces NaN.
    q = lnp.where(p > c(-np.expm1(-2.0)), c(1.0) - p, p)
    q = lnp.where(q == c(0.0), lnp.full_like(p, 0.5), q)
    w = q - c(0.5)
    ww = lax.square(w)
    x_center = w + w * ww * (_polyval(_P0, ww) / _polyval(_Q0, ww))
    x_center = x_center * -c(np.sqrt(2 * np.pi))
    z = lax.sqrt(c(-2.0) * lnp.log(q))
    head = z - lnp.log(z) / z
    rz = 1 / z
    x_far = head - _polyval(_P2, rz) / _polyval(_Q2, rz) / z
    x_mid = head - _polyval(_P1, rz) / _polyval(_Q1, rz) / z
    x = lnp.where(q > c(np.exp(-2.0)), x_center, lnp.where(z >= c(8.0), x_far, x_mid))
    x = lnp.where(p > c(1.0 - np.exp(-2.0)), x, -x)
    inf = lnp.full_like(p, np.inf)
    return lnp.where(p == c(0.0), -inf, lnp.where(p == c(1.0), inf, x))


def _log_ndtr_series(x: Any, series_order: int) -> Any:
    """`1 + sum_n (-1)^n (2n-1)!! / x^(2n)`: the asymptotic factor of log_ndtr's left
    tail, with the odd and even terms summed apart."""
    if series_order <= 0:
        return _const(x, 1.0)
    x2 = lax.square(x)
    even, odd = lnp.zeros_like(x), lnp.zeros_like(x)
    x2n = x2
    for n in range(1, series_order + 1):
        # NOTE: (2n - 1)!! exactly (jax's int64 product wraps from n = 18 on); it
        # rounds to inf in float32 from n = 22, where the series is useless anyway.
        with np.errstate(over="ignore"):
            coefficient = np.asarray(float(math.prod(range(2 * n - 1, 1, -2))), x.dtype)
        term = lnp.asarray(coefficient) / x2n
        if n % 2:
            odd = odd + term
        else:
            even = even + term
        x2n = x2n * x2
    return _const(x, 1.0) + even - odd


def _log_ndtr_lower(x: Any, series_order: int) -> Any:
    log_scale = (-_const(x, 0.5) * lax.square(x) - lnp.log(-x)
                 - _const(x, _HALF_LOG_2PI))
    return log_scale + lnp.log(_log_ndtr_series(x, series_order))


def _log_ndtr_impl(x: Any, series_order: int) -> Any:
    lower, upper = (_const(x, v) for v in _LOG_NDTR_SEGMENTS[x.dtype])
    above = x > upper
    # NOTE: clamping each branch's input to its own segment keeps the unused branches
    # finite, so that their (masked) derivatives do not turn into NaN.
    y = _ndtr(lnp.where(above, -x, lnp.maximum(x, lower)))
    return lnp.where(above, -y, lnp.where(x > lower, lnp.log(y),
                                          _log_ndtr_lower(lnp.minimum(x, lower),
                                                          series_order)))


@functools.partial(custom_jvp, nondiff_argnums=(0,))
def _log_ndtr(series_order: int, x: Any) -> Any:
    return _log_ndtr_impl(x, series_order)


@_log_ndtr.defjvp
def _log_ndtr_jvp(series_order: int, primals: tuple, tangents: tuple) -> tuple:
    (x,), (t,) = primals, tangents
    out = _log_ndtr(series_order, x)
    # d/dx log Phi(x) = phi(x) / Phi(x), formed in log space so that it stays finite.
    log_pdf = -_const(x, 0.5) * lax.square(x) - _const(x, _HALF_LOG_2PI)
    return out, t * lnp.exp(log_pdf - out)


def log_ndtr(x: Any, series_order: int = 3) -> Any:
    """`log(ndtr(x))`, accurate far into both tails.

    Args:
      x: float32 or float64 array.
      series_order: terms of the asymptotic series used for very negative `x`
        (a Python int in [0, 30]).

    Returns:
      `log P[N(0, 1) < x]` with `x`'s dtype; the derivative is `pdf(x) / cdf(x)`.

    Raises:
      TypeError: for other dtypes or a non-int `series_order`.
      ValueError: if `series_order` is outside [0, 30].

    >>> import lamina.numpy as lnp
    >>> log_ndtr(lnp.array([-20., 0.]))
    Array([-203.91716  ,   -0.6931472], dtype=float32)
    """
    if not isinstance(series_order, int):
        raise TypeError("lamina.scipy.special.log_ndtr: series_order must be a Python "
                        f"integer, got {series_order!r}")
    if series_order < 0:
        raise ValueError("lamina.scipy.special.log_ndtr: series_order must be "
                         f"non-negative, got {series_order}")
    if series_order > 30:
        raise ValueError(f"lamina.scipy.special.log_ndtr: series_order must be <= 30, "
                         f"got {series_order}")
    return _log_ndtr(series_order, _float_operand("log_ndtr", x))
