"""Transformations that add a term to the updates: `add_decayed_weights` (decoupled
weight decay, optionally masked or scheduled) and `add_noise` (annealed Gaussian
noise), optax's `transforms/_adding` building blocks.

Separate from `transform` because they add to the updates instead of rescaling them;
`add_decayed_weights` needs `params` and says so when they are missing.
"""
from __future__ import annotations

from typing import Any, NamedTuple, Optional

import numpy as np

import lamina.numpy as lnp
from lamina.tree_util import tree_leaves, tree_map, tree_structure, tree_unflatten

from lamina.optim._base import (
    EmptyState, GradientTransformation, NO_PARAMS_MSG, ScalarOrSchedule, _check_nonnegative,
    _is_none, _safe_increment,
)
from lamina.optim.transform import _zero_count

__all__ = [
    "AddDecayedWeightsState", "AddNoiseState", "add_decayed_weights", "add_noise",
]

AddDecayedWeightsState = EmptyState


# --- adding ----------------------------------------------------------------------------


class WeightDecaySchedule(NamedTuple):
    """State of `add_decayed_weights` with a scheduled weight decay."""

    count: Any  # shape=(), dtype=int32


def add_decayed_weights(weight_decay: ScalarOrSchedule = 0.0,
                        mask: Any = None) -> GradientTransformation:
    """Adds `weight_decay * param` to each update (decoupled weight decay, AdamW).
    `mask` (a tree of bools or a function of the params) limits it to some leaves.

    >>> import lamina.numpy as lnp, lamina.optim as optim
    >>> tx = optim.add_decayed_weights(0.1)
    >>> tx.update(lnp.zeros(2), tx.init(None), lnp.array([1., 2.]))[0]
    Array([0.1, 0.2], dtype=float32)
    """
    # NOTE: no sign check: fromage decays with a negative rate on purpose.
    def init_fn(params):
        del params
        if callable(weight_decay):
            return WeightDecaySchedule(count=_zero_count())
        return EmptyState()

    def update_fn(updates, state, params):
        if params is None:
            raise ValueError("add_decayed_weights: " + NO_PARAMS_MSG)
        if callable(weight_decay):
            new_state = WeightDecaySchedule(_safe_increment(state.count))
        else:
            new_state = state
        if isinstance(weight_decay, (int, float)) and weight_decay == 0.0:
            return updates, new_state
        s = weight_decay(state.count) if callable(weight_decay) else weight_decay
        updates = tree_map(lambda g, p: None if g is None else g + s * p, updates, params,
                           is_leaf=_is_none)
        return updates, new_state

    tx = GradientTransformation(init_fn, update_fn)
    if mask is not None:
        # NOTE: imported here: combine.py builds on this module.
        from lamina.optim.combine import masked
        return masked(tx, mask)
    return tx


class AddNoiseState(NamedTuple):
    """State of `add_noise`."""

    count: Any  # shape=(), dtype=int32
    rng_key: Any


def add_noise(eta: Any, gamma: Any, key: Any = None, *, seed: Optional[int] = None
              ) -> GradientTransformation:
    """Adds annealed Gaussian noise with variance `eta / (1 + t)^gamma` to the updates.

    `key` is a `lamina.random` key or an integer seed (jax.random's bits, so the noise
    equals optax's for the same seed).

    >>> import lamina.numpy as lnp, lamina.optim as optim
    >>> tx = optim.add_noise(eta=0.01, gamma=0.55, key=0)
    >>> u, state = tx.update(lnp.zeros(3), tx.init(None))
    >>> u.shape, state.count
    ((3,), Array(1, dtype=int32))
    """
    _check_nonnegative("add_noise", "eta", eta)
    _check_nonnegative("add_noise", "gamma", gamma)
    if seed is not None:
        if key is not None:
            raise ValueError("add_noise: pass only one of `key` and `seed` (seed is the "
                             "old name of key)")
        key = seed
    if key is None:
        key = 0

    def random():
        try:
            import lamina.random as lrandom
        except ImportError as e:  # pragma: no cover - only in builds without lamina.random
            raise NotImplementedError(
                "add_noise / noisy_sgd need lamina.random, which is not available in "
                "this build of lamina") from e
        return lrandom

    def init_fn(params):
        del params
        lrandom = random()
        # NOTE: an int is a seed; anything else is taken as a key (typed or raw uint32).
        is_seed = isinstance(key, (int, np.integer)) and not isinstance(key, bool)
        rng_key = lrandom.key(int(key)) if is_seed else key
        return AddNoiseState(count=_zero_count(), rng_key=rng_key)

    def update_fn(updates, state, params=None):
        del params
        lrandom = random()
        count_inc = _safe_increment(state.count)
        std = lnp.sqrt(eta / count_inc ** gamma)
        rng_key, sample_key = lrandom.split(state.rng_key)
        treedef = tree_structure(updates)
        keys = lrandom.split(sample_key, treedef.num_leaves)
        noise = tree_unflatten(treedef, [lrandom.normal(keys[i], leaf.shape, leaf.dtype)
                                         for i, leaf in enumerate(tree_leaves(updates))])
        std_arr = lnp.asarray(std)
        updates = tree_map(lambda g, n: None if g is None else g + std_arr * n, updates,
                           noise, is_leaf=_is_none)
        return updates, AddNoiseState(count=count_inc, rng_key=rng_key)

    return GradientTransformation(init_fn, update_fn)
