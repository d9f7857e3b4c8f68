"""Samplers built on uniform bits: each follows jax.random's algorithm op for op, so the
same key, shape and dtype give the same bits as jax (XLA compiles the same arithmetic,
FMA contraction included).

Public functions validate their arguments and canonicalise shape and dtype, then call a
`_name` helper jitted on the static shape/dtype (as jax does), so an eager call runs
one cached executable and the helpers compose inside user programs under jit/vmap.
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from lamina import dtypes
from lamina import lax
from lamina import numpy as lnp
from lamina._api_jit import jit
from lamina.backend.array import Array
from lamina.ir import Tracer, shaped_abstractify
from lamina.random._keys import (
    _UINT_DTYPES,
    _split_data,
    canonical_shape,
    check_key,
    random_bits,
)

__all__ = ["uniform", "normal", "truncated_normal", "bernoulli", "randint", "categorical",
           "gumbel", "permutation", "choice", "exponential", "laplace", "logistic",
           "cauchy", "rademacher", "multivariate_normal", "orthogonal"]


# --------------------------------------------------------------------------------------
# Argument checks
# --------------------------------------------------------------------------------------


def _dtype_of(x: Any) -> np.dtype:
    if isinstance(x, (Array, Tracer)):
        return shaped_abstractify(x).dtype
    return dtypes.dtype_of(x)


def _shape_of(x: Any) -> tuple[int, ...]:
    if isinstance(x, (Array, Tracer)):
        return shaped_abstractify(x).shape
    return np.shape(x)


def float_dtype(name: str, dtype: Any, *, allow_complex: bool = False) -> np.dtype:
    """The canonical float dtype for `dtype` (None: the default float), or a ValueError."""
    if dtype is None:
        return dtypes.default_float_dtype()
    dt = dtypes.check_user_dtype_supported(dtype, name)
    ok = dtypes.is_floating(dt) or (allow_complex and dtypes.is_complex(dt))
    if not ok:
        kind = "a float or complex" if allow_complex else "a float"
        raise ValueError(f"{name}: dtype must be {kind} dtype, got {np.dtype(dt).name}")
    return np.dtype(dt)


def int_dtype(name: str, dtype: Any) -> np.dtype:
    if dtype is None:
        return dtypes.default_int_dtype()
    dt = dtypes.check_user_dtype_supported(dtype, name)
    if not dtypes.is_integer(dt):
        raise TypeError(f"{name}: dtype must be an integer dtype, got {np.dtype(dt).name}")
    return np.dtype(dt)


def broadcast_shapes(name: str, *shapes: tuple[int, ...]) -> tuple[int, ...]:
    try:
        return tuple(np.broadcast_shapes(*shapes))
    except ValueError:
        raise ValueError(f"{name}: parameter shapes {shapes} are not broadcast-compatible"
                         ) from None


def check_shape(name: str, shape: tuple[int, ...], *param_shapes: tuple[int, ...]) -> None:
    """jax's rule: the parameters must broadcast to exactly `shape`."""
    if not param_shapes:
        return
    try:
        out = tuple(np.broadcast_shapes(shape, *param_shapes))
    except ValueError:
        out = None
    if out != tuple(shape):
        raise ValueError(f"{name}: parameter shapes {param_shapes} must be broadcast-"
                         f"compatible with the shape argument {shape}, and broadcasting "
                         f"them must give exactly that shape (got {out})")


def _check_arraylike(name: str, arg: str, x: Any) -> None:
    if not (isinstance(x, (Array, Tracer, np.ndarray, np.generic))
            or dtypes.is_python_scalar(x)):
        raise TypeError(f"{name}: {arg} must be an array or a scalar, got "
                        f"{type(x).__name__}: {x!r}")


def _concrete_bounds_check(name: str, lo: Any, hi: Any, lo_name: str, hi_name: str,
                           strict: bool = False) -> None:
    """A ValueError when concrete bounds are reversed (traced ones cannot be checked)."""
    if isinstance(lo, Tracer) or isinstance(hi, Tracer):
        return
    try:
        lo_np, hi_np = np.asarray(lo), np.asarray(hi)
    except Exception:  # noqa: BLE001  (device arrays that cannot come back: skip)
        return
    bad = (lo_np > hi_np) if not strict else (lo_np >= hi_np)
    if np.any(bad):
        raise ValueError(f"{name}: {lo_name} must be <= {hi_name}, got {lo_name}={lo!r} and "
                         f"{hi_name}={hi!r}")


# --------------------------------------------------------------------------------------
# uniform and normal
# --------------------------------------------------------------------------------------


