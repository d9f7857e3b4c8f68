"""OpRecords for lamina.lax's reductions, cumulative reductions, sorting and windowed
reductions, against numpy references (computed wide, then cast to the operand dtype)."""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from op_records import (  # noqa: E402
    ALL,
    FLOATS,
    INTS,
    NUMERIC,
    OpRecord,
    bool_,
    complex64,
    float32,
    int32,
    uint8,
)

from lamina.lax import reductions as lax_red  # noqa: E402

ORDERED = (bool_,) + INTS + FLOATS
BOOL_INTS = (bool_,) + INTS


def _wide(x: np.ndarray) -> np.ndarray:
    """x in a dtype numpy computes exactly/accurately in (int64, float64, complex128)."""
    if x.dtype == bool_:
        return x
    if np.issubdtype(x.dtype, np.integer):
        return x.astype(np.int64)
    return x.astype(np.complex128 if np.issubdtype(x.dtype, np.complexfloating) else np.float64)


def _identity(kind: str, dtype: np.dtype):
    if kind == "max":
        if dtype == bool_:
            return False
        return np.iinfo(dtype).min if np.issubdtype(dtype, np.integer) else -np.inf
    if dtype == bool_:
        return True
    return np.iinfo(dtype).max if np.issubdtype(dtype, np.integer) else np.inf


def _np_reduce(kind: str):
    """numpy reference of lax.reduce_<kind>(x, axes), in the operand's dtype."""

    def ref(x, axes):
        axes = tuple(axes)
        if kind in ("sum", "prod"):
            fn = np.sum if kind == "sum" else np.prod
            return np.asarray(fn(_wide(x), axis=axes)).astype(x.dtype)
        if kind in ("max", "min"):
            fn = np.max if kind == "max" else np.min
            init = _identity(kind, x.dtype)
            if np.issubdtype(x.dtype, np.floating) and x.dtype != float32:
                return np.asarray(fn(x.astype(float32), axis=axes, initial=init)).astype(x.dtype)
            return np.asarray(fn(x, axis=axes, initial=init))
        ufunc = {"and": np.bitwise_and, "or": np.bitwise_or, "xor": np.bitwise_xor}[kind]
        return np.asarray(ufunc.reduce(x, axis=axes)).astype(x.dtype)

    return ref


def _np_cumulative(kind: str):
    ufunc = {"sum": np.add, "prod": np.multiply, "max": np.maximum, "min": np.minimum,
             "logsumexp": np.logaddexp}[kind]

    def ref(x, axis=0, reverse=False):
        y = _wide(x)
        if reverse:
            y = np.flip(y, axis)
        y = ufunc.accumulate(y, axis=axis)
        if reverse:
            y = np.flip(y, axis)
        return y.astype(x.dtype)

    return ref


def _np_sort(x, dimension=-1):
    # NOTE: argsort of a wide copy: numpy cannot sort bfloat16 NaNs reliably.
    order = np.argsort(_wide(x), axis=dimension, kind="stable")
    return np.take_along_axis(x, order, axis=dimension)


