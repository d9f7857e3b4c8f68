"""Linear-algebra primitives: `lamina.lax.linalg`, with jax.lax.linalg's names and semantics.

Every decomposition runs jaxlib's own LAPACK kernels (`jaxlib/cpu/_lapack.so`) as XLA
FFI custom calls, exactly as jax does on CPU: the lowering emits
`stablehlo.custom_call @lapack_<s|d|c|z><routine>_ffi` with column-major layouts for
the matrix operands, and `_ensure_lapack_targets()` registers the targets with the CPU
platform once, the first time a program needs them. `triangular_solve` lowers to
`stablehlo.triangular_solve`.

All primitives batch over leading dimensions and accept float32, float64, complex64
and complex128 (the LAPACK types). A failed factorisation (not positive definite, no
convergence) gives NaNs in that batch element, as in jax.

NOTE: where jax's wrappers pre- or post-process with other lax ops (symmetrising the
input of `cholesky`/`eigh`, zeroing the upper triangle of `cholesky`), lamina folds that
work into the primitive's lowering (`symmetrize_input` is a parameter of `cholesky_p`
and `eigh_p`; `cholesky_p` returns the lower triangle with zeros above). One compiled
program per call instead of four; JVP rules must account for these parameters.

The transformation rules (JVP, transpose, batching) are in `linalg_rules.py`, imported
at the end of this module.
"""
from __future__ import annotations

import enum
import threading
from typing import Any, Sequence

import numpy as np

from lamina import dtypes
from lamina.interpreters import lowering
from lamina.interpreters.lowering import RuleContext, Value, i64_array, i64_attr
from lamina.ir import AbstractArray, Primitive
from lamina.lax._util import ArrayLike, aval_of, operator_index
from lamina.lax.structural import expand_dims, squeeze

__all__ = [
    "EigImplementation",
    "SvdAlgorithm",
    "cholesky",
    "eig",
    "eigh",
    "geqrf",
    "householder_product",
    "lu",
    "lu_pivots_to_permutation",
    "qr",
    "svd",
    "triangular_solve",
]

_F32, _F64 = np.dtype(np.float32), np.dtype(np.float64)
_C64, _C128 = np.dtype(np.complex64), np.dtype(np.complex128)
_I32 = np.dtype(np.int32)
_BOOL = np.dtype(np.bool_)
_LAPACK_DTYPES = (_F32, _F64, _C64, _C128)
_LAPACK_PREFIX = {_F32: "s", _F64: "d", _C64: "c", _C128: "z"}
_LAPACK_NAMES = "float32, float64, complex64, complex128"


class SvdAlgorithm(enum.Enum):
    """SVD algorithm (jax's enum). On CPU: DEFAULT and DIVIDE_AND_CONQUER use `gesdd`,
    QR uses `gesvd`; JACOBI and POLAR are not available on CPU."""

    DEFAULT = "default"
    QR = "QR"
    JACOBI = "Jacobi"
    POLAR = "polar"
    DIVIDE_AND_CONQUER = "divide_and_conquer"


class EigImplementation(enum.Enum):
    """Eigendecomposition backend (jax's enum); only LAPACK exists on CPU."""

    CUSOLVER = "cusolver"
    MAGMA = "magma"
    LAPACK = "lapack"


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


# --------------------------------------------------------------------------------------
# cholesky
# --------------------------------------------------------------------------------------

cholesky_p = Primitive("cholesky")


def cholesky(x: ArrayLike, *, symmetrize_input: bool = True) -> Any:
    """Cholesky factor `L` (lower triangular) with `x = L @ L^H`.

    Args:
      x: a batch of Hermitian (symmetric if real) positive-definite matrices
        `[..., n, n]` of dtype float32, float64, complex64 or complex128.
      symmetrize_input: if True, factor `(x + x^H) / 2`; if False, read only the lower
        triangle of `x`.

    Returns:
      `L` with `x`'s shape and dtype, zero above the diagonal. Batch elements that are
      not positive definite are all NaN.
    """
    return cholesky_p.bind(x, symmetrize_input=bool(symmetrize_input))


def _cholesky_abstract_eval(x: AbstractArray, *, symmetrize_input: bool) -> AbstractArray:
    _check_matrices("cholesky", x, square=True)
    return x


cholesky_p.def_abstract_eval(_cholesky_abstract_eval)


def _cholesky_lower(ctx: RuleContext, x: Value, *, symmetrize_input: bool) -> Value:
    aval = ctx.avals_in[0].strip_weak_type()
    if aval.size == 0:
        return x
    if symmetrize_input:
        x = _symmetrize(ctx, x, aval)
    info_aval = AbstractArray(aval.shape[:-2], _I32)
    factor, info = _lapack_call(ctx, "potrf", aval.dtype, [x], [aval], [aval, info_aval],
                                aliases={0: 0}, uplo=ord("L"))
    factor = _nan_unless(ctx, _info_ok(ctx, info, info_aval), info_aval, factor, aval)
    # NOTE: potrf leaves the strict upper triangle as it was (the input's entries).
    return _keep_triangle(ctx, factor, aval, lower=True)


