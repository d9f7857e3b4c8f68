"""Special functions without their own XLA op: the incomplete gamma family (`igamma`,
`igammac`, `igamma_grad_a`, `random_gamma_grad`) and the regularized incomplete beta
function (`betainc`); and the Hurwitz `zeta`, which lowers to CHLO's op as in jax. All
have jax.lax's names, dtype rules (floats of one dtype, 0-d operands broadcast) and
numerics.

XLA has no op for the first five, so each primitive's lowering traces a lamina
implementation (below) into a sub-program and inlines it (`lower_fun`, as jax's
`mlir.lower_fun`): the algorithms are XLA's (client/lib/math.cc), as ported by jax 0.10:

* P(a, x) by its power series when x < 1 or x <= a, else Q(a, x) by Legendre's
  continued fraction (three-term recurrence with rescaling, at most 2000 terms); the
  other function is one minus it. (Which side x == 1 and x == a take differs per
  function, as in jax.) Both run until every element's next term is below
  the dtype's epsilon (elements that have converged stay frozen meanwhile).
* dP/da and the sample derivative d(sample)/da of a Gamma(a, 1) draw (implicit
  reparameterisation: -(dP/da) / (dP/dx), here with the density's factor cancelled)
  differentiate the same recurrences term by term, and stop when the derivative has
  converged.
* float16 and bfloat16 are computed in float32 and rounded back.

NaN operands, x < 0 or a < 0 (a <= 0 for the derivatives) give NaN, as in jax.

JVPs: d/dx P = exp(-x + (a - 1) log x - lgamma(a)), d/da P = `igamma_grad_a`; Q's are
their negatives. jax has no JVP for `igamma_grad_a` and none of its own for
`random_gamma_grad` (a composite there): lamina differentiates their implementation in
forward mode (through its while loops, so reverse mode raises as it does in jax), and
uses the closed form d/dx dP/da = dP/dx * (log x - digamma(a)) for `igamma_grad_a`'s x.

`betainc` (primitive `regularized_incomplete_beta`): I_x(a, b) by the continued fraction
of DLMF 8.17.22, evaluated by the modified Lentz method (at most 200 terms in float32,
600 in float64; every element iterates until all have converged), applied to
I_{1-x}(b, a) instead past x = (a + 1) / (a + b + 2). Its x-derivative is the Beta(a, b)
density; like jax, it has none for a or b (ValueError). `zeta(x, q)`: jax.lax's has no
derivative; lamina's has d/dq = -x zeta(x + 1, q) and raises for x.
"""
from __future__ import annotations

import enum
from typing import Any, Callable

import numpy as np

from lamina import dtypes
from lamina.backend.array import Array
from lamina.interpreters import ad, batching, lowering
from lamina.interpreters.eval import eager_binary
from lamina.ir import Primitive, shaped_abstractify
from lamina.lax import elementwise as ew
from lamina.lax._lower_fun import lower_fun
from lamina.lax._util import ArrayLike, check_arraylike, naryop_abstract_eval
from lamina.lax.elementwise_rules import _broadcast_to, _nary_jvp, _out_shape
from lamina.lax.loops import while_loop
from lamina.lax.reductions import reduce_or
from lamina.lax.structural import broadcast_in_dim

__all__ = ["igamma", "igammac", "igamma_grad_a", "random_gamma_grad", "betainc",
           "zeta"]

# Iteration cap of the continued fraction (the series has none), as in XLA and jax.
_MAX_CF_TERMS = 2000


class _Mode(enum.Enum):
    VALUE = 1  # P or Q itself
    DERIVATIVE = 2  # dP/da
    SAMPLE_DERIVATIVE = 3  # d(sample)/da of a Gamma(a, 1) sample


# --------------------------------------------------------------------------------------
# The implementation, in lamina ops (traced into each lowering)
# --------------------------------------------------------------------------------------


def _k(value: Any, like: Any) -> np.ndarray:
    """A 0-d constant of `like`'s dtype (lax ops broadcast it)."""
    return np.array(value, shaped_abstractify(like).dtype)


def _full(like: Any, value: Any) -> Any:
    return _broadcast_to(_k(value, like), shaped_abstractify(like).shape)


def _isnan(x: Any) -> Any:
    return ew.ne(x, x)


def _any_true(pred: Any) -> Any:
    return reduce_or(pred, tuple(range(shaped_abstractify(pred).ndim)))


