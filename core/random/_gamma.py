"""Rejection samplers: gamma (Marsaglia-Tsang) and what builds on it (loggamma, beta,
dirichlet, t, chisquare), poisson (Knuth / transformed rejection) and binomial
(inversion / BTRS), following jax.random's algorithms op for op.

Gamma draws each element with its own key from `split(key, size)` inside a vmapped
while loop, as jax does on every backend; batched lanes run until all accept, and each
lane's stream depends only on its key, so the samples match jax's.

The samples are differentiable with respect to `a` as in jax (implicit
reparameterisation): a `custom_jvp` around the sampler gives the tangent
`a_dot * lax.random_gamma_grad(a, sample)` (divided by the sample, with an underflowed
sample raised to the smallest normal, in log space), so beta, dirichlet, t and
chisquare are differentiable in their parameters too. The key gets no tangent.
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from lamina import dtypes
from lamina import lax
from lamina import numpy as lnp
from lamina._api_batching import vmap
from lamina._api_jit import jit
from lamina.custom_derivatives import custom_jvp
from lamina.random._distributions import (
    _check_arraylike,
    _exponential,
    _normal_real,
    _shape_of,
    _uniform,
    broadcast_shapes,
    check_shape,
    float_dtype,
    int_dtype,
)
from lamina.random._keys import _split_data, canonical_shape, check_key

__all__ = ["gamma", "loggamma", "beta", "dirichlet", "t", "chisquare", "poisson", "binomial"]


def _c(v: Any, dtype: np.dtype) -> np.ndarray:
    return np.array(v, dtype)


def _gamma_one(key: Any, alpha: Any, log_space: bool) -> Any:
    dtype = np.dtype(alpha.dtype)
    zero, one, minus_one = _c(0, dtype), _c(1, dtype), _c(-1, dtype)
    half, third, squeeze = _c(0.5, dtype), _c(1.0 / 3.0, dtype), _c(0.0331, dtype)
    boost_mask = lax.ge(alpha, one)
    alpha_orig = alpha
    # NOTE: alpha < 1 samples Gamma(alpha + 1) and boosts it by U**(1/alpha).
    alpha = lax.select(boost_mask, alpha, lax.add(alpha, one))
    d = lax.sub(alpha, third)
    c = lax.div(third, lax.sqrt(d))

    def cond_fn(state: Any) -> Any:
        _, X, V, U = state
        return lax.bitwise_and(
            lax.ge(U, lax.sub(one, lax.mul(squeeze, lax.mul(X, X)))),
            lax.ge(lax.log(U), lax.add(lax.mul(X, half),
                                       lax.mul(d, lax.add(lax.sub(one, V), lax.log(V))))))

    def body_fn(state: Any) -> Any:
        def next_xv(kxv: Any) -> Any:
            k, sub = _pair(kxv[0])
            x = _normal_real(sub, (), dtype)
            return k, x, lax.add(one, lax.mul(x, c))

        keys = _split_data(state[0], (3,))
        k, x_key, u_key = keys[0], keys[1], keys[2]
        _, x, v = lax.while_loop(lambda kxv: lax.le(kxv[2], zero), next_xv,
                                 (x_key, lnp.broadcast_to(zero, ()), lnp.broadcast_to(minus_one, ())))
        X = lax.mul(x, x)
        V = lax.mul(lax.mul(v, v), v)
        U = _uniform(u_key, 0., 1., (), dtype)
        return k, X, V, U

    key, sub = _pair(key)
    init = (key, lnp.broadcast_to(zero, ()), lnp.broadcast_to(one, ()),
            lnp.broadcast_to(_c(2, dtype), ()))
    _, _, V, _ = lax.while_loop(cond_fn, body_fn, init)
    if log_space:
        log_samples = lax.neg(_exponential(sub, (), dtype))
        log_boost = lax.select(lax.bitwise_or(boost_mask, lax.eq(log_samples, zero)), zero,
                               lax.mul(log_samples, lax.div(one, alpha_orig)))
        return lax.add(lax.add(lax.log(d), lax.log(V)), log_boost)
    samples = 1 - _uniform(sub, 0., 1., (), dtype)
    boost = lax.select(boost_mask, one, lax.pow(samples, lax.div(one, alpha_orig)))
    return lax.mul(lax.mul(d, V), boost)


def _pair(key: Any) -> tuple[Any, Any]:
    keys = _split_data(key, (2,))
    return keys[0], keys[1]


def _gamma_samples(key: Any, a: Any, log_space: bool) -> Any:
    """One sample per element of `a` (non-empty), each with its own key."""
    shape = _shape_of(a)
    n = math.prod(shape)
    keys = _split_data(key, (n,))
    samples = vmap(lambda k, x: _gamma_one(k, x, log_space))(keys, lnp.reshape(a, (n,)))
    return lnp.reshape(samples, shape)


_gamma_samples = custom_jvp(_gamma_samples, nondiff_argnums=(2,))


@_gamma_samples.defjvp
def _gamma_samples_jvp(log_space: bool, primals: Any, tangents: Any) -> Any:
    key, a = primals
    a_dot = tangents[1]
    samples = _gamma_samples(key, a, log_space)
    return samples, lax.mul(a_dot, _gamma_grad(samples, a, log_space))


def _gamma_grad(samples: Any, a: Any, log_space: bool) -> Any:
    """d(sample)/da, elementwise (jax's `_gamma_grad`)."""
    if not log_space:
        return lax.random_gamma_grad(a, samples)
    # NOTE: d log(s) = ds / s; exp of a log sample may round to 0, then the smallest
    # normal number stands in for it.
    s = lax.exp(samples)
    tiny = np.array(dtypes.finfo(s.dtype).tiny, s.dtype)
    s = lax.select(lax.eq(s, _c(0, s.dtype)), lnp.broadcast_to(tiny, s.shape), s)
    return lax.div(lax.random_gamma_grad(a, s), s)


@jit(static_argnames=("shape", "dtype", "log_space"))
def _gamma(key: Any, a: Any, shape: tuple[int, ...], dtype: np.dtype, log_space: bool) -> Any:
    a = lnp.broadcast_to(lax.convert_element_type(a, dtype), shape)
    if math.prod(shape) == 0:
        return lnp.zeros(shape, dtype)
    return _gamma_samples(key, a, log_space)


def _gamma_args(name: str, key: Any, a: Any, shape: Any, dtype: Any) -> tuple[Any, ...]:
    data, _ = check_key(name, key)
    dtype = float_dtype(name, dtype)
    _check_arraylike(name, "a", a)
    if shape is None:
        shape = _shape_of(a)
    else:
        shape = canonical_shape(name, shape)
        check_shape(name, shape, _shape_of(a))
    return data, shape, dtype


def gamma(key: Any, a: Any, shape: Sequence[int] | None = None, dtype: Any = None) -> Any:
    """Gamma(a, 1) samples (Marsaglia-Tsang rejection, one key per element).

    >>> import lamina
    >>> x = lamina.random.gamma(lamina.random.PRNGKey(0), 2.0, (2000,))
    >>> 1.8 < float(x.mean()) < 2.2
    True
    """
    data, shape, dtype = _gamma_args("gamma", key, a, shape, dtype)
    return _gamma(data, a, shape, dtype, False)


def loggamma(key: Any, a: Any, shape: Sequence[int] | None = None, dtype: Any = None) -> Any:
    """log of Gamma(a, 1) samples, accurate for small `a` where gamma underflows.

    >>> import lamina
    >>> lamina.random.loggamma(lamina.random.PRNGKey(0), 0.01, (3,)).shape
    (3,)
    """
    data, shape, dtype = _gamma_args("loggamma", key, a, shape, dtype)
    return _gamma(data, a, shape, dtype, True)


@jit(static_argnames=("shape", "dtype"))
def _beta(key: Any, a: Any, b: Any, shape: tuple[int, ...], dtype: np.dtype) -> Any:
    ka, kb = _pair(key)
    a = lnp.broadcast_to(lax.convert_element_type(a, dtype), shape)
    b = lnp.broadcast_to(lax.convert_element_type(b, dtype), shape)
    lga = _gamma(ka, a, shape, dtype, True)
    lgb = _gamma(kb, b, shape, dtype, True)
    log_max = lax.max(lga, lgb)
    ga, gb = lnp.exp(lga - log_max), lnp.exp(lgb - log_max)
    return ga / (ga + gb)


def beta(key: Any, a: Any, b: Any, shape: Sequence[int] | None = None, dtype: Any = None) -> Any:
    """Beta(a, b) samples, from two log-gamma draws.

    >>> import lamina
    >>> x = lamina.random.beta(lamina.random.PRNGKey(0), 2.0, 2.0, (5,))
    >>> bool(((x > 0) & (x < 1)).all())
    True
    """
    data, _ = check_key("beta", key)
    dtype = float_dtype("beta", dtype)
    _check_arraylike("beta", "a", a)
    _check_arraylike("beta", "b", b)
    if shape is None:
        shape = broadcast_shapes("beta", _shape_of(a), _shape_of(b))
    else:
        shape = canonical_shape("beta", shape)
        check_shape("beta", shape, _shape_of(a), _shape_of(b))
    return _beta(data, a, b, shape, dtype)


@jit(static_argnames=("shape", "dtype"))
def _dirichlet(key: Any, alpha: Any, shape: tuple[int, ...], dtype: np.dtype) -> Any:
    alpha = lax.convert_element_type(alpha, dtype)
    full = (*shape, _shape_of(alpha)[-1])
    lg = _gamma(key, lnp.broadcast_to(alpha, full), full, dtype, True)
    # softmax over the last axis, as jax.nn.softmax computes it
    unnormalized = lnp.exp(lg - lnp.max(lg, -1, keepdims=True))
    return unnormalized / lnp.sum(unnormalized, -1, keepdims=True)


def dirichlet(key: Any, alpha: Any, shape: Sequence[int] | None = None,
              dtype: Any = None) -> Any:
    """Dirichlet(alpha) samples over alpha's last axis.

    >>> import lamina
    >>> x = lamina.random.dirichlet(lamina.random.PRNGKey(0), lamina.numpy.ones(3), (2,))
    >>> x.shape
    (2, 3)
    """
    data, _ = check_key("dirichlet", key)
    dtype = float_dtype("dirichlet", dtype)
    _check_arraylike("dirichlet", "alpha", alpha)
    ashape = _shape_of(alpha)
    if len(ashape) < 1:
        raise ValueError(f"dirichlet: alpha must have ndim >= 1, got shape {ashape}")
    if shape is None:
        shape = ashape[:-1]
    else:
        shape = canonical_shape("dirichlet", shape)
        check_shape("dirichlet", shape, ashape[:-1])
    return _dirichlet(data, alpha, shape, dtype)


@jit(static_argnames=("shape", "dtype"))
def _t(key: Any, df: Any, shape: tuple[int, ...], dtype: np.dtype) -> Any:
    df = lax.convert_element_type(df, dtype)
    kn, kg = _pair(key)
    n = _normal_real(kn, shape, dtype)
    half_df = lnp.broadcast_to(lax.div(df, _c(2, dtype)), shape)
    g = _gamma(kg, half_df, shape, dtype, False)
    return n * lnp.sqrt(half_df / g)


def _df_args(name: str, key: Any, df: Any, shape: Any, dtype: Any) -> tuple[Any, ...]:
    data, _ = check_key(name, key)
    dtype = float_dtype(name, dtype)
    _check_arraylike(name, "df", df)
    if shape is None:
        shape = _shape_of(df)
    else:
        shape = canonical_shape(name, shape)
        check_shape(name, shape, _shape_of(df))
    return data, shape, dtype


def t(key: Any, df: Any, shape: Sequence[int] | None = None, dtype: Any = None) -> Any:
    """Student's t samples with `df` degrees of freedom.

    >>> import lamina
    >>> lamina.random.t(lamina.random.PRNGKey(0), 5.0, (3,)).shape
    (3,)
    """
    data, shape, dtype = _df_args("t", key, df, shape, dtype)
    return _t(data, df, shape, dtype)


@jit(static_argnames=("shape", "dtype"))
def _chisquare(key: Any, df: Any, shape: tuple[int, ...], dtype: np.dtype) -> Any:
    half_df = lnp.broadcast_to(lax.div(lax.convert_element_type(df, dtype), _c(2, dtype)), shape)
    return lax.mul(lnp.exp(_gamma(key, half_df, shape, dtype, True)), _c(2, dtype))


def chisquare(key: Any, df: Any, shape: Sequence[int] | None = None, dtype: Any = None) -> Any:
    """Chi-square samples with `df` degrees of freedom.

    >>> import lamina
    >>> lamina.random.chisquare(lamina.random.PRNGKey(0), 3.0, (3,)).shape
    (3,)
    """
    data, shape, dtype = _df_args("chisquare", key, df, shape, dtype)
    return _chisquare(data, df, shape, dtype)


# --------------------------------------------------------------------------------------
# poisson
# --------------------------------------------------------------------------------------


def _poisson_knuth(key: Any, lam: Any, shape: tuple[int, ...], dtype: np.dtype,
                   max_iters: Any) -> Any:
    def body_fn(carry: Any) -> Any:
        i, k, rng, log_prod = carry
        rng, sub = _pair(rng)
        k = lax.select(log_prod > -lam, k + 1, k)
        u = _uniform(sub, 0., 1., shape, np.dtype(np.float32))
        return i + 1, k, rng, log_prod + lnp.log(u)

    def cond_fn(carry: Any) -> Any:
        return lnp.any(carry[3] > -lam) & (carry[0] < max_iters)

    init = (lnp.asarray(0, dtype=max_iters.dtype), lnp.zeros(shape, dtype), key,
            lnp.zeros(shape, np.float32))
    k = lax.while_loop(cond_fn, body_fn, init)[1]
    return (k - 1).astype(dtype)


def _poisson_rejection(key: Any, lam: Any, shape: tuple[int, ...], dtype: np.dtype,
                       max_iters: Any) -> Any:
    log_lam = lax.log(lam)
    b = 0.931 + 2.53 * lax.sqrt(lam)
    a = -0.059 + 0.02483 * b
    inv_alpha = 1.1239 + 1.1328 / (b - 3.4)
    v_r = 0.9277 - 3.6224 / (b - 2)

    def body_fn(carry: Any) -> Any:
        i, k_out, accepted, key = carry
        keys = _split_data(key, (3,))
        key, k0, k1 = keys[0], keys[1], keys[2]
        u = _uniform(k0, 0., 1., shape, lam.dtype) - 0.5
        v = _uniform(k1, 0., 1., shape, lam.dtype)
        u_shifted = 0.5 - abs(u)
        k = lax.floor((2 * a / u_shifted + b) * u + lam + 0.43)
        s = lax.log(v * inv_alpha / (a / (u_shifted * u_shifted) + b))
        t_ = -lam + k * log_lam - lax.lgamma(k + 1)
        accept1 = (u_shifted >= 0.07) & (v <= v_r)
        reject = (k < 0) | ((u_shifted < 0.013) & (v > u_shifted))
        accept = accept1 | (~reject & (s <= t_))
        return i + 1, lax.select(accept, k, k_out), accepted | accept, key

    def cond_fn(carry: Any) -> Any:
        return lnp.any(~carry[2]) & (carry[0] < max_iters)

    init = (lnp.asarray(0, dtype=max_iters.dtype), lnp.full(shape, -1, lam.dtype),
            lnp.full(shape, False), key)
    return lax.while_loop(cond_fn, body_fn, init)[1].astype(dtype)


@jit(static_argnames=("shape", "dtype"))
def _poisson(key: Any, lam: Any, shape: tuple[int, ...], dtype: np.dtype) -> Any:
    use_knuth = (lam != lam) | (lam < 10)
    lam_knuth = lax.select(use_knuth, lam, lax.full_like(lam, 0.0))
    lam_rej = lax.select(use_knuth, lax.full_like(lam, 100000.0), lam)
    max_iters = np.array(np.iinfo(dtype).max, dtype)
    result = lax.select(use_knuth, _poisson_knuth(key, lam_knuth, shape, dtype, max_iters),
                        _poisson_rejection(key, lam_rej, shape, dtype, max_iters))
    return lax.select(lam == 0, lnp.zeros_like(result), result)


def poisson(key: Any, lam: Any, shape: Sequence[int] | None = None, dtype: Any = None) -> Any:
    """Poisson(lam) samples (integers): Knuth's method for lam < 10, else transformed
    rejection (Hormann 1993).

    >>> import lamina
    >>> x = lamina.random.poisson(lamina.random.PRNGKey(0), 3.0, (2000,))
    >>> 2.8 < float(x.mean()) < 3.2
    True
    """
    data, _ = check_key("poisson", key)
    dtype = int_dtype("poisson", dtype)
    _check_arraylike("poisson", "lam", lam)
    if shape is None:
        shape = _shape_of(lam)
    else:
        shape = canonical_shape("poisson", shape)
        check_shape("poisson", shape, _shape_of(lam))
    lam = lax.convert_element_type(lnp.broadcast_to(lam, shape), np.float32)
    return _poisson(data, lam, shape, dtype)


# --------------------------------------------------------------------------------------
# binomial
# --------------------------------------------------------------------------------------

_STIRLING_TAIL = (0.0810614667953272, 0.0413406959554092, 0.0276779256849983,
                  0.02079067210376509, 0.0166446911898211, 0.0138761288230707,
                  0.0118967099458917, 0.010411265261972, 0.00925546218271273,
                  0.00833056343336287)


def _stirling_approx_tail(k: Any) -> Any:
    table = np.array(_STIRLING_TAIL, k.dtype)
    use_table = k <= 9
    k = lax.clamp(np.array(0.0, k.dtype), k, np.array(9.0, k.dtype))
    kp1sq = (k + 1) * (k + 1)
    approx = (1.0 / 12 - (1.0 / 360 - 1.0 / 1260 / kp1sq) / kp1sq) / (k + 1)
    idx = lnp.floor(k).astype("int32")
    return lax.select(use_table, lnp.take(lnp.asarray(table), idx), approx)


def _binomial_inversion(key: Any, count: Any, prob: Any, shape: tuple[int, ...],
                        dtype: np.dtype, max_iters: Any) -> Any:
    log1mp = lnp.log1p(-prob)

    def body_fn(carry: Any) -> Any:
        i, num_geom, geom_sum, key = carry
        sub, key = _pair(key)
        num_geom_out = lax.select(geom_sum <= count, num_geom + 1, num_geom)
        u = _uniform(sub, 0., 1., shape, prob.dtype)
        geom = lnp.ceil(lnp.log(u) / log1mp)
        return i + 1, num_geom_out, geom_sum + geom, key

    def cond_fn(carry: Any) -> Any:
        return lnp.any(carry[2] <= count) & (carry[0] < max_iters)

    init = (lnp.asarray(0, dtype=np.int32), lnp.zeros(shape, prob.dtype),
            lnp.zeros(shape, prob.dtype), key)
    k = lax.while_loop(cond_fn, body_fn, init)[1]
    return (k - 1).astype(dtype)


def _btrs(key: Any, count: Any, prob: Any, shape: tuple[int, ...], dtype: np.dtype,
          max_iters: Any) -> Any:
    stddev = lnp.sqrt(count * prob * (1 - prob))
    b = 1.15 + 2.53 * stddev
    a = -0.0873 + 0.0248 * b + 0.01 * prob
    c = count * prob + 0.5
    v_r = 0.92 - 4.2 / b
    r = prob / (1 - prob)
    alpha = (2.83 + 5.1 / b) * stddev
    m = lnp.floor((count + 1) * prob)

    def body_fn(carry: Any) -> Any:
        i, k_out, accepted, key = carry
        keys = _split_data(key, (3,))
        key, k0, k1 = keys[0], keys[1], keys[2]
        u = _uniform(k0, 0., 1., shape, prob.dtype)
        v = _uniform(k1, 0., 1., shape, prob.dtype)
        u = u - 0.5
        us = 0.5 - lnp.abs(u)
        accept1 = (us >= 0.07) & (v <= v_r)
        k = lnp.floor((2 * a / us + b) * u + c)
        reject = (k < 0) | (k > count)
        v = lnp.log(v * alpha / (a / (us * us) + b))
        ub = ((m + 0.5) * lnp.log((m + 1) / (r * (count - m + 1)))
              + (count + 1) * lnp.log((count - m + 1) / (count - k + 1))
              + (k + 0.5) * lnp.log(r * (count - k + 1) / (k + 1))
              + _stirling_approx_tail(m) + _stirling_approx_tail(count - m)
              - _stirling_approx_tail(k) - _stirling_approx_tail(count - k))
        accept = accept1 | (~reject & (v <= ub))
        return i + 1, lax.select(accept, k, k_out), accepted | accept, key

    def cond_fn(carry: Any) -> Any:
        return lnp.any(~carry[2]) & (carry[0] < max_iters)

    init = (lnp.asarray(0, dtype=np.int32), lnp.full(shape, -1, prob.dtype),
            lnp.full(shape, False), key)
    return lax.while_loop(cond_fn, body_fn, init)[1].astype(dtype)


@jit(static_argnames=("shape", "dtype"))
def _binomial(key: Any, count: Any, prob: Any, shape: tuple[int, ...], dtype: np.dtype) -> Any:
    pdt = dtypes.to_inexact_dtype(_dtype(prob))
    prob = lnp.broadcast_to(prob.astype(pdt), shape)
    count = lnp.broadcast_to(lax.convert_element_type(count, pdt), shape)
    p_lt_half = prob < 0.5
    q = lax.select(p_lt_half, prob, 1.0 - prob)
    count_nan_or_neg = (count != count) | (count < 0.0)
    count_inf = lnp.isinf(count)
    q_is_nan = q != q
    q_l_0 = q < 0.0
    q = lax.select(q_is_nan | q_l_0, lax.full_like(q, 0.01), q)
    use_inversion = count_nan_or_neg | (count * q <= 10.0)
    count = lnp.floor(count)
    count_inv = lax.select(use_inversion, count, lax.full_like(count, 0.0))
    count_btrs = lax.select(use_inversion, lax.full_like(count, 10000.0), count)
    q_btrs = lax.select(use_inversion, lax.full_like(q, 0.5), q)
    # NOTE: jax passes finfo(dtype).max as the iteration cap; compared with an int32
    # counter it never binds.
    max_iters = np.iinfo(np.int32).max
    samples = lax.select(use_inversion,
                         _binomial_inversion(key, count_inv, q, shape, dtype, max_iters),
                         _btrs(key, count_btrs, q_btrs, shape, dtype, max_iters))
    invalid = q_l_0 | q_is_nan | count_nan_or_neg
    samples = lax.select(invalid, lnp.full_like(samples, np.nan, dtype), samples)
    samples = lax.select(count_inf & ~invalid, lnp.full_like(samples, np.inf, dtype), samples)
    return lax.select(p_lt_half | count_nan_or_neg | q_is_nan | count_inf, samples,
                      count.astype(dtype) - samples)


def _dtype(x: Any) -> np.dtype:
    return np.dtype(x.dtype)


def binomial(key: Any, n: Any, p: Any, shape: Sequence[int] | None = None,
             dtype: Any = None) -> Any:
    """Binomial(n, p) samples (as floats): inversion for small n*p, else BTRS
    (Hormann 1993).

    >>> import lamina
    >>> x = lamina.random.binomial(lamina.random.PRNGKey(0), 20.0, 0.3, (2000,))
    >>> 5.7 < float(x.mean()) < 6.3
    True
    """
    data, _ = check_key("binomial", key)
    _check_arraylike("binomial", "n", n)
    _check_arraylike("binomial", "p", p)
    dtype = float_dtype("binomial", dtype)
    if shape is None:
        shape = broadcast_shapes("binomial", _shape_of(n), _shape_of(p))
    else:
        shape = canonical_shape("binomial", shape)
        check_shape("binomial", shape, _shape_of(n), _shape_of(p))
    return _binomial(data, lnp.asarray(n), lnp.asarray(p), shape, dtype)