def _is_concrete(x: Any) -> bool:
    return not isinstance(x, (Array, Tracer))


def _cast(x: Any, dtype: np.dtype, shape: tuple[int, ...]) -> Any:
    """`x` in `dtype`, broadcast to `shape` (a host scalar stays 0-d: lax broadcasts it).
    Host values stay numpy, so that lax ops embed them as HLO constants exactly as jax
    does (XLA then folds and fuses the same arithmetic; a device array would become a
    program argument and round differently). NOTE: a scalar broadcast on the host to a
    shape over the IR's inline limit became a program argument of the sampler's full
    size, sent from the host at every call."""
    if _is_concrete(x):
        host = np.asarray(x).astype(dtype)
        return host if host.ndim == 0 else np.broadcast_to(host, shape)
    return lnp.broadcast_to(lax.convert_element_type(x, dtype), shape)


def _uniform(key: Any, minval: Any, maxval: Any, shape: tuple[int, ...],
             dtype: np.dtype) -> Any:
    finfo = dtypes.finfo(dtype)
    nbits, nmant = finfo.bits, finfo.nmant
    # NOTE: types with fewer than 8 mantissa bits (bfloat16) draw 8 bits and widen them.
    rng_bits = 8 if nmant < 8 else nbits
    uint = _UINT_DTYPES[nbits]
    bits = random_bits(key, rng_bits, shape)
    if rng_bits != nbits:
        bits = lax.convert_element_type(bits, uint)
    # Random mantissa under the exponent of 1.0 gives [1, 2); subtract 1.
    fbits = lax.shift_right_logical(bits, np.array(rng_bits - nmant, uint))
    fbits = lax.bitwise_or(fbits, np.array(1.0, dtype).view(uint))
    floats = lax.sub(lax.bitcast_convert_type(fbits, dtype), np.array(1.0, dtype))
    lo, hi = _cast(minval, dtype, shape), _cast(maxval, dtype, shape)
    span = (hi - lo) if _is_concrete(lo) and _is_concrete(hi) else lax.sub(hi, lo)
    return lax.max(lo, lax.add(lax.mul(floats, span), lo))


_uniform_jit = jit(_uniform, static_argnames=("shape", "dtype"))


def uniform(key: Any, shape: Sequence[int] = (), dtype: Any = None, minval: Any = 0.,
            maxval: Any = 1.) -> Any:
    """Uniform samples in `[minval, maxval)`.

    Args:
        key: a single PRNG key.
        shape: the result shape; minval/maxval must broadcast to it.
        dtype: a float dtype (default float32, float64 with x64).
        minval, maxval: the range bounds (scalars or arrays).

    >>> import lamina
    >>> lamina.random.uniform(lamina.random.PRNGKey(0), (3,))
    Array([0.947667  , 0.9785799 , 0.33229148], dtype=float32)
    """
    data, _ = check_key("uniform", key)
    shape = canonical_shape("uniform", shape)
    dtype = float_dtype("uniform", dtype)
    _check_arraylike("uniform", "minval", minval)
    _check_arraylike("uniform", "maxval", maxval)
    check_shape("uniform", shape, _shape_of(minval), _shape_of(maxval))
    # NOTE: jax silently returns minval here; an explicit error is kinder (concrete
    # bounds only: traced ones cannot be checked).
    _concrete_bounds_check("uniform", minval, maxval, "minval", "maxval")
    return _uniform_jit(data, minval, maxval, shape, dtype)


def _normal_real(key: Any, shape: tuple[int, ...], dtype: np.dtype) -> Any:
    lo = np.nextafter(np.array(-1., dtype), np.array(0., dtype), dtype=dtype)
    u = _uniform(key, lo, np.array(1., dtype), shape, dtype)
    return lax.mul(np.array(np.sqrt(2), dtype), lax.erf_inv(u))


@jit(static_argnames=("shape", "dtype"))
def _normal(key: Any, shape: tuple[int, ...], dtype: np.dtype) -> Any:
    if dtypes.is_complex(dtype):
        real = dtypes.real_dtype(dtype)
        k_re, k_im = _split2(key)
        re = _normal_real(k_re, shape, real).astype(dtype)
        im = _normal_real(k_im, shape, real).astype(dtype)
        return lax.div(re + 1j * im, np.array(np.sqrt(2), dtype))
    return _normal_real(key, shape, dtype)


def _split2(key: Any, n: int = 2) -> list[Any]:
    keys = _split_data(key, (n,))
    return [keys[i] for i in range(n)]


