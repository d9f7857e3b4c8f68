"""Convolution layers (flax.linen.Conv / ConvTranspose): channels-last, 1D/2D/3D.

Inputs are `(*batch, *spatial, in_features)`: any number of leading batch dimensions
(flattened into one for the convolution and restored afterwards), or none at all for a
single example. The kernel is `(*kernel_size, in_features // feature_group_count,
features)` (HWIO), as in Flax, so parameters move between the two unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import lamina.numpy as lnp
from lamina import lax
from lamina.nn import initializers
from lamina.nn.precision import promote_dtype
from lamina.nn.module import Module

__all__ = ["Conv", "ConvTranspose"]

PaddingLike = str | int | Sequence[int | tuple[int, int]]


def canonicalize_padding(padding: PaddingLike, rank: int) -> str | list[tuple[int, int]]:
    """A padding spec as lax takes it: a string, or `rank` `(low, high)` pairs.

    An int pads every side by that much; an int inside a sequence pads both sides of that
    dimension.

    >>> canonicalize_padding(1, 2)
    [(1, 1), (1, 1)]
    >>> canonicalize_padding([(0, 1), 2], 2)
    [(0, 1), (2, 2)]
    """
    if isinstance(padding, str):
        return padding.upper()
    if isinstance(padding, int):
        return [(padding, padding)] * rank
    if isinstance(padding, Sequence) and len(padding) == rank:
        pads = []
        for p in padding:
            if isinstance(p, int):
                pads.append((p, p))
            elif isinstance(p, Sequence) and len(p) == 2 and all(isinstance(v, int) for v in p):
                pads.append((int(p[0]), int(p[1])))
            else:
                break
        if len(pads) == rank:
            return pads
    raise ValueError(
        f"nn.Conv: invalid padding {padding!r}; use 'SAME', 'VALID', 'CAUSAL' (1D), "
        f"'CIRCULAR', an int, or a sequence of {rank} ints / (low, high) pairs")


def _tuple(value: None | int | Sequence[int], n: int, what: str, layer: str) -> tuple[int, ...]:
    if value is None:
        return (1,) * n
    if isinstance(value, int):
        return (value,) * n
    out = tuple(int(v) for v in value)
    if len(out) != n:
        raise ValueError(f"nn.{layer}: {what}={value!r} must be an int or {n} ints (one per "
                         f"spatial dimension of kernel_size)")
    return out


def _kernel_size(kernel_size: int | Sequence[int], layer: str) -> tuple[int, ...]:
    if isinstance(kernel_size, int):
        # NOTE: as in Flax, an int is a 1D kernel (write (3, 3) for a 2D one).
        return (kernel_size,)
    return tuple(int(k) for k in kernel_size)


def _flatten_batch(inputs: Any, n_spatial: int, layer: str) -> tuple[Any, tuple[int, ...] | None]:
    """Collapse the leading batch dimensions into one; None when there already is one."""
    if inputs.ndim < n_spatial + 1:
        raise ValueError(
            f"nn.{layer}: inputs of shape {tuple(inputs.shape)} have rank {inputs.ndim}, but a "
            f"{n_spatial}D kernel needs (*batch, {n_spatial} spatial dims, features)")
    num_batch = inputs.ndim - (n_spatial + 1)
    if num_batch == 1:
        return inputs, None
    batch_shape = tuple(inputs.shape[:num_batch])
    return lnp.reshape(inputs, (-1,) + tuple(inputs.shape[num_batch:])), batch_shape


def _dimension_numbers(ndim: int) -> lax.ConvDimensionNumbers:
    # NOTE: channels-last input/output (N, spatial..., C) and an HWIO kernel.
    lhs = (0, ndim - 1) + tuple(range(1, ndim - 1))
    rhs = (ndim - 1, ndim - 2) + tuple(range(ndim - 2))
    return lax.ConvDimensionNumbers(lhs, rhs, lhs)


class Conv(Module):
    """Convolution over channels-last inputs (flax.linen.Conv).

    Attributes:
        features: the number of output channels (filters).
        kernel_size: the window, e.g. `(3,)`, `(3, 3)`, `(3, 3, 3)`; an int means 1D.
        strides: an int or one int per spatial dimension (default 1).
        padding: 'SAME' (default), 'VALID', 'CAUSAL' (1D: left-pad so the output at t
            sees inputs <= t), 'CIRCULAR' (periodic), an int, or `(low, high)` pairs.
        input_dilation: dilation of the input (a transposed convolution), default 1.
        kernel_dilation: dilation of the kernel (atrous convolution), default 1.
        feature_group_count: split the input channels into groups (in_features for a
            depthwise convolution).
        use_bias: add a per-channel bias.
        dtype: the compute dtype (None: inferred from the inputs and parameters).
        param_dtype: the parameter dtype.
        precision: `lax.Precision` for the convolution.
        kernel_init / bias_init: initializers `(key, shape, dtype) -> array`.

    >>> import lamina, lamina.numpy as lnp
    >>> from lamina import nn
    >>> layer = nn.Conv(features=4, kernel_size=(3, 3))
    >>> x = lnp.ones((2, 8, 8, 3))
    >>> variables = layer.init(lamina.random.key(0), x)
    >>> variables["params"]["kernel"].shape
    (3, 3, 3, 4)
    >>> layer.apply(variables, x).shape
    (2, 8, 8, 4)
    """

    features: int
    kernel_size: int | Sequence[int]
    strides: None | int | Sequence[int] = 1
    padding: PaddingLike = "SAME"
    input_dilation: None | int | Sequence[int] = 1
    kernel_dilation: None | int | Sequence[int] = 1
    feature_group_count: int = 1
    use_bias: bool = True
    dtype: Any = None
    param_dtype: Any = lnp.float32
    precision: Any = None
    kernel_init: Callable[..., Any] = initializers.lecun_normal()
    bias_init: Callable[..., Any] = initializers.zeros

    def __call__(self, inputs: Any) -> Any:
        """Convolve `(*batch, *spatial, in_features)` into `(*batch, *out_spatial, features)`."""
        inputs = lnp.asarray(inputs)
        ksize = _kernel_size(self.kernel_size, "Conv")
        n = len(ksize)
        x, batch_shape = _flatten_batch(inputs, n, "Conv")
        strides = _tuple(self.strides, n, "strides", "Conv")
        in_dil = _tuple(self.input_dilation, n, "input_dilation", "Conv")
        k_dil = _tuple(self.kernel_dilation, n, "kernel_dilation", "Conv")
        padding = canonicalize_padding(self.padding, n)
        if padding in ("CIRCULAR", "REFLECT"):
            eff = [(k - 1) * d + 1 for k, d in zip(ksize, k_dil)]
            pads = [(0, 0)] + [((k - 1) // 2, k // 2) for k in eff] + [(0, 0)]
            x = lnp.pad(x, pads, mode="wrap" if padding == "CIRCULAR" else "reflect")
            padding = "VALID"
        elif padding == "CAUSAL":
            if n != 1:
                raise ValueError(f"nn.Conv: padding='CAUSAL' is only for 1D convolutions, got "
                                 f"kernel_size={self.kernel_size!r}")
            x = lnp.pad(x, [(0, 0), (k_dil[0] * (ksize[0] - 1), 0), (0, 0)])
            padding = "VALID"
        in_features = x.shape[-1]
        if in_features % self.feature_group_count:
            raise ValueError(
                f"nn.Conv: the input's {in_features} features are not divisible by "
                f"feature_group_count={self.feature_group_count}")
        if self.features % self.feature_group_count:
            raise ValueError(
                f"nn.Conv: features={self.features} is not divisible by "
                f"feature_group_count={self.feature_group_count}")
        kernel_shape = ksize + (in_features // self.feature_group_count, self.features)
        kernel = self.param("kernel", self.kernel_init, kernel_shape, self.param_dtype)
        bias = (self.param("bias", self.bias_init, (self.features,), self.param_dtype)
                if self.use_bias else None)
        x, kernel, bias = promote_dtype(x, kernel, bias, dtype=self.dtype)
        y = lax.conv_general_dilated(
            x, kernel, strides, padding, lhs_dilation=in_dil, rhs_dilation=k_dil,
            dimension_numbers=_dimension_numbers(x.ndim),
            feature_group_count=self.feature_group_count, precision=self.precision)
        if bias is not None:
            y = y + bias
        if batch_shape is not None:
            y = lnp.reshape(y, batch_shape + tuple(y.shape[1:]))
        return y


class ConvTranspose(Module):
    """Transposed convolution over channels-last inputs (flax.linen.ConvTranspose).

    It mirrors `lax.conv_transpose`: the input is dilated by `strides` and convolved with
    unit strides, so 'SAME' padding with stride s multiplies each spatial size by s.

    Attributes:
        features: the number of output channels.
        kernel_size: the window; an int means 1D.
        strides: the fractional strides (default 1).
        padding: 'SAME' (default), 'VALID', 'CIRCULAR', an int or `(low, high)` pairs.
        kernel_dilation: dilation of the kernel (default 1).
        use_bias, dtype, param_dtype, precision, kernel_init, bias_init: as in `Conv`.
        transpose_kernel: flip the kernel spatially and swap its in/out axes, making this
            the gradient of a `Conv` with the same kernel (kernel shape then
            `(*kernel_size, features, in_features)`).

    >>> import lamina, lamina.numpy as lnp
    >>> from lamina import nn
    >>> layer = nn.ConvTranspose(features=2, kernel_size=(3,), strides=(2,))
    >>> x = lnp.ones((1, 5, 3))
    >>> layer.apply(layer.init(lamina.random.key(0), x), x).shape
    (1, 10, 2)
    """

    features: int
    kernel_size: int | Sequence[int]
    strides: Sequence[int] | None = None
    padding: PaddingLike = "SAME"
    kernel_dilation: Sequence[int] | None = None
    use_bias: bool = True
    dtype: Any = None
    param_dtype: Any = lnp.float32
    precision: Any = None
    kernel_init: Callable[..., Any] = initializers.lecun_normal()
    bias_init: Callable[..., Any] = initializers.zeros
    transpose_kernel: bool = False

    def __call__(self, inputs: Any) -> Any:
        """Apply the transposed convolution to `(*batch, *spatial, in_features)`."""
        inputs = lnp.asarray(inputs)
        ksize = _kernel_size(self.kernel_size, "ConvTranspose")
        n = len(ksize)
        x, batch_shape = _flatten_batch(inputs, n, "ConvTranspose")
        strides = _tuple(self.strides, n, "strides", "ConvTranspose")
        k_dil = _tuple(self.kernel_dilation, n, "kernel_dilation", "ConvTranspose")
        in_features = x.shape[-1]
        kernel_shape = ksize + ((self.features, in_features) if self.transpose_kernel
                                else (in_features, self.features))
        kernel = self.param("kernel", self.kernel_init, kernel_shape, self.param_dtype)
        padding = canonicalize_padding(self.padding, n)
        if padding == "CAUSAL":
            raise ValueError("nn.ConvTranspose: padding='CAUSAL' is not supported; use "
                             "'SAME', 'VALID', 'CIRCULAR' or explicit pairs")
        circular = padding == "CIRCULAR"
        if circular:
            padding = "VALID"
        bias = (self.param("bias", self.bias_init, (self.features,), self.param_dtype)
                if self.use_bias else None)
        x, kernel, bias = promote_dtype(x, kernel, bias, dtype=self.dtype)
        y = lax.conv_transpose(x, kernel, strides, padding, rhs_dilation=k_dil,
                               transpose_kernel=self.transpose_kernel,
                               precision=self.precision)
        if circular:
            # NOTE: fold the VALID output periodically onto the stride-scaled input size:
            # pad to a multiple of it, then sum the wrapped copies.
            scaled = [d * s for d, s in zip(x.shape[1:-1], strides)]
            diffs = [-(yd - sd) % (2 * sd) for yd, sd in zip(y.shape[1:-1], scaled)]
            if self.transpose_kernel:
                total = [(d // 2, (d + 1) // 2) for d in diffs]
            else:
                total = [((d + 1) // 2, d // 2) for d in diffs]
            y = lnp.pad(y, [(0, 0)] + total + [(0, 0)])
            for i in range(1, y.ndim - 1):
                y = y.reshape(y.shape[:i] + (-1, scaled[i - 1]) + y.shape[i + 1:])
                y = y.sum(axis=i)
        if bias is not None:
            y = y + bias
        if batch_shape is not None:
            y = lnp.reshape(y, batch_shape + tuple(y.shape[1:]))
        return y
