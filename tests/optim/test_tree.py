"""lamina.optim.tree against optax.tree (0.2.8): every name, on nested dicts / lists /
tuples with None leaves; same tree structure, shapes, dtypes and values."""
import inspect
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import lamina
import lamina.numpy as lnp
from lamina import tree_util as ltu
from lamina.optim import tree as T

R = np.random.default_rng(7)


def _raw(shape, dtype=np.float32, positive=False):
    x = R.standard_normal(shape)
    if positive:
        x = np.abs(x) + 0.5
    if np.issubdtype(dtype, np.complexfloating):
        x = x + 1j * R.standard_normal(shape)
    return x.astype(dtype)


def _np_tree(dtype=np.float32, positive=False):
    a = lambda *s: _raw(s, dtype, positive)  # noqa: E731
    return {"a": a(3), "b": [a(2, 2), None, (a(), a(4))], "c": {"d": None, "e": a(1, 3)},
            "z": a(0)}


def _to(tree, asarray):
    # NOTE: both libraries' tree_map treat None as an empty subtree; np arrays are leaves.
    return jax.tree.map(asarray, tree)


def _pair(tree):
    return _to(tree, jnp.asarray), _to(tree, lnp.asarray)


def _as_numpy(tree):
    return ltu.tree_map(lambda x: np.asarray(x) if x is not None else None, tree)


def assert_same(ours, theirs, rtol=1e-6, atol=1e-6):
    ours = _as_numpy(ours)
    theirs = jax.tree.map(np.asarray, theirs)
    assert jax.tree.structure(ours) == jax.tree.structure(theirs), (ours, theirs)
    for o, t in zip(jax.tree.leaves(ours), jax.tree.leaves(theirs)):
        assert o.shape == t.shape and o.dtype == t.dtype, (o, t)
        np.testing.assert_allclose(o, t, rtol=rtol, atol=atol)


def test_names_mirror_optax_tree():
    theirs = {n for n in dir(optax.tree) if not n.startswith("_")}
    assert set(T.__all__) - {"NamedTupleKey"} == theirs
    for name in theirs:
        ours_sig = inspect.signature(getattr(T, name))
        their_sig = inspect.signature(getattr(optax.tree, name))
        assert list(ours_sig.parameters) == list(their_sig.parameters), name


X, Y, W = _np_tree(), _np_tree(positive=True), _np_tree()
C1, C2 = _np_tree(np.complex64), _np_tree(np.complex64)

# name: (args as (kind, value) where kind 't' = tree converted per library, 'v' = as is)
CASES = {
    "add": ("add", [X, Y]),
    "add3": ("add", [X, Y, W]),
    "sub": ("sub", [X, Y]),
    "mul": ("mul", [X, Y]),
    "div": ("div", [X, Y]),
    "scale": ("scale", [("v", 0.3), X]),
    "add_scale": ("add_scale", [X, ("v", -1.7), Y]),
    "vdot": ("vdot", [X, Y]),
    "vdot_complex": ("vdot", [C1, C2]),
    "sum": ("sum", [X]),
    "max": ("max", [X]),
    "min": ("min", [X]),
    "conj": ("conj", [C1]),
    "real": ("real", [C1]),
    "norm": ("norm", [X]),
    "norm_sq": ("norm", [X, ("v", 2), ("v", True)]),
    "norm_1": ("norm", [X, ("v", 1)]),
    "norm_1_sq": ("norm", [X, ("v", 1), ("v", True)]),
    "norm_inf": ("norm", [X, ("v", float("inf"))]),
    "norm_inf_str": ("norm", [X, ("v", "infinity")]),
    "norm_complex": ("norm", [C1]),
    "batch_shape": ("batch_shape", [X, ("v", (2, 1))]),
    "zeros_like": ("zeros_like", [X]),
    "zeros_like_int": ("zeros_like", [X, ("v", np.int32)]),
    "ones_like": ("ones_like", [X, ("v", np.float16)]),
    "full_like": ("full_like", [X, ("v", 2.5)]),
    "clip": ("clip", [X, ("v", -0.5), ("v", 0.5)]),
    "clip_max_only": ("clip", [X, ("v", None), ("v", 0.1)]),
    "where": ("where", [("v", False), X, Y]),
    "update_moment": ("update_moment", [X, Y, ("v", 0.9), ("v", 2)]),
    "update_moment_1": ("update_moment", [X, Y, ("v", 0.5), ("v", 1)]),
    "update_infinity_moment": ("update_infinity_moment", [X, Y, ("v", 0.9), ("v", 1e-8)]),
    "moment_per_elem_norm": ("update_moment_per_elem_norm", [X, Y, ("v", 0.99), ("v", 2)]),
    "moment_per_elem_norm_c": ("update_moment_per_elem_norm",
                               [C1, _np_tree(), ("v", 0.99), ("v", 2)]),
    "moment_per_elem_norm_c3": ("update_moment_per_elem_norm",
                                [C1, _np_tree(), ("v", 0.9), ("v", 3)]),
    "cast": ("cast", [X, ("v", jnp.bfloat16)]),
    "cast_none": ("cast", [X, ("v", None)]),
}


