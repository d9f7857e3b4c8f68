"""OpRecords for lamina.numpy's tensor contractions (core/numpy/tensor.py).

Each function gets a dtype sweep at one shape and a float32 shape sweep (1-D promotion,
batch broadcasting, 0-d and zero-size operands). References compute in a wide dtype
(int64 / float64 / complex128) with numpy and are cast to jax's result dtype
(`out_dtype`), so narrow integer results wrap exactly as the lamina ones do.
"""
from __future__ import annotations

import functools
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from op_records import (  # noqa: E402
    COMPLEX,
    FLOATS,
    OpRecord,
    bool_,
    complex64,
    float16,
    float32,
    int8,
    int32,
    uint8,
    uint32,
)

import lamina.numpy as lnp  # noqa: E402

INTS_R = (int8, int32, uint8, uint32)  # a representative subset keeps compiles down
NUM_R = INTS_R + FLOATS + COMPLEX
ALL_R = (bool_,) + NUM_R

# NOTE: XLA's CPU dot accumulates in a different order (and, for float32, with FMAs)
# than numpy's float64 reference; a few ulps of float32/complex64 are expected.
DOT_TOL = {float32: 1e-5, complex64: 1e-5, float16: 2e-3}


def _wide(x):
    x = np.asarray(x)
    if np.issubdtype(x.dtype, np.complexfloating):
        return x.astype(np.complex128)
    if x.dtype == np.bool_ or np.issubdtype(x.dtype, np.integer):
        return x.astype(np.int64)
    return x.astype(np.float64)


def wide(fn):
    """A reference that computes `fn` on wide copies of its array arguments."""

    @functools.wraps(fn)
    def ref(*args, **kwargs):
        return fn(*[_wide(a) for a in args], **kwargs)

    return ref


def same(*dts):
    return dts[0]


def sum_dtype(dt, *_):
    """jnp.sum's result dtype (lamina.numpy.trace uses it)."""
    dt = np.dtype(dt)
    if dt == np.bool_ or (np.issubdtype(dt, np.signedinteger) and dt.itemsize < 4):
        return np.dtype(np.int32)
    if np.issubdtype(dt, np.unsignedinteger) and dt.itemsize < 4:
        return np.dtype(np.uint32)
    return dt


def _einsum(eq):
    return (functools.partial(lnp.einsum, eq), wide(functools.partial(np.einsum, eq)))


def _cross_ref(a, b, axisa=-1, axisb=-1, axisc=-1):
    """numpy.cross without its deprecated 2-vector path: pad 2-vectors with a zero z."""
    a, b = np.moveaxis(a, axisa, -1), np.moveaxis(b, axisb, -1)
    two = a.shape[-1] == 2 and b.shape[-1] == 2
    pad = lambda x: np.concatenate([x, np.zeros(x.shape[:-1] + (1,), x.dtype)], -1) \
        if x.shape[-1] == 2 else x  # noqa: E731
    c = np.cross(pad(a), pad(b))
    return c[..., 2] if two else np.moveaxis(c, -1, axisc)


def _vecdot_ref(a, b, axis=-1):
    return np.sum(np.conj(a) * b, axis=axis)


def _matvec_ref(m, v):
    return np.einsum("...ij,...j->...i", m, v)


def _vecmat_ref(v, m):
    return np.einsum("...i,...ij->...j", np.conj(v), m)


