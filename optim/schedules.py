"""Schedules (functions from a step count to a value) and `inject_hyperparams`.

A schedule is a plain function ``count -> value``. It works on a Python int and on a
traced integer scalar inside `lamina.jit` alike, so it can be handed to any transform
that takes a ``ScalarOrSchedule`` (e.g. ``scale_by_learning_rate``) or to
`inject_hyperparams`, which evaluates schedules on its own step count and keeps every
numeric hyperparameter in the optimizer state (where a training loop can read the
learning rate). Names, signatures and numerics follow optax 0.2.8 (`optax.schedules`).

This module holds the schedules; `inject_hyperparams`, `inject_stateful_hyperparams`
and their state types live in `lamina.optim.inject`, re-exported here as optax does.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, Optional

import lamina.numpy as lnp

__all__ = [
    "InjectHyperparamsState",
    "InjectStatefulHyperparamsState",
    "StatefulSchedule",
    "WrappedSchedule",
    "WrappedScheduleState",
    "constant_schedule",
    "cosine_decay_schedule",
    "cosine_onecycle_schedule",
    "exponential_decay",
    "inject_hyperparams",
    "inject_stateful_hyperparams",
    "join_schedules",
    "linear_onecycle_schedule",
    "linear_schedule",
    "piecewise_constant_schedule",
    "piecewise_interpolate_schedule",
    "polynomial_schedule",
    "sgdr_schedule",
    "warmup_constant_schedule",
    "warmup_cosine_decay_schedule",
    "warmup_exponential_decay_schedule",
]

Schedule = Callable[[Any], Any]


def _check_int(fn: str, name: str, value: Any) -> None:
    # NOTE: step counts must be concrete numbers: the schedule's Python branches (e.g.
    # `transition_steps <= 0`) are decided once, when the schedule is built.
    try:
        float(value)
    except Exception:
        raise TypeError(f"{fn}: `{name}` must be a concrete number (a Python int), got "
                        f"{value!r} of type {type(value).__name__}.") from None


def constant_schedule(value: Any) -> Schedule:
    """Constructs a schedule that always returns `value`.

    Args:
        value: the value held constant throughout.

    Returns:
        A function mapping step counts to values.

    >>> from lamina import optim
    >>> optim.constant_schedule(5)(100)
    5
    """
    return lambda count: value


def polynomial_schedule(
    init_value: Any,
    end_value: Any,
    power: Any,
    transition_steps: int,
    transition_begin: int = 0,
) -> Schedule:
    """Polynomial transition from `init_value` to `end_value`.

    ``v(t) = (init - end) * (1 - clip(t - begin, 0, steps) / steps) ** power + end``.
    With ``transition_steps <= 0`` the schedule is the constant `init_value`; a negative
    `transition_begin` falls back to 0 (as optax).

    Args:
        init_value: the value before and at the start of the transition.
        end_value: the value once the transition is done.
        power: the polynomial's power.
        transition_steps: the number of steps the transition takes.
        transition_begin: the step at which the transition starts.

    Returns:
        A function mapping step counts to values.

    >>> from lamina import optim
    >>> sched = optim.polynomial_schedule(1.0, 0.0, power=2, transition_steps=10)
    >>> float(sched(5))
    0.25
    """
    _check_int("polynomial_schedule", "transition_steps", transition_steps)
    _check_int("polynomial_schedule", "transition_begin", transition_begin)
    if transition_steps <= 0:
        return lambda count: init_value
    if transition_begin < 0:
        transition_begin = 0

    def schedule(count):
        count = lnp.clip(count - transition_begin, 0, transition_steps)
        frac = 1 - count / transition_steps
        return (init_value - end_value) * (frac ** power) + end_value

    return schedule


def linear_schedule(
    init_value: Any,
    end_value: Any,
    transition_steps: int,
    transition_begin: int = 0,
) -> Schedule:
    """Linear transition from `init_value` to `end_value` (``polynomial_schedule``, power 1).

    Args:
        init_value: the value before and at the start of the transition.
        end_value: the value once the transition is done.
        transition_steps: the number of steps the transition takes.
        transition_begin: the step at which the transition starts.

    Returns:
        A function mapping step counts to values.

    >>> from lamina import optim
    >>> float(optim.linear_schedule(1.0, 0.0, transition_steps=4)(1))
    0.75
    """
    return polynomial_schedule(init_value=init_value, end_value=end_value, power=1,
                               transition_steps=transition_steps,
                               transition_begin=transition_begin)


def piecewise_constant_schedule(
    init_value: Any,
    boundaries_and_scales: Optional[dict[int, float]] = None,
) -> Schedule:
    """`init_value` times the product of every scale whose boundary has been reached.

    Args:
        init_value: the starting value.
        boundaries_and_scales: ``{step: scale}``; from `step` on the value is multiplied
            by `scale`. Scales must be non-negative.

    Returns:
        A function mapping step counts to values.

    Raises:
        ValueError: a negative scale.

    >>> from lamina import optim
    >>> sched = optim.piecewise_constant_schedule(1.0, {2: 0.1, 4: 0.1})
    >>> [round(float(sched(t)), 4) for t in (0, 2, 4)]
    [1.0, 0.1, 0.01]
    """
    if boundaries_and_scales is not None:
        bad = {b: s for b, s in boundaries_and_scales.items() if not s >= 0.0}
        if bad:
            raise ValueError(
                "piecewise_constant_schedule: `boundaries_and_scales` must have "
                f"non-negative scales, got {bad}.")
        items = sorted(boundaries_and_scales.items())
    else:
        items = []

    def schedule(count):
        v = init_value
        for threshold, scale in items:
            # NOTE: sign-based indicator rather than a comparison, as optax, so the
            # step *at* the boundary already gets the scale (sign(0) = 0).
            indicator = lnp.maximum(0.0, lnp.sign(threshold - count))
            v = v * indicator + (1 - indicator) * scale * v
        return v

    return schedule


def exponential_decay(
    init_value: Any,
    transition_steps: int,
    decay_rate: float,
    transition_begin: int = 0,
    staircase: bool = False,
    end_value: Optional[Any] = None,
) -> Schedule:
    """``init_value * decay_rate ** ((t - begin) / transition_steps)`` once ``t > begin``.

    With `staircase` the exponent is floored. `end_value` is a lower bound when
    ``decay_rate < 1`` and an upper bound otherwise. ``transition_steps <= 0`` or
    ``decay_rate == 0`` give the constant `init_value` (as optax).

    Args:
        init_value: the initial value.
        transition_steps: the number of steps per factor of `decay_rate`.
        decay_rate: the decay rate.
        transition_begin: the step at which the decay starts.
        staircase: decay in discrete steps.
        end_value: the value at which the decay stops.

    Returns:
        A function mapping step counts to values.

    >>> from lamina import optim
    >>> sched = optim.exponential_decay(1.0, transition_steps=2, decay_rate=0.5)
    >>> float(sched(4))
    0.25
    """
    _check_int("exponential_decay", "transition_steps", transition_steps)
    _check_int("exponential_decay", "transition_begin", transition_begin)
    if transition_steps <= 0 or decay_rate == 0:
        return lambda count: init_value
    if transition_begin < 0:
        transition_begin = 0
    clip_fn = lnp.maximum if decay_rate < 1.0 else lnp.minimum

    def schedule(count):
        decreased_count = count - transition_begin
        p = decreased_count / transition_steps
        if staircase:
            p = lnp.floor(p)
        decayed = lnp.where(decreased_count <= 0, init_value,
                            init_value * lnp.power(decay_rate, p))
        if end_value is not None:
            decayed = clip_fn(decayed, end_value)
        return decayed

    return schedule


def cosine_decay_schedule(
    init_value: Any,
    decay_steps: int,
    alpha: Any = 0.0,
    exponent: Any = 1.0,
) -> Schedule:
    """Cosine decay from `init_value` to ``alpha * init_value`` over `decay_steps`.

    ``v(t) = init * ((1 - alpha) * (0.5 * (1 + cos(pi * min(t, T) / T))) ** exponent
    + alpha)``.

    Args:
        init_value: the initial value.
        decay_steps: the number of steps to decay over (positive).
        alpha: the final multiplier.
        exponent: the power applied to the cosine factor.

    Returns:
        A function mapping step counts to values.

    Raises:
        ValueError: ``decay_steps <= 0``.

    >>> from lamina import optim
    >>> round(float(optim.cosine_decay_schedule(1.0, decay_steps=10)(5)), 6)
    0.5
    """
    if not decay_steps > 0:
        raise ValueError("cosine_decay_schedule: `decay_steps` must be positive, got "
                         f"decay_steps={decay_steps!r}.")
    # NOTE: Python ints become floats so that a huge count cannot overflow int32 once
    # staged (optax does the same).
    steps = float(decay_steps) if isinstance(decay_steps, int) else decay_steps

    def schedule(count):
        if isinstance(count, int):
            count = float(count)
        count = lnp.minimum(count, steps)
        cosine = 0.5 * (1 + lnp.cos(lnp.pi * count / steps))
        return init_value * ((1 - alpha) * cosine ** exponent + alpha)

    return schedule


def _linear_interpolate(start, end, pct):
    return (end - start) * pct + start


def _cosine_interpolate(start, end, pct):
    return end + (start - end) / 2.0 * (lnp.cos(lnp.pi * pct) + 1)


def piecewise_interpolate_schedule(
    interpolate_type: str,
    init_value: Any,
    boundaries_and_scales: Optional[dict[int, float]] = None,
) -> Schedule:
    """Interpolates (linearly or by a half cosine) between cumulatively scaled values.

    The value at boundary ``b_i`` is `init_value` times the product of the scales up to
    ``b_i``; between boundaries the value moves from one to the next.

    Args:
        interpolate_type: ``'linear'`` or ``'cosine'``.
        init_value: the value at step 0.
        boundaries_and_scales: ``{step: scale}`` with non-negative scales.

    Returns:
        A function mapping step counts to values.

    Raises:
        ValueError: an unknown `interpolate_type` or a negative scale.

    >>> from lamina import optim
    >>> sched = optim.piecewise_interpolate_schedule('linear', 1.0, {4: 0.5})
    >>> float(sched(2))
    0.75
    """
    if interpolate_type == "linear":
        interpolate_fn = _linear_interpolate
    elif interpolate_type == "cosine":
        interpolate_fn = _cosine_interpolate
    else:
        raise ValueError("piecewise_interpolate_schedule: `interpolate_type` must be "
                         f"'linear' or 'cosine', got {interpolate_type!r}.")
    if boundaries_and_scales:
        boundaries, scales = zip(*sorted(boundaries_and_scales.items()))
        bad = [s for s in scales if not s >= 0.0]
        if bad:
            raise ValueError("piecewise_interpolate_schedule: `boundaries_and_scales` "
                             f"must have non-negative scales, got {bad}.")
    else:
        boundaries, scales = (), ()

    def schedule(count):
        bounds = lnp.stack((0,) + tuple(boundaries))
        values = lnp.cumprod(lnp.stack((init_value,) + tuple(scales)))
        interval_sizes = lnp.maximum(bounds[1:] - bounds[:-1], 1)
        indicator = lnp.logical_and(bounds[:-1] <= count, count < bounds[1:])
        pct = (count - bounds[:-1]) / interval_sizes
        interp = interpolate_fn(values[:-1], values[1:], pct)
        return indicator.dot(interp) + (bounds[-1] <= count) * values[-1]

    return schedule


def linear_onecycle_schedule(
    transition_steps: int,
    peak_value: Any,
    pct_start: float = 0.3,
    pct_final: float = 0.85,
    div_factor: float = 25.0,
    final_div_factor: float = 1e4,
) -> Schedule:
    """One-cycle schedule with three linear phases.

    Up from ``peak_value / div_factor`` to `peak_value` over the first `pct_start` of
    `transition_steps`, back down by `pct_final`, then to
    ``peak_value / div_factor / final_div_factor`` at `transition_steps`.

    Args:
        transition_steps: the cycle length (positive).
        peak_value: the maximum value.
        pct_start: the fraction of the cycle spent increasing.
        pct_final: the fraction at which the value is back to its initial value.
        div_factor: ``init_value = peak_value / div_factor``.
        final_div_factor: ``final_value = init_value / final_div_factor``.

    Returns:
        A function mapping step counts to values.

    Raises:
        ValueError: ``transition_steps <= 0``.

    >>> from lamina import optim
    >>> float(optim.linear_onecycle_schedule(10, peak_value=1.0)(3))
    1.0
    """
    if transition_steps <= 0:
        raise ValueError("linear_onecycle_schedule: `transition_steps` must be positive, "
                         f"got {transition_steps!r}.")
    return piecewise_interpolate_schedule(
        "linear",
        peak_value / div_factor,
        {
            int(pct_start * transition_steps): div_factor,
            int(pct_final * transition_steps): 1.0 / div_factor,
            transition_steps: 1.0 / final_div_factor,
        },
    )


def cosine_onecycle_schedule(
    transition_steps: int,
    peak_value: Any,
    pct_start: float = 0.3,
    div_factor: float = 25.0,
    final_div_factor: float = 1e4,
) -> Schedule:
    """One-cycle schedule: cosine up to `peak_value`, then cosine down.

    Args:
        transition_steps: the cycle length (positive).
        peak_value: the maximum value, reached at ``pct_start * transition_steps``.
        pct_start: the fraction of the cycle spent increasing.
        div_factor: ``init_value = peak_value / div_factor``.
        final_div_factor: ``final_value = init_value / final_div_factor``.

    Returns:
        A function mapping step counts to values.

    Raises:
        ValueError: ``transition_steps <= 0``.

    >>> from lamina import optim
    >>> float(optim.cosine_onecycle_schedule(10, peak_value=1.0)(3))
    1.0
    """
    if transition_steps <= 0:
        raise ValueError("cosine_onecycle_schedule: `transition_steps` must be positive, "
                         f"got {transition_steps!r}.")
    return piecewise_interpolate_schedule(
        "cosine",
        peak_value / div_factor,
        {
            int(pct_start * transition_steps): div_factor,
            int(transition_steps): 1.0 / (div_factor * final_div_factor),
        },
    )


def join_schedules(schedules: Sequence[Schedule], boundaries: Sequence[int]) -> Schedule:
    """Runs `schedules` one after another, switching at `boundaries`.

    Each schedule after the first sees the count since its boundary.

    Args:
        schedules: the schedules, in order.
        boundaries: ``len(schedules) - 1`` switch steps.

    Returns:
        A function mapping step counts to values.

    Raises:
        ValueError: `boundaries` is not one shorter than `schedules`.

    >>> from lamina import optim
    >>> sched = optim.join_schedules(
    ...     [optim.constant_schedule(1.0), optim.linear_schedule(1.0, 0.0, 10)], [5])
    >>> float(sched(4)), float(sched(10))
    (1.0, 0.5)
    """
    schedules = list(schedules)
    boundaries = list(boundaries)
    if len(boundaries) != len(schedules) - 1:
        raise ValueError(
            f"join_schedules: `boundaries` must have len(schedules) - 1 = "
            f"{len(schedules) - 1} entries, got {len(boundaries)}: {boundaries}.")

    def schedule(step):
        output = schedules[0](step)
        for boundary, fn in zip(boundaries, schedules[1:]):
            output = lnp.where(step < boundary, output, fn(step - boundary))
        return output

    return schedule


def warmup_constant_schedule(init_value: Any, peak_value: Any, warmup_steps: int) -> Schedule:
    """Linear warmup from `init_value` to `peak_value`, then constant.

    Args:
        init_value: the value at step 0.
        peak_value: the value from `warmup_steps` on.
        warmup_steps: the warmup length.

    Returns:
        A function mapping step counts to values.

    >>> from lamina import optim
    >>> float(optim.warmup_constant_schedule(0.0, 1.0, warmup_steps=4)(2))
    0.5
    """
    return linear_schedule(init_value=init_value, end_value=peak_value,
                           transition_steps=warmup_steps)


def warmup_cosine_decay_schedule(
    init_value: Any,
    peak_value: Any,
    warmup_steps: int,
    decay_steps: int,
    end_value: Any = 0.0,
    exponent: Any = 1.0,
) -> Schedule:
    """Linear warmup to `peak_value`, then cosine decay to `end_value`.

    Args:
        init_value: the value at step 0.
        peak_value: the value at `warmup_steps`.
        warmup_steps: the warmup length.
        decay_steps: the total length, warmup included.
        end_value: the final value.
        exponent: the power applied to the cosine factor.

    Returns:
        A function mapping step counts to values.

    >>> from lamina import optim
    >>> sched = optim.warmup_cosine_decay_schedule(0.0, 1.0, warmup_steps=2,
    ...                                            decay_steps=12)
    >>> round(float(sched(1)), 6), round(float(sched(7)), 6)
    (0.5, 0.5)
    """
    alpha = 0.0 if peak_value == 0.0 else end_value / peak_value
    return join_schedules(
        [
            linear_schedule(init_value=init_value, end_value=peak_value,
                            transition_steps=warmup_steps),
            cosine_decay_schedule(init_value=peak_value,
                                  decay_steps=decay_steps - warmup_steps,
                                  alpha=alpha, exponent=exponent),
        ],
        [warmup_steps],
    )


def warmup_exponential_decay_schedule(
    init_value: Any,
    peak_value: Any,
    warmup_steps: int,
    transition_steps: int,
    decay_rate: Any,
    transition_begin: int = 0,
    staircase: bool = False,
    end_value: Optional[Any] = None,
) -> Schedule:
    """Linear warmup to `peak_value`, then `exponential_decay` from it.

    Args:
        init_value: the value at step 0.
        peak_value: the value at `warmup_steps`.
        warmup_steps: the warmup length.
        transition_steps: see `exponential_decay`.
        decay_rate: see `exponential_decay`.
        transition_begin: steps after the warmup before the decay starts.
        staircase: decay in discrete steps.
        end_value: the value at which the decay stops.

    Returns:
        A function mapping step counts to values.

    >>> from lamina import optim
    >>> sched = optim.warmup_exponential_decay_schedule(0.0, 1.0, warmup_steps=2,
    ...                                                 transition_steps=1,
    ...                                                 decay_rate=0.5)
    >>> float(sched(1)), float(sched(4))
    (0.5, 0.25)
    """
    return join_schedules(
        [
            linear_schedule(init_value=init_value, end_value=peak_value,
                            transition_steps=warmup_steps),
            exponential_decay(init_value=peak_value, transition_steps=transition_steps,
                              decay_rate=decay_rate, transition_begin=transition_begin,
                              staircase=staircase, end_value=end_value),
        ],
        [warmup_steps],
    )


def sgdr_schedule(cosine_kwargs: Iterable[dict[str, Any]]) -> Schedule:
    """SGD with warm restarts: `warmup_cosine_decay_schedule` cycles joined end to end.

    Args:
        cosine_kwargs: one dict of `warmup_cosine_decay_schedule` arguments per cycle;
            each cycle lasts its ``decay_steps``.

    Returns:
        A function mapping step counts to values.

    Raises:
        ValueError: a cycle without ``decay_steps``.

    >>> from lamina import optim
    >>> cycle = dict(init_value=0.0, peak_value=1.0, warmup_steps=2, decay_steps=10)
    >>> sched = optim.sgdr_schedule([cycle, cycle])
    >>> float(sched(11))
    0.5
    """
    boundaries, schedules, step = [], [], 0
    for i, kwargs in enumerate(cosine_kwargs):
        if "decay_steps" not in kwargs:
            raise ValueError(f"sgdr_schedule: `cosine_kwargs[{i}]` has no 'decay_steps' "
                             f"key (keys: {sorted(kwargs)}).")
        schedules.append(warmup_cosine_decay_schedule(**kwargs))
        step += kwargs["decay_steps"]
        boundaries.append(step)
    return join_schedules(schedules, boundaries[:-1])


# NOTE: inject_hyperparams and its state types live in a sibling module (this one would
# be too long); re-exported here, as in optax.schedules. Imported last: it uses
# `Schedule` above.
from lamina.optim.inject import (  # noqa: E402
    InjectHyperparamsState,
    InjectStatefulHyperparamsState,
    StatefulSchedule,
    WrappedSchedule,
    WrappedScheduleState,
    inject_hyperparams,
    inject_stateful_hyperparams,
)
