"""Reductions of lamina.numpy: jax.numpy's sums, extrema, statistics, cumulative
reductions, quantiles, histograms and covariance, as compositions of `lamina.lax`.

Shared semantics (as jax.numpy): `axis` is None, an int or a tuple of ints (negative
allowed, canonicalised with errors naming the function); `keepdims` keeps reduced axes
as size 1; `where=` is a bool mask broadcast against the input; `initial=` starts
sum/prod/max/min; `dtype=` picks the accumulation and result dtype; `out` must be None.
Small integers are summed in the default integer dtype (`sum(int8)` is int32, `sum(bool)`
is int32) and float16/bfloat16 are accumulated in float32. Results are never weakly
typed. max/min of an empty axis without `initial` is a ValueError (a static check).
"""
from __future__ import annotations

import builtins
import math
from typing import Any, Callable, Sequence

import numpy as np

from lamina import dtypes, lax
from lamina.backend.array import scalar_to_device
from lamina.lax._util import canonicalize_axes, canonicalize_axis, operator_index
from lamina.numpy._util import ArrayLike, check_arraylike, promote_dtypes_inexact
from lamina.numpy.ufuncs import (
    _bcast,
    _searchsorted_right,
    _const,
    _convert,
    _full,
    _isnan,
    _name,
    _ravel,
    _take1d,
    _to_array,
    _where,
    multiply,
    subtract,
    true_divide,
)

__all__ = [
    "sum", "prod", "max", "min", "amax", "amin", "all", "any", "mean", "var", "std",
    "argmax", "argmin", "ptp", "count_nonzero", "average",
    "nansum", "nanprod", "nanmax", "nanmin", "nanmean", "nanvar", "nanstd", "nanargmax",
    "nanargmin",
    "cumsum", "cumprod", "cumulative_sum", "cumulative_prod", "nancumsum", "nancumprod",
    "median", "nanmedian", "quantile", "nanquantile", "percentile", "nanpercentile",
    "histogram", "histogram_bin_edges", "bincount", "cov", "corrcoef",
]

Axis = Any  # None | int | Sequence[int]

# --------------------------------------------------------------------------------------
# The generic reduction
# --------------------------------------------------------------------------------------


def _check_out(fun: str, out: Any) -> None:
    if out is not None:
        raise NotImplementedError(f"{_name(fun)}: the 'out' argument is not supported "
                                  "(lamina arrays are immutable); use the return value")


def _reduction_axes(fun: str, axis: Axis, ndim: int) -> tuple[int, ...]:
    """Static, non-negative, distinct axes (a tracer raises a ConcretizationError)."""
    if axis is None:
        return tuple(range(ndim))
    try:
        axes = tuple(operator_index(a) for a in axis) if isinstance(axis, (tuple, list)) \
            else (operator_index(axis),)
    except TypeError:
        raise TypeError(f"{_name(fun)}: axis must be None, an int or a tuple of ints, got "
                        f"{axis!r}") from None
    return canonicalize_axes(axes, ndim, _name(fun))


def _check_where(fun: str, where: Any, shape: tuple[int, ...]) -> Any:
    """The `where=` mask as a bool array of `shape` (None stays None)."""
    if where is None:
        return None
    where = _to_array(fun, where)
    if where.dtype != dtypes.bool_:
        raise ValueError(f"{_name(fun)}: where must be None or a bool array, got "
                         f"{where.aval.str_short()}")
    if where.shape != shape:
        from lamina.numpy._util import broadcast_shapes
        if broadcast_shapes(_name(fun), where.shape, shape) != shape:
            raise ValueError(f"{_name(fun)}: the where mask of shape {where.shape} does not "
                             f"broadcast to the input shape {shape}")
        where = _bcast(where, shape)
    return where


def _promote_integer_dtype(dtype: np.dtype) -> np.dtype:
    """Bools and integers narrower than the default widen to it (sum/prod/cumsum)."""
    if dtype == dtypes.bool_:
        return dtypes.default_int_dtype()
    if dtypes.is_unsigned_integer(dtype):
        default = dtypes.default_uint_dtype()
        return default if dtype.itemsize < default.itemsize else dtype
    if dtypes.is_integer(dtype):
        default = dtypes.default_int_dtype()
        return default if dtype.itemsize < default.itemsize else dtype
    return dtype


def _upcast_f16(dtype: np.dtype) -> np.dtype:
    return dtypes.float32 if dtype in (dtypes.float16, dtypes.bfloat16) else dtype


def _identity(op: str, dtype: np.dtype) -> Any:
    """The identity element of `op` for `dtype` (infinities become the finite
    extremes for integers)."""
    if op == "sum" or op == "or":
        return False if dtype == dtypes.bool_ else 0
    if op == "prod" or op == "and":
        return True if dtype == dtypes.bool_ else 1
    if dtype == dtypes.bool_:
        return op == "min"
    if dtypes.is_integer(dtype):
        info = dtypes.iinfo(dtype)
        return int(info.min) if op == "max" else int(info.max)
    return -np.inf if op == "max" else np.inf


_LAX_REDUCE = {"sum": "reduce_sum", "prod": "reduce_prod", "max": "reduce_max",
               "min": "reduce_min", "and": "reduce_and", "or": "reduce_or"}
_LAX_BINOP = {"sum": "add", "prod": "mul", "max": "max", "min": "min", "and": "bitwise_and",
              "or": "bitwise_or"}
_BOOL_OP = {"sum": "or", "prod": "and", "max": "max", "min": "min", "and": "and", "or": "or"}


def _expand_reduced(x: Any, axes: Sequence[int], ndim: int) -> Any:
    shape, it = [], iter(x.shape)
    for d in range(ndim):
        shape.append(1 if d in axes else next(it))
    return lax.reshape(x, tuple(shape)) if tuple(shape) != x.shape else x


