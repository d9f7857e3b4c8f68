"""Tests for lamina.tree_util, with jax.tree_util as the oracle.

jax is imported here only, as a reference; lamina itself never imports it.
"""

import collections
import dataclasses
import doctest
import functools
import pickle

import jax.tree_util as jtu
import lamina.tree_util as tu
import numpy as np
import pytest
from jax._src import tree_util as jtu_private

# --- node types, registered identically with both libraries -------------------------

Point = collections.namedtuple("Point", ["x", "y"])


class Foo:
    """Custom node with aux data `name`, registered without keys."""

    def __init__(self, a, b, name="foo"):
        self.a, self.b, self.name = a, b, name

    def __repr__(self):
        return f"Foo({self.a!r}, {self.b!r}, {self.name!r})"


def _foo_flatten(f):
    return (f.a, f.b), f.name


def _foo_unflatten(name, children):
    return Foo(*children, name=name)


class Keyed:
    """Custom node registered with key paths."""

    def __init__(self, w, b):
        self.w, self.b = w, b


def _keyed_flatten_with_keys(k):
    return ((jtu.GetAttrKey("w"), k.w), (jtu.GetAttrKey("b"), k.b)), None


def _keyed_flatten_with_lamina_keys(k):
    return ((tu.GetAttrKey("w"), k.w), (tu.GetAttrKey("b"), k.b)), None


def _keyed_unflatten(_, children):
    return Keyed(*children)


@tu.register_pytree_node_class
@jtu.register_pytree_node_class
class Scaled:
    def __init__(self, x, scale):
        self.x, self.scale = x, scale

    def tree_flatten(self):
        return (self.x,), self.scale

    @classmethod
    def tree_unflatten(cls, scale, children):
        return cls(children[0], scale)


@tu.register_dataclass
@jtu.register_dataclass
@dataclasses.dataclass
class Layer:
    w: object
    b: object
    act: str = dataclasses.field(default="relu", metadata={"static": True})


@tu.register_static
@jtu.register_static
class Mode(str):
    pass


def _add3(a, b, c=0):
    return a + b + c


for _reg, _keyed_fn in (
    (jtu.register_pytree_with_keys, _keyed_flatten_with_keys),
    (tu.register_pytree_with_keys, _keyed_flatten_with_lamina_keys),
):
    _reg(Keyed, _keyed_fn, _keyed_unflatten)
jtu.register_pytree_node(Foo, _foo_flatten, _foo_unflatten)
tu.register_pytree_node(Foo, _foo_flatten, _foo_unflatten)

_ARR = np.arange(3.0)

# Trees whose flatten/structure/paths must agree with jax. Built by a function so that
# each lamina/jax call gets the same objects (leaves are compared by identity).
TREES = {
    "leaf": 1,
    "array": _ARR,
    "none": None,
    "empty_tuple": (),
    "empty_list": [],
    "empty_dict": {},
    "one_tuple": (1,),
    "list_with_none": [1, None, 2],
    "dict_sorted": {"b": 1, "a": (2, 3)},
    "nested": {"params": {"dense": [_ARR, (3,)], "ln": {"scale": 1.0}}, "n": None},
    "numeric_keys": {2: "x", 1.5: "y", -1: "z"},
    "tuple_keys": {(2, "a"): 1, (1, "b"): 2},
    "namedtuple": Point(1, (2, 3)),
    "namedtuple_nested": [Point(1, 2), {"z": Point(3, None)}],
    "ordereddict": collections.OrderedDict([("b", 1), ("a", [2, 3])]),
    "defaultdict": collections.defaultdict(list, {"b": 1, "a": 2}),
    "custom": Foo(1, (2, 3), "bar"),
    "custom_keyed": {"k": Keyed(1, [2])},
    "node_class": [Scaled(1.0, 2), Scaled((3, 4), "s")],
    "dataclass": Layer(w=1.0, b=[2.0], act="tanh"),
    "static": [Mode("train"), 4],
    "partial": tu.Partial(_add3, 1, c=3),
    "list_subclass_is_leaf": [collections.UserList([1]), type("L", (list,), {})([2])],
}


