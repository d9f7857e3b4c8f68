"""The gamma distribution with shape `a` (`jax.scipy.stats.gamma`); the cdf family
waits for the incomplete gamma function.

>>> from lamina.scipy.stats import gamma
>>> gamma.pdf(1., 1.)
Array(0.36787927, dtype=float32, weak_type=True)
"""
from __future__ import annotations

from typing import Any

import numpy as np

import lamina.numpy as lnp
from lamina.numpy._util import promote_args_inexact
from lamina.scipy.special import gammaln, xlogy

__all__ = ["logpdf", "pdf"]


def logpdf(x: Any, a: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """Log density `(a-1) log(y) - y - gammaln(a) - log(scale)`, `y = (x - loc) / scale`;
    -inf below `loc`.

    >>> logpdf(1., 1.)
    Array(-1.0000005, dtype=float32, weak_type=True)
    """
    x, a, loc, scale = promote_args_inexact("gamma.logpdf", x, a, loc, scale)
    ok = x >= loc
    # NOTE: y = 1 off the support keeps the unused branch (and its gradient) finite.
    y = lnp.where(ok, (x - loc) / scale, 1)
    log_linear_term = xlogy(a - 1, y) - y
    shape_terms = gammaln(a) + lnp.log(scale)
    return lnp.where(ok, log_linear_term - shape_terms, -np.inf)


def pdf(x: Any, a: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """Density `exp(logpdf(x, a, loc, scale))`.

    >>> pdf(0., 1.)
    Array(0.9999995, dtype=float32, weak_type=True)
    """
    return lnp.exp(logpdf(x, a, loc, scale))
