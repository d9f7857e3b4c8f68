"""Building blocks: `scale`, `scale_by_schedule`, `scale_by_learning_rate`, the Adam-style
moment-based `scale_by_*` transformations (adam, amsgrad, adamax, lion, rss, rms,
stddev, belief, yogi, radam, novograd), `centralize` and `zero_nans`.

The other building blocks are in sibling modules, as in optax's `transforms/`:
`scaling` (trust ratio, sign, parameter-block norms, adadelta, sm3, factored rms),
`accumulation` (trace, ema), `adding` (add_decayed_weights, add_noise) and `clipping`
(clip, clip_by_block_rms, clip_by_global_norm, adaptive_grad_clip).

Each function returns a `GradientTransformation`; optimizers in `alias.py` chain them.
States are NamedTuples with optax's names and fields (`ScaleByAdamState(count, mu,
nu)`...), so code that reads `state[0].mu` works unchanged. The per-leaf math follows
optax's order of operations, which keeps float32 results within a few ulps of optax.
"""
from __future__ import annotations

from typing import Any, NamedTuple, Optional

import lamina.lax as lax
import lamina.numpy as lnp
from lamina.tree_util import tree_map

from lamina.optim._base import (
    EmptyState, GradientTransformation, NO_PARAMS_MSG, ScalarOrSchedule, Schedule, Updates,
    _abs_sq, _bias_correction, _canonicalize_dtype, _check_decay, _check_nonnegative,
    _is_none, _l2_norm, _safe_increment, _tree_cast, _tree_cast_like, _tree_full_like,
    _tree_zeros_like, _update_infinity_moment, _update_moment, _update_moment_per_elem_norm,
    identity, init_empty_state,
)

__all__ = [
    "ScaleByAdamState", "ScaleByAmsgradState", "ScaleByBeliefState", "ScaleByLionState",
    "ScaleByNovogradState", "ScaleByRStdDevState", "ScaleByRmsState", "ScaleByRssState",
    "ScaleByScheduleState", "ScaleState", "ZeroNansState", "centralize", "scale",
    "scale_by_adam", "scale_by_adamax", "scale_by_amsgrad", "scale_by_belief",
    "scale_by_learning_rate", "scale_by_lion", "scale_by_novograd", "scale_by_radam",
    "scale_by_rms", "scale_by_rss", "scale_by_schedule", "scale_by_stddev", "scale_by_yogi",
    "zero_nans",
]
# NOTE: ScaleByRmsWithCountState and ScaleByRStdDevWithCountState are reachable here but,
# as in optax, not re-exported at the top level (nor is adding.WeightDecaySchedule).

ScaleState = EmptyState


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
