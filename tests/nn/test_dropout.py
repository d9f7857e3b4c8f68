"""nn.Dropout against flax.linen.Dropout: the same mask for the same key (lamina.random is
bit-identical to jax.random), train vs eval, broadcast_dims, rate 0 and 1, the 'dropout'
rng stream (distinct keys per call site, a clear error without it), jit and vmap."""
import jax
import jax.numpy as jnp
import flax.linen as fnn
import numpy as np
import pytest

import lamina
import lamina.numpy as lnp
from lamina import nn
from lamina.testing import assert_array_close


@pytest.mark.parametrize("rate,bdims", [(0.3, ()), (0.5, (0,)), (0.8, (1, 2))])
def test_same_mask_as_flax_for_same_key(rate, bdims, rng):
    x = rng.standard_normal((4, 3, 5)).astype(np.float32)
    want = fnn.Dropout(rate, broadcast_dims=bdims).apply(
        {}, jnp.asarray(x), deterministic=False, rng=jax.random.key(42))
    layer = nn.Dropout(rate, broadcast_dims=bdims)
    got = layer.apply({}, x, train=True, rng=lamina.random.key(42))
    assert got.dtype == lnp.float32 and got.shape == x.shape
    assert_array_close(got, np.asarray(want), rtol=0, atol=0)
    got2 = layer.apply({}, x, deterministic=False, rng=lamina.random.key(42))
    assert_array_close(got2, np.asarray(want), rtol=0, atol=0)


def test_train_eval_and_rates(rng):
    x = rng.standard_normal((200, 50)).astype(np.float32)
    layer = nn.Dropout(0.25)
    assert layer.init(lamina.random.key(0), x) == {}
    assert_array_close(layer.apply({}, x), x)                                    # eval
    assert_array_close(nn.Dropout(0.25, deterministic=True).apply({}, x, train=True), x)
    y = layer.apply({}, x, train=True, rngs={"dropout": lamina.random.key(0)})
    kept = np.asarray(y) != 0
    assert abs(kept.mean() - 0.75) < 0.02
    assert_array_close(np.asarray(y)[kept], (x / 0.75)[kept], rtol=1e-6)
    assert_array_close(nn.Dropout(0.0).apply({}, x, train=True), x)
    assert not np.asarray(nn.Dropout(1.0).apply({}, x, train=True)).any()
    # broadcast_dims: one mask per column
    yb = np.asarray(nn.Dropout(0.5, broadcast_dims=(0,)).apply(
        {}, x, train=True, rngs=lamina.random.key(1)))
    assert ((yb == 0).all(axis=0) | (yb != 0).all(axis=0)).all()


def test_rng_stream_in_a_model(rng):
    class Net(nn.Module):
        def __call__(self, x):
            return nn.Dropout(0.5)(x), nn.Dropout(0.5)(x)

    x = np.ones((8, 16), np.float32)
    model = Net()
    variables = model.init(lamina.random.key(0), x)
    a, b = model.apply(variables, x, train=True, rngs={"dropout": lamina.random.key(3)})
    assert not np.array_equal(np.asarray(a), np.asarray(b))   # distinct keys per module
    a2, _ = model.apply(variables, x, train=True, rngs={"dropout": lamina.random.key(3)})
    assert_array_close(a2, a)                                  # deterministic given the key
    a3, _ = lamina.jit(lambda v, x, k: model.apply(v, x, train=True, rngs={"dropout": k}))(
        variables, x, lamina.random.key(3))
    assert_array_close(a3, a)
    with pytest.raises(Exception, match="dropout"):
        model.apply(variables, x, train=True)
    # per-example masks under vmap with per-example keys
    keys = lamina.random.split(lamina.random.key(0), 8)
    per = lamina.vmap(lambda xi, k: nn.Dropout(0.5).apply({}, xi, train=True, rng=k))(x, keys)
    assert per.shape == x.shape


def test_dropout_bad_use():
    x = lnp.ones((2, 2))
    with pytest.raises(ValueError, match="rate"):
        nn.Dropout(1.5).apply({}, x, train=True, rng=lamina.random.key(0))
    with pytest.raises(ValueError, match="deterministic"):
        nn.Dropout(0.5, deterministic=True).apply({}, x, deterministic=False)
