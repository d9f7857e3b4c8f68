"""lamina.optim.tree: arithmetic and lookups on pytrees, mirroring `optax.tree` (0.2.8).

Every name that `optax.tree` exposes is here with the same signature and numerics:
arithmetic (`add`, `sub`, `mul`, `div`, `scale`, `add_scale`, `vdot`, `norm`, `sum`,
`max`, `min`, `clip`, `conj`, `real`, `where`, `allclose`, ...), constructors
(`zeros_like`, `ones_like`, `full_like`, `batch_shape`, `random_like`,
`split_key_like`), dtype helpers (`cast`, `cast_like`, `dtype`), moment updates used by
optimizers (`update_moment`, `update_infinity_moment`, `update_moment_per_elem_norm`,
`bias_correction`) and optimizer-state lookups (`get`, `get_all_with_path`, `set`,
`map_params`, with `NamedTupleKey` path entries).

>>> import lamina.numpy as lnp
>>> from lamina.optim import tree
>>> a = {'w': lnp.array([1., 2.]), 'b': lnp.array(3.)}
>>> tree.add_scale(a, 0.5, a)
{'b': Array(4.5, dtype=float32, weak_type=True), 'w': Array([1.5, 3. ], dtype=float32)}
>>> tree.norm(a)
Array(3.7416575, dtype=float32)
"""
from __future__ import annotations

import builtins
import dataclasses
import functools
import operator
from typing import Any, Callable  # noqa: F401 (NamedTuple: doctest)

import lamina.lax as lax
import lamina.numpy as lnp
from lamina import tree_util as tu

__all__ = [
    "NamedTupleKey", "add", "add_scale", "allclose", "batch_shape", "bias_correction",
    "cast", "cast_like", "clip", "conj", "div", "dtype", "full_like", "get",
    "get_all_with_path", "map_params", "max", "min", "mul", "norm", "ones_like",
    "random_like", "real", "scale", "set", "size", "split_key_like", "sub", "sum",
    "unwrap_random_key_data", "update_infinity_moment", "update_moment",
    "update_moment_per_elem_norm", "vdot", "where", "zeros_like",
]

PyTree = Any
_is_none = lambda x: x is None  # noqa: E731


# --------------------------------------------------------------------------------------
# Arithmetic


def add(tree_x: PyTree, tree_y: PyTree, *other_trees: PyTree) -> PyTree:
    """Leafwise sum of two or more pytrees of the same structure.

    >>> add({'a': 1.}, {'a': 2.}, {'a': 3.})
    {'a': 6.0}
    """
    return tu.tree_map(lambda *xs: functools.reduce(operator.add, xs),
                       tree_x, tree_y, *other_trees)


def sub(tree_x: PyTree, tree_y: PyTree) -> PyTree:
    """Leafwise `tree_x - tree_y`.

    >>> sub([3., 1.], [1., 1.])
    [2.0, 0.0]
    """
    return tu.tree_map(operator.sub, tree_x, tree_y)


def mul(tree_x: PyTree, tree_y: PyTree) -> PyTree:
    """Leafwise `tree_x * tree_y`.

    >>> mul((2., 3.), (4., 5.))
    (8.0, 15.0)
    """
    return tu.tree_map(operator.mul, tree_x, tree_y)


def div(tree_x: PyTree, tree_y: PyTree) -> PyTree:
    """Leafwise `tree_x / tree_y`.

    >>> div({'a': 1.}, {'a': 4.})
    {'a': 0.25}
    """
    return tu.tree_map(operator.truediv, tree_x, tree_y)


def scale(scalar: Any, tree: PyTree) -> PyTree:
    """`scalar * tree`, leafwise.

    >>> scale(2., {'a': 1.5})
    {'a': 3.0}
    """
    return tu.tree_map(lambda x: scalar * x, tree)


def add_scale(tree_x: PyTree, scalar: Any, tree_y: PyTree) -> PyTree:
    """`tree_x + scalar * tree_y`, leafwise; None leaves of `tree_x` stay None.

    >>> add_scale({'a': lnp.array(1.), 'b': None}, 2., {'a': lnp.array(3.), 'b': None})
    {'a': Array(7., dtype=float32, weak_type=True), 'b': None}
    """
    scalar = lnp.asarray(scalar)
    return tu.tree_map(lambda x, y: None if x is None else x + scalar * y,
                       tree_x, tree_y, is_leaf=_is_none)


