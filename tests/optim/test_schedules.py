"""lamina.optim schedules against optax 0.2.8: Python-int counts and traced int32 counts
inside lamina.jit, at many steps, float32 within 1e-6 relative."""
import numpy as np
import optax
import pytest

import lamina
import lamina.numpy as lnp
from lamina.optim import schedules as S

COUNTS = list(range(0, 40)) + [45, 50, 63, 64, 99, 100, 101, 150, 200, 1000]

CASES = {
    "constant": ("constant_schedule", dict(value=0.3)),
    "polynomial": ("polynomial_schedule",
                   dict(init_value=1.0, end_value=0.01, power=2, transition_steps=50,
                        transition_begin=5)),
    "polynomial_begin_neg": ("polynomial_schedule",
                             dict(init_value=0.5, end_value=0.1, power=1.5,
                                  transition_steps=32, transition_begin=-3)),
    "polynomial_const": ("polynomial_schedule",
                         dict(init_value=0.5, end_value=0.1, power=2, transition_steps=0)),
    "linear": ("linear_schedule", dict(init_value=1.0, end_value=0.0, transition_steps=37)),
    "linear_begin": ("linear_schedule", dict(init_value=0.1, end_value=0.7,
                                             transition_steps=20, transition_begin=10)),
    "piecewise_constant": ("piecewise_constant_schedule",
                           dict(init_value=0.5, boundaries_and_scales={10: 0.1, 30: 0.5,
                                                                       64: 2.0})),
    "piecewise_constant_none": ("piecewise_constant_schedule", dict(init_value=0.5)),
    "exponential": ("exponential_decay",
                    dict(init_value=1.0, transition_steps=7, decay_rate=0.8)),
    "exponential_staircase": ("exponential_decay",
                              dict(init_value=1.0, transition_steps=7, decay_rate=0.8,
                                   transition_begin=4, staircase=True, end_value=0.3)),
    "exponential_growth": ("exponential_decay",
                           dict(init_value=0.1, transition_steps=10, decay_rate=1.5,
                                end_value=1.0)),
    "cosine": ("cosine_decay_schedule", dict(init_value=0.7, decay_steps=60)),
    "cosine_alpha_exp": ("cosine_decay_schedule",
                         dict(init_value=0.7, decay_steps=45, alpha=0.1, exponent=2.0)),
    "warmup_cosine": ("warmup_cosine_decay_schedule",
                      dict(init_value=0.0, peak_value=1.0, warmup_steps=10,
                           decay_steps=100, end_value=0.05)),
    "warmup_exponential": ("warmup_exponential_decay_schedule",
                           dict(init_value=0.0, peak_value=1.0, warmup_steps=10,
                                transition_steps=5, decay_rate=0.9, transition_begin=3,
                                staircase=True, end_value=0.2)),
    "warmup_constant": ("warmup_constant_schedule",
                        dict(init_value=0.01, peak_value=0.5, warmup_steps=25)),
    "piecewise_interp_linear": ("piecewise_interpolate_schedule",
                                dict(interpolate_type="linear", init_value=1.0,
                                     boundaries_and_scales={5: 0.5, 20: 0.1, 60: 3.0})),
    "piecewise_interp_cosine": ("piecewise_interpolate_schedule",
                                dict(interpolate_type="cosine", init_value=2.0,
                                     boundaries_and_scales={7: 0.5, 33: 0.2})),
    "piecewise_interp_empty": ("piecewise_interpolate_schedule",
                               dict(interpolate_type="linear", init_value=2.0)),
    "linear_onecycle": ("linear_onecycle_schedule",
                        dict(transition_steps=100, peak_value=1.0)),
    "cosine_onecycle": ("cosine_onecycle_schedule",
                        dict(transition_steps=90, peak_value=0.5, pct_start=0.25)),
    "sgdr": ("sgdr_schedule",
             dict(cosine_kwargs=[dict(init_value=0.0, peak_value=1.0, warmup_steps=5,
                                      decay_steps=30),
                                 dict(init_value=0.1, peak_value=0.5, warmup_steps=3,
                                      decay_steps=40, end_value=0.01)])),
}


def _join_pair(mod):
    return mod.join_schedules(
        [mod.linear_schedule(0.0, 1.0, 10), mod.cosine_decay_schedule(1.0, 30),
         mod.constant_schedule(0.25)], [10, 40])


def _make(mod, name):
    if name == "join":
        return _join_pair(mod)
    fn_name, kwargs = CASES[name]
    return getattr(mod, fn_name)(**kwargs)


def _oracle(name):
    import jax
    import jax.numpy as jnp
    fn = jax.jit(_make(optax.schedules, name))
    return np.array([np.asarray(fn(jnp.int32(c)), np.float32) for c in COUNTS])


def _close(got, want, what):
    got = np.asarray(got, np.float32)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7, err_msg=what)


@pytest.mark.parametrize("name", list(CASES) + ["join"])
def test_schedule_matches_optax(name):
    want = _oracle(name)
    sched = _make(S, name)
    jitted = lamina.jit(sched)
    traced = [np.asarray(jitted(lnp.asarray(c, lnp.int32))) for c in COUNTS]
    _close(traced, want, f"{name} (traced int32 count)")
    # Python ints, eagerly (a few steps only: each one dispatches op by op).
    for c in (0, 1, 5, 10, 31, 64, 150):
        _close(sched(c), want[COUNTS.index(c)], f"{name} (python count {c})")


def test_schedules_dtype_float32():
    sched = S.warmup_cosine_decay_schedule(0.0, 1.0, 10, 100)
    out = lamina.jit(sched)(lnp.asarray(3, lnp.int32))
    assert out.dtype == lnp.float32 and out.shape == ()


def test_all_optax_schedules_present():
    names = [n for n in dir(optax.schedules) if not n.startswith("_") and (
        n.endswith("_schedule") or n in ("exponential_decay", "join_schedules",
                                         "inject_hyperparams", "WrappedSchedule"))]
    missing = [n for n in names if not hasattr(S, n)]
    assert not missing, missing


@pytest.mark.parametrize("call, match", [
    (lambda: S.cosine_decay_schedule(1.0, decay_steps=0), "cosine_decay_schedule.*decay_steps"),
    (lambda: S.piecewise_constant_schedule(1.0, {3: -0.1}),
     "piecewise_constant_schedule.*boundaries_and_scales"),
    (lambda: S.piecewise_interpolate_schedule("quadratic", 1.0),
     "piecewise_interpolate_schedule.*interpolate_type.*quadratic"),
    (lambda: S.linear_onecycle_schedule(0, 1.0), "linear_onecycle_schedule.*transition_steps"),
    (lambda: S.cosine_onecycle_schedule(-2, 1.0), "cosine_onecycle_schedule.*transition_steps"),
    (lambda: S.join_schedules([S.constant_schedule(1.0)] * 3, [2]), "join_schedules.*boundaries"),
    (lambda: S.sgdr_schedule([dict(init_value=0.0, peak_value=1.0, warmup_steps=1)]),
     "sgdr_schedule.*decay_steps"),
])
def test_bad_arguments(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_traced_transition_steps_is_rejected():
    def f(n):
        return S.linear_schedule(1.0, 0.0, transition_steps=n)(3)
    with pytest.raises(TypeError, match="linear_schedule|polynomial_schedule"):
        lamina.jit(f)(lnp.asarray(10))
