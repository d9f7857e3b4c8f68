"""Vectorisation (`vmap`): `BatchTrace` carries each value with the position of its
batch dimension and applies each primitive's rule from `primitive_batchers`:

    rule(args, dims, **params) -> (out, out_dim)    # lists for multiple_results

`dims[i]` is an int, or `not_mapped` (None) for an argument without a batch dimension.
At least one argument is mapped when a rule runs. Rules run in the parent trace, so
they are written with ordinary `lax` calls on the underlying values.

The user-facing `vmap` lives in `lamina/_api_batching.py`.
"""
from __future__ import annotations

import contextvars
from typing import Any, Callable, Hashable, Sequence

from lamina.errors import MissingRuleError, user_source_line
from lamina.interpreters import axis_env
from lamina.ir import (AbstractArray, Primitive, Program, Trace, Tracer, set_current_trace,
                       shaped_abstractify)

BatchRule = Callable[..., tuple[Any, Any]]
primitive_batchers: dict[Primitive, BatchRule] = {}

# Collectives (lax/collectives.py): `rule(axis_name, axis_size, args, dims, **params)`
# with the axis of the BatchTrace applying it. They run even when no argument is mapped:
# `psum(1, 'i')` or `axis_index('i')` depends on the vmap axis named 'i'.
collective_batchers: dict[Primitive, Callable[..., tuple[Any, Any]]] = {}

# The (axis_name, axis_size) of the BatchTrace whose rule is running: `batch_program`
# called from a rule (jit, cond, scan...) batches over that same axis, so collectives
# over its name inside the sub-program resolve.
_rule_axis: contextvars.ContextVar[tuple[Hashable, int]] = contextvars.ContextVar(
    "lamina_batch_rule_axis", default=(None, 0))
_INHERIT: Any = object()


def _mentions_axis(params: dict[str, Any], name: Hashable) -> bool:
    """Whether a sub-program in `params` applies a collective over axis `name`."""
    for v in params.values():
        programs = [v] if isinstance(v, Program) else [
            p for p in v if isinstance(p, Program)] if isinstance(v, tuple) else []
        for program in programs:
            for eqn in program.eqns:
                if eqn.primitive in collective_batchers:
                    names = eqn.params.get("axes", eqn.params.get("axis_name"))
                    if name in (names if isinstance(names, tuple) else (names,)):
                        return True
                if _mentions_axis(eqn.params, name):
                    return True
    return False

not_mapped = None


class BatchTracer(Tracer):
    __slots__ = ("val", "batch_dim")

    def __init__(self, trace: "BatchTrace", val: Any, batch_dim: int) -> None:
        assert batch_dim is not None
        self._trace = trace
        self.val = val
        self.batch_dim = batch_dim

    @property
    def aval(self) -> AbstractArray:
        aval = shaped_abstractify(self.val)
        shape = list(aval.shape)
        del shape[self.batch_dim]
        return aval.update(shape=shape)


class BatchTrace(Trace):
    """One `vmap` level: `axis_size` lanes, optionally named for collectives."""

    def __init__(self, parent: Trace, axis_size: int, axis_name: Hashable = None,
                 spmd_axis_name: Any = None) -> None:
        self.parent = parent
        self.axis_size = axis_size
        self.axis_name = axis_name
        self.spmd_axis_name = spmd_axis_name
        self.source = user_source_line()

    def unpack(self, x: Any) -> tuple[Any, Any]:
        if isinstance(x, BatchTracer) and x._trace is self:
            return x.val, x.batch_dim
        return x, not_mapped

    def pack(self, val: Any, dim: Any) -> Any:
        return val if dim is not_mapped else BatchTracer(self, val, dim)

    def process_primitive(self, primitive: Primitive, args: Sequence[Any],
                          params: dict[str, Any]) -> Any:
        vals, dims = zip(*map(self.unpack, args)) if args else ((), ())
        with set_current_trace(self.parent):
            collective = collective_batchers.get(primitive)
            if collective is not None:
                out, out_dim = collective(self.axis_name, self.axis_size, list(vals),
                                          list(dims), **params)
            elif all(d is not_mapped for d in dims) and (
                    self.axis_name is None or not _mentions_axis(params, self.axis_name)):
                return primitive.bind(*vals, **params)
            else:
                rule = primitive_batchers.get(primitive)
                if rule is None:
                    raise MissingRuleError(primitive, "batching (vmap)")
                token = _rule_axis.set((self.axis_name, self.axis_size))
                try:
                    out, out_dim = rule(list(vals), list(dims), **params)
                finally:
                    _rule_axis.reset(token)
        if primitive.multiple_results:
            return [self.pack(o, d) for o, d in zip(out, out_dim)]
        return self.pack(out, out_dim)