def _vdot(a: Any, b: Any) -> Any:
    a, b = lnp.asarray(a), lnp.asarray(b)
    if a.shape != b.shape:
        raise ValueError(f"lamina.optim.tree.vdot: leaves must have equal shapes, got "
                         f"{a.shape} and {b.shape}")
    if lnp.issubdtype(a.dtype, lnp.complexfloating):
        a = lnp.conj(a)
    # NOTE: tensordot over all axes (not ravel + dot), at HIGHEST precision, as optax.
    return lnp.tensordot(a, b, a.ndim, precision=lax.Precision.HIGHEST)


def vdot(tree_x: PyTree, tree_y: PyTree) -> Any:
    """Inner product of two pytrees (the first one conjugated), a scalar.

    >>> vdot({'a': lnp.array([1, 2]), 'b': lnp.array([1, 2])},
    ...      {'a': lnp.array([-1, -1]), 'b': lnp.array([1, 1])})
    Array(0, dtype=int32)
    """
    return tu.tree_reduce(operator.add, tu.tree_map(_vdot, tree_x, tree_y), 0)


def _pairwise_reduce(xs: list[Any]) -> Any:
    while len(xs) > 1:
        xs = [xs[i] + xs[i + 1] if i + 1 < len(xs) else xs[i] for i in range(0, len(xs), 2)]
    return xs[0]


def sum(tree: PyTree, associative_reduction: bool = False) -> Any:  # noqa: A001
    """Sum of every element of every leaf.

    Args:
        tree: a pytree of arrays.
        associative_reduction: sum the per-leaf sums pairwise (a balanced tree) instead
            of left to right; the order changes, so the last bits may too.

    >>> sum({'a': lnp.array([1., 2.]), 'b': (lnp.array(3.),)})
    Array(6., dtype=float32)
    """
    sums = tu.tree_leaves(tu.tree_map(lnp.sum, tree))
    if associative_reduction:
        return _pairwise_reduce(sums) if sums else 0
    return functools.reduce(operator.add, sums, 0)


def _leaf_reducer(fn: Callable[[Any], Any]) -> Callable[[Any], Any]:
    # NOTE: empty leaves contribute nothing (None is an empty subtree), as in optax.
    return lambda x: None if lnp.size(x) == 0 else fn(x)


def max(tree: PyTree) -> Any:  # noqa: A001
    """Largest element over all leaves (`-inf` for an empty tree).

    >>> max([lnp.array([1., 5.]), lnp.array(3.)])
    Array(5., dtype=float32)
    """
    maxes = tu.tree_leaves(tu.tree_map(_leaf_reducer(lnp.max), tree))
    return functools.reduce(lnp.maximum, maxes, -float("inf"))


def min(tree: PyTree) -> Any:  # noqa: A001
    """Smallest element over all leaves (`inf` for an empty tree).

    >>> min([lnp.array([1., 5.]), lnp.array(3.)])
    Array(1., dtype=float32)
    """
    mins = tu.tree_leaves(tu.tree_map(_leaf_reducer(lnp.min), tree))
    return functools.reduce(lnp.minimum, mins, float("inf"))


def size(tree: PyTree) -> int:
    """Total number of elements over all leaves (a Python int).

    >>> size({'a': lnp.zeros((2, 3)), 'b': 1.})
    7
    """
    return builtins.sum(int(lnp.size(leaf)) for leaf in tu.tree_leaves(tree))


def conj(tree: PyTree) -> PyTree:
    """Leafwise complex conjugate.

    >>> conj([lnp.array(1 + 2j)])
    [Array(1.-2.j, dtype=complex64, weak_type=True)]
    """
    return tu.tree_map(lnp.conj, tree)


def real(tree: PyTree) -> PyTree:
    """Leafwise real part.

    >>> real([lnp.array(1 + 2j)])
    [Array(1., dtype=float32, weak_type=True)]
    """
    return tu.tree_map(lnp.real, tree)


