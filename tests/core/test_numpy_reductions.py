"""lamina.numpy reductions: what the OpRecord table cannot express.

* result dtypes and weak types against jax.numpy (`jax.eval_shape` is the oracle);
* NaN semantics (max vs nanmax, nanmean of all-NaN, nanargmax -1) against numpy/jax;
* multiple outputs (histogram, average(returned=True)), `where`/`initial` edge cases;
* errors that name the function (bad axis, empty reductions, bad arguments).
"""
import os
import sys
import warnings

import ml_dtypes
import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))

import lamina.numpy as lnp  # noqa: E402
from lamina.testing import assert_array_close  # noqa: E402

bf16 = ml_dtypes.bfloat16

NAMES = ["sum", "prod", "max", "min", "mean", "var", "std", "all", "any", "argmax",
         "argmin", "cumsum", "cumprod", "nansum", "nanmax", "nanmean", "nanvar",
         "nanargmin", "nancumsum", "ptp", "count_nonzero", "median", "nanmedian",
         "average", "cumulative_sum"]
INPUTS = [1.5, 2, np.array([[1, 2], [3, 4]], np.int8), np.array([1, 2], np.uint8),
          np.array([1.5, 2], bf16), np.array([True, False]),
          np.array([1 + 1j, 2], np.complex64)]
KWARGS = [{}, {"axis": 0, "keepdims": True}, {"dtype": np.float32}]


def _describe(fn, *args, **kwargs):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", np.exceptions.ComplexWarning)
            out = fn(*args, **kwargs)
    except (TypeError, ValueError, IndexError) as e:
        return "error: " + ("ValueError" if isinstance(e, IndexError) else type(e).__name__)
    outs = out if isinstance(out, tuple) else (out,)
    return tuple(f"{np.dtype(o.dtype).name}{'~' if o.weak_type else ''}{tuple(o.shape)}"
                 for o in outs)


def _jax_describe(name, *args, **kwargs):
    import jax
    import jax.numpy as jnp
    return _describe(lambda *a: jax.eval_shape(
        lambda *b: getattr(jnp, name)(*b, **kwargs), *a), *args)


@pytest.mark.parametrize("name", NAMES)
def test_dtypes_and_weak_types_match_jax(name):
    import inspect
    params = inspect.signature(getattr(lnp, name)).parameters
    for x in INPUTS:
        for kw in KWARGS:
            if not all(k in params for k in kw):
                continue
            if name == "cumulative_sum" and "axis" not in kw and np.ndim(x) != 1:
                kw = {**kw, "axis": 0}
            assert _describe(getattr(lnp, name), x, **kw) == _jax_describe(name, x, **kw), (
                name, x, kw)


@pytest.mark.parametrize("name, args, kwargs", [
    ("quantile", (np.arange(6).reshape(2, 3), np.array([0.2, 0.5])), {"axis": 1}),
    ("quantile", (np.arange(6, dtype=bf16), np.float16(0.3)), {}),
    ("percentile", (np.arange(6, dtype=np.float16), 50), {"keepdims": True}),
    ("median", (np.arange(24).reshape(2, 3, 4),), {"axis": (0, 2), "keepdims": True}),
    ("histogram", (np.arange(6),), {}),
    ("histogram", (np.arange(6, dtype=np.float16),), {"weights": np.ones(6, np.float32)}),
    ("histogram_bin_edges", (np.arange(6),), {"bins": 3}),
    ("bincount", (np.array([1, 2, 2], np.uint8), np.array([1.0, 2, 3], np.float16)),
     {"length": 4}),
    ("cov", (np.arange(6).reshape(2, 3),), {}),
    ("cov", (np.arange(3),), {}),
    ("corrcoef", (np.arange(6.0).reshape(2, 3),), {}),
    ("average", (np.arange(6).reshape(2, 3),),
     {"axis": 1, "weights": np.array([1, 2, 3]), "returned": True}),
    ("average", (np.arange(6.0).reshape(2, 3),), {"returned": True}),
    ("sum", (np.arange(6).reshape(2, 3),), {"initial": 2.5}),
    ("max", (np.arange(6).reshape(2, 3),), {"initial": 2.5}),
    ("var", (np.arange(6.0).reshape(2, 3),), {"ddof": 5, "axis": 1}),
    ("var", (np.arange(6).reshape(2, 3),), {"dtype": np.int8}),
    ("nanvar", (np.arange(6.0).reshape(2, 3),), {"dtype": np.int8}),
    ("cumsum", (np.arange(6).reshape(2, 3),), {"dtype": bool}),
])
def test_more_dtypes_match_jax(name, args, kwargs):
    assert _describe(getattr(lnp, name), *args, **kwargs) == _jax_describe(
        name, *args, **kwargs)


