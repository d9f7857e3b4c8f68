"""JVP, transpose and batching rules of the elementwise primitives (`elementwise.py`).

This module is imported at the end of `lamina.lax.elementwise`, which would pass ~1300
lines with the rules inline; the blocks below follow the order of the primitives there.
The formulas are jax's (jax/_src/lax/lax.py and special.py), so derivatives agree with
jax at kinks and ties too: `max`/`min` give half the tangent to each operand on a tie,
`abs` takes `+g` at 0, and rounding, comparisons and bit operations have zero tangents.

Elementwise operands may mix 0-d with rank-n shapes (lax's rule, see
`lowering.broadcast_scalar_operands`), so:

* a tangent term of a 0-d operand is broadcast to the output's shape (`_nary_jvp`);
* a cotangent is summed back down to a 0-d operand's shape (`_unbroadcast`);
* n-ary ops batch with `batching.defbroadcasting`; `select_n` and `clamp`, whose
  operands must match the *cases'* / *x's* shape, have their own batching rules.
"""
from __future__ import annotations

import builtins
import math
from typing import Any, Callable, Sequence

import numpy as np

from lamina import dtypes
from lamina.interpreters import ad, batching
from lamina.ir import AbstractArray, Primitive, shaped_abstractify
from lamina.lax import elementwise as ew
from lamina.lax import reductions, structural

# --------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------


def _aval(x: Any) -> AbstractArray:
    return shaped_abstractify(x)


def _const(x: Any, value: Any) -> np.ndarray:
    """A 0-d constant of x's dtype; lax ops broadcast it against any shape."""
    return np.array(value, _aval(x).dtype)


def _zeros(x: Any) -> Any:
    return structural.full_like(x, 0)


def _ones(x: Any) -> Any:
    return structural.full_like(x, 1)


def _broadcast_to(x: Any, shape: Sequence[int]) -> Any:
    """`x` (of `shape`, or 0-d) with `shape`."""
    if _aval(x).shape == tuple(shape):
        return x
    return structural.broadcast_in_dim(x, tuple(shape), ())


def _out_shape(operands: Sequence[Any]) -> tuple[int, ...]:
    """The result shape of an elementwise op: the operands' common non-0-d shape."""
    return builtins.max((_aval(x).shape for x in operands), key=len)


def _unbroadcast(aval: AbstractArray, ct: Any) -> Any:
    """A cotangent of an operand of type `aval`: summed over every axis if the operand
    was 0-d and broadcast against a rank-n one."""
    ct_shape = _aval(ct).shape
    if ct_shape == aval.shape:
        return ct
    assert aval.shape == (), (aval, ct_shape)
    return reductions.reduce_sum(ct, tuple(range(len(ct_shape))))


def _replace_zero(x: Any) -> Any:
    """x with its zeros replaced by ones (to keep a 0/0 out of a masked-away branch)."""
    return ew.select(ew.eq(x, _const(x, 0)), _ones(x), x)


def _nary_jvp(primitive: Primitive, *jvp_fns: Callable[..., Any] | None,
              with_ans: bool = False) -> None:
    """`ad.defjvp` (or `ad.defjvp2` with `with_ans`) for an n-ary elementwise op:
    each operand's tangent term is broadcast to the output's shape, since the term of
    a 0-d operand (`g_x` in `add(x0d, y)`) may itself be 0-d."""

    def wrap(fn: Callable[..., Any] | None) -> Callable[..., Any] | None:
        if fn is None:
            return None
        if with_ans:
            def term2(g: Any, ans: Any, *primals: Any, **params: Any) -> Any:
                return _broadcast_to(fn(g, ans, *primals, **params), _aval(ans).shape)
            return term2

        def term(g: Any, *primals: Any, **params: Any) -> Any:
            return _broadcast_to(fn(g, *primals, **params), _out_shape(primals))
        return term

    (ad.defjvp2 if with_ans else ad.defjvp)(primitive, *map(wrap, jvp_fns))


def _zero_jvp(*primitives: Primitive) -> None:
    for p in primitives:
        ad.defjvp_zero(p)


def _vectorized(*primitives: Primitive) -> None:
    for p in primitives:
        batching.defvectorized(p)


def _broadcasting(*primitives: Primitive) -> None:
    for p in primitives:
        batching.defbroadcasting(p)


# --------------------------------------------------------------------------------------
# Unary math
# --------------------------------------------------------------------------------------