def _abs_square(x: Any) -> Any:
    return lnp.square(x.real) + lnp.square(x.imag)


def norm(tree: PyTree, ord: int | str | float | None = None,  # noqa: A002
         squared: bool = False) -> Any:
    """Vector norm of all leaves taken together.

    Args:
        tree: a pytree of arrays.
        ord: `None` or 2 (Euclidean), 1, or `inf` (also `'inf'`, `'infinity'`).
        squared: return the norm squared.

    >>> t = {'a': lnp.array([3., -4.])}
    >>> norm(t), norm(t, ord=1), norm(t, ord='inf'), norm(t, squared=True)
    (Array(5., dtype=float32), Array(7., dtype=float32), Array(4., dtype=float32), \
Array(25., dtype=float32))
    """
    if ord is None or ord == 2:
        sqnorm = sum(tu.tree_map(_abs_square, tree))
        return lnp.array(sqnorm if squared else lnp.sqrt(sqnorm))
    if ord == 1:
        out = sum(tu.tree_map(lnp.abs, tree))
    elif ord == float("inf") or ord in ("inf", "infinity"):
        out = max(tu.tree_map(lnp.abs, tree))
    else:
        raise ValueError(f"lamina.optim.tree.norm: unsupported ord={ord!r}; use None, 1, "
                         f"2 or inf")
    return lnp.array(_abs_square(lnp.asarray(out)) if squared else out)


def batch_shape(tree: PyTree, shape: tuple[int, ...] = ()) -> PyTree:
    """Broadcast every leaf to leading batch dimensions `shape`.

    >>> batch_shape({'a': lnp.array([1., 2.])}, (3,))['a'].shape
    (3, 2)
    """
    return tu.tree_map(lambda x: lnp.broadcast_to(x, (*shape, *lnp.shape(x))), tree)


def zeros_like(tree: PyTree, dtype: Any = None) -> PyTree:
    """A tree of zeros with the structure, shapes and (unless given) dtypes of `tree`.

    >>> zeros_like({'a': lnp.array([1., 2.])})
    {'a': Array([0., 0.], dtype=float32)}
    """
    return tu.tree_map(lambda x: lnp.zeros_like(x, dtype=dtype), tree)


def ones_like(tree: PyTree, dtype: Any = None) -> PyTree:
    """A tree of ones with the structure, shapes and (unless given) dtypes of `tree`.

    >>> ones_like({'a': lnp.array([1., 2.])}, dtype=lnp.int32)
    {'a': Array([1, 1], dtype=int32)}
    """
    return tu.tree_map(lambda x: lnp.ones_like(x, dtype=dtype), tree)


def full_like(tree: PyTree, fill_value: Any, dtype: Any = None) -> PyTree:
    """A tree like `tree` with every element equal to `fill_value`.

    >>> full_like([lnp.zeros(2)], 7.)
    [Array([7., 7.], dtype=float32)]
    """
    return tu.tree_map(lambda x: lnp.full_like(x, fill_value, dtype=dtype), tree)


def clip(tree: PyTree, min_value: Any = None, max_value: Any = None) -> PyTree:
    """Clip every leaf to `[min_value, max_value]` (either bound may be None).

    >>> clip([lnp.array([-2., 0.5, 2.])], -1., 1.)
    [Array([-1. ,  0.5,  1. ], dtype=float32)]
    """
    return tu.tree_map(lambda g: lnp.clip(g, min_value, max_value), tree)


def where(condition: Any, tree_x: PyTree, tree_y: PyTree) -> PyTree:
    """Leafwise `lnp.where(condition, x, y)`.

    >>> where(True, {'a': 1.}, {'a': 2.})
    {'a': Array(1., dtype=float32, weak_type=True)}
    """
    return tu.tree_map(lambda x, y: lnp.where(condition, x, y), tree_x, tree_y)


def allclose(a: PyTree, b: PyTree, rtol: Any = 1e-05, atol: Any = 1e-08,
             equal_nan: bool = False) -> Any:
    """Whether every leaf of `a` is close to the matching leaf of `b` (`lnp.allclose`).

    >>> bool(allclose({'a': lnp.array(1.)}, {'a': lnp.array(1. + 1e-7)}))
    True
    """
    close = tu.tree_map(
        lambda x, y: lnp.allclose(x, y, rtol=rtol, atol=atol, equal_nan=equal_nan), a, b)
    return functools.reduce(operator.and_, tu.tree_leaves(close), True)


