"""Normalization layers against flax.linen given the same parameters: BatchNorm (train
and eval, state updates, cross-device statistics under vmap(axis_name)), LayerNorm,
RMSNorm, GroupNorm, InstanceNorm; shapes, dtypes, gradients, jit and vmap."""
import jax
import jax.numpy as jnp
import flax.linen as fnn
import numpy as np
import pytest

import lamina
import lamina.numpy as lnp
from lamina import nn
from lamina.testing import assert_array_close, assert_trees_close, check_grads


def _np_tree(tree):
    return jax.tree_util.tree_map(np.asarray, tree)


def _shapes(tree):
    return jax.tree_util.tree_map(lambda a: (tuple(a.shape), np.dtype(a.dtype).name), tree)


def _close(got, want, tol=1e-5):
    want = np.asarray(want)
    assert tuple(got.shape) == want.shape and np.dtype(got.dtype) == want.dtype, (
        got.shape, got.dtype, want.shape, want.dtype)
    assert_array_close(np.asarray(got, np.float32), want.astype(np.float32), rtol=tol, atol=tol)


def _flax_to_lamina(fvars):
    out = {"params": _np_tree(fvars["params"])} if "params" in fvars else {}
    if "batch_stats" in fvars:
        out["state"] = _np_tree(fvars["batch_stats"])
    return out


# ------------------------------------------------------------------ BatchNorm

BN_CASES = {
    "default": (dict(), (6, 3)),
    "nchw": (dict(axis=1, momentum=0.9), (4, 3, 2, 2)),
    "two_axes": (dict(axis=(1, 2), epsilon=1e-3), (4, 2, 3)),
    "no_affine_slow_var": (dict(use_bias=False, use_scale=False, use_fast_variance=False),
                           (5, 2, 3)),
}


@pytest.mark.parametrize("name", list(BN_CASES))
def test_batchnorm_train_eval_state_matches_flax(name, rng):
    kw, shape = BN_CASES[name]
    x = (rng.standard_normal(shape) * 3 + 1).astype(np.float32)
    flayer_t = fnn.BatchNorm(use_running_average=False, **kw)
    flayer_e = fnn.BatchNorm(use_running_average=True, **kw)
    fvars = flayer_t.init(jax.random.key(0), jnp.asarray(x))
    layer = nn.BatchNorm(**kw)
    lvars = layer.init(lamina.random.key(0), x)
    assert _shapes(lvars) == _shapes(_flax_to_lamina(fvars))
    # give the scale/bias nonzero values so the affine part is checked too
    fvars = jax.tree_util.tree_map(lambda a: a + 0.25 * jnp.arange(a.size).reshape(a.shape),
                                   fvars)
    variables = _flax_to_lamina(fvars)
    fy, fnew = flayer_t.apply(fvars, jnp.asarray(x), mutable=["batch_stats"])
    y, new = layer.apply(variables, x, train=True, mutable=True)
    _close(y, fy)
    assert_trees_close(new["state"], _np_tree(fnew["batch_stats"]), rtol=1e-5, atol=1e-6)
    # eval with the updated statistics (the flag or the field/argument)
    fvars2 = {**fvars, "batch_stats": fnew["batch_stats"]}
    variables2 = {**variables, "state": new["state"]}
    want = flayer_e.apply(fvars2, jnp.asarray(x))
    _close(layer.apply(variables2, x), want)
    _close(layer.apply(variables2, x, use_running_average=True, train=True), want)
    _close(nn.BatchNorm(use_running_average=True, **kw).apply(variables2, x, train=True), want)


def test_batchnorm_bad_use(rng):
    x = rng.standard_normal((4, 3)).astype(np.float32)
    layer = nn.BatchNorm()
    variables = layer.init(lamina.random.key(0), x)
    with pytest.raises(Exception, match="mutable"):
        layer.apply(variables, x, train=True)          # the state update needs mutable
    with pytest.raises(ValueError, match="use_running_average"):
        nn.BatchNorm(use_running_average=True).apply(variables, x, use_running_average=False)


