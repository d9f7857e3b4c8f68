"""Shared helpers of the `lamina.lax.linalg` primitives: the LAPACK dtype tables, the
registration of jaxlib's LAPACK FFI targets and the `stablehlo.custom_call` that calls
them, the StableHLO snippets the lowering rules share (masks, identities, adjoints,
NaN-on-failure), and the shape/dtype checks of the abstract-evaluation rules.
"""
from __future__ import annotations

import threading
from typing import Any, Sequence

import numpy as np

from lamina import dtypes
from lamina.interpreters import lowering
from lamina.interpreters.lowering import RuleContext, Value, i64_array, i64_attr
from lamina.ir import AbstractArray
from lamina.lax._util import operator_index


_F32, _F64 = np.dtype(np.float32), np.dtype(np.float64)
_C64, _C128 = np.dtype(np.complex64), np.dtype(np.complex128)
_I32 = np.dtype(np.int32)
_BOOL = np.dtype(np.bool_)
_LAPACK_DTYPES = (_F32, _F64, _C64, _C128)
_LAPACK_PREFIX = {_F32: "s", _F64: "d", _C64: "c", _C128: "z"}
_LAPACK_NAMES = "float32, float64, complex64, complex128"


# --------------------------------------------------------------------------------------
# LAPACK custom-call targets
# --------------------------------------------------------------------------------------

_lapack_lock = threading.Lock()
_lapack_registered = False


def _ensure_lapack_targets() -> None:
    """Register jaxlib's LAPACK FFI handlers with XLA's CPU platform (once).

    NOTE: `register_custom_call_target` queues the handlers if no CPU client exists
    yet and installs them when one is created, so the order does not matter. It must
    run before XLA compiles a module that names them. `_lapack.initialize()` binds the
    kernels to scipy's LAPACK (scipy is a dependency of jaxlib).
    """
    global _lapack_registered
    if _lapack_registered:
        return
    with _lapack_lock:
        if _lapack_registered:
            return
        from jaxlib import xla_client
        from jaxlib.cpu import _lapack

        for name, handler in _lapack.registrations().items():
            # Typed-FFI handlers (`*_ffi`) are api_version 1 for the registry.
            xla_client.register_custom_call_target(
                name, handler, platform="cpu", api_version=int(name.endswith("_ffi")))
        _lapack.initialize()
        _lapack_registered = True


def _layout_attr(dims: Sequence[int]) -> str:
    dims = list(dims)
    return f"dense<[{', '.join(map(str, dims))}]> : tensor<{len(dims)}xindex>"


def _lapack_call(ctx: RuleContext, routine: str, dtype: np.dtype, operands: Sequence[Value],
                 operand_avals: Sequence[AbstractArray], result_avals: Sequence[AbstractArray],
                 aliases: dict[int, int] | None = None, **config: int) -> list[Value]:
    """Emit `stablehlo.custom_call @lapack_<prefix><routine>_ffi`.

    Operands and results of the highest rank are batches of matrices, laid out
    column-major (Fortran order, what LAPACK expects); the others (pivots, taus,
    eigenvalues, info) are row-major. `config` becomes the FFI attributes, passed as
    unsigned 8-bit integers (LAPACK's character flags, e.g. `uplo=ord("L")`).
    `aliases` maps operand index -> result index (the kernel works in place).
    """
    if ctx.platform != "cpu":
        raise NotImplementedError(
            f"lax.linalg: this op calls LAPACK's {routine}, which lamina links on the CPU "
            f"only, so it cannot run on a {ctx.platform} device yet: move its operand to "
            "the CPU first, e.g. lamina.device_put(x, lamina.devices('cpu')[0])")
    _ensure_lapack_targets()
    target = f"lapack_{_LAPACK_PREFIX[np.dtype(dtype)]}{routine}_ffi"
    rank = max(a.ndim for a in operand_avals)

    def layout(aval: AbstractArray) -> str:
        if aval.ndim == rank:
            return _layout_attr((rank - 2, rank - 1, *range(rank - 3, -1, -1)))
        return _layout_attr(range(aval.ndim - 1, -1, -1))

    backend_config = ", ".join(f"{k} = {int(v)} : ui8" for k, v in sorted(config.items()))
    attrs = {
        "call_target_name": lowering.str_attr(target),
        "api_version": lowering.i32_attr(4),
        "backend_config": "{" + backend_config + "}",
        "has_side_effect": "false",
        "operand_layouts": "[" + ", ".join(layout(a) for a in operand_avals) + "]",
        "result_layouts": "[" + ", ".join(layout(a) for a in result_avals) + "]",
    }
    if aliases:
        tuple_index = (lambda i: f"[{i}]") if len(result_avals) > 1 else (lambda i: "[]")
        attrs["output_operand_aliases"] = "[" + ", ".join(
            f"#stablehlo.output_operand_alias<output_tuple_indices = {tuple_index(r)}, "
            f"operand_index = {o}, operand_tuple_indices = []>"
            for o, r in sorted(aliases.items())) + "]"
    return ctx.op("stablehlo.custom_call", list(operands), list(result_avals), attrs)


