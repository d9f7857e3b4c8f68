"""`pmap`: one program run on N devices at once, as XLA replicas (JAXLIB_FACTS §4a).

`pmap(f)(xs)` traces `f` once per input types with the per-device shapes (the mapped
axis removed) while the axis name is bound (`interpreters/axis_env.py`), and binds
`pmap_p` on the result. Eagerly, `pmap_p` lowers the program to ONE module with
`mhlo.num_replicas = N` (collectives over the axis become StableHLO collectives over
the replicas), compiles it for the N devices, splits each mapped input along axis 0 (an
Array already split that way is passed through) and returns `ShardedArray`s that stay
on their devices. Under `grad`/`vmap`, `pmap_p`'s rules (`_pmap_rules.py`) transform the
per-device program and bind `pmap_p` again (the pattern of `jit_p`, lax/calls.py), so
`grad` of a pmapped function runs pmapped programs too. A pmap across processes is the
same primitive with `local_slices` set (`_pmap_multiprocess.py`).

A pmap inside a jitted function or inside another pmap is lowered into the enclosing
replica-style program (`_pmap_lowering`): `jit(pmap(f))` compiles one executable over
the replicas the pmap needs, and `pmap(pmap(f, 'j'), 'i')` runs on an `i`x`j` grid of
devices with collectives over either axis (jax 0.10.2's own pmap, built on shard_map,
rejects nesting; its named `vmap`s give the same values).

Params of `pmap_p`: `program` (closed, per-device types), `axis_name`, `axis_size`,
`devices` (a tuple, or None for the first `axis_size` devices), `in_mapped` /
`out_mapped` (per operand / output: split along axis 0, or the same on every device),
`name`, `donated`, `local_slices` (None, or for a pmap across processes the number of
slices this process feeds and gets back: `_pmap_multiprocess.py`).
"""
from __future__ import annotations

import functools
import math
import weakref
from typing import Any, Callable, Hashable, Sequence

import numpy as np

from lamina import dtypes, tree_util
from lamina.backend import _jaxlib
from lamina.backend.array import Array, ShardedArray, new_array
from lamina.backend.client import Device, is_local, local_devices
from lamina.backend.compile import CompilerOptions, ReplicatedExecutable, compile_replicated
from lamina.config import config
from lamina.interpreters import axis_env, batching, eval as eval_interp, lowering
from lamina.interpreters.eval import EvalTrace
from lamina.interpreters.partial_eval import close_over_consts, trace_to_program
from lamina._api_batching import broadcast_axes, check_axis_spec
from lamina.ir import (AbstractArray, Primitive, Program, Tracer, _current_trace,
                       shaped_abstractify, typecheck)
from lamina.lax._collective_groups import (ReplicaLayout, collective_attrs, groups_attr,
                                           current_replica_layout, replica_layout)
from lamina.lax.collectives import uses_collectives
from lamina._pmap_multiprocess import (cross_process_devices, local_layout, signature,
                                       spanning_devices, to_global, to_local)
from lamina.sharding import PmapSharding

pmap_p = Primitive("pmap", multiple_results=True)


