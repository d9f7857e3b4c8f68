"""lamina.scipy.special: `jax.scipy.special`'s names, signatures and semantics.

Every function promotes its arguments as jax does (integers and bools become the default
float dtype, Python scalars stay weakly typed) and is built from `lamina.numpy` and
`lamina.lax`, so `jit`, `vmap` and `grad` apply. Where the naive derivative is NaN or
inaccurate (`xlogy` at 0, `logit`, `log_ndtr` in the tails, `i0e`/`i1e`), or where
jax defines its own (`zeta`, by a series expansion), a custom JVP gives jax's
derivative.

>>> import lamina.numpy as lnp
>>> from lamina.scipy import special
>>> special.xlogy(lnp.array([0., 2.]), lnp.array([0., 1.]))
Array([0., 0.], dtype=float32)
"""
from __future__ import annotations

import functools
import math
import operator
from fractions import Fraction
from typing import Any

import numpy as np

import lamina.numpy as lnp
from lamina import dtypes, lax
from lamina._api_ad import jvp
from lamina._api_batching import vmap
from lamina._api_jit import jit
from lamina.custom_derivatives import custom_jvp
from lamina.numpy._util import promote_args_inexact
from lamina.scipy import _softmax
from lamina.scipy._erfcx_dawsn import dawsn as dawsn, erfcx as erfcx
from lamina.scipy._exponential_integrals import (
    exp1 as exp1, expi as expi, expn as expn, spence as spence)
from lamina.scipy._bessel import i0 as i0, i0e as i0e, i1 as i1, i1e as i1e
from lamina.scipy._fresnel_sici import fresnel as fresnel, sici as sici
from lamina.scipy._hypergeometric import hyp1f1 as hyp1f1, hyp2f1 as hyp2f1
from lamina.scipy._normal import log_ndtr as log_ndtr, ndtr as ndtr, ndtri as ndtri
from lamina.scipy._owens_t import owens_t as owens_t
from lamina.scipy._softmax import logsumexp as logsumexp

__all__ = [
    "bernoulli", "bessel_jn", "beta", "betainc", "betaln", "boxcox", "boxcox1p", "comb",
    "dawsn", "digamma", "entr", "erf", "erfc", "erfcx", "erfinv", "exp1", "expi",
    "expit", "expn", "factorial", "fresnel", "gamma", "gammainc", "gammaincc",
    "gammaln", "gammasgn", "hyp1f1", "hyp2f1", "i0", "i0e", "i1", "i1e", "kl_div",
    "log_ndtr", "log_softmax", "loggamma", "logit", "logsumexp", "multigammaln", "ndtr",
    "ndtri", "owens_t", "poch", "polygamma", "rel_entr", "sici", "softmax", "spence",
    "xlog1py", "xlogy", "zeta",
]

Axis = int | tuple[int, ...] | None


def _real(name: str, *args: Any) -> list[Any]:
    out = promote_args_inexact(name, *args)
    if dtypes.is_complex(out[0].dtype):
        raise ValueError(f"lamina.scipy.special.{name} does not support complex inputs, "
                         f"got {out[0].dtype}")
    return out


# --------------------------------------------------------------------------------------
# Softmax family (one implementation, shared with lamina.nn)
# --------------------------------------------------------------------------------------


def softmax(x: Any, /, *, axis: Axis = None) -> Any:
    """`exp(x) / sum(exp(x))` over `axis` (all axes by default, unlike `nn.softmax`).

    A `+inf` entry makes the whole slice NaN (inf / inf), as in jax.

    >>> import lamina.numpy as lnp
    >>> softmax(lnp.array([[0., 0.], [0., 0.]]))
    Array([[0.25, 0.25],
           [0.25, 0.25]], dtype=float32)
    """
    return _softmax.softmax(x, axis=axis)


def log_softmax(x: Any, /, *, axis: Axis = None) -> Any:
    """`x - logsumexp(x)` over `axis` (all axes by default), computed stably.

    >>> import lamina.numpy as lnp
    >>> log_softmax(lnp.array([0., 0.]))
    Array([-0.6931472, -0.6931472], dtype=float32)
    """
    return _softmax.log_softmax(x, axis=axis)


# --------------------------------------------------------------------------------------
# Logistic function and logs that are 0 where their factor is 0
# --------------------------------------------------------------------------------------


