"""Array creation of `lamina.numpy`: conversion (`array`, `asarray`), filled arrays,
ranges, grids and triangular/diagonal constructions (jax.numpy's names, signatures,
default dtypes and weak-type rules).

Static arguments (shapes, `num`, `N`, `k` of the index helpers) must be concrete.
"""
from __future__ import annotations

import math
from typing import Any, Callable, Sequence

import numpy as np

from lamina import dtypes
from lamina import lax
from lamina.backend.array import Array as _DeviceArray, device_put_host
from lamina.ir import Tracer
from lamina.numpy import shape_ops as _shape_ops
from lamina.numpy._util import asarray as _asarray, check_arraylike, is_lamina_array, \
    promote_dtypes
from lamina.numpy._shape_util import _arr, _axis, _copy, _name, _shape_tuple, _static_int
from lamina.numpy.joining import concatenate as _concatenate

__all__ = [
    "array", "asarray", "copy", "zeros", "ones", "empty", "full", "zeros_like", "ones_like",
    "empty_like", "full_like", "arange", "linspace", "logspace", "geomspace", "eye",
    "identity", "tri", "tril", "triu", "meshgrid", "diag", "diagflat", "diag_indices",
    "tril_indices", "triu_indices", "indices", "fromfunction", "frombuffer",
]

Array = Any
ArrayLike = Any


# --------------------------------------------------------------------------------------
# Conversion
# --------------------------------------------------------------------------------------


def _user_dtype(fn: str, dtype: Any) -> np.dtype | None:
    return None if dtype is None else dtypes.check_user_dtype_supported(dtype, _name(fn))


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
          ndmin: int = 0) -> Array:
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
    return out


def asarray(a: Any, dtype: Any = None, order: str | None = None, *,
            copy: bool | None = None) -> Array:
    """Converts `a` to a lamina array, copying only when needed (see `array`).

    Args:
        a: an array, scalar, (nested) list or tuple, or anything numpy can read.
        dtype: the result dtype.
        order: only None or 'K' is supported.
        copy: True forces a copy; None or False copy only when needed.

    Returns:
        A lamina Array (`a` itself when it already is one of the requested dtype).

    >>> import lamina.numpy as lnp
    >>> lnp.asarray([1, 2, 3]).dtype
    dtype('int32')
    """
    if order is not None and order != "K":
        raise NotImplementedError(f"lamina.numpy.asarray: only order='K' is implemented, got "
                                  f"{order!r}")
    if dtype is None and not copy and is_lamina_array(a):
        return a
    return array(a, dtype=_user_dtype("asarray", dtype), copy=bool(copy))


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


def _default_dtype(fn: str, dtype: Any) -> np.dtype:
    return dtypes.default_float_dtype() if dtype is None else _user_dtype(fn, dtype)


def zeros(shape: Any, dtype: Any = None, *, device: Any = None) -> Array:
    """An array of zeros.

    Args:
        shape: an int or a tuple of ints.
        dtype: the dtype (default float32, or float64 with x64).
        device: unsupported (must be None).

    Returns:
        The zero array.

    >>> import lamina.numpy as lnp
    >>> lnp.zeros((2, 3), lnp.int8).dtype
    dtype('int8')
    """
    _no_device("zeros", device)
    shape = _creation_shape("zeros", shape, dtype)
    return lax.full(shape, 0, _default_dtype("zeros", dtype))


def ones(shape: Any, dtype: Any = None, *, device: Any = None) -> Array:
    """An array of ones (see `zeros`).

    >>> import lamina.numpy as lnp
    >>> lnp.ones(2).tolist()
    [1.0, 1.0]
    """
    _no_device("ones", device)
    shape = _creation_shape("ones", shape, dtype)
    return lax.full(shape, 1, _default_dtype("ones", dtype))


def empty(shape: Any, dtype: Any = None, *, device: Any = None) -> Array:
    """Like `zeros` (XLA has no uninitialised memory; jax does the same).

    >>> import lamina.numpy as lnp
    >>> lnp.empty(2).tolist()
    [0.0, 0.0]
    """
    _no_device("empty", device)
    shape = _creation_shape("empty", shape, dtype)
    return lax.full(shape, 0, _default_dtype("empty", dtype))


