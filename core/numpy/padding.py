"""numpy.pad for lamina arrays: every mode of jax.numpy.pad (constant, edge, wrap,
linear_ramp, maximum, mean, median, minimum, reflect, symmetric, empty, and a callable).

Separate from `shape_ops` because the modes make it a family of its own; each mode is a
composition of `lamina.lax` slices, reversals, reductions and concatenations. Pad widths
must be concrete Python values.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from lamina import dtypes
from lamina import lax
from lamina.errors import ConcretizationError
from lamina.numpy._util import asarray, is_lamina_array
from lamina.numpy.joining import stack, unstack
from lamina.numpy.shape_ops import broadcast_to
from lamina.numpy._shape_util import _arr, _concat, _moveaxis_perm, _repeat_unit, _slice_axis

__all__ = [
    "pad",
]

Array = Any
ArrayLike = Any


# --------------------------------------------------------------------------------------
# Padding
# --------------------------------------------------------------------------------------

_PAD_KWARGS: dict[str, tuple[str, ...]] = {
    "constant": ("constant_values",), "edge": (), "wrap": (), "empty": (),
    "linear_ramp": ("end_values",), "maximum": ("stat_length",), "mean": ("stat_length",),
    "median": ("stat_length",), "minimum": ("stat_length",),
    "reflect": ("reflect_type",), "symmetric": ("reflect_type",),
}


def _pairs(values: Any, nd: int, name: str) -> tuple[tuple[Any, Any], ...]:
    """numpy's broadcasting of pad arguments to one (before, after) pair per axis."""
    try:
        arr = np.asarray(values)
    except ConcretizationError:
        raise
    except ValueError:
        raise TypeError(f"lamina.numpy.pad: `{name}` entries must have one shape, got "
                        f"{values!r}") from None
    if arr.dtype == object:
        raise TypeError(f"lamina.numpy.pad: `{name}` entries must be numbers of one shape, "
                        f"got {values!r}")
    if arr.shape == (nd, 2):
        return tuple((arr[i, 0], arr[i, 1]) for i in range(nd))
    if arr.shape == (1, 2):
        return ((arr[0, 0], arr[0, 1]),) * nd
    if arr.shape == (2,):
        return ((arr[0], arr[1]),) * nd
    if arr.shape in ((1,), ()):
        v = arr.reshape(-1)[0]
        return ((v, v),) * nd
    raise ValueError(f"lamina.numpy.pad: `{name}` of shape {arr.shape} is not valid for an "
                     f"array of dimension {nd}; valid shapes are ({nd}, 2), (1, 2), (2,), "
                     "(1,) and ()")


def _check_no_padding(width: tuple[int, int], mode: str, axis: int) -> None:
    if width[0] > 0 or width[1] > 0:
        raise ValueError(f"lamina.numpy.pad: cannot apply '{mode}' padding to the empty "
                         f"axis {axis}")


def _as_dtype_of(value: Any, array: Array) -> Array:
    """`value` converted to `array`'s dtype, weakly typed if `array` is."""
    v = asarray(value)
    if v.dtype == array.dtype and v.weak_type == array.weak_type:
        return v
    return lax.convert_element_type(v, array.dtype, weak_type=array.weak_type)


def _pad_constant(array: Array, widths: Any, constant_values: Any) -> Array:
    nd = array.ndim
    cv = np.asarray(constant_values) if not is_lamina_array(constant_values) else constant_values
    if np.ndim(cv) == 0 or (np.ndim(cv) == 1 and np.shape(cv)[0] == 1) or \
            np.shape(cv) in ((1, 1),):
        value = _as_dtype_of(cv if np.ndim(cv) == 0 else lax.reshape(asarray(cv), ()), array)
        return lax.pad(array, value, [(lo, hi, 0) for lo, hi in widths])
    if np.ndim(cv) in (1, 2) and np.shape(cv)[-1] != 2:
        raise ValueError(f"lamina.numpy.pad: constant_values of shape {np.shape(cv)} is not "
                         "valid: a 1-D or 2-D value must have a last dimension of size 1 or 2")
    cv = broadcast_to(_as_dtype_of(cv, array), (nd, 2))
    for i in range(nd):
        for side in (0, 1):
            if widths[i][side]:
                config = [(0, 0, 0)] * nd
                config[i] = (widths[i][0], 0, 0) if side == 0 else (0, widths[i][1], 0)
                value = lax.reshape(lax.slice(cv, (i, side), (i + 1, side + 1)), ())
                array = lax.pad(array, value, config)
    return array


