"""Tensor contractions for lamina.numpy: dot, vdot, vecdot, matmul, matvec, vecmat,
inner, outer, tensordot, kron, trace and cross (jax.numpy's API).

Dtypes follow jax.numpy: operands are promoted to their result type (weak types
included: `int8 @ int8` is int8, `x @ 2.0` keeps x's float dtype), and
`preferred_element_type` makes `lax.dot_general` accumulate and return a wider type.

`einsum` and `einsum_path` (with einsum's own contraction-order optimizer) are in
`lamina.numpy._einsum`, re-exported here so that `tensor` stays the namespace of the
contraction family; the helpers both use are in `lamina.numpy._tensor_util`.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from lamina import dtypes, lax
from lamina.lax._util import canonicalize_axis, operator_index
from lamina.numpy._util import (
    asarray,
    broadcast_shapes,
    broadcast_to_shape,
    check_arraylike,
    promote_dtypes,
)
from lamina.numpy._lax_helpers import _const, _convert, _full, _moveaxis, _ravel
from lamina.numpy._tensor_util import (
    _conj, _dot, _finish, _mul, _multiply, _operands, _subtract, _transpose,
)
from lamina.numpy._einsum import einsum, einsum_path
from lamina.numpy.indexing import getitem

__all__ = [
    "cross",
    "dot",
    "einsum",
    "einsum_path",
    "inner",
    "kron",
    "matmul",
    "matvec",
    "outer",
    "tensordot",
    "trace",
    "vdot",
    "vecdot",
    "vecmat",
]

Array = Any
ArrayLike = Any


# --------------------------------------------------------------------------------------
# dot, vdot, vecdot, matmul, matvec, vecmat, inner, outer, tensordot
# --------------------------------------------------------------------------------------


def dot(a: ArrayLike, b: ArrayLike, *, precision: Any = None,
        preferred_element_type: Any = None) -> Array:
    """The dot product of two arrays (numpy.dot): a scalar product for 0-d operands,
    else contracting `a`'s last axis with `b`'s last (1-D) or second-to-last axis.

    Args:
        a, b: arrays.
        precision: passed to lax.dot_general.
        preferred_element_type: the accumulation and result dtype.

    Returns:
        The product, with dimensions `a.shape[:-1] + b.shape[:-2] + b.shape[-1:]`.

    >>> import lamina.numpy as lnp
    >>> lnp.dot(lnp.asarray([1, 2]), lnp.asarray([3, 4]))
    Array(11, dtype=int32)
    """
    (a, b), preferred, dtype, weak = _operands("dot", preferred_element_type, a, b)
    if a.ndim == 0 or b.ndim == 0:
        contract: tuple[tuple[int, ...], tuple[int, ...]] = ((), ())
    else:
        contract = ((a.ndim - 1,), (0,) if b.ndim == 1 else (b.ndim - 2,))
        if a.shape[contract[0][0]] != b.shape[contract[1][0]]:
            raise TypeError(f"lamina.numpy.dot: shapes {a.shape} and {b.shape} are not aligned: "
                            f"{a.shape[contract[0][0]]} (dim {contract[0][0]}) != "
                            f"{b.shape[contract[1][0]]} (dim {contract[1][0]})")
    return _finish(_dot(a, b, contract, ((), ()), precision, preferred), dtype, weak)


def vdot(a: ArrayLike, b: ArrayLike, *, precision: Any = None,
         preferred_element_type: Any = None) -> Array:
    """The dot product of the flattened arrays, conjugating `a` (numpy.vdot).

    Args:
        a, b: arrays of the same size.
        precision: passed to lax.dot_general.
        preferred_element_type: the accumulation and result dtype.

    Returns:
        A 0-d array.
    """
    check_arraylike("vdot", a, b)
    a, b = asarray(a), asarray(b)
    if a.size != b.size:
        raise ValueError(f"lamina.numpy.vdot: arrays must have the same size, got shapes "
                         f"{a.shape} and {b.shape}")
    return dot(_ravel(_conj(a)), _ravel(b), precision=precision,
               preferred_element_type=preferred_element_type)


def vecdot(x1: ArrayLike, x2: ArrayLike, /, *, axis: int = -1, precision: Any = None,
           preferred_element_type: Any = None) -> Array:
    """The conjugated dot product of vectors along `axis`, broadcasting the other
    dimensions (numpy.vecdot / array API).

    Args:
        x1, x2: arrays whose `axis` dimensions have equal sizes.
        axis: the axis of the vectors.
        precision: passed to lax.dot_general.
        preferred_element_type: the accumulation and result dtype.

    Returns:
        The broadcast shape without `axis`.
    """
    (x1, x2), preferred, dtype, weak = _operands("vecdot", preferred_element_type, x1, x2)
    a1 = canonicalize_axis(operator_index(axis), x1.ndim, "lamina.numpy.vecdot")
    a2 = canonicalize_axis(operator_index(axis), x2.ndim, "lamina.numpy.vecdot")
    if x1.shape[a1] != x2.shape[a2]:
        raise ValueError(f"lamina.numpy.vecdot: axes must match; got shapes {x1.shape} and "
                         f"{x2.shape} with axis={axis}")
    x1, x2 = _moveaxis(_conj(x1), a1, x1.ndim - 1), _moveaxis(x2, a2, x2.ndim - 1)
    batch = broadcast_shapes("vecdot", x1.shape[:-1], x2.shape[:-1])
    n = x1.shape[-1]
    x1, x2 = broadcast_to_shape(x1, batch + (n,)), broadcast_to_shape(x2, batch + (n,))
    dims = tuple(range(len(batch)))
    out = _dot(x1, x2, ((len(batch),), (len(batch),)), (dims, dims), precision, preferred)
    return _finish(out, dtype, weak)


def matmul(a: ArrayLike, b: ArrayLike, *, precision: Any = None,
           preferred_element_type: Any = None) -> Array:
    """Matrix product with NumPy's rules (numpy.matmul, `a @ b`): 1-D operands are
    promoted to matrices and the added axis removed; leading (batch) dimensions
    broadcast.

    Args:
        a, b: arrays of rank >= 1.
        precision: passed to lax.dot_general.
        preferred_element_type: the accumulation and result dtype.

    Returns:
        `broadcast(a.shape[:-2], b.shape[:-2]) + (a.shape[-2],) + (b.shape[-1],)`, without
        the dimensions of 1-D operands.

    >>> import lamina.numpy as lnp
    >>> (lnp.ones((2, 3, 4)) @ lnp.ones((4, 5))).shape
    (2, 3, 5)
    """
    (a, b), preferred, dtype, weak = _operands("matmul", preferred_element_type, a, b)
    for i, x in enumerate((a, b)):
        if x.ndim < 1:
            raise ValueError(f"lamina.numpy.matmul: input operand {i} must have ndim at least 1, "
                             f"but it has shape {x.shape}")
    a_mat, b_mat = a.ndim > 1, b.ndim > 1
    k_a, k_b = a.shape[-1], b.shape[-2] if b_mat else b.shape[0]
    if k_a != k_b:
        raise TypeError(f"lamina.numpy.matmul: contracting dimensions differ: {a.shape} @ "
                        f"{b.shape} ({k_a} != {k_b})")
    a_batch = a.shape[:-2] if a_mat else ()
    b_batch = b.shape[:-2] if b_mat else ()
    nb = max(len(a_batch), len(b_batch))
    a_dims = (None,) * (nb - len(a_batch)) + tuple(a_batch)
    b_dims = (None,) * (nb - len(b_batch)) + tuple(b_batch)
    a_squeeze, b_squeeze, both_squeeze = [], [], []
    a_bat, b_bat, pos_batch, pos_a, pos_b = [], [], [], [], []
    ia = ib = 0  # positions in a's and b's batch dimensions
    for i, (da, db) in enumerate(zip(a_dims, b_dims)):
        if da is None:
            pos_b.append(i)
            ib += 1
        elif db is None:
            pos_a.append(i)
            ia += 1
        elif da == 1 and db == 1:
            a_squeeze.append(ia)
            b_squeeze.append(ib)
            both_squeeze.append(i)
            ia += 1
            ib += 1
        elif da == 1:
            a_squeeze.append(ia)
            pos_b.append(i)
            ia += 1
            ib += 1
        elif db == 1:
            b_squeeze.append(ib)
            pos_a.append(i)
            ia += 1
            ib += 1
        elif da == db:
            a_bat.append(ia - len(a_squeeze))
            b_bat.append(ib - len(b_squeeze))
            pos_batch.append(i)
            ia += 1
            ib += 1
        else:
            raise ValueError(f"lamina.numpy.matmul: batch dimensions of shapes {a.shape} and "
                             f"{b.shape} cannot be broadcast together")
    if a_squeeze:
        a = lax.squeeze(a, tuple(a_squeeze))
    if b_squeeze:
        b = lax.squeeze(b, tuple(b_squeeze))
    if a_mat:
        pos_a.append(nb)
    if b_mat:
        pos_b.append(nb + a_mat)
    out = _dot(a, b, ((a.ndim - 1,), (b.ndim - 1 - b_mat,)), (a_bat, b_bat), precision,
               preferred)
    # dot_general's layout is (batch, a's free, b's free); put them in NumPy's order.
    perm = np.argsort(np.asarray(pos_batch + pos_a + pos_b, dtype=np.int64))
    out = _transpose(out, perm)
    if both_squeeze:
        out = lax.expand_dims(out, tuple(both_squeeze))
    return _finish(out, dtype, weak)


def _batched_vector_product(fun_name: str, mat: Array, vec: Array, mat_axis: int,
                            precision: Any, preferred: Any) -> Array:
    """`mat` (..., n, m) contracted with `vec` (..., k) over `mat_axis` (-1 or -2),
    broadcasting the leading dimensions."""
    if mat.ndim < 2 or vec.ndim < 1:
        raise ValueError(f"lamina.numpy.{fun_name}: needs a matrix and a vector, got shapes "
                         f"{mat.shape} and {vec.shape}")
    if mat.shape[mat_axis] != vec.shape[-1]:
        raise ValueError(f"lamina.numpy.{fun_name}: size mismatch between {mat.shape} and "
                         f"{vec.shape}")
    batch = broadcast_shapes(fun_name, mat.shape[:-2], vec.shape[:-1])
    mat = broadcast_to_shape(mat, batch + mat.shape[-2:])
    vec = broadcast_to_shape(vec, batch + vec.shape[-1:])
    dims = tuple(range(len(batch)))
    return _dot(mat, vec, ((mat.ndim + mat_axis,), (len(batch),)), (dims, dims), precision,
                preferred)


def matvec(x1: ArrayLike, x2: ArrayLike, /) -> Array:
    """Matrix-vector product `(..., n, m) x (..., m) -> (..., n)`, broadcasting batches.

    Args:
        x1: the matrices.
        x2: the vectors.

    Returns:
        The products.
    """
    (x1, x2), preferred, dtype, weak = _operands("matvec", None, x1, x2)
    return _finish(_batched_vector_product("matvec", x1, x2, -1, None, preferred), dtype, weak)


def vecmat(x1: ArrayLike, x2: ArrayLike, /) -> Array:
    """Conjugated vector-matrix product `(..., n) x (..., n, m) -> (..., m)`.

    Args:
        x1: the vectors (conjugated).
        x2: the matrices.

    Returns:
        The products.
    """
    (x1, x2), preferred, dtype, weak = _operands("vecmat", None, x1, x2)
    out = _batched_vector_product("vecmat", x2, _conj(x1), -2, None, preferred)
    return _finish(out, dtype, weak)


def tensordot(a: ArrayLike, b: ArrayLike, axes: Any = 2, *, precision: Any = None,
              preferred_element_type: Any = None) -> Array:
    """Tensor contraction over `axes` (numpy.tensordot).

    Args:
        a, b: arrays.
        axes: an int N (contract `a`'s last N axes with `b`'s first N), or a pair of
            axis sequences (or of ints).
        precision: passed to lax.dot_general.
        preferred_element_type: the accumulation and result dtype.

    Returns:
        `a`'s free dimensions followed by `b`'s.
    """
    (a, b), preferred, dtype, weak = _operands("tensordot", preferred_element_type, a, b)
    if type(axes) is int or isinstance(axes, np.integer):
        n = int(axes)
        if n < 0 or n > min(a.ndim, b.ndim):
            raise TypeError(f"lamina.numpy.tensordot: number of axes {n} exceeds the input "
                            f"ranks ({a.shape} and {b.shape})")
        contract = (tuple(range(a.ndim - n, a.ndim)), tuple(range(n)))
    elif isinstance(axes, (tuple, list)) and len(axes) == 2:
        ax1, ax2 = axes
        if isinstance(ax1, (int, np.integer)) and isinstance(ax2, (int, np.integer)):
            ax1, ax2 = (ax1,), (ax2,)
        elif not (isinstance(ax1, (tuple, list)) and isinstance(ax2, (tuple, list))):
            raise TypeError("lamina.numpy.tensordot: axes must be an int or a pair of ints or "
                            f"of int sequences, got {axes!r}")
        if len(ax1) != len(ax2):
            raise TypeError(f"lamina.numpy.tensordot: axes lists must have equal length, got "
                            f"{ax1} and {ax2}")
        contract = (tuple(canonicalize_axis(operator_index(i), a.ndim, "lamina.numpy.tensordot")
                          for i in ax1),
                    tuple(canonicalize_axis(operator_index(i), b.ndim, "lamina.numpy.tensordot")
                          for i in ax2))
    else:
        raise TypeError("lamina.numpy.tensordot: axes must be an int, a pair of ints, or a pair "
                        f"of int sequences; got {axes!r}")
    for i, j in zip(*contract):
        if a.shape[i] != b.shape[j]:
            raise TypeError(f"lamina.numpy.tensordot: shape mismatch for the contracted axes: "
                            f"{a.shape} axis {i} and {b.shape} axis {j}")
    return _finish(_dot(a, b, contract, ((), ()), precision, preferred), dtype, weak)


def inner(a: ArrayLike, b: ArrayLike, *, precision: Any = None,
          preferred_element_type: Any = None) -> Array:
    """Inner product over the last axes (numpy.inner); a product for 0-d operands.

    Args:
        a, b: arrays.
        precision: passed to lax.dot_general.
        preferred_element_type: the accumulation and result dtype.

    Returns:
        `a.shape[:-1] + b.shape[:-1]`.
    """
    check_arraylike("inner", a, b)
    if np.ndim(a) == 0 or np.ndim(b) == 0:
        (a, b), preferred, dtype, weak = _operands("inner", preferred_element_type, a, b)
        if preferred is not None:
            a, b = _convert(a, preferred), _convert(b, preferred)
        return _finish(_multiply(a, b), dtype, weak)
    return tensordot(a, b, (-1, -1), precision=precision,
                     preferred_element_type=preferred_element_type)


def outer(a: ArrayLike, b: ArrayLike, out: None = None) -> Array:
    """The outer product of the flattened arrays (numpy.outer).

    Args:
        a, b: arrays.
        out: unsupported (must be None).

    Returns:
        A `(a.size, b.size)` array.
    """
    if out is not None:
        raise NotImplementedError("The 'out' argument to lamina.numpy.outer is not supported.")
    (a, b), _, _, _ = _operands("outer", None, a, b)
    a, b = _ravel(a), _ravel(b)
    shape = (a.shape[0], b.shape[0])
    return _mul(lax.broadcast_in_dim(a, shape, (0,)), lax.broadcast_in_dim(b, shape, (1,)))


# --------------------------------------------------------------------------------------
# kron, trace, cross
# --------------------------------------------------------------------------------------


def kron(a: ArrayLike, b: ArrayLike) -> Array:
    """The Kronecker product (numpy.kron).

    Args:
        a, b: arrays (the lower-rank one gets leading unit dimensions).

    Returns:
        An array of shape `a.shape * b.shape` (elementwise, after rank matching).
    """
    check_arraylike("kron", a, b)
    a, b = promote_dtypes(a, b)
    nd = max(a.ndim, b.ndim)
    a = lax.reshape(a, (1,) * (nd - a.ndim) + a.shape)
    b = lax.reshape(b, (1,) * (nd - b.ndim) + b.shape)
    # (a0, 1, a1, 1, ...) * (1, b0, 1, b1, ...), then merge each pair.
    a_exp = lax.reshape(a, tuple(d for s in a.shape for d in (s, 1)))
    b_exp = lax.reshape(b, tuple(d for s in b.shape for d in (1, s)))
    shape = tuple(d for sa, sb in zip(a.shape, b.shape) for d in (sa, sb))
    prod = _mul(broadcast_to_shape(a_exp, shape), broadcast_to_shape(b_exp, shape))
    return lax.reshape(prod, tuple(sa * sb for sa, sb in zip(a.shape, b.shape)))


def _sum_dtype(dtype: np.dtype) -> np.dtype:
    """jnp.sum's default result dtype: small integers and bool widen to the default int."""
    if dtypes.is_bool(dtype):
        return dtypes.default_int_dtype()
    if dtypes.is_unsigned_integer(dtype) and dtype.itemsize < dtypes.default_uint_dtype().itemsize:
        return dtypes.default_uint_dtype()
    if dtypes.is_signed_integer(dtype) and dtype.itemsize < dtypes.default_int_dtype().itemsize:
        return dtypes.default_int_dtype()
    return dtype


