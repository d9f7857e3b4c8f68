"""Accumulating transformations: `trace` (momentum, optionally Nesterov) and `ema`
(an exponential moving average of the updates, optionally debiased), optax's
`transforms/_accumulation` building blocks.

Separate from `transform` because they keep a running sum of the updates rather than
rescale them. States are optax's NamedTuples (`TraceState(trace)`, `EmaState(count,
ema)`).
"""
from __future__ import annotations

from typing import Any, NamedTuple

from lamina.tree_util import tree_map

from lamina.optim._base import (
    GradientTransformation, Params, _bias_correction, _canonicalize_dtype, _check_decay,
    _check_nonnegative, _is_none, _safe_increment, _tree_cast, _tree_zeros_like,
    _update_moment,
)
from lamina.optim.transform import _zero_count

__all__ = [
    "EmaState", "TraceState", "ema", "trace",
]

# --- accumulation --------------------------------------------------------------------


class TraceState(NamedTuple):
    """State of `trace` (momentum)."""

    trace: Params


def trace(decay: Any, nesterov: bool = False,
          accumulator_dtype: Any = None) -> GradientTransformation:
    """Momentum: `t = g + decay * t`; emits `t` (or `g + decay * t` with Nesterov).

    >>> import lamina.numpy as lnp, lamina.optim as optim
    >>> tx = optim.trace(decay=0.5)
    >>> state = tx.init(lnp.zeros(1))
    >>> _, state = tx.update(lnp.ones(1), state)
    >>> tx.update(lnp.ones(1), state)[0]
    Array([1.5], dtype=float32)
    """
    _check_nonnegative("trace", "decay", decay)
    accumulator_dtype = _canonicalize_dtype(accumulator_dtype)

    def init_fn(params):
        return TraceState(trace=_tree_zeros_like(params, accumulator_dtype))

    def update_fn(updates, state, params=None):
        del params
        f = lambda g, t: g + decay * t  # noqa: E731
        new_trace = tree_map(lambda g, t: None if g is None else f(g, t), updates,
                             state.trace, is_leaf=_is_none)
        updates = tree_map(f, updates, new_trace) if nesterov else new_trace
        return updates, TraceState(trace=_tree_cast(new_trace, accumulator_dtype))

    return GradientTransformation(init_fn, update_fn)


class EmaState(NamedTuple):
    """State of `ema`."""

    count: Any  # shape=(), dtype=int32
    ema: Params


def ema(decay: Any, debias: bool = True, accumulator_dtype: Any = None) -> GradientTransformation:
    """Exponential moving average of the updates, `e = (1 - decay) g + decay e`,
    optionally bias-corrected.

    >>> import lamina.numpy as lnp, lamina.optim as optim
    >>> tx = optim.ema(decay=0.9)
    >>> tx.update(lnp.array([2.]), tx.init(lnp.zeros(1)))[0]
    Array([1.9999995], dtype=float32)
    """
    _check_decay("ema", "decay", decay, bias_corrected=debias)
    accumulator_dtype = _canonicalize_dtype(accumulator_dtype)

    def init_fn(params):
        return EmaState(count=_zero_count(), ema=_tree_zeros_like(params, accumulator_dtype))

    def update_fn(updates, state, params=None):
        del params
        updates = new_ema = _update_moment(updates, state.ema, decay, 1)
        count_inc = _safe_increment(state.count)
        if debias:
            updates = _bias_correction(new_ema, decay, count_inc)
        return updates, EmaState(count=count_inc, ema=_tree_cast(new_ema, accumulator_dtype))

    return GradientTransformation(init_fn, update_fn)
