"""Building blocks: the `scale_by_*`, clipping, accumulation and noise transformations.

Each function returns a `GradientTransformation`; optimizers in `alias.py` chain them.
States are NamedTuples with optax's names and fields (`ScaleByAdamState(count, mu,
nu)`...), so code that reads `state[0].mu` works unchanged. The per-leaf math follows
optax's order of operations, which keeps float32 results within a few ulps of optax.
"""
from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, NamedTuple, Optional

import numpy as np

import lamina.lax as lax
import lamina.numpy as lnp
from lamina.tree_util import tree_leaves, tree_map, tree_structure, tree_unflatten

from lamina.optim._base import (
    EmptyState, GradientTransformation, NO_PARAMS_MSG, Params, ScalarOrSchedule, Schedule,
    Updates, _abs_sq, _bias_correction, _canonicalize_dtype, _check_decay,
    _check_nonnegative, _is_none, _l2_norm, _safe_increment, _safe_norm,
    _safe_root_mean_squares, _tree_cast, _tree_cast_like, _tree_full_like, _tree_norm,
    _tree_zeros_like, _update_infinity_moment, _update_moment,
    _update_moment_per_elem_norm, identity, init_empty_state)

__all__ = [
    "AdaptiveGradClipState", "AddDecayedWeightsState", "AddNoiseState", "ClipByGlobalNormState",
    "ClipState", "EmaState", "FactoredState", "ScaleByAdaDeltaState", "ScaleByAdamState",
    "ScaleByAmsgradState", "ScaleByBeliefState", "ScaleByLionState", "ScaleByNovogradState",
    "ScaleByRStdDevState", "ScaleByRmsState", "ScaleByRssState", "ScaleBySM3State",
    "ScaleByScheduleState", "ScaleByTrustRatioState", "ScaleState", "TraceState",
    "ZeroNansState", "adaptive_grad_clip", "add_decayed_weights", "add_noise",
    "centralize", "clip", "clip_by_block_rms", "clip_by_global_norm", "ema",
    "scale", "scale_by_adadelta", "scale_by_adam", "scale_by_adamax", "scale_by_amsgrad",
    "scale_by_belief", "scale_by_factored_rms", "scale_by_learning_rate", "scale_by_lion",
    "scale_by_novograd", "scale_by_param_block_norm", "scale_by_param_block_rms",
    "scale_by_radam", "scale_by_rms", "scale_by_rss", "scale_by_schedule",
    "scale_by_sign", "scale_by_sm3", "scale_by_stddev", "scale_by_trust_ratio",
    "scale_by_yogi", "trace", "zero_nans",
]
# NOTE: ScaleByRmsWithCountState, ScaleByRStdDevWithCountState and WeightDecaySchedule
# are reachable here but, as in optax, not re-exported at the top level.

ScaleState = EmptyState
ScaleByTrustRatioState = EmptyState
AddDecayedWeightsState = EmptyState
ClipState = EmptyState
ClipByGlobalNormState = EmptyState
AdaptiveGradClipState = EmptyState


def _zero_count() -> Any:
    return lnp.zeros([], lnp.int32)


def _nesterov_mu_hat(mu, updates, b1, count_inc):
    # NOTE: Nesterov's look-ahead: b1 * m_t / (1 - b1^(t+1)) + (1 - b1) * g_t / (1 - b1^t).
    return tree_map(lambda m, g: b1 * m + (1 - b1) * g,
                    _bias_correction(mu, b1, _safe_increment(count_inc)),
                    _bias_correction(updates, b1, count_inc))


def _adam_step(mu_hat, nu_hat, eps, eps_root):
    return tree_map(lambda m, v: None if m is None else m / (lnp.sqrt(v + eps_root) + eps),
                    mu_hat, nu_hat, is_leaf=_is_none)


# --- scaling -----------------------------------------------------------------------------


def scale(step_size: Any) -> GradientTransformation:
    """Multiplies every update by `step_size`.

    >>> import lamina.numpy as lnp, lamina.optim as optim
    >>> tx = optim.scale(-0.5)
    >>> tx.update(lnp.array([2., 4.]), tx.init(None))[0]
    Array([-1., -2.], dtype=float32)
    """

    def update_fn(updates, state, params=None):
        del params
        return tree_map(lambda g: step_size * g, updates), state

    return GradientTransformation(init_empty_state, update_fn)


class ScaleByScheduleState(NamedTuple):
    """State of `scale_by_schedule`."""

    count: Any  # shape=(), dtype=int32


def scale_by_schedule(step_size_fn: Schedule) -> GradientTransformation:
    """Multiplies the updates by `step_size_fn(count)`, `count` being the number of
    updates done so far (0 at the first).

    >>> import lamina.numpy as lnp, lamina.optim as optim
    >>> tx = optim.scale_by_schedule(lambda count: 0.5 ** count)
    >>> state = tx.init(None)
    >>> u, state = tx.update(lnp.ones(1), state)
    >>> u, state = tx.update(lnp.ones(1), state)
    >>> u, state.count
    (Array([0.5], dtype=float32), Array(2, dtype=int32))
    """
    if not callable(step_size_fn):
        raise TypeError(f"scale_by_schedule: step_size_fn must be a function of the step "
                        f"count, got {step_size_fn!r}; for a constant use optim.scale")

    def init_fn(params):
        del params
        return ScaleByScheduleState(count=_zero_count())

    def update_fn(updates, state, params=None):
        del params
        step_size = step_size_fn(state.count)
        updates = tree_map(lambda g: lnp.array(step_size, dtype=g.dtype) * g, updates)
        return updates, ScaleByScheduleState(count=_safe_increment(state.count))

    return GradientTransformation(init_fn, update_fn)


def scale_by_learning_rate(learning_rate: Optional[ScalarOrSchedule] = None, *,
                           flip_sign: bool = True) -> GradientTransformation:
    """Scales by `-learning_rate` (or `+learning_rate` with `flip_sign=False`); a
    callable learning rate is a schedule called with the step count. `None` is the
    identity.

    >>> import lamina.numpy as lnp, lamina.optim as optim
    >>> tx = optim.scale_by_learning_rate(0.1)
    >>> tx.update(lnp.array([1., 2.]), tx.init(None))[0]
    Array([-0.1, -0.2], dtype=float32)
    """
    if learning_rate is None:
        return identity()
    m = -1 if flip_sign else 1
    if callable(learning_rate):
        return scale_by_schedule(lambda count: m * learning_rate(count))
    return scale(m * learning_rate)


# --- adaptive moments --------------------------------------------------------------------


class ScaleByAdamState(NamedTuple):
    """State of `scale_by_adam` (also used by adamax, yogi and radam)."""

    count: Any  # shape=(), dtype=int32
    mu: Updates
    nu: Updates


