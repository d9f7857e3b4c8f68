"""lamina.numpy elementwise functions: what the OpRecord table cannot express.

* result dtypes and weak types against jax.numpy (`jax.eval_shape` of the jnp function
  is the oracle: it traces without compiling);
* special values (NaN, infinities, signed zeros, subnormals, negative operands) against
  numpy, or jax where their semantics differ;
* keyword arguments, multiple outputs and errors that name the function.
"""
import os
import sys
import warnings

import ml_dtypes
import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))

import lamina  # noqa: E402
import lamina.numpy as lnp  # noqa: E402
from lamina.testing import assert_array_close  # noqa: E402

bf16 = ml_dtypes.bfloat16

UNARY = [
    "abs", "absolute", "fabs", "negative", "positive", "sign", "square", "sqrt", "cbrt",
    "reciprocal", "exp", "exp2", "expm1", "log", "log2", "log10", "log1p", "sin", "cos",
    "tan", "arcsin", "arccos", "arctan", "sinh", "cosh", "tanh", "arcsinh", "arccosh",
    "arctanh", "deg2rad", "rad2deg", "sinc", "floor", "ceil", "trunc", "rint", "round",
    "isnan", "isinf", "isfinite", "isposinf", "isneginf", "signbit", "frexp", "modf",
    "real", "imag", "conj", "angle", "isreal", "iscomplex", "nan_to_num", "i0",
    "logical_not", "invert", "bitwise_count", "spacing",
]
BINARY = [
    "add", "subtract", "multiply", "divide", "floor_divide", "remainder", "fmod", "divmod",
    "power", "float_power", "logaddexp", "logaddexp2", "arctan2", "hypot", "maximum",
    "minimum", "fmax", "fmin", "copysign", "nextafter", "heaviside", "equal", "less",
    "greater_equal", "logical_and", "logical_xor", "isclose", "ldexp", "gcd", "lcm",
    "bitwise_and", "bitwise_or", "left_shift", "right_shift",
]
UNARY_ARGS = [1.5, 2, True, 1.5 + 1j, np.array([1, -2], np.int8),
              np.array([1.5, 2], bf16)]
BINARY_ARGS = [(1.5, 2.5), (2, 3), (2, 2.5), (True, False), (np.array([1, 2], np.int8), 1.5),
               (np.array([1.5, 2], bf16), 2), (np.array([3, 1], np.uint8), 2),
               (np.array([1, 2], np.float16), np.array([1, 2], np.int8)),
               (2.5, np.array([True, False]))]


def _describe(fn, *args):
    """('dtype~' per output) or the exception type, for lamina and jax alike."""
    try:
        out = fn(*args)
    except (TypeError, ValueError) as e:
        return type(e).__name__
    outs = out if isinstance(out, tuple) else (out,)
    return tuple(f"{np.dtype(o.dtype).name}{'~' if o.weak_type else ''}{tuple(o.shape)}"
                 for o in outs)


def _jax_describe(name, *args):
    import jax
    import jax.numpy as jnp
    if name == "power":
        # NOTE: jnp.power specialises on a *concrete* integer exponent, which
        # eval_shape would trace; run it eagerly.
        return _describe(jnp.power, *args)
    return _describe(lambda *a: jax.eval_shape(getattr(jnp, name), *a), *args)


@pytest.mark.parametrize("name", UNARY)
def test_unary_dtypes_and_weak_types_match_jax(name):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", np.exceptions.ComplexWarning)
        for x in UNARY_ARGS:
            assert _describe(getattr(lnp, name), x) == _jax_describe(name, x), (name, x)


@pytest.mark.parametrize("name", BINARY)
def test_binary_dtypes_and_weak_types_match_jax(name):
    for x, y in BINARY_ARGS:
        assert _describe(getattr(lnp, name), x, y) == _jax_describe(name, x, y), (name, x, y)


def test_broadcasting_and_promotion_of_mixed_arrays():
    x = np.arange(12, dtype=np.int8).reshape(3, 4)
    y = np.linspace(-1, 1, 4).astype(np.float16)
    out = lnp.add(x[:, :1], y)
    assert out.dtype == np.float16 and out.shape == (3, 4)
    assert_array_close(out, (x[:, :1].astype(np.float32) + y.astype(np.float32))
                       .astype(np.float16))
    assert lnp.multiply(np.uint8(3), np.int8(-2)).dtype == np.int16
    assert lnp.add(np.uint32(3), np.int32(2)).dtype == np.int32  # jax: no 64-bit result