lowering.register_lowering(cholesky_p, _cholesky_lower)


# --------------------------------------------------------------------------------------
# eig
# --------------------------------------------------------------------------------------

eig_p = Primitive("eig", multiple_results=True)


def eig(x: ArrayLike, *, compute_left_eigenvectors: bool = True,
        compute_right_eigenvectors: bool = True, enable_eigvec_derivs: bool = False,
        implementation: EigImplementation | None = None, use_magma: bool | None = None
        ) -> list[Any]:
    """Eigendecomposition of a general square matrix (LAPACK `geev`).

    Args:
      x: a batch of square matrices `[..., n, n]` (float32/64, complex64/128).
      compute_left_eigenvectors: also return the left eigenvectors.
      compute_right_eigenvectors: also return the right eigenvectors.
      enable_eigvec_derivs: allow differentiating the eigenvectors. Their derivative
        assumes distinct eigenvalues and LAPACK's normalisation (unit 2-norm, real
        largest-magnitude component), which lamina cannot check; off by default, as
        in jax. The eigenvalues are always differentiable.
      implementation: None or `EigImplementation.LAPACK` (the only CPU backend).
      use_magma: accepted for jax compatibility; ignored on CPU.

    Returns:
      `[w, vl, vr]` (the eigenvector entries only when requested): complex
      eigenvalues `[..., n]` and eigenvectors `[..., n, n]` with unit 2-norm columns,
      `v[..., :, i]` belonging to `w[..., i]`.
    """
    del use_magma
    if implementation not in (None, EigImplementation.LAPACK):
        raise NotImplementedError(f"lax.linalg.eig: implementation {implementation} is not "
                                  "available on CPU; use EigImplementation.LAPACK or None")
    return eig_p.bind(x, compute_left_eigenvectors=bool(compute_left_eigenvectors),
                      compute_right_eigenvectors=bool(compute_right_eigenvectors),
                      enable_eigvec_derivs=bool(enable_eigvec_derivs))


def _complex_dtype(dtype: np.dtype) -> np.dtype:
    return _C128 if dtype in (_F64, _C128) else _C64


def _eig_abstract_eval(x: AbstractArray, *, compute_left_eigenvectors: bool,
                       compute_right_eigenvectors: bool, enable_eigvec_derivs: bool
                       ) -> list[AbstractArray]:
    _check_matrices("eig", x, square=True)
    cdtype = _complex_dtype(x.dtype)
    w = AbstractArray(x.shape[:-1], cdtype, x.weak_type)
    v = AbstractArray(x.shape, cdtype, x.weak_type)
    return [w] + [v] * (compute_left_eigenvectors + compute_right_eigenvectors)


eig_p.def_abstract_eval(_eig_abstract_eval)


def _eig_lower(ctx: RuleContext, x: Value, *, compute_left_eigenvectors: bool,
               compute_right_eigenvectors: bool, enable_eigvec_derivs: bool
               ) -> list[Value]:
    del enable_eigvec_derivs  # only read by the JVP rule
    aval = ctx.avals_in[0].strip_weak_type()
    w_aval, *v_avals = [a.strip_weak_type() for a in ctx.avals_out]
    if aval.size == 0:
        return [_full(ctx, 0, w_aval)] + [_full(ctx, 0, a) for a in v_avals]
    batch = aval.shape[:-2]
    info_aval = AbstractArray(batch, _I32)
    vec_aval = aval.update(dtype=w_aval.dtype)
    real = not dtypes.is_complex(aval.dtype)
    eigvals = [AbstractArray(aval.shape[:-1], aval.dtype)] * (2 if real else 1)
    mode = {True: ord("V"), False: ord("N")}
    *w, vl, vr, info = _lapack_call(
        ctx, "geev", aval.dtype, [x], [aval], [*eigvals, vec_aval, vec_aval, info_aval],
        compute_left=mode[compute_left_eigenvectors],
        compute_right=mode[compute_right_eigenvectors])
    # Real input: LAPACK returns real and imaginary parts separately (the kernel already
    # unpacks the eigenvectors of conjugate pairs into complex columns).
    w = ctx.op("stablehlo.complex", w, w_aval) if real else w[0]
    ok = _info_ok(ctx, info, info_aval)
    outs = [_nan_unless(ctx, ok, info_aval, w, w_aval)]
    if compute_left_eigenvectors:
        outs.append(_nan_unless(ctx, ok, info_aval, vl, vec_aval))
    if compute_right_eigenvectors:
        outs.append(_nan_unless(ctx, ok, info_aval, vr, vec_aval))
    return outs


lowering.register_lowering(eig_p, _eig_lower)


# --------------------------------------------------------------------------------------
# eigh
# --------------------------------------------------------------------------------------

eigh_p = Primitive("eigh", multiple_results=True)


