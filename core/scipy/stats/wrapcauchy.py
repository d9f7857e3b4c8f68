"""The wrapped Cauchy distribution on `[0, 2 pi]` with shape `c` in (0, 1)
(`jax.scipy.stats.wrapcauchy`).

>>> from lamina.scipy.stats import wrapcauchy
>>> wrapcauchy.pdf(0., 0.5)
Array(0.47746485, dtype=float32, weak_type=True)
"""
from __future__ import annotations

from typing import Any

import numpy as np

import lamina.numpy as lnp
from lamina.numpy._util import promote_args_inexact

__all__ = ["logpdf", "pdf"]


def logpdf(x: Any, c: Any) -> Any:
    """Log density `log(1 - c^2) - log(2 pi) - log(1 + c^2 - 2 c cos(x))`; -inf outside
    `[0, 2 pi]`, NaN unless `0 < c < 1`.

    >>> logpdf(7., 0.5)
    Array(-inf, dtype=float32, weak_type=True)
    """
    x, c = promote_args_inexact("wrapcauchy.logpdf", x, c)
    c_sq = c * c
    log_probs = (lnp.log(1 - c_sq) - lnp.log(2 * np.pi)
                 - lnp.log(1 + c_sq - 2 * c * lnp.cos(x)))
    inside = (x >= 0) & (x <= 2 * np.pi)
    return lnp.where((c > 0) & (c < 1), lnp.where(inside, log_probs, -np.inf), np.nan)


def pdf(x: Any, c: Any) -> Any:
    """Density `exp(logpdf(x, c))`.

    >>> pdf(1., 1.)
    Array(nan, dtype=float32, weak_type=True)
    """
    return lnp.exp(logpdf(x, c))
