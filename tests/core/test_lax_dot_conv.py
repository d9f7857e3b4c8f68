"""lax.dot_general's options and errors, and lax.conv_* against jax.lax (the oracle)."""
import os
import sys

import jax
import jax.numpy as jnp
import ml_dtypes
import numpy as np
import pytest
from jax import lax as jlax

sys.path.insert(0, os.path.dirname(__file__))
from op_records import rand_default  # noqa: E402

from lamina import lax as dc  # noqa: E402
from lamina.testing import assert_array_close  # noqa: E402

bf16 = np.dtype(ml_dtypes.bfloat16)
f16, f32, c64 = np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.complex64)
i8, i32, u8 = np.dtype(np.int8), np.dtype(np.int32), np.dtype(np.uint8)


def _sample(shape, dtype, seed=0):
    return rand_default(np.random.default_rng(seed), shape, dtype)


# --------------------------------------------------------------------------------------
# dot_general
# --------------------------------------------------------------------------------------

MATMUL = (((1,), (0,)), ((), ()))


@pytest.mark.parametrize("precision", [
    None, dc.Precision.DEFAULT, dc.Precision.HIGH, dc.Precision.HIGHEST, "highest", "fastest",
    "tensorfloat32", (dc.Precision.HIGH, "float32"), ["default", "bfloat16_3x"]])
def test_dot_general_precision_forms(precision):
    x, y = _sample((3, 4), f32), _sample((4, 2), f32, 1)
    assert_array_close(dc.dot_general(x, y, MATMUL, precision=precision),
                       (x.astype(np.float64) @ y).astype(np.float32))


def test_precision_enum_matches_jax():
    assert [p.name for p in dc.Precision] == [p.name for p in jlax.Precision]
    for name in ("highest", "float32", "high", "bfloat16_3x", "tensorfloat32", "default",
                 "bfloat16", "fastest"):
        assert dc.Precision(name).name == jlax.Precision(name).name
    assert str(dc.Precision.HIGH) == "HIGH" and repr(dc.Precision.HIGH) == "Precision.HIGH"


def test_dot_general_rejects_unknown_precision():
    x = np.ones((2, 2), np.float32)
    with pytest.raises(ValueError, match="lax.dot_general: precision"):
        dc.dot_general(x, x, MATMUL, precision="F16_F16_F32")
    with pytest.raises(ValueError, match="lax.dot_general"):
        dc.dot_general(x, x, MATMUL, precision=("high", "high", "high"))


@pytest.mark.parametrize("lhs_dtype, rhs_dtype", [
    (f32, bf16), (bf16, f32), (np.dtype(np.int32), f16), (i8, u8), (f32, c64),
    (np.dtype(np.bool_), i8), (np.dtype(np.int16), np.dtype(np.int32))])
def test_dot_general_mixed_dtypes_like_jax(lhs_dtype, rhs_dtype):
    x, y = _sample((3, 4), lhs_dtype), _sample((4, 2), rhs_dtype, 1)
    expected = jlax.dot_general(x, y, MATMUL)
    out = dc.dot_general(x, y, MATMUL)
    assert out.dtype == expected.dtype
    assert_array_close(out, np.asarray(expected))


@pytest.mark.parametrize("dtypes, preferred", [
    ((i8, i8), np.int32), ((u8, u8), np.int32), ((u8, u8), np.uint32), ((i8, i8), np.float32),
    ((bf16, bf16), np.float32), ((f16, f16), np.float32), ((np.dtype(np.bool_),) * 2, np.int32),
    ((f32, f32), np.float32), ((i8, u8), np.float32), ((f32, f32), ml_dtypes.bfloat16),
    ((c64, c64), np.complex64)])
