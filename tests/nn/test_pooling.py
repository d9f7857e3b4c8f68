"""max_pool / avg_pool / min_pool against flax.linen's pooling functions: windows,
strides, every padding kind, count_include_pad, batch layouts; gradients, jit, vmap."""
import jax.numpy as jnp
import flax.linen as fnn
from flax.linen import pooling as fpool
import numpy as np
import pytest

import lamina
import lamina.numpy as lnp
from lamina import nn
from lamina.testing import assert_array_close, check_grads

CASES = {
    "1d": ((2, 7, 3), dict(window_shape=(2,))),
    "1d_stride_same": ((2, 7, 3), dict(window_shape=(3,), strides=(2,), padding="SAME")),
    "2d": ((2, 6, 6, 2), dict(window_shape=(2, 2), strides=(2, 2))),
    "2d_explicit": ((1, 5, 4, 2), dict(window_shape=(3, 2), strides=(1, 2),
                                       padding=((1, 1), (0, 1)))),
    "3d": ((1, 4, 4, 4, 1), dict(window_shape=(2, 2, 2), padding="SAME")),
    "unbatched": ((5, 5, 2), dict(window_shape=(2, 2), padding="SAME")),
    "extra_batch": ((2, 3, 5, 2), dict(window_shape=(2,), strides=(2,))),
}


@pytest.mark.parametrize("name", list(CASES))
def test_pools_match_flax(name, rng):
    shape, kw = CASES[name]
    x = rng.standard_normal(shape).astype(np.float32)
    for fn in ("max_pool", "min_pool", "avg_pool"):
        got = getattr(nn, fn)(x, **kw)
        want = np.asarray(getattr(fpool, fn)(jnp.asarray(x), **kw))
        assert tuple(got.shape) == want.shape and got.dtype == want.dtype
        assert_array_close(got, want, rtol=1e-6, atol=1e-6)
    if kw.get("padding", "VALID") != "VALID":
        got = nn.avg_pool(x, count_include_pad=False, **kw)
        want = np.asarray(fnn.avg_pool(jnp.asarray(x), count_include_pad=False, **kw))
        assert_array_close(got, want, rtol=1e-6, atol=1e-6)


def test_pool_closed_form_and_dtypes():
    x = lnp.arange(16.0).reshape(1, 4, 4, 1)
    assert_array_close(nn.max_pool(x, (2, 2), (2, 2))[0, :, :, 0],
                       np.array([[5.0, 7.0], [13.0, 15.0]], np.float32))
    assert_array_close(nn.avg_pool(x, (2, 2), (2, 2))[0, :, :, 0],
                       np.array([[2.5, 4.5], [10.5, 12.5]], np.float32))
    xi = lnp.arange(8, dtype=lnp.int32).reshape(1, 8, 1)
    assert nn.max_pool(xi, (2,), (2,)).dtype == lnp.int32
    assert nn.max_pool(x.astype(lnp.bfloat16), (2, 2)).dtype == lnp.bfloat16


def test_pool_grads_jit_vmap(rng):
    with lamina.config.override(enable_x64=True):
        x = rng.standard_normal((1, 5, 4, 2))
        check_grads(lambda x: nn.avg_pool(x, (2, 2), padding="SAME",
                                          count_include_pad=False), (x,), order=1)
        check_grads(lambda x: nn.max_pool(x, (2, 2), (2, 1)), (x,), order=1, modes=("rev",))
    x = rng.standard_normal((3, 6, 6, 2)).astype(np.float32)
    f = lambda x: nn.max_pool(x, (3, 3), (2, 2), "SAME")
    assert_array_close(lamina.jit(f)(x), f(x))
    assert_array_close(lamina.vmap(f)(x), f(x))


def test_pool_bad_use():
    x = lnp.ones((1, 4, 4, 1))
    with pytest.raises(TypeError, match="window_shape"):
        nn.max_pool(x, 2)
    with pytest.raises(ValueError, match="strides"):
        nn.avg_pool(x, (2, 2), strides=(1,))
    with pytest.raises(ValueError, match="padding"):
        nn.max_pool(x, (2, 2), padding="FULL")
    with pytest.raises(ValueError, match="rank"):
        nn.max_pool(lnp.ones((4,)), (2, 2))
