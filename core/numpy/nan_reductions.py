"""The NaN-ignoring reductions of lamina.numpy: nansum, nanprod, nanmax, nanmin, nanmean,
nanvar, nanstd, nanargmax, nanargmin (jax.numpy's semantics: NaNs are left out of the
reduction, and out of the count for the means and variances).

Separate from `reductions` (whose generic reduction and argument handling they reuse)
because they form their own family; nancumsum/nancumprod stay with the cumulative
reductions there.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from lamina import dtypes, lax
from lamina.backend.array import scalar_to_device
from lamina.numpy._lax_helpers import _isnan
from lamina.numpy._util import ArrayLike
from lamina.numpy.ufuncs import _bcast, _const, _convert, _name, _to_array, _where
from lamina.numpy.reductions import (
    Axis, _check_out, _fill_value, _var_dtypes, all, max, min, sum, prod, mean, argmax,
    argmin,
)

__all__ = [
    "nansum", "nanprod", "nanmax", "nanmin", "nanmean", "nanvar", "nanstd", "nanargmax",
    "nanargmin",
]


# --------------------------------------------------------------------------------------
# NaN-ignoring reductions
# --------------------------------------------------------------------------------------


def _nan_reduction(fun: str, a: ArrayLike, reduction: Callable[..., Any], fill: float,
                   nan_if_all_nan: bool, axis: Axis, keepdims: bool, where: Any,
                   **kwargs: Any) -> Any:
    a = _to_array(fun, a)
    if not dtypes.is_inexact(a.dtype):
        return reduction(a, axis=axis, keepdims=keepdims, where=where, **kwargs)
    nan = _isnan(a)
    out = reduction(_where(nan, _fill_value(a, fill), a), axis=axis, keepdims=keepdims,
                    where=where, **kwargs)
    if nan_if_all_nan:
        all_nan = all(nan, axis=axis, keepdims=keepdims)
        return _where(all_nan, scalar_to_device(np.nan, out.dtype, False), out)
    return out


def nansum(a: ArrayLike, axis: Axis = None, dtype: Any = None, out: None = None,
           keepdims: bool = False, initial: ArrayLike | None = None,
           where: ArrayLike | None = None) -> Any:
    """Sum treating NaN as zero (jax.numpy.nansum); arguments as `sum`.

    Returns:
        The sums (0 for all-NaN slices).
    """
    _check_out("nansum", out)
    return _nan_reduction("nansum", a, sum, 0, False, axis, keepdims, where, dtype=dtype,
                          initial=initial)


def nanprod(a: ArrayLike, axis: Axis = None, dtype: Any = None, out: None = None,
            keepdims: bool = False, initial: ArrayLike | None = None,
            where: ArrayLike | None = None) -> Any:
    """Product treating NaN as one (jax.numpy.nanprod); arguments as `prod`.

    Returns:
        The products (1 for all-NaN slices).
    """
    _check_out("nanprod", out)
    return _nan_reduction("nanprod", a, prod, 1, False, axis, keepdims, where, dtype=dtype,
                          initial=initial)


def nanmax(a: ArrayLike, axis: Axis = None, out: None = None, keepdims: bool = False,
           initial: ArrayLike | None = None, where: ArrayLike | None = None) -> Any:
    """Maximum ignoring NaN (jax.numpy.nanmax); arguments as `max`.

    Returns:
        The maxima (NaN for all-NaN slices when no `initial` is given).
    """
    _check_out("nanmax", out)
    return _nan_reduction("nanmax", a, max, -np.inf, initial is None, axis, keepdims, where,
                          initial=initial)


def nanmin(a: ArrayLike, axis: Axis = None, out: None = None, keepdims: bool = False,
           initial: ArrayLike | None = None, where: ArrayLike | None = None) -> Any:
    """Minimum ignoring NaN (jax.numpy.nanmin); arguments as `min`.

    Returns:
        The minima (NaN for all-NaN slices when no `initial` is given).
    """
    _check_out("nanmin", out)
    return _nan_reduction("nanmin", a, min, np.inf, initial is None, axis, keepdims, where,
                          initial=initial)


def nanmean(a: ArrayLike, axis: Axis = None, dtype: Any = None, out: None = None,
            keepdims: bool = False, where: ArrayLike | None = None) -> Any:
    """Mean ignoring NaN (jax.numpy.nanmean); arguments as `mean`.

    Returns:
        The means (NaN for all-NaN slices).
    """
    _check_out("nanmean", out)
    a = _to_array("nanmean", a)
    if not dtypes.is_inexact(a.dtype):
        return mean(a, axis, dtype, keepdims=keepdims, where=where)
    if dtype is None:
        dtype = dtypes.to_inexact_dtype(a.dtype)
    else:
        dtype = dtypes.check_user_dtype_supported(dtype, _name("nanmean"))
    not_nan = lax.bitwise_not(_isnan(a))
    n = sum(not_nan, axis, dtype=dtype, keepdims=keepdims, where=where)
    return lax.div(nansum(a, axis, dtype=dtype, keepdims=keepdims, where=where), n)


def _nanvar(fun: str, a: ArrayLike, axis: Axis, dtype: Any, ddof: Any, keepdims: bool,
            where: Any, a_mean: Any) -> Any:
    a = _to_array(fun, a)
    comp, result_dtype = _var_dtypes(fun, a.dtype, dtype)
    a = _convert(a, comp)
    if a_mean is None:
        a_mean = nanmean(a, axis, dtype=comp, keepdims=True, where=where)
    else:
        a_mean = _convert(_to_array(fun, a_mean), comp)
    nan = _isnan(a)
    centered = _where(nan, _fill_value(a, 0), lax.sub(a, _bcast(a_mean, a.shape)))
    if dtypes.is_complex(centered.dtype):
        centered = lax.real(lax.mul(centered, lax.conj(centered)))
    else:
        centered = lax.square(centered)
    n = sum(lax.bitwise_not(nan), axis, keepdims=keepdims, where=where)
    n = lax.sub(n, _convert(_to_array(fun, ddof), n.dtype))
    empty = lax.le(n, _const(n, 0))
    total = _where(empty, float("nan"), sum(centered, axis, keepdims=keepdims, where=where))
    divisor = _convert(_where(empty, _const(n, 1), n), total.dtype)
    return _convert(lax.div(total, divisor), result_dtype)


def nanvar(a: ArrayLike, axis: Axis = None, dtype: Any = None, out: None = None,
           ddof: int = 0, keepdims: bool = False, where: ArrayLike | None = None,
           mean: ArrayLike | None = None) -> Any:
    """Variance ignoring NaN (jax.numpy.nanvar); arguments as `var`.

    Returns:
        The variances (NaN where fewer than `ddof + 1` non-NaN values).
    """
    _check_out("nanvar", out)
    return _nanvar("nanvar", a, axis, dtype, ddof, keepdims, where, mean)


def nanstd(a: ArrayLike, axis: Axis = None, dtype: Any = None, out: None = None,
           ddof: int = 0, keepdims: bool = False, where: ArrayLike | None = None,
           mean: ArrayLike | None = None) -> Any:
    """Standard deviation ignoring NaN (jax.numpy.nanstd); arguments as `std`.

    Returns:
        The standard deviations.
    """
    _check_out("nanstd", out)
    return lax.sqrt(_nanvar("nanstd", a, axis, dtype, ddof, keepdims, where, mean))


def _nan_arg(fun: str, a: ArrayLike, axis: Any, out: Any, keepdims: Any,
             plain: Callable[..., Any], fill: float) -> Any:
    _check_out(fun, out)
    a = _to_array(fun, a)
    if not dtypes.is_inexact(a.dtype):
        return plain(a, axis=axis, keepdims=keepdims)
    nan = _isnan(a)
    res = plain(_where(nan, _fill_value(a, fill), a), axis=axis, keepdims=keepdims)
    all_nan = all(nan, axis=axis, keepdims=bool(keepdims))
    return _where(all_nan, _const(res, -1), res)


def nanargmax(a: ArrayLike, axis: int | None = None, out: None = None,
              keepdims: bool | None = None) -> Any:
    """Index of the maximum ignoring NaN (jax.numpy.nanargmax); -1 for all-NaN slices.

    Args:
        a: an array.
        axis: the axis (None: of the flattened array).
        out: unsupported; must be None.
        keepdims: keep the reduced axis with size 1.

    Returns:
        int32 indices.
    """
    return _nan_arg("nanargmax", a, axis, out, keepdims, argmax, -np.inf)


def nanargmin(a: ArrayLike, axis: int | None = None, out: None = None,
              keepdims: bool | None = None) -> Any:
    """Index of the minimum ignoring NaN (jax.numpy.nanargmin); -1 for all-NaN slices.

    Args:
        a: an array.
        axis: the axis (None: of the flattened array).
        out: unsupported; must be None.
        keepdims: keep the reduced axis with size 1.

    Returns:
        int32 indices.
    """
    return _nan_arg("nanargmin", a, axis, out, keepdims, argmin, np.inf)
