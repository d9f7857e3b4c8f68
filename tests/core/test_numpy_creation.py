"""lamina.numpy's dtype API (core/numpy/dtype_api.py) and array creation
(core/numpy/creation.py): results (values, dtype, weak type) against jax.numpy, scalar
types, x64 defaults, dtype validation, errors naming the function, and the static
arguments that must be concrete."""
import warnings

import ml_dtypes
import numpy as np
import pytest

import lamina
import lamina.numpy as lnp
from lamina.config import config
from lamina.errors import ConcretizationError
from lamina.ir import Tracer
from lamina.testing import assert_array_close
from pass_trace import tracing  # noqa: E402  (tests/core helper)

jax = pytest.importorskip("jax")
jnp = jax.numpy


# --------------------------------------------------------------------------------------
# Helpers: compare with jax; a pass-through trace to reach the traced code paths
# --------------------------------------------------------------------------------------


def assert_like_jax(actual, expected, where=""):
    """Same structure (list/tuple), shapes, dtypes, weak types and values as jax."""
    if isinstance(expected, (list, tuple)):
        assert type(actual) is type(expected), (where, type(actual), type(expected))
        assert len(actual) == len(expected), where
        for a, e in zip(actual, expected):
            assert_like_jax(a, e, where)
        return
    assert isinstance(actual, lamina.Array), (where, type(actual))
    assert actual.shape == expected.shape, (where, actual.shape, expected.shape)
    assert actual.dtype == expected.dtype, (where, actual.dtype, expected.dtype)
    assert actual.weak_type == expected.weak_type, (where, actual.weak_type)
    assert_array_close(actual, np.asarray(expected), err_msg=where)


def jax_result(f):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # jax warns when it truncates 64-bit requests
        return f(jnp)




# --------------------------------------------------------------------------------------
# Scalar types and dtype queries
# --------------------------------------------------------------------------------------

SCALAR_TYPES = ["bool_", "int8", "int16", "int32", "uint8", "uint16", "uint32", "float16",
                "bfloat16", "float32", "complex64"]


@pytest.mark.parametrize("name", SCALAR_TYPES)
def test_scalar_types_build_arrays_and_act_as_dtypes(name):
    st, jst = getattr(lnp, name), getattr(jnp, name)
    assert np.dtype(st) == np.dtype(jst)
    assert st.dtype == jst.dtype
    assert repr(st) == repr(jst).replace("jax.numpy", "lamina.numpy")
    assert_like_jax(st(3), jst(3), name)
    assert_like_jax(st(lnp.arange(3)), jst(jnp.arange(3)), name)
    assert lnp.zeros(2, st).dtype == np.dtype(jst)
    assert lnp.arange(3).astype(st).dtype == np.dtype(jst)
    assert isinstance(np.dtype(jst).type(1), st)
    assert st == np.dtype(jst).type and hash(st) == hash(np.dtype(jst).type)
    assert lnp.issubdtype(st, getattr(jnp, name))


def test_scalar_type_aliases():
    assert lnp.bool is lnp.bool_ and lnp.single is lnp.float32 and lnp.double is lnp.float64
    assert lnp.csingle is lnp.complex64 and lnp.cdouble is lnp.complex128
    assert (lnp.int_, lnp.uint, lnp.float_, lnp.complex_) == (lnp.int64, lnp.uint64,
                                                              lnp.float64, lnp.complex128)
    assert lnp.dtype is np.dtype and lnp.floating is np.floating
    assert lnp.newaxis is None and lnp.pi == np.pi and lnp.e == np.e
    assert np.isinf(lnp.inf) and np.isnan(lnp.nan) and lnp.euler_gamma == np.euler_gamma
    # 64-bit types give 32-bit arrays unless x64 is enabled, as in jax
    assert_like_jax(lnp.int64(3), jax_result(lambda m: m.int64(3)))
    assert_like_jax(lnp.float_(2), jax_result(lambda m: m.float_(2)))


