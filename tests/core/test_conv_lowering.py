"""How conv_general_dilated lowers: one-input-feature convolutions as elementwise taps
(lamina.lax._conv_taps._emit_taps) instead of `stablehlo.convolution`.

Oracle: jax.lax.conv_general_dilated at precision HIGHEST (values, derivatives, vmap).
"""
import jax
import numpy as np
import pytest
from jax import lax as jlax

import lamina
from lamina import lax
from lamina.config import config
from lamina.lax import _conv_taps
from lamina.testing import assert_array_close

TOL = dict(rtol=1e-5, atol=1e-5)
NHWC = ("NHWC", "HWIO", "NHWC")


def _randn(shape, dtype=np.float32, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


# name: (lhs shape, rhs shape, conv_general_dilated kwargs); one input feature, no groups
TAPS_CASES = {
    "same_3x3": ((2, 7, 6, 1), (3, 3, 1, 4),
                 dict(window_strides=(1, 1), padding="SAME", dimension_numbers=NHWC)),
    # strides, negative and asymmetric padding, both dilations
    "strided_dilated": ((2, 9, 8, 1), (3, 2, 1, 3),
                        dict(window_strides=(2, 3), padding=((2, -1), (0, 1)),
                             lhs_dilation=(1, 2), rhs_dilation=(2, 1),
                             dimension_numbers=NHWC)),
    "scrambled_layouts": ((6, 2, 1, 5), (1, 4, 3, 2),
                          dict(window_strides=(2, 1), padding="SAME",
                               dimension_numbers=("HNCW", "IOHW", "WCNH"))),
    "one_d": ((3, 1, 7), (5, 1, 3), dict(window_strides=(1,), padding="VALID")),
    "three_d": ((2, 1, 4, 5, 3), (2, 1, 2, 2, 2),
                dict(window_strides=(1, 2, 1), padding="SAME")),
}


def _fns(kw):
    return (lambda x, y: lax.conv_general_dilated(x, y, **kw),
            lambda x, y: jlax.conv_general_dilated(x, y, precision="highest", **kw))


def _lowers_to_convolution(f, *args):
    return "stablehlo.convolution" in lamina.jit(f).lower(*args).as_text()


@pytest.mark.parametrize("case", sorted(TAPS_CASES))
def test_one_input_feature_lowers_to_taps(case):
    ls, rs, kw = TAPS_CASES[case]
    f, jf = _fns(kw)
    x, y = _randn(ls, seed=0), _randn(rs, seed=1)
    assert not _lowers_to_convolution(f, x, y)
    got = lamina.jit(f)(x, y)
    assert got.dtype == np.float32
    assert_array_close(got, np.asarray(jf(x, y)), **TOL)


def test_taps_float64():
    ls, rs, kw = TAPS_CASES["strided_dilated"]
    f, _ = _fns(kw)
    x, y = _randn(ls, np.float64, seed=0), _randn(rs, np.float64, seed=1)
    with config.override(enable_x64=True):
        assert not _lowers_to_convolution(f, x, y)
        got = lamina.jit(f)(x, y)
    assert got.dtype == np.float64
    # numpy oracle in float64: the sum of the taps, written out
    xp = np.pad(x[..., 0], ((0, 0), (2, 0), (0, 0)))[:, :-1]  # rows: low 2, high -1
    xd = np.zeros((xp.shape[0], xp.shape[1], 2 * xp.shape[2] - 1))
    xd[:, :, ::2] = xp  # lhs_dilation 2 on the second axis, then its padding (0, 1)
    xd = np.pad(xd, ((0, 0), (0, 0), (0, 1)))
    want = np.zeros(got.shape)
    for a in range(got.shape[1]):
        for b in range(got.shape[2]):
            for i in range(3):
                for j in range(2):
                    want[:, a, b, :] += xd[:, 2 * a + 2 * i, 3 * b + j, None] * y[i, j, 0]
    assert_array_close(got, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("ls, rs, kw, why", [
    ((2, 7, 6, 2), (3, 3, 2, 4), {}, "two input features"),
    ((2, 7, 6, 2), (3, 3, 1, 4), dict(feature_group_count=2), "feature groups"),
    ((2, 12, 12, 1), (4, 3, 1, 4), {}, "more than 9 taps"),
])
def test_other_convolutions_keep_the_convolution_op(ls, rs, kw, why):
    kw = dict(dict(window_strides=(1, 1), padding="SAME", dimension_numbers=NHWC), **kw)
    f, jf = _fns(kw)
    x, y = _randn(ls, seed=0), _randn(rs, seed=1)
    assert _lowers_to_convolution(f, x, y), why
    assert_array_close(lamina.jit(f)(x, y), np.asarray(jf(x, y)), rtol=1e-4, atol=1e-4)



def test_taps_limit_is_read_from_conv_taps(monkeypatch):
    # the lowering reads _conv_taps._TAPS_MAX at trace time: lowering it to 0 keeps the
    # convolution op for a 3x3 kernel that otherwise lowers to taps
    ls, rs, kw = TAPS_CASES["same_3x3"]
    f, _ = _fns(kw)
    x, y = _randn(ls, seed=0), _randn(rs, seed=1)
    monkeypatch.setattr(_conv_taps, "_TAPS_MAX", 0)
    assert _lowers_to_convolution(f, x, y)

def test_taps_keep_preferred_element_type_and_bfloat16_on_the_library():
    ls, rs, kw = TAPS_CASES["same_3x3"]
    x, y = _randn(ls, seed=0), _randn(rs, seed=1)
    xb, yb = x.astype(jax.numpy.bfloat16), y.astype(jax.numpy.bfloat16)
    # bfloat16 would round every partial sum as elementwise ops: the library keeps it
    assert _lowers_to_convolution(lambda x, y: lax.conv_general_dilated(x, y, **kw), xb, yb)
    wide = lambda x, y: lax.conv_general_dilated(  # noqa: E731
        x, y, preferred_element_type=np.float32, **kw)
    assert _lowers_to_convolution(wide, xb, yb)
    got = lamina.jit(wide)(xb, yb)
    want = jlax.conv_general_dilated(xb, yb, preferred_element_type=np.float32, **kw)
    assert got.dtype == np.float32
    assert_array_close(got, np.asarray(want), rtol=1e-2, atol=1e-2)


@pytest.mark.parametrize("case", ["strided_dilated", "scrambled_layouts"])
def test_taps_derivatives_and_vmap_match_jax(case):
    ls, rs, kw = TAPS_CASES[case]
    f, jf = _fns(kw)
    x, y = _randn(ls, seed=0), _randn(rs, seed=1)
    ct = _randn(jax.eval_shape(jf, x, y).shape, seed=2)
    tx, ty = _randn(ls, seed=3), _randn(rs, seed=4)
    got = lamina.jit(lambda x, y, tx, ty: lamina.jvp(f, (x, y), (tx, ty)))(x, y, tx, ty)
    want = jax.jvp(jf, (x, y), (tx, ty))
    for g, w in zip(got, want):
        assert_array_close(g, np.asarray(w), rtol=1e-4, atol=1e-4)
    got = lamina.jit(lambda x, y, ct: lamina.vjp(f, x, y)[1](ct))(x, y, ct)
    want = jax.vjp(jf, x, y)[1](ct)
    for g, w in zip(got, want):
        assert_array_close(g, np.asarray(w), rtol=1e-4, atol=1e-4)
    xs, ys = np.stack([x, 2 * x]), np.stack([y, y - 1])
    for axes in ((0, None), (None, 0), (0, 0)):
        got = lamina.jit(lamina.vmap(f, in_axes=axes))(xs if axes[0] == 0 else x,
                                                       ys if axes[1] == 0 else y)
        want = jax.vmap(jf, in_axes=axes)(xs if axes[0] == 0 else x, ys if axes[1] == 0 else y)
        assert_array_close(got, np.asarray(want), rtol=1e-4, atol=1e-4)
