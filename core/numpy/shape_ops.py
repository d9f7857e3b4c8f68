"""Shape manipulation of `lamina.numpy`: reshaping, transposing, joining, splitting,
tiling, flipping, padding (jax.numpy's names, signatures and semantics).

Everything is a composition of `lamina.lax` structural ops. Shapes, axes, split points
and other static arguments must be concrete Python values (a traced value raises
`ConcretizationError`); numpy is used only for that static index arithmetic.
"""
from __future__ import annotations

import math
import operator
from typing import Any, Callable, Sequence

import numpy as np

from lamina import dtypes
from lamina import lax
from lamina.backend.array import Array as _DeviceArray
from lamina.errors import ConcretizationError
from lamina.ir import Tracer
from lamina.numpy._util import (
    asarray,
    broadcast_shapes as _broadcast_shapes,
    check_arraylike,
    is_lamina_array,
    promote_dtypes,
)

__all__ = [
    "reshape", "ravel", "transpose", "matrix_transpose", "permute_dims", "moveaxis",
    "rollaxis", "swapaxes", "squeeze", "expand_dims", "concatenate", "concat", "stack",
    "hstack", "vstack", "dstack", "column_stack", "split", "array_split", "hsplit",
    "vsplit", "dsplit", "tile", "repeat", "broadcast_to", "broadcast_arrays",
    "broadcast_shapes", "flip", "fliplr", "flipud", "roll", "rot90", "pad", "atleast_1d",
    "atleast_2d", "atleast_3d", "append", "insert", "delete", "resize", "diagonal",
    "astype", "trim_zeros", "unstack", "block",
]

Array = Any
ArrayLike = Any


# --------------------------------------------------------------------------------------
# Private helpers (also used by lamina.numpy.creation)
# --------------------------------------------------------------------------------------


def _name(fn: str) -> str:
    return f"lamina.numpy.{fn}"


def _arr(fn: str, x: ArrayLike) -> Array:
    """`x` checked (no lists) and converted to a lamina value."""
    check_arraylike(_name(fn), x)
    return asarray(x)


def _static_int(fn: str, what: str, x: Any) -> int:
    """A concrete Python int (a tracer raises ConcretizationError naming `what`)."""
    if isinstance(x, Tracer):
        raise x._concrete_value_error(f"{_name(fn)} argument `{what}`")
    try:
        return operator.index(x)
    except TypeError:
        raise TypeError(f"{_name(fn)}: `{what}` must be an integer, got "
                        f"{type(x).__name__}: {x!r}") from None


def _axis(fn: str, axis: Any, ndim: int) -> int:
    """A non-negative axis, or an error naming the function, the axis and the rank."""
    axis = _static_int(fn, "axis", axis)
    if not -ndim <= axis < ndim:
        raise ValueError(f"{_name(fn)}: axis {axis} is out of bounds for an array of "
                         f"dimension {ndim}")
    return axis % ndim


def _axes(fn: str, axes: Any, ndim: int, what: str = "axis") -> tuple[int, ...]:
    """A tuple of non-negative axes (an int is one axis); repeats are an error."""
    if isinstance(axes, (int, np.integer)) or is_lamina_array(axes):
        axes = (axes,)
    try:
        out = tuple(_axis(fn, a, ndim) for a in axes)
    except TypeError as e:
        if isinstance(e, ConcretizationError):
            raise
        raise TypeError(f"{_name(fn)}: `{what}` must be an integer or a sequence of "
                        f"integers, got {axes!r}") from None
    if len(set(out)) != len(out):
        raise ValueError(f"{_name(fn)}: repeated axis in `{what}` {tuple(axes)}")
    return out


def _host(x: Any) -> Any:
    """A concrete lamina Array as a numpy array (for static arguments); a tracer raises
    ConcretizationError; anything else is returned unchanged."""
    if isinstance(x, Tracer):
        raise x._concrete_value_error("A static (shape, axis or index) argument")
    return np.asarray(x) if isinstance(x, _DeviceArray) else x


def _shape_tuple(fn: str, shape: Any, what: str = "shape") -> tuple[int, ...]:
    """A tuple of concrete ints (entries may be negative: callers check)."""
    if isinstance(shape, Tracer):
        raise shape._concrete_value_error(f"{_name(fn)} argument `{what}`")
    shape = _host(shape)
    if isinstance(shape, (int, np.integer)) or (isinstance(shape, np.ndarray) and shape.ndim == 0):
        shape = (shape,)
    try:
        items = list(shape)
    except TypeError:
        raise TypeError(f"{_name(fn)}: `{what}` must be an integer or a sequence of "
                        f"integers, got {type(shape).__name__}: {shape!r}") from None
    return tuple(_static_int(fn, what, d) for d in items)


def _moveaxis_perm(ndim: int, source: Sequence[int], dest: Sequence[int]) -> tuple[int, ...]:
    perm = [i for i in range(ndim) if i not in source]
    for d, s in sorted(zip(dest, source)):
        perm.insert(d, s)
    return tuple(perm)


def _slice_axis(x: Array, start: int, stop: int, axis: int, step: int = 1) -> Array:
    """`x[..., start:stop:step, ...]` along `axis` with in-range static bounds; no op
    when it selects everything."""
    n = x.shape[axis]
    if start == 0 and stop == n and step == 1:
        return x
    starts = [0] * x.ndim
    limits = list(x.shape)
    strides = [1] * x.ndim
    starts[axis], limits[axis], strides[axis] = start, stop, step
    return lax.slice(x, starts, limits, strides)


def _concat(parts: Sequence[Array], axis: int) -> Array:
    parts = [p for p in parts if p.shape[axis] != 0] or list(parts[:1])
    return parts[0] if len(parts) == 1 else lax.concatenate(parts, axis)


def _repeat_unit(x: Array, n: int, axis: int) -> Array:
    """Broadcast a size-1 `axis` of `x` to size `n`."""
    shape = list(x.shape)
    shape[axis] = n
    return lax.broadcast_in_dim(x, tuple(shape), tuple(range(x.ndim)))


# NOTE: more runs than this are cheaper as one gather than as slices plus a concatenate
# (each slice is a dispatch when running eagerly).
_MAX_RUNS = 8


def _gather_static(sources: Sequence[Array], index: np.ndarray, axis: int) -> Array:
    """Select positions `index` (static, into the concatenation of `sources` along
    `axis`). Runs of consecutive positions become slices; many runs become one gather."""
    sizes = [s.shape[axis] for s in sources]
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    index = np.asarray(index, np.int64).reshape(-1)
    if index.size == 0:
        return _slice_axis(sources[0], 0, 0, axis)
    src = np.searchsorted(offsets, index, side="right") - 1
    breaks = np.flatnonzero((np.diff(index) != 1) | (np.diff(src) != 0)) + 1
    starts = np.concatenate([[0], breaks])
    stops = np.concatenate([breaks, [index.size]])
    if len(starts) <= _MAX_RUNS:
        parts = []
        for b, e in zip(starts, stops):
            s = int(src[b])
            lo = int(index[b] - offsets[s])
            parts.append(_slice_axis(sources[s], lo, lo + int(e - b), axis))
        return _concat(parts, axis)
    x = _concat(list(sources), axis)
    return _take(x, index, axis, sorted_=bool(np.all(np.diff(index) >= 0)))