def _or(*preds: Any) -> Any:
    out = preds[0]
    for p in preds[1:]:
        out = ew.bitwise_or(out, p)
    return out


def _eps(dtype: np.dtype) -> np.ndarray:
    return np.array(np.finfo(dtype).eps, dtype)


def _log_prefactor(a: Any, x: Any, dtype: np.dtype) -> tuple[Any, Any]:
    """(exp(a log x - x - lgamma(a)), whether that exponent underflows)."""
    log_ax = ew.sub(ew.sub(ew.mul(a, ew.log(x)), x), ew.lgamma(a))
    # NOTE: the bound is computed on the device (as jax does), not by numpy.
    bound = ew.neg(ew.log(np.array(np.finfo(dtype).max, dtype)))
    return ew.exp(log_ax), ew.lt(log_ax, bound)


def _series(ax: Any, x: Any, a: Any, active: Any, dtype: np.dtype, mode: _Mode) -> Any:
    """The power series of P(a, x) (or its a-derivative) on the `active` elements:
    sum_n x^n / ((a+1)...(a+n)), differentiated term by term in a."""
    eps = _eps(dtype)

    def cond(state: tuple[Any, ...]) -> Any:
        return _any_true(state[0])

    def body(state: tuple[Any, ...]) -> tuple[Any, ...]:
        live, r, term, total, dterm, dtotal = state
        r_next = ew.add(r, _k(1, r))
        # d(term)/da: the product rule on term * x / r, with dr/da = 1
        dterm_next = ew.sub(ew.mul(dterm, ew.div(x, r_next)),
                            ew.div(ew.mul(term, x), ew.mul(r_next, r_next)))
        dtotal_next = ew.add(dtotal, dterm_next)
        term_next = ew.mul(term, ew.div(x, r_next))
        total_next = ew.add(total, term_next)
        if mode is _Mode.VALUE:
            going = ew.gt(ew.div(term_next, total_next), eps)
        else:
            going = ew.gt(ew.abs(ew.div(dterm_next, dtotal_next)), eps)
        new = (r_next, term_next, total_next, dterm_next, dtotal_next)
        return (ew.bitwise_and(live, going),
                *(ew.select(live, n, o) for n, o in zip(new, state[1:])))

    init = (active, a, _full(a, 1), _full(a, 1), _full(a, 0), _full(a, 0))
    _, _, _, total, _, dtotal = while_loop(cond, body, init)
    if mode is _Mode.VALUE:
        return ew.div(ew.mul(total, ax), a)
    dlog_ax = ew.sub(ew.log(x), ew.digamma(ew.add(a, _k(1, a))))
    if mode is _Mode.DERIVATIVE:
        return ew.div(ew.mul(ax, ew.add(ew.mul(total, dlog_ax), dtotal)), a)
    return ew.div(ew.mul(ew.neg(ew.add(dtotal, ew.mul(total, dlog_ax))), x), a)


