"""lamina.scipy against jax.scipy: values on random and edge inputs (float32, and float64
with x64 on), result dtypes and weak types, jit, vmap against a Python loop, and
gradients against jax.grad."""
import functools
import os
import subprocess
import sys
import warnings

import jax
import jax.numpy as jnp
import jax.scipy.linalg as jla
import jax.scipy.special as jsp
import jax.scipy.stats as jst
import numpy as np
import pytest

import lamina
import lamina.numpy as lnp
import lamina.scipy.special as lsp
from lamina.scipy import linalg as lla
from lamina.scipy import stats as lst

F32 = np.float32
INF, NAN = np.inf, np.nan


def _rng(seed=0):
    return np.random.default_rng(seed)


def _f32(*parts):
    return np.concatenate([np.ravel(np.asarray(p, np.float64)) for p in parts]).astype(F32)


def assert_matches(ours, theirs, rtol=1e-6, atol=0.0):
    """Tree structure, then per leaf shape, dtype, weak type and values (NaN where jax
    has NaN, infinities of the same sign)."""
    o_leaves, o_tree = jax.tree_util.tree_flatten(ours)
    t_leaves, t_tree = jax.tree_util.tree_flatten(theirs)
    assert o_tree == t_tree, (o_tree, t_tree)
    for o, t in zip(o_leaves, t_leaves):
        assert o.shape == t.shape, (o.shape, t.shape)
        assert o.dtype == t.dtype, (o.dtype, t.dtype)
        assert getattr(o, "weak_type", False) == getattr(t, "weak_type", False), \
            (getattr(o, "weak_type", False), getattr(t, "weak_type", False))
        np.testing.assert_allclose(np.asarray(o), np.asarray(t), rtol=rtol, atol=atol,
                                   equal_nan=True)


def _check(ours, theirs, args, rtol=1e-6, atol=0.0, static=()):
    """Eager `ours(*args)` against eager `theirs(*args)`, jitted against jitted (XLA's
    fusion rounds a few ops differently from op-by-op execution, in jax as here);
    positions in `static` stay Python values under jit."""
    assert_matches(ours(*args), theirs(*args), rtol, atol)
    dyn = [i for i in range(len(args)) if i not in static]

    def bind(f):
        def call(*dargs):
            full = list(args)
            for i, a in zip(dyn, dargs):
                full[i] = a
            return f(*full)
        return call

    dargs = [args[i] for i in dyn]
    assert_matches(lamina.jit(bind(ours))(*dargs), jax.jit(bind(theirs))(*dargs), rtol,
                   atol)


def _check_vmap(fn, args, in_axes=0):
    """vmap over the leading axis against a Python loop of the same function.

    NOTE: rtol 2e-6, not 1e-6: XLA's CPU kernels for transcendentals (atan, log...) can
    round an element 1 ulp apart depending on the array length (vector body vs tail),
    and formulas such as cauchy.logsf = log(1/2 + atan(z)/pi) amplify that."""
    got = lamina.vmap(fn, in_axes)(*args)
    axes = in_axes if isinstance(in_axes, tuple) else (in_axes,) * len(args)
    n = next(a.shape[ax] for a, ax in zip(args, axes) if ax is not None)
    loop = [fn(*[a if ax is None else np.take(a, i, ax) for a, ax in zip(args, axes)])
            for i in range(n)]
    want = jax.tree_util.tree_map(lambda *xs: np.stack([np.asarray(x) for x in xs]), *loop)
    jax.tree_util.tree_map(
        lambda g, w: np.testing.assert_allclose(np.asarray(g), w, rtol=2e-6, atol=1e-7,
                                                equal_nan=True), got, want)


def _check_grad(ours, theirs, args, argnums=0, rtol=1e-6, atol=1e-7):
    """grad of the summed output, ours against jax's, for each of `argnums` (the same
    derivative rules as jax, so value tolerances, not finite-difference ones)."""
    argnums = (argnums,) if isinstance(argnums, int) else argnums
    g = lamina.grad(lambda *a: lnp.sum(ours(*a)), argnums)(*args)
    gj = jax.grad(lambda *a: jnp.sum(theirs(*a)), argnums)(*args)
    for a, b in zip(g, gj):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=rtol, atol=atol,
                                   equal_nan=True)


@pytest.fixture
def x64():
    with lamina.config.override(enable_x64=True), jax.enable_x64(True):
        yield


# --------------------------------------------------------------------------------------
# special: elementwise functions
# --------------------------------------------------------------------------------------

