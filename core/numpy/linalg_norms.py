"""Norms and small matrix helpers of `lamina.numpy.linalg`: `norm`, `vector_norm`,
`matrix_norm`, `cond`, `matrix_transpose`, `diagonal`, `trace` and `outer`
(jax.numpy.linalg's API; re-exported by `lamina.numpy.linalg`, the family's namespace).
"""
from __future__ import annotations

import operator
from typing import Any, Sequence

import numpy as np

from lamina import dtypes
from lamina.lax import elementwise as el
from lamina.lax import reductions as red
from lamina.lax import structural as st
from lamina.lax._util import canonicalize_axis
from lamina.numpy._util import asarray, check_arraylike, promote_dtypes
from lamina.numpy._linalg_util import (
    _LAPACK_DTYPES, _const, _inexact, _lapack_operand, _mT, _matrix_diagonal, _moveaxis,
    _real_dtype, _where,
)
from lamina.numpy.linalg import svd
from lamina.numpy.linalg_solvers import inv

__all__ = [
    "cond", "diagonal", "matrix_norm", "matrix_transpose", "norm", "outer", "trace",
    "vector_norm",
]


Array = Any
ArrayLike = Any


# --------------------------------------------------------------------------------------
# Norms and small helpers
# --------------------------------------------------------------------------------------

def _abs_sq(x: Array) -> Array:
    return el.real(el.mul(x, el.conj(x))) if dtypes.is_complex(x.dtype) else el.mul(x, x)


def _reduce(kind: str, x: Array, axes: Sequence[int], keepdims: bool) -> Array:
    fn = {"sum": red.reduce_sum, "max": red.reduce_max, "min": red.reduce_min}[kind]
    out = fn(x, tuple(axes))
    return st.expand_dims(out, tuple(sorted(axes))) if keepdims and axes else out


def _vector_norm(x: Array, ord: Any, axes: tuple[int, ...], keepdims: bool) -> Array:
    real = _real_dtype(x.dtype)
    if isinstance(ord, str):
        raise ValueError(f"lamina.numpy.linalg.norm: invalid order {ord!r} for vectors")
    if ord is None or ord == 2:
        return el.sqrt(_reduce("sum", _abs_sq(x), axes, keepdims))
    mag = el.abs(x)
    if ord == np.inf:
        return el.max(_reduce("max", mag, axes, keepdims), _const(0, real))
    if ord == -np.inf:
        return _reduce("min", mag, axes, keepdims)
    if ord == 0:
        return _reduce("sum", el.convert_element_type(el.ne(mag, _const(0, real)), real),
                       axes, keepdims)
    if ord == 1:
        return _reduce("sum", mag, axes, keepdims)
    p = _const(ord, real)
    total = _reduce("sum", el.pow(mag, p), axes, keepdims)
    return el.pow(total, el.div(_const(1, real), p))


def _matrix_norm(x: Array, ord: Any, axes: tuple[int, int], keepdims: bool) -> Array:
    row, col = axes
    if ord is None or ord in ("fro", "f"):
        return el.sqrt(_reduce("sum", _abs_sq(x), axes, keepdims))
    if ord in (1, -1, np.inf, -np.inf):
        summed, other = (row, col) if ord in (1, -1) else (col, row)
        sums = _reduce("sum", el.abs(x), (summed,), True)
        out = _reduce("max" if ord > 0 else "min", sums, (other,), True)
        if ord > 0:
            out = el.max(out, _const(0, out.dtype))
        return out if keepdims else st.squeeze(out, tuple(sorted(axes)))
    if ord in ("nuc", 2, -2):
        if x.dtype not in _LAPACK_DTYPES:
            x = el.convert_element_type(x, np.float32)
        s = svd(_moveaxis(x, axes, (x.ndim - 2, x.ndim - 1)), compute_uv=False)
        kind = {"nuc": "sum", 2: "max", -2: "min"}[ord]
        out = _reduce(kind, s, (s.ndim - 1,), False)
        if ord == 2:
            out = el.max(out, _const(0, out.dtype))
        return st.expand_dims(out, tuple(sorted(axes))) if keepdims else out
    raise ValueError(f"lamina.numpy.linalg.norm: invalid order {ord!r} for matrices; use None, "
                     "'fro', 'nuc', 1, -1, 2, -2, inf or -inf")


