"""conv_general_dilated_patches / _local, ragged_dot, approx_max_k / approx_min_k and
scatter_apply: values against jax.lax, jit, vmap against a Python loop, grads."""
import jax
import jax.lax as jl
import numpy as np
import pytest

import lamina
import lamina.numpy as lnp
from lamina import lax


def _close(a, b, tol=1e-5):
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape and a.dtype == b.dtype, (a.shape, a.dtype, b.shape, b.dtype)
    np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


DNS = [None, ("NCHW", "OIWH", "CNHW"), ("NHWC", "WHIO", "NHWC")]


@pytest.mark.parametrize("dn", DNS)
def test_patches_match_jax(rng, dn):
    x = rng.normal(size=(2, 3, 5, 6)).astype(np.float32)
    if dn is not None and dn[0] == "NHWC":
        x = x.transpose(0, 2, 3, 1)
    for kw in [dict(padding="SAME"),
               dict(padding=((1, 0), (2, 1)), lhs_dilation=(1, 2), rhs_dilation=(2, 1))]:
        ours = lax.conv_general_dilated_patches(x, (2, 3), (1, 2), dimension_numbers=dn, **kw)
        theirs = jl.conv_general_dilated_patches(x, (2, 3), (1, 2), dimension_numbers=dn, **kw)
        _close(ours, theirs, 0)


def _local_kernel(rng, x, dn):
    patches = jl.conv_general_dilated_patches(x, (2, 3), (1, 2), "VALID", dimension_numbers=dn)
    _, rhs_spec, out_spec = jl.conv_dimension_numbers(x.shape, (1, 1, 2, 3), dn)
    shape = [0] * 4
    shape[rhs_spec[0]], shape[rhs_spec[1]] = 4, patches.shape[out_spec[1]]
    for d_out, d_rhs in zip(out_spec[2:], rhs_spec[2:]):
        shape[d_rhs] = patches.shape[d_out]
    return rng.normal(size=shape).astype(np.float32)


@pytest.mark.parametrize("dn", [DNS[0], DNS[2]])
def test_local_matches_jax_values_and_grads(rng, dn):
    x = rng.normal(size=(2, 3, 5, 6)).astype(np.float32)
    if dn is not None and dn[0] == "NHWC":
        x = x.transpose(0, 2, 3, 1)
    w = _local_kernel(rng, x, dn)
    args = ((1, 2), "VALID", (2, 3))
    ours = lax.conv_general_dilated_local(x, w, *args, dimension_numbers=dn)
    theirs = jl.conv_general_dilated_local(x, w, *args, dimension_numbers=dn)
    _close(ours, theirs)
    if dn is None:
        _close(lamina.jit(lambda a, b: lax.conv_general_dilated_local(a, b, *args))(x, w), theirs)
        ct = rng.normal(size=theirs.shape).astype(np.float32)
        g = lamina.grad(lambda a, b: (lax.conv_general_dilated_local(a, b, *args) * ct).sum(),
                        (0, 1))(x, w)
        jg = jax.grad(lambda a, b: (jl.conv_general_dilated_local(a, b, *args) * ct).sum(),
                      (0, 1))(x, w)
        for a, b in zip(g, jg):
            _close(a, b, 1e-4)
        xs = rng.normal(size=(3, *x.shape)).astype(np.float32)
        _close(lamina.vmap(lambda a: lax.conv_general_dilated_local(a, w, *args))(xs),
               np.stack([jl.conv_general_dilated_local(a, w, *args) for a in xs]))


def test_patches_errors():
    with pytest.raises(ValueError, match="filter_shape"):
        lax.conv_general_dilated_patches(np.zeros((1, 1, 4, 4), np.float32), (2,), (1, 1), "VALID")


def test_ragged_dot(rng):
    lhs = rng.normal(size=(9, 4)).astype(np.float32)
    rhs = rng.normal(size=(3, 4, 5)).astype(np.float32)
    for sizes in ([2, 0, 5], [1, 2, 3]):  # the last leaves rows 6..8 ungrouped
        gs = np.array(sizes, np.int32)
        _close(lax.ragged_dot(lhs, rhs, gs), jl.ragged_dot(lhs, rhs, gs))
    gs = np.array([3, 1, 5], np.int32)
    _close(lamina.jit(lax.ragged_dot)(lhs, rhs, gs), jl.ragged_dot(lhs, rhs, gs))
    g = lamina.grad(lambda a, b: (lax.ragged_dot(a, b, gs) ** 2).sum(), (0, 1))(lhs, rhs)
    jg = jax.grad(lambda a, b: (jl.ragged_dot(a, b, gs) ** 2).sum(), (0, 1))(lhs, rhs)
    for a, b in zip(g, jg):
        _close(a, b, 1e-4)
    many = np.array([[3, 1, 5], [0, 9, 0]], np.int32)
    _close(lamina.vmap(lambda s: lax.ragged_dot(lhs, rhs, s))(many),
           np.stack([jl.ragged_dot(lhs, rhs, s) for s in many]))
    with pytest.raises(TypeError, match="shapes do not agree"):
        lax.ragged_dot(lhs, rhs, np.array([1, 2], np.int32))


