"""lax reductions, cumulative reductions, sorting and windowed reductions: what the
OpRecord table cannot express (NaN ordering, multi-operand and multi-output ops, jax
comparisons for padding/dilation, weak types, error messages)."""
import os
import sys

import ml_dtypes
import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))
from records_reductions import np_reduce_window  # noqa: E402

from lamina.ir import AbstractArray  # noqa: E402
from lamina.lax import reductions as lr  # noqa: E402
from lamina.testing import assert_array_close  # noqa: E402

bf16 = np.dtype(ml_dtypes.bfloat16)
nan, inf = np.nan, np.inf


@pytest.fixture(scope="module")
def jlax():
    jax = pytest.importorskip("jax")
    return jax.lax


def _elementwise():
    """lamina.lax.elementwise's add/max/min (written concurrently; skip until present)."""
    from lamina.lax import elementwise
    if not all(hasattr(elementwise, n) for n in ("add", "max", "min")):
        pytest.skip("lamina.lax.elementwise does not define add/max/min yet")
    return elementwise


def _bits_equal(actual, desired):
    a, d = np.asarray(actual), np.asarray(desired)
    assert a.shape == d.shape and a.dtype == d.dtype, (a.shape, a.dtype, d.shape, d.dtype)
    # NOTE: compare bit patterns so that -0.0 vs 0.0 and NaN positions count.
    width = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}[a.dtype.itemsize]
    np.testing.assert_array_equal(a.view(width), d.view(width))


# --------------------------------------------------------------------------------------
# Reductions
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float16, bf16, np.float32, np.int8, np.uint16, np.bool_])
def test_empty_reductions_give_identities(dtype):
    dtype = np.dtype(dtype)
    x = np.zeros((0, 2), dtype)
    if dtype == np.bool_:
        expect = {"max": False, "min": True, "and": True, "or": False, "xor": False}
    elif np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        expect = {"sum": 0, "prod": 1, "max": info.min, "min": info.max,
                  "and": info.max if info.min == 0 else -1, "or": 0, "xor": 0}
    else:
        expect = {"sum": 0, "prod": 1, "max": -inf, "min": inf}
    for kind, value in expect.items():
        out = getattr(lr, f"reduce_{kind}")(x, (0,))
        assert_array_close(out, np.full((2,), value, dtype), err_msg=kind)


def test_reduce_keeps_or_strips_weak_type():
    assert lr.reduce_sum(2.0, ()).weak_type
    assert lr.reduce_max(np.float32(2.0), ()).weak_type is False
    assert lr.reduce_and(3, ()).weak_type is False
    assert lr.reduce_sum(np.ones((2, 3), np.float32), [1, 0]).shape == ()


def test_reduce_nan_propagates():
    x = np.array([[1.0, nan, 3.0], [-inf, 2.0, 0.5]], np.float32)
    assert_array_close(lr.reduce_max(x, (1,)), np.array([nan, 2.0], np.float32))
    assert_array_close(lr.reduce_min(x, (1,)), np.array([nan, -inf], np.float32))


def test_reduce_max_complex_is_lexicographic(jlax):
    x = np.array([[1 + 2j, 1 + 5j, -3 + 9j], [0 - 1j, 0 - 2j, -1 + 0j]], np.complex64)
    for name in ("reduce_max", "reduce_min"):
        expected = np.asarray(getattr(jlax, name)(x, (1,)))
        assert_array_close(getattr(lr, name)(x, (1,)), expected)


@pytest.mark.parametrize("fn,bad,err,match", [
    (lr.reduce_sum, (2,), ValueError, r"lax\.reduce_sum: axis 2 is out of bounds"),
    (lr.reduce_sum, (0, -2), ValueError, r"lax\.reduce_sum: repeated axis"),
    (lr.reduce_max, None, TypeError, r"lax\.reduce_max: axes must be a sequence"),
])
def test_reduce_bad_axes(fn, bad, err, match):
    with pytest.raises(err, match=match):
        fn(np.ones((2, 3), np.float32), bad)


