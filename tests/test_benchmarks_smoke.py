"""Smoke test of the benchmark harness: `benchmarks/compare.py --quick` runs and prints
tables (the timings are not checked), and the train-step workloads compute the same
losses in lamina and jax (and torch, when installed) from the same data and initial
weights — compare.py fails the run on a mismatch. torch is optional (the `bench`
extra): without it the torch columns are skipped."""
from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HAVE_TORCH = importlib.util.find_spec("torch") is not None


def _compare(tmp_path, only, fws, timeout, env=None):
    md = tmp_path / "results.md"
    p = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "compare.py"), "--quick",
         "--only", *only, "--frameworks", *fws, "--markdown", str(md)],
        cwd=ROOT, capture_output=True, text=True, timeout=timeout,
        env=None if env is None else dict(os.environ, **env))
    assert p.returncode == 0, p.stdout + p.stderr
    return p.stdout, md.read_text()


def test_compare_quick_dispatch_prints_a_table(tmp_path):
    fws = ["lamina", "jax"] + (["torch1"] if HAVE_TORCH else [])
    out, md = _compare(tmp_path, ["dispatch"], fws, 120)
    assert "### dispatch" in out
    assert "| metric | " + " | ".join(fws) in out
    for row in ("| jit_scalar_us |", "| jit_vec1000_us |", "| eager_op_us |",
                "| load from others (cores) |"):
        assert row in out, out
    assert "lamina/jax" in out
    assert "### dispatch" in md


def test_compare_quick_train_steps_agree_numerically(tmp_path):
    """mlp (c), cnn (d), transformer (e), pmap (l): the loss at step 0 and after 3 steps
    must agree across frameworks (compare.py exits 1 on a MISMATCH)."""
    only = ["mlp", "cnn", "transformer", "pmap"]
    fws = ["lamina", "jax"] + (["torch1"] if HAVE_TORCH else [])
    out, md = _compare(tmp_path, only, fws, 420)
    for name in only:
        section = out.split(f"### {name}\n", 1)[1].split("###", 1)[0]
        assert "Numerical check" in section and "): all agree" in section, section
        assert "`loss_step0`" in section and "`loss_step3`" in section, section
        assert "jax " in section.split("`loss_step0`", 1)[1].splitlines()[0], section
    assert "| step_ms |" in out and "| conv2_wgrad_ms |" in out
    assert "| pmap4_step_ms |" in out and "| 1dev_step_ms |" in out
    assert "Numerical check" in md


def test_accelerator_workload_runs_on_the_cpu(tmp_path):
    """The GPU proof workload (m), `--only gpu`, is kept working by running it on the
    CPU (BENCH_PLATFORM=cpu); its MLP losses must agree across frameworks."""
    fws = ["lamina", "jax"] + (["torch1"] if HAVE_TORCH else [])
    out, _ = _compare(tmp_path, ["gpu"], fws, 240, env={"BENCH_PLATFORM": "cpu"})
    for row in ("| jit_scalar_us |", "| matmul512_ms |", "| d2h_64MB_ms |",
                "| pmap1_psum_us |", "| step_ms |"):
        assert row in out, out
    assert "): all agree" in out, out


def test_check_numerics_flags_a_mismatch():
    sys.path.insert(0, str(ROOT))
    from benchmarks.compare import check_numerics
    runs = {"lamina": [{"check": {"loss": 2.0}}], "jax": [{"check": {"loss": 2.0 + 1e-3}}],
            "torch": [{"check": {"loss": 2.0 + 1e-7}}]}
    text, ok = check_numerics(["lamina", "jax", "torch"], runs, {})
    assert not ok and "MISMATCH" in text and "jax" in text
    runs["jax"][0]["check"]["loss"] = 2.0
    text, ok = check_numerics(["lamina", "jax", "torch"], runs, {})
    assert ok and "all agree" in text
