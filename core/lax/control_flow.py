"""Structured control flow: `cond`/`switch`, `while_loop`, `fori_loop`, `scan`, `map`
and `associative_scan`, with jax.lax's names and semantics.

Three higher-order primitives carry closed sub-programs (no constvars; captured
constants are leading operands) in their params, as `jit_p` does (calls.py):

* `cond_p(index, *operands, branches)`: runs `branches[index]`; lowered to
  `stablehlo.case`.
* `while_p(*cond_consts, *body_consts, *carry, cond_program, body_program,
  cond_nconsts, body_nconsts)`: lowered to `stablehlo.while`. Forward-mode only.
* `scan_p(*consts, *carry, *xs, program, length, reverse, num_consts, num_carry,
  unroll)`: `program(consts, carry, x) -> (carry, y)` over the leading axis of `xs`;
  lowered to `stablehlo.while` with dynamic slices of `xs` and dynamic updates of `ys`.

Their jvp / transpose / batching / partial-eval rules transform the sub-programs with
`ad.jvp_program`, `ad.transpose_program`, `batching.batch_program` and
`partial_eval.partial_eval_program`. Loops find which carries have nonzero tangents
(are batched, are unknown) by iterating to a fixpoint, since a carry's output feeds
its next input. `fori_loop` and `map` are scans; `associative_scan` is plain lax ops.
"""
from __future__ import annotations

import operator
from typing import Any, Callable, Sequence

import numpy as np

from lamina import dtypes, tree_util
from lamina.backend.array import Array
from lamina.interpreters import ad, batching, lowering, partial_eval as pe
from lamina.ir import (AbstractArray, Primitive, Program, Tracer, Var, set_current_trace,
                       shaped_abstractify)
from lamina.lax._util import ArrayLike
from lamina.lax.elementwise import add, bitwise_or, clamp, convert_element_type, lt, ne, select_n
from lamina.lax.reductions import reduce_or
from lamina.lax.structural import (broadcast_in_dim, concatenate, pad, reshape, rev,
                                   slice_in_dim)

__all__ = [
    "associative_scan",
    "cond",
    "fori_loop",
    "map",
    "scan",
    "switch",
    "while_loop",
]

_builtin_map = map  # NOTE: `map` is shadowed below by lax.map (jax's name).
_I32 = AbstractArray((), dtypes.int32)

# --------------------------------------------------------------------------------------
# Helpers: tracing functions and rearranging closed programs
# --------------------------------------------------------------------------------------


def _abstractify(fun_name: str, x: Any) -> AbstractArray:
    try:
        return shaped_abstractify(x)
    except TypeError:
        raise TypeError(f"{fun_name}: got a value of type {type(x).__name__}, which is not "
                        "a valid lamina array; pass arrays, scalars or pytrees of them"
                        ) from None


def _trace(fun: Callable[..., Sequence[Any]], in_avals: Sequence[AbstractArray]
           ) -> tuple[Program, list[Any]]:
    """Stage `fun(*flat) -> flat` into a closed program; captured constants come back
    as its leading inputs (and as the list to pass for them)."""
    return pe.close_over_consts(pe.trace_to_program(fun, in_avals))


def _closed(fun: Callable[..., Sequence[Any]], in_avals: Sequence[AbstractArray]) -> Program:
    """`_trace` for rules, whose functions only combine closed programs."""
    program, consts = _trace(fun, in_avals)
    assert not consts, "a control-flow rule captured constants"
    return program


def _trace_tree(fun: Callable[..., Any], in_tree: Any, in_avals: Sequence[AbstractArray],
                fix_out: Callable[[list[Any]], list[Any]] | None = None,
                ) -> tuple[Program, list[Any], Any]:
    """Stage a pytree function of flat arguments `in_tree`; returns (program, consts,
    out_tree). `fix_out` may convert the flat outputs (weak-type promotion)."""
    out_tree: list[Any] = []

    def flat_fun(*flat: Any) -> list[Any]:
        out = fun(*tree_util.tree_unflatten(in_tree, flat))
        leaves, tree = tree_util.tree_flatten(out)
        out_tree[:] = [tree]
        return fix_out(leaves) if fix_out is not None else leaves

    program, consts = _trace(flat_fun, in_avals)
    return program, consts, out_tree[0]


def _with_inputs(program: Program, invars: Sequence[Var]) -> Program:
    return Program([], invars, program.eqns, program.outvars)


def _permute_inputs(program: Program, order: Sequence[int]) -> Program:
    """The program taking its inputs in the order `[invars[i] for i in order]`."""
    assert sorted(order) == list(range(len(program.invars)))
    return _with_inputs(program, [program.invars[i] for i in order])


def _permute_outputs(program: Program, order: Sequence[int]) -> Program:
    return Program([], program.invars, program.eqns, [program.outvars[i] for i in order])


def _insert_inputs(program: Program, pos: int, avals: Sequence[AbstractArray]) -> Program:
    """`program` with unused inputs of types `avals` inserted before input `pos`."""
    invars = list(program.invars)
    invars[pos:pos] = [Var(a) for a in avals]
    return _with_inputs(program, invars)


def _split(xs: Sequence[Any], sizes: Sequence[int]) -> list[list[Any]]:
    out, start = [], 0
    for n in sizes:
        out.append(list(xs[start:start + n]))
        start += n
    out.append(list(xs[start:]))
    return out


def _same_type(a: AbstractArray, b: AbstractArray) -> bool:
    return a.shape == b.shape and a.dtype == b.dtype


def _types(avals: Sequence[AbstractArray]) -> str:
    return "[" + ", ".join(a.str_short() for a in avals) + "]"


def _pick(flags: Sequence[bool], xs: Sequence[Any], want: bool = True) -> list[Any]:
    return [x for f, x in zip(flags, xs) if f == want]


def _merge(flags: Sequence[bool], if_true: Sequence[Any], if_false: Sequence[Any]) -> list[Any]:
    t, f = iter(if_true), iter(if_false)
    return [next(t) if flag else next(f) for flag in flags]


def _or(a: Sequence[bool], b: Sequence[bool]) -> list[bool]:
    return [x or y for x, y in zip(a, b)]


def _is_concrete(x: Any) -> bool:
    return isinstance(x, (int, np.integer, np.ndarray, Array)) and not isinstance(x, Tracer)


# Lowering helpers (`stablehlo` ops in generic form, on SSA values).


def _i32(ctx: lowering.RuleContext, value: int) -> lowering.Value:
    return ctx.constant(np.int32(value), _I32)


def _index_slice(ctx: lowering.RuleContext, x: lowering.Value, aval: AbstractArray,
                 index: lowering.Value) -> lowering.Value:
    """`x[index]` along the leading axis (aval is x's type)."""
    zeros = [_i32(ctx, 0) for _ in aval.shape[1:]]
    sliced = ctx.op("stablehlo.dynamic_slice", [x, index, *zeros],
                    aval.update(shape=(1, *aval.shape[1:])),
                    {"slice_sizes": lowering.i64_array((1, *aval.shape[1:]))})
    return ctx.op("stablehlo.reshape", [sliced], aval.update(shape=aval.shape[1:]))


def _index_update(ctx: lowering.RuleContext, x: lowering.Value, aval: AbstractArray,
                  y: lowering.Value, index: lowering.Value) -> lowering.Value:
    """`x.at[index].set(y)` along the leading axis (aval is x's type)."""
    zeros = [_i32(ctx, 0) for _ in aval.shape[1:]]
    y = ctx.op("stablehlo.reshape", [y], aval.update(shape=(1, *aval.shape[1:])))
    return ctx.op("stablehlo.dynamic_update_slice", [x, y, index, *zeros], aval)


def _compare_i32(ctx: lowering.RuleContext, x: lowering.Value, y: lowering.Value,
                 direction: str) -> lowering.Value:
    attrs = {"comparison_direction": f"#stablehlo<comparison_direction {direction}>",
             "compare_type": "#stablehlo<comparison_type SIGNED>"}
    return ctx.op("stablehlo.compare", [x, y], AbstractArray((), dtypes.bool_), attrs)