def test_x64_defaults():
    with config.override(enable_x64=True):
        assert lnp.arange(3).dtype == np.int64
        assert lnp.zeros(2).dtype == np.float64
        assert lnp.float64(1).dtype == np.float64 and lnp.int_(1).dtype == np.int64
        assert lnp.linspace(0, 1, 3).dtype == np.float64
        assert lnp.array([1.5]).dtype == np.float64
        assert lnp.result_type(1, 2.0) == np.float64
        assert lnp.tril_indices(2)[0].dtype == np.int64


DTYPE_QUERIES = {
    "result_type_scalars": lambda m: m.result_type(1, 2.0),
    "result_type_weak": lambda m: m.result_type(m.int8, 2),
    "result_type_arr": lambda m: m.result_type(m.ones(2, m.bfloat16), 1.0),
    "result_type_f64": lambda m: m.result_type(np.float64),
    "result_type_mixed": lambda m: m.result_type(m.uint32, m.int32),
    "result_type_complex": lambda m: m.result_type(m.ones(3), 1j),
    "promote_bf16_f16": lambda m: m.promote_types(m.bfloat16, m.float16),
    "promote_int_weak": lambda m: m.promote_types(int, m.int8),
    "promote_u8_i8": lambda m: m.promote_types("uint8", "int8"),
    "can_cast": lambda m: m.can_cast(m.int8, m.int16),
    "can_cast_no": lambda m: m.can_cast(m.float32, m.int32),
    "can_cast_same_kind": lambda m: m.can_cast(m.float32, m.float16, "same_kind"),
    "can_cast_arr": lambda m: m.can_cast(m.ones(2, m.int8), m.int16),
    "issubdtype_bf16": lambda m: m.issubdtype(m.bfloat16, m.floating),
    "issubdtype_inexact": lambda m: m.issubdtype(m.complex64, m.inexact),
    "issubdtype_u": lambda m: m.issubdtype(m.int8, m.unsignedinteger),
    "issubdtype_str": lambda m: m.issubdtype("int32", m.signedinteger),
    "issubdtype_np": lambda m: m.issubdtype(np.float32, m.float32),
    "isdtype_real": lambda m: m.isdtype(m.bfloat16, "real floating"),
    "isdtype_tuple": lambda m: m.isdtype(m.int8, ("bool", "unsigned integer")),
    "isdtype_numeric": lambda m: m.isdtype(m.complex64, "numeric"),
    "isdtype_bool_numeric": lambda m: m.isdtype(m.bool_, "numeric"),
    "isdtype_dtype": lambda m: m.isdtype(m.float32, m.float32),
    "isdtype_integral": lambda m: m.isdtype(np.dtype("uint16"), "integral"),
    "iscomplexobj": lambda m: (m.iscomplexobj(1j), m.iscomplexobj(m.ones(2, m.complex64)),
                               m.iscomplexobj(2.0), m.iscomplexobj(None),
                               m.iscomplexobj(np.ones(2))),
    "isrealobj": lambda m: (m.isrealobj(1.0), m.isrealobj(m.zeros(2, m.complex64))),
    "isscalar": lambda m: (m.isscalar(1.0), m.isscalar(m.asarray(1.0)), m.isscalar(m.ones(2)),
                           m.isscalar([1.0]), m.isscalar(np.float32(1)),
                           m.isscalar(np.ones(())), m.isscalar(slice(1))),
    "ndim_shape_size": lambda m: (m.ndim(m.zeros((2, 3))), m.ndim(1.0), m.shape(m.zeros((2, 3))),
                                  m.shape(2), m.size(m.zeros((2, 3))),
                                  m.size(m.zeros((2, 3)), axis=1),
                                  m.size(m.zeros((2, 3, 4)), axis=(0, 2)), m.size(3.0)),
}


@pytest.mark.parametrize("name", list(DTYPE_QUERIES))
def test_dtype_queries_match_jax(name):
    assert DTYPE_QUERIES[name](lnp) == jax_result(DTYPE_QUERIES[name])


