"""The model registry and the built-in models (MLP, CNN, tiny decoder-only LM).

A registered factory takes ``num_outputs`` (classes or vocabulary size, from the data)
plus its hyperparameters and returns a model with lamina.nn's interface:
``init(key, x) -> {'params': ..., ['state': ...]}`` and
``apply(variables, x, train=False, rngs=None, mutable=False)``.
The built-ins (``mlp``, ``cnn``, ``transformer_lm``) are ``lamina.nn`` Modules; a
pure-function model (``fn(params, x)`` + ``init(key, x)``) is wrapped into the same
interface by :class:`FunctionModel`.

>>> import lamina, lamina.numpy as lnp
>>> model = get_model("mlp", num_outputs=3, hidden=(8,))
>>> variables = model.init(lamina.random.PRNGKey(0), lnp.zeros((2, 4)))
>>> model.apply(variables, lnp.ones((2, 4))).shape
(2, 3)
"""
from __future__ import annotations

import difflib
from typing import Callable

import lamina.numpy as lnp
from lamina import nn

__all__ = ["register_model", "get_model", "model_names", "FunctionModel", "MLPClassifier",
           "CNNClassifier", "TransformerLM", "is_nn_module"]

_MODELS: dict[str, Callable] = {}


def register_model(name: str):
    """Decorator: register ``factory(num_outputs, **hyperparameters) -> model``.

    >>> @register_model("my_linear")
    ... def my_linear(num_outputs):
    ...     init = lambda key, x: {"w": lnp.zeros((x.shape[-1], num_outputs))}
    ...     return FunctionModel(lambda p, x: x @ p["w"], init)
    >>> "my_linear" in model_names()
    True
    """
    def deco(factory):
        _MODELS[name] = factory
        return factory
    return deco


def is_nn_module(model) -> bool:
    """True for a ``lamina.nn.Module`` (as opposed to a :class:`FunctionModel`)."""
    return isinstance(model, nn.Module)


def model_names() -> list[str]:
    return sorted(_MODELS)


def get_model(name: str, num_outputs=None, **args):
    """Build a registered model; unknown names/hyperparameters give a clear error."""
    from .config import ConfigError
    from .data import _check_args
    if name not in _MODELS:
        close = difflib.get_close_matches(name, list(_MODELS), n=3)
        hint = f"did you mean {', '.join(map(repr, close))}? " if close else ""
        raise ConfigError(f"unknown model 'model.name={name}': {hint}registered models: "
                          f"{', '.join(model_names())}")
    factory = _MODELS[name]
    _check_args(factory, args, f"model.args (model {name!r})", skip=("num_outputs",))
    return factory(num_outputs=num_outputs, **args)


class FunctionModel:
    """A pure-function model behind lamina.nn's ``init``/``apply`` interface.

    ``fn(params, x)`` (or ``fn(params, x, train=..., rng=...)`` when ``takes_rng``) and
    ``init_fn(key, x) -> params``.
    """

    def __init__(self, fn, init_fn, takes_rng=False):
        self.fn, self.init_fn, self.takes_rng = fn, init_fn, takes_rng

    def init(self, key, x):
        return {"params": self.init_fn(key, x)}

    def apply(self, variables, x, train=False, rngs=None, mutable=False):
        if self.takes_rng:
            rng = (rngs or {}).get("dropout")
            y = self.fn(variables["params"], x, train=train, rng=rng)
        else:
            y = self.fn(variables["params"], x)
        return (y, {}) if mutable else y


# --- the built-in models, as lamina.nn Modules ---------------------------------------

class MLPClassifier(nn.Module):
    """Flattens the input, ``len(hidden)`` ReLU ``Dense`` layers, then a ``Dense`` head.

    >>> import lamina, lamina.numpy as lnp
    >>> m = MLPClassifier(num_outputs=2, hidden=(4,))
    >>> v = m.init(lamina.random.PRNGKey(0), lnp.ones((1, 3, 2)))
    >>> sorted(v["params"]), v["params"]["Dense_0"]["kernel"].shape
    (['Dense_0', 'head'], (6, 4))
    """

    num_outputs: int
    hidden: tuple = (128,)

    def __call__(self, x):
        x = x.reshape(x.shape[0], -1)
        for i, h in enumerate(self.hidden):
            x = nn.relu(nn.Dense(h, name=f"Dense_{i}")(x))
        return nn.Dense(self.num_outputs, name="head")(x)


class CNNClassifier(nn.Module):
    """3x3 SAME ``Conv`` + ReLU + 2x2 average pooling per entry of ``channels`` (NHWC),
    then a ReLU ``Dense`` layer and a ``Dense`` head.

    >>> import lamina, lamina.numpy as lnp
    >>> m = CNNClassifier(num_outputs=3, channels=(2,), hidden=4)
    >>> x = lnp.ones((1, 4, 4, 1))
    >>> m.apply(m.init(lamina.random.PRNGKey(0), x), x).shape
    (1, 3)
    """

    num_outputs: int
    channels: tuple = (16, 32)
    hidden: int = 64

    def __call__(self, x):
        for i, c in enumerate(self.channels):
            x = nn.relu(nn.Conv(c, (3, 3), padding="SAME", name=f"Conv_{i}")(x))
            x = nn.avg_pool(x, (2, 2), (2, 2))
        x = x.reshape(x.shape[0], -1)
        x = nn.relu(nn.Dense(self.hidden, name="Dense_0")(x))
        return nn.Dense(self.num_outputs, name="head")(x)


