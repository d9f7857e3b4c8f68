"""(j) Eager (un-jitted) random init of the MLP 64-256-256-10's parameters in a fresh
process: key, split, one `normal` per weight (scaled), zeros for biases.

`init_s` is the first init after import (each new shape may compile a program);
`reinit_ms` is a second init with the same shapes in the same process.
"""
from __future__ import annotations

import time

from benchmarks.workloads._common import load, load_torch, main
from benchmarks.workloads._models import MLP_SIZES


def _init_fw(fw):
    keys = fw.random.split(fw.random.PRNGKey(0), len(MLP_SIZES) - 1)
    params = [(fw.random.normal(k, (i, o)) / (i ** 0.5), fw.np.zeros(o))
              for k, i, o in zip(keys, MLP_SIZES[:-1], MLP_SIZES[1:])]
    fw.block(params)
    return params


def _init_torch(torch):
    torch.manual_seed(0)
    return [(torch.randn(i, o) / (i ** 0.5), torch.zeros(o))
            for i, o in zip(MLP_SIZES[:-1], MLP_SIZES[1:])]


def run(framework: str, quick: bool) -> dict:
    if framework.startswith("torch"):
        torch = load_torch(framework)
        init = lambda: _init_torch(torch)  # noqa: E731
    else:
        fw = load(framework)
        init = lambda: _init_fw(fw)  # noqa: E731
    t0 = time.perf_counter()
    init()
    t1 = time.perf_counter()
    init()
    t2 = time.perf_counter()
    return {"init_s": t1 - t0, "reinit_ms": 1e3 * (t2 - t1)}


if __name__ == "__main__":
    main(run)