# --------------------------------------------------------------------------------------
# Moments (used by the optimizers)


def update_moment(updates: PyTree, moments: PyTree, decay: Any, order: int) -> PyTree:
    """EMA of the `order`-th moment: `(1 - decay) * g**order + decay * m`.

    >>> update_moment({'a': lnp.array(2.)}, {'a': lnp.array(1.)}, 0.5, 2)
    {'a': Array(2.5, dtype=float32, weak_type=True)}
    """
    return tu.tree_map(
        lambda g, t: None if g is None else (1 - decay) * (g ** order) + decay * t,
        updates, moments, is_leaf=_is_none)


def update_infinity_moment(updates: PyTree, moments: PyTree, decay: Any,
                           eps: Any) -> PyTree:
    """EMA of the infinity norm: `max(|g| + eps, decay * m)`.

    >>> update_infinity_moment([lnp.array(-2.)], [lnp.array(4.)], 0.9, 0.)
    [Array(3.6, dtype=float32, weak_type=True)]
    """
    return tu.tree_map(
        lambda g, t: g if g is None else lnp.maximum(lnp.abs(g) + eps, decay * t),
        updates, moments, is_leaf=_is_none)


def update_moment_per_elem_norm(updates: PyTree, moments: PyTree, decay: Any,
                                order: int) -> PyTree:
    """EMA of the `order`-th power of the elementwise modulus (complex-safe).

    >>> update_moment_per_elem_norm([lnp.array(3 + 4j)], [lnp.array(0.)], 0.5, 2)
    [Array(12.5, dtype=float32, weak_type=True)]
    """
    def orderth_norm(g: Any) -> Any:
        if lnp.isrealobj(g):
            return g ** order
        half = order / 2
        # NOTE: an integral power stays an int so it lowers to integer_pow, as optax.
        if float(half).is_integer():
            half = int(half)
        return ((g.conj() * g).real) ** half

    return tu.tree_map(
        lambda g, t: None if g is None else (1 - decay) * orderth_norm(g) + decay * t,
        updates, moments, is_leaf=_is_none)


def bias_correction(moment: PyTree, decay: Any, count: Any) -> PyTree:
    """Divide by `1 - decay**count` (computed in float32, applied in each leaf's dtype).

    >>> bias_correction({'m': lnp.array(0.1)}, 0.9, lnp.array(1))
    {'m': Array(0.99999976, dtype=float32)}
    """
    d, c = lnp.asarray(decay), lnp.asarray(count)
    dt = lnp.result_type(d, c)
    # NOTE: lax.pow on a float exponent, never integer_pow: optax jits this function, so
    # the count is a tracer there and jnp.power takes that path. The division happens
    # in the moment's dtype so bf16 moments stay bf16.
    correction = 1 - lax.pow(d.astype(dt), c.astype(dt))
    return tu.tree_map(lambda t: t / correction.astype(t.dtype), moment)


# --------------------------------------------------------------------------------------
# dtypes


def cast(tree: PyTree, dtype: Any) -> PyTree:
    """Cast every leaf to `dtype`; `dtype=None` returns the tree unchanged.

    >>> cast({'a': lnp.array(1.5)}, lnp.bfloat16)
    {'a': Array(1.5, dtype=bfloat16)}
    """
    if dtype is None:
        return tree
    return tu.tree_map(lambda t: t.astype(dtype), tree)


def cast_like(tree: PyTree, other_tree: PyTree) -> PyTree:
    """Cast each leaf to the dtype of the matching leaf of `other_tree` (if it has one).

    >>> cast_like({'a': lnp.array(1.)}, {'a': lnp.array(1, dtype=lnp.int8)})
    {'a': Array(1, dtype=int8)}
    """
    return tu.tree_map(lambda t, o: t.astype(o.dtype) if hasattr(o, "dtype") else t,
                       tree, other_tree)


