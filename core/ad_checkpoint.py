"""Gradient checkpointing (rematerialisation): `checkpoint` (alias `remat`),
`checkpoint_policies` and `checkpoint_name`, with jax's names and semantics.

`remat[program, prevent_cse, policy]` calls a closed sub-program (constants are leading
operands). Evaluation and lowering inline it; its JVP and batching transform the
sub-program (as `jit`). The point is its partial-evaluation rule: when reverse mode
splits the JVP program into a known (forward) and an unknown (linear) part, only the
values the `policy` allows are saved as residuals; every other known value the linear
part needs is *recomputed* inside the staged `remat` from the saved values and the
known inputs. The backward pass evaluates those recomputations (non-linear equations
whose inputs are all known) before transposing.

A policy is `policy(primitive, *in_avals, **params) -> bool`: may the output of this
equation be saved?
"""
from __future__ import annotations

import functools
import types
from typing import Any, Callable, Sequence

from lamina import tree_util
from lamina.interpreters import ad, batching, eval as eval_interp, lowering
from lamina.interpreters import partial_eval as pe
from lamina.ir import (AbstractArray, Literal, Primitive, Program, Var, current_trace,
                       set_current_trace, shaped_abstractify)

__all__ = ["checkpoint", "remat", "checkpoint_policies", "checkpoint_name", "remat_p",
           "name_p"]

Policy = Callable[..., bool]

remat_p = Primitive("remat", multiple_results=True)


@remat_p.def_abstract_eval
def _remat_abstract_eval(*avals: AbstractArray, program: Program, prevent_cse: bool,
                         policy: Policy | None) -> list[AbstractArray]:
    del prevent_cse, policy
    expected = program.in_avals
    if [(a.shape, a.dtype) for a in avals] != [(a.shape, a.dtype) for a in expected]:
        raise TypeError(f"remat: operands {[a.str_short() for a in avals]} do not match the "
                        f"program's inputs {[a.str_short() for a in expected]}")
    return program.out_avals


def _remat_impl(*args: Any, program: Program, prevent_cse: bool, policy: Policy | None
                ) -> list[Any]:
    del prevent_cse, policy
    return pe.eval_program(program, [], args)


eval_interp.impl_rules[remat_p] = _remat_impl


def _remat_lowering(ctx: lowering.RuleContext, *args: str, program: Program,
                    prevent_cse: bool, policy: Policy | None) -> list[str]:
    del policy
    if prevent_cse and args:
        # NOTE: the barrier keeps XLA from merging a backward-pass recomputation with
        # the identical forward computation (which would undo the rematerialisation).
        args = tuple(ctx.op("stablehlo.optimization_barrier", list(args), ctx.avals_in))
    return ctx.lower_program(program, args)


lowering.register_lowering(remat_p, _remat_lowering)


def _remat_jvp(primals: Sequence[Any], tangents: Sequence[Any], *, program: Program,
               prevent_cse: bool, policy: Policy | None) -> tuple[list[Any], list[Any]]:
    nonzero = [not isinstance(t, ad.Zero) for t in tangents]
    jvp_prog, out_nonzero = ad.jvp_program(program, nonzero)
    outs = remat_p.bind(*primals, *[t for t in tangents if not isinstance(t, ad.Zero)],
                        program=jvp_prog, prevent_cse=prevent_cse, policy=policy)
    n = len(program.outvars)
    primals_out, nz = outs[:n], iter(outs[n:])
    return primals_out, [next(nz) if z else ad.Zero.like(p)
                         for p, z in zip(primals_out, out_nonzero)]


ad.primitive_jvps[remat_p] = _remat_jvp


def _remat_transpose(cts: Sequence[Any], *args: Any, program: Program, prevent_cse: bool,
                     policy: Policy | None) -> list[Any]:
    linear = [ad.is_undefined_primal(a) for a in args]
    transposed = ad.transpose_program(program, linear)
    operands = [*[a for a in args if not ad.is_undefined_primal(a)],
                *[ad.instantiate_zeros(ct) for ct in cts]]
    in_cts = iter(remat_p.bind(*operands, program=transposed, prevent_cse=prevent_cse,
                               policy=policy))
    return [next(in_cts) if lin else None for lin in linear]


ad.primitive_transposes[remat_p] = _remat_transpose


def _remat_batch(args: Sequence[Any], dims: Sequence[Any], *, program: Program,
                 prevent_cse: bool, policy: Policy | None) -> tuple[list[Any], list[Any]]:
    size = batching.dim_size(args, dims)
    mapped = [d is not batching.not_mapped for d in dims]
    args = [batching.moveaxis(x, d, 0) if m else x for x, d, m in zip(args, dims, mapped)]
    batched, out_mapped = batching.batch_program(program, mapped, size)
    outs = remat_p.bind(*args, program=batched, prevent_cse=prevent_cse, policy=policy)
    return outs, [0 if m else batching.not_mapped for m in out_mapped]


