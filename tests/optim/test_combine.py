"""lamina.optim combinators against optax 0.2.8.

Each case runs ~30 steps of a small MLP under optax (jax.jit) and records the gradients,
params, updates and states; lamina's jitted update is fed the same gradients and params
at every step and must give the same updates and states (float32, 1e-6 relative), with
the same state NamedTuple type names and field names.
"""
import collections

import numpy as np
import optax
import pytest

import lamina
import lamina.numpy as lnp
from lamina.optim import _base as B
from lamina.optim import accumulation as A
from lamina.optim import combine as C
from lamina.optim import schedules as S
from lamina.optim import transform as T

STEPS = 30
RTOL, ATOL = 1e-6, 1e-7

# --------------------------------------------------------------------------------------
# The problem: a 4-8-3 tanh MLP on fixed data, params with a None leaf.

_rng = np.random.default_rng(0)
_X = _rng.normal(size=(16, 4)).astype(np.float32)
_Y = _rng.normal(size=(16, 3)).astype(np.float32)
_P0 = {
    "l1": {"w": (_rng.normal(size=(4, 8)) * 0.5).astype(np.float32),
           "b": np.zeros(8, np.float32)},
    "l2": {"w": (_rng.normal(size=(8, 3)) * 0.5).astype(np.float32),
           "b": np.zeros(3, np.float32)},
    "aux": None,
}


def _loss(jnp, params):
    h = jnp.tanh(_X @ params["l1"]["w"] + params["l1"]["b"])
    out = h @ params["l2"]["w"] + params["l2"]["b"]
    return jnp.mean((out - _Y) ** 2)


def _to_np(tree):
    import jax
    return jax.tree.map(lambda x: np.asarray(x), tree)


def _to_lamina(tree):
    return lamina.tree_util.tree_map(lnp.asarray, tree)


def _canon(x):
    """A comparable form (kind, meta, children): NamedTuples keep their type and field
    names, dicts their keys (OrderedDicts in order); arrays become numpy."""
    if isinstance(x, tuple) and hasattr(x, "_fields"):
        return ("namedtuple", (type(x).__name__, tuple(x._fields)),
                tuple(_canon(c) for c in x))
    if isinstance(x, collections.OrderedDict):
        return ("odict", tuple(x), tuple(_canon(v) for v in x.values()))
    if isinstance(x, dict):
        keys = tuple(sorted(x))
        return ("dict", keys, tuple(_canon(x[k]) for k in keys))
    if isinstance(x, (tuple, list)):
        return (type(x).__name__, len(x), tuple(_canon(c) for c in x))
    if x is None:
        return None
    return np.asarray(x)


def _assert_same(got, want, where=""):
    if isinstance(want, np.ndarray):
        assert isinstance(got, np.ndarray), f"{where}: got {got!r}, want an array"
        assert got.shape == want.shape, f"{where}: shape {got.shape} != {want.shape}"
        assert got.dtype == want.dtype, f"{where}: dtype {got.dtype} != {want.dtype}"
        if want.dtype.kind in "fc":
            np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL, err_msg=where)
        else:
            np.testing.assert_array_equal(got, want, err_msg=where)
        return
    if want is None:
        assert got is None, f"{where}: got {got!r}, want None"
        return
    assert isinstance(got, tuple) and got[:2] == want[:2], (
        f"{where}: structure {got[:2] if isinstance(got, tuple) else got!r} != {want[:2]}")
    kind, meta, children = want
    for i, (g, w) in enumerate(zip(got[2], children)):
        label = (meta[1][i] if kind == "namedtuple" else
                 repr(meta[i]) if kind in ("dict", "odict") else i)
        _assert_same(g, w, f"{where}.{label}")