def _reduction(fun: str, a: ArrayLike, op: str, *, axis: Axis = None, dtype: Any = None,
               out: Any = None, keepdims: bool = False, initial: Any = None,
               where: Any = None, has_identity: bool = True,
               preproc: Callable[[Any], Any] | None = None, upcast_f16: bool = False,
               promote_integers: bool = False) -> Any:
    _check_out(fun, out)
    a = _to_array(fun, a)
    if preproc is not None:
        a = preproc(a)
    axes = _reduction_axes(fun, axis, a.ndim)
    where = _check_where(fun, where, a.shape)
    if initial is None and not has_identity:
        if where is not None:
            raise ValueError(f"{_name(fun)}: a reduction without identity needs initial= "
                             "when a where= mask is given")
        if builtins.any(a.shape[d] == 0 for d in axes):
            raise ValueError(f"{_name(fun)}: zero-size array to a reduction operation with "
                             f"no identity (input {a.aval.str_short()}, axis={axis}); pass "
                             "initial=")
    if dtype is None:
        result_dtype = _promote_integer_dtype(a.dtype) if promote_integers else a.dtype
    else:
        result_dtype = dtypes.check_user_dtype_supported(dtype, _name(fun))
    comp_dtype = _upcast_f16(result_dtype) if upcast_f16 else result_dtype
    a = _convert(a, comp_dtype)
    if comp_dtype == dtypes.bool_:
        op = _BOOL_OP[op]
    if initial is not None:
        init = _convert(_to_array(fun, initial), comp_dtype)
        if init.ndim != 0:
            raise ValueError(f"{_name(fun)}: initial must be a scalar, got shape {init.shape}")
    if where is not None:
        a = _where(where, a, scalar_to_device(_identity(op, comp_dtype), comp_dtype, False))
    result = getattr(lax, _LAX_REDUCE[op])(a, axes) if axes else a
    if initial is not None:
        result = getattr(lax, _LAX_BINOP[op])(init, result)
    if keepdims:
        result = _expand_reduced(result, axes, a.ndim)
    return _convert(result, result_dtype)


def _cast_to_numeric(x: Any) -> Any:
    return _convert(x, dtypes.default_int_dtype()) if x.dtype == dtypes.bool_ else x


def _cast_to_bool(x: Any) -> Any:
    if x.dtype == dtypes.bool_:
        return x
    return lax.ne(x, _const(x, 0, weak=x.weak_type))


# --------------------------------------------------------------------------------------
# sum, prod, max, min, all, any
# --------------------------------------------------------------------------------------


def sum(a: ArrayLike, axis: Axis = None, dtype: Any = None, out: None = None,
        keepdims: bool = False, initial: ArrayLike | None = None,
        where: ArrayLike | None = None, promote_integers: bool = True) -> Any:
    """Sum of elements over the given axes (jax.numpy.sum).

    Args:
        a: an array or scalar.
        axis: None (all axes), an int or a tuple of ints.
        dtype: the accumulation and result dtype.
        out: unsupported; must be None.
        keepdims: keep reduced axes with size 1.
        initial: a scalar added to the sum.
        where: a bool mask; only True elements are summed.
        promote_integers: sum bools and narrow integers in the default integer dtype.

    Returns:
        The sums. float16/bfloat16 are accumulated in float32.
    """
    return _reduction("sum", a, "sum", axis=axis, dtype=dtype, out=out, keepdims=keepdims,
                      initial=initial, where=where, preproc=_cast_to_numeric,
                      upcast_f16=dtype is None, promote_integers=promote_integers)


def prod(a: ArrayLike, axis: Axis = None, dtype: Any = None, out: None = None,
         keepdims: bool = False, initial: ArrayLike | None = None,
         where: ArrayLike | None = None, promote_integers: bool = True) -> Any:
    """Product of elements over the given axes (jax.numpy.prod).

    Args:
        a: an array or scalar.
        axis: None (all axes), an int or a tuple of ints.
        dtype: the accumulation and result dtype.
        out: unsupported; must be None.
        keepdims: keep reduced axes with size 1.
        initial: a scalar multiplied into the product.
        where: a bool mask; only True elements are multiplied.
        promote_integers: multiply bools and narrow integers in the default integer dtype.

    Returns:
        The products. float16/bfloat16 are accumulated in float32.
    """
    return _reduction("prod", a, "prod", axis=axis, dtype=dtype, out=out, keepdims=keepdims,
                      initial=initial, where=where, preproc=_cast_to_numeric,
                      upcast_f16=dtype is None, promote_integers=promote_integers)


def max(a: ArrayLike, axis: Axis = None, out: None = None, keepdims: bool = False,
        initial: ArrayLike | None = None, where: ArrayLike | None = None) -> Any:
    """Maximum over the given axes; NaN if any element is NaN (jax.numpy.max).

    Args:
        a: an array or scalar.
        axis: None (all axes), an int or a tuple of ints.
        out: unsupported; must be None.
        keepdims: keep reduced axes with size 1.
        initial: a scalar included in the maximum (required for empty axes or `where`).
        where: a bool mask; only True elements take part (needs `initial`).

    Returns:
        The maxima, with a's dtype.

    Raises:
        ValueError: for an empty reduced axis or a `where` mask without `initial`.
    """
    return _reduction("max", a, "max", axis=axis, out=out, keepdims=keepdims,
                      initial=initial, where=where, has_identity=False)


def min(a: ArrayLike, axis: Axis = None, out: None = None, keepdims: bool = False,
        initial: ArrayLike | None = None, where: ArrayLike | None = None) -> Any:
    """Minimum over the given axes; NaN if any element is NaN (jax.numpy.min).

    Args:
        a: an array or scalar.
        axis: None (all axes), an int or a tuple of ints.
        out: unsupported; must be None.
        keepdims: keep reduced axes with size 1.
        initial: a scalar included in the minimum (required for empty axes or `where`).
        where: a bool mask; only True elements take part (needs `initial`).

    Returns:
        The minima, with a's dtype.

    Raises:
        ValueError: for an empty reduced axis or a `where` mask without `initial`.
    """
    return _reduction("min", a, "min", axis=axis, out=out, keepdims=keepdims,
                      initial=initial, where=where, has_identity=False)


def amax(a: ArrayLike, axis: Axis = None, out: None = None, keepdims: bool = False,
         initial: ArrayLike | None = None, where: ArrayLike | None = None) -> Any:
    """Alias of `lamina.numpy.max` (jax.numpy.amax)."""
    return max(a, axis=axis, out=out, keepdims=keepdims, initial=initial, where=where)


def amin(a: ArrayLike, axis: Axis = None, out: None = None, keepdims: bool = False,
         initial: ArrayLike | None = None, where: ArrayLike | None = None) -> Any:
    """Alias of `lamina.numpy.min` (jax.numpy.amin)."""
    return min(a, axis=axis, out=out, keepdims=keepdims, initial=initial, where=where)


def all(a: ArrayLike, axis: Axis = None, out: None = None, keepdims: bool = False, *,
        where: ArrayLike | None = None) -> Any:
    """Whether every element (over the given axes) is truthy (jax.numpy.all).

    Args:
        a: an array or scalar.
        axis: None (all axes), an int or a tuple of ints.
        out: unsupported; must be None.
        keepdims: keep reduced axes with size 1.
        where: a bool mask; only True elements are tested.

    Returns:
        A bool array (True for empty axes).
    """
    return _reduction("all", a, "and", axis=axis, out=out, keepdims=keepdims, where=where,
                      preproc=_cast_to_bool)