@pytest.mark.parametrize("dtype", ["bfloat16", "float16", "float32", "complex64"])
def test_finfo_matches_jax(dtype):
    a, b = lnp.finfo(getattr(lnp, dtype)), jnp.finfo(getattr(jnp, dtype))
    for attr in ("bits", "eps", "max", "min", "tiny", "resolution", "dtype"):
        assert getattr(a, attr) == getattr(b, attr), attr
    assert lnp.finfo(lnp.zeros(2, dtype)).eps == b.eps


@pytest.mark.parametrize("dtype", ["int8", "uint16", "int32", "uint32"])
def test_iinfo_matches_jax(dtype):
    a, b = lnp.iinfo(getattr(lnp, dtype)), jnp.iinfo(getattr(jnp, dtype))
    assert (a.bits, a.min, a.max) == (b.bits, b.min, b.max)
    assert lnp.iinfo(lnp.zeros(2, dtype)).max == b.max


def test_dtype_query_errors():
    with pytest.raises(ValueError, match="unrecognized kind"):
        lnp.isdtype(lnp.float32, "floaty")
    with pytest.raises(TypeError, match="kind"):
        lnp.isdtype(lnp.float32, 3.5)
    with pytest.raises(ValueError, match="iinfo"):
        lnp.iinfo(lnp.float32)
    with pytest.raises(ValueError, match="finfo"):
        lnp.finfo(lnp.int32)
    for fn in (lnp.ndim, lnp.shape, lnp.size):
        with pytest.raises(TypeError, match="asarray"):
            fn([1, 2])
    with pytest.raises(ValueError, match="out of bounds"):
        lnp.size(lnp.zeros(2), axis=1)


# --------------------------------------------------------------------------------------
# Creation results against jax
# --------------------------------------------------------------------------------------