# --------------------------------------------------------------------------------------
# NaN semantics
# --------------------------------------------------------------------------------------

X_NAN = np.array([[np.nan, np.nan, np.nan], [1.0, np.nan, -2.0], [3.0, 0.5, 2.0]],
                 np.float32)


def _np(fn, *args, **kwargs):
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


@pytest.mark.parametrize("name", ["max", "min", "nanmax", "nanmin", "nansum", "nanprod",
                                  "nanmean", "nanvar", "nanstd", "mean", "median",
                                  "nanmedian", "nancumsum", "argmax", "argmin"])
def test_nan_semantics_match_numpy(name):
    for axis in (None, 1):
        ref = _np(getattr(np, name), X_NAN, axis=axis)
        ref = np.asarray(ref).astype(np.int32 if "arg" in name else np.float32)
        assert_array_close(getattr(lnp, name)(X_NAN, axis=axis), ref, err_msg=name)


def test_nanargmax_of_all_nan_is_minus_one_as_jax():
    import jax.numpy as jnp
    for name in ("nanargmax", "nanargmin"):
        got = getattr(lnp, name)(X_NAN, axis=1)
        np.testing.assert_array_equal(np.asarray(got), np.asarray(getattr(jnp, name)(X_NAN,
                                                                                       axis=1)))
        assert int(np.asarray(got)[0]) == -1


def test_var_with_too_few_elements_is_nan():
    x = np.ones((2, 3), np.float32)
    assert np.isnan(np.asarray(lnp.var(x, axis=1, ddof=3))).all()
    assert np.isnan(np.asarray(lnp.nanvar(X_NAN, axis=1, ddof=1)))[0]
    empty = lnp.mean(x, axis=1, where=np.zeros((2, 3), bool))
    assert np.isnan(np.asarray(empty)).all()
    assert np.isnan(float(lnp.mean(np.zeros((0,), np.float32))))


# --------------------------------------------------------------------------------------
# Keywords and multiple outputs
# --------------------------------------------------------------------------------------


def test_where_initial_keepdims_combinations():
    x = np.arange(12, dtype=np.float32).reshape(3, 4) - 5
    mask_row = np.array([True, False, True, False])  # broadcasts against (3, 4)
    for name, kw in (("sum", {}), ("prod", {}), ("max", {"initial": -100.0}),
                     ("min", {"initial": 100.0}), ("mean", {}), ("var", {}),
                     ("all", {}), ("any", {}), ("count_nonzero", {})):
        fn_kw = {**kw, "where": mask_row} if name != "count_nonzero" else {}
        for axis, keepdims in ((None, False), (0, True), ((0, 1), True), (-1, False)):
            got = getattr(lnp, name)(x, axis=axis, keepdims=keepdims, **fn_kw)
            ref = np.asarray(_np(getattr(np, name), x.astype(np.float64), axis=axis,
                                 keepdims=keepdims, **fn_kw))
            assert_array_close(got, ref.astype(np.asarray(got).dtype), err_msg=name)
    assert_array_close(lnp.max(np.zeros((0, 3), np.float32), axis=0, initial=1.0),
                       np.ones(3, np.float32))
    assert_array_close(lnp.sum(np.ones((0, 3), np.int8)), np.int32(0))
    assert lnp.sum(np.ones((2,), np.int8), dtype=np.int8).dtype == np.int8
    assert lnp.sum(np.ones((2,), np.int8), promote_integers=False).dtype == np.int8
    assert_array_close(lnp.sum(np.full(4, 1000, np.float16)), np.float16(4000))


