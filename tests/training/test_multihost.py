"""Training on several devices and processes: resume across device counts (4 -> 1 and
1 -> 4), ``devices.strategy: mesh`` against pmap, and 2 processes x 2 CPU devices on
127.0.0.1 killed with SIGKILL and resumed.

The 4-device runs happen in one child process (LAMINA_NUM_CPU_DEVICES=4, see
_multihost_worker.py); this process has the default single CPU device.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from lamina import tree_util

HERE = os.path.dirname(os.path.abspath(__file__))
WORKER = os.path.join(HERE, "_multihost_worker.py")
sys.path.insert(0, HERE)
from _multihost_worker import small_trainer  # noqa: E402

# NOTE: the same all-reduce on a different number of devices sums in another order, so
# runs on different device counts agree to float32 rounding only (measured: <= 2.4e-7
# after 20 Adam steps); the same device count resumes bit-identically.
ACROSS_DEVICE_COUNTS_ATOL = 1e-5

CONFIG = textwrap.dedent("""
    run: {seed: 0}
    model: {name: mlp, args: {hidden: [8]}}
    data: {name: synthetic, args: {n: 128, dim: 6, classes: 3}}
    optim: {name: adam, learning_rate: 0.01}
    train: {steps: 16, batch_size: 24, log_every: 1, checkpoint_every: 2,
            progress: lines}
    devices: {count: 2}
