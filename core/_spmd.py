"""Placing arrays by sharding and running programs with XLA's SPMD partitioner.

`put(x, sharding)` lays a value out over devices (`device_put(x, NamedSharding(...))`).
`run(program, args, ...)` runs one partitioned program: it picks the mesh (from explicit
shardings, then the arguments' shardings, then the program's constraints), annotates
every argument (`sdy.sharding`; an argument with no sharding of its own is replicated)
and the results whose sharding is given, compiles with Shardy for the mesh's devices
(partition k on `mesh.devices.flat[k]`), reads back the output shardings XLA chose,
and returns sharded Arrays. Every argument is checked against the layout the program
was compiled for before launching: a wrong multi-device argument segfaults jaxlib
(JAXLIB_FACTS §4).
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from lamina import dtypes, tree_util
from lamina.backend import _jaxlib
from lamina.backend.array import Array, ShardedArray, device_put_host
from lamina.backend.compile import (CompilerOptions, PartitionedExecutable,
                                    compile_partitioned)
from lamina.config import config
from lamina.interpreters import eval as eval_interp, lowering
from lamina.ir import AbstractArray, Program, Tracer, typecheck
from lamina.lax.calls import jit_impl, jit_p
from lamina.lax.sharding_ops import (check_axis_names, lowering_meshes, program_meshes,
                                     sdy_tensor_sharding)
from lamina.sharding import (Mesh, NamedSharding, PmapSharding, Sharding,
                             SingleDeviceSharding, TileLayout, sharding_from_layout)

# --------------------------------------------------------------------------------------
# Placing values
# --------------------------------------------------------------------------------------


def is_mesh_sharded(x: Any) -> bool:
    """An Array laid out by a NamedSharding (not a pmap output, not one device)."""
    return type(x) is ShardedArray and isinstance(x._sharding, NamedSharding)


def _host(x: Any) -> tuple[np.ndarray, bool]:
    if isinstance(x, Array):
        return x._value(), x.weak_type
    dtype = dtypes.canonicalize_dtype(dtypes.dtype_of(x))
    value = np.asarray(x)
    return (value if value.dtype == dtype else value.astype(dtype)), dtypes.is_python_scalar(x)


def put(x: Any, sharding: Sharding, api: str = "device_put") -> Array:
    """`x` (an Array or host value) laid out as `sharding`."""
    if isinstance(x, Tracer):
        raise TypeError(f"{api}: cannot place a traced value {x.aval.str_short()}; inside "
                        "jit use lamina.lax.with_sharding_constraint")
    if isinstance(sharding, SingleDeviceSharding):
        device = sharding._device
        if isinstance(x, Array) and x._device == device:
            return x
        value, weak = _host(x)
        return device_put_host(value, device, weak_type=weak)
    if isinstance(sharding, PmapSharding):
        raise NotImplementedError(f"{api}: placing values with a PmapSharding is not supported; "
                                  "use a NamedSharding over a Mesh, or lamina.pmap")
    if not isinstance(sharding, NamedSharding):
        raise TypeError(f"{api}: unsupported sharding {sharding!r}")
    if isinstance(x, ShardedArray) and x._sharding.is_equivalent_to(sharding, x.ndim):
        x._check_alive()
        if x._sharding == sharding:
            return x
        return ShardedArray._from_sharded(x._buf, x.aval, sharding)
    value, weak = _host(x)
    try:
        shard_shape = sharding.shard_shape(value.shape)
    except ValueError as e:
        raise ValueError(f"{api}: the value of shape {value.shape} does not fit {sharding!r}: "
                         f"{e}") from None
    aval = AbstractArray(value.shape, value.dtype, weak)
    shard_aval = aval.update(shape=shard_shape)
    indices = sharding.devices_indices_map(value.shape)
    devices = sharding._device_assignment
    # NOTE: np.array(..., order="C") rather than ascontiguousarray, which makes 0-d 1-d.
    bufs = [_jaxlib.device_put(np.array(value[indices[d]], order="C"), shard_aval, d)
            for d in devices]
    return ShardedArray._from_sharded(_jaxlib.assemble_shards(aval, devices, bufs), aval,
                                      sharding)


# --------------------------------------------------------------------------------------
# Running a partitioned program
# --------------------------------------------------------------------------------------


class _Compiled:
    __slots__ = ("exe", "in_shardings", "out_shardings")

    def __init__(self, exe: PartitionedExecutable, in_shardings: list[NamedSharding],
                 out_shardings: list[NamedSharding]) -> None:
        self.exe, self.in_shardings, self.out_shardings = exe, in_shardings, out_shardings


_executables: dict[tuple[Any, ...], _Compiled] = {}


def _pick_mesh(name: str, explicit: Sequence[Any], args: Sequence[Any],
               program: Program) -> Mesh:
    meshes = [s.mesh for s in explicit if isinstance(s, NamedSharding)]
    meshes += [a._sharding.mesh for a in args if is_mesh_sharded(a)]
    meshes += list(program_meshes(program))
    if not meshes:
        raise AssertionError("no mesh for a partitioned program")  # callers check first
    mesh = meshes[0]
    for s in explicit:
        if isinstance(s, NamedSharding) and s.mesh._flat_devices != mesh._flat_devices:
            raise ValueError(
                f"jit({name}): the given shardings use meshes over different devices "
                f"({mesh!r} with devices {[d.id for d in mesh._flat_devices]} and {s.mesh!r} "
                f"with devices {[d.id for d in s.mesh._flat_devices]}); use one mesh")
    return mesh


def _meshes_in(mesh: Mesh, shardings: Sequence[Any], program: Program, name: str
               ) -> list[Mesh]:
    found = dict.fromkeys([mesh, *[s.mesh for s in shardings if isinstance(s, NamedSharding)],
                           *program_meshes(program)])
    for m in found:
        if m._flat_devices != mesh._flat_devices:
            raise NotImplementedError(
                f"jit({name}): shardings over meshes with different device orders in one "
                f"program ({mesh!r} and {m!r}) are not supported by lamina; build the meshes "
                "from the same devices in the same order")
        check_axis_names(m, f"jit({name})")
    return list(found)


def _layout_of(raw: Any, ndim: int) -> TileLayout | None:
    if raw is None:
        return None
    dims, positions = raw
    return TileLayout(dims[:-1], np.asarray(positions).reshape(dims))


def _layouts(shardings: Sequence[Any], avals: Sequence[AbstractArray], n: int, name: str
             ) -> list[Any]:
    if len(shardings) != len(avals):
        # NOTE: a 1-device program reports no shardings: everything is on that device.
        if n != 1:
            raise RuntimeError(f"jit({name}): XLA reported {len(shardings)} shardings for "
                               f"{len(avals)} values (a lamina bug; please report it)")
        return [([1] * a.ndim + [1], [0]) for a in avals]
    return _jaxlib.tile_layouts(shardings, [a.ndim for a in avals], n)


def _compile(program: Program, avals: tuple[AbstractArray, ...], donated: tuple[bool, ...],
             mesh: Mesh, in_shardings: list[NamedSharding],
             out_shardings: list[NamedSharding | None], name: str,
             compiler_options: CompilerOptions) -> _Compiled:
    meshes = _meshes_in(mesh, [*in_shardings, *out_shardings], program, name)
    if config.enable_checks:
        typecheck(program)
    out_avals = program.out_avals
    with lowering_meshes(meshes) as ctx:
        arg_attrs = [f"sdy.sharding = #sdy.sharding{sdy_tensor_sharding(s, a.ndim, name)}"
                     for s, a in zip(in_shardings, avals)]
        res_attrs = [None if s is None else
                     f"sdy.sharding = #sdy.sharding{sdy_tensor_sharding(s, a.ndim, name)}"
                     for s, a in zip(out_shardings, out_avals)]
        text = lowering.lower_program(program, donated=donated, num_partitions=mesh.size,
                                      prelude=ctx.prelude, arg_attrs=arg_attrs,
                                      result_attrs=res_attrs,
                                      platform=mesh._flat_devices[0].platform)
    devices = mesh._flat_devices
    loaded = compile_partitioned(text, devices, [s is None for s in out_shardings],
                                 compiler_options)
    n = len(devices)
    # Check XLA kept the argument layouts we build the inputs with (a mismatch would
    # segfault the execute instead of failing here).
    params = _layouts(_jaxlib.parameter_shardings(loaded), avals, n, name)
    for i, (raw, s, a) in enumerate(zip(params, in_shardings, avals)):
        got = _layout_of(raw, a.ndim)
        if got is not None and got != s._layout(a.ndim):
            raise RuntimeError(f"jit({name}): XLA compiled argument {i} with another layout "
                               f"than {s!r} (a lamina bug; please report it)")
    outs = _layouts(_jaxlib.output_shardings(loaded), out_avals, n, name)
    final: list[NamedSharding] = []
    for raw, s, a in zip(outs, out_shardings, out_avals):
        got = _layout_of(raw, a.ndim)
        if s is not None and (got is None or got == s._layout(a.ndim)):
            final.append(s)
        elif got is None:
            raise NotImplementedError(f"jit({name}): XLA chose an output sharding lamina "
                                      "cannot read; give out_shardings explicitly")
        else:
            final.append(sharding_from_layout(devices, got, mesh))
    exe = PartitionedExecutable(loaded, avals, out_avals, devices)
    return _Compiled(exe, list(in_shardings), final)


def _check_placed(name: str, i: int, x: ShardedArray, s: NamedSharding,
                  aval: AbstractArray) -> Any:
    """The buffer of argument i after checking it has the compiled layout (JAXLIB §4)."""
    if (x.aval.shape != aval.shape or x.aval.dtype != aval.dtype
            or not x._sharding.is_equivalent_to(s, aval.ndim)):
        raise ValueError(f"jit({name}): argument {i} ({x.aval.str_short()} with {x._sharding!r})"
                         f" does not match the compiled {aval.str_short()} with {s!r}")
    shape = s.shard_shape(aval.shape)
    for shard in x._shards():
        if shard.aval.shape != shape or shard.aval.dtype != aval.dtype:
            raise ValueError(f"jit({name}): argument {i} has a shard of type "
                             f"{shard.aval.str_short()}, expected {aval.dtype}{list(shape)}")
    x._check_alive()
    return x._buf


def run(program: Program, args: Sequence[Any], *, donated: Sequence[bool] = (),
        in_shardings: Sequence[Any] = (), out_shardings: Sequence[Any] = (),
        name: str = "jit", compiler_options: CompilerOptions = ()) -> list[Array]:
    """Run closed `program` partitioned over a mesh. `in_shardings[i]` / `out_shardings[j]`
    are NamedShardings or None (unspecified: the argument's own mesh sharding, else
    replicated; for outputs, XLA's choice). `compiler_options`: the jit's (canonical
    tuple)."""
    from lamina._api_pmap import contains_pmap, run_with_replicas
    if contains_pmap(program):  # jit(pmap(f)): a replica-style program, not a mesh one
        if (any(s is not None for s in [*in_shardings, *out_shardings])
                or program_meshes(program)):
            raise NotImplementedError(
                f"jit({name}): a jitted function that calls pmap cannot also use shardings "
                "over a mesh (in_shardings/out_shardings/with_sharding_constraint/shard_map) "
                "in lamina; use one or the other")
        return run_with_replicas(program, args, name, compiler_options)
    n_in, n_out = len(program.invars), len(program.outvars)
    in_s = list(in_shardings) + [None] * (n_in - len(in_shardings))
    out_s = list(out_shardings) + [None] * (n_out - len(out_shardings))
    in_s = [s if isinstance(s, NamedSharding) else None for s in in_s]
    out_s = [s if isinstance(s, NamedSharding) else None for s in out_s]
    mesh = _pick_mesh(name, [*in_s, *out_s], args, program)
    chosen = []
    for x, s in zip(args, in_s):
        if s is None:
            if is_mesh_sharded(x) and x._sharding.mesh._flat_devices == mesh._flat_devices:
                s = x._sharding
            else:  # uncommitted (one device, host value) or elsewhere: replicated
                s = NamedSharding(mesh, ())
        chosen.append(s)
    avals = tuple(v.aval for v in program.invars)
    donated = tuple(donated) + (False,) * (n_in - len(donated))
    key = (program, avals, donated, tuple(chosen), tuple(out_s), config.enable_x64,
           compiler_options)
    compiled = _executables.get(key)
    if compiled is None:
        compiled = _executables[key] = _compile(program, avals, donated, mesh, chosen, out_s,
                                                name, compiler_options)
    bufs = []
    for i, (x, s, aval) in enumerate(zip(args, chosen, avals)):
        placed = put(x, s, f"jit({name})")
        bufs.append(_check_placed(name, i, placed, s, aval))  # type: ignore[arg-type]
    outs = compiled.exe(bufs)
    return [ShardedArray._from_sharded(b, a, s)
            for b, a, s in zip(outs, compiled.exe.out_avals, compiled.out_shardings)]


def needs_partitioning(program: Program, args: Sequence[Any]) -> bool:
    """Whether `program` runs over several devices: partitioned over a mesh, or (when it
    calls pmap) as replicas."""
    from lamina._api_pmap import contains_pmap
    return (bool(program_meshes(program)) or any(is_mesh_sharded(a) for a in args)
            or contains_pmap(program))


# NOTE: `jit_p` takes its operands raw, so that Arrays laid out over a mesh reach the
# partitioned path uncopied; everything else runs as before (one device).
def _jit_impl(*args: Any, program: Program, name: str, donated: tuple[bool, ...]) -> list[Any]:
    if needs_partitioning(program, args):
        return run(program, args, donated=donated, name=name)
    arrays = [x if type(x) is Array else eval_interp.to_array(x) for x in args]
    return jit_impl(*arrays, program=program, name=name, donated=donated)


eval_interp.impl_rules[jit_p] = _jit_impl
eval_interp.raw_impl_primitives.add(jit_p)


# --------------------------------------------------------------------------------------
# Pytree prefixes of shardings
# --------------------------------------------------------------------------------------


def _is_sharding_leaf(x: Any) -> bool:
    from lamina.sharding import PartitionSpec
    return x is None or isinstance(x, (Sharding, PartitionSpec))


def flatten_prefix(api: str, what: str, prefix: Any, tree: Any) -> list[Any]:
    """One entry of `prefix` (a pytree prefix of `tree`) per leaf of `tree`."""
    if _is_sharding_leaf(prefix):
        return [prefix] * len(tree_util.tree_leaves(tree))
    if tree_util.is_tree_node(type(prefix)) and type(prefix) is type(tree) or (
            isinstance(prefix, (tuple, list)) and isinstance(tree, (tuple, list))):
        p_children, p_aux = tree_util.flatten_one_level(prefix)
        t_children, t_aux = tree_util.flatten_one_level(tree)
        p_children, t_children = list(p_children), list(t_children)
        if len(p_children) == len(t_children) and (isinstance(prefix, (tuple, list))
                                                   or p_aux == t_aux):
            out: list[Any] = []
            for p, t in zip(p_children, t_children):
                out += flatten_prefix(api, what, p, t)
            return out
    raise ValueError(f"{api}: {what} must be a sharding or a pytree prefix of the "
                     f"arguments/results it applies to; got {prefix!r} for a value of "
                     f"structure {tree_util.tree_structure(tree)}")
