"""lax.gather and the lax.scatter family against numpy fancy indexing and jax.lax."""
import os
import sys

import ml_dtypes
import numpy as np
import pytest
from jax import lax as jlax

sys.path.insert(0, os.path.dirname(__file__))
from op_records import ALL, NUMERIC  # noqa: E402

from lamina.lax import indexing as ix  # noqa: E402
from lamina.testing import assert_array_close  # noqa: E402

GDN, SDN, Mode = ix.GatherDimensionNumbers, ix.ScatterDimensionNumbers, ix.GatherScatterMode
bf16 = np.dtype(ml_dtypes.bfloat16)
f32 = np.dtype(np.float32)
INDEX_DTYPES = [np.int8, np.uint8, np.int16, np.int32, np.uint32]


def _values(rng, shape, dtype):
    """Small integers in the requested dtype: sums and products of them are exact."""
    dtype = np.dtype(dtype)
    if dtype == np.bool_:
        return rng.random(shape) < 0.5
    lo = 0 if np.issubdtype(dtype, np.unsignedinteger) else -3
    x = rng.integers(lo, 4, shape)
    if np.issubdtype(dtype, np.complexfloating):
        x = x + 1j * rng.integers(-3, 4, shape)
    return x.astype(dtype)


def _jax_dnums(dn):
    cls = jlax.GatherDimensionNumbers if isinstance(dn, GDN) else jlax.ScatterDimensionNumbers
    return cls(*dn)


def _jax_mode(mode):
    return mode if not isinstance(mode, Mode) else jlax.GatherScatterMode[mode.name]


# --------------------------------------------------------------------------------------
# gather
# --------------------------------------------------------------------------------------

# name -> (operand shape, indices shape, dimension numbers, slice sizes, numpy reference)
# The patterns are the ones lamina.numpy indexing (like jax.numpy's) produces.
GATHER_CASES = {
    "x[i]": ((5, 4), (3, 1), GDN((1,), (0,), (0,)), (1, 4), lambda x, i: x[i[:, 0]]),
    "x[:, i]": ((3, 5), (2, 1), GDN((0,), (1,), (1,)), (3, 1), lambda x, i: x[:, i[:, 0]]),
    "x[i, j]": ((4, 5, 6), (3, 2), GDN((1,), (0, 1), (0, 1)), (1, 1, 6),
                lambda x, i: x[i[:, 0], i[:, 1]]),
    "x[i, :, j]": ((4, 5, 6), (3, 2), GDN((1,), (0, 2), (0, 2)), (1, 5, 1),
                   lambda x, i: x[i[:, 0], :, i[:, 1]]),
    "x[i2d]": ((5, 4), (2, 3, 1), GDN((2,), (0,), (0,)), (1, 4), lambda x, i: x[i[..., 0]]),
    "x[k]": ((5, 4), (1,), GDN((0,), (0,), (0,)), (1, 4), lambda x, i: x[i[0]]),
    "x[j, i] reversed map": ((4, 5), (3, 2), GDN((), (0, 1), (1, 0)), (1, 1),
                             lambda x, i: x[i[:, 1], i[:, 0]]),
    "batched (vmap of x[i])": ((3, 5, 4), (3, 2, 1), GDN((2,), (1,), (1,), (0,), (0,)), (1, 1, 4),
                               lambda x, i: x[np.arange(3)[:, None], i[..., 0]]),
    "batched, non-leading": ((5, 3, 4), (2, 3, 1), GDN((2,), (0,), (0,), (1,), (1,)), (1, 1, 4),
                             lambda x, i: x[i[..., 0], np.arange(3)[None, :]]),
    "windows": ((6, 7), (4, 2), GDN((1, 2), (), (0, 1)), (2, 3),
                lambda x, i: np.stack([x[a:a + 2, b:b + 3] for a, b in i])),
    "empty indices": ((5, 4), (0, 1), GDN((1,), (0,), (0,)), (1, 4), lambda x, i: x[i[:, 0]]),
    "empty operand": ((0, 4), (0, 1), GDN((1,), (0,), (0,)), (1, 4), lambda x, i: x[i[:, 0]]),
}


