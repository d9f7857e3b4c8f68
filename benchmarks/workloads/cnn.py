"""(d) CNN train step on 28x28x1 images, batch 64, adam(1e-3), softmax cross-entropy:
conv3x3(32) relu avgpool2 conv3x3(64) relu avgpool2 dense(256) relu dense(10) (the Flax
MNIST example's network). lamina.nn + lamina.optim vs flax.linen + optax (one module
source, NHWC) vs torch (NCHW, its native layout; data transposed once outside the step).

`conv2_wgrad_ms` times the second convolution's weight gradient alone (input
64x14x14x32, output cotangent 64x14x14x64): `jit(grad(w -> sum(conv(x, w) * ct)))`;
torch: `torch.nn.grad.conv2d_weight`.
"""
from __future__ import annotations

import numpy as onp

from benchmarks.workloads._common import (load, load_torch, main, per_call,
                                          time_train_step)
from benchmarks.workloads._models import cnn_train_setup, torch_cnn_train_setup

CHECK_RTOL = {"jax": 1e-5, "torch": 1e-4, "torch1": 1e-4}


def _wgrad_data():
    rng = onp.random.default_rng(2)
    x = rng.standard_normal((64, 14, 14, 32)).astype(onp.float32)
    ct = rng.standard_normal((64, 14, 14, 64)).astype(onp.float32)
    w = (rng.standard_normal((3, 3, 32, 64)) / onp.sqrt(9 * 32)).astype(onp.float32)
    return x, ct, w


def conv2_wgrad_ms(framework: str, t: float) -> tuple[float, float]:
    """(ms per weight-gradient call, its sum as a check)."""
    x, ct, w = _wgrad_data()
    if framework.startswith("torch"):
        torch = load_torch(framework)
        xt = torch.from_numpy(onp.ascontiguousarray(x.transpose(0, 3, 1, 2)))
        ctt = torch.from_numpy(onp.ascontiguousarray(ct.transpose(0, 3, 1, 2)))
        shape = (64, 32, 3, 3)
        f = lambda: torch.nn.grad.conv2d_weight(xt, shape, ctt, padding=1)  # noqa: E731
        return 1e3 * per_call(f, lambda r: r, t), float(f().sum())
    fw = load(framework)
    x, ct, w = (fw.asarray(a) for a in (x, ct, w))

    # NOTE: x and ct are arguments, not closed-over constants, or XLA constant-folds the
    # whole gradient at compile time.
    def f(w, x, ct):
        y = fw.lax.conv_general_dilated(x, w, (1, 1), "SAME",
                                        dimension_numbers=("NHWC", "HWIO", "NHWC"))
        return fw.np.sum(y * ct)

    g = fw.jit(fw.grad(f))
    return (1e3 * per_call(lambda: g(w, x, ct), fw.block, t),
            float(fw.np.sum(g(w, x, ct))))


def run(framework: str, quick: bool) -> dict:
    out = time_train_step(framework, quick, cnn_train_setup, torch_cnn_train_setup)
    ms, total = conv2_wgrad_ms(framework, 0.5 if quick else 2.0)
    out["conv2_wgrad_ms"] = ms
    out["check"]["conv2_wgrad_sum"] = total
    return out


if __name__ == "__main__":
    main(run)