batching.primitive_batchers[remat_p] = _remat_batch


def _split_by_policy(program: Program, in_unknowns: Sequence[bool], policy: Policy
                     ) -> tuple[Program, Program, list[bool], int]:
    """Split a closed program into a known part (known inputs -> known outputs +
    saved residuals) and a staged part (residuals + unknown inputs -> unknown
    outputs) that recomputes every known value it needs that `policy` does not allow
    saving. Returns (known, staged, out_unknowns, number of residuals)."""
    unknown: set[int] = {v.id for v, u in zip(program.invars, in_unknowns) if u}
    producer: dict[int, int] = {}  # known var id -> index of the equation defining it
    staged: set[int] = set()
    for i, eqn in enumerate(program.eqns):
        if any(isinstance(a, Var) and a.id in unknown for a in eqn.invars):
            staged.add(i)
            unknown.update(v.id for v in eqn.outvars)
        else:
            producer.update((v.id, i) for v in eqn.outvars)
    residuals: dict[int, Var] = {}
    stack = [a for i in sorted(staged) for a in program.eqns[i].invars]
    while stack:  # known values the staged side reads: save them or recompute them
        atom = stack.pop()
        if isinstance(atom, Literal) or atom.id in unknown or atom.id in residuals:
            continue
        i = producer.get(atom.id)
        if i is None:
            residuals[atom.id] = atom  # a known input of the program
        elif i not in staged:
            eqn = program.eqns[i]
            if policy(eqn.primitive, *[a.aval for a in eqn.invars], **eqn.params):
                residuals[atom.id] = atom
            else:
                staged.add(i)
                stack.extend(eqn.invars)
    out_unknowns = [isinstance(v, Var) and v.id in unknown for v in program.outvars]
    known_invars = [v for v, u in zip(program.invars, in_unknowns) if not u]
    known_eqns = [e for e in program.eqns
                  if not any(isinstance(a, Var) and a.id in unknown for a in e.invars)]
    res_vars = list(residuals.values())
    known = pe.dce(Program([], known_invars, known_eqns, [
        *[v for v, u in zip(program.outvars, out_unknowns) if not u], *res_vars]))
    staged_program = Program(
        [], [*res_vars, *[v for v, u in zip(program.invars, in_unknowns) if u]],
        [e for i, e in enumerate(program.eqns) if i in staged],
        [v for v, u in zip(program.outvars, out_unknowns) if u])
    return known, staged_program, out_unknowns, len(res_vars)


def _remat_partial_eval(trace: pe.ProgramTrace, primitive: Primitive, args: Sequence[Any],
                        params: dict[str, Any]) -> list[Any]:
    del primitive
    program, policy = params["program"], params["policy"] or nothing_saveable
    unknowns = [trace.is_own(a) for a in args]
    known, staged, out_unknowns, n_res = _split_by_policy(program, unknowns, policy)
    with set_current_trace(trace.parent):
        known_outs = pe.eval_program(known, [], [a for a, u in zip(args, unknowns) if not u])
    n_known = len(known_outs) - n_res
    staged_outs = iter(trace.stage(remat_p, [*known_outs[n_known:], *[
        a for a, u in zip(args, unknowns) if u]], dict(params, program=staged)))
    known_iter = iter(known_outs[:n_known])
    return [next(staged_outs) if u else next(known_iter) for u in out_unknowns]


pe.partial_eval_rules[remat_p] = _remat_partial_eval


def checkpoint(fun: Callable[..., Any], *, prevent_cse: bool = True,
               policy: Policy | None = None, static_argnums: int | Sequence[int] = ()
               ) -> Callable[..., Any]:
    """`fun` with its intermediate values recomputed in the backward pass instead of
    saved (jax's `checkpoint` / `remat`): less memory for more compute.

    Args:
        fun: the function (pytrees in and out).
        prevent_cse: keep XLA from merging the recomputation with the forward pass.
        policy: which intermediates may still be saved, e.g.
            `checkpoint_policies.dots_saveable`; None saves nothing.
        static_argnums: arguments passed as Python values (not traced).

    >>> import lamina, lamina.numpy as lnp
    >>> from lamina.ad_checkpoint import checkpoint
    >>> f = checkpoint(lambda x: lnp.sin(lnp.sin(x)))
    >>> lamina.grad(f)(0.0)
    Array(1., dtype=float32...)
    """
    statics = (static_argnums,) if isinstance(static_argnums, int) else tuple(static_argnums)

    @functools.wraps(fun)
    def fun_remat(*args: Any, **kwargs: Any) -> Any:
        if isinstance(current_trace(), eval_interp.EvalTrace):
            return fun(*args, **kwargs)  # NOTE: nothing is being differentiated here
        static_pos = {i % len(args) for i in statics} if args else set()
        dyn_args = tuple(a for i, a in enumerate(args) if i not in static_pos)
        leaves, in_tree = tree_util.tree_flatten((dyn_args, kwargs))
        out_tree_box: list[Any] = []

        def flat(*flat_args: Any) -> list[Any]:
            dyn, kw = tree_util.tree_unflatten(in_tree, flat_args)
            it = iter(dyn)
            full = [args[i] if i in static_pos else next(it) for i in range(len(args))]
            out_leaves, out_tree = tree_util.tree_flatten(fun(*full, **kw))
            out_tree_box[:] = [out_tree]
            return out_leaves

        program, consts = pe.close_over_consts(
            pe.trace_to_program(flat, [shaped_abstractify(x) for x in leaves]))
        outs = remat_p.bind(*consts, *leaves, program=program, prevent_cse=prevent_cse,
                            policy=policy)
        return tree_util.tree_unflatten(out_tree_box[0], outs)

    return fun_remat


