"""Combinators: transformations that wrap, route or schedule other transformations.

optax's `named_chain`, `masked`, `partition` (alias `multi_transform`), `freeze`,
`selective_transform`, `MultiSteps`, `apply_if_finite`, `inject_hyperparams`,
`lookahead` and `flatten`, with optax 0.2.8's state NamedTuples (same type and field
names) and numerics. Every wrapper is jittable: data-dependent choices are made with
`lamina.lax.cond` or `lamina.numpy.where`, never with Python `if` on array values.
Masks and labels are static Python values, read when `init`/`update` are traced.
"""
from __future__ import annotations

import collections
import functools
import math
from collections.abc import Callable, Hashable, Mapping
from typing import Any, NamedTuple, Optional, Protocol, Union

import numpy as np

import lamina
import lamina.lax as lax
import lamina.numpy as lnp
from lamina.tree_util import tree_flatten, tree_leaves, tree_map, tree_structure
from lamina.optim._base import (
    GradientTransformation,
    GradientTransformationExtraArgs,
    OptState,
    Params,
    PyTree,
    Updates,
    _canonicalize_dtype,
    _safe_increment,
    _tree_cast_like,
    _tree_zeros_like,
    set_to_zero,
    with_extra_args_support,
)
# NOTE: optax keeps inject_hyperparams with the schedules; re-exported here too.
from lamina.optim.schedules import (  # noqa: F401
    InjectHyperparamsState,
    InjectStatefulHyperparamsState,
    StatefulSchedule,
    WrappedSchedule,
    WrappedScheduleState,
    inject_hyperparams,
    inject_stateful_hyperparams,
)

__all__ = [
    "ApplyIfFiniteState", "InjectHyperparamsState", "InjectStatefulHyperparamsState",
    "LookaheadParams", "LookaheadState", "MaskedNode", "MaskedState", "MultiSteps",
    "MultiStepsState", "MultiTransformState", "PartitionState", "ShouldSkipUpdateFunction",
    "StatefulSchedule", "WrappedSchedule", "WrappedScheduleState", "apply_if_finite",
    "flatten", "freeze", "inject_hyperparams", "inject_stateful_hyperparams", "lookahead",
    "masked", "multi_transform", "named_chain", "partition", "selective_transform",
    "skip_large_updates", "skip_not_finite",
]


def _check_transform(fn: str, arg: str, tx: Any) -> None:
    if not isinstance(tx, GradientTransformation):
        raise TypeError(
            f"{fn}: `{arg}` must be a GradientTransformation (an (init, update) pair such "
            f"as optim.adam(1e-3)), got {type(tx).__name__}: {tx!r}")


def _is_arraylike(x: Any) -> bool:
    # NOTE: lamina's tracers are not `lamina.Array` instances, so "is an array" is duck
    # typed: anything with a shape and a dtype (lamina arrays, tracers, numpy arrays).
    return hasattr(x, "shape") and hasattr(x, "dtype") and not callable(x)


# ---------------------------------------------------------------------------------------
# named_chain


