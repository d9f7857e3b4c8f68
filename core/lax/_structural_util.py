"""Private helpers of the structural primitive modules (`structural`, `slicing`,
`joining`): argument checks whose errors name the function, the abstract-eval and
lowering rule shapes shared by layout ops, and the Python-scalar matching of pad's and
dynamic_update_slice's scalar operands.

Kept in their own module so that the three family modules share them without importing
each other's internals.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from lamina import dtypes
from lamina.errors import ConcretizationError
from lamina.interpreters import lowering
from lamina.ir import AbstractArray
from lamina.lax._util import (
    ArrayLike, Shape, aval_of, convert_python_scalars, is_array, operator_index,
)


# --------------------------------------------------------------------------------------
# Local helpers
# --------------------------------------------------------------------------------------


def _aval(fun_name: str, arg_name: str, x: Any) -> AbstractArray:
    """The aval of an array argument, or a TypeError naming the function and argument."""
    if is_array(x) or isinstance(x, (np.ndarray, np.generic)) or dtypes.is_python_scalar(x):
        return aval_of(x)
    raise TypeError(f"{fun_name}: {arg_name} must be an array or a scalar, got "
                    f"{type(x).__name__}: {x!r}")


def _ints(fun_name: str, arg_name: str, values: Any) -> tuple[int, ...]:
    """A tuple of Python ints from an int or a sequence of integers (signs kept)."""
    if isinstance(values, (int, np.integer)) and not isinstance(values, bool):
        values = (values,)
    try:
        return tuple(int(operator_index(v)) for v in values)
    except ConcretizationError:
        raise
    except TypeError:
        raise TypeError(f"{fun_name}: {arg_name} must be a sequence of integers, got "
                        f"{values!r}") from None


def _axes(fun_name: str, arg_name: str, axes: Any, ndim: int) -> tuple[int, ...]:
    """Axes with in-range negative values made non-negative. Out-of-range axes are kept
    as given so that the abstract-eval rule reports them together with the shape."""
    return tuple(a + ndim if -ndim <= a < 0 else a for a in _ints(fun_name, arg_name, axes))


def _axis(fun_name: str, axis: Any, ndim: int) -> int:
    return _axes(fun_name, "axis", (axis,), ndim)[0]


def _short(avals: Sequence[AbstractArray]) -> str:
    return ", ".join(a.str_short() for a in avals)


def _layout_rule(shape_rule: Callable[..., Shape]) -> Callable[..., AbstractArray]:
    """Abstract eval of a one-operand layout op: dtype and weak type are kept, the shape
    comes from `shape_rule(aval, **params)` (which validates)."""

    def rule(operand: AbstractArray, **params: Any) -> AbstractArray:
        return operand.update(shape=shape_rule(operand, **params))

    return rule


def _lower_to(op_name: str,
              attrs: Callable[..., dict[str, str]] | None = None) -> lowering.LoweringRule:
    """The lowering to a single StableHLO op whose attributes are `attrs(**params)`."""

    def rule(ctx: lowering.RuleContext, *args: lowering.Value, **params: Any) -> Any:
        return ctx.op(op_name, list(args), ctx.aval_out, attrs(**params) if attrs else None)

    rule.__name__ = f"{op_name.split('.')[-1]}_lower"
    return rule


def _lax_fn(name: str) -> Callable[..., Any]:
    """A wrapper of the elementwise family (convert_element_type, lt, add, select).

    NOTE: imported at call time, the interpreters' cycle-breaker: the elementwise
    module may come to use structural ops at import time.
    """
    from lamina.lax import elementwise

    return getattr(elementwise, name)


def _match_scalar(fun_name: str, array: ArrayLike, scalar: ArrayLike) -> ArrayLike:
    """A Python scalar argument that must share `array`'s dtype (pad's padding value,
    dynamic_update_slice's update). If the scalar's own weak dtype already matches it
    stays a weak Python scalar (jax's weak-type result); otherwise it is converted
    when it fits (lax's rule for Python scalars, `convert_python_scalars`)."""
    if not dtypes.is_python_scalar(scalar) or dtypes.is_python_scalar(array):
        return scalar
    if dtypes.dtype_of(scalar) == _aval(fun_name, "operand", array).dtype:
        return scalar
    return convert_python_scalars(fun_name.removeprefix("lax."), array, scalar)[1]
