"""lamina.numpy's shape functions (core/numpy/shape_ops.py) beyond the OpRecord table:
dtype promotion and weak types against jax, multi-output functions, keyword sweeps,
traced arguments, and errors that name the function."""
import warnings

import ml_dtypes
import numpy as np
import pytest

import lamina
import lamina.numpy as lnp
from lamina.errors import ConcretizationError
from lamina.ir import Tracer
from lamina.testing import assert_array_close
from pass_trace import tracing  # noqa: E402  (tests/core helper)

jax = pytest.importorskip("jax")
jnp = jax.numpy

X = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
XI = np.arange(12, dtype=np.int32).reshape(3, 4)


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
        warnings.simplefilter("ignore")
        return f(jnp)




# --------------------------------------------------------------------------------------
# Results against jax (dtype promotion, weak types, output structure)
# --------------------------------------------------------------------------------------

CASES = {
    "reshape_weak": lambda m: m.reshape(3.0, (1, 1)),
    "reshape_method": lambda m: m.asarray(X).reshape(4, 6),
    "reshape_method_tuple": lambda m: m.asarray(X).reshape((4, -1), order="F"),
    "ravel_weak": lambda m: m.ravel(m.full((2, 2), 1.0)),
    "transpose_method": lambda m: m.asarray(X).transpose(2, 0, 1),
    "T": lambda m: m.asarray(X).T,
    "mT": lambda m: m.asarray(X).mT,
    "permute_dims": lambda m: m.permute_dims(m.asarray(X), (2, 0, 1)),
    "rollaxis": lambda m: m.rollaxis(m.asarray(X), 2),
    "rollaxis_start": lambda m: m.rollaxis(m.asarray(X), 0, 2),
    "squeeze_0d": lambda m: m.squeeze(3.0),
    "concat_int_int8": lambda m: m.concatenate([m.asarray(XI), m.ones((1, 4), m.int8)]),
    "concat_weak_float": lambda m: m.concatenate([m.asarray(XI), m.full((1, 4), 2.0)]),
    "concat_all_weak": lambda m: m.concatenate([m.full(2, 1.0), m.full(1, 2.0)]),
    "concat_dtype": lambda m: m.concatenate([m.asarray(XI), m.ones((3, 1))], axis=1,
                                            dtype=m.float16),
    "concat_array": lambda m: m.concatenate(m.asarray(X), axis=1),
    "concat_array_none": lambda m: m.concatenate(m.asarray(X), axis=None),
    "concat_numpy": lambda m: m.concatenate(np.ones((2, 3)), axis=0),
    "concat_single": lambda m: m.concatenate([m.ones((2, 3))]),
    "concat_api": lambda m: m.concat([m.ones(2), m.zeros(3, int)]),
    "stack_scalars": lambda m: m.stack([1, 2]),
    "stack_mixed_scalars": lambda m: m.stack([1, 2.5]),
    "stack_array": lambda m: m.stack(m.asarray(X), axis=2),
    "stack_dtype": lambda m: m.stack([m.ones(3), m.ones(3)], dtype=int),
    "hstack_scalars": lambda m: m.hstack([1, 2.0]),
    "hstack_array": lambda m: m.hstack(m.asarray(XI)),
    "vstack_array": lambda m: m.vstack(m.asarray(X)),
    "column_stack_scalars": lambda m: m.column_stack([1.0, 2.0]),
    "block": lambda m: m.block([[m.ones((2, 2)), m.zeros((2, 1))],
                                [m.zeros((1, 2)), m.ones((1, 1))]]),
    "block_vectors": lambda m: m.block([m.ones(2), m.zeros(3, int)]),
    "block_scalars": lambda m: m.block([1.0, 2.0]),
    "append_scalar": lambda m: m.append(m.asarray(XI), 5.5),
    "atleast_1d_many": lambda m: m.atleast_1d(1.0, m.ones((2, 2))),
    "atleast_3d_scalar": lambda m: m.atleast_3d(2),
    "split_sections": lambda m: m.split(m.arange(6), 3),
    "split_indices": lambda m: m.split(m.arange(6), [1, 4]),
    "split_numpy_indices": lambda m: m.split(m.arange(6), np.array([2, 3])),
    "split_array_indices": lambda m: m.split(m.arange(6), m.asarray([2, 3])),
    "split_axis": lambda m: m.split(m.asarray(X), 2, axis=-1),
    "array_split": lambda m: m.array_split(m.arange(7), 3),
    "array_split_more_than_size": lambda m: m.array_split(m.arange(2), 4),
    "hsplit": lambda m: m.hsplit(m.asarray(XI), 2),
    "hsplit_1d": lambda m: m.hsplit(m.arange(6), 3),
    "vsplit": lambda m: m.vsplit(m.asarray(XI), [1]),
    "dsplit": lambda m: m.dsplit(m.asarray(X), 2),
    "unstack": lambda m: m.unstack(m.asarray(X), axis=1),
    "unstack_weak": lambda m: m.unstack(m.full((2, 1), 1.0)),
    "tile_scalar": lambda m: m.tile(2.0, 3),
    "tile_zero": lambda m: m.tile(m.asarray(XI), (0, 2)),
    "repeat_total": lambda m: m.repeat(m.asarray(XI), m.asarray([1, 0, 2]), axis=0,
                                       total_repeat_length=5),
    "repeat_total_short": lambda m: m.repeat(m.asarray(XI), m.asarray([1, 0, 2]), axis=0,
                                             total_repeat_length=2),
    "repeat_total_scalar": lambda m: m.repeat(m.asarray(XI), 2, axis=0,
                                              total_repeat_length=4),
    "repeat_scalar_input": lambda m: m.repeat(3.0, 4),
    "repeat_weak": lambda m: m.repeat(m.full((2,), 1.0), 2),
    "broadcast_to_weak": lambda m: m.broadcast_to(2.0, 3),
    "broadcast_arrays": lambda m: m.broadcast_arrays(m.ones((2, 1)), m.arange(3), 1.0),
    "flip_0d": lambda m: m.flip(2.0),
    "roll_array_shift": lambda m: m.roll(m.asarray(X), m.asarray(3), axis=2),
    "roll_one_shift_many_axes": lambda m: m.roll(m.asarray(X), 1, axis=(0, 2)),
    "roll_empty": lambda m: m.roll(m.zeros((0, 3)), 1, axis=0),
    "insert_float_into_int": lambda m: m.insert(m.arange(5), 2, 9.5),
    "insert_weak": lambda m: m.insert(m.full(3, 1.0), 1, 2.0),
    "delete_mask": lambda m: m.delete(m.arange(4), np.array([True, False, True, False])),
    "delete_weak": lambda m: m.delete(m.full(3, 1.0), 0),
    "diagonal_weak": lambda m: m.diagonal(m.full((2, 2), 1.0)),
    "diagonal_far": lambda m: m.diagonal(m.asarray(XI), 7),
    "astype_weak": lambda m: m.astype(m.asarray(2.0), m.float32),
    "astype_none": lambda m: m.astype(m.asarray(XI), None),
    "astype_bool": lambda m: m.astype(m.asarray([0.0, 2.5]), bool),
    "trim_zeros_back": lambda m: m.trim_zeros(m.asarray([0.0, 0, 1, 0, 2, 0]), "b"),
    "trim_zeros_all": lambda m: m.trim_zeros(m.zeros(3)),
    "resize_zero": lambda m: m.resize(m.zeros(0), (2, 2)),
}


