"""lamina.numpy indexing (`x[idx]`, `x.at[idx]`) and the index/set functions, against
numpy (values) and jax.numpy (out-of-bounds modes, duplicate-index semantics, dtypes)."""
import os
import sys
import warnings

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))
from op_records import ALL, rand_default  # noqa: E402

import lamina  # noqa: E402
import lamina.numpy as lnp  # noqa: E402
from lamina.errors import ConcretizationError  # noqa: E402
from lamina.ir import Trace, Tracer, set_current_trace, shaped_abstractify  # noqa: E402
from lamina.numpy._util import asarray  # noqa: E402
from lamina.testing import assert_array_close  # noqa: E402

XN = np.arange(60, dtype=np.float32).reshape(3, 4, 5)
I = np.array  # noqa: E741


def dev(x):
    return asarray(np.asarray(x))


def to_device_index(idx):
    """The same index with every numpy array replaced by a lamina array."""
    if isinstance(idx, tuple):
        return tuple(to_device_index(i) for i in idx)
    if isinstance(idx, np.ndarray):
        return dev(idx)
    return idx


# --------------------------------------------------------------------------------------
# A tracer without values, to check what needs concrete values (jit arrives later).
# --------------------------------------------------------------------------------------


class AbstractTracer(Tracer):
    __slots__ = ("_aval",)

    def __init__(self, trace, aval):
        self._trace = trace
        self._aval = aval

    @property
    def aval(self):
        return self._aval


class AbstractTrace(Trace):
    """Runs abstract evaluation only: every result is a tracer with an aval."""

    def process_primitive(self, primitive, args, params):
        out = primitive.abstract_eval(*[shaped_abstractify(a) for a in args], **params)
        if primitive.multiple_results:
            return [AbstractTracer(self, o) for o in out]
        return AbstractTracer(self, out)


def traced(fn, *args):
    """Run fn on tracers of args' avals; return the output avals."""
    trace = AbstractTrace()
    tracers = [AbstractTracer(trace, shaped_abstractify(asarray(a))) for a in args]
    with set_current_trace(trace):
        out = fn(*tracers)
    leaves = out if isinstance(out, (tuple, list)) else [out]
    return [leaf.aval for leaf in leaves]


# --------------------------------------------------------------------------------------
# x[idx] over a table of index expressions
# --------------------------------------------------------------------------------------

MASK0 = I([True, False, True])
MASK_LAST = I([True, False, False, True, True])
MASK01 = (XN[..., 0] % 3) == 0
MASK_ALL = XN > 30

INDEX_EXPRESSIONS = [
    # basic: ints, negative ints, slices with steps, None, Ellipsis
    0, -1, 2, (1, 2), (-1, -2, -3), (0, 0, 0), (2, -1),
    slice(None), slice(1, None), slice(None, -1), slice(None, None, 2),
    slice(None, None, -1), slice(2, 0, -1), slice(-1, None, -2), slice(5, 10), slice(3, 1),
    (slice(None), 1), (slice(None), slice(1, 3), 4), (Ellipsis, 2), (Ellipsis,),
    (0, Ellipsis), (0, Ellipsis, 1), (None,), (None, 0), (slice(None), None, 1),
    (Ellipsis, None), (None, Ellipsis, None), (1, None, slice(None, None, -2), None),
    (slice(1, 3), slice(None, None, -2), slice(0, 5, 3)), (slice(None, None, -3), -2),
    (I(1),), (I(-1), slice(1, 3)), (slice(None), I(2), I(-1)),
    # advanced: integer arrays, broadcasting, separated by slices
    I([0, 2]), I([-1, 0, 1]), I([[0, 1], [2, 0]]), (I([0, 2]), I([1, 3])),
    (I([0, 2]), slice(None), I([1, 3])), (slice(None), I([0, 3])),
    (slice(None), I([[0], [3]]), I([1, 2, 4])), (I([0, 1]), 1), (1, I([0, 1])),
    (I([0, 1]), slice(None), 2), (1, slice(None), I([0, 4])), (Ellipsis, I([0, -1])),
    (None, I([0, 2])), (I([0, 2]), None, I([1, 1])), (I([2, 0, 2]),),
    (slice(None, None, -1), I([0, 2])), (I([[0], [1]]), I([[0, 1, 2]])),
    (I([0, 2]), Ellipsis, I([-1, 0])), (slice(1, None), I([3, 0]), slice(None, None, 2)),
    (I([], dtype=np.int32),), (slice(None), I([], dtype=np.int32)),
    ([0, 2], slice(None)), (slice(None), [1, -1], [0, 4]),
    # boolean masks (concrete), alone and mixed
    MASK0, MASK01, MASK_ALL, (slice(None), I([True, False, True, False])),
    (Ellipsis, MASK_LAST), (MASK0, I([1, 3])), (MASK0, slice(None), 0), (1, MASK01[0]),
    (I([False, False, False]),),
    # scalar booleans
    True, False, (0, True), (Ellipsis, False), (True, I([0, 1])),
]