CASES = {
    # array / asarray
    "array_list": lambda m: m.array([1, 2.5]),
    "array_f16_leaf": lambda m: m.array([np.float16(1), 2]),
    "array_bool_int": lambda m: m.array([True, 2]),
    "array_int": lambda m: m.array(3),
    "array_float": lambda m: m.array(3.5),
    "array_complex": lambda m: m.array(1 + 2j),
    "array_bool": lambda m: m.array(True),
    "array_np64": lambda m: m.array(np.arange(3.0)),
    "array_np_bf16": lambda m: m.array(np.ones(2, ml_dtypes.bfloat16)),
    "array_empty": lambda m: m.array([]),
    "array_nested_empty": lambda m: m.array([[], []]),
    "array_ndmin": lambda m: m.array([1, 2], ndmin=3),
    "array_dtype": lambda m: m.array([1, 2], dtype=m.bfloat16),
    "array_range": lambda m: m.array(range(5)),
    "array_of_arrays": lambda m: m.array([m.arange(3), m.arange(3)]),
    "array_mixed": lambda m: m.array([m.arange(3, dtype=m.int8), [1, 2, 3]]),
    "array_tuple_of_arrays": lambda m: m.array((m.ones(2, m.float16), np.zeros(2, np.int8))),
    "array_weak": lambda m: m.array(m.asarray(2.0)),
    "array_weak_dtype": lambda m: m.array(m.asarray(2.0), dtype=m.float32),
    "asarray_np_scalar": lambda m: m.asarray(np.float64(2)),
    "asarray_nested_tuple": lambda m: m.asarray(((1, 2), (3, 4))),
    "asarray_dtype": lambda m: m.asarray(m.arange(3), dtype=m.float16),
    "copy": lambda m: m.copy(m.arange(3)),
    "copy_weak": lambda m: m.copy(m.asarray(3)),
    # filled arrays
    "zeros": lambda m: m.zeros((2, 3)),
    "zeros_int": lambda m: m.zeros(3, int),
    "zeros_0d": lambda m: m.zeros(()),
    "ones_bf16": lambda m: m.ones((2,), m.bfloat16),
    "ones_bool": lambda m: m.ones((2,), bool),
    "empty": lambda m: m.empty((0, 2), m.int8),
    "full_py_float": lambda m: m.full(3, 1.0),
    "full_py_int": lambda m: m.full((2, 2), 1),
    "full_np_scalar": lambda m: m.full(3, np.float16(1)),
    "full_dtype": lambda m: m.full(3, 2.7, m.int32),
    "full_array_fill": lambda m: m.full((2, 3), m.arange(3)),
    "full_bool": lambda m: m.full((2,), True),
    "zeros_like": lambda m: m.zeros_like(m.arange(3)),
    "zeros_like_weak": lambda m: m.zeros_like(m.asarray(2.0)),
    "zeros_like_scalar": lambda m: m.zeros_like(2.0),
    "zeros_like_shape": lambda m: m.zeros_like(m.arange(3), shape=(2, 2)),
    "zeros_like_dtype": lambda m: m.zeros_like(m.arange(3), dtype=m.float16),
    "ones_like_np": lambda m: m.ones_like(np.arange(3.0)),
    "full_like": lambda m: m.full_like(m.arange(3), 2.7),
    "full_like_array_fill": lambda m: m.full_like(m.zeros((2, 3)), m.arange(3)),
    "full_like_weak": lambda m: m.full_like(m.asarray(1.0), 3),
    "empty_like": lambda m: m.empty_like(m.ones(3, m.int8)),
    # ranges
    "arange": lambda m: m.arange(5),
    "arange_float": lambda m: m.arange(5.0),
    "arange_start_stop": lambda m: m.arange(2, 7),
    "arange_float_step": lambda m: m.arange(0, 1, 0.1),
    "arange_neg_step": lambda m: m.arange(10, 0, -3),
    "arange_neg_float_step": lambda m: m.arange(1.0, 0, -0.25),
    "arange_f16": lambda m: m.arange(5, dtype=m.float16),
    "arange_bf16_step": lambda m: m.arange(0, 2, 0.3, dtype=m.bfloat16),
    "arange_uint8_down": lambda m: m.arange(10, 0, -1, dtype=m.uint8),
    "arange_np_int8": lambda m: m.arange(np.int8(5)),
    "arange_np_start": lambda m: m.arange(np.int8(2), 5),
    "arange_empty": lambda m: m.arange(5, 2),
    "arange_fraction": lambda m: m.arange(2.5),
    "arange_array_arg": lambda m: m.arange(m.asarray(4)),
    "arange_float_start_int": lambda m: m.arange(0.5, 4, dtype=m.int32),
    "linspace": lambda m: m.linspace(0, 1, 7),
    "linspace_no_endpoint": lambda m: m.linspace(0, 1, 7, endpoint=False),
    "linspace_retstep": lambda m: m.linspace(2, 3, 5, retstep=True),
    "linspace_retstep_no_end": lambda m: m.linspace(2, 3, 5, endpoint=False, retstep=True),
    "linspace_int": lambda m: m.linspace(0, 10, 7, dtype=int),
    "linspace_one": lambda m: m.linspace(2, 3, 1),
    "linspace_one_retstep": lambda m: m.linspace(2, 3, 1, retstep=True),
    "linspace_zero": lambda m: m.linspace(2, 3, 0),
    "linspace_zero_retstep": lambda m: m.linspace(2, 3, 0, retstep=True),
    "linspace_arrays": lambda m: m.linspace(m.zeros(3), m.arange(3.0) + 1, 4),
    "linspace_axis1": lambda m: m.linspace(m.zeros((2, 3)), 5.0, 4, axis=1),
    "linspace_axis_neg": lambda m: m.linspace(m.zeros((2, 3)), 5.0, 4, axis=-1),
    "linspace_bf16": lambda m: m.linspace(0, 1, 5, dtype=m.bfloat16),
    "linspace_f16": lambda m: m.linspace(np.float16(0), np.float16(3), 5),
    "linspace_complex": lambda m: m.linspace(0, 1 + 1j, 5),
    "linspace_int_bounds": lambda m: m.linspace(np.int8(0), np.int8(5), 4),
    "logspace": lambda m: m.logspace(0, 3, 4),
    "logspace_base2": lambda m: m.logspace(0, 3, 4, base=2),
    "logspace_int": lambda m: m.logspace(0, 3, 4, dtype=int),
    "logspace_arrays": lambda m: m.logspace(m.zeros(2), m.ones(2), 3, axis=1),
    "logspace_f16": lambda m: m.logspace(0, 2, 3, dtype=m.float16),
    "geomspace": lambda m: m.geomspace(1, 1000, 4),
    "geomspace_negative": lambda m: m.geomspace(-1, -1000, 4, endpoint=False),
    "geomspace_arrays": lambda m: m.geomspace(m.ones(2), m.asarray([10.0, 100.0]), 3, axis=1),
    "geomspace_int": lambda m: m.geomspace(1, 256, 9, dtype=int),
    # identity, triangles, diagonals, index helpers
    "eye": lambda m: m.eye(3),
    "eye_k": lambda m: m.eye(3, 4, k=1),
    "eye_neg_k": lambda m: m.eye(3, 4, k=-2, dtype=int),
    "eye_bool": lambda m: m.eye(2, dtype=bool),
    "eye_empty": lambda m: m.eye(0),
    "eye_array_k": lambda m: m.eye(3, k=m.asarray(1)),
    "identity": lambda m: m.identity(3, m.int8),
    "tri": lambda m: m.tri(3),
    "tri_k": lambda m: m.tri(3, 5, 2, int),
    "tri_neg_k": lambda m: m.tri(4, 2, -1, bool),
    "tril_batched": lambda m: m.tril(m.arange(24).reshape(2, 3, 4), -1),
    "triu": lambda m: m.triu(m.arange(12).reshape(3, 4), 1),
    "tril_weak": lambda m: m.tril(m.full((2, 2), 1.0)),
    "diag_vector": lambda m: m.diag(m.arange(1, 4)),
    "diag_vector_k": lambda m: m.diag(m.arange(1, 4), 2),
    "diag_vector_neg_k": lambda m: m.diag(m.arange(1, 4.0), -1),
    "diag_matrix": lambda m: m.diag(m.arange(12).reshape(3, 4), 1),
    "diag_matrix_far": lambda m: m.diag(m.arange(12).reshape(3, 4), 5),
    "diag_empty": lambda m: m.diag(m.zeros(0)),
    "diag_weak": lambda m: m.diag(m.full((2,), 2.0)),
    "diagflat": lambda m: m.diagflat(m.arange(4).reshape(2, 2), 1),
    "diagflat_weak": lambda m: m.diagflat(m.full((2,), 2.0)),
    "diag_indices": lambda m: m.diag_indices(3),
    "diag_indices_3d": lambda m: m.diag_indices(2, 3),
    "diag_indices_from": lambda m: m.diag_indices_from(m.zeros((3, 3))),
    "tril_indices": lambda m: m.tril_indices(3),
    "tril_indices_k": lambda m: m.tril_indices(3, 1, 4),
    "triu_indices": lambda m: m.triu_indices(3, -1),
    "tril_indices_from": lambda m: m.tril_indices_from(m.zeros((3, 4)), 1),
    "triu_indices_from": lambda m: m.triu_indices_from(m.zeros((3, 4))),
    "meshgrid": lambda m: m.meshgrid(m.arange(3), m.arange(2.0)),
    "meshgrid_ij": lambda m: m.meshgrid(m.arange(3), m.arange(2), indexing="ij"),
    "meshgrid_3": lambda m: m.meshgrid(m.arange(3), m.arange(2), m.arange(4)),
    "meshgrid_sparse": lambda m: m.meshgrid(m.arange(3), m.arange(2), m.arange(4), sparse=True),
    "meshgrid_one": lambda m: m.meshgrid(m.arange(3)),
    "meshgrid_none": lambda m: m.meshgrid(),
    "indices": lambda m: m.indices((2, 3)),
    "indices_sparse": lambda m: m.indices((2, 3), sparse=True),
    "indices_dtype": lambda m: m.indices((2,), dtype=m.int8),
    "indices_empty": lambda m: m.indices(()),
    "fromfunction": lambda m: m.fromfunction(lambda i, j: i * 10 + j, (2, 3), dtype=int),
    "frombuffer": lambda m: m.frombuffer(np.arange(4, dtype=np.float32).tobytes(),
                                         dtype=np.float32),
}