R = _rng(0)
N = 48
SPECIAL_ARGS = {
    "expit": [_f32(R.normal(size=N) * 5, [-100, -20, 0, 20, 100, INF, -INF, NAN])],
    "logit": [_f32(R.uniform(size=N), [0, 1, 1e-7, 1 - 1e-7, -0.5, 1.5, NAN])],
    "xlogy": [_f32(R.normal(size=N), [0, 0, 0, 0, 1, -1, NAN, 2]),
              _f32(R.uniform(0, 5, N), [0, 1, NAN, INF, 0, 0, 1, -1])],
    "xlog1py": [_f32(R.normal(size=N), [0, 0, 0, 0, 1, -1, NAN, 2]),
                _f32(R.uniform(-1, 4, N), [-1, 0, NAN, INF, -1, -1, 0, -2])],
    "entr": [_f32(R.uniform(0, 3, N), [-1, 0, -0.0, 1e-30, INF, NAN])],
    "rel_entr": [_f32(R.uniform(0, 3, N), [0, 0, 0, 1, -1, 1, NAN, INF]),
                 _f32(R.uniform(0, 3, N), [0, 1, -1, 0, 1, -1, 1, 1])],
    "kl_div": [_f32(R.uniform(0, 3, N), [0, 0, 0, 1, -1, 1, NAN, 2]),
               _f32(R.uniform(0, 3, N), [0, 1, -1, 0, 1, -1, 1, INF])],
    "gammaln": [_f32(R.uniform(-10, 30, N), [-2, -1, 0, -0.0, 0.5, 1, 2, 1e10, INF, -INF,
                                             NAN])],
    "gammasgn": [_f32(R.uniform(-10, 30, N), [-2, -1, -2.5, -3.5, 0, -0.0, 0.5, INF,
                                              -INF, NAN])],
    "gamma": [_f32(R.uniform(-5, 10, N), [-2, -1.5, 0, -0.0, 1, 5, INF, NAN])],
    "digamma": [_f32(R.uniform(-5, 20, N), [0, -1, 1, 1e6, INF, NAN])],
    "polygamma": [np.tile(np.arange(4, dtype=np.int32), 14)[:N + 6],
                  _f32(R.uniform(0.1, 10, N), [0.5, 1, 2, 3, 100, NAN])],
    "erf": [_f32(R.normal(size=N) * 3, [0, -0.0, 10, -10, INF, -INF, NAN])],
    "erfc": [_f32(R.normal(size=N) * 3, [0, 10, -10, 30, INF, -INF, NAN])],
    "erfinv": [_f32(R.uniform(-1, 1, N), [-1, 1, 0, 1 - 1e-7, 2, NAN])],
    "ndtr": [_f32(R.normal(size=N) * 5, [-40, -10, 0, 10, 40, INF, -INF, NAN])],
    "ndtri": [_f32(R.uniform(size=N), [0, 1, 1e-30, 1e-10, 1e-20, np.exp(-2),
                                       1 - np.exp(-2), 0.5, 1 - 1e-7, -0.1, 1.1, NAN])],
    "log_ndtr": [_f32(np.linspace(-50, 20, N), [-10, -10.0001, 5, 5.0001, 0, 40, -1e4,
                                                INF, -INF, NAN])],
    "betaln": [_f32(R.uniform(0.1, 20, N), [1, 1e3, 1e6, 0.5, 8, 7.9, 1e-3, NAN]),
               _f32(R.uniform(0.1, 20, N), [1, 2, 3, 1e6, 8, 8, 1e-3, 1])],
    "i0e": [_f32(R.normal(size=N) * 10, [0, 8, -8, 8.0001, 50, 1e4, -INF, INF, NAN])],
    "i1e": [_f32(R.normal(size=N) * 10, [0, 8, -8, 8.0001, 50, 1e4, -INF, INF, NAN])],
    "i0": [_f32(R.normal(size=N) * 10, [0, 8, -8, 50, 100, NAN])],
    "i1": [_f32(R.normal(size=N) * 10, [0, 8, -8, 50, 100, NAN])],
    "gammainc": [_f32(R.uniform(0.01, 30, N), [0, 1, 1, 2, -1, 1, NAN, 1e3, 5, 0]),
                 _f32(R.uniform(0, 40, N), [1, 0, INF, 1, 1, -1, 1, 1e3, 1e-30, 0])],
}
SPECIAL_ARGS["gammaincc"] = SPECIAL_ARGS["gammainc"]
# Points where both derivatives are defined (edges tested separately below).
GRAD_ARGS = {
    "expit": [_f32(R.normal(size=16) * 5)],
    "logit": [_f32(R.uniform(0.01, 0.99, 16))],
    "xlogy": [_f32(R.normal(size=16), [0]), _f32(R.uniform(0.1, 5, 16), [1])],
    "xlog1py": [_f32(R.normal(size=16), [0]), _f32(R.uniform(-0.9, 4, 16), [0])],
    "entr": [_f32(R.uniform(0.01, 3, 16))],
    "rel_entr": [_f32(R.uniform(0.1, 3, 16)), _f32(R.uniform(0.1, 3, 16))],
    "kl_div": [_f32(R.uniform(0.1, 3, 16)), _f32(R.uniform(0.1, 3, 16))],
    "gammaln": [_f32(R.uniform(0.1, 30, 16), [-0.5, -2.5])],
    "gamma": [_f32(R.uniform(0.1, 5, 16), [-0.5, -2.5])],
    "digamma": [_f32(R.uniform(0.1, 20, 16))],
    "erf": [_f32(R.normal(size=16) * 2)],
    "erfc": [_f32(R.normal(size=16) * 2)],
    "erfinv": [_f32(R.uniform(-0.99, 0.99, 16))],
    "ndtr": [_f32(R.normal(size=16) * 3)],
    "ndtri": [_f32(R.uniform(0.001, 0.999, 16), [1e-20, 1 - 1e-7])],
    "log_ndtr": [_f32(np.linspace(-60, 30, 19), [-10, 5, -1e3])],
    "betaln": [_f32(R.uniform(0.1, 20, 16), [1e3]), _f32(R.uniform(0.1, 20, 16), [2])],
    "i0e": [_f32(R.normal(size=16) * 10, [0, 8.5])],
    "i1e": [_f32(R.normal(size=16) * 10, [0, 8.5, 1e-8])],
    "i0": [_f32(R.normal(size=16) * 5)],
    "i1": [_f32(R.normal(size=16) * 5)],
    "gammainc": [_f32(R.uniform(0.1, 10, 16)), _f32(R.uniform(0.1, 15, 16))],
    "gammaincc": [_f32(R.uniform(0.1, 10, 16)), _f32(R.uniform(0.1, 15, 16))],
}


@pytest.mark.parametrize("name", sorted(SPECIAL_ARGS))
def test_special_values(name):
    args = SPECIAL_ARGS[name]
    _check(getattr(lsp, name), getattr(jsp, name), args, atol=1e-30)


@pytest.mark.parametrize("name", sorted(SPECIAL_ARGS))
def test_special_vmap(name):
    args = [np.reshape(a[:48], (6, 8)) for a in SPECIAL_ARGS[name]]
    _check_vmap(getattr(lsp, name), args)


@pytest.mark.parametrize("name", sorted(GRAD_ARGS))
def test_special_grad(name):
    args = GRAD_ARGS[name]
    argnums = tuple(range(len(args)))
    _check_grad(getattr(lsp, name), getattr(jsp, name), args, argnums)


