"""unique and the set operations of jax.numpy: unique, unique_values, unique_counts,
unique_inverse, unique_all, union1d, intersect1d, setdiff1d, setxor1d, isin.

unique sorts, then keeps the first element of every run of equal values; the set
operations build on it (isin compares every pair, or binary-searches a sorted table).
Separate from `sorting` and `selection` because they form their own family (with the
array API's `unique_*` result tuples).

Their output size depends on values: they read a count back from the device when their
input is concrete; under a transformation they need the static `size=` argument (and
`fill_value=` for the padding), jax's contract.
"""
from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np

from lamina import lax
from lamina.errors import ConcretizationError
from lamina.ir import Tracer
from lamina.lax._util import canonicalize_axis, operator_index
from lamina.numpy._util import asarray, check_arraylike, promote_dtypes
from lamina.numpy._lax_helpers import (
    _aval, _check_concrete, _concat1d, _concrete_int, _const, _convert, _count_true, _full,
    _int_dtype, _moveaxis, _ne_equal_nan, _ravel, _slice_axis, _static_size,
)
from lamina.numpy.selection import _first_true_positions, nonzero, take
from lamina.numpy.sorting import searchsorted

__all__ = [
    "intersect1d",
    "isin",
    "setdiff1d",
    "setxor1d",
    "union1d",
    "unique",
    "unique_all",
    "unique_counts",
    "unique_inverse",
    "unique_values",
]

Array = Any  # lamina.Array or a Tracer
ArrayLike = Any


# --------------------------------------------------------------------------------------
# unique and the set operations
# --------------------------------------------------------------------------------------


class UniqueAllResult(NamedTuple):
    values: Array
    indices: Array
    inverse_indices: Array
    counts: Array


class UniqueCountsResult(NamedTuple):
    values: Array
    counts: Array


class UniqueInverseResult(NamedTuple):
    values: Array
    inverse_indices: Array


def _first_mask(aux: Array, equal_nan: bool) -> Array:
    """For `aux` sorted along axis 0: True where a row differs from the previous one."""
    n = aux.shape[0]
    if n == 0:
        return _full((0,), False, np.bool_)
    ne = _ne_equal_nan(_slice_axis(aux, 1, n), _slice_axis(aux, 0, n - 1), equal_nan)
    if aux.ndim > 1:
        ne = lax.reduce_or(ne, tuple(range(1, aux.ndim)))
    return lax.pad(ne, _const(True, np.bool_), [(1, 0, 0)])


def _sort_rows(aux: Array) -> tuple[Array, Array]:
    """`aux` (n, ...) sorted lexicographically by rows, and the (stable) permutation."""
    n = aux.shape[0]
    iota = lax.iota(_int_dtype(), n)
    if aux.ndim == 1:
        return lax.sort((aux, iota), num_keys=1, is_stable=True)
    m = math.prod(aux.shape[1:])
    flat = lax.reshape(aux, (n, m))
    cols = [lax.reshape(_slice_axis(flat, j, j + 1, 1), (n,)) for j in range(m)]
    perm = lax.sort((*cols, iota), num_keys=m, is_stable=True)[-1]
    return take(aux, perm, axis=0, mode="clip"), perm


