"""Attention (flax.linen.attention): `dot_product_attention`, `MultiHeadDotProductAttention`
(alias `MultiHeadAttention`), `SelfAttention`, and the mask helpers.

Layouts follow Flax: queries/keys/values are `(*batch, length, num_heads, head_dim)`,
attention weights `(*batch, num_heads, q_length, kv_length)`, and masks broadcast to
the weights (True / nonzero = attend).

Decoding with a key/value cache (`decode=True`): `init` with a full-length input of
the maximum length creates the `'cache'` collection — `cached_key`, `cached_value` of
shape `(*batch, max_length, num_heads, head_dim)` and `cache_index` (int32 scalar).
Each later `apply(variables, x_t, mutable=True)` with one token `x_t`
`(*batch, 1, features)` writes its key/value at `cache_index`, attends to positions
`<= cache_index` only, and returns the updated cache with the output.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import numpy as np

import lamina.numpy as lnp
from lamina import lax, random
from lamina.nn import initializers
from lamina.nn.activations import softmax
from lamina.nn.precision import promote_dtype
from lamina.nn.linear import DenseGeneral
from lamina.nn.module import Module
from lamina.nn.normalization import LayerNorm
from lamina.nn.stochastic import resolve_deterministic

__all__ = ["dot_product_attention_weights", "dot_product_attention",
           "MultiHeadDotProductAttention", "MultiHeadAttention", "SelfAttention",
           "make_attention_mask", "make_causal_mask", "combine_masks"]


def _check_qkv(fun: str, query: Any, key: Any, value: Any | None = None) -> None:
    shapes = f"query {tuple(query.shape)}, key {tuple(key.shape)}" + (
        "" if value is None else f", value {tuple(value.shape)}")
    arrays = (query, key) if value is None else (query, key, value)
    if any(a.ndim < 3 for a in arrays) or len({a.ndim for a in arrays}) != 1:
        raise ValueError(f"nn.{fun}: query, key and value must have one rank >= 3, "
                         f"(*batch, length, num_heads, head_dim); got {shapes}")
    if len({tuple(a.shape[:-3]) for a in arrays}) != 1:
        raise ValueError(f"nn.{fun}: batch dimensions differ: {shapes}")
    if len({a.shape[-2] for a in arrays}) != 1:
        raise ValueError(f"nn.{fun}: num_heads (axis -2) differ: {shapes}")
    if query.shape[-1] != key.shape[-1]:
        raise ValueError(f"nn.{fun}: query and key head_dim (axis -1) differ: {shapes}")
    if value is not None and key.shape[-3] != value.shape[-3]:
        raise ValueError(f"nn.{fun}: key and value lengths (axis -3) differ: {shapes}")


def dot_product_attention_weights(query: Any, key: Any, bias: Any = None, mask: Any = None,
                                  broadcast_dropout: bool = True, dropout_rng: Any = None,
                                  dropout_rate: float = 0.0, deterministic: bool = False,
                                  dtype: Any = None, precision: Any = None,
                                  force_fp32_for_softmax: bool = False) -> Any:
    """Attention weights `softmax(q k^T / sqrt(d) + bias, masked)`, `(..., heads, q, kv)`.

    Args:
        query: `(*batch, q_length, num_heads, head_dim)`.
        key: `(*batch, kv_length, num_heads, head_dim)`.
        bias: added to the logits; broadcastable to `(*batch, num_heads, q, kv)`.
        mask: boolean (or 0/1) broadcastable to the weights; False → not attended.
        broadcast_dropout: share the dropout mask over the batch and head dimensions.
        dropout_rng: the key for dropout.
        dropout_rate: the probability of dropping a weight.
        deterministic: no dropout.
        dtype: the compute dtype (None: promoted from query and key).
        precision: `lax.Precision` for the einsum.
        force_fp32_for_softmax: compute the softmax in float32 for low-precision inputs.

    >>> import lamina.numpy as lnp
    >>> q = k = lnp.ones((1, 2, 1, 4))
    >>> dot_product_attention_weights(q, k).shape
    (1, 1, 2, 2)
    """
    query, key = promote_dtype(query, key, dtype=dtype)
    dtype = query.dtype
    _check_qkv("dot_product_attention_weights", query, key)
    depth = query.shape[-1]
    query = query / lnp.sqrt(np.float32(depth)).astype(dtype)
    logits = lnp.einsum("...qhd,...khd->...hqk", query, key, precision=precision)
    if bias is not None:
        logits = logits + bias
    if mask is not None:
        logits = lnp.where(mask, logits, lnp.finfo(dtype).min)
    if force_fp32_for_softmax and dtype != lnp.float32:
        weights = softmax(logits.astype(lnp.float32))
    else:
        weights = softmax(logits).astype(dtype)
    if not deterministic and dropout_rate > 0.0:
        if dropout_rng is None:
            raise ValueError("nn.dot_product_attention_weights: dropout_rate > 0 and not "
                             "deterministic needs a dropout_rng key")
        keep_prob = 1.0 - dropout_rate
        if broadcast_dropout:
            shape = (1,) * (key.ndim - 2) + tuple(weights.shape[-2:])
        else:
            shape = tuple(weights.shape)
        keep = random.bernoulli(dropout_rng, keep_prob, shape)
        weights = weights * (keep.astype(weights.dtype)
                             / lnp.asarray(keep_prob, dtype=weights.dtype))
    return weights


def dot_product_attention(query: Any, key: Any, value: Any, bias: Any = None, mask: Any = None,
                          broadcast_dropout: bool = True, dropout_rng: Any = None,
                          dropout_rate: float = 0.0, deterministic: bool = False,
                          dtype: Any = None, precision: Any = None,
                          force_fp32_for_softmax: bool = False) -> Any:
    """Scaled dot-product attention (flax.linen.dot_product_attention).

    `softmax(q k^T / sqrt(head_dim) + bias, where mask) v`, per head.

    Args:
        query: `(*batch, q_length, num_heads, head_dim)`.
        key, value: `(*batch, kv_length, num_heads, head_dim)` (value's last axis may
            differ).
        bias, mask, broadcast_dropout, dropout_rng, dropout_rate, deterministic, dtype,
        precision, force_fp32_for_softmax: as in `dot_product_attention_weights`.

    Returns:
        `(*batch, q_length, num_heads, v_head_dim)`.

    >>> import lamina.numpy as lnp
    >>> q = k = lnp.zeros((1, 3, 2, 4))
    >>> v = lnp.arange(24.0).reshape(1, 3, 2, 4)
    >>> dot_product_attention(q, k, v)[0, 0, 0].round(4)   # uniform weights: mean of v
    Array([ 8.,  9., 10., 11.], dtype=float32)
    """
    query, key, value = promote_dtype(query, key, value, dtype=dtype)
    _check_qkv("dot_product_attention", query, key, value)
    weights = dot_product_attention_weights(
        query, key, bias, mask, broadcast_dropout, dropout_rng, dropout_rate, deterministic,
        query.dtype, precision, force_fp32_for_softmax)
    weights, value = promote_dtype(weights, value)
    # NOTE: the einsum "...hqk,...khd->...qhd" as one dot_general with value on the left,
    # giving (*batch, heads, v_head_dim, q) then one transpose. Its autodiff then contracts
    # the transposed cotangent over its minor axis for d(value), a plain batched matmul that
    # XLA:CPU hands to YNNPACK; weights-on-the-left left a slow transposed-lhs dot.
    n = value.ndim - 3
    batch = tuple(range(n))
    out = lax.dot_general(value, weights, (((n,), (n + 2,)), (batch + (n + 1,), batch + (n,))),
                          precision=precision)
    return lnp.transpose(out, batch + (n + 2, n, n + 1))


def make_attention_mask(query_input: Any, key_input: Any,
                        pairwise_fn: Callable[..., Any] = lnp.multiply,
                        extra_batch_dims: int = 0, dtype: Any = lnp.float32) -> Any:
    """A `(*batch, 1, q_len, kv_len)` mask from `(*batch, q_len)` / `(*batch, kv_len)`
    per-position inputs combined by `pairwise_fn` (e.g. padding masks multiplied).

    >>> import lamina.numpy as lnp
    >>> make_attention_mask(lnp.array([1, 1, 0]), lnp.array([1, 0]))[0]
    Array([[1., 0.],
           [1., 0.],
           [0., 0.]], dtype=float32)
    """
    mask = pairwise_fn(lnp.expand_dims(lnp.asarray(query_input), -1),
                       lnp.expand_dims(lnp.asarray(key_input), -2))
    mask = lnp.expand_dims(mask, -3)
    mask = lnp.expand_dims(mask, tuple(range(extra_batch_dims)))
    return mask.astype(dtype)


def make_causal_mask(x: Any, extra_batch_dims: int = 0, dtype: Any = lnp.float32) -> Any:
    """A causal mask `(*batch, 1, len, len)` for `x` of shape `(*batch, len)`: position i
    attends to positions j <= i.

    >>> import lamina.numpy as lnp
    >>> make_causal_mask(lnp.ones((1, 3)))[0, 0]
    Array([[1., 0., 0.],
           [1., 1., 0.],
           [1., 1., 1.]], dtype=float32)
    """
    x = lnp.asarray(x)
    idxs = lnp.broadcast_to(lnp.arange(x.shape[-1], dtype=lnp.int32), x.shape)
    return make_attention_mask(idxs, idxs, lnp.greater_equal,
                               extra_batch_dims=extra_batch_dims, dtype=dtype)


def combine_masks(*masks: Any, dtype: Any = lnp.float32) -> Any:
    """The logical AND of the non-None masks (all of one rank), as `dtype`; None if none.

    >>> import lamina.numpy as lnp
    >>> combine_masks(lnp.array([1, 1, 0]), None, lnp.array([0, 1, 1]))
    Array([0., 1., 0.], dtype=float32)
    """
    present = [lnp.asarray(m) for m in masks if m is not None]
    if not present:
        return None
    if len({m.ndim for m in present}) != 1:
        raise ValueError("nn.combine_masks: masks must have the same rank, got shapes "
                         f"{[tuple(m.shape) for m in present]}")
    mask = present[0]
    for other in present[1:]:
        mask = lnp.logical_and(mask, other)
    return mask.astype(dtype)


class MultiHeadDotProductAttention(Module):
    """Multi-head attention (flax.linen.MultiHeadDotProductAttention).

    Projects the inputs to `num_heads` query/key/value heads (`DenseGeneral` submodules
    `query`, `key`, `value`, kernels `(in, num_heads, head_dim)`), applies
    `attention_fn`, and projects back with `out` (kernel `(num_heads, head_dim,
    out_features)`).

    Attributes:
        num_heads: the number of heads; `qkv_features` must be divisible by it.
        dtype, param_dtype: compute and parameter dtypes.
        qkv_features: the total query/key/value width (default: the query's features).
        out_features: the output width (default: the query's features).
        broadcast_dropout: share the attention-dropout mask over batch and heads.
        dropout_rate: attention-weight dropout (active in training, rng stream 'dropout').
        deterministic: if set, overrides the `train` flag (True: no dropout).
        precision: `lax.Precision` for the projections and the attention.
        kernel_init, bias_init, out_kernel_init, out_bias_init, use_bias: as in Flax.
        attention_fn: `dot_product_attention` or a function with its signature.
        decode: keep a key/value cache for autoregressive decoding (module docstring).
        normalize_qk: LayerNorm (no bias) on the query and key heads (`query_ln`,
            `key_ln`).
        force_fp32_for_softmax: compute the softmax in float32.

    >>> import lamina, lamina.numpy as lnp
    >>> from lamina import nn
    >>> attn = nn.MultiHeadDotProductAttention(num_heads=2, qkv_features=8)
    >>> x = lnp.ones((3, 5, 6))
    >>> variables = attn.init(lamina.random.key(0), x)
    >>> variables["params"]["query"]["kernel"].shape
    (6, 2, 4)
    >>> attn.apply(variables, x, mask=nn.make_causal_mask(lnp.ones((3, 5)))).shape
    (3, 5, 6)
    """

    num_heads: int
    dtype: Any = None
    param_dtype: Any = lnp.float32
    qkv_features: int | None = None
    out_features: int | None = None
    broadcast_dropout: bool = True
    dropout_rate: float = 0.0
    deterministic: bool | None = None
    precision: Any = None
    kernel_init: Callable[..., Any] = initializers.lecun_normal()
    out_kernel_init: Callable[..., Any] | None = None
    bias_init: Callable[..., Any] = initializers.zeros
    out_bias_init: Callable[..., Any] | None = None
    use_bias: bool = True
    attention_fn: Callable[..., Any] = dot_product_attention
    decode: bool = False
    normalize_qk: bool = False
    force_fp32_for_softmax: bool = False

    def __call__(self, inputs_q: Any, inputs_k: Any = None, inputs_v: Any = None, *,
                 mask: Any = None, deterministic: bool | None = None,
                 dropout_rng: Any = None) -> Any:
        """Attend from `inputs_q` `(*batch, q_len, features)` to `inputs_k`/`inputs_v`
        (default: `inputs_q`, i.e. self-attention; `inputs_v` defaults to `inputs_k`).

        `mask` broadcasts to `(*batch, num_heads, q_len, kv_len)`.
        """
        if inputs_k is None:
            if inputs_v is not None:
                raise ValueError(
                    "nn.MultiHeadDotProductAttention: inputs_k cannot be None when inputs_v "
                    "is given; pass the same array as inputs_k to use it for both")
            inputs_k = inputs_q
        if inputs_v is None:
            inputs_v = inputs_k
        inputs_q, inputs_k, inputs_v = (lnp.asarray(a) for a in (inputs_q, inputs_k, inputs_v))
        features = self.out_features or inputs_q.shape[-1]
        qkv_features = self.qkv_features or inputs_q.shape[-1]
        if qkv_features % self.num_heads:
            raise ValueError(
                f"nn.MultiHeadDotProductAttention: qkv_features={qkv_features} is not "
                f"divisible by num_heads={self.num_heads}")
        head_dim = qkv_features // self.num_heads

        def dense(name: str) -> DenseGeneral:
            return DenseGeneral(features=(self.num_heads, head_dim), axis=-1,
                                dtype=self.dtype, param_dtype=self.param_dtype,
                                kernel_init=self.kernel_init, bias_init=self.bias_init,
                                use_bias=self.use_bias, precision=self.precision, name=name)

        query = dense("query")(inputs_q)
        key = dense("key")(inputs_k)
        value = dense("value")(inputs_v)
        if self.normalize_qk:
            query = LayerNorm(name="query_ln", use_bias=False, dtype=self.dtype,
                              param_dtype=self.param_dtype)(query)
            key = LayerNorm(name="key_ln", use_bias=False, dtype=self.dtype,
                            param_dtype=self.param_dtype)(key)
        if self.decode:
            key, value, mask = self._decode_step(query, key, value, mask)
        if self.dropout_rate > 0.0:
            det = resolve_deterministic(self, self.deterministic, deterministic)
            if not det and dropout_rng is None:
                dropout_rng = self.make_rng("dropout")
        else:
            det = True
        kwargs = dict(mask=mask, dropout_rng=dropout_rng, dropout_rate=self.dropout_rate,
                      broadcast_dropout=self.broadcast_dropout, deterministic=det,
                      dtype=self.dtype, precision=self.precision,
                      force_fp32_for_softmax=self.force_fp32_for_softmax)
        # NOTE: as Flax, pass a custom attention_fn only the keywords it accepts.
        accepted = inspect.signature(self.attention_fn).parameters
        if not any(p.kind is p.VAR_KEYWORD for p in accepted.values()):
            kwargs = {k: v for k, v in kwargs.items() if k in accepted}
        x = self.attention_fn(query, key, value, **kwargs)
        return DenseGeneral(features=features, axis=(-2, -1),
                            kernel_init=self.out_kernel_init or self.kernel_init,
                            bias_init=self.out_bias_init or self.bias_init,
                            use_bias=self.use_bias, dtype=self.dtype,
                            param_dtype=self.param_dtype, precision=self.precision,
                            name="out")(x)

    def _decode_step(self, query: Any, key: Any, value: Any, mask: Any) -> tuple[Any, Any, Any]:
        """Create the cache at init; at apply, write one step into it and mask the future."""
        cached_key = self.variable("cache", "cached_key", lnp.zeros, key.shape, key.dtype)
        cached_value = self.variable("cache", "cached_value", lnp.zeros, value.shape,
                                     value.dtype)
        cache_index = self.variable("cache", "cache_index",
                                    lambda: lnp.array(0, dtype=lnp.int32))
        if self.is_initializing():
            return key, value, mask
        *batch_dims, max_length, num_heads, head_dim = cached_key.value.shape
        expected = tuple(batch_dims) + (1, num_heads, head_dim)
        if tuple(query.shape) != expected:
            raise ValueError(
                f"nn.MultiHeadDotProductAttention (decode=True) at {self.path}: one decoding "
                f"step needs a query of shape {expected} (one token), got {tuple(query.shape)}")
        cur = cache_index.value
        zero = lnp.array(0, dtype=cur.dtype)
        indices = (zero,) * len(batch_dims) + (cur, zero, zero)
        key = lax.dynamic_update_slice(cached_key.value, key, indices)
        value = lax.dynamic_update_slice(cached_value.value, value, indices)
        cached_key.value = key
        cached_value.value = value
        cache_index.value = cur + 1
        step_mask = lnp.broadcast_to(lnp.arange(max_length) <= cur,
                                     tuple(batch_dims) + (1, 1, max_length))
        return key, value, combine_masks(mask, step_mask)


class MultiHeadAttention(MultiHeadDotProductAttention):
    """An alias of `MultiHeadDotProductAttention` (Flax keeps both names).

    >>> import lamina, lamina.numpy as lnp
    >>> from lamina import nn
    >>> attn = nn.MultiHeadAttention(num_heads=1)
    >>> q, kv = lnp.ones((1, 2, 4)), lnp.ones((1, 3, 4))
    >>> attn.apply(attn.init(lamina.random.key(0), q, kv), q, kv).shape
    (1, 2, 4)
    """


class SelfAttention(MultiHeadDotProductAttention):
    """Self-attention: `MultiHeadDotProductAttention` with keys and values from the query
    input; `__call__(inputs_q, mask=None, deterministic=None, dropout_rng=None)`.

    >>> import lamina, lamina.numpy as lnp
    >>> from lamina import nn
    >>> attn = nn.SelfAttention(num_heads=2)
    >>> x = lnp.ones((1, 3, 4))
    >>> attn.apply(attn.init(lamina.random.key(0), x), x).shape
    (1, 3, 4)
    """

    def __call__(self, inputs_q: Any, mask: Any = None,  # type: ignore[override]
                 deterministic: bool | None = None, dropout_rng: Any = None) -> Any:
        """Attend from `inputs_q` to itself."""
        return super().__call__(inputs_q, mask=mask, deterministic=deterministic,
                                dropout_rng=dropout_rng)
