"""Dense, DenseGeneral, Einsum, Embed: shapes, closed forms, Flax equality, grads, jit/vmap."""
import flax.linen as fnn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import lamina
import lamina.numpy as lnp
import lamina.testing
from lamina import nn

K = lamina.random.PRNGKey(0)
RNG = np.random.default_rng(0)
X = RNG.normal(size=(2, 3, 4)).astype(np.float32)


def shapes(tree):
    return lamina.tree_util.tree_map(lambda a: tuple(a.shape), tree)


def to_np(tree):
    return lamina.tree_util.tree_map(np.asarray, tree)


def flax_apply(fmod, variables, *args, **kw):
    return np.asarray(fmod.apply(jax.tree_util.tree_map(jnp.asarray, to_np(variables)),
                                 *args, **kw))


@pytest.mark.parametrize("kw", [{}, {"use_bias": False}])
def test_dense_shapes_and_flax(kw):
    layer = nn.Dense(5, **kw)
    v = layer.init(K, lnp.asarray(X))
    want = {"kernel": (4, 5)} | ({} if kw else {"bias": (5,)})
    assert shapes(v) == {"params": want}
    y = layer.apply(v, lnp.asarray(X))
    assert y.shape == (2, 3, 5) and y.dtype == np.float32
    np.testing.assert_allclose(np.asarray(y), flax_apply(fnn.Dense(5, **kw), v, X),
                               rtol=1e-6, atol=1e-6)
    # init statistics/values: Flax's default kernel init is lecun_normal, bias zeros
    ref = jax.nn.initializers.lecun_normal()(jax.random.PRNGKey(1), (4, 5))
    ours = nn.initializers.lecun_normal()(lamina.random.PRNGKey(1), (4, 5))
    np.testing.assert_array_equal(np.asarray(ours), np.asarray(ref))


def test_dense_closed_form_and_any_batch_dims():
    layer = nn.Dense(3, kernel_init=nn.initializers.ones,
                     bias_init=nn.initializers.constant(0.5))
    for shape in [(4,), (2, 4), (2, 3, 4), (0, 4)]:
        x = lnp.ones(shape)
        v = layer.init(K, x)
        y = layer.apply(v, x)
        assert y.shape == shape[:-1] + (3,)
        np.testing.assert_array_equal(np.asarray(y), np.full(shape[:-1] + (3,), 4.5, np.float32))


def test_dense_dtypes():
    x = lnp.ones((2, 4), lnp.bfloat16)
    layer = nn.Dense(3)
    v = layer.init(K, x)
    assert v["params"]["kernel"].dtype == np.float32
    assert layer.apply(v, x).dtype == np.float32            # promoted with f32 params
    assert nn.Dense(3, dtype=lnp.bfloat16).apply(v, x).dtype == lnp.bfloat16
    v16 = nn.Dense(3, param_dtype=lnp.bfloat16).init(K, x)
    assert v16["params"]["kernel"].dtype == lnp.bfloat16
    assert nn.Dense(3, param_dtype=lnp.bfloat16).apply(v16, x).dtype == lnp.bfloat16
    # integer inputs are promoted to float
    assert layer.apply(v, lnp.ones((2, 4), lnp.int32)).dtype == np.float32


def test_dense_grads_jit_vmap():
    layer = nn.Dense(3)
    x = lnp.asarray(X[0])
    v = layer.init(K, x)
    f = lambda v, x: layer.apply(v, x)  # noqa: E731
    lamina.testing.check_grads(lambda k, x: f({"params": {"kernel": k, "bias": v["params"]["bias"]}}, x),
                               (v["params"]["kernel"], x), order=1)
    jf = lamina.jit(f)
    np.testing.assert_allclose(np.asarray(jf(v, x)), np.asarray(f(v, x)), rtol=1e-6)
    ys = lamina.vmap(f, in_axes=(None, 0))(v, lnp.asarray(X))
    np.testing.assert_allclose(np.asarray(ys), np.asarray(f(v, lnp.asarray(X))), rtol=1e-6)