def _no_device(fn: str, device: Any) -> None:
    if device is not None:
        raise NotImplementedError(f"{_name(fn)}: device= is not supported; use "
                                  "lamina.device_put on the result")


def full(shape: Any, fill_value: ArrayLike, dtype: Any = None, *,
         device: Any = None) -> Array:
    """An array filled with `fill_value` (broadcast when it is an array).

    Args:
        shape: an int or a tuple of ints.
        fill_value: a scalar or an array broadcastable to `shape`.
        dtype: the dtype (default: `fill_value`'s; a Python scalar gives a weakly
            typed result, as in jax).
        device: unsupported (must be None).

    Returns:
        The filled array.

    >>> import lamina.numpy as lnp
    >>> lnp.full(2, 7).tolist()
    [7, 7]
    """
    fn = "full"
    _no_device(fn, device)
    dtype = _user_dtype(fn, dtype)
    check_arraylike(_name(fn), fill_value)
    shape = _creation_shape(fn, shape, None)
    if np.ndim(fill_value) == 0:
        return lax.full(shape, fill_value, dtype)
    return _shape_ops.broadcast_to(_asarray(fill_value, dtype), shape)


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
        device: unsupported (must be None).

    Returns:
        The zero array.

    >>> import lamina.numpy as lnp
    >>> lnp.zeros_like(lnp.ones((2, 2), lnp.int8), shape=3).shape
    (3,)
    """
    _no_device("zeros_like", device)
    return _like("zeros_like", a, 0, dtype, shape)


def ones_like(a: ArrayLike, dtype: Any = None, shape: Any = None, *,
              device: Any = None) -> Array:
    """Ones with the shape and dtype of `a` (see `zeros_like`).

    >>> import lamina.numpy as lnp
    >>> lnp.ones_like(lnp.zeros(2)).tolist()
    [1.0, 1.0]
    """
    _no_device("ones_like", device)
    return _like("ones_like", a, 1, dtype, shape)


def empty_like(prototype: ArrayLike, dtype: Any = None, shape: Any = None, *,
               device: Any = None) -> Array:
    """Like `zeros_like`.

    >>> import lamina.numpy as lnp
    >>> lnp.empty_like(lnp.ones(2)).tolist()
    [0.0, 0.0]
    """
    _no_device("empty_like", device)
    return _like("empty_like", prototype, 0, dtype, shape)


def full_like(a: ArrayLike, fill_value: ArrayLike, dtype: Any = None, shape: Any = None, *,
              device: Any = None) -> Array:
    """`fill_value` with the shape and dtype of `a`, unless given (an array
    `fill_value` is broadcast).

    >>> import lamina.numpy as lnp
    >>> lnp.full_like(lnp.zeros(2, lnp.int32), 2.7).tolist()
    [2, 2]
    """
    fn = "full_like"
    _no_device(fn, device)
    check_arraylike(_name(fn), fill_value)
    if np.ndim(fill_value) == 0:
        return _like(fn, a, fill_value, dtype, shape)
    if not (hasattr(a, "shape") and hasattr(a, "dtype")):
        check_arraylike(_name(fn), a)
    out_dtype = _user_dtype(fn, dtype) or dtypes.dtype_of(a)
    return _shape_ops.broadcast_to(_asarray(fill_value, out_dtype), _like_shape(fn, a, shape))


# --------------------------------------------------------------------------------------
# Ranges
# --------------------------------------------------------------------------------------


def _concrete_scalar(fn: str, name: str, x: Any) -> Any:
    if x is None:
        return None
    if isinstance(x, Tracer):
        raise x._concrete_value_error(f"{_name(fn)} argument `{name}`")
    check_arraylike(_name(fn), x)
    if np.ndim(x) != 0:
        raise ValueError(f"{_name(fn)}: arguments must be scalars; got {name} of shape "
                         f"{np.shape(x)}")
    return x


def _host_value(x: Any) -> Any:
    """A concrete scalar as a Python number (for size arithmetic)."""
    if isinstance(x, (_DeviceArray, np.ndarray, np.generic)):
        return np.asarray(x).item()
    return x


def _host_scalar(value: Any, dtype: np.dtype) -> np.ndarray:
    """`value` as a 0-d host array of `dtype`, converting as XLA does (wrapping)."""
    with np.errstate(all="ignore"):
        return np.asarray(np.asarray(value).astype(dtype))


def arange(start: ArrayLike, stop: ArrayLike | None = None, step: ArrayLike | None = None,
           dtype: Any = None) -> Array:
    """Evenly spaced values in `[start, stop)` (jax's dtype rule: the result type of the
    arguments, so `arange(5)` is int32 and `arange(5.0)` float32; never weak).

    Args:
        start: the start, or the stop when `stop` is None (then start is 0).
        stop: the end (exclusive).
        step: the spacing (default 1).
        dtype: the result dtype.

    Returns:
        A 1-D array of `ceil((stop - start) / step)` elements.

    Raises:
        ConcretizationError: if an argument is traced (the size must be static).

    >>> import lamina.numpy as lnp
    >>> lnp.arange(1, 4).tolist(), lnp.arange(3.0).dtype
    ([1, 2, 3], dtype('float32'))
    """
    fn = "arange"
    dtype = _user_dtype(fn, dtype)
    start = _concrete_scalar(fn, "stop" if stop is None and step is None else "start", start)
    stop = _concrete_scalar(fn, "stop", stop)
    step = _concrete_scalar(fn, "step", step)
    args = [x for x in (start, stop, step) if x is not None]
    if any(dtypes.is_complex(dtypes.dtype_of(x)) for x in args):
        raise ValueError(f"{_name(fn)}: complex start/stop/step are not supported")
    if dtype is None:
        dtype = dtypes.result_type(*args)
    if stop is None:
        start, stop = 0, start
    lo, hi = _host_value(start), _host_value(stop)
    if step is None:
        size = max(0, math.ceil(hi - lo))
        out = lax.iota(dtype, size)
        if lo != 0:
            out = lax.add(_host_scalar(lo, dtype), out)
        return out
    st = _host_value(step)
    if st == 0:
        raise ValueError(f"{_name(fn)}: step must not be zero")
    size = max(0, math.ceil((hi - lo) / st))
    # NOTE: as jax, half-precision floats compute in float32 then round once.
    work = np.dtype(np.float32) if dtype in (dtypes.float16, dtypes.bfloat16) else dtype
    out = lax.iota(work, size)
    if st != 1:
        out = lax.mul(_host_scalar(st, work), out)
    if lo != 0 or (st < 0 and dtypes.is_inexact(work)):  # 0 + -0.0 is +0.0, as in jax
        out = lax.add(_host_scalar(lo, work), out)
    return out if work == dtype else lax.convert_element_type(out, dtype)


def _linspace_axis(fn: str, axis: Any, ndim: int) -> int:
    axis = _static_int(fn, "axis", axis)
    if not -(ndim + 1) <= axis <= ndim:
        raise ValueError(f"{_name(fn)}: axis {axis} is out of bounds for a result of "
                         f"dimension {ndim + 1}")
    return axis + ndim + 1 if axis < 0 else axis


def _as_computation(x: Any, dtype: np.dtype) -> Any:
    """`x` in the (strong) computation dtype. Host values stay on the host, converted
    there: lax ops transfer them, and cache 0-d ones (no dispatch for `linspace(0, 1)`)."""
    if not is_lamina_array(x):
        return _host_scalar(x, dtype)
    return x if x.dtype == dtype and not x.weak_type else lax.convert_element_type(x, dtype)


def linspace(start: ArrayLike, stop: ArrayLike, num: int = 50, endpoint: bool = True,
             retstep: bool = False, dtype: Any = None, axis: int = 0) -> Any:
    """`num` evenly spaced samples from `start` to `stop` (array bounds broadcast and
    give one sequence per element, laid along `axis`).

    Args:
        start: the first value (scalar or array).
        stop: the last value (included if `endpoint`).
        num: the static number of samples.
        endpoint: whether `stop` is the last sample.
        retstep: also return the spacing.
        dtype: the result dtype (default: the inexact result type of the bounds);
            integer results are floored.
        axis: where the samples lie in the result when the bounds are arrays.

    Returns:
        The samples, or `(samples, step)` if `retstep`.

    >>> import lamina.numpy as lnp
    >>> lnp.linspace(0, 1, 5).tolist()
    [0.0, 0.25, 0.5, 0.75, 1.0]
    """
    fn = "linspace"
    num = _static_int(fn, "num", num)
    if num < 0:
        raise ValueError(f"{_name(fn)}: number of samples, {num}, must be non-negative")
    check_arraylike(_name(fn), start, stop)
    if dtype is None:
        dtype = dtypes.to_inexact_dtype(dtypes.result_type(start, stop))
    else:
        dtype = _user_dtype(fn, dtype)
    work = dtypes.to_inexact_dtype(dtype)
    start, stop = _as_computation(start, work), _as_computation(stop, work)
    bounds = list(_shape_ops.broadcast_shapes(start.shape, stop.shape))
    if bounds:
        start = _shape_ops.broadcast_to(start, bounds)
        stop = _shape_ops.broadcast_to(stop, bounds)
    axis = _linspace_axis(fn, axis, len(bounds))
    shape = list(bounds)
    shape.insert(axis, 1)
    div = (num - 1) if endpoint else num
    delta = None
    if num > 1:
        if retstep:
            delta = lax.div(lax.sub(stop, start), _host_scalar(div, work))
        # NOTE: start * (1 - t) + stop * t (jax's formula) recovers both ends exactly.
        real = dtypes.real_dtype(work)
        shape_t = [1] * len(shape)
        shape_t[axis] = div
        t = lax.div(lax.broadcasted_iota(real, tuple(shape_t), axis), _host_scalar(div, real))
        t = _as_computation(t, work)
        if bounds:
            full_shape = tuple(div if i == axis else d for i, d in enumerate(shape))
            t = _shape_ops.broadcast_to(t, full_shape)
            keep = tuple(i for i in range(len(shape)) if i != axis)
            lo = lax.broadcast_in_dim(start, full_shape, keep)
            hi = lax.broadcast_in_dim(stop, full_shape, keep)
        else:  # 0-d bounds broadcast for free in lax's elementwise ops
            lo, hi = start, stop
        one_minus_t = lax.sub(_host_scalar(1, work), t)
        out = lax.add(lax.mul(lo, one_minus_t), lax.mul(hi, t))
        if endpoint:
            out = lax.concatenate([out, lax.reshape(stop, tuple(shape))], axis)
    elif num == 1:
        if retstep:
            delta = (_asarray(np.nan, work) if endpoint else lax.sub(stop, start))
        out = lax.reshape(start, tuple(shape))
    else:
        if retstep:
            delta = lax.full((), np.nan, work)
        shape[axis] = 0
        out = lax.full(tuple(shape), 0, work)
    if dtypes.is_integer(dtype) and not dtypes.is_integer(out.dtype):
        out = lax.floor(out)
    if out.dtype != dtype or out.weak_type:
        out = lax.convert_element_type(out, dtype)
    return (out, delta) if retstep else out


def _power(base: Any, exponent: Array) -> Array:
    """`base ** exponent` with jax's promotion (base usually a Python float)."""
    b, e = promote_dtypes(base, exponent)
    if b.shape != e.shape:
        shape = _shape_ops.broadcast_shapes(b.shape, e.shape)
        b, e = _shape_ops.broadcast_to(b, shape), _shape_ops.broadcast_to(e, shape)
    return lax.pow(b, e)


