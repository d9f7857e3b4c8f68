"""Transformation rules (JVP, transpose, batching) of the primitives in `reductions.py`.

They live in this sibling module to keep `reductions.py` under ~1300 lines; it is
imported at the end of `reductions.py`, so importing `lamina.lax` registers them.

* Linear primitives (`reduce_sum`, `cumsum`, `reduce_window_sum`) are `deflinear` with
  jax's transposes (broadcast; reverse cumsum; pad + reduce_window_sum).
* `reduce_prod` differentiates a pairwise product tree and `cumprod`/`cummax`/
  `cummin`/`cumlogsumexp` a parallel prefix scan (jax's way: both stay correct where
  the operand has zeros, and are differentiable again).
* `reduce_max`/`reduce_min` share the tangent equally among tied maxima (jax's rule);
  `reduce_window_max`/`min` pass on the tangent of the first maximum of each window.
* `sort`/`top_k` gather the tangents at the permutation they applied.
* Boolean, integer and index outputs (`reduce_and/or/xor`, `argmax`/`argmin`) have
  zero tangents.

Batching rules move the batch dimension past the reduced axes (reductions), shift the
`axis`/`dimension` param (cumulative, sort, top_k) or give the batch dimension a window
of 1 (windowed reductions).
"""
from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any, Callable

import numpy as np

from lamina.interpreters import ad, batching
from lamina.ir import Primitive, shaped_abstractify
from lamina.lax import elementwise as ew
from lamina.lax import reductions as red
from lamina.lax import structural as st

Array = Any


def _shape(x: Any) -> tuple[int, ...]:
    return tuple(shaped_abstractify(x).shape)


def _dtype(x: Any) -> np.dtype:
    return shaped_abstractify(x).dtype


def _kept_dims(ndim: int, axes: Sequence[int]) -> tuple[int, ...]:
    return tuple(i for i in range(ndim) if i not in axes)


# --------------------------------------------------------------------------------------
# Batching helpers
# --------------------------------------------------------------------------------------


def _defreducer(prim: Primitive) -> None:
    """Batch a reduction over `axes`: shift the axes past the batch dimension."""

    def rule(args: Sequence[Any], dims: Sequence[Any], *, axes: tuple[int, ...],
             **params: Any) -> tuple[Any, Any]:
        (operand,), (bdim,) = args, dims
        new_axes = tuple(a + (a >= bdim) for a in axes)
        out_bdim = bdim - sum(a < bdim for a in new_axes)
        return prim.bind(operand, axes=new_axes, **params), out_bdim

    batching.primitive_batchers[prim] = rule


def _defaxis_shift(prim: Primitive, param: str) -> None:
    """Batch a primitive acting along one axis (`param`) and keeping the rank."""

    def rule(args: Sequence[Any], dims: Sequence[Any], **params: Any) -> tuple[Any, Any]:
        (operand,), (bdim,) = args, dims
        axis = params[param]
        params = {**params, param: axis + (bdim <= axis)}
        out = prim.bind(operand, **params)
        return out, ([bdim] * len(out) if prim.multiple_results else bdim)

    batching.primitive_batchers[prim] = rule


# --------------------------------------------------------------------------------------
# reduce_sum, reduce_prod, reduce_max/min, logical reductions, argmax/argmin
# --------------------------------------------------------------------------------------


def _reduce_sum_transpose(ct: Any, operand: Any, *, axes: tuple[int, ...]) -> list[Any]:
    assert ad.is_undefined_primal(operand)
    shape = operand.aval.shape
    return [st.broadcast_in_dim(ct, shape, _kept_dims(len(shape), axes))]


ad.deflinear(red.reduce_sum_p, _reduce_sum_transpose)
_defreducer(red.reduce_sum_p)


