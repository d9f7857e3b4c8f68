"""`lower_fun`: the lowering rule of an elementwise primitive that XLA has no op for,
computed by a lamina implementation that is traced into a sub-program and inlined at
each use (jax's `mlir.lower_fun`).

The special functions of `special.py` (the incomplete gamma family...) and
`bessel_i0e` (`bessel.py`) lower this way. Each implementation is traced once per
output type and the program is cached, so every use of one type inlines the same
equations.
"""
from __future__ import annotations

from typing import Any, Callable

from lamina.interpreters import lowering, partial_eval as pe
from lamina.interpreters.lowering import LoweringRule, RuleContext, Value
from lamina.ir import AbstractArray, Program

# (implementation, operand type) -> the implementation traced to a closed program
_programs: dict[tuple[Callable[..., Any], AbstractArray], Program] = {}


def lower_fun(name: str, impl: Callable[..., Any]) -> LoweringRule:
    """The lowering rule of the elementwise primitive `name`, computed by `impl`.

    `impl(*operands)` takes the operands as lamina values of the output's shape and
    dtype (0-d operands are broadcast to that shape first) and returns one value of the
    same type. It must build its constants from numpy scalars, which the trace keeps as
    literals, not from Arrays.
    """

    def rule(ctx: RuleContext, *args: Value) -> Value:
        aval = ctx.aval_out.strip_weak_type()
        key = (impl, aval)
        program = _programs.get(key)
        if program is None:
            traced = pe.trace_to_program(lambda *xs: [impl(*xs)], [aval] * len(args))
            program, consts = pe.close_over_consts(traced)
            assert not consts, f"{name}: the implementation captured array constants"
            _programs[key] = program
        args_ = lowering.broadcast_scalar_operands(ctx, args)
        return ctx.lower_program(program, args_)[0]

    rule.__name__ = f"_{name}_lower"
    return rule