def _jax_tree(tree):
    # The lamina Partial is a lamina node; give jax its own Partial with the same args.
    if isinstance(tree, tu.Partial):
        return jtu.Partial(tree.func, *tree.args, **tree.keywords)
    return tree


@pytest.fixture(params=sorted(TREES), ids=str)
def tree(request):
    return TREES[request.param]


# --- flatten / unflatten / structure -------------------------------------------------


def test_flatten_matches_jax(tree):
    leaves, treedef = tu.tree_flatten(tree)
    jleaves, jtreedef = jtu.tree_flatten(_jax_tree(tree))
    assert len(leaves) == len(jleaves)
    assert all(a is b for a, b in zip(leaves, jleaves))
    assert repr(treedef) == repr(jtreedef)
    assert treedef.num_leaves == jtreedef.num_leaves
    assert treedef.num_nodes == jtreedef.num_nodes
    assert tu.tree_leaves(tree) == leaves
    assert tu.tree_structure(tree) == treedef
    assert tu.treedef_is_leaf(treedef) == jtu.treedef_is_leaf(jtreedef)


def test_unflatten_round_trip(tree):
    leaves, treedef = tu.tree_flatten(tree)
    rebuilt = tu.tree_unflatten(treedef, leaves)
    assert type(rebuilt) is type(tree)
    leaves2, treedef2 = tu.tree_flatten(rebuilt)
    assert treedef2 == treedef
    assert all(a is b for a, b in zip(leaves2, leaves))
    # Any iterable of leaves is accepted, as in jax.
    assert tu.tree_structure(treedef.unflatten(iter(leaves))) == treedef


def test_children_and_node_data_match_jax(tree):
    treedef = tu.tree_structure(tree)
    jtreedef = jtu.tree_structure(_jax_tree(tree))
    assert [repr(c) for c in tu.treedef_children(treedef)] == [
        repr(c) for c in jtu.treedef_children(jtreedef)
    ]
    data, jdata = treedef.node_data(), jtreedef.node_data()
    if isinstance(tree, tu.Partial):  # same aux, each library's own Partial type
        assert (data[0], data[1]) == (tu.Partial, jdata[1])
    else:
        assert data == jdata


def test_paths_match_jax(tree):
    pairs, treedef = tu.tree_flatten_with_path(tree)
    jpairs, _ = jtu.tree_flatten_with_path(_jax_tree(tree))
    assert [tu.keystr(p) for p, _ in pairs] == [jtu.keystr(p) for p, _ in jpairs]
    assert [repr(p) for p, _ in pairs] == [repr(p) for p, _ in jpairs]
    assert all(a is b for (_, a), (_, b) in zip(pairs, jpairs))
    assert treedef == tu.tree_structure(tree)
    assert tu.tree_leaves_with_path(tree) == pairs


def test_pytreedef_repr_examples():
    treedef = tu.tree_structure({"a": 1, "b": (2, 3), "c": [None, Point(1, 2)]})
    assert repr(treedef) == (
        "PyTreeDef({'a': *, 'b': (*, *), 'c': [None, CustomNode(namedtuple[Point], "
        "[*, *])]})"
    )
    assert str(tu.tree_structure((1,))) == "PyTreeDef((*,))"
    assert repr(tu.tree_structure(1)) == "PyTreeDef(*)"


def test_dict_children_sorted_and_unflatten_sorted():
    leaves, treedef = tu.tree_flatten({"b": 1, "a": 2, "c": 0})
    assert leaves == [2, 1, 0]
    assert list(treedef.unflatten(leaves)) == ["a", "b", "c"]  # as jax
    assert tu.tree_structure({"b": 1, "a": 2}) == tu.tree_structure({"a": 0, "b": 0})


def test_unsortable_dict_keys_raise_value_error_like_jax():
    tree = {1: "a", "b": 2}
    with pytest.raises(ValueError):
        jtu.tree_flatten(tree)
    with pytest.raises(ValueError, match="mutually orderable"):
        tu.tree_flatten(tree)
    with pytest.raises(ValueError, match="mutually orderable"):
        tu.tree_leaves(tree)


