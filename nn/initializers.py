"""Parameter initializers (`jax.nn.initializers` / `flax.linen.initializers` names).

An initializer is `init(key, shape, dtype=float32) -> Array`. The factories
(`normal(stddev)`, `variance_scaling(...)`, ...) return one; `zeros` and `ones` are
initializers themselves. With the same key, shape and dtype they give the same values
as jax's (lamina.random is bit-identical to jax.random).

>>> import lamina
>>> from lamina.nn import initializers
>>> initializers.ones(lamina.random.PRNGKey(0), (2, 3))
Array([[1., 1., 1.],
       [1., 1., 1.]], dtype=float32)
>>> initializers.lecun_normal()(lamina.random.PRNGKey(0), (64, 32)).shape
(64, 32)
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

import lamina.numpy as lnp
from lamina import dtypes, random

__all__ = [
    "Initializer", "zeros", "ones", "zeros_init", "ones_init", "constant", "uniform",
    "normal", "truncated_normal", "variance_scaling", "lecun_normal", "lecun_uniform",
    "glorot_normal", "glorot_uniform", "xavier_normal", "xavier_uniform", "he_normal",
    "he_uniform", "kaiming_normal", "kaiming_uniform", "orthogonal", "delta_orthogonal",
]

Initializer = Callable[..., Any]
_MODES = ("fan_in", "fan_out", "fan_avg", "fan_geo_avg")
_DISTS = ("truncated_normal", "normal", "uniform")


def _dtype(dtype: Any) -> Any:
    return dtypes.default_float_dtype() if dtype is None else dtype


def _shape(fn: str, shape: Any) -> tuple[int, ...]:
    if isinstance(shape, (int, np.integer)):
        return (int(shape),)
    try:
        return tuple(int(d) for d in shape)
    except TypeError:
        raise TypeError(f"lamina.nn.initializers.{fn}: shape must be a tuple of ints, "
                        f"got {shape!r}") from None


def zeros(key: Any, shape: Sequence[int], dtype: Any = None) -> Any:
    """All zeros (the key is unused).

    >>> import lamina
    >>> zeros(lamina.random.PRNGKey(0), (2,))
    Array([0., 0.], dtype=float32)
    """
    del key
    return lnp.zeros(_shape("zeros", shape), _dtype(dtype))


def ones(key: Any, shape: Sequence[int], dtype: Any = None) -> Any:
    """All ones (the key is unused).

    >>> import lamina
    >>> ones(lamina.random.PRNGKey(0), (2,))
    Array([1., 1.], dtype=float32)
    """
    del key
    return lnp.ones(_shape("ones", shape), _dtype(dtype))


def zeros_init() -> Initializer:
    """Flax's `zeros_init()`: returns `zeros`."""
    return zeros


def ones_init() -> Initializer:
    """Flax's `ones_init()`: returns `ones`."""
    return ones


def constant(value: Any, dtype: Any = None) -> Initializer:
    """An initializer filling with `value`.

    >>> import lamina
    >>> constant(-7.)(lamina.random.PRNGKey(0), (2,))
    Array([-7., -7.], dtype=float32)
    """
    def init(key: Any, shape: Sequence[int], dtype: Any = dtype) -> Any:
        del key
        return lnp.full(_shape("constant", shape), value, dtype=_dtype(dtype))
    return init


def uniform(scale: float = 1e-2, dtype: Any = None) -> Initializer:
    """Uniform samples in `[0, scale)`.

    >>> import lamina
    >>> uniform(10.)(lamina.random.PRNGKey(0), (3,)).shape
    (3,)
    """
    def init(key: Any, shape: Sequence[int], dtype: Any = dtype) -> Any:
        dtype = _dtype(dtype)
        return random.uniform(key, _shape("uniform", shape), dtype) * lnp.array(scale, dtype)
    return init


def normal(stddev: float = 1e-2, dtype: Any = None) -> Initializer:
    """Normal samples with mean 0 and standard deviation `stddev`.

    >>> import lamina
    >>> normal(0.1)(lamina.random.PRNGKey(0), (2, 2)).dtype
    dtype('float32')
    """
    def init(key: Any, shape: Sequence[int], dtype: Any = dtype) -> Any:
        dtype = _dtype(dtype)
        return random.normal(key, _shape("normal", shape), dtype) * lnp.array(stddev, dtype)
    return init


def truncated_normal(stddev: float = 1e-2, dtype: Any = None, lower: float = -2.0,
                     upper: float = 2.0) -> Initializer:
    """Normal samples truncated to `[lower, upper]` (in standard deviations), times
    `stddev`.

    >>> import lamina
    >>> bool((abs(truncated_normal(1.)(lamina.random.PRNGKey(0), (100,))) <= 2).all())
    True
    """
    def init(key: Any, shape: Sequence[int], dtype: Any = dtype) -> Any:
        dtype = _dtype(dtype)
        return random.truncated_normal(key, lower, upper, _shape("truncated_normal", shape),
                                       dtype) * lnp.array(stddev, dtype)
    return init