@pytest.mark.parametrize("name", list(CASES))
def test_shape_ops_match_jax(name):
    assert_like_jax(CASES[name](lnp), jax_result(CASES[name]), name)


PAD_ARRAYS = {
    "i32": (XI * 7) % 5, "u8": ((XI * 7) % 5).astype(np.uint8),
    "bf16": (X[0] * 1.5 - 4).astype(ml_dtypes.bfloat16),
}


# NOTE: the OpRecord table checks every mode against numpy; these are the modes whose
# integer/bfloat16 rounding follows jax rather than numpy.
@pytest.mark.parametrize("mode", ["maximum", "mean", "median", "linear_ramp"])
def test_pad_statistics_match_jax(mode):
    for name, host in PAD_ARRAYS.items():
        widths = ((1, 0), (0, 3))
        where = f"{mode} {name} {widths}"
        assert_like_jax(lnp.pad(lnp.asarray(host), widths, mode=mode),
                        jnp.pad(jnp.asarray(host), widths, mode=mode), where)


PAD_KWARG_CASES = {
    "weak": lambda m: m.pad(m.full((2,), 1.0), 1),
    "weak_edge": lambda m: m.pad(m.full((2,), 1.0), 1, mode="edge"),
    "weak_mean": lambda m: m.pad(m.full((2,), 1.0), 1, mode="mean"),
    "weak_ramp": lambda m: m.pad(m.full((2,), 1.0), 1, mode="linear_ramp"),
    "weak_reflect_odd": lambda m: m.pad(m.full((2,), 1.0), 1, mode="reflect",
                                        reflect_type="odd"),
    "constant_values_pairs": lambda m: m.pad(m.asarray(XI), ((1, 2), (3, 1)),
                                             constant_values=((1, 2), (3, 4))),
    "constant_values_pair": lambda m: m.pad(m.asarray(XI), 1, constant_values=(5, 6)),
    "constant_float_into_int": lambda m: m.pad(m.asarray(XI), 1, constant_values=2.7),
    "constant_array_value": lambda m: m.pad(m.asarray(XI), 1, constant_values=m.asarray(3)),
    "bool": lambda m: m.pad(m.asarray([True, False]), 1, constant_values=True),
    "reflect_odd": lambda m: m.pad(m.asarray(X[0]), ((5, 7), (2, 3)), mode="reflect",
                                   reflect_type="odd"),
    "symmetric_odd": lambda m: m.pad(m.asarray(XI), ((5, 7), (2, 3)), mode="symmetric",
                                     reflect_type="odd"),
    "reflect_odd_length_1": lambda m: m.pad(m.asarray(X[0, :1]), ((5, 7), (0, 0)),
                                            mode="reflect", reflect_type="odd"),
    "ramp_end_values": lambda m: m.pad(m.asarray(X[0]), ((2, 3), (1, 2)), mode="linear_ramp",
                                       end_values=((5, -1), (2, 3))),
    "stat_length": lambda m: m.pad(m.asarray(X[0]), 3, mode="mean", stat_length=2),
    "stat_length_pairs": lambda m: m.pad(m.asarray(XI), 3, mode="median",
                                         stat_length=((1, 2), (3, 4))),
    "stat_length_long": lambda m: m.pad(m.asarray(XI), 3, mode="maximum", stat_length=(1, 10)),
    "median_nan": lambda m: m.pad(m.asarray([1.0, np.nan, 3.0]), 1, mode="median"),
    "complex_mean": lambda m: m.pad(m.asarray([1 + 1j, 2 - 1j, 3j], dtype=m.complex64), 1,
                                    mode="mean"),
    "complex_ramp": lambda m: m.pad(m.asarray([1 + 1j, 2 - 1j, 3j], dtype=m.complex64), 2,
                                    mode="linear_ramp"),
    "scalar_input": lambda m: m.pad(m.asarray(3.0), 2),
    "empty_axis": lambda m: m.pad(m.zeros((0, 2)), 1),
    "empty_axis_unpadded": lambda m: m.pad(m.zeros((0, 2)), ((0, 0), (1, 1)), mode="edge"),
    "array_widths": lambda m: m.pad(m.asarray(X[0]), m.asarray([1, 2])),
}