def any(a: ArrayLike, axis: Axis = None, out: None = None, keepdims: bool = False, *,
        where: ArrayLike | None = None) -> Any:
    """Whether some element (over the given axes) is truthy (jax.numpy.any).

    Args:
        a: an array or scalar.
        axis: None (all axes), an int or a tuple of ints.
        out: unsupported; must be None.
        keepdims: keep reduced axes with size 1.
        where: a bool mask; only True elements are tested.

    Returns:
        A bool array (False for empty axes).
    """
    return _reduction("any", a, "or", axis=axis, out=out, keepdims=keepdims, where=where,
                      preproc=_cast_to_bool)


# --------------------------------------------------------------------------------------
# mean, var, std
# --------------------------------------------------------------------------------------


def _count(a: Any, axes: tuple[int, ...], keepdims: bool, where: Any, dtype: np.dtype) -> Any:
    """The number of elements reduced: static, or the sum of the mask."""
    if where is None:
        n = math.prod(a.shape[d] for d in axes)
        return scalar_to_device(n, dtype, False)
    return sum(where, axes, dtype=dtype, keepdims=keepdims)


def mean(a: ArrayLike, axis: Axis = None, dtype: Any = None, out: None = None,
         keepdims: bool = False, *, where: ArrayLike | None = None) -> Any:
    """Arithmetic mean over the given axes (jax.numpy.mean).

    Args:
        a: an array or scalar.
        axis: None (all axes), an int or a tuple of ints.
        dtype: the result dtype (default: a's inexact dtype; integers give float32).
        out: unsupported; must be None.
        keepdims: keep reduced axes with size 1.
        where: a bool mask; only True elements are averaged.

    Returns:
        The means (NaN for empty axes). float16/bfloat16 are accumulated in float32.
    """
    _check_out("mean", out)
    a = _to_array("mean", a)
    axes = _reduction_axes("mean", axis, a.ndim)
    where = _check_where("mean", where, a.shape)
    if dtype is None:
        result_dtype = dtypes.to_inexact_dtype(a.dtype)
        comp_dtype = _upcast_f16(result_dtype)
    else:
        result_dtype = comp_dtype = dtypes.check_user_dtype_supported(dtype, _name("mean"))
    total = sum(a, axes, dtype=comp_dtype, keepdims=keepdims, where=where)
    n = _count(a, axes, keepdims, where, comp_dtype)
    return _convert(lax.div(total, n), result_dtype)


def _var_dtypes(fun: str, a_dtype: np.dtype, dtype: Any) -> tuple[np.dtype, np.dtype]:
    """(computation dtype, result dtype) of var/std, as jax."""
    if dtype is not None:
        dtype = dtypes.check_user_dtype_supported(dtype, _name(fun))
        if dtypes.is_complex(a_dtype) and not dtypes.is_complex(dtype):
            raise ValueError(f"{_name(fun)}: a real dtype ({dtype.name}) for the variance of "
                             f"a complex array ({a_dtype.name}) is not supported")
        comp = dtype
    elif not dtypes.is_inexact(a_dtype):
        dtype = comp = dtypes.to_inexact_dtype(a_dtype)
    else:
        dtype, comp = dtypes.real_dtype(a_dtype), a_dtype
    return _upcast_f16(comp), np.dtype(dtype)


def _correction(fun: str, ddof: Any, correction: Any) -> Any:
    if correction is None:
        return ddof
    if not isinstance(ddof, int) or ddof != 0:
        raise ValueError(f"{_name(fun)}: ddof and correction cannot both be given")
    return correction


def var(a: ArrayLike, axis: Axis = None, dtype: Any = None, out: None = None, ddof: int = 0,
        keepdims: bool = False, *, where: ArrayLike | None = None,
        mean: ArrayLike | None = None, correction: int | float | None = None) -> Any:
    """Variance over the given axes (jax.numpy.var).

    Args:
        a: an array or scalar.
        axis: None (all axes), an int or a tuple of ints.
        dtype: the computation and result dtype.
        out: unsupported; must be None.
        ddof: delta degrees of freedom: the divisor is `N - ddof`.
        keepdims: keep reduced axes with size 1.
        where: a bool mask; only True elements take part.
        mean: a precomputed mean (with keepdims=True shape).
        correction: the Array-API name of `ddof` (give one of the two).

    Returns:
        The variances (real for complex input; NaN where `N - ddof <= 0`).
    """
    _check_out("var", out)
    correction = _correction("var", ddof, correction)
    return _var("var", a, axis, dtype, correction, keepdims, where, mean)


def _var(fun: str, a: ArrayLike, axis: Axis, dtype: Any, correction: Any, keepdims: bool,
         where: Any, a_mean: Any) -> Any:
    a = _to_array(fun, a)
    axes = _reduction_axes(fun, axis, a.ndim)
    where = _check_where(fun, where, a.shape)
    comp, result_dtype = _var_dtypes(fun, a.dtype, dtype)
    a = _convert(a, comp)
    if a_mean is None:
        a_mean = mean(a, axes, dtype=comp, keepdims=True, where=where)
    else:
        a_mean = _convert(_to_array(fun, a_mean), comp)
    centered = lax.sub(a, _bcast(a_mean, a.shape) if a_mean.shape not in ((), a.shape)
                       else a_mean)
    if dtypes.is_complex(comp):
        centered = lax.real(lax.mul(centered, lax.conj(centered)))
        comp = centered.dtype
    else:
        centered = lax.square(centered)
    n = _count(a, axes, keepdims, where, comp)
    n = lax.sub(n, _convert(_to_array(fun, correction), comp))
    total = sum(centered, axes, dtype=comp, keepdims=keepdims, where=where)
    result = _convert(lax.div(total, n), result_dtype)
    # NOTE: a weak NaN, as jax: an integer `dtype=` then gives a (weak) float result.
    return _where(lax.gt(n, _const(n, 0)), result, float("nan"))


def std(a: ArrayLike, axis: Axis = None, dtype: Any = None, out: None = None, ddof: int = 0,
        keepdims: bool = False, *, where: ArrayLike | None = None,
        mean: ArrayLike | None = None, correction: int | float | None = None) -> Any:
    """Standard deviation over the given axes (jax.numpy.std): `sqrt(var(...))`.

    Args:
        a: an array or scalar.
        axis: None (all axes), an int or a tuple of ints.
        dtype: the computation and result dtype (inexact).
        out: unsupported; must be None.
        ddof: delta degrees of freedom: the divisor is `N - ddof`.
        keepdims: keep reduced axes with size 1.
        where: a bool mask; only True elements take part.
        mean: a precomputed mean (with keepdims=True shape).
        correction: the Array-API name of `ddof` (give one of the two).

    Returns:
        The standard deviations.
    """
    _check_out("std", out)
    correction = _correction("std", ddof, correction)
    if dtype is not None:
        dtype = dtypes.check_user_dtype_supported(dtype, _name("std"))
        if not dtypes.is_inexact(dtype):
            raise ValueError(f"{_name('std')}: dtype must be inexact, got {dtype.name}")
    return lax.sqrt(_var("std", a, axis, dtype, correction, keepdims, where, mean))


