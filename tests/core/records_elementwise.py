"""OpRecords for `lamina.lax.elementwise` (jax.lax's elementwise primitives).

References are numpy only (scipy is not installed). Floating-point references run in
float64/complex128 and are cast back to the input dtype (`out_dtype`), because numpy
computes float16/bfloat16 math imprecisely; XLA:CPU computes 16-bit floats in float32.
erf_inv, digamma, lgamma and bessel_i1e use the hand-written float64 references below.
Semantics numpy does not share (XLA's shifts, truncating integer division, saturating
float->int conversion) are spelled out in the references.

The shape sweep is shorter than the default one to keep compiles down (~1000 here);
zero-size operands are covered for every op in test_lax_elementwise.py.
"""
from __future__ import annotations

import math
import os
import sys
import warnings

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from op_records import (  # noqa: E402
    ALL,
    COMPLEX,
    FLOATS,
    INEXACT,
    INTS,
    NUMERIC,
    SIGNED,
    OpRecord,
    bfloat16,
    bool_,
    complex64,
    float16,
    float32,
    int32,
    rand_default,
    rand_nonzero,
    rand_positive,
)

from lamina.lax import elementwise as lax  # noqa: E402

UNARY = [((),), ((3, 4),)]
BINARY = [((), ()), ((3, 4), (3, 4)), ((3, 4), ())]
TERNARY = [((), (), ()), ((3, 4), (3, 4), (3, 4))]
CLAMP = [((), (3, 4), ()), ((3, 4), (3, 4), (3, 4)), ((), (), ())]
NON_BOOL = NUMERIC
ORDERED = (bool_,) + INTS + FLOATS
BOOL_OR_INT = (bool_,) + INTS

# --------------------------------------------------------------------------------------
# Reference helpers
# --------------------------------------------------------------------------------------


def _wide_dtype(dtype: np.dtype) -> np.dtype:
    dtype = np.dtype(dtype)
    if np.issubdtype(dtype, np.complexfloating):
        return np.dtype(np.complex128)
    if dtype in (float16, bfloat16, float32) or np.issubdtype(dtype, np.floating):
        return np.dtype(np.float64)
    return dtype


def _wide(fn):
    """`fn` applied in float64/complex128 (integers and bool unchanged), warnings off:
    references may hit log(0) or 0/0 where the op's answer is inf/NaN too."""

    def ref(*args, **kwargs):
        args = [np.asarray(a).astype(_wide_dtype(np.asarray(a).dtype)) for a in args]
        with np.errstate(all="ignore"):
            return fn(*args, **kwargs)

    return ref


def _same(*in_dtypes):
    return in_dtypes[0]


def _real_of(*in_dtypes):
    d = np.dtype(in_dtypes[0])
    return np.dtype(np.float32) if d == complex64 else d


def _complex_of(*in_dtypes):
    return complex64


def _rec(name, fn, ref, nargs, dtypes, *, out_dtype=_same, wide=True, shapes=None, **kw):
    if shapes is None:
        shapes = {1: UNARY, 2: BINARY, 3: TERNARY}[nargs]
    return OpRecord(f"lax.{name}", fn, _wide(ref) if wide else ref, nargs, dtypes,
                    shapes=shapes, out_dtype=out_dtype if wide else None, **kw)


def _np_unsigned(dtype):
    return np.dtype(f"u{np.dtype(dtype).itemsize}")


# --------------------------------------------------------------------------------------
# Samplers (complex dtypes get both parts in the domain)
# --------------------------------------------------------------------------------------


def _uniform(lo, hi, imag=None):
    def sample(rng, shape, dtype):
        x = rng.uniform(lo, hi, shape)
        if np.issubdtype(np.dtype(dtype), np.complexfloating):
            ilo, ihi = imag if imag is not None else (lo, hi)
            x = x + 1j * rng.uniform(ilo, ihi, shape)
        return np.asarray(x).astype(dtype)
    return sample


def _with_specials(rng, shape, dtype):
    x = rand_default(rng, shape, dtype)
    flat = x.reshape(-1)
    specials = np.array([np.nan, np.inf, -np.inf, 0.0]).astype(dtype)
    for i in range(min(flat.size, 4)):
        flat[rng.integers(flat.size)] = specials[i]
    return x


