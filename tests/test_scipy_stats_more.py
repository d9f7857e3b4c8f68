"""lamina.scipy.stats distributions beyond the first thirteen (binom, nbinom, geom,
betabinom, multinomial, dirichlet, pareto, gumbel_l, gumbel_r, gennorm, vonmises,
wrapcauchy, truncnorm) against jax.scipy.stats: values on random and edge inputs in
float32 (and float64 with x64 on), dtypes and weak types, jit, vmap against a Python
loop, and gradients against jax.grad."""
import jax
import jax.numpy as jnp
import jax.scipy.stats as jst
import numpy as np
import pytest

import lamina
import lamina.numpy as lnp
from lamina.scipy import stats as lst

F32 = np.float32
INF, NAN = np.inf, np.nan


def _f32(*parts):
    flat = [np.ravel(np.asarray(p, np.float64)) for p in parts]
    return np.concatenate(flat).astype(F32)


def assert_matches(ours, theirs, rtol=1e-6, atol=0.0):
    """Shape, dtype, weak type, then values (NaN where jax has NaN, same-sign infs)."""
    ours, theirs = lnp.asarray(ours), jnp.asarray(theirs)
    assert ours.shape == theirs.shape, (ours.shape, theirs.shape)
    assert ours.dtype == theirs.dtype, (ours.dtype, theirs.dtype)
    assert ours.weak_type == theirs.weak_type, (ours.weak_type, theirs.weak_type)
    np.testing.assert_allclose(np.asarray(ours), np.asarray(theirs), rtol=rtol,
                               atol=atol, equal_nan=True)


def _check(ours, theirs, args, rtol=1e-6, atol=0.0, jit=True):
    """Eager against eager, jitted against jitted (XLA fuses and rounds a few ops
    differently from op-by-op execution, in jax as here)."""
    assert_matches(ours(*args), theirs(*args), rtol, atol)
    if jit:
        assert_matches(lamina.jit(ours)(*args), jax.jit(theirs)(*args), rtol, atol)


R = np.random.default_rng(11)
M = 40
X = _f32(R.normal(size=M - 10) * 3, [0, -0.0, 1, -1, 1e-3, 30, -30, INF, -INF, NAN])
LOC = _f32(R.normal(size=M))
SCALE = _f32(R.uniform(0.2, 3, M - 4), [1, 0, -1, NAN])
POS = _f32(R.uniform(0.1, 5, M - 4), [1, 0, -1, NAN])
P = _f32(R.uniform(size=M - 6), [0, 1, -0.1, 1.1, NAN, 0.5])
Q = _f32(R.uniform(size=M - 8), [0, 1, 1e-7, 1 - 1e-7, -0.1, 1.1, NAN, 0.5])
# counts: trials n, outcomes k (mostly inside [0, n]), and off-integer / edge values
NT = _f32(R.integers(0, 12, M - 6), [0, 0, 3, -1, NAN, 2.5])
KT = _f32(np.floor(R.uniform(-0.3, 1.2, M - 6) * NT[:M - 6]), [0, 1, 3, 1, 1, 1.5])
K = _f32(R.integers(-2, 10, M - 6), [0.5, 1, 0, NAN, -1, 3])
ANGLE = _f32(R.uniform(-1, 7, M - 6), [0, 2 * np.pi, -0.1, 7, NAN, np.pi])
C = _f32(R.uniform(size=M - 6), [0, 1, -0.5, 1.5, NAN, 0.9])
KAPPA = _f32(R.uniform(0, 50, M - 6), [0, -1, 1e-3, 500, NAN, 1])
BETA = _f32(R.uniform(0.3, 4, M - 4), [1, 2, 0.1, NAN])
# truncation bounds: ordinary, far left and far right tails, around 0, and a >= b
TA = _f32(R.normal(size=M - 8) * 2, [5, -12, -0.5, 1, 1, -INF, -1, NAN])
TB = _f32(TA[:M - 8] + R.uniform(0.1, 3, M - 8), [6, -10, 0.5, 1, 0, 1, INF, 1])