# --------------------------------------------------------------------------------------
# Helpers for batching rules (they run in the parent trace)
# --------------------------------------------------------------------------------------


def dim_size(args: Sequence[Any], dims: Sequence[Any]) -> int:
    """The batch size, read off the first mapped argument."""
    for x, d in zip(args, dims):
        if d is not not_mapped:
            return shaped_abstractify(x).shape[d]
    raise AssertionError("no mapped argument")


def moveaxis(x: Any, src: int, dst: int) -> Any:
    from lamina import lax
    ndim = shaped_abstractify(x).ndim
    src, dst = src % ndim, dst % ndim
    if src == dst:
        return x
    perm = [i for i in range(ndim) if i != src]
    perm.insert(dst, src)
    return lax.transpose(x, perm)


def broadcast_batched(x: Any, size: int, dim: int) -> Any:
    """Insert a new axis of length `size` at `dim` (for an unmapped value)."""
    from lamina import lax
    aval = shaped_abstractify(x)
    shape = list(aval.shape)
    shape.insert(dim, size)
    keep = [i for i in range(len(shape)) if i != dim]
    return lax.broadcast_in_dim(x, shape, keep)


def bdim_at_front(x: Any, dim: Any, size: int) -> Any:
    """`x` with its batch dimension first (broadcast if `x` is unmapped)."""
    if dim is not_mapped:
        return broadcast_batched(x, size, 0)
    return moveaxis(x, dim, 0)


def matchaxis(x: Any, src: Any, dst: Any, size: int) -> Any:
    """Move (or create, if unmapped) the batch dimension of `x` from `src` to `dst`."""
    if dst is not_mapped:
        assert src is not_mapped
        return x
    if src is not_mapped:
        return broadcast_batched(x, size, dst)
    return moveaxis(x, src, dst)


def defvectorized(primitive: Primitive) -> None:
    """Unary (or elementwise-with-params) primitives: apply to the batched value as is."""

    def rule(args: Sequence[Any], dims: Sequence[Any], **params: Any) -> tuple[Any, Any]:
        (x,), (d,) = args, dims
        return primitive.bind(x, **params), d

    primitive_batchers[primitive] = rule


def defbroadcasting(primitive: Primitive) -> None:
    """N-ary elementwise primitives whose operands share one shape or are 0-d (lax's
    rule): every operand gets the batch dimension first, except unmapped 0-d ones."""

    def rule(args: Sequence[Any], dims: Sequence[Any], **params: Any) -> tuple[Any, Any]:
        from lamina import lax
        size = dim_size(args, dims)
        avals = [shaped_abstractify(x) for x in args]
        ranks = [a.ndim - (d is not not_mapped) for a, d in zip(avals, dims)]
        out_rank = max(ranks)
        mapped_dims = {d for d in dims if d is not not_mapped}
        if len(mapped_dims) == 1 and all(
                r == out_rank if d is not not_mapped else r == 0 for d, r in zip(dims, ranks)):
            return primitive.bind(*args, **params), mapped_dims.pop()
        shape = next(_unbatched_shape(a, d) for a, d, r in zip(avals, dims, ranks)
                     if r == out_rank)
        new_args = []
        for x, d, r in zip(args, dims, ranks):
            if d is not_mapped and r == 0:
                new_args.append(x)  # a 0-d operand mixes with any shape
            elif d is not not_mapped and r == 0 and out_rank > 0:
                new_args.append(lax.broadcast_in_dim(x, (size, *shape), (0,)))
            else:
                new_args.append(bdim_at_front(x, d, size))
        return primitive.bind(*new_args, **params), 0

    primitive_batchers[primitive] = rule