def _full_range_ints(rng, shape, dtype):
    """Integers across the dtype's whole range (for the bit-counting ops)."""
    info = np.iinfo(dtype)
    return rng.integers(info.min, int(info.max) + 1, shape, dtype=np.int64).astype(dtype)


def _shift_amounts(rng, shape, dtype):
    """Values in [-2, bits + 2): as shift amounts, negatives read as huge unsigned
    amounts and the top ones shift every bit out. (OpRecord samples x the same way;
    full-range x is covered in test_lax_elementwise.py.)"""
    bits = np.dtype(dtype).itemsize * 8
    lo = 0 if np.issubdtype(dtype, np.unsignedinteger) else -2
    return rng.integers(lo, bits + 2, shape).astype(dtype)


# --------------------------------------------------------------------------------------
# Special-function references in float64
# --------------------------------------------------------------------------------------


def _lgamma_scalar(x):
    if x <= 0 and x == math.floor(x):
        return math.inf
    return math.lgamma(x)


def _erfinv_scalar(y):
    if math.isnan(y) or abs(y) > 1:
        return math.nan
    if abs(y) == 1:
        return math.copysign(math.inf, y)
    if y == 0:
        return y
    # Winitzki's closed-form start (3 digits), then Newton steps on erf(x) - y.
    a = 0.147
    ln = math.log1p(-y * y)
    t = 2 / (math.pi * a) + ln / 2
    x = math.copysign(math.sqrt(math.sqrt(t * t - ln / a) - t), y)
    for _ in range(6):
        x -= (math.erf(x) - y) / (2 / math.sqrt(math.pi) * math.exp(-x * x))
    return x


def _digamma_scalar(x):
    if math.isnan(x) or (x <= 0 and x == math.floor(x)):
        return math.nan
    result = 0.0
    if x < 0.5:  # reflection: psi(1 - x) - psi(x) = pi / tan(pi x)
        result -= math.pi / math.tan(math.pi * x)
        x = 1 - x
    while x < 6:  # recurrence: psi(x) = psi(x + 1) - 1 / x
        result -= 1 / x
        x += 1
    inv2 = 1 / (x * x)
    series = inv2 * (1 / 12 - inv2 * (1 / 120 - inv2 * (1 / 252 - inv2 * (
        1 / 240 - inv2 * (1 / 132)))))
    return result + math.log(x) - 0.5 / x - series


def _i1e_scalar(x):
    # I1(x) = sum_k (x/2)^(2k+1) / (k! (k+1)!), fine in float64 for |x| < 20.
    term = x / 2
    total = term
    k = 0
    while abs(term) > 1e-17 * abs(total) or k < 2:
        k += 1
        term *= (x / 2) ** 2 / (k * (k + 1))
        total += term
    return total * math.exp(-abs(x))



def _vectorized(scalar_fn):
    vec = np.vectorize(scalar_fn, otypes=[np.float64])

    def ref(x):
        return vec(x) if np.asarray(x).size else np.asarray(x, np.float64)
    return ref


lgamma_ref = _vectorized(_lgamma_scalar)
erfinv_ref = _vectorized(_erfinv_scalar)
digamma_ref = _vectorized(_digamma_scalar)
i1e_ref = _vectorized(_i1e_scalar)
erf_ref = _vectorized(math.erf)
erfc_ref = _vectorized(math.erfc)

# --------------------------------------------------------------------------------------
# Other references with XLA semantics
# --------------------------------------------------------------------------------------


def round_afz_ref(x):
    return np.where(x >= 0, np.floor(x + 0.5), np.ceil(x - 0.5))


def div_ref(x, y):
    if np.issubdtype(x.dtype, np.integer):
        q = np.abs(x) // np.abs(y)
        return np.where((x < 0) != (y < 0), -q, q).astype(x.dtype)
    return x / y


def popcount_ref(x):
    return np.bitwise_count(x.view(_np_unsigned(x.dtype))).astype(x.dtype)