def test_special_grad_edges_and_second_derivatives():
    # xlogy at x == 0: d/dy is 0 (finite) for y > 0, -inf/nan patterns as jax at y == 0.
    for x, y in [(0.0, 1.0), (0.0, 0.0), (1.0, 0.0), (0.0, 2.5)]:
        _check_grad(lsp.xlogy, jsp.xlogy, (F32(x), F32(y)), (0, 1))
        _check_grad(lsp.xlog1py, jsp.xlog1py, (F32(x), F32(y - 1)), (0, 1))
    # log_ndtr far in both tails stays finite (its derivative ~ -x on the left).
    x = _f32([-1e4, -300, -40, -10.5, -9.5, 4.5, 5.5, 8, 20, 1e4])
    _check_grad(lsp.log_ndtr, jsp.log_ndtr, (x,))
    assert np.all(np.isfinite(np.asarray(lamina.vmap(lamina.grad(lsp.log_ndtr))(x))))
    # entr and rel_entr at 0: jax's custom rules (-inf / +inf, not NaN).
    _check_grad(lsp.entr, jsp.entr, (_f32([0.0, 1.0]),))
    # i1e at tiny x uses the limit 1/2; i0e at 0 is 0.
    _check_grad(lsp.i1e, jsp.i1e, (_f32([0.0, 1e-9, -1e-9]),))
    _check_grad(lsp.i0e, jsp.i0e, (_f32([0.0]),))
    # second derivatives (through the custom rules)
    for name, x in [("log_ndtr", _f32([-30, -3, 0, 3, 7])), ("expit", _f32([-3, 0, 2])),
                    ("i0e", _f32([-9, -1, 0.5, 10])), ("logit", _f32([0.1, 0.5, 0.8]))]:
        ours = lamina.vmap(lamina.grad(lamina.grad(getattr(lsp, name))))(x)
        theirs = jax.vmap(jax.grad(jax.grad(getattr(jsp, name))))(x)
        np.testing.assert_allclose(np.asarray(ours), np.asarray(theirs), rtol=1e-6,
                                   atol=1e-7)


SCALAR_CASES = [
    ("expit", (0.5,)), ("expit", (1,)), ("logit", (0.25,)), ("xlogy", (2.0, 3.0)),
    ("xlogy", (1, 2)), ("xlog1py", (2.0, 3.0)), ("entr", (0.5,)), ("rel_entr", (1.0, 2.0)),
    ("kl_div", (1.0, 2.0)), ("gammaln", (2.5,)), ("gammaln", (3,)), ("gammasgn", (-1.5,)),
    ("gamma", (4.5,)), ("digamma", (1.5,)), ("polygamma", (1, 1.5)), ("erf", (0.5,)),
    ("erfc", (0.5,)), ("erfinv", (0.5,)), ("ndtr", (0.5,)), ("ndtri", (0.3,)),
    ("log_ndtr", (-12.0,)), ("betaln", (2.0, 30.0)), ("betaln", (2, 3)), ("i0e", (1.0,)),
    ("i1e", (1.0,)), ("i0", (1,)), ("i1", (1.0,)), ("multigammaln", (3.0, 2)),
    ("logsumexp", (1.0,)), ("softmax", (1.0,)), ("log_softmax", (1.0,)),
]


@pytest.mark.parametrize("name, args", SCALAR_CASES, ids=lambda v: str(v))
def test_special_python_scalars_promote_as_jax(name, args):
    # Python scalars stay weakly typed where jax keeps them so; ints become float32.
    assert_matches(getattr(lsp, name)(*args), getattr(jsp, name)(*args))


def test_special_dtypes_and_errors():
    x16 = np.array([0.5, 1.5, 3.0], np.float16)
    for name in ("expit", "gammaln", "digamma", "erf", "i0e", "i1e", "logit", "entr"):
        assert_matches(getattr(lsp, name)(x16), getattr(jsp, name)(x16), rtol=1e-3)
    ints = np.array([1, 2, 3], np.int32)
    for name in ("expit", "gammaln", "xlogy", "i0e", "erf"):
        args = (ints,) * (2 if name == "xlogy" else 1)
        assert_matches(getattr(lsp, name)(*args), getattr(jsp, name)(*args))
    assert_matches(lsp.xlogy(np.float32(2), 3), jsp.xlogy(np.float32(2), 3))
    # ndtr, ndtri and log_ndtr take float32/float64 only, as jax.
    for name in ("ndtr", "ndtri", "log_ndtr"):
        with pytest.raises(TypeError):
            getattr(lsp, name)(ints)
        with pytest.raises(TypeError):
            getattr(lsp, name)(x16)
    with pytest.raises(ValueError, match="integer"):
        lsp.polygamma(1.0, 2.0)
    for name in ("entr", "gammasgn"):
        with pytest.raises(ValueError, match="complex"):
            getattr(lsp, name)(np.array([1 + 1j], np.complex64))
    with pytest.raises(TypeError, match="series_order"):
        lsp.log_ndtr(1.0, series_order=2.0)
    with pytest.raises(ValueError, match="series_order"):
        lsp.log_ndtr(1.0, series_order=31)
    with pytest.raises(TypeError, match="concrete"):
        lamina.jit(lsp.multigammaln)(2.0, 3)


@pytest.mark.parametrize("order", [0, 1, 3, 7, 17])
def test_log_ndtr_series_order(order):
    x = _f32(np.linspace(-200, -9, 12), [-10, 0, 6])
    _check(functools.partial(lsp.log_ndtr, series_order=order),
           functools.partial(jsp.log_ndtr, series_order=order), [x], rtol=1e-6)


@pytest.mark.parametrize("d", [1, 2, 4])
def test_multigammaln(d):
    a = _f32(R.uniform(d, d + 20, 20)).reshape(4, 5)
    _check(lsp.multigammaln, jsp.multigammaln, [a, d], static=(1,))
    _check_grad(lsp.multigammaln, jsp.multigammaln, (a, d))
    _check_vmap(lambda a: lsp.multigammaln(a, d), [a])


