"""The gradient-transformation protocol (optax's `base`) and the per-leaf math it shares.

A gradient transformation is a pair of pure functions, `init(params) -> state` and
`update(updates, state, params=None, **extra_args) -> (updates, state)`, held in a
`GradientTransformation` NamedTuple. States are pytrees (usually NamedTuples) of arrays,
so they pass through `lamina.jit` and can be checkpointed.

The underscored helpers below (moment updates, bias correction, safe norms, hyperparameter
checks) are the building blocks of `transform.py` (and its siblings `scaling.py`,
`accumulation.py`, `adding.py`, `clipping.py`) and `alias.py`; they follow optax's
order of floating-point operations so that results match optax to the last few ulps.
"""
from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from typing import Any, NamedTuple, Optional, Protocol, Union

import numpy as np

import lamina.numpy as lnp
from lamina import dtypes
from lamina.tree_util import tree_leaves, tree_map

__all__ = [
    "EmptyState", "GradientTransformation", "GradientTransformationExtraArgs", "OptState",
    "Params", "Schedule", "ScalarOrSchedule", "TransformInitFn", "TransformUpdateFn",
    "TransformUpdateExtraArgsFn", "Updates", "apply_updates", "chain", "global_norm",
    "identity", "incremental_update", "init_empty_state", "set_to_zero", "stateless",
    "stateless_with_tree_map", "with_extra_args_support",
]

PyTree = Any
ArrayTree = Any
OptState = Any  # a pytree of arrays
Params = Any  # a pytree of arrays
Updates = Params  # updates have the structure of the params
Schedule = Callable[[Any], Any]  # step count -> scalar
ScalarOrSchedule = Union[float, Any, Schedule]  # a number, an array or a schedule

NO_PARAMS_MSG = (
    "You are using a transformation that requires the current value of the parameters, "
    "but you are not passing `params` when calling `update`: call "
    "`tx.update(updates, state, params)`.")


class TransformInitFn(Protocol):
    """`init(params) -> state`: builds the initial state from example parameters."""

    def __call__(self, params: Params) -> OptState: ...


class TransformUpdateFn(Protocol):
    """`update(updates, state, params=None) -> (updates, state)`."""

    def __call__(self, updates: Updates, state: OptState,
                 params: Optional[Params] = None) -> tuple[Updates, OptState]: ...


class TransformUpdateExtraArgsFn(Protocol):
    """`update(updates, state, params=None, **extra_args) -> (updates, state)`; extra
    keyword arguments a transformation does not need are ignored."""

    def __call__(self, updates: Updates, state: OptState, params: Optional[Params] = None,
                 **extra_args: Any) -> tuple[Updates, OptState]: ...


class GradientTransformation(NamedTuple):
    """A pair of pure functions `(init, update)`: an optimizer or one piece of one.

    Attributes:
        init: `init(params) -> state`, the initial optimizer state for these params.
        update: `update(updates, state, params=None) -> (new_updates, new_state)`.

    >>> import lamina.numpy as lnp, lamina.optim as optim
    >>> tx = optim.GradientTransformation(optim.init_empty_state,
    ...                                   lambda u, s, p=None: (u, s))
    >>> tx.update(lnp.ones(2), tx.init(lnp.ones(2)))
    (Array([1., 1.], dtype=float32), EmptyState())
    """

    init: TransformInitFn
    update: TransformUpdateFn


class GradientTransformationExtraArgs(GradientTransformation):
    """A `GradientTransformation` whose `update` accepts (and may ignore) extra keyword
    arguments, e.g. `update(grads, state, params, value=loss)`.

    >>> import lamina.numpy as lnp, lamina.optim as optim
    >>> tx = optim.sgd(0.1)
    >>> isinstance(tx, optim.GradientTransformationExtraArgs)
    True
    """

    update: TransformUpdateExtraArgsFn


class EmptyState(NamedTuple):
    """The state of a stateless transformation (a pytree with no leaves)."""


def init_empty_state(params: Params) -> EmptyState:
    """`init` of a stateless transformation: returns `EmptyState()`."""
    del params
    return EmptyState()


def identity() -> GradientTransformation:
    """A stateless transformation that returns the updates unchanged.

    >>> import lamina.numpy as lnp, lamina.optim as optim
    >>> tx = optim.identity()
    >>> tx.update(lnp.array([1., -2.]), tx.init(None))[0]
    Array([ 1., -2.], dtype=float32)
    """

    def update_fn(updates, state, params=None):
        del params
        return updates, state

    return GradientTransformation(init_empty_state, update_fn)


