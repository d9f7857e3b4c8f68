"""The gamma distribution with shape `a` (`jax.scipy.stats.gamma`).

>>> from lamina.scipy.stats import gamma
>>> gamma.pdf(1., 1.)
Array(0.36787927, dtype=float32, weak_type=True)
"""
from __future__ import annotations

from typing import Any

import numpy as np

import lamina.numpy as lnp
from lamina.numpy._util import promote_args_inexact
from lamina.scipy.special import gammainc, gammaincc, gammaln, xlogy

__all__ = ["cdf", "logcdf", "logpdf", "logsf", "pdf", "sf"]


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


def _standardized(name: str, x: Any, a: Any, loc: Any, scale: Any) -> tuple[Any, Any]:
    """`(a, y)` with `y = (x - loc) / scale` clipped to the support `[0, inf]`."""
    x, a, loc, scale = promote_args_inexact(name, x, a, loc, scale)
    return a, lnp.clip((x - loc) / scale, 0, np.inf)


def cdf(x: Any, a: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """`P(X <= x)`: `gammainc(a, y)` at the standardized `y` (0 below `loc`).

    >>> cdf(2., 1.)  # 1 - exp(-2)
    Array(0.8646648, dtype=float32, weak_type=True)
    """
    return gammainc(*_standardized("gamma.cdf", x, a, loc, scale))


def logcdf(x: Any, a: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """`log(cdf(x, a, loc, scale))`.

    >>> logcdf(2., 1.)
    Array(-0.14541337, dtype=float32, weak_type=True)
    """
    return lnp.log(cdf(x, a, loc, scale))


def sf(x: Any, a: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """`P(X > x)`: `gammaincc(a, y)`, accurate in the upper tail.

    >>> sf(30., 1.)  # exp(-30)
    Array(9.3576236e-14, dtype=float32, weak_type=True)
    """
    return gammaincc(*_standardized("gamma.sf", x, a, loc, scale))


def logsf(x: Any, a: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """`log(sf(x, a, loc, scale))`.

    >>> logsf(30., 1.)
    Array(-30., dtype=float32, weak_type=True)
    """
    return lnp.log(sf(x, a, loc, scale))
