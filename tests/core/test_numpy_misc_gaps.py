"""The smaller jax.numpy functions lamina.numpy added together: window functions
(windows.py), index expressions and mask_indices (index_tricks.py), packbits and
unpackbits (bit_packing.py), put and place (array_updates.py), histogram2d and
histogramdd (histograms.py) and the print options (printing.py). Values, dtypes and
weak types against jax.numpy; jit where jax allows it; errors."""
import numpy as np
import pytest

import lamina
import lamina.numpy as lnp
from lamina.errors import ConcretizationError

jax = pytest.importorskip("jax")
jnp = jax.numpy

from like_jax import assert_like_jax, both  # noqa: E402


# --------------------------------------------------------------------------------------
# Windows
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["bartlett", "blackman", "hamming", "hanning"])
def test_windows_match_jax_and_numpy(name):
    for m in (1, 6):
        lam, ref = getattr(lnp, name)(m), getattr(jnp, name)(m)
        assert_like_jax(lam, ref, f"{name}({m})", atol=1e-6)
        np.testing.assert_allclose(np.asarray(lam), getattr(np, name)(m), atol=1e-6)


def test_kaiser_values_traced_beta_and_grad():
    for m, beta in ((1, 2.0), (7, 5.0)):
        assert_like_jax(lnp.kaiser(m, beta), jnp.kaiser(m, beta), rtol=1e-5)
        np.testing.assert_allclose(np.asarray(lnp.kaiser(m, beta)), np.kaiser(m, beta),
                                   rtol=1e-5)
    f = lamina.jit(lambda b: lnp.kaiser(5, b))
    assert_like_jax(f(np.float32(3.0)), jnp.kaiser(5, np.float32(3.0)), rtol=1e-5)
    g_l = lamina.grad(lambda b: lnp.kaiser(5, b).sum())(np.float32(3.0))
    g_j = jax.grad(lambda b: jnp.kaiser(5, b).sum())(np.float32(3.0))
    assert_like_jax(g_l, g_j, rtol=1e-4)


def test_window_length_must_be_static_and_non_negative():
    with pytest.raises(ConcretizationError, match="window length"):
        lamina.jit(lnp.hanning)(5)
    with pytest.raises(ValueError, match="M must be non-negative, got -2"):
        lnp.bartlett(-2)
    with pytest.raises(TypeError, match="M must be an integer window length"):
        lnp.hamming(None)


# --------------------------------------------------------------------------------------
# mgrid, ogrid, r_, c_, s_, index_exp, mask_indices
# --------------------------------------------------------------------------------------

GRIDS = [
    ("1d", lambda g: g[0:3]), ("2d", lambda g: g[0:2, 0:3]),
    ("complex-step", lambda g: g[0:1:3j]), ("mixed", lambda g: g[0:1:3j, 0:2]),
    ("float", lambda g: g[0.5:2]), ("step", lambda g: g[5:0:-2]),
]


@pytest.mark.parametrize("name, index", GRIDS, ids=[g[0] for g in GRIDS])
def test_mgrid_and_ogrid_match_jax(name, index):
    assert_like_jax(index(lnp.mgrid), index(jnp.mgrid), name)
    lam, ref = index(lnp.ogrid), index(jnp.ogrid)
    assert_like_jax(lam, ref, name)
    np.testing.assert_allclose(np.asarray(index(lnp.mgrid)), index(np.mgrid), rtol=1e-6)


def test_grids_under_jit_and_errors():
    assert_like_jax(lamina.jit(lambda: lnp.mgrid[0:2, 0:3])(), jnp.mgrid[0:2, 0:3])
    assert_like_jax(lnp.mgrid[()], jnp.mgrid[()])
    with pytest.raises(ConcretizationError, match="slice stop must be concrete"):
        lamina.jit(lambda n: lnp.mgrid[0:n])(3)
    with pytest.raises(TypeError, match="takes slices"):
        lnp.mgrid[0:2, 3]