def logspace(start: ArrayLike, stop: ArrayLike, num: int = 50, endpoint: bool = True,
             base: ArrayLike = 10.0, dtype: Any = None, axis: int = 0) -> Array:
    """`base ** linspace(start, stop, num)`.

    >>> import lamina.numpy as lnp
    >>> lnp.logspace(0, 2, 3).tolist()
    [1.0, 10.0, 100.0]
    """
    fn = "logspace"
    check_arraylike(_name(fn), start, stop, base)
    if dtype is None:
        dtype = dtypes.to_inexact_dtype(dtypes.result_type(start, stop))
    else:
        dtype = _user_dtype(fn, dtype)
    work = dtypes.to_inexact_dtype(dtype)
    start, stop = _as_computation(_asarray(start), work), _as_computation(_asarray(stop), work)
    lin = linspace(start, stop, num, endpoint=endpoint, axis=axis)
    out = _power(base, lin)
    return out if out.dtype == dtype and not out.weak_type else \
        lax.convert_element_type(out, dtype)


def _log10(x: Array) -> Array:
    """jnp.log10's formula: log(x) / log(10) as a product (parts apart for complex)."""
    inv_ln10 = _host_scalar(0.4342944819032518, dtypes.real_dtype(x.dtype))
    r = lax.log(x)
    if dtypes.is_complex(x.dtype):
        return lax.complex(lax.mul(lax.real(r), inv_ln10), lax.mul(lax.imag(r), inv_ln10))
    return lax.mul(r, inv_ln10)


