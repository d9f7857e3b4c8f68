"""Automatic differentiation: forward mode (JVP), and reverse mode as JVP + partial
evaluation + transposition.

* `JVPTrace` carries a (primal, tangent) pair per value and applies each primitive's
  rule from `primitive_jvps`: `rule(primals, tangents, **params) -> (primal_out,
  tangent_out)`. A tangent may be the symbolic `Zero(aval)`, so inputs that do not
  depend on the differentiated arguments cost nothing.
* `linearize` runs the JVP on top of a partial `ProgramTrace` whose only unknowns are
  the input tangents: the primal computation runs now, and the tangent computation is
  recorded as a linear program (partial_eval.py).
* `backward_pass` transposes a linear program with `primitive_transposes`:
  `rule(cotangent, *args, **params) -> cotangents per arg`, where the linear inputs are
  `UndefinedPrimal(aval)` and the others are their (known) values.

The user-facing functions (`grad`, `vjp`, `jacrev`...) live in `lamina/_api_ad.py`.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from lamina import dtypes
from lamina.errors import MissingRuleError, user_source_line
from lamina.interpreters import batching, lowering
from lamina.interpreters.partial_eval import ProgramTrace
from lamina.ir import (AbstractArray, Literal, Primitive, Program, Trace, Tracer, Var,
                       set_current_trace, shaped_abstractify)

JVPRule = Callable[..., tuple[Any, Any]]
TransposeRule = Callable[..., Sequence[Any]]

primitive_jvps: dict[Primitive, JVPRule] = {}
primitive_transposes: dict[Primitive, TransposeRule] = {}


# --------------------------------------------------------------------------------------
# Tangent types and symbolic zeros
# --------------------------------------------------------------------------------------


def tangent_dtype(dtype: np.dtype) -> np.dtype:
    """Inexact values have tangents of their own dtype; ints and bools have float0."""
    return dtype if dtypes.is_inexact(dtype) else dtypes.float0


def tangent_aval(aval: AbstractArray) -> AbstractArray:
    return AbstractArray(aval.shape, tangent_dtype(aval.dtype), aval.weak_type)


class Zero:
    """A symbolic zero tangent or cotangent of type `aval`."""

    __slots__ = ("aval",)

    def __init__(self, aval: AbstractArray) -> None:
        self.aval = aval

    @staticmethod
    def like(x: Any) -> "Zero":
        return Zero(tangent_aval(shaped_abstractify(x)))

    def __repr__(self) -> str:
        return f"Zero({self.aval.str_short()})"


def zeros_like_aval(aval: AbstractArray) -> Any:
    """A concrete (or traced, in the current trace) array of zeros of type `aval`."""
    if aval.dtype == dtypes.float0:
        return np.zeros(aval.shape, dtypes.float0)
    from lamina import lax
    return lax.full(aval.shape, 0, aval.dtype)


def instantiate_zeros(t: Any) -> Any:
    return zeros_like_aval(t.aval) if isinstance(t, Zero) else t


def add_tangents(a: Any, b: Any) -> Any:
    if isinstance(a, Zero):
        return b
    if isinstance(b, Zero):
        return a
    return add_any_p.bind(a, b)


# `add_any` adds two tangents of the same type. Unlike `lax.add` it never promotes or
# broadcasts, so its transpose is trivially (ct, ct).
add_any_p = Primitive("add_any")


@add_any_p.def_abstract_eval
def _add_any_abstract_eval(x: AbstractArray, y: AbstractArray) -> AbstractArray:
    assert (x.shape, x.dtype) == (y.shape, y.dtype), (x, y)
    return x.update(weak_type=x.weak_type and y.weak_type)


lowering.register_lowering(add_any_p, lowering.elementwise("stablehlo.add"))


def _add_any_jvp(primals: Sequence[Any], tangents: Sequence[Any]) -> tuple[Any, Any]:
    return add_any_p.bind(*primals), add_tangents(*tangents)


primitive_jvps[add_any_p] = _add_any_jvp
primitive_transposes[add_any_p] = lambda ct, x, y: [ct, ct]


def _add_any_batch(args: Sequence[Any], dims: Sequence[Any]) -> tuple[Any, Any]:
    x, y = args
    dx, dy = dims
    if dx == dy:
        return add_any_p.bind(x, y), dx
    size = batching.dim_size(args, dims)
    x = batching.bdim_at_front(x, dx, size)
    y = batching.bdim_at_front(y, dy, size)
    return add_any_p.bind(x, y), 0


batching.primitive_batchers[add_any_p] = _add_any_batch


# --------------------------------------------------------------------------------------
# Rule helpers for primitive blocks in lax/
# --------------------------------------------------------------------------------------


def defjvp(primitive: Primitive, *jvp_fns: Callable[..., Any] | None) -> None:
    """Rule from one function per argument: `fn(g, *primals, **params)` is that
    argument's contribution to the output tangent (None: not differentiable there)."""

    def rule(primals: Sequence[Any], tangents: Sequence[Any], **params: Any) -> tuple[Any, Any]:
        out = primitive.bind(*primals, **params)
        tangent_out: Any = Zero.like(out)
        for fn, t in zip(jvp_fns, tangents):
            if fn is not None and not isinstance(t, Zero):
                tangent_out = add_tangents(tangent_out, fn(t, *primals, **params))
        return out, tangent_out

    primitive_jvps[primitive] = rule


