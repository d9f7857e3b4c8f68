"""Datasets that need no network, and a deterministic, resumable batch iterator.

Built in: ``digits`` (scikit-learn's bundled 8x8 digit images), ``chars`` (a character
corpus made of the Python standard library's own ``.py`` files), ``synthetic``
(Gaussian blobs) and ``npz`` (user arrays from ``.npz`` / memory-mapped ``.npy`` files).
More can be added with :func:`register_dataset`.

>>> ds = load_dataset("synthetic", seed=0, n=64, dim=4, classes=3)
>>> it = BatchIterator(len(ds.x_train), batch_size=8, seed=0)
>>> idx = it.next()
>>> idx.shape, it.state()
((8,), {'epoch': 0, 'position': 1})
"""
from __future__ import annotations

import dataclasses
import os
import sysconfig
from typing import Callable, Optional

import numpy as np

__all__ = ["Dataset", "BatchIterator", "register_dataset", "load_dataset", "dataset_names"]


@dataclasses.dataclass
class Dataset:
    """Arrays (numpy or memory-mapped) for training and evaluation.

    ``task`` is ``"classification"`` (integer labels; tokens for a language model) or
    ``"regression"``; ``num_classes`` is the label (or vocabulary) size.
    """
    x_train: np.ndarray
    y_train: np.ndarray
    x_eval: np.ndarray
    y_eval: np.ndarray
    task: str = "classification"
    num_classes: Optional[int] = None
    info: dict = dataclasses.field(default_factory=dict)


_DATASETS: dict[str, Callable[..., Dataset]] = {}


def register_dataset(name: str):
    """Decorator registering ``fn(seed, eval_fraction, **args) -> Dataset`` under ``name``."""
    def deco(fn):
        _DATASETS[name] = fn
        return fn
    return deco


def dataset_names() -> list[str]:
    return sorted(_DATASETS)


def load_dataset(name: str, seed: int = 0, eval_fraction: float = 0.2, **args) -> Dataset:
    """Build a registered dataset; unknown names and arguments give a clear error."""
    from .config import ConfigError
    if name not in _DATASETS:
        import difflib
        close = difflib.get_close_matches(name, list(_DATASETS), n=3)
        hint = f"did you mean {', '.join(map(repr, close))}? " if close else ""
        raise ConfigError(f"unknown dataset 'data.name={name}': {hint}known datasets: "
                          f"{', '.join(dataset_names())}")
    fn = _DATASETS[name]
    _check_args(fn, args, f"data.args (dataset {name!r})", skip=("seed", "eval_fraction"))
    return fn(seed=seed, eval_fraction=eval_fraction, **args)


def _check_args(fn, args: dict, where: str, skip=()):
    import difflib
    import inspect
    from .config import ConfigError
    params = inspect.signature(fn).parameters
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return
    valid = [n for n in params if n not in skip]
    for key in args:
        if key not in valid:
            close = difflib.get_close_matches(key, valid, n=3, cutoff=0.5)
            hint = f"did you mean {', '.join(map(repr, close))}? " if close else ""
            raise ConfigError(f"unknown key {key!r} in {where}: {hint}valid keys: "
                              f"{', '.join(valid) or '(none)'}")


def _split(n: int, seed: int, eval_fraction: float):
    perm = np.random.default_rng([seed, 12345]).permutation(n)
    n_eval = int(round(n * eval_fraction))
    return perm[n_eval:], perm[:n_eval]


@register_dataset("digits")
def digits(seed=0, eval_fraction=0.2, image=False):
    """scikit-learn's bundled 1797 8x8 digit images, pixels scaled to [0, 1].

    ``image=True`` gives NHWC arrays ``(N, 8, 8, 1)`` (for a CNN), else ``(N, 64)``.
    """
    from sklearn.datasets import load_digits
    bunch = load_digits()
    x = (bunch.data / 16.0).astype(np.float32)
    if image:
        x = x.reshape(-1, 8, 8, 1)
    y = bunch.target.astype(np.int32)
    tr, ev = _split(len(x), seed, eval_fraction)
    return Dataset(x[tr], y[tr], x[ev], y[ev], num_classes=10)