def _compute_fans(shape: tuple[int, ...], in_axis: Any, out_axis: Any,
                  batch_axis: Any) -> tuple[float, float]:
    if isinstance(in_axis, int) and in_axis == -2 and len(shape) <= 1:
        raise ValueError(
            f"lamina.nn.initializers.variance_scaling: cannot compute fan-in/fan-out of a "
            f"{len(shape)}-D shape {shape} with the default in_axis=-2; use a 2-D or "
            f"larger shape, or pass in_axis/out_axis explicitly")

    def size(axes: Any) -> int:
        if isinstance(axes, int):
            return shape[axes]
        return math.prod(shape[a] for a in axes)

    in_size, out_size, batch = size(in_axis), size(out_axis), size(batch_axis)
    receptive = math.prod(shape) / in_size / out_size / batch
    return in_size * receptive, out_size * receptive


def _complex_uniform(key: Any, shape: tuple, dtype: Any) -> Any:
    k_r, k_t = random.split(key)
    real = lnp.finfo(dtype).dtype
    r = lnp.sqrt(2 * random.uniform(k_r, shape, real)).astype(dtype)
    theta = 2 * np.pi * random.uniform(k_t, shape, real).astype(dtype)
    return r * lnp.exp(1j * theta)


def _complex_truncated_normal(key: Any, upper: float, shape: tuple, dtype: Any) -> Any:
    k_r, k_t = random.split(key)
    real = lnp.finfo(dtype).dtype
    t = (1 - lnp.exp(lnp.array(-(upper ** 2), dtype))) * \
        random.uniform(k_r, shape, real).astype(dtype)
    r = lnp.sqrt(-lnp.log(1 - t))
    theta = 2 * np.pi * random.uniform(k_t, shape, real).astype(dtype)
    return r * lnp.exp(1j * theta)


def variance_scaling(scale: float, mode: str, distribution: str,
                     in_axis: int | Sequence[int] = -2, out_axis: int | Sequence[int] = -1,
                     batch_axis: int | Sequence[int] = (), dtype: Any = None) -> Initializer:
    """Samples with variance `scale / n`, `n` the fan given by `mode`.

    Args:
        scale: the variance multiplier (positive).
        mode: "fan_in", "fan_out", "fan_avg" or "fan_geo_avg".
        distribution: "truncated_normal" (cut at 2 standard deviations, rescaled to
            keep the variance), "normal" or "uniform".
        in_axis, out_axis: the input / output axes of the weight; the other axes
            (but `batch_axis`) form the receptive field of a convolution kernel.
        batch_axis: axes ignored in the fans.
        dtype: default dtype of the weights.

    >>> import lamina
    >>> w = variance_scaling(2.0, "fan_in", "normal")(lamina.random.PRNGKey(0), (400, 300))
    >>> round(float(w.std() ** 2 * 400), 1)
    2.0
    """
    if mode not in _MODES:
        raise ValueError(f"lamina.nn.initializers.variance_scaling: mode must be one of "
                         f"{_MODES}, got {mode!r}")
    if distribution not in _DISTS:
        raise ValueError(f"lamina.nn.initializers.variance_scaling: distribution must be "
                         f"one of {_DISTS}, got {distribution!r}")

    def init(key: Any, shape: Sequence[int], dtype: Any = dtype) -> Any:
        shape = _shape("variance_scaling", shape)
        dtype = _dtype(dtype)
        fan_in, fan_out = _compute_fans(shape, in_axis, out_axis, batch_axis)
        denom = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2,
                 "fan_geo_avg": (fan_in * fan_out) ** 0.5}[mode]
        variance = lnp.array(scale / denom, dtype=dtype)
        floating = lnp.issubdtype(dtype, lnp.floating)
        if distribution == "truncated_normal":
            if floating:
                # NOTE: .8796... is the std of a unit normal truncated to [-2, 2].
                stddev = lnp.sqrt(variance) / lnp.array(.87962566103423978, dtype)
                return random.truncated_normal(key, -2, 2, shape, dtype) * stddev
            stddev = lnp.sqrt(variance) / lnp.array(.95311164380491208, dtype)
            return _complex_truncated_normal(key, 2, shape, dtype) * stddev
        if distribution == "normal":
            return random.normal(key, shape, dtype) * lnp.sqrt(variance)
        if floating:
            return random.uniform(key, shape, dtype, -1) * lnp.sqrt(3 * variance)
        return _complex_uniform(key, shape, dtype) * lnp.sqrt(variance)
    return init


