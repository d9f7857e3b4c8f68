"""Determinants, solves and inverses of `lamina.numpy.linalg`: `det`, `slogdet`, `solve`,
`inv`, `pinv`, `matrix_power`, `matrix_rank`, `lstsq`, `tensorinv`, `tensorsolve` and
`multi_dot` (jax.numpy.linalg's API; re-exported by `lamina.numpy.linalg`, the
family's namespace).
"""
from __future__ import annotations

import operator
from typing import Any, Sequence

import numpy as np

from lamina import dtypes
from lamina.lax import dots as dc
from lamina.lax import elementwise as el
from lamina.lax import linalg as lax_linalg
from lamina.lax import reductions as red
from lamina.lax import structural as st
from lamina.lax._util import canonicalize_axis
from lamina.numpy._util import (asarray, broadcast_shapes, broadcast_to_shape,
                                check_arraylike, promote_dtypes)
from lamina.numpy._linalg_util import (
    _H, _const, _eye, _inexact, _lapack_operand, _matmul, _matrix_diagonal, _moveaxis,
    _real_dtype, _take_rows, _where,
)
from lamina.numpy.linalg import SlogdetResult, svd

__all__ = [
    "det", "inv", "lstsq", "matrix_power", "matrix_rank", "multi_dot", "pinv", "slogdet",
    "solve", "tensorinv", "tensorsolve",
]


Array = Any
ArrayLike = Any


# --------------------------------------------------------------------------------------
# Determinants, solves, inverses
# --------------------------------------------------------------------------------------

def _lu_parts(fun: str, a: ArrayLike) -> tuple[Array, Array, Array, Array]:
    """(a, diag(U), parity of the row swaps (int32), perm)."""
    a = _lapack_operand(fun, a, square=True)
    lu, pivots, perm = lax_linalg.lu(a)
    diag = _matrix_diagonal(lu)
    iota = st.broadcasted_iota(np.int32, pivots.shape, pivots.ndim - 1)
    swaps = el.convert_element_type(el.ne(pivots, iota), np.int32)
    parity = red.reduce_sum(swaps, (pivots.ndim - 1,))
    return a, diag, parity, perm


def _parity_sign(parity: Array, dtype: np.dtype) -> Array:
    odd = el.eq(el.rem(parity, _const(2, np.int32)), _const(1, np.int32))
    return _where(odd, -1, 1, dtype)


def det(a: ArrayLike) -> Array:
    """Determinants of square matrices (numpy.linalg.det), via LU.

    Args:
      a: `[..., n, n]`.

    Returns:
      `[...]`, a's (inexact) dtype.
    """
    a, diag, parity, _ = _lu_parts("lamina.numpy.linalg.det", a)
    return el.mul(_parity_sign(parity, a.dtype), red.reduce_prod(diag, (diag.ndim - 1,)))


def slogdet(a: ArrayLike, *, method: str | None = None) -> SlogdetResult:
    """Sign and natural log of the absolute determinant (numpy.linalg.slogdet), via LU.

    Args:
      a: `[..., n, n]`.
      method: None or "lu".

    Returns:
      `SlogdetResult(sign, logabsdet)`: sign 0 and logabsdet -inf for singular
      matrices; complex `a` gives a complex unit sign and a real logabsdet.
    """
    if method not in (None, "lu"):
        raise ValueError(f"lamina.numpy.linalg.slogdet: unknown method {method!r}; use 'lu'")
    a, diag, parity, _ = _lu_parts("lamina.numpy.linalg.slogdet", a)
    last = (diag.ndim - 1,)
    real = _real_dtype(a.dtype)
    absdiag = el.abs(diag)
    is_zero = red.reduce_or(el.eq(absdiag, _const(0, real)), last)
    if dtypes.is_complex(a.dtype):
        unit = el.div(diag, el.convert_element_type(
            el.select(el.eq(absdiag, _const(0, real)), st.full(absdiag.shape, 1, real), absdiag),
            a.dtype))
        sign = el.mul(red.reduce_prod(unit, last), _parity_sign(parity, a.dtype))
    else:
        negatives = red.reduce_sum(
            el.convert_element_type(el.lt(diag, _const(0, a.dtype)), np.int32), last)
        sign = _parity_sign(el.add(parity, negatives), a.dtype)
    sign = _where(is_zero, 0, sign, a.dtype)
    logdet = red.reduce_sum(el.log(absdiag), last)
    logdet = _where(is_zero, -np.inf, logdet, real)
    return SlogdetResult(sign, logdet)


def _lu_solve(lu: Array, perm: Array, b: Array) -> Array:
    """Solve `a x = b` from `a`'s LU factors; b is `[..., n, k]` with a's batch."""
    pb = _take_rows(b, perm)
    y = lax_linalg.triangular_solve(lu, pb, left_side=True, lower=True, unit_diagonal=True)
    return lax_linalg.triangular_solve(lu, y, left_side=True, lower=False)


