"""Collectives over named axes: `psum`, `pmean`, `pmax`, `pmin`, `all_gather`,
`psum_scatter`, `all_to_all`, `ppermute`, `axis_index`, `axis_size` (jax.lax's names and
semantics).

An axis name is bound by an enclosing `lamina.pmap(f, axis_name)` (a device axis: the
collective lowers to the StableHLO collective over the pmap's replicas) or
`lamina.vmap(f, axis_name=...)` (a batch axis: the batching rule turns it into an
ordinary reduction or reshuffle of the batch dimension). The names in scope live in
`interpreters/axis_env.py`. Every collective is linear in its operand except
`pmax`/`pmin`; transposes follow jax (`psum` transposes to `psum`, `all_gather` to
`psum_scatter`, `all_to_all` to the swapped `all_to_all`, `ppermute` to the inverse
permutation).

>>> import lamina, lamina.numpy as lnp
>>> from lamina import lax
>>> lamina.vmap(lambda x: x / lax.psum(x, 'i'), axis_name='i')(lnp.arange(4.0))
Array([0.        , 0.16666667, 0.33333334, 0.5       ], dtype=float32)
"""
from __future__ import annotations

from typing import Any, Hashable, Sequence

import numpy as np

from lamina import dtypes, tree_util
from lamina.interpreters import ad, axis_env, batching, lowering
from lamina.interpreters.batching import not_mapped
from lamina.ir import AbstractArray, Primitive, Tracer, shaped_abstractify
from lamina.lax._collective_groups import (collective_attrs, current_replica_layout,
                                           device_groups, group_size, index_groups, mesh_of,
                                           no_groups_under_vmap, reducer_region,
                                           replica_axes)

__all__ = ["psum", "pmean", "pmax", "pmin", "all_gather", "psum_scatter", "all_to_all",
           "ppermute", "axis_index", "axis_size"]

AxisName = Hashable


def _names(axis_name: Any) -> tuple[Any, ...]:
    return tuple(axis_name) if isinstance(axis_name, (tuple, list)) else (axis_name,)


def _axis_size(names: Sequence[Any], api: str) -> int:
    size = 1
    for name in names:
        size *= axis_env.lookup(name, api).size
    return size


def _canonical_axis(api: str, axis: int, ndim: int, what: str) -> int:
    if not -ndim <= axis < ndim:
        raise ValueError(f"{api}: {what}={axis} is out of range for an operand of rank "
                         f"{ndim - (what == 'axis')}")
    return axis % ndim








def _shape(x: Any) -> tuple[int, ...]:
    return shaped_abstractify(x).shape


# --------------------------------------------------------------------------------------
# psum / pmax / pmin
# --------------------------------------------------------------------------------------

psum_p = Primitive("psum")
pmax_p = Primitive("pmax")
pmin_p = Primitive("pmin")

_REDUCER_OPS = {psum_p: "stablehlo.add", pmax_p: "stablehlo.maximum",
                pmin_p: "stablehlo.minimum"}


Groups = tuple[tuple[int, ...], ...] | None  # canonical axis_index_groups


def _allreduce_abstract_eval(x: AbstractArray, *, axes: tuple[Any, ...],
                             axis_index_groups: Groups) -> AbstractArray:
    return x


for _p in _REDUCER_OPS:
    _p.def_abstract_eval(_allreduce_abstract_eval)


def _allreduce_lowering(prim: Primitive) -> Any:
    def rule(ctx: lowering.RuleContext, x: str, *, axes: tuple[Any, ...],
             axis_index_groups: Groups) -> str:
        _, attrs = collective_attrs(axes, prim.name, groups=axis_index_groups)
        region = reducer_region(ctx, ctx.avals_in[0].dtype, _REDUCER_OPS[prim])
        return ctx.op("stablehlo.all_reduce", [x], ctx.aval_out, attrs, regions=[region])
    return rule


for _p in _REDUCER_OPS:
    lowering.register_lowering(_p, _allreduce_lowering(_p))


def _psum_transpose(ct: Any, x: Any, *, axes: tuple[Any, ...],
                    axis_index_groups: Groups) -> list[Any]:
    # jax's convention: psum is psum + broadcast, so its transpose sums again.
    return [psum_p.bind(ad.instantiate_zeros(ct), axes=axes,
                        axis_index_groups=axis_index_groups)]


ad.deflinear(psum_p, _psum_transpose)


