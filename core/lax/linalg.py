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

One module per family: `factorizations` (cholesky, lu, lu_pivots_to_permutation, qr,
geqrf, householder_product), `spectral` (eig, eigh, svd and their enums) and, here,
`triangular_solve`; they share the LAPACK-call, StableHLO-snippet and check helpers of
`_linalg_util`. This module is the family's namespace: it re-exports the others'
wrappers and primitives.

The transformation rules (JVP, transpose, batching) are in `linalg_rules.py`, imported
at the end of this module.
"""
from __future__ import annotations

from typing import Any

from lamina import dtypes
from lamina.interpreters import lowering
from lamina.interpreters.lowering import RuleContext, Value
from lamina.ir import AbstractArray, Primitive
from lamina.lax._linalg_util import _check_matrices, _check_same_batch, _full, _weak
from lamina.lax._util import ArrayLike, aval_of
from lamina.lax.structural import expand_dims, squeeze
# NOTE: the primitives stay importable from here (not in __all__, as before the split);
# linalg_rules and callers use this module as the family's namespace.
from lamina.lax.factorizations import (  # noqa: F401
    cholesky, cholesky_p, geqrf, geqrf_p, householder_product, householder_product_p, lu,
    lu_p, lu_pivots_to_permutation, lu_pivots_to_permutation_p, qr, qr_p,
)
from lamina.lax.spectral import (  # noqa: F401
    EigImplementation, SvdAlgorithm, eig, eig_p, eigh, eigh_p, svd, svd_p,
)

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
