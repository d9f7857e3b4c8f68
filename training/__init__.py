"""lamina.training: YAML-driven training with checkpoints, exact resume and TensorBoard.

``lamina train configs/mlp_digits.yaml train.steps=100`` on the command line, or from
Python:

>>> import tempfile
>>> from lamina import optim
>>> from lamina.training import fit, get_model, load_dataset
>>> ds = load_dataset("synthetic", n=64, dim=4, classes=2)
>>> r = fit(get_model("mlp", num_outputs=2, hidden=(8,)), optim.sgd(0.1), ds, steps=5,
...         batch_size=16, progress="none", output_dir=tempfile.mkdtemp())
>>> r.step
5

Importing this package does not import jax; only saving or restoring a checkpoint
imports orbax (and so jax, pinned to the CPU platform).
"""
from .config import Config, ConfigError, load as load_config
from .data import BatchIterator, Dataset, load_dataset, register_dataset
from .models import FunctionModel, get_model, register_model
from .trainer import (Trainer, TrainingError, TrainResult, build_optimizer, fit,
                      trainer_from_config)

__all__ = [
    "Config", "ConfigError", "load_config", "BatchIterator", "Dataset", "load_dataset",
    "register_dataset", "FunctionModel", "get_model", "register_model", "Trainer",
    "TrainingError", "TrainResult", "build_optimizer", "fit", "trainer_from_config",
]
