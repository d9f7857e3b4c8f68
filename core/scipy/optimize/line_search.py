"""A line search satisfying the strong Wolfe conditions (Nocedal & Wright, Numerical
Optimization, 2nd ed., algorithms 3.5 and 3.6), the one BFGS uses; it follows jax's
`line_search` (private in jax) step for step, so iterates agree.

All of it is `lax.while_loop`s over pure values, so it runs under `jit` and `vmap`.

>>> import lamina.numpy as lnp
>>> from lamina.scipy.optimize.line_search import line_search
>>> res = line_search(lambda x: lnp.sum((x - 3.) ** 2), lnp.zeros(2), lnp.ones(2))
>>> res.a_k, res.f_k, res.failed
(Array(1., dtype=float32), Array(8., dtype=float32), Array(False, dtype=bool))
"""
from __future__ import annotations

from typing import Any, Callable, NamedTuple

import lamina.numpy as lnp
from lamina import dtypes, lax
from lamina._api_ad import value_and_grad
from lamina.numpy._util import promote_dtypes_inexact

__all__ = ["line_search"]


def _dot(a: Any, b: Any) -> Any:
    return lnp.dot(a, b, precision=lax.Precision.HIGHEST)


def _replace_where(pred: Any, state: NamedTuple, **new: Any) -> dict[str, Any]:
    """The fields `new` names, taking `new`'s value where `pred` holds, else the state's."""
    return {k: lnp.where(pred, v, getattr(state, k)) for k, v in new.items()}


def _cubic_minimizer(a: Any, fa: Any, fpa: Any, b: Any, fb: Any, c: Any, fc: Any) -> Any:
    """The minimizer of the cubic through (a, fa) with slope fpa at a, (b, fb), (c, fc)."""
    dtype = dtypes.result_type(a, fa, fpa, b, fb, c, fc)
    db, dc = b - a, c - a
    denom = (db * dc) ** 2 * (db - dc)
    # Solve for the cubic's two leading coefficients from the two extra points.
    rb, rc = fb - fa - fpa * db, fc - fa - fpa * dc
    m = lnp.array([[dc ** 2, -db ** 2], [-dc ** 3, db ** 3]], dtype=dtype)
    coef_a, coef_b = _dot(m, lnp.array([rb, rc], dtype=dtype)) / denom
    return a + (-coef_b + lnp.sqrt(coef_b * coef_b - 3.0 * coef_a * fpa)) / (3.0 * coef_a)


def _quadratic_minimizer(a: Any, fa: Any, fpa: Any, b: Any, fb: Any) -> Any:
    """The minimizer of the parabola through (a, fa) with slope fpa at a, and (b, fb)."""
    db = b - a
    curvature = (fb - fa - fpa * db) / db ** 2
    return a - fpa / (2.0 * curvature)


class _ZoomState(NamedTuple):
    done: Any
    failed: Any
    j: Any
    a_lo: Any
    phi_lo: Any
    dphi_lo: Any
    a_hi: Any
    phi_hi: Any
    dphi_hi: Any
    a_rec: Any  # the previous a_hi or a_lo, the third point of the cubic
    phi_rec: Any
    a_star: Any
    phi_star: Any
    dphi_star: Any
    g_star: Any
    nfev: Any
    ngev: Any


