"""Exponentially scaled modified Bessel functions of orders 0 and 1 (`i0e`, `i1e`) and
the unscaled `i0`, `i1`.

`i0e` is computed from Cephes' Chebyshev expansions (S. L. Moshier, Cephes Math Library,
`i0.c`: one series on [0, 8], one in 32/x beyond), the float64 tables in full and their
tails (the float32 tables) in single precision; float16/bfloat16 go through float32.
`i1e` is lax's `bessel_i1e` with a derivative (lax's has none) through `i0e`.
"""
from __future__ import annotations

from typing import Any

import numpy as np

import lamina.numpy as lnp
from lamina import dtypes, lax
from lamina.custom_derivatives import custom_jvp
from lamina.numpy._util import promote_args_inexact

__all__ = ["i0", "i0e", "i1", "i1e"]

# Chebyshev coefficients of exp(-x) I0(x) in (x/2 - 2), for x in [0, 8].
_I0E_SMALL = (
    -4.41534164647933937950E-18, 3.33079451882223809783E-17, -2.43127984654795469359E-16,
    1.71539128555513303061E-15, -1.16853328779934516808E-14, 7.67618549860493561688E-14,
    -4.85644678311192946090E-13, 2.95505266312963983461E-12, -1.72682629144155570723E-11,
    9.67580903537323691224E-11, -5.18979560163526290666E-10, 2.65982372468238665035E-9,
    -1.30002500998624804212E-8, 6.04699502254191894932E-8, -2.67079385394061173391E-7,
    1.11738753912010371815E-6, -4.41673835845875056359E-6, 1.64484480707288970893E-5,
    -5.75419501008210370398E-5, 1.88502885095841655729E-4, -5.76375574538582365885E-4,
    1.63947561694133579842E-3, -4.32430999505057594430E-3, 1.05464603945949983183E-2,
    -2.37374148058994688156E-2, 4.93052842396707084878E-2, -9.49010970480476444210E-2,
    1.71620901522208775349E-1, -3.04682672343198398683E-1, 6.76795274409476084995E-1,
)
# Chebyshev coefficients of exp(-x) sqrt(x) I0(x) in (32/x - 2), for x > 8.
_I0E_LARGE = (
    -7.23318048787475395456E-18, -4.83050448594418207126E-18, 4.46562142029675999901E-17,
    3.46122286769746109310E-17, -2.82762398051658348494E-16, -3.42548561967721913462E-16,
    1.77256013305652638360E-15, 3.81168066935262242075E-15, -9.55484669882830764870E-15,
    -4.15056934728722208663E-14, 1.54008621752140982691E-14, 3.85277838274214270114E-13,
    7.18012445138366623367E-13, -1.79417853150680611778E-12, -1.32158118404477131188E-11,
    -3.14991652796324136454E-11, 1.18891471078464383424E-11, 4.94060238822496958910E-10,
    3.39623202570838634515E-9, 2.26666899049817806459E-8, 2.04891858946906374183E-7,
    2.89137052083475648297E-6, 6.88975834691682398426E-5, 3.36911647825569408990E-3,
    8.04490411014108831608E-1,
)
# Single precision keeps the leading terms only (the last ones of each table).
_F32_TERMS = (18, 7)


def _chebyshev(t: Any, coefficients: tuple[float, ...]) -> Any:
    """Clenshaw's recurrence for `sum_k c_k T_k(t / 2)` (Cephes `chbevl`)."""
    b0 = b1 = b2 = lnp.zeros_like(t)
    for c in coefficients:
        b2, b1 = b1, b0
        b0 = t * b1 - b2 + c
    return 0.5 * (b0 - b2)


def _i0e_impl(x: Any) -> Any:
    small, large = _I0E_SMALL, _I0E_LARGE
    if x.dtype != np.float64:
        small, large = small[-_F32_TERMS[0]:], large[-_F32_TERMS[1]:]
    ax = lnp.abs(x)
    near = _chebyshev(0.5 * ax - 2.0, small)
    far = _chebyshev(32.0 / ax - 2.0, large) / lnp.sqrt(ax)
    return lnp.where(ax <= 8.0, near, far)


@custom_jvp
def _i0e(x: Any) -> Any:
    if x.dtype in (np.float32, np.float64):
        return _i0e_impl(x)
    # NOTE: the Cephes tables are too precise for 16-bit floats; evaluate in float32.
    return _i0e_impl(x.astype(np.float32)).astype(x.dtype)


_i0e.defjvps(lambda g, y, x: g * (_i1e(x) - lnp.sign(x) * y))


@custom_jvp
def _i1e(x: Any) -> Any:
    return lax.bessel_i1e(x)


def _i1e_jvp(g: Any, y: Any, x: Any) -> Any:
    # d/dx i1e = i0e(x) - i1e(x) (sign(x) + 1/x); its limit at 0 is 1/2.
    eps = dtypes.finfo(x.dtype).eps
    not_tiny = lnp.abs(x) > eps
    safe_x = lnp.where(not_tiny, x, lnp.full_like(x, eps))
    dy = _i0e(safe_x) - y * (lnp.sign(safe_x) + 1 / safe_x)
    return g * lnp.where(not_tiny, dy, lnp.full_like(x, 0.5))


_i1e.defjvps(_i1e_jvp)


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
    return _i0e(_real_float("i0e", x))


def i0(x: Any) -> Any:
    """Modified Bessel function of order 0, `I0(x) = exp(|x|) i0e(x)`.

    >>> i0(0.)
    Array(1.0000001, dtype=float32, weak_type=True)
    """
    x = _real_float("i0", x)
    return lnp.exp(lnp.abs(x)) * _i0e(x)


def i1e(x: Any) -> Any:
    """Exponentially scaled modified Bessel function of order 1, `exp(-|x|) I1(x)`.

    Args:
      x: real array; integers become the default float dtype.

    Returns:
      `i1e(x)`, odd in `x`, with `x`'s (inexact) dtype. Differentiable (lax's
      `bessel_i1e` alone is not).

    >>> import lamina.numpy as lnp
    >>> i1e(lnp.array([0., 1.]))
    Array([0.        , 0.20791042], dtype=float32)
    """
    return _i1e(_real_float("i1e", x))


def i1(x: Any) -> Any:
    """Modified Bessel function of order 1, `I1(x) = exp(|x|) i1e(x)`.

    >>> i1(0.)
    Array(0., dtype=float32, weak_type=True)
    """
    x = _real_float("i1", x)
    return lnp.exp(lnp.abs(x)) * _i1e(x)
