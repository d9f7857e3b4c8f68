"""`PyTreeDef` and the recursive traversals behind `lamina.tree_util` (private; import
the public names from `lamina.tree_util`): flatten, flatten with a leaf predicate or
with key paths, unflatten, flatten-up-to (with its mismatch messages), the treedef
node helpers (counts, hashing, repr, composition), and the per-treedef recipes that
`jit`'s dispatch path reuses on every call (`PyTreeDef._matcher` / `_builder`).

Representation: a treedef node is the plain tuple `(node_type, aux_data, children)`,
with the `_LEAF` marker standing for a leaf (see `lamina.tree_util`). Separate from the
registry (`_tree_registry`), which it only looks node types up in, and from the public
`tree_*` functions built on it.
"""

from __future__ import annotations

import collections
import operator
from collections.abc import Callable, Iterable
from typing import Any, TypeAlias

from lamina._tree_registry import (
    KeyEntry, KeyPath, keystr, _registry, _leaf_types, _note_leaf_type, _is_namedtuple_type,
    _node_type, _sorted_keys, _registry_epoch,
)

PyTree: TypeAlias = Any
_NoneType = type(None)


# --------------------------------------------------------------------------------------
# Traversals. Each is a tight recursion; tuple/list/dict/None skip the registry lookup.


class _LeafMarker:
    __slots__ = ()

    def __repr__(self) -> str:
        return "*"

    def __reduce__(self) -> str:
        # NOTE: unpickles to the module's singleton, which identity checks rely on.
        return "_LEAF"


_LEAF = _LeafMarker()
_NONE_NODE = (_NoneType, None, ())
_Node: TypeAlias = Any  # `_LEAF` or `(node_type, aux_data, tuple_of_child_nodes)`


def _flatten(x: Any, leaves: list[Any]) -> _Node:
    t = type(x)
    if t in _leaf_types:
        leaves.append(x)
        return _LEAF
    if t is dict:
        try:
            keys = tuple(sorted(x))
        except TypeError:
            keys = _sorted_keys(x)  # raises the descriptive error
        return (dict, keys, tuple([_flatten(x[k], leaves) for k in keys]))
    if t is list or t is tuple:
        return (t, None, tuple([_flatten(c, leaves) for c in x]))
    if x is None:
        return _NONE_NODE
    handler = _registry.get(t)
    if handler is not None:
        children, aux = handler.flatten(x)
        return (t, aux, tuple([_flatten(c, leaves) for c in children]))
    if issubclass(t, tuple) and hasattr(t, "_fields"):
        return (t, None, tuple([_flatten(c, leaves) for c in x]))
    _note_leaf_type(t)
    leaves.append(x)
    return _LEAF


def _flatten_pred(x: Any, leaves: list[Any], is_leaf: Callable[[Any], bool]) -> _Node:
    # `_flatten` with an `is_leaf` predicate; kept apart so the common path is lean.
    if is_leaf(x):
        leaves.append(x)
        return _LEAF
    if x is None:
        return _NONE_NODE
    t = type(x)
    handler = _node_type(t)
    if handler is None:
        leaves.append(x)
        return _LEAF
    children, aux = handler.flatten(x)
    return (t, aux, tuple([_flatten_pred(c, leaves, is_leaf) for c in children]))


def _collect_leaves(x: Any, leaves: list[Any]) -> None:
    # `_flatten` without building the structure, for `tree_leaves`.
    t = type(x)
    if t in _leaf_types:
        leaves.append(x)
    elif t is dict:
        for k in _sorted_keys(x):
            _collect_leaves(x[k], leaves)
    elif t is list or t is tuple:
        for c in x:
            _collect_leaves(c, leaves)
    elif x is not None:
        handler = _registry.get(t)
        if handler is not None:
            for c in handler.flatten(x)[0]:
                _collect_leaves(c, leaves)
        elif issubclass(t, tuple) and hasattr(t, "_fields"):
            for c in x:
                _collect_leaves(c, leaves)
        else:
            _note_leaf_type(t)
            leaves.append(x)