def _pad_wrap(array: Array, widths: Any) -> Array:
    for i in range(array.ndim):
        n = array.shape[i]
        if n == 0:
            _check_no_padding(widths[i], "wrap", i)
            continue
        left_reps, left_rem = divmod(widths[i][0], n)
        right_reps, right_rem = divmod(widths[i][1], n)
        parts = []
        if left_rem:
            parts.append(_slice_axis(array, n - left_rem, n, i))
        parts += [array] * (left_reps + right_reps + 1)
        if right_rem:
            parts.append(_slice_axis(array, 0, right_rem, i))
        array = _concat(parts, i)
    return array


def _pad_reflect(array: Array, widths: Any, mode: str, reflect_type: str) -> Array:
    for i in range(array.ndim):
        n = array.shape[i]
        if n == 0:
            _check_no_padding(widths[i], mode, i)
            continue
        if widths[i] == (0, 0):
            continue
        # NOTE: 'reflect' does not repeat the edge element, 'symmetric' does; a long pad
        # is built in pieces of at most one (reflected) array length each.
        offset = 1 if (mode == "reflect" and n > 1) else 0
        for before in (True, False):
            remaining = widths[i][0] if before else widths[i][1]
            if reflect_type == "odd" and remaining:
                lo = 0 if before else array.shape[i] - 1
                edge = _slice_axis(array, lo, lo + 1, i)
            while remaining > 0:
                cur = min(remaining, n - offset)
                remaining -= cur
                size = array.shape[i]
                if before:
                    x = _slice_axis(array, offset, offset + cur, i)
                else:
                    stop = size if (mode == "symmetric" or n == 1) else size - 1
                    x = _slice_axis(array, stop - cur, stop, i)
                x = lax.rev(x, (i,))
                if reflect_type == "odd":
                    two_edge = lax.add(edge, edge)
                    x = lax.sub(_repeat_unit(two_edge, cur, i), x)
                    if n > 1:
                        lo = 0 if before else cur - 1
                        edge = _slice_axis(x, lo, lo + 1, i)
                array = lax.concatenate([x, array] if before else [array, x], i)
    return array


def _pad_edge(array: Array, widths: Any) -> Array:
    for i in range(array.ndim):
        n = array.shape[i]
        if n == 0:
            _check_no_padding(widths[i], "edge", i)
            continue
        before, after = widths[i]
        parts = []
        if before:
            parts.append(_repeat_unit(_slice_axis(array, 0, 1, i), before, i))
        parts.append(array)
        if after:
            parts.append(_repeat_unit(_slice_axis(array, n - 1, n, i), after, i))
        array = _concat(parts, i)
    return array


def _pad_linear_ramp(array: Array, widths: Any, end_values: Any) -> Array:
    from lamina.numpy.creation import linspace
    for i in range(array.ndim):
        n = array.shape[i]
        if n == 0:
            _check_no_padding(widths[i], "linear_ramp", i)
            continue
        before, after = widths[i]
        parts = []
        if before:
            edge = lax.squeeze(_slice_axis(array, 0, 1, i), (i,))
            ramp = linspace(end_values[i][0], edge, before, endpoint=False, dtype=array.dtype,
                            axis=i)
            parts.append(_as_dtype_of(ramp, array))
        parts.append(array)
        if after:
            edge = lax.squeeze(_slice_axis(array, n - 1, n, i), (i,))
            ramp = linspace(end_values[i][1], edge, after, endpoint=False, dtype=array.dtype,
                            axis=i)
            parts.append(lax.rev(_as_dtype_of(ramp, array), (i,)))
        array = _concat(parts, i)
    return array