def scale_by_adam(b1: Any = 0.9, b2: Any = 0.999, eps: Any = 1e-8, eps_root: Any = 0.0,
                  mu_dtype: Any = None, *, nesterov: bool = False) -> GradientTransformation:
    r"""Adam's rescaling: `m_hat / (sqrt(v_hat + eps_root) + eps)` with bias-corrected
    moving averages `m` of the gradient and `v` of its square.

    Args:
        b1: decay of the first moment, in [0, 1).
        b2: decay of the second moment, in [0, 1).
        eps: added to the denominator outside the square root.
        eps_root: added inside the square root.
        mu_dtype: dtype of the first moment (default: that of the params).
        nesterov: use Nesterov momentum (NAdam).

    >>> import lamina.numpy as lnp, lamina.optim as optim
    >>> tx = optim.scale_by_adam()
    >>> u, state = tx.update(lnp.array([0.1, -3.]), tx.init(lnp.zeros(2)))
    >>> u
    Array([ 0.9999933, -0.9999934], dtype=float32)
    >>> state._fields
    ('count', 'mu', 'nu')
    """
    _check_decay("scale_by_adam", "b1", b1, bias_corrected=True)
    _check_decay("scale_by_adam", "b2", b2, bias_corrected=True)
    _check_nonnegative("scale_by_adam", "eps", eps)
    _check_nonnegative("scale_by_adam", "eps_root", eps_root)
    mu_dtype = _canonicalize_dtype(mu_dtype)

    def init_fn(params):
        return ScaleByAdamState(count=_zero_count(), mu=_tree_zeros_like(params, mu_dtype),
                                nu=_tree_zeros_like(params))

    def update_fn(updates, state, params=None):
        del params
        mu = _update_moment(updates, state.mu, b1, 1)
        nu = _update_moment_per_elem_norm(updates, state.nu, b2, 2)
        count_inc = _safe_increment(state.count)
        if nesterov:
            mu_hat = _nesterov_mu_hat(mu, updates, b1, count_inc)
        else:
            mu_hat = _bias_correction(mu, b1, count_inc)
        nu_hat = _bias_correction(nu, b2, count_inc)
        updates = _adam_step(mu_hat, nu_hat, eps, eps_root)
        mu = _tree_cast(mu, mu_dtype)
        nu = _tree_cast_like(nu, state.nu)
        return updates, ScaleByAdamState(count=count_inc, mu=mu, nu=nu)

    return GradientTransformation(init_fn, update_fn)


class ScaleByAmsgradState(NamedTuple):
    """State of `scale_by_amsgrad`."""

    count: Any  # shape=(), dtype=int32
    mu: Updates
    nu: Updates
    nu_max: Updates


def scale_by_amsgrad(b1: Any = 0.9, b2: Any = 0.999, eps: Any = 1e-8, eps_root: Any = 0.0,
                     mu_dtype: Any = None, bias_correction_mu: bool = True,
                     bias_correction_nu: bool = True) -> GradientTransformation:
    """AMSGrad: Adam with the running maximum of the second moment in the denominator.

    >>> import lamina.numpy as lnp, lamina.optim as optim
    >>> tx = optim.scale_by_amsgrad()
    >>> tx.update(lnp.array([2.]), tx.init(lnp.zeros(1)))[0]
    Array([0.9999933], dtype=float32)
    """
    _check_decay("scale_by_amsgrad", "b1", b1, bias_corrected=bias_correction_mu)
    _check_decay("scale_by_amsgrad", "b2", b2, bias_corrected=bias_correction_nu)
    _check_nonnegative("scale_by_amsgrad", "eps", eps)
    _check_nonnegative("scale_by_amsgrad", "eps_root", eps_root)
    mu_dtype = _canonicalize_dtype(mu_dtype)

    def init_fn(params):
        return ScaleByAmsgradState(
            count=_zero_count(), mu=_tree_zeros_like(params, mu_dtype),
            nu=_tree_zeros_like(params), nu_max=_tree_zeros_like(params))

    def update_fn(updates, state, params=None):
        del params
        mu = _update_moment(updates, state.mu, b1, 1)
        nu = _update_moment_per_elem_norm(updates, state.nu, b2, 2)
        count_inc = _safe_increment(state.count)
        mu_hat = _bias_correction(mu, b1, count_inc) if bias_correction_mu else mu
        nu_eff = _bias_correction(nu, b2, count_inc) if bias_correction_nu else nu
        nu_max = tree_map(lnp.maximum, state.nu_max, nu_eff)
        updates = _adam_step(mu_hat, nu_max, eps, eps_root)
        mu = _tree_cast(mu, mu_dtype)
        return updates, ScaleByAmsgradState(count=count_inc, mu=mu, nu=nu, nu_max=nu_max)

    return GradientTransformation(init_fn, update_fn)


def scale_by_adamax(b1: Any = 0.9, b2: Any = 0.999, eps: Any = 1e-8) -> GradientTransformation:
    """AdaMax: Adam with the infinity norm, `m_hat / max(|g| + eps, b2 * v)`.

    >>> import lamina.numpy as lnp, lamina.optim as optim
    >>> tx = optim.scale_by_adamax()
    >>> tx.update(lnp.array([2.]), tx.init(lnp.zeros(1)))[0]
    Array([0.99999976], dtype=float32)
    """
    _check_decay("scale_by_adamax", "b1", b1, bias_corrected=True)
    _check_decay("scale_by_adamax", "b2", b2, bias_corrected=False)
    _check_nonnegative("scale_by_adamax", "eps", eps)

    def init_fn(params):
        return ScaleByAdamState(count=_zero_count(), mu=_tree_zeros_like(params),
                                nu=_tree_zeros_like(params))

    def update_fn(updates, state, params=None):
        del params
        count_inc = _safe_increment(state.count)
        mu = _update_moment(updates, state.mu, b1, 1)
        nu = _update_infinity_moment(updates, state.nu, b2, eps)
        mu_hat = _bias_correction(mu, b1, count_inc)
        updates = tree_map(lambda m, v: m / v, mu_hat, nu)
        return updates, ScaleByAdamState(count=count_inc, mu=mu, nu=nu)

    return GradientTransformation(init_fn, update_fn)


class ScaleByLionState(NamedTuple):
    """State of `scale_by_lion`."""

    count: Any  # shape=(), dtype=int32
    mu: Updates


def scale_by_lion(b1: Any = 0.9, b2: Any = 0.99, mu_dtype: Any = None, *,
                  mode: str = "hard", smooth_beta: float = 1.0) -> GradientTransformation:
    """Lion: the sign of an interpolation of gradient and momentum (`mode="smooth"`
    uses `tanh(smooth_beta * x)`, `mode="refined"` clips to [-1, 1]).

    >>> import lamina.numpy as lnp, lamina.optim as optim
    >>> tx = optim.scale_by_lion()
    >>> tx.update(lnp.array([0.3, -2.]), tx.init(lnp.zeros(2)))[0]
    Array([ 1., -1.], dtype=float32)
    """
    _check_decay("scale_by_lion", "b1", b1, bias_corrected=False)
    _check_decay("scale_by_lion", "b2", b2, bias_corrected=False)
    if mode not in ("hard", "smooth", "refined"):
        raise ValueError(f"scale_by_lion: mode must be 'hard', 'smooth' or 'refined', "
                         f"got {mode!r}")
    mu_dtype = _canonicalize_dtype(mu_dtype)

    def init_fn(params):
        return ScaleByLionState(count=_zero_count(), mu=_tree_zeros_like(params, mu_dtype))

    def comb(g, m):
        x = (1.0 - b1) * g + b1 * m
        if mode == "hard":
            return lnp.sign(x)
        if mode == "smooth":
            return lnp.tanh(smooth_beta * x)
        return lnp.where(lnp.abs(x) < 1.0, x, lnp.sign(x))

    def update_fn(updates, state, params=None):
        del params
        new_updates = tree_map(comb, updates, state.mu)
        mu = _tree_cast(_update_moment(updates, state.mu, b2, 1), mu_dtype)
        return new_updates, ScaleByLionState(count=_safe_increment(state.count), mu=mu)

    return GradientTransformation(init_fn, update_fn)


