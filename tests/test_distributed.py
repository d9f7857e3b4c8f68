"""lamina.distributed: 2 processes x 2 CPU devices on 127.0.0.1 (spawned here, bounded in
time), plus the single-process behaviour and argument checks in this process."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

import lamina
from lamina import distributed as dist

WORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_distributed_worker.py")
# NOTE: the XLA collective timeouts make a rendezvous regression fail in seconds.
XLA_FLAGS = ("--xla_cpu_collective_call_warn_stuck_timeout_seconds=2 "
             "--xla_cpu_collective_call_terminate_timeout_seconds=4 "
             "--xla_cpu_collective_timeout_seconds=4")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run_two(scenario: str, timeout: float, single: bool = False, **extra_env: str
             ) -> list[tuple[int | None, str, str, float]]:
    """Run the worker as processes 0 and 1; returns (rc, stdout, stderr, seconds) each.
    Whatever is still running after `timeout` is killed (rc None). With `single`, a
    third entry: the same scenario as one process with 4 devices (started alongside)."""
    env = dict(os.environ, LAMINA_NUM_CPU_DEVICES="2", LAMINA_NUM_PROCESSES="2",
               LAMINA_COORDINATOR_ADDRESS=f"127.0.0.1:{_free_port()}", XLA_FLAGS=XLA_FLAGS,
               TF_CPP_MIN_LOG_LEVEL="2", **extra_env)
    for name in ("LAMINA_PROCESS_ID", "JAX_COORDINATOR_ADDRESS", "SLURM_JOB_ID"):
        env.pop(name, None)
    envs = [dict(env, LAMINA_PROCESS_ID=str(rank)) for rank in range(2)]
    if single:
        envs.append({k: v for k, v in env.items() if k not in ("LAMINA_NUM_PROCESSES",
                                                                "LAMINA_COORDINATOR_ADDRESS")})
        envs[-1]["LAMINA_NUM_CPU_DEVICES"] = "4"
    start = time.monotonic()
    procs = []
    try:
        for e in envs:
            procs.append(subprocess.Popen(
                [sys.executable, WORKER, scenario], env=e,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                start_new_session=True))
        results = []
        for p in procs:
            left = max(0.1, timeout - (time.monotonic() - start))
            try:
                out, err = p.communicate(timeout=left)
                results.append((p.returncode, out, err, time.monotonic() - start))
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                out, err = p.communicate()
                results.append((None, out, err, time.monotonic() - start))
        return results
    finally:
        for p in procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()


def _stages(stdout: str) -> dict[str, dict]:
    rows = [json.loads(line[7:]) for line in stdout.splitlines() if line.startswith("RESULT ")]
    return {r.pop("stage"): r for r in rows}


def test_two_processes():
    results = _run_two("main", timeout=60)
    for rank, (rc, out, err, _) in enumerate(results):
        assert rc == 0, f"process {rank} failed (rc={rc}):\n{out}\n{err[-4000:]}"
    for rank, (_, out, _, _) in enumerate(results):
        s = _stages(out)
        init = s["init"]
        assert init["process_index"] == rank and init["process_count"] == 2
        assert init["device_count"] == 4 and init["local_count"] == 2
        ids = [i for i, _ in init["devices"]]
        assert [p for _, p in init["devices"]] == [0, 0, 1, 1]
        assert init["local"] == ids[2 * rank:2 * rank + 2]
        assert init["other_local"] == ids[2 * (1 - rank):2 * (1 - rank) + 2]
        assert ids[2] != 2, "global device ids come from the runtime (not 0..N-1)"
        assert "only be called once" in s["reinit"]["error"]
        # psum over the 4 devices: rows [0..5] + 10*process.
        assert s["pmap"]["shape"] == [2, 3]
        assert s["pmap"]["total"] == [[26.0, 30.0, 34.0]] * 2
        assert s["pmap"]["index"] == [2 * rank, 2 * rank + 1]
        assert s["chain"]["w"] == [[1 - 1.5 * t for t in (26.0, 30.0, 34.0)]] * 2
        g = s["global"]
        assert g["shape"] == [4, 3] and not g["addressable"] and not g["readable"]
        base = 10 * rank
        assert [v for _, v in g["shards"]] == [[base + 0.0, base + 1.0, base + 2.0],
                                               [base + 3.0, base + 4.0, base + 5.0]]
        assert [d for d, _ in g["shards"]] == init["local"]
        named = s["named"]
        assert named["shape"] == [4, 3]
        assert named["shards"] == [[d, [row]] for d, row in g["shards"]]
        # A sharded jit over the 4 devices of both processes (rows summed across them).
        assert s["jit"] == {"value": [26.0, 30.0, 34.0]}, s["jit"]
        kv = s["kv"]
        assert kv["got"] == f"from {1 - rank}" and kv["missing"] is None
        assert kv["entries"] == ["test/value0", "test/value1"]
        assert "key_value_get" in kv["timed_out"] and "test/never-set" in kv["timed_out"]
        assert s["shutdown"] == {"initialized": False}


@pytest.mark.parametrize("scenario,victim", [("dead1", 1), ("dead0", 0)])
def test_dead_peer_fails_survivor_fast(scenario, victim):
    # dead1: process 1 dies while process 0 (the coordinator) waits at a barrier.
    # dead0: the coordinator dies while process 1 runs cross-process pmaps.
    results = _run_two(scenario, timeout=45)
    survivor = 1 - victim
    rc, out, err, seconds = results[survivor]
    assert results[victim][0] == 7, results[victim][2][-3000:]
    assert "waiting" in _stages(out), f"{out}\n{err[-4000:]}"
    assert rc is not None, f"the survivor hung (killed after 45 s):\n{out}\n{err[-4000:]}"
    assert rc != 0 and "survived" not in _stages(out)
    assert seconds < 40
    assert ("another task died" in err or "did another process" in err
            or "heartbeat" in err), err[-4000:]


# Outputs of the "transforms" scenario split over the devices (each process reports its
# rows; the single process all of them), and those every process computes whole.
_ROWS = ["vg_gx", "grad_gx", "jit_pmap", "jit_around", "jit_around_again", "jit_pmap_jit",
         "once_grad", "dp_step", "dp_step_jit", "vmap_inside", "vmap_outside", "static_3",
         "static_4", "static_grad", "donated", "donated_again", "loop_jit", "scan_jit_grad", "rev",
         "rev_jit", "loop_eager", "scan_eager"]
_WHOLE = ["vg_gw", "jit_vg_gw", "grad_jit_gw", "once_value", "vmap_grad"]


def test_cross_process_pmap_under_transformations():
    """grad / value_and_grad / jit / vmap / static and donated arguments of a pmap over
    2 processes x 2 devices give the single-process (1 x 4 devices) values, and those
    match jax's on the same global computation."""
    import numpy as np
    results = _run_two("transforms", timeout=60, single=True)
    for rank, (rc, out, err, _) in enumerate(results):
        assert rc == 0, f"run {rank} failed (rc={rc}):\n{out}\n{err[-4000:]}"
    p0, p1, one = [_stages(out)["transforms"] for _, out, _, _ in results]
    assert set(p0) == set(_ROWS + _WHOLE + ["vg_value", "jit_vg_value", "donated_deleted",
                                            "rev_index", "rev_jit_index"])
    # devices=lamina.devices()[::-1]: process 1's devices are axis indices 0 and 1.
    assert p0["rev_index"] == p0["rev_jit_index"] == [2, 3]
    assert p1["rev_index"] == p1["rev_jit_index"] == [0, 1]
    assert one["rev_index"] == one["rev_jit_index"] == [0, 1, 2, 3]
    for key in _ROWS:
        np.testing.assert_allclose(np.concatenate([p0[key], p1[key]]), one[key], rtol=2e-5,
                                   atol=1e-5, err_msg=key)
    for key in _WHOLE:
        for got in (p0[key], p1[key]):
            np.testing.assert_allclose(got, one[key], rtol=2e-5, atol=1e-5, err_msg=key)
    for key in ("vg_value", "jit_vg_value"):  # each process's loss is over its rows
        np.testing.assert_allclose(p0[key] + p1[key], one[key], rtol=2e-5, err_msg=key)
    assert p0["donated_deleted"] and p1["donated_deleted"] and one["donated_deleted"]

    # jax on the same global computation (psum over the pmap axis = a sum over rows).
    import jax
    import jax.numpy as jnp
    sys.path.insert(0, os.path.dirname(WORKER))
    from _distributed_worker import local_data
    x = jnp.asarray(local_data(0, 1))
    w = jnp.asarray([0.5, -1.0, 2.0], jnp.float32)

    def loss(w, x):
        return jnp.sum((jnp.sum(jnp.sin(w * x), axis=0) * x) ** 2)

    value, (gw, gx) = jax.value_and_grad(loss, argnums=(0, 1))(w, x)
    np.testing.assert_allclose(one["vg_value"], value, rtol=2e-5)
    np.testing.assert_allclose(p0["vg_gw"], gw, rtol=2e-5)
    np.testing.assert_allclose(np.concatenate([p0["vg_gx"], p1["vg_gx"]]), gx, rtol=2e-5,
                               atol=1e-5)
    g = jax.vmap(jax.grad(lambda w, x: jnp.sum(jnp.tanh(w * x))), in_axes=(None, 0))(w, x)
    np.testing.assert_allclose(p1["dp_step"], np.broadcast_to(w - 0.1 * g.mean(0), (2, 3)),
                               rtol=2e-5)


