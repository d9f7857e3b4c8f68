"""The Pareto distribution with shape `b`, support `x >= loc + scale`
(`jax.scipy.stats.pareto`).

>>> from lamina.scipy.stats import pareto
>>> pareto.cdf(2., 1.)
Array(0.5, dtype=float32, weak_type=True)
"""
from __future__ import annotations

from typing import Any

import numpy as np

import lamina.numpy as lnp
from lamina import lax
from lamina.numpy._util import promote_args_inexact

__all__ = ["cdf", "logcdf", "logpdf", "logsf", "pdf", "ppf", "sf"]

def logpdf(x: Any, b: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """Log density `log(b / scale) - (b + 1) log(y)` at `y = (x - loc) / scale`; -inf
    below `loc + scale`.

    >>> logpdf(1., 2.)
    Array(0.6931472, dtype=float32, weak_type=True)
    """
    x, b, loc, scale = promote_args_inexact("pareto.logpdf", x, b, loc, scale)
    y = (x - loc) / scale
    log_probs = -(lnp.log(scale / b) + (b + 1) * lnp.log(y))
    return lnp.where(x < loc + scale, -np.inf, log_probs)


def pdf(x: Any, b: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """Density `exp(logpdf(x, b, loc, scale))`.

    >>> pdf(2., 1.)
    Array(0.25, dtype=float32, weak_type=True)
    """
    return lnp.exp(logpdf(x, b, loc, scale))


def cdf(x: Any, b: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """`P(X <= x) = 1 - y^-b` at `y = (x - loc) / scale`; 0 below `loc + scale`.

    >>> cdf(0.5, 1.)
    Array(0., dtype=float32, weak_type=True)
    """
    x, b, loc, scale = promote_args_inexact("pareto.cdf", x, b, loc, scale)
    y = (x - loc) / scale
    return lnp.where(x < loc + scale, 0, 1 - lax.pow(y, -b))


def logcdf(x: Any, b: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """`log1p(-y^-b)`; -inf below `loc + scale`.

    >>> logcdf(2., 1.)
    Array(-0.6931472, dtype=float32, weak_type=True)
    """
    x, b, loc, scale = promote_args_inexact("pareto.logcdf", x, b, loc, scale)
    y = (x - loc) / scale
    return lnp.where(x < loc + scale, -np.inf, lnp.log1p(-lax.pow(y, -b)))


def logsf(x: Any, b: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """`log P(X > x) = -b log(y)`; 0 below `loc + scale`.

    >>> logsf(4., 0.5)
    Array(-0.6931472, dtype=float32, weak_type=True)
    """
    x, b, loc, scale = promote_args_inexact("pareto.logsf", x, b, loc, scale)
    y = (x - loc) / scale
    return lnp.where(x < loc + scale, 0, -(b * lnp.log(y)))


def sf(x: Any, b: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """`P(X > x) = exp(logsf(x, b, loc, scale))`.

    >>> sf(4., 0.5)
    Array(0.5, dtype=float32, weak_type=True)
    """
    return lnp.exp(logsf(x, b, loc, scale))


def ppf(q: Any, b: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """Quantile `loc + scale (1 - q)^(-1/b)`; NaN for `q` outside [0, 1] or NaN.

    >>> ppf(0.75, 2.)
    Array(2., dtype=float32, weak_type=True)
    """
    q, b, loc, scale = promote_args_inexact("pareto.ppf", q, b, loc, scale)
    quantile = loc + scale * lax.pow(1 - q, -(1 / b))
    return lnp.where(lnp.isnan(q) | (q < 0) | (q > 1), np.nan, quantile)
