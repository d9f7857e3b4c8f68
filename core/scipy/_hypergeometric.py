"""The confluent hypergeometric function `hyp1f1` (1F1) and the Gauss hypergeometric
function `hyp2f1` (2F1) for real arguments, by jax's algorithms (Pearson, Olver and
Porter 2014, arXiv:1407.7786): Taylor series summed with `lax.while_loop` until the
term falls below machine epsilon (at most 250 terms), 1F1's asymptotic expansion for
`|x| >= 100`, and for 2F1 the terminating series, Euler's transformation and the
digamma expansion around `x = 1` (AMS55 15.3.10-12). Both are vectorized over scalars
as in jax, and their custom JVPs are jax's: series in digamma for the parameters and
the contiguous function for `x`.
"""
from __future__ import annotations

from typing import Any

import numpy as np

import lamina.numpy as lnp
from lamina import dtypes, lax
from lamina._api_jit import jit
from lamina.custom_derivatives import custom_jvp
from lamina.numpy._util import promote_args_inexact

__all__ = ["hyp1f1", "hyp2f1"]

_MAX_TERMS = 250


def _const(x: Any, value: float) -> Any:
    return lnp.asarray(np.asarray(value, x.dtype))


def _gamma(x: Any) -> Any:
    from lamina.scipy.special import gamma  # NOTE: lazy, special imports this module
    return gamma(x)


def _sum_series(term0: Any, x: Any, ratio: Any, weight: Any = None,
                start: float = 1.0, relative: bool = True) -> Any:
    """`start + sum_{k>=1} weight(k) t_k` (`weight` absent: 1 and `start` added as
    the first term), `t_1 = term0`, `t_{k+1} = t_k ratio(k)`, until
    `|t_k| <= eps |sum|` or 250 terms."""
    eps = np.finfo(x.dtype).eps

    def cond(s: tuple) -> Any:
        total, k, term = s
        return (k < _MAX_TERMS) & (lnp.abs(term) / lnp.abs(total) > eps)

    def body(s: tuple) -> tuple:
        total, k, term = s
        total = total + (term if weight is None else term * weight(k))
        return total, k + 1.0, term * ratio(k)

    init = (_const(x, start), _const(x, 1), term0)
    return lax.while_loop(cond, body, init)[0]


# --------------------------------------------------------------------------------------
# 1F1(a; b; x) = sum_k (a)_k / (b)_k x**k / k!
# --------------------------------------------------------------------------------------


def _hyp1f1_series(a: Any, b: Any, x: Any) -> Any:
    return _sum_series(a / b * x, x, lambda k: (a + k) / (b + k) * x / (k + 1))


def _hyp1f1_asymptotic(a: Any, b: Any, x: Any) -> Any:
    """Large |x|: gamma(b) / gamma(a) e**x x**(a-b) sum_k (b-a)_k (1-a)_k / (k! x**k).
    """
    total = _sum_series((b - a) * (1 - a) / x, x,
                        lambda k: (b - a + k) * (1 - a + k) / (k + 1) / x)
    return _gamma(b) / _gamma(a) * lnp.exp(x) * x ** (a - b) * total


def _hyp1f1_scalar(a: Any, b: Any, x: Any) -> Any:
    out = lax.cond(lnp.abs(x) < 100, _hyp1f1_series, _hyp1f1_asymptotic, a, b, x)
    case = ((a == 0) * 1 + ((a == b) & (a != 0)) * 2 + ((b == 0) & (a != 0)) * 3)
    return lax.select_n(case, out, _const(x, 1), lnp.exp(x), _const(x, np.inf))


@jit
@lnp.vectorize
def _hyp1f1_da(a: Any, b: Any, x: Any) -> Any:
    d0 = lax.digamma(a)
    return _sum_series(a / b * x, x, lambda k: (a + k) / (b + k) * x / (k + 1),
                       weight=lambda k: lax.digamma(a + k) - d0, start=0.0)


@jit
@lnp.vectorize
def _hyp1f1_db(a: Any, b: Any, x: Any) -> Any:
    d0 = lax.digamma(b)
    return _sum_series(a / b * x, x, lambda k: (a + k) / (b + k) * x / (k + 1),
                       weight=lambda k: d0 - lax.digamma(b + k), start=0.0)


_hyp1f1 = custom_jvp(jit(lnp.vectorize(_hyp1f1_scalar)))
_hyp1f1.defjvps(
    lambda a_dot, out, a, b, x: _hyp1f1_da(a, b, x) * a_dot,
    lambda b_dot, out, a, b, x: _hyp1f1_db(a, b, x) * b_dot,
    lambda x_dot, out, a, b, x: a / b * _hyp1f1(a + 1, b + 1, x) * x_dot)