TABLE = {
    ("binom", "logpmf"): (KT, NT, P, LOC * 0), ("binom", "pmf"): (KT, NT, P),
    ("nbinom", "logpmf"): (K, POS, P, LOC * 0), ("nbinom", "pmf"): (K, POS, P),
    ("geom", "logpmf"): (K, P, LOC * 0), ("geom", "pmf"): (K, P),
    ("betabinom", "logpmf"): (KT, NT, POS, POS[::-1], LOC * 0),
    ("betabinom", "pmf"): (KT, NT, POS, POS[::-1]),
    ("pareto", "logpdf"): (X, POS, LOC, SCALE), ("pareto", "pdf"): (X, POS),
    ("pareto", "cdf"): (X, POS, LOC, SCALE), ("pareto", "logcdf"): (X, POS, LOC, SCALE),
    ("pareto", "sf"): (X, POS, LOC, SCALE), ("pareto", "logsf"): (X, POS, LOC, SCALE),
    ("pareto", "ppf"): (Q, POS, LOC, SCALE),
    ("gennorm", "logpdf"): (X, BETA), ("gennorm", "pdf"): (X, BETA),
    ("gennorm", "cdf"): (X, BETA),
    ("vonmises", "logpdf"): (ANGLE, KAPPA), ("vonmises", "pdf"): (ANGLE, KAPPA),
    ("wrapcauchy", "logpdf"): (ANGLE, C), ("wrapcauchy", "pdf"): (ANGLE, C),
    ("truncnorm", "logpdf"): (X * 0.5, TA, TB, LOC * 0.1, SCALE),
    ("truncnorm", "pdf"): (X * 0.5, TA, TB),
    ("truncnorm", "cdf"): (X * 0.5, TA, TB, LOC * 0.1, SCALE),
    ("truncnorm", "logcdf"): (X * 0.5, TA, TB, LOC * 0.1, SCALE),
    ("truncnorm", "sf"): (X * 0.5, TA, TB, LOC * 0.1, SCALE),
    ("truncnorm", "logsf"): (X * 0.5, TA, TB, LOC * 0.1, SCALE),
}
for _side in ("gumbel_l", "gumbel_r"):
    for _fn in ("logpdf", "pdf", "cdf", "logcdf", "sf", "logsf"):
        TABLE[(_side, _fn)] = (X, LOC, SCALE)
    TABLE[(_side, "ppf")] = (Q, LOC, SCALE)

# (rtol, atol) where 1e-6 relative is too tight: the log of a mass near 1 is a
# difference near 0, one float32 ulp there is ~1e-7 absolute.
TOL = {("truncnorm", "logcdf"): (1e-6, 1e-7), ("truncnorm", "logsf"): (1e-6, 1e-7),
       ("binom", "logpmf"): (1e-6, 1e-6), ("betabinom", "logpmf"): (1e-6, 1e-6),
       ("nbinom", "logpmf"): (1e-6, 1e-6), ("gumbel_l", "ppf"): (1e-6, 1e-7),
       ("gumbel_r", "ppf"): (1e-6, 1e-7)}

# Python-scalar arguments for each distribution (dtype and weak type of the result)
SCALARS = {"binom": (1.0, 3, 0.25), "nbinom": (2.0, 3, 0.5), "geom": (2, 0.5),
           "betabinom": (1.0, 3, 2.0, 1.5), "pareto": (2.0, 1.5), "gennorm": (0.5, 1.5),
           "vonmises": (0.5, 2.0), "wrapcauchy": (0.5, 0.5),
           "truncnorm": (0.2, -1, 1.5),
           "gumbel_l": (0.3,), "gumbel_r": (0.3,)}


def _fn(lib, key):
    return getattr(getattr(lib, key[0]), key[1])


INT_KEYS = {("binom", "logpmf"), ("geom", "logpmf"), ("pareto", "logpdf"),
            ("gumbel_l", "logpdf"), ("truncnorm", "logpdf")}


@pytest.mark.parametrize("key", sorted(TABLE), ids=lambda k: ".".join(k))
def test_values(key):
    rtol, atol = TOL.get(key, (1e-6, 0.0))
    # NOTE: to keep compiles (seconds each) down: pdf/pmf (and truncnorm's cdf/sf) are
    # exp of a checked log function, so one eager check; truncnorm and betabinom are
    # jitted inside (as jax's), so their eager call already is the jit path.
    derived = key[1] in ("pdf", "pmf") or (key[0] == "truncnorm"
                                           and key[1] in ("cdf", "sf"))
    jitted_inside = key[0] in ("truncnorm", "betabinom")
    _check(_fn(lst, key), _fn(jst, key), list(TABLE[key]), rtol, atol,
           jit=not (derived or jitted_inside))
    if derived:
        return
    args = SCALARS[key[0]]
    if key[1] == "ppf":
        args = (0.3, *args[1:])
    assert_matches(_fn(lst, key)(*args), _fn(jst, key)(*args), rtol, atol)
    if key in INT_KEYS:  # integer inputs promote to the default float dtype
        ints = tuple(np.asarray(round(a)) if isinstance(a, float) and a == round(a)
                     else a for a in args)
        assert_matches(_fn(lst, key)(*ints), _fn(jst, key)(*ints), rtol, atol)