def defjvp2(primitive: Primitive, *jvp_fns: Callable[..., Any] | None) -> None:
    """Like `defjvp`, with the primal output too: `fn(g, ans, *primals, **params)`
    (e.g. exp's tangent is `g * ans`)."""

    def rule(primals: Sequence[Any], tangents: Sequence[Any], **params: Any) -> tuple[Any, Any]:
        out = primitive.bind(*primals, **params)
        tangent_out: Any = Zero.like(out)
        for fn, t in zip(jvp_fns, tangents):
            if fn is not None and not isinstance(t, Zero):
                tangent_out = add_tangents(tangent_out, fn(t, out, *primals, **params))
        return out, tangent_out

    primitive_jvps[primitive] = rule


def deflinear(primitive: Primitive, transpose_rule: TransposeRule) -> None:
    """A primitive linear in all of its (array) arguments: its JVP applies it to the
    tangents (zeros instantiated), and `transpose_rule(ct, *args, **params)` is its
    transpose."""

    def rule(primals: Sequence[Any], tangents: Sequence[Any], **params: Any) -> tuple[Any, Any]:
        out = primitive.bind(*primals, **params)
        if all(isinstance(t, Zero) for t in tangents):
            zero = ([Zero.like(o) for o in out] if primitive.multiple_results
                    else Zero.like(out))
            return out, zero
        return out, primitive.bind(*[instantiate_zeros(t) for t in tangents], **params)

    primitive_jvps[primitive] = rule
    primitive_transposes[primitive] = transpose_rule


def defjvp_zero(primitive: Primitive) -> None:
    """The output does not depend differentiably on the inputs (comparisons, integer
    ops, argmax...): its tangent is a symbolic zero."""

    def rule(primals: Sequence[Any], tangents: Sequence[Any], **params: Any) -> tuple[Any, Any]:
        out = primitive.bind(*primals, **params)
        if primitive.multiple_results:
            return out, [Zero.like(o) for o in out]
        return out, Zero.like(out)

    primitive_jvps[primitive] = rule


# --------------------------------------------------------------------------------------
# The JVP trace
# --------------------------------------------------------------------------------------


class JVPTracer(Tracer):
    __slots__ = ("primal", "tangent")

    def __init__(self, trace: "JVPTrace", primal: Any, tangent: Any) -> None:
        self._trace = trace
        self.primal = primal
        self.tangent = tangent

    @property
    def aval(self) -> AbstractArray:
        return shaped_abstractify(self.primal)