def _stat(mode: str, x: Array, axis: int) -> Array:
    """The statistic of `x` along `axis` (kept with length one), in x's dtype, rounded
    to the nearest integer (ties to even) for integer arrays."""
    shape = list(x.shape)
    shape[axis] = 1
    dtype = x.dtype
    if mode == "maximum":
        return lax.reshape(lax.reduce_max(x, (axis,)), tuple(shape))
    if mode == "minimum":
        return lax.reshape(lax.reduce_min(x, (axis,)), tuple(shape))
    # NOTE: as jnp.mean/median: integers compute in float32, f16/bf16 upcast to float32.
    work = dtypes.to_inexact_dtype(dtype)
    if work in (dtypes.float16, dtypes.bfloat16):
        work = dtypes.float32
    xf = x if x.dtype == work else lax.convert_element_type(x, work)
    n = x.shape[axis]
    if mode == "mean":
        s = lax.div(lax.reduce_sum(xf, (axis,)), np.asarray(n, work))
    else:  # median: the middle of the sorted values (mean of the two middles)
        srt = lax.sort(xf, dimension=axis)
        lo = lax.index_in_dim(srt, (n - 1) // 2, axis, keepdims=False)
        hi = lax.index_in_dim(srt, n // 2, axis, keepdims=False)
        s = lax.mul(lax.add(lo, hi), np.asarray(0.5, work))
        if dtypes.is_inexact(work):
            has_nan = lax.reduce_or(lax.ne(xf, xf), (axis,))
            s = lax.select(has_nan, lax.full_like(s, np.nan), s)
    if dtypes.is_integer(dtype) or dtypes.is_bool(dtype):
        s = lax.round(s, lax.RoundingMethod.TO_NEAREST_EVEN)
    if s.dtype != dtype:
        s = lax.convert_element_type(s, dtype)
    return lax.reshape(s, tuple(shape))


def _pad_stats(array: Array, widths: Any, stat_length: Any, mode: str) -> Array:
    for i in range(array.ndim):
        n = array.shape[i]
        before, after = widths[i]
        if n == 0:
            _check_no_padding(widths[i], mode, i)
            continue
        if stat_length is None:
            stat_before = stat_after = _stat(mode, array, i)
        else:
            len_before, len_after = (int(v) for v in stat_length[i])
            if len_before <= 0 or len_after <= 0:
                raise ValueError("lamina.numpy.pad: stat_length of 0 yields no value for "
                                 "padding")
            len_before, len_after = min(len_before, n), min(len_after, n)
            stat_before = _stat(mode, _slice_axis(array, 0, len_before, i), i)
            stat_after = _stat(mode, _slice_axis(array, n - len_after, n, i), i)
        stat_before = _as_dtype_of(stat_before, array)
        stat_after = _as_dtype_of(stat_after, array)
        parts = []
        if before:
            parts.append(_repeat_unit(stat_before, before, i))
        parts.append(array)
        if after:
            parts.append(_repeat_unit(stat_after, after, i))
        array = _concat(parts, i)
    return array


def _pad_widths(pad_width: Any, nd: int) -> tuple[tuple[int, int], ...]:
    raw = _pairs(pad_width, nd, "pad_width")
    if not all(np.issubdtype(np.asarray(v).dtype, np.integer) for pair in raw for v in pair):
        raise TypeError(f"lamina.numpy.pad: `pad_width` must be of integral type, got "
                        f"{pad_width!r}")
    widths = tuple((int(lo), int(hi)) for lo, hi in raw)
    if any(lo < 0 or hi < 0 for lo, hi in widths):
        raise ValueError(f"lamina.numpy.pad: pad_width {widths} can't contain negative values")
    return widths


def _pad_func(array: Array, widths: Any, func: Callable[..., Any], kwargs: dict) -> Array:
    """numpy's callable mode: zero-pad, then per axis replace every 1-D lane by
    `func(lane, (before, after), axis, kwargs)` (which returns the new lane).

    NOTE: one call per lane, a Python loop (jax maps `func` with vmap); fine for the
    small arrays this mode is used on.
    """
    padded = _pad_constant(array, widths, 0)
    for axis in range(padded.ndim):
        moved = lax.transpose(padded, _moveaxis_perm(padded.ndim, (axis,), (padded.ndim - 1,)))
        n = moved.shape[-1]
        lanes = lax.reshape(moved, (moved.size // n if n else 0, n))
        if lanes.shape[0] == 0:
            continue
        rows = [func(lane, widths[axis], axis, kwargs) for lane in unstack(lanes)]
        out = lax.reshape(stack(rows), moved.shape)
        padded = lax.transpose(out, _moveaxis_perm(out.ndim, (out.ndim - 1,), (axis,)))
    return padded


def pad(array: ArrayLike, pad_width: Any, mode: str | Callable[..., Any] = "constant",
        **kwargs: Any) -> Array:
    """Pads an array (numpy's `pad`, with jax's modes).

    Args:
        array: the array to pad.
        pad_width: static widths: `((before_1, after_1), ..., (before_N, after_N))`,
            `((before, after),)`, `(before, after)`, `(pad,)` or `pad`.
        mode: 'constant' (`constant_values=0`), 'edge', 'linear_ramp'
            (`end_values=0`), 'maximum', 'mean', 'median', 'minimum' (`stat_length=None`:
            the whole axis), 'reflect', 'symmetric' (`reflect_type='even'` or 'odd'),
            'wrap', 'empty' (zeros, as jax), or a function
            `f(lane, (before, after), axis, kwargs)` returning each zero-padded 1-D lane
            with its padding filled in (numpy's callable mode).
        **kwargs: the mode's options, as listed.

    Returns:
        The padded array, with `array`'s dtype.

    >>> import lamina.numpy as lnp
    >>> lnp.pad(lnp.arange(3), (1, 2), mode="edge").tolist()
    [0, 0, 1, 2, 2, 2]
    """
    fn = "pad"
    array = _arr(fn, array)
    nd = array.ndim
    if callable(mode):
        return _pad_func(array, _pad_widths(pad_width, nd), mode, kwargs)
    if mode not in _PAD_KWARGS:
        raise NotImplementedError(f"lamina.numpy.pad: unimplemented padding mode {mode!r}; "
                                  f"supported modes: {', '.join(_PAD_KWARGS)}")
    unsupported = set(kwargs) - set(_PAD_KWARGS[mode])
    if unsupported:
        raise ValueError(f"lamina.numpy.pad: unsupported keyword arguments for mode "
                         f"{mode!r}: {sorted(unsupported)}")
    if nd == 0:
        return array
    widths = _pad_widths(pad_width, nd)
    if mode == "constant":
        return _pad_constant(array, widths, kwargs.get("constant_values", 0))
    if mode == "wrap":
        return _pad_wrap(array, widths)
    if mode in ("reflect", "symmetric"):
        reflect_type = kwargs.get("reflect_type", "even")
        if reflect_type not in ("even", "odd"):
            raise ValueError(f"lamina.numpy.pad: reflect_type must be 'even' or 'odd', got "
                             f"{reflect_type!r}")
        return _pad_reflect(array, widths, mode, reflect_type)
    if mode == "edge":
        return _pad_edge(array, widths)
    if mode == "linear_ramp":
        return _pad_linear_ramp(array, widths, _pairs(kwargs.get("end_values", 0), nd,
                                                      "end_values"))
    if mode == "empty":  # NOTE: zeros, as in jax (XLA has no uninitialised memory)
        for i in range(nd):
            parts = [array]
            for side, width in enumerate(widths[i]):
                if width:
                    shape = array.shape[:i] + (width,) + array.shape[i + 1:]
                    parts.insert(2 * side, lax.full_like(array, 0, shape=shape))
            array = _concat(parts, i)
        return array
    stat_length = kwargs.get("stat_length")
    if stat_length is not None:
        stat_length = _pairs(stat_length, nd, "stat_length")
    return _pad_stats(array, widths, stat_length, mode)
