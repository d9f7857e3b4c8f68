"""`debug_nans`: find the first primitive that produced a NaN.

With the flag on (`LAMINA_DEBUG_NANS=1`, `lamina.config.update("debug_nans", True)` or
`with lamina.debug_nans(True):`), as jax's `jax_debug_nans`:

* every eager primitive's floating outputs are checked; a NaN raises FloatingPointError
  naming the primitive and the user's source line;
* a jitted call whose outputs hold a NaN is run again de-optimized (its Python function
  called op by op, nested `jit`s included), so the error names the primitive and line
  inside the function. Programs with no Python function at hand (the transposed
  program of a `grad`) are re-run equation by equation instead; their line is the one
  that started the computation.

With the flag off the dispatch paths pay one dict lookup (`_flags["debug_nans"]`).
"""
from __future__ import annotations

from typing import Any, Callable, NoReturn, Sequence

import numpy as np

from lamina.errors import user_source_line

# How many `jit` calls (under debug_nans) are on the stack, and whether we are inside
# a de-optimized re-run (where `jit` calls its function directly).
_state = {"depth": 0, "deoptimized": 0}


class _JitNaN(Exception):
    """Raised by `jit_impl` to the innermost `jit` call on the stack, which re-runs its
    function de-optimized. Never reaches the user."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


def has_nan(values: Sequence[Any]) -> bool:
    for v in values:
        dtype = getattr(v, "dtype", None)
        if dtype is not None and np.issubdtype(dtype, np.inexact):
            if np.isnan(np.asarray(v)).any():
                return True
    return False


def check_primitive(name: str, outs: Sequence[Any]) -> None:
    """Raise FloatingPointError if an output of eager primitive `name` holds a NaN."""
    if has_nan(outs):
        where = user_source_line()
        raise FloatingPointError(f"invalid value (nan) encountered in {name}"
                                 f"{' at ' + where if where else ''}")


def _not_reproduced(name: str) -> FloatingPointError:
    return FloatingPointError(
        f"invalid value (nan) encountered in the output of jit({name}), but the "
        "de-optimized function (run op by op, as if `jit` were removed) produced no NaN. "
        "XLA's optimizations may have produced it, or a NaN came in as an argument or a "
        "constant and was returned unchanged. Removing the `jit` may avoid it.")


def check_jit(name: str, outs: Sequence[Any], rerun: Callable[[], Any]) -> None:
    """After a compiled call of program `name`: if an output holds a NaN, hand it to
    the `jit` call on the stack (which re-runs its Python function) or, with none, run
    `rerun()` (the program equation by equation, each output checked)."""
    if not has_nan(outs):
        return
    if _state["depth"]:
        raise _JitNaN(name)
    rerun()
    raise _not_reproduced(name)


def rerun_deoptimized(name: str, fun: Callable[..., Any], args: Any, kwargs: Any) -> NoReturn:
    """Call `fun` op by op (nested jits called directly); it should raise the precise
    FloatingPointError. Raises the jax-like fallback error if it does not."""
    # NOTE: depth 0 while re-running: a NaN from a compiled program reached in the
    # re-run (control flow, the backward pass) is re-run equation by equation there.
    depth = _state["depth"]
    _state["deoptimized"] += 1
    _state["depth"] = 0
    try:
        fun(*args, **kwargs)
    finally:
        _state["deoptimized"] -= 1
        _state["depth"] = depth
    raise _not_reproduced(name) from None
