"""Student's t distribution with `df` degrees of freedom (`jax.scipy.stats.t`).

>>> from lamina.scipy.stats import t
>>> t.pdf(0., 1.)
Array(0.31831008, dtype=float32, weak_type=True)
"""
from __future__ import annotations

from typing import Any

import numpy as np

import lamina.numpy as lnp
from lamina import lax
from lamina.numpy._util import promote_args_inexact

__all__ = ["logpdf", "pdf"]


def logpdf(x: Any, df: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """Log density `lgamma((df+1)/2) - lgamma(df/2) - log(pi df scale^2)/2
    - (df+1)/2 log1p(z^2/df)`, `z = (x - loc) / scale`.

    >>> logpdf(0., 1.)
    Array(-1.1447293, dtype=float32, weak_type=True)
    """
    x, df, loc, scale = promote_args_inexact("t.logpdf", x, df, loc, scale)
    z = (x - loc) / scale
    half_df = df / 2
    half_df_plus_half = half_df + 0.5
    log_norm = lnp.log((scale * scale) * np.pi * df) / 2
    normalize_term = (lax.lgamma(half_df) + log_norm) - lax.lgamma(half_df_plus_half)
    quadratic = (z * z) / df
    return -(normalize_term + half_df_plus_half * lnp.log1p(quadratic))


def pdf(x: Any, df: Any, loc: Any = 0, scale: Any = 1) -> Any:
    """Density `exp(logpdf(x, df, loc, scale))`.

    >>> pdf(0., 1.)
    Array(0.31831008, dtype=float32, weak_type=True)
    """
    return lnp.exp(logpdf(x, df, loc, scale))
