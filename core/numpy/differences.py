"""Differences, interpolation and convolution in lamina.numpy: `diff`, `ediff1d`,
`gradient`, `interp`, `convolve`, `correlate`, `trapezoid`, `unwrap` (split from
`ufuncs`).
"""
from __future__ import annotations

import builtins
from typing import Any, Sequence

import numpy as np

from lamina import dtypes, lax
from lamina.lax._util import canonicalize_axes, canonicalize_axis, operator_index
from lamina.numpy._lax_helpers import _aval, _ravel
from lamina.numpy._util import (
    ArrayLike, asarray, check_arraylike, promote_dtypes, promote_dtypes_inexact,
)
from lamina.numpy.logic import equal, greater, less, logical_and
from lamina.numpy.math_funcs import conjugate
from lamina.numpy.ufuncs import (
    _const, _convert, _is_int, _moveaxis, _name, _take1d, _to_array, _where, absolute,
    add, floor_divide, multiply, negative, remainder, subtract, true_divide,
)

__all__ = [
    "diff", "ediff1d", "gradient", "interp", "convolve", "correlate", "trapezoid",
    "unwrap",
]


# --------------------------------------------------------------------------------------
# Differences, interpolation, convolution
# --------------------------------------------------------------------------------------


def _slice_axis(x: Any, start: int | None, stop: int | None, axis: int) -> Any:
    return lax.slice_in_dim(x, start, stop, 1, axis)


def diff(a: ArrayLike, n: int = 1, axis: int = -1, prepend: ArrayLike | None = None,
         append: ArrayLike | None = None) -> Any:
    """The n-th discrete difference along an axis (jax.numpy.diff).

    Args:
        a: an array of rank >= 1.
        n: how many times to difference (a static int >= 0).
        axis: the axis along which to difference.
        prepend: values put before `a` along `axis` first (scalars are broadcast).
        append: values put after `a` along `axis` first (scalars are broadcast).

    Returns:
        The differences; `axis` shrinks by n. Bools give `!=` instead of `-`.
    """
    arr = _to_array("diff", a)
    n = operator_index(n)
    axis = operator_index(axis)
    if n == 0:
        return arr
    if n < 0:
        raise ValueError(f"{_name('diff')}: the order n must be non-negative, got {n}")
    if arr.ndim == 0:
        raise ValueError(f"{_name('diff')} requires an array of rank >= 1, got "
                         f"{arr.aval.str_short()}")
    axis = canonicalize_axis(axis, arr.ndim, _name("diff"))
    parts = []
    for extra in (prepend, arr, append):
        if extra is None:
            continue
        if extra is not arr:
            extra = _to_array("diff", extra)
            if extra.ndim == 0:
                shape = list(arr.shape)
                shape[axis] = 1
                extra = lax.broadcast_in_dim(extra, tuple(shape), ())
        parts.append(extra)
    if len(parts) > 1:
        parts = promote_dtypes(*parts)
        arr = lax.concatenate(parts, axis)
    op = lax.ne if arr.dtype == dtypes.bool_ else lax.sub
    for _ in range(n):
        arr = op(_slice_axis(arr, 1, None, axis), _slice_axis(arr, None, -1, axis))
    return arr


def ediff1d(ary: ArrayLike, to_end: ArrayLike | None = None,
            to_begin: ArrayLike | None = None) -> Any:
    """Differences of consecutive elements of the flattened array (jax.numpy.ediff1d).

    Args:
        ary: an array.
        to_end: values appended to the result (flattened, cast to ary's dtype).
        to_begin: values prepended to the result.

    Returns:
        A 1-d array.
    """
    arr = _ravel(_to_array("ediff1d", ary))
    out = lax.sub(_slice_axis(arr, 1, None, 0), _slice_axis(arr, None, -1, 0))
    parts = [out]
    if to_begin is not None:
        parts.insert(0, _convert(_ravel(_to_array("ediff1d", to_begin)), arr.dtype))
    if to_end is not None:
        parts.append(_convert(_ravel(_to_array("ediff1d", to_end)), arr.dtype))
    return lax.concatenate(parts, 0) if len(parts) > 1 else out


