"""`lamina.debug`: printing and callbacks from inside transformed code (jax.debug).

`debug.print` and `debug.callback` run on the host with concrete values, also inside
`jit` (the compiled program calls Python), `vmap` (once per batch element) and `grad`
(primal values; tangents are not printed).

By default calls are unordered (jax's `ordered=False`): within one compiled program XLA
may run two callbacks with no data dependence in either order. `ordered=True` runs the
ordered calls of one program in program order (a token threads through them, and through
the scan/while/fori_loop/cond around calls in their bodies, so a body's calls run between
the calls before and after it, as jax's). A while_loop's cond_fun cannot pass the token
on: its ordered calls follow the ones before the loop, in no fixed order against the
body's. No token orders the calls of two programs' executions (jax threads one between
them).

Calls inside a loop or cond body, or a nested jit, survive dead-code elimination even
when nothing uses the loop's results (`partial_eval.has_effects`).
"""
from __future__ import annotations

import string
import sys
from typing import Any, Callable

import numpy as np

from lamina import tree_util
from lamina.lax.callbacks import FlatCallback, debug_callback_p

__all__ = ["callback", "print"]


def _check_ordered(api: str, ordered: bool, partitioned: bool) -> None:
    if not isinstance(ordered, bool):
        raise TypeError(f"{api}: ordered must be a bool, got {ordered!r}")
    if partitioned:
        raise NotImplementedError(f"{api}: partitioned=True is not supported; pass False")


def callback(callback: Callable[..., Any], *args: Any, ordered: bool = False,
             partitioned: bool = False, **kwargs: Any) -> None:
    """Call `callback(*args, **kwargs)` on the host for its effect (its return value is
    ignored), with numpy arrays for the array leaves, as `jax.debug.callback`.

    `ordered=True`: the ordered calls of one compiled program run in program order,
    calls inside scan/while/cond bodies included; unordered ones may run in any order
    that the data dependences allow.

    >>> import lamina, lamina.numpy as lnp
    >>> seen = []
    >>> f = lamina.jit(lambda x: (lamina.debug.callback(seen.append, x), x + 1)[1])
    >>> f(lnp.float32(1.0))
    Array(2., dtype=float32)
    >>> seen
    [array(1., dtype=float32)]
    """
    if not callable(callback):
        raise TypeError(f"debug.callback: callback must be callable, got {callback!r}")
    _check_ordered("debug.callback", ordered, partitioned)
    leaves, in_tree = tree_util.tree_flatten((args, kwargs))
    name = getattr(callback, "__name__", type(callback).__name__)

    def flat(*flat_args: np.ndarray) -> None:
        call_args, call_kwargs = tree_util.tree_unflatten(in_tree, list(flat_args))
        callback(*call_args, **call_kwargs)

    debug_callback_p.bind(*leaves, callback=FlatCallback(flat, name), ordered=ordered)


def _format_fields(fmt: str) -> None:
    """Reject a format string that `str.format` would fail on, at the call site."""
    for _, field, _, _ in string.Formatter().parse(fmt):
        if field is not None and field.strip() == "" and field != "":
            raise ValueError(f"debug.print: bad format field {{{field}}} in {fmt!r}")


def print(fmt: str, *args: Any, ordered: bool = False, **kwargs: Any) -> None:  # noqa: A001
    """Print `fmt.format(*args, **kwargs)` with the arguments' values, also from inside
    `jit`, `vmap` and `grad`, as `jax.debug.print`; `ordered` as in `debug.callback`.

    >>> import lamina, lamina.numpy as lnp
    >>> f = lamina.jit(lambda x: (lamina.debug.print("x = {x}", x=x), x * 2)[1])
    >>> f(lnp.float32(3.0))
    x = 3.0
    Array(6., dtype=float32)
    >>> g = lamina.jit(lambda x: [lamina.debug.print("{}", x + i, ordered=True)
    ...                           for i in range(3)] and x)
    >>> _ = g(lnp.float32(0.0))
    0.0
    1.0
    2.0
    """
    if not isinstance(fmt, str):
        raise TypeError(f"debug.print: fmt must be a format string, got {fmt!r}")
    _format_fields(fmt)

    def show(*call_args: Any, **call_kwargs: Any) -> None:
        # NOTE: one write per message: devices of a pmap or shard_map print from their
        # own threads, and print()'s separate newline write would interleave them.
        sys.stdout.write(fmt.format(*call_args, **call_kwargs) + "\n")
        sys.stdout.flush()

    callback(show, *args, ordered=ordered, **kwargs)