def set_to_zero() -> GradientTransformation:
    """A stateless transformation that maps every update to zeros (params stay fixed).

    >>> import lamina.numpy as lnp, lamina.optim as optim
    >>> tx = optim.set_to_zero()
    >>> tx.update(lnp.array([1., -2.]), tx.init(None))[0]
    Array([0., 0.], dtype=float32)
    """

    def update_fn(updates, state, params=None):
        del params
        return tree_map(lnp.zeros_like, updates), state

    return GradientTransformation(init_empty_state, update_fn)


def stateless(f: Callable[[Updates, Optional[Params]], Updates]) -> GradientTransformation:
    """A stateless transformation from `f(updates, params) -> updates` (whole trees;
    `params` may be None).

    >>> import lamina.numpy as lnp, lamina.optim as optim
    >>> tx = optim.stateless(lambda u, p: {k: 2 * v for k, v in u.items()})
    >>> tx.update({"w": lnp.ones(2)}, tx.init(None))[0]
    {'w': Array([2., 2.], dtype=float32)}
    """

    def update_fn(updates, state, params=None):
        del state
        return f(updates, params), EmptyState()

    return GradientTransformation(init_empty_state, update_fn)


def stateless_with_tree_map(f: Callable[[Any, Any], Any]) -> GradientTransformation:
    """A stateless transformation that applies `f(update, param)` leaf by leaf (`param`
    is None when `update` is called without params).

    >>> import lamina.numpy as lnp, lamina.optim as optim
    >>> tx = optim.stateless_with_tree_map(lambda g, p: g - p)
    >>> tx.update(lnp.array([3., 3.]), tx.init(None), lnp.array([1., 2.]))[0]
    Array([2., 1.], dtype=float32)
    """

    def update_fn(updates, state, params=None):
        del state
        if params is not None:
            return tree_map(f, updates, params), EmptyState()
        return tree_map(lambda u: f(u, None), updates), EmptyState()

    return GradientTransformation(init_empty_state, update_fn)


def with_extra_args_support(tx: GradientTransformation) -> GradientTransformationExtraArgs:
    """Wraps `tx` so that its `update` accepts and ignores extra keyword arguments.

    >>> import lamina.numpy as lnp, lamina.optim as optim
    >>> tx = optim.with_extra_args_support(optim.identity())
    >>> tx.update(lnp.ones(1), tx.init(None), loss=3.0)[0]
    Array([1.], dtype=float32)
    """
    if isinstance(tx, GradientTransformationExtraArgs):
        return tx

    def update(updates, state, params=None, **extra_args):
        del extra_args
        return tx.update(updates, state, params)

    return GradientTransformationExtraArgs(tx.init, update)


def chain(*args: GradientTransformation) -> GradientTransformationExtraArgs:
    """Applies the transformations in order; the state is the tuple of their states.

    >>> import lamina.numpy as lnp, lamina.optim as optim
    >>> tx = optim.chain(optim.clip(1.0), optim.scale(-0.1))
    >>> state = tx.init(lnp.zeros(2))
    >>> tx.update(lnp.array([5., 0.5]), state)[0]
    Array([-0.1 , -0.05], dtype=float32)
    """
    for i, t in enumerate(args):
        if not isinstance(t, GradientTransformation):
            raise TypeError(
                f"chain: argument {i} must be a GradientTransformation (an (init, update) "
                f"pair such as optim.scale(0.1)), got {type(t).__name__}: {t!r}")
    transforms = [with_extra_args_support(t) for t in args]

    def init_fn(params):
        return tuple(t.init(params) for t in transforms)

    def update_fn(updates, state, params=None, **extra_args):
        if len(transforms) != len(state):
            raise ValueError(
                f"chain: the state holds {len(state)} entries but the chain has "
                f"{len(transforms)} transformations; pass the state built by this "
                "chain's own init(params)")
        new_state = []
        for s, t in zip(state, transforms):
            updates, s = t.update(updates, s, params, **extra_args)
            new_state.append(s)
        return updates, tuple(new_state)

    return GradientTransformationExtraArgs(init_fn, update_fn)


def _is_none(x: Any) -> bool:
    return x is None


