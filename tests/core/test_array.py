"""`lamina.Array` itself: metadata, host round trips, repr, Python protocols, operators
(dtype and weak type against jax), immutability, pickling, DLPack, pytree device
functions and deletion."""
import operator
import pickle

import ml_dtypes
import numpy as np
import pytest

import lamina
import lamina.numpy as lnp
from lamina.errors import DeletedArrayError
from lamina.testing import assert_array_close

jax = pytest.importorskip("jax")
jnp = jax.numpy

DTYPES = [np.bool_, np.int8, np.int16, np.int32, np.uint8, np.uint16, np.uint32,
          np.float16, ml_dtypes.bfloat16, np.float32, np.complex64]


def _host(shape, dtype):
    return (np.arange(int(np.prod(shape))).reshape(shape) % 3).astype(dtype)


# --------------------------------------------------------------------------------------
# Metadata and host round trips
# --------------------------------------------------------------------------------------


def test_metadata():
    x = lnp.zeros((2, 3), lnp.int16)
    assert isinstance(x, lamina.Array)
    assert x.shape == (2, 3) and x.ndim == 2 and x.size == 6
    assert x.dtype == np.dtype(np.int16) and x.itemsize == 2 and x.nbytes == 12
    assert x.weak_type is False
    assert x.device == lamina.devices()[0] and x.devices() == {lamina.devices()[0]}
    assert lnp.asarray(1.0).weak_type is True
    with pytest.raises(TypeError, match="cannot be constructed directly"):
        lamina.Array()


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("shape", [(), (0,), (2, 0, 3), (2, 3)])
def test_numpy_round_trip_every_dtype(dtype, shape):
    host = _host(shape, dtype)
    x = lnp.asarray(host)
    assert x.shape == shape and x.dtype == np.dtype(dtype) and not x.weak_type
    back = np.asarray(x)
    assert back.dtype == np.dtype(dtype) and back.shape == shape
    np.testing.assert_array_equal(back, host)
    np.testing.assert_array_equal(np.array(x, copy=True), host)
    wide = np.complex128 if np.dtype(dtype).kind == "c" else np.float64
    np.testing.assert_array_equal(np.asarray(x, dtype=wide), host.astype(wide))


def test_64_bit_host_data_is_canonicalised():
    assert lnp.asarray(np.arange(3, dtype=np.int64)).dtype == np.int32
    assert lnp.asarray(np.ones(2)).dtype == np.float32
    assert lnp.asarray(np.ones(2, np.complex128)).dtype == np.complex64


# --------------------------------------------------------------------------------------
# repr / str
# --------------------------------------------------------------------------------------

REPR_CASES = {
    "arange_float": lambda m: m.arange(3.0),
    "weak_float": lambda m: m.asarray(3.0),
    "weak_int": lambda m: m.asarray(3),
    "bool_scalar": lambda m: m.asarray(True),
    "bf16_matrix": lambda m: m.ones((2, 3), m.bfloat16),
    "complex": lambda m: m.asarray([1 + 2j, 3j], dtype=m.complex64),
    "matrix": lambda m: m.arange(12.0).reshape(3, 4),
    "long": lambda m: m.arange(2000),
    "f16_scalar": lambda m: m.asarray(np.float16(1.5)),
    "uint8": lambda m: m.asarray([1, 2], m.uint8),
}


@pytest.mark.parametrize("name", list(REPR_CASES))
def test_repr_and_str_match_jax(name):
    make = REPR_CASES[name]
    assert repr(make(lnp)) == repr(make(jnp))
    assert str(make(lnp)) == str(make(jnp))


@pytest.mark.parametrize("shape", [(0,), (0, 3)])
def test_repr_zero_size_matches_jax(shape):
    assert repr(lnp.zeros(shape)) == repr(jnp.zeros(shape))


def test_format():
    assert f"{lnp.asarray(2.5):.2f}" == "2.50"
    assert f"{lnp.arange(2)}" == "[0 1]"


