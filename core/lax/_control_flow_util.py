"""Private helpers shared by the control-flow primitives (`conditionals`, `scans`,
`loops`): tracing user functions into closed programs, rearranging a program's inputs
and outputs, flag-driven list surgery for the fixpoint rules, `stablehlo` lowering
helpers on SSA values, and the carry-type checks of loops (scan, while_loop).

Kept in their own module so that the three families share them without importing each
other.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from lamina import dtypes, tree_util
from lamina.backend.array import Array
from lamina.interpreters import lowering, partial_eval as pe
from lamina.ir import AbstractArray, Program, Tracer, Var, shaped_abstractify
from lamina.lax.elementwise import convert_element_type

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


# Effect tokens through control flow: when a body has ordered effects
# (`lowering.uses_effect_token`), the enclosing region's token goes in as an extra
# `!stablehlo.token` operand (the last one), the body's lowering continues from it, and
# the op's extra (last) result becomes the enclosing region's token again.


def _threads_token(*programs: Program) -> bool:
    return any(lowering.uses_effect_token(p) for p in programs)


def _token_avals(threads: bool) -> list[Any]:
    return [lowering.token] if threads else []


def _token_in(ctx: lowering.RuleContext, threads: bool, values: Sequence[lowering.Value]
              ) -> list[lowering.Value]:
    """Inside a region whose last argument is the token (when `threads`): make it the
    region's current token; returns the other arguments."""
    if not threads:
        return list(values)
    ctx.set_effect_token(values[-1])
    return list(values[:-1])


def _token_out(ctx: lowering.RuleContext, threads: bool) -> list[lowering.Value]:
    """The current token, as the extra operand or region result (when `threads`)."""
    return [ctx.effect_token()] if threads else []


def _token_result(ctx: lowering.RuleContext, threads: bool, outs: list[lowering.Value]
                  ) -> list[lowering.Value]:
    """The op's results without the token, which becomes the current one."""
    if not threads:
        return outs
    ctx.set_effect_token(outs[-1])
    return outs[:-1]


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