def eigh(x: ArrayLike, *, lower: bool = True, symmetrize_input: bool = True,
         sort_eigenvalues: bool = True, subset_by_index: tuple[int, int] | None = None,
         implementation: Any = None) -> tuple[Any, Any]:
    """Eigendecomposition of a Hermitian (symmetric if real) matrix (LAPACK `syevd`/`heevd`).

    Args:
      x: a batch of square matrices `[..., n, n]` (float32/64, complex64/128).
      lower: when `symmetrize_input` is False, which triangle of `x` is read.
      symmetrize_input: if True, decompose `(x + x^H) / 2`.
      sort_eigenvalues: eigenvalues come in ascending order (LAPACK always sorts).
      subset_by_index: optional `(start, end)`: keep only eigenvalues
        `start <= i < end` of the ascending order, and their eigenvectors.
      implementation: None or `"qr"`/`"QR"` (LAPACK's divide and conquer on CPU).

    Returns:
      `(v, w)`: eigenvectors `v[..., :, i]` (dtype of `x`, shape `[..., n, d]`) and
      real eigenvalues `w` (`[..., d]`) in ascending order, `d = end - start`.
    """
    if implementation is not None and str(getattr(implementation, "name", implementation)
                                          ).upper() != "QR":
        raise NotImplementedError(f"lax.linalg.eigh: implementation {implementation!r} is "
                                  "not available on CPU (only the default, LAPACK)")
    subset = None
    if subset_by_index is not None:
        subset = tuple(operator_index(i) for i in subset_by_index)
    v, w = eigh_p.bind(x, lower=bool(lower), symmetrize_input=bool(symmetrize_input),
                       sort_eigenvalues=bool(sort_eigenvalues), subset_by_index=subset)
    return v, w


def _eigh_abstract_eval(x: AbstractArray, *, lower: bool, symmetrize_input: bool,
                        sort_eigenvalues: bool, subset_by_index: tuple[int, int] | None
                        ) -> list[AbstractArray]:
    _check_matrices("eigh", x, square=True)
    n = x.shape[-1]
    subset = _check_subset("eigh", subset_by_index, n)
    d = n if subset is None else subset[1] - subset[0]
    v = AbstractArray((*x.shape[:-1], d), x.dtype, x.weak_type)
    w = AbstractArray((*x.shape[:-2], d), dtypes.real_dtype(x.dtype), x.weak_type)
    return [v, w]


eigh_p.def_abstract_eval(_eigh_abstract_eval)


def _eigh_lower(ctx: RuleContext, x: Value, *, lower: bool, symmetrize_input: bool,
                sort_eigenvalues: bool, subset_by_index: tuple[int, int] | None
                ) -> list[Value]:
    del sort_eigenvalues  # LAPACK returns ascending eigenvalues.
    aval = ctx.avals_in[0].strip_weak_type()
    v_out, w_out = (a.strip_weak_type() for a in ctx.avals_out)
    if aval.size == 0 or v_out.size == 0:
        return [_full(ctx, 0, v_out), _full(ctx, 0, w_out)]
    if symmetrize_input:
        x = _symmetrize(ctx, x, aval)
    n = aval.shape[-1]
    info_aval = AbstractArray(aval.shape[:-2], _I32)
    w_aval = AbstractArray(aval.shape[:-1], dtypes.real_dtype(aval.dtype))
    routine = "heevd" if dtypes.is_complex(aval.dtype) else "syevd"
    v, w, info = _lapack_call(ctx, routine, aval.dtype, [x], [aval], [aval, w_aval, info_aval],
                              aliases={0: 0}, mode=ord("V"), uplo=ord("L" if lower else "U"))
    ok = _info_ok(ctx, info, info_aval)
    v = _nan_unless(ctx, ok, info_aval, v, aval)
    w = _nan_unless(ctx, ok, info_aval, w, w_aval)
    if subset_by_index is not None and subset_by_index != (0, n):
        lo, hi = subset_by_index
        v = _slice_last(ctx, v, aval, (0, n), (lo, hi))
        w = _slice_last(ctx, w, w_aval, (lo, hi))
    return [v, w]


lowering.register_lowering(eigh_p, _eigh_lower)


# --------------------------------------------------------------------------------------
# geqrf (Householder QR in LAPACK's compact form)
# --------------------------------------------------------------------------------------

geqrf_p = Primitive("geqrf", multiple_results=True)


def geqrf(a: ArrayLike) -> tuple[Any, Any]:
    """QR decomposition in LAPACK's compact form.

    Args:
      a: a batch of matrices `[..., m, n]` (float32/64, complex64/128).

    Returns:
      `(a_out, taus)`: `r` is the upper triangle of `a_out`; `q` is the product of the
      Householder reflectors stored below the diagonal and scaled by `taus`
      (`[..., min(m, n)]`); see `householder_product`.
    """
    a_out, taus = geqrf_p.bind(a)
    return a_out, taus