# --------------------------------------------------------------------------------------
# Python protocols
# --------------------------------------------------------------------------------------


def test_item_tolist_block_until_ready_astype():
    x = lnp.arange(6).reshape(2, 3)
    assert x.tolist() == [[0, 1, 2], [3, 4, 5]]
    assert x.item(4) == 4 and lnp.asarray(2.5).item() == 2.5
    assert isinstance(lnp.asarray(2).item(), int)
    assert x.block_until_ready() is x
    y = x.astype(lnp.float16)
    assert y.dtype == np.float16 and not y.weak_type
    assert lnp.asarray(1.0).astype(float).weak_type is False


def test_len_iter_bool_float_int_index():
    x = lnp.arange(3)
    assert len(x) == 3
    assert [int(v) for v in x] == [0, 1, 2]
    assert all(isinstance(v, lamina.Array) and v.shape == () for v in x)
    assert bool(lnp.asarray(2)) is True and bool(lnp.asarray(0.0)) is False
    assert float(lnp.asarray(2.5)) == 2.5 and int(lnp.asarray(7.9)) == 7
    assert complex(lnp.asarray(1j)) == 1j
    assert operator.index(lnp.asarray(4)) == 4
    assert [10, 11, 12][lnp.asarray(1)] == 11
    with pytest.raises(TypeError, match="len"):
        len(lnp.asarray(1.0))
    with pytest.raises(TypeError, match="iteration over a 0-d"):
        iter(lnp.asarray(1.0))
    with pytest.raises(TypeError, match="integer"):
        operator.index(lnp.asarray(1.5))
    with pytest.raises(ValueError):
        bool(lnp.arange(3))
    with pytest.raises(TypeError, match="unhashable"):
        hash(lnp.arange(3))


def test_setitem_raises_and_names_at_set():
    x = lnp.arange(3)
    with pytest.raises(TypeError, match=r"\.at\[idx\]\.set"):
        x[0] = 5


def test_pickle_round_trip():
    for x in (lnp.arange(6.0).reshape(2, 3), lnp.asarray(2.0), lnp.ones(3, lnp.bfloat16),
              lnp.zeros((0, 2), lnp.int8)):
        y = pickle.loads(pickle.dumps(x))
        assert isinstance(y, lamina.Array)
        assert (y.shape, y.dtype, y.weak_type) == (x.shape, x.dtype, x.weak_type)
        np.testing.assert_array_equal(np.asarray(y), np.asarray(x))


@pytest.mark.parametrize("dtype", [np.float32, np.int32, np.uint8, np.bool_, np.complex64])
def test_dlpack_round_trip(dtype):
    x = lnp.asarray(_host((2, 3), dtype))
    y = np.from_dlpack(x)
    assert y.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(y, np.asarray(x))


# --------------------------------------------------------------------------------------
# Operators: dtype and weak type as jax, values as jax
# --------------------------------------------------------------------------------------

ARITH = {"add": operator.add, "sub": operator.sub, "mul": operator.mul,
         "truediv": operator.truediv, "floordiv": operator.floordiv, "mod": operator.mod,
         "pow": operator.pow}
BITWISE = {"and": operator.and_, "or": operator.or_, "xor": operator.xor,
           "lshift": operator.lshift, "rshift": operator.rshift}
COMPARE = {"eq": operator.eq, "ne": operator.ne, "lt": operator.lt, "le": operator.le,
           "gt": operator.gt, "ge": operator.ge}
BINARY = {**ARITH, **BITWISE, **COMPARE}

OTHERS = {
    "int": lambda: 2,
    "float": lambda: 2.5,
    "np_int8": lambda: np.array([1, 2, 1], np.int8),
}
X_DTYPES = [np.int32, np.float32, ml_dtypes.bfloat16]


def _apply(op, *args):
    try:
        return op(*args)
    except Exception as e:  # noqa: BLE001 - compared across libraries below
        return e