@pytest.mark.parametrize("device_arrays", [False, True], ids=["numpy-idx", "lamina-idx"])
@pytest.mark.parametrize("idx", INDEX_EXPRESSIONS,
                         ids=[str(i) for i in range(len(INDEX_EXPRESSIONS))])
def test_getitem_matches_numpy(idx, device_arrays):
    x = dev(XN)
    expected = XN[idx]
    actual = x[to_device_index(idx) if device_arrays else idx]
    assert_array_close(actual, expected)


@pytest.mark.parametrize("dtype", ALL, ids=[d.name for d in ALL])
def test_getitem_dtypes(dtype, rng):
    xn = rand_default(rng, (3, 4), dtype)
    x = dev(xn)
    for idx in [(1, slice(None, None, -1)), (I([0, 2]), I([3, 1])), xn != xn[0, 0]]:
        assert_array_close(x[idx], xn[idx])


def test_getitem_zero_size_and_scalar_arrays():
    x = dev(np.zeros((0, 3), np.float32))
    assert x[:, 1].shape == (0,)
    assert x[I([], dtype=np.int32)].shape == (0, 3)
    s = dev(np.float32(3.0))
    assert_array_close(s[()], np.float32(3.0))
    assert s[None].shape == (1,)
    assert s[...].shape == ()


def test_basic_indexing_emits_no_gather(monkeypatch):
    from lamina import lax
    calls = []
    monkeypatch.setattr(lax, "gather", lambda *a, **k: calls.append(a) or None)
    x = dev(XN)
    x[1, ::-2, None, 1:3]
    x[..., 0]
    x[dev(np.int32(1)), 2]
    assert not calls


def test_getitem_keeps_weak_type():
    x = asarray(np.float32(2.0))
    w = lamina.lax.broadcast_in_dim(asarray(2.0), (3,), ())
    assert w.weak_type and not x.weak_type
    assert w[1].weak_type and w[I([0, 2])].weak_type


def test_getitem_errors():
    x = dev(XN)
    with pytest.raises(IndexError, match="index 3 is out of bounds for axis 0 with size 3"):
        x[3]
    with pytest.raises(IndexError, match="index -6 is out of bounds for axis 2 with size 5"):
        x[0, 0, -6]
    with pytest.raises(IndexError, match="axis 1 with size 4"):
        x[:, 4, I([0])]
    with pytest.raises(IndexError, match="Too many indices"):
        x[0, 0, 0, 0]
    with pytest.raises(IndexError, match="single ellipsis"):
        x[..., 0, ...]
    with pytest.raises(TypeError, match="integer or boolean type.*float"):
        x[1.0]
    with pytest.raises(TypeError, match="integer or boolean type.*float32"):
        x[dev(np.float32(1))]
    with pytest.raises(TypeError, match="non-tuple sequence"):
        x[[0, 1]]
    with pytest.raises(TypeError, match="string indexing"):
        x["a"]
    with pytest.raises(IndexError, match="boolean index did not match"):
        x[I([True, False])]
    with pytest.raises(IndexError, match="shape mismatch"):
        x[I([0, 1]), I([0, 1, 2])]
    with pytest.raises(IndexError, match="valid indices"):
        x[object()]
    with pytest.raises(TypeError, match="immutable.*at\\[idx\\].set"):
        x[0] = 1.0


def test_traced_indices():
    # A traced boolean mask cannot define a shape.
    with pytest.raises(ConcretizationError, match="boolean indices must be concrete.*where"):
        traced(lambda x, m: x[m], XN, XN > 3)
    # Traced integer arrays and scalars are fine (gather / dynamic_slice).
    (out,) = traced(lambda x, i: x[i, 1:3], XN, I([0, 2]))
    assert out.shape == (2, 2, 5)
    (out,) = traced(lambda x, i: x[:, i], XN, np.int32(1))
    assert out.shape == (3, 5)
    with pytest.raises(ConcretizationError, match="Slice entries must be static"):
        traced(lambda x, i: x[i:], XN, np.int32(1))
    # Updates, take and searchsorted on tracers need no values.
    (out,) = traced(lambda x, i: x.at[i, ::2].add(1.0), XN, I([0, 2]))
    assert out.shape == XN.shape
    (out,) = traced(lambda x, i: lnp.take_along_axis(x, i, 1), XN, np.zeros((3, 2, 5), np.int32))
    assert out.shape == (3, 2, 5)
    (out,) = traced(lambda a, v: lnp.searchsorted(a, v), np.arange(5.0), np.ones(3))
    assert out.shape == (3,)
    with pytest.raises(ConcretizationError, match="mode='raise'"):
        traced(lambda i: lnp.choose(i, [np.ones(3), np.zeros(3)]), np.zeros(3, np.int32))


# --------------------------------------------------------------------------------------
# x.at[idx].get(mode=...) and out-of-bounds behaviour vs jax
# --------------------------------------------------------------------------------------

OOB_INDICES = [I([0, 5, -7]), (slice(None), I([4, -1])), 7, (I([1, 3]), 2)]


