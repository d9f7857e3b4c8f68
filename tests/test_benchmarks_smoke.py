"""Smoke test of the benchmark harness: `benchmarks/compare.py --quick` runs and prints a
table (the numbers are not checked). torch is optional (the `bench` extra): without it
the torch columns are skipped."""
from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_compare_quick_dispatch_prints_a_table(tmp_path):
    fws = ["lamina", "jax"]
    if importlib.util.find_spec("torch") is not None:
        fws.append("torch1")
    md = tmp_path / "results.md"
    p = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "compare.py"), "--quick",
         "--only", "dispatch", "--frameworks", *fws, "--markdown", str(md)],
        cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    out = p.stdout
    assert "### dispatch" in out
    assert "| metric | " + " | ".join(fws) in out
    for row in ("| jit_scalar_us |", "| jit_vec1000_us |", "| eager_op_us |",
                "| load from others (cores) |"):
        assert row in out, out
    assert "lamina/jax" in out
    assert "### dispatch" in md.read_text()
