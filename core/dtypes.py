"""Dtypes, canonicalisation and JAX's type-promotion rules.

lamina supports fifteen array dtypes (`SUPPORTED_DTYPES`). Unless x64 is enabled
(`LAMINA_ENABLE_X64=1` or `lamina.config.update("enable_x64", True)`), the 64-bit ones
are *canonicalised* to their 32-bit counterparts, as in JAX.

Promotion follows JAX (`jax.numpy.promote_types` / `result_type`), not NumPy: the
result of mixing two dtypes is their least upper bound on a small lattice whose nodes
are the dtypes plus three *weak* nodes, `i*`, `f*` and `c*`, standing for Python
`int`, `float` and `complex`. A Python scalar, or an array marked `weak_type`, takes
part as its weak node, so `2.0 * bf16_array` stays bfloat16 and `1 + int8_array` stays
int8. Mixed signed/unsigned integers of the widest width, which have no integer upper
bound, go to floating point.

Two kinds of function live here, with different handling of their argument:

* Functions that choose the dtype of a computation (`canonicalize_dtype`,
  `promote_types`, `result_type`, `dtype_of`, `check_user_dtype_supported`) read the
  Python types `int`, `float` and `complex` as the current default dtypes and return
  canonical dtypes.
* Functions that describe a dtype (`issubdtype`, the `is_*` predicates, `finfo`,
  `iinfo`, `short_name`, `scalar_type_of`, `to_inexact_dtype`, `real_dtype`) take it
  literally, as `numpy.dtype` would: `finfo(float)` describes float64, as in JAX.

This module depends on numpy, ml_dtypes and `lamina.config` only, so every other
layer may import it. It is the namespace of the dtype family: it holds the constants,
the defaults, canonicalisation and the value inspectors, and re-exports promotion
(`lamina._dtype_promotion`) and the describing functions (`lamina._dtype_info`).
"""

from __future__ import annotations

import functools
from typing import Any, Protocol

import ml_dtypes
import numpy as np
from lamina.config import config

# Dtype constants, as np.dtype objects (not scalar types) so that `==`, hashing and
# `.itemsize` behave the same for all fifteen.
bool_ = np.dtype(np.bool_)
int8 = np.dtype(np.int8)
int16 = np.dtype(np.int16)
int32 = np.dtype(np.int32)
int64 = np.dtype(np.int64)
uint8 = np.dtype(np.uint8)
uint16 = np.dtype(np.uint16)
uint32 = np.dtype(np.uint32)
uint64 = np.dtype(np.uint64)
float16 = np.dtype(np.float16)
bfloat16 = np.dtype(ml_dtypes.bfloat16)
float32 = np.dtype(np.float32)
float64 = np.dtype(np.float64)
complex64 = np.dtype(np.complex64)
complex128 = np.dtype(np.complex128)
# The tangent dtype of integer and boolean values: zero bytes per element (jax's float0).
float0 = np.dtype([("float0", np.void, 0)])

# In this order in error messages.
_SUPPORTED_ORDER: tuple[np.dtype, ...] = (
    bool_,
    int8,
    int16,
    int32,
    int64,
    uint8,
    uint16,
    uint32,
    uint64,
    float16,
    bfloat16,
    float32,
    float64,
    complex64,
    complex128,
)
SUPPORTED_DTYPES: frozenset[np.dtype] = frozenset(_SUPPORTED_ORDER)
_SUPPORTED_NAMES = ", ".join(d.name for d in _SUPPORTED_ORDER)
_BY_NAME: dict[str, np.dtype] = {d.name: d for d in _SUPPORTED_ORDER}
# NOTE: np.dtype.name builds a new string on every access; promotion looks names up
# here instead because it runs for every binary operation.
_NAME_OF: dict[np.dtype, str] = {d: d.name for d in _SUPPORTED_ORDER}


class SupportsDType(Protocol):
    """Anything with a `.dtype` attribute: numpy and lamina arrays, tracers, avals."""

    @property
    def dtype(self) -> np.dtype: ...


DTypeLike = str | type | np.dtype | SupportsDType

_TO_32BIT: dict[np.dtype, np.dtype] = {
    int64: int32,
    uint64: uint32,
    float64: float32,
    complex128: complex64,
}

# ml_dtypes' scalar types are not subclasses of np.floating / np.integer, so numpy's
# own issubdtype gets them wrong; they are classified by these sets instead. Only
# bfloat16 is a lamina array dtype, but describing the others correctly costs nothing.
_ML_FLOAT_TYPES: frozenset[type] = frozenset(
    getattr(ml_dtypes, name)
    for name in (
        "bfloat16",
        "float8_e3m4",
        "float8_e4m3",
        "float8_e4m3b11fnuz",
        "float8_e4m3fn",
        "float8_e4m3fnuz",
        "float8_e5m2",
        "float8_e5m2fnuz",
        "float8_e8m0fnu",
        "float6_e2m3fn",
        "float6_e3m2fn",
        "float4_e2m1fn",
    )
    if hasattr(ml_dtypes, name)
)
_ML_SIGNED_TYPES: frozenset[type] = frozenset(
    getattr(ml_dtypes, n) for n in ("int1", "int2", "int4") if hasattr(ml_dtypes, n)
)
_ML_UNSIGNED_TYPES: frozenset[type] = frozenset(
    getattr(ml_dtypes, n) for n in ("uint1", "uint2", "uint4") if hasattr(ml_dtypes, n)
)

