"""Every lamina.optim optimizer against optax 0.2.8 (tests/optim/optax_oracle.py): same
updates and states at every step within 1e-6 relative, same state NamedTuples, inside
lamina.jit, on nested dict/list/tuple params with None leaves; dtypes kept by
apply_updates; bad hyperparameters rejected with the optimizer's and argument's names.
"""
import numpy as np
import optax
import pytest

import lamina
import lamina.numpy as lnp
import lamina.optim as optim
from optax_oracle import run_against_optax


def sched(count):
    # NOTE: plain arithmetic, so the same function is a schedule for both libraries.
    return 0.01 * 0.97 ** count


def slow_sched(count):
    return 1e-3 * 0.97 ** count


CASES = {
    "sgd": ("sgd", dict(learning_rate=1e-3)),
    "sgd_schedule": ("sgd", dict(learning_rate=slow_sched)),
    "sgd_momentum": ("sgd", dict(learning_rate=1e-3, momentum=0.9)),
    "sgd_nesterov": ("sgd", dict(learning_rate=1e-3, momentum=0.9, nesterov=True)),
    "adam": ("adam", dict(learning_rate=0.01)),
    "adam_schedule": ("adam", dict(learning_rate=sched, b1=0.8, eps_root=1e-8)),
    "nadam": ("nadam", dict(learning_rate=0.01)),
    "adamw": ("adamw", dict(learning_rate=0.01, weight_decay=0.1)),
    "adamw_mask": ("adamw", dict(learning_rate=0.01, weight_decay=0.1,
                                 mask=lambda p: {k: k != "mlp" for k in p})),
    "nadamw": ("nadamw", dict(learning_rate=0.01, weight_decay=sched)),
    "adamax": ("adamax", dict(learning_rate=0.01)),
    "adamaxw": ("adamaxw", dict(learning_rate=0.01, weight_decay=0.1)),
    "amsgrad": ("amsgrad", dict(learning_rate=0.01)),
    "radam": ("radam", dict(learning_rate=0.01)),
    "radam_nesterov": ("radam", dict(learning_rate=1e-3, nesterov=True, threshold=4.0)),
    "adabelief": ("adabelief", dict(learning_rate=0.01)),
    "adagrad": ("adagrad", dict(learning_rate=0.01)),
    "adadelta": ("adadelta", dict(learning_rate=0.5, weight_decay=0.01)),
    "adafactor": ("adafactor", dict(learning_rate=0.01)),
    "adafactor_factored": ("adafactor", dict(learning_rate=0.01, min_dim_size_to_factor=2,
                                             momentum=0.9, weight_decay_rate=1e-3)),
    "adafactor_no_lr": ("adafactor", dict(multiply_by_parameter_scale=False,
                                          clipping_threshold=None)),
    "lamb": ("lamb", dict(learning_rate=0.01, weight_decay=0.01)),
    "lars": ("lars", dict(learning_rate=0.01, weight_decay=0.01)),
    "lars_nesterov": ("lars", dict(learning_rate=0.01, nesterov=True,
                                   trust_ratio_mask=lambda p: {k: k == "mlp" for k in p})),
    "lion": ("lion", dict(learning_rate=1e-3)),
    "rmsprop": ("rmsprop", dict(learning_rate=1e-3)),
    "rmsprop_centered": ("rmsprop", dict(learning_rate=1e-3, centered=True,
                                         initial_scale=1.0)),
    "rmsprop_momentum": ("rmsprop", dict(learning_rate=1e-3, momentum=0.9, nesterov=True,
                                         bias_correction=True, eps_in_sqrt=False)),
    "yogi": ("yogi", dict(learning_rate=0.01)),
    "novograd": ("novograd", dict(learning_rate=0.01, weight_decay=0.01)),
    "sign_sgd": ("sign_sgd", dict(learning_rate=1e-3)),
    "fromage": ("fromage", dict(learning_rate=0.01)),
    "fromage_schedule": ("fromage", dict(learning_rate=sched)),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_matches_optax(case):
    name, kwargs = CASES[case]
    run_against_optax(getattr(optim, name)(**kwargs), getattr(optax, name)(**kwargs))


def test_sm3_matches_optax():
    # NOTE: no scalar leaf: SM3 keeps one accumulator per axis, and optax's SM3 fails on
    # rank-0 params.
    run_against_optax(optim.sm3(0.01), optax.sm3(0.01), scalar_leaf=False)


def test_noisy_sgd_matches_optax():
    # lamina.random's threefry bits equal jax.random's, so the noise is the same.
    run_against_optax(optim.noisy_sgd(1e-3, key=3), optax.noisy_sgd(1e-3, key=3), steps=10)


def test_extra_args_are_accepted_and_ignored():
    opt = optim.adam(0.1)
    p = lnp.ones(2)
    u, _ = opt.update(lnp.ones(2), opt.init(p), p, value=lnp.array(3.0), other="x")
    np.testing.assert_allclose(np.asarray(u), [-0.1, -0.1], rtol=1e-5)


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
@pytest.mark.parametrize("name", ["sgd", "adam"])
def test_low_precision_params_keep_dtype(name, dtype):
    import jax
    import jax.numpy as jnp
    kw = dict(learning_rate=0.01)
    ours, theirs = getattr(optim, name)(**kw), getattr(optax, name)(**kw)
    p = {"w": lnp.asarray(np.linspace(-1, 1, 6).reshape(2, 3), dtype), "b": None}
    op = jax.tree.map(lambda x: jnp.asarray(np.asarray(x)), p)
    s, os_ = ours.init(p), theirs.init(op)
    step = lamina.jit(lambda g, s, p: ours.update(g, s, p))
    for _ in range(3):
        g = {"w": p["w"] * 2, "b": None}
        u, s = step(g, s, p)
        ou, os_ = theirs.update({"w": op["w"] * 2, "b": None}, os_, op)
        p = optim.apply_updates(p, u)
        op = optax.apply_updates(op, ou)
        assert p["w"].dtype == np.dtype(dtype) and p["b"] is None
        np.testing.assert_allclose(np.asarray(p["w"], np.float32),
                                   np.asarray(op["w"], np.float32), rtol=1e-2, atol=1e-3)
    # float32 updates applied to low-precision params are cast back, as in optax.
    out = optim.apply_updates(p, {"w": lnp.ones((2, 3), lnp.float32), "b": None})
    assert out["w"].dtype == np.dtype(dtype)


def test_apply_and_incremental_update_match_optax():
    import jax.numpy as jnp
    p = {"a": [lnp.array([1., 2.])], "n": None, "t": (lnp.array(3.),)}
    u = {"a": [lnp.array([.5, -1.])], "n": None, "t": (lnp.array(-.25),)}
    to_j = lambda t: {"a": [jnp.asarray(np.asarray(t["a"][0]))], "n": None,  # noqa: E731
                      "t": (jnp.asarray(np.asarray(t["t"][0])),)}
    ours = optim.apply_updates(p, u)
    theirs = optax.apply_updates(to_j(p), to_j(u))
    np.testing.assert_array_equal(np.asarray(ours["a"][0]), np.asarray(theirs["a"][0]))
    assert ours["n"] is None
    inc = optim.incremental_update(u, p, 0.3)
    oinc = optax.incremental_update(to_j(u), to_j(p), 0.3)
    np.testing.assert_allclose(np.asarray(inc["t"][0]), np.asarray(oinc["t"][0]), rtol=1e-6)


def test_state_types_are_optax_names():
    st = optim.adam(0.1).init({"w": lnp.zeros(2)})
    assert [type(s).__name__ for s in st] == ["ScaleByAdamState", "EmptyState"]
    assert st[0]._fields == ("count", "mu", "nu") and st[0].count.dtype == np.int32


BAD = [
    (lambda: optim.adam(-1e-3), "adam: learning_rate"),
    (lambda: optim.adam(1e-3, b1=1.0), r"adam: b1 must be in \[0, 1\), got 1.0"),
    (lambda: optim.adam(1e-3, b2=1.5), "adam: b2"),
    (lambda: optim.adam(1e-3, eps=-1.0), "adam: eps must be >= 0"),
    (lambda: optim.nadam(1e-3, b1=-0.1), "nadam: b1"),
    (lambda: optim.adamw(1e-3, weight_decay=-0.1), "adamw: weight_decay"),
    (lambda: optim.sgd(float("nan")), "sgd: learning_rate"),
    (lambda: optim.sgd(-0.1), "sgd: learning_rate"),
    (lambda: optim.sgd(0.1, momentum=1.5), "sgd: momentum"),
    (lambda: optim.rmsprop(0.1, decay=2.0), "rmsprop: decay"),
    (lambda: optim.lion(-1.0), "lion: learning_rate"),
    (lambda: optim.lamb(0.1, b1=1.0), "lamb: b1"),
    (lambda: optim.adagrad(0.1, initial_accumulator_value=-1.0),
     "adagrad: initial_accumulator_value"),
    (lambda: optim.sm3(lambda c: 0.1), "sm3: learning_rate must be a number"),
    (lambda: optim.yogi(0.1, b2=1.0), "yogi: b2"),
    (lambda: optim.scale_by_adam(b1=1.0), "scale_by_adam: b1"),
    (lambda: optim.ema(decay=1.0), "ema: decay"),
    (lambda: optim.scale_by_lion(mode="soft"), "scale_by_lion: mode"),
    (lambda: optim.chain(optim.scale(1.0), "adam"), "chain: argument 1"),
]


@pytest.mark.parametrize("make, match", BAD, ids=[m for _, m in BAD])
def test_bad_hyperparameters_raise_clear_errors(make, match):
    with pytest.raises((ValueError, TypeError), match=match):
        make()


def test_traced_hyperparameters_are_not_checked():
    # Arrays (e.g. injected hyperparameters) are taken as they are: no concretization.
    @lamina.jit
    def step(lr, b1, g):
        opt = optim.adam(lr, b1=b1)
        return opt.update(g, opt.init(g))[0]

    u = step(lnp.array(0.1), lnp.array(0.9), lnp.ones(2))
    np.testing.assert_allclose(np.asarray(u), [-0.1, -0.1], rtol=1e-5)


def test_missing_params_error_names_the_transformation():
    opt = optim.lamb(0.1)
    state = opt.init(lnp.ones(2))
    with pytest.raises(ValueError, match="add_decayed_weights.*params"):
        opt.update(lnp.ones(2), state)


def test_public_names_exist_in_optax():
    from lamina.optim import _base, accumulation, adding, alias, clipping, scaling, transform
    for module in (_base, alias, transform, scaling, accumulation, adding, clipping):
        assert sorted(n for n in module.__all__ if not hasattr(optax, n)) == [], module
    required = """sgd adam adamw adamax adamaxw amsgrad nadam nadamw radam adabelief adagrad
        adadelta adafactor lamb lars lion rmsprop yogi novograd sign_sgd noisy_sgd sm3
        fromage scale scale_by_learning_rate scale_by_schedule scale_by_adam scale_by_adamax
        scale_by_amsgrad scale_by_rms scale_by_stddev scale_by_rss scale_by_belief
        scale_by_lion scale_by_radam scale_by_yogi scale_by_novograd scale_by_trust_ratio
        scale_by_sign scale_by_factored_rms trace ema add_decayed_weights add_noise clip
        clip_by_global_norm clip_by_block_rms adaptive_grad_clip centralize zero_nans
        identity set_to_zero stateless stateless_with_tree_map chain apply_updates
        incremental_update global_norm with_extra_args_support GradientTransformation
        GradientTransformationExtraArgs EmptyState OptState Params Updates Schedule
        ScalarOrSchedule""".split()
    assert [n for n in required if not hasattr(optim, n)] == []


def test_optim_runs_without_importing_jax():
    import subprocess
    import sys
    code = ("import sys, lamina, lamina.numpy as lnp, lamina.optim as optim\n"
            "p = {'w': lnp.ones(3), 'b': None}\n"
            "opt = optim.chain(optim.clip_by_global_norm(1.0), optim.adamw(0.1))\n"
            "u, s = lamina.jit(opt.update)(p, opt.init(p), p)\n"
            "optim.apply_updates(p, u)\n"
            "assert 'jax' not in sys.modules and 'optax' not in sys.modules\n")
    subprocess.run([sys.executable, "-c", code], check=True)