@pytest.mark.parametrize("name", list(CASES))
def test_creation_matches_jax(name):
    assert_like_jax(CASES[name](lnp), jax_result(CASES[name]), name)


def test_creation_against_numpy_values():
    np.testing.assert_array_equal(lnp.arange(-3, 9, 4), np.arange(-3, 9, 4))
    np.testing.assert_allclose(lnp.linspace(-1, 7, 9), np.linspace(-1, 7, 9), rtol=1e-6)
    np.testing.assert_allclose(lnp.geomspace(2, 2 ** 10, 10), np.geomspace(2, 2 ** 10, 10),
                               rtol=1e-5)
    np.testing.assert_array_equal(lnp.tri(5, 3, 1), np.tri(5, 3, 1))
    np.testing.assert_array_equal(lnp.indices((3, 1, 2)), np.indices((3, 1, 2)))
    for got, want in zip(lnp.meshgrid(np.arange(2), np.arange(3), np.arange(4), sparse=True,
                                      indexing="ij"),
                         np.meshgrid(np.arange(2), np.arange(3), np.arange(4), sparse=True,
                                     indexing="ij")):
        np.testing.assert_array_equal(got, want)


def test_array_and_asarray_copy_semantics():
    x = lnp.arange(3)
    assert lnp.asarray(x) is x
    assert lnp.asarray(x, copy=True) is not x
    assert lnp.array(x, copy=False) is x
    y, z = lnp.array(x), lnp.copy(x)
    assert y is not x and z is not x
    x.delete()
    assert y.tolist() == [0, 1, 2] and z.tolist() == [0, 1, 2]


