"""glibc heap settings for XLA:CPU's per-execution buffers.

XLA:CPU mallocs each execution's scratch and outputs, under async dispatch on its worker
threads. With glibc's defaults a worker thread's arena gives a big freed block back to
the OS (a new heap mapped and unmapped per step), so the next execution faults it in
again page by page: ~6000 page faults and ~25% of the benchmarks' transformer step
(31.5 MB of scratch). Keeping 32 MB of padding at the top of each heap, with a fixed
32 MB mmap threshold (glibc's maximum), lets the blocks be reused: 0 faults, the step
26 -> 18 ms; peak RSS +7% (346 -> 370 MB), small steps unchanged.

`tune()` runs once, when lamina makes its CPU client, unless
`LAMINA_CPU_MALLOC_TUNING=0` (or `lamina.config.update("cpu_malloc_tuning", False)`
before the first array); it is process-wide, like `malloc_trim` after compiles.
"""
from __future__ import annotations

import ctypes
import sys
from typing import Any

_M_TOP_PAD = -2
_M_MMAP_THRESHOLD = -3
_MB = 1 << 20
SETTINGS = ((_M_MMAP_THRESHOLD, 32 * _MB), (_M_TOP_PAD, 32 * _MB))

applied: list[tuple[int, int]] = []
"""The (mallopt parameter, value) pairs set in this process (tests read it)."""


def _find_mallopt() -> Any:
    if not sys.platform.startswith("linux"):
        return None
    try:
        mallopt = ctypes.CDLL(None).mallopt   # glibc's; musl has none
    except (OSError, AttributeError):
        return None
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return mallopt


def tune() -> None:
    """Apply SETTINGS (a no-op without glibc's mallopt, or once applied)."""
    mallopt = _find_mallopt()
    if mallopt is None or applied:
        return
    for param, value in SETTINGS:
        if mallopt(param, value) == 1:   # mallopt returns 1 on success
            applied.append((param, value))
