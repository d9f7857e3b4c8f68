"""Clipping transformations: `clip` (elementwise), `clip_by_block_rms`,
`clip_by_global_norm` and `adaptive_grad_clip` (unit-wise, relative to the
parameters' norms), optax's `transforms/_clipping` building blocks.

Separate from `transform` because they bound the updates rather than rescale them by
running statistics; all are stateless (`EmptyState`).
"""
from __future__ import annotations

from typing import Any

import lamina.lax as lax
import lamina.numpy as lnp
from lamina.tree_util import tree_map

from lamina.optim._base import (
    EmptyState, GradientTransformation, NO_PARAMS_MSG, _abs_sq, _check_nonnegative,
    _tree_norm, init_empty_state,
)

__all__ = [
    "AdaptiveGradClipState", "ClipByGlobalNormState", "ClipState", "adaptive_grad_clip", "clip",
    "clip_by_block_rms", "clip_by_global_norm",
]

ClipState = EmptyState
ClipByGlobalNormState = EmptyState
AdaptiveGradClipState = EmptyState


# --- clipping --------------------------------------------------------------------------


def clip(max_delta: Any) -> GradientTransformation:
    """Clips every update element to `[-max_delta, max_delta]`.

    >>> import lamina.numpy as lnp, lamina.optim as optim
    >>> tx = optim.clip(1.0)
    >>> tx.update(lnp.array([-3., 0.5, 2.]), tx.init(None))[0]
    Array([-1. ,  0.5,  1. ], dtype=float32)
    """
    _check_nonnegative("clip", "max_delta", max_delta)

    def update_fn(updates, state, params=None):
        del params
        return tree_map(lambda g: lnp.clip(g, -max_delta, max_delta), updates), state

    return GradientTransformation(init_empty_state, update_fn)


def clip_by_block_rms(threshold: Any) -> GradientTransformation:
    """Rescales each leaf so that its root mean square is at most `threshold`.

    >>> import lamina.numpy as lnp, lamina.optim as optim
    >>> tx = optim.clip_by_block_rms(1.0)
    >>> tx.update(lnp.array([4., -4.]), tx.init(None))[0]
    Array([ 1., -1.], dtype=float32)
    """
    _check_nonnegative("clip_by_block_rms", "threshold", threshold)

    def clip_leaf(u):
        denom = lnp.maximum(1.0, lnp.sqrt(lnp.mean(_abs_sq(u))) / threshold)
        return u / denom

    def update_fn(updates, state, params=None):
        del params
        return tree_map(clip_leaf, updates), state

    return GradientTransformation(init_empty_state, update_fn)


def clip_by_global_norm(max_norm: Any) -> GradientTransformation:
    """Rescales all updates together so that their global L2 norm is at most `max_norm`.

    >>> import lamina.numpy as lnp, lamina.optim as optim
    >>> tx = optim.clip_by_global_norm(1.0)
    >>> tx.update({"a": lnp.array([3.]), "b": lnp.array([4.])}, tx.init(None))[0]
    {'a': Array([0.6], dtype=float32), 'b': Array([0.8], dtype=float32)}
    """
    _check_nonnegative("clip_by_global_norm", "max_norm", max_norm)

    def update_fn(updates, state, params=None):
        del params
        g_norm = _tree_norm(updates)
        trigger = lnp.squeeze(g_norm < max_norm)

        def clip_leaf(t):
            return lax.select(trigger, t, t / g_norm.astype(t.dtype) * max_norm)

        return tree_map(clip_leaf, updates), state

    return GradientTransformation(init_empty_state, update_fn)


def _unitwise_norm(x: Any, axis: Any = None) -> Any:
    if axis is not None:
        sq = lnp.sum(_abs_sq(x), axis=axis, keepdims=True)
    elif lnp.squeeze(x).ndim <= 1:
        sq = lnp.sum(_abs_sq(x), keepdims=True)
    elif x.ndim in (2, 3):
        sq = lnp.sum(_abs_sq(x), axis=0, keepdims=True)
    elif x.ndim in (4, 5):
        sq = lnp.sum(_abs_sq(x), axis=tuple(range(x.ndim - 1)), keepdims=True)
    else:
        raise ValueError(
            f"adaptive_grad_clip: expected parameters of rank 1 to 5, got shape "
            f"{tuple(x.shape)}; pass `axis=` to say which axes a unit's norm reduces")
    return lnp.broadcast_to(lnp.sqrt(sq), x.shape)


def adaptive_grad_clip(clipping: Any, eps: Any = 1e-3, axis: Any = None) -> GradientTransformation:
    """Adaptive gradient clipping (NFNets): clips each unit's gradient norm to
    `clipping * max(||param unit||, eps)`. Needs `params`.

    >>> import lamina.numpy as lnp, lamina.optim as optim
    >>> tx = optim.adaptive_grad_clip(0.5)
    >>> tx.update(lnp.array([3., 4.]), tx.init(None), lnp.array([0., 2.]))[0]
    Array([0.6, 0.8], dtype=float32)
    """
    _check_nonnegative("adaptive_grad_clip", "clipping", clipping)
    _check_nonnegative("adaptive_grad_clip", "eps", eps)

    def update_fn(updates, state, params):
        if params is None:
            raise ValueError("adaptive_grad_clip: " + NO_PARAMS_MSG)
        g_norm = tree_map(lambda x: _unitwise_norm(x, axis), updates)
        p_norm = tree_map(lambda x: _unitwise_norm(x, axis), params)
        max_norm = tree_map(lambda x: clipping * lnp.maximum(x, eps), p_norm)

        def clip_leaf(gn, mn, g):
            clipped = g * (mn / lnp.maximum(gn, 1e-6))
            return lnp.where(gn < mn, g, clipped)

        return tree_map(clip_leaf, g_norm, max_norm, updates), state

    return GradientTransformation(init_empty_state, update_fn)
