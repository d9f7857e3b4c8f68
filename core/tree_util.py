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
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import operator
from collections.abc import Callable, Hashable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, TypeAlias, TypeVar

if TYPE_CHECKING:
    from typing_extensions import Self

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
Typ = TypeVar("Typ", bound=type)
_NoneType = type(None)


# --------------------------------------------------------------------------------------
# Key paths


@dataclasses.dataclass(frozen=True, slots=True)
class DictKey:
    """Path entry for a mapping child: `str(DictKey('a')) == "['a']"`."""

    key: Hashable

    def __str__(self) -> str:
        return f"[{self.key!r}]"


@dataclasses.dataclass(frozen=True, slots=True)
class SequenceKey:
    """Path entry for a tuple or list child: `str(SequenceKey(0)) == '[0]'`."""

    idx: int

    def __str__(self) -> str:
        return f"[{self.idx}]"


@dataclasses.dataclass(frozen=True, slots=True)
class GetAttrKey:
    """Path entry for an attribute child (namedtuple, dataclass): `'.name'`."""

    name: str

    def __str__(self) -> str:
        return f".{self.name}"


@dataclasses.dataclass(frozen=True, slots=True)
class FlattenedIndexKey:
    """Path entry for the i-th child of a node registered without key functions."""

    key: int

    def __str__(self) -> str:
        return f"[<flat index {self.key}>]"


KeyEntry: TypeAlias = Any
KeyPath: TypeAlias = tuple[KeyEntry, ...]


def keystr(keys: KeyPath, *, simple: bool = False, separator: str = "") -> str:
    """Renders a key path as a string.

    Args:
        keys: a tuple of key entries, as produced by `tree_flatten_with_path`.
        simple: render each entry as its bare key (`a`, `0`, `name`), which is compact
            but ambiguous, instead of its Python-access form (`['a']`, `[0]`, `.name`).
        separator: string placed between the rendered entries.

    Returns:
        The joined string.

    >>> keystr((DictKey('params'), DictKey('dense'), SequenceKey(0)))
    "['params']['dense'][0]"
    >>> keystr((DictKey('params'), GetAttrKey('w')), simple=True, separator='/')
    'params/w'
    """
    if not simple:
        return separator.join(map(str, keys))
    return separator.join(_simple_key_str(k) for k in keys)


def _simple_key_str(key: KeyEntry) -> str:
    if isinstance(key, (DictKey, FlattenedIndexKey)):
        return str(key.key)
    if isinstance(key, SequenceKey):
        return str(key.idx)
    if isinstance(key, GetAttrKey):
        return key.name
    return str(key)


# --------------------------------------------------------------------------------------
# Registry


class _NodeType:
    """How to take one node type apart and put it back together."""

    __slots__ = ("flatten", "flatten_with_keys", "unflatten")

    def __init__(
        self,
        flatten: Callable[[Any], tuple[Iterable[Any], Any]],
        unflatten: Callable[[Any, tuple[Any, ...]], Any],
        flatten_with_keys: Callable[[Any], tuple[Iterable[tuple[Any, Any]], Any]],
    ) -> None:
        self.flatten = flatten
        self.unflatten = unflatten
        self.flatten_with_keys = flatten_with_keys


_registry: dict[type, _NodeType] = {}
# Namedtuples are nodes without registration; their handlers are built on first sight.
_namedtuple_node_types: dict[type, _NodeType] = {}

# Types already seen to be leaves: one set lookup settles the commonest case (arrays)
# before the registry and namedtuple checks. Registration evicts; the cap bounds the
# memory held by classes created on the fly.
_leaf_types: set[type] = set()
_LEAF_TYPES_CAP = 1024


def _note_leaf_type(t: type) -> None:
    if len(_leaf_types) >= _LEAF_TYPES_CAP:
        _leaf_types.clear()
    _leaf_types.add(t)


def _is_namedtuple_type(t: type) -> bool:
    return issubclass(t, tuple) and hasattr(t, "_fields")


def _node_type(t: type) -> _NodeType | None:
    """The handler for `t`, or None when instances of `t` are leaves."""
    handler = _registry.get(t)
    if handler is None and _is_namedtuple_type(t):
        handler = _namedtuple_node_types.get(t)
        if handler is None:
            handler = _namedtuple_node_types[t] = _namedtuple_node(t)
    return handler


def _namedtuple_node(t: type) -> _NodeType:
    return _NodeType(
        lambda x: (x, None),
        lambda _, xs: t(*xs),
        lambda x: ([(GetAttrKey(f), c) for f, c in zip(t._fields, x)], None),
    )


def _register(nodetype: type, handler: _NodeType) -> None:
    if nodetype in _registry:
        raise ValueError(
            f"Duplicate pytree node registration for {nodetype!r}; a type can be "
            "registered only once."
        )
    _registry[nodetype] = handler
    _leaf_types.discard(nodetype)


