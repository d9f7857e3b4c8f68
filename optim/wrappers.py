"""Wrappers that change when or how an inner transformation's updates apply: optax's
`MultiSteps` (gradient accumulation, with `skip_not_finite` and `skip_large_updates`),
`apply_if_finite`, `lookahead` and `flatten`, with optax 0.2.8's state NamedTuples and
numerics. Split from `combine`, which re-exports them; every wrapper is jittable
(data-dependent choices use `lamina.lax.cond` or `lamina.numpy.where`).
"""
from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any, NamedTuple, Optional, Protocol, Union

import numpy as np

import lamina
import lamina.lax as lax
import lamina.numpy as lnp
from lamina.tree_util import tree_flatten, tree_leaves, tree_map
from lamina.optim._base import (
    GradientTransformation,
    GradientTransformationExtraArgs,
    OptState,
    Params,
    PyTree,
    Updates,
    _canonicalize_dtype,
    _check_transform,
    _is_arraylike,
    _safe_increment,
    _tree_cast_like,
    _tree_zeros_like,
    with_extra_args_support,
)

__all__ = [
    "ApplyIfFiniteState", "LookaheadParams", "LookaheadState", "MultiSteps",
    "MultiStepsState", "ShouldSkipUpdateFunction", "apply_if_finite", "flatten",
    "lookahead", "skip_large_updates", "skip_not_finite",
]


# ---------------------------------------------------------------------------------------
# MultiSteps (gradient accumulation)


class ShouldSkipUpdateFunction(Protocol):
    """``(updates, gradient_step, params) -> (should_skip: bool scalar, skip_state)``."""

    def __call__(self, updates: Updates, gradient_step: Any,
                 params: Optional[Params]) -> tuple[Any, PyTree]:
        ...


def skip_not_finite(updates: Updates, gradient_step: Any,
                    params: Optional[Params]) -> tuple[Any, PyTree]:
    """A `MultiSteps` skip function: skip the mini-step if any update is inf or NaN.

    Returns:
        ``(should_skip, {'should_skip': ..., 'num_not_finite': ...})``.

    >>> import lamina.numpy as lnp, lamina.optim as optim
    >>> skip, info = optim.skip_not_finite({"a": lnp.array([1.0, lnp.nan])}, 0, None)
    >>> bool(skip), int(info["num_not_finite"])
    (True, 1)
    """
    del gradient_step, params
    counts = [lnp.sum(lnp.logical_not(lnp.isfinite(p))) for p in tree_leaves(updates)]
    num_not_finite = lnp.sum(lnp.array(counts)) if counts else lnp.array(0, lnp.int32)
    should_skip = num_not_finite > 0
    return should_skip, {"should_skip": should_skip, "num_not_finite": num_not_finite}


def skip_large_updates(updates: Updates, gradient_step: Any, params: Optional[Params],
                       max_squared_norm: Any) -> tuple[Any, PyTree]:
    """A `MultiSteps` skip function (bind `max_squared_norm` with functools.partial):
    skip the mini-step if the squared global norm of `updates` is not below it (or NaN).

    >>> import functools, lamina.numpy as lnp, lamina.optim as optim
    >>> fn = functools.partial(optim.skip_large_updates, max_squared_norm=20.0)
    >>> bool(fn({"a": lnp.array([3.0, 1.0])}, 0, None)[0])
    False
    """
    del gradient_step, params
    sq = [lnp.sum(p ** 2) for p in tree_leaves(updates)]
    norm_sq = lnp.sum(lnp.array(sq)) if sq else lnp.array(0.0)
    should_skip = lnp.logical_not(norm_sq < max_squared_norm)
    return should_skip, {"should_skip": should_skip, "norm_squared": norm_sq}


class MultiStepsState(NamedTuple):
    """The state of `MultiSteps`.

    Attributes:
        mini_step: mini-steps accumulated since the last real update.
        gradient_step: real (inner) updates done so far.
        inner_opt_state: the wrapped optimizer's state.
        acc_grads: the running mean (or sum) of the accumulated gradients.
        skip_state: whatever `should_skip_update_fn` returned last (debugging info).
    """
    mini_step: Any  # shape=(), dtype=int32
    gradient_step: Any  # shape=(), dtype=int32
    inner_opt_state: Any
    acc_grads: Any
    skip_state: PyTree = ()


