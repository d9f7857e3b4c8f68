"""`lamina.numpy.linalg`: jax.numpy.linalg's API as compositions of lamina.lax.

Decompositions come from `lamina.lax.linalg` (LAPACK on CPU); everything else is
elementwise ops, reductions, `dot_general`, `gather` and structural ops. Integer and
bool inputs are promoted to the default floating dtype, as in jax; float16/bfloat16
inputs to LAPACK-based functions are a TypeError (LAPACK has no half precision).
"""
from __future__ import annotations

import operator
from typing import Any, NamedTuple, Sequence

import numpy as np

from lamina import dtypes
from lamina.lax import dots as dc
from lamina.lax import elementwise as el
from lamina.lax import indexing as ix
from lamina.lax import linalg as lax_linalg
from lamina.lax import reductions as red
from lamina.lax import structural as st
from lamina.lax._util import canonicalize_axis
from lamina.numpy._util import (asarray, broadcast_shapes, broadcast_to_shape,
                                check_arraylike, promote_dtypes, promote_dtypes_inexact)

__all__ = [
    "EigResult", "EighResult", "QRResult", "SVDResult", "SlogdetResult",
    "cholesky", "cond", "det", "diagonal", "eig", "eigh", "eigvals", "eigvalsh", "inv",
    "lstsq", "matrix_norm", "matrix_power", "matrix_rank", "matrix_transpose", "multi_dot",
    "norm", "outer", "pinv", "qr", "slogdet", "solve", "svd", "svdvals", "tensorinv",
    "tensorsolve", "trace", "vector_norm",
]

Array = Any
ArrayLike = Any

_LAPACK_DTYPES = tuple(np.dtype(t) for t in (np.float32, np.float64, np.complex64,
                                             np.complex128))


class EighResult(NamedTuple):
    eigenvalues: Array
    eigenvectors: Array


class EigResult(NamedTuple):
    eigenvalues: Array
    eigenvectors: Array


class QRResult(NamedTuple):
    Q: Array
    R: Array


class SlogdetResult(NamedTuple):
    sign: Array
    logabsdet: Array


class SVDResult(NamedTuple):
    U: Array
    S: Array
    Vh: Array


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


# --------------------------------------------------------------------------------------
# Decompositions
# --------------------------------------------------------------------------------------

def cholesky(a: ArrayLike, *, upper: bool = False, symmetrize_input: bool = True) -> Array:
    """Cholesky factor of Hermitian positive-definite matrices (numpy.linalg.cholesky).

    Args:
      a: `[..., n, n]`.
      upper: return the upper factor `U = L^H` (`a = U^H U`) instead of `L`.
      symmetrize_input: factor `(a + a^H) / 2` (jax's default); else read the lower
        triangle only.

    Returns:
      `L` (`a = L L^H`) or `U`; NaN for matrices that are not positive definite.
    """
    a = _lapack_operand("lamina.numpy.linalg.cholesky", a, square=True)
    factor = lax_linalg.cholesky(a, symmetrize_input=symmetrize_input)
    return _H(factor) if upper else factor


def qr(a: ArrayLike, mode: str = "reduced") -> Any:
    """QR decomposition (numpy.linalg.qr).

    Args:
      a: `[..., m, n]`.
      mode: "reduced" (`Q` `[..., m, k]`, `R` `[..., k, n]`, `k = min(m, n)`),
        "complete" (`Q` `[..., m, m]`, `R` `[..., m, n]`), "r" (`R` only, reduced) or
        "raw" (`(h, tau)`: LAPACK's Householder form, `h` transposed as numpy does).

    Returns:
      `QRResult(Q, R)`, `R`, or `(h, tau)`.
    """
    if mode not in ("reduced", "complete", "r", "raw"):
        raise ValueError(f"lamina.numpy.linalg.qr: unsupported mode {mode!r}; use 'reduced', "
                         "'complete', 'r' or 'raw'")
    a = _lapack_operand("lamina.numpy.linalg.qr", a)
    if mode == "raw":
        h, taus = lax_linalg.geqrf(a)
        return QRResult(_mT(h), taus)
    q, r = lax_linalg.qr(a, full_matrices=mode == "complete")
    return r if mode == "r" else QRResult(q, r)


def eigh(a: ArrayLike, UPLO: str | None = None, symmetrize_input: bool = True) -> EighResult:
    """Eigenvalues (ascending) and eigenvectors of Hermitian matrices (numpy.linalg.eigh).

    Args:
      a: `[..., n, n]`.
      UPLO: "L" (default) or "U": the triangle read when `symmetrize_input` is False.
      symmetrize_input: decompose `(a + a^H) / 2`.

    Returns:
      `EighResult(eigenvalues [..., n] (real), eigenvectors [..., n, n])`.
    """
    lower = _uplo("eigh", UPLO)
    a = _lapack_operand("lamina.numpy.linalg.eigh", a, square=True)
    v, w = lax_linalg.eigh(a, lower=lower, symmetrize_input=symmetrize_input)
    return EighResult(w, v)