@pytest.mark.parametrize("mode", [None, "clip", "fill", "promise_in_bounds"])
@pytest.mark.parametrize("k", range(len(OOB_INDICES)))
def test_get_modes_match_jax(mode, k):
    import jax.numpy as jnp
    idx = OOB_INDICES[k]
    xn = np.arange(12, dtype=np.float32).reshape(3, 4)
    if isinstance(idx, int) and mode in (None, "promise_in_bounds"):
        with pytest.raises(IndexError):
            dev(xn).at[idx].get(mode=mode)
        return
    expected = jnp.asarray(xn).at[idx].get(mode=mode)
    assert_array_close(dev(xn).at[idx].get(mode=mode), np.asarray(expected))
    if mode == "fill":
        expected = jnp.asarray(xn).at[idx].get(mode=mode, fill_value=-1)
        assert_array_close(dev(xn).at[idx].get(mode=mode, fill_value=-1), np.asarray(expected))


def test_get_fill_default_per_dtype():
    for dtype, fill in [(np.int32, np.iinfo(np.int32).min), (np.uint8, 255), (np.bool_, True)]:
        x = dev(np.zeros(3, dtype))
        out = np.asarray(x.at[I([0, 3])].get(mode="fill"))
        assert out[1] == fill and out.dtype == dtype


# --------------------------------------------------------------------------------------
# x.at[idx].<update> vs numpy copy-and-modify
# --------------------------------------------------------------------------------------

UPDATE_INDICES = [
    1, (0, 2), slice(1, 3), (Ellipsis, 0), (slice(None, None, -1), 1), (None, 0),
    I([0, 2]), (I([0, 1]), slice(None), I([4, 2])), MASK_ALL, (1, slice(None, None, 2), 3),
    (slice(None), I([[0], [3]]), I([1, 2])),
]
DUP_INDICES = [I([0, 0, 2]), (I([1, 1, 1]), I([2, 2, 0])), (slice(None), I([3, 3]))]
UFUNCS = {"add": np.add, "subtract": np.subtract, "multiply": np.multiply,
          "min": np.minimum, "max": np.maximum}


def _values(shape, seed=0):
    return np.random.default_rng(seed).integers(1, 5, shape).astype(np.float32)


@pytest.mark.parametrize("k", range(len(UPDATE_INDICES)))
def test_set_matches_numpy(k):
    idx = UPDATE_INDICES[k]
    for vshape in [(), XN[idx].shape]:
        v = _values(vshape)
        expected = XN.copy()
        expected[idx] = v
        assert_array_close(dev(XN).at[idx].set(v), expected)
        assert_array_close(dev(XN).at[to_device_index(idx)].set(dev(v)), expected)


@pytest.mark.parametrize("op", list(UFUNCS))
@pytest.mark.parametrize("k", range(len(UPDATE_INDICES + DUP_INDICES)))
def test_update_ops_match_numpy_ufunc_at(op, k):
    idx = (UPDATE_INDICES + DUP_INDICES)[k]
    v = _values(XN[idx].shape, k)
    expected = XN.copy()
    UFUNCS[op].at(expected, idx, v)  # accumulates over repeated indices
    assert_array_close(getattr(dev(XN).at[idx], op)(v), expected)


@pytest.mark.parametrize("k", range(len(UPDATE_INDICES)))
def test_divide_and_power(k):
    idx = UPDATE_INDICES[k]
    v = _values(XN[idx].shape, k)
    expected = XN.copy()
    expected[idx] /= v
    assert_array_close(dev(XN).at[idx].divide(v), expected, rtol=1e-6)
    expected = XN.copy()
    expected[idx] **= v
    assert_array_close(dev(XN).at[idx].power(v), expected, rtol=1e-6)


def test_update_semantics_match_jax():
    import jax.numpy as jnp
    xn = np.arange(6, dtype=np.int32)
    jx, x = jnp.asarray(xn), dev(xn)
    cases = [
        lambda a: a.at[I([1, 1, 3])].set(I([7, 7, 9])),  # repeated set: one value wins
        lambda a: a.at[I([0, 9, -9])].add(5),  # out of bounds: dropped
        lambda a: a.at[I([0, 9, -9])].add(5, mode="clip"),
        lambda a: a.at[I([0, 9])].set(5, mode="drop"),
        lambda a: a.at[I([0, 9])].set(5, mode="promise_in_bounds"),
        lambda a: a.at[9].set(1),
        lambda a: a.at[-1].set(1, wrap_negative_indices=False),
        lambda a: a.at[2].multiply(2.6),  # computed in float, cast back (jax)
        lambda a: a.at[2].divide(2),  # true division: int -> float
        lambda a: a.at[1:4].power(2),
        lambda a: a.at[I([1, 1])].apply(lambda v: v * 3),
        lambda a: a.at[::2].get(),
    ]
    for fn in cases:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # x.at[2].multiply(2.6) on ints
            expected = np.asarray(fn(jx))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            actual = fn(x)
        assert_array_close(actual, expected)
    with pytest.warns(FutureWarning, match="cannot safely cast"):
        x.at[2].set(2.5)