def normal(key: Any, shape: Sequence[int] = (), dtype: Any = None) -> Any:
    """Standard normal samples, `sqrt(2) * erfinv(u)` for u uniform in (-1, 1).

    >>> import lamina
    >>> lamina.random.normal(lamina.random.PRNGKey(0), (3,))
    Array([ 1.6226422 ,  2.0252647 , -0.43359444], dtype=float32)
    """
    data, _ = check_key("normal", key)
    shape = canonical_shape("normal", shape)
    dtype = float_dtype("normal", dtype, allow_complex=True)
    return _normal(data, shape, dtype)


@jit(static_argnames=("shape", "dtype"))
def _truncated_normal(key: Any, lower: Any, upper: Any, shape: Any, dtype: np.dtype) -> Any:
    if shape is None:
        shape = broadcast_shapes("truncated_normal", _shape_of(lower), _shape_of(upper))
    sqrt2 = np.array(np.sqrt(2), dtype)
    lower = lax.convert_element_type(lower, dtype)
    upper = lax.convert_element_type(upper, dtype)
    a = lax.erf(lax.div(lower, sqrt2))
    b = lax.erf(lax.div(upper, sqrt2))
    u = _uniform(key, a, b, shape, dtype)
    out = lax.mul(sqrt2, lax.erf_inv(u))
    lo = lax.nextafter(lax.stop_gradient(lower), np.array(np.inf, dtype))
    hi = lax.nextafter(lax.stop_gradient(upper), np.array(-np.inf, dtype))
    return lnp.clip(out, lo, hi)


def truncated_normal(key: Any, lower: Any, upper: Any, shape: Sequence[int] | None = None,
                     dtype: Any = None) -> Any:
    """Standard normal samples truncated to `(lower, upper)`.

    >>> import lamina
    >>> x = lamina.random.truncated_normal(lamina.random.PRNGKey(0), -2., 2., (1000,))
    >>> bool((abs(x) < 2).all())
    True
    """
    data, _ = check_key("truncated_normal", key)
    dtype = float_dtype("truncated_normal", dtype)
    _check_arraylike("truncated_normal", "lower", lower)
    _check_arraylike("truncated_normal", "upper", upper)
    _concrete_bounds_check("truncated_normal", lower, upper, "lower", "upper")
    if shape is not None:
        shape = canonical_shape("truncated_normal", shape)
        check_shape("truncated_normal", shape, _shape_of(lower), _shape_of(upper))
    return _truncated_normal(data, lower, upper, shape, dtype)


# --------------------------------------------------------------------------------------
# Discrete: bernoulli, randint, rademacher
# --------------------------------------------------------------------------------------


@jit(static_argnames=("shape", "mode"))
def _bernoulli(key: Any, p: Any, shape: Any, mode: str) -> Any:
    if shape is None:
        shape = _shape_of(p)
    dtype = _dtype_of(p)
    if mode == "high":
        u = _uniform(key, 0., 1., (2, *shape), dtype)
        u1, u2 = u[0], u[1]
        u2 = u2 * (2 ** -dtypes.finfo(dtype).nmant)
        return u2 < p - u1
    return lnp.less(_uniform(key, 0., 1., shape, dtype), p)


def bernoulli(key: Any, p: Any = 0.5, shape: Sequence[int] | None = None,
              mode: str = "low") -> Any:
    """Bernoulli samples (booleans), True with probability `p`.

    >>> import lamina
    >>> lamina.random.bernoulli(lamina.random.PRNGKey(0), 0.5, (4,))
    Array([False, False,  True,  True], dtype=bool)
    """
    if mode not in ("high", "low"):
        raise ValueError(f"bernoulli: got mode={mode!r}, expected 'high' or 'low'")
    data, _ = check_key("bernoulli", key)
    _check_arraylike("bernoulli", "p", p)
    dtype = _dtype_of(p)
    if not dtypes.is_floating(dtype):
        raise TypeError(f"bernoulli: probability p must have a floating dtype, got "
                        f"{np.dtype(dtype).name}")
    if not isinstance(p, Tracer):
        p_np = np.asarray(p, dtype=np.float64) if not isinstance(p, Array) else np.asarray(p)
        if np.any((p_np < 0) | (p_np > 1)):
            raise ValueError(f"bernoulli: probability p must be in [0, 1], got p={p!r}")
    p = lax.convert_element_type(p, dtype)
    if shape is not None:
        shape = canonical_shape("bernoulli", shape)
        check_shape("bernoulli", shape, _shape_of(p))
    return _bernoulli(data, p, shape, mode)