def test_average_and_returned():
    a = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    w = np.linspace(0.5, 2, 4).astype(np.float32)
    avg, wsum = lnp.average(a, axis=2, weights=w, returned=True)
    avg_ref, wsum_ref = np.average(a, axis=2, weights=w, returned=True)
    assert_array_close(avg, avg_ref.astype(np.float32), rtol=1e-6)
    assert_array_close(wsum, wsum_ref.astype(np.float32))
    avg, wsum = lnp.average(a, axis=(0, 1), returned=True, keepdims=True)
    assert avg.shape == (1, 1, 4) and wsum.shape == (1, 1, 4)
    assert_array_close(wsum, np.full((1, 1, 4), 6.0, np.float32))


def test_histogram_matches_numpy():
    rng = np.random.default_rng(0)
    x = rng.normal(size=50).astype(np.float32)
    for kw in ({}, {"bins": np.array([-2.0, -0.5, 0.0, 0.3, 2.0], np.float32)},
               {"range": (-1.0, 1.0), "bins": 4, "density": True}):
        counts, edges = lnp.histogram(x, **kw)
        counts_ref, edges_ref = np.histogram(x, **kw)
        assert_array_close(edges, edges_ref.astype(np.float32), rtol=1e-6, atol=1e-6)
        assert_array_close(counts, counts_ref.astype(np.float32), rtol=1e-5, atol=1e-6,
                           err_msg=str(kw))
    w = rng.uniform(size=50).astype(np.float32)
    counts, _ = lnp.histogram(x, bins=3, weights=w)
    assert_array_close(counts, np.histogram(x, bins=3, weights=w)[0].astype(np.float32),
                       rtol=1e-5)
    counts, edges = lnp.histogram(np.full(4, 2.0, np.float32), bins=2)
    assert_array_close(edges, np.array([1.5, 2.0, 2.5], np.float32))
    assert_array_close(counts, np.array([0.0, 4.0], np.float32))


def test_bincount_lengths():
    x = np.array([0, 3, 3, -2, 7], np.int32)
    assert_array_close(lnp.bincount(x), np.bincount(np.maximum(x, 0)).astype(np.int32))
    assert_array_close(lnp.bincount(x, minlength=10),
                       np.bincount(np.maximum(x, 0), minlength=10).astype(np.int32))
    assert_array_close(lnp.bincount(x, length=4), np.array([2, 0, 0, 2], np.int32))
    assert_array_close(lnp.bincount(np.zeros(0, np.int32)), np.zeros(0, np.int32))
    assert_array_close(lnp.bincount(np.array([True, True])), np.array([0, 2], np.int32))


def test_quantile_methods_match_jax():
    import jax.numpy as jnp
    x = np.array([[3.0, 1.0, 4.0, 1.0, 5.0], [9.0, 2.0, 6.0, 5.0, 3.0]], np.float32)
    q = np.array([0.0, 0.125, 0.25, 0.5, 0.625, 1.0], np.float32)
    for method, axis in (("linear", None), ("lower", 1), ("higher", (0, 1)),
                         ("midpoint", 1), ("nearest", 1), ("nearest", None)):
        got = lnp.quantile(x, q, axis=axis, method=method)
        ref = jnp.quantile(x, q, axis=axis, method=method)
        assert_array_close(got, np.asarray(ref), err_msg=f"{method} {axis}")
    got = lnp.nanquantile(X_NAN, 0.5, axis=1, keepdims=True)
    assert_array_close(got, np.asarray(jnp.nanquantile(X_NAN, 0.5, axis=1, keepdims=True)))
    assert_array_close(lnp.median(np.float32(3.0)), np.float32(3.0))


def test_cumulative_keywords():
    x = np.arange(1, 7, dtype=np.int8).reshape(2, 3)
    assert_array_close(lnp.cumsum(x), np.cumsum(x).astype(np.int8))
    assert_array_close(lnp.cumsum(x, axis=1, dtype=bool), np.cumsum(x, axis=1,
                                                                      dtype=bool))
    assert_array_close(lnp.cumprod(x, axis=0, dtype=np.float32),
                       np.cumprod(x, axis=0, dtype=np.float32))
    assert_array_close(lnp.cumulative_prod(x, axis=1, include_initial=True),
                       np.cumulative_prod(x, axis=1, include_initial=True).astype(np.int8))
    assert_array_close(lnp.cumulative_sum(np.array([True, True, False])),
                       np.array([1, 2, 2], np.int32))
    assert lnp.cumsum(np.float32(2.0)).shape == (1,)