def named_chain(*args: tuple[str, GradientTransformation]) -> GradientTransformationExtraArgs:
    """`chain` whose state is an ordered dict keyed by a name per transformation.

    Args:
        *args: ``(name, transformation)`` pairs; names must be unique.

    Returns:
        A `GradientTransformationExtraArgs`; ``state[name]`` is that transform's state.

    Raises:
        ValueError: duplicate names; TypeError: an argument is not a pair.

    >>> import lamina.numpy as lnp, lamina.optim as optim
    >>> tx = optim.named_chain(("clip", optim.clip(1.0)), ("sgd", optim.sgd(0.1)))
    >>> state = tx.init(lnp.zeros(2))
    >>> list(state.keys())
    ['clip', 'sgd']
    >>> tx.update(lnp.array([3.0, 0.5]), state)[0]
    Array([-0.1 , -0.05], dtype=float32)
    """
    for i, pair in enumerate(args):
        # NOTE: a GradientTransformation is itself a 2-tuple, so test for it first.
        if isinstance(pair, GradientTransformation) or not (
                isinstance(pair, tuple) and len(pair) == 2):
            raise TypeError(f"named_chain: argument {i} must be a (name, transformation) "
                            f"pair such as ('adam', optim.adam(1e-3)), got {pair!r}")
        _check_transform("named_chain", f"args[{i}][1]", pair[1])
    names = [name for name, _ in args]
    if len(names) != len(set(names)):
        dups = sorted({n for n in names if names.count(n) > 1}, key=str)
        raise ValueError(f"named_chain: names must be unique, got {names} "
                         f"(repeated: {dups})")
    transforms = [(name, with_extra_args_support(t)) for name, t in args]

    def init_fn(params):
        # NOTE: an OrderedDict keeps the chain order when the state is inspected (a
        # plain dict would be flattened in sorted-key order).
        return collections.OrderedDict((name, tx.init(params)) for name, tx in transforms)

    def update_fn(updates, state, params=None, **extra_args):
        new_state = collections.OrderedDict()
        for name, tx in transforms:
            if name not in state:
                raise ValueError(f"named_chain: the state has no entry {name!r} (it has "
                                 f"{list(state)}); pass the state built by this "
                                 "named_chain's init(params)")
            updates, new_state[name] = tx.update(updates, state[name], params,
                                                 **extra_args)
        return updates, new_state

    return GradientTransformationExtraArgs(init_fn, update_fn)


# ---------------------------------------------------------------------------------------
# masked


class MaskedState(NamedTuple):
    """The state of `masked`: the inner transformation's state."""
    inner_state: Any


class MaskedNode(NamedTuple):
    """Stands in for a masked-out subtree: a pytree node with no children, so tree maps
    skip it (pass ``is_leaf=lambda x: isinstance(x, MaskedNode)`` to see it)."""


def _mask_flag(fn: str, arg: str, m: Any) -> bool:
    if isinstance(m, (bool, np.bool_)):
        return bool(m)
    if _is_arraylike(m) and m.shape == () and np.dtype(m.dtype) == np.bool_:
        try:
            return bool(m)
        except Exception:
            raise TypeError(
                f"{fn}: `{arg}` must be static (Python bools); got a traced value "
                f"{m!r}. Build the mask from the params' structure, not their values."
            ) from None
    raise TypeError(f"{fn}: the leaves of `{arg}` must be booleans (True = apply the "
                    f"transformation), got {m!r} of type {type(m).__name__}")


def _split_by_prefix(fn: str, arg: str, mask_tree: PyTree, tree: PyTree,
                     what: str = "params/updates"):
    """Flattens `mask_tree` and cuts `tree` at its leaves (it must be a prefix)."""
    mask_leaves, treedef = tree_flatten(mask_tree)
    try:
        subtrees = treedef.flatten_up_to(tree)
    except ValueError as e:
        raise ValueError(
            f"{fn}: `{arg}` must have the tree structure of the {what}, or a prefix of "
            f"it.\n  {arg}: {treedef}\n  {what}: {tree_structure(tree)}\n({e})") from None
    return mask_leaves, treedef, subtrees


def _mask_pytree(fn: str, arg: str, mask_tree: PyTree, tree: PyTree) -> PyTree:
    leaves, treedef, subtrees = _split_by_prefix(fn, arg, mask_tree, tree)
    return treedef.unflatten([p if _mask_flag(fn, arg, m) else MaskedNode()
                              for m, p in zip(leaves, subtrees)])


def _mask_is_callable(mask: Any) -> bool:
    flags = tree_leaves(tree_map(callable, mask))
    return len(flags) > 0 and all(flags)