def _continued_fraction(ax: Any, x: Any, a: Any, active: Any, dtype: np.dtype,
                        mode: _Mode) -> Any:
    """Legendre's continued fraction of Q(a, x) (or its a-derivative) on the `active`
    elements, by the convergents p_k / q_k of a three-term recurrence; p and q (and
    their a-derivatives) are scaled down by eps whenever p_k grows past 1/eps."""
    eps = _eps(dtype)

    def cond(state: tuple[Any, ...]) -> Any:
        return ew.bitwise_and(ew.lt(state[1], _k(_MAX_CF_TERMS, state[1])),
                              _any_true(state[0]))

    def body(state: tuple[Any, ...]) -> tuple[Any, ...]:
        (live, k, y, z, p1, q1, p2, q2, dp2, dq2, dp1, dq1, frac, dfrac) = state
        k = ew.add(k, _k(1, k))
        y_next = ew.add(y, _k(1, y))
        z_next = ew.add(z, _k(2, z))
        yk = ew.mul(y_next, k)
        p = ew.sub(ew.mul(p1, z_next), ew.mul(p2, yk))
        q = ew.sub(ew.mul(q1, z_next), ew.mul(q2, yk))
        q_ok = ew.ne(q, _k(0, q))
        ratio = ew.div(p, q)
        change = ew.select(q_ok, ew.abs(ew.div(ew.sub(frac, ratio), ratio)), _full(ratio, 1))
        frac_next = ew.select(q_ok, ratio, frac)
        # a-derivatives of the recurrence (dz/da = -1, d(yk)/da = -k)
        dp = ew.add(ew.sub(ew.sub(ew.mul(dp1, z_next), p1), ew.mul(dp2, yk)), ew.mul(p2, k))
        dq = ew.add(ew.sub(ew.sub(ew.mul(dq1, z_next), q1), ew.mul(dq2, yk)), ew.mul(q2, k))
        dfrac_next = ew.select(q_ok, ew.div(ew.sub(dp, ew.mul(frac_next, dq)), q), dfrac)
        dchange = ew.select(q_ok, ew.abs(ew.sub(dfrac_next, dfrac)), _full(dfrac, 1))
        # shift the recurrence by one term, scaled down by eps while p_k is large
        big = ew.gt(ew.abs(p), ew.reciprocal(eps))
        p1n, q1n, p2n, q2n, dp2n, dq2n, dp1n, dq1n = (
            ew.select(big, ew.mul(v, eps), v) for v in (p, q, p1, q1, dp1, dq1, dp, dq))
        going = ew.gt(change if mode is _Mode.VALUE else dchange, eps)
        new = (y_next, z_next, p1n, q1n, p2n, q2n, dp2n, dq2n, dp1n, dq1n, frac_next,
               dfrac_next)
        return (ew.bitwise_and(live, going), k,
                *(ew.select(live, n, o) for n, o in zip(new, state[2:])))

    y = ew.sub(_k(1, a), a)
    z = ew.add(ew.add(x, y), _k(1, x))
    p1, q1 = ew.add(x, _k(1, x)), ew.mul(z, x)
    frac = ew.div(p1, q1)
    zeros = _full(x, 0)
    dq1 = ew.neg(x)
    dfrac = ew.div(ew.sub(zeros, ew.mul(frac, dq1)), q1)
    init = (active, np.array(0, dtype), y, z, p1, q1, _full(x, 1), x, zeros, zeros, zeros,
            dq1, frac, dfrac)
    out = while_loop(cond, body, init)
    frac, dfrac = out[-2], out[-1]
    if mode is _Mode.VALUE:
        return ew.mul(frac, ax)
    dlog_ax = ew.sub(ew.log(x), ew.digamma(a))
    if mode is _Mode.DERIVATIVE:
        return ew.mul(ax, ew.add(ew.mul(frac, dlog_ax), dfrac))
    return ew.neg(ew.mul(ew.add(dfrac, ew.mul(frac, dlog_ax)), x))


def _igamma_impl(a: Any, x: Any, dtype: np.dtype) -> Any:
    nan_in = _or(_isnan(a), _isnan(x))
    x_zero, x_inf = ew.eq(x, _k(0, x)), ew.eq(x, _k(np.inf, x))
    domain = _or(ew.lt(x, _k(0, x)), ew.lt(a, _k(0, a)),
                 ew.bitwise_and(ew.eq(a, _k(0, a)), x_zero), nan_in)
    use_cf = ew.bitwise_and(ew.ge(x, _k(1, x)), ew.gt(x, a))
    ax, underflow = _log_prefactor(a, x, dtype)
    ok = ew.bitwise_not(_or(x_zero, domain, underflow, x_inf))
    out = ew.select(
        use_cf,
        ew.sub(_k(1, a), _continued_fraction(ax, x, a, ew.bitwise_and(ok, use_cf), dtype,
                                             _Mode.VALUE)),
        _series(ax, x, a, ew.bitwise_and(ok, ew.bitwise_not(use_cf)), dtype, _Mode.VALUE))
    out = ew.select(x_zero, _full(a, 0), out)
    out = ew.select(x_inf, _full(a, 1), out)
    return ew.select(domain, _full(a, np.nan), out)


