"""Index construction helpers of jax.numpy: ix_, ravel_multi_index, unravel_index,
diag_indices_from, triu_indices_from, tril_indices_from and fill_diagonal.

They build index arrays (or, for fill_diagonal, use them) rather than select with them,
so they are kept apart from `indexing` and `selection`.
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from lamina import dtypes, lax
from lamina.errors import ConcretizationError
from lamina.ir import Tracer
from lamina.lax._util import operator_index
from lamina.numpy._util import (
    asarray, broadcast_shapes, broadcast_to_shape, check_arraylike, is_lamina_array,
)
from lamina.numpy._lax_helpers import _aval, _const, _convert, _full, _int_dtype, _ravel
from lamina.numpy.indexing import _scatter_update
from lamina.numpy.selection import _floor_mod, take

__all__ = [
    "diag_indices_from",
    "fill_diagonal",
    "ix_",
    "ravel_multi_index",
    "tril_indices_from",
    "triu_indices_from",
    "unravel_index",
]

Array = Any  # lamina.Array or a Tracer
ArrayLike = Any


# --------------------------------------------------------------------------------------
# Index construction helpers
# --------------------------------------------------------------------------------------


def ix_(*args: ArrayLike) -> tuple[Array, ...]:
    """An open mesh from 1-D integer sequences (numpy.ix_): `x[ix_(rows, cols)]` picks
    the cross product.

    Args:
        *args: 1-D integer arrays.

    Returns:
        A tuple of arrays, the i-th of shape `(1,..., len(args[i]),..., 1)`.
    """
    check_arraylike("ix_", *args)
    n = len(args)
    out = []
    for i, a in enumerate(args):
        a = asarray(a)
        if a.ndim != 1:
            raise ValueError(f"lamina.numpy.ix_: arguments must be 1-dimensional, got shape "
                             f"{a.shape}")
        if dtypes.is_bool(a.dtype):
            raise NotImplementedError("lamina.numpy.ix_: boolean arguments are not "
                                      "implemented; use lnp.nonzero(mask)[0]")
        shape = [1] * n
        shape[i] = a.shape[0]
        out.append(lax.broadcast_in_dim(a, tuple(shape), (i,)))
    return tuple(out)


def ravel_multi_index(multi_index: Sequence[ArrayLike], dims: Sequence[int], mode: str = "raise",
                      order: str = "C") -> Array:
    """Flat indices from a tuple of coordinate arrays (numpy.ravel_multi_index).

    Args:
        multi_index: one integer array per dimension.
        dims: the array shape.
        mode: 'raise' (concrete indices, checked), 'wrap', 'clip' or 'ignore'.
        order: 'C' (row-major) or 'F' (column-major).

    Returns:
        The flat indices, of the broadcast shape.
    """
    if len(multi_index) != len(dims):
        raise ValueError(f"lamina.numpy.ravel_multi_index: got {len(multi_index)} index arrays "
                         f"for {len(dims)} dimensions")
    dims = tuple(operator_index(d) for d in dims)
    check_arraylike("ravel_multi_index", *multi_index)
    idx = [asarray(i) for i in multi_index]
    for i in idx:
        if not dtypes.is_integer(i.dtype):
            raise TypeError(f"lamina.numpy.ravel_multi_index: only integer indices are "
                            f"permitted, got {i.aval.str_short()}")
    dtype = dtypes.result_type(int, *idx)
    if math.prod(dims) - 1 > np.iinfo(dtype).max:
        raise ValueError(f"lamina.numpy.ravel_multi_index: {dtype} cannot hold the flat "
                         f"indices of shape {dims}")
    idx = [_convert(i, dtype) for i in idx]
    if mode == "raise":
        for i, d in zip(idx, dims):
            if isinstance(i, Tracer):
                raise ConcretizationError(
                    "lamina.numpy.ravel_multi_index with mode='raise' needs concrete indices; "
                    f"got a traced {i.aval.str_short()}. Use mode='wrap' or mode='clip'.")
            bad = lax.bitwise_or(lax.lt(i, _const(0, dtype)), lax.ge(i, _const(d, dtype)))
            if i.size and bool(lax.reduce_or(bad, tuple(range(i.ndim)))):
                raise ValueError("lamina.numpy.ravel_multi_index: invalid entry in coordinates "
                                 "array")
    elif mode == "clip":
        idx = [lax.clamp(_const(0, dtype), i, _const(max(d - 1, 0), dtype))
               for i, d in zip(idx, dims)]
    elif mode == "wrap":
        idx = [_floor_mod(i, d) for i, d in zip(idx, dims)]
    elif mode != "ignore":
        raise ValueError(f"lamina.numpy.ravel_multi_index: invalid mode={mode!r}; expected "
                         "'raise', 'wrap', 'clip' or 'ignore'")
    if order == "C":
        strides = [math.prod(dims[k + 1:]) for k in range(len(dims))]
    elif order == "F":
        strides = [math.prod(dims[:k]) for k in range(len(dims))]
    else:
        raise ValueError(f"lamina.numpy.ravel_multi_index: invalid order={order!r}; expected "
                         "'C' or 'F'")
    shape = broadcast_shapes("ravel_multi_index", *[i.shape for i in idx])
    result = _full(shape, 0, dtype)
    for i, s in zip(idx, strides):
        term = i if s == 1 else lax.mul(i, _const(s, dtype))
        result = lax.add(result, broadcast_to_shape(term, shape))
    return result


def _floor_divmod(x: Array, d: int) -> tuple[Array, Array]:
    """Python's divmod by a positive constant (floor division)."""
    dtype = _aval(x).dtype
    dc = _const(d, dtype)
    q, r = lax.div(x, dc), lax.rem(x, dc)
    if dtypes.is_unsigned_integer(dtype):
        return q, r
    neg = lax.lt(r, _const(0, dtype))
    return (lax.select(neg, lax.sub(q, _const(1, dtype)), q),
            lax.select(neg, lax.add(r, dc), r))