def _no_skip(*args, **kwargs):
    del args, kwargs
    return lnp.array(False, dtype=lnp.bool_), ()


class MultiSteps:
    """Accumulates gradients over `every_k_schedule` mini-steps, then applies `opt` once.

    Between real updates `update` returns zeros and only accumulates; at the k-th
    mini-step the accumulated mean (or sum) goes through `opt` and its update is
    returned. `has_updated(state)` says whether the last call applied one.

    Args:
        opt: the wrapped optimizer.
        every_k_schedule: mini-steps per update, an int >= 1 or a function of the
            gradient step (to grow the batch during training).
        use_grad_mean: average the accumulated gradients (True) or sum them.
        should_skip_update_fn: optional `ShouldSkipUpdateFunction` (e.g.
            `skip_not_finite`); a skipped mini-step leaves the state as it was.
        accumulator_dtype: the dtype of the accumulated gradients.

    >>> import lamina.numpy as lnp, lamina.optim as optim
    >>> ms = optim.MultiSteps(optim.sgd(1.0), every_k_schedule=2)
    >>> state = ms.init(lnp.zeros(1))
    >>> u, state = ms.update(lnp.array([1.0]), state)
    >>> u, bool(ms.has_updated(state))
    (Array([-0.], dtype=float32), False)
    >>> u, state = ms.update(lnp.array([3.0]), state)
    >>> u, bool(ms.has_updated(state))
    (Array([-2.], dtype=float32), True)
    """

    def __init__(
        self,
        opt: GradientTransformation,
        every_k_schedule: Union[int, Callable[[Any], Any]],
        use_grad_mean: bool = True,
        should_skip_update_fn: Optional[ShouldSkipUpdateFunction] = None,
        accumulator_dtype: Any = lnp.float32,
    ):
        _check_transform("MultiSteps", "opt", opt)
        self._opt = with_extra_args_support(opt)
        if isinstance(every_k_schedule, (int, np.integer)) and not isinstance(
                every_k_schedule, bool):
            if every_k_schedule < 1:
                raise ValueError(f"MultiSteps: `every_k_schedule` must be >= 1, got "
                                 f"{every_k_schedule}")
            k = int(every_k_schedule)
            self._every_k_schedule = lambda step: k
        elif callable(every_k_schedule):
            self._every_k_schedule = every_k_schedule
        else:
            raise TypeError(f"MultiSteps: `every_k_schedule` must be an int >= 1 or a "
                            f"function of the gradient step, got {every_k_schedule!r}")
        self._use_grad_mean = use_grad_mean
        self._accumulator_dtype = _canonicalize_dtype(accumulator_dtype)
        if use_grad_mean:
            # NOTE: Welford's running mean, as optax: acc += (g - acc) / (n + 1).
            self._acc_update = lambda g, acc, *, n_acc: acc + (g - acc) / (n_acc + 1)
        else:
            self._acc_update = lambda g, acc, *, n_acc: g + acc
        self._should_skip_update_fn = should_skip_update_fn or _no_skip

    @property
    def inner_opt(self) -> GradientTransformationExtraArgs:
        return self._opt

    def init(self, params: Params) -> MultiStepsState:
        """The initial `MultiStepsState` (zero accumulators, counters at 0)."""
        gradient_step = lnp.zeros([], dtype=lnp.int32)
        _, skip_state = self._should_skip_update_fn(_tree_zeros_like(params),
                                                    gradient_step, params)
        return MultiStepsState(
            mini_step=lnp.zeros([], dtype=lnp.int32),
            gradient_step=gradient_step,
            inner_opt_state=self._opt.init(params),
            acc_grads=_tree_zeros_like(params, dtype=self._accumulator_dtype),
            skip_state=skip_state,
        )

    def update(self, updates: Updates, state: MultiStepsState,
               params: Optional[Params] = None, **extra_args: Any
               ) -> tuple[Updates, MultiStepsState]:
        """Accumulates `updates`; every k-th call returns the inner optimizer's update."""
        k_steps = self._every_k_schedule(state.gradient_step)
        should_skip, skip_state = self._should_skip_update_fn(
            updates, state.gradient_step, params)
        should_skip = lnp.asarray(should_skip)
        if (should_skip.dtype, should_skip.shape) != (lnp.dtype(lnp.bool_), ()):
            raise ValueError(
                "MultiSteps: `should_skip_update_fn` must return a boolean scalar as its "
                f"first output, got dtype {should_skip.dtype} and shape "
                f"{should_skip.shape}")
        acc_dtype = self._accumulator_dtype

        def do_update(updates, state, params):
            acc_grads = tree_map(
                lambda u, acc: self._acc_update(u, acc, n_acc=state.mini_step),
                updates, state.acc_grads)
            final, new_inner = self._opt.update(
                _tree_cast_like(acc_grads, updates), state.inner_opt_state,
                params=params, **extra_args)
            emit = state.mini_step == (k_steps - 1)
            new_state = MultiStepsState(
                mini_step=_safe_increment(state.mini_step) % k_steps,
                gradient_step=(emit * _safe_increment(state.gradient_step)
                               + (1 - emit) * state.gradient_step),
                inner_opt_state=tree_map(
                    lambda st, nst: lnp.where(emit, nst, st).astype(st.dtype),
                    state.inner_opt_state, new_inner),
                acc_grads=tree_map(lambda ga: ((1 - emit) * ga).astype(acc_dtype),
                                   acc_grads),
                skip_state=skip_state,
            )
            return tree_map(lambda u: emit * u, final), new_state

        def skip_update(updates, state, params):
            # NOTE: the skipped branch must return updates of the same type as the
            # inner optimizer's; their shapes come from tracing it abstractly.
            static = {k: v for k, v in extra_args.items() if not _is_arraylike(v)}
            dynamic = {k: v for k, v in extra_args.items() if _is_arraylike(v)}
            shapes, _ = lamina.eval_shape(
                functools.partial(self._opt.update, **static),
                _tree_cast_like(state.acc_grads, updates), state.inner_opt_state,
                params=params, **dynamic)
            zeros = tree_map(lambda s: lnp.zeros(s.shape, s.dtype), shapes)
            return zeros, state._replace(skip_state=skip_state)

        return lax.cond(should_skip, skip_update, do_update, updates, state, params)

    def has_updated(self, state: Union[MultiStepsState, PyTree]) -> Any:
        """Whether the last `update` applied the inner optimizer (a bool scalar)."""
        return lnp.logical_and(getattr(state, "mini_step") == 0,
                               getattr(state, "gradient_step") > 0)

    def gradient_transformation(self) -> GradientTransformation:
        """This wrapper as a plain `GradientTransformation(init, update)`."""
        return GradientTransformation(init=self.init, update=self.update)