VMAP_KEYS = sorted(k for k in TABLE if k[1] in ("logpdf", "logpmf")) + [
    ("gumbel_r", "logsf"), ("pareto", "ppf")]


@pytest.mark.parametrize("key", VMAP_KEYS,
                         ids=lambda k: ".".join(k))
def test_vmap(key):
    fn = _fn(lst, key)
    args = [a[:40].reshape(8, 5) for a in TABLE[key]]
    for in_axes in (0, (0, *[None] * (len(args) - 1))):
        axes = in_axes if isinstance(in_axes, tuple) else (0,) * len(args)
        call = [a if ax == 0 else a[0] for a, ax in zip(args, axes)]
        got = lamina.vmap(fn, in_axes)(*call)
        loop = np.stack([np.asarray(fn(*[a[i] if ax == 0 else a
                                          for a, ax in zip(call, axes)]))
                         for i in range(8)])
        np.testing.assert_allclose(np.asarray(got), loop, rtol=2e-6, atol=1e-7,
                                   equal_nan=True)


def _interior(key, r):
    n = 12
    x = _f32(r.uniform(0.2, 3, n))
    pos = _f32(r.uniform(0.6, 3, n))
    return {
        "pareto": (x + 1.5, pos, _f32(r.uniform(-0.2, 0.2, n)),
                   _f32(r.uniform(0.5, 1.2, n))),
        "gennorm": (_f32(r.uniform(0.2, 2, n) * r.choice([-1, 1], n)), pos + 0.5),
        "vonmises": (_f32(r.uniform(-3, 3, n)), pos),
        "wrapcauchy": (_f32(r.uniform(0.1, 6, n)), _f32(r.uniform(0.1, 0.9, n))),
        "truncnorm": (_f32(r.uniform(-0.4, 0.4, n)), _f32(r.uniform(-2, -0.5, n)),
                      _f32(r.uniform(0.5, 2, n)), _f32(r.normal(size=n) * 0.1),
                      _f32(r.uniform(0.8, 1.5, n))),
        "gumbel_l": (_f32(r.normal(size=n)), _f32(r.normal(size=n) * 0.2), pos),
        "gumbel_r": (_f32(r.normal(size=n)), _f32(r.normal(size=n) * 0.2), pos),
        "binom": (_f32(r.integers(0, 4, n)), _f32(r.integers(4, 9, n)),
                  _f32(r.uniform(0.1, 0.9, n))),
        "nbinom": (_f32(r.integers(0, 6, n)), pos, _f32(r.uniform(0.1, 0.9, n))),
        "geom": (_f32(r.integers(1, 6, n)), _f32(r.uniform(0.1, 0.9, n))),
        "betabinom": (_f32(r.integers(0, 4, n)), _f32(r.integers(4, 9, n)), pos,
                      pos[::-1]),
    }[key[0]]


GRADS = {  # (function, number of leading arguments differentiated)
    ("pareto", "logpdf"): 4, ("pareto", "ppf"): 4, ("gennorm", "logpdf"): 2,
    ("vonmises", "logpdf"): 2, ("wrapcauchy", "logpdf"): 2, ("truncnorm", "logpdf"): 5,
    ("truncnorm", "logcdf"): 5,
    # NOTE: 2, not 3, for the gumbel logpdfs: jax's own gradient in `scale` fails (its
    # xlogy(-1, scale) gets a float0 tangent for the integer -1); see
    # test_gumbel_scale_grad.
    ("gumbel_l", "logpdf"): 2, ("gumbel_l", "logcdf"): 3, ("gumbel_r", "logpdf"): 2,
    ("gumbel_r", "logsf"): 3,
    ("binom", "logpmf"): 3, ("nbinom", "logpmf"): 3, ("geom", "logpmf"): 2,
    ("betabinom", "logpmf"): 4,
}


@pytest.mark.parametrize("key", sorted(GRADS), ids=lambda k: ".".join(k))
def test_grad(key):
    args = _interior(key, np.random.default_rng(len(key[0]) * 7 + len(key[1])))
    if key[1] == "ppf":
        args = (_f32(np.random.default_rng(1).uniform(0.05, 0.95, 12)), *args[1:])
    argnums = tuple(range(GRADS[key]))
    ours = lamina.grad(lambda *a: lnp.sum(_fn(lst, key)(*a)), argnums)(*args)
    theirs = jax.grad(lambda *a: jnp.sum(_fn(jst, key)(*a)), argnums)(*args)
    for o, t in zip(ours, theirs):
        np.testing.assert_allclose(np.asarray(o), np.asarray(t), rtol=2e-6, atol=1e-6)