def unravel_index(indices: ArrayLike, shape: Sequence[int]) -> tuple[Array, ...]:
    """Coordinate arrays from flat indices into an array of `shape`
    (numpy.unravel_index; out-of-bounds indices are clamped, as jax).

    Args:
        indices: integer array of flat indices (negative ones count from the end).
        shape: the array shape.

    Returns:
        A tuple of integer arrays of `indices`' shape, one per dimension.
    """
    check_arraylike("unravel_index", indices)
    idx = asarray(indices)
    if not dtypes.is_integer(idx.dtype):
        raise TypeError(f"lamina.numpy.unravel_index: only integer indices are permitted, got "
                        f"{idx.aval.str_short()}")
    try:
        dims = [operator_index(s) for s in shape]
    except TypeError:
        dims = [operator_index(shape)]
    outs: list[Any] = [None] * len(dims)
    rest = idx
    for k in reversed(range(len(dims))):
        rest, outs[k] = _floor_divmod(rest, dims[k]) if dims[k] else (rest, rest)
    dtype = idx.dtype
    too_big = lax.gt(rest, _const(0, dtype))
    too_small = (_full(idx.shape, False, np.bool_) if dtypes.is_unsigned_integer(dtype)
                 else lax.lt(rest, _const(-1, dtype)))
    return tuple(lax.select(too_big, _full(idx.shape, max(d - 1, 0), dtype),
                            lax.select(too_small, _full(idx.shape, 0, dtype), o))
                 for d, o in zip(dims, outs))


def diag_indices_from(arr: ArrayLike) -> tuple[Array, ...]:
    """The indices of the main diagonal of a square N-d array (numpy.diag_indices_from).

    Args:
        arr: an array of rank >= 2 whose dimensions are all equal.

    Returns:
        `arr.ndim` copies of `arange(n)`.
    """
    check_arraylike("diag_indices_from", arr)
    shape = np.shape(arr) if not is_lamina_array(arr) else arr.shape
    if len(shape) < 2:
        raise ValueError("lamina.numpy.diag_indices_from: input array must be at least 2-d")
    if len(set(shape)) != 1:
        raise ValueError(f"lamina.numpy.diag_indices_from: all dimensions of the input must be "
                         f"of equal length, got shape {tuple(shape)}")
    return (lax.iota(_int_dtype(), shape[0]),) * len(shape)


