"""(i) Memory: import time and RSS right after import, and the peak RSS of 50 MLP
train steps (workload (c)) in a fresh process.

NOTE: the issue asks for the peak RSS of 50 steps of the transformer (e); that
workload does not exist yet, so this measures the MLP.
"""
from __future__ import annotations

import time

from benchmarks.workloads._common import main, peak_rss_mb, rss_mb


def run(framework: str, quick: bool) -> dict:
    base = rss_mb()  # interpreter + benchmarks helpers
    t0 = time.perf_counter()
    if framework.startswith("torch"):
        from benchmarks.workloads._common import load_torch
        torch = load_torch(framework)
        import_s, rss_import = time.perf_counter() - t0, rss_mb()
        from benchmarks.workloads._models import torch_mlp_train_setup
        _, step, _, _ = torch_mlp_train_setup(torch)
        for _ in range(50):
            loss = step()
        loss.item()
    else:
        from benchmarks.workloads._common import load
        fw = load(framework)
        import_s, rss_import = time.perf_counter() - t0, rss_mb()
        from benchmarks.workloads._models import mlp_train_setup
        params, opt_state, step, x, y = mlp_train_setup(fw)
        jstep = fw.jit(step)
        for _ in range(50):
            params, opt_state, loss = jstep(params, opt_state, x, y)
        fw.block(loss)
    return {"import_s": import_s, "rss_before_import_MB": base,
            "rss_after_import_MB": rss_import, "peak_rss_MB": peak_rss_mb()}


if __name__ == "__main__":
    main(run)
