"""lamina.scipy.linalg: the most used parts of `jax.scipy.linalg` (scipy's argument
names and conventions: `lower=False` Cholesky factors are upper triangular, `lu` returns
`(p, l, u)` with `a = p @ l @ u`, ...), built on `lamina.lax.linalg` and
`lamina.numpy.linalg`. `overwrite_*`, `check_finite` and LAPACK-tuning arguments are
accepted and ignored, as in jax.

>>> import lamina.numpy as lnp
>>> from lamina.scipy import linalg
>>> c = linalg.cho_factor(lnp.array([[4., 2.], [2., 3.]]))
>>> linalg.cho_solve(c, lnp.array([2., 1.]))
Array([0.5, 0. ], dtype=float32)
"""
from __future__ import annotations

import functools
import math
import warnings
from typing import Any

import numpy as np

import lamina.numpy as lnp
from lamina import lax
from lamina._api_batching import vmap
from lamina.custom_derivatives import custom_jvp
from lamina.lax import linalg as lax_linalg
from lamina.numpy._linalg_util import _take_rows
from lamina.numpy._util import broadcast_shapes, broadcast_to_shape, promote_dtypes_inexact

__all__ = [
    "cho_factor", "cho_solve", "cholesky", "det", "eigh", "expm", "inv", "lu", "lu_factor",
    "lu_solve", "qr", "solve", "solve_triangular", "svd",
]


def _mT(x: Any) -> Any:
    return lnp.swapaxes(x, -1, -2)


def _square(fun: str, a: Any) -> None:
    if a.ndim < 2 or a.shape[-1] != a.shape[-2]:
        raise ValueError(f"lamina.scipy.linalg.{fun}: expected a (batch of) square "
                         f"matrices [..., n, n], got shape {a.shape}")


def _solve_operands(fun: str, a: Any, b: Any) -> tuple[Any, Any, bool]:
    """Broadcast the batch dimensions of `a` `[..., n, n]` and `b` (`[n]`, `[..., n, k]`
    or, deprecated as in jax, a batch of vectors `[..., n]`); says whether `b` holds
    vectors."""
    _square(fun, a)
    n = a.shape[-1]
    if b.ndim == 1:
        vector = True
    elif a.ndim == b.ndim + 1 and a.shape[-1] == b.shape[-1]:
        warnings.warn(
            f"lamina.scipy.linalg.{fun}: batched 1D solves with b.ndim > 1 are deprecated "
            "(as in jax), and in the future will be treated as a batched 2D solve. Use "
            f"{fun}(..., b[..., None]).squeeze(-1) to avoid this warning.",
            category=FutureWarning, stacklevel=3)
        vector = True
    else:
        vector = False
    core_b = 1 if vector else 2
    if b.ndim < core_b or b.shape[b.ndim - core_b] != n:
        raise ValueError(f"lamina.scipy.linalg.{fun}: b must have shape ({n},) or "
                         f"(..., {n}, k) to match a {a.shape}, got {b.shape}")
    batch = broadcast_shapes(f"lamina.scipy.linalg.{fun}", a.shape[:-2],
                             b.shape[:b.ndim - core_b])
    a = broadcast_to_shape(a, (*batch, n, n))
    b = broadcast_to_shape(b, (*batch, *b.shape[b.ndim - core_b:]))
    return a, b, vector


# --------------------------------------------------------------------------------------
# Cholesky
# --------------------------------------------------------------------------------------


def cholesky(a: Any, lower: bool = False, overwrite_a: bool = False,
             check_finite: bool = True) -> Any:
    """Cholesky factor of a Hermitian positive-definite `a`: upper `U` with
    `a = U^H U` (default) or lower `L` with `a = L L^H`. Only that triangle of `a` is
    read. Not positive definite: NaN.

    >>> import lamina.numpy as lnp
    >>> cholesky(lnp.array([[4., 2.], [2., 5.]]))
    Array([[2., 1.],
           [0., 2.]], dtype=float32)
    """
    del overwrite_a, check_finite
    a, = promote_dtypes_inexact(lnp.asarray(a))
    _square("cholesky", a)
    factor = lax_linalg.cholesky(a if lower else lnp.conj(_mT(a)), symmetrize_input=False)
    return factor if lower else lnp.conj(_mT(factor))


