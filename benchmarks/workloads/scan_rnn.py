"""(h) A tanh RNN over 128 steps with `lax.scan` (torch: a Python loop), forward +
backward: input 32, hidden 128, batch 16; loss = mean of the squared hidden states;
gradient with respect to (Wx, Wh, b)."""
from __future__ import annotations

import time

import numpy as onp

from benchmarks.workloads._common import load, load_torch, main, per_call

T, B, I, H = 128, 16, 32, 128


def _data():
    rng = onp.random.default_rng(0)
    xs = rng.standard_normal((T, B, I)).astype(onp.float32)
    wx = (rng.standard_normal((I, H)) / onp.sqrt(I)).astype(onp.float32)
    wh = (rng.standard_normal((H, H)) / onp.sqrt(H)).astype(onp.float32)
    return xs, (wx, wh, onp.zeros(H, onp.float32))


def run(framework: str, quick: bool) -> dict:
    t = 0.5 if quick else 2.0
    xs_np, params_np = _data()
    if framework.startswith("torch"):
        torch = load_torch(framework)
        xs = torch.from_numpy(xs_np)
        params = [torch.from_numpy(p).requires_grad_() for p in params_np]

        def f():
            wx, wh, b = params
            h, total = torch.zeros(B, H), 0.0
            for t_ in range(T):
                h = torch.tanh(xs[t_] @ wx + h @ wh + b)
                total = total + (h * h).sum()
            loss = total / (T * B * H)
            return torch.autograd.grad(loss, params)

        t0 = time.perf_counter()
        f()
        first = time.perf_counter() - t0
        return {"first_call_s": first, "call_ms": 1e3 * per_call(f, lambda r: r, t)}
    fw = load(framework)
    np = fw.np
    xs = fw.asarray(xs_np)
    params = tuple(fw.asarray(p) for p in params_np)

    def loss(params, xs):
        wx, wh, b = params

        def cell(h, x):
            h = np.tanh(x @ wx + h @ wh + b)
            return h, h

        _, hs = fw.lax.scan(cell, np.zeros((B, H), np.float32), xs)
        return np.mean(hs * hs)

    g = fw.jit(fw.grad(loss))
    t0 = time.perf_counter()
    fw.block(g(params, xs))
    first = time.perf_counter() - t0
    return {"first_call_s": first,
            "call_ms": 1e3 * per_call(lambda: g(params, xs), fw.block, t)}


if __name__ == "__main__":
    main(run)