def test_is_leaf_matches_jax():
    tree = [(1, 2), {"a": (3,), "b": None}, Point(4, 5)]
    for pred in (
        lambda x: isinstance(x, tuple),
        lambda x: x is None,
        lambda x: isinstance(x, list),
        lambda x: isinstance(x, Point),
    ):
        leaves, treedef = tu.tree_flatten(tree, is_leaf=pred)
        jleaves, jtreedef = jtu.tree_flatten(tree, is_leaf=pred)
        assert leaves == jleaves
        assert repr(treedef) == repr(jtreedef)
        assert tu.tree_leaves(tree, is_leaf=pred) == jleaves
        jpaths = [jtu.keystr(p) for p, _ in jtu.tree_leaves_with_path(tree, pred)]
        assert [tu.keystr(p) for p, _ in tu.tree_leaves_with_path(tree, pred)] == jpaths
    # A predicate-built treedef equals the plain one when nothing is cut off.
    assert tu.tree_structure(tree, lambda x: False) == tu.tree_structure(tree)


def test_is_leaf_takes_path_matches_jax():
    tree = {"a": [1, 2], "b": {"c": 3}}
    pred = lambda path, x: len(path) == 1
    got = tu.tree_leaves_with_path(tree, pred, is_leaf_takes_path=True)
    want = jtu.tree_leaves_with_path(tree, pred, is_leaf_takes_path=True)
    assert [(tu.keystr(p), x) for p, x in got] == [(jtu.keystr(p), x) for p, x in want]


def test_none_is_a_childless_node():
    assert tu.tree_leaves([None, 1]) == [1]
    leaves, treedef = tu.tree_flatten(None)
    assert leaves == [] and repr(treedef) == "PyTreeDef(None)"
    assert (treedef.num_leaves, treedef.num_nodes) == (0, 1)
    assert tu.treedef_is_leaf(treedef)  # jax: a single node counts as a leaf
    assert treedef.unflatten([]) is None
    assert tu.tree_map(lambda x: x + 1, [None, 1]) == [None, 2]
    assert tu.tree_map(lambda x, y: (x, y), [1, None], [2, None]) == [(1, 2), None]
    assert tu.tree_leaves([None], is_leaf=lambda x: x is None) == [None]


def test_subclasses_of_builtin_containers_are_leaves():
    class MyDict(dict):
        pass

    tree = [MyDict(a=1), collections.UserDict(b=2)]
    assert tu.tree_leaves(tree) == jtu.tree_leaves(tree) == tree


def test_registering_a_seen_leaf_type_makes_it_a_node():
    class Late:
        def __init__(self, v):
            self.v = v

    x = Late(5)
    assert tu.tree_leaves([x]) == [x]  # Late is now in the leaf-type cache
    assert tu.tree_flatten([x])[0] == [x]
    tu.register_pytree_node(Late, lambda o: ((o.v,), None), lambda _, c: Late(*c))
    assert tu.tree_leaves([x]) == [5]
    assert tu.tree_flatten([x])[0] == [5]


# --- unflatten errors ---------------------------------------------------------------


@pytest.mark.parametrize(
    "leaves, word", [([1], "too few"), ([1, 2, 3], "too many")], ids=["few", "many"]
)
def test_unflatten_wrong_leaf_count(leaves, word):
    treedef = tu.tree_structure((0, 0))
    with pytest.raises(ValueError):
        jtu.tree_structure((0, 0)).unflatten(leaves)
    with pytest.raises(
        ValueError, match=f"{word} leaves.*expected 2, got {len(leaves)}"
    ):
        tu.tree_unflatten(treedef, leaves)


def test_unflatten_swapped_arguments_is_type_error():
    with pytest.raises(TypeError, match="PyTreeDef"):
        tu.tree_unflatten([1], tu.tree_structure([0]))


# --- tree_map -----------------------------------------------------------------------