def test_update_dtypes_and_weak_types():
    import jax.numpy as jnp
    for dtype in [np.int8, np.uint8, np.float16, np.float32, np.complex64, np.bool_]:
        xn = np.zeros(4, dtype)
        for v in [1, np.ones(2, dtype)]:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FutureWarning)  # int 1 into bool (both warn)
                out = dev(xn).at[1:3].set(v)
                ref = jnp.asarray(xn).at[1:3].set(v)
            assert out.dtype == ref.dtype and out.weak_type == ref.weak_type
            assert_array_close(out, np.asarray(ref))
    w = lamina.lax.broadcast_in_dim(asarray(2.0), (3,), ())
    assert w.at[0].set(1.0).weak_type
    assert not dev(np.zeros(3, np.float16)).at[0].add(1.5).weak_type


def test_update_errors():
    x = dev(XN)
    with pytest.raises(ValueError, match="cannot broadcast update values of shape \\(3,\\)"):
        x.at[0].set(np.ones(3, np.float32))
    with pytest.raises(ValueError, match="invalid mode"):
        x.at[0].set(1.0, mode="wrap")
    assert_array_close(dev(np.zeros(3, np.int32)).at[1:].set([4, 5]), np.int32([0, 4, 5]))
    # NumPy lets the values have extra leading unit axes.
    assert_array_close(x.at[0, 0].set(np.ones((1, 5), np.float32)),
                       np.where(np.arange(60).reshape(3, 4, 5) < 5, 1.0, XN).astype(np.float32))


# --------------------------------------------------------------------------------------
# take, take_along_axis, put_along_axis
# --------------------------------------------------------------------------------------


def test_take_matches_numpy_and_jax():
    import jax.numpy as jnp
    idx = I([[0, 2], [-1, 1]])
    for axis in [None, 0, 1, -1]:
        assert_array_close(lnp.take(XN, idx, axis=axis), np.take(XN, idx, axis=axis))
    oob = I([0, 7, -9])
    for mode in [None, "fill", "clip", "wrap"]:
        for axis in [None, 1]:
            expected = np.asarray(jnp.take(XN, oob, axis=axis, mode=mode))
            assert_array_close(lnp.take(XN, oob, axis=axis, mode=mode), expected)
    assert_array_close(lnp.take(XN, oob, axis=2, mode="fill", fill_value=-1),
                       np.asarray(jnp.take(XN, oob, axis=2, mode="fill", fill_value=-1)))
    assert lnp.take(XN, I([], np.int32), axis=1).shape == (3, 0, 5)
    assert lnp.take(np.zeros((0, 2), np.float32), I([], np.int32), axis=0).shape == (0, 2)
    with pytest.raises(IndexError, match="empty axis"):
        lnp.take(np.zeros((0, 2), np.float32), I([0]), axis=0)
    with pytest.raises(NotImplementedError, match="raise"):
        lnp.take(XN, I([0]), mode="raise")
    with pytest.raises(TypeError, match="integer dtype"):
        lnp.take(XN, I([0.5]))
    with pytest.raises(ValueError, match="axis 3 is out of bounds"):
        lnp.take(XN, I([0]), axis=3)
    with pytest.raises(NotImplementedError, match="out"):
        lnp.take(XN, I([0]), out=XN)


def test_take_along_axis():
    import jax.numpy as jnp
    rng = np.random.default_rng(1)
    for axis, ishape in [(0, (2, 4, 5)), (1, (3, 6, 5)), (-1, (3, 4, 2)), (1, (1, 3, 5)),
                         (2, (3, 1, 7)), (0, (4, 1, 1))]:
        idx = rng.integers(-3, 3, ishape)
        expected = np.take_along_axis(XN, np.where(idx < 0, idx + XN.shape[axis], idx), axis)
        assert_array_close(lnp.take_along_axis(XN, idx, axis), expected)
    assert_array_close(lnp.take_along_axis(XN, I([3, 0, 59]), None),
                       np.take_along_axis(XN, I([3, 0, 59]), None))
    # broadcasting of arr's unit dimensions against indices
    a = np.arange(4, dtype=np.float32).reshape(4, 1)
    idx = I([[0, 0, 0]] * 4)
    assert_array_close(lnp.take_along_axis(a, idx, 1),
                       np.asarray(jnp.take_along_axis(a, idx, 1)))
    oob = I([[0, 9]] * 3)[:, :, None] * np.ones((1, 1, 5), np.int64)
    assert_array_close(lnp.take_along_axis(XN, oob, 1),
                       np.asarray(jnp.take_along_axis(XN, oob, 1)))
    with pytest.raises(ValueError, match="same number of dimensions"):
        lnp.take_along_axis(XN, I([0]), 0)
    with pytest.raises(ValueError, match="1-D when axis is None"):
        lnp.take_along_axis(XN, I([[0]]), None)


