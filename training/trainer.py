"""The training loop: a pure jitted (or pmapped) train step, evaluation, checkpoints.

>>> import tempfile
>>> from lamina import optim
>>> from lamina.training import data, models
>>> ds = data.load_dataset("synthetic", n=128, dim=4, classes=2)
>>> model = models.get_model("mlp", num_outputs=2, hidden=(8,))
>>> result = fit(model, optim.adam(1e-2), ds, steps=20, batch_size=16, log_every=10,
...              progress="none", output_dir=tempfile.mkdtemp())
>>> result.step, result.eval_metrics["accuracy"] > 0.5
(20, True)

This module holds `Trainer` and `fit`; `build_optimizer` (in `.optimizers`) and
`trainer_from_config`/`init_distributed` (in `.launch`) are re-exported here.
"""
from __future__ import annotations

import dataclasses
import os
import queue
import signal
import threading
import time
from typing import Any, Optional

import numpy as np

import lamina
import lamina.numpy as lnp
from lamina import lax, optim, random, tree_util

from .data import BatchIterator, Dataset
from .optimizers import build_optimizer, find_learning_rate

__all__ = ["Trainer", "fit", "TrainResult", "TrainingError", "build_optimizer",
           "init_distributed"]


_PRECISIONS = {"f32": "f32", "float32": "f32", "bf16": "bf16", "bfloat16": "bf16",
               "f16": "f16", "float16": "f16"}


class TrainingError(RuntimeError):
    """Training cannot go on (a non-finite loss with on_nan=stop, ...)."""


@dataclasses.dataclass
class TrainResult:
    step: int
    params: Any
    ema_params: Any
    model_state: Any
    train_metrics: dict
    eval_metrics: dict
    nan_skips: int
    preempted: bool
    run_dir: Optional[str]


def _cross_entropy(out, y):
    logits = out.astype(lnp.float32)
    losses = optim.softmax_cross_entropy_with_integer_labels(logits, y)
    correct = (lnp.argmax(logits, axis=-1) == y).astype(lnp.float32)
    return losses, {"accuracy": correct}


def _mse(out, y):
    err = lnp.square(out.astype(lnp.float32) - y.astype(lnp.float32))
    return err.reshape(err.shape[0], -1).mean(axis=1), {}


def _apply(model, variables, x, train, rng):
    """Run a model with lamina.nn's interface; returns (output, new model state)."""
    has_state = bool(variables.get("state"))
    kwargs = {"train": train}
    if rng is not None:
        kwargs["rngs"] = {"dropout": rng}
    if train and has_state:
        out, new = model.apply(variables, x, mutable=True, **kwargs)
        if isinstance(new, dict) and "state" in new:
            new = new["state"]
        return out, new
    out = model.apply(variables, x, **kwargs)
    if isinstance(out, tuple) and len(out) == 2 and not has_state and isinstance(out[1], dict):
        out = out[0]
    return out, variables.get("state", {})


