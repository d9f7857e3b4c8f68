"""Ranges of `lamina.numpy`: `arange`, `linspace`, `logspace` and `geomspace`
(jax.numpy's names, signatures, default dtypes and weak-type rules; split from
`creation`, which re-exports them).
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from lamina import dtypes
from lamina import lax
from lamina.backend.array import Array as _DeviceArray
from lamina.ir import Tracer
from lamina.numpy import shape_ops as _shape_ops
from lamina.numpy._util import asarray as _asarray, check_arraylike, is_lamina_array, \
    promote_dtypes
from lamina.numpy._shape_util import _axis, _name, _on_device, _static_int, _user_dtype

__all__ = ["arange", "linspace", "logspace", "geomspace"]


Array = Any
ArrayLike = Any


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
           dtype: Any = None, *, device: Any = None) -> Array:
    """Evenly spaced values in `[start, stop)` (jax's dtype rule: the result type of the
    arguments, so `arange(5)` is int32 and `arange(5.0)` float32; never weak).

    Args:
        start: the start, or the stop when `stop` is None (then start is 0).
        stop: the end (exclusive).
        step: the spacing (default 1).
        dtype: the result dtype.
        device: a device or sharding to put the result on (as `lamina.device_put`).

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
        return _on_device(fn, out, device)
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
    out = out if work == dtype else lax.convert_element_type(out, dtype)
    return _on_device(fn, out, device)


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
             retstep: bool = False, dtype: Any = None, axis: int = 0, *,
             device: Any = None) -> Any:
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
        device: a device or sharding to put the samples on (as `lamina.device_put`).

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
    out = _on_device(fn, out, device)
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
