"""Parameter-tree utilities: paths, glob filtering, partition/combine for freezing.

Paths are keys from the root joined with `/` (`Dense_0/kernel`); patterns are globs
matched segment by segment: `*` is one segment, `**` any number, and `*`, `?`, `[..]`
glob inside a segment (the syntax of `lamina.optim.groups`).

>>> import lamina.numpy as lnp
>>> from lamina import nn
>>> params = {'Dense_0': {'kernel': lnp.ones((2, 2)), 'bias': lnp.zeros(2)},
...           'head': {'kernel': lnp.ones((2, 1))}}
>>> nn.param_paths(params)
['Dense_0/bias', 'Dense_0/kernel', 'head/kernel']
>>> nn.param_paths(nn.filter(params, "*/kernel"))
['Dense_0/kernel', 'head/kernel']
>>> train, frozen = nn.partition(params, "head/**")
>>> nn.param_paths(train), nn.param_paths(frozen)
(['head/kernel'], ['Dense_0/bias', 'Dense_0/kernel'])
>>> nn.param_paths(nn.combine(train, frozen)) == nn.param_paths(params)
True
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from lamina import tree_util as tu
from lamina.optim.groups import param_paths as _param_paths, path_matches

__all__ = ["param_paths", "filter", "partition", "combine"]

PyTree = Any


def param_paths(params: PyTree) -> list[str]:
    """The `/`-joined path of every leaf (sorted dict order, as flattening).

    >>> param_paths({'a': {'w': 1, 'b': 2}})
    ['a/b', 'a/w']
    """
    return _param_paths(params)


def _predicate(spec: Any) -> Callable[[str, Any], bool]:
    if callable(spec) and not isinstance(spec, str):
        return lambda path, leaf: bool(spec(path, leaf))
    pats = (spec,) if isinstance(spec, str) else tuple(spec)
    if not pats or not all(isinstance(p, str) for p in pats):
        raise TypeError(f"lamina.nn.filter: spec must be a glob pattern, a list of them, "
                        f"or a function (path, leaf) -> bool; got {spec!r}")
    return lambda path, leaf: any(path_matches(p, path) for p in pats)


def _split(params: PyTree, spec: Any) -> tuple[PyTree, PyTree]:
    pred = _predicate(spec)
    pairs, treedef = tu.tree_flatten_with_path(params)
    names = _param_paths(params)
    hit = [pred(n, leaf) for n, (_, leaf) in zip(names, pairs)]
    a = tu.tree_unflatten(treedef, [leaf if h else None for h, (_, leaf) in zip(hit, pairs)])
    b = tu.tree_unflatten(treedef, [None if h else leaf for h, (_, leaf) in zip(hit, pairs)])
    return a, b


def _prune(tree: PyTree) -> PyTree:
    if isinstance(tree, Mapping):
        out = {k: _prune(v) for k, v in tree.items()}
        return {k: v for k, v in out.items() if v is not None and v != {}}
    return tree


def filter(params: PyTree, spec: str | Sequence[str] | Callable[[str, Any], bool]) -> PyTree:
    """The sub-tree of the leaves whose path matches `spec` (a glob pattern, a list of
    them, or `fn(path, leaf) -> bool`); empty dicts are dropped.

    >>> filter({'enc': {'kernel': 1, 'bias': 2}, 'dec': {'kernel': 3}}, "**/kernel")
    {'dec': {'kernel': 3}, 'enc': {'kernel': 1}}
    """
    return _prune(_split(params, spec)[0])


def partition(params: PyTree, spec: str | Sequence[str] | Callable[[str, Any], bool]
              ) -> tuple[PyTree, PyTree]:
    """`(matching, rest)`: two trees of the structure of `params`, with None where a
    leaf belongs to the other one (None leaves are empty subtrees for optimizers).
    Use it to freeze parameters: train `matching`, keep `rest` fixed, and
    `combine(matching, rest)` for apply.

    >>> partition({'a': 1, 'b': 2}, "a")
    ({'a': 1, 'b': None}, {'a': None, 'b': 2})
    """
    return _split(params, spec)


def combine(*trees: PyTree) -> PyTree:
    """Merge trees from `partition`: each leaf is the first non-None among `trees`.

    >>> combine({'a': 1, 'b': None}, {'a': None, 'b': 2})
    {'a': 1, 'b': 2}
    """
    if not trees:
        raise TypeError("lamina.nn.combine: give at least one tree")

    def pick(*xs: Any) -> Any:
        for x in xs:
            if x is not None:
                return x
        return None

    return tu.tree_map(pick, *trees, is_leaf=lambda x: x is None)
