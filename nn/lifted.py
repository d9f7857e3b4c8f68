"""Lifted transforms: `nn.scan`, `nn.remat`, `nn.vmap` over module classes (Flax's).

Each takes a module class and returns a subclass (`ScanBlock`, `CheckpointBlock`,
`VmapBlock`) with the same fields whose `__call__` runs the original one under
`lamina.lax.scan` / `lamina.checkpoint` / `lamina.vmap`. The wrapped module runs as a
pure function of its own variables (the sub-tree at its path), so the transform sees
explicit inputs and outputs.

A stack of identical blocks, compiled once (params get a leading layer axis):

>>> import lamina, lamina.numpy as lnp
>>> from lamina import nn
>>> class Block(nn.Module):
...     def __call__(self, x, _):
...         return nn.relu(nn.Dense(4)(x)), None
>>> Stack = nn.scan(Block, variable_axes={"params": 0}, split_rngs={"params": True},
...                 length=6)
>>> v = Stack().init(lamina.random.PRNGKey(0), lnp.ones((2, 4)), None)
>>> v["params"]["Dense_0"]["kernel"].shape
(6, 4, 4)
>>> Stack().apply(v, lnp.ones((2, 4)), None)[0].shape
(2, 4)
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import lamina
from lamina import tree_util as tu
from lamina.nn import module as _m

__all__ = ["scan", "remat", "vmap", "checkpoint", "broadcast"]

broadcast = _m.broadcast


def _check_target(fn: str, target: Any) -> None:
    if not (isinstance(target, type) and issubclass(target, _m.Module)):
        raise TypeError(f"lamina.nn.{fn}: target must be a Module subclass (e.g. "
                        f"nn.{fn}(Block, ...)), got {target!r}")


def _inner(self: _m.Module, target: type) -> _m.Module:
    """An instance of `target` with `self`'s field values, not attached anywhere."""
    ctx = _m._ctx()
    if ctx is not None:
        ctx.suppress += 1
    try:
        return target(**{f.name: getattr(self, f.name) for f in dataclasses.fields(target)
                         if f.init and f.name != "name"})
    finally:
        if ctx is not None:
            ctx.suppress -= 1


def _sub_vars(ctx: _m._Context, path: tuple) -> dict:
    out = {}
    for col, tree in ctx.variables.items():
        node = _m._get(tree, path)
        if isinstance(node, Mapping) and node:
            out[col] = _m._copy_dicts(node)
    return out


def _write_back(ctx: _m._Context, path: tuple, new: Mapping) -> None:
    for col, tree in new.items():
        if tree:
            _m._set_subtree(ctx.variables.setdefault(col, {}), path, tree)


def _mark_used(ctx: _m._Context, path: tuple, sub: Mapping) -> None:
    for col, tree in sub.items():
        for p in _m._leaf_paths(tree):
            ctx.used.add((col, path + p))


def _lifted_class(prefix: str, target: type, call: Callable) -> type:
    call.__name__ = "__call__"
    call.__qualname__ = f"{prefix}{target.__name__}.__call__"
    return type(f"{prefix}{target.__name__}", (target,),
                {"__call__": call, "__module__": target.__module__,
                 "__doc__": f"`{target.__name__}` lifted by nn.{prefix.lower()}."})


def _run_sub(inner: _m.Module, ctx: _m._Context, path: tuple, args: tuple, kwargs: dict,
             variables: Mapping, rngs: dict, init: bool) -> tuple[Any, dict]:
    out, c = _m._run(inner, None, args, kwargs, variables=variables, rngs=rngs,
                     train=ctx.train, mutable=ctx.mutable, init=init,
                     precision=ctx.precision, prefix=ctx.prefix + path, strict=False)
    new = {col: v for col, v in c.variables.items() if v and (init or c.is_mutable(col))}
    return out, new


# --------------------------------------------------------------------------- remat

