"""OpRecords for lamina.numpy's elementwise functions (core/numpy/ufuncs.py).

Each ufunc gets two rows: a dtype sweep at shape (3, 4) over the dtypes it accepts,
and a float32 shape sweep (0-d, broadcasting, size-1 and zero-size). References
compute in float64/complex128 (or, for bit-level functions, numpy on the same dtype)
and are cast to jax's result dtype (`out_dtype`), since numpy promotes differently
(float64 defaults, float16 for small integers...).
"""
from __future__ import annotations

import os
import sys
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
    int16,
    int32,
    rand_default,
    rand_nonzero,
    rand_positive,
    rand_uniform,
    uint8,
    uint16,
    uint32,
)

import lamina.numpy as lnp  # noqa: E402
from lamina import dtypes  # noqa: E402

INTS_R = (int8, int32, uint8, uint32)  # a representative subset keeps compiles down
REAL = (bool_,) + INTS_R + FLOATS
ALL_R = REAL + COMPLEX
NUM_R = INTS_R + FLOATS + COMPLEX
REAL_NUM = INTS_R + FLOATS
INEXACT = FLOATS + COMPLEX
INT_BOOL = (bool_, int8, int16, int32, uint8, uint16, uint32)

UNARY_SWEEP = [((),), ((1, 4),), ((0, 3),)]
BINARY_SWEEP = [((), ()), ((3, 4), (4,)), ((3, 1), (1, 4)), ((3, 4), ()), ((0, 3), (0, 3))]
DTYPE_SHAPE = {1: [((3, 4),)], 2: [((3, 4), (3, 4))], 3: [((3, 4), (3, 4), (3, 4))]}

# NOTE: multi-step compositions round at every step in 16-bit floats, so their errors
# exceed one ulp (float16 1e-3 / bfloat16 1e-2 are one-ulp tolerances).
LOOSE16 = {float16: 5e-3, bfloat16: 5e-2}


# ------------------------------------------------------------------- result dtypes


def same(*ds: np.dtype) -> np.dtype:
    return dtypes.result_type(*ds)


def inexact(*ds: np.dtype) -> np.dtype:
    return dtypes.to_inexact_dtype(dtypes.result_type(*ds))


def numeric(*ds: np.dtype) -> np.dtype:
    d = dtypes.result_type(*ds)
    return dtypes.int32 if d == bool_ else d


def real_part(*ds: np.dtype) -> np.dtype:
    return dtypes.real_dtype(dtypes.result_type(*ds))


def real_inexact(*ds: np.dtype) -> np.dtype:
    return dtypes.real_dtype(inexact(*ds))


def boolean(*ds: np.dtype) -> np.dtype:
    return bool_


# ---------------------------------------------------------------------- references


def wide(np_fn: Callable[..., Any]) -> Callable[..., Any]:
    """The numpy function evaluated in float64/complex128 (ints and bools as given)."""

    def ref(*args: np.ndarray, **kwargs: Any) -> Any:
        conv = []
        for a in args:
            a = np.asarray(a)
            if a.dtype.kind == "c":
                a = a.astype(np.complex128)
            elif a.dtype.kind == "f" or a.dtype == bfloat16:
                a = a.astype(np.float64)
            conv.append(a)
        with np.errstate(all="ignore"):
            return np_fn(*conv, **kwargs)

    return ref


def wide_float(np_fn: Callable[..., Any]) -> Callable[..., Any]:
    """Like `wide`, but integers and bools become float64 too (the jax promotion)."""

    def ref(*args: np.ndarray, **kwargs: Any) -> Any:
        conv = [np.asarray(a).astype(np.complex128 if np.asarray(a).dtype.kind == "c"
                                     else np.float64) for a in args]
        with np.errstate(all="ignore"):
            return np_fn(*conv, **kwargs)

    return ref


def native(np_fn: Callable[..., Any]) -> Callable[..., Any]:
    """numpy on the promoted (jax) dtype itself: for bit-level functions."""

    def ref(*args: np.ndarray, **kwargs: Any) -> Any:
        dt = inexact(*[np.asarray(a).dtype for a in args])
        with np.errstate(all="ignore"):
            return np_fn(*[np.asarray(a).astype(dt) for a in args], **kwargs)

    return ref


