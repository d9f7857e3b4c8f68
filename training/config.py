"""Typed, frozen run configuration loaded from YAML.

A config file has up to seven top-level sections (``run``, ``model``, ``data``, ``optim``,
``train``, ``devices``, ``imports``); every key is checked against the dataclasses below.
An unknown key is an error naming its path and the closest valid keys, a value of the
wrong type is an error naming the path, the expected and the given type.

>>> cfg = from_dict({"model": {"name": "mlp"}, "train": {"steps": 5}},
...                 overrides=["optim.learning_rate=0.01"])
>>> cfg.train.steps, cfg.optim.learning_rate
(5, 0.01)
"""
from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from typing import Optional, Union

import yaml

__all__ = [
    "ConfigError", "Config", "RunConfig", "ModelConfig", "DataConfig", "OptimConfig",
    "TrainConfig", "DevicesConfig", "load", "from_dict", "apply_overrides", "to_dict",
    "dump",
]


class ConfigError(ValueError):
    """A configuration problem the user must fix (the CLI exits with status 2)."""


@dataclasses.dataclass(frozen=True)
class RunConfig:
    output_dir: str = "runs/default"
    seed: int = 0
    resume: str = "auto"            # auto | never | PATH of a run directory or checkpoint


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    name: Optional[str] = None      # a registered model (lamina.training.register_model)
    fn: Optional[str] = None        # "module:function" pure model: fn(params, x, **args)
    init: Optional[str] = None      # "module:function": init(key, x, **args) -> params
    args: dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class DataConfig:
    name: str = "digits"            # digits | chars | synthetic | npz | a registered set
    path: Optional[str] = None      # .npz file, or .npy features file
    features: str = "x"             # array name in the .npz
    labels: str = "y"               # array name in the .npz (or a .npy path)
    eval_fraction: float = 0.2
    args: dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class OptimConfig:
    name: str = "adam"              # any lamina.optim alias
    learning_rate: float = 1e-3
    args: dict = dataclasses.field(default_factory=dict)
    schedule: Optional[dict] = None  # {name: <lamina.optim schedule>, <its args>}
    clip_norm: Optional[float] = None
    weight_decay_mask: Optional[tuple[str, ...]] = None  # path patterns, e.g. ["**/kernel"]
    accumulation_steps: int = 1
    ema_decay: Optional[float] = None


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    steps: Optional[int] = None
    epochs: Optional[int] = None
    batch_size: int = 64
    batch_size_per_device: bool = False
    loss: str = "auto"              # auto | cross_entropy | mse
    log_every: int = 10
    eval_every: int = 0             # 0: only at the end
    eval_batch_size: int = 256
    checkpoint_every: int = 0       # 0: only at the end
    keep: int = 3
    keep_best: Optional[str] = None  # also keep the best checkpoint by e.g. eval/accuracy
    keep_best_mode: str = "auto"    # auto (min for *loss*, else max) | max | min
    precision: str = "f32"          # f32 | bf16 | f16 (compute; params/optimizer stay f32)
    loss_scale: float = 32768.0     # f16: initial dynamic loss scale
    loss_scale_period: int = 2000   # f16: double the scale after this many finite steps
    on_nan: str = "stop"            # stop | skip
    progress: str = "auto"          # auto | bar | lines | none


@dataclasses.dataclass(frozen=True)
class DevicesConfig:
    count: int = 1                  # devices per process (data parallel over all of them)
    strategy: str = "pmap"          # pmap | mesh (a sharded jit over a 1-D mesh)
    # Multi-process (lamina.distributed.initialize's arguments); null: from the
    # environment (LAMINA_COORDINATOR_ADDRESS / JAX_COORDINATOR_ADDRESS,
    # LAMINA_NUM_PROCESSES, LAMINA_PROCESS_ID, or Slurm's variables). One process when
    # neither says otherwise.
    coordinator_address: Optional[str] = None   # host:port of process 0
    num_processes: Optional[int] = None
    process_id: Optional[int] = None


@dataclasses.dataclass(frozen=True)
class Config:
    run: RunConfig = dataclasses.field(default_factory=RunConfig)
    model: ModelConfig = dataclasses.field(default_factory=ModelConfig)
    data: DataConfig = dataclasses.field(default_factory=DataConfig)
    optim: OptimConfig = dataclasses.field(default_factory=OptimConfig)
    train: TrainConfig = dataclasses.field(default_factory=TrainConfig)
    devices: DevicesConfig = dataclasses.field(default_factory=DevicesConfig)
    imports: tuple[str, ...] = ()