class JVPTrace(Trace):
    def __init__(self, parent: Trace) -> None:
        self.parent = parent
        self.source = user_source_line()

    def unpack(self, x: Any) -> tuple[Any, Any]:
        if isinstance(x, JVPTracer) and x._trace is self:
            return x.primal, x.tangent
        return x, Zero.like(x)

    def pack(self, primal: Any, tangent: Any) -> Any:
        if isinstance(tangent, Zero):
            return primal  # no dependence on the inputs: leave this trace
        return JVPTracer(self, primal, tangent)

    def process_primitive(self, primitive: Primitive, args: Sequence[Any],
                          params: dict[str, Any]) -> Any:
        primals, tangents = zip(*map(self.unpack, args)) if args else ((), ())
        with set_current_trace(self.parent):
            if all(isinstance(t, Zero) for t in tangents):
                return primitive.bind(*primals, **params)
            rule = primitive_jvps.get(primitive)
            if rule is None:
                raise MissingRuleError(primitive, "differentiation (JVP)")
            out, tangent_out = rule(list(primals), list(tangents), **params)
        if primitive.multiple_results:
            return [self.pack(p, t) for p, t in zip(out, tangent_out)]
        return self.pack(out, tangent_out)


def jvp_flat(fun: Callable[..., Any], primals: Sequence[Any], tangents: Sequence[Any],
             parent: Trace | None = None, has_aux: bool = False) -> tuple[list[Any], ...]:
    """JVP of `fun(*primals) -> list` on flat lists; tangents may be `Zero`s. Output
    tangents that do not depend on the inputs come back as `Zero`s.

    With `has_aux`, `fun` returns `(outs, aux)` (two lists) and the result gains a
    third list: aux's primal values, which are not differentiated.
    """
    from lamina.ir import current_trace
    trace = JVPTrace(parent if parent is not None else current_trace())
    args = [trace.pack(p, t) for p, t in zip(primals, tangents)]
    try:
        with set_current_trace(trace):
            outs = fun(*args)
    finally:
        trace.finish()
    outs, aux = outs if has_aux else (outs, [])
    pairs = [trace.unpack(o) for o in outs]
    primals_out, tangents_out = [p for p, _ in pairs], [t for _, t in pairs]
    if has_aux:
        return primals_out, tangents_out, [trace.unpack(a)[0] for a in aux]
    return primals_out, tangents_out


# --------------------------------------------------------------------------------------
# Linearization and transposition
# --------------------------------------------------------------------------------------


class UndefinedPrimal:
    """A linear input of a transpose rule: only its type is known."""

    __slots__ = ("aval",)

    def __init__(self, aval: AbstractArray) -> None:
        self.aval = aval

    def __repr__(self) -> str:
        return f"UndefinedPrimal({self.aval.str_short()})"


def is_undefined_primal(x: Any) -> bool:
    return isinstance(x, UndefinedPrimal)


class Linearized:
    """The result of `linearize_flat`: primal outputs and the linear tangent map.

    `program` maps the nonzero input tangents (`in_nonzero`) to the nonzero output
    tangents (`out_nonzero`); its constants are the residuals of the primal pass.
    """

    __slots__ = ("primals_out", "program", "in_avals", "in_nonzero", "out_avals",
                 "out_nonzero", "aux")

    def __init__(self, primals_out: list[Any], program: Program, in_avals: list[AbstractArray],
                 in_nonzero: list[bool], out_avals: list[AbstractArray],
                 out_nonzero: list[bool]) -> None:
        self.primals_out = primals_out
        self.program = program
        self.in_avals, self.in_nonzero = in_avals, in_nonzero
        self.out_avals, self.out_nonzero = out_avals, out_nonzero
        self.aux: list[Any] = []

    def jvp(self, tangents: Sequence[Any]) -> list[Any]:
        """Apply the linear map (tangents of every input; zeros for int inputs)."""
        from lamina.interpreters.partial_eval import eval_program
        args = [t for t, nz in zip(tangents, self.in_nonzero) if nz]
        outs = iter(eval_program(self.program, self.program.consts, args))
        return [next(outs) if nz else zeros_like_aval(a)
                for a, nz in zip(self.out_avals, self.out_nonzero)]

    def transpose(self, cotangents: Sequence[Any]) -> list[Any]:
        """The cotangent of every input from one cotangent per output."""
        cts = [ct for ct, nz in zip(cotangents, self.out_nonzero) if nz]
        linear = [UndefinedPrimal(v.aval) for v in self.program.invars]
        in_cts = iter(backward_pass(self.program, self.program.consts, linear, cts))
        return [_match_weak_type(instantiate_zeros(next(in_cts)), a) if nz
                else zeros_like_aval(a) for a, nz in zip(self.in_avals, self.in_nonzero)]