def test_cross_process_mismatch_is_an_error_on_every_process():
    """Process 1 passes other shapes (eager pmap, grad of it, jit of it): both processes
    raise at once, naming both shapes, and the run goes on; a process that never makes
    the call is a TimeoutError for the other after LAMINA_CROSS_PROCESS_TIMEOUT. A pmap
    without collectives needs no agreement (each process runs its part alone)."""
    import numpy as np
    results = _run_two("mismatch", timeout=45, LAMINA_CROSS_PROCESS_TIMEOUT="3")
    for rank, (rc, out, err, _) in enumerate(results):
        assert rc == 0, f"process {rank} failed (rc={rc}):\n{out}\n{err[-4000:]}"
        s = _stages(out)
        for stage, what, shapes in [("eager", "pmap(<lambda>)", ("f32[3]", "f32[4]")),
                                    ("grad", "pmap(jvp(<lambda>))", ("f32[3]", "f32[4]")),
                                    ("jit", "jit(<lambda>)", ("f32[2,3]", "f32[2,4]"))]:
            error = s[stage]["error"]
            assert error and error.startswith(f"ValueError: {what}: the processes disagree"), error
            assert all(f"{sh} [mapped]" in error or f"({sh})" in error for sh in shapes), error
            assert f"process {1 - rank} runs" in error
            assert s[stage]["seconds"] < 5
        # One slice on process 1: a pmap over the first device of each process.
        error = s["slices"]["error"]
        assert error.startswith("ValueError: pmap(<lambda>): the processes disagree"), error
        assert "over 2 devices" in error and "over 4 devices" in error
        # psum over the 4 devices of rows [0..5] / 10 + process.
        assert np.allclose(s["after"]["total"], [[2.6, 3.0, 3.4]] * 2)
        assert s["alone"]["shape"] == [2, 3 + rank]
        np.testing.assert_allclose(s["alone"]["value"], 2 * (np.arange(6).reshape(2, 3) / 10
                                                             + rank), rtol=1e-6)
    absent = _stages(results[0][1])["absent"]
    assert absent["error"].startswith("TimeoutError: pmap(<lambda>): process(es) [1]"), absent
    assert 2.5 < absent["seconds"] < 10