def trace(a: ArrayLike, offset: int = 0, axis1: int = 0, axis2: int = 1, dtype: Any = None,
          out: None = None) -> Array:
    """Sum along a diagonal (numpy.trace).

    Args:
        a: an array of rank >= 2.
        offset: the diagonal offset (positive: above the main diagonal).
        axis1, axis2: the axes of the 2-D sub-arrays.
        dtype: the accumulation and result dtype (default: jnp.sum's).
        out: unsupported (must be None).

    Returns:
        `a` without `axis1` and `axis2`.
    """
    if out is not None:
        raise NotImplementedError("The 'out' argument to lamina.numpy.trace is not supported.")
    check_arraylike("trace", a)
    a = asarray(a)
    if a.ndim < 2:
        raise ValueError(f"lamina.numpy.trace: a must have at least 2 dimensions, got shape "
                         f"{a.shape}")
    ax1 = canonicalize_axis(operator_index(axis1), a.ndim, "lamina.numpy.trace")
    ax2 = canonicalize_axis(operator_index(axis2), a.ndim, "lamina.numpy.trace")
    if ax1 == ax2:
        raise ValueError(f"lamina.numpy.trace: axis1 and axis2 can not be the same, got "
                         f"axis1={axis1} and axis2={axis2}")
    offset = operator_index(offset)
    out_dtype = _sum_dtype(a.dtype) if dtype is None else dtypes.check_user_dtype_supported(
        dtype, "lamina.numpy.trace")
    perm = [i for i in range(a.ndim) if i not in (ax1, ax2)] + [ax1, ax2]
    x = _transpose(a, perm)
    shape = x.shape
    rows = lax.broadcasted_iota(np.int32, shape[-2:], 0)
    cols = lax.broadcasted_iota(np.int32, shape[-2:], 1)
    mask = lax.eq(lax.sub(cols, rows), _const(offset, np.int32))
    mask = lax.broadcast_in_dim(mask, shape, (x.ndim - 2, x.ndim - 1))
    x = _convert(x, out_dtype, a.weak_type and dtype is None)
    x = lax.select(mask, x, _full(shape, 0, x.dtype, x.weak_type))
    return lax.reduce_sum(x, (x.ndim - 2, x.ndim - 1))