@pytest.mark.parametrize("name", list(PAD_KWARG_CASES))
def test_pad_options_match_jax(name):
    assert_like_jax(PAD_KWARG_CASES[name](lnp), jax_result(PAD_KWARG_CASES[name]), name)


def _pad_with(vector, pad_width, iaxis, kwargs):
    value = kwargs.get("padder", 10)
    vector = vector.at[:pad_width[0]].set(value)
    return vector.at[vector.shape[0] - pad_width[1]:].set(value) if pad_width[1] else vector


def test_pad_callable_mode_matches_jax():
    host = np.arange(6, dtype=np.int32).reshape(2, 3)
    for kwargs in ({}, {"padder": 7}):
        assert_like_jax(lnp.pad(host, ((1, 2), (2, 0)), _pad_with, **kwargs),
                        jnp.pad(host, ((1, 2), (2, 0)), _pad_with, **kwargs))


# --------------------------------------------------------------------------------------
# numpy semantics beyond jax's
# --------------------------------------------------------------------------------------


INSERT_CASES = {
    "many": lambda m: m.insert(m.arange(5), np.array([1, 3, 3]), np.array([7, 8, 9])),
    "column": lambda m: m.insert(m.asarray(XI), 1, np.array([7, 8, 9]), axis=1),
    "row": lambda m: m.insert(m.asarray(XI), np.array([1]), np.array([7, 8, 9, 10]), axis=0),
    "slice": lambda m: m.insert(m.arange(5), slice(0, 4, 2), np.array([7, 8])),
    "end": lambda m: m.insert(m.arange(5), 5, 1),
    "negative": lambda m: m.insert(m.arange(5), -2, np.array([7, 8])),
    "broadcast_block": lambda m: m.insert(m.asarray(XI), [0, 4], 9, axis=1),
    "unsorted": lambda m: m.insert(m.arange(20), np.arange(20)[::-2], -1),
}