def _index_keys(flatten: Callable[[Any], tuple[Iterable[Any], Any]]):
    def flatten_with_keys(x: Any) -> tuple[list[tuple[Any, Any]], Any]:
        children, aux = flatten(x)
        return [(FlattenedIndexKey(i), c) for i, c in enumerate(children)], aux

    return flatten_with_keys


def register_pytree_node(
    nodetype: type[T],
    flatten_func: Callable[[T], tuple[Iterable[Any], Hashable]],
    unflatten_func: Callable[[Hashable, tuple[Any, ...]], T],
    flatten_with_keys_func: Callable[
        [T], tuple[Iterable[tuple[KeyEntry, Any]], Hashable]
    ]
    | None = None,
) -> None:
    """Makes instances of `nodetype` pytree nodes instead of leaves.

    Args:
        nodetype: the class to register. Only exact instances match; subclasses stay
            leaves until registered themselves.
        flatten_func: `x -> (children, aux_data)`. `aux_data` is static, should be
            hashable, and is compared with `==` when treedefs are compared.
        unflatten_func: `(aux_data, children_tuple) -> x`.
        flatten_with_keys_func: optional `x -> (((key, child), ...), aux_data)` used by
            the `*_with_path` functions; without it, children are keyed
            `FlattenedIndexKey(i)`.

    Raises:
        ValueError: if `nodetype` is already registered.

    >>> class Pair:
    ...     def __init__(self, a, b):
    ...         self.a, self.b = a, b
    >>> register_pytree_node(
    ...     Pair, lambda p: ((p.a, p.b), None), lambda _, ab: Pair(*ab))
    >>> tree_leaves([Pair(1, 2), 3])
    [1, 2, 3]
    """
    if flatten_with_keys_func is None:
        flatten_with_keys_func = _index_keys(flatten_func)
    _register(nodetype, _NodeType(flatten_func, unflatten_func, flatten_with_keys_func))


def register_pytree_with_keys(
    nodetype: type[T],
    flatten_with_keys: Callable[[T], tuple[Iterable[tuple[KeyEntry, Any]], Hashable]],
    unflatten_func: Callable[[Hashable, tuple[Any, ...]], T],
    flatten_func: Callable[[T], tuple[Iterable[Any], Hashable]] | None = None,
) -> None:
    """Registers `nodetype` as a node whose children carry key-path entries.

    Args:
        nodetype: the class to register.
        flatten_with_keys: `x -> (((key, child), ...), aux_data)`.
        unflatten_func: `(aux_data, children_tuple) -> x`.
        flatten_func: optional faster `x -> (children, aux_data)` for plain
            flattening; derived from `flatten_with_keys` when omitted.

    Raises:
        ValueError: if `nodetype` is already registered.

    >>> class Box:
    ...     def __init__(self, v):
    ...         self.v = v
    >>> register_pytree_with_keys(
    ...     Box, lambda b: (((GetAttrKey('v'), b.v),), None), lambda _, c: Box(*c))
    >>> [keystr(p) for p, _ in tree_leaves_with_path({'x': Box(1)})]
    ["['x'].v"]
    """
    if flatten_func is None:

        def flatten_func(x: Any) -> tuple[list[Any], Any]:
            keyed, aux = flatten_with_keys(x)
            return [c for _, c in keyed], aux

    _register(nodetype, _NodeType(flatten_func, unflatten_func, flatten_with_keys))


def register_pytree_node_class(cls: Typ) -> Typ:
    """Class decorator: registers `cls` through its own flatten methods.

    The class defines `tree_flatten(self) -> (children, aux_data)` and a classmethod
    `tree_unflatten(cls, aux_data, children)`.

    >>> @register_pytree_node_class
    ... class Scaled:
    ...     def __init__(self, x, scale):
    ...         self.x, self.scale = x, scale
    ...     def tree_flatten(self):
    ...         return (self.x,), self.scale
    ...     @classmethod
    ...     def tree_unflatten(cls, scale, children):
    ...         return cls(children[0], scale)
    >>> tree_structure(Scaled(1.0, 2))
    PyTreeDef(CustomNode(Scaled[2], [*]))
    """
    register_pytree_node(cls, operator.methodcaller("tree_flatten"), cls.tree_unflatten)
    return cls


