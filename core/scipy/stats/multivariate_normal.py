"""The multivariate normal distribution `N(mean, cov)`
(`jax.scipy.stats.multivariate_normal`).

>>> import lamina.numpy as lnp
>>> from lamina.scipy.stats import multivariate_normal
>>> multivariate_normal.logpdf(lnp.zeros(2), lnp.zeros(2), lnp.eye(2))
Array(-1.837877, dtype=float32)
"""
from __future__ import annotations

from typing import Any

import numpy as np

import lamina.numpy as lnp
from lamina.lax import linalg as lax_linalg
from lamina.numpy._util import broadcast_shapes, broadcast_to_shape, promote_dtypes_inexact

__all__ = ["logpdf", "pdf"]


def logpdf(x: Any, mean: Any, cov: Any, allow_singular: None = None) -> Any:
    """Log density of `N(mean, cov)` at `x`, through the Cholesky factor of `cov`.

    Args:
      x: points `[..., n]` (or scalars for a 1-d normal).
      mean: `[..., n]` (or a scalar).
      cov: `[..., n, n]`, or a scalar variance shared by all coordinates.
      allow_singular: not supported (must be None).

    Returns:
      `[...]`: the log densities, batch dimensions broadcast.

    Raises:
      NotImplementedError: for `allow_singular`.
      ValueError: if `cov` is not `[..., n, n]`.

    >>> import lamina.numpy as lnp
    >>> logpdf(lnp.ones(2), lnp.zeros(2), 2.)
    Array(-3.0310242, dtype=float32)
    """
    if allow_singular is not None:
        raise NotImplementedError("lamina.scipy.stats.multivariate_normal.logpdf: "
                                  "allow_singular is not supported")
    x, mean, cov = promote_dtypes_inexact(x, mean, cov)
    if not mean.shape:
        return (-1 / 2 * lnp.square(x - mean) / cov
                - 1 / 2 * (lnp.log(2 * np.pi) + lnp.log(cov)))
    n = mean.shape[-1]
    if not cov.shape:
        y = x - mean
        return (-1 / 2 * lnp.einsum("...i,...i->...", y, y) / cov
                - n / 2 * (lnp.log(2 * np.pi) + lnp.log(cov)))
    if cov.ndim < 2 or cov.shape[-2:] != (n, n):
        raise ValueError("lamina.scipy.stats.multivariate_normal.logpdf: cov must have "
                         f"shape (..., {n}, {n}) to match mean {mean.shape}, got "
                         f"{cov.shape}")
    chol = lax_linalg.cholesky(cov)
    d = x - mean
    batch = broadcast_shapes("multivariate_normal.logpdf", chol.shape[:-2], d.shape[:-1])
    chol = broadcast_to_shape(chol, (*batch, n, n))
    d = broadcast_to_shape(d, (*batch, n))
    # y = L^-1 (x - mean), so that y.y is the Mahalanobis distance.
    y = lax_linalg.triangular_solve(chol, d, left_side=True, lower=True)
    log_diag = lnp.log(lnp.diagonal(chol, axis1=-1, axis2=-2)).sum(-1)
    return (-1 / 2 * lnp.einsum("...i,...i->...", y, y) - n / 2 * lnp.log(2 * np.pi)
            - log_diag)


def pdf(x: Any, mean: Any, cov: Any) -> Any:
    """Density `exp(logpdf(x, mean, cov))`.

    >>> import lamina.numpy as lnp
    >>> pdf(lnp.zeros(2), lnp.zeros(2), lnp.eye(2))
    Array(0.15915495, dtype=float32)
    """
    return lnp.exp(logpdf(x, mean, cov))
