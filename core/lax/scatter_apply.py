"""`scatter_apply`: apply a scalar function to the entries of an array at scattered
indices (jax.lax's `scatter_apply`): a StableHLO scatter whose update region is the
function, traced once to a sub-program on a scalar.

The updates operand is a zero placeholder of `update_shape` that only fixes which
windows are touched. An index given twice applies the function twice, in an
unspecified order. As in jax there is no differentiation rule (the update function
is arbitrary); `vmap` batches the scatter.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

from lamina.interpreters import batching, lowering, partial_eval as pe
from lamina.interpreters.lowering import RuleContext, Value
from lamina.ir import AbstractArray, Primitive, Program
from lamina.lax._util import ArrayLike, aval_of, canonicalize_shape, check_arraylike
from lamina.lax.indexing import GatherScatterMode, ScatterDimensionNumbers, _canonical_dnums
from lamina.lax.indexing_rules import _scatter_batch_rule
from lamina.lax.scatters import _any_dtype, _scatter_abstract_eval, _scatter_lowering

__all__ = ["scatter_apply"]

scatter_apply_p = Primitive("scatter_apply")


def scatter_apply(operand: ArrayLike, scatter_indices: ArrayLike,
                  func: Callable[[Any], Any], dimension_numbers: ScatterDimensionNumbers, *,
                  update_shape: Sequence[int] = (), indices_are_sorted: bool = False,
                  unique_indices: bool = False,
                  mode: str | GatherScatterMode | None = None) -> Any:
    """`operand` with `func` applied to each entry of the windows that
    `scatter_indices` select (as `scatter` with `updates` of shape `update_shape`).

    Args:
        operand: the array to update.
        scatter_indices, dimension_numbers, indices_are_sorted, unique_indices, mode:
            as `scatter`.
        func: a function of one scalar of `operand`'s dtype returning one of the same.
        update_shape: the shape the updates of this scatter would have.

    >>> import lamina.numpy as lnp
    >>> from lamina import lax
    >>> dn = lax.ScatterDimensionNumbers(update_window_dims=(), inserted_window_dims=(0,),
    ...                                  scatter_dims_to_operand_dims=(0,))
    >>> lax.scatter_apply(lnp.arange(5.0), lnp.array([[1], [3], [3]]), lambda v: v * 10, dn,
    ...                   update_shape=(3,))
    Array([  0.,  10.,   2., 300.,   4.], dtype=float32)
    """
    import lamina.lax as lax
    check_arraylike("lax.scatter_apply", operand, scatter_indices)
    if not callable(func):
        raise TypeError(f"scatter_apply: func must be callable, got {func!r}")
    dnums = _canonical_dnums(dimension_numbers, ScatterDimensionNumbers, "scatter_apply")
    a = aval_of(operand)
    scalar = AbstractArray((), a.dtype)
    program, consts = pe.close_over_consts(pe.trace_to_program(lambda x: [func(x)], [scalar]))
    if consts:
        raise TypeError("scatter_apply: func may not close over arrays (it runs on one "
                        "scalar at a time); pass Python or numpy scalars instead")
    out = program.outvars[0].aval
    if (out.shape, out.dtype) != ((), a.dtype):
        raise TypeError(f"scatter_apply: func must map a {scalar.str_short()} scalar to one "
                        f"of the same type, got {out.str_short()}")
    updates = lax.full(canonicalize_shape(update_shape, "scatter_apply"), 0, a.dtype)
    return scatter_apply_p.bind(operand, scatter_indices, updates, update_program=program,
                                dimension_numbers=dnums,
                                indices_are_sorted=bool(indices_are_sorted),
                                unique_indices=bool(unique_indices),
                                mode=GatherScatterMode.from_any(mode))


_check = _scatter_abstract_eval("scatter_apply", _any_dtype)


def _scatter_apply_abstract_eval(operand: AbstractArray, indices: AbstractArray,
                                 updates: AbstractArray, *, update_program: Program,
                                 **params: Any) -> AbstractArray:
    del update_program
    return _check(operand, indices, updates, **params)


scatter_apply_p.def_abstract_eval(_scatter_apply_abstract_eval)


def _scatter_apply_lower(ctx: RuleContext, operand: Value, indices: Value, updates: Value, *,
                         update_program: Program, **params: Any) -> Value:
    def combine(ctx: RuleContext, old: Value, new: Value, aval: AbstractArray) -> Value:
        del new, aval
        return ctx.lower_program(update_program, [old])[0]

    return _scatter_lowering(combine)(ctx, operand, indices, updates, **params)


lowering.register_lowering(scatter_apply_p, _scatter_apply_lower)


class _Bound:
    """`scatter_apply_p` with its update function fixed, for the shared scatter batching
    rule (which binds with the scatter family's params only)."""

    name = "scatter_apply"

    def __init__(self, program: Program) -> None:
        self.program = program

    def bind(self, *args: Any, **params: Any) -> Any:
        return scatter_apply_p.bind(*args, update_program=self.program, **params)


def _scatter_apply_batch(args: Any, dims: Any, *, update_program: Program,
                         **params: Any) -> tuple[Any, int]:
    rule = _scatter_batch_rule(_Bound(update_program))  # type: ignore[arg-type]
    return rule(args, dims, **params)


batching.primitive_batchers[scatter_apply_p] = _scatter_apply_batch