# --------------------------------------------------------------------------------------
# Special values
# --------------------------------------------------------------------------------------

# NOTE: no subnormals: XLA:CPU flushes them to zero (as in jax).
SPECIAL = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-30, -2.5, 3.0, 7.5],
                   np.float32)


def _np(fn, *args):
    with np.errstate(all="ignore"):
        return fn(*args)


def test_nan_semantics_maximum_vs_fmax():
    a = np.array([np.nan, 1.0, np.nan, -np.inf, 0.0], np.float32)
    b = np.array([2.0, np.nan, np.nan, 1.0, -0.0], np.float32)
    for name in ("maximum", "minimum", "fmax", "fmin"):
        assert_array_close(getattr(lnp, name)(a, b), getattr(np, name)(a, b), err_msg=name)
        assert_array_close(getattr(lnp, name)(b, a), getattr(np, name)(b, a), err_msg=name)


@pytest.mark.parametrize("name", ["isnan", "isinf", "isfinite", "isposinf", "isneginf",
                                  "signbit", "sign", "floor", "ceil", "trunc", "rint",
                                  "nan_to_num", "spacing", "sqrt", "log1p", "exp", "sinc",
                                  "cbrt", "arctan"])
def test_unary_special_values(name):
    assert_array_close(getattr(lnp, name)(SPECIAL), _np(getattr(np, name), SPECIAL),
                       err_msg=name)


def test_frexp_and_modf_special_values():
    m, e = lnp.frexp(SPECIAL)
    m_ref, e_ref = np.frexp(SPECIAL)
    assert e.dtype == np.int32
    finite = np.isfinite(SPECIAL)
    assert_array_close(m, m_ref)
    np.testing.assert_array_equal(np.asarray(e)[finite], e_ref[finite])
    for dt in (np.float16, bf16):
        x = np.array([0.1, -3.0, 1e-6, 100.0], dt)
        m, e = lnp.frexp(x)
        assert m.dtype == dt
        np.testing.assert_array_equal(np.asarray(m).astype(np.float64) * 2.0 ** np.asarray(e),
                                      x.astype(np.float64))
    frac, whole = lnp.modf(SPECIAL)
    frac_ref, whole_ref = _np(np.modf, SPECIAL)
    assert_array_close(whole, whole_ref)
    assert_array_close(np.asarray(frac)[finite], frac_ref[finite])
    # NOTE: jax's modf gives a NaN fraction for infinities (numpy gives 0); we follow jax.
    import jax.numpy as jnp
    assert_array_close(frac, np.asarray(jnp.modf(SPECIAL)[0]))


def test_ldexp_special_values_and_extremes():
    x = np.array([1.0, -1.5, 0.0, np.inf, 3.0, 1.0, 0.75], np.float32)
    e = np.array([3, -2, 5, 1, -140, 127, 128], np.int32)
    assert_array_close(lnp.ldexp(x, e), _np(np.ldexp, x, e))