def test_dot_general_preferred_element_type_like_jax(dtypes, preferred):
    x, y = _sample((2, 3, 5), dtypes[0]), _sample((2, 5, 4), dtypes[1], 1)
    dnums = (((2,), (1,)), ((0,), (0,)))
    expected = jlax.dot_general(x, y, dnums, preferred_element_type=preferred)
    out = dc.dot_general(x, y, dnums, preferred_element_type=preferred)
    assert out.dtype == expected.dtype == np.dtype(preferred)
    assert_array_close(out, np.asarray(expected))


def test_dot_general_accumulates_int8_exactly_in_int32():
    x = np.full((1, 300), 100, np.int8)
    out = dc.dot_general(x, x.T, MATMUL, preferred_element_type=np.int32)
    np.testing.assert_array_equal(np.asarray(out), [[300 * 100 * 100]])


def test_dot_general_negative_dimension_numbers_are_normalised():
    x, y = _sample((2, 3, 4), f32), _sample((2, 4, 5), f32, 1)
    out = dc.dot_general(x, y, (((-1,), (1,)), ((-3,), (0,))))
    assert_array_close(out, np.einsum("bij,bjk->bik", x.astype(np.float64), y).astype(np.float32))


def test_dot_general_python_scalar_and_weak_type():
    x = np.ones(3, np.float16)
    out = dc.dot_general(2.0, x, (((), ()), ((), ())))
    assert out.dtype == f16 and not out.aval.weak_type
    both = dc.dot_general(2.0, 3.0, (((), ()), ((), ())))
    assert both.aval.weak_type and float(np.asarray(both)) == 6.0


def test_dot_general_zero_size_contraction_gives_zeros():
    out = dc.dot_general(np.ones((3, 0), np.float32), np.ones((0, 2), np.float32), MATMUL)
    np.testing.assert_array_equal(np.asarray(out), np.zeros((3, 2), np.float32))


@pytest.mark.parametrize("lhs_shape, rhs_shape, dnums, match", [
    ((3, 4), (5, 2), MATMUL, r"contracting dimensions must have equal sizes.*\(4,\).*\(5,\)"),
    ((2, 3, 4), (3, 4, 5), (((2,), (1,)), ((0,), (0,))), "batch dimensions must have equal"),
    ((3, 4), (4, 2), (((2,), (0,)), ((), ())), r"out of range for lhs f32\[3,4\]"),
    ((3, 4), (4, 2), (((1,), (0,)), ((0,), ())), "lhs_batch .* rhs_batch .* same length"),
    ((3, 4), (4, 2), (((1,), (0, 1)), ((), ())), "same length"),
    ((4, 4), (4, 4), (((1, 1), (0, 1)), ((), ())), "must be distinct"),
    ((4, 4), (4, 4), (((1,), (1,)), ((1,), (0,))), "disjoint"),
])
def test_dot_general_bad_dimension_numbers(lhs_shape, rhs_shape, dnums, match):
    x, y = np.ones(lhs_shape, np.float32), np.ones(rhs_shape, np.float32)
    with pytest.raises(TypeError, match="lax.dot_general") as info:
        dc.dot_general(x, y, dnums)
    assert info.match(match)


def test_dot_general_error_messages():
    x = np.ones((2, 2), np.float32)
    with pytest.raises(TypeError, match=r"dimension_numbers must have the form"):
        dc.dot_general(x, x, ((1,), (0,)))
    with pytest.raises(TypeError, match="preferred_element_type int8 is narrower"):
        dc.dot_general(x.astype(np.int32), x.astype(np.int32), MATMUL,
                       preferred_element_type=np.int8)
    with pytest.raises(TypeError, match="is real but the product"):
        dc.dot_general(x.astype(np.complex64), x.astype(np.complex64), MATMUL,
                       preferred_element_type=np.float32)
    with pytest.raises(TypeError, match="lax.dot_general: dtype object"):
        dc.dot_general(x, x, MATMUL, preferred_element_type=object)


