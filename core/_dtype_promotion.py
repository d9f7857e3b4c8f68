"""JAX's type promotion for `lamina.dtypes`: the lattice of dtypes and weak nodes
(`i*`, `f*`, `c*`), its least upper bounds, `promote_types` and `result_type`.

Re-exported by `lamina.dtypes` (whose docstring states the rules); use them from there.
"""
from __future__ import annotations

import functools
from typing import Any

import numpy as np

from lamina.config import config
from lamina.dtypes import (
    _BY_NAME, _NAME_OF, _PYTHON_SCALAR_TYPES, DTypeLike, _as_np_dtype, _category,
    _python_type_default, _unsupported_message, bool_, canonicalize_dtype,
    default_complex_dtype, default_float_dtype, default_int_dtype, default_uint_dtype,
    dtype_of, is_weakly_typed,
)


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
