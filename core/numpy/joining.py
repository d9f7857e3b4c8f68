"""Joining and splitting arrays, jax.numpy's API: concatenate, concat, stack, hstack,
vstack, dstack, column_stack, atleast_1d/2d/3d, block, append; split, array_split,
hsplit, vsplit, dsplit, unstack; and the static-position edits built from them: insert,
delete, trim_zeros.

A family of its own (one array from many, or many from one), separate from the
single-array reshapes of `shape_ops`. Split points and positions must be concrete
Python values (a traced value raises `ConcretizationError`).
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from lamina import dtypes
from lamina import lax
from lamina.ir import Tracer
from lamina.numpy._util import asarray, check_arraylike, is_lamina_array, promote_dtypes
from lamina.numpy.shape_ops import broadcast_to, ravel
from lamina.numpy._shape_util import (
    _arr, _axis, _gather_static, _host, _moveaxis_perm, _name, _slice_axis, _static_int,
)

__all__ = [
    "concatenate",
    "concat",
    "stack",
    "hstack",
    "vstack",
    "dstack",
    "column_stack",
    "split",
    "array_split",
    "hsplit",
    "vsplit",
    "dsplit",
    "atleast_1d",
    "atleast_2d",
    "atleast_3d",
    "append",
    "insert",
    "delete",
    "trim_zeros",
    "unstack",
    "block",
]

Array = Any
ArrayLike = Any


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