@pytest.mark.parametrize("name", ["approx_max_k", "approx_min_k"])
def test_approx_top_k_matches_jax_exactly(rng, name):
    ours, theirs = getattr(lax, name), getattr(jl, name)
    # many ties and infinities (NaN placement depends on XLA's comparator in jax: not
    # compared)
    x = rng.integers(0, 5, size=(3, 8)).astype(np.float32)
    x[0, 2] = np.inf
    x[1, 3] = -np.inf
    for args, kw in [((x, 3), {}), ((x, 2), dict(reduction_dimension=0))]:
        a, b = ours(*args, **kw), theirs(*args, **kw)
        assert isinstance(a, list) and len(a) == 2
        np.testing.assert_array_equal(np.asarray(a[0]), np.asarray(b[0]))
        np.testing.assert_array_equal(np.asarray(a[1]), np.asarray(b[1]))
    y = rng.normal(size=(2, 6)).astype(np.float32)
    a = lamina.jit(lambda v: ours(v, 2))(y)
    _close(a[0], theirs(y, 2)[0], 0)
    _close(lamina.grad(lambda v: ours(v, 3)[0].sum())(y),
           jax.grad(lambda v: theirs(v, 3)[0].sum())(y), 0)
    ys = rng.normal(size=(4, 6)).astype(np.float32)
    _close(lamina.vmap(lambda v: ours(v, 2)[1])(ys), np.stack([theirs(v, 2)[1] for v in ys]), 0)
    with pytest.raises(ValueError, match="k must be"):
        ours(y, 7)
    with pytest.raises(TypeError, match="floating"):
        ours(np.arange(4), 2)


def test_scatter_apply(rng):
    dn = lax.ScatterDimensionNumbers(update_window_dims=(1,), inserted_window_dims=(0,),
                                     scatter_dims_to_operand_dims=(0,))
    jdn = jl.ScatterDimensionNumbers(update_window_dims=(1,), inserted_window_dims=(0,),
                                     scatter_dims_to_operand_dims=(0,))
    x = rng.normal(size=(5, 3)).astype(np.float32)
    idx = np.array([[1], [3], [3], [9]], np.int32)  # a repeat, and one out of bounds
    for mode in (None, "clip"):
        ours = lax.scatter_apply(x, idx, lnp.exp, dn, update_shape=(4, 3), mode=mode)
        theirs = jl.scatter_apply(x, idx, jax.numpy.exp, jdn, update_shape=(4, 3), mode=mode)
        _close(ours, theirs)
    def f(v, i):
        return lax.scatter_apply(v, i, lambda e: e * 2 + 1, dn, update_shape=(4, 3))
    _close(lamina.jit(f)(x, idx),
           jl.scatter_apply(x, idx, lambda e: e * 2 + 1, jdn, update_shape=(4, 3)))
    xs = rng.normal(size=(2, 5, 3)).astype(np.float32)
    _close(lamina.vmap(f, (0, None))(xs, idx), np.stack([f(v, idx) for v in xs]))
    idxs = np.stack([idx, idx[::-1] % 5])
    _close(lamina.vmap(f, (None, 0))(x, idxs), np.stack([f(x, i) for i in idxs]))
    with pytest.raises(TypeError, match="close over arrays"):
        lamina.jit(lambda v, y: lax.scatter_apply(v, idx, lambda e: e + y, dn,
                                                  update_shape=(4, 3)))(x, np.float32(1))


def test_ragged_dot_general_modes(rng):
    gs = np.array([2, 0, 3], np.int32)  # one position left ungrouped
    cases = [  # (lhs shape, rhs shape, dot dims, ragged, group)
        ((2, 6, 4), (3, 2, 4, 5), (((2,), (2,)), ((0,), (1,))), [1], [0]),   # mode 1
        ((2, 3, 6), (2, 6, 5), (((2,), (1,)), ((0,), (0,))), [2], []),      # mode 2
        ((6, 3, 4), (6, 4, 5), (((2,), (1,)), ((0,), (0,))), [0], []),       # mode 3
    ]
    for ls, rs, dims, ragged, group in cases:
        lhs = rng.normal(size=ls).astype(np.float32)
        rhs = rng.normal(size=rs).astype(np.float32)
        ours = lambda a, b: lax.ragged_dot_general(  # noqa: E731
            a, b, gs, lax.RaggedDotDimensionNumbers(dims, ragged, group))
        theirs = lambda a, b: jl.ragged_dot_general(  # noqa: E731
            a, b, gs, jl.RaggedDotDimensionNumbers(dims, ragged, group))
        _close(ours(lhs, rhs), theirs(lhs, rhs))
        ct = rng.normal(size=np.shape(theirs(lhs, rhs))).astype(np.float32)
        if ragged == [2]:
            # NOTE: jax cannot differentiate mode 2; the oracle is a masked einsum
            masks = [(np.arange(6) >= s0) & (np.arange(6) < s0 + n)
                     for s0, n in zip(np.cumsum(gs) - gs, gs)]
            theirs = lambda a, b: jax.numpy.stack([  # noqa: E731
                jax.numpy.einsum("bmk,bkn->bmn", a * m, b) for m in masks])
            _close(ours(lhs, rhs), theirs(lhs, rhs))
        if ragged == [0]:  # NOTE: nor mode 3, which is a plain dot_general
            theirs = lambda a, b: jl.dot_general(a, b, dims)  # noqa: E731
        g = lamina.grad(lambda a, b: (ours(a, b) * ct).sum(), (0, 1))(lhs, rhs)
        jg = jax.grad(lambda a, b: (theirs(a, b) * ct).sum(), (0, 1))(lhs, rhs)
        for a, b in zip(g, jg):
            _close(a, b, 1e-4)
    with pytest.raises(TypeError, match="group dimension"):
        lax.ragged_dot_general(np.ones((6, 4), np.float32), np.ones((4, 5), np.float32), gs,
                               lax.RaggedDotDimensionNumbers((((1,), (0,)), ((), ())), [0], []))