def solve(a: ArrayLike, b: ArrayLike) -> Array:
    """Solve `a @ x = b` (numpy.linalg.solve, NumPy 2 semantics), via LU.

    Args:
      a: `[..., n, n]`.
      b: `[n]` (one right-hand side) or `[..., n, k]`; leading dimensions broadcast.

    Returns:
      `x`: `[..., n]` or `[..., n, k]`. Singular `a` gives inf/NaN.
    """
    fun = "lamina.numpy.linalg.solve"
    a, b = _inexact(fun, a, b)
    a = _lapack_operand(fun, a, square=True)
    n = a.shape[-1]
    vector = b.ndim == 1
    if vector:
        b = st.expand_dims(b, (1,))
    if b.ndim < 2 or b.shape[-2] != n:
        raise ValueError(f"{fun}: b must have shape ({n},) or (..., {n}, k) to match a "
                         f"{a.shape}, got {b.shape if not vector else b.shape[:1]}")
    batch = broadcast_shapes(fun, a.shape[:-2], b.shape[:-2])
    a = broadcast_to_shape(a, (*batch, n, n))
    b = broadcast_to_shape(b, (*batch, *b.shape[-2:]))
    lu, _, perm = lax_linalg.lu(a)
    x = _lu_solve(lu, perm, b)
    return st.squeeze(x, (x.ndim - 1,)) if vector else x


def inv(a: ArrayLike) -> Array:
    """Inverses of square matrices (numpy.linalg.inv), via LU. Singular -> inf/NaN."""
    a = _lapack_operand("lamina.numpy.linalg.inv", a, square=True)
    return solve(a, _eye(a.shape, a.dtype))


def pinv(a: ArrayLike, rtol: ArrayLike | None = None, hermitian: bool = False) -> Array:
    """Moore-Penrose pseudo-inverse via SVD (numpy.linalg.pinv).

    Args:
      a: `[..., m, n]`.
      rtol: singular values `<= rtol * largest` are treated as zero; default
        `10 * max(m, n) * eps`. May be an array broadcasting against `a`'s batch.
      hermitian: `a` is Hermitian (SVD through eigh).

    Returns:
      `[..., n, m]`.
    """
    a = _lapack_operand("lamina.numpy.linalg.pinv", a)
    *batch, m, n = a.shape
    if m == 0 or n == 0:
        return st.full((*batch, n, m), 0, a.dtype)
    real = _real_dtype(a.dtype)
    if rtol is None:
        rtol = _const(10.0 * max(m, n) * float(dtypes.finfo(real).eps), real)
    rtol = broadcast_to_shape(el.convert_element_type(asarray(rtol), real), tuple(batch))
    u, s, vh = svd(a, full_matrices=False, hermitian=hermitian)
    k = s.shape[-1]
    cutoff = el.mul(st.expand_dims(rtol, (len(batch),)), st.slice_in_dim(s, 0, 1, axis=-1))
    keep = el.gt(s, st.broadcast_in_dim(cutoff, s.shape, tuple(range(s.ndim))))
    s_inv = _where(keep, el.div(_const(1, real), _where(keep, s, 1, real)), 0, real)
    scale = st.broadcast_in_dim(el.convert_element_type(s_inv, a.dtype), (*batch, k, m),
                                (*range(len(batch)), len(batch)))
    return _matmul(_H(vh), el.mul(scale, _H(u)))


def matrix_power(a: ArrayLike, n: int) -> Array:
    """`a` multiplied by itself `n` times (numpy.linalg.matrix_power); `n < 0` inverts.

    Args:
      a: `[..., m, m]` (integer matrices stay integer for `n >= 0`).
      n: an integer.
    """
    check_arraylike("lamina.numpy.linalg.matrix_power", a)
    a = asarray(a)
    try:
        n = operator.index(n)
    except TypeError:
        raise TypeError(f"lamina.numpy.linalg.matrix_power: exponent must be an integer, got "
                        f"{n!r}") from None
    if a.ndim < 2 or a.shape[-1] != a.shape[-2]:
        raise ValueError("lamina.numpy.linalg.matrix_power: expected square matrices "
                         f"[..., m, m], got an array of shape {a.shape}")
    if n == 0:
        return _eye(a.shape, a.dtype)
    if n < 0:
        a, n = inv(a), -n
    result = None
    power = a
    while n:
        if n & 1:
            result = power if result is None else _matmul(result, power)
        n >>= 1
        if n:
            power = _matmul(power, power)
    return result