def test_put_along_axis():
    idx = I([[[1], [0], [3], [2]]] * 3)  # (3, 4, 1)
    expected = XN.copy()
    np.put_along_axis(expected, idx, -1.0, axis=2)
    assert_array_close(lnp.put_along_axis(XN, idx, -1.0, axis=2, inplace=False), expected)
    expected = XN.copy()
    np.put_along_axis(expected, I([0, 59]), I([7.0, 8.0], np.float32), axis=None)
    assert_array_close(lnp.put_along_axis(XN, I([0, 59]), I([7.0, 8.0], np.float32), None,
                                          inplace=False), expected)
    with pytest.raises(ValueError, match="inplace=False"):
        lnp.put_along_axis(XN, idx, 1.0, axis=2)


# --------------------------------------------------------------------------------------
# nonzero, where, select, choose, compress, extract
# --------------------------------------------------------------------------------------


def test_nonzero_family():
    rng = np.random.default_rng(0)
    for shape in [(7,), (3, 4), (2, 3, 4), (0,), (3, 0)]:
        a = (rng.random(shape) < 0.4).astype(np.float32)
        for ours, ref in zip(lnp.nonzero(a), np.nonzero(a)):
            assert_array_close(ours, ref.astype(np.int32))
        assert_array_close(lnp.flatnonzero(a), np.flatnonzero(a).astype(np.int32))
        assert_array_close(lnp.argwhere(a), np.argwhere(a).astype(np.int32))
        for ours, ref in zip(lnp.where(a), np.where(a)):
            assert_array_close(ours, ref.astype(np.int32))
    assert lnp.argwhere(np.float32(2)).shape == (1, 0)
    assert lnp.argwhere(np.float32(0)).shape == (0, 0)


# jax.numpy's results (recorded from jax 0.10.2, to keep the suite fast) for the
# size=/fill_value= padding rules.
NONZERO_SIZE_JAX = [
    ((2, None), [[0, 1], [1, 0]]),
    ((4, None), [[0, 1, 1, 0], [1, 0, 2, 0]]),
    ((6, -1), [[0, 1, 1, -1, -1, -1], [1, 0, 2, -1, -1, -1]]),
    ((5, (7, 8)), [[0, 1, 1, 7, 7], [1, 0, 2, 8, 8]]),
    ((0, None), [[], []]),
]


def test_nonzero_size_and_fill_value_match_jax():
    a = np.array([[0, 3, 0], [1, 0, 2]], np.int8)
    for (size, fill), expected in NONZERO_SIZE_JAX:
        ours = lnp.nonzero(a, size=size, fill_value=fill)
        for o, r in zip(ours, expected):
            assert_array_close(o, np.array(r, np.int32))
    assert_array_close(lnp.flatnonzero(a, size=4, fill_value=-1), np.int32([1, 3, 5, -1]))
    assert_array_close(lnp.argwhere(a, size=4, fill_value=9),
                       np.int32([[0, 1], [1, 0], [1, 2], [9, 9]]))
    with pytest.raises(ValueError, match="0-d"):
        lnp.nonzero(np.float32(1))
    with pytest.raises(ValueError, match="fill_value"):
        lnp.nonzero(a, size=3, fill_value=(1, 2, 3))


def test_nonzero_under_tracing():
    (r, c) = traced(lambda m: lnp.nonzero(m, size=4), np.ones((2, 3), bool))
    assert r.shape == c.shape == (4,)
    with pytest.raises(ConcretizationError, match="size="):
        traced(lambda m: lnp.nonzero(m), np.ones((2, 3), bool))
    with pytest.raises(ConcretizationError, match="size="):
        traced(lambda m: lnp.unique(m), np.ones(3, np.int32))
    (u,) = traced(lambda m: lnp.unique(m, size=2, fill_value=0), np.ones(3, np.int32))
    assert u.shape == (2,)
    with pytest.raises(ConcretizationError, match="static"):
        traced(lambda m, s: lnp.nonzero(m, size=s), np.ones(3, bool), np.int32(2))


def test_where_three_args_dtypes_vs_jax():
    import jax.numpy as jnp
    c = np.array([True, False, True])
    cases = [(1, 2.0), (np.int8(1), 2), (np.ones(3, np.int8), np.ones(3, np.uint8)),
             (np.ones(3, np.float16), 1), (2.0, np.ones((2, 3), np.float32)),
             (np.ones(3, np.bool_), False), (1j, np.ones(3, np.float32))]
    for x, y in cases:
        ours, ref = lnp.where(c, x, y), jnp.where(c, x, y)
        assert ours.dtype == ref.dtype and ours.weak_type == ref.weak_type, (x, y)
        assert_array_close(ours, np.asarray(ref))
    assert_array_close(lnp.where(np.array([0, 2, 0]), 1.0, -1.0), np.float32([-1, 1, -1]))
    with pytest.raises(ValueError, match="both or neither"):
        lnp.where(c, 1)
    with pytest.raises(ValueError, match="three-argument"):
        lnp.where(c, 1, 2, size=3)
    with pytest.raises(ValueError, match="incompatible shapes"):
        lnp.where(c, np.ones(4), 0)