def _match_weak_type(ct: Any, aval: AbstractArray) -> Any:
    """A cotangent has its primal's type, weak flag included (as in jax: the gradient
    of a weakly typed Python scalar is weakly typed)."""
    if shaped_abstractify(ct).weak_type == aval.weak_type:
        return ct
    from lamina.lax.elementwise import convert_element_type_p
    return convert_element_type_p.bind(ct, new_dtype=aval.dtype, weak_type=aval.weak_type)


def linearize_flat(fun: Callable[..., Any], primals: Sequence[Any],
                   has_aux: bool = False) -> Linearized:
    """Evaluate `fun` at `primals` now (in the current trace) and record its linear
    tangent map as a program. Integer and boolean inputs get no tangent. With
    `has_aux`, `fun` returns `(outs, aux)` and aux's values land in `.aux`."""
    in_avals = [tangent_aval(shaped_abstractify(p)) for p in primals]
    in_nonzero = [a.dtype != dtypes.float0 for a in in_avals]
    pe = ProgramTrace(partial=True)
    tangents = [pe.new_arg(a) if nz else Zero(a) for a, nz in zip(in_avals, in_nonzero)]
    result = jvp_flat(fun, primals, tangents, parent=pe, has_aux=has_aux)
    primals_out, tangents_out = result[0], result[1]
    out_avals = [tangent_aval(shaped_abstractify(p)) for p in primals_out]
    out_nonzero = [not isinstance(t, Zero) for t in tangents_out]
    program = pe.to_program([t for t in tangents_out if not isinstance(t, Zero)])
    lin = Linearized(primals_out, program, in_avals, in_nonzero, out_avals, out_nonzero)
    if has_aux:
        lin.aux = result[2]
    return lin


def backward_pass(program: Program, consts: Sequence[Any], args: Sequence[Any],
                  cotangents_out: Sequence[Any]) -> list[Any]:
    """Transpose `program` with respect to its `UndefinedPrimal` inputs.

    `args` holds one entry per invar: a value (a non-linear input) or `UndefinedPrimal`.
    Equations that depend on no linear input are evaluated forward first; the others
    must be linear in the linear inputs. Returns one cotangent per invar (`Zero` where
    none flows, None for non-linear inputs).
    """
    known: dict[int, Any] = {}
    for v, c in zip(program.constvars, consts):
        known[v.id] = c
    for v, a in zip(program.invars, args):
        if not is_undefined_primal(a):
            known[v.id] = a

    def is_known(atom: Any) -> bool:
        return isinstance(atom, Literal) or atom.id in known

    def read_known(atom: Any) -> Any:
        return atom.val if isinstance(atom, Literal) else known[atom.id]

    linear_eqns = []
    for eqn in program.eqns:
        if all(is_known(a) for a in eqn.invars):
            outs = eqn.primitive.bind(*[read_known(a) for a in eqn.invars], **eqn.params)
            outs = outs if eqn.primitive.multiple_results else [outs]
            for v, o in zip(eqn.outvars, outs):
                known[v.id] = o
        else:
            linear_eqns.append(eqn)

    cts: dict[int, Any] = {}

    def write_ct(atom: Any, ct: Any) -> None:
        if isinstance(atom, Var) and ct is not None and not isinstance(ct, Zero):
            if atom.id not in known:
                cts[atom.id] = add_tangents(cts[atom.id], ct) if atom.id in cts else ct

    for v, ct in zip(program.outvars, cotangents_out):
        write_ct(v, ct)
    for eqn in reversed(linear_eqns):
        cts_out = [cts.pop(v.id, None) for v in eqn.outvars]
        if all(c is None for c in cts_out):
            continue
        cts_out = [Zero(tangent_aval(v.aval)) if c is None else c
                   for c, v in zip(cts_out, eqn.outvars)]
        rule = primitive_transposes.get(eqn.primitive)
        if rule is None:
            raise MissingRuleError(eqn.primitive, "transposition (reverse-mode "
                                   "differentiation)")
        eqn_args = [read_known(a) if is_known(a) else UndefinedPrimal(a.aval)
                    for a in eqn.invars]
        ct_arg = cts_out if eqn.primitive.multiple_results else cts_out[0]
        cts_in = rule(ct_arg, *eqn_args, **eqn.params)
        assert len(cts_in) == len(eqn.invars), (eqn.primitive, len(cts_in))
        for a, ct in zip(eqn.invars, cts_in):
            if not is_known(a):
                write_ct(a, ct)
    return [None if not is_undefined_primal(a) else cts.get(v.id, Zero(a.aval))
            for v, a in zip(program.invars, args)]


