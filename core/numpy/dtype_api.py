"""Dtypes, scalar types and dtype queries of `lamina.numpy` (jax.numpy's names).

`lnp.float32` and friends are *scalar types* as in jax.numpy: they work wherever a
dtype is expected (`lnp.zeros(3, lnp.bfloat16)`, `np.dtype(lnp.float32)`,
`x.astype(lnp.int8)`), and calling one builds a lamina array of that (canonicalised)
dtype: `lnp.float32(3)` is a 0-d float32 Array, not a numpy scalar.
"""
from __future__ import annotations

import builtins
import math
from typing import Any, Sequence

import numpy as np

from lamina import dtypes
from lamina.numpy._util import asarray, is_lamina_array

__all__ = [
    # scalar types
    "bool", "bool_", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32",
    "uint64", "float16", "bfloat16", "float32", "float64", "complex64", "complex128",
    "single", "double", "csingle", "cdouble", "int_", "uint", "float_", "complex_",
    # numpy's dtype class and abstract scalar classes
    "dtype", "generic", "number", "inexact", "floating", "complexfloating", "integer",
    "signedinteger", "unsignedinteger", "character", "flexible",
    # dtype queries
    "result_type", "promote_types", "can_cast", "finfo", "iinfo", "issubdtype", "isdtype",
    "iscomplexobj", "isrealobj", "isscalar", "ndim", "shape", "size",
    # constants
    "pi", "e", "inf", "nan", "euler_gamma", "newaxis",
]


# --------------------------------------------------------------------------------------
# Scalar types
# --------------------------------------------------------------------------------------


class _ScalarType(type):
    """Metaclass of lamina's scalar types (the idea of jax.numpy's scalar types).

    A class made by this metaclass carries a `dtype`; numpy reads it through the
    `__numpy_dtype__` protocol (and the `dtype` attribute), so the class is a valid
    dtype argument everywhere. Calling the class converts its argument to a lamina
    array of that dtype instead of creating an instance.
    """

    dtype: np.dtype

    @property
    def __numpy_dtype__(cls) -> np.dtype:
        return cls.dtype

    def __call__(cls, x: Any) -> Any:
        return asarray(x, dtype=cls.dtype)

    def __instancecheck__(cls, instance: Any) -> builtins.bool:
        # NOTE: as in jax, numpy scalars of the matching type count as instances;
        # lamina arrays (of any shape) do not.
        return isinstance(instance, cls.dtype.type)

    def __eq__(cls, other: Any) -> builtins.bool:
        if isinstance(other, _ScalarType):
            return cls is other
        return cls.dtype.type == other

    def __ne__(cls, other: Any) -> builtins.bool:
        return not cls == other

    def __hash__(cls) -> int:
        # Equal to the numpy scalar type it stands for, so hash like it.
        return hash(cls.dtype.type)


def _scalar_type(np_type: Any, name: str | None = None) -> _ScalarType:
    dt = np.dtype(np_type)
    name = name or dt.name
    doc = (f"lamina's scalar type for {dt.name}.\n\nUsable as a dtype; calling it returns "
           f"a lamina array: `lamina.numpy.{name}(x)` is `asarray(x, dtype={dt.name})`.")
    cls = _ScalarType(name, (object,), {"dtype": dt, "__doc__": doc,
                                        "__module__": "lamina.numpy"})
    cls.__qualname__ = name
    return cls


bool_ = _scalar_type(np.bool_, "bool")
int8 = _scalar_type(np.int8)
int16 = _scalar_type(np.int16)
int32 = _scalar_type(np.int32)
int64 = _scalar_type(np.int64)
uint8 = _scalar_type(np.uint8)
uint16 = _scalar_type(np.uint16)
uint32 = _scalar_type(np.uint32)
uint64 = _scalar_type(np.uint64)
float16 = _scalar_type(np.float16)
bfloat16 = _scalar_type(dtypes.bfloat16)
float32 = single = _scalar_type(np.float32)
float64 = double = _scalar_type(np.float64)
complex64 = csingle = _scalar_type(np.complex64)
complex128 = cdouble = _scalar_type(np.complex128)

# NOTE: numpy's (and jax's) aliases name the 64-bit types; with x64 disabled calling
# them gives 32-bit arrays, as every 64-bit dtype request does.
int_ = int64
uint = uint64
float_ = float64
complex_ = complex128

dtype = np.dtype
generic = np.generic
number = np.number
inexact = np.inexact
floating = np.floating
complexfloating = np.complexfloating
integer = np.integer
signedinteger = np.signedinteger
unsignedinteger = np.unsignedinteger
character = np.character
flexible = np.flexible

pi = np.pi
e = np.e
inf = np.inf
nan = np.nan
euler_gamma = np.euler_gamma
newaxis = None


# --------------------------------------------------------------------------------------
# Dtype queries
# --------------------------------------------------------------------------------------