# --------------------------------------------------------------------------------------
# Carry types of loops (scan, while_loop)
# --------------------------------------------------------------------------------------


def _carry_mismatches(fun_name: str, init: Any, out_tree: Any,
                      in_avals: Sequence[AbstractArray], out_avals: Sequence[AbstractArray]
                      ) -> tuple[dict[int, np.dtype], list[str]]:
    """Weakly-typed inputs to promote ({leaf: dtype}) and the other differences."""
    init_tree = tree_util.tree_structure(init)
    if out_tree != init_tree:
        raise TypeError(f"{fun_name}: the body function's carry output must have the same "
                        f"pytree structure as its carry input, but the input carry is "
                        f"{init_tree} and the output carry is {out_tree}")
    paths = [tree_util.keystr(p) for p, _ in tree_util.tree_flatten_with_path(init)[0]]
    promote, errors = {}, []
    for i, (path, a, b) in enumerate(zip(paths, in_avals, out_avals)):
        if _same_type(a, b) and (b.weak_type or not a.weak_type):
            continue
        if a.shape == b.shape and a.weak_type:
            promote[i] = b.dtype  # e.g. a Python float init with a float32 body
            continue
        why = "the shapes do not match" if a.shape != b.shape else "the dtypes do not match"
        errors.append(f"  * the input carry component carry{path} has type {a.str_short()} "
                      f"but the corresponding output carry component has type "
                      f"{b.str_short()}, so {why}")
    return promote, errors


def _trace_loop_body(fun_name: str, fun: Callable[..., Any], init: Any, init_flat: list[Any],
                     make_args: Callable[[Any, Sequence[Any]], tuple[Any, ...]],
                     extra_avals: Sequence[AbstractArray], carry_out: Callable[[Any], Any],
                     ) -> tuple[Program, list[Any], list[Any], Any]:
    """Stage a loop body whose carry must keep its type.

    `make_args(carry, extra_flat)` builds `fun`'s arguments, where `extra_flat` are
    values of types `extra_avals` (scan's x slices); `carry_out(out)` picks the carry
    out of `fun`'s output, whose leaves come first. Weakly typed initial carries whose
    output type differs are promoted (converted, then the body is traced again), as
    in jax. Returns (program, consts, promoted init_flat, out_tree)."""
    init_tree = tree_util.tree_structure(init)
    n = len(init_flat)
    for attempt in range(2):
        in_avals = [_abstractify(fun_name, x) for x in init_flat]
        out_struct: list[Any] = []

        def flat_fun(*flat: Any) -> list[Any]:
            carry = tree_util.tree_unflatten(init_tree, flat[:n])
            out = fun(*make_args(carry, flat[n:]))
            carry_tree = tree_util.tree_structure(carry_out(out))
            leaves, tree = tree_util.tree_flatten(out)
            out_struct[:] = [tree, carry_tree]
            return leaves

        program, consts = _trace(flat_fun, [*in_avals, *extra_avals])
        out_tree, carry_tree = out_struct
        out_avals = program.out_avals[:n]
        promote, errors = _carry_mismatches(fun_name, init, carry_tree, in_avals, out_avals)
        if errors:
            raise TypeError(f"{fun_name}: the body function's carry output must have the "
                            "same type (shape and dtype) as its carry input, but they "
                            "differ:\n" + "\n".join(errors))
        if not promote or attempt:
            return program, consts, init_flat, out_tree
        init_flat = [convert_element_type(x, promote[i]) if i in promote else x
                     for i, x in enumerate(init_flat)]
    raise AssertionError("unreachable")


# --------------------------------------------------------------------------------------
# cond / switch
# --------------------------------------------------------------------------------------

cond_p = Primitive("cond", multiple_results=True)


def switch(index: ArrayLike, branches: Sequence[Callable[..., Any]], *operands: Any) -> Any:
    """Applies `branches[index]` to `operands`; `index` is clamped into range.

    Every branch must return the same pytree of the same types. Only the chosen branch
    runs (one `stablehlo.case`), but all are traced and transformed.

    Args:
        index: an integer scalar.
        branches: a sequence of functions of `*operands`.
        *operands: pytrees passed to the chosen branch.

    Returns:
        The chosen branch's output.

    >>> from lamina import lax
    >>> lax.switch(5, [lambda x: x + 1, lambda x: x * 10], 2.0)
    Array(20., dtype=float32, weak_type=True)
    """
    branches = tuple(branches)
    if not branches:
        raise ValueError("lax.switch: `branches` must be a non-empty sequence of functions")
    for b in branches:
        if not callable(b):
            raise TypeError(f"lax.switch: branches must be callable, got {b!r}")
    aval = _abstractify("lax.switch", index)
    if aval.shape != () or not dtypes.is_integer(aval.dtype):
        raise TypeError(f"lax.switch: `index` must be an integer scalar, got "
                        f"{aval.str_short()}")
    if len(branches) == 1:
        return branches[0](*operands)
    index = convert_element_type(index, dtypes.int32)
    index = clamp(np.int32(0), index, np.int32(len(branches) - 1))
    names = tuple(f"branch {i}" for i in range(len(branches)))
    return _cond_bind("lax.switch", index, branches, names, operands)


def cond(pred: ArrayLike, true_fun: Callable[..., Any], false_fun: Callable[..., Any],
         *operands: Any) -> Any:
    """`true_fun(*operands)` if `pred` else `false_fun(*operands)`, staged as one op.

    Both branches are traced; they must return the same pytree of the same types.

    Args:
        pred: a boolean (or integer: nonzero is true) scalar.
        true_fun, false_fun: functions of `*operands`.
        *operands: pytrees passed to the chosen branch.

    Returns:
        The chosen branch's output.

    >>> from lamina import lax
    >>> lax.cond(False, lambda x: x + 1, lambda x: x - 1, 3)
    Array(2, dtype=int32, weak_type=True)
    """
    if not (callable(true_fun) and callable(false_fun)):
        raise TypeError("lax.cond: true_fun and false_fun must be callable")
    aval = _abstractify("lax.cond", pred)
    if aval.shape != ():
        raise TypeError(f"lax.cond: `pred` must be a scalar, got {aval.str_short()}; use "
                        "lamina.numpy.where for an elementwise choice")
    if not dtypes.is_bool(aval.dtype):
        if not dtypes.is_integer(aval.dtype):
            raise TypeError(f"lax.cond: `pred` must be a boolean or integer scalar, got "
                            f"{aval.str_short()}")
        pred = ne(pred, np.zeros((), aval.dtype))
    index = convert_element_type(pred, dtypes.int32)
    return _cond_bind("lax.cond", index, (false_fun, true_fun), ("false_fun", "true_fun"),
                      operands)


def _cond_bind(fun_name: str, index: Any, branches: tuple[Callable[..., Any], ...],
               names: tuple[str, ...], operands: tuple[Any, ...]) -> Any:
    flat, in_tree = tree_util.tree_flatten(operands)
    in_avals = [_abstractify(fun_name, x) for x in flat]
    traced = [_trace_tree(b, in_tree, in_avals) for b in branches]
    out_tree = traced[0][2]
    for i, (_, _, tree) in enumerate(traced[1:], 1):
        if tree != out_tree:
            raise TypeError(f"{fun_name}: every branch must return the same pytree "
                            f"structure, but {names[0]} returns {out_tree} and {names[i]} "
                            f"returns {tree}")
    paths = [tree_util.keystr(p) for p, _ in tree_util.tree_flatten_with_path(
        tree_util.tree_unflatten(out_tree, range(out_tree.num_leaves)))[0]]
    promote: dict[int, np.dtype] = {}
    for j, path in enumerate(paths):
        avals = [prog.out_avals[j] for prog, _, _ in traced]
        if all(_same_type(a, avals[0]) for a in avals):
            continue
        strong = {a.dtype for a in avals if not a.weak_type}
        if all(a.shape == avals[0].shape for a in avals) and len(strong) == 1:
            promote[j] = strong.pop()  # weakly typed outputs join the strong dtype
            continue
        kinds = ", ".join(f"{name}: {a.str_short()}" for name, a in zip(names, avals))
        raise TypeError(f"{fun_name}: every branch must return the same types, but output "
                        f"{path or '(the result)'} differs ({kinds})")
    if promote:
        def fix(leaves: list[Any]) -> list[Any]:
            return [convert_element_type(x, promote[j]) if j in promote else x
                    for j, x in enumerate(leaves)]
        traced = [_trace_tree(b, in_tree, in_avals, fix) for b in branches]
    all_consts = [c for _, consts, _ in traced for c in consts]
    const_avals = [shaped_abstractify(c) for c in all_consts]
    programs, start = [], 0
    for prog, consts, _ in traced:
        # NOTE: every branch takes every branch's constants (it ignores the others').
        prog = _insert_inputs(prog, len(consts), const_avals[start + len(consts):])
        prog = _insert_inputs(prog, 0, const_avals[:start])
        programs.append(prog)
        start += len(consts)
    outs = cond_p.bind(index, *all_consts, *flat, branches=tuple(programs))
    return tree_util.tree_unflatten(out_tree, outs)


