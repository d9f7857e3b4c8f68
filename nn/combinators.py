"""Combinators: `Sequential` (a chain of layers and functions) and `MLP`."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import lamina.numpy as lnp
from lamina.nn import initializers
from lamina.nn.activations import relu
from lamina.nn.linear import Dense, default_kernel_init
from lamina.nn.module import Module

__all__ = ["Sequential", "MLP"]


class Sequential(Module):
    """Apply `layers` in order; each may be a module or a plain function (e.g.
    `nn.relu`). A layer returning a tuple passes it as several arguments to the next
    (as Flax); a dict as keyword arguments. Submodules are named `layers_0`, ...

    >>> import lamina, lamina.numpy as lnp
    >>> from lamina import nn
    >>> model = nn.Sequential([nn.Dense(4), nn.relu, nn.Dense(1)])
    >>> v = model.init(lamina.random.PRNGKey(0), lnp.ones((2, 3)))
    >>> sorted(v["params"]), model.apply(v, lnp.ones((2, 3))).shape
    (['layers_0', 'layers_2'], (2, 1))
    """

    layers: Sequence[Callable[..., Any]]

    def __post_init__(self) -> None:
        if not isinstance(self.layers, Sequence) or isinstance(self.layers, str):
            raise TypeError(f"lamina.nn.Sequential: layers must be a list/tuple of modules "
                            f"or functions, got {type(self.layers).__name__}")
        # NOTE: stored as a tuple so the module stays hashable.
        object.__setattr__(self, "layers", tuple(self.layers))

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if not self.layers:
            raise ValueError("lamina.nn.Sequential: empty layers; give at least one layer")
        out = self.layers[0](*args, **kwargs)
        for layer in self.layers[1:]:
            if isinstance(out, tuple):
                out = layer(*out)
            elif isinstance(out, dict):
                out = layer(**out)
            else:
                out = layer(out)
        return out


class MLP(Module):
    """A multi-layer perceptron: `Dense(f)` for each of `features`, with `activation`
    between layers (not after the last unless `activate_final`).

    Shapes: `(..., in) -> (..., features[-1])`. Layers are named `Dense_0`, `Dense_1`...

    >>> import lamina, lamina.numpy as lnp
    >>> from lamina import nn
    >>> model = nn.MLP((16, 16, 3))
    >>> v = model.init(lamina.random.PRNGKey(0), lnp.ones((5, 2)))
    >>> model.apply(v, lnp.ones((5, 2))).shape
    (5, 3)
    """

    features: Sequence[int]
    activation: Callable[[Any], Any] = relu
    activate_final: bool = False
    use_bias: bool = True
    dtype: Any = None
    param_dtype: Any = lnp.float32
    kernel_init: Callable = default_kernel_init
    bias_init: Callable = initializers.zeros

    def __post_init__(self) -> None:
        feats = (self.features,) if isinstance(self.features, int) else tuple(self.features)
        if not feats:
            raise ValueError("lamina.nn.MLP: features must name at least one layer size")
        object.__setattr__(self, "features", feats)

    def __call__(self, x: Any) -> Any:
        n = len(self.features)
        for i, f in enumerate(self.features):
            x = Dense(f, use_bias=self.use_bias, dtype=self.dtype,
                      param_dtype=self.param_dtype, kernel_init=self.kernel_init,
                      bias_init=self.bias_init)(x)
            if i < n - 1 or self.activate_final:
                x = self.activation(x)
        return x