# ---------------------------------------------------------------------------------------
# apply_if_finite


class ApplyIfFiniteState(NamedTuple):
    """The state of `apply_if_finite`.

    Attributes:
        notfinite_count: consecutive updates with an inf or NaN (reset by a finite one).
        last_finite: whether the last update was finite.
        total_notfinite: all updates with an inf or NaN so far.
        inner_state: the inner transformation's state.
    """
    notfinite_count: Any  # shape=(), dtype=int32
    last_finite: Any  # shape=(), dtype=bool
    total_notfinite: Any  # shape=(), dtype=int32
    inner_state: Any


def apply_if_finite(inner: GradientTransformation,
                    max_consecutive_errors: int) -> GradientTransformationExtraArgs:
    """Skips updates that contain an inf or NaN (zero update, inner state unchanged),
    unless more than `max_consecutive_errors` came in a row; then it gives up and
    applies them.

    Args:
        inner: the transformation to protect.
        max_consecutive_errors: how many consecutive non-finite updates to skip.

    Returns:
        A `GradientTransformationExtraArgs` with state `ApplyIfFiniteState`.

    >>> import lamina.numpy as lnp, lamina.optim as optim
    >>> tx = optim.apply_if_finite(optim.sgd(1.0), max_consecutive_errors=2)
    >>> state = tx.init(lnp.zeros(2))
    >>> u, state = tx.update(lnp.array([1.0, lnp.inf]), state)
    >>> u, int(state.notfinite_count), bool(state.last_finite)
    (Array([0., 0.], dtype=float32), 1, False)
    """
    _check_transform("apply_if_finite", "inner", inner)
    if isinstance(max_consecutive_errors, bool) or not isinstance(
            max_consecutive_errors, (int, np.integer)) or max_consecutive_errors < 0:
        raise ValueError(f"apply_if_finite: `max_consecutive_errors` must be an int >= 0, "
                         f"got {max_consecutive_errors!r}")
    inner = with_extra_args_support(inner)

    def init_fn(params):
        return ApplyIfFiniteState(
            notfinite_count=lnp.zeros([], lnp.int32),
            last_finite=lnp.array(True, lnp.bool_),
            total_notfinite=lnp.zeros([], lnp.int32),
            inner_state=inner.init(params),
        )

    def update_fn(updates, state, params=None, **extra_args):
        inner_state = state.inner_state
        leaves = tree_leaves(updates)
        isfinite = (lnp.all(lnp.stack([lnp.all(lnp.isfinite(p)) for p in leaves]))
                    if leaves else lnp.array(True))
        notfinite_count = lnp.where(isfinite, lnp.zeros([], lnp.int32),
                                    _safe_increment(state.notfinite_count))

        def do_update():
            return inner.update(updates, inner_state, params, **extra_args)

        def reject_update():
            return _tree_zeros_like(updates), inner_state

        updates, new_inner = lax.cond(
            lnp.logical_or(isfinite, notfinite_count > max_consecutive_errors),
            do_update, reject_update)
        return updates, ApplyIfFiniteState(
            notfinite_count=notfinite_count,
            last_finite=isfinite,
            total_notfinite=lnp.where(isfinite, state.total_notfinite,
                                      _safe_increment(state.total_notfinite)),
            inner_state=new_inner,
        )

    return GradientTransformationExtraArgs(init_fn, update_fn)


