"""`pmap` across processes (after `lamina.distributed.initialize`), JAXLIB_FACTS §5.

A pmap whose devices span several processes is bound as `pmap_p` with
`local_slices = n` (None otherwise): its mapped operands and results have `n` slices
along axis 0 outside the program (this process's devices' slices, as in jax), while
the program inside runs over every process's devices (`axis_size` of them) and its
collectives see the whole axis. So `grad`/`vmap`/`jit` transform and stage it like any
pmap (their rules pass `local_slices` on), and only running it differs:

* eagerly (`_pmap_impl`), each mapped operand becomes the global array of every
  process's slices (`to_global`), the program runs over all devices, and each mapped
  result goes back to this process's slices (`to_local`);
* inside a jitted program (`jit(pmap(f))`, `grad` of it...), the module runs over the
  pmap's devices as replicas; replica r takes slice `local_index[r]` of its process's
  operand and each mapped result is all-gathered over the replicas of its process
  (`local_layout`).

Before each run every process checks that the others run the same program with the
same per-device types (`lamina.distributed._agree`): a mismatched call (a process with
another batch shape, another function) is a clear error on every process instead of a
collective that never completes; a peer that never arrives is a TimeoutError.
"""
from __future__ import annotations

from typing import Any, Sequence

from lamina.backend import _jaxlib
from lamina.backend.array import ShardedArray
from lamina.backend.client import Device, devices as all_devices, is_local
from lamina.ir import AbstractArray, Program
from lamina.sharding import PmapSharding


def cross_process_devices(devices: tuple[Device, ...] | None, n_local: int, name: str
                          ) -> tuple[Device, ...] | None:
    """The devices of a pmap spanning several processes, or None when it runs on this
    process's devices only.

    As in jax, after `lamina.distributed.initialize` a pmap with `devices=None` maps over
    the first `n_local` devices of every process (in process order), each process passing
    the `n_local` slices of its own devices; with `devices` given, the slices are those
    of this process's devices among them.
    """
    if devices is None:
        everything = all_devices()
        if len({d.process_index for d in everything}) == 1:
            return None
        per_process: dict[int, list[Device]] = {}
        for d in everything:
            per_process.setdefault(d.process_index, []).append(d)
        fewest = min(len(v) for v in per_process.values())
        if n_local > fewest:
            raise ValueError(f"pmap({name}): the mapped axis has size {n_local}, but a process "
                             f"of this run has only {fewest} devices")
        return tuple(d for p in sorted(per_process) for d in per_process[p][:n_local])
    mine = sum(is_local(d) for d in devices)
    if mine == len(devices):
        return None
    if mine != n_local:
        raise ValueError(f"pmap({name}): the mapped axis has size {n_local}, but {mine} of the "
                         f"given devices are this process's; across processes each process "
                         f"passes one slice per device of its own")
    return devices


def to_global(x: Any, devices: tuple[Device, ...], n_local: int) -> Any:
    """This process's mapped operand (axis 0: one slice per local device) as the global
    array over `devices` (axis 0: one slice per device of every process)."""
    sharding = PmapSharding(devices)
    local = tuple(d for d in devices if is_local(d))
    if (type(x) is ShardedArray and x._sharding == PmapSharding(local)
            and x.aval.shape[:1] == (n_local,)):
        x._check_alive()  # already on the right devices: no copy
        aval = x.aval.update(shape=(len(devices), *x.aval.shape[1:]))
        buf = _jaxlib.assemble_shards(aval, local, _jaxlib.shard_buffers(x._buf))
        return ShardedArray._from_sharded(buf, aval, sharding)
    from lamina.distributed import make_array_from_process_local_data
    return make_array_from_process_local_data(sharding, x)


def to_local(x: ShardedArray, n_local: int) -> ShardedArray:
    """The inverse of `to_global`: this process's slices, as an Array of its own."""
    local = tuple(d for d in x._sharding._device_assignment if is_local(d))
    aval = x.aval.update(shape=(n_local, *x.aval.shape[1:]))
    buf = _jaxlib.assemble_shards(aval, local, _jaxlib.shard_buffers(x._buf))
    return ShardedArray._from_sharded(buf, aval, PmapSharding(local))


def local_layout(devices: Sequence[Device]) -> tuple[list[int], list[list[int]]]:
    """For a program with replica r on `devices[r]`: (per replica, its device's index
    among its process's devices; per process, its replicas in that order)."""
    groups: dict[int, list[int]] = {}
    index = []
    for r, d in enumerate(devices):
        mine = groups.setdefault(d.process_index, [])
        index.append(len(mine))
        mine.append(r)
    return index, [groups[p] for p in sorted(groups)]


def _pmaps(program: Program) -> list[dict[str, Any]]:
    """The params of every pmap_p equation in `program` and its sub-programs."""
    from lamina._api_pmap import _sub_programs, pmap_p
    found = []
    for eqn in program.eqns:
        if eqn.primitive is pmap_p:
            found.append(eqn.params)
        for sub in _sub_programs(eqn.params):
            found.extend(_pmaps(sub))
    return found


def spanning_devices(program: Program, total: int, name: str) -> tuple[Device, ...] | None:
    """The devices of the cross-process pmaps in jitted `program` (None if it has none):
    the replicas the jitted module runs as. lamina supports pmaps across processes in a
    jitted function when they all map over the same devices, nothing nested."""
    pmaps = _pmaps(program)
    spanning = {p["devices"] for p in pmaps if p.get("local_slices") is not None}
    if not spanning:
        return None
    devices = next(iter(spanning))
    if len(spanning) > 1 or len(pmaps) != sum(p["devices"] == devices for p in pmaps) \
            or total != len(devices):
        raise NotImplementedError(
            f"jit({name}): a jitted function may call pmaps across processes only when "
            "every pmap in it maps over the same devices of all processes, none nested in "
            "another; call the others outside the jitted function")
    return devices


def signature(what: str, in_avals: Sequence[AbstractArray], in_mapped: Sequence[bool],
              out_avals: Sequence[AbstractArray], size: int) -> str:
    """What every process must agree on before running a cross-process program: the
    per-device input types (marked `[mapped]`), output types and the number of slices."""
    ins = ", ".join(a.str_short() + (" [mapped]" if m else "")
                    for a, m in zip(in_avals, in_mapped))
    outs = ", ".join(a.str_short() for a in out_avals)
    return f"{what} over {size} devices: ({ins}) -> ({outs})"
