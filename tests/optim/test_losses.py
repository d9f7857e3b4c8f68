"""lamina.optim losses against optax 0.2.8: values and vector-Jacobian products (a
random cotangent) vs jax.grad of the optax loss, on random float32 inputs, with `where`
masks, integer labels, label smoothing and CTC with padding. Each case compiles one
lamina.jit program (values and gradients together)."""
import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import lamina
import lamina.numpy as lnp
from lamina.optim import losses as L

R = np.random.default_rng(1234)


def _f32(*shape):
    return R.standard_normal(shape).astype(np.float32)


def _probs(*shape, axis=-1):
    x = np.exp(_f32(*shape))
    return (x / x.sum(axis, keepdims=True)).astype(np.float32)


def _mask(*shape):
    m = R.random(shape) < 0.7
    m[..., 0] = True  # every row keeps one class
    return m


def _onehot(labels, k):
    return np.eye(k, dtype=np.float32)[labels]


def _ctc_inputs(blank_id=0):
    b, t, k, n = 3, 8, 5, 4
    logits = _f32(b, t, k) * 2
    logit_pad = np.zeros((b, t), np.float32)
    logit_pad[1, 6:] = 1
    logit_pad[2, 5:] = 1
    non_blank = [c for c in range(k) if c != blank_id]
    labels = R.choice(non_blank, size=(b, n)).astype(np.int32)
    labels[0, :2] = non_blank[0]  # a repeated label needs a blank between the two
    label_pad = np.zeros((b, n), np.float32)
    label_pad[1, 2:] = 1
    label_pad[2, 3:] = 1
    return logits, logit_pad, labels, label_pad


LABELS_5 = R.integers(0, 5, size=(4,)).astype(np.int32)
MASK_ROW_OFF = _mask(4, 5)
MASK_ROW_OFF[2] = False  # a fully masked row gives 0