def hyp1f1(a: Any, b: Any, x: Any) -> Any:
    """The confluent hypergeometric function
    `1F1(a; b; x) = sum_k (a)_k / (b)_k x**k / k!` for real arguments, as jax's.

    A Taylor series for `|x| < 100`, the asymptotic expansion beyond; `1` for `a == 0`
    (also `a == b == 0`, unlike scipy), `exp(x)` for `a == b`, `inf` for `b == 0`.
    Large results lose accuracy (use float64). Differentiable in all three arguments.

    >>> import lamina.numpy as lnp
    >>> hyp1f1(1., 2., lnp.array([0., 1., 2.]))
    Array([1.       , 1.7182816, 3.1945283], dtype=float32)
    """
    a, b, x = promote_args_inexact("hyp1f1", a, b, x)
    if dtypes.is_complex(x.dtype):
        raise ValueError("lamina.scipy.special.hyp1f1 does not support complex "
                         f"inputs, got {x.dtype}")
    return _hyp1f1(a, b, x)


# --------------------------------------------------------------------------------------
# 2F1(a, b; c; x) = sum_k (a)_k (b)_k / (c)_k x**k / k!
# --------------------------------------------------------------------------------------


def _hyp2f1_terminating(a: Any, b: Any, c: Any, x: Any) -> Any:
    """A non-positive integer `a` (or `b`): the finite sum up to `k = -a`. The bound is
    the integer parameter of larger magnitude, unless `c` is a non-positive integer
    reached first."""
    eps = np.finfo(x.dtype).eps * 50
    c_blocks = (c % 1 == 0) & (c <= 0) & (c > b)
    swap = (b < a) & (lnp.abs(b - lnp.round(b)) < eps) & ~c_blocks
    a, b = lnp.where(swap, b, a), lnp.where(swap, a, b)
    n = lnp.abs(a)

    def body(s: tuple) -> tuple:
        i, total, term = s
        term = term * (-(n - i + 1) / (c + i - 1) * (b + i - 1) / i * x)
        return i + 1.0, total + term, term

    init = (_const(x, 1), _const(x, 1), _const(x, 1))
    return lax.while_loop(lambda s: s[0] < n + 1, body, init)[1]


def _hyp2f1_series(a: Any, b: Any, c: Any, x: Any) -> Any:
    eps = np.finfo(x.dtype).eps

    def cond(s: tuple) -> Any:
        total, k, term = s
        return (k < _MAX_TERMS) & (lnp.abs(term) > eps * lnp.abs(total))

    def body(s: tuple) -> tuple:
        total, k, term = s
        return (total + term, k + 1.0,
                term * ((a + k - 1) * (b + k - 1) / (c + k - 1) / k * x))

    return lax.while_loop(cond, body, (_const(x, 0), _const(x, 1), _const(x, 1)))[0]


def _hyp2f1_digamma(a: Any, b: Any, c: Any, x: Any) -> Any:
    """Near x = 1 with `c - a - b` (nearly) an integer m: the expansion in `1 - x`
    with digamma terms (AMS55 15.3.10-12); the finite sum when `m != 0`."""
    eps = np.finfo(x.dtype).eps
    one = _const(x, 1)
    d = c - a - b
    s = 1 - x
    m = lnp.round(d)
    nonneg = m >= 0
    e = lnp.where(nonneg, d, -d)
    d1 = lnp.where(nonneg, d, _const(d, 0))
    d2 = lnp.where(nonneg, _const(d, 0), d)
    abs_m = lnp.where(nonneg, m, -m).astype(np.int32)
    log_s = lnp.log(s)
    y = (lax.digamma(one) + lax.digamma(1.0 + e) - lax.digamma(a + d1)
         - lax.digamma(b + d1) - log_s)
    y = y / _gamma(e + 1.0)
    p = (a + d1) * (b + d1) * s / _gamma(e + 2.0)

    def cond(st: tuple) -> Any:
        p, q, t, y = st
        return (t < _MAX_TERMS) & (lnp.abs(q) >= eps * lnp.abs(y))

    def body(st: tuple) -> tuple:
        p, q, t, y = st
        r = (lax.digamma(1.0 + t) + lax.digamma(1.0 + t + e) - lax.digamma(a + t + d1)
             - lax.digamma(b + t + d1) - log_s)
        q = p * r
        y = y + q
        p = p * (s * (a + t + d1) / (t + 1.0))
        p = p * ((b + t + d1) / (t + 1.0 + e))
        return p, q, t + 1.0, y

    y = lax.while_loop(cond, body, (p, y, _const(x, 1), y))[3]

    def finite_sum(y: Any) -> Any:
        def step(i: Any, st: tuple) -> tuple:
            p, t, y1 = st
            r = 1.0 - e + t
            p = p * (s * (a + t + d2) * (b + t + d2) / r)
            t = t + 1.0
            p = p / t
            return p, t, y1 + p

        y1 = lax.fori_loop(1, abs_m, step, (one, _const(x, 0), one))[2]
        gc = _gamma(c)
        y1 = y1 * (_gamma(e) * gc / (_gamma(a + d1) * _gamma(b + d1)))
        y = y * (gc / (_gamma(a + d2) * _gamma(b + d2)))
        y = lnp.where((abs_m & 1) != 0, -y, y)
        q = s ** m
        return lnp.where(m > 0, y * q + y1, y + y1 * q)

    return lnp.where(m == 0, y * _gamma(c) / (_gamma(a) * _gamma(b)), finite_sum(y))