# --------------------------------------------------------------------------------------
# argmax, argmin, ptp, count_nonzero, average
# --------------------------------------------------------------------------------------


def _arg_reduction(fun: str, a: ArrayLike, axis: Any, out: Any, keepdims: Any,
                   lax_fn: Callable[..., Any]) -> Any:
    _check_out(fun, out)
    a = _to_array(fun, a)
    ndim = a.ndim
    if axis is None:
        a, ax = _ravel(a), 0
    else:
        ax = canonicalize_axis(operator_index(axis), ndim, _name(fun))
    if a.shape[ax] == 0:
        raise ValueError(f"{_name(fun)}: attempt to get {fun} of an empty sequence "
                         f"(input {a.aval.str_short()})")
    if dtypes.is_complex(a.dtype):
        result = _complex_arg(a, ax, lax_fn)
    else:
        result = lax_fn(a, ax, dtypes.default_int_dtype())
    if keepdims:
        result = _expand_reduced(result, tuple(range(ndim)) if axis is None else (ax,), ndim)
    return result


def _complex_arg(a: Any, axis: int, lax_fn: Callable[..., Any]) -> Any:
    """argmax/argmin of complex values in numpy's lexicographic order (real part
    first): the first position whose real part is extreme and, among those, whose
    imaginary part is extreme."""
    reduce = lax.reduce_max if lax_fn is lax.argmax else lax.reduce_min
    fill = -np.inf if lax_fn is lax.argmax else np.inf
    re, im = lax.real(a), lax.imag(a)
    best_re = _expand_reduced(reduce(re, (axis,)), (axis,), a.ndim)
    on_best_re = lax.eq(re, _bcast(best_re, re.shape))
    im = _where(on_best_re, im, _const(im, fill, weak=False))
    best_im = _expand_reduced(reduce(im, (axis,)), (axis,), a.ndim)
    best = lax.bitwise_and(on_best_re, lax.eq(im, _bcast(best_im, im.shape)))
    return lax.argmax(best, axis, dtypes.default_int_dtype())


def argmax(a: ArrayLike, axis: int | None = None, out: None = None,
           keepdims: bool | None = None) -> Any:
    """Index of the maximum along an axis (jax.numpy.argmax); the first NaN wins.

    Args:
        a: an array or scalar.
        axis: the axis (None: of the flattened array).
        out: unsupported; must be None.
        keepdims: keep the reduced axis with size 1.

    Returns:
        int32 indices (the default int dtype).
    """
    return _arg_reduction("argmax", a, axis, out, keepdims, lax.argmax)


def argmin(a: ArrayLike, axis: int | None = None, out: None = None,
           keepdims: bool | None = None) -> Any:
    """Index of the minimum along an axis (jax.numpy.argmin); the first NaN wins.

    Args:
        a: an array or scalar.
        axis: the axis (None: of the flattened array).
        out: unsupported; must be None.
        keepdims: keep the reduced axis with size 1.

    Returns:
        int32 indices (the default int dtype).
    """
    return _arg_reduction("argmin", a, axis, out, keepdims, lax.argmin)


def ptp(a: ArrayLike, axis: Axis = None, out: None = None, keepdims: bool = False) -> Any:
    """Range `max - min` over the given axes (jax.numpy.ptp).

    Args:
        a: a numeric array or scalar.
        axis: None (all axes), an int or a tuple of ints.
        out: unsupported; must be None.
        keepdims: keep reduced axes with size 1.

    Returns:
        The ranges, with a's dtype.
    """
    _check_out("ptp", out)
    a = _to_array("ptp", a)
    if a.dtype == dtypes.bool_:
        raise TypeError(f"{_name('ptp')} does not accept bool arrays (got "
                        f"{a.aval.str_short()}); convert with .astype(int) first")
    return lax.sub(max(a, axis, keepdims=keepdims), min(a, axis, keepdims=keepdims))


def count_nonzero(a: ArrayLike, axis: Axis = None, keepdims: bool = False) -> Any:
    """Number of non-zero elements over the given axes (jax.numpy.count_nonzero).

    Args:
        a: an array or scalar.
        axis: None (all axes), an int or a tuple of ints.
        keepdims: keep reduced axes with size 1.

    Returns:
        The counts, in the default int dtype.
    """
    a = _to_array("count_nonzero", a)
    return sum(_cast_to_bool(a), axis, dtype=dtypes.default_int_dtype(), keepdims=keepdims)


def average(a: ArrayLike, axis: Axis = None, weights: ArrayLike | None = None,
            returned: bool = False, keepdims: bool = False) -> Any:
    """Weighted average over the given axes (jax.numpy.average).

    Args:
        a: an array.
        axis: None (all axes), an int or a tuple of ints.
        weights: weights of a's shape, or 1-d along a single `axis` (or the reduced
            axes' shape); None means equal weights.
        returned: also return the sum of the weights.
        keepdims: keep reduced axes with size 1.

    Returns:
        The averages, or `(averages, sum of weights)` when `returned`.
    """
    a = _to_array("average", a)
    axes = _reduction_axes("average", axis, a.ndim)
    if weights is None:
        (a,) = promote_dtypes_inexact(a)
        avg = mean(a, axes, keepdims=keepdims)
        weights_sum = scalar_to_device(math.prod(a.shape[d] for d in axes), avg.dtype, False)
    else:
        check_arraylike(_name("average"), weights)
        a, w = promote_dtypes_inexact(a, weights)
        if a.shape != w.shape:
            if axis is None:
                raise ValueError(f"{_name('average')}: axis must be given when the shapes of "
                                 f"a {a.shape} and weights {w.shape} differ")
            if w.shape != tuple(a.shape[d] for d in axes):
                raise ValueError(f"{_name('average')}: weights of shape {w.shape} must match "
                                 f"a's shape {a.shape} along axis {axis}")
            order = sorted(range(len(axes)), key=lambda i: axes[i])
            w = lax.transpose(w, tuple(order)) if order != list(range(len(axes))) else w
            w = lax.broadcast_in_dim(w, a.shape, tuple(sorted(axes)))
        weights_sum = sum(w, axes, keepdims=keepdims)
        avg = lax.div(sum(lax.mul(a, w), axes, keepdims=keepdims), weights_sum)
    if returned:
        if weights_sum.shape != avg.shape:
            weights_sum = _bcast(weights_sum, avg.shape)
        return avg, weights_sum
    return avg


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


