"""OpRecords for lamina.numpy's shape functions (core/numpy/shape_ops.py) and the
array-to-array constructions of core/numpy/creation.py (tril, triu, diag, diagflat).

Shape functions move values without arithmetic, so numpy on the same dtype is an exact
reference (bfloat16 included). A few rows sweep every dtype at one shape; the others
use a small dtype set over shapes that include 0-d, size-1 and zero-size cases.
Functions returning several arrays (split, unstack, ...) are covered in
test_numpy_shape_ops.py.
"""
from __future__ import annotations

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from op_records import (  # noqa: E402
    ALL,
    OpRecord,
    bfloat16,
    bool_,
    complex64,
    float16,
    float32,
    int8,
    int32,
    rand_nonzero,
    uint8,
)

import lamina.numpy as lnp  # noqa: E402

FEW = (bool_, int32, bfloat16, float32)
NUM = (int32, bfloat16, float32)
REAL = tuple(d for d in ALL if d != complex64)


def _rec(name, fn, ref, shapes, dtypes=FEW, **kw):
    nargs = len(shapes[0])
    return OpRecord(f"lnp.{name}", fn, ref, nargs, dtypes, shapes=shapes, **kw)


def _both(fn_name, *args, **kwargs):
    """(lamina fn, numpy ref) calling `fn_name` with fixed extra arguments."""
    return (lambda *xs: getattr(lnp, fn_name)(*xs, *args, **kwargs),
            lambda *xs: getattr(np, fn_name)(*xs, *args, **kwargs))


def _joined(fn_name, **kwargs):
    """(lamina, numpy) for functions taking a sequence of arrays."""
    return (lambda *xs: getattr(lnp, fn_name)(list(xs), **kwargs),
            lambda *xs: getattr(np, fn_name)(list(xs), **kwargs))


def _trim_sampler(rng, shape, dtype):
    core = rand_nonzero(rng, shape, dtype)
    return np.concatenate([np.zeros(2, core.dtype), core, np.zeros(1, core.dtype)])


