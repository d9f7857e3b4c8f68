"""`jit`'s dispatch fast path for pytree arguments, and the treedef recipes behind it
(`PyTreeDef._matcher` / `_builder`).

Oracles: `tree_structure` / `tree_flatten` / `unflatten` (the general path's pytree
handling) for the recipes; the general path's results and jax.jit for jitted calls.
"""
from __future__ import annotations

import collections
import dataclasses
from typing import NamedTuple

import jax
import numpy as np
import pytest

import lamina
import lamina.numpy as lnp
from lamina import tree_util as tu
from lamina.errors import DeletedArrayError, EscapedTracerError


class _State(NamedTuple):
    count: object
    mu: object


_Pair = collections.namedtuple("_Pair", ["a", "b"])
_Late = collections.namedtuple("_Late", ["a", "b"])  # registered mid-test


@tu.register_pytree_node_class
class _Scaled:
    def __init__(self, x, scale):
        self.x, self.scale = x, scale

    def tree_flatten(self):
        return (self.x,), self.scale

    @classmethod
    def tree_unflatten(cls, scale, children):
        return cls(children[0], scale)

    def __eq__(self, other):
        return type(other) is _Scaled and (self.x, self.scale) == (other.x, other.scale)


@tu.register_dataclass
@dataclasses.dataclass
class _Layer:
    w: object
    act: str = dataclasses.field(default="relu", metadata=dict(static=True))


def _trees():
    """Trees with every kind of node, leaves numbered 0.."""
    return [
        1,
        None,
        (),
        [1, 2],
        (1, [2, (3, None)], {"b": 4, "a": 5}),
        {"x": {"z": 1, "y": [2, 3]}, "w": None},
        _State(1, [2, 3]),
        ([(1, 2), (3, 4)], (_State(5, [(6, 7)]), _Pair(8, 9)), 10),
        collections.OrderedDict([("b", 1), ("a", 2)]),
        collections.defaultdict(list, {"k": 1, "j": (2, 3)}),
        [_Scaled(1, 2.0), _Layer(w=(2, 3))],
        {1: "leaf", 2: ("x", "y")},
    ]


def _variants(tree):
    """Trees that differ from `tree` in one node (or equal it)."""
    out = [(1, 2), [1], [1, 2, 3], {"a": 5, "c": 4}, {"a": 5}, None, 0,
           _Pair(1, 2), (1, 2, 3), _State(1, [2]), _State(1, (2, 3)),
           collections.OrderedDict([("a", 2), ("b", 1)]),
           collections.defaultdict(dict, {"k": 1, "j": (2, 3)}),
           [_Scaled(1, 3.0), _Layer(w=(2, 3))], [_Scaled(1, 2.0), _Layer(w=(2, 3), act="tanh")],
           [_Scaled(1, 2.0), _Layer(w=[2, 3])], {1: "leaf", 2: ("x",)}]
    leaves, treedef = tu.tree_flatten(tree)
    out.append(treedef.unflatten([("node", i) for i in range(len(leaves))]))  # deeper
    out.append(treedef.unflatten([None] * len(leaves)))
    return out


@pytest.mark.parametrize("tree", _trees(), ids=lambda t: type(t).__name__)
def test_matcher_agrees_with_tree_structure(tree):
    leaves, treedef = tu.tree_flatten(tree)
    match = treedef._matcher()
    out = []
    assert match(tree, out) and out == leaves
    for other in _variants(tree) + _trees():
        other_leaves, other_def = tu.tree_flatten(other)
        out = []
        hit = match(other, out)
        if other_def == treedef:
            assert hit and out == other_leaves, (tree, other)
        # NOTE: values at leaf positions are not checked to be leaves (jit accepts
        # only arrays and scalars there); any other difference is a mismatch.
        elif hit:
            assert not tu.all_leaves(out), (tree, other)


@pytest.mark.parametrize("tree", _trees(), ids=lambda t: type(t).__name__)
def test_builder_agrees_with_unflatten(tree):
    leaves, treedef = tu.tree_flatten(tree)
    new = [f"leaf{i}" for i in range(len(leaves))]
    built = treedef._builder()(list(new))
    expected = treedef.unflatten(new)
    assert tu.tree_structure(built) == treedef and tu.tree_leaves(built) == new
    assert type(built) is type(expected) and built == expected
    # Containers are fresh on every call: no list is shared between two results.
    again = treedef._builder()(list(new))
    if isinstance(built, list):
        assert built is not again