class ScaleByRssState(NamedTuple):
    """State of `scale_by_rss` (Adagrad)."""

    sum_of_squares: Updates


def scale_by_rss(initial_accumulator_value: Any = 0.1, eps: Any = 1e-7) -> GradientTransformation:
    """Adagrad's rescaling: divides by the root of the sum of all past squared
    gradients (`initial_accumulator_value` starts the sum).

    >>> import lamina.numpy as lnp, lamina.optim as optim
    >>> tx = optim.scale_by_rss(initial_accumulator_value=0.0, eps=0.0)
    >>> tx.update(lnp.array([-4.]), tx.init(lnp.zeros(1)))[0]
    Array([-1.], dtype=float32)
    """
    _check_nonnegative("scale_by_rss", "initial_accumulator_value", initial_accumulator_value)
    _check_nonnegative("scale_by_rss", "eps", eps)

    def init_fn(params):
        return ScaleByRssState(sum_of_squares=_tree_full_like(params, initial_accumulator_value))

    def update_fn(updates, state, params=None):
        del params
        sum_of_squares = tree_map(lambda g, t: _abs_sq(g) + t, updates, state.sum_of_squares)
        inv_sqrt = tree_map(lambda t: lnp.where(t > 0, lax.rsqrt(t + eps), 0.0),
                            sum_of_squares)
        updates = tree_map(lambda a, b: a * b, inv_sqrt, updates)
        return updates, ScaleByRssState(sum_of_squares=sum_of_squares)

    return GradientTransformation(init_fn, update_fn)


class ScaleByRmsState(NamedTuple):
    """State of `scale_by_rms` without bias correction."""

    nu: Updates


class ScaleByRmsWithCountState(NamedTuple):
    """State of `scale_by_rms(bias_correction=True)`."""

    count: Any  # shape=(), dtype=int32
    nu: Updates


def _rms_scaling(nu_hat, mu_hat, eps, eps_in_sqrt):
    if mu_hat is None:
        var = nu_hat
    else:
        var = tree_map(lambda m, n: n - _abs_sq(m), mu_hat, nu_hat)
    if eps_in_sqrt:
        return tree_map(lambda n: lax.rsqrt(n + eps), var)
    return tree_map(lambda n: 1 / (lnp.sqrt(n) + eps), var)


def scale_by_rms(decay: Any = 0.9, eps: Any = 1e-8, initial_scale: Any = 0.0,
                 eps_in_sqrt: bool = True, bias_correction: bool = False) -> GradientTransformation:
    """RMSProp's rescaling: divides by the root of a moving average of squared gradients.

    >>> import lamina.numpy as lnp, lamina.optim as optim
    >>> tx = optim.scale_by_rms(decay=0.75, eps=0.0)
    >>> tx.update(lnp.array([2.]), tx.init(lnp.zeros(1)))[0]
    Array([2.], dtype=float32)
    """
    _check_decay("scale_by_rms", "decay", decay, bias_corrected=bias_correction)
    _check_nonnegative("scale_by_rms", "eps", eps)

    def init_fn(params):
        nu = _tree_full_like(params, initial_scale)
        if bias_correction:
            return ScaleByRmsWithCountState(count=_zero_count(), nu=nu)
        return ScaleByRmsState(nu=nu)

    def update_fn(updates, state, params=None):
        del params
        nu = _update_moment_per_elem_norm(updates, state.nu, decay, 2)
        if bias_correction:
            count_inc = _safe_increment(state.count)
            nu_hat = _bias_correction(nu, decay, count_inc)
        else:
            nu_hat = nu
        scaling = _rms_scaling(nu_hat, None, eps, eps_in_sqrt)
        updates = tree_map(lambda s, g: s * g, scaling, updates)
        if bias_correction:
            return updates, ScaleByRmsWithCountState(count=count_inc, nu=nu)
        return updates, ScaleByRmsState(nu=nu)

    return GradientTransformation(init_fn, update_fn)


class ScaleByRStdDevState(NamedTuple):
    """State of `scale_by_stddev` without bias correction."""

    mu: Updates
    nu: Updates


class ScaleByRStdDevWithCountState(NamedTuple):
    """State of `scale_by_stddev(bias_correction=True)`."""

    count: Any  # shape=(), dtype=int32
    mu: Updates
    nu: Updates


def scale_by_stddev(decay: Any = 0.9, eps: Any = 1e-8, initial_scale: Any = 0.0,
                    eps_in_sqrt: bool = True,
                    bias_correction: bool = False) -> GradientTransformation:
    """Centered RMSProp's rescaling: divides by a moving estimate of the gradient's
    standard deviation, `sqrt(E[g^2] - E[g]^2)`.

    >>> import lamina.numpy as lnp, lamina.optim as optim
    >>> tx = optim.scale_by_stddev(decay=0.0, initial_scale=1.0)
    >>> tx.update(lnp.array([0.]), tx.init(lnp.zeros(1)))[0]
    Array([0.], dtype=float32)
    """
    _check_decay("scale_by_stddev", "decay", decay, bias_corrected=bias_correction)
    _check_nonnegative("scale_by_stddev", "eps", eps)

    def init_fn(params):
        mu = _tree_zeros_like(params)
        nu = _tree_full_like(params, initial_scale)
        if bias_correction:
            return ScaleByRStdDevWithCountState(count=_zero_count(), mu=mu, nu=nu)
        return ScaleByRStdDevState(mu=mu, nu=nu)

    def update_fn(updates, state, params=None):
        del params
        mu = _update_moment(updates, state.mu, decay, 1)
        nu = _update_moment_per_elem_norm(updates, state.nu, decay, 2)
        if bias_correction:
            count_inc = _safe_increment(state.count)
            mu_hat = _bias_correction(mu, decay, count_inc)
            nu_hat = _bias_correction(nu, decay, count_inc)
        else:
            mu_hat, nu_hat = mu, nu
        scaling = _rms_scaling(nu_hat, mu_hat, eps, eps_in_sqrt)
        updates = tree_map(lambda s, g: s * g, scaling, updates)
        if bias_correction:
            return updates, ScaleByRStdDevWithCountState(count=count_inc, mu=mu, nu=nu)
        return updates, ScaleByRStdDevState(mu=mu, nu=nu)

    return GradientTransformation(init_fn, update_fn)


class ScaleByBeliefState(NamedTuple):
    """State of `scale_by_belief` (AdaBelief)."""

    count: Any  # shape=(), dtype=int32
    mu: Updates
    nu: Updates