def _geqrf_abstract_eval(a: AbstractArray) -> list[AbstractArray]:
    _check_matrices("geqrf", a, what="a")
    k = min(a.shape[-2:])
    return [a, AbstractArray((*a.shape[:-2], k), a.dtype, a.weak_type)]


geqrf_p.def_abstract_eval(_geqrf_abstract_eval)


def _geqrf_emit(ctx: RuleContext, a: Value, aval: AbstractArray) -> tuple[Value, Value]:
    taus_aval = AbstractArray((*aval.shape[:-2], min(aval.shape[-2:])), aval.dtype)
    if aval.size == 0:
        return a, _full(ctx, 0, taus_aval)
    r, taus = _lapack_call(ctx, "geqrf", aval.dtype, [a], [aval], [aval, taus_aval],
                           aliases={0: 0})
    return r, taus


def _geqrf_lower(ctx: RuleContext, a: Value) -> list[Value]:
    return list(_geqrf_emit(ctx, a, ctx.avals_in[0].strip_weak_type()))


lowering.register_lowering(geqrf_p, _geqrf_lower)


# --------------------------------------------------------------------------------------
# householder_product (LAPACK orgqr/ungqr)
# --------------------------------------------------------------------------------------

householder_product_p = Primitive("householder_product")


def householder_product(a: ArrayLike, taus: ArrayLike) -> Any:
    """Product of elementary Householder reflectors (LAPACK `orgqr`/`ungqr`).

    Args:
      a: `[..., m, n]` with `m >= n`, the reflectors below the diagonal (as from
        `geqrf`).
      taus: `[..., k]`, `k <= n`, the reflectors' scale factors.

    Returns:
      The `[..., m, n]` matrices with orthonormal columns `H_1 H_2 ... H_k` (first n
      columns).
    """
    return householder_product_p.bind(a, taus)


def _householder_product_abstract_eval(a: AbstractArray, taus: AbstractArray) -> AbstractArray:
    _check_matrices("householder_product", a, what="a")
    if taus.dtype != a.dtype or taus.ndim < 1:
        raise TypeError(f"lax.linalg.householder_product: taus must be a batch of vectors "
                        f"of a's dtype {a.dtype.name}, got {taus.str_short()}")
    _check_same_batch("householder_product", ("a", a, 2), ("taus", taus, 1))
    m, n = a.shape[-2:]
    if m < n:
        raise ValueError(f"lax.linalg.householder_product: a must have at least as many rows "
                         f"as columns, got shape {a.shape}")
    if taus.shape[-1] > n:
        raise ValueError(f"lax.linalg.householder_product: taus has {taus.shape[-1]} "
                         f"reflectors, more than a's {n} columns (shapes {a.shape}, "
                         f"{taus.shape})")
    return a.update(weak_type=_weak(a, taus))


householder_product_p.def_abstract_eval(_householder_product_abstract_eval)


def _householder_product_emit(ctx: RuleContext, a: Value, taus: Value, aval: AbstractArray,
                              taus_aval: AbstractArray) -> Value:
    if aval.size == 0:
        return a
    if taus_aval.shape[-1] == 0:
        return _eye(ctx, aval)
    routine = "ungqr" if dtypes.is_complex(aval.dtype) else "orgqr"
    return _lapack_call(ctx, routine, aval.dtype, [a, taus], [aval, taus_aval], [aval],
                        aliases={0: 0})[0]


def _householder_product_lower(ctx: RuleContext, a: Value, taus: Value) -> Value:
    aval, taus_aval = (v.strip_weak_type() for v in ctx.avals_in)
    return _householder_product_emit(ctx, a, taus, aval, taus_aval)


lowering.register_lowering(householder_product_p, _householder_product_lower)


# --------------------------------------------------------------------------------------
# lu and lu_pivots_to_permutation
# --------------------------------------------------------------------------------------

lu_pivots_to_permutation_p = Primitive("lu_pivots_to_permutation")


def lu_pivots_to_permutation(pivots: ArrayLike, permutation_size: int) -> Any:
    """The permutation made by applying LU's row swaps to `range(permutation_size)`.

    Args:
      pivots: int32 `[..., k]`: step i swaps rows i and `pivots[..., i]`.
      permutation_size: `m >= k`, the length of the permutation.

    Returns:
      int32 `[..., m]`: row `i` of `P @ A` is row `permutation[i]` of `A`.
    """
    return lu_pivots_to_permutation_p.bind(
        pivots, permutation_size=operator_index(permutation_size))


def _lu_pivots_to_permutation_abstract_eval(pivots: AbstractArray, *, permutation_size: int
                                            ) -> AbstractArray:
    if pivots.dtype != _I32 or pivots.ndim < 1:
        raise TypeError("lax.linalg.lu_pivots_to_permutation: pivots must be an int32 array "
                        f"of rank >= 1, got {pivots.str_short()}")
    if permutation_size < pivots.shape[-1]:
        raise ValueError(f"lax.linalg.lu_pivots_to_permutation: permutation_size "
                         f"{permutation_size} must be at least the number of pivots "
                         f"{pivots.shape[-1]} (pivots shape {pivots.shape})")
    return pivots.update(shape=(*pivots.shape[:-1], permutation_size))


