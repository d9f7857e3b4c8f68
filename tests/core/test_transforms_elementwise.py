"""JVP, transpose and batching rules of the elementwise primitives (lax/elementwise.py).

Table-driven: each `Op` builds its function from a `lax` namespace, so the same code runs
with `lamina.lax` and with `jax.lax` (the oracle), on domain-safe samples. Per op:
`lamina.jvp` and `lamina.grad` (of a weighted sum) against jax; `check_grads` in
float64 (finite differences and the transposition identity; order 2 for a subset);
`check_vmap` against a Python loop, over mapped/unmapped and 0-d operand mixes and
in_axes other than 0. Non-differentiable ops must give zero / float0 tangents as jax
does. A few compositions (jit of grad, vmap of grad) close the file.
"""
from __future__ import annotations

import dataclasses
import warnings
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import lamina
from lamina import dtypes, lax
from lamina.config import config
from lamina.testing import assert_trees_close, check_grads, check_vmap

# --------------------------------------------------------------------------------------
# Samplers: domain-safe float32 values of a shape
# --------------------------------------------------------------------------------------


def _uniform(lo: float, hi: float) -> Callable[..., np.ndarray]:
    return lambda rng, shape: rng.uniform(lo, hi, shape).astype(np.float32)


def _normal(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return rng.standard_normal(shape).astype(np.float32)


def _nonzero(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    mag = rng.uniform(0.5, 2.0, shape)
    return (mag * rng.choice([-1.0, 1.0], shape)).astype(np.float32)


ANY, NZ = _normal, _nonzero
POS, UNIT, GT1 = _uniform(0.5, 2.0), _uniform(-0.8, 0.8), _uniform(1.2, 3.0)


@dataclasses.dataclass(frozen=True)
class Op:
    """`fn(lax)` is the function under test; `samplers` one per argument; `order` the
    check_grads order (0: skip finite differences, e.g. piecewise-constant math)."""

    name: str
    fn: Callable[[Any], Callable[..., Any]]
    samplers: tuple[Callable[..., np.ndarray], ...]
    order: int = 1

    def args(self, rng: np.random.Generator, shapes: tuple[tuple[int, ...], ...]
             ) -> tuple[np.ndarray, ...]:
        return tuple(s(rng, sh) for s, sh in zip(self.samplers, shapes))


def _un(name: str, sampler: Any = ANY, order: int = 1, **kw: Any) -> Op:
    return Op(name, lambda l: lambda x: getattr(l, name)(x, **kw), (sampler,), order)


UNARY = [
    _un("neg", order=2), _un("exp", order=2), _un("exp2"), _un("log", POS, 2), _un("expm1"),
    _un("log1p", POS), _un("tanh", order=2), _un("logistic", order=2), _un("sin", order=2),
    _un("cos"), _un("tan", UNIT), _un("asin", UNIT), _un("acos", UNIT), _un("atan"),
    _un("sinh"), _un("cosh"), _un("asinh"), _un("acosh", GT1), _un("atanh", UNIT),
    _un("sqrt", POS, 2), _un("rsqrt", POS), _un("cbrt", NZ), _un("abs", NZ, 2),
    _un("erf", order=2), _un("erfc"), _un("erf_inv", UNIT), _un("lgamma", POS),
    _un("digamma", POS), _un("square", order=2), _un("reciprocal", NZ),
    Op("integer_pow_3", lambda l: lambda x: l.integer_pow(x, 3), (ANY,), 2),
    Op("integer_pow_-2", lambda l: lambda x: l.integer_pow(x, -2), (NZ,)),
    Op("integer_pow_1", lambda l: lambda x: l.integer_pow(x, 1), (ANY,)),
    Op("integer_pow_0", lambda l: lambda x: l.integer_pow(x, 0), (ANY,)),
    Op("polygamma_1", lambda l: lambda x: l.polygamma(l.full_like(x, 1), x), (POS,)),
    Op("reduce_precision", lambda l: lambda x: l.reduce_precision(x, 5, 10), (ANY,), 0),
    Op("convert_bf16", lambda l: lambda x: l.convert_element_type(x, jnp.bfloat16),
       (ANY,), 0),
    Op("convert_complex", lambda l: lambda x: l.convert_element_type(
        x, np.complex128 if x.dtype == np.float64 else np.complex64), (ANY,)),
]

BINARY = [
    Op("add", lambda l: l.add, (ANY, ANY), 2), Op("sub", lambda l: l.sub, (ANY, ANY), 2),
    Op("mul", lambda l: l.mul, (ANY, ANY), 2), Op("div", lambda l: l.div, (ANY, NZ), 2),
    # NOTE: x / y stays inside (2, 3), away from rem's jumps at integer quotients.
    Op("rem", lambda l: l.rem, (_uniform(2.2, 2.8), _uniform(1.0, 1.05))),
    Op("pow", lambda l: l.pow, (POS, _uniform(-1.5, 1.5)), 2),
    Op("pow_int", lambda l: lambda x: l.pow(x, np.arange(6, dtype=np.int32).reshape(2, 3)),
       (POS,)),
    Op("max", lambda l: l.max, (ANY, ANY)), Op("min", lambda l: l.min, (ANY, ANY)),
    Op("atan2", lambda l: l.atan2, (NZ, NZ), 2),
    Op("complex", lambda l: l.complex, (ANY, ANY)),
    Op("clamp_x", lambda l: lambda x: l.clamp(np.asarray(-0.5, x.dtype), x,
                                               np.asarray(0.5, x.dtype)), (ANY,)),
    Op("clamp_all", lambda l: lambda lo, x, hi: l.clamp(lo, x, hi),
       (_uniform(-1.0, -0.2), ANY, _uniform(0.2, 1.0))),
    Op("select", lambda l: lambda x, y: l.select(l.gt(x, y), x, y), (ANY, ANY)),
    Op("select_n_int", lambda l: lambda x, y, z: l.select_n(
        np.array([[0, 1, 2], [2, 1, 0]], np.int32), x, y, z), (ANY, ANY, ANY)),
]
OPS = {op.name: op for op in UNARY + BINARY}
SHAPE = (2, 3)


def _shapes(op: Op) -> tuple[tuple[int, ...], ...]:
    return (SHAPE,) * len(op.samplers)


def _weighted_sum(l: Any, f: Callable[..., Any], w: np.ndarray) -> Callable[..., Any]:
    """A real scalar loss of f's output (its real part, for complex outputs)."""

    def loss(*args: Any) -> Any:
        out = f(*args)
        if np.issubdtype(np.dtype(out.dtype), np.complexfloating):
            out = l.add(l.real(out), l.imag(out))
        out = l.convert_element_type(out, np.float32)
        return l.reduce_sum(l.mul(out, w), tuple(range(len(w.shape))))

    return loss


def _tangents(rng: np.random.Generator, args: tuple[np.ndarray, ...]) -> tuple[Any, ...]:
    return tuple(_normal(rng, a.shape) for a in args)


# --------------------------------------------------------------------------------------
# Against jax: jvp and grad, same shapes and 0-d operands mixed in
# --------------------------------------------------------------------------------------

MIXED = {"add": ((), SHAPE), "sub": (SHAPE, ()), "mul": ((), SHAPE), "div": (SHAPE, ()),
         "pow": ((), SHAPE), "max": (SHAPE, ()), "atan2": ((), SHAPE),
         "complex": (SHAPE, ()), "clamp_all": ((), SHAPE, SHAPE),
         "rem": ((), SHAPE)}


def _cases() -> list[Any]:
    cases = [pytest.param(op, _shapes(op), id=op.name) for op in UNARY + BINARY]
    cases += [pytest.param(OPS[n], s, id=f"{n}-0d") for n, s in MIXED.items()]
    return cases


@pytest.mark.parametrize("op, shapes", _cases())
def test_jvp_and_grad_match_jax(op, shapes, rng):
    args = op.args(rng, shapes)
    tangents = _tangents(rng, args)
    fn_jax = op.fn(jax.lax)
    if op.name == "clamp_all" and shapes[0] == ():
        # NOTE: jax's clamp JVP fails for a 0-d bound with a tangent (it selects between
        # a 0-d tangent and full-shape zeros), so the oracle broadcasts the bound first.
        fn_jax = lambda lo, x, hi: jax.lax.clamp(jnp.broadcast_to(lo, x.shape), x, hi)  # noqa: E731
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", np.exceptions.ComplexWarning)
        got = lamina.jvp(op.fn(lax), args, tangents)
        want = jax.jvp(fn_jax, args, tangents)
        assert_trees_close(got, want, rtol=2e-5, atol=2e-5)
        out_shape = np.shape(want[0])
        w = _normal(rng, out_shape)
        argnums = tuple(range(len(args)))
        got = lamina.grad(_weighted_sum(lax, op.fn(lax), w), argnums)(*args)
        want = jax.grad(_weighted_sum(jax.lax, fn_jax, w), argnums)(*args)
    assert_trees_close(got, want, rtol=2e-5, atol=2e-5)


COMPLEX_OPS = ["exp", "log", "sin", "cos", "tanh", "sqrt", "abs", "real", "imag", "conj",
               "square", "reciprocal", "mul", "div", "convert_real"]


def _complex_fn(name: str, l: Any) -> Callable[..., Any]:
    if name in ("mul", "div"):
        return getattr(l, name)
    if name == "convert_real":
        return lambda x: l.convert_element_type(x, np.float32)
    return getattr(l, name)


@pytest.mark.parametrize("name", COMPLEX_OPS)
def test_complex_jvp_and_vjp_match_jax(name, rng):
    def sample() -> np.ndarray:
        return (rng.uniform(0.5, 1.5, SHAPE) + 1j * rng.uniform(0.5, 1.5, SHAPE)
                ).astype(np.complex64)

    nargs = 2 if name in ("mul", "div") else 1
    args = tuple(sample() for _ in range(nargs))
    tangents = tuple(sample() for _ in range(nargs))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", np.exceptions.ComplexWarning)
        got = lamina.jvp(_complex_fn(name, lax), args, tangents)
        want = jax.jvp(_complex_fn(name, jax.lax), args, tangents)
        assert_trees_close(got, want, rtol=2e-5, atol=2e-5)
        out, f_vjp = lamina.vjp(_complex_fn(name, lax), *args)
        out_j, f_vjp_j = jax.vjp(_complex_fn(name, jax.lax), *args)
        ct = sample() if np.iscomplexobj(out_j) else _normal(rng, SHAPE)
        assert_trees_close(f_vjp(ct), f_vjp_j(ct), rtol=2e-5, atol=2e-5)


# --------------------------------------------------------------------------------------
# Finite differences in float64
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("op", [o for o in UNARY + BINARY if o.order > 0], ids=lambda o: o.name)
def test_check_grads(op, rng):
    shapes = MIXED.get(op.name, _shapes(op))
    args = tuple(a.astype(np.float64) for a in op.args(rng, shapes))
    f = op.fn(lax)
    if op.name in ("complex", "convert_complex"):
        # NOTE: a real-valued view: check_vjp's <ct, J t> identity holds only in its real
        # part for real inputs and complex outputs (jax's transposition convention).
        f = lambda *a, f=f: lax.add(lax.real(f(*a)), lax.mul(lax.imag(f(*a)), 2.0))  # noqa: E731
    with config.override(enable_x64=True):
        check_grads(f, args, order=op.order, rtol=1e-5, atol=1e-5)


# --------------------------------------------------------------------------------------
# vmap against a Python loop
# --------------------------------------------------------------------------------------


def _batched(rng: np.random.Generator, sampler: Any, shape: tuple[int, ...], axis: Any,
             n: int = 3) -> np.ndarray:
    if axis is None:
        return sampler(rng, shape)
    full = list(shape)
    full.insert(axis, n)
    return sampler(rng, tuple(full))


@pytest.mark.parametrize("op", UNARY, ids=lambda o: o.name)
def test_vmap_unary(op, rng):
    check_vmap(op.fn(lax), (_batched(rng, op.samplers[0], SHAPE, 1),), in_axes=1)


# (unbatched shapes, in_axes): mapped/unmapped mixes, 0-d operands on either side.
NARY_VMAP = [
    ((SHAPE, SHAPE), (0, 0)), ((SHAPE, SHAPE), (None, 1)), ((SHAPE, SHAPE), (2, 0)),
    (((), SHAPE), (0, None)), ((SHAPE, ()), (1, None)), (((), SHAPE), (None, 1)),
    (((), ()), (0, None)),
]


def _vmap_binary_cases() -> list[Any]:
    # Every mix for a few ops; the rest share defbroadcasting, so one 0-d mix each.
    cases = [pytest.param(n, sh, ax, id=f"{n}-{ax}") for n in ("add", "pow", "max", "complex")
             for sh, ax in NARY_VMAP]
    cases += [pytest.param(n, *NARY_VMAP[i], id=f"{n}-{NARY_VMAP[i][1]}")
              for i, n in enumerate(["sub", "mul", "div", "atan2", "rem", "min"], start=1)]
    return cases


@pytest.mark.parametrize("name, shapes, in_axes", _vmap_binary_cases())
def test_vmap_binary(name, shapes, in_axes, rng):
    op = OPS[name]
    args = tuple(_batched(rng, s, sh, ax) for s, sh, ax in zip(op.samplers, shapes, in_axes))
    check_vmap(op.fn(lax), args, in_axes=in_axes)


@pytest.mark.parametrize("shapes, in_axes", [
    (((), SHAPE, ()), (None, 0, None)), (((), SHAPE, ()), (0, None, 0)),
    ((SHAPE, SHAPE, SHAPE), (1, 0, None)), (((), (), ()), (0, None, None)),
    (((), SHAPE, SHAPE), (0, 1, None)),
], ids=str)
def test_vmap_clamp(shapes, in_axes, rng):
    samplers = (_uniform(-1.0, -0.2), ANY, _uniform(0.2, 1.0))
    args = tuple(_batched(rng, s, sh, ax) for s, sh, ax in zip(samplers, shapes, in_axes))
    check_vmap(lax.clamp, args, in_axes=in_axes)


def _bool(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return rng.uniform(size=shape) > 0.5


def _index(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return rng.integers(0, 3, shape).astype(np.int32)


@pytest.mark.parametrize("which, shapes, in_axes", [
    (_bool, (SHAPE, SHAPE, SHAPE), (0, 0, 0)),       # batched predicate and cases
    (_bool, ((), SHAPE, SHAPE), (None, 1, 0)),       # unbatched 0-d predicate
    (_bool, (SHAPE, SHAPE, SHAPE), (None, 0, None)),  # unbatched full predicate
    (_bool, ((), SHAPE, SHAPE), (0, None, 1)),       # batched 0-d predicate
    (_bool, ((), (), ()), (0, None, 0)),             # all 0-d
    (_index, (SHAPE, SHAPE, SHAPE, SHAPE), (1, 0, None, 2)),
    (_index, ((), SHAPE, SHAPE, SHAPE), (0, None, None, None)),
], ids=lambda v: v.__name__.strip("_") if callable(v) else str(v))
def test_vmap_select_n(which, shapes, in_axes, rng):
    samplers = (which, *[ANY] * (len(shapes) - 1))
    args = tuple(_batched(rng, s, sh, ax) for s, sh, ax in zip(samplers, shapes, in_axes))
    check_vmap(lax.select_n, args, in_axes=in_axes)


def _u16(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return rng.integers(0, 2**16, shape).astype(np.uint16)


@pytest.mark.parametrize("fn, sample, shape, in_axes", [
    (lambda x: lax.bitcast_convert_type(x, np.int32), ANY, SHAPE, 1),
    (lambda x: lax.bitcast_convert_type(x, np.uint16), ANY, SHAPE, 1),
    # Widening consumes the last axis: here the batch axis is the last one.
    (lambda x: lax.bitcast_convert_type(x, np.float32), _u16, (2, 3, 2), 3),
    (lambda x: lax.shift_left(x, np.int32(2)), _index, SHAPE, 1),
    (lambda x: lax.population_count(x), _index, SHAPE, 1),
    (lambda x: lax.eq(x, np.float32(0.5)), ANY, SHAPE, 0),
    (lambda x: lax.round(x, lax.RoundingMethod.TO_NEAREST_EVEN), ANY, SHAPE, 1),
    (lambda x: lax.convert_element_type(x, np.int32), ANY, SHAPE, 1),
    (lambda x: lax.stop_gradient(x), ANY, SHAPE, 1),
], ids=["bitcast_same", "bitcast_narrow", "bitcast_wide", "shift", "popcnt", "eq", "round",
        "convert", "stop_gradient"])
def test_vmap_other(fn, sample, shape, in_axes, rng):
    check_vmap(fn, (_batched(rng, sample, shape, in_axes),), in_axes=in_axes)


# --------------------------------------------------------------------------------------
# Non-differentiable ops: zero tangents, float0 for integer/bool results (as jax)
# --------------------------------------------------------------------------------------

ZERO_JVP = [
    ("sign", lambda l: l.sign, ANY), ("floor", lambda l: l.floor, ANY),
    ("ceil", lambda l: l.ceil, ANY), ("round", lambda l: l.round, ANY),
    ("is_finite", lambda l: l.is_finite, ANY),
    ("lt", lambda l: lambda x: l.lt(x, l.full_like(x, 0.0)), ANY),
    ("eq", lambda l: lambda x: l.eq(x, x), ANY),
    ("bitcast", lambda l: lambda x: l.bitcast_convert_type(x, np.int32), ANY),
    ("convert_int", lambda l: lambda x: l.convert_element_type(x, np.int32), ANY),
    ("convert_bool", lambda l: lambda x: l.convert_element_type(x, np.bool_), ANY),
    ("stop_gradient", lambda l: l.stop_gradient, ANY),
]


@pytest.mark.parametrize("name, fn, sampler", ZERO_JVP, ids=[z[0] for z in ZERO_JVP])
def test_zero_tangents_match_jax(name, fn, sampler, rng):
    x = sampler(rng, SHAPE)
    t = _normal(rng, SHAPE)
    got = lamina.jvp(fn(lax), (x,), (t,))
    want = jax.jvp(fn(jax.lax), (x,), (t,))
    assert_trees_close(got, want)
    # The gradient through a non-differentiable op is zero.
    g = lamina.grad(lambda x: lax.reduce_sum(
        lax.mul(lax.convert_element_type(fn(lax)(x), np.float32), x), (0, 1)))(x)
    g_jax = jax.grad(lambda x: jax.lax.reduce_sum(
        jax.lax.mul(jax.lax.convert_element_type(fn(jax.lax)(x), np.float32), x), (0, 1)))(x)
    assert_trees_close(g, g_jax)


@pytest.mark.parametrize("name, fn", [
    ("not", lambda l: l.bitwise_not), ("and", lambda l: lambda x: l.bitwise_and(x, x)),
    ("or", lambda l: lambda x: l.bitwise_or(x, np.int32(3))),
    ("xor", lambda l: lambda x: l.bitwise_xor(x, x)),
    ("shift_left", lambda l: lambda x: l.shift_left(x, np.int32(1))),
    ("shift_right_arithmetic", lambda l: lambda x: l.shift_right_arithmetic(x, np.int32(1))),
    ("shift_right_logical", lambda l: lambda x: l.shift_right_logical(x, np.int32(1))),
    ("population_count", lambda l: l.population_count), ("clz", lambda l: l.clz),
    ("abs_int", lambda l: l.abs), ("max_int", lambda l: lambda x: l.max(x, x)),
])
def test_integer_ops_have_float0_gradients(name, fn, rng):
    x = _index(rng, SHAPE)

    def loss(l: Any) -> Callable[..., Any]:
        return lambda x: l.reduce_sum(l.convert_element_type(fn(l)(x), np.float32), (0, 1))

    got = lamina.grad(loss(lax), allow_int=True)(x)
    want = jax.grad(loss(jax.lax), allow_int=True)(x)
    assert got.dtype == want.dtype == jax.dtypes.float0 and got.shape == want.shape


# --------------------------------------------------------------------------------------
# Specific rules
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["max", "min"])
def test_max_min_ties_split_the_gradient(name):
    x = np.array([1.0, 2.0, 3.0], np.float32)
    y = np.array([1.0, 0.0, 3.0], np.float32)
    f = lambda l: lambda x, y: l.reduce_sum(getattr(l, name)(x, y), (0,))  # noqa: E731
    got = lamina.grad(f(lax), (0, 1))(x, y)
    want = jax.grad(f(jax.lax), (0, 1))(x, y)
    assert_trees_close(got, want)
    assert float(got[0][0]) == 0.5


def test_abs_and_pow_at_zero_match_jax():
    x = np.array([0.0, -1.0, 2.0], np.float32)
    for f in (lambda l: l.abs, lambda l: lambda x: l.pow(x, np.int32(0)),
              lambda l: lambda x: l.pow(x, np.int32(2)), lambda l: lambda x: l.sqrt(l.abs(x))):
        got = lamina.jvp(f(lax), (x,), (np.ones(3, np.float32),))
        want = jax.jvp(f(jax.lax), (x,), (np.ones(3, np.float32),))
        assert_trees_close(got, want)


def test_stop_gradient_pytree_and_ints():
    tree = {"a": np.float32(2.0), "b": (np.arange(3, dtype=np.int32), 1.5)}
    out = lax.stop_gradient(tree)
    assert out["b"][0] is tree["b"][0]  # integer leaves pass through untouched
    assert_trees_close(out["a"], np.float32(2.0))
    assert float(out["b"][1]) == 1.5
    x, t = np.float32(2.0), np.float32(1.0)
    assert_trees_close(lamina.jvp(lax.stop_gradient, (x,), (t,)), (x, np.float32(0.0)))
    got = lamina.jvp(lambda x: lax.nextafter(x, np.float32(3.0)), (x,), (t,))
    assert_trees_close(got[1], np.float32(0.0))

    def f(x):
        s = lax.stop_gradient({"x": x})["x"]
        return lax.add(lax.mul(x, s), lax.mul(s, s))

    assert_trees_close(lamina.grad(f)(np.float32(3.0)), np.float32(3.0))
    assert_trees_close(lamina.vmap(lamina.grad(f))(np.arange(3, dtype=np.float32)),
                       np.arange(3, dtype=np.float32))
    # Under jit the primitive is staged and lowered as the identity.
    assert_trees_close(lamina.jit(lax.stop_gradient)(np.float32(4.0)), np.float32(4.0))


def test_polygamma_values_match_jax(rng):
    x = POS(rng, SHAPE)
    for m in (0.0, 1.0, 2.0):
        mm = np.full(SHAPE, m, np.float32)
        assert_trees_close(lax.polygamma(mm, x), jax.lax.polygamma(mm, x), rtol=1e-5)
    with pytest.raises(ValueError, match="order m"):
        lamina.jvp(lax.polygamma, (mm, x), (x, x))


def test_transpose_of_convert_element_type_sums_back(rng):
    x = _normal(rng, SHAPE)

    def f(l: Any) -> Callable[..., Any]:
        return lambda x: l.mul(l.convert_element_type(x, jnp.bfloat16),
                               l.convert_element_type(x, jnp.bfloat16))

    _, f_vjp = lamina.vjp(f(lax), x)
    _, f_vjp_j = jax.vjp(f(jax.lax), x)
    ct = np.ones(SHAPE, jnp.bfloat16)
    got, = f_vjp(ct)
    assert got.dtype == np.float32
    assert_trees_close(got, f_vjp_j(ct)[0])


# --------------------------------------------------------------------------------------
# Compositions
# --------------------------------------------------------------------------------------

COMPOSE = ["sin", "pow", "max", "div", "clamp_all", "select_n_int", "abs"]


@pytest.mark.parametrize("name", COMPOSE)
def test_jit_and_vmap_of_grad(name, rng):
    op = OPS[name]
    args = op.args(rng, _shapes(op))
    w = _normal(rng, SHAPE)
    loss, loss_jax = _weighted_sum(lax, op.fn(lax), w), _weighted_sum(jax.lax, op.fn(jax.lax), w)
    argnums = tuple(range(len(args)))
    want = jax.grad(loss_jax, argnums)(*args)
    assert_trees_close(lamina.jit(lamina.grad(loss, argnums))(*args), want, rtol=2e-5,
                       atol=2e-5)
    batched = tuple(np.stack([a, a[::-1]]) for a in args)
    got = lamina.vmap(lamina.grad(loss, argnums))(*batched)
    want = jax.vmap(jax.grad(loss_jax, argnums))(*batched)
    assert_trees_close(got, want, rtol=2e-5, atol=2e-5)


def test_grad_of_vmap_with_unmapped_scalar(rng):
    x, y = _normal(rng, (4, 3)), np.float32(0.7)

    def f(l: Any, vmap: Any) -> Callable[..., Any]:
        inner = vmap(lambda r, s: l.mul(l.sin(r), l.max(s, r)), in_axes=(0, None))
        return lambda x, y: l.reduce_sum(inner(x, y), (0, 1))

    got = lamina.grad(f(lax, lamina.vmap), (0, 1))(x, y)
    want = jax.grad(f(jax.lax, jax.vmap), (0, 1))(x, y)
    assert_trees_close(got, want, rtol=2e-5, atol=2e-5)
    assert dtypes.canonicalize_dtype(got[1].dtype) == np.float32
