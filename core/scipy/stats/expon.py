"""The exponential distribution with rate `1 / scale` (`jax.scipy.stats.expon`).

>>> from lamina.scipy.stats import expon
>>> expon.pdf(0.)
Array(1., dtype=float32, weak_type=True)
"""
from __future__ import annotations

from typing import Any

import numpy as np

import lamina.numpy as lnp
from lamina.numpy._util import promote_args_inexact

__all__ = ["cdf", "logcdf", "logpdf", "logsf", "pdf", "ppf", "sf"]


def logpdf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """Log density `-(x - loc) / scale - log(scale)`; -inf below `loc`.

    >>> logpdf(1.)
    Array(-1., dtype=float32, weak_type=True)
    """
    x, loc, scale = promote_args_inexact("expon.logpdf", x, loc, scale)
    log_probs = -((x - loc) / scale + lnp.log(scale))
    return lnp.where(x < loc, -np.inf, log_probs)


def pdf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """Density `exp(logpdf(x, loc, scale))`.

    >>> pdf(-1.)
    Array(0., dtype=float32, weak_type=True)
    """
    return lnp.exp(logpdf(x, loc, scale))


def cdf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """Distribution function `-expm1(-(x - loc) / scale)`; 0 below `loc`.

    >>> cdf(0.)
    Array(-0., dtype=float32, weak_type=True)
    """
    x, loc, scale = promote_args_inexact("expon.cdf", x, loc, scale)
    neg_z = (loc - x) / scale
    return lnp.where(x < loc, lnp.zeros_like(neg_z), -lnp.expm1(neg_z))


def logsf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """`log(sf(x))`: `-(x - loc) / scale`, 0 below `loc`.

    >>> logsf(2.)
    Array(-2., dtype=float32, weak_type=True)
    """
    x, loc, scale = promote_args_inexact("expon.logsf", x, loc, scale)
    neg_z = (loc - x) / scale
    return lnp.where(x < loc, lnp.zeros_like(neg_z), neg_z)


def sf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """Survival function `exp(logsf(x, loc, scale))`.

    >>> sf(0.)
    Array(1., dtype=float32, weak_type=True)
    """
    return lnp.exp(logsf(x, loc, scale))


def logcdf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """`log(cdf(x))`, as `log1p(-sf(x))`.

    >>> logcdf(0.)
    Array(-inf, dtype=float32, weak_type=True)
    """
    return lnp.log1p(-sf(x, loc, scale))


def ppf(q: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """Quantile function `loc - scale log1p(-q)`; NaN outside [0, 1].

    >>> ppf(0.)
    Array(0., dtype=float32, weak_type=True)
    """
    q, loc, scale = promote_args_inexact("expon.ppf", q, loc, scale)
    return lnp.where(lnp.isnan(q) | (q < 0) | (q > 1), np.nan,
                     loc - scale * lnp.log1p(-q))
