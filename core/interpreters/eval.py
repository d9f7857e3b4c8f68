"""Eager evaluation: `EvalTrace`, the bottom of every trace chain.

`process_primitive(primitive, args, params)` compiles the one-equation program
`primitive[params](args)` through the lowering rules, caches the executable by
(primitive, params, input avals, device) and runs it (as jax's `apply_primitive`).
So a primitive's lowering rule is its only implementation.

Inputs may be lamina Arrays, numpy arrays/scalars or Python scalars (weakly typed);
host values are transferred first.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from lamina import dtypes
from lamina.backend.array import (Array, device_put_host, is_committed, new_array,
                                  scalar_to_device)
from lamina.backend.client import Device, default_device
from lamina.backend.compile import LATENCY_OPTIONS, Executable, compile_module
from lamina.config import config as _config
from lamina.errors import EscapedTracerError
from lamina.ir import (Eqn, Primitive, Program, Trace, Tracer, Var, _current_trace,
                       typecheck)

_executables: dict[tuple[Any, ...], Executable] = {}
_flags = _config._values  # NOTE: read directly on the dispatch paths (no __getattr__)
_get_trace = _current_trace.get

# primitive -> impl(*arrays, **params): primitives that run some other way than as a
# one-equation program (e.g. `jit`, which compiles its whole sub-program with donation).
impl_rules: dict[Primitive, Any] = {}
# Primitives whose impl takes its operands as given (host values, Arrays split over
# devices) instead of as single-device Arrays (`pmap`, which places them itself).
raw_impl_primitives: set[Primitive] = set()


def to_array(x: Any) -> Array:
    """`x` as a device Array (host values are copied to the default device)."""
    if isinstance(x, Array):
        # NOTE: an Array split over devices (a pmap output) has no `_device`; single-
        # device programs get a gathered copy (part B of issue 5 runs them sharded).
        return x if x._device is not None else x._to_single_device()  # type: ignore[attr-defined]
    if isinstance(x, Tracer):
        raise EscapedTracerError(
            f"a traced value {x.aval.str_short()} from {type(x._trace).__name__} reached eager "
            "evaluation: it escaped the transformation that created it (stored in a global "
            "or an object during tracing?). Return it from the transformed function instead.")
    if dtypes.is_python_scalar(x):
        return scalar_to_device(x, dtypes.dtype_of(x), dtypes.is_weakly_typed(x))
    if isinstance(x, np.ndarray) and x.ndim == 0 or isinstance(x, np.generic):
        return scalar_to_device(x, dtypes.canonicalize_dtype(x.dtype), False)
    return device_put_host(x)


def single_primitive_program(primitive: Primitive, in_avals: Sequence[Any],
                             params: dict[str, Any]) -> Program:
    invars = [Var(a) for a in in_avals]
    out = primitive.abstract_eval(*in_avals, **params)
    out_avals = list(out) if primitive.multiple_results else [out]
    outvars = [Var(a) for a in out_avals]
    return Program([], invars, [Eqn(primitive, invars, outvars, params)], outvars)


class _OverReplicas:
    """An eager control-flow primitive (scan, while, cond...) whose body calls pmap: run
    as `jit(pmap(...))` is, one program over the replicas its pmaps need."""

    __slots__ = ("program", "name")

    def __init__(self, program: Program, name: str) -> None:
        self.program, self.name = program, name

    def call_matched(self, arrays: Sequence[Array]) -> list[Any]:
        from lamina._api_pmap import run_with_replicas
        return run_with_replicas(self.program, arrays, self.name)


def _compile_primitive(primitive: Primitive, in_avals: tuple[Any, ...],
                       params: dict[str, Any], device: Device) -> Executable | _OverReplicas:
    from lamina._api_pmap import contains_pmap
    from lamina.interpreters.lowering import lower_program
    program = single_primitive_program(primitive, in_avals, params)
    if contains_pmap(program):
        return _OverReplicas(program, primitive.name)
    if _config.enable_checks:
        typecheck(program)
    text = lower_program(program, platform=device.platform)
    loaded = None
    if primitive.name in _EXACT_PRIMITIVES and not any(
            dtypes.is_complex(a.dtype) for a in [*in_avals, *program.out_avals]):
        try:
            loaded = compile_module(text, device, LATENCY_OPTIONS)
        except RuntimeError:
            pass  # NOTE: the older emitters lack a few cases (clamp of bool): the default
    if loaded is None:
        loaded = compile_module(text, device)
    return Executable(loaded, in_avals, program.out_avals, device)


# NOTE: primitives whose every output bit is defined exactly (IEEE-rounded arithmetic,
# integer and bit ops, comparisons, data movement), so any XLA emitter gives the bits a
# jitted program gives; complex dtypes excluded (complex division and abs are
# algorithms). These compile with LATENCY_OPTIONS.
_EXACT_PRIMITIVES = frozenset({
    "add", "sub", "mul", "div", "rem", "max", "min", "neg", "abs", "sign", "floor", "ceil",
    "round", "sqrt", "square", "and", "or", "xor", "not", "shift_left",
    "shift_right_logical", "shift_right_arithmetic", "population_count", "clz", "eq",
    "ne", "lt", "le", "gt", "ge", "is_finite", "select_n", "clamp", "broadcast_in_dim",
    "reshape", "squeeze", "slice", "dynamic_slice", "dynamic_update_slice", "concatenate",
    "transpose", "pad", "rev", "iota", "split", "stop_gradient", "add_any",
})


def common_device(arrays: Sequence[Array], primitive: Primitive
                  ) -> tuple[Device, Sequence[Array]]:
    """The device an operation on `arrays` runs on, and the arrays placed there.

    As in jax: arrays on different devices are an error only when more than one device
    holds committed arrays (`is_committed`); uncommitted ones move to the committed
    arrays' device, so `device_put(x, d1) + lnp.ones(3)` runs on d1.
    """
    if not arrays:
        return default_device(), arrays
    device = arrays[0]._device
    for a in arrays[1:]:
        if a._device is not device and a._device != device:
            return _reconcile_devices(arrays, primitive)
    return device, arrays


def _reconcile_devices(arrays: Sequence[Array], primitive: Primitive
                       ) -> tuple[Device, list[Array]]:
    committed = {a._device for a in arrays if is_committed(a)}
    if len(committed) > 1:
        first, second = sorted(committed, key=lambda d: d.id)[:2]
        raise ValueError(f"{primitive.name}: arguments live on different devices "
                         f"({first} and {second}); move them with lamina.device_put")
    device = committed.pop() if committed else default_device()
    return device, [a if a._device == device else
                    device_put_host(a._value(), device, weak_type=a.aval.weak_type)
                    for a in arrays]


class EvalTrace(Trace):
    """Runs primitives now, on device."""

    def process_primitive(self, primitive: Primitive, args: Sequence[Any],
                          params: dict[str, Any]) -> Any:
        impl = impl_rules.get(primitive)
        if impl is not None and primitive in raw_impl_primitives:
            return impl(*args, **params)
        arrays = [x if type(x) is Array else to_array(x) for x in args]
        if impl is not None:
            outs = impl(*arrays, **params)
            if _flags["debug_floats"]:
                _check_floats(primitive, outs)
            return outs
        device, arrays = common_device(arrays, primitive)
        avals = tuple([a.aval for a in arrays])
        try:
            key = (primitive, tuple(params.items()) if params else (), avals, device,
                   _flags["enable_x64"])
            exe = _executables.get(key)
        except TypeError:
            raise TypeError(f"{primitive.name}: parameters must be hashable, got "
                            f"{params!r} (a lamina bug: wrappers must canonicalise params "
                            "to tuples)") from None
        if exe is None:
            exe = _executables[key] = _compile_primitive(primitive, avals, params, device)
        # NOTE: the key holds exactly the arguments' types and device (common_device).
        outs = exe.call_matched(arrays)
        if _flags["debug_floats"]:
            _check_floats(primitive, outs, True)
        return outs if primitive.multiple_results else outs[0]


def running_eagerly() -> bool:
    """Whether an operation now runs at once (no transformation is tracing), so a
    result built on the host is as good as a compiled one."""
    trace = _get_trace()
    return trace is None or type(trace) is EvalTrace


def _check_floats(primitive: Primitive, outs: Any, as_list: bool = False) -> None:
    from lamina._debug_floats import check_primitive
    many = as_list or primitive.multiple_results
    check_primitive(primitive.name, outs if many else [outs])


eval_trace = EvalTrace()


_WEAK_SCALAR_TYPES = (int, float, complex)


def eager_binary(primitive: Primitive, accepts: Callable[[Any], bool] | None = None,
                 general: Callable[[Any, Any], Any] | None = None
                 ) -> Callable[[Any, Any], Any]:
    """The eager fast path of a binary elementwise operation.

    `fast(x, y)` returns `primitive(x, y)`, run straight from a table of compiled
    executables keyed by the operands' types and device, when `x` and `y` are concrete
    single-device Arrays on one device and no transformation is tracing. Otherwise it
    returns `general(x, y)` (the caller's general path), or None without `general`.

    `accepts=None` (the lax wrappers, whose general path binds `primitive` on any two
    Arrays): every pair of types. Else (the lamina.numpy functions) only two operands
    of one type whose dtype satisfies `accepts(dtype)`, where the caller's general path
    binds exactly `primitive` on them unchanged; and an Array with a Python int, float
    or complex (either side) where jax's promotion keeps the Array's dtype and weak
    type (`x * 2.0` on float32): the scalar becomes a cached device constant of that
    type, as in the general path. On a table miss it evaluates that bind (so any error
    is the general path's own) and records the executable.
    """
    table: dict[tuple[Any, ...], Executable] = {}
    get = table.get
    # (array aval, scalar type, device, x64) -> (executable, dtype, weak), or False
    # where the promotion changes the array's type.
    scalar_table: dict[tuple[Any, ...], Any] = {}
    scalar_get = scalar_table.get

    def record(operands: tuple[Any, Any], device: Device) -> Executable | None:
        x64 = _flags["enable_x64"]
        exe = _executables.get((primitive, (), (operands[0].aval, operands[1].aval),
                                device, x64))
        return exe if exe is not None and exe._single_out is not None else None

    def miss(x: Any, y: Any, device: Device) -> Any:
        out = eval_trace.process_primitive(primitive, (x, y), {})
        exe = record((x, y), device)
        if exe is not None:
            table[(x.aval, y.aval, device, _flags["enable_x64"])] = exe
        return out

    def with_scalar(a: Any, s: Any, scalar_first: bool) -> Any:
        device = a._device
        key = (a.aval, type(s), device, _flags["enable_x64"])
        entry = scalar_get(key)
        if entry is None:  # first time: decide with the general path's promotion
            aval = a.aval
            dtype, weak = dtypes.result_type(a, s, return_weak_type_flag=True)
            if dtype != aval.dtype or weak != aval.weak_type or not accepts(dtype):
                scalar_table[key] = False
                return _NOT_FAST
            c = scalar_to_device(s, dtype, weak, device)
            operands = (c, a) if scalar_first else (a, c)
            out = eval_trace.process_primitive(primitive, operands, {})
            exe = record(operands, device)
            if exe is not None:
                scalar_table[key] = (exe, dtype, weak)
            return out
        if entry is False:
            return _NOT_FAST
        exe, dtype, weak = entry
        c = scalar_to_device(s, dtype, weak, device)
        buf = a._buf
        if buf is None or buf.is_deleted():
            return _NOT_FAST
        bufs = [c._buf, buf] if scalar_first else [buf, c._buf]
        return new_array(exe._launch(bufs)[0], exe._single_out, device)

    def fast(x: Any, y: Any) -> Any:
        # NOTE: under debug_nans/infs the general path checks each output.
        if _get_trace() is None and not _flags["debug_floats"]:
            tx, ty = type(x), type(y)
            if tx is Array and ty is Array:
                device = x._device
                if y._device is device:
                    exe = get((x.aval, y.aval, device, _flags["enable_x64"]))
                    if exe is not None:
                        bx, by = x._buf, y._buf
                        if bx is None or by is None or bx.is_deleted() or by.is_deleted():
                            return exe((x, y))[0]  # raises DeletedArrayError
                        return new_array(exe._launch([bx, by])[0], exe._single_out, device)
                    if accepts is None or (x.aval == y.aval and accepts(x.aval.dtype)):
                        return miss(x, y, device)
            elif accepts is not None:
                out = _NOT_FAST
                if tx is Array and ty in _WEAK_SCALAR_TYPES:
                    out = with_scalar(x, y, False)
                elif ty is Array and tx in _WEAK_SCALAR_TYPES:
                    out = with_scalar(y, x, True)
                if out is not _NOT_FAST:
                    return out
        return None if general is None else general(x, y)

    return fast


_NOT_FAST = object()