def _optax_run(tx, steps=STEPS, grad_hook=None, params0=None, lookahead=False,
               state_hook=None):
    """Runs `tx` under optax; returns [(grads, params, updates, state_after)] per step."""
    import jax
    import jax.numpy as jnp
    params = jax.tree.map(jnp.asarray, params0 if params0 is not None else _P0)
    if lookahead:
        params = optax.LookaheadParams.init_synced(params)
    state = tx.init(params)
    grad_fn = jax.jit(jax.grad(lambda p: _loss(jnp, p)))
    update = jax.jit(tx.update)
    records = []
    for t in range(steps):
        grads = grad_fn(params.fast if lookahead else params)
        if grad_hook is not None:
            grads = grad_hook(t, grads)
        if state_hook is not None:
            state = state_hook(t, state)
        updates, state = update(grads, state, params)
        records.append((_to_np(grads), _to_np(params), _to_np(updates), state))
        params = optax.apply_updates(params, updates)
    return records


def _check_against(lam_tx, records, lookahead=False, state_hook=None, init_params=None):
    params0 = records[0][1]
    if lookahead:
        params0 = C.LookaheadParams(**params0._asdict())
    state = lam_tx.init(_to_lamina(params0 if init_params is None else init_params))
    update = lamina.jit(lam_tx.update)
    for t, (grads, params, want_updates, want_state) in enumerate(records):
        if lookahead:
            params = C.LookaheadParams(**params._asdict())
        if state_hook is not None:
            state = state_hook(t, state)
        updates, state = update(_to_lamina(grads), state, _to_lamina(params))
        _assert_same(_canon(updates), _canon(_to_np(want_updates)), f"step {t} updates")
        _assert_same(_canon(state), _canon(want_state), f"step {t} state")
    return state


def _adam(mod, lr=1e-2):
    return mod.chain(mod.scale_by_adam(), mod.scale(-lr))


def _momentum(mod, lr=0.1):
    return mod.chain(mod.trace(decay=0.9), mod.scale(-lr))


class _Lam:  # NOTE: the lamina pieces under optax's names, module by module.
    chain = staticmethod(B.chain)
    scale_by_adam = staticmethod(T.scale_by_adam)
    scale = staticmethod(T.scale)
    trace = staticmethod(A.trace)


def _nan_at(steps):
    import jax
    import jax.numpy as jnp

    def hook(t, grads):
        if t in steps:
            return jax.tree.map(lambda g: g.at[0].set(jnp.nan), grads)
        return grads
    return hook


# --------------------------------------------------------------------------------------
# Oracle comparisons


MASK = {"l1": True, "l2": {"w": True, "b": False}, "aux": None}
LABELS = {"l1": {"w": "adam", "b": "momentum"}, "l2": "adam", "aux": None}


def _labels_fn(params):
    del params
    return {"l1": {"w": "adam", "b": "momentum"}, "l2": {"w": "adam", "b": "momentum"},
            "aux": None}


CASES = {
    "named_chain": lambda m, c: c.named_chain(("adam", m.scale_by_adam()),
                                              ("lr", m.scale(-1e-2))),
    "masked": lambda m, c: c.masked(_adam(m), MASK),
    "masked_fn": lambda m, c: c.masked(
        _adam(m), lambda p: {"l1": {"w": True, "b": False}, "l2": True, "aux": None}),
    "partition": lambda m, c: c.partition({"adam": _adam(m), "momentum": _momentum(m)},
                                          LABELS),
    "multi_transform_fn": lambda m, c: c.multi_transform(
        {"adam": _adam(m), "momentum": _momentum(m), "unused": m.scale(3.0)}, _labels_fn),
    "freeze": lambda m, c: m.chain(c.freeze(MASK), _adam(m)),
    "freeze_all": lambda m, c: c.freeze(True),
    "selective_transform": lambda m, c: c.selective_transform(
        _adam(m), freeze_mask={"l1": False, "l2": {"w": False, "b": True}, "aux": None}),
    "apply_if_finite": lambda m, c: c.apply_if_finite(_adam(m), max_consecutive_errors=2),
    "flatten": lambda m, c: c.flatten(_adam(m)),
}
HOOKS = {"apply_if_finite": _nan_at({3, 10, 11, 25, 26, 27})}


@pytest.mark.parametrize("name", list(CASES))
def test_combinator_matches_optax(name):
    records = _optax_run(CASES[name](optax, optax), grad_hook=HOOKS.get(name))
    _check_against(CASES[name](_Lam, C), records)


