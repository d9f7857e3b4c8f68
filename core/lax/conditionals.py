"""`cond` and `switch`, with jax.lax's names and semantics, and their primitive:

* `cond_p(index, *operands, branches)`: runs `branches[index]` (closed programs);
  lowered to `stablehlo.case`.

Its jvp / transpose / batching / partial-eval rules follow it in this module. Part of
the control-flow family (see `lamina.lax.control_flow`); separate because branching
shares nothing with the loops but the helpers in `_control_flow_util`.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from lamina import dtypes, tree_util
from lamina.interpreters import ad, batching, lowering, partial_eval as pe
from lamina.ir import AbstractArray, Primitive, Program, set_current_trace, shaped_abstractify
from lamina.lax._util import ArrayLike
from lamina.lax.elementwise import clamp, convert_element_type, ne, select_n
from lamina.lax.structural import broadcast_in_dim
from lamina.lax._control_flow_util import (
    _abstractify, _closed, _trace_tree, _insert_inputs, _same_type, _types, _pick, _merge,
    _or, _threads_token, _token_avals, _token_in, _token_out, _token_result,
)

__all__ = [
    "cond",
    "switch",
]


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
    # NOTE: with ordered effects in a branch, each branch continues from the enclosing
    # token and returns its last one as an extra result, the enclosing token after.
    threads = _threads_token(*branches)
    token_in = _token_out(ctx, threads)

    def branch(b: Program) -> list[lowering.Value]:
        _token_in(ctx, threads, token_in)
        outs = ctx.lower_program(b, operands)
        return [*outs, *_token_out(ctx, threads)]

    regions = [ctx.region([], lambda _, b=b: branch(b)) for b in branches]
    outs = ctx.op("stablehlo.case", [index], [*ctx.avals_out, *_token_avals(threads)],
                  regions=regions)
    return _token_result(ctx, threads, outs)


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
