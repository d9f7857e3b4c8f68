"""The Cauchy distribution (`jax.scipy.stats.cauchy`).

>>> from lamina.scipy.stats import cauchy
>>> cauchy.cdf(0.)
Array(0.5, dtype=float32, weak_type=True)
"""
from __future__ import annotations

from typing import Any

import numpy as np

import lamina.numpy as lnp
from lamina.numpy._util import promote_args_inexact

__all__ = ["cdf", "isf", "logcdf", "logpdf", "logsf", "pdf", "ppf", "sf"]


def _inv_pi(dtype: Any) -> float:
    # NOTE: 1/pi rounded as the division in `dtype` rounds it (jax divides there).
    return float(np.asarray(1.0, dtype) / np.asarray(np.pi, dtype))


def logpdf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """Log density `-log(pi scale) - log1p(z^2)`, `z = (x - loc) / scale`.

    >>> logpdf(0.)
    Array(-1.1447299, dtype=float32, weak_type=True)
    """
    x, loc, scale = promote_args_inexact("cauchy.logpdf", x, loc, scale)
    z = (x - loc) / scale
    return -(lnp.log(np.pi * scale) + lnp.log1p(z * z))


def pdf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """Density `exp(logpdf(x, loc, scale))`.

    >>> pdf(0.)
    Array(0.3183099, dtype=float32, weak_type=True)
    """
    return lnp.exp(logpdf(x, loc, scale))


def cdf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """Distribution function `1/2 + arctan(z) / pi`.

    >>> cdf(1.)
    Array(0.75, dtype=float32, weak_type=True)
    """
    x, loc, scale = promote_args_inexact("cauchy.cdf", x, loc, scale)
    z = (x - loc) / scale
    return 0.5 + _inv_pi(x.dtype) * lnp.arctan(z)


def logcdf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """`log(cdf(x, loc, scale))`.

    >>> logcdf(0.)
    Array(-0.6931472, dtype=float32, weak_type=True)
    """
    return lnp.log(cdf(x, loc, scale))


def sf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """Survival function `cdf(-x, -loc, scale)`.

    >>> sf(1.)
    Array(0.25, dtype=float32, weak_type=True)
    """
    x, loc, scale = promote_args_inexact("cauchy.sf", x, loc, scale)
    return cdf(-x, -loc, scale)


def logsf(x: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """`log(sf(x, loc, scale))`.

    >>> logsf(0.)
    Array(-0.6931472, dtype=float32, weak_type=True)
    """
    x, loc, scale = promote_args_inexact("cauchy.logsf", x, loc, scale)
    return logcdf(-x, -loc, scale)


def isf(q: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """Inverse survival function `tan(pi/2 - pi q) scale + loc`.

    >>> isf(0.25)
    Array(1., dtype=float32, weak_type=True)
    """
    q, loc, scale = promote_args_inexact("cauchy.isf", q, loc, scale)
    return lnp.tan(np.pi / 2 - np.pi * q) * scale + loc


def ppf(q: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """Quantile function `tan(pi q - pi/2) scale + loc`.

    >>> ppf(0.75)
    Array(0.99999994, dtype=float32, weak_type=True)
    """
    q, loc, scale = promote_args_inexact("cauchy.ppf", q, loc, scale)
    return lnp.tan(np.pi * q - np.pi / 2) * scale + loc
