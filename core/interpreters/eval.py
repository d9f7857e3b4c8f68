"""Eager evaluation: `EvalTrace`, the bottom of every trace chain.

`process_primitive(primitive, args, params)` compiles the one-equation program
`primitive[params](args)` through the lowering rules, caches the executable by
(primitive, params, input avals, device) and runs it (as jax's `apply_primitive`).
So a primitive's lowering rule is its only implementation.

Inputs may be lamina Arrays, numpy arrays/scalars or Python scalars (weakly typed);
host values are transferred first.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from lamina import dtypes
from lamina.backend.array import Array, device_put_host, scalar_to_device
from lamina.backend.client import Device, default_device
from lamina.backend.compile import Executable, compile_module
from lamina.config import config as _config
from lamina.errors import EscapedTracerError
from lamina.ir import Eqn, Primitive, Program, Trace, Tracer, Var, typecheck

_executables: dict[tuple[Any, ...], Executable] = {}

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


def _compile_primitive(primitive: Primitive, in_avals: tuple[Any, ...],
                       params: dict[str, Any], device: Device) -> Executable:
    from lamina.interpreters.lowering import lower_program
    program = single_primitive_program(primitive, in_avals, params)
    if _config.enable_checks:
        typecheck(program)
    loaded = compile_module(lower_program(program), device)
    return Executable(loaded, in_avals, program.out_avals, device)


def common_device(arrays: Sequence[Array], primitive: Primitive) -> Device:
    if not arrays:
        return default_device()
    device = arrays[0]._device
    for a in arrays[1:]:
        if a._device != device:
            raise ValueError(f"{primitive.name}: arguments live on different devices "
                             f"({device} and {a._device}); move them with lamina.device_put")
    return device


class EvalTrace(Trace):
    """Runs primitives now, on device."""

    def process_primitive(self, primitive: Primitive, args: Sequence[Any],
                          params: dict[str, Any]) -> Any:
        impl = impl_rules.get(primitive)
        if impl is not None and primitive in raw_impl_primitives:
            return impl(*args, **params)
        arrays = [x if type(x) is Array else to_array(x) for x in args]
        if impl is not None:
            return impl(*arrays, **params)
        device = common_device(arrays, primitive)
        avals = tuple(a.aval for a in arrays)
        try:
            key = (primitive, tuple(params.items()), avals, device.id, _config.enable_x64)
            exe = _executables.get(key)
        except TypeError:
            raise TypeError(f"{primitive.name}: parameters must be hashable, got "
                            f"{params!r} (a lamina bug: wrappers must canonicalise params "
                            "to tuples)") from None
        if exe is None:
            exe = _executables[key] = _compile_primitive(primitive, avals, params, device)
        outs = exe(arrays)
        return outs if primitive.multiple_results else outs[0]


eval_trace = EvalTrace()
