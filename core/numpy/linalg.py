"""`lamina.numpy.linalg`: jax.numpy.linalg's API as compositions of lamina.lax.

Decompositions come from `lamina.lax.linalg` (LAPACK on CPU); everything else is
elementwise ops, reductions, `dot_general`, `gather` and structural ops. Integer and
bool inputs are promoted to the default floating dtype, as in jax; float16/bfloat16
inputs to LAPACK-based functions are a TypeError (LAPACK has no half precision).

This module holds the result types and the decompositions (`cholesky`, `qr`, `eigh`,
`eig`, `svd`...); determinants, solves and inverses are in `linalg_solvers`, norms and
the small matrix helpers in `linalg_norms`, both re-exported here (this module is the
namespace). Their shared helpers are in `lamina.numpy._linalg_util`.
"""
from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from lamina.lax import elementwise as el
from lamina.lax import linalg as lax_linalg
from lamina.lax import reductions as red
from lamina.lax import structural as st
from lamina.numpy._linalg_util import _H, _lapack_operand, _mT, _take_rows

__all__ = [
    "EigResult", "EighResult", "QRResult", "SVDResult", "SlogdetResult",
    "cholesky", "cond", "det", "diagonal", "eig", "eigh", "eigvals", "eigvalsh", "inv",
    "lstsq", "matrix_norm", "matrix_power", "matrix_rank", "matrix_transpose", "multi_dot",
    "norm", "outer", "pinv", "qr", "slogdet", "solve", "svd", "svdvals", "tensorinv",
    "tensorsolve", "trace", "vector_norm",
]

Array = Any
ArrayLike = Any


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


# NOTE: the solver and norm families live in sibling modules (this one would be too
# long); re-exported here, the namespace of jax.numpy.linalg. Imported after the
# decompositions above, which they use.
from lamina.numpy.linalg_solvers import (  # noqa: E402
    det, inv, lstsq, matrix_power, matrix_rank, multi_dot, pinv, slogdet, solve, tensorinv,
    tensorsolve,
)
from lamina.numpy.linalg_norms import (  # noqa: E402
    cond, diagonal, matrix_norm, matrix_transpose, norm, outer, trace, vector_norm,
)
