"""One process of the 2-process runs of test_distributed.py.

`python _distributed_worker.py SCENARIO`; the run's parameters come from the
LAMINA_COORDINATOR_ADDRESS / LAMINA_NUM_PROCESSES / LAMINA_PROCESS_ID variables (which
`initialize()` reads by itself). Prints `RESULT <json>` lines the test checks.
"""
from __future__ import annotations

import json
import os
import sys
import time

import numpy as np


def report(**kw: object) -> None:
    print("RESULT " + json.dumps(kw), flush=True)


def local_data(me: int, n_proc: int) -> np.ndarray:
    """Process `me`'s rows (2 per process); with one process, every process's rows."""
    rows = [np.arange(6, dtype=np.float32).reshape(2, 3) / 10 + p for p in range(2)]
    return rows[me] if n_proc > 1 else np.concatenate(rows)


def transforms() -> None:
    """Cross-process pmap under grad / jit / vmap / donation / static arguments. Run as
    2 processes x 2 devices, or as 1 process x 4 devices (no LAMINA_NUM_PROCESSES) for
    the reference values: the test compares process 0's rows + process 1's rows with
    the single process's."""
    import lamina
    import lamina.numpy as lnp
    from lamina import distributed as dist
    from lamina import lax

    multi = bool(os.environ.get("LAMINA_NUM_PROCESSES"))
    if multi:
        dist.initialize(initialization_timeout=30, heartbeat_timeout_seconds=30,
                        shutdown_timeout_seconds=20)
    me, n_proc = lamina.process_index(), lamina.process_count()
    x = local_data(me, n_proc)
    w = np.array([0.5, -1.0, 2.0], np.float32)
    out = {}

    def put(key: str, value: object) -> None:
        out[key] = np.asarray(value).tolist()

    body = lambda w, x: lax.psum(lnp.sin(w * x), "i") * x  # noqa: E731
    f = lamina.pmap(body, axis_name="i", in_axes=(None, 0))

    def loss(w, x):
        return lnp.sum(f(w, x) ** 2)

    # grad / value_and_grad of a function calling the pmap (w: every device; x: mapped).
    value, (gw, gx) = lamina.value_and_grad(loss, argnums=(0, 1))(w, x)
    put("vg_value", value), put("vg_gw", gw), put("vg_gx", gx)
    put("grad_gx", lamina.grad(loss, argnums=1)(w, x))
    # jit around the pmap, around grad, and grad of the jitted function.
    put("jit_pmap", lamina.jit(f)(w, x))
    jf = lamina.jit(lambda w, x: f(w * 2, x + 1) - x)
    put("jit_around", jf(w, x)), put("jit_around_again", jf(w, x))
    value, gw = lamina.jit(lamina.value_and_grad(loss))(w, x)
    put("jit_vg_value", value), put("jit_vg_gw", gw)
    put("grad_jit_gw", lamina.grad(lamina.jit(loss))(w, x))
    put("jit_pmap_jit", lamina.jit(lamina.pmap(lamina.jit(lambda x: lax.psum(x, "i") * 2),
                                               axis_name="i"))(x))
    # Devices given in another order (process 1's first): each process's slices go to
    # its devices in that order, eagerly and under jit alike.
    rev = lamina.pmap(lambda x: (x * lax.psum(x, "i"), lax.axis_index("i")), axis_name="i",
                      devices=lamina.devices()[::-1])
    (put("rev", rev(x)[0]), put("rev_jit", lamina.jit(rev)(x)[0]))
    out["rev_index"], out["rev_jit_index"] = [np.asarray(r[1]).tolist()
                                              for r in (rev(x), lamina.jit(rev)(x))]
    # Inside a loop, jitted and eager (both one program over the replicas).
    loop = lambda x: lax.fori_loop(0, 3, lambda i, c: f(w, c) / 4, x)  # noqa: E731
    put("loop_jit", lamina.jit(loop)(x)), put("loop_eager", loop(x))
    put("scan_eager", lax.scan(lambda c, _: (f(w, c) / 4, None), x, None, length=2)[0])
    put("scan_jit_grad", lamina.jit(lamina.grad(lambda x: lnp.sum(lax.scan(
        lambda c, _: (f(w, c) / 4, None), x, None, length=2)[0])))(x))
    # An output returned once (out_axes=None) under grad: every process's same loss.
    once = lamina.pmap(lambda x: lax.psum(lnp.sum(x ** 2), "i"), axis_name="i", out_axes=None)
    put("once_value", once(x)), put("once_grad", lamina.grad(lambda x: once(x) * 3.0)(x))

    # The usual data-parallel step: grad inside the pmap, gradients averaged.
    def step(w, x):
        g = lamina.grad(lambda w, x: lnp.sum(lnp.tanh(w * x)))(w, x)
        return w - 0.1 * lax.pmean(g, "i")
    put("dp_step", lamina.pmap(step, axis_name="i", in_axes=(None, 0))(w, x))
    put("dp_step_jit", lamina.jit(lamina.pmap(step, axis_name="i", in_axes=(None, 0)))(w, x))

    # vmap inside the pmap, and vmap of the pmapped function (batch axis 1 of x3).
    x3 = np.stack([x, 2 * x, -x], axis=1)  # (slices, 3, 3)
    inner = lamina.pmap(lamina.vmap(lambda a: lax.psum(a, "i") * a), axis_name="i")
    put("vmap_inside", inner(x3))
    outer = lamina.vmap(lamina.pmap(lambda a: lax.psum(a, "i") - a, axis_name="i"),
                        in_axes=1, out_axes=1)
    put("vmap_outside", outer(x3))
    put("vmap_grad", lamina.vmap(lamina.grad(loss), in_axes=(0, None))(np.stack([w, -w]), x))

    # static_broadcasted_argnums (a new value retraces) and donate_argnums.
    scaled = lamina.pmap(lambda x, k: lax.psum(x, "i") * k, axis_name="i",
                         static_broadcasted_argnums=1)
    put("static_3", scaled(x, 3.0)), put("static_4", scaled(x, 4.0))
    put("static_grad", lamina.grad(lambda x: lnp.sum(scaled(x, 2.0) ** 2))(x))
    double = lamina.pmap(lambda x: x * 2 + lax.psum(x, "i"), axis_name="i", donate_argnums=0)
    placed = lamina.pmap(lambda x: x, axis_name="i")(x)
    result = double(placed)
    put("donated", result)
    out["donated_deleted"] = placed.is_deleted()
    put("donated_again", double(result))
    report(stage="transforms", **out)
    if multi:
        dist.shutdown()