def _fill_value(a: Any, fill: float) -> Any:
    return scalar_to_device(fill, a.dtype, a.weak_type)


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


# --------------------------------------------------------------------------------------
# Cumulative reductions
# --------------------------------------------------------------------------------------


def _cumulative(fun: str, a: ArrayLike, axis: Any, dtype: Any, out: Any,
                lax_fn: Callable[..., Any], fill_nan: float | None = None,
                promote_integers: bool = False) -> Any:
    _check_out(fun, out)
    a = _to_array(fun, a)
    if axis is None or a.ndim == 0:
        a = _ravel(a)
    axis = 0 if axis is None else canonicalize_axis(operator_index(axis), a.ndim, _name(fun))
    if fill_nan is not None and dtypes.is_inexact(a.dtype):
        a = _where(_isnan(a), _fill_value(a, fill_nan), a)
    if dtype is None:
        result_dtype = (_promote_integer_dtype(a.dtype)
                        if promote_integers or a.dtype == dtypes.bool_ else a.dtype)
        comp_dtype = result_dtype
    else:
        result_dtype = dtypes.check_user_dtype_supported(dtype, _name(fun))
        if result_dtype == dtypes.bool_:
            a = _cast_to_bool(a)
            comp_dtype = _promote_integer_dtype(result_dtype)
        else:
            comp_dtype = result_dtype
    a = _convert(a, comp_dtype)
    return _convert(lax_fn(a, axis), result_dtype)


def cumsum(a: ArrayLike, axis: int | None = None, dtype: Any = None, out: None = None) -> Any:
    """Cumulative sum along an axis (jax.numpy.cumsum).

    Args:
        a: an array or scalar.
        axis: the axis (None: of the flattened array).
        dtype: the accumulation and result dtype (default: a's; bools give int32).
        out: unsupported; must be None.

    Returns:
        The running sums, with a's shape (flattened when axis is None).
    """
    return _cumulative("cumsum", a, axis, dtype, out, lax.cumsum)


def cumprod(a: ArrayLike, axis: int | None = None, dtype: Any = None, out: None = None) -> Any:
    """Cumulative product along an axis (jax.numpy.cumprod); arguments as `cumsum`.

    Returns:
        The running products.
    """
    return _cumulative("cumprod", a, axis, dtype, out, lax.cumprod)


def nancumsum(a: ArrayLike, axis: int | None = None, dtype: Any = None,
              out: None = None) -> Any:
    """Cumulative sum treating NaN as zero (jax.numpy.nancumsum); arguments as `cumsum`.

    Returns:
        The running sums.
    """
    return _cumulative("nancumsum", a, axis, dtype, out, lax.cumsum, fill_nan=0)


def nancumprod(a: ArrayLike, axis: int | None = None, dtype: Any = None,
               out: None = None) -> Any:
    """Cumulative product treating NaN as one (jax.numpy.nancumprod); arguments as
    `cumsum`.

    Returns:
        The running products.
    """
    return _cumulative("nancumprod", a, axis, dtype, out, lax.cumprod, fill_nan=1)


def _cumulative_api(fun: str, x: ArrayLike, axis: Any, dtype: Any, include_initial: bool,
                    lax_fn: Callable[..., Any], initial: int, promote: bool) -> Any:
    x = _to_array(fun, x)
    if x.ndim == 0:
        raise ValueError(f"{_name(fun)}: the input must have rank >= 1, got "
                         f"{x.aval.str_short()}")
    if axis is None:
        if x.ndim > 1:
            raise ValueError(f"{_name(fun)}: axis must be given for an input of rank "
                             f"{x.ndim} ({x.aval.str_short()})")
        axis = 0
    axis = canonicalize_axis(operator_index(axis), x.ndim, _name(fun))
    out = _cumulative(fun, x, axis, dtype, None, lax_fn, promote_integers=promote)
    if include_initial:
        shape = list(x.shape)
        shape[axis] = 1
        out = lax.concatenate([_full(shape, initial, out.dtype), out], axis)
    return out


def cumulative_sum(x: ArrayLike, /, *, axis: int | None = None, dtype: Any = None,
                   include_initial: bool = False) -> Any:
    """Cumulative sum, Array-API style (jax.numpy.cumulative_sum).

    Args:
        x: an array of rank >= 1.
        axis: the axis (optional only for 1-d input).
        dtype: the accumulation and result dtype (default: narrow integers widen).
        include_initial: start the result with a 0 (the axis grows by one).

    Returns:
        The running sums.
    """
    return _cumulative_api("cumulative_sum", x, axis, dtype, include_initial, lax.cumsum, 0,
                           promote=True)


def cumulative_prod(x: ArrayLike, /, *, axis: int | None = None, dtype: Any = None,
                    include_initial: bool = False) -> Any:
    """Cumulative product, Array-API style (jax.numpy.cumulative_prod).

    Args:
        x: an array of rank >= 1.
        axis: the axis (optional only for 1-d input).
        dtype: the accumulation and result dtype.
        include_initial: start the result with a 1 (the axis grows by one).

    Returns:
        The running products.
    """
    return _cumulative_api("cumulative_prod", x, axis, dtype, include_initial, lax.cumprod,
                           1, promote=False)


# --------------------------------------------------------------------------------------
# Quantiles
# --------------------------------------------------------------------------------------

_METHODS = ("linear", "lower", "higher", "midpoint", "nearest")


