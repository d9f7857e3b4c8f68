"""Checkpoints with orbax-checkpoint (imported lazily: it pulls in jax).

The train state (params, optimizer state, model state, EMA params, step, RNG key data...)
is saved as a flat mapping of numpy leaves; a JSON item carries the step, the data
iterator position, the leaf paths and the config. Orbax writes into a temporary
directory and renames it when complete, so a killed process never leaves a checkpoint
that :meth:`Checkpointer.latest_step` would return half-written.

>>> import tempfile, numpy as np
>>> ckpt = Checkpointer(tempfile.mkdtemp(), keep=2)
>>> state = {"w": np.arange(3.0), "step": np.int32(7)}
>>> ckpt.save(7, state, {"data": {"epoch": 0, "position": 7}})
>>> ckpt.wait()
>>> restored, meta = ckpt.restore(ckpt.latest_step(), state)
>>> restored["w"], meta["data"]
(array([0., 1., 2.]), {'epoch': 0, 'position': 7})
>>> ckpt.close()
"""
from __future__ import annotations

import os
import sys

import numpy as np

import lamina
from lamina import tree_util

from .trainer import TrainingError

__all__ = ["Checkpointer", "CheckpointError", "import_orbax"]


class CheckpointError(TrainingError):
    """A checkpoint could not be written (raised by the save, wait or close after it);
    ``lamina train`` reports it as training stopped (exit status 1)."""


def import_orbax():
    """Import orbax.checkpoint with jax pinned to the CPU platform (DESIGN.md rule 1)."""
    if "jax" not in sys.modules:
        # NOTE: must precede jax's import: jax would otherwise grab accelerator memory.
        os.environ["JAX_PLATFORMS"] = "cpu"
    import orbax.checkpoint as ocp
    return ocp


def _to_numpy(tree):
    return tree_util.tree_map(lambda x: np.asarray(lamina.device_get(x)), tree)


