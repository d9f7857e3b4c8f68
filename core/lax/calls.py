"""`jit_p`: a call of a staged sub-program, the primitive behind `lamina.jit`.

Params: `program` (a closed Program: no constvars; constants are leading operands),
`name` (for printing) and `donated` (one flag per operand: its buffer may be reused
for an output). Eagerly it compiles the whole program once per input types and device;
under other transformations it transforms the sub-program and calls the result, so a
jitted function stays one compiled unit inside `grad`, `vmap` and an outer `jit`.
"""
from __future__ import annotations

from typing import Any, Sequence

from lamina.backend.compile import CompilerOptions, Executable, compile_module
from lamina.config import config
from lamina.interpreters import ad, batching, eval as eval_interp, lowering, partial_eval as pe
from lamina.ir import AbstractArray, Primitive, Program, set_current_trace, typecheck

jit_p = Primitive("jit", multiple_results=True)
_flags = config._values


@jit_p.def_abstract_eval
def _jit_abstract_eval(*avals: AbstractArray, program: Program, name: str,
                       donated: tuple[bool, ...]) -> list[AbstractArray]:
    del name, donated
    expected = [v.aval for v in program.invars]
    if [(a.shape, a.dtype) for a in avals] != [(a.shape, a.dtype) for a in expected]:
        raise TypeError(f"jit: operands {[a.str_short() for a in avals]} do not match the "
                        f"program's inputs {[a.str_short() for a in expected]}")
    return [v.aval for v in program.outvars]


def _jit_lowering(ctx: lowering.RuleContext, *args: str, program: Program, name: str,
                  donated: tuple[bool, ...]) -> list[str]:
    del name, donated  # donation applies to the outermost call only
    return ctx.lower_program(program, args)


lowering.register_lowering(jit_p, _jit_lowering)

_jit_executables: dict[tuple[Any, ...], Executable] = {}


def jit_impl(*arrays: Any, program: Program, name: str, donated: tuple[bool, ...],
             compiler_options: CompilerOptions = ()) -> list[Any]:
    """Run `program` now. `compiler_options` is not a param of `jit_p`: it comes from
    an eager top-level call of `jit(f, compiler_options=...)` (nested, a program is
    inlined into its caller's and compiled with the caller's options, as in jax)."""
    device, arrays = eval_interp.common_device(arrays, jit_p)
    avals = tuple(a.aval for a in arrays)
    key = (program, avals, donated, device.id, compiler_options)
    exe = _jit_executables.get(key)
    if exe is None:
        if config.enable_checks:
            typecheck(program)
        text = lowering.lower_program(program, donated=donated, platform=device.platform)
        exe = Executable(compile_module(text, device, compiler_options), avals,
                         program.out_avals, device, donated)
        _jit_executables[key] = exe
    outs = exe(arrays)
    if _flags["debug_floats"]:
        from lamina._debug_floats import check_jit
        check_jit(name, outs, lambda: pe.eval_program(program, [], arrays))
    return outs


eval_interp.impl_rules[jit_p] = jit_impl


def _no_donation(n: int) -> tuple[bool, ...]:
    return (False,) * n


def _jit_jvp(primals: Sequence[Any], tangents: Sequence[Any], *, program: Program, name: str,
             donated: tuple[bool, ...]) -> tuple[list[Any], list[Any]]:
    nonzero = [not isinstance(t, ad.Zero) for t in tangents]
    jvp_prog, out_nonzero = ad.jvp_program(program, nonzero)
    operands = [*primals, *[t for t in tangents if not isinstance(t, ad.Zero)]]
    outs = jit_p.bind(*operands, program=jvp_prog, name=f"jvp({name})",
                      donated=_no_donation(len(operands)))
    n = len(program.outvars)
    primals_out, nz_tangents = outs[:n], iter(outs[n:])
    tangents_out = [next(nz_tangents) if nz else ad.Zero.like(p)
                    for p, nz in zip(primals_out, out_nonzero)]
    return primals_out, tangents_out


ad.primitive_jvps[jit_p] = _jit_jvp


def _jit_transpose(cts: Sequence[Any], *args: Any, program: Program, name: str,
                   donated: tuple[bool, ...]) -> list[Any]:
    linear = [ad.is_undefined_primal(a) for a in args]
    transposed = ad.transpose_program(program, linear)
    operands = [*[a for a in args if not ad.is_undefined_primal(a)],
                *[ad.instantiate_zeros(ct) for ct in cts]]
    in_cts = iter(jit_p.bind(*operands, program=transposed, name=f"transpose({name})",
                             donated=_no_donation(len(operands))))
    return [next(in_cts) if lin else None for lin in linear]


ad.primitive_transposes[jit_p] = _jit_transpose


def _jit_batch(args: Sequence[Any], dims: Sequence[Any], *, program: Program, name: str,
               donated: tuple[bool, ...]) -> tuple[list[Any], list[Any]]:
    size = batching.dim_size(args, dims)
    mapped = [d is not batching.not_mapped for d in dims]
    args = [batching.moveaxis(x, d, 0) if m else x for x, d, m in zip(args, dims, mapped)]
    batched, out_mapped = batching.batch_program(program, mapped, size)
    outs = jit_p.bind(*args, program=batched, name=f"vmap({name})",
                      donated=_no_donation(len(args)))
    return outs, [0 if m else batching.not_mapped for m in out_mapped]


batching.primitive_batchers[jit_p] = _jit_batch


def _jit_partial_eval(trace: pe.ProgramTrace, primitive: Primitive, args: Sequence[Any],
                      params: dict[str, Any]) -> list[Any]:
    program, name = params["program"], params["name"]
    unknowns = [trace.is_own(a) for a in args]
    split = pe.partial_eval_program(program, unknowns)
    known_operands = [*split.known_consts, *[a for a, u in zip(args, unknowns) if not u]]
    with set_current_trace(trace.parent):
        known_outs = jit_p.bind(*known_operands, program=split.known, name=name,
                                donated=_no_donation(len(known_operands)))
    n_known = len(known_outs) - split.num_residuals
    residuals = known_outs[n_known:]
    unknown_operands = [*residuals, *[a for a, u in zip(args, unknowns) if u]]
    unknown_outs = iter(trace.stage(jit_p, unknown_operands, dict(
        program=split.unknown, name=name, donated=_no_donation(len(unknown_operands)))))
    known_iter = iter(known_outs[:n_known])
    return [next(unknown_outs) if u else next(known_iter) for u in split.out_unknowns]


pe.partial_eval_rules[jit_p] = _jit_partial_eval
