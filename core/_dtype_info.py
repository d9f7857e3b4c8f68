"""Functions of `lamina.dtypes` that describe a dtype, taken literally as `numpy.dtype`
would: classification (`issubdtype`, the `is_*` predicates) and descriptions (`finfo`,
`iinfo`, `to_inexact_dtype`, `real_dtype`, `short_name`, `scalar_type_of`).

Re-exported by `lamina.dtypes`; use them from there.
"""
from __future__ import annotations

import functools
from typing import Any

import ml_dtypes
import numpy as np

from lamina.dtypes import (
    _ML_FLOAT_TYPES, _ML_SIGNED_TYPES, _ML_UNSIGNED_TYPES, DTypeLike, _as_np_dtype,
    _category, bfloat16, bool_, complex64, complex128, float0, float16, float32, float64,
    int8, int16, int32, int64, uint8, uint16, uint32, uint64,
)


# -------------------------------------------------------------------- classification


def _scalar_type_for_issubdtype(x: Any) -> type:
    if isinstance(x, type) and issubclass(x, np.generic):
        return x
    return _as_np_dtype(x).type


@functools.lru_cache(maxsize=1024)
def _issubdtype_cached(a: type, b: type) -> bool:
    # NOTE: ml_dtypes' scalar types subclass np.generic directly, so numpy's own
    # hierarchy does not know that bfloat16 is a floating type.
    if a in _ML_FLOAT_TYPES:
        return b in (a, np.floating, np.inexact, np.number, np.generic)
    if a in _ML_SIGNED_TYPES:
        return b in (a, np.signedinteger, np.integer, np.number, np.generic)
    if a in _ML_UNSIGNED_TYPES:
        return b in (a, np.unsignedinteger, np.integer, np.number, np.generic)
    return bool(np.issubdtype(a, b))


def issubdtype(a: DTypeLike, b: DTypeLike) -> bool:
    """Whether dtype `a` is `b` or lies below it in numpy's type hierarchy.

    Like `jax.numpy.issubdtype`: bfloat16 (and ml_dtypes' other floats) count as
    `np.floating`, `np.inexact` and `np.number`.

    Args:
        a: a dtype-like.
        b: a dtype-like or an abstract numpy class (`np.generic`, `np.number`,
            `np.inexact`, `np.floating`, `np.complexfloating`, `np.integer`,
            `np.signedinteger`, `np.unsignedinteger`, `np.bool_`).

    Returns:
        True if `a` is a sub-dtype of `b`.

    >>> issubdtype(bfloat16, np.floating), issubdtype(np.int8, np.unsignedinteger)
    (True, False)
    """
    return _issubdtype_cached(
        _scalar_type_for_issubdtype(a), _scalar_type_for_issubdtype(b)
    )


def is_bool(dtype: DTypeLike) -> bool:
    """Whether `dtype` is bool.

    >>> is_bool(bool_), is_bool(int8)
    (True, False)
    """
    return _category(_as_np_dtype(dtype)) == "bool"


def is_integer(dtype: DTypeLike) -> bool:
    """Whether `dtype` is a signed or unsigned integer (bool is not).

    >>> is_integer(uint8), is_integer(bool_)
    (True, False)
    """
    return _category(_as_np_dtype(dtype)) in ("signed", "unsigned")


def is_signed_integer(dtype: DTypeLike) -> bool:
    """Whether `dtype` is a signed integer.

    >>> is_signed_integer(int32), is_signed_integer(uint32)
    (True, False)
    """
    return _category(_as_np_dtype(dtype)) == "signed"


def is_unsigned_integer(dtype: DTypeLike) -> bool:
    """Whether `dtype` is an unsigned integer.

    >>> is_unsigned_integer(uint32), is_unsigned_integer(int32)
    (True, False)
    """
    return _category(_as_np_dtype(dtype)) == "unsigned"


def is_floating(dtype: DTypeLike) -> bool:
    """Whether `dtype` is a real floating type, bfloat16 included.

    >>> is_floating(bfloat16), is_floating(complex64)
    (True, False)
    """
    return _category(_as_np_dtype(dtype)) == "floating"


def is_complex(dtype: DTypeLike) -> bool:
    """Whether `dtype` is complex.

    >>> is_complex(complex64), is_complex(float32)
    (True, False)
    """
    return _category(_as_np_dtype(dtype)) == "complex"


