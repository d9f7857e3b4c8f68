"""lamina.lax.linalg: decompositions through jaxlib's LAPACK kernels, checked against
numpy.linalg / jax.lax.linalg and by reconstruction (Q R = A, L L^H = A, U S V^H = A,
eigen-equation residuals)."""
import importlib
import itertools
import os
import subprocess
import sys

import ml_dtypes
import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))

import lamina  # noqa: E402
from lamina.lax import linalg  # noqa: E402
from lamina.testing import assert_array_close  # noqa: E402

F32, F64 = np.dtype(np.float32), np.dtype(np.float64)
C64, C128 = np.dtype(np.complex64), np.dtype(np.complex128)
# NOTE: factorisations accumulate rounding over O(n) steps; jax's own linalg tests use
# similar bounds. Values near 1 (well-conditioned matrices), so atol == rtol.
TOL = {F32: 2e-4, C64: 2e-4, F64: 1e-10, C128: 1e-10}
DTYPES = [F32, C64]
DTYPES_X64 = [F64, C128]


def _rand(rng, shape, dtype):
    x = rng.normal(size=shape)
    if np.issubdtype(dtype, np.complexfloating):
        x = x + 1j * rng.normal(size=shape)
    return x.astype(dtype)


def _hpd(rng, shape, dtype):
    """A batch of well-conditioned Hermitian positive-definite matrices."""
    a = _rand(rng, shape, dtype)
    n = shape[-1]
    return (a @ _h(a) + n * np.eye(n)).astype(dtype)


def _h(x):
    return np.conj(np.swapaxes(x, -1, -2))


def _close(actual, desired, dtype, err_msg=""):
    tol = TOL[np.dtype(dtype)]
    assert_array_close(actual, desired, rtol=tol, atol=tol, check_dtype=False, err_msg=err_msg)


@pytest.fixture
def x64():
    with lamina.config.override(enable_x64=True):
        yield


# --------------------------------------------------------------------------------------
# cholesky
# --------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(1, 1), (4, 4), (2, 3, 5, 5)])
def test_cholesky(rng, dtype, shape):
    a = _hpd(rng, shape, dtype)
    l = linalg.cholesky(a)
    assert l.shape == shape and l.dtype == dtype
    l = np.asarray(l)
    _close(l, np.linalg.cholesky(a), dtype)
    _close(l @ _h(l), a, dtype)
    assert np.all(np.triu(l, 1) == 0)


@pytest.mark.parametrize("dtype", DTYPES_X64)
def test_cholesky_x64(rng, x64, dtype):
    a = _hpd(rng, (2, 4, 4), dtype)
    l = linalg.cholesky(a)
    assert l.dtype == dtype
    _close(l, np.linalg.cholesky(a), dtype)


def test_cholesky_symmetrize_input(rng):
    a = _hpd(rng, (4, 4), C64)
    lower_only = np.tril(a) + np.triu(np.full((4, 4), 7 + 3j, C64), 1)  # garbage above
    _close(linalg.cholesky(lower_only, symmetrize_input=False), np.linalg.cholesky(a), C64)
    # With symmetrisation, (x + x^H)/2 of the Hermitian a is a itself.
    _close(linalg.cholesky(a, symmetrize_input=True), np.linalg.cholesky(a), C64)


def test_cholesky_failure_is_nan_per_batch_element(rng):
    a = _hpd(rng, (3, 3, 3), F32)
    a[1] = -np.eye(3)
    l = np.asarray(linalg.cholesky(a))
    # As in jax: NaN in the lower triangle, zeros above it.
    assert np.isnan(l[1][np.tril_indices(3)]).all() and np.all(np.triu(l[1], 1) == 0)
    _close(l[[0, 2]], np.linalg.cholesky(a[[0, 2]]), F32)


def test_cholesky_zero_size():
    assert linalg.cholesky(np.zeros((0, 0), F32)).shape == (0, 0)
    assert linalg.cholesky(np.zeros((0, 3, 3), C64)).shape == (0, 3, 3)