def expit(x: Any) -> Any:
    """The logistic sigmoid `1 / (1 + exp(-x))`.

    >>> expit(0.)
    Array(0.5, dtype=float32, weak_type=True)
    """
    x, = promote_args_inexact("expit", x)
    return lax.logistic(x)


@custom_jvp
def _logit(x: Any) -> Any:
    return lnp.log(x / (1 - x))


_logit.defjvps(lambda g, ans, x: g / (x * (1 - x)))


def logit(x: Any) -> Any:
    """The inverse of `expit`: `log(x / (1 - x))`; derivative `1 / (x (1 - x))`.

    >>> logit(0.5)
    Array(0., dtype=float32, weak_type=True)
    """
    x, = promote_args_inexact("logit", x)
    return _logit(x)


@custom_jvp
def _xlogy(x: Any, y: Any) -> Any:
    # NOTE: a NaN y stays NaN even where x == 0, as scipy.
    return lnp.where((x != 0) | lnp.isnan(y), x * lnp.log(y), lnp.zeros_like(x))


@_xlogy.defjvp
def _xlogy_jvp(primals: tuple, tangents: tuple) -> tuple:
    (x, y), (x_dot, y_dot) = primals, tangents
    out = _xlogy(x, y)
    return out, (x_dot * lnp.log(y) + y_dot * x / y).astype(out.dtype)


def xlogy(x: Any, y: Any) -> Any:
    """`x * log(y)`, and 0 where `x == 0` (even for `y == 0`), unless `y` is NaN.

    The derivative is `(log(y), x / y)` (jax's rule): finite in `y` at `x == 0`.

    >>> xlogy(0., 0.)
    Array(0., dtype=float32, weak_type=True)
    """
    x, y = promote_args_inexact("xlogy", x, y)
    return _xlogy(x, y)


@custom_jvp
def _xlog1py(x: Any, y: Any) -> Any:
    return lnp.where((x != 0) | lnp.isnan(y), x * lnp.log1p(y), lnp.zeros_like(x))


@_xlog1py.defjvp
def _xlog1py_jvp(primals: tuple, tangents: tuple) -> tuple:
    (x, y), (x_dot, y_dot) = primals, tangents
    out = _xlog1py(x, y)
    return out, (x_dot * lnp.log1p(y) + y_dot * x / (1 + y)).astype(out.dtype)


def xlog1py(x: Any, y: Any) -> Any:
    """`x * log1p(y)`, and 0 where `x == 0` (even for `y == -1`), unless `y` is NaN.

    >>> xlog1py(0., -1.)
    Array(0., dtype=float32, weak_type=True)
    """
    x, y = promote_args_inexact("xlog1py", x, y)
    return _xlog1py(x, y)


@custom_jvp
def _xlogx(x: Any) -> Any:
    return _xlogy(x, x)


_xlogx.defjvps(lambda g, ans, x: g * (lnp.log(x) + 1))


def entr(x: Any) -> Any:
    """Elementwise entropy `-x log(x)`: 0 at 0, -inf for negative `x`.

    >>> entr(0.5)
    Array(0.3465736, dtype=float32, weak_type=True)
    """
    x, = _real("entr", x)
    return lax.select(x < 0, lax.full_like(x, -np.inf), -_xlogx(x))


def rel_entr(p: Any, q: Any) -> Any:
    """Elementwise relative entropy: `p log(p / q)` for `p, q > 0`, 0 for `p == 0` and
    `q >= 0`, inf otherwise.

    >>> rel_entr(1., 2.)
    Array(-0.6931472, dtype=float32, weak_type=True)
    """
    p, q = _real("rel_entr", p, q)
    both_positive = (p > 0) & (q > 0)
    p_is_zero = (p == 0) & (q >= 0)
    safe_p = lnp.where(both_positive, p, 1)
    safe_q = lnp.where(both_positive, q, 1)
    log_val = _xlogx(safe_p) - xlogy(safe_p, safe_q)
    zero = lnp.zeros_like(p)
    return lnp.where(both_positive, log_val, lnp.where(p_is_zero, zero, np.inf))


def kl_div(p: Any, q: Any) -> Any:
    """Elementwise Kullback-Leibler term `rel_entr(p, q) - p + q` (scipy's `kl_div`).

    >>> kl_div(1., 1.)
    Array(0., dtype=float32, weak_type=True)
    """
    p, q = _real("kl_div", p, q)
    return rel_entr(p, q) - p + q


