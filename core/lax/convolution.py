"""Convolutions: `conv_general_dilated` and jax.lax's wrappers.

The primitive lowers to one `stablehlo.convolution`; the wrappers (`conv`,
`conv_with_general_padding`, `conv_transpose`) only canonicalise arguments and bind it.
The block ends with the JVP (product rule: the op is bilinear), transpose and
batching rules; `conv_transpose` is a wrapper and needs none of its own. Precision
handling is shared with `dot_general` (lamina.lax.dots). Formulations chosen for
XLA:CPU's speed live apart: the elementwise-taps forward in `lamina.lax._conv_taps`,
the 1-D and matmul weight gradients in `lamina.lax._conv_weight_grad`.
"""
from __future__ import annotations

import operator
from typing import Any, NamedTuple, Sequence, Union

import numpy as np

from lamina import dtypes
from lamina.interpreters import ad, batching, lowering
from lamina.ir import AbstractArray, Primitive
from lamina.lax._util import (ArrayLike, DTypeLike, aval_of, check_arraylike,
                              padtype_to_pads)
from lamina.lax.dots import (CanonicalPrecision, PrecisionLike, _int_tuple, _pair,
                            _precision_attr, _preferred_dtype, canonicalize_precision)

__all__ = [
    "ConvDimensionNumbers",
    "conv_dimension_numbers",
    "conv_general_permutations",
    "conv_shape_tuple",
    "conv_general_shape_tuple",
    "conv_transpose_shape_tuple",
    "padtype_to_pads",
    "conv_general_dilated",
    "conv",
    "conv_with_general_padding",
    "conv_transpose",
]

Array = Any  # lamina.Array or a Tracer


# --------------------------------------------------------------------------------------
# Convolution dimension numbers and padding
# --------------------------------------------------------------------------------------


class ConvDimensionNumbers(NamedTuple):
    """Where the batch, feature and spatial dimensions of a convolution live.

    Attributes:
        lhs_spec: `(batch dim, feature dim, spatial dims...)` of the input.
        rhs_spec: `(out-feature dim, in-feature dim, spatial dims...)` of the kernel.
        out_spec: `(batch dim, feature dim, spatial dims...)` of the output.
    """

    lhs_spec: Sequence[int]
    rhs_spec: Sequence[int]
    out_spec: Sequence[int]


ConvGeneralDilatedDimensionNumbers = Union[tuple[str, str, str], ConvDimensionNumbers, None]


def conv_general_permutations(dimension_numbers: tuple[str, str, str]
                              ) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
    """The `(lhs_spec, rhs_spec, out_spec)` permutations named by layout strings such as
    `('NHWC', 'HWIO', 'NHWC')`.

    'N'/'C' mark the batch/feature dimensions of the input and output, 'O'/'I' the
    output/input features of the kernel; every other letter is a spatial dimension,
    and spatial dimensions are ordered as they appear in the kernel string.
    """
    lhs, rhs, out = dimension_numbers
    for i, (spec, chars) in enumerate(((lhs, "NC"), (rhs, "OI"), (out, "NC"))):
        if not (spec.count(chars[0]) == 1 and spec.count(chars[1]) == 1):
            raise TypeError(f"lax.conv_general_dilated: dimension_numbers[{i}] = {spec!r} must "
                            f"contain each of {chars[0]!r} and {chars[1]!r} exactly once")
        if len(set(spec)) != len(spec):
            raise TypeError(f"lax.conv_general_dilated: dimension_numbers[{i}] = {spec!r} "
                            "repeats a character")
    if not set(lhs) - set("NC") == set(rhs) - set("OI") == set(out) - set("NC"):
        raise TypeError(f"lax.conv_general_dilated: dimension_numbers {dimension_numbers} must "
                        "name the same spatial dimensions in all three strings")
    spatial = [c for c in rhs if c not in "OI"]

    def perm(spec: str, chars: str) -> tuple[int, ...]:
        return (spec.index(chars[0]), spec.index(chars[1]), *(spec.index(c) for c in spatial))

    return perm(lhs, "NC"), perm(rhs, "OI"), perm(out, "NC")


def conv_dimension_numbers(lhs_shape: Sequence[int], rhs_shape: Sequence[int],
                           dimension_numbers: ConvGeneralDilatedDimensionNumbers
                           ) -> ConvDimensionNumbers:
    """Canonicalise a convolution's `dimension_numbers` to `ConvDimensionNumbers`.

    Args:
        lhs_shape: the input's shape.
        rhs_shape: the kernel's shape.
        dimension_numbers: None (meaning `NC...`, `OI...`, `NC...`: batch and features
            first), a `ConvDimensionNumbers`, or three layout strings such as
            `('NHWC', 'HWIO', 'NHWC')`.

    Returns:
        A `ConvDimensionNumbers` of int tuples.

    >>> conv_dimension_numbers((1, 5, 5, 3), (3, 3, 3, 8), ('NHWC', 'HWIO', 'NHWC'))
    ConvDimensionNumbers(lhs_spec=(0, 3, 1, 2), rhs_spec=(3, 2, 0, 1), out_spec=(0, 3, 1, 2))
    """
    if isinstance(dimension_numbers, ConvDimensionNumbers):
        return ConvDimensionNumbers(
            *(_int_tuple(s, "dimension_numbers", "conv_general_dilated")
              for s in dimension_numbers))
    if len(lhs_shape) != len(rhs_shape):
        raise TypeError(f"lax.conv_general_dilated: lhs and rhs must have the same rank, got "
                        f"shapes {tuple(lhs_shape)} and {tuple(rhs_shape)}")
    if dimension_numbers is None:
        iota = tuple(range(len(lhs_shape)))
        return ConvDimensionNumbers(iota, iota, iota)
    if not isinstance(dimension_numbers, (list, tuple)) or len(dimension_numbers) != 3:
        raise TypeError("lax.conv_general_dilated: dimension_numbers must be None, a "
                        "ConvDimensionNumbers or three layout strings such as "
                        f"('NHWC', 'HWIO', 'NHWC'), got {dimension_numbers!r}")
    if not all(isinstance(s, str) for s in dimension_numbers):
        raise TypeError("lax.conv_general_dilated: dimension_numbers must be three strings, "
                        f"got {dimension_numbers!r}")
    for i, s in enumerate(dimension_numbers):
        if len(s) != len(lhs_shape):
            raise TypeError(f"lax.conv_general_dilated: dimension_numbers[{i}] = {s!r} must "
                            f"have one letter per dimension of lhs {tuple(lhs_shape)} and rhs "
                            f"{tuple(rhs_shape)}")
    return ConvDimensionNumbers(*conv_general_permutations(tuple(dimension_numbers)))