def cho_factor(a: Any, lower: bool = False, overwrite_a: bool = False,
               check_finite: bool = True) -> tuple[Any, bool]:
    """`(cholesky(a, lower), lower)`, the factorization `cho_solve` takes.

    >>> import lamina.numpy as lnp
    >>> cho_factor(lnp.eye(2), lower=True)[1]
    True
    """
    del overwrite_a, check_finite
    return cholesky(a, lower=lower), lower


def cho_solve(c_and_lower: tuple[Any, bool], b: Any, overwrite_b: bool = False,
              check_finite: bool = True) -> Any:
    """Solve `a x = b` from `cho_factor(a)`'s result: two triangular solves.

    Args:
      c_and_lower: `(c, lower)` from `cho_factor`.
      b: `[n]` or `[..., n, k]`; batch dimensions broadcast with `c`'s.

    >>> import lamina.numpy as lnp
    >>> cho_solve((lnp.eye(2) * 2, True), lnp.array([4., 8.]))
    Array([1., 2.], dtype=float32)
    """
    del overwrite_b, check_finite
    c, lower = c_and_lower
    c, b = promote_dtypes_inexact(lnp.asarray(c), lnp.asarray(b))
    c, b, _ = _solve_operands("cho_solve", c, b)
    # lower: L (L^H x) = b; upper: U^H (U x) = b.
    y = lax_linalg.triangular_solve(c, b, left_side=True, lower=lower,
                                    transpose_a=not lower, conjugate_a=not lower)
    return lax_linalg.triangular_solve(c, y, left_side=True, lower=lower,
                                       transpose_a=lower, conjugate_a=lower)


# --------------------------------------------------------------------------------------
# Triangular and general solves
# --------------------------------------------------------------------------------------

_TRANS = {0: (False, False), "N": (False, False), 1: (True, False), "T": (True, False),
          2: (True, True), "C": (True, True)}


def solve_triangular(a: Any, b: Any, trans: int | str = 0, lower: bool = False,
                     unit_diagonal: bool = False, overwrite_b: bool = False,
                     debug: Any = None, check_finite: bool = True) -> Any:
    """Solve `op(a) x = b` for triangular `a`.

    Args:
      a: `[..., n, n]`; only the `lower` (or upper) triangle is read.
      b: `[n]` or `[..., n, k]`; batch dimensions broadcast.
      trans: `op`: 0/'N' (a), 1/'T' (a^T) or 2/'C' (a^H).
      lower: which triangle of `a` to use.
      unit_diagonal: assume ones on the diagonal (not read).

    Raises:
      ValueError: for another `trans` or mismatched shapes.

    >>> import lamina.numpy as lnp
    >>> solve_triangular(lnp.array([[2., 0.], [1., 1.]]), lnp.array([2., 3.]), lower=True)
    Array([1., 2.], dtype=float32)
    """
    del overwrite_b, debug, check_finite
    try:
        transpose_a, conjugate_a = _TRANS[trans]
    except (KeyError, TypeError):
        raise ValueError(f"lamina.scipy.linalg.solve_triangular: invalid trans {trans!r}; "
                         "expected 0, 1, 2, 'N', 'T' or 'C'") from None
    a, b = promote_dtypes_inexact(lnp.asarray(a), lnp.asarray(b))
    a, b, _ = _solve_operands("solve_triangular", a, b)
    return lax_linalg.triangular_solve(a, b, left_side=True, lower=lower,
                                       transpose_a=transpose_a, conjugate_a=conjugate_a,
                                       unit_diagonal=unit_diagonal)


