"""Dtype conversions: `convert_element_type`, `bitcast_convert_type` and
`reduce_precision`, as in jax.lax.

Part of `lamina.lax.elementwise`'s namespace (it imports these names back); their JVP,
transpose and batching rules are in `elementwise_rules.py` with the rest of the family.
"""
from __future__ import annotations

import builtins
import warnings

import numpy as np

from lamina import dtypes
from lamina.backend.array import Array
from lamina.interpreters import lowering
from lamina.interpreters.lowering import RuleContext, Value
from lamina.ir import AbstractArray, Primitive
from lamina.lax._util import (ArrayLike, DTypeLike, check_arraylike, naryop_abstract_eval,
                              operator_index)
from lamina.lax.elementwise import _compare, _float, _full, _unary

__all__ = ["convert_element_type", "bitcast_convert_type", "reduce_precision"]

convert_element_type_p = Primitive("convert_element_type")


def convert_element_type(operand: ArrayLike, new_dtype: DTypeLike, *,
                         weak_type: bool = False) -> Array:
    """Elementwise cast to `new_dtype`, as XLA converts.

    Float -> integer truncates toward zero and saturates at the integer range (NaN
    gives 0); anything -> bool is `x != 0`; complex -> real keeps the real part (with a
    `ComplexWarning`, as numpy and jax); bool -> number gives 0 or 1.

    Args:
        operand: an array or scalar.
        new_dtype: the target dtype (64-bit dtypes become 32-bit unless x64 is on).
        weak_type: whether the result is weakly typed (jax.lax's internal parameter;
            lamina.numpy uses it to keep the weak type of a promoted Python scalar).

    Returns:
        An array of operand's shape and `new_dtype`. An Array that already has the
        dtype and weak type is returned as is.

    >>> convert_element_type(np.array([-1.7, 2.9], np.float32), np.int32)
    Array([-1,  2], dtype=int32)
    """
    new_dtype = dtypes.check_user_dtype_supported(new_dtype, "lax.convert_element_type")
    weak_type = bool(weak_type)
    check_arraylike("lax.convert_element_type", operand)
    old = dtypes.dtype_of(operand)
    if type(operand) is int:
        # NOTE: a Python int may not fit the default int dtype (2**40 -> float32 is
        # fine); convert it on the host, exactly, as jax does.
        operand = np.asarray(operand).astype(new_dtype)
    elif type(operand) is Array and operand.dtype == new_dtype and \
            operand.weak_type == weak_type:
        return operand
    if dtypes.is_complex(old) and not dtypes.is_complex(new_dtype):
        warnings.warn("Casting complex values to real discards the imaginary part",
                      np.exceptions.ComplexWarning, stacklevel=2)
    return convert_element_type_p.bind(operand, new_dtype=new_dtype, weak_type=weak_type)


def _convert_element_type_abstract_eval(x: AbstractArray, *, new_dtype: np.dtype,
                                        weak_type: bool) -> AbstractArray:
    return AbstractArray(x.shape, new_dtype, weak_type)


def _convert_element_type_lower(ctx: RuleContext, x: Value, *, new_dtype: np.dtype,
                                weak_type: bool) -> Value:
    aval = ctx.avals_in[0]
    if dtypes.is_complex(aval.dtype) and not dtypes.is_complex(new_dtype):
        aval = aval.update(dtype=dtypes.real_dtype(aval.dtype))
        x = ctx.op("stablehlo.real", [x], aval)
    if aval.dtype == new_dtype:
        return x
    if dtypes.is_bool(new_dtype):
        # NOTE: `x != 0` (numpy's and jax's meaning) is spelled as a comparison, as jax
        # does: a convert to i1 has truncated to the low bit on some XLA backends.
        return _compare(ctx, "NE", x, _full(ctx, 0, aval), aval)
    return ctx.op("stablehlo.convert", [x], ctx.aval_out)


convert_element_type_p.def_abstract_eval(_convert_element_type_abstract_eval)
lowering.register_lowering(convert_element_type_p, _convert_element_type_lower)

bitcast_convert_type_p = Primitive("bitcast_convert_type")