def test_dot_shapes_and_errors():
    assert dc.dot(np.ones(3, np.float32), np.ones(3, np.float32)).shape == ()
    out = dc.dot(np.ones((2, 3), np.float32), np.ones((3, 4), np.float32),
                 dimension_numbers=MATMUL, preferred_element_type=np.float32)
    assert out.shape == (2, 4)
    with pytest.raises(TypeError, match=r"lax.dot: .*shapes \(2, 3\) and \(4, 3\)"):
        dc.dot(np.ones((2, 3), np.float32), np.ones((4, 3), np.float32))
    with pytest.raises(TypeError, match=r"lax.dot: .*shapes \(2, 2, 3\)"):
        dc.dot(np.ones((2, 2, 3), np.float32), np.ones((3, 4), np.float32))
    with pytest.raises(ValueError, match="lax.batch_matmul"):
        dc.batch_matmul(np.ones((2, 3), np.float32), np.ones((2, 3, 4), np.float32))


# --------------------------------------------------------------------------------------
# conv_general_dilated against jax
# --------------------------------------------------------------------------------------

# (lhs_shape, rhs_shape, kwargs) for conv_general_dilated.
CONV_CASES = {
    "nchw_valid": ((2, 3, 7, 6), (4, 3, 3, 2), dict(window_strides=(1, 1), padding="VALID")),
    "nhwc_same_strided": ((2, 7, 6, 3), (3, 3, 3, 5), dict(
        window_strides=(2, 1), padding="SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"))),
    "same_lower": ((1, 2, 6, 5), (3, 2, 2, 4), dict(window_strides=(1, 2), padding="SAME_LOWER")),
    "explicit_negative_pad": ((1, 2, 6, 6), (2, 2, 3, 3), dict(
        window_strides=(1, 1), padding=[(2, -1), (0, 3)])),
    "lhs_dilation": ((1, 2, 4, 5), (3, 2, 3, 2), dict(
        window_strides=(1, 1), padding=[(2, 2), (1, 1)], lhs_dilation=(2, 3))),
    "rhs_dilation": ((2, 6, 9, 2), (3, 2, 2, 4), dict(
        window_strides=(1, 2), padding="SAME", rhs_dilation=(2, 3),
        dimension_numbers=("NHWC", "HWIO", "NHWC"))),
    "depthwise": ((2, 6, 6, 4), (3, 3, 1, 8), dict(
        window_strides=(1, 1), padding="SAME", feature_group_count=4,
        dimension_numbers=("NHWC", "HWIO", "NHWC"))),
    "feature_groups": ((1, 6, 5, 5), (4, 3, 2, 2), dict(
        window_strides=(1, 1), padding="VALID", feature_group_count=2)),
    "batch_groups": ((4, 3, 5, 5), (6, 3, 2, 2), dict(
        window_strides=(1, 1), padding="VALID", batch_group_count=2)),
    "odd_layout": ((5, 3, 2, 6), (2, 4, 3, 3), dict(
        window_strides=(1, 1), padding="SAME", dimension_numbers=("WCNH", "HOWI", "CHNW"))),
    "conv1d_nwc": ((2, 9, 3), (3, 3, 4), dict(
        window_strides=(2,), padding="SAME", dimension_numbers=("NWC", "WIO", "NWC"))),
    "conv1d_default": ((2, 3, 9), (4, 3, 3), dict(window_strides=(1,), padding=[(1, 0)])),
    "conv3d": ((1, 2, 4, 5, 4), (3, 2, 2, 3, 2), dict(
        window_strides=(1, 2, 1), padding="SAME", rhs_dilation=(1, 1, 2))),
    "conv3d_ndhwc": ((1, 4, 4, 5, 2), (2, 2, 2, 2, 3), dict(
        window_strides=(2, 1, 1), padding="VALID",
        dimension_numbers=("NDHWC", "DHWIO", "NDHWC"))),
    "conv0d": ((3, 4), (5, 4), dict(window_strides=(), padding=[])),
    "empty_batch": ((0, 3, 5, 5), (2, 3, 3, 3), dict(window_strides=(1, 1), padding="SAME")),
    "kernel_larger_than_input": ((1, 1, 2, 2), (1, 1, 3, 3), dict(
        window_strides=(1, 1), padding="VALID")),
}


