"""lamina vs jax vs torch, side by side: `python benchmarks/compare.py [--quick] [--only NAME...]`.

Each workload (benchmarks/workloads/NAME.py) runs for every framework in a fresh
process, alternately (lamina jax torch torch1 lamina jax ...), for several rounds. The
table shows, per metric, the median and min–max over rounds and the ratios
lamina/jax, lamina/torch and lamina/torch1 of the medians (every metric is a cost, so
< 1 means lamina is better). "torch1" is torch with `torch.set_num_threads(1)`.

A workload may also report a `check` (numbers that are not costs, such as the loss at
step 0 and after a few steps, from the same data and initial weights): every framework's
values must match lamina's within the workload's `CHECK_RTOL` (default 1e-5 for jax,
1e-4 for torch), or the run fails. A benchmark that compares different computations is
worthless; this catches drift, `--quick` included.

The "load" row is the CPU used by *other* processes while each run was going
(machine-wide busy time from /proc/stat minus this run's own CPU time, in cores): on a
shared machine a ratio measured under load is suspect.
"""
from __future__ import annotations

import argparse
import datetime
import importlib
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# Cheapest first; `--quick` runs these with fewer rounds and shorter timings.
WORKLOADS = ["dispatch", "mlp", "random_init", "memory", "pergrad", "scan_rnn", "cnn",
             "transformer", "pmap", "train_e2e", "compile"]
# Run only when named (`--only gpu`): they need an accelerator.
ACCELERATOR_WORKLOADS = ["gpu"]
ALL_FRAMEWORKS = ("lamina", "jax", "torch", "torch1")