remat = checkpoint


# --------------------------------------------------------------------------------------
# Names and policies
# --------------------------------------------------------------------------------------

# `name[name](x)`: the identity, marking x for the name-based policies.
name_p = Primitive("name")
name_p.def_abstract_eval(lambda x, *, name: x)
lowering.register_lowering(name_p, lambda ctx, x, *, name: x)
eval_interp.impl_rules[name_p] = lambda x, *, name: x
batching.primitive_batchers[name_p] = lambda args, dims, *, name: (
    name_p.bind(args[0], name=name), dims[0])


def _name_jvp(primals: Sequence[Any], tangents: Sequence[Any], *, name: str
              ) -> tuple[Any, Any]:
    return name_p.bind(primals[0], name=name), tangents[0]  # the tangent is not named


ad.primitive_jvps[name_p] = _name_jvp


def checkpoint_name(x: Any, name: str) -> Any:
    """Tag every array of the pytree `x` with `name`, for `save_only_these_names` and
    `save_anything_except_these_names` policies (jax's `ad_checkpoint.checkpoint_name`)."""
    return tree_util.tree_map(lambda leaf: name_p.bind(leaf, name=name), x)


def everything_saveable(*_: Any, **__: Any) -> bool:
    """Save every intermediate (as if not checkpointed)."""
    return True


def nothing_saveable(*_: Any, **__: Any) -> bool:
    """Recompute every intermediate (the default)."""
    return False


def dots_saveable(primitive: Primitive, *_: Any, **__: Any) -> bool:
    """Save the results of matrix multiplications and convolutions."""
    from lamina.lax.convolution import conv_general_dilated_p
    from lamina.lax.dots import dot_general_p
    return primitive is dot_general_p or primitive is conv_general_dilated_p


def dots_with_no_batch_dims_saveable(primitive: Primitive, *_: Any, **params: Any) -> bool:
    """Save the results of dot_generals that have no batch dimensions."""
    from lamina.lax.dots import dot_general_p
    if primitive is not dot_general_p:
        return False
    (_, _), (lhs_batch, rhs_batch) = params["dimension_numbers"]
    return not lhs_batch and not rhs_batch


def save_only_these_names(*names: str) -> Policy:
    """Save only the values tagged by `checkpoint_name` with one of `names`."""
    allowed = frozenset(names)

    def policy(primitive: Primitive, *_: Any, **params: Any) -> bool:
        return primitive is name_p and params["name"] in allowed

    return policy


def save_anything_except_these_names(*names: str) -> Policy:
    """Save every value except those tagged by `checkpoint_name` with one of `names`."""
    excluded = frozenset(names)

    def policy(primitive: Primitive, *_: Any, **params: Any) -> bool:
        return not (primitive is name_p and params["name"] in excluded)

    return policy


def save_any_names_but_these(*names: str) -> Policy:
    """Save every value tagged by `checkpoint_name`, except those named in `names`."""
    excluded = frozenset(names)

    def policy(primitive: Primitive, *_: Any, **params: Any) -> bool:
        return primitive is name_p and params["name"] not in excluded

    return policy


checkpoint_policies = types.SimpleNamespace(
    everything_saveable=everything_saveable,
    nothing_saveable=nothing_saveable,
    dots_saveable=dots_saveable,
    checkpoint_dots=dots_saveable,
    dots_with_no_batch_dims_saveable=dots_with_no_batch_dims_saveable,
    checkpoint_dots_with_no_batch_dims=dots_with_no_batch_dims_saveable,
    save_only_these_names=save_only_these_names,
    save_anything_except_these_names=save_anything_except_these_names,
    save_any_names_but_these=save_any_names_but_these,
)
