"""The model registry and the built-in models (MLP, CNN, tiny decoder-only LM).

A registered factory takes ``num_outputs`` (classes or vocabulary size, from the data)
plus its hyperparameters and returns a model with lamina.nn's interface:
``init(key, x) -> {'params': ..., ['state': ...]}`` and
``apply(variables, x, train=False, rngs=None, mutable=False)``.
A pure-function model is wrapped into the same interface by :class:`FunctionModel`.

>>> import lamina, lamina.numpy as lnp
>>> model = get_model("mlp", num_outputs=3, hidden=(8,))
>>> variables = model.init(lamina.random.PRNGKey(0), lnp.zeros((2, 4)))
>>> model.apply(variables, lnp.ones((2, 4))).shape
(2, 3)
"""
from __future__ import annotations

import difflib
import math
from typing import Callable

import lamina.numpy as lnp
from lamina import lax, random

__all__ = ["register_model", "get_model", "model_names", "FunctionModel"]

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


# --- building blocks (explicit params named like lamina.nn's layers) -------------------

def _dense_init(key, fan_in, fan_out, scale=1.0):
    w = random.normal(key, (fan_in, fan_out), lnp.float32) * (scale / math.sqrt(fan_in))
    return {"kernel": w, "bias": lnp.zeros((fan_out,), lnp.float32)}


def _dense(p, x):
    return x @ p["kernel"].astype(x.dtype) + p["bias"].astype(x.dtype)


def _relu(x):
    return lnp.maximum(x, 0)


def _gelu(x):
    return 0.5 * x * (1 + lnp.tanh(0.7978845608 * (x + 0.044715 * x * x * x)))


def _layer_norm(p, x, eps=1e-5):
    mean = lnp.mean(x, axis=-1, keepdims=True)
    var = lnp.mean(lnp.square(x - mean), axis=-1, keepdims=True)
    y = (x - mean) / lnp.sqrt(var + eps)
    return y * p["scale"].astype(x.dtype) + p["bias"].astype(x.dtype)


def _ln_init(d):
    return {"scale": lnp.ones((d,), lnp.float32), "bias": lnp.zeros((d,), lnp.float32)}


@register_model("mlp")
def mlp(num_outputs, hidden=(128,)):
    """Flattens the input, ``len(hidden)`` ReLU layers, then a linear head."""
    hidden = tuple(hidden)

    def init(key, x):
        sizes = (math.prod(x.shape[1:]),) + hidden + (num_outputs,)
        keys = random.split(key, len(sizes) - 1)
        names = [f"Dense_{i}" for i in range(len(hidden))] + ["head"]
        return {n: _dense_init(k, a, b) for n, k, a, b in zip(names, keys, sizes, sizes[1:])}

    def fn(params, x):
        x = x.reshape(x.shape[0], -1)
        for i in range(len(hidden)):
            x = _relu(_dense(params[f"Dense_{i}"], x))
        return _dense(params["head"], x)

    return FunctionModel(fn, init)


@register_model("cnn")
def cnn(num_outputs, channels=(16, 32), hidden=64):
    """3x3 SAME convolutions + ReLU + 2x2 average pooling (NHWC), then two dense layers."""
    channels = tuple(channels)

    def init(key, x):
        keys = random.split(key, len(channels) + 2)
        params, c_in, h, w = {}, x.shape[-1], x.shape[1], x.shape[2]
        for i, c in enumerate(channels):
            k = random.normal(keys[i], (3, 3, c_in, c), lnp.float32) / math.sqrt(9 * c_in)
            params[f"Conv_{i}"] = {"kernel": k, "bias": lnp.zeros((c,), lnp.float32)}
            c_in, h, w = c, h // 2, w // 2
        params["Dense_0"] = _dense_init(keys[-2], h * w * c_in, hidden)
        params["head"] = _dense_init(keys[-1], hidden, num_outputs)
        return params

    def fn(params, x):
        for i in range(len(channels)):
            p = params[f"Conv_{i}"]
            x = lax.conv_general_dilated(x, p["kernel"].astype(x.dtype), (1, 1), "SAME",
                                         dimension_numbers=("NHWC", "HWIO", "NHWC"))
            x = _relu(x + p["bias"].astype(x.dtype))
            x = lax.reduce_window(x, lnp.array(0, x.dtype), lax.add, (1, 2, 2, 1),
                                  (1, 2, 2, 1), "VALID") * 0.25
        x = x.reshape(x.shape[0], -1)
        return _dense(params["head"], _relu(_dense(params["Dense_0"], x)))

    return FunctionModel(fn, init)


