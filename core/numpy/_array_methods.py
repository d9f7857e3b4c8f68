"""Operators and methods of `Array` and `Tracer`, installed when lamina.numpy loads.

Both classes get the same table, so `x + 1`, `x @ w`, `x[idx]`, `x.at[idx].set(v)`,
`x.T` and `x.sum(axis=0)` mean the same eagerly and under every transformation. The
core never imports lamina.numpy; lamina.numpy installs itself here (as jax's
`numpy/array_methods.py` does).
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from lamina.backend.array import Array
from lamina.ir import Tracer

# dunder -> name of the lamina.numpy function implementing it; `reflected` swaps operands.
_BINARY = {
    "add": "add", "sub": "subtract", "mul": "multiply", "truediv": "true_divide",
    "floordiv": "floor_divide", "mod": "remainder", "pow": "power", "matmul": "matmul",
    "and": "bitwise_and", "or": "bitwise_or", "xor": "bitwise_xor",
    "lshift": "left_shift", "rshift": "right_shift", "divmod": "divmod",
}
# dunder -> lamina.numpy function with an eager fast path (`ufuncs._FAST_PATHS`).
_FAST = {"add": "add", "sub": "subtract", "mul": "multiply", "truediv": "true_divide"}
_COMPARISONS = {"eq": "equal", "ne": "not_equal", "lt": "less", "le": "less_equal",
                "gt": "greater", "ge": "greater_equal"}
_UNARY = {"neg": "negative", "pos": "positive", "abs": "absolute", "invert": "invert"}

# method name -> lamina.numpy function name (called as fn(self, *args, **kwargs)).
_METHODS = {
    "all": "all", "any": "any", "argmax": "argmax", "argmin": "argmin",
    "argpartition": "argpartition", "argsort": "argsort", "astype": "astype",
    "choose": "choose", "clip": "clip", "conj": "conjugate",
    "conjugate": "conjugate", "cumprod": "cumprod", "cumsum": "cumsum",
    "diagonal": "diagonal", "dot": "dot", "flatten": "ravel", "max": "max", "mean": "mean",
    "min": "min", "nonzero": "nonzero", "prod": "prod", "ptp": "ptp", "ravel": "ravel",
    "repeat": "repeat", "round": "round", "searchsorted": "searchsorted", "sort": "sort",
    "squeeze": "squeeze", "std": "std", "sum": "sum", "swapaxes": "swapaxes",
    "take": "take", "trace": "trace", "var": "var",
}
_PROPERTIES = {"real": "real", "imag": "imag", "T": "transpose", "mT": "matrix_transpose"}


def _lnp() -> Any:
    import lamina.numpy as lnp
    return lnp


def _binary(fn_name: str, reflected: bool) -> Callable[[Any, Any], Any]:
    def method(self: Any, other: Any) -> Any:
        if not _is_operand(other):
            return NotImplemented
        fn = getattr(_lnp(), fn_name)
        return fn(other, self) if reflected else fn(self, other)
    return method


def _is_operand(x: Any) -> bool:
    # Defer to other types (e.g. user classes implementing __radd__), as numpy does.
    return isinstance(x, (Array, Tracer, np.ndarray, np.generic, bool, int, float, complex))


def _unary(fn_name: str) -> Callable[[Any], Any]:
    def method(self: Any) -> Any:
        return getattr(_lnp(), fn_name)(self)
    return method


def _method(fn_name: str) -> Callable[..., Any]:
    def method(self: Any, *args: Any, **kwargs: Any) -> Any:
        return getattr(_lnp(), fn_name)(self, *args, **kwargs)
    method.__name__ = fn_name
    return method


def _property(fn_name: str) -> property:
    return property(lambda self: getattr(_lnp(), fn_name)(self))


def _reshape(self: Any, *shape: Any, order: str = "C") -> Any:
    """`x.reshape(2, 3)` and `x.reshape((2, 3))` both work, as in numpy."""
    if len(shape) == 1 and not isinstance(shape[0], int) and hasattr(shape[0], "__len__"):
        shape = tuple(shape[0])
    return _lnp().reshape(self, shape, order=order)


def _transpose(self: Any, *axes: Any) -> Any:
    if len(axes) == 1 and (axes[0] is None or hasattr(axes[0], "__len__")):
        axes = axes[0]
    return _lnp().transpose(self, axes or None)


def _compress(self: Any, condition: Any, axis: Any = None, **kwargs: Any) -> Any:
    """`x.compress(cond)` is `compress(cond, x)`: the array is the second argument."""
    return _lnp().compress(condition, self, axis, **kwargs)


def _getitem(self: Any, idx: Any) -> Any:
    from lamina.numpy.indexing import getitem
    return getitem(self, idx)


def _at(self: Any) -> Any:
    from lamina.numpy.indexing import IndexUpdateHelper
    return IndexUpdateHelper(self)


def _setitem(self: Any, idx: Any, value: Any) -> None:
    raise TypeError(f"lamina arrays are immutable; instead of x[idx] = y use "
                    f"x = x.at[idx].set(y) (got an assignment into {self.aval.str_short()})")


# NOTE: rows per compiled program when iterating an Array: bounds the program's size.
_ROWS_PER_PROGRAM = 100
_unstack_rows: list[Any] = []
# NOTE: an Array on a CPU device up to this many elements is iterated on the host: one
# read, then a copy per row, where a program would first compile (~15 ms).
_HOST_ITER_MAX_ELEMENTS = 4096


def _iter(self: Array) -> Any:
    """`for row in x`: the rows come from one compiled program per chunk size (a
    dynamic slice of up to 100 rows, unstacked) instead of one `x[i]` program per
    index, as in jax; small arrays on a CPU device are split on the host."""
    if not self.shape:
        raise TypeError("iteration over a 0-d array")
    device = self._device
    if (type(self) is Array and device is not None and device.platform == "cpu"
            and self.aval.size <= _HOST_ITER_MAX_ELEMENTS):
        from lamina.backend.array import device_put_host
        host, weak = np.asarray(self), self.aval.weak_type
        return (device_put_host(row, device, weak_type=weak) for row in host)
    if not _unstack_rows:
        from lamina import lax
        from lamina._api_jit import jit
        _unstack_rows.append(jit(lambda x, start, size: _lnp().unstack(
            lax.dynamic_slice_in_dim(x, start, size)), static_argnums=2))
    n, rows = self.shape[0], _unstack_rows[0]
    return (row for start in range(0, n, _ROWS_PER_PROGRAM)
            for row in rows(self, start, min(_ROWS_PER_PROGRAM, n - start)))


def install() -> None:
    for cls in (Array, Tracer):
        for dunder, fn_name in _BINARY.items():
            setattr(cls, f"__{dunder}__", _binary(fn_name, reflected=False))
            setattr(cls, f"__r{dunder}__", _binary(fn_name, reflected=True))
        for dunder, fn_name in _COMPARISONS.items():
            setattr(cls, f"__{dunder}__", _binary(fn_name, reflected=False))
        for dunder, fn_name in _UNARY.items():
            setattr(cls, f"__{dunder}__", _unary(fn_name))
        for name, fn_name in _METHODS.items():
            setattr(cls, name, _method(fn_name))
        for name, fn_name in _PROPERTIES.items():
            setattr(cls, name, _property(fn_name))
        cls.__round__ = lambda self, ndigits=None: _lnp().round(self, ndigits or 0)
        cls.reshape = _reshape
        cls.transpose = _transpose
        cls.compress = _compress
        cls.__getitem__ = _getitem
        cls.__setitem__ = _setitem
        cls.at = property(_at)
    Array.__iter__ = _iter
    # NOTE: only concrete Arrays can take the eager fast path; tracers never do.
    from lamina.interpreters.eval import eager_binary
    from lamina.numpy import ufuncs
    for dunder, fn_name in _FAST.items():
        primitive, accepts = ufuncs._FAST_PATHS[fn_name]
        setattr(Array, f"__{dunder}__", eager_binary(primitive, accepts,
                                                     _binary(fn_name, reflected=False)))