# --------------------------------------------------------------------------------------
# Errors, dtype validation, concrete arguments
# --------------------------------------------------------------------------------------

DTYPE_FUNCTIONS = {
    "zeros": lambda d: lnp.zeros(2, d), "ones": lambda d: lnp.ones(2, d),
    "empty": lambda d: lnp.empty(2, d), "full": lambda d: lnp.full(2, 1, d),
    "zeros_like": lambda d: lnp.zeros_like(lnp.ones(2), d),
    "ones_like": lambda d: lnp.ones_like(lnp.ones(2), d),
    "empty_like": lambda d: lnp.empty_like(lnp.ones(2), d),
    "full_like": lambda d: lnp.full_like(lnp.ones(2), 1, d),
    "array": lambda d: lnp.array([1], d), "asarray": lambda d: lnp.asarray([1], d),
    "arange": lambda d: lnp.arange(3, dtype=d), "linspace": lambda d: lnp.linspace(0, 1, dtype=d),
    "logspace": lambda d: lnp.logspace(0, 1, dtype=d),
    "geomspace": lambda d: lnp.geomspace(1, 2, dtype=d), "eye": lambda d: lnp.eye(2, dtype=d),
    "identity": lambda d: lnp.identity(2, d), "tri": lambda d: lnp.tri(2, dtype=d),
    "indices": lambda d: lnp.indices((2,), d),
}


@pytest.mark.parametrize("name", list(DTYPE_FUNCTIONS))
@pytest.mark.parametrize("bad", [object, "float128", np.str_])
def test_unsupported_dtype_is_rejected_by_name(name, bad):
    with pytest.raises(TypeError, match=rf"lamina\.numpy\.{name}.*not supported"):
        DTYPE_FUNCTIONS[name](bad)


