"""Checkpoints: exact resume, orbax kept lazy (jax out of sys.modules), SIGTERM, SIGKILL."""
import os
import re
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np

from lamina import optim
from lamina.training import Trainer, get_model, load_dataset
from lamina.training.checkpoint import Checkpointer

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _trainer(out, steps, **kw):
    ds = load_dataset("synthetic", n=128, dim=6, classes=3, seed=0)
    model = get_model("mlp", num_outputs=3, hidden=(8,))
    tx = optim.inject_hyperparams(optim.adam)(learning_rate=1e-2)
    return Trainer(model, tx, ds, steps=steps, batch_size=24, output_dir=str(out),
                   progress="none", ema_decay=0.5, log_every=5, **kw)


def _assert_bit_identical(a, b):
    import lamina.tree_util as tu
    la, lb = tu.tree_leaves(a), tu.tree_leaves(b)
    assert len(la) == len(lb)
    for x, y in zip(la, lb):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def test_exact_resume(tmp_path):
    full = _trainer(tmp_path / "full", 20).fit()
    first = _trainer(tmp_path / "cut", 10).fit()           # checkpoint at step 10
    assert first.step == 10
    resumed = _trainer(tmp_path / "cut", 20).fit()          # resume: auto
    assert resumed.step == 20
    _assert_bit_identical(full.params, resumed.params)
    _assert_bit_identical(full.ema_params, resumed.ema_params)
    ck = Checkpointer(str(tmp_path / "cut" / "checkpoints"))
    assert ck.all_steps() == [10, 20]
    state, meta = ck.restore(20, _trainer(tmp_path / "x", 1).init_state())
    ck.close()
    assert int(state["step"]) == 20 and meta["data"]["position"] >= 0
    _assert_bit_identical(state["params"], full.params)


SCRIPT = textwrap.dedent("""
    import sys, os
    # NOTE: tensorboardX imports torch when installed (only to accept torch tensors):
    # seconds per launch, which the kill loop below pays 10 times.
    sys.modules["torch"] = None
    sys.path.insert(0, {root!r})
    from lamina import optim
    from lamina.training import Trainer, get_model, load_dataset
    ds = load_dataset("synthetic", n=128, dim=6, classes=3, seed=0)
    t = Trainer(get_model("mlp", num_outputs=3, hidden=(8,)),
                optim.inject_hyperparams(optim.adam)(learning_rate=1e-2), ds,
                steps=int(sys.argv[2]), batch_size=24, output_dir=sys.argv[1],
                progress="lines", log_every=1, checkpoint_every=int(sys.argv[3]),
                ema_decay=0.5)
    r = t.fit()
    print("DONE", r.step, r.preempted, "jax" in sys.modules,
          os.environ.get("JAX_PLATFORMS"), flush=True)
""")