def test_reduce_bad_axes_on_direct_bind():
    x = np.ones((2, 3), np.float32)
    with pytest.raises(ValueError, match=r"lax\.reduce_sum: axes \(2,\) out of range .*f32\[2,3\]"):
        lr.reduce_sum_p.abstract_eval(AbstractArray((2, 3), np.float32), axes=(2,))
    with pytest.raises(ValueError, match=r"lax\.reduce_prod: repeated axis"):
        lr.reduce_prod_p.bind(x, axes=(1, 1))
    with pytest.raises(TypeError, match=r"lax\.reduce_min: axes must be a tuple"):
        lr.reduce_min_p.abstract_eval(AbstractArray((2, 3), np.float32), axes=[0])


@pytest.mark.parametrize("fn,dtype", [
    (lr.reduce_sum, np.bool_), (lr.reduce_prod, np.bool_), (lr.reduce_and, np.float32),
    (lr.reduce_or, bf16), (lr.reduce_xor, np.complex64)])
def test_reduce_bad_dtype(fn, dtype):
    name = fn.__name__
    with pytest.raises(TypeError, match=rf"lax\.{name} does not accept dtype .*accepted dtypes"):
        fn(np.zeros((2,), dtype), (0,))


# --------------------------------------------------------------------------------------
# argmax / argmin
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float16, bf16])
def test_argminmax_nan_first_occurrence(dtype, jlax):
    rows = [[1.0, nan, 3.0, nan], [nan, 2.0, nan, 7.0], [2.0, -inf, 2.0, inf],
            [-inf, -inf, -inf, -inf], [nan, nan, nan, nan], [0.0, -0.0, 0.0, -1.0]]
    x = np.array(rows, dtype)
    wide = x.astype(np.float32)
    for name in ("argmax", "argmin"):
        out = getattr(lr, name)(x, 1, np.int32)
        # numpy: NaN counts as the extreme; the first occurrence wins.
        assert_array_close(out, getattr(np, name)(wide, axis=1).astype(np.int32), err_msg=name)
        assert_array_close(out, np.asarray(getattr(jlax, name)(x, 1, np.int32)), err_msg=name)


def test_argminmax_ties_and_index_dtypes(jlax):
    x = np.array([[3, 1, 3, 1], [0, 0, 0, 0], [-5, 9, 9, -5]], np.int8)
    for name in ("argmax", "argmin"):
        for index_dtype in (np.int32, np.uint8, np.int16):
            out = getattr(lr, name)(x, -1, index_dtype)
            assert out.dtype == np.dtype(index_dtype)
            assert_array_close(out, getattr(np, name)(x, axis=1).astype(index_dtype))
    b = np.array([[False, True, True], [False, False, False]])
    assert_array_close(lr.argmax(b, 1, np.int32), np.array([1, 0], np.int32))
    assert_array_close(lr.argmin(b, 1, np.int32), np.array([0, 0], np.int32))


def test_argminmax_errors():
    x = np.zeros((2, 3), np.float32)
    with pytest.raises(ValueError, match=r"lax\.argmax needs a non-empty reduced axis.*f32\[2,0\]"):
        lr.argmax(np.zeros((2, 0), np.float32), 1, np.int32)
    with pytest.raises(TypeError, match=r"lax\.argmin does not accept dtype complex64"):
        lr.argmin(np.zeros((2,), np.complex64), 0, np.int32)
    with pytest.raises(TypeError, match=r"lax\.argmax: index_dtype must be an integer"):
        lr.argmax(x, 0, np.float32)
    with pytest.raises(ValueError, match=r"lax\.argmax: axis 2 is out of bounds"):
        lr.argmax(x, 2, np.int32)
    with pytest.raises(ValueError, match=r"lax\.argmin reduces exactly one axis"):
        lr.argmin_p.bind(x, axes=(0, 1), index_dtype=np.dtype(np.int32))
    weak = AbstractArray((3,), np.float32, weak_type=True)
    out = lr.argmax_p.abstract_eval(weak, axes=(0,), index_dtype=np.dtype(np.int32))
    assert out == AbstractArray((), np.int32)