@cond_p.def_abstract_eval
def _cond_abstract_eval(index: AbstractArray, *operands: AbstractArray,
                        branches: tuple[Program, ...]) -> list[AbstractArray]:
    if index.shape != () or index.dtype != dtypes.int32:
        raise TypeError(f"cond: the index must be an int32 scalar, got {index.str_short()}")
    out = branches[0].out_avals
    for b in branches:
        if len(b.invars) != len(operands) or not all(
                _same_type(v.aval, a) for v, a in zip(b.invars, operands)):
            raise TypeError(f"cond: operands {_types(operands)} do not match a branch's "
                            f"inputs {_types(b.in_avals)}")
        if len(b.outvars) != len(out) or not all(
                _same_type(a, o) for a, o in zip(b.out_avals, out)):
            raise TypeError(f"cond: branch outputs differ: {_types(out)} vs "
                            f"{_types(b.out_avals)}")
    return [a.update(weak_type=all(b.out_avals[j].weak_type for b in branches))
            for j, a in enumerate(out)]


def _cond_lower(ctx: lowering.RuleContext, index: lowering.Value, *operands: lowering.Value,
                branches: tuple[Program, ...]) -> list[lowering.Value]:
    # NOTE: case regions take no arguments; they read the operands from the enclosing
    # scope, as jax's lowering does.
    regions = [ctx.region([], lambda _, b=b: ctx.lower_program(b, operands))
               for b in branches]
    return ctx.op("stablehlo.case", [index], ctx.avals_out, regions=regions)


lowering.register_lowering(cond_p, _cond_lower)


def _cond_jvp(primals: Sequence[Any], tangents: Sequence[Any], *,
              branches: tuple[Program, ...]) -> tuple[list[Any], list[Any]]:
    index, *operands = primals
    op_tangents = tangents[1:]
    nonzero = [not isinstance(t, ad.Zero) for t in op_tangents]
    out_nonzero = [False] * len(branches[0].outvars)
    for b in branches:
        out_nonzero = _or(out_nonzero, ad.jvp_program(b, nonzero)[1])
    programs = tuple(ad.jvp_program(b, nonzero, instantiate=out_nonzero)[0] for b in branches)
    outs = cond_p.bind(index, *operands, *_pick(nonzero, op_tangents), branches=programs)
    n = len(out_nonzero)
    primals_out = outs[:n]
    zeros = [ad.Zero.like(p) for p in primals_out]
    return primals_out, _merge(out_nonzero, outs[n:], zeros)


ad.primitive_jvps[cond_p] = _cond_jvp


def _cond_transpose(cts: Sequence[Any], index: Any, *operands: Any,
                    branches: tuple[Program, ...]) -> list[Any]:
    assert not ad.is_undefined_primal(index), "cond: the index cannot be linear"
    linear = [ad.is_undefined_primal(x) for x in operands]
    programs = tuple(ad.transpose_program(b, linear) for b in branches)
    cts = [ad.instantiate_zeros(ct) for ct in cts]
    in_cts = cond_p.bind(index, *_pick(linear, operands, False), *cts, branches=programs)
    return [None, *_merge(linear, in_cts, [None] * len(operands))]


ad.primitive_transposes[cond_p] = _cond_transpose


def _cond_batch(args: Sequence[Any], dims: Sequence[Any], *,
                branches: tuple[Program, ...]) -> tuple[list[Any], list[Any]]:
    size = batching.dim_size(args, dims)
    index, *operands = args
    index_dim, *op_dims = dims
    if index_dim is not batching.not_mapped:
        # A batched predicate: run every branch on every lane, then select per lane.
        operands = [batching.bdim_at_front(x, d, size) for x, d in zip(operands, op_dims)]
        index = batching.moveaxis(index, index_dim, 0)
        results = []
        for b in branches:
            batched, _ = batching.batch_program(b, [True] * len(operands), size, True)
            results.append(pe.eval_program(batched, [], operands))
        outs = []
        for cases in zip(*results):
            shape = shaped_abstractify(cases[0]).shape
            which = broadcast_in_dim(index, shape, (0,))
            outs.append(select_n(which, *cases))
        return outs, [0] * len(outs)
    mapped = [d is not batching.not_mapped for d in op_dims]
    operands = [batching.moveaxis(x, d, 0) if m else x
                for x, d, m in zip(operands, op_dims, mapped)]
    out_mapped = [False] * len(branches[0].outvars)
    for b in branches:
        out_mapped = _or(out_mapped, batching.batch_program(b, mapped, size)[1])
    programs = tuple(batching.batch_program(b, mapped, size, out_mapped)[0] for b in branches)
    outs = cond_p.bind(index, *operands, branches=programs)
    return outs, [0 if m else batching.not_mapped for m in out_mapped]


batching.primitive_batchers[cond_p] = _cond_batch


def _cond_partial_eval(trace: pe.ProgramTrace, primitive: Primitive, args: Sequence[Any],
                       params: dict[str, Any]) -> list[Any]:
    branches = params["branches"]
    index, *operands = args
    if trace.is_own(index):
        return trace.stage(cond_p, args, params)
    unknowns = [trace.is_own(x) for x in operands]
    out_unknowns = [False] * len(branches[0].outvars)
    for b in branches:
        out_unknowns = _or(out_unknowns, pe.partial_eval_program(b, unknowns).out_unknowns)
    splits = [pe.partial_eval_program(b, unknowns, instantiate=out_unknowns) for b in branches]
    # Every known branch returns every branch's residuals (zeros for the others'), and
    # every unknown branch takes them all: the two conds then have one signature each.
    kc_avals = [[shaped_abstractify(c) for c in s.known_consts] for s in splits]
    res_avals = [[v.aval for v in s.unknown.invars[:s.num_residuals]] for s in splits]
    all_kc = [a for avals in kc_avals for a in avals]
    all_res = [a for avals in res_avals for a in avals]
    known_avals = [shaped_abstractify(x) for x, u in zip(operands, unknowns) if not u]
    n_known_out = out_unknowns.count(False)
    known_programs, unknown_programs = [], []
    kc_start = res_start = 0
    for s, kcs, res in zip(splits, kc_avals, res_avals):
        def known_fun(*xs: Any, s=s, kc_start=kc_start, res_start=res_start,
                      nkc=len(kcs), nres=len(res)) -> list[Any]:
            outs = pe.eval_program(s.known, [], [*xs[kc_start:kc_start + nkc],
                                                 *xs[len(all_kc):]])
            before = [ad.zeros_like_aval(a) for a in all_res[:res_start]]
            after = [ad.zeros_like_aval(a) for a in all_res[res_start + nres:]]
            return [*outs[:n_known_out], *before, *outs[n_known_out:], *after]
        known_programs.append(_closed(known_fun, [*all_kc, *known_avals]))
        unknown = _insert_inputs(s.unknown, len(res), all_res[res_start + len(res):])
        unknown_programs.append(_insert_inputs(unknown, 0, all_res[:res_start]))
        kc_start += len(kcs)
        res_start += len(res)
    known_consts = [c for s in splits for c in s.known_consts]
    with set_current_trace(trace.parent):
        known_outs = cond_p.bind(index, *known_consts, *_pick(unknowns, operands, False),
                                 branches=tuple(known_programs))
    residuals = known_outs[n_known_out:]
    unknown_outs = trace.stage(cond_p, [index, *residuals, *_pick(unknowns, operands)],
                               dict(branches=tuple(unknown_programs)))
    return _merge(out_unknowns, unknown_outs, known_outs[:n_known_out])