def _igammac_impl(a: Any, x: Any, dtype: np.dtype) -> Any:
    nan_in = _or(_isnan(a), _isnan(x))
    a_zero, x_zero = ew.eq(a, _k(0, a)), ew.eq(x, _k(0, x))
    x_inf = ew.eq(x, _k(np.inf, x))
    domain = _or(ew.lt(x, _k(0, x)), ew.lt(a, _k(0, a)), ew.bitwise_and(a_zero, x_zero),
                 nan_in)
    use_series = ew.bitwise_or(ew.lt(x, _k(1, x)), ew.lt(x, a))
    ax, underflow = _log_prefactor(a, x, dtype)
    ok = ew.bitwise_not(_or(domain, underflow, x_inf, a_zero))
    out = ew.select(
        use_series,
        ew.sub(_k(1, a), _series(ax, x, a, ew.bitwise_and(ok, use_series), dtype,
                                 _Mode.VALUE)),
        _continued_fraction(ax, x, a, ew.bitwise_and(ok, ew.bitwise_not(use_series)), dtype,
                            _Mode.VALUE))
    out = ew.select(ew.bitwise_or(x_inf, a_zero), _full(out, 0), out)
    return ew.select(domain, _full(a, np.nan), out)


def _derivative_impl(mode: _Mode) -> Callable[[Any, Any, np.dtype], Any]:
    """dP/da (`DERIVATIVE`) or the Gamma sample derivative (`SAMPLE_DERIVATIVE`)."""

    def impl(a: Any, x: Any, dtype: np.dtype) -> Any:
        nan_in = _or(_isnan(a), _isnan(x))
        x_zero = ew.eq(x, _k(0, x))
        domain = ew.bitwise_or(ew.lt(x, _k(0, x)), ew.le(a, _k(0, a)))
        use_cf = ew.bitwise_and(ew.gt(x, _k(1, x)), ew.gt(x, a))
        ax, underflow = _log_prefactor(a, x, dtype)
        ok = ew.bitwise_not(_or(x_zero, domain, underflow, nan_in))
        out = ew.select(
            use_cf,
            ew.neg(_continued_fraction(ax, x, a, ew.bitwise_and(ok, use_cf), dtype, mode)),
            _series(ax, x, a, ew.bitwise_and(ok, ew.bitwise_not(use_cf)), dtype, mode))
        out = ew.select(x_zero, _full(out, 0), out)
        return ew.select(ew.bitwise_or(domain, nan_in), _full(a, np.nan), out)

    return impl


def _in_float32_if_narrow(impl: Callable[..., Any]) -> Callable[..., Any]:
    """`impl(*operands)` on same-shaped operands of one dtype, which `impl` receives as
    its last argument; float16/bfloat16 go through float32."""

    def run(*operands: Any) -> Any:
        dtype = shaped_abstractify(operands[0]).dtype
        if dtype in (dtypes.float16, dtypes.bfloat16):
            f32 = dtypes.float32
            out = impl(*(ew.convert_element_type(v, f32) for v in operands), f32)
            return ew.convert_element_type(out, dtype)
        return impl(*operands, dtype)

    return run


_IMPLS: dict[str, Callable[..., Any]] = {
    "igamma": _in_float32_if_narrow(_igamma_impl),
    "igammac": _in_float32_if_narrow(_igammac_impl),
    "igamma_grad_a": _in_float32_if_narrow(_derivative_impl(_Mode.DERIVATIVE)),
    "random_gamma_grad": _in_float32_if_narrow(_derivative_impl(_Mode.SAMPLE_DERIVATIVE)),
}


def _same_shape(a: Any, x: Any) -> tuple[Any, Any]:
    shape = _out_shape([a, x])
    return _broadcast_to(a, shape), _broadcast_to(x, shape)


# --------------------------------------------------------------------------------------
# Shared rule: the JVP through the implementation (the lowering is `lower_fun`'s)
# --------------------------------------------------------------------------------------


def _impl_tangent(name: str, a: Any, x: Any, a_dot: Any, x_dot: Any) -> Any:
    """The output tangent of `name`'s implementation, differentiated in forward mode;
    `a_dot`/`x_dot` may be symbolic zeros."""
    a, x = _same_shape(a, x)
    tangents = [ad.Zero.like(p) if isinstance(t, ad.Zero)
                else _broadcast_to(t, shaped_abstractify(p).shape)
                for p, t in ((a, a_dot), (x, x_dot))]
    _, (t_out,) = ad.jvp_flat(lambda a_, x_: [_IMPLS[name](a_, x_)], [a, x], tangents)
    return ad.instantiate_zeros(t_out) if isinstance(t_out, ad.Zero) else t_out


# --------------------------------------------------------------------------------------
# The primitives
# --------------------------------------------------------------------------------------