def _in_bounds_indices(rng, operand_shape, indices_shape, start_map, sizes, dtype=np.int32):
    idx = np.zeros(indices_shape, np.int64)
    for j, d in enumerate(start_map):
        idx[..., j] = rng.integers(0, operand_shape[d] - sizes[d] + 1, indices_shape[:-1])
    return idx.astype(dtype)


def _gather_case(name, dtype=f32, index_dtype=np.int32, seed=0):
    operand_shape, indices_shape, dn, sizes, ref = GATHER_CASES[name]
    rng = np.random.default_rng(seed)
    x = _values(rng, operand_shape, dtype)
    i = _in_bounds_indices(rng, operand_shape, indices_shape, dn.start_index_map, sizes,
                           index_dtype)
    return x, i, dn, sizes, ref


@pytest.mark.parametrize("name", sorted(GATHER_CASES))
def test_gather_matches_numpy_and_jax(name):
    x, i, dn, sizes, ref = _gather_case(name)
    out = ix.gather(x, i, dn, sizes)
    assert_array_close(out, ref(x, i))
    assert_array_close(out, np.asarray(jlax.gather(x, i, _jax_dnums(dn), sizes)))


@pytest.mark.parametrize("dtype", ALL, ids=str)
def test_gather_dtypes(dtype):
    x, i, dn, sizes, ref = _gather_case("x[i]", dtype)
    assert_array_close(ix.gather(x, i, dn, sizes), ref(x, i))


@pytest.mark.parametrize("index_dtype", INDEX_DTYPES, ids=lambda d: np.dtype(d).name)
def test_gather_index_dtypes(index_dtype):
    x, i, dn, sizes, ref = _gather_case("x[i, j]", index_dtype=index_dtype)
    assert_array_close(ix.gather(x, i, dn, sizes), ref(x, i))


def _out_of_bounds_indices(rng, operand_shape, indices_shape, start_map, dtype=np.int32):
    idx = np.zeros(indices_shape, np.int64)
    for j, d in enumerate(start_map):
        idx[..., j] = rng.integers(-3, operand_shape[d] + 3, indices_shape[:-1])
    return idx.astype(dtype)


@pytest.mark.parametrize("mode", [None, "clip", "fill", "promise_in_bounds", Mode.FILL_OR_DROP])
@pytest.mark.parametrize("name", ["x[i]", "x[i, j]", "windows", "batched (vmap of x[i])"])
def test_gather_out_of_bounds_modes_match_jax(name, mode):
    operand_shape, indices_shape, dn, sizes, _ = GATHER_CASES[name]
    rng = np.random.default_rng(1)
    x = _values(rng, operand_shape, f32)
    i = _out_of_bounds_indices(rng, operand_shape, (8,) + indices_shape[1:], dn.start_index_map)
    if name.startswith("batched"):
        i = _out_of_bounds_indices(rng, operand_shape, indices_shape, dn.start_index_map)
    kwargs = dict(fill_value=-7.5) if mode is Mode.FILL_OR_DROP else {}
    out = ix.gather(x, i, dn, sizes, mode=mode, **kwargs)
    expected = jlax.gather(x, i, _jax_dnums(dn), sizes, mode=_jax_mode(mode), **kwargs)
    assert_array_close(out, np.asarray(expected))


@pytest.mark.parametrize("dtype", ALL, ids=str)
def test_gather_default_fill_values_match_jax(dtype):
    x = _values(np.random.default_rng(2), (5, 3), dtype)
    i = np.array([[1], [5], [-1], [4], [100]], np.int32)
    dn = GDN((1,), (0,), (0,))
    out = ix.gather(x, i, dn, (1, 3), mode="fill")
    expected = jlax.gather(x, i, _jax_dnums(dn), (1, 3), mode="fill")
    assert_array_close(out, np.asarray(expected))


