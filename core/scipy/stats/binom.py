"""The binomial distribution: `n` trials with success probability `p`
(`jax.scipy.stats.binom`).

>>> from lamina.scipy.stats import binom
>>> binom.pmf(1., 2., 0.5)
Array(0.5000001, dtype=float32, weak_type=True)
"""
from __future__ import annotations

from typing import Any

import numpy as np

import lamina.numpy as lnp
from lamina.numpy._util import promote_args_inexact
from lamina.scipy.special import gammaln, xlog1py, xlogy

__all__ = ["logpmf", "pmf"]


def logpmf(k: Any, n: Any, p: Any, loc: Any = 0) -> Any:
    """Log mass `log C(n, y) + y log(p) + (n - y) log(1 - p)` at `y = k - loc`; -inf
    unless `0 <= y < n + 1`. A zero-trial or certain outcome (`y == n == 0`, or a
    vanishing `y log p + (n-y) log(1-p)`) has log mass exactly 0.

    >>> logpmf(0., 3., 0.5)
    Array(-2.079442, dtype=float32, weak_type=True)
    """
    k, n, p, loc = promote_args_inexact("binom.logpmf", k, n, p, loc)
    y = k - loc
    log_choose = gammaln(n + 1) - (gammaln(y + 1) + gammaln(n - y + 1))
    log_power_term = xlogy(y, p) + xlog1py(n - y, -p)
    # NOTE: p in {0, 1} makes the power term exactly 0; forcing the log mass to 0 there
    # hides the rounding of the gammaln differences, as jax does.
    certain = ((y == 0) & (n == 0)) | (log_power_term == 0)
    log_probs = lnp.where(certain, 0., log_choose + log_power_term)
    return lnp.where((k >= loc) & (k < loc + n + 1), log_probs, -np.inf)


def pmf(k: Any, n: Any, p: Any, loc: Any = 0) -> Any:
    """Mass `exp(logpmf(k, n, p, loc))`.

    >>> pmf(3., 3., 0.5)
    Array(0.12499994, dtype=float32, weak_type=True)
    """
    return lnp.exp(logpmf(k, n, p, loc))