def _unbatched_shape(aval: AbstractArray, dim: Any) -> tuple[int, ...]:
    shape = list(aval.shape)
    if dim is not not_mapped:
        del shape[dim]
    return tuple(shape)


def vmap_flat(fun: Callable[..., Sequence[Any]], args: Sequence[Any], in_dims: Sequence[Any],
              axis_size: int, out_dims: Sequence[Any] | Callable[[], Sequence[Any]],
              axis_name: Hashable = None, spmd_axis_name: Any = None,
              parent: Trace | None = None) -> list[Any]:
    """Map `fun(*args) -> list` over `axis_size` lanes; `in_dims`/`out_dims` per leaf
    (an int or `not_mapped`). An unmapped output with a mapped out_dim is broadcast.
    `out_dims` may be a function, called after `fun` has run (when the out_axes
    depend on the output's structure)."""
    from lamina.ir import current_trace
    trace = BatchTrace(parent if parent is not None else current_trace(), axis_size,
                       axis_name, spmd_axis_name)
    tracers = [trace.pack(x, d) for x, d in zip(args, in_dims)]
    try:
        with set_current_trace(trace), axis_env.extend(axis_name, axis_size, "vmap"):
            outs = fun(*tracers)
    finally:
        trace.finish()
    if callable(out_dims):
        out_dims = out_dims()
    results = []
    with set_current_trace(trace.parent):
        for o, od in zip(outs, out_dims):
            val, d = trace.unpack(o)
            if od is not_mapped and d is not not_mapped:
                raise ValueError("vmap has mapped output but out_axes is None: an output "
                                 f"of type {shaped_abstractify(o).str_short()} depends on "
                                 "the mapped inputs; give it an integer out_axes")
            if od is not not_mapped:
                od = od % (shaped_abstractify(val).ndim + (d is not_mapped))
            results.append(matchaxis(val, d, od, axis_size))
    return results


def batch_program(program: Program, in_mapped: Sequence[bool], axis_size: int,
                  out_mapped: Sequence[bool] | bool = False, axis_name: Hashable = _INHERIT,
                  ) -> tuple[Program, list[bool]]:
    """Vectorise a closed program (no constvars) over a leading batch dimension.

    Mapped inputs carry the batch dimension first. Returns `(batched, out_mapped)`:
    each output is mapped (batch dimension first) if it depends on a mapped input or
    `out_mapped[i]` forces it. `axis_name` defaults to the axis of the vmap whose rule
    is calling (so collectives over it inside the program are batched too).
    """
    if axis_name is _INHERIT:
        axis_name = _rule_axis.get()[0]
    from lamina.interpreters.partial_eval import (close_over_consts, eval_program,
                                                   trace_to_program)
    assert not program.constvars
    n_out = len(program.outvars)
    if isinstance(out_mapped, bool):
        out_mapped = [out_mapped] * n_out
    in_avals = [v.aval for v in program.invars]
    batched_avals = [a.update(shape=(axis_size, *a.shape)) if m else a
                     for a, m in zip(in_avals, in_mapped)]
    result_mapped: list[bool] = []

    def fun(*args: Any) -> list[Any]:
        from lamina.ir import current_trace
        trace = BatchTrace(current_trace(), axis_size, axis_name)
        tracers = [trace.pack(x, 0 if m else not_mapped) for x, m in zip(args, in_mapped)]
        try:
            with set_current_trace(trace), axis_env.extend(axis_name, axis_size, "vmap"):
                outs = eval_program(program, [], tracers)
        finally:
            trace.finish()
        results = []
        result_mapped.clear()
        for o, force in zip(outs, out_mapped):
            val, d = trace.unpack(o)
            mapped = force or d is not not_mapped
            result_mapped.append(mapped)
            results.append(matchaxis(val, d, 0, axis_size) if mapped else val)
        return results

    traced, consts = close_over_consts(trace_to_program(fun, batched_avals))
    assert not consts, "a closed program's batching captured constants"
    return traced, result_mapped