@pytest.mark.parametrize("index_dtype", INDEX_DTYPES, ids=lambda d: np.dtype(d).name)
def test_gather_fill_with_narrow_and_unsigned_indices(index_dtype):
    info = np.iinfo(index_dtype)
    x = np.arange(300, dtype=np.float32).reshape(150, 2)
    raw = [0, 149, 150, info.max, info.min, -1 if info.min < 0 else 7]
    i = np.array([v for v in raw if info.min <= v <= info.max], np.int64).astype(index_dtype)
    i = i[:, None]
    dn = GDN((1,), (0,), (0,))
    out = np.asarray(ix.gather(x, i, dn, (1, 2), mode="fill", fill_value=-1))
    starts = i[:, 0].astype(np.int64)
    expected = np.where(((starts >= 0) & (starts < 150))[:, None],
                        x[np.clip(starts, 0, 149)], -1).astype(np.float32)
    np.testing.assert_array_equal(out, expected)


def test_gather_fill_value_is_cast_like_jax():
    x = np.arange(6, dtype=np.uint8).reshape(3, 2)
    i = np.array([[0], [3]], np.int32)
    dn = GDN((1,), (0,), (0,))
    out = ix.gather(x, i, dn, (1, 2), mode="fill", fill_value=-1)
    expected = jlax.gather(x, i, _jax_dnums(dn), (1, 2), mode="fill", fill_value=-1)
    np.testing.assert_array_equal(np.asarray(out), np.asarray(expected))
    # Repeated NaN fills reuse one compiled executable (NaN is canonicalised).
    f = np.ones((3, 2), np.float32)
    a = ix.gather(f, i, dn, (1, 2), mode="fill", fill_value=float("nan"))
    b = ix.gather(f, i, dn, (1, 2), mode="fill", fill_value=np.float32("nan"))
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_gather_weak_type_follows_operand():
    i = np.array([[0]], np.int32)
    out = ix.gather(2.0, np.zeros((0,), np.int32), GDN((), (), ()), ())
    assert out.aval.weak_type and out.shape == ()
    strong = ix.gather(np.ones(3, np.float32), i, GDN((), (0,), (0,)), (1,))
    assert not strong.aval.weak_type


def test_gather_mode_parsing():
    assert Mode.from_any(None) is Mode.FILL_OR_DROP
    assert Mode.from_any("drop") is Mode.FILL_OR_DROP is Mode.from_any("fill")
    assert Mode.from_any("clip") is Mode.CLIP
    assert Mode.from_any("promise_in_bounds") is Mode.PROMISE_IN_BOUNDS
    assert Mode.from_any(Mode.CLIP) is Mode.CLIP
    with pytest.raises(ValueError, match="Unknown gather/scatter mode 'wrap'"):
        Mode.from_any("wrap")


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(i=np.zeros((2, 1), np.float32)), TypeError, r"integer dtype, got f32\[2,1\]"),
    (dict(i=np.int32(1)), TypeError, "rank >= 1"),
    (dict(dn=((1,), (0,), (0,))), TypeError, "must be a lax.GatherDimensionNumbers"),
    (dict(dn=GDN((1,), (0,), ("a",))), TypeError, "start_index_map must be a sequence"),
    (dict(sizes=(1, 4, 1)), TypeError, "one entry per operand dimension"),
    (dict(sizes=(2, 4)), TypeError, "collapsed dimension 0 must have slice size 1"),
    (dict(sizes=(1, 5)), TypeError, r"slice_sizes\[1\] = 5 must lie in \[0, 4\]"),
    (dict(dn=GDN((1,), (0,), (0, 1))), TypeError, r"start_index_map \(0, 1\) must have one"),
    (dict(dn=GDN((2,), (0,), (0,))), TypeError, r"offset_dims \(2,\) must lie in \[0, 2\)"),
    (dict(dn=GDN((1, 0), (), (0,)), sizes=(1, 4)), TypeError, "must be sorted"),
    (dict(dn=GDN((), (0,), (0,))), TypeError, "every operand dimension must be"),
    (dict(dn=GDN((1,), (), (0,), (0,), (0,))), TypeError,
     "start_index_map .* and operand_batching_dims .* must be disjoint"),
    (dict(mode="wrap"), ValueError, "Unknown gather/scatter mode"),
    (dict(fill_value=np.zeros(2)), TypeError, "fill_value must be a scalar"),
])
def test_gather_errors(kwargs, error, match):
    args = dict(x=np.ones((5, 4), np.float32), i=np.zeros((2, 1), np.int32),
                dn=GDN((1,), (0,), (0,)), sizes=(1, 4))
    extra = {k: kwargs.pop(k) for k in ("mode", "fill_value") if k in kwargs}
    if "fill_value" in extra:
        extra["mode"] = "fill"
    args.update(kwargs)
    with pytest.raises(error, match=match) as info:
        ix.gather(args["x"], args["i"], args["dn"], args["sizes"], **extra)
    if error is TypeError:
        assert info.match("lax.gather")