lu_pivots_to_permutation_p.def_abstract_eval(_lu_pivots_to_permutation_abstract_eval)


def _pivots_to_permutation_emit(ctx: RuleContext, pivots: Value, pivots_aval: AbstractArray,
                                m: int) -> Value:
    """A `stablehlo.while` over the k swaps; each step exchanges entries i and pivots[i]
    of every batch element's permutation with one-hot masks (no gathers needed)."""
    batch, k = pivots_aval.shape[:-1], pivots_aval.shape[-1]
    nb = len(batch)
    perm_aval = AbstractArray((*batch, m), _I32)
    perm = _iota(ctx, perm_aval, nb)
    if k == 0 or perm_aval.size == 0:
        return perm
    scalar = AbstractArray((), _I32)
    column = AbstractArray((*batch, 1), _I32)
    piv_aval = pivots_aval.strip_weak_type()

    def cond(args: list[Value]) -> list[Value]:
        return [_compare(ctx, args[0], ctx.constant(k, scalar), scalar, "LT")]

    def body(args: list[Value]) -> list[Value]:
        i, p, piv = args
        zero = ctx.constant(0, scalar)
        j = ctx.op("stablehlo.dynamic_slice", [piv, *[zero] * nb, i], column,
                   {"slice_sizes": i64_array((*batch, 1))})
        x_i = ctx.op("stablehlo.dynamic_slice", [p, *[zero] * nb, i], column,
                     {"slice_sizes": i64_array((*batch, 1))})
        positions = _iota(ctx, perm_aval, nb)
        at_j = _compare(ctx, positions, _broadcast_in_dim(ctx, j, perm_aval, range(nb + 1)),
                        perm_aval, "EQ")
        at_i = _compare(ctx, positions, _broadcast_in_dim(ctx, i, perm_aval, ()), perm_aval,
                        "EQ")
        # x_j = p[..., j]: exactly one position matches, so a masked sum picks it.
        masked = _select(ctx, at_j, p, _full(ctx, 0, perm_aval), perm_aval)
        add = ctx.region([scalar, scalar], lambda ab: [ctx.op("stablehlo.add", ab, scalar)])
        x_j = ctx.op("stablehlo.reduce", [masked, zero], AbstractArray(batch, _I32),
                     {"dimensions": i64_array((nb,))}, regions=[add])
        x_j = _broadcast_in_dim(ctx, x_j, perm_aval, range(nb))
        x_i = _broadcast_in_dim(ctx, x_i, perm_aval, range(nb + 1))
        p = _select(ctx, at_i, x_j, _select(ctx, at_j, x_i, p, perm_aval), perm_aval)
        return [ctx.op("stablehlo.add", [i, ctx.constant(1, scalar)], scalar), p, piv]

    avals = [scalar, perm_aval, piv_aval]
    i0 = ctx.constant(0, scalar)
    outs = ctx.op("stablehlo.while", [i0, perm, pivots], avals,
                  regions=[ctx.region(avals, cond), ctx.region(avals, body)])
    return outs[1]


def _lu_pivots_to_permutation_lower(ctx: RuleContext, pivots: Value, *, permutation_size: int
                                    ) -> Value:
    return _pivots_to_permutation_emit(ctx, pivots, ctx.avals_in[0], permutation_size)


lowering.register_lowering(lu_pivots_to_permutation_p, _lu_pivots_to_permutation_lower)


lu_p = Primitive("lu", multiple_results=True)


def lu(x: ArrayLike) -> tuple[Any, Any, Any]:
    """LU decomposition with partial pivoting, `P @ x = L @ U` (LAPACK `getrf`).

    Args:
      x: a batch of matrices `[..., m, n]` (float32/64, complex64/128).

    Returns:
      `(lu, pivots, permutation)`: `lu` holds `L` (unit diagonal, not stored) below the
      diagonal and `U` on and above it; `pivots` (int32 `[..., min(m, n)]`) are the row
      swaps; `permutation` (int32 `[..., m]`) is the same as a permutation of rows.
    """
    lu_, pivots, permutation = lu_p.bind(x)
    return lu_, pivots, permutation


def _lu_abstract_eval(x: AbstractArray) -> list[AbstractArray]:
    _check_matrices("lu", x)
    m, n = x.shape[-2:]
    batch = x.shape[:-2]
    return [x, AbstractArray((*batch, min(m, n)), _I32, x.weak_type),
            AbstractArray((*batch, m), _I32, x.weak_type)]


lu_p.def_abstract_eval(_lu_abstract_eval)


