"""The beta-binomial distribution: `n` trials whose success probability is drawn from
`Beta(a, b)` (`jax.scipy.stats.betabinom`). Compiled with `jit`, as jax's.

>>> from lamina.scipy.stats import betabinom
>>> betabinom.pmf(1., 2., 1., 1.)  # uniform on {0, 1, 2}
Array(0.33333302, dtype=float32, weak_type=True)
"""
from __future__ import annotations

from typing import Any

import numpy as np

import lamina.numpy as lnp
from lamina._api_jit import jit
from lamina.numpy._util import promote_args_inexact
from lamina.scipy.special import betaln

__all__ = ["logpmf", "pmf"]


@jit
def _logpmf(k: Any, n: Any, a: Any, b: Any, loc: Any) -> Any:
    k, n, a, b, loc = promote_args_inexact("betabinom.logpmf", k, n, a, b, loc)
    y = lnp.floor(k) - loc
    # log C(n, y) = -log(n + 1) - betaln(n - y + 1, y + 1)
    log_choose = -(lnp.log1p(n) + betaln(n - y + 1, y + 1))
    log_beta_ratio = betaln(y + a, n - y + b) - betaln(a, b)
    log_probs = lnp.where((y == 0) & (n == 0), 0., log_choose + log_beta_ratio)
    off_support = (y < -loc) | (y > n) | (y + a <= 0)
    log_probs = lnp.where(off_support, -np.inf, log_probs)
    return lnp.where((n < 0) | (a <= 0) | (b <= 0), np.nan, log_probs)


def logpmf(k: Any, n: Any, a: Any, b: Any, loc: Any = 0) -> Any:
    """Log mass `log C(n, y) + betaln(y + a, n - y + b) - betaln(a, b)` at
    `y = floor(k) - loc`; -inf off `0 <= y <= n`, NaN for negative `n` or non-positive
    `a`, `b`.

    >>> logpmf(0., 0., 2., 3.)
    Array(0., dtype=float32, weak_type=True)
    """
    return _logpmf(k, n, a, b, loc)


def pmf(k: Any, n: Any, a: Any, b: Any, loc: Any = 0) -> Any:
    """Mass `exp(logpmf(k, n, a, b, loc))`.

    >>> pmf(3., 2., 1., 1.)
    Array(0., dtype=float32, weak_type=True)
    """
    return lnp.exp(logpmf(k, n, a, b, loc))
