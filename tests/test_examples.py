"""Every script in examples/ runs for a few steps in a fresh process (as a user runs it),
prints its progress and a final metric, and documents what it shows and how to run it."""
import ast
import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = os.path.join(ROOT, "examples")

# script -> (arguments for a short run, regex of the last line, lowest value of its group)
RUNS = {
    "quickstart.py": ([], r"ValueError: lamina.numpy.add: incompatible shapes", None),
    "custom_training_loop.py": (["--steps", "30", "--log-every", "10"],
                                r"test accuracy ([0-9.]+)", 0.5),
    "per_example_gradients.py": (["--steps", "30", "--log-every", "10"],
                                 r"test accuracy ([0-9.]+)", 0.5),
    "pmap_data_parallel.py": (["--steps", "30", "--log-every", "10"],
                              r"test accuracy ([0-9.]+)", 0.5),
    "pure_function_model.py": (["--steps", "60"], r"eval accuracy ([0-9.]+) after 60 steps",
                               0.8),
}


def test_every_example_is_run_here():
    scripts = sorted(f for f in os.listdir(EXAMPLES) if f.endswith(".py"))
    assert scripts == sorted(RUNS)


@pytest.mark.parametrize("name", sorted(RUNS))
def test_example_docstring_says_what_and_how(name):
    with open(os.path.join(EXAMPLES, name)) as f:
        doc = ast.get_docstring(ast.parse(f.read()))
    assert doc and len(doc.splitlines()) >= 5, name
    assert f"python examples/{name}" in doc, "the docstring must show how to run it"
    if RUNS[name][0]:
        assert "--steps" in doc


@pytest.mark.parametrize("name", sorted(RUNS))
def test_example_runs(name, tmp_path):
    args, pattern, lowest = RUNS[name]
    env = dict(os.environ, PYTHONPATH=ROOT)
    # NOTE: the pmap example picks its own device count (4) unless told otherwise; a
    # count inherited from a multi-device test run must not leak in.
    env.pop("LAMINA_NUM_CPU_DEVICES", None)
    if name == "pure_function_model.py":
        args = args + ["--output-dir", str(tmp_path / "run")]
    r = subprocess.run([sys.executable, os.path.join(EXAMPLES, name), *args], cwd=ROOT,
                       env=env, capture_output=True, text=True, timeout=240)
    assert r.returncode == 0, f"{name} failed:\n{r.stdout[-2000:]}\n{r.stderr[-4000:]}"
    lines = r.stdout.strip().splitlines()
    match = re.search(pattern, lines[-1])
    assert match, f"{name}: last line {lines[-1]!r} does not match {pattern!r}"
    if lowest is not None:
        assert float(match.group(1)) >= lowest, lines[-1]
    progress = [ln for ln in (r.stdout + r.stderr).splitlines() if re.match(r"step +\d", ln)]
    if args:
        assert len(progress) >= 3, f"{name} printed no progress lines:\n{r.stdout}"
    if name == "pmap_data_parallel.py":
        assert "4 devices" in lines[0] and "== one step on 1 device" in r.stdout
    if name == "per_example_gradients.py":
        assert "match a Python loop" in r.stdout
    if name == "pure_function_model.py":
        assert (tmp_path / "run" / "checkpoints" / "60").is_dir()
