"""Combinators: transformations that wrap, route or schedule other transformations.

optax's `named_chain`, `masked`, `partition` (alias `multi_transform`), `freeze`,
`selective_transform`, `MultiSteps`, `apply_if_finite`, `inject_hyperparams`,
`lookahead` and `flatten`, with optax 0.2.8's state NamedTuples (same type and field
names) and numerics. Every wrapper is jittable: data-dependent choices are made with
`lamina.lax.cond` or `lamina.numpy.where`, never with Python `if` on array values.
Masks and labels are static Python values, read when `init`/`update` are traced.

This module holds the routing combinators (`named_chain`, `masked`, `partition`,
`freeze`, `selective_transform`) and is the family's namespace: `MultiSteps`,
`apply_if_finite`, `lookahead` and `flatten` live in `lamina.optim.wrappers` and
`inject_hyperparams` in `lamina.optim.schedules`, both re-exported here.
"""
from __future__ import annotations

import collections
from collections.abc import Callable, Hashable, Mapping
from typing import Any, NamedTuple, Union

import numpy as np

from lamina.tree_util import tree_flatten, tree_leaves, tree_map, tree_structure
from lamina.optim._base import (
    GradientTransformation,
    GradientTransformationExtraArgs,
    OptState,
    Params,
    PyTree,
    _check_transform,
    _is_arraylike,
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
# NOTE: MultiSteps, apply_if_finite, lookahead and flatten live in a sibling module
# (this one would be too long); re-exported here, the combinators' namespace.
from lamina.optim.wrappers import (
    ApplyIfFiniteState,
    LookaheadParams,
    LookaheadState,
    MultiSteps,
    MultiStepsState,
    ShouldSkipUpdateFunction,
    apply_if_finite,
    flatten,
    lookahead,
    skip_large_updates,
    skip_not_finite,
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
