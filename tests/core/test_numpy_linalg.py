"""lamina.numpy.linalg against numpy.linalg."""
import numpy as np
import pytest

import lamina
import lamina.numpy.linalg as lnl
from lamina.testing import assert_array_close

F32, F64 = np.dtype(np.float32), np.dtype(np.float64)
C64, C128 = np.dtype(np.complex64), np.dtype(np.complex128)
# NOTE: LAPACK factorisations plus the compositions on top of them accumulate rounding
# over O(n) steps; inputs are well-conditioned and of order 1, so rtol == atol.
TOL = {F32: 2e-4, C64: 2e-4, F64: 1e-10, C128: 1e-10}


def _rand(rng, shape, dtype):
    x = rng.normal(size=shape)
    if np.issubdtype(dtype, np.complexfloating):
        x = x + 1j * rng.normal(size=shape)
    return x.astype(dtype)


def _well_conditioned(rng, shape, dtype):
    return (_rand(rng, shape, dtype) + 3 * np.eye(shape[-1])).astype(dtype)


def _h(x):
    return np.conj(np.swapaxes(x, -1, -2))


def _close(actual, desired, dtype=F32, tol=None, check_dtype=True):
    tol = TOL[np.dtype(dtype)] if tol is None else tol
    desired = np.asarray(desired)
    if check_dtype and desired.dtype.kind in "fc":
        real = np.dtype(dtype).type(0).real.dtype
        desired = desired.astype(real if desired.dtype.kind == "f" else dtype)
    assert_array_close(actual, desired, rtol=tol, atol=tol, check_dtype=check_dtype)


# --------------------------------------------------------------------------------------
# det, slogdet, inv, solve
# --------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [F32, C64])
@pytest.mark.parametrize("shape", [(1, 1), (3, 3), (2, 4, 4), (0, 0), (2, 0, 0)])
def test_det_slogdet(rng, dtype, shape):
    a = _rand(rng, shape, dtype)
    _close(lnl.det(a), np.linalg.det(a), dtype)
    sign, logdet = lnl.slogdet(a)
    n_sign, n_logdet = np.linalg.slogdet(a)
    _close(sign, n_sign, dtype)
    _close(logdet, n_logdet, dtype)


def test_det_singular_and_int(rng):
    a = np.array([[1, 2], [2, 4]], np.int32)
    assert lnl.det(a).dtype == F32
    _close(lnl.det(a), 0.0)
    sign, logdet = lnl.slogdet(a)
    assert float(np.asarray(sign)) == 0 and np.asarray(logdet) == -np.inf


def test_det_x64(rng):
    with lamina.config.override(enable_x64=True):
        a = _rand(rng, (3, 5, 5), F64)
        out = lnl.det(a)
        assert out.dtype == F64
        _close(out, np.linalg.det(a), F64)


@pytest.mark.parametrize("dtype", [F32, C64])
@pytest.mark.parametrize("shape", [(3, 3), (2, 4, 4), (0, 0)])
def test_inv(rng, dtype, shape):
    a = _well_conditioned(rng, shape, dtype)
    _close(lnl.inv(a), np.linalg.inv(a), dtype)


@pytest.mark.parametrize("a_shape,b_shape", [
    ((3, 3), (3,)), ((2, 3, 3), (3,)), ((3, 3), (3, 2)), ((2, 3, 3), (2, 3, 1)),
    ((2, 3, 3), (4, 1, 3, 2)), ((1, 3, 3), (5, 3, 2))])
def test_solve(rng, a_shape, b_shape):
    a = _well_conditioned(rng, a_shape, C64)
    b = _rand(rng, b_shape, C64)
    _close(lnl.solve(a, b), np.linalg.solve(a, b), C64)


