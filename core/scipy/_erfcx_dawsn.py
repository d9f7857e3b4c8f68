"""The scaled complementary error function `erfcx(x) = exp(x**2) erfc(x)` and Dawson's
integral `dawsn(x) = exp(-x**2) integral_0^x exp(t**2) dt`, for real `x`, by jax's
algorithms (so values match jax's): `erfcx` multiplies out `exp(x**2) erfc(x)` until
`exp(x**2)` would overflow and then sums its asymptotic series; `dawsn` evaluates Cody,
Paciorek and Thacher's (1970) rational approximations on three intervals of `|x|`.
Both carry jax's analytic derivatives as custom JVPs. float16 and bfloat16 are computed
in float32.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

import lamina.numpy as lnp
from lamina import dtypes, lax
from lamina.custom_derivatives import custom_jvp
from lamina.numpy._util import promote_args_inexact

__all__ = ["dawsn", "erfcx"]


def _real(name: str, x: Any) -> Any:
    x, = promote_args_inexact(name, x)
    if dtypes.is_complex(x.dtype):
        raise ValueError(f"lamina.scipy.special.{name} does not support complex "
                         f"inputs, got {x.dtype}")
    return x


def _in_float32_at_least(impl: Any, x: Any) -> Any:
    if x.dtype in (np.dtype(np.float32), np.dtype(np.float64)):
        return impl(x)
    return impl(x.astype(np.float32)).astype(x.dtype)


# Asymptotic series erfcx(x) ~ sum_k c_k x**(-2k) / (x sqrt(pi)),
# c_k = (-1)^k (2k-1)!! / 2^k,
# highest power first; float64 keeps 9 terms, float32 5 (the first omitted term is far
# below epsilon at the switch-over points, ~26.6 and ~9.4).
_ERFCX_SERIES = [(-1) ** k * math.prod(range(1, 2 * k, 2)) / 2 ** k
                 for k in range(8, -1, -1)]


def _erfcx_impl(x: Any) -> Any:
    dtype = x.dtype
    c = lambda v: np.asarray(v, dtype)  # noqa: E731
    nterms = 9 if dtype == np.float64 else 5
    large = x > c(math.sqrt(math.log(np.finfo(dtype).max)))
    safe_x = lnp.where(large, c(1.0), x)
    direct = lax.exp(safe_x * safe_x) * lax.erfc(safe_x)
    t = c(1.0) / (x * x)
    series = lnp.polyval(np.asarray(_ERFCX_SERIES[-nterms:], dtype), t)
    asymptotic = series / (x * c(math.sqrt(math.pi)))
    return lnp.where(large, asymptotic, direct)


@custom_jvp
def _erfcx(x: Any) -> Any:
    return _in_float32_at_least(_erfcx_impl, x)


_erfcx.defjvps(lambda g, ans, x: g * (2 * x * ans - 2 / math.sqrt(math.pi)))


def erfcx(x: Any) -> Any:
    """The scaled complementary error function `exp(x**2) erfc(x)`, finite for large `x`
    (where it decays like `1 / (x sqrt(pi))`).

    Derivative: `2 x erfcx(x) - 2 / sqrt(pi)`. Complex inputs (jax's `wofz` path) are
    not supported.

    >>> import lamina.numpy as lnp
    >>> erfcx(lnp.array([0., 1., 30.]))
    Array([1.        , 0.42758363, 0.01879589], dtype=float32)
    """
    return _erfcx(_real("erfcx", x))


# Cody, Paciorek & Thacher (1970), highest power first.
# |x| < 3.25: dawsn = |x| P(x**2) / Q(x**2)
_DAWSN_P1 = [
    1.13681498971755972054e-11, 8.49262267667473811108e-10, 1.94434204175553054283e-8,
    9.53151741254484363489e-7, 3.07828309874913200438e-6, 3.52513368520288738649e-4,
    -8.50149846724410912031e-4, 4.22618223005546594270e-2, -9.17480371773452345351e-2,
    9.99999999999999994612e-1]
_DAWSN_Q1 = [
    2.40372073066762605484e-11, 1.48864681368493396752e-9, 5.21265281010541664570e-8,
    1.27258478273186970203e-6, 2.32490249820789513991e-5, 3.25524741826057911661e-4,
    3.48805814657162590916e-3, 2.79448531198828973716e-2, 1.58874241960120565368e-1,
    5.74918629489320327824e-1, 1.00000000000000000539e0]
# 3.25 <= |x| < 6.25, and |x| >= 6.25: dawsn = (1 + t P(t) / Q(t)) / (2 |x|), t = x**-2
_DAWSN_P2 = [
    5.08955156417900903354e-1, -2.44754418142697847934e-1, 9.41512335303534411857e-2,
    -2.18711255142039025206e-2, 3.66207612329569181322e-3, -4.23209114460388756528e-4,
    3.59641304793896631888e-5, -2.14640351719968974225e-6, 9.10010780076391431042e-8,
    -2.40274520828250956942e-9, 3.59233385440928410398e-11]
_DAWSN_Q2 = [
    1.00000000000000000000e0, -6.31839869873368190192e-1, 2.36706788228248691528e-1,
    -5.31806367003223277662e-2, 8.48041718586295374409e-3, -9.47996768486665330168e-4,
    7.81025592944552338085e-5, -4.55875153252442634831e-6, 1.89100358111421846170e-7,
    -4.91324691331920606875e-9, 7.18466403235734541950e-11]
_DAWSN_P3 = [
    -5.90592860534773254987e-1, 6.29235242724368800674e-1, -1.72858975380388136411e-1,
    1.64837047825189632310e-2, -4.86827613020462700845e-4]
_DAWSN_Q3 = [
    1.00000000000000000000e0, -2.69820057197544900361e0, 1.73270799045947845857e0,
    -3.93708582281939493482e-1, 3.44278924041233391079e-2, -9.73655226040941223894e-4]


def _dawsn_impl(x: Any) -> Any:
    dtype = x.dtype
    c = lambda v: np.asarray(v, dtype)  # noqa: E731
    poly = lambda coeffs, v: lnp.polyval(np.asarray(coeffs, dtype), v)  # noqa: E731
    ax = lax.abs(x)
    t = c(1.0) / (ax * ax)
    one_ax, one_t = lnp.ones_like(ax), lnp.ones_like(t)
    # NOTE: each interval sees 1 outside itself, so that an overflowing polynomial in
    # an unused interval (inf / inf) cannot leave a NaN behind.
    in1 = ax < c(3.25)
    ax1 = lnp.where(in1, ax, one_ax)
    x2 = ax1 * ax1
    val1 = ax1 * poly(_DAWSN_P1, x2) / poly(_DAWSN_Q1, x2)
    in2 = (ax >= c(3.25)) & (ax < c(6.25))
    t2, ax2 = lnp.where(in2, t, one_t), lnp.where(in2, ax, one_ax)
    val2 = (c(0.5) / ax2) * (c(1.0) + t2 * poly(_DAWSN_P2, t2) / poly(_DAWSN_Q2, t2))
    in3 = ax >= c(6.25)
    t3, ax3 = lnp.where(in3, t, one_t), lnp.where(in3, ax, one_ax)
    val3 = (c(0.5) / ax3) * (c(1.0) + t3 * poly(_DAWSN_P3, t3) / poly(_DAWSN_Q3, t3))
    value = lnp.where(in1, val1, lnp.where(ax < c(6.25), val2, val3))
    return lnp.sign(x) * value  # odd; sign(0) = 0 is right since dawsn(0) = 0


@custom_jvp
def _dawsn(x: Any) -> Any:
    return _in_float32_at_least(_dawsn_impl, x)


_dawsn.defjvps(lambda g, ans, x: g * (1 - 2 * x * ans))


def dawsn(x: Any) -> Any:
    """Dawson's integral `exp(-x**2) integral_0^x exp(t**2) dt`, odd in `x`, real only.

    Derivative: `1 - 2 x dawsn(x)`.

    Raises:
      ValueError: for complex inputs, as in jax.

    >>> import lamina.numpy as lnp
    >>> dawsn(lnp.array([0., 1., 10.]))
    Array([0.        , 0.5380795 , 0.05025385], dtype=float32)
    """
    return _dawsn(_real("dawsn", x))