def apply_updates(params: Params, updates: Updates) -> Params:
    """Returns `params + updates`, leaf by leaf, cast back to each param's dtype (so
    bfloat16 params stay bfloat16 even when updates are float32); None leaves stay None.

    >>> import lamina.numpy as lnp, lamina.optim as optim
    >>> optim.apply_updates({"w": lnp.ones(2, lnp.bfloat16), "b": None},
    ...                     {"w": lnp.array([0.5, -0.5]), "b": None})
    {'b': None, 'w': Array([1.5, 0.5], dtype=bfloat16)}
    """
    return tree_map(
        lambda p, u: None if p is None else lnp.asarray(p + u).astype(lnp.asarray(p).dtype),
        params, updates, is_leaf=_is_none)


def incremental_update(new_tensors: Params, old_tensors: Params, step_size: Any) -> Params:
    """Polyak averaging: `step_size * new + (1 - step_size) * old`, leaf by leaf.

    >>> import lamina.numpy as lnp, lamina.optim as optim
    >>> optim.incremental_update(lnp.array([1.]), lnp.array([0.]), 0.25)
    Array([0.25], dtype=float32)
    """
    return tree_map(
        lambda new, old: None if new is None else step_size * new + (1.0 - step_size) * old,
        new_tensors, old_tensors, is_leaf=_is_none)


def global_norm(updates: PyTree) -> Any:
    """The L2 norm of all leaves of `updates` taken together.

    >>> import lamina.numpy as lnp, lamina.optim as optim
    >>> optim.global_norm({"a": lnp.array([3.]), "b": lnp.array([[4.]])})
    Array(5., dtype=float32)
    """
    return _tree_norm(updates)


# ---------------------------------------------------------------------------------------
# Per-leaf math shared by transform.py and alias.py (optax's tree_utils / numerics).


def _abs_sq(x: Any) -> Any:
    # NOTE: conj(x) * x keeps complex leaves right; for real x it is just x * x.
    x = lnp.asarray(x)
    if lnp.iscomplexobj(x):
        return (lnp.conj(x) * x).real
    return x * x


def _tree_zeros_like(tree: PyTree, dtype: Any = None) -> PyTree:
    return tree_map(lambda x: lnp.zeros_like(x, dtype=dtype), tree)


def _tree_full_like(tree: PyTree, fill_value: Any, dtype: Any = None) -> PyTree:
    return tree_map(lambda x: lnp.full_like(x, fill_value, dtype=dtype), tree)


def _tree_cast(tree: PyTree, dtype: Any) -> PyTree:
    if dtype is None:
        return tree
    return tree_map(lambda t: t.astype(dtype), tree)


def _tree_cast_like(tree: PyTree, other: PyTree) -> PyTree:
    return tree_map(lambda t, o: t.astype(o.dtype) if hasattr(o, "dtype") else t, tree, other)


def _update_moment(updates: Updates, moments: PyTree, decay: Any, order: int) -> PyTree:
    """`(1 - decay) * g**order + decay * m`, leaf by leaf (None updates stay None)."""
    return tree_map(
        lambda g, t: None if g is None else (1 - decay) * g ** order + decay * t,
        updates, moments, is_leaf=_is_none)


def _update_moment_per_elem_norm(updates: Updates, moments: PyTree, decay: Any,
                                 order: int) -> PyTree:
    """Like `_update_moment` but with `|g|**order` (the same for real leaves)."""

    def orderth_norm(g):
        if lnp.isrealobj(g):
            return g ** order
        half = order / 2
        return _abs_sq(g) ** (int(half) if float(half).is_integer() else half)

    return tree_map(
        lambda g, t: None if g is None else (1 - decay) * orderth_norm(g) + decay * t,
        updates, moments, is_leaf=_is_none)


def _update_infinity_moment(updates: Updates, moments: PyTree, decay: Any,
                            eps: Any) -> PyTree:
    return tree_map(
        lambda g, t: g if g is None else lnp.maximum(lnp.abs(g) + eps, decay * t),
        updates, moments, is_leaf=_is_none)


def _bias_correction(moment: PyTree, decay: Any, count: Any) -> PyTree:
    """`m / (1 - decay**count)`, the correction cast to each leaf's dtype."""
    correction = 1 - decay ** count
    return tree_map(lambda t: t / correction.astype(t.dtype), moment)


def _safe_increment(count: Any) -> Any:
    """`count + 1`, saturating at the dtype's maximum instead of wrapping around."""
    count = lnp.asarray(count)
    dtype = count.dtype
    if lnp.issubdtype(dtype, lnp.integer):
        max_value = lnp.iinfo(dtype).max
    elif lnp.issubdtype(dtype, lnp.floating):
        max_value = lnp.finfo(dtype).max
    else:
        raise ValueError(
            f"cannot increment a step count of dtype {dtype}; counts are integer or "
            "floating arrays (optim states create them as int32 zeros)")
    max_value = lnp.array(max_value, dtype)
    return lnp.where(count < max_value, count + lnp.array(1, dtype), max_value)