def matrix_rank(M: ArrayLike, rtol: ArrayLike | None = None, *, tol: ArrayLike | None = None,
                hermitian: bool = False) -> Array:
    """Number of singular values above the tolerance (numpy.linalg.matrix_rank).

    Args:
      M: `[..., m, n]` (rank < 2: 1 if any entry is nonzero, else 0).
      rtol: relative tolerance: values `<= rtol * largest` count as zero; default
        `max(m, n) * eps`.
      tol: absolute tolerance instead (only one of `tol` and `rtol` may be given).
      hermitian: use eigenvalue magnitudes.

    Returns:
      int32 `[...]`.

    NOTE: numpy's semantics (and jax's documented ones); jax 0.10's implementation
    compares against `rtol` as an absolute threshold.
    """
    if tol is not None and rtol is not None:
        raise ValueError("lamina.numpy.linalg.matrix_rank: give only one of tol and rtol")
    M, = _inexact("lamina.numpy.linalg.matrix_rank", M)
    if M.ndim < 2:
        nonzero = el.ne(M, _const(0, M.dtype))
        return el.convert_element_type(red.reduce_or(nonzero, tuple(range(M.ndim))), np.int32)
    s = svd(M, full_matrices=False, compute_uv=False, hermitian=hermitian)
    real, last = s.dtype, s.ndim - 1
    batch = s.shape[:-1]
    if tol is not None:
        threshold = broadcast_to_shape(el.convert_element_type(asarray(tol), real), batch)
    else:
        if rtol is None:
            rtol = _const(max(M.shape[-2:]) * float(dtypes.finfo(real).eps), real)
        rtol = broadcast_to_shape(el.convert_element_type(asarray(rtol), real), batch)
        threshold = el.mul(rtol, red.reduce_max(s, (last,)))
    above = el.gt(s, st.broadcast_in_dim(threshold, s.shape, tuple(range(last))))
    return red.reduce_sum(el.convert_element_type(above, np.int32), (last,))


def lstsq(a: ArrayLike, b: ArrayLike, rcond: float | None = None, *,
          numpy_resid: bool = False) -> tuple[Array, Array, Array, Array]:
    """Least-squares solution of `a @ x = b` via SVD (numpy.linalg.lstsq).

    Args:
      a: `[m, n]`.
      b: `[m]` or `[m, k]`.
      rcond: singular values `< rcond * largest` count as zero; default
        `eps * max(m, n)`.
      numpy_resid: numpy's residuals (empty unless rank == n < m; needs concrete
        values). Default: always `|b - a x|^2` per column.

    Returns:
      `(x, residuals, rank, s)`.
    """
    fun = "lamina.numpy.linalg.lstsq"
    a, b = _inexact(fun, a, b)
    if a.ndim != 2:
        raise TypeError(f"{fun}: a must be two-dimensional, got shape {a.shape}")
    if b.ndim not in (1, 2):
        raise TypeError(f"{fun}: b must be one- or two-dimensional, got shape {b.shape}")
    if a.shape[0] != b.shape[0]:
        raise ValueError(f"{fun}: leading dimensions must match, got {a.shape} and {b.shape}")
    a = _lapack_operand(fun, a)
    vector = b.ndim == 1
    if vector:
        b = st.expand_dims(b, (1,))
    m, n = a.shape
    real = _real_dtype(a.dtype)
    if a.size == 0:
        s = st.full((0,), 0, real)
        rank = asarray(np.int32(0))
        x = st.full((n, b.shape[1]), 0, a.dtype)
    else:
        eps = float(dtypes.finfo(real).eps)
        rcond = eps * max(m, n) if rcond is None else (eps if rcond < 0 else float(rcond))
        u, s, vh = svd(a, full_matrices=False)
        largest = st.broadcast_in_dim(st.slice_in_dim(s, 0, 1), s.shape, (0,))
        mask = el.bitwise_and(el.gt(s, _const(0, real)), el.ge(s, el.mul(largest, _const(rcond, real))))
        rank = red.reduce_sum(el.convert_element_type(mask, np.int32), (0,))
        s_inv = _where(mask, el.div(_const(1, real), _where(mask, s, 1, real)), 0, real)
        s_inv = st.broadcast_in_dim(el.convert_element_type(s_inv, a.dtype),
                                    (s.shape[0], b.shape[1]), (0,))
        x = _matmul(_H(vh), el.mul(s_inv, _matmul(_H(u), b)))
    if numpy_resid and (int(np.asarray(rank)) < n or m <= n):
        resid = st.full((0,), 0, real)
    else:
        r = el.sub(b, _matmul(a, x))
        resid = red.reduce_sum(el.real(el.mul(r, el.conj(r))) if dtypes.is_complex(r.dtype)
                               else el.mul(r, r), (0,))
    if vector:
        x = st.squeeze(x, (1,))
    return x, resid, rank, s