@pytest.mark.parametrize("scenario,victim", [("deadjit1", 1), ("deadjit0", 0)])
def test_dead_peer_under_jit_and_grad_fails_survivor_fast(scenario, victim):
    # The survivor runs jit(pmap) and grad(pmap) across processes in a loop.
    results = _run_two(scenario, timeout=45)
    rc, out, err, seconds = results[1 - victim]
    assert results[victim][0] == 7, results[victim][2][-3000:]
    assert "waiting" in _stages(out), f"{out}\n{err[-4000:]}"
    assert rc is not None, f"the survivor hung (killed after 45 s):\n{out}\n{err[-4000:]}"
    assert rc != 0 and "survived" not in _stages(out)
    assert seconds < 40
    assert ("another task died" in err or "did another process" in err
            or "heartbeat" in err), err[-4000:]


# -- in this process --------------------------------------------------------------------


def test_initialize_after_backend_started_raises():
    lamina.devices()  # starts the backend
    with pytest.raises(RuntimeError, match="must be called before"):
        dist.initialize("127.0.0.1:1", num_processes=2, process_id=1)
    assert not dist.is_initialized()


@pytest.mark.parametrize("kwargs,match", [
    (dict(num_processes=2, process_id=0), "coordinator_address is not set"),
    (dict(coordinator_address="127.0.0.1:1", process_id=0), "num_processes is not set"),
    (dict(coordinator_address="127.0.0.1:1", num_processes=2), "process_id is not set"),
    (dict(coordinator_address="127.0.0.1:1", num_processes=2, process_id=2), "process_id"),
    (dict(coordinator_address="127.0.0.1:1", num_processes=0, process_id=0), "num_processes"),
    (dict(coordinator_address="no-port", num_processes=2, process_id=0), "host:port"),
    (dict(coordinator_address="127.0.0.1:1", num_processes=2, process_id=0,
          heartbeat_timeout_seconds=0), "heartbeat_timeout_seconds"),
    (dict(coordinator_address="127.0.0.1:1", num_processes=2, process_id=0,
          cluster_detection_method="mpi"), "cluster_detection_method"),
])
def test_initialize_bad_arguments(monkeypatch, kwargs, match):
    for name in list(os.environ):
        if name.startswith(("LAMINA_COORDINATOR", "LAMINA_NUM_PROCESSES", "LAMINA_PROCESS_ID",
                            "JAX_COORDINATOR", "SLURM_")):
            monkeypatch.delenv(name)
    with pytest.raises(ValueError, match=match):
        dist.initialize(**kwargs)
    assert not dist.is_initialized()


