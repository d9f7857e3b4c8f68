"""lamina.scipy.optimize.minimize (BFGS, experimental L-BFGS) and the strong-Wolfe line
search against jax.scipy.optimize: every OptimizeResults field (value, dtype, weak
type), float64, jit, vmap, and error messages."""
import jax
import jax.numpy as jnp
import jax.scipy.optimize as jopt
import numpy as np
import pytest
from jax._src.scipy.optimize.line_search import line_search as jax_line_search

import lamina
import lamina.numpy as lnp
from lamina.scipy.optimize import OptimizeResults, minimize
from lamina.scipy.optimize.line_search import line_search

LBFGS = "l-bfgs-experimental-do-not-rely-on-this"


def rosen(m):
    return lambda x: m.sum(100. * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)


def quartic(m):
    return lambda x, c: m.sum((x - c) ** 4) + m.sum((x - c) ** 2) + x[0] * x[1]


def _compare(ours, theirs, rtol):
    assert type(ours) is OptimizeResults and ours._fields == theirs._fields
    for name, a, b in zip(ours._fields, ours, theirs):
        if b is None:
            assert a is None, name
            continue
        assert a.shape == b.shape and a.dtype == b.dtype, (name, a.dtype, b.dtype)
        assert getattr(a, "weak_type", False) == getattr(b, "weak_type", False), name
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=rtol, atol=rtol,
                                   err_msg=name)


@pytest.mark.parametrize("method", ["BFGS", LBFGS])
def test_matches_jax_field_by_field(method):
    x0 = np.array([0.3, -0.7, 1.1], np.float32)
    c = np.float32(0.5)
    ours = minimize(quartic(lnp), x0, (c,), method=method)
    theirs = jopt.minimize(quartic(jnp), jnp.asarray(x0), (c,), method=method)
    _compare(ours, theirs, 2e-5)
    assert bool(ours.success)


def test_rosenbrock_float64_and_options():
    x0 = np.array([-1.2, 1.0, 0.4], np.float64)
    with lamina.config.override(enable_x64=True), jax.enable_x64(True):
        ours = minimize(rosen(lnp), x0, method="bfgs", options={"gtol": 1e-9})
        theirs = jopt.minimize(rosen(jnp), jnp.asarray(x0), method="bfgs",
                               options={"gtol": 1e-9})
        _compare(ours, theirs, 1e-9)
        # Same steps as jax, including where its line search gives up (float64 too).
        assert int(ours.status) == int(theirs.status)
        capped = minimize(rosen(lnp), x0, method="BFGS", options={"maxiter": 3})
        assert int(capped.status) == 1 and int(capped.nit) == 3


def test_jit_and_vmap():
    starts = np.array([[0.3, -0.7], [1.5, 2.0], [-1.0, 0.2]], np.float32)
    solve = lamina.jit(lambda x0: minimize(quartic(lnp), x0, (0.5,), method="BFGS").x)
    batched = lamina.vmap(solve)(starts)
    want = jax.vmap(lambda x0: jopt.minimize(quartic(jnp), x0, (0.5,), method="BFGS").x)(
        jnp.asarray(starts))
    np.testing.assert_allclose(np.asarray(batched), np.asarray(want), rtol=1e-5, atol=1e-5)


def test_line_search_matches_jax():
    f_l = lambda x: lnp.sum(lnp.exp(x) - 2 * x) + (x[0] - x[1]) ** 2
    f_j = lambda x: jnp.sum(jnp.exp(x) - 2 * x) + (x[0] - x[1]) ** 2
    xk = np.array([1.5, -0.5], np.float32)
    pk = -np.asarray(jax.grad(f_j)(jnp.asarray(xk)))
    ours = line_search(f_l, xk, pk)
    theirs = jax_line_search(f_j, jnp.asarray(xk), jnp.asarray(pk))
    for name, a, b in zip(ours._fields, ours, theirs):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, err_msg=name)
    # A direction of ascent cannot satisfy the Wolfe conditions.
    assert bool(line_search(f_l, xk, -pk, maxiter=5).failed)


def test_errors():
    f = rosen(lnp)
    with pytest.raises(ValueError, match="method 'Newton-CG' is not recognized"):
        minimize(f, np.zeros(2, np.float32), method="Newton-CG")
    with pytest.raises(TypeError, match=r"args must be a tuple.*args=\(1.0,\)"):
        minimize(f, np.zeros(2, np.float32), 1.0, method="BFGS")
    with pytest.raises(ValueError, match=r"x0 must be a 1-D array, got shape \(2, 2\)"):
        minimize(f, np.zeros((2, 2), np.float32), method="BFGS")
    with pytest.raises(TypeError, match="unknown options \\['maxcor'\\]"):
        minimize(f, np.zeros(2, np.float32), method="BFGS", options={"maxcor": 3})