def _same_result(actual, expected, where):
    if isinstance(expected, Exception):
        assert isinstance(actual, Exception), f"{where}: jax raised {expected!r}, got {actual!r}"
        return
    assert not isinstance(actual, Exception), f"{where}: {actual!r}"
    assert isinstance(actual, lamina.Array), where
    assert actual.dtype == expected.dtype, (where, actual.dtype, expected.dtype)
    assert actual.weak_type == expected.weak_type, (where, actual.weak_type)
    tol = {np.dtype(ml_dtypes.bfloat16): 1e-2, np.dtype(np.float16): 1e-3}
    assert_array_close(actual, np.asarray(expected), rtol=tol, atol=tol, err_msg=where)


@pytest.mark.parametrize("op_name", list(BINARY))
def test_binary_operators_match_jax(op_name):
    op = BINARY[op_name]
    for dtype in X_DTYPES:
        host = np.array([1, 2, 3]).astype(dtype)
        x, jx = lnp.asarray(host), jnp.asarray(host)
        for other_name, make in OTHERS.items():
            where = f"{op_name} {np.dtype(dtype).name} {other_name}"
            _same_result(_apply(op, x, make()), _apply(op, jx, make()), where)
            _same_result(_apply(op, make(), x), _apply(op, make(), jx), "reflected " + where)


@pytest.mark.parametrize("op_name", ["add", "mul", "truediv", "lt", "and"])
def test_weak_arrays_and_bool_operands_match_jax(op_name):
    op = BINARY[op_name]
    cases = [
        (lambda m: m.asarray(2.0), lambda m: m.asarray([1, 2], m.bfloat16)),
        (lambda m: m.asarray(3), lambda m: m.asarray([1, 2], m.uint8)),
        (lambda m: m.asarray(3), lambda m: 2.5),
        (lambda m: m.asarray([True, False]), lambda m: m.asarray([True, True])),
        (lambda m: m.asarray([True, False]), lambda m: 1),
        (lambda m: m.asarray([1.0, 2.0]), lambda m: np.float16(2)),
        (lambda m: np.int8(3), lambda m: m.asarray([1, 2], m.int16)),
    ]
    for i, (a, b) in enumerate(cases):
        _same_result(_apply(op, a(lnp), b(lnp)), _apply(op, a(jnp), b(jnp)), f"{op_name} #{i}")


def test_matmul_and_divmod_match_jax():
    host = np.arange(1, 7, dtype=np.float32).reshape(2, 3)
    x, jx = lnp.asarray(host), jnp.asarray(host)
    _same_result(x @ x.T, jx @ jx.T, "matmul")
    _same_result(host.T @ x, host.T @ jx, "rmatmul")
    q, r = divmod(x, 4)
    jq, jr = divmod(jx, 4)
    _same_result(q, jq, "divmod q")
    _same_result(r, jr, "divmod r")
    q, r = divmod(7, lnp.asarray([2, 3]))
    jq, jr = divmod(7, jnp.asarray([2, 3]))
    _same_result(q, jq, "rdivmod q")
    _same_result(r, jr, "rdivmod r")


@pytest.mark.parametrize("dtype", [np.int32, np.uint8, np.float32, np.bool_])
def test_unary_operators_match_jax(dtype):
    host = np.array([1, 0, 3]).astype(dtype)
    x, jx = lnp.asarray(host), jnp.asarray(host)
    for name, op in {"neg": operator.neg, "pos": operator.pos, "abs": abs,
                     "invert": operator.invert}.items():
        _same_result(_apply(op, x), _apply(op, jx), f"{name} {np.dtype(dtype).name}")


def test_operator_defers_to_unknown_types():
    class Other:
        def __radd__(self, other):
            return "radd"

    assert lnp.arange(2) + Other() == "radd"


# --------------------------------------------------------------------------------------
# Pytree device functions, deletion
# --------------------------------------------------------------------------------------


