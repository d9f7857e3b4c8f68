"""The chi-square distribution with `df` degrees of freedom (`jax.scipy.stats.chi2`):
a gamma distribution with shape `df / 2` and scale 2, whose cdf family it uses.

>>> from lamina.scipy.stats import chi2
>>> chi2.pdf(2., 2.)  # exp(-1) / 2
Array(0.18393964, dtype=float32, weak_type=True)
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

import lamina.numpy as lnp
from lamina.numpy._util import promote_args_inexact
from lamina.scipy.special import gammaln
from lamina.scipy.stats import gamma

__all__ = ["cdf", "logcdf", "logpdf", "logsf", "pdf", "sf"]


def logpdf(x: Any, df: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """Log density `(k/2 - 1) log(y) - y/2 - gammaln(k/2) - (k/2) log 2 - log(scale)` at
    `y = (x - loc) / scale`, `k = df`; -inf below `loc`.

    >>> logpdf(2., 2.)
    Array(-1.6931477, dtype=float32, weak_type=True)
    """
    x, df, loc, scale = promote_args_inexact("chi2.logpdf", x, df, loc, scale)
    y = (x - loc) / scale
    half_df = df / 2
    kernel = (half_df - 1) * lnp.log(y) - y / 2
    normalizer = gammaln(half_df) + half_df * math.log(2) + lnp.log(scale)
    return lnp.where(x < loc, -np.inf, kernel - normalizer)


def pdf(x: Any, df: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """Density `exp(logpdf(x, df, loc, scale))`.

    >>> pdf(1., 2.)  # exp(-0.5) / 2
    Array(0.30326518, dtype=float32, weak_type=True)
    """
    return lnp.exp(logpdf(x, df, loc, scale))


def _as_gamma(name: str, x: Any, df: Any, loc: Any, scale: Any) -> tuple[Any, ...]:
    """The gamma distribution's arguments `(x, df / 2, loc, 2 * scale)`, promoted."""
    x, df, loc, scale = promote_args_inexact(name, x, df, loc, scale)
    return x, df / 2, loc, scale * 2


def cdf(x: Any, df: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """`P(X <= x) = gammainc(df / 2, y / 2)` (0 below `loc`).

    >>> cdf(2., 2.)  # 1 - exp(-1)
    Array(0.6321202, dtype=float32, weak_type=True)
    """
    return gamma.cdf(*_as_gamma("chi2.cdf", x, df, loc, scale))


def logcdf(x: Any, df: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """`log(cdf(x, df, loc, scale))`.

    >>> logcdf(2., 2.)
    Array(-0.4586757, dtype=float32, weak_type=True)
    """
    return gamma.logcdf(*_as_gamma("chi2.logcdf", x, df, loc, scale))


def sf(x: Any, df: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """`P(X > x) = gammaincc(df / 2, y / 2)`, accurate in the upper tail.

    >>> sf(2., 2.)  # exp(-1)
    Array(0.36787927, dtype=float32, weak_type=True)
    """
    return gamma.sf(*_as_gamma("chi2.sf", x, df, loc, scale))


def logsf(x: Any, df: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """`log(sf(x, df, loc, scale))`.

    >>> logsf(2., 2.)
    Array(-1.0000005, dtype=float32, weak_type=True)
    """
    return gamma.logsf(*_as_gamma("chi2.logsf", x, df, loc, scale))