def masked(
    inner: GradientTransformation,
    mask: Union[PyTree, Callable[[Params], PyTree]],
    *,
    mask_compatible_extra_args: bool = False,
) -> GradientTransformationExtraArgs:
    """Applies `inner` only where `mask` is True; other updates pass through unchanged.

    The inner state only holds entries for the masked-in leaves (masked-out subtrees are
    `MaskedNode()`).

    Args:
        inner: the transformation to apply to the masked-in leaves.
        mask: a pytree of Python bools with the structure of the params (or a prefix of
            it), or a function ``params -> such a pytree``. It must be static.
        mask_compatible_extra_args: also mask extra arguments whose tree structure
            equals the updates'.

    Returns:
        A `GradientTransformationExtraArgs` with state `MaskedState`.

    Raises:
        ValueError: the mask's structure is not a prefix of the params'.
        TypeError: a mask leaf is not a boolean.

    >>> import lamina.numpy as lnp, lamina.optim as optim
    >>> params = {"w": lnp.ones(2), "b": lnp.ones(1)}
    >>> tx = optim.masked(optim.set_to_zero(), {"w": True, "b": False})
    >>> tx.update({"w": lnp.ones(2), "b": lnp.ones(1)}, tx.init(params))[0]
    {'b': Array([1.], dtype=float32), 'w': Array([0., 0.], dtype=float32)}
    """
    _check_transform("masked", "inner", inner)
    inner = with_extra_args_support(inner)
    mask_is_fn = _mask_is_callable(mask)

    def mask_for(tree):
        return mask(tree) if mask_is_fn else mask

    def mask_extra_args(extra_args, updates, mask_tree):
        if not mask_compatible_extra_args:
            return extra_args
        base = tree_structure(updates)
        return {k: (_mask_pytree("masked", "mask", mask_tree, v)
                    if tree_structure(v) == base else v)
                for k, v in extra_args.items()}

    def init_fn(params):
        mask_tree = mask_for(params)
        return MaskedState(inner_state=inner.init(
            _mask_pytree("masked", "mask", mask_tree, params)))

    def update_fn(updates, state, params=None, **extra_args):
        mask_tree = mask_for(updates)
        leaves, treedef, old = _split_by_prefix("masked", "mask", mask_tree, updates)
        flags = [_mask_flag("masked", "mask", m) for m in leaves]
        masked_updates = treedef.unflatten(
            [u if f else MaskedNode() for f, u in zip(flags, old)])
        masked_params = (None if params is None
                         else _mask_pytree("masked", "mask", mask_tree, params))
        new_masked, new_inner = inner.update(
            masked_updates, state.inner_state, masked_params,
            **mask_extra_args(extra_args, updates, mask_tree))
        new = treedef.flatten_up_to(new_masked)
        new_updates = treedef.unflatten(
            [n if f else o for f, n, o in zip(flags, new, old)])
        return new_updates, MaskedState(inner_state=new_inner)

    return GradientTransformationExtraArgs(init_fn, update_fn)


# ---------------------------------------------------------------------------------------
# partition (multi_transform), freeze, selective_transform


class PartitionState(NamedTuple):
    """The state of `partition`: one inner (masked) state per label."""
    inner_states: Mapping[Hashable, OptState]


MultiTransformState = PartitionState  # optax's older name for the same type


