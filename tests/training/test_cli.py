"""The `lamina` command: train, eval, summary, plot, --help, SIGINT/SIGTERM preemption and
resume, user arrays from .npz/.npy, and bad configs (exit code 2, one line, nothing
written over an existing run)."""
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import yaml

from lamina import tree_util
from lamina.training import load_config, trainer_from_config
from lamina.training.checkpoint import Checkpointer
from lamina.training.cli import main

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _lamina(*args, cwd=None):
    env = dict(os.environ, PYTHONPATH=ROOT)
    return subprocess.run([sys.executable, "-m", "lamina.training", *map(str, args)],
                          capture_output=True, text=True, timeout=240, cwd=cwd, env=env)


def test_train_eval_summary_plot(tmp_path):
    cfg = os.path.join(ROOT, "configs", "mlp_digits.yaml")
    out = tmp_path / "run"
    r = _lamina("train", cfg, f"run.output_dir={out}", "train.steps=30",
                "train.log_every=10", "train.checkpoint_every=10")
    assert r.returncode == 0, r.stderr[-3000:]
    result = json.loads(r.stdout.strip().splitlines()[-1])
    assert result["step"] == 30 and "eval/accuracy" in result
    assert "step 10/30" in r.stderr            # plain log lines when not a terminal
    assert (out / "config.yaml").exists() and (out / "metrics.jsonl").exists()
    assert sorted(os.listdir(out / "checkpoints")) == ["20", "30"]   # keep: 2

    r = _lamina("eval", cfg, f"run.output_dir={out}", "--checkpoint", "20")
    assert r.returncode == 0, r.stderr[-3000:]
    assert json.loads(r.stdout)["step"] == 20

    r = _lamina("summary", cfg)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "MLPClassifier" in r.stdout and "kernel f32[64,10]" in r.stdout   # nn table
    assert "total: 17226 parameters" in r.stdout

    r = _lamina("plot", out)
    assert r.returncode == 0 and (out / "curves.png").read_bytes()[:4] == b"\x89PNG"


def test_bad_config_exits_2(tmp_path):
    """The process's own exit status (the table of bad configs below runs in-process)."""
    cfg = os.path.join(ROOT, "configs", "mlp_digits.yaml")
    out = tmp_path / "run"
    r = _lamina("train", cfg, f"run.output_dir={out}", "optim.nme=sgd")
    assert r.returncode == 2 and "did you mean 'name'" in r.stderr
    assert r.stderr.count("\n") == 1 and not out.exists()


@pytest.mark.parametrize("command", ["train", "eval", "summary", "plot"])
def test_help_of_every_command(command, capsys):
    with pytest.raises(SystemExit) as info:
        main([command, "--help"])
    assert info.value.code == 0
    text = capsys.readouterr().out
    assert text.startswith(f"usage: lamina {command}")
    if command == "eval":
        assert "--checkpoint" in text
    with open(os.path.join(ROOT, "pyproject.toml")) as f:     # the console script
        assert 'lamina = "lamina.training.cli:main"' in f.read()


SMALL = {"run": {"seed": 3},
         "model": {"name": "mlp", "args": {"hidden": [8]}},
         "data": {"name": "synthetic", "args": {"n": 128, "dim": 6, "classes": 3}},
         "optim": {"name": "adam", "learning_rate": 0.01, "ema_decay": 0.9},
         "train": {"steps": 300, "batch_size": 24, "log_every": 1, "eval_every": 0,
                   "checkpoint_every": 1000, "progress": "lines"}}


def _final_params(run_dir, step, template_cfg):
    ck = Checkpointer(os.path.join(run_dir, "checkpoints"))
    assert ck.latest_step() == step
    state, meta = ck.restore(step, trainer_from_config(template_cfg).init_state())
    ck.close()
    return state, meta


