"""lamina.lax shape/layout ops beyond the OpRecord table: error messages, weak types,
start-index handling of the dynamic slices, multi-output split, canonical params,
lowering, and jax.lax as the oracle for clamping and padding semantics."""
import os
import sys

import ml_dtypes
import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))
from records_structural import np_dynamic_slice, np_dynamic_update_slice, np_pad  # noqa: E402

from lamina import ir  # noqa: E402
from lamina.backend.array import Array, device_put_host  # noqa: E402
from lamina.interpreters import eval as eval_interp  # noqa: E402
from lamina.interpreters import lowering  # noqa: E402
from lamina.ir import AbstractArray  # noqa: E402
from lamina.lax import structural as S  # noqa: E402
from lamina.testing import assert_array_close  # noqa: E402

f32 = np.dtype(np.float32)
X23 = np.arange(6, dtype=np.float32).reshape(2, 3)


def dev(x, weak=False):
    return device_put_host(np.asarray(x), weak_type=weak)


# --------------------------------------------------------------------------------------
# Errors name lax.<fn> and the shapes
# --------------------------------------------------------------------------------------

ERROR_CASES = [
    # (callable, exception, fragments that must all appear in the message)
    (lambda: S.transpose(X23, (0, 0)), TypeError, ["lax.transpose", "(0, 0)", "f32[2,3]"]),
    (lambda: S.transpose(X23, (0,)), TypeError, ["lax.transpose", "f32[2,3]"]),
    (lambda: S.transpose(X23, (0, 2)), TypeError, ["lax.transpose", "(0, 2)", "f32[2,3]"]),
    (lambda: S.broadcast_in_dim(np.ones(3, np.float32), (2, 4), (1,)), TypeError,
     ["lax.broadcast_in_dim", "f32[3]", "(2, 4)", "size 3"]),
    (lambda: S.broadcast_in_dim(X23, (3, 2), (1, 0)), TypeError,
     ["lax.broadcast_in_dim", "strictly increasing", "(1, 0)", "f32[2,3]"]),
    (lambda: S.broadcast_in_dim(X23, (2, 3, 4), (0,)), TypeError,
     ["lax.broadcast_in_dim", "one entry per operand dimension", "f32[2,3]"]),
    (lambda: S.broadcast_in_dim(X23, (2, 3), (0, 2)), TypeError,
     ["lax.broadcast_in_dim", "out of range", "(2, 3)"]),
    (lambda: S.broadcast_in_dim(X23, (3,), (0,)), TypeError,
     ["lax.broadcast_in_dim", "lower rank", "f32[2,3]"]),
    (lambda: S.broadcast_in_dim(X23, (2, -3), (0, 1)), ValueError,
     ["lax.broadcast_in_dim", "negative"]),
    (lambda: S.reshape(X23, (4,)), TypeError,
     ["lax.reshape", "f32[2,3]", "6 elements", "(4,)"]),
    (lambda: S.reshape(X23, (6,), (0, 0)), TypeError, ["lax.reshape", "permutation"]),
    (lambda: S.squeeze(X23, (1,)), ValueError, ["lax.squeeze", "f32[2,3]", "size 1"]),
    (lambda: S.squeeze(X23, (2,)), ValueError, ["lax.squeeze", "out of range", "f32[2,3]"]),
    (lambda: S.expand_dims(X23, (0, 0)), ValueError, ["lax.expand_dims", "repeated"]),
    (lambda: S.expand_dims(X23, (3,)), ValueError, ["lax.expand_dims", "out of range"]),
    (lambda: S.rev(X23, (0, -2)), TypeError, ["lax.rev", "unique"]),
    (lambda: S.rev(X23, (2,)), TypeError, ["lax.rev", "out of range", "f32[2,3]"]),
    (lambda: S.slice(X23, (0, 0), (2, 4)), TypeError,
     ["lax.slice", "limit_indices", "(2, 3)", "f32[2,3]"]),
    (lambda: S.slice(X23, (1, 2), (1, 1)), TypeError, ["lax.slice", ">= start_indices"]),
    (lambda: S.slice(X23, (-1, 0), (1, 1)), TypeError, ["lax.slice", "non-negative"]),
    (lambda: S.slice(X23, (0,), (1,)), TypeError, ["lax.slice", "rank 2", "f32[2,3]"]),
    (lambda: S.slice(X23, (0, 0), (2, 3), (1, 0)), TypeError, ["lax.slice", "positive"]),
    (lambda: S.slice_in_dim(X23, 0, 1, axis=2), ValueError, ["lax.slice_in_dim", "axis 2"]),
    (lambda: S.index_in_dim(X23, 3, axis=1), IndexError,
     ["lax.index_in_dim", "index 3", "size 3"]),
    (lambda: S.dynamic_slice(X23, (0, 0), (3, 1)), TypeError,
     ["lax.dynamic_slice", "(3, 1)", "(2, 3)"]),
    (lambda: S.dynamic_slice(X23, (0,), (1, 1)), TypeError,
     ["lax.dynamic_slice", "1 start indices", "f32[2,3]"]),
    (lambda: S.dynamic_slice(X23, (0, 1.0), (1, 1)), TypeError,
     ["lax.dynamic_slice", "start index 1", "integer scalar"]),
    (lambda: S.dynamic_slice(X23, (0, dev(1.0)), (1, 1)), TypeError,
     ["lax.dynamic_slice", "start index 1", "f32[]"]),
    (lambda: S.dynamic_slice(X23, (0, True), (1, 1)), TypeError,
     ["lax.dynamic_slice", "start index 1"]),
    (lambda: S.dynamic_slice(X23, np.zeros((2, 1), np.int32), (1, 1)), TypeError,
     ["lax.dynamic_slice", "1-D"]),
    (lambda: S.dynamic_slice(X23, (0, -1), (1, 1), allow_negative_indices=False), ValueError,
     ["lax.dynamic_slice", "negative"]),
    (lambda: S.dynamic_update_slice(X23, np.ones((1, 1), np.int32), (0, 0)), TypeError,
     ["lax.dynamic_update_slice", "same dtype", "f32[2,3]", "i32[1,1]"]),
    (lambda: S.dynamic_update_slice(X23, np.ones(3, np.float32), (0, 0)), TypeError,
     ["lax.dynamic_update_slice", "same rank", "f32[3]", "f32[2,3]"]),
    (lambda: S.dynamic_update_slice(X23, np.ones((3, 1), np.float32), (0, 0)), TypeError,
     ["lax.dynamic_update_slice", "larger", "f32[3,1]", "f32[2,3]"]),
    (lambda: S.dynamic_update_slice(X23, 1.0, (0, 0)), TypeError,
     ["lax.dynamic_update_slice", "same rank"]),
    (lambda: S.dynamic_update_index_in_dim(X23, np.ones((1, 1, 1), np.float32), 0, 0),
     TypeError, ["lax.dynamic_update_index_in_dim", "f32[1,1,1]"]),
    (lambda: S.concatenate([X23, X23.astype(np.int32)], 0), TypeError,
     ["lax.concatenate", "same dtypes", "f32[2,3]", "i32[2,3]"]),
    (lambda: S.concatenate([X23, np.ones((2, 2), np.float32)], 0), TypeError,
     ["lax.concatenate", "except along dimension 0", "f32[2,3]", "f32[2,2]"]),
    (lambda: S.concatenate([X23, np.ones(3, np.float32)], 0), TypeError,
     ["lax.concatenate", "different ranks", "f32[2,3]", "f32[3]"]),
    (lambda: S.concatenate([X23, X23], 2), TypeError,
     ["lax.concatenate", "dimension 2", "out of range"]),
    (lambda: S.concatenate([np.float32(1), np.float32(2)], 0), TypeError,
     ["lax.concatenate", "f32[]", "rank 0"]),
    (lambda: S.concatenate([], 0), ValueError, ["lax.concatenate", "non-empty"]),
    (lambda: S.concatenate(3, 0), TypeError, ["lax.concatenate", "sequence", "int"]),
    (lambda: S.concatenate(dev(np.float32(3)), 0), TypeError, ["lax.concatenate", "f32[]"]),
    (lambda: S.pad(X23, np.int32(0), [(0, 0, 0)] * 2), TypeError,
     ["lax.pad", "same dtype", "f32[2,3]", "i32[]"]),
    (lambda: S.pad(X23.astype(np.int32), 1.5, [(0, 0, 0)] * 2), TypeError,
     ["lax.pad", "same dtypes", "1.5"]),
    (lambda: S.pad(X23, np.zeros(2, np.float32), [(0, 0, 0)] * 2), TypeError,
     ["lax.pad", "scalar", "f32[2]"]),
    (lambda: S.pad(X23, 0.0, [(0, 0, 0)]), ValueError, ["lax.pad", "f32[2,3]", "per dimension"]),
    (lambda: S.pad(X23, 0.0, [(0, 0, -1), (0, 0, 0)]), ValueError, ["lax.pad", "interior"]),
    (lambda: S.pad(X23, 0.0, [(-2, -1, 0), (0, 0, 0)]), ValueError,
     ["lax.pad", "f32[2,3]", "(-1, 3)"]),
    (lambda: S.pad(X23, 0.0, [(0, 0), (0, 0)]), TypeError, ["lax.pad", "triples"]),
    (lambda: S.iota(np.bool_, 3), TypeError, ["lax.iota", "bool"]),
    (lambda: S.broadcasted_iota(np.int32, (2, 3), 2), ValueError,
     ["lax.iota", "dimension 2", "(2, 3)"]),
    (lambda: S.iota(np.int32, -1), ValueError, ["lax.broadcasted_iota", "negative"]),
    (lambda: S.iota("object", 3), TypeError, ["lax.broadcasted_iota", "object"]),
    (lambda: S.split(X23, (1, 1), 1), ValueError, ["lax.split", "sum to 2", "f32[2,3]"]),
    (lambda: S.split(X23, (-1, 4), 1), ValueError, ["lax.split", "non-negative"]),
    (lambda: S.split(X23, (3,), 2), ValueError, ["lax.split", "axis 2", "f32[2,3]"]),
    (lambda: S.full((2,), np.ones(2)), TypeError, ["lax.full", "scalar"]),
    (lambda: S.full((2,), [1]), TypeError, ["lax.full", "fill_value"]),
    (lambda: S.full((2,), dev(np.ones(2, np.float32))), TypeError, ["lax.full", "f32[2]"]),
    (lambda: S.full((2,), 1, "object"), TypeError, ["lax.full", "object"]),
    (lambda: S.reshape([1, 2], (2,)), TypeError, ["lax.reshape", "operand", "list"]),
    (lambda: S.transpose(X23, (0, 1.5)), TypeError, ["lax.transpose", "permutation"]),
    (lambda: S.broadcast_to_rank(X23, 1), ValueError, ["lax.broadcast_to_rank", "f32[2,3]"]),
    (lambda: S.collapse(X23, 2, 1), ValueError, ["lax.collapse", "f32[2,3]"]),
]