# --------------------------------------------------------------------------------------
# Cumulative reductions
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["cumsum", "cumprod", "cummax", "cummin", "cumlogsumexp"])
@pytest.mark.parametrize("reverse", [False, True])
def test_cumulative_vs_jax(name, reverse, jlax):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(3, 4, 5)).astype(np.float32)
    x[0, 1, 2] = nan
    x[1, 2, 0] = -inf
    x[2, 0, 3] = inf
    for axis in (0, 2):
        expected = np.asarray(getattr(jlax, name)(x, axis=axis, reverse=reverse))
        actual = getattr(lr, name)(x, axis=axis, reverse=reverse)
        assert_array_close(actual, expected, rtol=1e-5, atol=1e-5, err_msg=f"{name} {axis}")


def test_cumlogsumexp_complex_and_infinities(jlax):
    z = np.array([1 + 1j, 2j, -3 + 0.5j, 0.25 - 2j], np.complex64)
    assert_array_close(lr.cumlogsumexp(z), np.asarray(jlax.cumlogsumexp(z)), rtol=1e-5,
                       atol=1e-5)
    x = np.array([-inf, -inf, 0.0, inf, 1.0], np.float32)
    assert_array_close(lr.cumlogsumexp(x), np.array([-inf, -inf, 0.0, inf, inf], np.float32))


def test_cumulative_zero_size_and_negative_axis():
    for name in ("cumsum", "cumprod", "cummax", "cummin", "cumlogsumexp"):
        out = getattr(lr, name)(np.zeros((2, 0), np.float32), axis=-1, reverse=True)
        assert out.shape == (2, 0) and out.dtype == np.float32
    x = np.arange(6, dtype=np.int32).reshape(2, 3)
    assert_array_close(lr.cumsum(x, axis=-1), np.cumsum(x, axis=1).astype(np.int32))
    weak = AbstractArray((3,), np.float32, weak_type=True)
    assert lr.cumsum_p.abstract_eval(weak, axis=0, reverse=False) == weak


def test_cumulative_errors():
    with pytest.raises(TypeError, match=r"lax\.cumsum does not accept dtype bool"):
        lr.cumsum(np.array([True, False]))
    with pytest.raises(TypeError, match=r"lax\.cumlogsumexp does not accept dtype int32"):
        lr.cumlogsumexp(np.arange(3, dtype=np.int32))
    with pytest.raises(ValueError, match=r"lax\.cummax: axis 1 is out of bounds"):
        lr.cummax(np.zeros(3, np.float32), axis=1)
    with pytest.raises(ValueError, match=r"lax\.cumprod: axis 0 is out of bounds"):
        lr.cumprod(np.float32(2.0))
    with pytest.raises(ValueError, match=r"lax\.cummin: axis 3 is out of range .*f32\[3\]"):
        lr.cummin_p.bind(np.zeros(3, np.float32), axis=3, reverse=False)


# --------------------------------------------------------------------------------------
# Sorting
# --------------------------------------------------------------------------------------

_SPECIAL = [2.0, nan, -0.0, 0.0, -nan, -1.0, -inf, inf, 0.0, -0.0, 1.0, nan]


@pytest.mark.parametrize("dtype", [np.float32, np.float16, bf16])
def test_sort_float_total_order_vs_jax(dtype, jlax):
    keys = np.array(_SPECIAL, dtype)
    idx = np.arange(len(keys), dtype=np.int32)
    sk, si = lr.sort_key_val(keys, idx)
    jk, ji = jlax.sort_key_val(keys, idx)
    # NaNs (either sign) last, -0.0 == 0.0 (input order kept), values are the inputs.
    _bits_equal(si, np.asarray(ji))
    _bits_equal(sk, np.asarray(jk))
    _bits_equal(sk, keys[np.asarray(si)])
    np.testing.assert_array_equal(np.asarray(si), [6, 5, 2, 3, 8, 9, 10, 0, 7, 1, 4, 11])


