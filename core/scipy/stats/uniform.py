"""The uniform distribution on `[loc, loc + scale]` (`jax.scipy.stats.uniform`).

>>> from lamina.scipy.stats import uniform
>>> uniform.pdf(0.5)
Array(1., dtype=float32, weak_type=True)
"""
from __future__ import annotations

from typing import Any

import numpy as np

import lamina.numpy as lnp
from lamina.numpy._util import promote_args_inexact

__all__ = ["cdf", "logpdf", "pdf", "ppf"]


def logpdf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """Log density: `-log(scale)` inside the interval, -inf outside.

    >>> logpdf(2.)
    Array(-inf, dtype=float32, weak_type=True)
    """
    x, loc, scale = promote_args_inexact("uniform.logpdf", x, loc, scale)
    log_probs = -lnp.log(scale)
    return lnp.where((x > loc + scale) | (x < loc), -np.inf, log_probs)


def pdf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """Density `exp(logpdf(x, loc, scale))`.

    >>> pdf(0.5, 0, 2)
    Array(0.5, dtype=float32, weak_type=True)
    """
    return lnp.exp(logpdf(x, loc, scale))


def cdf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """Distribution function: 0 below, `(x - loc) / scale` inside, 1 above (0 for NaN).

    >>> cdf(0.25)
    Array(0.25, dtype=float32)
    """
    x, loc, scale = promote_args_inexact("uniform.cdf", x, loc, scale)
    hi = loc + scale
    zero, one = lnp.array(0, x.dtype), lnp.array(1, x.dtype)
    return lnp.select([x < loc, x > hi, (x >= loc) & (x <= hi)],
                      [zero, one, (x - loc) / scale])


def ppf(q: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """Quantile function `loc + scale q`; NaN outside [0, 1].

    >>> ppf(0.5, 1, 2)
    Array(2., dtype=float32, weak_type=True)
    """
    q, loc, scale = promote_args_inexact("uniform.ppf", q, loc, scale)
    return lnp.where(lnp.isnan(q) | (q < 0) | (q > 1), np.nan, loc + scale * q)
