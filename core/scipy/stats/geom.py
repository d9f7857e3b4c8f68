"""The geometric distribution: the trial of the first success, success probability `p`,
support `k >= 1` (`jax.scipy.stats.geom`).

>>> from lamina.scipy.stats import geom
>>> geom.pmf(2., 0.5)
Array(0.25, dtype=float32, weak_type=True)
"""
from __future__ import annotations

from typing import Any

import numpy as np

import lamina.numpy as lnp
from lamina.numpy._util import promote_args_inexact
from lamina.scipy.special import xlog1py

__all__ = ["logpmf", "pmf"]


def logpmf(k: Any, p: Any, loc: Any = 0) -> Any:
    """Log mass `(y - 1) log(1 - p) + log(p)` at `y = k - loc`; -inf for `y <= 0`.

    >>> logpmf(1., 0.25)
    Array(-1.3862944, dtype=float32, weak_type=True)
    """
    k, p, loc = promote_args_inexact("geom.logpmf", k, p, loc)
    y = k - loc
    log_probs = xlog1py(y - 1, -p) + lnp.log(p)
    return lnp.where(y <= 0, -np.inf, log_probs)


def pmf(k: Any, p: Any, loc: Any = 0) -> Any:
    """Mass `exp(logpmf(k, p, loc))`.

    >>> pmf(0., 0.5)
    Array(0., dtype=float32, weak_type=True)
    """
    return lnp.exp(logpmf(k, p, loc))
