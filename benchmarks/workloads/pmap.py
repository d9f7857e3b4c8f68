"""(l) The MLP train step (c) data-parallel over 4 CPU devices with `pmap` (batch 128
split 4 x 32, gradients and loss `pmean`-ed over the devices, params replicated) vs the
same step `jit`-ed on one device, in the same process.

The process gets 4 host devices (`LAMINA_NUM_CPU_DEVICES=4` for lamina,
`XLA_FLAGS=--xla_force_host_platform_device_count=4` for jax), set before import. The
batch and the replicated parameters are put on the devices once, outside the timing
(an identity `pmap`). Every step is synced (see the NOTE in `run`). torch has no pmap:
no torch columns. On a 2-core machine 4 devices share 2 cores, so `pmap4_step_ms` shows
the overhead of the replicas and collectives rather than a speed-up.
"""
from __future__ import annotations

import os
import time

import numpy as onp

from benchmarks.workloads._common import load, main, per_call
from benchmarks.workloads._models import mlp_data, mlp_loss, mlp_numpy_params

FRAMEWORKS = ("lamina", "jax")
N_DEV = 4


def run(framework: str, quick: bool) -> dict:
    if framework not in FRAMEWORKS:
        raise SystemExit(f"pmap: torch has no pmap; frameworks: {FRAMEWORKS}")
    t = 0.5 if quick else 2.0
    # NOTE: before lamina/jax are imported (they read these once, at backend start).
    os.environ["LAMINA_NUM_CPU_DEVICES"] = str(N_DEV)
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") +
                               f" --xla_force_host_platform_device_count={N_DEV}").strip()
    fw = load(framework)
    if fw.device_count() != N_DEV:
        raise SystemExit(f"pmap: {framework} sees {fw.device_count()} devices, not {N_DEV}")
    opt = fw.optim.adam(1e-3)

    def step(params, opt_state, x, y, axis=None):
        loss, g = fw.value_and_grad(lambda p: mlp_loss(fw, p, x, y))(params)
        if axis is not None:
            g, loss = fw.lax.pmean((g, loss), axis)
        updates, opt_state = opt.update(g, opt_state, params)
        return fw.optim.apply_updates(params, updates), opt_state, loss

    params_np, (x_np, y_np) = mlp_numpy_params(), mlp_data()
    out: dict = {}
    losses: dict = {}
    for label in ("1dev", "pmap4"):
        if label == "1dev":
            f = fw.jit(step)
            params = fw.tree_map(fw.asarray, params_np)
            x, y = fw.asarray(x_np), fw.asarray(y_np)
        else:
            f = fw.pmap(lambda p, s, x, y: step(p, s, x, y, axis="i"), axis_name="i")
            put = fw.pmap(lambda a: a)
            params = put(fw.tree_map(lambda a: onp.stack([a] * N_DEV), params_np))
            x = put(x_np.reshape(N_DEV, -1, x_np.shape[-1]))
            y = put(y_np.reshape(N_DEV, -1))
        opt_state = (opt.init(params) if label == "1dev" else
                     fw.pmap(opt.init)(params))
        t0 = time.perf_counter()
        state = list(f(params, opt_state, x, y))
        fw.block(state[2])
        out[f"{label}_first_step_s"] = time.perf_counter() - t0
        first_loss = float(onp.asarray(state[2]).reshape(-1)[0])
        for _ in range(3):
            state = list(f(state[0], state[1], x, y))
        losses[label] = (first_loss, float(onp.asarray(state[2]).reshape(-1)[0]))

        def one():
            state[0], state[1], state[2] = f(state[0], state[1], x, y)
            # NOTE: synced every step (1dev too, for a like-for-like ratio): with many
            # pmapped steps in flight, jax's CPU all-reduce deadlocked here about one
            # run in five (XLA rendezvous "only 3 of 4 threads arrived", then abort).
            fw.block(state[2])
            return state[2]

        out[f"{label}_step_ms"] = 1e3 * per_call(one, fw.block, t)
    # NOTE: equal shards, so the mean of the per-device mean losses is the batch mean.
    a, b = onp.array(losses["1dev"]), onp.array(losses["pmap4"])
    if not onp.allclose(a, b, rtol=1e-5):
        raise SystemExit(f"pmap: {framework}'s pmap losses {b} differ from jit's {a}")
    out["check"] = {"loss_step0": losses["pmap4"][0], "loss_step3": losses["pmap4"][1]}
    return out


if __name__ == "__main__":
    main(run)