def test_recipes_follow_later_registrations():
    tree = [_Late(1, 2)]
    treedef = tu.tree_structure(tree)
    assert treedef._matcher()(tree, out := []) and out == [1, 2]
    tu.register_pytree_node(_Late, lambda p: ((p.a,), p.b), lambda b, c: _Late(c[0], b))
    new_def = tu.tree_structure(tree)
    assert new_def != treedef
    assert not treedef._matcher()(tree, [])  # the old structure: b is no longer a leaf
    assert new_def._matcher()(tree, out := []) and out == [1]
    assert new_def._builder()([7]) == [_Late(7, 2)]


# --- jit -----------------------------------------------------------------------------


def _no_staging(monkeypatch, f):
    """Make `f`'s general path fail, so a call that succeeds took the fast path."""
    def fail(*args, **kwargs):
        raise AssertionError("the general path ran")
    monkeypatch.setattr(f, "_stage", fail)


def _adam_like(params, state, x, lr):
    loss = sum((w * x).sum() + b.sum() for w, b in params)
    new = [(w - lr * x.sum(), b - lr) for w, b in params]
    mu = [(0.9 * m + w, 0.9 * n + b) for (m, n), (w, b) in zip(state.mu, params)]
    return new, (_State(state.count + 1, mu), None, {"loss": loss}), loss


def _train_args(np_or_lnp, n=3):
    params = [(np_or_lnp.asarray(np.full((2, 3), i, np.float32)),
               np_or_lnp.asarray(np.arange(3, dtype=np.float32) + i)) for i in range(n)]
    state = _State(np_or_lnp.asarray(np.int32(0)), [(w * 0, b * 0) for w, b in params])
    return params, state, np_or_lnp.asarray(np.ones((2, 3), np.float32))


def _assert_same(out, expected):
    """Same structure (node types included) and values, dtypes and weak types."""
    leaves, treedef = tu.tree_flatten(out)
    jleaves, jdef = jax.tree_util.tree_flatten(expected)
    assert treedef.num_leaves == jdef.num_leaves
    for a, b in zip(leaves, jleaves):
        assert type(a) is lamina.Array
        assert a.dtype == b.dtype and a.weak_type == b.weak_type, (a, b)
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-6)


def test_train_step_is_served_by_the_fast_path(monkeypatch):
    f, jf = lamina.jit(_adam_like), jax.jit(_adam_like)
    params, state, x = _train_args(lnp)
    jparams, jstate, jx = _train_args(jax.numpy)
    params, (state, _, _), _ = f(params, state, x, 0.5)
    jparams, (jstate, _, _), _ = jf(jparams, jstate, jx, 0.5)
    with monkeypatch.context() as m:
        _no_staging(m, f)
        for _ in range(3):  # outputs fed back, as a training loop does
            out = f(params, state, x, 0.5)
            jout = jf(jparams, jstate, jx, 0.5)
            _assert_same(out, jout)
            params, (state, none, d), _ = out
            assert type(state) is _State and none is None and list(d) == ["loss"]
            jparams, (jstate, _, _), _ = jout
        # A Python scalar leaf of the same type is the same signature, whatever its value.
        _assert_same(f(params, state, x, 0.25), jf(jparams, jstate, jx, 0.25))
        with pytest.raises(AssertionError, match="general path"):
            f(params, state, x, 1)  # an int: another signature
        with pytest.raises(AssertionError, match="general path"):
            f(params[:2], state, x, 0.5)  # another structure


def test_same_structure_other_shapes_and_alternating_signatures(monkeypatch):
    f = lamina.jit(lambda t: {"s": t[0] * 2, "n": t[1] + 1})
    small = (lnp.ones(2), lnp.zeros(3, dtype=lnp.int32))
    big = (lnp.ones((2, 2)), lnp.zeros(3, dtype=lnp.int32))
    f(small), f(big)
    with monkeypatch.context() as m:
        _no_staging(m, f)
        for _ in range(2):
            assert f(small)["s"].shape == (2,) and f(big)["s"].shape == (2, 2)
            np.testing.assert_array_equal(np.asarray(f(big)["n"]), [1, 1, 1])
    with monkeypatch.context() as m:  # a dtype the fast path has not seen
        _no_staging(m, f)
        with pytest.raises(AssertionError, match="general path"):
            f((lnp.ones(2, dtype=lnp.int32), small[1]))


def test_fast_path_checks_deleted_and_donated_leaves():
    f = lamina.jit(lambda t: (t[0] + 1, t[1] * 2), donate_argnums=0)
    t = (lnp.ones(3), lnp.ones(2))
    f(t)
    t = (lnp.ones(3), lnp.ones(2))
    out = f(t)  # the fast path, donating both leaves
    np.testing.assert_array_equal(np.asarray(out[0]), [2, 2, 2])
    assert t[0].is_deleted() and t[1].is_deleted()
    with pytest.raises(DeletedArrayError, match="deleted or donated"):
        f(t)
    g = lamina.jit(lambda d: d["a"] + d["b"])
    d = {"a": lnp.ones(3), "b": lnp.ones(3)}
    g(d), g(d)
    d["b"].delete()
    with pytest.raises(DeletedArrayError):
        g(d)
    w = lnp.arange(3.0)  # a captured constant, deleted after warm-up
    h = lamina.jit(lambda d: d["a"] * w)
    h(d := {"a": lnp.ones(3)}), h(d)
    w.delete()
    with pytest.raises(DeletedArrayError):
        h(d)