CONCAT = [
    ("r-scalars", lambda R, C: R[1, 2, 3]),
    ("r-mixed", lambda R, C: R[np.array([1, 2], np.int32), 3.5, 0:2]),
    ("r-lists", lambda R, C: R[[1, 2], [3]]),
    ("r-ndmin", lambda R, C: R["0,2", [1, 2], [3, 4]]),
    ("r-trans1d", lambda R, C: R["1,2,0", [1, 2], [3, 4]]),
    ("r-matrix-c", lambda R, C: R["c", [1, 2], [3, 4]]),
    ("r-matrix-r", lambda R, C: R["r", [1, 2], [3, 4]]),
    ("r-2d", lambda R, C: R[np.ones((2, 2), np.float32), np.zeros((1, 2), np.float32)]),
    ("c-vectors", lambda R, C: C[np.array([1, 2], np.int32), np.array([3, 4], np.int32)]),
    ("c-matrix", lambda R, C: C[np.ones((2, 2), np.float32), [3, 4]]),
    ("c-slice", lambda R, C: C[0:3, 3:6]),
]


@pytest.mark.parametrize("name, index", CONCAT, ids=[c[0] for c in CONCAT])
def test_r_and_c_match_jax_and_numpy(name, index):
    lam, ref = index(lnp.r_, lnp.c_), index(jnp.r_, jnp.c_)
    assert_like_jax(lam, ref, name)
    if "matrix" not in name:  # numpy returns its deprecated np.matrix there
        np.testing.assert_allclose(np.asarray(lam), np.asarray(index(np.r_, np.c_)))


def test_concatenators_errors_and_index_expressions():
    with pytest.raises(ValueError, match="could not understand the directive 'x'"):
        lnp.r_["x", [1]]
    with pytest.raises(ValueError, match="must come first"):
        lnp.r_[[1], "r"]
    with pytest.raises(ValueError, match="at least one array"):
        lnp.r_[()]
    assert len(lnp.r_) == len(lnp.c_) == 0
    assert lnp.s_[1:2, ::3] == np.s_[1:2, ::3] and lnp.index_exp[1:2] == (slice(1, 2),)
    x = lnp.arange(10)
    assert x[lnp.s_[2:8:2]].tolist() == [2, 4, 6]


def test_mask_indices_match_jax():
    for k, size in ((1, None), (-1, 8)):
        lam = lnp.mask_indices(4, lnp.triu, k, size=size)
        ref = jnp.mask_indices(4, jnp.triu, k, size=size)
        assert_like_jax(lam, ref, f"k={k} size={size}")
    rows, cols = lnp.mask_indices(3, lnp.tril)
    np.testing.assert_array_equal(np.asarray(rows), np.mask_indices(3, np.tril)[0])
    np.testing.assert_array_equal(np.asarray(cols), np.mask_indices(3, np.tril)[1])


# --------------------------------------------------------------------------------------
# packbits, unpackbits
# --------------------------------------------------------------------------------------

PACK = [
    ("flat", np.array([1, 0, 1, 1, 0, 0, 0, 1, 1], np.int32), {}),
    ("bool-axis", np.array([[True, False, True], [True, True, True]]), {"axis": 1}),
    ("little", np.array([[1, 0, 1], [1, 1, 1]], np.uint8), {"axis": 0, "bitorder": "little"}),
    ("3d", (np.arange(60).reshape(3, 4, 5) % 3).astype(np.int8), {"axis": -1}),
]


@pytest.mark.parametrize("name, a, kwargs", PACK, ids=[p[0] for p in PACK])
def test_packbits_matches_jax_and_numpy(name, a, kwargs):
    lam, ref = both(lambda np_, x: np_.packbits(x, **kwargs), a)
    assert_like_jax(lam, ref, name)
    np.testing.assert_array_equal(np.asarray(lam), np.packbits(a, **kwargs))


UNPACK = [
    ("flat", {}), ("axis", {"axis": 1}), ("count", {"axis": 0, "count": 3}),
    ("count-neg", {"count": -3}), ("count-pad", {"axis": 1, "count": 20, "bitorder": "little"}),
]