def promoted(np_fn: Callable[..., Any], rule: Callable[..., np.dtype] = same
             ) -> Callable[..., Any]:
    """numpy on the arguments cast to jax's promoted dtype (integer semantics kept)."""

    def ref(*args: np.ndarray, **kwargs: Any) -> Any:
        dt = rule(*[np.asarray(a).dtype for a in args])
        with np.errstate(all="ignore"):
            return np_fn(*[np.asarray(a).astype(dt) for a in args], **kwargs)

    return ref


# -------------------------------------------------------------------------- records

RECORDS: list[OpRecord] = []


def add(name: str, fn: Callable[..., Any], ref: Callable[..., Any], nargs: int,
        dtypes_: Sequence[np.dtype], out: Callable[..., np.dtype] | None, *,
        sampler: Any = rand_default, tol: Any = None, sweep: bool = True,
        sweep_dtype: np.dtype = float32, kwargs: dict | None = None,
        shapes: Sequence[tuple] | None = None) -> None:
    """A dtype-sweep row, plus (with `sweep`) a shape-sweep row in `sweep_dtype`."""
    kwargs = kwargs or {}
    RECORDS.append(OpRecord(f"lnp.{name}", fn, ref, nargs, dtypes_,
                            shapes=shapes or DTYPE_SHAPE[nargs], sampler=sampler, tol=tol,
                            kwargs=kwargs, out_dtype=out))
    if sweep:
        sweep_shapes = UNARY_SWEEP if nargs == 1 else BINARY_SWEEP
        if nargs == 3:
            sweep_shapes = [((), (), ()), ((3, 4), (4,), ()), ((0, 3), (), ())]
        RECORDS.append(OpRecord(f"lnp.{name}/shapes", fn, ref, nargs, [sweep_dtype],
                                shapes=sweep_shapes, sampler=sampler, tol=tol,
                                kwargs=kwargs, out_dtype=out))


pos = rand_positive
unit = rand_uniform(-0.9, 0.9)
shift = rand_uniform(0, 7.9)

# --- arithmetic ----------------------------------------------------------------------
add("absolute", lnp.absolute, np.absolute, 1, ALL_R, real_part)
add("abs", lnp.abs, np.abs, 1, (int8, float32, complex64), real_part, sweep=False)
add("fabs", lnp.fabs, wide_float(np.fabs), 1, REAL, inexact)
add("negative", lnp.negative, np.negative, 1, NUM_R, same)
add("positive", lnp.positive, np.array, 1, ALL_R, same, sweep=False)
add("sign", lnp.sign, wide(np.sign), 1, NUM_R, same)
add("add", lnp.add, np.add, 2, ALL_R, same)
add("subtract", lnp.subtract, np.subtract, 2, NUM_R, same)
add("multiply", lnp.multiply, np.multiply, 2, ALL_R, same)
add("divide", lnp.divide, wide_float(np.divide), 2, (int32, uint8) + INEXACT, inexact,
    sampler=rand_nonzero)
add("true_divide", lnp.true_divide, wide_float(np.true_divide), 2, (bool_, int8, float32),
    inexact, sampler=rand_nonzero, sweep=False)
add("floor_divide", lnp.floor_divide, promoted(np.floor_divide, numeric), 2,
    (bool_,) + INTS_R + (int16, uint16) + FLOATS, numeric, sampler=rand_nonzero,
    tol=LOOSE16)
add("remainder", lnp.remainder, promoted(np.remainder, numeric), 2,
    INTS_R + (int16,) + FLOATS, numeric, sampler=rand_nonzero, tol=LOOSE16)
add("mod", lnp.mod, promoted(np.mod, numeric), 2, (int32, float32), numeric,
    sampler=rand_nonzero, sweep=False)