def _quantile(fun: str, a: ArrayLike, q: ArrayLike, axis: Any, method: str, keepdims: bool,
              squash_nans: bool, out: Any, overwrite_input: bool) -> Any:
    if out is not None or overwrite_input:
        raise ValueError(f"{_name(fun)} does not support overwrite_input=True or out != None")
    if method not in _METHODS:
        raise ValueError(f"{_name(fun)}: method must be one of {', '.join(_METHODS)}; got "
                         f"{method!r}")
    check_arraylike(_name(fun), a, q)
    (a,) = promote_dtypes_inexact(_to_array(fun, a))
    if dtypes.is_complex(a.dtype):
        raise ValueError(f"{_name(fun)} does not support complex input (got "
                         f"{a.aval.str_short()})")
    (q,) = promote_dtypes_inexact(_to_array(fun, q))
    if q.ndim > 1:
        raise ValueError(f"{_name(fun)}: q must have rank <= 1, got shape {q.shape}")
    # NOTE: positions and weights are computed in q's dtype (strongly typed), as jax.
    q = _convert(q, q.dtype)
    a_shape, ndim = a.shape, a.ndim
    axes = _reduction_axes(fun, axis, ndim)
    keep = [d for d in range(ndim) if d not in axes]
    batch_shape = tuple(a.shape[d] for d in keep)
    n = math.prod(a.shape[d] for d in axes)
    if n == 0:
        raise ValueError(f"{_name(fun)}: cannot take the quantile of an empty axis "
                         f"(input {a.aval.str_short()}, axis={axis})")
    # Move the reduced axes last and merge them: a becomes (batch..., n), sorted.
    perm = tuple(keep) + axes
    if perm != tuple(range(ndim)):
        a = lax.transpose(a, perm)
    a = lax.reshape(a, batch_shape + (n,))
    nan = _isnan(a)
    last = len(batch_shape)
    if squash_nans:
        a = lax.sort(a, dimension=last)  # NaNs sort last
        counts = sum(lax.bitwise_not(nan), last, dtype=q.dtype)  # (batch...)
    else:
        a = _where(any(nan, last, keepdims=True), scalar_to_device(np.nan, a.dtype, False), a)
        a = lax.sort(a, dimension=last)
        counts = scalar_to_device(n, q.dtype, False)
    # Positions: q.shape + batch_shape (q's axis first, as numpy).
    qb = lax.broadcast_in_dim(q, q.shape + batch_shape, tuple(range(q.ndim)))
    cb = counts if counts.ndim == 0 else lax.broadcast_in_dim(
        counts, q.shape + batch_shape, tuple(range(q.ndim, q.ndim + len(batch_shape))))
    top = lax.sub(cb, _const(cb, 1))
    pos = lax.mul(qb, top)
    low, high = lax.floor(pos), lax.ceil(pos)
    high_weight = lax.sub(pos, low)
    low_weight = lax.sub(_const(high_weight, 1), high_weight)
    zero = _const(low, 0)
    low = lax.max(zero, lax.min(low, top))
    high = lax.max(zero, lax.min(high, top))
    # Gather a[batch, index] from the flattened (batch * n) array.
    idx_dtype = dtypes.int32 if a.size < 2**31 else dtypes.int64
    rows = _flat_rows(qb.shape, q.ndim, batch_shape, idx_dtype) if batch_shape else None

    def take(index: Any) -> Any:
        index = _convert(index, idx_dtype)
        if rows is not None:
            index = lax.add(lax.mul(rows, _const(rows, n)), _bcast(index, rows.shape))
        return _take1d(_ravel(a), index)

    low_value, high_value = take(low), take(high)
    if method == "linear":
        result = lax.add(lax.mul(_convert(low_value, q.dtype), _bcast(low_weight, qb.shape)),
                         lax.mul(_convert(high_value, q.dtype), _bcast(high_weight, qb.shape)))
    elif method == "lower":
        result = low_value
    elif method == "higher":
        result = high_value
    elif method == "nearest":
        result = _where(lax.le(high_weight, _const(high_weight, 0.5)), low_value, high_value)
    else:
        result = lax.mul(lax.add(low_value, high_value), _const(low_value, 0.5))
    result = _convert(result, a.dtype)
    if keepdims:
        kept = tuple(1 if d in axes else a_shape[d] for d in range(ndim))
        result = lax.reshape(result, q.shape + kept)
    return result


def _flat_rows(shape: tuple[int, ...], offset: int, batch_shape: tuple[int, ...],
               dtype: np.dtype) -> Any:
    """The row-major index of the batch position of each element of `shape`, whose
    dimensions `offset...` are `batch_shape`."""
    rows = None
    stride = 1
    for k in reversed(range(len(batch_shape))):
        term = lax.broadcasted_iota(dtype, shape, offset + k)
        if stride != 1:
            term = lax.mul(term, scalar_to_device(stride, dtype, False))
        rows = term if rows is None else lax.add(rows, term)
        stride *= batch_shape[k]
    return rows


def quantile(a: ArrayLike, q: ArrayLike, axis: Axis = None, out: None = None,
             overwrite_input: bool = False, method: str = "linear",
             keepdims: bool = False) -> Any:
    """The q-th quantiles over the given axes (jax.numpy.quantile); NaN if any is NaN.

    Args:
        a: an array.
        q: a quantile in [0, 1], or a 1-d array of them.
        axis: None (all axes), an int or a tuple of ints.
        out: unsupported; must be None.
        overwrite_input: unsupported; must be False.
        method: 'linear', 'lower', 'higher', 'midpoint' or 'nearest' (ties go down).
        keepdims: keep reduced axes with size 1.

    Returns:
        The quantiles, of shape `q.shape + reduced shape`, with a's inexact dtype.
    """
    return _quantile("quantile", a, q, axis, method, keepdims, False, out, overwrite_input)


def nanquantile(a: ArrayLike, q: ArrayLike, axis: Axis = None, out: None = None,
                overwrite_input: bool = False, method: str = "linear",
                keepdims: bool = False) -> Any:
    """The q-th quantiles ignoring NaN (jax.numpy.nanquantile); arguments as `quantile`.

    Returns:
        The quantiles (NaN for all-NaN slices).
    """
    return _quantile("nanquantile", a, q, axis, method, keepdims, True, out, overwrite_input)


def _percent(fun: str, q: ArrayLike) -> Any:
    check_arraylike(_name(fun), q)
    (q,) = promote_dtypes_inexact(_to_array(fun, q))
    return lax.div(q, _const(q, 100))


def percentile(a: ArrayLike, q: ArrayLike, axis: Axis = None, out: None = None,
               overwrite_input: bool = False, method: str = "linear",
               keepdims: bool = False) -> Any:
    """The q-th percentiles, q in [0, 100] (jax.numpy.percentile); see `quantile`.

    Returns:
        The percentiles.
    """
    return _quantile("percentile", a, _percent("percentile", q), axis, method, keepdims,
                     False, out, overwrite_input)


def nanpercentile(a: ArrayLike, q: ArrayLike, axis: Axis = None, out: None = None,
                  overwrite_input: bool = False, method: str = "linear",
                  keepdims: bool = False) -> Any:
    """The q-th percentiles ignoring NaN (jax.numpy.nanpercentile); see `quantile`.

    Returns:
        The percentiles.
    """
    return _quantile("nanpercentile", a, _percent("nanpercentile", q), axis, method,
                     keepdims, True, out, overwrite_input)


def median(a: ArrayLike, axis: Axis = None, out: None = None, overwrite_input: bool = False,
           keepdims: bool = False) -> Any:
    """Median over the given axes (jax.numpy.median); NaN if any element is NaN.

    Args:
        a: an array.
        axis: None (all axes), an int or a tuple of ints.
        out: unsupported; must be None.
        overwrite_input: unsupported; must be False.
        keepdims: keep reduced axes with size 1.

    Returns:
        The medians, with a's inexact dtype.
    """
    return _quantile("median", a, 0.5, axis, "midpoint", keepdims, False, out,
                     overwrite_input)


