"""Sorting for lamina.numpy: sort, argsort, lexsort, partition, argpartition,
sort_complex (jax.numpy's API), each one `lax.sort` plus layout ops; and searching sorted
arrays: searchsorted, digitize.

The order is lax.sort's: ascending, NaNs last, -0.0 equal to 0.0, complex numbers by real
part then imaginary part. Sorts are stable by default; a stable descending argsort keeps
equal elements in their input order (as jax: the input is reversed, sorted stably, and
the result reversed again).
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from lamina import dtypes, lax
from lamina.errors import ConcretizationError
from lamina.ir import Tracer
from lamina.lax._util import canonicalize_axis, operator_index
from lamina.numpy._util import asarray, check_arraylike, promote_dtypes
from lamina.numpy._lax_helpers import (
    _concat1d, _const, _convert, _full, _int_dtype, _le_total, _lt_total, _order_key,
    _ravel, _slice_axis,
)
from lamina.numpy.selection import take

__all__ = ["argpartition", "argsort", "digitize", "lexsort", "partition", "searchsorted", "sort",
           "sort_complex"]

Array = Any
ArrayLike = Any


def _check_kind_order(kind: Any, order: Any, fun_name: str) -> None:
    if kind is not None:
        raise TypeError(f"lamina.numpy.{fun_name}: the 'kind' argument is not supported; use "
                        "stable=True or stable=False to choose the stability")
    if order is not None:
        raise TypeError(f"lamina.numpy.{fun_name}: the 'order' argument is not supported "
                        "(lamina has no structured dtypes)")


def _prepare(a: ArrayLike, axis: int | None, fun_name: str) -> tuple[Array, int]:
    check_arraylike(fun_name, a)
    arr = asarray(a)
    if axis is None:
        return _ravel(arr), 0
    if arr.ndim == 0:
        raise ValueError(f"lamina.numpy.{fun_name}: cannot sort a 0-d array along axis "
                         f"{axis}; use axis=None")
    return arr, canonicalize_axis(operator_index(axis), arr.ndim, f"lamina.numpy.{fun_name}")


def sort(a: ArrayLike, axis: int | None = -1, *, kind: None = None, order: None = None,
         stable: bool = True, descending: bool = False) -> Array:
    """A sorted copy of `a` (numpy.sort; NaNs last).

    Args:
        a: an array.
        axis: the axis to sort along; None sorts the flattened array.
        kind: unsupported (must be None); see `stable`.
        order: unsupported (must be None).
        stable: keep equal elements in input order.
        descending: sort in descending order.

    Returns:
        The sorted array.

    >>> import lamina.numpy as lnp
    >>> lnp.sort(lnp.asarray([3., float('nan'), 1.]))
    Array([ 1.,  3., nan], dtype=float32)
    """
    _check_kind_order(kind, order, "sort")
    arr, axis = _prepare(a, axis, "sort")
    result = lax.sort(arr, dimension=axis, is_stable=bool(stable))
    return lax.rev(result, (axis,)) if descending else result


def argsort(a: ArrayLike, axis: int | None = -1, *, kind: None = None, order: None = None,
            stable: bool = True, descending: bool = False, dtype: Any = None) -> Array:
    """The indices that sort `a` along `axis` (numpy.argsort).

    Args:
        a: an array.
        axis: the axis to sort along; None sorts the flattened array.
        kind: unsupported (must be None); see `stable`.
        order: unsupported (must be None).
        stable: equal elements keep their input order (also when descending).
        descending: sort in descending order.
        dtype: the index dtype (default: the default int dtype).

    Returns:
        Integer indices of `a`'s shape (flattened when `axis` is None).

    >>> import lamina.numpy as lnp
    >>> lnp.argsort(lnp.asarray([3, 1, 2]))
    Array([1, 2, 0], dtype=int32)
    """
    _check_kind_order(kind, order, "argsort")
    arr, axis = _prepare(a, axis, "argsort")
    idx_dtype = _int_dtype() if dtype is None else dtypes.check_user_dtype_supported(
        dtype, "lamina.numpy.argsort")
    if not dtypes.is_integer(idx_dtype):
        raise TypeError(f"lamina.numpy.argsort: dtype must be an integer dtype, got "
                        f"{idx_dtype.name}")
    if arr.size == 0:
        return _full(arr.shape, 0, idx_dtype)
    iota = lax.broadcasted_iota(idx_dtype, arr.shape, axis)
    if descending and stable:
        # Reverse first so that equal elements come out in input order after the final
        # reversal.
        arr, iota = lax.rev(arr, (axis,)), lax.rev(iota, (axis,))
    _, indices = lax.sort((arr, iota), dimension=axis, is_stable=bool(stable), num_keys=1)
    return lax.rev(indices, (axis,)) if descending else indices


def lexsort(keys: Sequence[ArrayLike], axis: int = -1) -> Array:
    """Indirect stable sort by several keys, the LAST key primary (numpy.lexsort).

    Args:
        keys: a sequence of arrays of one shape (or a 2-D array: its rows are the keys).
        axis: the axis to sort along.

    Returns:
        Integer indices of the keys' shape.
    """
    if isinstance(keys, Tracer) or hasattr(keys, "aval") or isinstance(keys, np.ndarray):
        keys = [keys[i] for i in range(keys.shape[0])]
    keys = tuple(keys)
    if not keys:
        raise TypeError("lamina.numpy.lexsort: need a sequence of keys with len > 0")
    check_arraylike("lexsort", *keys)
    arrays = [asarray(k) for k in keys]
    shapes = {k.shape for k in arrays}
    if len(shapes) > 1:
        raise ValueError(f"lamina.numpy.lexsort: all keys need to be the same shape, got "
                         f"{sorted(shapes)}")
    shape = arrays[0].shape
    if len(shape) == 0:
        return _full((), 0, _int_dtype())
    axis = canonicalize_axis(operator_index(axis), len(shape), "lamina.numpy.lexsort")
    iota = lax.broadcasted_iota(_int_dtype(), shape, axis)
    return lax.sort((*arrays[::-1], iota), dimension=axis, is_stable=True,
                    num_keys=len(arrays))[-1]


def _check_partition(arr: Array, kth: int, axis: int, fun_name: str) -> tuple[int, int]:
    if dtypes.is_complex(arr.dtype):
        raise NotImplementedError(f"lamina.numpy.{fun_name} for complex dtypes is not "
                                  "implemented (as in jax)")
    if arr.ndim == 0:
        raise ValueError(f"lamina.numpy.{fun_name}: a must have at least one dimension")
    axis = canonicalize_axis(operator_index(axis), arr.ndim, f"lamina.numpy.{fun_name}")
    n = arr.shape[axis]
    kth = operator_index(kth)
    if not -n <= kth < n:
        raise ValueError(f"lamina.numpy.{fun_name}: kth={kth} is out of bounds for an axis of "
                         f"size {n}")
    return kth % n, axis


def partition(a: ArrayLike, kth: int, axis: int = -1) -> Array:
    """`a` rearranged so that the element at `kth` is the one a sort would put there, with
    no larger element before it and no smaller one after (numpy.partition).

    NOTE: lamina computes a full (stable) sort along `axis`, which is a valid partition.
    jax uses `lax.top_k` and returns the elements after `kth` in descending order; NumPy
    leaves the order within both parts unspecified.

    Args:
        a: a non-complex array.
        kth: the position to partition at (negative counts from the end).
        axis: the axis to partition along.

    Returns:
        The partitioned array.
    """
    check_arraylike("partition", a)
    arr = asarray(a)
    _, axis = _check_partition(arr, kth, axis, "partition")
    return lax.sort(arr, dimension=axis, is_stable=True)


def argpartition(a: ArrayLike, kth: int, axis: int = -1) -> Array:
    """Indices that partition `a` at `kth` (numpy.argpartition).

    NOTE: computed as a stable argsort (a valid partition, see `partition`), so
    `take_along_axis(a, argpartition(a, k), axis)` equals `partition(a, k)`.

    Args:
        a: a non-complex array.
        kth: the position to partition at (negative counts from the end).
        axis: the axis to partition along.

    Returns:
        Integer indices of `a`'s shape.
    """
    check_arraylike("argpartition", a)
    arr = asarray(a)
    _, axis = _check_partition(arr, kth, axis, "argpartition")
    return argsort(arr, axis=axis, stable=True)


def sort_complex(a: ArrayLike) -> Array:
    """`a` sorted along its last axis and converted to a complex dtype
    (numpy.sort_complex; real parts first, then imaginary parts).

    Args:
        a: an array.

    Returns:
        The sorted complex array.
    """
    check_arraylike("sort_complex", a)
    arr = asarray(a)
    if arr.ndim == 0:
        raise ValueError("lamina.numpy.sort_complex: a must have at least one dimension")
    result = lax.sort(arr, dimension=arr.ndim - 1, is_stable=True)
    if dtypes.is_complex(result.dtype):
        return result
    target = dtypes.to_inexact_dtype(result.dtype)
    target = np.dtype(np.complex128) if target == np.float64 else np.dtype(np.complex64)
    return lax.convert_element_type(result, dtypes.canonicalize_dtype(target))


# --------------------------------------------------------------------------------------
# searchsorted, digitize
# --------------------------------------------------------------------------------------


def _broadcast_last(x: Array, v_shape: tuple[int, ...], n: int, is_table: bool) -> Array:
    """`x` (the 1-D table, or the queries) broadcast to `v_shape + (n,)`."""
    target = v_shape + (n,)
    dims = (len(v_shape),) if is_table else tuple(range(len(v_shape)))
    return lax.broadcast_in_dim(x, target, dims)


def _searchsorted_compare_all(a: Array, v: Array, side: str) -> Array:
    n = a.shape[0]
    table = _broadcast_last(a, v.shape, n, True)
    queries = _broadcast_last(v, v.shape, n, False)
    before = _lt_total(table, queries) if side == "left" else _le_total(table, queries)
    return lax.reduce_sum(_convert(before, np.int32), (v.ndim,))


def _searchsorted_scan(a: Array, v: Array, side: str) -> Array:
    """Binary search, unrolled over ceil(log2(n + 1)) levels: the answer stays in
    [lo, hi] and is hi at the end (the interval shrinks to width <= 1)."""
    n = a.shape[0]
    lo, hi = _full(v.shape, 0, np.int32), _full(v.shape, n, np.int32)
    one = _const(1, np.int32)
    for _ in range(int(np.ceil(np.log2(n + 1)))):
        # NOTE: a logical shift treats the sum as unsigned: no overflow for n < 2**31.
        mid = lax.shift_right_logical(lax.add(lo, hi), one)
        val = take(a, mid, mode="clip")
        go_left = _le_total(v, val) if side == "left" else _lt_total(v, val)
        lo = lax.select(go_left, lo, mid)
        hi = lax.select(go_left, mid, hi)
    return hi


def _rank(x: Array) -> Array:
    """The position of each element of 1-D `x` in its stable sort."""
    n = x.shape[0]
    iota = lax.iota(np.int32, n)
    _, perm = lax.sort((x, iota), num_keys=1, is_stable=True)
    _, rank = lax.sort((perm, iota), num_keys=1, is_stable=True)
    return rank


def _searchsorted_sort(a: Array, v: Array, side: str) -> Array:
    flat = _ravel(v) if v.ndim != 1 else v
    m, n = flat.shape[0], a.shape[0]
    if side == "left":
        index = _slice_axis(_rank(_concat1d([flat, a])), 0, m)
    else:
        index = _slice_axis(_rank(_concat1d([a, flat])), n, n + m)
    return lax.reshape(lax.sub(index, _rank(flat)), v.shape)


_SEARCHSORTED = {"scan": _searchsorted_scan, "scan_unrolled": _searchsorted_scan,
                 "compare_all": _searchsorted_compare_all, "sort": _searchsorted_sort}


def searchsorted(a: ArrayLike, v: ArrayLike, side: str = "left", sorter: ArrayLike | None = None,
                 *, method: str = "scan") -> Array:
    """Indices where `v` would be inserted into the sorted 1-D `a` to keep it sorted
    (numpy.searchsorted; NaNs sort last).

    Args:
        a: a sorted 1-D array (or one sorted by `sorter`).
        v: the query values (any shape).
        side: 'left' (first suitable position) or 'right' (last).
        sorter: optional integer indices that sort `a`.
        method: 'scan' (default: a binary search, log2(len(a)) steps), 'compare_all'
            (compare every pair: fastest for small `a`, memory len(a) * v.size) or
            'sort' (co-sort `a` and `v`). 'scan_unrolled' is 'scan'.

    Returns:
        int32 indices of `v`'s shape.

    >>> import lamina.numpy as lnp
    >>> lnp.searchsorted(lnp.asarray([1, 2, 3]), lnp.asarray([2, 5]))
    Array([1, 3], dtype=int32)
    """
    if sorter is None:
        check_arraylike("searchsorted", a, v)
    else:
        check_arraylike("searchsorted", a, v, sorter)
    a, v = asarray(a), asarray(v)
    if a.ndim != 1:
        raise ValueError(f"lamina.numpy.searchsorted: a should be 1-dimensional, got "
                         f"{a.aval.str_short()}")
    if side not in ("left", "right"):
        raise ValueError(f"lamina.numpy.searchsorted: side must be 'left' or 'right', got "
                         f"{side!r}")
    if method not in _SEARCHSORTED:
        raise ValueError(f"lamina.numpy.searchsorted: invalid method {method!r}; expected one "
                         f"of {sorted(_SEARCHSORTED)}")
    a, v = promote_dtypes(a, v)
    if sorter is not None:
        a = take(a, asarray(sorter), mode="clip")
    if a.shape[0] == 0 or v.size == 0:
        return _full(v.shape, 0, np.int32)
    if method != "sort":
        a, v = _order_key(a), _order_key(v)
    return _SEARCHSORTED[method](a, v, side)


def digitize(x: ArrayLike, bins: ArrayLike, right: bool = False, *,
             method: str | None = None) -> Array:
    """The index of the bin of each value of `x` (numpy.digitize; bins increasing or
    decreasing).

    Args:
        x: the values.
        bins: a monotonic 1-D array of bin edges.
        right: whether bins include their right edge instead of their left one.
        method: the searchsorted method (default 'scan').

    Returns:
        int32 bin indices of `x`'s shape.
    """
    check_arraylike("digitize", x, bins)
    x, bins = asarray(x), asarray(bins)
    if isinstance(right, Tracer):
        raise ConcretizationError("lamina.numpy.digitize: right must be a static bool")
    if bins.ndim != 1:
        raise ValueError(f"lamina.numpy.digitize: bins must be a 1-dimensional array, got "
                         f"{bins.aval.str_short()}")
    n = bins.shape[0]
    if n == 0:
        return _full(x.shape, 0, np.int32)
    side = "left" if right else "right"
    kw = {} if method is None else {"method": method}
    increasing = searchsorted(bins, x, side=side, **kw)
    reversed_bins = lax.rev(bins, (0,))
    decreasing = lax.sub(_const(n, np.int32), searchsorted(reversed_bins, x, side=side, **kw))
    first, last = _slice_axis(bins, 0, 1), _slice_axis(bins, n - 1, n)
    is_increasing = lax.reshape(_le_total(first, last), ())
    return lax.select(is_increasing, increasing, decreasing)
