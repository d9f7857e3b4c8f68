"""`inject_hyperparams` and `inject_stateful_hyperparams`: run an optimizer with its
numeric hyperparameters (schedules evaluated on the wrapper's own step count) held in
its state, with optax 0.2.8's `InjectHyperparamsState`, `StatefulSchedule` and
`WrappedSchedule`. Split from `schedules` (optax keeps them together there), which
re-exports them, as does `combine`.
"""
from __future__ import annotations

import functools
import inspect
import warnings
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple, Optional, Protocol, Union, runtime_checkable

import numpy as np

import lamina.numpy as lnp
from lamina.optim import tree as _tree
from lamina.optim._base import (
    GradientTransformation,
    GradientTransformationExtraArgs,
    OptState,
    _is_arraylike,
    _safe_increment,
    with_extra_args_support,
)
from lamina.optim.schedules import Schedule

__all__ = [
    "InjectHyperparamsState",
    "InjectStatefulHyperparamsState",
    "StatefulSchedule",
    "WrappedSchedule",
    "WrappedScheduleState",
    "inject_hyperparams",
    "inject_stateful_hyperparams",
]


# ---------------------------------------------------------------------------------------
# inject_hyperparams


@runtime_checkable
class StatefulSchedule(Protocol):
    """A schedule with state: ``init() -> state``, ``update(state, **extra_args)``,
    ``__call__(state, **extra_args) -> value``."""

    def init(self) -> Any:
        ...

    def update(self, state: Any, **extra_args: Any) -> Any:
        ...

    def __call__(self, state: Any, **extra_args: Any) -> Any:
        ...


class WrappedScheduleState(NamedTuple):
    """The state of a `WrappedSchedule`: its step count."""
    count: Any  # shape=(), dtype=int32


class WrappedSchedule:
    """A plain schedule ``count -> value`` seen as a `StatefulSchedule`."""

    def __init__(self, schedule_fn: Schedule):
        self.schedule_fn = schedule_fn

    def init(self) -> WrappedScheduleState:
        return WrappedScheduleState(count=lnp.zeros([], lnp.int32))

    def update(self, state: WrappedScheduleState, **extra_args: Any) -> WrappedScheduleState:
        del extra_args
        return WrappedScheduleState(count=_safe_increment(state.count))

    def __call__(self, state: WrappedScheduleState, **extra_args: Any) -> Any:
        del extra_args
        return self.schedule_fn(state.count)


class InjectHyperparamsState(NamedTuple):
    """optax's older state type, kept for its name; `inject_hyperparams` returns an
    `InjectStatefulHyperparamsState`."""
    count: Any  # shape=(), dtype=int32
    hyperparams: dict[str, Any]
    inner_state: OptState


class InjectStatefulHyperparamsState(NamedTuple):
    """The state of `inject_hyperparams`.

    Attributes:
        count: the number of updates so far.
        hyperparams: ``{name: value}`` of every numeric hyperparameter, scheduled or not,
            as used by the last update (read the learning rate here; overwrite a
            non-scheduled entry to change it for the next update).
        hyperparams_states: the state of each scheduled hyperparameter.
        inner_state: the inner transformation's state.
    """
    count: Any  # shape=(), dtype=int32
    hyperparams: dict[str, Any]
    hyperparams_states: dict[str, Any]
    inner_state: OptState


def _convert_floats(x: Any, dtype: Any) -> Any:
    # NOTE: as optax: a strongly typed array keeps its dtype; Python floats and weak
    # float arrays become `dtype`; everything else (ints, ...) passes through.
    if _is_arraylike(x) and hasattr(x, "weak_type") and not x.weak_type:
        return x
    current = x.dtype if hasattr(x, "dtype") else type(x)
    if lnp.issubdtype(current, lnp.floating):
        return lnp.asarray(x, dtype=dtype)
    return x


def _is_numeric(value: Any) -> bool:
    if isinstance(value, (bool, np.bool_)):
        return False
    return isinstance(value, (int, float, np.number)) or _is_arraylike(value)


