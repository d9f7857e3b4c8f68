"""lamina.lax elementwise primitives: what the OpRecord table cannot express.

Python-scalar and weak-type rules, error messages, XLA edge semantics (integer division,
shifts, saturating conversions, NaN handling), params sweeps, bitcasts, zero-size
operands, and special-function values checked against jax.lax / jax.scipy as oracles.
"""
import os
import sys
import warnings

import ml_dtypes
import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))
from records_elementwise import digamma_ref, erfinv_ref, lgamma_ref  # noqa: E402

from lamina.backend.array import Array, device_put_host  # noqa: E402
from lamina.lax import elementwise as lax  # noqa: E402
from lamina.testing import assert_array_close  # noqa: E402

bf16 = ml_dtypes.bfloat16
f16, f32, c64 = np.float16, np.float32, np.complex64
i8, i16, i32 = np.int8, np.int16, np.int32
u8, u16, u32 = np.uint8, np.uint16, np.uint32


def _jax():
    import jax
    return jax


def _check_like_jax(name, *args, tol=None, **kwargs):
    """lamina.lax.<name> and jax.lax.<name> agree on shape, dtype, weak type and values,
    or both raise TypeError."""
    jax_fn = getattr(_jax().lax, name)
    ours = getattr(lax, name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", np.exceptions.ComplexWarning)
        try:
            expected = jax_fn(*args, **kwargs)
        except TypeError:
            with pytest.raises(TypeError):
                ours(*args, **kwargs)
            return None
        actual = ours(*args, **kwargs)
    assert actual.weak_type == expected.weak_type, (name, actual, expected)
    assert_array_close(actual, np.asarray(expected), rtol=tol, atol=tol, err_msg=name)
    return actual


def weak(value, dtype=f32):
    """A weakly typed 0-d lamina Array."""
    return device_put_host(np.asarray(value, dtype), weak_type=True)


# --------------------------------------------------------------------------------------
# API surface
# --------------------------------------------------------------------------------------


def test_all_exports_exist_and_are_documented():
    for name in lax.__all__:
        obj = getattr(lax, name)
        assert callable(obj), name
        if name != "RoundingMethod":
            assert "Args:" in obj.__doc__ and "Returns:" in obj.__doc__, name


def test_primitive_names_match_jax():
    jax_lax = _jax().lax
    prims = {n: p for n, p in vars(lax).items() if n.endswith("_p") and hasattr(p, "bind")}
    assert len(prims) > 60
    for attr, prim in prims.items():
        assert prim.name == getattr(jax_lax, attr).name, attr


# --------------------------------------------------------------------------------------
# Python scalars and weak types (jax 0.10 lax semantics)
# --------------------------------------------------------------------------------------

F3 = np.array([1.0, -2.0, 0.5], f32)
I3 = np.array([1, -2, 3], i32)

SCALAR_CASES = [
    ("add", (F3, 2.0)),
    ("add", (2.0, F3)),
    ("add", (F3, 2)),  # int scalar with a float array: TypeError in both
    ("add", (2.0, 3.0)),
    ("add", (2, 3.0)),
    ("mul", (I3, 2)),
    ("sub", (2, 3)),
    ("exp", (2.0,)),
    ("neg", (2,)),
    ("abs", (2.0 + 1j,)),
    ("real", (2.0 + 1j,)),
    ("conj", (2.0,)),
    ("complex", (2.0, 1.0)),
    ("lt", (2.0, 3.0)),
    ("lt", (F3, 0.5)),
    ("is_finite", (2.0,)),
    ("pow", (F3, 2)),
    ("pow", (F3, 2.0)),
    ("pow", (2.0, 3)),
    ("pow", (2.0, F3)),
    ("pow", (2.0, I3)),
    ("integer_pow", (2.0, 3)),
    ("integer_pow", (2, 3)),
    ("select_n", (True, 2.0, 3.0)),
    ("select_n", (np.array([True, False, True]), F3, 1.0)),
    ("clamp", (0.0, F3, 1.0)),
    ("clamp", (0, F3, 1)),
    ("convert_element_type", (2.0, f32)),
    ("convert_element_type", (2.5, i32)),
    ("convert_element_type", (2**40, f32)),
    ("bitcast_convert_type", (2.0, i32)),
    ("reduce_precision", (2.1, 5, 10)),
    ("atan2", (F3, 1.0)),
    ("shift_left", (I3, 2)),
    ("max", (F3, 0.0)),
]


@pytest.mark.parametrize("name,args", SCALAR_CASES,
                         ids=[f"{n}{i}" for i, (n, _) in enumerate(SCALAR_CASES)])
def test_python_scalars_like_jax(name, args):
    _check_like_jax(name, *args)


def test_python_scalars_adopt_narrow_dtypes():
    # NOTE: lamina is more permissive than jax 0.10 here (convert_python_scalars): a
    # scalar of the array's kind takes the array's dtype when it fits.
    out = lax.add(np.ones(3, bf16), 2.5)
    assert out.dtype == bf16 and not out.weak_type
    np.testing.assert_array_equal(np.asarray(out).astype(f32), [3.5] * 3)
    assert lax.add(np.ones(2, i8), 3).dtype == i8
    with pytest.raises(TypeError, match=r"lax\.add .*300"):
        lax.add(np.ones(2, i8), 300)


def test_weak_type_propagation():
    assert lax.add(weak(1.0), weak(2.0)).weak_type
    assert lax.add(weak(1.0), 2.0).weak_type
    assert not lax.add(weak(1.0), np.float32(2.0)).weak_type
    assert lax.exp(weak(1.0)).weak_type
    assert lax.abs(weak(1 + 1j, c64)).weak_type
    assert lax.lt(weak(1.0), weak(2.0)).weak_type
    assert not lax.select_n(True, weak(1.0), np.float32(2.0)).weak_type
    assert lax.select_n(np.bool_(True), weak(1.0), weak(2.0)).weak_type
    assert not lax.bitcast_convert_type(weak(1.0), i32).weak_type
    assert not lax.convert_element_type(weak(1.0), f32).weak_type
    assert lax.convert_element_type(np.float32(1.0), f32, weak_type=True).weak_type


def test_convert_element_type_noop_returns_input():
    x = device_put_host(np.arange(3, dtype=f32))
    assert lax.convert_element_type(x, np.float32) is x
    assert lax.convert_element_type(x, np.float64) is x  # float64 -> float32 (x64 off)
    y = lax.convert_element_type(x, f32, weak_type=True)
    assert y is not x and y.weak_type and isinstance(y, Array)


def test_convert_complex_to_real_warns():
    z = np.array([1 + 2j, -3j], c64)
    with pytest.warns(np.exceptions.ComplexWarning):
        out = lax.convert_element_type(z, f32)
    np.testing.assert_array_equal(np.asarray(out), [1.0, 0.0])


# --------------------------------------------------------------------------------------
# Errors name the function, the values and what is allowed
# --------------------------------------------------------------------------------------

ERROR_CASES = [
    (lambda: lax.add(F3, I3), TypeError, r"lax\.add requires arguments to have the same dtypes"),
    (lambda: lax.add(F3, np.ones(4, f32)), TypeError, r"lax\.add .*same shapes.*\(3,\), \(4,\)"),
    (lambda: lax.add("a", 1), TypeError, r"lax\.add: argument 0"),
    (lambda: lax.add(np.ones(2, bool), np.ones(2, bool)), TypeError,
     r"lax\.add does not accept dtype bool"),
    (lambda: lax.exp(I3), TypeError, r"lax\.exp does not accept dtype int32; accepted"),
    (lambda: lax.lt(np.ones(2, c64), np.ones(2, c64)), TypeError, r"lax\.lt .*complex64"),
    (lambda: lax.abs(np.ones(2, u8)), TypeError, r"lax\.abs does not accept dtype uint8"),
    (lambda: lax.bitwise_and(F3, F3), TypeError, r"lax\.bitwise_and .*float32"),
    (lambda: lax.bitwise_not(F3), TypeError, r"lax\.bitwise_not .*float32"),
    (lambda: lax.shift_left(F3, F3), TypeError, r"lax\.shift_left"),
    (lambda: lax.rem(np.ones(2, c64), np.ones(2, c64)), TypeError, r"lax\.rem"),
    (lambda: lax.conj(np.ones(2, bf16)), TypeError, r"lax\.conj .*bfloat16"),
    (lambda: lax.complex(np.ones(2, f16), np.ones(2, f16)), TypeError, r"lax\.complex"),
    (lambda: lax.nextafter(I3, I3), TypeError, r"lax\.nextafter"),
    (lambda: lax.integer_pow(I3, -1), TypeError, r"lax\.integer_pow: integers .*negative"),
    (lambda: lax.integer_pow(F3, 1.5), TypeError, r"lax\.integer_pow: .*static Python int"),
    (lambda: lax.pow(I3, I3), TypeError, r"lax\.pow requires an inexact"),
    (lambda: lax.pow(F3, np.ones(3, f16)), TypeError, r"lax\.pow .*f32\[3\] and f16\[3\]"),
    (lambda: lax.pow(F3, np.ones(2, i32)), TypeError, r"lax\.pow .*same shapes"),
    (lambda: lax.round(F3, 2), ValueError, r"lax\.round: rounding_method"),
    (lambda: lax.exp(F3, accuracy="highest"), NotImplementedError, r"lax\.exp: accuracy"),
    (lambda: lax.select_n(True), ValueError, r"lax\.select_n requires at least one case"),
    (lambda: lax.select_n(True, F3, F3, F3), TypeError, r"at most 2 cases"),
    (lambda: lax.select_n(F3, F3, F3), TypeError, r"`which` must be a bool or integer"),
    (lambda: lax.select_n(np.ones(2, bool), F3, F3), TypeError, r"0-d or have the cases"),
    (lambda: lax.select_n(True, F3, I3), TypeError, r"same dtype, got float32, int32"),
    (lambda: lax.select_n(True, F3, F3[:2]), TypeError, r"same shape"),
    (lambda: lax.clamp(np.zeros(2, f32), F3, 1.0), TypeError,
     r"lax\.clamp requires min to be 0-d or of x's shape"),
    (lambda: lax.clamp(0, F3, 1.0), TypeError,
     r"lax\.clamp requires arguments to have the same dtypes"),
    (lambda: lax.convert_element_type(F3, object), TypeError,
     r"lax\.convert_element_type: dtype object is not supported"),
    (lambda: lax.bitcast_convert_type(np.ones(2, bool), i8), TypeError,
     r"lax\.bitcast_convert_type does not convert bool"),
    (lambda: lax.bitcast_convert_type(np.ones(2, c64), np.uint64), TypeError, r"complex"),
    (lambda: lax.bitcast_convert_type(np.ones((3, 2), u8), f32), ValueError,
     r"last dimension of size 4, got shape \(3, 2\)"),
    (lambda: lax.bitcast_convert_type(np.uint8(1), u16), ValueError, r"last dimension"),
    (lambda: lax.reduce_precision(F3, 0, 3), ValueError, r"exponent_bits must be positive"),
    (lambda: lax.reduce_precision(F3, 5, -1), ValueError, r"mantissa_bits must be non-neg"),
    (lambda: lax.reduce_precision(I3, 5, 10), TypeError, r"lax\.reduce_precision .*int32"),
    (lambda: lax.reduce_precision(F3, 5.5, 10), TypeError, r"static Python ints"),
]


@pytest.mark.parametrize("fn,exc,pattern", ERROR_CASES,
                         ids=[str(i) for i in range(len(ERROR_CASES))])
def test_errors(fn, exc, pattern):
    with pytest.raises(exc, match=pattern):
        fn()


# --------------------------------------------------------------------------------------
# XLA edge semantics, checked against jax.lax
# --------------------------------------------------------------------------------------

INT_MIN = np.iinfo(np.int32).min


@pytest.mark.parametrize("name", ["div", "rem"])
def test_integer_division_edges(name):
    x = np.array([7, -7, 7, -7, 1, -1, 0, INT_MIN, INT_MIN], i32)
    y = np.array([2, 2, -2, -2, 0, 0, 0, -1, 1], i32)
    _check_like_jax(name, x, y)
    _check_like_jax(name, np.array([7, 7, 0, 255], u8), np.array([2, 0, 0, 3], u8))
    _check_like_jax(name, np.array([-128, 5, -5], i8), np.array([-1, 0, 3], i8))


def test_float_division_and_rem_specials():
    x = np.array([1.0, -1.0, 0.0, np.inf, 5.5, -5.5, 5.5], f32)
    y = np.array([0.0, 0.0, 0.0, 2.0, np.inf, 2.0, -2.0], f32)
    _check_like_jax("div", x, y)
    _check_like_jax("rem", x, y)


def test_atan2_signed_zeros_and_complex():
    x = np.array([0.0, -0.0, 0.0, -0.0, 1, -1, np.inf, np.nan], f32)
    y = np.array([0.0, 0.0, -0.0, -0.0, 0, 0, np.inf, 1], f32)
    _check_like_jax("atan2", x, y)
    _check_like_jax("atan2", np.array([-1 - 1j, 0.5j], c64), np.array([1 + 0j, -3 + 1j], c64),
                    tol=1e-6)


@pytest.mark.parametrize("dtype", [i8, u16, i32, u32])
@pytest.mark.parametrize("name", ["shift_left", "shift_right_arithmetic",
                                  "shift_right_logical"])
def test_shifts_full_range(name, dtype, rng):
    info = np.iinfo(dtype)
    bits = info.bits
    x = rng.integers(info.min, int(info.max) + 1, 40, dtype=np.int64).astype(dtype)
    lo = 0 if info.min == 0 else -3
    y = rng.integers(lo, bits + 3, 40).astype(dtype)
    _check_like_jax(name, x, y)


@pytest.mark.parametrize("src", [f16, bf16, f32])
@pytest.mark.parametrize("dst", [i8, u8, i16, i32, u32, np.bool_])
def test_convert_float_to_int_saturates(src, dst):
    x = np.array([np.nan, np.inf, -np.inf, 3e4, -3e4, -1.7, 1.7, 0.0, -0.0, 255.5, 127.9,
                  -128.9, 0.1], np.float64).astype(src)
    _check_like_jax("convert_element_type", x, dst)


@pytest.mark.parametrize("dst", [np.bool_, i32, u8, f32, bf16, c64])
def test_convert_from_complex_and_bool(dst):
    _check_like_jax("convert_element_type", np.array([1 + 2j, 1j, 0, -2.7, 300], c64), dst)
    _check_like_jax("convert_element_type", np.array([True, False]), dst)
    _check_like_jax("convert_element_type", np.array([2, 0, -1, 256, 128], i32), dst)


@pytest.mark.parametrize("dtype", [f16, bf16, f32])
def test_round_ties(dtype):
    x = np.array([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 0.49, -0.0, np.inf, np.nan], dtype)
    for method in (0, 1, lax.RoundingMethod.TO_NEAREST_EVEN):
        _check_like_jax("round", x, method)


def test_sign_abs_neg_edges():
    _check_like_jax("sign", np.array([-0.0, 0.0, np.nan, -3, np.inf, -np.inf], f32))
    _check_like_jax("sign", np.array([-128, 0, 5], i8))
    _check_like_jax("sign", np.array([0, 1, 255], u8))
    _check_like_jax("sign", np.array([0, 3 + 4j, -1j], c64))
    _check_like_jax("abs", np.array([-128, 127, 0], i8))
    _check_like_jax("abs", np.array([3 + 4j, -1j, np.inf], c64))
    _check_like_jax("neg", np.array([0, 1, 255], u8))


def test_max_min_nan_complex_bool():
    for name in ("max", "min"):
        _check_like_jax(name, np.array([np.nan, 1, -0.0, np.inf], f32),
                        np.array([1, np.nan, 0.0, -np.inf], f32))
        _check_like_jax(name, np.array([1 + 2j, 1 + 3j, 2, -1j], c64),
                        np.array([1 + 3j, 1 + 3j, 1j, -2j], c64))
        _check_like_jax(name, np.array([True, False, True]), np.array([False, False, True]))


def test_clamp_edges():
    _check_like_jax("clamp", f32(0), np.array([-1, 0.5, 2, np.nan], f32), f32(1))
    _check_like_jax("clamp", f32(3), np.array([-1, 0.5, 2], f32), f32(1))  # min > max
    _check_like_jax("clamp", c64(1 + 1j), np.array([1 + 2j, 3 - 1j, 0], c64), c64(2 + 2j))
    _check_like_jax("clamp", np.array([0, 5], u8), np.array([3, 3], u8), np.array([2, 9], u8))


def test_nextafter_specials():
    x = np.array([0, 0, 1, 1, np.inf, np.nan, -0.0, 3], f32)
    y = np.array([1, -1, 2, 0, 0, 1, 0, 3], f32)
    _check_like_jax("nextafter", x, y)
    _check_like_jax("nextafter", x.astype(bf16), y.astype(bf16))
    _check_like_jax("nextafter", x.astype(f16), y.astype(f16))


@pytest.mark.parametrize("dtype", [i32, u8, f32, c64])
def test_integer_pow_exponents(dtype):
    x = (np.array([1.5, -2.0, 0.5, 3.0]) if np.dtype(dtype).kind in "fc"
         else np.array([1, 2, 3, 5])).astype(dtype)
    exponents = range(-3, 8) if np.dtype(dtype).kind in "fc" else range(0, 8)
    for y in exponents:
        _check_like_jax("integer_pow", x, y, tol=1e-6)


def test_integer_pow_zero_is_one():
    out = lax.integer_pow(np.array([np.nan, np.inf, 0.0], f32), 0)
    np.testing.assert_array_equal(np.asarray(out), [1.0, 1.0, 1.0])


def test_pow_integer_exponent_arrays():
    x = np.array([2.0, -2.0, 0.0, 0.5, -0.5], f32)
    for ydt in (i8, i32, u8):
        y = np.array([3, 3, 0, 2, 5], ydt)
        _check_like_jax("pow", x, y)
    _check_like_jax("pow", x, np.array([3, -3, -1, -2, 0], i32))
    _check_like_jax("pow", np.array([1 + 1j, -2j], c64), np.array([3, -2], i32), tol=1e-6)
    _check_like_jax("pow", np.array([1 + 1j, -2j], c64), np.array([0.5 + 1j, 2], c64), tol=1e-6)
    _check_like_jax("pow", x.astype(bf16), np.int32(3))  # 0-d exponent broadcasts


@pytest.mark.parametrize("ncases", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("which_dtype", [i32, u8])
def test_select_n_many_cases(ncases, which_dtype):
    cases = [np.full(6, float(i), f32) for i in range(ncases)]
    which = np.array([0, ncases - 1, ncases // 2, 1 % ncases, 0, ncases - 1], which_dtype)
    _check_like_jax("select_n", which, *cases)
    _check_like_jax("select_n", which_dtype(ncases - 1), *cases)  # 0-d which


def test_select_n_out_of_range_and_scalar_cases():
    # NOTE: out-of-range indices are implementation-defined in jax; XLA picks an end case.
    cases = [np.full(4, float(i), f32) for i in range(3)]
    _check_like_jax("select_n", np.array([-1, 3, 7, 1], i32), *cases)
    _check_like_jax("select_n", np.array([True, False]), f32(1), f32(2))  # only
    _check_like_jax("select", np.array([True, False]), np.ones(2, i8), np.zeros(2, i8))
    _check_like_jax("select", True, np.ones(2, c64), np.zeros(2, c64))


BITCASTS = [
    (f32, (3,), u32), (f32, (3,), i32), (i32, (2, 2), f32), (u32, (), f32),
    (f16, (4,), i16), (bf16, (4,), u16), (f16, (4,), bf16),
    (f32, (3,), u8), (f32, (), u16), (f32, (2,), bf16), (u16, (3,), i8), (bf16, (), u8),
    (u8, (3, 4), f32), (u8, (2,), bf16), (i16, (5, 2), u32), (u8, (4,), i32),
    (c64, (2,), c64), (np.bool_, (2,), np.bool_),
]


@pytest.mark.parametrize("src,shape,dst", BITCASTS,
                         ids=[f"{np.dtype(s).name}{list(sh)}->{np.dtype(d).name}"
                              for s, sh, d in BITCASTS])
def test_bitcast_convert_type(src, shape, dst, rng):
    x = rng.integers(0, 2**16, (*shape, 4)).astype(np.uint16).view(np.uint8)
    x = np.ascontiguousarray(x.reshape(-1)[: int(np.prod(shape, dtype=int)) *
                                          np.dtype(src).itemsize]).view(src).reshape(shape)
    if np.dtype(src).kind == "f":
        x = np.where(np.isnan(x), np.zeros((), src), x)  # keep NaN payloads out of the check
    out = lax.bitcast_convert_type(x, dst)
    old, new = np.dtype(src).itemsize, np.dtype(dst).itemsize
    if new < old:
        expected = np.asarray(x).reshape(*shape, 1).view(dst).reshape(*shape, old // new)
    else:
        expected = np.asarray(x).view(dst).reshape(shape[:-1] if new > old else shape)
    assert out.shape == expected.shape and out.dtype == expected.dtype
    np.testing.assert_array_equal(np.asarray(out).reshape(-1).view(np.uint8),
                                  expected.reshape(-1).view(np.uint8))
    _check_like_jax("bitcast_convert_type", x, dst)


def test_reduce_precision_like_jax():
    x = np.array([1.0, 1 + 2**-11, 1 + 3 * 2**-11, 65519, 65520, 1e5, 3e-5, 6e-8, 1e-9,
                  -2.5, np.nan, np.inf], f32)
    for e, m in [(5, 10), (8, 7), (8, 23), (4, 3), (5, 2), (2, 0)]:
        _check_like_jax("reduce_precision", x, e, m)
    small = x[np.abs(x) < 6e4]
    _check_like_jax("reduce_precision", small.astype(f16), 8, 7)
    _check_like_jax("reduce_precision", small.astype(f16), 4, 3)
    _check_like_jax("reduce_precision", x.astype(bf16), 5, 10)


# --------------------------------------------------------------------------------------
# Accuracy outside the table's domains
# --------------------------------------------------------------------------------------


def test_complex_sin_cos_tan_large_imaginary():
    z = np.array([1 + 50j, 100j, -2 - 30j, 1e-4 + 1e-5j, 3 + 0j, -1e-7j], c64)
    for name in ("sin", "cos"):
        out = np.asarray(getattr(lax, name)(z))
        with np.errstate(over="ignore"):  # sin(100j) overflows float32: inf, as XLA
            ref = getattr(np, name)(z.astype(np.complex128)).astype(c64)
        assert np.all(np.isfinite(out) == np.isfinite(ref)), (name, out, ref)
        finite = np.isfinite(ref)
        np.testing.assert_allclose(out[finite], ref[finite], rtol=2e-6, err_msg=name)
        _check_like_jax(name, z, tol=2e-6)
    _check_like_jax("tan", z[3:], tol=2e-6)


def test_exp2_logistic_extremes():
    x = np.array([-30, -14.5, 0, 10.25, 15.9], f16)
    assert_array_close(lax.exp2(x), np.exp2(x.astype(np.float64)).astype(f16))
    x = np.array([-126.5, -1, 0, 3.5, 127.5], bf16)
    assert_array_close(lax.exp2(x), np.exp2(x.astype(np.float64)).astype(bf16))
    out = lax.logistic(np.array([-200, -50, 0, 50, 200], f32))
    np.testing.assert_allclose(np.asarray(out), [0, 1.9287498e-22, 0.5, 1, 1], rtol=1e-6)


@pytest.mark.parametrize("dtype", [f16, bf16, f32])
def test_special_functions_like_jax(dtype):
    tol = {f16: 2e-3, bf16: 1e-2, f32: 2e-6}[dtype]
    negative = np.array([-0.5, -1.0, 0.0, -2.5, -3.7, -1e-3, 0.25, 7.5, 30.0], dtype)
    for name in ("lgamma", "digamma"):
        _check_like_jax(name, negative, tol=tol)
    _check_like_jax("erf_inv", np.array([-1, -0.999, -0.5, 0, 1e-4, 0.9, 0.9999, 1, 1.5],
                                        dtype), tol=tol)
    tails = np.array([-6, -3, -1e-3, 0, 0.5, 2.5, 5, 9, 12], dtype)
    for name in ("erf", "erfc", "bessel_i1e"):
        _check_like_jax(name, tails, tol=tol)
    _check_like_jax("bessel_i1e", np.array([-50, -12, 30, 80], dtype), tol=tol)


def test_special_references_against_jax_scipy():
    # The table's hand-written float64 references agree with jax.scipy.special.
    jss = _jax().scipy.special
    x = np.array([0.1, 0.5, 1.0, 2.5, 5.9, -0.5, -2.5, -3.7])
    np.testing.assert_allclose(digamma_ref(x), np.asarray(jss.digamma(x.astype(f32))),
                               rtol=2e-6)
    np.testing.assert_allclose(lgamma_ref(x), np.asarray(jss.gammaln(x.astype(f32))),
                               rtol=2e-6, atol=2e-6)
    y = np.array([-0.99, -0.5, 0.0, 1e-3, 0.7, 0.999])
    np.testing.assert_allclose(erfinv_ref(y), np.asarray(jss.erfinv(y.astype(f32))),
                               rtol=2e-6)


# --------------------------------------------------------------------------------------
# Zero-size operands for every op
# --------------------------------------------------------------------------------------

UNARY_ZERO = {
    "neg": u8, "sign": u8, "floor": f32, "ceil": f32, "round": bf16, "is_finite": f16,
    "exp": c64, "exp2": f16, "log": f32, "expm1": f32, "log1p": f32, "tanh": f32,
    "logistic": f32, "sin": c64, "cos": f32, "tan": f32, "asin": f32, "acos": f32,
    "atan": f32, "sinh": f32, "cosh": f32, "asinh": f32, "acosh": f32, "atanh": f32,
    "sqrt": f32, "rsqrt": f32, "cbrt": f32, "abs": c64, "real": c64, "imag": c64,
    "conj": f32, "erf": f16, "erfc": f32, "erf_inv": f32, "lgamma": bf16, "digamma": f32,
    "bessel_i1e": f32, "square": i32, "reciprocal": f32, "population_count": u32,
    "clz": i8, "bitwise_not": np.bool_,
}
BINARY_ZERO = {
    "add": i32, "sub": f16, "mul": c64, "div": i8, "rem": f32, "pow": f32, "max": np.bool_,
    "min": f32, "atan2": f32, "nextafter": bf16, "complex": f32, "bitwise_and": u8,
    "bitwise_or": np.bool_, "bitwise_xor": i32, "shift_left": i32,
    "shift_right_arithmetic": i8, "shift_right_logical": u16, "eq": c64, "ne": f32,
    "lt": i32, "le": u8, "gt": f32, "ge": bf16,
}


def test_zero_size_covers_every_elementwise_op():
    covered = set(UNARY_ZERO) | set(BINARY_ZERO) | {
        "integer_pow", "select_n", "select", "clamp", "convert_element_type",
        "bitcast_convert_type", "reduce_precision", "RoundingMethod",
        "polygamma", "stop_gradient"}  # tested in test_transforms_elementwise.py
    assert covered == set(lax.__all__)


@pytest.mark.parametrize("name", sorted(UNARY_ZERO))
def test_zero_size_unary(name):
    x = np.zeros((0, 3), UNARY_ZERO[name])
    _check_like_jax(name, x)


@pytest.mark.parametrize("name", sorted(BINARY_ZERO))
def test_zero_size_binary(name):
    x = np.zeros((0, 3), BINARY_ZERO[name])
    out = _check_like_jax(name, x, x)
    assert out.shape == (0, 3)
    _check_like_jax(name, x, np.zeros((), x.dtype))  # 0-d operands broadcast


def test_zero_size_other_ops():
    x = np.zeros((0, 3), f32)
    _check_like_jax("integer_pow", x, 3)
    _check_like_jax("select_n", np.zeros((0, 3), i32), x, x, x)
    _check_like_jax("select", True, x, x)
    _check_like_jax("clamp", f32(0), x, f32(1))
    _check_like_jax("convert_element_type", x, np.bool_)
    _check_like_jax("bitcast_convert_type", x, u8)
    _check_like_jax("bitcast_convert_type", np.zeros((0, 4), u8), f32)
    _check_like_jax("reduce_precision", x, 5, 10)