@pytest.mark.parametrize("name", list(INSERT_CASES))
def test_insert_matches_numpy(name):
    got = INSERT_CASES[name](lnp)
    assert got.dtype == np.int32
    np.testing.assert_array_equal(got, INSERT_CASES[name](np))


@pytest.mark.parametrize("indices", [[2, 10], [-2], [4, 2], [0, 0, 6]])
def test_split_points_follow_numpy_slicing(indices):
    got = lnp.split(lnp.arange(6), indices)
    want = np.split(np.arange(6), indices)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)


def test_copy_flags_give_new_buffers():
    x = lnp.arange(6)
    assert lnp.reshape(x, (6,)) is x
    assert lnp.astype(x, x.dtype) is x
    y, z = lnp.reshape(x, (6,), copy=True), lnp.astype(x, x.dtype, copy=True)
    x.delete()
    assert y.tolist() == list(range(6)) and z.tolist() == list(range(6))


# --------------------------------------------------------------------------------------
# Traced arguments
# --------------------------------------------------------------------------------------


def test_traced_shift_and_repeats():
    x = np.arange(10, dtype=np.float32).reshape(2, 5)
    with tracing() as traced:
        rolled = lnp.roll(traced(x), traced(np.int32(3)), axis=1)
        rolled_neg = lnp.roll(traced(x), traced(np.array([-1, 7], np.int32)), axis=(0, 1))
        rolled_flat = lnp.roll(traced(x), traced(np.int32(-4)))
        reps = traced(np.array([2, 0, 1, 3, 1], np.int32))
        repeated = lnp.repeat(traced(x), reps, axis=1, total_repeat_length=7)
        repeated_long = lnp.repeat(traced(x[0]), reps, total_repeat_length=9)
    assert isinstance(rolled, Tracer)
    np.testing.assert_array_equal(rolled.val, np.roll(x, 3, axis=1))
    np.testing.assert_array_equal(rolled_neg.val, np.roll(x, (-1, 7), axis=(0, 1)))
    np.testing.assert_array_equal(rolled_flat.val, np.roll(x, -4))
    np.testing.assert_array_equal(repeated.val, np.repeat(x, [2, 0, 1, 3, 1], axis=1))
    # jax's rule: outputs past the total repeat the last element
    expected = np.concatenate([np.repeat(x[0], [2, 0, 1, 3, 1]), [4.0, 4.0]])
    np.testing.assert_array_equal(repeated_long.val, expected)


def test_static_arguments_must_be_concrete():
    x = lnp.arange(6.0)
    with tracing() as traced:
        n = traced(2)
        for make in (lambda: lnp.reshape(x, (n, -1)), lambda: lnp.split(x, n),
                     lambda: lnp.split(x, [n]), lambda: lnp.repeat(x, traced([1] * 6)),
                     lambda: lnp.tile(x, n), lambda: lnp.delete(x, n),
                     lambda: lnp.insert(x, n, 1.0), lambda: lnp.trim_zeros(traced(x)),
                     lambda: lnp.expand_dims(x, n), lambda: lnp.broadcast_to(x, (n, 6)),
                     lambda: lnp.pad(x, n), lambda: lnp.diagonal(lnp.ones((2, 2)), n),
                     lambda: lnp.moveaxis(x, n, 0), lambda: lnp.rot90(lnp.ones((2, 2)), n)):
            with pytest.raises(ConcretizationError, match="concrete"):
                make()


