"""lamina.numpy's function-lifting helpers (core/numpy/vectorize.py): vectorize,
apply_along_axis, apply_over_axes and piecewise, against jax.numpy (values, dtypes,
weak types), under jit, vmap and grad, and their errors."""
import numpy as np
import pytest

import lamina
import lamina.numpy as lnp
from lamina.testing import assert_array_close

jax = pytest.importorskip("jax")
jnp = jax.numpy

from like_jax import assert_like_jax, both  # noqa: E402


# --------------------------------------------------------------------------------------
# vectorize
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("xshape, yshape", [((), ()), ((3,), ()), ((2, 1), (3,)),
                                            ((1, 3, 1), (1, 1, 1)), ((0, 2), (2,))])
def test_vectorize_elementwise_broadcasts_like_jax(rng, xshape, yshape):
    x = rng.standard_normal(xshape).astype(np.float32)
    y = rng.integers(-3, 3, yshape).astype(np.int32)
    lam, ref = both(lambda np_, a, b: np_.vectorize(lambda u, v: u * v + 1)(a, b), x, y)
    assert_like_jax(lam, ref)


def test_vectorize_python_scalars_keep_weak_type():
    f = lambda np_: np_.vectorize(lambda a, b: a + b)(1, 2)  # noqa: E731
    assert_like_jax(f(lnp), f(jnp))
    f = lambda np_: np_.vectorize(lambda a, b: a + b)(1.0, np_.ones(2))  # noqa: E731
    assert_like_jax(f(lnp), f(jnp))


SIGNATURES = [
    # (signature, function body for np_, input shapes)
    ("(n,k),(k)->(n)", lambda np_: np_.dot, [(4, 2, 3), (3,)]),
    ("(n,k),(k)->(n)", lambda np_: np_.dot, [(2, 3), (5, 3)]),
    ("(n)->()", lambda np_: np_.sum, [(2, 1, 4)]),
    ("(n),(n)->(),(n)", lambda np_: (lambda a, b: (np_.dot(a, b), a * b)), [(2, 3), (1, 3)]),
    ("()->(k)", lambda np_: (lambda a: np_.stack([a, 2 * a])), [(3,)]),
]


@pytest.mark.parametrize("signature, body, shapes", SIGNATURES,
                         ids=[s[0] + str(s[2]) for s in SIGNATURES])
def test_vectorize_signature_matches_jax(rng, signature, body, shapes):
    args = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    lam, ref = both(lambda np_, *a: np_.vectorize(body(np_), signature=signature)(*a), *args)
    assert_like_jax(lam, ref, signature)


def test_vectorize_excluded_and_none_arguments():
    x = np.arange(3.0, dtype=np.float32)
    lam, ref = both(lambda np_, a: np_.vectorize(lambda u, p: u ** p, excluded={1})(a, 2), x)
    assert_like_jax(lam, ref)
    lam, ref = both(lambda np_, a: np_.vectorize(lambda u, p=1: u ** p,
                                                 excluded={"p"})(a, p=3), x)
    assert_like_jax(lam, ref)
    # None arguments pass through unvectorized, at any position (jax misses position 0).
    g = lnp.vectorize(lambda y, u: u if y is None else u + y)
    assert g(None, lnp.arange(3.0)).tolist() == [0.0, 1.0, 2.0]
    lam, ref = both(lambda np_, a: np_.vectorize(lambda u, y: u if y is None else u)(a, None), x)
    assert_like_jax(lam, ref)


def test_vectorize_keyword_arguments_are_vectorized_like_numpy():
    # NOTE: jax.numpy drops non-excluded keyword arguments silently; numpy and lamina
    # vectorize them.
    out = lnp.vectorize(lambda u, p=1: u * p)(lnp.arange(3.0), p=lnp.arange(3.0))
    np.testing.assert_array_equal(np.asarray(out), np.arange(3.0) ** 2)
    with pytest.raises(TypeError, match="keyword arguments"):
        lnp.vectorize(lambda u, p=1: u * p, signature="(n)->(n)")(lnp.ones(3), p=2.0)


def test_vectorize_keeps_name_and_doc():
    def my_func(a):
        """docs"""
        return a

    v = lnp.vectorize(my_func)
    assert v.__name__ == "my_func" and v.__doc__ == "docs"


