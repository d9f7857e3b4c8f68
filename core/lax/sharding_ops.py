"""`with_sharding_constraint` (the `sharding_constraint` primitive) and what lowering a
program for XLA's SPMD partitioner (Shardy) needs: the `sdy` text of a sharding and the
meshes in scope.

A program runs partitioned when its inputs, outputs or equations carry mesh shardings
(`lamina._spmd`); the lowering then declares each mesh (`sdy.mesh @mesh = <["x"=2]>`)
and the rules below refer to it by symbol. Lowered into a single-device program (no
mesh in scope) a sharding constraint is the identity.
"""
from __future__ import annotations

import contextlib
import contextvars
import functools
from typing import Any, Callable, Iterator

from lamina import tree_util
from lamina.interpreters import ad, batching, eval as eval_interp, lowering
from lamina.ir import AbstractArray, Primitive, Program, shaped_abstractify
from lamina.sharding import Mesh, NamedSharding, PartitionSpec, resolve_sharding

__all__ = ["with_sharding_constraint"]


# --------------------------------------------------------------------------------------
# The SPMD lowering context and sdy text
# --------------------------------------------------------------------------------------


class SpmdContext:
    """The meshes of the module being lowered (`mesh -> symbol`) and the module's
    `sdy.mesh` declarations (`prelude`, which rules may extend while the module is
    lowered); `manual` inside a shard_map body, where shardings no longer apply, and
    `partial_manual` when that body leaves some mesh axes to the partitioner."""

    __slots__ = ("symbols", "prelude", "manual", "partial_manual")

    def __init__(self, symbols: dict[Mesh, str], prelude: list[str], manual: bool = False,
                 partial_manual: bool = False) -> None:
        self.symbols, self.prelude = symbols, prelude
        self.manual, self.partial_manual = manual, partial_manual

    def maximal_mesh(self) -> str:
        """The symbol of a mesh holding only the program's first device: a value or op
        sharded over it lives (runs) there alone, as a host callback must."""
        declaration = "sdy.mesh @maximal_mesh_0 = <[], device_ids=[0]>"
        if declaration not in self.prelude:
            self.prelude.append(declaration)
        return "maximal_mesh_0"


_spmd: contextvars.ContextVar[SpmdContext | None] = contextvars.ContextVar(
    "lamina_spmd_lowering", default=None)


def spmd_context() -> SpmdContext | None:
    return _spmd.get()


@contextlib.contextmanager
def lowering_meshes(meshes: list[Mesh]) -> Iterator[SpmdContext]:
    """Lower a module partitioned over `meshes`; its prelude starts with their
    declarations."""
    symbols = {m: ("mesh" if i == 0 else f"mesh_{i}") for i, m in enumerate(meshes)}
    ctx = SpmdContext(symbols, [mesh_declaration(m, s) for m, s in symbols.items()])
    token = _spmd.set(ctx)
    try:
        yield ctx
    finally:
        _spmd.reset(token)


@contextlib.contextmanager
def manual_region(partial: bool = False) -> Iterator[None]:
    outer = _spmd.get()
    assert outer is not None, "a manual region is lowered inside a partitioned module"
    token = _spmd.set(SpmdContext(outer.symbols, outer.prelude, True, partial))
    try:
        yield
    finally:
        _spmd.reset(token)


def mesh_declaration(mesh: Mesh, symbol: str) -> str:
    axes = ", ".join(f'"{n}"={s}' for n, s in mesh.shape.items())
    return f"sdy.mesh @{symbol} = <[{axes}]>"


def sdy_dims(spec: PartitionSpec, ndim: int) -> str:
    dims = []
    for d in range(ndim):
        dims.append("{" + ", ".join(f'"{n}"' for n in spec._axes(d)) + "}")
    return "[" + ", ".join(dims) + "]"


def sdy_tensor_sharding(sharding: NamedSharding, ndim: int, what: str) -> str:
    """`<@mesh, [{"x"}, {}]>` for `sharding` (its mesh must be declared in scope)."""
    ctx = _spmd.get()
    symbol = ctx.symbols.get(sharding.mesh) if ctx is not None else None
    if symbol is None:
        raise NotImplementedError(f"{what}: lamina cannot lower a sharding over {sharding.mesh!r} "
                                  "here (no partitioned program over that mesh is being built)")
    return f"<@{symbol}, {sdy_dims(sharding.spec, ndim)}>"


def check_axis_names(mesh: Mesh, api: str) -> None:
    for name in mesh.axis_names:
        if not isinstance(name, str) or '"' in name:
            raise TypeError(f"{api}: mesh axis names must be strings without quotes to be "
                            f"compiled, got {name!r}")