def _product_tree(x: Array, axes: tuple[int, ...]) -> Array:
    """`reduce_prod(x, axes)` as a tree of pairwise `mul`s (its JVP is then correct
    where `x` has zeros, unlike `ans / x`): the reduced axes are flattened to one
    leading axis, which is halved until one element is left."""
    shape = _shape(x)
    rest = _kept_dims(len(shape), axes)
    n = int(np.prod([shape[a] for a in axes], dtype=np.int64))
    rest_shape = tuple(shape[i] for i in rest)
    x = st.reshape(st.transpose(x, (*axes, *rest)), (n, *rest_shape))
    if n == 0:
        return st.full(rest_shape, 1, _dtype(x))
    while n > 1:
        half = (n + 1) // 2
        lo, hi = st.slice_in_dim(x, 0, half), st.slice_in_dim(x, half, n)
        if n % 2:  # NOTE: pad the odd one out with the identity
            hi = st.pad(hi, ew.convert_element_type(1, _dtype(x)),
                        [(0, 1, 0)] + [(0, 0, 0)] * len(rest_shape))
        x, n = ew.mul(lo, hi), half
    return st.reshape(x, rest_shape)


def _reduce_prod_jvp(primals: Sequence[Any], tangents: Sequence[Any], *,
                     axes: tuple[int, ...]) -> tuple[Any, Any]:
    outs, touts = ad.jvp_flat(lambda x: [_product_tree(x, axes)], primals, tangents)
    return outs[0], touts[0]


ad.primitive_jvps[red.reduce_prod_p] = _reduce_prod_jvp
_defreducer(red.reduce_prod_p)


def _reduce_chooser_jvp(g: Any, ans: Any, operand: Any, *, axes: tuple[int, ...]) -> Any:
    """jax's rule: the tangent is the mean of the tangents at the extremal positions
    (ties share it equally)."""
    shape = _shape(operand)
    ans_b = st.broadcast_in_dim(ans, shape, _kept_dims(len(shape), axes))
    location = ew.convert_element_type(ew.eq(operand, ans_b), _dtype(g))
    counts = red.reduce_sum(location, axes)
    return ew.div(red.reduce_sum(ew.mul(g, location), axes), counts)


for _prim in (red.reduce_max_p, red.reduce_min_p):
    ad.defjvp2(_prim, _reduce_chooser_jvp)
    _defreducer(_prim)

for _prim in (red.reduce_and_p, red.reduce_or_p, red.reduce_xor_p, red.argmax_p,
              red.argmin_p):
    ad.defjvp_zero(_prim)
    _defreducer(_prim)


# --------------------------------------------------------------------------------------
# Cumulative reductions
# --------------------------------------------------------------------------------------


def _cumsum_transpose(ct: Any, operand: Any, *, axis: int, reverse: bool) -> list[Any]:
    assert ad.is_undefined_primal(operand)
    return [red.cumsum_p.bind(ct, axis=axis, reverse=not reverse)]


ad.deflinear(red.cumsum_p, _cumsum_transpose)


def _prefix_scan(combine: Callable[[list[Array], list[Array]], list[Array]],
                 elems: list[Array], axis: int) -> list[Array]:
    """Inclusive prefix scan of the arrays `elems` (one shape) along `axis` with an
    associative `combine` (lists of arrays -> list of arrays), in O(log n) levels:
    combine neighbouring pairs, scan those recursively (giving the odd positions),
    then one more `combine` gives the even positions; interleave them with pads."""
    n = _shape(elems[0])[axis]
    if n < 2:
        return elems
    evens = [st.slice_in_dim(x, 0, n, 2, axis) for x in elems]
    odds = [st.slice_in_dim(x, 1, n, 2, axis) for x in elems]
    n_odd = n // 2
    pairs = combine([st.slice_in_dim(x, 0, n_odd, 1, axis) for x in evens], odds)
    odd_out = _prefix_scan(combine, pairs, axis)
    n_even = n - n_odd
    head = [st.slice_in_dim(x, 0, 1, 1, axis) for x in evens]
    prev = [st.slice_in_dim(x, 0, n_even - 1, 1, axis) for x in odd_out]
    rest = combine(prev, [st.slice_in_dim(x, 1, n_even, 1, axis) for x in evens])
    even_out = [st.concatenate([h, r], axis) for h, r in zip(head, rest)]

    def spread(x: Array, low: int, count: int) -> Array:
        config = [(0, 0, 0)] * len(_shape(x))
        config[axis] = (low, n - low - (2 * count - 1), 1)
        return st.pad(x, ew.convert_element_type(0, _dtype(x)), config)

    # NOTE: x + 0 is x for every value (infinities and NaN included, up to -0.0).
    return [ew.add(spread(e, 0, n_even), spread(o, 1, n_odd))
            for e, o in zip(even_out, odd_out)]