def _take(x: Array, index: Any, axis: int, sorted_: bool) -> Array:
    """`x` indexed along `axis` by in-range indices (a static numpy vector or a traced
    int32 vector), as one `lax.gather`."""
    ndim = x.ndim
    if isinstance(index, np.ndarray):
        idx: Any = index.astype(np.int32).reshape(-1, 1)
    else:
        idx = lax.reshape(index, (index.shape[0], 1))
    dnums = lax.GatherDimensionNumbers(
        offset_dims=tuple(d for d in range(ndim) if d != axis),
        collapsed_slice_dims=(axis,), start_index_map=(axis,))
    slice_sizes = tuple(1 if d == axis else s for d, s in enumerate(x.shape))
    return lax.gather(x, idx, dnums, slice_sizes, indices_are_sorted=sorted_,
                      mode=lax.GatherScatterMode.PROMISE_IN_BOUNDS)


def _copy(x: Array) -> Array:
    """A new buffer with `x`'s value (jax's `_array_copy`): later `x.delete()` or
    donation leaves the copy intact. Tracers are values, not buffers: returned as is."""
    if isinstance(x, Tracer):
        return x
    from lamina.lax.elementwise import convert_element_type_p
    # NOTE: the primitive, not the wrapper (which returns an unchanged Array as is):
    # its executable writes a fresh output buffer.
    return convert_element_type_p.bind(x, new_dtype=x.dtype, weak_type=x.weak_type)


# --------------------------------------------------------------------------------------
# Reshaping and transposing
# --------------------------------------------------------------------------------------