def test_tree_map_matches_jax():
    t1 = {"a": [1, 2], "b": (3, Point(4, 5)), "n": None}
    t2 = {"a": [10, 20], "b": (30, Point(40, 50)), "n": None}
    f = lambda x, y: x * 100 + y
    assert tu.tree_map(f, t1, t2) == jtu.tree_map(f, t1, t2)
    assert tu.tree_map(lambda x: -x, t1) == jtu.tree_map(lambda x: -x, t1)
    f3 = lambda x, y, z: (x, y, z)
    assert tu.tree_map(f3, t1, t2, t1) == jtu.tree_map(f3, t1, t2, t1)


def test_tree_map_rest_may_be_deeper():
    f = lambda x, y: (x, y)
    tree, rest = [1, 2], [(3, 4), {"k": 5}]
    assert tu.tree_map(f, tree, rest) == jtu.tree_map(f, tree, rest)
    # A leaf of `tree` takes None from `rest` as a value.
    assert tu.tree_map(f, [1, 2], [None, 5]) == [(1, None), (2, 5)]


def test_tree_map_is_leaf_applies_to_first_tree():
    f = lambda x, y: (x, y)
    tree, rest = [(1, 2), 3], [4, 5]
    pred = lambda x: isinstance(x, tuple)
    assert tu.tree_map(f, tree, rest, is_leaf=pred) == jtu.tree_map(
        f, tree, rest, is_leaf=pred
    )


@pytest.mark.parametrize(
    "tree, rest, where, what",
    [
        ((1, 2), (1, 2, 3), r"rest\[0\]:", "tuple of length 2, got length 3"),
        ({"a": 1, "b": 2}, {"a": 1, "c": 2}, r"rest\[0\]:", "keys \\['a', 'b'\\]"),
        ([None, 2], [1, 5], r"rest\[0\]\[0\]:", "expected None, got int 1"),
        ({"a": (1, 2)}, {"a": [1, 2]}, r"rest\[0\]\['a'\]:", "a tuple, got list"),
        ([Point(1, 2)], [(1, 2)], r"rest\[0\]\[0\]:", "a namedtuple Point"),
        ({"a": 1}, collections.OrderedDict(a=1), r"rest\[0\]:", "a dict, got Ordered"),
        (
            {"f": Foo(1, [2], "x")},
            {"f": Foo(1, [2], "y")},
            r"rest\[0\]\['f'\]:",
            "Foo node with aux data 'x', got aux data 'y'",
        ),
        (
            {"f": Foo(1, [2])},
            {"f": Foo(1, [2, 3])},
            r"rest\[0\]\['f'\]\[<flat index 1>\]:",
            "list of length 1",
        ),
        (
            [Layer(1, 2, "relu")],
            [Layer(1, 2, "tanh")],
            r"rest\[0\]\[0\]:",
            "aux data \\('relu',\\)",
        ),
        (
            {"p": Point(1, (2, 3))},
            {"p": Point(1, (2,))},
            r"rest\[0\]\['p'\]\.y:",
            "length 2, got length 1",
        ),
    ],
    ids=[
        "arity",
        "dict_keys",
        "none_vs_leaf",
        "tuple_vs_list",
        "namedtuple_vs_tuple",
        "dict_vs_ordereddict",
        "custom_aux",
        "custom_child",
        "dataclass_meta",
        "namedtuple_path",
    ],
)
def test_tree_map_mismatch_names_path(tree, rest, where, what):
    f = lambda *xs: xs
    with pytest.raises(ValueError):
        jtu.tree_map(f, tree, rest)
    with pytest.raises(ValueError, match=f"tree_map: .*mismatch at {where}.*{what}"):
        tu.tree_map(f, tree, rest)


def test_tree_map_mismatch_names_which_rest_tree():
    with pytest.raises(ValueError, match=r"rest\[1\]\[1\]: expected a list"):
        tu.tree_map(lambda *xs: xs, [1, [2]], [1, [2]], [1, (2,)])


