"""The `Module` base class: Equinox-style declarations, Flax-style explicit variables.

A module is a frozen, hashable dataclass of hyperparameters (and submodules). Its
parameters live outside it, in a nested dict returned by `init` and passed to `apply`:

>>> import lamina, lamina.numpy as lnp
>>> from lamina import nn
>>> class Affine(nn.Module):
...     features: int
...     def __call__(self, x):                       # (..., d) -> (..., features)
...         w = self.param("w", nn.initializers.ones, (x.shape[-1], self.features))
...         b = self.param("b", nn.initializers.zeros, (self.features,))
...         return x @ w + b
>>> model = Affine(2)
>>> variables = model.init(lamina.random.PRNGKey(0), lnp.ones((1, 3)))
>>> lamina.tree_util.tree_map(lambda a: a.shape, variables)
{'params': {'b': (2,), 'w': (3, 2)}}
>>> model.apply(variables, lnp.ones((1, 3)))
Array([[3., 3.]], dtype=float32)

How a call finds its variables: `init`/`apply` push a context; every method of a
module (`__call__` and public methods) is wrapped so that, inside a context, it runs
at a *path* of names from the root. A submodule gets its name from the dataclass field
holding it (`encoder`, or `layers_0` for the first of a tuple field), from `name=`, or,
when created inline in a method, `ClassName_i` counted per parent and per call. The
same submodule object always maps to the same path, so reusing it shares parameters.
"""
from __future__ import annotations

import dataclasses
import functools
import inspect
import threading
import typing
import zlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

import lamina
from lamina import tree_util as tu
from lamina.errors import LaminaError

__all__ = [
    "Module", "Variable", "BoundModule", "broadcast", "NNError", "ParamShapeError",
    "MissingVariableError", "UnusedVariableError", "MissingRngError", "NameInUseError",
    "UnboundModuleError", "ImmutableVariableError",
]

PyTree = Any
Path = tuple[str, ...]


# --------------------------------------------------------------------------- errors

class NNError(LaminaError):
    """Base class of lamina.nn's errors."""


class ParamShapeError(NNError, ValueError):
    """A parameter passed to `apply` has a different shape than the module creates.

    Wrong::

        variables = small_model.init(key, x)
        big_model.apply(variables, x)          # params from another model

    Right: `apply` with the variables that `init` of the *same* model (and input
    sizes) returned.
    """


class MissingVariableError(NNError, LookupError):
    """`apply` got variables without a parameter (or state) that the module uses.

    Wrong: `model.apply(variables['params'], x)`. Right: `model.apply(variables, x)`
    with the whole dict from `init` (`{'params': ..., 'state': ...}`).
    """


class UnusedVariableError(NNError, ValueError):
    """`apply(..., method=None)` got parameters that no module read (extra keys).

    Usually params from another model. Pass `strict=False` to allow them (e.g. when
    `__call__` skips some layers on purpose).
    """


class MissingRngError(NNError, LookupError):
    """A module asked for a random stream (`self.make_rng('dropout')`) that `apply` was
    not given. Right: `model.apply(variables, x, rngs={'dropout': key})` or `rngs=key`.
    """


class NameInUseError(NNError, ValueError):
    """Two different submodules of one parent got the same name.

    Wrong: `Dense(3, name='proj')(x); Dense(4, name='proj')(x)` in one `__call__`.
    Right: distinct names, or reuse one instance to share its parameters.
    """


class UnboundModuleError(NNError, RuntimeError):
    """A module method that needs variables ran outside `init`/`apply`/`bind`.

    Wrong: `Dense(3)(x)`. Right: `Dense(3).apply(variables, x)`, or
    `Dense(3).bind(variables)(x)`.
    """


class ImmutableVariableError(NNError, RuntimeError):
    """A module wrote a variable of a collection `apply` was not told is mutable.

    Wrong: `model.apply(variables, x, train=True)` with BatchNorm. Right:
    `y, new_state = model.apply(variables, x, train=True, mutable=['state'])`.
    """


# --------------------------------------------------------------------------- helpers

class _Broadcast:
    def __repr__(self) -> str:
        return "nn.broadcast"


broadcast = _Broadcast()
"""Marker for lifted transforms' `in_axes`: pass the argument whole to every step."""


def _path_str(path: Sequence[str]) -> str:
    return "/".join(path) if path else "<root>"