def _uplo(fun: str, UPLO: str | None) -> bool:
    if UPLO not in (None, "L", "U"):
        raise ValueError(f"lamina.numpy.linalg.{fun}: UPLO must be 'L' or 'U', got {UPLO!r}")
    return UPLO != "U"


def eigvalsh(a: ArrayLike, UPLO: str | None = "L", *, symmetrize_input: bool = True) -> Array:
    """Eigenvalues (ascending, real) of Hermitian matrices (numpy.linalg.eigvalsh)."""
    return eigh(a, UPLO, symmetrize_input).eigenvalues


def eig(a: ArrayLike) -> EigResult:
    """Eigenvalues and right eigenvectors of general square matrices (numpy.linalg.eig).

    Returns:
      `EigResult(eigenvalues, eigenvectors)`, complex, eigenvectors in columns.
    """
    a = _lapack_operand("lamina.numpy.linalg.eig", a, square=True)
    w, v = lax_linalg.eig(a, compute_left_eigenvectors=False)
    return EigResult(w, v)


def eigvals(a: ArrayLike) -> Array:
    """Eigenvalues (complex) of general square matrices (numpy.linalg.eigvals)."""
    a = _lapack_operand("lamina.numpy.linalg.eigvals", a, square=True)
    return lax_linalg.eig(a, compute_left_eigenvectors=False,
                          compute_right_eigenvectors=False)[0]


def svd(a: ArrayLike, full_matrices: bool = True, compute_uv: bool = True,
        hermitian: bool = False, subset_by_index: tuple[int, int] | None = None) -> Any:
    """Singular value decomposition `a = U @ diag(S) @ Vh` (numpy.linalg.svd).

    Args:
      a: `[..., m, n]`.
      full_matrices: `U` `[..., m, m]`, `Vh` `[..., n, n]` if True, else reduced.
      compute_uv: if False return only `S`.
      hermitian: `a` is Hermitian: use the (cheaper) eigendecomposition.
      subset_by_index: optional `(start, end)` range of singular values to keep.

    Returns:
      `SVDResult(U, S, Vh)` or `S` (real, descending).
    """
    a = _lapack_operand("lamina.numpy.linalg.svd", a)
    if hermitian:
        return _svd_hermitian(a, compute_uv)
    if not compute_uv:
        return lax_linalg.svd(a, full_matrices=full_matrices, compute_uv=False,
                              subset_by_index=subset_by_index)
    u, s, vh = lax_linalg.svd(a, full_matrices=full_matrices, compute_uv=True,
                              subset_by_index=subset_by_index)
    return SVDResult(u, s, vh)


def _svd_hermitian(a: Array, compute_uv: bool) -> Any:
    if a.shape[-1] != a.shape[-2]:
        raise ValueError("lamina.numpy.linalg.svd: hermitian=True needs square matrices, got "
                         f"shape {a.shape}")
    v, w = lax_linalg.eigh(a)
    s = el.abs(w)
    last = s.ndim - 1
    if not compute_uv:
        return st.rev(red.sort(s, dimension=last), (last,))
    order = st.broadcasted_iota(np.int32, s.shape, last)
    s, order, signs = red.sort((s, order, el.sign(w)), dimension=last, num_keys=1)
    s, order, signs = (st.rev(t, (last,)) for t in (s, order, signs))
    u = _mT(_take_rows(_mT(v), order))
    signs = st.broadcast_in_dim(el.convert_element_type(signs, u.dtype), u.shape,
                                (*range(last), last + 1))
    return SVDResult(u, s, _H(el.mul(u, signs)))


def svdvals(x: ArrayLike, /) -> Array:
    """Singular values in descending order (numpy.linalg.svdvals)."""
    return svd(x, compute_uv=False)


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


# --------------------------------------------------------------------------------------
# Norms and small helpers
# --------------------------------------------------------------------------------------

def _abs_sq(x: Array) -> Array:
    return el.real(el.mul(x, el.conj(x))) if dtypes.is_complex(x.dtype) else el.mul(x, x)


def _reduce(kind: str, x: Array, axes: Sequence[int], keepdims: bool) -> Array:
    fn = {"sum": red.reduce_sum, "max": red.reduce_max, "min": red.reduce_min}[kind]
    out = fn(x, tuple(axes))
    return st.expand_dims(out, tuple(sorted(axes))) if keepdims and axes else out


