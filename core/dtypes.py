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
layer may import it.
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


# ------------------------------------------------------------------------ promotion

_WEAK_NODES = ("i*", "f*", "c*")


def _lattice(x64: bool) -> dict[str, tuple[str, ...]]:
    """Each node's immediate successors: `a -> b` means `a` promotes to `b`.

    Nodes are dtype names plus the weak nodes. A weak node sits below every dtype of
    its kind, so it yields to them (`i* -> int8`); `u64` and `i64` have no common
    integer upper bound, so both lead to `f*`, which yields the default float.
    """
    return {
        "bool": ("i*",),
        "i*": ("uint8", "int8"),
        "uint8": ("uint16", "int16"),
        "uint16": ("uint32", "int32"),
        # NOTE: with x64 disabled, u32 + i32 gives i32 rather than i64 (JAX's
        # choice), so that no promotion of 32-bit inputs needs a 64-bit type.
        "uint32": ("uint64", "int64") if x64 else ("uint64", "int32"),
        "uint64": ("f*",),
        "int8": ("int16",),
        "int16": ("int32",),
        "int32": ("int64",),
        "int64": ("f*",),
        "f*": ("bfloat16", "float16", "c*"),
        "bfloat16": ("float32",),
        "float16": ("float32",),
        "float32": ("float64", "complex64"),
        "float64": ("complex128",),
        "c*": ("complex64",),
        "complex64": ("complex128",),
        "complex128": (),
    }


@functools.cache
def _upper_bounds(x64: bool) -> dict[str, frozenset[str]]:
    """Every node's set of upper bounds (itself included): the transitive closure."""
    edges = _lattice(x64)
    bounds: dict[str, frozenset[str]] = {}

    def visit(node: str) -> frozenset[str]:
        if node not in bounds:
            above = {node}
            for succ in edges[node]:
                above |= visit(succ)
            bounds[node] = frozenset(above)
        return bounds[node]

    for node in edges:
        visit(node)
    return bounds


@functools.lru_cache(maxsize=4096)
def _least_upper_bound(nodes: frozenset[str], x64: bool) -> str:
    ub = _upper_bounds(x64)
    common = frozenset.intersection(*(ub[n] for n in nodes))
    least = [c for c in common if common <= ub[c]]
    assert len(least) == 1, f"promotion lattice has no unique bound for {set(nodes)}"
    return least[0]


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


_WEAK_NODE_OF_CATEGORY = {
    "signed": "i*",
    "unsigned": "i*",
    "floating": "f*",
    "complex": "c*",
}


def _node(d: np.dtype, weak: bool) -> str:
    if weak and d != bool_:
        return _WEAK_NODE_OF_CATEGORY[_category(d)]
    return _NAME_OF[d]


def _default_of_category(d: np.dtype) -> np.dtype:
    cat = _category(d)
    if cat == "signed":
        return default_int_dtype()
    if cat == "unsigned":
        return default_uint_dtype()
    if cat == "floating":
        return default_float_dtype()
    if cat == "complex":
        return default_complex_dtype()
    return d


def _dtype_of_node(node: str) -> np.dtype:
    if node == "i*":
        return default_int_dtype()
    if node == "f*":
        return default_float_dtype()
    if node == "c*":
        return default_complex_dtype()
    return canonicalize_dtype(_BY_NAME[node])


def _promotion_node(x: Any) -> str:
    # NOTE: identity, not ==, because np.dtype('int64') == int is True.
    if x is int:
        return "i*"
    if x is float:
        return "f*"
    if x is complex:
        return "c*"
    try:
        d = _as_np_dtype(x)
    except (TypeError, ValueError):
        raise TypeError(_unsupported_message(x)) from None
    name = _NAME_OF.get(d)
    if name is None:
        raise TypeError(_unsupported_message(d))
    return name


