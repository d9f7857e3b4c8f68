"""(k) End to end: `lamina train configs/mlp_digits.yaml` vs the equivalent hand-written
flax.linen + optax script (`flax_train` below), each a fresh process.

Same data (scikit-learn's digits, the same 80/20 split and per-epoch batch order as
lamina.training.data), model (MLP 64-128-64-10, ReLU), optimizer
(clip_by_global_norm(1.0), then adamw(weight_decay=1e-4, on kernels only) with
warmup_cosine_decay_schedule(0, 3e-3, 50, 1000)), EMA of the params (0.99), 1000 steps
of batch 64, eval of params and EMA every 250 steps and at the end, metrics every 50
steps to TensorBoard + metrics.jsonl, orbax checkpoints every 500 steps (keep 2). Each
library initialises from its own seed 0; lamina.random and lamina.nn's initializers
reproduce jax/flax bit for bit, so the final accuracies match (the check allows 1 %:
a few of the 359 eval examples). lamina runs with `LAMINA_CACHE_DIR=off` and a temporary
`run.output_dir`.

Metrics: `wall_s` (process start to exit, imports included), `test_error_pct` (100 x
(1 - final eval accuracy), a cost like the other metrics), `peak_rss_MB` of the child.
`--quick` trains 100 steps. lamina's step also runs its NaN guards and lr logging
(`inject_hyperparams`), which the hand-written script does not.
"""
from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FRAMEWORKS = ("lamina", "jax")
ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "configs" / "mlp_digits.yaml"
CHECK_RTOL = {"jax": 0.01}

# The hand-written script's settings, checked against CONFIG by `_check_config`.
SEED, EVAL_FRACTION, HIDDEN = 0, 0.2, (128, 64)
LR, WARMUP, DECAY_STEPS, WEIGHT_DECAY, CLIP, EMA = 3e-3, 50, 1000, 1e-4, 1.0, 0.99
STEPS, BATCH, LOG_EVERY, EVAL_EVERY, CKPT_EVERY, KEEP = 1000, 64, 50, 250, 500, 2


def _check_config() -> None:
    import yaml
    c = yaml.safe_load(CONFIG.read_text())
    o, t = c["optim"], c["train"]
    got = (c["run"]["seed"], c["data"]["eval_fraction"], tuple(c["model"]["args"]["hidden"]),
           o["schedule"]["peak_value"], o["schedule"]["warmup_steps"],
           o["schedule"]["decay_steps"], o["args"]["weight_decay"], o["clip_norm"],
           o["ema_decay"], t["steps"], t["batch_size"], t["log_every"], t["eval_every"],
           t["checkpoint_every"], t["keep"])
    want = (SEED, EVAL_FRACTION, HIDDEN, LR, WARMUP, DECAY_STEPS, WEIGHT_DECAY, CLIP, EMA,
            STEPS, BATCH, LOG_EVERY, EVAL_EVERY, CKPT_EVERY, KEEP)
    if (c["model"]["name"], c["data"]["name"], o["name"]) != ("mlp", "digits", "adamw") or (
            o["weight_decay_mask"] != ["**/kernel"] or got != want):
        raise SystemExit(f"train_e2e: {CONFIG} changed ({got}); update the flax script's "
                         f"settings {want} to match")