def test_reduction_methods_on_arrays():
    x = lnp.asarray(np.arange(12, dtype=np.float32).reshape(3, 4))
    assert_array_close(x.sum(axis=0), np.arange(12.0).reshape(3, 4).sum(0).astype(np.float32))
    assert_array_close(x.mean(), np.float32(5.5))
    assert_array_close(x.max(axis=1, keepdims=True), np.array([[3.0], [7.0], [11.0]],
                                                              np.float32))
    assert int(x.argmax()) == 11 and int(x.argmin(axis=None)) == 0
    assert_array_close(x.std(ddof=1), np.float32(np.arange(12.0).std(ddof=1)))
    assert_array_close(x.cumsum(axis=1)[:, -1], np.array([6.0, 22.0, 38.0], np.float32))
    assert_array_close(x.ptp(), np.float32(11.0))
    assert bool(x.any()) and not bool(x.all())


# --------------------------------------------------------------------------------------
# Errors name the function
# --------------------------------------------------------------------------------------

X = np.ones((2, 3), np.float32)


@pytest.mark.parametrize("call, exc, match", [
    (lambda: lnp.sum(X, axis=2), ValueError, "sum.*axis 2.*rank 2"),
    (lambda: lnp.mean(X, axis=(0, 0)), ValueError, "mean.*repeated"),
    (lambda: lnp.max(X, axis=1.5), TypeError, "max"),
    (lambda: lnp.argmax(X, axis=-3), ValueError, "argmax.*axis -3"),
    (lambda: lnp.sum(X, where=np.ones((2, 3))), ValueError, "sum.*where.*bool"),
    (lambda: lnp.sum(X, where=np.ones((3, 2), bool)), ValueError, "sum"),
    (lambda: lnp.max(np.zeros((0, 3))), ValueError, "max.*zero-size"),
    (lambda: lnp.min(np.zeros((0, 3)), axis=0), ValueError, "min.*zero-size"),
    (lambda: lnp.max(X, where=np.ones((2, 3), bool)), ValueError, "max.*initial"),
    (lambda: lnp.max(X, initial=np.ones(2)), ValueError, "max.*initial.*scalar"),
    (lambda: lnp.argmin(np.zeros((2, 0)), axis=1), ValueError, "argmin.*empty"),
    (lambda: lnp.sum(X, out=X), NotImplementedError, "sum.*out"),
    (lambda: lnp.var(X, ddof=1, correction=1), ValueError, "var.*ddof"),
    (lambda: lnp.std(X, dtype=np.int32), ValueError, "std.*inexact"),
    (lambda: lnp.var(np.ones(2, np.complex64), dtype=np.float32), ValueError, "var.*complex"),
    (lambda: lnp.quantile(X, 0.5, method="cubic"), ValueError, "quantile.*method"),
    (lambda: lnp.quantile(X, np.ones((2, 2)) / 2), ValueError, "quantile.*rank"),
    (lambda: lnp.quantile(np.ones(3, np.complex64), 0.5), ValueError, "quantile.*complex"),
    (lambda: lnp.median(X, out=X), ValueError, "median"),
    (lambda: lnp.bincount(np.ones(3, np.float32)), TypeError, "bincount.*integer"),
    (lambda: lnp.bincount(np.ones((2, 2), np.int32)), ValueError, "bincount.*1-d"),
    (lambda: lnp.average(X, weights=np.ones(3)), ValueError, "average.*axis"),
    (lambda: lnp.average(X, axis=1, weights=np.ones(2)), ValueError, "average"),
    (lambda: lnp.cumulative_sum(np.float32(1)), ValueError, "cumulative_sum.*rank"),
    (lambda: lnp.cumulative_sum(X), ValueError, "cumulative_sum.*axis"),
    (lambda: lnp.cumsum(X, axis=2), ValueError, "cumsum.*axis 2"),
    (lambda: lnp.cov(np.ones((2, 2, 2))), ValueError, "cov.*2 dimensions"),
    (lambda: lnp.histogram(X, bins=0), ValueError, "histogram_bin_edges.*positive"),
    (lambda: lnp.histogram(X, weights=np.ones(3)), ValueError, "histogram.*weights"),
    (lambda: lnp.ptp(np.array([True])), TypeError, "ptp.*bool"),
    (lambda: lnp.sum([1, 2]), TypeError, "sum"),
])
def test_errors_name_the_function(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