def test_gather_dimension_number_errors_name_the_operands():
    with pytest.raises(TypeError, match=r"lax.gather: collapsed dimension 0 .*\(operand "
                                        r"f32\[5,4\], indices i32\[2,1\], slice_sizes \(2, 4\)"):
        ix.gather(np.ones((5, 4), np.float32), np.zeros((2, 1), np.int32),
                  GDN((1,), (0,), (0,)), (2, 4))


def test_gather_batching_size_mismatch_names_shapes():
    with pytest.raises(TypeError, match=r"lax.gather: operand batching dimensions \(3,\) and "
                                        r"indices batching dimensions \(2,\)"):
        ix.gather(np.ones((3, 5, 4), np.float32), np.zeros((2, 2, 1), np.int32),
                  GDN((2,), (1,), (1,), (0,), (0,)), (1, 1, 4))


# --------------------------------------------------------------------------------------
# scatter family
# --------------------------------------------------------------------------------------

# name -> (operand shape, indices shape, updates shape, dimension numbers, numpy index fn)
# where `index(i)` is the numpy index that the window of update row(s) hits.
SCATTER_CASES = {
    "x[i]": ((5, 4), (6, 1), (6, 4), SDN((1,), (0,), (0,)), lambda i: i[:, 0]),
    "x[:, i]": ((3, 5), (6, 1), (3, 6), SDN((0,), (1,), (1,)),
                lambda i: (slice(None), i[:, 0])),
    "x[i, j]": ((4, 5, 6), (7, 2), (7, 6), SDN((1,), (0, 1), (0, 1)),
                lambda i: (i[:, 0], i[:, 1])),
    "x[k]": ((5, 4), (1,), (4,), SDN((0,), (0,), (0,)), lambda i: i[0]),
    "elements": ((6,), (8, 1), (8,), SDN((), (0,), (0,)), lambda i: i[:, 0]),
    "batched (vmap of x.at[i])": ((3, 5, 4), (3, 4, 1), (3, 4, 4),
                                  SDN((2,), (1,), (1,), (0,), (0,)),
                                  lambda i: (np.arange(3)[:, None], i[..., 0])),
    "windows": ((6, 7), (3, 2), (3, 2, 3), SDN((1, 2), (), (0, 1)), None),
    "empty updates": ((5, 4), (0, 1), (0, 4), SDN((1,), (0,), (0,)), lambda i: i[:, 0]),
}

