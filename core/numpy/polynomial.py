"""Polynomials of jax.numpy, as 1-D coefficient arrays with the highest power first:
poly, polyadd, polysub, polymul, polydiv, polyder, polyint, polyval, polyfit, roots
and vander.

Shapes that depend on values are static as in jax: `polyder`/`polyint`'s order `m` and
`polyfit`'s `deg` are Python ints; `roots` strips leading zeros only from concrete
coefficients (pass `strip_zeros=False` under `jit`); `trim_leading_zeros=True` in
`polymul`/`polydiv` needs concrete inputs.
"""
from __future__ import annotations

import operator
from typing import Any

import numpy as np

from lamina import dtypes, lax
from lamina.errors import ConcretizationError
from lamina.ir import Tracer
from lamina.numpy._lax_helpers import _const, _full, _slice_axis
from lamina.numpy._util import (
    asarray, broadcast_shapes, broadcast_to_shape, check_arraylike, promote_dtypes,
    promote_dtypes_inexact,
)
from lamina.numpy.differences import convolve
from lamina.numpy.joining import trim_zeros
from lamina.numpy.linalg import eigvals
from lamina.numpy.linalg_solvers import inv, lstsq
from lamina.numpy.ufuncs import add, multiply, negative, power, sqrt, true_divide

__all__ = [
    "poly",
    "polyadd",
    "polyder",
    "polydiv",
    "polyfit",
    "polyint",
    "polymul",
    "polysub",
    "polyval",
    "roots",
    "vander",
]

Array = Any  # lamina.Array or a Tracer
ArrayLike = Any


def _name(fn: str) -> str:
    return f"lamina.numpy.{fn}"


def _static_int(value: Any, fn: str, arg: str) -> int:
    """A Python int for an argument that fixes a result shape (jax: static)."""
    if isinstance(value, Tracer):
        raise ConcretizationError(
            f"{_name(fn)}: `{arg}` fixes the shape of the result, so it must be a static "
            f"Python int, got a traced array {value.aval.str_short()}. Mark it static "
            f"(jit(f, static_argnames=...)).")
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError(f"{_name(fn)}: `{arg}` must be an int, got {value!r}") from None


def _coefficients(fn: str, x: Array, what: str = "the coefficients") -> Array:
    if x.ndim != 1:
        raise ValueError(f"{_name(fn)}: {what} must be a 1-D array (highest power first), got "
                         f"shape {x.shape}; use lamina.numpy.atleast_1d for a constant "
                         "polynomial")
    return x


def _complex_dtype(dtype: np.dtype) -> np.dtype:
    if dtypes.is_complex(dtype):
        return np.dtype(dtype)
    return np.dtype(np.complex128 if np.dtype(dtype).itemsize == 8 else np.complex64)


def _item(x: Array, k: int) -> Array:
    """x[k] for a static k, as a 0-d array."""
    return lax.reshape(_slice_axis(x, k, k + 1, 0), ())


def _host_coefficients(values: list[float], dtype: np.dtype) -> Array:
    """Static per-coefficient factors (computed exactly on the host, then cast)."""
    return asarray(np.asarray(values, dtype=np.float64).astype(dtype))


# --------------------------------------------------------------------------------------
# Evaluation and construction
# --------------------------------------------------------------------------------------


def polyval(p: ArrayLike, x: ArrayLike, *, unroll: int = 16) -> Array:
    """Evaluate the polynomial with coefficients `p` at `x` (jax.numpy.polyval), by
    Horner's rule in a `lax.scan`.

    Args:
        p: coefficients, highest power first, along axis 0 (trailing axes broadcast
            against `x`).
        x: the points.
        unroll: how many Horner steps each scan iteration does (static; a speed knob).

    Returns:
        `p[0] * x**(n-1) + ... + p[n-1]`, in the promoted dtype of `p` and `x` (no
        promotion to float: integer inputs give integers).

    >>> import lamina.numpy as lnp
    >>> lnp.polyval(lnp.array([1.0, -2.0, 3.0]), lnp.array([0.0, 1.0, 2.0]))
    Array([3., 2., 3.], dtype=float32)
    """
    fn = "polyval"
    check_arraylike(_name(fn), p, x)
    p, x = promote_dtypes(p, x)
    if p.ndim < 1:
        raise ValueError(f"{_name(fn)}: p must have at least one dimension (the coefficients, "
                         f"highest power first), got shape {p.shape}")
    shape = broadcast_shapes(_name(fn), p.shape[1:], x.shape)
    y0 = _full(shape, 0, x.dtype)

    def horner(y: Array, c: Array) -> tuple[Array, None]:
        return add(multiply(y, x), c), None

    y, _ = lax.scan(horner, y0, p, unroll=unroll)
    return y


