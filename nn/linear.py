"""Linear layers: Dense, DenseGeneral, Einsum, Embed (Flax linen names and defaults).

All accept any leading batch dimensions; `dtype` is the compute dtype (None: from the
inputs and params, or the `nn.Precision` policy), `param_dtype` the storage dtype.
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

import lamina.numpy as lnp
from lamina import lax
from lamina.nn import initializers
from lamina.nn.module import Module
from lamina.nn.precision import promote_dtype

__all__ = ["Dense", "DenseGeneral", "Einsum", "Embed"]

default_kernel_init = initializers.lecun_normal()
default_embed_init = initializers.variance_scaling(1.0, "fan_in", "normal", out_axis=0)


def _tuple(x: int | Sequence[int]) -> tuple[int, ...]:
    return (int(x),) if isinstance(x, (int, np.integer)) else tuple(int(v) for v in x)


def _norm_axes(axes: tuple[int, ...], ndim: int, what: str) -> tuple[int, ...]:
    for a in axes:
        if not -ndim <= a < ndim:
            raise ValueError(f"lamina.nn.DenseGeneral: {what} {a} is out of range for an "
                             f"input of {ndim} dimensions")
    return tuple(a % ndim for a in axes)


@dataclasses.dataclass(frozen=True)
class _FlatInit:
    """Calls `init` on the 2-D (fan_in, fan_out) view of a kernel, then reshapes; as
    Flax, so fans are computed over all contracted axes. Hashable, so the apply-time
    shape check is cached."""

    init: Callable
    n_lead: int     # batch + contracted axes (fan in) -- or 0 for a bias
    n_batch: int
    n_feat: int

    def __call__(self, key: Any, shape: Sequence[int], dtype: Any = lnp.float32) -> Any:
        shape = tuple(shape)
        if self.n_lead:
            flat = (math.prod(shape[:self.n_lead]), math.prod(shape[-self.n_feat:]))
        else:
            flat = (math.prod(shape[:self.n_batch]) * math.prod(shape[-self.n_feat:]),)
        return lnp.reshape(self.init(key, flat, dtype), shape)


class Dense(Module):
    """`y = x @ kernel + bias` over the last axis: `(..., in) -> (..., features)`.

    Params: `kernel` (in, features) from `kernel_init` (LeCun normal), `bias`
    (features,) from `bias_init` (zeros).

    >>> import lamina, lamina.numpy as lnp
    >>> from lamina import nn
    >>> layer = nn.Dense(4, kernel_init=nn.initializers.ones)
    >>> v = layer.init(lamina.random.PRNGKey(0), lnp.ones((2, 3)))
    >>> layer.apply(v, lnp.ones((2, 3)))
    Array([[3., 3., 3., 3.],
           [3., 3., 3., 3.]], dtype=float32)
    """

    features: int
    use_bias: bool = True
    dtype: Any = None
    param_dtype: Any = lnp.float32
    precision: Any = None
    kernel_init: Callable = default_kernel_init
    bias_init: Callable = initializers.zeros

    def __call__(self, inputs: Any) -> Any:
        inputs = lnp.asarray(inputs)
        if inputs.ndim < 1:
            raise ValueError(f"lamina.nn.Dense: inputs must have at least 1 dimension "
                             f"(..., in), got shape {inputs.shape}")
        kernel = self.param("kernel", self.kernel_init, (inputs.shape[-1], self.features),
                            self.param_dtype)
        bias = (self.param("bias", self.bias_init, (self.features,), self.param_dtype)
                if self.use_bias else None)
        inputs, kernel, bias = promote_dtype(inputs, kernel, bias, dtype=self.dtype)
        y = lax.dot_general(inputs, kernel, (((inputs.ndim - 1,), (0,)), ((), ())),
                            precision=self.precision)
        if bias is not None:
            y = y + lnp.reshape(bias, (1,) * (y.ndim - 1) + (-1,))
        return y


class DenseGeneral(Module):
    """A linear map contracting the input `axis` (one or several) into `features`
    (one or several), with optional leading `batch_dims` kept (one kernel per batch
    entry).

    Shapes: `x (..., *x.shape[axis]) -> (..., *features)`; kernel
    `(*batch, *x.shape[axis], *features)`, bias `(*batch, *features)`.

    >>> import lamina, lamina.numpy as lnp
    >>> from lamina import nn
    >>> layer = nn.DenseGeneral((4, 5), axis=(-2, -1))
    >>> v = layer.init(lamina.random.PRNGKey(0), lnp.ones((2, 3, 6)))
    >>> v["params"]["kernel"].shape, layer.apply(v, lnp.ones((2, 3, 6))).shape
    ((3, 6, 4, 5), (2, 4, 5))
    """

    features: int | Sequence[int]
    axis: int | Sequence[int] = -1
    batch_dims: Sequence[int] = ()
    use_bias: bool = True
    dtype: Any = None
    param_dtype: Any = lnp.float32
    kernel_init: Callable = default_kernel_init
    bias_init: Callable = initializers.zeros
    precision: Any = None

    def __call__(self, inputs: Any) -> Any:
        inputs = lnp.asarray(inputs)
        features, ndim = _tuple(self.features), inputs.ndim
        batch_dims = _norm_axes(_tuple(self.batch_dims), ndim, "batch_dims entry")
        if batch_dims and set(batch_dims) != set(range(max(batch_dims) + 1)):
            raise ValueError(f"lamina.nn.DenseGeneral: batch_dims {self.batch_dims} must be "
                             f"consecutive leading dimensions starting from 0")
        axis = _norm_axes(_tuple(self.axis), ndim, "axis")
        nb, na, nf = len(batch_dims), len(axis), len(features)
        batch_shape = tuple(inputs.shape[a] for a in batch_dims)
        kernel_shape = batch_shape + tuple(inputs.shape[a] for a in axis) + features
        kernel = self.param("kernel", _FlatInit(self.kernel_init, nb + na, nb, nf),
                            kernel_shape, self.param_dtype)
        bias = None
        if self.use_bias:
            bias = self.param("bias", _FlatInit(self.bias_init, 0, nb, nf),
                              batch_shape + features, self.param_dtype)
        inputs, kernel, bias = promote_dtype(inputs, kernel, bias, dtype=self.dtype)
        contract = tuple(range(nb, nb + na))
        out = lax.dot_general(inputs, kernel, ((axis, contract), (batch_dims, tuple(range(nb)))),
                              precision=self.precision)
        if bias is not None:
            expanded = tuple(inputs.shape[a] if a in batch_dims else 1
                             for a in range(ndim) if a not in axis)
            out = out + lnp.reshape(bias, expanded + features)
        return out


class Einsum(Module):
    """`einsum(einsum_str, x, kernel) + bias` with a learnable `kernel` of `shape`;
    the bias covers the kernel axes that survive into the output.

    `einsum_str` is given here or at call time (exactly one of them), explicit
    (`'...ab,bcd->...acd'`) with two operands: the input, then the kernel.

    >>> import lamina, lamina.numpy as lnp
    >>> from lamina import nn
    >>> layer = nn.Einsum((5, 6, 7), "abc,cde->abde")
    >>> v = layer.init(lamina.random.PRNGKey(0), lnp.ones((3, 4, 5)))
    >>> v["params"]["bias"].shape, layer.apply(v, lnp.ones((3, 4, 5))).shape
    ((6, 7), (3, 4, 6, 7))
    """

    shape: Sequence[int]
    einsum_str: str | None = None
    use_bias: bool = True
    dtype: Any = None
    param_dtype: Any = lnp.float32
    precision: Any = None
    kernel_init: Callable = default_kernel_init
    bias_init: Callable = initializers.zeros
    preferred_element_type: Any = None

    def __call__(self, inputs: Any, einsum_str: str | None = None) -> Any:
        if (self.einsum_str is None) == (einsum_str is None):
            raise ValueError("lamina.nn.Einsum: give einsum_str exactly once, either to the "
                             f"constructor (got {self.einsum_str!r}) or to the call (got "
                             f"{einsum_str!r})")
        eq = (einsum_str or self.einsum_str).replace(" ", "")
        if "->" not in eq:
            raise ValueError(f"lamina.nn.Einsum: einsum_str {eq!r} must be explicit and "
                             f"include '->'")
        if eq.count(",") != 1:
            raise ValueError(f"lamina.nn.Einsum: einsum_str {eq!r} must have exactly two "
                             f"operands (the input and the kernel)")
        inputs = lnp.asarray(inputs)
        shape = _tuple(self.shape)
        kernel = self.param("kernel", self.kernel_init, shape, self.param_dtype)
        bias = None
        if self.use_bias:
            ops, result = eq.split("->")
            rhs = ops.split(",")[1]
            if len(rhs) != len(shape):
                raise ValueError(f"lamina.nn.Einsum: kernel subscripts {rhs!r} do not match "
                                 f"shape {shape}")
            pos = {c: i for i, c in enumerate(rhs)}
            result = result.replace("...", ".")
            bshape = [shape[pos[c]] for c in result if c in pos]
            bcast = []
            for c in result:
                if c == ".":
                    nlead = inputs.ndim - len(ops.split(",")[0].replace("...", ""))
                    bcast.extend([1] * nlead)
                else:
                    bcast.append(shape[pos[c]] if c in pos else 1)
            bias = self.param("bias", self.bias_init, tuple(bshape), self.param_dtype)
        inputs, kernel, bias = promote_dtype(inputs, kernel, bias, dtype=self.dtype)
        y = lnp.einsum(eq, inputs, kernel, precision=self.precision,
                       preferred_element_type=self.preferred_element_type)
        if bias is not None:
            y = y + lnp.reshape(bias, tuple(bcast))
        return y


class Embed(Module):
    """A lookup table: integer ids `(...)` -> vectors `(..., features)`; `attend`
    gives the logits of a tied output layer, `query (..., features) -> (...,
    num_embeddings)`.

    Param: `embedding` (num_embeddings, features), default
    `variance_scaling(1.0, 'fan_in', 'normal', out_axis=0)`. Out-of-range ids give nan.

    >>> import lamina, lamina.numpy as lnp
    >>> from lamina import nn
    >>> emb = nn.Embed(10, 4)
    >>> v = emb.init(lamina.random.PRNGKey(0), lnp.array([1, 2]))
    >>> emb.apply(v, lnp.array([[1, 2, 3]])).shape
    (1, 3, 4)
    >>> emb.apply(v, lnp.ones((5, 4)), method="attend").shape
    (5, 10)
    """

    num_embeddings: int
    features: int
    dtype: Any = None
    param_dtype: Any = lnp.float32
    embedding_init: Callable = default_embed_init

    def _embedding(self) -> Any:
        return self.param("embedding", self.embedding_init,
                          (self.num_embeddings, self.features), self.param_dtype)

    def __call__(self, inputs: Any) -> Any:
        inputs = lnp.asarray(inputs)
        if not lnp.issubdtype(inputs.dtype, lnp.integer):
            raise ValueError(f"lamina.nn.Embed: inputs must be integer ids, got dtype "
                             f"{inputs.dtype}")
        embedding, = promote_dtype(self._embedding(), dtype=self.dtype, inexact=False)
        if self.num_embeddings == 1:
            return lnp.broadcast_to(embedding, inputs.shape + (self.features,))
        return lnp.take(embedding, inputs, axis=0)

    def attend(self, query: Any) -> Any:
        """Dot products of `query (..., features)` with every embedding."""
        query, embedding = promote_dtype(query, self._embedding(), dtype=self.dtype)
        return lnp.dot(query, embedding.T)