def _unique(ar: Array, axis: int, return_index: bool, return_inverse: bool,
            return_counts: bool, equal_nan: bool, size: int | None,
            fill_value: Any) -> tuple[Array, ...]:
    aux = _moveaxis(ar, axis, 0)
    n = aux.shape[0]
    if size is not None and n == 0 and size and fill_value is None:
        raise ValueError("lamina.numpy.unique: for a zero-size input with size > 0, "
                         "fill_value must be given")
    idx_dtype = _int_dtype()
    if aux.ndim > 1 and math.prod(aux.shape[1:]) == 0:
        # NOTE: rows of size zero are all equal: one unique row if there are any.
        perm = lax.iota(idx_dtype, n)
        mask = lax.eq(perm, _const(0, idx_dtype))
    else:
        aux, perm = _sort_rows(aux)
        mask = _first_mask(aux, equal_nan)
    count_dev = _count_true(mask) if n else _const(0, np.int32)
    if size is None:
        size = _concrete_int(count_dev, "unique", f"its input {ar.aval.str_short()}")
        exact = True
    else:
        exact = False
    valid = None if exact else lax.lt(lax.iota(np.int32, size), count_dev)
    if n:
        # The starts of the runs of equal values; jax pads with index 0.
        starts = _first_true_positions(mask, size + 1 if return_counts else size)
        ind = _slice_axis(starts, 0, size)
        if valid is not None:
            ind = lax.select(valid, ind, _full((size,), 0, idx_dtype))
    else:
        ind = _full((size,), 0, idx_dtype)
    if n:
        result = take(aux, ind, axis=0, mode="clip")
    else:
        result = _full((size,) + aux.shape[1:], 0, aux.dtype, aux.weak_type)
    if not exact and fill_value is not None:
        fill = _fill_scalar(fill_value, result.dtype)
        rows = lax.broadcast_in_dim(valid, result.shape, (0,))
        result = lax.select(rows, result, _full(result.shape, fill, result.dtype,
                                                result.weak_type))
    outs: list[Array] = [_moveaxis(result, 0, axis)]
    if return_index:
        outs.append(take(perm, ind, mode="clip") if n else _full((size,), 0, idx_dtype))
    if return_inverse:
        if n:
            rank = lax.sub(lax.cumsum(_convert(mask, idx_dtype), 0), _const(1, idx_dtype))
            _, inverse = lax.sort((perm, rank), num_keys=1, is_stable=True)
        else:
            inverse = _full((0,), 0, idx_dtype)
        outs.append(inverse)
    if return_counts:
        if n:
            # Run lengths: differences of the run starts, the last run ending at n (and
            # the padding, as in jax, giving zero counts).
            ends = _slice_axis(starts, 1, size + 1)
            has_end = lax.lt(lax.iota(np.int32, size), lax.sub(count_dev, _const(1, np.int32)))
            ends = lax.select(has_end, ends, _full((size,), n, idx_dtype))
            counts = lax.sub(ends, ind)
            if valid is not None:
                counts = lax.select(valid, counts, _full((size,), 0, idx_dtype))
        else:
            counts = _full((size,), 0, idx_dtype)
        outs.append(counts)
    return tuple(outs)


def _fill_scalar(fill_value: Any, dtype: np.dtype) -> Any:
    if isinstance(fill_value, Tracer):
        raise ConcretizationError("lamina.numpy: fill_value must be a concrete scalar, got a "
                                  f"traced array {fill_value.aval.str_short()}")
    if np.ndim(fill_value) != 0:
        raise ValueError(f"lamina.numpy: fill_value must be a scalar, got shape "
                         f"{np.shape(fill_value)}")
    return np.asarray(fill_value).astype(dtype).item()