def _lower_dtype(d1: Any, d2: Any) -> Any:
    promoted = lnp.promote_types(d1, d2)
    if promoted == d1:
        return d2
    if promoted == d2:
        return d1
    raise ValueError(f"lamina.optim.tree.dtype: cannot order {d1} and {d2}: neither "
                     f"promotes to the other; use mixed_dtype_handler='promote'")


def _higher_dtype(d1: Any, d2: Any) -> Any:
    return d2 if _lower_dtype(d1, d2) == d1 else d1


def dtype(tree: PyTree, mixed_dtype_handler: str | None = None) -> Any:
    """The dtype of the leaves of `tree`.

    Args:
        tree: a pytree of arrays (an empty tree gives the default float dtype).
        mixed_dtype_handler: None (all leaves must share one dtype), `'promote'`,
            `'highest'` or `'lowest'`.

    >>> t = {'a': lnp.array(1., dtype=lnp.float16), 'b': lnp.array(2.)}
    >>> dtype(t, 'lowest'), dtype(t, 'highest')
    (dtype('float16'), dtype('float32'))
    """
    leaves = tu.tree_leaves(tree)
    if not leaves:
        return lnp.asarray(leaves).dtype
    dtypes_ = [lnp.asarray(x).dtype for x in leaves]
    if mixed_dtype_handler is None:
        bad = [(tu.keystr(p), lnp.asarray(x).dtype)
               for p, x in tu.tree_leaves_with_path(tree)
               if lnp.asarray(x).dtype != dtypes_[0]]
        if bad:
            raise ValueError("\n".join(f"Expected dtype={dtypes_[0]} for {p} but got {d}."
                                       for p, d in bad))
        return dtypes_[0]
    if mixed_dtype_handler == "promote":
        return functools.reduce(lnp.promote_types, dtypes_)
    if mixed_dtype_handler == "highest":
        return functools.reduce(_higher_dtype, dtypes_)
    if mixed_dtype_handler == "lowest":
        return functools.reduce(_lower_dtype, dtypes_)
    raise ValueError(f"Invalid value for mixed_dtype_handler={mixed_dtype_handler!r}, "
                     f"possible values are: None, 'promote', 'highest', 'lowest'.")


# --------------------------------------------------------------------------------------
# Random trees (lamina.random is imported on first use)


def _random_module() -> Any:
    try:
        from lamina import random  # noqa: PLC0415
    except ImportError as e:  # pragma: no cover - depends on lamina.random landing
        raise NotImplementedError(
            "lamina.optim.tree: random_like/split_key_like need lamina.random, which "
            "this lamina build does not have") from e
    return random


def split_key_like(rng_key: Any, target_tree: PyTree) -> PyTree:
    """Split `rng_key` into one key per leaf of `target_tree`, in that tree's shape."""
    treedef = tu.tree_structure(target_tree)
    keys = _random_module().split(rng_key, treedef.num_leaves)
    return tu.tree_unflatten(treedef, list(keys))


def random_like(rng_key: Any, target_tree: PyTree, sampler: Callable[..., Any] | None = None,
                dtype: Any = None) -> PyTree:
    """A tree shaped like `target_tree` filled by `sampler(key, shape, dtype)`.

    `sampler` defaults to `lamina.random.normal`; `dtype` defaults to each leaf's dtype.
    """
    random = _random_module()
    sampler = random.normal if sampler is None else sampler
    keys = split_key_like(rng_key, target_tree)
    return tu.tree_map(lambda leaf, key: sampler(key, leaf.shape, dtype or leaf.dtype),
                       target_tree, keys)


def unwrap_random_key_data(input_tree: PyTree) -> PyTree:
    """Replace typed PRNG key leaves by their raw `uint32` data (others unchanged).

    >>> unwrap_random_key_data({'a': lnp.array(1.)})
    {'a': Array(1., dtype=float32, weak_type=True)}
    """
    def is_key(x: Any) -> bool:
        return str(getattr(x, "dtype", "")).startswith("key<")

    # NOTE: is_leaf, because lamina's key arrays may be pytree nodes over their data.
    return tu.tree_map(lambda x: _random_module().key_data(x) if is_key(x) else x,
                       input_tree, is_leaf=is_key)


# --------------------------------------------------------------------------------------
# Optimizer-state lookups


