"""OpRecords for lamina.numpy's reductions (core/numpy/reductions.py).

Each reduction gets a dtype sweep (full reduction of a (3, 4) array), a float32 shape
sweep (0-d, 1-d, zero-size, rank 3) and rows for `axis` / `keepdims` / `where` /
`initial` / `dtype` variants. References compute in float64 (integers as given) and
are cast to jax's result dtype: numpy sums int8 to int64 where jax gives int32, and
averages integers in float64 where jax gives float32.
"""
from __future__ import annotations

import os
import sys
import warnings
from typing import Any, Callable, Sequence

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from op_records import (  # noqa: E402
    COMPLEX,
    FLOATS,
    OpRecord,
    bfloat16,
    bool_,
    complex64,
    float16,
    float32,
    int8,
    int32,
    rand_default,
    rand_positive,
    rand_uniform,
    uint8,
    uint32,
)

import lamina.numpy as lnp  # noqa: E402
from lamina import dtypes  # noqa: E402

INTS_R = (int8, int32, uint8, uint32)
ALL_R = (bool_,) + INTS_R + FLOATS + COMPLEX
REAL = (bool_,) + INTS_R + FLOATS
NUM_R = INTS_R + FLOATS + COMPLEX

SHAPE_SWEEP = [((),), ((5,),), ((2, 3, 4),)]
ZERO = [((0, 3),)]
MASK = np.array([[True, False, True, True], [False, False, True, False],
                 [True, True, True, False]])

# NOTE: 16-bit results are rounded from float32 accumulations; one rounding of the
# float64 reference plus one of the float32 sum can differ by one 16-bit ulp.
LOOSE16 = {float16: 2e-3, bfloat16: 2e-2}


def widened(d: np.dtype) -> np.dtype:
    """jax's accumulation dtype for sum/prod: bools and narrow integers widen."""
    if d == bool_:
        return dtypes.int32
    if dtypes.is_unsigned_integer(d):
        return dtypes.uint32 if d.itemsize < 4 else d
    if dtypes.is_integer(d):
        return dtypes.int32 if d.itemsize < 4 else d
    return d


def same(d: np.dtype, *rest: np.dtype) -> np.dtype:
    return d


def inexact(d: np.dtype, *rest: np.dtype) -> np.dtype:
    return dtypes.to_inexact_dtype(d)


def real_inexact(d: np.dtype, *rest: np.dtype) -> np.dtype:
    return dtypes.real_dtype(dtypes.to_inexact_dtype(d))


def cum(d: np.dtype, *rest: np.dtype) -> np.dtype:
    return dtypes.int32 if d == bool_ else d


def sum_dtype(d: np.dtype, *rest: np.dtype) -> np.dtype:
    return widened(d)


def int32_(*ds: np.dtype) -> np.dtype:
    return dtypes.int32


def bool_out(*ds: np.dtype) -> np.dtype:
    return bool_


def wide(np_fn: Callable[..., Any], floats_only: bool = False) -> Callable[..., Any]:
    """numpy in float64/complex128; integers too when `floats_only` is False and the
    function averages (mean/var/...). Warnings (empty slices) are silenced."""

    def ref(*args: np.ndarray, **kwargs: Any) -> Any:
        conv = []
        for a in args:
            a = np.asarray(a)
            if a.dtype.kind == "c":
                a = a.astype(np.complex128)
            elif a.dtype.kind == "f" or a.dtype == bfloat16 or not floats_only:
                a = a.astype(np.float64) if a.dtype.kind != "c" else a
            conv.append(a)
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            return np_fn(*conv, **kwargs)

    return ref


def rand_nans(rng: np.random.Generator, shape: tuple, dtype: np.dtype) -> np.ndarray:
    """rand_default with about a quarter NaNs (floats only), one row all NaN."""
    x = rand_default(rng, shape, dtype)
    if not dtypes.is_inexact(dtype) or x.size == 0:
        return x
    x = x.copy()
    x[rng.random(shape) < 0.25] = np.nan
    if x.ndim == 2:
        x[0] = np.nan
    return x


RECORDS: list[OpRecord] = []