def _lu_lower(ctx: RuleContext, x: Value) -> list[Value]:
    aval = ctx.avals_in[0].strip_weak_type()
    m = aval.shape[-2]
    pivots_aval = ctx.avals_out[1].strip_weak_type()
    if aval.size == 0:
        pivots = _full(ctx, 0, pivots_aval)
        return [x, pivots, _pivots_to_permutation_emit(ctx, pivots, pivots_aval, m)]
    info_aval = AbstractArray(aval.shape[:-2], _I32)
    factors, pivots, info = _lapack_call(ctx, "getrf", aval.dtype, [x], [aval],
                                         [aval, pivots_aval, info_aval], aliases={0: 0})
    # LAPACK pivots are 1-based; info > 0 (an exactly singular U) is still a valid LU.
    pivots = ctx.op("stablehlo.subtract", [pivots, _full(ctx, 1, pivots_aval)], pivots_aval)
    factors = _nan_unless(ctx, _info_ok(ctx, info, info_aval, "GE"), info_aval, factors, aval)
    return [factors, pivots, _pivots_to_permutation_emit(ctx, pivots, pivots_aval, m)]


lowering.register_lowering(lu_p, _lu_lower)


# --------------------------------------------------------------------------------------
# qr
# --------------------------------------------------------------------------------------

qr_p = Primitive("qr", multiple_results=True)


def qr(x: ArrayLike, *, pivoting: bool = False, full_matrices: bool = True,
       use_magma: bool | None = None) -> tuple[Any, ...]:
    """QR decomposition `x = Q @ R` (LAPACK `geqrf` + `orgqr`/`ungqr`; `geqp3` if pivoting).

    Args:
      x: a batch of matrices `[..., m, n]` (float32/64, complex64/128).
      pivoting: if True, column-pivoted QR: `x[..., :, p] = Q @ R` with `|diag(R)|`
        non-increasing.
      full_matrices: `Q` is `[..., m, m]` and `R` `[..., m, n]` if True; else
        `[..., m, k]` and `[..., k, n]` with `k = min(m, n)`.
      use_magma: accepted for jax compatibility; ignored on CPU.

    Returns:
      `(q, r)`, or `(q, r, p)` with int32 column permutation `p` `[..., n]` when pivoting.
    """
    del use_magma
    return tuple(qr_p.bind(x, pivoting=bool(pivoting), full_matrices=bool(full_matrices)))


def _qr_abstract_eval(x: AbstractArray, *, pivoting: bool, full_matrices: bool
                      ) -> list[AbstractArray]:
    _check_matrices("qr", x)
    *batch, m, n = x.shape
    k = m if full_matrices else min(m, n)
    outs = [x.update(shape=(*batch, m, k)), x.update(shape=(*batch, k, n))]
    if pivoting:
        outs.append(AbstractArray((*batch, n), _I32, x.weak_type))
    return outs


qr_p.def_abstract_eval(_qr_abstract_eval)


def _qr_lower(ctx: RuleContext, x: Value, *, pivoting: bool, full_matrices: bool
              ) -> list[Value]:
    aval = ctx.avals_in[0].strip_weak_type()
    q_aval, r_aval, *p_aval = (a.strip_weak_type() for a in ctx.avals_out)
    *batch, m, n = aval.shape
    if aval.size == 0:
        outs = [_eye(ctx, q_aval), _full(ctx, 0, r_aval)]
        return outs + [_iota(ctx, p_aval[0], len(batch))] if pivoting else outs
    k = min(m, n)
    taus_aval = AbstractArray((*batch, k), aval.dtype)
    if pivoting:
        jpvt_aval = p_aval[0]
        r, perm, taus = _lapack_call(
            ctx, "geqp3", aval.dtype, [x, _full(ctx, 0, jpvt_aval)], [aval, jpvt_aval],
            [aval, jpvt_aval, taus_aval], aliases={0: 0, 1: 1})
        perm = ctx.op("stablehlo.subtract", [perm, _full(ctx, 1, jpvt_aval)], jpvt_aval)
    else:
        r, taus = _geqrf_emit(ctx, x, aval)
    r_full = aval
    if m < n:
        # Q needs only the first m columns of the reflectors.
        h_aval = aval.update(shape=(*batch, m, m))
        h = _slice_last(ctx, r, aval, (0, m), (0, m))
    elif full_matrices:
        h_aval = aval.update(shape=(*batch, m, m))
        h = _pad_high(ctx, r, aval, h_aval)
    else:
        h_aval, h = aval, r
        r = _slice_last(ctx, r, aval, (0, n), (0, n))
        r_full = aval.update(shape=(*batch, n, n))
    q = _householder_product_emit(ctx, h, taus, h_aval, taus_aval)
    outs = [q, _keep_triangle(ctx, r, r_full, lower=False)]
    return outs + [perm] if pivoting else outs


lowering.register_lowering(qr_p, _qr_lower)


# --------------------------------------------------------------------------------------
# svd
# --------------------------------------------------------------------------------------

svd_p = Primitive("svd", multiple_results=True)


