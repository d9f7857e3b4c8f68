"""The multinomial distribution: counts `x` of `n` draws over categories with
probabilities `p` (`jax.scipy.stats.multinomial`).

>>> import lamina.numpy as lnp
>>> from lamina.scipy.stats import multinomial
>>> multinomial.pmf(lnp.array([1, 1]), 2, lnp.array([0.5, 0.5]))
Array(0.5000001, dtype=float32)
"""
from __future__ import annotations

from typing import Any

import numpy as np

import lamina.numpy as lnp
from lamina import dtypes
from lamina.numpy._util import check_arraylike, promote_args_inexact, promote_dtypes
from lamina.scipy.special import gammaln, xlogy

__all__ = ["logpmf", "pmf"]


def logpmf(x: Any, n: Any, p: Any) -> Any:
    """Log mass `log n! + sum_i (x_i log p_i - log x_i!)` over the last axis; -inf where
    the counts do not add up to `n` (the sum is over all of `x`, as jax's).

    Args:
      x: integer counts `[..., k]`.
      n: the integer number of draws.
      p: category probabilities `[..., k]`.

    Raises:
      ValueError: if `x` and `n` do not promote to an integer dtype.

    >>> import lamina.numpy as lnp
    >>> logpmf(lnp.array([2, 0]), 3, lnp.array([0.5, 0.5]))
    Array(-inf, dtype=float32)
    """
    p, = promote_args_inexact("multinomial.logpmf", p)
    check_arraylike("multinomial.logpmf", x, n)
    x, n = promote_dtypes(x, n)
    if x.dtype == np.bool_:
        int_dtype = dtypes.default_int_dtype()
        x, n = x.astype(int_dtype), n.astype(int_dtype)
    if not np.issubdtype(x.dtype, np.integer):
        raise ValueError("lamina.scipy.stats.multinomial.logpmf: x and n must be "
                         f"integers; got x.dtype={x.dtype}, n.dtype={n.dtype}")
    x, n = x.astype(p.dtype), n.astype(p.dtype)
    log_probs = gammaln(n + 1) + lnp.sum(xlogy(x, p) - gammaln(x + 1), axis=-1)
    return lnp.where(lnp.sum(x) == n, log_probs, -np.inf)


def pmf(x: Any, n: Any, p: Any) -> Any:
    """Mass `exp(logpmf(x, n, p))`.

    >>> import lamina.numpy as lnp
    >>> pmf(lnp.array([0, 3]), 3, lnp.array([0.5, 0.5]))
    Array(0.12499994, dtype=float32)
    """
    return lnp.exp(logpmf(x, n, p))