def _pextremum_jvp(prim: Primitive) -> Any:
    def rule(primals: Sequence[Any], tangents: Sequence[Any], *, axes: tuple[Any, ...],
             axis_index_groups: Groups) -> tuple[Any, Any]:
        from lamina.lax import elementwise as ew
        (x,), (t,) = primals, tangents
        params = dict(axes=axes, axis_index_groups=axis_index_groups)
        y = prim.bind(x, **params)
        if isinstance(t, ad.Zero):
            return y, ad.Zero.like(y)
        # Share the tangent equally among the devices attaining the extremum (as
        # lax.reduce_max does among tied elements). NOTE: jax 0.10.2 has no rule here.
        mask = ew.convert_element_type(ew.eq(x, y), shaped_abstractify(t).dtype)
        count = psum_p.bind(mask, **params)
        return y, ew.div(psum_p.bind(ew.mul(t, mask), **params), count)
    return rule


for _p in (pmax_p, pmin_p):
    ad.primitive_jvps[_p] = _pextremum_jvp(_p)


def _allreduce_batcher(prim: Primitive) -> Any:
    def rule(frame_name: Any, frame_size: int, args: Sequence[Any], dims: Sequence[Any], *,
             axes: tuple[Any, ...], axis_index_groups: Groups) -> tuple[Any, Any]:
        from lamina.lax import elementwise as ew, reductions as red
        (x,), (d,) = args, dims
        if frame_name is None or frame_name not in axes:
            return prim.bind(x, axes=axes, axis_index_groups=axis_index_groups), d
        no_groups_under_vmap(prim.name, axis_index_groups,
                             "axis_index_groups not supported in vmap collectives")
        rest = tuple(a for a in axes if a != frame_name)
        if d is not_mapped:
            out = ew.mul(x, np.asarray(frame_size, shaped_abstractify(x).dtype)) \
                if prim is psum_p else x
        else:
            reduce = {psum_p: red.reduce_sum, pmax_p: red.reduce_max,
                      pmin_p: red.reduce_min}[prim]
            out = reduce(x, (d,))
        return (prim.bind(out, axes=rest, axis_index_groups=None) if rest else out), not_mapped
    return rule


for _p in _REDUCER_OPS:
    batching.collective_batchers[_p] = _allreduce_batcher(_p)


def _bind_allreduce(prim: Primitive, api: str, x: Any, axis_name: Any,
                    axis_index_groups: Any) -> Any:
    names = _names(axis_name)
    size = _axis_size(names, api)
    groups = index_groups(api, axis_index_groups, size, axis_name, even=False)

    def bind(leaf: Any) -> Any:
        if dtypes.is_python_scalar(leaf) and not isinstance(leaf, bool):
            # A constant is the same on every device (jax folds this case too).
            return leaf * group_size(size, groups) if prim is psum_p else leaf
        aval = shaped_abstractify(leaf)
        if prim is psum_p and aval.dtype == np.bool_:
            from lamina.lax.elementwise import convert_element_type
            leaf = convert_element_type(leaf, dtypes.canonicalize_dtype(np.int64))
        return prim.bind(leaf, axes=names, axis_index_groups=groups)

    return tree_util.tree_map(bind, x)


def psum(x: Any, axis_name: AxisName, *, axis_index_groups: Any = None) -> Any:
    """The sum of `x` over the mapped axis `axis_name` (every leaf of a pytree).

    Booleans are summed as integers. Under `pmap` this is an all-reduce over the
    devices; under `vmap(..., axis_name=...)` a sum over the batch.
    `axis_index_groups` (pmap only, as in jax): a partition of the axis indices, e.g.
    `[[0, 1], [2, 3]]`; each group is summed separately.

    >>> import lamina, lamina.numpy as lnp
    >>> lamina.vmap(lambda x: lamina.lax.psum(x, 'i'), axis_name='i')(lnp.arange(4))
    Array([6, 6, 6, 6], dtype=int32)
    """
    return _bind_allreduce(psum_p, "psum", x, axis_name, axis_index_groups)


def pmean(x: Any, axis_name: AxisName, *, axis_index_groups: Any = None) -> Any:
    """The mean of `x` over the mapped axis `axis_name` (`psum(x) / axis_size`).

    >>> import lamina, lamina.numpy as lnp
    >>> lamina.vmap(lambda x: lamina.lax.pmean(x, 'i'), axis_name='i')(lnp.arange(4.0))
    Array([1.5, 1.5, 1.5, 1.5], dtype=float32)
    """
    from lamina.numpy import true_divide
    total = psum(x, axis_name, axis_index_groups=axis_index_groups)
    # (psum checked the groups)
    n = (_axis_size(_names(axis_name), "pmean") if axis_index_groups is None
         else len(axis_index_groups[0]))
    return tree_util.tree_map(lambda v: true_divide(v, n), total)