add("fmod", lnp.fmod, promoted(np.fmod, numeric), 2, INTS_R + FLOATS, numeric,
    sampler=rand_nonzero)
add("power", lnp.power, wide(np.power), 2, INEXACT, same, sampler=pos, tol=LOOSE16)
add("power/int", lnp.power, promoted(np.power, numeric), 2, (bool_,) + INTS_R, numeric,
    sampler=rand_uniform(0, 4.9), sweep=False)
add("float_power", lnp.float_power, wide_float(np.float_power), 2, (int32,) + INEXACT,
    inexact, sampler=pos, tol=LOOSE16)
add("square", lnp.square, promoted(np.square, numeric), 1, ALL_R, numeric)
add("sqrt", lnp.sqrt, wide_float(np.sqrt), 1, ALL_R, inexact, sampler=pos)
add("cbrt", lnp.cbrt, wide_float(np.cbrt), 1, REAL, inexact)
add("reciprocal", lnp.reciprocal, wide_float(np.reciprocal), 1, (int32,) + INEXACT,
    inexact, sampler=rand_nonzero)

# --- exponentials, logarithms, trigonometry ------------------------------------------
for _name, _sampler, _dts in [
        ("exp", rand_default, ALL_R), ("exp2", rand_default, ALL_R),
        ("expm1", rand_default, REAL + COMPLEX), ("log", pos, ALL_R), ("log2", pos, ALL_R),
        ("log10", pos, ALL_R), ("log1p", pos, REAL + COMPLEX), ("sin", rand_default, ALL_R),
        ("cos", rand_default, ALL_R), ("tan", unit, ALL_R), ("arcsin", unit, REAL + COMPLEX),
        ("arccos", unit, REAL + COMPLEX), ("arctan", rand_default, ALL_R),
        ("sinh", rand_default, ALL_R), ("cosh", rand_default, ALL_R),
        ("tanh", rand_default, ALL_R), ("arcsinh", rand_default, ALL_R),
        ("arccosh", rand_uniform(1.1, 5.0), (int32,) + FLOATS + COMPLEX),
        ("arctanh", unit, REAL + COMPLEX), ("deg2rad", rand_default, REAL),
        ("rad2deg", rand_default, REAL)]:
    # NOTE: complex transcendental functions compose several rounded steps in XLA.
    add(_name, getattr(lnp, _name), wide_float(getattr(np, _name)), 1, _dts, inexact,
        sampler=_sampler, tol={**LOOSE16, complex64: 1e-5})
for _alias, _target, _sampler in [("asin", "arcsin", unit), ("acos", "arccos", unit),
                                  ("atan", "arctan", rand_default),
                                  ("asinh", "arcsinh", rand_default),
                                  ("acosh", "arccosh", rand_uniform(1.1, 5.0)),
                                  ("atanh", "arctanh", unit),
                                  ("degrees", "rad2deg", rand_default),
                                  ("radians", "deg2rad", rand_default)]:
    add(_alias, getattr(lnp, _alias), wide_float(getattr(np, _target)), 1, (float32,),
        inexact, sampler=_sampler, sweep=False)
add("logaddexp", lnp.logaddexp, wide_float(np.logaddexp), 2, (int32,) + FLOATS, inexact,
    tol=LOOSE16)
add("logaddexp2", lnp.logaddexp2, wide_float(np.logaddexp2), 2, (int32,) + FLOATS, inexact,
    tol=LOOSE16)
add("arctan2", lnp.arctan2, wide_float(np.arctan2), 2, (bool_, int8) + FLOATS, inexact)
add("atan2", lnp.atan2, wide_float(np.arctan2), 2, (float32,), inexact, sweep=False)
add("hypot", lnp.hypot, wide_float(np.hypot), 2, (int32,) + FLOATS, inexact, tol=LOOSE16)
add("sinc", lnp.sinc, wide_float(np.sinc), 1, (int32,) + INEXACT, inexact,
    tol={**LOOSE16, complex64: 1e-5})
add("i0", lnp.i0, wide_float(np.i0), 1, (int32,) + FLOATS, inexact,
    sampler=rand_uniform(-12, 12), tol={**LOOSE16, float32: 1e-5})