@pytest.mark.parametrize("case", ERROR_CASES, ids=[str(i) for i in range(len(ERROR_CASES))])
def test_errors_name_the_function_and_shapes(case):
    fn, exc, fragments = case
    with pytest.raises(exc) as info:
        fn()
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, (fragment, message)


def test_abstract_eval_rules_validate_on_their_own():
    """The typechecker re-runs abstract eval, so rules must reject bad params even when
    a wrapper is bypassed."""
    a = AbstractArray((3,), f32)
    with pytest.raises(TypeError, match=r"lax\.broadcast_in_dim.*f32\[3\]"):
        S.broadcast_in_dim_p.abstract_eval(a, shape=(2, 4), broadcast_dimensions=(1,))
    with pytest.raises(TypeError, match=r"lax\.transpose"):
        S.transpose_p.abstract_eval(a, permutation=(1,))
    with pytest.raises(TypeError, match=r"lax\.dynamic_slice.*share one integer dtype"):
        S.dynamic_slice_p.abstract_eval(AbstractArray((3, 3), f32), AbstractArray((), np.int8),
                                        AbstractArray((), np.int32), slice_sizes=(1, 1))
    with pytest.raises(TypeError, match=r"lax\.dynamic_update_slice.*integer scalars"):
        S.dynamic_update_slice_p.abstract_eval(a, a, AbstractArray((1,), np.int32))
    with pytest.raises(TypeError, match=r"lax\.concatenate.*at least one"):
        S.concatenate_p.abstract_eval(dimension=0)