@dataclasses.dataclass(frozen=True)
class NamedTupleKey:
    """Path entry for field `name` of a NamedTuple of type name `tuple_name`.

    Used in the paths given by `get_all_with_path` and to `filtering` callables, so
    that equal field names in different states (`ScaleByAdamState.count`,
    `ScaleByScheduleState.count`) can be told apart.

    >>> str(NamedTupleKey('ScaleByAdamState', 'mu'))
    'ScaleByAdamState.mu'
    """

    tuple_name: str
    name: str

    def __str__(self) -> str:
        return f"{self.tuple_name}.{self.name}"


def _is_namedtuple(x: Any) -> bool:
    return isinstance(x, tuple) and hasattr(x, "_fields")


def _has_keys(node: Any, keys: tuple[Any, ...]) -> bool:
    if _is_namedtuple(node):
        return (any(k in node._fields for k in keys)
                or type(node).__name__ in keys)
    return isinstance(node, dict) and any(k in node for k in keys)


def _leaves_with_nt_path(tree: PyTree, is_leaf: Callable[[Any], bool] | None = None
                         ) -> list[tuple[tuple, Any]]:
    """`tree_leaves_with_path`, but NamedTuple fields get `NamedTupleKey` entries."""
    stop = is_leaf or (lambda _: False)
    out = []
    for path, node in tu.tree_leaves_with_path(
            tree, is_leaf=lambda x: stop(x) or _is_namedtuple(x)):
        if stop(node) or not _is_namedtuple(node):
            out.append((path, node))
            continue
        for field in node._fields:
            entry = NamedTupleKey(type(node).__name__, field)
            out += [((*path, entry, *p), v)
                    for p, v in _leaves_with_nt_path(getattr(node, field), is_leaf)]
    return out


def _children_with_path(path: tuple, node: Any) -> list[tuple[tuple, Any]]:
    if _is_namedtuple(node):
        return [((*path, NamedTupleKey(type(node).__name__, f)), getattr(node, f))
                for f in node._fields]
    if isinstance(node, dict):
        return [((*path, tu.DictKey(k)), v) for k, v in node.items()]
    raise ValueError(f"Subtree must be a dict or a NamedTuple. Got {type(node)}")


def _entry_key(entry: Any) -> Any:
    if isinstance(entry, tu.DictKey):
        if isinstance(entry.key, (str, int)):
            return entry.key
        raise KeyError("Hashable keys not supported")
    if isinstance(entry, tu.FlattenedIndexKey):
        return entry.key
    if isinstance(entry, tu.GetAttrKey):
        return entry.name
    if isinstance(entry, tu.SequenceKey):
        return entry.idx
    if isinstance(entry, NamedTupleKey):
        return entry.name
    raise KeyError(f"Tree key '{entry}' of type '{type(entry)}' not valid.")


def _get_all(tree: PyTree, key: Any) -> list[tuple[tuple, Any]]:
    has_key = functools.partial(_has_keys, keys=(key,))
    subtrees = [(p, n) for p, n in _leaves_with_nt_path(tree, is_leaf=has_key)
                if has_key(n)]
    found = []
    for path, node in subtrees:
        if _is_namedtuple(node):
            if key == type(node).__name__:
                found.append((path, node))
            else:
                found.append(((*path, NamedTupleKey(type(node).__name__, key)),
                              getattr(node, key)))
        else:
            found.append(((*path, tu.DictKey(key)), node[key]))
    # NOTE: matches nested inside a match come after all the outer ones, as in optax.
    for path, node in subtrees:
        for child_path, child in _children_with_path(path, node):
            found += [((*child_path, *p), v) for p, v in _get_all(child, key)]
    return found


def get_all_with_path(tree: PyTree, key: Any,
                      filtering: Callable[[tuple, Any], bool] | None = None
                      ) -> list[tuple[tuple, Any]]:
    """Every `(path, value)` in `tree` whose dict key, NamedTuple field or NamedTuple
    type name is `key`, optionally kept only where `filtering(path, value)` holds.

    >>> from typing import NamedTuple
    >>> class S(NamedTuple):
    ...     count: int
    >>> [(tu.keystr(p), v) for p, v in get_all_with_path(({'count': 1}, S(2)), 'count')]
    [("[0]['count']", 1), ('[1]S.count', 2)]
    """
    found = _get_all(tree, key)
    if filtering:
        found = [(p, v) for p, v in found if filtering(p, v)]
    return found