# name: (loss name, args, kwargs, argnums differentiated)
CASES = {
    "sce": ("softmax_cross_entropy", (_f32(4, 5), _probs(4, 5)), {}, (0, 1)),
    "sce_where": ("softmax_cross_entropy", (_f32(4, 5), _probs(4, 5)),
                  dict(where=_mask(4, 5)), (0, 1)),
    "sce_axis0": ("softmax_cross_entropy", (_f32(5, 3), _probs(5, 3, axis=0)),
                  dict(axis=0), (0, 1)),
    "sce_axis_tuple": ("softmax_cross_entropy", (_f32(2, 3, 4), _probs(2, 3, 4) / 3),
                       dict(axis=(1, 2)), (0,)),
    "sce_smoothed": ("softmax_cross_entropy",
                     (_f32(4, 5), np.asarray(optax.smooth_labels(_onehot(LABELS_5, 5), 0.1))),
                     {}, (0,)),
    "sce_int": ("softmax_cross_entropy_with_integer_labels", (_f32(4, 5), LABELS_5), {},
                (0,)),
    "sce_int_where": ("softmax_cross_entropy_with_integer_labels",
                      (_f32(4, 5), np.zeros(4, np.int32)), dict(where=MASK_ROW_OFF), (0,)),
    "sce_int_axis0": ("softmax_cross_entropy_with_integer_labels",
                      (_f32(5, 3), R.integers(0, 5, (3,)).astype(np.int32)), dict(axis=0),
                      (0,)),
    "sce_int_axis_tuple": ("softmax_cross_entropy_with_integer_labels",
                           (_f32(2, 3, 4), np.array([5, 11], np.int32)),
                           dict(axis=(1, 2)), (0,)),
    "sce_int_axis_tuple_where": ("softmax_cross_entropy_with_integer_labels",
                                 (_f32(2, 3, 4), np.array([0, 7], np.int32)),
                                 dict(axis=(2, 1), where=_mask(2, 3, 4)), (0,)),
    "sigmoid_bce": ("sigmoid_binary_cross_entropy",
                    (_f32(3, 4) * 4, (R.random((3, 4)) < 0.5).astype(np.float32)), {}, (0,)),
    "sigmoid_bce_soft": ("sigmoid_binary_cross_entropy",
                         (_f32(3, 4), R.random((3, 4)).astype(np.float32)), {}, (0, 1)),
    "focal": ("sigmoid_focal_loss",
              (_f32(3, 4) * 3, (R.random((3, 4)) < 0.5).astype(np.float32)), {}, (0,)),
    "focal_alpha": ("sigmoid_focal_loss",
                    (_f32(3, 4) * 3, R.random((3, 4)).astype(np.float32)),
                    dict(alpha=0.25, gamma=1.5), (0, 1)),
    "l2": ("l2_loss", (_f32(3, 4), _f32(3, 4)), {}, (0, 1)),
    "l2_no_target": ("l2_loss", (_f32(6),), {}, (0,)),
    "squared_error": ("squared_error", (_f32(3, 4), _f32(3, 4)), {}, (0, 1)),
    "huber": ("huber_loss", (_f32(3, 4) * 2, _f32(3, 4)), dict(delta=0.5), (0, 1)),
    "huber_no_target": ("huber_loss", (_f32(8) * 2,), {}, (0,)),
    "log_cosh": ("log_cosh", (_f32(3, 4) * 5, _f32(3, 4)), {}, (0, 1)),
    "log_cosh_big": ("log_cosh", (np.array([-200., -1., 0.5, 300.], np.float32),), {}, (0,)),
    "hinge": ("hinge_loss", (_f32(10), np.sign(_f32(10))), {}, (0,)),
    "cos_sim": ("cosine_similarity", (_f32(3, 4), _f32(3, 4)), {}, (0, 1)),
    "cos_sim_eps_axis": ("cosine_similarity", (_f32(3, 4) * 0.1, _f32(3, 4)),
                         dict(epsilon=0.1, axis=0), (0, 1)),
    "cos_sim_where": ("cosine_similarity", (_f32(3, 4), _f32(3, 4)),
                      dict(where=_mask(3, 4)), (0, 1)),
    "cos_dist": ("cosine_distance", (_f32(2, 3, 4), _f32(2, 3, 4)), dict(axis=(1, 2)),
                 (0, 1)),
    "kl": ("kl_divergence",
           (np.log(_probs(3, 4)), np.concatenate([_probs(3, 3) * 0.9, np.zeros((3, 1),
                                                  np.float32)], -1)), {}, (0, 1)),
    "kl_where": ("kl_divergence", (np.log(_probs(3, 4)), _probs(3, 4)),
                 dict(where=_mask(3, 4)), (0, 1)),
    "kl_log_targets": ("kl_divergence_with_log_targets",
                       (np.log(_probs(3, 4)), np.log(_probs(3, 4))), {}, (0, 1)),
    "kl_log_targets_axis": ("kl_divergence_with_log_targets",
                            (np.log(_probs(4, 3, axis=0)), np.log(_probs(4, 3, axis=0))),
                            dict(axis=0, where=_mask(4, 3)), (0, 1)),
    "smooth_labels": ("smooth_labels", (_onehot(LABELS_5, 5), 0.2), {}, (0,)),
    "smooth_labels_where": ("smooth_labels", (_onehot(LABELS_5, 5), 0.1),
                            dict(where=_mask(4, 5)), (0,)),
    "ctc": ("ctc_loss", _ctc_inputs(), {}, (0,)),
    "ctc_blank2": ("ctc_loss", _ctc_inputs(blank_id=2), dict(blank_id=2), (0,)),
}


def _both(name, args, kwargs, argnums):
    """(optax value, optax vjp, lamina value, lamina vjp) for one case."""
    ofn = functools.partial(getattr(optax.losses, name), **kwargs)
    lfn = functools.partial(getattr(L, name), **kwargs)
    out = np.asarray(ofn(*map(jnp.asarray, args)))
    ct = R.standard_normal(out.shape).astype(np.float32)

    def jobj(*a):
        return jnp.sum(ofn(*a) * ct)

    def lobj(*a):
        return lnp.sum(lfn(*a) * ct)

    jout, jgrads = jax.jit(lambda *a: (ofn(*a), jax.grad(jobj, argnums)(*a)))(
        *map(jnp.asarray, args))
    lout, lgrads = lamina.jit(lambda *a: (lfn(*a), lamina.grad(lobj, argnums)(*a)))(
        *map(lnp.asarray, args))
    return jout, jgrads, lout, lgrads