# --- rounding and floating-point structure -------------------------------------------
add("floor", lnp.floor, promoted(np.floor), 1, REAL, same)
add("ceil", lnp.ceil, promoted(np.ceil), 1, REAL, same)
add("trunc", lnp.trunc, promoted(np.trunc), 1, REAL, same)
add("fix", lnp.fix, promoted(np.fix), 1, (int32, float32), same, sweep=False)
add("rint", lnp.rint, wide(np.rint), 1, ALL_R,
    lambda d: dtypes.float32 if d == bool_ or dtypes.is_integer(d) else d,
    sampler=rand_uniform(-4, 4))
add("round", lnp.round, wide(np.round), 1, NUM_R, same, sampler=rand_uniform(-4, 4))
add("round/decimals", lnp.round, wide(np.round), 1, (int32, float32, complex64), same,
    kwargs={"decimals": 2}, sweep=False)
add("around", lnp.around, wide(np.round), 1, (float32,), same, sweep=False)
for _name in ("isnan", "isinf", "isfinite"):
    add(_name, getattr(lnp, _name), getattr(np, _name), 1, ALL_R, boolean)
for _name in ("isposinf", "isneginf", "signbit"):
    add(_name, getattr(lnp, _name), getattr(np, _name), 1, REAL, boolean)
add("copysign", lnp.copysign, native(np.copysign), 2, (int32,) + FLOATS, inexact)
add("nextafter", lnp.nextafter, native(np.nextafter), 2, (int32,) + FLOATS, inexact)
add("spacing", lnp.spacing, native(np.spacing), 1, FLOATS, inexact)


def _exponents(e: np.ndarray) -> np.ndarray:
    return np.round(np.asarray(e, np.float32) * 3).astype(np.int32)


add("ldexp", lambda x, e: lnp.ldexp(x, _exponents(e)),
    lambda x, e: np.ldexp(x, _exponents(e)), 2, FLOATS, lambda a, b: inexact(a))
add("nan_to_num", lnp.nan_to_num, np.nan_to_num, 1, ALL_R, same)

# --- comparison and selection ---------------------------------------------------------
add("maximum", lnp.maximum, promoted(np.maximum), 2, ALL_R, same)
add("minimum", lnp.minimum, promoted(np.minimum), 2, ALL_R, same)
add("fmax", lnp.fmax, promoted(np.fmax), 2, REAL, same)
add("fmin", lnp.fmin, promoted(np.fmin), 2, REAL, same)
add("clip", lnp.clip, promoted(np.clip), 3, REAL_NUM, same)
add("heaviside", lnp.heaviside, wide_float(np.heaviside), 2, (int32,) + FLOATS, inexact)
for _name in ("equal", "not_equal", "less", "less_equal", "greater", "greater_equal"):
    add(_name, getattr(lnp, _name), promoted(getattr(np, _name)), 2, ALL_R, boolean,
        sampler=rand_uniform(-2, 2))
add("isclose", lnp.isclose, promoted(np.isclose, inexact), 2, (int32,) + INEXACT, boolean)
add("allclose", lnp.allclose, lambda a, b: np.asarray(np.allclose(a, b)), 2,
    (int32, float32), boolean, sweep=False)
add("array_equal", lnp.array_equal, lambda a, b: np.asarray(np.array_equal(a, b)), 2,
    (int32, float32), boolean, sampler=rand_uniform(-1, 1), sweep=False)
add("array_equiv", lnp.array_equiv, lambda a, b: np.asarray(np.array_equiv(a, b)), 2,
    (float32,), boolean, sweep=False, shapes=[((3, 4), (4,)), ((3, 4), (3, 4))])

# --- logical and bitwise ----------------------------------------------------------------
for _name in ("logical_and", "logical_or", "logical_xor"):
    add(_name, getattr(lnp, _name), getattr(np, _name), 2, ALL_R, boolean,
        sampler=rand_uniform(-1.5, 1.5))