def test_select_and_choose():
    x = np.arange(10, dtype=np.float32)
    conds, choices = [x < 3, x > 5], [x, x ** 2]
    assert_array_close(lnp.select(conds, choices, 42.0),
                       np.select(conds, choices, 42.0).astype(np.float32))
    assert_array_close(lnp.select([x < 3, x < 5], [x, -x]), np.select([x < 3, x < 5], [x, -x]))
    with pytest.raises(ValueError, match="equal to choicelist"):
        lnp.select([x < 3], [x, x])
    a = np.array([[0, 1, 2], [2, 1, 0]], np.int32)
    choices = [np.arange(3, dtype=np.int32), np.full((2, 3), 10, np.int32), np.int32(-5)]
    assert_array_close(lnp.choose(a, choices), np.choose(a, choices))
    bad = np.array([0, 3, -1], np.int32)
    for mode in ["wrap", "clip"]:
        assert_array_close(lnp.choose(bad, choices[:1] * 3, mode=mode),
                           np.choose(bad, choices[:1] * 3, mode=mode))
    with pytest.raises(ValueError, match="invalid entry"):
        lnp.choose(bad, choices)
    with pytest.raises(TypeError, match="integer"):
        lnp.choose(np.float32([0]), choices)


def test_compress_and_extract():
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    for cond, axis in [([1, 0, 1], 0), ([0, 1, 1, 0], 1), ([True] * 5, None), ([1, 0], 1)]:
        cond = np.array(cond)
        assert_array_close(lnp.compress(cond, a, axis=axis), np.compress(cond, a, axis=axis))
    # jax's padding rule (recorded): the selected slices, then fill_value slices.
    assert_array_close(lnp.compress(np.array([1, 0, 1]), a, axis=0, size=3, fill_value=-1),
                       np.float32([[0, 1, 2, 3], [8, 9, 10, 11], [-1, -1, -1, -1]]))
    with pytest.raises(ValueError, match="out of bounds"):
        lnp.compress(np.array([0, 0, 0, 1]), a, axis=0)
    with pytest.raises(ValueError, match="1-D"):
        lnp.compress(np.ones((2, 2)), a)
    cond = a % 3 == 0
    assert_array_close(lnp.extract(cond, a), np.extract(cond, a))
    assert_array_close(lnp.extract(cond, a, size=6, fill_value=9), np.float32([0, 3, 6, 9, 9, 9]))


# --------------------------------------------------------------------------------------
# searchsorted, digitize
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["scan", "compare_all", "sort"])
def test_searchsorted(method):
    a = np.array([-1.0, 0.0, 0.0, 2.5, 3.0, np.nan], np.float32)
    v = np.array([[-2.0, 0.0, 1.0], [3.0, -0.0, np.nan]], np.float32)
    for side in ["left", "right"]:
        assert_array_close(lnp.searchsorted(a, v, side=side, method=method),
                           np.searchsorted(a, v, side=side).astype(np.int32))
    ints = np.array([1, 3, 3, 3, 7], np.int32)
    for side in ["left", "right"]:
        assert_array_close(lnp.searchsorted(ints, np.arange(9, dtype=np.int32), side,
                                            method=method),
                           np.searchsorted(ints, np.arange(9), side).astype(np.int32))
    perm = np.array([2, 0, 1], np.int32)
    unsorted = np.array([3.0, 5.0, 1.0], np.float32)
    assert_array_close(lnp.searchsorted(unsorted, np.float32(4), sorter=perm, method=method),
                       np.int32(np.searchsorted(unsorted, 4, sorter=perm)))
    assert_array_close(lnp.searchsorted(np.zeros(0, np.float32), v, method=method),
                       np.zeros(v.shape, np.int32))


def test_searchsorted_errors():
    with pytest.raises(ValueError, match="1-dimensional"):
        lnp.searchsorted(np.ones((2, 2)), 1.0)
    with pytest.raises(ValueError, match="side"):
        lnp.searchsorted(np.ones(2), 1.0, side="middle")
    with pytest.raises(ValueError, match="method"):
        lnp.searchsorted(np.ones(2), 1.0, method="magic")


def test_digitize():
    x = np.array([-1.0, 0.0, 0.5, 1.0, 2.5, 10.0], np.float32)
    for bins in [np.array([0.0, 1.0, 2.5]), np.array([2.5, 1.0, 0.0])]:
        bins = bins.astype(np.float32)
        for right in [False, True]:
            assert_array_close(lnp.digitize(x, bins, right=right),
                               np.digitize(x, bins, right=right).astype(np.int32))
    assert_array_close(lnp.digitize(x, np.zeros(0, np.float32)), np.zeros(6, np.int32))


# --------------------------------------------------------------------------------------
# unique and set operations
# --------------------------------------------------------------------------------------