def promote_types(a: DTypeLike, b: DTypeLike) -> np.dtype:
    """The dtype a binary operation on dtypes `a` and `b` computes in (JAX's rules).

    The Python types `int`, `float` and `complex` stand for weak types: they adopt
    the width of the other operand. The inputs are promoted as given and only the
    result is canonicalised, as in `jax.numpy.promote_types`.

    Args:
        a: a dtype-like, or one of the Python types `int`, `float`, `complex`.
        b: likewise.

    Returns:
        The canonical promoted dtype.

    Raises:
        TypeError: if `a` or `b` is not a supported dtype.

    >>> promote_types("int8", "uint8")
    dtype('int16')
    >>> promote_types("bfloat16", "float16")
    dtype('float32')
    >>> promote_types("float16", float)
    dtype('float16')
    """
    na, nb = _promotion_node(a), _promotion_node(b)
    x64 = bool(config.enable_x64)
    return _dtype_of_node(_least_upper_bound(frozenset((na, nb)), x64))


def _dtype_and_weak(x: Any) -> tuple[np.dtype, bool]:
    if x is None:
        return default_float_dtype(), False
    if x is int or x is float or x is complex:
        return _python_type_default(x), True
    typ = type(x)
    if typ in _PYTHON_SCALAR_TYPES:
        return _python_type_default(typ), typ is not bool
    return dtype_of(x), is_weakly_typed(x)


@functools.lru_cache(maxsize=4096)
def _promote_pairs(
    pairs: tuple[tuple[np.dtype, bool], ...], x64: bool
) -> tuple[np.dtype, bool]:
    """`result_type` on canonical (dtype, weak) pairs; x64 is part of the cache key."""
    if len(pairs) == 1:
        out, weak = pairs[0]
    elif all(w for _, w in pairs):
        # All weak: promote as strong types, then mark weak; the width is then reset
        # to the default below (two weak int8 values give a weak int32, as in JAX).
        names = frozenset(_NAME_OF[d] for d, _ in pairs)
        out, weak = _dtype_of_node(_least_upper_bound(names, x64)), True
    elif all(d == pairs[0][0] for d, _ in pairs):
        out, weak = pairs[0][0], False
    else:
        bound = _least_upper_bound(frozenset(_node(d, w) for d, w in pairs), x64)
        out, weak = _dtype_of_node(bound), bound in _WEAK_NODES
    weak = weak and out != bool_
    if weak:
        out = _default_of_category(out)
    return canonicalize_dtype(out), weak


def result_type(
    *args: Any, return_weak_type_flag: bool = False
) -> np.dtype | tuple[np.dtype, bool]:
    """The dtype of an operation on `args`, by JAX's promotion rules.

    Args:
        *args: dtype-likes (strong), the Python types `int`/`float`/`complex` (weak),
            Python scalars (weak, except bool), numpy arrays and scalars (strong), or
            objects with `.dtype` and `.weak_type` (lamina arrays, tracers, avals).
            `None` stands for the default float dtype. Each input's dtype is
            canonicalised before promotion.
        return_weak_type_flag: also return whether the result is weakly typed.

    Returns:
        The canonical result dtype, or `(dtype, weak_type)` if
        `return_weak_type_flag`. A weak result always has its kind's default dtype.

    Raises:
        ValueError: if no arguments are given.
        TypeError: if an argument has an unsupported dtype.

    >>> result_type(np.zeros(3, np.int8), 2)
    dtype('int8')
    >>> result_type(np.zeros(3, np.int32), 2.0)
    dtype('float32')
    >>> result_type(3, 4.0, return_weak_type_flag=True)
    (dtype('float32'), True)
    """
    if not args:
        raise ValueError("result_type: at least one array, scalar or dtype is required")
    pairs = tuple(_dtype_and_weak(a) for a in args)
    out, weak = _promote_pairs(pairs, bool(config.enable_x64))
    return (out, weak) if return_weak_type_flag else out


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
