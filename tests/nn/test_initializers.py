"""lamina.nn.initializers against jax.nn.initializers: same key, shape, dtype -> same values."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import lamina
import lamina.numpy as lnp
from lamina.nn import initializers as li

ji = jax.nn.initializers
KEY = 42

CASES = [
    ("zeros", (), (8, 6)), ("ones", (), (8, 6)), ("constant", (0.5,), (8, 6)),
    ("uniform", (), (8, 6)), ("uniform", (3.0,), (8, 6)), ("normal", (2.0,), (8, 6)),
    ("truncated_normal", (0.5,), (8, 6)),
    ("lecun_normal", (), (8, 6)), ("lecun_uniform", (), (8, 6)),
    ("glorot_normal", (), (8, 6)), ("glorot_uniform", (), (8, 6)),
    ("he_normal", (), (3, 4, 6)), ("he_uniform", (), (8, 6)),
    ("variance_scaling", (2.0, "fan_out", "normal"), (8, 6)),
    ("variance_scaling", (0.5, "fan_geo_avg", "truncated_normal"), (8, 6)),
    ("orthogonal", (2.0,), (8, 6)), ("orthogonal", (1.0, 0), (4, 3, 2)),
    ("delta_orthogonal", (), (3, 4, 6)),
]


def _make(mod, name, args):
    f = getattr(mod, name)
    if name in ("zeros", "ones"):
        return f
    return f(*args)


@pytest.mark.parametrize("name,args,shape", CASES, ids=lambda c: str(c))
def test_same_values_as_jax(name, args, shape):
    ours = _make(li, name, args)(lamina.random.PRNGKey(KEY), shape, lnp.float32)
    theirs = _make(ji, name, args)(jax.random.PRNGKey(KEY), shape, jnp.float32)
    assert ours.shape == theirs.shape and ours.dtype == theirs.dtype
    # NOTE: the QR inside orthogonal runs through LAPACK in both, but may differ by an ulp.
    tol = 1e-6 if "orthogonal" in name else 0
    np.testing.assert_allclose(np.asarray(ours), np.asarray(theirs), rtol=tol, atol=tol)


def test_aliases():
    assert li.xavier_normal is li.glorot_normal and li.xavier_uniform is li.glorot_uniform
    assert li.kaiming_normal is li.he_normal and li.kaiming_uniform is li.he_uniform
    assert li.zeros_init() is li.zeros and li.ones_init() is li.ones


def test_dtypes_and_default_dtype():
    k = lamina.random.PRNGKey(0)
    assert li.lecun_normal()(k, (3, 4)).dtype == np.float32
    assert li.normal(dtype=lnp.bfloat16)(k, (3,)).dtype == lnp.bfloat16
    w = li.he_uniform()(k, (4, 4), lnp.float16)
    theirs = ji.he_uniform()(jax.random.PRNGKey(0), (4, 4), jnp.float16)
    np.testing.assert_array_equal(np.asarray(w), np.asarray(theirs))


def test_statistics():
    w = np.asarray(li.variance_scaling(2.0, "fan_in", "truncated_normal")(
        lamina.random.PRNGKey(1), (500, 400)))
    assert abs(w.var() * 500 - 2.0) < 0.05
    q = np.asarray(li.orthogonal()(lamina.random.PRNGKey(0), (8, 8)))
    np.testing.assert_allclose(q @ q.T, np.eye(8), atol=1e-5)


def test_zero_size_and_jit():
    assert li.orthogonal()(lamina.random.PRNGKey(0), (0, 3)).shape == (0, 3)
    f = lamina.jit(lambda k: li.glorot_uniform()(k, (5, 3)))
    np.testing.assert_array_equal(
        np.asarray(f(lamina.random.PRNGKey(3))),
        np.asarray(ji.glorot_uniform()(jax.random.PRNGKey(3), (5, 3))))


def test_errors():
    with pytest.raises(ValueError, match="mode"):
        li.variance_scaling(1.0, "fan_wrong", "normal")
    with pytest.raises(ValueError, match="distribution"):
        li.variance_scaling(1.0, "fan_in", "cauchy")
    with pytest.raises(ValueError, match="in_axis"):
        li.lecun_normal()(lamina.random.PRNGKey(0), (3,))
    with pytest.raises(ValueError, match="2 dimensions"):
        li.orthogonal()(lamina.random.PRNGKey(0), (3,))
    with pytest.raises(ValueError, match="fan_in"):
        li.delta_orthogonal()(lamina.random.PRNGKey(0), (3, 4, 2))