def test_tree_map_with_path_matches_jax():
    t1 = {"a": [1, 2], "b": Point(3, 4)}
    t2 = {"a": [5, 6], "b": Point(7, 8)}
    f = lambda p, x, y: (tu.keystr(p), x + y)
    jf = lambda p, x, y: (jtu.keystr(p), x + y)
    assert tu.tree_map_with_path(f, t1, t2) == jtu.tree_map_with_path(jf, t1, t2)
    with pytest.raises(ValueError, match=r"tree_map_with_path: .*rest\[0\]\['a'\]"):
        tu.tree_map_with_path(f, t1, {"a": (5, 6), "b": Point(7, 8)})


# --- keys ---------------------------------------------------------------------------


def test_key_classes_match_jax():
    pairs = [
        (tu.DictKey("a"), jtu.DictKey("a")),
        (tu.DictKey(3), jtu.DictKey(3)),
        (tu.SequenceKey(0), jtu.SequenceKey(0)),
        (tu.GetAttrKey("w"), jtu.GetAttrKey("w")),
        (tu.FlattenedIndexKey(1), jtu.FlattenedIndexKey(1)),
    ]
    for ours, theirs in pairs:
        assert str(ours) == str(theirs)
        assert repr(ours) == repr(theirs)
    assert tu.DictKey("a") == tu.DictKey("a")
    assert hash(tu.DictKey("a")) == hash(tu.DictKey("a"))
    assert tu.SequenceKey(0) != tu.FlattenedIndexKey(0)
    assert pickle.loads(pickle.dumps(tu.DictKey("a"))) == tu.DictKey("a")


def test_keystr_matches_jax():
    tree = {"params": {"dense": [1, (2,)], "ln": Point(3, 4)}}
    paths = [p for p, _ in tu.tree_leaves_with_path(tree)]
    jpaths = [p for p, _ in jtu.tree_leaves_with_path(tree)]
    assert tu.keystr(paths[0]) == "['params']['dense'][0]"
    for kwargs in ({}, {"simple": True, "separator": "/"}, {"separator": "|"}):
        assert [tu.keystr(p, **kwargs) for p in paths] == [
            jtu.keystr(p, **kwargs) for p in jpaths
        ]
    assert tu.keystr(("a", 1)) == jtu.keystr(("a", 1)) == "a1"


# --- treedef equality, hashing, pickling --------------------------------------------


def test_treedef_equality_and_hash():
    s = tu.tree_structure
    assert s({"a": 1, "b": (2, 3)}) == s({"b": (0, 0), "a": 9})
    assert hash(s({"a": 1, "b": (2, 3)})) == hash(s({"b": (0, 0), "a": 9}))
    unequal = [
        ({"a": 1}, {"b": 1}),
        ((1, 2), [1, 2]),
        ((1, 2), Point(1, 2)),
        ({"a": 1}, collections.OrderedDict(a=1)),
        (collections.OrderedDict(a=1, b=2), collections.OrderedDict(b=2, a=1)),
        (collections.defaultdict(list, a=1), collections.defaultdict(dict, a=1)),
        (Foo(1, 2, "x"), Foo(1, 2, "y")),
        (Layer(1, 2, "relu"), Layer(1, 2, "tanh")),
        (Mode("a"), Mode("b")),
        ([None], [1]),
        (None, ()),
    ]
    for a, b in unequal:
        assert s(a) != s(b), (a, b)
        assert (s(a) == s(b)) == (jtu.tree_structure(a) == jtu.tree_structure(b))
    assert s(Layer(1, [2], "relu")) == s(Layer(3, [4], "relu"))
    assert s(tu.Partial(_add3, 1)) == s(tu.Partial(_add3, 2))
    assert len({s([1, 2]), s([3, 4]), s((1, 2))}) == 2
    assert s(1) != "PyTreeDef(*)"


def test_treedef_hash_with_unhashable_aux():
    @dataclasses.dataclass
    class Holder:
        x: object
        meta: list = dataclasses.field(default_factory=list, metadata={"static": True})

    tu.register_dataclass(Holder)
    a, b = tu.tree_structure(Holder(1, [1])), tu.tree_structure(Holder(2, [1]))
    assert a == b and hash(a) == hash(b)
    assert a != tu.tree_structure(Holder(1, [2]))