@pytest.mark.parametrize("name, kwargs", UNPACK, ids=[u[0] for u in UNPACK])
def test_unpackbits_matches_jax_and_numpy(name, kwargs):
    a = np.array([[5, 255], [128, 0]], np.uint8)
    lam, ref = both(lambda np_, x: np_.unpackbits(x, **kwargs), a)
    assert_like_jax(lam, ref, name)
    np.testing.assert_array_equal(np.asarray(lam), np.unpackbits(a, **kwargs))


def test_bits_roundtrip_under_jit_and_errors():
    bits = (np.arange(21) % 3 == 0)
    packed = lamina.jit(lnp.packbits, static_argnames="axis")(bits, axis=0)
    out = lamina.jit(lnp.unpackbits, static_argnames="count")(packed, count=21)
    np.testing.assert_array_equal(np.asarray(out), bits.astype(np.uint8))
    with pytest.raises(TypeError, match=r"integer or boolean array, got f32\[2\]"):
        lnp.packbits(lnp.array([1.0, 0.0]))
    with pytest.raises(TypeError, match=r"expected a uint8 array, got i32\[1\]"):
        lnp.unpackbits(lnp.array([5]))
    with pytest.raises(ValueError, match="bitorder must be 'big' or 'little'"):
        lnp.packbits(lnp.array([1]), bitorder="middle")


# --------------------------------------------------------------------------------------
# put, place
# --------------------------------------------------------------------------------------

PUT = [
    ("basic", [0, 2, 4], [10, 20, 30], None),
    ("cycled-values", [1, 3, 4], [7], None),
    ("out-of-bounds", [0, 7, -2], [10, 20, 30], None),
    ("clip", [0, 7, -1], [10, 20, 30], "clip"),
    ("wrap", [0, 7, -1], [10, 20, 30], "wrap"),
]


@pytest.mark.parametrize("name, ind, v, mode", PUT, ids=[p[0] for p in PUT])
def test_put_matches_jax(name, ind, v, mode):
    a = np.zeros(5, np.int32)
    ind, v = np.array(ind, np.int32), np.array(v, np.int32)
    lam, ref = both(lambda np_, x, i, w: np_.put(x, i, w, mode=mode, inplace=False), a, ind, v)
    assert_like_jax(lam, ref, name)


def test_put_nd_jit_and_errors():
    a, ind, v = np.zeros((2, 3), np.float32), np.array([1, 5], np.int32), np.array([1.0, 2.0],
                                                                                   np.float32)
    f = lamina.jit(lambda x, i, w: lnp.put(x, i, w, inplace=False))
    assert_like_jax(f(a, ind, v), jnp.put(a, ind, v, inplace=False))
    with pytest.raises(ValueError, match="Pass inplace=False"):
        lnp.put(lnp.asarray(a), ind, v)
    with pytest.raises(NotImplementedError, match="mode='raise' is not supported"):
        lnp.put(lnp.asarray(a), ind, v, mode="raise", inplace=False)
    with pytest.raises(ValueError, match="mode must be None, 'clip' or 'wrap'"):
        lnp.put(lnp.asarray(a), ind, v, mode="fill", inplace=False)
    with pytest.raises(TypeError, match=r"indices must be integers, got f32\[1\]"):
        lnp.put(lnp.asarray(a), lnp.array([0.0]), v, inplace=False)


def test_place_matches_jax_and_numpy_under_jit():
    arr = np.zeros((2, 3), np.int32)
    mask = np.array([[1, 0, 1], [0, 1, 1]])
    vals = np.array([1, 2], np.int32)
    lam, ref = both(lambda np_, a, m, v: np_.place(a, m, v, inplace=False), arr, mask, vals)
    assert_like_jax(lam, ref)
    expected = arr.copy()
    np.place(expected, mask, vals)
    np.testing.assert_array_equal(np.asarray(lam), expected)
    f = lamina.jit(lambda a, m, v: lnp.place(a, m, v, inplace=False))
    assert_like_jax(f(arr, mask.astype(bool), vals), ref)
    with pytest.raises(ValueError, match="Pass inplace=False"):
        lnp.place(lnp.asarray(arr), lnp.asarray(mask), lnp.asarray(vals))
    with pytest.raises(ValueError, match="cannot place values from an empty array"):
        lnp.place(lnp.asarray(arr), lnp.asarray(mask), lnp.zeros(0, int), inplace=False)
    with pytest.raises(ValueError, match=r"same size, got i32\[2,3\] and bool\[5\]"):
        lnp.place(lnp.asarray(arr), lnp.ones(5, bool), lnp.asarray(vals), inplace=False)