def test_vectorize_under_jit_vmap_and_grad(rng):
    f_l = lnp.vectorize(lambda a, b: lnp.sin(a) * b, signature="(),(n)->(n)")
    f_j = jnp.vectorize(lambda a, b: jnp.sin(a) * b, signature="(),(n)->(n)")
    a = rng.standard_normal((2, 1)).astype(np.float32)
    b = rng.standard_normal((3, 4)).astype(np.float32)
    assert_like_jax(lamina.jit(f_l)(a, b), f_j(a, b))
    # vmap over an extra leading axis equals the Python loop.
    batched = lamina.vmap(f_l, in_axes=(None, 0))(lnp.asarray(a), lnp.asarray(b[None] + 1))
    assert_array_close(batched[0], f_l(a, b + 1))
    # grad against jax.grad.
    g_l = lamina.grad(lambda a_: f_l(a_, b).sum())(lnp.asarray(a))
    g_j = jax.grad(lambda a_: f_j(a_, b).sum())(jnp.asarray(a))
    assert_like_jax(g_l, g_j, rtol=2e-6, atol=2e-6)


def test_vectorize_errors_name_the_problem():
    mv = lnp.vectorize(lnp.dot, signature="(n,k),(k)->(n)")
    with pytest.raises(ValueError, match=r"input 0 with shape \(3,\) does not have enough"):
        mv(lnp.ones(3), lnp.ones(3))
    with pytest.raises(ValueError, match="inconsistent size for core dimension 'k'"):
        mv(lnp.ones((2, 3)), lnp.ones(4))
    with pytest.raises(ValueError, match="do not broadcast"):
        mv(lnp.ones((2, 2, 3)), lnp.ones((3, 3)))
    with pytest.raises(ValueError, match="not a valid gufunc signature"):
        lnp.vectorize(lnp.dot, signature="(n,k)(k)->(n)")
    with pytest.raises(ValueError, match=r"output 0 has shape \(3,\)"):
        lnp.vectorize(lambda x: x, signature="(n)->()")(lnp.ones(3))
    with pytest.raises(TypeError, match="must return a tuple of 2 arrays, got a single array"):
        lnp.vectorize(lambda x: x.sum(), signature="(n)->(),()")(lnp.ones((2, 3)))
    with pytest.raises(TypeError, match="returned 1 outputs but the signature has 2"):
        lnp.vectorize(lambda x: (x.sum(),), signature="(n)->(),()")(lnp.ones(3))
    with pytest.raises(TypeError, match="expected 1 vectorized positional arguments, got 2"):
        lnp.vectorize(lambda x: x, signature="(n)->(n)")(lnp.ones(3), lnp.ones(3))
    with pytest.raises(ValueError, match="negative position -1"):
        lnp.vectorize(lambda x: x, excluded={-1})
    with pytest.raises(TypeError, match="contains 1.5"):
        lnp.vectorize(lambda x: x, excluded={1.5})
    with pytest.raises(TypeError, match="write excluded="):
        lnp.vectorize(lambda x: x, excluded=1)
    with pytest.raises(ValueError, match=r"cannot pass None at positions \[1\]"):
        lnp.vectorize(lambda x, y: x, signature="(n),(n)->(n)")(lnp.ones(3), None)


# --------------------------------------------------------------------------------------
# apply_along_axis, apply_over_axes
# --------------------------------------------------------------------------------------

ALONG = [
    (lambda np_: (lambda v: v.sum()), 1),
    (lambda np_: (lambda v: np_.stack([v.min(), v.max()])), 1),
    (lambda np_: (lambda v: np_.outer(v, v)), 0),
    (lambda np_: (lambda v: v * 2), -1),
    (lambda np_: (lambda v: np_.sort(v)[::-1]), 2),
]


@pytest.mark.parametrize("body, axis", ALONG, ids=["sum", "minmax", "outer", "double", "sort"])
def test_apply_along_axis_matches_jax(body, axis):
    x = np.arange(24.0, dtype=np.float32).reshape(2, 3, 4) % 5
    lam, ref = both(lambda np_, a: np_.apply_along_axis(body(np_), axis, a), x)
    assert_like_jax(lam, ref)
    np.testing.assert_allclose(np.asarray(lam), np.apply_along_axis(body(np), axis, x))


def test_apply_along_axis_passes_extra_arguments_and_jits():
    x = np.arange(6.0, dtype=np.float32).reshape(2, 3)
    f = lambda np_, a: np_.apply_along_axis(lambda v, s, k=0: v * s + k, 0, a, 2.0, k=1)  # noqa
    lam, ref = both(f, x)
    assert_like_jax(lam, ref)
    assert_like_jax(lamina.jit(lambda a: f(lnp, a))(x), ref)