pe.partial_eval_rules[cond_p] = _cond_partial_eval

# --------------------------------------------------------------------------------------
# scan
# --------------------------------------------------------------------------------------

scan_p = Primitive("scan", multiple_results=True)


def scan(f: Callable[[Any, Any], tuple[Any, Any]], init: Any, xs: Any = None,
         length: int | None = None, reverse: bool = False, unroll: int | bool = 1,
         _split_transpose: bool = False) -> tuple[Any, Any]:
    """Loops `f` over the leading axis of `xs`, carrying state and stacking outputs.

    Semantics (as jax.lax.scan)::

        def scan(f, init, xs, length=None):
            carry, ys = init, []
            for x in xs:            # reversed(xs) if reverse
                carry, y = f(carry, x)
                ys.append(y)
            return carry, stack(ys)

    Args:
        f: `(carry, x) -> (carry, y)`; the carry keeps its pytree structure and types.
        init: the initial carry (a pytree).
        xs: a pytree of arrays with a common leading size, or None (then `length`).
        length: the number of iterations, required when `xs` is None.
        reverse: iterate from the end of `xs` (ys are still stacked in xs's order).
        unroll: iterations per loop trip in the compiled loop (True: all).

    Returns:
        `(final carry, stacked ys)`.

    >>> from lamina import lax
    >>> import numpy as np
    >>> lax.scan(lambda c, x: (c + x, c), 0.0, np.arange(4.0, dtype=np.float32))[1]
    Array([0., 0., 1., 3.], dtype=float32)
    """
    del _split_transpose
    if not callable(f):
        raise TypeError(f"lax.scan: `f` must be callable, got {f!r}")
    xs_flat, xs_tree = tree_util.tree_flatten(xs)
    xs_avals = [_abstractify("lax.scan", x) for x in xs_flat]
    for aval in xs_avals:
        if aval.ndim == 0:
            raise ValueError(f"lax.scan: `xs` values must have a leading axis to scan over, "
                             f"got {aval.str_short()}")
    sizes = sorted({a.shape[0] for a in xs_avals})
    if length is not None:
        try:
            length = operator.index(length)
        except TypeError:
            raise TypeError(f"lax.scan: `length` must be a concrete int, got {length!r}"
                            ) from None
        if sizes and sizes != [length]:
            raise ValueError(f"lax.scan: `length` is {length} but `xs` has leading axis "
                             f"sizes {', '.join(_builtin_map(str, sizes))}")
    elif len(sizes) > 1:
        leaves = ", ".join(f"xs{tree_util.keystr(p)}: {a.str_short()}" for (p, _), a in zip(
            tree_util.tree_flatten_with_path(xs)[0], xs_avals))
        raise ValueError(f"lax.scan: every value in `xs` must have the same leading axis "
                         f"size, got sizes {', '.join(_builtin_map(str, sizes))} ({leaves})")
    elif not sizes:
        raise ValueError("lax.scan: `xs` has no arrays to scan over and `length` is not "
                         "given; pass `length=`")
    else:
        length = sizes[0]
    if isinstance(unroll, bool):
        unroll = max(length, 1) if unroll else 1
    unroll = operator.index(unroll)
    if unroll < 1:
        raise ValueError(f"lax.scan: `unroll` must be a positive int or a bool, got {unroll}")
    init_flat, init_tree = tree_util.tree_flatten(init)
    x_avals = [a.update(shape=a.shape[1:]) for a in xs_avals]

    def make_args(carry: Any, x_flat: Sequence[Any]) -> tuple[Any, ...]:
        return carry, tree_util.tree_unflatten(xs_tree, x_flat)

    def carry_out(out: Any) -> Any:
        if not (isinstance(out, (tuple, list)) and len(out) == 2):
            raise TypeError("lax.scan: the body function must return a pair "
                            f"(carry, y), got {type(out).__name__}")
        return out[0]

    program, consts, init_flat, out_tree = _trace_loop_body(
        "lax.scan", f, init, init_flat, make_args, x_avals, carry_out)
    y_tree = tree_util.treedef_children(out_tree)[1]
    outs = scan_p.bind(*consts, *init_flat, *xs_flat, program=program, length=length,
                       reverse=bool(reverse), num_consts=len(consts),
                       num_carry=len(init_flat), unroll=unroll)
    n = len(init_flat)
    return (tree_util.tree_unflatten(init_tree, outs[:n]),
            tree_util.tree_unflatten(y_tree, outs[n:]))


@scan_p.def_abstract_eval
def _scan_abstract_eval(*avals: AbstractArray, program: Program, length: int, reverse: bool,
                        num_consts: int, num_carry: int, unroll: int) -> list[AbstractArray]:
    del reverse, unroll
    consts, init, xs = _split(avals, [num_consts, num_carry])
    for x in xs:
        if not x.shape or x.shape[0] != length:
            raise TypeError(f"scan: xs of type {x.str_short()} do not have leading size "
                            f"{length}")
    expected = [*consts, *init, *[x.update(shape=x.shape[1:]) for x in xs]]
    if len(expected) != len(program.invars) or not all(
            _same_type(a, b) for a, b in zip(expected, program.in_avals)):
        raise TypeError(f"scan: operands {_types(expected)} do not match the body's inputs "
                        f"{_types(program.in_avals)}")
    carry_out, ys = _split(program.out_avals, [num_carry])
    if not all(_same_type(a, b) for a, b in zip(init, carry_out)):
        raise TypeError(f"scan: the body's carry outputs {_types(carry_out)} do not match "
                        f"its carry inputs {_types(init)}")
    return [*init, *[y.update(shape=(length, *y.shape)) for y in ys]]


def _scan_lower(ctx: lowering.RuleContext, *args: lowering.Value, program: Program,
                length: int, reverse: bool, num_consts: int, num_carry: int,
                unroll: int) -> list[lowering.Value]:
    n_xs = len(args) - num_consts - num_carry
    consts, init, xs = _split(args, [num_consts, num_carry])
    const_avals, carry_avals, xs_avals = _split(ctx.avals_in, [num_consts, num_carry])
    y_avals = ctx.avals_out[num_carry:]
    ys = [ctx.constant(np.zeros((), a.dtype), a) for a in y_avals]
    # Loop state: (i, consts, xs, carry, ys); consts and xs ride along unchanged.
    state_avals = [_I32, *const_avals, *xs_avals, *carry_avals, *y_avals]
    sizes = [1, num_consts, n_xs, num_carry]

    def step(state: list[lowering.Value]) -> list[lowering.Value]:
        (i,), cs, xv, carry, yv = _split(state, sizes)
        t = ctx.op("stablehlo.subtract", [_i32(ctx, length - 1), i], _I32) if reverse else i
        x_t = [_index_slice(ctx, x, a, t) for x, a in zip(xv, xs_avals)]
        outs = ctx.lower_program(program, [*cs, *carry, *x_t])
        yv = [_index_update(ctx, y, a, o, t)
              for y, a, o in zip(yv, y_avals, outs[num_carry:])]
        i = ctx.op("stablehlo.add", [i, _i32(ctx, 1)], _I32)
        return [i, *cs, *xv, *outs[:num_carry], *yv]

    unroll = max(min(unroll, length), 1)
    trips = length // unroll

    def body(state: list[lowering.Value]) -> list[lowering.Value]:
        for _ in range(unroll):
            state = step(state)
        return state

    state = [_i32(ctx, 0), *consts, *xs, *init, *ys]
    if trips:
        cond_region = ctx.region(
            state_avals, lambda s: [_compare_i32(ctx, s[0], _i32(ctx, trips * unroll), "LT")])
        body_region = ctx.region(state_avals, body)
        state = ctx.op("stablehlo.while", state, state_avals,
                       regions=[cond_region, body_region])
    for _ in range(length - trips * unroll):
        state = step(state)
    return state[1 + num_consts + n_xs:]