def poly(seq_of_zeros: ArrayLike) -> Array:
    """The coefficients of the monic polynomial with the given roots (jax.numpy.poly).

    Args:
        seq_of_zeros: a 1-D array of roots, or a non-empty square matrix (its
            eigenvalues are used, so the result is complex).

    Returns:
        `len(roots) + 1` coefficients, highest power first, in the inexact dtype of
        the input (a 0-d `1` for no roots).

    >>> import lamina.numpy as lnp
    >>> lnp.poly(lnp.array([1.0, 2.0]))
    Array([ 1., -3.,  2.], dtype=float32)
    """
    fn = "poly"
    check_arraylike(_name(fn), seq_of_zeros)
    (z,) = promote_dtypes_inexact(seq_of_zeros)
    if z.ndim == 0:
        z = lax.reshape(z, (1,))
    if z.ndim == 2 and z.shape[0] == z.shape[1] and z.shape[0] != 0:
        z = eigvals(z)
    if z.ndim != 1:
        raise ValueError(f"{_name(fn)}: input must be a 1-D array of roots or a non-empty "
                         f"square 2-D array, got shape {z.shape}")
    dtype = z.dtype
    if z.shape[0] == 0:
        return _full((), 1, dtype)
    zero = _full((1,), 0, dtype)
    coeffs = _full((1,), 1, dtype)
    for k in range(z.shape[0]):
        # Multiply by (x - z_k): c'[i] = c[i] - z_k * c[i-1].
        shifted = lax.concatenate([zero, coeffs], 0)
        coeffs = lax.sub(lax.concatenate([coeffs, zero], 0), lax.mul(_item(z, k), shifted))
    return coeffs


def vander(x: ArrayLike, N: int | None = None, increasing: bool = False) -> Array:
    """The Vandermonde matrix of `x` (jax.numpy.vander): column `j` is
    `x**(N - 1 - j)` (or `x**j` if `increasing`).

    Args:
        x: a 1-D array.
        N: the number of columns (static; default `len(x)`).
        increasing: powers increase from left to right.

    Returns:
        A `(len(x), N)` array of x's dtype.

    >>> import lamina.numpy as lnp
    >>> lnp.vander(lnp.array([1, 2, 3]), 3)
    Array([[1, 1, 1],
           [4, 2, 1],
           [9, 3, 1]], dtype=int32)
    """
    fn = "vander"
    check_arraylike(_name(fn), x)
    x = asarray(x)
    if x.ndim != 1:
        raise ValueError(f"{_name(fn)}: x must be a one-dimensional array, got shape {x.shape}")
    if dtypes.is_bool(x.dtype):
        raise TypeError(f"{_name(fn)}: x must be numeric, got {x.aval.str_short()}; convert it "
                        "with x.astype(int)")
    n = x.shape[0] if N is None else _static_int(N, fn, "N")
    if n < 0:
        raise ValueError(f"{_name(fn)}: N must be nonnegative, got {n}")
    powers = np.arange(n)
    if not increasing:
        powers = powers[::-1]
    exponents = asarray(powers.astype(x.dtype).reshape(1, n))
    return power(lax.reshape(x, (x.shape[0], 1)), exponents)


# --------------------------------------------------------------------------------------
# Arithmetic
# --------------------------------------------------------------------------------------


def _front_pad(x: Array, length: int) -> Array:
    """Zeros in front of `x` along axis 0 up to `length`."""
    extra = length - x.shape[0]
    if extra == 0:
        return x
    return lax.pad(x, _const(0, x.dtype), [(extra, 0, 0)] + [(0, 0, 0)] * (x.ndim - 1))


