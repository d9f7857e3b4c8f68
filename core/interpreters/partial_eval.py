"""Tracing Python functions into `Program`s, and splitting programs into known and
unknown parts.

`ProgramTrace` records every primitive applied to its tracers as an equation. Values
that are not its tracers (concrete Arrays, tracers of enclosing traces) become the
program's constants. It runs in one of two modes:

* staging (`partial=False`, used by `jit`, `make_jaxpr` and sub-programs of control
  flow): every primitive is recorded, even one whose inputs are all constants;
* partial (`partial=True`, used by `linearize`/`vjp`): a primitive whose inputs are all
  *known* (no tracer of this trace among them) runs now, in the parent trace; only the
  rest is recorded. Under a JVP trace the tangent inputs are the only unknowns, so the
  recorded program is exactly the linear tangent map (JAX's "JVP + partial evaluation").

Higher-order primitives (`jit`, `cond`, `scan`...) carry sub-programs; their
`partial_eval_rules` split a sub-program with `partial_eval_program`.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from lamina import dtypes
from lamina.errors import user_source_line
from lamina.backend.array import Array
from lamina.ir import (AbstractArray, Eqn, Literal, Primitive, Program, Trace, Tracer, Var,
                       current_trace, set_current_trace, shaped_abstractify, typecheck)

PartialEvalRule = Callable[["ProgramTrace", Primitive, Sequence[Any], dict[str, Any]], Any]

# primitive -> rule(trace, primitive, args, params) -> outputs, for primitives whose
# sub-programs must be split when only some of their inputs are known.
partial_eval_rules: dict[Primitive, PartialEvalRule] = {}


class ProgramTracer(Tracer):
    __slots__ = ("var",)

    def __init__(self, trace: "ProgramTrace", var: Var) -> None:
        self._trace = trace
        self.var = var

    @property
    def aval(self) -> AbstractArray:
        return self.var.aval


class ProgramTrace(Trace):
    """Records primitives into equations (see the module docstring for the modes)."""

    def __init__(self, parent: Trace | None = None, *, partial: bool = False) -> None:
        self.parent = parent if parent is not None else current_trace()
        self.partial = partial
        self.invars: list[Var] = []
        self.eqns: list[Eqn] = []
        self.const_vars: dict[int, Var] = {}  # id(value) -> constvar
        self.const_values: list[Any] = []
        self._const_keepalive: list[Any] = []
        self.source = user_source_line()

    def new_arg(self, aval: AbstractArray) -> ProgramTracer:
        var = Var(aval)
        self.invars.append(var)
        return ProgramTracer(self, var)

    def is_own(self, x: Any) -> bool:
        return isinstance(x, ProgramTracer) and x._trace is self

    def to_atom(self, x: Any) -> Var | Literal:
        """The IR atom for `x`: its variable, an inline literal or a new constvar."""
        if isinstance(x, ProgramTracer) and x._trace is self:
            return x.var
        literal = _as_literal(x)
        if literal is not None:
            return literal
        var = self.const_vars.get(id(x))
        if var is None:
            var = self.const_vars[id(x)] = Var(shaped_abstractify(x))
            self.const_values.append(x)
            self._const_keepalive.append(x)  # ids stay unique while we hold the value
        return var

    def process_primitive(self, primitive: Primitive, args: Sequence[Any],
                          params: dict[str, Any]) -> Any:
        if self.partial and not any(self.is_own(a) for a in args):
            with set_current_trace(self.parent):
                return primitive.bind(*args, **params)
        rule = partial_eval_rules.get(primitive) if self.partial else None
        if rule is not None:
            return rule(self, primitive, args, params)
        return self.stage(primitive, args, params)

    def stage(self, primitive: Primitive, args: Sequence[Any], params: dict[str, Any]) -> Any:
        """Record `primitive[params](args)` as an equation; returns its output tracers."""
        invars = [self.to_atom(a) for a in args]
        out = primitive.abstract_eval(*[a.aval for a in invars], **params)
        out_avals = list(out) if primitive.multiple_results else [out]
        outvars = [Var(a) for a in out_avals]
        self.eqns.append(Eqn(primitive, invars, outvars, params))
        tracers = [ProgramTracer(self, v) for v in outvars]
        return tracers if primitive.multiple_results else tracers[0]

    def to_program(self, outs: Sequence[Any]) -> Program:
        """Finish tracing: the program from this trace's inputs to `outs`."""
        outvars = [self.to_atom(o) for o in outs]
        self.finish()
        constvars = list(self.const_vars.values())
        program = dce(Program(constvars, self.invars, self.eqns, outvars, self.const_values))
        from lamina.config import config
        if config.enable_checks:
            typecheck(program)
        return program