def _check_unique(ours, ref):
    ours = ours if isinstance(ours, tuple) else (ours,)
    ref = ref if isinstance(ref, tuple) else (ref,)
    assert len(ours) == len(ref)
    for o, r in zip(ours, ref):
        r = np.asarray(r)
        assert_array_close(o, r.astype(np.int32) if r.dtype == np.int64 else r)


@pytest.mark.parametrize("flags", [(False, False, False), (True, True, True), (False, True, False),
                                   (True, False, True)])
def test_unique_matches_numpy(flags):
    ri, rv, rc = flags
    kw = dict(return_index=ri, return_inverse=rv, return_counts=rc)
    x = np.array([[3, 1, 2], [1, 3, 3], [0, 1, 2]], np.int32)
    _check_unique(lnp.unique(x, **kw), np.unique(x, **kw))
    for axis in [0, 1, -1]:
        _check_unique(lnp.unique(x, axis=axis, **kw), np.unique(x, axis=axis, **kw))
    f = np.array([2.0, np.nan, 1.0, np.nan, 2.0, -0.0, 0.0], np.float32)
    _check_unique(lnp.unique(f, **kw), np.unique(f, **kw))
    empty = np.zeros(0, np.float32)
    _check_unique(lnp.unique(empty, **kw), np.unique(empty, **kw))


UNIQUE_SIZE_JAX = [  # (size, fill_value) -> (values, index, inverse, counts), from jax
    ((5, None), [[0, 1, 3, 0, 0], [4, 1, 0, 4, 4], [2, 1, 2, 2, 0], [1, 1, 3, 0, 0]]),
    ((5, -7), [[0, 1, 3, -7, -7], [4, 1, 0, 4, 4], [2, 1, 2, 2, 0], [1, 1, 3, 0, 0]]),
    ((2, None), [[0, 1], [4, 1], [2, 1, 2, 2, 0], [1, 1]]),
    ((3, 9), [[0, 1, 3], [4, 1, 0], [2, 1, 2, 2, 0], [1, 1, 3]]),
]


def test_unique_equal_nan_and_size_vs_jax():
    f = np.array([2.0, np.nan, 1.0, np.nan, 2.0], np.float32)
    assert lnp.unique(f, equal_nan=False).shape == (4,)
    x = np.array([3, 1, 3, 3, 0], np.int32)
    for (size, fill), expected in UNIQUE_SIZE_JAX:
        assert_array_close(lnp.unique(x, size=size, fill_value=fill), np.int32(expected[0]))
        ours = lnp.unique(x, size=size, fill_value=fill, return_index=True,
                          return_inverse=True, return_counts=True)
        for o, r in zip(ours, expected):
            assert_array_close(o, np.int32(r))
    with pytest.raises(ValueError, match="fill_value"):
        lnp.unique(np.zeros(0, np.int32), size=2)


def test_unique_array_api_variants():
    x = np.array([2.0, np.nan, 1.0, np.nan, 2.0], np.float32)
    res = lnp.unique_all(x)
    ref = np.unique_all(x)
    for field in ["values", "indices", "inverse_indices", "counts"]:
        r = np.asarray(getattr(ref, field))
        assert_array_close(getattr(res, field), r.astype(np.int32) if r.dtype == np.int64 else r)
    assert_array_close(lnp.unique_values(x), np.unique_values(x))
    c = lnp.unique_counts(x)
    assert_array_close(c.counts, np.unique_counts(x).counts.astype(np.int32))
    inv = lnp.unique_inverse(x)
    assert_array_close(inv.inverse_indices, np.unique_inverse(x).inverse_indices.astype(np.int32))


SET_INPUTS = [
    (np.array([5, 1, 3, 3, 7], np.int32), np.array([3, 8, 1, 1], np.int32)),
    (np.array([1.5, np.nan, 2.0], np.float32), np.array([2.0, np.nan], np.float32)),
    (np.array([], np.int32), np.array([1, 2], np.int32)),
    (np.array([[4, 2], [2, 9]], np.int8), np.array([9, 9, 0], np.int8)),
]


@pytest.mark.parametrize("k", range(len(SET_INPUTS)))
def test_set_operations_match_numpy(k):
    a, b = SET_INPUTS[k]
    for name in ["union1d", "intersect1d", "setdiff1d", "setxor1d"]:
        assert_array_close(getattr(lnp, name)(a, b), getattr(np, name)(a, b), err_msg=name)
    vals, i1, i2 = lnp.intersect1d(a, b, return_indices=True)
    rv, r1, r2 = np.intersect1d(a, b, return_indices=True)
    _check_unique((vals, i1, i2), (rv, r1, r2))
    assert_array_close(lnp.isin(a, b), np.isin(a, b))
    assert_array_close(lnp.isin(a, b, invert=True), np.isin(a, b, invert=True))
    assert_array_close(lnp.isin(a, b, method="binary_search"), np.isin(a, b))


