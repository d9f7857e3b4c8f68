"""Activation and normalisation functions (`jax.nn` names, signatures and semantics).

>>> import lamina.numpy as lnp
>>> from lamina import nn
>>> nn.relu(lnp.array([-1., 0., 2.]))
Array([0., 0., 2.], dtype=float32)
>>> nn.softmax(lnp.array([0., 0.]))
Array([0.5, 0.5], dtype=float32)
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

import lamina
import lamina.numpy as lnp
from lamina import lax
from lamina.numpy._util import promote_args_inexact
# NOTE: one implementation, shared with lamina.scipy.special (the core cannot
# import nn, so it lives there).
from lamina.scipy._softmax import log_softmax, logsumexp, softmax

__all__ = [
    "relu", "relu6", "gelu", "silu", "swish", "sigmoid", "tanh", "softplus", "elu",
    "selu", "leaky_relu", "celu", "glu", "log_sigmoid", "softmax", "log_softmax",
    "logsumexp", "one_hot", "standardize", "identity", "hard_tanh", "soft_sign",
    "hard_sigmoid", "hard_silu", "hard_swish", "mish",
]

Axis = int | Sequence[int] | None


def identity(x: Any) -> Any:
    """Returns `x` (as an array).

    >>> identity(lnp.array([1., 2.]))
    Array([1., 2.], dtype=float32)
    """
    return lnp.asarray(x)


@lamina.custom_jvp
def relu(x: Any) -> Any:
    """`max(x, 0)`; its derivative at 0 is 0 (as jax).

    >>> relu(lnp.array([-2., 3.]))
    Array([0., 3.], dtype=float32)
    """
    return lnp.maximum(x, 0)


relu.defjvps(lambda g, ans, x: lax.select(x > 0, g, lax.full_like(g, 0)))


@lamina.custom_jvp
def relu6(x: Any) -> Any:
    """`min(max(x, 0), 6)`; derivative 0 at 0 and 6 (as jax).

    >>> relu6(lnp.array([-1., 3., 9.]))
    Array([0., 3., 6.], dtype=float32)
    """
    return lnp.minimum(lnp.maximum(x, 0), 6.)


relu6.defjvps(lambda g, ans, x: lax.select((x > 0) & (x < 6), g, lax.full_like(g, 0)))


def sigmoid(x: Any) -> Any:
    """Logistic sigmoid `1 / (1 + exp(-x))`.

    >>> sigmoid(lnp.array([0.]))
    Array([0.5], dtype=float32)
    """
    x, = promote_args_inexact("sigmoid", x)
    return lax.logistic(x)


def tanh(x: Any) -> Any:
    """Hyperbolic tangent.

    >>> tanh(lnp.array([0.]))
    Array([0.], dtype=float32)
    """
    return lnp.tanh(x)


@lamina.custom_jvp
def softplus(x: Any) -> Any:
    """`log(1 + exp(x))`, computed stably.

    >>> softplus(lnp.array([0.]))
    Array([0.6931472], dtype=float32)
    """
    return lnp.logaddexp(x, 0)


# NOTE: the derivative is sigmoid(x) everywhere, 1/2 at 0 as jax (lnp.logaddexp's own
# derivative at the tie x == 0 is 0 in lamina).
softplus.defjvps(lambda g, ans, x: g * lax.logistic(lnp.asarray(x, ans.dtype)))


def soft_sign(x: Any) -> Any:
    """`x / (|x| + 1)`.

    >>> soft_sign(lnp.array([1.]))
    Array([0.5], dtype=float32)
    """
    x, = promote_args_inexact("soft_sign", x)
    return x / (lnp.abs(x) + 1)


def silu(x: Any) -> Any:
    """SiLU / swish: `x * sigmoid(x)`.

    >>> silu(lnp.array([0.]))
    Array([0.], dtype=float32)
    """
    x, = promote_args_inexact("silu", x)
    return x * sigmoid(x)


swish = silu


def mish(x: Any) -> Any:
    """`x * tanh(softplus(x))`.

    >>> mish(lnp.array([0.]))
    Array([0.], dtype=float32)
    """
    x, = promote_args_inexact("mish", x)
    return x * lnp.tanh(softplus(x))


def log_sigmoid(x: Any) -> Any:
    """`log(sigmoid(x))` = `-softplus(-x)`.

    >>> log_sigmoid(lnp.array([0.]))
    Array([-0.6931472], dtype=float32)
    """
    x, = promote_args_inexact("log_sigmoid", x)
    return -softplus(-x)


def elu(x: Any, alpha: Any = 1.0) -> Any:
    """`x` if `x > 0` else `alpha * (exp(x) - 1)`.

    >>> elu(lnp.array([-1., 2.]))
    Array([-0.63212055,  2.        ], dtype=float32)
    """
    x, = promote_args_inexact("elu", x)
    safe = lnp.where(x > 0, 0., x)
    return lnp.where(x > 0, x, alpha * lnp.expm1(safe))


def leaky_relu(x: Any, negative_slope: Any = 1e-2) -> Any:
    """`x` if `x >= 0` else `negative_slope * x`.

    >>> leaky_relu(lnp.array([-1., 2.]))
    Array([-0.01,  2.  ], dtype=float32)
    """
    x, = promote_args_inexact("leaky_relu", x)
    return lnp.where(x >= 0, x, negative_slope * x)


def hard_tanh(x: Any) -> Any:
    """`clip(x, -1, 1)`.

    >>> hard_tanh(lnp.array([-3., 0.5]))
    Array([-1. ,  0.5], dtype=float32)
    """
    x, = promote_args_inexact("hard_tanh", x)
    return lnp.where(x > 1, 1, lnp.where(x < -1, -1, x))


def celu(x: Any, alpha: Any = 1.0) -> Any:
    """`max(x, 0) + alpha * expm1(min(x, 0) / alpha)`.

    >>> celu(lnp.array([2.]))
    Array([2.], dtype=float32)
    """
    return lnp.maximum(x, 0.0) + alpha * lnp.expm1(lnp.minimum(x, 0.0) / alpha)


def selu(x: Any) -> Any:
    """Scaled ELU with the self-normalising constants (Klambauer et al. 2017).

    >>> selu(lnp.array([1.]))
    Array([1.050701], dtype=float32)
    """
    alpha = 1.6732632423543772848170429916717
    scale = 1.0507009873554804934193349852946
    return scale * elu(x, alpha)


def gelu(x: Any, approximate: bool = True) -> Any:
    """Gaussian error linear unit; `approximate=True` (jax's default) is the tanh
    form, False the exact `x/2 * erfc(-x/sqrt(2))`.

    >>> gelu(lnp.array([1.]), approximate=False)
    Array([0.8413447], dtype=float32)
    """
    x, = promote_args_inexact("gelu", x)
    if approximate:
        # NOTE: numpy scalars of x's dtype, as jax, so the constants round the same.
        c = np.sqrt(2 / np.pi).astype(x.dtype)
        cdf = 0.5 * (1.0 + lnp.tanh(c * (x + 0.044715 * (x ** 3))))
        return x * cdf
    half = np.sqrt(0.5).astype(x.dtype)
    return lnp.asarray(0.5 * x * lax.erfc(-x * half), x.dtype)


def glu(x: Any, axis: int = -1) -> Any:
    """Gated linear unit: split `x` in two halves `a, b` along `axis`, `a * sigmoid(b)`.

    >>> glu(lnp.array([1., 0.]))
    Array([0.5], dtype=float32)
    """
    x = lnp.asarray(x)
    if x.shape[axis] % 2:
        raise ValueError(f"lamina.nn.glu: axis {axis} of x (shape {x.shape}) must have "
                         f"even size")
    a, b = lnp.split(x, 2, axis)
    return a * sigmoid(b)


def hard_sigmoid(x: Any) -> Any:
    """`relu6(x + 3) / 6`.

    >>> hard_sigmoid(lnp.array([0.]))
    Array([0.5], dtype=float32)
    """
    return relu6(x + 3.) / 6.


def hard_silu(x: Any) -> Any:
    """`x * hard_sigmoid(x)`.

    >>> hard_silu(lnp.array([3.]))
    Array([3.], dtype=float32)
    """
    x, = promote_args_inexact("hard_silu", x)
    return x * hard_sigmoid(x)


hard_swish = hard_silu


def standardize(x: Any, axis: Axis = -1, mean: Any = None, variance: Any = None,
                epsilon: Any = 1e-5, where: Any = None, *, algorithm: str = "fast") -> Any:
    """`(x - mean) / sqrt(variance + epsilon)` with statistics over `axis` unless given.

    >>> standardize(lnp.array([1., 3.]), epsilon=0.)
    Array([-1.,  1.], dtype=float32)
    """
    if algorithm not in ("fast", "stable"):
        raise ValueError(f"lamina.nn.standardize: algorithm must be 'fast' or 'stable', "
                         f"got {algorithm!r}")
    if mean is None:
        mean = lnp.mean(x, axis, keepdims=True, where=where)
    if variance is None:
        if algorithm == "stable":
            variance = lnp.mean(lnp.square(lnp.subtract(x, mean)), axis, keepdims=True,
                                where=where)
        else:
            variance = lnp.mean(lnp.square(x), axis, keepdims=True, where=where) - \
                lnp.square(mean)
            # NOTE: E[x^2] - E[x]^2 can round below 0; rsqrt of it would be nan.
            variance = lnp.clip(variance, 0)
    return lnp.subtract(x, mean) * lax.rsqrt(variance + epsilon)


def one_hot(x: Any, num_classes: int, *, dtype: Any = None, axis: int = -1) -> Any:
    """One-hot encode integer indices along a new `axis` (out-of-range -> zeros).

    >>> one_hot(lnp.array([0, 2]), 3)
    Array([[1., 0., 0.],
           [0., 0., 1.]], dtype=float32)
    """
    x = lnp.asarray(x)
    try:
        num_classes = int(num_classes)
    except Exception:
        raise TypeError(f"lamina.nn.one_hot: num_classes must be a concrete int, got "
                        f"{num_classes!r}") from None
    dtype = lamina.dtypes.default_float_dtype() if dtype is None else dtype
    pos = axis % (x.ndim + 1)
    lhs = lax.expand_dims(x, (pos,))
    shape = [1] * x.ndim
    shape.insert(pos, num_classes)
    rhs = lax.broadcasted_iota(x.dtype, shape, pos)
    return (lhs == rhs).astype(dtype)
