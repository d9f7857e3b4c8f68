"""(i) Memory: import time and RSS right after import, and the peak RSS of 50 train
steps of the transformer LM (e) in a fresh process.

"Import" is what the workload needs: lamina + lamina.numpy + lamina.optim + lamina.nn;
jax + jax.numpy + optax + flax.linen; torch. `rss_after_import_MB` is measured after
that; `peak_rss_MB` at the end (the process's high-water mark: import, trace, compile
and 50 steps). `--quick` runs 10 steps.
"""
from __future__ import annotations

import time

from benchmarks.workloads._common import main, peak_rss_mb, rss_mb


def run(framework: str, quick: bool) -> dict:
    steps = 10 if quick else 50
    base = rss_mb()  # interpreter + benchmarks helpers
    t0 = time.perf_counter()
    if framework.startswith("torch"):
        from benchmarks.workloads._common import load_torch
        torch = load_torch(framework)
        import_s, rss_import = time.perf_counter() - t0, rss_mb()
        from benchmarks.workloads._models import torch_lm_train_setup
        _, step, _, _ = torch_lm_train_setup(torch)
        for _ in range(steps):
            loss = step()
        loss.item()
    else:
        from benchmarks.workloads._common import load, load_nn
        fw = load(framework)
        load_nn(fw)
        import_s, rss_import = time.perf_counter() - t0, rss_mb()
        from benchmarks.workloads._models import lm_train_setup
        params, opt_state, step, x, y = lm_train_setup(fw)
        jstep = fw.jit(step)
        for _ in range(steps):
            params, opt_state, loss = jstep(params, opt_state, x, y)
        fw.block(loss)
    return {"import_s": import_s, "rss_before_import_MB": base,
            "rss_after_import_MB": rss_import, "peak_rss_MB": peak_rss_mb()}


if __name__ == "__main__":
    main(run)
