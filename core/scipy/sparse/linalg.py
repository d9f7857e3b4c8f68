"""lamina.scipy.sparse.linalg: Krylov solvers for `A x = b` (`cg`, `gmres`, `bicgstab`),
with `jax.scipy.sparse.linalg`'s names, signatures and semantics.

`A` (and the preconditioner `M`) may be a function `x -> A x`, a square 2-D array or any
object with `@`; `b` may be any pytree of arrays (the "vector" is all its leaves
together). The iteration is a `lax.while_loop` wrapped in `lax.custom_linear_solve`, so
the solvers work under `jit` and `vmap`, and their derivatives come from a second solve
of the (transposed) system rather than from differentiating through the loop.

>>> import lamina.numpy as lnp
>>> from lamina.scipy.sparse.linalg import gmres
>>> x, info = gmres(lnp.array([[3., 1.], [0., 2.]]), lnp.array([5., 4.]))
>>> x.round(4), info
(Array([1., 2.], dtype=float32), Array(0, dtype=int32, weak_type=True))
"""
from __future__ import annotations

import functools
import operator
from typing import Any, Callable

import numpy as np

import lamina.numpy as lnp
from lamina import dtypes, lax, tree_util
from lamina.scipy import linalg as _sla

__all__ = ["bicgstab", "cg", "gmres"]

_API = "lamina.scipy.sparse.linalg"

# NOTE: full-precision products (as jax) so the iterates do not depend on TF32/bf16
# passes on accelerators.
_dot = functools.partial(lnp.dot, precision=lax.Precision.HIGHEST)
_vdot = functools.partial(lnp.vdot, precision=lax.Precision.HIGHEST)


# --------------------------------------------------------------------------------------
# Vector-space operations on pytrees
# --------------------------------------------------------------------------------------


def _leaves(x: Any) -> list[Any]:
    return tree_util.tree_leaves(x)


def _is_complex(x: Any) -> bool:
    return lnp.iscomplexobj(x)


def _re_vdot(x: Any, y: Any) -> Any:
    """Re <x, y> of two arrays, a real scalar (the imaginary cross terms cancel)."""
    out = _vdot(lnp.real(x), lnp.real(y))
    if _is_complex(x) or _is_complex(y):
        out = out + _vdot(lnp.imag(x), lnp.imag(y))
    return out


def _tree_re_vdot(x: Any, y: Any) -> Any:
    return functools.reduce(operator.add, map(_re_vdot, _leaves(x), _leaves(y)))


def _tree_vdot(x: Any, y: Any) -> Any:
    return functools.reduce(operator.add, map(_vdot, _leaves(x), _leaves(y)))


def _tree_norm(x: Any) -> Any:
    return lnp.sqrt(_tree_re_vdot(x, x))


def _scale(alpha: Any, x: Any) -> Any:
    return tree_util.tree_map(lambda leaf: alpha * leaf, x)


def _plus(x: Any, y: Any) -> Any:
    return tree_util.tree_map(operator.add, x, y)


def _minus(x: Any, y: Any) -> Any:
    return tree_util.tree_map(operator.sub, x, y)


def _axpy(alpha: Any, x: Any, y: Any) -> Any:
    """alpha * x + y, leaf by leaf."""
    return tree_util.tree_map(lambda a, b: alpha * a + b, x, y)


def _where(pred: Any, x: Any, y: Any) -> Any:
    return tree_util.tree_map(lambda a, b: lnp.where(pred, a, b), x, y)


def _tree_dtype(x: Any) -> np.dtype:
    return dtypes.result_type(*_leaves(x))


def _identity(x: Any) -> Any:
    return x