lowering.register_lowering(scan_p, _scan_lower)


def _scan_jvp(primals: Sequence[Any], tangents: Sequence[Any], *, program: Program,
              length: int, reverse: bool, num_consts: int, num_carry: int,
              unroll: int) -> tuple[list[Any], list[Any]]:
    sizes = [num_consts, num_carry]
    nonzero = [not isinstance(t, ad.Zero) for t in tangents]
    const_nz, init_nz, xs_nz = _split(nonzero, sizes)
    n_ys = len(program.outvars) - num_carry
    carry_nz = init_nz
    while True:
        jvp, out_nz = ad.jvp_program(program, [*const_nz, *carry_nz, *xs_nz],
                                     instantiate=[*carry_nz, *[False] * n_ys])
        new = _or(carry_nz, out_nz[:num_carry])
        if new == carry_nz:
            break
        carry_nz = new
    ys_nz = out_nz[num_carry:]
    # jvp takes (consts, carry, xs, const tangents, carry tangents, xs tangents) and
    # returns (carry, ys, carry tangents, ys tangents): regroup for scan's layout.
    n_in = len(primals)
    n_ct, n_cc, n_xt = sum(const_nz), sum(carry_nz), sum(xs_nz)
    idx = list(range(n_in + n_ct + n_cc + n_xt))
    p_c, p_carry, p_xs = _split(idx[:n_in], sizes)
    t_c, t_carry, t_xs = _split(idx[n_in:], [n_ct, n_cc])
    jvp = _permute_inputs(jvp, [*p_c, *t_c, *p_carry, *t_carry, *p_xs, *t_xs])
    n_out = len(program.outvars)
    n_yt = sum(ys_nz)
    oidx = list(range(n_out + n_cc + n_yt))
    jvp = _permute_outputs(jvp, [*oidx[:num_carry], *oidx[n_out:n_out + n_cc],
                                 *oidx[num_carry:n_out], *oidx[n_out + n_cc:]])
    consts, init, xs = _split(primals, sizes)
    const_t, init_t, xs_t = _split(tangents, sizes)
    init_t = [ad.instantiate_zeros(t) for t, nz in zip(init_t, carry_nz) if nz]
    outs = scan_p.bind(*consts, *_pick(const_nz, const_t), *init, *init_t, *xs,
                       *_pick(xs_nz, xs_t), program=jvp, length=length, reverse=reverse,
                       num_consts=num_consts + n_ct, num_carry=num_carry + n_cc,
                       unroll=unroll)
    carry, carry_t, ys, ys_t = _split(outs, [num_carry, n_cc, n_ys])
    primals_out = [*carry, *ys]
    zeros = [ad.Zero.like(p) for p in primals_out]
    return primals_out, _merge([*carry_nz, *ys_nz], [*carry_t, *ys_t], zeros)


ad.primitive_jvps[scan_p] = _scan_jvp


def _scan_transpose(cts: Sequence[Any], *args: Any, program: Program, length: int,
                    reverse: bool, num_consts: int, num_carry: int, unroll: int) -> list[Any]:
    consts, init, xs = _split(args, [num_consts, num_carry])
    const_lin = [ad.is_undefined_primal(x) for x in consts]
    xs_lin = [ad.is_undefined_primal(x) for x in xs]
    # NOTE: a carry whose initial value is known here is an instantiated zero tangent
    # (partial evaluation sends every other known carry to the known scan), so every
    # carry is transposed as linear; a known one just gets no cotangent.
    init_lin = [ad.is_undefined_primal(x) for x in init]
    ct_carry = [ad.instantiate_zeros(ct) for ct in cts[:num_carry]]
    ct_ys = [ad.instantiate_zeros(ct) for ct in cts[num_carry:]]
    # transposed: (res consts, res xs, carry cts, ys cts) -> (lin consts, carry, lin xs) cts
    transposed = ad.transpose_program(program, [*const_lin, *[True] * num_carry, *xs_lin])
    res_c, res_x = _pick(const_lin, consts, False), _pick(xs_lin, xs, False)
    lin_c_avals = [ad.tangent_aval(x.aval) for x in _pick(const_lin, consts)]
    n_lc, n_rc, n_rx = len(lin_c_avals), len(res_c), len(res_x)
    body_avals = [*[shaped_abstractify(x) for x in res_c], *lin_c_avals,
                  *[ad.tangent_aval(shaped_abstractify(x)) for x in init],
                  *[shaped_abstractify(x).update(shape=shaped_abstractify(x).shape[1:])
                    for x in res_x],
                  *[ad.tangent_aval(a) for a in program.out_avals[num_carry:]]]

    def body(*xs_: Any) -> list[Any]:
        rc, acc, ctc, rx, cty = _split(xs_, [n_rc, n_lc, num_carry, n_rx])
        outs = pe.eval_program(transposed, [], [*rc, *rx, *ctc, *cty])
        ct_lc, ct_carry_in, ct_lx = _split(outs, [n_lc, num_carry])
        acc = [ad.add_any_p.bind(a, c) for a, c in zip(acc, ct_lc)]
        return [*acc, *ct_carry_in, *ct_lx]

    body_program = _closed(body, body_avals)
    acc0 = [ad.zeros_like_aval(a) for a in lin_c_avals]
    outs = scan_p.bind(*res_c, *acc0, *ct_carry, *res_x, *ct_ys, program=body_program,
                       length=length, reverse=not reverse, num_consts=n_rc,
                       num_carry=n_lc + num_carry, unroll=unroll)
    ct_consts, ct_init, ct_xs = _split(outs, [n_lc, num_carry])
    ct_init = [ct if lin else None for ct, lin in zip(ct_init, init_lin)]
    return [*_merge(const_lin, ct_consts, [None] * num_consts), *ct_init,
            *_merge(xs_lin, ct_xs, [None] * len(xs))]


ad.primitive_transposes[scan_p] = _scan_transpose


def _scan_batch(args: Sequence[Any], dims: Sequence[Any], *, program: Program, length: int,
                reverse: bool, num_consts: int, num_carry: int,
                unroll: int) -> tuple[list[Any], list[Any]]:
    size = batching.dim_size(args, dims)
    sizes = [num_consts, num_carry]
    mapped = [d is not batching.not_mapped for d in dims]
    const_b, init_b, xs_b = _split(mapped, sizes)
    n_ys = len(program.outvars) - num_carry
    carry_b = init_b
    while True:
        batched, out_b = batching.batch_program(program, [*const_b, *carry_b, *xs_b], size,
                                                [*carry_b, *[False] * n_ys])
        new = _or(carry_b, out_b[:num_carry])
        if new == carry_b:
            break
        carry_b = new
    consts, init, xs = _split(args, sizes)
    const_d, init_d, xs_d = _split(dims, sizes)
    consts = [batching.moveaxis(x, d, 0) if m else x for x, d, m in zip(consts, const_d, const_b)]
    init = [batching.bdim_at_front(x, d, size) if b else x
            for x, d, b in zip(init, init_d, carry_b)]
    # NOTE: the scanned axis stays first, so batched xs (and ys) carry the batch at 1.
    xs = [batching.moveaxis(x, d, 1) if m else x for x, d, m in zip(xs, xs_d, xs_b)]
    outs = scan_p.bind(*consts, *init, *xs, program=batched, length=length, reverse=reverse,
                       num_consts=num_consts, num_carry=num_carry, unroll=unroll)
    out_dims = [*[0 if b else batching.not_mapped for b in carry_b],
                *[1 if b else batching.not_mapped for b in out_b[num_carry:]]]
    return outs, out_dims


batching.primitive_batchers[scan_p] = _scan_batch