def _l2_norm(x: Any) -> Any:
    return lnp.sqrt(lnp.sum(_abs_sq(x)))


def _safe_norm(x: Any, min_norm: Any) -> Any:
    """`max(||x||, min_norm)` whose gradient is finite even at x == 0."""
    norm = _l2_norm(x)
    x = lnp.where(norm <= min_norm, lnp.ones_like(x), x)
    return lnp.where(norm <= min_norm, min_norm, _l2_norm(x))


def _safe_root_mean_squares(x: Any, min_rms: Any) -> Any:
    rms = lnp.sqrt(lnp.mean(_abs_sq(x)))
    x = lnp.where(rms <= min_rms, lnp.ones_like(x), x)
    return lnp.where(rms <= min_rms, min_rms, lnp.sqrt(lnp.mean(_abs_sq(x))))


def _tree_norm(tree: PyTree, squared: bool = False) -> Any:
    # NOTE: per-leaf sums are added left to right from 0, as optax does, so the
    # float32 rounding matches.
    sums = [lnp.sum(_abs_sq(x)) for x in tree_leaves(tree)]
    total = 0
    for s in sums:
        total = total + s
    total = lnp.asarray(total)
    return total if squared else lnp.sqrt(total)


def _canonicalize_dtype(dtype: Any) -> Any:
    return None if dtype is None else dtypes.canonicalize_dtype(dtype)


# ---------------------------------------------------------------------------------------
# Hyperparameter checks. Only concrete Python/numpy numbers are checked: arrays (and
# tracers, e.g. under inject_hyperparams) pass through unchecked.


def _concrete_number(x: Any) -> bool:
    return (isinstance(x, (numbers.Real, np.generic))
            and not isinstance(x, (bool, np.bool_)) and np.ndim(x) == 0)


def _check_learning_rate(fn: str, value: Any, arg: str = "learning_rate") -> None:
    if value is None or callable(value) or not _concrete_number(value):
        return
    if not (math.isfinite(float(value)) and value >= 0):
        raise ValueError(
            f"{fn}: {arg} must be a finite number >= 0 or a schedule (a function of the "
            f"step count), got {value!r}. The update already points downhill (the "
            f"optimizer flips the sign); pass a positive {arg} such as 1e-3.")


def _check_range(fn: str, arg: str, value: Any, low: float, high: float,
                 high_inclusive: bool = False, hint: str = "") -> None:
    if not _concrete_number(value):
        return
    v = float(value)
    ok = low <= v < high or (high_inclusive and v == high)
    if not ok:
        interval = f"[{low:g}, {high:g}{']' if high_inclusive else ')'}"
        raise ValueError(f"{fn}: {arg} must be in {interval}, got {value!r}"
                         + (f"; {hint}" if hint else ""))


def _check_nonnegative(fn: str, arg: str, value: Any) -> None:
    if not _concrete_number(value):
        return
    if not (float(value) >= 0):
        raise ValueError(f"{fn}: {arg} must be >= 0, got {value!r}")


def _check_decay(fn: str, arg: str, value: Any, *, bias_corrected: bool) -> None:
    """A moment decay rate: [0, 1) when the moment is bias-corrected (1 - b**t must not
    vanish), else [0, 1]."""
    _check_range(fn, arg, value, 0.0, 1.0, high_inclusive=not bias_corrected,
                 hint=("it is the decay rate of an exponential moving average "
                       "(typical values 0.9 to 0.999)"))


# ---------------------------------------------------------------------------------------
# Argument checks shared by the combinators (combine.py, wrappers.py, inject.py).


def _check_transform(fn: str, arg: str, tx: Any) -> None:
    if not isinstance(tx, GradientTransformation):
        raise TypeError(
            f"{fn}: `{arg}` must be a GradientTransformation (an (init, update) pair such "
            f"as optim.adam(1e-3)), got {type(tx).__name__}: {tx!r}")


def _is_arraylike(x: Any) -> bool:
    # NOTE: lamina's tracers are not `lamina.Array` instances, so "is an array" is duck
    # typed: anything with a shape and a dtype (lamina arrays, tracers, numpy arrays).
    return hasattr(x, "shape") and hasattr(x, "dtype") and not callable(x)
