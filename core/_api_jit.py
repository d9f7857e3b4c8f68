"""`jit`, `make_jaxpr` and `eval_shape`: staging Python functions into programs."""
from __future__ import annotations

import functools
import inspect
import operator
import weakref
from typing import Any, Callable, Hashable, Sequence

from lamina import tree_util
from lamina._tree_registry import _registry_epoch
from lamina.config import config
from lamina.interpreters import axis_env, lowering
from lamina.interpreters.partial_eval import close_over_consts, trace_to_program
from lamina.backend.array import Array, ShardedArray, new_array, scalar_to_device
from lamina.backend.client import default_device
from lamina.backend.compile import canonical_compiler_options
from lamina.interpreters.eval import EvalTrace, to_array
from lamina.ir import (AbstractArray, Program, ShapeDtypeStruct, Tracer, _current_trace,
                       shaped_abstractify)
from lamina.lax.calls import _jit_executables, jit_impl, jit_p


def _as_index_tuple(x: int | Sequence[int] | None) -> tuple[int, ...]:
    if x is None:
        return ()
    return (int(x),) if isinstance(x, int) else tuple(int(i) for i in x)


def _as_name_tuple(x: str | Sequence[str] | None) -> tuple[str, ...]:
    if x is None:
        return ()
    return (x,) if isinstance(x, str) else tuple(x)


def _abstractify_leaf(fun_name: str, path: str, x: Any) -> AbstractArray:
    try:
        return shaped_abstractify(x)
    except TypeError:
        raise TypeError(f"{fun_name}: argument {path} of type {type(x).__name__} is not a "
                        "valid lamina array type. Pass arrays, scalars or pytrees of them, "
                        "or mark the argument static (static_argnums / static_argnames)."
                        ) from None


def _leaf_paths(tree: Any) -> list[str]:
    leaves, _ = tree_util.tree_flatten_with_path(tree)
    return [tree_util.keystr(p) for p, _ in leaves]


