"""The Bernoulli distribution with success probability `p` (`jax.scipy.stats.bernoulli`).

>>> from lamina.scipy.stats import bernoulli
>>> bernoulli.pmf(1., 0.25)
Array(0.25, dtype=float32, weak_type=True)
"""
from __future__ import annotations

from typing import Any

import numpy as np

import lamina.numpy as lnp
from lamina.numpy._util import promote_args_inexact
from lamina.scipy.special import xlog1py, xlogy

__all__ = ["cdf", "logpmf", "pmf", "ppf"]


def logpmf(k: Any, p: Any, loc: Any = 0) -> Any:
    """Log mass `k log(p) + (1 - k) log(1 - p)` at `k - loc`; -inf outside [0, 1].

    >>> logpmf(0., 0.5)
    Array(-0.6931472, dtype=float32, weak_type=True)
    """
    k, p, loc = promote_args_inexact("bernoulli.logpmf", k, p, loc)
    x = k - loc
    log_probs = xlogy(x, p) + xlog1py(1 - x, -p)
    return lnp.where((x < 0) | (x > 1), -np.inf, log_probs)


def pmf(k: Any, p: Any, loc: Any = 0) -> Any:
    """Mass `exp(logpmf(k, p, loc))`.

    >>> pmf(0., 0.25)
    Array(0.75, dtype=float32, weak_type=True)
    """
    return lnp.exp(logpmf(k, p, loc))


def cdf(k: Any, p: Any) -> Any:
    """Distribution function: 0 below 0, `1 - p` on [0, 1), 1 from 1; NaN for a NaN or
    out-of-range `p`.

    >>> cdf(0.5, 0.25)
    Array(0.75, dtype=float32, weak_type=True)
    """
    k, p = promote_args_inexact("bernoulli.cdf", k, p)
    bad = lnp.isnan(k) | lnp.isnan(p) | (p < 0) | (p > 1)
    return lnp.select([bad, k < 0, (k >= 0) & (k < 1), k >= 1],
                      [np.nan, lnp.zeros_like(k), 1 - p, lnp.ones_like(k)])


def ppf(q: Any, p: Any) -> Any:
    """Quantile function: 0 for `q <= 1 - p`, else 1; NaN for out-of-range `q` or `p`.

    >>> ppf(0.9, 0.25)
    Array(1., dtype=float32, weak_type=True)
    """
    q, p = promote_args_inexact("bernoulli.ppf", q, p)
    bad = lnp.isnan(q) | lnp.isnan(p) | (p < 0) | (p > 1) | (q < 0) | (q > 1)
    return lnp.where(bad, np.nan,
                     lnp.where(q <= 1 - p, lnp.zeros_like(q), lnp.ones_like(q)))
