"""lamina.scipy.optimize: `jax.scipy.optimize`'s `minimize` (BFGS) and `OptimizeResults`.

The strong-Wolfe line search BFGS uses is `lamina.scipy.optimize.line_search.line_search`
(private in jax).

>>> import lamina.numpy as lnp
>>> from lamina.scipy.optimize import minimize
>>> res = minimize(lambda x: lnp.sum((x - 2.) ** 2), lnp.zeros(2), method="BFGS")
>>> res.x, res.success
(Array([2., 2.], dtype=float32), Array(True, dtype=bool))
"""
from __future__ import annotations

from lamina.scipy.optimize._minimize import OptimizeResults as OptimizeResults
from lamina.scipy.optimize._minimize import minimize as minimize

__all__ = ["OptimizeResults", "minimize"]
