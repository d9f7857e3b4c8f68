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

__all__ = ["Trainer", "fit", "TrainResult", "TrainingError", "build_optimizer"]


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


def build_optimizer(name="adam", learning_rate=1e-3, args=None, schedule=None,
                    clip_norm=None, weight_decay_mask=None):
    """An optimizer from config values, its learning rate visible in its state.

    The alias is wrapped in ``inject_hyperparams`` so the current learning rate can be
    logged; ``schedule`` is ``{"name": <schedule>, **its args}``.

    >>> tx = build_optimizer("adamw", 1e-3, {"weight_decay": 0.01}, clip_norm=1.0)
    >>> round(float(find_learning_rate(tx.init({"w": lnp.zeros(2)}))), 6)
    0.001
    """
    from .config import ConfigError
    from .data import _check_args
    args = dict(args or {})
    alias = getattr(optim, name, None)
    if alias is None or name.startswith("_") or not callable(alias) or name in (
            "chain", "inject_hyperparams") or name.endswith("schedule") or name[0].isupper():
        import difflib
        known = [n for n in dir(optim.alias) if not n.startswith("_") and
                 callable(getattr(optim.alias, n)) and n[0].islower()]
        close = difflib.get_close_matches(name, known, n=3)
        hint = f"did you mean {', '.join(map(repr, close))}? " if close else ""
        raise ConfigError(f"unknown optimizer 'optim.name={name}': {hint}"
                          f"known: {', '.join(sorted(known))}")
    _check_args(alias, args, f"optim.args (optimizer {name!r})", skip=("learning_rate",))
    lr = learning_rate
    if schedule:
        sched = dict(schedule)
        sname = sched.pop("name", None)
        fn = getattr(optim, str(sname), None)
        if fn is None or not str(sname).endswith(("schedule", "decay")):
            raise ConfigError(f"unknown schedule 'optim.schedule.name={sname}'; use a "
                              f"lamina.optim schedule such as warmup_cosine_decay_schedule")
        _check_args(fn, sched, f"optim.schedule (schedule {sname!r})")
        try:
            lr = fn(**sched)
        except TypeError as e:
            raise ConfigError(f"optim.schedule {sname!r}: {e}") from None
    if weight_decay_mask:
        import inspect
        if "mask" not in inspect.signature(alias).parameters:
            raise ConfigError(f"optim.weight_decay_mask: optimizer {name!r} has no "
                              f"weight decay mask (use adamw, lion, lamb, ...)")
        args["mask"] = optim.mask_by_path(list(weight_decay_mask))
    static = [k for k, v in args.items() if not isinstance(v, (int, float)) or
              isinstance(v, bool)]
    try:
        tx = optim.inject_hyperparams(alias, static_args=static)(learning_rate=lr, **args)
    except TypeError as e:
        raise ConfigError(f"optimizer {name!r}: {e}") from None
    if clip_norm is not None:
        tx = optim.chain(optim.clip_by_global_norm(clip_norm), tx)
    return tx