def solve(a: Any, b: Any, lower: bool = False, overwrite_a: bool = False,
          overwrite_b: bool = False, debug: bool = False, check_finite: bool = True,
          assume_a: str = "gen") -> Any:
    """Solve `a x = b`: LU for `assume_a` 'gen'/'sym'/'her', Cholesky for 'pos' (reading
    the `lower` or upper triangle).

    >>> import lamina.numpy as lnp
    >>> solve(lnp.array([[2., 1.], [1., 2.]]), lnp.array([3., 3.]), assume_a="pos")
    Array([0.9999998, 0.9999999], dtype=float32)
    """
    del overwrite_a, overwrite_b, debug, check_finite
    if assume_a not in ("gen", "sym", "her", "pos"):
        raise ValueError("lamina.scipy.linalg.solve: expected assume_a to be one of "
                         f"['gen', 'sym', 'her', 'pos']; got {assume_a!r}")
    if assume_a != "pos":
        return lnp.linalg.solve(a, b)
    a, b = promote_dtypes_inexact(lnp.asarray(a), lnp.asarray(b))
    _square("solve", a)
    vector = a.ndim == b.ndim + 1
    x = _pos_solve(bool(lower), a, b[..., None] if vector else b)
    return x[..., 0] if vector else x


@functools.partial(custom_jvp, nondiff_argnums=(0,))
def _pos_solve(lower: bool, a: Any, b: Any) -> Any:
    return cho_solve(cho_factor(a, lower=lower), b)


@_pos_solve.defjvp
def _pos_solve_jvp(lower: bool, primals: tuple, tangents: tuple) -> tuple:
    # NOTE: as jax (a linear solve whose matvec is `a @ x`): dx = a^-1 (db - da x), with
    # the whole of `da`, although the factorization reads one triangle of `a`.
    (a, b), (a_dot, b_dot) = primals, tangents
    factors = cho_factor(a, lower=lower)
    x = cho_solve(factors, b)
    return x, cho_solve(factors, b_dot - lnp.matmul(a_dot, x))


# --------------------------------------------------------------------------------------
# LU
# --------------------------------------------------------------------------------------


def lu_factor(a: Any, overwrite_a: bool = False, check_finite: bool = True
              ) -> tuple[Any, Any]:
    """`(lu, piv)`: LAPACK's packed LU factors and 0-based row swaps (`getrf`).

    >>> import lamina.numpy as lnp
    >>> lu_factor(lnp.array([[1., 2.], [3., 4.]]))[1]
    Array([1, 1], dtype=int32)
    """
    del overwrite_a, check_finite
    a, = promote_dtypes_inexact(lnp.asarray(a))
    lu_, pivots, _ = lax_linalg.lu(a)
    return lu_, pivots


def lu_solve(lu_and_piv: tuple[Any, Any], b: Any, trans: int = 0,
             overwrite_b: bool = False, check_finite: bool = True) -> Any:
    """Solve `op(a) x = b` from `lu_factor(a)`; `trans` 0: `a`, 1: `a^T`, 2: `a^H`.

    >>> import lamina.numpy as lnp
    >>> a = lnp.array([[1., 2.], [3., 4.]])
    >>> lu_solve(lu_factor(a), lnp.array([5., 11.]))
    Array([0.99999994, 2.        ], dtype=float32)
    """
    del overwrite_b, check_finite
    lu_, pivots = lu_and_piv
    lu_, b = promote_dtypes_inexact(lnp.asarray(lu_), lnp.asarray(b))
    if trans not in (0, 1, 2):
        raise ValueError(f"lamina.scipy.linalg.lu_solve: 'trans' value must be 0, 1, or 2, "
                         f"got {trans!r}")
    perm = lax_linalg.lu_pivots_to_permutation(lnp.asarray(pivots), lu_.shape[-2])
    lu_, b, vector = _solve_operands("lu_solve", lu_, b)
    perm = broadcast_to_shape(perm, (*lu_.shape[:-2], lu_.shape[-1]))
    x = b[..., None] if vector else b
    if trans == 0:
        x = _take_rows(x, perm)
        x = lax_linalg.triangular_solve(lu_, x, left_side=True, lower=True,
                                        unit_diagonal=True)
        x = lax_linalg.triangular_solve(lu_, x, left_side=True, lower=False)
    else:
        conj = trans == 2
        x = lax_linalg.triangular_solve(lu_, x, left_side=True, lower=False,
                                        transpose_a=True, conjugate_a=conj)
        x = lax_linalg.triangular_solve(lu_, x, left_side=True, lower=True,
                                        unit_diagonal=True, transpose_a=True,
                                        conjugate_a=conj)
        x = _take_rows(x, lnp.argsort(perm, axis=-1).astype(perm.dtype))
    return x[..., 0] if vector else x


