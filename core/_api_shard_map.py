"""`shard_map`: a per-shard program over a device mesh, with collectives over mesh axes.

`shard_map(f, mesh, in_specs, out_specs)(*args)` splits each argument by its spec, runs
`f` on every device with the per-shard values (collectives name mesh axes:
`lax.psum(x, 'x')`), and assembles the per-shard results by `out_specs`. `f` is traced
once with the per-shard types while the mesh axes are bound (`interpreters/axis_env.py`,
kind "mesh") and staged as `shard_map_p`. Lowering follows jax: an `sdy.manual_computation`
over all mesh axes inside a partitioned module (`lamina._spmd`), collectives over
partition ids with `use_global_device_ids`. An output whose spec omits a mesh axis must
be the same on every device along it: with `check_rep` (the default) this is checked at
trace time as jax does, by following which mesh axes each value may vary along
(`_varying`). With `axis_names` (or `auto`), only those mesh axes are manual: the
region's shardings leave the other axes open to the partitioner (`{"x", ?}`), as jax
lowers partial-manual shard_maps.

Params of `shard_map_p`: `program` (closed, per-shard types), `mesh`, `in_specs` /
`out_specs` (one PartitionSpec per operand / output), `check_rep`, `manual` (the manual
mesh axes, in mesh order), `name`.
"""
from __future__ import annotations

import contextlib
import functools
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from lamina import tree_util
from lamina.interpreters import ad, axis_env, batching, eval as eval_interp, lowering
from lamina.interpreters.partial_eval import close_over_consts, eval_program, trace_to_program
from lamina.ir import AbstractArray, Primitive, Program, shaped_abstractify
from lamina.lax.collectives import psum_p
from lamina.lax.sharding_ops import (check_axis_names, manual_region, mesh_users, sdy_dims,
                                     spmd_context)
from lamina.sharding import Mesh, PartitionSpec, _check_spec

shard_map_p = Primitive("shard_map", multiple_results=True)


@contextlib.contextmanager
def _mesh_axes(mesh: Mesh, manual: tuple[Any, ...]) -> Iterator[None]:
    """Bind the manual mesh axes (every axis, unless shard_map was given axis_names/auto)."""
    with contextlib.ExitStack() as stack:
        for name, size in mesh.shape.items():
            if name in manual:
                stack.enter_context(axis_env.extend(name, size, "mesh", mesh))
        yield


def _factors(mesh: Mesh, spec: PartitionSpec, ndim: int) -> list[int]:
    return [int(np.prod([mesh.shape[n] for n in spec._axes(d)], dtype=int)) for d in range(ndim)]


def _global(mesh: Mesh, spec: PartitionSpec, aval: AbstractArray) -> AbstractArray:
    return aval.update(shape=tuple(s * f for s, f in
                                   zip(aval.shape, _factors(mesh, spec, aval.ndim))))