def _conv_check(lhs_shape, rhs_shape, kwargs, dtype, preferred=None):
    x, w = _sample(lhs_shape, dtype), _sample(rhs_shape, dtype, 1)
    expected = jlax.conv_general_dilated(x, w, **kwargs, preferred_element_type=preferred)
    out = dc.conv_general_dilated(x, w, **kwargs, preferred_element_type=preferred)
    assert out.shape == expected.shape and out.dtype == expected.dtype
    assert_array_close(out, np.asarray(expected))


@pytest.mark.parametrize("case", sorted(CONV_CASES))
def test_conv_general_dilated_matches_jax(case):
    lhs_shape, rhs_shape, kwargs = CONV_CASES[case]
    _conv_check(lhs_shape, rhs_shape, kwargs, f32)


@pytest.mark.parametrize("dtype, preferred", [
    (f16, None), (bf16, None), (bf16, np.float32), (c64, None), (np.dtype(np.int32), None),
    (i8, np.int32), (u8, np.uint32), (np.dtype(np.bool_), None)])
def test_conv_dtypes_match_jax(dtype, preferred):
    _conv_check((2, 3, 6, 5), (4, 3, 3, 2), dict(window_strides=(1, 2), padding="SAME"),
                dtype, preferred)


@pytest.mark.parametrize("case", ["depthwise", "conv1d_nwc", "lhs_dilation"])
def test_complex_conv_cases_match_jax(case):
    lhs_shape, rhs_shape, kwargs = CONV_CASES[case]
    _conv_check(lhs_shape, rhs_shape, kwargs, c64)


def test_conv_and_conv_with_general_padding_match_jax():
    x, w = _sample((2, 3, 8, 7), f32), _sample((4, 3, 3, 3), f32, 1)
    assert_array_close(dc.conv(x, w, (2, 1), "SAME"),
                       np.asarray(jlax.conv(x, w, (2, 1), "SAME")))
    args = (x, w, (1, 2), [(1, 2), (0, 1)], (2, 1), (1, 2))
    assert_array_close(dc.conv_with_general_padding(*args),
                       np.asarray(jlax.conv_with_general_padding(*args)))


CONV_TRANSPOSE_CASES = [
    ((1, 5, 6, 2), (3, 3, 2, 4), (2, 2), "SAME", {}),
    ((1, 5, 6, 2), (3, 2, 2, 4), (2, 3), "VALID", {}),
    ((1, 5, 6, 2), (3, 3, 2, 4), (1, 2), [(1, 2), (0, 1)], {}),
    ((1, 5, 6, 2), (3, 3, 2, 4), (2, 2), [(1, 1), (0, 1)], dict(use_consistent_padding=True)),
    ((1, 5, 6, 2), (3, 3, 2, 4), (2, 2), "SAME", dict(rhs_dilation=(2, 1))),
    ((2, 7, 3), (3, 3, 5), (2,), "SAME", {}),
    ((2, 3, 4, 5, 3), (2, 2, 3, 3, 2), (2, 1, 2), "VALID", {}),
    ((2, 3, 7), (5, 3, 3), (3,), "SAME", dict(dimension_numbers=("NCH", "OIH", "NCH"))),
]