def _args(args, conv):
    return [a[1] if isinstance(a, tuple) and a and a[0] == "v" else _to(a, conv)
            for a in args]


@pytest.mark.parametrize("case", list(CASES))
def test_matches_optax(case):
    name, args = CASES[case]
    theirs = getattr(optax.tree, name)(*_args(args, jnp.asarray))
    ours = getattr(T, name)(*_args(args, lnp.asarray))
    assert_same(ours, theirs)


def test_sum_associative_and_size_and_empty():
    jx, lx = _pair(X)
    assert_same(T.sum(lx, associative_reduction=True), optax.tree.sum(jx))
    assert T.size(lx) == optax.tree.size(jx) == 3 + 4 + 1 + 4 + 3
    assert T.max({}) == -np.inf and T.min([None]) == np.inf
    assert T.sum({}) == 0 and T.vdot({}, {}) == 0


def test_bias_correction_matches_optax_including_bf16():
    for count in (1, 2, 10, 1000):
        jm, lm = _pair(_np_tree())
        assert_same(T.bias_correction(lm, 0.999, lnp.asarray(count, lnp.int32)),
                    optax.tree.bias_correction(jm, 0.999, jnp.asarray(count, jnp.int32)))
    m = {"w": np.ones(3, np.float32)}
    ours = T.bias_correction(T.cast(_to(m, lnp.asarray), lnp.bfloat16), 0.9, lnp.asarray(3))
    theirs = optax.tree.bias_correction(optax.tree.cast(_to(m, jnp.asarray), jnp.bfloat16),
                                        0.9, jnp.asarray(3))
    assert_same(ours, theirs)


def test_inside_jit():
    jx, lx = _pair(X)
    jy, ly = _pair(Y)

    def step(tree_mod, x, y, count):
        m = tree_mod.update_moment(x, y, 0.9, 2)
        m = tree_mod.bias_correction(m, 0.9, count)
        return tree_mod.add_scale(x, -0.1, m), tree_mod.norm(m), tree_mod.vdot(x, y)

    ours = lamina.jit(lambda x, y, c: step(T, x, y, c))(lx, ly, lnp.asarray(4))
    theirs = jax.jit(lambda x, y, c: step(optax.tree, x, y, c))(jx, jy, jnp.asarray(4))
    assert_same(ours, theirs)


def test_allclose_and_cast_like_and_dtype():
    jx, lx = _pair(X)
    jy, ly = _pair(Y)
    assert bool(T.allclose(lx, lx)) and not bool(T.allclose(lx, ly))
    assert bool(T.allclose(lx, T.add_scale(lx, 1e-9, lx)))
    other = {"a": np.zeros(3, np.float16), "b": [np.zeros((2, 2), np.int32), None,
                                                 (1.0, np.zeros(4, np.float32))],
             "c": {"d": None, "e": np.zeros((1, 3), np.float32)}, "z": np.zeros(0, np.int8)}
    assert_same(T.cast_like(lx, _to(other, lnp.asarray)),
                optax.tree.cast_like(jx, _to(other, jnp.asarray)))
    lo = _to(other, lnp.asarray)
    del lo["b"][2]  # mixed int/float; drop the Python scalar leaf
    jo = _to(other, jnp.asarray)
    del jo["b"][2]
    assert T.dtype(lx) == optax.tree.dtype(jx) == np.float32
    for handler in ("promote", "highest"):
        assert T.dtype(lo, handler) == optax.tree.dtype(jo, handler)
    with pytest.raises(ValueError, match=r"Expected dtype=float16 for \['b'\]\[0\]"):
        T.dtype(lo)
    with pytest.raises(ValueError, match="mixed_dtype_handler"):
        T.dtype(lx, "widest")
    assert T.dtype({}) == optax.tree.dtype({})
    f = {"a": np.zeros(1, np.float16), "b": np.zeros(1, np.float32)}
    assert T.dtype(_to(f, lnp.asarray), "lowest") == np.float16


def test_norm_bad_ord():
    with pytest.raises(ValueError, match=r"tree.norm: unsupported ord=3"):
        T.norm({"a": lnp.ones(2)}, ord=3)


class InnerState(NamedTuple):
    count: object
    mu: object


class OtherState(NamedTuple):
    count: object
    hyperparams: object


