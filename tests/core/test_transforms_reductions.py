"""JVP, transpose and batching rules of the reduction family (lax/reductions.py).

One table of cases, each a function written against a `lax` namespace so that the same
code runs with `lamina.lax` and with `jax.lax` (the oracle). Per case: `lamina.jvp` /
`lamina.vjp` against `jax.jvp` / `jax.vjp`; `check_grads` in float64 (finite
differences and the transposition identity); `check_vmap` (a Python loop) over the
case's in_axes. Inputs have no ties (finite differences need that for max/min/sort);
ties are tested separately against jax. A few compositions close the file.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable

import jax
import numpy as np
import pytest

import lamina
from lamina import lax
from lamina.config import config
from lamina.interpreters import ad, batching
from lamina.ir import Primitive
from lamina.lax import reductions as R
from lamina.testing import assert_trees_close, check_grads, check_vmap


def _f32(rng: np.random.Generator, *shape: int) -> np.ndarray:
    return rng.standard_normal(shape).astype(np.float32)


def _with_zeros(rng: np.random.Generator, *shape: int) -> np.ndarray:
    """Random values with exact zeros (one in some rows, two in another)."""
    x = _f32(rng, *shape)
    x[0, 1] = 0.0
    x[-1, 0] = x[-1, -1] = 0.0
    return x


@dataclasses.dataclass(frozen=True)
class Case:
    """`fn(lax)` builds the function under test from a lax namespace; `args(rng)` its
    float32 arguments; `in_axes` the vmap axes to try (batch of 3 along each)."""

    name: str
    fn: Callable[[Any], Callable[..., Any]]
    args: Callable[[np.random.Generator], tuple[np.ndarray, ...]]
    in_axes: tuple[Any, ...] = (0,)
    jax_vjp: bool = True  # jax has a VJP (not for max pooling with window dilation)


def _argmax_mix(l: Any) -> Callable[..., Any]:
    """An int output (argmax) feeding a float one: its tangent must be a zero."""
    return lambda x: l.mul(l.reduce_max(x, (0,)),
                           l.convert_element_type(l.argmax(x, 0, np.int32), x.dtype))


def _logical_mix(l: Any) -> Callable[..., Any]:
    def f(x):
        pos = l.gt(x, l.full_like(x, 0.0))
        flags = [l.reduce_or(pos, (1,)), l.reduce_and(pos, (1,)), l.reduce_xor(pos, (1,))]
        total = l.reduce_sum(x, (1,))
        for b in flags:
            total = l.mul(total, l.add(l.convert_element_type(b, x.dtype),
                                       l.full_like(total, 2.0)))
        return l.mul(total, l.convert_element_type(l.argmin(x, 1, np.int32), x.dtype))
    return f


def _rw(kind: str, dims: tuple, strides: tuple, padding: Any, base: Any = None,
        wdil: Any = None) -> Callable[[Any], Callable[..., Any]]:
    def build(l: Any) -> Callable[..., Any]:
        op, init = {"sum": (l.add, 0.0), "max": (l.max, -np.inf), "min": (l.min, np.inf)}[kind]
        return lambda x: l.reduce_window(x, init, op, dims, strides, padding, base, wdil)
    return build


def _x(*shape: int) -> Callable[[np.random.Generator], tuple[np.ndarray, ...]]:
    return lambda r: (_f32(r, *shape),)


CASES = [
    Case("reduce_sum", lambda l: lambda x: l.reduce_sum(x, (1,)), _x(3, 4), (0, 1)),
    Case("reduce_sum_axes", lambda l: lambda x: l.reduce_sum(x, (0, 2)), _x(2, 3, 2), (2,)),
    Case("reduce_prod", lambda l: lambda x: l.reduce_prod(x, (1,)), _x(3, 5), (1,)),
    Case("reduce_prod_zeros", lambda l: lambda x: l.reduce_prod(x, (1,)),
         lambda r: (_with_zeros(r, 3, 4),), (0,)),
    Case("reduce_prod_axes", lambda l: lambda x: l.reduce_prod(x, (0, 2)), _x(2, 3, 3), (1,)),
    Case("reduce_max", lambda l: lambda x: l.reduce_max(x, (1,)), _x(3, 4), (2,)),
    Case("reduce_min", lambda l: lambda x: l.reduce_min(x, (0, 1)), _x(3, 4), (1,)),
    Case("argmax", _argmax_mix, _x(4, 3), (1,)),
    Case("logical", _logical_mix, _x(3, 4), (0,)),
    Case("cumsum_rev", lambda l: lambda x: l.cumsum(x, 1, reverse=True), _x(3, 5), (0, 1)),
    Case("cumprod", lambda l: lambda x: l.cumprod(x, 1), _x(2, 7), (1,)),
    Case("cumprod_rev_zeros", lambda l: lambda x: l.cumprod(x, 1, reverse=True),
         lambda r: (_with_zeros(r, 3, 4),), (0,)),
    Case("cummax", lambda l: lambda x: l.cummax(x, 0), _x(6, 2), (1,)),
    Case("cummin_rev", lambda l: lambda x: l.cummin(x, 1, reverse=True), _x(2, 5), (0,)),
    Case("cumlogsumexp_rev", lambda l: lambda x: l.cumlogsumexp(x, 0, reverse=True),
         _x(5, 2), (1,)),
    Case("sort", lambda l: lambda x: l.sort(x, dimension=0), _x(5, 3), (0,)),
    Case("sort_key_val", lambda l: lambda k, v: l.sort((k, v), dimension=1, num_keys=1),
         lambda r: (_f32(r, 2, 5), _f32(r, 2, 5)), ((None, 1), (1, 0))),
    Case("sort_two_keys",
         lambda l: lambda k, v: l.sort((l.round(k), v, k), dimension=0, num_keys=2),
         lambda r: (_f32(r, 6), _f32(r, 6)), ((0, None),)),
    Case("top_k", lambda l: lambda x: l.top_k(x, 3)[0], _x(2, 5), (1,)),
    Case("rw_sum", _rw("sum", (2, 3), (2, 1), ((1, 0), (0, 2))), _x(5, 4), (2,)),
    Case("rw_sum_dilated", _rw("sum", (2, 2), (1, 2), ((1, 1), (0, 1)), (2, 1), (1, 2)),
         _x(4, 5), (1,)),
    Case("rw_max", _rw("max", (2, 2), (1, 2), "SAME"), _x(4, 5), (1,)),
    Case("rw_min_dilated", _rw("min", (3, 2), (2, 1), ((1, 2), (0, 0)), (1, 2)),
         _x(6, 3), (1,)),
    Case("rw_max_wdil", _rw("max", (2, 2), (1, 1), ((0, 1), (1, 0)), None, (2, 1)),
         _x(4, 3), (0,), jax_vjp=False),
]
IDS = [c.name for c in CASES]


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_jvp_vjp_against_jax(case):
    rng = np.random.default_rng(0)
    xs = case.args(rng)
    # NOTE: under `jit` each transformation compiles one program (eager op-by-op
    # dispatch of the scans' many small ops is slow on the shared CI box).
    f, f_jax = lamina.jit(case.fn(lax)), jax.jit(case.fn(jax.lax))
    tangents = tuple(_f32(rng, *np.shape(x)) for x in xs)
    out, t_out = lamina.jvp(f, xs, tangents)
    want_out, want_t = jax.jvp(f_jax, xs, tangents)
    tol = dict(rtol=2e-5, atol=2e-5)
    assert_trees_close(out, want_out, **tol)
    assert_trees_close(t_out, want_t, **tol)

    if not case.jax_vjp:
        return
    out, f_vjp = lamina.vjp(f, *xs)
    _, jax_vjp = jax.vjp(f_jax, *xs)
    ct = jax.tree_util.tree_map(lambda o: _f32(rng, *np.shape(o)), want_out)
    for x, g, w in zip(xs, f_vjp(ct), jax_vjp(ct)):
        assert (np.shape(g), np.asarray(g).dtype) == (x.shape, x.dtype)
        assert_trees_close(g, w, **tol)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_check_grads(case):
    args = case.args(np.random.default_rng(1))
    with config.override(enable_x64=True):
        check_grads(lamina.jit(case.fn(lax)), tuple(a.astype(np.float64) for a in args), order=1,
                    rtol=1e-6, atol=1e-6)


def _batched(args: tuple[np.ndarray, ...], in_axes: Any, rng: np.random.Generator,
             size: int = 3) -> tuple[np.ndarray, ...]:
    return tuple(a if ax is None else np.stack([_f32(rng, *a.shape) for _ in range(size)], ax)
                 for a, ax in zip(args, in_axes))


VMAP_CASES = [(c, ax) for c in CASES for ax in c.in_axes]


@pytest.mark.parametrize("case,in_axes", VMAP_CASES,
                         ids=[f"{c.name}-{ax}" for c, ax in VMAP_CASES])
def test_vmap(case, in_axes):
    args = case.args(np.random.default_rng(2))
    axes = in_axes if isinstance(in_axes, tuple) else (in_axes,) * len(args)
    check_vmap(case.fn(lax), _batched(args, axes, np.random.default_rng(3)), axes)


def test_every_primitive_has_rules():
    prims = [v for v in vars(R).values() if isinstance(v, Primitive)]
    assert len(prims) == 19
    for p in prims:
        assert p in ad.primitive_jvps, p
        assert p in batching.primitive_batchers, p
    for p in (R.reduce_sum_p, R.cumsum_p, R.reduce_window_sum_p):
        assert p in ad.primitive_transposes, p


# --------------------------------------------------------------------------------------
# Ties, against jax
# --------------------------------------------------------------------------------------

TIES = np.array([[1.0, 3.0, 3.0, -2.0, 3.0], [0.5, 0.5, -1.0, 0.5, 2.0]], np.float32)

TIE_CASES = {
    "reduce_max": lambda l: lambda x: l.reduce_max(x, (1,)),
    "reduce_min_all": lambda l: lambda x: l.reduce_min(x, (0, 1)),
    "cummax": lambda l: lambda x: l.cummax(x, 1),
    "cummin_rev": lambda l: lambda x: l.cummin(x, 1, reverse=True),
    "sort_stable": lambda l: lambda x: l.sort(x, dimension=1),
    "top_k": lambda l: lambda x: l.top_k(x, 3)[0],
}


@pytest.mark.parametrize("name", list(TIE_CASES))
def test_ties_against_jax(name):
    f = TIE_CASES[name]
    w = np.arange(1.0, 1.0 + TIES.size, dtype=np.float32).reshape(TIES.shape)
    _, t_out = lamina.jvp(lamina.jit(f(lax)), (TIES,), (w,))
    _, want_t = jax.jvp(jax.jit(f(jax.lax)), (TIES,), (w,))
    assert_trees_close(t_out, want_t)
    out = jax.eval_shape(f(jax.lax), TIES)
    ct = np.linspace(-1.0, 2.0, int(np.prod(out.shape)), dtype=np.float32).reshape(out.shape)
    got = lamina.vjp(lamina.jit(f(lax)), TIES)[1](ct)
    want = jax.vjp(jax.jit(f(jax.lax)), TIES)[1](ct)
    assert_trees_close(got, want)


def test_reduce_prod_second_order_with_zeros():
    """The product tree is differentiable again: a Hessian-vector product with zeros."""
    x = np.array([2.0, 0.0, 3.0, 0.0, 5.0], np.float32)
    v = np.array([1.0, -1.0, 0.5, 2.0, 1.5], np.float32)
    g = lambda l: lambda x: l.reduce_prod(x, (0,))  # noqa: E731
    got = lamina.jit(lambda x: lamina.jvp(lamina.grad(g(lax)), (x,), (v,))[1])(x)
    want = jax.jvp(jax.grad(g(jax.lax)), (x,), (v,))[1]
    assert_trees_close(got, want)


# --------------------------------------------------------------------------------------
# Compositions
# --------------------------------------------------------------------------------------


def _loss(l: Any, g: Callable[..., Any]) -> Callable[..., Any]:
    """x -> sum(g(x) * g(x)) (every output contributes)."""
    def loss(*args: Any) -> Any:
        y = g(*args)
        y = y[0] if isinstance(y, (tuple, list)) else y
        return l.reduce_sum(l.mul(y, y), tuple(range(len(np.shape(y)))))
    return loss


COMPOSE = ["reduce_prod_zeros", "cumlogsumexp_rev", "sort_key_val", "rw_max", "rw_sum_dilated"]


@pytest.mark.parametrize("name", COMPOSE)
def test_jit_of_grad(name):
    case = CASES[IDS.index(name)]
    xs = case.args(np.random.default_rng(4))
    got = lamina.jit(lamina.grad(_loss(lax, case.fn(lax))))(*xs)
    want = jax.jit(jax.grad(_loss(jax.lax, case.fn(jax.lax))))(*xs)
    assert_trees_close(got, want, rtol=2e-5, atol=2e-5)


@pytest.mark.parametrize("name", ["cumprod", "top_k", "rw_min_dilated"])
def test_vmap_of_grad(name):
    case = CASES[IDS.index(name)]
    (x,) = case.args(np.random.default_rng(5))
    xb = np.stack([x, 2 * x, -x])
    got = lamina.jit(lamina.vmap(lamina.grad(_loss(lax, case.fn(lax)))))(xb)
    want = jax.jit(jax.vmap(jax.grad(_loss(jax.lax, case.fn(jax.lax)))))(xb)
    assert_trees_close(got, want, rtol=2e-5, atol=2e-5)
