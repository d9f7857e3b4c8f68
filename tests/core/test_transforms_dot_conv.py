"""JVP, transpose and batching rules of dot_general and conv_general_dilated.

Oracles: jax (jvp / vjp of the same function written with jax.lax), finite differences
(`lamina.testing.check_grads`, float64 under x64) and a Python loop (`check_vmap`).
`conv_transpose` is a wrapper over conv_general_dilated, so it has no rules of its own.
"""
import jax
import ml_dtypes
import numpy as np
import pytest
from jax import lax as jlax

import lamina
from lamina import lax
from lamina.config import config
from lamina.testing import assert_array_close, assert_trees_close, check_grads, check_vmap

TOL = dict(rtol=1e-4, atol=1e-4)  # float32 sums against jax's float32 sums


def _randn(shape, dtype=np.float32, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


# --------------------------------------------------------------------------------------
# Tables
# --------------------------------------------------------------------------------------

# name: (lhs shape, rhs shape, dimension_numbers)
DOT_CASES = {
    "matmul": ((3, 4), (4, 5), (((1,), (0,)), ((), ()))),
    "batched_matmul": ((2, 3, 4), (2, 4, 5), (((2,), (1,)), ((0,), (0,)))),
    # two contracting dims in another order and a batch dim that is not leading
    "multi_contract": ((3, 2, 4, 5), (5, 2, 4, 3), (((2, 3), (2, 0)), ((1,), (1,)))),
    "vector_dot": ((4,), (4,), (((0,), (0,)), ((), ()))),
    "outer": ((3,), (2,), (((), ()), ((), ()))),
}

NHWC = ("NHWC", "HWIO", "NHWC")
# name: (lhs shape, rhs shape, conv_general_dilated kwargs)
CONV_CASES = {
    "valid": ((2, 5, 6, 3), (3, 2, 3, 4),
              dict(window_strides=(1, 1), padding="VALID", dimension_numbers=NHWC)),
    "same_strided": ((2, 6, 5, 3), (3, 3, 3, 4),
                     dict(window_strides=(2, 1), padding="SAME", dimension_numbers=NHWC)),
    "explicit_pad_strided": ((1, 7, 6, 2), (2, 3, 2, 3),
                             dict(window_strides=(2, 3), padding=((1, 2), (0, 1)),
                                  dimension_numbers=NHWC)),
    "lhs_dilation": ((2, 4, 3, 2), (2, 2, 2, 3),
                     dict(window_strides=(1, 1), padding=((1, 0), (1, 1)),
                          lhs_dilation=(2, 1), dimension_numbers=NHWC)),
    "rhs_dilation": ((1, 7, 7, 2), (2, 3, 2, 3),
                     dict(window_strides=(1, 2), padding="SAME", rhs_dilation=(2, 2),
                          dimension_numbers=NHWC)),
    "feature_groups": ((2, 5, 5, 4), (3, 3, 2, 6),
                       dict(window_strides=(1, 1), padding="SAME", feature_group_count=2,
                            dimension_numbers=NHWC)),
    "batch_groups": ((4, 5, 4, 3), (2, 2, 3, 6),
                     dict(window_strides=(1, 1), padding="VALID", batch_group_count=2,
                          dimension_numbers=NHWC)),
    # default NC.../OI... layout, one spatial dim
    "nch_1d": ((2, 3, 7), (4, 3, 3),
               dict(window_strides=(2,), padding=((2, 1),))),
}


def _dot_fns(dnums):
    return (lambda x, y: lax.dot_general(x, y, dnums),
            lambda x, y: jlax.dot_general(x, y, dnums))


def _conv_fns(kwargs):
    return (lambda x, y: lax.conv_general_dilated(x, y, **kwargs),
            lambda x, y: jlax.conv_general_dilated(x, y, **kwargs))


def _cases():
    for name, (ls, rs, dn) in DOT_CASES.items():
        yield pytest.param(ls, rs, _dot_fns(dn), id=f"dot-{name}")
    for name, (ls, rs, kw) in CONV_CASES.items():
        yield pytest.param(ls, rs, _conv_fns(kw), id=f"conv-{name}")


    # conv_transpose is a wrapper: its derivatives come from conv_general_dilated's rules
    yield pytest.param(
        (1, 3, 4, 2), (3, 3, 3, 2),
        (lambda x, y: lax.conv_transpose(x, y, (2, 2), "SAME", transpose_kernel=True),
         lambda x, y: jlax.conv_transpose(x, y, (2, 2), "SAME", transpose_kernel=True)),
        id="conv_transpose")


CASES = list(_cases())


# --------------------------------------------------------------------------------------
# Differentiation
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("lhs_shape, rhs_shape, fns", CASES)
def test_jvp_and_vjp_match_jax(lhs_shape, rhs_shape, fns):
    f, jf = fns
    x, y = _randn(lhs_shape, seed=0), _randn(rhs_shape, seed=1)
    tx, ty = _randn(lhs_shape, seed=2), _randn(rhs_shape, seed=3)
    out, tout = lamina.jvp(f, (x, y), (tx, ty))
    jout, jtout = jax.jvp(jf, (x, y), (tx, ty))
    assert_array_close(out, np.asarray(jout), **TOL)
    assert_array_close(tout, np.asarray(jtout), **TOL)
    ct = _randn(np.shape(jout), seed=4)
    _, f_vjp = lamina.vjp(f, x, y)
    _, jf_vjp = jax.vjp(jf, x, y)
    assert_trees_close(tuple(f_vjp(ct)), tuple(np.asarray(g) for g in jf_vjp(ct)), **TOL)


@pytest.mark.parametrize("lhs_shape, rhs_shape, fns", CASES)
def test_check_grads_float64(lhs_shape, rhs_shape, fns):
    f, _ = fns
    with config.override(enable_x64=True):
        x = _randn(lhs_shape, np.float64, seed=0)
        y = _randn(rhs_shape, np.float64, seed=1)
        check_grads(f, (x, y), order=1)


@pytest.mark.parametrize("case", ["batched_matmul", "multi_contract"])
def test_dot_second_order(case):
    ls, rs, dn = DOT_CASES[case]
    f, _ = _dot_fns(dn)
    with config.override(enable_x64=True):
        check_grads(f, (_randn(ls, np.float64), _randn(rs, np.float64, seed=1)), order=2)


@pytest.mark.parametrize("case", ["feature_groups", "batch_groups", "lhs_dilation"])
def test_conv_second_order(case):
    ls, rs, kw = CONV_CASES[case]
    f, _ = _conv_fns(kw)
    with config.override(enable_x64=True):
        check_grads(f, (_randn(ls, np.float64), _randn(rs, np.float64, seed=1)), order=2,
                    modes=("rev",))


@pytest.mark.parametrize("lhs_dtype, rhs_dtype, preferred", [
    (ml_dtypes.bfloat16, ml_dtypes.bfloat16, np.float32),
    (np.float16, np.float32, None),
    (np.float32, np.float16, None),
    (np.int8, np.float32, None),
])
def test_dot_cotangent_dtypes(lhs_dtype, rhs_dtype, preferred):
    dn = (((1,), (0,)), ((), ()))
    x, y = _randn((3, 4), lhs_dtype), _randn((4, 2), rhs_dtype, seed=1)

    def f(x, y):
        return lax.dot_general(x, y, dn, preferred_element_type=preferred)

    def jf(x, y):
        return jlax.dot_general(x, y, dn, preferred_element_type=preferred)

    out, f_vjp = lamina.vjp(f, x, y)
    ct = np.ones(out.shape, out.dtype)
    gx, gy = f_vjp(ct)
    if np.issubdtype(np.dtype(lhs_dtype), np.integer):
        assert gx.dtype == lamina.dtypes.float0
    else:
        assert gx.dtype == np.dtype(lhs_dtype)
        assert_array_close(gx, np.asarray(jax.vjp(jf, x, y)[1](ct)[0]), rtol=1e-2, atol=1e-2)
    assert gy.dtype == np.dtype(rhs_dtype)


def test_conv_preferred_element_type_cotangent_dtype():
    ls, rs, kw = CONV_CASES["feature_groups"]
    x = _randn(ls, ml_dtypes.bfloat16)
    y = _randn(rs, ml_dtypes.bfloat16, seed=1)

    def f(x, y):
        return lax.conv_general_dilated(x, y, preferred_element_type=np.float32, **kw)

    out, f_vjp = lamina.vjp(f, x, y)
    assert out.dtype == np.float32
    gx, gy = f_vjp(np.ones(out.shape, np.float32))
    assert (gx.dtype, gy.dtype) == (x.dtype, y.dtype)
    jgx, jgy = jax.vjp(lambda x, y: jlax.conv_general_dilated(
        x, y, preferred_element_type=np.float32, **kw), x, y)[1](np.ones(out.shape, np.float32))
    assert_array_close(gx, np.asarray(jgx), rtol=2e-2, atol=2e-2)
    assert_array_close(gy, np.asarray(jgy), rtol=2e-2, atol=2e-2)


def test_conv_vjp_with_empty_batch():
    ls, rs, kw = CONV_CASES["same_strided"]
    f, jf = _conv_fns(kw)
    x, y = np.zeros((0, *ls[1:]), np.float32), _randn(rs)
    out, f_vjp = lamina.vjp(f, x, y)
    gx, gy = f_vjp(np.zeros(out.shape, out.dtype))
    jgx, jgy = jax.vjp(jf, x, y)[1](np.zeros(out.shape, out.dtype))
    assert_array_close(gx, np.asarray(jgx))
    assert_array_close(gy, np.asarray(jgy))


# --------------------------------------------------------------------------------------
# Batching
# --------------------------------------------------------------------------------------

VMAP_AXES = [(0, None), (None, 0), (0, 0), (1, None), (None, 1), (1, 2)]


def _batched(shape, axis, seed):
    if axis is None:
        return _randn(shape, seed=seed)
    shape = list(shape)
    shape.insert(axis, 2)
    return _randn(shape, seed=seed)


def _vmap_cases():
    for name, (ls, rs, dn) in DOT_CASES.items():
        for axes in VMAP_AXES:
            if all(a is None or a <= n for a, n in zip(axes, (len(ls), len(rs)))):
                yield pytest.param(ls, rs, _dot_fns(dn)[0], axes, id=f"dot-{name}-{axes}")
    for name, (ls, rs, kw) in CONV_CASES.items():
        for axes in VMAP_AXES:
            yield pytest.param(ls, rs, _conv_fns(kw)[0], axes, id=f"conv-{name}-{axes}")


@pytest.mark.parametrize("lhs_shape, rhs_shape, f, in_axes", list(_vmap_cases()))
def test_vmap_matches_loop(lhs_shape, rhs_shape, f, in_axes):
    args = (_batched(lhs_shape, in_axes[0], 0), _batched(rhs_shape, in_axes[1], 1))
    check_vmap(f, args, in_axes, **TOL)


def test_vmap_of_grad_and_grad_of_vmap():
    ls, rs, kw = CONV_CASES["feature_groups"]
    f, jf = _conv_fns(kw)
    xs, y = _randn((2, *ls)), _randn(rs, seed=1)
    ct = _randn((2, *jax.eval_shape(jf, xs[0], y).shape), seed=2)

    def g(x, y, ct):  # a linear functional of the output: <ct, f(x, y)>
        out = f(x, y)
        return lax.dot_general(out, ct, ((tuple(range(out.ndim)),) * 2, ((), ())))

    def jg(x, y, ct):
        out = jf(x, y)
        return jlax.dot_general(out, ct, ((tuple(range(out.ndim)),) * 2, ((), ())))

    got = lamina.vmap(lamina.grad(g, argnums=(0, 1)), in_axes=(0, None, 0))(xs, y, ct)
    want = jax.vmap(jax.grad(jg, argnums=(0, 1)), in_axes=(0, None, 0))(xs, y, ct)
    assert_trees_close(tuple(got), tuple(np.asarray(w) for w in want), **TOL)

    def total(y):
        return lax.dot_general(lamina.vmap(f, in_axes=(0, None))(xs, y), ct,
                               ((tuple(range(ct.ndim)),) * 2, ((), ())))

    def jtotal(y):
        return jlax.dot_general(jax.vmap(jf, in_axes=(0, None))(xs, y), ct,
                                ((tuple(range(ct.ndim)),) * 2, ((), ())))

    assert_array_close(lamina.grad(total)(y), np.asarray(jax.grad(jtotal)(y)), **TOL)


# --------------------------------------------------------------------------------------
# Composition: a small conv net built from contractions only
# --------------------------------------------------------------------------------------


def _net_loss(lax_mod, w1, w2, w3, x):
    """conv (strided, SAME) -> grouped conv -> dense -> squared norm. Degree 6 in the
    weights, so second derivatives are not trivial."""
    h = lax_mod.conv_general_dilated(x, w1, (2, 2), "SAME", dimension_numbers=NHWC)
    h = lax_mod.conv_general_dilated(h, w2, (1, 1), ((1, 0), (0, 1)), rhs_dilation=(1, 2),
                                     feature_group_count=2, dimension_numbers=NHWC)
    y = lax_mod.dot_general(h, w3, (((1, 2, 3), (0, 1, 2)), ((), ())))
    return lax_mod.dot_general(y, y, (((0, 1), (0, 1)), ((), ())))


def _net_params(dtype=np.float32):
    w1, w2 = _randn((3, 3, 2, 4), dtype, 1) * 0.5, _randn((2, 2, 2, 4), dtype, 2) * 0.5
    w3 = _randn((3, 2, 4, 5), dtype, 3) * 0.5
    return w1, w2, w3, _randn((2, 6, 6, 2), dtype, 4)


def test_jit_grad_of_conv_net():
    w1, w2, w3, x = _net_params()
    got = lamina.jit(lamina.grad(lambda *a: _net_loss(lax, *a), argnums=(0, 1, 2)))(
        w1, w2, w3, x)
    want = jax.grad(lambda *a: _net_loss(jlax, *a), argnums=(0, 1, 2))(w1, w2, w3, x)
    assert_trees_close(tuple(got), tuple(np.asarray(w) for w in want), rtol=1e-4, atol=1e-3)


def test_grad_grad_of_conv_net():
    w1, w2, w3, x = _net_params()
    v = _randn(w1.shape, seed=9)

    def hvp(lax_mod, grad):
        def directional(w1):  # <grad_w1 loss, v>
            g = grad(lambda w: _net_loss(lax_mod, w, w2, w3, x))(w1)
            return lax_mod.dot_general(g, v, (((0, 1, 2, 3),) * 2, ((), ())))
        return grad(directional)(w1)

    assert_array_close(hvp(lax, lamina.grad), np.asarray(hvp(jlax, jax.grad)),
                       rtol=1e-3, atol=1e-3)


# --------------------------------------------------------------------------------------
# The weight gradient as one 1-D convolution (_conv_weight_grad._conv_transpose_rhs_1d)
# --------------------------------------------------------------------------------------

# NOTE: the rules read these functions and thresholds on _conv_weight_grad at call
# time: patch them there.
from lamina.lax import _conv_weight_grad  # noqa: E402

# name: (lhs shape, rhs shape, conv_general_dilated kwargs); all 2-D, float32, groups 1
ONE_D_CASES = {
    "same_3x3": ((2, 6, 5, 3), (3, 3, 3, 4),
                 dict(window_strides=(1, 1), padding="SAME", dimension_numbers=NHWC)),
    "strided_both": ((2, 7, 8, 3), (3, 2, 3, 4),
                     dict(window_strides=(2, 3), padding="SAME", dimension_numbers=NHWC)),
    # negative high padding drops input, asymmetric low padding shifts it
    "explicit_negative_pad": ((1, 7, 6, 2), (2, 3, 2, 3),
                              dict(window_strides=(2, 1), padding=((2, -1), (0, 1)),
                                   dimension_numbers=NHWC)),
    "rhs_dilation": ((2, 8, 7, 2), (2, 3, 2, 3),
                     dict(window_strides=(1, 2), padding="SAME", rhs_dilation=(2, 2),
                          dimension_numbers=NHWC)),
    "lhs_dilation": ((2, 4, 3, 2), (2, 3, 2, 3),
                     dict(window_strides=(1, 2), padding=((1, 0), (2, 1)),
                          lhs_dilation=(2, 3), dimension_numbers=NHWC)),
    "full_padding": ((2, 5, 4, 3), (3, 2, 3, 2),
                     dict(window_strides=(1, 1), padding=((2, 2), (1, 1)),
                          rhs_dilation=(1, 2), dimension_numbers=NHWC)),
    # the unrolled axis is the one with the smaller kernel extent: here the first
    "tall_kernel": ((2, 6, 7, 2), (1, 3, 2, 3),
                    dict(window_strides=(1, 1), padding="SAME", dimension_numbers=NHWC)),
    "nchw": ((2, 3, 6, 5), (4, 3, 3, 2),
             dict(window_strides=(1, 2), padding=((1, 1), (0, 1)), rhs_dilation=(1, 2),
                  dimension_numbers=("NCHW", "OIHW", "NCHW"))),
    "scrambled_layouts": ((6, 2, 3, 5), (3, 4, 2, 3),
                          dict(window_strides=(2, 1), padding="SAME",
                               dimension_numbers=("HNCW", "IOHW", "WCNH"))),
    # one 1-D convolution per feature group
    "feature_groups": ((2, 6, 5, 6), (3, 2, 2, 9),
                       dict(window_strides=(2, 1), padding="SAME", feature_group_count=3,
                            rhs_dilation=(1, 2), dimension_numbers=NHWC)),
    "depthwise_nchw": ((2, 4, 5, 6), (4, 1, 3, 2),
                       dict(window_strides=(1, 1), padding=((1, 1), (0, 1)),
                            feature_group_count=4, dimension_numbers=("NCHW", "OIHW", "NCHW"))),
}


@pytest.fixture
def one_d_spy(monkeypatch):
    """Force the 1-D weight gradient for any size and count how often it runs."""
    calls = []
    real = _conv_weight_grad._conv_transpose_rhs_1d
    monkeypatch.setattr(_conv_weight_grad, "_RHS_1D_MIN_WINDOW", 1)
    monkeypatch.setattr(_conv_weight_grad, "_RHS_1D_MIN_FLOPS", 0)
    monkeypatch.setattr(_conv_weight_grad, "_conv_transpose_rhs_1d",
                        lambda *a, **k: calls.append(1) or real(*a, **k))
    return calls


@pytest.mark.parametrize("case", sorted(ONE_D_CASES))
def test_weight_gradient_as_1d_conv_matches_jax(case, one_d_spy):
    ls, rs, kw = ONE_D_CASES[case]
    f, jf = _conv_fns(kw)
    x, y = _randn(ls, seed=0), _randn(rs, seed=1)
    ct = _randn(jax.eval_shape(jf, x, y).shape, seed=2)
    got = lamina.jit(lambda x, y, ct: lamina.vjp(lambda y: f(x, y), y)[1](ct)[0])(x, y, ct)
    want = jax.vjp(lambda y: jf(x, y), y)[1](ct)[0]
    assert one_d_spy, "the 1-D formulation was not used"
    assert got.shape == y.shape
    assert_array_close(got, np.asarray(want), **TOL)


@pytest.mark.parametrize("case, dtype", [("feature_groups", np.float32),
                                         ("batch_groups", np.float32),
                                         ("same_strided", np.float64)])
def test_weight_gradient_keeps_2d_rule_for_groups_and_float64(case, dtype, one_d_spy,
                                                                monkeypatch):
    # too many feature groups (here: more than 1), batch groups, float64: the 2-D rule
    monkeypatch.setattr(_conv_weight_grad, "_RHS_1D_MAX_GROUPS", 1)
    ls, rs, kw = CONV_CASES[case]
    f, jf = _conv_fns(kw)
    with config.override(enable_x64=dtype == np.float64):
        x, y = _randn(ls, dtype, seed=0), _randn(rs, dtype, seed=1)
        ct = _randn(jax.eval_shape(jf, x, y).shape, dtype, seed=2)
        got = lamina.vjp(lambda y: f(x, y), y)[1](ct)[0]
    assert got.dtype == dtype
    # NOTE: jax runs without x64 here: its float32 gradient is the oracle for both.
    x32, ct32 = x.astype(np.float32), ct.astype(np.float32)
    want = jax.vjp(lambda y: jf(x32, y), y.astype(np.float32))[1](ct32)[0]
    assert not one_d_spy
    assert_array_close(np.asarray(got).astype(np.float32), np.asarray(want), **TOL)


def _has_1d_conv(jaxpr_text):
    return "conv_general_dilated" in jaxpr_text and "window_strides=(1,)" in jaxpr_text


def test_weight_gradient_formulation_depends_on_shape():
    def dw_jaxpr(ls, rs, **kw):
        x, y = np.zeros(ls, np.float32), np.zeros(rs, np.float32)
        f, jf = _conv_fns(dict(dict(window_strides=(1, 1), padding="SAME",
                                    dimension_numbers=NHWC), **kw))
        ct = np.zeros(jax.eval_shape(jf, x, y).shape, np.float32)
        return str(lamina.make_jaxpr(lambda y, ct: lamina.vjp(lambda y: f(x, y), y)[1](ct))(
            y, ct))

    # the CNN benchmark's second layer (batch 8 instead of 64): the 1-D form
    assert _has_1d_conv(dw_jaxpr((8, 14, 14, 32), (3, 3, 32, 64)))
    # a 4x4 image, or a tiny problem: jax's 2-D formulation
    assert not _has_1d_conv(dw_jaxpr((64, 4, 4, 64), (3, 3, 64, 64)))
    assert not _has_1d_conv(dw_jaxpr((2, 8, 8, 3), (3, 3, 3, 4)))
    # the cotangent outgrows the input (a conv_transpose layer; 'FULL' padding): the
    # 1-D form at any size, since XLA would swap the 2-D form's operands
    assert _has_1d_conv(dw_jaxpr((2, 4, 4, 3), (3, 3, 3, 4), padding=((2, 1), (1, 1)),
                                 lhs_dilation=(2, 2)))
    assert _has_1d_conv(dw_jaxpr((2, 5, 5, 3), (3, 3, 3, 4), padding=((2, 2), (2, 2))))
    # the CNN benchmark's first layer (batch 32, one input feature): one matrix product
    first = dw_jaxpr((32, 28, 28, 1), (3, 3, 1, 32))
    assert "dot_general" in first and "conv_general_dilated" not in first
    # a first layer with two input features: the 1-D form again
    assert _has_1d_conv(dw_jaxpr((32, 28, 28, 2), (3, 3, 2, 32)))


@pytest.mark.parametrize("case", ["strided_both", "feature_groups"])
def test_weight_gradient_as_1d_conv_second_order_and_vmap(case, one_d_spy):
    ls, rs, kw = ONE_D_CASES[case]
    f, jf = _conv_fns(kw)
    x, y = _randn(ls, seed=0), _randn(rs, seed=1)
    ct = _randn(jax.eval_shape(jf, x, y).shape, seed=2)
    v = _randn(rs, seed=3)

    def hvp(grad, lax_mod, f):  # d/dx <grad_y <ct, f(x, y)>, v>: transposes the 1-D conv
        def inner(x):
            gy = grad(lambda y: lax_mod.dot_general(f(x, y) ** 2, ct, ((tuple(range(4)),) * 2,
                                                                       ((), ()))))(y)
            return lax_mod.dot_general(gy, v, ((tuple(range(4)),) * 2, ((), ())))
        return grad(inner)(x)

    assert_array_close(hvp(lamina.grad, lax, f), np.asarray(hvp(jax.grad, jlax, jf)),
                       rtol=1e-3, atol=1e-3)
    n = len(one_d_spy)
    assert n
    cts = np.stack([ct, 2 * ct + 1])
    got = lamina.vmap(lambda ct: lamina.vjp(lambda y: f(x, y), y)[1](ct)[0])(cts)
    want = jax.vmap(lambda ct: jax.vjp(lambda y: jf(x, y), y)[1](ct)[0])(cts)
    assert len(one_d_spy) > n
    assert_array_close(got, np.asarray(want), **TOL)


# --------------------------------------------------------------------------------------
# The weight gradient of a one-input-feature convolution as one matrix product
# (_conv_weight_grad._conv_transpose_rhs_im2col)
# --------------------------------------------------------------------------------------

# name: (lhs shape, rhs shape, conv_general_dilated kwargs); 2-D, float32, one in-feature
MATMUL_CASES = {
    "same_3x3": ((2, 6, 5, 1), (3, 3, 1, 4),
                 dict(window_strides=(1, 1), padding="SAME", dimension_numbers=NHWC)),
    "strided_negative_pad": ((2, 7, 8, 1), (3, 2, 1, 3),
                             dict(window_strides=(2, 3), padding=((2, -1), (0, 1)),
                                  dimension_numbers=NHWC)),
    "dilations": ((2, 4, 5, 1), (2, 3, 1, 3),
                  dict(window_strides=(1, 2), padding=((1, 0), (2, 1)), lhs_dilation=(2, 1),
                       rhs_dilation=(1, 2), dimension_numbers=NHWC)),
    # the cotangent outgrows the input (padding wider than the kernel)
    "full_padding": ((2, 5, 4, 1), (3, 2, 1, 2),
                     dict(window_strides=(1, 1), padding=((2, 2), (1, 1)),
                          rhs_dilation=(1, 2), dimension_numbers=NHWC)),
    "scrambled_layouts": ((6, 2, 1, 5), (1, 4, 3, 2),
                          dict(window_strides=(2, 1), padding="SAME",
                               dimension_numbers=("HNCW", "IOHW", "WCNH"))),
}


@pytest.fixture
def matmul_spy(monkeypatch):
    """Force the special weight gradients for any size; count the matmul form's uses."""
    calls = []
    real = _conv_weight_grad._conv_transpose_rhs_im2col
    monkeypatch.setattr(_conv_weight_grad, "_RHS_1D_MIN_WINDOW", 1)
    monkeypatch.setattr(_conv_weight_grad, "_RHS_1D_MIN_FLOPS", 0)
    monkeypatch.setattr(_conv_weight_grad, "_conv_transpose_rhs_im2col",
                        lambda *a, **k: calls.append(1) or real(*a, **k))
    return calls


@pytest.mark.parametrize("case", sorted(MATMUL_CASES))
def test_weight_gradient_as_matmul_matches_jax(case, matmul_spy):
    ls, rs, kw = MATMUL_CASES[case]
    f, jf = _conv_fns(kw)
    x, y = _randn(ls, seed=0), _randn(rs, seed=1)
    ct = _randn(jax.eval_shape(jf, x, y).shape, seed=2)
    got = lamina.jit(lambda x, y, ct: lamina.vjp(lambda y: f(x, y), y)[1](ct)[0])(x, y, ct)
    want = jax.vjp(lambda y: jf(x, y), y)[1](ct)[0]
    assert matmul_spy, "the matmul formulation was not used"
    assert got.shape == y.shape and got.dtype == y.dtype
    assert_array_close(got, np.asarray(want), **TOL)


def test_weight_gradient_as_matmul_keeps_preferred_element_type(matmul_spy):
    ls, rs, kw = MATMUL_CASES["same_3x3"]
    x, y = _randn(ls, ml_dtypes.bfloat16, seed=0), _randn(rs, ml_dtypes.bfloat16, seed=1)
    x, y = x.astype(np.float32), y.astype(np.float32)

    def f(lax_mod):
        return lambda y: lax_mod.conv_general_dilated(x, y, preferred_element_type=np.float32,
                                                      **kw)

    ct = _randn(jax.eval_shape(f(jlax), y).shape, seed=2)
    got = lamina.vjp(f(lax), y)[1](ct)[0]
    want = jax.vjp(f(jlax), y)[1](ct)[0]
    assert matmul_spy
    assert got.dtype == np.float32
    assert_array_close(got, np.asarray(want), **TOL)


def test_weight_gradient_as_matmul_second_order_and_vmap(matmul_spy):
    ls, rs, kw = MATMUL_CASES["strided_negative_pad"]
    f, jf = _conv_fns(kw)
    x, y = _randn(ls, seed=0), _randn(rs, seed=1)
    ct = _randn(jax.eval_shape(jf, x, y).shape, seed=2)
    v = _randn(rs, seed=3)

    def hvp(grad, lax_mod, f):  # d/dx <grad_y <ct, f(x, y)^2>, v>: transposes the product
        def inner(x):
            gy = grad(lambda y: lax_mod.dot_general(f(x, y) ** 2, ct, ((tuple(range(4)),) * 2,
                                                                       ((), ()))))(y)
            return lax_mod.dot_general(gy, v, ((tuple(range(4)),) * 2, ((), ())))
        return grad(inner)(x)

    assert_array_close(hvp(lamina.grad, lax, f), np.asarray(hvp(jax.grad, jlax, jf)),
                       rtol=1e-3, atol=1e-3)
    n = len(matmul_spy)
    assert n
    cts = np.stack([ct, 2 * ct + 1])
    got = lamina.vmap(lambda ct: lamina.vjp(lambda y: f(x, y), y)[1](ct)[0])(cts)
    want = jax.vmap(lambda ct: jax.vjp(lambda y: jf(x, y), y)[1](ct)[0])(cts)
    assert len(matmul_spy) > n
    assert_array_close(got, np.asarray(want), **TOL)