def _scan_along(combine: Callable[[list[Array], list[Array]], list[Array]],
                elems: list[Array], axis: int, reverse: bool) -> list[Array]:
    if reverse:
        # NOTE: the combine's operands swap too, so that earlier positions stay left
        # (matters for a non-commutative tie rule).
        outs = _prefix_scan(lambda a, b: combine(b, a),
                            [st.rev(x, (axis,)) for x in elems], axis)
        return [st.rev(x, (axis,)) for x in outs]
    return _prefix_scan(combine, elems, axis)


def _cumulative_jvp(fn: Callable[[Array, Array], Array]) -> ad.JVPRule:
    """JVP of a cumulative reduction by `fn` as the JVP of the prefix scan (jax's rule:
    `reduce_window` has no JVP of its own)."""

    def rule(primals: Sequence[Any], tangents: Sequence[Any], *, axis: int,
             reverse: bool) -> tuple[Any, Any]:
        def scan(x: Array) -> list[Array]:
            return _scan_along(lambda a, b: [fn(a[0], b[0])], [x], axis, reverse)

        outs, touts = ad.jvp_flat(scan, primals, tangents)
        return outs[0], touts[0]

    return rule


def _replace_posinf(x: Array) -> Array:
    is_posinf = ew.eq(x, ew.convert_element_type(np.inf, _dtype(x)))
    return ew.select(is_posinf, st.full(_shape(x), 0, _dtype(x)), x)


def _logaddexp(a: Array, b: Array) -> Array:
    amax = ew.max(a, b)
    delta = ew.sub(a, b)
    # NOTE: delta is NaN for a NaN operand or infinities of one sign; a + b is then right.
    return ew.select(ew.ne(delta, delta), ew.add(a, b),
                     ew.add(amax, ew.log1p(ew.exp(ew.neg(ew.abs(delta))))))


def _logaddexp_with_tangent(a: list[Array], b: list[Array]) -> list[Array]:
    """(logaddexp, its tangent) of (value, tangent) pairs, jax's custom JVP of
    `jnp.logaddexp`: t1 exp(x1 - out) + t2 exp(x2 - out), +inf replaced by 0 in the
    exponents, so no NaN comes from inf - inf."""
    (x1, t1), (x2, t2) = a, b
    out = _logaddexp(x1, x2)
    r_out = _replace_posinf(out)
    w1 = ew.exp(ew.sub(_replace_posinf(x1), r_out))
    w2 = ew.exp(ew.sub(_replace_posinf(x2), r_out))
    return [out, ew.add(ew.mul(t1, w1), ew.mul(t2, w2))]


def _cumlogsumexp_jvp(primals: Sequence[Any], tangents: Sequence[Any], *, axis: int,
                      reverse: bool) -> tuple[Any, Any]:
    (x,), (t,) = primals, tangents
    out, t_out = _scan_along(_logaddexp_with_tangent, [x, t], axis, reverse)
    return out, t_out


ad.primitive_jvps[red.cumprod_p] = _cumulative_jvp(ew.mul)
ad.primitive_jvps[red.cummax_p] = _cumulative_jvp(ew.max)
ad.primitive_jvps[red.cummin_p] = _cumulative_jvp(ew.min)
ad.primitive_jvps[red.cumlogsumexp_p] = _cumlogsumexp_jvp

for _prim in (red.cumsum_p, red.cumprod_p, red.cummax_p, red.cummin_p, red.cumlogsumexp_p):
    _defaxis_shift(_prim, "axis")