def _flatten_with_path(
    x: Any,
    path: KeyPath,
    leaves: list[tuple[KeyPath, Any]],
    is_leaf: Callable[[KeyPath, Any], bool] | None,
) -> _Node:
    if is_leaf is not None and is_leaf(path, x):
        leaves.append((path, x))
        return _LEAF
    if x is None:
        return _NONE_NODE
    t = type(x)
    handler = _node_type(t)
    if handler is None:
        leaves.append((path, x))
        return _LEAF
    keyed, aux = handler.flatten_with_keys(x)
    children = [_flatten_with_path(c, (*path, k), leaves, is_leaf) for k, c in keyed]
    return (t, aux, tuple(children))


def _unflatten(node: _Node, leaves: Iterable[Any]) -> Any:
    t, aux, children = node
    xs = [next(leaves) if c is _LEAF else _unflatten(c, leaves) for c in children]
    if t is list:
        return xs
    if t is tuple:
        return tuple(xs)
    if t is dict:
        return dict(zip(aux, xs))
    handler = _node_type(t)
    assert handler is not None, t
    return handler.unflatten(aux, tuple(xs))


class _Mismatch(Exception):
    """Internal: a structure mismatch; `path` is filled in, reversed, on unwinding."""

    def __init__(self, msg: str) -> None:
        super().__init__(msg)
        self.msg = msg
        self.path: list[KeyEntry] = []


def _short_repr(x: Any, limit: int = 80) -> str:
    r = repr(x)
    return r if len(r) <= limit else r[: limit - 3] + "..."


def _describe_node_type(t: type) -> str:
    if t is _NoneType:
        return "None"
    if t in (tuple, list, dict):
        return f"a {t.__name__}"
    if t not in _registry and _is_namedtuple_type(t):
        return f"a namedtuple {t.__qualname__}"
    return f"a {t.__qualname__} node"


def _describe_value(x: Any) -> str:
    return "None" if x is None else f"{type(x).__qualname__} {_short_repr(x)}"


def _flatten_up_to(node: _Node, x: Any, out: list[Any]) -> None:
    t, aux, children = node
    if type(x) is not t:
        msg = f"expected {_describe_node_type(t)}, got {_describe_value(x)}"
        if t is _NoneType:
            msg += (
                " (None is a pytree node with no children, not a leaf; to treat it as "
                "a leaf, pass is_leaf=lambda x: x is None)"
            )
        raise _Mismatch(msg)
    if t is tuple or t is list:
        if len(x) != len(children):
            raise _Mismatch(
                f"expected a {t.__name__} of length {len(children)}, got length "
                f"{len(x)}: {_short_repr(x)}"
            )
        xs = x
    elif t is dict:
        keys = _sorted_keys(x)
        if keys != aux:
            raise _Mismatch(
                f"expected a dict with keys {list(aux)!r}, got keys {list(keys)!r}"
            )
        xs = [x[k] for k in keys]
    elif t is _NoneType:
        return
    else:
        handler = _node_type(t)
        assert handler is not None, t
        x_children, x_aux = handler.flatten(x)
        xs = list(x_children)
        if x_aux != aux:
            raise _Mismatch(
                f"expected {_describe_node_type(t)} with aux data "
                f"{_short_repr(aux)}, got aux data {_short_repr(x_aux)}"
            )
        if len(xs) != len(children):
            raise _Mismatch(
                f"expected {_describe_node_type(t)} with {len(children)} children, "
                f"got {len(xs)}"
            )
    for i, c in enumerate(children):
        if c is _LEAF:
            out.append(xs[i])
            continue
        try:
            _flatten_up_to(c, xs[i], out)
        except _Mismatch as e:
            e.path.append(_child_key(x, i))
            raise


def _child_key(x: Any, i: int) -> KeyEntry:
    handler = _node_type(type(x))
    assert handler is not None
    keyed, _ = handler.flatten_with_keys(x)
    return list(keyed)[i][0]


