"""Array creation of `lamina.numpy`: conversion (`array`, `asarray`, `copy`,
`frombuffer`), filled arrays (`zeros`, `full`, `*_like`...) and grids (`meshgrid`,
`indices`, `fromfunction`), with jax.numpy's names, signatures, default dtypes and
weak-type rules.

Ranges (`arange`, `linspace`...) are in `lamina.numpy.ranges`, and the identity,
triangular and diagonal constructions (`eye`, `tri`, `diag`...) in
`lamina.numpy.triangles`; both are re-exported here, so `lamina.numpy.creation` stays
the namespace of the whole creation family. The argument helpers they share are in
`lamina.numpy._shape_util`.

Static arguments (shapes, `num`, `N`, `k` of the index helpers) must be concrete.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from lamina import dtypes
from lamina import lax
from lamina.backend.array import device_put_host
from lamina.numpy import shape_ops as _shape_ops
from lamina.numpy._util import asarray as _asarray, check_arraylike, is_lamina_array
from lamina.numpy._shape_util import (
    _copy, _default_dtype, _index_dtype, _name, _on_device, _shape_tuple, _static_int,
    _user_dtype,
)
from lamina.numpy.joining import concatenate as _concatenate
# NOTE: ranges and the triangular/diagonal constructions live in sibling modules (this one
# would be too long); re-exported because `creation` is the creation family's namespace.
from lamina.numpy.ranges import arange, geomspace, linspace, logspace
from lamina.numpy.triangles import (
    diag, diag_indices, diagflat, eye, identity, tri, tril, tril_indices, triu, triu_indices,
)

__all__ = [
    "array", "asarray", "copy", "zeros", "ones", "empty", "full", "zeros_like", "ones_like",
    "empty_like", "full_like", "arange", "linspace", "logspace", "geomspace", "eye",
    "identity", "tri", "tril", "triu", "meshgrid", "diag", "diagflat", "diag_indices",
    "tril_indices", "triu_indices", "indices", "fromfunction", "frombuffer", "from_dlpack",
]

Array = Any
ArrayLike = Any


# --------------------------------------------------------------------------------------
# Conversion
# --------------------------------------------------------------------------------------


def _leaves(x: Any) -> list[Any]:
    if isinstance(x, (list, tuple)):
        return [leaf for e in x for leaf in _leaves(e)]
    return [x]


def _leaf_dtype(leaf: Any) -> Any:
    """A leaf as `result_type` sees it: itself if it has a dtype (or is a Python
    scalar), else numpy's reading of it (e.g. a `range`)."""
    if leaf is None:
        raise ValueError("lamina.numpy.array: None is not a valid value")
    if dtypes.is_python_scalar(leaf) or isinstance(getattr(leaf, "dtype", None), np.dtype):
        return leaf
    try:
        host = np.asarray(leaf)
    except Exception as e:
        raise TypeError(f"lamina.numpy.array: cannot convert {type(leaf).__name__} to an "
                        f"array: {e}") from None
    return host


def _stack_device(obj: Any, dtype: np.dtype) -> Array:
    """Nested lists holding lamina values, joined on the device (no host round trip)."""
    if not isinstance(obj, (list, tuple)):
        return _asarray(obj, dtype)
    if not obj:
        return device_put_host(np.zeros((0,), dtype))
    parts = [_stack_device(e, dtype) for e in obj]
    shapes = {p.shape for p in parts}
    if len(shapes) != 1:
        raise ValueError(f"lamina.numpy.array: nested sequences have inconsistent shapes "
                         f"{sorted(shapes)}")
    shape = parts[0].shape
    return _concatenate([lax.reshape(p, (1,) + shape) for p in parts], axis=0)


