"""Index construction helpers of jax.numpy: ix_, ravel_multi_index, unravel_index,
diag_indices_from, triu_indices_from, tril_indices_from, fill_diagonal and
mask_indices, and the index-expression objects mgrid, ogrid, r_, c_, s_ and index_exp.

They build index arrays (or, for fill_diagonal, use them) rather than select with them,
so they are kept apart from `indexing` and `selection`.
"""
from __future__ import annotations

import math
from typing import Any, Callable, Sequence

import numpy as np

from lamina import dtypes, lax
from lamina.errors import ConcretizationError
from lamina.ir import Tracer
from lamina.lax._util import operator_index
from lamina.numpy._util import (
    asarray, broadcast_shapes, broadcast_to_shape, check_arraylike, is_lamina_array,
    promote_dtypes,
)
from lamina.numpy._lax_helpers import _aval, _const, _convert, _full, _int_dtype, _ravel
from lamina.numpy.indexing import _scatter_update
from lamina.numpy.creation import array, meshgrid, ones
from lamina.numpy.joining import concatenate
from lamina.numpy.ranges import arange, linspace
from lamina.numpy.selection import _floor_mod, nonzero, take

__all__ = [
    "c_",
    "diag_indices_from",
    "fill_diagonal",
    "index_exp",
    "ix_",
    "mask_indices",
    "mgrid",
    "ogrid",
    "r_",
    "ravel_multi_index",
    "s_",
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


def mask_indices(n: int, mask_func: Callable[[Array, int], Array], k: int = 0, *,
                 size: int | None = None) -> tuple[Array, Array]:
    """The indices of the nonzero entries of `mask_func(ones((n, n)), k)`
    (jax.numpy.mask_indices), e.g. of a triangle with `mask_func=lnp.triu`.

    Args:
        n: the side of the square array.
        mask_func: a function `(array, k) -> array` such as `lnp.triu` or `lnp.tril`.
        k: passed to `mask_func` as its second argument.
        size: the static number of indices to return (padded with zeros or truncated);
            needed to use mask_indices under jit when mask_func depends on traced values.

    Returns:
        `(rows, cols)`, integer arrays.

    >>> import lamina.numpy as lnp
    >>> rows, cols = lnp.mask_indices(3, lnp.triu, 1)
    >>> rows, cols
    (Array([0, 0, 1], dtype=int32), Array([1, 2, 2], dtype=int32))
    """
    rows, cols = nonzero(mask_func(ones((n, n)), k), size=size)
    return rows, cols


# --------------------------------------------------------------------------------------
# Index expressions: mgrid, ogrid, r_, c_, s_, index_exp
# --------------------------------------------------------------------------------------


def _static_bound(value: Any, what: str, op_name: str) -> Any:
    if isinstance(value, Tracer):
        raise ConcretizationError(
            f"lamina.numpy.{op_name}: the slice {what} must be concrete (it fixes the "
            f"result shape), got a traced array {value.aval.str_short()}")
    return value


def _grid_1d(s: slice, op_name: str) -> Array:
    """The 1-D grid a slice stands for: `arange(start, stop, step)`, or, for an
    imaginary step `Nj`, `linspace(start, stop, N)` (stop included)."""
    start = _static_bound(s.start, "start", op_name)
    stop = _static_bound(s.stop, "stop", op_name)
    step = _static_bound(s.step, "step", op_name)
    start = 0 if start is None else start
    step = 1 if step is None else step
    if stop is None:
        raise ValueError(f"lamina.numpy.{op_name}: the slice {s} needs a stop value")
    if np.iscomplexobj(step):
        return linspace(start, stop, int(np.abs(step)))
    return arange(start, stop, step)


def _grids(key: Any, op_name: str) -> list[Array]:
    grids = [_grid_1d(k, op_name) if isinstance(k, slice) else None for k in key]
    if any(g is None for g in grids):
        bad = next(k for k in key if not isinstance(k, slice))
        raise TypeError(f"lamina.numpy.{op_name}[...] takes slices such as 0:5 or 0:1:5j, got "
                        f"{bad!r}")
    return list(promote_dtypes(*grids)) if len(grids) > 1 else grids


class _MGrid:
    """`mgrid[0:2, 0:3]`: a dense mesh grid, stacked along a new first axis (numpy.mgrid).

    An imaginary step `Nj` means N points with the stop included (as linspace).

    >>> import lamina.numpy as lnp
    >>> lnp.mgrid[0:2, 0:3]
    Array([[[0, 0, 0],
            [1, 1, 1]],
    <BLANKLINE>
           [[0, 1, 2],
            [0, 1, 2]]], dtype=int32)
    >>> lnp.mgrid[0:1:3j]
    Array([0. , 0.5, 1. ], dtype=float32)
    """

    def __getitem__(self, key: slice | tuple[slice, ...]) -> Array:
        if isinstance(key, slice):
            return _grid_1d(key, "mgrid")
        grids = _grids(key, "mgrid")
        if not grids:
            return arange(0)
        mesh = meshgrid(*grids, indexing="ij")
        return lax.concatenate([lax.reshape(m, (1, *m.shape)) for m in mesh], 0)

    def __repr__(self) -> str:
        return "lamina.numpy.mgrid"


class _OGrid:
    """`ogrid[0:2, 0:3]`: an open mesh grid, a list of arrays that broadcast against each
    other (numpy.ogrid).

    >>> import lamina.numpy as lnp
    >>> lnp.ogrid[0:2, 0:3]
    [Array([[0],
           [1]], dtype=int32), Array([[0, 1, 2]], dtype=int32)]
    """

    def __getitem__(self, key: slice | tuple[slice, ...]) -> Array | list[Array]:
        if isinstance(key, slice):
            return _grid_1d(key, "ogrid")
        return meshgrid(*_grids(key, "ogrid"), indexing="ij", sparse=True)

    def __repr__(self) -> str:
        return "lamina.numpy.ogrid"


mgrid = _MGrid()
ogrid = _OGrid()


class _Concatenator:
    """Array concatenation by index notation (numpy's `r_`/`c_`), the base of both.

    Items are arrays, scalars, lists or slices (a slice is a 1-D grid, as in `mgrid`).
    An optional leading string directive `'axis,ndmin,trans1d'` sets the concatenation
    axis, the minimum rank each item is raised to, and where an upgraded item's own
    dimensions go (-1: at the end); `'r'`/`'c'` make a 1-D result a row/column matrix.
    """

    axis: int = 0
    ndmin: int = 1
    trans1d: int = -1
    op_name: str = ""

    def __getitem__(self, key: Any) -> Array:
        items = key if isinstance(key, tuple) else (key,)
        axis, ndmin, trans1d, matrix = self.axis, self.ndmin, self.trans1d, -1
        if items and isinstance(items[0], str):
            directive, items = items[0], items[1:]
            if directive in ("r", "c"):
                matrix = 0 if directive == "r" else 1
            else:
                parts = directive.split(",")
                try:
                    values = [int(v) for v in parts[:3]]
                except ValueError:
                    raise ValueError(f"lamina.numpy.{self.op_name}: could not understand the "
                                     f"directive {directive!r}; expected 'r', 'c' or "
                                     "'axis[,ndmin[,trans1d]]' with integers") from None
                axis, ndmin, trans1d = values + [ndmin, trans1d][len(values) - 1:]
        if not items:
            raise ValueError(f"lamina.numpy.{self.op_name}[...] needs at least one array to "
                             "concatenate")
        parts = []
        for item in items:
            if isinstance(item, str):
                raise ValueError(f"lamina.numpy.{self.op_name}: a string directive must come "
                                 f"first, got {item!r} after other items")
            if isinstance(item, slice):
                part, item_ndim = _grid_1d(item, self.op_name), 1
            else:
                part = array(item, copy=False)
                item_ndim = part.ndim
            part = array(part, copy=False, ndmin=ndmin)
            if trans1d != -1 and item_ndim < ndmin:
                part = lax.transpose(part, _trans1d_perm(ndmin, item_ndim, trans1d))
            parts.append(part)
        out = concatenate(parts, axis=axis)
        if matrix != -1 and out.ndim == 1:
            out = lax.reshape(out, (1, out.shape[0]) if matrix == 0 else (out.shape[0], 1))
        return out

    def __len__(self) -> int:
        return 0

    def __repr__(self) -> str:
        return f"lamina.numpy.{self.op_name}"


def _trans1d_perm(ndmin: int, item_ndim: int, trans1d: int) -> tuple[int, ...]:
    """numpy's rule: an item raised from rank `item_ndim` to `ndmin` has unit axes in
    front; move its own axes so that they start at axis `trans1d`."""
    n_new = ndmin - item_ndim
    start = trans1d if trans1d >= 0 else trans1d + n_new + 1
    axes = list(range(ndmin))
    return tuple(axes[:start] + axes[n_new:] + axes[start:n_new])


class _RClass(_Concatenator):
    """`r_[a, b, ...]`: concatenate along the first axis, items raised to at least 1-D
    (numpy.r_).

    >>> import lamina.numpy as lnp
    >>> lnp.r_[lnp.array([1, 2]), 0, 7:9]
    Array([1, 2, 0, 7, 8], dtype=int32)
    """

    axis, ndmin, trans1d, op_name = 0, 1, -1, "r_"


class _CClass(_Concatenator):
    """`c_[a, b, ...]`: stack 1-D items as columns (concatenate along the last axis,
    items raised to at least 2-D with their own axes first) (numpy.c_).

    >>> import lamina.numpy as lnp
    >>> lnp.c_[lnp.array([1, 2]), lnp.array([3, 4])]
    Array([[1, 3],
           [2, 4]], dtype=int32)
    """

    axis, ndmin, trans1d, op_name = -1, 2, 0, "c_"


r_ = _RClass()
c_ = _CClass()

# NOTE: plain index expressions hold no arrays; jax re-exports numpy's objects too.
s_ = np.s_
index_exp = np.index_exp