_float = dtypes.is_floating


def _define(name: str) -> Primitive:
    prim = Primitive(name)
    prim.def_abstract_eval(naryop_abstract_eval(name, _float))
    lowering.register_lowering(prim, lower_fun(name, _IMPLS[name]))
    batching.defbroadcasting(prim)
    return prim


igamma_p = _define("igamma")
igammac_p = _define("igammac")
igamma_grad_a_p = _define("igamma_grad_a")
random_gamma_grad_p = _define("random_gamma_grad")

_fast = {p: eager_binary(p) for p in (igamma_p, igammac_p, igamma_grad_a_p,
                                      random_gamma_grad_p)}


def _bind(prim: Primitive, a: ArrayLike, x: ArrayLike) -> Array:
    out = _fast[prim](a, x)  # two concrete Arrays, nothing tracing: the cached executable
    if out is not None:
        return out
    return prim.bind(*ew._operands(prim.name, (a, x)))


def igamma(a: ArrayLike, x: ArrayLike) -> Array:
    """Elementwise regularized lower incomplete gamma function,
    `P(a, x) = gammainc(a, x)`: the integral of `t**(a-1) exp(-t)` over [0, x],
    divided by Gamma(a).

    Args:
        a, x: floating-point arrays or scalars of one dtype; 0-d operands broadcast.

    Returns:
        P(a, x), with the operands' dtype and common shape: 0 at x = 0, 1 at x = inf,
        NaN for NaN operands, x < 0, a < 0 or a = x = 0.

    >>> from lamina import lax
    >>> lax.igamma(1.0, 2.0)  # 1 - exp(-2)
    Array(0.8646648, dtype=float32, weak_type=True)
    """
    return _bind(igamma_p, a, x)


def igammac(a: ArrayLike, x: ArrayLike) -> Array:
    """Elementwise regularized upper incomplete gamma function, `Q(a, x) = 1 - P(a, x)`
    (`gammaincc`), computed directly so that it stays accurate where P is close to 1.

    Args:
        a, x: floating-point arrays or scalars of one dtype; 0-d operands broadcast.

    Returns:
        Q(a, x), with the operands' dtype and common shape: 0 at x = inf or a = 0, NaN
        for NaN operands, x < 0, a < 0 or a = x = 0.

    >>> from lamina import lax
    >>> lax.igammac(1.0, 30.0)  # exp(-30)
    Array(9.3576236e-14, dtype=float32, weak_type=True)
    """
    return _bind(igammac_p, a, x)


def igamma_grad_a(a: ArrayLike, x: ArrayLike) -> Array:
    """Elementwise derivative of the regularized incomplete gamma function `P(a, x)`
    with respect to `a`.

    Args:
        a, x: floating-point arrays or scalars of one dtype; 0-d operands broadcast.

    Returns:
        dP/da, with the operands' dtype and common shape: 0 at x = 0, NaN for NaN
        operands, x < 0 or a <= 0.

    >>> from lamina import lax
    >>> lax.igamma_grad_a(2.0, 1.0)
    Array(-0.27619603, dtype=float32, weak_type=True)
    """
    return _bind(igamma_grad_a_p, a, x)


def random_gamma_grad(a: ArrayLike, x: ArrayLike) -> Array:
    """Elementwise derivative of a Gamma(a, 1) sample `x` with respect to `a`, holding
    the sample's quantile fixed (implicit reparameterisation): `-(dP/da) / (dP/dx)` at
    `(a, x)`. `lamina.random.gamma` differentiates its samples with it.

    Args:
        a: the shape parameters, a floating-point array or scalar.
        x: the samples, of a's dtype. Operands of one rank broadcast over size-1
            dimensions, and 0-d operands broadcast, as in jax.

    Returns:
        dx/da, with the operands' dtype and common shape: 0 at x = 0, NaN for NaN
        operands, x < 0 or a <= 0.

    >>> from lamina import lax
    >>> lax.random_gamma_grad(2.0, 1.0)
    Array(0.7507787, dtype=float32, weak_type=True)
    """
    check_arraylike("lax.random_gamma_grad", a, x)
    shapes = [np.shape(v) for v in (a, x)]
    if shapes[0] != shapes[1] and all(shapes):
        # NOTE: jax broadcasts operands of one rank over their size-1 dimensions here.
        shape = np.broadcast_shapes(*shapes)
        a, x = (v if np.shape(v) == shape else broadcast_in_dim(v, shape, range(len(shape)))
                for v in (a, x))
    return _bind(random_gamma_grad_p, a, x)