""")


def _env(**extra):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", **extra)
    for name in ("LAMINA_PROCESS_ID", "LAMINA_NUM_PROCESSES", "LAMINA_COORDINATOR_ADDRESS",
                 "JAX_COORDINATOR_ADDRESS", "SLURM_JOB_ID"):
        if name not in extra:
            env.pop(name, None)
    return env


def _leaves(tree):
    return [np.asarray(v) for v in tree_util.tree_leaves(tree)]


def _npz(path):
    with np.load(path) as z:
        return [z[k] for k in sorted(z.files)]


def _by_path(tree):
    return [np.asarray(v) for _, v in sorted(
        (tree_util.keystr(p), v) for p, v in tree_util.tree_leaves_with_path(tree))]


def _max_diff(a, b):
    assert len(a) == len(b) and all(x.shape == y.shape for x, y in zip(a, b))
    return max(float(np.max(np.abs(x - y))) for x, y in zip(a, b))


@pytest.fixture(scope="module")
def four(tmp_path_factory):
    """Runs on 1 device here and on 4 devices in a child; checkpoints cross over."""
    out = tmp_path_factory.mktemp("four")
    cfg = out / "cfg.yaml"
    cfg.write_text(CONFIG)
    small_trainer(str(out / "saved1"), 10, 1).fit()           # resumed on 4 devices
    r = subprocess.run([sys.executable, WORKER, "four", str(out), str(cfg)],
                       env=_env(LAMINA_NUM_CPU_DEVICES="4"), capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0 and "FOUR DONE" in r.stdout, r.stderr[-5000:]
    full1 = small_trainer(None, 20, 1).fit()
    resumed = small_trainer(str(out / "saved4"), 20, 1).fit()  # saved on 4 devices
    return dict(out=out, full1=full1, resumed4to1=resumed)


def test_resume_across_device_counts(four):
    from lamina.training.checkpoint import Checkpointer
    out = four["out"]
    # the checkpoint of the 4-device run holds one unreplicated state
    ck = Checkpointer(str(out / "saved4" / "checkpoints"))
    template = small_trainer(None, 1).init_state()
    state, meta = ck.restore(10, template)
    ck.close()
    assert meta["data"] == {"epoch": 2, "position": 2, "batch_size": 24}   # 4 batches/epoch
    assert all(np.shape(a) == np.shape(b) for a, b in
               zip(tree_util.tree_leaves(state), tree_util.tree_leaves(template)))
    r = four["resumed4to1"]
    assert r.step == 20
    full1 = _by_path(four["full1"].params)
    pmap4 = _npz(out / "pmap4.npz")
    diffs = {"4->1 vs 1 device": _max_diff(_by_path(r.params), full1),
             "4->1 vs 4 devices": _max_diff(_by_path(r.params), pmap4),
             "1->4 vs 4 devices": _max_diff(_npz(out / "resumed1to4.npz"), pmap4),
             "1->4 vs 1 device": _max_diff(_npz(out / "resumed1to4.npz"), full1)}
    print("max |diff| across device counts:", diffs)
    assert max(diffs.values()) < ACROSS_DEVICE_COUNTS_ATOL, diffs


def test_mesh_strategy_matches_pmap(four):
    out = four["out"]
    diffs = {"mesh vs pmap": _max_diff(_npz(out / "mesh4.npz"), _npz(out / "pmap4.npz")),
             "mesh vs pmap, accumulation 2": _max_diff(_npz(out / "mesh4_accum.npz"),
                                                       _npz(out / "pmap4_accum.npz"))}
    print("max |diff| mesh vs pmap:", diffs)
    assert max(diffs.values()) < ACROSS_DEVICE_COUNTS_ATOL, diffs


# -- 2 processes x 2 CPU devices ------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Pair:
    """Processes 0 and 1 of one `lamina train` run, output to log files."""

    def __init__(self, cfg, run_dir, logs, tag):
        address = f"127.0.0.1:{_free_port()}"
        self.logs = [logs / f"{tag}.{rank}.log" for rank in range(2)]
        self.procs = []
        for rank in range(2):
            env = _env(LAMINA_NUM_CPU_DEVICES="2", LAMINA_NUM_PROCESSES="2",
                       LAMINA_PROCESS_ID=str(rank), LAMINA_COORDINATOR_ADDRESS=address)
            with open(self.logs[rank], "w") as f:
                self.procs.append(subprocess.Popen(
                    [sys.executable, WORKER, "train", str(cfg), f"run.output_dir={run_dir}"],
                    env=env, stdout=f, stderr=subprocess.STDOUT, start_new_session=True))

    def text(self, rank):
        return self.logs[rank].read_text()

    def wait_for(self, needle, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if needle in self.text(0):
                return True
            if any(p.poll() is not None for p in self.procs):
                return needle in self.text(0)
            time.sleep(0.05)
        return False

    def kill(self):
        for p in self.procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
            p.wait()

    def finish(self, timeout):
        deadline = time.monotonic() + timeout
        try:
            for p in self.procs:
                p.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
        finally:
            self.kill()
        return [p.returncode for p in self.procs]


def _final_state(run_dir, cfg, step):
    from lamina.training import config as C
    from lamina.training.checkpoint import Checkpointer
    from lamina.training.trainer import trainer_from_config
    template = trainer_from_config(C.load(cfg, ["devices.count=1",
                                                "devices.num_processes=1"])).init_state()
    ck = Checkpointer(os.path.join(run_dir, "checkpoints"))
    state, meta = ck.restore(step, template)
    ck.close()
    return state, meta


def test_two_processes_sigkill_and_resume(tmp_path, four):
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(CONFIG)
    logs = tmp_path / "logs"
    logs.mkdir()
    full, cut = tmp_path / "full", tmp_path / "cut"

    # uninterrupted
    pair = _Pair(cfg, full, logs, "full")
    rcs = pair.finish(timeout=150)
    assert rcs == [0, 0], pair.text(0)[-4000:] + pair.text(1)[-4000:]
    assert "step 16/16" in pair.text(0) and "step " not in pair.text(1)  # process 0 logs
    assert (full / "metrics.jsonl").exists() and (full / "config.yaml").exists()

    # killed (both processes, SIGKILL) after process 0 logged step 7 (checkpoints at 2, 4, 6)
    pair = _Pair(cfg, cut, logs, "cut")
    try:
        assert pair.wait_for("step 7/", timeout=150), pair.text(0)[-4000:]
    finally:
        pair.kill()
    from lamina.training.checkpoint import Checkpointer
    ck = Checkpointer(str(cut / "checkpoints"))
    killed_at = ck.latest_step()
    ck.close()
    assert killed_at is not None and 2 <= killed_at < 16

    # resumed on both processes; SIGTERM to process 1 alone stops both after the same
    # step (the stop flag is all-reduced with the step), process 0 saves it
    pair = _Pair(cfg, cut, logs, "resume")
    try:
        assert pair.wait_for(f"step {killed_at + 2}/", timeout=150), pair.text(0)[-4000:]
    except AssertionError:
        pair.kill()
        raise
    pair.procs[1].send_signal(signal.SIGTERM)
    rcs = pair.finish(timeout=150)
    assert rcs == [0, 0], pair.text(0)[-4000:] + pair.text(1)[-4000:]
    assert f"resumed from step {killed_at}" in pair.text(0)
    assert "received a stop request from another process: saved step" in pair.text(0)
    ck = Checkpointer(str(cut / "checkpoints"))
    stopped_at = ck.latest_step()
    ck.close()
    assert killed_at + 2 <= stopped_at < 16, pair.text(0)[-3000:]
    assert f"preempted at step {stopped_at}" in pair.text(1)

    # and resumed again to the end
    pair = _Pair(cfg, cut, logs, "resume2")
    rcs = pair.finish(timeout=150)
    assert rcs == [0, 0], pair.text(0)[-4000:] + pair.text(1)[-4000:]
    assert f"resumed from step {stopped_at}" in pair.text(0)

    a, meta_a = _final_state(full, cfg, 16)
    b, meta_b = _final_state(cut, cfg, 16)
    assert meta_a["data"] == meta_b["data"]
    for x, y in zip(_leaves(a), _leaves(b)):                 # bit-identical
        np.testing.assert_array_equal(x, y)
    # each process read its own slice: the same as one process with all 4 devices
    diff = _max_diff(_by_path(a["params"]), _npz(four["out"] / "cfg4.npz"))
    print("max |diff| 2 processes x 2 devices vs 1 process x 4 devices:", diff)
    assert diff < ACROSS_DEVICE_COUNTS_ATOL