def scale_by_belief(b1: Any = 0.9, b2: Any = 0.999, eps: Any = 1e-16, eps_root: Any = 1e-16,
                    *, nesterov: bool = False) -> GradientTransformation:
    """AdaBelief: like Adam, but the second moment tracks `(g - m)^2`, the "belief" in
    the current gradient direction.

    >>> import lamina.numpy as lnp, lamina.optim as optim
    >>> tx = optim.scale_by_belief()
    >>> tx.update(lnp.array([1.]), tx.init(lnp.zeros(1)))[0]
    Array([1.1111037], dtype=float32)
    """
    _check_decay("scale_by_belief", "b1", b1, bias_corrected=True)
    _check_decay("scale_by_belief", "b2", b2, bias_corrected=True)
    _check_nonnegative("scale_by_belief", "eps", eps)
    _check_nonnegative("scale_by_belief", "eps_root", eps_root)

    def init_fn(params):
        return ScaleByBeliefState(count=_zero_count(), mu=_tree_zeros_like(params),
                                  nu=_tree_zeros_like(params))

    def update_fn(updates, state, params=None):
        del params
        mu = _update_moment(updates, state.mu, b1, 1)
        prediction_error = tree_map(lambda g, m: g - m, updates, mu)
        nu = _update_moment_per_elem_norm(prediction_error, state.nu, b2, 2)
        nu = tree_map(lambda v: v + eps_root, nu)
        count_inc = _safe_increment(state.count)
        if nesterov:
            mu_hat = _nesterov_mu_hat(mu, updates, b1, count_inc)
        else:
            mu_hat = _bias_correction(mu, b1, count_inc)
        nu_hat = _bias_correction(nu, b2, count_inc)
        updates = tree_map(lambda m, v: None if m is None else m / (lnp.sqrt(v) + eps),
                           mu_hat, nu_hat, is_leaf=_is_none)
        return updates, ScaleByBeliefState(count=count_inc, mu=mu, nu=nu)

    return GradientTransformation(init_fn, update_fn)


def scale_by_yogi(b1: Any = 0.9, b2: Any = 0.999, eps: Any = 1e-3, eps_root: Any = 0.0,
                  initial_accumulator_value: Any = 1e-6) -> GradientTransformation:
    """Yogi: Adam whose second moment moves additively, `v - (1 - b2) sign(v - g^2) g^2`.

    >>> import lamina.numpy as lnp, lamina.optim as optim
    >>> tx = optim.scale_by_yogi()
    >>> tx.update(lnp.array([1.]), tx.init(lnp.zeros(1)))[0]
    Array([0.99850476], dtype=float32)
    """
    _check_decay("scale_by_yogi", "b1", b1, bias_corrected=True)
    _check_decay("scale_by_yogi", "b2", b2, bias_corrected=True)
    _check_nonnegative("scale_by_yogi", "eps", eps)
    _check_nonnegative("scale_by_yogi", "eps_root", eps_root)

    def init_fn(params):
        return ScaleByAdamState(
            count=_zero_count(), mu=_tree_full_like(params, initial_accumulator_value),
            nu=_tree_full_like(params, initial_accumulator_value))

    def update_fn(updates, state, params=None):
        del params
        mu = _update_moment(updates, state.mu, b1, 1)
        nu = tree_map(lambda g, v: v - (1 - b2) * lnp.sign(v - _abs_sq(g)) * _abs_sq(g),
                      updates, state.nu)
        count_inc = _safe_increment(state.count)
        mu_hat = _bias_correction(mu, b1, count_inc)
        nu_hat = _bias_correction(nu, b2, count_inc)
        updates = _adam_step(mu_hat, nu_hat, eps, eps_root)
        return updates, ScaleByAdamState(count=count_inc, mu=mu, nu=nu)

    return GradientTransformation(init_fn, update_fn)


def scale_by_radam(b1: Any = 0.9, b2: Any = 0.999, eps: Any = 1e-8, eps_root: Any = 0.0,
                   threshold: Any = 5.0, *, nesterov: bool = False) -> GradientTransformation:
    """Rectified Adam: plain momentum while the variance estimate is unreliable (the
    approximated SMA length `ro` is below `threshold`), rectified Adam steps after.

    >>> import lamina.numpy as lnp, lamina.optim as optim
    >>> tx = optim.scale_by_radam()
    >>> tx.update(lnp.array([3.]), tx.init(lnp.zeros(1)))[0]
    Array([2.9999995], dtype=float32)
    """
    _check_decay("scale_by_radam", "b1", b1, bias_corrected=True)
    _check_decay("scale_by_radam", "b2", b2, bias_corrected=True)
    _check_nonnegative("scale_by_radam", "eps", eps)
    _check_nonnegative("scale_by_radam", "eps_root", eps_root)
    ro_inf = 2.0 / (1.0 - b2) - 1.0

    def radam_update(ro, mu_hat, nu_hat):
        r = lnp.sqrt((ro - 4.0) * (ro - 2.0) * ro_inf / ((ro_inf - 4.0) * (ro_inf - 2.0) * ro))
        return tree_map(lambda m, v: r.astype(m.dtype) * m / (lnp.sqrt(v + eps_root) + eps),
                        mu_hat, nu_hat)

    def init_fn(params):
        return ScaleByAdamState(count=_zero_count(), mu=_tree_zeros_like(params),
                                nu=_tree_zeros_like(params))

    def update_fn(updates, state, params=None):
        del params
        mu = _update_moment(updates, state.mu, b1, 1)
        nu = _update_moment_per_elem_norm(updates, state.nu, b2, 2)
        count_inc = _safe_increment(state.count)
        b2t = b2 ** count_inc
        ro = ro_inf - 2 * count_inc * b2t / (1 - b2t)
        if nesterov:
            mu_hat = _nesterov_mu_hat(mu, updates, b1, count_inc)
        else:
            mu_hat = _bias_correction(mu, b1, count_inc)
        nu_hat = _bias_correction(nu, b2, count_inc)
        updates = tree_map(lambda t, f: lnp.where(ro >= threshold, t, f),
                           radam_update(ro, mu_hat, nu_hat), mu_hat)
        return updates, ScaleByAdamState(count=count_inc, mu=mu, nu=nu)

    return GradientTransformation(init_fn, update_fn)


class ScaleByNovogradState(NamedTuple):
    """State of `scale_by_novograd`: `nu` holds one scalar per leaf."""

    count: Any  # shape=(), dtype=int32
    mu: Updates
    nu: Updates


