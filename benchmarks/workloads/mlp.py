"""(c) MLP 64-256-256-10 train step, batch 128, adam (lamina.optim / optax / torch.optim).

Reports the first step (trace + compile + run for lamina/jax; plain first step for torch)
and the steady-state ms per step (params fed back, synced at the end).
"""
from __future__ import annotations

import time

from benchmarks.workloads._common import load, load_torch, main, per_call
from benchmarks.workloads._models import mlp_train_setup, torch_mlp_train_setup


def run(framework: str, quick: bool) -> dict:
    t = 0.5 if quick else 2.0
    if framework.startswith("torch"):
        torch = load_torch(framework)
        _, step, _, _ = torch_mlp_train_setup(torch)
        t0 = time.perf_counter()
        step()
        first = time.perf_counter() - t0
        return {"first_step_s": first,
                "step_ms": 1e3 * per_call(step, lambda r: r.item(), t)}
    fw = load(framework)
    params, opt_state, step, x, y = mlp_train_setup(fw)
    jstep = fw.jit(step)
    t0 = time.perf_counter()
    state = [params, opt_state]
    p, s, loss = jstep(params, opt_state, x, y)
    fw.block(loss)
    first = time.perf_counter() - t0
    state[:] = [p, s]

    def one():
        state[0], state[1], loss = jstep(state[0], state[1], x, y)
        return loss

    return {"first_step_s": first, "step_ms": 1e3 * per_call(one, fw.block, t)}


if __name__ == "__main__":
    main(run)
