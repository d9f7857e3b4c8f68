"""lamina.scipy: `jax.scipy`'s special functions, distributions, linear algebra,
iterative solvers (`sparse.linalg`), `optimize`, `signal`, `fft` (DCTs), `ndimage`,
`interpolate` and `integrate`.

As in jax, the subpackages load on first use (`lamina.scipy.special`, `.stats`,
`.linalg`, ...), so `import lamina` does not pay for them; `import lamina.scipy.stats` and
`from lamina.scipy import special` work as usual.

>>> import lamina.scipy
>>> lamina.scipy.special.expit(0.)
Array(0.5, dtype=float32, weak_type=True)
"""
from __future__ import annotations

import importlib
from typing import Any

_SUBMODULES = ("fft", "integrate", "interpolate", "linalg", "ndimage", "optimize", "signal",
               "sparse", "special", "stats")

__all__ = list(_SUBMODULES)


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_SUBMODULES})
