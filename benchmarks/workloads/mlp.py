"""(c) MLP 64-256-256-10 train step, batch 128, adam (lamina.optim / optax / torch.optim).

Reports the first step (trace + compile + run for lamina/jax; plain first step for torch)
and the steady-state ms per step (params fed back, synced at the end); checks the loss
at step 0 and after 3 steps against the other frameworks (see `time_train_step`).
"""
from __future__ import annotations

from benchmarks.workloads._common import main, time_train_step
from benchmarks.workloads._models import mlp_train_setup, torch_mlp_train_setup


def run(framework: str, quick: bool) -> dict:
    return time_train_step(framework, quick, mlp_train_setup, torch_mlp_train_setup)


if __name__ == "__main__":
    main(run)