ad.deflinear(ew.neg_p, lambda ct, x: [ew.neg(ct)])
_zero_jvp(ew.sign_p, ew.floor_p, ew.ceil_p, ew.round_p, ew.is_finite_p)

ad.defjvp2(ew.exp_p, lambda g, ans, x: ew.mul(g, ans))
ad.defjvp2(ew.exp2_p, lambda g, ans, x: ew.mul(_const(x, math.log(2.0)), ew.mul(g, ans)))
ad.defjvp(ew.log_p, lambda g, x: ew.div(g, x))
ad.defjvp2(ew.expm1_p, lambda g, ans, x: ew.mul(g, ew.add(ans, _const(ans, 1))))
ad.defjvp(ew.log1p_p, lambda g, x: ew.div(g, ew.add(x, _const(x, 1))))
# NOTE: (g + g * ans) * (1 - ans) is jax's form of g * (1 - ans**2).
ad.defjvp2(ew.tanh_p, lambda g, ans, x: ew.mul(ew.add(g, ew.mul(g, ans)),
                                                ew.sub(_const(x, 1), ans)))
ad.defjvp2(ew.logistic_p,
           lambda g, ans, x: ew.mul(g, ew.mul(ans, ew.sub(_const(ans, 1), ans))))

ad.defjvp(ew.sin_p, lambda g, x: ew.mul(g, ew.cos(x)))
ad.defjvp(ew.cos_p, lambda g, x: ew.neg(ew.mul(g, ew.sin(x))))
ad.defjvp2(ew.tan_p, lambda g, ans, x: ew.mul(g, ew.add(_const(x, 1), ew.square(ans))))
ad.defjvp(ew.asin_p, lambda g, x: ew.mul(g, ew.rsqrt(ew.sub(_const(x, 1), ew.square(x)))))
ad.defjvp(ew.acos_p,
          lambda g, x: ew.mul(g, ew.neg(ew.rsqrt(ew.sub(_const(x, 1), ew.square(x))))))
ad.defjvp(ew.atan_p, lambda g, x: ew.div(g, ew.add(_const(x, 1), ew.square(x))))
ad.defjvp(ew.sinh_p, lambda g, x: ew.mul(g, ew.cosh(x)))
ad.defjvp(ew.cosh_p, lambda g, x: ew.mul(g, ew.sinh(x)))
ad.defjvp(ew.asinh_p, lambda g, x: ew.mul(g, ew.rsqrt(ew.add(ew.square(x), _const(x, 1)))))
ad.defjvp(ew.acosh_p, lambda g, x: ew.mul(g, ew.rsqrt(ew.sub(ew.square(x), _const(x, 1)))))
ad.defjvp(ew.atanh_p, lambda g, x: ew.mul(ew.reciprocal(ew.add(_const(x, 1), x)),
                                          ew.div(g, ew.sub(_const(x, 1), x))))

ad.defjvp2(ew.sqrt_p, lambda g, ans, x: ew.mul(g, ew.div(_const(x, 0.5), ans)))
ad.defjvp2(ew.rsqrt_p, lambda g, ans, x: ew.mul(g, ew.mul(_const(x, -0.5), ew.div(ans, x))))
ad.defjvp2(ew.cbrt_p, lambda g, ans, x: ew.mul(g, ew.mul(_const(x, 1 / 3),
                                                         ew.integer_pow(ans, -2))))


def _abs_jvp(g: Any, ans: Any, x: Any) -> Any:
    if dtypes.is_complex(_aval(x).dtype):
        # d|x| = Re(conj(x) / |x| * dx); at x == 0 the quotient is 0.
        ans_c = ew.convert_element_type_p.bind(ans, new_dtype=_aval(x).dtype, weak_type=False)
        return ew.real(ew.mul(g, ew.div(ew.conj(x), _replace_zero(ans_c))))
    # NOTE: jax's choice at the kink: the derivative at 0 is +1.
    return ew.select(ew.ge(x, _const(x, 0)), g, ew.neg(g))


ad.defjvp2(ew.abs_p, _abs_jvp)

# real/imag/complex/conj are linear (as maps between real vector spaces); their
# transposes follow jax's convention for complex cotangents.
ad.deflinear(ew.real_p, lambda ct, x: [ew.complex(ct, _const(ct, 0))])
ad.deflinear(ew.imag_p, lambda ct, x: [ew.complex(_const(ct, 0), ew.neg(ct))])


def _conj_transpose(ct: Any, x: Any) -> list[Any]:
    assert ad.is_undefined_primal(x)
    if dtypes.is_complex(x.aval.dtype):
        return [ew.conj(ct)]
    return [ew.real(ct)]  # conj of a real x is complex(x, 0)