@pytest.mark.parametrize("k, mean, skip", [
    (3, True, False),
    ("schedule", False, False),
    (2, True, True),
])
def test_multisteps_matches_optax(k, mean, skip):
    def make(m, c, skip_fn):
        every_k = k if k != "schedule" else (lambda step: 2 + (step >= 3) * 2)
        return c.MultiSteps(_adam(m), every_k_schedule=every_k, use_grad_mean=mean,
                            should_skip_update_fn=skip_fn if skip else None)
    hook = _nan_at({4, 9, 10}) if skip else None
    ox = make(optax, optax, optax.skip_not_finite)
    records = _optax_run(ox.gradient_transformation(), grad_hook=hook)
    lam = make(_Lam, C, C.skip_not_finite)
    _check_against(lam.gradient_transformation(), records)


def test_lookahead_matches_optax():
    for reset in (False, True):
        def make(m, c):
            return c.lookahead(_adam(m), sync_period=4, slow_step_size=0.5,
                               reset_state=reset)
        records = _optax_run(make(optax, optax), lookahead=True)
        _check_against(make(_Lam, C), records, lookahead=True)


def _adam_factory(m):
    def adam_like(learning_rate, b1=0.9, b2=0.999, eps=1e-8):
        return m.chain(m.scale_by_adam(b1=b1, b2=b2, eps=eps), m.scale(-learning_rate))
    return adam_like


def test_inject_hyperparams_schedule_matches_optax():
    def make(m, c, s):
        sched = s.warmup_cosine_decay_schedule(0.0, 0.05, warmup_steps=5, decay_steps=25)
        return c.inject_hyperparams(_adam_factory(m))(
            learning_rate=sched, b1=s.linear_schedule(0.8, 0.95, 20))
    records = _optax_run(make(optax, optax, optax))
    state = _check_against(make(_Lam, C, S), records)
    assert set(state.hyperparams) == {"learning_rate", "b1", "b2", "eps"}
    assert state.hyperparams["learning_rate"].dtype == lnp.float32


def test_inject_hyperparams_learning_rate_changed_between_steps():
    def hook(t, state):
        if t == 10:  # NOTE: a copy, so the recorded step-9 state keeps its dict.
            return state._replace(hyperparams={**state.hyperparams, "learning_rate": 0.003})
        return state

    def make(m, c):
        return c.inject_hyperparams(_adam_factory(m))(learning_rate=0.02)
    records = _optax_run(make(optax, optax), state_hook=hook)
    state = _check_against(make(_Lam, C), records, state_hook=hook)
    np.testing.assert_allclose(np.asarray(state.hyperparams["learning_rate"]), 0.003,
                               rtol=1e-7)
    assert int(state.count) == STEPS


def test_inject_stateful_hyperparams_warns_and_works():
    with pytest.warns(DeprecationWarning, match="inject_hyperparams"):
        factory = C.inject_stateful_hyperparams(_adam_factory(_Lam))
    tx = factory(learning_rate=S.constant_schedule(0.1))
    state = tx.init(_to_lamina(_P0))
    assert type(state).__name__ == "InjectStatefulHyperparamsState"
    assert type(state.hyperparams_states["learning_rate"]).__name__ == "WrappedScheduleState"


# --------------------------------------------------------------------------------------
# Semantics checked directly


def test_multisteps_has_updated_and_accumulation():
    ms = C.MultiSteps(B.chain(T.scale(-1.0)), every_k_schedule=3)
    assert isinstance(ms.gradient_transformation(), B.GradientTransformation)
    assert ms.inner_opt is not None
    state = ms.init({"a": lnp.zeros(2)})
    assert type(state).__name__ == "MultiStepsState"
    assert state._fields == optax.MultiStepsState._fields
    update = lamina.jit(ms.update)
    seen = []
    for i in range(7):
        u, state = update({"a": lnp.full(2, float(i))}, state)
        seen.append((float(u["a"][0]), bool(ms.has_updated(state)),
                     int(state.mini_step), int(state.gradient_step)))
    # mean of (0, 1, 2) = 1 applied at the 3rd call; mean of (3, 4, 5) = 4 at the 6th.
    assert seen == [(0.0, False, 1, 0), (0.0, False, 2, 0), (-1.0, True, 0, 1),
                    (0.0, False, 1, 1), (0.0, False, 2, 1), (-4.0, True, 0, 2),
                    (0.0, False, 1, 2)]