def is_inexact(dtype: DTypeLike) -> bool:
    """Whether `dtype` is floating or complex.

    >>> is_inexact(float16), is_inexact(int16)
    (True, False)
    """
    return _category(_as_np_dtype(dtype)) in ("floating", "complex")


# -------------------------------------------------------------------- descriptions


def finfo(dtype: DTypeLike) -> Any:
    """Machine limits of a floating or complex dtype (of its real part for complex).

    Args:
        dtype: any dtype-like; taken literally, so `finfo(float)` is float64's.

    Returns:
        `ml_dtypes.finfo` for ml_dtypes' floats such as bfloat16, else `numpy.finfo`.

    Raises:
        ValueError: if `dtype` is not floating or complex.

    >>> float(finfo(bfloat16).eps)
    0.0078125
    """
    d = _as_np_dtype(dtype)
    cat = _category(d)
    if cat not in ("floating", "complex"):
        raise ValueError(f"finfo: dtype {d} is not floating or complex; use iinfo")
    if d.type in _ML_FLOAT_TYPES:
        return ml_dtypes.finfo(d)
    return np.finfo(d)


def iinfo(dtype: DTypeLike) -> Any:
    """Machine limits of an integer dtype.

    Args:
        dtype: any dtype-like; taken literally, so `iinfo(int)` is int64's.

    Returns:
        `numpy.iinfo` (`ml_dtypes.iinfo` for ml_dtypes' narrow integers).

    Raises:
        ValueError: if `dtype` is not an integer dtype (bool is not).

    >>> int(iinfo(int8).min), int(iinfo(uint16).max)
    (-128, 65535)
    """
    d = _as_np_dtype(dtype)
    if _category(d) not in ("signed", "unsigned"):
        raise ValueError(f"iinfo: dtype {d} is not an integer dtype; use finfo")
    if d.type in _ML_SIGNED_TYPES or d.type in _ML_UNSIGNED_TYPES:
        return ml_dtypes.iinfo(d)
    return np.iinfo(d)


def to_inexact_dtype(dtype: DTypeLike) -> np.dtype:
    """The floating dtype that ops such as `sqrt` and `mean` use for `dtype`.

    As in JAX, bool and integers of up to 32 bits become float32 (even with x64
    enabled) and 64-bit integers become float64; inexact dtypes are unchanged. A
    canonical input gives a canonical output.

    >>> to_inexact_dtype(int8), to_inexact_dtype(int64), to_inexact_dtype(bfloat16)
    (dtype('float32'), dtype('float64'), dtype(bfloat16))
    """
    d = _as_np_dtype(dtype)
    if _category(d) in ("bool", "signed", "unsigned"):
        return float64 if d.itemsize == 8 else float32
    return d


def real_dtype(dtype: DTypeLike) -> np.dtype:
    """The dtype of the real part: complex64 -> float32, complex128 -> float64.

    Other dtypes are returned unchanged.

    >>> real_dtype(complex64), real_dtype(int8)
    (dtype('float32'), dtype('int8'))
    """
    d = _as_np_dtype(dtype)
    if d == complex64:
        return float32
    if d == complex128:
        return float64
    return d


_SHORT_NAMES: dict[np.dtype, str] = {
    bool_: "bool",
    float0: "float0",
    int8: "i8",
    int16: "i16",
    int32: "i32",
    int64: "i64",
    uint8: "u8",
    uint16: "u16",
    uint32: "u32",
    uint64: "u64",
    float16: "f16",
    bfloat16: "bf16",
    float32: "f32",
    float64: "f64",
    complex64: "c64",
    complex128: "c128",
}


def short_name(dtype: DTypeLike) -> str:
    """The abbreviation used in type strings such as `f32[3,4]`.

    Dtypes lamina does not support fall back to numpy's name.

    >>> short_name(float32), short_name(bfloat16), short_name(uint8), short_name(bool_)
    ('f32', 'bf16', 'u8', 'bool')
    """
    d = _as_np_dtype(dtype)
    return _SHORT_NAMES.get(d, d.name)


def scalar_type_of(dtype: DTypeLike) -> type:
    """The numpy (or ml_dtypes) scalar type of `dtype`.

    >>> scalar_type_of(float32), scalar_type_of("bfloat16")
    (<class 'numpy.float32'>, <class 'ml_dtypes.bfloat16'>)
    """
    return _as_np_dtype(dtype).type
