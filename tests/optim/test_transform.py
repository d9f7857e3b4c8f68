"""Every lamina.optim building block (and the protocol in _base) against optax 0.2.8,
with the side-by-side harness of tests/optim/optax_oracle.py: updates and states equal
within 1e-6 relative at every step, same state NamedTuples, inside lamina.jit.
"""
import jax
import numpy as np
import optax
import pytest

import lamina
import lamina.numpy as lnp
import lamina.optim as optim
from lamina.tree_util import tree_map
from optax_oracle import run_against_optax


def sched(count):
    # NOTE: plain arithmetic, so the same function is a schedule for both libraries.
    return 0.5 * 0.9 ** count


# name -> (function name, kwargs, step size applied to the params). Blocks whose output
# is a normalized direction (adam, sign...) are applied with a small step so that the
# shared trajectory stays in a sensible region.
CASES = {
    "scale": ("scale", dict(step_size=-1e-3), 1.0),
    "scale_by_learning_rate": ("scale_by_learning_rate", dict(learning_rate=1e-3), 1.0),
    "scale_by_learning_rate_schedule": ("scale_by_learning_rate",
                                        dict(learning_rate=sched), 1e-2),
    "scale_by_learning_rate_no_flip": ("scale_by_learning_rate",
                                       dict(learning_rate=1e-3, flip_sign=False), -1.0),
    "scale_by_schedule": ("scale_by_schedule", dict(step_size_fn=sched), -1e-2),
    "scale_by_adam": ("scale_by_adam", dict(), -1e-2),
    "scale_by_adam_nesterov": ("scale_by_adam", dict(nesterov=True, eps_root=1e-10), -1e-2),
    "scale_by_adamax": ("scale_by_adamax", dict(b1=0.8), -1e-2),
    "scale_by_amsgrad": ("scale_by_amsgrad", dict(bias_correction_nu=False), -1e-2),
    "scale_by_rms": ("scale_by_rms", dict(), -1e-3),
    "scale_by_rms_bias_corrected": ("scale_by_rms",
                                    dict(bias_correction=True, eps_in_sqrt=False), -1e-3),
    "scale_by_stddev": ("scale_by_stddev", dict(initial_scale=1.0), -1e-3),
    "scale_by_stddev_bias_corrected": ("scale_by_stddev", dict(bias_correction=True,
                                                               initial_scale=1.0), -1e-3),
    "scale_by_rss": ("scale_by_rss", dict(), -1e-2),
    "scale_by_belief": ("scale_by_belief", dict(), -1e-2),
    "scale_by_belief_nesterov": ("scale_by_belief", dict(nesterov=True), -1e-2),
    "scale_by_lion": ("scale_by_lion", dict(), -1e-3),
    "scale_by_lion_smooth": ("scale_by_lion", dict(mode="smooth", smooth_beta=2.0), -1e-3),
    "scale_by_lion_refined": ("scale_by_lion", dict(mode="refined"), -1e-3),
    "scale_by_radam": ("scale_by_radam", dict(), -1e-3),
    "scale_by_yogi": ("scale_by_yogi", dict(), -1e-2),
    "scale_by_novograd": ("scale_by_novograd", dict(weight_decay=0.01), -1e-2),
    "scale_by_trust_ratio": ("scale_by_trust_ratio", dict(min_norm=1e-3, eps=1e-6), -1e-3),
    "scale_by_sign": ("scale_by_sign", dict(), -1e-3),
    "scale_by_factored_rms": ("scale_by_factored_rms", dict(), -1e-2),
    "scale_by_factored_rms_factored": ("scale_by_factored_rms",
                                       dict(min_dim_size_to_factor=2, decay_rate=0.7), -1e-2),
    "scale_by_param_block_rms": ("scale_by_param_block_rms", dict(), -1e-3),
    "scale_by_param_block_norm": ("scale_by_param_block_norm", dict(), -1e-3),
    "scale_by_adadelta": ("scale_by_adadelta", dict(), -1.0),
    "trace": ("trace", dict(decay=0.9), -1e-3),
    "trace_nesterov": ("trace", dict(decay=0.9, nesterov=True), -1e-3),
    "ema": ("ema", dict(decay=0.9), -1e-3),
    "ema_no_debias": ("ema", dict(decay=0.8, debias=False), -1e-3),
    "add_decayed_weights": ("add_decayed_weights", dict(weight_decay=0.1), -1e-3),
    "add_decayed_weights_schedule": ("add_decayed_weights", dict(weight_decay=sched), -1e-3),
    "add_decayed_weights_mask": ("add_decayed_weights",
                                 dict(weight_decay=0.1,
                                      mask=lambda p: {k: k != "rosen" for k in p}), -1e-3),
    "clip": ("clip", dict(max_delta=1.0), -1e-2),
    "clip_by_global_norm": ("clip_by_global_norm", dict(max_norm=5.0), -1e-2),
    "clip_by_block_rms": ("clip_by_block_rms", dict(threshold=0.5), -1e-2),
    "adaptive_grad_clip": ("adaptive_grad_clip", dict(clipping=0.1), -1e-2),
    "centralize": ("centralize", dict(), -1e-3),
    "zero_nans": ("zero_nans", dict(), -1e-3),
    "identity": ("identity", dict(), -1e-3),
    "set_to_zero": ("set_to_zero", dict(), -1e-3),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_matches_optax(case):
    name, kwargs, step = CASES[case]
    run_against_optax(getattr(optim, name)(**kwargs), getattr(optax, name)(**kwargs),
                      step_size=step)


def test_sm3_block_matches_optax():
    run_against_optax(optim.scale_by_sm3(), optax.scale_by_sm3(), scalar_leaf=False,
                      step_size=-1e-3)


def test_add_noise_matches_optax():
    run_against_optax(optim.add_noise(0.01, 0.55, key=7), optax.add_noise(0.01, 0.55, key=7),
                      step_size=-1e-3, steps=10)


def test_chain_matches_optax():
    ours = optim.chain(optim.clip_by_global_norm(1.0), optim.scale_by_adam(),
                       optim.add_decayed_weights(1e-2), optim.scale_by_learning_rate(1e-2))
    theirs = optax.chain(optax.clip_by_global_norm(1.0), optax.scale_by_adam(),
                         optax.add_decayed_weights(1e-2), optax.scale_by_learning_rate(1e-2))
    run_against_optax(ours, theirs)


def test_stateless_matches_optax():
    ours = optim.stateless(lambda u, p: tree_map(lambda g, x: g + 0.1 * x, u, p))
    theirs = optax.stateless(lambda u, p: jax.tree.map(lambda g, x: g + 0.1 * x, u, p))
    run_against_optax(ours, theirs, step_size=-1e-3)
    ours = optim.stateless_with_tree_map(lambda g, p: g * 2.0 - p)
    theirs = optax.stateless_with_tree_map(lambda g, p: g * 2.0 - p)
    run_against_optax(ours, theirs, step_size=-1e-3, steps=5)


def test_zero_nans_flags_leaves():
    tx = optim.zero_nans()
    u = {"a": lnp.array([1.0, np.nan]), "b": lnp.ones(2)}
    out, state = lamina.jit(tx.update)(u, tx.init(u))
    np.testing.assert_array_equal(np.asarray(out["a"]), [1.0, 0.0])
    assert bool(state.found_nan["a"]) and not bool(state.found_nan["b"])


def test_global_norm_matches_optax():
    tree = {"a": lnp.array([3.0, 1.0]), "b": [lnp.array([[4.0]])], "c": None}
    jtree = {"a": np.array([3.0, 1.0], np.float32), "b": [np.array([[4.0]], np.float32)],
             "c": None}
    np.testing.assert_allclose(np.asarray(optim.global_norm(tree)),
                               np.asarray(optax.tree.norm(jtree)), rtol=1e-6)


def test_with_extra_args_support_and_chain_state_check():
    tx = optim.with_extra_args_support(optim.scale(2.0))
    assert isinstance(tx, optim.GradientTransformationExtraArgs)
    assert optim.with_extra_args_support(tx) is tx
    np.testing.assert_array_equal(np.asarray(tx.update(lnp.ones(1), (), loss=1.0)[0]), [2.0])
    chained = optim.chain(optim.scale(1.0), optim.scale(2.0))
    with pytest.raises(ValueError, match="chain: the state holds 1 entries"):
        chained.update(lnp.ones(1), (optim.EmptyState(),))


def test_params_required_errors():
    for tx in [optim.scale_by_trust_ratio(), optim.add_decayed_weights(0.1),
               optim.adaptive_grad_clip(0.1), optim.scale_by_factored_rms()]:
        state = tx.init(lnp.ones(2))
        with pytest.raises(ValueError, match="params"):
            tx.update(lnp.ones(2), state, None)


def test_mu_dtype_and_accumulator_dtype():
    p = {"w": lnp.ones(3)}
    st = optim.scale_by_adam(mu_dtype=lnp.bfloat16).init(p)
    assert st.mu["w"].dtype == np.dtype("bfloat16") and st.nu["w"].dtype == np.float32
    _, st = optim.scale_by_adam(mu_dtype=lnp.bfloat16).update(p, st)
    assert st.mu["w"].dtype == np.dtype("bfloat16")
    st = optim.trace(0.9, accumulator_dtype="bfloat16").init(p)
    assert st.trace["w"].dtype == np.dtype("bfloat16")