class Checkpointer:
    """Keeps the latest ``keep`` checkpoints of a run under ``directory`` and, with
    ``best_metric`` (a key of the ``metrics`` given to :meth:`save`), also the best one by
    that metric (``best_mode``: ``"max"`` or ``"min"``). ``read_only=True`` only lists
    and restores (the processes other than 0 of a multi-process run). Saves are
    asynchronous (``async_save``); one that fails raises :class:`CheckpointError`, naming
    its step and the directory, from the next :meth:`save`, :meth:`wait` or :meth:`close`.

    >>> import tempfile, numpy as np
    >>> ckpt = Checkpointer(tempfile.mkdtemp(), keep=1, best_metric="eval/accuracy")
    >>> for step, acc in [(1, 0.5), (2, 0.9), (3, 0.7), (4, 0.6)]:
    ...     ckpt.save(step, {"w": np.zeros(2)}, {}, metrics={"eval/accuracy": acc})
    >>> ckpt.wait()
    >>> ckpt.all_steps(), ckpt.best_step()
    ([2, 4], 2)
    >>> ckpt.close()
    """

    def __init__(self, directory, keep=3, async_save=True, best_metric=None,
                 best_mode="max", read_only=False):
        if best_mode not in ("max", "min"):
            raise ValueError(f"Checkpointer: best_mode must be 'max' or 'min', got "
                             f"{best_mode!r}")
        self.directory = os.path.abspath(directory)
        self.keep, self.async_save = keep, async_save
        self.best_metric, self.best_mode = best_metric, best_mode
        self.read_only = read_only
        self._manager = None
        self._in_flight = None      # NOTE: the step a background save may be writing

    @property
    def manager(self):
        if self._manager is None:
            ocp = import_orbax()
            if self.read_only:
                # NOTE: a reader beside a writer (the other processes of a multi-process
                # run): it must neither create nor clean up anything the writer owns.
                self._manager = ocp.CheckpointManager(
                    self.directory, options=ocp.CheckpointManagerOptions(read_only=True))
                return self._manager
            os.makedirs(self.directory, exist_ok=True)
            kwargs = dict(enable_async_checkpointing=self.async_save,
                          cleanup_tmp_directories=True, create=True)
            if self.best_metric is None:
                kwargs["max_to_keep"] = self.keep
            else:
                from orbax.checkpoint import checkpoint_managers as cm
                metric = self.best_metric
                best_fn = lambda m: float(m[metric])   # noqa: E731
                # NOTE: the latest N (for resume) plus the single best checkpoint; the
                # metric is stored with each checkpoint (orbax writes it when best_fn is
                # set), so the best one survives restarts.
                kwargs.update(best_fn=best_fn, best_mode=self.best_mode,
                              preservation_policy=cm.AnyPreservationPolicy([
                                  cm.LatestN(n=self.keep),
                                  cm.BestN(get_metric_fn=best_fn,
                                           reverse=self.best_mode == "min", n=1,
                                           keep_checkpoints_without_metrics=False)]))
            options = ocp.CheckpointManagerOptions(**kwargs)
            self._manager = ocp.CheckpointManager(self.directory, options=options)
        return self._manager

    def best_step(self):
        """The kept step with the best ``best_metric`` (None without one)."""
        if self.best_metric is None:
            return None
        scored = []
        for step in self.all_steps():
            m = self.manager.metrics(step)
            if m is not None and self.best_metric in m:
                scored.append((float(m[self.best_metric]), step))
        if not scored:
            return None
        return (max if self.best_mode == "max" else min)(scored)[1]

    def all_steps(self) -> list[int]:
        if self._manager is None and not _has_checkpoints(self.directory):
            return []   # NOTE: no orbax (hence no jax) import when there is nothing there.
        self.manager.reload()
        return sorted(self.manager.all_steps())

    def latest_step(self):
        steps = self.all_steps()
        return steps[-1] if steps else None

    def save(self, step: int, state, meta: dict, metrics=None) -> None:
        """Start saving ``state`` (any pytree) and ``meta`` (JSON-able) as ``step``;
        ``metrics`` ({name: float}) rank it for ``best_metric``."""
        if self.read_only:
            raise RuntimeError(f"Checkpointer.save: {self.directory!r} was opened with "
                               f"read_only=True")
        ocp = import_orbax()
        leaves_with_path, _ = tree_util.tree_flatten_with_path(_to_numpy(state))
        flat = {f"{i:05d}": leaf for i, (_, leaf) in enumerate(leaves_with_path)}
        meta = dict(meta, step=int(step),
                    leaf_paths=[tree_util.keystr(p) for p, _ in leaves_with_path])
        self.wait()     # NOTE: the previous save's failure is raised as that step's.
        try:
            self.manager.save(int(step), args=ocp.args.Composite(
                state=ocp.args.StandardSave(flat), meta=ocp.args.JsonSave(meta)),
                force=True, metrics=None if metrics is None or self.best_metric is None
                else {k: float(v) for k, v in metrics.items()})
        except Exception as e:
            raise self._failure(int(step), e) from e
        self._in_flight = int(step)
        if not self.async_save:
            self.wait()

    def _failure(self, step, error):
        what = f"checkpoint step {step}" if step is not None else "a checkpoint"
        return CheckpointError(
            f"saving {what} to {self.directory} failed: {type(error).__name__}: {error}; "
            f"the checkpoints before it are kept (resume: auto continues from the latest "
            f"of them)")

    def wait(self) -> None:
        """Wait for the save in flight; a :class:`CheckpointError` naming its step and
        the directory if it failed in the background (raised once, as orbax does)."""
        if self._manager is None or self._in_flight is None:
            return
        step, self._in_flight = self._in_flight, None
        try:
            self._manager.wait_until_finished()
        except Exception as e:
            raise self._failure(step, e) from e

    def restore(self, step: int, template):
        """Restore ``step`` into the structure of ``template``; returns (state, meta)."""
        ocp = import_orbax()
        leaves, treedef = tree_util.tree_flatten(_to_numpy(template))
        flat = {f"{i:05d}": leaf for i, leaf in enumerate(leaves)}
        meta = self.manager.restore(int(step), args=ocp.args.Composite(
            meta=ocp.args.JsonRestore()))["meta"]
        if len(meta["leaf_paths"]) != len(leaves):
            raise ValueError(
                f"checkpoint {self.directory}/{step} holds {len(meta['leaf_paths'])} arrays "
                f"but the current model/optimizer state has {len(leaves)}: the config "
                f"changed since it was saved (or resume from another run); set "
                f"run.resume=never or use a new run.output_dir")
        got = self.manager.restore(int(step), args=ocp.args.Composite(
            state=ocp.args.StandardRestore(flat)))["state"]
        out = []
        for i, leaf in enumerate(leaves):
            arr = np.asarray(got[f"{i:05d}"])
            if arr.shape != leaf.shape or arr.dtype != leaf.dtype:
                raise ValueError(
                    f"checkpoint {self.directory}/{step}: {meta['leaf_paths'][i]} is "
                    f"{arr.dtype}{list(arr.shape)} but the current state expects "
                    f"{leaf.dtype}{list(leaf.shape)}")
            out.append(arr)
        return tree_util.tree_unflatten(treedef, out), meta

    def close(self) -> None:
        """Wait for the save in flight (a :class:`CheckpointError` if it failed) and
        release orbax's threads."""
        if self._manager is None:
            return
        manager, self._manager = self._manager, None
        step, self._in_flight = self._in_flight, None
        try:
            manager.close()
        except Exception as e:
            raise self._failure(step, e) from e
        finally:
            # NOTE: orbax's close() does not wait for the start-up removal of unfinished
            # step directories (it runs in a thread); a manager opened right after on the
            # same directory would race it over the same `*-tmp` paths and fail in rmtree.
            await_cleanup = getattr(manager, "_maybe_await_cleanup_tmp_directory", None)
            if await_cleanup is not None:
                await_cleanup()


def _has_checkpoints(directory) -> bool:
    if not os.path.isdir(directory):
        return False
    return any(name.isdigit() for name in os.listdir(directory))


def find_checkpoint_dir(path):
    """A run directory, its ``checkpoints/`` or a step directory → (ckpt_dir, step|None)."""
    path = os.path.abspath(path)
    if os.path.isdir(os.path.join(path, "checkpoints")):
        return os.path.join(path, "checkpoints"), None
    base = os.path.basename(path)
    if base.isdigit() and os.path.exists(os.path.join(path, "commit_success.txt")) or (
            base.isdigit() and os.path.isdir(os.path.join(path, "state"))):
        return os.path.dirname(path), int(base)
    return path, None