def np_reduce_window(x, kind, window_dimensions, window_strides, padding, base_dilation=None,
                     window_dilation=None):
    """Windowed reduction by dilating, padding (with the identity) and sliding a view."""
    ndim = x.ndim
    base_dilation = base_dilation or (1,) * ndim
    window_dilation = window_dilation or (1,) * ndim
    identity = 0 if kind == "sum" else _identity(kind, x.dtype)
    y = _wide(x)
    dilated = [max(0, 1 + b * (d - 1)) for d, b in zip(x.shape, base_dilation)]
    z = np.full(dilated, identity, y.dtype)
    z[tuple(slice(None, None, b) for b in base_dilation)] = y
    for axis, (lo, hi) in enumerate(padding):
        pad = [(0, 0)] * ndim
        pad[axis] = (max(lo, 0), max(hi, 0))
        z = np.pad(z, pad, constant_values=identity)
        n = z.shape[axis]
        z = np.take(z, range(max(-lo, 0), n - max(-hi, 0)), axis=axis)
    window = [1 + d * (w - 1) for w, d in zip(window_dimensions, window_dilation)]
    out_shape = [max(0, (p - w) // s + 1) for p, w, s in zip(z.shape, window, window_strides)]
    if 0 in out_shape:
        return np.zeros(out_shape, x.dtype)
    view = np.lib.stride_tricks.sliding_window_view(z, window)
    view = view[tuple(slice(None, None, s) for s in window_strides)
                + tuple(slice(None, None, d) for d in window_dilation)]
    fn = {"sum": np.sum, "max": np.max, "min": np.min}[kind]
    out = fn(view, axis=tuple(range(ndim, 2 * ndim)))
    return np.asarray(out).astype(x.dtype)


def _axes_all(x):
    return tuple(range(x.ndim))


_REDUCE_SHAPES = [((),), ((5,),), ((3, 4),), ((0, 3),)]
_MATRIX_SHAPES = [((3, 4),), ((2, 0),), ((4, 1),)]
_VECTOR_SHAPES = [((7,),), ((3, 5),), ((0, 4),)]

RECORDS = []

for _kind, _dtypes in [("sum", NUMERIC), ("prod", NUMERIC), ("max", ALL), ("min", ALL),
                       ("and", BOOL_INTS), ("or", BOOL_INTS), ("xor", BOOL_INTS)]:
    _fn = getattr(lax_red, f"reduce_{_kind}")
    _ref = _np_reduce(_kind)
    RECORDS += [
        OpRecord(f"reduce_{_kind}_all", lambda x, _f=_fn: _f(x, _axes_all(x)),
                 lambda x, _r=_ref: _r(x, _axes_all(x)), 1, _dtypes, shapes=_REDUCE_SHAPES,
                 tol={np.dtype("float16"): 5e-3} if _kind in ("sum", "prod") else None),
        OpRecord(f"reduce_{_kind}_axis1", lambda x, _f=_fn: _f(x, (-1,)),
                 lambda x, _r=_ref: _r(x, (x.ndim - 1,)), 1,
                 {"sum": (int32, uint8, float32, complex64), "prod": (int32, float32),
                  "max": (bool_, int32, float32), "min": (bool_, uint8, float32)}.get(
                      _kind, (bool_, int32, uint8)), shapes=_MATRIX_SHAPES),
    ]

for _name, _fn, _ref in [("argmax", lax_red.argmax, np.argmax),
                         ("argmin", lax_red.argmin, np.argmin)]:
    RECORDS += [
        OpRecord(f"{_name}_axis0", lambda x, _f=_fn: _f(x, 0, np.int32),
                 lambda x, _r=_ref: _r(x, axis=0).astype(np.int32), 1, ORDERED,
                 shapes=[((6,),), ((3, 4),), ((3, 0),)]),
        OpRecord(f"{_name}_axis1_u8", lambda x, _f=_fn: _f(x, -1, np.uint8),
                 lambda x, _r=_ref: _r(x, axis=-1).astype(np.uint8), 1, (int32, float32),
                 shapes=[((3, 4),), ((0, 4),)]),
    ]

for _kind, _dtypes in [("sum", NUMERIC), ("prod", NUMERIC), ("max", INTS + FLOATS),
                       ("min", INTS + FLOATS), ("logsumexp", FLOATS)]:
    _fn = getattr(lax_red, f"cum{_kind}")
    _ref = _np_cumulative(_kind)
    _tol = {np.dtype("float16"): 5e-3, np.dtype("bfloat16"): 3e-2} if _kind != "max" else None
    RECORDS += [
        OpRecord(f"cum{_kind}", _fn, _ref, 1, _dtypes, shapes=_VECTOR_SHAPES, tol=_tol),
        OpRecord(f"cum{_kind}_axis1_reverse", _fn, _ref, 1,
                 (float32,) if _kind == "logsumexp" else (int32, float32),
                 shapes=[((3, 5),), ((2, 0),)], kwargs={"axis": 1, "reverse": True}, tol=_tol),
    ]
RECORDS.append(OpRecord("cummax_complex", lax_red.cummax, _np_cumulative("max"), 1,
                        (complex64,), shapes=[((6,),)]))

RECORDS += [
    OpRecord("sort", lax_red.sort, _np_sort, 1, ALL, shapes=[((7,),), ((3, 5),), ((2, 0),)]),
    OpRecord("sort_axis0", lax_red.sort, _np_sort, 1, (int32, float32), shapes=[((4, 3),)],
             kwargs={"dimension": 0}),
]

# (window_dimensions, window_strides, padding, base_dilation, window_dilation) on (5, 6)
_WINDOWS = {
    "valid": ((2, 3), (1, 1), ((0, 0), (0, 0)), None, None),
    "strided_padded": ((3, 2), (2, 3), ((1, 2), (0, 1)), None, None),
    "dilated": ((2, 2), (1, 2), ((1, 0), (2, 1)), (2, 1), (1, 2)),
    "negative_pad": ((2, 2), (1, 1), ((-1, 1), (0, -2)), None, None),
}
for _kind, _dtypes in [("sum", NUMERIC), ("max", ALL), ("min", ALL)]:
    _fn = getattr(lax_red, f"_reduce_window_{_kind}")
    for _case, _params in _WINDOWS.items():
        RECORDS.append(OpRecord(
            f"reduce_window_{_kind}_{_case}",
            lambda x, _f=_fn, _p=_params: _f(x, *_p),
            lambda x, _k=_kind, _p=_params: np_reduce_window(x, _k, *_p), 1,
            _dtypes if _case == "strided_padded" else (int32, float32),
            shapes=[((5, 6),), ((0, 6),)] if _case == "strided_padded" else [((5, 6),)],
            tol={np.dtype("float16"): 5e-3} if _kind == "sum" else None))