def _count(node: _Node) -> tuple[int, int]:
    """(num_leaves, num_nodes) of a node."""
    if node is _LEAF:
        return 1, 1
    leaves, nodes = 0, 1
    for c in node[2]:
        cl, cn = _count(c)
        leaves += cl
        nodes += cn
    return leaves, nodes


def _hash_key(node: _Node) -> Any:
    # Fallback hash key when some custom aux data is unhashable: that aux data is left
    # out (jax never hashes aux data); equality still compares it.
    if node is _LEAF:
        return None
    t, aux, children = node
    aux_key = aux if t is dict or t is collections.OrderedDict else None
    return (t, aux_key, tuple([_hash_key(c) for c in children]))


def _node_repr(node: _Node) -> str:
    if node is _LEAF:
        return "*"
    t, aux, children = node
    parts = [_node_repr(c) for c in children]
    if t is _NoneType:
        return "None"
    if t is tuple:
        return "(" + ", ".join(parts) + ("," if len(parts) == 1 else "") + ")"
    if t is list:
        return "[" + ", ".join(parts) + "]"
    if t is dict:
        return "{" + ", ".join(f"{k!r}: {p}" for k, p in zip(aux, parts)) + "}"
    if t not in _registry and _is_namedtuple_type(t):
        return f"CustomNode(namedtuple[{t.__name__}], [{', '.join(parts)}])"
    return f"CustomNode({t.__name__}[{aux}], [{', '.join(parts)}])"


def _compose(outer: _Node, inner: _Node) -> _Node:
    if outer is _LEAF:
        return inner
    t, aux, children = outer
    return (t, aux, tuple([_compose(c, inner) for c in children]))


def _from_iterable(node: _Node, xs: Any) -> Any:
    if node is _LEAF:
        return xs
    t, aux, children = node
    items = list(xs)
    if len(items) != len(children):
        raise ValueError(
            f"build_tree: {_describe_node_type(t)} node has {len(children)} children, "
            f"but the matching iterable has {len(items)} items: {_short_repr(items)}"
        )
    built = [_from_iterable(c, x) for c, x in zip(children, items)]
    return _unflatten((t, aux, (_LEAF,) * len(built)), iter(built))


# --------------------------------------------------------------------------------------
# Recipes: one treedef's flatten and unflatten, specialised once and reused per call
# (`jit`'s dispatch path sees the same argument and output structures on every call).
# Each node becomes one closure; a node whose children are all leaves moves them with
# one slice or `extend` instead of a call per leaf.


def _match_leaf(x: Any, out: list[Any]) -> bool:
    out.append(x)
    return True


def _match_none(x: Any, out: list[Any]) -> bool:
    return x is None


def _match_children(xs: Any, subs: tuple[Any, ...], out: list[Any]) -> bool:
    for c, m in zip(xs, subs):
        if m is None:
            out.append(c)
        elif not m(c, out):
            return False
    return True


def _values_getter(keys: tuple[Any, ...]) -> Callable[[dict[Any, Any]], Any]:
    """`d -> the values of `keys` in `d`, in order` (KeyError if one is missing)."""
    if len(keys) >= 2:
        return operator.itemgetter(*keys)
    if keys:
        key = keys[0]
        return lambda d: (d[key],)
    return lambda d: ()


def _make_matcher(node: _Node) -> Callable[[Any, list[Any]], bool]:
    if node is _LEAF:
        return _match_leaf
    t, aux, children = node
    if t is _NoneType:
        return _match_none
    n = len(children)
    subs = tuple([None if c is _LEAF else _make_matcher(c) for c in children])
    flat = all(m is None for m in subs)
    if t is dict:
        values = _values_getter(aux)

        def match_dict(x: Any, out: list[Any]) -> bool:
            # NOTE: as many keys, each of them found: the same key set, so the same
            # sorted keys as flatten's, without sorting.
            if type(x) is not dict or len(x) != n:
                return False
            try:
                xs = values(x)
            except KeyError:
                return False
            if flat:
                out += xs
                return True
            return _match_children(xs, subs, out)

        return match_dict
    if t is tuple or t is list or (t not in _registry and _is_namedtuple_type(t)):

        def match_sequence(x: Any, out: list[Any]) -> bool:
            if type(x) is not t or len(x) != n:
                return False
            if flat:
                out += x
                return True
            return _match_children(x, subs, out)

        return match_sequence
    flatten = _registry[t].flatten

    def match_node(x: Any, out: list[Any]) -> bool:
        if type(x) is not t:
            return False
        xs, x_aux = flatten(x)
        # NOTE: `is`, then `==`: how the treedefs' tuple comparison compares aux data.
        if x_aux is not aux and not x_aux == aux:
            return False
        xs = tuple(xs)
        if len(xs) != n:
            return False
        return _match_children(xs, subs, out)

    return match_node


