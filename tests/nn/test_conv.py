"""nn.Conv / nn.ConvTranspose against flax.linen (the oracle) given the same parameters:
output shapes, dtypes and values for every constructor form (1D/2D/3D, strides, every
padding kind, dilations, groups, batch layouts, dtypes), gradients, jit and vmap."""
import jax
import jax.numpy as jnp
import flax.linen as fnn
import numpy as np
import pytest

import lamina
import lamina.numpy as lnp
from lamina import nn
from lamina.testing import assert_array_close, check_grads


def _np_tree(tree):
    return jax.tree_util.tree_map(np.asarray, tree)


def _compare(layer, flayer, x, rtol=1e-5, atol=1e-5):
    """Init flax, copy its params into lamina, compare shapes/dtypes/values."""
    fvars = flayer.init(jax.random.key(0), jnp.asarray(x))
    lvars = layer.init(lamina.random.key(0), x)
    fshapes = jax.tree_util.tree_map(lambda a: (a.shape, a.dtype), fvars)
    lshapes = jax.tree_util.tree_map(lambda a: (tuple(a.shape), np.dtype(a.dtype)), lvars)
    assert lshapes == fshapes
    want = np.asarray(flayer.apply(fvars, jnp.asarray(x)))
    got = layer.apply(_np_tree(fvars), x)
    assert tuple(got.shape) == want.shape and np.dtype(got.dtype) == want.dtype
    assert_array_close(np.asarray(got, np.float32), want.astype(np.float32),
                       rtol=rtol, atol=atol)
    return got


CONV_CASES = {
    "1d_same": (dict(features=3, kernel_size=(3,)), (2, 9, 4)),
    "1d_int_kernel_causal": (dict(features=3, kernel_size=3, padding="CAUSAL",
                                  kernel_dilation=2), (2, 9, 4)),
    "2d_stride_valid": (dict(features=5, kernel_size=(3, 2), strides=2, padding="VALID"),
                        (2, 7, 8, 3)),
    "2d_explicit": (dict(features=4, kernel_size=(3, 3), padding=((1, 2), 0)), (1, 6, 6, 2)),
    "2d_int_padding_no_bias": (dict(features=4, kernel_size=(3, 3), padding=1, strides=(1, 2),
                                    use_bias=False), (1, 6, 6, 2)),
    "2d_dilations": (dict(features=2, kernel_size=(2, 2), input_dilation=2,
                          padding=((1, 0), 1), kernel_dilation=(1, 2)), (1, 5, 5, 3)),
    "2d_groups": (dict(features=6, kernel_size=(3, 3), feature_group_count=3), (2, 5, 5, 6)),
    "2d_circular": (dict(features=2, kernel_size=(3, 4), padding="CIRCULAR"), (1, 5, 6, 2)),
    "3d": (dict(features=2, kernel_size=(2, 2, 2), strides=(1, 2, 1)), (1, 4, 4, 4, 2)),
    "2d_extra_batch": (dict(features=2, kernel_size=(3, 3)), (2, 3, 5, 5, 2)),
    "2d_unbatched": (dict(features=2, kernel_size=(3, 3)), (5, 5, 2)),
}


@pytest.mark.parametrize("name", list(CONV_CASES))
def test_conv_matches_flax(name, rng):
    kw, shape = CONV_CASES[name]
    x = rng.standard_normal(shape).astype(np.float32)
    _compare(nn.Conv(**kw), fnn.Conv(**kw), x)


CONV_T_CASES = {
    "1d": (dict(features=3, kernel_size=(3,), strides=(2,)), (2, 5, 4)),
    "2d_valid": (dict(features=2, kernel_size=(3, 3), strides=(2, 1), padding="VALID"),
                 (1, 4, 4, 3)),
    "2d_explicit_dilated": (dict(features=2, kernel_size=(2, 3), padding=((1, 0), (2, 1)),
                                 kernel_dilation=(2, 1)), (1, 4, 5, 2)),
    "2d_transpose_kernel": (dict(features=2, kernel_size=(3, 3), strides=(2, 2),
                                 transpose_kernel=True), (1, 4, 4, 3)),
    "2d_circular": (dict(features=2, kernel_size=(3, 3), strides=(2, 2), padding="CIRCULAR"),
                    (1, 4, 4, 2)),
    "3d_unbatched": (dict(features=2, kernel_size=(2, 2, 2), use_bias=False), (3, 3, 3, 2)),
}