@register_model("transformer_lm")
def transformer_lm(num_outputs=128, d_model=64, num_heads=4, num_layers=2, max_len=256,
                   mlp_ratio=4):
    """A tiny decoder-only (causal) transformer over integer tokens (pre-LayerNorm)."""
    vocab = num_outputs
    if d_model % num_heads:
        from .config import ConfigError
        raise ConfigError(f"transformer_lm: d_model={d_model} is not divisible by "
                          f"num_heads={num_heads}")
    hd = d_model // num_heads

    def init(key, x):
        keys = random.split(key, 2 + num_layers)
        params = {
            "embed": {"embedding": random.normal(keys[0], (vocab, d_model)) * 0.02},
            "pos_embed": {"embedding": random.normal(keys[1], (max_len, d_model)) * 0.02},
            "final_norm": _ln_init(d_model),
        }
        for i in range(num_layers):
            k = random.split(keys[2 + i], 4)
            params[f"Block_{i}"] = {
                "norm_0": _ln_init(d_model),
                "attn": {"qkv": _dense_init(k[0], d_model, 3 * d_model),
                         "out": _dense_init(k[1], d_model, d_model,
                                            scale=1 / math.sqrt(2 * num_layers))},
                "norm_1": _ln_init(d_model),
                "mlp": {"Dense_0": _dense_init(k[2], d_model, mlp_ratio * d_model),
                        "Dense_1": _dense_init(k[3], mlp_ratio * d_model, d_model,
                                               scale=1 / math.sqrt(2 * num_layers))},
            }
        return params

    def fn(params, tokens):
        b, t = tokens.shape
        x = params["embed"]["embedding"][tokens] + params["pos_embed"]["embedding"][:t]
        mask = lnp.tril(lnp.ones((t, t), bool))
        for i in range(num_layers):
            p = params[f"Block_{i}"]
            h = _dense(p["attn"]["qkv"], _layer_norm(p["norm_0"], x))
            q, k, v = (h[..., j * d_model:(j + 1) * d_model].reshape(b, t, num_heads, hd)
                       for j in range(3))
            s = lnp.einsum("bqhd,bkhd->bhqk", q, k) / math.sqrt(hd)
            s = lnp.where(mask, s, -1e9)
            s = s - lnp.max(s, axis=-1, keepdims=True)
            w = lnp.exp(s)
            w = w / lnp.sum(w, axis=-1, keepdims=True)
            a = lnp.einsum("bhqk,bkhd->bqhd", w, v).reshape(b, t, d_model)
            x = x + _dense(p["attn"]["out"], a)
            h = _gelu(_dense(p["mlp"]["Dense_0"], _layer_norm(p["norm_1"], x)))
            x = x + _dense(p["mlp"]["Dense_1"], h)
        x = _layer_norm(params["final_norm"], x)
        return x @ params["embed"]["embedding"].T.astype(x.dtype)

    return FunctionModel(fn, init)


def load_function_model(fn_spec: str, init_spec: str, args: dict):
    """``module:function`` pure model (``fn(params, x, **args)``, ``init(key, x, **args)``)."""
    fn, init = _import_object(fn_spec, "model.fn"), _import_object(init_spec, "model.init")
    return FunctionModel(lambda p, x: fn(p, x, **args), lambda k, x: init(k, x, **args))


def _import_object(spec: str, where: str):
    import importlib
    from .config import ConfigError
    if ":" not in spec:
        raise ConfigError(f"config '{where}={spec}' must look like 'package.module:function'")
    mod_name, _, attr = spec.partition(":")
    try:
        mod = importlib.import_module(mod_name)
    except ImportError as e:
        raise ConfigError(f"config '{where}={spec}': cannot import {mod_name!r} ({e})") from None
    obj = mod
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ConfigError(f"config '{where}={spec}': module {mod_name!r} has no "
                              f"{attr!r}")
        obj = getattr(obj, part)
    if not callable(obj):
        raise ConfigError(f"config '{where}={spec}' is not callable")
    return obj


# --- the same built-ins as lamina.nn Modules (lamina.nn imported only when used) ----------

def _flatten_batch(x):
    return x.reshape(x.shape[0], -1)


def _avg_pool_2x2(x):
    from lamina import nn
    return nn.avg_pool(x, (2, 2), (2, 2))


@register_model("nn_mlp")
def nn_mlp(num_outputs, hidden=(128,)):
    """:func:`mlp` built from ``lamina.nn`` layers (``nn.Sequential`` + ``nn.MLP``)."""
    from lamina import nn
    return nn.Sequential([_flatten_batch, nn.MLP(tuple(hidden) + (num_outputs,))])


@register_model("nn_cnn")
def nn_cnn(num_outputs, channels=(16, 32), hidden=64):
    """:func:`cnn` built from ``lamina.nn`` layers (NHWC input)."""
    from lamina import nn
    layers = []
    for c in channels:
        layers += [nn.Conv(c, (3, 3)), nn.relu, _avg_pool_2x2]
    layers += [_flatten_batch, nn.Dense(hidden), nn.relu, nn.Dense(num_outputs)]
    return nn.Sequential(layers)
