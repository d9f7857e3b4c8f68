"""(m) The accelerator path (issue 5's CUDA proof), run with `--only gpu` on a machine
with a GPU: `python benchmarks/compare.py --only gpu` (not in the default CPU set).

Every framework runs on the platform named by `BENCH_PLATFORM` (default `cuda`; lamina
through `LAMINA_PLATFORMS`, jax through `JAX_PLATFORMS`, torch as `torch.device`), and the
workload fails unless its arrays really live there. Measured:

* `jit_scalar_us`: dispatch of `jit(lambda x: x + 1)` on a device scalar (torch: eager);
* `eager_op_us`: eager `x * y + z` on 1000-vectors, per primitive;
* `matmul4096_ms`: one float32 4096 x 4096 matmul (highest precision: no TF32; 512 x
  512 on the CPU);
* `h2d_64MB_ms` / `d2h_64MB_ms`: a 64 MB host-to-device put and device-to-host read
  (each read makes a fresh device value first, `x + 0`, so no cached host copy is
  reused; that small op is included);
* `pmap1_psum_us` (lamina, jax): `pmap` of a `psum` over the first device;
* `first_step_s` / `step_ms`: the MLP train step of workload (c) (adam), with the loss
  at step 0 and after 3 steps checked across frameworks (looser than on the CPU: the
  GPU's reduction order differs between libraries).

`BENCH_PLATFORM=cpu` runs the same code on the CPU (CI's smoke test of this file).
"""
from __future__ import annotations

import os
import time

import numpy as onp

from benchmarks.workloads._common import (CHECK_STEPS, load, load_torch, main, per_call,
                                          time_train_step)
from benchmarks.workloads._models import mlp_train_setup, torch_mlp_train_setup

FRAMEWORKS = ("lamina", "jax", "torch")
CHECK_RTOL = {"jax": 1e-4, "torch": 1e-3}
_MB64 = 16 * 1024 * 1024  # float32 elements


def _platform() -> str:
    return os.environ.get("BENCH_PLATFORM", "cuda")


def run(framework: str, quick: bool) -> dict:
    platform = _platform()
    t = 0.3 if quick else 1.0
    if framework.startswith("torch"):
        return _run_torch(framework, quick, platform, t)
    # NOTE: before lamina/jax start their backends (they read these once).
    os.environ["LAMINA_PLATFORMS"] = platform
    os.environ["JAX_PLATFORMS"] = platform
    fw = load(framework)
    np = fw.np
    s = np.asarray(1.0, np.float32)
    device = next(iter(s.devices()))
    if (device.platform == "cpu") != (platform == "cpu"):  # jax names CUDA devices "gpu"
        raise SystemExit(f"gpu: {framework}'s array lives on {device}, not on {platform}")
    f = fw.jit(lambda x: x + 1)
    v, y, z = (np.full((1000,), c, np.float32) for c in (1.0, 2.0, 3.0))
    out = {"jit_scalar_us": 1e6 * per_call(lambda: f(s), fw.block, t),
           "eager_op_us": 1e6 * per_call(lambda: v * y + z, fw.block, t) / 2}

    n = _matmul_size(platform)
    a = np.asarray(onp.random.default_rng(0).standard_normal((n, n), onp.float32))
    highest = fw.lax.Precision.HIGHEST
    mm = fw.jit(lambda p, q: fw.np.matmul(p, q, precision=highest))
    out[f"matmul{n}_ms"] = 1e3 * per_call(lambda: mm(a, a), fw.block, t)

    host = onp.ones(_MB64, onp.float32)
    out["h2d_64MB_ms"] = 1e3 * per_call(lambda: np.asarray(host), fw.block, t)
    on_device = np.asarray(host)
    fw.block(on_device)
    out["d2h_64MB_ms"] = 1e3 * _timed_reads(lambda: onp.asarray(on_device + 0), t)

    psum = fw.pmap(lambda x: fw.lax.psum(x, "i"), axis_name="i", devices=[device])
    one = np.ones((1, 8), np.float32)
    out["pmap1_psum_us"] = 1e6 * per_call(lambda: psum(one), fw.block, t)
    onp.testing.assert_allclose(onp.asarray(psum(one)), 1.0)
    # NOTE: the shared train-step body loads the shim again (same module objects); its
    # torch half is `_run_torch`'s own.
    out.update(time_train_step(framework, quick, mlp_train_setup, torch_setup=None))
    return out


def _matmul_size(platform: str) -> int:
    return 512 if platform == "cpu" else 4096


def _timed_reads(read, min_time: float) -> float:
    """Seconds per call of `read` (a device-to-host read that returns host data)."""
    total, n = 0.0, 0
    while n < 3 or total < min_time:
        t0 = time.perf_counter()
        read()
        total += time.perf_counter() - t0
        n += 1
    return total / n


def _run_torch(framework: str, quick: bool, platform: str, t: float) -> dict:
    torch = load_torch(framework)
    if platform == "cuda" and not torch.cuda.is_available():
        raise SystemExit("gpu: torch sees no CUDA device")
    dev = torch.device(platform)
    sync = (lambda r: torch.cuda.synchronize()) if platform == "cuda" else (lambda r: r)
    s = torch.tensor(1.0, device=dev)
    v, y, z = (torch.full((1000,), c, device=dev) for c in (1.0, 2.0, 3.0))
    torch.backends.cuda.matmul.allow_tf32 = False
    n = _matmul_size(platform)
    a = torch.from_numpy(onp.random.default_rng(0).standard_normal((n, n), onp.float32))
    a = a.to(dev)
    host = torch.ones(_MB64)
    on_device = host.to(dev)
    with torch.no_grad():
        out = {"jit_scalar_us": 1e6 * per_call(lambda: s + 1, sync, t),
               "eager_op_us": 1e6 * per_call(lambda: v * y + z, sync, t) / 2,
               f"matmul{n}_ms": 1e3 * per_call(lambda: a @ a, sync, t),
               "h2d_64MB_ms": 1e3 * per_call(lambda: host.to(dev), sync, t),
               "d2h_64MB_ms": 1e3 * _timed_reads(lambda: (on_device + 0).cpu(), t)}
    _, step, _, _ = torch_mlp_train_setup(torch, device=dev)
    t0 = time.perf_counter()
    losses = [step().item()]
    out["first_step_s"] = time.perf_counter() - t0
    losses += [step().item() for _ in range(CHECK_STEPS)]
    out["step_ms"] = 1e3 * per_call(step, lambda r: r.item(), 0.5 if quick else 2.0)
    out["check"] = {"loss_step0": losses[0], f"loss_step{CHECK_STEPS}": losses[-1]}
    return out


if __name__ == "__main__":
    main(run)
