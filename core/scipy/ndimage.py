"""lamina.scipy.ndimage: `jax.scipy.ndimage.map_coordinates` (nearest and linear
interpolation, every boundary mode jax has).

>>> import lamina.numpy as lnp
>>> from lamina.scipy.ndimage import map_coordinates
>>> map_coordinates(lnp.array([0., 10., 20.]), [lnp.array([0.5, 1.25])], order=1)
Array([ 5. , 12.5], dtype=float32)
"""
from __future__ import annotations

import functools
import itertools
import operator
from typing import Any, Callable, Sequence

import numpy as np

import lamina.numpy as lnp
from lamina import dtypes, lax

__all__ = ["map_coordinates"]


def _mirror(index: Any, size: int) -> Any:
    # Reflection about the edge samples: ... 2 1 | 0 1 2 | 1 0 ...
    period = size - 1
    return lnp.abs((index + period) % (2 * period) - period) if period else index * 0


def _reflect(index: Any, size: int) -> Any:
    # Reflection about the edges themselves: ... 1 0 | 0 1 2 | 2 1 ...; a mirror of the
    # doubled-and-offset index.
    return lnp.floor_divide(_mirror(2 * index + 1, 2 * size + 1) - 1, 2)


_MODES: dict[str, Callable[[Any, int], Any]] = {
    "constant": lambda index, size: index,
    "nearest": lambda index, size: lnp.clip(index, 0, size - 1),
    "wrap": lambda index, size: index % size,
    "mirror": _mirror,
    "reflect": _reflect,
}


def _round(x: Any) -> Any:
    """Rounds half away from zero (scipy's convention), integers unchanged."""
    return x if dtypes.issubdtype(x.dtype, np.integer) else lax.round(x)


def _nodes(order: int, coordinate: Any) -> list[tuple[Any, Any]]:
    """(integer index, weight) pairs interpolating at `coordinate` along one axis."""
    if order == 0:
        return [(_round(coordinate).astype(np.int32), coordinate.dtype.type(1))]
    below = lnp.floor(coordinate)
    frac = coordinate - below
    index = below.astype(np.int32)
    return [(index, 1 - frac), (index + 1, frac)]


def map_coordinates(input: Any, coordinates: Sequence[Any], order: int,
                    mode: str = "constant", cval: Any = 0.0) -> Any:
    """Samples `input` at (fractional) `coordinates` by spline interpolation of order 0
    (nearest) or 1 (linear), as `jax.scipy.ndimage.map_coordinates`.

    Args:
        input: the N-d array to sample.
        coordinates: a sequence of N arrays (all of one shape): the positions along each
            axis, in index units.
        order: 0 or 1 (higher orders are not implemented, as in jax).
        mode: how positions outside the array map back: 'constant' (use `cval`),
            'nearest', 'wrap', 'mirror' or 'reflect' (scipy's meanings).
        cval: the value outside the array when mode='constant'.

    Returns:
        The samples, shaped like each coordinate array, in `input`'s dtype (integer
        inputs are rounded).

    >>> import lamina.numpy as lnp
    >>> from lamina.scipy.ndimage import map_coordinates
    >>> img = lnp.arange(9.).reshape(3, 3)
    >>> map_coordinates(img, [lnp.array([0.5, 2.]), lnp.array([0.5, 3.])], order=1,
    ...                 mode="nearest")
    Array([2., 8.], dtype=float32)
    """
    api = "lamina.scipy.ndimage.map_coordinates"
    x = lnp.asarray(input)
    coords = [lnp.asarray(c) for c in coordinates]
    if len(coords) != x.ndim:
        raise ValueError(f"{api}: coordinates must be a sequence of input.ndim "
                         f"({x.ndim}) arrays, one per axis, got {len(coords)}.")
    if mode not in _MODES:
        raise NotImplementedError(f"{api}: mode {mode!r} is not supported; the modes are "
                                  f"{sorted(_MODES)}.")
    if order not in (0, 1):
        raise NotImplementedError(f"{api}: only order=0 (nearest) and order=1 (linear) are "
                                  f"implemented (as in jax), got order={order!r}.")
    cval = lnp.asarray(cval, x.dtype)
    fix = _MODES[mode]
    per_axis = []
    for c, size in zip(coords, x.shape):
        if not dtypes.issubdtype(c.dtype, np.inexact) and order == 1:
            c = c.astype(dtypes.default_float_dtype())
        nodes = []
        for index, weight in _nodes(order, c):
            inside = ((0 <= index) & (index < size)) if mode == "constant" else None
            nodes.append((fix(index, size), inside, weight))
        per_axis.append(nodes)
    terms = []
    for combo in itertools.product(*per_axis):
        indices = tuple(n[0] for n in combo)
        masks = [n[1] for n in combo if n[1] is not None]
        sample = x[indices]
        if masks:
            sample = lnp.where(functools.reduce(operator.and_, masks), sample, cval)
        weight = functools.reduce(operator.mul, [n[2] for n in combo])
        terms.append(weight * sample)
    out = functools.reduce(operator.add, terms)
    if dtypes.issubdtype(x.dtype, np.integer):
        out = _round(out)
    return out.astype(x.dtype)