_PYTHON_SCALAR_TYPES: tuple[type, ...] = (bool, int, float, complex)


# --------------------------------------------------------------------------- defaults


def x64_enabled() -> bool:
    """Whether 64-bit dtypes are enabled (read at call time, never cached).

    Returns:
        The current value of `lamina.config.enable_x64`.

    >>> from lamina.config import config
    >>> with config.override(enable_x64=True):
    ...     x64_enabled()
    True
    """
    return bool(config.enable_x64)


def default_int_dtype() -> np.dtype:
    """The dtype of a Python `int`: int64 with x64 enabled, else int32.

    >>> default_int_dtype()
    dtype('int32')
    """
    return int64 if config.enable_x64 else int32


def default_uint_dtype() -> np.dtype:
    """The default unsigned dtype: uint64 with x64 enabled, else uint32.

    >>> default_uint_dtype()
    dtype('uint32')
    """
    return uint64 if config.enable_x64 else uint32


def default_float_dtype() -> np.dtype:
    """The dtype of a Python `float`: float64 with x64 enabled, else float32.

    >>> default_float_dtype()
    dtype('float32')
    """
    return float64 if config.enable_x64 else float32


def default_complex_dtype() -> np.dtype:
    """The dtype of a Python `complex`: complex128 with x64 enabled, else complex64.

    >>> default_complex_dtype()
    dtype('complex64')
    """
    return complex128 if config.enable_x64 else complex64


def _python_type_default(typ: type) -> np.dtype:
    if typ is bool:
        return bool_
    if typ is int:
        return default_int_dtype()
    if typ is float:
        return default_float_dtype()
    return default_complex_dtype()


# ----------------------------------------------------------------- canonicalisation


def _describe(value: Any) -> str:
    """How an unsupported dtype is named in messages: `object`, `float128`, `<U5`."""
    if isinstance(value, np.dtype):
        return str(value)
    if isinstance(value, type):
        return value.__name__
    return repr(value)


def _unsupported_message(value: Any) -> str:
    name = _describe(value)
    return f"dtype {name} is not supported; supported dtypes: {_SUPPORTED_NAMES}"


def _as_np_dtype(x: Any) -> np.dtype:
    """`np.dtype(x)`, also for objects carrying a `.dtype`; no defaults, no checks."""
    if isinstance(x, np.dtype):
        return x
    if x is None:
        # NOTE: np.dtype(None) is float64, which would silently hide a missing dtype.
        raise TypeError("expected a dtype, got None")
    if not isinstance(x, type):
        attr = getattr(x, "dtype", None)
        if isinstance(attr, np.dtype):
            return attr
    return np.dtype(x)


def _canonicalize_uncached(dtype: Any, x64: bool) -> np.dtype:
    if isinstance(dtype, type) and dtype in _PYTHON_SCALAR_TYPES:
        return _python_type_default(dtype)
    try:
        d = _as_np_dtype(dtype)
    except (TypeError, ValueError):
        raise TypeError(_unsupported_message(dtype)) from None
    if d not in SUPPORTED_DTYPES:
        raise TypeError(_unsupported_message(dtype))
    return d if x64 else _TO_32BIT.get(d, d)


# NOTE: the key includes type(dtype) because np.dtype compares equal to strings and
# types ('float32', np.float32, float); keeping them apart rules out a wrong hit.
_canonical_cache: dict[tuple[type, Any, bool], np.dtype] = {}


def canonicalize_dtype(dtype: DTypeLike) -> np.dtype:
    """The dtype lamina computes in for `dtype`, given the x64 flag.

    Python `bool`, `int`, `float` and `complex` map to the default dtypes; with x64
    disabled int64, uint64, float64 and complex128 map to their 32-bit counterparts.

    Args:
        dtype: an `np.dtype`, a numpy or ml_dtypes scalar type, a Python scalar type,
            a dtype name such as `"bfloat16"`, or an object with a `.dtype`.

    Returns:
        A member of `SUPPORTED_DTYPES`.

    Raises:
        TypeError: if `dtype` is not one of lamina's dtypes (object, str, float128,
            datetime64, ...) or is not a dtype at all.

    >>> canonicalize_dtype("float64")  # x64 disabled
    dtype('float32')
    >>> canonicalize_dtype(int)
    dtype('int32')
    """
    x64 = bool(config.enable_x64)
    if not isinstance(dtype, (np.dtype, type, str)):
        attr = getattr(dtype, "dtype", None)
        if not isinstance(attr, np.dtype):
            return _canonicalize_uncached(dtype, x64)
        dtype = attr
    key = (type(dtype), dtype, x64)
    out = _canonical_cache.get(key)
    if out is None:
        out = _canonical_cache[key] = _canonicalize_uncached(dtype, x64)
    return out