# --------------------------------------------------------------------------------------
# lu
# --------------------------------------------------------------------------------------

def _lu_reconstruct(lu, perm, a):
    m, n = lu.shape[-2:]
    k = min(m, n)
    l = np.tril(lu[..., :, :k], -1) + np.eye(m, k)
    u = np.triu(lu[..., :k, :])
    pa = np.take_along_axis(a, perm[..., :, None], axis=-2)
    return l @ u, pa


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(4, 4), (5, 3), (3, 5), (2, 3, 4, 4)])
def test_lu(rng, dtype, shape):
    import jax
    a = _rand(rng, shape, dtype)
    lu, pivots, perm = linalg.lu(a)
    k = min(shape[-2:])
    assert (lu.shape, pivots.shape, perm.shape) == (shape, shape[:-2] + (k,), shape[:-1])
    assert (lu.dtype, pivots.dtype, perm.dtype) == (dtype, np.int32, np.int32)
    j_lu, j_piv, j_perm = jax.lax.linalg.lu(a)
    np.testing.assert_array_equal(np.asarray(pivots), np.asarray(j_piv))
    np.testing.assert_array_equal(np.asarray(perm), np.asarray(j_perm))
    _close(lu, np.asarray(j_lu), dtype)
    lu_times, pa = _lu_reconstruct(np.asarray(lu), np.asarray(perm), a)
    _close(lu_times, pa, dtype)


def test_lu_x64_and_singular(rng, x64):
    a = _rand(rng, (4, 4), F64)
    a[:, 2] = 0  # exactly singular: still a valid factorisation (no NaN)
    lu, _, perm = linalg.lu(a)
    assert lu.dtype == F64
    assert not np.isnan(np.asarray(lu)).any()
    lu_times, pa = _lu_reconstruct(np.asarray(lu), np.asarray(perm), a)
    _close(lu_times, pa, F64)


@pytest.mark.parametrize("shape", [(0, 0), (3, 0), (0, 3), (2, 0, 4)])
def test_lu_zero_size(shape):
    lu, pivots, perm = linalg.lu(np.zeros(shape, F32))
    k = min(shape[-2:])
    assert (lu.shape, pivots.shape) == (shape, shape[:-2] + (k,))
    np.testing.assert_array_equal(np.asarray(perm),
                                  np.broadcast_to(np.arange(shape[-2]), shape[:-1]))


def test_lu_pivots_to_permutation():
    import jax
    pivots = np.array([[2, 2, 3], [0, 3, 2]], np.int32)
    for size in (4, 6):
        expected = jax.lax.linalg.lu_pivots_to_permutation(pivots, size)
        actual = linalg.lu_pivots_to_permutation(pivots, size)
        np.testing.assert_array_equal(np.asarray(actual), np.asarray(expected))
    with pytest.raises(ValueError, match="lu_pivots_to_permutation.*permutation_size 2"):
        linalg.lu_pivots_to_permutation(pivots, 2)
    with pytest.raises(TypeError, match="lu_pivots_to_permutation.*int32"):
        linalg.lu_pivots_to_permutation(pivots.astype(np.float32), 4)


# --------------------------------------------------------------------------------------
# qr, geqrf, householder_product
# --------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(4, 4), (5, 3), (3, 5), (2, 4, 3)])
@pytest.mark.parametrize("full_matrices", [True, False])
def test_qr(rng, dtype, shape, full_matrices):
    a = _rand(rng, shape, dtype)
    q, r = linalg.qr(a, full_matrices=full_matrices)
    m, n = shape[-2:]
    k = m if full_matrices else min(m, n)
    assert q.shape == shape[:-2] + (m, k) and r.shape == shape[:-2] + (k, n)
    assert q.dtype == dtype and r.dtype == dtype
    q, r = np.asarray(q), np.asarray(r)
    _close(q @ r, a, dtype)
    _close(_h(q) @ q, np.broadcast_to(np.eye(k), q.shape[:-2] + (k, k)), dtype)
    assert np.all(np.tril(r, -1) == 0)
    # numpy's QR is LAPACK's geqrf/orgqr too: same signs.
    nq, nr = np.linalg.qr(a, mode="complete" if full_matrices else "reduced")
    _close(q, nq, dtype)
    _close(r, nr, dtype)