def unique(ar: ArrayLike, return_index: bool = False, return_inverse: bool = False,
           return_counts: bool = False, axis: int | None = None, *, equal_nan: bool = True,
           size: int | None = None, fill_value: ArrayLike | None = None,
           sorted: bool = True) -> Any:
    """The sorted unique elements (or rows/slices along `axis`) of `ar` (numpy.unique).

    Args:
        ar: an array.
        return_index: also return the index of each value's first occurrence.
        return_inverse: also return the indices that rebuild `ar` from the uniques
            (shaped like `ar` when `axis` is None, as jax).
        return_counts: also return the number of occurrences of each value.
        axis: the axis along which slices are compared; None flattens `ar`.
        equal_nan: treat NaNs as equal (one NaN in the result).
        size: the static number of uniques (extra positions are padded; without
            `fill_value` with the smallest value). Without it, `ar` must be concrete.
        fill_value: the padding value when `size` is given.
        sorted: ignored (the result is always sorted), as in jax.

    Returns:
        The unique values, or a tuple with the requested extras (int arrays).

    >>> import lamina.numpy as lnp
    >>> lnp.unique(lnp.asarray([3, 1, 3, 2]))
    Array([1, 2, 3], dtype=int32)
    """
    del sorted
    check_arraylike("unique", ar)
    arr = asarray(ar)
    if size is None:
        _check_concrete(arr, "unique", "its input")
    else:
        size = _static_size(size, "unique")
    shape = arr.shape
    if axis is None:
        arr, axis_int = _ravel(arr) if arr.ndim != 1 else arr, 0
    else:
        axis_int = canonicalize_axis(operator_index(axis), arr.ndim, "lamina.numpy.unique")
    outs = _unique(arr, axis_int, return_index, return_inverse, return_counts, equal_nan,
                   size, fill_value)
    if return_inverse and axis is None:
        k = 2 if return_index else 1
        outs = outs[:k] + (lax.reshape(outs[k], shape),) + outs[k + 1:]
    return outs[0] if len(outs) == 1 else outs


def unique_values(x: ArrayLike, /, *, size: int | None = None,
                  fill_value: ArrayLike | None = None) -> Array:
    """The sorted unique values of `x` (array API; NaNs are not merged)."""
    check_arraylike("unique_values", x)
    return unique(x, equal_nan=False, size=size, fill_value=fill_value)


def unique_counts(x: ArrayLike, /, *, size: int | None = None,
                  fill_value: ArrayLike | None = None) -> UniqueCountsResult:
    """`(values, counts)` of the unique values of `x` (array API)."""
    check_arraylike("unique_counts", x)
    values, counts = unique(x, return_counts=True, equal_nan=False, size=size,
                            fill_value=fill_value)
    return UniqueCountsResult(values, counts)


def unique_inverse(x: ArrayLike, /, *, size: int | None = None,
                   fill_value: ArrayLike | None = None) -> UniqueInverseResult:
    """`(values, inverse_indices)` of the unique values of `x` (array API)."""
    check_arraylike("unique_inverse", x)
    values, inverse = unique(x, return_inverse=True, equal_nan=False, size=size,
                             fill_value=fill_value)
    return UniqueInverseResult(values, inverse)


def unique_all(x: ArrayLike, /, *, size: int | None = None,
               fill_value: ArrayLike | None = None) -> UniqueAllResult:
    """`(values, indices, inverse_indices, counts)` of the unique values of `x`."""
    check_arraylike("unique_all", x)
    values, indices, inverse, counts = unique(
        x, return_index=True, return_inverse=True, return_counts=True, equal_nan=False,
        size=size, fill_value=fill_value)
    return UniqueAllResult(values, indices, inverse, counts)


def _isin_flat(element: Array, test: Array) -> Array:
    """For 1-D `element`: whether each is in 1-D `test` (compare all pairs)."""
    n, m = element.shape[0], test.shape[0]
    if n == 0 or m == 0:
        return _full((n,), False, np.bool_)
    eq = lax.eq(lax.broadcast_in_dim(element, (n, m), (0,)),
                lax.broadcast_in_dim(test, (n, m), (1,)))
    return lax.reduce_or(eq, (1,))


def _compact(values: Array, keep: Array, size: int | None, fill_value: Any, fun_name: str,
             default_fill: str) -> Array:
    """The kept entries of sorted 1-D `values`, in order, padded to `size`."""
    count_dev = _count_true(keep)
    exact = size is None
    if exact:
        size = _concrete_int(count_dev, fun_name, "its inputs")
    n = values.shape[0]
    if n == 0 or size == 0:
        fill = 0 if fill_value is None else _fill_scalar(fill_value, values.dtype)
        return _full((size,), fill, values.dtype, values.weak_type)
    pos = nonzero(keep, size=size, fill_value=n)[0]
    out = take(values, pos, mode="clip")
    if exact:
        return out
    valid = lax.lt(lax.iota(np.int32, size), count_dev)
    if fill_value is not None:
        fill = _full((size,), _fill_scalar(fill_value, values.dtype), values.dtype,
                     values.weak_type)
    elif default_fill == "first":
        # NOTE: jax pads with the smallest result (the first one).
        fill = lax.broadcast_in_dim(_slice_axis(out, 0, 1), (size,), (0,))
    else:
        fill = _full((size,), 0, values.dtype, values.weak_type)
    return lax.select(valid, out, fill)