def gradient(f: ArrayLike, *varargs: ArrayLike, axis: int | Sequence[int] | None = None,
             edge_order: int | None = None) -> Any:
    """Second-order central differences inside, first-order at the edges
    (jax.numpy.gradient).

    Args:
        f: an array.
        *varargs: spacing: none (1), one scalar or 1-d coordinate array for all axes,
            or one per axis.
        axis: the axes to differentiate along (default all).
        edge_order: unsupported; must be None.

    Returns:
        One array per axis (a list), or a single array when there is one axis.
    """
    if edge_order is not None:
        raise NotImplementedError(f"{_name('gradient')}: edge_order is not supported")
    check_arraylike(_name("gradient"), f, *varargs)
    a, *spacing = promote_dtypes_inexact(f, *varargs) if varargs else promote_dtypes_inexact(f)
    axes = canonicalize_axes(axis, a.ndim, _name("gradient"))
    if not axes:
        return []
    if builtins.min(a.shape[ax] for ax in axes) < 2:
        raise ValueError(f"{_name('gradient')}: each differentiated axis needs at least 2 "
                         f"elements, got shape {a.shape}")
    if len(spacing) == 0:
        spacing = [None] * len(axes)
    elif len(spacing) == 1:
        spacing = spacing * len(axes)
    elif len(spacing) != len(axes):
        raise TypeError(f"{_name('gradient')}: got {len(spacing)} spacing arguments for "
                        f"{len(axes)} axes")
    grads = [_gradient_along(a, h, ax) for ax, h in zip(axes, spacing)]
    return grads[0] if len(axes) == 1 else grads


def _gradient_along(a: Any, h: Any, axis: int) -> Any:
    def sl(x: Any, start: int | None, stop: int | None) -> Any:
        return _slice_axis(x, start, stop, axis)

    first = lax.sub(sl(a, 1, 2), sl(a, 0, 1))
    last = lax.sub(sl(a, -1, None), sl(a, -2, -1))
    if h is None or h.ndim == 0:
        inner = lax.mul(lax.sub(sl(a, 2, None), sl(a, None, -2)), _const(a, 0.5))
        if h is not None:
            inner, first, last = (lax.div(v, h) for v in (inner, first, last))
        return lax.concatenate([first, inner, last], axis)
    if h.ndim != 1 or h.shape[0] != a.shape[axis]:
        raise ValueError(f"{_name('gradient')}: a spacing array must be 1-d with the axis "
                         f"length {a.shape[axis]}, got shape {h.shape}")
    shape = [1] * a.ndim
    shape[axis] = h.shape[0]
    h = lax.reshape(h, tuple(shape))
    first = true_divide(first, lax.sub(sl(h, 1, 2), sl(h, 0, 1)))
    last = true_divide(last, lax.sub(sl(h, -1, None), sl(h, -2, -1)))
    dx1 = lax.sub(sl(h, 1, -1), sl(h, 0, -2))
    dx2 = lax.sub(sl(h, 2, None), sl(h, 1, -1))
    ca = true_divide(negative(dx2), multiply(dx1, add(dx1, dx2)))
    cb = true_divide(subtract(dx2, dx1), multiply(dx1, dx2))
    cc = true_divide(dx1, multiply(dx2, add(dx1, dx2)))
    inner = add(add(multiply(ca, sl(a, 0, -2)), multiply(cb, sl(a, 1, -1))),
                multiply(cc, sl(a, 2, None)))
    first, inner, last = promote_dtypes(first, inner, last)
    return lax.concatenate([first, inner, last], axis)


def _searchsorted_right(sorted_1d: Any, v: Any) -> Any:
    """For each element of v, the number of elements of sorted_1d that are <= it."""
    import lamina.numpy as lnp  # NOTE: lazily: lamina.numpy imports this module.
    return lnp.searchsorted(sorted_1d, v, side="right")