def stdlib_corpus(max_chars: int = 200_000) -> str:
    """Text of the standard library's ``.py`` files (sorted by path, ASCII only)."""
    root = sysconfig.get_paths()["stdlib"]
    parts, total = [], 0
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames
                             if d not in ("site-packages", "test", "tests", "__pycache__"))
        for fn in sorted(filenames):
            if not fn.endswith(".py"):
                continue
            try:
                with open(os.path.join(dirpath, fn), encoding="utf-8") as f:
                    text = f.read()
            except (OSError, UnicodeDecodeError):
                continue
            text = text.encode("ascii", "ignore").decode("ascii")
            parts.append(text)
            total += len(text)
            if total >= max_chars:
                return "".join(parts)[:max_chars]
    if not parts:
        raise RuntimeError(f"no .py files found under the standard library at {root!r}")
    return "".join(parts)[:max_chars]


@register_dataset("chars")
def chars(seed=0, eval_fraction=0.1, seq_len=64, max_chars=200_000):
    """Character-level LM data from the stdlib's source: x = tokens, y = next tokens.

    The vocabulary is the 128 ASCII codes; the corpus is cut into windows of
    ``seq_len + 1`` characters.
    """
    text = stdlib_corpus(max_chars)
    codes = np.frombuffer(text.encode("ascii"), dtype=np.uint8).astype(np.int32)
    n = (len(codes) - 1) // seq_len
    x = codes[:n * seq_len].reshape(n, seq_len)
    y = codes[1:n * seq_len + 1].reshape(n, seq_len)
    tr, ev = _split(n, seed, eval_fraction)
    return Dataset(x[tr], y[tr], x[ev], y[ev], num_classes=128,
                   info={"chars": len(text)})


@register_dataset("synthetic")
def synthetic(seed=0, eval_fraction=0.2, n=512, dim=16, classes=4, noise=0.5,
              task="classification"):
    """Gaussian blobs (classification) or a noisy linear map (regression)."""
    rng = np.random.default_rng(seed)
    if task == "regression":
        x = rng.normal(size=(n, dim)).astype(np.float32)
        w = rng.normal(size=(dim, classes)).astype(np.float32)
        y = (x @ w + noise * rng.normal(size=(n, classes))).astype(np.float32)
        tr, ev = _split(n, seed, eval_fraction)
        return Dataset(x[tr], y[tr], x[ev], y[ev], task="regression")
    centers = rng.normal(size=(classes, dim)).astype(np.float32) * 2.0
    y = rng.integers(0, classes, size=n).astype(np.int32)
    x = (centers[y] + noise * rng.normal(size=(n, dim))).astype(np.float32)
    tr, ev = _split(n, seed, eval_fraction)
    return Dataset(x[tr], y[tr], x[ev], y[ev], num_classes=classes)


def _load_array(path: str, name: str, key: str = "data.path"):
    from .config import ConfigError
    if not os.path.exists(path):
        raise ConfigError(f"data file {path!r} ('{key}') does not exist")
    if path.endswith(".npy"):
        return np.load(path, mmap_mode="r")
    with np.load(path) as z:
        if name not in z.files:
            raise ConfigError(f"data file {path!r} has no array {name!r}; it has "
                              f"{', '.join(z.files)}")
        return z[name]


def load_arrays(path, features="x", labels="y", seed=0, eval_fraction=0.2,
                num_classes=None):
    """User arrays: a ``.npz`` with named features/labels, or ``.npy`` files.

    ``.npy`` files are memory-mapped (``path`` is the features file, ``labels`` the
    labels file); batches are gathered from the map, never loading the whole file.
    """
    from .config import ConfigError
    if path is None:
        raise ConfigError("data.name=npz needs 'data.path' (a .npz or .npy file)")
    if str(path).endswith(".npy"):
        x = _load_array(path, features)
        y = _load_array(labels, labels, "data.labels")
    else:
        x = _load_array(path, features)
        y = _load_array(path, labels)
    if len(x) != len(y):
        raise ConfigError(f"data: features ({len(x)} rows) and labels ({len(y)} rows) "
                          f"differ in length")
    tr, ev = _split(len(x), seed, eval_fraction)
    tr.sort(), ev.sort()    # NOTE: sorted gathers read a memory map sequentially.
    classification = np.issubdtype(y.dtype, np.integer)
    if classification and num_classes is None:
        num_classes = int(np.max(y)) + 1
    return Dataset(_Rows(x, tr), _Rows(y, tr), np.asarray(x[ev]), np.asarray(y[ev]),
                   task="classification" if classification else "regression",
                   num_classes=num_classes)