@pytest.mark.parametrize("case", list(CASES))
def test_value_and_vjp_match_optax(case):
    name, args, kwargs, argnums = CASES[case]
    jout, jgrads, lout, lgrads = _both(name, args, kwargs, argnums)
    assert lout.shape == jout.shape and lout.dtype == jout.dtype, (lout, jout)
    np.testing.assert_allclose(np.asarray(lout), np.asarray(jout), rtol=2e-6, atol=1e-6)
    for lg, jg in zip(lgrads, jgrads):
        assert lg.shape == jg.shape and lg.dtype == jg.dtype
        np.testing.assert_allclose(np.asarray(lg), np.asarray(jg), rtol=1e-5, atol=1e-6)


def test_ctc_forward_probs_and_eager():
    args = _ctc_inputs()
    o = optax.losses.ctc_loss_with_forward_probs(*map(jnp.asarray, args))
    ll = L.ctc_loss_with_forward_probs(*map(lnp.asarray, args))  # eager path
    for a, b in zip(ll, o):
        assert a.shape == b.shape
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=2e-6, atol=1e-5)


def test_eager_matches_jit():
    x, y = _f32(4, 5), _probs(4, 5)
    eager = L.softmax_cross_entropy(lnp.asarray(x), lnp.asarray(y), where=_mask(4, 5))
    assert eager.shape == (4,)
    g = lamina.grad(lambda z: L.sigmoid_focal_loss(z, lnp.asarray(y), alpha=0.3).sum())(
        lnp.asarray(x))
    jg = jax.grad(lambda z: optax.losses.sigmoid_focal_loss(z, jnp.asarray(y),
                                                            alpha=0.3).sum())(jnp.asarray(x))
    np.testing.assert_allclose(np.asarray(g), np.asarray(jg), rtol=1e-5, atol=1e-6)


def test_loss_names_and_signatures_mirror_optax():
    import inspect
    for name in L.__all__:
        ours = inspect.signature(getattr(L, name))
        theirs = inspect.signature(getattr(optax.losses, name))
        assert list(ours.parameters) == list(theirs.parameters), name
        for p, q in zip(ours.parameters.values(), theirs.parameters.values()):
            assert p.kind == q.kind and p.default == q.default, (name, p, q)


@pytest.mark.parametrize("call, match", [
    (lambda: L.softmax_cross_entropy(lnp.arange(3), lnp.ones(3)),
     r"softmax_cross_entropy: `logits` must have a floating dtype, got int32\[3\]"),
    (lambda: L.softmax_cross_entropy_with_integer_labels(lnp.ones((2, 3)), lnp.ones(2)),
     r"`labels` must have an integer dtype"),
    (lambda: L.softmax_cross_entropy_with_integer_labels(lnp.ones((2, 3)),
                                                         lnp.zeros(3, lnp.int32)),
     r"labels \(3,\) for logits \(2, 3\)"),
    (lambda: L.squared_error(lnp.ones(3), lnp.ones((1, 3))),
     r"squared_error: `predictions` and `targets` must have the same shape"),
    (lambda: L.ctc_loss(lnp.ones((2, 3)), lnp.ones(2), lnp.ones((2, 1), lnp.int32),
                        lnp.ones((2, 1))), r"`logits` must have rank 3"),
    (lambda: L.softmax_cross_entropy_with_integer_labels(lnp.ones((2, 3)),
                                                         lnp.zeros(2, lnp.int32),
                                                         axis=[1]),
     r"`axis` must be an int or a tuple"),
])
def test_bad_inputs_raise_clear_errors(call, match):
    with pytest.raises((TypeError, ValueError), match=match):
        call()
