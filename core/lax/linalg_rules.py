"""Transformation rules (JVP, transpose, batching) of the `lax.linalg` primitives.

Imported at the end of `lamina/lax/linalg.py`, which defines the primitives; the rules
live here only to keep that module a readable size. The math follows jax's
`jax/_src/lax/linalg.py` (references in each rule).

All primitives act on leading batch dimensions already, so every batching rule moves
the vmapped dimension to the front and returns outputs batched at 0. The JVP rules are
written with batch-polymorphic `lax` ops (`batch_matmul`, masks from constants) so
they need no vmap of their own.

Not differentiable (as in jax): `geqrf` and `householder_product` (LAPACK's compact QR
form; differentiate `qr` instead), and the integer `lu_pivots_to_permutation`.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from lamina import dtypes
from lamina.interpreters import ad, batching
from lamina.interpreters.ad import Zero
from lamina.ir import shaped_abstractify
from lamina.lax import dots, elementwise as el, reductions, structural as st
from lamina.lax.linalg import (cholesky_p, eig_p, eigh_p, geqrf_p, householder_product_p,
                               lu_p, lu_pivots_to_permutation_p, qr_p, svd_p,
                               triangular_solve, triangular_solve_p)

_I32 = np.dtype(np.int32)

# --------------------------------------------------------------------------------------
# Batch-polymorphic matrix helpers (operands are [..., m, n])
# --------------------------------------------------------------------------------------


def _shape(x: Any) -> tuple[int, ...]:
    return shaped_abstractify(x).shape


def _dtype(x: Any) -> np.dtype:
    return shaped_abstractify(x).dtype


def _is_complex(x: Any) -> bool:
    return dtypes.is_complex(_dtype(x))


def _T(x: Any) -> Any:
    nd = len(_shape(x))
    return st.transpose(x, (*range(nd - 2), nd - 1, nd - 2))


def _H(x: Any) -> Any:
    return _T(el.conj(x)) if _is_complex(x) else _T(x)


def _mm(a: Any, b: Any) -> Any:
    return dots.batch_matmul(a, b, precision=dots.Precision.HIGHEST)


def _iotas(shape: Sequence[int]) -> tuple[Any, Any]:
    """Row and column indices (int32) of every entry of a batch of matrices.

    NOTE: masks are built from iotas, never from numpy constants: a rule that closed
    over an array constant would break the closed-program transforms of jit.
    """
    nd = len(shape)
    return (st.broadcasted_iota(_I32, shape, nd - 2), st.broadcasted_iota(_I32, shape, nd - 1))


def _zeros_like(x: Any) -> Any:
    return st.full(_shape(x), 0, _dtype(x))


def _tri(x: Any, k: int, lower: bool) -> Any:
    """tril(x, k) (lower: keep j <= i + k) or triu(x, k) (keep j >= i + k)."""
    rows, cols = _iotas(_shape(x))
    diff = el.sub(cols, rows)
    keep = el.le(diff, np.int32(k)) if lower else el.ge(diff, np.int32(k))
    return el.select(keep, x, _zeros_like(x))


def _tril(x: Any, k: int = 0) -> Any:
    return _tri(x, k, lower=True)


def _triu(x: Any, k: int = 0) -> Any:
    return _tri(x, k, lower=False)


def _eye(shape: Sequence[int], dtype: np.dtype, start: int = 0) -> Any:
    """Identity matrices of `shape` (batched, rectangular allowed); with `start`, only
    the diagonal entries from row `start` on are 1."""
    rows, cols = _iotas(shape)
    on = el.eq(rows, cols)
    if start:
        on = el.bitwise_and(on, el.ge(rows, np.int32(start)))
    return el.convert_element_type(on, dtype)


def _eye_like(x: Any) -> Any:
    return _eye(_shape(x), _dtype(x))


def _diagonal(x: Any) -> Any:
    """[..., n, n] -> [..., n]."""
    nd = len(_shape(x))
    return reductions.reduce_sum(el.mul(x, _eye_like(x)), (nd - 1,))


def _row(v: Any, m: int) -> Any:
    """[..., n] -> [..., m, n] with `out[..., i, j] = v[..., j]` (v[..., None, :])."""
    *batch, n = _shape(v)
    nb = len(batch)
    return st.broadcast_in_dim(v, (*batch, m, n), (*range(nb), nb + 1))


def _col(v: Any, n: int) -> Any:
    """[..., m] -> [..., m, n] with `out[..., i, j] = v[..., i]` (v[..., :, None])."""
    *batch, m = _shape(v)
    nb = len(batch)
    return st.broadcast_in_dim(v, (*batch, m, n), (*range(nb), nb))


def _cast(x: Any, dtype: np.dtype) -> Any:
    return x if _dtype(x) == dtype else el.convert_element_type(x, dtype)


def _real(x: Any) -> Any:
    return el.real(x) if _is_complex(x) else x


def _symmetrize(x: Any) -> Any:
    """(x + x^H) / 2."""
    return el.mul(el.add(x, _H(x)), np.asarray(0.5, _dtype(x)))


def _slice2(x: Any, rows: tuple[int, int], cols: tuple[int, int]) -> Any:
    *batch, _, _ = _shape(x)
    return st.slice(x, (0,) * len(batch) + (rows[0], cols[0]), (*batch, rows[1], cols[1]))


def _pad2(x: Any, rows: int, cols: int) -> Any:
    """Zero-pad the trailing matrices by `rows` below and `cols` to the right."""
    nb = len(_shape(x)) - 2
    return st.pad(x, np.zeros((), _dtype(x)), [(0, 0, 0)] * nb + [(0, rows, 0), (0, cols, 0)])


def _one_hot_rows(perm: Any, n: int, dtype: np.dtype) -> Any:
    """`P[..., i, j] = (perm[..., i] == j)`, so `P @ x` is `x[..., perm, :]`.

    NOTE: a permutation by a one-hot product (instead of a gather) keeps the tangent
    map a plain matmul with a constant, whose transpose every transform knows.
    """
    *batch, m = _shape(perm)
    shape = (*batch, m, n)
    cols = st.broadcasted_iota(_I32, shape, len(batch) + 1)
    return _cast(el.eq(_col(perm, n), cols), dtype)


def _permute_rows(x: Any, perm: Any) -> Any:
    return _mm(_one_hot_rows(perm, _shape(x)[-2], _dtype(x)), x)


def _permute_cols(x: Any, perm: Any) -> Any:
    """`x[..., :, perm]`."""
    return _mm(x, _T(_one_hot_rows(perm, _shape(x)[-1], _dtype(x))))


def _solve(a: Any, b: Any) -> Any:
    """`a^{-1} @ b` for square `a` via LU (partial pivoting)."""
    lu, _, perm = lu_p.bind(a)
    y = triangular_solve(lu, _permute_rows(b, perm), left_side=True, lower=True,
                         unit_diagonal=True)
    return triangular_solve(lu, y, left_side=True, lower=False)


def _zero_tangent(x: Any) -> Zero:
    return Zero.like(x)


# --------------------------------------------------------------------------------------
# Batching: every primitive maps over leading dimensions; put the vmapped one first.
# --------------------------------------------------------------------------------------


def _batch_at_front(primitive: Any) -> None:
    def rule(args: Sequence[Any], dims: Sequence[Any], **params: Any) -> tuple[Any, Any]:
        size = batching.dim_size(args, dims)
        args = [batching.bdim_at_front(x, d, size) for x, d in zip(args, dims)]
        out = primitive.bind(*args, **params)
        return out, ([0] * len(out) if primitive.multiple_results else 0)

    batching.primitive_batchers[primitive] = rule


for _p in (cholesky_p, eig_p, eigh_p, geqrf_p, householder_product_p, lu_p,
           lu_pivots_to_permutation_p, qr_p, svd_p):
    _batch_at_front(_p)


# --------------------------------------------------------------------------------------
# cholesky
# --------------------------------------------------------------------------------------


def _cholesky_jvp(primals: list, tangents: list, *, symmetrize_input: bool
                  ) -> tuple[Any, Any]:
    # Forward mode from Murray, "Differentiation of the Cholesky decomposition"
    # (arXiv:1602.07527): L_dot = L phi(L^{-1} sigma_dot L^{-H}), where phi keeps the
    # lower triangle and halves the diagonal.
    (x,), (x_dot,) = primals, tangents
    L = cholesky_p.bind(x, symmetrize_input=symmetrize_input)
    sigma_dot = _symmetrize(x_dot) if symmetrize_input else x_dot
    tmp = triangular_solve(L, sigma_dot, left_side=False, lower=True, transpose_a=True,
                           conjugate_a=True)
    inner = triangular_solve(L, tmp, left_side=True, lower=True)
    half_diag = el.mul(el.mul(inner, _eye_like(inner)), np.asarray(0.5, _dtype(inner)))
    return L, _mm(L, el.sub(_tril(inner), half_diag))


ad.primitive_jvps[cholesky_p] = _cholesky_jvp


# --------------------------------------------------------------------------------------
# eig
# --------------------------------------------------------------------------------------

_EIGVEC_DERIVS_MSG = (
    "lax.linalg.eig: derivatives of non-symmetric eigenvectors are only valid under "
    "assumptions lamina cannot check (distinct eigenvalues, no two components of an "
    "eigenvector tied for largest magnitude). Pass enable_eigvec_derivs=True to "
    "lamina.lax.linalg.eig to opt in, or differentiate only the eigenvalues "
    "(lamina.numpy.linalg.eigvals).")


def _eig_vec_jvp(w: Any, v: Any, a_dot: Any) -> tuple[Any, Any]:
    # Non-degenerate perturbation theory (Giles, "An extended collection of matrix
    # derivative results", sec. 3.1). The free scale c_j of each tangent dv_j is fixed
    # by LAPACK's normalisation: unit 2-norm, real largest-magnitude component.
    n = _shape(w)[-1]
    eye = _eye_like(v)
    F = el.sub(el.reciprocal(el.add(eye, el.sub(_row(w, n), _col(w, n)))), eye)
    P = _mm(_solve(v, a_dot), v)
    dw = _diagonal(P)
    U = _mm(v, el.mul(F, P))
    rows = len(_shape(v)) - 2
    k = reductions.argmax(el.abs(v), rows, _I32)
    at_max = el.eq(st.broadcasted_iota(_I32, _shape(v), rows), _row(k, n))
    mask = _cast(at_max, _dtype(v))
    re = el.neg(el.real(reductions.reduce_sum(el.mul(el.conj(v), U), (rows,))))
    im = el.div(el.neg(el.imag(reductions.reduce_sum(el.mul(mask, U), (rows,)))),
                el.real(reductions.reduce_sum(el.mul(mask, v), (rows,))))
    c = el.complex(re, im)
    return dw, el.add(U, el.mul(v, _row(c, n)))


def _eig_jvp(primals: list, tangents: list, *, compute_left_eigenvectors: bool,
             compute_right_eigenvectors: bool, enable_eigvec_derivs: bool
             ) -> tuple[Any, Any]:
    (a,), (a_dot,) = primals, tangents
    vectors = compute_left_eigenvectors or compute_right_eigenvectors
    if vectors and not enable_eigvec_derivs:
        raise NotImplementedError(_EIGVEC_DERIVS_MSG)
    outs = eig_p.bind(a, compute_left_eigenvectors=compute_left_eigenvectors,
                      compute_right_eigenvectors=True,
                      enable_eigvec_derivs=enable_eigvec_derivs)
    w, vr = outs[0], outs[-1]
    a_dot = _cast(a_dot, _dtype(vr))
    if not vectors:
        # dw_i = (vr^{-1} a_dot vr)_ii
        nd = len(_shape(vr))
        dw = reductions.reduce_sum(el.mul(_solve(vr, a_dot), _T(vr)), (nd - 1,))
        return [w], [dw]
    dw, dvr = _eig_vec_jvp(w, vr, a_dot)
    primal_out, tangent_out = [w], [dw]
    if compute_left_eigenvectors:
        _, dvl = _eig_vec_jvp(el.conj(w), outs[1], _H(a_dot))
        primal_out.append(outs[1])
        tangent_out.append(dvl)
    if compute_right_eigenvectors:
        primal_out.append(vr)
        tangent_out.append(dvr)
    return primal_out, tangent_out


ad.primitive_jvps[eig_p] = _eig_jvp


# --------------------------------------------------------------------------------------
# eigh
# --------------------------------------------------------------------------------------


def _eigh_jvp(primals: list, tangents: list, *, lower: bool, symmetrize_input: bool,
              sort_eigenvalues: bool, subset_by_index: tuple[int, int] | None
              ) -> tuple[Any, Any]:
    # Non-degenerate perturbation theory (distinct eigenvalues), as jax:
    # dw = real(diag(V^H dA V)), dV = V (F * (V^H dA V)), F_ij = 1 / (w_j - w_i), i != j.
    (a,), (a_dot,) = primals, tangents
    n = _shape(a)[-1]
    if subset_by_index is not None and tuple(subset_by_index) != (0, n):
        raise NotImplementedError("lax.linalg.eigh: derivatives of a partial "
                                  f"eigendecomposition (subset_by_index={subset_by_index}) "
                                  "are not implemented; decompose the whole matrix")
    v, w = eigh_p.bind(a, lower=lower, symmetrize_input=symmetrize_input,
                       sort_eigenvalues=sort_eigenvalues, subset_by_index=subset_by_index)
    if symmetrize_input:
        a_dot = _symmetrize(a_dot)
    wc = _cast(w, _dtype(a))
    eye = _eye_like(a)
    F = el.sub(el.reciprocal(el.add(eye, el.sub(_row(wc, n), _col(wc, n)))), eye)
    vh_adot_v = _mm(_mm(_H(v), a_dot), v)
    dv = _mm(v, el.mul(F, vh_adot_v))
    dw = _real(_diagonal(vh_adot_v))
    return [v, w], [dv, dw]


ad.primitive_jvps[eigh_p] = _eigh_jvp


# --------------------------------------------------------------------------------------
# lu and lu_pivots_to_permutation
# --------------------------------------------------------------------------------------


def _lu_jvp(primals: list, tangents: list) -> tuple[Any, Any]:
    # De Hoog, Anderssen and Lukas, "Differentiation of matrix functionals using
    # triangular factorization": with X = L^{-1} P A_dot U^{-1},
    # L_dot = L tril(X, -1) and U_dot = triu(X) U.
    (a,), (a_dot,) = primals, tangents
    lu, pivots, permutation = lu_p.bind(a)
    m, n = _shape(a)[-2:]
    k = min(m, n)
    batch, dtype = _shape(a)[:-2], _dtype(a)
    l = el.add(_pad2(_tril(_slice2(lu, (0, m), (0, k)), -1), 0, m - k),
               _eye((*batch, m, m), dtype))
    u = el.add(_pad2(_triu(_slice2(lu, (0, k), (0, n))), n - k, 0),
               _eye((*batch, n, n), dtype, start=k))
    la = triangular_solve(l, _permute_rows(a_dot, permutation), left_side=True, lower=True,
                          unit_diagonal=True)
    lau = triangular_solve(u, la, left_side=False, lower=False)
    lu_dot = el.add(_mm(l, _tril(lau, -1)), _mm(_triu(lau), u))
    return [lu, pivots, permutation], [lu_dot, _zero_tangent(pivots),
                                       _zero_tangent(permutation)]


ad.primitive_jvps[lu_p] = _lu_jvp
ad.defjvp_zero(lu_pivots_to_permutation_p)


# --------------------------------------------------------------------------------------
# qr
# --------------------------------------------------------------------------------------


def _thin_qr_jvp(q: Any, r: Any, dx: Any) -> tuple[Any, Any]:
    """JVP of `x = q r` for [..., m, n] with m >= n (q [m, n], r [n, n]); see
    J. Townsend, "Differentiating the QR decomposition" (2018)."""
    dx_rinv = triangular_solve(r, dx, left_side=False, lower=False)
    qt_dx_rinv = _mm(_H(q), dx_rinv)
    strict_lower = _tril(qt_dx_rinv, -1)
    do = el.sub(strict_lower, _H(strict_lower))  # skew-Hermitian
    if _is_complex(qt_dx_rinv):
        # NOTE: the imaginary part of the diagonal also belongs to the skew part.
        imag_diag = el.sub(qt_dx_rinv, _cast(el.real(qt_dx_rinv), _dtype(qt_dx_rinv)))
        do = el.add(do, el.mul(_eye_like(qt_dx_rinv), imag_diag))
    dq = el.add(_mm(q, el.sub(do, qt_dx_rinv)), dx_rinv)
    dr = _mm(el.sub(qt_dx_rinv, do), r)
    return dq, dr


def _qr_jvp(primals: list, tangents: list, *, pivoting: bool, full_matrices: bool
            ) -> tuple[Any, Any]:
    (x,), (dx,) = primals, tangents
    q, r, *p = qr_p.bind(x, pivoting=pivoting, full_matrices=full_matrices)
    m, n = _shape(x)[-2:]
    p_dot = [_zero_tangent(p[0])] if pivoting else []
    if pivoting:
        x = _permute_cols(x, p[0])
        dx = _permute_cols(dx, p[0])
    if m < n:
        # Wide: x = [x1 x2] = q [r1 r2]; (q, r1) is the QR of the square x1, and
        # r2 = q^H x2 gives dr2 = dq^H x2 + q^H dx2.
        dq, dr1 = _thin_qr_jvp(q, _slice2(r, (0, m), (0, m)), _slice2(dx, (0, m), (0, m)))
        dr2 = el.add(_mm(_H(dq), _slice2(x, (0, m), (m, n))),
                     _mm(_H(q), _slice2(dx, (0, m), (m, n))))
        dr = st.concatenate([dr1, dr2], len(_shape(dr1)) - 1)
        return [q, r, *p], [dq, dr, *p_dot]
    q_mn = _slice2(q, (0, m), (0, n)) if full_matrices else q
    r_nn = _slice2(r, (0, n), (0, n)) if full_matrices else r
    dq, dr = _thin_qr_jvp(q_mn, r_nn, dx)
    if full_matrices and m > n:
        # The trailing m - n columns of q (Roberts and Roberts, arXiv:2409.13374,
        # eqs. 32-33): z = q_pn (q_nn - I)^{-1},
        # dq_mp = dq_mn z^H - (q_mn + q_mp z) (dq_pn - z dq_nn)^H.
        q_nn, q_pn = _slice2(q_mn, (0, n), (0, n)), _slice2(q_mn, (n, m), (0, n))
        q_mp = _slice2(q, (0, m), (n, m))
        dq_nn, dq_pn = _slice2(dq, (0, n), (0, n)), _slice2(dq, (n, m), (0, n))
        z_h = _solve(_H(el.sub(q_nn, _eye_like(q_nn))), _H(q_pn))
        z = _H(z_h)
        dq_mp = el.sub(_mm(dq, z_h), _mm(el.add(q_mn, _mm(q_mp, z)),
                                          _H(el.sub(dq_pn, _mm(z, dq_nn)))))
        nd = len(_shape(dq))
        dq = st.concatenate([dq, dq_mp], nd - 1)
        dr = _pad2(dr, m - n, 0)
    return [q, r, *p], [dq, dr, *p_dot]


ad.primitive_jvps[qr_p] = _qr_jvp


# --------------------------------------------------------------------------------------
# svd
# --------------------------------------------------------------------------------------


def _svd_jvp(primals: list, tangents: list, *, full_matrices: bool, compute_uv: bool,
             subset_by_index: tuple[int, int] | None, algorithm: Any) -> tuple[Any, Any]:
    # As jax (after Townsend's notes and Giles sec. 3.2), for distinct non-zero
    # singular values: with dS = U^H dA V, ds = real(diag(dS)),
    # dU = U (F o (dS S + S dS^H) + i Im(diag(dS)) / S) + (I - U U^H) dA V / S,
    # dV = V (F o (S dS + dS^H S)) + (I - V V^H) dA^H U / S, F_ij = 1 / (s_j^2 - s_i^2).
    (A,), (dA,) = primals, tangents
    m, n = _shape(A)[-2:]
    k = min(m, n)
    partial_subset = subset_by_index is not None and tuple(subset_by_index) != (0, k)
    if compute_uv and full_matrices and m != n:
        raise NotImplementedError(
            "lax.linalg.svd: the JVP of the singular vectors with full_matrices=True of "
            f"a non-square matrix ({_shape(A)}) is not implemented (as in jax); use "
            "full_matrices=False")
    if compute_uv and partial_subset:
        raise NotImplementedError(
            "lax.linalg.svd: the JVP of singular vectors of a partial SVD "
            f"(subset_by_index={subset_by_index}) is not implemented; differentiate the "
            "full decomposition or only the singular values")
    s, U, Vh = svd_p.bind(A, full_matrices=False, compute_uv=True,
                          subset_by_index=subset_by_index, algorithm=algorithm)
    V = _H(Vh)
    dS = _mm(_mm(_H(U), dA), V)
    ds = _real(_diagonal(dS))
    if not compute_uv:
        return [s], [ds]
    r = _shape(s)[-1]
    dtype = _dtype(A)
    s_row, s_col = _row(s, r), _col(s, r)  # s_j, s_i
    eye = _eye_like(s_row)
    s_diffs = el.mul(el.add(s_row, s_col), el.sub(s_row, s_col))
    F = _cast(el.sub(el.reciprocal(el.add(s_diffs, eye)), eye), dtype)
    s_c = _cast(s, dtype)
    dSS = el.mul(_cast(s_row, dtype), dS)
    SdS = el.mul(_cast(s_col, dtype), dS)
    zero_s = _cast(el.eq(s, np.zeros((), _dtype(s))), _dtype(s))
    s_inv = el.sub(el.reciprocal(el.add(s, zero_s)), zero_s)
    dU_inner = el.mul(F, el.add(dSS, _H(dSS)))
    if dtypes.is_complex(dtype):
        s_inv_mat = _cast(el.mul(_row(s_inv, r), eye), dtype)
        skew = el.mul(el.sub(dS, _H(dS)), np.asarray(0.5, dtype))
        dU_inner = el.add(dU_inner, el.mul(skew, s_inv_mat))
    dU = _mm(U, dU_inner)
    dV = _mm(V, el.mul(F, el.add(SdS, _H(SdS))))
    if m > n:
        dAV = _mm(dA, V)
        dU = el.add(dU, el.div(el.sub(dAV, _mm(U, _mm(_H(U), dAV))), _row(s_c, m)))
    if n > m:
        dAHU = _mm(_H(dA), U)
        dV = el.add(dV, el.div(el.sub(dAHU, _mm(V, _mm(Vh, dAHU))), _row(s_c, n)))
    return [s, U, Vh], [ds, dU, _H(dV)]


ad.primitive_jvps[svd_p] = _svd_jvp


# --------------------------------------------------------------------------------------
# triangular_solve: linear in b, nonlinear in a
# --------------------------------------------------------------------------------------


def _triangular_solve_jvp_a(g_a: Any, ans: Any, a: Any, b: Any, *, left_side: bool,
                            lower: bool, transpose_a: bool, conjugate_a: bool,
                            unit_diagonal: bool) -> Any:
    # d(op(A)^{-1} B) = -op(A)^{-1} op(dA) X (and the mirror image for right solves);
    # only the triangle that the solve reads carries a tangent.
    m, n = _shape(b)[-2:]
    g_a = _tril(g_a, -int(unit_diagonal)) if lower else _triu(g_a, int(unit_diagonal))
    g_a = el.neg(g_a)
    g_a = _T(g_a) if transpose_a else g_a
    g_a = el.conj(g_a) if conjugate_a else g_a
    params = dict(left_side=left_side, lower=lower, transpose_a=transpose_a,
                  conjugate_a=conjugate_a, unit_diagonal=unit_diagonal)

    def a_inverse(rhs: Any) -> Any:
        return triangular_solve_p.bind(a, rhs, **params)

    # NOTE: pick the cheaper order: a solve costs about as much as a matmul.
    if left_side:
        return a_inverse(_mm(g_a, ans)) if m > n else _mm(a_inverse(g_a), ans)
    return a_inverse(_mm(ans, g_a)) if m < n else _mm(ans, a_inverse(g_a))


def _triangular_solve_jvp_b(g_b: Any, ans: Any, a: Any, b: Any, **params: Any) -> Any:
    return triangular_solve_p.bind(a, g_b, **params)


def _triangular_solve_transpose(ct: Any, a: Any, b: Any, *, left_side: bool, lower: bool,
                                transpose_a: bool, conjugate_a: bool, unit_diagonal: bool
                                ) -> list[Any]:
    # b -> op(a)^{-1} b is linear; its transpose solves with op(a)^T.
    assert not ad.is_undefined_primal(a) and ad.is_undefined_primal(b)
    if isinstance(ct, Zero):
        return [None, Zero(b.aval)]
    ct_b = triangular_solve_p.bind(a, ct, left_side=left_side, lower=lower,
                                   transpose_a=not transpose_a, conjugate_a=conjugate_a,
                                   unit_diagonal=unit_diagonal)
    return [None, ct_b]


def _triangular_solve_batch(args: Sequence[Any], dims: Sequence[Any], **params: Any
                            ) -> tuple[Any, Any]:
    (a, b), (a_dim, b_dim) = args, dims
    if a_dim is batching.not_mapped:
        # NOTE: one shared `a`: fold the vmapped axis into b's right-hand sides instead
        # of broadcasting `a`.
        shape = _shape(b)
        if params["left_side"]:
            b = batching.moveaxis(b, b_dim, -1)  # [..., m, n, B]
            *lead, m, n, size = _shape(b)
            out = triangular_solve_p.bind(a, st.reshape(b, (*lead, m, n * size)), **params)
            return st.reshape(out, (*lead, m, n, size)), len(shape) - 1
        b = batching.moveaxis(b, b_dim, -3)  # [..., B, n, m]
        *lead, size, n, m = _shape(b)
        out = triangular_solve_p.bind(a, st.reshape(b, (*lead, size * n, m)), **params)
        return st.reshape(out, (*lead, size, n, m)), len(shape) - 3
    size = batching.dim_size(args, dims)
    a = batching.bdim_at_front(a, a_dim, size)
    b = batching.bdim_at_front(b, b_dim, size)
    return triangular_solve_p.bind(a, b, **params), 0


ad.defjvp2(triangular_solve_p, _triangular_solve_jvp_a, _triangular_solve_jvp_b)
ad.primitive_transposes[triangular_solve_p] = _triangular_solve_transpose
batching.primitive_batchers[triangular_solve_p] = _triangular_solve_batch