def _make_builder(node: _Node, start: int) -> tuple[Callable[[list[Any]], Any], int]:
    """(`leaves -> the subtree of `node``, the index after its last leaf) for a node
    whose first leaf is `leaves[start]`."""
    if node is _LEAF:
        return operator.itemgetter(start), start + 1
    t, aux, children = node
    if t is _NoneType:
        return (lambda leaves: None), start
    parts, end = [], start
    for c in children:
        part, end = _make_builder(c, end)
        parts.append(part)
    flat = all(c is _LEAF for c in children)
    if t is list:
        if flat:
            return (lambda leaves: leaves[start:end]), end
        return (lambda leaves: [part(leaves) for part in parts]), end
    if t is tuple:
        if flat:
            return (lambda leaves: tuple(leaves[start:end])), end
        return (lambda leaves: tuple([part(leaves) for part in parts])), end
    if t is dict:
        if flat:
            return (lambda leaves: dict(zip(aux, leaves[start:end]))), end
        return (lambda leaves: dict(zip(aux, [part(leaves) for part in parts]))), end
    handler = _node_type(t)
    assert handler is not None, t
    unflatten = handler.unflatten
    if flat:
        return (lambda leaves: unflatten(aux, tuple(leaves[start:end]))), end
    return (lambda leaves: unflatten(aux, tuple([part(leaves) for part in parts]))), end


# --------------------------------------------------------------------------------------
# PyTreeDef