def nanmedian(a: ArrayLike, axis: Axis = None, out: None = None,
              overwrite_input: bool = False, keepdims: bool = False) -> Any:
    """Median ignoring NaN (jax.numpy.nanmedian); arguments as `median`.

    Returns:
        The medians (NaN for all-NaN slices).
    """
    return _quantile("nanmedian", a, 0.5, axis, "midpoint", keepdims, True, out,
                     overwrite_input)


# --------------------------------------------------------------------------------------
# Histograms and counting
# --------------------------------------------------------------------------------------


def _scatter_add_1d(length: int, index: Any, values: Any) -> Any:
    """A length-`length` array with `values` added at `index` (out-of-range dropped)."""
    dnums = lax.ScatterDimensionNumbers(update_window_dims=(), inserted_window_dims=(0,),
                                        scatter_dims_to_operand_dims=(0,))
    zeros = _full((length,), 0, values.dtype)
    index = lax.reshape(index, (*index.shape, 1))
    return lax.scatter_add(zeros, index, values, dnums, mode="drop")


def bincount(x: ArrayLike, weights: ArrayLike | None = None, minlength: int = 0, *,
             length: int | None = None) -> Any:
    """Count occurrences of each non-negative integer (jax.numpy.bincount).

    Args:
        x: a 1-d array of non-negative integers (negative values count as 0, as jax).
        weights: per-element weights of x's shape (default 1).
        minlength: the minimum output length.
        length: the exact output length (static). Required under tracing, where the
            data-dependent `max(x) + 1` is unknown; larger values are dropped.

    Returns:
        A 1-d array of counts (int32) or summed weights.
    """
    x = _to_array("bincount", x)
    if x.dtype == dtypes.bool_:
        x = _convert(x, dtypes.default_int_dtype())
    if not dtypes.is_integer(x.dtype):
        raise TypeError(f"{_name('bincount')}: x must have an integer dtype, got "
                        f"{x.aval.str_short()}")
    if x.ndim != 1:
        raise ValueError(f"{_name('bincount')}: only 1-d input is supported, got "
                         f"{x.aval.str_short()}")
    minlength = operator_index(minlength)
    if length is None:
        from lamina.ir import Tracer
        if isinstance(x, Tracer):
            raise x._concrete_value_error(
                "lamina.numpy.bincount without a static `length=` argument")
        host = np.asarray(x)
        length = builtins.max(minlength, int(host.max()) + 1 if host.size else 0)
    else:
        length = operator_index(length)
    if weights is None:
        values = _full(x.shape, 1, dtypes.default_int_dtype())
    else:
        values = _to_array("bincount", weights)
        if values.shape != x.shape:
            raise ValueError(f"{_name('bincount')}: weights must have x's shape {x.shape}, "
                             f"got {values.shape}")
        values = _convert(values, values.dtype)
    index = lax.max(x, _const(x, 0))
    return _scatter_add_1d(length, index, values)


def histogram_bin_edges(a: ArrayLike, bins: ArrayLike = 10, range: Sequence[Any] | None = None,
                        weights: ArrayLike | None = None) -> Any:
    """The bin edges `histogram` would use (jax.numpy.histogram_bin_edges).

    Args:
        a: the data.
        bins: a number of equal-width bins (static int), or the 1-d edges themselves.
        range: `(lower, upper)` of the bins (default the data's min and max).
        weights: ignored.

    Returns:
        The 1-d edges (`bins + 1` of them), in a's inexact dtype.
    """
    del weights
    if isinstance(bins, str):
        raise NotImplementedError(f"{_name('histogram_bin_edges')}: string bins are not "
                                  "supported")
    fun = "histogram_bin_edges"
    check_arraylike(_name(fun), a, bins)
    a = _to_array(fun, a)
    dtype = dtypes.to_inexact_dtype(a.dtype)
    if np.ndim(bins) == 1:
        return _convert(_to_array(fun, bins), dtype)
    nbins = operator_index(bins)
    if nbins < 1:
        raise ValueError(f"{_name(fun)}: bins must be a positive integer, got {nbins}")
    if range is None:
        lo, hi = min(a), max(a)
    else:
        if len(range) != 2:
            raise ValueError(f"{_name(fun)}: range must be None or a pair of scalars, got "
                             f"{range!r}")
        lo, hi = _to_array(fun, range[0]), _to_array(fun, range[1])
    lo, hi = _convert(lo, dtype), _convert(hi, dtype)
    same = lax.eq(lo, hi)
    lo = _where(same, lax.sub(lo, _const(lo, 0.5)), lo)
    hi = _where(same, lax.add(hi, _const(hi, 0.5)), hi)
    # numpy's linspace(lo, hi, nbins + 1): lo + k * step, the last edge exactly hi.
    step = lax.div(lax.sub(hi, lo), scalar_to_device(nbins, dtype, False))
    edges = lax.add(lo, lax.mul(lax.iota(dtype, nbins + 1), step))
    is_last = lax.eq(lax.iota(dtypes.int32, nbins + 1), scalar_to_device(nbins, dtypes.int32,
                                                                          False))
    return _where(is_last, hi, edges)


def histogram(a: ArrayLike, bins: ArrayLike = 10, range: Sequence[Any] | None = None,
              weights: ArrayLike | None = None, density: bool | None = None
              ) -> tuple[Any, Any]:
    """Histogram of the data (jax.numpy.histogram).

    Args:
        a: the data (flattened).
        bins: a number of equal-width bins (static int), or the 1-d increasing edges.
        range: `(lower, upper)` of the bins (default the data's min and max); values
            outside are ignored.
        weights: per-element weights of a's shape.
        density: normalise so that the histogram integrates to 1.

    Returns:
        `(counts, edges)`: counts (float, as jax) per bin and the `len(counts) + 1` edges.
        The last bin includes its upper edge.
    """
    a = _to_array("histogram", a)
    if weights is None:
        (a,) = promote_dtypes_inexact(a)
        w = None
    else:
        check_arraylike(_name("histogram"), weights)
        a, w = promote_dtypes_inexact(a, weights)
        if a.shape != w.shape:
            raise ValueError(f"{_name('histogram')}: weights must have a's shape {a.shape}, "
                             f"got {w.shape}")
    edges = histogram_bin_edges(a, bins, range)
    nedges = edges.shape[0]
    flat = _ravel(a)
    index = _searchsorted_right(edges, flat)
    last_edge = lax.reshape(lax.slice_in_dim(edges, nedges - 1, nedges, 1, 0), ())
    index = _where(lax.eq(flat, last_edge), scalar_to_device(nedges - 1, index.dtype, False),
                   index)
    values = _full(flat.shape, 1, a.dtype) if w is None else _ravel(w)
    # Bin k of the scatter target holds values with edges[k-1] <= v < edges[k]; index 0
    # (below range) and nedges (above) fall outside the kept slice or are dropped.
    counts = _scatter_add_1d(nedges, index, values)
    counts = lax.slice_in_dim(counts, 1, nedges, 1, 0)
    if density:
        widths = lax.sub(lax.slice_in_dim(edges, 1, nedges, 1, 0),
                         lax.slice_in_dim(edges, 0, nedges - 1, 1, 0))
        counts = lax.div(lax.div(counts, widths), sum(counts))
    return counts, edges