def register_pytree_with_keys_class(cls: Typ) -> Typ:
    """Class decorator like `register_pytree_node_class`, with key paths.

    The class defines `tree_flatten_with_keys(self)`, the classmethod
    `tree_unflatten`, and optionally `tree_flatten(self)` as a fast path.

    >>> @register_pytree_with_keys_class
    ... class Named:
    ...     def __init__(self, w):
    ...         self.w = w
    ...     def tree_flatten_with_keys(self):
    ...         return ((GetAttrKey('w'), self.w),), None
    ...     @classmethod
    ...     def tree_unflatten(cls, aux, children):
    ...         return cls(*children)
    >>> keystr(tree_leaves_with_path(Named(3))[0][0])
    '.w'
    """
    flatten = getattr(cls, "tree_flatten", None)
    register_pytree_with_keys(
        cls,
        operator.methodcaller("tree_flatten_with_keys"),
        cls.tree_unflatten,
        operator.methodcaller("tree_flatten") if flatten is not None else None,
    )
    return cls


def register_dataclass(
    nodetype: Typ,
    data_fields: Sequence[str] | None = None,
    meta_fields: Sequence[str] | None = None,
    drop_fields: Sequence[str] = (),
) -> Typ:
    """Registers a dataclass-like type whose fields split into data and metadata.

    Data fields are children (their leaves are traced by transformations). Meta fields
    are static: their values go into the treedef's aux data, so two instances whose
    meta fields differ have different structures. Meta values must be hashable.

    Args:
        nodetype: the class; unflattening calls `nodetype(**fields)`.
        data_fields: names of the child fields.
        meta_fields: names of the static fields.
        drop_fields: dataclass fields left out of the pytree (only when inferring).

    If both field lists are omitted, `nodetype` must be a dataclass: its `init=True`
    fields are meta when declared `field(metadata=dict(static=True))` and data
    otherwise. Fields declared `init=False` are left out, since `__init__` rebuilds
    them.

    Returns:
        `nodetype`, so this works as a decorator.

    Raises:
        TypeError: if only one field list is given, or none for a non-dataclass.
        ValueError: if the lists overlap, or miss or invent `init=True` fields.

    >>> @register_dataclass
    ... @dataclasses.dataclass
    ... class Layer:
    ...     w: float
    ...     act: str = dataclasses.field(default='relu', metadata=dict(static=True))
    >>> tree_flatten(Layer(0.5))
    ([0.5], PyTreeDef(CustomNode(Layer[('relu',)], [*])))
    """
    is_dc = dataclasses.is_dataclass(nodetype)
    if data_fields is None or meta_fields is None:
        if (data_fields is None) != (meta_fields is None):
            raise TypeError(
                "register_dataclass: give both data_fields and meta_fields, or neither "
                f"to infer them; got {data_fields=} and {meta_fields=}."
            )
        if not is_dc:
            raise TypeError(
                "register_dataclass: data_fields and meta_fields are required when "
                f"nodetype is not a dataclass; got {nodetype!r}."
            )
        fields = [
            f
            for f in dataclasses.fields(nodetype)
            if f.init and f.name not in drop_fields
        ]
        data_fields = [f.name for f in fields if not f.metadata.get("static", False)]
        meta_fields = [f.name for f in fields if f.metadata.get("static", False)]
    # Tuples, so later mutation of the caller's lists cannot change the registration.
    data = tuple(data_fields)
    meta = tuple(meta_fields)
    if overlap := set(data) & set(meta):
        raise ValueError(
            "register_dataclass: data_fields and meta_fields must not overlap; "
            f"both contain {sorted(overlap)}."
        )
    if is_dc:
        init_fields = {f.name for f in dataclasses.fields(nodetype) if f.init}
        init_fields.difference_update(drop_fields)
        given = set(data) | set(meta)
        if given != init_fields:
            msg = (
                f"register_dataclass({nodetype.__name__}): data_fields and meta_fields "
                "must list exactly the dataclass's init=True fields."
            )
            if missing := init_fields - given:
                msg += f" Missing: {sorted(missing)} (add them to drop_fields to skip)."
            if unexpected := given - init_fields:
                msg += f" Unexpected: {sorted(unexpected)}."
            raise ValueError(msg)

    def flatten(x: Any) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
        return (
            tuple([getattr(x, n) for n in data]),
            tuple([getattr(x, n) for n in meta]),
        )

    def flatten_with_keys(x: Any) -> tuple[list[tuple[Any, Any]], tuple[Any, ...]]:
        return (
            [(GetAttrKey(n), getattr(x, n)) for n in data],
            tuple([getattr(x, n) for n in meta]),
        )

    def unflatten(meta_values: tuple[Any, ...], children: tuple[Any, ...]) -> Any:
        return nodetype(**dict(zip(meta, meta_values)), **dict(zip(data, children)))

    _register(nodetype, _NodeType(flatten, unflatten, flatten_with_keys))
    return nodetype