def polyadd(a1: ArrayLike, a2: ArrayLike) -> Array:
    """The sum of two polynomials (jax.numpy.polyadd): the shorter is aligned to the
    end (constant terms line up).

    Args:
        a1, a2: coefficient arrays, highest power first, along axis 0.

    Returns:
        The coefficients of `a1 + a2`, in their promoted dtype (not forced inexact).

    >>> import lamina.numpy as lnp
    >>> lnp.polyadd(lnp.array([1, 2]), lnp.array([1, 0, 5]))
    Array([1, 1, 7], dtype=int32)
    """
    fn = "polyadd"
    check_arraylike(_name(fn), a1, a2)
    a1, a2 = promote_dtypes(a1, a2)
    for k, a in enumerate((a1, a2), start=1):
        if a.ndim < 1:
            raise ValueError(f"{_name(fn)}: a{k} must have at least one dimension (the "
                             f"coefficients), got shape {a.shape}; use lamina.numpy.atleast_1d")
    # NOTE: as jax (`long.at[-n:].add(short)`): the shorter operand is broadcast into
    # the last n rows of the longer one, whose shape the result keeps.
    long, short = (a1, a2) if a2.shape[0] <= a1.shape[0] else (a2, a1)
    rows = (short.shape[0], *long.shape[1:])
    try:
        broadcast_shapes(_name(fn), short.shape, rows)
    except ValueError:
        raise ValueError(f"{_name(fn)}: cannot add coefficients of shape {short.shape} to the "
                         f"last {short.shape[0]} rows of shape {long.shape}") from None
    if short.shape != rows:
        short = broadcast_to_shape(short, rows)
    return lax.add(long, _front_pad(short, long.shape[0]))


def polysub(a1: ArrayLike, a2: ArrayLike) -> Array:
    """The difference `a1 - a2` of two polynomials (jax.numpy.polysub).

    Args:
        a1, a2: coefficient arrays, highest power first.

    Returns:
        The coefficients of `a1 - a2`, in their promoted dtype.

    >>> import lamina.numpy as lnp
    >>> lnp.polysub(lnp.array([3.0, 2.0]), lnp.array([1.0, 1.0, 1.0]))
    Array([-1.,  2.,  1.], dtype=float32)
    """
    check_arraylike(_name("polysub"), a1, a2)
    a1, a2 = promote_dtypes(a1, a2)
    return polyadd(a1, negative(a2))


def _trim_leading(fn: str, x: Array, tol: float) -> Array:
    """`x` without its leading entries of magnitude below `tol` (concrete `x` only)."""
    if isinstance(x, Tracer):
        raise x._concrete_value_error(f"{_name(fn)} with trim_leading_zeros=True (pass "
                                      "trim_leading_zeros=False under jit/vmap/grad)")
    keep = np.flatnonzero(np.abs(np.asarray(x)) >= tol)
    start = int(keep[0]) if keep.size else x.shape[0]
    return _slice_axis(x, start, x.shape[0], 0)


def polymul(a1: ArrayLike, a2: ArrayLike, *, trim_leading_zeros: bool = False) -> Array:
    """The product of two polynomials (jax.numpy.polymul), a full convolution.

    Args:
        a1, a2: 1-D coefficient arrays, highest power first.
        trim_leading_zeros: drop leading zero coefficients first, as numpy does (needs
            concrete inputs; the result length then depends on the values).

    Returns:
        The `len(a1) + len(a2) - 1` coefficients of the product, inexact.

    >>> import lamina.numpy as lnp
    >>> lnp.polymul(lnp.array([1, 1]), lnp.array([1, -1]))
    Array([ 1.,  0., -1.], dtype=float32)
    """
    fn = "polymul"
    check_arraylike(_name(fn), a1, a2)
    a1, a2 = promote_dtypes_inexact(a1, a2)
    _coefficients(fn, a1, "a1")
    _coefficients(fn, a2, "a2")
    if trim_leading_zeros and (a1.shape[0] > 1 or a2.shape[0] > 1):
        a1, a2 = trim_zeros(a1, "f"), trim_zeros(a2, "f")
    if a1.shape[0] == 0:
        a1 = _full((1,), 0, a2.dtype)
    if a2.shape[0] == 0:
        a2 = _full((1,), 0, a1.dtype)
    return convolve(a1, a2, mode="full")