def test_float64():
    r = np.random.default_rng(3)
    with lamina.config.override(enable_x64=True), jax.enable_x64(True):
        x = np.concatenate([r.normal(size=10) * 3, [-30.0, 30.0]])
        cases = [
            (("gumbel_r", "logsf"), (x,)), (("vonmises", "logpdf"), (x, 3.0)),
            (("truncnorm", "logcdf"), (x / 10, -1.0, 2.0)),
            (("binom", "logpmf"), (np.arange(12.0), 11.0, 0.3)),
        ]
        for key, args in cases:
            _check(_fn(lst, key), _fn(jst, key), list(args), rtol=1e-13, atol=1e-13,
                   jit=False)


def test_multinomial():
    r = np.random.default_rng(4)
    p = r.dirichlet(np.ones(4), size=6).astype(F32)
    x = r.multinomial(5, [0.25] * 4, size=6).astype(np.int32)
    # one count vector, a mismatched total, zero probabilities, batches of p
    for args in [(x[0], 5, p[0]), (x[0], 4, p[0]), (x[0], np.int32(5), p),
                 (np.array([0, 5, 0, 0], np.int32), 5, np.array([0, 1, 0, 0], F32)),
                 (np.array([1, 4, 0, 0], np.int32), 5, np.array([0, 1, 0, 0], F32))]:
        _check(lst.multinomial.logpmf, jst.multinomial.logpmf, list(args), rtol=2e-6,
               jit=args[1] == 4)
    assert_matches(lst.multinomial.pmf(x[0], 5, p[0]),
                   jst.multinomial.pmf(x[0], 5, p[0]), rtol=2e-6)
    with pytest.raises(ValueError, match="integer"):
        lst.multinomial.logpmf(x[0].astype(F32), 5, p[0])
    grad = lamina.grad(lambda q: lst.multinomial.logpmf(x[0], 5, q))(p[0])
    np.testing.assert_allclose(
        grad, jax.grad(lambda q: jst.multinomial.logpmf(x[0], 5, q))(p[0]), rtol=1e-6)


def test_dirichlet():
    r = np.random.default_rng(5)
    alpha = r.uniform(0.5, 3, 4).astype(F32)
    x = r.dirichlet(np.ones(4), size=7).T.astype(F32)  # [k, batch]
    off = x.copy()
    off[:, 0] = [0.5, 0.6, 0.1, 0.1]                     # sums past 1
    off[:, 1] = [0.0, 0.5, 0.25, 0.25]                   # on the boundary
    for args in [(x[:, 0], alpha), (x, alpha), (off, alpha), (x[:3], alpha),
                 (x[:, 0].astype(np.float16), alpha)]:
        _check(lst.dirichlet.logpdf, jst.dirichlet.logpdf, list(args), rtol=2e-6,
               jit=args[0] is off)
    assert_matches(lst.dirichlet.pdf(x, alpha), jst.dirichlet.pdf(x, alpha), rtol=2e-6)
    with pytest.raises(ValueError, match="one-dimensional"):
        lst.dirichlet.logpdf(x, alpha[None])
    with pytest.raises(ValueError, match="entries"):
        lst.dirichlet.logpdf(x[:2], alpha)
    got = lamina.vmap(lst.dirichlet.logpdf, (1, None))(x, alpha)
    np.testing.assert_allclose(got, lst.dirichlet.logpdf(x, alpha), rtol=1e-6)
    g = lamina.grad(lambda a, v: lnp.sum(lst.dirichlet.logpdf(v, a)), (0, 1))(alpha, x)
    gj = jax.grad(lambda a, v: jnp.sum(jst.dirichlet.logpdf(v, a)), (0, 1))(alpha, x)
    for o, t in zip(g, gj):
        np.testing.assert_allclose(o, t, rtol=2e-6, atol=1e-6)


@pytest.mark.parametrize("side", ["gumbel_l", "gumbel_r"])
def test_gumbel_scale_grad(side):
    r = np.random.default_rng(6)
    x, loc, scale = (_f32(r.normal(size=12)), _f32(r.normal(size=12) * 0.2),
                     _f32(r.uniform(0.6, 3, 12)))
    sign = 1 if side == "gumbel_l" else -1

    def reference(s):  # the same log density with log(s) for xlogy(-1, s)
        z = sign * (x - loc) / s
        return jnp.sum(z - jnp.exp(z) - jnp.log(s))

    got = lamina.grad(lambda s: lnp.sum(getattr(lst, side).logpdf(x, loc, s)))(scale)
    np.testing.assert_allclose(got, jax.grad(reference)(scale), rtol=2e-6, atol=1e-6)