# ---------------------------------------------------------------------------------------
# lookahead


class LookaheadState(NamedTuple):
    """The state of `lookahead`.

    Attributes:
        fast_state: the fast optimizer's state.
        steps_since_sync: fast steps since the slow and fast params were synchronized.
    """
    fast_state: OptState
    steps_since_sync: Any  # shape=(), dtype=int32


class LookaheadParams(NamedTuple):
    """The fast and slow parameters of `lookahead`. Compute gradients at `fast`;
    evaluate with `slow`."""
    fast: Params
    slow: Params

    @classmethod
    def init_synced(cls, params: Params) -> "LookaheadParams":
        """Fast and slow parameters both equal to `params`."""
        return cls(slow=params, fast=params)


def lookahead(
    fast_optimizer: GradientTransformation,
    sync_period: int,
    slow_step_size: Any,
    reset_state: bool = False,
) -> GradientTransformation:
    """Lookahead: `sync_period` fast steps, then the slow params move `slow_step_size` of
    the way to the fast ones and the fast params restart from there.

    `params` are `LookaheadParams`; the incoming updates are the gradients at
    ``params.fast``; the returned updates are `LookaheadParams`; apply them unchanged.

    Args:
        fast_optimizer: the inner-loop optimizer.
        sync_period: fast steps between synchronizations (>= 1).
        slow_step_size: the slow update's step size.
        reset_state: re-initialize the fast optimizer's state at each synchronization.

    Returns:
        A `GradientTransformation` with state `LookaheadState`.

    >>> import lamina.numpy as lnp, lamina.optim as optim
    >>> tx = optim.lookahead(optim.sgd(1.0), sync_period=2, slow_step_size=0.5)
    >>> params = optim.LookaheadParams.init_synced(lnp.zeros(1))
    >>> state = tx.init(params)
    >>> for _ in range(2):
    ...     grads = lnp.ones(1)  # gradients at params.fast
    ...     updates, state = tx.update(grads, state, params)
    ...     params = optim.apply_updates(params, updates)
    >>> params.fast, params.slow
    (Array([-1.], dtype=float32), Array([-1.], dtype=float32))
    """
    _check_transform("lookahead", "fast_optimizer", fast_optimizer)
    if sync_period < 1:
        raise ValueError(f"lookahead: `sync_period` must be >= 1, got {sync_period!r}")

    def init_fn(params):
        # NOTE: optax also accepts the bare fast params here (with a logged warning).
        fast_params = getattr(params, "fast", None)
        if fast_params is None:
            fast_params = params
        return LookaheadState(fast_state=fast_optimizer.init(fast_params),
                              steps_since_sync=lnp.zeros(shape=(), dtype=lnp.int32))

    def update_fn(updates, state, params):
        if not (hasattr(params, "fast") and hasattr(params, "slow")):
            raise TypeError(
                "lookahead: `params` must be a LookaheadParams(fast=..., slow=...) (use "
                f"LookaheadParams.init_synced(params)), got {type(params).__name__}")
        updates, fast_state = fast_optimizer.update(updates, state.fast_state, params.fast)
        sync_next = state.steps_since_sync == (sync_period - 1)
        updates = _lookahead_update(updates, sync_next, params, slow_step_size)
        if reset_state:
            initial = fast_optimizer.init(params.fast)
            fast_state = tree_map(
                lambda cur, ini: (1 - sync_next) * cur + sync_next * ini,
                fast_state, initial)
        steps_since_sync = (state.steps_since_sync + 1) % sync_period
        return updates, LookaheadState(fast_state, steps_since_sync)

    return GradientTransformation(init_fn, update_fn)