def clz_ref(x):
    bits = x.dtype.itemsize * 8
    u = x.view(_np_unsigned(x.dtype))
    out = np.vectorize(lambda v: bits - int(v).bit_length(), otypes=[np.int64])(u) \
        if u.size else np.zeros(u.shape, np.int64)
    return out.astype(x.dtype)


def shift_ref(kind):
    """XLA shifts: amounts read as unsigned; >= bit width shifts everything out."""

    def ref(x, y):
        bits = x.dtype.itemsize * 8
        udt = _np_unsigned(x.dtype)
        amount = y.view(udt) if y.dtype != udt else y
        big = amount >= bits
        safe = np.where(big, 0, amount).astype(udt)
        ux = x.view(udt) if x.dtype != udt else x
        if kind == "left":
            out = np.where(big, 0, np.left_shift(ux, safe)).astype(udt).view(x.dtype)
        elif kind == "logical":
            out = np.where(big, 0, np.right_shift(ux, safe)).astype(udt).view(x.dtype)
        else:
            shifted = np.right_shift(x, safe.astype(x.dtype))
            fill = np.where(x < 0, np.array(-1).astype(x.dtype), np.zeros((), x.dtype))
            out = np.where(big, fill, shifted).astype(x.dtype)
        return out.reshape(np.shape(x)) if np.ndim(x) else out.reshape(())

    return ref


def convert_ref(target):
    """XLA's convert: complex->real takes the real part, ->bool is x != 0, float->int
    truncates toward zero and saturates (NaN -> 0), int->int wraps."""
    target = np.dtype(target)

    def ref(x):
        x = np.asarray(x)
        if np.issubdtype(x.dtype, np.complexfloating) and not np.issubdtype(
                target, np.complexfloating):
            x = x.real
        if target == bool_:
            return x != 0
        if np.issubdtype(target, np.integer) and _wide_dtype(x.dtype).kind == "f":
            info = np.iinfo(target)
            t = np.trunc(x.astype(np.float64))
            t = np.where(np.isnan(t), 0, np.clip(t, info.min, info.max))
            return t.astype(target)
        return x.astype(target)

    return ref


def _quietly(fn):
    """Calls fn with ComplexWarning silenced (complex->real conversion warns)."""

    def call(*args, **kwargs):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", np.exceptions.ComplexWarning)
            return fn(*args, **kwargs)

    return call


def _mask(a):
    a = np.asarray(a)
    return (np.arange(a.size).reshape(a.shape) % 3) == 1


def _index3(a):
    a = np.asarray(a)
    return (np.arange(a.size).reshape(a.shape) % 3).astype(np.int32)


def _int_exponent(y):
    return np.round(np.asarray(y).real).astype(np.int32)


# --------------------------------------------------------------------------------------
# Records
# --------------------------------------------------------------------------------------

# NOTE (XLA:CPU, float32): chlo.lgamma is ~1.5e-6 off in absolute terms, which is a
# large relative error near its zeros at x = 1 and 2.
_LGAMMA_TOL = {float32: 1e-5}

