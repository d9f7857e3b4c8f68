"""Private helpers shared by lamina.numpy's linalg modules (`linalg`, `linalg_solvers`,
`linalg_norms`): operand checks (inexact promotion, LAPACK dtypes, square matrices) and
the small lax compositions they are built from (transposes, matmul, identities,
diagonals, row gathers, fills, selects).
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from lamina import dtypes
from lamina.lax import dots as dc
from lamina.lax import elementwise as el
from lamina.lax import indexing as ix
from lamina.lax import reductions as red
from lamina.lax import structural as st
from lamina.numpy._util import (asarray, broadcast_shapes, broadcast_to_shape,
                                check_arraylike, promote_dtypes_inexact)

Array = Any
ArrayLike = Any

_LAPACK_DTYPES = tuple(np.dtype(t) for t in (np.float32, np.float64, np.complex64,
                                             np.complex128))


# --------------------------------------------------------------------------------------
# Helpers (lax compositions)
# --------------------------------------------------------------------------------------

def _inexact(fun_name: str, *args: ArrayLike) -> list[Array]:
    check_arraylike(fun_name, *args)
    return promote_dtypes_inexact(*[asarray(a) for a in args])


def _lapack_operand(fun_name: str, a: ArrayLike, *, square: bool = False) -> Array:
    """`a` promoted to an inexact dtype, checked to be a (square) batch of matrices
    of a LAPACK dtype."""
    a, = _inexact(fun_name, a)
    if a.dtype not in _LAPACK_DTYPES:
        raise TypeError(f"{fun_name}: dtype {a.dtype.name} is not supported (LAPACK has no "
                        "half precision); supported dtypes: float32, float64, complex64, "
                        "complex128. Convert first, e.g. a.astype(lamina.numpy.float32)")
    if a.ndim < 2:
        raise ValueError(f"{fun_name}: expected a batch of matrices (rank >= 2), got an "
                         f"array of shape {a.shape}")
    if square and a.shape[-1] != a.shape[-2]:
        raise ValueError(f"{fun_name}: expected square matrices [..., n, n], got an array "
                         f"of shape {a.shape}")
    return a


def _const(value: Any, dtype: np.dtype) -> np.ndarray:
    return np.asarray(value, dtype)


def _mT(x: Array) -> Array:
    nd = x.ndim
    return st.transpose(x, (*range(nd - 2), nd - 1, nd - 2))


def _H(x: Array) -> Array:
    xt = _mT(x)
    return el.conj(xt) if dtypes.is_complex(x.dtype) else xt


def _moveaxis(x: Array, src: Sequence[int], dst: Sequence[int]) -> Array:
    perm = [i for i in range(x.ndim) if i not in src]
    for d, s in sorted(zip(dst, src)):
        perm.insert(d, s)
    return x if perm == list(range(x.ndim)) else st.transpose(x, tuple(perm))


def _matmul(a: Array, b: Array) -> Array:
    """`a @ b` for batches of matrices (leading dimensions broadcast)."""
    batch = broadcast_shapes("matmul", a.shape[:-2], b.shape[:-2])
    a = broadcast_to_shape(a, (*batch, *a.shape[-2:]))
    b = broadcast_to_shape(b, (*batch, *b.shape[-2:]))
    nb = len(batch)
    dims = (((nb + 1,), (nb,)), (tuple(range(nb)), tuple(range(nb))))
    return dc.dot_general(a, b, dims, precision=dc.Precision.HIGHEST)


def _eye(shape: Sequence[int], dtype: np.dtype) -> Array:
    """Identity matrices of shape `(..., m, n)`."""
    nd = len(shape)
    diag = el.eq(st.broadcasted_iota(np.int32, shape, nd - 2),
                 st.broadcasted_iota(np.int32, shape, nd - 1))
    return el.convert_element_type(diag, dtype)


def _sum(x: Array, axes: Sequence[int], keepdims: bool = False) -> Array:
    out = red.reduce_sum(x, tuple(axes))
    return st.expand_dims(out, tuple(sorted(axes))) if keepdims and axes else out


def _matrix_diagonal(x: Array, offset: int = 0) -> Array:
    """`x[..., i, i + offset]` for every valid i (numpy's diagonal of the last two axes)."""
    *batch, m, n = x.shape
    rows = st.broadcasted_iota(np.int32, (m, n), 0)
    cols = st.broadcasted_iota(np.int32, (m, n), 1)
    mask = el.eq(el.add(rows, _const(offset, np.int32)), cols)
    mask = st.broadcast_in_dim(mask, x.shape, (len(batch), len(batch) + 1))
    picked = el.select(mask, x, st.full(x.shape, 0, x.dtype))
    size = max(0, min(m, n - offset) if offset >= 0 else min(m + offset, n))
    # One entry per row (offset >= 0: row i holds x[i, i + offset]) or per column survives
    # the mask, so a sum (an `or` for bool) extracts it exactly.
    reduce = red.reduce_or if dtypes.is_bool(x.dtype) else red.reduce_sum
    line = reduce(picked, (x.ndim - 1,) if offset >= 0 else (x.ndim - 2,))
    return st.slice_in_dim(line, 0, size, axis=-1)


def _take_rows(x: Array, idx: Array) -> Array:
    """`x[..., idx[..., i], :]` for a batch of matrices `x` (..., m, k) and indices
    (..., r): a gather with batching dimensions."""
    nb = x.ndim - 2
    dnums = ix.GatherDimensionNumbers(
        offset_dims=(nb + 1,), collapsed_slice_dims=(nb,), start_index_map=(nb,),
        operand_batching_dims=tuple(range(nb)), start_indices_batching_dims=tuple(range(nb)))
    return ix.gather(x, st.expand_dims(idx, (idx.ndim,)), dnums,
                     (*(1,) * nb, 1, x.shape[-1]), mode="promise_in_bounds")


def _fill(value: Any, dtype: np.dtype, shape: Sequence[int]) -> Array:
    if hasattr(value, "shape"):
        return broadcast_to_shape(value, shape)
    return st.full(shape, value, dtype)


def _where(pred: Array, x: Any, y: Any, dtype: np.dtype) -> Array:
    """`select(pred, x, y)` where x and y may be Python scalars (filled with `dtype`)."""
    return el.select(pred, _fill(x, dtype, pred.shape), _fill(y, dtype, pred.shape))


def _real_dtype(dtype: np.dtype) -> np.dtype:
    return dtypes.real_dtype(dtype)