def test_solve_promotes_and_checks(rng):
    a = np.array([[2, 1], [1, 3]], np.int32)
    x = lnl.solve(a, np.array([1.0, 2.0], np.float32))
    assert x.dtype == F32
    _close(x, np.linalg.solve(a, [1.0, 2.0]))
    with pytest.raises(ValueError, match=r"solve: b must have shape \(2,\) or \(\.\.\., 2, k\)"):
        lnl.solve(a, np.ones((3,), np.float32))
    with pytest.raises(ValueError, match=r"solve: expected square matrices.*\(2, 3\)"):
        lnl.solve(np.ones((2, 3), np.float32), np.ones((2,), np.float32))
    with pytest.raises(TypeError, match=r"lamina\.numpy\.linalg\.inv: dtype float16 is not "
                                        r"supported.*float32, float64"):
        lnl.inv(np.eye(2, dtype=np.float16))


# --------------------------------------------------------------------------------------
# pinv, matrix_power, matrix_rank, lstsq, multi_dot
# --------------------------------------------------------------------------------------

@pytest.mark.parametrize("shape", [(4, 3), (2, 3, 5), (0, 3)])
def test_pinv(rng, shape):
    a = _rand(rng, shape, C64)
    _close(lnl.pinv(a), np.linalg.pinv(a), C64)


def test_pinv_rank_deficient_hermitian_and_rtol(rng):
    b = _rand(rng, (2, 5, 2), F32)
    a = b @ np.swapaxes(b, -1, -2)  # rank 2, symmetric
    # NOTE: numpy's default cutoff is 1e-15 (float64-minded); jax's and ours is
    # 10 * max(m, n) * eps. Name one explicitly for the float32 comparison.
    _close(lnl.pinv(a, rtol=1e-5), np.linalg.pinv(a, rtol=1e-5), tol=1e-3)
    _close(lnl.pinv(a, rtol=1e-5, hermitian=True), np.linalg.pinv(a, rtol=1e-5, hermitian=True),
           tol=1e-3)
    _close(lnl.pinv(a), np.linalg.pinv(a, rtol=1e-5),  # default cutoff also drops the noise
           tol=1e-3)
    rtol = np.array([1e-6, 0.5], np.float32)
    _close(lnl.pinv(a, rtol=rtol), np.linalg.pinv(a, rtol=rtol), tol=1e-3)


@pytest.mark.parametrize("n", [-2, -1, 0, 1, 2, 5])
def test_matrix_power(rng, n):
    a = _well_conditioned(rng, (2, 3, 3), F32) / 3
    _close(lnl.matrix_power(a, n), np.linalg.matrix_power(a, n), tol=1e-3)


def test_matrix_power_int_and_errors():
    a = np.array([[1, 1], [1, 0]], np.int32)
    out = lnl.matrix_power(a, 10)
    assert out.dtype == np.int32
    np.testing.assert_array_equal(np.asarray(out), np.linalg.matrix_power(a, 10))
    with pytest.raises(TypeError, match="matrix_power: exponent must be an integer"):
        lnl.matrix_power(a, 1.5)
    with pytest.raises(ValueError, match=r"matrix_power: expected square.*\(2, 3\)"):
        lnl.matrix_power(np.ones((2, 3), np.float32), 2)


def test_matrix_rank(rng):
    b = _rand(rng, (3, 6, 2), F32)
    a = b @ np.swapaxes(b, -1, -2)
    ours = lnl.matrix_rank(a)
    assert ours.dtype == np.int32
    np.testing.assert_array_equal(np.asarray(ours), np.linalg.matrix_rank(a))
    np.testing.assert_array_equal(np.asarray(lnl.matrix_rank(a, hermitian=True)), [2, 2, 2])
    np.testing.assert_array_equal(np.asarray(lnl.matrix_rank(a, rtol=0.9)),
                                  np.linalg.matrix_rank(a, rtol=0.9))
    assert int(np.asarray(lnl.matrix_rank(np.zeros(3, np.float32)))) == 0
    assert int(np.asarray(lnl.matrix_rank(np.array([0.0, 2.0], np.float32)))) == 1
    np.testing.assert_array_equal(np.asarray(lnl.matrix_rank(a, tol=1e-3)),
                                  np.linalg.matrix_rank(a, tol=1e-3))
    with pytest.raises(ValueError, match="only one of tol and rtol"):
        lnl.matrix_rank(a, rtol=0.1, tol=0.1)