def array(object: Any, dtype: Any = None, copy: bool = True, order: str | None = "K",
          ndmin: int = 0, *, device: Any = None) -> Array:
    """Converts `object` to a lamina array.

    Python scalars give weakly-typed arrays; lists take the JAX result type of their
    elements (`[1, 2.0]` is float32, `[np.float16(1), 2]` float16); 64-bit host data
    becomes 32-bit unless x64 is enabled.

    Args:
        object: an array, a scalar, a (nested) list or tuple of those, or anything
            numpy can read (buffers, ranges).
        dtype: the result dtype (validated and canonicalised).
        copy: always return a new buffer (lamina inputs are copied on the device).
        order: only 'K' (or None) is supported.
        ndmin: minimum rank: leading axes of length one are added.
        device: a device or sharding to put the result on (as `lamina.device_put`).

    Returns:
        A lamina Array (or a tracer when `object` holds tracers).

    >>> import lamina.numpy as lnp
    >>> lnp.array([1, 2.5]).dtype, lnp.array(3).weak_type
    (dtype('float32'), True)
    """
    fn = "array"
    if order is not None and order != "K":
        raise NotImplementedError(f"lamina.numpy.array: only order='K' is implemented, got "
                                  f"{order!r}")
    dtype = _user_dtype(fn, dtype)
    ndmin = _static_int(fn, "ndmin", ndmin)
    if is_lamina_array(object):
        out = object
        if dtype is not None and (out.dtype != dtype or out.weak_type):
            out = lax.convert_element_type(out, dtype)
        elif copy:
            out = _copy(out)
    elif dtypes.is_python_scalar(object):
        out = _asarray(object, dtype)
    elif isinstance(object, (np.ndarray, np.generic)):
        out = _asarray(object, dtype)
    else:
        if isinstance(object, (list, tuple)):
            leaves = [_leaf_dtype(leaf) for leaf in _leaves(object)]
        else:
            leaves = [_leaf_dtype(object)]
            object = leaves[0]
        if dtype is None:
            dtype = dtypes.result_type(*leaves) if leaves else dtypes.default_float_dtype()
        if any(is_lamina_array(leaf) for leaf in leaves):
            out = _stack_device(object, dtype)
        else:
            try:
                host = np.asarray(object, dtype=dtype)
            except ValueError as e:  # ragged nesting, as numpy and jax
                raise ValueError(f"lamina.numpy.array: {e}") from None
            except TypeError as e:
                raise TypeError(f"lamina.numpy.array: cannot convert {type(object).__name__} "
                                f"to an array: {e}") from None
            out = device_put_host(host, dtype=dtype)
    if ndmin > out.ndim:
        out = lax.reshape(out, (1,) * (ndmin - out.ndim) + out.shape)
    return _on_device(fn, out, device)


def asarray(a: Any, dtype: Any = None, order: str | None = None, *,
            copy: bool | None = None, device: Any = None) -> Array:
    """Converts `a` to a lamina array, copying only when needed (see `array`).

    Args:
        a: an array, scalar, (nested) list or tuple, or anything numpy can read.
        dtype: the result dtype.
        order: only None or 'K' is supported.
        copy: True forces a copy; None or False copy only when needed.
        device: a device or sharding to put the result on (as `lamina.device_put`).

    Returns:
        A lamina Array (`a` itself when it already is one of the requested dtype).

    >>> import lamina.numpy as lnp
    >>> lnp.asarray([1, 2, 3]).dtype
    dtype('int32')
    """
    if order is not None and order != "K":
        raise NotImplementedError(f"lamina.numpy.asarray: only order='K' is implemented, got "
                                  f"{order!r}")
    if dtype is None and not copy and device is None and is_lamina_array(a):
        return a
    return array(a, dtype=_user_dtype("asarray", dtype), copy=bool(copy), device=device)


def copy(a: ArrayLike, order: str | None = None) -> Array:
    """A copy of `a` in a new buffer.

    >>> import lamina.numpy as lnp
    >>> lnp.copy(lnp.arange(3)).tolist()
    [0, 1, 2]
    """
    check_arraylike(_name("copy"), a)
    return array(a, copy=True, order=order)


# --------------------------------------------------------------------------------------
# Filled arrays
# --------------------------------------------------------------------------------------