_CHOICES = {
    "run.resume": None,   # free-form (auto | never | path)
    "train.loss": ("auto", "cross_entropy", "mse"),
    "train.precision": ("f32", "bf16", "f16", "float32", "bfloat16", "float16"),
    "train.keep_best_mode": ("auto", "max", "min"),
    "train.on_nan": ("stop", "skip"),
    "train.progress": ("auto", "bar", "lines", "none"),
    "devices.strategy": ("pmap", "mesh"),
}
_POSITIVE = ("train.batch_size", "train.log_every", "train.eval_batch_size", "train.keep",
             "optim.accumulation_steps", "devices.count", "train.steps", "train.epochs",
             "train.loss_scale", "train.loss_scale_period", "devices.num_processes")
_NON_NEGATIVE = ("train.eval_every", "train.checkpoint_every", "devices.process_id")


def _type_name(tp) -> str:
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(tp))
    if origin is tuple:
        return "list"
    if tp is type(None):
        return "null"
    if dataclasses.is_dataclass(tp):
        return "mapping"
    return getattr(tp, "__name__", str(tp))


def _given(value) -> str:
    return {dict: "mapping", list: "list", type(None): "null"}.get(type(value),
                                                                type(value).__name__)


def _convert(path: str, value, tp):
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        for a in args:
            if a is type(None):
                continue
            try:
                return _convert(path, value, a)
            except ConfigError:
                pass
        raise _type_error(path, tp, value)
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise _type_error(path, tp, value)
        return _build(tp, value, path)
    if origin is tuple:
        (elem, _) = typing.get_args(tp)
        if isinstance(value, str) and elem is str:
            value = [value]
        if not isinstance(value, (list, tuple)):
            raise _type_error(path, tp, value)
        return tuple(_convert(f"{path}[{i}]", v, elem) for i, v in enumerate(value))
    if tp is dict:
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise _type_error(path, tp, value)
        return value
    if tp is float:
        # NOTE: YAML reads `1e-3` (no dot) as a string; accept numbers written that way.
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                raise _type_error(path, tp, value) from None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _type_error(path, tp, value)
        return float(value)
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _type_error(path, tp, value)
        return value
    if tp in (str, bool):
        if not isinstance(value, tp):
            raise _type_error(path, tp, value)
        return value
    return value


def _type_error(path, tp, value) -> ConfigError:
    return ConfigError(f"config key '{path}' expects {_type_name(tp)}, got "
                       f"{_given(value)} ({value!r})")


def _unknown_key(path: str, key: str, valid) -> ConfigError:
    full = f"{path}.{key}" if path else key
    close = difflib.get_close_matches(key, list(valid), n=3, cutoff=0.5)
    hint = (f"did you mean {', '.join(repr(c) for c in close)}? " if close else "")
    return ConfigError(f"unknown config key '{full}': {hint}valid keys"
                       f"{' under ' + repr(path) if path else ''}: "
                       f"{', '.join(sorted(valid))}")


def _build(cls, raw: dict, path: str = ""):
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    for key in raw:
        if key not in names:
            raise _unknown_key(path, str(key), names)
    kwargs = {}
    for name in names:
        if name in raw:
            sub = f"{path}.{name}" if path else name
            kwargs[name] = _convert(sub, raw[name], hints[name])
    return cls(**kwargs)


