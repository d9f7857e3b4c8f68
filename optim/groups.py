"""Parameter groups from path patterns (lamina's addition to the optax API).

`labels_by_path` and `mask_by_path` turn a few glob patterns over parameter paths into
the label tree that `multi_transform` wants or the boolean mask that `masked`,
`add_decayed_weights(mask=...)` and `adamw(mask=...)` want. Both return a *function*
of the params (optax accepts a callable wherever it takes a label tree or a mask), so
one optimizer definition serves any params of the same layout.

Path syntax:

- A leaf's path is its keys from the root joined with `/`: dict keys as written,
  list/tuple positions as numbers, NamedTuple/dataclass fields by name. In
  `{'encoder': {'layers': [{'kernel': w}]}}` the leaf `w` is at
  `encoder/layers/0/kernel`. `param_paths(params)` lists them.
- A pattern is matched against the whole path, segment by segment:
  `*` is exactly one segment, `**` is any number of segments (zero included), and
  inside a segment `*`, `?` and `[abc]` glob as in `fnmatch` (`layer_*`, `[qkv]_proj`).
- So `*/bias` is a bias one level down only, `**/bias` is a bias at any depth,
  `encoder/**` is everything under `encoder`, and `**` matches every leaf.
- With `labels_by_path` the first rule that matches a leaf gives its label (rules are
  tried in the dict's order); unmatched leaves get `default`.
- None leaves stay None (they are empty subtrees, as in optax).

>>> import lamina.numpy as lnp
>>> from lamina.optim import groups
>>> params = {'embed': {'embedding': lnp.zeros((10, 4))},
...           'encoder': {'layers': [{'kernel': lnp.zeros((4, 4)), 'bias': lnp.zeros(4)}]},
...           'head': {'kernel': lnp.zeros((4, 2)), 'bias': lnp.zeros(2)}}
>>> groups.param_paths(params)
['embed/embedding', 'encoder/layers/0/bias', 'encoder/layers/0/kernel', 'head/bias', \
'head/kernel']
>>> label_fn = groups.labels_by_path({'**/bias': 'no_decay', 'embed/**': 'frozen'},
...                                  default='decay')
>>> label_fn(params)
{'embed': {'embedding': 'frozen'}, 'encoder': {'layers': [{'bias': 'no_decay', \
'kernel': 'decay'}]}, 'head': {'bias': 'no_decay', 'kernel': 'decay'}}
>>> groups.mask_by_path('**/kernel')(params)['head']
{'bias': False, 'kernel': True}

Typical use (names as in optax)::

    tx = optim.multi_transform(
        {'decay': optim.adamw(1e-3), 'no_decay': optim.adam(1e-3),
         'frozen': optim.set_to_zero()},
        groups.labels_by_path({'**/bias': 'no_decay', 'embed/**': 'frozen'},
                              default='decay'))
    tx = optim.adamw(1e-3, mask=groups.mask_by_path(['**/bias', '**/scale'],
                                                    invert=True))
"""
from __future__ import annotations

import fnmatch
import functools
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Any

from lamina import tree_util as tu

__all__ = ["labels_by_path", "mask_by_path", "param_paths", "path_matches"]

PyTree = Any
_NO_DEFAULT = object()


def _segment(entry: Any) -> str:
    if isinstance(entry, tu.DictKey):
        return str(entry.key)
    if isinstance(entry, tu.SequenceKey):
        return str(entry.idx)
    if isinstance(entry, tu.GetAttrKey):
        return entry.name
    if isinstance(entry, tu.FlattenedIndexKey):
        return str(entry.key)
    return str(getattr(entry, "name", entry))


def _segments(path: tuple) -> tuple[str, ...]:
    return tuple(_segment(e) for e in path)


def param_paths(params: PyTree) -> list[str]:
    """The `/`-joined path of every leaf of `params`, in flattening order.

    >>> param_paths({'dense': {'kernel': 1, 'bias': 2}, 'scales': [3, None]})
    ['dense/bias', 'dense/kernel', 'scales/0']
    """
    return ["/".join(_segments(p)) for p, _ in tu.tree_leaves_with_path(params)]


def _compile(pattern: str) -> tuple[str, ...]:
    if not isinstance(pattern, str):
        raise TypeError(f"lamina.optim.groups: a path pattern must be a str, got "
                        f"{type(pattern).__name__} {pattern!r}")
    return _split(pattern)


@functools.lru_cache(maxsize=1024)
def _split(pattern: str) -> tuple[str, ...]:
    parts = tuple(pattern.split("/"))
    if pattern == "" or any(p == "" for p in parts):
        raise ValueError(f"lamina.optim.groups: bad path pattern {pattern!r}: empty "
                         f"segment; segments are separated by single '/', e.g. "
                         f"'encoder/*/kernel' or '**/bias'")
    return parts


def _match(pat: tuple[str, ...], segs: tuple[str, ...]) -> bool:
    @functools.lru_cache(maxsize=None)
    def go(i: int, j: int) -> bool:
        if i == len(pat):
            return j == len(segs)
        if pat[i] == "**":
            return go(i + 1, j) or (j < len(segs) and go(i, j + 1))
        return j < len(segs) and fnmatch.fnmatchcase(segs[j], pat[i]) and go(i + 1, j + 1)
    return go(0, 0)