# --------------------------------------------------------------------------------------
# JVP rules
# --------------------------------------------------------------------------------------


def _igamma_grad_x(a: Any, x: Any) -> Any:
    """dP/dx, the Gamma(a, 1) density at x."""
    log_density = ew.sub(ew.add(ew.neg(x), ew.mul(ew.sub(a, _k(1, a)), ew.log(x))),
                         ew.lgamma(a))
    return ew.exp(log_density)


_nary_jvp(igamma_p, lambda g, a, x: ew.mul(g, igamma_grad_a(a, x)),
          lambda g, a, x: ew.mul(g, _igamma_grad_x(a, x)))
_nary_jvp(igammac_p, lambda g, a, x: ew.neg(ew.mul(g, igamma_grad_a(a, x))),
          lambda g, a, x: ew.neg(ew.mul(g, _igamma_grad_x(a, x))))
_nary_jvp(igamma_grad_a_p,
          lambda g, a, x: _impl_tangent("igamma_grad_a", a, x, g, ad.Zero.like(x)),
          lambda g, a, x: ew.mul(g, ew.mul(_igamma_grad_x(a, x),
                                           ew.sub(ew.log(x), ew.digamma(a)))))


def _random_gamma_grad_jvp(primals: Any, tangents: Any) -> tuple[Any, Any]:
    a, x = primals
    return (random_gamma_grad_p.bind(a, x),
            _impl_tangent("random_gamma_grad", a, x, *tangents))


ad.primitive_jvps[random_gamma_grad_p] = _random_gamma_grad_jvp


# ======================================================================================
# The regularized incomplete beta function (`betainc`) and Hurwitz zeta (`zeta`)
# ======================================================================================


def _betainc_fraction(a: Any, b: Any, x: Any, dtype: np.dtype) -> Any:
    """The continued fraction `1 / (1 + d_1 / (1 + d_2 / (1 + ...)))` of I_x(a, b)
    (DLMF 8.17.22, with x in the d_n), evaluated forwards by the modified Lentz method: the ratios of
    consecutive numerators (`c`) and denominators (`d`) are updated, kept away from 0
    by `tiny`, and their product scales the approximant until every element's factor
    is within eps/2 of 1 (or the term cap is reached; all elements step together)."""
    tiny = np.array(np.finfo(dtype).eps / 2, dtype)  # both the floor and the tolerance
    max_terms = np.array(200 if dtype == dtypes.float32 else 600, np.int32)
    shape = shaped_abstractify(a).shape

    def coefficient(n: Any) -> Any:
        """The n-th partial numerator (n >= 1): 1, then alternately
        -(a + m)(a + b + m) x / ((a + 2m)(a + 2m + 1)) and
        m (b - m) x / ((a + 2m - 1)(a + 2m)), m = (n - 1) // 2."""
        m_int = ew.div(ew.sub(n, np.array(1, np.int32)), np.array(2, np.int32))
        m = ew.convert_element_type(m_int, dtype)
        a_2m = ew.add(a, ew.mul(_k(2, a), m))
        # NOTE: for m == 0 the first even term is written without m, as XLA does (it
        # stays exact when a is tiny and denormals are flushed).
        first = ew.div(ew.mul(ew.neg(ew.add(a, b)), x), ew.add(a, _k(1, a)))
        even = ew.div(ew.mul(ew.mul(ew.neg(ew.add(a, m)), ew.add(ew.add(a, b), m)), x),
                      ew.mul(a_2m, ew.add(a_2m, _k(1, a))))
        odd = ew.div(ew.mul(ew.mul(m, ew.sub(b, m)), x),
                     ew.mul(ew.sub(a_2m, _k(1, a)), a_2m))
        n_is_even = ew.eq(ew.rem(n, np.array(2, np.int32)), np.array(0, np.int32))

        def where(pred: Any, on_true: Any, on_false: Any) -> Any:
            return ew.select(_broadcast_to(pred, shape), on_true, on_false)

        even = where(ew.eq(m_int, np.array(0, np.int32)), first, even)
        return where(ew.eq(n, np.array(1, np.int32)), _full(x, 1),
                     where(n_is_even, even, odd))

    def floored(v: Any) -> Any:
        return ew.select(ew.lt(ew.abs(v), _full(v, tiny)), _full(v, tiny), v)

    def cond(state: tuple[Any, ...]) -> Any:
        return ew.bitwise_and(ew.lt(state[0], max_terms), state[1])

    def body(state: tuple[Any, ...]) -> tuple[Any, ...]:
        n, _, c, d, h = state
        coef = coefficient(n)
        c = floored(ew.add(_k(1, c), ew.div(coef, c)))
        d = ew.reciprocal(floored(ew.add(_k(1, d), ew.mul(coef, d))))
        factor = ew.mul(c, d)
        unconverged = _any_true(ew.ge(ew.abs(ew.sub(factor, _k(1, factor))), tiny))
        return ew.add(n, np.array(1, np.int32)), unconverged, c, d, ew.mul(h, factor)

    # The leading term b_0 = 0 is floored to `tiny`, which also starts c and h.
    h0 = _full(a, tiny)
    init = (np.array(1, np.int32), np.array(True), h0, _full(a, 0), h0)
    return while_loop(cond, body, init)[-1]