def bitcast_convert_type(operand: ArrayLike, new_dtype: DTypeLike) -> Array:
    """Reinterprets the bits of each element as `new_dtype`.

    Equal widths keep the shape. Casting to a narrower dtype adds a trailing dimension
    of size `old_bits // new_bits`; casting to a wider dtype removes a trailing dimension,
    which must have size `new_bits // old_bits`.

    Args:
        operand: an array or scalar; bool and complex only to their own dtype.
        new_dtype: the target dtype.

    Returns:
        The reinterpreted array (never weakly typed).

    >>> bitcast_convert_type(np.float32(1.0), np.uint32)
    Array(1065353216, dtype=uint32)
    """
    new_dtype = dtypes.check_user_dtype_supported(new_dtype, "lax.bitcast_convert_type")
    return _unary(bitcast_convert_type_p, operand, new_dtype=new_dtype)


def _bitcast_convert_type_abstract_eval(x: AbstractArray, *, new_dtype: np.dtype
                                        ) -> AbstractArray:
    old = x.dtype
    if old != new_dtype and builtins.any(dtypes.is_bool(d) or dtypes.is_complex(d)
                                         for d in (old, new_dtype)):
        raise TypeError(f"lax.bitcast_convert_type does not convert bool or complex values "
                        f"to another dtype, got {x.str_short()} -> {new_dtype.name}")
    old_bits, new_bits = old.itemsize * 8, new_dtype.itemsize * 8
    if old_bits == new_bits:
        shape = x.shape
    elif old_bits > new_bits:
        shape = (*x.shape, old_bits // new_bits)
    else:
        if not x.shape or x.shape[-1] * old_bits != new_bits:
            raise ValueError(f"lax.bitcast_convert_type: converting {x.str_short()} to the "
                             f"wider {new_dtype.name} needs a last dimension of size "
                             f"{new_bits // old_bits}, got shape {x.shape}")
        shape = x.shape[:-1]
    return AbstractArray(shape, new_dtype)


def _bitcast_convert_type_lower(ctx: RuleContext, x: Value, *, new_dtype: np.dtype) -> Value:
    return ctx.op("stablehlo.bitcast_convert", [x], ctx.aval_out)


bitcast_convert_type_p.def_abstract_eval(_bitcast_convert_type_abstract_eval)
lowering.register_lowering(bitcast_convert_type_p, _bitcast_convert_type_lower)

reduce_precision_p = Primitive("reduce_precision")


def reduce_precision(operand: ArrayLike, exponent_bits: int, mantissa_bits: int) -> Array:
    """Rounds each element to a float format with fewer exponent/mantissa bits (to
    nearest even; overflow gives inf), keeping the dtype.

    Args:
        operand: a floating-point array or scalar.
        exponent_bits: exponent bits of the target format, >= 1 (5 for float16).
        mantissa_bits: explicit mantissa bits of the target format, >= 0 (10 for
            float16, 7 for bfloat16).

    Returns:
        The rounded values, with operand's shape and dtype.
    """
    try:
        exponent_bits = operator_index(exponent_bits)
        mantissa_bits = operator_index(mantissa_bits)
    except TypeError:
        raise TypeError(f"lax.reduce_precision: exponent_bits and mantissa_bits must be "
                        f"static Python ints, got {exponent_bits!r}, {mantissa_bits!r}"
                        ) from None
    if exponent_bits < 1:
        raise ValueError(f"lax.reduce_precision: exponent_bits must be positive, got "
                         f"{exponent_bits}")
    if mantissa_bits < 0:
        raise ValueError(f"lax.reduce_precision: mantissa_bits must be non-negative, got "
                         f"{mantissa_bits}")
    return _unary(reduce_precision_p, operand, exponent_bits=exponent_bits,
                  mantissa_bits=mantissa_bits)


def _reduce_precision_lower(ctx: RuleContext, x: Value, *, exponent_bits: int,
                            mantissa_bits: int) -> Value:
    return ctx.op("stablehlo.reduce_precision", [x], ctx.aval_out,
                  {"exponent_bits": lowering.i32_attr(exponent_bits),
                   "mantissa_bits": lowering.i32_attr(mantissa_bits)})


reduce_precision_p.def_abstract_eval(naryop_abstract_eval("reduce_precision", _float))
lowering.register_lowering(reduce_precision_p, _reduce_precision_lower)