# --------------------------------------------------------------------------------------
# Weak types, dtypes and no-op shortcuts
# --------------------------------------------------------------------------------------


def test_weak_types_follow_jax():
    weak = S.full((3,), 1.0)
    assert weak.weak_type and weak.dtype == f32
    assert not S.full((3,), 1.0, np.float32).weak_type
    assert not S.full((3,), np.float32(1.0)).weak_type
    assert not S.full((3,), True).weak_type
    assert S.full((2,), 1).dtype == np.int32 and S.full((2,), 1).weak_type
    assert S.full_like(weak, 2).weak_type
    assert not S.full_like(weak, 2, np.float32).weak_type
    assert not S.full_like(X23, 2).weak_type
    assert S.zeros_like_array(1.0).weak_type and S.zeros_like_array(1.0).shape == ()
    assert S.broadcast_in_dim(weak, (2, 3), (1,)).weak_type
    assert S.reshape(weak, (3, 1)).weak_type and S.rev(weak, (0,)).weak_type
    assert S.slice(weak, (1,), (3,)).weak_type and S.split(weak, (1, 2))[1].weak_type
    assert S.dynamic_slice(weak, (1,), (2,)).weak_type
    # NOTE: jax's rule for the rest: weak only if every operand is (indices included).
    assert S.pad(weak, 0.0, [(1, 1, 0)]).weak_type
    assert not S.pad(weak, np.float32(0), [(1, 1, 0)]).weak_type
    assert S.concatenate([weak, weak], 0).weak_type
    assert not S.concatenate([weak, np.ones(2, np.float32)], 0).weak_type
    assert not S.dynamic_update_slice(weak, weak, (0,)).weak_type
    assert not S.iota(np.float32, 3).weak_type