def test_multisteps_skips_nan_ministeps():
    ms = C.MultiSteps(B.chain(T.scale(-1.0)), every_k_schedule=2,
                      should_skip_update_fn=C.skip_not_finite)
    state = ms.init(lnp.zeros(1))
    update = lamina.jit(ms.update)
    u, state = update(lnp.array([2.0]), state)
    u, state = update(lnp.array([lnp.nan]), state)  # skipped: as if never seen
    assert int(state.mini_step) == 1 and int(state.skip_state["num_not_finite"]) == 1
    assert bool(state.skip_state["should_skip"])
    u, state = update(lnp.array([4.0]), state)
    assert float(u[0]) == -3.0 and bool(ms.has_updated(state))


def test_apply_if_finite_counters():
    tx = C.apply_if_finite(B.chain(T.scale(-1.0)), max_consecutive_errors=1)
    state = tx.init(lnp.zeros(2))
    update = lamina.jit(tx.update)
    bad = lnp.array([1.0, lnp.inf])
    rows = []
    for g in (bad, bad, lnp.ones(2), bad):
        u, state = update(g, state)
        rows.append((np.asarray(u).tolist(), int(state.notfinite_count),
                     bool(state.last_finite), int(state.total_notfinite)))
    assert rows == [([0.0, 0.0], 1, False, 1),
                    ([-1.0, -np.inf], 2, False, 2),  # gave up after 1 skip
                    ([-1.0, -1.0], 0, True, 2),
                    ([0.0, 0.0], 1, False, 3)]
    assert ApplyIfFiniteFields == state._fields


ApplyIfFiniteFields = optax.ApplyIfFiniteState._fields


def test_masked_state_has_masked_nodes_and_none():
    params = _to_lamina(_P0)
    tx = C.masked(T.scale_by_adam(), MASK)
    state = tx.init(params)
    assert isinstance(state.inner_state.mu["l2"]["b"], C.MaskedNode)
    assert state.inner_state.mu["aux"] is None
    u, _ = tx.update(params, state)
    assert u["aux"] is None
    np.testing.assert_array_equal(np.asarray(u["l2"]["b"]), _P0["l2"]["b"])


def test_state_type_names_match_optax():
    pairs = [("MaskedState", "MaskedState"), ("MaskedNode", "MaskedNode"),
             ("PartitionState", "PartitionState"), ("MultiStepsState", "MultiStepsState"),
             ("ApplyIfFiniteState", "ApplyIfFiniteState"),
             ("InjectHyperparamsState", "InjectHyperparamsState"),
             ("InjectStatefulHyperparamsState", "InjectStatefulHyperparamsState"),
             ("LookaheadState", "LookaheadState"), ("LookaheadParams", "LookaheadParams")]
    for ours, theirs in pairs:
        assert getattr(C, ours)._fields == getattr(optax, theirs)._fields, ours
    assert C.MultiTransformState is C.PartitionState
    assert C.multi_transform is C.partition


# --------------------------------------------------------------------------------------
# Errors


def test_masked_mismatched_structure():
    tx = C.masked(T.scale_by_adam(), {"l1": True, "l3": False})
    with pytest.raises(ValueError, match=r"masked: `mask` must have the tree structure"):
        tx.init(_to_lamina(_P0))


def test_masked_non_bool_leaf():
    tx = C.masked(T.scale_by_adam(), {"l1": "yes", "l2": True, "aux": None})
    with pytest.raises(TypeError, match=r"masked: the leaves of `mask` must be booleans"):
        tx.init(_to_lamina(_P0))


def test_partition_unknown_label():
    tx = C.partition({"adam": _adam(_Lam)}, {"l1": "adam", "l2": "sgd", "aux": None})
    with pytest.raises(ValueError, match=r"partition: `param_labels`.*'sgd'"):
        tx.init(_to_lamina(_P0))