# --------------------------------------------------------------------------------------
# Gamma family, error functions
# --------------------------------------------------------------------------------------


def gammaln(x: Any) -> Any:
    """`log(|gamma(x)|)`.

    >>> gammaln(5.)
    Array(3.1780548, dtype=float32, weak_type=True)
    """
    x, = promote_args_inexact("gammaln", x)
    return lax.lgamma(x)


def gammasgn(x: Any) -> Any:
    """The sign of `gamma(x)`: +-1, `-1` at `-0.`, NaN at poles (non-positive integers),
    `-inf` and NaN.

    >>> import lamina.numpy as lnp
    >>> gammasgn(lnp.array([-1.5, -0.5, 0.5, -1.]))
    Array([ 1., -1.,  1., nan], dtype=float32)
    """
    x, = _real("gammasgn", x)
    floor_x = lax.floor(x)
    negative = x < 0
    nan_case = (negative & (x == floor_x)) | lnp.isnan(x)
    minus_case = (negative & (floor_x % 2 != 0)) | ((x == 0) & lnp.signbit(x))
    c = lambda v: lnp.asarray(np.asarray(v, x.dtype))  # noqa: E731
    return lnp.select([nan_case, minus_case], [c(np.nan), c(-1.0)], c(1.0))


def gamma(x: Any) -> Any:
    """The gamma function, `gammasgn(x) * exp(gammaln(x))` for real `x`.

    >>> gamma(5.)
    Array(24.000023, dtype=float32)
    """
    x, = _real("gamma", x)
    return gammasgn(x) * lnp.exp(lax.lgamma(x))


def gammainc(a: Any, x: Any) -> Any:
    """The regularized lower incomplete gamma function `P(a, x)` (`lax.igamma`):
    differentiable in both arguments.

    >>> gammainc(1., 2.)  # 1 - exp(-2)
    Array(0.8646648, dtype=float32, weak_type=True)
    """
    a, x = promote_args_inexact("gammainc", a, x)
    return lax.igamma(a, x)


def gammaincc(a: Any, x: Any) -> Any:
    """The regularized upper incomplete gamma function `Q(a, x) = 1 - P(a, x)`
    (`lax.igammac`), accurate where `P` is close to 1.

    >>> gammaincc(1., 30.)  # exp(-30)
    Array(9.3576236e-14, dtype=float32, weak_type=True)
    """
    a, x = promote_args_inexact("gammaincc", a, x)
    return lax.igammac(a, x)


def _algdiv(a: Any, b: Any) -> Any:
    """`log(gamma(b) / gamma(a + b))` for `b >= 8` (and `a <= b`), from the asymptotic
    expansion of log-gamma (DiDonato & Morris, cdflib's `algdiv`)."""
    c0, c1, c2 = 0.833333333333333e-01, -0.277777777760991e-02, 0.793650666825390e-03
    c3, c4, c5 = -0.595202931351870e-03, 0.837308034031215e-03, -0.165322962780713e-02
    h = a / b
    c = h / (1 + h)
    x = h / (1 + h)
    d = b + (a - 0.5)
    # s_n = (1 - x^n) / (1 - x), built up two powers at a time.
    x2 = x * x
    s3 = 1.0 + (x + x2)
    s5 = 1.0 + (x + x2 * s3)
    s7 = 1.0 + (x + x2 * s5)
    s9 = 1.0 + (x + x2 * s7)
    s11 = 1.0 + (x + x2 * s9)
    # w = del(b) - del(a + b), del being log-gamma's remainder after Stirling's terms.
    t = (1.0 / b) ** 2
    w = ((((c5 * s11 * t + c4 * s9) * t + c3 * s7) * t + c2 * s5) * t + c1 * s3) * t + c0
    w = w * (c / b)
    u = d * lnp.log1p(a / b)
    v = a * (lnp.log(b) - 1.0)
    return lnp.where(u <= v, (w - v) - u, (w - u) - v)


def betaln(a: Any, b: Any) -> Any:
    """`log(|beta(a, b)|)`, accurate also for large arguments (an asymptotic expansion
    replaces `lgamma(b) - lgamma(a + b)` when `max(a, b) >= 8`).

    >>> betaln(2., 3.)
    Array(-2.4849074, dtype=float32, weak_type=True)
    """
    a, b = promote_args_inexact("betaln", a, b)
    a, b = lnp.minimum(a, b), lnp.maximum(a, b)
    small_b = lax.lgamma(a) + (lax.lgamma(b) - lax.lgamma(a + b))
    large_b = lax.lgamma(a) + _algdiv(a, b)
    return lnp.where(b < 8, small_b, large_b)