def test_creation_errors_name_the_function():
    with pytest.raises(TypeError, match=r"zeros\(\(2, 3\)\)"):
        lnp.zeros(2, 3)
    with pytest.raises(TypeError, match="lamina.numpy.ones: negative"):
        lnp.ones((2, -1))
    with pytest.raises(TypeError, match="lamina.numpy.zeros"):
        lnp.zeros((2.5,))
    with pytest.raises(ValueError, match="lamina.numpy.eye: negative"):
        lnp.eye(-1)
    with pytest.raises(ValueError, match="complex"):
        lnp.arange(1j)
    with pytest.raises(ValueError, match="scalars"):
        lnp.arange(np.arange(2))
    with pytest.raises(ValueError, match="step"):
        lnp.arange(0, 2, 0)
    with pytest.raises(TypeError, match="asarray"):
        lnp.arange([1, 2])
    with pytest.raises(ValueError, match="non-negative"):
        lnp.linspace(0, 1, -1)
    with pytest.raises(ValueError, match="axis"):
        lnp.linspace(lnp.zeros(2), 1, 3, axis=3)
    with pytest.raises(ValueError, match="lamina.numpy.tril"):
        lnp.tril(lnp.ones(3))
    with pytest.raises(ValueError, match="1-D inputs"):
        lnp.meshgrid(lnp.ones((2, 2)))
    with pytest.raises(ValueError, match="indexing"):
        lnp.meshgrid(lnp.ones(2), indexing="xx")
    with pytest.raises(ValueError, match="lamina.numpy.diag"):
        lnp.diag(lnp.zeros((2, 2, 2)))
    with pytest.raises(ValueError, match="equal"):
        lnp.diag_indices_from(lnp.zeros((2, 3)))
    with pytest.raises(ValueError, match="None"):
        lnp.array([1, None])
    with pytest.raises(ValueError, match="inhomogeneous"):
        lnp.array([[1, 2], [3]])
    with pytest.raises(TypeError, match="not supported"):
        lnp.array("abc")
    with pytest.raises(NotImplementedError, match="order"):
        lnp.array([1], order="F")
    with pytest.raises(TypeError, match="zeros: device must be a lamina device .* str: 'cpu'"):
        lnp.zeros(2, device="cpu")
    with pytest.raises(TypeError, match="asarray first"):
        lnp.full(2, [1, 2])


def test_from_dlpack_matches_jax_and_copies():
    import jax
    import jax.numpy as jnp
    for host in [np.arange(6, dtype=np.int64).reshape(2, 3), np.linspace(0, 1, 5),
                 np.array([True, False]), np.arange(4, dtype=np.uint8),
                 np.ones((2, 2), np.complex64), np.zeros((0, 3), np.float16)]:
        got, want = lnp.from_dlpack(host), jnp.from_dlpack(host)
        assert (got.dtype, got.shape) == (want.dtype, want.shape), host.dtype
        np.testing.assert_array_equal(np.asarray(got), np.asarray(want))
    # other producers: a jax array, a lamina array (a copy on the requested device)
    np.testing.assert_array_equal(np.asarray(lnp.from_dlpack(jnp.arange(3.0))), [0, 1, 2])
    x = lnp.arange(3)
    y = lnp.from_dlpack(x, device=lamina.devices()[0])
    assert y is not x and y.tolist() == [0, 1, 2]
    # a copy: later writes to the producer do not show
    host = np.arange(4, dtype=np.float32)
    z = lnp.from_dlpack(host)
    host[0] = 9
    assert z.tolist() == [0, 1, 2, 3]
    with pytest.raises(ValueError, match="copy=False .* not supported"):
        lnp.from_dlpack(host, copy=False)
    with pytest.raises(TypeError, match="expected an object with __dlpack__.* list"):
        lnp.from_dlpack([1, 2])

    class OnAnAccelerator:  # a producer numpy cannot read (as a CUDA tensor)
        def __dlpack__(self, **kwargs):
            raise BufferError("unsupported device")

        def __dlpack_device__(self):
            return (2, 0)

    with pytest.raises(BufferError, match=r"DLPack device \(2, 0\) .* move it to the CPU"):
        lnp.from_dlpack(OnAnAccelerator())
    # lamina arrays describe their device to DLPack consumers
    assert lnp.ones(2).__dlpack_device__() == jnp.ones(2).__dlpack_device__() == (1, 0)
    with pytest.raises(BufferError, match=r"not \(2, 0\)"):
        lnp.ones(2).__dlpack__(dl_device=(2, 0))
    del jax


