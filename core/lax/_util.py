"""Helpers shared by the primitive families: operand checks, axis canonicalisation and
the standard abstract-evaluation rule shapes."""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from lamina import dtypes
from lamina.backend.array import Array, scalar_to_device
from lamina.errors import ConcretizationError
from lamina.ir import AbstractArray, Tracer, shaped_abstractify

ArrayLike = Any  # Array | Tracer | np.ndarray | np.generic | bool | int | float | complex
Shape = tuple[int, ...]
DTypeLike = Any


def is_array(x: Any) -> bool:
    """True for lamina values (concrete Arrays and tracers)."""
    return isinstance(x, (Array, Tracer))


def aval_of(x: Any) -> AbstractArray:
    return shaped_abstractify(x)


def check_arraylike(fun_name: str, *args: Any) -> None:
    for i, a in enumerate(args):
        if not (is_array(a) or isinstance(a, (np.ndarray, np.generic))
                or dtypes.is_python_scalar(a)):
            raise TypeError(f"{fun_name}: argument {i} must be an array or a scalar, "
                            f"got {type(a).__name__}: {a!r}")


def canonicalize_axis(axis: int, ndim: int, fun_name: str) -> int:
    """A non-negative axis, or a ValueError naming the function, axis and rank."""
    try:
        axis = int(axis)  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(f"{fun_name}: axis must be an integer, got {axis!r}") from None
    if not -ndim <= axis < ndim:
        raise ValueError(f"{fun_name}: axis {axis} is out of bounds for an array of rank {ndim}")
    return axis % ndim if ndim else axis


def canonicalize_axes(axes: Any, ndim: int, fun_name: str) -> tuple[int, ...]:
    """Sorted-as-given tuple of non-negative axes; rejects repeats."""
    if axes is None:
        return tuple(range(ndim))
    if isinstance(axes, (int, np.integer)):
        axes = (axes,)
    out = tuple(canonicalize_axis(a, ndim, fun_name) for a in axes)
    if len(set(out)) != len(out):
        raise ValueError(f"{fun_name}: repeated axis in {tuple(axes)}")
    return out


def canonicalize_shape(shape: Any, fun_name: str) -> Shape:
    """A tuple of non-negative Python ints; tracers and floats are rejected clearly."""
    if isinstance(shape, (int, np.integer)):
        shape = (shape,)
    try:
        out = tuple(int(operator_index(d)) for d in shape)
    except ConcretizationError:
        raise
    except TypeError as e:
        raise TypeError(f"{fun_name}: shape must be a sequence of integers, got {shape!r} ({e})") from None
    if any(d < 0 for d in out):
        raise ValueError(f"{fun_name}: shape {out} has a negative dimension")
    return out


def operator_index(x: Any) -> int:
    import operator
    if isinstance(x, Tracer):
        raise x._concrete_value_error("A shape or static integer argument")
    return operator.index(x)


def _scalar_fits(value: Any, dtype: np.dtype) -> bool:
    if isinstance(value, bool):
        return dtypes.is_bool(dtype)
    if isinstance(value, int):
        if not dtypes.is_integer(dtype):
            return False
        info = np.iinfo(dtype)
        return info.min <= value <= info.max
    if isinstance(value, float):
        return dtypes.is_floating(dtype)
    return dtypes.is_complex(dtype)


def convert_python_scalars(fun_name: str, *args: ArrayLike) -> list[Any]:
    """Give weakly-typed Python scalars the dtype of the array operands, as jax.lax does.

    A scalar converts only to a dtype of its own kind that can hold it (`2` to int32 or
    uint8, `2.0` to any float, never `2` to float32: lax does not promote). Scalars
    become cached weakly-typed 0-d Arrays; arrays and tracers pass through unchanged.
    """
    strong = [a for a in args if not dtypes.is_python_scalar(a)]
    if not strong:
        dtype, weak = dtypes.result_type(*args, return_weak_type_flag=True)
        return [scalar_to_device(a, dtype, weak) for a in args]
    dtype = aval_of(strong[0]).dtype
    out = []
    for a in args:
        if dtypes.is_python_scalar(a):
            if not _scalar_fits(a, dtype):
                raise TypeError(
                    f"lax.{fun_name} requires arguments to have the same dtypes, got "
                    f"{dtype.name} and the Python scalar {a!r} ({dtypes.dtype_of(a).name}). "
                    f"lamina.numpy.{fun_name} promotes dtypes automatically.")
            a = scalar_to_device(a, dtype, True)
        out.append(a)
    return out