def _vector_norm(x: Array, ord: Any, axes: tuple[int, ...], keepdims: bool) -> Array:
    real = _real_dtype(x.dtype)
    if isinstance(ord, str):
        raise ValueError(f"lamina.numpy.linalg.norm: invalid order {ord!r} for vectors")
    if ord is None or ord == 2:
        return el.sqrt(_reduce("sum", _abs_sq(x), axes, keepdims))
    mag = el.abs(x)
    if ord == np.inf:
        return el.max(_reduce("max", mag, axes, keepdims), _const(0, real))
    if ord == -np.inf:
        return _reduce("min", mag, axes, keepdims)
    if ord == 0:
        return _reduce("sum", el.convert_element_type(el.ne(mag, _const(0, real)), real),
                       axes, keepdims)
    if ord == 1:
        return _reduce("sum", mag, axes, keepdims)
    p = _const(ord, real)
    total = _reduce("sum", el.pow(mag, p), axes, keepdims)
    return el.pow(total, el.div(_const(1, real), p))


def _matrix_norm(x: Array, ord: Any, axes: tuple[int, int], keepdims: bool) -> Array:
    row, col = axes
    if ord is None or ord in ("fro", "f"):
        return el.sqrt(_reduce("sum", _abs_sq(x), axes, keepdims))
    if ord in (1, -1, np.inf, -np.inf):
        summed, other = (row, col) if ord in (1, -1) else (col, row)
        sums = _reduce("sum", el.abs(x), (summed,), True)
        out = _reduce("max" if ord > 0 else "min", sums, (other,), True)
        if ord > 0:
            out = el.max(out, _const(0, out.dtype))
        return out if keepdims else st.squeeze(out, tuple(sorted(axes)))
    if ord in ("nuc", 2, -2):
        if x.dtype not in _LAPACK_DTYPES:
            x = el.convert_element_type(x, np.float32)
        s = svd(_moveaxis(x, axes, (x.ndim - 2, x.ndim - 1)), compute_uv=False)
        kind = {"nuc": "sum", 2: "max", -2: "min"}[ord]
        out = _reduce(kind, s, (s.ndim - 1,), False)
        if ord == 2:
            out = el.max(out, _const(0, out.dtype))
        return st.expand_dims(out, tuple(sorted(axes))) if keepdims else out
    raise ValueError(f"lamina.numpy.linalg.norm: invalid order {ord!r} for matrices; use None, "
                     "'fro', 'nuc', 1, -1, 2, -2, inf or -inf")


