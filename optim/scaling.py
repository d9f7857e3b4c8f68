"""The `scale_by_*` building blocks that are not Adam-style moment estimators:
scale_by_trust_ratio (LARS/LAMB), scale_by_sign, scale_by_param_block_norm,
scale_by_param_block_rms, scale_by_adadelta, scale_by_sm3 and scale_by_factored_rms
(Adafactor).

Separate from `transform` (the moment-based family, whose helpers they share) because
they rescale by norms, signs or factored/cover statistics instead. Each returns a
`GradientTransformation` with optax's state NamedTuple; the per-leaf math follows
optax's order of operations.
"""
from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

import lamina.lax as lax
import lamina.numpy as lnp
from lamina.tree_util import tree_leaves, tree_map

from lamina.optim._base import (
    EmptyState, GradientTransformation, NO_PARAMS_MSG, Updates, _abs_sq, _check_decay,
    _check_nonnegative, _safe_increment, _safe_norm, _safe_root_mean_squares,
    _tree_zeros_like, _update_moment, init_empty_state,
)
from lamina.optim.transform import _zero_count

__all__ = [
    "FactoredState", "ScaleByAdaDeltaState", "ScaleBySM3State", "ScaleByTrustRatioState",
    "scale_by_adadelta", "scale_by_factored_rms", "scale_by_param_block_norm",
    "scale_by_param_block_rms", "scale_by_sign", "scale_by_sm3", "scale_by_trust_ratio",
]

ScaleByTrustRatioState = EmptyState


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