def geomspace(start: ArrayLike, stop: ArrayLike, num: int = 50, endpoint: bool = True,
              dtype: Any = None, axis: int = 0) -> Array:
    """`num` samples spaced evenly on a log scale from `start` to `stop` (which must
    have the same sign).

    >>> import lamina.numpy as lnp
    >>> [round(v, 3) for v in lnp.geomspace(1, 100, 3).tolist()]
    [1.0, 10.0, 100.0]
    """
    fn = "geomspace"
    check_arraylike(_name(fn), start, stop)
    if dtype is None:
        dtype = dtypes.to_inexact_dtype(dtypes.result_type(start, stop))
    else:
        dtype = _user_dtype(fn, dtype)
    work = dtypes.to_inexact_dtype(dtype)
    start, stop = _as_computation(_asarray(start), work), _as_computation(_asarray(stop), work)
    sign = lax.sign(start)
    if sign.shape != stop.shape:
        shape = _shape_ops.broadcast_shapes(sign.shape, stop.shape)
        sign, start, stop = (_shape_ops.broadcast_to(v, shape) for v in (sign, start, stop))
    res = logspace(_log10(lax.div(start, sign)), _log10(lax.div(stop, sign)), num,
                   endpoint=endpoint, base=10.0, dtype=work, axis=0)
    res = lax.mul(lax.broadcast_in_dim(sign, res.shape, tuple(range(1, res.ndim))), res)
    axis = _axis(fn, axis, res.ndim)
    if axis:
        res = _shape_ops.moveaxis(res, 0, axis)
    return res if res.dtype == dtype else lax.convert_element_type(res, dtype)