def path_matches(pattern: str, path: str | tuple) -> bool:
    """Whether `pattern` matches a leaf path (a `/`-joined string or a key-path tuple).

    >>> path_matches('**/bias', 'encoder/layers/0/bias'), path_matches('*/bias', 'a/b/bias')
    (True, False)
    >>> path_matches('layer_*/[qk]', 'layer_3/q'), path_matches('encoder/**', 'encoder')
    (True, True)
    """
    segs = tuple(path.split("/")) if isinstance(path, str) else _segments(path)
    return _match(_compile(pattern), segs)


def _as_patterns(fn: str, spec: Any) -> tuple[str, ...]:
    pats = tuple(spec) if isinstance(spec, (list, tuple)) else (spec,)
    if not pats:
        raise ValueError(f"lamina.optim.{fn}: no patterns given")
    for p in pats:
        _compile(p)
    return pats


def _check_unused(fn: str, used: dict[str, bool], paths: list[str]) -> None:
    unused = [p for p, hit in used.items() if not hit]
    if unused:
        shown = ", ".join(paths[:8]) + (", ..." if len(paths) > 8 else "")
        raise ValueError(
            f"lamina.optim.{fn}: pattern(s) {unused} match no parameter. The parameter "
            f"paths are: [{shown}]. Fix the pattern (use '**/' to match at any depth), "
            f"or pass strict=False to allow patterns that match nothing.")


def labels_by_path(rules: Mapping[str | tuple[str, ...], Hashable],
                   default: Hashable = _NO_DEFAULT, *,
                   strict: bool = True) -> Callable[[PyTree], PyTree]:
    """A function mapping params to a tree of labels chosen by path patterns.

    Made for `multi_transform(transforms, param_labels)`.

    Args:
        rules: `{pattern: label}`; a key may also be a tuple of patterns sharing a
            label. The first rule (in order) whose pattern matches a leaf labels it.
        default: the label of leaves no rule matches. Without it, such leaves are an
            error (so no parameter silently escapes its intended group).
        strict: raise if some pattern matches no leaf (catches typos).

    Returns:
        `label_fn(params)`, a tree of labels with the structure of `params`.

    >>> fn = labels_by_path({('**/bias', '**/scale'): 'no_decay'}, default='decay')
    >>> fn({'ln': {'scale': 1.}, 'dense': {'kernel': 2., 'bias': 3.}})
    {'dense': {'bias': 'no_decay', 'kernel': 'decay'}, 'ln': {'scale': 'no_decay'}}
    """
    if not isinstance(rules, Mapping):
        raise TypeError(f"lamina.optim.labels_by_path: `rules` must be a dict "
                        f"{{pattern: label}}, got {type(rules).__name__}")
    compiled = [(_as_patterns("labels_by_path", k), label) for k, label in rules.items()]

    def label_fn(params: PyTree) -> PyTree:
        pairs, treedef = tu.tree_flatten_with_path(params)
        used = {p: False for pats, _ in compiled for p in pats}
        labels, missing = [], []
        for path, _ in pairs:
            segs = _segments(path)
            label = _NO_DEFAULT
            for pats, lab in compiled:
                hit = [p for p in pats if _match(_compile(p), segs)]
                if hit:
                    used[hit[0]] = True
                    label = lab
                    break
            if label is _NO_DEFAULT:
                if default is _NO_DEFAULT:
                    missing.append("/".join(segs))
                label = default
            labels.append(label)
        if missing:
            raise ValueError(
                f"lamina.optim.labels_by_path: no rule matches parameter(s) {missing} "
                f"and no default label was given; add a rule for them or pass "
                f"default=<label>")
        if strict:
            # NOTE: a pattern shadowed by an earlier rule also counts as matching.
            all_segs = [_segments(p) for p, _ in pairs]
            for p in [p for p, hit in used.items() if not hit]:
                used[p] = any(_match(_compile(p), s) for s in all_segs)
            _check_unused("labels_by_path", used, ["/".join(s) for s in all_segs])
        return tu.tree_unflatten(treedef, labels)

    return label_fn


def mask_by_path(patterns: str | Sequence[str], *, invert: bool = False,
                 strict: bool = True) -> Callable[[PyTree], PyTree]:
    """A function mapping params to a boolean mask: True where a pattern matches.

    Made for `masked(inner, mask)`, `add_decayed_weights(..., mask=...)` and the
    `mask=` of `adamw`/`lamb`/...

    Args:
        patterns: one pattern or a sequence of them.
        invert: True where *no* pattern matches (e.g. decay all but biases).
        strict: raise if some pattern matches no leaf (catches typos).

    Returns:
        `mask_fn(params)`, a tree of Python bools with the structure of `params`.

    >>> mask_by_path('**/bias', invert=True)({'dense': {'kernel': 1., 'bias': 2.}})
    {'dense': {'bias': False, 'kernel': True}}
    """
    pats = _as_patterns("mask_by_path", patterns)

    def mask_fn(params: PyTree) -> PyTree:
        pairs, treedef = tu.tree_flatten_with_path(params)
        used = {p: False for p in pats}
        mask = []
        for path, _ in pairs:
            segs = _segments(path)
            hit = False
            for p in pats:
                if _match(_compile(p), segs):
                    used[p] = hit = True
            mask.append(hit != invert)
        if strict:
            _check_unused("mask_by_path", used,
                          ["/".join(_segments(p)) for p, _ in pairs])
        return tu.tree_unflatten(treedef, mask)

    return mask_fn