def test_sigint_saves_exits_cleanly_and_relaunch_resumes_exactly(tmp_path):
    """Ctrl-C (SIGINT; SIGTERM takes the same path, see test_checkpoint.py): the step in
    flight finishes, a checkpoint is saved, exit status 0; the relaunch resumes and ends
    bit-identical to an uninterrupted run."""
    sig = signal.SIGINT
    cfg_path = tmp_path / "small.yaml"
    cfg_path.write_text(yaml.safe_dump(SMALL))
    out = tmp_path / "run"
    env = dict(os.environ, PYTHONPATH=ROOT)
    proc = subprocess.Popen([sys.executable, "-m", "lamina.training", "train", str(cfg_path),
                             f"run.output_dir={out}"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.time() + 120
    for line in proc.stderr:
        if line.startswith("step 5/") or time.time() > deadline:
            break
    proc.send_signal(sig)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr[-3000:]
    assert stdout == ""                       # no final result: the run is not finished
    assert f"received signal {int(sig)}" in stderr and "preempted at step" in stderr
    stopped = int(stderr.split("preempted at step ")[1].split(";")[0])
    assert 5 <= stopped < 300
    ck = Checkpointer(str(out / "checkpoints"))
    assert ck.all_steps() == [stopped]
    ck.close()
    r = _lamina("train", cfg_path, f"run.output_dir={out}")
    assert r.returncode == 0, r.stderr[-3000:]
    assert f"resumed from step {stopped}" in r.stderr
    assert json.loads(r.stdout.strip().splitlines()[-1])["step"] == 300
    # bit-identical to an uninterrupted run of the same config
    full_cfg = load_config(cfg_path, [f"run.output_dir={tmp_path / 'full'}",
                                      "train.progress=none"])
    full = trainer_from_config(full_cfg).fit()
    state, meta = _final_params(str(out), 300, full_cfg)
    for a, b in zip(tree_util.tree_leaves((state["params"], state["ema"])),
                    tree_util.tree_leaves((full.params, full.ema_params))):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    # the checkpoint carries the run's config and data position
    assert meta["config"]["optim"]["ema_decay"] == 0.9 and meta["step"] == 300
    per_epoch = len(trainer_from_config(full_cfg).data.x_train) // 24
    assert meta["data"]["epoch"] * per_epoch + meta["data"]["position"] == 300
    # lamina eval --checkpoint DIR evaluates the params and the EMA params kept in it
    r = _lamina("eval", cfg_path, f"run.output_dir={out}", "--checkpoint",
                out / "checkpoints" / "300")
    assert r.returncode == 0, r.stderr[-3000:]
    got = json.loads(r.stdout)
    assert got["step"] == 300
    for key in ("loss", "accuracy", "ema_loss", "ema_accuracy"):
        assert got[f"eval/{key}"] == pytest.approx(full.eval_metrics[key], rel=1e-6)


def test_user_arrays_npz_and_memmapped_npy_from_a_config(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 5)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] > 0).astype(np.int64)
    np.savez(tmp_path / "d.npz", pixels=x, digit=y)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    base = {"model": {"name": "mlp", "args": {"hidden": [8]}},
            "optim": {"name": "adam", "learning_rate": 0.05},
            "train": {"steps": 40, "batch_size": 32, "progress": "none"}}
    from lamina.training import config as C
    for i, data in enumerate((
            {"name": "npz", "path": str(tmp_path / "d.npz"), "features": "pixels",
             "labels": "digit"},
            {"name": "npz", "path": str(tmp_path / "x.npy"), "labels": str(tmp_path / "y.npy")})):
        cfg = C.from_dict({**base, "data": data}, [f"run.output_dir={tmp_path / str(i)}"])
        t = trainer_from_config(cfg)
        assert t.data.num_classes == 2 and len(t.data.x_train) == 160
        if data["path"].endswith(".npy"):
            assert isinstance(t.data.x_train.base, np.memmap)
        assert t.fit().eval_metrics["accuracy"] > 0.85


def _snapshot(root):
    out = {}
    for dirpath, _, files in os.walk(root):
        for f in files:
            p = os.path.join(dirpath, f)
            with open(p, "rb") as fh:
                out[os.path.relpath(p, root)] = (os.stat(p).st_mtime_ns,
                                                 hashlib.sha256(fh.read()).hexdigest())
    return out


BASE = {"model": {"name": "mlp", "args": {"hidden": [4]}},
        "data": {"name": "synthetic", "args": {"n": 64, "dim": 4, "classes": 2}},
        "train": {"steps": 2, "batch_size": 8, "progress": "none"}}

