"""lamina.nn activations against jax.nn: values and gradients."""
import jax
import numpy as np
import pytest

import lamina
import lamina.numpy as lnp
import lamina.testing  # noqa: F401
from lamina import nn

X = np.array([-3.0, -1.5, -0.5, 0.0, 0.25, 1.0, 2.5, 6.0, 7.0], np.float32)

UNARY = ["relu", "relu6", "silu", "swish", "sigmoid", "tanh", "softplus", "elu", "selu",
         "leaky_relu", "celu", "log_sigmoid", "soft_sign", "hard_tanh", "hard_sigmoid",
         "hard_silu", "mish"]


@pytest.mark.parametrize("name", UNARY)
def test_unary_values_and_grads(name):
    ours, theirs = getattr(nn, name), getattr(jax.nn, name)
    np.testing.assert_allclose(np.asarray(ours(lnp.asarray(X))), np.asarray(theirs(X)),
                               rtol=1e-6, atol=1e-7)
    g = lamina.vmap(lamina.grad(ours))(lnp.asarray(X))
    gj = jax.vmap(jax.grad(theirs))(X)
    np.testing.assert_allclose(np.asarray(g), np.asarray(gj), rtol=1e-5, atol=1e-6)


def test_relu_grad_at_zero_is_zero():
    assert float(lamina.grad(nn.relu)(0.0)) == 0.0
    assert float(lamina.grad(nn.relu6)(6.0)) == 0.0
    lamina.testing.check_grads(nn.relu, (lnp.array([0.5, -2.0, 3.0]),), order=2)


@pytest.mark.parametrize("approximate", [True, False])
def test_gelu(approximate):
    np.testing.assert_allclose(np.asarray(nn.gelu(lnp.asarray(X), approximate)),
                               np.asarray(jax.nn.gelu(X, approximate)), rtol=1e-6, atol=1e-7)
    g = lamina.vmap(lamina.grad(lambda x: nn.gelu(x, approximate)))(lnp.asarray(X))
    gj = jax.vmap(jax.grad(lambda x: jax.nn.gelu(x, approximate)))(X)
    np.testing.assert_allclose(np.asarray(g), np.asarray(gj), rtol=1e-5, atol=1e-6)


def test_parametrised():
    x = lnp.asarray(X)
    np.testing.assert_allclose(np.asarray(nn.leaky_relu(x, 0.2)), jax.nn.leaky_relu(X, 0.2),
                               rtol=1e-6)
    np.testing.assert_allclose(np.asarray(nn.elu(x, 0.5)), jax.nn.elu(X, 0.5), rtol=1e-6)
    np.testing.assert_allclose(np.asarray(nn.celu(x, 2.0)), jax.nn.celu(X, 2.0), rtol=1e-6)


R = np.random.default_rng(0).normal(size=(3, 5)).astype(np.float32)
W = R > -0.3


@pytest.mark.parametrize("axis", [-1, 0, (0, 1)])
def test_softmax_family(axis):
    x = lnp.asarray(R)
    for name in ("softmax", "log_softmax"):
        np.testing.assert_allclose(np.asarray(getattr(nn, name)(x, axis)),
                                   np.asarray(getattr(jax.nn, name)(R, axis)),
                                   rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(np.asarray(nn.logsumexp(x, axis)),
                               np.asarray(jax.nn.logsumexp(R, axis)), rtol=1e-6)


def test_where_and_grads():
    x, w = lnp.asarray(R), lnp.asarray(W)
    for name in ("softmax", "log_softmax"):
        np.testing.assert_allclose(np.asarray(getattr(nn, name)(x, where=w)),
                                   np.asarray(getattr(jax.nn, name)(R, where=W)), rtol=1e-6)
        c = np.arange(5, dtype=np.float32)
        g = lamina.grad(lambda x: (getattr(nn, name)(x) * lnp.asarray(c)).sum())(x)
        gj = jax.grad(lambda x: (getattr(jax.nn, name)(x) * c).sum())(R)
        np.testing.assert_allclose(np.asarray(g), np.asarray(gj), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(nn.logsumexp(x, 1, where=w)),
                               np.asarray(jax.nn.logsumexp(R, 1, where=W)), rtol=1e-6)
    b = np.abs(R) + 0.1
    np.testing.assert_allclose(np.asarray(nn.logsumexp(x, 1, b=lnp.asarray(b))),
                               np.asarray(jax.nn.logsumexp(R, 1, b=b)), rtol=1e-6)
    out, sign = nn.logsumexp(x, 0, b=-lnp.ones_like(x), return_sign=True)
    assert np.all(np.asarray(sign) == -1)
    lamina.testing.check_grads(lambda x: nn.logsumexp(x, 1), (x,), order=1)
    lamina.testing.check_grads(lambda x: nn.softmax(x)[:, 0], (x,), order=1)


def test_glu_standardize_one_hot():
    x = lnp.asarray(R[:, :4])
    np.testing.assert_allclose(np.asarray(nn.glu(x)), jax.nn.glu(R[:, :4]), rtol=1e-6)
    for alg in ("fast", "stable"):
        np.testing.assert_allclose(np.asarray(nn.standardize(lnp.asarray(R), algorithm=alg)),
                                   jax.nn.standardize(R, algorithm=alg), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        np.asarray(nn.standardize(lnp.asarray(R), axis=0, where=lnp.asarray(W))),
        jax.nn.standardize(R, axis=0, where=W), rtol=1e-5, atol=1e-6)
    ids = np.array([[0, 2], [3, -1]])
    for axis in (-1, 0, 1):
        o = nn.one_hot(lnp.asarray(ids), 3, axis=axis)
        np.testing.assert_array_equal(np.asarray(o), jax.nn.one_hot(ids, 3, axis=axis))
    assert nn.one_hot(lnp.asarray(ids), 3, dtype=lnp.int32).dtype == np.int32
    with pytest.raises(ValueError, match="even"):
        nn.glu(lnp.ones((2, 3)))


def test_jit_vmap_dtype():
    x = lnp.asarray(R)
    f = lamina.jit(lambda x: nn.gelu(nn.silu(x)) + nn.softmax(x))
    np.testing.assert_allclose(np.asarray(f(x)),
                               np.asarray(jax.nn.gelu(jax.nn.silu(R)) + jax.nn.softmax(R)),
                               rtol=1e-5, atol=1e-6)
    lamina.testing.check_vmap(nn.log_softmax, (x,))
    assert nn.relu(lnp.ones(2, lnp.bfloat16)).dtype == lnp.bfloat16
    assert nn.gelu(lnp.ones(2, lnp.bfloat16)).dtype == lnp.bfloat16