ad.deflinear(ew.conj_p, _conj_transpose)

_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)
ad.defjvp(ew.erf_p, lambda g, x: ew.mul(_const(x, _TWO_OVER_SQRT_PI),
                                        ew.mul(g, ew.exp(ew.neg(ew.square(x))))))
ad.defjvp(ew.erfc_p, lambda g, x: ew.mul(_const(x, -_TWO_OVER_SQRT_PI),
                                         ew.mul(g, ew.exp(ew.neg(ew.square(x))))))
ad.defjvp2(ew.erf_inv_p, lambda g, ans, x: ew.mul(_const(x, math.sqrt(math.pi) / 2),
                                                  ew.mul(g, ew.exp(ew.square(ans)))))
ad.defjvp(ew.lgamma_p, lambda g, x: ew.mul(g, ew.digamma(x)))
ad.defjvp(ew.digamma_p, lambda g, x: ew.mul(g, ew.polygamma(_const(x, 1), x)))


def _polygamma_jvp_m(g: Any, m: Any, x: Any) -> Any:
    raise ValueError("polygamma is not differentiable with respect to its order m "
                     "(an integer); hold it fixed, e.g. with lax.stop_gradient(m)")


_nary_jvp(ew.polygamma_p, _polygamma_jvp_m,
          lambda g, m, x: ew.mul(g, ew.polygamma(ew.add(m, _const(m, 1)), x)))
# NOTE: bessel_i1e's JVP needs bessel_i0e, a primitive of lax/bessel.py (which imports
# this module), so the rule is registered there, beside bessel_i0e's own.

ad.defjvp2(ew.square_p, lambda g, ans, x: ew.mul(g, ew.mul(_const(x, 2), x)))


def _integer_pow_jvp(g: Any, x: Any, *, y: int) -> Any:
    if y == 0:
        return _zeros(g)
    if y == 1:
        return g
    if y == 2:
        return ew.mul(g, ew.mul(_const(x, 2), x))
    return ew.mul(g, ew.mul(_const(x, y), ew.integer_pow(x, y - 1)))


ad.defjvp(ew.integer_pow_p, _integer_pow_jvp)
_zero_jvp(ew.population_count_p, ew.clz_p)

_vectorized(ew.neg_p, ew.sign_p, ew.floor_p, ew.ceil_p, ew.round_p, ew.is_finite_p,
            ew.exp_p, ew.exp2_p, ew.log_p, ew.expm1_p, ew.log1p_p, ew.tanh_p,
            ew.logistic_p, ew.sin_p, ew.cos_p, ew.tan_p, ew.asin_p, ew.acos_p, ew.atan_p,
            ew.sinh_p, ew.cosh_p, ew.asinh_p, ew.acosh_p, ew.atanh_p, ew.sqrt_p,
            ew.rsqrt_p, ew.cbrt_p, ew.abs_p, ew.real_p, ew.imag_p, ew.conj_p, ew.erf_p,
            ew.erfc_p, ew.erf_inv_p, ew.lgamma_p, ew.digamma_p, ew.bessel_i1e_p,
            ew.square_p, ew.integer_pow_p, ew.population_count_p, ew.clz_p)
_broadcasting(ew.polygamma_p)

# --------------------------------------------------------------------------------------
# Bitwise operations and comparisons: integer/bool results, zero tangents
# --------------------------------------------------------------------------------------

_zero_jvp(ew.not_p, ew.and_p, ew.or_p, ew.xor_p, ew.shift_left_p,
          ew.shift_right_arithmetic_p, ew.shift_right_logical_p,
          ew.eq_p, ew.ne_p, ew.lt_p, ew.le_p, ew.gt_p, ew.ge_p)
_vectorized(ew.not_p)
_broadcasting(ew.and_p, ew.or_p, ew.xor_p, ew.shift_left_p, ew.shift_right_arithmetic_p,
              ew.shift_right_logical_p, ew.eq_p, ew.ne_p, ew.lt_p, ew.le_p, ew.gt_p, ew.ge_p)

# --------------------------------------------------------------------------------------
# Binary math
# --------------------------------------------------------------------------------------