# (YAML text, or None for BASE; overrides; what the one-line error must say)
BAD = [
    (None, ["trian.steps=3"], r"unknown config key 'trian'.*did you mean 'train'"),
    (None, ["train.stpes=3"], r"'train.stpes'.*did you mean 'steps'"),
    (None, ["optim.learnig_rate=1"], r"did you mean 'learning_rate'"),
    (None, ["run.sed=1"], r"'run.sed'.*did you mean 'seed'"),
    (None, ["devices.cuont=2"], r"did you mean 'count'"),
    (None, ["model.args.hiden=[3]"], r"'hiden'.*did you mean 'hidden'"),
    (None, ["data.args.dimm=3"], r"'dimm'.*did you mean 'dim'"),
    (None, ["train.steps=abc"], r"'train.steps' expects int or null, got str"),
    (None, ["train.batch_size=1.5"], r"'train.batch_size' expects int, got float"),
    (None, ["optim.learning_rate=[1]"], r"'optim.learning_rate' expects float, got list"),
    (None, ["run.seed=x"], r"'run.seed' expects int, got str"),
    (None, ["imports=5"], r"'imports' expects list, got int"),
    (None, ["train=5"], r"'train' expects mapping, got int"),
    (None, ["train.steps=true"], r"'train.steps' expects int or null, got bool"),
    (None, ["optim.name=adamm"], r"unknown optimizer 'optim.name=adamm'.*'adam'"),
    (None, ["model.name=mlpp"], r"unknown model 'model.name=mlpp'.*'mlp'"),
    (None, ["data.name=digts"], r"unknown dataset 'data.name=digts'.*'digits'"),
    (None, ["optim.schedule={name: cosine_foo}"], r"'optim.schedule.name=cosine_foo'"),
    (None, ["train.steps=-3"], r"'train.steps' must be positive; got -3"),
    (None, ["train.steps=0"], r"'train.steps' must be positive; got 0"),
    (None, ["train.batch_size=-8"], r"'train.batch_size' must be positive"),
    (None, ["train.eval_every=-1"], r"'train.eval_every' must be >= 0"),
    (None, ["data.name=npz", "data.path=/nonexistent/d.npz", "data.args={}"],
     r"data file '/nonexistent/d.npz' \('data.path'\) does not exist"),
    (None, ["devices.count=3"], r"'train.batch_size' \(8\) is not divisible by "
                                r"'devices.count' \(3\)"),
    (None, ["devices.count=16", "train.batch_size=16"],
     r"devices.count=16 but only \d+ device\(s\).*LAMINA_NUM_CPU_DEVICES=16"),
    (None, ["train.batch_size=1024"], r"train.batch_size=1024 is larger than the training"),
    (None, ["train.on_nan=ignore"], r"'train.on_nan' must be one of stop, skip"),
    (None, ["train.precision=f8"], r"'train.precision' must be one of"),
    (None, ["train.keep_best=eval/f1"], r"train.keep_best='eval/f1'"),
    (None, ["imports=[no_such_module_xyz]"], r"'imports\[0\]': cannot import"),
    (None, ["train.epochs=2"], r"sets both 'train.steps' and 'train.epochs'"),
    (None, ["train.steps=!!python/object/apply:os.system ['true']"],
     r"not valid YAML .*python/object"),
    ("train: {steps: 5\n", [], r"is not valid YAML: .*line 2"),
    ("model: {name: mlp}\ntrain: !!python/object/apply:os.system ['true']\n", [],
     r"is not valid YAML: .*python/object/apply"),
    ("- a\n- b\n", [], r"must be a mapping at the top level, got list"),
    ("model:\n  name: mlp\n\tsteps: 3\n", [], r"is not valid YAML"),
]


def test_bad_configs_exit_2_in_one_line_and_leave_an_existing_run_alone(tmp_path, capsys):
    assert len(BAD) >= 30
    good = tmp_path / "good.yaml"
    good.write_text(yaml.safe_dump(BASE))
    run = tmp_path / "run"
    assert main(["train", str(good), f"run.output_dir={run}"]) == 0
    capsys.readouterr()
    before = _snapshot(run)
    assert "config.yaml" in before and any(k.startswith("checkpoints") for k in before)
    for i, (text, overrides, msg) in enumerate(BAD):
        path = good
        if text is not None:
            path = tmp_path / f"bad{i}.yaml"
            path.write_text(text)
        code = main(["train", str(path), f"run.output_dir={run}", *overrides])
        err = capsys.readouterr().err
        assert code == 2, (i, overrides, err)
        assert err.startswith("lamina: error: ") and err.count("\n") == 1, (i, err)
        assert re.search(msg, err), (i, msg, err)
    assert main(["train", str(tmp_path / "missing.yaml")]) == 2
    assert "cannot read config file" in capsys.readouterr().err
    assert _snapshot(run) == before
    assert not (tmp_path / "runs").exists() and not os.path.exists("runs/default")
