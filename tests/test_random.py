"""lamina.random against jax.random (the oracle): the same bits for the same key, shape
and dtype, compared with `==` on the raw bytes; also under jit and vmap; plus the error
messages for bad input."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import ml_dtypes
import numpy as np
import pytest

import lamina
import lamina.numpy as lnp

R, J = lamina.random, jax.random
SEEDS = (0, 42, 2 ** 31 + 5)
FLOATS = (np.float32, np.float16, ml_dtypes.bfloat16)


def assert_bits_equal(actual, expected):
    a, e = np.asarray(actual), np.asarray(expected)
    assert a.shape == e.shape, (a.shape, e.shape)
    assert a.dtype == e.dtype, (a.dtype, e.dtype)
    assert a.tobytes() == e.tobytes(), f"\nlamina: {a.ravel()[:8]}\njax:    {e.ravel()[:8]}"


def keys(seed):
    return R.PRNGKey(seed), J.PRNGKey(seed)


# --------------------------------------------------------------------------------------
# Keys
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, -7, 2 ** 31 + 3, 2 ** 40 + 5, np.int32(9), np.uint32(7)])
def test_prngkey_and_key(seed):
    assert_bits_equal(R.PRNGKey(seed), J.PRNGKey(seed))
    assert_bits_equal(R.key_data(R.key(seed)), J.key_data(J.key(seed)))


def test_typed_key_api():
    k = R.key(3)
    assert k.shape == () and str(k.dtype) == "key<fry>" and R.key_impl(k) == "threefry2x32"
    ks = R.split(k, (2, 3))
    assert isinstance(ks, R.KeyArray) and ks.shape == (2, 3) and len(ks) == 2
    assert_bits_equal(R.key_data(ks), J.key_data(J.split(J.key(3), (2, 3))))
    assert_bits_equal(R.key_data(ks[1, 2]), J.key_data(J.split(J.key(3), (2, 3))[1, 2]))
    w = R.wrap_key_data(R.PRNGKey(3))
    assert bool(w == k) and "key<fry>" in repr(k)
    assert_bits_equal(R.key_data(R.clone(k)), R.PRNGKey(3))
    # typed and raw keys give the same samples
    assert_bits_equal(R.normal(k, (4,)), R.normal(R.PRNGKey(3), (4,)))


@pytest.mark.parametrize("seed", SEEDS)
def test_split_fold_in_bits(seed):
    k, kj = keys(seed)
    assert_bits_equal(R.split(k), J.split(kj))
    assert_bits_equal(R.split(k, 5), J.split(kj, 5))
    assert_bits_equal(R.split(k, (0,)), J.split(kj, (0,)))
    for d in (0, 7, 2 ** 32 - 1, np.uint32(12)):
        assert_bits_equal(R.fold_in(k, d), J.fold_in(kj, d))
    for dt in ("uint8", "uint16", "uint32"):
        for shape in ((), (0,), (7,), (3, 5)):
            assert_bits_equal(R.bits(k, shape, dt), J.bits(kj, shape, dt))


def test_threefry_known_answer():
    from lamina.lax.random_bits import threefry2x32
    u = np.uint32
    out = threefry2x32(u(0x13198A2E), u(0x03707344), u(0x243F6A88), u(0x85A308D3))
    # Random123's published known-answer test for threefry2x32_20
    assert [int(o) for o in out] == [0xC4923A9C, 0x483DF7A0]


# --------------------------------------------------------------------------------------
# Samplers: bit-identical to jax
# --------------------------------------------------------------------------------------

FLOAT_SAMPLERS = ["uniform", "normal", "exponential", "laplace", "logistic", "cauchy", "gumbel"]


@pytest.mark.parametrize("name", FLOAT_SAMPLERS)
@pytest.mark.parametrize("dtype", FLOATS, ids=lambda d: np.dtype(d).name)
def test_float_samplers(name, dtype):
    for seed in SEEDS[:2]:
        k, kj = keys(seed)
        for shape in ((), (0, 3), (33,)):
            assert_bits_equal(getattr(R, name)(k, shape, dtype), getattr(J, name)(kj, shape, dtype))


def test_uniform_bounds_and_modes():
    k, kj = keys(7)
    mm = np.linspace(-2, 3, 7).astype(np.float32)
    assert_bits_equal(R.uniform(k, (4, 7), minval=mm, maxval=mm + 1.3),
                      J.uniform(kj, (4, 7), minval=mm, maxval=mm + 1.3))
    assert_bits_equal(R.uniform(k, (50,), np.float16, -3.3, 7.1),
                      J.uniform(kj, (50,), np.float16, -3.3, 7.1))
    assert_bits_equal(R.gumbel(k, (50,), mode="high"), J.gumbel(kj, (50,), mode="high"))
    assert_bits_equal(R.normal(k, (9,), np.complex64), J.normal(kj, (9,), np.complex64))


@pytest.mark.parametrize("dtype", FLOATS, ids=lambda d: np.dtype(d).name)
def test_truncated_normal(dtype):
    k, kj = keys(3)
    assert_bits_equal(R.truncated_normal(k, -1.5, 2., (40,), dtype),
                      J.truncated_normal(kj, -1.5, 2., (40,), dtype))
    lo = np.array([-1., 0., 0.5], np.float32)
    assert_bits_equal(R.truncated_normal(k, lo, 2.), J.truncated_normal(kj, lo, 2.))


@pytest.mark.parametrize("dtype", ["int32", "int8", "uint8", "int16", "uint32"])
def test_randint(dtype):
    for seed in SEEDS:
        k, kj = keys(seed)
        for lo, hi in ((0, 10), (-100, 1000), (5, 3)):
            assert_bits_equal(R.randint(k, (30,), lo, hi, dtype), J.randint(kj, (30,), lo, hi, dtype))
    k, kj = keys(0)
    assert_bits_equal(R.randint(k, (30,), 0, 256, "uint8"), J.randint(kj, (30,), 0, 256, "uint8"))
    assert_bits_equal(R.randint(k, (), 0, 3), J.randint(kj, (), 0, 3))
    lo = np.arange(4)
    assert_bits_equal(R.randint(k, (2, 4), lo, 10), J.randint(kj, (2, 4), lo, 10))


def test_bernoulli_rademacher():
    for seed in SEEDS:
        k, kj = keys(seed)
        assert_bits_equal(R.bernoulli(k, 0.3, (50,)), J.bernoulli(kj, 0.3, (50,)))
        assert_bits_equal(R.bernoulli(k, 0.3, (50,), mode="high"),
                          J.bernoulli(kj, 0.3, (50,), mode="high"))
        p = np.linspace(0, 1, 6).astype(np.float32)
        assert_bits_equal(R.bernoulli(k, p), J.bernoulli(kj, p))
        assert_bits_equal(R.bernoulli(k), J.bernoulli(kj))
        assert_bits_equal(R.rademacher(k, (20,)), J.rademacher(kj, (20,)))
        assert_bits_equal(R.rademacher(k, (5,), np.float32), J.rademacher(kj, (5,), np.float32))


def test_categorical():
    logits = np.random.default_rng(0).normal(size=(3, 6)).astype(np.float32)
    for seed in SEEDS[:2]:
        k, kj = keys(seed)
        assert_bits_equal(R.categorical(k, logits), J.categorical(kj, logits))
        assert_bits_equal(R.categorical(k, logits, axis=0), J.categorical(kj, logits, axis=0))
        assert_bits_equal(R.categorical(k, logits, shape=(5, 3)),
                          J.categorical(kj, logits, shape=(5, 3)))
        assert_bits_equal(R.categorical(k, logits, shape=(4, 3), replace=False),
                          J.categorical(kj, logits, shape=(4, 3), replace=False))


def test_permutation_and_shuffle():
    x = np.arange(24).reshape(4, 6)
    for seed in SEEDS:
        k, kj = keys(seed)
        assert_bits_equal(R.permutation(k, 10), J.permutation(kj, 10))
        assert_bits_equal(R.permutation(k, 0), J.permutation(kj, 0))
        assert_bits_equal(R.permutation(k, x), J.permutation(kj, x))
        assert_bits_equal(R.permutation(k, x, 1), J.permutation(kj, x, 1))
        # shuffle-equivalent: every row shuffled on its own
        assert_bits_equal(R.permutation(k, x, 1, True), J.permutation(kj, x, 1, True))
    k, kj = keys(1)
    big = np.arange(3000, dtype=np.float32)  # more than one sort round
    assert_bits_equal(R.permutation(k, big), J.permutation(kj, big))


def test_choice():
    x = np.arange(24).reshape(4, 6)
    p = np.array([.1, .2, .3, .15, .25], np.float32)
    for seed in SEEDS[:2]:
        k, kj = keys(seed)
        assert_bits_equal(R.choice(k, 10, (5,)), J.choice(kj, 10, (5,)))
        assert_bits_equal(R.choice(k, 10, (5,), replace=False), J.choice(kj, 10, (5,), replace=False))
        assert_bits_equal(R.choice(k, 5, (7,), p=p), J.choice(kj, 5, (7,), p=p))
        assert_bits_equal(R.choice(k, 5, (3,), p=p, replace=False),
                          J.choice(kj, 5, (3,), p=p, replace=False))
        assert_bits_equal(R.choice(k, x, (2,), axis=1), J.choice(kj, x, (2,), axis=1))
        assert_bits_equal(R.choice(k, x, (0,)), J.choice(kj, x, (0,)))


def test_multivariate_normal_orthogonal():
    k, kj = keys(5)
    cov = np.array([[2., .5], [.5, 1.]], np.float32)
    mean = np.array([1., -1.], np.float32)
    for method in ("cholesky", "svd", "eigh"):
        assert_bits_equal(R.multivariate_normal(k, mean, cov, (5,), method=method),
                          J.multivariate_normal(kj, mean, cov, (5,), method=method))
    assert_bits_equal(R.orthogonal(k, 4), J.orthogonal(kj, 4))
    assert_bits_equal(R.orthogonal(k, 3, (2,), m=5), J.orthogonal(kj, 3, (2,), m=5))


def test_float64_with_x64():
    k = R.PRNGKey(11)
    with lamina.config.override(enable_x64=True), jax.enable_x64(True):
        kj = J.PRNGKey(11)
        for name in ("uniform", "normal", "exponential", "gumbel"):
            assert_bits_equal(getattr(R, name)(k, (20,), np.float64),
                              getattr(J, name)(kj, (20,), np.float64))
        assert_bits_equal(R.bits(k, (6,)), J.bits(kj, (6,)))  # uint64 by default
        assert_bits_equal(R.randint(k, (9,), 0, 2 ** 40), J.randint(kj, (9,), 0, 2 ** 40))
        assert_bits_equal(R.PRNGKey(-7), J.PRNGKey(-7))
        assert_bits_equal(R.PRNGKey(2 ** 40 + 5), J.PRNGKey(2 ** 40 + 5))


# --------------------------------------------------------------------------------------
# Transformations
# --------------------------------------------------------------------------------------


def test_jit_matches_eager_and_jax():
    k, kj = keys(9)

    @lamina.jit
    def f(key):
        k1, k2 = R.split(key)
        return (R.uniform(k1, (6,)), R.normal(k2, (2, 3)), R.randint(key, (4,), 0, 7),
                R.bernoulli(k1, 0.4, (5,)), R.permutation(k2, 6), R.fold_in(key, 3))

    def g(key):
        k1, k2 = J.split(key)
        return (J.uniform(k1, (6,)), J.normal(k2, (2, 3)), J.randint(key, (4,), 0, 7),
                J.bernoulli(k1, 0.4, (5,)), J.permutation(k2, 6), J.fold_in(key, 3))

    for a, b in zip(f(k), jax.jit(g)(kj)):
        assert_bits_equal(a, b)
    tk = R.key(9)
    out = lamina.jit(lambda key: R.split(key, 3))(tk)
    assert isinstance(out, R.KeyArray) and out.shape == (3,)
    assert_bits_equal(R.key_data(out), J.split(kj, 3))


def test_vmap_over_keys():
    k, kj = keys(4)
    ks, ksj = R.split(k, 5), J.split(kj, 5)
    f = lambda key: (R.normal(key, (3,)), R.randint(key, (2,), 0, 9), R.split(key))
    g = lambda key: (J.normal(key, (3,)), J.randint(key, (2,), 0, 9), J.split(key))
    for a, b in zip(lamina.vmap(f)(ks), jax.vmap(g)(ksj)):
        assert_bits_equal(a, b)
    # typed keys: the batch is the key array's shape
    tks = R.split(R.key(4), 5)
    assert_bits_equal(lamina.vmap(lambda key: R.uniform(key, (2,)))(tks),
                      jax.vmap(lambda key: J.uniform(key, (2,)))(ksj))
    assert_bits_equal(lamina.vmap(lambda d: R.fold_in(k, d))(lnp.arange(3)),
                      jax.vmap(lambda d: J.fold_in(kj, d))(jnp.arange(3)))


def test_scan_and_grad():
    def body(carry, _):
        key, sub = R.split(carry)
        return key, R.uniform(sub, ())

    def body_j(carry, _):
        key, sub = J.split(carry)
        return key, J.uniform(sub, ())

    _, xs = lamina.lax.scan(body, R.key(2), None, length=4)
    _, xsj = jax.lax.scan(body_j, J.key(2), None, length=4)
    assert_bits_equal(xs, xsj)
    x = np.ones(3, np.float32)
    grad = lamina.grad(lambda x, key: (x * R.normal(key, (3,))).sum())(x, R.key(1))
    assert_bits_equal(grad, J.normal(J.key(1), (3,)))


# --------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("call, exc, match", [
    (lambda: R.PRNGKey(1.5), TypeError, "seed must be an integer"),
    (lambda: R.PRNGKey(np.arange(2)), TypeError, "scalar seed"),
    (lambda: R.key(np.float32(1)), TypeError, "seed must be an integer"),
    (lambda: R.normal(np.zeros(3, np.uint32)), TypeError, r"shape \(\.\.\., 2\)"),
    (lambda: R.normal(np.zeros(2, np.float32)), TypeError, "uint32"),
    (lambda: R.normal(R.split(R.PRNGKey(0))), ValueError, "single key"),
    (lambda: R.uniform(R.PRNGKey(0), (2.5,)), TypeError, "shape"),
    (lambda: R.uniform(R.PRNGKey(0), (-1,)), ValueError, "negative"),
    (lambda: R.uniform(R.PRNGKey(0), (2,), np.int32), ValueError, "float"),
    (lambda: R.uniform(R.PRNGKey(0), (2,), minval=np.zeros(3)), ValueError, "shape"),
    (lambda: R.uniform(R.PRNGKey(0), (2,), minval=2., maxval=1.), ValueError,
     "minval must be <= maxval"),
    (lambda: R.truncated_normal(R.PRNGKey(0), 2., 1.), ValueError, "lower must be <= upper"),
    (lambda: R.bernoulli(R.PRNGKey(0), 1.5), ValueError, "p must be in"),
    (lambda: R.bernoulli(R.PRNGKey(0), 1), TypeError, "floating"),
    (lambda: R.choice(R.PRNGKey(0), 3, (2,), p=np.array([.5, -.1, .6])), ValueError, "p must be"),
    (lambda: R.choice(R.PRNGKey(0), 3, (5,), replace=False), ValueError, "larger sample"),
    (lambda: R.randint(R.PRNGKey(0), (2,), 0, 5, np.float32), TypeError, "integer dtype"),
    (lambda: R.split(R.PRNGKey(0), 2.0), TypeError, "num"),
    (lambda: R.fold_in(R.PRNGKey(0), 1.5), TypeError, "data"),
    (lambda: R.categorical(R.PRNGKey(0), np.zeros((2, 3)), shape=(4,)), ValueError, "shape"),
])
def test_errors(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


# --------------------------------------------------------------------------------------
# Rejection samplers (gamma family, poisson, binomial): bit-identical, plus moments
# --------------------------------------------------------------------------------------


def test_gamma_family_bits():
    k, kj = keys(42)
    a = np.array([0.3, 1.0, 2.5, 7.0], np.float32)
    assert_bits_equal(R.gamma(k, a, (3, 4)), J.gamma(kj, a, (3, 4)))
    assert_bits_equal(R.loggamma(k, a, None, np.float16), J.loggamma(kj, a, None, np.float16))
    assert_bits_equal(R.gamma(k, 2.0, (0,)), J.gamma(kj, 2.0, (0,)))
    assert_bits_equal(R.beta(k, a, 2.0), J.beta(kj, a, 2.0))
    assert_bits_equal(R.dirichlet(k, a, (2,)), J.dirichlet(kj, a, (2,)))
    assert_bits_equal(R.t(k, a), J.t(kj, a))
    assert_bits_equal(R.chisquare(k, a), J.chisquare(kj, a))
    lam = np.array([0.5, 3.0, 12.0, 50.0, 0.0], np.float32)
    assert_bits_equal(R.poisson(k, lam, (2, 5)), J.poisson(kj, lam, (2, 5)))
    n = np.array([5., 20., 100., 1000.], np.float32)
    assert_bits_equal(R.binomial(k, n, 0.3), J.binomial(kj, n, 0.3))
    assert_bits_equal(R.binomial(k, 50., np.array([0.05, 0.9], np.float32)),
                      J.binomial(kj, 50., np.array([0.05, 0.9], np.float32)))
    # NOTE: under vmap jax's gamma batching rule flattens the keys into one while loop;
    # lamina nests the vmaps, and XLA may fuse the final products differently (1 ulp).
    ks, ksj = R.split(k, 3), J.split(kj, 3)
    np.testing.assert_allclose(lamina.vmap(lambda key: R.gamma(key, 1.5, (2,)))(ks),
                               jax.vmap(lambda key: J.gamma(key, 1.5, (2,)))(ksj), rtol=1e-6)


def test_gamma_family_moments():
    # mean/variance within ~5 standard errors (n = 4000 samples)
    n, k = 4000, R.PRNGKey(123)
    for name, x, mean, var in [
        ("gamma", R.gamma(k, 2.5, (n,)), 2.5, 2.5),
        ("beta", R.beta(k, 2.0, 3.0, (n,)), 0.4, 0.04),
        ("chisquare", R.chisquare(k, 4.0, (n,)), 4.0, 8.0),
        ("t", R.t(k, 10.0, (n,)), 0.0, 10.0 / 8.0),
        ("poisson", R.poisson(k, 7.0, (n,)), 7.0, 7.0),
        ("binomial", R.binomial(k, 40.0, 0.25, (n,)), 10.0, 7.5),
    ]:
        x = np.asarray(x, np.float64)
        assert abs(x.mean() - mean) < 5 * np.sqrt(var / n), (name, x.mean(), mean)
        assert abs(x.var() / var - 1) < 0.15, (name, x.var(), var)
    # Kolmogorov-Smirnov against the exponential CDF (gamma with a = 1)
    x = np.sort(np.asarray(R.gamma(k, 1.0, (n,)), np.float64))
    cdf = 1 - np.exp(-x)
    d = max(np.max(np.arange(1, n + 1) / n - cdf), np.max(cdf - np.arange(n) / n))
    assert d < 1.63 / np.sqrt(n)  # 1% critical value


def test_gamma_gradient_matches_jax():
    # Implicit reparameterisation through random_gamma_grad (jax's custom JVP); the
    # samples themselves stay bit-identical under differentiation.
    k, kj = keys(42)
    a = np.array([0.3, 1.0, 2.5, 7.0, 0.01, 50.0], np.float32)
    for name in ("gamma", "loggamma"):
        for shape in (None, (3, 6)):
            ours = lamina.value_and_grad(lambda a: getattr(R, name)(k, a, shape).sum())(a)
            theirs = jax.value_and_grad(lambda a: getattr(J, name)(kj, a, shape).sum())(a)
            assert_bits_equal(ours[1], theirs[1])
            np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-6)
    _, tangent = lamina.jvp(lambda a: R.gamma(k, a), (a,), (np.ones_like(a),))
    assert_bits_equal(tangent, jax.jvp(lambda a: J.gamma(kj, a), (a,), (np.ones_like(a),))[1])
    samples, _ = lamina.jvp(lambda a: R.gamma(k, a, (3, 6)), (a,), (np.ones_like(a),))
    assert_bits_equal(samples, J.gamma(kj, a, (3, 6)))
    # a scalar a broadcast to many samples: the gradient sums theirs (to rounding)
    np.testing.assert_allclose(lamina.grad(lambda a: R.gamma(k, a, (100,)).sum())(2.0),
                               jax.grad(lambda a: J.gamma(kj, a, (100,)).sum())(2.0),
                               rtol=1e-6)
    # under jit and vmap, in float16, and through the samplers built on gamma
    assert_bits_equal(lamina.jit(lamina.grad(lambda a: R.gamma(k, a).sum()))(a),
                      jax.jit(jax.grad(lambda a: J.gamma(kj, a).sum()))(a))
    assert_bits_equal(lamina.vmap(lamina.grad(lambda a: R.gamma(k, a)))(a),
                      jax.vmap(jax.grad(lambda a: J.gamma(kj, a)))(a))
    f16 = lambda g, key: lambda a: g(key, a, None, np.float16).astype(np.float32).sum()  # noqa: E731
    assert_bits_equal(lamina.grad(f16(R.gamma, k))(a), jax.grad(f16(J.gamma, kj))(a))
    for ours, theirs in [(lambda a: R.beta(k, a, 2.0).sum(), lambda a: J.beta(kj, a, 2.0).sum()),
                         (lambda a: R.chisquare(k, a).sum(), lambda a: J.chisquare(kj, a).sum()),
                         (lambda a: R.dirichlet(k, a)[0], lambda a: J.dirichlet(kj, a)[0])]:
        np.testing.assert_allclose(lamina.grad(ours)(a), jax.grad(theirs)(a), rtol=1e-5)


def test_gamma_gradient_is_the_implicit_derivative():
    # d(sample)/da = -(dP/da) / (dP/dx) at the sample (x64: tight), and the key gets none
    k = R.PRNGKey(7)
    with lamina.config.override(enable_x64=True):
        a = np.array([0.5, 1.5, 4.0, 12.0])
        x = R.gamma(k, a, dtype=np.float64)
        g = lamina.grad(lambda a: R.gamma(k, a, dtype=np.float64).sum())(a)
        dp_da = np.asarray(lamina.lax.igamma_grad_a(a, x))
        dp_dx = np.asarray(lamina.grad(lambda x: lamina.lax.igamma(a, x).sum())(x))
        np.testing.assert_allclose(g, -dp_da / dp_dx, rtol=1e-9)