def test_python_scalar_padding_value_adopts_operand_dtype():
    x = np.arange(3, dtype=ml_dtypes.bfloat16)
    out = S.pad(x, 1.5, [(1, 0, 0)])
    assert out.dtype == x.dtype and not out.weak_type
    np.testing.assert_array_equal(np.asarray(out).astype(np.float32), [1.5, 0, 1, 2])
    out = S.pad(np.arange(3, dtype=np.uint8), 7, [(0, 1, 0)])
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(np.asarray(out), [0, 1, 2, 7])
    out = S.dynamic_update_slice(np.zeros((), np.int8), 5, ())
    assert out.dtype == np.int8 and int(out) == 5


def test_full_converts_fill_value():
    np.testing.assert_array_equal(np.asarray(S.full((2,), 2.7, np.int32)), [2, 2])
    np.testing.assert_array_equal(np.asarray(S.full((2,), 2.5, np.bool_)), [True, True])
    x = S.full((2, 1), dev(np.float32(2.5)), np.int32)
    assert x.dtype == np.int32 and x.shape == (2, 1)
    np.testing.assert_array_equal(np.asarray(x), [[2], [2]])
    with pytest.warns(np.exceptions.ComplexWarning):
        y = S.full((1,), 1 + 2j, np.float32)
    np.testing.assert_array_equal(np.asarray(y), [1.0])
    assert S.full((), 3, ml_dtypes.bfloat16).dtype == ml_dtypes.bfloat16
    z = S.full_like(np.zeros((2, 2), np.int8), 1.9, shape=(3,))
    assert z.dtype == np.int8 and z.shape == (3,)