def _as_operator(name: str, op: Any) -> Callable[[Any], Any]:
    """`A` (or `M`) as a function `x -> A x`."""
    if callable(op):
        return op
    if hasattr(op, "__matmul__") or isinstance(op, np.ndarray):
        shape = tuple(getattr(op, "shape", ()))
        if len(shape) != 2 or shape[0] != shape[1]:
            raise ValueError(f"{_API}: the linear operator {name} must be a square matrix "
                             f"(n, n), but has shape {shape}. Pass a square array or a "
                             f"function computing {name} @ x.")
        if isinstance(op, np.ndarray):
            op = lnp.asarray(op)
            return functools.partial(_dot, op)
        return functools.partial(operator.matmul, op)
    raise TypeError(f"{_API}: the linear operator {name} must be a function x -> {name} @ x "
                    f"or a square 2-D array, got {type(op).__name__} {op!r}.")


def _prepare(fun: str, A: Any, b: Any, x0: Any, M: Any) -> tuple[Any, Any, Any, Any, int]:
    b = tree_util.tree_map(lnp.asarray, b)
    if not _leaves(b):
        raise ValueError(f"{_API}.{fun}: b has no arrays (it is {b!r}); pass an array or a "
                         "pytree of arrays.")
    x0 = tree_util.tree_map(lnp.zeros_like, b) if x0 is None else \
        tree_util.tree_map(lnp.asarray, x0)
    b_tree, x_tree = tree_util.tree_structure(b), tree_util.tree_structure(x0)
    if b_tree != x_tree:
        raise ValueError(f"{_API}.{fun}: x0 and b must have the same pytree structure, got "
                         f"x0 {x_tree} and b {b_tree}.")
    b_shapes = [tuple(np.shape(leaf)) for leaf in _leaves(b)]
    x_shapes = [tuple(np.shape(leaf)) for leaf in _leaves(x0)]
    if b_shapes != x_shapes:
        raise ValueError(f"{_API}.{fun}: the arrays of x0 and b must have the same shapes, "
                         f"got x0 {x_shapes} and b {b_shapes}.")
    size = sum(int(np.prod(s, dtype=np.int64)) for s in b_shapes)
    A = _as_operator("A", A)
    M = _identity if M is None else _as_operator("M", M)
    return A, b, x0, M, size


# --------------------------------------------------------------------------------------
# Conjugate gradients
# --------------------------------------------------------------------------------------


def _cg_solve(A: Any, b: Any, x0: Any, *, maxiter: int, tol: float, atol: float,
              M: Any) -> Any:
    # Stop once |r|^2 <= max(tol^2 |b|^2, atol^2).
    limit = lnp.maximum(lnp.square(tol) * _tree_re_vdot(b, b), lnp.square(atol))
    r0 = _minus(b, A(x0))
    z0 = M(r0)
    dtype = _tree_dtype(z0)
    rz0 = _tree_re_vdot(r0, z0).astype(dtype)

    def cond(state: tuple) -> Any:
        _, r, rz, _, k = state
        rr = lnp.real(rz) if M is _identity else _tree_re_vdot(r, r)
        return (rr > limit) & (k < maxiter)

    def body(state: tuple) -> tuple:
        x, r, rz, p, k = state
        ap = A(p)
        step = rz / _tree_re_vdot(p, ap).astype(dtype)
        x = _axpy(step, p, x)
        r = _axpy(-step, ap, r)
        z = M(r)
        rz_next = _tree_re_vdot(r, z).astype(dtype)
        p = _axpy(rz_next / rz, p, z)
        return x, r, rz_next, p, k + 1

    return lax.while_loop(cond, body, (x0, r0, rz0, z0, 0))[0]


def _implicit(solver: Callable[..., Any], A: Any, b: Any, x0: Any, symmetric: bool,
              **kw: Any) -> Any:
    solve = functools.partial(solver, x0=x0, **kw)
    return lax.custom_linear_solve(A, b, solve=lambda mv, rhs: solve(mv, rhs),
                                   transpose_solve=lambda vm, rhs: solve(vm, rhs),
                                   symmetric=symmetric)


