"""The negative binomial distribution: failures before the `n`-th success, success
probability `p` (`jax.scipy.stats.nbinom`).

>>> from lamina.scipy.stats import nbinom
>>> nbinom.pmf(0., 2., 0.5)
Array(0.24999988, dtype=float32, weak_type=True)
"""
from __future__ import annotations

from typing import Any

import numpy as np

import lamina.numpy as lnp
from lamina.numpy._util import promote_args_inexact
from lamina.scipy.special import gammaln, xlogy

__all__ = ["logpmf", "pmf"]


def logpmf(k: Any, n: Any, p: Any, loc: Any = 0) -> Any:
    """Log mass `log C(y + n - 1, n - 1) + n log(p) + y log(1 - p)` at `y = k - loc`;
    -inf below `loc`.

    >>> logpmf(1., 2., 0.5)
    Array(-1.3862941, dtype=float32, weak_type=True)
    """
    k, n, p, loc = promote_args_inexact("nbinom.logpmf", k, n, p, loc)
    y = k - loc
    log_choose = (gammaln(y + n) - gammaln(n)) - gammaln(y + 1)
    log_power_term = xlogy(n, p) + xlogy(y, 1 - p)
    return lnp.where(k < loc, -np.inf, log_choose + log_power_term)


def pmf(k: Any, n: Any, p: Any, loc: Any = 0) -> Any:
    """Mass `exp(logpmf(k, n, p, loc))`.

    >>> pmf(-1., 2., 0.5)
    Array(0., dtype=float32, weak_type=True)
    """
    return lnp.exp(logpmf(k, n, p, loc))