def pmax(x: Any, axis_name: AxisName, *, axis_index_groups: Any = None) -> Any:
    """The maximum of `x` over the mapped axis `axis_name`.

    >>> import lamina, lamina.numpy as lnp
    >>> lamina.vmap(lambda x: lamina.lax.pmax(x, 'i'), axis_name='i')(lnp.array([1, 5, 2]))
    Array([5, 5, 5], dtype=int32)
    """
    return _bind_allreduce(pmax_p, "pmax", x, axis_name, axis_index_groups)


def pmin(x: Any, axis_name: AxisName, *, axis_index_groups: Any = None) -> Any:
    """The minimum of `x` over the mapped axis `axis_name`.

    >>> import lamina, lamina.numpy as lnp
    >>> lamina.vmap(lambda x: lamina.lax.pmin(x, 'i'), axis_name='i')(lnp.array([1, 5, 2]))
    Array([1, 1, 1], dtype=int32)
    """
    return _bind_allreduce(pmin_p, "pmin", x, axis_name, axis_index_groups)


# --------------------------------------------------------------------------------------
# all_gather / psum_scatter (reduce_scatter)
# --------------------------------------------------------------------------------------

all_gather_p = Primitive("all_gather")
reduce_scatter_p = Primitive("reduce_scatter")


@all_gather_p.def_abstract_eval
def _all_gather_abstract_eval(x: AbstractArray, *, axis_name: tuple[Any, ...],
                              all_gather_dimension: int, axis_size: int, tiled: bool,
                              axis_index_groups: Groups) -> AbstractArray:
    shape = list(x.shape)
    if tiled:
        shape[all_gather_dimension] *= axis_size
    else:
        shape.insert(all_gather_dimension, axis_size)
    return x.update(shape=shape)


def _all_gather_lowering(ctx: lowering.RuleContext, x: str, *, axis_name: tuple[Any, ...],
                         all_gather_dimension: int, axis_size: int, tiled: bool,
                         axis_index_groups: Groups) -> str:
    size, attrs = collective_attrs(axis_name, "all_gather", groups=axis_index_groups)
    aval = ctx.avals_in[0]
    if not tiled:  # gather along a new axis of size 1
        shape = list(aval.shape)
        shape.insert(all_gather_dimension, 1)
        aval = aval.update(shape=shape)
        x = ctx.op("stablehlo.reshape", [x], aval)
    assert size == axis_size, (size, axis_size)
    return ctx.op("stablehlo.all_gather", [x], ctx.aval_out,
                  {"all_gather_dim": lowering.i64_attr(all_gather_dimension),
                   **attrs})


lowering.register_lowering(all_gather_p, _all_gather_lowering)


@reduce_scatter_p.def_abstract_eval
def _reduce_scatter_abstract_eval(x: AbstractArray, *, axis_name: tuple[Any, ...],
                                  scatter_dimension: int, axis_size: int, tiled: bool,
                                  axis_index_groups: Groups) -> AbstractArray:
    shape = list(x.shape)
    if tiled:
        shape[scatter_dimension] //= axis_size
    else:
        del shape[scatter_dimension]
    return x.update(shape=shape)


def _reduce_scatter_lowering(ctx: lowering.RuleContext, x: str, *,
                             axis_name: tuple[Any, ...], scatter_dimension: int,
                             axis_size: int, tiled: bool, axis_index_groups: Groups) -> str:
    size, attrs = collective_attrs(axis_name, "psum_scatter", groups=axis_index_groups)
    aval = ctx.avals_in[0]
    shape = list(aval.shape)
    shape[scatter_dimension] //= size
    region = reducer_region(ctx, aval.dtype, "stablehlo.add")
    out = ctx.op("stablehlo.reduce_scatter", [x], aval.update(shape=shape),
                 {"scatter_dimension": lowering.i64_attr(scatter_dimension),
                  **attrs}, regions=[region])
    if not tiled:
        out = ctx.op("stablehlo.reshape", [out], ctx.aval_out)
    return out


lowering.register_lowering(reduce_scatter_p, _reduce_scatter_lowering)


def _all_gather_transpose(ct: Any, x: Any, *, axis_name: tuple[Any, ...],
                          all_gather_dimension: int, axis_size: int, tiled: bool,
                          axis_index_groups: Groups) -> list[Any]:
    return [reduce_scatter_p.bind(ad.instantiate_zeros(ct), axis_name=axis_name,
                                  scatter_dimension=all_gather_dimension,
                                  axis_size=axis_size, tiled=tiled,
                                  axis_index_groups=axis_index_groups)]