def scale_by_novograd(b1: Any = 0.9, b2: Any = 0.25, eps: Any = 1e-8, eps_root: Any = 0.0,
                      weight_decay: Any = 0.0, mu_dtype: Any = None) -> GradientTransformation:
    """NovoGrad: layer-wise second moments (one scalar per leaf, the squared norm of its
    gradient) and weight decay inside the momentum. Needs `params`.

    >>> import lamina.numpy as lnp, lamina.optim as optim
    >>> tx = optim.scale_by_novograd(eps=0.0)
    >>> p = lnp.zeros(2)
    >>> tx.update(lnp.array([3., 4.]), tx.init(p), p)[0]
    Array([0.6, 0.8], dtype=float32)
    """
    _check_decay("scale_by_novograd", "b1", b1, bias_corrected=False)
    _check_decay("scale_by_novograd", "b2", b2, bias_corrected=False)
    _check_nonnegative("scale_by_novograd", "eps", eps)
    _check_nonnegative("scale_by_novograd", "eps_root", eps_root)
    _check_nonnegative("scale_by_novograd", "weight_decay", weight_decay)
    mu_dtype = _canonicalize_dtype(mu_dtype)

    def init_fn(params):
        return ScaleByNovogradState(
            count=_zero_count(), mu=_tree_zeros_like(params, mu_dtype),
            nu=tree_map(lambda p: lnp.asarray(0.0, dtype=p.dtype), params))

    def nu_addition(g):
        return _l2_norm(g) ** 2

    def mu_addition(g, p, nu):
        return g / (lnp.sqrt(nu + eps_root) + eps) + weight_decay * p

    def init_nu(grads, nu):
        return tree_map(lambda g, n: nu_addition(g).astype(n.dtype), grads, nu)

    def update_nu(grads, nu):
        return _update_moment(tree_map(nu_addition, grads), nu, b2, 1)

    def init_mu(grads, params, mu, nu):
        del mu
        return tree_map(mu_addition, grads, params, nu)

    def update_mu(grads, params, mu, nu):
        new = tree_map(mu_addition, grads, params, nu)
        return tree_map(lambda m, u: None if m is None else b1 * m + u, mu, new,
                        is_leaf=_is_none)

    def update_fn(updates, state, params):
        if params is None:
            raise ValueError("scale_by_novograd: " + NO_PARAMS_MSG)
        count_inc = _safe_increment(state.count)
        first = count_inc == 1
        nu = lax.cond(first, init_nu, update_nu, updates, state.nu)
        mu = lax.cond(first, init_mu, update_mu, updates, params, state.mu, nu)
        mu = _tree_cast(mu, mu_dtype)
        return mu, ScaleByNovogradState(count=count_inc, mu=mu, nu=nu)

    return GradientTransformation(init_fn, update_fn)


def scale_by_trust_ratio(min_norm: Any = 0.0, trust_coefficient: Any = 1.0,
                         eps: Any = 0.0) -> GradientTransformation:
    """LARS/LAMB's layer-wise trust ratio: scales each leaf's update by
    `trust_coefficient * ||param|| / (||update|| + eps)` (by 1 where a norm is 0).

    >>> import lamina.numpy as lnp, lamina.optim as optim
    >>> tx = optim.scale_by_trust_ratio()
    >>> tx.update(lnp.array([3., 4.]), tx.init(None), lnp.array([0., 10.]))[0]
    Array([6., 8.], dtype=float32)
    """
    _check_nonnegative("scale_by_trust_ratio", "min_norm", min_norm)
    _check_nonnegative("scale_by_trust_ratio", "trust_coefficient", trust_coefficient)
    _check_nonnegative("scale_by_trust_ratio", "eps", eps)

    def scale_update(update, param):
        param_norm = _safe_norm(param, min_norm)
        update_norm = _safe_norm(update, min_norm)
        trust_ratio = trust_coefficient * param_norm / (update_norm + eps)
        zero_norm = lnp.logical_or(param_norm == 0.0, update_norm == 0.0)
        safe = lnp.where(zero_norm, lnp.array(1.0, dtype=param.dtype), trust_ratio)
        return update * safe

    def update_fn(updates, state, params):
        if params is None:
            raise ValueError("scale_by_trust_ratio: " + NO_PARAMS_MSG)
        return tree_map(scale_update, updates, params), state

    return GradientTransformation(init_empty_state, update_fn)


def scale_by_sign() -> GradientTransformation:
    """Replaces each update by its sign.

    >>> import lamina.numpy as lnp, lamina.optim as optim
    >>> tx = optim.scale_by_sign()
    >>> tx.update(lnp.array([-3., 0., 0.5]), tx.init(None))[0]
    Array([-1.,  0.,  1.], dtype=float32)
    """

    def update_fn(updates, state, params=None):
        del params
        return tree_map(lnp.sign, updates), state

    return GradientTransformation(init_empty_state, update_fn)


def scale_by_param_block_norm(min_scale: Any = 1e-3) -> GradientTransformation:
    """Scales each leaf's update by `max(||param||, min_scale)`.

    >>> import lamina.numpy as lnp, lamina.optim as optim
    >>> tx = optim.scale_by_param_block_norm()
    >>> tx.update(lnp.ones(2), tx.init(None), lnp.array([3., 4.]))[0]
    Array([5., 5.], dtype=float32)
    """

    def update_fn(updates, state, params):
        if params is None:
            raise ValueError("scale_by_param_block_norm: " + NO_PARAMS_MSG)
        return tree_map(lambda u, p: u * _safe_norm(p, min_scale), updates, params), state

    return GradientTransformation(init_empty_state, update_fn)


def scale_by_param_block_rms(min_scale: Any = 1e-3) -> GradientTransformation:
    """Scales each leaf's update by `max(rms(param), min_scale)` (used by Adafactor).

    >>> import lamina.numpy as lnp, lamina.optim as optim
    >>> tx = optim.scale_by_param_block_rms()
    >>> tx.update(lnp.ones(2), tx.init(None), lnp.array([2., -2.]))[0]
    Array([2., 2.], dtype=float32)
    """

    def update_fn(updates, state, params):
        if params is None:
            raise ValueError("scale_by_param_block_rms: " + NO_PARAMS_MSG)
        return tree_map(lambda u, p: u * _safe_root_mean_squares(p, min_scale),
                        updates, params), state

    return GradientTransformation(init_empty_state, update_fn)


class ScaleByAdaDeltaState(NamedTuple):
    """State of `scale_by_adadelta`."""

    e_g: Updates
    e_x: Updates


def scale_by_adadelta(rho: Any = 0.9, eps: Any = 1e-6) -> GradientTransformation:
    """AdaDelta: `sqrt(E[dx^2] + eps) / sqrt(E[g^2] + eps) * g`.

    >>> import lamina.numpy as lnp, lamina.optim as optim
    >>> tx = optim.scale_by_adadelta(rho=0.0, eps=1.0)
    >>> tx.update(lnp.array([0.]), tx.init(lnp.zeros(1)))[0]
    Array([0.], dtype=float32)
    """
    _check_decay("scale_by_adadelta", "rho", rho, bias_corrected=False)
    _check_nonnegative("scale_by_adadelta", "eps", eps)

    def init_fn(params):
        return ScaleByAdaDeltaState(e_g=_tree_zeros_like(params), e_x=_tree_zeros_like(params))

    def update_fn(updates, state, params=None):
        del params
        e_g = _update_moment(updates, state.e_g, rho, 2)
        updates = tree_map(
            lambda g, cur_e_g, prev_e_x: lnp.sqrt(prev_e_x + eps) / lnp.sqrt(cur_e_g + eps) * g,
            updates, e_g, state.e_x)
        e_x = _update_moment(updates, state.e_x, rho, 2)
        return updates, ScaleByAdaDeltaState(e_g=e_g, e_x=e_x)

    return GradientTransformation(init_fn, update_fn)


class ScaleBySM3State(NamedTuple):
    """State of `scale_by_sm3`: `mu` holds one accumulator vector per axis of a leaf."""

    mu: Updates
    nu: Updates