RECORDS = [
    OpRecord("lnp.dot", lnp.dot, wide(np.dot), 2, ALL_R, shapes=[((3, 4), (4, 5))],
             out_dtype=same, tol=DOT_TOL),
    OpRecord("lnp.dot_shapes", lnp.dot, wide(np.dot), 2, (float32,),
             shapes=[((), (3,)), ((4,), (4,)), ((2, 3, 4), (4,)), ((3, 4), (2, 4, 5)),
                     ((0, 4), (4, 3)), ((4,), (4, 2))], out_dtype=same, tol=DOT_TOL),
    OpRecord("lnp.matmul", lnp.matmul, wide(np.matmul), 2, ALL_R,
             shapes=[((2, 3, 4), (4, 5))], out_dtype=same, tol=DOT_TOL),
    OpRecord("lnp.matmul_shapes", lnp.matmul, wide(np.matmul), 2, (float32,),
             shapes=[((4,), (4,)), ((4,), (2, 4, 3)), ((2, 3, 4), (4,)),
                     ((2, 1, 3, 4), (5, 4, 2)), ((1, 3, 4), (1, 4, 2)), ((3, 1, 2, 4), (1, 4, 2)),
                     ((0, 4), (4, 3)), ((3, 0), (0, 2)), ((2, 0, 3), (3, 5))],
             out_dtype=same, tol=DOT_TOL),
    OpRecord("lnp.vdot", lnp.vdot, wide(np.vdot), 2, NUM_R, shapes=[((3, 4), (12,))],
             out_dtype=same, tol=DOT_TOL),
    OpRecord("lnp.vecdot", lnp.vecdot, wide(_vecdot_ref), 2, (float32, complex64, int32),
             shapes=[((3, 4), (4,)), ((2, 1, 4), (3, 4)), ((4,), (4,))], out_dtype=same,
             tol=DOT_TOL),
    OpRecord("lnp.vecdot_axis", functools.partial(lnp.vecdot, axis=0),
             wide(functools.partial(_vecdot_ref, axis=0)), 2, (float32,),
             shapes=[((4, 3), (4, 3))], out_dtype=same, tol=DOT_TOL),
    OpRecord("lnp.matvec", lnp.matvec, wide(_matvec_ref), 2, (float32, int8),
             shapes=[((3, 4), (4,)), ((2, 3, 4), (4,)), ((3, 4), (2, 4))], out_dtype=same,
             tol=DOT_TOL),
    OpRecord("lnp.vecmat", lnp.vecmat, wide(_vecmat_ref), 2, (float32, complex64),
             shapes=[((3,), (3, 4)), ((2, 3), (3, 4))], out_dtype=same, tol=DOT_TOL),
    OpRecord("lnp.inner", lnp.inner, wide(np.inner), 2, NUM_R, shapes=[((3, 4), (5, 4))],
             out_dtype=same, tol=DOT_TOL),
    OpRecord("lnp.inner_shapes", lnp.inner, wide(np.inner), 2, (float32,),
             shapes=[((), (3,)), ((4,), (4,)), ((2,), (3, 2)), ((0, 2), (2,))],
             out_dtype=same, tol=DOT_TOL),
    OpRecord("lnp.outer", lnp.outer, wide(np.outer), 2, ALL_R,
             shapes=[((3,), (4,)), ((2, 2), (3,)), ((), (2,))], out_dtype=same),
    OpRecord("lnp.tensordot", lnp.tensordot, wide(np.tensordot), 2, NUM_R,
             shapes=[((2, 3, 4), (3, 4, 5))], out_dtype=same, tol=DOT_TOL),
    OpRecord("lnp.tensordot_axes1", functools.partial(lnp.tensordot, axes=1),
             wide(functools.partial(np.tensordot, axes=1)), 2, (float32,),
             shapes=[((2, 3), (3, 4)), ((5,), (5, 2))], out_dtype=same, tol=DOT_TOL),
    OpRecord("lnp.tensordot_pairs", functools.partial(lnp.tensordot, axes=((0, 2), (2, 0))),
             wide(functools.partial(np.tensordot, axes=((0, 2), (2, 0)))), 2, (float32,),
             shapes=[((2, 3, 4), (4, 5, 2))], out_dtype=same, tol=DOT_TOL),
    OpRecord("lnp.tensordot_0", functools.partial(lnp.tensordot, axes=0),
             wide(functools.partial(np.tensordot, axes=0)), 2, (float32,),
             shapes=[((2, 3), (4,))], out_dtype=same),
    OpRecord("lnp.kron", lnp.kron, wide(np.kron), 2, ALL_R, shapes=[((2, 3), (3, 2))],
             out_dtype=same),
    OpRecord("lnp.kron_shapes", lnp.kron, wide(np.kron), 2, (float32,),
             shapes=[((2,), (2, 3)), ((), (3,)), ((2, 1, 2), (3, 2)), ((0, 2), (2, 2))],
             out_dtype=same),
    OpRecord("lnp.trace", lnp.trace, wide(np.trace), 1, ALL_R, shapes=[((3, 4),)],
             out_dtype=sum_dtype),
    OpRecord("lnp.trace_offset", functools.partial(lnp.trace, offset=1, axis1=2, axis2=0),
             wide(functools.partial(np.trace, offset=1, axis1=2, axis2=0)), 1, (float32,),
             shapes=[((3, 2, 4),), ((2, 2, 2),)], out_dtype=sum_dtype),
    OpRecord("lnp.trace_far_offset", functools.partial(lnp.trace, offset=-5),
             wide(functools.partial(np.trace, offset=-5)), 1, (int32,), shapes=[((3, 4),)],
             out_dtype=sum_dtype),
    OpRecord("lnp.cross", lnp.cross, wide(_cross_ref), 2, NUM_R, shapes=[((4, 3), (4, 3))],
             out_dtype=same),
    OpRecord("lnp.cross_shapes", lnp.cross, wide(_cross_ref), 2, (float32,),
             shapes=[((3,), (2, 3)), ((4, 2), (4, 2)), ((2,), (3,)), ((5, 3), (3,))],
             out_dtype=same),
    OpRecord("lnp.cross_axes", functools.partial(lnp.cross, axisa=0, axisb=1, axisc=0),
             wide(functools.partial(_cross_ref, axisa=0, axisb=1, axisc=0)), 2, (float32,),
             shapes=[((3, 4), (4, 3)), ((2, 5), (5, 3))], out_dtype=same),
    OpRecord("lnp.einsum[ij,jk->ik]", *_einsum("ij,jk->ik"), 2, ALL_R,
             shapes=[((3, 4), (4, 5))], out_dtype=same, tol=DOT_TOL),
    OpRecord("lnp.einsum[ii->i]", *_einsum("ii->i"), 1, ALL_R, shapes=[((3, 3),)],
             out_dtype=same),
    OpRecord("lnp.einsum[bij,bjk->bik]", *_einsum("bij,bjk->bik"), 2, NUM_R,
             shapes=[((2, 3, 4), (2, 4, 5))], out_dtype=same, tol=DOT_TOL),
]