# --------------------------------------------------------------------------------------
# Transforming sub-programs (for jit, cond, scan... whose params hold programs)
# --------------------------------------------------------------------------------------


def jvp_program(program: Program, nonzero_tangents: Sequence[bool],
                instantiate: Sequence[bool] | bool = False) -> tuple[Program, list[bool]]:
    """The JVP of a closed program (no constvars).

    Returns `(jvp_program, out_nonzero)`: `jvp_program` takes the primals then the
    nonzero tangents and returns the primal outputs then the nonzero output tangents.
    `instantiate[i]` forces output tangent i to be computed (as zeros if need be).
    """
    from lamina.interpreters.partial_eval import (close_over_consts, eval_program,
                                                   trace_to_program)
    assert not program.constvars
    n_out = len(program.outvars)
    if isinstance(instantiate, bool):
        instantiate = [instantiate] * n_out
    in_avals = [v.aval for v in program.invars]
    tangent_avals = [tangent_aval(a) for a, nz in zip(in_avals, nonzero_tangents) if nz]
    out_nonzero: list[bool] = []

    def fun(*args: Any) -> list[Any]:
        primals, nz_tangents = args[:len(in_avals)], iter(args[len(in_avals):])
        tangents = [next(nz_tangents) if nz else Zero(tangent_aval(a))
                    for a, nz in zip(in_avals, nonzero_tangents)]
        outs, touts = jvp_flat(lambda *xs: eval_program(program, [], xs), primals, tangents)
        touts = [instantiate_zeros(t) if inst else t for t, inst in zip(touts, instantiate)]
        out_nonzero[:] = [not isinstance(t, Zero) for t in touts]
        return [*outs, *[t for t in touts if not isinstance(t, Zero)]]

    traced = trace_to_program(fun, [*in_avals, *tangent_avals])
    traced, consts = close_over_consts(traced)
    assert not consts, "a closed program's JVP captured constants"
    return traced, out_nonzero


def transpose_program(program: Program, linear: Sequence[bool]) -> Program:
    """The transpose of a closed program that is linear in the inputs marked `linear`.

    The result takes the non-linear inputs then one cotangent per output, and returns
    one cotangent per linear input (zeros where none flows).
    """
    from lamina.interpreters.partial_eval import close_over_consts, trace_to_program
    assert not program.constvars
    in_avals = [v.aval for v in program.invars]
    nonlinear_avals = [a for a, lin in zip(in_avals, linear) if not lin]
    ct_avals = [tangent_aval(v.aval) for v in program.outvars]

    def fun(*args: Any) -> list[Any]:
        nonlin, cts = iter(args[:len(nonlinear_avals)]), args[len(nonlinear_avals):]
        bp_args = [UndefinedPrimal(a) if lin else next(nonlin)
                   for a, lin in zip(in_avals, linear)]
        in_cts = backward_pass(program, [], bp_args, cts)
        return [instantiate_zeros(ct) for ct, lin in zip(in_cts, linear) if lin]

    traced, consts = close_over_consts(trace_to_program(fun, [*nonlinear_avals, *ct_avals]))
    assert not consts, "a closed program's transpose captured constants"
    return traced
