"""Optimizers from config values for lamina.training: `build_optimizer` (an optim alias,
an optional schedule, clipping and a weight-decay mask, wrapped in `inject_hyperparams`)
and `find_learning_rate` (the current learning rate in its state, for logging).
Re-exported by `lamina.training.trainer`.
"""
from __future__ import annotations

from lamina import optim


def build_optimizer(name="adam", learning_rate=1e-3, args=None, schedule=None,
                    clip_norm=None, weight_decay_mask=None):
    """An optimizer from config values, its learning rate visible in its state.

    The alias is wrapped in ``inject_hyperparams`` so the current learning rate can be
    logged; ``schedule`` is ``{"name": <schedule>, **its args}``.

    >>> import lamina.numpy as lnp
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