def _triangle_indices(arr: Any, k: int, fun_name: str, upper: bool) -> tuple[Array, Array]:
    shape = arr.shape if hasattr(arr, "shape") else np.shape(arr)
    if len(shape) != 2:
        raise ValueError(f"lamina.numpy.{fun_name}: only 2-D inputs are accepted, got shape "
                         f"{tuple(shape)}")
    k = operator_index(k)
    # NOTE: static index arithmetic on the shape alone (no array values are read).
    rows, cols = (np.triu_indices if upper else np.tril_indices)(shape[0], k, shape[1])
    return asarray(rows.astype(_int_dtype())), asarray(cols.astype(_int_dtype()))


def triu_indices_from(arr: ArrayLike, k: int = 0) -> tuple[Array, Array]:
    """The indices of the upper triangle (diagonal offset `k`) of a 2-D array.

    Args:
        arr: a 2-D array (or anything with a `.shape`).
        k: the diagonal offset.

    Returns:
        `(rows, cols)`.
    """
    return _triangle_indices(arr, k, "triu_indices_from", upper=True)


def tril_indices_from(arr: ArrayLike, k: int = 0) -> tuple[Array, Array]:
    """The indices of the lower triangle (diagonal offset `k`) of a 2-D array.

    Args:
        arr: a 2-D array (or anything with a `.shape`).
        k: the diagonal offset.

    Returns:
        `(rows, cols)`.
    """
    return _triangle_indices(arr, k, "tril_indices_from", upper=False)


def fill_diagonal(a: ArrayLike, val: ArrayLike, wrap: bool = False, *,
                  inplace: bool = True) -> Array:
    """A copy of `a` with its main diagonal set to `val` (numpy.fill_diagonal).

    lamina arrays are immutable: pass `inplace=False` (as in jax).

    Args:
        a: an array of rank >= 2 (all dimensions equal if rank > 2).
        val: a scalar or an array whose flattened values are cycled along the diagonal.
        wrap: for tall 2-D arrays, restart the diagonal below the first square block
            (NumPy's behaviour).
        inplace: must be False.

    Returns:
        The updated array.
    """
    if inplace:
        raise NotImplementedError("lamina.numpy.fill_diagonal cannot modify arrays in place "
                                  "(lamina arrays are immutable); pass inplace=False")
    check_arraylike("fill_diagonal", a, val)
    a, val = asarray(a), asarray(val)
    if a.ndim < 2:
        raise ValueError("lamina.numpy.fill_diagonal: array must be at least 2-d")
    if a.ndim > 2 and len(set(a.shape)) != 1:
        raise ValueError(f"lamina.numpy.fill_diagonal: all dimensions of the input must be of "
                         f"equal length, got shape {a.shape}")
    # NOTE: numpy's definition on the flattened array: every (cols + 1)-th element
    # (with a.ndim > 2, every sum(strides)-th), stopping after the first square block
    # unless `wrap`.
    if a.ndim == 2:
        step = a.shape[1] + 1
        end = a.size if wrap else min(a.shape[0], a.shape[1]) * a.shape[1]
    else:
        step = sum(math.prod(a.shape[k + 1:]) for k in range(a.ndim))
        end = a.size
    positions = np.arange(0, end, step, dtype=np.int32)
    n = positions.shape[0]
    if n == 0:
        return a
    if val.ndim:
        flat = _ravel(val)
        if flat.shape[0] == 0:
            return a
        values = take(flat, np.arange(n, dtype=np.int32) % flat.shape[0], mode="clip")
    else:
        values = val
    out = _scatter_update(_ravel(a), positions, values, "set", indices_are_sorted=True,
                          unique_indices=True, mode=None, normalize=False)
    return lax.reshape(out, a.shape)