def test_sort_complex_vs_jax(jlax):
    x = np.array([1 + 2j, 1 + 1j, complex(nan, 0), 0 + 5j, complex(1, nan), -0.0 + 1j, 1j],
                 np.complex64)
    idx = np.arange(len(x), dtype=np.int32)
    _, si = lr.sort_key_val(x, idx)
    _, ji = jlax.sort_key_val(x, idx)
    np.testing.assert_array_equal(np.asarray(si), np.asarray(ji))


@pytest.mark.parametrize("num_keys", [1, 2, 3])
@pytest.mark.parametrize("is_stable", [True, False])
def test_sort_multi_operand_vs_jax(num_keys, is_stable, jlax):
    rng = np.random.default_rng(num_keys)
    a = rng.integers(0, 3, (4, 9)).astype(np.int32)
    b = rng.integers(0, 2, (4, 9)).astype(np.float32)
    b[0, :3] = nan
    c = rng.integers(0, 5, (4, 9)).astype(np.uint8)
    idx = np.broadcast_to(np.arange(9, dtype=np.int32), (4, 9)).copy()
    ops = (a, b, c, idx)
    out = lr.sort(ops, dimension=1, is_stable=is_stable, num_keys=num_keys)
    assert isinstance(out, tuple) and len(out) == 4
    expected = jlax.sort(ops, dimension=1, is_stable=True, num_keys=num_keys)
    for o, e in zip(out[:num_keys], expected[:num_keys]):
        assert_array_close(o, np.asarray(e))
    if is_stable:
        assert_array_close(out[3], np.asarray(expected[3]))
        # numpy: lexsort's primary key is the last one.
        order = np.lexsort([np.where(np.isnan(k), inf, k) for k in ops[:num_keys][::-1]], axis=1)
        assert_array_close(out[3], np.take_along_axis(idx, order, axis=1))


def test_sort_dimension_and_list_operand():
    x = np.array([[3, 1], [2, 5], [1, 0]], np.int16)
    assert_array_close(lr.sort(x, dimension=0), np.sort(x, axis=0))
    (only,) = lr.sort([x], dimension=-1)
    assert_array_close(only, np.sort(x, axis=1))
    assert lr.sort(np.zeros((0,), np.float32)).shape == (0,)


def test_sort_errors():
    x = np.zeros((2, 3), np.float32)
    with pytest.raises(TypeError, match=r"lax\.sort requires at least one operand"):
        lr.sort(())
    with pytest.raises(ValueError, match=r"lax\.sort: num_keys=2 must be between 1 and"):
        lr.sort(x, num_keys=2)
    with pytest.raises(TypeError, match=r"lax\.sort requires operands of one shape.*f32\[2,3\]"):
        lr.sort((x, np.zeros((3,), np.float32)))
    with pytest.raises(ValueError, match=r"lax\.sort: axis 2 is out of bounds"):
        lr.sort(x, dimension=2)
    with pytest.raises(ValueError, match=r"lax\.sort: axis -1 is out of bounds .* rank 0"):
        lr.sort(np.float32(1.0))
    with pytest.raises(ValueError, match=r"lax\.sort: num_keys=0"):
        lr.sort_p.bind(x, dimension=1, is_stable=True, num_keys=0)


# --------------------------------------------------------------------------------------
# top_k
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, bf16, np.int32, np.uint8, np.bool_])
def test_top_k_vs_jax(dtype, jlax):
    rng = np.random.default_rng(3)
    x = rng.integers(0, 4, (3, 7)).astype(dtype)
    if np.issubdtype(np.dtype(dtype), np.floating):
        x[0, 2] = nan
        x[1, 1] = -0.0
        x[2, 5] = -inf
    for k in (0, 1, 3, 7):
        v, i = lr.top_k(x, k)
        jv, ji = jlax.top_k(x, k)
        assert i.dtype == np.int32
        _bits_equal(v, np.asarray(jv))
        np.testing.assert_array_equal(np.asarray(i), np.asarray(ji))