def digamma(x: Any) -> Any:
    """The digamma function `d/dx log(gamma(x))`.

    >>> digamma(1.)
    Array(-0.5772154, dtype=float32, weak_type=True)
    """
    x, = promote_args_inexact("digamma", x)
    return lax.digamma(x)


def polygamma(n: Any, x: Any) -> Any:
    """The polygamma function `psi^(n)(x)`, the n-th derivative of digamma.

    Args:
      n: integer order(s), not differentiable.
      x: real array.

    Raises:
      ValueError: if `n` is not of integer dtype, or `x` is complex.

    >>> polygamma(1, 1.)
    Array(1.644934, dtype=float32, weak_type=True)
    """
    n_dtype = lnp.asarray(n).dtype if not dtypes.is_python_scalar(n) else \
        dtypes.dtype_of(n)
    if not lnp.issubdtype(n_dtype, lnp.integer):
        raise ValueError("lamina.scipy.special.polygamma: argument `n` must be of "
                         f"integer type, got dtype {n_dtype}")
    n, x = _real("polygamma", n, x)
    return lax.polygamma(n, x)


def multigammaln(a: Any, d: Any) -> Any:
    """Log of the multivariate gamma function of dimension `d`:
    `d (d - 1) / 4 log(pi) + sum_{j < d} gammaln(a - j / 2)`.

    Args:
      a: real array.
      d: the dimension, a concrete integer (not traced).

    >>> multigammaln(3., 2)
    Array(1.5501953, dtype=float32)
    """
    try:
        d = int(d)
    except Exception:
        raise TypeError("lamina.scipy.special.multigammaln: the dimension d must be a "
                        f"concrete integer (it sets a shape), got {d!r}") from None
    a, d_ = promote_args_inexact("multigammaln", a, d)
    log_pi = lnp.log(lnp.asarray(np.asarray(math.pi, a.dtype)))
    constant = 0.25 * d_ * (d_ - 1) * log_pi
    b = lnp.arange(d, dtype=d_.dtype) / 2
    terms = gammaln(lnp.expand_dims(a, -1) - lnp.expand_dims(b, tuple(range(a.ndim))))
    return lnp.sum(terms, axis=-1) + constant


def erf(x: Any) -> Any:
    """The error function `2 / sqrt(pi) * integral_0^x exp(-t^2) dt`.

    >>> erf(0.)
    Array(0., dtype=float32, weak_type=True)
    """
    x, = promote_args_inexact("erf", x)
    return lax.erf(x)


def erfc(x: Any) -> Any:
    """The complementary error function `1 - erf(x)`, accurate for large `x`.

    >>> erfc(0.)
    Array(1., dtype=float32, weak_type=True)
    """
    x, = promote_args_inexact("erfc", x)
    return lax.erfc(x)


def erfinv(x: Any) -> Any:
    """The inverse of `erf` on (-1, 1); +-inf at +-1.

    >>> erfinv(0.)
    Array(0., dtype=float32, weak_type=True)
    """
    x, = promote_args_inexact("erfinv", x)
    return lax.erf_inv(x)


# --------------------------------------------------------------------------------------
# Beta family, Hurwitz zeta
# --------------------------------------------------------------------------------------


def beta(a: Any, b: Any) -> Any:
    """The beta function `B(a, b) = gamma(a) gamma(b) / gamma(a + b)`, computed as
    `exp(betaln(a, b))` with the sign of the three gammas.

    >>> beta(2., 3.)  # 1/12
    Array(0.08333327, dtype=float32)
    """
    a, b = _real("beta", a, b)
    sign = gammasgn(a) * gammasgn(b) * gammasgn(a + b)
    return sign * lax.exp(betaln(a, b))


def betainc(a: Any, b: Any, x: Any) -> Any:
    """The regularized incomplete beta function `I_x(a, b)`, the integral of
    `t**(a-1) (1-t)**(b-1)` over `[0, x]` divided by `beta(a, b)` (`lax.betainc`).

    Differentiable in `x` only, as in jax; a derivative in `a` or `b` raises ValueError.

    >>> betainc(2., 3., 0.5)  # 11/16
    Array(0.6874998, dtype=float32, weak_type=True)
    """
    a, b, x = _real("betainc", a, b, x)
    return lax.betainc(a, b, x)


