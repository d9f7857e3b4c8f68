"""The Poisson distribution with mean `mu` (`jax.scipy.stats.poisson`).

>>> from lamina.scipy.stats import poisson
>>> poisson.pmf(0., 1.)
Array(0.36787927, dtype=float32, weak_type=True)
"""
from __future__ import annotations

from typing import Any

import numpy as np

import lamina.numpy as lnp
from lamina.numpy._util import promote_args_inexact
from lamina.scipy.special import gammaincc, gammaln, xlogy

__all__ = ["cdf", "logpmf", "pmf"]


def logpmf(k: Any, mu: Any, loc: Any = 0) -> Any:
    """Log mass `x log(mu) - gammaln(x + 1) - mu` at `x = k - loc`; -inf for negative
    `x` or non-integer `k`.

    >>> logpmf(0., 2.)
    Array(-2.0000005, dtype=float32, weak_type=True)
    """
    k, mu, loc = promote_args_inexact("poisson.logpmf", k, mu, loc)
    x = k - loc
    log_probs = xlogy(x, mu) - gammaln(x + 1) - mu
    return lnp.where((x < 0) | (lnp.round(k) != k), -np.inf, log_probs)


def pmf(k: Any, mu: Any, loc: Any = 0) -> Any:
    """Mass `exp(logpmf(k, mu, loc))`.

    >>> pmf(1.5, 2.)
    Array(0., dtype=float32, weak_type=True)
    """
    return lnp.exp(logpmf(k, mu, loc))


def cdf(k: Any, mu: Any, loc: Any = 0) -> Any:
    """`P(X <= k)`: `gammaincc(floor(k - loc) + 1, mu)`, 0 below `loc`.

    >>> cdf(0., 1.)  # exp(-1)
    Array(0.36787927, dtype=float32, weak_type=True)
    """
    k, mu, loc = promote_args_inexact("poisson.cdf", k, mu, loc)
    x = k - loc
    return lnp.where(x < 0, 0, gammaincc(lnp.floor(x + 1), mu))