def cross(a: ArrayLike, b: ArrayLike, axisa: int = -1, axisb: int = -1, axisc: int = -1,
          axis: int | None = None) -> Array:
    """The cross product of 2- or 3-vectors along the given axes, broadcasting the
    others (numpy.cross).

    Args:
        a, b: arrays whose vector axes have length 2 or 3.
        axisa, axisb: the vector axes of `a` and `b`.
        axisc: the vector axis of the result (3-vectors only).
        axis: if given, overrides `axisa`, `axisb` and `axisc`.

    Returns:
        The cross products (the z component only when both inputs are 2-vectors).
    """
    check_arraylike("cross", a, b)
    a, b = promote_dtypes(a, b)
    if axis is not None:
        axisa = axisb = axisc = axis
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError("lamina.numpy.cross: inputs must have at least one dimension")
    a = _moveaxis(a, canonicalize_axis(operator_index(axisa), a.ndim, "lamina.numpy.cross"),
                  a.ndim - 1)
    b = _moveaxis(b, canonicalize_axis(operator_index(axisb), b.ndim, "lamina.numpy.cross"),
                  b.ndim - 1)
    if a.shape[-1] not in (2, 3) or b.shape[-1] not in (2, 3):
        raise ValueError(f"lamina.numpy.cross: incompatible dimensions for cross product "
                         f"(dimension must be 2 or 3), got shapes {a.shape} and {b.shape}")

    def comp(x: Array, i: int) -> Array:
        if i < x.shape[-1]:
            return getitem(x, (Ellipsis, i))
        return _full(x.shape[:-1], 0, x.dtype, x.weak_type)

    a0, a1, a2 = (comp(a, i) for i in range(3))
    b0, b1, b2 = (comp(b, i) for i in range(3))
    if a.shape[-1] == 2 and b.shape[-1] == 2:
        return _subtract(_multiply(a0, b1), _multiply(a1, b0))
    parts = [_subtract(_multiply(a1, b2), _multiply(a2, b1)),
             _subtract(_multiply(a2, b0), _multiply(a0, b2)),
             _subtract(_multiply(a0, b1), _multiply(a1, b0))]
    shape = parts[0].shape
    c = lax.concatenate([lax.reshape(p, (1,) + shape) for p in parts], 0)
    axisc = canonicalize_axis(operator_index(axisc), c.ndim, "lamina.numpy.cross")
    return _moveaxis(c, 0, axisc)
