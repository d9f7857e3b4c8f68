"""lamina.scipy.integrate: `jax.scipy.integrate.trapezoid`.

>>> import lamina.numpy as lnp
>>> from lamina.scipy.integrate import trapezoid
>>> trapezoid(lnp.array([1., 2., 3.]), dx=0.5)
Array(2., dtype=float32)
"""
from __future__ import annotations

from typing import Any

import lamina.numpy as lnp

__all__ = ["trapezoid"]


def trapezoid(y: Any, x: Any = None, dx: Any = 1.0, axis: int = -1) -> Any:
    """Integrates `y` along `axis` with the composite trapezoidal rule, as
    `jax.scipy.integrate.trapezoid` (the same as `lamina.numpy.trapezoid`).

    Args:
        y: the sampled values.
        x: the sample points (1-D along `axis`, or shaped like `y`); when None the
            points are `dx` apart.
        dx: the spacing used when `x` is None (default 1.0).
        axis: the axis to integrate over (default -1).

    Returns:
        The integral, `y` with `axis` removed.

    >>> import lamina.numpy as lnp
    >>> from lamina.scipy.integrate import trapezoid
    >>> trapezoid(lnp.array([1, 2, 3, 2, 3, 2, 1]), lnp.array([0, 2, 5, 7, 10, 15, 20]))
    Array(43., dtype=float32)
    """
    return lnp.trapezoid(y, x, dx, axis)
