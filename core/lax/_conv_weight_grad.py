"""Alternative weight-gradient formulations of `conv_general_dilated` (a private part of
lamina.lax.convolution).

jax's rule computes a kernel's cotangent as one 2-D convolution of the input with the
cotangent as kernel (`convolution._conv_transpose_rhs`). XLA:CPU runs that shape several
times slower than the forward convolution (measured; see the NOTE below), so for 2-D
float32 convolutions above the `_RHS_1D_*` thresholds `_conv_transpose_rhs` computes the
same sums as one 1-D convolution per feature group (`_conv_transpose_rhs_1d`), or, with
one input feature, as one matrix product (`_conv_transpose_rhs_im2col`).
`_rhs_transpose_as_1d` decides; the thresholds are read here at call time.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from lamina.ir import AbstractArray
from lamina.lax._util import aval_of
from lamina.lax.convolution import ConvDimensionNumbers, _dilate_dim, conv_general_dilated
from lamina.lax.dots import CanonicalPrecision


# NOTE: XLA:CPU (jaxlib 0.10) hands every 2-D NHWC convolution with more than 16 features
# to YNNPACK, including jax's weight gradient (`convolution._conv_transpose_rhs`), whose
# "kernel" is the whole output image (14x14 or 28x28 in an MNIST CNN) and whose output is
# the small kernel (3x3).
# YNNPACK runs that shape 3.5-4x slower than the forward convolution of the same FLOPs.
# It takes only 2-D convolutions, while XLA's Eigen convolution also takes 1-D ones and
# runs the shape well. So for 2-D float32 convolutions the weight gradient is one 1-D
# convolution (`_conv_transpose_rhs_1d`): the kernel taps along one spatial axis become
# strided slices of the padded input (an im2col along that axis only) stacked into the
# batch, and the output pixels along that axis join the contracted features. Same sums,
# another order; 1.3-1.9x the forward's time instead of 3.5-4x. Of that, the convolution
# itself costs about the forward's time and the operand copies the rest (64x14x14x32 ->
# 64: 4.0 ms of CPU for the convolution, 1.7 for the copies). Alternatives measured
# there: the full im2col with one matmul (288 x 12544 patches: the copy alone costs more
# than the 1-D convolution), nine per-tap matmuls, YNNPACK on the 1-D form with a unit
# second axis (6x slower: a 14x1 window) and a 3-D Eigen convolution (2x slower).


def _rhs_transpose_as_1d(lhs: AbstractArray, ct: AbstractArray, rhs: AbstractArray,
                         window_strides: tuple[int, ...],
                         padding: tuple[tuple[int, int], ...], lhs_dilation: tuple[int, ...],
                         rhs_dilation: tuple[int, ...], dnums: ConvDimensionNumbers,
                         feature_group_count: int, batch_group_count: int) -> bool:
    """Whether `_conv_transpose_rhs_1d` computes this weight gradient (see the NOTE)."""
    if (lhs.ndim != 4 or lhs.dtype != np.float32 or ct.dtype != np.float32
            or feature_group_count > _RHS_1D_MAX_GROUPS or batch_group_count != 1):
        return False
    lhs_spec, rhs_spec, out_spec = dnums
    if 0 in lhs.shape or 0 in ct.shape or 0 in rhs.shape:
        return False
    n = [lhs.shape[d] for d in lhs_spec[2:]]
    y = [ct.shape[d] for d in out_spec[2:]]
    # NOTE: jax's formulation convolves the input (padded, dilated by the convolution)
    # with the stride-dilated cotangent as kernel. When that kernel is wider than the
    # undilated input (a conv_transpose layer, or 'FULL' padding) XLA swaps the operands
    # into a window-reversed convolution that only its naive loop emitter runs (2.4x
    # slower than the 1-D form for a 3x3 stride-2 conv_transpose layer on 14x14x64):
    # always take the 1-D form there, whose kernel never outgrows its input.
    if any(_dilate_dim(yi, s) > ni for yi, s, ni in zip(y, window_strides, n)):
        return True
    # NOTE: the unrolled copy is K1 inputs and two more ops; on small problems (a 4x4
    # window, or a few MFLOPs) that costs more than YNNPACK loses (measured).
    flops = 2 * lhs.shape[lhs_spec[0]] * y[0] * y[1] * int(np.prod(rhs.shape))
    return y[0] * y[1] >= _RHS_1D_MIN_WINDOW and flops >= _RHS_1D_MIN_FLOPS


# Forward-output pixels and FLOPs below which the weight gradient keeps jax's 2-D
# formulation (measured with jaxlib 0.10.2 on a 2-core AVX-512 CPU).
_RHS_1D_MIN_WINDOW = 36
_RHS_1D_MIN_FLOPS = 10_000_000
# Feature groups above which the 2-D form is kept: one 1-D convolution per group makes
# the program grow with the groups (64 depthwise groups: still 1.7x faster).
_RHS_1D_MAX_GROUPS = 64


def _group_slice(x: Any, axis: int, group: int, size: int) -> Any:
    """Features `[group * size, (group + 1) * size)` of `x` along `axis` (all of `x`
    when that is the whole axis)."""
    from lamina.lax import structural  # NOTE: lazy: structural is a sibling family
    shape = aval_of(x).shape
    if shape[axis] == size:
        return x
    start = [0] * len(shape)
    limit = list(shape)
    start[axis], limit[axis] = group * size, (group + 1) * size
    return structural.slice(x, start, limit)


def _rhs_1d_conv_axis(kernel_spatial: Sequence[int]) -> int:
    """The spatial axis kept as the 1-D convolution's axis; the other (the one with the
    smaller kernel extent, so the fewer copies) is unrolled."""
    return 0 if kernel_spatial[1] <= kernel_spatial[0] else 1


def _rhs_padded_input(lhs: Any, perm: Sequence[int], spatial: dict[int, tuple[int, int]],
                      padding: tuple[tuple[int, int], ...],
                      lhs_dilation: tuple[int, ...]) -> Any:
    """The forward input transposed by `perm`, each axis `pos` in `spatial` (mapped to
    its spatial axis and its reach) dilated and padded as the forward convolution sees
    it, trimmed to the reach."""
    from lamina.lax import structural  # NOTE: lazy: structural is a sibling family
    x = structural.transpose(lhs, tuple(perm))
    shape = aval_of(x).shape
    config = [(0, 0, 0)] * len(shape)
    for pos, (ax, reach) in spatial.items():
        lo = padding[ax][0]
        config[pos] = (lo, reach - lo - _dilate_dim(shape[pos], lhs_dilation[ax]),
                       lhs_dilation[ax] - 1)
    return structural.pad(x, np.zeros((), aval_of(x).dtype), config)


def _conv_transpose_rhs_1d(ct: Any, lhs: Any, rhs_aval: AbstractArray,
                           window_strides: tuple[int, ...],
                           padding: tuple[tuple[int, int], ...], lhs_dilation: tuple[int, ...],
                           rhs_dilation: tuple[int, ...], dnums: ConvDimensionNumbers,
                           precision: CanonicalPrecision) -> Any:
    """The cotangent of a 2-D convolution's kernel as one 1-D convolution.

    With x the input padded and dilated as the forward convolution sees it, the kernel's
    cotangent is `w_bar[o, i, ka, kb] = sum_{n, ya, yb} g[n, o, ya, yb] *
    x[n, i, ya*sa + ka*ra, yb*sb + kb*rb]` (s: strides, r: kernel dilation). For each tap
    `kb` the strided slice `x[..., kb*rb :: sb]` makes the `b` sum a plain contraction,
    so `(kb, i)` is the batch of a 1-D convolution over axis `a` whose features are
    `(n, yb)` and whose kernel is g, dilated by `sa`, with `ra` as its window stride.
    """
    from lamina.lax import structural  # NOTE: lazy: structural is a sibling family
    lhs_spec, rhs_spec, out_spec = dnums
    k_all = [rhs_aval.shape[d] for d in rhs_spec[2:]]
    a = _rhs_1d_conv_axis(k_all)
    b = 1 - a
    batch, cin = aval_of(lhs).shape[lhs_spec[0]], aval_of(lhs).shape[lhs_spec[1]]
    y_a, y_b = (aval_of(ct).shape[out_spec[2 + ax]] for ax in (a, b))
    cout = aval_of(ct).shape[out_spec[1]]
    k_a, k_b = k_all[a], k_all[b]
    # Dilate and pad both spatial axes explicitly, trimmed to the extent the forward
    # windows reach ((y - 1) * stride + 1 + (k - 1) * rhs_dilation). NOTE: with padding
    # or lhs dilation left to the convolution, its kernel (the cotangent) can be wider
    # than its input, and XLA then swaps the operands into a window-reversed convolution
    # that only its naive loop emitter runs.
    reach = [(y - 1) * window_strides[ax] + 1 + (k - 1) * rhs_dilation[ax]
             for y, k, ax in ((y_a, k_a, a), (y_b, k_b, b))]
    # NOTE: x goes straight to (C, n_a, N, n_b), so each tap below copies contiguous
    # runs; slicing the taps out of (N, C, n_a, n_b) and moving N after n_a in the same
    # copy cost 1.5x as much, and the whole gradient 1.25x (CNN layer 2, measured).
    x = _rhs_padded_input(lhs, (lhs_spec[1], lhs_spec[2 + a], lhs_spec[0], lhs_spec[2 + b]),
                          {1: (a, reach[0]), 3: (b, reach[1])}, padding, lhs_dilation)
    s_b, rd_b = window_strides[b], rhs_dilation[b]
    taps = [structural.slice(x, (0, 0, 0, t * rd_b),
                             (cin, reach[0], batch, t * rd_b + (y_b - 1) * s_b + 1),
                             (1, 1, 1, s_b))
            for t in range(k_b)]
    # (k_b * C, reach_a, N, y_b) -> batch (k_b, C), spatial reach_a, features (N, y_b).
    cols = structural.reshape(taps[0] if k_b == 1 else structural.concatenate(taps, 0),
                              (k_b * cin, reach[0], batch * y_b))
    # g -> kernel: spatial y_a, input features (N, y_b), output features O.
    kern = structural.reshape(
        structural.transpose(ct, (out_spec[2 + a], out_spec[0], out_spec[2 + b], out_spec[1])),
        (y_a, batch * y_b, cout))
    out = conv_general_dilated(
        cols, kern, window_strides=(rhs_dilation[a],), padding=((0, 0),),
        rhs_dilation=(window_strides[a],),
        dimension_numbers=ConvDimensionNumbers((0, 2, 1), (2, 1, 0), (0, 2, 1)),
        precision=precision)
    # (k_b * C, k_a, O) -> (O, C, k_a, k_b) -> the kernel's own layout.
    out = structural.transpose(structural.reshape(out, (k_b, cin, k_a, cout)), (3, 1, 2, 0))
    canon = (rhs_spec[0], rhs_spec[1], rhs_spec[2 + a], rhs_spec[2 + b])
    return structural.transpose(out, tuple(int(i) for i in np.argsort(canon)))


def _conv_transpose_rhs_im2col(ct: Any, lhs: Any, rhs_aval: AbstractArray,
                               window_strides: tuple[int, ...],
                               padding: tuple[tuple[int, int], ...],
                               lhs_dilation: tuple[int, ...], rhs_dilation: tuple[int, ...],
                               dnums: ConvDimensionNumbers,
                               precision: CanonicalPrecision) -> Any:
    """The cotangent of a 2-D convolution's kernel as one matrix product.

    In the sum of `_conv_transpose_rhs_1d` both spatial taps become strided slices of
    the padded input x: stacked, they are the patches `p[(ka, kb, i), (n, ya, yb)]`, and
    `w_bar[(ka, kb, i), o] = p @ g[(n, ya, yb), o]`, a plain (M, K) x (K, N) product.
    """
    from lamina.lax import dots, structural  # NOTE: lazy: sibling families
    lhs_spec, rhs_spec, out_spec = dnums
    k_a, k_b = (rhs_aval.shape[d] for d in rhs_spec[2:])
    batch, cin = aval_of(lhs).shape[lhs_spec[0]], aval_of(lhs).shape[lhs_spec[1]]
    y_a, y_b = (aval_of(ct).shape[d] for d in out_spec[2:])
    cout = aval_of(ct).shape[out_spec[1]]
    s_a, s_b = window_strides
    rd_a, rd_b = rhs_dilation
    reach = [(y_a - 1) * s_a + 1 + (k_a - 1) * rd_a, (y_b - 1) * s_b + 1 + (k_b - 1) * rd_b]
    x = _rhs_padded_input(lhs, (lhs_spec[1], lhs_spec[0], *lhs_spec[2:]),
                          {2: (0, reach[0]), 3: (1, reach[1])}, padding, lhs_dilation)
    taps = [structural.slice(x, (0, 0, i * rd_a, j * rd_b),
                             (cin, batch, i * rd_a + (y_a - 1) * s_a + 1,
                              j * rd_b + (y_b - 1) * s_b + 1), (1, 1, s_a, s_b))
            for i in range(k_a) for j in range(k_b)]
    patches = structural.reshape(taps[0] if len(taps) == 1 else
                                 structural.concatenate(taps, 0),
                                 (k_a * k_b * cin, batch * y_a * y_b))
    g = structural.reshape(
        structural.transpose(ct, (out_spec[0], *out_spec[2:], out_spec[1])),
        (batch * y_a * y_b, cout))
    out = dots.dot_general(patches, g, (((1,), (0,)), ((), ())), precision=precision)
    # (k_a * k_b * C, O) -> axes (k_a, k_b, C, O) -> the kernel's own layout.
    out = structural.reshape(out, (k_a, k_b, cin, cout))
    have = (rhs_spec[2], rhs_spec[3], rhs_spec[1], rhs_spec[0])
    return structural.transpose(out, tuple(int(i) for i in np.argsort(have)))