@pytest.mark.parametrize("shape", [(5, 3), (3, 5)])
def test_qr_pivoting(rng, shape):
    a = _rand(rng, (2,) + shape, F32)
    q, r, p = linalg.qr(a, pivoting=True, full_matrices=False)
    assert p.shape == (2, shape[1]) and p.dtype == np.int32
    q, r, p = np.asarray(q), np.asarray(r), np.asarray(p)
    _close(q @ r, np.take_along_axis(a, p[:, None, :], axis=-1), F32)
    d = np.abs(np.diagonal(r, axis1=-2, axis2=-1))
    assert np.all(d[..., :-1] >= d[..., 1:] - 1e-5)
    for row in p:
        assert sorted(row) == list(range(shape[1]))


def test_qr_x64(rng, x64):
    a = _rand(rng, (4, 3), C128)
    q, r = linalg.qr(a)
    assert q.dtype == C128
    _close(np.asarray(q) @ np.asarray(r), a, C128)


@pytest.mark.parametrize("shape", [(0, 0), (3, 0), (0, 3)])
@pytest.mark.parametrize("full_matrices", [True, False])
def test_qr_zero_size(shape, full_matrices):
    import jax
    q, r = linalg.qr(np.zeros(shape, F32), full_matrices=full_matrices)
    jq, jr = jax.lax.linalg.qr(np.zeros(shape, F32), full_matrices=full_matrices)
    assert_array_close(q, np.asarray(jq))
    assert_array_close(r, np.asarray(jr))


def test_geqrf_householder_product(rng):
    a = _rand(rng, (2, 5, 3), C64)
    h, taus = linalg.geqrf(a)
    assert h.shape == (2, 5, 3) and taus.shape == (2, 3)
    q = linalg.householder_product(h, taus)
    q, r = np.asarray(q), np.triu(np.asarray(h)[..., :3, :])
    _close(q @ r, a, C64)
    with pytest.raises(ValueError, match=r"householder_product.*at least as many rows.*\(3, 5\)"):
        linalg.householder_product(np.zeros((3, 5), F32), np.zeros((3,), F32))
    with pytest.raises(ValueError, match=r"householder_product.*batch"):
        linalg.householder_product(np.zeros((2, 5, 3), F32), np.zeros((3, 3), F32))


# --------------------------------------------------------------------------------------
# eigh
# --------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(1, 1), (5, 5), (2, 3, 4, 4)])
def test_eigh(rng, dtype, shape):
    a = _rand(rng, shape, dtype)
    a = (a + _h(a)) / 2
    v, w = linalg.eigh(a)
    real = np.dtype(dtype).type(0).real.dtype
    assert v.shape == shape and w.shape == shape[:-1]
    assert v.dtype == dtype and w.dtype == real
    v, w = np.asarray(v), np.asarray(w)
    _close(w, np.linalg.eigvalsh(a), dtype)
    _close(a @ v, v * w[..., None, :], dtype)
    _close(_h(v) @ v, np.broadcast_to(np.eye(shape[-1]), v.shape), dtype)


@pytest.mark.parametrize("lower", [True, False])
def test_eigh_uses_one_triangle(rng, lower):
    a = _rand(rng, (4, 4), C64)
    a = (a + _h(a)) / 2
    junk = np.full((4, 4), 5 - 2j, C64)
    one_side = np.where(np.tri(4, dtype=bool) if lower else np.tri(4, dtype=bool).T, a, junk)
    _, w = linalg.eigh(one_side, lower=lower, symmetrize_input=False)
    _close(w, np.linalg.eigvalsh(a), C64)


