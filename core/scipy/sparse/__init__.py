"""lamina.scipy.sparse: `jax.scipy.sparse`'s iterative linear solvers (`linalg`).

>>> import lamina.numpy as lnp
>>> from lamina.scipy.sparse import linalg
>>> x, _ = linalg.cg(lnp.array([[2., 0.], [0., 4.]]), lnp.array([2., 2.]))
>>> x.round(4)
Array([1. , 0.5], dtype=float32)
"""
from __future__ import annotations

from lamina.scipy.sparse import linalg as linalg

__all__ = ["linalg"]
