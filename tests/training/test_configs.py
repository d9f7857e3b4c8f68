"""configs/pure_function.yaml (a user model from examples/) and configs/data_parallel.yaml
(pmap over 2 CPU devices, same losses as one device for the same global batch)."""
import json
import os
import subprocess
import sys
import textwrap

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _run(args, env=None, timeout=180):
    env = dict(os.environ, PYTHONPATH=ROOT, **(env or {}))
    return subprocess.run([sys.executable, *args], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT, env=env)


def test_pure_function_config(tmp_path):
    out = tmp_path / "pf"
    r = _run(["-m", "lamina.training", "train", "configs/pure_function.yaml",
              f"run.output_dir={out}", "train.steps=60", "train.eval_every=0"])
    assert r.returncode == 0, r.stderr[-3000:]
    result = json.loads(r.stdout.strip().splitlines()[-1])
    assert result["step"] == 60 and result["eval/accuracy"] > 0.8
    r = _run(["-m", "lamina.training", "summary", "configs/pure_function.yaml"])
    assert r.returncode == 0, r.stderr[-3000:]
    assert "params['hidden']['kernel']" in r.stdout and "total parameters: 162" in r.stdout


DP_SCRIPT = textwrap.dedent("""
    import json, sys
    import lamina
    from lamina.training import load_config, trainer_from_config
    from lamina.training.logging import read_jsonl
    assert lamina.local_device_count() == 2, lamina.local_device_count()
    losses = {}
    for n in (2, 1):
        out = f"{sys.argv[1]}/dev{n}"
        cfg = load_config("configs/data_parallel.yaml", [
            f"devices.count={n}", "train.steps=4", "train.log_every=1",
            "train.eval_every=0", "train.checkpoint_every=0", "train.progress=none",
            "run.resume=never", f"run.output_dir={out}"])
        r = trainer_from_config(cfg).fit()
        losses[n] = [row["train/loss"] for row in read_jsonl(out) if "train/loss" in row]
        losses[f"acc{n}"] = r.eval_metrics["accuracy"]
    print(json.dumps(losses))
""")


def test_data_parallel_config_matches_one_device(tmp_path):
    script = tmp_path / "dp.py"
    script.write_text(DP_SCRIPT)
    r = _run([str(script), str(tmp_path)], env={"LAMINA_NUM_CPU_DEVICES": "2"})
    assert r.returncode == 0, r.stderr[-3000:]
    got = json.loads(r.stdout.strip().splitlines()[-1])
    two, one = got["2"], got["1"]
    assert len(two) == len(one) == 4
    for a, b in zip(two, one):
        assert abs(a - b) <= 1e-5, (two, one)
    assert abs(got["acc2"] - got["acc1"]) < 0.01