def flax_train(steps: int, output_dir: str) -> dict:
    """The hand-written flax.linen + optax equivalent of `lamina train mlp_digits.yaml`."""
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    import flax.linen as nn
    import jax
    import jax.numpy as jnp
    import numpy as np
    import optax
    import orbax.checkpoint as ocp
    from sklearn.datasets import load_digits
    from tensorboardX import SummaryWriter

    digits = load_digits()
    x_all = (digits.data / 16.0).astype(np.float32)
    y_all = digits.target.astype(np.int32)
    perm = np.random.default_rng([SEED, 12345]).permutation(len(x_all))
    n_eval = int(round(len(x_all) * EVAL_FRACTION))
    x_tr, y_tr = x_all[perm[n_eval:]], y_all[perm[n_eval:]]
    x_ev, y_ev = x_all[perm[:n_eval]], y_all[perm[:n_eval]]

    class MLP(nn.Module):
        @nn.compact
        def __call__(self, x):
            for h in HIDDEN:
                x = nn.relu(nn.Dense(h)(x))
            return nn.Dense(10)(x)

    model = MLP()
    init_key, _ = jax.random.split(jax.random.PRNGKey(SEED))
    params = model.init(init_key, x_tr[:1])["params"]
    schedule = optax.warmup_cosine_decay_schedule(0.0, LR, WARMUP, DECAY_STEPS)
    kernels = lambda p: jax.tree_util.tree_map_with_path(  # noqa: E731
        lambda path, _: path[-1].key == "kernel", p)
    tx = optax.chain(optax.clip_by_global_norm(CLIP),
                     optax.adamw(schedule, weight_decay=WEIGHT_DECAY, mask=kernels))
    state = {"params": params, "opt_state": tx.init(params), "ema": params,
             "step": jnp.zeros((), jnp.int32)}

    @jax.jit
    def train_step(state, x, y):
        def loss_fn(p):
            logits = model.apply({"params": p}, x)
            loss = optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()
            return loss, (jnp.argmax(logits, -1) == y).mean()
        (loss, acc), g = jax.value_and_grad(loss_fn, has_aux=True)(state["params"])
        updates, opt_state = tx.update(g, state["opt_state"], state["params"])
        params = optax.apply_updates(state["params"], updates)
        ema = jax.tree_util.tree_map(lambda e, p: EMA * e + (1 - EMA) * p, state["ema"],
                                     params)
        new = {"params": params, "opt_state": opt_state, "ema": ema,
               "step": state["step"] + 1}
        return new, {"loss": loss, "accuracy": acc, "grad_norm": optax.global_norm(g)}

    @jax.jit
    def eval_step(params, x, y):
        logits = model.apply({"params": params}, x)
        return (optax.softmax_cross_entropy_with_integer_labels(logits, y).mean(),
                (jnp.argmax(logits, -1) == y).mean())

    def evaluate(state):
        out = {}
        for prefix, p in (("", state["params"]), ("ema_", state["ema"])):
            loss, acc = eval_step(p, x_ev, y_ev)
            out[f"eval/{prefix}loss"], out[f"eval/{prefix}accuracy"] = float(loss), float(acc)
        return out

    os.makedirs(output_dir, exist_ok=True)
    writer = SummaryWriter(logdir=output_dir, flush_secs=5)
    jsonl = open(os.path.join(output_dir, "metrics.jsonl"), "a")
    ckpt = ocp.CheckpointManager(os.path.join(output_dir, "checkpoints"),
                                 options=ocp.CheckpointManagerOptions(max_to_keep=KEEP))

    def log(step, values):
        for k, v in values.items():
            writer.add_scalar(k, v, step)
        jsonl.write(json.dumps({"step": step, **values}) + "\n")
        print(f"step {step} " + " ".join(f"{k} {v:.4g}" for k, v in values.items()),
              flush=True)

    n_batches, epoch, pos, order = len(x_tr) // BATCH, 0, 0, None
    evals = {}
    for step in range(1, steps + 1):
        if pos >= n_batches or order is None:
            if order is not None:
                epoch, pos = epoch + 1, 0
            order = np.random.default_rng([SEED, epoch]).permutation(len(x_tr))
        idx = order[pos * BATCH:(pos + 1) * BATCH]
        pos += 1
        state, metrics = train_step(state, x_tr[idx], y_tr[idx])
        if step % LOG_EVERY == 0 or step == steps:
            log(step, {f"train/{k}": float(v) for k, v in metrics.items()}
                | {"train/learning_rate": float(schedule(step - 1))})
        if step % EVAL_EVERY == 0 or step == steps:
            evals = evaluate(state)
            log(step, evals)
        if step % CKPT_EVERY == 0 or step == steps:
            ckpt.save(step, args=ocp.args.StandardSave(state))
    ckpt.wait_until_finished()
    ckpt.close()
    writer.close()
    jsonl.close()
    return {"step": steps, **evals}


def run(framework: str, quick: bool) -> dict:
    if framework not in FRAMEWORKS:
        raise SystemExit(f"train_e2e: frameworks are {FRAMEWORKS}")
    _check_config()
    steps = 100 if quick else STEPS
    out_dir = tempfile.mkdtemp(prefix=f"bench-train-{framework}-")
    env = dict(os.environ)
    if framework == "lamina":
        exe = Path(sys.executable).with_name("lamina")
        cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "lamina.training"]
        cmd += ["train", str(CONFIG), f"run.output_dir={out_dir}", f"train.steps={steps}"]
        env["LAMINA_CACHE_DIR"] = "off"
    else:
        cmd = [sys.executable, "-m", __spec__.name, "--flax-script", out_dir, str(steps)]
    try:
        t0 = time.perf_counter()
        p = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True)
        wall = time.perf_counter() - t0
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)
    if p.returncode != 0:
        raise SystemExit(f"train_e2e: {' '.join(cmd)} failed:\n{p.stderr[-3000:]}")
    final = json.loads([ln for ln in p.stdout.splitlines() if ln.startswith("{")][-1])
    if final["step"] != steps:
        raise SystemExit(f"train_e2e: stopped at step {final['step']}, not {steps}")
    acc = final["eval/accuracy"]
    return {"wall_s": wall, "test_error_pct": 100 * (1 - acc),
            "peak_rss_MB": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
            "check": {"final_eval_accuracy": acc}}


if __name__ == "__main__":
    if "--flax-script" in sys.argv:
        i = sys.argv.index("--flax-script")
        print(json.dumps(flax_train(int(sys.argv[i + 2]), sys.argv[i + 1])), flush=True)
    else:
        from benchmarks.workloads._common import main
        main(run, rss=False)
