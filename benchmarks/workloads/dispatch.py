"""(a) jit dispatch of `x + 1` on a scalar and a 1000-vector, and (b) eager `x*y+z`.

lamina/jax: `jit(lambda x: x + 1)` called in a loop (async dispatch, synced at the end);
eager: `x * y + z` on 1000-vectors without jit, reported per primitive (÷ 2).
torch has no jit to dispatch, so its "jit" rows are eager `x + 1` (noted in RESULTS.md).
"""
from __future__ import annotations

from benchmarks.workloads._common import load, load_torch, main, per_call


def run(framework: str, quick: bool) -> dict:
    t = 0.3 if quick else 1.0
    if framework.startswith("torch"):
        torch = load_torch(framework)
        s, v = torch.tensor(1.0), torch.ones(1000)
        y, z = torch.full((1000,), 2.0), torch.full((1000,), 3.0)
        noop = lambda r: r  # noqa: E731 - torch CPU ops are synchronous
        with torch.no_grad():
            return {
                "jit_scalar_us": 1e6 * per_call(lambda: s + 1, noop, t),
                "jit_vec1000_us": 1e6 * per_call(lambda: v + 1, noop, t),
                "eager_op_us": 1e6 * per_call(lambda: v * y + z, noop, t) / 2,
            }
    fw = load(framework)
    np = fw.np
    f = fw.jit(lambda x: x + 1)
    s, v = np.asarray(1.0, np.float32), np.ones(1000, np.float32)
    y, z = np.full((1000,), 2.0, np.float32), np.full((1000,), 3.0, np.float32)
    return {
        "jit_scalar_us": 1e6 * per_call(lambda: f(s), fw.block, t),
        "jit_vec1000_us": 1e6 * per_call(lambda: f(v), fw.block, t),
        "eager_op_us": 1e6 * per_call(lambda: v * y + z, fw.block, t) / 2,
    }


if __name__ == "__main__":
    main(run)