def _creation_shape(fn: str, shape: Any, dtype: Any) -> tuple[int, ...]:
    if isinstance(shape, (int, np.integer)) and isinstance(dtype, (int, np.integer)) and \
            not isinstance(dtype, bool):
        raise TypeError(f"{_name(fn)}: dtype {dtype!r} is not a dtype. Did you mean "
                        f"{fn}(({shape}, {dtype})), with the shape as a tuple?")
    out = _shape_tuple(fn, shape)
    if any(d < 0 for d in out):
        raise TypeError(f"{_name(fn)}: negative dimensions are not allowed, got shape {out}")
    return out


def zeros(shape: Any, dtype: Any = None, *, device: Any = None) -> Array:
    """An array of zeros.

    Args:
        shape: an int or a tuple of ints.
        dtype: the dtype (default float32, or float64 with x64).
        device: a device or sharding to put the result on (as `lamina.device_put`).

    Returns:
        The zero array.

    >>> import lamina.numpy as lnp
    >>> lnp.zeros((2, 3), lnp.int8).dtype
    dtype('int8')
    """
    shape = _creation_shape("zeros", shape, dtype)
    return _on_device("zeros", lax.full(shape, 0, _default_dtype("zeros", dtype)), device)


def ones(shape: Any, dtype: Any = None, *, device: Any = None) -> Array:
    """An array of ones (see `zeros`).

    >>> import lamina.numpy as lnp
    >>> lnp.ones(2).tolist()
    [1.0, 1.0]
    """
    shape = _creation_shape("ones", shape, dtype)
    return _on_device("ones", lax.full(shape, 1, _default_dtype("ones", dtype)), device)


def empty(shape: Any, dtype: Any = None, *, device: Any = None) -> Array:
    """Like `zeros` (XLA has no uninitialised memory; jax does the same).

    >>> import lamina.numpy as lnp
    >>> lnp.empty(2).tolist()
    [0.0, 0.0]
    """
    shape = _creation_shape("empty", shape, dtype)
    return _on_device("empty", lax.full(shape, 0, _default_dtype("empty", dtype)), device)


def full(shape: Any, fill_value: ArrayLike, dtype: Any = None, *,
         device: Any = None) -> Array:
    """An array filled with `fill_value` (broadcast when it is an array).

    Args:
        shape: an int or a tuple of ints.
        fill_value: a scalar or an array broadcastable to `shape`.
        dtype: the dtype (default: `fill_value`'s; a Python scalar gives a weakly
            typed result, as in jax).
        device: a device or sharding to put the result on (as `lamina.device_put`).

    Returns:
        The filled array.

    >>> import lamina.numpy as lnp
    >>> lnp.full(2, 7).tolist()
    [7, 7]
    """
    fn = "full"
    dtype = _user_dtype(fn, dtype)
    check_arraylike(_name(fn), fill_value)
    shape = _creation_shape(fn, shape, None)
    if np.ndim(fill_value) == 0:
        out = lax.full(shape, fill_value, dtype)
    else:
        out = _shape_ops.broadcast_to(_asarray(fill_value, dtype), shape)
    return _on_device(fn, out, device)


def _like_shape(fn: str, a: Any, shape: Any) -> tuple[int, ...]:
    return tuple(np.shape(a)) if shape is None else _creation_shape(fn, shape, None)


def _like(fn: str, a: Any, fill_value: Any, dtype: Any, shape: Any) -> Array:
    if not (hasattr(a, "shape") and hasattr(a, "dtype")):
        check_arraylike(_name(fn), a)
    dtype = _user_dtype(fn, dtype)
    shape = None if shape is None else _creation_shape(fn, shape, None)
    return lax.full_like(a, fill_value, dtype, shape)


def zeros_like(a: ArrayLike, dtype: Any = None, shape: Any = None, *,
               device: Any = None) -> Array:
    """Zeros with the shape and dtype (and weak type) of `a`, unless given.

    Args:
        a: an array, a scalar, or anything with `.shape` and `.dtype`.
        dtype: overrides the dtype.
        shape: overrides the shape.
        device: a device or sharding to put the result on (as `lamina.device_put`).

    Returns:
        The zero array.

    >>> import lamina.numpy as lnp
    >>> lnp.zeros_like(lnp.ones((2, 2), lnp.int8), shape=3).shape
    (3,)
    """
    return _on_device("zeros_like", _like("zeros_like", a, 0, dtype, shape), device)


