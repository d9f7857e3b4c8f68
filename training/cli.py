"""The ``lamina`` command: ``train``, ``eval``, ``summary`` and ``plot``.

Configuration errors print one line ``lamina: error: ...`` and exit with status 2.

>>> main(["--help"])  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
SystemExit: 0
"""
from __future__ import annotations

import argparse
import json
import os
import sys

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="lamina", description="Train lamina models from YAML configs.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)
    over = "key.path=value overrides, e.g. optim.learning_rate=3e-4 train.steps=2000"

    t = sub.add_parser("train", help="train (or resume) a run from a YAML config",
                       description="Train from CONFIG; resumes from the latest checkpoint "
                                   "in run.output_dir unless run.resume=never.")
    t.add_argument("config", help="YAML config file")
    t.add_argument("overrides", nargs="*", help=over)

    e = sub.add_parser("eval", help="evaluate a checkpoint on the eval split",
                       description="Evaluate the latest (or the given) checkpoint of a run.")
    e.add_argument("config", help="YAML config file")
    e.add_argument("overrides", nargs="*", help=over)
    e.add_argument("--checkpoint", default=None,
                   help="a checkpoint directory or a step number (default: the latest in "
                        "run.output_dir)")

    s = sub.add_parser("summary", help="print the model's parameter table",
                       description="Initialise the model of CONFIG and list its parameters.")
    s.add_argument("config", help="YAML config file")
    s.add_argument("overrides", nargs="*", help=over)

    pl = sub.add_parser("plot", help="write a PNG of a run's loss/metric curves",
                        description="Plot the scalars of RUN_DIR (metrics.jsonl or "
                                    "TensorBoard event files) to a PNG.")
    pl.add_argument("run_dir", help="the run's output directory")
    pl.add_argument("--out", default=None, help="PNG path (default RUN_DIR/curves.png)")
    return p


def _error(msg: str) -> int:
    print(f"lamina: error: {msg}", file=sys.stderr)
    return 2


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    from .config import ConfigError
    try:
        return _COMMANDS[args.command](args)
    except ConfigError as e:
        return _error(str(e))


def _load(args):
    from .config import load
    from .trainer import trainer_from_config
    cfg = load(args.config, args.overrides)
    _start_cpu_devices(cfg.devices.count)
    return cfg, trainer_from_config(cfg)


def _start_cpu_devices(count: int) -> None:
    """Give the CPU backend `devices.count` devices when nothing else decided it.

    The CPU client's device count is fixed when it starts, so this only acts before
    the first computation and when neither LAMINA_NUM_CPU_DEVICES nor XLA_FLAGS'
    host device count was set by the user (theirs wins).
    """
    from lamina.backend import client
    if (count > 1 and not client.backend_started()
            and "LAMINA_NUM_CPU_DEVICES" not in os.environ
            and "xla_force_host_platform_device_count" not in os.environ.get("XLA_FLAGS", "")):
        os.environ["LAMINA_NUM_CPU_DEVICES"] = str(count)


def _train(args) -> int:
    from .trainer import TrainingError
    cfg, trainer = _load(args)
    try:
        result = trainer.fit()
    except TrainingError as e:
        print(f"lamina: training stopped: {e}", file=sys.stderr)
        return 1
    if result.preempted:
        print(f"preempted at step {result.step}; checkpoint saved in "
              f"{cfg.run.output_dir}", file=sys.stderr)
        return 0
    summary = {"step": result.step, **{f"eval/{k}": v for k, v in
                                       result.eval_metrics.items()}}
    print(json.dumps(summary))
    return 0


def _eval(args) -> int:
    from .checkpoint import Checkpointer, find_checkpoint_dir
    from .config import ConfigError
    cfg, trainer = _load(args)
    spec = args.checkpoint
    if spec is None or spec.isdigit():
        directory, step = os.path.join(cfg.run.output_dir, "checkpoints"), None
        if spec is not None:
            step = int(spec)
    else:
        directory, step = find_checkpoint_dir(spec)
    ckpt = Checkpointer(directory)
    if step is None:
        step = ckpt.latest_step()
    if step is None or step not in ckpt.all_steps():
        raise ConfigError(f"no checkpoint {'' if step is None else step} in {directory!r}")
    state, _ = ckpt.restore(step, trainer.init_state())
    ckpt.close()
    # NOTE: the same keys as the evaluations during training: the raw params' metrics,
    # and with EMA on, the EMA params' metrics prefixed `ema_`.
    metrics = trainer.evaluate(state["params"], state["model_state"])
    if "ema" in state:
        ema = trainer.evaluate(state["ema"], state["model_state"])
        metrics.update({f"ema_{k}": v for k, v in ema.items()})
    print(json.dumps({"step": step, **{f"eval/{k}": v for k, v in metrics.items()}}))
    return 0


def _summary(args) -> int:
    import numpy as np
    from lamina import tree_util
    _, trainer = _load(args)
    import lamina
    import lamina.numpy as lnp
    from .models import is_nn_module
    x = lnp.asarray(np.asarray(trainer.data.x_train[:1]))
    if is_nn_module(trainer.model):
        from lamina import nn
        print(nn.summary(trainer.model, x))
        return 0
    variables = lamina.eval_shape(trainer.model.init, lamina.random.PRNGKey(0), x)
    rows = [("path", "shape", "dtype", "size")]
    total = 0
    for coll in ("params", "state"):
        for path, leaf in tree_util.tree_leaves_with_path(variables.get(coll, {})):
            size = int(np.prod(leaf.shape))
            total += size if coll == "params" else 0
            rows.append((coll + tree_util.keystr(path), str(tuple(leaf.shape)),
                         str(np.dtype(leaf.dtype)), f"{size:,}"))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for i, r in enumerate(rows):
        print("  ".join(c.ljust(w) if j < 3 else c.rjust(w)
                        for j, (c, w) in enumerate(zip(r, widths))))
        if i == 0:
            print("  ".join("-" * w for w in widths))
    print(f"total parameters: {total:,}")
    return 0


def _plot(args) -> int:
    from .plot import plot_run
    try:
        out = plot_run(args.run_dir, args.out)
    except FileNotFoundError as e:
        return _error(str(e))
    print(out)
    return 0


_COMMANDS = {"train": _train, "eval": _eval, "summary": _summary, "plot": _plot}
