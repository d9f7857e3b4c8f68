"""`ragged_dot`: a matrix product whose rows are split into consecutive groups, each
multiplied by its own right-hand matrix (the grouped GEMM of mixture-of-experts
layers), with jax.lax's signature and semantics.

A composition: every row is multiplied by every group's matrix (`dot_general`), and
a one-hot mask built from the cumulative group sizes keeps each row's own group, so
rows past `sum(group_sizes)` come out zero, as in jax. It costs `g` times a dense
product; derivatives and batching come from the primitives used.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Sequence

import numpy as np

from lamina import dtypes
from lamina.backend.array import Array
from lamina.lax._util import ArrayLike, DTypeLike, aval_of

__all__ = ["RaggedDotDimensionNumbers", "ragged_dot", "ragged_dot_general"]


def ragged_dot(lhs: ArrayLike, rhs: ArrayLike, group_sizes: ArrayLike, precision: Any = None,
               preferred_element_type: DTypeLike | None = None,
               group_offset: ArrayLike | None = None, out_sharding: Any = None) -> Array:
    """`out[i] = lhs[i] @ rhs[g(i)]`, where row `i` belongs to group `g(i)`: the first
    `group_sizes[0]` rows to group 0, the next `group_sizes[1]` to group 1, and so on.

    Args:
        lhs: `(m, k)`.
        rhs: `(g, k, n)`, one matrix per group.
        group_sizes: `(g,)` integers; rows past their sum give zeros.
        precision, preferred_element_type: as `dot_general`.
        group_offset, out_sharding: must be None (as jax on CPU/GPU).

    Returns:
        `(m, n)`.

    >>> import lamina.numpy as lnp
    >>> from lamina import lax
    >>> lhs = lnp.ones((3, 2))
    >>> rhs = lnp.stack([lnp.eye(2), 2 * lnp.eye(2)])
    >>> lax.ragged_dot(lhs, rhs, lnp.array([1, 2], lnp.int32))
    Array([[1., 1.],
           [2., 2.],
           [2., 2.]], dtype=float32)
    """
    import lamina.lax as lax
    if group_offset is not None:
        raise NotImplementedError("ragged_dot: group_offset is not supported (as jax on "
                                  "CPU and GPU)")
    if out_sharding is not None:
        raise NotImplementedError("ragged_dot: out_sharding is not supported by lamina")
    l, r, s = aval_of(lhs), aval_of(rhs), aval_of(group_sizes)
    if l.ndim != 2 or r.ndim != 3 or s.ndim != 1:
        raise TypeError(f"ragged_dot: expected lhs (m, k), rhs (g, k, n) and group_sizes "
                        f"(g,), got {l.str_short()}, {r.str_short()}, {s.str_short()}")
    if l.shape[1] != r.shape[1] or r.shape[0] != s.shape[0]:
        raise TypeError(f"ragged_dot: shapes do not agree: lhs {l.str_short()}, rhs "
                        f"{r.str_short()}, group_sizes {s.str_short()}")
    if not dtypes.is_integer(s.dtype):
        raise TypeError(f"ragged_dot: group_sizes must be integers, got {s.str_short()}")
    m, g = l.shape[0], r.shape[0]
    # every row times every group's matrix: (m, g, n)
    full = lax.dot_general(lhs, rhs, (((1,), (1,)), ((), ())), precision=precision,
                           preferred_element_type=preferred_element_type)
    ends = lax.cumsum(lax.convert_element_type(group_sizes, np.int32), 0)
    starts = lax.sub(ends, lax.convert_element_type(group_sizes, np.int32))
    row = lax.broadcasted_iota(np.int32, (m, g), 0)
    mine = lax.bitwise_and(lax.ge(row, lax.broadcast_in_dim(starts, (m, g), (1,))),
                           lax.lt(row, lax.broadcast_in_dim(ends, (m, g), (1,))))
    mask = lax.broadcast_in_dim(mine, aval_of(full).shape, (0, 1))
    zero = lax.full_like(full, 0)
    return lax.reduce_sum(lax.select(mask, full, zero), (1,))


@dataclasses.dataclass(frozen=True, init=False)
class RaggedDotDimensionNumbers:
    """The layout of a `ragged_dot_general`: `dot_dimension_numbers` as
    `dot_general`'s (`((lhs_contracting, rhs_contracting), (lhs_batch, rhs_batch))`),
    the one lhs ragged dimension, and the rhs group dimension (none, or one when the
    ragged dimension is a non-contracting one)."""

    dot_dimension_numbers: tuple[tuple[tuple[int, ...], tuple[int, ...]],
                                 tuple[tuple[int, ...], tuple[int, ...]]]
    lhs_ragged_dimensions: tuple[int, ...]
    rhs_group_dimensions: tuple[int, ...]

    def __init__(self, dot_dimension_numbers: Any, lhs_ragged_dimensions: Sequence[int],
                 rhs_group_dimensions: Sequence[int]) -> None:
        dn = tuple(tuple(tuple(int(d) for d in dims) for dims in pair)
                   for pair in dot_dimension_numbers)
        object.__setattr__(self, "dot_dimension_numbers", dn)
        object.__setattr__(self, "lhs_ragged_dimensions",
                           tuple(int(d) for d in lhs_ragged_dimensions))
        object.__setattr__(self, "rhs_group_dimensions",
                           tuple(int(d) for d in rhs_group_dimensions))


def _group_mask(group_sizes: Any, n: int) -> Any:
    """`(g, n)` booleans: entry `[j, r]` says position `r` of the ragged dimension
    belongs to group `j` (consecutive groups from position 0)."""
    import lamina.lax as lax
    g = aval_of(group_sizes).shape[0]
    sizes = lax.convert_element_type(group_sizes, np.int32)
    ends = lax.cumsum(sizes, 0)
    starts = lax.sub(ends, sizes)
    pos = lax.broadcasted_iota(np.int32, (g, n), 1)
    return lax.bitwise_and(lax.ge(pos, lax.broadcast_in_dim(starts, (g, n), (0,))),
                           lax.lt(pos, lax.broadcast_in_dim(ends, (g, n), (0,))))


def ragged_dot_general(lhs: ArrayLike, rhs: ArrayLike, group_sizes: ArrayLike,
                       ragged_dot_dimension_numbers: RaggedDotDimensionNumbers,
                       precision: Any = None, preferred_element_type: DTypeLike | None = None,
                       group_offset: ArrayLike | None = None, out_sharding: Any = None
                       ) -> Array:
    """`dot_general` where the lhs ragged dimension is split into consecutive groups of
    `group_sizes` (jax's three modes):

    1. ragged non-contracting dimension `m`, rhs group dimension `g`: each group of
       rows uses its own rhs slice; output as `dot_general`'s.
    2. ragged contracting dimension `k` (no rhs group dimension): the contraction
       runs within each group; the output gains a leading dimension of size `g`.
    3. ragged batch dimension (no rhs group dimension): the plain `dot_general`
       (as jax: batch entries do not mix, so grouping changes nothing).

    In modes 1 and 2, positions past `sum(group_sizes)` belong to no group (zero
    rows, or no contribution). lamina supports 1-d
    `group_sizes` (shape `(g,)`) only.

    >>> import lamina.numpy as lnp
    >>> from lamina import lax
    >>> dn = lax.RaggedDotDimensionNumbers((((1,), (0,)), ((), ())), [1], [])
    >>> lax.ragged_dot_general(lnp.ones((2, 3)), lnp.ones((3, 2)), lnp.array([1, 2]), dn)
    Array([[[1., 1.],
            [1., 1.]],
    <BLANKLINE>
           [[2., 2.],
            [2., 2.]]], dtype=float32)
    """
    import lamina.lax as lax
    fn = "ragged_dot_general"
    if group_offset is not None:
        raise NotImplementedError(f"{fn}: group_offset is not supported (as jax on CPU and GPU)")
    if out_sharding is not None:
        raise NotImplementedError(f"{fn}: out_sharding is not supported by lamina")
    if not isinstance(ragged_dot_dimension_numbers, RaggedDotDimensionNumbers):
        raise TypeError(f"{fn}: ragged_dot_dimension_numbers must be a "
                        f"RaggedDotDimensionNumbers, got {ragged_dot_dimension_numbers!r}")
    rdn = ragged_dot_dimension_numbers
    (lc, rc), (lb, rb) = rdn.dot_dimension_numbers
    l, r, s = aval_of(lhs), aval_of(rhs), aval_of(group_sizes)
    if s.ndim != 1 or not dtypes.is_integer(s.dtype):
        raise NotImplementedError(f"{fn}: lamina supports integer group_sizes of shape (g,) "
                                  f"only, got {s.str_short()}")
    if len(rdn.lhs_ragged_dimensions) != 1:
        raise TypeError(f"{fn}: need exactly one lhs ragged dimension, got "
                        f"{rdn.lhs_ragged_dimensions}")
    ragged = rdn.lhs_ragged_dimensions[0] % max(l.ndim, 1)
    groups = s.shape[0]
    mask = _group_mask(group_sizes, l.shape[ragged])
    zero = np.zeros((), l.dtype)

    def lhs_per_group() -> Any:
        # (g, *lhs.shape): each group's copy of lhs, zero outside its positions
        big = (groups, *l.shape)
        keep = lax.broadcast_in_dim(mask, big, (0, ragged + 1))
        return lax.select(keep, lax.broadcast_in_dim(lhs, big, tuple(range(1, l.ndim + 1))),
                          lax.broadcast_in_dim(zero, big, ()))

    def shift(dims: Sequence[int]) -> tuple[int, ...]:
        return tuple(d + 1 for d in dims)

    dot = lambda a, b, dn: lax.dot_general(  # noqa: E731
        a, b, dn, precision=precision, preferred_element_type=preferred_element_type)
    if ragged in lc or ragged in lb:
        if rdn.rhs_group_dimensions:
            raise TypeError(f"{fn}: the rhs has no group dimension when the ragged "
                            f"dimension is a contracting or batch dimension, got "
                            f"rhs_group_dimensions={rdn.rhs_group_dimensions}")
        if ragged in lc:  # mode 2: [g, b..., m..., n...]
            out = dot(lhs_per_group(), rhs, ((shift(lc), rc), (shift(lb), rb)))
            nb = len(lb)
            perm = (nb, *range(nb), *range(nb + 1, aval_of(out).ndim))
            return lax.transpose(out, perm)
        # mode 3: each batch entry is its own product, so the groups change nothing
        # (jax computes the plain dot_general too, whatever the group sizes)
        return dot(lhs, rhs, ((lc, rc), (lb, rb)))
    # mode 1: the rhs group dimension pairs with each group's copy of lhs as a batch dim
    if len(rdn.rhs_group_dimensions) != 1:
        raise TypeError(f"{fn}: a ragged non-contracting dimension needs one rhs group "
                        f"dimension, got rhs_group_dimensions={rdn.rhs_group_dimensions}")
    gd = rdn.rhs_group_dimensions[0] % r.ndim
    if r.shape[gd] != groups:
        raise TypeError(f"{fn}: the rhs group dimension has size {r.shape[gd]} but "
                        f"group_sizes has {groups} groups")
    out = dot(lhs_per_group(), rhs, ((shift(lc), rc), ((0, *shift(lb)), (gd, *rb))))
    return lax.reduce_sum(out, (0,))