def _reduce_scatter_transpose(ct: Any, x: Any, *, axis_name: tuple[Any, ...],
                              scatter_dimension: int, axis_size: int, tiled: bool,
                              axis_index_groups: Groups) -> list[Any]:
    return [all_gather_p.bind(ad.instantiate_zeros(ct), axis_name=axis_name,
                              all_gather_dimension=scatter_dimension, axis_size=axis_size,
                              tiled=tiled, axis_index_groups=axis_index_groups)]


ad.deflinear(all_gather_p, _all_gather_transpose)
ad.deflinear(reduce_scatter_p, _reduce_scatter_transpose)


def _split_axis(x: Any, axis: int, factor: int) -> Any:
    from lamina.lax.structural import reshape
    shape = list(_shape(x))
    shape[axis:axis + 1] = [factor, shape[axis] // factor]
    return reshape(x, shape)


def _fold_axis(x: Any, axis: int) -> Any:
    """Merge axes `axis` and `axis + 1`."""
    from lamina.lax.structural import reshape
    shape = list(_shape(x))
    shape[axis:axis + 2] = [shape[axis] * shape[axis + 1]]
    return reshape(x, shape)


def _single_frame(api: str, names: tuple[Any, ...]) -> None:
    if len(names) > 1:
        raise NotImplementedError(f"{api} over several axes {names!r} under vmap is not "
                                  "supported by lamina yet")


def _past_other_axis(primitive: Primitive, dim_param: str, x: Any, d: Any, dim: int,
                     **params: Any) -> tuple[Any, Any]:
    """all_gather / psum_scatter under a vmap of another axis: the collective runs on the
    batched value, with its dimension `dim` (param `dim_param`) moved past the batch
    dimension `d`, and the batch dimension moved past an untiled gathered/scattered one."""
    if d is not not_mapped:
        if d <= dim:
            dim += 1
        elif not params["tiled"]:
            d += 1
    return primitive.bind(x, **{dim_param: dim}, **params), d


def _all_gather_batcher(frame_name: Any, frame_size: int, args: Sequence[Any],
                        dims: Sequence[Any], *, axis_name: tuple[Any, ...],
                        all_gather_dimension: int, axis_size: int, tiled: bool,
                        axis_index_groups: Groups) -> tuple[Any, Any]:
    (x,), (d,) = args, dims
    if frame_name is None or frame_name not in axis_name:
        return _past_other_axis(all_gather_p, "all_gather_dimension", x, d,
                                all_gather_dimension, axis_name=axis_name,
                                axis_size=axis_size, tiled=tiled,
                                axis_index_groups=axis_index_groups)
    no_groups_under_vmap("all_gather", axis_index_groups,
                         "axis_index_groups not supported in vmap")
    _single_frame("all_gather", axis_name)
    if d is not_mapped:
        y = batching.broadcast_batched(x, frame_size, all_gather_dimension)
    else:
        y = batching.moveaxis(x, d, all_gather_dimension)
    if tiled:
        y = _fold_axis(y, all_gather_dimension)
    return y, not_mapped


def _reduce_scatter_batcher(frame_name: Any, frame_size: int, args: Sequence[Any],
                            dims: Sequence[Any], *, axis_name: tuple[Any, ...],
                            scatter_dimension: int, axis_size: int, tiled: bool,
                            axis_index_groups: Groups) -> tuple[Any, Any]:
    from lamina.lax import elementwise as ew, reductions as red
    (x,), (d,) = args, dims
    if frame_name is None or frame_name not in axis_name:
        return _past_other_axis(reduce_scatter_p, "scatter_dimension", x, d,
                                scatter_dimension, axis_name=axis_name,
                                axis_size=axis_size, tiled=tiled,
                                axis_index_groups=axis_index_groups)
    no_groups_under_vmap("psum_scatter", axis_index_groups,
                         "axis_index_groups not supported in vmap")
    _single_frame("psum_scatter", axis_name)
    if d is not_mapped:
        y = ew.mul(x, np.asarray(frame_size, shaped_abstractify(x).dtype))
    else:
        y = red.reduce_sum(x, (d,))
    if tiled:
        y = _split_axis(y, scatter_dimension, frame_size)
    return y, scatter_dimension


batching.collective_batchers[all_gather_p] = _all_gather_batcher
batching.collective_batchers[reduce_scatter_p] = _reduce_scatter_batcher


def all_gather(x: Any, axis_name: AxisName, *, axis_index_groups: Any = None, axis: int = 0,
               tiled: bool = False) -> Any:
    """Every device's (lane's) `x`, stacked along a new axis `axis` (or concatenated
    along `axis` if `tiled`).

    >>> import lamina, lamina.numpy as lnp
    >>> lamina.vmap(lambda x: lamina.lax.all_gather(x, 'i'), axis_name='i')(lnp.arange(3))
    Array([[0, 1, 2],
           [0, 1, 2],
           [0, 1, 2]], dtype=int32)
    """
    names = _names(axis_name)
    groups = index_groups("all_gather", axis_index_groups, _axis_size(names, "all_gather"),
                          axis_name, even=True)
    size = group_size(_axis_size(names, "all_gather"), groups)

    def bind(leaf: Any) -> Any:
        aval = shaped_abstractify(leaf)
        if tiled and aval.ndim == 0:
            raise ValueError("all_gather: tiled=True needs an operand of rank >= 1, got a "
                             f"scalar {aval.str_short()}")
        dim = _canonical_axis("all_gather", axis, aval.ndim + (not tiled),
                              "axis" if not tiled else "tiled axis")
        return all_gather_p.bind(leaf, axis_name=names, all_gather_dimension=dim,
                                 axis_size=size, tiled=bool(tiled), axis_index_groups=groups)

    return tree_util.tree_map(bind, x)


def psum_scatter(x: Any, axis_name: AxisName, *, scatter_dimension: int = 0,
                 axis_index_groups: Any = None, tiled: bool = False) -> Any:
    """`psum(x, axis_name)`, of which each device (lane) keeps only its own slice along
    `scatter_dimension` (its size must equal the axis size, or be a multiple of it if
    `tiled`; untiled, that dimension is removed).

    >>> import lamina, lamina.numpy as lnp
    >>> x = lnp.arange(9.0).reshape(3, 3)
    >>> lamina.vmap(lambda r: lamina.lax.psum_scatter(r, 'i'), axis_name='i')(x)
    Array([ 9., 12., 15.], dtype=float32)
    """
    names = _names(axis_name)
    groups = index_groups("psum_scatter", axis_index_groups,
                          _axis_size(names, "psum_scatter"), axis_name, even=True)
    size = group_size(_axis_size(names, "psum_scatter"), groups)

    def bind(leaf: Any) -> Any:
        aval = shaped_abstractify(leaf)
        if aval.ndim == 0:
            raise ValueError(f"psum_scatter needs an operand of rank >= 1, got a scalar "
                             f"{aval.str_short()}")
        dim = _canonical_axis("psum_scatter", scatter_dimension, aval.ndim,
                              "scatter_dimension")
        n = aval.shape[dim]
        if tiled and n % size:
            raise ValueError(f"psum_scatter: with tiled=True, dimension {dim} of the operand "
                             f"{aval.str_short()} (size {n}) must be divisible by the size "
                             f"{size} of axis {axis_name!r}")
        if not tiled and n != size:
            raise ValueError(f"psum_scatter: dimension {dim} of the operand "
                             f"{aval.str_short()} (size {n}) must equal the size {size} of "
                             f"axis {axis_name!r} (or pass tiled=True)")
        return reduce_scatter_p.bind(leaf, axis_name=names, scatter_dimension=dim,
                                     axis_size=size, tiled=bool(tiled),
                                     axis_index_groups=groups)

    return tree_util.tree_map(bind, x)


# --------------------------------------------------------------------------------------
# all_to_all
# --------------------------------------------------------------------------------------

all_to_all_p = Primitive("all_to_all")  # tiled form: split_axis / n, concat_axis * n


@all_to_all_p.def_abstract_eval
def _all_to_all_abstract_eval(x: AbstractArray, *, axis_name: tuple[Any, ...],
                              split_axis: int, concat_axis: int, axis_size: int,
                              axis_index_groups: Groups) -> AbstractArray:
    shape = list(x.shape)
    shape[split_axis] //= axis_size
    shape[concat_axis] *= axis_size
    return x.update(shape=shape)


def _all_to_all_lowering(ctx: lowering.RuleContext, x: str, *, axis_name: tuple[Any, ...],
                         split_axis: int, concat_axis: int, axis_size: int,
                         axis_index_groups: Groups) -> str:
    size, attrs = collective_attrs(axis_name, "all_to_all", global_ids=False,
                                   groups=axis_index_groups)
    return ctx.op("stablehlo.all_to_all", [x], ctx.aval_out,
                  {"split_dimension": lowering.i64_attr(split_axis),
                   "concat_dimension": lowering.i64_attr(concat_axis),
                   "split_count": lowering.i64_attr(size), **attrs})


lowering.register_lowering(all_to_all_p, _all_to_all_lowering)
ad.deflinear(all_to_all_p, lambda ct, x, *, split_axis, concat_axis, **params: [
    all_to_all_p.bind(ad.instantiate_zeros(ct), split_axis=concat_axis,
                      concat_axis=split_axis, **params)])


def _all_to_all_batcher(frame_name: Any, frame_size: int, args: Sequence[Any],
                        dims: Sequence[Any], *, axis_name: tuple[Any, ...], split_axis: int,
                        concat_axis: int, axis_size: int,
                        axis_index_groups: Groups) -> tuple[Any, Any]:
    (x,), (d,) = args, dims
    params = dict(axis_name=axis_name, axis_size=axis_size,
                  axis_index_groups=axis_index_groups)
    if frame_name is None or frame_name not in axis_name:
        if d is not_mapped:
            return all_to_all_p.bind(x, split_axis=split_axis, concat_axis=concat_axis,
                                     **params), d
        return all_to_all_p.bind(x, split_axis=split_axis + (d <= split_axis),
                                 concat_axis=concat_axis + (d <= concat_axis), **params), d
    no_groups_under_vmap("all_to_all", axis_index_groups,
                         "axis_index_groups not supported in vmap")
    _single_frame("all_to_all", axis_name)
    # Lane l's output: chunk l (along split_axis) of every lane j's x, concatenated along
    # concat_axis in lane order. With the lanes first: split split_axis into (chunk,
    # rest), make the chunk index the new batch axis, and fold the old lane axis into
    # concat_axis (lane-major).
    x = batching.bdim_at_front(x, d, frame_size)
    x = _split_axis(x, split_axis + 1, frame_size)
    x = batching.moveaxis(x, split_axis + 1, 0)
    x = batching.moveaxis(x, 1, concat_axis + 1)
    return _fold_axis(x, concat_axis + 1), 0


batching.collective_batchers[all_to_all_p] = _all_to_all_batcher


def all_to_all(x: Any, axis_name: AxisName, split_axis: int, concat_axis: int, *,
               axis_index_groups: Any = None, tiled: bool = False) -> Any:
    """Split `x` along `split_axis` into one chunk per device (lane), send chunk k to
    device k, and stack the received chunks along `concat_axis` (concatenate if `tiled`).

    Untiled, `x.shape[split_axis]` must equal the axis size; the result has shape
    `np.insert(np.delete(x.shape, split_axis), concat_axis, axis_size)`.

    >>> import lamina, lamina.numpy as lnp
    >>> f = lambda r: lamina.lax.all_to_all(r, 'i', 0, 0)
    >>> lamina.vmap(f, axis_name='i')(lnp.arange(4).reshape(2, 2))
    Array([[0, 2],
           [1, 3]], dtype=int32)
    """
    from lamina.lax.structural import expand_dims, squeeze
    names = _names(axis_name)
    groups = index_groups("all_to_all", axis_index_groups, _axis_size(names, "all_to_all"),
                          axis_name, even=True)
    size = group_size(_axis_size(names, "all_to_all"), groups)

    def bind(leaf: Any) -> Any:
        aval = shaped_abstractify(leaf)
        split = _canonical_axis("all_to_all", split_axis, aval.ndim, "split_axis")
        concat = _canonical_axis("all_to_all", concat_axis, aval.ndim, "concat_axis")
        n = aval.shape[split]
        if tiled:
            if n % size:
                raise ValueError(f"all_to_all: the size of split_axis ({n}) has to be "
                                 f"divisible by the size of the named axis {axis_name!r} "
                                 f"({size})")
        else:
            if n != size:
                raise ValueError(f"all_to_all requires the size of the mapped axis "
                                 f"{axis_name!r} ({size}) to equal x.shape[split_axis] "
                                 f"({n}); x is {aval.str_short()}")
            if split < concat:
                concat += 1  # concat_axis is a position after split_axis is removed
                leaf = expand_dims(leaf, (concat,))
            elif split > concat:
                leaf = expand_dims(leaf, (concat,))
                split += 1
        out = all_to_all_p.bind(leaf, axis_name=names, split_axis=split, concat_axis=concat,
                                axis_size=size, axis_index_groups=groups)
        if not tiled and split != concat:
            out = squeeze(out, (split,))
        return out

    return tree_util.tree_map(bind, x)


# --------------------------------------------------------------------------------------
# ppermute
# --------------------------------------------------------------------------------------

ppermute_p = Primitive("ppermute")


@ppermute_p.def_abstract_eval
def _ppermute_abstract_eval(x: AbstractArray, *, axis_name: tuple[Any, ...],
                            perm: tuple[tuple[int, int], ...]) -> AbstractArray:
    return x


def _ppermute_lowering(ctx: lowering.RuleContext, x: str, *, axis_name: tuple[Any, ...],
                       perm: tuple[tuple[int, int], ...]) -> str:
    # Replica (pmap) or partition (shard_map) ids: the same permutation in every group.
    groups, mesh = device_groups(axis_name, "ppermute")
    pairs = [[int(g[s]), int(g[t])] for g in groups for s, t in perm]
    attrs: dict[str, str] = {}
    if mesh is not None:
        attrs["channel_handle"] = collective_attrs(axis_name, "ppermute")[1]["channel_handle"]
    if not pairs:
        return ctx.op("stablehlo.multiply", [x, ctx.constant(0, ctx.avals_in[0])],
                      ctx.aval_out)
    return ctx.op("stablehlo.collective_permute", [x], ctx.aval_out,
                  {"source_target_pairs": lowering.dense_i64(pairs), **attrs})


lowering.register_lowering(ppermute_p, _ppermute_lowering)
ad.deflinear(ppermute_p, lambda ct, x, *, axis_name, perm: [
    ppermute_p.bind(ad.instantiate_zeros(ct), axis_name=axis_name,
                    perm=tuple((t, s) for s, t in perm))])


def _ppermute_batcher(frame_name: Any, frame_size: int, args: Sequence[Any],
                      dims: Sequence[Any], *, axis_name: tuple[Any, ...],
                      perm: tuple[tuple[int, int], ...]) -> tuple[Any, Any]:
    (x,), (d,) = args, dims
    if frame_name is None or frame_name not in axis_name:
        return ppermute_p.bind(x, axis_name=axis_name, perm=perm), d
    _single_frame("ppermute", axis_name)
    if d is not_mapped:
        x, d = batching.broadcast_batched(x, frame_size, 0), 0
    source = np.zeros(frame_size, np.int32)
    received = np.zeros(frame_size, bool)
    for s, t in perm:
        source[t], received[t] = s, True
    from lamina.numpy import multiply, take
    out = take(x, source, axis=d)
    if not received.all():  # lanes no one sends to get zeros
        shape = [1] * len(_shape(out))
        shape[d] = frame_size
        out = multiply(out, received.reshape(shape).astype(shaped_abstractify(out).dtype))
    return out, d


batching.collective_batchers[ppermute_p] = _ppermute_batcher


def ppermute(x: Any, axis_name: AxisName, perm: Sequence[tuple[int, int]]) -> Any:
    """Send `x` from device (lane) `src` to `dst` for each pair of `perm`; devices
    that receive nothing get zeros.

    >>> import lamina, lamina.numpy as lnp
    >>> f = lambda x: lamina.lax.ppermute(x, 'i', perm=[(0, 1), (1, 2), (2, 0)])
    >>> lamina.vmap(f, axis_name='i')(lnp.array([10, 20, 30]))
    Array([30, 10, 20], dtype=int32)
    """
    names = _names(axis_name)
    size = _axis_size(names, "ppermute")
    try:
        pairs = tuple((int(s), int(t)) for s, t in perm)
    except (TypeError, ValueError):
        raise TypeError(f"ppermute: perm must be a sequence of (source, destination) index "
                        f"pairs, got {perm!r}") from None
    srcs, dsts = [s for s, _ in pairs], [t for _, t in pairs]
    if len(set(srcs)) != len(srcs) or len(set(dsts)) != len(dsts):
        raise ValueError(f"ppermute sources and destinations must be unique, got {perm!r}")
    if any(not 0 <= i < size for i in srcs + dsts):
        raise ValueError(f"ppermute: perm {perm!r} has indices outside the axis "
                         f"{axis_name!r} of size {size}")
    return tree_util.tree_map(lambda leaf: ppermute_p.bind(leaf, axis_name=names, perm=pairs), x)


# --------------------------------------------------------------------------------------
# axis_index / axis_size
# --------------------------------------------------------------------------------------

axis_index_p = Primitive("axis_index")


@axis_index_p.def_abstract_eval
def _axis_index_abstract_eval(*, axis_name: Any) -> AbstractArray:
    return AbstractArray((), np.int32)


def _axis_index_lowering(ctx: lowering.RuleContext, *, axis_name: Any) -> str:
    mesh = mesh_of((axis_name,), "axis_index")
    u32 = AbstractArray((), np.uint32)
    if mesh is None:  # (replica id // stride) % size along the pmap axis
        _, [(size, stride)] = replica_axes((axis_name,), "axis_index")
        replica = ctx.op("stablehlo.replica_id", [], u32)
        if stride != 1:
            replica = ctx.op("stablehlo.divide", [replica, ctx.constant(stride, u32)], u32)
        if current_replica_layout() is not None and size != current_replica_layout().total:
            replica = ctx.op("stablehlo.remainder", [replica, ctx.constant(size, u32)], u32)
        return ctx.op("stablehlo.convert", [replica], ctx.aval_out)
    # Inside a shard_map: (partition id // stride) % size along the mesh axis.
    k = mesh.axis_names.index(axis_name)
    stride = int(np.prod(mesh.devices.shape[k + 1:], dtype=int))

    def index() -> str:
        pid = ctx.op("stablehlo.partition_id", [], u32)
        pid = ctx.op("stablehlo.divide", [pid, ctx.constant(stride, u32)], u32)
        pid = ctx.op("stablehlo.remainder", [pid, ctx.constant(mesh.devices.shape[k], u32)],
                     u32)
        return ctx.op("stablehlo.convert", [pid], ctx.aval_out)

    manual = {f.name for f in axis_env.frames() if f.kind == "mesh" and f.mesh == mesh}
    free = [n for n in mesh.axis_names if n not in manual]
    if not free:
        return index()
    # A partial-manual shard_map: XLA rejects partition_id where some axes are still
    # automatic, so (as jax) compute it in a nested region manual over the others.
    from lamina.lax.sharding_ops import spmd_context
    sym = spmd_context().symbols[mesh]
    region = ctx.region([], lambda _: [index()], terminator="sdy.return")
    axes = ", ".join(f'"{n}"' for n in free)
    return ctx.op("sdy.manual_computation", [], ctx.aval_out, {
        "in_shardings": "#sdy.sharding_per_value<[]>",
        "out_shardings": f"#sdy.sharding_per_value<[<@{sym}, []>]>",
        "manual_axes": f"#sdy<manual_axes{{{axes}}}>"}, regions=[region])


lowering.register_lowering(axis_index_p, _axis_index_lowering)
ad.defjvp_zero(axis_index_p)


def _axis_index_batcher(frame_name: Any, frame_size: int, args: Sequence[Any],
                        dims: Sequence[Any], *, axis_name: Any) -> tuple[Any, Any]:
    from lamina.lax.structural import iota
    if frame_name is not None and frame_name == axis_name:
        return iota(np.int32, frame_size), 0
    return axis_index_p.bind(axis_name=axis_name), not_mapped


batching.collective_batchers[axis_index_p] = _axis_index_batcher


def axis_index(axis_name: AxisName) -> Any:
    """This device's (lane's) index along the mapped axis `axis_name` (an int32 scalar).

    >>> import lamina, lamina.numpy as lnp
    >>> lamina.vmap(lambda x: x * lamina.lax.axis_index('i'), axis_name='i')(lnp.ones(3))
    Array([0., 1., 2.], dtype=float32)
    """
    if isinstance(axis_name, (tuple, list)):
        from lamina.lax import elementwise as ew
        index: Any = np.int32(0)
        for name in axis_name:
            index = ew.add(ew.mul(index, np.int32(axis_size(name))), axis_index(name))
        return index
    axis_env.lookup(axis_name, "axis_index")
    return axis_index_p.bind(axis_name=axis_name)


def axis_size(axis_name: AxisName) -> int:
    """The size of the mapped axis `axis_name` (a Python int; the product for a tuple).

    >>> import lamina, lamina.numpy as lnp
    >>> lamina.vmap(lambda x: x * lamina.lax.axis_size('i'), axis_name='i')(lnp.ones(2))
    Array([2., 2.], dtype=float32)
    """
    return _axis_size(_names(axis_name), "axis_size")


def _unnamed_batcher(rule: Any) -> Any:
    # BatchTrace applies `collective_batchers`; this plain form (an unnamed vmap axis)
    # serves code that calls `primitive_batchers` directly.
    return lambda args, dims, **params: rule(None, 0, args, dims, **params)


for _p, _rule in list(batching.collective_batchers.items()):
    if _p.name in {"psum", "pmax", "pmin", "all_gather", "reduce_scatter", "all_to_all",
                   "ppermute", "axis_index"}:
        batching.primitive_batchers[_p] = _unnamed_batcher(_rule)


def uses_collectives(program: Any) -> bool:
    """Whether `program` (or a sub-program in its equations' params) has a collective."""
    from lamina.ir import Program
    stack = [program]
    while stack:
        p = stack.pop()
        for eqn in p.eqns:
            if eqn.primitive in batching.collective_batchers:
                return True
            for v in eqn.params.values():
                if isinstance(v, Program):
                    stack.append(v)
                elif isinstance(v, tuple):
                    stack.extend(x for x in v if isinstance(x, Program))
    return False


del _p, _rule, Tracer