def scale_by_sm3(b1: Any = 0.9, b2: Any = 1.0, eps: Any = 1e-8) -> GradientTransformation:
    """SM3: memory-efficient adaptive scaling with one accumulator per axis (cover sets
    of rows/columns), followed by momentum `b1`.

    >>> import lamina.numpy as lnp, lamina.optim as optim
    >>> tx = optim.scale_by_sm3(b1=0.0, eps=0.0)
    >>> tx.update(lnp.array([-2., 4.]), tx.init(lnp.zeros(2)))[0]
    Array([-1.,  1.], dtype=float32)
    """
    _check_decay("scale_by_sm3", "b1", b1, bias_corrected=False)
    _check_decay("scale_by_sm3", "b2", b2, bias_corrected=False)
    _check_nonnegative("scale_by_sm3", "eps", eps)

    def zeros_for_dim(p):
        return [lnp.zeros((p.shape[i],), p.dtype) for i in range(p.ndim)]

    def init_fn(params):
        if any(lnp.iscomplexobj(x) for x in tree_leaves(params)):
            raise ValueError("scale_by_sm3: complex parameters are not supported")
        return ScaleBySM3State(tree_map(zeros_for_dim, params), _tree_zeros_like(params))

    def expanded_shape(shape, axis):
        return [1] * axis + [shape[axis]] + [1] * (len(shape) - axis - 1)

    def new_accum(g, v):
        coeffs = (1.0 - b2 if b2 != 1.0 else 1.0, b2)
        if g.ndim < 2:
            return coeffs[0] * g ** 2 + coeffs[1] * v[0]
        return coeffs[0] * g ** 2 + coeffs[1] * functools.reduce(lnp.minimum, v)

    def new_mu(g, i):
        if g.ndim < 2:
            return g
        return lnp.max(g, axis=tuple(a for a in range(g.ndim) if a != i))

    def update_fn(updates, state, params=None):
        del params
        # NOTE: `updates` goes first so that each of its leaves meets its whole per-axis
        # list in state.mu (tree_map flattens later trees up to the first one).
        mu = tree_map(lambda g, v: [lnp.reshape(v[i], expanded_shape(g.shape, i))
                                    for i in range(g.ndim)], updates, state.mu)
        accum = tree_map(new_accum, updates, mu)
        inv = tree_map(lambda t: lnp.where(t > 0, lax.rsqrt(t + eps), 0.0), accum)
        up = tree_map(lambda g, a: g * a, updates, inv)
        nu = _update_moment(up, state.nu, b1, 1)
        mu = tree_map(lambda g: [new_mu(g, i) for i in range(g.ndim)], accum)
        return nu, ScaleBySM3State(mu=mu, nu=nu)

    return GradientTransformation(init_fn, update_fn)


class FactoredState(NamedTuple):
    """State of `scale_by_factored_rms` (Adafactor). Unfactored leaves keep `v` and
    shape-(1,) placeholders in `v_row`/`v_col`; factored ones the reverse."""

    count: Any  # shape=(), dtype=int32
    v_row: Any
    v_col: Any
    v: Any


def _decay_rate_pow(i: Any, exponent: Any = 0.8) -> Any:
    """Adafactor's second-moment decay `1 - (i + 1)^(-exponent)`."""
    t = lnp.array(i + 1, lnp.float32)
    return 1.0 - t ** (-exponent)


def _factored_dims(shape, factored: bool, min_dim_size_to_factor: int):
    if not factored or len(shape) < 2:
        return None
    sorted_dims = np.argsort(shape)
    if shape[sorted_dims[-2]] < min_dim_size_to_factor:
        return None
    return int(sorted_dims[-2]), int(sorted_dims[-1])


class _FactoredResult:
    """One leaf's result inside `scale_by_factored_rms` (a pytree leaf on purpose)."""

    __slots__ = ("update", "v_row", "v_col", "v")

    def __init__(self, update, v_row, v_col, v):
        self.update, self.v_row, self.v_col, self.v = update, v_row, v_col, v


def scale_by_factored_rms(factored: bool = True, decay_rate: Any = 0.8, step_offset: Any = 0,
                          min_dim_size_to_factor: int = 128, epsilon: Any = 1e-30,
                          decay_rate_fn: Callable[[Any, Any], Any] = _decay_rate_pow
                          ) -> GradientTransformation:
    """Adafactor's rescaling: second moments factored into row and column statistics
    for leaves whose two largest dimensions are at least `min_dim_size_to_factor`.
    Needs `params`.

    >>> import lamina.numpy as lnp, lamina.optim as optim
    >>> tx = optim.scale_by_factored_rms()
    >>> p = lnp.zeros(2)
    >>> tx.update(lnp.array([2., -2.]), tx.init(p), p)[0]
    Array([ 1., -1.], dtype=float32)
    """

    def to_state(count, results):
        return FactoredState(count=count,
                             v_row=tree_map(lambda o: o.v_row, results),
                             v_col=tree_map(lambda o: o.v_col, results),
                             v=tree_map(lambda o: o.v, results))

    def init_fn(params):
        def init_leaf(param):
            shape, dtype = param.shape, param.dtype
            dims = _factored_dims(shape, factored, min_dim_size_to_factor)
            one = lnp.zeros((1,), dtype=dtype)
            if dims is not None:
                d1, d0 = dims
                row_shape = tuple(s for i, s in enumerate(shape) if i != d0)
                col_shape = tuple(s for i, s in enumerate(shape) if i != d1)
                return _FactoredResult(one, lnp.zeros(row_shape, dtype),
                                       lnp.zeros(col_shape, dtype), one)
            return _FactoredResult(one, one, one, lnp.zeros_like(param))

        return to_state(_zero_count(), tree_map(init_leaf, params))

    def update_fn(grads, state, params):
        if params is None:
            raise ValueError("scale_by_factored_rms: " + NO_PARAMS_MSG)

        def update_leaf(grad, v_row, v_col, v, param, step):
            shape, dtype = param.shape, param.dtype
            decay_rate_t = decay_rate_fn(step - step_offset, decay_rate)
            new_v_row = lnp.zeros((1,), dtype=dtype)
            new_v_col = lnp.zeros((1,), dtype=dtype)
            new_v = lnp.zeros((1,), dtype=dtype)
            dims = _factored_dims(shape, factored, min_dim_size_to_factor)
            grad_sqr = _abs_sq(grad) + epsilon
            if dims is not None:
                d1, d0 = dims
                new_v_row = (decay_rate_t * v_row
                             + (1.0 - decay_rate_t) * lnp.mean(grad_sqr, axis=d0))
                new_v_col = (decay_rate_t * v_col
                             + (1.0 - decay_rate_t) * lnp.mean(grad_sqr, axis=d1))
                new_v_row = new_v_row.astype(dtype)
                new_v_col = new_v_col.astype(dtype)
                reduced_d1 = d1 - 1 if d1 > d0 else d1
                row_col_mean = lnp.mean(new_v_row, axis=reduced_d1, keepdims=True)
                row_factor = (new_v_row / row_col_mean) ** (-0.5)
                col_factor = new_v_col ** (-0.5)
                update = (grad * lnp.expand_dims(row_factor, axis=d0)
                          * lnp.expand_dims(col_factor, axis=d1))
            else:
                new_v = (decay_rate_t * v + (1.0 - decay_rate_t) * grad_sqr).astype(dtype)
                update = grad * new_v ** (-0.5)
            return _FactoredResult(update, new_v_row, new_v_col, new_v)

        out = tree_map(lambda *a: update_leaf(*a, state.count), grads, state.v_row,
                       state.v_col, state.v, params)
        updates = tree_map(lambda o: o.update, out)
        return updates, to_state(_safe_increment(state.count), out)

    return GradientTransformation(init_fn, update_fn)