def result_type(*args: Any) -> np.dtype:
    """The dtype of an operation on `args`, by JAX's promotion rules (weak types
    included), canonicalised (32-bit unless x64 is enabled).

    Args:
        *args: arrays, scalars, dtypes or scalar types.

    Returns:
        The result dtype.

    >>> import lamina.numpy as lnp
    >>> lnp.result_type(lnp.int8, 2), lnp.result_type(1, 2.0)
    (dtype('int8'), dtype('float32'))
    """
    return dtypes.result_type(*args)


def promote_types(a: Any, b: Any) -> np.dtype:
    """The dtype two dtypes promote to (JAX's lattice; the Python types `int`,
    `float`, `complex` are weak).

    Args:
        a: a dtype-like.
        b: a dtype-like.

    Returns:
        The promoted, canonical dtype.

    >>> import lamina.numpy as lnp
    >>> lnp.promote_types(lnp.bfloat16, lnp.float16), lnp.promote_types(int, lnp.int8)
    (dtype('float32'), dtype('int8'))
    """
    return dtypes.promote_types(a, b)


def _as_dtype(x: Any) -> np.dtype:
    """A dtype for a query: dtype-likes as given, or the dtype of a value."""
    if isinstance(x, np.dtype):
        return x
    if x is None:
        raise TypeError("expected a dtype, got None")
    if dtypes.is_python_scalar(x):
        return dtypes.dtype_of(x)
    d = getattr(x, "dtype", None) if not isinstance(x, type) else None
    if isinstance(d, np.dtype):
        return d
    return np.dtype(x)


def can_cast(from_: Any, to: Any, casting: str = "safe") -> builtins.bool:
    """numpy's `can_cast` (as jax.numpy's), accepting lamina arrays and scalar types.

    Args:
        from_: a dtype-like or an array.
        to: a dtype-like.
        casting: 'no', 'equiv', 'safe', 'same_kind' or 'unsafe'.

    Returns:
        Whether the cast can happen under the casting rule.

    >>> import lamina.numpy as lnp
    >>> lnp.can_cast(lnp.int8, lnp.int16), lnp.can_cast(lnp.float32, lnp.int32)
    (True, False)
    """
    return builtins.bool(np.can_cast(_as_dtype(from_), _as_dtype(to), casting))


def finfo(dtype: Any) -> Any:
    """Machine limits of a floating (or complex) dtype; bfloat16 included.

    Args:
        dtype: a dtype-like, a scalar type or an array.

    Returns:
        A `numpy.finfo` / `ml_dtypes.finfo` object.

    >>> import lamina.numpy as lnp
    >>> float(lnp.finfo(lnp.bfloat16).eps)
    0.0078125
    """
    return dtypes.finfo(_as_dtype(dtype))


def iinfo(int_type: Any) -> Any:
    """Machine limits of an integer dtype.

    Args:
        int_type: a dtype-like, a scalar type or an array.

    Returns:
        A `numpy.iinfo` object.

    >>> import lamina.numpy as lnp
    >>> int(lnp.iinfo(lnp.int8).max)
    127
    """
    return dtypes.iinfo(_as_dtype(int_type))


def issubdtype(arg1: Any, arg2: Any) -> builtins.bool:
    """Whether `arg1` is `arg2` or below it in numpy's type hierarchy (bfloat16 is
    `floating`, as in jax.numpy).

    Args:
        arg1: a dtype-like or scalar type.
        arg2: a dtype-like, scalar type or abstract class (`lnp.floating`, ...).

    Returns:
        True if `arg1` is a sub-dtype of `arg2`.

    >>> import lamina.numpy as lnp
    >>> lnp.issubdtype(lnp.bfloat16, lnp.floating)
    True
    >>> lnp.issubdtype(lnp.int8, lnp.unsignedinteger)
    False
    """
    return dtypes.issubdtype(_issubdtype_arg(arg1), _issubdtype_arg(arg2))


def _issubdtype_arg(x: Any) -> Any:
    if isinstance(x, _ScalarType):
        return x.dtype
    if isinstance(x, type) and issubclass(x, np.generic):
        return x
    return _as_dtype(x)


_BOOL = (dtypes.bool_,)
_SIGNED = (dtypes.int8, dtypes.int16, dtypes.int32, dtypes.int64)
_UNSIGNED = (dtypes.uint8, dtypes.uint16, dtypes.uint32, dtypes.uint64)
_REAL_FLOATING = (dtypes.float16, dtypes.bfloat16, dtypes.float32, dtypes.float64)
_COMPLEX = (dtypes.complex64, dtypes.complex128)
_KINDS: dict[str, frozenset[np.dtype]] = {
    "bool": frozenset(_BOOL),
    "signed integer": frozenset(_SIGNED),
    "unsigned integer": frozenset(_UNSIGNED),
    "integral": frozenset(_SIGNED + _UNSIGNED),
    "real floating": frozenset(_REAL_FLOATING),
    "complex floating": frozenset(_COMPLEX),
    "numeric": frozenset(_SIGNED + _UNSIGNED + _REAL_FLOATING + _COMPLEX),
}