def _bernoulli_ratios(count: int) -> list[float]:
    """`(2k)! / B_2k` for k = 1..count (B_n: the Bernoulli numbers), rounded to float64:
    the divisors of the Euler-Maclaurin correction terms."""
    bern = [Fraction(1)]
    for n in range(1, 2 * count + 1):  # sum_{j <= n} C(n + 1, j) B_j = 0
        bern.append(-sum(math.comb(n + 1, j) * bern[j] for j in range(n)) / (n + 1))
    return [float(math.factorial(2 * k) / bern[2 * k]) for k in range(1, count + 1)]


_ZETA_DIVISORS = _bernoulli_ratios(16)


def _zeta_series(s: Any, q: Any) -> Any:
    """Hurwitz zeta by Euler-Maclaurin summation (Johansson 2015, eq. 5): the first N
    terms, the tail's integral and N correction terms (N = 8 in float32, else 16).
    jax differentiates this to get zeta's derivatives, in both arguments."""
    dtype = s.dtype
    n = 8 if dtype == dtypes.float32 else 16
    c = lambda v: np.asarray(v, dtype)  # noqa: E731  (typed, non-weak constants)
    s_, q_ = lnp.expand_dims(s, -1), lnp.expand_dims(q, -1)
    head = lnp.sum((q_ + np.arange(n, dtype=dtype)) ** -s_, -1)
    q_n = q + c(n)
    integral = lax.div(q_n ** (c(1) - s), s - c(1))
    # Rising products s (s+1) ... (s+2j) / (q+N)^(2j+1), one per correction term
    ratios = (s_ + np.arange(2 * n, dtype=dtype)) / (q_ + c(n))
    rising = lnp.cumprod(ratios, -1)[..., ::2]
    rising = lnp.clip(rising, max=np.finfo(dtype).max)
    corrections = lnp.sum(rising / np.asarray(_ZETA_DIVISORS[:n], dtype), -1)
    return head + integral + q_n ** -s * (c(0.5) + corrections)


@custom_jvp
def _zeta(x: Any, q: Any) -> Any:
    return lax.zeta(x, q)


@_zeta.defjvp
def _zeta_jvp(primals: tuple, tangents: tuple) -> tuple:
    # NOTE: as in jax, the series gives both the tangent and the primal output here.
    return jvp(_zeta_series, primals, tangents)


def zeta(x: Any, q: Any = None) -> Any:
    """The Hurwitz zeta function `zeta(x, q) = sum_{n >= 0} (n + q)**-x` (`lax.zeta`).

    Differentiable in both arguments by a truncated Euler-Maclaurin series, as in jax
    (whose derivatives these match, as does the primal value it reports with them).

    Raises:
      NotImplementedError: for `q=None` (the Riemann zeta function), as in jax.

    >>> zeta(2., 1.)  # pi**2 / 6
    Array(1.644934, dtype=float32, weak_type=True)
    """
    if q is None:
        raise NotImplementedError(
            "lamina.scipy.special.zeta: the Riemann zeta function (q=None) is not "
            "implemented, as in jax; pass q (q=1. gives Riemann's) to compute the "
            "Hurwitz zeta function")
    x, q = _real("zeta", x, q)
    return _zeta(x, q)


# --------------------------------------------------------------------------------------
# Factorials, binomials, Pochhammer, real log-gamma, Box-Cox, Bernoulli numbers
# --------------------------------------------------------------------------------------


def factorial(n: Any, exact: bool = False) -> Any:
    """`n!` as a float, `exp(lgamma(n + 1))` (so non-integers give `gamma(n + 1)`), and
    0 for negative `n`.

    Args:
      n: real array.
      exact: only `False` is supported (no arbitrary-precision integers), as in jax.

    Raises:
      NotImplementedError: for `exact=True`.

    >>> factorial(4.)
    Array(24.000023, dtype=float32, weak_type=True)
    """
    if exact:
        raise NotImplementedError("lamina.scipy.special.factorial: exact=True is not "
                                  "supported (as in jax); use exact=False")
    n, = _real("factorial", n)
    return lnp.where(n < 0, 0, lax.exp(lax.lgamma(n + 1)))


