"""The normal distribution truncated to `[a, b]` (in standard deviations around `loc`)
(`jax.scipy.stats.truncnorm`). The log mass of the interval is computed in the left
tail by symmetry (as scipy), so far-tail intervals keep their precision. Compiled with
`jit`, as jax's.

>>> from lamina.scipy.stats import truncnorm
>>> truncnorm.cdf(0., -1., 1.)
Array(0.49999997, dtype=float32)
"""
from __future__ import annotations

from typing import Any

import numpy as np

import lamina.numpy as lnp
from lamina._api_jit import jit
from lamina.numpy._util import promote_args_inexact
from lamina.scipy.special import log_ndtr, logsumexp, ndtr
from lamina.scipy.stats import norm

__all__ = ["cdf", "logcdf", "logpdf", "logsf", "pdf", "sf"]


def _log_diff(log_x: Any, log_y: Any) -> Any:
    """`log(exp(log_x) - exp(log_y))`, through a signed logsumexp."""
    return logsumexp(lnp.array([log_x, log_y]), axis=0,
                     b=lnp.array([lnp.ones_like(log_x), -lnp.ones_like(log_y)]))


def _log_gauss_mass(a: Any, b: Any) -> Any:
    """`log(ndtr(b) - ndtr(a))` for `a <= b`."""
    a, b = lnp.broadcast_arrays(lnp.array(a), lnp.array(b))
    left = b <= 0
    right = a > 0
    # An interval right of 0 is mirrored to the left, where log_ndtr is accurate.
    tail_lo = lnp.where(right, -b, a)
    tail_hi = lnp.where(right, -a, b)
    tail = _log_diff(log_ndtr(tail_hi), log_ndtr(tail_lo))
    # An interval around 0 holds most of the mass: log1p of the two tails left out.
    central = lnp.log1p(-ndtr(a) - ndtr(-b))
    return lnp.where(~(left | right), central, tail)


@jit
def _logpdf(x: Any, a: Any, b: Any, loc: Any, scale: Any) -> Any:
    x, a, b, loc, scale = promote_args_inexact("truncnorm.logpdf", x, a, b, loc, scale)
    log_probs = norm.logpdf(x, loc, scale) - _log_gauss_mass(a, b)
    z = (x - loc) / scale
    log_probs = lnp.where((z < a) | (z > b), -np.inf, log_probs)
    return lnp.where(a >= b, np.nan, log_probs)


@jit
def _logcdf(x: Any, a: Any, b: Any, loc: Any, scale: Any) -> Any:
    x, a, b, loc, scale = promote_args_inexact("truncnorm.logcdf", x, a, b, loc, scale)
    x, a, b = lnp.broadcast_arrays(x, a, b)
    z = (x - loc) / scale
    log_mass = _log_gauss_mass(a, b)
    log_cdf = _log_gauss_mass(a, z) - log_mass
    log_sf = _log_gauss_mass(z, b) - log_mass
    # NOTE: near the top of the interval 1 - sf is more accurate than the cdf's own
    # difference (scipy's switch at log cdf > -0.1).
    log_cdf = lnp.select([z >= b, z <= a, log_cdf > -0.1, z > a],
                         [0, -np.inf, lnp.log1p(-lnp.exp(log_sf)), log_cdf])
    return lnp.where(a >= b, np.nan, log_cdf)


@jit
def _logsf(x: Any, a: Any, b: Any, loc: Any, scale: Any) -> Any:
    x, a, b, loc, scale = promote_args_inexact("truncnorm.logsf", x, a, b, loc, scale)
    return _logcdf(-x, -b, -a, -loc, scale)


def logpdf(x: Any, a: Any, b: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """Log density `norm.logpdf(x, loc, scale) - log(ndtr(b) - ndtr(a))` inside the
    interval, -inf outside; NaN for `a >= b`.

    >>> logpdf(0., -1., 1.)
    Array(-0.5372233, dtype=float32)
    """
    return _logpdf(x, a, b, loc, scale)


def pdf(x: Any, a: Any, b: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """Density `exp(logpdf(x, a, b, loc, scale))`.

    >>> pdf(2., -1., 1.)
    Array(0., dtype=float32)
    """
    return lnp.exp(logpdf(x, a, b, loc, scale))


def logcdf(x: Any, a: Any, b: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """`log P(X <= x)`: 0 above `b`, -inf below `a`; NaN for `a >= b`.

    >>> logcdf(1., -1., 1.)
    Array(0., dtype=float32)
    """
    return _logcdf(x, a, b, loc, scale)


def cdf(x: Any, a: Any, b: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """`P(X <= x) = exp(logcdf(x, a, b, loc, scale))`.

    >>> cdf(-2., -1., 1.)
    Array(0., dtype=float32)
    """
    return lnp.exp(logcdf(x, a, b, loc, scale))


def logsf(x: Any, a: Any, b: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """`log P(X > x)`, the mirrored `logcdf(-x, -b, -a, -loc, scale)`.

    >>> logsf(-1., -1., 1.)
    Array(0., dtype=float32)
    """
    return _logsf(x, a, b, loc, scale)


def sf(x: Any, a: Any, b: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """`P(X > x) = exp(logsf(x, a, b, loc, scale))`.

    >>> sf(0., -1., 1.)
    Array(0.49999997, dtype=float32)
    """
    return lnp.exp(logsf(x, a, b, loc, scale))