def mismatch() -> None:
    """Process 1 calls with other shapes: both processes must get a clear error at once
    (eager pmap, grad of it, jit of it), and the run must go on afterwards."""
    import lamina
    import lamina.numpy as lnp
    from lamina import distributed as dist
    from lamina import lax

    dist.initialize(initialization_timeout=30, heartbeat_timeout_seconds=30,
                    shutdown_timeout_seconds=20)
    me = lamina.process_index()
    f = lamina.pmap(lambda x: lax.psum(x, "i"), axis_name="i")
    good = local_data(me, 2)
    bad = good if me == 0 else np.ones((2, 4), np.float32)
    for name, call in [("eager", lambda: f(bad)),
                       ("grad", lambda: lamina.grad(lambda x: lnp.sum(f(x)))(bad)),
                       ("jit", lambda: lamina.jit(f)(bad)),
                       ("slices", lambda: f(good[:1] if me else good))]:
        start = time.monotonic()
        try:
            call()
            report(stage=name, error=None)
        except Exception as e:  # reported: the test checks the type and the message
            report(stage=name, error=f"{type(e).__name__}: {e}", seconds=time.monotonic() - start)
    report(stage="after", total=np.asarray(f(good)).tolist())
    # Without collectives each process runs its part alone: other shapes are fine, and
    # so is a call only process 0 makes.
    double = lamina.pmap(lambda x: x * 2, axis_name="i")
    report(stage="alone", shape=list(double(bad).shape),
           value=np.asarray(double(good) if me == 0 else good * 2).tolist())
    # A process that never makes the call: the other's TimeoutError, bounded by
    # LAMINA_CROSS_PROCESS_TIMEOUT (set to 3 s by the test).
    if me == 0:
        start = time.monotonic()
        try:
            f(good)
            report(stage="absent", error=None)
        except Exception as e:
            report(stage="absent", error=f"{type(e).__name__}: {e}",
                   seconds=time.monotonic() - start)
    dist.barrier("done", timeout=20)
    # NOTE: no shutdown: process 0's unanswered call left the processes' call counts
    # apart; exiting is enough.
    os._exit(0)


def dead_transformed(victim: int) -> None:
    """The victim dies while the survivor runs jit(pmap) and grad(pmap) across processes:
    the survivor must fail in bounded time."""
    import lamina
    import lamina.numpy as lnp
    from lamina import distributed as dist
    from lamina import lax

    dist.initialize(initialization_timeout=30, heartbeat_timeout_seconds=3,
                    shutdown_timeout_seconds=20)
    me = lamina.process_index()
    x = local_data(me, 2)
    f = lamina.pmap(lambda x: lax.psum(x, "i"), axis_name="i")
    jf, gf = lamina.jit(f), lamina.grad(lambda x: lnp.sum(f(x)))
    jf(x), gf(x)
    if me == victim:
        dist.key_value_get("test/waiting", timeout=20)
        os._exit(7)
    report(stage="waiting")
    dist.key_value_set("test/waiting", "1")
    for _ in range(100000):
        jf(x), gf(x)
    report(stage="survived")  # must not happen


def main(scenario: str) -> None:
    import lamina
    import lamina.numpy as lnp
    from lamina import distributed as dist

    if scenario == "transforms":
        return transforms()
    if scenario == "mismatch":
        return mismatch()
    if scenario.startswith("deadjit"):
        return dead_transformed(int(scenario[-1]))
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