# --------------------------------------------------------------------------------------
# Identity, triangles, diagonals
# --------------------------------------------------------------------------------------


def _dim(fn: str, name: str, n: Any) -> int:
    n = _static_int(fn, name, n)
    if n < 0:
        raise ValueError(f"{_name(fn)}: negative dimensions are not allowed, got {name}={n}")
    return n


def _offset_mask(n: int, m: int, k: Any, direction: str) -> Array:
    """The bool (n, m) mask `i + k <direction> j` of row index i and column index j."""
    i = lax.broadcasted_iota(np.int32, (n, m), 0)
    j = lax.broadcasted_iota(np.int32, (n, m), 1)
    if isinstance(k, int):
        if k:
            i = lax.add(i, np.int32(k))
    else:
        i = lax.add(i, lax.convert_element_type(k, np.int32))
    return {"eq": lax.eq, "ge": lax.ge}[direction](i, j)


def _offset_arg(fn: str, k: Any) -> Any:
    """`k` as a Python int, or a 0-d integer lamina value when traced."""
    if isinstance(k, Tracer):
        if k.ndim != 0 or not dtypes.is_integer(k.dtype):
            raise TypeError(f"{_name(fn)}: k must be an integer scalar, got {k.aval.str_short()}")
        return k
    return _static_int(fn, "k", k)