def tensorinv(a: ArrayLike, ind: int = 2) -> Array:
    """Inverse of `a` seen as a linear map from its first `ind` to its other axes
    (numpy.linalg.tensorinv). Returns shape `a.shape[ind:] + a.shape[:ind]`."""
    a = asarray(a)
    ind = operator.index(ind)
    if ind <= 0:
        raise ValueError(f"lamina.numpy.linalg.tensorinv: ind must be positive, got {ind}")
    out_shape, in_shape = a.shape[:ind], a.shape[ind:]
    rows, cols = int(np.prod(out_shape)), int(np.prod(in_shape))
    if rows != cols:
        raise ValueError(f"lamina.numpy.linalg.tensorinv: prod(a.shape[:ind]) = {rows} must "
                         f"equal prod(a.shape[ind:]) = {cols} (shape {a.shape}, ind={ind})")
    return st.reshape(inv(st.reshape(a, (rows, cols))), (*in_shape, *out_shape))


def tensorsolve(a: ArrayLike, b: ArrayLike, axes: Sequence[int] | None = None) -> Array:
    """Solve `tensordot(a, x, x.ndim) = b` for `x` (numpy.linalg.tensorsolve)."""
    a, b = asarray(a), asarray(b)
    if axes is not None:
        axes = [canonicalize_axis(ax, a.ndim, "lamina.numpy.linalg.tensorsolve") for ax in axes]
        a = _moveaxis(a, axes, list(range(a.ndim - len(axes), a.ndim)))
    x_shape = a.shape[b.ndim:]
    rows, cols = int(np.prod(a.shape[:b.ndim])), int(np.prod(x_shape))
    if a.shape[:b.ndim] != b.shape or rows != cols:
        raise ValueError(f"lamina.numpy.linalg.tensorsolve: a {a.shape} does not match b "
                         f"{b.shape} (a.shape must start with b.shape and be 'square')")
    x = solve(st.reshape(a, (rows, cols)), st.reshape(b, (rows,)))
    return st.reshape(x, x_shape)


def multi_dot(arrays: Sequence[ArrayLike], *, precision: Any = None) -> Array:
    """Chained matrix product in the cheapest order (numpy.linalg.multi_dot).

    Args:
      arrays: two or more arrays; the first may be 1-D (a row vector), the last 1-D
        (a column vector), the others 2-D.
      precision: a `lamina.lax.Precision` for the products.
    """
    fun = "lamina.numpy.linalg.multi_dot"
    arrays = list(arrays)
    if len(arrays) < 2:
        raise ValueError(f"{fun}: expecting at least two arrays, got {len(arrays)}")
    check_arraylike(fun, *arrays)
    arrays = promote_dtypes(*[asarray(x) for x in arrays])
    first_vec, last_vec = arrays[0].ndim == 1, arrays[-1].ndim == 1
    if first_vec:
        arrays[0] = st.expand_dims(arrays[0], (0,))
    if last_vec:
        arrays[-1] = st.expand_dims(arrays[-1], (1,))
    for i, x in enumerate(arrays):
        if x.ndim != 2:
            raise ValueError(f"{fun}: array {i} has shape {x.shape}; only the first and last "
                             "arrays may be 1-D, the others must be 2-D")
    for i in range(len(arrays) - 1):
        if arrays[i].shape[1] != arrays[i + 1].shape[0]:
            raise ValueError(f"{fun}: shapes {arrays[i].shape} and {arrays[i + 1].shape} "
                             f"(arrays {i} and {i + 1}) are not aligned")
    order = _chain_order([x.shape[0] for x in arrays] + [arrays[-1].shape[1]])

    def product(i: int, j: int) -> Array:
        if i == j:
            return arrays[i]
        k = order[i][j]
        return dc.dot_general(product(i, k), product(k + 1, j), (((1,), (0,)), ((), ())),
                              precision=precision)

    out = product(0, len(arrays) - 1)
    if first_vec:
        out = st.squeeze(out, (0,))
    if last_vec:
        out = st.squeeze(out, (out.ndim - 1,))
    return out


def _chain_order(dims: Sequence[int]) -> list[list[int]]:
    """Matrix-chain dynamic programme: split[i][j] = k minimising the cost of i..j."""
    n = len(dims) - 1
    cost = [[0] * n for _ in range(n)]
    split = [[0] * n for _ in range(n)]
    for length in range(1, n):
        for i in range(n - length):
            j = i + length
            cost[i][j] = None  # type: ignore[call-overload]
            for k in range(i, j):
                c = cost[i][k] + cost[k + 1][j] + dims[i] * dims[k + 1] * dims[j + 1]
                if cost[i][j] is None or c < cost[i][j]:
                    cost[i][j], split[i][j] = c, k
    return split
