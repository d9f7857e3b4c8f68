"""The pytree node registry and key paths behind `lamina.tree_util` (private; import the
public names from `lamina.tree_util`).

Holds the key entries (DictKey, SequenceKey, GetAttrKey, FlattenedIndexKey, keystr), the
registry of node types with its `register_*` functions, `is_tree_node`,
`flatten_one_level` and the built-in node handlers (tuple, list, dict, None,
namedtuples, OrderedDict, defaultdict). Separate from the traversals (`_tree_def`)
because registration is its own concern: everything else only looks node types up.
"""

from __future__ import annotations

import collections
import dataclasses
import operator
from collections.abc import Callable, Hashable, Iterable, Sequence
from typing import Any, TypeAlias, TypeVar


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

# Bumped by every registration: what was decided about a type before (node or leaf, and
# how to take it apart) may have changed. Caches built from treedefs (`PyTreeDef`'s
# flatten/unflatten recipes, `jit`'s dispatch tables) hold the epoch they were built in.
_registry_epoch = [0]


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
    _registry_epoch[0] += 1


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

    >>> from lamina.tree_util import tree_leaves
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

    >>> from lamina.tree_util import tree_leaves_with_path
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
    >>> from lamina.tree_util import tree_structure
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
    >>> from lamina.tree_util import tree_leaves_with_path
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
    >>> from lamina.tree_util import tree_flatten
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
    >>> from lamina.tree_util import tree_flatten
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