def _sorted_firsts(a: Array, assume_unique: bool) -> tuple[Array, Array, Array]:
    """1-D `a` sorted (stably), the mask of first occurrences, and the permutation."""
    n = a.shape[0]
    aux, perm = lax.sort((a, lax.iota(_int_dtype(), n)), num_keys=1, is_stable=True)
    mask = _full((n,), True, np.bool_) if assume_unique else _first_mask(aux, True)
    return aux, mask, perm


def union1d(ar1: ArrayLike, ar2: ArrayLike, *, size: int | None = None,
            fill_value: ArrayLike | None = None) -> Array:
    """The sorted union of the values of two arrays (numpy.union1d).

    Args:
        ar1, ar2: arrays (flattened).
        size: the static length of the result (see `unique`).
        fill_value: the padding when `size` is given.

    Returns:
        A 1-D array.
    """
    check_arraylike("union1d", ar1, ar2)
    a1, a2 = promote_dtypes(_ravel(asarray(ar1)), _ravel(asarray(ar2)))
    return unique(_concat1d([a1, a2]), size=size, fill_value=fill_value)


def intersect1d(ar1: ArrayLike, ar2: ArrayLike, assume_unique: bool = False,
                return_indices: bool = False, *, size: int | None = None,
                fill_value: ArrayLike | None = None) -> Any:
    """The sorted values present in both arrays (numpy.intersect1d).

    Args:
        ar1, ar2: arrays (flattened).
        assume_unique: promise that each input has no repeats.
        return_indices: also return the indices of the first occurrence of each value
            in `ar1` and in `ar2`.
        size: the static length of the result (padded with `fill_value`, default the
            smallest value; indices are padded with the inputs' sizes).
        fill_value: the padding value.

    Returns:
        The intersection, or `(intersection, indices1, indices2)`.
    """
    check_arraylike("intersect1d", ar1, ar2)
    a1, a2 = promote_dtypes(_ravel(asarray(ar1)), _ravel(asarray(ar2)))
    if size is not None:
        size = _static_size(size, "intersect1d")
    aux1, first1, perm1 = _sorted_firsts(a1, assume_unique)
    keep = lax.bitwise_and(first1, _isin_flat(aux1, a2))
    values = _compact(aux1, keep, size, fill_value, "intersect1d", "first")
    if not return_indices:
        return values
    n1, n2 = a1.shape[0], a2.shape[0]
    m = values.shape[0]
    if m == 0 or n1 == 0 or n2 == 0:
        return values, _full((m,), n1, _int_dtype()), _full((m,), n2, _int_dtype())
    pos1 = nonzero(keep, size=m, fill_value=n1)[0]
    ind1 = take(perm1, pos1, mode="fill", fill_value=n1)
    aux2, perm2 = lax.sort((a2, lax.iota(_int_dtype(), n2)), num_keys=1, is_stable=True)
    ind2 = take(perm2, _convert(searchsorted(aux2, values, method="compare_all"), _int_dtype()),
                mode="clip")
    valid = lax.lt(pos1, _const(n1, _int_dtype()))
    ind2 = lax.select(valid, ind2, _full((m,), n2, _int_dtype()))
    return values, ind1, ind2