class _AnonymousAxis:
    """The axis name of a pmap given none (collectives cannot name it; rules can)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<anonymous pmap axis>"


def _global(aval: AbstractArray, n: int, mapped: bool) -> AbstractArray:
    return aval.update(shape=(n, *aval.shape)) if mapped else aval


@pmap_p.def_abstract_eval
def _pmap_abstract_eval(*avals: AbstractArray, program: Program, axis_name: Any,
                        axis_size: int, devices: Any, in_mapped: tuple[bool, ...],
                        out_mapped: tuple[bool, ...], name: str, donated: tuple[bool, ...],
                        local_slices: int | None) -> list[AbstractArray]:
    n = axis_size if local_slices is None else local_slices  # this process's slices
    expected = [_global(v.aval, n, m) for v, m in zip(program.invars, in_mapped)]
    if [(a.shape, a.dtype) for a in avals] != [(a.shape, a.dtype) for a in expected]:
        raise TypeError(f"pmap({name}): operands {[a.str_short() for a in avals]} do not "
                        f"match the program's inputs {[a.str_short() for a in expected]}")
    return [_global(v.aval, n, m) for v, m in zip(program.outvars, out_mapped)]


def _sub_programs(params: dict[str, Any]) -> list[Program]:
    out: list[Program] = []
    for v in params.values():
        if isinstance(v, Program):
            out.append(v)
        elif isinstance(v, tuple):
            out.extend(x for x in v if isinstance(x, Program))
    return out


@functools.lru_cache(maxsize=4096)
def _pmap_replicas(program: Program) -> int:
    """0 when `program` (and its sub-programs) binds no pmap; else the number of replicas
    its pmaps need: the product of nested pmap sizes, the lcm over sibling pmaps."""
    need = 0
    for eqn in program.eqns:
        if eqn.primitive is pmap_p:
            here = eqn.params["axis_size"] * max(1, _pmap_replicas(eqn.params["program"]))
        else:
            here = max([_pmap_replicas(p) for p in _sub_programs(eqn.params)], default=0)
        if here:
            need = math.lcm(need or 1, here)
    return need


def contains_pmap(program: Program) -> bool:
    """Whether running `program` needs replicas for a pmap inside it (jit(pmap(f)))."""
    return _pmap_replicas(program) > 0


def _pmap_lowering(ctx: lowering.RuleContext, *args: str, program: Program, axis_name: Any,
                   axis_size: int, in_mapped: tuple[bool, ...], out_mapped: tuple[bool, ...],
                   name: str, devices: Any, local_slices: int | None, **params: Any
                   ) -> list[str]:
    """A pmap inside a replica-style module (inside another pmap or a jit).

    Every replica holds the enclosing program's values; the pmap takes the next factor
    of the replicas as its axis (`ReplicaLayout.nest`): replica r works on slice
    `(r // stride) % axis_size` of each mapped operand, and each mapped result is
    all-gathered back over the axis, so that the enclosing program sees whole values
    again (jax's classic nested-pmap lowering did the same). A pmap across processes
    (only as the jitted module's one axis, `run_with_replicas`) indexes and gathers
    within each process instead: the enclosing program holds that process's values.
    """
    layout = current_replica_layout()
    if layout is None:
        raise NotImplementedError(
            f"pmap({name}) cannot be lowered here: lamina runs a pmap inside jit or inside "
            "another pmap, but not inside shard_map, a jit with shardings over a mesh, or "
            "jit(...).lower(); call the pmapped function outside those")
    inner = layout.nest(axis_name, axis_size, f"pmap({name})")
    u32, i32 = AbstractArray((), np.uint32), AbstractArray((), np.int32)
    index = ctx.op("stablehlo.replica_id", [], u32)
    gather_groups = None
    if local_slices is not None:  # replica r -> its slice among its process's slices
        local_index, gather_groups = local_layout(devices)
        table = ctx.constant(np.asarray(local_index, np.int32),
                             AbstractArray((len(local_index),), np.int32))
        index = ctx.op("stablehlo.convert", [index], i32)
        index = ctx.op("stablehlo.dynamic_slice", [table, index],
                       AbstractArray((1,), np.int32), {"slice_sizes": lowering.i64_array([1])})
        index = ctx.op("stablehlo.reshape", [index], i32)
    elif inner.remaining != 1:
        index = ctx.op("stablehlo.divide", [index, ctx.constant(inner.remaining, u32)], u32)
    if local_slices is None:
        index = ctx.op("stablehlo.remainder", [index, ctx.constant(axis_size, u32)], u32)
        index = ctx.op("stablehlo.convert", [index], i32)
    zero = ctx.constant(0, i32)
    operands = []
    for x, aval, m in zip(args, ctx.avals_in, in_mapped):
        if m:  # this replica's slice along axis 0
            piece = aval.update(shape=(1, *aval.shape[1:]))
            x = ctx.op("stablehlo.dynamic_slice", [x, index, *[zero] * (aval.ndim - 1)], piece,
                       {"slice_sizes": lowering.i64_array(piece.shape)})
            x = ctx.op("stablehlo.reshape", [x], aval.update(shape=aval.shape[1:]))
        operands.append(x)
    with replica_layout(inner), axis_env.extend(axis_name, axis_size, "pmap"):
        outs = ctx.lower_program(program, operands)
        _, attrs = collective_attrs((axis_name,), f"pmap({name})")
    if gather_groups is not None:
        attrs = {"replica_groups": groups_attr(gather_groups)}
    results = []
    for o, v, aval, m in zip(outs, program.outvars, ctx.avals_out, out_mapped):
        if m:
            o = ctx.op("stablehlo.reshape", [o], v.aval.update(shape=(1, *v.aval.shape)))
            o = ctx.op("stablehlo.all_gather", [o], aval,
                       {"all_gather_dim": lowering.i64_attr(0), **attrs})
        results.append(o)
    return results


lowering.register_lowering(pmap_p, _pmap_lowering)


# --------------------------------------------------------------------------------------
# Eager execution
# --------------------------------------------------------------------------------------


def _resolve_devices(devices: tuple[Device, ...] | None, n: int, name: str,
                     backend: str | None = None) -> tuple[Device, ...]:
    """`devices`, checked to be `n`, or else the first `n` local devices of `backend`
    (default: the default backend)."""
    if devices is not None:
        if len(devices) != n:
            raise ValueError(f"pmap({name}): the mapped axis has size {n} (times the sizes "
                             f"of pmaps nested inside), but {len(devices)} devices were given "
                             f"(devices={list(devices)}); they must match")
        return devices
    available = local_devices(backend=backend)
    if n > len(available):
        raise ValueError(
            f"pmap({name}): compiling computation that requires {n} logical devices, but "
            f"only {len(available)} XLA devices are available (num_replicas={n}). The "
            f"mapped axis of the inputs (times the sizes of pmaps nested inside) is {n}: "
            f"it must be at most the device count (on the CPU, set "
            f"LAMINA_NUM_CPU_DEVICES={n} before lamina starts).")
    return tuple(available[:n])


_pmap_executables: dict[tuple[Any, ...], ReplicatedExecutable] = {}


def _executable(program: Program, axis_name: Any, devices: tuple[Device, ...],
                donated: tuple[bool, ...], axis_size: int) -> ReplicatedExecutable:
    """The program compiled over `devices`: `axis_size` of them, times the replicas that
    pmaps nested inside need (replica r works on slice `r // inner` of the mapped axis)."""
    key = (program, axis_name, tuple(d.id for d in devices), donated)
    exe = _pmap_executables.get(key)
    if exe is None:
        total = len(devices)
        inner = total // axis_size
        layout = ReplicaLayout(total, inner, ((axis_name, axis_size, inner),))
        with axis_env.extend(axis_name, axis_size, "pmap"), replica_layout(layout):
            if config.enable_checks:
                typecheck(program)
            text = lowering.lower_program(program, donated=donated, num_replicas=total,
                                          platform=devices[0].platform)
        # NOTE: a program with collectives waits for its results on the CPU: two of them
        # in flight can deadlock XLA:CPU's rendezvous on a few-core machine (§4).
        sync = (uses_collectives(program) or inner > 1) and devices[0].platform == "cpu"
        exe = ReplicatedExecutable(compile_replicated(text, devices), program.in_avals,
                                   program.out_avals, devices, sync)
        _pmap_executables[key] = exe
    return exe


def _host_value(x: Any, dtype: np.dtype) -> np.ndarray:
    if isinstance(x, Array):
        value = x._value()
    else:
        value = np.asarray(x)
    return value if value.dtype == dtype else value.astype(dtype)


def _place(x: Any, aval: AbstractArray, mapped: bool, devices: tuple[Device, ...],
           sharding: PmapSharding | None, index: int, name: str, inner: int = 1) -> Any:
    """Operand `x` as a multi-device buffer with per-device type `aval` (device k gets
    slice `k // inner` of a mapped operand: `inner` replicas per slice for nested pmaps)."""
    n = len(devices) // inner
    if (inner == 1 and type(x) is ShardedArray and mapped
            and x.aval.shape == (n, *aval.shape) and x.aval.dtype == aval.dtype
            and x._sharding == sharding):
        x._check_alive()
        return x._buf  # already split the way the program needs: no copy
    value = _host_value(x, aval.dtype)
    expected = (n, *aval.shape) if mapped else aval.shape
    if value.shape != expected:  # the tracing checks make this a lamina bug
        raise ValueError(f"pmap({name}): operand {index} has shape {value.shape}, expected "
                         f"{expected}")
    # Across processes, only this process's devices get a piece (JAXLIB_FACTS §5).
    local = [(k, d) for k, d in enumerate(devices) if is_local(d)]
    pieces = [value[k // inner] for k, _ in local] if mapped else [value] * len(local)
    # NOTE: not np.ascontiguousarray, which turns 0-d pieces into 1-d ones.
    bufs = [_jaxlib.device_put(np.array(p, order="C", copy=None), aval, d)
            for p, (_, d) in zip(pieces, local)]
    return _jaxlib.assemble_shards(_global(aval, len(devices), True), [d for _, d in local],
                                   bufs)


def _scalar_key(x: Any) -> Any:
    """What identifies a Python scalar's value (-0.0 and 0.0 apart), or None."""
    t = type(x)
    if t is float:
        return (t, x.hex())
    if t is int or t is bool:
        return (t, x)
    return None


def _forget_copy(cache: dict[int, tuple[Any, Any]], index: int, ref: weakref.ref) -> None:
    if cache.get(index, (None,))[0] is ref:
        del cache[index]


def _place_unmapped(x: Any, aval: AbstractArray, devices: tuple[Device, ...], index: int,
                    name: str, inner: int, cache: dict[int, tuple[Any, Any]],
                    donated: bool) -> Any:
    """`_place` for operand `index`, given to every device, reusing the copies made at
    the last call when the operand is the same live Array object (Arrays are immutable)
    or a Python scalar of the same value. A program's captured constants are such
    operands: without this, every call copied them from the host to each device.

    NOTE: an Array is held weakly: its copies are dropped when it dies. numpy arrays
    (mutable) and donated operands are copied every call.
    """
    hit = cache.get(index)
    if hit is not None:
        source, buf = hit
        if type(source) is weakref.ref:
            if source() is x and not x.is_deleted():
                return buf
        elif source == _scalar_key(x):
            return buf
    buf = _place(x, aval, False, devices, None, index, name, inner)
    if not donated:
        if isinstance(x, Array):
            ref = weakref.ref(x, functools.partial(_forget_copy, cache, index))
            cache[index] = (ref, buf)
        else:
            key = _scalar_key(x)
            if key is not None:
                cache[index] = (key, buf)
    return buf


def _pmap_impl(*args: Any, program: Program, axis_name: Any, axis_size: int, devices: Any,
               in_mapped: tuple[bool, ...], out_mapped: tuple[bool, ...], name: str,
               donated: tuple[bool, ...], local_slices: int | None = None) -> list[Any]:
    inner = max(1, _pmap_replicas(program))
    devs = _resolve_devices(devices, axis_size * inner, name)
    if inner > 1 and not all(is_local(d) for d in devs):
        raise NotImplementedError(f"pmap({name}): nested pmap across processes is not "
                                  "supported by lamina")
    if local_slices is not None:  # across processes: every process's slices, globally
        if uses_collectives(program):  # (else each process runs its own part alone)
            from lamina.distributed import _agree
            _agree(f"pmap({name})", signature(f"pmap({name})", program.in_avals, in_mapped,
                                              program.out_avals, axis_size))
        args = tuple(to_global(x, devs, local_slices) if m else x
                     for x, m in zip(args, in_mapped))
    exe = _executable(program, axis_name, devs, donated, axis_size)
    sharding = PmapSharding(devs)
    cache = exe.placed
    bufs = [_place(x, v.aval, True, devs, sharding, i, name, inner) if m else
            _place_unmapped(x, v.aval, devs, i, name, inner, cache, d)
            for i, (x, v, m, d) in enumerate(zip(args, program.invars, in_mapped, donated))]
    try:
        outs = exe(bufs)
    except _jaxlib.JaxRuntimeError as e:
        if len({d.process_index for d in devs}) == 1:
            raise
        raise RuntimeError(f"pmap({name}) across processes failed (did another process of "
                           f"the run die?): {e}") from None
    if inner > 1:  # the first replica of each slice holds the result (all of them do)
        devs = devs[::inner]
        sharding = PmapSharding(devs)
        outs = [_jaxlib.assemble_shards(_global(a, axis_size, True), devs,
                                        _jaxlib.shard_buffers(b)[::inner])
                for b, a in zip(outs, exe.out_avals)]
    results = []
    for buf, aval, m in zip(outs, exe.out_avals, out_mapped):
        if m:
            out = ShardedArray._from_sharded(buf, _global(aval, axis_size, True), sharding)
            results.append(out if local_slices is None else to_local(out, local_slices))
        else:  # the same on every device (out_axes=None): the first local device's copy
            first = next(d for d in devs if is_local(d))
            results.append(Array._from_buffer(_jaxlib.shard_buffers(buf)[0], aval, first))
    return results


def run_with_replicas(program: Program, args: Sequence[Any], name: str,
                      compiler_options: CompilerOptions = ()) -> list[Any]:
    """Run a jitted program whose body calls pmap (`jit(pmap(f))`), as jax does: one
    executable over the replicas the pmaps need; the program outside the pmaps runs on
    every replica alike, and its results come back from the first device.
    `compiler_options`: the jit's (canonical tuple)."""
    total = _pmap_replicas(program)
    devs = spanning_devices(program, total, name)
    if devs is None:
        devs = _resolve_devices(None, total, f"jit({name})")
    elif uses_collectives(program):  # across processes: check they all run the same
        from lamina.distributed import _agree
        _agree(f"jit({name})", signature(f"jit({name})", program.in_avals,
                                         [False] * len(program.invars), program.out_avals,
                                         total))
    key = (program, "jit", tuple(d.id for d in devs), compiler_options)
    exe = _pmap_executables.get(key)
    if exe is None:
        with replica_layout(ReplicaLayout(total, total, ())):
            if config.enable_checks:
                typecheck(program)
            text = lowering.lower_program(program, num_replicas=total,
                                          platform=devs[0].platform)
        exe = _pmap_executables[key] = ReplicatedExecutable(
            compile_replicated(text, devs, compiler_options), [v.aval for v in program.invars],
            program.out_avals, devs,
            devs[0].platform == "cpu")
    avals = [v.aval for v in [*program.constvars, *program.invars]]
    bufs = [_place_unmapped(x, aval, devs, i, f"jit({name})", 1, exe.placed, False)
            for i, (x, aval) in enumerate(zip(args, avals))]
    try:
        outs = exe(bufs)
    except _jaxlib.JaxRuntimeError as e:
        if all(is_local(d) for d in devs):
            raise
        raise RuntimeError(f"jit({name}) with a pmap across processes failed (did another "
                           f"process of the run die?): {e}") from None
    first = next(d for d in devs if is_local(d))  # (this process's values)
    return [Array._from_buffer(_jaxlib.shard_buffers(b)[0], aval, first)
            for b, aval in zip(outs, exe.out_avals)]


eval_interp.impl_rules[pmap_p] = _pmap_impl
eval_interp.raw_impl_primitives.add(pmap_p)


# NOTE: pmap_p's jvp / transpose / batching / partial-eval rules live in _pmap_rules.py.
from lamina import _pmap_rules  # noqa: E402,F401 (registers them)


# --------------------------------------------------------------------------------------
# The public wrapper
# --------------------------------------------------------------------------------------


def _as_int_tuple(x: Any, what: str) -> tuple[int, ...]:
    if x is None:
        return ()
    if isinstance(x, int):
        return (x,)
    try:
        return tuple(int(i) for i in x)
    except (TypeError, ValueError):
        raise TypeError(f"pmap: {what} must be an int or a sequence of ints, got {x!r}"
                        ) from None


class _Staged:
    __slots__ = ("program", "consts", "out_tree", "out_axes")

    def __init__(self, program: Program, consts: list[Any], out_tree: Any,
                 out_axes: list[Any]) -> None:
        self.program, self.consts, self.out_tree, self.out_axes = (program, consts, out_tree,
                                                                   out_axes)


_MISS = object()
_FAST_CACHE_SIZE = 64  # signatures per pmapped function with a fast-path launcher
_SCALAR_TYPES = frozenset((bool, int, float, complex))
_flags = config._values  # NOTE: read directly on the dispatch path (no __getattr__)
_flatten = tree_util.tree_flatten
_get_trace = _current_trace.get
_get_frames = axis_env._frames.get


def _fast_signature(treedef: Any, leaves: list[Any]) -> tuple[Any, ...] | None:
    """The tree structure and, per leaf, its aval (an Array), shape and dtype (a numpy
    array) or type (a Python scalar); None if a leaf of another kind needs the general
    path."""
    key = [treedef]
    for x in leaves:
        t = type(x)
        if t is ShardedArray or t is Array:
            key.append(x.aval)
        elif t is np.ndarray:
            key.append((x.shape, x.dtype))
        elif t in _SCALAR_TYPES:
            key.append(t)
        else:
            return None
    return tuple(key)


def _fast_launcher(exe: ReplicatedExecutable, staged: _Staged, params: dict[str, Any],
                   donated: tuple[bool, ...], name: str) -> Callable[[list[Any]], Any]:
    """`launch(leaves)`: the eager call of a pmapped function for one signature of its
    flat arguments, with the per-call work cut to what can change between such calls:
    whether each mapped ShardedArray is already split over the devices (else _MISS: the
    general path copies it), whether a buffer was deleted (_MISS: the general path
    raises), the numpy arrays and single-device Arrays to split (`_place`) and the
    operands given to every device (`_place_unmapped`)."""
    devs, size = exe.devices, params["axis_size"]
    sharding = PmapSharding(devs)
    first = devs[0]
    consts = tuple(staged.consts)
    in_avals = exe.in_avals
    cache = exe.placed
    plan = list(zip(range(len(consts), len(in_avals)), params["in_mapped"][len(consts):],
                    donated[len(consts):], in_avals[len(consts):]))
    outs_plan = [(m, _global(a, size, True) if m else a)
                 for m, a in zip(params["out_mapped"], exe.out_avals)]
    call, out_tree, new_sharded = exe.call_matched, staged.out_tree, ShardedArray._from_sharded

    def launch(leaves: list[Any]) -> Any:
        bufs = [_place_unmapped(c, in_avals[i], devs, i, name, 1, cache, False)
                for i, c in enumerate(consts)] if consts else []
        for x, (i, m, d, aval) in zip(leaves, plan):
            if m:
                t = type(x)
                if t is np.ndarray or t is Array:  # split as the general path does
                    if t is Array and x.is_deleted():
                        return _MISS
                    buf = _place(x, aval, True, devs, sharding, i, name)
                elif t is not ShardedArray or (x._sharding is not sharding
                                               and x._sharding != sharding):
                    return _MISS
                else:
                    buf = x._buf
                    if buf is None or buf.is_deleted():
                        return _MISS
            else:
                if isinstance(x, Array) and x.is_deleted():
                    return _MISS
                buf = _place_unmapped(x, aval, devs, i, name, 1, cache, d)
            bufs.append(buf)
        outs = call(bufs)
        return out_tree.unflatten([
            new_sharded(b, aval, sharding) if m else
            new_array(_jaxlib.shard_buffers(b)[0], aval, first)
            for b, (m, aval) in zip(outs, outs_plan)])

    return launch


class PmapWrapped:
    """The callable returned by `lamina.pmap(fun, ...)`."""

    def __init__(self, fun: Callable[..., Any], axis_name: Hashable, in_axes: Any,
                 out_axes: Any, static_broadcasted_argnums: tuple[int, ...],
                 devices: tuple[Device, ...] | None, axis_size: int | None,
                 donate_argnums: tuple[int, ...], backend: str | None = None) -> None:
        self._fun = fun
        self._axis_name = axis_name if axis_name is not None else _AnonymousAxis()
        self._in_axes, self._out_axes = in_axes, out_axes
        self._static = static_broadcasted_argnums
        self._devices = devices
        self._backend = backend  # where devices=None picks from
        self._axis_size = axis_size
        self._donate = donate_argnums
        self._name = getattr(fun, "__name__", type(fun).__name__)
        self._cache: dict[Any, _Staged] = {}
        # The dispatch fast path, per value of enable_x64: the flat positional
        # arguments' signature (`_fast_signature`) -> launcher (`_fast_launcher`).
        self._fast: tuple[dict[tuple[Any, ...], Any], ...] = ({}, {})
        # NOTE: updated=(): copying fun.__dict__ would clobber this wrapper's own state
        # when fun is itself a PmapWrapped (nested pmap).
        functools.update_wrapper(self, fun, updated=())

    def _split_args(self, args: tuple[Any, ...]) -> tuple[list[Any], list[int], tuple]:
        for i in self._static:
            if i >= len(args):
                raise ValueError(f"pmap({self._name}): static_broadcasted_argnums={self._static} "
                                 f"names argument {i}, but only {len(args)} were passed")
        statics = tuple((i, args[i]) for i in self._static)
        for i, v in statics:
            try:
                hash(v)
            except TypeError:
                raise ValueError(f"pmap({self._name}): static argument {i} of type "
                                 f"{type(v).__name__} is not hashable") from None
        dyn_index = [i for i in range(len(args)) if i not in self._static]
        return [args[i] for i in dyn_index], dyn_index, statics

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if not kwargs and _get_trace() is None and not _get_frames():
            # NOTE: the dispatch fast path (as jit's): the flat arguments' signature
            # finds a launcher made by an earlier call; it returns _MISS where an
            # argument needs the general path's handling (or error).
            leaves, treedef = _flatten(args)
            table = self._fast[1 if _flags["enable_x64"] else 0]
            if table:
                launch = table.get(_fast_signature(treedef, leaves))
                if launch is not None:
                    out = launch(leaves)
                    if out is not _MISS:
                        return out
        return self._call(args, kwargs)

    def _call(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """The general path of `self(*args, **kwargs)`."""
        name = self._name
        dyn_args, dyn_index, statics = self._split_args(args)
        in_axes = self._in_axes
        if isinstance(in_axes, list):
            in_axes = tuple(in_axes)
        if isinstance(in_axes, tuple):
            if len(in_axes) == len(args) and self._static:
                in_axes = tuple(in_axes[i] for i in dyn_index)
            if len(in_axes) != len(dyn_args):
                raise ValueError(f"pmap({name}) in_axes must be an int, None, or a tuple of "
                                 f"entries corresponding to the positional arguments passed "
                                 f"to the function, but got len(in_axes)={len(in_axes)}, "
                                 f"len(args)={len(dyn_args)}")
        leaves, in_tree = tree_util.tree_flatten((tuple(dyn_args), kwargs))
        axes = broadcast_axes("pmap", "in_axes", (in_axes, 0), (tuple(dyn_args), kwargs), in_tree)
        paths = None
        sizes: dict[int, list[tuple[AbstractArray, int]]] = {}
        avals, in_mapped = [], []
        for i, (x, ax) in enumerate(zip(leaves, axes)):
            try:
                aval = shaped_abstractify(x)
            except TypeError:
                paths = paths or [tree_util.keystr(p) for p, _ in
                                  tree_util.tree_flatten_with_path((tuple(dyn_args), kwargs))[0]]
                raise TypeError(f"pmap({name}): argument {paths[i]} of type "
                                f"{type(x).__name__} is not a valid lamina array type") from None
            if ax is None:
                avals.append(aval)
                in_mapped.append(False)
                continue
            if not -aval.ndim <= ax < aval.ndim:
                raise ValueError(f"pmap({name}) was requested to map its argument along axis "
                                 f"{ax}, which implies that its rank should be at least "
                                 f"{ax + 1 if ax >= 0 else -ax}, but is only {aval.ndim} (its "
                                 f"shape is {aval.shape})")
            ax %= aval.ndim
            if ax != 0:
                leaves[i] = (np.moveaxis(x, ax, 0) if isinstance(x, np.ndarray)
                             else batching.moveaxis(x, ax, 0))
            shape = list(aval.shape)
            n = shape.pop(ax)
            sizes.setdefault(n, []).append((aval, ax))  # (formatted for the error only)
            avals.append(aval.update(shape=shape))
            in_mapped.append(True)
        if not sizes:
            raise ValueError(f"pmap({name}) requires at least one argument with a mapped "
                             "axis (in_axes is None for every argument)")
        if len(sizes) > 1:
            detail = "; ".join(f"size {n}: " + ", ".join(f"{a.str_short()} axis {ax}"
                                                          for a, ax in w)
                               for n, w in sizes.items())
            raise ValueError(f"pmap({name}) got inconsistent sizes for array axes to be "
                             f"mapped: {detail}")
        size = next(iter(sizes))
        if self._axis_size is not None and self._axis_size != size:
            raise ValueError(f"pmap({name}): specified axis_size {self._axis_size} doesn't "
                             f"match received axis_size {size}")
        devices = self._devices
        if devices is None and self._backend is not None:
            devices = _resolve_devices(None, size, name, self._backend)
        elif devices is None and size > len(local_devices()):
            _resolve_devices(None, size, name)  # the error, before tracing
        local_size = size
        spanning = cross_process_devices(devices, size, name)
        if spanning is not None:  # each process feeds its devices' slices
            if any(f.kind in ("pmap", "mesh") for f in axis_env.frames()):
                raise NotImplementedError(
                    f"pmap({name}) across processes cannot run inside another pmap or a "
                    "shard_map in lamina; call it at the outermost level (under grad, vmap "
                    "or jit is fine)")
            devices, size = spanning, len(spanning)
        key = (in_tree, tuple(avals), tuple(in_mapped), statics, size, config.enable_x64,
               axis_env.frames())
        staged = self._cache.get(key)
        if staged is None:
            staged = self._trace(in_tree, avals, statics, dyn_index, size, len(args))
            if not any(isinstance(c, Tracer) for c in staged.consts):
                self._cache[key] = staged
        donated = [False] * len(staged.consts)
        for i, a in zip(dyn_index, dyn_args):
            donated += [i in self._donate] * len(tree_util.tree_leaves(a))
        donated += [False] * (len(leaves) + len(staged.consts) - len(donated))
        params = dict(program=staged.program, axis_name=self._axis_name, axis_size=size,
                      devices=devices,
                      in_mapped=(*[False] * len(staged.consts), *in_mapped),
                      out_mapped=tuple(ax is not None for ax in staged.out_axes),
                      name=name, local_slices=None if spanning is None else local_size)
        operands = [*staged.consts, *leaves]
        trace = _current_trace.get()
        if trace is None or type(trace) is EvalTrace:
            outs = _pmap_impl(*operands, donated=tuple(donated), **params)
            if (trace is None and spanning is None and not kwargs and not self._static
                    and not axis_env.frames() and all(a == 0 for a in axes if a is not None)
                    and all(ax in (None, 0) for ax in staged.out_axes)):
                self._add_fast_launcher(args, staged, params, tuple(donated))
        else:  # donation applies to the outermost, eager call only
            outs = pmap_p.bind(*operands, donated=(False,) * len(operands), **params)
        outs = [o if ax in (None, 0) else batching.moveaxis(o, 0, ax)
                for o, ax in zip(outs, staged.out_axes)]
        return tree_util.tree_unflatten(staged.out_tree, outs)

    def _add_fast_launcher(self, args: tuple[Any, ...], staged: _Staged,
                           params: dict[str, Any], donated: tuple[bool, ...]) -> None:
        """After a general eager call `self(*args)` (its `_pmap_impl` params): record a
        launcher for the next calls with the same signature."""
        leaves, treedef = _flatten(args)
        key = _fast_signature(treedef, leaves)
        table = self._fast[1 if _flags["enable_x64"] else 0]
        if key is None or key in table or len(table) >= _FAST_CACHE_SIZE:
            return
        program, size = params["program"], params["axis_size"]
        if _pmap_replicas(program):
            return  # nested pmaps: the general path picks each slice's replica
        devs = _resolve_devices(params["devices"], size, self._name)
        exe = _pmap_executables.get((program, params["axis_name"], tuple(d.id for d in devs),
                                     donated))
        if exe is not None:
            table[key] = _fast_launcher(exe, staged, params, donated, self._name)

    def _trace(self, in_tree: Any, avals: list[AbstractArray], statics: tuple,
               dyn_index: list[int], size: int, nargs: int) -> _Staged:
        box: list[Any] = []
        static_pos = dict(statics)

        def flat_fun(*flat: Any) -> list[Any]:
            dyn_args, kwargs = tree_util.tree_unflatten(in_tree, flat)
            it = iter(dyn_args)
            call_args = [static_pos[i] if i in static_pos else next(it) for i in range(nargs)]
            out = self._fun(*call_args, **kwargs)
            out_leaves, out_tree = tree_util.tree_flatten(out)
            box[:] = [out_tree, out]
            return out_leaves

        with axis_env.extend(self._axis_name, size, "pmap"):
            program, consts = close_over_consts(trace_to_program(flat_fun, avals))
        out_tree, out = box
        out_axes = self._out_axes
        check_axis_spec("pmap", "out_axes", out_axes)
        out_axes = broadcast_axes("pmap", "out_axes", out_axes, out, out_tree)
        for v, ax in zip(program.outvars, out_axes):
            if ax is not None and not -(v.aval.ndim + 1) <= ax <= v.aval.ndim:
                raise ValueError(f"pmap({self._name}): out_axes={ax} is out of range for an "
                                 f"output of per-device type {v.aval.str_short()}")
        out_axes = [None if ax is None else ax % (v.aval.ndim + 1)
                    for v, ax in zip(program.outvars, out_axes)]
        return _Staged(program, consts, out_tree, out_axes)

    def __repr__(self) -> str:
        return f"<lamina.pmap of {self._fun!r}>"


def pmap(fun: Callable[..., Any], axis_name: Hashable = None, *, in_axes: Any = 0,
         out_axes: Any = 0, static_broadcasted_argnums: int | Sequence[int] = (),
         devices: Sequence[Device] | None = None, backend: str | None = None,
         axis_size: int | None = None, donate_argnums: int | Sequence[int] = ()) -> Any:
    """Run `fun` on several devices at once, one slice of the mapped axis per device
    (single-program multiple-data), as `jax.pmap`.

    Args:
        fun: a function of arrays / pytrees; inside it, collectives (`lax.psum(x,
            axis_name)`...) communicate across the devices.
        axis_name: the name collectives use for the mapped axis.
        in_axes: an int, None, or a pytree prefix of the positional arguments (a tuple
            with one entry per argument): the mapped axis of each input (None: the same
            value on every device). Its size must be at most the device count.
        out_axes: the same for the outputs (None: an output that is the same on every
            device, returned once).
        static_broadcasted_argnums: positional arguments passed as Python values
            (hashable; a new value retraces).
        devices: the devices to run on (default: the first N of `lamina.local_devices()`).
        backend: the platform whose devices to use when `devices` is None ('cpu',
            'cuda', 'gpu', 'tpu'; default: the default backend).
        axis_size: the mapped size, checked against the inputs.
        donate_argnums: arguments whose buffers the computation may reuse.

    Returns:
        A function whose outputs are Arrays split over the devices along axis 0
        (`x.sharding` is a `PmapSharding`); they stay on their devices until read.

    >>> import lamina, lamina.numpy as lnp
    >>> n = lamina.device_count()
    >>> f = lamina.pmap(lambda x: x / lamina.lax.psum(x, 'i'), axis_name='i')
    >>> f(lnp.ones(n)).shape == (n,)
    True
    """
    if not callable(fun):
        raise TypeError(f"pmap: expected a function, got {type(fun).__name__}: {fun!r}")
    if backend is not None:
        local_devices(backend=backend)  # an unknown or unloadable platform: its error now
    if isinstance(in_axes, list):
        in_axes = tuple(in_axes)
    check_axis_spec("pmap", "in_axes", in_axes)
    if devices is not None:
        devices = tuple(devices)
        if not devices:
            raise ValueError("'devices' argument to pmap must be non-empty, or None.")
        if not all(isinstance(d, Device) for d in devices):
            raise TypeError(f"pmap: devices must be lamina devices (from lamina.devices()), "
                            f"got {devices!r}")
        if len({d.id for d in devices}) != len(devices):
            raise ValueError(f"pmap: devices must be distinct, got {list(devices)}")
    return PmapWrapped(fun, axis_name, in_axes, out_axes,
                       _as_int_tuple(static_broadcasted_argnums, "static_broadcasted_argnums"),
                       devices, axis_size,
                       _as_int_tuple(donate_argnums, "donate_argnums"), backend)


del dtypes