def norm(x: ArrayLike, ord: int | float | str | None = None,
         axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Array:
    """Vector or matrix norm (numpy.linalg.norm).

    Args:
      x: the input (integers are promoted to float).
      ord: vector norms: None/2, 1, inf, -inf, 0 (count of nonzeros), any p; matrix
        norms: None/'fro', 'nuc', 1, -1, 2, -2, inf, -inf.
      axis: None (the whole array: a vector norm for 1-D, a matrix norm for 2-D, the
        flattened 2-norm for any rank if `ord` is None), an int (vector norm) or a pair
        (matrix norm).
      keepdims: keep the reduced axes with size 1.

    Returns:
      The norm(s), of x's real (inexact) dtype.
    """
    fun = "lamina.numpy.linalg.norm"
    x, = _inexact(fun, x)
    if axis is None:
        if ord is None:
            return el.sqrt(_reduce("sum", _abs_sq(x), tuple(range(x.ndim)), keepdims))
        axes = tuple(range(x.ndim))
    elif isinstance(axis, (tuple, list)):
        axes = tuple(canonicalize_axis(a, x.ndim, fun) for a in axis)
    else:
        axes = (canonicalize_axis(axis, x.ndim, fun),)
    if len(axes) == 1:
        return _vector_norm(x, ord, axes, keepdims)
    if len(axes) == 2:
        if axes[0] == axes[1]:
            raise ValueError(f"{fun}: duplicate axes {axis}")
        return _matrix_norm(x, ord, axes, keepdims)
    raise ValueError(f"{fun}: improper number of axes {axes} for an array of shape {x.shape}: "
                     "pass one axis (vector norm) or two (matrix norm)")


def vector_norm(x: ArrayLike, /, *, axis: int | tuple[int, ...] | None = None,
                keepdims: bool = False, ord: int | float = 2) -> Array:
    """Vector norm over `axis` (all axes, flattened, if None) (numpy.linalg.vector_norm)."""
    x, = _inexact("lamina.numpy.linalg.vector_norm", x)
    if axis is None:
        flat = st.reshape(x, (x.size,))
        out = _vector_norm(flat, ord, (0,), False)
        return st.reshape(out, (1,) * x.ndim) if keepdims else out
    if isinstance(axis, int):
        axis = (axis,)
    axes = tuple(canonicalize_axis(a, x.ndim, "lamina.numpy.linalg.vector_norm") for a in axis)
    # Several axes: move them to the end and flatten them into one.
    moved = _moveaxis(x, axes, tuple(range(x.ndim - len(axes), x.ndim)))
    lead = moved.shape[:x.ndim - len(axes)]
    flat = st.reshape(moved, (*lead, int(np.prod([x.shape[a] for a in axes]))))
    out = _vector_norm(flat, ord, (flat.ndim - 1,), False)
    return st.expand_dims(out, tuple(sorted(axes))) if keepdims else out


def matrix_norm(x: ArrayLike, /, *, keepdims: bool = False, ord: str | int = "fro") -> Array:
    """Matrix norm of the last two axes (numpy.linalg.matrix_norm)."""
    x, = _inexact("lamina.numpy.linalg.matrix_norm", x)
    return _matrix_norm(x, ord, (x.ndim - 2, x.ndim - 1), keepdims)


def cond(x: ArrayLike, p: Any = None) -> Array:
    """Condition number (numpy.linalg.cond): `norm(x, p) * norm(inv(x), p)`, or the
    ratio of extreme singular values for p in (None, 2, -2)."""
    x = _lapack_operand("lamina.numpy.linalg.cond", x)
    if p in (None, 2, -2):
        s = svd(x, compute_uv=False)
        k = s.shape[-1]
        first, last = (st.squeeze(st.slice_in_dim(s, i, i + 1, axis=-1), (s.ndim - 1,))
                       for i in (0, k - 1))
        return el.div(first, last) if p != -2 else el.div(last, first)
    if x.shape[-1] != x.shape[-2]:
        raise ValueError(f"lamina.numpy.linalg.cond: p={p!r} needs square matrices, got shape "
                         f"{x.shape}")
    axes = (x.ndim - 2, x.ndim - 1)
    r = el.mul(norm(x, p, axes), norm(inv(x), p, axes))
    # numpy: a singular matrix (inf/NaN inverse) without NaN entries has condition inf.
    x_nan = red.reduce_or(el.ne(x, x), axes)
    fix = el.bitwise_and(el.ne(r, r), el.bitwise_not(x_nan))
    return _where(fix, np.inf, r, r.dtype)


def matrix_transpose(x: ArrayLike, /) -> Array:
    """Swap the last two axes (numpy.linalg.matrix_transpose)."""
    x = asarray(x)
    if x.ndim < 2:
        raise ValueError(f"lamina.numpy.linalg.matrix_transpose: x must have rank >= 2, got "
                         f"shape {x.shape}")
    return _mT(x)


def diagonal(x: ArrayLike, /, *, offset: int = 0) -> Array:
    """Diagonals of the last two axes (numpy.linalg.diagonal)."""
    x = asarray(x)
    if x.ndim < 2:
        raise ValueError(f"lamina.numpy.linalg.diagonal: x must have rank >= 2, got shape "
                         f"{x.shape}")
    return _matrix_diagonal(x, operator.index(offset))


def trace(x: ArrayLike, /, *, offset: int = 0, dtype: Any = None) -> Array:
    """Sums of the diagonals of the last two axes (numpy.linalg.trace)."""
    d = diagonal(x, offset=offset)
    if dtype is not None:
        d = el.convert_element_type(d, dtypes.check_user_dtype_supported(
            dtype, "lamina.numpy.linalg.trace"))
    elif dtypes.is_bool(d.dtype) or (dtypes.is_integer(d.dtype) and d.dtype.itemsize < 4):
        d = el.convert_element_type(d, dtypes.default_uint_dtype()
                                    if dtypes.is_unsigned_integer(d.dtype)
                                    else dtypes.default_int_dtype())
    return red.reduce_sum(d, (d.ndim - 1,))


def outer(x1: ArrayLike, x2: ArrayLike, /) -> Array:
    """Outer product of two vectors (numpy.linalg.outer)."""
    check_arraylike("lamina.numpy.linalg.outer", x1, x2)
    x1, x2 = promote_dtypes(asarray(x1), asarray(x2))
    if x1.ndim != 1 or x2.ndim != 1:
        raise ValueError(f"lamina.numpy.linalg.outer: inputs must be 1-D, got shapes "
                         f"{x1.shape} and {x2.shape}")
    shape = (x1.shape[0], x2.shape[0])
    return el.mul(st.broadcast_in_dim(x1, shape, (0,)), st.broadcast_in_dim(x2, shape, (1,)))