def test_apply_along_axis_errors():
    with pytest.raises(ValueError, match="axis 0 is out of bounds for an array of rank 0"):
        lnp.apply_along_axis(lambda v: v, 0, lnp.array(1.0))
    with pytest.raises(TypeError, match="asarray"):
        lnp.apply_along_axis(lambda v: v, 0, [1.0, 2.0])


def test_apply_over_axes():
    x = np.arange(24.0, dtype=np.float32).reshape(2, 3, 4)
    lam, ref = both(lambda np_, a: np_.apply_over_axes(np_.sum, a, [0, 2]), x)
    assert_like_jax(lam, ref)
    lam, ref = both(lambda np_, a: np_.apply_over_axes(
        lambda v, ax: np_.max(v, axis=ax, keepdims=True), a, (1, -1)), x)
    assert_like_jax(lam, ref)
    # A single int axis works (as numpy; jax wants a sequence).
    assert lnp.apply_over_axes(lnp.sum, lnp.asarray(x), 1).shape == (2, 1, 4)
    with pytest.raises(ValueError, match=r"returned an array of shape \(24,\)"):
        lnp.apply_over_axes(lambda a, ax: a.ravel(), lnp.asarray(x), [0])


# --------------------------------------------------------------------------------------
# piecewise
# --------------------------------------------------------------------------------------


def test_piecewise_matches_jax_and_numpy():
    x = np.array([-2.0, -0.5, 0.0, 0.5, 1.5, 3.0], dtype=np.float32)

    def f(np_, a):
        return np_.piecewise(a, [a < 0, a > 1, a > 2], [lambda v: -v, lambda v: v * 10, 7.0,
                                                         lambda v: v + 100])
    lam, ref = both(f, x)
    assert_like_jax(lam, ref)
    np.testing.assert_allclose(np.asarray(lam), f(np, x))
    # As many functions as conditions: the default is 0.
    g = lambda np_, a: np_.piecewise(a, [a < 0], [lambda v: v * 2])  # noqa: E731
    lam, ref = both(g, x)
    assert_like_jax(lam, ref)


def test_piecewise_casts_to_x_dtype_and_takes_extra_arguments():
    x = np.arange(4, dtype=np.int32)
    lam, ref = both(lambda np_, a: np_.piecewise(a, [a < 2], [1.7, 3]), x)
    assert_like_jax(lam, ref)
    y = np.arange(3.0, dtype=np.float32)
    lam, ref = both(lambda np_, a: np_.piecewise(a, [a > 0], [lambda v, s: v * s, 0.0], 5.0), y)
    assert_like_jax(lam, ref)
    assert_like_jax(lnp.piecewise(2.0, [True], [lambda v: v * 3]),
                    jnp.piecewise(2.0, [True], [lambda v: v * 3]))
    # No conditions: the single function applies everywhere (jax errors).
    assert lnp.piecewise(lnp.ones(3), [], [lambda v: v * 5]).tolist() == [5.0, 5.0, 5.0]


def test_piecewise_jit_vmap_grad():
    funcs_l = [lambda v: v ** 2, lambda v: lnp.sin(v)]
    funcs_j = [lambda v: v ** 2, lambda v: jnp.sin(v)]
    f_l = lambda a: lnp.piecewise(a, [a < 0], funcs_l)  # noqa: E731
    f_j = lambda a: jnp.piecewise(a, [a < 0], funcs_j)  # noqa: E731
    x = np.array([-1.5, -0.25, 0.5, 2.0], dtype=np.float32)
    assert_like_jax(lamina.jit(f_l)(x), f_j(x))
    xs = np.stack([x, -x, x * 2])
    batched = lamina.vmap(f_l)(xs)
    for i in range(3):
        assert_array_close(batched[i], f_l(lnp.asarray(xs[i])))
    assert_like_jax(lamina.grad(lambda a: f_l(a).sum())(lnp.asarray(x)),
                    jax.grad(lambda a: f_j(a).sum())(jnp.asarray(x)))


def test_piecewise_errors():
    x = lnp.array([-1.0, 0.5, 2.0])
    with pytest.raises(ValueError, match=r"either 3 or 4 functions.*wrap a single condition"):
        lnp.piecewise(x, x > 0, [lambda v: v, lambda v: -v])
    with pytest.raises(TypeError, match="asarray"):
        lnp.piecewise([1.0, 2.0], [True], [1.0])