def ones_like(a: ArrayLike, dtype: Any = None, shape: Any = None, *,
              device: Any = None) -> Array:
    """Ones with the shape and dtype of `a` (see `zeros_like`).

    >>> import lamina.numpy as lnp
    >>> lnp.ones_like(lnp.zeros(2)).tolist()
    [1.0, 1.0]
    """
    return _on_device("ones_like", _like("ones_like", a, 1, dtype, shape), device)


def empty_like(prototype: ArrayLike, dtype: Any = None, shape: Any = None, *,
               device: Any = None) -> Array:
    """Like `zeros_like`.

    >>> import lamina.numpy as lnp
    >>> lnp.empty_like(lnp.ones(2)).tolist()
    [0.0, 0.0]
    """
    return _on_device("empty_like", _like("empty_like", prototype, 0, dtype, shape), device)


def full_like(a: ArrayLike, fill_value: ArrayLike, dtype: Any = None, shape: Any = None, *,
              device: Any = None) -> Array:
    """`fill_value` with the shape and dtype of `a`, unless given (an array
    `fill_value` is broadcast).

    >>> import lamina.numpy as lnp
    >>> lnp.full_like(lnp.zeros(2, lnp.int32), 2.7).tolist()
    [2, 2]
    """
    fn = "full_like"
    check_arraylike(_name(fn), fill_value)
    if np.ndim(fill_value) == 0:
        return _on_device(fn, _like(fn, a, fill_value, dtype, shape), device)
    if not (hasattr(a, "shape") and hasattr(a, "dtype")):
        check_arraylike(_name(fn), a)
    out_dtype = _user_dtype(fn, dtype) or dtypes.dtype_of(a)
    out = _shape_ops.broadcast_to(_asarray(fill_value, out_dtype), _like_shape(fn, a, shape))
    return _on_device(fn, out, device)


# --------------------------------------------------------------------------------------
# Grids
# --------------------------------------------------------------------------------------


def meshgrid(*xi: ArrayLike, copy: bool = True, sparse: bool = False,
             indexing: str = "xy") -> list[Array]:
    """Coordinate arrays from 1-D coordinate vectors.

    Args:
        *xi: 1-D arrays.
        copy: accepted for numpy compatibility (results are always new arrays).
        sparse: return arrays that broadcast against each other instead of full grids.
        indexing: 'xy' (Cartesian: the first two outputs' axes are swapped) or 'ij'.

    Returns:
        A list of arrays, one per input.

    >>> import lamina.numpy as lnp
    >>> [g.shape for g in lnp.meshgrid(lnp.zeros(3), lnp.zeros(2))]
    [(2, 3), (2, 3)]
    """
    del copy
    fn = "meshgrid"
    check_arraylike(_name(fn), *xi)
    if indexing not in ("xy", "ij"):
        raise ValueError(f"{_name(fn)}: indexing must be 'xy' or 'ij', got {indexing!r}")
    args = [_asarray(x) for x in xi]
    if any(a.ndim != 1 for a in args):
        raise ValueError(f"{_name(fn)} requires 1-D inputs, got shapes "
                         f"{[a.shape for a in args]}")
    n = len(args)
    positions = list(range(n))
    if indexing == "xy" and n >= 2:
        positions[0], positions[1] = 1, 0
    shape = [0] * n
    for a, p in zip(args, positions):
        shape[p] = a.shape[0]
    out = []
    for a, p in zip(args, positions):
        if sparse:
            s = [1] * n
            s[p] = a.shape[0]
            out.append(lax.reshape(a, tuple(s)))
        else:
            out.append(lax.broadcast_in_dim(a, tuple(shape), (p,)))
    return out