def _zoom(phi_dphi_g: Callable[[Any], tuple], armijo_fails: Callable[[Any, Any], Any],
          curvature_holds: Callable[[Any], Any], a_lo: Any, phi_lo: Any, dphi_lo: Any,
          a_hi: Any, phi_hi: Any, dphi_hi: Any, g_0: Any, skip: Any) -> _ZoomState:
    """Shrinks the bracket [a_lo, a_hi] until a point meets both Wolfe conditions
    (algorithm 3.6), interpolating with a cubic, else a parabola, else bisecting."""
    state = _ZoomState(
        done=False, failed=False, j=0, a_lo=a_lo, phi_lo=phi_lo, dphi_lo=dphi_lo,
        a_hi=a_hi, phi_hi=phi_hi, dphi_hi=dphi_hi, a_rec=(a_lo + a_hi) / 2.0,
        phi_rec=(phi_lo + phi_hi) / 2.0, a_star=1.0, phi_star=phi_lo, dphi_star=dphi_lo,
        g_star=g_0, nfev=0, ngev=0)
    cubic_margin, quad_margin = 0.2, 0.1

    def body(s: _ZoomState) -> _ZoomState:
        width = s.a_hi - s.a_lo
        left, right = lnp.minimum(s.a_hi, s.a_lo), lnp.maximum(s.a_hi, s.a_lo)
        # NOTE: a bracket narrower than the dtype can resolve is a failure.
        tiny = 1e-5 if dtypes.finfo(width.dtype).bits < 64 else 1e-10
        s = s._replace(failed=s.failed | (width <= tiny))
        cubic = _cubic_minimizer(s.a_lo, s.phi_lo, s.dphi_lo, s.a_hi, s.phi_hi, s.a_rec,
                                 s.phi_rec)
        use_cubic = (s.j > 0) & (cubic > left + cubic_margin * width) & \
            (cubic < right - cubic_margin * width)
        quad = _quadratic_minimizer(s.a_lo, s.phi_lo, s.dphi_lo, s.a_hi, s.phi_hi)
        use_quad = ~use_cubic & (quad > left + quad_margin * width) & \
            (quad < right - quad_margin * width)
        a_j = lnp.where(use_cubic, cubic,
                        lnp.where(use_quad, quad, (s.a_lo + s.a_hi) / 2.0))
        phi_j, dphi_j, g_j = phi_dphi_g(a_j)
        phi_j, dphi_j = phi_j.astype(s.phi_lo.dtype), dphi_j.astype(s.dphi_lo.dtype)
        g_j = g_j.astype(s.g_star.dtype)
        s = s._replace(nfev=s.nfev + 1, ngev=s.ngev + 1)

        to_hi = armijo_fails(a_j, phi_j) | (phi_j >= s.phi_lo)
        found = curvature_holds(dphi_j) & ~to_hi
        flip = (dphi_j * (s.a_hi - s.a_lo) >= 0.0) & ~to_hi & ~found
        to_lo = ~to_hi & ~found
        s = s._replace(**_replace_where(to_hi, s, a_hi=a_j, phi_hi=phi_j, dphi_hi=dphi_j,
                                        a_rec=s.a_hi, phi_rec=s.phi_hi))
        s = s._replace(done=s.done | found,
                       **_replace_where(found, s, a_star=a_j, phi_star=phi_j,
                                        dphi_star=dphi_j, g_star=g_j))
        s = s._replace(**_replace_where(flip, s, a_hi=s.a_lo, phi_hi=s.phi_lo,
                                        dphi_hi=s.dphi_lo, a_rec=s.a_hi, phi_rec=s.phi_hi))
        s = s._replace(**_replace_where(to_lo & ~flip, s, a_rec=s.a_lo, phi_rec=s.phi_lo))
        s = s._replace(**_replace_where(to_lo, s, a_lo=a_j, phi_lo=phi_j, dphi_lo=dphi_j))
        return s._replace(j=s.j + 1, failed=s.failed | (s.j + 1 >= 30))

    return lax.while_loop(lambda s: ~s.done & ~skip & ~s.failed, body, state)


class _SearchState(NamedTuple):
    done: Any
    failed: Any
    i: Any
    a_prev: Any
    phi_prev: Any
    dphi_prev: Any
    nfev: Any
    ngev: Any
    a_star: Any
    phi_star: Any
    dphi_star: Any
    g_star: Any


class _LineSearchResults(NamedTuple):
    """The outcome of `line_search`; `a_k` is the step, `f_k`/`g_k` the value and
    gradient there, `status` 0 (success), 1 (zoom failed) or 3 (maxiter reached)."""
    failed: Any
    nit: Any
    nfev: Any
    ngev: Any
    k: Any
    a_k: Any
    f_k: Any
    g_k: Any
    status: Any