# --------------------------------------------------------------------------------------
# sort, top_k
# --------------------------------------------------------------------------------------


def _gather_along(t: Array, idx: Array, axis: int) -> Array:
    """`t` gathered at `idx` along `axis` (take_along_axis; idx has t's rank)."""
    from lamina.lax import indexing  # NOTE: imported late: a family loaded after this one
    rank = len(_shape(idx))
    batch = tuple(i for i in range(rank) if i != axis)
    dnums = indexing.GatherDimensionNumbers(
        offset_dims=(), collapsed_slice_dims=(axis,), start_index_map=(axis,),
        operand_batching_dims=batch, start_indices_batching_dims=batch)
    return indexing.gather(t, st.expand_dims(idx, (rank,)), dnums, (1,) * rank,
                           mode=indexing.GatherScatterMode.PROMISE_IN_BOUNDS)


def _sort_jvp(primals: Sequence[Any], tangents: Sequence[Any], *, dimension: int,
              is_stable: bool, num_keys: int) -> tuple[list[Any], list[Any]]:
    """Sort an iota along (as a payload) to learn the permutation; gather the tangents."""
    shape = _shape(primals[0])
    iota = st.broadcasted_iota(np.int32, shape, dimension)
    *outs, perm = red.sort_p.bind(*primals, iota, dimension=dimension, is_stable=is_stable,
                                  num_keys=num_keys)
    touts = [ad.Zero.like(o) if isinstance(t, ad.Zero) else _gather_along(t, perm, dimension)
             for o, t in zip(outs, tangents)]
    return outs, touts


ad.primitive_jvps[red.sort_p] = _sort_jvp


def _sort_batch(args: Sequence[Any], dims: Sequence[Any], *, dimension: int,
                is_stable: bool, num_keys: int) -> tuple[list[Any], list[Any]]:
    size = batching.dim_size(args, dims)
    bdim = next(d for d in dims if d is not batching.not_mapped)
    args = [batching.matchaxis(x, d, bdim, size) for x, d in zip(args, dims)]
    outs = red.sort_p.bind(*args, dimension=dimension + (bdim <= dimension),
                           is_stable=is_stable, num_keys=num_keys)
    return outs, [bdim] * len(outs)


batching.primitive_batchers[red.sort_p] = _sort_batch


def _top_k_jvp(primals: Sequence[Any], tangents: Sequence[Any], *, k: int, axis: int
               ) -> tuple[list[Any], list[Any]]:
    (operand,), (t,) = primals, tangents
    values, indices = red.top_k_p.bind(operand, k=k, axis=axis)
    return [values, indices], [_gather_along(t, indices, axis), ad.Zero.like(indices)]


ad.primitive_jvps[red.top_k_p] = _top_k_jvp
_defaxis_shift(red.top_k_p, "axis")


# --------------------------------------------------------------------------------------
# Windowed reductions
# --------------------------------------------------------------------------------------


def _dilate(shape: Sequence[int], dilation: Sequence[int]) -> list[int]:
    return [red._dilate_dim(d, s) for d, s in zip(shape, dilation)]


def _reduce_window_sum_transpose(ct: Any, operand: Any, *, window_dimensions: tuple[int, ...],
                                 window_strides: tuple[int, ...],
                                 padding: tuple[tuple[int, int], ...],
                                 base_dilation: tuple[int, ...],
                                 window_dilation: tuple[int, ...]) -> list[Any]:
    """jax's rule: the transpose of a windowed sum is a windowed sum (stride = the base
    dilation) over the cotangent, dilated by the strides and padded so that each input
    element sees every output window it was in (the conv-transpose padding)."""
    assert ad.is_undefined_primal(operand)
    in_shape = operand.aval.shape
    in_dilated = _dilate(in_shape, base_dilation)
    window = _dilate(window_dimensions, window_dilation)
    out_dilated = _dilate(_shape(ct), window_strides)
    config = []
    for d_in, w, d_out, (lo, _), s in zip(in_dilated, window, out_dilated, padding,
                                          window_strides):
        before = w - lo - 1
        config.append((before, d_in + w - 1 - d_out - before, s - 1))
    padded = st.pad(ct, ew.convert_element_type(0, _dtype(ct)), config)
    ones = (1,) * len(in_shape)
    result = red.reduce_window_sum_p.bind(
        padded, window_dimensions=window_dimensions, window_strides=base_dilation,
        padding=((0, 0),) * len(in_shape), base_dilation=ones,
        window_dilation=window_dilation)
    assert _shape(result) == tuple(in_shape), (_shape(result), in_shape)
    return [result]