def cg(A: Any, b: Any, x0: Any = None, *, tol: float = 1e-5, atol: float = 0.0,
       maxiter: int | None = None, M: Any = None) -> tuple[Any, None]:
    """Solves `A x = b` by (preconditioned) conjugate gradients, as
    `jax.scipy.sparse.linalg.cg`.

    `A` must be Hermitian positive definite. Derivatives (with respect to `b` and to
    whatever `A` closes over) are computed by another CG solve, so they are accurate
    when both solves converge.

    Args:
        A: a function `x -> A x` returning a pytree shaped like its argument, a square
            2-D array, or an object supporting `A @ x`.
        b: the right-hand side, an array or a pytree of arrays.
        x0: the initial guess (default zeros), with b's structure and shapes.
        tol, atol: stop when `norm(b - A x) <= max(tol * norm(b), atol)`.
        maxiter: the maximum number of iterations (default `10 * size(b)`).
        M: a preconditioner approximating the inverse of A (function, array or `@`).

    Returns:
        `(x, None)`: the solution, shaped like `b`, and a placeholder for convergence
        information (as in jax).

    >>> import lamina.numpy as lnp
    >>> from lamina.scipy.sparse.linalg import cg
    >>> a = lnp.array([[4., 1.], [1., 3.]])
    >>> x, _ = cg(lambda v: a @ v, lnp.array([1., 2.]))
    >>> x
    Array([0.09090909, 0.6363636 ], dtype=float32)
    """
    A, b, x0, M, size = _prepare("cg", A, b, x0, M)
    maxiter = 10 * size if maxiter is None else maxiter
    real = not any(_is_complex(leaf) for leaf in _leaves(b))
    x = _implicit(_cg_solve, A, b, x0, real, maxiter=maxiter, tol=tol, atol=atol, M=M)
    return x, None


# --------------------------------------------------------------------------------------
# BiCGSTAB
# --------------------------------------------------------------------------------------


def _bicgstab_solve(A: Any, b: Any, x0: Any, *, maxiter: int, tol: float, atol: float,
                    M: Any) -> Any:
    limit = lnp.maximum(lnp.square(tol) * _tree_re_vdot(b, b), lnp.square(atol))

    def cond(state: tuple) -> Any:
        _, r, *_, k = state
        # NOTE: k < 0 flags a breakdown (rho == 0: -10, alpha or omega == 0: -11).
        return (_tree_re_vdot(r, r) > limit) & (k < maxiter) & (k >= 0)

    def body(state: tuple) -> tuple:
        x, r, shadow, alpha, omega, rho, p, v, k = state
        rho_next = _tree_vdot(shadow, r)
        beta = (rho_next / rho) * (alpha / omega)
        p = _plus(r, _scale(beta, _axpy(-omega, v, p)))
        p_hat = M(p)
        v = A(p_hat)
        alpha = rho_next / _tree_vdot(shadow, v)
        s = _axpy(-alpha, v, r)
        done = _tree_re_vdot(s, s) < limit
        s_hat = M(s)
        t = A(s_hat)
        omega = _tree_vdot(t, s) / _tree_vdot(t, t)
        x_half = _axpy(alpha, p_hat, x)
        x = _where(done, x_half, _axpy(omega, s_hat, x_half))
        r = _where(done, s, _axpy(-omega, t, s))
        k = lnp.where((omega == 0) | (alpha == 0), -11, k + 1)
        k = lnp.where(rho_next == 0, -10, k)
        return x, r, shadow, alpha, omega, rho_next, p, v, k

    r0 = _minus(b, A(x0))
    one = lnp.ones((), _tree_dtype(b))
    return lax.while_loop(cond, body, (x0, r0, r0, one, one, one, r0, r0, 0))[0]