def _lookahead_update(updates, sync_next, params, slow_step_size):
    # NOTE: the last fast step and the synchronization fused into one update, jittably:
    # with d = fast + u - slow, slow += a * sync * d and fast += u - (1 - a) * sync * d.
    diff = tree_map(lambda f, u, s: f + u - s, params.fast, updates, params.slow)
    slow_updates = tree_map(lambda d: slow_step_size * sync_next * d, diff)
    fast_updates = tree_map(lambda u, d: u - sync_next * (1 - slow_step_size) * d,
                            updates, diff)
    return LookaheadParams(fast=fast_updates, slow=slow_updates)


# ---------------------------------------------------------------------------------------
# flatten


def flatten(inner: GradientTransformation) -> GradientTransformationExtraArgs:
    """Runs `inner` on one vector: all leaves raveled and concatenated (fewer, larger
    ops for many small parameters); updates are split back to the original shapes.

    >>> import lamina.numpy as lnp, lamina.optim as optim
    >>> tx = optim.flatten(optim.sgd(1.0))
    >>> g = {"a": lnp.ones((2, 2)), "b": lnp.ones(1)}
    >>> state = tx.init(g)
    >>> tx.update(g, state)[0]["a"].shape
    (2, 2)
    """
    _check_transform("flatten", "inner", inner)
    inner = with_extra_args_support(inner)

    def _flatten(tree):
        return lnp.concatenate([lnp.reshape(x, [-1]) for x in tree_leaves(tree)])

    def _unflatten(like, flat):
        leaves, treedef = tree_flatten(like)
        offsets, total = [], 0
        for x in leaves[:-1]:
            total += math.prod(x.shape)
            offsets.append(total)
        pieces = lnp.split(flat, offsets)
        return treedef.unflatten([lnp.reshape(p, x.shape) for p, x in zip(pieces, leaves)])

    def init_fn(params):
        return inner.init(_flatten(params))

    def update_fn(updates, state, params=None, **extra_args):
        if params is not None:
            params = _flatten(params)
        flat, state = inner.update(_flatten(updates), state, params, **extra_args)
        return _unflatten(updates, flat), state

    return GradientTransformationExtraArgs(init_fn, update_fn)
