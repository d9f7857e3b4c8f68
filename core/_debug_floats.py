"""`debug_nans` / `debug_infs`: find the first primitive that produced a NaN (or an inf).

With a flag on (`LAMINA_DEBUG_NANS=1` / `LAMINA_DEBUG_INFS=1`,
`lamina.config.update("debug_nans", True)`, or `with lamina.debug_nans(True):`), as
jax's `jax_debug_nans` / `jax_debug_infs`:

* every eager primitive's floating outputs are checked; a NaN (inf) raises
  FloatingPointError naming the primitive and the user's source line;
* a jitted call whose outputs hold one is run again de-optimized (its Python function
  called op by op, nested `jit`s included), so the error names the primitive and line
  inside the function. Programs with no Python function at hand (the transposed
  program of a `grad`) are re-run equation by equation instead; their line is the one
  that started the computation.

With both flags off the dispatch paths pay one dict lookup (`_flags["debug_floats"]`,
which `lamina.config` keeps equal to `debug_nans or debug_infs`).
"""
from __future__ import annotations

from typing import Any, Callable, NoReturn, Sequence

import numpy as np

from lamina.config import config
from lamina.errors import user_source_line

# How many `jit` calls (under the checks) are on the stack, and whether we are inside
# a de-optimized re-run (where `jit` calls its function directly).
_state = {"depth": 0, "deoptimized": 0}


class _JitBadFloat(Exception):
    """Raised by `jit_impl` to the innermost `jit` call on the stack, which re-runs its
    function de-optimized. Never reaches the user."""

    def __init__(self, name: str, kind: str) -> None:
        super().__init__(name)
        self.name, self.kind = name, kind


def bad_float(values: Sequence[Any]) -> str | None:
    """"nan" or "inf" if a floating value holds one that an enabled flag checks for."""
    nans, infs = config.debug_nans, config.debug_infs
    for v in values:
        dtype = getattr(v, "dtype", None)
        if dtype is not None and np.issubdtype(dtype, np.inexact):
            host = np.asarray(v)
            if nans and np.isnan(host).any():
                return "nan"
            if infs and np.isinf(host).any():
                return "inf"
    return None


def check_primitive(name: str, outs: Sequence[Any]) -> None:
    """Raise FloatingPointError if an output of eager primitive `name` holds a value
    an enabled flag checks for."""
    kind = bad_float(outs)
    if kind is not None:
        where = user_source_line()
        raise FloatingPointError(f"invalid value ({kind}) encountered in {name}"
                                 f"{' at ' + where if where else ''}")


def _not_reproduced(name: str, kind: str) -> FloatingPointError:
    value = "NaN" if kind == "nan" else "inf"
    return FloatingPointError(
        f"invalid value ({kind}) encountered in the output of jit({name}), but the "
        f"de-optimized function (run op by op, as if `jit` were removed) produced no "
        f"{value}. XLA's optimizations may have produced it, or a{'n' * (kind == 'inf')} "
        f"{value} came in as an argument or a constant and was returned unchanged. "
        "Removing the `jit` may avoid it.")


def check_jit(name: str, outs: Sequence[Any], rerun: Callable[[], Any]) -> None:
    """After a compiled call of program `name`: if an output holds a checked value,
    hand it to the `jit` call on the stack (which re-runs its Python function) or, with
    none, run `rerun()` (the program equation by equation, each output checked)."""
    kind = bad_float(outs)
    if kind is None:
        return
    if _state["depth"]:
        raise _JitBadFloat(name, kind)
    rerun()
    raise _not_reproduced(name, kind)


def rerun_deoptimized(name: str, kind: str, fun: Callable[..., Any], args: Any,
                      kwargs: Any) -> NoReturn:
    """Call `fun` op by op (nested jits called directly); it should raise the precise
    FloatingPointError. Raises the jax-like fallback error if it does not."""
    # NOTE: depth 0 while re-running: a bad value from a compiled program reached in
    # the re-run (control flow, the backward pass) is re-run equation by equation there.
    depth = _state["depth"]
    _state["deoptimized"] += 1
    _state["depth"] = 0
    try:
        fun(*args, **kwargs)
    finally:
        _state["deoptimized"] -= 1
        _state["depth"] = depth
    raise _not_reproduced(name, kind) from None