def find_learning_rate(opt_state):
    """The ``learning_rate`` held by an ``inject_hyperparams`` state inside ``opt_state``."""
    if hasattr(opt_state, "hyperparams") and isinstance(opt_state.hyperparams, dict):
        if "learning_rate" in opt_state.hyperparams:
            return opt_state.hyperparams["learning_rate"]
    if isinstance(opt_state, (tuple, list)):
        for s in opt_state:
            lr = find_learning_rate(s)
            if lr is not None:
                return lr
    return None


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
    """

    def __init__(self, model, optimizer, data: Dataset, *, steps=None, epochs=None,
                 batch_size=64, loss="auto", seed=0, output_dir=None, resume="auto",
                 log_every=10, eval_every=0, eval_batch_size=256, checkpoint_every=0,
                 keep=3, keep_best=None, keep_best_mode="auto", precision="f32",
                 on_nan="stop", accumulation_steps=1, ema_decay=None, devices=1,
                 progress="auto", config=None, async_checkpointing=True,
                 loss_scale=2.0 ** 15, loss_scale_period=2000):
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
        if devices > lamina.local_device_count():
            from .config import ConfigError
            raise ConfigError(
                f"devices.count={devices} but only {lamina.local_device_count()} device(s) "
                f"are visible; on a CPU set LAMINA_NUM_CPU_DEVICES={devices} before "
                f"starting")
        if batch_size % (devices * accumulation_steps):
            raise ValueError(f"Trainer: batch_size={batch_size} must be divisible by "
                             f"devices*accumulation_steps={devices * accumulation_steps}")
        self.iterator = BatchIterator(len(data.x_train), batch_size, seed)
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
        self._build_steps()

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

    def _build_steps(self):
        model, tx, loss_fn = self.model, self.tx, self.loss_fn
        accum, ema_decay, multi = self.accum, self.ema_decay, self.n_dev > 1
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

        if multi:
            self._train_step = lamina.pmap(train_step, axis_name="devices")
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

    def _batches(self):
        """Background thread gathering upcoming batches; yields (x, y, iterator state)."""
        q: queue.Queue = queue.Queue(maxsize=2)
        stop = threading.Event()
        x_all, y_all, n_dev = self.data.x_train, self.data.y_train, self.n_dev

        def producer():
            try:
                while not stop.is_set():
                    idx = self.iterator.next()
                    x, y = np.asarray(x_all[idx]), np.asarray(y_all[idx])
                    if n_dev > 1:
                        x = x.reshape((n_dev, -1) + x.shape[1:])
                        y = y.reshape((n_dev, -1) + y.shape[1:])
                    item = (x, y, self.iterator.state())
                    while not stop.is_set():
                        try:
                            q.put(item, timeout=0.1)
                            break
                        except queue.Full:
                            pass
            except BaseException as e:  # surfaced in the training thread
                q.put(e)

        t = threading.Thread(target=producer, daemon=True)
        t.start()
        try:
            while True:
                item = q.get()
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            stop.set()
            t.join()

    # --- the loop --------------------------------------------------------------------

    def _replicate(self, tree):
        n = self.n_dev
        return tree_util.tree_map(
            lambda x: np.broadcast_to(np.asarray(x), (n,) + np.shape(x)).copy(), tree)

    def _unreplicate(self, tree):
        if self.n_dev == 1:
            return tree
        return tree_util.tree_map(lambda x: np.asarray(x)[0], tree)

    def _host_state(self, state):
        return tree_util.tree_map(np.asarray, self._unreplicate(state))

    def _leaf_name(self, state, index):
        paths = tree_util.tree_leaves_with_path(state["params"])
        if 0 <= index < len(paths):
            return "params" + tree_util.keystr(paths[index][0])
        return "the loss"

    def fit(self) -> TrainResult:
        from .checkpoint import Checkpointer, find_checkpoint_dir
        from .logging import MetricLogger

        run_dir = self.output_dir
        ckpt = None
        state = self.init_state()
        start_step = 0
        if run_dir is not None:
            os.makedirs(run_dir, exist_ok=True)
            ckpt = Checkpointer(os.path.join(run_dir, "checkpoints"), keep=self.keep,
                                async_save=self.async_checkpointing,
                                best_metric=self.keep_best, best_mode=self.keep_best_mode)
            source, source_step = None, None
            if self.resume == "auto":
                source, source_step = ckpt, ckpt.latest_step()
            elif self.resume not in ("never", None):
                d, s = find_checkpoint_dir(self.resume)
                source = Checkpointer(d, keep=self.keep)
                source_step = s if s is not None else source.latest_step()
                if source_step is None:
                    raise TrainingError(f"run.resume={self.resume!r}: no checkpoint there")
            if source is not None and source_step is not None:
                restored, meta = source.restore(source_step, state)
                state = restored
                self.iterator.restore(meta["data"])
                start_step = int(meta["step"])
        if self.config is not None and run_dir is not None:
            from .config import dump
            dump(self.config, os.path.join(run_dir, "config.yaml"))

        logger = MetricLogger(run_dir, self.steps, progress=self.progress,
                              initial_step=start_step, enabled=run_dir is not None)
        if self.config is not None and start_step == 0:
            from .config import to_dict
            logger.hparams(_flatten(to_dict(self.config)))
        if start_step:
            logger.message(f"resumed from step {start_step}")

        if self.n_dev > 1:
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
        batches = self._batches() if step < self.steps else iter(())
        try:
            for x, y, data_state in batches:
                if step >= self.steps:
                    break
                state, out = self._train_step(state, x, y)
                step += 1
                self._data_state = data_state
                log_now = step % self.log_every == 0 or step == self.steps
                ckpt_now = ckpt is not None and (
                    step == self.steps or stop_flag["sig"] is not None or
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
                            np.asarray(self._unreplicate(state)["nan_skips"]))
                    logger.scalars(step, values)
                    logger.progress_update(step, values)
                if self.eval_every and step % self.eval_every == 0 and step != self.steps:
                    eval_metrics, evaluated_at = self._run_eval(state, logger, step), step
                if ckpt_now and self.keep_best and evaluated_at != step and (
                        stop_flag["sig"] is None or step == self.steps):
                    # NOTE: rank every regular checkpoint (a preemption save is unranked).
                    eval_metrics, evaluated_at = self._run_eval(state, logger, step), step
                if ckpt_now:
                    ckpt.save(step, self._host_state(state), self._meta(data_state),
                              metrics=self._ckpt_metrics(eval_metrics, evaluated_at, step))
                    last_saved = step
                if stop_flag["sig"] is not None and step < self.steps:
                    preempted = True
                    logger.message(f"received signal {stop_flag['sig']}: saved step {step}"
                                   f", exiting (rerun to resume)")
                    break
                if step >= self.steps:
                    break
            if not preempted and evaluated_at != step:
                eval_metrics, evaluated_at = self._run_eval(state, logger, step), step
            if ckpt is not None and last_saved != step:
                ckpt.save(step, self._host_state(state), self._meta(
                    getattr(self, "_data_state", self.iterator.state())),
                    metrics=self._ckpt_metrics(eval_metrics, evaluated_at, step))
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
        meta = {"data": data_state}
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
        host = self._unreplicate(state)
        bad = int(np.asarray(host["first_bad_step"]))
        if bad >= 0:
            leaf = self._leaf_name(host, int(np.asarray(host["first_bad_leaf"])))
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


def trainer_from_config(cfg) -> Trainer:
    """Build a :class:`Trainer` from a validated :class:`~.config.Config`."""
    from .config import ConfigError
    from .data import load_dataset
    from .models import get_model, import_user_module, load_function_model
    for i, mod in enumerate(cfg.imports):
        import_user_module(mod, f"imports[{i}]")
    d = cfg.data
    args = dict(d.args)
    if d.name == "npz":
        args.update(path=d.path, features=d.features, labels=d.labels)
    data = load_dataset(d.name, seed=cfg.run.seed, eval_fraction=d.eval_fraction, **args)
    if cfg.model.name is not None:
        margs = dict(cfg.model.args)
        model = get_model(cfg.model.name, num_outputs=margs.pop(
            "num_outputs", data.num_classes or int(np.prod(data.y_train.shape[1:]) or 1)),
            **margs)
    else:
        model = load_function_model(cfg.model.fn, cfg.model.init, cfg.model.args)
    o = cfg.optim
    tx = build_optimizer(o.name, o.learning_rate, o.args, o.schedule, o.clip_norm,
                         o.weight_decay_mask)
    t = cfg.train
    batch = t.batch_size * (cfg.devices.count if t.batch_size_per_device else 1)
    if batch > len(data.x_train):
        raise ConfigError(f"train.batch_size={batch} is larger than the training set "
                          f"({len(data.x_train)} examples)")
    return Trainer(model, tx, data, steps=t.steps, epochs=t.epochs, batch_size=batch,
                   loss=t.loss, seed=cfg.run.seed, output_dir=cfg.run.output_dir,
                   resume=cfg.run.resume, log_every=t.log_every, eval_every=t.eval_every,
                   eval_batch_size=t.eval_batch_size, checkpoint_every=t.checkpoint_every,
                   keep=t.keep, keep_best=t.keep_best, keep_best_mode=t.keep_best_mode,
                   precision=t.precision, loss_scale=t.loss_scale,
                   loss_scale_period=t.loss_scale_period, on_nan=t.on_nan,
                   accumulation_steps=o.accumulation_steps, ema_decay=o.ema_decay,
                   devices=cfg.devices.count, progress=t.progress, config=cfg)
