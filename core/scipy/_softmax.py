"""logsumexp, softmax and log_softmax: the one implementation that `lamina.scipy.special`
and `lamina.nn` share (jax shares its logsumexp between jax.nn and jax.scipy the same
way). It lives in the core because the core must not import `lamina.nn`.

>>> import lamina.numpy as lnp
>>> logsumexp(lnp.array([0., 0.]))
Array(0.6931472, dtype=float32)
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

import lamina.numpy as lnp
from lamina import lax
from lamina.custom_derivatives import custom_jvp
from lamina.numpy._util import promote_args_inexact

__all__ = ["log_softmax", "logsumexp", "softmax"]

Axis = int | Sequence[int] | None


def _axes(x: Any, axis: Axis) -> tuple[int, ...]:
    if axis is None:
        return tuple(range(x.ndim))
    if isinstance(axis, int):
        axis = (axis,)
    return tuple(a % x.ndim if x.ndim else a for a in axis)


def log_softmax(x: Any, axis: Axis = -1, where: Any = None) -> Any:
    """`x - logsumexp(x, axis)`, stably; entries outside `where` give -inf.

    >>> log_softmax(lnp.array([0., 0.]))
    Array([-0.6931472, -0.6931472], dtype=float32)
    """
    x = lnp.asarray(x)
    x_max = lnp.max(x, axis, where=where, initial=-np.inf, keepdims=True)
    x_safe = x if where is None else lnp.where(where, x, -np.inf)
    shifted = x_safe - lax.stop_gradient(x_max)
    lse = lnp.log(lnp.sum(lnp.exp(shifted), axis, where=where, keepdims=True))
    out = shifted - lse
    return out if where is None else lnp.where(where, out, -np.inf)


def _softmax_impl(x: Any, axis: Axis, where: Any) -> Any:
    x_max = lnp.max(x, axis, where=where, initial=-np.inf, keepdims=True)
    x_safe = x if where is None else lnp.where(where, x, -np.inf)
    e = lnp.exp(x_safe - x_max)
    out = e / lnp.sum(e, axis, where=where, keepdims=True)
    return out if where is None else lnp.where(where, out, 0)


def softmax(x: Any, axis: Axis = -1, where: Any = None) -> Any:
    """`exp(x) / sum(exp(x), axis)`, stably; entries outside `where` give 0.

    >>> softmax(lnp.array([0., 0., 0., 0.]))
    Array([0.25, 0.25, 0.25, 0.25], dtype=float32)
    """
    x = lnp.asarray(x)
    ax = axis if axis is None or isinstance(axis, int) else tuple(axis)

    # NOTE: a custom JVP (as jax) keeps the gradient exact and cheap:
    # d softmax = y * (dx - sum(y * dx)).
    @custom_jvp
    def f(x: Any) -> Any:
        return _softmax_impl(x, ax, where)

    @f.defjvp
    def f_jvp(primals: tuple, tangents: tuple) -> tuple:
        (x,), (dx,) = primals, tangents
        y = f(x)
        return y, y * (dx - (y * dx).sum(ax, where=where, keepdims=True))

    return f(x)


def logsumexp(a: Any, axis: Axis = None, b: Any = None, keepdims: bool = False,
              return_sign: bool = False, where: Any = None) -> Any:
    """`log(sum(b * exp(a), axis))`, computed stably.

    The maximum is subtracted before exponentiating (under `stop_gradient`, so the
    gradient is the softmax weights `b * exp(a - out)`); an all `-inf` reduction gives
    `-inf`. With `b`, a negative sum gives NaN unless `return_sign`.

    Args:
      a: the input array.
      axis: the axis or axes to reduce (None: all).
      b: scale factors for `exp(a)`, broadcastable to `a`; `b == 0` drops an entry.
      keepdims: keep the reduced axes with size 1.
      return_sign: return `(log(|sum|), sign(sum))` instead.
      where: which entries take part in the reduction.

    Returns:
      The reduction, or the `(result, sign)` pair.

    >>> logsumexp(lnp.array([1., 2.]), b=lnp.array([1., -1.]), return_sign=True)
    (Array(1.5413249, dtype=float32), Array(-1., dtype=float32))
    """
    if where is not None:
        a = lnp.where(where, a, 0)
    if b is not None:
        a, b = promote_args_inexact("logsumexp", a, b)
        a = lnp.where(b != 0, a, -np.inf)
    else:
        a, = promote_args_inexact("logsumexp", a)
    dims = _axes(a, axis)
    amax = lnp.max(a.real, axis=dims, keepdims=keepdims, where=where, initial=-np.inf)
    amax = lax.stop_gradient(lax.select(lnp.isfinite(amax), amax, lax.full_like(amax, 0)))
    amax_k = amax if keepdims else lax.expand_dims(amax, dims)
    e = lnp.exp(lnp.subtract(a, amax_k.astype(a.dtype)))
    if b is not None:
        e = lnp.multiply(e, b)
    s = e.sum(axis=dims, keepdims=keepdims, where=where)
    sign = lax.sign(s)
    if return_sign or not lnp.issubdtype(a.dtype, lnp.complexfloating):
        s = abs(s)
    out = lnp.add(lnp.log(s), amax.astype(s.dtype))
    if return_sign:
        return out, sign
    if b is not None and not lnp.issubdtype(out.dtype, lnp.complexfloating):
        out = lnp.where(sign < 0, lnp.array(np.nan, dtype=out.dtype), out)
    return out