def _convert_and_clip_integer(val: Any, dtype: np.dtype) -> Any:
    vdt = _dtype_of(val)
    lo = max(int(np.iinfo(dtype).min), int(np.iinfo(vdt).min))
    hi = min(int(np.iinfo(dtype).max), int(np.iinfo(vdt).max))
    return lnp.clip(val, lnp.asarray(np.array(lo, vdt)), lnp.asarray(np.array(hi, vdt))
                    ).astype(dtype)


@jit(static_argnames=("shape", "dtype"))
def _randint(key: Any, minval: Any, maxval: Any, shape: tuple[int, ...],
             dtype: np.dtype) -> Any:
    minval = lnp.asarray(minval)
    maxval = lnp.asarray(maxval)
    if not dtypes.is_integer(_dtype_of(minval)):
        minval = minval.astype(int)
    if not dtypes.is_integer(_dtype_of(maxval)):
        maxval = maxval.astype(int)
    top = _convert_and_clip_integer(lnp.asarray(np.array(np.iinfo(dtype).max, dtype)),
                                    _dtype_of(maxval))
    maxval_out_of_range = lax.gt(maxval, top)
    minval = lnp.broadcast_to(_convert_and_clip_integer(minval, dtype), shape)
    maxval = lnp.broadcast_to(_convert_and_clip_integer(maxval, dtype), shape)
    maxval_out_of_range = lnp.broadcast_to(maxval_out_of_range, shape)
    nbits = np.iinfo(dtype).bits
    k1, k2 = _split2(key)
    higher, lower = random_bits(k1, nbits, shape), random_bits(k2, nbits, shape)
    udt = _UINT_DTYPES[nbits]
    span = lax.convert_element_type(lax.sub(maxval, minval), udt)
    one = lax.full_like(span, 1)
    # NOTE: span 1 when maxval <= minval (minval is returned); one larger when maxval
    # is past the dtype's range (wrapping to 0 at the top, which disables the modulus).
    span = lax.select(lax.le(maxval, minval), one, span)
    span = lax.select(lax.bitwise_and(maxval_out_of_range, lax.gt(maxval, minval)),
                      lax.add(span, one), span)
    # (hi * 2**nbits + lo) % span without overflow: 2**nbits % span from two halves.
    mult = lax.rem(lax.full_like(span, 2 ** (nbits // 2)), span)
    mult = lax.rem(lax.mul(mult, mult), span)
    offset = lax.add(lax.mul(lax.rem(higher, span), mult), lax.rem(lower, span))
    offset = lax.rem(offset, span)
    return lax.add(minval, lax.convert_element_type(offset, dtype))


def randint(key: Any, shape: Sequence[int], minval: Any, maxval: Any,
            dtype: Any = None) -> Any:
    """Uniform integers in `[minval, maxval)` (minval when maxval <= minval, as jax).

    >>> import lamina
    >>> lamina.random.randint(lamina.random.PRNGKey(0), (5,), 0, 10)
    Array([9, 0, 2, 3, 1], dtype=int32)
    """
    data, _ = check_key("randint", key)
    shape = canonical_shape("randint", shape)
    dtype = int_dtype("randint", dtype)
    _check_arraylike("randint", "minval", minval)
    _check_arraylike("randint", "maxval", maxval)
    check_shape("randint", shape, _shape_of(minval), _shape_of(maxval))
    info = np.iinfo(dtype)
    sample_dtype = dtype
    if info.bits < 32:
        # NOTE: as jax, 8/16-bit ints are drawn at 32 bits to reduce the modulus bias.
        sample_dtype = np.dtype(np.int32)
        minval = lnp.clip(lnp.asarray(minval).astype("int32"), int(info.min), int(info.max))
        maxval = lnp.clip(lnp.asarray(maxval).astype("int32"), int(info.min),
                          int(info.max) + 1)
    return _randint(data, minval, maxval, shape, sample_dtype).astype(dtype)


@jit(static_argnames=("shape", "dtype"))
def _rademacher(key: Any, shape: tuple[int, ...], dtype: np.dtype) -> Any:
    b = _bernoulli(key, np.float32(0.5), shape, "low").astype(dtype)
    return (2 * b - 1).astype(dtype)


def rademacher(key: Any, shape: Sequence[int] = (), dtype: Any = None) -> Any:
    """Random signs: -1 or +1 with equal probability.

    >>> import lamina
    >>> lamina.random.rademacher(lamina.random.PRNGKey(0), (4,))
    Array([-1, -1,  1,  1], dtype=int32)
    """
    data, _ = check_key("rademacher", key)
    shape = canonical_shape("rademacher", shape)
    dtype = np.dtype(dtypes.default_int_dtype() if dtype is None
                     else dtypes.check_user_dtype_supported(dtype, "rademacher"))
    return _rademacher(data, shape, dtype)


# --------------------------------------------------------------------------------------
# Transforms of one uniform: exponential, laplace, logistic, cauchy, gumbel
# --------------------------------------------------------------------------------------


def _const(dtype: np.dtype, v: Any) -> Any:
    return np.array(v, dtype)


@jit(static_argnames=("shape", "dtype"))
def _exponential(key: Any, shape: tuple[int, ...], dtype: np.dtype) -> Any:
    u = _uniform(key, 0., 1., shape, dtype)
    return lax.neg(lax.log1p(lax.neg(u)))


@jit(static_argnames=("shape", "dtype"))
def _laplace(key: Any, shape: tuple[int, ...], dtype: np.dtype) -> Any:
    u = _uniform(key, -1.0 + float(dtypes.finfo(dtype).epsneg), 1.0, shape, dtype)
    return lax.mul(lax.sign(u), lax.log1p(lax.neg(lax.abs(u))))


@jit(static_argnames=("shape", "dtype"))
def _logistic(key: Any, shape: tuple[int, ...], dtype: np.dtype) -> Any:
    x = _uniform(key, float(dtypes.finfo(dtype).tiny), 1.0, shape, dtype)
    return lax.sub(lax.log(x), lax.log1p(lax.neg(x)))


@jit(static_argnames=("shape", "dtype"))
def _cauchy(key: Any, shape: tuple[int, ...], dtype: np.dtype) -> Any:
    u = _uniform(key, float(dtypes.finfo(dtype).eps), 1.0, shape, dtype)
    return lax.tan(lax.mul(_const(dtype, np.pi), lax.sub(u, _const(dtype, 0.5))))


@jit(static_argnames=("shape", "dtype", "mode"))
def _gumbel(key: Any, shape: tuple[int, ...], dtype: np.dtype, mode: str) -> Any:
    info = dtypes.finfo(dtype)
    if mode == "high":
        u = _uniform(key, 0.0, 1.0, (2, *shape), dtype)
        high, low = u[0], u[1]
        x = lnp.where(high >= 0.5, high, high + 2 ** (-info.nmant) * low + float(info.tiny))
        return -lnp.log(-lnp.log1p(-x))
    return -lnp.log(-lnp.log(_uniform(key, float(info.tiny), 1.0, shape, dtype)))


def _simple(name: str, impl: Any) -> Any:
    def sampler(key: Any, shape: Sequence[int] = (), dtype: Any = None) -> Any:
        data, _ = check_key(name, key)
        return impl(data, canonical_shape(name, shape), float_dtype(name, dtype))

    sampler.__name__ = sampler.__qualname__ = name
    return sampler


exponential = _simple("exponential", _exponential)
exponential.__doc__ = """Exponential samples with rate 1: `-log1p(-u)`.

    >>> import lamina
    >>> float(lamina.random.exponential(lamina.random.PRNGKey(0), (1000,)).mean()) > 0.8
    True
    """
laplace = _simple("laplace", _laplace)
laplace.__doc__ = """Laplace samples (location 0, scale 1).

    >>> import lamina
    >>> lamina.random.laplace(lamina.random.PRNGKey(0), (2, 3)).shape
    (2, 3)
    """
logistic = _simple("logistic", _logistic)
logistic.__doc__ = """Logistic samples: `log(u) - log1p(-u)`.

    >>> import lamina
    >>> lamina.random.logistic(lamina.random.PRNGKey(0), (2,)).dtype
    dtype('float32')
    """
cauchy = _simple("cauchy", _cauchy)
cauchy.__doc__ = """Standard Cauchy samples: `tan(pi * (u - 1/2))`.

    >>> import lamina
    >>> lamina.random.cauchy(lamina.random.PRNGKey(0), (2,)).shape
    (2,)
    """


def gumbel(key: Any, shape: Sequence[int] = (), dtype: Any = None,
           mode: str | None = None) -> Any:
    """Standard Gumbel samples; mode 'high' spends two uniforms per sample for more
    dynamic range near 1 (jax's default is 'low').

    >>> import lamina
    >>> lamina.random.gumbel(lamina.random.PRNGKey(0), (2,)).shape
    (2,)
    """
    data, _ = check_key("gumbel", key)
    mode = "low" if mode is None else mode
    if mode not in ("high", "low"):
        raise ValueError(f"gumbel: mode must be 'high' or 'low' (or None), got {mode!r}")
    return _gumbel(data, canonical_shape("gumbel", shape), float_dtype("gumbel", dtype), mode)


# --------------------------------------------------------------------------------------
# categorical, permutation, choice
# --------------------------------------------------------------------------------------


@jit(static_argnames=("shape", "batch_shape", "axis", "replace", "mode"))
def _categorical(key: Any, logits: Any, shape: tuple[int, ...], batch_shape: tuple[int, ...],
                 axis: int, replace: bool, mode: str | None) -> Any:
    ndim = len(_shape_of(logits))
    lshape = _shape_of(logits)
    dtype = _dtype_of(logits)
    prefix = shape[:len(shape) - len(batch_shape)]
    mode = "low" if mode is None else mode
    if replace:
        if axis >= 0:
            axis -= ndim
        logits_shape = list(shape[len(shape) - len(batch_shape):])
        logits_shape.insert(axis % ndim, lshape[axis])
        g = _gumbel(key, (*prefix, *logits_shape), dtype, mode)
        return lnp.argmax(g + lax.expand_dims(logits, tuple(range(len(prefix)))), axis=axis)
    logits = logits + _gumbel(key, lshape, dtype, mode)
    k = math.prod(prefix)
    _, idx = lax.top_k(lnp.moveaxis(logits, axis, -1), k)
    dims = (idx.ndim - 1, *range(idx.ndim - 1))
    return lax.reshape(idx, shape, dims)


def categorical(key: Any, logits: Any, axis: int = -1, shape: Sequence[int] | None = None,
                replace: bool = True, mode: str | None = None) -> Any:
    """Samples category indices with probabilities `softmax(logits, axis)` (Gumbel-max).

    >>> import lamina
    >>> lamina.random.categorical(lamina.random.PRNGKey(0), lamina.numpy.zeros((2, 5)))
    Array([1, 3], dtype=int32)
    """
    data, _ = check_key("categorical", key)
    _check_arraylike("categorical", "logits", logits)
    logits = lnp.asarray(logits)
    lshape = _shape_of(logits)
    if not dtypes.is_floating(_dtype_of(logits)):
        logits = logits.astype(dtypes.default_float_dtype())
    if not lshape:
        raise ValueError("categorical: logits must have at least one dimension, got a 0-d array")
    if not -len(lshape) <= axis < len(lshape):
        raise ValueError(f"categorical: axis {axis} is out of bounds for logits of shape {lshape}")
    batch_shape = tuple(np.delete(np.array(lshape, dtype=np.int64), axis).tolist())
    if shape is None:
        shape = batch_shape
    else:
        shape = canonical_shape("categorical", shape)
        check_shape("categorical", shape, batch_shape)
    if mode not in (None, "high", "low"):
        raise ValueError(f"categorical: mode must be 'high', 'low' or None, got {mode!r}")
    if not replace:
        k = math.prod(shape[:len(shape) - len(batch_shape)])
        if k > lshape[axis]:
            raise ValueError(f"categorical: number of samples without replacement ({k}) "
                             f"cannot exceed the number of categories ({lshape[axis]})")
    return _categorical(data, logits, shape, batch_shape, int(axis), bool(replace), mode)


@jit(static_argnames=("axis",))
def _shuffle(key: Any, x: Any, axis: int) -> Any:
    # NOTE: jax's sort-based shuffle: sort by fresh 32-bit keys, repeated enough rounds
    # (exponent 3 heuristic) that key collisions are unlikely to bias the result.
    size = math.prod(_shape_of(x))
    rounds = int(np.ceil(3 * np.log(max(1, size)) / np.log(np.iinfo(np.uint32).max)))
    for _ in range(rounds):
        key, sub = _split2(key)
        sort_keys = random_bits(sub, 32, _shape_of(x))
        _, x = lax.sort_key_val(sort_keys, x, axis)
    return x


def permutation(key: Any, x: Any, axis: int = 0, independent: bool = False) -> Any:
    """A random permutation of `arange(x)` (int x) or of `x`'s slices along `axis`.

    >>> import lamina
    >>> lamina.random.permutation(lamina.random.PRNGKey(0), 5)
    Array([0, 1, 4, 3, 2], dtype=int32)
    """
    data, _ = check_key("permutation", key)
    _check_arraylike("permutation", "x", x)
    if not _shape_of(x):
        if not dtypes.is_integer(_dtype_of(x)) or isinstance(x, bool):
            raise TypeError(f"permutation: x must be an integer or at least 1-dimensional, "
                            f"got {x!r}")
        if isinstance(x, Tracer):
            raise TypeError("permutation: an integer x must be concrete (static), got a traced "
                            "value; pass the array arange(n) instead")
        n = int(np.asarray(x))
        if n < 0:
            raise ValueError(f"permutation: x must be non-negative, got {n}")
        return _shuffle(data, lnp.arange(n), 0)
    x = lnp.asarray(x)
    ndim = len(_shape_of(x))
    if not -ndim <= axis < ndim:
        raise ValueError(f"permutation: axis {axis} is out of bounds for x of shape "
                         f"{_shape_of(x)}")
    axis = axis % ndim
    if independent or ndim == 1:
        return _shuffle(data, x, axis)
    ind = _shuffle(data, lnp.arange(_shape_of(x)[axis]), 0)
    return lnp.take(x, ind, axis=axis, unique_indices=True)


def choice(key: Any, a: Any, shape: Sequence[int] = (), replace: bool = True,
           p: Any = None, axis: int = 0, mode: str | None = None) -> Any:
    """Random samples from `a` (an array, or `arange(a)` for an int), optionally without
    replacement or with probabilities `p`.

    >>> import lamina
    >>> lamina.random.choice(lamina.random.PRNGKey(0), 10, (3,), replace=False)
    Array([0, 1, 8], dtype=int32)
    """
    data, _ = check_key("choice", key)
    if not isinstance(shape, Sequence):
        raise TypeError(f"choice: shape must be a sequence of integers, got {shape!r}")
    shape = canonical_shape("choice", shape)
    _check_arraylike("choice", "a", a)
    arr = lnp.asarray(a)
    ndim = len(_shape_of(arr))
    if ndim == 0:
        if isinstance(a, Tracer):
            raise TypeError("choice: an integer a must be concrete (static), got a traced value")
        n_inputs = int(np.asarray(a))
    else:
        if not -ndim <= axis < ndim:
            raise ValueError(f"choice: axis {axis} is out of bounds for a of shape "
                             f"{_shape_of(arr)}")
        axis = axis % ndim
        n_inputs = _shape_of(arr)[axis]
    n_draws = math.prod(shape)
    if n_draws == 0:
        return lnp.zeros(shape, dtype=_dtype_of(arr))
    if n_inputs <= 0:
        raise ValueError(f"choice: a must be greater than 0 unless no samples are taken, "
                         f"got {n_inputs}")
    if not replace and n_draws > n_inputs:
        raise ValueError(f"choice: cannot take a larger sample (size {n_draws}) than the "
                         f"population (size {n_inputs}) when replace=False")
    if p is None:
        if replace:
            ind = randint(key, shape, 0, n_inputs)
            result = ind if ndim == 0 else lnp.take(arr, ind, axis=axis)
        else:
            slices = (slice(None),) * axis + (slice(n_draws),)
            result = permutation(key, n_inputs if ndim == 0 else arr, axis)[slices]
    else:
        _check_arraylike("choice", "p", p)
        p_arr = lnp.asarray(p)
        if not dtypes.is_inexact(_dtype_of(p_arr)):
            p_arr = p_arr.astype(dtypes.default_float_dtype())
        if _shape_of(p_arr) != (n_inputs,):
            raise ValueError(f"choice: p must be None or a 1D vector with the same size as "
                             f"a.shape[axis]; p has shape {_shape_of(p_arr)} and "
                             f"a.shape[axis] is {n_inputs}")
        if not isinstance(p, Tracer):
            p_np = np.asarray(p_arr)
            if np.any(p_np < 0) or not np.all(np.isfinite(p_np)) or not p_np.sum() > 0:
                raise ValueError(f"choice: p must be finite, non-negative probabilities "
                                 f"with a positive sum, got p={p!r}")
        pdt = _dtype_of(p_arr)
        if replace:
            p_cuml = _cumsum(p_arr)
            u = _uniform(data, 0., 1., shape, pdt)
            r = p_cuml[-1] * (1 - u)
            ind = lnp.searchsorted(p_cuml, r).astype(int)
        else:
            g = _gumbel(data, (n_inputs,), pdt, "low" if mode is None else mode)
            g = g + lnp.log(p_arr)
            ind = lax.top_k(g, n_draws)[1].astype(int)
        result = ind if ndim == 0 else lnp.take(arr, ind, axis=axis)
    arr_shape = _shape_of(arr)
    return result.reshape(shape if ndim == 0 else
                          arr_shape[:axis] + tuple(shape) + arr_shape[axis + 1:])


@jit
def _cumsum(x: Any) -> Any:
    # NOTE: jax lowers cumsum on CPU/GPU as an associative scan; its float sums round
    # differently from a sequential sum, and choice(p=...) must see jax's p_cuml bits.
    return lax.associative_scan(lnp.add, x)


# --------------------------------------------------------------------------------------
# multivariate_normal, orthogonal
# --------------------------------------------------------------------------------------


@jit(static_argnames=("shape", "dtype", "method"))
def _multivariate_normal(key: Any, mean: Any, cov: Any, shape: Any, dtype: np.dtype,
                         method: str) -> Any:
    mshape, cshape = _shape_of(mean), _shape_of(cov)
    if shape is None:
        shape = broadcast_shapes("multivariate_normal", mshape[:-1], cshape[:-2])
    if method == "svd":
        u, s, _ = lnp.linalg.svd(cov)
        factor = u * lnp.sqrt(s[..., None, :])
    elif method == "eigh":
        w, v = lnp.linalg.eigh(cov)
        factor = v * lnp.sqrt(w[..., None, :])
    else:
        factor = lnp.linalg.cholesky(cov)
    z = _normal(key, (*shape, mshape[-1]), dtype)
    return mean + lnp.einsum("...ij,...j->...i", factor, z)


def multivariate_normal(key: Any, mean: Any, cov: Any, shape: Sequence[int] | None = None,
                        dtype: Any = None, method: str = "cholesky") -> Any:
    """Multivariate normal samples with mean `mean` (..., n) and covariance `cov`
    (..., n, n), factored by 'cholesky' (default), 'svd' or 'eigh'.

    >>> import lamina, lamina.numpy as lnp
    >>> lamina.random.multivariate_normal(lamina.random.PRNGKey(0), lnp.zeros(2),
    ...                                   lnp.eye(2), (4,)).shape
    (4, 2)
    """
    data, _ = check_key("multivariate_normal", key)
    if method not in ("svd", "eigh", "cholesky"):
        raise ValueError(f"multivariate_normal: method must be one of 'svd', 'eigh', "
                         f"'cholesky', got {method!r}")
    _check_arraylike("multivariate_normal", "mean", mean)
    _check_arraylike("multivariate_normal", "cov", cov)
    mean, cov = lnp.asarray(mean), lnp.asarray(cov)
    dt = dtypes.result_type(mean, cov)
    if not dtypes.is_inexact(dt):
        dt = dtypes.default_float_dtype()
    mean, cov = mean.astype(dt), cov.astype(dt)
    dtype = np.dtype(dt) if dtype is None else float_dtype("multivariate_normal", dtype)
    mshape, cshape = _shape_of(mean), _shape_of(cov)
    if len(mshape) < 1:
        raise ValueError(f"multivariate_normal: mean must have ndim >= 1, got shape {mshape}")
    if len(cshape) < 2:
        raise ValueError(f"multivariate_normal: cov must have ndim >= 2, got shape {cshape}")
    n = mshape[-1]
    if cshape[-2:] != (n, n):
        raise ValueError(f"multivariate_normal: cov must have shape (..., n, n) for n={n}, "
                         f"got {cshape}")
    if shape is not None:
        shape = canonical_shape("multivariate_normal", shape)
        check_shape("multivariate_normal", shape, mshape[:-1], cshape[:-2])
    return _multivariate_normal(data, mean, cov, shape, dtype, method)


@jit(static_argnames=("n", "m", "shape", "dtype"))
def _orthogonal(key: Any, n: int, m: int, shape: tuple[int, ...], dtype: np.dtype) -> Any:
    z = _normal(key, (*shape, max(n, m), min(n, m)), dtype)
    q, r = lnp.linalg.qr(z)
    d = lnp.diagonal(r, axis1=-2, axis2=-1)
    x = q * lnp.expand_dims(lnp.sign(d), -2)
    return lnp.swapaxes(x, -1, -2) if n < m else x


def orthogonal(key: Any, n: int, shape: Sequence[int] = (), dtype: Any = None,
               m: int | None = None) -> Any:
    """Random (semi-)orthogonal matrices of shape `(*shape, n, m)` (m defaults to n),
    uniform under the Haar measure (QR of a Gaussian matrix with sign correction).

    >>> import lamina, lamina.numpy as lnp
    >>> q = lamina.random.orthogonal(lamina.random.PRNGKey(0), 3)
    >>> bool(lnp.allclose(q @ q.T, lnp.eye(3), atol=1e-5))
    True
    """
    data, _ = check_key("orthogonal", key)
    shape = canonical_shape("orthogonal", shape)
    dtype = float_dtype("orthogonal", dtype, allow_complex=True)
    n_ = canonical_shape("orthogonal", (n,), "n")[0]
    m_ = n_ if m is None else canonical_shape("orthogonal", (m,), "m")[0]
    return _orthogonal(data, n_, m_, shape, dtype)
