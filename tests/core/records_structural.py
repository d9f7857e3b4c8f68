"""OpRecords for lamina.lax's shape and layout ops (structural.py) against numpy:
np.broadcast_to, np.reshape, np.transpose, np.flip, basic slicing, np.concatenate,
np.arange, np.full, plus small numpy models of XLA's pad and clamped dynamic slices."""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from op_records import ALL, NUMERIC, OpRecord, bfloat16, bool_, float32, int8, int32  # noqa: E402

from lamina.lax import structural as S  # noqa: E402

# --------------------------------------------------------------------------------------
# numpy models
# --------------------------------------------------------------------------------------


def np_pad(x, value, config):
    """XLA's pad: interior padding, then edge padding (negative edges crop)."""
    value = np.asarray(value, x.dtype)
    for axis, (lo, hi, interior) in enumerate(config):
        n = x.shape[axis]
        size = 0 if n == 0 else n + (n - 1) * interior
        shape = list(x.shape)
        shape[axis] = size + max(lo, 0) + max(hi, 0)
        out = np.full(shape, value, x.dtype)
        index = [slice(None)] * x.ndim
        index[axis] = slice(max(lo, 0), max(lo, 0) + size, interior + 1)
        out[tuple(index)] = x
        index[axis] = slice(max(-lo, 0), shape[axis] - max(-hi, 0))
        x = out[tuple(index)]
    return x


def _clamped_starts(shape, starts, sizes):
    """jax's start-index semantics: wrap negatives once, then clamp into [0, d - s]."""
    out = []
    for d, s, i in zip(shape, sizes, starts):
        i = i + d if i < 0 else i
        out.append(min(max(i, 0), d - s))
    return out


def np_dynamic_slice(x, starts, sizes):
    starts = _clamped_starts(x.shape, starts, sizes)
    return x[tuple(slice(i, i + s) for i, s in zip(starts, sizes))]


def np_dynamic_update_slice(x, update, starts):
    starts = _clamped_starts(x.shape, starts, update.shape)
    out = x.copy()
    out[tuple(slice(i, i + s) for i, s in zip(starts, update.shape))] = update
    return out


def _strided_slice_params(shape):
    """start 1 (or 0 on empty dims), limit = dim, stride 2 in every dimension."""
    starts = tuple(min(1, d) for d in shape)
    return starts, tuple(shape), (2,) * len(shape)


def _pad_config(ndim):
    return [(1, 2, 1), (-1, 0, 2), (0, -1, 0)][:ndim]


# Shape sweeps: scalar, vector, matrix, size-1 dims, zero-size.
_ANY = [((),), ((5,),), ((3, 4),), ((0, 3),)]
_RANK1_PLUS = [((5,),), ((3, 4),), ((0, 3),)]

