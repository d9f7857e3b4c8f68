"""Limited-memory BFGS (Nocedal & Wright, algorithms 7.4 and 7.5), jax's experimental
`minimize(method="l-bfgs-experimental-do-not-rely-on-this")`, step for step."""
from __future__ import annotations

from typing import Any, Callable, NamedTuple

import numpy as np

import lamina.numpy as lnp
from lamina import dtypes, lax
from lamina._api_ad import value_and_grad
from lamina.scipy.optimize.line_search import line_search


class _LBFGSState(NamedTuple):
    converged: Any
    failed: Any
    k: Any
    nfev: Any
    ngev: Any
    x_k: Any
    f_k: Any
    g_k: Any
    s_history: Any  # (maxcor, d): the last steps, oldest first
    y_history: Any  # (maxcor, d): the matching gradient changes
    rho_history: Any  # (maxcor,): 1 / (y . s)
    gamma: Any  # the initial inverse-Hessian scale, (s . y) / (y . y)
    status: Any
    ls_status: Any


def _dot(a: Any, b: Any) -> Any:
    return lnp.dot(a, b, precision=lax.Precision.HIGHEST)


def _direction(s: _LBFGSState) -> Any:
    """-H g by the two-loop recursion over the stored pairs (newest last)."""
    dtype = s.rho_history.dtype
    m = s.rho_history.shape[0]
    used = lnp.where(s.k < m, s.k, m)

    def newest_first(j: Any, carry: tuple) -> tuple:
        q, alphas = carry
        i = m - 1 - j
        a = s.rho_history[i] * lnp.real(_dot(lnp.conj(s.s_history[i]), q)).astype(dtype)
        return q - a * lnp.conj(s.y_history[i]), alphas.at[i].set(a)

    q, alphas = lax.fori_loop(0, used, newest_first,
                              (-lnp.conj(s.g_k), lnp.zeros_like(s.rho_history)))
    q = s.gamma * q

    def oldest_first(j: Any, q: Any) -> Any:
        i = m - used + j
        b = s.rho_history[i] * lnp.real(_dot(s.y_history[i], q)).astype(dtype)
        return q + (alphas[i] - b) * s.s_history[i]

    return lax.fori_loop(0, used, oldest_first, q)


def _push(history: Any, new: Any) -> Any:
    """Drops the oldest entry (row 0) and appends `new` as the last."""
    return lnp.roll(history, -1, axis=0).at[-1].set(new)


def minimize_lbfgs(fun: Callable[[Any], Any], x0: Any, maxiter: float | None = None,
                   norm: Any = np.inf, maxcor: int = 10, ftol: float = 2.220446049250313e-09,
                   gtol: float = 1e-5, maxfun: float | None = None,
                   maxgrad: float | None = None, maxls: int = 20) -> _LBFGSState:
    d = x0.shape[0]
    dtype = dtypes.dtype_of(x0)
    if maxiter is None and maxfun is None and maxgrad is None:
        maxiter = d * 200
    maxiter = np.inf if maxiter is None else maxiter
    maxfun = np.inf if maxfun is None else maxfun
    maxgrad = np.inf if maxgrad is None else maxgrad
    f_0, g_0 = value_and_grad(fun)(x0)
    state = _LBFGSState(
        converged=lnp.asarray(False), failed=lnp.asarray(False), k=0, nfev=1, ngev=1,
        x_k=x0, f_k=f_0, g_k=g_0, s_history=lnp.zeros((maxcor, d), dtype),
        y_history=lnp.zeros((maxcor, d), dtype), rho_history=lnp.zeros((maxcor,), dtype),
        gamma=1.0, status=0, ls_status=0)

    def body(s: _LBFGSState) -> _LBFGSState:
        p = _direction(s)
        ls = line_search(f=fun, xk=s.x_k, pk=p, old_fval=s.f_k, gfk=s.g_k, maxiter=maxls)
        step = lnp.asarray(ls.a_k).astype(p.dtype) * p
        dg = ls.g_k - s.g_k
        sy = lnp.real(_dot(dg, step))
        rho = lnp.reciprocal(sy).astype(dg.dtype)
        gamma = sy / lnp.real(_dot(lnp.conj(dg), dg))
        # The last matching reason wins: line search failure, maxiter, maxfun, maxgrad,
        # then too small a decrease.
        status = lnp.asarray(0)
        status = lnp.where(s.f_k - ls.f_k < ftol, 4, status)
        status = lnp.where(s.ngev >= maxgrad, 3, status)
        status = lnp.where(s.nfev >= maxfun, 2, status)
        status = lnp.where(s.k >= maxiter, 1, status)
        status = lnp.where(ls.failed, 5, status)
        converged = lnp.linalg.norm(ls.g_k, ord=norm) < gtol
        return s._replace(
            converged=converged, failed=(status > 0) & ~converged, k=s.k + 1,
            nfev=s.nfev + ls.nfev, ngev=s.ngev + ls.ngev,
            x_k=(s.x_k + step).astype(s.x_k.dtype), f_k=ls.f_k.astype(s.f_k.dtype),
            g_k=ls.g_k.astype(s.g_k.dtype), s_history=_push(s.s_history, step),
            y_history=_push(s.y_history, dg), rho_history=_push(s.rho_history, rho),
            gamma=gamma.astype(s.g_k.dtype), status=lnp.where(converged, 0, status),
            ls_status=ls.status)

    return lax.while_loop(lambda s: ~s.converged & ~s.failed, body, state)