def add(name: str, fn: Callable[..., Any], ref: Callable[..., Any], dtypes_: Sequence[Any],
        out: Callable[..., np.dtype] | None, *, shapes: Sequence[tuple] | None = None,
        kwargs: dict | None = None, sampler: Any = rand_default, tol: Any = None,
        nargs: int = 1) -> None:
    RECORDS.append(OpRecord(f"lnp.{name}", fn, ref, nargs, dtypes_,
                            shapes=shapes or [((3, 4),)], sampler=sampler, tol=tol,
                            kwargs=kwargs or {}, out_dtype=out))


def variants(name: str, out: Callable[..., np.dtype], dts: Sequence[Any], *,
             ref: Callable[..., Any] | None = None, floats_only: bool = True,
             zero_ok: bool = True, sampler: Any = rand_default, tol: Any = LOOSE16,
             extra: Sequence[dict] = ()) -> None:
    """The standard rows of a reduction: dtype sweep, shape sweep, axis variants."""
    fn = getattr(lnp, name)
    ref = ref or wide(getattr(np, name), floats_only)
    add(name, fn, ref, dts, out, sampler=sampler, tol=tol)
    add(f"{name}/shapes", fn, ref, [float32], out, shapes=SHAPE_SWEEP, sampler=sampler)
    if zero_ok:
        add(f"{name}/zero", fn, ref, [float32], out, shapes=ZERO, sampler=sampler)
    add(f"{name}/zero-axis1", fn, ref, [float32], out, shapes=ZERO, kwargs={"axis": 1},
        sampler=sampler)
    for kw in ({"axis": 1}, {"axis": -3, "keepdims": True}, {"axis": (0, 2)},
               {"axis": (2, 0), "keepdims": True}, *extra):
        label = ",".join(f"{k}={v}" for k, v in kw.items() if k != "where")
        if "where" in kw:
            label += ",where"
        shape = [((3, 4),)] if "where" in kw else [((2, 3, 4),)]
        kw_out = (lambda *ds, _d=np.dtype(kw["dtype"]): _d) if "dtype" in kw else out
        add(f"{name}[{label}]", fn, ref, [float32, int32] if name not in (
            "all", "any") else [float32, bool_], kw_out, shapes=shape, kwargs=kw,
            sampler=sampler, tol=tol)


variants("sum", sum_dtype, ALL_R, floats_only=True,
         extra=[{"axis": 0, "where": MASK}, {"initial": 2.0}, {"dtype": float32}])
variants("prod", sum_dtype, ALL_R, floats_only=True, sampler=rand_uniform(0.5, 1.5),
         extra=[{"axis": 1, "where": MASK}, {"initial": 2.0}])
variants("max", same, REAL + COMPLEX, floats_only=True, zero_ok=False,
         extra=[{"axis": 1, "where": MASK, "initial": -1.0}, {"initial": 4.0}])
variants("min", same, REAL + COMPLEX, floats_only=True, zero_ok=False,
         extra=[{"axis": 0, "where": MASK, "initial": 1.0}])
variants("amax", same, (float32,), floats_only=True, zero_ok=False)
variants("amin", same, (int8,), floats_only=True, zero_ok=False)
variants("all", bool_out, ALL_R, floats_only=True, sampler=rand_uniform(-0.7, 2),
         extra=[{"axis": 1, "where": MASK}])
variants("any", bool_out, ALL_R, floats_only=True, sampler=rand_uniform(-0.7, 0.7),
         extra=[{"axis": 1, "where": MASK}])
variants("mean", inexact, ALL_R, floats_only=False,
         extra=[{"axis": 1, "where": MASK}, {"dtype": float32}])
variants("var", real_inexact, ALL_R, floats_only=False,
         extra=[{"ddof": 1}, {"axis": 0, "where": MASK}, {"axis": 1, "correction": 1}])
variants("std", real_inexact, (bool_, int8, uint32) + FLOATS + COMPLEX, floats_only=False,
         extra=[{"ddof": 2, "axis": 1}])
variants("ptp", same, INTS_R + FLOATS, floats_only=True, zero_ok=False)
variants("count_nonzero", int32_, ALL_R, floats_only=True, sampler=rand_uniform(-1.2, 1.2))

