"""The base of lamina.numpy: conversion to arrays, JAX's dtype promotion (weak types
included) and NumPy broadcasting, expressed with lax primitives only."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from lamina import dtypes
from lamina.backend.array import Array, device_put_host, scalar_to_device
from lamina.ir import Tracer, shaped_abstractify

ArrayLike = Any


def is_lamina_array(x: Any) -> bool:
    return isinstance(x, (Array, Tracer))


def check_arraylike(fun_name: str, *args: Any) -> None:
    """numpy functions take arrays and scalars, not lists (as jax.numpy: a list is
    ambiguous and slow to trace). Lists name the fix."""
    for i, a in enumerate(args):
        if not (is_lamina_array(a) or isinstance(a, (np.ndarray, np.generic))
                or dtypes.is_python_scalar(a)):
            hint = " Convert it with lamina.numpy.asarray first." if isinstance(a, (list, tuple)) else ""
            raise TypeError(f"{fun_name} requires array-like arguments; argument {i} is "
                            f"{type(a).__name__}: {a!r}.{hint}")


def asarray(x: ArrayLike, dtype: Any = None) -> Any:
    """`x` as a lamina value (Array or Tracer), converting host data; `dtype` casts.

    Lists/tuples of scalars or arrays become one array (tracers in them are stacked).
    """
    from lamina.lax.elementwise import convert_element_type
    if dtype is not None:
        dtype = dtypes.check_user_dtype_supported(dtype, "lamina.numpy.asarray")
    if is_lamina_array(x):
        if dtype is not None and x.dtype != dtype:
            return convert_element_type(x, dtype)
        return x
    if isinstance(x, (list, tuple)) and any(_contains_tracer(e) for e in x):
        return _stack_nested(x, dtype)
    if dtypes.is_python_scalar(x):
        if dtype is None:
            return scalar_to_device(x, dtypes.dtype_of(x), dtypes.is_weakly_typed(x))
        return device_put_host(np.asarray(x, dtype), weak_type=False)
    try:
        host = np.asarray(x)
    except Exception as e:  # ragged lists and unsupported objects
        raise TypeError(f"lamina.numpy.asarray: cannot convert {type(x).__name__} to an array: {e}") from None
    if host.dtype == object:
        raise TypeError(f"lamina.numpy.asarray: cannot convert {x!r} to an array "
                        "(object dtype: ragged nesting or non-numeric elements)")
    if dtype is None:
        dtype = dtypes.canonicalize_dtype(_default_host_dtype(x, host))
    return device_put_host(host, dtype=dtype)


def _default_host_dtype(x: Any, host: np.ndarray) -> np.dtype:
    # numpy turns Python ints into int64 and floats into float64; jax uses the defaults
    # (int32/float32 without x64). Keep explicit numpy dtypes as given.
    if isinstance(x, (np.ndarray, np.generic)):
        return host.dtype
    if host.dtype.kind == "i":
        return dtypes.default_int_dtype()
    if host.dtype.kind == "f" and host.dtype == np.float64:
        return dtypes.default_float_dtype()
    if host.dtype.kind == "c":
        return dtypes.default_complex_dtype()
    return host.dtype


def _contains_tracer(x: Any) -> bool:
    if isinstance(x, Tracer):
        return True
    if isinstance(x, (list, tuple)):
        return any(_contains_tracer(e) for e in x)
    return False


def _stack_nested(x: Sequence[Any], dtype: Any) -> Any:
    from lamina.lax.structural import broadcast_in_dim, concatenate
    parts = [_stack_nested(e, None) if isinstance(e, (list, tuple)) else e for e in x]
    parts = promote_dtypes(*parts)
    shapes = {shaped_abstractify(p).shape for p in parts}
    if len(shapes) != 1:
        raise ValueError(f"lamina.numpy.asarray: nested sequence elements have different shapes {sorted(shapes)}")
    shape = shapes.pop()
    expanded = [broadcast_in_dim(p, (1, *shape), tuple(range(1, len(shape) + 1))) for p in parts]
    out = concatenate(expanded, 0)
    return asarray(out, dtype) if dtype is not None else out


def promote_dtypes(*args: ArrayLike) -> list[Any]:
    """Convert arguments to their JAX result type (weak Python scalars adapt)."""
    from lamina.lax.elementwise import convert_element_type
    if len(args) < 2:
        return [asarray(a) for a in args]
    to_dtype, weak = dtypes.result_type(*args, return_weak_type_flag=True)
    out = []
    for a in args:
        a = asarray(a) if not dtypes.is_python_scalar(a) else a
        if dtypes.is_python_scalar(a):
            a = scalar_to_device(a, to_dtype, weak)
        elif a.dtype != to_dtype or a.weak_type != weak:
            a = convert_element_type(a, to_dtype, weak_type=weak)
        out.append(a)
    return out


def promote_dtypes_inexact(*args: ArrayLike) -> list[Any]:
    """Like `promote_dtypes`, then integers/bools become the default inexact dtype."""
    from lamina.lax.elementwise import convert_element_type
    promoted = promote_dtypes(*args)
    out = []
    for a in promoted:
        target = dtypes.to_inexact_dtype(a.dtype)
        out.append(a if a.dtype == target else convert_element_type(a, target, weak_type=a.weak_type))
    return out


def broadcast_shapes(fun_name: str, *shapes: Sequence[int]) -> tuple[int, ...]:
    """NumPy's broadcasting rule, with an error naming the function and the shapes."""
    ndim = max((len(s) for s in shapes), default=0)
    result = [1] * ndim
    for s in shapes:
        for i, d in enumerate(s):
            j = ndim - len(s) + i
            if result[j] == 1:
                result[j] = d
            elif d != 1 and d != result[j]:
                raise ValueError(f"{fun_name}: incompatible shapes for broadcasting: "
                                 f"{', '.join(str(tuple(x)) for x in shapes)}")
    return tuple(result)


def broadcast_to_shape(x: Any, shape: Sequence[int]) -> Any:
    from lamina.lax.structural import broadcast_in_dim
    aval = shaped_abstractify(x)
    shape = tuple(shape)
    if aval.shape == shape:
        return x
    lead = len(shape) - aval.ndim
    return broadcast_in_dim(x, shape, tuple(range(lead, len(shape))))


def promote_shapes(fun_name: str, *args: Any) -> list[Any]:
    """Broadcast arguments to a common shape. 0-d arguments stay 0-d: lax elementwise
    ops broadcast them for free, which keeps eager `x + 1` to one dispatch."""
    shapes = [shaped_abstractify(a).shape for a in args]
    if len(set(shapes)) <= 1:
        return list(args)
    shape = broadcast_shapes(fun_name, *shapes)
    return [a if s == () or s == shape else broadcast_to_shape(a, shape)
            for a, s in zip(args, shapes)]


def promote_args(fun_name: str, *args: ArrayLike) -> list[Any]:
    """Check, promote dtypes, then broadcast shapes: the preamble of every ufunc."""
    check_arraylike(fun_name, *args)
    return promote_shapes(fun_name, *promote_dtypes(*args))


def promote_args_inexact(fun_name: str, *args: ArrayLike) -> list[Any]:
    check_arraylike(fun_name, *args)
    return promote_shapes(fun_name, *promote_dtypes_inexact(*args))
