"""(g) Per-example gradients of the MLP (c): `jit(vmap(grad(loss), (None, 0, 0)))`
over the batch of 128 (torch: `torch.func.vmap(torch.func.grad(...))`)."""
from __future__ import annotations

import time

from benchmarks.workloads._common import load, load_torch, main, per_call
from benchmarks.workloads._models import (mlp_data, mlp_loss, mlp_numpy_params,
                                          torch_mlp)


def run(framework: str, quick: bool) -> dict:
    t = 0.5 if quick else 2.0
    if framework.startswith("torch"):
        torch = load_torch(framework)
        from torch.func import functional_call, grad, vmap
        model = torch_mlp(torch)
        params = {k: v.detach() for k, v in model.named_parameters()}
        x, y = (torch.from_numpy(a) for a in mlp_data())
        y = y.long()

        def loss(p, xi, yi):
            out = functional_call(model, p, (xi[None],))
            return torch.nn.functional.cross_entropy(out, yi[None])

        f = vmap(grad(loss), in_dims=(None, 0, 0))
        t0 = time.perf_counter()
        f(params, x, y)
        first = time.perf_counter() - t0
        return {"first_call_s": first, "call_ms": 1e3 * per_call(
            lambda: f(params, x, y), lambda r: r, t)}
    fw = load(framework)
    params = [(fw.asarray(w), fw.asarray(b)) for w, b in mlp_numpy_params()]
    x, y = (fw.asarray(a) for a in mlp_data())
    one = lambda p, xi, yi: mlp_loss(fw, p, xi[None], yi[None])  # noqa: E731
    f = fw.jit(fw.vmap(fw.grad(one), in_axes=(None, 0, 0)))
    t0 = time.perf_counter()
    fw.block(f(params, x, y))
    first = time.perf_counter() - t0
    return {"first_call_s": first,
            "call_ms": 1e3 * per_call(lambda: f(params, x, y), fw.block, t)}


if __name__ == "__main__":
    main(run)
