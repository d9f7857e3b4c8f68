"""Shared pieces of the workloads: the framework shim, timers, RSS, result printing.

lamina and jax run the *same* pure-function source: `load(name)` returns a namespace
(`fw.np`, `fw.jit`, `fw.grad`, `fw.vmap`, `fw.lax`, `fw.random`, `fw.optim`,
`fw.block`, `fw.pmap`, ...) backed by either library, so a workload is written once
against `fw`; `load_nn(fw)` adds the module library (lamina.nn or flax.linen), which
lamina.nn mirrors closely enough that one module source serves both. torch has its
own hand-written version in each workload. `time_train_step` is the shared body of the
train-step workloads.

A result is a dict `{metric: value}`; every metric is a *cost* (a time in µs/ms/s or a
size in MB), so lamina/jax < 1 means lamina is better. Units are in the metric's name.
An optional `check` entry holds numbers that must agree across frameworks (compare.py).
"""
from __future__ import annotations

import json
import os
import resource
import sys
import time
import types
from typing import Any, Callable

FRAMEWORKS = ("lamina", "jax", "torch", "torch1")
"""torch1 is torch with `torch.set_num_threads(1)`."""


def rss_mb() -> float:
    """Current resident set size of this process, in MB."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def load(name: str) -> types.SimpleNamespace:
    """The framework shim for `lamina` or `jax` (torch workloads import torch directly)."""
    if name == "lamina":
        # NOTE: lamina's persistent cache is on by default (jax's is off); turn it off
        # unless a workload asks for it, so first-call figures are cold for both.
        os.environ.setdefault("LAMINA_CACHE_DIR", "off")
        import lamina
        import lamina.numpy as lnp
        import lamina.optim as optim
        return types.SimpleNamespace(
            name=name, np=lnp, jit=lamina.jit, grad=lamina.grad, vmap=lamina.vmap,
            value_and_grad=lamina.value_and_grad, lax=lamina.lax, random=lamina.random,
            optim=optim, block=lamina.block_until_ready, tree_map=lamina.tree_util.tree_map,
            asarray=lnp.asarray, pmap=lamina.pmap, device_count=lamina.device_count,
            eval_shape=lamina.eval_shape, version=_version("lamina"))
    if name == "jax":
        os.environ.setdefault("JAX_PLATFORMS", "cpu")
        import jax
        import jax.numpy as jnp
        import optax
        return types.SimpleNamespace(
            name=name, np=jnp, jit=jax.jit, grad=jax.grad, vmap=jax.vmap,
            value_and_grad=jax.value_and_grad, lax=jax.lax, random=jax.random,
            optim=optax, block=jax.block_until_ready, tree_map=jax.tree_util.tree_map,
            asarray=jnp.asarray, pmap=jax.pmap, device_count=jax.device_count,
            eval_shape=jax.eval_shape, version=jax.__version__)
    raise ValueError(f"load: framework must be 'lamina' or 'jax', got {name!r}")


def load_nn(fw: types.SimpleNamespace) -> Any:
    """The module library of a shim: `lamina.nn` for lamina, `flax.linen` for jax.

    Imported on demand, so workloads without modules do not pay for flax's import."""
    if fw.name == "lamina":
        import lamina.nn as nn
        return nn
    import flax.linen as nn
    return nn


def load_torch(name: str) -> Any:
    import torch
    if name == "torch1" and torch.get_num_threads() != 1:  # NOTE: once per process
        torch.set_num_threads(1)
        torch.set_num_interop_threads(1)
    return torch


def _version(dist: str) -> str:
    try:
        from importlib.metadata import version
        return version(dist)
    except Exception:
        return "?"


def per_call(fn: Callable[[], Any], sync: Callable[[Any], Any], min_time: float,
             min_calls: int = 3) -> float:
    """Median-free steady-state cost: seconds per call of `fn`, over at least
    `min_time` seconds, with `sync` applied to the last result only (async dispatch
    pipelines, as a user's loop would)."""
    out = fn()
    sync(out)
    n, t0 = 0, time.perf_counter()
    while True:
        out = fn()
        n += 1
        if n >= min_calls and time.perf_counter() - t0 >= min_time:
            break
    sync(out)
    return (time.perf_counter() - t0) / n


def main(run: Callable[[str, bool], dict], rss: bool = True) -> None:
    """`python -m benchmarks.workloads.X FRAMEWORK [--quick]`: print one JSON line."""
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    quick = "--quick" in sys.argv
    if len(args) != 1 or args[0] not in FRAMEWORKS:
        spec = getattr(sys.modules["__main__"], "__spec__", None)
        mod = spec.name if spec else run.__module__
        sys.exit(f"usage: python -m {mod} {{{','.join(FRAMEWORKS)}}} [--quick]")
    emit(run(args[0], quick), rss)


def emit(result: dict, rss: bool = True) -> None:
    """Print `RESULT {json}`. A `check` entry (a dict of numbers, e.g. the loss at step
    0) is not a cost: compare.py compares it across frameworks instead of tabulating it.
    """
    result = dict(result)
    if rss:  # NOTE: off where the work happens in child processes (compile.py)
        result.setdefault("peak_rss_MB", round(peak_rss_mb(), 1))
    print("RESULT " + json.dumps(result), flush=True)


CHECK_STEPS = 3
"""Train-step workloads report the loss at step 0 and after this many updates."""


def time_train_step(framework: str, quick: bool, setup: Callable, torch_setup: Callable
                    ) -> dict:
    """The shared body of the train-step workloads (c)(d)(e): first step (trace +
    compile + run for lamina/jax), steady-state `step_ms` (params fed back, synced at
    the end), and `check` = the loss at step 0 and after `CHECK_STEPS` updates, which
    compare.py requires to agree across frameworks (same data, same initial weights)."""
    t = 0.5 if quick else 2.0
    if framework.startswith("torch"):
        torch = load_torch(framework)
        _, step, _, _ = torch_setup(torch)
        t0 = time.perf_counter()
        losses = [step().item()]
        first = time.perf_counter() - t0
        losses += [step().item() for _ in range(CHECK_STEPS)]
        return {"first_step_s": first,
                "step_ms": 1e3 * per_call(step, lambda r: r.item(), t),
                "check": {"loss_step0": losses[0], f"loss_step{CHECK_STEPS}": losses[-1]}}
    fw = load(framework)
    params, opt_state, step, x, y = setup(fw)
    jstep = fw.jit(step)
    t0 = time.perf_counter()
    state = list(jstep(params, opt_state, x, y))
    fw.block(state[2])
    first = time.perf_counter() - t0
    losses = [float(state[2])]
    for _ in range(CHECK_STEPS):
        state = list(jstep(state[0], state[1], x, y))
    losses.append(float(state[2]))

    def one():
        state[0], state[1], state[2] = jstep(state[0], state[1], x, y)
        return state[2]

    return {"first_step_s": first, "step_ms": 1e3 * per_call(one, fw.block, t),
            "check": {"loss_step0": losses[0], f"loss_step{CHECK_STEPS}": losses[-1]}}