SET_SIZE_JAX = {  # (name, size, fill_value) -> jax's result, recorded
    ("union1d", 6, None): [1, 3, 5, 7, 8, 1], ("union1d", 6, -1): [1, 3, 5, 7, 8, -1],
    ("union1d", 1, None): [1],
    ("intersect1d", 6, None): [1, 3, 1, 1, 1, 1], ("intersect1d", 6, -1): [1, 3, -1, -1, -1, -1],
    ("intersect1d", 1, None): [1],
    ("setdiff1d", 6, None): [5, 7, 0, 0, 0, 0], ("setdiff1d", 6, -1): [5, 7, -1, -1, -1, -1],
    ("setdiff1d", 1, None): [5],
    ("setxor1d", 6, None): [5, 7, 8, 5, 5, 5], ("setxor1d", 6, -1): [5, 7, 8, -1, -1, -1],
    ("setxor1d", 1, None): [5],
}


def test_set_operations_with_size_vs_jax():
    a, b = SET_INPUTS[0]
    for (name, size, fill), expected in SET_SIZE_JAX.items():
        ours = getattr(lnp, name)(a, b, size=size, fill_value=fill)
        assert_array_close(ours, np.int32(expected), err_msg=f"{name} {size} {fill}")
    ours = lnp.intersect1d(a, b, return_indices=True, size=4)
    for o, r in zip(ours, [[1, 3, 1, 1], [1, 2, 5, 5], [2, 0, 4, 4]]):
        assert_array_close(o, np.int32(r))
    assert_array_close(lnp.setdiff1d(a, b, assume_unique=True),
                       np.setdiff1d(a, b, assume_unique=True))


# --------------------------------------------------------------------------------------
# ix_, ravel_multi_index, unravel_index, diagonal/triangle indices, fill_diagonal
# --------------------------------------------------------------------------------------


def test_ix_():
    rows, cols = np.array([0, 2], np.int32), np.array([4, 1, 0], np.int32)
    ours = lnp.ix_(rows, cols)
    for o, r in zip(ours, np.ix_(rows, cols)):
        assert_array_close(o, r)
    assert_array_close(dev(XN)[(0,) + ours], XN[(0,) + np.ix_(rows, cols)])
    with pytest.raises(ValueError, match="1-dimensional"):
        lnp.ix_(np.ones((2, 2), np.int32))


def test_ravel_and_unravel_index():
    import jax.numpy as jnp
    idx = (np.array([0, 2, 1], np.int32), np.array([3, 0, 4], np.int32))
    for order in ["C", "F"]:
        assert_array_close(lnp.ravel_multi_index(idx, (3, 5), order=order),
                           np.ravel_multi_index(idx, (3, 5), order=order).astype(np.int32))
    bad = (np.array([0, 5], np.int32), np.array([-1, 2], np.int32))
    for mode in ["clip", "wrap"]:
        assert_array_close(lnp.ravel_multi_index(bad, (3, 5), mode=mode),
                           np.ravel_multi_index(bad, (3, 5), mode=mode).astype(np.int32))
    with pytest.raises(ValueError, match="invalid entry"):
        lnp.ravel_multi_index(bad, (3, 5))
    flat = np.array([0, 7, 14, 59], np.int32)
    for o, r in zip(lnp.unravel_index(flat, (3, 4, 5)), np.unravel_index(flat, (3, 4, 5))):
        assert_array_close(o, r.astype(np.int32))
    oob = np.array([-1, -61, 60, 100], np.int32)
    for o, r in zip(lnp.unravel_index(oob, (3, 4, 5)), jnp.unravel_index(oob, (3, 4, 5))):
        assert_array_close(o, np.asarray(r))


def test_diag_triangle_indices_and_fill_diagonal():
    a = np.zeros((4, 4), np.float32)
    for o, r in zip(lnp.diag_indices_from(a), np.diag_indices_from(a)):
        assert_array_close(o, r.astype(np.int32))
    b = np.zeros((3, 5))
    for k in [-1, 0, 2]:
        for ours, ref in [(lnp.triu_indices_from(b, k), np.triu_indices_from(b, k)),
                          (lnp.tril_indices_from(b, k), np.tril_indices_from(b, k))]:
            for o, r in zip(ours, ref):
                assert_array_close(o, r.astype(np.int32))
    for shape, wrap, val in [((4, 4), False, 5.0), ((6, 3), False, 5.0), ((7, 3), True, 5.0),
                             ((3, 5), False, np.array([1.0, 2.0])), ((3, 3, 3), False, 9.0)]:
        expected = np.zeros(shape, np.float32)
        np.fill_diagonal(expected, val, wrap=wrap)
        assert_array_close(lnp.fill_diagonal(np.zeros(shape, np.float32), val, wrap=wrap,
                                             inplace=False), expected)
    with pytest.raises(NotImplementedError, match="inplace=False"):
        lnp.fill_diagonal(a, 1.0)
    with pytest.raises(ValueError, match="equal length"):
        lnp.diag_indices_from(b)
    with pytest.raises(ValueError, match="2-D"):
        lnp.triu_indices_from(XN)