def test_eigh_subset_by_index(rng):
    a = _hpd(rng, (2, 5, 5), F32)
    v, w = linalg.eigh(a, subset_by_index=(1, 4))
    assert v.shape == (2, 5, 3) and w.shape == (2, 3)
    _close(w, np.linalg.eigvalsh(a)[..., 1:4], F32)
    v, w = np.asarray(v), np.asarray(w)
    _close(a @ v, v * w[..., None, :], F32)
    with pytest.raises(ValueError, match=r"eigh: subset_by_index \(2, 7\)"):
        linalg.eigh(a, subset_by_index=(2, 7))


def test_eigh_x64(rng, x64):
    a = _hpd(rng, (3, 3), F64)
    v, w = linalg.eigh(a)
    assert v.dtype == F64 and w.dtype == F64
    _close(w, np.linalg.eigvalsh(a), F64)


def test_eigh_zero_size():
    v, w = linalg.eigh(np.zeros((2, 0, 0), C64))
    assert v.shape == (2, 0, 0) and w.shape == (2, 0) and w.dtype == F32


# --------------------------------------------------------------------------------------
# svd
# --------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(4, 4), (5, 3), (3, 5), (2, 4, 3)])
@pytest.mark.parametrize("full_matrices", [True, False])
def test_svd(rng, dtype, shape, full_matrices):
    a = _rand(rng, shape, dtype)
    u, s, vh = linalg.svd(a, full_matrices=full_matrices)
    m, n = shape[-2:]
    k = min(m, n)
    batch = shape[:-2]
    assert s.shape == batch + (k,) and s.dtype == np.dtype(dtype).type(0).real.dtype
    assert u.shape == batch + ((m, m) if full_matrices else (m, k))
    assert vh.shape == batch + ((n, n) if full_matrices else (k, n))
    u, s, vh = np.asarray(u), np.asarray(s), np.asarray(vh)
    _close(s, np.linalg.svd(a, compute_uv=False), dtype)
    _close((u[..., :, :k] * s[..., None, :]) @ vh[..., :k, :], a, dtype)
    _close(_h(u) @ u, np.broadcast_to(np.eye(u.shape[-1]), batch + (u.shape[-1],) * 2), dtype)
    _close(vh @ _h(vh), np.broadcast_to(np.eye(vh.shape[-2]), batch + (vh.shape[-2],) * 2),
           dtype)


def test_svd_values_only_and_algorithms(rng):
    a = _rand(rng, (3, 6, 4), C64)
    expected = np.linalg.svd(a, compute_uv=False)
    for full in (True, False):
        s = linalg.svd(a, full_matrices=full, compute_uv=False)
        _close(s, expected, C64)
    u, s, vh = linalg.svd(a, full_matrices=False, algorithm=linalg.SvdAlgorithm.QR)
    _close(s, expected, C64)
    _close((np.asarray(u) * np.asarray(s)[..., None, :]) @ np.asarray(vh), a, C64)
    with pytest.raises(NotImplementedError, match="svd.*JACOBI"):
        linalg.svd(a, algorithm=linalg.SvdAlgorithm.JACOBI)


def test_svd_subset_by_index(rng):
    a = _rand(rng, (5, 4), F32)
    u, s, vh = linalg.svd(a, full_matrices=False, subset_by_index=(1, 3))
    assert (u.shape, s.shape, vh.shape) == ((5, 2), (2,), (2, 4))
    nu, ns, nvh = np.linalg.svd(a, full_matrices=False)
    _close(s, ns[1:3], F32)
    _close(np.abs(np.asarray(u)), np.abs(nu[:, 1:3]), F32)
    with pytest.raises(ValueError, match="svd: subset_by_index needs full_matrices=False"):
        linalg.svd(a, subset_by_index=(1, 3))


def test_svd_x64(rng, x64):
    a = _rand(rng, (4, 3), F64)
    u, s, vh = linalg.svd(a, full_matrices=False)
    assert s.dtype == F64
    _close((np.asarray(u) * np.asarray(s)) @ np.asarray(vh), a, F64)