@pytest.mark.parametrize("a_shape,b_shape", [((5, 3), (5,)), ((5, 3), (5, 2)), ((3, 5), (3,))])
def test_lstsq(rng, a_shape, b_shape):
    a = _rand(rng, a_shape, F32)
    b = _rand(rng, b_shape, F32)
    x, resid, rank, s = lnl.lstsq(a, b, numpy_resid=True)
    nx, nresid, nrank, ns = np.linalg.lstsq(a, b)
    _close(x, nx, tol=1e-3)
    _close(resid, nresid, tol=1e-3)
    assert int(np.asarray(rank)) == nrank
    _close(s, ns)
    _, resid_always, _, _ = lnl.lstsq(a, b)
    expected = np.sum((b - a @ np.asarray(x).reshape(a.shape[1], -1).squeeze()) ** 2, axis=0)
    _close(resid_always, np.atleast_1d(expected), tol=1e-3)


def test_lstsq_rank_deficient(rng):
    a = _rand(rng, (6, 3), F32)
    a[:, 2] = a[:, 0]
    b = _rand(rng, (6, 2), F32)
    x, _, rank, _ = lnl.lstsq(a, b)
    nx, _, nrank, _ = np.linalg.lstsq(a, b)
    assert int(np.asarray(rank)) == nrank == 2
    _close(x, nx, tol=1e-3)


@pytest.mark.parametrize("shapes", [
    [(3, 4), (4, 5)], [(4,), (4, 6), (6, 2), (2,)], [(10, 2), (2, 8), (8, 3), (3, 7)],
    [(2, 9), (9, 3), (3,)]])
def test_multi_dot(rng, shapes):
    arrays = [_rand(rng, s, F32) for s in shapes]
    _close(lnl.multi_dot(arrays), np.linalg.multi_dot(arrays), tol=1e-4)


def test_multi_dot_errors():
    with pytest.raises(ValueError, match="at least two arrays"):
        lnl.multi_dot([np.ones((2, 2), np.float32)])
    with pytest.raises(ValueError, match=r"shapes \(2, 3\) and \(2, 2\).*not aligned"):
        lnl.multi_dot([np.ones((2, 3), np.float32), np.ones((2, 2), np.float32)])


# --------------------------------------------------------------------------------------
# norms
# --------------------------------------------------------------------------------------

VECTOR_ORDS = [None, 1, 2, 3, 0.5, 0, -1, np.inf, -np.inf]
MATRIX_ORDS = [None, "fro", "nuc", 1, -1, 2, -2, np.inf, -np.inf]


@pytest.mark.parametrize("ord", VECTOR_ORDS)
@pytest.mark.parametrize("dtype", [F32, C64])
def test_vector_norms(rng, ord, dtype):
    x = _rand(rng, (3, 5), dtype)
    for axis, keepdims in [(1, False), (0, True), (-1, True)]:
        _close(lnl.norm(x, ord, axis, keepdims), np.linalg.norm(x, ord, axis, keepdims), dtype)
    _close(lnl.norm(x[0], ord), np.linalg.norm(x[0], ord), dtype)


@pytest.mark.parametrize("ord", MATRIX_ORDS)
def test_matrix_norms(rng, ord):
    x = _rand(rng, (3, 4, 5), F32)
    for axis, keepdims in [((1, 2), False), ((2, 0), True), ((0, 1), False)]:
        _close(lnl.norm(x, ord, axis, keepdims), np.linalg.norm(x, ord, axis, keepdims))
    _close(lnl.norm(x[0], ord), np.linalg.norm(x[0], ord))