def register_static(cls: type[T]) -> type[T]:
    """Registers `cls` as a node with no children: the instance itself is aux data.

    Transformations then treat instances as static (part of the cache key) rather
    than as traced leaves, so `cls` must be hashable.

    Raises:
        TypeError: if `cls` is unhashable (`__hash__ = None`).
        ValueError: if `cls` is already registered.

    >>> @register_static
    ... class Mode(str):
    ...     pass
    >>> tree_flatten([Mode('train'), 1.0])
    ([1.0], PyTreeDef([CustomNode(Mode[train], []), *]))
    """
    if getattr(cls, "__hash__", None) is None:
        raise TypeError(
            f"register_static: {cls.__name__} is unhashable; static values become part "
            "of cache keys, so define __hash__ and __eq__."
        )
    register_pytree_with_keys(cls, lambda x: ((), x), lambda aux, _: aux)
    return cls


def is_tree_node(typ: type) -> bool:
    """Whether instances of `typ` are pytree nodes (registered or namedtuple).

    >>> is_tree_node(dict), is_tree_node(int)
    (True, False)
    """
    return _node_type(typ) is not None


def flatten_one_level(tree: PyTree) -> tuple[Iterable[Any], Hashable]:
    """Returns `(children, aux_data)` of a node, without recursing.

    Raises:
        ValueError: if `tree` is a leaf.

    >>> flatten_one_level({'b': [1], 'a': 2})
    ([2, [1]], ('a', 'b'))
    """
    handler = _node_type(type(tree))
    if handler is None:
        raise ValueError(
            f"flatten_one_level: {type(tree)} is a leaf, not a pytree node."
        )
    return handler.flatten(tree)


def _sorted_keys(d: dict[Any, Any]) -> tuple[Any, ...]:
    try:
        return tuple(sorted(d))
    except TypeError as e:
        raise ValueError(
            "pytree dict keys must be mutually orderable, because a dict's children "
            f"are ordered by sorted key; got keys {list(d)!r} ({e})."
        ) from e


def _flatten_dict(d: dict[Any, Any]) -> tuple[list[Any], tuple[Any, ...]]:
    keys = _sorted_keys(d)
    return [d[k] for k in keys], keys


def _flatten_dict_with_keys(d: dict[Any, Any]) -> tuple[list, tuple[Any, ...]]:
    keys = _sorted_keys(d)
    return [(DictKey(k), d[k]) for k in keys], keys


def _flatten_defaultdict(d: collections.defaultdict) -> tuple[list[Any], Any]:
    keys = _sorted_keys(d)
    return [d[k] for k in keys], (d.default_factory, keys)


def _flatten_defaultdict_with_keys(d: collections.defaultdict) -> tuple[list, Any]:
    keys = _sorted_keys(d)
    return [(DictKey(k), d[k]) for k in keys], (d.default_factory, keys)


def _sequence_keys(xs: Sequence[Any]) -> tuple[list[tuple[Any, Any]], None]:
    return [(SequenceKey(i), c) for i, c in enumerate(xs)], None


register_pytree_node(
    tuple, lambda x: (x, None), lambda _, xs: tuple(xs), _sequence_keys
)
register_pytree_node(list, lambda x: (x, None), lambda _, xs: list(xs), _sequence_keys)
register_pytree_node(
    dict,
    _flatten_dict,
    lambda keys, xs: dict(zip(keys, xs)),
    _flatten_dict_with_keys,
)
register_pytree_node(
    _NoneType, lambda _: ((), None), lambda _, __: None, lambda _: ((), None)
)
register_pytree_node(
    collections.OrderedDict,
    lambda d: (list(d.values()), tuple(d)),
    lambda keys, xs: collections.OrderedDict(zip(keys, xs)),
    lambda d: ([(DictKey(k), v) for k, v in d.items()], tuple(d)),
)
register_pytree_node(
    collections.defaultdict,
    _flatten_defaultdict,
    lambda aux, xs: collections.defaultdict(aux[0], zip(aux[1], xs)),
    _flatten_defaultdict_with_keys,
)


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
# PyTreeDef


class PyTreeDef:
    """The structure of a pytree: its nodes and aux data, with the leaves removed.

    Hashable, compared by value, and picklable when its node types and aux data are.
    Build one with `tree_structure` or `tree_flatten`, not with the constructor.

    >>> treedef = tree_structure({'a': 1, 'b': (2, 3)})
    >>> treedef
    PyTreeDef({'a': *, 'b': (*, *)})
    >>> treedef.num_leaves, treedef.unflatten([4, 5, 6])
    (3, {'a': 4, 'b': (5, 6)})
    """

    __slots__ = ("_hash", "_num_leaves", "_num_nodes", "_root")

    def __init__(self, root: _Node, num_leaves: int | None = None) -> None:
        self._root = root
        self._num_leaves = num_leaves
        self._num_nodes: int | None = None
        self._hash: int | None = None

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
