"""`composite`: mark a function as one named operation with a reference
implementation (its decomposition), as jax's `lax.composite`.

The function is traced to a sub-program held by a `composite` equation with the
name, version and attributes. lamina lowers the equation by inlining the
decomposition (what XLA does with a `stablehlo.composite` it has no kernel for);
differentiation and `vmap` transform the decomposition, as in jax.
"""
from __future__ import annotations

import functools
from typing import Any, Callable, Sequence

from lamina import tree_util
from lamina.interpreters import ad, batching, lowering, partial_eval as pe
from lamina.interpreters.lowering import RuleContext, Value
from lamina.ir import AbstractArray, Primitive, Program, shaped_abstractify

__all__ = ["composite"]

composite_p = Primitive("composite", multiple_results=True)


def composite(decomposition: Callable[..., Any], name: str, version: int = 0
              ) -> Callable[..., Any]:
    """Wrap `decomposition` so that each call is one `composite` operation named `name`.

    The wrapped function takes arrays (pytrees) positionally and the composite's
    attributes as keyword arguments (hashable, static), which are passed on to
    `decomposition`. Unlike jax (which has no JVP rule for composites), `grad` and
    `jvp` differentiate the decomposition.

    >>> import lamina, lamina.numpy as lnp
    >>> from lamina import lax
    >>> def my_tangent(x):
    ...     return lnp.sin(x) / lnp.cos(x)
    >>> tan = lax.composite(my_tangent, name="my.tangent")
    >>> lamina.jit(tan)(lnp.array([0.0, 1.0]))
    Array([0.       , 1.5574077], dtype=float32)
    """
    if not callable(decomposition):
        raise TypeError(f"composite: decomposition must be callable, got {decomposition!r}")
    if not isinstance(name, str) or not name:
        raise TypeError(f"composite: name must be a non-empty string, got {name!r}")

    @functools.wraps(decomposition)
    def call(*args: Any, **attributes: Any) -> Any:
        leaves, in_tree = tree_util.tree_flatten(args)
        avals = [shaped_abstractify(x) for x in leaves]
        out_tree: list[Any] = []

        def flat_fun(*flat: Any) -> list[Any]:
            outs = decomposition(*tree_util.tree_unflatten(in_tree, list(flat)), **attributes)
            out_leaves, tree = tree_util.tree_flatten(outs)
            out_tree.append(tree)
            return out_leaves

        try:
            attrs = tuple(sorted(attributes.items()))
            hash(attrs)
        except TypeError:
            raise TypeError(f"composite {name!r}: attributes must be hashable, got "
                            f"{attributes!r}") from None
        program, consts = pe.close_over_consts(pe.trace_to_program(flat_fun, avals))
        outs = composite_p.bind(*consts, *leaves, program=program, name=name,
                                version=int(version), attributes=attrs)
        return tree_util.tree_unflatten(out_tree[0], outs)

    return call


def _composite_abstract_eval(*avals: AbstractArray, program: Program, name: str, version: int,
                             attributes: tuple[Any, ...]) -> list[AbstractArray]:
    del avals, name, version, attributes
    return [v.aval for v in program.outvars]


composite_p.def_abstract_eval(_composite_abstract_eval)


def _composite_lower(ctx: RuleContext, *args: Value, program: Program, name: str,
                     version: int, attributes: tuple[Any, ...]) -> list[Value]:
    del name, version, attributes
    return ctx.lower_program(program, args)


lowering.register_lowering(composite_p, _composite_lower)


def _composite_jvp(primals: Sequence[Any], tangents: Sequence[Any], *, program: Program,
                   name: str, version: int, attributes: tuple[Any, ...]
                   ) -> tuple[list[Any], list[Any]]:
    from lamina.lax.calls import jit_p
    del version, attributes
    nonzero = [not isinstance(t, ad.Zero) for t in tangents]
    jvp_prog, out_nonzero = ad.jvp_program(program, nonzero)
    operands = [*primals, *[t for t in tangents if not isinstance(t, ad.Zero)]]
    outs = jit_p.bind(*operands, program=jvp_prog, name=f"jvp({name})",
                      donated=(False,) * len(operands))
    n = len(program.outvars)
    nz = iter(outs[n:])
    return outs[:n], [next(nz) if z else ad.Zero.like(p)
                      for p, z in zip(outs[:n], out_nonzero)]


ad.primitive_jvps[composite_p] = _composite_jvp


def _composite_batch(args: Sequence[Any], dims: Sequence[Any], *, program: Program, name: str,
                     version: int, attributes: tuple[Any, ...]) -> tuple[list[Any], list[Any]]:
    size = batching.dim_size(args, dims)
    mapped = [d is not batching.not_mapped for d in dims]
    args = [batching.moveaxis(x, d, 0) if m else x for x, d, m in zip(args, dims, mapped)]
    batched, out_mapped = batching.batch_program(program, mapped, size)
    outs = composite_p.bind(*args, program=batched, name=name, version=version,
                            attributes=attributes)
    return outs, [0 if m else batching.not_mapped for m in out_mapped]


batching.primitive_batchers[composite_p] = _composite_batch
