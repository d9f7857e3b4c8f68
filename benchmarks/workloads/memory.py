"""(i) Memory: import time and RSS right after import, and the peak RSS of 50 train
steps of the transformer LM (e) in a fresh process.

"Import" is what the workload needs: lamina + lamina.numpy + lamina.optim + lamina.nn;
jax + jax.numpy + optax + flax.linen; torch. `rss_after_import_MB` is measured after
that; `peak_rss_MB` at the end (the process's high-water mark: import, trace, compile
and 50 steps). `--quick` runs 10 steps.

Stages (issue 9), to see which one sets the high-water mark: `rss_after_setup_MB` once
the parameters, optimizer state and data exist; `peak_rss_first_step_MB`, the high-water
mark after the first call of the jitted step (trace, lower, XLA compile, one run);
`rss_after_steps_MB`, the RSS once every step is done.
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
        rss_setup = rss_mb()
        loss = step()
        loss.item()
        peak_first = peak_rss_mb()
        for _ in range(steps - 1):
            loss = step()
        loss.item()
    else:
        from benchmarks.workloads._common import load, load_nn
        fw = load(framework)
        load_nn(fw)
        import_s, rss_import = time.perf_counter() - t0, rss_mb()
        from benchmarks.workloads._models import lm_train_setup
        params, opt_state, step, x, y = lm_train_setup(fw)
        rss_setup = rss_mb()
        jstep = fw.jit(step)
        params, opt_state, loss = jstep(params, opt_state, x, y)
        fw.block(loss)
        peak_first = peak_rss_mb()
        for _ in range(steps - 1):
            params, opt_state, loss = jstep(params, opt_state, x, y)
        fw.block(loss)
    return {"import_s": import_s, "rss_before_import_MB": base,
            "rss_after_import_MB": rss_import, "rss_after_setup_MB": rss_setup,
            "peak_rss_first_step_MB": peak_first, "rss_after_steps_MB": rss_mb(),
            "peak_rss_MB": peak_rss_mb()}


if __name__ == "__main__":
    main(run)