def test_treedef_pickle():
    tree = {"a": (1, [2, None]), "p": Point(3, 4), "o": collections.OrderedDict(z=5)}
    treedef = tu.tree_structure(tree)
    again = pickle.loads(pickle.dumps(treedef))
    assert again == treedef and hash(again) == hash(treedef)
    assert again.unflatten(tu.tree_leaves(tree)) == tree


def test_compose_and_treedef_tuple_match_jax():
    outer, inner = tu.tree_structure([0, 0]), tu.tree_structure({"a": 0, "b": (0,)})
    jouter, jinner = jtu.tree_structure([0, 0]), jtu.tree_structure({"a": 0, "b": (0,)})
    assert repr(outer.compose(inner)) == repr(jouter.compose(jinner))
    assert repr(tu.treedef_tuple([outer, inner])) == repr(
        jtu.treedef_tuple([jouter, jinner])
    )


# --- flatten_up_to / broadcast_prefix / build_tree ----------------------------------


def test_flatten_up_to_matches_jax():
    prefix = [0, (0, 0), {"k": 0}]
    full = [[1, 2], ({"a": 3}, None), {"k": Point(4, 5)}]
    got = tu.flatten_up_to(tu.tree_structure(prefix), full)
    assert got == jtu.tree_structure(prefix).flatten_up_to(full)
    assert tu.tree_structure(prefix).flatten_up_to(full) == got
    assert tu.flatten_up_to(tu.tree_structure(1), full) == [full]
    with pytest.raises(ValueError, match=r"tree\[1\]: expected a tuple of length 2"):
        tu.flatten_up_to(tu.tree_structure(prefix), [1, (2, 3, 4), {"k": 5}])


@pytest.mark.parametrize(
    "prefix, full, is_leaf",
    [
        ((1, None, 2), ((3, 4), None, [6, [7]]), None),
        ((1, None), ((3, 4), {"a": 5}), lambda x: x is None),
        (0, {"a": [1, 2], "b": 3}, None),
        ({"a": 0, "b": 1}, {"a": [5, 6], "b": None}, None),
    ],
)
def test_broadcast_prefix_matches_jax(prefix, full, is_leaf):
    want = jtu_private.broadcast_prefix(prefix, full, is_leaf=is_leaf)
    assert tu.broadcast_prefix(prefix, full, is_leaf=is_leaf) == want
    assert tu.tree_broadcast(prefix, full, is_leaf) == jtu.tree_broadcast(
        prefix, full, is_leaf
    )


def test_broadcast_prefix_mismatch_names_path():
    with pytest.raises(
        ValueError, match=r"broadcast_prefix: .*full_tree\[1\]: expected"
    ):
        tu.broadcast_prefix((1, None), ((3, 4), {"a": 5}))


def test_build_tree_matches_jax_from_iterable_tree():
    treedef = tu.tree_structure({"a": (1, 2), "b": [3], "n": None})
    jtreedef = jtu.tree_structure({"a": (1, 2), "b": [3], "n": None})
    for xs in ([[5, 6], [8], []], [((5, 6), 7), [8], ()]):
        assert tu.build_tree(treedef, xs) == jtreedef.from_iterable_tree(xs)
    assert tu.build_tree(tu.tree_structure(1), "x") == "x"
    with pytest.raises(ValueError, match="3 items"):
        tu.build_tree(treedef, [[5, 6, 7], [8], []])


# --- reductions ---------------------------------------------------------------------


def test_tree_reduce_and_tree_all():
    add = lambda a, b: a + b
    tree = {"x": 1, "y": [2, 3], "n": None}
    assert tu.tree_reduce(add, tree) == jtu.tree_reduce(add, tree) == 6
    assert tu.tree_reduce(add, tree, 10) == 16
    assert tu.tree_reduce(add, [], None) is None  # None is a real initializer
    with pytest.raises(TypeError):
        tu.tree_reduce(add, [])
    nested = [(1, 2), (3,)]
    pred = lambda x: isinstance(x, tuple)
    assert tu.tree_reduce(add, nested, (), is_leaf=pred) == (1, 2, 3)
    for t in ([True, {"a": 1}], [True, 0], [], [None]):
        assert tu.tree_all(t) == jtu.tree_all(t)