def test_noop_calls_return_the_operand():
    x = dev(X23)
    assert S.reshape(x, (2, 3)) is x
    assert S.transpose(x, (0, 1)) is x
    assert S.squeeze(x, ()) is x
    assert S.broadcast_in_dim(x, (2, 3), (0, 1)) is x
    assert S.concatenate([x], 1) is x
    assert S.expand_dims(x, ()) is x
    assert S.broadcast(x, ()) is x


def test_every_dtype_through_every_primitive():
    """bool, ints, floats (bf16, f16) and complex through each lowering once, 2-D."""
    for dtype in [np.bool_, np.int8, np.uint16, np.float16, ml_dtypes.bfloat16,
                  np.complex64]:
        x = (np.arange(6).reshape(2, 3) % 3).astype(dtype)
        checks = [
            (S.transpose(x, (1, 0)), x.T),
            (S.reshape(x, (3, 2), (1, 0)), x.T.reshape(3, 2)),
            (S.rev(x, (1,)), x[:, ::-1]),
            (S.dynamic_update_slice(x, x[:1, :2], (1, 1)),
             np_dynamic_update_slice(x, x[:1, :2], (1, 1))),
            (S.pad(x, x[0, 0], [(1, 0, 1), (0, 1, 0)]),
             np_pad(x, x[0, 0], [(1, 0, 1), (0, 1, 0)])),
            (S.split(x, (2, 1), 1)[0], x[:, :2]),
        ]
        for actual, desired in checks:
            assert_array_close(actual, desired, err_msg=str(np.dtype(dtype)))


# --------------------------------------------------------------------------------------
# Start indices of the dynamic slices
# --------------------------------------------------------------------------------------


def test_dynamic_slice_array_indices():
    x = np.arange(20, dtype=np.float32).reshape(4, 5)
    for starts in [(dev(np.int32(1)), dev(np.int32(-2))),
                   (dev(np.uint8(3)), 1),
                   (dev(np.int8(-1)), np.int16(2)),          # mixed widths: promoted to i16
                   (dev(np.int8(1)), 300),                   # 300 does not fit int8: widened
                   (dev(np.int16(-9)), dev(np.uint8(200))),  # clamped after wrapping
                   (np.int64(2), np.uint32(1))]:
        host = [int(np.asarray(s)) for s in starts]
        assert_array_close(S.dynamic_slice(x, starts, (2, 3)),
                           np_dynamic_slice(x, host, (2, 3)), err_msg=str(host))


def test_dynamic_slice_index_arrays():
    x = np.arange(20, dtype=np.int32).reshape(4, 5)
    np.testing.assert_array_equal(S.dynamic_slice(x, np.array([1, -1]), (2, 2)),
                                  np_dynamic_slice(x, (1, -1), (2, 2)))
    np.testing.assert_array_equal(S.dynamic_slice(x, dev(np.int32([3, 1])), (2, 2)),
                                  np_dynamic_slice(x, (3, 1), (2, 2)))
    np.testing.assert_array_equal(
        S.dynamic_update_slice(x, np.zeros((1, 2), np.int32), dev(np.int32([-1, -1]))),
        np_dynamic_update_slice(x, np.zeros((1, 2), np.int32), (-1, -1)))


def test_dynamic_update_slice_array_indices():
    x = np.zeros((3, 4), np.float32)
    u = np.ones((2, 2), np.float32)
    for starts in [(dev(np.int32(-1)), dev(np.int32(1))), (dev(np.uint16(1)), -1)]:
        host = [int(np.asarray(s)) for s in starts]
        assert_array_close(S.dynamic_update_slice(x, u, starts),
                           np_dynamic_update_slice(x, u, host))