RECORDS = [
    # ---- unary, sign/rounding
    _rec("neg", lax.neg, np.negative, 1, NON_BOOL),
    _rec("sign", lax.sign, np.sign, 1, NON_BOOL),
    _rec("floor", lax.floor, np.floor, 1, FLOATS),
    _rec("ceil", lax.ceil, np.ceil, 1, FLOATS),
    _rec("round", lax.round, round_afz_ref, 1, FLOATS, sampler=_uniform(-4, 4)),
    _rec("round.to_nearest_even", lambda x: lax.round(x, lax.RoundingMethod.TO_NEAREST_EVEN),
         np.rint, 1, FLOATS, sampler=_uniform(-4, 4)),
    _rec("is_finite", lax.is_finite, np.isfinite, 1, FLOATS, sampler=_with_specials,
         out_dtype=None),
    _rec("abs", lax.abs, np.abs, 1, SIGNED + INEXACT, out_dtype=_real_of),
    _rec("real", lax.real, np.real, 1, COMPLEX, out_dtype=_real_of),
    _rec("imag", lax.imag, np.imag, 1, COMPLEX, out_dtype=_real_of),
    _rec("conj", lax.conj, np.conj, 1, (float32, complex64), out_dtype=_complex_of),
    _rec("square", lax.square, lambda x: x * x, 1, NON_BOOL),
    _rec("reciprocal", lax.reciprocal, lambda x: 1 / x, 1, INEXACT, sampler=rand_nonzero),
    _rec("integer_pow", lax.integer_pow, lambda x, y: x ** y, 1, NON_BOOL, kwargs={"y": 3}),
    _rec("integer_pow.negative", lax.integer_pow, lambda x, y: 1 / x ** -y, 1, INEXACT,
         sampler=rand_nonzero, kwargs={"y": -2}),
    # ---- exponentials, logs, trigonometry
    _rec("exp", lax.exp, np.exp, 1, INEXACT),
    _rec("exp2", lax.exp2, np.exp2, 1, INEXACT),
    _rec("log", lax.log, np.log, 1, INEXACT, sampler=rand_positive),
    _rec("expm1", lax.expm1, np.expm1, 1, INEXACT),
    _rec("log1p", lax.log1p, np.log1p, 1, INEXACT, sampler=_uniform(-0.9, 3)),
    _rec("tanh", lax.tanh, np.tanh, 1, INEXACT),
    _rec("logistic", lax.logistic, lambda x: 1 / (1 + np.exp(-x)), 1, INEXACT),
    _rec("sin", lax.sin, np.sin, 1, INEXACT),
    _rec("cos", lax.cos, np.cos, 1, INEXACT),
    _rec("tan", lax.tan, np.tan, 1, INEXACT, sampler=_uniform(-1.3, 1.3)),
    _rec("asin", lax.asin, np.arcsin, 1, INEXACT, sampler=_uniform(-0.9, 0.9)),
    _rec("acos", lax.acos, np.arccos, 1, INEXACT, sampler=_uniform(-0.9, 0.9)),
    _rec("atan", lax.atan, np.arctan, 1, INEXACT),
    _rec("sinh", lax.sinh, np.sinh, 1, INEXACT),
    _rec("cosh", lax.cosh, np.cosh, 1, INEXACT),
    _rec("asinh", lax.asinh, np.arcsinh, 1, INEXACT),
    _rec("acosh", lax.acosh, np.arccosh, 1, INEXACT, sampler=_uniform(1.1, 4, (-1, 1))),
    _rec("atanh", lax.atanh, np.arctanh, 1, INEXACT, sampler=_uniform(-0.9, 0.9)),
    _rec("sqrt", lax.sqrt, np.sqrt, 1, INEXACT, sampler=rand_positive),
    _rec("rsqrt", lax.rsqrt, lambda x: 1 / np.sqrt(x), 1, INEXACT, sampler=rand_positive),
    _rec("cbrt", lax.cbrt, np.cbrt, 1, FLOATS),
    # ---- special functions
    _rec("erf", lax.erf, erf_ref, 1, FLOATS),
    _rec("erfc", lax.erfc, erfc_ref, 1, FLOATS),
    _rec("erf_inv", lax.erf_inv, erfinv_ref, 1, FLOATS, sampler=_uniform(-0.99, 0.99)),
    _rec("lgamma", lax.lgamma, lgamma_ref, 1, FLOATS, sampler=_uniform(0.1, 6),
         tol=_LGAMMA_TOL),
    _rec("digamma", lax.digamma, digamma_ref, 1, FLOATS, sampler=_uniform(0.1, 6)),
    _rec("bessel_i1e", lax.bessel_i1e, i1e_ref, 1, FLOATS),
    # ---- bits
    _rec("population_count", lax.population_count, popcount_ref, 1, INTS,
         sampler=_full_range_ints),
    _rec("clz", lax.clz, clz_ref, 1, INTS, sampler=_full_range_ints),
    _rec("bitwise_not", lax.bitwise_not, np.invert, 1, BOOL_OR_INT),
    _rec("bitwise_and", lax.bitwise_and, np.bitwise_and, 2, BOOL_OR_INT),
    _rec("bitwise_or", lax.bitwise_or, np.bitwise_or, 2, BOOL_OR_INT),
    _rec("bitwise_xor", lax.bitwise_xor, np.bitwise_xor, 2, BOOL_OR_INT),
    _rec("shift_left", lax.shift_left, shift_ref("left"), 2, INTS, sampler=_shift_amounts),
    _rec("shift_right_arithmetic", lax.shift_right_arithmetic, shift_ref("arithmetic"), 2,
         INTS, sampler=_shift_amounts),
    _rec("shift_right_logical", lax.shift_right_logical, shift_ref("logical"), 2, INTS,
         sampler=_shift_amounts),
    # ---- binary arithmetic
    _rec("add", lax.add, np.add, 2, NON_BOOL),
    _rec("sub", lax.sub, np.subtract, 2, NON_BOOL),
    _rec("mul", lax.mul, np.multiply, 2, NON_BOOL),
    _rec("div", lax.div, div_ref, 2, NON_BOOL, sampler=rand_nonzero),
    _rec("rem", lax.rem, np.fmod, 2, INTS + FLOATS, sampler=rand_nonzero),
    _rec("pow", lax.pow, np.power, 2, INEXACT, sampler=rand_positive),
    _rec("pow.int_exponent", lambda x, y: lax.pow(x, _int_exponent(y)),
         lambda x, y: x ** _int_exponent(y).astype(np.float64), 2, INEXACT,
         sampler=rand_nonzero),
    _rec("max", lax.max, np.maximum, 2, ALL),
    _rec("min", lax.min, np.minimum, 2, ALL),
    _rec("atan2", lax.atan2, np.arctan2, 2, FLOATS),
    _rec("nextafter", lax.nextafter, np.nextafter, 2, FLOATS, wide=False),
    _rec("complex", lax.complex, lambda x, y: x + 1j * y, 2, (float32,),
         out_dtype=_complex_of),
    # ---- comparisons
    *[_rec(name, getattr(lax, name), ref, 2, dts, out_dtype=None)
      for name, ref, dts in [("eq", np.equal, ALL), ("ne", np.not_equal, ALL),
                             ("lt", np.less, ORDERED), ("le", np.less_equal, ORDERED),
                             ("gt", np.greater, ORDERED), ("ge", np.greater_equal, ORDERED)]],
    # ---- selection
    _rec("select_n.bool", lambda a, b: lax.select_n(_mask(a), a, b),
         lambda a, b: np.where(_mask(a), b, a), 2, ALL, shapes=[((),) * 2, ((3, 4),) * 2]),
    _rec("select_n.int", lambda a, b, c: lax.select_n(_index3(a), a, b, c),
         lambda a, b, c: np.choose(_index3(a), [a, b, c]), 3, ALL),
    _rec("select", lambda a, b: lax.select(_mask(a), a, b),
         lambda a, b: np.where(_mask(a), a, b), 2, ALL, shapes=[((),) * 2, ((3, 4),) * 2]),
    _rec("clamp", lax.clamp, lambda lo, x, hi: np.minimum(np.maximum(x, lo), hi), 3,
         ORDERED, shapes=CLAMP),
    # ---- conversions (one record per target dtype, every source dtype)
    *[_rec(f"convert_element_type.to_{np.dtype(t).name}",
           _quietly(lambda x, t=t: lax.convert_element_type(x, t)), convert_ref(t), 1, ALL,
           wide=False, shapes=[((3, 4),)])
      for t in ALL],
    _rec("convert_element_type", _quietly(lambda x: lax.convert_element_type(x, np.int32)),
         convert_ref(int32), 1, (float32,), wide=False),
    _rec("bitcast_convert_type", lambda x: lax.bitcast_convert_type(x, np.uint32),
         lambda x: np.asarray(x).view(np.uint32), 1, (int32, float32), wide=False),
    _rec("reduce_precision", lambda x: lax.reduce_precision(x, 8, 7),
         lambda x: np.asarray(x).astype(np.float32).astype(bfloat16).astype(x.dtype), 1,
         FLOATS, wide=False),
    _rec("reduce_precision.to_float16", lambda x: lax.reduce_precision(x, 5, 10),
         lambda x: np.asarray(x).astype(float16).astype(x.dtype), 1, (float32,), wide=False),
]