def test_top_k_axis_vs_jax(jlax):
    x = np.random.default_rng(4).normal(size=(5, 3, 4)).astype(np.float32)
    for axis in (0, 1, -1):
        v, i = lr.top_k(x, 2, axis=axis)
        jv, ji = jlax.top_k(x, 2, axis=axis)
        assert_array_close(v, np.asarray(jv))
        np.testing.assert_array_equal(np.asarray(i), np.asarray(ji))
    v, i = lr.top_k(np.zeros((2, 0), np.float32), 0)
    assert v.shape == i.shape == (2, 0)


def test_top_k_errors():
    with pytest.raises(ValueError, match=r"lax\.top_k: k=4 must be between 0 and .*f32\[2,3\]"):
        lr.top_k(np.zeros((2, 3), np.float32), 4)
    with pytest.raises(ValueError, match=r"lax\.top_k: k must be non-negative"):
        lr.top_k(np.zeros((3,), np.float32), -1)
    with pytest.raises(TypeError, match=r"lax\.top_k does not accept dtype complex64"):
        lr.top_k(np.zeros((3,), np.complex64), 1)
    with pytest.raises(ValueError, match=r"lax\.top_k: axis -1 is out of bounds .* rank 0"):
        lr.top_k(np.float32(1.0), 1)


# --------------------------------------------------------------------------------------
# Windowed reductions
# --------------------------------------------------------------------------------------

_WINDOW_CASES = [
    # window_dimensions, window_strides, padding, base_dilation, window_dilation
    ((3, 2), (1, 1), "VALID", None, None),
    ((3, 2), (2, 2), "SAME", None, None),
    ((2, 4), (1, 3), "SAME_LOWER", None, (1, 2)),
    ((2, 2), (1, 1), ((1, 0), (0, 1)), (1, 2), (2, 1)),
    ((1, 3), (2, 1), ((2, 3), (-1, 1)), (3, 1), None),
    ((4, 4), (1, 1), ((0, 0), (0, 0)), None, None),  # a window larger than the operand
]


@pytest.mark.parametrize("case", range(len(_WINDOW_CASES)))
@pytest.mark.parametrize("kind", ["sum", "max", "min"])
def test_reduce_window_vs_jax(case, kind, jlax):
    import jax.numpy as jnp
    ew = _elementwise()
    wd, ws, pad, bd, wdl = _WINDOW_CASES[case]
    x = np.random.default_rng(case).normal(size=(5, 3)).astype(np.float32)
    init = {"sum": 0.0, "max": -inf, "min": inf}[kind]
    comp = {"sum": ew.add, "max": ew.max, "min": ew.min}[kind]
    jcomp = {"sum": jlax.add, "max": jlax.max, "min": jlax.min}[kind]
    actual = lr.reduce_window(x, init, comp, wd, ws, pad, bd, wdl)
    expected = jlax.reduce_window(x, jnp.float32(init), jcomp, wd, ws, pad, bd, wdl)
    assert_array_close(actual, np.asarray(expected), rtol=1e-6, atol=1e-6)
    if not isinstance(pad, str):
        assert actual.shape == lr.reduce_window_shape_tuple(x.shape, wd, ws, pad, bd, wdl)


def test_reduce_window_private_wrappers_vs_numpy_and_jax(jlax):
    # `_reduce_window_*` take explicit padding (as jax's); also checks the numpy
    # reference used by the records against jax.
    from jax._src.lax import windowed_reductions as jwr
    x = np.random.default_rng(7).integers(-9, 9, (4, 6)).astype(np.int32)
    params = ((2, 3), (2, 1), ((1, 1), (2, 0)), (1, 2), (2, 1))
    for kind in ("sum", "max", "min"):
        actual = getattr(lr, f"_reduce_window_{kind}")(x, *params)
        expected = np.asarray(getattr(jwr, f"_reduce_window_{kind}")(x, *params))
        assert_array_close(actual, expected)
        assert_array_close(np_reduce_window(x, kind, *params), expected)


