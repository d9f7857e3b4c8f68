"""Attention against flax.linen given the same parameters: dot_product_attention (bias,
mask, dtype, dropout with the same key), the mask helpers, MultiHeadDotProductAttention /
SelfAttention (cross/self, masks, causal, qkv/out features, normalize_qk, dropout),
key/value-cache decoding, gradients, jit and vmap."""
import warnings

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


def _shapes(tree):
    return jax.tree_util.tree_map(lambda a: (tuple(a.shape), np.dtype(a.dtype).name), tree)


def _close(got, want, tol=1e-5):
    want = np.asarray(want)
    assert tuple(got.shape) == want.shape and np.dtype(got.dtype) == want.dtype, (
        got.shape, got.dtype, want.shape, want.dtype)
    assert_array_close(np.asarray(got, np.float32), want.astype(np.float32), rtol=tol, atol=tol)


def test_dot_product_attention_matches_flax(rng):
    q = rng.standard_normal((2, 4, 3, 8)).astype(np.float32)
    k = rng.standard_normal((2, 5, 3, 8)).astype(np.float32)
    v = rng.standard_normal((2, 5, 3, 6)).astype(np.float32)
    bias = rng.standard_normal((1, 3, 4, 5)).astype(np.float32)
    mask = rng.random((2, 1, 4, 5)) > 0.3
    mask[..., 0] = True
    J = lambda a: jnp.asarray(a)
    _close(nn.dot_product_attention(q, k, v), fnn.dot_product_attention(J(q), J(k), J(v)))
    _close(nn.dot_product_attention(q, k, v, bias=bias, mask=mask),
           fnn.dot_product_attention(J(q), J(k), J(v), bias=J(bias), mask=J(mask)))
    _close(nn.dot_product_attention_weights(q, k, mask=mask),
           fnn.dot_product_attention_weights(J(q), J(k), mask=J(mask)))
    # dtype: bf16 compute
    got = nn.dot_product_attention(q, k, v, dtype=lnp.bfloat16)
    _close(got, fnn.dot_product_attention(J(q), J(k), J(v), dtype=jnp.bfloat16), tol=3e-2)
    # dropout: the same key gives the same mask (lamina.random == jax.random bit for bit)
    for broadcast in (True, False):
        got = nn.dot_product_attention(q, k, v, dropout_rate=0.4, deterministic=False,
                                       dropout_rng=lamina.random.key(7),
                                       broadcast_dropout=broadcast)
        want = fnn.dot_product_attention(J(q), J(k), J(v), dropout_rate=0.4,
                                         deterministic=False, dropout_rng=jax.random.key(7),
                                         broadcast_dropout=broadcast)
        _close(got, want)


def test_masks_match_flax(rng):
    tokens = np.array([[3, 1, 0, 0], [5, 2, 7, 0]], np.int32)
    _close(nn.make_causal_mask(tokens), fnn.make_causal_mask(jnp.asarray(tokens)))
    _close(nn.make_causal_mask(tokens, extra_batch_dims=1, dtype=lnp.bool_),
           fnn.make_causal_mask(jnp.asarray(tokens), extra_batch_dims=1, dtype=jnp.bool_))
    pad = tokens > 0
    _close(nn.make_attention_mask(pad, pad), fnn.make_attention_mask(pad, pad))
    _close(nn.make_attention_mask(tokens, tokens[:, :3], lnp.greater),
           fnn.make_attention_mask(jnp.asarray(tokens), jnp.asarray(tokens[:, :3]),
                                   jnp.greater))
    a, b = nn.make_causal_mask(tokens), nn.make_attention_mask(pad, pad)
    _close(nn.combine_masks(a, None, b),
           fnn.combine_masks(jnp.asarray(a), None, jnp.asarray(b)))
    assert nn.combine_masks(None, None) is None


MHA_CASES = {
    "self": (dict(num_heads=2), False),
    "cross_features": (dict(num_heads=3, qkv_features=12, out_features=5), True),
    "no_bias_normqk": (dict(num_heads=2, use_bias=False, normalize_qk=True), False),
    "fp32_softmax": (dict(num_heads=1, force_fp32_for_softmax=True), True),
}


