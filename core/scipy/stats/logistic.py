"""The logistic distribution (`jax.scipy.stats.logistic`).

>>> from lamina.scipy.stats import logistic
>>> logistic.cdf(0.)
Array(0.5, dtype=float32, weak_type=True)
"""
from __future__ import annotations

from typing import Any

import lamina.numpy as lnp
from lamina.numpy._util import promote_args_inexact
from lamina.scipy.special import expit, logit

__all__ = ["cdf", "isf", "logpdf", "pdf", "ppf", "sf"]


def logpdf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """Log density `-2 log(2 cosh(z / 2)) - log(scale)`, `z = (x - loc) / scale`.

    >>> logpdf(0.)
    Array(-1.3862944, dtype=float32, weak_type=True)
    """
    x, loc, scale = promote_args_inexact("logistic.logpdf", x, loc, scale)
    half_z = (x - loc) / scale / 2
    return -2 * lnp.logaddexp(half_z, -half_z) - lnp.log(scale)


def pdf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """Density `exp(logpdf(x, loc, scale))`.

    >>> pdf(0.)
    Array(0.25, dtype=float32, weak_type=True)
    """
    return lnp.exp(logpdf(x, loc, scale))


def ppf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """Quantile function `logit(x) * scale + loc`.

    >>> ppf(0.5)
    Array(0., dtype=float32, weak_type=True)
    """
    x, loc, scale = promote_args_inexact("logistic.ppf", x, loc, scale)
    return logit(x) * scale + loc


def sf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """Survival function `expit(-(x - loc) / scale)`.

    >>> sf(0.)
    Array(0.5, dtype=float32, weak_type=True)
    """
    x, loc, scale = promote_args_inexact("logistic.sf", x, loc, scale)
    return expit(-((x - loc) / scale))


def isf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """Inverse survival function `-logit(x) * scale + loc`.

    >>> isf(0.5)
    Array(0., dtype=float32, weak_type=True)
    """
    x, loc, scale = promote_args_inexact("logistic.isf", x, loc, scale)
    return -logit(x) * scale + loc


def cdf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """Distribution function `expit((x - loc) / scale)`.

    >>> cdf(0.)
    Array(0.5, dtype=float32, weak_type=True)
    """
    x, loc, scale = promote_args_inexact("logistic.cdf", x, loc, scale)
    return expit((x - loc) / scale)