def test_reduce_window_init_values():
    ew = _elementwise()
    x = np.array([1, 5, -2, 7], np.int32)
    ident = np.iinfo(np.int32).min
    assert_array_close(lr.reduce_window(x, ident, ew.max, (2,), (1,), "VALID"),
                       np.array([5, 5, 7], np.int32))
    # A non-identity init clamps every window (and is the padding value), as in XLA.
    assert_array_close(lr.reduce_window(x, 3, ew.max, (2,), (1,), ((1, 0),)),
                       np.array([3, 5, 5, 7], np.int32))
    assert_array_close(lr.reduce_window(x, np.int32(0), ew.min, (3,), (1,), "SAME"),
                       np.array([0, -2, -2, -2], np.int32))
    b = np.array([True, False, False])
    assert_array_close(lr.reduce_window(b, False, ew.max, (2,), (1,), "VALID"),
                       np.array([True, False]))
    # A non-identity init of add is the general reduce_window; jax also takes -inf as
    # int32 max's identity and a float32 zero as int32 add's (values checked vs jax).
    assert_array_close(lr.reduce_window(x, 1, ew.add, (2,), (1,), "VALID"),
                       np.array([7, 4, 6], np.int32))
    assert_array_close(lr.reduce_window(x, -inf, ew.max, (2,), (1,), "VALID"),
                       np.array([5, 5, 7], np.int32))
    assert_array_close(lr.reduce_window(x, np.float32(0), ew.add, (2,), (1,), "VALID"),
                       np.array([6, 3, 5], np.int32))


def test_reduce_window_zero_size_and_scalar():
    assert_array_close(lr._reduce_window_sum(np.float32(3.0), (), (), ()), np.float32(3.0))
    out = lr._reduce_window_max(np.zeros((0, 4), np.float16), (1, 2), (1, 1), "VALID")
    assert out.shape == (0, 3) and out.dtype == np.float16
    # Windows that see only padding give the identity.
    out = lr._reduce_window_max(np.ones((2,), np.float32), (1,), (1,), ((2, 0),))
    assert_array_close(out, np.array([-inf, -inf, 1, 1], np.float32))


def test_reduce_window_errors():
    x = np.zeros((4, 5), np.float32)
    with pytest.raises(TypeError, match=r"lax\.reduce_window_sum: window_strides must have one "
                                        r"entry per dimension of the operand f32\[4,5\]"):
        lr._reduce_window_sum(x, (2, 2), (1,), ((0, 0), (0, 0)))
    with pytest.raises(ValueError, match=r"lax\.reduce_window_max: window_dimensions must be "
                                         r"positive"):
        lr._reduce_window_max(x, (0, 2), (1, 1), "VALID")
    with pytest.raises(ValueError, match=r"lax\.reduce_window_min: base_dilation must be "
                                         r"positive"):
        lr._reduce_window_min(x, (1, 2), (1, 1), "VALID", base_dilation=(0, 1))
    with pytest.raises(ValueError, match=r"lax\.reduce_window: padding must be .*'FULL'"):
        lr._reduce_window_sum(x, (1, 2), (1, 1), "FULL")
    with pytest.raises(TypeError, match=r"lax\.reduce_window: padding must be"):
        lr._reduce_window_sum(x, (1, 2), (1, 1), (1, 2))
    with pytest.raises(ValueError, match=r"lax\.reduce_window_sum: padding .* negative"):
        lr._reduce_window_sum(x, (1, 1), (1, 1), ((-5, 0), (0, 0)))
    with pytest.raises(TypeError, match=r"lax\.reduce_window_sum does not accept dtype bool"):
        lr._reduce_window_sum(np.zeros((3,), np.bool_), (1,), (1,), "VALID")
    with pytest.raises(TypeError, match=r"lax\.reduce_window: window_dimensions must be a "
                                        r"sequence of integers"):
        lr._reduce_window_sum(x, (1.5, 2), (1, 1), "VALID")