def _betainc_impl(a: Any, b: Any, x: Any, dtype: np.dtype) -> Any:
    zero, one = _k(0, a), _k(1, a)
    inf = _k(np.inf, a)
    # A zero parameter (or an infinite other one) puts all the mass at one end.
    a_is_zero = ew.bitwise_or(ew.eq(a, zero), ew.eq(b, inf))
    b_is_zero = ew.bitwise_or(ew.eq(b, zero), ew.eq(a, inf))
    x_is_zero, x_is_one = ew.eq(x, zero), ew.eq(x, one)
    nan_in = _or(_isnan(a), _isnan(b), _isnan(x))
    result_is_zero = ew.bitwise_or(ew.bitwise_and(b_is_zero, ew.bitwise_not(x_is_one)),
                                   ew.bitwise_and(a_is_zero, x_is_zero))
    result_is_one = ew.bitwise_or(ew.bitwise_and(a_is_zero, ew.bitwise_not(x_is_zero)),
                                  ew.bitwise_and(b_is_zero, x_is_one))
    result_is_nan = _or(ew.lt(a, zero), ew.lt(b, zero), ew.lt(x, zero), ew.gt(x, one),
                        ew.bitwise_and(a_is_zero, b_is_zero), nan_in)
    # The fraction converges fast for x < (a + 1) / (a + b + 2) (DLMF 8.17.23); past
    # it, compute 1 - I_{1-x}(b, a) instead (DLMF 8.17.4).
    direct = ew.lt(x, ew.div(ew.add(a, one), ew.add(ew.add(a, b), _k(2, b))))
    a, b, x = ew.select(direct, a, b), ew.select(direct, b, a), \
        ew.select(direct, x, ew.sub(one, x))
    fraction = _betainc_fraction(a, b, x, dtype)
    # x^a (1 - x)^b / (a B(a, b)); for a below twice the smallest normal, a Gamma(a)
    # is taken as Gamma(a + 1) = 1, which keeps the 1/a out.
    log1m_x = ew.log1p(ew.neg(x))
    lbeta_without_a = ew.sub(ew.lgamma(b), ew.lgamma(ew.add(a, b)))
    lbeta = ew.add(ew.lgamma(a), lbeta_without_a)
    log_x_a_1m_x_b = ew.add(ew.mul(ew.log(x), a), ew.mul(log1m_x, b))
    prefactor = ew.select(
        ew.lt(a, _k(np.finfo(dtype).tiny * 2, a)),
        ew.exp(ew.sub(ew.mul(log1m_x, b), lbeta_without_a)),
        ew.div(ew.exp(ew.sub(log_x_a_1m_x_b, lbeta)), a))
    out = ew.mul(fraction, prefactor)
    out = ew.select(direct, out, ew.sub(_k(1, out), out))
    out = ew.select(result_is_zero, _full(out, 0), out)
    out = ew.select(result_is_one, _full(out, 1), out)
    return ew.select(result_is_nan, _full(out, np.nan), out)


_IMPLS["regularized_incomplete_beta"] = _in_float32_if_narrow(_betainc_impl)