def _scan_partial_eval(trace: pe.ProgramTrace, primitive: Primitive, args: Sequence[Any],
                       params: dict[str, Any]) -> list[Any]:
    program, num_consts, num_carry = (params["program"], params["num_consts"],
                                      params["num_carry"])
    sizes = [num_consts, num_carry]
    unknowns = [trace.is_own(a) for a in args]
    const_uk, init_uk, xs_uk = _split(unknowns, sizes)
    n_ys = len(program.outvars) - num_carry
    carry_uk = init_uk
    while True:
        split = pe.partial_eval_program(program, [*const_uk, *carry_uk, *xs_uk],
                                        instantiate=[*carry_uk, *[False] * n_ys])
        new = _or(carry_uk, split.out_unknowns[:num_carry])
        if new == carry_uk:
            break
        carry_uk = new
    ys_uk = split.out_unknowns[num_carry:]
    consts, init, xs = _split(args, sizes)
    known, n_res = split.known, split.num_residuals
    k_consts = [*split.known_consts, *_pick(const_uk, consts, False)]
    k_init, k_xs = _pick(carry_uk, init, False), _pick(xs_uk, xs, False)
    n_known_out = len(known.outvars) - n_res
    # Residuals that are known constants of the body are loop-invariant: pass them to
    # the unknown scan as constants instead of stacking a copy per iteration.
    const_pos = {v.id: i for i, v in enumerate(known.invars[:len(k_consts)])}
    res_vars = known.outvars[n_known_out:]
    invariant = [isinstance(v, Var) and v.id in const_pos for v in res_vars]
    known = Program([], known.invars, known.eqns,
                    [*known.outvars[:n_known_out], *_pick(invariant, res_vars, False)])
    known = pe.dce(known)
    n_kcarry = carry_uk.count(False)
    with set_current_trace(trace.parent):
        k_outs = scan_p.bind(*k_consts, *k_init, *k_xs, program=known,
                             length=params["length"], reverse=params["reverse"],
                             num_consts=len(k_consts), num_carry=n_kcarry,
                             unroll=params["unroll"])
    stacked_res = k_outs[n_known_out:]
    invariant_res = [k_consts[const_pos[v.id]] for v in _pick(invariant, res_vars)]
    # The unknown body takes (residuals, unknown consts, carry, xs); scan wants
    # (invariant residuals, unknown consts, carry, stacked residuals, xs).
    res_idx = list(range(n_res))
    n_uc, n_ucarry = const_uk.count(True), carry_uk.count(True)
    rest = list(range(n_res, len(split.unknown.invars)))
    u_c, u_carry, u_xs = _split(rest, [n_uc, n_ucarry])
    unknown = _permute_inputs(split.unknown, [*_pick(invariant, res_idx), *u_c, *u_carry,
                                              *_pick(invariant, res_idx, False), *u_xs])
    u_args = [*invariant_res, *_pick(const_uk, consts), *_pick(carry_uk, init),
              *stacked_res, *_pick(xs_uk, xs)]
    u_outs = trace.stage(scan_p, u_args, dict(
        params, program=unknown, num_consts=len(invariant_res) + n_uc, num_carry=n_ucarry))
    k_carry, k_ys = _split(k_outs[:n_known_out], [n_kcarry])
    u_carry_out, u_ys = _split(u_outs, [n_ucarry])
    return [*_merge(carry_uk, u_carry_out, k_carry), *_merge(ys_uk, u_ys, k_ys)]


pe.partial_eval_rules[scan_p] = _scan_partial_eval

# --------------------------------------------------------------------------------------
# while_loop
# --------------------------------------------------------------------------------------

while_p = Primitive("while", multiple_results=True)


def while_loop(cond_fun: Callable[[Any], Any], body_fun: Callable[[Any], Any],
               init_val: Any) -> Any:
    """Repeats `val = body_fun(val)` while `cond_fun(val)` is true.

    Semantics::

        def while_loop(cond_fun, body_fun, init_val):
            val = init_val
            while cond_fun(val):
                val = body_fun(val)
            return val

    Forward-mode differentiable (jvp, jacfwd); reverse mode raises, as in jax: use
    `scan` or `fori_loop` with static bounds for a loop you need to `grad`.

    Args:
        cond_fun: `val -> bool scalar`.
        body_fun: `val -> val` (same pytree and types).
        init_val: the initial value (a pytree).

    Returns:
        The final value.

    >>> from lamina import lax
    >>> lax.while_loop(lambda x: x < 10, lambda x: x * 2, 1)
    Array(16, dtype=int32, weak_type=True)
    """
    if not (callable(cond_fun) and callable(body_fun)):
        raise TypeError("lax.while_loop: cond_fun and body_fun must be callable")
    init_flat, in_tree = tree_util.tree_flatten(init_val)
    body, body_consts, init_flat, _ = _trace_loop_body(
        "lax.while_loop", body_fun, init_val, init_flat, lambda c, _: (c,), [],
        lambda out: out)
    in_avals = [_abstractify("lax.while_loop", x) for x in init_flat]
    cond_prog, cond_consts, out_tree = _trace_tree(lambda *c: cond_fun(c[0]),
                                                   tree_util.treedef_tuple([in_tree]),
                                                   in_avals)
    outs = cond_prog.out_avals
    if out_tree.num_leaves != 1 or outs[0].shape != () or not dtypes.is_bool(outs[0].dtype):
        raise TypeError(f"lax.while_loop: cond_fun must return a boolean scalar, but it "
                        f"returned {_types(outs)} (structure {out_tree})")
    outs = while_p.bind(*cond_consts, *body_consts, *init_flat, cond_program=cond_prog,
                        body_program=body, cond_nconsts=len(cond_consts),
                        body_nconsts=len(body_consts))
    return tree_util.tree_unflatten(in_tree, outs)


@while_p.def_abstract_eval
def _while_abstract_eval(*avals: AbstractArray, cond_program: Program, body_program: Program,
                         cond_nconsts: int, body_nconsts: int) -> list[AbstractArray]:
    cc, bc, carry = _split(avals, [cond_nconsts, body_nconsts])
    for name, prog, ins in (("cond", cond_program, [*cc, *carry]),
                            ("body", body_program, [*bc, *carry])):
        if len(prog.invars) != len(ins) or not all(
                _same_type(a, b) for a, b in zip(ins, prog.in_avals)):
            raise TypeError(f"while: operands {_types(ins)} do not match the {name} "
                            f"program's inputs {_types(prog.in_avals)}")
    pred = cond_program.out_avals
    if len(pred) != 1 or pred[0].shape != () or pred[0].dtype != dtypes.bool_:
        raise TypeError(f"while: the cond program must return a bool scalar, got {_types(pred)}")
    if not all(_same_type(a, b) for a, b in zip(carry, body_program.out_avals)):
        raise TypeError(f"while: the body's outputs {_types(body_program.out_avals)} do not "
                        f"match the carry {_types(carry)}")
    return list(carry)


def _while_lower(ctx: lowering.RuleContext, *args: lowering.Value, cond_program: Program,
                 body_program: Program, cond_nconsts: int,
                 body_nconsts: int) -> list[lowering.Value]:
    sizes = [cond_nconsts, body_nconsts]

    def cond_body(state: list[lowering.Value]) -> list[lowering.Value]:
        cc, _, carry = _split(state, sizes)
        return ctx.lower_program(cond_program, [*cc, *carry])

    def body_body(state: list[lowering.Value]) -> list[lowering.Value]:
        cc, bc, carry = _split(state, sizes)
        return [*cc, *bc, *ctx.lower_program(body_program, [*bc, *carry])]

    regions = [ctx.region(ctx.avals_in, cond_body), ctx.region(ctx.avals_in, body_body)]
    outs = ctx.op("stablehlo.while", list(args), ctx.avals_in, regions=regions)
    return outs[cond_nconsts + body_nconsts:]


lowering.register_lowering(while_p, _while_lower)


