"""Keeping XLA and lamina from optimising values away: `optimization_barrier` (an
identity that XLA may not optimise across, StableHLO `optimization_barrier`: e.g. to
stop rematerialised values from being CSE'd with the originals) and `dce_sink` (a use
of a value that lamina's dead-code elimination keeps).
"""
from __future__ import annotations

from typing import Any, Sequence

from lamina import tree_util
from lamina.interpreters import ad, batching, eval as eval_interp, lowering
from lamina.interpreters import partial_eval as pe
from lamina.interpreters.lowering import RuleContext, Value
from lamina.ir import AbstractArray, Primitive

__all__ = ["dce_sink", "optimization_barrier"]

optimization_barrier_p = Primitive("optimization_barrier", multiple_results=True)


def optimization_barrier(operand: Any, /) -> Any:
    """Return `operand` (a pytree of arrays) unchanged, behind a barrier that keeps XLA
    from moving computations across it: every value of the tree is computed before any
    output is used.

    Differentiation and `vmap` keep the barrier: tangents, cotangents and batched
    values pass through their own barrier (as in jax).

    >>> import lamina, lamina.numpy as lnp
    >>> from lamina import lax
    >>> lamina.jit(lambda x: lax.optimization_barrier((x, x + 1)))(lnp.arange(2.0))
    (Array([0., 1.], dtype=float32), Array([1., 2.], dtype=float32))
    """
    leaves, tree = tree_util.tree_flatten(operand)
    if not leaves:
        return operand
    return tree_util.tree_unflatten(tree, optimization_barrier_p.bind(*leaves))


def _optimization_barrier_abstract_eval(*avals: AbstractArray) -> list[AbstractArray]:
    return list(avals)


optimization_barrier_p.def_abstract_eval(_optimization_barrier_abstract_eval)


def _optimization_barrier_jvp(primals: Sequence[Any], tangents: Sequence[Any]
                              ) -> tuple[Any, Any]:
    tangents = [ad.instantiate_zeros(t) for t in tangents]
    return optimization_barrier_p.bind(*primals), optimization_barrier_p.bind(*tangents)


def _optimization_barrier_transpose(cts: Sequence[Any], *args: Any) -> list[Any]:
    del args
    return optimization_barrier_p.bind(*[ad.instantiate_zeros(ct) for ct in cts])


ad.primitive_jvps[optimization_barrier_p] = _optimization_barrier_jvp
ad.primitive_transposes[optimization_barrier_p] = _optimization_barrier_transpose


def _optimization_barrier_batch(args: Any, dims: Any) -> tuple[Any, Any]:
    return optimization_barrier_p.bind(*args), list(dims)


batching.primitive_batchers[optimization_barrier_p] = _optimization_barrier_batch


def _optimization_barrier_lower(ctx: RuleContext, *args: Value) -> list[Value]:
    return ctx.op("stablehlo.optimization_barrier", list(args), ctx.avals_out)


lowering.register_lowering(optimization_barrier_p, _optimization_barrier_lower)


# --------------------------------------------------------------------------------------
# dce_sink
# --------------------------------------------------------------------------------------

dce_sink_p = Primitive("dce_sink", multiple_results=True)


def dce_sink(val: Any, *, prevent_mlir_dce: bool = False) -> None:
    """Use every array of the pytree `val` without producing anything, so that
    lamina's dead-code elimination keeps the computations of `val` in a traced program
    (jax's `dce_sink`). XLA may still drop them once compiled.

    Args:
        val: a pytree of arrays.
        prevent_mlir_dce: jax's flag to keep the value through compilation too (a
            side-effecting custom call); not supported by lamina.

    >>> import lamina, lamina.numpy as lnp
    >>> from lamina import lax
    >>> def f(x):
    ...     lax.dce_sink(lnp.sin(x))
    ...     return x
    >>> 'sin' in str(lamina.make_jaxpr(f)(1.0))
    True
    """
    if prevent_mlir_dce:
        raise NotImplementedError("dce_sink: prevent_mlir_dce=True is not supported by lamina")
    for leaf in tree_util.tree_leaves(val):
        dce_sink_p.bind(leaf)


dce_sink_p.def_abstract_eval(lambda x: [])
pe.effectful_primitives.add(dce_sink_p)
lowering.register_lowering(dce_sink_p, lambda ctx, x: [])
eval_interp.impl_rules[dce_sink_p] = lambda x: []
eval_interp.raw_impl_primitives.add(dce_sink_p)


def _dce_sink_jvp(primals: Sequence[Any], tangents: Sequence[Any]) -> tuple[Any, Any]:
    dce_sink_p.bind(*primals)
    return [], []


ad.primitive_jvps[dce_sink_p] = _dce_sink_jvp
ad.primitive_transposes[dce_sink_p] = lambda cts, x: [None]


def _dce_sink_batch(args: Any, dims: Any) -> tuple[Any, Any]:
    dce_sink_p.bind(*args)
    return [], []


batching.primitive_batchers[dce_sink_p] = _dce_sink_batch