def lu(a: Any, permute_l: bool = False, overwrite_a: bool = False,
       check_finite: bool = True) -> tuple[Any, ...]:
    """LU decomposition with partial pivoting: `(p, l, u)` with `a = p @ l @ u`, or
    `(p @ l, u)` if `permute_l`. `l` is `[..., m, k]` unit lower triangular, `u`
    `[..., k, n]` upper triangular, `k = min(m, n)`.

    >>> import lamina.numpy as lnp
    >>> p, l, u = lu(lnp.array([[1., 2.], [3., 4.]]))
    >>> p
    Array([[0., 1.],
           [1., 0.]], dtype=float32)
    """
    del overwrite_a, check_finite
    a, = promote_dtypes_inexact(lnp.asarray(a))
    lu_, _, permutation = lax_linalg.lu(a)
    m, n = a.shape[-2:]
    k = min(m, n)
    # p[..., i, j] = 1 where row j of l @ u is row i of a.
    rows = lnp.arange(m, dtype=permutation.dtype)[:, None]
    p = lnp.real(lnp.asarray(permutation[..., None, :] == rows, dtype=a.dtype))
    lower = lnp.tril(lu_, -1)[..., :, :k] + lnp.eye(m, k, dtype=a.dtype)
    upper = lnp.triu(lu_)[..., :k, :]
    if permute_l:
        return lnp.matmul(p, lower, precision=lax.Precision.HIGHEST), upper
    return p, lower, upper


# --------------------------------------------------------------------------------------
# QR, SVD, eigh, inv, det
# --------------------------------------------------------------------------------------


def qr(a: Any, overwrite_a: bool = False, lwork: Any = None, mode: str = "full",
       pivoting: bool = False, check_finite: bool = True) -> tuple[Any, ...]:
    """QR decomposition: `(q, r)` (`mode` 'full' or 'economic'), or `(r,)` for 'r';
    with `pivoting`, the column permutation `p` (`a[:, p] = q @ r`) comes last.

    >>> import lamina.numpy as lnp
    >>> [x.shape for x in qr(lnp.ones((3, 2)), mode="economic")]
    [(3, 2), (2, 2)]
    """
    del overwrite_a, lwork, check_finite
    if mode in ("full", "r"):
        full_matrices = True
    elif mode == "economic":
        full_matrices = False
    else:
        raise ValueError(f"lamina.scipy.linalg.qr: unsupported mode {mode!r}; expected "
                         "'full', 'r' or 'economic'")
    a, = promote_dtypes_inexact(lnp.asarray(a))
    q, r, *p = lax_linalg.qr(a, pivoting=pivoting, full_matrices=full_matrices)
    if mode == "r":
        return (r, p[0]) if pivoting else (r,)
    return (q, r, p[0]) if pivoting else (q, r)


def svd(a: Any, full_matrices: bool = True, compute_uv: bool = True,
        overwrite_a: bool = False, check_finite: bool = True,
        lapack_driver: str = "gesdd") -> Any:
    """Singular value decomposition `(u, s, vh)` (`s` descending), or `s` alone.

    >>> import lamina.numpy as lnp
    >>> svd(lnp.array([[3., 0.], [0., 4.]]), compute_uv=False)
    Array([4., 3.], dtype=float32)
    """
    del overwrite_a, check_finite, lapack_driver
    a, = promote_dtypes_inexact(lnp.asarray(a))
    out = lax_linalg.svd(a, full_matrices=full_matrices, compute_uv=compute_uv)
    return tuple(out) if compute_uv else out