def _state(asarray):
    p = {"w": asarray(np.ones(2, np.float32)), "b": [asarray(np.zeros(1, np.float32))]}
    return (InnerState(count=asarray(np.int32(3)), mu=p),
            {"inner": OtherState(count=asarray(np.int32(5)),
                                 hyperparams={"learning_rate": asarray(np.float32(0.1)),
                                              "count": asarray(np.int32(7))})},
            optax.EmptyState())


def _paths(found, keystr):
    return [(keystr(p), jax.tree.map(lambda x: np.asarray(x).tolist(), _as_numpy(v)))
            for p, v in found]


def _keystr(path):
    # One rendering for both libraries' key entries and NamedTupleKey.
    out = []
    for k in path:
        for attr in ("key", "idx", "name"):
            if hasattr(k, attr) and not hasattr(k, "tuple_name"):
                out.append(f"[{getattr(k, attr)!r}]")
                break
        else:
            out.append(str(k))
    return "".join(out)


def test_get_all_with_path_get_set_match_optax():
    js, ls = _state(jnp.asarray), _state(lnp.asarray)
    for key in ("count", "learning_rate", "mu", "InnerState", "hyperparams", "missing"):
        ours = T.get_all_with_path(ls, key)
        theirs = optax.tree.get_all_with_path(js, key)
        assert _paths(ours, _keystr) == _paths(theirs, _keystr), key
    only_inner = lambda path, v: str(path[-1]) == "InnerState.count"  # noqa: E731
    assert int(T.get(ls, "count", filtering=only_inner)) == 3
    assert int(optax.tree.get(js, "count", filtering=only_inner)) == 3
    assert float(T.get(ls, "learning_rate")) == np.float32(0.1)
    assert T.get(ls, "nothing", default="d") == "d"
    with pytest.raises(KeyError, match="multiple values for 'count'"):
        T.get(ls, "count")

    ours = T.set(ls, learning_rate=lnp.asarray(0.5), mu={"w": 1, "b": [2]})
    theirs = optax.tree.set(js, learning_rate=jnp.asarray(0.5), mu={"w": 1, "b": [2]})
    assert_same(ours, theirs)
    assert type(ours[0]) is InnerState
    ours = T.set(ls, only_inner, count=lnp.asarray(0))
    theirs = optax.tree.set(js, only_inner, count=jnp.asarray(0))
    assert_same(ours, theirs)
    ours = T.set(ls, InnerState=InnerState(0, 1))
    assert ours[0] == InnerState(0, 1)
    with pytest.raises(KeyError, match="Found no values matching 'nope'"):
        T.set(ls, nope=1)


def test_map_params_matches_optax():
    def make_init(tree_map, zeros_like):
        def init(params):
            return (InnerState(count=0, mu=tree_map(zeros_like, params)),
                    OtherState(count=1, hyperparams=tree_map(zeros_like, params)))
        return init

    params = {"w": np.ones((2, 3), np.float32), "b": [np.zeros(3, np.float32), None]}
    jp, lp = _pair(params)
    js = make_init(jax.tree.map, jnp.zeros_like)(jp)
    ls = make_init(ltu.tree_map, lnp.zeros_like)(lp)
    spec = {"w": "W", "b": ["B", None]}

    class Opt(NamedTuple):
        init: object

    ours = T.map_params(Opt(make_init(ltu.tree_map, lnp.zeros_like)),
                        lambda _, s: s + "!", ls, spec,
                        transform_non_params=lambda v: -1)
    theirs = optax.tree.map_params(make_init(jax.tree.map, jnp.zeros_like),
                                   lambda _, s: s + "!", js, spec,
                                   transform_non_params=lambda v: -1)
    assert ours == theirs
    assert ours[0].mu == {"w": "W!", "b": ["B!", None]} and ours[1].count == -1


def test_random_like_and_split_key_like_match_jax():
    random = pytest.importorskip("lamina.random")
    jx, lx = _pair(X)
    ours = T.split_key_like(random.PRNGKey(3), lx)
    theirs = optax.tree.split_key_like(jax.random.PRNGKey(3), jx)
    assert_same(ours, theirs)
    ours = T.random_like(random.PRNGKey(3), lx)
    theirs = optax.tree.random_like(jax.random.PRNGKey(3), jx)
    assert_same(ours, theirs)
    ours = T.random_like(random.PRNGKey(1), lx, sampler=random.uniform, dtype=jnp.float16)
    theirs = optax.tree.random_like(jax.random.PRNGKey(1), jx, sampler=jax.random.uniform,
                                    dtype=jnp.float16)
    assert_same(ours, theirs)
    keys = T.split_key_like(random.key(0), {"a": 1, "b": 2})
    assert_same(T.unwrap_random_key_data(keys),
                optax.tree.unwrap_random_key_data(
                    optax.tree.split_key_like(jax.random.key(0), {"a": 1, "b": 2})))
