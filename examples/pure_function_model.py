"""A pure-function model (no lamina.nn) and a custom dataset, used by
``configs/pure_function.yaml``:

    lamina train configs/pure_function.yaml      # from the project root

The config names the functions as ``model.fn: examples.pure_function_model:apply`` and
``model.init: examples.pure_function_model:init``; its ``imports:`` entry imports this
module first, which registers the ``rings`` dataset. ``model.args`` reach both functions
as keyword arguments. Run this file directly to train the same model from Python with
``lamina.training.fit`` (progress lines on stderr, the eval accuracy at the end):

    python examples/pure_function_model.py [--steps 300] [--output-dir DIR]
"""
import math

import numpy as np

import lamina.numpy as lnp
from lamina import random
from lamina.training import Dataset, register_dataset


def init(key, x, hidden=32):
    """Params of a 2-layer tanh MLP for inputs like ``x`` (a batch), 2 classes."""
    k1, k2 = random.split(key)
    d = x.shape[-1]
    return {
        "hidden": {"kernel": random.normal(k1, (d, hidden)) / math.sqrt(d),
                   "bias": lnp.zeros((hidden,))},
        "head": {"kernel": random.normal(k2, (hidden, 2)) / math.sqrt(hidden),
                 "bias": lnp.zeros((2,))},
    }


def apply(params, x, hidden=32):
    """Logits ``(batch, 2)``; a plain function of the params, so jit/grad/vmap apply."""
    del hidden  # NOTE: the shapes live in params; the argument only sizes init.
    h = lnp.tanh(x @ params["hidden"]["kernel"] + params["hidden"]["bias"])
    return h @ params["head"]["kernel"] + params["head"]["bias"]


@register_dataset("rings")
def rings(seed=0, eval_fraction=0.2, n=1024, noise=0.1):
    """Two concentric noisy rings in 2-D (radius 1 and 2): class = the ring."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, size=n).astype(np.int32)
    angle = rng.uniform(0, 2 * np.pi, size=n)
    r = 1.0 + y + noise * rng.normal(size=n)
    x = np.stack([r * np.cos(angle), r * np.sin(angle)], axis=1).astype(np.float32)
    n_eval = int(round(n * eval_fraction))
    return Dataset(x[n_eval:], y[n_eval:], x[:n_eval], y[:n_eval], num_classes=2)


if __name__ == "__main__":
    import argparse
    import tempfile

    from lamina import optim
    from lamina.training import FunctionModel, fit

    parser = argparse.ArgumentParser(description="Train the pure-function model on rings.")
    parser.add_argument("--steps", type=int, default=300, help="training steps (default 300)")
    parser.add_argument("--output-dir", default=None,
                        help="run directory (checkpoints, metrics); default: a temporary one")
    args, _ = parser.parse_known_args()
    out = args.output_dir or tempfile.mkdtemp(prefix="pure_function_")
    result = fit(FunctionModel(apply, init), optim.adam(1e-2), rings(), steps=args.steps,
                 batch_size=64, log_every=max(1, args.steps // 4), progress="lines",
                 output_dir=out, resume="never")
    print(f"eval accuracy {result.eval_metrics['accuracy']:.4f} after {result.step} steps "
          f"(run directory {out})")