# Host arrays up to this many elements are written inline in the IR (rules build masks
# and index tables with numpy); bigger ones stay constants passed at run time.
_MAX_INLINE_ELEMENTS = 4096


def _as_literal(x: Any) -> Literal | None:
    """Python/numpy scalars, small numpy arrays and cached 0-d Arrays are written inline
    in the IR (as StableHLO constants when lowered)."""
    if dtypes.is_python_scalar(x):
        return Literal(x, shaped_abstractify(x))
    if isinstance(x, np.generic) or type(x) is np.ndarray and x.ndim == 0:
        # NOTE: rules write 0-d constants as np.array(1, dtype) too; inline them all.
        x = x[()]
        return Literal(x, AbstractArray((), dtypes.canonicalize_dtype(x.dtype)))
    if type(x) is np.ndarray and x.size <= _MAX_INLINE_ELEMENTS and x.dtype != dtypes.float0:
        aval = shaped_abstractify(x)
        return Literal(np.asarray(x, aval.dtype), aval)
    if type(x) is Array and x.ndim == 0 and x._npy is not None:
        return Literal(x._npy[()], x.aval)
    return None


# --------------------------------------------------------------------------------------
# Tracing functions and evaluating programs
# --------------------------------------------------------------------------------------


def trace_to_program(fun: Callable[..., Sequence[Any]], in_avals: Sequence[AbstractArray],
                     ) -> Program:
    """Stage `fun(*tracers) -> list of outputs` into a Program (constants as constvars)."""
    trace = ProgramTrace()
    args = [trace.new_arg(a) for a in in_avals]
    with set_current_trace(trace):
        outs = fun(*args)
    return trace.to_program(list(outs))


def close_over_consts(program: Program) -> tuple[Program, list[Any]]:
    """Turn constvars into leading invars: returns (program without consts, consts)."""
    if not program.constvars:
        return program, []
    open_program = Program([], [*program.constvars, *program.invars], program.eqns,
                           program.outvars)
    return open_program, list(program.consts)


def eval_program(program: Program, consts: Sequence[Any], args: Sequence[Any]) -> list[Any]:
    """Run `program` in the current trace (binding each equation's primitive)."""
    env: dict[int, Any] = {}
    binders = [*program.constvars, *program.invars]
    values = [*consts, *args]
    if len(binders) != len(values):
        raise TypeError(f"program takes {len(binders)} inputs, got {len(values)}")
    for v, x in zip(binders, values):
        env[v.id] = x

    def read(atom: Var | Literal) -> Any:
        return atom.val if isinstance(atom, Literal) else env[atom.id]

    for eqn in program.eqns:
        outs = eqn.primitive.bind(*[read(a) for a in eqn.invars], **eqn.params)
        if not eqn.primitive.multiple_results:
            outs = [outs]
        for v, o in zip(eqn.outvars, outs):
            env[v.id] = o
    return [read(a) for a in program.outvars]


# Primitives run for their effect (lamina.debug.callback): never dropped by `dce`.
effectful_primitives: set[Primitive] = set()