def test_device_put_get_block_until_ready_on_pytrees():
    tree = {"a": np.arange(3, dtype=np.float32), "b": [1.5, (np.int8(2), None)]}
    put = lamina.device_put(tree)
    assert isinstance(put["a"], lamina.Array) and put["a"].dtype == np.float32
    assert isinstance(put["b"][0], lamina.Array) and put["b"][0].weak_type
    assert put["b"][1][0].dtype == np.int8 and put["b"][1][1] is None
    assert lamina.device_put(put["a"]) is put["a"]
    dev = lamina.devices()[0]
    assert lamina.device_put(np.ones(2), dev).device == dev
    got = lamina.device_get(put)
    assert isinstance(got["a"], np.ndarray) and got["a"].dtype == np.float32
    np.testing.assert_array_equal(got["a"], tree["a"])
    assert lamina.block_until_ready(put) is put
    with pytest.raises(TypeError, match="device_put"):
        lamina.device_put(np.ones(2), "cpu")


def test_delete_then_use_raises():
    x = lnp.arange(3.0)
    y = lnp.array(x)  # a copy survives the original's deletion
    x.delete()
    assert x.is_deleted()
    with pytest.raises(DeletedArrayError):
        np.asarray(x)
    with pytest.raises(DeletedArrayError):
        x + 1
    with pytest.raises(DeletedArrayError):
        x.block_until_ready()
    assert "deleted" in repr(x)
    np.testing.assert_array_equal(np.asarray(y), [0.0, 1.0, 2.0])


# --------------------------------------------------------------------------------------
# The eager dispatch fast path (`eval.eager_binary`): two concrete Arrays of one type
# --------------------------------------------------------------------------------------

FAST_OPS = {"add": operator.add, "sub": operator.sub, "mul": operator.mul,
            "truediv": operator.truediv}
FAST_FUNCTIONS = ["subtract", "true_divide", "maximum"]  # (and every operator above)
FAST_DTYPES = [np.bool_, np.int8, np.uint16, np.float16, ml_dtypes.bfloat16, np.float32,
               np.complex64]


def test_eager_fast_path_matches_jax_for_every_dtype():
    for dtype in FAST_DTYPES:
        host = (np.arange(3) % 2 + 1).astype(dtype)
        x, y = lnp.asarray(host), lnp.asarray(host[::-1].copy())
        jx, jy = jnp.asarray(host), jnp.asarray(host[::-1].copy())
        s, js = lnp.asarray(host[0]), jnp.asarray(host[0])  # 0-d: only lax's fast path
        cases = [(f"operator {n}", op, op, y, jy) for n, op in FAST_OPS.items()]
        cases += [(f"lnp.{n}", getattr(lnp, n), getattr(jnp, n), y, jy)
                  for n in FAST_FUNCTIONS]
        cases += [("operator mul 0-d", operator.mul, operator.mul, s, js),
                  ("lax.add", lamina.lax.add, jax.lax.add, y, jy),
                  ("lax.mul 0-d", lamina.lax.mul, jax.lax.mul, s, js)]
        for name, lop, jop, other, jother in cases:
            expected = _apply(jop, jx, jother)
            for attempt in ("first", "cached"):  # a miss, then a table hit
                where = f"{name} {np.dtype(dtype).name} ({attempt})"
                _same_result(_apply(lop, x, other), expected, where)