def test_device_argument_places_results():
    device = lamina.devices()[0]
    made = {
        "zeros": lambda d: lnp.zeros((2, 3), device=d),
        "ones": lambda d: lnp.ones(2, lnp.int8, device=d),
        "empty": lambda d: lnp.empty(2, device=d),
        "full": lambda d: lnp.full((2,), 7, device=d),
        "zeros_like": lambda d: lnp.zeros_like(lnp.ones(2), device=d),
        "ones_like": lambda d: lnp.ones_like(lnp.ones(2), device=d),
        "empty_like": lambda d: lnp.empty_like(lnp.ones(2), device=d),
        "full_like": lambda d: lnp.full_like(lnp.ones(2), lnp.arange(2), device=d),
        "eye": lambda d: lnp.eye(3, k=1, device=d),
        "arange": lambda d: lnp.arange(1, 7, 2, device=d),
        "linspace": lambda d: lnp.linspace(0, 1, 4, device=d),
        "array": lambda d: lnp.array([[1, 2]], ndmin=3, device=d),
        "asarray": lambda d: lnp.asarray(np.arange(3.0), device=d),
        "astype": lambda d: lnp.astype(lnp.arange(3), lnp.float16, device=d),
    }
    for name, make in made.items():
        placed, default = make(device), make(None)
        assert placed.device == device, name
        assert (placed.dtype, placed.weak_type) == (default.dtype, default.weak_type), name
        np.testing.assert_array_equal(np.asarray(placed), np.asarray(default), err_msg=name)
    # under jit the placement is part of the program, as jax's device_put
    f = lamina.jit(lambda a: lnp.zeros(3, device=device) + a)
    assert f(1.0).tolist() == [1.0, 1.0, 1.0]


def test_static_arguments_must_be_concrete():
    with tracing() as traced:
        n = traced(3)
        for make in (lambda: lnp.arange(n), lambda: lnp.arange(0, n),
                     lambda: lnp.zeros((n, 2)), lambda: lnp.ones(n), lambda: lnp.eye(n),
                     lambda: lnp.linspace(0, 1, n), lambda: lnp.tri(n),
                     lambda: lnp.tril_indices(n), lambda: lnp.indices((n,)),
                     lambda: lnp.array([1], ndmin=n)):
            with pytest.raises(ConcretizationError, match="concrete"):
                make()


def test_traced_values_flow_through_creation():
    with tracing() as traced:
        k = traced(1)
        eye, tri = lnp.eye(3, k=k), lnp.tril(lnp.ones((3, 3)), k=k)
        lin = lnp.linspace(traced(0.0), traced(np.array([1.0, 2.0], np.float32)), 3)
        stacked = lnp.array([traced(1.0), 2.0])
        full = lnp.full((2,), traced(np.float32(3)))
    assert isinstance(eye, Tracer)
    np.testing.assert_array_equal(eye.val, np.eye(3, k=1))
    np.testing.assert_array_equal(tri.val, np.tril(np.ones((3, 3)), 1))
    np.testing.assert_allclose(lin.val, np.linspace(0, [1.0, 2.0], 3))
    np.testing.assert_array_equal(stacked.val, [1.0, 2.0])
    assert stacked.val.dtype == np.float32
    np.testing.assert_array_equal(full.val, [3.0, 3.0])
