"""lamina.numpy's polynomials (core/numpy/polynomial.py) against jax.numpy and numpy:
values, dtypes and weak types; jit where jax allows it; vmap against a Python loop;
grad of polyval against jax.grad; and the errors for traced static arguments."""
import numpy as np
import pytest

import lamina
import lamina.numpy as lnp
from lamina.errors import ConcretizationError
from lamina.testing import assert_array_close

jax = pytest.importorskip("jax")
jnp = jax.numpy

from like_jax import assert_like_jax, both  # noqa: E402


I32 = np.array([1, -2, 3], dtype=np.int32)
F32 = np.array([0.5, 2.0, -1.0, 3.0], dtype=np.float32)


# --------------------------------------------------------------------------------------
# polyval
# --------------------------------------------------------------------------------------

POLYVAL = [
    ("int-int", I32, np.arange(4, dtype=np.int32)),
    ("float-points", F32, np.linspace(-2, 2, 5).astype(np.float32)),
    ("int-coef-float-x", I32, np.float32(1.5)),
    ("2d-coef", np.arange(6.0, dtype=np.float32).reshape(3, 2), np.ones((4, 1), np.float32)),
    ("complex", F32.astype(np.complex64), np.array([1j, 2.0], np.complex64)),
]


@pytest.mark.parametrize("name, p, x", POLYVAL, ids=[c[0] for c in POLYVAL])
def test_polyval_matches_jax(name, p, x):
    lam, ref = both(lambda np_, a, b: np_.polyval(a, b), p, x)
    assert_like_jax(lam, ref, name)


def test_polyval_weak_scalar_point_and_unroll():
    p = lnp.asarray(F32)
    assert_like_jax(lnp.polyval(p, 2), jnp.polyval(jnp.asarray(F32), 2))
    assert_like_jax(lnp.polyval(lnp.asarray(I32), 2.0), jnp.polyval(jnp.asarray(I32), 2.0))
    for unroll in (1, 3, 16):
        assert_like_jax(lnp.polyval(p, 1.5, unroll=unroll), jnp.polyval(jnp.asarray(F32), 1.5))


def test_polyval_jit_vmap_grad():
    x = np.linspace(-1, 1, 5).astype(np.float32)
    f = lamina.jit(lnp.polyval, static_argnames="unroll")
    assert_like_jax(f(F32, x, unroll=2), jnp.polyval(F32, x))
    ps = np.stack([F32, F32 * 2, -F32])
    batched = lamina.vmap(lnp.polyval, in_axes=(0, None))(lnp.asarray(ps), lnp.asarray(x))
    for i in range(3):
        assert_array_close(batched[i], lnp.polyval(lnp.asarray(ps[i]), lnp.asarray(x)))
    for argnum in (0, 1):
        g_l = lamina.grad(lambda p, y: lnp.polyval(p, y).sum(), argnums=argnum)(
            lnp.asarray(F32), lnp.asarray(x))
        g_j = jax.grad(lambda p, y: jnp.polyval(p, y).sum(), argnums=argnum)(F32, x)
        assert_like_jax(g_l, g_j, f"argnum {argnum}")


# --------------------------------------------------------------------------------------
# Construction and arithmetic
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("roots", [np.array([1, 2, 3], np.int32),
                                   np.array([0.5, -1.5], np.float32),
                                   np.zeros(0, np.float32),
                                   np.array([[1.0, 2.0], [3.0, 4.0]], np.float32)],
                         ids=["int", "float", "empty", "matrix"])