def comb(N: Any, k: Any, *, repetition: bool = False) -> Any:
    """The binomial coefficient "N choose k" as a float, from `gammaln`; 0 where
    `N < 0`, `k < 0` or (without repetition) `k > N`.

    Args:
      N: number of things (real array).
      k: number taken (real array).
      repetition: count combinations with repetition, `comb(N + k - 1, k)`.

    >>> comb(5., 2.)
    Array(9.999995, dtype=float32, weak_type=True)
    """
    N, k = _real("comb", N, k)
    if repetition:
        with_repetition = comb(N + k - 1, k, repetition=False)
        return lnp.where((k == 0) & (N >= 0), 1.0, with_repetition)
    valid = (k <= N) & (N >= 0) & (k >= 0)
    safe_N, safe_k = lnp.where(valid, N, 0.0), lnp.where(valid, k, 0.0)
    log_comb = (lax.lgamma(safe_N + 1) - lax.lgamma(safe_k + 1)
                - lax.lgamma(safe_N + 1 - safe_k))
    return lnp.where(valid, lax.exp(log_comb), 0.0)


@custom_jvp
def _poch(z: Any, m: Any) -> Any:
    one = lnp.asarray(np.asarray(1, z.dtype))
    return lnp.where(m == 0.0, one, gamma(z + m) / gamma(z))


_poch.defjvps(
    lambda z_dot, ans, z, m: ((lax.digamma(z + m) - lax.digamma(z)) * _poch(z, m)
                              * z_dot),
    lambda m_dot, ans, z, m: lax.digamma(z + m) * _poch(z, m) * m_dot,
)


def poch(z: Any, m: Any) -> Any:
    """The Pochhammer symbol (rising factorial) `(z)_m = gamma(z + m) / gamma(z)`, 1 for
    `m == 0`; real inputs only.

    Derivatives (jax's): `(digamma(z + m) - digamma(z)) poch(z, m)` in `z` and
    `digamma(z + m) poch(z, m)` in `m`.

    >>> poch(2., 3.)  # 2 * 3 * 4
    Array(24.000023, dtype=float32)
    """
    z, m = _real("poch", z, m)
    return _poch(z, m)


def loggamma(x: Any) -> Any:
    """The principal branch of `log(gamma(x))`: for real `x` this is `gammaln(x)` on
    `x > 0` and NaN elsewhere (where `gamma` may be negative).

    Raises:
      ValueError: for complex inputs (jax's complex branch is not implemented here).

    >>> import lamina.numpy as lnp
    >>> loggamma(lnp.array([0.5, 3., -0.5]))
    Array([0.5723648, 0.6931474,       nan], dtype=float32)
    """
    x, = _real("loggamma", x)
    return lnp.where(x > 0, lax.lgamma(x), np.nan)


def boxcox(x: Any, lmbda: Any) -> Any:
    """The Box-Cox transform `(x**lmbda - 1) / lmbda` (computed as
    `expm1(lmbda log(x)) / lmbda`), and `log(x)` for `lmbda == 0`; NaN for `x < 0`.

    >>> boxcox(4., 0.5)
    Array(2., dtype=float32, weak_type=True)
    """
    x, lmbda = _real("boxcox", x, lmbda)
    return _boxcox_of_log(lnp.log(x), lmbda)


def boxcox1p(x: Any, lmbda: Any) -> Any:
    """The Box-Cox transform of `1 + x`, accurate for small `x`: `log1p(x)` for
    `lmbda == 0`, else `expm1(lmbda log1p(x)) / lmbda`; NaN for `x < -1`.

    >>> boxcox1p(3., 0.5)
    Array(2., dtype=float32, weak_type=True)
    """
    x, lmbda = _real("boxcox1p", x, lmbda)
    return _boxcox_of_log(lnp.log1p(x), lmbda)


def _boxcox_of_log(log_x: Any, lmbda: Any) -> Any:
    lmbda_is_zero = lmbda == 0
    safe_lmbda = lnp.where(lmbda_is_zero, lnp.ones_like(lmbda), lmbda)
    return lnp.where(lmbda_is_zero, log_x, lnp.expm1(safe_lmbda * log_x) / safe_lmbda)