RECORDS = [
    # reshaping
    _rec("reshape", *_both("reshape", (-1, 2)), [((3, 4),), ((0, 3),)], ALL),
    _rec("reshape/rank", *_both("reshape", (1, -1)), [((),), ((5,),), ((2, 3, 4),)],
         (float32,)),
    _rec("reshape/F", lambda x: lnp.reshape(x, x.shape[::-1], order="F"),
         lambda x: np.reshape(x, x.shape[::-1], order="F"), [((3, 4),), ((2, 3, 4),)],
         (int8, float32)),
    _rec("ravel", *_both("ravel"), [((),), ((3, 4),), ((0, 3),)], (float32, bool_)),
    _rec("ravel/F", *_both("ravel", order="F"), [((2, 3, 4),)], (float32,)),
    _rec("transpose", *_both("transpose"), [((2, 3, 4),)], ALL),
    _rec("transpose/axes", *_both("transpose", (1, -1, 0)), [((2, 3, 4),)], (float32,)),
    _rec("moveaxis", *_both("moveaxis", 0, -1), [((2, 3, 4),), ((3,),)]),
    _rec("moveaxis/multi", *_both("moveaxis", (0, 1), (2, 0)), [((2, 3, 4),)], (float32,)),
    _rec("swapaxes", *_both("swapaxes", 0, 2), [((2, 3, 4),)]),
    _rec("matrix_transpose", *_both("matrix_transpose"), [((3, 4),), ((2, 3, 4),), ((0, 3),)],
         (float32,)),
    _rec("squeeze", *_both("squeeze"), [((1, 4),), ((1, 3, 1),), ((),), ((0, 1),)]),
    _rec("squeeze/axis", *_both("squeeze", axis=(0, 2)), [((1, 3, 1),)], (float32,)),
    _rec("expand_dims", *_both("expand_dims", (0, 2)), [((3,),), ((2, 3),)]),
    _rec("expand_dims/neg", *_both("expand_dims", -1), [((),), ((2, 3),)], (float32,)),
    # joining
    _rec("concatenate", *_joined("concatenate", axis=1), [((2, 3), (2, 4)), ((2, 0), (2, 1))],
         ALL),
    _rec("concatenate/none", *_joined("concatenate", axis=None), [((2, 3), (4,))],
         (float32,)),
    _rec("concatenate/three", *_joined("concatenate", axis=-1),
         [((2, 1), (2, 0), (2, 3))], (int32,)),
    _rec("stack", *_joined("stack", axis=-1), [((3,), (3,)), ((), ()), ((2, 3), (2, 3))]),
    _rec("hstack", *_joined("hstack"), [((3,), (2,)), ((2, 3), (2, 1)), ((), ())], NUM),
    _rec("vstack", *_joined("vstack"), [((3,), (3,)), ((2, 3), (1, 3))], NUM),
    _rec("dstack", *_joined("dstack"), [((3,), (3,)), ((2, 3), (2, 3))], NUM),
    _rec("column_stack", *_joined("column_stack"), [((3,), (3, 2)), ((), ())], NUM),
    _rec("append", *_both("append", axis=0), [((2, 3), (1, 3))], NUM),
    _rec("append/flat", *_both("append"), [((2, 3), (4,)), ((), ())], (float32,)),
    # tiling, repeating, broadcasting
    _rec("tile", *_both("tile", (2, 1, 3)), [((3,),), ((2, 3),), ((),)]),
    _rec("tile/short", *_both("tile", 2), [((2, 3),), ((0, 2),)], (float32,)),
    _rec("repeat", *_both("repeat", 2, axis=1), [((2, 3),), ((2, 0),)]),
    _rec("repeat/flat", *_both("repeat", 3), [((2, 3),), ((),)], (float32,)),
    _rec("repeat/counts", *_both("repeat", np.array([1, 0, 2]), axis=0), [((3, 4),)], NUM),
    _rec("repeat/many_counts", *_both("repeat", np.arange(12) % 3), [((12,),)], (float32,)),
    _rec("broadcast_to", *_both("broadcast_to", (2, 3, 4)), [((4,),), ((3, 1),), ((),)]),
    _rec("resize", *_both("resize", (3, 5)), [((4,),), ((2, 3),)], NUM),
    # flipping and rolling
    _rec("flip", *_both("flip"), [((3, 4),)], ALL),
    _rec("flip/axis", *_both("flip", axis=(0, 2)), [((2, 3, 4),), ((2, 0, 1),)], (float32,)),
    _rec("fliplr", *_both("fliplr"), [((3, 4),)], (float32,)),
    _rec("flipud", *_both("flipud"), [((3, 4),), ((5,),)], (float32,)),
    _rec("roll", *_both("roll", 2), [((5,),), ((3, 4),), ((0, 3),)]),
    _rec("roll/axes", *_both("roll", (1, -7), axis=(0, 1)), [((3, 4),)], (float32,)),
    _rec("rot90", *_both("rot90"), [((3, 4),)], NUM),
    _rec("rot90/k", *_both("rot90", 3, axes=(1, 2)), [((2, 3, 4),)], (float32,)),
    _rec("rot90/k2", *_both("rot90", -2, axes=(2, 0)), [((2, 3, 4),)], (float32,)),
    _rec("atleast_1d", *_both("atleast_1d"), [((),), ((3,),), ((2, 3),)], (float32,)),
    _rec("atleast_2d", *_both("atleast_2d"), [((),), ((3,),), ((2, 3),)], (float32,)),
    _rec("atleast_3d", *_both("atleast_3d"), [((),), ((3,),), ((2, 3),), ((1, 2, 3),)],
         (float32,)),
    # deleting and inserting (static positions)
    _rec("delete", *_both("delete", [0, 2], axis=1), [((3, 4),)], FEW),
    _rec("delete/int", *_both("delete", -1), [((5,),), ((2, 3),)], (float32,)),
    _rec("delete/slice", *_both("delete", slice(1, None, 2), axis=0), [((5, 2),)], (float32,)),
    _rec("insert", *_both("insert", 1, 9), [((5,),), ((2, 3),)], (int32, float32)),
    _rec("insert/axis", *_both("insert", [0, 2, 2], 7, axis=1), [((2, 3),)], NUM),
    _rec("trim_zeros", *_both("trim_zeros"), [((5,),)], NUM, sampler=_trim_sampler),
    _rec("trim_zeros/f", *_both("trim_zeros", "f"), [((5,),)], (float32,),
         sampler=_trim_sampler),
    # diagonals and triangles
    _rec("diagonal", *_both("diagonal"), [((3, 4),), ((4, 3),), ((2, 3, 4),), ((0, 3),)]),
    _rec("diagonal/offset", *_both("diagonal", 1), [((3, 4),), ((2, 2),)], (float32,)),
    _rec("diagonal/axes", *_both("diagonal", -1, 2, 0), [((2, 3, 4),)], (float32,)),
    _rec("diag", *_both("diag"), [((3,),), ((3, 4),), ((0,),)]),
    _rec("diag/k", *_both("diag", 1), [((3,),), ((3, 4),)], (float32,)),
    _rec("diag/neg_k", *_both("diag", -2), [((3,),), ((4, 3),)], (int32,)),
    _rec("diagflat", *_both("diagflat", -1), [((2, 2),), ((3,),)], (float32,)),
    _rec("tril", *_both("tril"), [((3, 4),), ((2, 3, 4),), ((0, 2),)]),
    _rec("tril/k", *_both("tril", -1), [((4, 3),)], (float32,)),
    _rec("triu", *_both("triu", 1), [((3, 4),), ((2, 3, 4),)]),
    _rec("astype", *_both("astype", np.float32), [((3, 4),)], REAL),
]