def _spawn(tmp_path, out, steps, every):
    script = tmp_path / "run.py"
    script.write_text(SCRIPT.format(root=ROOT))
    return subprocess.Popen([sys.executable, str(script), str(out), str(steps), str(every)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for_step(proc, n, timeout=60):
    deadline = time.time() + timeout
    for line in proc.stderr:
        if line.startswith(f"step {n}/") or time.time() > deadline:
            return


def test_sigterm_saves_and_resume_matches(tmp_path):
    full = _trainer(tmp_path / "full", 300).fit()
    out = tmp_path / "pre"
    proc = _spawn(tmp_path, out, 300, 1000)
    _wait_for_step(proc, 5)
    proc.send_signal(signal.SIGTERM)
    stdout, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0
    done = stdout.split()
    assert done[0] == "DONE" and done[2] == "True" and int(done[1]) < 300
    steps = Checkpointer(str(out / "checkpoints")).all_steps()
    assert steps == [int(done[1])]
    resumed = _trainer(out, 300).fit()
    _assert_bit_identical(full.params, resumed.params)


def test_sigkill_during_saves_never_corrupts(tmp_path):
    out = tmp_path / "kill"
    proc = _spawn(tmp_path, out, 10_000, 1)                  # a save after every step
    _wait_for_step(proc, 8)
    time.sleep(0.05)
    proc.kill()
    proc.communicate(timeout=30)
    ck = Checkpointer(str(out / "checkpoints"), keep=3)
    step = ck.latest_step()
    assert step is not None and step >= 1
    state, meta = ck.restore(step, _trainer(tmp_path / "x", 1).init_state())
    ck.close()
    assert int(state["step"]) == step == meta["step"]
    # resuming from the killed run reaches the same parameters as a clean run
    full = _trainer(tmp_path / "full", step + 3).fit()
    resumed = _trainer(out, step + 3).fit()
    _assert_bit_identical(full.params, resumed.params)


def test_jax_stays_out_until_a_checkpoint(tmp_path):
    code = textwrap.dedent(f"""
        import sys, os
        os.environ.pop("JAX_PLATFORMS", None)
        sys.path.insert(0, {ROOT!r})
        from lamina import optim
        from lamina.training import fit, get_model, load_dataset
        ds = load_dataset("synthetic", n=64, dim=4, classes=2)
        m = get_model("mlp", num_outputs=2, hidden=(4,))
        fit(m, optim.sgd(0.1), ds, steps=2, batch_size=16, progress="none")
        before = "jax" in sys.modules
        fit(m, optim.sgd(0.1), ds, steps=2, batch_size=16, progress="none",
            output_dir={str(tmp_path / "r")!r})
        print(before, "jax" in sys.modules, os.environ.get("JAX_PLATFORMS"))
    """)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       timeout=120)
    assert r.stdout.split() == ["False", "True", "cpu"], r.stderr[-2000:]


def test_keep_latest_plus_best(tmp_path):
    from lamina.training.logging import read_jsonl
    out = tmp_path / "best"
    r = _trainer(out, 20, keep=1, keep_best="eval/loss", checkpoint_every=5).fit()
    assert r.step == 20
    evals = {row["step"]: row["eval/loss"] for row in read_jsonl(str(out))
             if "eval/loss" in row}
    assert sorted(evals) == [5, 10, 15, 20]          # every checkpoint was ranked
    best = min(evals, key=lambda s: (evals[s], s))
    ck = Checkpointer(str(out / "checkpoints"), keep=1, best_metric="eval/loss",
                      best_mode="min")
    assert ck.all_steps() == sorted({best, 20}) and ck.best_step() == best
    ck.close()


# A fork server: imports lamina, orbax (jax) and tensorboardX once, then forks one training
# process per request line "OUT STEPS EVERY LOG" and answers its pid; the child writes
# its progress lines to LOG. A fork skips the ~5-7 s of imports per launch, so the kill
# loop can afford 10 kills; each child is still a separate process killed by SIGKILL.
ZYGOTE = textwrap.dedent("""
    import os, signal, sys
    sys.modules["torch"] = None
    os.environ["JAX_PLATFORMS"] = "cpu"
    sys.path.insert(0, {root!r})
    import orbax.checkpoint, tensorboardX  # noqa: F401
    from lamina import optim
    from lamina.training import Trainer, get_model, load_dataset
    import lamina.backend.client
    assert not lamina.backend.client.backend_started()   # nothing to break by forking
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)        # children are reaped for us
    print("READY", flush=True)
    for line in sys.stdin:
        out, steps, every, log = line.split()
        pid = os.fork()
        if pid == 0:
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            sys.stderr = open(log, "w", buffering=1)
            ds = load_dataset("synthetic", n=128, dim=6, classes=3, seed=0)
            t = Trainer(get_model("mlp", num_outputs=3, hidden=(8,)),
                        optim.inject_hyperparams(optim.adam)(learning_rate=1e-2), ds,
                        steps=int(steps), batch_size=24, output_dir=out, progress="lines",
                        log_every=1, checkpoint_every=int(every), ema_decay=0.5)
            t.fit()
            os._exit(0)
        print(pid, flush=True)
""")


def _alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False


def test_repeated_sigkill_then_resume_is_bit_identical(tmp_path):
    """Killed 10 times at random points (a save after every step, so mostly mid-save;
    also mid-step or at start-up), each relaunch resuming the last complete checkpoint;
    the final parameters equal an uninterrupted run's."""
    import random
    rnd = random.Random(1234)
    out, steps = tmp_path / "killed", 60
    progress, mid_save, template = [], 0, _trainer(tmp_path / "x", 1).init_state()
    script = tmp_path / "zygote.py"
    script.write_text(ZYGOTE.format(root=ROOT))
    zygote = subprocess.Popen([sys.executable, str(script)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert zygote.stdout.readline().strip() == "READY"
        for kill in range(10):
            log = tmp_path / f"run{kill}.log"
            zygote.stdin.write(f"{out} {steps} 1 {log}\n")
            zygote.stdin.flush()
            pid = int(zygote.stdout.readline())
            want, deadline = rnd.randint(1, 5), time.time() + 60
            while time.time() < deadline and _alive(pid) and (
                    not log.exists() or log.read_text().count("\nstep ") +
                    log.read_text().startswith("step ") < want):
                time.sleep(0.01)
            assert _alive(pid), f"run {kill} ended before its kill:\n{log.read_text()}"
            time.sleep(rnd.uniform(0.0, 0.05))
            os.kill(pid, signal.SIGKILL)
            while _alive(pid):
                time.sleep(0.01)
            ckpt_dir = out / "checkpoints"
            # an orbax temporary directory left behind: the kill interrupted a save
            mid_save += any(".orbax-checkpoint-tmp" in p.name for p in ckpt_dir.iterdir())
            ck = Checkpointer(str(ckpt_dir), keep=3)
            step = ck.latest_step() or 0
            if step:   # the latest complete checkpoint restores whole
                state, meta = ck.restore(step, template)
                assert int(state["step"]) == meta["step"] == step
            ck.close()
            assert step < steps
            progress.append(step)
    finally:
        zygote.kill()
        zygote.communicate(timeout=30)
    assert progress == sorted(progress) and progress[-1] > 0
    assert mid_save >= 1, "no kill landed during a checkpoint save"
    print(f"checkpoint steps after each kill: {progress}; {mid_save} kills mid-save")
    resumed = _trainer(out, steps).fit()
    full = _trainer(tmp_path / "full", steps).fit()
    assert resumed.step == full.step == steps
    _assert_bit_identical(full.params, resumed.params)
    _assert_bit_identical(full.ema_params, resumed.ema_params)


def _fail_json_saves(monkeypatch, after):
    """Make orbax's JSON item writes (they run in a background thread of the async save)
    fail from the ``after``-th one on; returns the list of attempted directories."""
    from lamina.training.checkpoint import import_orbax
    handler = import_orbax().JsonCheckpointHandler
    orig, calls = handler._save_fn, []

    async def save_fn(self, x, directory):
        calls.append(str(directory))
        if len(calls) > after:
            raise OSError(28, "No space left on device (injected)")
        return await orig(self, x, directory)

    monkeypatch.setattr(handler, "_save_fn", save_fn)
    return calls


def test_async_save_failure_is_raised_with_step_and_directory(tmp_path, monkeypatch):
    import pytest
    from lamina.training.checkpoint import CheckpointError
    state = {"w": np.arange(3.0)}
    calls = _fail_json_saves(monkeypatch, after=1)
    ck = Checkpointer(str(tmp_path / "ck"), keep=3)
    ck.save(1, state, {})
    ck.save(2, state, {})            # returns: the write fails in the background
    assert len(calls) >= 1
    where = str(tmp_path / "ck")
    with pytest.raises(CheckpointError, match=rf"saving checkpoint step 2 to {re.escape(where)}"
                                              rf" failed: OSError: .*injected"):
        ck.wait()
    sync = Checkpointer(str(tmp_path / "sync"), async_save=False)
    with pytest.raises(CheckpointError, match=r"saving checkpoint step 5 to .*sync failed"):
        sync.save(5, state, {})      # a synchronous save raises at once
    sync.close()
    monkeypatch.undo()
    ck.save(3, state, {})            # raised once (as orbax does): saving goes on
    ck.close()
    ck = Checkpointer(where)
    assert ck.all_steps() == [1, 3]  # the failed step is never listed (nor restored)
    ck.close()


def test_fit_surfaces_a_failed_async_save(tmp_path, monkeypatch):
    import pytest
    from lamina.training.checkpoint import CheckpointError
    _fail_json_saves(monkeypatch, after=1)
    out = tmp_path / "run"
    where = re.escape(str(out / "checkpoints"))
    with pytest.raises(CheckpointError, match=rf"saving checkpoint step 4 to {where} failed: "
                                              rf".*injected"):
        _trainer(out, 8, checkpoint_every=2).fit()
    monkeypatch.undo()
    ck = Checkpointer(str(out / "checkpoints"))
    assert ck.all_steps() == [2]
    ck.close()
    resumed = _trainer(out, 8, checkpoint_every=2).fit()     # continues from step 2
    full = _trainer(tmp_path / "full", 8).fit()
    _assert_bit_identical(full.params, resumed.params)


def test_close_waits_for_the_removal_of_unfinished_steps(tmp_path):
    # A writer removes unfinished `*-tmp` step directories in a background thread when it
    # opens; close() must wait for that, or the next writer races it over the same paths.
    where = str(tmp_path / "ck")
    ck = Checkpointer(where)
    ck.save(1, {"w": np.arange(3.0)}, {})
    ck.close()
    stale = os.path.join(where, "4.orbax-checkpoint-tmp")
    for d in range(40):
        os.makedirs(os.path.join(stale, f"d{d}"))
        for f in range(50):
            open(os.path.join(stale, f"d{d}", f"f{f}"), "w").close()
    ck = Checkpointer(where)
    assert ck.all_steps() == [1]
    ck.close()
    assert not os.path.exists(stale)