def test_integer_division_and_remainder_signs():
    a = np.array([7, -7, 7, -7, 0, 5, -128], np.int8)
    b = np.array([2, 2, -2, -2, 3, 1, -1], np.int8)
    for name in ("floor_divide", "remainder", "fmod"):
        assert_array_close(getattr(lnp, name)(a, b), _np(getattr(np, name), a, b),
                           err_msg=name)
    q, r = lnp.divmod(a, b)
    assert_array_close(q, _np(np.floor_divide, a, b))
    assert_array_close(r, _np(np.remainder, a, b))
    u = np.array([7, 200, 0], np.uint8)
    assert_array_close(lnp.floor_divide(u, np.uint8(3)), u // 3)
    assert_array_close(lnp.remainder(u, np.uint8(3)), u % 3)


def test_integer_division_by_zero_matches_jax():
    import jax.numpy as jnp
    a = np.array([5, -5, 0], np.int32)
    z = np.zeros(3, np.int32)
    for name in ("floor_divide", "remainder", "fmod"):
        np.testing.assert_array_equal(np.asarray(getattr(lnp, name)(a, z)),
                                      np.asarray(getattr(jnp, name)(a, z)), err_msg=name)


def test_float_division_and_remainder_signs():
    a = np.array([7.5, -7.5, 7.5, -7.5, 0.0, -0.0, np.inf, 3.0, 1.0], np.float32)
    b = np.array([2.0, 2.0, -2.0, -2.0, 3.0, 3.0, 2.0, np.inf, 0.0], np.float32)
    for name in ("floor_divide", "remainder", "fmod"):
        assert_array_close(getattr(lnp, name)(a, b), _np(getattr(np, name), a, b),
                           err_msg=name)
    q, r = lnp.divmod(a, b)
    q_ref, r_ref = _np(np.divmod, a, b)
    assert_array_close(q, q_ref)
    assert_array_close(r, r_ref)


def test_power_integer_and_float_exponents():
    x = np.array([-3, -1, 0, 2, 5], np.int32)
    assert_array_close(lnp.power(x, 3), x ** 3)
    assert lnp.power(x, 3).dtype == np.int32
    assert_array_close(lnp.power(x, np.int32(0)), np.ones(5, np.int32))
    e = np.array([0, 1, 2, 7, 3], np.int32)
    assert_array_close(lnp.power(x, e), x ** e)
    assert_array_close(lnp.power(np.int8(2), np.array([6, 7], np.int8)),
                       np.array([64, -128], np.int8))  # wraps like numpy/jax
    f = np.array([0.5, 2.0, -1.5], np.float32)
    assert_array_close(lnp.power(f, np.array([2, -3, 3], np.int32)),
                       (f ** np.array([2, -3, 3])).astype(np.float32))
    assert_array_close(lnp.power(f, -2), (f.astype(np.float64) ** -2).astype(np.float32))
    assert lnp.power(np.array([1.5], bf16), np.array([2], np.int32)).dtype == bf16
    with pytest.raises(TypeError, match="negative"):
        lnp.power(x, -1)
    # x ** 0.5 of negatives is NaN (no complex promotion).
    assert np.isnan(np.asarray(lnp.power(np.float32(-4), 0.5)))


def test_float_power_and_logaddexp_extremes():
    a = np.array([-np.inf, -np.inf, np.inf, 1e30, np.nan, 0.0], np.float32)
    b = np.array([-np.inf, 1.0, np.inf, 1e30, 1.0, -1e30], np.float32)
    assert_array_close(lnp.logaddexp(a, b), _np(np.logaddexp, a, b))
    assert_array_close(lnp.logaddexp2(a, b), _np(np.logaddexp2, a, b))
    assert_array_close(lnp.hypot(a, b), _np(np.hypot, a, b))
    big = np.array([3e38, 1e-30], np.float32)
    assert_array_close(lnp.hypot(big, big / 2),
                       _np(lambda u, v: np.hypot(u, v).astype(np.float32),
                           big.astype(np.float64), big.astype(np.float64) / 2))


def test_complex_functions():
    z = np.array([1 + 2j, -3 - 0.5j, 0.5j, -2 + 0j], np.complex64)
    for name in ("exp", "log", "log2", "log10", "sqrt", "sign", "arccosh", "angle",
                 "absolute", "conjugate", "real", "imag"):
        assert_array_close(getattr(lnp, name)(z), _np(getattr(np, name), z),
                           rtol=1e-5, atol=1e-5, err_msg=name)
    assert_array_close(lnp.angle(z, deg=True), np.angle(z, deg=True), rtol=1e-5)
    # Complex comparisons are lexicographic, as numpy's.
    w = np.array([1 + 3j, -3 - 0.5j, 1j, -2 - 1j], np.complex64)
    for name in ("less", "greater_equal", "maximum", "minimum"):
        assert_array_close(getattr(lnp, name)(z, w), getattr(np, name)(z, w), err_msg=name)
    assert_array_close(lnp.round(np.array([1.234 + 5.678j], np.complex64), 1),
                       np.array([1.2 + 5.7j], np.complex64))
    assert_array_close(lnp.nan_to_num(np.array([complex(np.nan, np.inf)], np.complex64)),
                       np.nan_to_num(np.array([complex(np.nan, np.inf)], np.complex64)))


def test_round_decimals_and_ties():
    x = np.array([0.5, 1.5, 2.5, -0.5, -2.5, 1.2345, 123.456], np.float32)
    assert_array_close(lnp.round(x), np.round(x))
    assert_array_close(lnp.rint(x), np.rint(x))
    assert_array_close(lnp.round(x, 2), np.round(x, 2))
    assert_array_close(lnp.round(x, -1), np.round(x, -1))
    assert_array_close(lnp.around(np.float16(2.675), 2), np.round(np.float16(2.675), 2))
    np.testing.assert_array_equal(np.asarray(lnp.round(np.array([15, 25], np.int32))),
                                  [15, 25])
    assert float(lnp.round(np.float32(1.5), 50)) == 1.5


def test_nan_to_num_custom_values():
    x = np.array([np.nan, np.inf, -np.inf, 1.0], np.float32)
    assert_array_close(lnp.nan_to_num(x, nan=-1.0, posinf=9.0, neginf=-9.0),
                       np.nan_to_num(x, nan=-1.0, posinf=9.0, neginf=-9.0))
    assert_array_close(lnp.nan_to_num(x.astype(np.float16)),
                       np.nan_to_num(x.astype(np.float16)))


def test_bit_level_functions():
    x = np.array([1.0, -1.0, 0.0, -0.0, np.inf, 1e-45], np.float32)
    y = np.array([2.0, -2.0, -1.0, 1.0, 0.0, 0.0], np.float32)
    for name in ("copysign", "nextafter"):
        assert_array_close(getattr(lnp, name)(x, y), getattr(np, name)(x, y), err_msg=name)
    np.testing.assert_array_equal(np.asarray(lnp.signbit(x)), np.signbit(x))
    i = np.array([0, 1, -1, 127, -128], np.int8)
    np.testing.assert_array_equal(np.asarray(lnp.bitwise_count(i)), np.bitwise_count(i))
    np.testing.assert_array_equal(np.asarray(lnp.right_shift(i, np.int8(1))), i >> 1)
    np.testing.assert_array_equal(np.asarray(lnp.right_shift(i.view(np.uint8), np.uint8(1))),
                                  i.view(np.uint8) >> 1)


def test_gcd_lcm_edge_cases():
    a = np.array([0, 0, 12, -12, 2**31 - 1, 1836311903, -7], np.int32)
    b = np.array([0, 5, -18, -18, 2**31 - 2, 1134903170, 0], np.int32)
    np.testing.assert_array_equal(np.asarray(lnp.gcd(a, b)), np.gcd(a, b))
    c = np.array([0, 4, -6, 7], np.int32)
    d = np.array([3, 6, 4, -7], np.int32)
    np.testing.assert_array_equal(np.asarray(lnp.lcm(c, d)), np.lcm(c, d))
    assert lnp.gcd(np.array([4, 6], np.int8), 10).dtype == np.int8


def test_clip_signatures():
    x = np.array([-2.0, 0.5, 3.0], np.float32)
    assert_array_close(lnp.clip(x, 0, 1), np.clip(x, 0, 1))
    assert_array_close(lnp.clip(x, max=1.0), np.clip(x, None, 1.0))
    assert_array_close(lnp.clip(x, min=np.array([0.0, 1.0, 0.0], np.float32)),
                       np.clip(x, np.array([0.0, 1.0, 0.0]), None).astype(np.float32))
    assert_array_close(lnp.clip(x, a_min=-1, a_max=1), np.clip(x, -1, 1))
    assert_array_close(lnp.clip(a=x, a_max=0), np.clip(x, None, 0))
    assert_array_close(lnp.clip(x), x)
    assert lnp.clip(np.arange(3, dtype=np.int8), 0, 1).dtype == np.int8
    assert_array_close(np.asarray(x).clip(0, 1), np.asarray(lnp.asarray(x).clip(0, 1)))


def test_isclose_and_array_comparisons():
    a = np.array([1.0, np.nan, np.inf, -np.inf, 1e-9, 1.0], np.float32)
    b = np.array([1.0 + 1e-6, np.nan, np.inf, np.inf, 0.0, 1.1], np.float32)
    for kw in ({}, {"equal_nan": True}, {"rtol": 0.2}, {"atol": 0.0, "rtol": 0.0}):
        np.testing.assert_array_equal(np.asarray(lnp.isclose(a, b, **kw)),
                                      np.isclose(a, b, **kw), err_msg=str(kw))
    np.testing.assert_array_equal(
        np.asarray(lnp.isclose(a, b, rtol=np.array([0.0, 0, 0, 0, 0, 0.2], np.float32))),
        np.isclose(a, b, rtol=np.array([0.0, 0, 0, 0, 0, 0.2])))
    assert bool(lnp.allclose(a[:1], b[:1])) and not bool(lnp.allclose(a, b))
    assert bool(lnp.allclose(a, a, equal_nan=True))
    assert not bool(lnp.array_equal(a, a)) and bool(lnp.array_equal(a, a, equal_nan=True))
    assert not bool(lnp.array_equal(np.zeros(3), np.zeros(4)))
    assert bool(lnp.array_equiv(np.ones((2, 3)), np.ones(3)))
    assert not bool(lnp.array_equiv(np.ones((2, 3)), np.ones(2)))


def test_interp():
    xp = np.array([0.0, 1.0, 2.5, 4.0], np.float32)
    fp = np.array([1.0, -1.0, 2.0, 0.0], np.float32)
    x = np.array([-1.0, 0.0, 0.5, 2.5, 3.0, 4.0, 9.0], np.float32)
    assert_array_close(lnp.interp(x, xp, fp), np.interp(x, xp, fp).astype(np.float32))
    assert_array_close(lnp.interp(x, xp, fp, left=-5.0, right=5.0),
                       np.interp(x, xp, fp, left=-5.0, right=5.0).astype(np.float32))
    assert_array_close(lnp.interp(x, xp, fp, period=3.0),
                       np.interp(x, xp, fp, period=3.0).astype(np.float32), rtol=1e-5,
                       atol=1e-5)
    import jax.numpy as jnp
    assert_array_close(lnp.interp(x, xp, fp, left="extrapolate", right="extrapolate"),
                       np.asarray(jnp.interp(x, xp, fp, left="extrapolate",
                                             right="extrapolate")))
    assert lnp.interp(np.arange(3), np.arange(3), np.arange(3)).dtype == np.float32


def test_gradient_with_spacing():
    f = np.array([[1.0, 2.0, 4.0, 7.0], [2.0, 0.0, -1.0, 5.0], [0.0, 1.0, 0.0, 1.0]],
                 np.float32)
    for args in ((), (2.0,), (np.array([0.0, 1.0, 3.0], np.float32),
                              np.array([0.0, 0.5, 1.0, 3.0], np.float32))):
        got, ref = lnp.gradient(f, *args), np.gradient(f.astype(np.float64), *args)
        assert isinstance(got, list) and len(got) == 2
        for g, r in zip(got, ref):
            assert_array_close(g, r.astype(np.float32), rtol=1e-6, atol=1e-6)
    assert lnp.gradient(f, axis=()) == []


def test_diff_and_ediff1d_keywords():
    x = np.array([[1, 4, 9], [16, 25, 36]], np.int32)
    assert_array_close(lnp.diff(x, n=0), x)
    assert_array_close(lnp.diff(x, axis=0, prepend=np.zeros((1, 3), np.int32)),
                       np.diff(x, axis=0, prepend=np.zeros((1, 3), np.int32)))
    assert_array_close(lnp.diff(x, n=3), np.diff(x, n=3))  # longer than the axis
    assert_array_close(lnp.ediff1d(x, to_begin=np.int32(-1), to_end=np.array([7, 8])),
                       np.ediff1d(x, to_begin=-1, to_end=[7, 8]))


def test_array_methods_use_these_ufuncs():
    x = lnp.asarray(np.array([-3, -1, 4, 7], np.int32))
    np.testing.assert_array_equal(np.asarray(x // 2), np.array([-3, -1, 4, 7]) // 2)
    np.testing.assert_array_equal(np.asarray(x % 3), np.array([-3, -1, 4, 7]) % 3)
    np.testing.assert_array_equal(np.asarray(7 // x), 7 // np.array([-3, -1, 4, 7]))
    np.testing.assert_array_equal(np.asarray(-x), [3, 1, -4, -7])
    np.testing.assert_array_equal(np.asarray(abs(x)), [3, 1, 4, 7])
    np.testing.assert_array_equal(np.asarray(~x), ~np.array([-3, -1, 4, 7]))
    np.testing.assert_array_equal(np.asarray(x ** 2), [9, 1, 16, 49])
    np.testing.assert_array_equal(np.asarray(2 ** x[2:]), [16, 128])
    q, r = divmod(x, 2)
    np.testing.assert_array_equal(np.asarray(q), [-2, -1, 2, 3])
    assert (x + 1.5).dtype == np.float32 and (x < 0).dtype == np.bool_
    assert round(lnp.asarray(np.float32(2.5))).dtype == np.float32


# --------------------------------------------------------------------------------------
# Errors name the function
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("call, exc, match", [
    (lambda: lnp.add(np.ones(3), np.ones(4)), ValueError, "add.*broadcast"),
    (lambda: lnp.hypot(np.ones((2, 3)), np.ones((3, 2))), ValueError, "hypot"),
    (lambda: lnp.add([1, 2], 1), TypeError, "add"),
    (lambda: lnp.sin([1.0]), TypeError, "sin"),
    (lambda: lnp.negative(np.array([True])), TypeError, "negative.*bool"),
    (lambda: lnp.subtract(True, False), TypeError, "subtract"),
    (lambda: lnp.bitwise_and(1.5, 2.0), TypeError, "bitwise_and"),
    (lambda: lnp.left_shift(np.ones(2, np.float32), 1), TypeError, "left_shift"),
    (lambda: lnp.fabs(np.ones(2, np.complex64)), TypeError, "fabs.*complex"),
    (lambda: lnp.floor_divide(1j, 2), TypeError, "floor_divide.*complex"),
    (lambda: lnp.remainder(np.ones(2, np.complex64), 2), TypeError, "remainder"),
    (lambda: lnp.floor(np.ones(2, np.complex64)), TypeError, "floor"),
    (lambda: lnp.hypot(1j, 1.0), ValueError, "hypot.*complex"),
    (lambda: lnp.signbit(1j), ValueError, "signbit"),
    (lambda: lnp.isposinf(1j), ValueError, "isposinf"),
    (lambda: lnp.gcd(1.5, 2), ValueError, "gcd.*integer"),
    (lambda: lnp.ldexp(1.0, 2.0), ValueError, "ldexp"),
    (lambda: lnp.clip(np.ones(2, np.complex64), 0, 1), ValueError, "clip.*complex"),
    (lambda: lnp.clip(), ValueError, "clip"),
    (lambda: lnp.round(np.ones(2), out=np.ones(2)), NotImplementedError, "round.*out"),
    (lambda: lnp.diff(np.ones(3), n=-1), ValueError, "diff.*non-negative"),
    (lambda: lnp.diff(np.float32(1)), ValueError, "diff.*rank"),
    (lambda: lnp.diff(np.ones((2, 2)), axis=2), ValueError, "diff.*axis 2"),
    (lambda: lnp.gradient(np.ones(1)), ValueError, "gradient.*at least 2"),
    (lambda: lnp.gradient(np.ones(4), np.ones(3)), ValueError, "gradient.*spacing"),
    (lambda: lnp.convolve(np.ones((2, 2)), np.ones(2)), ValueError, "convolve.*1-d"),
    (lambda: lnp.correlate(np.ones(3), np.ones(0)), ValueError, "correlate.*empty"),
    (lambda: lnp.convolve(np.ones(3), np.ones(2), mode="middle"), ValueError, "mode"),
    (lambda: lnp.interp(np.ones(2), np.ones(3), np.ones(2)), ValueError, "interp"),
    (lambda: lnp.interp(np.ones(2), np.ones(3), np.ones(3), left="x"), ValueError,
     "extrapolate"),
    (lambda: lnp.power(np.arange(3), -2), TypeError, "negative"),
])
def test_errors_name_the_function(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


@pytest.mark.parametrize("dtype", ["uint8", "uint32", "int8", "int16"])
def test_python_int_wraps_into_narrow_int_like_jax(dtype):
    # jax converts a Python int through the default int dtype, then wraps it: uint8 + -1
    # is 255 + 1 modulo 256, eagerly and under jit; an int beyond int32 is an error.
    import jax
    import jax.numpy as jnp
    x = np.array([1, 2, 100], dtype)
    for value in (-1, 300, -129):
        want = np.asarray(jnp.asarray(x) + value)
        for fn in (lambda a: a + value, lamina.jit(lambda a: a + value)):
            got = np.asarray(fn(lnp.asarray(x)))
            assert got.dtype == want.dtype and np.array_equal(got, want), (value, got, want)
        assert np.array_equal(np.asarray(lnp.asarray(x) * value),
                              np.asarray(jax.jit(lambda a: a * value)(jnp.asarray(x))))
    with pytest.raises(OverflowError, match="3000000000 is too large for int32"):
        lnp.asarray(x) + 3_000_000_000
