"""The beta distribution on `[loc, loc + scale]` (`jax.scipy.stats.beta`); the cdf
family waits for the incomplete beta function.

>>> from lamina.scipy.stats import beta
>>> beta.pdf(0.5, 2., 2.)
Array(1.5000013, dtype=float32, weak_type=True)
"""
from __future__ import annotations

from typing import Any

import numpy as np

import lamina.numpy as lnp
from lamina.numpy._util import promote_args_inexact
from lamina.scipy.special import betaln, xlog1py, xlogy

__all__ = ["logpdf", "pdf"]


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