def svd(x: ArrayLike, *, full_matrices: bool = True, compute_uv: bool = True,
        subset_by_index: tuple[int, int] | None = None,
        algorithm: SvdAlgorithm | None = None) -> Any:
    """Singular value decomposition `x = U @ diag(s) @ Vh` (LAPACK `gesdd`; `gesvd` for
    `SvdAlgorithm.QR`).

    Args:
      x: a batch of matrices `[..., m, n]` (float32/64, complex64/128).
      full_matrices: `U` is `[..., m, m]` and `Vh` `[..., n, n]` if True; else
        `[..., m, k]` and `[..., k, n]`, `k = min(m, n)`.
      compute_uv: if False, return only `s`.
      subset_by_index: optional `(start, end)`: keep singular values
        `start <= i < end` of the descending order (needs `full_matrices=False`).
      algorithm: None, `SvdAlgorithm.DEFAULT`, `.DIVIDE_AND_CONQUER` or `.QR`.

    Returns:
      `(u, s, vh)` if `compute_uv` else `s`: real singular values in descending order
      (`[..., k]`), `u` and `vh` of `x`'s dtype.
    """
    if algorithm is not None and not isinstance(algorithm, SvdAlgorithm):
        raise TypeError(f"lax.linalg.svd: algorithm must be None or a SvdAlgorithm, got "
                        f"{algorithm!r}")
    if algorithm in (SvdAlgorithm.JACOBI, SvdAlgorithm.POLAR):
        raise NotImplementedError(f"lax.linalg.svd: {algorithm} is not available on CPU; use "
                                  "SvdAlgorithm.DEFAULT or SvdAlgorithm.QR")
    subset = None
    if subset_by_index is not None:
        subset = tuple(operator_index(i) for i in subset_by_index)
    outs = svd_p.bind(x, full_matrices=bool(full_matrices), compute_uv=bool(compute_uv),
                      subset_by_index=subset,
                      algorithm=SvdAlgorithm.QR if algorithm is SvdAlgorithm.QR else None)
    if compute_uv:
        s, u, vh = outs
        return u, s, vh
    return outs[0]


def _svd_abstract_eval(x: AbstractArray, *, full_matrices: bool, compute_uv: bool,
                       subset_by_index: tuple[int, int] | None,
                       algorithm: SvdAlgorithm | None) -> list[AbstractArray]:
    _check_matrices("svd", x)
    *batch, m, n = x.shape
    k = min(m, n)
    subset = _check_subset("svd", subset_by_index, k)
    if subset is not None and subset != (0, k):
        if full_matrices:
            raise ValueError("lax.linalg.svd: subset_by_index needs full_matrices=False, got "
                             f"subset_by_index={subset} for shape {x.shape}")
        k = subset[1] - subset[0]
    s = AbstractArray((*batch, k), dtypes.real_dtype(x.dtype), x.weak_type)
    if not compute_uv:
        return [s]
    u = x.update(shape=(*batch, m, m if full_matrices else k))
    vh = x.update(shape=(*batch, n if full_matrices else k, n))
    return [s, u, vh]


svd_p.def_abstract_eval(_svd_abstract_eval)


def _svd_lower(ctx: RuleContext, x: Value, *, full_matrices: bool, compute_uv: bool,
               subset_by_index: tuple[int, int] | None, algorithm: SvdAlgorithm | None
               ) -> list[Value]:
    aval = ctx.avals_in[0].strip_weak_type()
    outs_aval = [a.strip_weak_type() for a in ctx.avals_out]
    *batch, m, n = aval.shape
    k = min(m, n)
    if aval.size == 0:
        # Singular vectors of an empty matrix: any orthonormal basis; use the identity.
        return ([_full(ctx, 0, outs_aval[0])]
                + [_eye(ctx, a) if a.size else _full(ctx, 0, a) for a in outs_aval[1:]])
    full = full_matrices and compute_uv
    s_aval = AbstractArray((*batch, k), dtypes.real_dtype(aval.dtype))
    u_aval = aval.update(shape=(*batch, m, m if full_matrices else k))
    vh_aval = aval.update(shape=(*batch, n if full_matrices else k, n))
    info_aval = AbstractArray(batch, _I32)
    mode = ord("A" if full else "S" if compute_uv else "N")
    routine = "gesvd" if algorithm is SvdAlgorithm.QR else "gesdd"
    _, s, u, vh, info = _lapack_call(ctx, routine, aval.dtype, [x], [aval],
                                     [aval, s_aval, u_aval, vh_aval, info_aval],
                                     aliases={0: 0}, mode=mode)
    ok = _info_ok(ctx, info, info_aval)
    s = _nan_unless(ctx, ok, info_aval, s, s_aval)
    u = _nan_unless(ctx, ok, info_aval, u, u_aval) if compute_uv else u
    vh = _nan_unless(ctx, ok, info_aval, vh, vh_aval) if compute_uv else vh
    if subset_by_index is not None and subset_by_index != (0, k):
        lo, hi = subset_by_index  # (full_matrices is False here: the abstract eval checks)
        s = _slice_last(ctx, s, s_aval, (lo, hi))
        u = _slice_last(ctx, u, u_aval, (0, m), (lo, hi))
        vh = _slice_last(ctx, vh, vh_aval, (lo, hi), (0, n))
    return [s, u, vh] if compute_uv else [s]


