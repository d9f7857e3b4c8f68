"""lamina.numpy sorting: sort/argsort (dtypes, axes, stability, descending order, NaN
placement) against numpy, lexsort, partition/argpartition properties, sort_complex."""
import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))
from op_records import ALL, rand_default  # noqa: E402

import lamina.numpy as lnp  # noqa: E402
from lamina.testing import assert_array_close  # noqa: E402


@pytest.mark.parametrize("dtype", ALL, ids=[d.name for d in ALL])
def test_sort_and_argsort_dtypes(dtype):
    x = rand_default(np.random.default_rng(0), (4, 6), dtype)
    assert_array_close(lnp.sort(x), np.sort(x, axis=-1, kind="stable"))
    assert_array_close(lnp.argsort(x, axis=0),
                       np.argsort(x, axis=0, kind="stable").astype(np.int32))


@pytest.mark.parametrize("shape,axis", [((7,), 0), ((3, 5), 0), ((3, 5), 1), ((2, 3, 4), 1),
                                        ((2, 3, 4), None), ((0, 3), 0), ((3, 0), -1)])
def test_sort_axes(shape, axis):
    x = np.random.default_rng(1).integers(-3, 3, shape).astype(np.float32)
    assert_array_close(lnp.sort(x, axis=axis), np.sort(x, axis=axis))
    assert_array_close(lnp.argsort(x, axis=axis),
                       np.argsort(x, axis=axis, kind="stable").astype(np.int32))


def test_stability_and_descending():
    x = np.array([2, 1, 2, 0, 1, 2, 0], np.int32)
    assert_array_close(lnp.argsort(x), np.argsort(x, kind="stable").astype(np.int32))
    # Stable descending: equal elements keep their input order (numpy's stable=True
    # applied to -x, and jax's rule).
    expected = np.argsort(-x, kind="stable").astype(np.int32)
    assert_array_close(lnp.argsort(x, descending=True), expected)
    assert_array_close(lnp.sort(x, descending=True), np.sort(x)[::-1])
    unstable = np.asarray(lnp.argsort(x, stable=False))
    assert np.array_equal(x[unstable], np.sort(x))
    m = np.array([[3, 1, 3], [1, 1, 0]], np.int8)
    assert_array_close(lnp.argsort(m, axis=1, descending=True),
                       np.argsort(-m.astype(np.int32), axis=1, kind="stable").astype(np.int32))


def test_nan_and_signed_zero_placement():
    x = np.array([np.nan, 1.0, -np.inf, -0.0, np.nan, 0.0, np.inf, -1.0], np.float32)
    assert_array_close(lnp.sort(x), np.sort(x))
    assert_array_close(lnp.argsort(x), np.argsort(x, kind="stable").astype(np.int32))
    # NaNs go last in descending order too (jax: the sorted array, reversed).
    import jax.numpy as jnp
    assert_array_close(lnp.sort(x, descending=True), np.asarray(jnp.sort(x, descending=True)))
    assert_array_close(lnp.argsort(x, descending=True),
                       np.asarray(jnp.argsort(x, descending=True)))
    c = np.array([1 + 2j, np.nan, 1 - 1j, -2 + 5j, 1 + 0j], np.complex64)
    assert_array_close(lnp.sort(c), np.sort(c))


def test_argsort_dtype_and_errors():
    x = np.array([3, 1, 2], np.float32)
    assert lnp.argsort(x, dtype=np.int16).dtype == np.int16
    with pytest.raises(TypeError, match="kind"):
        lnp.sort(x, kind="quicksort")
    with pytest.raises(TypeError, match="order"):
        lnp.argsort(x, order="a")
    with pytest.raises(ValueError, match="axis 1 is out of bounds"):
        lnp.sort(x, axis=1)
    with pytest.raises(TypeError, match="integer dtype"):
        lnp.argsort(x, dtype=np.float32)
    with pytest.raises(TypeError, match="array-like"):
        lnp.sort([3, 1])
    assert_array_close(lnp.sort(np.float32(2), axis=None), np.array([2.0], np.float32))


def test_lexsort():
    rng = np.random.default_rng(2)
    keys = [rng.integers(0, 3, 10).astype(np.int32), rng.integers(0, 2, 10).astype(np.float32)]
    assert_array_close(lnp.lexsort(keys), np.lexsort(keys).astype(np.int32))
    grid = rng.integers(0, 3, (2, 3, 4)).astype(np.int8)
    assert_array_close(lnp.lexsort(grid, axis=0), np.lexsort(grid, axis=0).astype(np.int32))
    assert_array_close(lnp.lexsort([grid[0], grid[1]], axis=1),
                       np.lexsort([grid[0], grid[1]], axis=1).astype(np.int32))
    with pytest.raises(ValueError, match="same shape"):
        lnp.lexsort([np.ones(2), np.ones(3)])
    with pytest.raises(TypeError, match="len > 0"):
        lnp.lexsort([])


@pytest.mark.parametrize("dtype", [np.float32, np.int32, np.uint8, np.bool_])
@pytest.mark.parametrize("kth", [0, 2, -1])
def test_partition_properties(dtype, kth):
    x = rand_default(np.random.default_rng(3), (3, 7), np.dtype(dtype))
    for axis in [1, 0]:
        k = kth % x.shape[axis]
        part = np.asarray(lnp.partition(x, kth, axis=axis))
        ref = np.sort(x, axis=axis, kind="stable")
        pivot = np.take(ref, [k], axis=axis)
        assert np.array_equal(np.take(part, [k], axis=axis), pivot)
        assert np.all(np.take(part, range(k), axis=axis) <= pivot)
        assert np.all(np.take(part, range(k + 1, x.shape[axis]), axis=axis) >= pivot)
        idx = np.asarray(lnp.argpartition(x, kth, axis=axis))
        assert np.array_equal(np.take_along_axis(x, idx, axis), part)


def test_partition_errors():
    with pytest.raises(NotImplementedError, match="complex"):
        lnp.partition(np.ones(3, np.complex64), 1)
    with pytest.raises(ValueError, match="kth=5 is out of bounds"):
        lnp.partition(np.ones(3, np.float32), 5)


def test_sort_complex():
    for x in [np.array([3, 1, 2], np.int32), np.array([1 + 1j, 1 - 1j, -1 + 0j], np.complex64),
              np.array([2.0, -1.0], np.float16)]:
        out = lnp.sort_complex(x)
        assert out.dtype == np.complex64
        assert_array_close(out, np.sort_complex(x).astype(np.complex64))