def has_effects(eqn: Eqn) -> bool:
    """Whether `eqn` runs an effectful primitive, itself or inside a sub-program of its
    params (a jit, scan, while or cond body), so that `dce` must keep it."""
    if eqn.primitive in effectful_primitives:
        return True
    if not effectful_primitives:
        return False
    return any(_program_has_effects(p) for p in _sub_programs(eqn.params.values()))


def _sub_programs(values: Any) -> Any:
    for v in values:
        if isinstance(v, Program):
            yield v
        elif isinstance(v, (tuple, list)):
            yield from _sub_programs(v)


def _program_has_effects(program: Program) -> bool:
    return any(has_effects(e) for e in program.eqns)


def dce(program: Program, used_outputs: Sequence[bool] | None = None) -> Program:
    """Drop equations whose outputs nothing uses, except those with effects
    (`has_effects`)."""
    outvars = program.outvars if used_outputs is None else [
        v for v, u in zip(program.outvars, used_outputs) if u]
    live = {v.id for v in outvars if isinstance(v, Var)}
    kept = []
    for eqn in reversed(program.eqns):
        if any(v.id in live for v in eqn.outvars) or has_effects(eqn):
            kept.append(eqn)
            live.update(a.id for a in eqn.invars if isinstance(a, Var))
    kept.reverse()
    if len(kept) == len(program.eqns) and used_outputs is None:
        return program
    return Program(program.constvars, program.invars, kept, outvars, program.consts)


# --------------------------------------------------------------------------------------
# Known / unknown split of a sub-program
# --------------------------------------------------------------------------------------


class PartialEvalResult:
    """`program` split by which inputs are unknown.

    * `known`: known_consts + known inputs -> known outputs + residuals.
    * `unknown`: residuals + unknown inputs -> unknown outputs.
    * `out_unknowns[i]`: whether output i is computed by `unknown`.
    """

    __slots__ = ("known", "known_consts", "unknown", "out_unknowns", "num_residuals")

    def __init__(self, known: Program, known_consts: list[Any], unknown: Program,
                 out_unknowns: list[bool], num_residuals: int) -> None:
        self.known, self.known_consts, self.unknown = known, known_consts, unknown
        self.out_unknowns, self.num_residuals = out_unknowns, num_residuals


def partial_eval_program(program: Program, in_unknowns: Sequence[bool],
                         instantiate: Sequence[bool] | bool = False) -> PartialEvalResult:
    """Split a closed program (no constvars) into a known and an unknown part.

    `instantiate[i]` forces output i into the unknown part even if it is known (loops
    need this to make a carry's type stable across iterations).
    """
    assert not program.constvars, "close_over_consts first"
    n_out = len(program.outvars)
    if isinstance(instantiate, bool):
        instantiate = [instantiate] * n_out
    known_avals = [v.aval for v, u in zip(program.invars, in_unknowns) if not u]
    unknown_avals = [v.aval for v, u in zip(program.invars, in_unknowns) if u]
    result: dict[str, Any] = {}

    def known_fn(*known_args: Any) -> list[Any]:
        inner = ProgramTrace(partial=True)
        unknown_args = iter([inner.new_arg(a) for a in unknown_avals])
        known_iter = iter(known_args)
        args = [next(unknown_args) if u else next(known_iter) for u in in_unknowns]
        with set_current_trace(inner):
            outs = eval_program(program, [], args)
        out_unknowns = [inner.is_own(o) or inst for o, inst in zip(outs, instantiate)]
        staged = inner.to_program([o for o, u in zip(outs, out_unknowns) if u])
        residuals = list(staged.consts)
        # residuals become the unknown program's leading inputs
        result["unknown"] = Program([], [*staged.constvars, *staged.invars], staged.eqns,
                                    staged.outvars)
        result["out_unknowns"] = out_unknowns
        result["num_residuals"] = len(residuals)
        return [o for o, u in zip(outs, out_unknowns) if not u] + residuals

    known, known_consts = close_over_consts(trace_to_program(known_fn, known_avals))
    return PartialEvalResult(known, known_consts, result["unknown"], result["out_unknowns"],
                             result["num_residuals"])