def remat(target: type, *, policy: Any = None, prevent_cse: bool = True,
          static_argnums: int | Sequence[int] = ()) -> type:
    """`target` whose `__call__` is rematerialised in the backward pass
    (`lamina.checkpoint`): less memory for more compute. Variables keep the layout of
    `target`.

    Args:
        target: a Module subclass.
        policy, prevent_cse: as `lamina.checkpoint`.
        static_argnums: `__call__` arguments passed as Python values; as in Flax, `self`
            counts as argument 0 (`static_argnums=(2,)` for `__call__(self, x, train)`).

    >>> import lamina, lamina.numpy as lnp
    >>> from lamina import nn
    >>> RDense = nn.remat(nn.Dense)
    >>> v = RDense(3).init(lamina.random.PRNGKey(0), lnp.ones((1, 2)))
    >>> g = lamina.grad(lambda v: RDense(3).apply(v, lnp.ones((1, 2))).sum())(v)
    >>> g["params"]["kernel"].shape
    (2, 3)
    """
    _check_target("remat", target)
    sn = (static_argnums,) if isinstance(static_argnums, int) else tuple(static_argnums)
    orig = target.__call__

    def call(self: Any, *args: Any, **kwargs: Any) -> Any:
        ctx = _m._ctx()
        if ctx is None or ctx.init:
            return orig(self, *args, **kwargs)
        path = ctx.path_of(self)
        inner = _inner(self, target)
        sub = _sub_vars(ctx, path)
        rngs = ctx.sub_rngs(path)

        def f(sub: dict, rngs: dict, *args: Any) -> Any:
            return _run_sub(inner, ctx, path, args, kwargs, sub, rngs, init=False)

        for i in sn:
            if i < 1:
                raise ValueError(f"lamina.nn.remat: static_argnums count self as 0; got "
                                 f"{i}")
        out, new = lamina.checkpoint(f, policy=policy, prevent_cse=prevent_cse,
                                     static_argnums=tuple(i + 1 for i in sn))(sub, rngs, *args)
        _mark_used(ctx, path, sub)
        _write_back(ctx, path, new)
        return out

    return _lifted_class("Checkpoint", target, call)


checkpoint = remat


# --------------------------------------------------------------------------- scan

def _axes_for(fn: str, in_axes: Any, n: int) -> tuple:
    axes = in_axes if isinstance(in_axes, (tuple, list)) else (in_axes,) * n
    if len(axes) != n:
        raise ValueError(f"lamina.nn.{fn}: in_axes has {len(axes)} entries for {n} "
                         f"arguments")
    for a in axes:
        if not (a is broadcast or a == 0 or (fn == "vmap" and (a is None or isinstance(a, int)))):
            raise NotImplementedError(f"lamina.nn.{fn}: in_axes entries must be 0 or "
                                      f"nn.broadcast, got {a!r}")
    return tuple(axes)


def _check_var_axes(fn: str, variable_axes: Mapping) -> dict:
    va = dict(variable_axes or {})
    for col, ax in va.items():
        if ax != 0:
            raise NotImplementedError(f"lamina.nn.{fn}: only variable axis 0 is supported, "
                                      f"got {col!r}: {ax!r}")
    return va


def _split_rngs(rngs: dict, split: Mapping, n: int) -> tuple[dict, dict]:
    """(per-step keys stacked on axis 0, keys shared by every step)."""
    stacked, shared = {}, {}
    any_split = any(split.values())
    for s, k in rngs.items():
        do = split.get(s, any_split if s == "*" else False)
        if do:
            stacked[s] = lamina.random.split(k, n)
        else:
            shared[s] = k
    return stacked, shared