def test_batchnorm_cross_device_vmap(rng):
    """Statistics averaged over `axis_name`: each 'device' holds 3 of 12 examples, and
    the result equals BatchNorm over the whole batch (and Flax under jax.vmap)."""
    x = rng.standard_normal((4, 3, 5)).astype(np.float32)      # (devices, per-device, C)
    layer = nn.BatchNorm(axis_name="batch", momentum=0.8)
    variables = layer.init(lamina.random.key(0), x[0])

    def step(xd):
        return layer.apply(variables, xd, train=True, mutable=True)

    y, new = lamina.vmap(step, axis_name="batch")(x)
    whole, whole_new = nn.BatchNorm(momentum=0.8).apply(
        variables, x.reshape(12, 5), train=True, mutable=True)
    assert_array_close(y.reshape(12, 5), whole, rtol=1e-5, atol=1e-5)
    for d in range(4):   # every device ends with the same (global) running statistics
        assert_trees_close(jax.tree_util.tree_map(lambda a: a[d], new["state"]),
                           whole_new["state"], rtol=1e-5, atol=1e-6)
    flayer = fnn.BatchNorm(use_running_average=False, axis_name="batch", momentum=0.8)
    fvars = flayer.init(jax.random.key(0), jnp.asarray(x[0]))
    fy, _ = jax.vmap(lambda xd: flayer.apply(fvars, xd, mutable=["batch_stats"]),
                     axis_name="batch")(jnp.asarray(x))
    _close(y, fy)
    # under jit too
    yj, _ = lamina.jit(lamina.vmap(step, axis_name="batch"))(x)
    assert_array_close(yj, y, rtol=1e-5, atol=1e-5)


def test_batchnorm_pmap_one_device(rng):
    x = rng.standard_normal((1, 4, 3)).astype(np.float32)
    layer = nn.BatchNorm(axis_name="i")
    variables = layer.init(lamina.random.key(0), x[0])
    y, new = lamina.pmap(lambda xd: layer.apply(variables, xd, train=True, mutable=True),
                         axis_name="i")(x)
    want, want_new = nn.BatchNorm().apply(variables, x[0], train=True, mutable=True)
    assert_array_close(y[0], want, rtol=1e-5, atol=1e-5)
    assert_array_close(new["state"]["mean"][0], want_new["state"]["mean"], rtol=1e-5,
                       atol=1e-6)


def test_batchnorm_in_model_and_grads(rng):
    class Net(nn.Module):
        def __call__(self, x):
            return nn.BatchNorm(momentum=0.5)(x).sum(axis=-1)

    with lamina.config.override(enable_x64=True):
        x = rng.standard_normal((5, 3))
        model = Net()
        variables = model.init(lamina.random.key(0), x)
        assert set(variables) == {"params", "state"}
        assert variables["state"]["BatchNorm_0"]["mean"].shape == (3,)
        f = lambda p, x: model.apply({"params": p, "state": variables["state"]}, x,
                                     train=True, mutable=True)[0]
        p64 = jax.tree_util.tree_map(lambda a: np.asarray(a, np.float64), variables["params"])
        check_grads(f, (p64, x), order=1, modes=("rev",))


# ------------------------------------------------------------------ LayerNorm & co.

NORM_CASES = {
    "layernorm": (nn.LayerNorm, fnn.LayerNorm, dict(), (2, 3, 6)),
    "layernorm_axes": (nn.LayerNorm, fnn.LayerNorm,
                       dict(reduction_axes=(1, 2), feature_axes=-1, epsilon=1e-3), (2, 3, 4)),
    "layernorm_two_feature_axes": (nn.LayerNorm, fnn.LayerNorm,
                                   dict(reduction_axes=(-2, -1), feature_axes=(-2, -1)),
                                   (2, 3, 4)),
    "layernorm_no_scale": (nn.LayerNorm, fnn.LayerNorm,
                           dict(use_scale=False, use_fast_variance=False), (3, 5)),
    "rmsnorm": (nn.RMSNorm, fnn.RMSNorm, dict(), (2, 3, 6)),
    "rmsnorm_axes": (nn.RMSNorm, fnn.RMSNorm, dict(reduction_axes=(1, 2)), (2, 3, 4)),
    "groupnorm": (nn.GroupNorm, fnn.GroupNorm, dict(num_groups=2), (2, 3, 3, 4)),
    "groupnorm_size": (nn.GroupNorm, fnn.GroupNorm, dict(num_groups=None, group_size=3),
                       (2, 5, 6)),
    "groupnorm_axes": (nn.GroupNorm, fnn.GroupNorm, dict(num_groups=4, reduction_axes=-1),
                       (2, 3, 8)),
    "instancenorm": (nn.InstanceNorm, fnn.InstanceNorm, dict(), (2, 4, 4, 3)),
    "instancenorm_nchw": (nn.InstanceNorm, fnn.InstanceNorm, dict(feature_axes=1),
                          (2, 3, 5)),
}