def _while_jvp(primals: Sequence[Any], tangents: Sequence[Any], *, cond_program: Program,
               body_program: Program, cond_nconsts: int,
               body_nconsts: int) -> tuple[list[Any], list[Any]]:
    sizes = [cond_nconsts, body_nconsts]
    cc, bc, init = _split(primals, sizes)
    _, bc_t, init_t = _split(tangents, sizes)
    bc_nz = [not isinstance(t, ad.Zero) for t in bc_t]
    carry_nz = [not isinstance(t, ad.Zero) for t in init_t]
    while True:
        jvp, out_nz = ad.jvp_program(body_program, [*bc_nz, *carry_nz], instantiate=carry_nz)
        new = _or(carry_nz, out_nz)
        if new == carry_nz:
            break
        carry_nz = new
    n_bt, n_ct = sum(bc_nz), sum(carry_nz)
    nb, n = len(bc), len(init)
    idx = list(range(nb + n + n_bt + n_ct))
    jvp = _permute_inputs(jvp, [*idx[:nb], *idx[nb + n:nb + n + n_bt], *idx[nb:nb + n],
                                *idx[nb + n + n_bt:]])
    tangent_avals = [ad.tangent_aval(shaped_abstractify(x)) for x in _pick(carry_nz, init)]
    cond_jvp = _insert_inputs(cond_program, len(cond_program.invars), tangent_avals)
    init_t = [ad.instantiate_zeros(t) for t in _pick(carry_nz, init_t)]
    outs = while_p.bind(*cc, *bc, *_pick(bc_nz, bc_t), *init, *init_t, cond_program=cond_jvp,
                        body_program=jvp, cond_nconsts=cond_nconsts,
                        body_nconsts=body_nconsts + n_bt)
    carry, carry_t = outs[:n], outs[n:]
    return carry, _merge(carry_nz, carry_t, [ad.Zero.like(c) for c in carry])


ad.primitive_jvps[while_p] = _while_jvp


def _while_transpose(cts: Sequence[Any], *args: Any, **params: Any) -> list[Any]:
    raise ValueError("Reverse-mode differentiation does not work for lax.while_loop or "
                     "lax.fori_loop with dynamic start/stop values. Try using lax.scan, or "
                     "lax.fori_loop with static (concrete) start and stop values; forward "
                     "mode (jvp, jacfwd) does work.")


ad.primitive_transposes[while_p] = _while_transpose


def _while_batch(args: Sequence[Any], dims: Sequence[Any], *, cond_program: Program,
                 body_program: Program, cond_nconsts: int,
                 body_nconsts: int) -> tuple[list[Any], list[Any]]:
    size = batching.dim_size(args, dims)
    sizes = [cond_nconsts, body_nconsts]
    mapped = [d is not batching.not_mapped for d in dims]
    cc_b, bc_b, init_b = _split(mapped, sizes)
    carry_b = init_b
    while True:
        _, body_b = batching.batch_program(body_program, [*bc_b, *carry_b], size, carry_b)
        _, (pred_b,) = batching.batch_program(cond_program, [*cc_b, *carry_b], size)
        # NOTE: a batched predicate stops lanes at different trips: every carry is then
        # batched, and finished lanes keep their value through a select.
        new = [True] * len(carry_b) if pred_b else _or(carry_b, body_b)
        if new == carry_b:
            break
        carry_b = new
    cc, bc, init = _split(args, sizes)
    cc_d, bc_d, init_d = _split(dims, sizes)
    cc = [batching.moveaxis(x, d, 0) if m else x for x, d, m in zip(cc, cc_d, cc_b)]
    bc = [batching.moveaxis(x, d, 0) if m else x for x, d, m in zip(bc, bc_d, bc_b)]
    init = [batching.bdim_at_front(x, d, size) if b else x
            for x, d, b in zip(init, init_d, carry_b)]
    cond_b, _ = batching.batch_program(cond_program, [*cc_b, *carry_b], size)
    body_bp, _ = batching.batch_program(body_program, [*bc_b, *carry_b], size, carry_b)
    out_dims = [0 if b else batching.not_mapped for b in carry_b]
    if not pred_b:
        outs = while_p.bind(*cc, *bc, *init, cond_program=cond_b, body_program=body_bp,
                            cond_nconsts=cond_nconsts, body_nconsts=body_nconsts)
        return outs, out_dims
    cc_avals = [shaped_abstractify(x) for x in cc]
    bc_avals = [shaped_abstractify(x) for x in bc]
    carry_avals = [shaped_abstractify(x) for x in init]

    def any_lane(*xs: Any) -> list[Any]:
        (pred,) = pe.eval_program(cond_b, [], xs)
        return [reduce_or(pred, (0,))]

    def masked_body(*xs: Any) -> list[Any]:
        ccs, bcs, carry = _split(xs, [len(cc), len(bc)])
        (pred,) = pe.eval_program(cond_b, [], [*ccs, *carry])
        new = pe.eval_program(body_bp, [], [*bcs, *carry])
        return [select_n(broadcast_in_dim(pred, shaped_abstractify(o).shape, (0,)), o, n)
                for o, n in zip(carry, new)]

    new_cond = _closed(any_lane, [*cc_avals, *carry_avals])
    new_body = _closed(masked_body, [*cc_avals, *bc_avals, *carry_avals])
    outs = while_p.bind(*cc, *cc, *bc, *init, cond_program=new_cond, body_program=new_body,
                        cond_nconsts=len(cc), body_nconsts=len(cc) + len(bc))
    return outs, out_dims


batching.primitive_batchers[while_p] = _while_batch


def _while_partial_eval(trace: pe.ProgramTrace, primitive: Primitive, args: Sequence[Any],
                        params: dict[str, Any]) -> list[Any]:
    cond_program, body_program = params["cond_program"], params["body_program"]
    sizes = [params["cond_nconsts"], params["body_nconsts"]]
    unknowns = [trace.is_own(a) for a in args]
    cc_uk, bc_uk, carry_uk = _split(unknowns, sizes)
    while True:
        split = pe.partial_eval_program(body_program, [*bc_uk, *carry_uk],
                                        instantiate=carry_uk)
        new = _or(carry_uk, split.out_unknowns)
        if new == carry_uk:
            break
        carry_uk = new
    cond_uk = pe.partial_eval_program(cond_program, [*cc_uk, *carry_uk]).out_unknowns[0]
    if cond_uk or all(carry_uk):
        return trace.stage(while_p, args, params)
    # The known carries run in a known loop; the unknown ones are computed by staging
    # the whole loop again (jax's rule): recomputing is the price of no residuals.
    cc, bc, init = _split(args, sizes)
    n_known = carry_uk.count(False)
    known_body = pe.dce(Program([], split.known.invars, split.known.eqns,
                                split.known.outvars[:n_known]))
    cond_dce = pe.dce(cond_program)
    known_cond = _with_inputs(cond_dce, _pick([*cc_uk, *carry_uk], cond_dce.invars, False))
    k_cc = _pick(cc_uk, cc, False)
    k_bc = [*split.known_consts, *_pick(bc_uk, bc, False)]
    with set_current_trace(trace.parent):
        k_outs = while_p.bind(*k_cc, *k_bc, *_pick(carry_uk, init, False),
                              cond_program=known_cond, body_program=known_body,
                              cond_nconsts=len(k_cc), body_nconsts=len(k_bc))
    u_outs = trace.stage(while_p, args, params)
    return _merge(carry_uk, _pick(carry_uk, u_outs), k_outs)


pe.partial_eval_rules[while_p] = _while_partial_eval

# --------------------------------------------------------------------------------------
# fori_loop, map, associative_scan (compositions)
# --------------------------------------------------------------------------------------