def get(tree: PyTree, key: Any, default: Any = None,
        filtering: Callable[[tuple, Any], bool] | None = None) -> Any:
    """The single value of `key` in `tree` (see `get_all_with_path`), or `default`.

    Raises:
        KeyError: `key` occurs more than once (narrow it with `filtering`).

    >>> get({'inner': {'lr': 0.1}}, 'lr'), get({}, 'lr', default=-1)
    (0.1, -1)
    """
    found = get_all_with_path(tree, key, filtering=filtering)
    if len(found) > 1:
        raise KeyError(f"Found multiple values for '{key}' in {tree}.")
    return found[0][1] if found else default


def set(tree: PyTree, filtering: Callable[[tuple, Any], bool] | None = None,  # noqa: A001
        /, **kwargs: Any) -> PyTree:
    """A copy of `tree` with every value under the keys of `kwargs` replaced.

    Raises:
        KeyError: some key of `kwargs` is nowhere in `tree` (after `filtering`).

    >>> set({'a': {'count': 0}, 'b': 1}, count=5)
    {'a': {'count': 5}, 'b': 1}
    """
    for key in kwargs:
        if not get_all_with_path(tree, key, filtering):
            if filtering:
                raise KeyError(f"Found no values matching '{key}' given the filtering "
                               f"operation in {tree}")
            raise KeyError(f"Found no values matching '{key}' in {tree}")
    has_any = functools.partial(_has_keys, keys=tuple(kwargs))

    def replace(path: tuple, node: Any) -> Any:
        if not has_any(node):
            return node
        if (_is_namedtuple(node) and type(node).__name__ in kwargs
                and (filtering is None or filtering(path, node))):
            return kwargs[type(node).__name__]
        new = {}
        for child_path, child in _children_with_path(path, node):
            k = _entry_key(child_path[-1])
            if k in kwargs and (filtering is None or filtering(child_path, child)):
                new[k] = kwargs[k]
            elif isinstance(child, (dict, list, tuple)):
                new[k] = replace(child_path, child)
            else:
                new[k] = child
        return node._replace(**new) if _is_namedtuple(node) else new

    _, treedef = tu.tree_flatten(tree, is_leaf=has_any)
    return treedef.unflatten(
        [replace(p, n) for p, n in _leaves_with_nt_path(tree, is_leaf=has_any)])


class _ParamsPlaceholder:
    """Stands in for the params when `map_params` runs `init` to locate them."""


tu.register_pytree_node(_ParamsPlaceholder, lambda _: ((), None),
                        lambda aux, children: _ParamsPlaceholder())


def map_params(initable: Any, f: Callable[..., Any], state: PyTree, /, *rest: PyTree,
               transform_non_params: Callable[..., Any] | None = None,
               is_leaf: Callable[[Any], bool] | None = None) -> PyTree:
    """Apply `f` leafwise to every copy of the params tree inside an optimizer state.

    `initable` is the optimizer (anything with `.init`) or its init function; it is
    run on a placeholder to find where the state holds param-shaped trees. Other
    fields go through `transform_non_params` when given, else stay unchanged.

    >>> init = lambda p: {'count': 0, 'mu': p}
    >>> map_params(init, lambda x: x * 10, {'count': 3, 'mu': [1., 2.]})
    {'count': 3, 'mu': [10.0, 20.0]}
    """
    placeholder = _ParamsPlaceholder()
    init = initable.init if hasattr(initable, "init") else initable
    with_placeholders = init(placeholder)

    def map_one(marker: Any, value: Any) -> Any:
        if isinstance(marker, _ParamsPlaceholder):
            return tu.tree_map(f, value, *rest, is_leaf=is_leaf)
        if transform_non_params is not None:
            return transform_non_params(value)
        return value

    return tu.tree_map(map_one, with_placeholders, state,
                       is_leaf=lambda v: isinstance(v, _ParamsPlaceholder))
