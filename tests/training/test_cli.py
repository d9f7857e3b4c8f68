"""The `lamina` command in subprocesses: train, eval, summary, plot, bad configs."""
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _lamina(*args, cwd=None):
    env = dict(os.environ, PYTHONPATH=ROOT)
    return subprocess.run([sys.executable, "-m", "lamina.training", *map(str, args)],
                          capture_output=True, text=True, timeout=120, cwd=cwd, env=env)


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


def test_bad_config_exit_2_and_help(tmp_path):
    cfg = os.path.join(ROOT, "configs", "mlp_digits.yaml")
    out = tmp_path / "run"
    r = _lamina("train", cfg, f"run.output_dir={out}", "optim.nme=sgd")
    assert r.returncode == 2 and "did you mean 'name'" in r.stderr
    assert r.stderr.count("\n") == 1 and not out.exists()
    r = _lamina("train", cfg, f"run.output_dir={out}", "optim.name=adamm")
    assert r.returncode == 2 and "unknown optimizer" in r.stderr and "'adam'" in r.stderr
    r = _lamina("train", "--help")
    assert r.returncode == 0 and "overrides" in r.stdout