def test_norm_defaults_ints_and_errors(rng):
    x = _rand(rng, (2, 3, 4), C64)
    _close(lnl.norm(x), np.linalg.norm(x), C64)
    _close(lnl.norm(x, keepdims=True), np.linalg.norm(x, keepdims=True), C64)
    ints = np.arange(-3, 3, dtype=np.int32)
    out = lnl.norm(ints)
    assert out.dtype == F32
    _close(out, np.linalg.norm(ints))
    _close(lnl.norm(np.zeros((0,), np.float32), np.inf), 0.0)
    with pytest.raises(ValueError, match="invalid order 'fro' for vectors"):
        lnl.norm(x, "fro", axis=0)
    with pytest.raises(ValueError, match="invalid order 3 for matrices"):
        lnl.norm(x, 3, axis=(0, 1))
    with pytest.raises(ValueError, match="improper number of axes"):
        lnl.norm(x, 2)
    with pytest.raises(ValueError, match="duplicate axes"):
        lnl.norm(x, None, (1, 1))


def test_array_api_norms(rng):
    x = _rand(rng, (3, 4, 5), F32)
    _close(lnl.vector_norm(x), np.linalg.vector_norm(x))
    _close(lnl.vector_norm(x, axis=(0, 2), ord=3, keepdims=True),
           np.linalg.vector_norm(x, axis=(0, 2), ord=3, keepdims=True))
    _close(lnl.vector_norm(x, keepdims=True, ord=np.inf),
           np.linalg.vector_norm(x, keepdims=True, ord=np.inf))
    _close(lnl.matrix_norm(x), np.linalg.matrix_norm(x))
    _close(lnl.matrix_norm(x, ord="nuc", keepdims=True),
           np.linalg.matrix_norm(x, ord="nuc", keepdims=True))
    _close(lnl.svdvals(x), np.linalg.svdvals(x))


@pytest.mark.parametrize("p", [None, 2, -2, 1, -1, "fro", np.inf])
def test_cond(rng, p):
    a = _well_conditioned(rng, (2, 4, 4), F32)
    _close(lnl.cond(a, p), np.linalg.cond(a, p), tol=1e-3)


def test_cond_singular_is_inf():
    a = np.array([[1.0, 2.0], [2.0, 4.0]], np.float32)
    assert np.isinf(np.asarray(lnl.cond(a, 1)))


# --------------------------------------------------------------------------------------
# decompositions through numpy's API
# --------------------------------------------------------------------------------------

@pytest.mark.parametrize("mode", ["reduced", "complete", "r", "raw"])
@pytest.mark.parametrize("shape", [(5, 3), (3, 5), (2, 4, 4)])
def test_qr_modes(rng, mode, shape):
    a = _rand(rng, shape, C64)
    ours = lnl.qr(a, mode=mode)
    if mode == "raw" and len(shape) > 2:
        ours_h, ours_tau = ours
        for i in range(shape[0]):
            h, tau = np.linalg.qr(a[i], mode="raw")
            _close(np.asarray(ours_h)[i], h, C64)
            _close(np.asarray(ours_tau)[i], tau, C64)
        return
    theirs = np.linalg.qr(a, mode=mode)
    if mode == "r":
        _close(ours, theirs, C64)
    else:
        for o, t in zip(ours, theirs):
            _close(o, t, C64)
    with pytest.raises(ValueError, match="qr: unsupported mode 'full'"):
        lnl.qr(a, mode="full")


@pytest.mark.parametrize("shape", [(4, 3), (2, 3, 5)])
def test_svd(rng, shape):
    a = _rand(rng, shape, C64)
    u, s, vh = lnl.svd(a)
    nu, ns, nvh = np.linalg.svd(a)
    _close(s, ns, C64)
    k = min(shape[-2:])
    recon = (np.asarray(u)[..., :, :k] * np.asarray(s)[..., None, :]) @ np.asarray(vh)[..., :k, :]
    _close(recon, a, C64)
    assert lnl.svd(a, full_matrices=False).U.shape == nu[..., :k].shape
    _close(lnl.svd(a, compute_uv=False), ns, C64)