def test_allow_negative_indices_false_keeps_traced_index():
    # Without wrapping, XLA clamps -1 to 0 (jax's documented behaviour).
    x = np.arange(5, dtype=np.int32)
    out = S.dynamic_slice(x, (dev(np.int32(-1)),), (2,), allow_negative_indices=False)
    np.testing.assert_array_equal(np.asarray(out), [0, 1])
    out = S.dynamic_slice_in_dim(x, dev(np.int32(-1)), 2, allow_negative_indices=False)
    np.testing.assert_array_equal(np.asarray(out), [0, 1])


def test_start_index_operands_share_one_dtype():
    seen = []

    class Recorder(ir.Trace):
        def process_primitive(self, primitive, args, params):
            if primitive in (S.dynamic_slice_p, S.dynamic_update_slice_p):
                seen.append(tuple(ir.shaped_abstractify(a).dtype for a in args))
            with ir.set_current_trace(eval_interp.eval_trace):
                return primitive.bind(*args, **params)

    x = np.zeros((4, 4, 4), np.float32)
    with ir.set_current_trace(Recorder()):
        S.dynamic_slice(x, (np.int8(1), 2, np.int16(3)), (1, 1, 1))
        S.dynamic_slice(x, (1, 2, 3), (1, 1, 1))
        S.dynamic_update_slice(x, x[:1], (dev(np.uint8(1)), 0, 0))
    assert seen[0][1:] == (np.dtype(np.int16),) * 3
    assert seen[1][1:] == (np.dtype(np.int32),) * 3
    assert seen[2][2:] == (np.dtype(np.uint8),) * 3


# --------------------------------------------------------------------------------------
# Params are canonical and hashable; lowering
# --------------------------------------------------------------------------------------


def test_params_are_canonical_tuples():
    recorded = []

    class Recorder(ir.Trace):
        def process_primitive(self, primitive, args, params):
            recorded.append((primitive, params))
            with ir.set_current_trace(eval_interp.eval_trace):
                return primitive.bind(*args, **params)

    x = np.zeros((2, 1, 3), np.float32)
    with ir.set_current_trace(Recorder()):
        S.broadcast_in_dim(x, [4, 2, 1, 3], np.array([1, 2, 3]))
        S.reshape(x, [3, 2], [2, 0, 1])
        S.transpose(x, [-1, 0, 1])
        S.squeeze(x, [-2])
        S.rev(x, [0])
        S.slice(x, [0, 0, 0], [2, 1, 3], [1, 1, 1])
        S.dynamic_slice(x, [0, 0, 0], [1, 1, 1])
        S.concatenate([x, x], -1)
        S.pad(x, 0.0, [[1, 1, 0], [0, 0, 0], (0, 0, 1)])
        S.broadcasted_iota("float32", [2, 3], -1)
        S.split(x, [1, 2], -1)
    for primitive, params in recorded:
        hash(tuple(params.items()))
        for value in params.values():
            assert value is None or isinstance(value, (tuple, int, np.dtype)), (primitive, params)
    by_name = {p.name: params for p, params in recorded}
    assert by_name["broadcast_in_dim"] == {"shape": (4, 2, 1, 3), "broadcast_dimensions": (1, 2, 3)}
    assert by_name["transpose"] == {"permutation": (2, 0, 1)}
    assert by_name["squeeze"] == {"dimensions": (1,)}
    assert by_name["slice"]["strides"] is None
    assert by_name["concatenate"] == {"dimension": 2}
    assert by_name["pad"] == {"padding_config": ((1, 1, 0), (0, 0, 0), (0, 0, 1))}
    assert by_name["iota"] == {"dtype": np.dtype(np.float32), "shape": (2, 3), "dimension": 1}
    assert by_name["split"] == {"sizes": (1, 2), "axis": 2}


def _lowered(primitive, avals, **params):
    program = eval_interp.single_primitive_program(primitive, avals, params)
    return lowering.lower_program(program)


