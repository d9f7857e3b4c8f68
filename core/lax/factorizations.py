"""The factorisation primitives of `lamina.lax.linalg`: `cholesky`, `lu` (with
`lu_pivots_to_permutation`), `qr` and its Householder building blocks `geqrf` and
`householder_product`, with jax.lax.linalg's names and semantics.

Re-exported by `lamina.lax.linalg` (the family's namespace, whose docstring describes
the LAPACK lowering); their JVP, transpose and batching rules are in
`lamina.lax.linalg_rules`.
"""
from __future__ import annotations

from typing import Any

from lamina import dtypes
from lamina.interpreters import lowering
from lamina.interpreters.lowering import RuleContext, Value, i64_array
from lamina.ir import AbstractArray, Primitive
from lamina.lax._linalg_util import (
    _I32, _broadcast_in_dim, _check_matrices, _check_same_batch, _compare, _eye, _full,
    _info_ok, _iota, _keep_triangle, _lapack_call, _nan_unless, _pad_high, _select,
    _slice_last, _symmetrize, _weak,
)
from lamina.lax._util import ArrayLike, operator_index


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
