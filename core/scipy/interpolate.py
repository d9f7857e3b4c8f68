"""lamina.scipy.interpolate: `jax.scipy.interpolate.RegularGridInterpolator` (linear and
nearest interpolation on a rectilinear grid).

>>> import lamina.numpy as lnp
>>> from lamina.scipy.interpolate import RegularGridInterpolator
>>> f = RegularGridInterpolator((lnp.array([0., 1., 2.]),), lnp.array([0., 10., 40.]))
>>> f(lnp.array([[0.5], [1.5], [3.]]))
Array([ 5., 25., nan], dtype=float32)
"""
from __future__ import annotations

import itertools
from typing import Any

import numpy as np

import lamina.numpy as lnp
from lamina import tree_util
from lamina.numpy._util import promote_dtypes_inexact

__all__ = ["RegularGridInterpolator"]

_API = "lamina.scipy.interpolate.RegularGridInterpolator"
_METHODS = ("linear", "nearest")


def _check_method(method: Any) -> None:
    if method not in _METHODS:
        raise ValueError(f"{_API}: method must be 'linear' or 'nearest', got {method!r}.")


def _as_points(xi: Any, ndim: int) -> Any:
    """The query points as one array [..., ndim]: a tuple of coordinate arrays is
    broadcast and stacked; a 1-D array is a list of points."""
    if isinstance(xi, tuple) and len(xi) == 1:
        xi = xi[0]
    if isinstance(xi, tuple):
        parts = lnp.broadcast_arrays(*[lnp.asarray(p) for p in xi])
        return lnp.stack(parts, axis=-1)
    xi = lnp.asarray(xi)
    return xi.reshape(-1, ndim) if xi.ndim == 1 else xi


class RegularGridInterpolator:
    """Interpolates `values` given on the grid `points` (one increasing 1-D array per
    dimension), as `jax.scipy.interpolate.RegularGridInterpolator` (a pytree, so it can
    cross `jit`).

    Args:
        points: a sequence of 1-D arrays, the grid coordinates along each dimension.
        values: the samples, shaped `(len(points[0]), ..., len(points[-1]), *trailing)`.
        method: 'linear' (default) or 'nearest'.
        bounds_error: must be False (errors cannot be raised under jit, as in jax).
        fill_value: the value for points outside the grid (default NaN); None
            extrapolates.

    Calling it with points `xi` (`[..., ndim]`, or a tuple of coordinate arrays) returns
    the interpolated values, shaped `xi.shape[:-1] + values.shape[ndim:]`.

    >>> import lamina.numpy as lnp
    >>> from lamina.scipy.interpolate import RegularGridInterpolator
    >>> grid = (lnp.array([0., 1.]), lnp.array([0., 2.]))
    >>> f = RegularGridInterpolator(grid, lnp.array([[0., 2.], [1., 3.]]))
    >>> f(lnp.array([[0.5, 1.], [1., 2.]]))
    Array([1.5, 3. ], dtype=float32)
    """

    def __init__(self, points: Any, values: Any, method: str = "linear",
                 bounds_error: bool = False, fill_value: Any = np.nan) -> None:
        _check_method(method)
        if bounds_error:
            raise NotImplementedError(f"{_API}: bounds_error=True cannot work under jit (as "
                                      "in jax); use bounds_error=False and a fill_value.")
        self.method = method
        self.bounds_error = bounds_error
        values = lnp.asarray(values)
        if len(points) > values.ndim:
            raise ValueError(f"{_API}: there are {len(points)} point arrays, but values has "
                             f"only {values.ndim} dimensions (shape {values.shape}).")
        (values,) = promote_dtypes_inexact(values)
        if fill_value is not None:
            fill_value = lnp.asarray(fill_value)
            if not lnp.can_cast(fill_value.dtype, values.dtype, casting="same_kind"):
                raise ValueError(f"{_API}: fill_value must be None or castable to the values' "
                                 f"dtype {values.dtype}, got dtype {fill_value.dtype}.")
        self.fill_value = fill_value
        self.grid = tuple(lnp.asarray(p) for p in points)
        self.values = values

    def __call__(self, xi: Any, method: str | None = None) -> Any:
        method = self.method if method is None else method
        _check_method(method)
        ndim = len(self.grid)
        xi = _as_points(xi, ndim)
        if xi.shape[-1] != ndim:
            raise ValueError(f"{_API}: the sample points xi have dimension {xi.shape[-1]}, "
                             f"but the grid has {ndim} dimensions; pass points shaped "
                             f"[..., {ndim}].")
        lead = xi.shape[:-1]
        xi = xi.reshape(-1, ndim)
        cells, fracs, outside = self._locate(xi.T)
        out = self._linear(cells, fracs) if method == "linear" else \
            self.values[tuple(lnp.where(f <= 0.5, i, i + 1) for i, f in zip(cells, fracs))]
        if self.fill_value is not None:
            mask = outside.reshape(out.shape[:1] + (1,) * (out.ndim - 1))
            out = lnp.where(mask, self.fill_value, out)
        return out.reshape(lead + self.values.shape[ndim:])

    def _locate(self, xi: Any) -> tuple[list[Any], list[Any], Any]:
        """For each dimension, the cell index i (grid[i] <= x < grid[i+1], clipped to the
        grid) and the fractional position in it; plus which points lie outside."""
        cells, fracs = [], []
        outside = lnp.zeros((xi.shape[1],), dtype=bool)
        for x, g in zip(xi, self.grid):
            i = lnp.clip(lnp.searchsorted(g, x) - 1, 0, g.size - 2)
            cells.append(i)
            fracs.append((x - g[i]) / (g[i + 1] - g[i]))
            outside = outside | (x < g[0]) | (x > g[-1])
        return cells, fracs, outside

    def _linear(self, cells: list[Any], fracs: list[Any]) -> Any:
        trailing = (slice(None),) + (None,) * (self.values.ndim - len(cells))
        total: Any = lnp.asarray(0.0)
        for corner in itertools.product(*[(i, i + 1) for i in cells]):
            weight: Any = lnp.asarray(1.0)
            for c, i, f in zip(corner, cells, fracs):
                # NOTE: the lower corner (the very index array i) weighs 1 - f.
                weight = weight * ((1 - f) if c is i else f)
            total = total + self.values[corner] * weight[trailing]
        return total


tree_util.register_pytree_node(
    RegularGridInterpolator,
    lambda f: ((f.grid, f.values, f.fill_value), (f.method, f.bounds_error)),
    lambda aux, children: RegularGridInterpolator(*children[:2], *aux, *children[2:]),
)