@pytest.mark.parametrize("name", list(MHA_CASES))
def test_mha_matches_flax(name, rng):
    kw, cross = MHA_CASES[name]
    xq = rng.standard_normal((2, 4, 6)).astype(np.float32)
    xkv = rng.standard_normal((2, 5, 6)).astype(np.float32) if cross else xq
    mask = nn.make_causal_mask(np.ones((2, 4))) if not cross else \
        nn.make_attention_mask(np.ones((2, 4)), np.array([[1, 1, 1, 0, 0]] * 2))
    flayer = fnn.MultiHeadDotProductAttention(**kw)
    fvars = flayer.init(jax.random.key(0), jnp.asarray(xq), jnp.asarray(xkv))
    layer = nn.MultiHeadDotProductAttention(**kw)
    lvars = layer.init(lamina.random.key(0), xq, xkv)
    assert _shapes(lvars) == _shapes(fvars)
    want = flayer.apply(fvars, jnp.asarray(xq), jnp.asarray(xkv), mask=jnp.asarray(mask))
    _close(layer.apply(_np_tree(fvars), xq, xkv, mask=mask), want)
    _close(nn.MultiHeadAttention(**kw).apply(_np_tree(fvars), xq, xkv, mask=mask), want)


def test_self_attention_and_dropout(rng):
    x = rng.standard_normal((2, 4, 8)).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        flayer = fnn.SelfAttention(num_heads=2, dropout_rate=0.3)
        fvars = flayer.init(jax.random.key(0), jnp.asarray(x), deterministic=True)
        want = flayer.apply(fvars, jnp.asarray(x), deterministic=False,
                            dropout_rng=jax.random.key(5))
        want_eval = flayer.apply(fvars, jnp.asarray(x), deterministic=True)
    layer = nn.SelfAttention(num_heads=2, dropout_rate=0.3)
    variables = _np_tree(fvars)
    assert _shapes(layer.init(lamina.random.key(0), x)) == _shapes(fvars)
    _close(layer.apply(variables, x, train=True, dropout_rng=lamina.random.key(5)), want)
    _close(layer.apply(variables, x), want_eval)                         # eval: no dropout
    # train without a dropout key -> the 'dropout' stream is required
    with pytest.raises(Exception, match="dropout"):
        layer.apply(variables, x, train=True)
    a = layer.apply(variables, x, train=True, rngs={"dropout": lamina.random.key(1)})
    b = layer.apply(variables, x, train=True, rngs={"dropout": lamina.random.key(2)})
    assert not np.allclose(np.asarray(a), np.asarray(b))


def test_decode_cache_matches_flax_and_full_causal(rng):
    batch, length, feat = 2, 5, 8
    x = rng.standard_normal((batch, length, feat)).astype(np.float32)
    kw = dict(num_heads=2, decode=True)
    flayer = fnn.MultiHeadDotProductAttention(**kw)
    fvars = flayer.init(jax.random.key(0), jnp.asarray(x))
    layer = nn.MultiHeadDotProductAttention(**kw)
    lvars = layer.init(lamina.random.key(0), x)
    assert _shapes(lvars) == _shapes(fvars)
    assert set(lvars) == {"params", "cache"}
    assert lvars["cache"]["cached_key"].shape == (batch, length, 2, 4)
    params = _np_tree(fvars["params"])
    variables = {"params": params, "cache": lvars["cache"]}
    fcache = fvars["cache"]
    step = lamina.jit(lambda v, xt: layer.apply(v, xt, mutable=["cache"]))
    outs = []
    for t in range(length):
        y, new = step(variables, x[:, t:t + 1])
        fy, fnew = flayer.apply({"params": fvars["params"], "cache": fcache},
                                jnp.asarray(x[:, t:t + 1]), mutable=["cache"])
        _close(y, fy)
        variables = {"params": params, "cache": new["cache"]}
        fcache = fnew["cache"]
        outs.append(np.asarray(y))
    assert int(variables["cache"]["cache_index"]) == length
    # decoding step by step == full-sequence attention with a causal mask
    full = nn.MultiHeadDotProductAttention(num_heads=2).apply(
        {"params": params}, x, mask=nn.make_causal_mask(np.ones((batch, length))))
    assert_array_close(np.concatenate(outs, axis=1), full, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="one token"):
        layer.apply(variables, x[:, :2], mutable=["cache"])


