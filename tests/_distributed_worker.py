"""One process of the 2-process runs of test_distributed.py.

`python _distributed_worker.py SCENARIO`; the run's parameters come from the
LAMINA_COORDINATOR_ADDRESS / LAMINA_NUM_PROCESSES / LAMINA_PROCESS_ID variables (which
`initialize()` reads by itself). Prints `RESULT <json>` lines the test checks.
"""
from __future__ import annotations

import json
import os
import sys

import numpy as np


def report(**kw: object) -> None:
    print("RESULT " + json.dumps(kw), flush=True)


def main(scenario: str) -> None:
    import lamina
    import lamina.numpy as lnp
    from lamina import distributed as dist

    heartbeat = 3 if scenario.startswith("dead") else 30
    dist.initialize(initialization_timeout=30, heartbeat_timeout_seconds=heartbeat,
                    shutdown_timeout_seconds=20)
    me, n_proc = lamina.process_index(), lamina.process_count()
    local = lamina.local_devices()
    report(stage="init", process_index=me, process_count=n_proc,
           devices=[[d.id, d.process_index] for d in lamina.devices()],
           local=[d.id for d in local], local_count=lamina.local_device_count(),
           device_count=lamina.device_count(),
           other_local=[d.id for d in lamina.local_devices(process_index=1 - me)])
    try:
        dist.initialize()
    except RuntimeError as e:
        report(stage="reinit", error=str(e))

    # pmap over all 4 devices: each process feeds the slices of its 2 devices.
    f = lamina.pmap(lambda x: (lamina.lax.psum(x, "i"), lamina.lax.axis_index("i")),
                    axis_name="i")
    x = np.arange(6, dtype=np.float32).reshape(2, 3) + 10 * me
    total, index = f(x)
    report(stage="pmap", shape=list(total.shape), total=np.asarray(total).tolist(),
           index=np.asarray(index).tolist())
    # Chained steps with a pmapped output fed back (stays on the devices) and pmean grads.
    g = lamina.pmap(lamina.grad(lambda w, x: lamina.lax.pmean(lnp.sum(w * x), "i")),
                    axis_name="i", in_axes=(None, 0))
    step = lamina.pmap(lambda w, d: w - 0.5 * lamina.lax.psum(d, "i"), axis_name="i")
    w = np.ones((2, 3), np.float32)
    for _ in range(3):
        w = step(w, g(np.ones(3, np.float32), x))
    report(stage="chain", w=np.asarray(w).tolist())

    # A global array from per-process pieces, consumed by pmap (no host round trip).
    sharding = lamina.sharding.PmapSharding(
        [d for p in range(n_proc) for d in lamina.local_devices(process_index=p)])
    garr = lamina.make_array_from_process_local_data(sharding, x)
    try:
        np.asarray(garr)
        readable = True
    except RuntimeError:
        readable = False
    report(stage="global", shape=list(garr.shape), addressable=garr.is_fully_addressable,
           readable=readable,
           shards=[[s.device.id, np.asarray(s.data).tolist()] for s in garr.addressable_shards])

    # The same with a NamedSharding over a mesh of all 4 devices: rows split over 'x'.
    from lamina.sharding import Mesh, NamedSharding, PartitionSpec
    mesh = Mesh(np.array(sharding._device_assignment), ("x",))
    narr = lamina.make_array_from_process_local_data(NamedSharding(mesh, PartitionSpec("x")), x)
    report(stage="named", shape=list(narr.shape),
           shards=[[s.device.id, np.asarray(s.data).tolist()] for s in narr.addressable_shards])
    try:
        total = lamina.jit(lambda a: a.sum(axis=0), out_shardings=NamedSharding(
            mesh, PartitionSpec()))(narr)
        report(stage="jit", value=np.asarray(total.addressable_shards[0].data).tolist())
    except Exception as e:  # reported, not required (sharded jit across processes)
        report(stage="jit", error=f"{type(e).__name__}: {e}"[:500])

    # Barrier and key-value store.
    dist.key_value_set(f"test/value{me}", f"from {me}")
    got = dist.key_value_get(f"test/value{1 - me}", timeout=20)
    dist.barrier("after_kv", timeout=20)
    missing = dist.key_value_try_get("test/never-set")
    entries = sorted(k for k, _ in dist.key_value_dir_get("test"))
    try:
        dist.key_value_get("test/never-set", timeout=0.2)
        timed_out = None
    except TimeoutError as e:
        timed_out = str(e)
    dist.barrier("after_kv", timeout=20)  # the same name again (a reused barrier)
    report(stage="kv", got=got, missing=missing, entries=entries, timed_out=timed_out)

    if scenario.startswith("dead"):
        victim = 0 if scenario == "dead0" else 1
        if me == victim:
            dist.key_value_get("test/waiting", timeout=20)  # the survivor is in place
            os._exit(7)  # dies without shutting down
        report(stage="waiting")
        dist.key_value_set("test/waiting", "1")
        if scenario == "dead1":
            dist.barrier("never", timeout=120)  # the service must end this long before
        else:
            for _ in range(100000):  # collectives with a dead peer: must fail, not hang
                f(x)
        report(stage="survived")  # must not happen
        return

    dist.shutdown()
    report(stage="shutdown", initialized=dist.is_initialized())


if __name__ == "__main__":
    main(sys.argv[1])
