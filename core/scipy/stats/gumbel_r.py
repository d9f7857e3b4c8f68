"""The right-skewed Gumbel (maximum extreme value) distribution
(`jax.scipy.stats.gumbel_r`): `cdf(x) = exp(-exp(-z))`, `z = (x - loc) / scale`. Every
function is NaN for a non-positive `scale`.

>>> from lamina.scipy.stats import gumbel_r
>>> gumbel_r.cdf(0.)  # exp(-1)
Array(0.36787945, dtype=float32, weak_type=True)
"""
from __future__ import annotations

from typing import Any

import numpy as np

import lamina.numpy as lnp
from lamina.custom_derivatives import custom_jvp
from lamina.numpy._util import promote_args_inexact
from lamina.scipy.special import xlogy

__all__ = ["cdf", "logcdf", "logpdf", "logsf", "pdf", "ppf", "sf"]


def logpdf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """Log density `-z - exp(-z) - log(scale)`.

    >>> logpdf(0.)
    Array(-1., dtype=float32, weak_type=True)
    """
    x, loc, scale = promote_args_inexact("gumbel_r.logpdf", x, loc, scale)
    z = (x - loc) / scale
    log_probs = xlogy(-1, scale) + -(z + lnp.exp(-z))
    return lnp.where(scale > 0, log_probs, np.nan)


def pdf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """Density `exp(logpdf(x, loc, scale))`.

    >>> pdf(0.)
    Array(0.36787945, dtype=float32, weak_type=True)
    """
    return lnp.exp(logpdf(x, loc, scale))


def logcdf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """`log P(X <= x) = -exp(-z)`.

    >>> logcdf(0.)
    Array(-1., dtype=float32, weak_type=True)
    """
    x, loc, scale = promote_args_inexact("gumbel_r.logcdf", x, loc, scale)
    z = (x - loc) / scale
    return lnp.where(scale > 0, -lnp.exp(-z), np.nan)


def cdf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """`exp(logcdf(x, loc, scale))`.

    >>> cdf(0., 0., 0.)
    Array(nan, dtype=float32, weak_type=True)
    """
    return lnp.exp(logcdf(x, loc, scale))


@custom_jvp
def _log1mexp(x: Any) -> Any:
    """`log(1 - exp(-x))` for `x >= 0`: `expm1` below log 2, `log1p` above."""
    return lnp.where(x < lnp.log(2.0), lnp.log(-lnp.expm1(-x)), lnp.log1p(-lnp.exp(-x)))


_log1mexp.defjvps(lambda g, ans, x: g / lnp.expm1(x))


def sf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """`P(X > x) = 1 - exp(-exp(-z))`.

    >>> sf(0.)
    Array(0.63212055, dtype=float32, weak_type=True)
    """
    x, loc, scale = promote_args_inexact("gumbel_r.sf", x, loc, scale)
    neg_z = (loc - x) / scale
    survival = 1 - lnp.exp(-lnp.exp(neg_z))
    return lnp.where(scale > 0, survival, np.nan)


def logsf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """`log(1 - exp(-exp(-z)))`, accurate in both tails.

    >>> logsf(20.)
    Array(-20., dtype=float32, weak_type=True)
    """
    x, loc, scale = promote_args_inexact("gumbel_r.logsf", x, loc, scale)
    neg_z = (loc - x) / scale
    return lnp.where(scale > 0, _log1mexp(lnp.exp(neg_z)), np.nan)


def ppf(p: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """Quantile `loc - scale log(-log(p))`; NaN unless `0 < p < 1`.

    >>> ppf(0.5)
    Array(0.36651292, dtype=float32, weak_type=True)
    """
    p, loc, scale = promote_args_inexact("gumbel_r.ppf", p, loc, scale)
    quantile = loc - scale * lnp.log(xlogy(-1, p))
    return lnp.where((p > 0) & (p < 1), quantile, np.nan)
