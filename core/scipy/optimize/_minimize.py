"""`minimize` with BFGS (and jax's experimental L-BFGS), following
`jax.scipy.optimize.minimize`: one `lax.while_loop` per solve, so it runs under `jit` and
`vmap`, and results agree with jax's step for step."""
from __future__ import annotations

import inspect
from typing import Any, Callable, Mapping, NamedTuple

import numpy as np

import lamina.numpy as lnp
from lamina import lax
from lamina._api_ad import value_and_grad
from lamina.scipy.optimize._lbfgs import minimize_lbfgs
from lamina.scipy.optimize.line_search import line_search

__all__ = ["OptimizeResults", "minimize"]

_METHODS = ("BFGS", "l-bfgs-experimental-do-not-rely-on-this")


class OptimizeResults(NamedTuple):
    """The result of `minimize`, as `jax.scipy.optimize.OptimizeResults`.

    Attributes:
        x: the final point.
        success: whether the gradient norm fell below `gtol` without a line-search
            failure.
        status: 0 converged, 1 maxiter reached, 2 + the line search's status (3: its
            zoom failed, 5: its maxiter) when the line search failed, -1 otherwise.
        fun: the objective at `x`.
        jac: the gradient at `x`.
        hess_inv: BFGS's approximation of the inverse Hessian at `x` (None for L-BFGS).
        nfev, njev: the numbers of objective and gradient evaluations.
        nit: the number of iterations.

    >>> import lamina.numpy as lnp
    >>> from lamina.scipy.optimize import minimize
    >>> minimize(lambda x: (x @ x - 1.) ** 2, lnp.array([2., 0.]), method="BFGS").nit
    Array(4, dtype=int32, weak_type=True)
    """
    x: Any
    success: Any
    status: Any
    fun: Any
    jac: Any
    hess_inv: Any
    nfev: Any
    njev: Any
    nit: Any


class _BFGSState(NamedTuple):
    converged: Any
    failed: Any
    k: Any
    nfev: Any
    ngev: Any
    nhev: Any
    x_k: Any
    f_k: Any
    g_k: Any
    H_k: Any  # (d, d), the inverse-Hessian approximation
    old_old_fval: Any
    status: Any
    line_search_status: Any


def _dot(a: Any, b: Any) -> Any:
    return lnp.dot(a, b, precision=lax.Precision.HIGHEST)


def minimize_bfgs(fun: Callable[[Any], Any], x0: Any, maxiter: int | None = None,
                  norm: Any = np.inf, gtol: float = 1e-5,
                  line_search_maxiter: int = 10) -> _BFGSState:
    """BFGS (Nocedal & Wright, algorithm 6.1) from `x0` (1-D), starting from the
    identity as inverse Hessian; stops when `norm(grad, ord=norm) < gtol`."""
    if maxiter is None:
        maxiter = np.size(x0) * 200
    d = x0.shape[0]
    f_0, g_0 = value_and_grad(fun)(x0)
    state = _BFGSState(
        converged=lnp.linalg.norm(g_0, ord=norm) < gtol, failed=False, k=0, nfev=1,
        ngev=1, nhev=0, x_k=x0, f_k=f_0, g_k=g_0, H_k=lnp.eye(d, dtype=x0.dtype),
        # NOTE: a made-up previous value so that the first trial step is about
        # |g| / |p| long (as scipy and jax do).
        old_old_fval=f_0 + lnp.linalg.norm(g_0) / 2, status=0, line_search_status=0)

    def cond(s: _BFGSState) -> Any:
        return ~s.converged & ~s.failed & (s.k < maxiter)

    def body(s: _BFGSState) -> _BFGSState:
        p = -_dot(s.H_k, s.g_k)
        ls = line_search(fun, s.x_k, p, old_fval=s.f_k, old_old_fval=s.old_old_fval,
                         gfk=s.g_k, maxiter=line_search_maxiter)
        step = ls.a_k * p
        dg = ls.g_k - s.g_k
        rho = lnp.reciprocal(_dot(dg, step))
        left = lnp.eye(d, dtype=rho.dtype) - rho * lnp.outer(step, dg)
        h_new = lnp.einsum("ij,jk,lk", left, s.H_k, left,
                           precision=lax.Precision.HIGHEST) + rho * lnp.outer(step, step)
        # NOTE: with no curvature along the step (dg . step == 0) keep the old matrix.
        h_new = lnp.where(lnp.isfinite(rho), h_new, s.H_k)
        return s._replace(
            nfev=s.nfev + ls.nfev, ngev=s.ngev + ls.ngev, failed=ls.failed,
            line_search_status=ls.status,
            converged=lnp.linalg.norm(ls.g_k, ord=norm) < gtol, k=s.k + 1,
            x_k=s.x_k + step, f_k=ls.f_k, g_k=ls.g_k, H_k=h_new, old_old_fval=s.f_k)

    state = lax.while_loop(cond, body, state)
    status = lnp.where(state.converged, 0, lnp.where(
        state.k == maxiter, 1, lnp.where(state.failed, 2 + state.line_search_status, -1)))
    return state._replace(status=status)