def _vs(scale: float, mode: str, dist: str, doc: str) -> Callable[..., Initializer]:
    def factory(in_axis: int | Sequence[int] = -2, out_axis: int | Sequence[int] = -1,
                batch_axis: Sequence[int] = (), dtype: Any = None) -> Initializer:
        return variance_scaling(scale, mode, dist, in_axis=in_axis, out_axis=out_axis,
                                batch_axis=batch_axis, dtype=dtype)
    factory.__doc__ = doc
    return factory


glorot_uniform = _vs(1.0, "fan_avg", "uniform",
                     "Glorot/Xavier uniform: `variance_scaling(1.0, 'fan_avg', 'uniform')`.")
glorot_uniform.__name__ = "glorot_uniform"
glorot_normal = _vs(1.0, "fan_avg", "truncated_normal",
                    "Glorot/Xavier normal: `variance_scaling(1.0, 'fan_avg', "
                    "'truncated_normal')`.")
glorot_normal.__name__ = "glorot_normal"
lecun_uniform = _vs(1.0, "fan_in", "uniform",
                    "LeCun uniform: `variance_scaling(1.0, 'fan_in', 'uniform')`.")
lecun_uniform.__name__ = "lecun_uniform"
lecun_normal = _vs(1.0, "fan_in", "truncated_normal",
                   "LeCun normal: `variance_scaling(1.0, 'fan_in', 'truncated_normal')`.")
lecun_normal.__name__ = "lecun_normal"
he_uniform = _vs(2.0, "fan_in", "uniform",
                 "He/Kaiming uniform: `variance_scaling(2.0, 'fan_in', 'uniform')`.")
he_uniform.__name__ = "he_uniform"
he_normal = _vs(2.0, "fan_in", "truncated_normal",
                "He/Kaiming normal: `variance_scaling(2.0, 'fan_in', 'truncated_normal')`.")
he_normal.__name__ = "he_normal"
xavier_uniform = glorot_uniform
xavier_normal = glorot_normal
kaiming_uniform = he_uniform
kaiming_normal = he_normal


def orthogonal(scale: float = 1.0, column_axis: int = -1, dtype: Any = None) -> Initializer:
    """A (semi-)orthogonal matrix (QR of a Gaussian), reshaped: orthogonal along
    `column_axis` against all other axes flattened, times `scale`.

    >>> import lamina, lamina.numpy as lnp
    >>> q = orthogonal()(lamina.random.PRNGKey(0), (4, 4))
    >>> bool(lnp.allclose(q @ q.T, lnp.eye(4), atol=1e-5))
    True
    """
    def init(key: Any, shape: Sequence[int], dtype: Any = dtype) -> Any:
        shape = _shape("orthogonal", shape)
        dtype = _dtype(dtype)
        if len(shape) < 2:
            raise ValueError(f"lamina.nn.initializers.orthogonal: needs a shape of at "
                             f"least 2 dimensions, got {shape}")
        if 0 in shape:
            return lnp.zeros(shape, dtype)
        n_cols = shape[column_axis]
        n_rows = math.prod(shape) // n_cols
        q = random.orthogonal(key, n_rows, (), dtype, n_cols)
        q = lnp.reshape(q, tuple(np.delete(shape, column_axis)) + (n_cols,))
        q = lnp.moveaxis(q, -1, column_axis)
        return lnp.array(scale, dtype) * q
    return init


def delta_orthogonal(scale: float = 1.0, column_axis: int = -1,
                     dtype: Any = None) -> Initializer:
    """Delta-orthogonal convolution kernel (Xiao et al. 2018): zeros except an
    orthogonal `(in, out)` matrix at the spatial centre. Shape must be 3-D to 5-D
    with `in <= out`.

    >>> import lamina
    >>> w = delta_orthogonal()(lamina.random.PRNGKey(0), (3, 2, 2))
    >>> float(abs(w[0]).sum()), w.shape
    (0.0, (3, 2, 2))
    """
    def init(key: Any, shape: Sequence[int], dtype: Any = dtype) -> Any:
        shape = _shape("delta_orthogonal", shape)
        dtype = _dtype(dtype)
        if len(shape) not in (3, 4, 5):
            raise ValueError(f"lamina.nn.initializers.delta_orthogonal: needs a 3-D, 4-D "
                             f"or 5-D shape, got {shape}")
        if shape[-1] < shape[-2]:
            raise ValueError(f"lamina.nn.initializers.delta_orthogonal: fan_in "
                             f"(shape[-2]={shape[-2]}) must be <= fan_out "
                             f"(shape[-1]={shape[-1]})")
        mat = orthogonal(scale=scale, column_axis=column_axis, dtype=dtype)(key, shape[-2:])
        centre = tuple((k - 1) // 2 for k in shape[:-2])
        return lnp.zeros(shape, dtype).at[centre].set(mat)
    return init