COMBINERS = {
    "scatter_add": (ix.scatter_add, jlax.scatter_add, np.add),
    "scatter_sub": (ix.scatter_sub, jlax.scatter_sub, np.subtract),
    "scatter_mul": (ix.scatter_mul, jlax.scatter_mul, np.multiply),
    "scatter_min": (ix.scatter_min, jlax.scatter_min, np.minimum),
    "scatter_max": (ix.scatter_max, jlax.scatter_max, np.maximum),
}


def _scatter_ref(name, ufunc, x, i, u):
    x = x.copy()
    _, _, _, dn, index = SCATTER_CASES[name]
    if index is not None:
        ufunc.at(x, index(i), u)
        return x
    for (a, b), window in zip(i, u):  # "windows": apply the windows one by one
        x[a:a + window.shape[0], b:b + window.shape[1]] = ufunc(
            x[a:a + window.shape[0], b:b + window.shape[1]], window)
    return x


def _scatter_case(name, dtype=f32, index_dtype=np.int32, seed=0, unique=False):
    operand_shape, indices_shape, updates_shape, dn, _ = SCATTER_CASES[name]
    rng = np.random.default_rng(seed)
    x, u = _values(rng, operand_shape, dtype), _values(rng, updates_shape, dtype)
    sizes = [1] * len(operand_shape)
    windows = iter(updates_shape[d] for d in dn.update_window_dims)
    for d in range(len(operand_shape)):
        if d not in dn.inserted_window_dims and d not in dn.operand_batching_dims:
            sizes[d] = next(windows)
    i = _in_bounds_indices(rng, operand_shape, indices_shape, dn.scatter_dims_to_operand_dims,
                           sizes, index_dtype)
    if unique and name == "x[i]":  # 4 distinct rows of the 5
        i = rng.permutation(operand_shape[0])[:4].astype(index_dtype)[:, None]
        u = u[:4]
    return x, i, u, dn


@pytest.mark.parametrize("combiner", sorted(COMBINERS))
@pytest.mark.parametrize("name", sorted(SCATTER_CASES))
def test_scatter_combiners_match_numpy_and_jax(name, combiner):
    ours, theirs, ufunc = COMBINERS[combiner]
    x, i, u, dn = _scatter_case(name, np.int32)  # duplicates accumulate exactly in int32
    out = ours(x, i, u, dn)
    assert_array_close(out, _scatter_ref(name, ufunc, x, i, u))
    assert_array_close(out, np.asarray(theirs(x, i, u, _jax_dnums(dn))))


@pytest.mark.parametrize("name", ["x[i]", "x[k]", "empty updates"])
def test_scatter_set_matches_numpy(name):
    x, i, u, dn = _scatter_case(name, unique=True)
    expected = x.copy()
    expected[SCATTER_CASES[name][4](i)] = u
    assert_array_close(ix.scatter(x, i, u, dn), expected)


def test_scatter_set_unique_targets_match_jax():
    for name in ("batched (vmap of x.at[i])", "x[:, i]", "x[i, j]"):
        operand_shape, indices_shape, updates_shape, dn, _ = SCATTER_CASES[name]
        x, _, u, dn = _scatter_case(name)
        # Unique targets, so that the result does not depend on the update order.
        n = indices_shape[-2]
        rng = np.random.default_rng(3)
        if name == "x[i, j]":
            flat = rng.permutation(operand_shape[0] * operand_shape[1])[:n]
            i = np.stack(np.unravel_index(flat, operand_shape[:2]), -1).astype(np.int32)
        elif name == "x[:, i]":
            i = rng.permutation(operand_shape[1])[:4, None].astype(np.int32)
            u = u[:, :4]
        else:
            i = np.stack([rng.permutation(operand_shape[1])[:n] for _ in range(3)])[..., None]
            i = i.astype(np.int32)
        expected = jlax.scatter(x, i, u, _jax_dnums(dn))
        assert_array_close(ix.scatter(x, i, u, dn), np.asarray(expected))