@pytest.mark.parametrize("shape", [(0, 0), (3, 0), (0, 2)])
@pytest.mark.parametrize("full_matrices", [True, False])
def test_svd_zero_size(shape, full_matrices):
    import jax
    ours = linalg.svd(np.zeros(shape, F32), full_matrices=full_matrices)
    theirs = jax.lax.linalg.svd(np.zeros(shape, F32), full_matrices=full_matrices)
    for o, t in zip(ours, theirs):
        assert_array_close(o, np.asarray(t))


# --------------------------------------------------------------------------------------
# eig
# --------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
def test_eig(rng, dtype):
    a = _rand(rng, (2, 4, 4), dtype)
    w, vl, vr = linalg.eig(a)
    assert w.shape == (2, 4) and vl.shape == vr.shape == (2, 4, 4)
    assert w.dtype == vr.dtype == C64
    w, vl, vr = np.asarray(w), np.asarray(vl), np.asarray(vr)
    _close(np.sort_complex(w), np.sort_complex(np.linalg.eigvals(a)), C64)
    _close(a @ vr, vr * w[..., None, :], C64)
    _close(_h(vl) @ a, w[..., :, None] * _h(vl), C64)
    w_only = linalg.eig(a, compute_left_eigenvectors=False, compute_right_eigenvectors=False)
    assert len(w_only) == 1
    _close(w_only[0], w, C64)


def test_eig_x64(rng, x64):
    a = _rand(rng, (3, 3), F64)
    w, vr = linalg.eig(a, compute_left_eigenvectors=False)
    assert w.dtype == C128
    w, vr = np.asarray(w), np.asarray(vr)
    _close(a @ vr, vr * w[None, :], C128)


# --------------------------------------------------------------------------------------
# triangular_solve
# --------------------------------------------------------------------------------------

def _op(a, transpose, conjugate):
    if conjugate:
        a = np.conj(a)
    return np.swapaxes(a, -1, -2) if transpose else a


@pytest.mark.parametrize("left_side,lower,transpose_a,conjugate_a,unit_diagonal",
                         list(itertools.product([False, True], repeat=5)))
def test_triangular_solve(rng, left_side, lower, transpose_a, conjugate_a, unit_diagonal):
    dtype = C64
    a = _rand(rng, (2, 4, 4), dtype) + 4 * np.eye(4, dtype=dtype)
    b = _rand(rng, (2, 4, 3) if left_side else (2, 3, 4), dtype)
    x = linalg.triangular_solve(a, b, left_side=left_side, lower=lower,
                                transpose_a=transpose_a, conjugate_a=conjugate_a,
                                unit_diagonal=unit_diagonal)
    assert x.shape == b.shape and x.dtype == dtype
    tri = np.tril(a) if lower else np.triu(a)
    if unit_diagonal:
        tri = tri.copy()
        tri[..., np.arange(4), np.arange(4)] = 1  # the stored diagonal must not be read
    op_a = _op(tri, transpose_a, conjugate_a)
    x = np.asarray(x)
    _close(op_a @ x if left_side else x @ op_a, b, dtype)


@pytest.mark.parametrize("dtype", [F32])
def test_triangular_solve_real_and_zero_size(rng, dtype):
    a = np.triu(_rand(rng, (3, 3), dtype)) + 3 * np.eye(3, dtype=dtype)
    b = _rand(rng, (3, 2), dtype)
    x = linalg.triangular_solve(a, b, left_side=True, conjugate_a=True)  # no-op for real
    _close(a @ np.asarray(x), b, dtype)
    assert linalg.triangular_solve(a, np.zeros((3, 0), dtype), left_side=True).shape == (3, 0)


def test_triangular_solve_x64(rng, x64):
    a = np.tril(_rand(rng, (3, 3), F64)) + 3 * np.eye(3)
    b = _rand(rng, (2, 3), F64)
    x = np.asarray(linalg.triangular_solve(a, b, lower=True))
    _close(x @ a, b, F64)