def _hash_str(s: str) -> int:
    return zlib.crc32(s.encode()) & 0x7FFFFFFF


def _short(x: Any) -> str:
    shape = getattr(x, "shape", None)
    dtype = getattr(x, "dtype", None)
    if shape is None:
        return f"{type(x).__name__} {x!r}"[:80]
    return f"{np.dtype(dtype).name if dtype is not None else '?'}{list(shape)}"


def _copy_dicts(tree: Any) -> Any:
    if isinstance(tree, Mapping):
        return {k: _copy_dicts(v) for k, v in tree.items()}
    return tree


def _get(tree: Any, path: Path) -> Any:
    for p in path:
        if not isinstance(tree, Mapping) or p not in tree:
            return None
        tree = tree[p]
    return tree


def _node(tree: dict, path: Path, create: bool) -> dict | None:
    for p in path:
        nxt = tree.get(p)
        if nxt is None:
            if not create:
                return None
            nxt = tree[p] = {}
        elif not isinstance(nxt, dict):
            raise NNError(f"lamina.nn: '{p}' at path '{_path_str(path)}' is both a "
                          f"variable and a submodule name; rename one of them")
        tree = nxt
    return tree


def _set_subtree(tree: dict, path: Path, value: Any) -> None:
    if not path:
        tree.clear()
        tree.update(value)
        return
    parent = _node(tree, path[:-1], create=True)
    parent[path[-1]] = value


def _leaf_paths(tree: Any, prefix: Path = ()) -> list[Path]:
    if isinstance(tree, Mapping):
        out = []
        for k, v in tree.items():
            out.extend(_leaf_paths(v, prefix + (str(k),)))
        return out
    return [prefix]


def _is_array(x: Any) -> bool:
    return hasattr(x, "shape") and hasattr(x, "dtype")


_expected_cache: dict[Any, Any] = {}


def _expected_aval(init_fn: Callable, args: tuple) -> Any:
    """Shape/dtype that `init_fn(key, *args)` gives, by abstract evaluation (cached)."""
    try:
        ck = (init_fn, args)
        hash(ck)
    except TypeError:
        ck = None
    if ck is not None and ck in _expected_cache:
        return _expected_cache[ck]
    try:
        out = lamina.eval_shape(lambda k: init_fn(k, *args), lamina.random.PRNGKey(0))
    except Exception:  # NOTE: an init_fn that cannot be traced just skips the check
        out = None
    if ck is not None and len(_expected_cache) < 4096:
        _expected_cache[ck] = out
    return out


# --------------------------------------------------------------------------- context

_STATE = threading.local()


def _stack() -> list:
    st = getattr(_STATE, "stack", None)
    if st is None:
        st = _STATE.stack = []
    return st


def _ctx() -> _Context | None:
    st = _stack()
    return st[-1] if st else None


