"""`lax.reduce` and `lax.reduce_window` with general computations (lax/generic_reductions.py):
numerics against numpy and jax, monoid dispatch to the dedicated primitives, eager vs jit,
vmap against a Python loop, differentiation against jax, and error messages.

Computations are written against a `lax` namespace (`l`) so that the same code runs with
`lamina.lax` and `jax.lax`. They are associative and commutative (or, for the variadic
argmax, symmetric), so XLA's combination order does not matter.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import lamina
from lamina import lax
from lamina.errors import ConcretizationError, MissingRuleError
from lamina.testing import assert_array_close, assert_trees_close, check_vmap

inf = np.inf


def _f32(rng, *shape):
    return rng.standard_normal(shape).astype(np.float32)


def _max_abs(l):
    return lambda a, b: l.max(l.abs(a), l.abs(b))


def _logaddexp(l):
    def f(a, b):
        d = l.sub(a, b)
        big = l.add(l.max(a, b), l.log1p(l.exp(l.neg(l.abs(d)))))
        return l.select(l.ne(d, d), l.add(a, b), big)  # -inf with -inf gives -inf
    return f


def _sum(l):
    return lambda a, b: l.add(a, b)  # not `lax.add` itself: no monoid dispatch


def _argmax(l):
    """(value, index) pairs: the larger value wins, the smaller index on ties."""
    def f(a, b):
        pick_a = l.bitwise_or(l.gt(a[0], b[0]),
                              l.bitwise_and(l.eq(a[0], b[0]), l.lt(a[1], b[1])))
        return l.select(pick_a, a[0], b[0]), l.select(pick_a, a[1], b[1])
    return f


def _shifted_product(l):
    """a * b + a + b = (a + 1)(b + 1) - 1: associative, commutative, identity 0."""
    return lambda a, b: l.add(l.add(l.mul(a, b), a), b)


def _eqn_names(f, *args):
    return [e.primitive.name for e in lamina.make_jaxpr(f)(*args).eqns]


# --------------------------------------------------------------------------------------
# reduce: numerics
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape, dims", [((3, 4), (0,)), ((3, 4), (1,)), ((3, 4), (0, 1)),
                                         ((2, 3, 4), (2, 0)), ((3, 4), ()), ((0, 3), (0,)),
                                         ((3, 0), (0,))])
def test_reduce_sum_like_vs_numpy(rng, shape, dims):
    x = _f32(rng, *shape)
    out = lax.reduce(x, np.float32(0), _sum(lax), dims)
    assert_array_close(out, np.sum(x, axis=dims, dtype=np.float32), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name", ["max_abs", "logaddexp", "shifted_product"])
def test_reduce_custom_vs_jax(rng, name):
    make, init = {"max_abs": (_max_abs, 0.0), "logaddexp": (_logaddexp, -inf),
                  "shifted_product": (_shifted_product, 0.0)}[name]
    x = _f32(rng, 3, 4, 2) * (0.3 if name == "shifted_product" else 1.0)
    for dims in [(1,), (0, 2)]:
        out = lax.reduce(x, init, make(lax), dims)
        want = jax.lax.reduce(x, np.float32(init), make(jax.lax), dims)
        assert_array_close(out, np.asarray(want), rtol=2e-6, atol=2e-6)


def test_reduce_variadic_argmax_vs_numpy():
    x = np.array([[1., 5., 5., -2.], [7., 0., 7., 7.], [-1., -3., -2., -1.]], np.float32)
    idx = np.broadcast_to(np.arange(4, dtype=np.int32), x.shape)
    vals, ids = lax.reduce((x, idx), (-inf, np.int32(0)), _argmax(lax), (1,))
    assert_array_close(vals, x.max(axis=1))
    assert_array_close(ids, x.argmax(axis=1).astype(np.int32))  # first maximum on ties
    # A dict pytree over both axes of a 2-D index.
    flat = np.arange(12, dtype=np.int32).reshape(3, 4)
    out = lax.reduce({"v": x, "i": flat}, {"v": -inf, "i": np.int32(0)},
                     lambda a, b: dict(zip("vi", _argmax(lax)((a["v"], a["i"]),
                                                               (b["v"], b["i"])))), (0, 1))
    assert sorted(out) == ["i", "v"]
    assert_array_close(out["v"], np.float32(7.0))
    assert_array_close(out["i"], np.int32(4))


def test_reduce_bool_and_int_custom():
    b = np.array([[True, False, False], [False, False, False]])
    out = lax.reduce(b, False, lambda p, q: lax.bitwise_or(p, q), (1,))
    assert_array_close(out, np.array([True, False]))
    i = np.array([[3, 9, 2], [4, 1, 8]], np.int16)
    assert_array_close(lax.reduce(i, np.int16(0), lambda p, q: lax.max(p, q), (0,)),
                       np.array([4, 9, 8], np.int16))


def test_reduce_empty_dims_and_empty_axis_match_jax():
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    f = _shifted_product
    # No reduced dimension: the operand itself (XLA does not combine it with the init).
    assert_array_close(lax.reduce(x, 0.0, f(lax), ()),
                       np.asarray(jax.lax.reduce(x, 0.0, f(jax.lax), ())))
    # An empty reduced axis: the init value.
    e = np.zeros((0, 3), np.float32)
    assert_array_close(lax.reduce(e, 0.0, f(lax), (0,)), np.zeros(3, np.float32))


def test_reduce_eager_matches_jit_and_captured_constants(rng):
    x = _f32(rng, 4, 5)
    scale = np.float32(0.5)
    table = lamina.numpy.asarray(np.array([1.0, 2.0], np.float32))

    def f(x):
        return lax.reduce(x, 0.0, lambda a, b: a + b * scale * table[1], (0,))

    assert_array_close(f(x), lamina.jit(f)(x), rtol=1e-6, atol=1e-6)
    assert_array_close(f(x), x.sum(0), rtol=1e-5, atol=1e-5)


def test_reduce_negative_dims_and_traced_init(rng):
    x = _f32(rng, 2, 3)
    out = lamina.jit(lambda x, i: lax.reduce(x, i, lax.add, (-1,)))(x, np.float32(0))
    assert_array_close(out, x.sum(1), rtol=1e-6, atol=1e-6)
    names = _eqn_names(lambda x, i: lax.reduce(x, i, lax.add, (-1,)), x, np.float32(0))
    assert names == ["reduce"]  # a traced init is not known to be the identity


# --------------------------------------------------------------------------------------
# reduce: monoid dispatch, weak types
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("comp, init, dtype, prim", [
    ("add", 0, np.float32, "reduce_sum"), ("mul", 1.0, np.float32, "reduce_prod"),
    ("max", -inf, np.float32, "reduce_max"), ("min", inf, np.float32, "reduce_min"),
    ("max", -inf, np.int32, "reduce_max"), ("max", -128, np.int8, "reduce_max"),
    ("min", np.iinfo(np.int32).max, np.int32, "reduce_min"),
    ("bitwise_and", -1, np.int32, "reduce_and"), ("bitwise_or", False, np.bool_, "reduce_or"),
    ("bitwise_xor", np.uint8(0), np.uint8, "reduce_xor"),
    ("add", 1.0, np.float32, "reduce"), ("max", 0.0, np.float32, "reduce"),
    ("bitwise_or", 0.0, np.float32, None),
])
def test_reduce_monoid_dispatch(comp, init, dtype, prim):
    x = np.ones((2, 3), dtype)
    f = lambda x: lax.reduce(x, init, getattr(lax, comp), (1,))  # noqa: E731
    if prim is None:  # not a monoid (floats have no bitwise or): the generic path raises
        with pytest.raises(TypeError, match=r"lax\.bitwise_or does not accept dtype float32"):
            lamina.make_jaxpr(f)(x)
        return
    assert _eqn_names(f, x) == [prim]
    if comp in ("add", "mul") and prim == "reduce":
        want = jax.lax.reduce(x, dtype(init), getattr(jax.lax, comp), (1,))
        assert_array_close(f(x), np.asarray(want))


def test_reduce_weak_types_as_jax():
    for init in (0.0, np.float32(0)):
        for comp in ("add", "mul"):
            ours = lax.reduce(3.0, init, getattr(lax, comp), ())
            theirs = jax.lax.reduce(3.0, init, getattr(jax.lax, comp), ())
            assert ours.dtype == theirs.dtype
            assert ours.weak_type == theirs.weak_type, (init, comp)


# --------------------------------------------------------------------------------------
# reduce: transformations
# --------------------------------------------------------------------------------------


def test_reduce_vmap_vs_loop(rng):
    x = _f32(rng, 3, 4, 5)
    f = lambda x: lax.reduce(x, 0.0, _max_abs(lax), (1,))  # noqa: E731
    check_vmap(f, (x,), 0)
    check_vmap(f, (x,), 2)
    idx = np.broadcast_to(np.arange(5, dtype=np.int32), (3, 4, 5)).copy()
    g = lambda v, i: lax.reduce((v, i), (-inf, np.int32(0)), _argmax(lax), (1,))  # noqa: E731
    check_vmap(g, (x, idx[0]), (0, None))  # an unbatched operand is broadcast


def test_reduce_vmap_batched_init_vs_loop(rng):
    x = _f32(rng, 4, 3)
    inits = np.array([0.0, 1.0, 2.0], np.float32)
    f = lambda x, i: lax.reduce(x, i, _sum(lax), (0,))  # noqa: E731
    check_vmap(f, (x, inits), (None, 0))
    check_vmap(f, (x.T.copy(), inits), (0, 0))


def test_reduce_grad_and_jvp_vs_jax(rng):
    x = _f32(rng, 3, 5) * 0.3
    for dims in [(1,), (0, 1)]:
        f = lambda x, l: l.reduce(x, 0.0, _shifted_product(l), dims).sum()  # noqa: E731
        g = lamina.jit(lamina.grad(lambda x: f(x, lax)))(x)
        want = jax.jit(jax.grad(lambda x: f(x, jax.lax)))(x)
        assert_array_close(g, np.asarray(want), rtol=1e-5, atol=1e-6)
    t = _f32(rng, 3, 5)
    ours = lamina.jit(lambda x, t: lamina.jvp(
        lambda x: lax.reduce(x, -inf, _logaddexp(lax), (0,)), (x,), (t,)))(x, t)
    theirs = jax.jit(lambda x, t: jax.jvp(
        lambda x: jax.lax.reduce(x, -inf, _logaddexp(jax.lax), (0,)), (x,), (t,)))(x, t)
    assert_trees_close(ours, tuple(np.asarray(v) for v in theirs), rtol=1e-5, atol=1e-6)


def test_reduce_grad_of_variadic_argmax():
    # NOTE: jax 0.10 fails here (a symbolic zero tangent of the int operand reaches
    # `reshape`); the gradient is the weight at each row's first maximum.
    x = np.array([[1., 5., 3., 5.], [7., 0., 2., -1.]], np.float32)
    idx = np.broadcast_to(np.arange(4, dtype=np.int32), x.shape)

    def f(x):
        vals, _ = lax.reduce((x, idx), (-inf, np.int32(0)), _argmax(lax), (1,))
        return (vals * np.array([2.0, 3.0], np.float32)).sum()

    want = np.array([[0, 2, 0, 0], [3, 0, 0, 0]], np.float32)
    assert_array_close(lamina.jit(lamina.grad(f))(x), want)


def test_reduce_init_tangent_is_an_error():
    x = np.ones((2, 3), np.float32)
    f = lambda i: lax.reduce(x, i, lambda a, b: a * b, (0, 1))  # noqa: E731
    with pytest.raises(MissingRuleError, match=r"lax\.reduce: differentiating with respect "
                                               r"to init_values"):
        lamina.jvp(f, (np.float32(1),), (np.float32(1),))


# --------------------------------------------------------------------------------------
# reduce: errors
# --------------------------------------------------------------------------------------


def test_reduce_errors():
    x = np.zeros((2, 3), np.float32)
    add = _sum(lax)
    with pytest.raises(ValueError, match=r"lax\.reduce: operands and init_values must have "
                                         r"the same pytree structure"):
        lax.reduce((x, x), 0.0, add, (0,))
    with pytest.raises(TypeError, match=r"lax\.reduce: init_values must be a scalar, got "
                                        r"f32\[2\]"):
        lax.reduce(x, np.zeros(2, np.float32), add, (0,))
    with pytest.raises(TypeError, match=r"lax\.reduce: init_values has dtype float32 but its "
                                        r"operand f16\[2,3\] has dtype float16.*np\.float16"):
        lax.reduce(x.astype(np.float16), np.float32(0), add, (0,))
    with pytest.raises(TypeError, match=r"lax\.reduce: init_values -inf does not convert "
                                        r"exactly to the dtype of its operand i32\[2,3\]"):
        lax.reduce(x.astype(np.int32), -inf, add, (0,))
    with pytest.raises(ValueError, match=r"lax\.reduce: axis 2 is out of bounds"):
        lax.reduce(x, 0.0, add, (2,))
    with pytest.raises(ValueError, match=r"lax\.reduce: repeated axis"):
        lax.reduce(x, 0.0, add, (0, 0))
    with pytest.raises(TypeError, match=r"lax\.reduce: the computation must return the pytree "
                                        r"structure of init_values"):
        lax.reduce(x, 0.0, lambda a, b: (a, b), (0,))
    with pytest.raises(TypeError, match=r"lax\.reduce: the computation must return scalars of "
                                        r"the init values' dtypes \[f32\[\]\], but its output "
                                        r"is bool\[\]"):
        lax.reduce(x, 0.0, lambda a, b: lax.gt(a, b), (0,))
    with pytest.raises(TypeError, match=r"lax\.reduce: the computation must return arrays"):
        lax.reduce(x, 0.0, lambda a, b: "sum", (0,))
    with pytest.raises(TypeError, match=r"lax\.reduce: computation must be a function"):
        lax.reduce(x, 0.0, "add", (0,))
    with pytest.raises(ConcretizationError, match=r"lax\.reduce: the computation closes over "
                                                  r"a traced value f32\[\]"):
        lamina.jit(lambda x, c: lax.reduce(x, 0.0, lambda a, b: a + b * c, (0,)))(x, 2.0)
    with pytest.raises(TypeError, match=r"lax\.reduce: all operands must have the same shape"):
        lax.reduce((x, x[0]), (0.0, 0.0), lambda a, b: (a[0] + b[0], a[1] + b[1]), (0,))


# --------------------------------------------------------------------------------------
# reduce_window
# --------------------------------------------------------------------------------------

_WINDOWS = [
    # window_dimensions, window_strides, padding, base_dilation, window_dilation
    ((2, 3), (1, 1), "VALID", None, None),
    ((3, 2), (2, 1), "SAME", None, (1, 2)),
    ((2, 2), (1, 2), ((1, 0), (2, 1)), (2, 1), None),
    ((1, 3), (2, 1), ((0, 2), (-1, 1)), (1, 2), (1, 2)),
]


@pytest.mark.parametrize("case", range(len(_WINDOWS)))
def test_reduce_window_general_vs_jax(rng, case):
    wd, ws, pad, bd, wdl = _WINDOWS[case]
    x = _f32(rng, 5, 4) * 0.5 + 1.0
    for l_comp, init in ((lambda l: l.mul, 1.0), (_logaddexp, -inf)):
        out = lax.reduce_window(x, init, l_comp(lax), wd, ws, pad, bd, wdl)
        want = jax.lax.reduce_window(x, np.float32(init), l_comp(jax.lax), wd, ws, pad, bd, wdl)
        assert_array_close(out, np.asarray(want), rtol=1e-5, atol=1e-6)


def test_reduce_window_variadic_and_eager_vs_jit(rng):
    x = _f32(rng, 4, 6)
    idx = np.broadcast_to(np.arange(6, dtype=np.int32), x.shape)

    def f(x, l):
        return l.reduce_window((x, idx), (-inf, np.int32(0)), _argmax(l), (2, 3), (1, 2),
                               ((0, 1), (1, 0)))

    ours = f(x, lax)
    assert_trees_close(ours, tuple(np.asarray(v) for v in f(x, jax.lax)))
    assert_trees_close(lamina.jit(lambda x: f(x, lax))(x), ours)


def test_reduce_window_monoid_dispatch():
    x = np.ones((4, 4), np.float32)

    def names(comp, init):
        return _eqn_names(lambda x: lax.reduce_window(x, init, comp, (2, 2), (1, 1), "SAME"), x)

    assert names(lax.add, 0.0) == ["reduce_window_sum"]
    assert names(lax.max, -inf) == ["reduce_window_max"]
    assert names(lax.min, inf) == ["reduce_window_min"]
    # Not an identity, or not a window monoid (as jax): the general primitive.
    assert names(lax.max, 0.0) == ["reduce_window"]
    assert names(lax.add, 1.0) == ["reduce_window"]
    assert names(lax.mul, 1.0) == ["reduce_window"]
    i8 = np.array([1, -5, 3, 0], np.int8)
    assert_array_close(lax.reduce_window(i8, -128, lax.max, (2,), (1,), ((1, 0),)),
                       np.array([1, 1, 3, 3], np.int8))


def test_reduce_window_non_identity_init_as_jax():
    x = np.array([1, 5, -2, 7], np.int32)
    for comp, init in (("add", 1), ("max", 3), ("min", np.int32(0))):
        ours = lax.reduce_window(x, init, getattr(lax, comp), (2,), (1,), ((1, 0),))
        theirs = jax.lax.reduce_window(x, init, getattr(jax.lax, comp), (2,), (1,), ((1, 0),))
        assert_array_close(ours, np.asarray(theirs))


def test_reduce_window_vmap_vs_loop(rng):
    x = _f32(rng, 3, 5, 4) * 0.5 + 1.0
    f = lambda x: lax.reduce_window(x, 1.0, lax.mul, (2, 2), (1, 2), "SAME")  # noqa: E731
    check_vmap(f, (x,), 1, rtol=1e-6, atol=1e-6)
    g = lambda x, i: lax.reduce_window(x, i, lax.mul, (2,), (1,), ((1, 0),))  # noqa: E731
    check_vmap(g, (x[0], np.array([1.0, 2.0, 0.5, 3.0, -1.0], np.float32)), (0, 0),
               rtol=1e-6, atol=1e-6)


def test_reduce_window_jvp_vs_jax_and_no_reverse_mode(rng):
    x = _f32(rng, 4, 5) * 0.5 + 1.0
    t = _f32(rng, 4, 5)

    def f(x, l):
        return l.reduce_window(x, 1.0, l.mul, (2, 2), (1, 2), ((1, 0), (0, 1)), None, (1, 2))

    ours = lamina.jvp(lambda x: f(x, lax), (x,), (t,))
    theirs = jax.jvp(lambda x: f(x, jax.lax), (x,), (t,))
    assert_trees_close(ours, tuple(np.asarray(v) for v in theirs), rtol=1e-5, atol=1e-5)
    # Forward mode composes (jacfwd, linearize); reverse mode raises, as in jax.
    jac = lamina.jacfwd(lambda x: f(x, lax))(x)
    assert_array_close(np.einsum("ijkl,kl->ij", np.asarray(jac), t), np.asarray(theirs[1]),
                       rtol=1e-5, atol=1e-5)
    out, f_lin = lamina.linearize(lambda x: f(x, lax), x)
    assert_array_close(f_lin(t), np.asarray(theirs[1]), rtol=1e-5, atol=1e-5)
    with pytest.raises(MissingRuleError, match=r"lax\.reduce_window with a general "
                                               r"computation is not reverse-mode"):
        lamina.grad(lambda x: f(x, lax).sum())(x)


def test_reduce_window_errors():
    x = np.zeros((4, 5), np.float32)
    with pytest.raises(ValueError, match=r"lax\.reduce_window: operand and init_value must "
                                         r"have the same pytree structure"):
        lax.reduce_window((x, x), 0.0, lax.mul, (2, 2))
    with pytest.raises(TypeError, match=r"lax\.reduce_window: the computation must return the "
                                        r"pytree structure of init_value"):
        lax.reduce_window((x, x), (1.0, 1.0), lambda a, b: [a[0] * b[0], a[1] * b[1]], (2, 2))
    with pytest.raises(TypeError, match=r"lax\.reduce_window: init_value must be a scalar"):
        lax.reduce_window(x, np.ones(2, np.float32), lax.mul, (2, 2))
    with pytest.raises(TypeError, match=r"lax\.reduce_window: init_value -inf does not convert"):
        lax.reduce_window(x.astype(np.int32), -inf, lax.mul, (2, 2))
    with pytest.raises(TypeError, match=r"lax\.reduce_window: window_strides must have one "
                                        r"entry per dimension of the operand f32\[4,5\]"):
        lax.reduce_window(x, 1.0, lax.mul, (2, 2), (1,), ((0, 0), (0, 0)))
    with pytest.raises(MissingRuleError, match=r"init_value of a general windowed reduction"):
        lamina.jvp(lambda i: lax.reduce_window(x, i, lax.mul, (2, 2)), (np.float32(1),),
                   (np.float32(1),))
