"""The Laplace (double exponential) distribution (`jax.scipy.stats.laplace`).

>>> from lamina.scipy.stats import laplace
>>> laplace.cdf(0.)
Array(0.5, dtype=float32, weak_type=True)
"""
from __future__ import annotations

from typing import Any

import lamina.numpy as lnp
from lamina.numpy._util import promote_args_inexact

__all__ = ["cdf", "logpdf", "pdf"]


def logpdf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """Log density `-|x - loc| / scale - log(2 scale)`.

    >>> logpdf(0.)
    Array(-0.6931472, dtype=float32, weak_type=True)
    """
    x, loc, scale = promote_args_inexact("laplace.logpdf", x, loc, scale)
    return -(lnp.abs(x - loc) / scale + lnp.log(2 * scale))


def pdf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """Density `exp(logpdf(x, loc, scale))`.

    >>> pdf(0.)
    Array(0.5, dtype=float32, weak_type=True)
    """
    return lnp.exp(logpdf(x, loc, scale))


def cdf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """Distribution function: `exp(z) / 2` for `z <= 0`, else `1 - exp(-z) / 2`.

    >>> cdf(-1.)
    Array(0.18393973, dtype=float32, weak_type=True)
    """
    x, loc, scale = promote_args_inexact("laplace.cdf", x, loc, scale)
    z = (x - loc) / scale
    return lnp.where(z <= 0, 0.5 * lnp.exp(z), 1 - 0.5 * lnp.exp(-z))
