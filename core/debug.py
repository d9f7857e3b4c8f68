"""`lamina.debug`: printing and callbacks from inside transformed code (jax.debug).

`debug.print` and `debug.callback` run on the host with concrete values, also inside
`jit` (the compiled program calls Python), `vmap` (once per batch element) and `grad`
(primal values; tangents are not printed).

Limitation: calls are unordered (jax's `ordered=False`, its default): within one
compiled program XLA may run two callbacks with no data dependence in either order.
`ordered=True` raises NotImplementedError.
"""
from __future__ import annotations

import string
from typing import Any, Callable

import numpy as np

from lamina import tree_util
from lamina.lax.callbacks import FlatCallback, debug_callback_p

__all__ = ["callback", "print"]


def _check_ordered(api: str, ordered: bool, partitioned: bool) -> None:
    if ordered:
        raise NotImplementedError(
            f"{api}: ordered=True is not supported yet (lamina's callbacks are unordered, "
            "jax's default); pass ordered=False")
    if partitioned:
        raise NotImplementedError(f"{api}: partitioned=True is not supported; pass False")


def callback(callback: Callable[..., Any], *args: Any, ordered: bool = False,
             partitioned: bool = False, **kwargs: Any) -> None:
    """Call `callback(*args, **kwargs)` on the host for its effect (its return value is
    ignored), with numpy arrays for the array leaves, as `jax.debug.callback`.

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

    debug_callback_p.bind(*leaves, callback=FlatCallback(flat, name))


def _format_fields(fmt: str) -> None:
    """Reject a format string that `str.format` would fail on, at the call site."""
    for _, field, _, _ in string.Formatter().parse(fmt):
        if field is not None and field.strip() == "" and field != "":
            raise ValueError(f"debug.print: bad format field {{{field}}} in {fmt!r}")


def print(fmt: str, *args: Any, ordered: bool = False, **kwargs: Any) -> None:  # noqa: A001
    """Print `fmt.format(*args, **kwargs)` with the arguments' values, also from inside
    `jit`, `vmap` and `grad`, as `jax.debug.print`.

    >>> import lamina, lamina.numpy as lnp
    >>> f = lamina.jit(lambda x: (lamina.debug.print("x = {x}", x=x), x * 2)[1])
    >>> f(lnp.float32(3.0))
    x = 3.0
    Array(6., dtype=float32)
    """
    import builtins
    if not isinstance(fmt, str):
        raise TypeError(f"debug.print: fmt must be a format string, got {fmt!r}")
    _format_fields(fmt)

    def show(*call_args: Any, **call_kwargs: Any) -> None:
        builtins.print(fmt.format(*call_args, **call_kwargs), flush=True)

    callback(show, *args, ordered=ordered, **kwargs)
