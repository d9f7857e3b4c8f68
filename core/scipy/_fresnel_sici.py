"""The sine and cosine integrals `sici` and the Fresnel integrals `fresnel`, by jax's
algorithms, which follow Cephes (`sici.c`, `fresnl.c`; scipy's C++ port for float64):
rational approximations in `x**2` for small `|x|`, auxiliary functions `f`, `g` in
`1 / x**2` beyond, and the leading asymptotic terms for huge `|x|`. Both return a pair
and carry jax's custom JVPs: `(sin(x) / x, cos(x) / x)` for `sici` and
`(sin(pi x**2 / 2), cos(pi x**2 / 2))` for `fresnel`.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

import lamina.numpy as lnp
from lamina import dtypes
from lamina._api_jit import jit
from lamina.custom_derivatives import custom_jvp
from lamina.numpy._util import promote_args_inexact

__all__ = ["fresnel", "sici"]

_EULER_GAMMA = 0.57721566490153286061


def _poly(coeffs: list, x: Any) -> Any:
    return lnp.polyval(np.asarray(coeffs, x.dtype), x)


# --------------------------------------------------------------------------------------
# sici: Si(x) = integral_0^x sin(t) / t dt, Ci(x) = gamma_E + log(x) + integral_0^x
# (cos(t) - 1) / t dt
# --------------------------------------------------------------------------------------

# |x| <= 4: Si(x) = x SN(x**2) / SD(x**2), Ci(x) = gamma_E + log(x) + x**2 CN / CD.
_SI_N = [-8.39167827910303881427e-11, 4.62591714427012837309e-8,
         -9.75759303843632795789e-6, 9.76945438170435310816e-4,
         -4.13470316229406538752e-2, 1.00000000000000000302e0]
_SI_D = [2.03269266195951942049e-12, 1.27997891179943299903e-9,
         4.41827842801218905784e-7, 9.96412122043875552487e-5,
         1.42085239326149893930e-2, 9.99999999999999996984e-1]
_CI_N = [2.02524002389102268789e-11, -1.35249504915790756375e-8,
         3.59325051419993077021e-6, -4.74007206873407909465e-4,
         2.89159652607555242092e-2, -1.00000000000000000080e0]
_CI_D = [4.07746040061880559506e-12, 3.06780997581887812692e-9,
         1.23210355685883423679e-6, 3.17442024775032769882e-4,
         5.10028056236446052392e-2, 4.00000000000000000080e0]
# 4 < |x| < 8 and |x| >= 8: the auxiliary f(x) = FN(z) / (x FD(z)), g(x) = z GN / GD,
# z = 1 / x**2; Si = pi/2 - f cos(x) - g sin(x), Ci = f sin(x) - g cos(x).
_F4_N = [4.23612862892216586994e0, 5.45937717161812843388e0, 1.62083287701538329132e0,
         1.67006611831323023771e-1, 6.81020132472518137426e-3,
         1.08936580650328664411e-4, 5.48900223421373614008e-7]
_F4_D = [1.0, 8.16496634205391016773e0, 7.30828822505564552187e0,
         1.86792257950184183883e0, 1.78792052963149907262e-1,
         7.01710668322789753610e-3, 1.10034357153915731354e-4,
         5.48900252756255700982e-7]
_G4_N = [8.71001698973114191777e-2, 6.11379109952219284151e-1,
         3.97180296392337498885e-1, 7.48527737628469092119e-2,
         5.38868681462177273157e-3, 1.61999794598934024525e-4,
         1.97963874140963632189e-6, 7.82579040744090311069e-9]
_G4_D = [1.0, 1.64402202413355338886e0, 6.66296701268987968381e-1,
         9.88771761277688796203e-2, 6.22396345441768420760e-3,
         1.73221081474177119497e-4, 2.02659182086343991969e-6,
         7.82579218933534490868e-9]
_F8_N = [4.55880873470465315206e-1, 7.13715274100146711374e-1,
         1.60300158222319456320e-1, 1.16064229408124407915e-2,
         3.49556442447859055605e-4, 4.86215430826454749482e-6,
         3.20092790091004902806e-8, 9.41779576128512936592e-11,
         9.70507110881952024631e-14]
_F8_D = [1.0, 9.17463611873684053703e-1, 1.78685545332074536321e-1,
         1.22253594771971293032e-2, 3.58696481881851580297e-4,
         4.92435064317881464393e-6, 3.21956939101046018377e-8,
         9.43720590350276732376e-11, 9.70507110881952025725e-14]
_G8_N = [6.97359953443276214934e-1, 3.30410979305632063225e-1,
         3.84878767649974295920e-2, 1.71718239052347903558e-3,
         3.48941165502279436777e-5, 3.47131167084116673800e-7,
         1.70404452782044526189e-9, 3.85945925430276600453e-12,
         3.14040098946363334640e-15]
_G8_D = [1.0, 1.68548898811011640017e0, 4.87852258695304967486e-1,
         4.67913194259625806320e-2, 1.90284426674399523638e-3,
         3.68475504442561108162e-5, 3.57043223443740838771e-7,
         1.72693748966316146736e-9, 3.87830166023954706752e-12,
         3.14040098946363335242e-15]


def _sici_small(x: Any) -> tuple:
    t = x * x
    si = x * _poly(_SI_N, t) / _poly(_SI_D, t)
    ci = _EULER_GAMMA + lnp.log(x) + t * _poly(_CI_N, t) / _poly(_CI_D, t)
    return lnp.where(x == 0, 0.0, si), lnp.where(x == 0, -np.inf, ci)


def _sici_auxiliary(x: Any) -> tuple:
    sin, cos = lnp.sin(x), lnp.cos(x)
    z = 1.0 / (x * x)
    below_8 = x < 8.0
    f = lnp.where(below_8, _poly(_F4_N, z) / (x * _poly(_F4_D, z)),
                  _poly(_F8_N, z) / (x * _poly(_F8_D, z)))
    g = lnp.where(below_8, z * _poly(_G4_N, z) / _poly(_G4_D, z),
                  z * _poly(_G8_N, z) / _poly(_G8_D, z))
    return math.pi / 2 - f * cos - g * sin, f * sin - g * cos


def _sici_huge(x: Any) -> tuple:
    si = lnp.where(lnp.isposinf(x), math.pi / 2, math.pi / 2 - lnp.cos(x) / x)
    ci = lnp.where(lnp.isposinf(x), 0.0, lnp.sin(x) / x)
    return si, ci


@custom_jvp
@jit
def _sici(x: Any) -> tuple:
    # NOTE: as jax, every range is evaluated on all of |x| and selected afterwards.
    x_abs = lnp.abs(x)
    pairs = [_sici_small(x_abs), _sici_auxiliary(x_abs), _sici_huge(x_abs)]
    ranges = [x_abs <= 4, (x_abs > 4) & (x_abs <= 1e9)]
    si = lnp.select(ranges, [p[0] for p in pairs[:2]], pairs[2][0])
    ci = lnp.select(ranges, [p[1] for p in pairs[:2]], pairs[2][1])
    return lnp.sign(x) * si, lnp.where(lnp.isneginf(x), np.nan, ci)


@_sici.defjvp
def _sici_jvp(primals: tuple, tangents: tuple) -> tuple:
    (x,), (x_dot,) = primals, tangents
    return _sici(x), (lnp.sinc(x / np.pi) * x_dot, lnp.cos(x) / x * x_dot)


def sici(x: Any) -> tuple:
    """The sine and cosine integrals `(Si(x), Ci(x))`:
    `Si(x) = integral_0^x sin(t)/t dt` and
    `Ci(x) = gamma_E + log(x) + integral_0^x (cos(t) - 1)/t dt`.

    `Si` is odd; `Ci` is evaluated at `|x|` (even), `-inf` at 0 and NaN at `-inf`. Derivatives `(sin(x) / x, cos(x) / x)`, as in jax.

    >>> import lamina.numpy as lnp
    >>> si, ci = sici(lnp.array([0.5, 1., 10.]))
    >>> si
    Array([0.4931074 , 0.94608307, 1.6583477 ], dtype=float32)
    >>> ci
    Array([-0.17778407,  0.33740395, -0.04545644], dtype=float32)
    """
    x, = promote_args_inexact("sici", x)
    if dtypes.is_complex(x.dtype):
        raise ValueError(f"lamina.scipy.special.sici does not support complex inputs, "
                         f"got {x.dtype}")
    return _sici(x)


# --------------------------------------------------------------------------------------
# fresnel: S(x) = integral_0^x sin(pi t**2 / 2) dt,
#          C(x) = integral_0^x cos(pi t**2 / 2) dt
# --------------------------------------------------------------------------------------

# Single precision (Cephes fresnlf): plain polynomials.
_F32 = {
    "sn": [1.647629463788700e-9, -1.522754752581096e-7, 8.424748808502400e-6,
           -3.120693124703272e-4, 7.244727626597022e-3, -9.228055941124598e-2,
           5.235987735681432e-1],
    "cn": [1.416802502367354e-8, -1.157231412229871e-6, 5.387223446683264e-5,
           -1.604381798862293e-3, 2.818489036795073e-2, -2.467398198317899e-1,
           9.999999760004487e-1],
    "fn": [-1.903009855649792e12, 1.355942388050252e11, -4.158143148511033e9,
           7.343848463587323e7, -8.732356681548485e5, 8.560515466275470e3,
           -1.032877601091159e2, 2.999401847870011e0],
    "gn": [-1.860843997624650e11, 1.278350673393208e10, -3.779387713202229e8,
           6.492611570598858e6, -7.787789623358162e4, 8.602931494734327e2,
           -1.493439396592284e1, 9.999841934744914e-1],
}
# Double precision (Cephes fresnl): rational functions.
_F64 = {
    "sn": [-2.99181919401019853726e3, 7.08840045257738576863e5,
           -6.29741486205862506537e7, 2.54890880573376359104e9,
           -4.42979518059697779103e10, 3.18016297876567817986e11],
    "sd": [1.0, 2.81376268889994315696e2, 4.55847810806532581675e4,
           5.17343888770096400730e6, 4.19320245898111231129e8,
           2.24411795645340920940e10, 6.07366389490084639049e11],
    "cn": [-4.98843114573573548651e-8, 9.50428062829859605134e-6,
           -6.45191435683965050962e-4, 1.88843319396703850064e-2,
           -2.05525900955013891793e-1, 9.99999999999999998822e-1],
    "cd": [3.99982968972495980367e-12, 9.15439215774657478799e-10,
           1.25001862479598821474e-7, 1.22262789024179030997e-5,
           8.68029542941784300606e-4, 4.12142090722199792936e-2,
           1.00000000000000000118e0],
    "fn": [4.21543555043677546506e-1, 1.43407919780758885261e-1,
           1.15220955073585758835e-2, 3.45017939782574027900e-4,
           4.63613749287867322088e-6, 3.05568983790257605827e-8,
           1.02304514164907233465e-10, 1.72010743268161828879e-13,
           1.34283276233062758925e-16, 3.76329711269987889006e-20],
    "fd": [1.0, 7.51586398353378947175e-1, 1.16888925859191382142e-1,
           6.44051526508858611005e-3, 1.55934409164153020873e-4,
           1.84627567348930545870e-6, 1.12699224763999035261e-8,
           3.60140029589371370404e-11, 5.88754533621578410010e-14,
           4.52001434074129701496e-17, 1.25443237090011264384e-20],
    "gn": [5.04442073643383265887e-1, 1.97102833525523411709e-1,
           1.87648584092575249293e-2, 6.84079380915393090172e-4,
           1.15138826111884280931e-5, 9.82852443688422223854e-8,
           4.45344415861750144738e-10, 1.08268041139020870318e-12,
           1.37555460633261799868e-15, 8.36354435630677421531e-19,
           1.86958710162783235106e-22],
    "gd": [1.0, 1.47495759925128324529e0, 3.37748989120019970451e-1,
           2.53603741420338795122e-2, 8.14679107184306179049e-4,
           1.27545075667729118702e-5, 1.04314589657571990585e-7,
           4.60680728146520428211e-10, 1.10273215066240270757e-12,
           1.38796531259578871258e-15, 8.39158816283118707363e-19,
           1.86958710162783236342e-22],
}


@jit
def _sin_cos_half_pi_square(x: Any) -> tuple:
    """`(sin(pi x**2 / 2), cos(pi x**2 / 2))` with the argument reduced exactly: with
    `s = |x| mod 2`, `x**2 / 2 = s (|x| - s/2) (mod 2)`, then sin/cos of `pi r`, `r` in
    [0, 2), shifted to the quarter where the sine is accurate."""
    x = lnp.abs(x)
    s = lnp.fmod(x, 2.0)
    r = lnp.fmod(s * (x - s / 2), 2.0)
    sin = lnp.where(r < 0.5, lnp.sin(np.pi * r),
                    lnp.where(r > 1.5, lnp.sin(np.pi * (r - 2.0)),
                              -lnp.sin(np.pi * (r - 1.0))))
    cos = lnp.where(r == 0.5, 0.0,
                    lnp.where(r < 1.0, -lnp.sin(np.pi * (r - 0.5)),
                              lnp.sin(np.pi * (r - 1.5))))
    return sin, cos


def _fresnel_impl(x_in: Any) -> tuple:
    single = x_in.dtype != np.dtype(np.float64)
    x = lnp.abs(x_in)
    x2 = x * x
    t = x2 * x2
    sin, cos = _sin_cos_half_pi_square(x)
    if single:
        k = _F32
        s_small = x * x2 * _poly(k["sn"], t)
        c_small = x * _poly(k["cn"], t)
        s_large = c_large = 0.5
    else:
        k = _F64
        s_small = x * x2 * _poly(k["sn"], t) / _poly(k["sd"], t)
        c_small = x * _poly(k["cn"], t) / _poly(k["cd"], t)
        c_large = 0.5 + 1 / (np.pi * x) * sin
        s_large = 0.5 - 1 / (np.pi * x) * cos
    t = np.pi * x2
    u = 1.0 / (t * t)
    t = 1.0 / t
    if single:
        f = 1.0 - u * _poly(k["fn"], u)
        g = t * _poly(k["gn"], u)
    else:
        f = 1.0 - u * _poly(k["fn"], u) / _poly(k["fd"], u)
        g = t * _poly(k["gn"], u) / _poly(k["gd"], u)
    t = np.pi * x
    c_mid = 0.5 + (f * sin - g * cos) / t
    s_mid = 0.5 - (f * cos + g * sin) / t
    ranges = [lnp.isinf(x_in), x2 < 2.5625, x > 36974.0]
    s = lnp.select(ranges, [0.5, s_small, s_large], s_mid)
    c = lnp.select(ranges, [0.5, c_small, c_large], c_mid)
    negative = x_in < 0.0
    return lnp.where(negative, -s, s), lnp.where(negative, -c, c)


@custom_jvp
def _fresnel(x: Any) -> tuple:
    dtype = x.dtype
    if dtype != np.dtype(np.float64):
        x = x.astype(np.float32)  # half precision runs in float32, as jax
    s, c = _fresnel_impl(x)
    return s.astype(dtype), c.astype(dtype)


@_fresnel.defjvp
def _fresnel_jvp(primals: tuple, tangents: tuple) -> tuple:
    (x,), (x_dot,) = primals, tangents
    sin, cos = _sin_cos_half_pi_square(x)
    return _fresnel(x), (sin * x_dot, cos * x_dot)


def fresnel(x: Any) -> tuple:
    """The Fresnel integrals `(S(x), C(x))`, `S(x) = integral_0^x sin(pi t**2 / 2) dt`
    and `C(x) = integral_0^x cos(pi t**2 / 2) dt`, both odd and tending to 1/2.

    float32 uses Cephes' single-precision polynomials (and 1/2 beyond 36974), float64
    the double-precision rational functions; half precision is computed in float32.
    Accurate in [-10, 10] as Cephes. Derivatives `(sin(pi x**2/2), cos(pi x**2/2))`.

    Raises:
      NotImplementedError: for complex inputs, as jax.

    >>> import lamina.numpy as lnp
    >>> s, c = fresnel(lnp.array([0.5, 1., 3.]))
    >>> s
    Array([0.06473243, 0.43825915, 0.496313  ], dtype=float32)
    >>> c
    Array([0.49234423, 0.7798934 , 0.60572076], dtype=float32)
    """
    x, = promote_args_inexact("fresnel", x)
    if dtypes.is_complex(x.dtype):
        raise NotImplementedError("lamina.scipy.special.fresnel does not support "
                                  f"complex inputs, got {x.dtype}")
    return _fresnel(x)