def test_svd_hermitian(rng):
    b = _rand(rng, (2, 4, 4), C64)
    a = b + _h(b)
    u, s, vh = lnl.svd(a, hermitian=True)
    _close(s, np.linalg.svd(a, compute_uv=False), C64)
    _close((np.asarray(u) * np.asarray(s)[..., None, :]) @ np.asarray(vh), a, C64)
    _close(lnl.svd(a, hermitian=True, compute_uv=False), np.linalg.svd(a, compute_uv=False), C64)


@pytest.mark.parametrize("UPLO", [None, "L", "U"])
def test_eigh_eigvalsh(rng, UPLO):
    b = _rand(rng, (2, 4, 4), C64)
    a = b + _h(b)
    w, v = lnl.eigh(a, UPLO=UPLO, symmetrize_input=False)
    _close(w, np.linalg.eigvalsh(a, UPLO=UPLO or "L"), C64)
    v, w = np.asarray(v), np.asarray(w)
    _close(a @ v, v * w[..., None, :], C64)
    _close(lnl.eigvalsh(a, UPLO=UPLO or "L"), np.linalg.eigvalsh(a), C64)
    with pytest.raises(ValueError, match="UPLO must be 'L' or 'U'"):
        lnl.eigh(a, UPLO="X")


def test_eig_eigvals(rng):
    a = _rand(rng, (2, 4, 4), F32)
    w, v = lnl.eig(a)
    assert w.dtype == C64
    w, v = np.asarray(w), np.asarray(v)
    _close(a @ v, v * w[..., None, :], C64)
    _close(np.sort_complex(np.asarray(lnl.eigvals(a))), np.sort_complex(np.linalg.eigvals(a)),
           C64)


def test_cholesky(rng):
    b = _rand(rng, (2, 4, 4), C64)
    a = b @ _h(b) + 4 * np.eye(4)
    _close(lnl.cholesky(a), np.linalg.cholesky(a), C64)
    _close(lnl.cholesky(a, upper=True), np.linalg.cholesky(a, upper=True), C64)
    with pytest.raises(ValueError, match=r"cholesky: expected square.*\(2, 3\)"):
        lnl.cholesky(np.ones((2, 3), np.float32))


# --------------------------------------------------------------------------------------
# tensor helpers and array-API functions
# --------------------------------------------------------------------------------------

def test_tensorinv_tensorsolve(rng):
    a = _well_conditioned(rng, (6, 6), F32).reshape(2, 3, 6)
    _close(lnl.tensorinv(a, ind=2), np.linalg.tensorinv(a, ind=2), tol=1e-3)
    a4 = _well_conditioned(rng, (6, 6), F32).reshape(3, 2, 2, 3)
    b = _rand(rng, (3, 2), F32)
    _close(lnl.tensorsolve(a4, b), np.linalg.tensorsolve(a4, b), tol=1e-3)
    _close(lnl.tensorsolve(a4, b, axes=(1,)), np.linalg.tensorsolve(a4, b, axes=(1,)),
           tol=1e-3)
    with pytest.raises(ValueError, match="tensorinv: prod"):
        lnl.tensorinv(np.ones((2, 3, 4), np.float32), ind=1)


def test_small_array_api_functions(rng):
    x = _rand(rng, (2, 3, 4), F32)
    _close(lnl.matrix_transpose(x), np.linalg.matrix_transpose(x))
    for offset in (-2, -1, 0, 1, 3, 5):
        _close(lnl.diagonal(x, offset=offset), np.linalg.diagonal(x, offset=offset))
        _close(lnl.trace(x, offset=offset), np.linalg.trace(x, offset=offset))
    ints = np.arange(9, dtype=np.int8).reshape(3, 3)
    assert lnl.trace(ints).dtype == np.int32
    _close(lnl.outer(x[0, 0], x[0, 1, :3]), np.linalg.outer(x[0, 0], x[0, 1, :3]))
