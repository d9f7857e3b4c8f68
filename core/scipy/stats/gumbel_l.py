"""The left-skewed Gumbel (minimum extreme value) distribution
(`jax.scipy.stats.gumbel_l`): `cdf(x) = 1 - exp(-exp(z))`, `z = (x - loc) / scale`.
Every function is NaN for a non-positive `scale`.

>>> from lamina.scipy.stats import gumbel_l
>>> gumbel_l.cdf(0.)  # 1 - exp(-1)
Array(0.63212055, dtype=float32, weak_type=True)
"""
from __future__ import annotations

from typing import Any

import numpy as np

import lamina.numpy as lnp
from lamina.numpy._util import promote_args_inexact
from lamina.scipy.special import xlog1py, xlogy

__all__ = ["cdf", "logcdf", "logpdf", "logsf", "pdf", "ppf", "sf"]


def logpdf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """Log density `z - exp(z) - log(scale)`.

    >>> logpdf(0.)
    Array(-1., dtype=float32, weak_type=True)
    """
    x, loc, scale = promote_args_inexact("gumbel_l.logpdf", x, loc, scale)
    z = (x - loc) / scale
    log_probs = xlogy(-1, scale) + (z - lnp.exp(z))
    return lnp.where(scale > 0, log_probs, np.nan)


def pdf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """Density `exp(logpdf(x, loc, scale))`.

    >>> pdf(0.)
    Array(0.36787945, dtype=float32, weak_type=True)
    """
    return lnp.exp(logpdf(x, loc, scale))


def logcdf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """`log(1 - exp(-exp(z)))`, as `log(-expm1(-exp(z)))` for accuracy at small `z`.

    >>> logcdf(-20.)
    Array(-20., dtype=float32, weak_type=True)
    """
    x, loc, scale = promote_args_inexact("gumbel_l.logcdf", x, loc, scale)
    z = (x - loc) / scale
    return lnp.where(scale > 0, lnp.log(-lnp.expm1(-lnp.exp(z))), np.nan)


def cdf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """`exp(logcdf(x, loc, scale))`.

    >>> cdf(0., 0., -1.)
    Array(nan, dtype=float32, weak_type=True)
    """
    return lnp.exp(logcdf(x, loc, scale))


def logsf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """`log P(X > x) = -exp(z)`.

    >>> logsf(0.)
    Array(-1., dtype=float32, weak_type=True)
    """
    x, loc, scale = promote_args_inexact("gumbel_l.logsf", x, loc, scale)
    z = (x - loc) / scale
    return lnp.where(scale > 0, -lnp.exp(z), np.nan)


def sf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """`P(X > x) = exp(-exp(z))`.

    >>> sf(0.)
    Array(0.36787945, dtype=float32, weak_type=True)
    """
    return lnp.exp(logsf(x, loc, scale))


def ppf(p: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """Quantile `loc + scale log(-log(1 - p))`; NaN unless `0 < p < 1`.

    >>> ppf(0.5)
    Array(-0.36651292, dtype=float32, weak_type=True)
    """
    p, loc, scale = promote_args_inexact("gumbel_l.ppf", p, loc, scale)
    quantile = loc + scale * lnp.log(xlog1py(-1, -p))
    return lnp.where((p > 0) & (p < 1), quantile, np.nan)