def check_user_dtype_supported(dtype: DTypeLike, fun_name: str) -> np.dtype:
    """Validates a `dtype=` argument given to public function `fun_name`.

    Callers handle `dtype=None` (meaning "the default") themselves.

    Args:
        dtype: the user's dtype argument.
        fun_name: the public name to blame, e.g. `"lamina.numpy.zeros"`.

    Returns:
        `canonicalize_dtype(dtype)`.

    Raises:
        TypeError: naming `fun_name`, the dtype and the supported dtypes.

    >>> check_user_dtype_supported("bfloat16", "lamina.numpy.zeros")
    dtype(bfloat16)
    >>> check_user_dtype_supported(object, "lamina.numpy.zeros")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    TypeError: lamina.numpy.zeros: dtype object is not supported; supported dtypes: ...
    """
    try:
        return canonicalize_dtype(dtype)
    except TypeError:
        raise TypeError(f"{fun_name}: {_unsupported_message(dtype)}") from None


# ------------------------------------------------------------------ values and weak


def is_python_scalar(x: Any) -> bool:
    """Whether `x` is a Python `bool`, `int`, `float` or `complex` object.

    numpy scalars are not, even `np.float64`, which subclasses `float`.

    >>> is_python_scalar(2.0), is_python_scalar(np.float32(2.0))
    (True, False)
    """
    return type(x) in _PYTHON_SCALAR_TYPES


def is_weakly_typed(x: Any) -> bool:
    """Whether `x` promotes as a weak type: it adapts to the other operand's width.

    Python `int`, `float` and `complex` objects are weak, and so is anything whose
    `weak_type` (or `aval.weak_type`) is True. A Python `bool` is not: bool has a
    single width, so weakness would change nothing.

    >>> is_weakly_typed(1), is_weakly_typed(True), is_weakly_typed(np.int8(1))
    (True, False, False)
    """
    if type(x) in (int, float, complex):
        return True
    weak = getattr(x, "weak_type", None)
    if weak is None:
        weak = getattr(getattr(x, "aval", None), "weak_type", False)
    return bool(weak)


def dtype_of(x: Any, canonicalize: bool = True) -> np.dtype:
    """The dtype of a value.

    Args:
        x: a Python scalar (its default dtype), a numpy array or scalar, anything
            with a `.dtype` (lamina arrays, tracers, avals), or a dtype-like.
        canonicalize: map 64-bit dtypes to 32-bit ones when x64 is disabled.

    Returns:
        A supported dtype.

    Raises:
        TypeError: if `x` has no dtype or one lamina does not support.

    >>> dtype_of(3), dtype_of(np.zeros(2, np.float64))
    (dtype('int32'), dtype('float32'))
    >>> dtype_of(np.zeros(2, np.float64), canonicalize=False)
    dtype('float64')
    """
    typ = type(x)
    if typ in _PYTHON_SCALAR_TYPES:
        return _python_type_default(typ)
    if isinstance(x, (np.dtype, type, str)):
        d = x
    else:
        d = getattr(x, "dtype", None)
        if not isinstance(d, np.dtype):
            # NOTE: lists are not converted (as in JAX): lamina.numpy.asarray decides
            # how a nested sequence is typed, not this module.
            raise TypeError(f"dtype_of: {x!r} has no dtype")
    if canonicalize:
        return canonicalize_dtype(d)
    if isinstance(d, type) and d in _PYTHON_SCALAR_TYPES:
        return _python_type_default(d)
    out = _as_np_dtype(d)
    if out not in SUPPORTED_DTYPES:
        raise TypeError(_unsupported_message(out))
    return out


# ----------------------------------------------------------------------- categories


@functools.cache
def _category(d: np.dtype) -> str:
    """'bool', 'signed', 'unsigned', 'floating', 'complex' or 'other'."""
    t = d.type
    if t is np.bool_:
        return "bool"
    if issubclass(t, np.signedinteger) or t in _ML_SIGNED_TYPES:
        return "signed"
    if issubclass(t, np.unsignedinteger) or t in _ML_UNSIGNED_TYPES:
        return "unsigned"
    if issubclass(t, np.floating) or t in _ML_FLOAT_TYPES:
        return "floating"
    if issubclass(t, np.complexfloating):
        return "complex"
    return "other"


# NOTE: promotion and the describing functions live in sibling modules (this one would be
# too long); re-exported here, the family's namespace. Imported last: they use the
# constants and canonicalisation above.
from lamina._dtype_promotion import promote_types, result_type  # noqa: E402,F401
from lamina._dtype_info import (  # noqa: E402,F401
    finfo, iinfo, is_bool, is_complex, is_floating, is_inexact, is_integer,
    is_signed_integer, is_unsigned_integer, issubdtype, real_dtype, scalar_type_of,
    short_name, to_inexact_dtype,
)