@pytest.mark.parametrize("dtype", NUMERIC, ids=str)
def test_scatter_add_dtypes_with_duplicates(dtype):
    x, i, u, dn = _scatter_case("x[i]", dtype)
    i = np.array([[0], [2], [0], [0], [4], [2]], np.int32)
    assert_array_close(ix.scatter_add(x, i, u, dn), _scatter_ref("x[i]", np.add, x, i, u))


@pytest.mark.parametrize("combiner", ["scatter_min", "scatter_max"])
@pytest.mark.parametrize("dtype", ALL, ids=str)
def test_scatter_min_max_dtypes(combiner, dtype):
    ours, theirs, _ = COMBINERS[combiner]
    x, i, u, dn = _scatter_case("x[i]", dtype, seed=4)
    assert_array_close(ours(x, i, u, dn), np.asarray(theirs(x, i, u, _jax_dnums(dn))))


@pytest.mark.parametrize("dtype", ALL, ids=str)
def test_scatter_set_dtypes(dtype):
    x, i, u, dn = _scatter_case("x[i]", dtype, unique=True)
    expected = x.copy()
    expected[i[:, 0]] = u
    assert_array_close(ix.scatter(x, i, u, dn), expected)


@pytest.mark.parametrize("index_dtype", INDEX_DTYPES, ids=lambda d: np.dtype(d).name)
def test_scatter_index_dtypes(index_dtype):
    x, i, u, dn = _scatter_case("x[i, j]", np.int32, index_dtype=index_dtype)
    assert_array_close(ix.scatter_add(x, i, u, dn), _scatter_ref("x[i, j]", np.add, x, i, u))


def test_scatter_min_max_propagate_nan_like_jax():
    x = np.array([1.0, np.nan, 3.0], np.float32)
    i = np.array([[0], [1], [2]], np.int32)
    u = np.array([np.nan, 0.0, 1.0], np.float32)
    dn = SDN((), (0,), (0,))
    for ours, theirs, _ in (COMBINERS["scatter_min"], COMBINERS["scatter_max"]):
        assert_array_close(ours(x, i, u, dn), np.asarray(theirs(x, i, u, _jax_dnums(dn))))


@pytest.mark.parametrize("mode", [None, "drop", "clip", "promise_in_bounds"])
@pytest.mark.parametrize("combiner", ["scatter_add", "scatter_max"])
@pytest.mark.parametrize("name", ["x[i]", "x[i, j]", "windows", "batched (vmap of x.at[i])"])
def test_scatter_out_of_bounds_modes_match_jax(name, combiner, mode):
    ours, theirs, _ = COMBINERS[combiner]
    operand_shape, indices_shape, updates_shape, dn, _ = SCATTER_CASES[name]
    rng = np.random.default_rng(5)
    x, u = _values(rng, operand_shape, np.int32), _values(rng, updates_shape, np.int32)
    i = _out_of_bounds_indices(rng, operand_shape, indices_shape, dn.scatter_dims_to_operand_dims)
    out = ours(x, i, u, dn, mode=mode)
    expected = theirs(x, i, u, _jax_dnums(dn), mode=_jax_mode(mode))
    assert_array_close(out, np.asarray(expected))


def test_scatter_drops_out_of_bounds_windows_by_default():
    x = np.zeros((5, 2), np.float32)
    i = np.array([[1], [7], [-1], [3]], np.int32)
    u = np.arange(8, dtype=np.float32).reshape(4, 2)
    dn = SDN((1,), (0,), (0,))
    expected = x.copy()
    expected[1], expected[3] = u[0], u[3]
    assert_array_close(ix.scatter(x, i, u, dn), expected)
    clipped = x.copy()
    clipped[1], clipped[4], clipped[0], clipped[3] = u
    assert_array_close(ix.scatter(x, i, u, dn, mode="clip"), clipped)