def test_escaped_tracer_in_a_pytree_gets_the_general_paths_error():
    f = lamina.jit(lambda t: t[0] * t[1])
    x = lnp.arange(3.0)
    f((x, x)), f((x, x))
    leaked = []
    lamina.jit(lambda x: leaked.append(x) or x)(x)
    with pytest.raises(EscapedTracerError):
        f((x, leaked[0]))


def test_a_registration_sends_the_next_call_to_the_general_path(monkeypatch):
    Local = collections.namedtuple("Local", ["a", "b"])
    f = lamina.jit(lambda p: Local(p.a + p.b, p.a))
    p = Local(lnp.ones(2), lnp.ones(2))
    f(p), f(p)
    staged = []
    original = f._stage
    monkeypatch.setattr(f, "_stage", lambda *a, **k: staged.append(1) or original(*a, **k))
    out = f(p)
    assert not staged and type(out) is Local
    # b becomes static aux data: a new structure, traced anew; the stale launcher is
    # not used, for the arguments nor for the outputs.
    tu.register_pytree_node(Local, lambda q: ((q.a,), 1.0), lambda aux, c: Local(c[0], aux))
    out = f(Local(lnp.ones(2), 1.0))
    assert staged and type(out) is Local and out.b == 1.0
    np.testing.assert_array_equal(np.asarray(out.a), [2, 2])


def test_fast_path_keys_on_x64():
    f = lamina.jit(lambda t: t[0] + t[1])
    assert f((lnp.ones(2, dtype=lnp.int32), 3)).dtype == np.int32
    with lamina.config.override(enable_x64=True):
        for _ in range(2):
            assert f((lnp.ones(2, dtype=lnp.int32), 3)).dtype == np.int32
            assert f((3, 4)).dtype == np.int64
    assert f((3, 4)).dtype == np.int32
    f.clear_cache()
    assert not any(f._fast) and not any(f._fast_trees) and not any(f._recent)


def test_keyword_arguments_are_served_by_the_fast_path(monkeypatch):
    def fn(a, b=None, **kw):
        return {"a": a, "b": b, "kw": kw}
    f = lamina.jit(fn)
    x = lnp.arange(3.0)
    # The same flattened structure, positionally and by keyword: two signatures.
    calls = [lambda: f((x,), {"y": x}), lambda: f(x, y=x), lambda: f(x, b=x)]
    firsts = [call() for call in calls]
    with monkeypatch.context() as m:
        _no_staging(m, f)
        for _ in range(2):
            for call, first in zip(calls, firsts):
                out = call()
                assert tu.tree_structure(out) == tu.tree_structure(first)
                for a, b in zip(tu.tree_leaves(out), tu.tree_leaves(first)):
                    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
        assert tu.tree_structure(f(x, y=x)) == tu.tree_structure(
            {"a": 0, "b": None, "kw": {"y": 0}})
        with pytest.raises(AssertionError, match="general path"):
            f(x, z=x)  # another keyword: another structure


def test_static_arguments_are_served_by_the_fast_path(monkeypatch):
    traces = []

    def fn(x, n, *, mode="add"):
        traces.append((n, mode))
        return x + n if mode == "add" else x * n
    f = lamina.jit(fn, static_argnums=1, static_argnames="mode")
    x = lnp.arange(3.0)
    f(x, 2), f(x, 3), f(x, 2, mode="mul"), f(x, n=3)  # n by keyword: another key, as in jax
    assert len(traces) == 4
    with monkeypatch.context() as m:
        _no_staging(m, f)
        for _ in range(2):
            np.testing.assert_array_equal(np.asarray(f(x, 2)), [2, 3, 4])
            np.testing.assert_array_equal(np.asarray(f(x, 3)), [3, 4, 5])
            np.testing.assert_array_equal(np.asarray(f(x, 2, mode="mul")), [0, 2, 4])
            np.testing.assert_array_equal(np.asarray(f(x, n=3)), [3, 4, 5])
        with pytest.raises(AssertionError, match="general path"):
            f(x, 4)  # a new static value
    with pytest.raises(ValueError, match="not hashable"):
        f(x, [1])
    assert len(traces) == 4