# --------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------


def test_reshape_errors_name_sizes():
    x = lnp.asarray(X)
    with pytest.raises(TypeError, match=r"reshape.*\(2, 3, 4\) \(size 24\).*\(5, 5\) \(size 25\)"):
        lnp.reshape(x, (5, 5))
    with pytest.raises(TypeError, match=r"product of the specified sizes \(5\)"):
        lnp.reshape(x, (5, -1))
    with pytest.raises(TypeError, match="one unknown dimension"):
        lnp.reshape(x, (-1, -1))
    with pytest.raises(TypeError, match="size 0"):
        lnp.reshape(lnp.zeros((0, 3)), (-1, 0))
    with pytest.raises(ValueError, match="negative"):
        lnp.reshape(x, (-2, -12))
    with pytest.raises(ValueError, match="order"):
        lnp.reshape(x, 24, order="X")
    with pytest.raises(NotImplementedError, match="order='A'"):
        lnp.reshape(x, 24, order="A")


@pytest.mark.parametrize("call, error, pattern", [
    (lambda: lnp.transpose(lnp.ones((2, 3)), (1, 1)), TypeError, "transpose: repeated"),
    (lambda: lnp.transpose(lnp.ones((2, 3, 4)), (1, 0)), TypeError, "permutation"),
    (lambda: lnp.matrix_transpose(lnp.ones(3)), ValueError, "two-dimensional"),
    (lambda: lnp.moveaxis(lnp.ones((2, 3)), 0, 2), ValueError, "moveaxis: axis 2 is out"),
    (lambda: lnp.moveaxis(lnp.ones((2, 3)), (0, 1), 0), ValueError, "same number"),
    (lambda: lnp.swapaxes(lnp.ones((2, 3)), 0, -3), ValueError, "swapaxes: axis -3"),
    (lambda: lnp.squeeze(lnp.ones((1, 3)), 1), ValueError, "squeeze.*not equal to one"),
    (lambda: lnp.expand_dims(lnp.ones(3), (0, 0)), ValueError, "expand_dims: repeated"),
    (lambda: lnp.expand_dims(lnp.ones(3), 2), ValueError, "out of bounds"),
    (lambda: lnp.concatenate([]), ValueError, "at least one array"),
    (lambda: lnp.concatenate([lnp.asarray(1.0), lnp.asarray(2.0)]), ValueError,
     "zero-dimensional"),
    (lambda: lnp.concatenate([lnp.ones((2, 3)), lnp.ones((2, 4))]), TypeError,
     r"concatenate.*\(2, 3\), \(2, 4\)"),
    (lambda: lnp.concatenate([[1, 2], [3]]), TypeError, "asarray first"),
    (lambda: lnp.concatenate(lnp.ones(3)), ValueError, "zero-dimensional"),
    (lambda: lnp.stack([lnp.ones(3), lnp.ones(2)]), ValueError, "same shape"),
    (lambda: lnp.stack([]), ValueError, "at least one"),
    (lambda: lnp.stack([lnp.ones(2)], out=1), NotImplementedError, "out"),
    (lambda: lnp.split(lnp.arange(5), 3), ValueError, "equal division"),
    (lambda: lnp.split(lnp.arange(5), 0), ValueError, "larger than 0"),
    (lambda: lnp.split(lnp.asarray(1.0), 1), ValueError, "0-d"),
    (lambda: lnp.dsplit(lnp.ones((2, 2)), 2), ValueError, "dsplit"),
    (lambda: lnp.unstack(lnp.asarray(1.0)), ValueError, "unstack"),
    (lambda: lnp.tile(lnp.ones(2), -1), ValueError, "tile"),
    (lambda: lnp.repeat(lnp.arange(3), -1), ValueError, "negative"),
    (lambda: lnp.repeat(lnp.arange(3), [1, 2]), ValueError, "repeat"),
    (lambda: lnp.repeat(lnp.arange(3), 1.5), TypeError, "integers"),
    (lambda: lnp.broadcast_to(lnp.arange(3), (2, 4)), ValueError, r"incompatible.*\(3,\)"),
    (lambda: lnp.broadcast_to(lnp.ones((2, 3)), (3,)), ValueError, "fewer dimensions"),
    (lambda: lnp.broadcast_shapes((2, 1), (3, 4)), ValueError, "broadcast_shapes"),
    (lambda: lnp.broadcast_arrays(lnp.ones(2), lnp.ones(3)), ValueError, "broadcast_arrays"),
    (lambda: lnp.resize(lnp.ones(2), (-1,)), ValueError, "non-negative"),
    (lambda: lnp.flip(lnp.ones(2), 1), ValueError, "flip: axis 1"),
    (lambda: lnp.fliplr(lnp.ones(3)), ValueError, "2-d"),
    (lambda: lnp.flipud(lnp.asarray(1.0)), ValueError, "1-d"),
    (lambda: lnp.roll(lnp.ones((2, 2)), (1, 2, 3), axis=(0, 1)), ValueError, "same length"),
    (lambda: lnp.roll(lnp.ones(3), 1.5), TypeError, "integer"),
    (lambda: lnp.rot90(lnp.ones((2, 2)), 1, (0, 0)), ValueError, "different"),
    (lambda: lnp.rot90(lnp.ones(2)), ValueError, "two dimensions"),
    (lambda: lnp.rot90(lnp.ones((2, 2)), 1, (0,)), ValueError, "length 2"),
    (lambda: lnp.pad(lnp.ones(3), -1), ValueError, "negative"),
    (lambda: lnp.pad(lnp.ones(3), 1.5), TypeError, "integral"),
    (lambda: lnp.pad(lnp.ones(3), 1, mode="foo"), NotImplementedError, "'foo'"),
    (lambda: lnp.pad(lnp.ones(3), 1, mode="edge", constant_values=1), ValueError,
     "constant_values"),
    (lambda: lnp.pad(lnp.ones((2, 2)), ((1, 2, 3),)), ValueError, "pad_width"),
    (lambda: lnp.pad(lnp.ones(3), 1, constant_values=(1, 2, 3)), ValueError, "constant_values"),
    (lambda: lnp.pad(lnp.ones(3), 1, mode="reflect", reflect_type="x"), ValueError,
     "reflect_type"),
    (lambda: lnp.pad(lnp.ones(3), 1, mode="mean", stat_length=0), ValueError, "stat_length"),
    (lambda: lnp.pad(lnp.zeros((0, 2)), 1, mode="wrap"), ValueError, "empty axis"),
    (lambda: lnp.delete(lnp.arange(4), 4), IndexError, "out of bounds"),
    (lambda: lnp.delete(lnp.arange(4), np.array([True])), ValueError, "boolean"),
    (lambda: lnp.delete(lnp.arange(4), 1.5), ValueError, "integer or boolean"),
    (lambda: lnp.insert(lnp.arange(4), [[1]], 0), ValueError, "one-dimensional"),
    (lambda: lnp.insert(lnp.arange(4), 9, 0), IndexError, "out of bounds"),
    (lambda: lnp.insert(lnp.arange(4), 1.5, 0), ValueError, "integer typed"),
    (lambda: lnp.trim_zeros(lnp.ones((2, 2))), TypeError, "1-D"),
    (lambda: lnp.diagonal(lnp.ones(3)), ValueError, "two dimensions"),
    (lambda: lnp.diagonal(lnp.ones((2, 2)), 0, 1, -1), ValueError, "cannot be the same"),
    (lambda: lnp.block((lnp.ones(2),)), ValueError, "tuples"),
    (lambda: lnp.block([[lnp.ones(2)], lnp.ones(2)]), ValueError, "depths"),
    (lambda: lnp.block([]), ValueError, "empty"),
    (lambda: lnp.astype(lnp.ones(2), object), TypeError, "astype.*not supported"),
    (lambda: lnp.astype(lnp.ones(2), lnp.int8, device="cpu"), TypeError, "astype: device must be"),
    (lambda: lnp.reshape([1, 2], (2,)), TypeError, "asarray first"),
    (lambda: lnp.transpose(lnp.ones((2, 2)), (0, 1.5)), TypeError, "integer"),
    (lambda: lnp.squeeze(lnp.ones((1, 2)), axis=2), ValueError, "squeeze: axis 2"),
])
def test_errors_name_the_function(call, error, pattern):
    with pytest.raises(error, match=pattern):
        call()
