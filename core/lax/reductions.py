"""Reductions, arg-reductions, cumulative reductions and windowed reductions (cumulative
reductions: `cumulative.py`, sorting: `sorting.py`, both imported into this namespace).

Each primitive lowers to one StableHLO op whose small region is written here:

* `reduce_{sum,prod,max,min,and,or,xor}`, `argmax`/`argmin` -> `stablehlo.reduce`;
* `cum{sum,prod,max,min,logsumexp}`, `reduce_window_{sum,max,min}`
  -> `stablehlo.reduce_window` (a cumulative reduction is a window spanning the whole
  axis, padded by n-1 on one side, as jax lowers it on CPU);
* `sort` -> `stablehlo.sort`; `top_k` -> `chlo.top_k`.

Regions are built from a few scalar "monoids" (`_MONOIDS`): the combining op and its
identity, which is also the init value of the reduction (max of floats: -inf, of ints:
iinfo.min, of bool: False, ...), so a reduction over an empty axis yields the identity.

`lax.reduce` and `lax.reduce_window` take an arbitrary Python computation: a known
monoid (`lax.add` with 0, `lax.max` with -inf, ...) dispatches to the primitives above,
anything else is traced into the region of the general `reduce`/`reduce_window`
primitives (`generic_reductions.py`, imported into this namespace).
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Callable

import numpy as np

from lamina import dtypes
from lamina.interpreters import lowering
from lamina.interpreters.lowering import RuleContext, Value
from lamina.ir import AbstractArray, Primitive
from lamina.lax._util import (
    ArrayLike,
    padtype_to_pads,
    Shape,
    aval_of,
    canonicalize_axes,
    canonicalize_axis,
    check_arraylike,
    describe_dtypes,
    operator_index,
)

__all__ = [
    "argmax",
    "argmin",
    "cumlogsumexp",
    "cummax",
    "cummin",
    "cumprod",
    "cumsum",
    "reduce",
    "reduce_and",
    "reduce_max",
    "reduce_min",
    "reduce_or",
    "reduce_prod",
    "reduce_sum",
    "reduce_window",
    "reduce_window_shape_tuple",
    "reduce_xor",
    "sort",
    "sort_key_val",
    "top_k",
]

Array = Any  # lamina.Array (or a Tracer while tracing)

# --------------------------------------------------------------------------------------
# dtype predicates
# --------------------------------------------------------------------------------------


def _is_number(d: np.dtype) -> bool:
    return not dtypes.is_bool(d)


def _is_bool_or_int(d: np.dtype) -> bool:
    return dtypes.is_bool(d) or dtypes.is_integer(d)


def _is_ordered(d: np.dtype) -> bool:
    return not dtypes.is_complex(d)


def _any(d: np.dtype) -> bool:
    return True


def _check_dtype(name: str, aval: AbstractArray, accepts: Callable[[np.dtype], bool]) -> None:
    if not accepts(aval.dtype):
        raise TypeError(f"lax.{name} does not accept dtype {aval.dtype.name} (operand "
                        f"{aval.str_short()}); accepted dtypes: {describe_dtypes(accepts)}")


# --------------------------------------------------------------------------------------
# Scalar building blocks of regions
# --------------------------------------------------------------------------------------


def _scalar(dtype: Any) -> AbstractArray:
    return AbstractArray((), dtype)


_BOOL = _scalar(np.bool_)


def _compare(ctx: RuleContext, x: Value, y: Value, direction: str, dtype: np.dtype,
             total_order: bool = False) -> Value:
    """A scalar `stablehlo.compare` (the comparison type follows `dtype`)."""
    if dtypes.is_inexact(dtype):
        kind = "TOTALORDER" if total_order else "FLOAT"
    elif dtypes.is_signed_integer(dtype):
        kind = "SIGNED"
    else:  # unsigned integers and bool
        kind = "UNSIGNED"
    return ctx.op("stablehlo.compare", [x, y], _BOOL, {
        "comparison_direction": f"#stablehlo<comparison_direction {direction}>",
        "compare_type": f"#stablehlo<comparison_type {kind}>"})


def _select(ctx: RuleContext, pred: Value, x: Value, y: Value, aval: AbstractArray) -> Value:
    return ctx.op("stablehlo.select", [pred, x, y], aval)


def _binary(op: str) -> Callable[..., Value]:
    def body(ctx: RuleContext, x: Value, y: Value, aval: AbstractArray) -> Value:
        return ctx.op(op, [x, y], aval)
    return body


def _chooser(op: str, direction: str) -> Callable[..., Value]:
    """max/min; complex numbers compare lexicographically (real part first), as jax."""

    def body(ctx: RuleContext, x: Value, y: Value, aval: AbstractArray) -> Value:
        if not dtypes.is_complex(aval.dtype):
            return ctx.op(op, [x, y], aval)
        part = _scalar(dtypes.real_dtype(aval.dtype))
        rx, ry = (ctx.op("stablehlo.real", [v], part) for v in (x, y))
        ix, iy = (ctx.op("stablehlo.imag", [v], part) for v in (x, y))
        real_eq = _compare(ctx, rx, ry, "EQ", part.dtype)
        pick_x = _select(ctx, real_eq, _compare(ctx, ix, iy, direction, part.dtype),
                         _compare(ctx, rx, ry, direction, part.dtype), _BOOL)
        return _select(ctx, pick_x, x, y, aval)

    return body


def _logaddexp(ctx: RuleContext, x: Value, y: Value, aval: AbstractArray) -> Value:
    """log(exp(x) + exp(y)) without overflow (jax's `logaddexp` formulation)."""
    amax = _chooser("stablehlo.maximum", "GT")(ctx, x, y, aval)
    if not dtypes.is_complex(aval.dtype):
        delta = ctx.op("stablehlo.subtract", [x, y], aval)
        # NOTE: delta is NaN for a NaN operand or for infinities of the same sign; x + y
        # is then the right answer (NaN, +inf or -inf).
        is_nan = _compare(ctx, delta, delta, "NE", aval.dtype)
        neg_abs = ctx.op("stablehlo.negate", [ctx.op("stablehlo.abs", [delta], aval)], aval)
        log1p = ctx.op("stablehlo.log_plus_one", [ctx.op("stablehlo.exponential", [neg_abs], aval)],
                       aval)
        return _select(ctx, is_nan, ctx.op("stablehlo.add", [x, y], aval),
                       ctx.op("stablehlo.add", [amax, log1p], aval), aval)
    # Complex: amax + log1p(exp(other - amax)), the imaginary part wrapped to [-pi, pi].
    two = ctx.constant(2, aval)
    delta = ctx.op("stablehlo.subtract", [ctx.op("stablehlo.add", [x, y], aval),
                                          ctx.op("stablehlo.multiply", [amax, two], aval)], aval)
    out = ctx.op("stablehlo.add", [amax, ctx.op("stablehlo.log_plus_one", [
        ctx.op("stablehlo.exponential", [delta], aval)], aval)], aval)
    part = _scalar(dtypes.real_dtype(aval.dtype))
    pi, two_pi, zero = (ctx.constant(v, part) for v in (np.pi, 2 * np.pi, 0))
    rem = ctx.op("stablehlo.remainder", [
        ctx.op("stablehlo.add", [ctx.op("stablehlo.imag", [out], part), pi], part), two_pi], part)
    rem = _select(ctx, _compare(ctx, rem, zero, "LT", part.dtype),
                  ctx.op("stablehlo.add", [rem, two_pi], part), rem, part)
    imag = ctx.op("stablehlo.subtract", [rem, pi], part)
    return ctx.op("stablehlo.complex", [ctx.op("stablehlo.real", [out], part), imag], aval)


def _max_identity(dtype: np.dtype) -> Any:
    if dtypes.is_inexact(dtype):
        return -np.inf
    return False if dtypes.is_bool(dtype) else dtypes.iinfo(dtype).min


def _min_identity(dtype: np.dtype) -> Any:
    if dtypes.is_inexact(dtype):
        return np.inf
    return True if dtypes.is_bool(dtype) else dtypes.iinfo(dtype).max


def _all_ones(dtype: np.dtype) -> Any:
    if dtypes.is_bool(dtype):
        return True
    return -1 if dtypes.is_signed_integer(dtype) else dtypes.iinfo(dtype).max


# kind -> (scalar body, identity as a function of the dtype)
_MONOIDS: dict[str, tuple[Callable[..., Value], Callable[[np.dtype], Any]]] = {
    "sum": (_binary("stablehlo.add"), lambda d: 0),
    "prod": (_binary("stablehlo.multiply"), lambda d: 1),
    "max": (_chooser("stablehlo.maximum", "GT"), _max_identity),
    "min": (_chooser("stablehlo.minimum", "LT"), _min_identity),
    "and": (_binary("stablehlo.and"), _all_ones),
    "or": (_binary("stablehlo.or"), lambda d: 0),
    "xor": (_binary("stablehlo.xor"), lambda d: 0),
    "logaddexp": (_logaddexp, lambda d: -np.inf),
}


def _monoid_region(ctx: RuleContext, kind: str, dtype: np.dtype) -> tuple[Value, str]:
    """The init (identity) constant and the one-op region of a `kind` reduction."""
    body, identity = _MONOIDS[kind]
    scalar = _scalar(dtype)
    init = ctx.constant(identity(dtype), scalar)
    region = ctx.region([scalar, scalar], lambda args: [body(ctx, args[0], args[1], scalar)])
    return init, region


# --------------------------------------------------------------------------------------
# Reductions over axes
# --------------------------------------------------------------------------------------


def _check_axes(name: str, aval: AbstractArray, axes: Any) -> None:
    if not isinstance(axes, tuple) or not all(isinstance(a, int) for a in axes):
        raise TypeError(f"lax.{name}: axes must be a tuple of ints, got {axes!r}")
    if not all(0 <= a < aval.ndim for a in axes):
        raise ValueError(f"lax.{name}: axes {axes} out of range for operand {aval.str_short()} "
                         f"(valid axes: 0..{aval.ndim - 1})")
    if len(set(axes)) != len(axes):
        raise ValueError(f"lax.{name}: repeated axis in axes {axes}")


def _reduce_args(name: str, operand: ArrayLike, axes: Any) -> tuple[ArrayLike, tuple[int, ...]]:
    check_arraylike(f"lax.{name}", operand)
    if axes is None or isinstance(axes, (str, bytes)):
        raise TypeError(f"lax.{name}: axes must be a sequence of ints, got {axes!r}")
    return operand, canonicalize_axes(axes, aval_of(operand).ndim, f"lax.{name}")


def _reduce_abstract_eval(name: str, accepts: Callable[[np.dtype], bool],
                          keep_weak: bool = True) -> Callable[..., AbstractArray]:
    def rule(operand: AbstractArray, *, axes: tuple[int, ...]) -> AbstractArray:
        _check_axes(name, operand, axes)
        _check_dtype(name, operand, accepts)
        shape = tuple(d for i, d in enumerate(operand.shape) if i not in axes)
        return AbstractArray(shape, operand.dtype, keep_weak and operand.weak_type)

    rule.__name__ = f"{name}_abstract_eval"
    return rule


def _reduce_lower(kind: str) -> Callable[..., Value]:
    def rule(ctx: RuleContext, operand: Value, *, axes: tuple[int, ...]) -> Value:
        init, region = _monoid_region(ctx, kind, ctx.avals_in[0].dtype)
        return ctx.op("stablehlo.reduce", [operand, init], ctx.aval_out,
                      {"dimensions": lowering.i64_array(axes)}, regions=[region])

    rule.__name__ = f"reduce_{kind}_lower"
    return rule


_REDUCE_ARGS_DOC = """
    Args:
        operand: the array to reduce.
        axes: the axes to reduce over (a sequence of distinct ints; negative axes count
            from the end).

    Returns:
        An array of `operand`'s dtype with the `axes` removed from its shape."""


reduce_sum_p = Primitive("reduce_sum")


def reduce_sum(operand: ArrayLike, axes: Sequence[int]) -> Array:
    """Sum of the elements over `axes` (0 for an empty reduction).

    Unlike `lamina.numpy.sum`, narrow dtypes are not upcast while accumulating.
    """
    operand, axes = _reduce_args("reduce_sum", operand, axes)
    return reduce_sum_p.bind(operand, axes=axes)


reduce_sum_p.def_abstract_eval(_reduce_abstract_eval("reduce_sum", _is_number))
lowering.register_lowering(reduce_sum_p, _reduce_lower("sum"))


reduce_prod_p = Primitive("reduce_prod")


def reduce_prod(operand: ArrayLike, axes: Sequence[int]) -> Array:
    """Product of the elements over `axes` (1 for an empty reduction)."""
    operand, axes = _reduce_args("reduce_prod", operand, axes)
    return reduce_prod_p.bind(operand, axes=axes)


reduce_prod_p.def_abstract_eval(_reduce_abstract_eval("reduce_prod", _is_number))
lowering.register_lowering(reduce_prod_p, _reduce_lower("prod"))


reduce_max_p = Primitive("reduce_max")


def reduce_max(operand: ArrayLike, axes: Sequence[int]) -> Array:
    """Maximum over `axes`; NaN propagates; an empty reduction gives -inf (floats),
    iinfo.min (integers) or False (bool). Complex values compare lexicographically."""
    operand, axes = _reduce_args("reduce_max", operand, axes)
    return reduce_max_p.bind(operand, axes=axes)


reduce_max_p.def_abstract_eval(_reduce_abstract_eval("reduce_max", _any))
lowering.register_lowering(reduce_max_p, _reduce_lower("max"))


reduce_min_p = Primitive("reduce_min")


def reduce_min(operand: ArrayLike, axes: Sequence[int]) -> Array:
    """Minimum over `axes`; NaN propagates; an empty reduction gives +inf (floats),
    iinfo.max (integers) or True (bool). Complex values compare lexicographically."""
    operand, axes = _reduce_args("reduce_min", operand, axes)
    return reduce_min_p.bind(operand, axes=axes)


reduce_min_p.def_abstract_eval(_reduce_abstract_eval("reduce_min", _any))
lowering.register_lowering(reduce_min_p, _reduce_lower("min"))


reduce_and_p = Primitive("reduce_and")


def reduce_and(operand: ArrayLike, axes: Sequence[int]) -> Array:
    """Bitwise (bool: logical) AND over `axes` of a bool or integer array."""
    operand, axes = _reduce_args("reduce_and", operand, axes)
    return reduce_and_p.bind(operand, axes=axes)


reduce_and_p.def_abstract_eval(_reduce_abstract_eval("reduce_and", _is_bool_or_int, False))
lowering.register_lowering(reduce_and_p, _reduce_lower("and"))


reduce_or_p = Primitive("reduce_or")


def reduce_or(operand: ArrayLike, axes: Sequence[int]) -> Array:
    """Bitwise (bool: logical) OR over `axes` of a bool or integer array."""
    operand, axes = _reduce_args("reduce_or", operand, axes)
    return reduce_or_p.bind(operand, axes=axes)


reduce_or_p.def_abstract_eval(_reduce_abstract_eval("reduce_or", _is_bool_or_int, False))
lowering.register_lowering(reduce_or_p, _reduce_lower("or"))


reduce_xor_p = Primitive("reduce_xor")


def reduce_xor(operand: ArrayLike, axes: Sequence[int]) -> Array:
    """Bitwise (bool: logical) XOR over `axes` of a bool or integer array."""
    operand, axes = _reduce_args("reduce_xor", operand, axes)
    return reduce_xor_p.bind(operand, axes=axes)


reduce_xor_p.def_abstract_eval(_reduce_abstract_eval("reduce_xor", _is_bool_or_int, False))
lowering.register_lowering(reduce_xor_p, _reduce_lower("xor"))

for _f in (reduce_sum, reduce_prod, reduce_max, reduce_min, reduce_and, reduce_or, reduce_xor):
    _f.__doc__ = (_f.__doc__ or "") + "\n" + _REDUCE_ARGS_DOC
del _f


# --------------------------------------------------------------------------------------
# argmax / argmin
# --------------------------------------------------------------------------------------


def _argminmax_args(name: str, operand: ArrayLike, axis: int, index_dtype: Any
                    ) -> tuple[ArrayLike, dict[str, Any]]:
    check_arraylike(f"lax.{name}", operand)
    axis = canonicalize_axis(axis, aval_of(operand).ndim, f"lax.{name}")
    index_dtype = dtypes.check_user_dtype_supported(index_dtype, f"lax.{name}")
    return operand, {"axes": (axis,), "index_dtype": index_dtype}


def _argminmax_abstract_eval(name: str) -> Callable[..., AbstractArray]:
    def rule(operand: AbstractArray, *, axes: tuple[int], index_dtype: np.dtype
             ) -> AbstractArray:
        if len(axes) != 1:
            raise ValueError(f"lax.{name} reduces exactly one axis, got axes={axes}")
        _check_axes(name, operand, axes)
        _check_dtype(name, operand, _is_ordered)
        if not dtypes.is_integer(index_dtype):
            raise TypeError(f"lax.{name}: index_dtype must be an integer dtype, got "
                            f"{np.dtype(index_dtype).name}")
        (axis,) = axes
        if operand.shape[axis] == 0:
            raise ValueError(f"lax.{name} needs a non-empty reduced axis: operand "
                             f"{operand.str_short()}, axis={axis}")
        shape = operand.shape[:axis] + operand.shape[axis + 1:]
        return AbstractArray(shape, index_dtype)

    rule.__name__ = f"{name}_abstract_eval"
    return rule


def _argminmax_lower(direction: str) -> Callable[..., Value]:
    """A variadic reduce over (value, index) pairs.

    The comparator is symmetric, so the result does not depend on the order in which
    XLA combines elements: the "better" value wins (a NaN beats any number, as in jax
    and numpy), and among equal values (or NaNs) the smaller index wins, i.e. the first
    occurrence.
    """
    identity = _max_identity if direction == "GT" else _min_identity

    def rule(ctx: RuleContext, operand: Value, *, axes: tuple[int], index_dtype: np.dtype
             ) -> Value:
        aval = ctx.avals_in[0]
        dtype = aval.dtype
        iota = ctx.op("stablehlo.iota", [], AbstractArray(aval.shape, index_dtype),
                      {"iota_dimension": lowering.i64_attr(axes[0])})
        val_s, idx_s = _scalar(dtype), _scalar(index_dtype)
        init_val = ctx.constant(identity(dtype), val_s)
        init_idx = ctx.constant(0, idx_s)

        def body(args: list[Value]) -> list[Value]:
            lv, li, rv, ri = args
            better = _compare(ctx, lv, rv, direction, dtype)
            tie = _compare(ctx, lv, rv, "EQ", dtype)
            if dtypes.is_floating(dtype):
                l_nan = _compare(ctx, lv, lv, "NE", dtype)
                r_nan = _compare(ctx, rv, rv, "NE", dtype)
                r_num = ctx.op("stablehlo.not", [r_nan], _BOOL)
                better = ctx.op("stablehlo.or", [
                    better, ctx.op("stablehlo.and", [l_nan, r_num], _BOOL)], _BOOL)
                tie = ctx.op("stablehlo.or", [
                    tie, ctx.op("stablehlo.and", [l_nan, r_nan], _BOOL)], _BOOL)
            first = ctx.op("stablehlo.and", [tie, _compare(ctx, li, ri, "LT", index_dtype)], _BOOL)
            pick_l = ctx.op("stablehlo.or", [better, first], _BOOL)
            return [_select(ctx, pick_l, lv, rv, val_s), _select(ctx, pick_l, li, ri, idx_s)]

        region = ctx.region([val_s, idx_s, val_s, idx_s], body)
        out_shape = ctx.aval_out.shape
        _, index = ctx.op("stablehlo.reduce", [operand, iota, init_val, init_idx],
                          [AbstractArray(out_shape, dtype), AbstractArray(out_shape, index_dtype)],
                          {"dimensions": lowering.i64_array(axes)}, regions=[region])
        return index

    return rule


argmax_p = Primitive("argmax")


def argmax(operand: ArrayLike, axis: int, index_dtype: Any) -> Array:
    """Index of the maximum along `axis` (the first one on ties; NaN counts as the maximum).

    Args:
        operand: a non-complex array with a non-empty `axis`.
        axis: the axis to reduce.
        index_dtype: the integer dtype of the result.

    Returns:
        The indices, of dtype `index_dtype`, with `axis` removed from the shape.

    >>> import numpy as np
    >>> argmax(np.array([1.0, np.nan, 3.0, np.nan], np.float32), 0, np.int32)
    Array(1, dtype=int32)
    """
    operand, params = _argminmax_args("argmax", operand, axis, index_dtype)
    return argmax_p.bind(operand, **params)


argmax_p.def_abstract_eval(_argminmax_abstract_eval("argmax"))
lowering.register_lowering(argmax_p, _argminmax_lower("GT"))


argmin_p = Primitive("argmin")


def argmin(operand: ArrayLike, axis: int, index_dtype: Any) -> Array:
    """Index of the minimum along `axis` (the first one on ties; NaN counts as the minimum).

    Args:
        operand: a non-complex array with a non-empty `axis`.
        axis: the axis to reduce.
        index_dtype: the integer dtype of the result.

    Returns:
        The indices, of dtype `index_dtype`, with `axis` removed from the shape.
    """
    operand, params = _argminmax_args("argmin", operand, axis, index_dtype)
    return argmin_p.bind(operand, **params)


argmin_p.def_abstract_eval(_argminmax_abstract_eval("argmin"))
lowering.register_lowering(argmin_p, _argminmax_lower("LT"))


# --------------------------------------------------------------------------------------
# Windowed reductions: shared shape logic and lowering
# --------------------------------------------------------------------------------------


def _dilate_dim(d: int, dilation: int) -> int:
    return max(0, 1 + dilation * (d - 1))


def reduce_window_shape_tuple(operand_shape: Sequence[int], window_dimensions: Sequence[int],
                              window_strides: Sequence[int],
                              padding: Sequence[tuple[int, int]],
                              base_dilation: Sequence[int] | None = None,
                              window_dilation: Sequence[int] | None = None) -> Shape:
    """The output shape of a windowed reduction (all arguments one entry per dimension)."""
    shape = tuple(operand_shape)
    if base_dilation is not None:
        shape = tuple(map(_dilate_dim, shape, base_dilation))
    window = tuple(window_dimensions)
    if window_dilation is not None:
        window = tuple(map(_dilate_dim, window, window_dilation))
    padded = [d + lo + hi for d, (lo, hi) in zip(shape, padding)]
    return tuple(max(0, (p - w) // s + 1) for p, w, s in zip(padded, window, window_strides))


def _int_tuple(fun_name: str, what: str, values: Any) -> tuple[int, ...]:
    try:
        return tuple(int(operator_index(v)) for v in values)
    except TypeError:
        raise TypeError(f"{fun_name}: {what} must be a sequence of integers, got {values!r}"
                        ) from None


def _window_params(fun_name: str, operand: ArrayLike, window_dimensions: Sequence[int],
                   window_strides: Sequence[int] | None, padding: Any,
                   base_dilation: Sequence[int] | None, window_dilation: Sequence[int] | None
                   ) -> dict[str, Any]:
    """Canonical (hashable, defaulted) window params; 'SAME'/'VALID' padding resolved."""
    window_dimensions = _int_tuple(fun_name, "window_dimensions", window_dimensions)
    ones = (1,) * len(window_dimensions)
    strides = ones if window_strides is None else _int_tuple(fun_name, "window_strides",
                                                              window_strides)
    base = ones if base_dilation is None else _int_tuple(fun_name, "base_dilation", base_dilation)
    wdil = ones if window_dilation is None else _int_tuple(fun_name, "window_dilation",
                                                            window_dilation)
    if isinstance(padding, str):
        shape = aval_of(operand).shape
        if len(shape) != len(window_dimensions) or len(strides) != len(window_dimensions):
            raise TypeError(f"{fun_name}: operand shape {shape}, window_dimensions "
                            f"{window_dimensions} and window_strides {strides} must have "
                            "the same length")
        window = tuple(map(_dilate_dim, window_dimensions, wdil))
        pads = tuple(padtype_to_pads(shape, window, strides, padding, fun_name=fun_name))
    else:
        try:
            pads = tuple((int(operator_index(lo)), int(operator_index(hi))) for lo, hi in padding)
        except (TypeError, ValueError):
            raise TypeError(f"{fun_name}: padding must be 'SAME', 'VALID' or a sequence of "
                            f"(low, high) integer pairs, got {padding!r}") from None
    return {"window_dimensions": window_dimensions, "window_strides": strides,
            "padding": pads, "base_dilation": base, "window_dilation": wdil}


def _window_shape(name: str, operand: AbstractArray, window_dimensions: tuple[int, ...],
                  window_strides: tuple[int, ...], padding: tuple[tuple[int, int], ...],
                  base_dilation: tuple[int, ...], window_dilation: tuple[int, ...]) -> Shape:
    """Validate window params against `operand`; the output shape."""
    params = {"window_dimensions": window_dimensions, "window_strides": window_strides,
              "padding": padding, "base_dilation": base_dilation,
              "window_dilation": window_dilation}
    for what, value in params.items():
        if not isinstance(value, tuple) or len(value) != operand.ndim:
            raise TypeError(f"lax.{name}: {what} must have one entry per dimension of the "
                            f"operand {operand.str_short()}, got {value!r}")
        if what != "padding" and not all(isinstance(v, int) and v >= 1 for v in value):
            raise ValueError(f"lax.{name}: {what} must be positive integers, got {value}")
    if not all(isinstance(p, tuple) and len(p) == 2 and all(isinstance(v, int) for v in p)
               for p in padding):
        raise TypeError(f"lax.{name}: padding must be (low, high) integer pairs, got {padding}")
    dilated = tuple(map(_dilate_dim, operand.shape, base_dilation))
    for d, (lo, hi) in zip(dilated, padding):
        if d + lo + hi < 0:
            raise ValueError(f"lax.{name}: padding {padding} makes a dimension of the operand "
                             f"{operand.str_short()} negative")
    return reduce_window_shape_tuple(operand.shape, window_dimensions, window_strides, padding,
                                     base_dilation, window_dilation)


def _emit_reduce_window(ctx: RuleContext, operand: Value, kind: str, *,
                        window_dimensions: Sequence[int], window_strides: Sequence[int],
                        padding: Sequence[tuple[int, int]], base_dilation: Sequence[int],
                        window_dilation: Sequence[int]) -> Value:
    init, region = _monoid_region(ctx, kind, ctx.avals_in[0].dtype)
    attrs = _window_attrs(window_dimensions=window_dimensions, window_strides=window_strides,
                          padding=padding, base_dilation=base_dilation,
                          window_dilation=window_dilation)
    return ctx.op("stablehlo.reduce_window", [operand, init], ctx.aval_out, attrs,
                  regions=[region])


def _window_attrs(*, window_dimensions: Sequence[int], window_strides: Sequence[int],
                  padding: Sequence[tuple[int, int]], base_dilation: Sequence[int],
                  window_dilation: Sequence[int]) -> dict[str, str]:
    """The attributes of a `stablehlo.reduce_window` from the canonical window params."""
    attrs = {"window_dimensions": lowering.i64_array(window_dimensions),
             "window_strides": lowering.i64_array(window_strides),
             "base_dilations": lowering.i64_array(base_dilation),
             "window_dilations": lowering.i64_array(window_dilation)}
    if window_dimensions:  # NOTE: `dense<[]>` does not parse as a 0x2 tensor; 0-d needs none
        attrs["padding"] = lowering.dense_i64(np.asarray(padding, np.int64))
    return attrs


# --------------------------------------------------------------------------------------
# Windowed reductions
# --------------------------------------------------------------------------------------


def _reduce_window_abstract_eval(name: str, accepts: Callable[[np.dtype], bool]
                                 ) -> Callable[..., AbstractArray]:
    def rule(operand: AbstractArray, **params: Any) -> AbstractArray:
        _check_dtype(name, operand, accepts)
        return operand.update(shape=_window_shape(name, operand, **params))

    rule.__name__ = f"{name}_abstract_eval"
    return rule


def _reduce_window_lower(kind: str) -> Callable[..., Value]:
    def rule(ctx: RuleContext, operand: Value, **params: Any) -> Value:
        return _emit_reduce_window(ctx, operand, kind, **params)

    rule.__name__ = f"reduce_window_{kind}_lower"
    return rule


reduce_window_sum_p = Primitive("reduce_window_sum")


def _reduce_window_sum(operand: ArrayLike, window_dimensions: Sequence[int],
                       window_strides: Sequence[int], padding: Sequence[tuple[int, int]],
                       base_dilation: Sequence[int] | None = None,
                       window_dilation: Sequence[int] | None = None) -> Array:
    """Sum over each window (padding and base-dilation holes count as 0)."""
    check_arraylike("lax.reduce_window", operand)
    params = _window_params("lax.reduce_window", operand, window_dimensions, window_strides,
                            padding, base_dilation, window_dilation)
    return reduce_window_sum_p.bind(operand, **params)


reduce_window_sum_p.def_abstract_eval(_reduce_window_abstract_eval("reduce_window_sum",
                                                                   _is_number))
lowering.register_lowering(reduce_window_sum_p, _reduce_window_lower("sum"))


reduce_window_max_p = Primitive("reduce_window_max")


def _reduce_window_max(operand: ArrayLike, window_dimensions: Sequence[int],
                       window_strides: Sequence[int], padding: Sequence[tuple[int, int]],
                       base_dilation: Sequence[int] | None = None,
                       window_dilation: Sequence[int] | None = None) -> Array:
    """Maximum over each window (padding and base-dilation holes count as -inf)."""
    check_arraylike("lax.reduce_window", operand)
    params = _window_params("lax.reduce_window", operand, window_dimensions, window_strides,
                            padding, base_dilation, window_dilation)
    return reduce_window_max_p.bind(operand, **params)


reduce_window_max_p.def_abstract_eval(_reduce_window_abstract_eval("reduce_window_max", _any))
lowering.register_lowering(reduce_window_max_p, _reduce_window_lower("max"))


reduce_window_min_p = Primitive("reduce_window_min")


def _reduce_window_min(operand: ArrayLike, window_dimensions: Sequence[int],
                       window_strides: Sequence[int], padding: Sequence[tuple[int, int]],
                       base_dilation: Sequence[int] | None = None,
                       window_dilation: Sequence[int] | None = None) -> Array:
    """Minimum over each window (padding and base-dilation holes count as +inf)."""
    check_arraylike("lax.reduce_window", operand)
    params = _window_params("lax.reduce_window", operand, window_dimensions, window_strides,
                            padding, base_dilation, window_dilation)
    return reduce_window_min_p.bind(operand, **params)


reduce_window_min_p.def_abstract_eval(_reduce_window_abstract_eval("reduce_window_min", _any))
lowering.register_lowering(reduce_window_min_p, _reduce_window_lower("min"))


# NOTE: cumulative reductions and sorting live in sibling modules (this one would pass
# ~1100 lines with them) and are part of this module's namespace; they use the helpers
# above, so they are imported here.
from lamina.lax.cumulative import (  # noqa: E402,F401
    cumlogsumexp, cumlogsumexp_p, cummax, cummax_p, cummin, cummin_p, cumprod, cumprod_p,
    cumsum, cumsum_p)
from lamina.lax.sorting import (  # noqa: E402,F401
    sort, sort_key_val, sort_p, top_k, top_k_p)

# NOTE: `reduce` and `reduce_window` with a general computation (and the primitives
# they bind) live in a sibling module, which uses the monoid primitives above.
from lamina.lax.generic_reductions import reduce, reduce_window  # noqa: E402,F401

# NOTE: the JVP, transpose and batching rules of this family live in a sibling module
# (this file would pass ~1300 lines); importing it registers them.
from lamina.lax import reductions_rules as _rules  # noqa: E402,F401