# --------------------------------------------------------------------------------------
# Covariance and correlation
# --------------------------------------------------------------------------------------


def _as_2d(x: Any) -> Any:
    if x.ndim == 0:
        return lax.reshape(x, (1, 1))
    if x.ndim == 1:
        return lax.reshape(x, (1, x.shape[0]))
    return x


def cov(m: ArrayLike, y: ArrayLike | None = None, rowvar: bool = True, bias: bool = False,
        ddof: int | None = None, fweights: ArrayLike | None = None,
        aweights: ArrayLike | None = None, dtype: Any = None) -> Any:
    """Covariance matrix of variables given as rows (jax.numpy.cov).

    Args:
        m: a 1-d or 2-d array: each row a variable, each column an observation.
        y: more variables, stacked below m's.
        rowvar: False when variables are columns instead.
        bias: normalise by N instead of N - 1.
        ddof: overrides `bias` (divisor N - ddof).
        fweights: integer frequency weights per observation.
        aweights: observation weights.
        dtype: the computation dtype (inexact).

    Returns:
        The covariance matrix (a scalar for a single variable).
    """
    check_arraylike(_name("cov"), m)
    if y is not None:
        check_arraylike(_name("cov"), y)
        m, y = promote_dtypes_inexact(m, y)
        if y.ndim > 2:
            raise ValueError(f"{_name('cov')}: y has more than 2 dimensions ({y.shape})")
    else:
        (m,) = promote_dtypes_inexact(_to_array("cov", m))
    if m.ndim > 2:
        raise ValueError(f"{_name('cov')}: m has more than 2 dimensions ({m.shape})")
    if dtype is not None:
        dtype = dtypes.check_user_dtype_supported(dtype, _name("cov"))
        if not dtypes.is_inexact(dtype):
            raise ValueError(f"{_name('cov')}: dtype must be inexact, got {dtype.name}")
    x = _as_2d(m)
    if not rowvar and m.ndim != 1:
        x = lax.transpose(x, (1, 0))
    if x.shape[0] == 0:
        return _full((0, 0), 0, x.dtype)
    if y is not None:
        y2 = _as_2d(y)
        if not rowvar and y2.shape[0] != 1:
            y2 = lax.transpose(y2, (1, 0))
        x = lax.concatenate([x, y2], 0)
    if x.shape[1] == 0:
        shape = () if x.shape[0] == 1 else (x.shape[0], x.shape[0])
        return _full(shape, np.nan, x.dtype)
    if ddof is None:
        ddof = 0 if bias else 1
    w = None
    if fweights is not None:
        fw = _to_array("cov", fweights)
        _check_obs_weights("fweights", fw, x.shape[1])
        if not dtypes.is_integer(fw.dtype):
            raise TypeError(f"{_name('cov')}: fweights must be integers, got "
                            f"{fw.aval.str_short()}")
        w = lax.abs(fw)
    aw = None
    if aweights is not None:
        aw = _to_array("cov", aweights)
        _check_obs_weights("aweights", aw, x.shape[1])
        aw = lax.abs(aw)
        w = aw if w is None else multiply(w, aw)
    if dtype is not None:
        x = _convert(x, dtype)
        w = None if w is None else _convert(w, dtype)
    avg, w_sum = average(x, axis=1, weights=w, returned=True)
    w_sum = lax.reshape(lax.slice_in_dim(w_sum, 0, 1, 1, 0), ())
    if w is None:
        f = x.shape[1] - ddof
    elif ddof == 0:
        f = w_sum
    elif aw is None:
        f = subtract(w_sum, ddof)
    else:
        f = subtract(w_sum, true_divide(multiply(ddof, sum(multiply(w, aw))), w_sum))
    xc = subtract(x, lax.broadcast_in_dim(avg, x.shape, (0,)))
    xw = xc if w is None else multiply(xc, lax.broadcast_in_dim(w, (1, w.shape[0]), (1,)))
    xw = lax.conj(xw) if dtypes.is_complex(xw.dtype) else xw
    xc, xw = promote_dtypes_inexact(xc, xw)
    c = true_divide(lax.dot_general(xc, xw, (((1,), (1,)), ((), ()))), f)
    return lax.reshape(c, ()) if c.shape == (1, 1) else c


def _check_obs_weights(name: str, w: Any, n: int) -> None:
    if w.ndim > 1:
        raise RuntimeError(f"{_name('cov')}: cannot handle multidimensional {name}")
    if w.ndim == 0 or w.shape[0] != n:
        raise RuntimeError(f"{_name('cov')}: {name} must have one entry per observation "
                           f"({n}), got shape {w.shape}")


def corrcoef(x: ArrayLike, y: ArrayLike | None = None, rowvar: bool = True,
             dtype: Any = None) -> Any:
    """Pearson correlation coefficients (jax.numpy.corrcoef).

    Args:
        x: a 1-d or 2-d array of variables (rows) and observations (columns).
        y: more variables, stacked below x's.
        rowvar: False when variables are columns instead.
        dtype: the computation dtype (inexact).

    Returns:
        The correlation matrix, clipped to [-1, 1] (1.0 for a single variable).
    """
    check_arraylike(_name("corrcoef"), x)
    c = cov(x, y, rowvar, dtype=dtype)
    if c.ndim == 0:
        return lax.div(c, c)
    k = c.shape[0]
    diag = _take1d(_ravel(c), lax.mul(lax.iota(dtypes.int32, k),
                                      scalar_to_device(k + 1, dtypes.int32, False)))
    std = _convert(lax.sqrt(lax.real(diag) if dtypes.is_complex(diag.dtype) else diag),
                   c.dtype)
    c = lax.div(lax.div(c, lax.broadcast_in_dim(std, (k, k), (0,))),
                lax.broadcast_in_dim(std, (k, k), (1,)))

    def clip1(v: Any) -> Any:
        return lax.clamp(_const(v, -1.0), v, _const(v, 1.0))

    if dtypes.is_complex(c.dtype):
        return lax.complex(clip1(lax.real(c)), clip1(lax.imag(c)))
    return clip1(c)
