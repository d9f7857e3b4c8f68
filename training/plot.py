"""``lamina plot RUN_DIR``: a PNG of the loss and metric curves (matplotlib, Agg).

>>> import tempfile
>>> from lamina.training.logging import MetricLogger
>>> d = tempfile.mkdtemp()
>>> log = MetricLogger(d, 2, progress="none")
>>> log.scalars(1, {"train/loss": 1.0}); log.scalars(2, {"train/loss": 0.5})
>>> log.close()
>>> plot_run(d).endswith("curves.png")
True
"""
from __future__ import annotations

import os

__all__ = ["plot_run"]


def _curves(run_dir) -> dict:
    from .logging import read_events, read_jsonl
    if os.path.exists(os.path.join(run_dir, "metrics.jsonl")):
        curves: dict = {}
        for rec in read_jsonl(run_dir):
            for k, v in rec.items():
                if k != "step":
                    curves.setdefault(k, []).append((rec["step"], v))
        return curves
    return read_events(run_dir)


def plot_run(run_dir, out=None) -> str:
    """Plot every scalar of a run (one panel per tag); returns the PNG's path."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    if not os.path.isdir(run_dir):
        raise FileNotFoundError(f"lamina plot: run directory {run_dir!r} does not exist")
    curves = _curves(run_dir)
    if not curves:
        raise FileNotFoundError(f"lamina plot: no metrics.jsonl or event files with scalars "
                                f"in {run_dir!r}")
    tags = sorted(curves, key=lambda t: (not t.endswith("loss"), t))
    cols = min(3, len(tags))
    rows = (len(tags) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(4.5 * cols, 3.2 * rows), squeeze=False)
    for ax in axes.flat[len(tags):]:
        ax.axis("off")
    for ax, tag in zip(axes.flat, tags):
        pts = sorted(curves[tag])
        ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="." if len(pts) < 30 else None)
        ax.set_title(tag)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
        if tag.endswith("loss") and all(p[1] > 0 for p in pts):
            ax.set_yscale("log")
    fig.suptitle(os.path.basename(os.path.abspath(run_dir)))
    fig.tight_layout()
    out = out or os.path.join(run_dir, "curves.png")
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out