# --------------------------------------------------------------------------------------
# StableHLO snippets shared by the lowering rules
# --------------------------------------------------------------------------------------


def _full(ctx: RuleContext, value: Any, aval: AbstractArray) -> Value:
    scalar = ctx.constant(value, AbstractArray((), aval.dtype))
    if not aval.shape:
        return scalar
    return ctx.op("stablehlo.broadcast_in_dim", [scalar], aval,
                  {"broadcast_dimensions": i64_array(())})


def _broadcast_in_dim(ctx: RuleContext, x: Value, aval: AbstractArray, dims: Sequence[int]
                      ) -> Value:
    return ctx.op("stablehlo.broadcast_in_dim", [x], aval,
                  {"broadcast_dimensions": i64_array(dims)})


def _iota(ctx: RuleContext, aval: AbstractArray, dim: int) -> Value:
    return ctx.op("stablehlo.iota", [], aval, {"iota_dimension": i64_attr(dim)})


def _compare(ctx: RuleContext, x: Value, y: Value, aval: AbstractArray, direction: str) -> Value:
    kind = ("FLOAT" if dtypes.is_inexact(aval.dtype) else
            "UNSIGNED" if dtypes.is_unsigned_integer(aval.dtype) or aval.dtype == _BOOL
            else "SIGNED")
    return ctx.op("stablehlo.compare", [x, y], aval.update(dtype=_BOOL),
                  {"comparison_direction": f"#stablehlo<comparison_direction {direction}>",
                   "compare_type": f"#stablehlo<comparison_type {kind}>"})


def _select(ctx: RuleContext, pred: Value, x: Value, y: Value, aval: AbstractArray) -> Value:
    return ctx.op("stablehlo.select", [pred, x, y], aval)


def _slice(ctx: RuleContext, x: Value, aval: AbstractArray, starts: Sequence[int],
           limits: Sequence[int]) -> Value:
    if tuple(starts) == (0,) * aval.ndim and tuple(limits) == aval.shape:
        return x
    out = aval.update(shape=[hi - lo for lo, hi in zip(starts, limits)])
    return ctx.op("stablehlo.slice", [x], out, {
        "start_indices": i64_array(starts), "limit_indices": i64_array(limits),
        "strides": i64_array([1] * aval.ndim)})


def _slice_last(ctx: RuleContext, x: Value, aval: AbstractArray, *bounds: tuple[int, int]
                ) -> Value:
    """Slice the trailing `len(bounds)` dimensions to `[lo, hi)` each."""
    lead = aval.shape[:aval.ndim - len(bounds)]
    return _slice(ctx, x, aval, [0] * len(lead) + [lo for lo, _ in bounds],
                  list(lead) + [hi for _, hi in bounds])


def _pad_high(ctx: RuleContext, x: Value, aval: AbstractArray, out: AbstractArray) -> Value:
    """Zero-pad `x` at the high end of every dimension up to `out`'s shape."""
    if aval.shape == out.shape:
        return x
    zero = ctx.constant(0, AbstractArray((), aval.dtype))
    return ctx.op("stablehlo.pad", [x, zero], out, {
        "edge_padding_low": i64_array([0] * aval.ndim),
        "edge_padding_high": i64_array([o - i for i, o in zip(aval.shape, out.shape)]),
        "interior_padding": i64_array([0] * aval.ndim)})


def _triangle_mask(ctx: RuleContext, aval: AbstractArray, lower: bool) -> Value:
    """Boolean mask of `aval`'s shape: True on and below (lower) or on and above the
    diagonal of each trailing matrix."""
    matrix = AbstractArray(aval.shape[-2:], _I32)
    rows, cols = _iota(ctx, matrix, 0), _iota(ctx, matrix, 1)
    mask = _compare(ctx, rows, cols, matrix, "GE" if lower else "LE")
    nb = aval.ndim - 2
    return _broadcast_in_dim(ctx, mask, aval.update(dtype=_BOOL), (nb, nb + 1))


def _keep_triangle(ctx: RuleContext, x: Value, aval: AbstractArray, lower: bool) -> Value:
    """tril (lower) or triu of each trailing matrix; the other triangle becomes 0."""
    return _select(ctx, _triangle_mask(ctx, aval, lower), x, _full(ctx, 0, aval), aval)