def eye(N: int, M: int | None = None, k: int | ArrayLike = 0, dtype: Any = None, *,
        device: Any = None) -> Array:
    """A 2-D array with ones on the `k`-th diagonal and zeros elsewhere.

    Args:
        N: the number of rows.
        M: the number of columns (default `N`).
        k: the diagonal: 0 main, > 0 above, < 0 below (may be traced).
        dtype: the dtype (default float32).
        device: unsupported (must be None).

    Returns:
        An (N, M) array.

    >>> import lamina.numpy as lnp
    >>> lnp.eye(2, dtype=int).tolist()
    [[1, 0], [0, 1]]
    """
    fn = "eye"
    _no_device(fn, device)
    dtype = _default_dtype(fn, dtype)
    n = _dim(fn, "N", N)
    m = n if M is None else _dim(fn, "M", M)
    mask = _offset_mask(n, m, _offset_arg(fn, k), "eq")
    return mask if dtypes.is_bool(dtype) else lax.convert_element_type(mask, dtype)


def identity(n: int, dtype: Any = None) -> Array:
    """The (n, n) identity matrix.

    >>> import lamina.numpy as lnp
    >>> lnp.identity(2).tolist()
    [[1.0, 0.0], [0.0, 1.0]]
    """
    return eye(n, dtype=_default_dtype("identity", dtype))


def tri(N: int, M: int | None = None, k: int = 0, dtype: Any = None) -> Array:
    """An (N, M) array with ones at and below the `k`-th diagonal.

    >>> import lamina.numpy as lnp
    >>> lnp.tri(2, 3, dtype=int).tolist()
    [[1, 0, 0], [1, 1, 0]]
    """
    fn = "tri"
    dtype = _default_dtype(fn, dtype)
    n = _dim(fn, "N", N)
    m = n if M is None else _dim(fn, "M", M)
    mask = _offset_mask(n, m, _offset_arg(fn, k), "ge")
    return mask if dtypes.is_bool(dtype) else lax.convert_element_type(mask, dtype)


def _triangle(fn: str, m: ArrayLike, k: Any, lower: bool) -> Array:
    a = _arr(fn, m)
    if a.ndim < 2:
        raise ValueError(f"{_name(fn)}: argument must be at least 2-D, got shape {a.shape}")
    n_rows, n_cols = a.shape[-2:]
    k = _offset_arg(fn, k)
    # lower: keep j <= i + k; upper: keep j >= i + k, i.e. drop j <= i + k - 1.
    kk = k if lower else (k - 1 if isinstance(k, int) else lax.sub(k, np.int32(1)))
    mask = _offset_mask(n_rows, n_cols, kk, "ge")
    mask = lax.broadcast_in_dim(mask, a.shape, (a.ndim - 2, a.ndim - 1))
    zeros = lax.full_like(a, 0)
    return lax.select(mask, a, zeros) if lower else lax.select(mask, zeros, a)


def tril(m: ArrayLike, k: int = 0) -> Array:
    """`m` with the elements above the `k`-th diagonal zeroed (on the last two axes).

    >>> import lamina.numpy as lnp
    >>> lnp.tril(lnp.ones((2, 2), int)).tolist()
    [[1, 0], [1, 1]]
    """
    return _triangle("tril", m, k, lower=True)


def triu(m: ArrayLike, k: int = 0) -> Array:
    """`m` with the elements below the `k`-th diagonal zeroed (on the last two axes).

    >>> import lamina.numpy as lnp
    >>> lnp.triu(lnp.ones((2, 2), int)).tolist()
    [[1, 1], [0, 1]]
    """
    return _triangle("triu", m, k, lower=False)


def diag(v: ArrayLike, k: int = 0) -> Array:
    """The `k`-th diagonal of a 2-D `v`, or a 2-D array with 1-D `v` on its `k`-th
    diagonal.

    >>> import lamina.numpy as lnp
    >>> lnp.diag(lnp.asarray([1, 2])).tolist()
    [[1, 0], [0, 2]]
    """
    fn = "diag"
    v = _arr(fn, v)
    k = _static_int(fn, "k", k)
    if v.ndim == 2:
        return _shape_ops.diagonal(v, offset=k)
    if v.ndim != 1:
        raise ValueError(f"{_name(fn)}: input must be 1-D or 2-D, got shape {v.shape}")
    length = v.shape[0]
    n = length + abs(k)
    if length == 0:
        return lax.full_like(v, 0, shape=(n, n))
    # NOTE: element (i, i + k) of a row-major (n, n) matrix sits at flat position
    # i * (n + 1) + k (k >= 0) or |k| * n + i * (n + 1) (k < 0): one interior-padded
    # vector, reshaped.
    low = k if k >= 0 else -k * n
    high = n * n - (low + (length - 1) * (n + 1) + 1)
    flat = lax.pad(v, _zero_of(v), [(low, high, n)])
    return lax.reshape(flat, (n, n))