def test_lowering_ops():
    a = AbstractArray((2, 3, 4), f32)
    text = _lowered(S.reshape_p, [a], new_sizes=(12, 2), dimensions=(2, 0, 1))
    assert "stablehlo.transpose" in text and "stablehlo.reshape" in text
    assert "stablehlo.reshape" in _lowered(S.squeeze_p, [AbstractArray((1, 3), f32)],
                                           dimensions=(0,))
    i32 = AbstractArray((), np.int32)
    text = _lowered(S.dynamic_slice_p, [a, i32, i32, i32], slice_sizes=(1, 2, 3))
    assert "stablehlo.dynamic_slice" in text and "slice_sizes = array<i64: 1, 2, 3>" in text
    text = _lowered(S.split_p, [a], sizes=(1, 3), axis=2)
    assert text.count("stablehlo.slice") == 2


# --------------------------------------------------------------------------------------
# Multi-output split and jax as the oracle for clamping/padding
# --------------------------------------------------------------------------------------


def test_concatenate_of_an_array_joins_its_rows():
    x = np.arange(24, dtype=np.int32).reshape(2, 3, 4)
    np.testing.assert_array_equal(np.asarray(S.concatenate(x, 1)), np.concatenate(list(x), 1))
    np.testing.assert_array_equal(np.asarray(S.concatenate(dev(x), 0)), x.reshape(6, 4))


def test_wrapped_traced_index_widens_a_narrow_index_dtype():
    x = np.arange(300, dtype=np.float32)
    out = S.dynamic_slice(x, (dev(np.int8(-1)),), (1,))  # -1 + 300 does not fit int8
    np.testing.assert_array_equal(np.asarray(out), [299.0])


def test_split_returns_every_piece():
    x = np.arange(24, dtype=np.int16).reshape(4, 6)
    pieces = S.split(x, (0, 2, 4), axis=1)
    assert isinstance(pieces, list) and len(pieces) == 3
    for actual, desired in zip(pieces, np.split(x, [0, 2], axis=1)):
        assert isinstance(actual, Array)
        np.testing.assert_array_equal(np.asarray(actual), desired)


def test_matches_jax_on_clamping_and_padding():
    jax = pytest.importorskip("jax")
    lax = jax.lax
    x = np.arange(30, dtype=np.float32).reshape(5, 6)
    for starts in [(-7, 9), (2, -1), (4, 4), (-1, -6), (0, 100)]:
        assert_array_close(S.dynamic_slice(x, starts, (2, 3)),
                           np.asarray(lax.dynamic_slice(x, starts, (2, 3))), err_msg=str(starts))
        jax_idx = tuple(np.int32(s) for s in starts)
        assert_array_close(
            S.dynamic_slice(x, tuple(dev(np.int32(s)) for s in starts), (2, 3)),
            np.asarray(lax.dynamic_slice(x, jax_idx, (2, 3))), err_msg=str(starts))
        u = -np.ones((3, 2), np.float32)
        assert_array_close(S.dynamic_update_slice(x, u, starts),
                           np.asarray(lax.dynamic_update_slice(x, u, starts)),
                           err_msg=str(starts))
    for config in [[(2, -3, 1), (-1, -1, 2)], [(-4, 0, 0), (1, 1, 3)], [(0, 0, 0), (-6, 2, 0)]]:
        assert_array_close(S.pad(x, np.float32(-1), config),
                           np.asarray(lax.pad(x, np.float32(-1), config)), err_msg=str(config))
    assert_array_close(S.reshape(x, (3, 10), (1, 0)), np.asarray(lax.reshape(x, (3, 10), (1, 0))))
    assert_array_close(S.collapse(x[None], 0, 2), np.asarray(lax.collapse(x[None], 0, 2)))
    assert_array_close(S.broadcasted_iota(np.int32, (2, 3), 0),
                       np.asarray(lax.broadcasted_iota(np.int32, (2, 3), 0)))