def polydiv(u: ArrayLike, v: ArrayLike, *, trim_leading_zeros: bool = False
            ) -> tuple[Array, Array]:
    """Polynomial long division `u = q * v + r` (jax.numpy.polydiv).

    Args:
        u: the dividend, 1-D, highest power first.
        v: the divisor, 1-D, with a nonzero leading coefficient.
        trim_leading_zeros: drop the remainder's leading near-zero coefficients
            (`|c| < sqrt(eps)`), as numpy does (needs concrete inputs).

    Returns:
        `(q, r)`, inexact. Without trimming, `r` has `u`'s length (its leading entries
        are the cancelled, numerically zero, terms).

    >>> import lamina.numpy as lnp
    >>> q, r = lnp.polydiv(lnp.array([1.0, 3.0, 2.0]), lnp.array([1.0, 1.0]))
    >>> q, r
    (Array([1., 2.], dtype=float32), Array([0., 0., 0.], dtype=float32))
    """
    fn = "polydiv"
    check_arraylike(_name(fn), u, v)
    u, v = promote_dtypes_inexact(u, v)
    _coefficients(fn, u, "u")
    _coefficients(fn, v, "v")
    if v.shape[0] == 0:
        raise ValueError(f"{_name(fn)}: the divisor v must have at least one coefficient")
    m, n = u.shape[0] - 1, v.shape[0] - 1
    scale = lax.div(_const(1, u.dtype), _item(v, 0))
    quotient = []
    for k in range(m - n + 1):
        d = lax.mul(scale, _item(u, k))
        quotient.append(d)
        # Subtract d * v * x**(m - n - k), v aligned at position k.
        dv = lax.pad(lax.mul(d, v), _const(0, u.dtype), [(k, m - n - k, 0)])
        u = lax.sub(u, dv)
    if quotient:
        q = lax.concatenate([lax.reshape(d, (1,)) for d in quotient], 0)
    else:
        q = _full((1,), 0, u.dtype)
    if trim_leading_zeros:
        eps = float(dtypes.finfo(dtypes.real_dtype(u.dtype)).eps)
        u = _trim_leading(fn, u, float(np.sqrt(eps)))
    return q, u


# --------------------------------------------------------------------------------------
# Calculus
# --------------------------------------------------------------------------------------


def polyder(p: ArrayLike, m: int = 1) -> Array:
    """The `m`-th derivative of a polynomial (jax.numpy.polyder).

    Args:
        p: 1-D coefficients, highest power first.
        m: the order of the derivative (a static, non-negative int).

    Returns:
        The `len(p) - m` coefficients of the derivative, inexact.

    >>> import lamina.numpy as lnp
    >>> lnp.polyder(lnp.array([1, 2, 3, 4]))
    Array([3., 4., 3.], dtype=float32)
    """
    fn = "polyder"
    check_arraylike(_name(fn), p)
    m = _static_int(m, fn, "m")
    (p,) = promote_dtypes_inexact(p)
    _coefficients(fn, p)
    if m < 0:
        raise ValueError(f"{_name(fn)}: the order of the derivative must be non-negative, got "
                         f"m={m}")
    if m == 0:
        return p
    length = p.shape[0]
    kept = max(length - m, 0)
    # The term of degree d (d = length - 1 - i) is multiplied by d * (d-1) * ... * (d-m+1).
    factors = [float(np.prod([d - j for j in range(m)], dtype=np.float64))
               for d in range(length - 1, length - 1 - kept, -1)]
    return lax.mul(_slice_axis(p, 0, kept, 0), _host_coefficients(factors, p.dtype))


def polyint(p: ArrayLike, m: int = 1, k: ArrayLike | None = None) -> Array:
    """The `m`-th antiderivative of a polynomial (jax.numpy.polyint).

    Args:
        p: 1-D coefficients, highest power first.
        m: the order of integration (a static, non-negative int).
        k: the integration constants: a scalar (used for every order) or `m` values,
            the first for the innermost integral. Default 0.

    Returns:
        The `len(p) + m` coefficients, inexact.

    >>> import lamina.numpy as lnp
    >>> lnp.polyint(lnp.array([3.0, 2.0, 1.0]), k=5.0)
    Array([1., 1., 1., 5.], dtype=float32)
    """
    fn = "polyint"
    m = _static_int(m, fn, "m")
    k = 0 if k is None else k
    check_arraylike(_name(fn), p, k)
    p, k = promote_dtypes_inexact(p, k)
    _coefficients(fn, p)
    if m < 0:
        raise ValueError(f"{_name(fn)}: the order of integration must be non-negative, got "
                         f"m={m} (use polyder for derivatives)")
    if k.ndim == 0:
        k = lax.reshape(k, (1,))
    if k.shape == (1,) and m != 1:
        k = lax.broadcast_in_dim(lax.reshape(k, ()), (m,), ())
    if k.shape != (m,):
        raise ValueError(f"{_name(fn)}: k must be a scalar or a 1-D array of length 1 or m={m}, "
                         f"got shape {k.shape}")
    if m == 0:
        return p
    length = p.shape[0] + m
    # After concatenating the constants, entry i (degree t = length - 1 - i) is divided
    # by t * (t-1) * ... * (t-m+1), with factors below 1 taken as 1.
    factors = [float(np.prod([max(1, t - j) for j in range(m)], dtype=np.float64))
               for t in range(length - 1, -1, -1)]
    return true_divide(lax.concatenate([p, k], 0), _host_coefficients(factors, p.dtype))