class _Context:
    """The variables, rngs and module paths of one `init`/`apply` run."""

    def __init__(self, *, init: bool, variables: Mapping, rngs: dict, train: bool,
                 mutable: Any, precision: Any, prefix: Path = (), strict: bool = True):
        self.init = init
        self.variables: dict[str, dict] = _copy_dicts(dict(variables))
        self.rngs = rngs
        self.train = bool(train)
        self.mutable = mutable
        self.precision = precision
        self.prefix = prefix
        self.strict = strict
        self.paths: dict[int, tuple[Module, Path]] = {}
        self.frames: list[tuple[Module, Path]] = []
        self.counters: dict[Path, dict[str, int]] = {}
        self.taken: dict[Path, dict[str, Module]] = {}
        self.rng_counts: dict[tuple[str, Path], int] = {}
        self.used: set[tuple[str, Path]] = set()
        self.suppress = 0
        self.capture: list | None = None

    # ----- module paths
    def attach(self, module: Module, parent: Path, name: str | None = None) -> Path:
        n = name or module.name
        if n is None:
            prefix = type(module).__name__
            cnt = self.counters.setdefault(parent, {})
            i = cnt.get(prefix, 0)
            cnt[prefix] = i + 1
            n = f"{prefix}_{i}"
        taken = self.taken.setdefault(parent, {})
        if n in taken and taken[n] is not module:
            raise NameInUseError(
                f"lamina.nn: two different submodules of '{_path_str(self.prefix + parent)}'"
                f" are named '{n}' ({taken[n]!r} and {module!r}); give them distinct "
                f"names, or reuse one instance to share its parameters")
        taken[n] = module
        path = parent + (n,)
        self.paths[id(module)] = (module, path)
        return path

    def path_of(self, module: Module) -> Path:
        ent = self.paths.get(id(module))
        if ent is not None and ent[0] is module:
            return ent[1]
        # NOTE: a module made outside this run and called here joins the caller.
        return self.attach(module, self.frames[-1][1] if self.frames else ())

    def register_fields(self, module: Module, path: Path) -> None:
        for f in dataclasses.fields(module):
            if f.name == "name":
                continue
            v = getattr(module, f.name, None)
            if isinstance(v, Module):
                items = [(f.name, v)]
            elif isinstance(v, (tuple, list)):
                items = [(f"{f.name}_{i}", m) for i, m in enumerate(v) if isinstance(m, Module)]
            elif isinstance(v, Mapping):
                items = [(f"{f.name}_{k}", m) for k, m in v.items() if isinstance(m, Module)]
            else:
                continue
            for n, m in items:
                if id(m) not in self.paths:
                    self.attach(m, path, name=n)

    # ----- collections
    def is_mutable(self, col: str) -> bool:
        if self.init:
            return True
        m = self.mutable
        if m is True:
            return col != "params"
        if not m:
            return False
        if isinstance(m, str):
            return col == m
        return col in m

    def full(self, path: Path) -> str:
        return _path_str(self.prefix + path)

    # ----- rngs
    def stream_key(self, stream: str, path: Path) -> Any:
        if stream in self.rngs:
            return self.rngs[stream]
        if "*" in self.rngs:
            return lamina.random.fold_in(self.rngs["*"], _hash_str(stream))
        given = sorted(k for k in self.rngs if k != "*")
        raise MissingRngError(
            f"lamina.nn: module at '{self.full(path)}' asked for random stream "
            f"'{stream}', but {'init' if self.init else 'apply'} got rngs for "
            f"{given or 'no stream'}; pass rngs={{'{stream}': key}} (or rngs=key for "
            f"every stream)")

    def next_rng(self, stream: str, path: Path) -> Any:
        base = self.stream_key(stream, path)
        n = self.rng_counts.get((stream, path), 0)
        self.rng_counts[(stream, path)] = n + 1
        k = lamina.random.fold_in(base, _hash_str(_path_str(self.prefix + path)))
        return lamina.random.fold_in(k, n)

    def sub_rngs(self, path: Path) -> dict:
        return {s: self.next_rng(s if s != "*" else "__any__", path) for s in self.rngs}


# --------------------------------------------------------------------------- Variable

class Variable:
    """A handle on one variable of a non-param collection (e.g. BatchNorm statistics):
    read and write `.value` inside a module method."""

    __slots__ = ("_ctx", "collection", "path", "name")

    def __init__(self, ctx: _Context, collection: str, path: Path, name: str):
        self._ctx, self.collection, self.path, self.name = ctx, collection, path, name

    @property
    def value(self) -> Any:
        node = _node(self._ctx.variables.setdefault(self.collection, {}), self.path, False)
        self._ctx.used.add((self.collection, self.path + (self.name,)))
        return node[self.name]

    @value.setter
    def value(self, v: Any) -> None:
        ctx = self._ctx
        if not ctx.is_mutable(self.collection):
            raise ImmutableVariableError(
                f"lamina.nn: module at '{ctx.full(self.path)}' wrote variable "
                f"'{self.collection}/{_path_str(self.path)}/{self.name}', but collection "
                f"'{self.collection}' is immutable in this apply; pass "
                f"mutable=['{self.collection}'] (or mutable=True) and use the returned "
                f"(y, new_state)")
        node = _node(ctx.variables.setdefault(self.collection, {}), self.path, True)
        node[self.name] = v

    def __repr__(self) -> str:
        return f"Variable({self.collection}/{_path_str(self.path + (self.name,))})"


# --------------------------------------------------------------------------- Module