def bernoulli(n: int) -> Any:
    """The Bernoulli numbers `B_0 .. B_n` (the `B_1 = -1/2` convention), in the default
    float dtype, by Chowla and Hartung's zeta-series formula for the even ones
    (`B_2k = (-1)^(k+1) 2 (2k)! zeta(2k) / (2 pi)^(2k)`), as jax.

    Args:
      n: a concrete non-negative integer.

    Raises:
      TypeError: if `n` is not a concrete integer; ValueError if it is negative.

    >>> bernoulli(4)
    Array([ 1.        , -0.5       ,  0.16666667,  0.        ,
           -0.03333325], dtype=float32)
    """
    try:
        n = operator.index(n)
    except TypeError:
        raise TypeError("lamina.scipy.special.bernoulli: n must be a concrete integer "
                        f"(it sets the output's shape), got {n!r}") from None
    if n < 0:
        raise ValueError(f"lamina.scipy.special.bernoulli: n must be >= 0, got {n}")
    first = lnp.array([1, -1 / 2, 1 / 6])
    if n < 3:
        return first[:n + 1]
    out = lnp.zeros(n + 1).at[:3].set(first)
    m = lnp.arange(4, n + 1, 2, dtype=out.dtype)  # the even orders from 4
    two_pi_ratio = (1.0 / np.pi ** 2) * lnp.cumprod(-(m - 1) * m / 4 / np.pi ** 2)
    # zeta(m) - 1, from its first 48 terms (2**-50 is below float64's epsilon)
    k = lnp.arange(2, 50, dtype=out.dtype)
    zeta_minus_one = lnp.sum(k[:, None] ** -m[None, :], axis=0)
    return out.at[4::2].set(two_pi_ratio * (1 + zeta_minus_one))


# --------------------------------------------------------------------------------------
# Bessel functions of the first kind, integer orders
# --------------------------------------------------------------------------------------


def _bessel_jn_step(carry: tuple, k: Any) -> tuple:
    # Miller's backward recurrence J_k = 2 (k + 1) / z J_(k+1) - J_(k+2), started from
    # (0, 1e-16) at a high order; `norm` sums 2 J_k over even k, which with J_0 gives
    # the normalisation J_0 + 2 J_2 + 2 J_4 + ... = 1.
    f0, f1, norm, z = carry
    f = 2.0 * (k + 1.0) * f1 / z - f0
    norm = lax.cond(lnp.mod(k, 2) == 0, lambda u: u[0] + 2.0 * u[1], lambda u: u[0],
                    (norm, f))
    return (f1, f, norm, z), f


def _bessel_jn_scalar(z: Any, *, v: int, n_iter: int) -> Any:
    c = lambda value: lnp.asarray(np.asarray(value, z.dtype))  # noqa: E731
    (_, _, norm, _), values = lax.scan(_bessel_jn_step, (c(0.0), c(1e-16), c(0.0), z),
                                       lax.iota(z.dtype, n_iter + 1), reverse=True)
    return values[:v + 1] / (norm - values[0])


def bessel_jn(z: Any, *, v: int, n_iter: int = 50) -> Any:
    """Bessel functions of the first kind `J_0(z) .. J_v(z)` for real `z`, by Miller's
    backward recurrence from order `n_iter` (Zhang and Jin, "Computation of Special
    Functions", 1996), as jax.

    Args:
      z: real array.
      v: the highest order, a concrete integer.
      n_iter: the order the recurrence starts from (more for larger `|z|`).

    Returns:
      An array of shape `(v + 1, *z.shape)`, in `z`'s inexact dtype.

    Raises:
      ValueError: for complex `z`; TypeError if `v` is not a concrete integer.

    >>> bessel_jn(1., v=2, n_iter=20)  # in float32 the default 50 overflows to NaN
    Array([0.7651977 , 0.4400506 , 0.11490349], dtype=float32)
    """
    z, = promote_args_inexact("bessel_jn", z)
    if dtypes.is_complex(z.dtype):
        raise ValueError("lamina.scipy.special.bessel_jn does not support complex "
                         f"inputs, got {z.dtype}")
    try:
        v = operator.index(v)
    except TypeError:
        raise TypeError("lamina.scipy.special.bessel_jn: v must be a concrete integer "
                        f"(it sets the output's shape), got {v!r}") from None
    fn = functools.partial(_bessel_jn_scalar, v=v, n_iter=int(n_iter))
    for _ in range(z.ndim):
        fn = vmap(fn)
    return lnp.moveaxis(jit(fn)(z), -1, 0)