def test_all_leaves_matches_jax():
    cases = [[1, 2.0], [1, None], [[1]], [Point(1, 2)], [_ARR, "s"], [(1,), 2]]
    for items in cases:
        assert tu.all_leaves(items) == jtu.all_leaves(items), items
    pred = lambda x: isinstance(x, tuple)
    for items in ([1, (2,)], [[1], (2,)]):
        assert tu.all_leaves(items, pred) == jtu.all_leaves(items, pred)


def test_tree_transpose_matches_jax():
    outer, inner = tu.tree_structure([0, 0]), tu.tree_structure((0, 0, 0))
    jouter, jinner = jtu.tree_structure([0, 0]), jtu.tree_structure((0, 0, 0))
    tree = [(1, 2, 3), (4, 5, 6)]
    want = jtu.tree_transpose(jouter, jinner, tree)
    assert tu.tree_transpose(outer, inner, tree) == want == ([1, 4], [2, 5], [3, 6])
    assert tu.tree_transpose(outer, None, tree) == want
    d_outer, d_inner = tu.tree_structure({"a": 0, "b": 0}), tu.tree_structure([0, 0])
    assert tu.tree_transpose(d_outer, d_inner, {"a": [1, 2], "b": [3, 4]}) == [
        {"a": 1, "b": 3},
        {"a": 2, "b": 4},
    ]
    bad_inner = tu.tree_structure((0, 0))
    with pytest.raises(TypeError, match="tree_transpose"):
        tu.tree_transpose(outer, bad_inner, tree)


# --- registration -------------------------------------------------------------------


def test_duplicate_registration_raises():
    for cls in (Foo, dict, tuple, type(None), Layer, Mode, Scaled, tu.Partial):
        with pytest.raises(ValueError, match="Duplicate"):
            tu.register_pytree_node(cls, lambda x: ((), None), lambda a, c: None)


def test_custom_node_unflatten_gets_tuple_children():
    seen = []

    class Rec:
        def __init__(self, *xs):
            self.xs = xs

    tu.register_pytree_node(
        Rec, lambda r: (list(r.xs), None), lambda _, c: seen.append(c) or Rec(*c)
    )
    tu.tree_map(lambda x: x, Rec(1, 2))
    assert seen == [(1, 2)]


def test_register_dataclass_static_fields():
    layer = Layer(w=_ARR, b=[1.0], act="gelu")
    leaves, treedef = tu.tree_flatten(layer)
    assert leaves[0] is _ARR and leaves[1:] == [1.0]
    assert repr(treedef) == repr(jtu.tree_structure(layer))
    assert treedef.node_data() == (Layer, ("gelu",))
    back = treedef.unflatten([1, 2])
    assert (back.w, back.b, back.act) == (1, [2], "gelu")
    assert [tu.keystr(p) for p, _ in tu.tree_leaves_with_path(layer)] == [
        ".w",
        ".b[0]",
    ]


def test_register_dataclass_explicit_fields_and_errors():
    class Plain:
        def __init__(self, a, m):
            self.a, self.m = a, m

    tu.register_dataclass(Plain, data_fields=["a"], meta_fields=["m"])
    leaves, treedef = tu.tree_flatten(Plain(1, "meta"))
    assert leaves == [1] and treedef.node_data() == (Plain, ("meta",))
    assert treedef.unflatten([7]).m == "meta"

    @dataclasses.dataclass
    class DC:
        x: object
        y: object
        z: int = dataclasses.field(default=0, init=False)

    with pytest.raises(TypeError, match="both"):
        tu.register_dataclass(DC, data_fields=["x"])
    with pytest.raises(TypeError, match="required"):
        tu.register_dataclass(Plain)
    with pytest.raises(ValueError, match=r"Missing: \['y'\]"):
        tu.register_dataclass(DC, data_fields=["x"], meta_fields=[])
    with pytest.raises(ValueError, match="overlap"):
        tu.register_dataclass(DC, data_fields=["x", "y"], meta_fields=["y"])
    with pytest.raises(ValueError, match=r"Unexpected: \['z'\]"):
        tu.register_dataclass(DC, data_fields=["x", "y", "z"], meta_fields=[])
    # Inferred fields skip init=False ones, since __init__ recomputes them.
    tu.register_dataclass(DC)
    assert tu.tree_leaves(DC(1, 2)) == [1, 2]


