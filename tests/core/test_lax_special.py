"""lamina.lax's incomplete gamma family (`igamma`, `igammac`, `igamma_grad_a`,
`random_gamma_grad`) against jax.lax (the oracle: the same algorithm, compiled by the
same XLA, so the values must match bit for bit) and scipy.special (the reference
values), plus dtype rules, derivatives, vmap and jit."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import ml_dtypes
import numpy as np
import pytest
import scipy.special as sc

import lamina
from lamina import lax
from lamina.testing import assert_array_close, check_grads, check_jvp, check_vmap

NAMES = ("igamma", "igammac", "igamma_grad_a", "random_gamma_grad")
f16, f32, f64, bf16 = np.float16, np.float32, np.float64, ml_dtypes.bfloat16


def _grid():
    """a in [0.1, 50] by x in [0, 100], log- and uniformly spaced, plus edge points."""
    rng = np.random.default_rng(0)
    a = np.concatenate([np.geomspace(0.1, 50, 25), rng.uniform(0.1, 50, 15)])
    x = np.concatenate([[0.0, 1e-30], np.geomspace(1e-3, 100, 30), rng.uniform(0, 100, 15)])
    a, x = np.meshgrid(a, x)
    edge_a = [np.nan, 1., -1., 1., 0., 0., 1., 2., 1e10, 3., 0.5, 1e-3, 500., 2.5, np.inf]
    edge_x = [1., np.nan, 1., -1., 0., 1., 0., np.inf, 3., 1e4, 1e-30, 1e-3, 499., 1e30, 2.]
    return np.append(a.ravel(), edge_a), np.append(x.ravel(), edge_x)


A, X = _grid()


def _jax_fn(name):
    # NOTE: jit, because jax's random_gamma_grad is a composite of ops (no primitive):
    # run eagerly, op by op, it rounds differently from the fused program in the last bit.
    return jax.jit(getattr(jax.lax, name))


def _x64(dtype):
    """Context managers that enable x64 in both lamina and jax for float64."""
    if dtype == f64:
        return lamina.config.override(enable_x64=True), jax.enable_x64(True)
    return lamina.config.override(), jax.enable_x64(jax.config.jax_enable_x64)


# --------------------------------------------------------------------------------------
# Values
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [f32, f64], ids=["f32", "f64"])
@pytest.mark.parametrize("name", NAMES)
def test_values_match_jax_bitwise(name, dtype):
    ours_cm, jax_cm = _x64(dtype)
    with ours_cm, jax_cm:
        a, x = A.astype(dtype), X.astype(dtype)
        got = np.asarray(getattr(lax, name)(a, x))
        want = np.asarray(_jax_fn(name)(a, x))
    assert got.dtype == want.dtype == dtype
    np.testing.assert_array_equal(got, want)  # NaN where jax has NaN, else identical


@pytest.mark.parametrize("dtype, rtol", [(f32, 5e-5), (f64, 1e-12)], ids=["f32", "f64"])
@pytest.mark.parametrize("name, ref", [("igamma", sc.gammainc), ("igammac", sc.gammaincc)])
def test_values_match_scipy(name, ref, dtype, rtol):
    # NOTE: a in [0.1, 50]; for tiny a, Q = 1 - series loses float32 digits (jax's too:
    # igammac(1e-3, 1e-3) is 1.2e-4 off in relative terms).
    ok = (A >= 0.1) & (A <= 50) & (X >= 0) & (X <= 100)
    a, x = A[ok], X[ok]
    ours_cm, _ = _x64(dtype)
    with ours_cm:
        got = np.asarray(getattr(lax, name)(a.astype(dtype), x.astype(dtype)), np.float64)
    want = ref(a.astype(dtype).astype(f64), x.astype(dtype).astype(f64))
    tiny = np.finfo(dtype).tiny * 1e3  # results near the underflow threshold
    np.testing.assert_allclose(got, want, rtol=rtol, atol=tiny)


def test_complement_is_accurate_in_the_tail():
    # Q is computed directly: where P rounds to 1, Q keeps its relative accuracy.
    a, x = np.array([1., 2., 10.], f32), np.array([30., 40., 80.], f32)
    np.testing.assert_array_equal(np.asarray(lax.igamma(a, x)), np.ones(3, f32))
    np.testing.assert_allclose(np.asarray(lax.igammac(a, x)), sc.gammaincc(a, x), rtol=1e-5)


def test_edge_cases():
    nan = np.nan
    a = np.array([nan, 1., -1., 1., 0., 0., 1., 1., 2.], f32)
    x = np.array([1., nan, 1., -1., 0., 1., 0., np.inf, np.inf], f32)
    np.testing.assert_array_equal(np.asarray(lax.igamma(a, x)),
                                  [nan, nan, nan, nan, nan, 1., 0., 1., 1.])
    np.testing.assert_array_equal(np.asarray(lax.igammac(a, x)),
                                  [nan, nan, nan, nan, nan, 0., 1., 0., 0.])
    # the derivatives are NaN for a <= 0 and 0 at x = 0
    np.testing.assert_array_equal(np.asarray(lax.igamma_grad_a(a, x))[:7],
                                  [nan, nan, nan, nan, nan, nan, 0.])
    np.testing.assert_array_equal(np.asarray(lax.random_gamma_grad(a, x))[:7],
                                  [nan, nan, nan, nan, nan, nan, 0.])
    # a = 1: P = 1 - exp(-x), d(sample)/da at the quantile u = P: closed forms exist
    xs = np.array([0.1, 0.5, 2., 7.], f64)
    with lamina.config.override(enable_x64=True):
        np.testing.assert_allclose(np.asarray(lax.igamma(np.ones(4), xs)), -np.expm1(-xs),
                                   rtol=1e-14)


@pytest.mark.parametrize("dtype", [f16, bf16], ids=["f16", "bf16"])
@pytest.mark.parametrize("name", NAMES)
def test_narrow_floats_compute_in_float32(name, dtype):
    a = np.array([0.3, 1., 2.5, 7., 20.], dtype)
    x = np.array([0.2, 1.5, 2., 9., 14.], dtype)
    got = getattr(lax, name)(a, x)
    want = _jax_fn(name)(a, x)
    assert got.dtype == dtype
    np.testing.assert_array_equal(np.asarray(got), np.asarray(want))


# --------------------------------------------------------------------------------------
# Dtype and shape rules
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["igamma", "igammac", "igamma_grad_a"])
def test_operand_rules_like_jax(name):
    ours, theirs = getattr(lax, name), getattr(jax.lax, name)
    v = np.array([1., 2., 3.], f32)
    for args in [(2.0, 3.0), (v, 2.0), (2.0, v), (v, np.float32(2.0)), (v, v)]:
        got, want = ours(*args), theirs(*args)
        assert got.weak_type == want.weak_type and got.dtype == want.dtype
        assert got.shape == want.shape
        np.testing.assert_array_equal(np.asarray(got), np.asarray(want))
    for bad in [(1, 2), (v, v.astype(f16)), (v.astype(np.int32), v.astype(np.int32)),
                (v, np.ones(2, f32))]:
        with pytest.raises(TypeError):
            theirs(*bad)
        with pytest.raises(TypeError, match=f"lax.{name}"):
            ours(*bad)


def test_random_gamma_grad_broadcasts_size_one_dims_like_jax():
    a = np.array([[0.5], [2.], [9.]], f32)
    x = np.array([[0.1, 1., 3., 10.]], f32)
    got = lax.random_gamma_grad(a, x)
    assert got.shape == (3, 4)
    np.testing.assert_array_equal(np.asarray(got), np.asarray(_jax_fn("random_gamma_grad")(a, x)))
    with pytest.raises(TypeError):
        lax.random_gamma_grad(a, x.astype(f16))


def test_zero_size_and_abstract_eval():
    for name in NAMES:
        out = getattr(lax, name)(np.zeros((0, 3), f32), np.zeros((0, 3), f32))
        assert out.shape == (0, 3) and out.dtype == f32
        shape = lamina.eval_shape(getattr(lax, name), jax.ShapeDtypeStruct((2, 5), f32), 1.0)
        assert shape.shape == (2, 5) and shape.dtype == f32


# --------------------------------------------------------------------------------------
# Derivatives
# --------------------------------------------------------------------------------------

GA = np.array([0.3, 1.0, 2.5, 7.0, 20.0, 45.0], f32)
GX = np.array([0.2, 1.5, 2.0, 9.0, 14.0, 60.0], f32)


@pytest.mark.parametrize("argnum", [0, 1])
@pytest.mark.parametrize("name", ["igamma", "igammac"])
def test_grad_matches_jax(name, argnum):
    got = lamina.grad(lambda a, x: getattr(lax, name)(a, x).sum(), argnum)(GA, GX)
    want = jax.grad(lambda a, x: getattr(jax.lax, name)(a, x).sum(), argnum)(GA, GX)
    np.testing.assert_array_equal(np.asarray(got), np.asarray(want))


@pytest.mark.parametrize("name", ["igamma", "igammac"])
def test_grads_against_finite_differences(name):
    with lamina.config.override(enable_x64=True):
        a, x = GA.astype(f64), GX.astype(f64)
        check_grads(getattr(lax, name), (a, x), order=1, modes=("fwd", "rev"))
        # 0-d operands broadcast; their gradient sums over the output
        check_grads(lambda s, x: getattr(lax, name)(s, x), (np.float64(2.5), x), order=1)


def test_igamma_grad_a_derivatives():
    # jax has no JVP for igamma_grad_a; lamina's: forward mode through its series for a,
    # the closed form dP/dx * (log x - digamma(a)) for x.
    with lamina.config.override(enable_x64=True):
        a, x = GA.astype(f64), GX.astype(f64)
        check_jvp(lax.igamma_grad_a, (a, x), rtol=1e-6, atol=1e-8)
        # second derivatives of scipy's P by central differences
        h = 1e-4
        d_da = lambda a, x: (sc.gammainc(a + h, x) - sc.gammainc(a - h, x)) / (2 * h)  # noqa: E731
        _, t = lamina.jvp(lax.igamma_grad_a, (a, x), (np.ones_like(a), np.zeros_like(x)))
        np.testing.assert_allclose(np.asarray(t), (d_da(a + h, x) - d_da(a - h, x)) / (2 * h),
                                   rtol=1e-5, atol=1e-7)
        g = lamina.grad(lambda x: lax.igamma_grad_a(a, x).sum())(x)  # reverse mode in x
        np.testing.assert_allclose(np.asarray(g), (d_da(a, x + h) - d_da(a, x - h)) / (2 * h),
                                   rtol=1e-5, atol=1e-7)


def test_random_gamma_grad_forward_mode_like_jax():
    ta, tx = np.linspace(0.5, 1.5, 6).astype(f32), np.linspace(-1, 1, 6).astype(f32)
    out, t = lamina.jvp(lax.random_gamma_grad, (GA, GX), (ta, tx))
    j_out, j_t = jax.jit(lambda p, t: jax.jvp(jax.lax.random_gamma_grad, p, t))((GA, GX), (ta, tx))
    np.testing.assert_array_equal(np.asarray(out), np.asarray(j_out))
    assert_array_close(t, np.asarray(j_t), rtol=1e-5, atol=1e-7)
    with lamina.config.override(enable_x64=True):
        check_jvp(lax.random_gamma_grad, (GA.astype(f64), GX.astype(f64)), rtol=1e-6,
                  atol=1e-8)
    # reverse mode goes through its while loops, which jax refuses as well
    with pytest.raises(ValueError, match="Reverse-mode differentiation"):
        lamina.grad(lambda a: lax.random_gamma_grad(a, GX).sum())(GA)


def test_random_gamma_grad_is_the_implicit_derivative():
    # d(sample)/da = -(dP/da) / (dP/dx), holding the quantile P(a, sample) fixed
    with lamina.config.override(enable_x64=True):
        a, x = GA.astype(f64), GX.astype(f64)
        dp_da = np.asarray(lax.igamma_grad_a(a, x))
        dp_dx = np.asarray(lamina.grad(lambda x: lax.igamma(a, x).sum())(x))
        np.testing.assert_allclose(np.asarray(lax.random_gamma_grad(a, x)), -dp_da / dp_dx,
                                   rtol=1e-9)


# --------------------------------------------------------------------------------------
# vmap and jit
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_vmap_matches_a_loop(name):
    fn = getattr(lax, name)
    a2, x2 = GA.reshape(2, 3), GX.reshape(2, 3)
    check_vmap(fn, (a2, x2), 0, rtol=0, atol=0)
    check_vmap(fn, (a2.T, x2), (1, 0), rtol=0, atol=0)
    # NOTE: the loop's calls are 0-d programs, which XLA's CPU backend compiles to scalar
    # code that rounds a few ulp differently from vector code (jax.lax's do the same).
    check_vmap(fn, (GA, np.float32(2.0)), (0, None), rtol=1e-5, atol=0)
    check_vmap(fn, (np.float32(2.0), GX), (None, 0), rtol=1e-5, atol=0)


@pytest.mark.parametrize("name", NAMES)
def test_jit_matches_eager(name):
    fn = getattr(lax, name)
    np.testing.assert_array_equal(np.asarray(lamina.jit(fn)(GA, GX)), np.asarray(fn(GA, GX)))
    g = lamina.jit(lamina.vmap(lambda a: fn(a, GX)))(np.stack([GA, GA + 1]))
    np.testing.assert_array_equal(np.asarray(g[1]), np.asarray(fn(GA + 1, GX)))


def test_grad_under_jit_and_vmap():
    f = lambda a, x: lax.igammac(a, x).sum()  # noqa: E731
    got = lamina.jit(lamina.vmap(lamina.grad(f), (0, None)))(np.stack([GA, GA * 2]), GX)
    want = jax.jit(jax.vmap(jax.grad(lambda a, x: jax.lax.igammac(a, x).sum()), (0, None)))(
        jnp.stack([GA, GA * 2]), GX)
    np.testing.assert_array_equal(np.asarray(got), np.asarray(want))


# --------------------------------------------------------------------------------------
# betainc and zeta: operand rules (values: tests/test_scipy_betainc_zeta.py)
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["betainc", "zeta"])
def test_betainc_zeta_operand_rules_like_jax(name):
    ours, theirs = getattr(lax, name), getattr(jax.lax, name)
    v = np.array([0.25, 0.5, 0.75], f32)
    good = [(2., .5), (v, 2.), (2., v), (v, np.float32(2.)), (v, v)]
    bad = [(1, 2), (v, v.astype(f16)), (v.astype(np.int32), v.astype(np.int32)),
           (v, np.ones(2, f32)), (v, v.astype(np.complex64))]
    if name == "betainc":  # a third operand, x
        good = [(*args, x) for args, x in zip(good, [.5, v, .5, v, v])]
        bad = [(*args, x) for args, x in zip(bad, [.5, v, v.astype(np.int32), v, v])]
        good.append((2., 3., v))
    for args in good:
        got, want = ours(*args), theirs(*args)
        assert got.shape == want.shape and got.dtype == want.dtype
        assert got.weak_type == want.weak_type
        np.testing.assert_array_equal(np.asarray(got), np.asarray(want))
    for args in bad:
        with pytest.raises(TypeError):
            theirs(*args)
        with pytest.raises(TypeError, match=f"lax.{name}"):
            ours(*args)


def test_betainc_zeta_zero_size_and_abstract_eval():
    z = np.zeros((0, 3), f32)
    assert lax.betainc(z, z, z).shape == (0, 3) and lax.zeta(z, z).shape == (0, 3)
    spec = jax.ShapeDtypeStruct((2, 5), f64)
    with lamina.config.override(enable_x64=True):
        out = lamina.eval_shape(lax.betainc, 1.0, spec, spec)
        assert (out.shape, out.dtype) == ((2, 5), f64)
        out = lamina.eval_shape(lax.zeta, spec, 1.0)
        assert (out.shape, out.dtype) == ((2, 5), f64)
    program = str(lamina.make_jaxpr(lax.betainc)(np.ones(3, f32), 2., np.ones(3, f32)))
    assert "regularized_incomplete_beta" in program
