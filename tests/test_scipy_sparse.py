"""lamina.scipy.sparse.linalg (cg, gmres, bicgstab) against jax.scipy.sparse.linalg:
solutions in float32 and float64, pytree right-hand sides, preconditioners, jit, vmap,
and gradients through the implicit (custom_linear_solve) derivative."""
import functools

import jax
import jax.numpy as jnp
import jax.scipy.sparse.linalg as jsl
import numpy as np
import pytest

import lamina
import lamina.numpy as lnp
from lamina.scipy.sparse import linalg as lsl

F32 = np.float32


def _system(n=8, seed=0, spd=False, dtype=F32):
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(n, n))
    a = a @ a.T + n * np.eye(n) if spd else a + n * np.eye(n)
    return a.astype(dtype), rng.normal(size=n).astype(dtype)


SOLVERS = {
    "cg": (lsl.cg, jsl.cg, True),
    "bicgstab": (lsl.bicgstab, jsl.bicgstab, False),
    "gmres_batched": (functools.partial(lsl.gmres, solve_method="batched"),
                      functools.partial(jsl.gmres, solve_method="batched"), False),
    "gmres_incremental": (functools.partial(lsl.gmres, solve_method="incremental"),
                          functools.partial(jsl.gmres, solve_method="incremental"), False),
}


@pytest.mark.parametrize("name", SOLVERS)
def test_solution_matches_jax_and_numpy(name):
    ours, theirs, spd = SOLVERS[name]
    a, b = _system(spd=spd)
    x = ours(a, b, tol=1e-6)[0]
    y = theirs(jnp.asarray(a), jnp.asarray(b), tol=1e-6)[0]
    assert x.shape == y.shape and x.dtype == y.dtype == np.float32
    np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(np.asarray(x), np.linalg.solve(a.astype(np.float64), b),
                               rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", ["cg", "bicgstab", "gmres_incremental"])
def test_function_operator_pytree_and_preconditioner(name):
    ours, theirs, spd = SOLVERS[name]
    a, b = _system(n=6, seed=1, spd=spd)
    m = np.diag(1 / np.diag(a)).astype(F32)

    def op(mod):
        def matvec(x):
            v = mod.concatenate([x["u"], x["w"].ravel()])
            out = mod.asarray(a) @ v
            return {"u": out[:2], "w": out[2:].reshape(2, 2)}
        return matvec

    def precond(mod):
        return lambda x: {"u": x["u"] * mod.asarray(np.diag(m)[:2]),
                          "w": x["w"] * mod.asarray(np.diag(m)[2:]).reshape(2, 2)}

    tree = {"u": b[:2], "w": b[2:].reshape(2, 2)}
    x = ours(op(lnp), tree, M=precond(lnp), tol=1e-6)[0]
    y = theirs(op(jnp), tree, M=precond(jnp), tol=1e-6)[0]
    assert set(x) == {"u", "w"} and x["w"].shape == (2, 2)
    for k in x:
        np.testing.assert_allclose(np.asarray(x[k]), np.asarray(y[k]), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", ["cg", "gmres_incremental"])
def test_jit_vmap_and_maxiter(name):
    ours, theirs, spd = SOLVERS[name]
    a, _ = _system(spd=spd, seed=2)
    bs = np.random.default_rng(3).normal(size=(2, 8)).astype(F32)
    solve = lamina.jit(lambda b: ours(lnp.asarray(a), b)[0])
    batched = lamina.vmap(solve)(bs)
    loop = np.stack([np.asarray(solve(b)) for b in bs])
    np.testing.assert_allclose(np.asarray(batched), loop, rtol=1e-4, atol=1e-5)
    # A capped iteration count gives jax's (unconverged) iterate.
    x = ours(a, bs[0], maxiter=2)[0]
    y = theirs(jnp.asarray(a), jnp.asarray(bs[0]), maxiter=2)[0]
    np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("name", ["cg", "bicgstab", "gmres_batched"])
def test_grad_matches_jax(name):
    ours, theirs, spd = SOLVERS[name]
    a, b = _system(n=5, seed=4, spd=spd)

    def loss(mod, solver):
        def f(a, b):
            x = solver(lambda v: a @ v, b, tol=1e-7)[0]
            return mod.sum(x * mod.arange(1.0, 6.0))
        return f

    ga, gb = lamina.grad(loss(lnp, ours), argnums=(0, 1))(lnp.asarray(a), lnp.asarray(b))
    ja, jb = jax.grad(loss(jnp, theirs), argnums=(0, 1))(jnp.asarray(a), jnp.asarray(b))
    np.testing.assert_allclose(np.asarray(ga), np.asarray(ja), rtol=2e-3, atol=1e-4)
    np.testing.assert_allclose(np.asarray(gb), np.asarray(jb), rtol=2e-3, atol=1e-4)


@pytest.mark.parametrize("name", ["cg", "gmres_incremental"])
def test_float64(name):
    ours, theirs, spd = SOLVERS[name]
    with lamina.config.override(enable_x64=True), jax.enable_x64(True):
        a, b = _system(n=7, seed=5, spd=spd, dtype=np.float64)
        x = ours(a, b, tol=1e-12)[0]
        y = theirs(jnp.asarray(a), jnp.asarray(b), tol=1e-12)[0]
        assert x.dtype == np.float64
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=1e-9, atol=1e-11)


def test_complex_gmres_and_bicgstab():
    rng = np.random.default_rng(6)
    a = (rng.normal(size=(5, 5)) + 1j * rng.normal(size=(5, 5)) + 5 * np.eye(5)).astype(
        np.complex64)
    b = (rng.normal(size=5) + 1j * rng.normal(size=5)).astype(np.complex64)
    want = np.linalg.solve(a.astype(np.complex128), b)
    for solver in (lsl.bicgstab, lsl.gmres,
                   functools.partial(lsl.gmres, solve_method="incremental")):
        x = solver(a, b, tol=1e-6)[0]
        assert x.dtype == np.complex64
        np.testing.assert_allclose(np.asarray(x), want, rtol=1e-4, atol=1e-4)


def test_gmres_info_and_errors():
    a, b = _system()
    assert int(lsl.gmres(a, b)[1]) == 0
    with pytest.raises(ValueError, match="solve_method must be 'incremental' or 'batched'"):
        lsl.gmres(a, b, solve_method="qr")
    with pytest.raises(ValueError, match=r"square matrix \(n, n\), but has shape \(8, 7\)"):
        lsl.cg(a[:, :7], b)
    with pytest.raises(ValueError, match="same pytree structure"):
        lsl.cg(a, b, x0=(b,))
    with pytest.raises(ValueError, match="same shapes"):
        lsl.bicgstab(a, b, x0=b[:3])
    with pytest.raises(TypeError, match="must be a function"):
        lsl.cg("matrix", b)
