"""Exponential integrals `expi`, `exp1`, `expn` and Spence's function (the real
dilogarithm), by jax's algorithms, which follow Cephes (`ei.c`, `expn.c`, `spence.c`):
rational approximations on intervals of `x` for `Ei`; for `E_n`, a power series
(`x <= 1`), a continued fraction (`x > 1`) or an asymptotic expansion (`n >= 5000`),
the first two iterated with `lax.while_loop` per element (`expn` is vectorized over
scalars, as jax's). Derivatives are jax's custom JVPs: `exp(x) / x` for `expi` and
`-E_{n-1}(x)` for `expn` in `x`.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

import lamina.numpy as lnp
from lamina import dtypes, lax
from lamina._api_jit import jit
from lamina.custom_derivatives import custom_jvp
from lamina.numpy._util import promote_args_inexact

__all__ = ["exp1", "expi", "expn", "spence"]

_EULER_GAMMA = 0.57721566490153286061


def _const(x: Any, value: float) -> Any:
    return np.asarray(value, x.dtype)


def _refuse_complex(name: str, x: Any) -> None:
    if dtypes.is_complex(x.dtype):
        raise ValueError(f"lamina.scipy.special.{name} does not support complex "
                         f"inputs, got {x.dtype}")


# --------------------------------------------------------------------------------------
# expn: E_n(x) = x**(n-1) integral_x^inf exp(-t) / t**n dt
# --------------------------------------------------------------------------------------


def _expn_series(x: Any, n: Any) -> Any:
    """x <= 1: the series
    E_n(x) = (-x)**(n-1) psi(n) / gamma(n) - sum_k (-x)**k / ((k - n + 1) k!),
    psi(n) = -gamma_E - log(x) + sum_{i < n} 1 / i."""
    one, zero = _const(x, 1), _const(x, 0)
    eps = np.finfo(x.dtype).eps
    psi = -_EULER_GAMMA - lnp.log(x)
    _, psi = lax.while_loop(lambda s: s[0] < n,
                            lambda s: (s[0] + one, s[1] + one / s[0]),
                            (_const(n, 1), psi))
    n1 = lnp.where(n == _const(n, 1), one + one, n)
    state = {"z": -x, "xk": zero, "yk": one, "pk": one - n,
             "ans": lnp.where(n == _const(n, 1), zero, one / (one - n1)),
             "t": _const(x, np.inf)}

    def body(s: dict) -> dict:
        s = dict(s)
        s["xk"] = s["xk"] + one
        s["yk"] = s["yk"] * (s["z"] / s["xk"])
        s["pk"] = s["pk"] + one
        s["ans"] = s["ans"] + lnp.where(s["pk"] != zero, s["yk"] / s["pk"], zero)
        s["t"] = lnp.where(s["ans"] != zero, lnp.abs(s["yk"] / s["ans"]), one)
        return s

    s = lax.while_loop(lambda s: (x > zero) & (s["t"] > eps), body, state)
    return s["z"] ** (n - _const(n, 1)) * psi / lnp.exp(lax.lgamma(n)) - s["ans"]


def _expn_continued_fraction(x: Any, n: Any) -> Any:
    """x > 1: the continued fraction
    E_n(x) = exp(-x) / (x + n / (1 + 1 / (x + (n + 1) / (1 + 2 / (x + ...)))))."""
    one, zero = _const(x, 1), _const(x, 0)
    big = _const(x, 1.44115188075855872e17)  # 2**57: rescale before overflow
    eps = np.finfo(x.dtype).eps
    state = {"k": _const(n, 1), "pkm2": one, "qkm2": x, "pkm1": one, "qkm1": x + n,
             "ans": one / (x + n), "t": _const(x, np.inf), "r": zero}

    def body(s: dict) -> dict:
        s = dict(s)
        k = s["k"] + _const(n, 1)
        odd = k % _const(n, 2) == _const(n, 1)
        yk = lnp.where(odd, one, x)
        xk = lnp.where(odd, n + (k - _const(n, 1)) / _const(n, 2), k / _const(n, 2))
        pk = s["pkm1"] * yk + s["pkm2"] * xk
        qk = s["qkm1"] * yk + s["qkm2"] * xk
        nonzero = qk != zero
        r = lnp.where(nonzero, pk / qk, s["r"])
        s["t"] = lnp.where(nonzero, lnp.abs((s["ans"] - r) / r), one)
        s["ans"] = lnp.where(nonzero, r, s["ans"])
        s["k"], s["r"] = k, r
        s["pkm2"], s["pkm1"], s["qkm2"], s["qkm1"] = s["pkm1"], pk, s["qkm1"], qk
        is_big = lnp.abs(pk) > big
        for name in ("pkm1", "pkm2", "qkm1", "qkm2"):
            s[name] = lnp.where(is_big, s[name] / big, s[name])
        return s

    s = lax.while_loop(lambda s: (x > _const(n, 0)) & (s["t"] > eps), body, state)
    return s["ans"] * lnp.exp(-x)


def _expn_large_n(x: Any, n: Any) -> Any:
    """n >= 5000: three terms of the asymptotic expansion in 1 / (x + n)**2."""
    one = _const(x, 1)
    xk = x + n
    yk = one / (xk * xk)
    ans = yk * n * (_const(x, 6) * x * x - _const(x, 8) * n * x + n * n)
    ans = yk * (ans + n * (n - _const(x, 2) * x))
    ans = yk * (ans + n)
    return (ans + one) * lnp.exp(-x) / xk


def _expn_scalar(n: Any, x: Any) -> Any:
    zero, one = _const(x, 0), _const(x, 1)
    conditions = [
        (n < _const(n, 0)) | (x < zero),
        (x == zero) & (n < _const(n, 2)),
        (x == zero) & (n >= _const(n, 2)),
        (n == _const(n, 0)) & (x >= zero),
        n >= _const(n, 5000),
        x > one,
    ]
    # NOTE: as lnp.piecewise (and jax's), the LAST true condition picks the branch.
    n1 = lnp.where(n == _const(n, 1), n + n, n)  # keeps 1 / n1 finite where unused
    branches = [np.nan, np.inf, one / n1, lnp.exp(-x) / x, _expn_large_n,
                _expn_continued_fraction, _expn_series]
    return lnp.piecewise(x, conditions, branches, n=n)


def _expn_impl(n: Any, x: Any) -> Any:
    # NOTE: jitted per scalar as jax's: eagerly, the branches would capture `n` as a
    # constant, which XLA folds (lgamma included) with slightly different roundings.
    return lnp.vectorize(jit(_expn_scalar))(n, x)


_expn = custom_jvp(_expn_impl, nondiff_argnums=(0,))


@_expn.defjvp
def _expn_jvp(n: Any, primals: tuple, tangents: tuple) -> tuple:
    (x,), (x_dot,) = primals, tangents
    return _expn(n, x), lax.neg(x_dot) * _expn(n - _const(n, 1), x)


def expn(n: Any, x: Any) -> Any:
    """The generalized exponential integral
    `E_n(x) = x**(n-1) integral_x^inf exp(-t) / t**n dt`; NaN for `n < 0` or `x < 0`.

    Differentiable in `x` (`dE_n/dx = -E_{n-1}(x)`), not in `n`, as in jax.

    >>> expn(2, 1.)
    Array(0.14849555, dtype=float32)
    """
    n, x = promote_args_inexact("expn", n, x)
    _refuse_complex("expn", x)
    return _expn(n, x)


def exp1(x: Any) -> Any:
    """The exponential integral `E_1(x) = integral_x^inf exp(-t) / t dt`, `expn(1, x)`.

    >>> exp1(1.)
    Array(0.21938422, dtype=float32)
    """
    x, = promote_args_inexact("exp1", x)
    _refuse_complex("exp1", x)
    return expn(1, x)


# --------------------------------------------------------------------------------------
# expi: Ei(x) = integral_-inf^x exp(t) / t dt (principal value)
# --------------------------------------------------------------------------------------

# Cephes ei.c rational approximations, highest power first. 0 < x <= 2:
# Ei(x) = gamma_E + log(x) + x A(x) / B(x).
_EI_A1 = [
    -5.350447357812542947283e0, 2.185049168816613393830e2, -4.176572384826693777058e3,
    5.541176756393557601232e4, -3.313381331178144034309e5, 1.592627163384945414220e6]
_EI_B1 = [
    1.0, -5.250547959112862969197e1, 1.259616186786790571525e3,
    -1.756549581973534652631e4, 1.493062117002725991967e5, -7.294949239640527645655e5,
    1.592627163384945429726e6]
# On (2, 4], (4, 8], ..., (64, inf): Ei(x) = exp(x) / x (1 + A(1/x) / (x B(1/x))).
_EI_AB = [
    ([
        1.981808503259689673238e-2, -1.271645625984917501326e0,
        -2.088160335681228318920e0, 2.755544509187936721172e0,
        -4.409507048701600257171e-1, 4.665623805935891391017e-2,
        -1.545042679673485262580e-3, 7.059980605299617478514e-5],
     [
        1.0, 1.476498670914921440652e0, 5.629177174822436244827e-1,
        1.699017897879307263248e-1, 2.291647179034212017463e-2,
        4.450150439728752875043e-3, 1.727439612206521482874e-4,
        3.953167195549672482304e-5]),
    ([
        -1.373215375871208729803e0, -7.084559133740838761406e-1,
        1.580806855547941010501e0, -2.601500427425622944234e-1,
        2.994674694113713763365e-2, -1.038086040188744005513e-3,
        4.371064420753005429514e-5, 2.141783679522602903795e-6],
     [
        1.0, 8.585231423622028380768e-1, 4.483285822873995129957e-1,
        7.687932158124475434091e-2, 2.449868241021887685904e-2,
        8.832165941927796567926e-4, 4.590952299511353531215e-4,
        -4.729848351866523044863e-6, 2.665195537390710170105e-6]),
    ([
        -2.106934601691916512584e0, 1.732733869664688041885e0,
        -2.423619178935841904839e-1, 2.322724180937565842585e-2,
        2.372880440493179832059e-4, -8.343219561192552752335e-5,
        1.363408795605250394881e-5, -3.655412321999253963714e-7,
        1.464941733975961318456e-8, 6.176407863710360207074e-10],
     [
        1.0, -2.298062239901678075778e-1, 1.105077041474037862347e-1,
        -1.566542966630792353556e-2, 2.761106850817352773874e-3,
        -2.089148012284048449115e-4, 1.708528938807675304186e-5,
        -4.459311796356686423199e-7, 1.394634930353847498145e-8,
        6.150865933977338354138e-10]),
    ([
        -2.458119367674020323359e-1, -1.483382253322077687183e-1,
        7.248291795735551591813e-2, -1.348315687380940523823e-2,
        1.342775069788636972294e-3, -7.942465637159712264564e-5,
        2.644179518984235952241e-6, -4.239473659313765177195e-8],
     [
        1.0, -1.044225908443871106315e-1, -2.676453128101402655055e-1,
        9.695000254621984627876e-2, -1.601745692712991078208e-2,
        1.496414899205908021882e-3, -8.462452563778485013756e-5,
        2.728938403476726394024e-6, -4.239462431819542051337e-8]),
    ([
        1.212561118105456670844e-1, -5.823133179043894485122e-1,
        2.348887314557016779211e-1, -3.040034318113248237280e-2,
        1.510082146865190661777e-3, -2.523137095499571377122e-5],
     [
        1.0, -1.002252150365854016662e0, 2.928709694872224144953e-1,
        -3.337004338674007801307e-2, 1.560544881127388842819e-3,
        -2.523137093603234562648e-5]),
    ([
        -7.657847078286127362028e-1, 6.886192415566705051750e-1,
        -2.132598113545206124553e-1, 3.346107552384193813594e-2,
        -3.076541477344756050249e-3, 1.747119316454907477380e-4,
        -6.103711682274170530369e-6, 1.218032765428652199087e-7,
        -1.086076102793290233007e-9],
     [
        1.0, -1.888802868662308731041e0, 1.066691687211408896850e0,
        -2.751915982306380647738e-1, 3.930852688233823569726e-2,
        -3.414684558602365085394e-3, 1.866844370703555398195e-4,
        -6.345146083130515357861e-6, 1.239754287483206878024e-7,
        -1.086076102793126632978e-9]),
]


def _ei_small(x: Any) -> Any:
    ratio = (lnp.polyval(np.asarray(_EI_A1, x.dtype), x)
             / lnp.polyval(np.asarray(_EI_B1, x.dtype), x))
    return x * ratio + _EULER_GAMMA + lnp.log(x)


def _ei_interval(a: list, b: list) -> Any:
    def ei(x: Any) -> Any:
        one = _const(x, 1)
        w = one / x
        f = (lnp.polyval(np.asarray(a, x.dtype), w)
             / lnp.polyval(np.asarray(b, x.dtype), w))
        return lnp.exp(x) * w * (w * f + one)
    return ei


def _ei_nonnegative(x: Any) -> Any:
    c = lambda v: _const(x, v)  # noqa: E731
    intervals = [(c(0) < x) & (x <= c(2))]
    intervals += [(c(2 ** i) < x) & (x <= c(2 ** (i + 1))) for i in range(1, 6)]
    # NOTE: the last function is the default: x > 64, and (as jax) also 0 and NaN.
    funcs = [_ei_small, *(_ei_interval(a, b) for a, b in _EI_AB)]
    return lnp.piecewise(x, intervals, funcs)


def _ei_negative(x: Any) -> Any:
    return -exp1(-x)


@custom_jvp
@jit
def _expi(x: Any) -> Any:
    return lnp.piecewise(x, [x < 0], [_ei_negative, _ei_nonnegative])


@_expi.defjvp
def _expi_jvp(primals: tuple, tangents: tuple) -> tuple:
    (x,), (x_dot,) = primals, tangents
    return _expi(x), lnp.exp(x) / x * x_dot


def expi(x: Any) -> Any:
    """The exponential integral `Ei(x)`, the principal value of
    `integral_-inf^x exp(t) / t dt` (`-E_1(-x)` for `x < 0`); derivative `exp(x) / x`.

    >>> import lamina.numpy as lnp
    >>> expi(lnp.array([-1., 1., 10.]))
    Array([-2.1938396e-01,  1.8951179e+00,  2.4922288e+03], dtype=float32)
    """
    x, = promote_args_inexact("expi", x)
    _refuse_complex("expi", x)
    return _expi(x)


# --------------------------------------------------------------------------------------
# spence(x) = integral_1^x log(t) / (1 - t) dt, for x >= 0
# --------------------------------------------------------------------------------------

_SPENCE_A = [
    4.65128586073990045278e-5, 7.31589045238094711071e-3, 1.33847639578309018650e-1,
    8.79691311754530315341e-1, 2.71149851196553469920e0, 4.25697156008121755724e0,
    3.29771340985225106936e0, 1.00000000000000000126e0]
_SPENCE_B = [
    6.90990488912553276999e-4, 2.54043763932544379113e-2, 2.82974860602568089943e-1,
    1.41172597751831069617e0, 3.63800533345137075418e0, 5.03278880143316990390e0,
    3.54771340985225096217e0, 9.99999999999999998740e-1]


def _spence_positive(x: Any) -> Any:
    # Reduce to w = x - 1 near 1, using spence(1/x) for x > 1.5 and the reflection
    # spence(x) = pi**2/6 - log(x) log(1 - x) - spence(1 - x) for x < 0.5.
    above_two = x > 2.0
    x = lnp.piecewise(x, [above_two], [lambda v: 1.0 / v, lambda v: v])
    above_1_5, below_half = x > 1.5, x < 0.5
    inverted = above_two | above_1_5
    w = lnp.piecewise(x, [above_1_5, below_half],
                      [lambda v: 1.0 / v - 1.0, lambda v: -v, lambda v: v - 1.0])
    a, b = np.asarray(_SPENCE_A, w.dtype), np.asarray(_SPENCE_B, w.dtype)
    y = -w * lnp.polyval(a, w) / lnp.polyval(b, w)
    y = lnp.where(below_half, math.pi ** 2 / 6.0 - lnp.log(x) * lnp.log(1.0 - x) - y, y)
    return lnp.where(inverted, -0.5 * lnp.log(x) ** 2 - y, y)


def spence(x: Any) -> Any:
    """Spence's function `integral_1^x log(t) / (1 - t) dt` for real `x >= 0` (the
    dilogarithm `Li2(1 - x)`); NaN for negative `x`, as jax (unlike scipy).

    Raises:
      TypeError: unless `x` is float32 or float64 (integers are refused, as in jax).

    >>> import lamina.numpy as lnp
    >>> spence(lnp.array([0., 0.5, 1., 2.]))
    Array([ 1.644934  ,  0.58224034,  0.        , -0.82246685], dtype=float32)
    """
    x = lnp.asarray(x)
    if x.dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise TypeError(f"lamina.scipy.special.spence: x.dtype={x.dtype} is not "
                        "supported; pass float32 or float64")
    return _spence(x)


@jit
def _spence(x: Any) -> Any:
    return lnp.piecewise(x, [x < 0.0, x == 1.0, x == 0.0],
                         [np.nan, 0, math.pi ** 2 / 6, _spence_positive])
