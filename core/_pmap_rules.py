"""`pmap_p`'s transformation rules: each transforms the per-device program (with the
pmap's axis bound, so collectives inside transform too) and binds `pmap_p` again with
the same devices, `axis_size` and `local_slices` (so a pmap across processes stays one,
`_pmap_multiprocess.py`), as `jit_p`'s rules do (lax/calls.py).
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from lamina._api_pmap import pmap_p
from lamina.interpreters import ad, axis_env, batching
from lamina.interpreters import partial_eval as pe
from lamina.interpreters.partial_eval import close_over_consts, eval_program, trace_to_program
from lamina.ir import Primitive, Program, set_current_trace, shaped_abstractify
from lamina.lax.collectives import psum_p



def _pick(flags: Sequence[bool], xs: Sequence[Any], want: bool = True) -> list[Any]:
    return [x for f, x in zip(flags, xs) if f == want]


def _pmap_jvp(primals: Sequence[Any], tangents: Sequence[Any], *, program: Program,
              axis_name: Any, axis_size: int, in_mapped: tuple[bool, ...],
              out_mapped: tuple[bool, ...], name: str, **params: Any
              ) -> tuple[list[Any], list[Any]]:
    nonzero = [not isinstance(t, ad.Zero) for t in tangents]
    with axis_env.extend(axis_name, axis_size, "pmap"):
        jvp_prog, out_nonzero = ad.jvp_program(program, nonzero)
    operands = [*primals, *_pick(nonzero, tangents)]
    outs = pmap_p.bind(
        *operands, program=jvp_prog, axis_name=axis_name, axis_size=axis_size,
        in_mapped=(*in_mapped, *_pick(nonzero, in_mapped)),
        out_mapped=(*out_mapped, *_pick(out_nonzero, out_mapped)),
        name=f"jvp({name})", devices=params["devices"], local_slices=params["local_slices"],
        donated=(False,) * len(operands))
    n = len(program.outvars)
    primals_out, nz_tangents = outs[:n], iter(outs[n:])
    return primals_out, [next(nz_tangents) if nz else ad.Zero.like(p)
                         for p, nz in zip(primals_out, out_nonzero)]


ad.primitive_jvps[pmap_p] = _pmap_jvp


def _pmap_transpose(cts: Sequence[Any], *args: Any, program: Program, axis_name: Any,
                    axis_size: int, in_mapped: tuple[bool, ...], out_mapped: tuple[bool, ...],
                    name: str, **params: Any) -> list[Any]:
    linear = [ad.is_undefined_primal(a) for a in args]
    # An input given to every device (in_axes=None) gets the sum of the devices'
    # cotangents: psum them inside the transposed program.
    summed = [not m for m, lin in zip(in_mapped, linear) if lin]
    n_nonlin = len(linear) - sum(linear)
    with axis_env.extend(axis_name, axis_size, "pmap"):
        transposed = ad.transpose_program(program, linear)
        if any(summed) or not all(out_mapped):
            def fun(*xs: Any) -> list[Any]:
                from lamina.lax import elementwise as ew
                from lamina.lax.collectives import axis_index
                xs = list(xs)
                # An output returned once (out_axes=None) is the first device's value,
                # so only that device's copy receives its cotangent.
                for i, m in enumerate(out_mapped):
                    if not m:
                        ct = xs[n_nonlin + i]
                        first = ew.convert_element_type(ew.eq(axis_index(axis_name), np.int32(0)),
                                                        shaped_abstractify(ct).dtype)
                        xs[n_nonlin + i] = ew.mul(ct, first)
                outs = eval_program(transposed, [], xs)
                return [psum_p.bind(o, axes=(axis_name,), axis_index_groups=None) if s else o
                        for o, s in zip(outs, summed)]
            transposed, consts = close_over_consts(
                trace_to_program(fun, [v.aval for v in transposed.invars]))
            assert not consts
    operands = [*_pick(linear, args, False), *[ad.instantiate_zeros(ct) for ct in cts]]
    outs = iter(pmap_p.bind(
        *operands, program=transposed, axis_name=axis_name, axis_size=axis_size,
        in_mapped=(*_pick(linear, in_mapped, False), *out_mapped),
        out_mapped=tuple(_pick(linear, in_mapped)), name=f"transpose({name})",
        devices=params["devices"], local_slices=params["local_slices"],
        donated=(False,) * len(operands)))
    return [next(outs) if lin else None for lin in linear]


ad.primitive_transposes[pmap_p] = _pmap_transpose


def _pmap_batch(args: Sequence[Any], dims: Sequence[Any], *, program: Program,
                axis_name: Any, axis_size: int, in_mapped: tuple[bool, ...],
                out_mapped: tuple[bool, ...], name: str, **params: Any
                ) -> tuple[list[Any], list[Any]]:
    size = batching.dim_size(args, dims)
    batched = [d is not batching.not_mapped for d in dims]
    # The per-device program sees the vmap axis first: global axis 1 of a mapped
    # operand (axis 0 is the device axis), axis 0 of an operand given to every device.
    args = [batching.moveaxis(x, d, 1 if m else 0) if b else x
            for x, d, m, b in zip(args, dims, in_mapped, batched)]
    batched_prog, out_batched = batching.batch_program(program, batched, size)
    outs = pmap_p.bind(*args, program=batched_prog, axis_name=axis_name, axis_size=axis_size,
                       in_mapped=in_mapped, out_mapped=out_mapped, name=f"vmap({name})",
                       devices=params["devices"], local_slices=params["local_slices"],
                       donated=(False,) * len(args))
    return outs, [(1 if m else 0) if b else batching.not_mapped
                  for m, b in zip(out_mapped, out_batched)]


batching.primitive_batchers[pmap_p] = _pmap_batch


def _pmap_partial_eval(trace: pe.ProgramTrace, primitive: Primitive, args: Sequence[Any],
                       params: dict[str, Any]) -> list[Any]:
    program, axis_name, n = params["program"], params["axis_name"], params["axis_size"]
    in_mapped, out_mapped = params["in_mapped"], params["out_mapped"]
    unknowns = [trace.is_own(a) for a in args]
    with axis_env.extend(axis_name, n, "pmap"):
        split = pe.partial_eval_program(program, unknowns)
    known_operands = [*split.known_consts, *_pick(unknowns, args, False)]
    out_known = [not u for u in split.out_unknowns]
    common = dict(axis_name=axis_name, axis_size=n, devices=params["devices"],
                  local_slices=params["local_slices"], name=params["name"])
    with set_current_trace(trace.parent):
        known_outs = pmap_p.bind(
            *known_operands, program=split.known, **common,
            in_mapped=(*[False] * len(split.known_consts), *_pick(unknowns, in_mapped, False)),
            out_mapped=(*_pick(out_known, out_mapped), *[True] * split.num_residuals),
            donated=(False,) * len(known_operands))
    n_known = len(known_outs) - split.num_residuals
    residuals = known_outs[n_known:]  # per-device values: split over the devices
    unknown_operands = [*residuals, *_pick(unknowns, args)]
    unknown_outs = iter(trace.stage(pmap_p, unknown_operands, dict(
        program=split.unknown, **common,
        in_mapped=(*[True] * len(residuals), *_pick(unknowns, in_mapped)),
        out_mapped=tuple(_pick(split.out_unknowns, out_mapped)),
        donated=(False,) * len(unknown_operands))))
    known_iter = iter(known_outs[:n_known])
    return [next(unknown_outs) if u else next(known_iter) for u in split.out_unknowns]


pe.partial_eval_rules[pmap_p] = _pmap_partial_eval