def norm(x: ArrayLike, ord: int | float | str | None = None,
         axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Array:
    """Vector or matrix norm (numpy.linalg.norm).

    Args:
      x: the input (integers are promoted to float).
      ord: vector norms: None/2, 1, inf, -inf, 0 (count of nonzeros), any p; matrix
        norms: None/'fro', 'nuc', 1, -1, 2, -2, inf, -inf.
      axis: None (the whole array: a vector norm for 1-D, a matrix norm for 2-D, the
        flattened 2-norm for any rank if `ord` is None), an int (vector norm) or a pair
        (matrix norm).
      keepdims: keep the reduced axes with size 1.

    Returns:
      The norm(s), of x's real (inexact) dtype.
    """
    fun = "lamina.numpy.linalg.norm"
    x, = _inexact(fun, x)
    if axis is None:
        if ord is None:
            return el.sqrt(_reduce("sum", _abs_sq(x), tuple(range(x.ndim)), keepdims))
        axes = tuple(range(x.ndim))
    elif isinstance(axis, (tuple, list)):
        axes = tuple(canonicalize_axis(a, x.ndim, fun) for a in axis)
    else:
        axes = (canonicalize_axis(axis, x.ndim, fun),)
    if len(axes) == 1:
        return _vector_norm(x, ord, axes, keepdims)
    if len(axes) == 2:
        if axes[0] == axes[1]:
            raise ValueError(f"{fun}: duplicate axes {axis}")
        return _matrix_norm(x, ord, axes, keepdims)
    raise ValueError(f"{fun}: improper number of axes {axes} for an array of shape {x.shape}: "
                     "pass one axis (vector norm) or two (matrix norm)")


def vector_norm(x: ArrayLike, /, *, axis: int | tuple[int, ...] | None = None,
                keepdims: bool = False, ord: int | float = 2) -> Array:
    """Vector norm over `axis` (all axes, flattened, if None) (numpy.linalg.vector_norm)."""
    x, = _inexact("lamina.numpy.linalg.vector_norm", x)
    if axis is None:
        flat = st.reshape(x, (x.size,))
        out = _vector_norm(flat, ord, (0,), False)
        return st.reshape(out, (1,) * x.ndim) if keepdims else out
    if isinstance(axis, int):
        axis = (axis,)
    axes = tuple(canonicalize_axis(a, x.ndim, "lamina.numpy.linalg.vector_norm") for a in axis)
    # Several axes: move them to the end and flatten them into one.
    moved = _moveaxis(x, axes, tuple(range(x.ndim - len(axes), x.ndim)))
    lead = moved.shape[:x.ndim - len(axes)]
    flat = st.reshape(moved, (*lead, int(np.prod([x.shape[a] for a in axes]))))
    out = _vector_norm(flat, ord, (flat.ndim - 1,), False)
    return st.expand_dims(out, tuple(sorted(axes))) if keepdims else out


def matrix_norm(x: ArrayLike, /, *, keepdims: bool = False, ord: str | int = "fro") -> Array:
    """Matrix norm of the last two axes (numpy.linalg.matrix_norm)."""
    x, = _inexact("lamina.numpy.linalg.matrix_norm", x)
    return _matrix_norm(x, ord, (x.ndim - 2, x.ndim - 1), keepdims)


def cond(x: ArrayLike, p: Any = None) -> Array:
    """Condition number (numpy.linalg.cond): `norm(x, p) * norm(inv(x), p)`, or the
    ratio of extreme singular values for p in (None, 2, -2)."""
    x = _lapack_operand("lamina.numpy.linalg.cond", x)
    if p in (None, 2, -2):
        s = svd(x, compute_uv=False)
        k = s.shape[-1]
        first, last = (st.squeeze(st.slice_in_dim(s, i, i + 1, axis=-1), (s.ndim - 1,))
                       for i in (0, k - 1))
        return el.div(first, last) if p != -2 else el.div(last, first)
    if x.shape[-1] != x.shape[-2]:
        raise ValueError(f"lamina.numpy.linalg.cond: p={p!r} needs square matrices, got shape "
                         f"{x.shape}")
    axes = (x.ndim - 2, x.ndim - 1)
    r = el.mul(norm(x, p, axes), norm(inv(x), p, axes))
    # numpy: a singular matrix (inf/NaN inverse) without NaN entries has condition inf.
    x_nan = red.reduce_or(el.ne(x, x), axes)
    fix = el.bitwise_and(el.ne(r, r), el.bitwise_not(x_nan))
    return _where(fix, np.inf, r, r.dtype)


def matrix_transpose(x: ArrayLike, /) -> Array:
    """Swap the last two axes (numpy.linalg.matrix_transpose)."""
    x = asarray(x)
    if x.ndim < 2:
        raise ValueError(f"lamina.numpy.linalg.matrix_transpose: x must have rank >= 2, got "
                         f"shape {x.shape}")
    return _mT(x)


def diagonal(x: ArrayLike, /, *, offset: int = 0) -> Array:
    """Diagonals of the last two axes (numpy.linalg.diagonal)."""
    x = asarray(x)
    if x.ndim < 2:
        raise ValueError(f"lamina.numpy.linalg.diagonal: x must have rank >= 2, got shape "
                         f"{x.shape}")
    return _matrix_diagonal(x, operator.index(offset))


def trace(x: ArrayLike, /, *, offset: int = 0, dtype: Any = None) -> Array:
    """Sums of the diagonals of the last two axes (numpy.linalg.trace)."""
    d = diagonal(x, offset=offset)
    if dtype is not None:
        d = el.convert_element_type(d, dtypes.check_user_dtype_supported(
            dtype, "lamina.numpy.linalg.trace"))
    elif dtypes.is_bool(d.dtype) or (dtypes.is_integer(d.dtype) and d.dtype.itemsize < 4):
        d = el.convert_element_type(d, dtypes.default_uint_dtype()
                                    if dtypes.is_unsigned_integer(d.dtype)
                                    else dtypes.default_int_dtype())
    return red.reduce_sum(d, (d.ndim - 1,))


def outer(x1: ArrayLike, x2: ArrayLike, /) -> Array:
    """Outer product of two vectors (numpy.linalg.outer)."""
    check_arraylike("lamina.numpy.linalg.outer", x1, x2)
    x1, x2 = promote_dtypes(asarray(x1), asarray(x2))
    if x1.ndim != 1 or x2.ndim != 1:
        raise ValueError(f"lamina.numpy.linalg.outer: inputs must be 1-D, got shapes "
                         f"{x1.shape} and {x2.shape}")
    shape = (x1.shape[0], x2.shape[0])
    return el.mul(st.broadcast_in_dim(x1, shape, (0,)), st.broadcast_in_dim(x2, shape, (1,)))
