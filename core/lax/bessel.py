"""The exponentially scaled modified Bessel function of order 0, `bessel_i0e`, with
jax.lax's name, dtype rules and numerics; and the JVPs of it and of `bessel_i1e`.

XLA has an op for i1e (`chlo.bessel_i1e`: the primitive is defined with the other unary
ops in elementwise.py) but none for i0e, so `bessel_i0e` lowers by tracing the lamina
implementation below into a sub-program (`lower_fun`), as jax does: Cephes' Chebyshev
expansions of exp(-x) I0(x) (S. L. Moshier, Cephes Math Library, `i0.c`), one in
x/2 - 2 on [0, 8] and one of sqrt(x) exp(-x) I0(x) in 32/x - 2 beyond. float64 uses
the tables in full; float32 only their last (leading-order) terms, as Cephes' single
precision does; float16 and bfloat16 are computed in float32 and rounded back.

JVPs (jax's): d/dx i0e = i1e(x) - sign(x) i0e(x), and
d/dx i1e = i0e(x) - i1e(x) (sign(x) + 1/x), taken as its limit 1/2 where |x| <= eps.
Each needs the other function, so both rules live here (elementwise.py, where
`bessel_i1e` is defined, is imported before this module).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from lamina import dtypes
from lamina.backend.array import Array
from lamina.interpreters import ad, batching, lowering
from lamina.ir import Primitive, shaped_abstractify
from lamina.lax import elementwise as ew
from lamina.lax._lower_fun import lower_fun
from lamina.lax._util import ArrayLike, naryop_abstract_eval
from lamina.lax.structural import full_like

__all__ = ["bessel_i0e"]

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


# --------------------------------------------------------------------------------------
# The implementation, in lamina ops (traced into the lowering)
# --------------------------------------------------------------------------------------


def _k(value: Any, like: Any) -> np.ndarray:
    """A 0-d constant of `like`'s dtype (lax ops broadcast it)."""
    return np.array(value, shaped_abstractify(like).dtype)


def _chebyshev(t: Any, coefficients: tuple[float, ...]) -> Any:
    """Clenshaw's recurrence for `sum_k c_k T_k(t / 2)` (Cephes `chbevl`)."""
    b0 = b1 = b2 = _k(0, t)
    for c in coefficients:
        b2, b1 = b1, b0
        b0 = ew.add(ew.sub(ew.mul(t, b1), b2), _k(c, t))
    return ew.mul(_k(0.5, t), ew.sub(b0, b2))


def _i0e_chebyshev(x: Any) -> Any:
    """i0e on float32 or float64 values."""
    small, large = _I0E_SMALL, _I0E_LARGE
    if shaped_abstractify(x).dtype != dtypes.float64:
        small, large = small[-_F32_TERMS[0]:], large[-_F32_TERMS[1]:]
    ax = ew.abs(x)
    near = _chebyshev(ew.sub(ew.mul(_k(0.5, ax), ax), _k(2, ax)), small)
    far = ew.div(_chebyshev(ew.sub(ew.div(_k(32, ax), ax), _k(2, ax)), large),
                 ew.sqrt(ax))
    return ew.select(ew.le(ax, _k(8, ax)), near, far)


def _i0e_impl(x: Any) -> Any:
    dtype = shaped_abstractify(x).dtype
    if dtype in (dtypes.float32, dtypes.float64):
        return _i0e_chebyshev(x)
    # NOTE: the Cephes tables are too precise for 16-bit floats; evaluate in float32.
    f32 = ew.convert_element_type(x, dtypes.float32)
    return ew.convert_element_type(_i0e_chebyshev(f32), dtype)


# --------------------------------------------------------------------------------------
# The primitive
# --------------------------------------------------------------------------------------

bessel_i0e_p = Primitive("bessel_i0e")


def bessel_i0e(x: ArrayLike) -> Array:
    """Elementwise exponentially scaled modified Bessel function of order 0,
    `exp(-|x|) * I0(x)`.

    Args:
        x: a floating-point array or scalar.

    Returns:
        `i0e(x)` with x's shape and dtype: even in x, 1 at 0 (1.0000001 in float32,
        as in jax), decaying like `1 / sqrt(2 pi |x|)`, 0 at ±inf and NaN at NaN.

    >>> from lamina import lax
    >>> lax.bessel_i0e(1.0)
    Array(0.46575963, dtype=float32, weak_type=True)
    """
    return ew._unary(bessel_i0e_p, x)


bessel_i0e_p.def_abstract_eval(naryop_abstract_eval("bessel_i0e", dtypes.is_floating))


def _bessel_i0e_jvp(g: Any, ans: Any, x: Any) -> Any:
    return ew.mul(g, ew.sub(ew.bessel_i1e(x), ew.mul(ew.sign(x), ans)))


ad.defjvp2(bessel_i0e_p, _bessel_i0e_jvp)
batching.defvectorized(bessel_i0e_p)
lowering.register_lowering(bessel_i0e_p, lower_fun("bessel_i0e", _i0e_impl))


# --------------------------------------------------------------------------------------
# bessel_i1e's JVP (the primitive and its other rules are in elementwise*.py)
# --------------------------------------------------------------------------------------


def _bessel_i1e_jvp(g: Any, ans: Any, x: Any) -> Any:
    eps = dtypes.finfo(shaped_abstractify(x).dtype).eps
    not_tiny = ew.gt(ew.abs(x), _k(eps, x))
    # NOTE: the 1/x term is evaluated at a safe x, then replaced by the limit at 0.
    safe_x = ew.select(not_tiny, x, full_like(x, eps))
    dy = ew.sub(bessel_i0e(safe_x), ew.mul(ans, ew.add(ew.sign(safe_x),
                                                       ew.reciprocal(safe_x))))
    return ew.mul(g, ew.select(not_tiny, dy, full_like(x, 0.5)))


ad.defjvp2(ew.bessel_i1e_p, _bessel_i1e_jvp)
