"""The spectral primitives of `lamina.lax.linalg`: `eig`, `eigh` and `svd` with their
enums `EigImplementation` and `SvdAlgorithm`, with jax.lax.linalg's names and semantics.

Re-exported by `lamina.lax.linalg` (the family's namespace, whose docstring describes
the LAPACK lowering); their JVP, transpose and batching rules are in
`lamina.lax.linalg_rules`.
"""
from __future__ import annotations

import enum
from typing import Any

import numpy as np

from lamina import dtypes
from lamina.interpreters import lowering
from lamina.interpreters.lowering import RuleContext, Value
from lamina.ir import AbstractArray, Primitive
from lamina.lax._linalg_util import (
    _C64, _C128, _F64, _I32, _check_matrices, _check_subset, _eye, _full, _info_ok,
    _lapack_call, _nan_unless, _slice_last, _symmetrize,
)
from lamina.lax._util import ArrayLike, operator_index


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