def _zero_of(x: Array) -> Any:
    """A zero that lax.pad accepts for `x` (a weak Python scalar keeps a weak result)."""
    zero = np.zeros((), x.dtype)
    return zero.item() if x.weak_type else zero


def diagflat(v: ArrayLike, k: int = 0) -> Array:
    """A 2-D array with the flattened `v` on its `k`-th diagonal.

    >>> import lamina.numpy as lnp
    >>> lnp.diagflat(lnp.ones((1, 2), int)).tolist()
    [[1, 0], [0, 1]]
    """
    v = _arr("diagflat", v)
    if v.weak_type:  # NOTE: jax builds the result by scattering into strong zeros
        v = lax.convert_element_type(v, v.dtype)
    return diag(lax.reshape(v, (v.size,)), k)


def _index_dtype() -> np.dtype:
    return dtypes.default_int_dtype()


def diag_indices(n: int, ndim: int = 2) -> tuple[Array, ...]:
    """Indices of the main diagonal of an array of `ndim` axes of length `n`.

    >>> import lamina.numpy as lnp
    >>> [i.tolist() for i in lnp.diag_indices(2)]
    [[0, 1], [0, 1]]
    """
    fn = "diag_indices"
    n = _static_int(fn, "n", n)
    ndim = _static_int(fn, "ndim", ndim)
    if n < 0:
        raise ValueError(f"{_name(fn)}: n argument must be non-negative, got {n}")
    if ndim < 0:
        raise ValueError(f"{_name(fn)}: ndim argument must be non-negative, got {ndim}")
    idx = lax.iota(_index_dtype(), n)
    return (idx,) * ndim


def _host_indices(pair: tuple[np.ndarray, ...]) -> tuple[Array, ...]:
    # NOTE: the positions depend only on static sizes: computed on the host once.
    return tuple(device_put_host(p.astype(_index_dtype())) for p in pair)


def tril_indices(n: int, k: int = 0, m: int | None = None) -> tuple[Array, Array]:
    """Row and column indices of the lower triangle (at and below diagonal `k`) of an
    (n, m) array.

    >>> import lamina.numpy as lnp
    >>> [i.tolist() for i in lnp.tril_indices(2)]
    [[0, 1, 1], [0, 0, 1]]
    """
    fn = "tril_indices"
    n, k = _dim(fn, "n", n), _static_int(fn, "k", k)
    m = n if m is None else _dim(fn, "m", m)
    return _host_indices(np.tril_indices(n, k, m))


def triu_indices(n: int, k: int = 0, m: int | None = None) -> tuple[Array, Array]:
    """Row and column indices of the upper triangle (at and above diagonal `k`) of an
    (n, m) array.

    >>> import lamina.numpy as lnp
    >>> [i.tolist() for i in lnp.triu_indices(2)]
    [[0, 0, 1], [0, 1, 1]]
    """
    fn = "triu_indices"
    n, k = _dim(fn, "n", n), _static_int(fn, "k", k)
    m = n if m is None else _dim(fn, "m", m)
    return _host_indices(np.triu_indices(n, k, m))


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


def frombuffer(buffer: Any, dtype: Any = float, count: int = -1, offset: int = 0) -> Array:
    """An array read from a bytes-like object (converted to the canonical dtype).

    >>> import lamina.numpy as lnp
    >>> lnp.frombuffer(bytes([1, 2]), dtype=lnp.uint8).tolist()
    [1, 2]
    """
    host = np.frombuffer(buffer, dtype=np.dtype(dtype), count=count, offset=offset)
    return array(host)