def _wrap_method(fn: Callable) -> Callable:
    @functools.wraps(fn)
    def wrapped(self: Module, *args: Any, **kwargs: Any) -> Any:
        ctx = _ctx()
        if ctx is None or ctx.suppress:
            return fn(self, *args, **kwargs)
        path = ctx.path_of(self)
        if all(p != path for _, p in ctx.frames):
            # NOTE: a fresh call of this module restarts its auto-names, so calling
            # a module twice reuses (shares) the submodules it makes inline.
            ctx.counters[path] = {}
            ctx.taken[path] = {}
        ctx.frames.append((self, path))
        try:
            ctx.register_fields(self, path)
            out = fn(self, *args, **kwargs)
        finally:
            ctx.frames.pop()
        if ctx.capture is not None and fn.__name__ == "__call__":
            ctx.capture.append((path, type(self).__name__, out))
        return out

    wrapped._lamina_wrapped = True  # type: ignore[attr-defined]
    return wrapped


def _register_new(module: Module) -> None:
    ctx = _ctx()
    if ctx is None or ctx.suppress or not ctx.frames or id(module) in ctx.paths:
        return
    ctx.attach(module, ctx.frames[-1][1])


def _wrap_init(init: Callable) -> Callable:
    @functools.wraps(init)
    def __init__(self: Module, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        _register_new(self)

    __init__._lamina_wrapped = True  # type: ignore[attr-defined]
    return __init__


@typing.dataclass_transform(field_specifiers=(dataclasses.field,))
class Module:
    """Base class of lamina.nn modules (Flax linen's role, Equinox's declaration style).

    Subclasses become frozen dataclasses: annotated fields give the `__init__`
    (positional or keyword), instances are immutable and hashable, so a module can be
    a static argument of `jit`. Every module also takes a keyword `name=`.

    Inside a method: `self.param`, `self.variable`, `self.make_rng`,
    `self.is_training`, `self.is_initializing()`, `self.path`.

    >>> import lamina, lamina.numpy as lnp
    >>> from lamina import nn
    >>> class MLP(nn.Module):
    ...     features: tuple
    ...     def __call__(self, x):
    ...         for f in self.features[:-1]:
    ...             x = nn.relu(nn.Dense(f)(x))
    ...         return nn.Dense(self.features[-1], name="head")(x)
    >>> model = MLP((8, 2))
    >>> params = model.init(lamina.random.PRNGKey(0), lnp.ones((4, 3)))
    >>> sorted(params["params"])
    ['Dense_0', 'head']
    >>> model.apply(params, lnp.ones((4, 3))).shape
    (4, 2)
    >>> hash(model) == hash(MLP((8, 2)))
    True
    """

    name: str | None = dataclasses.field(default=None, kw_only=True)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        fields = cls.__dict__.get("__annotations__", {})
        for attr, fn in list(cls.__dict__.items()):
            if (attr not in fields and inspect.isfunction(fn) and (attr == "__call__" or not attr.startswith("_"))
                    and not getattr(fn, "_lamina_wrapped", False)):
                setattr(cls, attr, _wrap_method(fn))
        dataclasses.dataclass(frozen=True)(cls)
        if not getattr(cls.__init__, "_lamina_wrapped", False):
            cls.__init__ = _wrap_init(cls.__init__)  # type: ignore[method-assign]

    # ----- inside methods
    def _context(self, what: str) -> tuple[_Context, Path]:
        ctx = _ctx()
        if ctx is None:
            raise UnboundModuleError(
                f"lamina.nn: {type(self).__name__}.{what} was used outside init/apply; "
                f"call model.init(key, x) for variables, then model.apply(variables, x) "
                f"(or model.bind(variables)(x))")
        return ctx, ctx.path_of(self)

    @property
    def path(self) -> Path:
        """Names from the root module to this one (`()` for the root)."""
        ctx, path = self._context("path")
        return ctx.prefix + path

    @property
    def is_training(self) -> bool:
        """The `train=` flag given to `init`/`apply` (False by default)."""
        return self._context("is_training")[0].train

    def is_initializing(self) -> bool:
        """True while `init` runs."""
        return self._context("is_initializing()")[0].init

    def is_mutable_collection(self, collection: str) -> bool:
        """Whether writes to `collection` are allowed in this run."""
        return self._context("is_mutable_collection")[0].is_mutable(collection)

    def param(self, name: str, init_fn: Callable[..., Any], *init_args: Any) -> Any:
        """The parameter `name` of this module: `init_fn(key, *init_args)` at init, the
        value from `variables['params']` at apply (its shape checked against what
        `init_fn` would give)."""
        ctx, path = self._context(f"param('{name}')")
        tree = ctx.variables.setdefault("params", {})
        node = _node(tree, path, create=ctx.init)
        if node is not None and name in node:
            value = node[name]
            if isinstance(value, dict):
                raise NNError(f"lamina.nn: '{name}' at '{ctx.full(path)}' is both a "
                              f"parameter and a submodule name; rename one of them")
            ctx.used.add(("params", path + (name,)))
            if not ctx.init:
                self._check_param(ctx, path, name, value, init_fn, init_args)
            return value
        if not ctx.init:
            have = sorted(node) if node is not None else []
            raise MissingVariableError(
                f"lamina.nn: module {type(self).__name__} at '{ctx.full(path)}' needs "
                f"parameter '{name}', but variables['params'] has no "
                f"'{_path_str(path + (name,))}' (keys there: {have}). Pass the variables "
                f"that init of this same model returned"
                + ("" if "params" in ctx.variables and ctx.variables["params"] else
                   "; note apply takes the whole dict {'params': ...}, not params alone"))
        key = lamina.random.fold_in(ctx.stream_key("params", path),
                                    _hash_str(_path_str(ctx.prefix + path + (name,))))
        value = init_fn(key, *init_args)
        pol = ctx.precision
        if pol is not None and getattr(pol, "params", None) is not None and \
                _is_array(value) and lamina.numpy.issubdtype(value.dtype, lamina.numpy.floating):
            value = value.astype(pol.params)
        node[name] = value
        ctx.used.add(("params", path + (name,)))
        return value

    def _check_param(self, ctx: _Context, path: Path, name: str, value: Any,
                     init_fn: Callable, init_args: tuple) -> None:
        if not _is_array(value):
            raise ParamShapeError(
                f"lamina.nn: parameter '{_path_str(path + (name,))}' of module "
                f"{type(self).__name__} at '{ctx.full(path)}' is {_short(value)}, not an "
                f"array")
        exp = _expected_aval(init_fn, init_args)
        if exp is None or not hasattr(exp, "shape"):
            return
        if tuple(exp.shape) != tuple(value.shape):
            raise ParamShapeError(
                f"lamina.nn: parameter '{_path_str(path + (name,))}' of module "
                f"{type(self).__name__} at '{ctx.full(path)}' has shape "
                f"{_short(value)}, but the module expects shape "
                f"{np.dtype(exp.dtype).name}{list(exp.shape)}. The params probably come "
                f"from another model or other input sizes; re-run init with this model "
                f"and example inputs")

    def has_variable(self, collection: str, name: str) -> bool:
        """Whether variable `collection/<path>/name` exists."""
        ctx, path = self._context("has_variable")
        node = _get(ctx.variables.get(collection), path)
        return isinstance(node, Mapping) and name in node

    def variable(self, collection: str, name: str, init_fn: Callable[..., Any] | None = None,
                 *init_args: Any) -> Variable:
        """A `Variable` of `collection` (e.g. 'state'): created as `init_fn(*init_args)`
        (no key) at init, or in apply when the collection is mutable; read from the
        variables otherwise."""
        ctx, path = self._context(f"variable('{collection}', '{name}')")
        if collection == "params":
            raise NNError("lamina.nn: use self.param(...) for parameters; self.variable "
                          "is for other collections such as 'state'")
        tree = ctx.variables.setdefault(collection, {})
        node = _node(tree, path, create=False)
        if node is None or name not in node:
            if not ctx.is_mutable(collection) or init_fn is None:
                raise MissingVariableError(
                    f"lamina.nn: module {type(self).__name__} at '{ctx.full(path)}' needs "
                    f"variable '{collection}/{_path_str(path + (name,))}', which the "
                    f"variables lack (collections given: {sorted(ctx.variables)}). Pass "
                    f"the whole dict init returned (it has '{collection}'), or make "
                    f"'{collection}' mutable to create it")
            _node(tree, path, create=True)[name] = init_fn(*init_args)
        return Variable(ctx, collection, path, name)

    def make_rng(self, name: str = "params") -> Any:
        """A fresh key from stream `name` (e.g. 'dropout'); each call, module and call
        site gets a different one, deterministically."""
        ctx, path = self._context(f"make_rng('{name}')")
        return ctx.next_rng(name, path)

    # ----- entry points
    def init(self, rngs: Any, *args: Any, method: Any = None, train: bool = False,
             precision: Any = None, **kwargs: Any) -> dict:
        """Create the variables (`{'params': ...}` plus e.g. `'state'`) by running
        `method` (default `__call__`) on example inputs.

        Runs under `jit`: the forward pass is only traced, and XLA drops everything
        but the initializers, so no FLOPs are spent on it. Inputs may be
        `lamina.ShapeDtypeStruct`s.

        Args:
            rngs: a key (used for 'params' and any other stream) or
                `{'params': key, 'dropout': key, ...}`.
            *args, **kwargs: example inputs of `method`. Non-array values are static.
            method: None, a method name, or a function `fn(module, *args)`.
            train: the `is_training` flag during init.
            precision: an `nn.Precision` policy (its `params` dtype casts floats).
        """
        rng_dict = _as_rngs(rngs, "init")
        leaves, treedef = tu.tree_flatten((args, kwargs),
                                          is_leaf=lambda x: isinstance(x, lamina.ShapeDtypeStruct))
        dyn_idx = [i for i, x in enumerate(leaves) if _is_array(x)]
        static = tuple(None if i in dyn_idx else x for i, x in enumerate(leaves))
        dyn = [leaves[i] if not isinstance(leaves[i], lamina.ShapeDtypeStruct)
               else lamina.numpy.zeros(leaves[i].shape, leaves[i].dtype) for i in dyn_idx]

        def run(rng_dict: dict, dyn: list) -> dict:
            full = list(static)
            for i, x in zip(dyn_idx, dyn):
                full[i] = x
            a, kw = tu.tree_unflatten(treedef, full)
            _, ctx = _run(self, method, a, kw, variables={}, rngs=rng_dict, train=train,
                          mutable=True, init=True, precision=precision)
            return {k: v for k, v in ctx.variables.items() if v}

        ck = (self, method, bool(train), precision, treedef, static, tuple(sorted(rng_dict)))
        try:
            hash(ck)
        except TypeError:
            return lamina.jit(run)(rng_dict, dyn)
        fn = _INIT_CACHE.get(ck)
        if fn is None:
            if len(_INIT_CACHE) > 256:
                _INIT_CACHE.clear()
            fn = _INIT_CACHE[ck] = lamina.jit(run)
        return fn(rng_dict, dyn)

    def init_with_output(self, rngs: Any, *args: Any, method: Any = None,
                         train: bool = False, precision: Any = None,
                         **kwargs: Any) -> tuple[Any, dict]:
        """`(output, variables)`: `init` that also returns the method's output (eager;
        the forward pass does run)."""
        out, ctx = _run(self, method, args, kwargs, variables={},
                        rngs=_as_rngs(rngs, "init"), train=train, mutable=True, init=True,
                        precision=precision)
        return out, {k: v for k, v in ctx.variables.items() if v}

    def apply(self, variables: Mapping[str, Any], *args: Any, rngs: Any = None,
              train: bool = False, mutable: Any = False, method: Any = None,
              precision: Any = None, strict: bool = True, **kwargs: Any) -> Any:
        """Run `method` (default `__call__`) with `variables`. Pure: jit/vmap/grad-able.

        Args:
            variables: what `init` returned (`{'params': ..., 'state': ...}`).
            rngs: None, a key (serves every stream), or `{'dropout': key, ...}`.
            train: the `is_training` flag (dropout on, batch statistics used).
            mutable: False, True (every collection but 'params') or a list of
                collection names the call may write.
            method: None, a method name (`"encode"`), or `fn(module, *args)`.
            precision: an `nn.Precision` policy for this call.
            strict: with `method=None`, raise if some parameter was never read.

        Returns:
            `y`, or `(y, new_state)` when `mutable` is set; `new_state` is a dict of the
            mutable collections (`{'state': ...}`), to merge into `variables`.
        """
        if not isinstance(variables, Mapping):
            raise TypeError(f"lamina.nn: {type(self).__name__}.apply: variables must be "
                            f"the dict init returned, got {type(variables).__name__}")
        out, ctx = _run(self, method, args, kwargs, variables=variables,
                        rngs=_as_rngs(rngs, "apply"), train=train, mutable=mutable,
                        init=False, precision=precision, strict=strict)
        if strict and method is None:
            _check_unused(self, variables, ctx)
        if mutable:
            new = {c: v for c, v in ctx.variables.items() if ctx.is_mutable(c) and v}
            return out, new
        return out

    def bind(self, variables: Mapping[str, Any], *, rngs: Any = None, train: bool = False,
             mutable: Any = False, precision: Any = None) -> BoundModule:
        """A callable view with `variables` attached, for interactive use:
        `model.bind(v)(x)` is `model.apply(v, x)`, `model.bind(v).encode(x)` applies a
        method. With `mutable`, new state is kept in `.variables`."""
        return BoundModule(self, variables, rngs=rngs, train=train, mutable=mutable,
                           precision=precision)


dataclasses.dataclass(frozen=True)(Module)

_INIT_CACHE: dict[Any, Any] = {}


def _as_rngs(rngs: Any, fn: str) -> dict:
    if rngs is None:
        return {}
    if isinstance(rngs, Mapping):
        return dict(rngs)
    if _is_array(rngs):
        return {"params": rngs, "*": rngs} if fn == "init" else {"*": rngs}
    raise TypeError(f"lamina.nn: {fn}: rngs must be a key (lamina.random.PRNGKey(0)) or "
                    f"a dict {{'params': key, 'dropout': key}}, got {type(rngs).__name__}")


def _resolve_method(module: Module, method: Any) -> Callable:
    if method is None:
        method = "__call__"
    if isinstance(method, str):
        fn = getattr(type(module), method, None)
        if fn is None or not callable(fn):
            raise AttributeError(f"lamina.nn: {type(module).__name__} has no method "
                                 f"{method!r} to apply")
        return fn
    if callable(method):
        return method
    raise TypeError(f"lamina.nn: method must be None, a method name or a callable "
                    f"fn(module, *args), got {method!r}")


def _run(module: Module, method: Any, args: tuple, kwargs: dict, *, variables: Mapping,
         rngs: dict, train: bool, mutable: Any, init: bool, precision: Any,
         prefix: Path = (), strict: bool = True) -> tuple[Any, _Context]:
    fn = _resolve_method(module, method)
    ctx = _Context(init=init, variables=variables, rngs=rngs, train=train, mutable=mutable,
                   precision=precision, prefix=prefix, strict=strict)
    parent = _ctx()
    if parent is not None and parent.capture is not None:
        ctx.capture = parent.capture
    ctx.paths[id(module)] = (module, ())
    st = _stack()
    st.append(ctx)
    ctx.frames.append((module, ()))
    try:
        ctx.register_fields(module, ())
        out = fn(module, *args, **kwargs)
    finally:
        ctx.frames.pop()
        st.pop()
    pol = precision
    if pol is not None and getattr(pol, "output", None) is not None and not prefix:
        out = tu.tree_map(
            lambda a: a.astype(pol.output) if _is_array(a) and
            lamina.numpy.issubdtype(a.dtype, lamina.numpy.floating) else a, out)
    return out, ctx


def _check_unused(module: Module, variables: Mapping, ctx: _Context) -> None:
    params = variables.get("params")
    if not isinstance(params, Mapping):
        return
    unused = [p for p in _leaf_paths(params) if ("params", p) not in ctx.used]
    if unused:
        shown = ", ".join(_path_str(p) for p in unused[:8])
        raise UnusedVariableError(
            f"lamina.nn: {type(module).__name__}.apply: parameters [{shown}"
            f"{', ...' if len(unused) > 8 else ''}] were not used by any module (extra "
            f"keys: the params probably come from another model). Pass the variables "
            f"init of this model returned, or strict=False if skipping them is intended")


class BoundModule:
    """`module.bind(variables)`: call it (or its methods) without passing variables."""

    def __init__(self, module: Module, variables: Mapping, *, rngs: Any, train: bool,
                 mutable: Any, precision: Any):
        self.module = module
        self.variables = dict(variables)
        self._kw = dict(rngs=rngs, train=train, mutable=mutable, precision=precision)

    @property
    def params(self) -> Any:
        return self.variables.get("params")

    def _call(self, method: Any, *args: Any, **kwargs: Any) -> Any:
        out = self.module.apply(self.variables, *args, method=method,
                                **self._kw, **kwargs)
        if self._kw["mutable"]:
            out, new = out
            self.variables.update(new)
        return out

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._call(None, *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        attr = getattr(type(self.module), name, None)
        if inspect.isfunction(attr):
            return functools.partial(self._call, name)
        return getattr(self.module, name)

    def unbind(self) -> tuple[Module, dict]:
        return self.module, self.variables

    def __repr__(self) -> str:
        return f"BoundModule({self.module!r})"
