"""Order statistics, histograms and covariance of lamina.numpy: quantile, nanquantile,
percentile, nanpercentile, median, nanmedian; bincount, histogram_bin_edges, histogram;
cov, corrcoef (jax.numpy's names, signatures and semantics).

Separate from `reductions` because they are built on sorts, searches, scatter-adds and
matrix products rather than on one `lax.reduce_*`; they reuse its argument handling.
"""
from __future__ import annotations

import builtins
import math
from typing import Any, Sequence

import numpy as np

from lamina import dtypes, lax
from lamina.backend.array import scalar_to_device
from lamina.lax._util import operator_index
from lamina.numpy._lax_helpers import _full, _isnan, _ravel
from lamina.numpy._util import ArrayLike, check_arraylike, promote_dtypes_inexact
from lamina.numpy.differences import _searchsorted_right
from lamina.numpy.ufuncs import (
    _bcast, _const, _convert, _name, _take1d, _to_array, _where, multiply, subtract,
    true_divide,
)
from lamina.numpy.reductions import Axis, _reduction_axes, any, max, min, sum, average

__all__ = [
    "median", "nanmedian", "quantile", "nanquantile", "percentile", "nanpercentile",
    "histogram", "histogram_bin_edges", "bincount", "cov", "corrcoef",
]


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