def test_special_float64(x64):
    r = _rng(3)
    cases = {
        "ndtr": [np.concatenate([r.normal(size=20) * 8, [-40, 40, 8.5]])],
        "ndtri": [np.concatenate([r.uniform(size=20), [1e-300, 1e-40, 1 - 1e-15, 0, 1]])],
        "log_ndtr": [np.concatenate([np.linspace(-1e3, 40, 30), [-20, -20.001, 8, 8.01]])],
        "gammaln": [r.uniform(-10, 100, 20)],
        "betaln": [r.uniform(0.1, 1e3, 20), r.uniform(0.1, 1e3, 20)],
        "i0e": [np.concatenate([r.normal(size=20) * 10, [0, 8, 1e3]])],
        "i1e": [np.concatenate([r.normal(size=20) * 10, [0, 8, 1e3]])],
        "xlogy": [np.array([0.0, 1, 2, 0]), np.array([0.0, 0, 3, 1])],
        "expit": [r.normal(size=10) * 30],
        "logit": [r.uniform(size=10)],
        "erfinv": [r.uniform(-1, 1, 10)],
        "multigammaln": [r.uniform(3, 10, 5), 3],
        "gammainc": [r.uniform(0.1, 50, 20), r.uniform(0, 60, 20)],
        "gammaincc": [r.uniform(0.1, 50, 20), r.uniform(0, 60, 20)],
    }
    for name, args in cases.items():
        static = (1,) if name == "multigammaln" else ()
        _check(getattr(lsp, name), getattr(jsp, name), args, rtol=1e-13, atol=1e-300,
               static=static)
    for name in ("log_ndtr", "ndtri", "i0e", "betaln"):
        args = cases[name] if name != "ndtri" else [r.uniform(0.01, 0.99, 10)]
        _check_grad(getattr(lsp, name), getattr(jsp, name), args,
                    tuple(range(len(args))), rtol=1e-12, atol=1e-300)
    assert_matches(lsp.ndtr(0.5), jsp.ndtr(0.5))  # float64 default, strongly typed
    # jax's (2n - 1)!! overflows int64 from n = 18 on, so scipy is the oracle here.
    import scipy.special
    x = np.linspace(-300, -20.5, 9)
    np.testing.assert_allclose(np.asarray(lsp.log_ndtr(x, series_order=30)),
                               scipy.special.log_ndtr(x), rtol=1e-14)


# --------------------------------------------------------------------------------------
# special: logsumexp and the softmax family
# --------------------------------------------------------------------------------------

A = _rng(1).normal(size=(3, 4, 5)).astype(F32) * 3
A_INF = A.copy()
A_INF[0, 1, :] = -INF          # a whole row of -inf
A_INF[1, :, 2] = -INF          # some -inf entries
A_INF[2, 0, 0] = INF
A_NAN = A.copy()
A_NAN[1, 2, 3] = NAN
B = _rng(2).normal(size=(3, 4, 5)).astype(F32)
B[0, 0, :] = 0
WHERE = _rng(4).uniform(size=(3, 4, 5)) > 0.3
WHERE[2, 3, :] = False


@pytest.mark.parametrize("axis", [None, 0, -1, (0, 2), (1, -1)])
@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("a", [A, A_INF, A_NAN], ids=["finite", "inf", "nan"])
def test_logsumexp(a, axis, keepdims):
    ours = lambda a: lsp.logsumexp(a, axis=axis, keepdims=keepdims)  # noqa: E731
    theirs = lambda a: jsp.logsumexp(a, axis=axis, keepdims=keepdims)  # noqa: E731
    _check(ours, theirs, [a])
    _check_grad(ours, theirs, (a,))


@pytest.mark.parametrize("axis", [None, 1, (0, 2)])
def test_logsumexp_b_sign_where(axis):
    for b in (B, np.abs(B), np.float32(2.0), B[0]):
        for return_sign in (False, True):
            kw = dict(axis=axis, b=b, return_sign=return_sign)
            _check(lambda a: lsp.logsumexp(a, **kw), lambda a: jsp.logsumexp(a, **kw),
                   [A], rtol=1e-6)
        ours = lambda a, b: lsp.logsumexp(a, axis=axis, b=b, return_sign=True)[0]  # noqa
        theirs = lambda a, b: jsp.logsumexp(a, axis=axis, b=b, return_sign=True)[0]  # noqa
        _check_grad(ours, theirs, (A, b), (0, 1))
        _check_grad(ours, theirs, (A_INF, b), (0, 1))
    kw = dict(axis=axis, where=WHERE)
    _check(lambda a: lsp.logsumexp(a, **kw), lambda a: jsp.logsumexp(a, **kw), [A])
    _check_grad(lambda a: lsp.logsumexp(a, **kw), lambda a: jsp.logsumexp(a, **kw), (A,))
    kw = dict(axis=axis, where=WHERE, b=B, return_sign=True, keepdims=True)
    _check(lambda a: lsp.logsumexp(a, **kw), lambda a: jsp.logsumexp(a, **kw), [A_INF])


def test_logsumexp_grad_is_softmax_with_neg_inf_entries():
    a = _f32([-INF, 0.0, 1.0, -INF])
    g = lamina.grad(lsp.logsumexp)(a)
    np.testing.assert_allclose(np.asarray(g), np.asarray(jax.nn.softmax(a)), rtol=1e-6)
    np.testing.assert_array_equal(np.asarray(g), np.asarray(jax.grad(jsp.logsumexp)(a)))
    all_neg_inf = _f32([-INF, -INF])
    assert_matches(lsp.logsumexp(all_neg_inf), jsp.logsumexp(all_neg_inf))
    np.testing.assert_array_equal(np.asarray(lamina.grad(lsp.logsumexp)(all_neg_inf)),
                                  np.asarray(jax.grad(jsp.logsumexp)(all_neg_inf)))


def test_logsumexp_vmap_and_complex():
    _check_vmap(lambda a, b: lsp.logsumexp(a, axis=-1, b=b), [A, B])
    _check_vmap(lambda a: lsp.logsumexp(a, axis=0, return_sign=True), [A_INF], in_axes=1)
    c = (A + 1j * B).astype(np.complex64)
    _check(lambda a: lsp.logsumexp(a, axis=1), lambda a: jsp.logsumexp(a, axis=1), [c],
           rtol=1e-6)


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@pytest.mark.parametrize("axis", [None, 0, -1, (0, 1)])
def test_softmax_family(name, axis):
    ours = lambda x: getattr(lsp, name)(x, axis=axis)  # noqa: E731
    theirs = lambda x: getattr(jsp, name)(x, axis=axis)  # noqa: E731
    for a in (A, A_INF[0]):
        _check(ours, theirs, [a])
    # NOTE: y * (dx - sum(y dx)) cancels: a few ulps of the sum show up relatively.
    _check_grad(lambda x: ours(x) * B, lambda x: theirs(x) * B, (A,), rtol=2e-6,
                atol=2e-7)
    _check_vmap(ours, [A])
    with pytest.raises(TypeError):
        getattr(lsp, name)(A, 0)  # axis is keyword-only, as in jax.scipy


