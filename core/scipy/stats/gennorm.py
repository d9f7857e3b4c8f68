"""The generalized normal distribution with shape `beta`, density proportional to
`exp(-|x|^beta)` (`jax.scipy.stats.gennorm`): `beta = 2` is a normal with variance 1/2,
`beta = 1` a Laplace.

>>> from lamina.scipy.stats import gennorm
>>> gennorm.cdf(0., 2.)
Array(0.5, dtype=float32, weak_type=True)
"""
from __future__ import annotations

from typing import Any

import lamina.numpy as lnp
from lamina import lax
from lamina.numpy._util import promote_args_inexact

__all__ = ["cdf", "logpdf", "pdf"]


def logpdf(x: Any, beta: Any) -> Any:
    """Log density `log(beta / 2) - gammaln(1 / beta) - |x|^beta`.

    >>> logpdf(0., 1.)
    Array(-0.69314766, dtype=float32, weak_type=True)
    """
    x, beta = promote_args_inexact("gennorm.logpdf", x, beta)
    return lnp.log(0.5 * beta) - lax.lgamma(1 / beta) - lnp.abs(x) ** beta


def pdf(x: Any, beta: Any) -> Any:
    """Density `exp(logpdf(x, beta))`.

    >>> pdf(0., 1.)
    Array(0.49999976, dtype=float32, weak_type=True)
    """
    return lnp.exp(logpdf(x, beta))


def cdf(x: Any, beta: Any) -> Any:
    """`P(X <= x) = (1 + sign(x) P(1/beta, |x|^beta)) / 2`, `P` the regularized lower
    incomplete gamma function.

    >>> cdf(1., 1.)  # Laplace: 1 - exp(-1) / 2
    Array(0.81606007, dtype=float32, weak_type=True)
    """
    x, beta = promote_args_inexact("gennorm.cdf", x, beta)
    return 0.5 * (1 + lnp.sign(x) * lax.igamma(1 / beta, lnp.abs(x) ** beta))