def _add_sub_jvp(primitive: Primitive, sign: int) -> Callable[..., tuple[Any, Any]]:
    def rule(primals: Sequence[Any], tangents: Sequence[Any]) -> tuple[Any, Any]:
        x_dot, y_dot = tangents
        out = primitive.bind(*primals)
        shape = _aval(out).shape
        if isinstance(x_dot, ad.Zero):
            return out, _broadcast_to(y_dot if sign > 0 else ew.neg(y_dot), shape)
        if isinstance(y_dot, ad.Zero):
            return out, _broadcast_to(x_dot, shape)
        return out, primitive.bind(x_dot, y_dot)

    rule.__name__ = f"_{primitive.name}_jvp"
    return rule


def _add_transpose(ct: Any, x: Any, y: Any) -> list[Any]:
    return [_unbroadcast(x.aval, ct) if ad.is_undefined_primal(x) else None,
            _unbroadcast(y.aval, ct) if ad.is_undefined_primal(y) else None]


def _sub_transpose(ct: Any, x: Any, y: Any) -> list[Any]:
    return [_unbroadcast(x.aval, ct) if ad.is_undefined_primal(x) else None,
            _unbroadcast(y.aval, ew.neg(ct)) if ad.is_undefined_primal(y) else None]


ad.primitive_jvps[ew.add_p] = _add_sub_jvp(ew.add_p, 1)
ad.primitive_transposes[ew.add_p] = _add_transpose
ad.primitive_jvps[ew.sub_p] = _add_sub_jvp(ew.sub_p, -1)
ad.primitive_transposes[ew.sub_p] = _sub_transpose

_nary_jvp(ew.mul_p, lambda g, x, y: ew.mul(g, y), lambda g, x, y: ew.mul(x, g))


def _mul_transpose(ct: Any, x: Any, y: Any) -> list[Any]:
    x_lin, y_lin = ad.is_undefined_primal(x), ad.is_undefined_primal(y)
    assert x_lin != y_lin, "mul is linear in one operand at a time"
    if x_lin:
        return [_unbroadcast(x.aval, ew.mul(ct, y)), None]
    return [None, _unbroadcast(y.aval, ew.mul(x, ct))]


ad.primitive_transposes[ew.mul_p] = _mul_transpose

_nary_jvp(ew.div_p, lambda g, x, y: ew.div(g, y),
          lambda g, x, y: ew.mul(ew.mul(ew.neg(g), x), ew.integer_pow(y, -2)))


def _div_transpose(ct: Any, x: Any, y: Any) -> list[Any]:
    if ad.is_undefined_primal(y):
        raise ValueError("div is not linear in its denominator; it cannot be transposed")
    return [_unbroadcast(x.aval, ew.div(ct, y)), None]


ad.primitive_transposes[ew.div_p] = _div_transpose


def _rem_jvp_y(g: Any, x: Any, y: Any) -> Any:
    # rem(x, y) = x - y * trunc(x / y): d/dy = -trunc(x / y).
    q = ew.div(x, y)
    return ew.mul(ew.neg(g), ew.mul(ew.sign(q), ew.floor(ew.abs(q))))


_nary_jvp(ew.rem_p, lambda g, x, y: g, _rem_jvp_y)


def _pow_jvp_x(g: Any, ans: Any, x: Any, y: Any) -> Any:
    x_dtype, shape = _aval(x).dtype, _aval(ans).shape
    if dtypes.is_integer(_aval(y).dtype):
        # NOTE: as jax: with an integer exponent, d/dx x**0 is exactly 0 (even at x=0).
        y = ew.convert_element_type_p.bind(y, new_dtype=x_dtype, weak_type=False)
        y, x = _broadcast_to(y, shape), _broadcast_to(x, shape)
        jac = ew.select(ew.eq(y, _const(y, 0)), _zeros(y),
                        ew.mul(_replace_zero(y), ew.pow(x, ew.sub(y, _const(y, 1)))))
    else:
        jac = ew.mul(y, ew.pow(x, ew.sub(y, _const(y, 1))))
    return ew.mul(g, jac)


def _pow_jvp_y(g: Any, ans: Any, x: Any, y: Any) -> Any:
    return ew.mul(g, ew.mul(ew.log(_replace_zero(x)), ans))


_nary_jvp(ew.pow_p, _pow_jvp_x, _pow_jvp_y, with_ans=True)


def _balanced_eq(x: Any, ans: Any, y: Any) -> Any:
    """1 where x alone attains `ans`, 1/2 where x and y both do (a tie), else 0."""
    return ew.div(ew.select(ew.eq(x, ans), _ones(ans), _zeros(ans)),
                  ew.select(ew.eq(y, ans), structural.full_like(ans, 2), _ones(ans)))