def inject_hyperparams(
    inner_factory: Callable[..., GradientTransformation],
    static_args: Union[str, Iterable[str]] = (),
    hyperparam_dtype: Optional[Any] = None,
) -> Callable[..., GradientTransformationExtraArgs]:
    """Makes the numeric hyperparameters of `inner_factory` part of the optimizer state.

    The returned function takes `inner_factory`'s arguments, where any numeric one may
    also be a schedule (a function of the step count) or a `StatefulSchedule`. The state
    (`InjectStatefulHyperparamsState`) holds every numeric hyperparameter in its
    ``hyperparams`` dict, so a training loop can log the learning rate, and change a
    non-scheduled one between steps without recompiling.

    Args:
        inner_factory: a function returning a `GradientTransformation`, e.g. `optim.adam`.
        static_args: names of arguments that are never schedules even if callable.
        hyperparam_dtype: the dtype of float hyperparameters (default: the highest dtype
            among the params).

    Returns:
        A function with `inner_factory`'s signature returning a
        `GradientTransformationExtraArgs`.

    Raises:
        ValueError: `static_args` names an argument `inner_factory` does not have.

    >>> import lamina.numpy as lnp, lamina.optim as optim
    >>> tx = optim.inject_hyperparams(optim.sgd)(
    ...     learning_rate=optim.linear_schedule(1.0, 0.0, transition_steps=4))
    >>> state = tx.init(lnp.zeros(1))
    >>> u, state = tx.update(lnp.ones(1), state)
    >>> u, float(state.hyperparams["learning_rate"])
    (Array([-1.], dtype=float32), 1.0)
    >>> u, state = tx.update(lnp.ones(1), state)
    >>> u, float(state.hyperparams["learning_rate"])
    (Array([-0.75], dtype=float32), 0.75)
    """
    static_args = {static_args} if isinstance(static_args, str) else set(static_args)
    name = getattr(inner_factory, "__name__", repr(inner_factory))
    try:
        signature = inspect.signature(inner_factory)
    except (TypeError, ValueError):
        raise TypeError(f"inject_hyperparams: `inner_factory` must be a function with an "
                        f"inspectable signature (e.g. optim.adam), got "
                        f"{inner_factory!r}") from None
    if not static_args.issubset(signature.parameters):
        raise ValueError(
            f"inject_hyperparams: `static_args` must name parameters of {name}; got "
            f"{sorted(static_args)}, {name} has {list(signature.parameters)}")

    @functools.wraps(inner_factory)
    def wrapped_transform(*args: Any, **kwargs: Any) -> GradientTransformationExtraArgs:
        try:
            bound = signature.bind(*args, **kwargs)
        except TypeError as e:
            raise TypeError(f"inject_hyperparams({name}): {e}") from None
        bound.apply_defaults()
        sched_hps, numeric_hps, other_hps = {}, {}, {}
        for arg, value in bound.arguments.items():
            if arg in static_args or isinstance(value, bool):
                other_hps[arg] = value
            elif isinstance(value, StatefulSchedule):
                sched_hps[arg] = value
            elif callable(value):
                sched_hps[arg] = WrappedSchedule(value)
            elif _is_numeric(value):
                numeric_hps[arg] = value
            else:
                other_hps[arg] = value

        def hp_dtype(params):
            if hyperparam_dtype is not None:
                return hyperparam_dtype
            return _tree.dtype(params, "highest")

        def init_fn(params):
            dtype = hp_dtype(params)
            hparams = {k: lnp.asarray(_convert_floats(v, dtype))
                       for k, v in numeric_hps.items()}
            hparams_states = {k: f.init() for k, f in sched_hps.items()}
            hparams.update({k: _convert_floats(f(hparams_states[k]), dtype)
                            for k, f in sched_hps.items()})
            return InjectStatefulHyperparamsState(
                count=lnp.zeros([], lnp.int32),
                hyperparams=hparams,
                hyperparams_states=hparams_states,
                inner_state=inner_factory(**other_hps, **hparams).init(params),
            )

        def update_fn(updates, state, params=None, **extra_args):
            dtype = hp_dtype(params)
            hparams = {k: _convert_floats(v, dtype) for k, v in state.hyperparams.items()}
            hparams.update({
                k: _convert_floats(f(state.hyperparams_states[k], **extra_args), dtype)
                for k, f in sched_hps.items()})
            hparams_states = {k: f.update(state.hyperparams_states[k], **extra_args)
                              for k, f in sched_hps.items()}
            inner = with_extra_args_support(inner_factory(**other_hps, **hparams))
            updates, inner_state = inner.update(updates, state.inner_state, params,
                                                **extra_args)
            return updates, InjectStatefulHyperparamsState(
                count=_safe_increment(state.count),
                hyperparams=hparams,
                hyperparams_states=hparams_states,
                inner_state=inner_state,
            )

        return GradientTransformationExtraArgs(init_fn, update_fn)

    return wrapped_transform


def inject_stateful_hyperparams(
    inner_factory: Callable[..., GradientTransformation],
    static_args: Union[str, Iterable[str]] = (),
    hyperparam_dtype: Optional[Any] = None,
) -> Callable[..., GradientTransformationExtraArgs]:
    """Deprecated alias of `inject_hyperparams` (which handles stateful schedules too);
    warns with a DeprecationWarning, as optax 0.2.8."""
    warnings.warn("inject_stateful_hyperparams is deprecated, use inject_hyperparams "
                  "instead", DeprecationWarning, stacklevel=2)
    return inject_hyperparams(inner_factory, static_args, hyperparam_dtype)
