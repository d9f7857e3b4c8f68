"""Collectives written with the ones in `lax/collectives.py`: `pshuffle` (a `ppermute`
given by sources), `pswapaxes` (an `all_to_all` splitting and stacking one axis) and
`pbroadcast` (every device takes the value of one device), with jax.lax's names and
semantics.

They add no primitive: their JVP, transpose and batching (also under
`vmap(..., axis_name=...)`) are those of the collectives they are built on.

>>> import lamina, lamina.numpy as lnp
>>> from lamina import lax
>>> lamina.vmap(lambda x: lax.pbroadcast(x, 'i', 2), axis_name='i')(lnp.arange(4.0))
Array([2., 2., 2., 2.], dtype=float32)
"""
from __future__ import annotations

import operator
from typing import Any, Sequence

import numpy as np

from lamina import dtypes, tree_util
from lamina.ir import shaped_abstractify
from lamina.lax._collective_groups import group_size, index_groups
from lamina.lax.collectives import (AxisName, _axis_size, _names, all_to_all,
                                    axis_index, ppermute, psum)

__all__ = ["pshuffle", "pswapaxes", "pbroadcast"]


def pshuffle(x: Any, axis_name: AxisName, perm: Sequence[int]) -> Any:
    """`ppermute` with the permutation given by sources: device (lane) `i` receives `x`
    from device `perm[i]` (every leaf of a pytree).

    Args:
        x: an array or pytree of arrays mapped over `axis_name`.
        axis_name: the mapped axis (or a tuple of axes).
        perm: a permutation of `range(len(perm))`, at most the axis size long; devices
            `len(perm)` and above receive zeros (as in jax).

    Returns:
        `x` with the slices along `axis_name` gathered by `perm`.

    >>> import lamina, lamina.numpy as lnp
    >>> f = lambda x: lamina.lax.pshuffle(x, 'i', perm=[2, 0, 1])
    >>> lamina.vmap(f, axis_name='i')(lnp.array([10, 20, 30]))
    Array([30, 10, 20], dtype=int32)
    """
    try:
        sources = [operator.index(s) for s in perm]
    except TypeError:
        raise TypeError(f"pshuffle: perm must be a sequence of integer axis indices, "
                        f"got {perm!r}") from None
    if sorted(sources) != list(range(len(sources))):
        raise ValueError(f"pshuffle: perm must be a permutation of range(len(perm)), "
                         f"each index exactly once; got {perm!r}")
    size = _axis_size(_names(axis_name), "pshuffle")
    if len(sources) > size:
        raise ValueError(f"pshuffle: perm {perm!r} has {len(sources)} entries, more "
                         f"than the size {size} of axis {axis_name!r}")
    return ppermute(x, axis_name, [(s, t) for t, s in enumerate(sources)])


def pswapaxes(x: Any, axis_name: AxisName, axis: int, *,
              axis_index_groups: Any = None) -> Any:
    """Swap the mapped axis `axis_name` with the axis `axis` of `x`: device (lane) `k`
    gets slice `k` along `axis` of every device's `x`, stacked along `axis` in device
    order. This is `all_to_all(x, axis_name, axis, axis)`.

    Args:
        x: an array or pytree of arrays mapped over `axis_name`; each leaf's
            `shape[axis]` must equal the axis size (the group size with groups).
        axis_name: the mapped axis (or a tuple of axes).
        axis: the axis of `x` to swap with `axis_name` (negative counts from the end).
        axis_index_groups: (pmap only) a partition of the axis indices into groups of
            one size, e.g. `[[0, 1], [2, 3]]`; the swap happens within each group.

    Returns:
        Arrays of the shapes of `x`.

    >>> import lamina, lamina.numpy as lnp
    >>> f = lambda r: lamina.lax.pswapaxes(r, 'i', 0)
    >>> lamina.vmap(f, axis_name='i')(lnp.arange(4).reshape(2, 2))
    Array([[0, 2],
           [1, 3]], dtype=int32)
    """
    names = _names(axis_name)
    size = _axis_size(names, "pswapaxes")
    groups = index_groups("pswapaxes", axis_index_groups, size, axis_name, even=True)
    n = group_size(size, groups)
    try:
        axis = operator.index(axis)
    except TypeError:
        raise TypeError(f"pswapaxes: axis must be an int, got {axis!r}") from None

    def swap(leaf: Any) -> Any:
        aval = shaped_abstractify(leaf)
        if not -aval.ndim <= axis < aval.ndim:
            raise ValueError(f"pswapaxes: axis={axis} is out of range for an operand "
                             f"of rank {aval.ndim}; x is {aval.str_short()}")
        if aval.shape[axis] != n:
            what = "the size of its groups" if groups is not None else "its size"
            raise ValueError(f"pswapaxes requires x.shape[axis] ({aval.shape[axis]}, "
                             f"axis={axis}) to equal {what} ({n}) along the mapped "
                             f"axis {axis_name!r}; x is {aval.str_short()}")
        a = axis % aval.ndim
        return all_to_all(leaf, axis_name, a, a, axis_index_groups=groups)

    return tree_util.tree_map(swap, x)


def pbroadcast(x: Any, axis_name: AxisName, source: int) -> Any:
    """Every device (lane) along `axis_name` gets the `x` of device `source` (every
    leaf of a pytree).

    Written as jax documents it, `psum(where(axis_index(axis_name) == source, x, 0))`,
    so it is differentiable: the cotangents of all devices sum on `source`.

    Args:
        x: an array or pytree of arrays mapped over `axis_name`.
        axis_name: the mapped axis (or a tuple of axes, indexed as `axis_index` does).
        source: the index along `axis_name` of the device to copy from.

    Returns:
        Arrays of the shapes and dtypes of `x`, equal on every device.

    >>> import lamina, lamina.numpy as lnp
    >>> f = lambda x: lamina.lax.pbroadcast(x, 'i', source=1)
    >>> lamina.vmap(f, axis_name='i')(lnp.array([10, 20, 30]))
    Array([20, 20, 20], dtype=int32)
    """
    from lamina.lax.comparisons import eq, ne
    from lamina.lax.selection import select
    from lamina.lax.structural import zeros_like_array
    size = _axis_size(_names(axis_name), "pbroadcast")
    try:
        source = operator.index(source)
    except TypeError:
        raise TypeError(f"pbroadcast: source must be an int axis index, got "
                        f"{source!r}") from None
    if not 0 <= source < size:
        raise ValueError(f"pbroadcast: source={source} is out of range for axis "
                         f"{axis_name!r} of size {size}")

    def bind(leaf: Any) -> Any:
        if dtypes.is_python_scalar(leaf):
            return leaf  # a constant is the same on every device already
        is_source = eq(axis_index(axis_name), np.int32(source))
        masked = select(is_source, leaf, zeros_like_array(leaf))
        if shaped_abstractify(leaf).dtype == np.bool_:  # (psum sums booleans as ints)
            return ne(psum(masked, axis_name), 0)
        return psum(masked, axis_name)

    return tree_util.tree_map(bind, x)
