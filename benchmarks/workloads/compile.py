"""(f) Compile time of the MLP train step (c), split into trace+lower (to StableHLO)
and XLA compile, cold and with the persistent cache warm.

Each figure comes from a fresh process: a first one with an empty cache directory
(cold), then a second one with the directory the first filled (warm). lamina uses
`LAMINA_CACHE_DIR=<tmp>`; for fairness jax gets its persistent cache too
(`jax_compilation_cache_dir=<tmp>`, min compile time 0, min entry size 0), which is
off by default in jax. `first_step_s` = trace+lower + compile + the first run, done
through `jit(step).lower(...).compile()`. torch has no compile step in eager mode.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

from benchmarks.workloads._common import load, main

FRAMEWORKS = ("lamina", "jax")


def _phase(framework: str, cache: str) -> dict:
    if framework == "lamina":
        os.environ["LAMINA_CACHE_DIR"] = cache
    fw = load(framework)
    if framework == "jax":
        import jax
        jax.config.update("jax_compilation_cache_dir", cache)
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
        jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    from benchmarks.workloads._models import mlp_train_setup
    params, opt_state, step, x, y = mlp_train_setup(fw)
    t0 = time.perf_counter()
    lowered = fw.jit(step).lower(params, opt_state, x, y)
    lowered.as_text()  # NOTE: lamina lowers lazily; force it so the split is fair
    t1 = time.perf_counter()
    compiled = lowered.compile()
    t2 = time.perf_counter()
    fw.block(compiled(params, opt_state, x, y))
    t3 = time.perf_counter()
    return {"trace_lower_s": t1 - t0, "xla_compile_s": t2 - t1, "first_step_s": t3 - t0}


def run(framework: str, quick: bool) -> dict:
    if framework not in FRAMEWORKS:
        raise SystemExit(f"compile: no compile step for {framework}")
    cache = tempfile.mkdtemp(prefix=f"bench-cache-{framework}-")
    out: dict = {}
    try:
        for label in ("cold", "warm"):
            p = subprocess.run([sys.executable, "-m", __spec__.name, framework,
                                f"--phase={cache}"], capture_output=True, text=True,
                               check=True)
            line = [ln for ln in p.stdout.splitlines() if ln.startswith("PHASE ")][-1]
            for k, v in json.loads(line[6:]).items():
                out[f"{label}_{k}"] = v
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    return out


if __name__ == "__main__":
    phase = [a[len("--phase="):] for a in sys.argv if a.startswith("--phase=")]
    if phase:
        print("PHASE " + json.dumps(_phase(sys.argv[1], phase[0])), flush=True)
    else:
        main(run, rss=False)