def partition(
    transforms: Mapping[Hashable, GradientTransformation],
    param_labels: Union[PyTree, Callable[[PyTree], PyTree]],
    *,
    mask_compatible_extra_args: bool = False,
) -> GradientTransformationExtraArgs:
    """Applies a different transformation to each group of parameters.

    Args:
        transforms: ``{label: transformation}``.
        param_labels: a pytree of labels with the params' structure (or a prefix of
            it), or a function ``params -> such a pytree``. Every label must be a key of
            `transforms`.
        mask_compatible_extra_args: also mask extra arguments whose tree structure
            equals the updates'.

    Returns:
        A `GradientTransformationExtraArgs` with state `PartitionState` (alias
        `MultiTransformState`): ``inner_states[label]`` is a `MaskedState`.

    Raises:
        ValueError: a label with no transformation, or labels whose structure is not a
            prefix of the params'.

    >>> import lamina.numpy as lnp, lamina.optim as optim
    >>> params = {"w": lnp.ones(2), "b": lnp.ones(1)}
    >>> tx = optim.partition({"train": optim.sgd(0.5), "frozen": optim.set_to_zero()},
    ...                      {"w": "train", "b": "frozen"})
    >>> tx.update({"w": lnp.ones(2), "b": lnp.ones(1)}, tx.init(params))[0]
    {'b': Array([0.], dtype=float32), 'w': Array([-0.5, -0.5], dtype=float32)}
    """
    if not isinstance(transforms, Mapping):
        raise TypeError(f"partition: `transforms` must be a mapping from label to "
                        f"transformation, got {type(transforms).__name__}: {transforms!r}")
    for k, t in transforms.items():
        _check_transform("partition", f"transforms[{k!r}]", t)
    transforms = {k: with_extra_args_support(v) for k, v in transforms.items()}

    def labels_for(tree):
        labels = param_labels(tree) if callable(param_labels) else param_labels
        # NOTE: checked on every call (not only in init) so a labels *function* that
        # returns a new label later on fails here rather than silently dropping leaves.
        _split_by_prefix("partition", "param_labels", labels, tree)
        unknown = set(tree_leaves(labels)) - set(transforms)
        if unknown:
            raise ValueError(
                f"partition: `param_labels` uses labels with no transformation: "
                f"{sorted(map(repr, unknown))}; the transforms' keys are "
                f"{sorted(map(repr, transforms))}. Add a transformation for each label "
                "(optim.set_to_zero() freezes a group).")
        return labels

    def group_tx(labels, group):
        mask = tree_map(lambda label: label == group, labels)
        return masked(transforms[group], mask,
                      mask_compatible_extra_args=mask_compatible_extra_args)

    def init_fn(params):
        labels = labels_for(params)
        return PartitionState({g: group_tx(labels, g).init(params) for g in transforms})

    def update_fn(updates, state, params=None, **extra_args):
        labels = labels_for(updates)
        new_inner = {}
        for group in transforms:
            if group not in state.inner_states:
                raise ValueError(f"partition: the state has no entry for label {group!r}; "
                                 "pass the state built by this partition's init(params)")
            updates, new_inner[group] = group_tx(labels, group).update(
                updates, state.inner_states[group], params, **extra_args)
        return updates, PartitionState(new_inner)

    return GradientTransformationExtraArgs(init_fn, update_fn)


multi_transform = partition  # optax's older name


def freeze(mask: Union[bool, PyTree]) -> GradientTransformationExtraArgs:
    """Zeroes the updates where `mask` is True (those parameters stay constant).

    Args:
        mask: a Python bool (freeze all or nothing) or a pytree of bools with the
            params' structure (or a prefix of it). Static.

    Returns:
        ``masked(set_to_zero(), mask)``.

    >>> import lamina.numpy as lnp, lamina.optim as optim
    >>> tx = optim.freeze({"a": True, "b": False})
    >>> g = {"a": lnp.ones(1), "b": lnp.ones(2)}
    >>> tx.update(g, tx.init(g))[0]
    {'a': Array([0.], dtype=float32), 'b': Array([1., 1.], dtype=float32)}
    """
    return masked(set_to_zero(), mask)


def selective_transform(
    optimizer: GradientTransformation,
    *,
    freeze_mask: Union[bool, PyTree],
) -> GradientTransformationExtraArgs:
    """Applies `optimizer` to the leaves where `freeze_mask` is False and zeroes the rest.

    Unlike `freeze` after an optimizer, the frozen leaves get no optimizer state.

    Args:
        optimizer: the transformation for the trainable leaves.
        freeze_mask: a Python bool or a pytree of bools (True = frozen). Static.

    Returns:
        A `partition` over the labels ``"train"`` and ``"freeze"``.

    >>> import lamina.numpy as lnp, lamina.optim as optim
    >>> tx = optim.selective_transform(optim.sgd(1.0), freeze_mask={"a": True, "b": False})
    >>> g = {"a": lnp.ones(1), "b": lnp.ones(2)}
    >>> tx.update(g, tx.init(g))[0]
    {'a': Array([0.], dtype=float32), 'b': Array([-1., -1.], dtype=float32)}
    """
    _check_transform("selective_transform", "optimizer", optimizer)

    def label_fn(params):
        del params
        return tree_map(
            lambda m: "freeze" if _mask_flag("selective_transform", "freeze_mask", m)
            else "train", freeze_mask)

    return partition({"train": optimizer, "freeze": set_to_zero()}, param_labels=label_fn)


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
