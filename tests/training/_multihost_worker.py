"""Subprocess side of test_multihost.py.

``python _multihost_worker.py train CONFIG [overrides...]``: ``lamina train`` (the
multi-process run's parameters come from the LAMINA_* environment variables).
``python _multihost_worker.py four OUT_DIR CONFIG``: with LAMINA_NUM_CPU_DEVICES=4, the
4-device runs (pmap, mesh, resume of a 1-device checkpoint), parameters written to
``OUT_DIR/<name>.npz``.
"""
from __future__ import annotations

import os
import sys


def small_trainer(out, steps, devices=1, **kw):
    """The tiny run every multi-device test trains (no dropout: device-count independent
    up to float rounding)."""
    from lamina import optim
    from lamina.training import Trainer, get_model, load_dataset
    ds = load_dataset("synthetic", n=128, dim=6, classes=3, seed=0)
    return Trainer(get_model("mlp", num_outputs=3, hidden=(8,)),
                   optim.inject_hyperparams(optim.adam)(learning_rate=1e-2), ds, steps=steps,
                   batch_size=24, output_dir=out, progress="none", log_every=5,
                   ema_decay=0.5, devices=devices, **kw)


def save(path, tree) -> None:
    import numpy as np
    from lamina import tree_util
    leaves = tree_util.tree_leaves_with_path(tree)
    np.savez(path, **{tree_util.keystr(p): np.asarray(v) for p, v in leaves})


def four(out: str, config: str) -> None:
    from lamina.training import config as C
    from lamina.training.trainer import trainer_from_config
    import lamina
    assert lamina.local_device_count() == 4
    save(os.path.join(out, "pmap4.npz"), small_trainer(None, 20, 4).fit().params)
    small_trainer(os.path.join(out, "saved4"), 10, 4).fit()      # resumed on 1 device
    save(os.path.join(out, "mesh4.npz"), small_trainer(None, 20, 4, strategy="mesh").fit().params)
    save(os.path.join(out, "mesh4_accum.npz"), small_trainer(
        None, 20, 4, strategy="mesh", accumulation_steps=2).fit().params)
    save(os.path.join(out, "pmap4_accum.npz"), small_trainer(
        None, 20, 4, accumulation_steps=2).fit().params)
    r = small_trainer(os.path.join(out, "saved1"), 20, 4).fit()   # saved on 1 device
    save(os.path.join(out, "resumed1to4.npz"), r.params)
    # the 2-process config on one process with 4 devices (every process's slice at once)
    cfg = C.load(config, ["devices.count=4", "devices.num_processes=1", "run.resume=never",
                          f"run.output_dir={os.path.join(out, 'cfg4')}"])
    save(os.path.join(out, "cfg4.npz"), trainer_from_config(cfg).fit().params)
    print("FOUR DONE", flush=True)


if __name__ == "__main__":
    # NOTE: tensorboardX imports torch when it is installed (only to accept torch
    # tensors): seconds per process that these runs do not need.
    sys.modules["torch"] = None  # type: ignore[assignment]
    if sys.argv[1] == "train":
        from lamina.training.cli import main
        sys.exit(main(["train", *sys.argv[2:]]))
    four(sys.argv[2], sys.argv[3])