def test_mha_grads_jit_vmap(rng):
    with lamina.config.override(enable_x64=True):
        layer = nn.MultiHeadDotProductAttention(num_heads=2, param_dtype=lnp.float64)
        x = rng.standard_normal((1, 3, 4))
        mask = nn.make_causal_mask(np.ones((1, 3)))
        params = layer.init(lamina.random.key(0), x)["params"]
        check_grads(lambda p, x: layer.apply({"params": p}, x, mask=mask), (params, x),
                    order=1, modes=("rev",))
    layer = nn.MultiHeadDotProductAttention(num_heads=2)
    x = rng.standard_normal((3, 4, 6)).astype(np.float32)
    variables = layer.init(lamina.random.key(0), x)
    eager = layer.apply(variables, x)
    assert_array_close(lamina.jit(layer.apply)(variables, x), eager, rtol=1e-5, atol=1e-5)
    per = lamina.vmap(lambda xi: layer.apply(variables, xi))(x)   # unbatched examples
    assert_array_close(per, eager, rtol=1e-5, atol=1e-5)


def test_attention_bad_use():
    q = lnp.ones((1, 3, 2, 4))
    with pytest.raises(ValueError, match="head_dim"):
        nn.dot_product_attention(q, lnp.ones((1, 3, 2, 5)), lnp.ones((1, 3, 2, 5)))
    with pytest.raises(ValueError, match="num_heads"):
        nn.dot_product_attention(q, lnp.ones((1, 3, 1, 4)), lnp.ones((1, 3, 1, 4)))
    with pytest.raises(ValueError, match="divisible"):
        nn.MultiHeadDotProductAttention(num_heads=4).init(lamina.random.key(0),
                                                          lnp.ones((1, 2, 6)))


def test_mha_closed_form_with_constant_init():
    layer = nn.MultiHeadDotProductAttention(num_heads=2, kernel_init=nn.initializers.ones)
    x = lnp.ones((1, 3, 4))
    y = layer.apply(layer.init(lamina.random.key(0), x), x)
    # every projection sums 4 ones -> 4; attention averages 4s; out sums 2*2 of them -> 16
    assert_array_close(y, np.full((1, 3, 4), 16.0, np.float32))


def test_dot_product_attention_grads_match_flax(rng):
    # NOTE: the weights-value contraction is one hand-written dot_general (value on the
    # left); check values and q/k/v gradients against Flax for 0 and 2 batch axes, a
    # different value head_dim, and float32 weights with a bfloat16 value.
    J = jnp.asarray
    for batch in ((), (2, 3)):
        q = rng.standard_normal(batch + (4, 2, 8)).astype(np.float32)
        k = rng.standard_normal(batch + (5, 2, 8)).astype(np.float32)
        v = rng.standard_normal(batch + (5, 2, 6)).astype(np.float32)
        g = rng.standard_normal(batch + (4, 2, 6)).astype(np.float32)
        mask = np.tril(np.ones((4, 5), bool))

        def loss(f, *qkv):
            return (f(*qkv, mask=mask) * g).sum()

        # NOTE: jitted, so each side compiles one program instead of dispatching
        # every primitive eagerly (seconds per call on a loaded 2-core box).
        got = lamina.jit(lamina.grad(lambda *a: loss(nn.dot_product_attention, *a),
                                     (0, 1, 2)))(q, k, v)
        want = jax.jit(jax.grad(lambda *a: loss(fnn.dot_product_attention, *a),
                                (0, 1, 2)))(J(q), J(k), J(v))
        for a, b in zip(got, want):
            _close(a, b, tol=2e-5)
    qb, kb, vb = (J(a).astype(jnp.bfloat16) for a in (q, k, v))
    got = nn.dot_product_attention(*(lnp.asarray(np.asarray(a)) for a in (qb, kb, vb)),
                                   force_fp32_for_softmax=True)
    _close(got, fnn.dot_product_attention(qb, kb, vb, force_fp32_for_softmax=True), tol=3e-2)