@pytest.mark.parametrize("kw,kshape,yshape", [
    (dict(features=6), (4, 6), (2, 3, 6)),
    (dict(features=(5, 6), axis=(-2, -1)), (3, 4, 5, 6), (2, 5, 6)),
    (dict(features=(5,), axis=1), (3, 5), (2, 4, 5)),
    (dict(features=5, axis=(1, 2), batch_dims=(0,)), (2, 3, 4, 5), (2, 5)),
])
def test_dense_general(kw, kshape, yshape):
    layer = nn.DenseGeneral(**kw)
    v = layer.init(K, lnp.asarray(X))
    assert v["params"]["kernel"].shape == kshape
    y = layer.apply(v, lnp.asarray(X))
    assert y.shape == yshape
    np.testing.assert_allclose(np.asarray(y), flax_apply(fnn.DenseGeneral(**kw), v, X),
                               rtol=1e-5, atol=1e-6)
    # as Flax, the initializer sees the flattened (fan_in, fan_out) kernel
    seen = []
    rec = lambda k, shape, dtype=lnp.float32: seen.append(shape) or lnp.zeros(shape, dtype)  # noqa: E731
    nn.DenseGeneral(**kw, kernel_init=rec).init(K, lnp.asarray(X))
    assert len(seen[0]) == 2 and int(np.prod(seen[0])) == int(np.prod(kshape))


def test_dense_general_bad_batch_dims():
    with pytest.raises(ValueError, match="consecutive"):
        nn.DenseGeneral(3, axis=-1, batch_dims=(1,)).init(K, lnp.asarray(X))


@pytest.mark.parametrize("eq,shape,xshape", [
    ("abc,cde->abde", (4, 5, 6), (2, 3, 4)),
    ("...c,cd->...d", (4, 5), (2, 3, 4)),
    ("abc,bcd->ad", (3, 4, 5), (2, 3, 4)),
])
def test_einsum(eq, shape, xshape):
    x = X.reshape(xshape)
    layer = nn.Einsum(shape, eq)
    v = layer.init(K, lnp.asarray(x))
    y = layer.apply(v, lnp.asarray(x))
    np.testing.assert_allclose(np.asarray(y), flax_apply(fnn.Einsum(shape, eq), v, x),
                               rtol=1e-5, atol=1e-6)
    fv = fnn.Einsum(shape, eq).init(jax.random.PRNGKey(0), x)
    assert shapes(v) == jax.tree_util.tree_map(lambda a: tuple(a.shape), fv)
    # einsum_str at call time
    y2 = nn.Einsum(shape).apply(v, lnp.asarray(x), eq)
    np.testing.assert_allclose(np.asarray(y2), np.asarray(y), rtol=1e-6)
    with pytest.raises(ValueError, match="exactly once"):
        nn.Einsum(shape, eq).init(K, lnp.asarray(x), eq)


def test_embed_and_attend():
    emb = nn.Embed(7, 4)
    ids = np.array([[0, 3, 6], [1, 1, 2]])
    v = emb.init(K, lnp.asarray(ids))
    assert shapes(v) == {"params": {"embedding": (7, 4)}}
    y = emb.apply(v, lnp.asarray(ids))
    assert y.shape == (2, 3, 4)
    np.testing.assert_array_equal(np.asarray(y), flax_apply(fnn.Embed(7, 4), v, ids))
    q = RNG.normal(size=(5, 4)).astype(np.float32)
    att = emb.apply(v, lnp.asarray(q), method="attend")
    np.testing.assert_allclose(np.asarray(att),
                               flax_apply(fnn.Embed(7, 4), v, q, method="attend"), rtol=1e-5)
    e = nn.Embed(5, 2, embedding_init=nn.initializers.constant(2.0))
    ve = e.init(K, lnp.array([1]))
    np.testing.assert_array_equal(np.asarray(e.apply(ve, lnp.array([1, 4]))), np.full((2, 2), 2.0))
    with pytest.raises(ValueError, match="integer"):
        emb.apply(v, lnp.ones((2,)))
    g = lamina.grad(lambda v: emb.apply(v, lnp.asarray(ids)).sum())(v)
    assert float(g["params"]["embedding"][1, 0]) == 2.0  # id 1 appears twice


def test_jit_static_module_and_vmap_over_params():
    x = lnp.asarray(X[0])
    layer = nn.Dense(2)
    f = lamina.jit(lambda m, v, x: m.apply(v, x), static_argnums=0)
    v = layer.init(K, x)
    np.testing.assert_allclose(np.asarray(f(layer, v, x)), np.asarray(layer.apply(v, x)), rtol=1e-6)
    keys = lamina.random.split(K, 3)
    vs = lamina.vmap(lambda k: layer.init(k, x))(keys)
    assert vs["params"]["kernel"].shape == (3, 4, 2)
    ys = lamina.vmap(lambda v: layer.apply(v, x))(vs)
    assert ys.shape == (3, 3, 2)