def bicgstab(A: Any, b: Any, x0: Any = None, *, tol: float = 1e-5, atol: float = 0.0,
             maxiter: int | None = None, M: Any = None) -> tuple[Any, None]:
    """Solves `A x = b` by BiCGSTAB, as `jax.scipy.sparse.linalg.bicgstab`.

    `A` may be any nonsingular (non-symmetric) operator. Derivatives are computed by a
    second BiCGSTAB solve of the transposed system.

    Args:
        A: a function `x -> A x` returning a pytree shaped like its argument, a square
            2-D array, or an object supporting `A @ x`.
        b: the right-hand side, an array or a pytree of arrays.
        x0: the initial guess (default zeros), with b's structure and shapes.
        tol, atol: stop when `norm(b - A x) <= max(tol * norm(b), atol)`.
        maxiter: the maximum number of iterations (default `10 * size(b)`).
        M: a preconditioner approximating the inverse of A (function, array or `@`).

    Returns:
        `(x, None)`: the solution, shaped like `b`, and a placeholder (as in jax).

    >>> import lamina.numpy as lnp
    >>> from lamina.scipy.sparse.linalg import bicgstab
    >>> x, _ = bicgstab(lnp.array([[3., 1.], [0., 2.]]), lnp.array([5., 4.]))
    >>> x.round(4)
    Array([1., 2.], dtype=float32)
    """
    A, b, x0, M, size = _prepare("bicgstab", A, b, x0, M)
    maxiter = 10 * size if maxiter is None else maxiter
    x = _implicit(_bicgstab_solve, A, b, x0, False, maxiter=maxiter, tol=tol, atol=atol,
                  M=M)
    return x, None


# --------------------------------------------------------------------------------------
# GMRES
# --------------------------------------------------------------------------------------


def _unit(x: Any, thresh: Any = None) -> tuple[Any, Any]:
    """x / norm(x) and norm(x), both zero when the norm is at most `thresh` (default:
    the dtype's epsilon)."""
    norm = _tree_norm(x)
    dtype = _tree_dtype(x)
    if thresh is None:
        thresh = dtypes.finfo(norm.dtype).eps
    keep = norm > lnp.real(lnp.asarray(thresh)).astype(norm.dtype)
    scale = lnp.where(keep, 1 / norm, 0).astype(dtype)
    return _scale(scale, x), lnp.where(keep, norm, 0)


def _project(V: Any, w: Any) -> Any:
    """V^H w: the overlaps of w with the (restart+1) stored Krylov vectors."""
    parts = [lnp.einsum("...n,...->n", lnp.conj(X), y, precision=lax.Precision.HIGHEST)
             for X, y in zip(_leaves(V), _leaves(w))]
    return functools.reduce(operator.add, parts)


def _combine(V: Any, h: Any) -> Any:
    """V h, a vector shaped like b."""
    return tree_util.tree_map(lambda X: _dot(X, h), V)


def _arnoldi_step(k: Any, A: Any, M: Any, V: Any, H: Any) -> tuple[Any, Any, Any]:
    """Extends the orthonormal Krylov basis V by M A V[k]; row k of H gets the new
    vector's coefficients. Reports a breakdown (an invariant subspace) as True."""
    dtype = _tree_dtype(V)
    w = M(A(tree_util.tree_map(lambda X: X[..., k], V)))
    _, w_norm = _unit(w)
    # NOTE: classical Gram-Schmidt run twice ("twice is enough") keeps the basis
    # orthogonal to working precision.
    h = _project(V, w)
    w = _minus(w, _combine(V, h))
    h2 = _project(V, w)
    w = _minus(w, _combine(V, h2))
    h = h + h2
    q, q_norm = _unit(w, dtypes.finfo(w_norm.dtype).eps * w_norm)
    V = tree_util.tree_map(lambda X, y: X.at[..., k + 1].set(y), V, q)
    h = h.at[k + 1].set(q_norm.astype(dtype))
    return V, H.at[k, :].set(h), q_norm == 0


def _givens(a: Any, b: Any) -> tuple[Any, Any]:
    """(c, s) with s a + c b = 0 and |c|^2 + |s|^2 = 1, computed without overflow."""
    b_small = lnp.abs(a) >= lnp.abs(b)
    big = lnp.where(b_small, a, b)
    ratio = -lnp.where(b_small, b, a) / lnp.where(big == 0, 1, big)
    inv = lax.rsqrt(1 + lnp.abs(ratio) ** 2).astype(ratio.dtype)
    c = lnp.where(b_small, inv, inv * ratio)
    s = lnp.where(b_small, inv * ratio, inv)
    zero_b = lnp.abs(b) == 0
    return lnp.where(zero_b, 1, c).astype(ratio.dtype), lnp.where(zero_b, 0, s).astype(
        ratio.dtype)