def interp(x: ArrayLike, xp: ArrayLike, fp: ArrayLike, left: ArrayLike | str | None = None,
           right: ArrayLike | str | None = None, period: ArrayLike | None = None) -> Any:
    """One-dimensional piecewise-linear interpolation (jax.numpy.interp).

    Args:
        x: the points to evaluate at.
        xp: the increasing x-coordinates of the data (1-d).
        fp: the y-coordinates of the data (1-d, same length as xp).
        left: the value for x < xp[0] (default fp[0]); 'extrapolate' extends the first
            segment.
        right: the value for x > xp[-1] (default fp[-1]); 'extrapolate' extends the last.
        period: for periodic x-coordinates (then left/right are ignored).

    Returns:
        The interpolated values, with x's shape and an inexact dtype.
    """
    check_arraylike(_name("interp"), x, xp, fp)
    xp_shape, fp_shape = _aval(xp).shape, _aval(fp).shape
    if xp_shape != fp_shape or len(xp_shape) != 1:
        raise ValueError(f"{_name('interp')}: xp and fp must be 1-d arrays of equal length, "
                         f"got shapes {xp_shape} and {fp_shape}")
    if xp_shape[0] == 0:
        raise ValueError(f"{_name('interp')}: xp and fp must not be empty")
    extrapolate = {}
    for side, val in (("left", left), ("right", right)):
        if isinstance(val, str) and val != "extrapolate":
            raise ValueError(f"{_name('interp')}: the only valid string for {side} is "
                             f"'extrapolate', got {val!r}")
        extrapolate[side] = isinstance(val, str)
    x_arr, xp_arr = promote_dtypes_inexact(x, xp)
    (fp_arr,) = promote_dtypes_inexact(fp)
    if dtypes.is_complex(x_arr.dtype):
        raise ValueError(f"{_name('interp')}: complex x values are not supported")
    if period is not None:
        if _aval(period).ndim != 0:
            raise ValueError(f"{_name('interp')}: period must be a scalar, got shape "
                             f"{_aval(period).shape}")
        per = absolute(period)
        x_arr, xp_arr = remainder(x_arr, per), remainder(xp_arr, per)
        xp_arr, fp_arr = lax.sort_key_val(xp_arr, fp_arr)
        per = _convert(asarray(per), xp_arr.dtype)
        xp_arr = lax.concatenate([lax.sub(_slice_axis(xp_arr, -1, None, 0), per), xp_arr,
                                  lax.add(_slice_axis(xp_arr, 0, 1, 0), per)], 0)
        fp_arr = lax.concatenate([_slice_axis(fp_arr, -1, None, 0), fp_arr,
                                  _slice_axis(fp_arr, 0, 1, 0)], 0)
    m = xp_arr.shape[0]
    i = _searchsorted_right(xp_arr, x_arr)
    i = lax.clamp(_const(i, 1), i, _const(i, builtins.max(m - 1, 1)))
    im1 = lax.sub(i, _const(i, 1))
    f_lo, f_hi = _take1d(fp_arr, im1), _take1d(fp_arr, i)
    x_lo, x_hi = _take1d(xp_arr, im1), _take1d(xp_arr, i)
    df, dx = subtract(f_hi, f_lo), lax.sub(x_hi, x_lo)
    delta = lax.sub(x_arr, x_lo)
    eps = float(np.spacing(dtypes.finfo(xp_arr.dtype).eps))
    flat = lax.le(lax.abs(dx), _const(dx, eps))
    f = _where(flat, f_lo, add(f_lo, multiply(true_divide(delta, _where(flat, _const(dx, 1),
                                                                         dx)), df)))
    if period is None:
        if not extrapolate["left"]:
            lo = _slice1(fp_arr, 0) if left is None else left
            f = _where(lax.lt(x_arr, _slice1(xp_arr, 0)), lo, f)
        if not extrapolate["right"]:
            hi = _slice1(fp_arr, m - 1) if right is None else right
            f = _where(lax.gt(x_arr, _slice1(xp_arr, m - 1)), hi, f)
    return f


def _slice1(x: Any, i: int) -> Any:
    """x[i] of a 1-d x, as a 0-d array."""
    return lax.reshape(lax.slice_in_dim(x, i, i + 1, 1, 0), ())