def test_partition_mismatched_labels_structure():
    tx = C.partition({"adam": _adam(_Lam)}, {"l1": "adam"})
    with pytest.raises(ValueError, match=r"partition: `param_labels` must have the tree"):
        tx.init(_to_lamina(_P0))


@pytest.mark.parametrize("call, exc, match", [
    (lambda: C.named_chain(("a", T.scale(1.0)), ("a", T.scale(2.0))), ValueError,
     "named_chain: names must be unique"),
    (lambda: C.named_chain(T.scale(1.0)), TypeError, "named_chain: argument 0"),
    (lambda: C.masked("adam", True), TypeError, "masked: `inner`"),
    (lambda: C.partition([T.scale(1.0)], {}), TypeError, "partition: `transforms`"),
    (lambda: C.MultiSteps(T.scale(1.0), every_k_schedule=0), ValueError,
     "MultiSteps: `every_k_schedule` must be >= 1"),
    (lambda: C.apply_if_finite(T.scale(1.0), -1), ValueError,
     "apply_if_finite: `max_consecutive_errors`"),
    (lambda: C.lookahead(T.scale(1.0), sync_period=0, slow_step_size=0.5), ValueError,
     "lookahead: `sync_period` must be >= 1"),
    (lambda: C.inject_hyperparams(_adam_factory(_Lam), static_args="lr"), ValueError,
     "inject_hyperparams: `static_args`"),
    (lambda: C.inject_hyperparams(_adam_factory(_Lam))(lr=0.1), TypeError,
     "inject_hyperparams\\(adam_like\\)"),
])
def test_bad_arguments(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_multisteps_bad_skip_fn():
    ms = C.MultiSteps(T.scale(1.0), 2,
                      should_skip_update_fn=lambda u, s, p: (lnp.zeros(2, bool), ()))
    with pytest.raises(ValueError, match="MultiSteps: `should_skip_update_fn`"):
        ms.update(lnp.zeros(1), ms.init(lnp.zeros(1)))


def test_lookahead_needs_lookahead_params():
    tx = C.lookahead(T.scale(1.0), sync_period=2, slow_step_size=0.5)
    with pytest.raises(TypeError, match="lookahead: `params` must be a LookaheadParams"):
        tx.update(lnp.zeros(1), tx.init(lnp.zeros(1)), lnp.zeros(1))


def test_inject_hyperparams_with_real_optimizers():
    import lamina.optim as optim

    def make(m):
        sched = m.exponential_decay(0.02, transition_steps=5, decay_rate=0.7)
        return m.chain(m.clip_by_global_norm(1.0),
                       m.inject_hyperparams(m.adamw)(learning_rate=sched,
                                                     weight_decay=1e-3),
                       m.inject_hyperparams(m.sgd)(learning_rate=1.0, momentum=0.5))
    records = _optax_run(make(optax), steps=15)
    state = _check_against(make(optim), records)
    assert float(state[1].hyperparams["learning_rate"]) < 0.02


def test_public_names():
    import lamina.optim as optim
    names = ["named_chain", "masked", "MaskedNode", "MaskedState", "partition",
             "PartitionState", "multi_transform", "MultiTransformState", "freeze",
             "selective_transform", "MultiSteps", "MultiStepsState", "skip_not_finite",
             "skip_large_updates", "ShouldSkipUpdateFunction", "apply_if_finite",
             "ApplyIfFiniteState", "inject_hyperparams", "inject_stateful_hyperparams",
             "InjectHyperparamsState", "InjectStatefulHyperparamsState", "lookahead",
             "LookaheadParams", "LookaheadState", "flatten"]
    assert all(hasattr(optax, n) for n in names)
    missing = [n for n in names if not hasattr(optim, n)]
    assert not missing, missing
    assert optim.schedules.inject_hyperparams is optim.inject_hyperparams
    assert hasattr(optim.schedules, "WrappedSchedule")
    assert hasattr(optim.schedules, "StatefulSchedule")
