"""Multidimensional histograms of jax.numpy: histogramdd and histogram2d.

Each dimension is binned like `histogram` (the last bin includes its upper edge); the
per-dimension bin numbers are combined into one flat index and counted with
`bincount` at a static length, so both work under jit when the bins are given as
counts or edges (not value-dependent).
"""
from __future__ import annotations

import builtins
import math
from typing import Any, Sequence

from lamina import lax
from lamina.numpy._lax_helpers import _slice_axis
from lamina.numpy._util import asarray, check_arraylike, promote_dtypes_inexact
from lamina.numpy.differences import diff
from lamina.numpy.index_tricks import ix_, ravel_multi_index
from lamina.numpy.joining import stack
from lamina.numpy.selection import where
from lamina.numpy.sorting import searchsorted
from lamina.numpy.statistics import bincount, histogram_bin_edges

__all__ = ["histogram2d", "histogramdd"]

Array = Any  # lamina.Array or a Tracer
ArrayLike = Any


def histogramdd(sample: ArrayLike, bins: ArrayLike | Sequence[ArrayLike] = 10,
                range: Sequence[Any] | None = None, weights: ArrayLike | None = None,
                density: bool | None = None) -> tuple[Array, list[Array]]:
    """The D-dimensional histogram of N points (jax.numpy.histogramdd).

    Args:
        sample: the points, shape `(N, D)`.
        bins: a bin count for every dimension, or one entry per dimension (a count or
            1-D increasing edges).
        range: None, or one `(lower, upper)` pair (or None) per dimension.
        weights: one weight per point, shape `(N,)`.
        density: normalise so that the histogram integrates to 1 over the bins.

    Returns:
        `(hist, edges)`: the counts (integers without weights and density, as jax),
        shape `(nbins_0, ..., nbins_{D-1})`, and the list of D edge arrays.

    >>> import lamina.numpy as lnp
    >>> pts = lnp.array([[0.0, 0.0], [1.0, 1.0], [1.0, 0.0]])
    >>> hist, edges = lnp.histogramdd(pts, bins=2)
    >>> hist
    Array([[1, 0],
           [1, 1]], dtype=int32)
    """
    fn = "lamina.numpy.histogramdd"
    if weights is None:
        check_arraylike(fn, sample)
        (sample,) = promote_dtypes_inexact(sample)
    else:
        check_arraylike(fn, sample, weights)
        sample, weights = promote_dtypes_inexact(sample, weights)
    if sample.ndim != 2:
        raise ValueError(f"{fn}: sample must be a 2-D array of shape (N, D), got shape "
                         f"{sample.shape}; for 1-D data use lamina.numpy.histogram")
    n, d = sample.shape
    if weights is not None and weights.shape != (n,):
        raise ValueError(f"{fn}: expected one weight per sample, shape {(n,)}, got "
                         f"{weights.shape}")
    if range is not None and (len(range) != d or builtins.any(
            r is not None and len(r) != 2 for r in range)):
        raise ValueError(f"{fn}: for sample.shape={(n, d)}, range must be a sequence of {d} "
                         f"(lower, upper) pairs or Nones; got range={range!r}")
    try:
        per_dim = list(bins)  # type: ignore[arg-type]
    except TypeError:
        per_dim = [bins] * d
    else:
        if len(per_dim) != d:
            raise ValueError(f"{fn}: expected one bins entry per dimension ({d}), got "
                             f"{len(per_dim)}")
    indices, all_edges = [], []
    for i in builtins.range(d):
        column = lax.reshape(_slice_axis(sample, i, i + 1, 1), (n,))
        edges = histogram_bin_edges(column, per_dim[i], None if range is None else range[i])
        index = searchsorted(edges, column, side="right")
        last = lax.reshape(_slice_axis(edges, edges.shape[0] - 1, edges.shape[0], 0), ())
        # The last bin is closed: a point on the top edge goes into it.
        index = where(lax.eq(column, last), index - 1, index)
        indices.append(index)
        all_edges.append(edges)
    # Bin numbers run from 0 (below the first edge) to len(edges) (above the last).
    shape = tuple(e.shape[0] + 1 for e in all_edges)
    flat = ravel_multi_index(tuple(indices), shape, mode="clip")
    hist = lax.reshape(bincount(flat, weights, length=math.prod(shape)), shape)
    hist = lax.slice(hist, (1,) * d, tuple(s - 1 for s in shape))
    if density:
        hist = lax.convert_element_type(hist, sample.dtype)
        hist = hist / hist.sum()
        for widths in ix_(*[diff(e) for e in all_edges]):
            hist = hist / widths
    return hist, all_edges


def histogram2d(x: ArrayLike, y: ArrayLike, bins: ArrayLike | Sequence[ArrayLike] = 10,
                range: Sequence[Any] | None = None, weights: ArrayLike | None = None,
                density: bool | None = None) -> tuple[Array, Array, Array]:
    """The 2-D histogram of points `(x[i], y[i])` (jax.numpy.histogram2d).

    Args:
        x, y: 1-D coordinates of the same length.
        bins: a bin count for both axes, `[nx, ny]`, 1-D edges for both axes, or
            `[x_edges, y_edges]`.
        range: None or `[(xmin, xmax), (ymin, ymax)]`.
        weights: one weight per point.
        density: normalise so that the histogram integrates to 1.

    Returns:
        `(hist, x_edges, y_edges)`; `hist[i, j]` counts points in x bin i and y bin j.

    >>> import lamina.numpy as lnp
    >>> h, xe, ye = lnp.histogram2d(lnp.array([0.0, 1.0, 1.0]), lnp.array([0.0, 0.0, 1.0]),
    ...                             bins=2)
    >>> h
    Array([[1, 0],
           [1, 1]], dtype=int32)
    """
    check_arraylike("lamina.numpy.histogram2d", x, y)
    try:
        nbins = len(bins)  # type: ignore[arg-type]
    except TypeError:
        nbins = 1
    if nbins not in (1, 2):
        edges = asarray(bins)
        bins = [edges, edges]
    hist, edges = histogramdd(stack([asarray(x), asarray(y)], axis=1), bins, range, weights,
                              density)
    return hist, edges[0], edges[1]
