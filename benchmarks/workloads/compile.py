"""(f) Compile time of the train steps of the MLP (c), the CNN (d) and the transformer
LM (e), split into trace+lower (to StableHLO) and XLA compile, cold and with the
persistent cache warm. Metrics are prefixed with the model: `cnn_cold_xla_compile_s`.

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


MODELS = ("mlp", "cnn", "transformer")


def _phase(framework: str, cache: str, model: str) -> dict:
    if framework == "lamina":
        os.environ["LAMINA_CACHE_DIR"] = cache
    fw = load(framework)
    if framework == "jax":
        import jax
        jax.config.update("jax_compilation_cache_dir", cache)
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
        jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    from benchmarks.workloads import _models
    setup = {"mlp": _models.mlp_train_setup, "cnn": _models.cnn_train_setup,
             "transformer": _models.lm_train_setup}[model]
    params, opt_state, step, x, y = setup(fw)
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
    out: dict = {}
    for model in MODELS:
        cache = tempfile.mkdtemp(prefix=f"bench-cache-{framework}-{model}-")
        try:
            for label in ("cold", "warm"):
                p = subprocess.run([sys.executable, "-m", __spec__.name, framework,
                                    f"--phase={cache}", f"--model={model}"],
                                   capture_output=True, text=True)
                if p.returncode != 0:
                    raise SystemExit(f"compile: {model} {label} failed:\n{p.stderr[-2000:]}")
                line = [ln for ln in p.stdout.splitlines() if ln.startswith("PHASE ")][-1]
                for k, v in json.loads(line[6:]).items():
                    out[f"{model}_{label}_{k}"] = v
        finally:
            shutil.rmtree(cache, ignore_errors=True)
    return out


if __name__ == "__main__":
    phase = [a[len("--phase="):] for a in sys.argv if a.startswith("--phase=")]
    model = [a[len("--model="):] for a in sys.argv if a.startswith("--model=")]
    if phase:
        print("PHASE " + json.dumps(_phase(sys.argv[1], phase[0], model[0])), flush=True)
    else:
        main(run, rss=False)