def scan(target: type, variable_axes: Mapping[str, int] | None = None,
         variable_broadcast: Any = False, variable_carry: Any = False,
         split_rngs: Mapping[str, bool] | None = None, in_axes: Any = 0,
         out_axes: Any = 0, length: int | None = None, reverse: bool = False,
         unroll: int = 1) -> type:
    """`target` looped with `lamina.lax.scan` (Flax's `nn.scan`). `target.__call__` is
    `(carry, *xs) -> (carry, y)`; the lifted one takes `(carry, *xs_stacked)` and
    returns `(carry, ys_stacked)`, tracing (and compiling) the body once.

    Args:
        target: a Module subclass.
        variable_axes: collections with one slice per step on axis 0 (e.g.
            `{'params': 0}`: a stack of different layers); other collections are
            shared by every step (e.g. the params of an RNN cell).
        variable_broadcast, variable_carry: accepted for Flax compatibility; shared
            collections are read-only, carried collections are not supported.
        split_rngs: `{'params': True, 'dropout': True}`: streams that get a different
            key per step.
        in_axes: per `xs` argument, 0 (scanned) or `nn.broadcast` (passed whole).
        out_axes: 0 only.
        length: the number of steps (needed when no `xs` is scanned).
        reverse, unroll: as `lax.scan`.
    """
    _check_target("scan", target)
    va = _check_var_axes("scan", variable_axes)
    split = dict(split_rngs or {})
    if variable_carry:
        raise NotImplementedError("lamina.nn.scan: variable_carry is not supported; carry "
                                  "state explicitly in the scan carry")
    if out_axes != 0:
        raise NotImplementedError(f"lamina.nn.scan: out_axes must be 0, got {out_axes!r}")
    del variable_broadcast
    orig = target

    def call(self: Any, carry: Any, *xs: Any) -> Any:
        ctx = _m._ctx()
        if ctx is None:
            return orig.__call__(self, carry, *xs)
        path = ctx.path_of(self)
        inner = _inner(self, orig)
        axes = _axes_for("scan", in_axes, len(xs))
        scanned = [x for x, a in zip(xs, axes) if a is not broadcast]
        lens = {leaf.shape[0] for leaf in tu.tree_leaves(scanned)}
        n = length
        if n is None:
            if not lens:
                raise ValueError("lamina.nn.scan: no scanned input to take the length from;"
                                 " pass length=")
            n = next(iter(lens))
        if len(lens) > 1 or (lens and next(iter(lens)) != n):
            raise ValueError(f"lamina.nn.scan: scanned inputs have leading sizes "
                             f"{sorted(lens)}, but length is {n}")

        def merge(step_xs: list) -> tuple:
            it = iter(step_xs)
            return tuple(x if a is broadcast else next(it) for x, a in zip(xs, axes))

        rngs = ctx.sub_rngs(path)
        step_keys, shared_keys = _split_rngs(rngs, split, n)
        if ctx.init and not _sub_vars(ctx, path):
            x0 = [tu.tree_map(lambda a: a[0], x) for x in scanned]

            def init_one(keys: dict) -> dict:
                return _run_sub(inner, ctx, path, (carry, *merge(x0)), {}, {},
                                {**shared_keys, **keys}, init=True)[1]

            if step_keys:
                stacked = lamina.vmap(init_one)(step_keys)
            else:
                one = init_one({})
                stacked = tu.tree_map(lambda a: lamina.numpy.broadcast_to(a, (n,) + a.shape),
                                      one)
            init_vars = {col: (t if col in va else tu.tree_map(lambda a: a[0], t))
                         for col, t in stacked.items()}
            _write_back(ctx, path, init_vars)
        sub = _sub_vars(ctx, path)
        per_step = {c: t for c, t in sub.items() if c in va}
        shared = {c: t for c, t in sub.items() if c not in va}

        def body(c: Any, inp: tuple) -> tuple:
            step_vars, keys, step_xs = inp
            out, new = _run_sub(inner, ctx, path, (c, *merge(step_xs)), {},
                                {**shared, **step_vars}, {**shared_keys, **keys}, init=False)
            if not (isinstance(out, tuple) and len(out) == 2):
                raise TypeError(f"lamina.nn.scan: {orig.__name__}.__call__ must return "
                                f"(carry, y), got {type(out).__name__}")
            new_steps = {col: t for col, t in new.items() if col in va}
            return out[0], (out[1], new_steps)

        c, (ys, new_steps) = lamina.lax.scan(body, carry, (per_step, step_keys, scanned),
                                             length=n, reverse=reverse, unroll=unroll)
        _mark_used(ctx, path, sub)
        if not ctx.init:
            _write_back(ctx, path, {col: t for col, t in new_steps.items()
                                    if ctx.is_mutable(col)})
        return c, ys

    return _lifted_class("Scan", target, call)