def _conv1d(fun: str, a: ArrayLike, v: ArrayLike, mode: str, precision: Any,
            preferred_element_type: Any) -> Any:
    check_arraylike(_name(fun), a, v)
    if _aval(a).ndim != 1 or _aval(v).ndim != 1:
        raise ValueError(f"{_name(fun)} only supports 1-d inputs, got shapes "
                         f"{_aval(a).shape} and {_aval(v).shape}")
    if preferred_element_type is None:
        x, y = promote_dtypes_inexact(a, v)
    else:
        x, y = promote_dtypes(a, v)
    if x.shape[0] == 0 or y.shape[0] == 0:
        raise ValueError(f"{_name(fun)}: inputs cannot be empty, got shapes {x.shape} and "
                         f"{y.shape}")
    flip_out = False
    if fun == "correlate":
        y = conjugate(y)
        if x.shape[0] < y.shape[0]:
            x, y, flip_out = y, x, True
    else:
        if x.shape[0] < y.shape[0]:
            x, y = y, x
        y = lax.rev(y, (0,))
    k = y.shape[0]
    if mode == "valid":
        padding = [(0, 0)]
    elif mode == "same":
        padding = [(k // 2, k - k // 2 - 1)]
    elif mode == "full":
        padding = [(k - 1, k - 1)]
    else:
        raise ValueError(f"{_name(fun)}: mode must be 'full', 'same' or 'valid', got {mode!r}")
    out = lax.conv_general_dilated(lax.reshape(x, (1, 1, x.shape[0])),
                                   lax.reshape(y, (1, 1, k)), (1,), padding,
                                   precision=precision,
                                   preferred_element_type=preferred_element_type)
    out = lax.reshape(out, (out.shape[-1],))
    return lax.rev(out, (0,)) if flip_out else out


def convolve(a: ArrayLike, v: ArrayLike, mode: str = "full", *, precision: Any = None,
             preferred_element_type: Any = None) -> Any:
    """Discrete linear convolution of two 1-d arrays (jax.numpy.convolve).

    Args:
        a: a 1-d array.
        v: a 1-d array.
        mode: 'full' (length n+m-1), 'same' (length max(n, m)) or 'valid'
            (length max(n, m) - min(n, m) + 1).
        precision: passed to `lax.conv_general_dilated`.
        preferred_element_type: the accumulation/result dtype (then no inexact promotion).

    Returns:
        The 1-d convolution.
    """
    return _conv1d("convolve", a, v, mode, precision, preferred_element_type)


def correlate(a: ArrayLike, v: ArrayLike, mode: str = "valid", *, precision: Any = None,
              preferred_element_type: Any = None) -> Any:
    """Cross-correlation of two 1-d arrays, `sum_n a[n + k] * conj(v[n])`
    (jax.numpy.correlate).

    Args:
        a: a 1-d array.
        v: a 1-d array.
        mode: 'valid' (default), 'same' or 'full'; see `convolve`.
        precision: passed to `lax.conv_general_dilated`.
        preferred_element_type: the accumulation/result dtype (then no inexact promotion).

    Returns:
        The 1-d correlation.
    """
    return _conv1d("correlate", a, v, mode, precision, preferred_element_type)


def trapezoid(y: ArrayLike, x: ArrayLike | None = None, dx: ArrayLike = 1.0,
              axis: int = -1) -> Any:
    """Integral of y by the trapezoidal rule along an axis (jax.numpy.trapezoid).

    Args:
        y: the sampled values.
        x: the sample points (1-d, or y's shape); default uniform spacing `dx`.
        dx: the spacing when x is None.
        axis: the axis to integrate along.

    Returns:
        The integrals, with `axis` removed.
    """
    if x is None:
        check_arraylike(_name("trapezoid"), y, dx)
        (y_arr,) = promote_dtypes_inexact(y)
        axis = canonicalize_axis(operator_index(axis), y_arr.ndim, _name("trapezoid"))
        y_arr = _moveaxis(y_arr, axis, -1)
        last, n = y_arr.ndim - 1, y_arr.shape[-1]
        total = lax.reduce_sum(y_arr, (last,))
        if n == 0:
            return multiply(dx, total)
        ends = lax.add(lax.reshape(_slice_axis(y_arr, 0, 1, last), total.shape),
                       lax.reshape(_slice_axis(y_arr, n - 1, n, last), total.shape))
        return multiply(dx, lax.sub(total, lax.mul(ends, _const(ends, 0.5))))
    check_arraylike(_name("trapezoid"), y, x)
    y_arr, x_arr = promote_dtypes_inexact(y, x)
    axis = canonicalize_axis(operator_index(axis), y_arr.ndim, _name("trapezoid"))
    if x_arr.ndim == 1:
        d = diff(x_arr)
    else:
        d = _moveaxis(diff(x_arr, axis=axis), axis, -1)
    y_arr = _moveaxis(y_arr, axis, -1)
    mid = multiply(d, lax.add(_slice_axis(y_arr, 1, None, y_arr.ndim - 1),
                              _slice_axis(y_arr, None, -1, y_arr.ndim - 1)))
    return lax.mul(lax.reduce_sum(mid, (mid.ndim - 1,)), _const(mid, 0.5))


def unwrap(p: ArrayLike, discont: ArrayLike | None = None, axis: int = -1,
           period: ArrayLike = 2 * np.pi) -> Any:
    """Remove jumps larger than `discont` by adding multiples of `period`
    (jax.numpy.unwrap).

    Args:
        p: the phases.
        discont: the largest jump left alone (default period / 2).
        axis: the axis along which to unwrap.
        period: the period of the phase.

    Returns:
        The unwrapped phases, with p's shape.
    """
    check_arraylike(_name("unwrap"), p, period)
    p, period = promote_dtypes(p, period)
    if dtypes.is_complex(p.dtype):
        raise ValueError(f"{_name('unwrap')} does not support complex inputs")
    axis = canonicalize_axis(operator_index(axis), p.ndim, _name("unwrap"))
    if p.shape[axis] == 0:
        return p
    if discont is None:
        discont = true_divide(period, 2)
    interval = floor_divide(period, 2) if _is_int(p.dtype) else true_divide(period, 2)
    dd = diff(p, axis=axis)
    ddmod = subtract(remainder(add(dd, interval), period), interval)
    ddmod = _where(logical_and(equal(ddmod, negative(interval)), greater(dd, 0)),
                   interval, ddmod)
    correct = _where(less(absolute(dd), discont), 0, subtract(ddmod, dd))
    rest = add(_slice_axis(p, 1, None, axis), lax.cumsum(correct, axis))
    first = _slice_axis(p, 0, 1, axis)
    first, rest = promote_dtypes(first, rest)
    return lax.concatenate([first, rest], axis)
