"""Shared pieces of the workloads: the framework shim, timers, RSS, result printing.

lamina and jax run the *same* pure-function source: `load(name)` returns a namespace
(`fw.np`, `fw.jit`, `fw.grad`, `fw.vmap`, `fw.lax`, `fw.random`, `fw.optim`,
`fw.block`) backed by either library, so a workload is written once against `fw`.
torch has its own hand-written version in each workload.

A result is a dict `{metric: value}`; every metric is a *cost* (a time in µs/ms/s or a
size in MB), so lamina/jax < 1 means lamina is better. Units are in the metric's name.
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
            asarray=lnp.asarray, version=_version("lamina"))
    if name == "jax":
        os.environ.setdefault("JAX_PLATFORMS", "cpu")
        import jax
        import jax.numpy as jnp
        import optax
        return types.SimpleNamespace(
            name=name, np=jnp, jit=jax.jit, grad=jax.grad, vmap=jax.vmap,
            value_and_grad=jax.value_and_grad, lax=jax.lax, random=jax.random,
            optim=optax, block=jax.block_until_ready, tree_map=jax.tree_util.tree_map,
            asarray=jnp.asarray, version=jax.__version__)
    raise ValueError(f"load: framework must be 'lamina' or 'jax', got {name!r}")


def load_torch(name: str) -> Any:
    import torch
    if name == "torch1":
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
    result = dict(result)
    if rss:  # NOTE: off where the work happens in child processes (compile.py)
        result.setdefault("peak_rss_MB", round(peak_rss_mb(), 1))
    print("RESULT " + json.dumps(result), flush=True)
