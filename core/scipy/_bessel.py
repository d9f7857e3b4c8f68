"""Exponentially scaled modified Bessel functions of orders 0 and 1 (`i0e`, `i1e`) and
the unscaled `i0`, `i1`: thin wrappers over `lax.bessel_i0e` and `lax.bessel_i1e`
(Cephes' Chebyshev expansions and XLA's i1e), whose JVPs the lax primitives carry.
"""
from __future__ import annotations

from typing import Any

import lamina.numpy as lnp
from lamina import dtypes, lax
from lamina.numpy._util import promote_args_inexact

__all__ = ["i0", "i0e", "i1", "i1e"]


def _real_float(name: str, x: Any) -> Any:
    x, = promote_args_inexact(name, x)
    if dtypes.is_complex(x.dtype):
        raise TypeError(f"lamina.scipy.special.{name} does not support complex inputs, "
                         f"got {x.dtype}")
    return x


def i0e(x: Any) -> Any:
    """Exponentially scaled modified Bessel function of order 0, `exp(-|x|) I0(x)`.

    Args:
      x: real array; integers become the default float dtype.

    Returns:
      `i0e(x)`, even in `x`, with `x`'s (inexact) dtype.

    >>> import lamina.numpy as lnp
    >>> i0e(lnp.array([0., 1.]))
    Array([1.0000001 , 0.46575963], dtype=float32)
    """
    return lax.bessel_i0e(_real_float("i0e", x))


def i0(x: Any) -> Any:
    """Modified Bessel function of order 0, `I0(x) = exp(|x|) i0e(x)`.

    >>> i0(0.)
    Array(1.0000001, dtype=float32, weak_type=True)
    """
    x = _real_float("i0", x)
    return lnp.exp(lnp.abs(x)) * lax.bessel_i0e(x)


def i1e(x: Any) -> Any:
    """Exponentially scaled modified Bessel function of order 1, `exp(-|x|) I1(x)`.

    Args:
      x: real array; integers become the default float dtype.

    Returns:
      `i1e(x)`, odd in `x`, with `x`'s (inexact) dtype.

    >>> import lamina.numpy as lnp
    >>> i1e(lnp.array([0., 1.]))
    Array([0.        , 0.20791042], dtype=float32)
    """
    return lax.bessel_i1e(_real_float("i1e", x))


def i1(x: Any) -> Any:
    """Modified Bessel function of order 1, `I1(x) = exp(|x|) i1e(x)`.

    >>> i1(0.)
    Array(0., dtype=float32, weak_type=True)
    """
    x = _real_float("i1", x)
    return lnp.exp(lnp.abs(x)) * lax.bessel_i1e(x)
