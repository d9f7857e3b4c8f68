"""Private helpers shared by lamina.numpy's contraction modules (`tensor`, `_einsum`):
operand promotion with `preferred_element_type`, one `lax.dot_general`, the final
convert, and small lax compositions (transpose, products) that skip no-op work.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from lamina import dtypes, lax
from lamina.numpy._util import (
    asarray,
    broadcast_shapes,
    broadcast_to_shape,
    check_arraylike,
    promote_dtypes,
)
from lamina.numpy._lax_helpers import _convert

Array = Any
ArrayLike = Any


def _operands(fun_name: str, preferred_element_type: Any, *args: ArrayLike
              ) -> tuple[list[Array], np.dtype | None, np.dtype, bool]:
    """Promoted operands, the preferred type for dot_general, and the result dtype and
    weak type (jax: the promoted type unless `preferred_element_type` is given)."""
    check_arraylike(fun_name, *args)
    arrays = promote_dtypes(*args) if len(args) > 1 else [asarray(args[0])]
    dtype, weak = arrays[0].dtype, all(a.weak_type for a in arrays)
    if preferred_element_type is None:
        return arrays, None, dtype, weak
    preferred = dtypes.check_user_dtype_supported(preferred_element_type,
                                                  f"lamina.numpy.{fun_name}")
    return arrays, preferred, preferred, False


def _dot(lhs: Array, rhs: Array, contracting: tuple[Sequence[int], Sequence[int]],
         batch: tuple[Sequence[int], Sequence[int]], precision: Any, preferred: Any) -> Array:
    return lax.dot_general(lhs, rhs, ((tuple(contracting[0]), tuple(contracting[1])),
                                      (tuple(batch[0]), tuple(batch[1]))),
                           precision=precision, preferred_element_type=preferred)


def _finish(x: Array, dtype: np.dtype, weak: bool) -> Array:
    return _convert(x, dtype, weak)


def _transpose(x: Array, perm: Sequence[int]) -> Array:
    perm = tuple(perm)
    return x if perm == tuple(range(len(perm))) else lax.transpose(x, perm)


def _mul(x: Array, y: Array) -> Array:
    """lax.mul, or logical and for bool (jnp.multiply's rule)."""
    return lax.bitwise_and(x, y) if dtypes.is_bool(x.dtype) else lax.mul(x, y)


def _multiply(x: Array, y: Array) -> Array:
    """Elementwise product with NumPy broadcasting (operands share a dtype)."""
    shape = broadcast_shapes("multiply", x.shape, y.shape)
    if x.shape not in ((), shape):
        x = broadcast_to_shape(x, shape)
    if y.shape not in ((), shape):
        y = broadcast_to_shape(y, shape)
    return _mul(x, y)


def _subtract(x: Array, y: Array) -> Array:
    shape = broadcast_shapes("subtract", x.shape, y.shape)
    if x.shape not in ((), shape):
        x = broadcast_to_shape(x, shape)
    if y.shape not in ((), shape):
        y = broadcast_to_shape(y, shape)
    return lax.sub(x, y)


def _conj(x: Array) -> Array:
    return lax.conj(x) if dtypes.is_complex(x.dtype) else x