def test_environment_detection(monkeypatch):
    for name in list(os.environ):
        if name.startswith(("LAMINA_", "JAX_", "SLURM_")) and "CPU" not in name:
            monkeypatch.delenv(name, raising=False)
    assert dist._detect(None, None, None, None, None) == (None, None, None, None)
    monkeypatch.setenv("JAX_COORDINATOR_ADDRESS", "h:1")
    monkeypatch.setenv("LAMINA_NUM_PROCESSES", "4")
    monkeypatch.setenv("LAMINA_PROCESS_ID", "3")
    monkeypatch.setenv("JAX_LOCAL_DEVICE_IDS", "0,1")
    assert dist._detect(None, None, None, None, None) == ("h:1", 4, 3, [0, 1])
    monkeypatch.setenv("LAMINA_COORDINATOR_ADDRESS", "l:2")
    assert dist._detect(None, None, None, None, None)[0] == "l:2"
    assert dist._detect("a:3", 2, 1, [5], None) == ("a:3", 2, 1, [5])
    monkeypatch.setenv("LAMINA_PROCESS_ID", "x")
    with pytest.raises(ValueError, match="LAMINA_PROCESS_ID"):
        dist._detect(None, None, None, None, None)
    for name in ("LAMINA_COORDINATOR_ADDRESS", "JAX_COORDINATOR_ADDRESS", "LAMINA_NUM_PROCESSES",
                 "LAMINA_PROCESS_ID"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("SLURM_JOB_ID", "5000")
    monkeypatch.setenv("SLURM_STEP_NODELIST", "node[007-009],login1")
    monkeypatch.setenv("SLURM_NTASKS", "3")
    monkeypatch.setenv("SLURM_PROCID", "2")
    assert dist._detect(None, None, None, None, None)[:3] == ("node007:62344", 3, 2)
    assert dist._detect(None, None, None, None, "deactivate")[:3] == (None, None, None)
    monkeypatch.setenv("LAMINA_COORDINATOR_PORT", "999")
    monkeypatch.setenv("SLURM_STEP_NODELIST", "gpu01,gpu02")
    assert dist._detect(None, None, None, None, "slurm")[0] == "gpu01:999"


def test_single_process_barrier_and_kv():
    assert lamina.process_index() == 0 and lamina.process_count() == 1
    assert lamina.local_devices(process_index=0) == lamina.local_devices()
    dist.barrier("single")  # returns at once
    dist.key_value_set("t/a", "1")
    dist.key_value_set("t/b", b"2")
    with pytest.raises(RuntimeError, match="already exists"):
        dist.key_value_set("t/a", "3")
    dist.key_value_set("t/a", "3", allow_overwrite=True)
    assert dist.key_value_get("t/a") == "3" and dist.key_value_get_bytes("t/b") == b"2"
    assert dist.key_value_dir_get("t") == [("t/a", "3"), ("t/b", "2")]
    assert dist.key_value_try_get("t/zzz") is None
    with pytest.raises(TimeoutError, match="never set"):
        dist.key_value_get("t/zzz", timeout=0.1)
    dist.key_value_delete("t")
    assert dist.key_value_dir_get("t") == []
    with pytest.raises(ValueError, match="timeout"):
        dist.barrier("x", timeout=0)
    with pytest.raises(TypeError, match="key"):
        dist.key_value_set(3, "x")
    dist.shutdown()  # nothing to shut down: no-op


def test_make_array_from_process_local_data_single_process():
    import numpy as np
    n = lamina.local_device_count()
    s = lamina.sharding.PmapSharding(lamina.local_devices())
    x = lamina.make_array_from_process_local_data(s, np.arange(n * 2.0).reshape(n, 2))
    assert x.shape == (n, 2) and x.is_fully_addressable
    np.testing.assert_array_equal(np.asarray(x), np.arange(n * 2.0).reshape(n, 2))
    with pytest.raises(ValueError, match="one entry per local device"):
        lamina.make_array_from_process_local_data(s, np.zeros((n + 1, 2)))
    with pytest.raises(TypeError, match="sharding"):
        lamina.make_array_from_process_local_data("x", np.zeros(2))