class DecoderBlock(nn.Module):
    """A pre-LayerNorm causal self-attention + GELU MLP block with residuals."""

    num_heads: int
    mlp_ratio: int = 4
    num_layers: int = 1        # of the whole model: scales the residual-branch outputs

    def __call__(self, x, mask):
        d = x.shape[-1]
        # NOTE: GPT-2 style: residual-branch projections shrink with depth.
        out_init = nn.initializers.variance_scaling(1.0 / (2 * self.num_layers), "fan_in",
                                                    "truncated_normal")
        h = nn.LayerNorm(epsilon=1e-5, name="norm_0")(x)
        x = x + nn.MultiHeadDotProductAttention(
            self.num_heads, out_kernel_init=out_init, name="attn")(h, mask=mask)
        h = nn.LayerNorm(epsilon=1e-5, name="norm_1")(x)
        h = nn.gelu(nn.Dense(self.mlp_ratio * d, name="Dense_0")(h))
        return x + nn.Dense(d, kernel_init=out_init, name="Dense_1")(h)


class TransformerLM(nn.Module):
    """A tiny decoder-only (causal) transformer over integer tokens ``(batch, time)``;
    learned positions, tied input/output embedding, logits ``(batch, time, vocab)``.

    >>> import lamina, lamina.numpy as lnp
    >>> m = TransformerLM(vocab=11, d_model=8, num_heads=2, num_layers=1, max_len=6)
    >>> t = lnp.zeros((2, 5), lnp.int32)
    >>> m.apply(m.init(lamina.random.PRNGKey(0), t), t).shape
    (2, 5, 11)
    """

    vocab: int
    d_model: int = 64
    num_heads: int = 4
    num_layers: int = 2
    max_len: int = 256
    mlp_ratio: int = 4

    def __call__(self, tokens):
        t = tokens.shape[-1]
        if t > self.max_len:
            raise ValueError(f"TransformerLM: sequence length {t} exceeds max_len="
                             f"{self.max_len}; raise model.args.max_len")
        emb_init = nn.initializers.normal(0.02)
        embed = nn.Embed(self.vocab, self.d_model, embedding_init=emb_init, name="embed")
        pos = self.param("pos_embed", emb_init, (self.max_len, self.d_model))
        x = embed(tokens)
        x = x + pos[:t].astype(x.dtype)
        mask = nn.make_causal_mask(tokens)
        for i in range(self.num_layers):
            x = DecoderBlock(self.num_heads, self.mlp_ratio, self.num_layers,
                             name=f"Block_{i}")(x, mask)
        x = nn.LayerNorm(epsilon=1e-5, name="final_norm")(x)
        return embed.attend(x)


@register_model("mlp")
def mlp(num_outputs, hidden=(128,)):
    """:class:`MLPClassifier`: flattens the input, ReLU layers, then a linear head."""
    return MLPClassifier(num_outputs=num_outputs, hidden=tuple(hidden))


@register_model("cnn")
def cnn(num_outputs, channels=(16, 32), hidden=64):
    """:class:`CNNClassifier`: 3x3 convolutions + 2x2 average pooling (NHWC), two dense
    layers."""
    return CNNClassifier(num_outputs=num_outputs, channels=tuple(channels), hidden=hidden)


@register_model("transformer_lm")
def transformer_lm(num_outputs=128, d_model=64, num_heads=4, num_layers=2, max_len=256,
                   mlp_ratio=4):
    """:class:`TransformerLM` with ``num_outputs`` tokens (the data's vocabulary)."""
    if d_model % num_heads:
        from .config import ConfigError
        raise ConfigError(f"transformer_lm: model.args.d_model={d_model} is not divisible "
                          f"by model.args.num_heads={num_heads}")
    return TransformerLM(vocab=num_outputs, d_model=d_model, num_heads=num_heads,
                         num_layers=num_layers, max_len=max_len, mlp_ratio=mlp_ratio)


def load_function_model(fn_spec: str, init_spec: str, args: dict):
    """``module:function`` pure model (``fn(params, x, **args)``, ``init(key, x, **args)``)."""
    fn, init = _import_object(fn_spec, "model.fn"), _import_object(init_spec, "model.init")
    return FunctionModel(lambda p, x: fn(p, x, **args), lambda k, x: init(k, x, **args))


def import_user_module(name: str, where: str):
    """Import a module named by a config (``imports``, ``model.fn``...), looking in the
    current directory first as ``python -m`` does, so ``examples.my_model`` works from
    the project root with the ``lamina`` console script too."""
    import importlib
    import os
    import sys
    from .config import ConfigError
    cwd = os.getcwd()
    if cwd not in sys.path and "" not in sys.path:
        sys.path.insert(0, cwd)
    try:
        return importlib.import_module(name)
    except ImportError as e:
        raise ConfigError(f"config '{where}': cannot import {name!r} ({e})") from None


def _import_object(spec: str, where: str):
    from .config import ConfigError
    if ":" not in spec:
        raise ConfigError(f"config '{where}={spec}' must look like 'package.module:function'")
    mod_name, _, attr = spec.partition(":")
    mod = import_user_module(mod_name, f"{where}={spec}")
    obj = mod
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ConfigError(f"config '{where}={spec}': module {mod_name!r} has no "
                              f"{attr!r}")
        obj = getattr(obj, part)
    if not callable(obj):
        raise ConfigError(f"config '{where}={spec}' is not callable")
    return obj
