"""Pytrees: nested containers of arrays, flattened to a list of leaves and a structure.

Mirrors `jax.tree_util`. A pytree is built from registered *node* types (tuple, list,
dict, `None`, namedtuples, `collections.OrderedDict`, `collections.defaultdict` and
anything passed to a `register_*` function); every other object is a *leaf*. `None` is
a node without children, so it holds no leaves. A dict's children are visited in
sorted key order, so `{'b': 1, 'a': 2}` and `{'a': 2, 'b': 1}` flatten alike.

`PyTreeDef` is the structure left once the leaves are taken out. It is hashable and
compares by value; transformations use it as part of their cache keys.

Representation: a treedef node is the plain tuple `(node_type, aux_data, children)`,
with the `_LEAF` marker standing for a leaf. Plain tuples keep flatten cheap (it runs
on every `jit` call) and make treedef equality one C-level tuple comparison.

This module is the public surface: it holds the `tree_*` functions and `Partial`, and
re-exports the registry and key paths (from `lamina._tree_registry`) and `PyTreeDef`
with the traversals behind it (from `lamina._tree_def`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, TypeAlias, TypeVar

if TYPE_CHECKING:
    from typing_extensions import Self

from lamina._tree_registry import (
    DictKey, SequenceKey, GetAttrKey, FlattenedIndexKey, KeyEntry, KeyPath, keystr,
    _node_type, register_pytree_node, register_pytree_with_keys, register_pytree_node_class,
    register_pytree_with_keys_class, register_dataclass, register_static, is_tree_node,
    flatten_one_level,
)
from lamina._tree_def import (
    _LEAF, _flatten, _flatten_pred, _collect_leaves, _flatten_with_path, PyTreeDef,
    _flatten_up_to_or_raise,
)

__all__ = [
    "DictKey",
    "FlattenedIndexKey",
    "GetAttrKey",
    "KeyEntry",
    "KeyPath",
    "Partial",
    "PyTreeDef",
    "SequenceKey",
    "all_leaves",
    "broadcast_prefix",
    "build_tree",
    "flatten_one_level",
    "flatten_up_to",
    "is_tree_node",
    "keystr",
    "register_dataclass",
    "register_pytree_node",
    "register_pytree_node_class",
    "register_pytree_with_keys",
    "register_pytree_with_keys_class",
    "register_static",
    "tree_all",
    "tree_broadcast",
    "tree_flatten",
    "tree_flatten_with_path",
    "tree_leaves",
    "tree_leaves_with_path",
    "tree_map",
    "tree_map_with_path",
    "tree_reduce",
    "tree_structure",
    "tree_transpose",
    "tree_unflatten",
    "treedef_children",
    "treedef_is_leaf",
    "treedef_tuple",
]


PyTree: TypeAlias = Any
T = TypeVar("T")


# Public functions


def tree_flatten(
    tree: PyTree, is_leaf: Callable[[Any], bool] | None = None
) -> tuple[list[Any], PyTreeDef]:
    """Splits a pytree into its leaves (depth-first, dicts by sorted key) and structure.

    Args:
        tree: the pytree.
        is_leaf: optional predicate called on every subtree before it is taken apart;
            returning True makes that subtree a leaf.

    Returns:
        `(leaves, treedef)`, with `tree_unflatten(treedef, leaves)` rebuilding `tree`.

    Raises:
        ValueError: if a dict's keys cannot be sorted.

    >>> tree_flatten({'b': (2, None), 'a': [1]})
    ([1, 2], PyTreeDef({'a': [*], 'b': (*, None)}))
    """
    leaves: list[Any] = []
    if is_leaf is None:
        root = _flatten(tree, leaves)
    else:
        root = _flatten_pred(tree, leaves, is_leaf)
    return leaves, PyTreeDef(root, len(leaves))


def tree_unflatten(treedef: PyTreeDef, leaves: Iterable[Any]) -> PyTree:
    """Rebuilds a pytree from its structure and leaves.

    Raises:
        TypeError: if `treedef` is not a PyTreeDef (arguments swapped?).
        ValueError: if `leaves` has the wrong length.

    >>> leaves, treedef = tree_flatten([1, (2, 3)])
    >>> tree_unflatten(treedef, [x * 10 for x in leaves])
    [10, (20, 30)]
    """
    if not isinstance(treedef, PyTreeDef):
        raise TypeError(
            "tree_unflatten(treedef, leaves): treedef must be a PyTreeDef, got "
            f"{type(treedef).__name__}; were the arguments swapped?"
        )
    return treedef.unflatten(leaves)


def tree_leaves(
    tree: PyTree, is_leaf: Callable[[Any], bool] | None = None
) -> list[Any]:
    """The leaves of `tree`, in `tree_flatten` order.

    >>> tree_leaves([None, {'y': 2, 'x': 1}])
    [1, 2]
    """
    if is_leaf is not None:
        return tree_flatten(tree, is_leaf)[0]
    leaves: list[Any] = []
    _collect_leaves(tree, leaves)
    return leaves


def tree_structure(
    tree: PyTree, is_leaf: Callable[[Any], bool] | None = None
) -> PyTreeDef:
    """The structure (`PyTreeDef`) of `tree`.

    >>> tree_structure((1, [2, 3]))
    PyTreeDef((*, [*, *]))
    """
    return tree_flatten(tree, is_leaf)[1]


def treedef_is_leaf(treedef: PyTreeDef) -> bool:
    """Whether `treedef` has a single node (a leaf, or a childless node like None).

    >>> treedef_is_leaf(tree_structure(1)), treedef_is_leaf(tree_structure([1]))
    (True, False)
    """
    return treedef.num_nodes == 1


def treedef_children(treedef: PyTreeDef) -> list[PyTreeDef]:
    """Treedefs of the root's immediate children.

    >>> treedef_children(tree_structure([(1, 2), 3]))
    [PyTreeDef((*, *)), PyTreeDef(*)]
    """
    return treedef.children()


def treedef_tuple(treedefs: Iterable[PyTreeDef]) -> PyTreeDef:
    """The structure of a tuple whose children have the given structures.

    >>> treedef_tuple([tree_structure(1), tree_structure([1, 2])])
    PyTreeDef((*, [*, *]))
    """
    return PyTreeDef((tuple, None, tuple([td._root for td in treedefs])))


def flatten_up_to(treedef: PyTreeDef, tree: PyTree) -> list[Any]:
    """Flattens `tree` only as deep as `treedef`: one entry per leaf of `treedef`.

    Each entry is the subtree of `tree` at that leaf's position. Node types must match
    exactly (a tuple does not match a list or a namedtuple), as must dict keys and
    custom aux data.

    Raises:
        ValueError: naming the key path of the first disagreement.

    >>> flatten_up_to(tree_structure([0, 0]), [(1, 2), {'a': 3}])
    [(1, 2), {'a': 3}]
    """
    return _flatten_up_to_or_raise(treedef, tree, "flatten_up_to", "tree")


def tree_map(
    f: Callable[..., Any],
    tree: PyTree,
    *rest: PyTree,
    is_leaf: Callable[[Any], bool] | None = None,
) -> PyTree:
    """Applies `f` leafwise, returning a pytree with `tree`'s structure.

    Args:
        f: called as `f(leaf, *rest_entries)` once per leaf of `tree`.
        tree: the pytree whose leaves are mapped and whose structure is kept.
        *rest: pytrees whose structure is `tree`'s or has it as a prefix; at each leaf
            position of `tree`, `f` gets their whole subtree.
        is_leaf: optional predicate marking extra leaves of `tree` (only `tree`).

    Raises:
        ValueError: if a tree in `rest` disagrees with `tree`, naming the path.

    >>> tree_map(lambda x, y: x + y, {'a': 1, 'b': [2]}, {'a': 10, 'b': [20]})
    {'a': 11, 'b': [22]}
    >>> tree_map(lambda x, y: (x, y), [1, 2], [(3, 4), 5])
    [(1, (3, 4)), (2, 5)]
    """
    leaves, treedef = tree_flatten(tree, is_leaf)
    if not rest:
        return treedef.unflatten([f(x) for x in leaves])
    all_leaves = [leaves] + [
        _flatten_up_to_or_raise(treedef, r, "tree_map", f"rest[{i}]")
        for i, r in enumerate(rest)
    ]
    return treedef.unflatten([f(*xs) for xs in zip(*all_leaves)])


def tree_reduce(
    function: Callable[[T, Any], T],
    tree: PyTree,
    initializer: Any = _LEAF,
    is_leaf: Callable[[Any], bool] | None = None,
) -> T:
    """`functools.reduce` over the leaves of `tree`.

    Raises:
        TypeError: if `tree` has no leaves and no `initializer` is given.

    >>> tree_reduce(lambda a, b: a + b, {'x': 1, 'y': [2, 3]})
    6
    """
    # NOTE: `_LEAF` marks "no initializer", since None is a valid initial value.
    leaves = tree_leaves(tree, is_leaf)
    if initializer is _LEAF:
        return functools.reduce(function, leaves)
    return functools.reduce(function, leaves, initializer)


def tree_all(tree: PyTree, *, is_leaf: Callable[[Any], bool] | None = None) -> bool:
    """Whether every leaf is truthy (True for no leaves).

    >>> tree_all([True, {'a': 1}]), tree_all([True, 0])
    (True, False)
    """
    return all(tree_leaves(tree, is_leaf))


def all_leaves(
    iterable: Iterable[Any], is_leaf: Callable[[Any], bool] | None = None
) -> bool:
    """Whether every element of `iterable` is a pytree leaf.

    >>> all_leaves([1, 2.0]), all_leaves([1, None]), all_leaves([[1]])
    (True, False, False)
    """
    items = list(iterable)
    if is_leaf is None:
        return all(_node_type(type(x)) is None for x in items)
    leaves = tree_leaves(items, is_leaf)
    return len(leaves) == len(items) and all(a is b for a, b in zip(leaves, items))


def build_tree(treedef: PyTreeDef, xs: Any) -> PyTree:
    """Builds a pytree of structure `treedef` from nested iterables.

    `xs` mirrors `treedef`: an iterable with one item per child at each node, and any
    object at a leaf. Useful to rebuild containers around already-built subtrees.

    Raises:
        ValueError: if an iterable's length differs from its node's child count.

    >>> build_tree(tree_structure({'a': (0, 0), 'b': 0}), [[1, 2], 'x'])
    {'a': (1, 2), 'b': 'x'}
    """
    return treedef.from_iterable_tree(xs)


def tree_transpose(
    outer_treedef: PyTreeDef,
    inner_treedef: PyTreeDef | None,
    pytree_to_transpose: PyTree,
) -> PyTree:
    """Turns an outer-of-inner pytree into an inner-of-outer pytree.

    Args:
        outer_treedef: structure of the outer level.
        inner_treedef: structure of each inner subtree; if None, taken from the first
            subtree under `outer_treedef`.
        pytree_to_transpose: a pytree of structure `outer_treedef.compose(inner)`.

    Raises:
        TypeError: if the leaf count does not match outer x inner.

    >>> outer = tree_structure([0, 0])
    >>> inner = tree_structure({'a': 0, 'b': 0})
    >>> tree_transpose(outer, inner, [{'a': 1, 'b': 2}, {'a': 3, 'b': 4}])
    {'a': [1, 3], 'b': [2, 4]}
    """
    flat, treedef = tree_flatten(pytree_to_transpose)
    if inner_treedef is None:
        inner_treedef = tree_structure(
            outer_treedef.flatten_up_to(pytree_to_transpose)[0]
        )
    n_inner, n_outer = inner_treedef.num_leaves, outer_treedef.num_leaves
    if treedef.num_leaves != n_inner * n_outer:
        expected = outer_treedef.compose(inner_treedef)
        raise TypeError(
            f"tree_transpose: the pytree has structure\n{treedef}\nbut outer x inner "
            f"is\n{expected}\n({treedef.num_leaves} leaves vs {n_outer} x {n_inner})."
        )
    # Leaf j of every inner subtree, gathered across the outer level.
    columns = [outer_treedef.unflatten(flat[j::n_inner]) for j in range(n_inner)]
    return inner_treedef.unflatten(columns)


def tree_flatten_with_path(
    tree: PyTree,
    is_leaf: Callable[..., bool] | None = None,
    is_leaf_takes_path: bool = False,
) -> tuple[list[tuple[KeyPath, Any]], PyTreeDef]:
    """Like `tree_flatten`, with each leaf paired with its key path.

    Args:
        tree: the pytree.
        is_leaf: optional leaf predicate, called as `is_leaf(x)`, or as
            `is_leaf(path, x)` when `is_leaf_takes_path`.
        is_leaf_takes_path: see `is_leaf`.

    >>> pairs, _ = tree_flatten_with_path({'w': [5]})
    >>> pairs
    [((DictKey(key='w'), SequenceKey(idx=0)), 5)]
    """
    pred = is_leaf
    if is_leaf is not None and not is_leaf_takes_path:
        pred = lambda _, x: is_leaf(x)
    leaves: list[tuple[KeyPath, Any]] = []
    root = _flatten_with_path(tree, (), leaves, pred)
    return leaves, PyTreeDef(root, len(leaves))


def tree_leaves_with_path(
    tree: PyTree,
    is_leaf: Callable[..., bool] | None = None,
    is_leaf_takes_path: bool = False,
) -> list[tuple[KeyPath, Any]]:
    """The `(key_path, leaf)` pairs of `tree`.

    >>> [(keystr(p), x) for p, x in tree_leaves_with_path({'a': (1, 2)})]
    [("['a'][0]", 1), ("['a'][1]", 2)]
    """
    return tree_flatten_with_path(tree, is_leaf, is_leaf_takes_path)[0]


def tree_map_with_path(
    f: Callable[..., Any],
    tree: PyTree,
    *rest: PyTree,
    is_leaf: Callable[..., bool] | None = None,
    is_leaf_takes_path: bool = False,
) -> PyTree:
    """Like `tree_map`, calling `f(key_path, leaf, *rest_entries)`.

    >>> tree_map_with_path(lambda p, x: keystr(p), {'a': [0, 0]})
    {'a': ["['a'][0]", "['a'][1]"]}
    """
    pairs, treedef = tree_flatten_with_path(tree, is_leaf, is_leaf_takes_path)
    rest_leaves = [
        _flatten_up_to_or_raise(treedef, r, "tree_map_with_path", f"rest[{i}]")
        for i, r in enumerate(rest)
    ]
    return treedef.unflatten([f(p, x, *xs) for (p, x), *xs in zip(pairs, *rest_leaves)])


def broadcast_prefix(
    prefix_tree: PyTree,
    full_tree: PyTree,
    is_leaf: Callable[[Any], bool] | None = None,
) -> list[Any]:
    """For each leaf of `full_tree`, the leaf of `prefix_tree` that covers it.

    Used to expand per-argument options such as vmap's `in_axes`.

    Args:
        prefix_tree: a pytree whose structure is a prefix of `full_tree`'s.
        full_tree: the pytree whose leaves are counted.
        is_leaf: optional leaf predicate for `prefix_tree` only (e.g. to make None a
            leaf, as vmap does for `in_axes`).

    Raises:
        ValueError: if `prefix_tree` is not a prefix, naming the path.

    >>> broadcast_prefix((0, 1), ([10, 20], {'a': 30}))
    [0, 0, 1]
    """
    prefix_leaves, prefix_def = tree_flatten(prefix_tree, is_leaf)
    subtrees = _flatten_up_to_or_raise(
        prefix_def, full_tree, "broadcast_prefix", "full_tree"
    )
    out: list[Any] = []
    for x, sub in zip(prefix_leaves, subtrees):
        out.extend([x] * len(tree_leaves(sub)))
    return out


def tree_broadcast(
    prefix_tree: PyTree,
    full_tree: PyTree,
    is_leaf: Callable[[Any], bool] | None = None,
) -> PyTree:
    """`full_tree`'s structure, each leaf replaced by its covering `prefix_tree` leaf.

    >>> tree_broadcast({'a': 0, 'b': 1}, {'a': [5, 6], 'b': 7})
    {'a': [0, 0], 'b': 1}
    """
    return tree_structure(full_tree).unflatten(
        broadcast_prefix(prefix_tree, full_tree, is_leaf)
    )


# --------------------------------------------------------------------------------------
# Partial


class _PartialFunc:
    """Holds a `functools.partial` that is the `func` of a `Partial`.

    `functools.partial(p, ...)` merges `p`'s arguments into the new object when `p` is
    itself a partial. For `Partial` that would turn `p`'s static function and its
    arguments into one flat argument list; boxing keeps them apart.
    """

    def __init__(self, fn: functools.partial) -> None:
        self._fn = fn

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._fn(*args, **kwargs)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, _PartialFunc):
            return self._fn == other._fn
        return self._fn == other

    def __hash__(self) -> int:
        return hash(self._fn)

    def __repr__(self) -> str:
        return repr(self._fn)


class Partial(functools.partial):
    """A `functools.partial` that is a pytree: bound arguments are its children.

    The function itself is static aux data. Pass a `Partial` through transformations
    wherever a callable closing over arrays is needed.

    >>> def scale(x, factor):
    ...     return x * factor
    >>> double = Partial(scale, factor=2)
    >>> double(3)
    6
    >>> tree_leaves(double)
    [2]
    """

    def __new__(cls, func: Callable[..., Any], *args: Any, **kwargs: Any) -> Self:
        if not isinstance(func, functools.partial):
            return super().__new__(cls, func, *args, **kwargs)
        box = _PartialFunc(func)
        self = super().__new__(cls, box, *args, **kwargs)
        # Set only now, so that the constructor above cannot unwrap the box; they let
        # `Partial(p, ...).func.func` reach the inner function, as in jax.
        box.func, box.args, box.keywords = func.func, func.args, func.keywords
        return self


register_pytree_node(
    Partial,
    lambda p: ((p.args, p.keywords), p.func),
    lambda func, xs: Partial(func, *xs[0], **xs[1]),
)