@pytest.mark.parametrize("transpose_kernel", [False, True])
@pytest.mark.parametrize("case", range(len(CONV_TRANSPOSE_CASES)))
def test_conv_transpose_matches_jax(case, transpose_kernel):
    lhs_shape, rhs_shape, strides, padding, kwargs = CONV_TRANSPOSE_CASES[case]
    if transpose_kernel:
        # The kernel's I and O swap: its O dimension must match the input's features.
        dn = jlax.conv_dimension_numbers(lhs_shape, rhs_shape, kwargs.get("dimension_numbers")
                                         or {3: ("NHC", "HIO", "NHC"),
                                             4: ("NHWC", "HWIO", "NHWC"),
                                             5: ("NHWDC", "HWDIO", "NHWDC")}[len(lhs_shape)])
        rhs_shape = list(rhs_shape)
        rhs_shape[dn.rhs_spec[0]], rhs_shape[dn.rhs_spec[1]] = (rhs_shape[dn.rhs_spec[1]],
                                                                rhs_shape[dn.rhs_spec[0]])
    x, w = _sample(lhs_shape, f32), _sample(tuple(rhs_shape), f32, 1)
    expected = jlax.conv_transpose(x, w, strides, padding, transpose_kernel=transpose_kernel,
                                   **kwargs)
    out = dc.conv_transpose(x, w, strides, padding, transpose_kernel=transpose_kernel, **kwargs)
    assert_array_close(out, np.asarray(expected))


@pytest.mark.parametrize("specs", [("NCHW", "OIHW", "NCHW"), ("NHWC", "HWIO", "NHWC"),
                                   ("WCNH", "HOWI", "CHNW"), ("NWC", "WIO", "NCW")])
def test_conv_dimension_numbers_match_jax(specs):
    shape = (1,) * len(specs[0])
    ours = dc.conv_dimension_numbers(shape, shape, specs)
    theirs = jlax.conv_dimension_numbers(shape, shape, specs)
    assert tuple(map(tuple, ours)) == tuple(map(tuple, theirs))
    assert dc.conv_general_permutations(specs) == jlax.conv_general_permutations(specs)
    assert dc.conv_dimension_numbers(shape, shape, ours) == ours
    assert dc.conv_dimension_numbers(shape, shape, None) == jlax.conv_dimension_numbers(
        shape, shape, None)


@pytest.mark.parametrize("padding", ["SAME", "SAME_LOWER", "VALID", "same"])
def test_padtype_to_pads_matches_jax(padding):
    for in_shape, window, strides in [((5, 6), (3, 3), (1, 2)), ((7,), (4,), (3,)),
                                      ((4, 4, 4), (1, 5, 2), (2, 1, 3)), ((2,), (5,), (1,))]:
        assert dc.padtype_to_pads(in_shape, window, strides, padding) == [
            tuple(p) for p in jlax.padtype_to_pads(in_shape, window, strides, padding)]


def test_conv_shape_tuples_match_jax():
    args = ((2, 7, 6, 3), (3, 3, 3, 5), (2, 1), "SAME", ("NHWC", "HWIO", "NHWC"))
    assert dc.conv_general_shape_tuple(*args) == jlax.conv_general_shape_tuple(*args)
    assert dc.conv_transpose_shape_tuple(*args) == tuple(jlax.conv_transpose_shape_tuple(*args))
    assert dc.conv_shape_tuple((2, 3, 7, 6), (4, 3, 3, 2), (1, 2), "VALID") == \
        jlax.conv_shape_tuple((2, 3, 7, 6), (4, 3, 3, 2), (1, 2), "VALID")