for _p in (ew.max_p, ew.min_p):
    _nary_jvp(_p, lambda g, ans, x, y: ew.mul(g, _balanced_eq(x, ans, y)),
              lambda g, ans, x, y: ew.mul(g, _balanced_eq(y, ans, x)), with_ans=True)


def _atan2_denominator(x: Any, y: Any) -> Any:
    return ew.add(ew.square(x), ew.square(y))


_nary_jvp(ew.atan2_p, lambda g, x, y: ew.mul(g, ew.div(y, _atan2_denominator(x, y))),
          lambda g, x, y: ew.div(ew.mul(g, ew.neg(x)), _atan2_denominator(x, y)))
ad.defjvp_zero(ew.nextafter_p)


def _complex_transpose(ct: Any, x: Any, y: Any) -> list[Any]:
    return [_unbroadcast(x.aval, ew.real(ct)) if ad.is_undefined_primal(x) else None,
            _unbroadcast(y.aval, ew.neg(ew.imag(ct))) if ad.is_undefined_primal(y) else None]


ad.deflinear(ew.complex_p, _complex_transpose)

_broadcasting(ew.add_p, ew.sub_p, ew.mul_p, ew.div_p, ew.rem_p, ew.pow_p, ew.max_p,
              ew.min_p, ew.atan2_p, ew.nextafter_p, ew.complex_p)

# --------------------------------------------------------------------------------------
# Selection
# --------------------------------------------------------------------------------------


def _select_n_jvp(primals: Sequence[Any], tangents: Sequence[Any]) -> tuple[Any, Any]:
    which, *cases = primals
    case_dots = tangents[1:]
    out = ew.select_n_p.bind(which, *cases)
    if all(isinstance(t, ad.Zero) for t in case_dots):
        return out, ad.Zero.like(out)
    return out, ew.select_n_p.bind(which, *map(ad.instantiate_zeros, case_dots))


def _select_n_transpose(ct: Any, which: Any, *cases: Any) -> list[Any]:
    assert not ad.is_undefined_primal(which), "select_n is not linear in `which`"
    zeros = _zeros(ct)
    return [None, *[ew.select_n_p.bind(which, *[ct if j == i else zeros
                                                  for j in range(len(cases))])
                    if ad.is_undefined_primal(c) else None
                    for i, c in enumerate(cases)]]


def _select_n_batch(args: Sequence[Any], dims: Sequence[Any]) -> tuple[Any, Any]:
    which, *cases = args
    which_dim, *case_dims = dims
    which_rank = _aval(which).ndim - (which_dim is not batching.not_mapped)
    # Fast path: every case mapped at one dim, `which` unmapped 0-d or mapped there too.
    if len(set(case_dims)) == 1 and case_dims[0] is not batching.not_mapped:
        d = case_dims[0]
        case_rank = _aval(cases[0]).ndim - 1
        if (which_dim is batching.not_mapped and which_rank == 0) or (
                which_dim == d and which_rank == case_rank):
            return ew.select_n_p.bind(which, *cases), d
    size = batching.dim_size(args, dims)
    cases = [batching.bdim_at_front(c, d, size) for c, d in zip(cases, case_dims)]
    shape = _aval(cases[0]).shape
    if which_dim is batching.not_mapped and which_rank == 0:
        pass  # a 0-d `which` selects whole cases of any shape
    elif which_rank == 0:
        which = structural.broadcast_in_dim(which, shape, (0,))  # which is (size,)
    else:
        which = batching.bdim_at_front(which, which_dim, size)
    return ew.select_n_p.bind(which, *cases), 0


ad.primitive_jvps[ew.select_n_p] = _select_n_jvp
ad.primitive_transposes[ew.select_n_p] = _select_n_transpose
batching.primitive_batchers[ew.select_n_p] = _select_n_batch


def _clamp_jvp_term(pick: Callable[[Any, Any, Any], Any]) -> Callable[..., Any]:
    """The tangent of one clamp operand: `g` (broadcast to x's shape) where
    `pick(lo, x, hi)` says the output is that operand, else 0."""

    def term(g: Any, lo: Any, x: Any, hi: Any) -> Any:
        g = _broadcast_to(g, _aval(x).shape)
        return ew.select(pick(lo, x, hi), g, _zeros(g))

    return term