def minimize(fun: Callable[..., Any], x0: Any, args: tuple = (), *, method: str,
             tol: float | None = None,
             options: Mapping[str, Any] | None = None) -> OptimizeResults:
    """Minimizes a scalar function of one 1-D array, as `jax.scipy.optimize.minimize`.

    Only unconstrained methods exist, as in jax: `"BFGS"` and
    `"l-bfgs-experimental-do-not-rely-on-this"`. The whole solve is one
    `lax.while_loop` (jit- and vmap-friendly). It is not meant to be differentiated
    through.

    Args:
        fun: the objective, `fun(x, *args) -> scalar`, differentiable in x.
        x0: the initial point, a 1-D float array.
        args: extra positional arguments for `fun` (a tuple).
        method: "BFGS" or "l-bfgs-experimental-do-not-rely-on-this" (case-insensitive).
        tol: ignored, as in jax; pass `options={"gtol": ...}` instead.
        options: keyword arguments for the method. BFGS: `maxiter` (default 200 * size),
            `norm` (the gradient norm's `ord`, default inf), `gtol` (default 1e-5),
            `line_search_maxiter` (10). L-BFGS: `maxiter`, `norm`, `maxcor`, `ftol`,
            `gtol`, `maxfun`, `maxgrad`, `maxls`.

    Returns:
        `OptimizeResults(x, success, status, fun, jac, hess_inv, nfev, njev, nit)`.

    >>> import lamina.numpy as lnp
    >>> from lamina.scipy.optimize import minimize
    >>> rosen = lambda x: (1. - x[0]) ** 2 + 100. * (x[1] - x[0] ** 2) ** 2
    >>> res = minimize(rosen, lnp.array([-1., 1.]), method="BFGS")
    >>> res.x.round(3), res.success
    (Array([1., 1.], dtype=float32), Array(True, dtype=bool))
    """
    del tol
    api = "lamina.scipy.optimize.minimize"
    options = {} if options is None else dict(options)
    if not isinstance(args, tuple):
        raise TypeError(f"{api}: args must be a tuple, got {type(args).__name__} {args!r}. "
                        f"Write args=({args!r},) for a single extra argument.")
    if not isinstance(method, str) or method.lower() not in [m.lower() for m in _METHODS]:
        raise ValueError(f"{api}: method {method!r} is not recognized; the methods are "
                         f"{', '.join(repr(m) for m in _METHODS)}.")
    x0 = lnp.asarray(x0)
    if x0.ndim != 1:
        raise ValueError(f"{api}: x0 must be a 1-D array, got shape {x0.shape}. Ravel it "
                         "and reshape inside fun (lamina.flatten_util-style).")
    if not lnp.issubdtype(x0.dtype, lnp.inexact):
        raise TypeError(f"{api}: x0 must be a floating-point array, got dtype {x0.dtype}. "
                        "Cast it, e.g. x0.astype(float).")

    def objective(x: Any) -> Any:
        return fun(x, *args)

    if method.lower() == "bfgs":
        r = _with_options(api, "BFGS", minimize_bfgs, objective, x0, options)
        return OptimizeResults(
            x=r.x_k, success=r.converged & ~r.failed, status=r.status, fun=r.f_k,
            jac=r.g_k, hess_inv=r.H_k, nfev=r.nfev, njev=r.ngev, nit=r.k)
    r = _with_options(api, method, minimize_lbfgs, objective, x0, options)
    return OptimizeResults(
        x=r.x_k, success=r.converged & ~r.failed, status=r.status, fun=r.f_k, jac=r.g_k,
        hess_inv=None, nfev=r.nfev, njev=r.ngev, nit=r.k)


def _with_options(api: str, method: str, solver: Callable[..., Any], fun: Any, x0: Any,
                  options: dict[str, Any]) -> Any:
    known = list(inspect.signature(solver).parameters)[2:]
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise TypeError(f"{api}: unknown options {unknown} for method {method!r}; it "
                        f"accepts {known}.")
    return solver(fun, x0, **options)
