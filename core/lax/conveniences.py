"""Small jax.lax conveniences built from other primitives: `tile`, `stack`, `unstack`,
`broadcast_shapes`, `broadcast_like`, `empty`, `index_take`, plus the one primitive of
the family, `mulhi` (the high half of an integer product).

Everything except `mulhi` is a composition, so it inherits the JVP, transpose, batching
and lowering rules of the primitives it builds.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from lamina import dtypes
from lamina.backend.array import Array
from lamina.interpreters import ad, batching, eval as eval_interp, lowering
from lamina.interpreters.lowering import RuleContext, Value
from lamina.ir import AbstractArray, Primitive
from lamina.lax._util import (ArrayLike, DTypeLike, aval_of, canonicalize_axis,
                              canonicalize_shape, convert_python_scalars,
                              naryop_abstract_eval)

__all__ = [
    "broadcast_like",
    "broadcast_shapes",
    "dtype",
    "empty",
    "index_take",
    "mulhi",
    "shape_as_value",
    "stack",
    "stage",
    "tile",
    "unstack",
]


def _lax() -> Any:
    import lamina.lax as lax  # NOTE: lazily, lamina.lax imports this module
    return lax


# --------------------------------------------------------------------------------------
# Shapes
# --------------------------------------------------------------------------------------


def broadcast_shapes(*shapes: Sequence[int]) -> tuple[int, ...]:
    """The shape that `shapes` broadcast to, numpy style (trailing dimensions aligned,
    size-1 dimensions stretch).

    Raises:
        ValueError: when two shapes have different sizes (neither 1) in one dimension.

    >>> from lamina import lax
    >>> lax.broadcast_shapes((2, 1), (3,))
    (2, 3)
    """
    shapes = [canonicalize_shape(s, "broadcast_shapes") for s in shapes]
    if not shapes:
        return ()
    rank = max(len(s) for s in shapes)
    padded = [(1,) * (rank - len(s)) + s for s in shapes]
    out = []
    for sizes in zip(*padded):
        big = {d for d in sizes if d != 1}
        if len(big) > 1:
            raise ValueError(f"Incompatible shapes for broadcasting: shapes={list(shapes)}")
        out.append(big.pop() if big else 1)
    return tuple(out)


def broadcast_like(arr: ArrayLike, like_arr: ArrayLike) -> Array:
    """Broadcast `arr` to the shape of `like_arr` (trailing dimensions aligned).

    >>> import lamina.numpy as lnp
    >>> from lamina import lax
    >>> lax.broadcast_like(lnp.arange(3), lnp.zeros((2, 3)))
    Array([[0, 1, 2],
           [0, 1, 2]], dtype=int32)
    """
    lax = _lax()
    shape = aval_of(like_arr).shape
    a = aval_of(arr)
    if a.ndim > len(shape):
        raise ValueError(f"broadcast_like: cannot broadcast {a.str_short()} to the lower-"
                         f"rank shape {shape}")
    return lax.broadcast_in_dim(arr, shape, tuple(range(len(shape) - a.ndim, len(shape))))


def shape_as_value(shape: Sequence[int]) -> Any:
    """`shape` as a 1-d integer array (int32, or int64 for a dimension past int32's
    range).

    >>> from lamina import lax
    >>> lax.shape_as_value((2, 3))
    array([2, 3], dtype=int32)
    """
    shape = canonicalize_shape(shape, "shape_as_value")
    dtype = np.int64 if any(d > np.iinfo(np.int32).max for d in shape) else np.int32
    if not shape:
        return _lax().full((0,), 0, np.int32)
    return np.asarray(shape, dtype=dtype)


def dtype(x: Any) -> np.dtype:
    """The dtype lamina gives `x` (a Python scalar, an array, a dtype-like...),
    canonicalized for the x64 setting.

    >>> import numpy as np
    >>> from lamina import lax
    >>> lax.dtype(1.0), lax.dtype(np.arange(3, dtype=np.int8))
    (dtype('float32'), dtype('int8'))
    """
    if x is None:
        raise ValueError("Invalid argument to dtype: None.")
    return dtypes.dtype_of(x)


# --------------------------------------------------------------------------------------
# stage
# --------------------------------------------------------------------------------------

stage_p = Primitive("stage")


def stage(x: ArrayLike, /) -> Array:
    """The identity, lifting `x` (a Python scalar, a numpy array...) into the current
    trace: a traced value under `jit` and other transformations, a lamina Array
    outside them.

    >>> import numpy as np
    >>> from lamina import lax
    >>> lax.stage(np.float32(2.0))
    Array(2., dtype=float32)
    """
    return stage_p.bind(x)


stage_p.def_abstract_eval(lambda x: x)
ad.deflinear(stage_p, lambda ct, x: [ct])
batching.defvectorized(stage_p)
lowering.register_lowering(stage_p, lambda ctx, x: x)
eval_interp.impl_rules[stage_p] = eval_interp.to_array
eval_interp.raw_impl_primitives.add(stage_p)


# --------------------------------------------------------------------------------------
# Creation and joining
# --------------------------------------------------------------------------------------


def empty(shape: Any, dtype: DTypeLike, *, out_sharding: Any = None) -> Array:
    """An array of `shape` and `dtype` whose values are unspecified (zeros here, as
    jax on CPU/GPU).

    >>> import numpy as np
    >>> from lamina import lax
    >>> lax.empty((2,), np.float32).shape
    (2,)
    """
    if out_sharding is not None:
        raise NotImplementedError("lax.empty: out_sharding is not supported by lamina")
    if isinstance(shape, (int, np.integer)):
        shape = (int(shape),)
    shape = canonicalize_shape(shape, "empty")
    return _lax().full(shape, 0, dtype)


def tile(operand: ArrayLike, reps: Sequence[int]) -> Array:
    """Repeat `operand` `reps[i]` times along each dimension i.

    Args:
        operand: an array.
        reps: one non-negative repeat count per dimension of `operand`.

    Returns:
        An array of shape `(operand.shape[0] * reps[0], ...)`.

    >>> import lamina.numpy as lnp
    >>> from lamina import lax
    >>> lax.tile(lnp.array([[1, 2], [3, 4]]), (2, 3))
    Array([[1, 2, 1, 2, 1, 2],
           [3, 4, 3, 4, 3, 4],
           [1, 2, 1, 2, 1, 2],
           [3, 4, 3, 4, 3, 4]], dtype=int32)
    """
    lax = _lax()
    a = aval_of(operand)
    reps = canonicalize_shape(reps, "tile")
    if len(reps) != a.ndim:
        raise ValueError(f"tile: len(reps) must equal operand.ndim, got reps={reps} for "
                         f"{a.str_short()}")
    # (r0, s0, r1, s1, ...): each operand dimension sits after its repeat axis
    wide = tuple(x for r, s in zip(reps, a.shape) for x in (r, s))
    x = lax.broadcast_in_dim(operand, wide, tuple(range(1, 2 * a.ndim, 2)))
    return lax.reshape(x, tuple(r * s for r, s in zip(reps, a.shape)))


def stack(operands: Sequence[ArrayLike], axis: int = 0) -> Array:
    """Stack arrays of one shape and dtype along a new axis `axis`.

    >>> import lamina.numpy as lnp
    >>> from lamina import lax
    >>> lax.stack([lnp.arange(2), lnp.arange(2) + 5], axis=1)
    Array([[0, 5],
           [1, 6]], dtype=int32)
    """
    lax = _lax()
    operands = list(operands)
    if not operands:
        raise ValueError("stack: need at least one operand")
    ndim = aval_of(operands[0]).ndim
    axis = canonicalize_axis(axis, ndim + 1, "stack")
    return lax.concatenate([lax.expand_dims(x, (axis,)) for x in operands], axis)


def unstack(x: ArrayLike, axis: int = 0) -> tuple[Array, ...]:
    """Split `x` along `axis` into a tuple of `x.shape[axis]` arrays without that axis.

    >>> import lamina.numpy as lnp
    >>> from lamina import lax
    >>> lax.unstack(lnp.arange(4).reshape(2, 2), axis=1)
    (Array([0, 2], dtype=int32), Array([1, 3], dtype=int32))
    """
    lax = _lax()
    a = aval_of(x)
    if a.ndim == 0:
        raise ValueError("unstack: the operand must have at least one dimension, got "
                         + a.str_short())
    axis = canonicalize_axis(axis, a.ndim, "unstack")
    return tuple(lax.index_in_dim(x, i, axis, keepdims=False) for i in range(a.shape[axis]))


# --------------------------------------------------------------------------------------
# index_take
# --------------------------------------------------------------------------------------


def index_take(src: ArrayLike, idxs: Sequence[ArrayLike], axes: Sequence[int]) -> Array:
    """Gather `src[idxs[0], idxs[1], ...]` where `idxs[k]` indexes axis `axes[k]`;
    indices wrap modulo the axis size (negative indices count from the end).

    Args:
        src: the array to read.
        idxs: integer index arrays of one 1-d shape `(n,)`, one per axis in `axes`.
        axes: the axes of `src` that `idxs` index.

    Returns:
        An array of shape `(n,) + (the sizes of the other axes of src)`.

    >>> import lamina.numpy as lnp
    >>> from lamina import lax
    >>> x = lnp.arange(12).reshape(3, 4)
    >>> lax.index_take(x, (lnp.array([0, 2, -1]), lnp.array([1, 3, 5])), (0, 1))
    Array([ 1, 11,  9], dtype=int32)
    """
    lax = _lax()
    s = aval_of(src)
    axes = tuple(canonicalize_axis(a, s.ndim, "index_take") for a in axes)
    idxs = list(idxs)
    if len(idxs) != len(axes) or not idxs:
        raise ValueError(f"index_take: need one index array per axis, got {len(idxs)} "
                         f"index arrays for axes {axes}")
    indices = lax.concatenate([lax.expand_dims(i, (1,)) for i in idxs], 1)
    sizes = np.array([s.shape[a] for a in axes], dtype=aval_of(indices).dtype)
    sizes = lax.broadcast_in_dim(sizes, aval_of(indices).shape, (1,))
    indices = lax.rem(lax.add(lax.rem(indices, sizes), sizes), sizes)
    slice_sizes = tuple(1 if d in axes else n for d, n in enumerate(s.shape))
    offset_dims = tuple(range(1, s.ndim - len(axes) + 1))
    dnums = lax.GatherDimensionNumbers(offset_dims=offset_dims, collapsed_slice_dims=axes,
                                       start_index_map=axes)
    return lax.gather(src, indices, dimension_numbers=dnums, slice_sizes=slice_sizes)


# --------------------------------------------------------------------------------------
# mulhi
# --------------------------------------------------------------------------------------

mulhi_p = Primitive("mulhi")


def mulhi(x: ArrayLike, y: ArrayLike, /) -> Array:
    """Elementwise multiply-high: the upper N bits of the 2N-bit product of N-bit
    integers (signed or unsigned as the operands).

    >>> import numpy as np
    >>> from lamina import lax
    >>> lax.mulhi(np.uint32(3_000_000_000), np.uint32(3_000_000_000))
    Array(2095475792, dtype=uint32)
    """
    x, y = convert_python_scalars("mulhi", x, y)
    return mulhi_p.bind(x, y)


def _is_int(dtype: np.dtype) -> bool:
    return np.issubdtype(dtype, np.integer)


mulhi_p.def_abstract_eval(naryop_abstract_eval("mulhi", _is_int))
ad.defjvp_zero(mulhi_p)
batching.defbroadcasting(mulhi_p)


def _mulhi_lower(ctx: RuleContext, x: Value, y: Value) -> Value:
    x, y = lowering.broadcast_scalar_operands(ctx, [x, y])
    aval = ctx.aval_out
    dtype = np.dtype(aval.dtype)
    bits = dtype.itemsize * 8
    signed = np.issubdtype(dtype, np.signedinteger)

    def op(name: str, a: AbstractArray, *args: Value) -> Value:
        return ctx.op(f"stablehlo.{name}", list(args), a)

    if bits < 64:
        wide = aval.update(dtype=np.dtype(f"{'i' if signed else 'u'}{bits // 4}"))
        xw, yw = op("convert", wide, x), op("convert", wide, y)
        prod = op("multiply", wide, xw, yw)
        shift = ctx.constant(np.array(bits, wide.dtype), wide)
        hi = op("shift_right_arithmetic" if signed else "shift_right_logical", wide, prod, shift)
        return op("convert", aval, hi)
    # 64 bits: the unsigned high word from 32-bit halves, then the signed correction
    u = aval.update(dtype=np.dtype(np.uint64))
    xu, yu = op("convert", u, x), op("convert", u, y)
    mask = ctx.constant(np.uint64(0xFFFFFFFF), u)
    s32 = ctx.constant(np.uint64(32), u)
    x_lo, x_hi = op("and", u, xu, mask), op("shift_right_logical", u, xu, s32)
    y_lo, y_hi = op("and", u, yu, mask), op("shift_right_logical", u, yu, s32)
    ll, lh = op("multiply", u, x_lo, y_lo), op("multiply", u, x_lo, y_hi)
    hl, hh = op("multiply", u, x_hi, y_lo), op("multiply", u, x_hi, y_hi)
    mid = op("add", u, op("add", u, op("shift_right_logical", u, ll, s32),
                          op("and", u, lh, mask)), op("and", u, hl, mask))
    hi = op("add", u, op("add", u, op("add", u, hh, op("shift_right_logical", u, lh, s32)),
                         op("shift_right_logical", u, hl, s32)),
            op("shift_right_logical", u, mid, s32))
    if not signed:
        return hi
    zero = ctx.constant(np.int64(0), aval)
    cmp_aval = aval.update(dtype=np.dtype(np.bool_))
    zero_u = ctx.constant(np.uint64(0), u)

    def neg_term(v: Value, other_u: Value) -> Value:
        isneg = ctx.op("stablehlo.compare", [v, zero], cmp_aval,
                       {"comparison_direction": "#stablehlo<comparison_direction LT>"})
        return ctx.op("stablehlo.select", [isneg, other_u, zero_u], u)

    hi = op("subtract", u, op("subtract", u, hi, neg_term(x, yu)), neg_term(y, xu))
    return op("convert", aval, hi)


lowering.register_lowering(mulhi_p, _mulhi_lower)
