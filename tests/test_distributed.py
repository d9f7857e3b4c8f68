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


def _run_two(scenario: str, timeout: float) -> list[tuple[int | None, str, str, float]]:
    """Run the worker as processes 0 and 1; returns (rc, stdout, stderr, seconds) each.
    Whatever is still running after `timeout` is killed (rc None)."""
    env = dict(os.environ, LAMINA_NUM_CPU_DEVICES="2", LAMINA_NUM_PROCESSES="2",
               LAMINA_COORDINATOR_ADDRESS=f"127.0.0.1:{_free_port()}", XLA_FLAGS=XLA_FLAGS,
               TF_CPP_MIN_LOG_LEVEL="2")
    for name in ("LAMINA_PROCESS_ID", "JAX_COORDINATOR_ADDRESS", "SLURM_JOB_ID"):
        env.pop(name, None)
    start = time.monotonic()
    procs = []
    try:
        for rank in range(2):
            procs.append(subprocess.Popen(
                [sys.executable, WORKER, scenario], env=dict(env, LAMINA_PROCESS_ID=str(rank)),
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