# mesh-bearing primitives -> params -> the meshes they use
mesh_users: dict[Primitive, Callable[[dict[str, Any]], list[Mesh]]] = {}


@functools.lru_cache(maxsize=4096)
def program_meshes(program: Program) -> tuple[Mesh, ...]:
    """The meshes the equations of `program` (and its sub-programs) constrain to."""
    found: dict[Mesh, None] = {}
    stack = [program]
    while stack:
        p = stack.pop()
        for eqn in p.eqns:
            users = mesh_users.get(eqn.primitive)
            if users is not None:
                found.update(dict.fromkeys(users(eqn.params)))
            for v in eqn.params.values():
                if isinstance(v, Program):
                    stack.append(v)
                elif isinstance(v, tuple):
                    stack.extend(x for x in v if isinstance(x, Program))
    return tuple(found)


# --------------------------------------------------------------------------------------
# sharding_constraint
# --------------------------------------------------------------------------------------

sharding_constraint_p = Primitive("sharding_constraint")


@sharding_constraint_p.def_abstract_eval
def _sharding_constraint_abstract_eval(x: AbstractArray, *, sharding: NamedSharding
                                       ) -> AbstractArray:
    return x


def _sharding_constraint_lower(ctx: lowering.RuleContext, x: str, *,
                               sharding: NamedSharding) -> str:
    spmd = _spmd.get()
    if spmd is None or spmd.manual:
        return x  # a single-device program (or a shard_map body): nothing to constrain
    aval = ctx.avals_in[0]
    text = sdy_tensor_sharding(sharding, aval.ndim, "with_sharding_constraint")
    return ctx.op("sdy.sharding_constraint", [x], ctx.aval_out,
                  {"sharding": f"#sdy.sharding{text}"})


lowering.register_lowering(sharding_constraint_p, _sharding_constraint_lower)
ad.deflinear(sharding_constraint_p, lambda ct, x, *, sharding: [
    sharding_constraint_p.bind(ad.instantiate_zeros(ct), sharding=sharding)])


def _sharding_constraint_batch(args: Any, dims: Any, *, sharding: NamedSharding) -> Any:
    (x,), (d,) = args, dims
    ndim = shaped_abstractify(x).ndim
    entries = [sharding.spec[i] if i < len(sharding.spec) else None for i in range(ndim - 1)]
    entries.insert(d, None)  # the batch dimension is not split
    spec = PartitionSpec(*entries)
    return sharding_constraint_p.bind(x, sharding=NamedSharding(sharding.mesh, spec)), d


batching.primitive_batchers[sharding_constraint_p] = _sharding_constraint_batch
mesh_users[sharding_constraint_p] = lambda params: [params["sharding"].mesh]


def _sharding_constraint_impl(x: Any, *, sharding: NamedSharding) -> Any:
    from lamina._spmd import put
    return put(x, sharding)  # eagerly: lay the value out that way now (as jax)


eval_interp.impl_rules[sharding_constraint_p] = _sharding_constraint_impl
eval_interp.raw_impl_primitives.add(sharding_constraint_p)


def with_sharding_constraint(x: Any, shardings: Any) -> Any:
    """Ask the SPMD partitioner to lay out `x` (a pytree) as `shardings` at this point.

    `shardings` is a sharding (or a bare `PartitionSpec` inside `with mesh:`) or a pytree
    of them matching `x`. Inside `jit` it becomes an `sdy.sharding_constraint`; eagerly it
    moves the data (like `device_put`). The identity for values, gradients and `vmap`.

    >>> import lamina, lamina.numpy as lnp
    >>> from lamina.sharding import NamedSharding, PartitionSpec as P
    >>> mesh = lamina.make_mesh((1,), ('x',))
    >>> y = lamina.jit(lambda a: lamina.lax.with_sharding_constraint(
    ...     a * 2, NamedSharding(mesh, P('x'))))(lnp.arange(4.0))
    >>> y.sharding.spec
    PartitionSpec('x')
    """
    from lamina._spmd import flatten_prefix
    leaves, treedef = tree_util.tree_flatten(x)
    flat = flatten_prefix("with_sharding_constraint", "shardings", shardings, x)
    outs = []
    for leaf, s in zip(leaves, flat):
        s = resolve_sharding("with_sharding_constraint", s)
        if not isinstance(s, NamedSharding):
            outs.append(leaf)
            continue
        check_axis_names(s.mesh, "with_sharding_constraint")
        aval = shaped_abstractify(leaf)
        s.shard_shape(aval.shape)  # rank and divisibility errors now, naming the sharding
        outs.append(sharding_constraint_p.bind(leaf, sharding=s))
    return tree_util.tree_unflatten(treedef, outs)
