"""Stochastic layers (flax.linen.Dropout)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import lamina.numpy as lnp
from lamina import lax, random
from lamina.nn.module import Module

__all__ = ["Dropout"]


def resolve_deterministic(module: Module, field: bool | None, arg: bool | None) -> bool:
    """Whether a stochastic layer runs deterministically.

    An explicit call argument wins, then the constructor field, then the `train=` flag of
    `apply` (`deterministic = not train`). Giving both the field and the argument is an
    error, as Flax's `merge_param` makes it.
    """
    if field is not None and arg is not None:
        raise ValueError(
            f"nn.{type(module).__name__}: 'deterministic' was given both as a constructor "
            f"field ({field}) and as a call argument ({arg}); give it in one place only")
    if arg is not None:
        return bool(arg)
    if field is not None:
        return bool(field)
    return not module.is_training


class Dropout(Module):
    """Randomly zero a fraction `rate` of the inputs and scale the rest by `1 / (1 - rate)`.

    Dropout is active when `apply(..., train=True)` (or `deterministic=False`) and draws
    its mask from the `'dropout'` rng stream (`rngs={'dropout': key}`). For a given key
    the mask is `random.bernoulli(key, 1 - rate, shape)`, bit-identical to Flax's for the
    same key.

    Attributes:
        rate: the probability of dropping an element.
        broadcast_dims: dimensions along which the mask is shared (e.g. `(1,)` to drop
            whole time steps' features identically over the sequence).
        deterministic: if set, overrides the `train` flag (True: identity).
        rng_collection: the rng stream to draw from.

    >>> import lamina, lamina.numpy as lnp
    >>> from lamina import nn
    >>> layer = nn.Dropout(rate=0.5)
    >>> x = lnp.ones((2, 4))
    >>> variables = layer.init(lamina.random.key(0), x)
    >>> bool((layer.apply(variables, x) == x).all())          # eval: identity
    True
    >>> y = layer.apply(variables, x, train=True, rngs={"dropout": lamina.random.key(1)})
    >>> sorted(set(y.ravel().tolist())) in ([0.0, 2.0], [0.0], [2.0])
    True
    """

    rate: float
    broadcast_dims: Sequence[int] = ()
    deterministic: bool | None = None
    rng_collection: str = "dropout"

    def __call__(self, inputs: Any, deterministic: bool | None = None,
                 rng: Any = None) -> Any:
        """Apply dropout; `rng` (a key) overrides drawing from the rng stream."""
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError(f"nn.Dropout: rate must be in [0, 1], got {self.rate}")
        if resolve_deterministic(self, self.deterministic, deterministic) or self.rate == 0.0:
            return inputs
        inputs = lnp.asarray(inputs)
        if self.rate == 1.0:
            return lnp.zeros_like(inputs)
        keep_prob = 1.0 - self.rate
        if rng is None:
            rng = self.make_rng(self.rng_collection)
        shape = list(inputs.shape)
        for d in self.broadcast_dims:
            shape[d] = 1
        mask = random.bernoulli(rng, p=keep_prob, shape=tuple(shape))
        mask = lnp.broadcast_to(mask, inputs.shape)
        return lax.select(mask, inputs / keep_prob, lnp.zeros_like(inputs))