def _rotate(v: Any, i: Any, c: Any, s: Any) -> Any:
    """Applies the rotation [[conj c, -conj s], [s, c]] to entries i, i+1 of v."""
    a, b = v[i], v[i + 1]
    return v.at[i].set(lnp.conj(c) * a - lnp.conj(s) * b).at[i + 1].set(s * a + c * b)


def _krylov_basis(unit_residual: Any, restart: int) -> Any:
    return tree_util.tree_map(
        lambda x: lnp.concatenate([x[..., None], lnp.zeros((*x.shape, restart), x.dtype)],
                                  axis=-1), unit_residual)


def _gmres_incremental(A: Any, b: Any, x0: Any, unit_residual: Any, residual_norm: Any,
                       ptol: Any, restart: int, M: Any) -> tuple[Any, Any, Any]:
    """One restart, building the QR factorization of the Hessenberg matrix with Givens
    rotations as the basis grows, and stopping early once the (free) residual estimate
    is below ptol."""
    dtype = _tree_dtype(b)
    V = _krylov_basis(unit_residual, restart)
    R = lnp.eye(restart, restart + 1, dtype=dtype)
    rotations = lnp.zeros((restart, 2), dtype)
    rhs = lnp.zeros(restart + 1, dtype).at[0].set(residual_norm.astype(dtype))

    def cond(state: tuple) -> Any:
        k, err, *_ = state
        return (k < restart) & (err > ptol)

    def body(state: tuple) -> tuple:
        k, _, V, R, rhs, rotations = state
        V, H, _ = _arnoldi_step(k, A, M, V, R)
        row = lax.fori_loop(0, k, lambda i, r: _rotate(r, i, rotations[i, 0],
                                                         rotations[i, 1]), H[k, :])
        c, s = _givens(row[k], row[k + 1])
        rotations = rotations.at[k].set(lnp.stack([c, s]))
        R = R.at[k, :].set(_rotate(row, k, c, s))
        rhs = _rotate(rhs, k, c, s)
        return k + 1, lnp.abs(rhs[k + 1]), V, R, rhs, rotations

    _, _, V, R, rhs, _ = lax.while_loop(
        cond, body, (0, residual_norm, V, R, rhs, rotations))
    y = _sla.solve_triangular(R[:, :-1].T, rhs[:-1])
    x = _plus(x0, tree_util.tree_map(lambda X: _dot(X[..., :-1], y), V))
    unit, norm = _unit(M(_minus(b, A(x))))
    return x, unit, norm


def _gmres_batched(A: Any, b: Any, x0: Any, unit_residual: Any, residual_norm: Any,
                   ptol: Any, restart: int, M: Any) -> tuple[Any, Any, Any]:
    """One restart building the whole basis first (stopping only at a breakdown), then
    solving the small least-squares problem once, by its normal equations."""
    del ptol
    dtype = _tree_dtype(b)
    V = _krylov_basis(unit_residual, restart)
    H = lnp.eye(restart, restart + 1, dtype=dtype)

    def cond(state: tuple) -> Any:
        _, _, broke, k = state
        return (k < restart) & ~broke

    def body(state: tuple) -> tuple:
        V, H, _, k = state
        V, H, broke = _arnoldi_step(k, A, M, V, H)
        return V, H, broke, k + 1

    V, H, _, _ = lax.while_loop(cond, body, (V, H, lnp.asarray(False), 0))
    rhs = lnp.zeros(restart + 1, dtype).at[0].set(residual_norm.astype(dtype))
    hess = H.T  # (restart + 1, restart), the Hessenberg matrix
    gram = _dot(lnp.conj(hess.T), hess)
    y = _sla.solve(gram, _dot(lnp.conj(hess.T), rhs), assume_a="pos")
    x = _plus(x0, tree_util.tree_map(lambda X: _dot(X[..., :-1], y), V))
    unit, norm = _unit(M(_minus(b, A(x))))
    return x, unit, norm