def test_eager_fast_path_weak_and_mixed_operands_match_jax():
    cases = [
        (lambda m: m.asarray(2.0) * 1, lambda m: m.asarray(3.0) * 1),  # both weak
        (lambda m: m.asarray(2.0) * 1, lambda m: m.asarray(3.0, m.float32)),
        (lambda m: m.asarray([1, 2], m.int8), lambda m: m.asarray([3, 4], m.int16)),
        (lambda m: m.asarray([1.0, 2.0], m.float16), lambda m: m.asarray([3.0, 4.0])),
        # Python scalars: fast where the promotion keeps the array's type
        (lambda m: m.asarray([1, 2]), lambda m: 2.5),
        (lambda m: 3, lambda m: m.asarray([1.5, 2.5])),
        (lambda m: m.asarray([1.5, 2.5]), lambda m: 2),
        (lambda m: 2.0, lambda m: m.asarray([1.5, 2.5], m.float16)),
        (lambda m: m.asarray([1, 2], m.int8), lambda m: 3),
        (lambda m: m.asarray(2.0) * 1, lambda m: 3.0),  # weak stays weak
        (lambda m: m.asarray([True, False]), lambda m: 1),
        (lambda m: m.asarray([1.0, 2.0], m.complex64), lambda m: 1j),
        (lambda m: m.asarray([1.0, 2.0]), lambda m: 1j),
        (lambda m: m.asarray([1.0, 2.0]), lambda m: True),
    ]
    for i, (a, b) in enumerate(cases):
        for name, op in FAST_OPS.items():
            expected = _apply(op, a(jnp), b(jnp))
            for attempt in range(2):
                _same_result(_apply(op, a(lnp), b(lnp)), expected, f"{name} #{i} ({attempt})")


def test_eager_fast_path_serves_repeated_ops_from_its_table(monkeypatch):
    from lamina.interpreters import eval as eval_interp
    from lamina.numpy import ufuncs
    x, y = lnp.arange(3.0), lnp.ones(3)
    expected = {n: op(np.arange(3.0, dtype=np.float32), np.float32(1)) for n, op in FAST_OPS.items()}
    for op in FAST_OPS.values():
        op(x, y)
    x * 2.0, 2.0 - x

    def fail(*args, **kwargs):
        raise AssertionError("the general path ran")

    monkeypatch.setattr(ufuncs, "_promote", fail)
    monkeypatch.setattr(eval_interp.EvalTrace, "process_primitive", fail)
    for name, op in FAST_OPS.items():
        np.testing.assert_array_equal(np.asarray(op(x, y)), expected[name])
    np.testing.assert_array_equal(np.asarray(x * 2.0), [0.0, 2.0, 4.0])
    np.testing.assert_array_equal(np.asarray(2.0 - x), [2.0, 1.0, 0.0])
    with pytest.raises(AssertionError, match="general path"):
        x + np.float32(1)  # a numpy scalar takes the general path


def test_eager_fast_path_checks_deleted_buffers():
    x, y = lnp.arange(3.0), lnp.ones(3)
    x * y, x * y
    y.delete()
    with pytest.raises(DeletedArrayError, match="deleted or donated"):
        x * y
    with pytest.raises(DeletedArrayError):
        lnp.multiply(x, y)
    with pytest.raises(DeletedArrayError):
        lamina.lax.mul(x, y)


def test_eager_fast_path_is_not_taken_while_tracing():
    w, v = lnp.arange(3.0), lnp.ones(3)
    w * v, w * v  # warm
    # Concrete Arrays combined under a trace are staged, not computed eagerly.
    assert "mul" in str(lamina.make_jaxpr(lambda a: w * v + a)(v))
    assert_array_close(lamina.grad(lambda a: (a * w).sum())(v), np.arange(3.0, dtype=np.float32))
    assert_array_close(lamina.vmap(lambda a: a * w)(lnp.ones((2, 3))),
                       np.tile(np.arange(3.0, dtype=np.float32), (2, 1)))
    assert_array_close(lamina.jit(lambda a: a - w)(v), 1 - np.arange(3.0, dtype=np.float32))
    with lamina.config.override(enable_x64=True):
        assert (w * v).dtype == np.float32
        assert (lnp.arange(3) + lnp.arange(3)).dtype == np.int64


def test_delete_after_a_host_read_and_with_a_live_view():
    a = lnp.arange(4.0)
    np.asarray(a)                  # a cached host view, no longer held by the caller
    a.delete()
    assert a.is_deleted()
    b = lnp.arange(4.0)
    view = np.asarray(b)[1:]       # the caller still holds a view of the data
    b.delete()                     # must not abort; the memory goes with the view
    assert b.is_deleted()
    np.testing.assert_array_equal(view, [1.0, 2.0, 3.0])
    with pytest.raises(lamina.errors.DeletedArrayError):
        b + 1