def indices(dimensions: Sequence[int], dtype: Any = None,
            sparse: bool = False) -> Array | tuple[Array, ...]:
    """The index grids of an array of shape `dimensions`.

    Args:
        dimensions: the shape.
        dtype: the index dtype (default int32, or int64 with x64).
        sparse: return one broadcastable array per axis instead of one stacked array.

    Returns:
        An array of shape `(len(dimensions), *dimensions)`, or a tuple if `sparse`.

    >>> import lamina.numpy as lnp
    >>> lnp.indices((2, 3)).shape
    (2, 2, 3)
    """
    fn = "indices"
    dims = _creation_shape(fn, dimensions, None)
    dtype = _index_dtype() if dtype is None else _user_dtype(fn, dtype)
    n = len(dims)
    if sparse:
        return tuple(lax.broadcasted_iota(dtype, tuple(d if j == i else 1 for j, d in
                                                       enumerate(dims)), i)
                     for i in range(n))
    if n == 0:
        return lax.full((0,), 0, dtype)
    grids = [lax.broadcasted_iota(dtype, (1,) + dims, i + 1) for i in range(n)]
    return grids[0] if n == 1 else lax.concatenate(grids, 0)


def fromfunction(function: Callable[..., Any], shape: Any, *, dtype: Any = float,
                 **kwargs: Any) -> Any:
    """`function(*index_grids, **kwargs)`: calls `function` once with the coordinate
    arrays of `shape` (numpy's semantics; elementwise functions give what jax's
    vmapped version gives).

    >>> import lamina.numpy as lnp
    >>> lnp.fromfunction(lambda i, j: i + j, (2, 2), dtype=int).tolist()
    [[0, 1], [1, 2]]
    """
    fn = "fromfunction"
    dims = _creation_shape(fn, shape, None)
    dtype = _user_dtype(fn, dtype)
    grids = [lax.broadcasted_iota(dtype, dims, i) for i in range(len(dims))]
    return function(*grids, **kwargs)


def from_dlpack(x: Any, /, *, device: Any = None, copy: bool | None = None) -> Array:
    """An array from an object that implements the DLPack protocol (`__dlpack__` and
    `__dlpack_device__`: a torch tensor, a numpy array, another lamina array), with its
    dtype canonicalised as `asarray` does.

    lamina copies the data (it reads host tensors through numpy and transfers them), so
    later writes to `x` do not show; tensors on an accelerator must be moved to the host
    first.

    Args:
        x: the DLPack producer.
        device: a device or sharding to put the result on (default: the default device).
        copy: None or True; False (share `x`'s memory) is not supported.

    >>> import numpy as np, lamina.numpy as lnp
    >>> lnp.from_dlpack(np.arange(3, dtype=np.int16)).dtype
    dtype('int16')
    """
    fn = "from_dlpack"
    if copy is False:
        raise ValueError(f"{_name(fn)}: copy=False (sharing the producer's memory) is not "
                         "supported: lamina copies DLPack data; pass copy=None or True")
    if not hasattr(x, "__dlpack__"):
        raise TypeError(f"{_name(fn)}: expected an object with __dlpack__ (a torch tensor, a "
                        f"numpy array, ...), got {type(x).__name__}")
    if is_lamina_array(x):
        return asarray(x, copy=True, device=device)
    try:
        host = np.from_dlpack(x)
    except (BufferError, RuntimeError, TypeError, ValueError) as e:
        where = x.__dlpack_device__() if hasattr(x, "__dlpack_device__") else "?"
        raise BufferError(f"{_name(fn)}: cannot read a {type(x).__name__} on DLPack device "
                          f"{where} from the host ({e}); move it to the CPU first (for "
                          "torch: x.cpu())") from e
    return array(host, device=device)


def frombuffer(buffer: Any, dtype: Any = float, count: int = -1, offset: int = 0) -> Array:
    """An array read from a bytes-like object (converted to the canonical dtype).

    >>> import lamina.numpy as lnp
    >>> lnp.frombuffer(bytes([1, 2]), dtype=lnp.uint8).tolist()
    [1, 2]
    """
    host = np.frombuffer(buffer, dtype=np.dtype(dtype), count=count, offset=offset)
    return array(host)