RECORDS = [
    # ---- broadcast_in_dim and its compositions
    OpRecord("lax_broadcast_in_dim_leading",
             lambda x: S.broadcast_in_dim(x, (2,) + x.shape, tuple(range(1, x.ndim + 1))),
             lambda x: np.broadcast_to(x, (2,) + x.shape), 1, ALL, shapes=_ANY),
    OpRecord("lax_broadcast_in_dim_unit_dims",
             lambda x: S.broadcast_in_dim(x, (3, 2, 4), (0, 2)),
             lambda x: np.broadcast_to(x[:, None, :], (3, 2, 4)), 1, ALL,
             shapes=[((3, 1),), ((1, 4),), ((3, 4),)]),
    OpRecord("lax_broadcast_in_dim_zero_size",
             lambda x: S.broadcast_in_dim(x, (0, 4), (1,)),
             lambda x: np.broadcast_to(x, (0, 4)), 1, (bool_, int32, float32),
             shapes=[((1,),), ((4,),)]),
    OpRecord("lax_broadcast", lambda x: S.broadcast(x, (2, 3)),
             lambda x: np.broadcast_to(x, (2, 3) + x.shape), 1, ALL, shapes=[((),), ((0, 4),)]),
    OpRecord("lax_broadcast_to_rank", lambda x: S.broadcast_to_rank(x, 3),
             lambda x: x.reshape((1,) * (3 - x.ndim) + x.shape), 1, (int32, float32),
             shapes=_ANY),
    OpRecord("lax_expand_dims", lambda x: S.expand_dims(x, (0, -1)),
             lambda x: np.expand_dims(x, (0, -1)), 1, ALL, shapes=[((),), ((3, 4),)]),
    # ---- reshape and friends
    OpRecord("lax_reshape", lambda x: S.reshape(x, x.shape[::-1] + (1,)),
             lambda x: np.reshape(x, x.shape[::-1] + (1,)), 1, ALL,
             shapes=[((),), ((2, 3, 4),), ((0, 3),)]),
    OpRecord("lax_reshape_dimensions", lambda x: S.reshape(x, (4, 6), (2, 0, 1)),
             lambda x: np.transpose(x, (2, 0, 1)).reshape(4, 6), 1, ALL,
             shapes=[((2, 3, 4),)]),
    OpRecord("lax_collapse", lambda x: S.collapse(x, 1),
             lambda x: x.reshape(x.shape[0], -1), 1, (bool_, int8, bfloat16, float32),
             shapes=[((2, 3, 4),), ((3, 0, 2),), ((3,),)]),
    OpRecord("lax_collapse_middle", lambda x: S.collapse(x, 0, -1),
             lambda x: x.reshape(-1, x.shape[-1]), 1, (int32,), shapes=[((2, 3, 4),)]),
    OpRecord("lax_squeeze", lambda x: S.squeeze(x, (0, -1)),
             lambda x: np.squeeze(x, (0, x.ndim - 1)), 1, ALL,
             shapes=[((1, 3, 1),), ((1, 1),), ((1, 0, 1),)]),
    # ---- transpose, rev
    OpRecord("lax_transpose", lambda x: S.transpose(x, tuple(range(x.ndim))[::-1]),
             np.transpose, 1, ALL, shapes=[((),), ((3, 4),), ((0, 3),)]),
    OpRecord("lax_transpose_3d", lambda x: S.transpose(x, (2, 0, -2)),
             lambda x: np.transpose(x, (2, 0, 1)), 1, (bool_, int32, bfloat16, float32),
             shapes=[((2, 3, 4),)]),
    OpRecord("lax_rev", lambda x: S.rev(x, tuple(range(x.ndim))),
             lambda x: np.flip(x, tuple(range(x.ndim))), 1, ALL, shapes=_ANY),
    OpRecord("lax_rev_some", lambda x: S.rev(x, (-1, 0)), lambda x: np.flip(x, (0, 2)), 1,
             (int32, float32), shapes=[((2, 3, 4),)]),
    # ---- static slices
    OpRecord("lax_slice_strided", lambda x: S.slice(x, *_strided_slice_params(x.shape)),
             lambda x: x[tuple(slice(s, lim, st) for s, lim, st
                               in zip(*_strided_slice_params(x.shape)))], 1, ALL,
             shapes=[((),), ((7,),), ((4, 5),), ((0, 3),)]),
    OpRecord("lax_slice", lambda x: S.slice(x, (1, 0), (3, 0)), lambda x: x[1:3, 0:0], 1,
             (bool_, float32), shapes=[((4, 5),)]),
    OpRecord("lax_slice_in_dim", lambda x: S.slice_in_dim(x, -3, None, 2, axis=-1),
             lambda x: x[..., -3::2], 1, (int32, bfloat16, float32),
             shapes=[((7,),), ((2, 5),)]),
    OpRecord("lax_index_in_dim", lambda x: S.index_in_dim(x, -1, axis=1, keepdims=False),
             lambda x: x[:, -1], 1, (bool_, int32, float32), shapes=[((3, 4),), ((0, 2),)]),
    OpRecord("lax_index_in_dim_keepdims", lambda x: S.index_in_dim(x, 1),
             lambda x: x[1:2], 1, (int32,), shapes=[((3, 4),)]),
    # ---- dynamic slices (static indices here; array/traced indices in test_lax_structural)
    OpRecord("lax_dynamic_slice", lambda x: S.dynamic_slice(x, (1, -1), (2, 2)),
             lambda x: np_dynamic_slice(x, (1, -1), (2, 2)), 1, ALL, shapes=[((3, 4),)]),
    OpRecord("lax_dynamic_slice_clamped", lambda x: S.dynamic_slice(x, (7, -9), (2, 0)),
             lambda x: np_dynamic_slice(x, (7, -9), (2, 0)), 1, (int32, float32),
             shapes=[((3, 4),), ((2, 3),)]),
    OpRecord("lax_dynamic_slice_scalar", lambda x: S.dynamic_slice(x, (), ()),
             lambda x: x, 1, (bool_, float32), shapes=[((),)]),
    OpRecord("lax_dynamic_slice_zero_size", lambda x: S.dynamic_slice(x, (2, 1), (0, 2)),
             lambda x: np_dynamic_slice(x, (2, 1), (0, 2)), 1, (int32, bfloat16),
             shapes=[((0, 3),)]),
    OpRecord("lax_dynamic_slice_in_dim",
             lambda x: S.dynamic_slice_in_dim(x, -2, 3, axis=1),
             lambda x: np_dynamic_slice(x, (0, -2), (x.shape[0], 3)), 1, (int32, float32),
             shapes=[((2, 5),)]),
    OpRecord("lax_dynamic_index_in_dim",
             lambda x: S.dynamic_index_in_dim(x, np.int8(5), axis=0, keepdims=False),
             lambda x: x[-1], 1, (bool_, float32), shapes=[((3, 4),)]),
    OpRecord("lax_dynamic_update_slice",
             lambda x, u: S.dynamic_update_slice(x, u, (-1, 3)[:x.ndim]),
             lambda x, u: np_dynamic_update_slice(x, u, (-1, 3)[:x.ndim]), 2, ALL,
             shapes=[((4, 5), (2, 3)), ((5,), (5,)), ((0, 3), (0, 2))]),
    OpRecord("lax_dynamic_update_slice_scalar", lambda x, u: S.dynamic_update_slice(x, u, ()),
             lambda x, u: u, 2, (int32, float32), shapes=[((), ())]),
    OpRecord("lax_dynamic_update_slice_in_dim",
             lambda x, u: S.dynamic_update_slice_in_dim(x, u, np.uint8(1), axis=1),
             lambda x, u: np_dynamic_update_slice(x, u, (0, 1)), 2, (int32, float32),
             shapes=[((3, 5), (2, 2))]),
    OpRecord("lax_dynamic_update_index_in_dim",
             lambda x, u: S.dynamic_update_index_in_dim(x, u, -1, 0),
             lambda x, u: np_dynamic_update_slice(x, u[None], (-1, 0)), 2, (bool_, float32),
             shapes=[((3, 4), (4,))]),
    # ---- concatenate, pad, split
    OpRecord("lax_concatenate", lambda *xs: S.concatenate(xs, 1),
             lambda *xs: np.concatenate(xs, 1), 3, ALL,
             shapes=[((2, 3), (2, 1), (2, 0)), ((0, 2), (0, 3), (0, 1))]),
    OpRecord("lax_concatenate_axis0", lambda *xs: S.concatenate(xs, -1),
             lambda *xs: np.concatenate(xs, 0), 2, (bool_, int32, float32),
             shapes=[((0,), (3,)), ((2,), (3,))]),
    OpRecord("lax_pad", lambda x, v: S.pad(x, v, _pad_config(x.ndim)),
             lambda x, v: np_pad(x, v, _pad_config(x.ndim)), 2, ALL,
             shapes=[((), ()), ((5,), ()), ((3, 4), ()), ((0, 2), ())]),
    OpRecord("lax_pad_crop", lambda x, v: S.pad(x, v, [(-2, -1, 0), (0, -4, 1)]),
             lambda x, v: np_pad(x, v, [(-2, -1, 0), (0, -4, 1)]), 2, (int32, float32),
             shapes=[((4, 3), ())]),
    OpRecord("lax_split", lambda x: S.split(x, (1, 0, 2), axis=-1)[2],
             lambda x: x[..., 1:3], 1, ALL, shapes=[((3,),), ((0, 3),)]),
    # ---- iota and full (the dummy 0-d argument carries the dtype / the fill value)
    OpRecord("lax_iota", lambda x: S.iota(x.dtype, 6), lambda x: np.arange(6).astype(x.dtype),
             1, NUMERIC, shapes=[((),)]),
    OpRecord("lax_broadcasted_iota", lambda x: S.broadcasted_iota(x.dtype, (3, 4), -1),
             lambda x: np.broadcast_to(np.arange(4), (3, 4)).astype(x.dtype), 1, NUMERIC,
             shapes=[((),)]),
    OpRecord("lax_broadcasted_iota_zero_size",
             lambda x: S.broadcasted_iota(x.dtype, (0, 3), 0),
             lambda x: np.zeros((0, 3), x.dtype), 1, (int32, float32), shapes=[((),)]),
    OpRecord("lax_full", lambda v: S.full((2, 3), v), lambda v: np.full((2, 3), v), 1, ALL,
             shapes=[((),)]),
    OpRecord("lax_full_dtype", lambda v: S.full((4,), v, np.int32),
             lambda v: np.full((4,), v).astype(np.int32), 1, (bool_, int8, float32, bfloat16),
             shapes=[((),)]),
    OpRecord("lax_full_like", lambda x, v: S.full_like(x, v), lambda x, v: np.full_like(x, v),
             2, ALL, shapes=[((3, 4), ()), ((0, 2), ())]),
    OpRecord("lax_full_like_shape", lambda x: S.full_like(x, 2, np.float32, (2, 1)),
             lambda x: np.full((2, 1), 2, np.float32), 1, (bool_, int32), shapes=[((3,),)]),
    OpRecord("lax_zeros_like_array", S.zeros_like_array, np.zeros_like, 1, ALL, shapes=_ANY),
]
