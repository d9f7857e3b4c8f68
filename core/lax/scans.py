"""`scan` with its primitive, and the compositions built on scans or on plain lax ops:
`map` (a scan, optionally over batches) and `associative_scan` (a parallel prefix
scan), with jax.lax's names and semantics.

* `scan_p(*consts, *carry, *xs, program, length, reverse, num_consts, num_carry,
  unroll)`: `program(consts, carry, x) -> (carry, y)` over the leading axis of `xs`;
  lowered to `stablehlo.while` with dynamic slices of `xs` and dynamic updates of `ys`.

Its jvp / transpose / batching / partial-eval rules follow it; the loop rules find
which carries have nonzero tangents (are batched, are unknown) by iterating to a
fixpoint. Part of the control-flow family (see `lamina.lax.control_flow`).
"""
from __future__ import annotations

import operator
from typing import Any, Callable, Sequence

import numpy as np

from lamina import dtypes, tree_util
from lamina.interpreters import ad, batching, lowering, partial_eval as pe
from lamina.ir import (
    AbstractArray, Primitive, Program, Var, set_current_trace, shaped_abstractify,
)
from lamina.lax.elementwise import add, bitwise_or
from lamina.lax.structural import concatenate, pad, reshape, rev, slice_in_dim
from lamina.lax._control_flow_util import (
    _I32, _abstractify, _closed, _permute_inputs, _permute_outputs, _split, _same_type,
    _types, _pick, _merge, _or, _i32, _index_slice, _index_update, _compare_i32,
    _trace_loop_body, _threads_token, _token_avals, _token_in, _token_out, _token_result,
)

__all__ = [
    "associative_scan",
    "map",
    "scan",
]

_builtin_map = map  # NOTE: `map` is shadowed below by lax.map (jax's name).


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

    # NOTE: with ordered effects in the body, the effect token is the last loop state.
    threads = _threads_token(program)

    def body(state: list[lowering.Value]) -> list[lowering.Value]:
        state = _token_in(ctx, threads, state)
        for _ in range(unroll):
            state = step(state)
        return [*state, *_token_out(ctx, threads)]

    state = [_i32(ctx, 0), *consts, *xs, *init, *ys]
    if trips:
        loop_avals = [*state_avals, *_token_avals(threads)]
        cond_region = ctx.region(
            loop_avals, lambda s: [_compare_i32(ctx, s[0], _i32(ctx, trips * unroll), "LT")])
        body_region = ctx.region(loop_avals, body)
        state = ctx.op("stablehlo.while", [*state, *_token_out(ctx, threads)], loop_avals,
                       regions=[cond_region, body_region])
        state = _token_result(ctx, threads, state)
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
# map, associative_scan (compositions)
# --------------------------------------------------------------------------------------


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
