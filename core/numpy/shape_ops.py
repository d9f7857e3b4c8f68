"""Shape manipulation of `lamina.numpy`: reshaping and transposing, tiling, repeating and
broadcasting, flipping and rolling, diagonal and astype (jax.numpy's names, signatures and
semantics). Joining and splitting (concatenate, stack, split, insert, delete...) are in
`joining`, pad in `padding`; the shared argument checks in `_shape_util`.

Everything is a composition of `lamina.lax` structural ops. Shapes, axes, split points
and other static arguments must be concrete Python values (a traced value raises
`ConcretizationError`); numpy is used only for that static index arithmetic.
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from lamina import dtypes
from lamina import lax
from lamina.ir import Tracer
from lamina.numpy._util import asarray, broadcast_shapes as _broadcast_shapes, check_arraylike
from lamina.numpy._shape_util import (
    _arr, _axes, _axis, _copy, _gather_static, _moveaxis_perm, _name, _shape_tuple,
    _on_device, _slice_axis, _static_int, _take,
)

__all__ = [
    "reshape",
    "ravel",
    "transpose",
    "matrix_transpose",
    "permute_dims",
    "moveaxis",
    "rollaxis",
    "swapaxes",
    "squeeze",
    "expand_dims",
    "tile",
    "repeat",
    "broadcast_to",
    "broadcast_arrays",
    "broadcast_shapes",
    "flip",
    "fliplr",
    "flipud",
    "roll",
    "rot90",
    "resize",
    "diagonal",
    "astype",
]

Array = Any
ArrayLike = Any


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
    # NOTE: imported here: joining builds on this module.
    from lamina.numpy.joining import unstack

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
        device: a device or sharding to put the result on (as `lamina.device_put`).

    Returns:
        The converted array.

    >>> import lamina.numpy as lnp
    >>> lnp.astype(lnp.arange(3), lnp.float32).dtype
    dtype('float32')
    """
    a = _arr("astype", x)
    dtype = dtypes.default_float_dtype() if dtype is None else \
        dtypes.check_user_dtype_supported(dtype, _name("astype"))
    out = lax.convert_element_type(a, dtype)
    out = _copy(out) if copy and out is a else out
    return _on_device("astype", out, device)