def test_nn_shares_the_implementation():
    import lamina.nn as nn
    assert nn.logsumexp is lsp.logsumexp
    x = lnp.asarray(A)
    np.testing.assert_array_equal(np.asarray(nn.softmax(x, axis=(0, 2))),
                                  np.asarray(lsp.softmax(x, axis=(0, 2))))
    np.testing.assert_array_equal(np.asarray(nn.log_softmax(x)),
                                  np.asarray(lsp.log_softmax(x, axis=-1)))


# --------------------------------------------------------------------------------------
# stats
# --------------------------------------------------------------------------------------

S = _rng(5)
X = _f32(S.normal(size=30) * 3, [0, -0.0, 1, -1, 1e-3, 50, -50, INF, -INF, NAN])
Q = _f32(S.uniform(size=30), [0, 1, 1e-7, 1 - 1e-7, 0.5, -0.1, 1.1, NAN, 0.25, 0.75])
LOC = _f32(S.normal(size=40))
SCALE = _f32(S.uniform(0.2, 3, 36), [1, 0, -1, NAN])
K = _f32(S.integers(-2, 8, 34), [0.5, 1, 0, NAN, -1, 3])
K01 = _f32(S.integers(-1, 3, 34), [0.5, 1, 0, NAN, -0.5, 1])
P = _f32(S.uniform(size=34), [0, 1, -0.1, 1.1, NAN, 0.5])
POS = _f32(S.uniform(0.1, 5, 36), [1, 0, -1, NAN])
UNIT = _f32(S.uniform(size=34), [0, 1, -0.5, 1.5, NAN, 0.5])

STATS = {
    ("norm", "logpdf"): (X, LOC, SCALE), ("norm", "pdf"): (X, LOC, SCALE),
    ("norm", "cdf"): (X, LOC, SCALE), ("norm", "logcdf"): (X, LOC, SCALE),
    ("norm", "sf"): (X, LOC, SCALE), ("norm", "logsf"): (X, LOC, SCALE),
    ("norm", "ppf"): (Q, LOC, SCALE), ("norm", "isf"): (Q, LOC, SCALE),
    ("logistic", "logpdf"): (X, LOC, SCALE), ("logistic", "pdf"): (X, LOC, SCALE),
    ("logistic", "cdf"): (X, LOC, SCALE), ("logistic", "sf"): (X, LOC, SCALE),
    ("logistic", "ppf"): (Q, LOC, SCALE), ("logistic", "isf"): (Q, LOC, SCALE),
    ("uniform", "logpdf"): (X, LOC, SCALE), ("uniform", "pdf"): (X, LOC, SCALE),
    ("uniform", "cdf"): (X, LOC, SCALE), ("uniform", "ppf"): (Q, LOC, SCALE),
    ("bernoulli", "logpmf"): (K01, P, LOC * 0), ("bernoulli", "pmf"): (K01, P),
    ("bernoulli", "cdf"): (K01, P), ("bernoulli", "ppf"): (UNIT[:40], P[:40]),
    ("beta", "logpdf"): (UNIT[:40], POS, POS[::-1], LOC * 0.1, SCALE),
    ("beta", "pdf"): (UNIT[:40], POS, POS[::-1]),
    ("gamma", "logpdf"): (X, POS, LOC, SCALE), ("gamma", "pdf"): (X, POS),
    ("gamma", "cdf"): (X, POS, LOC, SCALE), ("gamma", "logcdf"): (X, POS, LOC, SCALE),
    ("gamma", "sf"): (X, POS, LOC, SCALE), ("gamma", "logsf"): (X, POS, LOC, SCALE),
    ("chi2", "logpdf"): (X, POS, LOC, SCALE), ("chi2", "pdf"): (X, POS),
    ("chi2", "cdf"): (X, POS, LOC, SCALE), ("chi2", "logcdf"): (X, POS, LOC, SCALE),
    ("chi2", "sf"): (X, POS, LOC, SCALE), ("chi2", "logsf"): (X, POS, LOC, SCALE),
    ("poisson", "logpmf"): (K, POS, LOC * 0), ("poisson", "pmf"): (K, POS),
    ("poisson", "cdf"): (K, POS, LOC * 0),
    ("t", "logpdf"): (X, POS, LOC, SCALE), ("t", "pdf"): (X, POS),
    ("laplace", "logpdf"): (X, LOC, SCALE), ("laplace", "pdf"): (X, LOC, SCALE),
    ("laplace", "cdf"): (X, LOC, SCALE),
    ("cauchy", "logpdf"): (X, LOC, SCALE), ("cauchy", "pdf"): (X, LOC, SCALE),
    ("cauchy", "cdf"): (X, LOC, SCALE), ("cauchy", "logcdf"): (X, LOC, SCALE),
    ("cauchy", "sf"): (X, LOC, SCALE), ("cauchy", "logsf"): (X, LOC, SCALE),
    ("cauchy", "ppf"): (Q, LOC, SCALE), ("cauchy", "isf"): (Q, LOC, SCALE),
    ("expon", "logpdf"): (X, LOC, SCALE), ("expon", "pdf"): (X, LOC, SCALE),
    ("expon", "cdf"): (X, LOC, SCALE), ("expon", "logcdf"): (X, LOC, SCALE),
    ("expon", "sf"): (X, LOC, SCALE), ("expon", "logsf"): (X, LOC, SCALE),
    ("expon", "ppf"): (Q, LOC, SCALE),
}
# (rtol, atol) where the default (1e-6, 1e-30) is too tight: ndtri(q) * scale + loc
# cancels near 0, where one ulp of ndtri is ~1e-7 absolute.
STATS_TOL = {("norm", "ppf"): (1e-6, 1e-6), ("norm", "isf"): (1e-6, 1e-6)}
STATS_GRAD = {
    ("norm", "logpdf"): 3, ("norm", "cdf"): 3, ("norm", "logcdf"): 3, ("norm", "logsf"): 3,
    ("norm", "ppf"): 3, ("logistic", "logpdf"): 3, ("logistic", "cdf"): 3,
    ("logistic", "ppf"): 3, ("bernoulli", "logpmf"): 2, ("beta", "logpdf"): 3,
    ("gamma", "logpdf"): 4, ("poisson", "logpmf"): 2, ("t", "logpdf"): 4,
    ("gamma", "cdf"): 4, ("gamma", "logsf"): 4, ("chi2", "logpdf"): 4, ("chi2", "cdf"): 4,
    ("chi2", "sf"): 4, ("poisson", "cdf"): 2,
    ("laplace", "logpdf"): 3, ("laplace", "cdf"): 3, ("cauchy", "logpdf"): 3,
    ("cauchy", "cdf"): 3, ("cauchy", "ppf"): 3, ("expon", "logpdf"): 3, ("expon", "cdf"): 3,
}