def setdiff1d(ar1: ArrayLike, ar2: ArrayLike, assume_unique: bool = False, *,
              size: int | None = None, fill_value: ArrayLike | None = None) -> Array:
    """The sorted unique values of `ar1` that are not in `ar2` (numpy.setdiff1d).

    Args:
        ar1, ar2: arrays (flattened); the result has `ar1`'s dtype.
        assume_unique: promise that `ar1` has no repeats.
        size: the static length of the result (padded with `fill_value`, default 0).
        fill_value: the padding value.

    Returns:
        A 1-D array.
    """
    check_arraylike("setdiff1d", ar1, ar2)
    a1, a2 = _ravel(asarray(ar1)), _ravel(asarray(ar2))
    if size is not None:
        size = _static_size(size, "setdiff1d")
    aux1, first1, _ = _sorted_firsts(a1, assume_unique)
    c1, c2 = promote_dtypes(aux1, a2)
    keep = lax.bitwise_and(first1, lax.bitwise_not(_isin_flat(c1, c2)))
    return _compact(aux1, keep, size, fill_value, "setdiff1d", "zero")


def setxor1d(ar1: ArrayLike, ar2: ArrayLike, assume_unique: bool = False, *,
             size: int | None = None, fill_value: ArrayLike | None = None) -> Array:
    """The sorted values in exactly one of the two arrays (numpy.setxor1d).

    Args:
        ar1, ar2: arrays (flattened).
        assume_unique: promise that each input has no repeats.
        size: the static length of the result (padded with `fill_value`, default the
            smallest value).
        fill_value: the padding value.

    Returns:
        A 1-D array.
    """
    check_arraylike("setxor1d", ar1, ar2)
    a1, a2 = promote_dtypes(_ravel(asarray(ar1)), _ravel(asarray(ar2)))
    if size is not None:
        size = _static_size(size, "setxor1d")
    aux1, first1, _ = _sorted_firsts(a1, assume_unique)
    aux2, first2, _ = _sorted_firsts(a2, assume_unique)
    keep1 = lax.bitwise_and(first1, lax.bitwise_not(_isin_flat(aux1, a2)))
    keep2 = lax.bitwise_and(first2, lax.bitwise_not(_isin_flat(aux2, a1)))
    values, keep = _concat1d([aux1, aux2]), _concat1d([keep1, keep2])
    if values.shape[0]:
        # Kept values first, in sorted order.
        _, values, keep = lax.sort((lax.bitwise_not(keep), values, keep), num_keys=2)
    return _compact(values, keep, size, fill_value, "setxor1d", "first")


def isin(element: ArrayLike, test_elements: ArrayLike, assume_unique: bool = False,
         invert: bool = False, *, method: str = "auto") -> Array:
    """Whether each element of `element` is in `test_elements` (numpy.isin).

    Args:
        element: an array.
        test_elements: the values to test against (flattened).
        assume_unique: ignored (a promise that the inputs have no repeats).
        invert: return the negation.
        method: 'auto'/'compare_all' (compare every pair; memory element.size *
            test_elements.size), or 'binary_search'/'sort' (sort `test_elements`, then
            search).

    Returns:
        A bool array of `element`'s shape.
    """
    del assume_unique
    check_arraylike("isin", element, test_elements)
    e, t = promote_dtypes(asarray(element), asarray(test_elements))
    shape = _aval(e).shape
    flat, test = _ravel(e) if e.ndim != 1 else e, _ravel(t) if t.ndim != 1 else t
    if method in ("auto", "compare_all"):
        found = _isin_flat(flat, test)
    elif method in ("binary_search", "sort"):
        if test.shape[0] == 0 or flat.shape[0] == 0:
            found = _full(flat.shape, False, np.bool_)
        else:
            table = lax.sort(test)
            pos = searchsorted(table, flat)
            found = lax.eq(take(table, pos, mode="clip"), flat)
    else:
        raise ValueError(f"lamina.numpy.isin: method={method!r} is not implemented; options "
                         "are 'auto', 'compare_all', 'binary_search' and 'sort'")
    if invert:
        found = lax.bitwise_not(found)
    return lax.reshape(found, shape)