def isdtype(dtype: Any, kind: Any) -> builtins.bool:
    """The array API's dtype-kind test.

    Args:
        dtype: a dtype-like or scalar type.
        kind: a dtype, one of 'bool', 'signed integer', 'unsigned integer',
            'integral', 'real floating', 'complex floating', 'numeric', or a tuple of
            those.

    Returns:
        Whether `dtype` is of (one of) the kind(s).

    Raises:
        ValueError: for an unknown kind name. TypeError: for a kind that is neither.

    >>> import lamina.numpy as lnp
    >>> lnp.isdtype(lnp.bfloat16, "real floating")
    True
    >>> lnp.isdtype(lnp.int8, ("bool", "unsigned integer"))
    False
    """
    the_dtype = np.dtype(dtype)
    kinds = kind if isinstance(kind, tuple) else (kind,)
    for k in kinds:
        if isinstance(k, str):
            if k not in _KINDS:
                raise ValueError(f"isdtype: unrecognized kind {k!r}; expected one of "
                                 f"{list(_KINDS)}, or a dtype")
            if the_dtype in _KINDS[k]:
                return True
            continue
        try:
            other = np.dtype(k)
        except TypeError:
            raise TypeError(f"isdtype: kind must be a dtype, a kind name or a tuple of "
                            f"those, got {k!r}") from None
        if other == the_dtype:
            return True
    return False


def iscomplexobj(x: Any) -> builtins.bool:
    """Whether `x` has a complex dtype (or is a complex scalar).

    >>> import lamina.numpy as lnp
    >>> lnp.iscomplexobj(1j), lnp.iscomplexobj(lnp.zeros(2))
    (True, False)
    """
    if isinstance(x, (complex, np.complexfloating)):
        return True
    if x is None or isinstance(x, (builtins.bool, int, float, str, np.generic)):
        return False
    d = getattr(x, "dtype", None)
    if not isinstance(d, np.dtype):
        d = asarray(x).dtype
    return dtypes.is_complex(d)


def isrealobj(x: Any) -> builtins.bool:
    """Whether `x` does not have a complex dtype.

    >>> import lamina.numpy as lnp
    >>> lnp.isrealobj(1.0)
    True
    """
    return not iscomplexobj(x)


def isscalar(element: Any) -> builtins.bool:
    """numpy's `isscalar`, except that 0-d arrays (lamina or numpy) count as scalars
    (as in jax.numpy).

    >>> import lamina.numpy as lnp
    >>> lnp.isscalar(lnp.asarray(1.0)), lnp.isscalar([1.0])
    (True, False)
    """
    if np.isscalar(element):
        return True
    if isinstance(element, np.ndarray) or is_lamina_array(element):
        return element.ndim == 0
    return False


def _check_not_sequence(fun_name: str, a: Any) -> None:
    if isinstance(a, (list, tuple)):
        raise TypeError(f"lamina.numpy.{fun_name} requires an array-like argument, got "
                        f"{type(a).__name__}; convert it with lamina.numpy.asarray first")


def ndim(a: Any) -> int:
    """The number of dimensions of `a` (0 for scalars); lists are rejected.

    >>> import lamina.numpy as lnp
    >>> lnp.ndim(lnp.zeros((2, 3))), lnp.ndim(1.0)
    (2, 0)
    """
    if hasattr(a, "ndim"):
        return a.ndim
    _check_not_sequence("ndim", a)
    return np.ndim(a)


def shape(a: Any) -> tuple[int, ...]:
    """The shape of `a` (`()` for scalars); lists are rejected.

    >>> import lamina.numpy as lnp
    >>> lnp.shape(lnp.zeros((2, 3)))
    (2, 3)
    """
    if hasattr(a, "shape"):
        return tuple(a.shape)
    _check_not_sequence("shape", a)
    return np.shape(a)


def size(a: Any, axis: int | Sequence[int] | None = None) -> int:
    """The number of elements of `a`, or along `axis` (an int or a tuple of ints).

    >>> import lamina.numpy as lnp
    >>> lnp.size(lnp.zeros((2, 3))), lnp.size(lnp.zeros((2, 3)), axis=1)
    (6, 3)
    """
    _check_not_sequence("size", a)
    if axis is None and hasattr(a, "size"):
        return int(a.size)
    the_shape = shape(a)
    from lamina.lax._util import canonicalize_axes
    axes = canonicalize_axes(axis, len(the_shape), "lamina.numpy.size")
    return math.prod(the_shape[i] for i in axes)


# NOTE: defined last: inside this module the name `bool` is the scalar type from here on.
bool = bool_  # noqa: A001