def _fn(lib, key):
    return getattr(getattr(lib, key[0]), key[1])


def _safe(args, key):
    """Interior points only (no edge values) for gradients."""
    r = _rng(hash(key) % 1000)
    x = _f32(r.uniform(0.05, 0.95, 12)) if key[1] in ("ppf", "isf") or \
        key[0] in ("beta",) else _f32(r.uniform(0.2, 4, 12))
    if key[0] == "bernoulli":
        return (_f32(r.integers(0, 2, 12)), _f32(r.uniform(0.1, 0.9, 12)))
    if key[0] == "poisson":
        return (_f32(r.integers(0, 6, 12)), _f32(r.uniform(0.5, 5, 12)))
    pos = _f32(r.uniform(1.1, 4, 12))
    rest = {"beta": (pos, pos[::-1]), "gamma": (pos,), "chi2": (pos,), "t": (pos,)}.get(
        key[0], ())
    return (x, *rest, _f32(r.normal(size=12) * 0.1), _f32(r.uniform(0.5, 2, 12)))[
        :len(args)]


@pytest.mark.parametrize("key", sorted(STATS), ids=lambda k: ".".join(k))
def test_stats_values(key):
    rtol, atol = STATS_TOL.get(key, (1e-6, 1e-30))
    _check(_fn(lst, key), _fn(jst, key), list(STATS[key]), rtol=rtol, atol=atol)
    # defaults for loc/scale, Python-scalar parameters and broadcasting
    first = STATS[key][0].reshape(-1, 4)[:4]
    nparams = {"beta": 3, "gamma": 2, "chi2": 2, "t": 2, "bernoulli": 2,
               "poisson": 2}.get(key[0], 1)
    scalars = {"beta": (2.0, 3.0), "gamma": (2.5,), "chi2": (3.0,), "t": (3.0,),
               "bernoulli": (0.3,), "poisson": (2.0,)}.get(key[0], ())
    assert_matches(_fn(lst, key)(first, *scalars), _fn(jst, key)(first, *scalars),
                   rtol=rtol, atol=atol)
    if nparams == 1:
        loc = np.linspace(-1, 1, 4).astype(F32)
        assert_matches(_fn(lst, key)(first, loc, 2.0), _fn(jst, key)(first, loc, 2.0),
                       rtol=rtol, atol=atol)


@pytest.mark.parametrize("key", sorted(STATS), ids=lambda k: ".".join(k))
def test_stats_python_scalars(key):
    args = {"bernoulli": (1.0, 0.3), "poisson": (2, 3.0), "beta": (0.5, 2.0, 3),
            "gamma": (0.5, 2), "chi2": (0.5, 3), "t": (0.5, 3)}.get(key[0], (0.3,))
    if key == ("bernoulli", "ppf"):
        args = (0.5, 0.3)
    assert_matches(_fn(lst, key)(*args), _fn(jst, key)(*args), rtol=1e-6)


@pytest.mark.parametrize("key", sorted(STATS), ids=lambda k: ".".join(k))
def test_stats_vmap(key):
    args = [a[:40].reshape(8, 5) for a in STATS[key]]
    _check_vmap(_fn(lst, key), args)
    _check_vmap(_fn(lst, key), [args[0], *[a[0] for a in args[1:]]],
                in_axes=(0, *[None] * (len(args) - 1)))


@pytest.mark.parametrize("key", sorted(STATS_GRAD), ids=lambda k: ".".join(k))
def test_stats_grad(key):
    args = _safe(STATS[key], key)
    _check_grad(_fn(lst, key), _fn(jst, key), args, tuple(range(STATS_GRAD[key])))


def test_norm_logcdf_tails():
    x = _f32([-1e4, -500, -40, -10.5, -10, -9.5, 0, 4.9, 5.1, 10, 40])
    _check(lst.norm.logcdf, jst.norm.logcdf, [x], rtol=1e-6)
    _check(lst.norm.logsf, jst.norm.logsf, [-x], rtol=1e-6)
    _check_grad(lst.norm.logcdf, jst.norm.logcdf, (x, F32(0.5), F32(2.0)), (0, 1, 2),
                rtol=1e-6)
    _check_grad(lst.norm.logsf, jst.norm.logsf, (-x,), rtol=1e-6)


def test_stats_float64(x64):
    r = _rng(6)
    x = np.concatenate([r.normal(size=10) * 4, [-40.0, 40.0]])
    for key in [("norm", "logcdf"), ("norm", "cdf"), ("norm", "logpdf"), ("t", "logpdf"),
                ("cauchy", "cdf"), ("logistic", "logpdf"), ("expon", "cdf")]:
        args = (x, 3.0) if key[0] == "t" else (x,)
        _check(_fn(lst, key), _fn(jst, key), list(args), rtol=1e-13, atol=1e-300)
    q = r.uniform(size=10)
    _check(lst.norm.ppf, jst.norm.ppf, [q], rtol=1e-13)
    _check(lst.beta.logpdf, jst.beta.logpdf, [q, 2.0, 300.0], rtol=1e-12)


# --------------------------------------------------------------------------------------
# stats.multivariate_normal
# --------------------------------------------------------------------------------------


def _spd(r, n, batch=()):
    m = r.normal(size=(*batch, n, n))
    return (m @ np.swapaxes(m, -1, -2) + n * np.eye(n)).astype(F32)