def _hyp2f1_dispatch(a: Any, b: Any, c: Any, x: Any) -> Any:
    """The series, or the digamma expansion for x > 0.9 with integer `c - a - b`, or the
    finite sum for a non-positive integer `a` or `b` (all three evaluated)."""
    eps = np.finfo(x.dtype).eps * 50
    d = c - a - b
    neg_int_a = (a <= 0) & (lnp.abs(a - lnp.round(a)) < eps)
    neg_int_b = (b <= 0) & (lnp.abs(b - lnp.round(b)) < eps)
    terminates = neg_int_a | neg_int_b
    case = lnp.where((x > 0.9) & ~terminates,
                     lnp.where(lnp.abs(d - lnp.round(d)) >= eps, 0, 1),
                     lnp.where(terminates, 2, 0))
    return lax.select_n(case, _hyp2f1_series(a, b, c, x), _hyp2f1_digamma(a, b, c, x),
                        _hyp2f1_terminating(a, b, c, x))


def _hyp2f1_scalar(a: Any, b: Any, c: Any, x: Any) -> Any:
    eps = np.finfo(x.dtype).eps * 50
    d = c - a - b
    s = 1 - x
    ca, cb = c - a, c - b
    # NOTE: the first true condition picks the branch, as jax's nested where.
    conditions = [
        (x == 0) | (((a == 0) | (b == 0)) & (c != 0)),
        (c == 0) | ((c < 0) & (c % 1 == 0)),
        (d <= -1) & ~((lnp.abs(d - lnp.round(d)) >= eps) & (s < 0)),
        (d <= 0) & (x == 1),
        (x < 1) & (b == c),
        (x < 1) & (a == c),
        x > 1,
        x == 1,
    ]
    codes = [0, 1, 2, 1, 3, 4, 1, 5]
    case = lnp.asarray(6)
    for cond, code in reversed(list(zip(conditions, codes))):
        case = lnp.where(cond, code, case)
    return lax.select_n(case, _const(x, 1), _const(x, np.inf),
                        s ** d * _hyp2f1_dispatch(ca, cb, c, x), s ** (-a), s ** (-b),
                        _gamma(c) * _gamma(d) / (_gamma(ca) * _gamma(cb)),
                        _hyp2f1_dispatch(a, b, c, x))


def _hyp2f1_param_derivative(which: str) -> Any:
    @jit
    @lnp.vectorize
    def derivative(a: Any, b: Any, c: Any, x: Any) -> Any:
        p = {"a": a, "b": b, "c": c}[which]
        d0 = lax.digamma(p)
        sign = -1.0 if which == "c" else 1.0
        return _sum_series(a * b / c * x, x,
                           lambda k: (a + k) * (b + k) / (c + k) / (k + 1) * x,
                           weight=lambda k: sign * (lax.digamma(p + k) - d0), start=0.0)
    return derivative


_hyp2f1_da, _hyp2f1_db, _hyp2f1_dc = map(_hyp2f1_param_derivative, "abc")
_hyp2f1 = custom_jvp(jit(lnp.vectorize(_hyp2f1_scalar)))
_hyp2f1.defjvps(
    lambda a_dot, out, a, b, c, x: _hyp2f1_da(a, b, c, x) * a_dot,
    lambda b_dot, out, a, b, c, x: _hyp2f1_db(a, b, c, x) * b_dot,
    lambda c_dot, out, a, b, c, x: _hyp2f1_dc(a, b, c, x) * c_dot,
    lambda x_dot, out, a, b, c, x: a * b / c * _hyp2f1(a + 1, b + 1, c + 1, x) * x_dot)


def hyp2f1(a: Any, b: Any, c: Any, x: Any) -> Any:
    """The Gauss hypergeometric function
    `2F1(a, b; c; x) = sum_k (a)_k (b)_k / (c)_k x**k / k!` for real arguments, as
    jax's.

    The Taylor series, a terminating sum for non-positive integer `a` or `b`, Euler's
    transformation `(1-x)**(c-a-b) 2F1(c-a, c-b; c; x)` when `c - a - b <= -1`, a
    digamma expansion for `x > 0.9` with integer `c - a - b`, and Gauss's theorem at
    `x == 1`; `inf` for `x > 1` and for `c` a non-positive integer. Meant for `x < 1`;
    differentiable in all four arguments.

    >>> import lamina.numpy as lnp
    >>> hyp2f1(1., 1., 2., lnp.array([0., 0.5, -0.5]))  # -log(1 - x) / x
    Array([1.       , 1.3862945, 0.8109302], dtype=float32)
    """
    a, b, c, x = promote_args_inexact("hyp2f1", a, b, c, x)
    return _hyp2f1(a, b, c, x)