def test_register_pytree_node_class_and_with_keys():
    s = Scaled([1, 2], "m")
    assert tu.tree_flatten(s)[0] == [1, 2]
    assert repr(tu.tree_structure(s)) == repr(jtu.tree_structure(s))
    back = tu.tree_map(lambda x: x * 2, s)
    assert (back.x, back.scale) == ([2, 4], "m")

    @tu.register_pytree_with_keys_class
    class Named:
        def __init__(self, w):
            self.w = w

        def tree_flatten_with_keys(self):
            return ((tu.GetAttrKey("w"), self.w),), None

        @classmethod
        def tree_unflatten(cls, aux, children):
            return cls(*children)

    assert tu.keystr(tu.tree_leaves_with_path([Named(3)])[0][0]) == "[0].w"
    assert tu.tree_map(lambda x: x + 1, Named(3)).w == 4


def test_register_static():
    leaves, treedef = tu.tree_flatten([Mode("train"), 1.0])
    assert leaves == [1.0]
    assert repr(treedef) == repr(jtu.tree_structure([Mode("train"), 1.0]))
    assert treedef.unflatten([2.0])[0] == "train"

    class Unhashable:
        __hash__ = None

    with pytest.raises(TypeError, match="unhashable"):
        tu.register_static(Unhashable)


def test_is_tree_node_and_flatten_one_level():
    for typ in (dict, list, type(None), Point, Foo, int, np.ndarray):
        assert tu.is_tree_node(typ) == jtu.is_tree_node(typ), typ
    tree = {"b": [1], "a": 2}
    children, aux = tu.flatten_one_level(tree)
    jchildren, jaux = jtu.flatten_one_level(tree)
    assert list(children) == list(jchildren) and aux == jaux
    with pytest.raises(ValueError, match="leaf"):
        tu.flatten_one_level(1)


# --- Partial ------------------------------------------------------------------------


def test_partial_is_a_pytree():
    p = tu.Partial(_add3, 1, c=3)
    assert p(2) == 6
    leaves, treedef = tu.tree_flatten(p)
    assert leaves == jtu.tree_leaves(jtu.Partial(_add3, 1, c=3)) == [1, 3]
    q = treedef.unflatten([10, 30])
    assert isinstance(q, tu.Partial) and q(2) == 42
    assert tu.tree_map(lambda x: x * 2, p)(0) == 8
    assert tu.tree_leaves(tu.Partial(_add3)) == []
    assert pickle.loads(pickle.dumps(p))(2) == 6


def test_partial_of_partial_keeps_inner_arguments_static():
    inner = tu.Partial(_add3, 1)
    outer = tu.Partial(inner, 2)
    assert tu.tree_leaves(outer) == [2]  # inner's 1 is part of the static func
    assert outer() == 3 and outer.func.func is _add3
    plain = tu.Partial(functools.partial(_add3, 1), 2)
    assert tu.tree_leaves(plain) == [2] and plain(c=4) == 7
    assert tu.tree_structure(outer) == tu.tree_structure(tu.Partial(inner, 5))


# --- docs ---------------------------------------------------------------------------


def test_docstring_examples_run():
    # lamina.tree_util re-exports the registry and PyTreeDef from two private modules.
    import lamina._tree_def
    import lamina._tree_registry

    results = [doctest.testmod(m, optionflags=doctest.ELLIPSIS)
               for m in (tu, lamina._tree_registry, lamina._tree_def)]
    assert sum(r.failed for r in results) == 0 and sum(r.attempted for r in results) > 30
