"""Convolutions that expose their windows: `conv_general_dilated_patches` (every
receptive window flattened into the feature dimension, im2col) and
`conv_general_dilated_local` (a locally connected layer: one unshared kernel per
output position), with jax.lax's signatures and layouts.

Both are compositions: the patches are a grouped convolution with a constant
one-hot kernel (one output feature per (channel, window tap), exact for any dtype);
the local layer contracts the patches with the kernel by `dot_general`. Their
derivatives and batching come from those primitives.
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from lamina.backend.array import Array
from lamina.lax._util import ArrayLike, DTypeLike, aval_of

__all__ = ["conv_general_dilated_local", "conv_general_dilated_patches"]


def _filter_shape(fn: str, filter_shape: Sequence[int], n: int) -> tuple[int, ...]:
    try:
        shape = tuple(int(d) for d in filter_shape)
    except TypeError:
        raise TypeError(f"{fn}: filter_shape must be a sequence of ints, got "
                        f"{filter_shape!r}") from None
    if len(shape) != n or any(d < 1 for d in shape):
        raise ValueError(f"{fn}: filter_shape must give {n} positive window sizes (one per "
                         f"spatial dimension of lhs), got {shape}")
    return shape


def conv_general_dilated_patches(
        lhs: ArrayLike, filter_shape: Sequence[int], window_strides: Sequence[int],
        padding: str | Sequence[tuple[int, int]], lhs_dilation: Sequence[int] | None = None,
        rhs_dilation: Sequence[int] | None = None, dimension_numbers: Any = None,
        precision: Any = None, preferred_element_type: DTypeLike | None = None) -> Array:
    """The receptive-window patches of a convolution, flattened into the output
    feature dimension (im2col).

    Arguments as `conv_general_dilated`, except that `filter_shape` (the `n` spatial
    window sizes, in the order of the rhs layout's spatial dimensions) replaces the
    kernel. The output feature dimension has size `C * prod(filter_shape)` and is
    ordered channel-major, then the window taps in the rhs layout's spatial order.

    >>> import lamina.numpy as lnp
    >>> from lamina import lax
    >>> x = lnp.arange(6.0).reshape(1, 1, 2, 3)                  # N C H W
    >>> lax.conv_general_dilated_patches(x, (2, 2), (1, 1), "VALID")[0, :, 0, :]
    Array([[0., 1.],
           [1., 2.],
           [3., 4.],
           [4., 5.]], dtype=float32)
    """
    import lamina.lax as lax
    a = aval_of(lhs)
    fn = "conv_general_dilated_patches"
    filter_shape = _filter_shape(fn, filter_shape, a.ndim - 2)
    lhs_spec, rhs_spec, out_spec = lax.conv_dimension_numbers(
        a.shape, (1, 1) + filter_shape, dimension_numbers)
    taps = math.prod(filter_shape)
    channels = a.shape[lhs_spec[1]]
    # One output feature per (channel, tap): feature c * taps + t reads tap t of group c.
    eye = np.broadcast_to(np.eye(taps, dtype=a.dtype), (channels, taps, taps))
    kernel = eye.reshape((channels * taps, 1) + filter_shape)
    kernel = np.moveaxis(kernel, (0, 1), (rhs_spec[0], rhs_spec[1]))
    if precision is not None and not isinstance(precision, (tuple, list)):
        precision = (precision, lax.Precision.DEFAULT)
    return lax.conv_general_dilated(
        lhs, np.ascontiguousarray(kernel), window_strides, padding, lhs_dilation=lhs_dilation,
        rhs_dilation=rhs_dilation, dimension_numbers=lax.ConvDimensionNumbers(
            lhs_spec, rhs_spec, out_spec), feature_group_count=channels,
        precision=precision, preferred_element_type=preferred_element_type)


def conv_general_dilated_local(
        lhs: ArrayLike, rhs: ArrayLike, window_strides: Sequence[int],
        padding: str | Sequence[tuple[int, int]], filter_shape: Sequence[int],
        lhs_dilation: Sequence[int] | None = None, rhs_dilation: Sequence[int] | None = None,
        dimension_numbers: Any = None, precision: Any = None) -> Array:
    """A locally connected (unshared) convolution: a separate kernel at each output
    position.

    `rhs`'s spatial dimensions index the *output* positions; its `I` dimension holds
    the flattened receptive window, ordered as the feature dimension of
    `conv_general_dilated_patches` (channel-major, then the window taps); `O` is the
    output features. Other arguments as `conv_general_dilated_patches`.

    >>> import lamina.numpy as lnp
    >>> from lamina import lax
    >>> x = lnp.arange(6.0).reshape(1, 1, 2, 3)                  # N C H W
    >>> w = lnp.ones((1, 4, 1, 2))                                # O (C*2*2) H_out W_out
    >>> lax.conv_general_dilated_local(x, w, (1, 1), "VALID", (2, 2))
    Array([[[[ 8., 12.]]]], dtype=float32)
    """
    import lamina.lax as lax
    a = aval_of(lhs)
    fn = "conv_general_dilated_local"
    filter_shape = _filter_shape(fn, filter_shape, a.ndim - 2)
    if precision is None or isinstance(precision, (str, lax.Precision)):
        lhs_precision = precision
    elif isinstance(precision, (tuple, list)) and len(precision) == 2:
        lhs_precision = precision[0]
    else:
        raise ValueError(f"Unsupported precision for {fn}: {precision!r}")
    patches = conv_general_dilated_patches(
        lhs, filter_shape, window_strides, padding, lhs_dilation=lhs_dilation,
        rhs_dilation=rhs_dilation, dimension_numbers=dimension_numbers,
        precision=lhs_precision)
    lhs_spec, rhs_spec, out_spec = lax.conv_dimension_numbers(
        a.shape, (1, 1) + filter_shape, dimension_numbers)
    r = aval_of(rhs)
    if r.ndim != a.ndim:
        raise ValueError(f"{fn}: rhs must have rank {a.ndim}, got {r.str_short()}")
    # contract the window features; the output positions pair up as batch dimensions
    out_positions = list(out_spec[2:])
    order = sorted(range(len(out_positions)), key=lambda k: out_positions[k])
    lhs_batch = tuple(out_positions[k] for k in order)
    rhs_batch = tuple(rhs_spec[2:][k] for k in order)
    dn = (((out_spec[1],), (rhs_spec[1],)), (lhs_batch, rhs_batch))
    out = lax.dot_general(patches, rhs, dn, precision=precision)
    # out: (positions in output-dimension order..., N, O) -> the out_spec layout
    ndim = a.ndim
    perm = [0] * ndim
    rest = iter(range(ndim - 2))
    for d in range(ndim):
        if d == out_spec[0]:
            perm[d] = ndim - 2
        elif d == out_spec[1]:
            perm[d] = ndim - 1
        else:
            perm[d] = next(rest)
    return lax.transpose(out, tuple(perm))