@pytest.mark.parametrize("name", list(CONV_T_CASES))
def test_conv_transpose_matches_flax(name, rng):
    kw, shape = CONV_T_CASES[name]
    x = rng.standard_normal(shape).astype(np.float32)
    _compare(nn.ConvTranspose(**kw), fnn.ConvTranspose(**kw), x)


def test_conv_dtypes(rng):
    x = rng.standard_normal((1, 6, 6, 2)).astype(np.float32)
    layer = nn.Conv(4, (3, 3), dtype=lnp.bfloat16, param_dtype=lnp.bfloat16)
    flayer = fnn.Conv(4, (3, 3), dtype=jnp.bfloat16, param_dtype=jnp.bfloat16)
    y = _compare(layer, flayer, x, rtol=2e-2, atol=2e-2)
    assert y.dtype == lnp.bfloat16
    # default: compute dtype promoted from the bf16 input and the float32 params
    v = nn.Conv(4, (3, 3)).init(lamina.random.key(0), x.astype(lnp.bfloat16))
    assert v["params"]["kernel"].dtype == lnp.float32
    assert nn.Conv(4, (3, 3)).apply(v, x.astype(lnp.bfloat16)).dtype == lnp.float32


def test_conv_closed_form_with_constant_init():
    layer = nn.Conv(2, (3, 3), padding="VALID", kernel_init=nn.initializers.ones,
                    bias_init=nn.initializers.ones)
    x = lnp.ones((1, 4, 4, 3))
    y = layer.apply(layer.init(lamina.random.key(0), x), x)
    assert_array_close(y, np.full((1, 2, 2, 2), 3 * 3 * 3 + 1, np.float32))


def test_conv_grads_jit_vmap(rng):
    with lamina.config.override(enable_x64=True):
        layer = nn.Conv(2, (3,), strides=2, padding="CAUSAL", kernel_dilation=1,
                        param_dtype=lnp.float64)
        x = rng.standard_normal((2, 5, 3))
        params = layer.init(lamina.random.key(0), x)["params"]
        f = lambda p, x: layer.apply({"params": p}, x)
        check_grads(f, (params, x), order=1, modes=("rev",))
        ct = nn.ConvTranspose(2, (2, 2), strides=(2, 2), param_dtype=lnp.float64)
        x2 = rng.standard_normal((1, 3, 3, 2))
        p2 = ct.init(lamina.random.key(1), x2)["params"]
        check_grads(lambda p, x: ct.apply({"params": p}, x), (p2, x2), order=1, modes=("rev",))
    layer = nn.Conv(3, (3, 3))
    x = rng.standard_normal((4, 6, 6, 2)).astype(np.float32)
    variables = layer.init(lamina.random.key(0), x)
    eager = layer.apply(variables, x)
    assert_array_close(lamina.jit(layer.apply)(variables, x), eager, rtol=1e-5, atol=1e-5)
    # vmap over a batch of single (unbatched) examples
    per_example = lamina.vmap(lambda xi: layer.apply(variables, xi))(x)
    assert_array_close(per_example, eager, rtol=1e-5, atol=1e-5)


def test_conv_bad_use():
    x = lnp.ones((1, 5, 5, 4))
    with pytest.raises(ValueError, match="CAUSAL"):
        nn.Conv(2, (3, 3), padding="CAUSAL").init(lamina.random.key(0), x)
    with pytest.raises(ValueError, match="feature_group_count"):
        nn.Conv(2, (3, 3), feature_group_count=3).init(lamina.random.key(0), x)
    with pytest.raises(ValueError, match="rank"):
        nn.Conv(2, (3, 3)).init(lamina.random.key(0), lnp.ones((5, 4)))
    with pytest.raises(ValueError, match="strides"):
        nn.Conv(2, (3, 3), strides=(1, 2, 3)).init(lamina.random.key(0), x)