def _check_values(cfg: Config) -> None:
    for path, choices in _CHOICES.items():
        if choices is None:
            continue
        value = _get(cfg, path)
        if value not in choices:
            raise ConfigError(f"config key '{path}' must be one of {', '.join(choices)}; "
                              f"got {value!r}")
    for path in _POSITIVE:
        value = _get(cfg, path)
        if value is not None and value <= 0:
            raise ConfigError(f"config key '{path}' must be positive; got {value}")
    for path in _NON_NEGATIVE:
        if _get(cfg, path) is not None and _get(cfg, path) < 0:
            raise ConfigError(f"config key '{path}' must be >= 0; got {_get(cfg, path)}")
    if cfg.train.steps is None and cfg.train.epochs is None:
        raise ConfigError("config needs 'train.steps' or 'train.epochs' (how long to train)")
    if cfg.train.steps is not None and cfg.train.epochs is not None:
        raise ConfigError("config sets both 'train.steps' and 'train.epochs'; keep one")
    m = cfg.model
    if (m.name is None) == (m.fn is None):
        raise ConfigError("config 'model' needs exactly one of 'model.name' (a registered "
                          "model) or 'model.fn' + 'model.init' (a pure-function model)")
    if m.fn is not None and m.init is None:
        raise ConfigError("config 'model.fn' needs 'model.init' (module:function that "
                          "returns the initial params)")
    kb = cfg.train.keep_best
    if kb is not None and (not kb.startswith("eval/") or kb == "eval/"):
        raise ConfigError(f"config key 'train.keep_best' must name an eval metric such as "
                          f"'eval/accuracy' or 'eval/loss'; got {kb!r}")
    if cfg.optim.ema_decay is not None and not 0.0 <= cfg.optim.ema_decay < 1.0:
        raise ConfigError(f"config key 'optim.ema_decay' must be in [0, 1); got "
                          f"{cfg.optim.ema_decay}")
    if not 0.0 <= cfg.data.eval_fraction < 1.0:
        raise ConfigError(f"config key 'data.eval_fraction' must be in [0, 1); got "
                          f"{cfg.data.eval_fraction}")
    t, d = cfg.train, cfg.devices
    if d.coordinator_address is not None and (
            ":" not in d.coordinator_address or
            not d.coordinator_address.rsplit(":", 1)[1].isdigit()):
        raise ConfigError(f"config key 'devices.coordinator_address' must look like "
                          f"'host:port'; got {d.coordinator_address!r}")
    if (d.process_id is not None and d.num_processes is not None and
            d.process_id >= d.num_processes):
        raise ConfigError(f"config key 'devices.process_id' ({d.process_id}) must be less "
                          f"than 'devices.num_processes' ({d.num_processes})")
    global_batch = t.batch_size * (d.count if t.batch_size_per_device else 1)
    if global_batch % d.count:
        raise ConfigError(f"config 'train.batch_size' ({t.batch_size}) is not divisible by "
                          f"'devices.count' ({d.count}); use a multiple of {d.count} or set "
                          f"train.batch_size_per_device=true")
    if (global_batch // d.count) % cfg.optim.accumulation_steps:
        raise ConfigError(f"the per-device batch ({global_batch // d.count}) is not "
                          f"divisible by 'optim.accumulation_steps' "
                          f"({cfg.optim.accumulation_steps})")


def _get(cfg, path: str):
    for part in path.split("."):
        cfg = getattr(cfg, part)
    return cfg


def apply_overrides(raw: dict, overrides) -> dict:
    """Apply ``key.path=value`` strings (values parsed as YAML) to a raw config mapping.

    >>> apply_overrides({"train": {"steps": 5}}, ["train.steps=7", "optim.name=sgd"])
    {'train': {'steps': 7}, 'optim': {'name': 'sgd'}}
    """
    raw = _deepcopy(raw)
    for item in overrides or ():
        if "=" not in item:
            raise ConfigError(f"override {item!r} must look like key.path=value")
        key, text = item.split("=", 1)
        key = key.strip()
        if not key or any(not p for p in key.split(".")):
            raise ConfigError(f"override {item!r} has an empty key path")
        try:
            value = yaml.safe_load(text) if text.strip() else ""
        except yaml.constructor.ConstructorError as e:
            raise ConfigError(f"override {item!r}: value is not valid YAML "
                              f"({_yaml_problem(e)})") from None
        except yaml.YAMLError:
            value = text    # NOTE: e.g. `**/kernel` is not YAML; take it as a string.
        node = raw
        parts = key.split(".")
        for i, part in enumerate(parts[:-1]):
            nxt = node.get(part)
            if nxt is None:
                nxt = node[part] = {}
            elif not isinstance(nxt, dict):
                raise ConfigError(f"override {item!r}: '{'.'.join(parts[:i + 1])}' is not "
                                  f"a mapping")
            node = nxt
        node[parts[-1]] = value
    return raw


def _yaml_problem(e) -> str:
    """A YAML error on one line: what is wrong and where (1-based line, column)."""
    what = " ".join(str(p) for p in (getattr(e, "context", None),
                                     getattr(e, "problem", None)) if p) or str(e)
    mark = getattr(e, "problem_mark", None)
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
    return (what + where).replace("\n", " ")


def _deepcopy(x):
    if isinstance(x, dict):
        return {k: _deepcopy(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_deepcopy(v) for v in x]
    return x


def from_dict(raw, overrides=()) -> Config:
    """Validate a raw mapping (plus ``key.path=value`` overrides) into a :class:`Config`."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"a config must be a mapping at the top level, got {_given(raw)}")
    raw = apply_overrides(raw, overrides)
    cfg = _build(Config, raw)
    _check_values(cfg)
    return cfg


def load(path, overrides=()) -> Config:
    """Load a YAML file with ``yaml.safe_load`` and validate it (see :func:`from_dict`)."""
    try:
        with open(path) as f:
            text = f.read()
    except OSError as e:
        raise ConfigError(f"cannot read config file {str(path)!r}: {e.strerror}") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ConfigError(f"config file {str(path)!r} is not valid YAML: "
                          f"{_yaml_problem(e)}") from None
    return from_dict(raw, overrides)


def to_dict(cfg: Config) -> dict:
    """A plain (YAML-safe) mapping of a config; tuples become lists."""
    def plain(x):
        if isinstance(x, dict):
            return {k: plain(v) for k, v in x.items()}
        if isinstance(x, (list, tuple)):
            return [plain(v) for v in x]
        return x
    return plain(dataclasses.asdict(cfg))


def dump(cfg: Config, path) -> None:
    """Write the resolved config as YAML (loadable again with :func:`load`)."""
    with open(path, "w") as f:
        yaml.safe_dump(to_dict(cfg), f, sort_keys=False)