def _eye(ctx: RuleContext, aval: AbstractArray) -> Value:
    """Identity matrices (rectangular allowed) broadcast over the leading dimensions."""
    matrix = AbstractArray(aval.shape[-2:], _I32)
    diag = _compare(ctx, _iota(ctx, matrix, 0), _iota(ctx, matrix, 1), matrix, "EQ")
    nb = aval.ndim - 2
    diag = _broadcast_in_dim(ctx, diag, aval.update(dtype=_BOOL), (nb, nb + 1))
    return _select(ctx, diag, _full(ctx, 1, aval), _full(ctx, 0, aval), aval)


def _adjoint(ctx: RuleContext, x: Value, aval: AbstractArray) -> Value:
    """Conjugate transpose of each trailing matrix."""
    nb = aval.ndim - 2
    out = aval.update(shape=(*aval.shape[:-2], aval.shape[-1], aval.shape[-2]))
    xt = ctx.op("stablehlo.transpose", [x], out,
                {"permutation": i64_array((*range(nb), nb + 1, nb))})
    if dtypes.is_complex(aval.dtype):
        xt = ctx.op("chlo.conj", [xt], out)
    return xt


def _symmetrize(ctx: RuleContext, x: Value, aval: AbstractArray) -> Value:
    """(x + x^H) / 2."""
    total = ctx.op("stablehlo.add", [x, _adjoint(ctx, x, aval)], aval)
    return ctx.op("stablehlo.divide", [total, _full(ctx, 2, aval)], aval)


def _nan_unless(ctx: RuleContext, ok: Value, ok_aval: AbstractArray, x: Value,
                aval: AbstractArray) -> Value:
    """Replace the batch elements of `x` where `ok` (shape = leading dims) is False by NaN."""
    ok = _broadcast_in_dim(ctx, ok, aval.update(dtype=_BOOL), range(ok_aval.ndim))
    nan = complex(np.nan, np.nan) if dtypes.is_complex(aval.dtype) else np.nan
    return _select(ctx, ok, x, _full(ctx, nan, aval), aval)


def _info_ok(ctx: RuleContext, info: Value, info_aval: AbstractArray, direction: str = "EQ"
             ) -> Value:
    return _compare(ctx, info, _full(ctx, 0, info_aval), info_aval, direction)


# --------------------------------------------------------------------------------------
# Shape and dtype checks shared by the abstract-evaluation rules
# --------------------------------------------------------------------------------------


def _check_matrices(name: str, aval: AbstractArray, *, square: bool = False,
                    what: str = "x") -> None:
    """A batch of matrices of a LAPACK dtype (square if asked), or a clear error."""
    if aval.dtype not in _LAPACK_DTYPES:
        raise TypeError(f"lax.linalg.{name}: {what} has dtype {aval.dtype.name} "
                        f"({aval.str_short()}); supported dtypes: {_LAPACK_NAMES}. Convert "
                        "first, e.g. x.astype(lamina.numpy.float32)")
    if aval.ndim < 2:
        raise TypeError(f"lax.linalg.{name}: {what} must have rank at least 2 (a batch of "
                        f"matrices [..., m, n]), got shape {aval.shape}")
    if square and aval.shape[-1] != aval.shape[-2]:
        raise ValueError(f"lax.linalg.{name}: {what} must be a batch of square matrices "
                         f"[..., n, n], got shape {aval.shape}")


def _check_same_batch(name: str, *named: tuple[str, AbstractArray, int]) -> tuple[int, ...]:
    """Operands (name, aval, core rank) must share their leading (batch) dimensions."""
    batches = [(what, aval.shape[:aval.ndim - core]) for what, aval, core in named]
    first = batches[0][1]
    if any(b != first for _, b in batches[1:]):
        shapes = ", ".join(f"{what} {aval.shape}" for what, aval, _ in named)
        raise ValueError(f"lax.linalg.{name}: operands must have the same leading (batch) "
                         f"dimensions, got {shapes}")
    return first


def _weak(*avals: AbstractArray) -> bool:
    return all(a.weak_type for a in avals)


def _check_subset(name: str, subset_by_index: Any, size: int) -> tuple[int, int] | None:
    if subset_by_index is None:
        return None
    try:
        lo, hi = (operator_index(i) for i in subset_by_index)
    except (TypeError, ValueError):
        raise TypeError(f"lax.linalg.{name}: subset_by_index must be None or a pair of "
                        f"integers (start, end), got {subset_by_index!r}") from None
    if not 0 <= lo <= hi <= size:
        raise ValueError(f"lax.linalg.{name}: subset_by_index {(lo, hi)} must satisfy "
                         f"0 <= start <= end <= {size}")
    return lo, hi
