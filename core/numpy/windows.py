"""Window functions of jax.numpy: bartlett, blackman, hamming, hanning and kaiser.

The length `M` fixes the result shape, so it must be a concrete Python number (as in
jax); `kaiser`'s `beta` may be traced. Results have the default float dtype.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from lamina import dtypes, lax
from lamina.ir import Tracer
from lamina.numpy._lax_helpers import _full
from lamina.numpy._util import check_arraylike
from lamina.numpy.math_funcs import cos, i0
from lamina.numpy.ufuncs import abs, sqrt

__all__ = ["bartlett", "blackman", "hamming", "hanning", "kaiser"]

Array = Any  # lamina.Array or a Tracer
ArrayLike = Any


def _window_length(M: Any, fn: str) -> int:
    if isinstance(M, Tracer):
        raise M._concrete_value_error(f"the M argument of lamina.numpy.{fn} (the window "
                                      "length fixes the result shape)")
    try:
        m = int(M)
    except TypeError:
        raise TypeError(f"lamina.numpy.{fn}: M must be an integer window length, got "
                        f"{M!r}") from None
    if m < 0:
        raise ValueError(f"lamina.numpy.{fn}: M must be non-negative, got {M!r}")
    return m


def _window(fn: str, M: Any, body: Callable[[Array, int], Array]) -> Array:
    """`body(n, M)` on `n = 0, 1, ..., M-1` (default float); all ones for M <= 1."""
    m = _window_length(M, fn)
    dtype = dtypes.default_float_dtype()
    if m <= 1:
        return _full((m,), 1, dtype)
    return body(lax.iota(dtype, m), m)


def _cos_term(n: Array, m: int, cycles: int) -> Array:
    """cos(2 pi cycles n / (M - 1))."""
    return cos(2 * cycles * np.pi * n / (m - 1))


def bartlett(M: int) -> Array:
    """The Bartlett (triangular) window, `1 - |2n + 1 - M| / (M - 1)` (jax.numpy.bartlett).

    Args:
        M: the window length (static).

    Returns:
        A length-M array of the default float dtype.

    >>> import lamina.numpy as lnp
    >>> lnp.bartlett(5)
    Array([0. , 0.5, 1. , 0.5, 0. ], dtype=float32)
    """
    return _window("bartlett", M, lambda n, m: 1 - abs(2 * n + 1 - m) / (m - 1))


def blackman(M: int) -> Array:
    """The Blackman window,
    `0.42 - 0.5 cos(2 pi n / (M-1)) + 0.08 cos(4 pi n / (M-1))` (jax.numpy.blackman).

    Args:
        M: the window length (static).

    Returns:
        A length-M array of the default float dtype.

    >>> import lamina.numpy as lnp
    >>> lnp.round(lnp.blackman(4), 4)
    Array([-0.  ,  0.63,  0.63, -0.  ], dtype=float32)
    """
    return _window("blackman", M, lambda n, m: 0.42 - 0.5 * _cos_term(n, m, 1)
                   + 0.08 * _cos_term(n, m, 2))


def hamming(M: int) -> Array:
    """The Hamming window, `0.54 - 0.46 cos(2 pi n / (M-1))` (jax.numpy.hamming).

    Args:
        M: the window length (static).

    Returns:
        A length-M array of the default float dtype.

    >>> import lamina.numpy as lnp
    >>> lnp.round(lnp.hamming(3), 4)
    Array([0.08, 1.  , 0.08], dtype=float32)
    """
    return _window("hamming", M, lambda n, m: 0.54 - 0.46 * _cos_term(n, m, 1))


def hanning(M: int) -> Array:
    """The Hann window, `0.5 (1 - cos(2 pi n / (M-1)))` (jax.numpy.hanning).

    Args:
        M: the window length (static).

    Returns:
        A length-M array of the default float dtype.

    >>> import lamina.numpy as lnp
    >>> lnp.hanning(5)
    Array([0. , 0.5, 1. , 0.5, 0. ], dtype=float32)
    """
    return _window("hanning", M, lambda n, m: 0.5 * (1 - _cos_term(n, m, 1)))


def kaiser(M: int, beta: ArrayLike) -> Array:
    """The Kaiser window, `I0(beta sqrt(1 - ((n - a) / a)**2)) / I0(beta)` with
    `a = (M - 1) / 2` (jax.numpy.kaiser).

    Args:
        M: the window length (static).
        beta: the shape parameter (may be traced; differentiable).

    Returns:
        A length-M array of the default float dtype.

    >>> import lamina.numpy as lnp
    >>> lnp.round(lnp.kaiser(3, 5.0), 4)
    Array([0.0367, 1.    , 0.0367], dtype=float32)
    """
    check_arraylike("lamina.numpy.kaiser", beta)

    def body(n: Array, m: int) -> Array:
        alpha = 0.5 * (m - 1)
        return i0(beta * sqrt(1 - ((n - alpha) / alpha) ** 2)) / i0(beta)

    return _window("kaiser", M, body)
