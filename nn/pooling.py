"""Pooling functions (flax.linen.pooling): `pool`, `avg_pool`, `max_pool`, `min_pool`.

Inputs are channels-last, `(*batch, *spatial, features)`, with any number of leading
batch dimensions (none at all means a single example). They are plain functions, not
modules: pooling has no parameters.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

import lamina.numpy as lnp
from lamina import lax

__all__ = ["pool", "avg_pool", "max_pool", "min_pool"]

Padding = str | Sequence[tuple[int, int]]


def _check_window(fun: str, inputs: Any, window_shape: Any, strides: Any,
                  padding: Any) -> tuple[tuple[int, ...], tuple[int, ...], Padding]:
    if isinstance(window_shape, int) or not all(isinstance(w, (int, np.integer))
                                                for w in window_shape):
        raise TypeError(f"nn.{fun}: window_shape must be a tuple of ints, one per spatial "
                        f"dimension (e.g. (2, 2)), got {window_shape!r}")
    window = tuple(int(w) for w in window_shape)
    n = len(window)
    if inputs.ndim < n + 1:
        raise ValueError(
            f"nn.{fun}: inputs of shape {tuple(inputs.shape)} have rank {inputs.ndim}, but "
            f"window_shape {window} needs at least {n + 1} dimensions "
            f"(*batch, {n} spatial, features)")
    if strides is None:
        steps = (1,) * n
    elif isinstance(strides, int):
        raise TypeError(f"nn.{fun}: strides must be a tuple of {n} ints or None, got "
                        f"{strides!r}; write {(strides,) * n}")
    else:
        steps = tuple(int(s) for s in strides)
        if len(steps) != n:
            raise ValueError(f"nn.{fun}: strides {steps} must have one entry per window "
                             f"dimension ({n}, from window_shape {window})")
    if isinstance(padding, str):
        pads: Padding = padding.upper()
        if pads not in ("SAME", "VALID"):
            raise ValueError(f"nn.{fun}: padding must be 'SAME', 'VALID' or {n} (low, high) "
                             f"pairs, got {padding!r}")
    else:
        pads = tuple(tuple(int(v) for v in p) for p in padding)
        if len(pads) != n or any(len(p) != 2 for p in pads):
            raise ValueError(f"nn.{fun}: padding {padding!r} must be {n} (low, high) pairs, "
                             f"one per window dimension")
    return window, steps, pads


def pool(inputs: Any, init: Any, reduce_fn: Callable[..., Any],
         window_shape: Sequence[int], strides: Sequence[int] | None,
         padding: Padding) -> Any:
    """Reduce every window of the spatial dimensions with `reduce_fn` (`lax.add`/`max`/`min`).

    Args:
        inputs: `(*batch, *spatial, features)`; no batch dimension means one example.
        init: the reduction's initial value (0 for a sum, -inf for a max...).
        reduce_fn: `lax.add`, `lax.max` or `lax.min`.
        window_shape: the window size per spatial dimension.
        strides: the step per spatial dimension (None: 1).
        padding: 'SAME', 'VALID' or one `(low, high)` pair per spatial dimension.

    >>> import lamina.numpy as lnp
    >>> from lamina import lax
    >>> pool(lnp.arange(4.0).reshape(1, 4, 1), 0.0, lax.add, (2,), (2,), "VALID")[..., 0]
    Array([[1., 5.]], dtype=float32)
    """
    inputs = lnp.asarray(inputs)
    window, steps, pads = _check_window("pool", inputs, window_shape, strides, padding)
    num_batch = inputs.ndim - len(window) - 1
    squeeze = num_batch == 0
    if squeeze:
        inputs, num_batch = inputs[None], 1
    dims = (1,) * num_batch + window + (1,)
    full_strides = (1,) * num_batch + steps + (1,)
    if not isinstance(pads, str):
        pads = ((0, 0),) * num_batch + tuple(pads) + ((0, 0),)
    y = lax.reduce_window(inputs, init, reduce_fn, dims, full_strides, pads)
    return y[0] if squeeze else y


def _lowest(dtype: np.dtype) -> Any:
    return -np.inf if lnp.issubdtype(dtype, lnp.inexact) else np.iinfo(dtype).min


def _highest(dtype: np.dtype) -> Any:
    return np.inf if lnp.issubdtype(dtype, lnp.inexact) else np.iinfo(dtype).max


def avg_pool(inputs: Any, window_shape: Sequence[int], strides: Sequence[int] | None = None,
             padding: Padding = "VALID", count_include_pad: bool = True) -> Any:
    """Average pooling (flax.linen.avg_pool).

    Args:
        inputs: `(*batch, *spatial, features)`.
        window_shape: the window size per spatial dimension, e.g. `(2, 2)`.
        strides: the step per spatial dimension (default 1).
        padding: 'SAME', 'VALID' (default) or explicit `(low, high)` pairs.
        count_include_pad: divide by the full window size (True) or only by the number of
            non-padding elements in each window (False).

    >>> import lamina.numpy as lnp
    >>> x = lnp.arange(4.0).reshape(1, 4, 1)
    >>> avg_pool(x, (2,), strides=(2,))[0, :, 0]
    Array([0.5, 2.5], dtype=float32)
    >>> avg_pool(x, (3,), padding="SAME", count_include_pad=False)[0, :, 0]
    Array([0.5, 1. , 2. , 2.5], dtype=float32)
    """
    inputs = lnp.asarray(inputs)
    window, steps, pads = _check_window("avg_pool", inputs, window_shape, strides, padding)
    y = pool(inputs, 0.0, lax.add, window, steps, pads)
    if count_include_pad:
        return y / np.prod(window)
    # NOTE: count the real elements per window by pooling ones of the input's spatial
    # shape (batch and features collapsed to 1; broadcasting restores them).
    ones_shape = (1,) * (inputs.ndim - len(window) - 1) + inputs.shape[-len(window) - 1:-1]
    ones = lnp.ones(ones_shape + (1,), dtype=y.dtype)
    if inputs.ndim == len(window) + 1:
        ones = ones[None]
        counts = pool(ones, 0.0, lax.add, window, steps, pads)[0]
    else:
        counts = pool(ones, 0.0, lax.add, window, steps, pads)
    return y / counts


def max_pool(inputs: Any, window_shape: Sequence[int], strides: Sequence[int] | None = None,
             padding: Padding = "VALID") -> Any:
    """Max pooling (flax.linen.max_pool); padding never wins (it is -inf).

    >>> import lamina.numpy as lnp
    >>> max_pool(lnp.array([[[1.0], [3.0], [2.0], [0.0]]]), (2,), strides=(2,))[0, :, 0]
    Array([3., 2.], dtype=float32)
    """
    inputs = lnp.asarray(inputs)
    return pool(inputs, _lowest(inputs.dtype), lax.max, window_shape, strides, padding)


def min_pool(inputs: Any, window_shape: Sequence[int], strides: Sequence[int] | None = None,
             padding: Padding = "VALID") -> Any:
    """Min pooling (flax.linen.min_pool); padding never wins (it is +inf).

    >>> import lamina.numpy as lnp
    >>> min_pool(lnp.array([[[1.0], [3.0], [2.0], [0.0]]]), (2,), strides=(2,))[0, :, 0]
    Array([1., 0.], dtype=float32)
    """
    inputs = lnp.asarray(inputs)
    return pool(inputs, _highest(inputs.dtype), lax.min, window_shape, strides, padding)