regularized_incomplete_beta_p = Primitive("regularized_incomplete_beta")
regularized_incomplete_beta_p.def_abstract_eval(naryop_abstract_eval("betainc", _float))
lowering.register_lowering(regularized_incomplete_beta_p,
                           lower_fun("regularized_incomplete_beta",
                                     _IMPLS["regularized_incomplete_beta"]))
batching.defbroadcasting(regularized_incomplete_beta_p)

# NOTE: XLA has a Hurwitz zeta op (CHLO's), which jax lowers to directly.
zeta_p = Primitive("zeta")
zeta_p.def_abstract_eval(naryop_abstract_eval("zeta", _float))
lowering.register_lowering(zeta_p, lowering.elementwise("chlo.zeta"))
batching.defbroadcasting(zeta_p)
_fast[zeta_p] = eager_binary(zeta_p)


def betainc(a: ArrayLike, b: ArrayLike, x: ArrayLike) -> Array:
    """Elementwise regularized incomplete beta function
    `I_x(a, b) = B(x; a, b) / B(a, b)`: the integral of `t**(a-1) (1-t)**(b-1)` over
    [0, x], divided by the beta function B(a, b).

    Differentiable in x only (its derivative is the Beta(a, b) density); a tangent for
    a or b raises ValueError, as in jax.

    Args:
        a, b: the parameters, floating-point arrays or scalars (a, b >= 0).
        x: floating-point array or scalar in [0, 1]. All three share one dtype; 0-d
            operands broadcast.

    Returns:
        I_x(a, b), with the operands' dtype and common shape: 0 at x = 0, 1 at x = 1,
        the limits where a or b is 0 or inf, NaN for NaN operands, a < 0, b < 0,
        x outside [0, 1] or a = b = 0.

    >>> from lamina import lax
    >>> lax.betainc(2.0, 3.0, 0.5)  # 11/16
    Array(0.6874998, dtype=float32, weak_type=True)
    """
    return regularized_incomplete_beta_p.bind(*ew._operands("betainc", (a, b, x)))


def zeta(x: ArrayLike, q: ArrayLike) -> Array:
    """Elementwise Hurwitz zeta function `zeta(x, q) = sum_{n >= 0} (n + q)**-x`.

    Differentiable in q (`d/dq zeta(x, q) = -x zeta(x + 1, q)`), not in x: a tangent
    for x raises NotImplementedError. (jax.lax.zeta has no derivative at all.)

    Args:
        x, q: floating-point arrays or scalars of one dtype; 0-d operands broadcast.

    Returns:
        zeta(x, q), with the operands' dtype and common shape: inf at x = 1, NaN for
        x < 1 and for NaN operands.

    >>> from lamina import lax
    >>> lax.zeta(2.0, 1.0)  # pi**2 / 6
    Array(1.644934, dtype=float32, weak_type=True)
    """
    return _bind(zeta_p, x, q)


def _betainc_grad_ab(g: Any, a: Any, b: Any, x: Any) -> Any:
    raise ValueError("lax.betainc is differentiable with respect to x only, not a or b "
                     "(jax has no derivative there either); stop_gradient a and b, or "
                     "close over them as constants")


def _betainc_grad_x(g: Any, a: Any, b: Any, x: Any) -> Any:
    """g times the Beta(a, b) density x^(a-1) (1-x)^(b-1) / B(a, b)."""
    lbeta = ew.sub(ew.add(ew.lgamma(a), ew.lgamma(b)), ew.lgamma(ew.add(a, b)))
    log_density = ew.sub(ew.add(ew.mul(ew.sub(b, _k(1, b)), ew.log1p(ew.neg(x))),
                                ew.mul(ew.sub(a, _k(1, a)), ew.log(x))), lbeta)
    return ew.mul(ew.exp(log_density), g)


def _zeta_grad_x(g: Any, x: Any, q: Any) -> Any:
    raise NotImplementedError(
        "lax.zeta is not differentiable with respect to x (jax's has no derivative at "
        "all); lamina.scipy.special.zeta is, through a series expansion, as "
        "jax.scipy.special.zeta")


_nary_jvp(regularized_incomplete_beta_p, _betainc_grad_ab, _betainc_grad_ab,
          _betainc_grad_x)
_nary_jvp(zeta_p, _zeta_grad_x,
          lambda g, x, q: ew.mul(g, ew.neg(ew.mul(x, zeta(ew.add(x, _k(1, x)), q)))))