ad.defjvp(ew.clamp_p,
          _clamp_jvp_term(lambda lo, x, hi: ew.bitwise_and(ew.gt(lo, x), ew.lt(lo, hi))),
          _clamp_jvp_term(lambda lo, x, hi: ew.bitwise_and(ew.gt(x, lo), ew.lt(x, hi))),
          _clamp_jvp_term(lambda lo, x, hi: ew.lt(hi, x)))


def _clamp_batch(args: Sequence[Any], dims: Sequence[Any]) -> tuple[Any, Any]:
    # NOTE: the bounds are 0-d or of x's shape, so x's shape is the output's.
    lo, x, hi = args
    lo_dim, x_dim, hi_dim = dims
    x_rank = _aval(x).ndim - (x_dim is not batching.not_mapped)

    def rank(b: Any, d: Any) -> int:
        return _aval(b).ndim - (d is not batching.not_mapped)

    def fits(b: Any, d: Any) -> bool:
        return ((d is batching.not_mapped and rank(b, d) == 0)
                or (d == x_dim and rank(b, d) == x_rank))

    if x_dim is not batching.not_mapped and fits(lo, lo_dim) and fits(hi, hi_dim):
        return ew.clamp_p.bind(lo, x, hi), x_dim
    size = batching.dim_size(args, dims)
    x = batching.bdim_at_front(x, x_dim, size)
    shape = _aval(x).shape

    def bound(b: Any, d: Any) -> Any:
        if d is batching.not_mapped and rank(b, d) == 0:
            return b  # a 0-d unmapped bound clamps every element
        if rank(b, d) == 0:
            return structural.broadcast_in_dim(b, shape, (0,))  # b is (size,)
        return batching.bdim_at_front(b, d, size)

    return ew.clamp_p.bind(bound(lo, lo_dim), x, bound(hi, hi_dim)), 0


batching.primitive_batchers[ew.clamp_p] = _clamp_batch

# --------------------------------------------------------------------------------------
# Conversions
# --------------------------------------------------------------------------------------


def _convert_element_type_jvp(g: Any, ans: Any, x: Any, *, new_dtype: np.dtype,
                              weak_type: bool) -> Any:
    if ad.tangent_dtype(new_dtype) == dtypes.float0:
        return ad.Zero.like(ans)  # integer or bool results carry no tangent
    # NOTE: bind, not the wrapper: complex -> real keeps the real part without the
    # ComplexWarning the wrapper gives users.
    return ew.convert_element_type_p.bind(g, new_dtype=new_dtype, weak_type=weak_type)


def _convert_element_type_transpose(ct: Any, x: Any, *, new_dtype: np.dtype,
                                    weak_type: bool) -> list[Any]:
    assert ad.is_undefined_primal(x)
    old = x.aval
    if ad.tangent_dtype(old.dtype) == dtypes.float0:
        return [ad.Zero(ad.tangent_aval(old))]
    return [ew.convert_element_type_p.bind(ct, new_dtype=old.dtype, weak_type=old.weak_type)]


ad.defjvp2(ew.convert_element_type_p, _convert_element_type_jvp)
ad.primitive_transposes[ew.convert_element_type_p] = _convert_element_type_transpose

# NOTE: as in jax, reinterpreting bits has a zero derivative.
ad.defjvp_zero(ew.bitcast_convert_type_p)


def _bitcast_convert_type_batch(args: Sequence[Any], dims: Sequence[Any], *,
                                new_dtype: np.dtype) -> tuple[Any, Any]:
    (x,), (d,) = args, dims
    aval = _aval(x)
    if new_dtype.itemsize > aval.dtype.itemsize and d == aval.ndim - 1:
        # Widening consumes the last axis, so the batch axis must not be it.
        x, d = batching.moveaxis(x, d, 0), 0
    return ew.bitcast_convert_type_p.bind(x, new_dtype=new_dtype), d


batching.primitive_batchers[ew.bitcast_convert_type_p] = _bitcast_convert_type_batch

ad.deflinear(ew.reduce_precision_p,
             lambda ct, x, **params: [ew.reduce_precision_p.bind(ct, **params)])
_vectorized(ew.convert_element_type_p, ew.reduce_precision_p)

# --------------------------------------------------------------------------------------
# stop_gradient
# --------------------------------------------------------------------------------------


def _stop_gradient_jvp(primals: Sequence[Any], tangents: Sequence[Any]) -> tuple[Any, Any]:
    (x,) = primals
    return ew.stop_gradient_p.bind(x), ad.Zero.like(x)


ad.primitive_jvps[ew.stop_gradient_p] = _stop_gradient_jvp
_vectorized(ew.stop_gradient_p)
