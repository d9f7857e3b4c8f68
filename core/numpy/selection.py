"""Selecting elements by index or by condition, jax.numpy's API: take, take_along_axis,
put_along_axis, nonzero, flatnonzero, argwhere, where, select, choose, compress, extract.

Separate from `indexing` (the `x[idx]` / `x.at[idx]` machinery they build on) because
they are a family of their own: functions with NumPy signatures rather than operators.

Functions whose output size depends on values (`nonzero`, `argwhere`, `compress`,
`extract`, one-argument `where`...) read a count back from the device when their input is
concrete; under a transformation they need the static `size=` argument (jax's contract).
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from lamina import dtypes, lax
from lamina.errors import ConcretizationError
from lamina.ir import Tracer
from lamina.lax._util import canonicalize_axis, operator_index
from lamina.numpy._util import (
    asarray, broadcast_shapes, broadcast_to_shape, check_arraylike, is_lamina_array,
    promote_dtypes,
)
from lamina.numpy._lax_helpers import (
    _aval, _check_concrete, _concrete_int, _const, _convert, _count_true, _full,
    _index_dtype, _int_dtype, _ravel, _slice_axis, _static_size, _to_bool, _where,
)
from lamina.numpy.indexing import _scatter_update
from lamina.numpy._index_plan import _normalize_array

__all__ = [
    "argwhere",
    "choose",
    "compress",
    "extract",
    "flatnonzero",
    "nonzero",
    "put_along_axis",
    "select",
    "take",
    "take_along_axis",
    "where",
]

Array = Any  # lamina.Array or a Tracer
ArrayLike = Any


# --------------------------------------------------------------------------------------
# take, take_along_axis, put_along_axis
# --------------------------------------------------------------------------------------


def _check_out(out: Any, fun_name: str) -> None:
    if out is not None:
        raise NotImplementedError(f"The 'out' argument to lamina.numpy.{fun_name} is not "
                                  "supported (lamina arrays are immutable).")


def _check_int_indices(indices: Array, fun_name: str) -> None:
    if not dtypes.is_integer(indices.dtype):
        raise TypeError(f"lamina.numpy.{fun_name}: indices must have an integer dtype, got "
                        f"{indices.aval.str_short()}")


def take(a: ArrayLike, indices: ArrayLike, axis: int | None = None, out: None = None,
         mode: str | None = None, unique_indices: bool = False,
         indices_are_sorted: bool = False, fill_value: Any = None) -> Array:
    """Take elements of `a` at `indices` along `axis` (numpy.take, via one gather).

    Args:
        a: the array to take from.
        indices: integer array of indices.
        axis: the axis to take along; None takes from the flattened array.
        out: unsupported (must be None).
        mode: out-of-bounds handling: None/'fill' (the default; out-of-bounds indices
            read `fill_value`), 'clip' or 'wrap'. 'raise' is not supported.
        unique_indices: a promise passed to the gather.
        indices_are_sorted: a promise passed to the gather.
        fill_value: the value of out-of-bounds reads with mode 'fill' (default NaN for
            inexact dtypes, the minimum/maximum of signed/unsigned integers, True).

    Returns:
        `a`'s dimensions with `axis` replaced by `indices`' dimensions.

    >>> import lamina.numpy as lnp
    >>> lnp.take(lnp.asarray([[1., 2., 3.], [4., 5., 6.]]), lnp.asarray([2, 0]), axis=1)
    Array([[3., 1.],
           [6., 4.]], dtype=float32)
    """
    _check_out(out, "take")
    check_arraylike("take", a, indices)
    a, indices = asarray(a), asarray(indices)
    _check_int_indices(indices, "take")
    if axis is None:
        a = _ravel(a)
        axis = 0
    axis = canonicalize_axis(operator_index(axis), a.ndim, "lamina.numpy.take")
    size = a.shape[axis]
    if mode is None or mode == "fill":
        gather_mode = "fill"
        idx = _normalize_array(indices, size, _index_dtype(a.shape), True)
    elif mode == "raise":
        raise NotImplementedError("The 'raise' mode of lamina.numpy.take is not supported "
                                  "(it would need a device-to-host check); use 'fill', "
                                  "'clip' or 'wrap'.")
    elif mode == "wrap":
        gather_mode = "promise_in_bounds"
        idx = _floor_mod(_convert(indices, _index_dtype(a.shape)), size) if size else indices
    elif mode == "clip":
        gather_mode = "clip"
        idx = _convert(indices, _index_dtype(a.shape))
    else:
        raise ValueError(f"lamina.numpy.take: invalid mode {mode!r}; expected 'fill', 'clip' "
                         "or 'wrap'")
    out_shape = a.shape[:axis] + indices.shape + a.shape[axis + 1:]
    if size == 0:
        if indices.size:
            raise IndexError("lamina.numpy.take: cannot take a non-empty selection from an "
                             f"empty axis (axis {axis} of {a.aval.str_short()})")
        return _full(out_shape, 0, a.dtype, a.weak_type)
    if indices.size == 0:
        return _full(out_shape, 0, a.dtype, a.weak_type)
    slice_sizes = list(a.shape)
    slice_sizes[axis] = 1
    nd = indices.ndim
    dnums = lax.GatherDimensionNumbers(
        offset_dims=tuple(range(axis)) + tuple(range(axis + nd, a.ndim + nd - 1)),
        collapsed_slice_dims=(axis,), start_index_map=(axis,))
    return lax.gather(a, lax.reshape(idx, indices.shape + (1,)), dnums, tuple(slice_sizes),
                      mode=gather_mode, unique_indices=unique_indices,
                      indices_are_sorted=indices_are_sorted, fill_value=fill_value)


def _floor_mod(x: Array, n: int) -> Array:
    """`x mod n` with a non-negative result (n > 0)."""
    dtype = _aval(x).dtype
    r = lax.rem(x, _const(n, dtype))
    if dtypes.is_unsigned_integer(dtype):
        return r
    return lax.select(lax.lt(r, _const(0, dtype)), lax.add(r, _const(n, dtype)), r)


def take_along_axis(arr: ArrayLike, indices: ArrayLike, axis: int | None = -1,
                    mode: str | None = None, fill_value: Any = None) -> Array:
    """Take values of `arr` at `indices` along `axis`, matching the other dimensions
    (numpy.take_along_axis, via one gather with batching dimensions).

    Args:
        arr: the source array.
        indices: integer array of `arr`'s rank (1-D if `axis` is None), broadcast
            against `arr` in the dimensions other than `axis`.
        axis: the axis to take along; None flattens `arr`.
        mode: None/'fill' (default: out-of-bounds reads give `fill_value`), 'clip' or
            'promise_in_bounds'.
        fill_value: the value of out-of-bounds reads with mode 'fill'.

    Returns:
        The taken values, of the broadcast shape.

    >>> import lamina.numpy as lnp
    >>> x = lnp.asarray([[5, 3, 4], [2, 7, 6]])
    >>> lnp.take_along_axis(x, lnp.asarray([[1], [0]]), axis=1)
    Array([[3],
           [2]], dtype=int32)
    """
    check_arraylike("take_along_axis", arr, indices)
    a, indices = asarray(arr), asarray(indices)
    _check_int_indices(indices, "take_along_axis")
    if axis is None:
        if indices.ndim != 1:
            raise ValueError(f"lamina.numpy.take_along_axis: indices must be 1-D when axis is "
                             f"None, got shape {indices.shape}")
        a = _ravel(a)
        axis = 0
    if a.ndim != indices.ndim:
        raise ValueError(f"lamina.numpy.take_along_axis: indices and arr must have the same "
                         f"number of dimensions; got {indices.ndim} and {a.ndim}")
    axis = canonicalize_axis(operator_index(axis), a.ndim, "lamina.numpy.take_along_axis")
    idx_shape = indices.shape
    arr_shape = a.shape[:axis] + (1,) + a.shape[axis + 1:]
    out_shape = broadcast_shapes("take_along_axis", idx_shape, arr_shape)
    size = a.shape[axis]
    if size == 0 or math.prod(out_shape) == 0:
        return _full(out_shape, 0, a.dtype, a.weak_type)
    dtype = _index_dtype(a.shape)
    idx = _normalize_array(indices, size, dtype, mode != "promise_in_bounds")
    index_dims = [i for i in range(a.ndim) if i == axis or idx_shape[i] != 1]
    idx = lax.reshape(idx, tuple(out_shape[i] for i in index_dims) + (1,))
    slice_sizes, offset, start_map, collapsed = [], [], [], []
    operand_batch, index_batch, squeeze = [], [], []
    new_i = j = 0
    for i in range(a.ndim):
        if i == axis:
            slice_sizes.append(1)
            start_map.append(new_i)
            collapsed.append(new_i)
            new_i += 1
            j += 1
        elif idx_shape[i] == 1:
            offset.append(i)
            slice_sizes.append(a.shape[i])
            new_i += 1
        elif a.shape[i] == 1:
            squeeze.append(i)
            j += 1
        else:
            slice_sizes.append(1)
            operand_batch.append(new_i)
            index_batch.append(j)
            new_i += 1
            j += 1
    if squeeze:
        a = lax.squeeze(a, tuple(squeeze))
    dnums = lax.GatherDimensionNumbers(
        offset_dims=tuple(offset), collapsed_slice_dims=tuple(collapsed),
        start_index_map=tuple(start_map), operand_batching_dims=tuple(operand_batch),
        start_indices_batching_dims=tuple(index_batch))
    return lax.gather(a, idx, dnums, tuple(slice_sizes), mode="fill" if mode is None else mode,
                      fill_value=fill_value)


def put_along_axis(arr: ArrayLike, indices: ArrayLike, values: ArrayLike, axis: int | None,
                   inplace: bool = True, *, mode: str | None = None) -> Array:
    """A copy of `arr` with `values` put at `indices` along `axis` (numpy.put_along_axis).

    lamina arrays are immutable: pass `inplace=False` (as in jax) to get the updated copy.

    Args:
        arr: the array to update.
        indices: integer array of `arr`'s rank (1-D if `axis` is None).
        values: values broadcast to `indices`' shape.
        axis: the axis to put along; None flattens `arr`.
        inplace: must be False.
        mode: out-of-bounds handling, as for `x.at[idx].set` (default: dropped).

    Returns:
        The updated array, of `arr`'s shape.
    """
    if inplace:
        raise ValueError("lamina.numpy.put_along_axis cannot modify arrays in place (lamina "
                         "arrays are immutable); pass inplace=False to get an updated copy")
    check_arraylike("put_along_axis", arr, indices, values)
    a, indices = asarray(arr), asarray(indices)
    _check_int_indices(indices, "put_along_axis")
    original_shape = a.shape
    if axis is None:
        a = _ravel(a)
        axis = 0
    if a.ndim != indices.ndim:
        raise ValueError(f"lamina.numpy.put_along_axis: arr and indices must have the same "
                         f"number of dimensions; got {a.ndim} and {indices.ndim}")
    axis = canonicalize_axis(operator_index(axis), a.ndim, "lamina.numpy.put_along_axis")
    values = asarray(values)
    try:
        broadcast_shapes("put_along_axis", values.shape, indices.shape)
    except ValueError:
        raise ValueError(f"lamina.numpy.put_along_axis: values of shape {values.shape} must "
                         f"broadcast to the indices' shape {indices.shape}") from None
    values = broadcast_to_shape(values, broadcast_shapes("put_along_axis", values.shape,
                                                         indices.shape))
    idx = tuple(indices if i == axis else
                np.arange(n, dtype=np.int32).reshape([n if k == i else 1 for k in range(a.ndim)])
                for i, n in enumerate(a.shape))
    out = _scatter_update(a, idx, values, "set", indices_are_sorted=False,
                          unique_indices=False, mode=mode, normalize=True)
    return lax.reshape(out, original_shape)


# --------------------------------------------------------------------------------------
# nonzero and friends, where, select, choose, compress, extract
# --------------------------------------------------------------------------------------


def _first_true_positions(flat: Array, size: int) -> Array:
    """The positions of the first `size` True entries of a 1-D bool array, in order (one
    stable sort of (not mask, iota)); entries past the count are arbitrary."""
    n = _aval(flat).shape[0]
    iota = lax.iota(_int_dtype(), n)
    _, perm = lax.sort((lax.bitwise_not(flat), iota), num_keys=1, is_stable=True)
    if size <= n:
        return _slice_axis(perm, 0, size)
    return lax.pad(perm, _const(0, _int_dtype()), [(0, size - n, 0)])


def nonzero(a: ArrayLike, *, size: int | None = None,
            fill_value: ArrayLike | tuple[ArrayLike, ...] | None = None) -> tuple[Array, ...]:
    """Indices of the non-zero elements of `a`, one array per dimension (numpy.nonzero).

    Args:
        a: an array of rank >= 1.
        size: the static length of the results. Without it, `a` must be concrete (the
            count is read back); under a transformation it is required. Extra
            positions are padded with `fill_value`, surplus non-zeros dropped.
        fill_value: the padding (a scalar, or one per dimension); default 0.

    Returns:
        A tuple of `a.ndim` int arrays.

    >>> import lamina.numpy as lnp
    >>> lnp.nonzero(lnp.asarray([0, 3, 0, 5]))
    (Array([1, 3], dtype=int32),)
    """
    check_arraylike("nonzero", a)
    arr = asarray(a)
    if arr.ndim == 0:
        raise ValueError("lamina.numpy.nonzero: calling nonzero on 0-d arrays is not allowed; "
                         "use lnp.atleast_1d(x).nonzero() instead")
    mask = _to_bool(arr)
    count = None
    if size is None:
        count = _count_true(mask)
        size = _concrete_int(count, "nonzero", f"its input {arr.aval.str_short()}")
        exact = True
    else:
        size = _static_size(size, "nonzero")
        exact = False
    dtype = _int_dtype()
    if arr.size == 0 or size == 0:
        return tuple(_full((size,), 0, dtype) for _ in arr.shape)
    positions = _first_true_positions(_ravel(mask), size)
    outs = []
    stride = arr.size
    for k, dim in enumerate(arr.shape):
        stride //= dim
        out = positions if stride == 1 else lax.div(positions, _const(stride, dtype))
        if k > 0:
            out = lax.rem(out, _const(dim, dtype))
        outs.append(out)
    if not exact:
        if fill_value is None:
            fills: tuple[Any, ...] = (0,) * arr.ndim
        elif isinstance(fill_value, tuple):
            fills = fill_value
        else:
            fills = (fill_value,) * arr.ndim
        if len(fills) != arr.ndim or any(np.ndim(f) != 0 for f in fills):
            raise ValueError(f"lamina.numpy.nonzero: fill_value must be a scalar or a tuple of "
                             f"{arr.ndim} scalars; got {fill_value!r}")
        valid = lax.lt(lax.iota(np.int32, size), count if count is not None
                       else _count_true(mask))
        outs = [lax.select(valid, o, lax.broadcast_in_dim(_convert(f, dtype), (size,), ())
                           if is_lamina_array(f) else _full((size,), f, dtype))
                for o, f in zip(outs, fills)]
    return tuple(outs)


def flatnonzero(a: ArrayLike, *, size: int | None = None,
                fill_value: ArrayLike | None = None) -> Array:
    """Indices of the non-zero elements of the flattened `a` (numpy.flatnonzero).

    Args:
        a: an array.
        size: the static length of the result (see `nonzero`).
        fill_value: the padding when `size` exceeds the count (default 0).

    Returns:
        A 1-D int array.
    """
    check_arraylike("flatnonzero", a)
    return nonzero(_ravel(asarray(a)) if np.ndim(a) != 1 else a, size=size,
                   fill_value=fill_value)[0]


def argwhere(a: ArrayLike, *, size: int | None = None,
             fill_value: ArrayLike | None = None) -> Array:
    """Indices of the non-zero elements, as an `(N, a.ndim)` array (numpy.argwhere).

    Args:
        a: an array.
        size: the static number of rows (see `nonzero`).
        fill_value: the padding when `size` exceeds the count (default 0).

    Returns:
        An int array of shape `(N, a.ndim)`.
    """
    check_arraylike("argwhere", a)
    arr = asarray(a)
    if arr.ndim == 0:
        (first,) = nonzero(lax.reshape(arr, (1,)), size=size, fill_value=fill_value)
        return _full((first.shape[0], 0), 0, _int_dtype())
    parts = nonzero(arr, size=size, fill_value=fill_value)
    n = parts[0].shape[0]
    cols = [lax.reshape(p, (n, 1)) for p in parts]
    return cols[0] if len(cols) == 1 else lax.concatenate(cols, 1)


def where(condition: ArrayLike, x: ArrayLike | None = None, y: ArrayLike | None = None, /, *,
          size: int | None = None, fill_value: Any = None) -> Any:
    """`x` where `condition` is true, else `y` (numpy.where); with only `condition`,
    `nonzero(condition, size=size, fill_value=fill_value)`.

    Args:
        condition: an array; non-bool values are tested against zero.
        x: values where `condition` is true.
        y: values where `condition` is false.
        size: only for the one-argument form (see `nonzero`).
        fill_value: only for the one-argument form.

    Returns:
        The selected values, of the broadcast shape and the promoted dtype of `x`, `y`.

    >>> import lamina.numpy as lnp
    >>> lnp.where(lnp.asarray([True, False]), 1.0, lnp.asarray([5.0, 6.0]))
    Array([1., 6.], dtype=float32)
    """
    if x is None and y is None:
        check_arraylike("where", condition)
        return nonzero(condition, size=size, fill_value=fill_value)
    if x is None or y is None:
        raise ValueError("lamina.numpy.where: either both or neither of x and y should be "
                         f"given; got x={x!r} and y={y!r}")
    if size is not None or fill_value is not None:
        raise ValueError("lamina.numpy.where: size and fill_value cannot be used with the "
                         "three-argument form")
    check_arraylike("where", condition, x, y)
    x, y = promote_dtypes(x, y)
    return _where(_to_bool(asarray(condition)), x, y)


def select(condlist: Sequence[ArrayLike], choicelist: Sequence[ArrayLike],
           default: ArrayLike = 0) -> Array:
    """Elementwise, the choice of the first true condition, else `default`
    (numpy.select).

    Args:
        condlist: a sequence of conditions (non-bool values are tested against zero).
        choicelist: a sequence of arrays, one per condition.
        default: the value where no condition holds.

    Returns:
        The selected values, of the broadcast shape and promoted dtype.
    """
    if len(condlist) != len(choicelist):
        raise ValueError(f"lamina.numpy.select: condlist must have length equal to "
                         f"choicelist ({len(condlist)} vs {len(choicelist)})")
    if len(condlist) == 0:
        raise ValueError("lamina.numpy.select: condlist must be non-empty")
    check_arraylike("select", *condlist, *choicelist, default)
    default, *choices = promote_dtypes(default, *choicelist)
    conds = [_to_bool(asarray(c)) for c in condlist]
    shape = broadcast_shapes("select", *[_aval(v).shape for v in (*conds, *choices, default)])
    out = broadcast_to_shape(default, shape)
    # NOTE: later conditions first, so that the first true condition wins.
    for cond, choice in zip(reversed(conds), reversed(choices)):
        out = _where(cond, choice, out)
    return out


def choose(a: ArrayLike, choices: Sequence[ArrayLike], out: None = None,
           mode: str = "raise") -> Array:
    """Build an array from `choices`, picked elementwise by the integer array `a`
    (numpy.choose; one lax.select_n).

    Args:
        a: integer array of indices into `choices`.
        choices: a sequence of arrays (or an array, split along axis 0).
        out: unsupported (must be None).
        mode: 'raise' (a must be concrete and in range), 'wrap' or 'clip'.

    Returns:
        The chosen values, of the broadcast shape and promoted dtype.
    """
    _check_out(out, "choose")
    check_arraylike("choose", a)
    a = asarray(a)
    if is_lamina_array(choices) or isinstance(choices, np.ndarray):
        choices = [choices[i] for i in range(choices.shape[0])]
    check_arraylike("choose", *choices)
    if not dtypes.is_integer(a.dtype):
        raise TypeError(f"lamina.numpy.choose: a must be an integer array, got "
                        f"{a.aval.str_short()}")
    n = len(choices)
    if n == 0:
        raise ValueError("lamina.numpy.choose: choices must be non-empty")
    if mode == "raise":
        if isinstance(a, Tracer):
            raise ConcretizationError(
                "lamina.numpy.choose with mode='raise' needs concrete indices to check their "
                f"range, got a traced {a.aval.str_short()}; use mode='wrap' or mode='clip'")
        bad = lax.bitwise_or(lax.lt(a, _const(0, a.dtype)),
                             lax.ge(a, _const(n, a.dtype)) if n <= np.iinfo(a.dtype).max
                             else _full(a.shape, False, np.bool_))
        if a.size and bool(lax.reduce_or(bad, tuple(range(a.ndim)))):
            raise ValueError(f"lamina.numpy.choose: invalid entry in choice array (indices must "
                             f"lie in [0, {n}))")
    elif mode == "wrap":
        a = _floor_mod(a, n)
    elif mode != "clip":
        raise ValueError(f"lamina.numpy.choose: mode={mode!r} not understood; must be 'raise', "
                         "'wrap' or 'clip'")
    choices = promote_dtypes(*choices)
    shape = broadcast_shapes("choose", a.shape, *[_aval(c).shape for c in choices])
    which = _convert(broadcast_to_shape(a, shape), np.int32)
    # NOTE: select_n clamps out-of-range `which` to the first/last case, i.e. mode='clip'.
    return lax.select_n(which, *[broadcast_to_shape(c, shape) for c in choices])


def compress(condition: ArrayLike, a: ArrayLike, axis: int | None = None, *,
             size: int | None = None, fill_value: ArrayLike = 0, out: None = None) -> Array:
    """The slices of `a` along `axis` where the 1-D `condition` is true (numpy.compress).

    Args:
        condition: a 1-D array (non-bool values are tested against zero).
        a: the array.
        axis: the axis to select along; None flattens `a`.
        size: the static number of selected slices (pads with `fill_value`). Without
            it, `condition` must be concrete.
        fill_value: the padding value.
        out: unsupported (must be None).

    Returns:
        The selected slices.
    """
    _check_out(out, "compress")
    check_arraylike("compress", condition, a, fill_value)
    cond, arr = _to_bool(asarray(condition)), asarray(a)
    if cond.ndim != 1:
        raise ValueError(f"lamina.numpy.compress: condition must be a 1-D array, got shape "
                         f"{cond.shape}")
    if axis is None:
        arr, axis = _ravel(arr), 0
    axis = canonicalize_axis(operator_index(axis), arr.ndim, "lamina.numpy.compress")
    n = arr.shape[axis]
    if cond.shape[0] > n:
        extra = _slice_axis(cond, n, cond.shape[0])
        cond = _slice_axis(cond, 0, n)
        if size is None:
            _check_concrete(extra, "compress", "condition")
            if bool(lax.reduce_or(extra, (0,))):
                raise ValueError("lamina.numpy.compress: condition contains entries that are "
                                 f"out of bounds for an axis of size {n}")
    arr = _slice_axis(arr, 0, cond.shape[0], axis)
    if size is None:
        _check_concrete(cond, "compress", "condition")
        count = _concrete_int(_count_true(cond), "compress", "condition")
        idx = nonzero(cond, size=count)[0]
        return take(arr, idx, axis=axis, mode="clip")
    size = _static_size(size, "compress")
    if size > cond.shape[0]:
        raise ValueError(f"lamina.numpy.compress: size must not exceed the size of the array "
                         f"axis; got size={size} for a.shape[axis]={cond.shape[0]}")
    idx = nonzero(cond, size=size, fill_value=cond.shape[0])[0]
    fill = np.asarray(fill_value).item() if not is_lamina_array(fill_value) else fill_value
    return take(arr, idx, axis=axis, mode="fill", fill_value=fill)


def extract(condition: ArrayLike, arr: ArrayLike, *, size: int | None = None,
            fill_value: ArrayLike = 0) -> Array:
    """The elements of `arr` where `condition` is non-zero, flattened (numpy.extract).

    Args:
        condition: an array of `arr`'s size.
        arr: the array.
        size: the static length of the result (pads with `fill_value`).
        fill_value: the padding value.

    Returns:
        A 1-D array.
    """
    check_arraylike("extract", condition, arr, fill_value)
    return compress(_ravel(asarray(condition)), _ravel(asarray(arr)), size=size,
                    fill_value=fill_value)
