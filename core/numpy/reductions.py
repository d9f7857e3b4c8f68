"""Reductions of lamina.numpy: jax.numpy's sums, extrema, means and variances, arg-
reductions, average and cumulative reductions, as compositions of `lamina.lax`. The
NaN-ignoring variants (nansum, nanmax, nanmean...) are in `nan_reductions`; quantiles,
histograms and covariance in `statistics`.

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
from lamina.numpy._lax_helpers import _full, _isnan, _ravel
from lamina.numpy._util import ArrayLike, check_arraylike, promote_dtypes_inexact
from lamina.numpy.ufuncs import _bcast, _const, _convert, _name, _to_array, _where

__all__ = [
    "sum", "prod", "max", "min", "amax", "amin", "all", "any", "mean", "var", "std",
    "argmax", "argmin", "ptp", "count_nonzero", "average", "cumsum", "cumprod",
    "cumulative_sum", "cumulative_prod", "nancumsum", "nancumprod",
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


def _fill_value(a: Any, fill: float) -> Any:
    return scalar_to_device(fill, a.dtype, a.weak_type)


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