class PyTreeDef:
    """The structure of a pytree: its nodes and aux data, with the leaves removed.

    Hashable, compared by value, and picklable when its node types and aux data are.
    Build one with `tree_structure` or `tree_flatten`, not with the constructor.

    >>> from lamina.tree_util import tree_structure
    >>> treedef = tree_structure({'a': 1, 'b': (2, 3)})
    >>> treedef
    PyTreeDef({'a': *, 'b': (*, *)})
    >>> treedef.num_leaves, treedef.unflatten([4, 5, 6])
    (3, {'a': 4, 'b': (5, 6)})
    """

    __slots__ = ("_hash", "_num_leaves", "_num_nodes", "_root", "_recipes")

    def __init__(self, root: _Node, num_leaves: int | None = None) -> None:
        self._root = root
        self._num_leaves = num_leaves
        self._num_nodes: int | None = None
        self._hash: int | None = None
        # (registry epoch, matcher, builder), made on first use (`_matcher`/`_builder`)
        self._recipes: tuple[int, Any, Any] | None = None

    def _counts(self) -> None:
        self._num_leaves, self._num_nodes = _count(self._root)

    @property
    def num_leaves(self) -> int:
        """Number of leaves."""
        if self._num_leaves is None:
            self._counts()
        return self._num_leaves  # type: ignore[return-value]

    @property
    def num_nodes(self) -> int:
        """Number of nodes, leaves and `None`s included."""
        if self._num_nodes is None:
            self._counts()
        return self._num_nodes  # type: ignore[return-value]

    def children(self) -> list[PyTreeDef]:
        """Treedefs of the root's children (empty for a leaf)."""
        if self._root is _LEAF:
            return []
        return [PyTreeDef(c) for c in self._root[2]]

    def node_data(self) -> tuple[type, Any] | None:
        """`(node_type, aux_data)` of the root, or None for a leaf.

        As in jax, a dict's aux data is its sorted key list.
        """
        if self._root is _LEAF:
            return None
        t, aux, _ = self._root
        return (t, list(aux)) if t is dict else (t, aux)

    def unflatten(self, leaves: Iterable[Any]) -> Any:
        """Builds the pytree with this structure from `leaves` (in flatten order).

        Raises:
            ValueError: if the number of leaves is wrong.
        """
        leaves = leaves if type(leaves) is list else list(leaves)
        if len(leaves) != self.num_leaves:
            few = "few" if len(leaves) < self.num_leaves else "many"
            raise ValueError(
                f"tree_unflatten: too {few} leaves for {_short_repr(self, 200)}; "
                f"expected {self.num_leaves}, got {len(leaves)}."
            )
        if self._root is _LEAF:
            return leaves[0]
        return _unflatten(self._root, iter(leaves))

    def _recipe(self) -> tuple[int, Any, Any]:
        recipes = self._recipes
        if recipes is None or recipes[0] != _registry_epoch[0]:
            builder, _ = _make_builder(self._root, 0)
            recipes = self._recipes = (_registry_epoch[0], _make_matcher(self._root), builder)
        return recipes

    def _matcher(self) -> Callable[[Any, list[Any]], bool]:
        """`match(tree, out)`: whether `tree` has this structure, taking every leaf
        position as a leaf; if it does, its leaves (in flatten order) are appended to
        `out` (on False, `out` holds an unspecified part of them). Built once per
        treedef and registry epoch: for structures that recur (`jit` arguments).

        The values at leaf positions are not checked to be leaves; where they are (a
        caller that accepts only arrays and scalars there), `match` is True exactly when
        `tree_structure(tree) == self`. Errors of custom flatten functions or of aux
        data comparisons propagate.
        """
        return self._recipe()[1]

    def _builder(self) -> Callable[[list[Any]], Any]:
        """`build(leaves)`: `self.unflatten(leaves)` for a list of exactly
        `num_leaves` leaves (unchecked), built once per treedef and registry epoch."""
        return self._recipe()[2]

    def flatten_up_to(self, tree: PyTree) -> list[Any]:
        """Flattens `tree` only as deep as this structure; see `flatten_up_to`."""
        return _flatten_up_to_or_raise(self, tree, "flatten_up_to", "tree")

    def compose(self, inner: PyTreeDef) -> PyTreeDef:
        """The structure with every leaf of `self` replaced by `inner`."""
        return PyTreeDef(_compose(self._root, inner._root))

    def from_iterable_tree(self, xs: Any) -> Any:
        """Builds a pytree from nested iterables; see `build_tree`."""
        return _from_iterable(self._root, xs)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PyTreeDef):
            return NotImplemented
        return self is other or self._root == other._root

    def __ne__(self, other: object) -> bool:
        eq = self.__eq__(other)
        return eq if eq is NotImplemented else not eq

    def __hash__(self) -> int:
        if self._hash is None:
            # NOTE: hashing the node tuples directly runs in C, ~10x faster than the
            # Python walk of `_hash_key`; that walk is only needed for unhashable aux.
            try:
                self._hash = hash(self._root)
            except TypeError:
                self._hash = hash(_hash_key(self._root))
        return self._hash

    def __repr__(self) -> str:
        return f"PyTreeDef({_node_repr(self._root)})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (PyTreeDef, (self._root, self._num_leaves))


def _flatten_up_to_or_raise(
    treedef: PyTreeDef, tree: PyTree, func: str, arg: str
) -> list[Any]:
    root = treedef._root
    if root is _LEAF:
        return [tree]
    out: list[Any] = []
    try:
        _flatten_up_to(root, tree, out)
    except _Mismatch as e:
        where = arg + keystr(tuple(reversed(e.path)))
        raise ValueError(
            f"{func}: pytree structure mismatch at {where}: {e.msg}. The structure "
            f"{_short_repr(treedef, 200)} must be a prefix of {arg}'s structure."
        ) from None
    return out


# --------------------------------------------------------------------------------------