def eigh(a: Any, b: Any = None, lower: bool = True, eigvals_only: bool = False,
         overwrite_a: bool = False, overwrite_b: bool = False, turbo: bool = True,
         eigvals: None = None, type: int = 1, check_finite: bool = True) -> Any:
    """Eigenvalues `w` (ascending) and eigenvectors `v` (columns) of a Hermitian `a`,
    reading its `lower` (or upper) triangle: `(w, v)`, or `w` if `eigvals_only`.

    Raises:
      NotImplementedError: for the generalized problem (`b`), `type != 1` or `eigvals`.

    >>> import lamina.numpy as lnp
    >>> eigh(lnp.array([[2., 0.], [0., 1.]]), eigvals_only=True)
    Array([1., 2.], dtype=float32)
    """
    del overwrite_a, overwrite_b, turbo, check_finite
    if b is not None:
        raise NotImplementedError("lamina.scipy.linalg.eigh: only b=None is implemented")
    if type != 1:
        raise NotImplementedError("lamina.scipy.linalg.eigh: only type=1 is implemented")
    if eigvals is not None:
        raise NotImplementedError("lamina.scipy.linalg.eigh: only eigvals=None is "
                                  "implemented")
    a, = promote_dtypes_inexact(lnp.asarray(a))
    v, w = lax_linalg.eigh(a, lower=lower)
    return w if eigvals_only else (w, v)


def inv(a: Any, overwrite_a: bool = False, check_finite: bool = True) -> Any:
    """The inverse of square matrices (`lamina.numpy.linalg.inv`).

    >>> import lamina.numpy as lnp
    >>> inv(lnp.array([[2., 0.], [0., 4.]]))
    Array([[0.5 , 0.  ],
           [0.  , 0.25]], dtype=float32)
    """
    del overwrite_a, check_finite
    return lnp.linalg.inv(a)


def det(a: Any, overwrite_a: bool = False, check_finite: bool = True) -> Any:
    """The determinant of square matrices (`lamina.numpy.linalg.det`).

    >>> import lamina.numpy as lnp
    >>> det(lnp.array([[1., 2.], [3., 4.]]))
    Array(-1.9999999, dtype=float32)
    """
    del overwrite_a, check_finite
    return lnp.linalg.det(a)


# --------------------------------------------------------------------------------------
# expm: scaling and squaring with Pade approximants (Higham 2005, as jax)
# --------------------------------------------------------------------------------------

# Higham's theta_m: the largest 1-norm for which the degree-m Pade approximant is
# accurate to unit roundoff; the last one is also the scaling target.
_EXPM_THETAS = {
    np.dtype(np.float64): ((3, 5, 7, 9, 13), (1.495585217958292e-2, 2.539398330063230e-1,
                                              9.504178996162932e-1, 2.097847961257068e0),
                           5.371920351148152),
    np.dtype(np.float32): ((3, 5, 7), (4.258730016922831e-1, 1.880152677804762e0),
                           3.925724783138660),
}


