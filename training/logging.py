"""Metric logging: TensorBoard event files (tensorboardX), ``metrics.jsonl``, progress.

>>> import tempfile
>>> d = tempfile.mkdtemp()
>>> log = MetricLogger(d, total_steps=10, progress="none")
>>> log.scalars(1, {"train/loss": 0.5})
>>> log.close()
>>> [(e["step"], e["train/loss"]) for e in read_jsonl(d)]
[(1, 0.5)]
>>> read_events(d)["train/loss"]
[(1, 0.5)]
"""
from __future__ import annotations

import glob
import json
import os
import struct
import sys
import time

__all__ = ["MetricLogger", "read_events", "read_jsonl"]


class MetricLogger:
    """Writes scalars to TensorBoard event files and ``metrics.jsonl`` in ``run_dir``;
    shows a tqdm progress bar on a terminal, or plain periodic lines otherwise."""

    def __init__(self, run_dir, total_steps, progress="auto", initial_step=0,
                 enabled=True, stream=None):
        self.run_dir, self.total, self.enabled = run_dir, total_steps, enabled
        self.stream = stream or sys.stderr
        self._writer = None
        self._jsonl = None
        self._bar = None
        if not enabled:
            return
        os.makedirs(run_dir, exist_ok=True)
        self._writer = _summary_writer_class()(logdir=run_dir, flush_secs=5)
        self._jsonl = open(os.path.join(run_dir, "metrics.jsonl"), "a")
        if progress == "auto":
            progress = "bar" if getattr(self.stream, "isatty", lambda: False)() else "lines"
        self.progress = progress
        if progress == "bar":
            from tqdm import tqdm
            self._bar = tqdm(total=total_steps, initial=initial_step, file=self.stream,
                             dynamic_ncols=True, unit="step")
        self._start, self._start_step = time.time(), initial_step

    def hparams(self, flat: dict) -> None:
        """Record hyperparameters (scalars and strings) once at the start."""
        if not self.enabled:
            return
        from tensorboardX.summary import hparams
        clean = {k: v for k, v in flat.items()
                 if isinstance(v, (int, float, str, bool)) and v is not None}
        for s in hparams(clean, {}):
            self._writer.file_writer.add_summary(s)
        self._writer.add_text("config", "\n".join(f"    {k}: {v}" for k, v in flat.items()))

    def scalars(self, step: int, values: dict) -> None:
        if not self.enabled:
            return
        values = {k: float(v) for k, v in values.items()}
        for k, v in values.items():
            self._writer.add_scalar(k, v, step)
        self._jsonl.write(json.dumps({"step": int(step), **values}) + "\n")
        self._jsonl.flush()

    def progress_update(self, step: int, values: dict) -> None:
        if not self.enabled or self.progress == "none":
            return
        short = {k.split("/")[-1]: v for k, v in values.items()}
        if self._bar is not None:
            self._bar.n = step
            self._bar.set_postfix({k: f"{v:.4g}" for k, v in short.items()
                                   if k in ("loss", "accuracy", "learning_rate")},
                                  refresh=True)
            return
        elapsed = time.time() - self._start
        done = step - self._start_step
        eta = (self.total - step) * elapsed / done if done else 0.0
        parts = " ".join(f"{k} {v:.4g}" for k, v in short.items())
        print(f"step {step}/{self.total} {parts} eta {_fmt_time(eta)}", file=self.stream,
              flush=True)

    def message(self, text: str) -> None:
        if self._bar is not None:
            self._bar.write(text, file=self.stream)
        elif self.enabled:
            print(text, file=self.stream, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        if self._jsonl is not None:
            self._jsonl.close()
            self._jsonl = None


def _fmt_time(s: float) -> str:
    s = int(s)
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


def read_jsonl(run_dir) -> list[dict]:
    """The records of ``run_dir/metrics.jsonl`` (one dict per logging call)."""
    path = os.path.join(run_dir, "metrics.jsonl")
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def read_events(run_dir) -> dict[str, list[tuple[int, float]]]:
    """Scalars from the TensorBoard event files in ``run_dir``: ``{tag: [(step, v)]}``.

    Reads the TFRecord framing (length, crc, payload, crc) and parses each payload with
    tensorboardX's ``Event`` protobuf.
    """
    from tensorboardX.proto.event_pb2 import Event
    out: dict[str, list] = {}
    for path in sorted(glob.glob(os.path.join(run_dir, "events.out.tfevents.*"))):
        with open(path, "rb") as f:
            data = f.read()
        pos = 0
        while pos + 12 <= len(data):
            (length,) = struct.unpack("<Q", data[pos:pos + 8])
            payload = data[pos + 12:pos + 12 + length]
            pos += 12 + length + 4
            if len(payload) < length:
                break   # NOTE: a record still being written; the rest is not there yet.
            ev = Event.FromString(payload)
            for v in ev.summary.value:
                if v.HasField("simple_value"):
                    out.setdefault(v.tag, []).append((int(ev.step), float(v.simple_value)))
    return out


def _summary_writer_class():
    """tensorboardX's SummaryWriter, imported without PyTorch.

    tensorboardX imports torch at module level when it is installed, only to accept torch
    tensors; that costs seconds per launch and lamina logs Python floats. So torch is
    hidden while tensorboardX loads, unless the program imported torch already.
    """
    if "tensorboardX.writer" in sys.modules or "torch" in sys.modules:
        from tensorboardX import SummaryWriter
        return SummaryWriter
    sys.modules["torch"] = None  # type: ignore[assignment]  # makes `import torch` fail
    try:
        from tensorboardX import SummaryWriter
    finally:
        del sys.modules["torch"]
    return SummaryWriter
