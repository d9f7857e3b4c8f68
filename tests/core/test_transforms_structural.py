"""JVP, transpose and batching rules of the structural primitives (lax/structural.py).

One table of cases, each a function written against a `lax` namespace so that the very
same code runs with `lamina.lax` and with `jax.lax` (the oracle). Per case:
`lamina.jvp` / `lamina.vjp` against `jax.jvp` / `jax.vjp`; `check_grads` in float64
(finite differences, and the transposition identity <ct, J t> = <J^T ct, t>);
`check_vmap` (a Python loop) over mixes of mapped and unmapped in_axes. A few
compositions (jit of grad, grad of vmap, vmap of grad) close the file.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable

import jax
import numpy as np
import pytest

import lamina
from lamina import dtypes, lax
from lamina.config import config
from lamina.interpreters import ad, batching
from lamina.lax import elementwise, structural as S
from lamina.testing import assert_trees_close, check_grads, check_vmap


def _f32(rng: np.random.Generator, *shape: int) -> np.ndarray:
    return rng.standard_normal(shape).astype(np.float32)


def _i32(v: int) -> np.ndarray:
    return np.asarray(v, np.int32)


@dataclasses.dataclass(frozen=True)
class Case:
    """`fn(lax)` builds the function under test from a lax namespace; `args(rng)` its
    float32/int32 arguments; `in_axes` the vmap axes to try (a batch of 3 is built
    along each mapped axis)."""

    name: str
    fn: Callable[[Any], Callable[..., Any]]
    args: Callable[[np.random.Generator], tuple[np.ndarray, ...]]
    in_axes: tuple[Any, ...] = (0,)


def _pieces(lax_: Any) -> Callable[..., Any]:
    return lambda x: tuple(lax_.split(x, (2, 0, 3), axis=1))


def _with_iota(lax_: Any) -> Callable[..., Any]:
    return lambda x: lax_.concatenate([x, lax_.broadcasted_iota(x.dtype, (2, 3), 1)], 0)


CASES = [
    Case("broadcast_in_dim", lambda l: lambda x: l.broadcast_in_dim(x, (2, 3, 4), (1, 2)),
         lambda r: (_f32(r, 3, 1),), (0, 1)),
    Case("broadcast_scalar", lambda l: lambda x: l.broadcast_in_dim(x, (2, 3), ()),
         lambda r: (_f32(r),), (0,)),
    Case("expand_dims", lambda l: lambda x: l.expand_dims(x, (0, 2)),
         lambda r: (_f32(r, 2, 3),), (1,)),
    Case("reshape", lambda l: lambda x: l.reshape(x, (3, 2)),
         lambda r: (_f32(r, 2, 3),), (0, 2)),
    Case("reshape_dimensions", lambda l: lambda x: l.reshape(x, (6, 2), (1, 0, 2)),
         lambda r: (_f32(r, 2, 3, 2),), (1,)),
    Case("transpose", lambda l: lambda x: l.transpose(x, (2, 0, 1)),
         lambda r: (_f32(r, 2, 3, 4),), (0, 2, 3)),
    Case("squeeze", lambda l: lambda x: l.squeeze(x, (1,)),
         lambda r: (_f32(r, 2, 1, 3),), (0, 2)),
    Case("rev", lambda l: lambda x: l.rev(x, (0, 1)),
         lambda r: (_f32(r, 2, 3),), (0, 1)),
    Case("slice", lambda l: lambda x: l.slice(x, (1, 0), (3, 2)),
         lambda r: (_f32(r, 4, 3),), (1,)),
    Case("slice_strided", lambda l: lambda x: l.slice(x, (1, 0), (5, 5), (2, 3)),
         lambda r: (_f32(r, 5, 6),), (0, 2)),
    # NOTE: allow_negative_indices=False: the indices reach the primitive as given (no
    # wrapping select), so batched indices exercise exactly the rules here.
    Case("dynamic_slice",
         lambda l: lambda x, i, j: l.dynamic_slice(x, (i, j), (2, 3),
                                                   allow_negative_indices=False),
         lambda r: (_f32(r, 5, 4), _i32(1), _i32(0)),
         ((0, None, None), (None, 0, None), (1, 0, 0), (None, 0, 0))),
    Case("dynamic_slice_negative",
         lambda l: lambda x, i, j: l.dynamic_slice(x, (i, j), (2, 3)),
         lambda r: (_f32(r, 5, 4), _i32(4), _i32(-2)),
         ((0, None, None), (None, 0, 0))),
    Case("dynamic_update_slice",
         lambda l: lambda x, u, i, j: l.dynamic_update_slice(x, u, (i, j),
                                                             allow_negative_indices=False),
         lambda r: (_f32(r, 5, 4), _f32(r, 2, 3), _i32(1), _i32(0)),
         ((0, None, None, None), (None, 1, None, None), (0, 0, 0, None),
          (None, None, None, 0), (1, None, 0, 0))),
    Case("concatenate", lambda l: lambda x, y, z: l.concatenate([x, y, z], 1),
         lambda r: (_f32(r, 2, 3), _f32(r, 2, 1), _f32(r, 2, 2)),
         ((0, None, None), (None, 1, 0), (1, 0, 1))),
    Case("pad", lambda l: lambda x, v: l.pad(x, v, [(1, -1, 1), (-1, 2, 0)]),
         lambda r: (_f32(r, 3, 4), _f32(r)),
         ((0, None), (None, 0), (1, 0))),
    Case("pad_interior", lambda l: lambda x, v: l.pad(x, v, [(-2, 1, 2)]),
         lambda r: (_f32(r, 4), _f32(r)),
         ((0, None), (0, 0))),
    Case("pad_constant_value", lambda l: lambda x: l.pad(x, 0.5, [(-1, 1, 1), (2, -2, 0)]),
         lambda r: (_f32(r, 3, 4),), (1,)),
    Case("split", _pieces, lambda r: (_f32(r, 2, 5),), (0, 1)),
    # NOTE: the unused pieces get symbolic-zero cotangents.
    Case("split_one_piece", lambda l: lambda x: l.split(x, (1, 2), axis=0)[1],
         lambda r: (_f32(r, 3, 2),), (1,)),
    # NOTE: a constant operand stays known in the linear program (transpose gives None).
    Case("update_constant", lambda l: lambda u, i: l.dynamic_update_slice(
        np.ones((4, 3), u.dtype), u, (i, np.int32(1)),
        allow_negative_indices=False),
         lambda r: (_f32(r, 2, 2), _i32(1)), ((0, None), (None, 0), (1, 0))),
    Case("iota", _with_iota, lambda r: (_f32(r, 2, 3),), (1,)),
]
IDS = [c.name for c in CASES]


def test_every_primitive_has_rules():
    prims = [v for k, v in vars(S).items() if k.endswith("_p")]
    assert len(prims) == 12, [p.name for p in prims]
    for p in prims:
        assert p in ad.primitive_jvps, p
        if p is not S.iota_p:  # no operands: nothing to transpose or batch
            assert p in ad.primitive_transposes, p
            assert p in batching.primitive_batchers, p


def _is_float(x: Any) -> bool:
    return dtypes.is_inexact(np.asarray(x).dtype)


def _close_over_ints(f: Callable[..., Any], args: tuple[Any, ...]
                     ) -> tuple[Callable[..., Any], tuple[Any, ...]]:
    """`f` as a function of its float arguments only (the integer ones fixed).

    NOTE: `lamina.jvp` rejects the float0 tangents of integer arguments today
    (`shaped_abstractify` cannot canonicalize float0), so index operands are closed
    over; they still reach the primitives as operands.
    """
    floats = [i for i, a in enumerate(args) if _is_float(a)]

    def g(*xs: Any) -> Any:
        full = list(args)
        for i, x in zip(floats, xs):
            full[i] = x
        return f(*full)

    return g, tuple(args[i] for i in floats)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_jvp_vjp_against_jax(case):
    rng = np.random.default_rng(0)
    args = case.args(rng)
    f, xs = _close_over_ints(case.fn(lax), args)
    f_jax, _ = _close_over_ints(case.fn(jax.lax), args)
    tangents = tuple(_f32(rng, *np.shape(x)) for x in xs)
    out, t_out = lamina.jvp(f, xs, tangents)
    want_out, want_t = jax.jvp(f_jax, xs, tangents)
    assert_trees_close(out, want_out)
    assert_trees_close(t_out, want_t)

    out, f_vjp = lamina.vjp(f, *xs)
    _, jax_vjp = jax.vjp(f_jax, *xs)
    ct = jax.tree_util.tree_map(lambda o: _f32(rng, *np.shape(o)), want_out)
    got, want = f_vjp(ct), jax_vjp(ct)
    for x, g, w in zip(xs, got, want):
        assert (np.shape(g), np.asarray(g).dtype) == (x.shape, x.dtype)
        assert_trees_close(g, w)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_check_grads(case):
    args = case.args(np.random.default_rng(1))
    with config.override(enable_x64=True):
        args64 = tuple(a.astype(np.float64) if _is_float(a) else a for a in args)
        f, xs = _close_over_ints(case.fn(lax), args64)
        check_grads(f, xs, order=1, rtol=1e-6, atol=1e-6)


def _batched(args: tuple[np.ndarray, ...], in_axes: Any, rng: np.random.Generator,
             size: int = 3) -> tuple[np.ndarray, ...]:
    """`args` with a batch of `size` stacked along each mapped axis (indices step by
    3, so some lanes are out of range and get clamped)."""
    out = []
    for a, ax in zip(args, in_axes):
        if ax is None:
            out.append(a)
        elif _is_float(a):
            out.append(np.stack([_f32(rng, *a.shape) for _ in range(size)], ax))
        else:
            out.append(np.stack([a + 3 * k for k in range(size)], ax).astype(a.dtype))
    return tuple(out)


VMAP_CASES = [(c, ax) for c in CASES for ax in c.in_axes]


@pytest.mark.parametrize("case,in_axes", VMAP_CASES,
                         ids=[f"{c.name}-{ax}" for c, ax in VMAP_CASES])
def test_vmap(case, in_axes):
    args = case.args(np.random.default_rng(2))
    axes = in_axes if isinstance(in_axes, tuple) else (in_axes,) * len(args)
    if (case.name.endswith("negative") and any(ax is not None for ax in axes[1:])
            and elementwise.lt_p not in batching.primitive_batchers):
        pytest.skip("wrapping traced negative indices needs the elementwise batching rules")
    check_vmap(case.fn(lax), _batched(args, axes, np.random.default_rng(3)), axes)


# --------------------------------------------------------------------------------------
# Compositions: scalar losses through dot_general (whose rules exist already)
# --------------------------------------------------------------------------------------


def _loss(lax_: Any, g: Callable[..., Any], w: np.ndarray) -> Callable[..., Any]:
    """x -> <ravel(g(x)), w>."""
    def loss(*args: Any) -> Any:
        y = g(*args)
        y = lax_.reshape(y, (int(np.prod(np.shape(y))),))
        return lax_.dot_general(y, w, (((0,), (0,)), ((), ())))
    return loss


def _jax_grad(f_jax: Callable[..., Any], args: tuple, argnums: int = 0) -> Any:
    return jax.grad(f_jax, argnums)(*args)


def _lane(x: np.ndarray, axis: Any, i: int) -> np.ndarray:
    return x if axis is None else np.take(x, i, axis)


COMPOSE = ["slice_strided", "dynamic_slice", "dynamic_update_slice", "pad", "concatenate"]


@pytest.mark.parametrize("name", COMPOSE)
def test_jit_of_grad(name):
    case = next(c for c in CASES if c.name == name)
    rng = np.random.default_rng(4)
    args = case.args(rng)
    out = jax.eval_shape(case.fn(jax.lax), *args)
    w = _f32(rng, int(np.prod(out.shape)))
    got = lamina.jit(lamina.grad(_loss(lax, case.fn(lax), w)))(*args)
    want = _jax_grad(_loss(jax.lax, case.fn(jax.lax), w), args)
    assert_trees_close(got, want)


@pytest.mark.parametrize("name", COMPOSE)
def test_vmap_of_grad(name):
    """Transposes run under vmap: batched index operands reach the dynamic-slice
    rules inside the backward pass."""
    case = next(c for c in CASES if c.name == name)
    rng = np.random.default_rng(5)
    args = case.args(rng)
    out = jax.eval_shape(case.fn(jax.lax), *args)
    w = _f32(rng, int(np.prod(out.shape)))
    axes = case.in_axes[-1] if isinstance(case.in_axes[-1], tuple) else (0,) * len(args)
    batched = _batched(args, axes, rng)
    got = lamina.vmap(lamina.grad(_loss(lax, case.fn(lax), w)), in_axes=axes)(*batched)
    for i in range(3):
        lane = tuple(_lane(a, ax, i) for a, ax in zip(batched, axes))
        want = _jax_grad(_loss(jax.lax, case.fn(jax.lax), w), lane)
        assert_trees_close(np.take(np.asarray(got), i, 0), want)


@pytest.mark.parametrize("name", ["slice_strided", "pad", "concatenate", "dynamic_slice",
                                  "dynamic_update_slice"])
def test_grad_of_vmap(name):
    case = next(c for c in CASES if c.name == name)
    rng = np.random.default_rng(6)
    args = case.args(rng)
    axes = case.in_axes[-1] if isinstance(case.in_axes[-1], tuple) else (0,) * len(args)
    batched = _batched(args, axes, rng)
    out = jax.eval_shape(jax.vmap(case.fn(jax.lax), in_axes=axes), *batched)
    w = _f32(rng, int(np.prod(out.shape)))
    got = lamina.grad(_loss(lax, lamina.vmap(case.fn(lax), in_axes=axes), w))(*batched)
    want = _jax_grad(_loss(jax.lax, jax.vmap(case.fn(jax.lax), in_axes=axes), w), batched)
    assert_trees_close(got, want)


def test_pad_grad_wrt_padding_value():
    """The padding value's cotangent sums the cotangent over the padded positions
    (cropped operand elements excluded)."""
    rng = np.random.default_rng(7)
    x, v = _f32(rng, 3, 4), _f32(rng)
    f = CASES[IDS.index("pad")].fn
    w = _f32(rng, int(np.prod(jax.eval_shape(f(jax.lax), x, v).shape)))
    got = lamina.grad(_loss(lax, f(lax), w), argnums=(0, 1))(x, v)
    want = jax.grad(_loss(jax.lax, f(jax.lax), w), argnums=(0, 1))(x, v)
    assert_trees_close(got, want)
