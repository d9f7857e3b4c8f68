"""User-facing error classes.

Each class says in its docstring what provokes it and how to fix it; messages name the
function or primitive, the offending value's short type (`f32[3,4]`) and the fix.
Internal invariants use `assert`; user input never does.
"""
from __future__ import annotations


class LaminaError(Exception):
    """Base class of lamina's own errors."""


class MissingRuleError(LaminaError, NotImplementedError):
    """A primitive has no rule for a transformation (e.g. no lowering, no JVP).

    This is a gap in lamina, not a user mistake; please report it with the primitive name.
    """

    def __init__(self, primitive: object, transform: str) -> None:
        super().__init__(f"{transform} rule for primitive '{primitive}' is not implemented")
        self.primitive = primitive
        self.transform = transform


class ConcretizationError(LaminaError, TypeError):
    """A traced (abstract) value was used where a concrete Python value is needed.

    Wrong::

        @lamina.jit
        def f(x):
            if x > 0:          # x is a tracer: its value is unknown while tracing
                ...

    Right: use `lamina.lax.cond` / `lamina.numpy.where`, or mark the argument static
    with `jit(f, static_argnums=...)`.
    """


class EscapedTracerError(LaminaError):
    """A tracer was used outside the transformation that created it.

    This usually means a traced value was stored in a global or a Python object during
    `jit`/`grad`/`vmap` tracing and read back later. Return values instead of storing them.
    """


class DeletedArrayError(LaminaError, RuntimeError):
    """An Array whose buffer was donated or deleted was used again."""


def user_source_line() -> str:
    """`file:line (function)` of the innermost stack frame outside lamina: the line of
    the user's code that an error is about ("" if the whole stack is lamina's)."""
    import os
    import sys
    lamina_dir = os.path.dirname(os.path.abspath(__file__))
    frame = sys._getframe(1)
    while frame is not None:
        filename = frame.f_code.co_filename
        if not os.path.abspath(filename).startswith(lamina_dir + os.sep):
            return f"{filename}:{frame.f_lineno} ({frame.f_code.co_name})"
        frame = frame.f_back
    return ""