def _pad_rec(mode, dtypes, widths=((1, 2), (3, 0)), shapes=((3, 4),), suffix="", ref=None,
             **kwargs):
    fn = lambda x: lnp.pad(x, widths, mode=mode, **kwargs)  # noqa: E731
    ref = ref or (lambda x: np.pad(x, widths, mode=mode, **kwargs))
    return _rec(f"pad/{mode}{suffix}", fn, ref, [(s,) for s in shapes], dtypes)


RECORDS += [
    _pad_rec("constant", ALL),
    _pad_rec("constant", (float32, int32), suffix="/values", constant_values=((1, 2), (3, 4))),
    _pad_rec("edge", NUM),
    _pad_rec("wrap", NUM),
    _pad_rec("wrap", (float32,), widths=((7, 9),), shapes=((3,),), suffix="/long"),
    _pad_rec("reflect", NUM),
    _pad_rec("reflect", (float32,), widths=((7, 9),), shapes=((3,), (1,)), suffix="/long"),
    _pad_rec("reflect", (float32, int32), widths=((5, 4),), shapes=((3,),), suffix="/odd",
             reflect_type="odd"),
    _pad_rec("symmetric", NUM),
    _pad_rec("symmetric", (float32,), widths=((7, 9),), shapes=((3,),), suffix="/long"),
    _pad_rec("symmetric", (float32,), widths=((5, 4),), shapes=((3,),), suffix="/odd",
             reflect_type="odd"),
    _pad_rec("maximum", (int32, float32)),
    _pad_rec("minimum", (uint8, float16)),
    _pad_rec("mean", (int32, float32)),
    _pad_rec("mean", (float32,), suffix="/stat_length", stat_length=((1, 2), (2, 3))),
    _pad_rec("median", (int32, float32), shapes=((3, 4), (4, 5))),
    _pad_rec("linear_ramp", (float32,), end_values=((1, -2), (3, 4))),
    _pad_rec("empty", (float32, bool_), ref=lambda x: np.pad(x, ((1, 2), (3, 0)))),
]