def _gmres_solve(A: Any, b: Any, x0: Any, *, atol: Any, ptol: Any, restart: int,
                 maxiter: int, M: Any, one_restart: Any) -> Any:
    unit, norm = _unit(M(_minus(b, A(x0))))

    def cond(state: tuple) -> Any:
        _, k, _, norm = state
        return (k < maxiter) & (norm > atol)

    def body(state: tuple) -> tuple:
        x, k, unit, norm = state
        x, unit, norm = one_restart(A, b, x, unit, norm, ptol, restart, M)
        return x, k + 1, unit, norm

    return lax.while_loop(cond, body, (x0, 0, unit, norm))[0]


def gmres(A: Any, b: Any, x0: Any = None, *, tol: float = 1e-5, atol: float = 0.0,
          restart: int = 20, maxiter: int | None = None, M: Any = None,
          solve_method: str = "batched") -> tuple[Any, Any]:
    """Solves `A x = b` by restarted GMRES, as `jax.scipy.sparse.linalg.gmres`.

    `A` may be any nonsingular operator. Each restart projects the solution onto the
    Krylov space of dimension `restart` built from the current residual. Derivatives
    are computed by a GMRES solve of the transposed system.

    Args:
        A: a function `x -> A x` returning a pytree shaped like its argument, a square
            2-D array, or an object supporting `A @ x`.
        b: the right-hand side, an array or a pytree of arrays.
        x0: the initial guess (default zeros), with b's structure and shapes.
        tol, atol: stop when `norm(M (b - A x)) <= max(tol * norm(b), atol)`.
        restart: the dimension of the Krylov space built per restart (at most the size
            of b; default 20).
        maxiter: the maximum number of restarts (default `10 * size(b)`).
        M: a preconditioner approximating the inverse of A (function, array or `@`).
        solve_method: 'batched' (default: build the whole basis, then solve a small
            least-squares problem) or 'incremental' (Givens-rotation QR as the basis
            grows, which can stop early within a restart).

    Returns:
        `(x, info)`: the solution, shaped like `b`, and `info`, -1 if x holds NaNs,
        else 0.

    >>> import lamina.numpy as lnp
    >>> from lamina.scipy.sparse.linalg import gmres
    >>> a = lnp.array([[2., 1., 0.], [0., 3., 1.], [1., 0., 4.]])
    >>> x, _ = gmres(a, lnp.array([3., 4., 5.]), solve_method="incremental")
    >>> x.round(4)
    Array([1., 1., 1.], dtype=float32)
    """
    if solve_method == "incremental":
        one_restart = _gmres_incremental
    elif solve_method == "batched":
        one_restart = _gmres_batched
    else:
        raise ValueError(f"{_API}.gmres: solve_method must be 'incremental' or 'batched', "
                         f"got {solve_method!r}.")
    A, b, x0, M, size = _prepare("gmres", A, b, x0, M)
    maxiter = 10 * size if maxiter is None else maxiter
    if not isinstance(restart, (int, np.integer)) or restart < 1:
        raise ValueError(f"{_API}.gmres: restart must be a positive integer, got "
                         f"{restart!r}.")
    restart = min(int(restart), size)
    b_norm = _tree_norm(b)
    atol = lnp.maximum(tol * b_norm, atol)
    # NOTE: inside a restart the residual is preconditioned, so its target is scaled by
    # norm(M b) / norm(b).
    ptol = _tree_norm(M(b)) * lnp.minimum(1.0, atol / b_norm)
    solve = functools.partial(_gmres_solve, x0=x0, atol=atol, ptol=ptol, restart=restart,
                              maxiter=maxiter, M=M, one_restart=one_restart)
    x = lax.custom_linear_solve(A, b, solve=lambda mv, rhs: solve(mv, rhs),
                                transpose_solve=lambda vm, rhs: solve(vm, rhs))
    info = lnp.where(lnp.isnan(_tree_norm(x)), -1, 0)
    return x, info