@pytest.mark.parametrize("name", list(NORM_CASES))
def test_norm_matches_flax(name, rng):
    cls, fcls, kw, shape = NORM_CASES[name]
    x = (rng.standard_normal(shape) * 2 - 0.5).astype(np.float32)
    flayer = fcls(**kw)
    fvars = flayer.init(jax.random.key(0), jnp.asarray(x))
    layer = cls(**kw)
    assert _shapes(layer.init(lamina.random.key(0), x)) == _shapes(fvars)
    fvars = jax.tree_util.tree_map(lambda a: a + 0.1 * jnp.arange(a.size).reshape(a.shape),
                                   fvars)
    _close(layer.apply(_np_tree(fvars), x), flayer.apply(fvars, jnp.asarray(x)))


def test_norm_dtypes(rng):
    x = rng.standard_normal((2, 8)).astype(lnp.bfloat16)
    for cls, fcls in ((nn.LayerNorm, fnn.LayerNorm), (nn.RMSNorm, fnn.RMSNorm)):
        fvars = fcls().init(jax.random.key(0), jnp.asarray(x))
        got = cls().apply(_np_tree(fvars), x)
        _close(got, fcls().apply(fvars, jnp.asarray(x)), tol=1e-2)
        assert got.dtype == lnp.float32                   # promoted with float32 params
        got = cls(dtype=lnp.bfloat16, param_dtype=lnp.bfloat16)
        v = got.init(lamina.random.key(0), x)
        assert v["params"]["scale"].dtype == lnp.bfloat16
        assert got.apply(v, x).dtype == lnp.bfloat16


def test_norm_closed_form():
    x = lnp.array([[0.0, 2.0, 4.0, 6.0]])
    ln = nn.LayerNorm(epsilon=0.0, scale_init=nn.initializers.constant(2.0),
                      bias_init=nn.initializers.ones)
    y = ln.apply(ln.init(lamina.random.key(0), x), x)
    std = np.sqrt(5.0)
    want = (np.array([[-3, -1, 1, 3]]) / std * 2 + 1).astype(np.float32)
    assert_array_close(y, want, rtol=1e-6)


def test_norm_grads_jit_vmap(rng):
    with lamina.config.override(enable_x64=True):
        x = rng.standard_normal((2, 3, 4))
        for layer in (nn.LayerNorm(param_dtype=lnp.float64),
                      nn.GroupNorm(num_groups=2, param_dtype=lnp.float64),
                      nn.RMSNorm(param_dtype=lnp.float64)):
            p = layer.init(lamina.random.key(0), x)["params"]
            p = jax.tree_util.tree_map(lambda a: a + 0.3, p)
            check_grads(lambda p, x: layer.apply({"params": p}, x), (p, x), order=1,
                        modes=("rev",))
    x = rng.standard_normal((3, 4, 6)).astype(np.float32)
    layer = nn.LayerNorm()
    variables = layer.init(lamina.random.key(0), x)
    eager = layer.apply(variables, x)
    assert_array_close(lamina.jit(layer.apply)(variables, x), eager, rtol=1e-6, atol=1e-6)
    assert_array_close(lamina.vmap(lambda xi: layer.apply(variables, xi))(x), eager,
                       rtol=1e-6, atol=1e-6)


def test_norm_bad_use():
    x = lnp.ones((2, 6))
    with pytest.raises(ValueError, match="num_groups"):
        nn.GroupNorm(num_groups=4).init(lamina.random.key(0), x)
    with pytest.raises(ValueError, match="group_size"):
        nn.GroupNorm(group_size=3).init(lamina.random.key(0), x)
    with pytest.raises(ValueError, match="axis 0"):
        nn.InstanceNorm(feature_axes=0).init(lamina.random.key(0), x)
    with pytest.raises(ValueError, match="out of range"):
        nn.LayerNorm(reduction_axes=3).init(lamina.random.key(0), x)