def line_search(f: Callable[[Any], Any], xk: Any, pk: Any, old_fval: Any = None,
                old_old_fval: Any = None, gfk: Any = None, c1: float = 1e-4,
                c2: float = 0.9, maxiter: int = 20) -> _LineSearchResults:
    """Finds a step `a` along `pk` from `xk` meeting the strong Wolfe conditions.

    Args:
        f: the objective, a differentiable function of a 1-D array returning a scalar.
        xk: the current point (1-D).
        pk: the search direction (1-D, a descent direction).
        old_fval, gfk: f(xk) and its gradient, if already known (saves one call).
        old_old_fval: f at the previous point, used to pick the first trial step.
        c1, c2: the sufficient-decrease and curvature constants (0 < c1 < c2 < 1).
        maxiter: the most trial steps before giving up.

    Returns:
        A NamedTuple `(failed, nit, nfev, ngev, k, a_k, f_k, g_k, status)`.

    >>> import lamina.numpy as lnp
    >>> from lamina.scipy.optimize.line_search import line_search
    >>> line_search(lambda x: x @ x, lnp.array([1., 1.]), lnp.array([-1., -1.])).a_k
    Array(1., dtype=float32)
    """
    xk, pk = promote_dtypes_inexact(xk, pk)

    def phi_dphi_g(t: Any) -> tuple[Any, Any, Any]:
        t = lnp.asarray(t, dtype=pk.dtype)
        phi, g = value_and_grad(f)(xk + t * pk)
        return phi, lnp.real(_dot(g, pk)), g

    known = old_fval is not None and gfk is not None
    if known:
        phi_0, dphi_0 = old_fval, lnp.real(_dot(gfk, pk))
    else:
        phi_0, dphi_0, gfk = phi_dphi_g(0)
    if old_old_fval is None:
        first_step: Any = 1
    else:
        guess = 1.01 * 2 * (phi_0 - old_old_fval) / dphi_0
        first_step = lnp.where(guess > 1, 1.0, guess)

    def armijo_fails(a: Any, phi: Any) -> Any:
        return phi > phi_0 + c1 * a * dphi_0

    def curvature_holds(dphi: Any) -> Any:
        return lnp.abs(dphi) <= -c2 * dphi_0

    calls = 0 if known else 1
    state = _SearchState(
        done=lnp.asarray(False), failed=lnp.asarray(False), i=1, a_prev=0.0,
        phi_prev=phi_0, dphi_prev=dphi_0, nfev=calls, ngev=calls, a_star=0.0,
        phi_star=phi_0, dphi_star=dphi_0, g_star=gfk)

    def body(s: _SearchState) -> _SearchState:
        a_i = lnp.where(s.i == 1, first_step, s.a_prev * 2.0)
        phi_i, dphi_i, g_i = phi_dphi_g(a_i)
        s = s._replace(nfev=s.nfev + 1, ngev=s.ngev + 1)
        # Algorithm 3.5: bracket [a_prev, a_i] (zoom_fwd), accept a_i, or bracket
        # [a_i, a_prev] (zoom_back).
        zoom_fwd = armijo_fails(a_i, phi_i) | ((phi_i >= s.phi_prev) & (s.i > 1))
        accept = curvature_holds(dphi_i) & ~zoom_fwd
        zoom_back = (dphi_i >= 0.0) & ~zoom_fwd & ~accept
        fwd = _zoom(phi_dphi_g, armijo_fails, curvature_holds, s.a_prev, s.phi_prev,
                    s.dphi_prev, a_i, phi_i, dphi_i, gfk, ~zoom_fwd)
        back = _zoom(phi_dphi_g, armijo_fails, curvature_holds, a_i, phi_i, dphi_i,
                     s.a_prev, s.phi_prev, s.dphi_prev, gfk, ~zoom_back)
        s = s._replace(nfev=s.nfev + fwd.nfev + back.nfev,
                       ngev=s.ngev + fwd.ngev + back.ngev)
        for taken, z in ((zoom_fwd, fwd), (accept, None), (zoom_back, back)):
            new = (dict(a_star=a_i, phi_star=phi_i, dphi_star=dphi_i, g_star=g_i)
                   if z is None else dict(a_star=z.a_star, phi_star=z.phi_star,
                                          dphi_star=z.dphi_star, g_star=z.g_star))
            failed = s.failed if z is None else s.failed | (taken & z.failed)
            s = s._replace(done=s.done | taken, failed=failed,
                           **_replace_where(taken, s, **new))
        return s._replace(i=s.i + 1, a_prev=a_i, phi_prev=phi_i, dphi_prev=dphi_i)

    state = lax.while_loop(lambda s: ~s.done & (s.i <= maxiter) & ~s.failed, body, state)
    status = lnp.where(state.failed, lnp.asarray(1),
                       lnp.where(state.i > maxiter, lnp.asarray(3), lnp.asarray(0)))
    a_k = lnp.asarray(state.a_star)
    # NOTE: below 64 bits a vanishing step is floored at 1e-8 so that BFGS still moves.
    if dtypes.finfo(a_k.dtype).bits != 64:
        a_k = lnp.where(lnp.abs(a_k) < 1e-8, lnp.sign(a_k) * 1e-8, a_k)
    return _LineSearchResults(failed=state.failed | ~state.done, nit=state.i - 1,
                              nfev=state.nfev, ngev=state.ngev, k=state.i, a_k=a_k,
                              f_k=state.phi_star, g_k=state.g_star, status=status)