add("logical_not", lnp.logical_not, np.logical_not, 1, ALL_R, boolean,
    sampler=rand_uniform(-1.5, 1.5))
for _name in ("bitwise_and", "bitwise_or", "bitwise_xor"):
    add(_name, getattr(lnp, _name), promoted(getattr(np, _name)), 2, INT_BOOL, same,
        sweep_dtype=int32)
for _name in ("bitwise_not", "invert", "bitwise_invert"):
    add(_name, getattr(lnp, _name), promoted(np.invert), 1, INT_BOOL, same,
        sweep=_name == "invert", sweep_dtype=int32)
add("bitwise_count", lnp.bitwise_count, np.bitwise_count, 1, INT_BOOL, lambda d: uint8,
    sweep_dtype=int32)
for _name in ("left_shift", "right_shift"):
    add(_name, getattr(lnp, _name), promoted(getattr(np, _name), numeric), 2,
        INT_BOOL, numeric, sampler=shift, sweep_dtype=int32)
add("gcd", lnp.gcd, promoted(np.gcd), 2, INTS_R + (int16,), same,
    sampler=rand_uniform(-60, 60), sweep_dtype=int32)
add("lcm", lnp.lcm, promoted(np.lcm), 2, (int8, int32, uint32), same,
    sampler=rand_uniform(-11, 11), sweep_dtype=int32)

# --- complex numbers ----------------------------------------------------------------------
add("real", lnp.real, np.real, 1, ALL_R, real_part)
add("imag", lnp.imag, np.imag, 1, ALL_R, real_part)
add("conjugate", lnp.conjugate, np.conjugate, 1, ALL_R, same)
add("conj", lnp.conj, np.conj, 1, (float32, complex64), same, sweep=False)
add("angle", lnp.angle, wide_float(np.angle), 1, (bool_, int32) + INEXACT,
    lambda d: dtypes.real_dtype(inexact(d)))
add("isreal", lnp.isreal, np.isreal, 1, (int32, float32, complex64), boolean, sweep=False)
add("iscomplex", lnp.iscomplex, np.iscomplex, 1, (int32, float32, complex64), boolean,
    sweep=False)

# --- differences, interpolation, convolution ----------------------------------------------
for _kw, _dts in (({}, (bool_, int32, float32)), ({"n": 2, "axis": 0}, (int32, float32)),
                 ({"prepend": 1, "append": 2}, (int32, float32))):
    add("diff[" + ",".join(f"{k}={v}" for k, v in _kw.items()) + "]", lnp.diff, wide(np.diff),
        1, _dts, same,
        kwargs=_kw, sweep=False, shapes=[((3, 4),), ((4,),)])
add("ediff1d", lnp.ediff1d, np.ediff1d, 1, (int32, float32), same, sweep=False,
    shapes=[((3, 4),), ((5,),)])
add("gradient", lnp.gradient, wide_float(np.gradient), 1, (int32, float32),
    lambda d: inexact(d), sweep=False, shapes=[((6,),)])
add("gradient/axis", lnp.gradient, wide_float(np.gradient), 1, (float32,), inexact,
    kwargs={"axis": 1}, sweep=False, shapes=[((3, 4),)])
for _mode in ("full", "same", "valid"):
    for _name in ("convolve", "correlate"):
        add(f"{_name}[{_mode}]", getattr(lnp, _name), wide_float(getattr(np, _name)), 2,
            (int32, float32, complex64), inexact, kwargs={"mode": _mode}, sweep=False,
            shapes=[((7,), (3,)), ((3,), (6,))], tol={float32: 1e-5, complex64: 1e-5})
add("trapezoid", lnp.trapezoid, wide_float(np.trapezoid), 1, (int32, float32),
    lambda d: inexact(d), sweep=False, shapes=[((3, 4),), ((5,),)], tol={float32: 1e-5})
add("unwrap", lnp.unwrap, wide(np.unwrap), 1, (float32,), same, sweep=False,
    sampler=rand_uniform(-10, 10), shapes=[((3, 6),)], tol={float32: 1e-5})