# --------------------------------------------------------------------------------------
# Roots and fitting
# --------------------------------------------------------------------------------------


def _companion_eigvals(p: Array) -> Array:
    """The roots of a polynomial with a nonzero leading coefficient: the eigenvalues of
    its companion matrix."""
    n = p.shape[0] - 1
    if n < 1:
        return _full((0,), 0, _complex_dtype(p.dtype))
    first_row = lax.reshape(lax.div(negative(_slice_axis(p, 1, n + 1, 0)), _item(p, 0)), (1, n))
    if n == 1:
        return eigvals(first_row)
    below = asarray(np.eye(n - 1, n, dtype=p.dtype))
    return eigvals(lax.concatenate([first_row, below], 0))


def roots(p: ArrayLike, *, strip_zeros: bool = True) -> Array:
    """The roots of a polynomial (jax.numpy.roots): the eigenvalues of its companion
    matrix.

    Args:
        p: 1-D coefficients, highest power first.
        strip_zeros: drop leading zero coefficients first. That needs concrete `p`
            (the number of roots depends on it); under `jit` pass `strip_zeros=False`:
            the result then always has `len(p) - 1` entries, and one per leading zero
            is NaN (sorted last).

    Returns:
        The complex roots.

    Raises:
        ConcretizationError: `p` is traced and `strip_zeros=True`.

    >>> import lamina.numpy as lnp
    >>> lnp.roots(lnp.array([1.0, -3.0, 2.0]))
    Array([2.+0.j, 1.+0.j], dtype=complex64)
    """
    fn = "roots"
    check_arraylike(_name(fn), p)
    (p,) = promote_dtypes_inexact(p)
    if p.ndim == 0:
        p = lax.reshape(p, (1,))
    if p.ndim != 1:
        raise ValueError(f"{_name(fn)}: p must be a rank-1 array of coefficients, got shape "
                         f"{p.shape}")
    length = p.shape[0]
    if length < 2:
        return _full((0,), 0, _complex_dtype(p.dtype))
    if strip_zeros:
        if isinstance(p, Tracer):
            raise ConcretizationError(
                f"{_name(fn)}: stripping the leading zeros of p needs concrete values, but p "
                f"is traced ({p.aval.str_short()}). Pass strip_zeros=False to use roots under "
                "jit/vmap/grad: roots belonging to leading zeros then come back as NaN.")
        nonzero = np.flatnonzero(np.asarray(p) != 0)
        start = int(nonzero[0]) if nonzero.size else length
        return _companion_eigvals(_slice_axis(p, start, length, 0))
    is_zero = lax.convert_element_type(lax.eq(p, _const(0, p.dtype)), np.int32)
    # cumprod of the zero mask is 1 exactly over the leading zeros.
    leading = lax.reduce_sum(lax.cumprod(is_zero, 0), (0,))
    all_zero = lax.eq(leading, _const(length, np.int32))
    p = lax.select(lax.broadcast_in_dim(all_zero, (length,), ()), _full((length,), 1, p.dtype), p)
    # Rotate the leading zeros to the end: they become zero roots.
    rotated = lax.dynamic_slice(lax.concatenate([p, p], 0), (leading,), (length,))
    r = _companion_eigvals(rotated)
    r = lax.sort_key_val(lax.eq(r, _const(0, r.dtype)), r, 0, True)[1]
    keep = lax.lt(lax.iota(np.int32, length - 1), lax.sub(_const(length - 1, np.int32), leading))
    return lax.select(keep, r, _full((length - 1,), complex(np.nan, np.nan), r.dtype))