def test_poly_matches_jax(roots):
    lam, ref = both(lambda np_, r: np_.poly(r), roots)
    assert_like_jax(lam, ref, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("x, n, increasing", [
    (np.array([1, 2, 3], np.int32), None, False), (np.array([1, 2, 3], np.int32), 0, False),
    (np.array([0.5, -2.0, 3.0], np.float32), 4, True),
    (np.array([0.5, -2.0, 3.0], np.float32), 2, False)], ids=["int", "int-0", "float-4", "float-2"])
def test_vander_matches_jax_and_numpy(x, n, increasing):
    lam, ref = both(lambda np_, a: np_.vander(a, n, increasing=increasing), x)
    assert_like_jax(lam, ref)
    np.testing.assert_allclose(np.asarray(lam), np.vander(x, n, increasing=increasing))


ARITH = [
    ("polyadd", lambda np_, a, b: np_.polyadd(a, b)),
    ("polysub", lambda np_, a, b: np_.polysub(a, b)),
    ("polymul", lambda np_, a, b: np_.polymul(a, b)),
    ("polydiv", lambda np_, a, b: np_.polydiv(a, b)),
]
OPERANDS = [
    ("int", np.array([1, 2], np.int32), np.array([3, 0, 5], np.int32)),
    ("mixed", np.array([1.0, 2.0, 3.0, 4.0], np.float32), np.array([2, 1], np.int32)),
]


@pytest.mark.parametrize("op, f", ARITH, ids=[a[0] for a in ARITH])
@pytest.mark.parametrize("name, a, b", OPERANDS, ids=[o[0] for o in OPERANDS])
def test_polynomial_arithmetic_matches_jax(op, f, name, a, b):
    lam, ref = both(f, a, b)
    assert_like_jax(lam, ref, f"{op} {name}", rtol=1e-6, atol=1e-6)


def test_polyadd_broadcasts_like_jax():
    # jax adds the shorter operand into the longer one's last rows, with broadcasting.
    a, b = np.ones((3, 2), np.float32), np.arange(2, dtype=np.float32)
    for x, y in ((a, b), (b, a), (a, np.ones((2, 2), np.float32))):
        lam, ref = both(lambda np_, u, v: np_.polyadd(u, v), x, y)
        assert_like_jax(lam, ref)
    with pytest.raises(ValueError, match=r"cannot add coefficients of shape \(2, 3\)"):
        lnp.polyadd(lnp.ones((3, 2)), lnp.ones((2, 3)))


def test_arithmetic_under_jit_and_numpy_identities():
    a, b = np.array([1.0, -3.0, 2.0, 5.0], np.float32), np.array([2.0, 1.0], np.float32)
    q, r = lamina.jit(lnp.polydiv)(a, b)
    np.testing.assert_allclose(np.asarray(lnp.polyadd(lnp.polymul(q, b), r)), a, atol=1e-6)
    np.testing.assert_allclose(np.asarray(lamina.jit(lnp.polymul)(a, b)), np.polymul(a, b))
    np.testing.assert_allclose(np.asarray(lamina.jit(lnp.polysub)(a, b)), np.polysub(a, b))


def test_trim_leading_zeros():
    a, b = np.array([0.0, 0.0, 1.0], np.float32), np.array([0.0, 1.0, 1.0], np.float32)
    lam, ref = both(lambda np_, u, v: np_.polymul(u, v, trim_leading_zeros=True), a, b)
    assert_like_jax(lam, ref)
    u, v = np.array([1.0, 2.0, 1.0], np.float32), np.array([1.0, 1.0], np.float32)
    lam, ref = both(lambda np_, x, y: np_.polydiv(x, y, trim_leading_zeros=True), u, v)
    assert_like_jax(lam, ref)
    with pytest.raises(ConcretizationError, match="trim_leading_zeros=False"):
        lamina.jit(lambda x: lnp.polydiv(x, v, trim_leading_zeros=True))(u)


# --------------------------------------------------------------------------------------
# Calculus
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("m", [0, 2, 5])
def test_polyder_matches_jax(m):
    p = np.array([1, 2, 3, 4, 5], np.int32)
    lam, ref = both(lambda np_, a: np_.polyder(a, m), p)
    assert_like_jax(lam, ref)


@pytest.mark.parametrize("m, k", [(1, None), (2, 3.0), (2, np.array([1.0, 2.0], np.float32)),
                                  (0, None)])
def test_polyint_matches_jax(m, k):
    p = np.array([1.0, 2.0, 3.0, 4.0], np.float32)
    lam = lnp.polyint(lnp.asarray(p), m, k=None if k is None else lnp.asarray(k))
    ref = jnp.polyint(jnp.asarray(p), m, k=None if k is None else jnp.asarray(k))
    assert_like_jax(lam, ref)
    # polyder undoes polyint.
    np.testing.assert_allclose(np.asarray(lnp.polyder(lam, m)), p, rtol=1e-6)


def test_calculus_static_order_and_errors():
    p = lnp.asarray(F32)
    assert_like_jax(lamina.jit(lnp.polyder, static_argnums=1)(p, 2), jnp.polyder(F32, 2))
    assert_like_jax(lamina.jit(lnp.polyint, static_argnums=1)(p, 2), jnp.polyint(F32, 2))
    with pytest.raises(ConcretizationError, match="`m` fixes the shape"):
        lamina.jit(lnp.polyder)(p, 2)
    with pytest.raises(ValueError, match="must be non-negative, got m=-1"):
        lnp.polyder(p, -1)
    with pytest.raises(ValueError, match="use polyder for derivatives"):
        lnp.polyint(p, -1)
    with pytest.raises(ValueError, match=r"length 1 or m=2, got shape \(3,\)"):
        lnp.polyint(p, 2, k=lnp.ones(3))
    with pytest.raises(ValueError, match="must be a 1-D array"):
        lnp.polyder(lnp.ones((2, 2)))


# --------------------------------------------------------------------------------------
# roots
# --------------------------------------------------------------------------------------


def _sorted(r):
    r = np.asarray(r)
    return r[np.lexsort((r.imag, r.real))]


@pytest.mark.parametrize("p", [np.array([1.0, -3.0, 2.0], np.float32),
                               np.array([0, 0, 1, -6, 11, -6], np.int32),
                               np.array([1.0, 0.0, 1.0], np.float32),
                               np.array([3.0], np.float32), np.zeros(3, np.float32)],
                         ids=["quadratic", "leading-zeros", "complex", "constant", "all-zero"])
def test_roots_match_jax_and_numpy(p):
    lam, ref = both(lambda np_, a: np_.roots(a), p)
    assert lam.shape == ref.shape and lam.dtype == ref.dtype
    np.testing.assert_allclose(_sorted(lam), _sorted(ref), atol=1e-5)
    np.testing.assert_allclose(_sorted(lam), _sorted(np.roots(p)), atol=1e-5)


def test_roots_without_stripping_under_jit():
    p = np.array([0.0, 0.0, 1.0, -3.0, 2.0], np.float32)
    lam = lamina.jit(lambda a: lnp.roots(a, strip_zeros=False))(p)
    ref = jnp.roots(p, strip_zeros=False)
    assert lam.shape == ref.shape == (4,) and lam.dtype == ref.dtype
    np.testing.assert_allclose(np.asarray(lam), np.asarray(ref), atol=1e-5)  # NaNs last
    assert np.isnan(np.asarray(lnp.roots(lnp.zeros(3), strip_zeros=False))).all()
    with pytest.raises(ConcretizationError, match="strip_zeros=False"):
        lamina.jit(lnp.roots)(p)


# --------------------------------------------------------------------------------------
# polyfit
# --------------------------------------------------------------------------------------

X = np.linspace(-1.0, 2.0, 9).astype(np.float32)
Y = (X ** 2 - 0.5 * X + 1 + 0.01 * np.sin(7 * X)).astype(np.float32)
# NOTE: jax compiles polyfit whole, so its float32 rounding differs from eager lamina.
FIT_TOL = dict(rtol=2e-4, atol=2e-4)


POLYFIT = [
    ("plain", {}, False), ("full", {"full": True}, False), ("cov", {"cov": True}, False),
    ("cov-2d", {"cov": True}, True), ("unscaled", {"cov": "unscaled"}, False),
    ("weights-2d", {"w": np.linspace(1, 2, 9).astype(np.float32)}, True),
    ("rcond-full", {"rcond": 1e-3, "full": True}, False),
]


@pytest.mark.parametrize("name, kwargs, two_d", POLYFIT, ids=[c[0] for c in POLYFIT])
def test_polyfit_matches_jax(name, kwargs, two_d):
    y = np.stack([Y, 2 * Y - X], axis=1) if two_d else Y
    lam = lnp.polyfit(lnp.asarray(X), lnp.asarray(y), 2, **kwargs)
    ref = jnp.polyfit(jnp.asarray(X), jnp.asarray(y), 2, **kwargs)
    if kwargs.get("full"):
        lam, ref = list(lam), list(ref)
        # Residuals and singular values of a float32 fit: loose, but the same shape.
        assert_like_jax(lam[1], ref[1], rtol=0.2, atol=1e-6)
        del lam[1], ref[1]
        lam, ref = tuple(lam), tuple(ref)
    assert_like_jax(lam, ref, str(kwargs), **FIT_TOL)
    coef = lam[0] if isinstance(lam, tuple) else lam
    expected = np.polyfit(X.astype(np.float64), y.astype(np.float64), 2,
                          w=kwargs.get("w"))
    np.testing.assert_allclose(np.asarray(coef), expected, rtol=1e-3, atol=1e-3)


def test_polyfit_jit_and_errors():
    f = lamina.jit(lnp.polyfit, static_argnames=("deg",))
    assert_like_jax(f(X, Y, deg=1), jnp.polyfit(X, Y, 1), **FIT_TOL)
    with pytest.raises(ConcretizationError, match="`deg` fixes the shape"):
        lamina.jit(lnp.polyfit)(X, Y, 1)
    with pytest.raises(ValueError, match="deg >= 0"):
        lnp.polyfit(X, Y, -1)
    with pytest.raises(TypeError, match="same length, got 9 and 3"):
        lnp.polyfit(X, Y[:3], 1)
    with pytest.raises(TypeError, match=r"1-D array for x, got shape \(3, 3\)"):
        lnp.polyfit(X.reshape(3, 3), Y, 1)
    with pytest.raises(ValueError, match="must exceed order=3"):
        lnp.polyfit(X[:3], Y[:3], 2, cov=True)
    # Integer data are promoted (jax raises for integer x).
    coef = lnp.polyfit(lnp.arange(5), lnp.arange(5) * 2 + 1, 1)
    np.testing.assert_allclose(np.asarray(coef), [2.0, 1.0], atol=1e-4)


def test_polynomial_argument_errors():
    with pytest.raises(ValueError, match="at least one dimension"):
        lnp.polyval(lnp.asarray(2.0), 1.0)
    with pytest.raises(ValueError, match="a1 must have at least one dimension"):
        lnp.polyadd(lnp.asarray(1.0), lnp.ones(2))
    with pytest.raises(ValueError, match=r"x must be a one-dimensional array, got shape \(2, 2\)"):
        lnp.vander(lnp.ones((2, 2)))
    with pytest.raises(ValueError, match="N must be nonnegative"):
        lnp.vander(lnp.ones(2), -1)
    with pytest.raises(ValueError, match=r"non-empty square 2-D array, got shape \(2, 3\)"):
        lnp.poly(lnp.ones((2, 3)))
    with pytest.raises(TypeError, match="asarray"):
        lnp.polyval([1.0, 2.0], 1.0)