class _Signature:
    """Splits a call's arguments into static and dynamic parts, as jax.jit does."""

    def __init__(self, fun: Callable[..., Any], static_argnums: tuple[int, ...],
                 static_argnames: tuple[str, ...], donate_argnums: tuple[int, ...],
                 donate_argnames: tuple[str, ...]) -> None:
        try:
            params = list(inspect.signature(fun).parameters.values())
        except (TypeError, ValueError):
            params = []
        positional = [p.name for p in params
                      if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        # argnums and argnames name the same parameters: complete each from the other.
        static_argnames = tuple(dict.fromkeys(
            [*static_argnames, *[positional[i] for i in static_argnums if i < len(positional)]]))
        static_argnums = tuple(sorted(set(
            [*static_argnums, *[positional.index(n) for n in static_argnames if n in positional]])))
        donate_argnums = tuple(sorted(set(
            [*donate_argnums, *[positional.index(n) for n in donate_argnames if n in positional]])))
        self.static_argnums, self.static_argnames = static_argnums, static_argnames
        self.donate_argnums = donate_argnums
        self.donate_argnames = donate_argnames

    def split(self, args: tuple[Any, ...], kwargs: dict[str, Any]
              ) -> tuple[tuple[Any, ...], dict[str, Any], tuple[Any, ...]]:
        """-> (dynamic args, dynamic kwargs, hashable static part)."""
        static_argnums, static_argnames = self.static_argnums, self.static_argnames
        if not static_argnums and (not kwargs or not static_argnames):
            return args, kwargs, ()  # nothing to split (NOTE: on the dispatch path)
        n = len(args)
        statics = tuple([(i, args[i]) for i in static_argnums if i < n])
        if kwargs and static_argnames:
            statics += tuple(sorted([(k, v) for k, v in kwargs.items()
                                     if k in static_argnames]))
            dyn_kwargs = {k: v for k, v in kwargs.items() if k not in static_argnames}
        else:
            dyn_kwargs = kwargs
        dyn_args = (tuple([a for i, a in enumerate(args) if i not in static_argnums])
                    if static_argnums and static_argnums[0] < n else args)
        for where, value in statics:
            try:
                hash(value)
            except TypeError:
                raise ValueError(
                    f"jit: static argument {where!r} of type {type(value).__name__} is not "
                    "hashable; static arguments must be hashable (use a tuple instead of "
                    "a list, or pass arrays as non-static arguments).") from None
        return dyn_args, dyn_kwargs, statics

    def merge(self, dyn_args: Sequence[Any], dyn_kwargs: dict[str, Any],
              statics: tuple[Any, ...]) -> tuple[list[Any], dict[str, Any]]:
        static_pos = {k: v for k, v in statics if isinstance(k, int)}
        n = len(dyn_args) + len(static_pos)
        it = iter(dyn_args)
        args = [static_pos[i] if i in static_pos else next(it) for i in range(n)]
        kwargs = {**dyn_kwargs, **{k: v for k, v in statics if isinstance(k, str)}}
        return args, kwargs

    def donated_leaves(self, dyn_args: Sequence[Any], dyn_kwargs: dict[str, Any]) -> list[bool]:
        flags = []
        dyn_index = [i for i in range(len(dyn_args) + len(self.static_argnums))
                     if i not in self.static_argnums]
        for i, a in zip(dyn_index, dyn_args):
            flags += [i in self.donate_argnums] * len(tree_util.tree_leaves(a))
        for k, v in dyn_kwargs.items():
            flags += [k in self.donate_argnames] * len(tree_util.tree_leaves(v))
        return flags


class _Staged:
    """One traced specialisation of a jitted function.

    `in_shardings` / `out_shardings`: per program input (constants first) / output, the
    sharding given to `jit` or None; `partitioned`: run with XLA's SPMD partitioner.
    """

    __slots__ = ("program", "consts", "out_tree", "donated", "in_shardings", "out_shardings",
                 "partitioned")

    def __init__(self, program: Program, consts: list[Any], out_tree: Any,
                 donated: tuple[bool, ...], in_shardings: tuple[Any, ...] = (),
                 out_shardings: tuple[Any, ...] = ()) -> None:
        from lamina.lax.sharding_ops import program_meshes
        from lamina._api_pmap import contains_pmap  # (issue 5: jit(pmap(f)) runs replicated)
        self.program, self.consts, self.out_tree, self.donated = program, consts, out_tree, donated
        self.in_shardings, self.out_shardings = in_shardings, out_shardings
        self.partitioned = bool(program_meshes(program)) or contains_pmap(program)


_MISS = object()
_SCALAR_TYPES = frozenset((bool, int, float, complex))
_FAST_CACHE_SIZE = 64  # signatures per jitted function with a fast-path launcher
_flags = config._values  # NOTE: read directly on the dispatch path (no __getattr__)
_get_trace = _current_trace.get
_get_aval = operator.attrgetter("aval")
_get_frames = axis_env._frames.get


def _fast_signature(args: tuple[Any, ...]) -> tuple[Any, ...] | None:
    """Per argument its aval (an Array) or its type (a Python scalar, whose aval the
    type gives); None if another kind of argument needs the general path."""
    key = []
    for a in args:
        t = type(a)
        if t is Array:
            key.append(a.aval)
        elif t in _SCALAR_TYPES:
            key.append(t)
        else:
            return None
    return tuple(key)


def _output_builder(staged: _Staged, out_avals: Sequence[AbstractArray], device: Any
                    ) -> tuple[Callable[[list[Any]], Any], int | None]:
    """(`build(output buffers)`: the call's result, each buffer wrapped as an Array and
    the Arrays put into the output structure by its recipe (`PyTreeDef._builder`),
    the registry epoch that recipe holds for, or None for a single output). Callers
    check the epoch before running: once a registration changed it, the general path
    builds the outputs."""
    out_tree = staged.out_tree
    if len(out_avals) == 1 and tree_util.treedef_is_leaf(out_tree):
        out_aval = out_avals[0]
        return (lambda outs: new_array(outs[0], out_aval, device)), None
    build = out_tree._builder()
    return (lambda outs: build([new_array(b, aval, device)
                                for b, aval in zip(outs, out_avals)])), _registry_epoch[0]


def _fast_launcher(exe: Any, staged: _Staged, scalars: list[tuple[int, AbstractArray]]
                   ) -> Callable[[tuple[Any, ...]], Any]:
    """`launch(args)`: `jit`'s eager call for one signature (its compiled program `exe`,
    captured constants and output tree), with the per-call work cut to what can change
    between calls of that signature: each argument's device (checked, not compared) and
    whether a buffer was deleted. Returns _MISS for the general path to handle (and
    raise its errors) when either needs it. Python scalar arguments (`scalars`: their
    positions and avals) are transferred as the general path does (`to_array`)."""
    device = exe.device
    const_arrays = tuple(staged.consts)
    run = exe._launch
    out_avals = exe.out_avals
    out_aval = out_avals[0] if len(out_avals) == 1 else None
    build, epoch = _output_builder(staged, out_avals, device)
    single = epoch is None

    def launch_arrays(args: tuple[Any, ...]) -> Any:
        # NOTE: `launch` for the common signature: Arrays only, nothing captured.
        bufs = []
        try:
            for a in args:
                buf = a._buf
                if a._device is not device or buf is None or buf.is_deleted():
                    return _MISS
                bufs.append(buf)
        except AttributeError:  # a value with an aval that is not an Array
            return _MISS
        outs = run(bufs)
        if single:
            return new_array(outs[0], out_aval, device)
        return build(outs)

    def launch_arrays_tree(args: tuple[Any, ...]) -> Any:
        # NOTE: outputs in a pytree: its recipe holds for one registry epoch.
        if _registry_epoch[0] != epoch:
            return _MISS
        return launch_arrays(args)

    def launch(args: tuple[Any, ...]) -> Any:
        if not single and _registry_epoch[0] != epoch:
            return _MISS
        try:
            if scalars:
                args = list(args)
                for i, aval in scalars:
                    args[i] = scalar_to_device(args[i], aval.dtype, aval.weak_type)
            bufs = []
            for a in const_arrays:
                buf = a._buf
                if buf is None or buf.is_deleted():
                    return _MISS
                bufs.append(buf)
            for a in args:
                # NOTE: fails (AttributeError) for a value with an aval that is not an
                # Array, e.g. an escaped tracer.
                buf = a._buf
                if a._device is not device or buf is None or buf.is_deleted():
                    return _MISS
                bufs.append(buf)
        except Exception:
            return _MISS  # the general path handles (or rejects) the arguments
        outs = run(bufs)
        if single:
            return new_array(outs[0], out_aval, device)
        return build(outs)

    if scalars or const_arrays:
        return launch
    return launch_arrays if single else launch_arrays_tree


def _tree_launcher(exe: Any, staged: _Staged, leaves: Sequence[Any],
                   signature: tuple[Any, ...]) -> Callable[[list[Any]], Any]:
    """`launch(leaves)`: `_fast_launcher` for arguments given as the leaves of a pytree
    (a train step's params and optimizer state), found by their structure alone
    (`PyTreeDef._matcher`), so it checks the leaves' signature itself: each Array
    leaf's aval (by identity first: an earlier call's outputs fed back carry the very
    objects it saw last time) and each Python scalar's type. Returns _MISS where the
    signature differs or the general path is needed."""
    device = exe.device
    const_arrays = tuple(staged.consts)
    run = exe._launch
    build, _ = _output_builder(staged, exe.out_avals, device)
    epoch = _registry_epoch[0]  # NOTE: the arguments' matcher depends on it too
    expected = list(signature)  # NOTE: updated to the latest equal avals seen
    # Python scalar leaves: (position, type, aval of its 0-d Array)
    scalars = [(i, type(x), shaped_abstractify(x)) for i, x in enumerate(leaves)
               if type(x) is not Array]
    for i, _, aval in scalars:
        expected[i] = aval

    def launch(leaves: list[Any]) -> Any:
        if _registry_epoch[0] != epoch:
            return _MISS
        bufs = []
        for a in const_arrays:
            buf = a._buf
            if buf is None or buf.is_deleted():
                return _MISS
            bufs.append(buf)
        try:
            for i, t, aval in scalars:
                x = leaves[i]
                if type(x) is not t:
                    return _MISS
                leaves[i] = scalar_to_device(x, aval.dtype, aval.weak_type)
            stale = False
            for a, aval in zip(leaves, expected):
                if a.aval is not aval:
                    if a.aval != aval:
                        return _MISS
                    stale = True
                buf = a._buf
                if a._device is not device or buf is None or buf.is_deleted():
                    return _MISS
                bufs.append(buf)
        except Exception:  # e.g. an escaped tracer, or a scalar out of its dtype's range
            return _MISS  # the general path handles (or rejects) the arguments
        if stale:
            expected[:] = [a.aval for a in leaves]
        return build(run(bufs))

    return launch


# Every live jitted function, so that `lamina.clear_caches()` can empty their tables.
_live: "weakref.WeakSet[JitWrapped]" = weakref.WeakSet()


class JitWrapped:
    """The callable returned by `lamina.jit(fun)`."""

    def __init__(self, fun: Callable[..., Any], static_argnums: Any = None,
                 static_argnames: Any = None, donate_argnums: Any = None,
                 donate_argnames: Any = None, keep_unused: bool = False,
                 inline: bool = False, in_shardings: Any = None,
                 out_shardings: Any = None, compiler_options: Any = None) -> None:
        if not callable(fun):
            raise TypeError(f"jit: expected a function, got {type(fun).__name__}: {fun!r}")
        self._fun = fun
        self._compiler_options = canonical_compiler_options(compiler_options, "jit")
        self._sig = _Signature(fun, _as_index_tuple(static_argnums),
                               _as_name_tuple(static_argnames), _as_index_tuple(donate_argnums),
                               _as_name_tuple(donate_argnames))
        self._keep_unused = keep_unused
        self._inline = inline
        self._in_shardings, self._out_shardings = in_shardings, out_shardings
        self._cache: dict[Hashable, _Staged] = {}
        # The dispatch fast path, per value of enable_x64: the positional arguments'
        # signature (`_fast_signature`) -> launcher (`_fast_launcher`).
        self._fast: tuple[dict[tuple[Any, ...], Any], ...] = ({}, {})
        # ... and for pytree arguments, per value of enable_x64: (argument treedef,
        # leaves' signature) -> (its matcher, `_tree_launcher`); `_recent` holds the
        # entry that served last, tried first by structure alone (no key to build).
        self._fast_trees: tuple[dict[tuple[Any, ...], Any], ...] = ({}, {})
        self._recent: list[Any] = [None] * 4
        _live.add(self)
        self._fast_ok = (not self._sig.static_argnums and in_shardings is None
                         and out_shardings is None)
        # ... the fast path for calls with keyword or static arguments: keyed on
        # `_Signature.split` (`_call_split`), in `_fast_trees` too, and `_recent[x64 + 2]`
        self._split_ok = in_shardings is None and out_shardings is None
        self._name = getattr(fun, "__name__", type(fun).__name__)
        # NOTE (issue 5): updated=(), or fun.__dict__ (a PmapWrapped's or JitWrapped's
        # own state) would overwrite this wrapper's: jit(pmap(f)) ran f unmapped.
        functools.update_wrapper(self, fun, updated=())

    def __get__(self, obj: Any, objtype: Any = None) -> Any:
        # Decorating a method: bind `self` like a function would.
        return self if obj is None else functools.partial(self, obj)

    def _stage(self, args: tuple[Any, ...], kwargs: dict[str, Any]
               ) -> tuple[_Staged, list[Any]]:
        dyn_args, dyn_kwargs, statics = self._sig.split(args, kwargs)
        leaves, in_tree = tree_util.tree_flatten((dyn_args, dyn_kwargs))
        try:
            avals = tuple(shaped_abstractify(x) for x in leaves)
        except TypeError:
            paths = _leaf_paths((dyn_args, dyn_kwargs))
            for p, x in zip(paths, leaves):
                _abstractify_leaf(f"jit({self._name})", p, x)
            raise
        # NOTE: the axis names in scope are part of the key: a body traced under
        # pmap/vmap(axis_name=...) may hold collectives over them.
        key = (in_tree, avals, statics, config.enable_x64, axis_env.frames())
        staged = self._cache.get(key)
        if staged is None:
            staged = self._trace(in_tree, avals, statics,
                                 tuple(self._sig.donated_leaves(dyn_args, dyn_kwargs)))
            if not any(isinstance(c, Tracer) for c in staged.consts):
                self._cache[key] = staged  # closures over tracers must retrace
        return staged, leaves

    def _trace(self, in_tree: Any, avals: tuple[AbstractArray, ...], statics: tuple[Any, ...],
               donated: tuple[bool, ...]) -> _Staged:
        out_tree_box: list[Any] = []

        def flat_fun(*flat_args: Any) -> list[Any]:
            dyn_args, dyn_kwargs = tree_util.tree_unflatten(in_tree, flat_args)
            call_args, call_kwargs = self._sig.merge(dyn_args, dyn_kwargs, statics)
            out = self._fun(*call_args, **call_kwargs)
            out_leaves, out_tree = tree_util.tree_flatten(out)
            out_tree_box.append(out_tree)
            return out_leaves

        flat_in: list[Any] = []
        flat_out: list[Any] = []
        if self._in_shardings is not None or self._out_shardings is not None:
            flat_fun = self._constrained(flat_fun, in_tree, out_tree_box, flat_in, flat_out)
        program, consts = close_over_consts(trace_to_program(flat_fun, avals))
        return _Staged(program, consts, out_tree_box[0],
                       (False,) * len(consts) + donated,
                       (None,) * len(consts) + tuple(flat_in), tuple(flat_out))

    def _constrained(self, flat_fun: Callable[..., Any], in_tree: Any,
                     out_tree_box: list[Any], flat_in: list[Any], flat_out: list[Any]
                     ) -> Callable[..., Any]:
        """`flat_fun` with its inputs and outputs constrained to the shardings given to
        jit (so they also hold where this jit is inlined into a larger program); the
        flat shardings are recorded in `flat_in` / `flat_out`."""
        from lamina._spmd import flatten_prefix
        from lamina.lax.sharding_ops import sharding_constraint_p
        from lamina.sharding import NamedSharding, PartitionSpec as P, resolve_sharding
        api = f"jit({self._name})"

        def resolve(s: Any) -> Any:
            return None if s is None else resolve_sharding(api, s)

        def constrain(xs: Sequence[Any], shardings: Sequence[Any]) -> list[Any]:
            out = []
            for x, s in zip(xs, shardings):
                if isinstance(s, NamedSharding):
                    s.shard_shape(shaped_abstractify(x).shape)  # clear rank/divisibility errors
                    x = sharding_constraint_p.bind(x, sharding=s)
                out.append(x)
            return out

        def wrapped(*flat_args: Any) -> list[Any]:
            dyn_args, dyn_kwargs = tree_util.tree_unflatten(in_tree, flat_args)
            if self._in_shardings is not None:
                # one sharding for every argument, or one entry per positional argument
                prefix = self._in_shardings
                if not isinstance(prefix, (tuple, list)) or isinstance(prefix, P):
                    prefix = (prefix,) * len(dyn_args)
                flat_in[:] = [resolve(s) for s in flatten_prefix(
                    api, "in_shardings", tuple(prefix), tuple(dyn_args))]
                flat_in.extend([None] * len(tree_util.tree_leaves(dyn_kwargs)))
            else:
                flat_in[:] = [None] * len(flat_args)
            outs = flat_fun(*constrain(flat_args, flat_in))
            if self._out_shardings is not None:
                out_tree = tree_util.tree_unflatten(out_tree_box[-1], outs)
                flat_out[:] = [resolve(s) for s in flatten_prefix(
                    api, "out_shardings", self._out_shardings, out_tree)]
            else:
                flat_out[:] = [None] * len(outs)
            return constrain(outs, flat_out)

        return wrapped

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        # NOTE: debug_nans/infs skip the fast path (their one cost when off: the dict
        # lookup).
        if (kwargs or not self._fast_ok) and self._split_ok:
            # keyword or static arguments: the fast path keyed on the split call
            if _get_trace() is None and not _flags["debug_floats"] and not _get_frames():
                out = self._call_split(args, kwargs, 1 if _flags["enable_x64"] else 0)
                if out is not _MISS:
                    return out
        elif self._fast_ok and not kwargs and _get_trace() is None and not _flags["debug_floats"]:
            # NOTE: the dispatch fast path: the arguments' signature (`_fast_signature`)
            # finds a launcher made by an earlier call of that signature; it returns
            # _MISS where an argument needs the general path's handling (or error).
            x64 = 1 if _flags["enable_x64"] else 0
            try:
                # NOTE: spelled out for few arguments: building the tuple through an
                # iterator costs several times as much.
                n = len(args)
                if n == 1:
                    key = (args[0].aval,)
                elif n == 2:
                    key = (args[0].aval, args[1].aval)
                elif n == 3:
                    key = (args[0].aval, args[1].aval, args[2].aval)
                else:
                    key = tuple(map(_get_aval, args))
            except (AttributeError, TypeError):
                if not _get_frames():
                    out = self._call_tree(args, x64)
                    if out is not _MISS:
                        return out
            else:
                launch = self._fast[x64].get(key)
                if launch is not None and not _get_frames():
                    out = launch(args)
                    if out is not _MISS:
                        return out
        if _flags["debug_floats"]:
            return self._call_debug_floats(args, kwargs)
        return self._call(args, kwargs)

    def _call_tree(self, args: tuple[Any, ...], x64: int) -> Any:
        """The fast path for arguments that are not all Arrays: Arrays and Python
        scalars (`self._fast`, by `_fast_signature`), or pytrees of them. For pytrees
        the structure that served the last such call is tried first (matched in place,
        `PyTreeDef._matcher`: no flatten, no key to hash); else `self._fast_trees` by
        (treedef, signature of the leaves). _MISS: the general path is needed."""
        recent = self._recent[x64]
        if recent is not None:
            match, launch = recent
            leaves: list[Any] = []
            try:
                hit = match(args, leaves)
            except Exception:  # a custom node's flatten or aux comparison failed
                hit = False
            if hit:
                out = launch(leaves)
                if out is not _MISS:
                    return out
        signature = _fast_signature(args)
        if signature is not None:  # Arrays and Python scalars
            launch = self._fast[x64].get(signature)
            return _MISS if launch is None else launch(args)
        leaves, treedef = tree_util.tree_flatten(args)
        signature = _fast_signature(leaves)
        if signature is None:
            return _MISS
        # NOTE: a PyTreeDef first keeps these keys apart from the flat ones.
        entry = self._fast_trees[x64].get((treedef, signature))
        if entry is None:
            return _MISS
        out = entry[1](leaves)
        if out is not _MISS:
            self._recent[x64] = entry
        return out

    def _call_split(self, args: tuple[Any, ...], kwargs: dict[str, Any], x64: int) -> Any:
        """The fast path for calls with keyword or static arguments: `_call_tree` for
        the dynamic arguments `(args, kwargs)` (as `_stage` flattens them), with the
        static values (hashed and compared, as jax does) in the key. _MISS: the general
        path is needed."""
        try:
            dyn_args, dyn_kwargs, statics = self._sig.split(args, kwargs)
        except Exception:
            return _MISS  # e.g. an unhashable static argument: the general path's error
        tree = (dyn_args, dyn_kwargs)
        recent = self._recent[x64 + 2]
        if recent is not None:
            match, launch, recent_statics = recent
            leaves: list[Any] = []
            try:
                hit = recent_statics == statics and match(tree, leaves)
            except Exception:
                hit = False
            if hit:
                out = launch(leaves)
                if out is not _MISS:
                    return out
        leaves, treedef = tree_util.tree_flatten(tree)
        signature = _fast_signature(leaves)
        if signature is None:
            return _MISS
        # NOTE: three entries: apart from `_call_tree`'s keys of positional calls.
        entry = self._fast_trees[x64].get((treedef, signature, statics))
        if entry is None:
            return _MISS
        out = entry[1](leaves)
        if out is not _MISS:
            self._recent[x64 + 2] = entry
        return out

    def _call_debug_floats(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """`self(*args, **kwargs)` under debug_nans/debug_infs: a NaN (inf) in the outputs
        of a compiled program run within this call re-runs the function op by op (jax's
        `maybe_recursive_nan_check`)."""
        from lamina import _debug_floats
        state = _debug_floats._state
        if state["deoptimized"]:
            return self._fun(*args, **kwargs)
        state["depth"] += 1
        try:
            return self._call(args, kwargs, debug_floats=True)
        except _debug_floats._JitBadFloat as e:
            found = e
        finally:
            state["depth"] -= 1
        _debug_floats.rerun_deoptimized(found.name, found.kind, self._fun, args, kwargs)

    def _call(self, args: tuple[Any, ...], kwargs: dict[str, Any],
              debug_floats: bool = False) -> Any:
        """The general path of `self(*args, **kwargs)`: stage (or find the staged
        program), then run it (eagerly) or bind it (under a transformation)."""
        staged, leaves = self._stage(args, kwargs)
        trace = _current_trace.get()
        if trace is None or type(trace) is EvalTrace:
            # Eager: run the compiled program directly (what binding jit_p in the eval
            # trace would do, minus the dispatch).
            if staged.partitioned or any(type(x) is ShardedArray for x in leaves):
                from lamina import _spmd
                operands = [*staged.consts, *leaves]
                if staged.partitioned or _spmd.needs_partitioning(staged.program, operands):
                    outs = _spmd.run(staged.program, operands, donated=staged.donated,
                                     in_shardings=staged.in_shardings,
                                     out_shardings=staged.out_shardings, name=self._name,
                                     compiler_options=self._compiler_options)
                    return tree_util.tree_unflatten(staged.out_tree, outs)
            arrays = [x if type(x) is Array else to_array(x) for x in [*staged.consts, *leaves]]
            # NOTE: no donation under debug_nans/infs: a re-run needs the arguments.
            outs = jit_impl(*arrays, program=staged.program, name=self._name,
                            donated=(False,) * len(arrays) if debug_floats else staged.donated,
                            compiler_options=self._compiler_options)
            if trace is None and not _get_frames() and not debug_floats:
                if self._fast_ok and not kwargs:
                    self._add_fast_launcher(args, staged, arrays)
                elif self._split_ok:
                    self._add_split_launcher(args, kwargs, staged, arrays)
        else:  # donation applies to the outermost, eager call only
            outs = jit_p.bind(*staged.consts, *leaves, program=staged.program,
                              name=self._name, donated=(False,) * len(staged.donated))
        return tree_util.tree_unflatten(staged.out_tree, outs)

    def _add_fast_launcher(self, args: tuple[Any, ...], staged: _Staged,
                           arrays: list[Array]) -> None:
        """After a general eager call `self(*args)`: when its arguments are all Arrays
        and Python scalars, or pytrees of them, record a launcher for the next calls of
        that signature."""
        x64 = 1 if _flags["enable_x64"] else 0
        signature = _fast_signature(args)
        if signature is not None:
            table, key, leaves = self._fast[x64], signature, list(args)
        else:
            leaves, treedef = tree_util.tree_flatten(args)
            signature = _fast_signature(leaves)
            table, key = self._fast_trees[x64], (treedef, signature)
        if signature is None or (key not in table and len(table) >= _FAST_CACHE_SIZE):
            return
        exe = self._executable(staged, arrays)
        if exe is None:
            return
        if table is self._fast[x64]:
            scalars = [(i, shaped_abstractify(a)) for i, a in enumerate(leaves)
                       if type(a) is not Array]
            table[key] = _fast_launcher(exe, staged, scalars)
        else:
            table[key] = self._recent[x64] = (
                treedef._matcher(), _tree_launcher(exe, staged, leaves, signature))

    def _add_split_launcher(self, args: tuple[Any, ...], kwargs: dict[str, Any],
                            staged: _Staged, arrays: list[Array]) -> None:
        """`_add_fast_launcher` for a call with keyword or static arguments."""
        x64 = 1 if _flags["enable_x64"] else 0
        dyn_args, dyn_kwargs, statics = self._sig.split(args, kwargs)
        leaves, treedef = tree_util.tree_flatten((dyn_args, dyn_kwargs))
        signature = _fast_signature(leaves)
        table, key = self._fast_trees[x64], (treedef, signature, statics)
        if signature is None or (key not in table and len(table) >= _FAST_CACHE_SIZE):
            return
        exe = self._executable(staged, arrays)
        if exe is not None:
            launch = _tree_launcher(exe, staged, leaves, signature)
            table[key] = self._recent[x64 + 2] = (treedef._matcher(), launch, statics)

    def _executable(self, staged: _Staged, arrays: list[Array]) -> Any:
        """The executable the general path just ran for `arrays`, or None (host
        constants, which the general path transfers per call)."""
        if any(type(c) is not Array for c in staged.consts):
            return None
        device = arrays[0]._device if arrays else default_device()
        return _jit_executables.get((staged.program, tuple(a.aval for a in arrays),
                                     staged.donated, device.id, self._compiler_options))

    def lower(self, *args: Any, **kwargs: Any) -> "Lowered":
        staged, _ = self._stage(args, kwargs)
        return Lowered(staged, self._name, self._compiler_options)

    def trace(self, *args: Any, **kwargs: Any) -> Program:
        staged, _ = self._stage(args, kwargs)
        return staged.program

    def eval_shape(self, *args: Any, **kwargs: Any) -> Any:
        staged, _ = self._stage(args, kwargs)
        return tree_util.tree_unflatten(
            staged.out_tree, [ShapeDtypeStruct(v.aval.shape, v.aval.dtype, v.aval.weak_type)
                              for v in staged.program.outvars])

    def clear_cache(self) -> None:
        self._cache.clear()
        for table in (*self._fast, *self._fast_trees):
            table.clear()
        self._recent[:] = [None] * 4

    def __repr__(self) -> str:
        return f"<lamina.jit of {self._fun!r}>"


class Lowered:
    """`jit(f).lower(*args)`: the StableHLO of one specialisation."""

    def __init__(self, staged: _Staged, name: str, compiler_options: Any = ()) -> None:
        self._staged, self._name = staged, name
        self._compiler_options = compiler_options
        self._text: str | None = None

    def as_text(self) -> str:
        if self._text is None:
            self._text = lowering.lower_program(self._staged.program,
                                                donated=self._staged.donated,
                                                platform=default_device().platform)
        return self._text

    def compile(self, compiler_options: Any = None) -> "Compiled":
        """XLA-compile; `compiler_options` ({XLA option: value}) are added to (and
        override) the ones given to `jit`."""
        from lamina.backend.compile import Executable, compile_module
        device = default_device()
        program = self._staged.program
        extra = canonical_compiler_options(compiler_options, "Lowered.compile")
        options = tuple(sorted({**dict(self._compiler_options), **dict(extra)}.items()))
        exe = Executable(compile_module(self.as_text(), device, options), program.in_avals,
                         program.out_avals, device, self._staged.donated)
        return Compiled(exe, self._staged)


class Compiled:
    """`jit(f).lower(*args).compile()`: call it with arguments of the lowered types."""

    def __init__(self, exe: Any, staged: _Staged) -> None:
        self._exe, self._staged = exe, staged

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        leaves = tree_util.tree_leaves((args, kwargs))
        outs = self._exe([to_array(x) for x in [*self._staged.consts, *leaves]])
        return tree_util.tree_unflatten(self._staged.out_tree, outs)

    def cost_analysis(self) -> dict[str, float]:
        return self._exe.cost_analysis()

    def as_text(self) -> str:
        return self._exe.hlo_text()


def jit(fun: Callable[..., Any] | None = None, *, in_shardings: Any = None,
        out_shardings: Any = None, static_argnums: Any = None,
        static_argnames: Any = None, donate_argnums: Any = None, donate_argnames: Any = None,
        keep_unused: bool = False, inline: bool = False,
        compiler_options: dict[str, Any] | None = None) -> Any:
    """Compile `fun` with XLA: traced once per combination of argument shapes, dtypes
    and static values, then run as one executable.

    Args:
        fun: a function of arrays (and pytrees of arrays).
        in_shardings / out_shardings: how the (positional, non-static) arguments / the
            results are laid out over a mesh: a sharding (`NamedSharding(mesh, P(...))`,
            or a bare `PartitionSpec` inside `with mesh:`) or a pytree prefix of them;
            None leaves it to the arguments' own shardings / XLA's SPMD partitioner.
            With any mesh sharding the program runs partitioned over the mesh's devices.
        static_argnums / static_argnames: arguments passed as Python values (hashable);
            a new value retraces.
        donate_argnums / donate_argnames: arguments whose buffers the computation may
            reuse for its outputs; donated Arrays cannot be used afterwards.
        keep_unused: accepted for jax compatibility (lamina keeps every argument).
        inline: accepted for jax compatibility.
        compiler_options: XLA debug options for this program's compile, e.g.
            `{"xla_cpu_use_fusion_emitters": False}` (names as in `XLA_FLAGS`, without
            `--`); they apply when the jitted function is called outside other
            transformations (inside another `jit` it is compiled as part of that one).

    Returns:
        A wrapped function with `.lower(*args)`, `.trace(*args)` and `.eval_shape`.

    >>> import lamina, lamina.numpy as lnp
    >>> f = lamina.jit(lambda x: x * 2 + 1)
    >>> f(lnp.arange(3.0))
    Array([1., 3., 5.], dtype=float32)
    """
    if fun is None:
        return functools.partial(jit, in_shardings=in_shardings, out_shardings=out_shardings,
                                 static_argnums=static_argnums,
                                 static_argnames=static_argnames, donate_argnums=donate_argnums,
                                 donate_argnames=donate_argnames, keep_unused=keep_unused,
                                 inline=inline, compiler_options=compiler_options)
    return JitWrapped(fun, static_argnums, static_argnames, donate_argnums, donate_argnames,
                      keep_unused, inline, in_shardings, out_shardings, compiler_options)


def make_jaxpr(fun: Callable[..., Any], static_argnums: Any = (),
               return_shape: bool = False) -> Callable[..., Any]:
    """A function returning the Program `fun` stages to, for inspection.

    >>> import lamina, lamina.numpy as lnp
    >>> print(lamina.make_jaxpr(lambda x: lnp.sin(x) * 2.0)(1.0))
    { lambda ; a:f32[]. let
        b:f32[] = sin a
        c:f32[] = mul b 2.0
      in (c) }
    """
    wrapped = JitWrapped(fun, static_argnums=static_argnums)

    def make(*args: Any, **kwargs: Any) -> Any:
        staged, _ = wrapped._stage(args, kwargs)
        program = staged.program
        if staged.consts:  # show captured arrays as constants, as jax's closed jaxprs do
            n = len(staged.consts)
            program = Program(program.invars[:n], program.invars[n:], program.eqns,
                              program.outvars, staged.consts)
        if return_shape:
            return program, wrapped.eval_shape(*args, **kwargs)
        return program

    return make


def eval_shape(fun: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """The output shapes and dtypes of `fun(*args)` as ShapeDtypeStructs, computed
    without running anything. Arguments may be arrays or ShapeDtypeStructs."""
    return JitWrapped(fun).eval_shape(*args, **kwargs)