# --- accumulation --------------------------------------------------------------------


class TraceState(NamedTuple):
    """State of `trace` (momentum)."""

    trace: Params


def trace(decay: Any, nesterov: bool = False,
          accumulator_dtype: Any = None) -> GradientTransformation:
    """Momentum: `t = g + decay * t`; emits `t` (or `g + decay * t` with Nesterov).

    >>> import lamina.numpy as lnp, lamina.optim as optim
    >>> tx = optim.trace(decay=0.5)
    >>> state = tx.init(lnp.zeros(1))
    >>> _, state = tx.update(lnp.ones(1), state)
    >>> tx.update(lnp.ones(1), state)[0]
    Array([1.5], dtype=float32)
    """
    _check_nonnegative("trace", "decay", decay)
    accumulator_dtype = _canonicalize_dtype(accumulator_dtype)

    def init_fn(params):
        return TraceState(trace=_tree_zeros_like(params, accumulator_dtype))

    def update_fn(updates, state, params=None):
        del params
        f = lambda g, t: g + decay * t  # noqa: E731
        new_trace = tree_map(lambda g, t: None if g is None else f(g, t), updates,
                             state.trace, is_leaf=_is_none)
        updates = tree_map(f, updates, new_trace) if nesterov else new_trace
        return updates, TraceState(trace=_tree_cast(new_trace, accumulator_dtype))

    return GradientTransformation(init_fn, update_fn)


class EmaState(NamedTuple):
    """State of `ema`."""

    count: Any  # shape=(), dtype=int32
    ema: Params


def ema(decay: Any, debias: bool = True, accumulator_dtype: Any = None) -> GradientTransformation:
    """Exponential moving average of the updates, `e = (1 - decay) g + decay e`,
    optionally bias-corrected.

    >>> import lamina.numpy as lnp, lamina.optim as optim
    >>> tx = optim.ema(decay=0.9)
    >>> tx.update(lnp.array([2.]), tx.init(lnp.zeros(1)))[0]
    Array([1.9999995], dtype=float32)
    """
    _check_decay("ema", "decay", decay, bias_corrected=debias)
    accumulator_dtype = _canonicalize_dtype(accumulator_dtype)

    def init_fn(params):
        return EmaState(count=_zero_count(), ema=_tree_zeros_like(params, accumulator_dtype))

    def update_fn(updates, state, params=None):
        del params
        updates = new_ema = _update_moment(updates, state.ema, decay, 1)
        count_inc = _safe_increment(state.count)
        if debias:
            updates = _bias_correction(new_ema, decay, count_inc)
        return updates, EmaState(count=count_inc, ema=_tree_cast(new_ema, accumulator_dtype))

    return GradientTransformation(init_fn, update_fn)


# --- adding ----------------------------------------------------------------------------


class WeightDecaySchedule(NamedTuple):
    """State of `add_decayed_weights` with a scheduled weight decay."""

    count: Any  # shape=(), dtype=int32


def add_decayed_weights(weight_decay: ScalarOrSchedule = 0.0,
                        mask: Any = None) -> GradientTransformation:
    """Adds `weight_decay * param` to each update (decoupled weight decay, AdamW).
    `mask` (a tree of bools or a function of the params) limits it to some leaves.

    >>> import lamina.numpy as lnp, lamina.optim as optim
    >>> tx = optim.add_decayed_weights(0.1)
    >>> tx.update(lnp.zeros(2), tx.init(None), lnp.array([1., 2.]))[0]
    Array([0.1, 0.2], dtype=float32)
    """
    # NOTE: no sign check: fromage decays with a negative rate on purpose.
    def init_fn(params):
        del params
        if callable(weight_decay):
            return WeightDecaySchedule(count=_zero_count())
        return EmptyState()

    def update_fn(updates, state, params):
        if params is None:
            raise ValueError("add_decayed_weights: " + NO_PARAMS_MSG)
        if callable(weight_decay):
            new_state = WeightDecaySchedule(_safe_increment(state.count))
        else:
            new_state = state
        if isinstance(weight_decay, (int, float)) and weight_decay == 0.0:
            return updates, new_state
        s = weight_decay(state.count) if callable(weight_decay) else weight_decay
        updates = tree_map(lambda g, p: None if g is None else g + s * p, updates, params,
                           is_leaf=_is_none)
        return updates, new_state

    tx = GradientTransformation(init_fn, update_fn)
    if mask is not None:
        # NOTE: imported here: combine.py builds on this module.
        from lamina.optim.combine import masked
        return masked(tx, mask)
    return tx


class AddNoiseState(NamedTuple):
    """State of `add_noise`."""

    count: Any  # shape=(), dtype=int32
    rng_key: Any


def add_noise(eta: Any, gamma: Any, key: Any = None, *, seed: Optional[int] = None
              ) -> GradientTransformation:
    """Adds annealed Gaussian noise with variance `eta / (1 + t)^gamma` to the updates.

    `key` is a `lamina.random` key or an integer seed (jax.random's bits, so the noise
    equals optax's for the same seed).

    >>> import lamina.numpy as lnp, lamina.optim as optim
    >>> tx = optim.add_noise(eta=0.01, gamma=0.55, key=0)
    >>> u, state = tx.update(lnp.zeros(3), tx.init(None))
    >>> u.shape, state.count
    ((3,), Array(1, dtype=int32))
    """
    _check_nonnegative("add_noise", "eta", eta)
    _check_nonnegative("add_noise", "gamma", gamma)
    if seed is not None:
        if key is not None:
            raise ValueError("add_noise: pass only one of `key` and `seed` (seed is the "
                             "old name of key)")
        key = seed
    if key is None:
        key = 0

    def random():
        try:
            import lamina.random as lrandom
        except ImportError as e:  # pragma: no cover - only in builds without lamina.random
            raise NotImplementedError(
                "add_noise / noisy_sgd need lamina.random, which is not available in "
                "this build of lamina") from e
        return lrandom

    def init_fn(params):
        del params
        lrandom = random()
        # NOTE: an int is a seed; anything else is taken as a key (typed or raw uint32).
        is_seed = isinstance(key, (int, np.integer)) and not isinstance(key, bool)
        rng_key = lrandom.key(int(key)) if is_seed else key
        return AddNoiseState(count=_zero_count(), rng_key=rng_key)

    def update_fn(updates, state, params=None):
        del params
        lrandom = random()
        count_inc = _safe_increment(state.count)
        std = lnp.sqrt(eta / count_inc ** gamma)
        rng_key, sample_key = lrandom.split(state.rng_key)
        treedef = tree_structure(updates)
        keys = lrandom.split(sample_key, treedef.num_leaves)
        noise = tree_unflatten(treedef, [lrandom.normal(keys[i], leaf.shape, leaf.dtype)
                                         for i, leaf in enumerate(tree_leaves(updates))])
        std_arr = lnp.asarray(std)
        updates = tree_map(lambda g, n: None if g is None else g + std_arr * n, updates,
                           noise, is_leaf=_is_none)
        return updates, AddNoiseState(count=count_inc, rng_key=rng_key)

    return GradientTransformation(init_fn, update_fn)