@pytest.mark.parametrize("fn", ["logpdf", "pdf"])
def test_multivariate_normal(fn):
    r = _rng(7)
    ours = getattr(lst.multivariate_normal, fn)
    theirs = getattr(jst.multivariate_normal, fn)
    x = r.normal(size=(6, 3)).astype(F32)
    mean = r.normal(size=3).astype(F32)
    cov = _spd(r, 3)
    tol = dict(rtol=1e-6, atol=1e-7)
    _check(ours, theirs, [x, mean, cov], **tol)
    _check(ours, theirs, [x[0], mean, cov], **tol)
    _check(ours, theirs, [x, mean, F32(2.0)], **tol)             # scalar variance
    _check(ours, theirs, [x[:, 0], F32(0.5), F32(2.0)], **tol)   # univariate
    covs = _spd(r, 3, (6,))
    _check(ours, theirs, [x, mean, covs], **tol)                 # batched covariances
    _check(ours, theirs, [x[0], mean, covs], **tol)              # batch from cov only
    _check_vmap(ours, [x, mean[None].repeat(6, 0), covs])
    _check_vmap(ours, [x, mean, cov], in_axes=(0, None, None))
    _check_grad(ours, theirs, (x, mean, cov), (0, 1, 2))
    _check_grad(ours, theirs, (x, mean, covs), (0, 1, 2))


def test_multivariate_normal_edges(x64):
    r = _rng(8)
    x, mean, cov = r.normal(size=(4, 3)), r.normal(size=3), _spd(r, 3).astype(np.float64)
    _check(lst.multivariate_normal.logpdf, jst.multivariate_normal.logpdf, [x, mean, cov],
           rtol=1e-12)
    _check_grad(lst.multivariate_normal.logpdf, jst.multivariate_normal.logpdf,
                (x, mean, cov), (0, 1, 2), rtol=1e-10, atol=1e-12)
    # not positive definite: NaN, as jax
    assert_matches(lst.multivariate_normal.logpdf(x, mean, -np.eye(3)),
                   jst.multivariate_normal.logpdf(x, mean, -np.eye(3)))
    with pytest.raises(ValueError, match="cov"):
        lst.multivariate_normal.logpdf(x, mean, np.eye(2))
    with pytest.raises(NotImplementedError):
        lst.multivariate_normal.logpdf(x, mean, cov, allow_singular=True)


# --------------------------------------------------------------------------------------
# linalg
# --------------------------------------------------------------------------------------

