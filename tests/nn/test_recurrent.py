"""LSTMCell / GRUCell / RNN / Bidirectional against flax.linen given the same parameters
(Flax's gate layout and names), carries, reverse / keep_order / seq_lengths /
time_major / return_carry, gradients through the scan, jit."""
import jax
import jax.numpy as jnp
import flax.linen as fnn
import numpy as np
import pytest

import lamina
import lamina.numpy as lnp
from lamina import nn
from lamina.testing import assert_array_close, assert_trees_close, check_grads


def _np_tree(tree):
    return jax.tree_util.tree_map(np.asarray, tree)


def _shapes(tree):
    return jax.tree_util.tree_map(lambda a: (tuple(a.shape), np.dtype(a.dtype).name), tree)


def _close_tree(got, want, tol=1e-5):
    want = _np_tree(want)
    assert _shapes(got) == _shapes(want)
    assert_trees_close(got, want, rtol=tol, atol=tol)


@pytest.mark.parametrize("cls", ["LSTMCell", "GRUCell"])
def test_cells_match_flax(cls, rng):
    x = rng.standard_normal((2, 3)).astype(np.float32)
    fcell = getattr(fnn, cls)(features=4)
    cell = getattr(nn, cls)(features=4)
    fcarry = fcell.initialize_carry(jax.random.key(0), x.shape)
    carry = cell.initialize_carry(lamina.random.key(0), x.shape)
    _close_tree(carry, fcarry)
    fvars = fcell.init(jax.random.key(1), fcarry, jnp.asarray(x))
    assert _shapes(cell.init(lamina.random.key(1), carry, x)) == _shapes(fvars)
    # a nonzero carry so the recurrent weights matter
    carry = jax.tree_util.tree_map(lambda c: np.asarray(c) + 0.5, carry)
    fcarry = jax.tree_util.tree_map(jnp.asarray, carry)
    _close_tree(cell.apply(_np_tree(fvars), carry, x), fcell.apply(fvars, fcarry, jnp.asarray(x)))


RNN_CASES = {
    "lstm": (dict(), dict()),
    "gru_return_carry": (dict(return_carry=True), dict()),
    "reverse": (dict(reverse=True, return_carry=True), dict()),
    "reverse_keep_order": (dict(reverse=True, keep_order=True), dict()),
    "seq_lengths": (dict(return_carry=True), dict(seq_lengths=np.array([5, 2, 3]))),
    "seq_lengths_reverse": (dict(return_carry=True, reverse=True, keep_order=True),
                            dict(seq_lengths=np.array([4, 5, 1]))),
}


@pytest.mark.parametrize("name", list(RNN_CASES))
def test_rnn_matches_flax(name, rng):
    kw, call_kw = RNN_CASES[name]
    cls = "GRUCell" if "gru" in name else "LSTMCell"
    x = rng.standard_normal((3, 5, 2)).astype(np.float32)
    frnn = fnn.RNN(getattr(fnn, cls)(features=4), **kw)
    rnn = nn.RNN(getattr(nn, cls)(features=4), **kw)
    fvars = frnn.init(jax.random.key(0), jnp.asarray(x))
    assert _shapes(rnn.init(lamina.random.key(0), x)) == _shapes(fvars)
    want = frnn.apply(fvars, jnp.asarray(x),
                      **{k: jnp.asarray(v) for k, v in call_kw.items()})
    got = rnn.apply(_np_tree(fvars), x, **call_kw)
    if "seq_lengths" in call_kw:
        # NOTE: outputs past each length are unspecified padding; compare the valid part.
        (carry, ys), (fcarry, fys) = got, want
        _close_tree(carry, fcarry)
        for b, n in enumerate(call_kw["seq_lengths"]):
            assert_array_close(ys[b, :n], np.asarray(fys)[b, :n], rtol=1e-5, atol=1e-5)
    else:
        _close_tree(got, want)


def test_rnn_time_major_initial_carry_bidirectional(rng):
    x = rng.standard_normal((5, 3, 2)).astype(np.float32)            # (time, batch, feat)
    frnn = fnn.RNN(fnn.GRUCell(4), time_major=True)
    rnn = nn.RNN(nn.GRUCell(4), time_major=True)
    fvars = frnn.init(jax.random.key(0), jnp.asarray(x))
    h0 = rng.standard_normal((3, 4)).astype(np.float32)
    _close_tree(rnn.apply(_np_tree(fvars), x, initial_carry=h0),
                frnn.apply(fvars, jnp.asarray(x), initial_carry=jnp.asarray(h0)))
    xb = np.swapaxes(x, 0, 1)
    fbi = fnn.Bidirectional(fnn.RNN(fnn.LSTMCell(3)), fnn.RNN(fnn.GRUCell(3)))
    bi = nn.Bidirectional(nn.RNN(nn.LSTMCell(3)), nn.RNN(nn.GRUCell(3)))
    fvars = fbi.init(jax.random.key(0), jnp.asarray(xb))
    assert _shapes(bi.init(lamina.random.key(0), xb)) == _shapes(fvars)
    _close_tree(bi.apply(_np_tree(fvars), xb), fbi.apply(fvars, jnp.asarray(xb)))


def test_rnn_grads_and_jit(rng):
    with lamina.config.override(enable_x64=True):
        rnn = nn.RNN(nn.LSTMCell(3, param_dtype=lnp.float64))
        x = rng.standard_normal((2, 4, 2))
        params = rnn.init(lamina.random.key(0), x)["params"]
        check_grads(lambda p, x: rnn.apply({"params": p}, x), (params, x), order=1,
                    modes=("rev",))
    rnn = nn.RNN(nn.GRUCell(4), return_carry=True)
    x = rng.standard_normal((2, 6, 3)).astype(np.float32)
    variables = rnn.init(lamina.random.key(0), x)
    eager = rnn.apply(variables, x)
    jitted = lamina.jit(rnn.apply)(variables, x)
    assert_trees_close(jitted, eager, rtol=1e-5, atol=1e-5)
    # the parameters are shared over time: one set, whatever the length
    assert _shapes(rnn.init(lamina.random.key(0), x[:, :2])) == _shapes(variables)


def test_rnn_bad_use():
    with pytest.raises(ValueError, match="seq_lengths"):
        rnn = nn.RNN(nn.GRUCell(2))
        x = lnp.ones((3, 4, 2))
        rnn.apply(rnn.init(lamina.random.key(0), x), x, seq_lengths=lnp.ones((2,), lnp.int32))
