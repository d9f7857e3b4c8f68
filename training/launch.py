"""Starting a training run from a validated config: `trainer_from_config` (data, model,
optimizer and `Trainer` from a `Config`) and `init_distributed` (joining a multi-process
run when the config or the environment asks for one). Re-exported by
`lamina.training.trainer`.
"""
from __future__ import annotations

import numpy as np

import lamina

from .optimizers import build_optimizer
from .trainer import Trainer


def trainer_from_config(cfg) -> Trainer:
    """Build a :class:`Trainer` from a validated :class:`~.config.Config`."""
    from .config import ConfigError
    from .data import load_dataset
    from .models import get_model, import_user_module, load_function_model
    init_distributed(cfg.devices)
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
    n_global = cfg.devices.count * lamina.process_count()
    batch = t.batch_size * (n_global if t.batch_size_per_device else 1)
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
                   devices=cfg.devices.count, strategy=cfg.devices.strategy,
                   progress=t.progress, config=cfg)


def init_distributed(devices_cfg) -> bool:
    """Join a multi-process run when the ``devices`` config or the environment asks for
    one (``lamina.distributed.initialize`` with the config's values, the rest read from
    the environment as it does); True when this process is part of one.

    >>> from lamina.training.config import DevicesConfig
    >>> init_distributed(DevicesConfig(num_processes=1))   # one process: nothing to do
    False
    """
    from lamina import distributed
    from .config import ConfigError
    if distributed.is_initialized():
        return True
    d = devices_cfg
    # NOTE: the same environment detection as initialize() (lamina's and jax's variables,
    # Slurm), to decide whether there is a multi-process run to join at all.
    address, num, pid, _ = distributed._detect(d.coordinator_address, d.num_processes,
                                               d.process_id, None, None)
    if num is None or num == 1:
        return False
    try:
        distributed.initialize(address, num, pid)
    except (ValueError, RuntimeError) as e:
        raise ConfigError(f"devices: cannot join the {num}-process run: {e}") from None
    return True