def polyfit(x: ArrayLike, y: ArrayLike, deg: int, rcond: float | None = None,
            full: bool = False, w: ArrayLike | None = None, cov: bool | str = False
            ) -> Array | tuple[Array, ...]:
    """Least-squares polynomial fit (jax.numpy.polyfit).

    Args:
        x: 1-D sample points.
        y: the values, `(len(x),)` or `(len(x), k)` for k fits at once.
        deg: the degree of the fit (static).
        rcond: relative cutoff for small singular values (static; default
            `len(x) * eps`).
        full: also return the diagnostics `(residuals, rank, singular_values, rcond)`.
        w: 1-D weights, applied to the unsquared residuals.
        cov: also return the covariance of the coefficients, scaled by the residual
            variance (or unscaled if `cov='unscaled'`); ignored when `full`.

    Returns:
        The `deg + 1` coefficients (highest power first; `(deg + 1, k)` for 2-D `y`);
        with `full`, `(p, residuals, rank, s, rcond)`; with `cov`, `(p, V)` where V
        is `(deg + 1, deg + 1)` (or `(deg + 1, deg + 1, k)`).

    Note:
        Integer `x`/`y` are promoted to floats (jax raises for integer `x`).

    >>> import lamina.numpy as lnp
    >>> x = lnp.array([0.0, 1.0, 2.0, 3.0])
    >>> lnp.round(lnp.polyfit(x, 2 * x + 1, 1), 4)
    Array([2., 1.], dtype=float32)
    """
    fn = "polyfit"
    if w is None:
        check_arraylike(_name(fn), x, y)
    else:
        check_arraylike(_name(fn), x, y, w)
    deg = _static_int(deg, fn, "deg")
    if isinstance(rcond, Tracer):
        raise ConcretizationError(f"{_name(fn)}: rcond must be a static float, got a traced "
                                  f"array {rcond.aval.str_short()}")
    if isinstance(cov, Tracer) or isinstance(full, Tracer):
        raise ConcretizationError(f"{_name(fn)}: full and cov must be static")
    x, y = promote_dtypes_inexact(x, y)
    order = deg + 1
    if deg < 0:
        raise ValueError(f"{_name(fn)}: expected deg >= 0, got {deg}")
    if x.ndim != 1:
        raise TypeError(f"{_name(fn)}: expected a 1-D array for x, got shape {x.shape}")
    if x.shape[0] == 0:
        raise TypeError(f"{_name(fn)}: expected a non-empty array for x")
    if y.ndim not in (1, 2):
        raise TypeError(f"{_name(fn)}: expected a 1-D or 2-D array for y, got shape {y.shape}")
    if x.shape[0] != y.shape[0]:
        raise TypeError(f"{_name(fn)}: expected x and y to have the same length, got "
                        f"{x.shape[0]} and {y.shape[0]}")
    npts = x.shape[0]
    if rcond is None:
        rcond = npts * float(dtypes.finfo(dtypes.real_dtype(x.dtype)).eps)
    rcond = float(rcond)
    lhs = vander(x, order)
    rhs = y
    if w is not None:
        (w,) = promote_dtypes_inexact(w)
        if w.ndim != 1:
            raise TypeError(f"{_name(fn)}: expected a 1-D array for the weights w, got shape "
                            f"{w.shape}")
        if w.shape[0] != npts:
            raise TypeError(f"{_name(fn)}: expected w and y to have the same length, got "
                            f"{w.shape[0]} and {npts}")
        w_col = lax.reshape(w, (npts, 1))
        lhs = multiply(lhs, w_col)
        rhs = multiply(rhs, w_col if rhs.ndim == 2 else w)
    # Scale the columns to unit norm: a better-conditioned least-squares problem.
    scale = sqrt(lax.reduce_sum(multiply(lhs, lhs), (0,)))
    lhs = true_divide(lhs, lax.reshape(scale, (1, order)))
    c, resids, rank, s = lstsq(lhs, rhs, rcond)
    c = true_divide(c, scale if c.ndim == 1 else lax.reshape(scale, (order, 1)))
    if full:
        return c, resids, rank, s, asarray(rcond)
    if not cov:
        return c
    gram = lax.dot_general(lhs, lhs, (((0,), (0,)), ((), ())))
    v_base = true_divide(inv(gram), multiply(lax.reshape(scale, (order, 1)),
                                               lax.reshape(scale, (1, order))))
    if cov == "unscaled":
        fac = asarray(1.0)
    else:
        if npts <= order:
            raise ValueError(f"{_name(fn)}: the number of data points ({npts}) must exceed "
                             f"order={order} to scale the covariance matrix; pass "
                             "cov='unscaled'")
        fac = true_divide(resids, npts - order)
    fac = lax.reshape(fac, (1, fac.size))
    if y.ndim == 1:
        return c, multiply(v_base, fac)
    return c, multiply(lax.reshape(v_base, (order, order, 1)), lax.reshape(fac, (1, 1, fac.size)))