# --- clipping --------------------------------------------------------------------------


def clip(max_delta: Any) -> GradientTransformation:
    """Clips every update element to `[-max_delta, max_delta]`.

    >>> import lamina.numpy as lnp, lamina.optim as optim
    >>> tx = optim.clip(1.0)
    >>> tx.update(lnp.array([-3., 0.5, 2.]), tx.init(None))[0]
    Array([-1. ,  0.5,  1. ], dtype=float32)
    """
    _check_nonnegative("clip", "max_delta", max_delta)

    def update_fn(updates, state, params=None):
        del params
        return tree_map(lambda g: lnp.clip(g, -max_delta, max_delta), updates), state

    return GradientTransformation(init_empty_state, update_fn)


def clip_by_block_rms(threshold: Any) -> GradientTransformation:
    """Rescales each leaf so that its root mean square is at most `threshold`.

    >>> import lamina.numpy as lnp, lamina.optim as optim
    >>> tx = optim.clip_by_block_rms(1.0)
    >>> tx.update(lnp.array([4., -4.]), tx.init(None))[0]
    Array([ 1., -1.], dtype=float32)
    """
    _check_nonnegative("clip_by_block_rms", "threshold", threshold)

    def clip_leaf(u):
        denom = lnp.maximum(1.0, lnp.sqrt(lnp.mean(_abs_sq(u))) / threshold)
        return u / denom

    def update_fn(updates, state, params=None):
        del params
        return tree_map(clip_leaf, updates), state

    return GradientTransformation(init_empty_state, update_fn)


def clip_by_global_norm(max_norm: Any) -> GradientTransformation:
    """Rescales all updates together so that their global L2 norm is at most `max_norm`.

    >>> import lamina.numpy as lnp, lamina.optim as optim
    >>> tx = optim.clip_by_global_norm(1.0)
    >>> tx.update({"a": lnp.array([3.]), "b": lnp.array([4.])}, tx.init(None))[0]
    {'a': Array([0.6], dtype=float32), 'b': Array([0.8], dtype=float32)}
    """
    _check_nonnegative("clip_by_global_norm", "max_norm", max_norm)

    def update_fn(updates, state, params=None):
        del params
        g_norm = _tree_norm(updates)
        trigger = lnp.squeeze(g_norm < max_norm)

        def clip_leaf(t):
            return lax.select(trigger, t, t / g_norm.astype(t.dtype) * max_norm)

        return tree_map(clip_leaf, updates), state

    return GradientTransformation(init_empty_state, update_fn)


def _unitwise_norm(x: Any, axis: Any = None) -> Any:
    if axis is not None:
        sq = lnp.sum(_abs_sq(x), axis=axis, keepdims=True)
    elif lnp.squeeze(x).ndim <= 1:
        sq = lnp.sum(_abs_sq(x), keepdims=True)
    elif x.ndim in (2, 3):
        sq = lnp.sum(_abs_sq(x), axis=0, keepdims=True)
    elif x.ndim in (4, 5):
        sq = lnp.sum(_abs_sq(x), axis=tuple(range(x.ndim - 1)), keepdims=True)
    else:
        raise ValueError(
            f"adaptive_grad_clip: expected parameters of rank 1 to 5, got shape "
            f"{tuple(x.shape)}; pass `axis=` to say which axes a unit's norm reduces")
    return lnp.broadcast_to(lnp.sqrt(sq), x.shape)


def adaptive_grad_clip(clipping: Any, eps: Any = 1e-3, axis: Any = None) -> GradientTransformation:
    """Adaptive gradient clipping (NFNets): clips each unit's gradient norm to
    `clipping * max(||param unit||, eps)`. Needs `params`.

    >>> import lamina.numpy as lnp, lamina.optim as optim
    >>> tx = optim.adaptive_grad_clip(0.5)
    >>> tx.update(lnp.array([3., 4.]), tx.init(None), lnp.array([0., 2.]))[0]
    Array([0.6, 0.8], dtype=float32)
    """
    _check_nonnegative("adaptive_grad_clip", "clipping", clipping)
    _check_nonnegative("adaptive_grad_clip", "eps", eps)

    def update_fn(updates, state, params):
        if params is None:
            raise ValueError("adaptive_grad_clip: " + NO_PARAMS_MSG)
        g_norm = tree_map(lambda x: _unitwise_norm(x, axis), updates)
        p_norm = tree_map(lambda x: _unitwise_norm(x, axis), params)
        max_norm = tree_map(lambda x: clipping * lnp.maximum(x, eps), p_norm)

        def clip_leaf(gn, mn, g):
            clipped = g * (mn / lnp.maximum(gn, 1e-6))
            return lnp.where(gn < mn, g, clipped)

        return tree_map(clip_leaf, g_norm, max_norm, updates), state

    return GradientTransformation(init_empty_state, update_fn)


def centralize() -> GradientTransformation:
    """Gradient centralization: subtracts from each leaf of rank > 1 its mean over all
    axes but the first.

    >>> import lamina.numpy as lnp, lamina.optim as optim
    >>> tx = optim.centralize()
    >>> tx.update(lnp.array([[1., 3.], [0., 0.]]), tx.init(None))[0]
    Array([[-1.,  1.],
           [ 0.,  0.]], dtype=float32)
    """

    def sub_mean(g):
        if g.ndim > 1:
            return g - g.mean(tuple(range(1, g.ndim)), keepdims=True)
        return g

    def update_fn(updates, state, params=None):
        del params
        return tree_map(sub_mean, updates), state

    return GradientTransformation(init_empty_state, update_fn)


class ZeroNansState(NamedTuple):
    """State of `zero_nans`: per leaf, whether the last updates held a NaN."""

    found_nan: Any


def zero_nans() -> GradientTransformation:
    """Replaces NaNs in the updates by zeros and records, per leaf, whether it did.

    >>> import lamina.numpy as lnp, lamina.optim as optim
    >>> tx = optim.zero_nans()
    >>> u, state = tx.update(lnp.array([1., lnp.nan]), tx.init(lnp.zeros(2)))
    >>> u, state.found_nan
    (Array([1., 0.], dtype=float32), Array(True, dtype=bool))
    """

    def init_fn(params):
        return ZeroNansState(found_nan=tree_map(lambda p: lnp.array(False, dtype=lnp.bool_),
                                                params))

    def update_fn(updates, state, params=None):
        del params, state
        state = ZeroNansState(found_nan=tree_map(lambda p: lnp.any(lnp.isnan(p)), updates))
        updates = tree_map(lambda p: lnp.where(lnp.isnan(p), lnp.zeros_like(p), p), updates)
        return updates, state

    return GradientTransformation(init_fn, update_fn)
