"""The beta distribution on `[loc, loc + scale]` (`jax.scipy.stats.beta`): density,
and the cdf family through the regularized incomplete beta function (`lax.betainc`),
differentiable in `x` only, as in jax.

>>> from lamina.scipy.stats import beta
>>> beta.pdf(0.5, 2., 2.)
Array(1.5000013, dtype=float32, weak_type=True)
"""
from __future__ import annotations

from typing import Any

import numpy as np

import lamina.numpy as lnp
from lamina import lax
from lamina.numpy._util import promote_args_inexact
from lamina.scipy.special import betainc, betaln, xlog1py, xlogy

__all__ = ["cdf", "logcdf", "logpdf", "logsf", "pdf", "sf"]


def logpdf(x: Any, a: Any, b: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """Log density `(a-1) log(y) + (b-1) log(1-y) - betaln(a, b) - log(scale)`,
    `y = (x - loc) / scale`; -inf outside the support, NaN for non-positive `a`, `b` or
    `scale`.

    >>> logpdf(0.5, 2., 2.)
    Array(0.40546596, dtype=float32, weak_type=True)
    """
    x, a, b, loc, scale = promote_args_inexact("beta.logpdf", x, a, b, loc, scale)
    shape_term = -betaln(a, b)
    y = (x - loc) / scale
    log_linear_term = xlogy(a - 1, y) + xlog1py(b - 1, -y)
    log_probs = (shape_term + log_linear_term) - lnp.log(scale)
    result = lnp.where((x > loc + scale) | (x < loc), -np.inf, log_probs)
    return lnp.where((a <= 0) | (b <= 0) | (scale <= 0), np.nan, result)


def pdf(x: Any, a: Any, b: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """Density `exp(logpdf(x, a, b, loc, scale))`.

    >>> pdf(0.25, 1., 1.)
    Array(0.99999905, dtype=float32, weak_type=True)
    """
    return lnp.exp(logpdf(x, a, b, loc, scale))


def _standardized(x: Any, loc: Any, scale: Any) -> Any:
    """`(x - loc) / scale`, clamped into [0, 1] (so the cdf is 0 below, 1 above)."""
    # NOTE: the bounds are typed like x's, weak for a weak 0-d x, as jax's constants.
    if x.weak_type and x.ndim == 0:
        lo, hi = 0.0, 1.0
    else:
        lo, hi = np.asarray(0, x.dtype), np.asarray(1, x.dtype)
    return lax.clamp(lo, lax.div(lax.sub(x, loc), scale), hi)


def cdf(x: Any, a: Any, b: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """Distribution function `betainc(a, b, y)`, `y = (x - loc) / scale` clamped into
    [0, 1]; NaN for negative `a` or `b`.

    >>> cdf(0.5, 2., 3.)  # 11/16
    Array(0.6874998, dtype=float32, weak_type=True)
    """
    x, a, b, loc, scale = promote_args_inexact("beta.cdf", x, a, b, loc, scale)
    return betainc(a, b, _standardized(x, loc, scale))


def logcdf(x: Any, a: Any, b: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """`log(cdf(x, a, b, loc, scale))`.

    >>> logcdf(1., 2., 3.)
    Array(0., dtype=float32, weak_type=True)
    """
    return lax.log(cdf(x, a, b, loc, scale))


def sf(x: Any, a: Any, b: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """Survival function `1 - cdf`, computed directly as `betainc(b, a, 1 - y)`.

    >>> sf(0.5, 2., 3.)  # 5/16
    Array(0.31250018, dtype=float32, weak_type=True)
    """
    x, a, b, loc, scale = promote_args_inexact("beta.sf", x, a, b, loc, scale)
    return betainc(b, a, 1 - _standardized(x, loc, scale))


def logsf(x: Any, a: Any, b: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """`log(sf(x, a, b, loc, scale))`.

    >>> logsf(0., 2., 3.)
    Array(0., dtype=float32, weak_type=True)
    """
    return lax.log(sf(x, a, b, loc, scale))