def fori_loop(lower: ArrayLike, upper: ArrayLike, body_fun: Callable[[Any, Any], Any],
              init_val: Any, *, unroll: int | bool | None = None) -> Any:
    """`val = body_fun(i, val)` for `i` in `range(lower, upper)`.

    With concrete bounds (Python ints, concrete arrays) this is a `scan` of
    `upper - lower` steps, so it is reverse-differentiable; with traced bounds it is a
    `while_loop` (forward mode only).

    Args:
        lower, upper: integer scalars.
        body_fun: `(i, val) -> val` (same pytree and types).
        init_val: the initial value.
        unroll: passed to `scan` (static bounds only).

    Returns:
        The final value.

    >>> from lamina import lax
    >>> lax.fori_loop(0, 4, lambda i, s: s + i, 0)
    Array(6, dtype=int32, weak_type=True)
    """
    lo_aval = _abstractify("lax.fori_loop", lower)
    hi_aval = _abstractify("lax.fori_loop", upper)
    for name, aval in (("lower", lo_aval), ("upper", hi_aval)):
        if aval.shape != () or not dtypes.is_integer(aval.dtype):
            raise TypeError(f"lax.fori_loop: `{name}` must be an integer scalar, got "
                            f"{aval.str_short()}")
    dtype = dtypes.result_type(lower, upper)
    if _is_concrete(lower) and _is_concrete(upper):
        lo, hi = int(np.asarray(lower)), int(np.asarray(upper))

        def scan_body(carry: tuple[Any, Any], _: Any) -> tuple[tuple[Any, Any], None]:
            i, val = carry
            return (add(i, 1), body_fun(i, val)), None

        # NOTE: a Python int bound keeps the index weakly typed, as in jax.
        i0 = lower if isinstance(lower, int) else np.asarray(lo, dtype)
        (_, result), _ = scan(scan_body, (i0, init_val), None,
                              length=max(hi - lo, 0), unroll=1 if unroll is None else unroll)
        return result
    if unroll is not None and unroll is not False and unroll != 1:
        raise ValueError("lax.fori_loop: `unroll` needs concrete (static) loop bounds")

    def cond_fun(carry: tuple[Any, Any, Any]) -> Any:
        return lt(carry[0], carry[1])

    def body(carry: tuple[Any, Any, Any]) -> tuple[Any, Any, Any]:
        i, hi, val = carry
        return add(i, 1), hi, body_fun(i, val)

    lower = convert_element_type(lower, dtype)
    upper = convert_element_type(upper, dtype)
    return while_loop(cond_fun, body, (lower, upper, init_val))[2]


def map(f: Callable[[Any], Any], xs: Any, *, batch_size: int | None = None) -> Any:
    """`f` applied to each slice of `xs` along its leading axis, results stacked (a
    `scan` without carry).

    Args:
        f: a function of one slice (a pytree).
        xs: a pytree of arrays with a common leading size.
        batch_size: if given, apply `vmap(f)` to chunks of this many slices.

    Returns:
        The stacked outputs.

    >>> from lamina import lax
    >>> import numpy as np
    >>> lax.map(lambda x: x * 2, np.arange(3))
    Array([0, 2, 4], dtype=int32)
    """
    if batch_size is not None:
        return _batched_map(f, xs, operator.index(batch_size))
    _, ys = scan(lambda carry, x: (carry, f(x)), (), xs)
    return ys


def _batched_map(f: Callable[[Any], Any], xs: Any, batch_size: int) -> Any:
    from lamina._api_batching import vmap  # NOTE: the API layer imports lax
    leaves = tree_util.tree_leaves(xs)
    if not leaves:
        raise ValueError("lax.map: `xs` has no arrays to map over")
    n = _abstractify("lax.map", leaves[0]).shape[0]
    if batch_size < 1:
        raise ValueError(f"lax.map: `batch_size` must be positive, got {batch_size}")
    n_batches, rem = divmod(n, batch_size)

    def chunk(x: Any) -> Any:
        shape = _abstractify("lax.map", x).shape
        return reshape(slice_in_dim(x, 0, n_batches * batch_size),
                       (n_batches, batch_size, *shape[1:]))

    def unchunk(y: Any) -> Any:
        shape = _abstractify("lax.map", y).shape
        return reshape(y, (shape[0] * shape[1], *shape[2:]))

    ys = tree_util.tree_map(unchunk, map(vmap(f), tree_util.tree_map(chunk, xs)))
    if rem:
        tail = vmap(f)(tree_util.tree_map(lambda x: slice_in_dim(x, n - rem, n), xs))
        ys = tree_util.tree_map(lambda a, b: concatenate([a, b], 0), ys, tail)
    return ys


def associative_scan(fn: Callable[[Any, Any], Any], elems: Any, reverse: bool = False,
                     axis: int = 0) -> Any:
    """All prefix combinations of `elems` along `axis` under an associative `fn`.

    `result[i] = fn(... fn(fn(elems[0], elems[1]), elems[2]) ..., elems[i])`, computed
    in O(log n) parallel depth (Blelloch's even/odd recursion, as jax's).

    Args:
        fn: an associative function of two pytrees of arrays (slices along `axis`,
            possibly several at once), returning one such pytree.
        elems: a pytree of arrays with a common size along `axis`.
        reverse: scan from the end.
        axis: the axis to scan along.

    Returns:
        The pytree of prefix results, shaped like `elems`.

    >>> from lamina import lax
    >>> import numpy as np
    >>> lax.associative_scan(lax.add, np.arange(5, dtype=np.float32))
    Array([ 0.,  1.,  3.,  6., 10.], dtype=float32)
    """
    flat, tree = tree_util.tree_flatten(elems)
    if not flat:
        return elems
    avals = [_abstractify("lax.associative_scan", x) for x in flat]
    ndim = avals[0].ndim
    axis = operator.index(axis)
    if not -ndim <= axis < ndim:
        raise ValueError(f"lax.associative_scan: axis {axis} is out of bounds for "
                         f"{avals[0].str_short()}")
    axis %= ndim
    sizes = {a.shape[axis] if a.ndim > axis else -1 for a in avals}
    if len(sizes) != 1:
        raise ValueError("lax.associative_scan: every array in `elems` must have the same "
                         f"size along axis {axis}, got {_types(avals)}")
    if reverse:
        flat = [rev(x, (axis,)) for x in flat]

    def combine(a: list[Any], b: list[Any]) -> list[Any]:
        out = fn(tree_util.tree_unflatten(tree, a), tree_util.tree_unflatten(tree, b))
        leaves, out_tree = tree_util.tree_flatten(out)
        if out_tree != tree:
            raise TypeError(f"lax.associative_scan: `fn` must return the structure of "
                            f"`elems` ({tree}), got {out_tree}")
        return leaves

    def size(x: Any) -> int:
        return shaped_abstractify(x).shape[axis]

    def prefix(xs: list[Any]) -> list[Any]:
        n = size(xs[0])
        if n < 2:
            return xs
        # Combine adjacent pairs, recurse on the half-length result (the odd
        # positions), then fill in the even positions from it.
        reduced = combine([slice_in_dim(x, 0, n - 1, 2, axis) for x in xs],
                          [slice_in_dim(x, 1, n, 2, axis) for x in xs])
        odd = prefix(reduced)
        if n % 2 == 0:
            even = combine([slice_in_dim(o, 0, size(o) - 1, 1, axis) for o in odd],
                           [slice_in_dim(x, 2, n, 2, axis) for x in xs])
        else:
            even = combine(odd, [slice_in_dim(x, 2, n, 2, axis) for x in xs])
        even = [concatenate([slice_in_dim(x, 0, 1, 1, axis), e], axis)
                for x, e in zip(xs, even)]
        return [_interleave(e, o, axis) for e, o in zip(even, odd)]

    out = prefix(flat)
    if reverse:
        out = [rev(x, (axis,)) for x in out]
    return tree_util.tree_unflatten(tree, out)


def _interleave(a: Any, b: Any, axis: int) -> Any:
    """`[a0, b0, a1, b1, ...]` along `axis` (a has as many elements as b, or one more):
    both are padded with interior zeros, shifted by one, and added."""
    a_aval, b_aval = shaped_abstractify(a), shaped_abstractify(b)
    same = a_aval.shape[axis] == b_aval.shape[axis]
    a_cfg = [(0, 0, 0)] * a_aval.ndim
    b_cfg = [(0, 0, 0)] * b_aval.ndim
    a_cfg[axis] = (0, 1 if same else 0, 1)
    b_cfg[axis] = (1, 0 if same else 1, 1)
    zero = np.zeros((), a_aval.dtype)
    combine_op = bitwise_or if dtypes.is_bool(a_aval.dtype) else add
    return combine_op(pad(a, zero, a_cfg), pad(b, np.zeros((), b_aval.dtype), b_cfg))