def _local(api: str, mesh: Mesh, spec: PartitionSpec, aval: AbstractArray, what: str
           ) -> AbstractArray:
    if len(spec) > aval.ndim:
        raise ValueError(f"{api}: {what} has rank {aval.ndim} (shape {aval.shape}), but its "
                         f"spec {spec!r} names {len(spec)} dimensions")
    shape = []
    for d, (n, f) in enumerate(zip(aval.shape, _factors(mesh, spec, aval.ndim))):
        if n % f:
            raise ValueError(f"{api}: {what} has shape {aval.shape}; its spec {spec!r} splits "
                             f"dimension {d} (size {n}) into {f} pieces, which does not "
                             "divide it evenly")
        shape.append(n // f)
    return aval.update(shape=tuple(shape))


@shard_map_p.def_abstract_eval
def _shard_map_abstract_eval(*avals: AbstractArray, program: Program, mesh: Mesh,
                             in_specs: tuple[PartitionSpec, ...],
                             out_specs: tuple[PartitionSpec, ...],
                             check_rep: bool, manual: tuple[Any, ...],
                             name: str) -> list[AbstractArray]:
    expected = [_global(mesh, s, v.aval) for s, v in zip(in_specs, program.invars)]
    if [(a.shape, a.dtype) for a in avals] != [(a.shape, a.dtype) for a in expected]:
        raise TypeError(f"shard_map({name}): operands {[a.str_short() for a in avals]} do not "
                        f"match the program's inputs {[a.str_short() for a in expected]}")
    return [_global(mesh, s, v.aval) for s, v in zip(out_specs, program.outvars)]


def _shard_map_lower(ctx: lowering.RuleContext, *args: str, program: Program, mesh: Mesh,
                     in_specs: tuple[PartitionSpec, ...], out_specs: tuple[PartitionSpec, ...],
                     check_rep: bool, manual: tuple[Any, ...], name: str) -> list[str]:
    spmd = spmd_context()
    if spmd is None or mesh not in spmd.symbols:
        raise NotImplementedError(f"shard_map({name}) can only be lowered into a program "
                                  "partitioned over its mesh (a lamina bug if seen)")
    if spmd.manual:
        raise NotImplementedError(f"shard_map({name}): nested shard_map is not supported")
    sym = spmd.symbols[mesh]

    partial = len(manual) < len(mesh.axis_names)

    def dims(s: PartitionSpec, ndim: int) -> str:
        text = sdy_dims(s, ndim)
        if partial:  # (as jax) the free axes may shard any dimension: open dimensions
            text = text.replace('"}', '", ?}').replace("{}", "{?}")
        return text

    def per_value(specs: Sequence[PartitionSpec], avals: Sequence[AbstractArray]) -> str:
        items = ", ".join(f"<@{sym}, {dims(s, a.ndim)}>" for s, a in zip(specs, avals))
        return f"#sdy.sharding_per_value<[{items}]>"

    def body(block_args: list[str]) -> list[str]:
        with manual_region(partial), _mesh_axes(mesh, manual):
            return ctx.lower_program(program, block_args)

    region = ctx.region([v.aval for v in program.invars], body, terminator="sdy.return")
    axes = ", ".join(f'"{n}"' for n in mesh.axis_names if n in manual)
    return ctx.op("sdy.manual_computation", list(args), list(ctx.avals_out), {
        "in_shardings": per_value(in_specs, ctx.avals_in),
        "out_shardings": per_value(out_specs, ctx.avals_out),
        "manual_axes": f"#sdy<manual_axes{{{axes}}}>"}, regions=[region])


lowering.register_lowering(shard_map_p, _shard_map_lower)
mesh_users[shard_map_p] = lambda params: [params["mesh"]]

_eager_programs: dict[tuple[Any, ...], Program] = {}


def _shard_map_impl(*args: Any, **params: Any) -> list[Any]:
    from lamina._spmd import run
    avals = tuple(shaped_abstractify(a) for a in args)
    key = (avals, tuple(params.items()))
    program = _eager_programs.get(key)
    if program is None:
        program = _eager_programs[key] = eval_interp.single_primitive_program(
            shard_map_p, avals, params)
    return run(program, args, name=f"shard_map({params['name']})")


eval_interp.impl_rules[shard_map_p] = _shard_map_impl
eval_interp.raw_impl_primitives.add(shard_map_p)


def _pick(flags: Sequence[bool], xs: Sequence[Any], want: bool = True) -> list[Any]:
    return [x for f, x in zip(flags, xs) if f == want]


def _shard_map_jvp(primals: Sequence[Any], tangents: Sequence[Any], *, program: Program,
                   mesh: Mesh, in_specs: tuple[PartitionSpec, ...],
                   out_specs: tuple[PartitionSpec, ...],
                   check_rep: bool, manual: tuple[Any, ...], name: str
                   ) -> tuple[list[Any], list[Any]]:
    nonzero = [not isinstance(t, ad.Zero) for t in tangents]
    with _mesh_axes(mesh, manual):
        jvp_prog, out_nonzero = ad.jvp_program(program, nonzero)
    outs = shard_map_p.bind(
        *primals, *_pick(nonzero, tangents), program=jvp_prog, mesh=mesh,
        in_specs=(*in_specs, *_pick(nonzero, in_specs)),
        out_specs=(*out_specs, *_pick(out_nonzero, out_specs)), check_rep=check_rep, manual=manual,
        name=f"jvp({name})")
    n = len(program.outvars)
    primals_out, nz = outs[:n], iter(outs[n:])
    return primals_out, [next(nz) if z else ad.Zero.like(p)
                         for p, z in zip(primals_out, out_nonzero)]


ad.primitive_jvps[shard_map_p] = _shard_map_jvp


def _missing(mesh: Mesh, spec: PartitionSpec, ndim: int, manual: tuple[Any, ...]
             ) -> tuple[Any, ...]:
    """The manual axes a spec leaves out (the value is replicated along them)."""
    used = {n for d in range(ndim) for n in spec._axes(d)}
    return tuple(n for n in mesh.axis_names if n not in used and n in manual)


def _shard_map_transpose(cts: Sequence[Any], *args: Any, program: Program, mesh: Mesh,
                         in_specs: tuple[PartitionSpec, ...],
                         out_specs: tuple[PartitionSpec, ...],
                         check_rep: bool, manual: tuple[Any, ...],
                         name: str) -> list[Any]:
    from lamina.lax import elementwise as ew
    from lamina.lax.collectives import axis_index
    linear = [ad.is_undefined_primal(a) for a in args]
    transposed = ad.transpose_program(program, linear)
    n_nonlin = len(linear) - sum(linear)
    out_missing = [_missing(mesh, s, v.aval.ndim, manual)
                   for s, v in zip(out_specs, program.outvars)]
    in_missing = [_missing(mesh, s, v.aval.ndim, manual)
                  for s, v, lin in zip(in_specs, program.invars, linear) if lin]

    def fun(*xs: Any) -> list[Any]:
        nonlin, cts_in = list(xs[:n_nonlin]), list(xs[n_nonlin:])
        # An output replicated along some axes is the first device's value there, so only
        # that device's copy receives the cotangent.
        for i, axes in enumerate(out_missing):
            for a in axes:
                first = ew.convert_element_type(ew.eq(axis_index(a), np.int32(0)),
                                                shaped_abstractify(cts_in[i]).dtype)
                cts_in[i] = ew.mul(cts_in[i], first)
        outs = eval_program(transposed, [], [*nonlin, *cts_in])
        # An input replicated along some axes gets the sum of its copies' cotangents.
        return [psum_p.bind(o, axes=m, axis_index_groups=None) if m else o
                for o, m in zip(outs, in_missing)]

    with _mesh_axes(mesh, manual):
        prog, consts = close_over_consts(
            trace_to_program(fun, [v.aval for v in transposed.invars]))
    assert not consts
    operands = [*_pick(linear, args, False), *[ad.instantiate_zeros(ct) for ct in cts]]
    outs = iter(shard_map_p.bind(
        *operands, program=prog, mesh=mesh,
        in_specs=(*_pick(linear, in_specs, False), *out_specs),
        out_specs=tuple(_pick(linear, in_specs)), check_rep=check_rep, manual=manual,
        name=f"transpose({name})"))
    return [next(outs) if lin else None for lin in linear]


ad.primitive_transposes[shard_map_p] = _shard_map_transpose


def _shard_map_batch(args: Sequence[Any], dims: Sequence[Any], *, program: Program,
                     mesh: Mesh, in_specs: tuple[PartitionSpec, ...],
                     out_specs: tuple[PartitionSpec, ...],
                     check_rep: bool, manual: tuple[Any, ...], name: str
                     ) -> tuple[list[Any], list[Any]]:
    size = batching.dim_size(args, dims)
    batched = [d is not batching.not_mapped for d in dims]
    args = [batching.moveaxis(x, d, 0) if b else x for x, d, b in zip(args, dims, batched)]
    with _mesh_axes(mesh, manual):
        batched_prog, out_batched = batching.batch_program(program, batched, size)
    outs = shard_map_p.bind(
        *args, program=batched_prog, mesh=mesh,
        in_specs=tuple(PartitionSpec(None, *s) if b else s for s, b in zip(in_specs, batched)),
        out_specs=tuple(PartitionSpec(None, *s) if b else s
                        for s, b in zip(out_specs, out_batched)),
        check_rep=check_rep, manual=manual, name=f"vmap({name})")
    return outs, [0 if b else batching.not_mapped for b in out_batched]


batching.primitive_batchers[shard_map_p] = _shard_map_batch


# --------------------------------------------------------------------------------------
# Replication check (check_rep / check_vma)
# --------------------------------------------------------------------------------------


def _axes_in(program: Program) -> frozenset[Any]:
    """Every mesh axis a collective or axis_index inside `program` names (a sub-program
    whose outputs the check does not follow may vary along any of them)."""
    found: set[Any] = set()
    for eqn in program.eqns:
        names = eqn.params.get("axes", eqn.params.get("axis_name"))
        if eqn.primitive in batching.collective_batchers and names is not None:
            found.update(names if isinstance(names, tuple) else (names,))
        for v in eqn.params.values():
            for sub in ([v] if isinstance(v, Program) else
                        [x for x in v if isinstance(x, Program)] if isinstance(v, tuple) else []):
                found |= _axes_in(sub)
    return frozenset(found)


def _varying(program: Program, in_vary: Sequence[frozenset[Any]]) -> list[frozenset[Any]]:
    """The mesh axes along which each output of `program` may differ between devices
    (jax's "varying manual axes"), from those of its inputs."""
    from lamina.ir import Literal
    from lamina.lax import collectives as c
    env: dict[int, frozenset[Any]] = {}
    for v, axes in zip([*program.constvars, *program.invars], [*[frozenset()] *
                                                                len(program.constvars),
                                                                *in_vary]):
        env[v.id] = axes

    def read(atom: Any) -> frozenset[Any]:
        return frozenset() if isinstance(atom, Literal) else env.get(atom.id, frozenset())

    for eqn in program.eqns:
        ins = [read(a) for a in eqn.invars]
        union = frozenset().union(*ins)
        prim, params = eqn.primitive, eqn.params
        if prim in (c.psum_p, c.pmax_p, c.pmin_p):
            # an all-reduce over whole axes is the same along them (not within groups)
            outs = [union - set(params["axes"]) if params["axis_index_groups"] is None
                    else union]
        elif prim is c.axis_index_p:
            outs = [frozenset({params["axis_name"]})]
        elif prim in batching.collective_batchers:  # gathers, scatters, permutes
            names = params.get("axes", params.get("axis_name"))
            outs = [union | set(names if isinstance(names, tuple) else (names,))]
            outs *= len(eqn.outvars)
        else:
            sub = params.get("program")
            if (isinstance(sub, Program) and len(sub.invars) == len(ins)
                    and len(sub.outvars) == len(eqn.outvars)):  # jit, checkpoint...
                outs = _varying(sub, ins)
            else:
                subs = [v for v in params.values() if isinstance(v, Program)]
                subs += [x for v in params.values() if isinstance(v, tuple)
                         for x in v if isinstance(x, Program)]
                extra = frozenset().union(*[_axes_in(p) for p in subs])
                outs = [union | extra] * len(eqn.outvars)
        for v, axes in zip(eqn.outvars, outs):
            env[v.id] = axes
    return [read(a) for a in program.outvars]


def _check_replication(api: str, name: str, mesh: Mesh, program: Program,
                       in_specs: Sequence[PartitionSpec], out_specs: Sequence[PartitionSpec],
                       manual: tuple[Any, ...]) -> None:
    """jax's check_rep / check_vma: an output whose out_spec leaves out a mesh axis must
    be provably the same on every device along it (e.g. after a psum over it)."""
    in_vary = [frozenset(n for d in range(v.aval.ndim) for n in s._axes(d))
               for s, v in zip(in_specs, program.invars)]
    for i, (axes, s, v) in enumerate(zip(_varying(program, in_vary), out_specs,
                                         program.outvars)):
        claimed = set(_missing(mesh, s, v.aval.ndim, manual))
        bad = [n for n in mesh.axis_names if n in claimed and n in axes]
        if bad:
            raise ValueError(
                f"{api}: out_specs entry {i} is {s!r}, which says that output {i} "
                f"({v.aval.str_short()}) is replicated (the same on every device) along "
                f"mesh axis{'es' if len(bad) > 1 else ''} "
                f"{', '.join(repr(n) for n in bad)}, but it may vary along "
                f"{sorted(axes, key=mesh.axis_names.index)} (mesh {mesh!r}). Name those axes "
                "in its out_spec, reduce over them first (lax.psum / pmean / pmax), or, if "
                "it is replicated, pass check_rep=False (check_vma=False) to shard_map")


# --------------------------------------------------------------------------------------
# The public wrapper
# --------------------------------------------------------------------------------------


def _as_spec(api: str, mesh: Mesh, s: Any, what: str) -> PartitionSpec:
    if s is None:
        s = PartitionSpec()
    if not isinstance(s, PartitionSpec):
        raise TypeError(f"{api}: {what} entries must be PartitionSpecs (P(...)), got "
                        f"{type(s).__name__}: {s!r}")
    _check_spec(api, mesh, s)
    return s


def _only_manual(api: str, specs: Sequence[PartitionSpec], manual: tuple[Any, ...],
                 what: str) -> None:
    for s in specs:
        for entry in s:
            for n in (entry if isinstance(entry, tuple) else (entry,)):
                if n is not None and n not in manual:
                    raise ValueError(f"{api}: {what} entry {s!r} names mesh axis {n!r}, which "
                                     f"is not a manual axis of this shard_map (manual: "
                                     f"{manual}); specs may only name the manual axes")


def _flat_specs(api: str, mesh: Mesh, specs: Any, tree: Any, what: str) -> list[PartitionSpec]:
    from lamina._spmd import flatten_prefix
    return [_as_spec(api, mesh, s, what) for s in flatten_prefix(api, what, specs, tree)]


def shard_map(f: Callable[..., Any] | None = None, mesh: Mesh | None = None,
              in_specs: Any = None, out_specs: Any = None, check_rep: bool = True, *,
              check_vma: bool | None = None, axis_names: Any = frozenset(),
              auto: Any = frozenset()) -> Any:
    """Map `f` over the shards of its arguments on the devices of `mesh`.

    Args:
        f: a function of per-shard values; collectives inside name mesh axes.
        mesh: the `lamina.sharding.Mesh` (default: the one of `with mesh:`).
        in_specs: a PartitionSpec per argument (a pytree prefix of the argument tuple):
            which dimensions are split over which mesh axes.
        out_specs: likewise for the results; an output whose spec omits a mesh axis must
            be the same on every device along it (e.g. after a `psum`).
        check_rep / check_vma: check at trace time, as jax, that an output whose spec
            leaves out a mesh axis cannot vary along it (ValueError otherwise: psum /
            pmean / pmax / pmin over the axis make a value replicated, axis_index and
            gathers, scatters and permutes keep it varying); False skips the check (if
            the output does vary, which device's value comes back is unspecified).
        axis_names: the manual mesh axes (default: all of them); `f` sees values split
            only along those and may name only those in collectives and specs, while the
            other axes stay with the SPMD partitioner (partial-manual mode, as jax).
        auto: the complement of `axis_names` (jax.experimental.shard_map's spelling).

    >>> import lamina, lamina.numpy as lnp
    >>> from lamina.sharding import PartitionSpec as P
    >>> mesh = lamina.make_mesh((1,), ('x',))
    >>> f = lamina.shard_map(lambda a: lamina.lax.psum(a, 'x'), mesh=mesh,
    ...                      in_specs=P('x'), out_specs=P())
    >>> f(lnp.arange(4.0))
    Array([0., 1., 2., 3.], dtype=float32)
    """
    if f is None:
        return functools.partial(shard_map, mesh=mesh, in_specs=in_specs, out_specs=out_specs,
                                 check_rep=check_rep, check_vma=check_vma,
                                 axis_names=axis_names, auto=auto)
    if not callable(f):
        raise TypeError(f"shard_map: expected a function, got {type(f).__name__}: {f!r}")
    name = getattr(f, "__name__", type(f).__name__)
    api = f"shard_map({name})"
    if mesh is None:
        from lamina.sharding import get_mesh
        mesh = get_mesh()
        if mesh is None:
            raise ValueError(f"{api}: no mesh given; pass mesh=... or call inside `with mesh:`")
    if not isinstance(mesh, Mesh):
        raise TypeError(f"{api}: mesh must be a lamina.sharding.Mesh, got "
                        f"{type(mesh).__name__}: {mesh!r}")
    if out_specs is None:
        raise TypeError(f"{api}: out_specs is required")
    unknown = [n for n in [*axis_names, *auto] if n not in mesh.axis_names]
    if unknown:
        raise ValueError(f"{api}: {unknown[0]!r} in axis_names/auto is not an axis of the mesh "
                         f"{mesh!r}")
    if auto and axis_names:
        raise ValueError(f"{api}: pass axis_names (the manual axes) or auto (the others), "
                         f"not both; got axis_names={set(axis_names)!r}, auto={set(auto)!r}")
    # The manual axes (jax's axis_names): f sees those split and may name them in
    # collectives; the others stay with the partitioner (partial-manual mode).
    manual = tuple(n for n in mesh.axis_names
                   if (n in axis_names if axis_names else n not in auto))
    check_axis_names(mesh, api)

    @functools.wraps(f)
    def wrapped(*args: Any) -> Any:
        leaves, in_tree = tree_util.tree_flatten(args)
        specs_prefix = in_specs
        if isinstance(specs_prefix, PartitionSpec) or specs_prefix is None:
            specs_prefix = (specs_prefix,) * len(args)
        flat_in = _flat_specs(api, mesh, tuple(specs_prefix), tuple(args), "in_specs")
        _only_manual(api, flat_in, manual, "in_specs")
        local = [_local(api, mesh, s, shaped_abstractify(x), f"argument leaf {i}")
                 for i, (x, s) in enumerate(zip(leaves, flat_in))]
        out_tree_box: list[Any] = []

        def body(*xs: Any) -> list[Any]:
            out = f(*tree_util.tree_unflatten(in_tree, xs))
            out_leaves, out_tree = tree_util.tree_flatten(out)
            out_tree_box.append((out, out_tree))
            return out_leaves

        with _mesh_axes(mesh, manual):
            program, consts = close_over_consts(trace_to_program(body, local))
        out, out_tree = out_tree_box[0]
        flat_out = _flat_specs(api, mesh, out_specs, out, "out_specs")
        _only_manual(api, flat_out, manual, "out_specs")
        for v, s in zip(program.outvars, flat_out):
            if len(s) > v.aval.ndim:
                raise ValueError(f"{api}: an output has rank {v.aval.ndim}, but its out_spec "
                                 f"{s!r} names {len(s)} dimensions")
        rep = bool(check_rep if check_vma is None else check_vma)
        if rep:
            _check_replication(api, name, mesh, program,
                               [*[PartitionSpec()] * len(consts), *flat_in], flat_out, manual)
        outs = shard_map_p.bind(
            *consts, *leaves, program=program, mesh=mesh,
            in_specs=(*[PartitionSpec()] * len(consts), *flat_in), out_specs=tuple(flat_out),
            check_rep=rep, manual=manual, name=name)
        return tree_util.tree_unflatten(out_tree, outs)

    return wrapped
