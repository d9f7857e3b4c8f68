"""numpy's in-place updates put and place, as in jax.numpy: they return an updated copy,
and the caller must say so with `inplace=False` (lamina arrays are immutable)."""
from __future__ import annotations

from typing import Any

import numpy as np

from lamina import dtypes, lax
from lamina.numpy._lax_helpers import _ravel, _slice_axis
from lamina.numpy._util import asarray, check_arraylike
from lamina.numpy.index_tricks import unravel_index
from lamina.numpy.logic import clip
from lamina.numpy.selection import _floor_mod, nonzero

__all__ = ["place", "put"]

Array = Any  # lamina.Array or a Tracer
ArrayLike = Any


def _no_inplace(fn: str) -> ValueError:
    return ValueError(f"lamina.numpy.{fn} cannot modify arrays in place, because lamina arrays "
                      f"are immutable. Pass inplace=False to get the updated array instead: "
                      f"out = lnp.{fn}(..., inplace=False)")


def _cycle_to(values: Array, n: int) -> Array:
    """`values` (1-D, non-empty) repeated cyclically and cut to length n."""
    m = values.shape[0]
    if m == n:
        return values
    reps = -(-n // m)
    tiled = values if reps == 1 else lax.concatenate([values] * reps, 0)
    return _slice_axis(tiled, 0, n, 0)


def put(a: ArrayLike, ind: ArrayLike, v: ArrayLike, mode: str | None = None, *,
        inplace: bool = True) -> Array:
    """A copy of `a` with the entries at flat indices `ind` set to `v` (jax.numpy.put).

    Args:
        a: the array.
        ind: integer indices into the flattened `a`.
        v: the values, repeated cyclically (or cut) to the number of indices.
        mode: out-of-bound indices: None (default, as jax: negative indices count from
            the end and the rest are clamped), 'clip' (clamped to `[0, a.size - 1]`) or
            'wrap' (taken modulo `a.size`). 'raise' is not supported.
        inplace: must be False: the updated array is returned, `a` is unchanged.

    Returns:
        The updated copy of `a` (same shape and dtype).

    >>> import lamina.numpy as lnp
    >>> lnp.put(lnp.zeros(5, int), lnp.array([0, 2]), lnp.array([7, 8]), inplace=False)
    Array([7, 0, 8, 0, 0], dtype=int32)
    """
    fn = "put"
    if inplace:
        raise _no_inplace(fn)
    check_arraylike(f"lamina.numpy.{fn}", a, ind, v)
    a, ind, v = asarray(a), asarray(ind), asarray(v)
    if not dtypes.is_integer(ind.dtype):
        raise TypeError(f"lamina.numpy.{fn}: indices must be integers, got "
                        f"{ind.aval.str_short()}; convert them with ind.astype(int)")
    ind, v = _ravel(ind), _ravel(v)
    if ind.dtype.itemsize < 4:  # NOTE: room for a.size in the clip/wrap arithmetic
        ind = lax.convert_element_type(ind, np.int32)
    if a.size == 0 or ind.size == 0 or v.size == 0:
        return a
    v = _cycle_to(v, ind.shape[0])
    if mode is None:
        flat = unravel_index(ind, (a.size,))[0]
    elif mode == "clip":
        flat = clip(ind, 0, a.size - 1)
    elif mode == "wrap":
        flat = _floor_mod(ind, a.size)
    elif mode == "raise":
        raise NotImplementedError(f"lamina.numpy.{fn}: mode='raise' is not supported (indices "
                                  "may be traced); use mode='clip' or mode='wrap'")
    else:
        raise ValueError(f"lamina.numpy.{fn}: mode must be None, 'clip' or 'wrap', got "
                         f"{mode!r}")
    out = _ravel(a).at[flat].set(v, mode="promise_in_bounds")
    return lax.reshape(out, a.shape)


def place(arr: ArrayLike, mask: ArrayLike, vals: ArrayLike, *, inplace: bool = True) -> Array:
    """A copy of `arr` whose entries where `mask` is true are set, in order, to `vals`
    (jax.numpy.place).

    Args:
        arr: the array.
        mask: an array of `arr`'s size (nonzero entries select).
        vals: the values, used in flattened order and repeated cyclically if fewer
            than the selected entries.
        inplace: must be False: the updated array is returned, `arr` is unchanged.

    Returns:
        The updated copy of `arr`. Works under jit (the selection is padded to a static
        size internally).

    >>> import lamina.numpy as lnp
    >>> x = lnp.zeros(5, int)
    >>> lnp.place(x, lnp.array([1, 0, 1, 1, 0]), lnp.array([4, 5]), inplace=False)
    Array([4, 0, 5, 4, 0], dtype=int32)
    """
    fn = "place"
    check_arraylike(f"lamina.numpy.{fn}", arr, mask, vals)
    arr, mask, vals = asarray(arr), asarray(mask), _ravel(asarray(vals))
    if inplace:
        raise _no_inplace(fn)
    if arr.size != mask.size:
        raise ValueError(f"lamina.numpy.{fn}: arr and mask must have the same size, got "
                         f"{arr.aval.str_short()} and {mask.aval.str_short()}")
    if vals.size == 0:
        raise ValueError(f"lamina.numpy.{fn}: cannot place values from an empty array")
    if arr.size == 0:
        return arr
    # Positions of the selected entries, padded with the out-of-range index `size`
    # (dropped by the scatter).
    (positions,) = nonzero(_ravel(mask), size=mask.size, fill_value=mask.size)
    values = _cycle_to(vals, mask.size)
    out = _ravel(arr).at[positions].set(values, mode="drop")
    return lax.reshape(out, arr.shape)