for _name in ("argmax", "argmin"):
    _fn, _ref = getattr(lnp, _name), getattr(np, _name)
    add(_name, _fn, _ref, REAL, int32_)
    add(f"{_name}/shapes", _fn, _ref, [float32], int32_, shapes=SHAPE_SWEEP)
    for _kw in ({"axis": 1}, {"axis": -1, "keepdims": True}, {"keepdims": True},
                {"axis": 0}):
        add(f"{_name}[{','.join(f'{k}={v}' for k, v in _kw.items())}]", _fn, _ref,
            [float32, uint8], int32_, shapes=[((2, 3, 4),)], kwargs=_kw)

for _name in ("cumsum", "cumprod", "nancumsum", "nancumprod"):
    _fn = getattr(lnp, _name)
    _sampler = rand_uniform(0.5, 1.5) if "prod" in _name else rand_default
    _ref = wide(getattr(np, _name), True)
    add(_name, _fn, _ref, ALL_R if "nan" not in _name else (int32,) + FLOATS, cum,
        sampler=_sampler if "nan" not in _name else rand_nans, tol=LOOSE16)
    add(f"{_name}/shapes", _fn, _ref, [float32], cum, shapes=SHAPE_SWEEP + ZERO,
        sampler=_sampler)
    add(f"{_name}[axis=1]", _fn, _ref, [float32, int8], cum, shapes=[((2, 3, 4),)],
        kwargs={"axis": 1}, sampler=_sampler)
    add(f"{_name}[axis=-1,dtype]", _fn, _ref, [int32, bool_], lambda d: dtypes.float32,
        shapes=[((3, 4),)], kwargs={"axis": -1, "dtype": float32}, sampler=_sampler)
add("cumulative_sum", lnp.cumulative_sum, wide(np.cumulative_sum, True), (bool_, int8, float32),
    sum_dtype, kwargs={"axis": 1, "include_initial": True})
add("cumulative_prod", lnp.cumulative_prod, wide(np.cumulative_prod, True), (int32, float32),
    cum, kwargs={"axis": 0}, sampler=rand_uniform(0.5, 1.5))

# --- NaN-ignoring reductions ----------------------------------------------------------
for _name, _out in (("nansum", sum_dtype), ("nanprod", sum_dtype), ("nanmax", same),
                    ("nanmin", same), ("nanmean", inexact), ("nanvar", real_inexact),
                    ("nanstd", real_inexact), ("nanargmax", int32_), ("nanargmin", int32_)):
    _fn, _ref = getattr(lnp, _name), wide(getattr(np, _name), _name not in (
        "nanmean", "nanvar", "nanstd"))
    if _name in ("nanargmax", "nanargmin"):
        # NOTE: numpy raises for all-NaN slices where jax returns -1; no all-NaN rows.
        _ref, _sampler = getattr(np, _name), rand_default
    else:
        _sampler = rand_nans
    add(_name, _fn, _ref, (int32,) + FLOATS, _out, sampler=_sampler, tol=LOOSE16)
    for _kw in ({"axis": 1}, {"axis": 0, "keepdims": True}):
        add(f"{_name}[{','.join(f'{k}={v}' for k, v in _kw.items())}]", _fn, _ref,
            [float32], _out, kwargs=_kw, sampler=_sampler)

# --- quantiles -----------------------------------------------------------------------------
Q = np.array([0.0, 0.3, 0.5, 0.95, 1.0], np.float32)
for _method in ("linear", "lower", "higher", "midpoint"):
    add(f"quantile[{_method}]", lnp.quantile, wide(np.quantile, False), (int32, float32),
        inexact, kwargs={"q": Q, "axis": 1, "method": _method})
add("quantile[nearest]", lnp.quantile, wide(np.quantile, False), (float32,), inexact,
    kwargs={"q": np.array([0.2, 0.9], np.float32), "method": "nearest"},
    shapes=[((3, 5),)])
add("quantile[axes,keepdims]", lnp.quantile, wide(np.quantile, False), FLOATS, inexact,
    kwargs={"q": 0.4, "axis": (0, 2), "keepdims": True}, shapes=[((2, 3, 4),)], tol=LOOSE16)
add("percentile", lnp.percentile, wide(np.percentile, False), (int8, float32), inexact,
    kwargs={"q": np.array([10.0, 50.0, 90.0]), "axis": 0})
add("median", lnp.median, wide(np.median, False), ALL_R[:-1], inexact, tol=LOOSE16)
add("median/shapes", lnp.median, wide(np.median, False), [float32], inexact,
    shapes=SHAPE_SWEEP)