@pytest.mark.parametrize("lhs_shape, rhs_shape, kwargs, error, match", [
    ((1, 3, 5, 5), (2, 4, 3, 3), {}, TypeError,
     r"3 features.*kernel input-feature size of 3.*kernel has 4.*f32\[1,3,5,5\]"),
    ((1, 3, 5, 5), (2, 3, 3), {}, TypeError, r"same rank.*\(1, 3, 5, 5\) and \(2, 3, 3\)"),
    ((1, 3, 5, 5), (2, 3, 3, 3), dict(window_strides=(1,)), TypeError,
     "window_strides .* one entry per spatial"),
    ((1, 3, 5, 5), (2, 3, 3, 3), dict(window_strides=(0, 1)), ValueError,
     "window_strides must be positive"),
    ((1, 3, 5, 5), (2, 3, 3, 3), dict(padding=[(0, 0)]), TypeError,
     "padding .* one entry per spatial"),
    ((1, 3, 5, 5), (2, 3, 3, 3), dict(padding="FULL"), ValueError, "'VALID', 'SAME'"),
    ((1, 3, 5, 5), (2, 3, 3, 3), dict(padding=[(-6, 0), (0, 0)]), ValueError,
     "negative padding"),
    ((1, 4, 5, 5), (3, 2, 3, 3), dict(feature_group_count=2), TypeError,
     "not a multiple of feature_group_count=2"),
    ((3, 3, 5, 5), (4, 3, 3, 3), dict(batch_group_count=2), TypeError,
     "batch_group_count=2 does not divide the batch size 3"),
    ((2, 4, 5, 5), (4, 2, 3, 3), dict(feature_group_count=2, batch_group_count=2), ValueError,
     "at most one"),
    ((1, 3, 5, 5), (2, 3, 3, 3), dict(padding="SAME", lhs_dilation=(2, 1)), ValueError,
     "string padding"),
    ((1, 3, 5, 5), (2, 3, 3, 3), dict(dimension_numbers=("NCHW", "OIHW")), TypeError,
     "three layout strings"),
    ((1, 3, 5, 5), (2, 3, 3, 3), dict(dimension_numbers=("NCHW", "OIHW", "NCWX")), TypeError,
     "same spatial dimensions"),
    ((1, 3, 5, 5), (2, 3, 3, 3), dict(dimension_numbers=("NCHW", "OIHH", "NCHW")), TypeError,
     "'O' and 'I' exactly once|repeats"),
    ((1, 3, 5, 5), (2, 3, 3, 3), dict(dimension_numbers=dc.ConvDimensionNumbers(
        (0, 1, 2, 2), (0, 1, 2, 3), (0, 1, 2, 3))), TypeError, "permutation of range"),
])
def test_conv_errors(lhs_shape, rhs_shape, kwargs, error, match):
    kwargs = dict(dict(window_strides=(1, 1), padding="VALID"), **kwargs)
    x, w = np.ones(lhs_shape, np.float32), np.ones(rhs_shape, np.float32)
    with pytest.raises(error, match="lax.conv_general_dilated") as info:
        dc.conv_general_dilated(x, w, **kwargs)
    assert info.match(match)


def test_conv_dtype_errors():
    x = np.ones((1, 2, 4, 4), np.float32)
    with pytest.raises(TypeError, match=r"same dtypes.*f32\[1,2,4,4\].*bf16"):
        dc.conv(x, x.astype(ml_dtypes.bfloat16), (1, 1), "VALID")
    with pytest.raises(TypeError, match="must be signed"):
        dc.conv(x.astype(np.int8), x.astype(np.int8), (1, 1), "VALID",
                preferred_element_type=np.uint32)
    with pytest.raises(TypeError, match="narrower"):
        dc.conv(x, x, (1, 1), "VALID", preferred_element_type=np.float16)
    with pytest.raises(TypeError, match="does not fit"):
        dc.conv(x, x, (1, 1), "VALID", preferred_element_type=np.int32)


def test_jax_is_not_imported_by_the_core_modules():
    # The oracle is imported by this file; the modules under test must not need it.
    import ast
    import inspect

    from lamina.lax import indexing

    for module in (dc, indexing):
        tree = ast.parse(inspect.getsource(module))
        names = {a.name for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))
                 for a in n.names} | {n.module for n in ast.walk(tree)
                                      if isinstance(n, ast.ImportFrom) and n.module}
        assert not any(name == "jax" or name.startswith("jax.") for name in names)
    assert jax.__name__ == "jax" and jnp.ones(1).shape == (1,)