def _cpu_busy_s() -> float:
    """Machine-wide busy CPU seconds so far (all cores), from /proc/stat."""
    with open("/proc/stat") as f:
        fields = [int(v) for v in f.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def _children_cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run_one(workload: str, framework: str, quick: bool, timeout: float) -> dict:
    """One fresh process; returns {'metrics': {...}, 'check': {...}, 'load': cores,
    'wall_s': s} or {'error': text}."""
    cmd = [sys.executable, "-m", f"benchmarks.workloads.{workload}", framework]
    if quick:
        cmd.append("--quick")
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    busy0, own0, t0 = _cpu_busy_s(), _children_cpu_s(), time.perf_counter()
    try:
        p = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True,
                           timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    wall = time.perf_counter() - t0
    other = (_cpu_busy_s() - busy0) - (_children_cpu_s() - own0)
    lines = [ln for ln in p.stdout.splitlines() if ln.startswith("RESULT ")]
    if p.returncode != 0 or not lines:
        return {"error": f"exit {p.returncode}: " + (p.stderr or p.stdout)[-1500:]}
    metrics = json.loads(lines[-1][len("RESULT "):])
    return {"metrics": metrics, "check": metrics.pop("check", {}),
            "load": max(other, 0.0) / wall, "wall_s": wall}


def _fmt(v: float) -> str:
    if v != v:
        return "nan"
    a = abs(v)
    return f"{v:.3g}" if a >= 0.01 or a == 0 else f"{v:.2e}"


def _cell(vals: list[float]) -> str:
    if not vals:
        return "—"
    med = statistics.median(vals)
    return _fmt(med) if len(vals) == 1 else f"{_fmt(med)} ({_fmt(min(vals))}–{_fmt(max(vals))})"


def table(workload: str, frameworks: list[str], runs: dict) -> str:
    """A markdown table for one workload. runs[fw] = list of run_one results."""
    metrics: list[str] = []
    for fw in frameworks:
        for r in runs.get(fw, []):
            for m in r.get("metrics", {}):
                if m not in metrics:
                    metrics.append(m)
    ratio_to = [fw for fw in frameworks if fw != "lamina"]
    head = ["metric", *frameworks, *[f"lamina/{fw}" for fw in ratio_to]]
    rows = [head, ["---"] * len(head)]

    def vals(fw: str, m: str) -> list[float]:
        return [r["metrics"][m] for r in runs.get(fw, []) if m in r.get("metrics", {})]

    for m in metrics:
        row = [m, *[_cell(vals(fw, m)) for fw in frameworks]]
        lam = vals("lamina", m)
        for fw in ratio_to:
            other = vals(fw, m)
            if lam and other and statistics.median(other) > 0:
                row.append(f"{statistics.median(lam) / statistics.median(other):.2f}")
            else:
                row.append("—")
        rows.append(row)
    loads = {fw: [r["load"] for r in runs.get(fw, []) if "load" in r] for fw in frameworks}
    rows.append(["load from others (cores)", *[_cell(loads[fw]) for fw in frameworks],
                 *[""] * len(ratio_to)])
    errors = [f"- {fw}: {r['error'].strip().splitlines()[-1] if r['error'].strip() else '?'}"
              for fw in frameworks for r in runs.get(fw, []) if "error" in r]
    out = f"### {workload}\n\n" + "\n".join("| " + " | ".join(r) + " |" for r in rows)
    if errors:
        out += "\n\nFailed runs:\n" + "\n".join(errors)
    return out + "\n"


DEFAULT_RTOL = {"jax": 1e-5, "torch": 1e-4, "torch1": 1e-4}


def check_numerics(frameworks: list[str], runs: dict, rtol: dict) -> tuple[str, bool]:
    """Compare every run's `check` values with lamina's first run: markdown lines and
    whether all agree. A framework without a value for a key is skipped; lamina's own
    rounds are compared too (a step must be deterministic enough to repeat)."""
    ref_runs = [r for r in runs.get("lamina", []) if r.get("check")]
    if not ref_runs:
        return "", True
    ref = ref_runs[0]["check"]
    lines, ok = [], True
    for key, want in ref.items():
        parts = []
        for fw in frameworks:
            got = [r["check"][key] for r in runs.get(fw, []) if key in r.get("check", {})]
            if not got:
                continue
            diff = max(abs(g - want) / max(abs(want), 1e-30) for g in got)
            tol = rtol.get(fw, DEFAULT_RTOL.get(fw, 1e-5))
            good = diff <= tol
            ok &= good
            parts.append(f"{fw} {_fmt(diff)}" + ("" if good else f" > {tol:g} MISMATCH"))
        lines.append(f"- `{key}` = {want:.6g} (lamina); max relative difference: "
                     + ", ".join(parts))
    head = ("Numerical check (same data and initial weights; tolerances "
            + ", ".join(f"{fw} {rtol.get(fw, DEFAULT_RTOL.get(fw, 1e-5)):g}"
                        for fw in frameworks if fw != "lamina")
            + ("): all agree" if ok else "): **MISMATCH**") + "\n")
    return head + "\n".join(lines) + "\n", ok


def machine_info() -> str:
    cpu = platform.processor() or "?"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name"))
    except (OSError, StopIteration):
        pass
    from importlib.metadata import PackageNotFoundError, version
    vers = []
    for dist in ("lamina", "jax", "jaxlib", "flax", "optax", "torch", "numpy"):
        try:
            vers.append(f"{dist} {version(dist)}")
        except PackageNotFoundError:
            vers.append(f"{dist} (not installed)")
    la = os.getloadavg()
    return (f"date: {datetime.datetime.now().isoformat(timespec='seconds')}\n"
            f"machine: {cpu}, {os.cpu_count()} CPUs, {platform.platform()}, "
            f"Python {platform.python_version()}\n"
            f"versions: {', '.join(vers)}\n"
            f"load average at start (1/5/15 min): {la[0]:.2f} {la[1]:.2f} {la[2]:.2f}\n")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="one round, short timings")
    ap.add_argument("--only", nargs="+", metavar="NAME",
                    choices=WORKLOADS + ACCELERATOR_WORKLOADS,
                    help=f"workloads to run (default: all of {', '.join(WORKLOADS)}; "
                         f"on a GPU machine also: {', '.join(ACCELERATOR_WORKLOADS)})")
    ap.add_argument("--rounds", type=int, default=None, help="default 5, or 1 with --quick")
    ap.add_argument("--frameworks", nargs="+", choices=ALL_FRAMEWORKS, default=None)
    ap.add_argument("--markdown", type=Path, help="also write the tables to this file")
    ap.add_argument("--json", type=Path, help="also write every raw run to this file")
    ap.add_argument("--timeout", type=float, default=600.0, help="per run, seconds")
    args = ap.parse_args(argv)

    rounds = args.rounds or (1 if args.quick else 5)
    names = args.only or WORKLOADS
    try:
        import torch  # noqa: F401
        have_torch = True
    except ImportError:
        have_torch = False
    chosen = list(args.frameworks or ALL_FRAMEWORKS)
    if not have_torch and any(fw.startswith("torch") for fw in chosen):
        print("torch is not installed (pip install -e '.[bench]'): skipping torch columns")
        chosen = [fw for fw in chosen if not fw.startswith("torch")]

    header = machine_info()
    print(header)
    out_md, raw, failed = [header], {}, False
    for name in names:
        mod = importlib.import_module(f"benchmarks.workloads.{name}")
        fws = [fw for fw in chosen if fw in getattr(mod, "FRAMEWORKS", ALL_FRAMEWORKS)]
        runs: dict[str, list] = {fw: [] for fw in fws}
        t0 = time.perf_counter()
        for _ in range(rounds):
            for fw in fws:  # alternate frameworks within each round
                r = run_one(name, fw, args.quick, args.timeout)
                failed |= "error" in r
                runs[fw].append(r)
        text = table(name, fws, runs)
        check, agree = check_numerics(fws, runs, getattr(mod, "CHECK_RTOL", {}))
        failed |= not agree
        if check:
            text += "\n" + check
        print(text + f"({rounds} round(s), {time.perf_counter() - t0:.0f} s)\n", flush=True)
        out_md.append(text)
        raw[name] = runs
    la = os.getloadavg()
    tail = f"load average at end (1/5/15 min): {la[0]:.2f} {la[1]:.2f} {la[2]:.2f}\n"
    print(tail)
    out_md.append(tail)
    if args.markdown:
        args.markdown.write_text("\n".join(out_md))
    if args.json:
        args.json.write_text(json.dumps(raw, indent=1))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
