"""`approx_max_k` and `approx_min_k` (jax.lax's approximate top-k for nearest-neighbour
search). On CPU and GPU, XLA computes them exactly (jax's TPU-only approximation does
not apply), so lamina computes the exact top-k: a stable sort of (value, index) along
the reduction dimension, cut to `k`. Ties keep index order, as jax's results on CPU;
where NaNs land is unspecified (lamina ranks them largest; jax's comparator-based
lowering leaves their order to XLA).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from lamina import dtypes
from lamina.backend.array import Array
from lamina.lax._util import ArrayLike, aval_of, canonicalize_axis

__all__ = ["approx_max_k", "approx_min_k"]


def _top_k(fn: str, operand: ArrayLike, k: int, reduction_dimension: int,
           recall_target: float, aggregate_to_topk: bool, largest: bool) -> list[Array]:
    import lamina.lax as lax
    a = aval_of(operand)
    if a.ndim == 0:
        raise ValueError(f"{fn}: the operand must have at least one dimension, got "
                         + a.str_short())
    dim = canonicalize_axis(reduction_dimension, a.ndim, fn)
    n = a.shape[dim]
    if not isinstance(k, (int, np.integer)) or not 0 < k <= n:
        raise ValueError(f"{fn}: k must be an int in [1, {n}] (the size of dimension "
                         f"{dim}), got {k!r}")
    if not 0 < recall_target <= 1:
        raise ValueError(f"{fn}: recall_target must be in (0, 1], got {recall_target}")
    if not aggregate_to_topk:
        raise NotImplementedError(f"{fn}: aggregate_to_topk=False (an unaggregated, "
                                  "platform-sized result) is not supported by lamina")
    if not dtypes.is_floating(a.dtype):
        raise TypeError(f"{fn}: the operand must be a real floating array (as jax), got "
                        + a.str_short())
    idx = lax.broadcasted_iota(np.int32, a.shape, dim)
    if largest:
        # ascending on (value, -index), reversed: descending values (NaN first),
        # equal values in index order
        vals, neg = lax.sort((operand, lax.neg(idx)), dimension=dim, num_keys=2)
        vals, idx = lax.rev(vals, (dim,)), lax.neg(lax.rev(neg, (dim,)))
    else:
        vals, idx = lax.sort((operand, idx), dimension=dim, num_keys=2)
    return [lax.slice_in_dim(vals, 0, int(k), axis=dim),
            lax.slice_in_dim(idx, 0, int(k), axis=dim)]


def approx_max_k(operand: ArrayLike, k: int, reduction_dimension: int = -1,
                 recall_target: float = 0.95, reduction_input_size_override: int = -1,
                 aggregate_to_topk: bool = True) -> Any:
    """The `k` largest entries along `reduction_dimension` and their int32 indices,
    largest first (exact here; see the module docstring).

    Args:
        operand: a real floating array.
        k: how many entries to return.
        reduction_dimension: the dimension to search.
        recall_target, reduction_input_size_override: the approximation's knobs,
            checked and otherwise ignored (the result is exact).
        aggregate_to_topk: must be True.

    Returns:
        `[values, indices]` (a list, as jax), each with `reduction_dimension` of size `k`.

    >>> import lamina.numpy as lnp
    >>> from lamina import lax
    >>> lax.approx_max_k(lnp.array([3.0, 1.0, 4.0, 1.0, 5.0]), 2)
    [Array([5., 4.], dtype=float32), Array([4, 2], dtype=int32)]
    """
    del reduction_input_size_override
    return _top_k("approx_max_k", operand, k, reduction_dimension, recall_target,
                  aggregate_to_topk, True)


def approx_min_k(operand: ArrayLike, k: int, reduction_dimension: int = -1,
                 recall_target: float = 0.95, reduction_input_size_override: int = -1,
                 aggregate_to_topk: bool = True) -> Any:
    """The `k` smallest entries along `reduction_dimension` and their int32 indices,
    smallest first (exact here; arguments as `approx_max_k`).

    >>> import lamina.numpy as lnp
    >>> from lamina import lax
    >>> lax.approx_min_k(lnp.array([3.0, 1.0, 4.0, 1.0, 5.0]), 2)
    [Array([1., 1.], dtype=float32), Array([1, 3], dtype=int32)]
    """
    del reduction_input_size_override
    return _top_k("approx_min_k", operand, k, reduction_dimension, recall_target,
                  aggregate_to_topk, False)
