"""The normal distribution `N(loc, scale^2)` (`jax.scipy.stats.norm`).

>>> from lamina.scipy.stats import norm
>>> norm.cdf(0.)
Array(0.5, dtype=float32)
"""
from __future__ import annotations

from typing import Any

import numpy as np

import lamina.numpy as lnp
from lamina.numpy._util import promote_args_inexact
from lamina.scipy import special

__all__ = ["cdf", "isf", "logcdf", "logpdf", "logsf", "pdf", "ppf", "sf"]


def logpdf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """Log density `-((x - loc) / scale)^2 / 2 - log(sqrt(2 pi) scale)`.

    >>> logpdf(0.)
    Array(-0.9189385, dtype=float32, weak_type=True)
    """
    x, loc, scale = promote_args_inexact("norm.logpdf", x, loc, scale)
    scale_sq = lnp.square(scale)
    log_normalizer = lnp.log((2 * np.pi) * scale_sq)
    quadratic = lnp.square(x - loc) / scale_sq
    return (log_normalizer + quadratic) / -2


def pdf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """Density `exp(logpdf(x, loc, scale))`.

    >>> pdf(0.)
    Array(0.3989423, dtype=float32, weak_type=True)
    """
    return lnp.exp(logpdf(x, loc, scale))


def cdf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """Distribution function `ndtr((x - loc) / scale)`.

    >>> cdf(1.)
    Array(0.8413447, dtype=float32)
    """
    x, loc, scale = promote_args_inexact("norm.cdf", x, loc, scale)
    return special.ndtr((x - loc) / scale)


def logcdf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """`log(cdf(x))`, accurate in both tails (`log_ndtr`).

    >>> logcdf(-20.)
    Array(-203.91716, dtype=float32)
    """
    x, loc, scale = promote_args_inexact("norm.logcdf", x, loc, scale)
    return special.log_ndtr((x - loc) / scale)


def ppf(q: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """Quantile function (inverse cdf), in the default float dtype as jax.

    >>> ppf(0.5)
    Array(0., dtype=float32)
    """
    return lnp.asarray(special.ndtri(q) * scale + loc, float)


def logsf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """`log(1 - cdf(x))`, accurate in both tails.

    >>> logsf(20.)
    Array(-203.91716, dtype=float32)
    """
    x, loc, scale = promote_args_inexact("norm.logsf", x, loc, scale)
    return logcdf(-x, -loc, scale)


def sf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """Survival function `1 - cdf(x)`, computed as `cdf(-x, -loc)`.

    >>> sf(1.)
    Array(0.15865527, dtype=float32)
    """
    x, loc, scale = promote_args_inexact("norm.sf", x, loc, scale)
    return cdf(-x, -loc, scale)


def isf(q: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """Inverse survival function `ppf(1 - q)`.

    >>> isf(0.5)
    Array(0., dtype=float32)
    """
    return ppf(1 - lnp.asarray(q), loc, scale)