def test_triangular_solve_vector_rhs(rng):
    structural = importlib.import_module("lamina.lax.structural")
    if not hasattr(structural, "expand_dims"):
        pytest.skip("lamina.lax.structural.expand_dims is not written yet")
    a = np.tril(_rand(rng, (2, 3, 3), F32)) + 3 * np.eye(3, dtype=F32)
    b = _rand(rng, (2, 3), F32)
    for left_side in (True, False):
        x = np.asarray(linalg.triangular_solve(a, b, left_side=left_side, lower=True))
        assert x.shape == (2, 3)
        got = (a @ x[..., None])[..., 0] if left_side else (x[..., None, :] @ a)[..., 0, :]
        _close(got, b, F32)


def test_triangular_solve_errors():
    a = np.eye(3, dtype=F32)
    with pytest.raises(ValueError,
                       match=r"triangular_solve: incompatible shapes.*\(3, 3\).*\(2, 2\)"):
        linalg.triangular_solve(a, np.zeros((2, 2), F32), left_side=True)
    with pytest.raises(TypeError, match="triangular_solve: a and b must have the same dtype"):
        linalg.triangular_solve(a, np.zeros((3, 3), C64))
    with pytest.raises(ValueError, match="triangular_solve: operands must have the same leading"):
        linalg.triangular_solve(np.zeros((2, 3, 3), F32), np.zeros((4, 3, 3), F32))
    with pytest.raises(ValueError,
                       match=r"triangular_solve: a must be a batch of square.*\(3, 4\)"):
        linalg.triangular_solve(np.zeros((3, 4), F32), np.zeros((3, 4), F32))


# --------------------------------------------------------------------------------------
# Errors shared by every decomposition; jax-free process
# --------------------------------------------------------------------------------------

SQUARE_FNS = {"cholesky": linalg.cholesky, "eigh": linalg.eigh, "eig": linalg.eig}
ANY_FNS = {"lu": linalg.lu, "qr": linalg.qr, "svd": linalg.svd, "geqrf": linalg.geqrf}


@pytest.mark.parametrize("name", sorted({**SQUARE_FNS, **ANY_FNS}))
@pytest.mark.parametrize("dtype", [np.float16, ml_dtypes.bfloat16, np.int32, np.bool_])
def test_unsupported_dtype(name, dtype):
    fn = {**SQUARE_FNS, **ANY_FNS}[name]
    with pytest.raises(TypeError, match=rf"lax\.linalg\.{name}: .*{np.dtype(dtype).name}.*"
                                        r"supported dtypes: float32, float64, complex64"):
        fn(np.zeros((3, 3), dtype))


@pytest.mark.parametrize("name", sorted({**SQUARE_FNS, **ANY_FNS}))
def test_rank_too_small(name):
    fn = {**SQUARE_FNS, **ANY_FNS}[name]
    with pytest.raises(TypeError, match=rf"lax\.linalg\.{name}: .*rank at least 2.*\(3,\)"):
        fn(np.zeros((3,), F32))


@pytest.mark.parametrize("name", sorted(SQUARE_FNS))
def test_not_square(name):
    with pytest.raises(ValueError, match=rf"lax\.linalg\.{name}: .*square.*\(2, 3, 4\)"):
        SQUARE_FNS[name](np.zeros((2, 3, 4), F32))


def test_lapack_runs_without_jax():
    code = (
        "import sys, numpy as np, lamina\n"
        "from lamina.lax import linalg\n"
        "l = linalg.cholesky(np.eye(3, dtype=np.float32) * 4)\n"
        "assert float(np.asarray(l)[0, 0]) == 2.0\n"
        "u, s, vh = linalg.svd(np.ones((2, 3), np.complex64))\n"
        "import lamina.numpy.linalg as lnl, lamina.numpy.fft as lfft\n"
        "lnl.solve(np.eye(2, dtype=np.float32), np.ones(2, np.float32))\n"
        "lfft.rfft(np.ones(4, np.float32))\n"
        "assert 'jax' not in sys.modules, sorted(m for m in sys.modules if 'jax.' in m)[:5]\n")
    env = {k: v for k, v in os.environ.items() if k != "JAX_PLATFORMS"}
    subprocess.run([sys.executable, "-c", code], check=True, env=env, timeout=120)