lowering.register_lowering(svd_p, _svd_lower)


# --------------------------------------------------------------------------------------
# triangular_solve
# --------------------------------------------------------------------------------------

triangular_solve_p = Primitive("triangular_solve")


def triangular_solve(a: ArrayLike, b: ArrayLike, *, left_side: bool = False,
                     lower: bool = False, transpose_a: bool = False,
                     conjugate_a: bool = False, unit_diagonal: bool = False) -> Any:
    """Solve `op(a) @ x = b` (left_side) or `x @ op(a) = b` for triangular `a`.

    Args:
      a: a batch of triangular matrices `[..., m, m]` (float32/64, complex64/128).
      b: `[..., m, n]` if `left_side` else `[..., n, m]`, same dtype and batch
        dimensions as `a`; or a batch of vectors `[..., m]` (one right-hand side).
      left_side: which of the two equations to solve.
      lower: use the lower (True) or upper triangle of `a`; the other is not read.
      transpose_a: `op(a)` transposes `a`.
      conjugate_a: `op(a)` conjugates `a` (no effect for real dtypes).
      unit_diagonal: assume ones on the diagonal of `a` (it is not read).

    Returns:
      `x`, with `b`'s shape and dtype.
    """
    a_aval, b_aval = aval_of(a), aval_of(b)
    conjugate_a = bool(conjugate_a) and dtypes.is_complex(a_aval.dtype)
    vector = b_aval.ndim == a_aval.ndim - 1 and a_aval.ndim >= 2
    if vector:
        b = expand_dims(b, (b_aval.ndim if left_side else b_aval.ndim - 1,))
    out = triangular_solve_p.bind(a, b, left_side=bool(left_side), lower=bool(lower),
                                  transpose_a=bool(transpose_a), conjugate_a=conjugate_a,
                                  unit_diagonal=bool(unit_diagonal))
    if vector:
        out = squeeze(out, (b_aval.ndim if left_side else b_aval.ndim - 1,))
    return out


def _triangular_solve_abstract_eval(a: AbstractArray, b: AbstractArray, *, left_side: bool,
                                    lower: bool, transpose_a: bool, conjugate_a: bool,
                                    unit_diagonal: bool) -> AbstractArray:
    _check_matrices("triangular_solve", a, square=True, what="a")
    if b.dtype != a.dtype:
        raise TypeError(f"lax.linalg.triangular_solve: a and b must have the same dtype, got "
                        f"{a.str_short()} and {b.str_short()}")
    if b.ndim != a.ndim:
        raise ValueError(f"lax.linalg.triangular_solve: b must have a's rank {a.ndim} (or "
                         f"{a.ndim - 1} for one right-hand side), got shapes {a.shape} and "
                         f"{b.shape}")
    _check_same_batch("triangular_solve", ("a", a, 2), ("b", b, 2))
    side_dim = -2 if left_side else -1
    if b.shape[side_dim] != a.shape[-1]:
        raise ValueError(f"lax.linalg.triangular_solve: incompatible shapes a {a.shape} and b "
                         f"{b.shape} for left_side={left_side}: b.shape[{side_dim}] must be "
                         f"{a.shape[-1]}")
    return b.update(weak_type=_weak(a, b))


triangular_solve_p.def_abstract_eval(_triangular_solve_abstract_eval)


def _triangular_solve_lower(ctx: RuleContext, a: Value, b: Value, *, left_side: bool,
                            lower: bool, transpose_a: bool, conjugate_a: bool,
                            unit_diagonal: bool) -> Value:
    a_aval = ctx.avals_in[0].strip_weak_type()
    out = ctx.aval_out.strip_weak_type()
    if out.size == 0:
        return _full(ctx, 0, out)
    if conjugate_a and not transpose_a:
        # StableHLO has ADJOINT (conjugate transpose) but no bare conjugate.
        a = ctx.op("chlo.conj", [a], a_aval)
    transpose = ("NO_TRANSPOSE" if not transpose_a else
                 "ADJOINT" if conjugate_a else "TRANSPOSE")
    return ctx.op("stablehlo.triangular_solve", [a, b], out, {
        "left_side": lowering.bool_attr(left_side), "lower": lowering.bool_attr(lower),
        "unit_diagonal": lowering.bool_attr(unit_diagonal),
        "transpose_a": f"#stablehlo<transpose {transpose}>"})


lowering.register_lowering(triangular_solve_p, _triangular_solve_lower)


# NOTE: the JVP, transpose and batching rules live in linalg_rules.py (size); importing
# it here registers them whenever this module is imported.
from lamina.lax import linalg_rules as _linalg_rules  # noqa: E402,F401