def _dilate_dim(size: int, dilation: int) -> int:
    return 0 if size == 0 else 1 + dilation * (size - 1)


def conv_shape_tuple(lhs_shape: Sequence[int], rhs_shape: Sequence[int],
                     strides: Sequence[int], pads: Any, batch_group_count: int = 1
                     ) -> tuple[int, ...]:
    """Output shape of a convolution whose operands are in `NC...` / `OI...` order."""
    if isinstance(pads, str):
        pads = padtype_to_pads(lhs_shape[2:], rhs_shape[2:], strides, pads)
    if len(pads) != len(lhs_shape) - 2:
        raise TypeError(f"lax.conv_general_dilated: expected {len(lhs_shape) - 2} (low, high) "
                        f"padding pairs, got {len(pads)}: {pads}")
    spatial = []
    for n, k, s, (lo, hi) in zip(lhs_shape[2:], rhs_shape[2:], strides, pads):
        padded = n + lo + hi
        if padded < 0:
            raise ValueError(f"lax.conv_general_dilated: negative padding {(lo, hi)} removes more "
                             f"than the {n} elements of a spatial dimension")
        spatial.append(max((padded - k) // s + 1, 0))
    return (lhs_shape[0] // batch_group_count, rhs_shape[0], *spatial)


def conv_general_shape_tuple(lhs_shape: Sequence[int], rhs_shape: Sequence[int],
                             window_strides: Sequence[int], padding: Any,
                             dimension_numbers: tuple[str, str, str]) -> tuple[int, ...]:
    """Output shape of `conv_general_dilated` (no dilation) with layout strings."""
    lhs_perm, rhs_perm, out_perm = conv_general_permutations(dimension_numbers)
    out = conv_shape_tuple(tuple(lhs_shape[i] for i in lhs_perm),
                           tuple(rhs_shape[i] for i in rhs_perm), window_strides, padding)
    return tuple(out[i] for i in np.argsort(out_perm))


def conv_transpose_shape_tuple(lhs_shape: Sequence[int], rhs_shape: Sequence[int],
                               window_strides: Sequence[int], padding: Any,
                               dimension_numbers: tuple[str, str, str]) -> tuple[int, ...]:
    """Output shape of `conv_transpose` with layout strings."""
    lhs_perm, rhs_perm, out_perm = conv_general_permutations(dimension_numbers)
    lhs_t = [lhs_shape[i] for i in lhs_perm]
    rhs_t = [rhs_shape[i] for i in rhs_perm]
    if isinstance(padding, str):
        padding = [_conv_transpose_padding(k, s, padding)
                   for k, s in zip(rhs_t[2:], window_strides)]
    spatial = [(i - 1) * s - k + 2 + lo + hi
               for i, k, s, (lo, hi) in zip(lhs_t[2:], rhs_t[2:], window_strides, padding)]
    out = (lhs_t[0], rhs_t[0], *spatial)
    return tuple(out[i] for i in np.argsort(out_perm))


# --------------------------------------------------------------------------------------
# conv_general_dilated
# --------------------------------------------------------------------------------------

conv_general_dilated_p = Primitive("conv_general_dilated")


def conv_general_dilated(
        lhs: ArrayLike, rhs: ArrayLike, window_strides: Sequence[int],
        padding: str | Sequence[tuple[int, int]],
        lhs_dilation: Sequence[int] | None = None, rhs_dilation: Sequence[int] | None = None,
        dimension_numbers: ConvGeneralDilatedDimensionNumbers = None,
        feature_group_count: int = 1, batch_group_count: int = 1,
        precision: PrecisionLike = None,
        preferred_element_type: DTypeLike | None = None) -> Array:
    """General N-d convolution with strides, padding, dilation and grouping (XLA's Conv).

    Args:
        lhs: the input, of rank `n + 2` (`n` spatial dimensions).
        rhs: the kernel, of rank `n + 2`.
        window_strides: `n` strides.
        padding: `'SAME'`, `'SAME_LOWER'`, `'VALID'`, or `n` `(low, high)` pairs.
        lhs_dilation: `n` input dilation factors (transposed convolution); default 1.
        rhs_dilation: `n` kernel dilation factors (atrous convolution); default 1.
        dimension_numbers: None (`NC...`, `OI...`, `NC...`), a
            `ConvDimensionNumbers`, or layout strings such as `('NHWC', 'HWIO', 'NHWC')`.
            `window_strides` and the other per-dimension arguments follow the order of
            the spatial letters in the kernel string.
        feature_group_count: split the input features into this many groups
            (`feature_group_count == in_features` is a depthwise convolution).
        batch_group_count: split the batch into this many groups (used by gradients).
        precision: as in `dot_general`.
        preferred_element_type: the accumulation and result dtype.

    Returns:
        The convolution, laid out by `dimension_numbers`' output spec.

    >>> import numpy as np
    >>> x = np.ones((1, 5, 5, 3), np.float32); k = np.ones((3, 3, 3, 8), np.float32)
    >>> conv_general_dilated(x, k, (1, 1), 'SAME',
    ...                      dimension_numbers=('NHWC', 'HWIO', 'NHWC')).shape
    (1, 5, 5, 8)
    """
    name = "conv_general_dilated"
    check_arraylike(f"lax.{name}", lhs, rhs)
    lhs_aval, rhs_aval = aval_of(lhs), aval_of(rhs)
    dnums = conv_dimension_numbers(lhs_aval.shape, rhs_aval.shape, dimension_numbers)
    if lhs_aval.ndim != rhs_aval.ndim or lhs_aval.ndim < 2:
        raise TypeError(f"lax.{name}: lhs and rhs must have the same rank >= 2 (batch, feature "
                        f"and spatial dimensions), got {_pair(lhs_aval, rhs_aval)}")
    nspatial = lhs_aval.ndim - 2
    window_strides = _int_tuple(window_strides, "window_strides", name)
    lhs_dilation = (1,) * nspatial if lhs_dilation is None else _int_tuple(
        lhs_dilation, "lhs_dilation", name)
    rhs_dilation = (1,) * nspatial if rhs_dilation is None else _int_tuple(
        rhs_dilation, "rhs_dilation", name)
    if isinstance(padding, str):
        if padding.upper() not in ("SAME", "SAME_LOWER", "VALID"):
            raise ValueError(f"lax.{name}: padding must be 'VALID', 'SAME', 'SAME_LOWER' or "
                             f"(low, high) pairs, got {padding!r}")
        if any(d != 1 for d in lhs_dilation):
            raise ValueError(f"lax.{name}: string padding {padding!r} is not supported with "
                             f"lhs_dilation {lhs_dilation}; give explicit (low, high) pairs or "
                             "use lax.conv_transpose")
        lhs_spatial = [lhs_aval.shape[d] for d in dnums.lhs_spec[2:]]
        window = [_dilate_dim(rhs_aval.shape[d], r)
                  for d, r in zip(dnums.rhs_spec[2:], rhs_dilation)]
        if len(window_strides) != nspatial:
            raise TypeError(f"lax.{name}: window_strides {window_strides} must have one entry "
                            f"per spatial dimension ({nspatial}) of {_pair(lhs_aval, rhs_aval)}")
        pads = tuple(padtype_to_pads(lhs_spatial, window, window_strides, padding))
    else:
        try:
            pads = tuple((operator.index(lo), operator.index(hi)) for lo, hi in padding)
        except (TypeError, ValueError):
            raise TypeError(f"lax.{name}: padding must be 'SAME', 'SAME_LOWER', 'VALID' or a "
                            f"sequence of (low, high) integer pairs, got {padding!r}") from None
    return conv_general_dilated_p.bind(
        lhs, rhs, window_strides=window_strides, padding=pads, lhs_dilation=lhs_dilation,
        rhs_dilation=rhs_dilation, dimension_numbers=dnums,
        feature_group_count=operator.index(feature_group_count),
        batch_group_count=operator.index(batch_group_count),
        precision=canonicalize_precision(precision, name),
        preferred_element_type=_preferred_dtype(preferred_element_type, name))


def _check_conv_preferred(input_dtype: np.dtype, preferred: np.dtype) -> None:
    name = "lax.conv_general_dilated"
    # Integer inputs may accumulate in any float type; otherwise the kind must be kept,
    # and signed integers need a signed result.
    if not (dtypes.is_integer(input_dtype) and dtypes.is_floating(preferred)):
        for kind in (dtypes.is_integer, dtypes.is_floating, dtypes.is_complex):
            if kind(input_dtype) and not kind(preferred):
                raise TypeError(f"{name}: preferred_element_type {preferred.name} does not fit "
                                f"input dtype {input_dtype.name}: allowed are (integer, "
                                "integer), (integer, floating), (floating, floating) and "
                                "(complex, complex)")
        if dtypes.is_signed_integer(input_dtype) and not dtypes.is_signed_integer(preferred):
            raise TypeError(f"{name}: preferred_element_type {preferred.name} must be signed "
                            f"like the input dtype {input_dtype.name}")
    if preferred.itemsize < input_dtype.itemsize:
        raise TypeError(f"{name}: preferred_element_type {preferred.name} is narrower than the "
                        f"input dtype {input_dtype.name}")


def _conv_general_dilated_abstract_eval(
        lhs: AbstractArray, rhs: AbstractArray, *, window_strides: tuple[int, ...],
        padding: tuple[tuple[int, int], ...], lhs_dilation: tuple[int, ...],
        rhs_dilation: tuple[int, ...], dimension_numbers: ConvDimensionNumbers,
        feature_group_count: int, batch_group_count: int, precision: CanonicalPrecision,
        preferred_element_type: np.dtype | None) -> AbstractArray:
    del precision
    name = "lax.conv_general_dilated"
    shapes = _pair(lhs, rhs)
    if lhs.ndim != rhs.ndim or lhs.ndim < 2:
        raise TypeError(f"{name}: lhs and rhs must have the same rank >= 2, got {shapes}")
    nspatial = lhs.ndim - 2
    for what, spec in zip(("lhs_spec", "rhs_spec", "out_spec"), dimension_numbers):
        if sorted(spec) != list(range(lhs.ndim)):
            raise TypeError(f"{name}: dimension_numbers.{what} {tuple(spec)} must be a "
                            f"permutation of range({lhs.ndim}) for {shapes}")
    for what, values in (("window_strides", window_strides), ("lhs_dilation", lhs_dilation),
                         ("rhs_dilation", rhs_dilation), ("padding", padding)):
        if len(values) != nspatial:
            raise TypeError(f"{name}: {what} {values} must have one entry per spatial dimension "
                            f"({nspatial}) of {shapes}")
    for what, values in (("window_strides", window_strides), ("lhs_dilation", lhs_dilation),
                         ("rhs_dilation", rhs_dilation)):
        if any(v < 1 for v in values):
            raise ValueError(f"{name}: {what} must be positive, got {values}")
    if lhs.dtype != rhs.dtype:
        raise TypeError(f"{name} requires arguments to have the same dtypes, got {shapes}")
    if preferred_element_type is not None:
        _check_conv_preferred(lhs.dtype, preferred_element_type)
    lhs_spec, rhs_spec, out_spec = dimension_numbers
    batch, in_features = lhs.shape[lhs_spec[0]], lhs.shape[lhs_spec[1]]
    out_features, kernel_in = rhs.shape[rhs_spec[0]], rhs.shape[rhs_spec[1]]
    if feature_group_count < 1 or batch_group_count < 1:
        raise ValueError(f"{name}: feature_group_count ({feature_group_count}) and "
                         f"batch_group_count ({batch_group_count}) must be positive")
    if feature_group_count > 1 and batch_group_count > 1:
        raise ValueError(f"{name}: at most one of feature_group_count ({feature_group_count}) "
                         f"and batch_group_count ({batch_group_count}) may exceed 1")
    if in_features % feature_group_count or in_features // feature_group_count != kernel_in:
        raise TypeError(
            f"{name}: the input has {in_features} features, which with feature_group_count="
            f"{feature_group_count} needs a kernel input-feature size of "
            f"{in_features / feature_group_count:g}, but the kernel has {kernel_in} ({shapes}, "
            f"dimension_numbers={tuple(dimension_numbers)})")
    for what, count in (("feature_group_count", feature_group_count),
                        ("batch_group_count", batch_group_count)):
        if out_features % count:
            raise TypeError(f"{name}: the kernel's {out_features} output features are not a "
                            f"multiple of {what}={count} ({shapes})")
    if batch % batch_group_count:
        raise TypeError(f"{name}: batch_group_count={batch_group_count} does not divide the "
                        f"batch size {batch} ({shapes})")
    lhs_t = [lhs.shape[d] for d in lhs_spec]
    rhs_t = [rhs.shape[d] for d in rhs_spec]
    lhs_t[2:] = [_dilate_dim(n, d) for n, d in zip(lhs_t[2:], lhs_dilation)]
    rhs_t[2:] = [_dilate_dim(n, d) for n, d in zip(rhs_t[2:], rhs_dilation)]
    out_t = conv_shape_tuple(lhs_t, rhs_t, window_strides, padding, batch_group_count)
    out_shape = [0] * lhs.ndim
    for d, size in zip(out_spec, out_t):
        out_shape[d] = size
    dtype = preferred_element_type if preferred_element_type is not None else lhs.dtype
    weak = lhs.weak_type and rhs.weak_type and preferred_element_type is None
    return AbstractArray(out_shape, dtype, weak)


conv_general_dilated_p.def_abstract_eval(_conv_general_dilated_abstract_eval)


def _conv_dnums_attr(dnums: ConvDimensionNumbers) -> str:
    def layout(spec: Sequence[int], first: str, second: str) -> str:
        names = [""] * len(spec)
        names[spec[0]], names[spec[1]] = first, second
        for i, d in enumerate(spec[2:]):
            names[d] = str(i)
        return "[" + ", ".join(names) + "]"

    return (f"#stablehlo.conv<{layout(dnums.lhs_spec, 'b', 'f')}x"
            f"{layout(dnums.rhs_spec, 'o', 'i')}->{layout(dnums.out_spec, 'b', 'f')}>")


def _emit_convolution(ctx: lowering.RuleContext, lhs: lowering.Value, rhs: lowering.Value,
                      out: AbstractArray, params: dict[str, Any]) -> lowering.Value:
    nspatial = len(params["window_strides"])
    pads = np.asarray(params["padding"], dtype=np.int64).reshape(nspatial, 2)
    return ctx.op("stablehlo.convolution", [lhs, rhs], out, {
        "batch_group_count": lowering.i64_attr(params["batch_group_count"]),
        "dimension_numbers": _conv_dnums_attr(params["dimension_numbers"]),
        "feature_group_count": lowering.i64_attr(params["feature_group_count"]),
        "lhs_dilation": lowering.i64_array(params["lhs_dilation"]),
        # NOTE: a 0-d convolution has no padding rows; `dense<[]>` does not parse there.
        "padding": lowering.dense_i64(pads) if pads.size else "dense<0> : tensor<0x2xi64>",
        "precision_config": _precision_attr(params["precision"]),
        "rhs_dilation": lowering.i64_array(params["rhs_dilation"]),
        "window_reversal": lowering.bool_array([False] * nspatial),
        "window_strides": lowering.i64_array(params["window_strides"]),
    })


def _conv_general_dilated_lower(ctx: lowering.RuleContext, lhs: lowering.Value,
                                rhs: lowering.Value, **params: Any) -> lowering.Value:
    lhs_aval, rhs_aval = ctx.avals_in
    out = ctx.aval_out.strip_weak_type()
    if _conv_taps._conv_as_taps(lhs_aval, rhs_aval, out, params):
        return _conv_taps._emit_taps(ctx, lhs, rhs, lhs_aval, rhs_aval, out, params)
    if not dtypes.is_complex(lhs_aval.dtype):
        return _emit_convolution(ctx, lhs, rhs, out, params)
    # NOTE: XLA's GPU backend has no complex convolution and its CPU one is a slow loop,
    # so (like jax on those platforms) a complex convolution is three real ones:
    # (a + bi)(c + di) = (k1 - k3) + (k1 + k2)i with k1 = (a + b)c, k2 = a(d - c),
    # k3 = b(c + d) (Gauss's trick).
    def parts(value: lowering.Value, aval: AbstractArray) -> tuple[lowering.Value, ...]:
        real = aval.update(dtype=dtypes.real_dtype(aval.dtype), weak_type=False)
        return (ctx.op("stablehlo.real", [value], real), ctx.op("stablehlo.imag", [value], real),
                real)

    a, b, lhs_real = parts(lhs, lhs_aval)
    c, d, rhs_real = parts(rhs, rhs_aval)
    out_real = out.update(dtype=dtypes.real_dtype(out.dtype))
    k1 = _emit_convolution(ctx, ctx.op("stablehlo.add", [a, b], lhs_real), c, out_real, params)
    k2 = _emit_convolution(ctx, a, ctx.op("stablehlo.subtract", [d, c], rhs_real), out_real,
                           params)
    k3 = _emit_convolution(ctx, b, ctx.op("stablehlo.add", [c, d], rhs_real), out_real, params)
    re = ctx.op("stablehlo.subtract", [k1, k3], out_real)
    im = ctx.op("stablehlo.add", [k1, k2], out_real)
    return ctx.op("stablehlo.complex", [re, im], out)


lowering.register_lowering(conv_general_dilated_p, _conv_general_dilated_lower)


# conv_general_dilated: transformation rules (the math of jax's convolution.py). It is
# bilinear; the lhs transpose is a convolution of the cotangent with the spatially
# reversed kernel (I and O swapped) whose input dilation is the forward stride, and the
# rhs transpose a convolution of the input with the cotangent as kernel, whose kernel
# dilation is the forward stride. Feature groups and batch groups trade places there.


def _conv_spec_swap(spec: Sequence[int]) -> tuple[int, ...]:
    return (spec[1], spec[0], *spec[2:])


def _reshape_axis_into(src: int, dst: int, x: Any) -> Any:
    """Merge axis `src` of `x` into axis `dst` as its major part; `dst` counts the
    axes of `x` with `src` removed (so it can name an unbatched dimension)."""
    from lamina.lax import structural  # NOTE: lazy: structural is a sibling family
    shape = aval_of(x).shape
    perm = [i for i in range(len(shape)) if i != src]
    perm.insert(dst, src)
    new_shape = [shape[i] for i in range(len(shape)) if i != src]
    new_shape[dst] *= shape[src]
    return structural.reshape(structural.transpose(x, perm), new_shape)


def _reshape_axis_out_of(src: int, size1: int, x: Any) -> Any:
    """Split axis `src` of `x` into `(size1, rest)`, `size1` major."""
    from lamina.lax import structural  # NOTE: lazy: structural is a sibling family
    shape = list(aval_of(x).shape)
    assert shape[src] % size1 == 0, (shape, src, size1)
    shape[src:src + 1] = [size1, shape[src] // size1]
    return structural.reshape(x, shape)


def _conv_vjp_lhs_padding(in_shape: Sequence[int], window: Sequence[int],
                          strides: Sequence[int], out_shape: Sequence[int],
                          padding: Sequence[tuple[int, int]], lhs_dilation: Sequence[int],
                          rhs_dilation: Sequence[int]) -> tuple[tuple[int, int], ...]:
    pads = []
    for n, k, s, o, (lo, _), ld, rd in zip(in_shape, window, strides, out_shape, padding,
                                           lhs_dilation, rhs_dilation):
        n_d, k_d, o_d = _dilate_dim(n, ld), _dilate_dim(k, rd), _dilate_dim(o, s)
        before = k_d - lo - 1
        pads.append((before, n_d + k_d - 1 - o_d - before))
    return tuple(pads)


def _conv_vjp_rhs_padding(in_shape: Sequence[int], window: Sequence[int],
                          strides: Sequence[int], out_shape: Sequence[int],
                          padding: Sequence[tuple[int, int]], lhs_dilation: Sequence[int],
                          rhs_dilation: Sequence[int]) -> tuple[tuple[int, int], ...]:
    pads = []
    for n, k, s, o, (lo, _), ld, rd in zip(in_shape, window, strides, out_shape, padding,
                                           lhs_dilation, rhs_dilation):
        n_d, k_d, o_d = _dilate_dim(n, ld), _dilate_dim(k, rd), _dilate_dim(o, s)
        pads.append((lo, o_d - n_d + k_d - lo - 1))
    return tuple(pads)


def _conv_operand_dtype_ct(ct: Any, other: Any) -> tuple[Any, Any]:
    """The cotangent and the other operand in one dtype: with preferred_element_type
    the cotangent is wider than the operands, and convolution needs equal dtypes."""
    from lamina.lax import elementwise  # NOTE: lazy: elementwise is a sibling family
    ct_dtype, other_dtype = aval_of(ct).dtype, aval_of(other).dtype
    if ct_dtype != other_dtype:
        other = elementwise.convert_element_type(other, ct_dtype)
    return ct, other


def _to_operand_dtype(x: Any, aval: AbstractArray) -> Any:
    from lamina.lax import elementwise  # NOTE: lazy: elementwise is a sibling family
    if aval_of(x).dtype != aval.dtype:
        x = elementwise.convert_element_type(x, aval.dtype)
    return x


def _conv_transpose_lhs(ct: Any, lhs: Any, rhs: Any, *, window_strides: tuple[int, ...],
                        padding: tuple[tuple[int, int], ...], lhs_dilation: tuple[int, ...],
                        rhs_dilation: tuple[int, ...], dimension_numbers: ConvDimensionNumbers,
                        feature_group_count: int, batch_group_count: int,
                        precision: CanonicalPrecision,
                        preferred_element_type: np.dtype | None) -> Any:
    from lamina.lax import structural  # NOTE: lazy: structural is a sibling family
    lhs_spec, rhs_spec, out_spec = dimension_numbers
    lhs_aval = lhs.aval
    rhs_shape = aval_of(rhs).shape
    ct, rhs = _conv_operand_dtype_ct(ct, rhs)
    group_count = 1
    if feature_group_count > 1 or batch_group_count > 1:
        # The kernel's O dimension is (groups, O / groups); in the transposed
        # convolution O is the input-feature side, so the groups move into I.
        group_count = max(feature_group_count, batch_group_count)
        rhs = _reshape_axis_out_of(rhs_spec[0], group_count, rhs)
        rhs = _reshape_axis_into(rhs_spec[0], rhs_spec[1], rhs)
    t_dnums = ConvDimensionNumbers(out_spec, _conv_spec_swap(rhs_spec), lhs_spec)
    pads = _conv_vjp_lhs_padding(
        [lhs_aval.shape[d] for d in lhs_spec[2:]], [rhs_shape[d] for d in rhs_spec[2:]],
        window_strides, [aval_of(ct).shape[d] for d in out_spec[2:]], padding, lhs_dilation,
        rhs_dilation)
    out = conv_general_dilated(
        ct, structural.rev(rhs, tuple(rhs_spec[2:])), window_strides=lhs_dilation,
        padding=pads, lhs_dilation=window_strides, rhs_dilation=rhs_dilation,
        dimension_numbers=t_dnums, feature_group_count=group_count, precision=precision)
    if batch_group_count > 1:
        # NOTE: the batch groups came out as feature groups: move them back to the batch.
        out = _reshape_axis_out_of(lhs_spec[1], batch_group_count, out)
        out = _reshape_axis_into(lhs_spec[1], lhs_spec[0], out)
    return _to_operand_dtype(out, lhs_aval)


def _conv_transpose_rhs(ct: Any, lhs: Any, rhs: Any, *, window_strides: tuple[int, ...],
                        padding: tuple[tuple[int, int], ...], lhs_dilation: tuple[int, ...],
                        rhs_dilation: tuple[int, ...], dimension_numbers: ConvDimensionNumbers,
                        feature_group_count: int, batch_group_count: int,
                        precision: CanonicalPrecision,
                        preferred_element_type: np.dtype | None) -> Any:
    rhs_aval = rhs.aval
    if 0 in aval_of(ct).shape:
        # NOTE: an empty output would make a kernel with an empty spatial window.
        return ad.Zero(ad.tangent_aval(rhs_aval))
    lhs_spec, rhs_spec, out_spec = dimension_numbers
    lhs_shape = aval_of(lhs).shape
    ct, lhs = _conv_operand_dtype_ct(ct, lhs)
    if _conv_weight_grad._rhs_transpose_as_1d(
            aval_of(lhs), aval_of(ct), rhs_aval, window_strides, padding, lhs_dilation,
            rhs_dilation, dimension_numbers, feature_group_count, batch_group_count):
        from lamina.lax import structural  # NOTE: lazy: structural is a sibling family
        groups = feature_group_count
        if groups == 1 and lhs_shape[lhs_spec[1]] == 1:
            # NOTE: one input feature (a first layer on grey images): the patches cost
            # K1*K2 input copies but the transpose to feature-major is free, while the
            # 1-D form copies the whole cotangent (O times the input) into its kernel
            # layout. 2x faster for the MNIST CNN's first layer (28x28x1 -> 32); with
            # 4-16 input features the 1-D form wins (1.2-4x, measured).
            out = _conv_weight_grad._conv_transpose_rhs_im2col(
                ct, lhs, rhs_aval, window_strides, padding, lhs_dilation, rhs_dilation,
                dimension_numbers, precision)
            return _to_operand_dtype(out, rhs_aval)
        # NOTE: XLA runs the 2-D form's batch groups by masking every group's full
        # product (40-300x slower for 4-32 groups, measured); one 1-D convolution per
        # group instead.
        cin, cout = lhs_shape[lhs_spec[1]] // groups, aval_of(ct).shape[out_spec[1]] // groups
        parts = [_conv_weight_grad._conv_transpose_rhs_1d(
            _conv_weight_grad._group_slice(ct, out_spec[1], j, cout),
            _conv_weight_grad._group_slice(lhs, lhs_spec[1], j, cin),
            rhs_aval, window_strides, padding, lhs_dilation, rhs_dilation, dimension_numbers,
            precision) for j in range(groups)]
        out = parts[0] if groups == 1 else structural.concatenate(parts, rhs_spec[0])
        return _to_operand_dtype(out, rhs_aval)
    # Batch and feature swap roles: the input's features become the batch, the batch
    # is contracted (input features), and the cotangent is the kernel.
    t_dnums = ConvDimensionNumbers(_conv_spec_swap(lhs_spec), _conv_spec_swap(out_spec),
                                   _conv_spec_swap(rhs_spec))
    pads = _conv_vjp_rhs_padding(
        [lhs_shape[d] for d in lhs_spec[2:]], [rhs_aval.shape[d] for d in rhs_spec[2:]],
        window_strides, [aval_of(ct).shape[d] for d in out_spec[2:]], padding, lhs_dilation,
        rhs_dilation)
    # Feature groups of the forward convolution are batch groups here, and vice versa.
    out = conv_general_dilated(
        lhs, ct, window_strides=rhs_dilation, padding=pads, lhs_dilation=lhs_dilation,
        rhs_dilation=window_strides, dimension_numbers=t_dnums,
        feature_group_count=batch_group_count, batch_group_count=feature_group_count,
        precision=precision)
    return _to_operand_dtype(out, rhs_aval)


def _conv_general_dilated_transpose_rule(ct: Any, lhs: Any, rhs: Any,
                                         **params: Any) -> list[Any]:
    assert not (ad.is_undefined_primal(lhs) and ad.is_undefined_primal(rhs)), \
        "conv_general_dilated is bilinear, not linear in both operands at once"
    if ad.is_undefined_primal(lhs):
        return [_conv_transpose_lhs(ct, lhs, rhs, **params), None]
    return [None, _conv_transpose_rhs(ct, lhs, rhs, **params)]


def _conv_general_dilated_batch_rule(args: Sequence[Any], dims: Sequence[Any],
                                     **params: Any) -> tuple[Any, int]:
    lhs, rhs = args
    lbd, rbd = dims
    lhs_spec, rhs_spec, out_spec = params["dimension_numbers"]
    fgc, bgc = params["feature_group_count"], params["batch_group_count"]

    def conv(lhs: Any, rhs: Any, **changes: Any) -> Any:
        return conv_general_dilated_p.bind(lhs, rhs, **{**params, **changes})

    if lbd is not None and rbd is not None:
        # Both mapped: each lane is its own group, of features (or of the batch when
        # the convolution already groups its batch).
        size = aval_of(lhs).shape[lbd]
        if bgc > 1:
            new_lhs = _reshape_axis_into(lbd, lhs_spec[0], lhs)
            changes = {"batch_group_count": bgc * size}
        else:
            new_lhs = _reshape_axis_into(lbd, lhs_spec[1], lhs)
            changes = {"feature_group_count": fgc * size}
        out = conv(new_lhs, _reshape_axis_into(rbd, rhs_spec[0], rhs), **changes)
        return _reshape_axis_out_of(out_spec[1], size, out), out_spec[1]
    if lbd is not None:
        # Only lhs mapped: the lanes are more batch. With batch groups the groups must
        # stay outermost: split them off, fold the lanes in below them, merge back.
        size = aval_of(lhs).shape[lbd]
        if bgc == 1:
            new_lhs = _reshape_axis_into(lbd, lhs_spec[0], lhs)
        else:
            new_lhs = _reshape_axis_out_of(lhs_spec[0] + (lbd <= lhs_spec[0]), bgc, lhs)
            new_lhs = _reshape_axis_into(lbd + (lhs_spec[0] < lbd), lhs_spec[0] + 1, new_lhs)
            new_lhs = _reshape_axis_into(lhs_spec[0], lhs_spec[0], new_lhs)
        out = conv(new_lhs, rhs)
        return _reshape_axis_out_of(out_spec[0], size, out), out_spec[0]
    # Only rhs mapped: the lanes are more output features (below any groups).
    size = aval_of(rhs).shape[rbd]
    if fgc == 1 and bgc == 1:
        out = conv(lhs, _reshape_axis_into(rbd, rhs_spec[0], rhs))
        return _reshape_axis_out_of(out_spec[1], size, out), out_spec[1]
    groups = max(fgc, bgc)
    new_rhs = _reshape_axis_out_of(rhs_spec[0] + (rbd <= rhs_spec[0]), groups, rhs)
    new_rhs = _reshape_axis_into(rbd + (rhs_spec[0] < rbd), rhs_spec[0] + 1, new_rhs)
    new_rhs = _reshape_axis_into(rhs_spec[0], rhs_spec[0], new_rhs)
    out = conv(lhs, new_rhs)
    out = _reshape_axis_out_of(out_spec[1], groups, out)
    out = _reshape_axis_out_of(out_spec[1] + 1, size, out)
    return _reshape_axis_into(out_spec[1], out_spec[1] + 1, out), out_spec[1]


ad.defjvp(conv_general_dilated_p,
          lambda g, lhs, rhs, **params: conv_general_dilated_p.bind(g, rhs, **params),
          lambda g, lhs, rhs, **params: conv_general_dilated_p.bind(lhs, g, **params))
ad.primitive_transposes[conv_general_dilated_p] = _conv_general_dilated_transpose_rule
batching.primitive_batchers[conv_general_dilated_p] = _conv_general_dilated_batch_rule


def conv(lhs: ArrayLike, rhs: ArrayLike, window_strides: Sequence[int], padding: str,
         precision: PrecisionLike = None,
         preferred_element_type: DTypeLike | None = None) -> Array:
    """`conv_general_dilated` in `NC...` / `OI...` layout without dilation or groups.

    Args:
        lhs: the input, `[N, C, spatial...]`.
        rhs: the kernel, `[O, I, spatial...]`.
        window_strides: one stride per spatial dimension.
        padding: `'SAME'`, `'SAME_LOWER'` or `'VALID'` (or explicit pairs).
        precision: as in `dot_general`.
        preferred_element_type: the accumulation and result dtype.

    Returns:
        The `[N, O, spatial...]` convolution.

    >>> import numpy as np
    >>> conv(np.ones((1, 2, 6), np.float32), np.ones((4, 2, 3), np.float32), (1,), 'VALID').shape
    (1, 4, 4)
    """
    return conv_general_dilated(lhs, rhs, window_strides, padding, precision=precision,
                                preferred_element_type=preferred_element_type)


def conv_with_general_padding(lhs: ArrayLike, rhs: ArrayLike, window_strides: Sequence[int],
                              padding: str | Sequence[tuple[int, int]],
                              lhs_dilation: Sequence[int] | None,
                              rhs_dilation: Sequence[int] | None,
                              precision: PrecisionLike = None,
                              preferred_element_type: DTypeLike | None = None) -> Array:
    """`conv_general_dilated` in `NC...` / `OI...` layout with padding and dilation.

    Args:
        lhs: the input, `[N, C, spatial...]`.
        rhs: the kernel, `[O, I, spatial...]`.
        window_strides: one stride per spatial dimension.
        padding: a padding string or `(low, high)` pairs.
        lhs_dilation: input dilation per spatial dimension, or None.
        rhs_dilation: kernel dilation per spatial dimension, or None.
        precision: as in `dot_general`.
        preferred_element_type: the accumulation and result dtype.

    Returns:
        The `[N, O, spatial...]` convolution.

    >>> import numpy as np
    >>> conv_with_general_padding(np.ones((1, 1, 4), np.float32), np.ones((1, 1, 2), np.float32),
    ...                           (1,), [(1, 1)], (2,), None).shape
    (1, 1, 8)
    """
    return conv_general_dilated(lhs, rhs, window_strides, padding, lhs_dilation=lhs_dilation,
                                rhs_dilation=rhs_dilation, precision=precision,
                                preferred_element_type=preferred_element_type)


def _conv_transpose_padding(k: int, s: int, padding: Any) -> tuple[int, int]:
    """(low, high) padding of the dilated input that inverts a forward convolution with
    kernel size `k`, stride `s` and the given forward padding."""
    if padding == "SAME":
        total = k + s - 2
        low = k - 1 if s > k - 1 else -(-total // 2)
    elif padding == "VALID":
        total = k + s - 2 + max(k - s, 0)
        low = k - 1
    elif isinstance(padding, tuple):
        low, high = (k - p - 1 for p in padding)
        total = low + high
    else:
        raise ValueError(f"lax.conv_transpose: padding must be 'SAME', 'VALID' or (low, high) "
                         f"pairs, got {padding!r}")
    return low, total - low


def conv_transpose(lhs: ArrayLike, rhs: ArrayLike, strides: Sequence[int],
                   padding: str | Sequence[tuple[int, int]],
                   rhs_dilation: Sequence[int] | None = None,
                   dimension_numbers: ConvGeneralDilatedDimensionNumbers = None,
                   transpose_kernel: bool = False, precision: PrecisionLike = None,
                   preferred_element_type: DTypeLike | None = None,
                   use_consistent_padding: bool = False) -> Array:
    """N-d transposed ("fractionally strided") convolution, as jax defines it.

    It is a `conv_general_dilated` with `lhs_dilation=strides` and unit window strides.

    Args:
        lhs: the input, rank `n + 2`.
        rhs: the kernel, rank `n + 2`.
        strides: the fractional strides (the input dilation), one per spatial dimension.
        padding: `'SAME'` / `'VALID'` name the padding of the forward convolution this
            one transposes; explicit `(low, high)` pairs are the padding of the dilated
            input itself, unless `use_consistent_padding` (then they too describe the
            forward convolution, as in PyTorch).
        rhs_dilation: kernel dilation per spatial dimension, or None.
        dimension_numbers: as in `conv_general_dilated`; defaults to TensorFlow's layout
            (`NC`, `NHC`, `NHWC`, `NHWDC` with `IO`, `HIO`, `HWIO`, `HWDIO`).
        transpose_kernel: flip the kernel's spatial dimensions and swap its input and
            output features, which makes this the gradient of a forward convolution with
            the same kernel (Keras' `Conv2DTranspose`).
        precision: as in `dot_general`.
        preferred_element_type: the accumulation and result dtype.
        use_consistent_padding: read explicit padding pairs as the forward padding.

    Returns:
        The transposed convolution.

    >>> import numpy as np
    >>> conv_transpose(np.ones((1, 4, 4, 2), np.float32), np.ones((3, 3, 2, 5), np.float32),
    ...                (2, 2), 'SAME').shape
    (1, 8, 8, 5)
    """
    lhs_aval, rhs_aval = aval_of(lhs), aval_of(rhs)
    ndim = lhs_aval.ndim
    if ndim != rhs_aval.ndim or ndim < 2:
        raise TypeError(f"lax.conv_transpose: lhs and rhs must have the same rank >= 2, got "
                        f"{_pair(lhs_aval, rhs_aval)}")
    if dimension_numbers is None:
        layouts = {2: ("NC", "IO", "NC"), 3: ("NHC", "HIO", "NHC"),
                   4: ("NHWC", "HWIO", "NHWC"), 5: ("NHWDC", "HWDIO", "NHWDC")}
        if ndim not in layouts:
            raise ValueError(f"lax.conv_transpose: no default dimension_numbers for rank {ndim}; "
                             "pass dimension_numbers")
        dimension_numbers = layouts[ndim]
    dnums = conv_dimension_numbers(lhs_aval.shape, rhs_aval.shape, dimension_numbers)
    strides = _int_tuple(strides, "strides", "conv_transpose")
    nspatial = ndim - 2
    rhs_dilation = (1,) * nspatial if rhs_dilation is None else _int_tuple(
        rhs_dilation, "rhs_dilation", "conv_transpose")
    kernel_sizes = [rhs_aval.shape[d] for d in dnums.rhs_spec[2:]]
    if use_consistent_padding or padding in ("SAME", "VALID"):
        per_dim = [padding] * len(strides) if isinstance(padding, str) else [
            tuple(p) for p in padding]
        pads: Any = tuple(_conv_transpose_padding(_dilate_dim(k, r), s, p)
                          for k, r, s, p in zip(kernel_sizes, rhs_dilation, strides, per_dim))
    else:
        pads = padding
    if transpose_kernel:
        from lamina.lax import structural  # NOTE: lazy: structural is a sibling family

        rhs = structural.rev(rhs, tuple(dnums.rhs_spec[2:]))
        # Swapping the kernel's I and O dimensions is a relabelling, not a data move.
        dnums = dnums._replace(rhs_spec=(dnums.rhs_spec[1], dnums.rhs_spec[0],
                                         *dnums.rhs_spec[2:]))
    return conv_general_dilated(lhs, rhs, (1,) * nspatial, pads, strides, rhs_dilation, dnums,
                                precision=precision,
                                preferred_element_type=preferred_element_type)


# NOTE: imported last, as they take conv_general_dilated and the shape helpers from here;
# the rules above look their functions up on the module at call time.
from lamina.lax import _conv_taps, _conv_weight_grad  # noqa: E402