class _Rows:
    """A lazy row subset of a (memory-mapped) array: ``rows[idx]`` reads only idx."""

    def __init__(self, base, index):
        self.base, self.index = base, np.asarray(index)
        self.shape = (len(index),) + tuple(base.shape[1:])
        self.dtype = base.dtype

    def __len__(self):
        return len(self.index)

    def __getitem__(self, idx):
        return np.asarray(self.base[self.index[idx]])


@register_dataset("npz")
def npz(seed=0, eval_fraction=0.2, path=None, features="x", labels="y", num_classes=None):
    return load_arrays(path, features, labels, seed, eval_fraction, num_classes)


class BatchIterator:
    """Seeded per-epoch shuffling over ``n`` examples; yields index arrays.

    The state (``epoch``, ``position`` = batches consumed in this epoch) is saved in
    checkpoints, so a resumed run sees exactly the batches an uninterrupted one would.
    Incomplete trailing batches are dropped. ``shard=(i, k)`` gives process ``i`` of
    ``k`` its slice of every global batch.
    """

    def __init__(self, n: int, batch_size: int, seed: int = 0, shard=(0, 1)):
        if batch_size > n:
            raise ValueError(f"BatchIterator: batch_size={batch_size} is larger than the "
                             f"dataset ({n} examples)")
        i, k = shard
        if not 0 <= i < k or batch_size % k:
            raise ValueError(f"BatchIterator: shard={shard} must be (i, k) with 0 <= i < k "
                             f"and k dividing batch_size={batch_size}")
        self.n, self.batch_size, self.seed = n, batch_size, seed
        self.shard = (int(i), int(k))
        self.epoch, self.position = 0, 0
        self._perm_epoch, self._perm = None, None

    @property
    def batches_per_epoch(self) -> int:
        return self.n // self.batch_size

    def _permutation(self):
        if self._perm_epoch != self.epoch:
            self._perm = np.random.default_rng([self.seed, self.epoch]).permutation(self.n)
            self._perm_epoch = self.epoch
        return self._perm

    def next(self) -> np.ndarray:
        if self.position >= self.batches_per_epoch:
            self.epoch, self.position = self.epoch + 1, 0
        start = self.position * self.batch_size
        idx = self._permutation()[start:start + self.batch_size]
        self.position += 1
        i, k = self.shard
        per = self.batch_size // k
        return idx[i * per:(i + 1) * per]

    def state(self) -> dict:
        """The position to save: ``epoch`` and ``position`` (global batches consumed in
        this epoch)."""
        return {"epoch": int(self.epoch), "position": int(self.position)}

    def restore(self, state: dict) -> None:
        """Continue from ``state``. With a ``batch_size`` entry (the global batch size the
        position was counted in) that differs from this iterator's (a resume on another
        device count with ``batch_size_per_device``), the position is converted when the
        examples consumed in its epoch are a whole number of the current batches.

        >>> it = BatchIterator(100, batch_size=10)
        >>> it.restore({"epoch": 2, "position": 3, "batch_size": 20})
        >>> it.state()
        {'epoch': 2, 'position': 6}
        """
        epoch, position = int(state["epoch"]), int(state["position"])
        saved = int(state.get("batch_size", self.batch_size))
        if saved != self.batch_size:
            consumed = position * saved
            if consumed % self.batch_size:
                raise ValueError(
                    f"BatchIterator.restore: the checkpoint consumed {position} batches of "
                    f"{saved} examples ({consumed}) in epoch {epoch}, not a whole number of "
                    f"the current global batches of {self.batch_size}; resume with a global "
                    f"batch size dividing {consumed} (or set run.resume=never)")
            position = consumed // self.batch_size
        self.epoch, self.position = epoch, position
