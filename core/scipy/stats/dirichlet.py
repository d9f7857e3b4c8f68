"""The Dirichlet distribution on the probability simplex (`jax.scipy.stats.dirichlet`).

>>> import lamina.numpy as lnp
>>> from lamina.scipy.stats import dirichlet
>>> dirichlet.pdf(lnp.array([0.25, 0.75]), lnp.array([1., 1.]))
Array(0.99999905, dtype=float32)
"""
from __future__ import annotations

from typing import Any

import numpy as np

import lamina.numpy as lnp
from lamina.numpy._util import promote_dtypes_inexact
from lamina.scipy.special import gammaln, xlogy

__all__ = ["logpdf", "pdf"]


def logpdf(x: Any, alpha: Any) -> Any:
    """Log density `sum_i (alpha_i - 1) log(x_i) - log B(alpha)`; -inf off the simplex
    (a non-positive coordinate, or coordinates not summing to 1 within 1e-6).

    Args:
      x: points `[k, ...]` (the simplex axis first, as jax and scipy), or
        `[k - 1, ...]`, the last coordinate then being `1 - sum(x)`.
      alpha: the concentrations `[k]`.

    Raises:
      ValueError: if `alpha` is not one-dimensional or `x.shape[0]` is neither `k` nor
        `k - 1`.

    >>> import lamina.numpy as lnp
    >>> logpdf(lnp.array([0.5]), lnp.array([2., 2.]))
    Array(0.40546596, dtype=float32)
    """
    x, alpha = promote_dtypes_inexact(x, alpha)
    if alpha.ndim != 1:
        raise ValueError("lamina.scipy.stats.dirichlet.logpdf: alpha must be "
                         f"one-dimensional; got alpha.shape={alpha.shape}")
    k = alpha.shape[0]
    if x.ndim == 0 or x.shape[0] not in (k, k - 1):
        raise ValueError("lamina.scipy.stats.dirichlet.logpdf: x must have k or k - 1 "
                         "entries along axis 0 for k = len(alpha); got "
                         f"x.shape={x.shape}, alpha.shape={alpha.shape}")
    if x.shape[0] != k:
        x = lnp.concatenate([x, 1 - x.sum(0, keepdims=True)], axis=0)
    log_beta = lnp.sum(gammaln(alpha)) - gammaln(lnp.sum(alpha))
    alpha = alpha.reshape(alpha.shape + (1,) * (x.ndim - 1))
    log_probs = lnp.sum(xlogy(alpha - 1, x), axis=0) - log_beta
    on_simplex = lnp.all(x > 0, axis=0) & (abs(lnp.sum(x, axis=0) - 1) < 1e-6)
    return lnp.where(on_simplex, log_probs, -np.inf)


def pdf(x: Any, alpha: Any) -> Any:
    """Density `exp(logpdf(x, alpha))`.

    >>> import lamina.numpy as lnp
    >>> pdf(lnp.array([0.5, 0.6]), lnp.array([2., 2.]))
    Array(0., dtype=float32)
    """
    return lnp.exp(logpdf(x, alpha))
