"""`while_loop` with its primitive, and `fori_loop` (a scan for concrete bounds, else a
while_loop), with jax.lax's names and semantics.

* `while_p(*cond_consts, *body_consts, *carry, cond_program, body_program,
  cond_nconsts, body_nconsts)`: lowered to `stablehlo.while`. Forward-mode only (its
  transpose rule raises an error that points to scan).

Its jvp / transpose / batching / partial-eval rules follow it; the loop rules find
which carries have nonzero tangents (are batched, are unknown) by iterating to a
fixpoint. Part of the control-flow family (see `lamina.lax.control_flow`).
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from lamina import dtypes, tree_util
from lamina.interpreters import ad, batching, lowering, partial_eval as pe
from lamina.ir import AbstractArray, Primitive, Program, set_current_trace, shaped_abstractify
from lamina.lax._util import ArrayLike
from lamina.lax.elementwise import add, convert_element_type, lt, select_n
from lamina.lax.reductions import reduce_or
from lamina.lax.structural import broadcast_in_dim
from lamina.lax._control_flow_util import (
    _abstractify, _closed, _trace_tree, _with_inputs, _permute_inputs, _insert_inputs,
    _split, _same_type, _types, _pick, _merge, _or, _is_concrete, _trace_loop_body,
    _threads_token, _token_avals, _token_in, _token_out, _token_result,
)
from lamina.lax.scans import scan

__all__ = [
    "fori_loop",
    "while_loop",
]


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
    # NOTE: the effect token (when a body has ordered effects) is the last carry; the
    # cond region can only read it, so its ordered effects follow the ones before it.
    threads = _threads_token(cond_program, body_program)
    avals = [*ctx.avals_in, *_token_avals(threads)]
    operands = [*args, *_token_out(ctx, threads)]

    def cond_body(state: list[lowering.Value]) -> list[lowering.Value]:
        cc, _, carry = _split(_token_in(ctx, threads, state), sizes)
        return ctx.lower_program(cond_program, [*cc, *carry])

    def body_body(state: list[lowering.Value]) -> list[lowering.Value]:
        cc, bc, carry = _split(_token_in(ctx, threads, state), sizes)
        outs = ctx.lower_program(body_program, [*bc, *carry])
        return [*cc, *bc, *outs, *_token_out(ctx, threads)]

    regions = [ctx.region(avals, cond_body), ctx.region(avals, body_body)]
    outs = ctx.op("stablehlo.while", operands, avals, regions=regions)
    return _token_result(ctx, threads, outs)[cond_nconsts + body_nconsts:]


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
# fori_loop (a composition: a scan, or a while_loop for traced bounds)
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