# --------------------------------------------------------------------------------------
# histogram2d, histogramdd
# --------------------------------------------------------------------------------------

HX = np.array([0.1, 0.45, 0.5, 0.9, 0.3, 0.75, 0.2], np.float32)
HY = np.array([1.0, 2.1, 2.5, 3.0, 1.5, 2.9, 1.2], np.float32)
HIST2D = [
    ("count", {"bins": 3}),
    ("weights", {"bins": 3, "weights": np.arange(7, dtype=np.float32)}),
    ("density", {"bins": [2, 3], "density": True}),
    ("edges", {"bins": np.array([0.0, 0.25, 1.0, 2.0, 3.0], np.float32)}),
]


@pytest.mark.parametrize("name, kwargs", HIST2D, ids=[h[0] for h in HIST2D])
def test_histogram2d_matches_jax_and_numpy(name, kwargs):
    lam = lnp.histogram2d(lnp.asarray(HX), lnp.asarray(HY), **kwargs)
    ref = jnp.histogram2d(jnp.asarray(HX), jnp.asarray(HY), **kwargs)
    assert_like_jax(lam, ref, name, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(lam[0]), np.histogram2d(HX, HY, **kwargs)[0],
                               rtol=1e-5)


def test_histogramdd_matches_jax_and_jits():
    sample = np.stack([HX, HY, HX * HY], axis=1)
    lam = lnp.histogramdd(lnp.asarray(sample), bins=(2, 3, 2))
    ref = jnp.histogramdd(jnp.asarray(sample), bins=(2, 3, 2))
    assert_like_jax(lam, ref)
    np.testing.assert_array_equal(np.asarray(lam[0]), np.histogramdd(sample, bins=(2, 3, 2))[0])
    f = lamina.jit(lambda s: lnp.histogramdd(s, bins=2, range=[(0, 1), (1, 3), None]))
    assert_like_jax(f(sample), jnp.histogramdd(sample, bins=2, range=[(0, 1), (1, 3), None]))
    with pytest.raises(ValueError, match=r"2-D array of shape \(N, D\), got shape \(7,\)"):
        lnp.histogramdd(lnp.asarray(HX))
    with pytest.raises(ValueError, match=r"one weight per sample, shape \(7,\), got \(4,\)"):
        lnp.histogramdd(lnp.asarray(sample), weights=lnp.ones(4))
    with pytest.raises(ValueError, match=r"one bins entry per dimension \(3\), got 2"):
        lnp.histogramdd(lnp.asarray(sample), bins=[2, 2])
    with pytest.raises(ValueError, match="range must be a sequence of 3"):
        lnp.histogramdd(lnp.asarray(sample), range=[(0, 1)])


# --------------------------------------------------------------------------------------
# Printing and re-exported numpy helpers
# --------------------------------------------------------------------------------------


def test_print_options_and_numpy_helpers():
    x = lnp.array([1 / 3, 2.0])
    with lnp.printoptions(precision=3) as opts:
        assert opts["precision"] == 3 and lnp.get_printoptions()["precision"] == 3
        assert repr(x) == "Array([0.333, 2.   ], dtype=float32)"
    before = lnp.get_printoptions()
    try:
        lnp.set_printoptions(precision=2)
        assert str(x) == "[0.33 2.  ]"
    finally:
        lnp.set_printoptions(**before)
    assert lnp.get_printoptions() == np.get_printoptions()
    assert lnp.array_str(x) == np.array_str(np.asarray(x))
    assert lnp.array_repr(lnp.arange(3)) == "Array([0, 1, 2], dtype=int32)"
    assert lnp.iterable(x) and not lnp.iterable(lnp.asarray(1.0))
    assert lnp.ComplexWarning is jnp.ComplexWarning