def _pade_coefficients(m: int) -> tuple[float, ...]:
    """`b_j = (2m - j)! / (j! (m - j)!)`, the degree-m Pade numerator of exp (scaled)."""
    f = math.factorial
    return tuple(float(f(2 * m - j) // (f(j) * f(m - j))) for j in range(m + 1))


def _dot(x: Any, y: Any) -> Any:
    return lnp.dot(x, y, precision=lax.Precision.HIGHEST)


def _pade(m: int, a: Any) -> tuple[Any, Any]:
    """`(U, V)`: the odd and even parts of the Pade numerator, `p = U + V`, `q = V - U`."""
    b = _pade_coefficients(m)
    ident = lnp.eye(*a.shape, dtype=a.dtype)
    a2 = _dot(a, a)
    if m == 13:
        a4 = _dot(a2, a2)
        a6 = _dot(a4, a2)
        u = _dot(a, _dot(a6, b[13] * a6 + b[11] * a4 + b[9] * a2)
                 + b[7] * a6 + b[5] * a4 + b[3] * a2 + b[1] * ident)
        v = (_dot(a6, b[12] * a6 + b[10] * a4 + b[8] * a2)
             + b[6] * a6 + b[4] * a4 + b[2] * a2 + b[0] * ident)
        return u, v
    powers = [ident, a2]  # a^0, a^2, a^4, ...
    while len(powers) <= m // 2:
        powers.append(_dot(powers[-1], a2))
    # Highest power first, as the sums are written in Higham's paper (and jax).
    odd = [b[2 * j + 1] * powers[j] for j in reversed(range(m // 2 + 1))]
    even = [b[2 * j] * powers[j] for j in reversed(range(m // 2 + 1))]
    return _dot(a, _sum(odd)), _sum(even)


def _sum(terms: list[Any]) -> Any:
    out = terms[0]
    for t in terms[1:]:
        out = out + t
    return out


def _expm_2d(a: Any, upper_triangular: bool, max_squarings: int) -> Any:
    real = np.dtype(lnp.finfo(a.dtype).dtype)
    if real not in _EXPM_THETAS:
        raise TypeError(f"lamina.scipy.linalg.expm: A.dtype={a.dtype} is not supported")
    degrees, thetas, max_norm = _EXPM_THETAS[real]
    norm1 = lnp.linalg.norm(a, 1)
    n_squarings = lnp.maximum(0, lnp.floor(lnp.log2(norm1 / max_norm)))
    scaled = a / 2 ** n_squarings.astype(a.dtype)
    # NOTE: the degree is chosen from the unscaled norm: scaled matrices get the highest.
    idx = lnp.digitize(norm1, lnp.array(thetas, dtype=norm1.dtype))
    u, v = lax.switch(idx, [lambda x, m=m: _pade(m, x) for m in degrees], scaled)
    p, q = u + v, -u + v

    def compute(p: Any, q: Any) -> Any:
        r = solve_triangular(q, p) if upper_triangular else lnp.linalg.solve(q, p)

        def square(i: Any, r: Any) -> Any:
            return lax.cond(i < n_squarings, lambda r: _dot(r, r), lambda r: r, r)

        return lax.fori_loop(0, max_squarings, square, r)

    return lax.cond(n_squarings > max_squarings, lambda p, q: lnp.full_like(a, np.nan),
                    compute, p, q)


def expm(A: Any, *, upper_triangular: bool = False, max_squarings: int = 16) -> Any:
    """The matrix exponential, by scaling and squaring with a Pade approximant of degree
    up to 13 (7 in single precision), as jax (Higham 2005).

    Args:
      A: `[..., n, n]`.
      upper_triangular: `A` is upper triangular (a triangular solve suffices).
      max_squarings: the most squarings; a matrix that needs more gives NaN.

    >>> import lamina.numpy as lnp
    >>> expm(lnp.zeros((2, 2)))
    Array([[1., 0.],
           [0., 1.]], dtype=float32)
    """
    A, = promote_dtypes_inexact(lnp.asarray(A))
    if A.ndim < 2 or A.shape[-1] != A.shape[-2]:
        raise ValueError(f"lamina.scipy.linalg.expm: expected A to be a (batched) square "
                         f"matrix, got A.shape={A.shape}")
    if A.ndim == 2:
        return _expm_2d(A, upper_triangular, max_squarings)
    batch, n = A.shape[:-2], A.shape[-1]
    flat = lnp.reshape(A, (-1, n, n))
    out = vmap(lambda x: _expm_2d(x, upper_triangular, max_squarings))(flat)
    return lnp.reshape(out, (*batch, n, n))