def scalar_operand_avals(avals: Sequence[AbstractArray]) -> Shape:
    """The common shape of elementwise operands, where rank-0 operands broadcast."""
    shapes = {a.shape for a in avals if a.shape != ()}
    return shapes.pop() if len(shapes) == 1 else (() if not shapes else None)  # type: ignore[return-value]


# --------------------------------------------------------------------------------------
# Abstract-evaluation rule shapes
# --------------------------------------------------------------------------------------

DTypePredicate = Callable[[np.dtype], bool]


def any_dtype(dtype: np.dtype) -> bool:
    return True


def describe_dtypes(pred: DTypePredicate) -> str:
    names = [d.name for d in sorted(dtypes.SUPPORTED_DTYPES, key=lambda d: d.name) if pred(d)]
    return ", ".join(names)


def naryop_abstract_eval(name: str, accepts: DTypePredicate = any_dtype,
                         result_dtype: Callable[[np.dtype], np.dtype] | None = None
                         ) -> Callable[..., AbstractArray]:
    """Elementwise n-ary op: operands must share dtype and shape, except that 0-d
    operands broadcast (jax.lax's rule); dtype must satisfy `accepts`. The result has the
    common shape, `result_dtype(dtype)` (default: the
    same) and is weak only if every operand is weak (jax's rule)."""

    def rule(*avals: AbstractArray, **params: Any) -> AbstractArray:
        del params
        first = avals[0]
        for a in avals[1:]:
            if a.dtype != first.dtype:
                raise TypeError(f"lax.{name} requires arguments to have the same dtypes, got "
                                f"{', '.join(x.dtype.name for x in avals)}")
        if not accepts(first.dtype):
            raise TypeError(f"lax.{name} does not accept dtype {first.dtype.name}; accepted "
                            f"dtypes: {describe_dtypes(accepts)}")
        shape = scalar_operand_avals(avals)
        if shape is None:
            raise TypeError(f"lax.{name} requires arguments to have the same shapes (or be 0-d), "
                            f"got {', '.join(str(x.shape) for x in avals)}; broadcast them first "
                            "(lamina.numpy functions broadcast automatically)")
        dtype = first.dtype if result_dtype is None else result_dtype(first.dtype)
        return AbstractArray(shape, dtype, all(a.weak_type for a in avals))

    return rule


def padtype_to_pads(in_shape: Sequence[int], window_shape: Sequence[int],
                    window_strides: Sequence[int], padding: str, *,
                    fun_name: str = "padtype_to_pads") -> list[tuple[int, int]]:
    """Explicit `(low, high)` pads for `'VALID'`, `'SAME'` or `'SAME_LOWER'` padding.

    `'SAME'` pads so that the output has `ceil(in / stride)` elements per dimension,
    with an odd total padding's extra element at the end; `'SAME_LOWER'` puts it at the
    start; `'VALID'` pads nothing.

    Args:
        in_shape: the spatial sizes of the input.
        window_shape: the spatial sizes of the (dilated) window.
        window_strides: the strides.
        padding: `'VALID'`, `'SAME'` or `'SAME_LOWER'` (any case).
        fun_name: the public function to name in the error for an unknown padding.

    Returns:
        A list of `(low, high)` pairs, one per spatial dimension.

    >>> from lamina.lax import padtype_to_pads
    >>> padtype_to_pads((5, 6), (3, 3), (1, 2), 'SAME')
    [(1, 1), (0, 1)]
    """
    mode = padding.upper() if isinstance(padding, str) else padding
    if mode == "VALID":
        return [(0, 0)] * len(in_shape)
    if mode not in ("SAME", "SAME_LOWER"):
        raise ValueError(f"{fun_name}: padding must be 'VALID', 'SAME' or 'SAME_LOWER' (or explicit "
                         f"(low, high) pairs), got {padding!r}")
    pads = []
    for n, w, s in zip(in_shape, window_shape, window_strides):
        out = -(-int(n) // int(s))
        total = max((out - 1) * int(s) + int(w) - int(n), 0)
        small, large = total // 2, total - total // 2
        pads.append((small, large) if mode == "SAME" else (large, small))
    return pads