class Trainer:
    """Trains ``model`` (lamina.nn interface, see :mod:`.models`) with ``optimizer`` on
    ``data``; checkpoints to ``output_dir/checkpoints`` and resumes exactly.

    ``loss``: ``"auto"`` (cross entropy for classification, MSE for regression),
    ``"cross_entropy"``, ``"mse"``, or a callable ``(outputs, labels) -> (per-example
    losses, {name: per-example metric})``.

    ``devices``: this process's devices to train on, data parallel; ``strategy``:
    ``"pmap"`` (a replicated state per device, gradients all-reduced with ``pmean``) or
    ``"mesh"`` (one sharded ``jit`` over a 1-D mesh: params replicated, batch split; one
    process only). After ``lamina.distributed.initialize`` the pmap spans every
    process's devices: each process reads its slice of every global ``batch_size``
    batch, process 0 alone logs and writes checkpoints (the output directory must be
    shared), and all processes resume from the step process 0 picks. Checkpoints hold
    device-independent state, so a run resumes on another device count.
    """

    _fit_calls = 0

    def __init__(self, model, optimizer, data: Dataset, *, steps=None, epochs=None,
                 batch_size=64, loss="auto", seed=0, output_dir=None, resume="auto",
                 log_every=10, eval_every=0, eval_batch_size=256, checkpoint_every=0,
                 keep=3, keep_best=None, keep_best_mode="auto", precision="f32",
                 on_nan="stop", accumulation_steps=1, ema_decay=None, devices=1,
                 progress="auto", config=None, async_checkpointing=True,
                 loss_scale=2.0 ** 15, loss_scale_period=2000, strategy="pmap"):
        self.model, self.tx, self.data = model, optimizer, data
        self.batch_size, self.seed = batch_size, seed
        self.output_dir, self.resume = output_dir, resume
        self.log_every, self.eval_every = log_every, eval_every
        self.eval_batch_size = eval_batch_size
        self.checkpoint_every, self.keep = checkpoint_every, keep
        if precision not in _PRECISIONS:
            raise ValueError(f"Trainer: precision must be one of {', '.join(_PRECISIONS)}; "
                             f"got {precision!r}")
        self.precision, self.on_nan = _PRECISIONS[precision], on_nan
        self.loss_scale, self.loss_scale_period = float(loss_scale), int(loss_scale_period)
        self.keep_best = keep_best
        if keep_best is not None and not keep_best.startswith("eval/"):
            raise ValueError(f"Trainer: keep_best must name an eval metric like "
                             f"'eval/accuracy'; got {keep_best!r}")
        if keep_best_mode == "auto":
            keep_best_mode = "min" if keep_best and "loss" in keep_best else "max"
        if keep_best_mode not in ("max", "min"):
            raise ValueError(f"Trainer: keep_best_mode must be 'auto', 'max' or 'min'; got "
                             f"{keep_best_mode!r}")
        self.keep_best_mode = keep_best_mode
        self.accum, self.ema_decay = accumulation_steps, ema_decay
        self.n_dev, self.progress, self.config = devices, progress, config
        self.async_checkpointing = async_checkpointing
        if on_nan not in ("stop", "skip"):
            raise ValueError(f"Trainer: on_nan must be 'stop' or 'skip', got {on_nan!r}")
        if strategy not in ("pmap", "mesh"):
            raise ValueError(f"Trainer: strategy must be 'pmap' or 'mesh'; got {strategy!r}")
        from .config import ConfigError
        if devices > lamina.local_device_count():
            raise ConfigError(
                f"devices.count={devices} but only {lamina.local_device_count()} device(s) "
                f"are visible; on a CPU set LAMINA_NUM_CPU_DEVICES={devices} before "
                f"starting")
        # NOTE: after lamina.distributed.initialize, ``devices`` counts this process's
        # devices; every process trains on its slice of each global batch.
        self.process_index, self.process_count = lamina.process_index(), lamina.process_count()
        n_global = devices * self.process_count
        if strategy == "mesh" and self.process_count > 1:
            raise ConfigError("devices.strategy=mesh runs in one process only (a sharded jit "
                              "spanning processes is not supported yet); use "
                              "devices.strategy=pmap for multi-process training")
        if batch_size % (n_global * accumulation_steps):
            raise ConfigError(
                f"Trainer: the global batch_size={batch_size} must be divisible by devices "
                f"({devices} per process x {self.process_count} process(es)) x "
                f"accumulation_steps ({accumulation_steps}) = "
                f"{n_global * accumulation_steps}")
        self.strategy = strategy
        self._mode = ("pmap" if strategy == "pmap" and n_global > 1 else
                      "mesh" if strategy == "mesh" and devices > 1 else "single")
        self.iterator = BatchIterator(len(data.x_train), batch_size, seed,
                                      shard=(self.process_index, self.process_count))
        if steps is None:
            if epochs is None:
                raise ValueError("Trainer: give steps= or epochs=")
            steps = epochs * self.iterator.batches_per_epoch
        self.steps = int(steps)
        if callable(loss):
            self.loss_fn = loss
        else:
            if loss == "auto":
                loss = "cross_entropy" if data.task == "classification" else "mse"
            self.loss_fn = {"cross_entropy": _cross_entropy, "mse": _mse}[loss]
        self._stop_signal = None
        # NOTE: private switch (tests): False feeds host batches to the step as before.
        self._prefetch_to_device = True
        self._build_steps()
        if keep_best is not None:
            names = self.eval_metric_names()
            if keep_best[len("eval/"):] not in names:
                raise ConfigError(
                    f"train.keep_best={keep_best!r} is not a metric the evaluation "
                    f"produces; it produces: "
                    f"{', '.join('eval/' + n for n in names) or 'nothing (no eval split)'}")

    # --- state ---------------------------------------------------------------------

    def init_state(self):
        key = random.PRNGKey(self.seed)
        init_key, rng = random.split(key)
        x = lnp.asarray(np.asarray(self.data.x_train[:1]))
        variables = self.model.init(init_key, x)
        params = variables["params"]
        state = {
            "step": lnp.zeros((), lnp.int32),
            "params": params,
            "model_state": variables.get("state", {}),
            "opt_state": self.tx.init(params),
            "rng": random.key_data(rng) if hasattr(random, "key_data") else rng,
            "nan_skips": lnp.zeros((), lnp.int32),
            "first_bad_step": lnp.full((), -1, lnp.int32),
            "first_bad_leaf": lnp.full((), -1, lnp.int32),
        }
        if self.ema_decay is not None:
            state["ema"] = tree_util.tree_map(lambda p: p, params)
        if self.precision == "f16":
            state["loss_scale"] = lnp.asarray(self.loss_scale, lnp.float32)
            state["good_steps"] = lnp.zeros((), lnp.int32)
        return state

    # --- the step --------------------------------------------------------------------

    def eval_metric_names(self) -> list:
        """The names :meth:`evaluate` returns (``loss``, the loss function's metrics and,
        with EMA, ``ema_``-prefixed copies), found by abstract evaluation: nothing runs.

        >>> from lamina import optim
        >>> from lamina.training import data, models
        >>> ds = data.load_dataset("synthetic", n=32, dim=4, classes=2)
        >>> t = Trainer(models.get_model("mlp", num_outputs=2, hidden=(4,)), optim.sgd(0.1),
        ...             ds, steps=1, batch_size=8, ema_decay=0.9)
        >>> t.eval_metric_names()
        ['accuracy', 'loss', 'ema_accuracy', 'ema_loss']
        """
        if len(self.data.x_eval) == 0:
            return []
        state = lamina.eval_shape(self.init_state)
        x, y = np.asarray(self.data.x_eval[:1]), np.asarray(self.data.y_eval[:1])
        sums = lamina.eval_shape(self._eval_step, state["params"], state["model_state"], x, y,
                                 np.ones(1, np.float32))
        names = sorted(sums)
        return names + [f"ema_{n}" for n in names] if self.ema_decay is not None else names

    def _build_steps(self):
        model, tx, loss_fn = self.model, self.tx, self.loss_fn
        accum, ema_decay, multi = self.accum, self.ema_decay, self._mode == "pmap"
        compute = {"bf16": lnp.bfloat16, "f16": lnp.float16}.get(self.precision)
        f16, period = self.precision == "f16", self.loss_scale_period

        def cast(params, x):
            if compute is None:
                return params, x
            params = tree_util.tree_map(
                lambda p: p.astype(compute) if lnp.issubdtype(p.dtype, lnp.floating)
                else p, params)
            if lnp.issubdtype(x.dtype, lnp.floating):
                x = x.astype(compute)
            return params, x

        def compute_loss(params, model_state, x, y, rng, train, scale):
            params, x = cast(params, x)
            variables = {"params": params}
            if model_state:
                variables["state"] = model_state
            out, new_state = _apply(model, variables, x, train, rng)
            losses, metrics = loss_fn(out, y)
            loss = losses.mean()
            # NOTE: f16 scales the loss so small gradients survive the f16 backward pass.
            scaled = loss if scale is None else loss * scale
            return scaled, (loss, {k: v.mean() for k, v in metrics.items()}, new_state)

        grad_fn = lamina.value_and_grad(compute_loss, has_aux=True)

        def train_step(state, x, y):
            rng, step_rng = random.split(state["rng"])
            if multi:
                step_rng = random.fold_in(step_rng, lax.axis_index("devices"))
            params = state["params"]
            scale = state["loss_scale"] if f16 else None
            if accum == 1:
                (_, (loss, metrics, new_ms)), grads = grad_fn(
                    params, state["model_state"], x, y, step_rng, True, scale)
            else:
                xs = x.reshape((accum, x.shape[0] // accum) + x.shape[1:])
                ys = y.reshape((accum, y.shape[0] // accum) + y.shape[1:])

                def body(carry, mb):
                    g_sum, ms, i = carry
                    (_, (l, m, ms)), g = grad_fn(params, ms, mb[0], mb[1],
                                                 random.fold_in(step_rng, i), True, scale)
                    g_sum = tree_util.tree_map(lnp.add, g_sum, g)
                    return (g_sum, ms, i + 1), (l, m)

                zeros = tree_util.tree_map(lnp.zeros_like, params)
                (g_sum, new_ms, _), (ls, ms_) = lax.scan(
                    body, (zeros, state["model_state"], lnp.zeros((), lnp.int32)), (xs, ys))
                grads = tree_util.tree_map(lambda g: g / accum, g_sum)
                loss = ls.mean()
                metrics = {k: v.mean() for k, v in ms_.items()}
            if f16:
                grads = tree_util.tree_map(lambda g: g / scale.astype(g.dtype), grads)
            if multi:
                grads = lax.pmean(grads, "devices")
                loss = lax.pmean(loss, "devices")
                metrics = lax.pmean(metrics, "devices")
                new_ms = lax.pmean(new_ms, "devices")
            updates, new_opt = tx.update(grads, state["opt_state"], params)
            new_params = optim.apply_updates(params, updates)
            leaves = tree_util.tree_leaves(grads)
            leaf_ok = lnp.stack([lnp.all(lnp.isfinite(g)) for g in leaves]) if leaves else (
                lnp.ones((1,), bool))
            finite = lnp.isfinite(loss) & lnp.all(leaf_ok)
            # NOTE: f16: non-finite gradients of a finite loss are a loss-scale overflow:
            # skip the step and halve the scale (not a NaN event unless the scale is 1).
            overflow = (lnp.isfinite(loss) & ~finite & (scale > 1.0)) if f16 else (
                lnp.zeros((), bool))
            nan_event = ~finite & ~overflow
            new = dict(state)
            if f16:
                good = lnp.where(finite, state["good_steps"] + 1, 0)
                grow = good >= period
                new["loss_scale"] = lnp.where(
                    finite, lnp.where(grow, scale * 2.0, scale),
                    lnp.maximum(scale * 0.5, 1.0)).astype(lnp.float32)
                new["good_steps"] = lnp.where(grow, 0, good).astype(lnp.int32)
            new["rng"] = rng
            new["step"] = state["step"] + 1

            def select(a, b):
                return tree_util.tree_map(lambda u, v: lnp.where(finite, u, v), a, b)

            new["params"] = select(new_params, params)
            new["opt_state"] = select(new_opt, state["opt_state"])
            new["model_state"] = select(new_ms, state["model_state"])
            if ema_decay is not None:
                ema = tree_util.tree_map(
                    lambda e, p: (ema_decay * e + (1 - ema_decay) * p).astype(e.dtype),
                    state["ema"], new_params)
                new["ema"] = select(ema, state["ema"])
            new["nan_skips"] = state["nan_skips"] + nan_event.astype(lnp.int32)
            first_bad = state["first_bad_step"] < 0
            bad_leaf = lnp.argmin(lnp.concatenate([leaf_ok, lnp.zeros((1,), bool)]))
            new["first_bad_step"] = lnp.where(first_bad & nan_event, state["step"] + 1,
                                              state["first_bad_step"])
            new["first_bad_leaf"] = lnp.where(first_bad & nan_event,
                                              bad_leaf.astype(lnp.int32),
                                              state["first_bad_leaf"])
            out = {"loss": loss, "grad_norm": optim.global_norm(grads), **metrics}
            lr = find_learning_rate(state["opt_state"])
            if lr is not None:
                out["learning_rate"] = lnp.asarray(lr, lnp.float32)
            if f16:
                out["loss_scale"] = new["loss_scale"]
            return new, out

        # NOTE: across processes the step also all-reduces a stop flag (SIGTERM seen by
        # any process), so every process stops, saves and exits after the same step.
        self._sync_stop = multi and self.process_count > 1
        if self._sync_stop:
            def step_fn(state, x, y, stop):
                new, out = train_step(state, x, y)
                return new, dict(out, stop=lax.pmax(stop, "devices"))
            self._train_step = lamina.pmap(step_fn, axis_name="devices")
        elif multi:
            self._train_step = lamina.pmap(train_step, axis_name="devices")
        elif self._mode == "mesh":
            # NOTE: data parallel as one SPMD program: params and optimizer state
            # replicated, the batch split over a 1-D mesh; the partitioner inserts the
            # gradient all-reduce that pmap's pmean spells out.
            from lamina.sharding import Mesh, NamedSharding, PartitionSpec
            mesh = Mesh(np.array(lamina.local_devices()[:self.n_dev]), ("devices",))
            repl = NamedSharding(mesh, PartitionSpec())
            split = NamedSharding(mesh, PartitionSpec("devices"))
            self._batch_sharding = split
            self._train_step = lamina.jit(train_step, in_shardings=(repl, split, split),
                                          out_shardings=(repl, repl))
        else:
            self._train_step = lamina.jit(train_step)

        def eval_step(params, model_state, x, y, weight):
            params, x = cast(params, x)
            variables = {"params": params}
            if model_state:
                variables["state"] = model_state
            out, _ = _apply(model, variables, x, False, None)
            losses, metrics = loss_fn(out, y)
            losses = losses.reshape(losses.shape[0], -1).mean(axis=1)
            sums = {"loss": (losses * weight).sum()}
            for k, v in metrics.items():
                v = v.reshape(v.shape[0], -1).mean(axis=1)
                sums[k] = (v * weight).sum()
            return sums

        self._eval_step = lamina.jit(eval_step)

    # --- evaluation --------------------------------------------------------------------

    def evaluate(self, params, model_state=None) -> dict:
        """Mean loss and metrics over the eval split (padded last batch, weighted)."""
        x_all, y_all = self.data.x_eval, self.data.y_eval
        n = len(x_all)
        if n == 0:
            return {}
        bs = min(self.eval_batch_size, n)
        totals = None
        for start in range(0, n, bs):
            x = np.asarray(x_all[start:start + bs])
            y = np.asarray(y_all[start:start + bs])
            w = np.ones(len(x), np.float32)
            if len(x) < bs:
                pad = bs - len(x)
                x = np.concatenate([x, np.repeat(x[:1], pad, 0)])
                y = np.concatenate([y, np.repeat(y[:1], pad, 0)])
                w = np.concatenate([w, np.zeros(pad, np.float32)])
            sums = self._eval_step(params, model_state or {}, x, y, w)
            sums = {k: float(v) for k, v in sums.items()}
            totals = sums if totals is None else {k: totals[k] + sums[k] for k in sums}
        return {k: v / n for k, v in totals.items()}

    # --- batches ---------------------------------------------------------------------

    def _batch_placement(self):
        """``(x, y) host batch -> (x, y) on the step's devices``: one device; under pmap
        a ``(local devices, per-device batch, ...)`` Array split the way pmap splits it
        (so the step takes it without a copy); under mesh, the ``NamedSharding`` of the
        step's ``in_shardings``."""
        if self._mode == "single":
            device = lamina.local_devices()[0]
            return lambda batch: lamina.device_put(batch, device)
        if self._mode == "mesh":
            split = self._batch_sharding
            return lambda batch: lamina.device_put(batch, split)
        from lamina.sharding import PmapSharding
        # NOTE: the devices pmap maps this process's slices to: its first n_dev devices,
        # in the order lamina.devices() lists them when several processes take part.
        me = self.process_index
        mine = ([d for d in lamina.devices() if d.process_index == me]
                if self.process_count > 1 else lamina.local_devices())
        sharding = PmapSharding(mine[:self.n_dev])
        return lambda batch: tuple(lamina.make_array_from_process_local_data(sharding, b)
                                   for b in batch)

    def _batches(self):
        """Background thread gathering upcoming batches and copying them to the step's
        devices (``_prefetch_to_device``); yields (x, y, iterator state after the batch).

        At most 2 batches wait in the queue. On close (the end of training, an error,
        a preemption) the thread is stopped and joined and the iterator is set back to
        the position of the batches *consumed*, not of those prefetched."""
        q: queue.Queue = queue.Queue(maxsize=2)
        stop = threading.Event()
        x_all, y_all = self.data.x_train, self.data.y_train
        n_dev = self.n_dev if self._mode == "pmap" else None
        place = self._batch_placement() if self._prefetch_to_device else None
        consumed = self.iterator.state()

        def offer(item):
            while not stop.is_set():
                try:
                    q.put(item, timeout=0.1)
                    return
                except queue.Full:
                    pass

        def producer():
            try:
                while not stop.is_set():
                    idx = self.iterator.next()
                    x, y = np.asarray(x_all[idx]), np.asarray(y_all[idx])
                    if n_dev is not None:
                        x = x.reshape((n_dev, -1) + x.shape[1:])
                        y = y.reshape((n_dev, -1) + y.shape[1:])
                    if place is not None:
                        x, y = place((x, y))
                    offer((x, y, self.iterator.state()))
            except BaseException as e:  # surfaced in the training thread
                offer(e)

        t = threading.Thread(target=producer, daemon=True, name="lamina-prefetch")
        t.start()
        try:
            while True:
                try:
                    item = q.get(timeout=1.0)
                except queue.Empty:
                    if t.is_alive() or not q.empty():
                        continue
                    raise TrainingError("the batch prefetch thread ended without a batch "
                                        "or an error") from None
                if isinstance(item, BaseException):
                    raise item
                consumed = item[2]
                yield item
        finally:
            stop.set()
            t.join()
            # NOTE: the producer ran up to 3 batches ahead (2 queued, 1 in hand).
            self.iterator.restore(consumed)

    # --- the loop --------------------------------------------------------------------

    def _replicate(self, tree):
        """Device-independent state -> what the step takes (one copy per local device
        under pmap; a sharded jit places replicated state itself)."""
        if self._mode != "pmap":
            return tree
        n = self.n_dev
        return tree_util.tree_map(
            lambda x: np.broadcast_to(np.asarray(x), (n,) + np.shape(x)).copy(), tree)

    def _unreplicate(self, tree):
        """The inverse of :meth:`_replicate`, on the host for pmap and mesh states."""
        if self._mode == "single":
            return tree
        if self._mode == "mesh":
            return tree_util.tree_map(np.asarray, tree)
        return tree_util.tree_map(lambda x: np.asarray(x)[0], tree)

    def _host_state(self, state):
        return tree_util.tree_map(np.asarray, self._unreplicate(state))

    def _leaf_name(self, state, index):
        paths = tree_util.tree_leaves_with_path(state["params"])
        if 0 <= index < len(paths):
            return "params" + tree_util.keystr(paths[index][0])
        return "the loss"

    def _agree(self, name, compute):
        """``compute()`` on process 0, its (JSON-able) value shared with every process
        through the coordination service's key-value store (no-op with one process)."""
        import json
        from lamina import distributed
        if self.process_count == 1:
            return compute()
        key = f"lamina/training/fit{self._fit_id}/{name}"
        if self.process_index == 0:
            try:
                value = compute()
            except BaseException as e:
                distributed.key_value_set(key, json.dumps({"error": f"{e}"}),
                                          allow_overwrite=True)
                raise
            distributed.key_value_set(key, json.dumps({"value": value}),
                                      allow_overwrite=True)
            return value
        got = json.loads(distributed.key_value_get(key))
        if "error" in got:
            raise TrainingError(f"process 0 failed before training: {got['error']}")
        return got["value"]

    def fit(self) -> TrainResult:
        from lamina import distributed

        from .checkpoint import Checkpointer, find_checkpoint_dir
        from .logging import MetricLogger

        # NOTE: the same count on every process (they run the same program), so the
        # key-value keys of this call never meet a stale value of an earlier call.
        Trainer._fit_calls += 1
        self._fit_id = Trainer._fit_calls
        main = self.process_index == 0
        run_dir = self.output_dir
        ckpt = None
        state = self.init_state()
        start_step = 0
        if run_dir is not None:
            ckpt_dir = os.path.join(run_dir, "checkpoints")
            if main:
                os.makedirs(run_dir, exist_ok=True)
                # NOTE: only process 0 writes checkpoints. orbax's multi-host protocol
                # needs jax.distributed (jax's own process count and barriers), which a
                # lamina run does not start; the replicated state is identical on every
                # process, so process 0 saves it whole and the others never write.
                ckpt = Checkpointer(ckpt_dir, keep=self.keep,
                                    async_save=self.async_checkpointing,
                                    best_metric=self.keep_best,
                                    best_mode=self.keep_best_mode)
            if self.resume == "auto":
                source_dir, given_step = ckpt_dir, None
            elif self.resume not in ("never", None):
                source_dir, given_step = find_checkpoint_dir(self.resume)
            else:
                source_dir = given_step = None

            def pick():
                fresh = source_dir is None or source_dir != ckpt_dir or (
                    given_step is not None)
                existing = ckpt.all_steps() if fresh else []
                if existing:
                    from .config import ConfigError
                    # NOTE: a new run would collide with (or interleave) these steps.
                    raise ConfigError(
                        f"run.resume={self.resume!r} but {ckpt_dir} already holds "
                        f"checkpoints (steps {', '.join(map(str, existing))}); use a new "
                        f"run.output_dir, remove them, or run.resume=auto to continue")
                if source_dir is None or given_step is not None:
                    return given_step
                found = (ckpt if source_dir == ckpt_dir else Checkpointer(source_dir)
                         ).latest_step()
                if found is None and self.resume != "auto":
                    raise TrainingError(f"run.resume={self.resume!r}: no checkpoint there")
                return found

            # NOTE: every process restores the step process 0 chose (a shared run
            # directory is required, as for orbax across hosts).
            source_step = self._agree("resume_step", pick)
            if source_step is not None:
                if main and source_dir == ckpt_dir:
                    source = ckpt
                else:
                    source = Checkpointer(source_dir, keep=self.keep, read_only=not main)
                state, meta = source.restore(source_step, state)
                if source is not ckpt:
                    source.close()
                self.iterator.restore(meta["data"])
                start_step = int(meta["step"])
        if self.config is not None and run_dir is not None and main:
            from .config import dump
            dump(self.config, os.path.join(run_dir, "config.yaml"))

        logger = MetricLogger(run_dir, self.steps, progress=self.progress,
                              initial_step=start_step, enabled=run_dir is not None and main)
        if self.config is not None and start_step == 0:
            from .config import to_dict
            logger.hparams(_flatten(to_dict(self.config)))
        if start_step:
            logger.message(f"resumed from step {start_step}")

        # NOTE: checkpoints hold one unreplicated copy of the state, so a run resumes on
        # any device count; it is replicated here for the current one.
        state = self._replicate(state)
        stop_flag = {"sig": None}
        old_handlers = {}

        def on_signal(signum, frame):
            stop_flag["sig"] = signum

        if threading.current_thread() is threading.main_thread():
            for s in (signal.SIGTERM, signal.SIGINT):
                old_handlers[s] = signal.signal(s, on_signal)

        step = start_step
        metrics, eval_metrics, preempted, evaluated_at = {}, {}, False, None
        last_saved = start_step if start_step else None
        t0, t_step = time.time(), start_step
        saving = run_dir is not None
        n_flags = self.n_dev
        # NOTE: the position after the last batch consumed (not prefetched) is saved.
        self._data_state = self.iterator.state()
        batches = self._batches() if step < self.steps else iter(())
        try:
            for x, y, data_state in batches:
                if step >= self.steps:
                    break
                if self._sync_stop:
                    flag = np.full((n_flags,), stop_flag["sig"] is not None, np.int32)
                    state, out = self._train_step(state, x, y, flag)
                    stopping = bool(np.asarray(out.pop("stop")).max())
                else:
                    state, out = self._train_step(state, x, y)
                    stopping = stop_flag["sig"] is not None
                step += 1
                self._data_state = data_state
                log_now = step % self.log_every == 0 or step == self.steps
                ckpt_now = saving and (
                    step == self.steps or stopping or
                    (self.checkpoint_every and step % self.checkpoint_every == 0))
                if log_now or ckpt_now:
                    self._check_finite(state)
                if log_now:
                    metrics = {k: float(np.mean(np.asarray(v))) for k, v in out.items()}
                    now = time.time()
                    metrics["steps_per_sec"] = (step - t_step) / max(now - t0, 1e-9)
                    t0, t_step = now, step
                    values = {f"train/{k}": v for k, v in metrics.items()}
                    if self.on_nan == "skip":
                        values["train/nan_skips"] = float(
                            np.asarray(self._unreplicate(state["nan_skips"])))
                    logger.scalars(step, values)
                    logger.progress_update(step, values)
                if self.eval_every and step % self.eval_every == 0 and step != self.steps:
                    eval_metrics, evaluated_at = self._run_eval(state, logger, step), step
                if ckpt_now and self.keep_best and evaluated_at != step and (
                        not stopping or step == self.steps):
                    # NOTE: rank every regular checkpoint (a preemption save is unranked).
                    eval_metrics, evaluated_at = self._run_eval(state, logger, step), step
                if ckpt_now:
                    if ckpt is not None:
                        ckpt.save(step, self._host_state(state), self._meta(data_state),
                                  metrics=self._ckpt_metrics(eval_metrics, evaluated_at,
                                                             step))
                    last_saved = step
                if stopping and step < self.steps:
                    preempted = True
                    sig = stop_flag["sig"]
                    what = f"signal {sig}" if sig is not None else (
                        "a stop request from another process")
                    logger.message(f"received {what}: saved step {step}, exiting (rerun "
                                   f"to resume)")
                    break
                if step >= self.steps:
                    break
            if not preempted and evaluated_at != step:
                eval_metrics, evaluated_at = self._run_eval(state, logger, step), step
            if saving and last_saved != step:
                if ckpt is not None:
                    ckpt.save(step, self._host_state(state), self._meta(self._data_state),
                              metrics=self._ckpt_metrics(eval_metrics, evaluated_at, step))
                last_saved = step
            if ckpt is not None:
                ckpt.wait()
            # NOTE: no process returns before process 0's last checkpoint is complete.
            distributed.barrier(f"lamina/training/fit{self._fit_id}/done")
        finally:
            if hasattr(batches, "close"):
                batches.close()
            if ckpt is not None:
                ckpt.close()
            logger.close()
            for s, h in old_handlers.items():
                signal.signal(s, h)
        host = self._host_state(state)
        return TrainResult(step=step, params=host["params"], ema_params=host.get("ema"),
                           model_state=host["model_state"], train_metrics=metrics,
                           eval_metrics=eval_metrics, nan_skips=int(host["nan_skips"]),
                           preempted=preempted, run_dir=run_dir)

    def _meta(self, data_state):
        from .config import to_dict
        meta = {"data": dict(data_state, batch_size=self.batch_size)}
        if self.config is not None:
            meta["config"] = to_dict(self.config)
        return meta

    def _ckpt_metrics(self, eval_metrics, evaluated_at, step):
        if not self.keep_best or evaluated_at != step:
            return None
        name = self.keep_best[len("eval/"):]
        if name not in eval_metrics:
            from .config import ConfigError
            raise ConfigError(
                f"train.keep_best={self.keep_best!r}: evaluation gives no {name!r}; "
                f"available: {', '.join('eval/' + k for k in sorted(eval_metrics))}")
        return {self.keep_best: eval_metrics[name]}

    def _run_eval(self, state, logger, step):
        host = self._unreplicate(state)
        result = self.evaluate(host["params"], host["model_state"])
        if self.ema_decay is not None:
            ema = self.evaluate(host["ema"], host["model_state"])
            result.update({f"ema_{k}": v for k, v in ema.items()})
        if result:
            logger.scalars(step, {f"eval/{k}": v for k, v in result.items()})
            logger.message(f"eval at step {step}: " +
                           " ".join(f"{k} {v:.4f}" for k, v in result.items()))
        return result

    def _check_finite(self, state):
        if self.on_nan != "stop":
            return
        # NOTE: only the two flags come to the host, not the whole (replicated) state.
        host = self._unreplicate({k: state[k] for k in ("first_bad_step", "first_bad_leaf")})
        bad = int(np.asarray(host["first_bad_step"]))
        if bad >= 0:
            leaf = self._leaf_name(state, int(np.asarray(host["first_bad_leaf"])))
            raise TrainingError(
                f"non-finite loss or gradient at step {bad} (first non-finite gradient "
                f"leaf: {leaf}); the parameters are those before that step and the last "
                f"checkpoint is kept. Lower the learning rate, clip gradients "
                f"(optim.clip_norm) or set train.on_nan=skip")


def _flatten(d, prefix=""):
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flatten(v, key + "."))
        elif isinstance(v, list):
            out[key] = str(v)
        else:
            out[key] = v
    return out


def fit(model, optimizer, data, **kwargs) -> TrainResult:
    """Train ``model`` with ``optimizer`` on ``data``; keyword arguments as for
    :class:`Trainer`. Returns a :class:`TrainResult`."""
    return Trainer(model, optimizer, data, **kwargs).fit()


# NOTE: starting a run from a config lives in a sibling module (this one would be too
# long); re-exported here (the CLI and tests import it from here). Imported last: it
# uses Trainer above.
from .launch import init_distributed, trainer_from_config  # noqa: E402,F401