add("median[axis=-1,keepdims]", lnp.median, wide(np.median, False), [float32], inexact,
    shapes=[((2, 3, 4),)], kwargs={"axis": -1, "keepdims": True})
add("nanmedian", lnp.nanmedian, wide(np.nanmedian, False), (int32, float32), inexact,
    sampler=rand_nans)
add("nanmedian[axis=1]", lnp.nanmedian, wide(np.nanmedian, False), [float32], inexact,
    sampler=rand_nans, kwargs={"axis": 1})
add("nanquantile", lnp.nanquantile, wide(np.nanquantile, False), [float32], inexact,
    sampler=rand_nans, kwargs={"q": Q, "axis": 1})
add("nanpercentile", lnp.nanpercentile, wide(np.nanpercentile, False), [float32], inexact,
    sampler=rand_nans, kwargs={"q": 35.0, "axis": 0, "keepdims": True})

# --- average, histograms, covariance ---------------------------------------------------------
add("average", lnp.average, wide(np.average, False), (int32, float32, complex64), inexact)
add("average[weights]", lambda a, w: lnp.average(a, axis=1, weights=w),
    lambda a, w: wide(np.average, False)(a, axis=1, weights=w), (int32, float32), inexact,
    nargs=2, shapes=[((3, 4), (3, 4)), ((3, 4), (4,))], sampler=rand_positive)
add("average[weights,axes]", lambda a, w: lnp.average(a, axis=(2, 0), weights=w),
    lambda a, w: wide(np.average, False)(a, axis=(2, 0), weights=w), (float32,), inexact,
    nargs=2, shapes=[((2, 3, 4), (4, 2))], sampler=rand_positive)
add("bincount", lambda x: lnp.bincount(np.abs(x)), lambda x: np.bincount(np.abs(x)),
    (int32, uint8), int32_, shapes=[((9,),)])
add("bincount[length]", lambda x: lnp.bincount(np.abs(x), length=4),
    lambda x: np.bincount(np.abs(x), minlength=4)[:4], (int8,), int32_, shapes=[((9,),)])
add("bincount[weights]", lambda x, w: lnp.bincount(np.abs(x).astype(np.int32), w),
    lambda x, w: np.bincount(np.abs(x).astype(np.int32), w), (float32,), same, nargs=2,
    shapes=[((7,), (7,))], sampler=rand_uniform(0, 6))
add("histogram_bin_edges", lnp.histogram_bin_edges, wide(np.histogram_bin_edges, True),
    (int32, float32), inexact, kwargs={"bins": 5}, tol={float32: 1e-5})
add("histogram/counts", lambda a: lnp.histogram(a, bins=6)[0],
    lambda a: np.histogram(a.astype(np.float64), bins=6)[0], (int32, float32), inexact)
add("histogram/range,density", lambda a: lnp.histogram(a, bins=4, range=(-1, 2),
                                                       density=True)[0],
    lambda a: np.histogram(a, bins=4, range=(-1, 2), density=True)[0], (float32,), inexact,
    tol={float32: 1e-5})
add("cov", lnp.cov, wide(np.cov, False), (int32, float32, complex64), inexact,
    shapes=[((3, 5),), ((6,),)], tol={float32: 1e-5, complex64: 1e-5})
add("cov[rowvar=False,bias]", lambda m: lnp.cov(m, rowvar=False, bias=True),
    lambda m: wide(np.cov, False)(m, rowvar=False, bias=True), (float32,), inexact,
    shapes=[((5, 3),)], tol={float32: 1e-5})
add("cov[weights]", lambda m: lnp.cov(m, fweights=np.array([1, 2, 1, 3, 1]),
                                      aweights=np.array([0.5, 1.0, 2.0, 1.0, 0.3])),
    lambda m: wide(np.cov, False)(m, fweights=np.array([1, 2, 1, 3, 1]),
                                  aweights=np.array([0.5, 1.0, 2.0, 1.0, 0.3])),
    (float32,), inexact, shapes=[((3, 5),)], tol={float32: 1e-5})
add("corrcoef", lnp.corrcoef, wide(np.corrcoef, False), (float32, complex64), inexact,
    shapes=[((3, 5),)], tol={float32: 1e-5, complex64: 1e-5})