# --------------------------------------------------------------------------- vmap

def vmap(target: type, variable_axes: Mapping[str, int] | None = None,
         split_rngs: Mapping[str, bool] | None = None, in_axes: Any = 0,
         out_axes: Any = 0, axis_size: int | None = None, axis_name: Any = None) -> type:
    """`target` vectorised with `lamina.vmap` (Flax's `nn.vmap`).

    Args:
        target: a Module subclass.
        variable_axes: collections with one slice per batch entry on axis 0 (e.g.
            `{'params': 0}`: an ensemble); others are shared (broadcast).
        split_rngs: streams that get a different key per batch entry.
        in_axes, out_axes, axis_size, axis_name: as `lamina.vmap` (in_axes per
            positional argument of `__call__`).

    >>> import lamina, lamina.numpy as lnp
    >>> from lamina import nn
    >>> Ensemble = nn.vmap(nn.Dense, variable_axes={"params": 0},
    ...                    split_rngs={"params": True}, in_axes=None, axis_size=3)
    >>> v = Ensemble(2).init(lamina.random.PRNGKey(0), lnp.ones((5, 4)))
    >>> v["params"]["kernel"].shape, Ensemble(2).apply(v, lnp.ones((5, 4))).shape
    ((3, 4, 2), (3, 5, 2))
    """
    _check_target("vmap", target)
    va = _check_var_axes("vmap", variable_axes)
    split = dict(split_rngs or {})
    orig = target

    def call(self: Any, *xs: Any) -> Any:
        ctx = _m._ctx()
        if ctx is None:
            return orig.__call__(self, *xs)
        path = ctx.path_of(self)
        inner = _inner(self, orig)
        axes = tuple(None if a is broadcast else a for a in _axes_for("vmap", in_axes, len(xs)))
        sizes = {tu.tree_leaves(x)[0].shape[a] for x, a in zip(xs, axes)
                 if a is not None and tu.tree_leaves(x)}
        n = axis_size if axis_size is not None else (next(iter(sizes)) if sizes else None)
        if n is None:
            raise ValueError("lamina.nn.vmap: no mapped input to take the size from; pass "
                             "axis_size=")
        rngs = ctx.sub_rngs(path)
        step_keys, shared_keys = _split_rngs(rngs, split, n)
        if ctx.init and not _sub_vars(ctx, path):
            def init_one(keys: dict, *x: Any) -> dict:
                return _run_sub(inner, ctx, path, x, {}, {}, {**shared_keys, **keys},
                                init=True)[1]

            stacked = lamina.vmap(init_one, in_axes=(0, *axes), axis_size=n)(step_keys, *xs)
            _write_back(ctx, path, {col: (t if col in va else tu.tree_map(lambda a: a[0], t))
                                    for col, t in stacked.items()})
        sub = _sub_vars(ctx, path)
        mapped = {c: t for c, t in sub.items() if c in va}
        shared = {c: t for c, t in sub.items() if c not in va}

        def one(vars_: dict, keys: dict, *x: Any) -> Any:
            out, new = _run_sub(inner, ctx, path, x, {}, {**shared, **vars_},
                                {**shared_keys, **keys}, init=False)
            return out, {col: t for col, t in new.items() if col in va}

        out, new = lamina.vmap(one, in_axes=(0, 0, *axes), out_axes=(out_axes, 0),
                               axis_size=n, axis_name=axis_name)(mapped, step_keys, *xs)
        _mark_used(ctx, path, sub)
        if not ctx.init:
            _write_back(ctx, path, {col: t for col, t in new.items() if ctx.is_mutable(col)})
        return out

    return _lifted_class("Vmap", target, call)