def _compute_newshape(fn: str, a: Array, shape: Any) -> tuple[int, ...]:
    given = _shape_tuple(fn, shape)
    size = a.size
    unknown = [i for i, d in enumerate(given) if d == -1]
    if len(unknown) > 1:
        raise TypeError(f"{_name(fn)}: can only specify one unknown dimension (-1), got "
                         f"shape {given}")
    if any(d < -1 for d in given):
        raise ValueError(f"{_name(fn)}: shape {given} has a negative dimension")
    if unknown:
        i = unknown[0]
        known = math.prod(given[:i] + given[i + 1:])
        if known == 0 or size % known:
            raise TypeError(
                f"{_name(fn)}: cannot reshape array of shape {a.shape} (size {size}) into "
                f"shape {given}: the product of the specified sizes ({known}) does not "
                f"evenly divide {size}")
        return given[:i] + (size // known,) + given[i + 1:]
    if math.prod(given) != size:
        raise TypeError(f"{_name(fn)}: cannot reshape array of shape {a.shape} (size {size}) "
                        f"into shape {given} (size {math.prod(given)})")
    return given


def reshape(a: ArrayLike, shape: Any = None, order: str = "C", *,
            copy: bool | None = None) -> Array:
    """Gives `a` a new shape with the same number of elements.

    Args:
        a: an array or scalar.
        shape: an int or tuple of ints; one entry may be -1 (inferred).
        order: 'C' (row-major) or 'F' (column-major) reading and writing order.
        copy: if True, the result is a new buffer even when nothing changes.

    Returns:
        The reshaped array.

    Raises:
        TypeError: if the sizes do not match (the message names both shapes and sizes).

    >>> import lamina.numpy as lnp
    >>> lnp.reshape(lnp.arange(6), (2, -1)).shape
    (2, 3)
    """
    a = _arr("reshape", a)
    if shape is None:
        raise TypeError("lamina.numpy.reshape() missing required argument 'shape'")
    new = _compute_newshape("reshape", a, shape)
    if order == "C":
        out = lax.reshape(a, new)
    elif order == "F":
        dims = tuple(range(a.ndim))[::-1]
        out = lax.transpose(lax.reshape(a, new[::-1], dims), tuple(range(len(new)))[::-1])
    elif order == "A":
        raise NotImplementedError("lamina.numpy.reshape: order='A' is not implemented")
    else:
        raise ValueError(f"lamina.numpy.reshape: order must be 'C' or 'F', got {order!r}")
    return _copy(out) if copy and out is a else out


def ravel(a: ArrayLike, order: str = "C") -> Array:
    """`a` flattened to one dimension.

    Args:
        a: an array or scalar.
        order: 'C' or 'F'.

    Returns:
        A 1-D array of `a.size` elements.

    >>> import lamina.numpy as lnp
    >>> lnp.ravel(lnp.zeros((2, 3))).shape
    (6,)
    """
    a = _arr("ravel", a)
    if order == "K":
        raise NotImplementedError("lamina.numpy.ravel: order='K' is not implemented")
    return reshape(a, (a.size,), order=order)


def transpose(a: ArrayLike, axes: Sequence[int] | None = None) -> Array:
    """Permutes the axes of `a` (reverses them when `axes` is None).

    Args:
        a: an array or scalar.
        axes: a permutation of `range(a.ndim)`; negative entries count from the end.

    Returns:
        The transposed array.

    >>> import lamina.numpy as lnp
    >>> lnp.transpose(lnp.zeros((2, 3, 4)), (1, 0, 2)).shape
    (3, 2, 4)
    """
    a = _arr("transpose", a)
    if axes is None:
        perm = tuple(range(a.ndim))[::-1]
    else:
        # NOTE: TypeError for a non-permutation, as jax (numpy raises ValueError).
        try:
            perm = _axes("transpose", axes, a.ndim, "axes")
        except ValueError as e:
            raise TypeError(str(e)) from None
        if len(perm) != a.ndim:
            raise TypeError(f"lamina.numpy.transpose: axes {tuple(axes)} are not a permutation "
                            f"of the axes of an array of dimension {a.ndim}")
    return lax.transpose(a, perm)


def permute_dims(a: ArrayLike, /, axes: Sequence[int]) -> Array:
    """The array API's `transpose`: `axes` is required.

    >>> import lamina.numpy as lnp
    >>> lnp.permute_dims(lnp.zeros((2, 3)), (1, 0)).shape
    (3, 2)
    """
    check_arraylike(_name("permute_dims"), a)
    return transpose(a, axes)


def matrix_transpose(x: ArrayLike, /) -> Array:
    """Swaps the last two axes of `x` (which needs at least two).

    >>> import lamina.numpy as lnp
    >>> lnp.matrix_transpose(lnp.zeros((5, 2, 3))).shape
    (5, 3, 2)
    """
    x = _arr("matrix_transpose", x)
    if x.ndim < 2:
        raise ValueError(f"lamina.numpy.matrix_transpose: x must be at least "
                         f"two-dimensional, got shape {x.shape}")
    perm = tuple(range(x.ndim - 2)) + (x.ndim - 1, x.ndim - 2)
    return lax.transpose(x, perm)


def moveaxis(a: ArrayLike, source: int | Sequence[int],
             destination: int | Sequence[int]) -> Array:
    """Moves axes `source` to positions `destination`; the others keep their order.

    Args:
        a: an array.
        source: an axis or a sequence of axes.
        destination: the new positions, as many as `source`.

    Returns:
        The transposed array.

    >>> import lamina.numpy as lnp
    >>> lnp.moveaxis(lnp.zeros((2, 3, 4)), 0, -1).shape
    (3, 4, 2)
    """
    a = _arr("moveaxis", a)
    src = _axes("moveaxis", source, a.ndim, "source")
    dst = _axes("moveaxis", destination, a.ndim, "destination")
    if len(src) != len(dst):
        raise ValueError(f"lamina.numpy.moveaxis: source {source} and destination "
                         f"{destination} must have the same number of elements")
    return lax.transpose(a, _moveaxis_perm(a.ndim, src, dst))


def rollaxis(a: ArrayLike, axis: int, start: int = 0) -> Array:
    """Rolls `axis` backwards until it lies before position `start` (numpy's rule).

    >>> import lamina.numpy as lnp
    >>> lnp.rollaxis(lnp.zeros((2, 3, 4)), 2).shape
    (4, 2, 3)
    """
    a = _arr("rollaxis", a)
    axis = _axis("rollaxis", axis, a.ndim)
    start = _static_int("rollaxis", "start", start)
    if not -a.ndim <= start <= a.ndim:
        raise ValueError(f"lamina.numpy.rollaxis: start {start} is out of bounds for an "
                         f"array of dimension {a.ndim}")
    start = start + a.ndim if start < 0 else start
    if axis < start:
        start -= 1
    return moveaxis(a, axis, start)


def swapaxes(a: ArrayLike, axis1: int, axis2: int) -> Array:
    """Exchanges two axes.

    >>> import lamina.numpy as lnp
    >>> lnp.swapaxes(lnp.zeros((2, 3, 4)), 0, 2).shape
    (4, 3, 2)
    """
    a = _arr("swapaxes", a)
    i, j = _axis("swapaxes", axis1, a.ndim), _axis("swapaxes", axis2, a.ndim)
    perm = list(range(a.ndim))
    perm[i], perm[j] = perm[j], perm[i]
    return lax.transpose(a, tuple(perm))


def squeeze(a: ArrayLike, axis: int | Sequence[int] | None = None) -> Array:
    """Removes axes of length one (all of them when `axis` is None).

    Raises:
        ValueError: if a given axis does not have length one.

    >>> import lamina.numpy as lnp
    >>> lnp.squeeze(lnp.zeros((1, 3, 1))).shape
    (3,)
    """
    a = _arr("squeeze", a)
    if axis is None:
        dims = tuple(i for i, d in enumerate(a.shape) if d == 1)
    else:
        dims = _axes("squeeze", axis, a.ndim)
        bad = [i for i in dims if a.shape[i] != 1]
        if bad:
            raise ValueError(f"lamina.numpy.squeeze: cannot select an axis to squeeze out "
                             f"which has size not equal to one; got shape {a.shape} and "
                             f"axis {axis}")
    return lax.squeeze(a, dims) if dims else a


def expand_dims(a: ArrayLike, axis: int | Sequence[int]) -> Array:
    """Inserts length-one axes at positions `axis` (of the result).

    >>> import lamina.numpy as lnp
    >>> lnp.expand_dims(lnp.zeros(3), (0, 2)).shape
    (1, 3, 1)
    """
    a = _arr("expand_dims", a)
    n = len(axis) if isinstance(axis, (tuple, list)) else 1
    dims = _axes("expand_dims", axis, a.ndim + n)
    shape = list(a.shape)
    for d in sorted(dims):
        shape.insert(d, 1)
    return lax.reshape(a, tuple(shape))


# --------------------------------------------------------------------------------------
# Joining
# --------------------------------------------------------------------------------------

# NOTE: XLA compiles very wide concatenations slowly (jax issue 4638), so more operands
# than this are joined as a tree.
_CONCAT_CHUNK = 64


def _sequence(fn: str, arrays: Any) -> list[Any]:
    if isinstance(arrays, (str, bytes)) or not hasattr(arrays, "__len__"):
        raise TypeError(f"{_name(fn)}: expected a sequence of arrays, got "
                        f"{type(arrays).__name__}")
    arrays = list(arrays)
    check_arraylike(_name(fn), *arrays)
    return arrays


def _promote_with_dtype(fn: str, arrays: Sequence[Any], dtype: Any) -> list[Array]:
    if dtype is None:
        return promote_dtypes(*arrays)
    dtype = dtypes.check_user_dtype_supported(dtype, _name(fn))
    return [asarray(a, dtype) for a in arrays]


def concatenate(arrays: Any, axis: int | None = 0, dtype: Any = None) -> Array:
    """Joins arrays along an existing axis (dtypes are promoted).

    Args:
        arrays: a sequence of arrays, or one array (a sequence of its rows).
        axis: the axis to join along; None flattens every array first.
        dtype: optional result dtype.

    Returns:
        The concatenation.

    >>> import lamina.numpy as lnp
    >>> lnp.concatenate([lnp.zeros((2, 3)), lnp.ones((1, 3))]).shape
    (3, 3)
    """
    fn = "concatenate"
    if isinstance(arrays, np.ndarray) or is_lamina_array(arrays):
        arr = asarray(arrays, None if dtype is None else
                      dtypes.check_user_dtype_supported(dtype, _name(fn)))
        if arr.ndim == 0 or arr.shape[0] == 0:
            raise ValueError(f"{_name(fn)}: need at least one array to concatenate")
        if axis is None:
            return lax.reshape(arr, (arr.size,))
        if arr.ndim == 1:
            raise ValueError(f"{_name(fn)}: zero-dimensional arrays cannot be concatenated")
        ax = _axis(fn, axis, arr.ndim - 1)
        shape = arr.shape[1:ax + 1] + (arr.shape[0] * arr.shape[ax + 1],) + arr.shape[ax + 2:]
        dims = (*range(1, ax + 1), 0, *range(ax + 1, arr.ndim))
        return lax.reshape(arr, shape, dims)
    arrays = _sequence(fn, arrays)
    if not arrays:
        raise ValueError(f"{_name(fn)}: need at least one array to concatenate")
    arrays = _promote_with_dtype(fn, arrays, dtype)
    if axis is None:
        arrays = [lax.reshape(a, (a.size,)) for a in arrays]
        axis = 0
    if any(a.ndim == 0 for a in arrays):
        raise ValueError(f"{_name(fn)}: zero-dimensional arrays cannot be concatenated")
    ax = _axis(fn, axis, arrays[0].ndim)
    first = arrays[0].shape
    for a in arrays[1:]:
        if a.ndim != len(first) or a.shape[:ax] + a.shape[ax + 1:] != first[:ax] + first[ax + 1:]:
            raise TypeError(
                f"{_name(fn)}: all input array dimensions except the concatenation axis "
                f"({ax}) must match exactly; got shapes "
                f"{', '.join(str(x.shape) for x in arrays)}")
    while len(arrays) > 1:
        arrays = [lax.concatenate(arrays[i:i + _CONCAT_CHUNK], ax) if
                  len(arrays[i:i + _CONCAT_CHUNK]) > 1 else arrays[i]
                  for i in range(0, len(arrays), _CONCAT_CHUNK)]
    return arrays[0]


def concat(arrays: Sequence[ArrayLike], /, *, axis: int | None = 0) -> Array:
    """The array API's `concatenate`.

    >>> import lamina.numpy as lnp
    >>> lnp.concat([lnp.zeros(2), lnp.ones(3)]).shape
    (5,)
    """
    return concatenate(arrays, axis=axis)


def stack(arrays: Any, axis: int = 0, out: None = None, dtype: Any = None) -> Array:
    """Joins arrays of one shape along a new axis.

    Args:
        arrays: a sequence of arrays of one shape, or one array (its rows).
        axis: the position of the new axis in the result.
        out: unsupported (must be None).
        dtype: optional result dtype.

    Returns:
        The stacked array.

    >>> import lamina.numpy as lnp
    >>> lnp.stack([lnp.zeros(3), lnp.ones(3)], axis=1).shape
    (3, 2)
    """
    fn = "stack"
    if out is not None:
        raise NotImplementedError("lamina.numpy.stack: the 'out' argument is not supported")
    if isinstance(arrays, np.ndarray) or is_lamina_array(arrays):
        arr = asarray(arrays, None if dtype is None else
                      dtypes.check_user_dtype_supported(dtype, _name(fn)))
        if arr.ndim == 0 or arr.shape[0] == 0:
            raise ValueError(f"{_name(fn)}: need at least one array to stack")
        return lax.transpose(arr, _moveaxis_perm(arr.ndim, (0,), (_axis(fn, axis, arr.ndim),)))
    arrays = _sequence(fn, arrays)
    if not arrays:
        raise ValueError(f"{_name(fn)}: need at least one array to stack")
    arrays = _promote_with_dtype(fn, arrays, dtype)
    shape0 = arrays[0].shape
    if any(a.shape != shape0 for a in arrays[1:]):
        raise ValueError(f"{_name(fn)}: all input arrays must have the same shape; got "
                         f"{', '.join(str(a.shape) for a in arrays)}")
    ax = _axis(fn, axis, len(shape0) + 1)
    new = shape0[:ax] + (1,) + shape0[ax:]
    return concatenate([lax.reshape(a, new) for a in arrays], axis=ax)


def _rows(fn: str, tup: Any) -> list[Any]:
    if isinstance(tup, np.ndarray) or is_lamina_array(tup):
        arr = asarray(tup)
        if arr.ndim == 0:
            raise TypeError(f"{_name(fn)}: expected a sequence of arrays, got a 0-d array")
        return list(unstack(arr))
    return _sequence(fn, tup)


def hstack(tup: Any, dtype: Any = None) -> Array:
    """Joins arrays horizontally: along axis 1, or axis 0 for 1-D arrays.

    >>> import lamina.numpy as lnp
    >>> lnp.hstack([lnp.zeros(2), lnp.ones(3)]).shape
    (5,)
    """
    arrs = [atleast_1d(a) for a in _rows("hstack", tup)]
    if not arrs:
        raise ValueError("lamina.numpy.hstack: need at least one array to concatenate")
    return concatenate(arrs, axis=0 if arrs[0].ndim == 1 else 1, dtype=dtype)


def vstack(tup: Any, dtype: Any = None) -> Array:
    """Joins arrays vertically (along axis 0, after making them at least 2-D).

    >>> import lamina.numpy as lnp
    >>> lnp.vstack([lnp.zeros(3), lnp.ones(3)]).shape
    (2, 3)
    """
    arrs = [atleast_2d(a) for a in _rows("vstack", tup)]
    return concatenate(arrs, axis=0, dtype=dtype)


def dstack(tup: Any, dtype: Any = None) -> Array:
    """Joins arrays depth-wise (along axis 2, after making them at least 3-D).

    >>> import lamina.numpy as lnp
    >>> lnp.dstack([lnp.zeros(3), lnp.ones(3)]).shape
    (1, 3, 2)
    """
    arrs = [atleast_3d(a) for a in _rows("dstack", tup)]
    return concatenate(arrs, axis=2, dtype=dtype)


def column_stack(tup: Any) -> Array:
    """Joins 1-D arrays as columns (and 2-D arrays as they are) along axis 1.

    >>> import lamina.numpy as lnp
    >>> lnp.column_stack([lnp.zeros(3), lnp.ones(3)]).shape
    (3, 2)
    """
    arrs = []
    for a in _rows("column_stack", tup):
        a = asarray(a)
        arrs.append(lax.reshape(a, (a.size, 1)) if a.ndim < 2 else a)
    return concatenate(arrs, axis=1)


def atleast_1d(*arys: ArrayLike) -> Array | list[Array]:
    """Each input as an array of at least one dimension (a list if several).

    >>> import lamina.numpy as lnp
    >>> lnp.atleast_1d(1.0).shape
    (1,)
    """
    check_arraylike(_name("atleast_1d"), *arys)
    out = []
    for a in arys:
        a = asarray(a)
        out.append(lax.reshape(a, (1,)) if a.ndim == 0 else a)
    return out[0] if len(out) == 1 else out


def atleast_2d(*arys: ArrayLike) -> Array | list[Array]:
    """Each input as an array of at least two dimensions (`(n,)` becomes `(1, n)`).

    >>> import lamina.numpy as lnp
    >>> lnp.atleast_2d(lnp.zeros(3)).shape
    (1, 3)
    """
    check_arraylike(_name("atleast_2d"), *arys)
    out = []
    for a in arys:
        a = asarray(a)
        out.append(lax.reshape(a, (1,) * (2 - a.ndim) + a.shape) if a.ndim < 2 else a)
    return out[0] if len(out) == 1 else out


def atleast_3d(*arys: ArrayLike) -> Array | list[Array]:
    """Each input as an array of at least three dimensions (`(n,)` becomes
    `(1, n, 1)`, `(m, n)` becomes `(m, n, 1)`).

    >>> import lamina.numpy as lnp
    >>> lnp.atleast_3d(lnp.zeros((2, 3))).shape
    (2, 3, 1)
    """
    check_arraylike(_name("atleast_3d"), *arys)
    out = []
    for a in arys:
        a = asarray(a)
        if a.ndim == 0:
            a = lax.reshape(a, (1, 1, 1))
        elif a.ndim == 1:
            a = lax.reshape(a, (1, a.shape[0], 1))
        elif a.ndim == 2:
            a = lax.reshape(a, a.shape + (1,))
        out.append(a)
    return out[0] if len(out) == 1 else out


def block(arrays: Any) -> Array:
    """Assembles an array from nested lists of blocks (numpy's `block`).

    >>> import lamina.numpy as lnp
    >>> lnp.block([[lnp.zeros((2, 2)), lnp.ones((2, 1))]]).shape
    (2, 3)
    """
    return _block(arrays)[0]


def _block(xs: Any) -> tuple[Array, int]:
    if isinstance(xs, tuple):
        raise ValueError(f"lamina.numpy.block does not allow tuples, got {xs!r}")
    if isinstance(xs, list):
        if not xs:
            raise ValueError("lamina.numpy.block does not allow empty list arguments")
        parts, depths = zip(*(_block(x) for x in xs))
        if any(d != depths[0] for d in depths[1:]):
            raise ValueError("lamina.numpy.block: mismatched list depths")
        rank = max(depths[0], max(p.ndim for p in parts))
        parts = [lax.reshape(p, (1,) * (rank - p.ndim) + p.shape) if p.ndim < rank else p
                 for p in parts]
        return concatenate(parts, axis=-depths[0]), depths[0] + 1
    return _arr("block", xs), 1


def append(arr: ArrayLike, values: ArrayLike, axis: int | None = None) -> Array:
    """`values` appended to `arr` (both flattened when `axis` is None).

    >>> import lamina.numpy as lnp
    >>> lnp.append(lnp.zeros((2, 2)), lnp.ones((1, 2)), axis=0).shape
    (3, 2)
    """
    check_arraylike(_name("append"), arr, values)
    if axis is None:
        return concatenate([ravel(arr), ravel(values)], axis=0)
    return concatenate([arr, values], axis=axis)


# --------------------------------------------------------------------------------------
# Splitting
# --------------------------------------------------------------------------------------


def _split(fn: str, ary: ArrayLike, indices_or_sections: Any, axis: int) -> list[Array]:
    ary = _arr(fn, ary)
    if ary.ndim == 0:
        raise ValueError(f"{_name(fn)}: cannot split a 0-d array")
    axis = _axis(fn, axis, ary.ndim)
    size = ary.shape[axis]
    ios = indices_or_sections
    if isinstance(ios, Tracer):
        raise ios._concrete_value_error(f"{_name(fn)} argument `indices_or_sections`")
    ios = _host(ios)
    if isinstance(ios, (tuple, list)) or (isinstance(ios, np.ndarray) and ios.ndim > 0):
        points = [_static_int(fn, "indices_or_sections", i) for i in ios]
        # numpy's rule: split points are Python slice bounds (wrapped, then clipped).
        bounds = [0] + [min(max(p + size if p < 0 else p, 0), size) for p in points] + [size]
        if all(b0 <= b1 for b0, b1 in zip(bounds, bounds[1:])):
            return list(lax.split(ary, [b1 - b0 for b0, b1 in zip(bounds, bounds[1:])], axis))
        return [_slice_axis(ary, b0, max(b0, b1), axis) for b0, b1 in zip(bounds, bounds[1:])]
    sections = _static_int(fn, "indices_or_sections", ios)
    if sections <= 0:
        raise ValueError(f"{_name(fn)}: number of sections must be larger than 0, got "
                         f"{sections}")
    part, rest = divmod(size, sections)
    if rest and fn != "array_split":
        raise ValueError(f"{_name(fn)}: array split does not result in an equal division: "
                         f"axis of size {size} into {sections} sections (rest {rest}); use "
                         "array_split for unequal sections")
    sizes = [part + 1] * rest + [part] * (sections - rest)
    return list(lax.split(ary, sizes, axis))


def split(ary: ArrayLike, indices_or_sections: Any, axis: int = 0) -> list[Array]:
    """Splits `ary` into equal sections, or at the given indices, along `axis`.

    Args:
        ary: an array.
        indices_or_sections: a number of equal sections (must divide the axis), or a
            sequence of static split indices.
        axis: the axis to split.

    Returns:
        A list of arrays.

    >>> import lamina.numpy as lnp
    >>> [p.shape for p in lnp.split(lnp.zeros(6), [1, 4])]
    [(1,), (3,), (2,)]
    """
    return _split("split", ary, indices_or_sections, axis)


def array_split(ary: ArrayLike, indices_or_sections: Any, axis: int = 0) -> list[Array]:
    """Like `split`, but a number of sections need not divide the axis (the first
    sections get one extra element).

    >>> import lamina.numpy as lnp
    >>> [p.shape for p in lnp.array_split(lnp.zeros(5), 3)]
    [(2,), (2,), (1,)]
    """
    return _split("array_split", ary, indices_or_sections, axis)


def hsplit(ary: ArrayLike, indices_or_sections: Any) -> list[Array]:
    """`split` along axis 1 (axis 0 for 1-D arrays).

    >>> import lamina.numpy as lnp
    >>> len(lnp.hsplit(lnp.zeros((2, 4)), 2))
    2
    """
    a = _arr("hsplit", ary)
    return _split("hsplit", a, indices_or_sections, 0 if a.ndim == 1 else 1)


def vsplit(ary: ArrayLike, indices_or_sections: Any) -> list[Array]:
    """`split` along axis 0.

    >>> import lamina.numpy as lnp
    >>> len(lnp.vsplit(lnp.zeros((4, 2)), 2))
    2
    """
    return _split("vsplit", ary, indices_or_sections, 0)


def dsplit(ary: ArrayLike, indices_or_sections: Any) -> list[Array]:
    """`split` along axis 2.

    >>> import lamina.numpy as lnp
    >>> len(lnp.dsplit(lnp.zeros((1, 2, 4)), 2))
    2
    """
    a = _arr("dsplit", ary)
    if a.ndim < 3:
        raise ValueError(f"lamina.numpy.dsplit: only works on arrays of 3 or more "
                         f"dimensions, got shape {a.shape}")
    return _split("dsplit", a, indices_or_sections, 2)


def unstack(x: ArrayLike, /, *, axis: int = 0) -> tuple[Array, ...]:
    """The slices of `x` along `axis`, as a tuple (the inverse of `stack`).

    >>> import lamina.numpy as lnp
    >>> [p.shape for p in lnp.unstack(lnp.zeros((2, 3)), axis=1)]
    [(2,), (2,), (2,)]
    """
    x = _arr("unstack", x)
    if x.ndim == 0:
        raise ValueError("lamina.numpy.unstack requires an array of rank > 0, got a 0-d "
                         "array")
    axis = _axis("unstack", axis, x.ndim)
    n = x.shape[axis]
    if n == 0:
        return ()
    parts = [x] if n == 1 else lax.split(x, (1,) * n, axis)
    return tuple(lax.squeeze(p, (axis,)) for p in parts)


# --------------------------------------------------------------------------------------
# Tiling, repeating, broadcasting
# --------------------------------------------------------------------------------------


def tile(A: ArrayLike, reps: int | Sequence[int]) -> Array:
    """`A` repeated `reps` times along each axis (numpy's `tile`).

    >>> import lamina.numpy as lnp
    >>> lnp.tile(lnp.zeros((2, 3)), (2, 1, 2)).shape
    (2, 2, 6)
    """
    A = _arr("tile", A)
    reps_t = _shape_tuple("tile", reps, "reps")
    if any(r < 0 for r in reps_t):
        raise ValueError(f"lamina.numpy.tile: reps {reps_t} must be non-negative")
    ndim = max(A.ndim, len(reps_t))
    a_shape = (1,) * (ndim - A.ndim) + A.shape
    reps_t = (1,) * (ndim - len(reps_t)) + reps_t
    if all(r == 1 for r in reps_t):
        return lax.reshape(A, a_shape)
    # NOTE: one broadcast to (r0, a0, r1, a1, ...) then one reshape: 2 ops for any rank.
    inter = tuple(v for pair in zip(reps_t, a_shape) for v in pair)
    dims = tuple(2 * (ndim - A.ndim + j) + 1 for j in range(A.ndim))
    out = lax.broadcast_in_dim(A, inter, dims)
    return lax.reshape(out, tuple(r * s for r, s in zip(reps_t, a_shape)))


def _repeat_indices(repeats: Any, n: int, total: int) -> Any:
    """Source index of each of the `total` outputs: the number of elements whose
    exclusive cumulative repeat count is <= t, minus one (jax's semantics for
    `total_repeat_length`: surplus outputs repeat the last element)."""
    if isinstance(repeats, np.ndarray):
        excl = np.concatenate([[0], np.cumsum(repeats)[:-1]])
        return np.searchsorted(excl, np.arange(total), side="right") - 1
    # Traced repeats: a (total, n) comparison, summed (no scatter needed).
    reps = lax.convert_element_type(repeats, np.int32)
    incl = lax.cumsum(reps, 0)
    excl = lax.sub(incl, reps)
    t = lax.broadcasted_iota(np.int32, (total, n), 0)
    hits = lax.le(lax.broadcast_in_dim(excl, (total, n), (1,)), t)
    return lax.sub(lax.reduce_sum(lax.convert_element_type(hits, np.int32), (1,)),
                   np.int32(1))


def repeat(a: ArrayLike, repeats: ArrayLike, axis: int | None = None, *,
           total_repeat_length: int | None = None) -> Array:
    """Repeats each element of `a` along `axis` (the flattened array if None).

    Args:
        a: an array.
        repeats: an int, or one count per element along `axis` (concrete unless
            `total_repeat_length` is given).
        axis: the axis to repeat along.
        total_repeat_length: the static output length along `axis`; with it
            `repeats` may be traced. Extra outputs repeat the last element; missing
            ones are cut.

    Returns:
        The repeated array.

    >>> import lamina.numpy as lnp
    >>> lnp.repeat(lnp.arange(3), 2).tolist()
    [0, 0, 1, 1, 2, 2]
    """
    fn = "repeat"
    if isinstance(repeats, (list, tuple)):
        repeats = np.asarray(repeats)
    check_arraylike(_name(fn), a, repeats)
    a = asarray(a)
    if axis is None:
        a = lax.reshape(a, (a.size,))
        axis = 0
    ax = _axis(fn, axis, a.ndim) if a.ndim else _static_int(fn, "axis", axis)
    if total_repeat_length is not None:
        total_repeat_length = _static_int(fn, "total_repeat_length", total_repeat_length)
    if isinstance(repeats, Tracer):
        if total_repeat_length is None:
            raise repeats._concrete_value_error(
                f"{_name(fn)} argument `repeats` (pass a static total_repeat_length to "
                "repeat by traced counts)")
        reps: Any = lax.reshape(repeats, (repeats.size,))
    else:
        reps = np.asarray(repeats).reshape(-1)
        if not (reps.dtype.kind in "iu" or reps.dtype == np.bool_):
            raise TypeError(f"{_name(fn)}: repeats must be integers, got dtype {reps.dtype}")
        if np.any(reps < 0):
            raise ValueError(f"{_name(fn)}: repeats may not contain negative values")
        if total_repeat_length is None and reps.size == 1 and a.ndim:
            r = int(reps[0])
            shape = list(a.shape)
            shape.insert(ax + 1, r)
            out = lax.broadcast_in_dim(a, tuple(shape), tuple(i for i in range(len(shape))
                                                              if i != ax + 1))
            new = list(a.shape)
            new[ax] *= r
            return lax.reshape(out, tuple(new))
    if a.ndim == 0:
        if np.shape(reps) != (1,):
            raise ValueError(f"{_name(fn)}: a scalar `a` needs a scalar `repeats`")
        n = int(reps[0]) if total_repeat_length is None else total_repeat_length
        return lax.broadcast_in_dim(a, (n,), ())
    n_in = a.shape[ax]
    if isinstance(reps, np.ndarray):
        if reps.size not in (1, n_in):
            raise ValueError(f"{_name(fn)}: repeats of shape {np.shape(repeats)} do not "
                             f"match axis {ax} of size {n_in}")
        reps = np.broadcast_to(reps, (n_in,)).astype(np.int64)
        total = int(reps.sum()) if total_repeat_length is None else total_repeat_length
    else:
        if reps.shape[0] not in (1, n_in):
            raise ValueError(f"{_name(fn)}: repeats of shape {reps.shape} do not match axis "
                             f"{ax} of size {n_in}")
        if reps.shape[0] != n_in:
            reps = lax.broadcast_in_dim(reps, (n_in,), (0,))
        total = total_repeat_length
    if total == 0 or n_in == 0:
        shape = list(a.shape)
        shape[ax] = 0
        return lax.full_like(a, 0, shape=tuple(shape))
    idx = _repeat_indices(reps, n_in, total)
    if isinstance(idx, np.ndarray):
        return _gather_static([a], idx, ax)
    return _take(a, idx, ax, sorted_=True)


def broadcast_shapes(*shapes: int | Sequence[int]) -> tuple[int, ...]:
    """The shape that arrays of `shapes` broadcast to (numpy's rule).

    >>> import lamina.numpy as lnp
    >>> lnp.broadcast_shapes((3, 1), (4,), 1)
    (3, 4)
    """
    if not shapes:
        return ()
    tuples = [_shape_tuple("broadcast_shapes", s, "shapes") for s in shapes]
    return _broadcast_shapes(_name("broadcast_shapes"), *tuples)


def broadcast_to(array: ArrayLike, shape: int | Sequence[int]) -> Array:
    """`array` broadcast to `shape` (numpy's rule: trailing axes align).

    Raises:
        ValueError: if the shapes are incompatible.

    >>> import lamina.numpy as lnp
    >>> lnp.broadcast_to(lnp.zeros(3), (2, 3)).shape
    (2, 3)
    """
    fn = "broadcast_to"
    a = _arr(fn, array)
    shape = _shape_tuple(fn, shape)
    if any(d < 0 for d in shape):
        raise ValueError(f"{_name(fn)}: shape {shape} has a negative dimension")
    if a.shape == shape:
        return a
    lead = len(shape) - a.ndim
    if lead < 0:
        raise ValueError(f"{_name(fn)}: cannot broadcast an array of shape {a.shape} to "
                         f"shape {shape}, which has fewer dimensions")
    if any(d != 1 and d != s for d, s in zip(a.shape, shape[lead:])):
        raise ValueError(f"{_name(fn)}: incompatible shapes for broadcasting: {a.shape} and "
                         f"requested shape {shape}")
    return lax.broadcast_in_dim(a, shape, tuple(range(lead, len(shape))))


def broadcast_arrays(*args: ArrayLike) -> list[Array]:
    """The arguments broadcast against each other.

    >>> import lamina.numpy as lnp
    >>> [x.shape for x in lnp.broadcast_arrays(lnp.zeros((2, 1)), lnp.zeros(3))]
    [(2, 3), (2, 3)]
    """
    check_arraylike(_name("broadcast_arrays"), *args)
    arrays = [asarray(a) for a in args]
    if not arrays:
        return []
    shape = _broadcast_shapes(_name("broadcast_arrays"), *(a.shape for a in arrays))
    return [broadcast_to(a, shape) for a in arrays]


def resize(a: ArrayLike, new_shape: int | Sequence[int]) -> Array:
    """`a` flattened, repeated cyclically to fill `new_shape` (numpy's `resize`).

    >>> import lamina.numpy as lnp
    >>> lnp.resize(lnp.arange(3), (2, 4)).tolist()
    [[0, 1, 2, 0], [1, 2, 0, 1]]
    """
    a = _arr("resize", a)
    new_shape = _shape_tuple("resize", new_shape, "new_shape")
    if any(d < 0 for d in new_shape):
        raise ValueError(f"lamina.numpy.resize: all elements of new_shape {new_shape} must be "
                         "non-negative")
    flat = lax.reshape(a, (a.size,))
    new_size = math.prod(new_shape)
    if a.size == 0 or new_size == 0:
        return lax.full_like(flat, 0, shape=new_shape)
    reps = -(-new_size // a.size)
    if reps > 1:
        flat = tile(flat, reps)
    return lax.reshape(_slice_axis(flat, 0, new_size, 0), new_shape)


# --------------------------------------------------------------------------------------
# Flipping and rolling
# --------------------------------------------------------------------------------------


def flip(m: ArrayLike, axis: int | Sequence[int] | None = None) -> Array:
    """Reverses the order of elements along `axis` (all axes if None).

    >>> import lamina.numpy as lnp
    >>> lnp.flip(lnp.arange(3)).tolist()
    [2, 1, 0]
    """
    m = _arr("flip", m)
    dims = tuple(range(m.ndim)) if axis is None else _axes("flip", axis, m.ndim)
    return lax.rev(m, dims) if dims else m


def fliplr(m: ArrayLike) -> Array:
    """Reverses axis 1 (left/right); `m` needs at least two dimensions.

    >>> import lamina.numpy as lnp
    >>> lnp.fliplr(lnp.zeros((2, 3))).shape
    (2, 3)
    """
    m = _arr("fliplr", m)
    if m.ndim < 2:
        raise ValueError(f"lamina.numpy.fliplr: input must be at least 2-d, got shape {m.shape}")
    return lax.rev(m, (1,))


def flipud(m: ArrayLike) -> Array:
    """Reverses axis 0 (up/down); `m` needs at least one dimension.

    >>> import lamina.numpy as lnp
    >>> lnp.flipud(lnp.arange(3)).tolist()
    [2, 1, 0]
    """
    m = _arr("flipud", m)
    if m.ndim < 1:
        raise ValueError("lamina.numpy.flipud: input must be at least 1-d, got a 0-d array")
    return lax.rev(m, (0,))


def _roll_one(a: Array, shift: Any, axis: int) -> Array:
    n = a.shape[axis]
    if n == 0:
        return a
    if isinstance(shift, int):
        s = shift % n
        if s == 0:
            return a
        return lax.concatenate([_slice_axis(a, n - s, n, axis), _slice_axis(a, 0, n - s, axis)],
                               axis)
    # Traced shift: slice the doubled array at a dynamic offset.
    s = lax.rem(lax.convert_element_type(shift, np.int32), np.int32(n))
    s = lax.select(lax.lt(s, np.int32(0)), lax.add(s, np.int32(n)), s)
    doubled = lax.concatenate([a, a], axis)
    start = lax.sub(np.int32(n), s)
    return lax.dynamic_slice_in_dim(doubled, start, n, axis)


def roll(a: ArrayLike, shift: int | Sequence[int] | ArrayLike,
         axis: int | Sequence[int] | None = None) -> Array:
    """Rolls elements along `axis`: those shifted past the end come back at the start.

    Args:
        a: an array.
        shift: an int (or traced 0-d/1-d integer array), or one shift per axis.
        axis: the axes to roll; None rolls the flattened array, then restores the shape.

    Returns:
        The rolled array.

    >>> import lamina.numpy as lnp
    >>> lnp.roll(lnp.arange(5), 2).tolist()
    [3, 4, 0, 1, 2]
    """
    fn = "roll"
    a = _arr(fn, a)
    try:
        shifts: Any = _shape_tuple(fn, shift, "shift")
    except TypeError:
        check_arraylike(_name(fn), shift)
        s = asarray(shift)
        if not dtypes.is_integer(s.dtype):
            raise TypeError(f"{_name(fn)}: shift must be an integer or integer array, got "
                            f"{s.aval.str_short()}") from None
        if s.ndim > 1:
            raise ValueError(f"{_name(fn)}: shift must be 0-d or 1-d, got {s.aval.str_short()}"
                             ) from None
        shifts = [s] if s.ndim == 0 else list(unstack(s))
    if axis is None:
        flat = lax.reshape(a, (a.size,))
        if len(shifts) != 1:
            raise ValueError(f"{_name(fn)}: with axis=None, shift must be a single value")
        return lax.reshape(_roll_one(flat, shifts[0], 0), a.shape)
    axes = _shape_tuple(fn, axis, "axis")
    axes = tuple(_axis(fn, ax, a.ndim) for ax in axes)
    if len(shifts) == 1:
        shifts = list(shifts) * len(axes)
    elif len(axes) == 1:
        axes = axes * len(shifts)
    if len(shifts) != len(axes):
        raise ValueError(f"{_name(fn)}: shift and axis must have the same length, got "
                         f"{len(shifts)} shifts and axes {axes}")
    for s, ax in zip(shifts, axes):
        a = _roll_one(a, s, ax)
    return a


def rot90(m: ArrayLike, k: int = 1, axes: tuple[int, int] = (0, 1)) -> Array:
    """Rotates `m` by 90 degrees `k` times, in the plane of `axes` (from the first axis
    towards the second).

    >>> import lamina.numpy as lnp
    >>> lnp.rot90(lnp.arange(4).reshape(2, 2)).tolist()
    [[1, 3], [0, 2]]
    """
    fn = "rot90"
    m = _arr(fn, m)
    if np.shape(axes) != (2,):
        raise ValueError(f"{_name(fn)}: axes must be a tuple of length 2, got {axes!r}")
    if m.ndim < 2:
        raise ValueError(f"{_name(fn)}: requires an array of at least two dimensions, got "
                         f"shape {m.shape}")
    ax1, ax2 = _axis(fn, axes[0], m.ndim), _axis(fn, axes[1], m.ndim)
    if ax1 == ax2:
        raise ValueError(f"{_name(fn)}: axes must be different, got {axes!r}")
    k = _static_int(fn, "k", k) % 4
    if k == 0:
        return m
    if k == 2:
        return lax.rev(m, tuple(sorted((ax1, ax2))))
    perm = list(range(m.ndim))
    perm[ax1], perm[ax2] = perm[ax2], perm[ax1]
    if k == 1:
        return lax.transpose(lax.rev(m, (ax2,)), tuple(perm))
    return lax.rev(lax.transpose(m, tuple(perm)), (ax2,))


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


# --------------------------------------------------------------------------------------
# Inserting and deleting (static positions)
# --------------------------------------------------------------------------------------


def _static_index_array(fn: str, obj: Any) -> np.ndarray:
    if isinstance(obj, Tracer):
        raise obj._concrete_value_error(f"{_name(fn)} argument `obj`")
    if isinstance(obj, (list, tuple)) and any(isinstance(o, Tracer) for o in obj):
        bad = next(o for o in obj if isinstance(o, Tracer))
        raise bad._concrete_value_error(f"{_name(fn)} argument `obj`")
    return np.asarray(obj)


def delete(arr: ArrayLike, obj: Any, axis: int | None = None, *,
           assume_unique_indices: bool = False) -> Array:
    """`arr` without the entries at `obj` along `axis` (the flattened array if None).

    Args:
        arr: an array.
        obj: static positions: an int, a slice, a sequence/array of ints, or a boolean
            mask of the axis' length.
        axis: the axis to delete along.
        assume_unique_indices: accepted for jax compatibility (indices are static).

    Returns:
        The reduced array.

    >>> import lamina.numpy as lnp
    >>> lnp.delete(lnp.arange(5), [0, 3]).tolist()
    [1, 2, 4]
    """
    del assume_unique_indices
    fn = "delete"
    a = _arr(fn, arr)
    if axis is None:
        a = lax.reshape(a, (a.size,))
        axis = 0
    ax = _axis(fn, axis, a.ndim)
    n = a.shape[ax]
    if isinstance(obj, slice):
        keep = np.ones(n, bool)
        keep[np.arange(n)[obj]] = False
    else:
        idx = _static_index_array(fn, obj)
        if idx.dtype == np.bool_:
            if idx.shape != (n,):
                raise ValueError(f"{_name(fn)}: a boolean obj must be one-dimensional with "
                                 f"the length {n} of axis {ax}, got shape {idx.shape}")
            keep = ~idx
        elif idx.dtype.kind in "iu" or idx.size == 0:
            idx = idx.astype(np.int64).reshape(-1)
            if np.any((idx < -n) | (idx >= n)):
                raise IndexError(f"{_name(fn)}: index {obj} is out of bounds for axis {ax} "
                                 f"with size {n}")
            keep = np.ones(n, bool)
            keep[idx] = False
        else:
            raise ValueError(f"{_name(fn)}: obj must be integer or boolean, got dtype "
                             f"{idx.dtype}")
    if keep.all():
        return a
    return _gather_static([a], np.flatnonzero(keep), ax)


def insert(arr: ArrayLike, obj: Any, values: ArrayLike, axis: int | None = None) -> Array:
    """`values` inserted into `arr` before the static positions `obj` along `axis`.

    Args:
        arr: an array.
        obj: static insertion positions: an int, a slice or a 1-D sequence of ints.
        values: the values, broadcast to the inserted block (as numpy: with a scalar
            `obj`, the first axis of `values` lies along `axis`).
        axis: the axis to insert along (None: the flattened array).

    Returns:
        The enlarged array (dtypes promote as in jax).

    >>> import lamina.numpy as lnp
    >>> lnp.insert(lnp.arange(3), 1, 9).tolist()
    [0, 9, 1, 2]
    """
    fn = "insert"
    if isinstance(values, (list, tuple)):
        values = np.asarray(values)
    check_arraylike(_name(fn), arr, values)
    # NOTE: as jax: the values take `arr`'s dtype (and weak type); no promotion.
    a = asarray(arr)
    v = asarray(values)
    if v.dtype != a.dtype or v.weak_type != a.weak_type:
        v = lax.convert_element_type(v, a.dtype, weak_type=a.weak_type)
    if axis is None:
        a = lax.reshape(a, (a.size,))
        axis = 0
    ax = _axis(fn, axis, a.ndim)
    n_input = a.shape[ax]
    if isinstance(obj, slice):
        indices = np.arange(*obj.indices(n_input))
    else:
        indices = _static_index_array(fn, obj)
    if indices.ndim > 1:
        raise ValueError(f"{_name(fn)}: obj must be a slice, a one-dimensional sequence or a "
                         f"scalar, got {obj!r}")
    if indices.dtype.kind not in "iu":
        if indices.size == 0:
            indices = indices.astype(np.int64)
        else:
            raise ValueError(f"{_name(fn)}: index array must be integer typed, got {obj!r}")
    if v.ndim < a.ndim:
        v = lax.reshape(v, (1,) * (a.ndim - v.ndim) + v.shape)
    if indices.size == 1:
        if indices.ndim == 0:
            v = lax.transpose(v, _moveaxis_perm(v.ndim, (0,), (ax,)))
        indices = np.full(v.shape[ax], indices.reshape(-1)[0])
    n_insert = indices.shape[0]
    if v.shape[ax] not in (1, n_insert):
        raise ValueError(f"{_name(fn)}: values of shape {v.shape} cannot be broadcast to "
                         f"{n_insert} inserted entries along axis {ax}")
    block_shape = a.shape[:ax] + (n_insert,) + a.shape[ax + 1:]
    v = broadcast_to(v, block_shape)
    if np.any((indices < -n_input) | (indices > n_input)):
        raise IndexError(f"{_name(fn)}: index {obj} is out of bounds for axis {ax} with size "
                         f"{n_input}")
    indices = np.where(indices < 0, indices + n_input, indices)
    # Output position of each inserted value (stable order), the rest is `a` in order.
    order = np.argsort(indices, kind="stable")
    values_pos = np.empty(n_insert, np.int64)
    values_pos[order] = indices[order] + np.arange(n_insert)
    source = np.empty(n_input + n_insert, np.int64)
    mask = np.ones(n_input + n_insert, bool)
    mask[values_pos] = False
    source[mask] = np.arange(n_input)
    source[values_pos] = n_input + np.arange(n_insert)
    return _gather_static([a, v], source, ax)


def trim_zeros(filt: ArrayLike, trim: str = "fb") -> Array:
    """`filt` (1-D) without its leading ('f') and/or trailing ('b') zeros. The result
    size depends on the values, so `filt` must be concrete.

    >>> import lamina.numpy as lnp
    >>> lnp.trim_zeros(lnp.asarray([0, 1, 0, 2, 0])).tolist()
    [1, 0, 2]
    """
    fn = "trim_zeros"
    if isinstance(filt, Tracer):
        raise filt._concrete_value_error(f"{_name(fn)} argument `filt`")
    a = _arr(fn, filt)
    if a.ndim != 1:
        raise TypeError(f"{_name(fn)}: 'filt' must be a 1-D array, got a {a.ndim}-D array")
    nonzero = np.flatnonzero(np.asarray(lax.ne(a, np.zeros((), a.dtype))))
    if nonzero.size == 0:
        return _slice_axis(a, 0, 0, 0)
    trim = trim.lower()
    start = int(nonzero[0]) if "f" in trim else 0
    stop = int(nonzero[-1]) + 1 if "b" in trim else a.shape[0]
    return _slice_axis(a, start, stop, 0)


# --------------------------------------------------------------------------------------
# Diagonal and dtype conversion
# --------------------------------------------------------------------------------------


def diagonal(a: ArrayLike, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Array:
    """The diagonal of the planes given by `axis1` and `axis2` (as a new last axis).

    Args:
        a: an array of at least two dimensions.
        offset: static offset: > 0 above the main diagonal, < 0 below.
        axis1: the axis of the rows.
        axis2: the axis of the columns.

    Returns:
        The diagonals: `a`'s other axes, then the diagonal.

    >>> import lamina.numpy as lnp
    >>> lnp.diagonal(lnp.arange(9).reshape(3, 3), 1).tolist()
    [1, 5]
    """
    fn = "diagonal"
    a = _arr(fn, a)
    if a.ndim < 2:
        raise ValueError(f"{_name(fn)}: requires an array of at least two dimensions, got "
                         f"shape {a.shape}")
    i, j = _axis(fn, axis1, a.ndim), _axis(fn, axis2, a.ndim)
    if i == j:
        raise ValueError(f"{_name(fn)}: axis1 and axis2 cannot be the same, got {axis1} and "
                         f"{axis2}")
    k = _static_int(fn, "offset", offset)
    if a.weak_type:  # NOTE: jax gathers the diagonal, which gives a strong result
        a = lax.convert_element_type(a, a.dtype)
    x = lax.transpose(a, _moveaxis_perm(a.ndim, (i, j), (a.ndim - 2, a.ndim - 1)))
    batch, (n, m) = x.shape[:-2], x.shape[-2:]
    count = max(0, min(n, m - k) if k >= 0 else min(n + k, m))
    # NOTE: element (r, r + k) of a row-major (n, m) block sits at flat position
    # r * (m + 1) + k: one strided slice of the flattened block.
    flat = lax.reshape(x, batch + (n * m,))
    if count == 0:
        return _slice_axis(flat, 0, 0, len(batch))
    start = k if k >= 0 else -k * m
    return _slice_axis(flat, start, start + (count - 1) * (m + 1) + 1, len(batch), m + 1)


def astype(x: ArrayLike, dtype: Any, /, *, copy: bool = False, device: Any = None) -> Array:
    """`x` converted to `dtype` (a strongly typed result).

    Args:
        x: an array or scalar.
        dtype: the target dtype (None: the default float dtype).
        copy: if True, return a new buffer even when no conversion is needed.
        device: unsupported (must be None).

    Returns:
        The converted array.

    >>> import lamina.numpy as lnp
    >>> lnp.astype(lnp.arange(3), lnp.float32).dtype
    dtype('float32')
    """
    if device is not None:
        raise NotImplementedError("lamina.numpy.astype: device= is not supported; use "
                                  "lamina.device_put")
    a = _arr("astype", x)
    dtype = dtypes.default_float_dtype() if dtype is None else \
        dtypes.check_user_dtype_supported(dtype, _name("astype"))
    out = lax.convert_element_type(a, dtype)
    return _copy(out) if copy and out is a else out