ad.deflinear(red.reduce_window_sum_p, _reduce_window_sum_transpose)


def _reduce_window_chooser_jvp(prim: Primitive, identity: Callable[[np.dtype], Any]
                               ) -> ad.JVPRule:
    """The tangent at the first (in window order) extremal element of each window.

    NOTE: jax's rule is XLA's select_and_gather_add, which lamina does not have; this
    is the same map written with lax ops: pad the operand (with the identity) and the
    tangent (with 0) as the window sees them, take one strided slice per window
    element, and select the tangent where the slice equals the result. Its program
    grows with the window size (fine for pooling windows, not for huge ones).
    """

    def rule(primals: Sequence[Any], tangents: Sequence[Any], *,
             window_dimensions: tuple[int, ...], window_strides: tuple[int, ...],
             padding: tuple[tuple[int, int], ...], base_dilation: tuple[int, ...],
             window_dilation: tuple[int, ...]) -> tuple[Any, Any]:
        (operand,), (t,) = primals, tangents
        out = prim.bind(operand, window_dimensions=window_dimensions,
                        window_strides=window_strides, padding=padding,
                        base_dilation=base_dilation, window_dilation=window_dilation)
        out_shape = _shape(out)
        dtype = _dtype(operand)
        if any(d == 0 for d in out_shape):
            return out, ad.Zero.like(out)
        config = [(lo, hi, b - 1) for (lo, hi), b in zip(padding, base_dilation)]
        x_pad = st.pad(operand, ew.convert_element_type(identity(dtype), dtype), config)
        t_pad = st.pad(t, ew.convert_element_type(0, _dtype(t)), config)
        t_out = st.full(out_shape, 0, _dtype(t))
        # NOTE: walk the window backwards so that the first extremal element wins.
        for offset in reversed(list(itertools.product(*map(range, window_dimensions)))):
            start = [k * wd for k, wd in zip(offset, window_dilation)]
            limit = [s + (n - 1) * stride + 1
                     for s, n, stride in zip(start, out_shape, window_strides)]
            x_k = st.slice(x_pad, start, limit, window_strides)
            t_k = st.slice(t_pad, start, limit, window_strides)
            t_out = ew.select(ew.eq(x_k, out), t_k, t_out)
        return out, t_out

    return rule


def _reduce_window_batch(prim: Primitive) -> batching.BatchRule:
    def rule(args: Sequence[Any], dims: Sequence[Any], **params: Any) -> tuple[Any, Any]:
        (operand,), (bdim,) = args, dims
        fill = {"window_dimensions": 1, "window_strides": 1, "padding": (0, 0),
                "base_dilation": 1, "window_dilation": 1}
        params = {name: (*v[:bdim], fill[name], *v[bdim:]) for name, v in params.items()}
        return prim.bind(operand, **params), bdim

    return rule


ad.primitive_jvps[red.reduce_window_max_p] = _reduce_window_chooser_jvp(
    red.reduce_window_max_p, red._max_identity)
ad.primitive_jvps[red.reduce_window_min_p] = _reduce_window_chooser_jvp(
    red.reduce_window_min_p, red._min_identity)
for _prim in (red.reduce_window_sum_p, red.reduce_window_max_p, red.reduce_window_min_p):
    batching.primitive_batchers[_prim] = _reduce_window_batch(_prim)
del _prim
