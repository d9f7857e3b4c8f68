"""The von Mises distribution on the circle, concentration `kappa`
(`jax.scipy.stats.vonmises`), normalized over `[-pi, pi]`.

>>> from lamina.scipy.stats import vonmises
>>> vonmises.pdf(0., 1.)
Array(0.34171045, dtype=float32, weak_type=True)
"""
from __future__ import annotations

from typing import Any

import numpy as np

import lamina.numpy as lnp
from lamina import lax
from lamina.numpy._util import promote_args_inexact

__all__ = ["logpdf", "pdf"]


def logpdf(x: Any, kappa: Any) -> Any:
    """Log density `kappa cos(x) - log(2 pi I0(kappa))`, computed as
    `kappa (cos(x) - 1) - log(2 pi i0e(kappa))` so large `kappa` does not overflow; NaN
    for `kappa <= 0`.

    >>> logpdf(0., 100.)
    Array(1.3823903, dtype=float32, weak_type=True)
    """
    x, kappa = promote_args_inexact("vonmises.logpdf", x, kappa)
    log_probs = kappa * (lnp.cos(x) - 1) - lnp.log(2 * np.pi * lax.bessel_i0e(kappa))
    return lnp.where(kappa > 0, log_probs, np.nan)


def pdf(x: Any, kappa: Any) -> Any:
    """Density `exp(logpdf(x, kappa))`.

    >>> pdf(0., 0.)
    Array(nan, dtype=float32, weak_type=True)
    """
    return lnp.exp(logpdf(x, kappa))