LA_TOL = dict(rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("lower", [False, True])
def test_cholesky_cho_factor_cho_solve(lower):
    r = _rng(9)
    a = _spd(r, 4)
    _check(functools.partial(lla.cholesky, lower=lower),
           functools.partial(jla.cholesky, lower=lower), [a], **LA_TOL)
    c, low = lla.cho_factor(a, lower=lower)
    cj, lowj = jla.cho_factor(a, lower=lower)
    assert low is lower and lowj is lower
    assert_matches(c, cj, **LA_TOL)
    for b in (r.normal(size=4).astype(F32), r.normal(size=(4, 3)).astype(F32),
              r.normal(size=(2, 4, 3)).astype(F32)):
        _check(lambda c, b: lla.cho_solve((c, lower), b),
               lambda c, b: jla.cho_solve((c, lower), b), [np.asarray(cj), b], **LA_TOL)
        _check_grad(lambda c, b: lla.cho_solve((c, lower), b),
                    lambda c, b: jla.cho_solve((c, lower), b), (np.asarray(cj), b), (0, 1),
                    **LA_TOL)
    cs = np.stack([np.asarray(jla.cholesky(_spd(r, 4), lower=lower)) for _ in range(3)])
    b = r.normal(size=(3, 4, 2)).astype(F32)
    _check(lambda c, b: lla.cho_solve((c, lower), b),
           lambda c, b: jla.cho_solve((c, lower), b), [cs, b], **LA_TOL)
    _check_vmap(lambda c, b: lla.cho_solve((c, lower), b), [cs, b])


@pytest.mark.parametrize("trans", [0, 1, 2, "N", "T", "C"])
@pytest.mark.parametrize("lower", [False, True])
@pytest.mark.parametrize("unit_diagonal", [False, True])
def test_solve_triangular(trans, lower, unit_diagonal):
    r = _rng(10)
    a = (np.tril if lower else np.triu)(r.normal(size=(4, 4))) + 4 * np.eye(4)
    a = a.astype(F32)
    kw = dict(trans=trans, lower=lower, unit_diagonal=unit_diagonal)
    for b in (r.normal(size=4), r.normal(size=(4, 2)), r.normal(size=(3, 4, 2))):
        b = b.astype(F32)
        _check(lambda a, b: lla.solve_triangular(a, b, **kw),
               lambda a, b: jla.solve_triangular(a, b, **kw), [a, b], **LA_TOL)
        _check_grad(lambda a, b: lla.solve_triangular(a, b, **kw),
                    lambda a, b: jla.solve_triangular(a, b, **kw), (a, b), (0, 1), **LA_TOL)


def test_solve_triangular_batched_vectors_warn_and_errors():
    r = _rng(11)
    a = np.stack([np.tril(r.normal(size=(3, 3))) + 3 * np.eye(3)] * 2).astype(F32)
    b = r.normal(size=(2, 3)).astype(F32)
    with pytest.warns(FutureWarning, match="batched 1D"):
        got = lla.solve_triangular(a, b, lower=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        want = jla.solve_triangular(a, b, lower=True)
    assert_matches(got, want, **LA_TOL)
    with pytest.raises(ValueError, match="trans"):
        lla.solve_triangular(a[0], b[0], trans=3)
    with pytest.raises(ValueError, match="shape"):
        lla.solve_triangular(a[0], np.ones(4, F32))


@pytest.mark.parametrize("shape", [(4, 4), (5, 3), (3, 5)])
def test_lu(shape):
    r = _rng(12)
    a = r.normal(size=shape).astype(F32)
    _check(lla.lu, jla.lu, [a], **LA_TOL)
    _check(lambda a: lla.lu(a, permute_l=True), lambda a: jla.lu(a, permute_l=True), [a],
           **LA_TOL)
    p, lower, upper = lla.lu(a)
    np.testing.assert_allclose(np.asarray(p @ lower @ upper), a, rtol=1e-5, atol=1e-5)
    _check_grad(lambda a: lla.lu(a)[2], lambda a: jla.lu(a)[2], (a,), **LA_TOL)


@pytest.mark.parametrize("trans", [0, 1, 2])
def test_lu_factor_lu_solve(trans):
    r = _rng(13)
    a = (r.normal(size=(4, 4)) + 2 * np.eye(4)).astype(F32)
    _check(lla.lu_factor, jla.lu_factor, [a], **LA_TOL)
    lu_piv = jla.lu_factor(a)
    for b in (r.normal(size=4), r.normal(size=(4, 3)), r.normal(size=(2, 4, 3))):
        b = b.astype(F32)
        _check(lambda lu, piv, b: lla.lu_solve((lu, piv), b, trans=trans),
               lambda lu, piv, b: jla.lu_solve((lu, piv), b, trans=trans),
               [np.asarray(lu_piv[0]), np.asarray(lu_piv[1]), b], **LA_TOL)
    _check_grad(lambda lu, b: lla.lu_solve((lu, lu_piv[1]), b, trans=trans),
                lambda lu, b: jla.lu_solve((lu, lu_piv[1]), b, trans=trans),
                (np.asarray(lu_piv[0]), b), (0, 1), **LA_TOL)
    with pytest.raises(ValueError, match="trans"):
        lla.lu_solve(lu_piv, b, trans=3)


@pytest.mark.parametrize("mode", ["full", "economic", "r"])
@pytest.mark.parametrize("pivoting", [False, True])
def test_qr(mode, pivoting):
    r = _rng(14)
    for shape in ((5, 3), (3, 5), (2, 4, 4)):
        a = r.normal(size=shape).astype(F32)
        _check(lambda a: lla.qr(a, mode=mode, pivoting=pivoting),
               lambda a: jla.qr(a, mode=mode, pivoting=pivoting), [a], **LA_TOL)
    with pytest.raises(ValueError, match="mode"):
        lla.qr(a, mode="raw")


def test_svd_eigh_inv_det():
    r = _rng(15)
    a = r.normal(size=(4, 3)).astype(F32)
    for full in (True, False):
        _check(lambda a: lla.svd(a, full_matrices=full), lambda a: jla.svd(a, full), [a],
               **LA_TOL)
    _check(lambda a: lla.svd(a, compute_uv=False), lambda a: jla.svd(a, compute_uv=False),
           [a], **LA_TOL)
    h = _spd(r, 4, (2,))
    for lower in (True, False):
        _check(lambda h: lla.eigh(h, lower=lower), lambda h: jla.eigh(h, lower=lower), [h],
               **LA_TOL)
    _check(lambda h: lla.eigh(h, eigvals_only=True),
           lambda h: jla.eigh(h, eigvals_only=True), [h], **LA_TOL)
    _check_grad(lambda h: lla.eigh(h, eigvals_only=True),
                lambda h: jla.eigh(h, eigvals_only=True), (h,), **LA_TOL)
    with pytest.raises(NotImplementedError):
        lla.eigh(h, h)
    sq = (r.normal(size=(3, 3, 3)) + 2 * np.eye(3)).astype(F32)
    _check(lla.inv, jla.inv, [sq], **LA_TOL)
    _check(lla.det, jla.det, [sq], **LA_TOL)
    _check_grad(lla.det, jla.det, (sq,), **LA_TOL)


def test_solve():
    r = _rng(16)
    a = _spd(r, 4)
    for b in (r.normal(size=4).astype(F32), r.normal(size=(4, 2)).astype(F32)):
        for assume_a in ("gen", "sym", "pos"):
            for lower in (False, True):
                kw = dict(assume_a=assume_a, lower=lower)
                _check(lambda a, b: lla.solve(a, b, **kw),
                       lambda a, b: jla.solve(a, b, **kw), [a, b], **LA_TOL)
                _check_grad(lambda a, b: lla.solve(a, b, **kw),
                            lambda a, b: jla.solve(a, b, **kw), (a, b), (0, 1))
    with pytest.raises(ValueError, match="assume_a"):
        lla.solve(a, b, assume_a="banded")


@pytest.mark.parametrize("scale", [1e-3, 0.1, 0.5, 1.5, 3.0, 40.0])
def test_expm(scale):
    r = _rng(17)
    a = (r.normal(size=(4, 4)) * scale / 2).astype(F32)
    # NOTE: the Pade sums and squarings cancel: small entries carry the largest's rounding.
    tol = dict(rtol=5e-6, atol=1e-7 * max(1.0, np.exp(2 * scale)))
    _check(lla.expm, jla.expm, [a], **tol)
    _check(lambda a: lla.expm(a, upper_triangular=True),
           lambda a: jla.expm(a, upper_triangular=True), [np.triu(a)], **tol)
    if scale <= 1.5:
        _check_grad(lla.expm, jla.expm, (a,), **tol)


def test_expm_batched_and_too_many_squarings(x64):
    r = _rng(18)
    a = r.normal(size=(2, 3, 3, 3))
    _check(lla.expm, jla.expm, [a], rtol=1e-12)
    _check_vmap(lla.expm, [a[0]])
    big = np.eye(2) * 1e7
    assert_matches(lla.expm(big, max_squarings=4), jla.expm(big, max_squarings=4))
    with pytest.raises(ValueError, match="square"):
        lla.expm(np.ones((2, 3)))


# --------------------------------------------------------------------------------------
# Imports and public names
# --------------------------------------------------------------------------------------


def test_import_forms_and_no_jax():
    code = (
        "import sys\n"
        "import lamina.scipy\n"
        "assert 'lamina.scipy.special' not in sys.modules  # loads on first use, as jax\n"
        "import lamina.scipy.special\n"
        "from lamina.scipy import stats\n"
        "from lamina.scipy.stats import norm\n"
        "import lamina.scipy.linalg as la\n"
        "assert stats.norm is norm and lamina.scipy.linalg is la\n"
        "print(float(lamina.scipy.special.expit(0.)), float(norm.cdf(0.)))\n"
        "assert 'jax' not in sys.modules, 'lamina.scipy imported jax'\n")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, cwd="/", timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["0.5", "0.5"]


def test_public_names_exist_in_jax_scipy():
    import jax.scipy.stats as js
    for ours, theirs in [(lsp, jsp), (lla, jla)]:
        assert ours.__all__ and not [n for n in ours.__all__ if not hasattr(theirs, n)]
    dists = [n for n in dir(lst) if not n.startswith("_")]
    assert len(dists) == 27
    for d in dists:
        mod = getattr(lst, d)
        if isinstance(mod, type):  # gaussian_kde: a class, not a distribution module
            assert hasattr(js, d)
            continue
        assert mod.__all__
        assert not [n for n in mod.__all__ if not hasattr(getattr(js, d), n)]
    with pytest.raises(AttributeError):
        lamina.scipy.not_a_module  # noqa: B018