def test_scatter_clip_with_narrow_index_dtype():
    # The clamp bound (299 - 1) does not fit int8: it is capped at int8's maximum.
    x = np.zeros(300, np.int32)
    i = np.array([[127], [-128], [5]], np.int8)
    out = np.asarray(ix.scatter_add(x, i, np.array([1, 2, 3], np.int32), SDN((), (0,), (0,)),
                                    mode="clip"))
    expected = np.zeros(300, np.int32)
    expected[[127, 0, 5]] = [1, 2, 3]
    np.testing.assert_array_equal(out, expected)


def test_scatter_python_scalar_update_and_weak_type():
    x = np.zeros(4, np.float16)
    out = ix.scatter(x, np.array([2], np.int32), 5.0, SDN((), (0,), (0,)))
    assert out.dtype == np.float16 and not out.aval.weak_type
    np.testing.assert_array_equal(np.asarray(out), np.array([0, 0, 5, 0], np.float16))


@pytest.mark.parametrize("fn, kwargs, error, match", [
    (ix.scatter, dict(u=np.ones((2, 4), np.int32)), TypeError,
     r"same dtype, got f32\[5,4\] and i32\[2,4\]"),
    (ix.scatter_add, dict(x=np.ones((5, 4), bool), u=np.ones((2, 4), bool)), TypeError,
     "does not accept dtype bool"),
    (ix.scatter_mul, dict(x=np.ones((5, 4), bool), u=np.ones((2, 4), bool)), TypeError,
     "does not accept dtype bool"),
    (ix.scatter, dict(i=np.zeros((2, 1), np.float32)), TypeError, "integer dtype"),
    (ix.scatter_add, dict(u=np.ones((2, 4, 1), np.float32)), TypeError,
     "updates must have rank 2"),
    (ix.scatter_min, dict(u=np.ones((3, 4), np.float32)), TypeError,
     "updates dimension 0 has size 3 but the indices' batch dimension 0 has size 2"),
    (ix.scatter_max, dict(x=np.ones((5, 3), np.float32)), TypeError,
     "update window dimension 1 has size 4, larger than the operand's 3"),
    (ix.scatter, dict(dn=SDN((1,), (), (0,))), TypeError, "must equal the operand's rank"),
    (ix.scatter, dict(dn=SDN((1,), (0,), (0, 1))), TypeError,
     r"scatter_dims_to_operand_dims \(0, 1\) must have one entry"),
    (ix.scatter, dict(dn=GDN((1,), (0,), (0,))), TypeError,
     "must be a lax.ScatterDimensionNumbers"),
    (ix.scatter_sub, dict(mode="bad"), ValueError, "Unknown gather/scatter mode"),
])
def test_scatter_errors(fn, kwargs, error, match):
    args = dict(x=np.ones((5, 4), np.float32), i=np.zeros((2, 1), np.int32),
                u=np.ones((2, 4), np.float32), dn=SDN((1,), (0,), (0,)))
    mode = kwargs.pop("mode", None)
    args.update(kwargs)
    with pytest.raises(error, match=match) as info:
        fn(args["x"], args["i"], args["u"], args["dn"], mode=mode)
    if error is TypeError:
        assert info.match(f"lax.{fn.__name__}")


def test_scatter_complex_min_max_compare_lexicographically():
    x = np.array([1 + 5j, 2 + 0j, 2 + 1j], np.complex64)
    u = np.array([1 + 4j, 3 - 9j, 2 + 2j], np.complex64)
    i = np.array([[0], [1], [2]], np.int32)
    dn = SDN((), (0,), (0,))
    np.testing.assert_array_equal(np.asarray(ix.scatter_min(x, i, u, dn)),
                                  np.array([1 + 4j, 2 + 0j, 2 + 1j], np.complex64))
    np.testing.assert_array_equal(np.asarray(ix.scatter_max(x, i, u, dn)),
                                  np.array([1 + 5j, 3 - 9j, 2 + 2j], np.complex64))
