"""Control flow (lax/control_flow.py): cond, switch, scan, while_loop, fori_loop, map and
associative_scan.

Each case is a function written against a `(lax, numpy)` pair so that the same code
runs with lamina and with jax (the oracle). Values are compared eagerly and under
`jit`, and against plain Python loops; gradients against `jax.grad`/`jax.jvp` and
finite differences (`check_grads`, float64); batching against `jax.vmap` and Python
loops (`check_vmap`). Compositions (jit/vmap of grad, grad of grad) and the error
messages close the file.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import lamina
import lamina.numpy as lnp
from lamina import lax
from lamina.config import config
from lamina.testing import assert_trees_close, check_grads, check_vmap

LAMINA = (lax, lnp)
JAX = (jax.lax, jnp)


def _f32(rng: np.random.Generator, *shape: int) -> np.ndarray:
    return rng.standard_normal(shape).astype(np.float32)


# --------------------------------------------------------------------------------------
# Functions under test, written against (lax, numpy)
# --------------------------------------------------------------------------------------


def _cond(l: Any, n: Any) -> Callable[..., Any]:
    return lambda x: l.cond(n.sum(x) > 0, lambda v: (n.sin(v) * v, v[0]),
                            lambda v: (n.cos(v), 2.0 * v[1]), x)


def _switch(l: Any, n: Any) -> Callable[..., Any]:
    def f(i: Any, x: Any) -> Any:
        return l.switch(i, [lambda v: n.sin(v), lambda v: v * v, lambda v: n.exp(-v)], x)
    return f


def _rnn(l: Any, n: Any) -> Callable[..., Any]:
    def f(w: Any, b: Any, xs: Any) -> Any:
        def step(h: Any, x: Any) -> Any:
            h = n.tanh(h @ w + x + b)
            return h, n.sum(h * h)
        h, ys = l.scan(step, n.zeros_like(b), xs)
        return n.sum(h) + n.sum(ys)
    return f


def _cumprod(l: Any, n: Any) -> Callable[..., Any]:
    def f(xs: Any) -> Any:
        c, ys = l.scan(lambda c, x: (c * x, c * x), 1.0, xs)
        return n.sum(ys) + c
    return f


def _scan_tree(l: Any, n: Any, reverse: bool = False, unroll: int = 1) -> Callable[..., Any]:
    """Pytree carry and xs, a ys pytree, a closed-over array."""
    def f(a: Any, xs: Any) -> Any:
        def step(c: Any, x: Any) -> Any:
            u, v = x
            new = {"s": c["s"] + n.sin(u) * a, "p": c["p"] * n.cos(v)}
            return new, (c["s"] * v, new["p"])
        return l.scan(step, {"s": n.zeros(2, np.float32), "p": n.ones((), np.float32)},
                      xs, reverse=reverse, unroll=unroll)
    return f


def _fori(l: Any, n: Any) -> Callable[..., Any]:
    return lambda x: l.fori_loop(0, 4, lambda i, c: n.sin(c) * (i + 1.0) + c * x, x)


def _while(l: Any, n: Any) -> Callable[..., Any]:
    def f(x: Any) -> Any:
        return l.while_loop(lambda c: c[0] < 5,
                            lambda c: (c[0] + 1, c[1] * n.sin(c[1]) + 1.0), (0, x))[1]
    return f


def _map(l: Any, n: Any) -> Callable[..., Any]:
    return lambda xs: l.map(lambda x: n.sum(n.sin(x)) * x, xs)


def _assoc(l: Any, n: Any, reverse: bool = False, axis: int = 0) -> Callable[..., Any]:
    def fn(a: Any, b: Any) -> Any:  # composition of affine maps x -> m x + c
        return (a[0] * b[0], a[1] * b[0] + b[1])
    return lambda m, c: l.associative_scan(fn, (m, c), reverse=reverse, axis=axis)


@dataclasses.dataclass(frozen=True)
class Case:
    name: str
    fn: Callable[[Any, Any], Callable[..., Any]]
    args: Callable[[np.random.Generator], tuple[Any, ...]]


VALUE_CASES = [
    Case("cond_true", _cond, lambda r: (np.abs(_f32(r, 3)),)),
    Case("cond_false", _cond, lambda r: (-np.abs(_f32(r, 3)),)),
    Case("switch_mid", _switch, lambda r: (np.int32(1), _f32(r, 3))),
    Case("switch_clamped_low", _switch, lambda r: (np.int32(-4), _f32(r, 3))),
    Case("switch_clamped_high", _switch, lambda r: (np.int32(9), _f32(r, 3))),
    Case("rnn", _rnn, lambda r: (_f32(r, 3, 3) * 0.5, _f32(r, 3), _f32(r, 5, 3))),
    Case("scan_tree", _scan_tree, lambda r: (np.float32(0.5), (_f32(r, 4, 2), _f32(r, 4)))),
    Case("scan_tree_reverse_unroll", lambda l, n: _scan_tree(l, n, True, 3),
         lambda r: (np.float32(0.5), (_f32(r, 4, 2), _f32(r, 4)))),
    Case("scan_length_only", lambda l, n: lambda x: l.scan(
        lambda c, _: (c * 2.0, c), x, None, length=3, unroll=True), lambda r: (_f32(r, 2),)),
    Case("fori_static", _fori, lambda r: (np.float32(0.3),)),
    Case("fori_dynamic", lambda l, n: lambda k, x: l.fori_loop(
        k, 2 * k, lambda i, c: c * 1.5 + i, x), lambda r: (np.int32(2), _f32(r, 3))),
    Case("while", _while, lambda r: (np.float32(0.3),)),
    Case("map", _map, lambda r: (_f32(r, 4, 3),)),
    Case("assoc_affine", _assoc, lambda r: (_f32(r, 7, 2), _f32(r, 7, 2))),
    Case("assoc_reverse_axis1", lambda l, n: _assoc(l, n, True, 1),
         lambda r: (_f32(r, 2, 6), _f32(r, 2, 6))),
]


@pytest.mark.parametrize("case", VALUE_CASES, ids=lambda c: c.name)
def test_values_match_jax(case: Case, rng: np.random.Generator) -> None:
    args = case.args(rng)
    expected = case.fn(*JAX)(*args)
    assert_trees_close(case.fn(*LAMINA)(*args), expected, rtol=1e-5, atol=1e-6)
    assert_trees_close(lamina.jit(case.fn(*LAMINA))(*args), expected, rtol=1e-5, atol=1e-6)


def test_scan_matches_python_loop(rng: np.random.Generator) -> None:
    a, (us, vs) = np.float32(0.5), (_f32(rng, 5, 2), _f32(rng, 5))
    for reverse in (False, True):
        carry, ys = _scan_tree(lax, lnp, reverse)(a, (us, vs))
        s, p, ys0, ys1 = np.zeros(2, np.float32), np.float32(1), [], []
        order = range(4, -1, -1) if reverse else range(5)
        for t in order:
            ys0.append(s * vs[t])
            s, p = s + np.sin(us[t]) * a, p * np.cos(vs[t])
            ys1.append(p)
        if reverse:
            ys0, ys1 = ys0[::-1], ys1[::-1]
        assert_trees_close(carry, {"s": s, "p": p}, rtol=1e-5)
        assert_trees_close(ys, (np.stack(ys0), np.stack(ys1)), rtol=1e-5)


def test_associative_scan_matches_cumsum_for_every_length(rng: np.random.Generator) -> None:
    for n in (1, 2, 5, 8):
        x = _f32(rng, n)
        out = lamina.jit(lambda v: lax.associative_scan(lax.add, v))(x)
        np.testing.assert_allclose(np.asarray(out), np.cumsum(x), rtol=1e-5, atol=1e-6)
    b = rng.random(6) > 0.5
    or_scan = lamina.jit(lambda v: lax.associative_scan(lax.bitwise_or, v))
    np.testing.assert_array_equal(np.asarray(or_scan(b)),
                                  np.logical_or.accumulate(b))


def test_staged_as_single_primitives() -> None:
    text = str(lamina.make_jaxpr(_rnn(lax, lnp))(np.eye(3, dtype=np.float32),
                                                 np.zeros(3, np.float32),
                                                 np.zeros((4, 3), np.float32)))
    assert "scan[" in text and text.count("tanh") == 1
    text = str(lamina.make_jaxpr(_cond(lax, lnp))(np.ones(3, np.float32)))
    assert "cond[" in text


# --------------------------------------------------------------------------------------
# Differentiation
# --------------------------------------------------------------------------------------

GRAD_CASES = [
    Case("rnn", _rnn, lambda r: (_f32(r, 3, 3) * 0.5, _f32(r, 3), _f32(r, 5, 3))),
    Case("cumprod", _cumprod, lambda r: (r.uniform(0.5, 1.5, 6).astype(np.float32),)),
    Case("fori_static", _fori, lambda r: (np.float32(0.3),)),
    Case("cond", lambda l, n: lambda x: n.sum(_cond(l, n)(x)[0]), lambda r: (_f32(r, 3),)),
    Case("switch", lambda l, n: lambda x: n.sum(_switch(l, n)(np.int32(2), x)),
         lambda r: (_f32(r, 3),)),
    Case("scan_tree_reverse", lambda l, n: lambda a, xs: n.sum(
        _scan_tree(l, n, True)(a, xs)[1][0]), lambda r: (np.float32(0.5),
                                                         (_f32(r, 4, 2), _f32(r, 4)))),
    Case("map", lambda l, n: lambda xs: n.sum(_map(l, n)(xs)), lambda r: (_f32(r, 4, 3),)),
]


@pytest.mark.parametrize("case", GRAD_CASES, ids=lambda c: c.name)
def test_grad_matches_jax(case: Case, rng: np.random.Generator) -> None:
    args = case.args(rng)
    argnums = tuple(range(len(args)))
    expected = jax.grad(case.fn(*JAX), argnums)(*args)
    assert_trees_close(lamina.grad(case.fn(*LAMINA), argnums)(*args), expected,
                       rtol=1e-4, atol=1e-5)


def test_check_grads_float64(rng: np.random.Generator) -> None:
    with config.override(enable_x64=True):
        w = rng.standard_normal((3, 3)) * 0.5
        b, xs = rng.standard_normal(3), rng.standard_normal((4, 3))
        check_grads(_rnn(lax, lnp), (w, b, xs), order=1)
        check_grads(lambda x: lnp.sum(_cond(lax, lnp)(x)[0]), (rng.standard_normal(3),),
                    order=2)
        check_grads(_fori(lax, lnp), (np.float64(0.3),), order=1)


def test_jvp_of_while_loop_matches_jax() -> None:
    primal, tangent = lamina.jvp(_while(lax, lnp), (np.float32(0.3),), (np.float32(1.0),))
    expected = jax.jvp(_while(jax.lax, jnp), (np.float32(0.3),), (np.float32(1.0),))
    assert_trees_close((primal, tangent), expected, rtol=1e-5)
    # linearize = jvp + partial evaluation: the known loop runs now, the tangent later.
    out, f_jvp = lamina.linearize(_while(lax, lnp), np.float32(0.3))
    assert_trees_close((out, f_jvp(np.float32(1.0))), expected, rtol=1e-5)


def test_jacfwd_of_dynamic_fori_loop() -> None:
    def f(l: Any, n: Any) -> Callable[..., Any]:
        return lambda x, k: l.fori_loop(0, k, lambda i, c: n.sin(c) * c, x)
    x = np.array([0.3, 0.7], np.float32)
    expected = jax.jacfwd(f(jax.lax, jnp))(x, np.int32(3))
    assert_trees_close(lamina.jacfwd(f(lax, lnp))(x, np.int32(3)), expected, rtol=1e-5)


def test_reverse_mode_of_while_loop_raises() -> None:
    with pytest.raises(ValueError, match="Reverse-mode differentiation does not work for "
                                         "lax.while_loop or lax.fori_loop with dynamic "
                                         "start/stop values. Try using lax.scan"):
        lamina.grad(_while(lax, lnp))(np.float32(0.3))


def test_grad_of_grad_of_cond() -> None:
    def f(l: Any, n: Any) -> Callable[..., Any]:
        return lambda x: l.cond(x > 0, lambda v: n.sin(v) * v, lambda v: n.cos(v) * v, x)
    for x in (np.float32(0.5), np.float32(-0.5)):
        expected = jax.grad(jax.grad(f(jax.lax, jnp)))(x)
        assert_trees_close(lamina.grad(lamina.grad(f(lax, lnp)))(x), expected, rtol=1e-5)


def test_jit_of_grad_of_scan(rng: np.random.Generator) -> None:
    w, b, xs = _f32(rng, 3, 3) * 0.5, _f32(rng, 3), _f32(rng, 5, 3)
    expected = jax.grad(_rnn(jax.lax, jnp))(w, b, xs)
    assert_trees_close(lamina.jit(lamina.grad(lambda p: _rnn(lax, lnp)(p, b, xs)))(w),
                       expected, rtol=1e-4, atol=1e-5)


# --------------------------------------------------------------------------------------
# Batching
# --------------------------------------------------------------------------------------


def test_vmap_cond_batched_and_unbatched_predicate(rng: np.random.Generator) -> None:
    xs = _f32(rng, 4, 3)
    assert_trees_close(lamina.vmap(_cond(lax, lnp))(xs), jax.vmap(_cond(jax.lax, jnp))(xs),
                       rtol=1e-5)

    def g(l: Any, n: Any) -> Callable[..., Any]:
        return lambda p, x: l.cond(p > 0, lambda v: n.sin(v) * v, lambda v: n.cos(v), x)
    for p in (np.float32(1.0), np.float32(-1.0)):
        expected = jax.vmap(g(jax.lax, jnp), (None, 0))(p, xs)
        assert_trees_close(lamina.vmap(g(lax, lnp), (None, 0))(p, xs), expected, rtol=1e-5)
    check_vmap(_switch(lax, lnp), (np.array([0, 2, 1, 5], np.int32), xs), (0, 0))
    check_vmap(_switch(lax, lnp), (np.array([0, 2, 1, 5], np.int32), xs[0]), (0, None))


def test_vmap_while_loop_batched_predicate() -> None:
    def f(l: Any) -> Callable[..., Any]:
        return lambda k, x: l.while_loop(lambda c: c[0] < k,
                                         lambda c: (c[0] + 1, c[1] * 2.0 + 1.0), (0, x))
    ks = np.array([1, 3, 0, 5], np.int32)
    x = np.float32(0.5)
    assert_trees_close(lamina.vmap(f(lax), (0, None))(ks, x),
                       jax.vmap(f(jax.lax), (0, None))(ks, x))
    check_vmap(f(lax), (ks, np.arange(4, dtype=np.float32)), (0, 0))
    check_vmap(f(lax), (np.int32(3), np.arange(4, dtype=np.float32)), (None, 0))


def test_vmap_scan(rng: np.random.Generator) -> None:
    w, b, xs = _f32(rng, 3, 3) * 0.5, _f32(rng, 3), _f32(rng, 5, 3)
    f = _rnn(lax, lnp)
    check_vmap(f, (np.stack([w, w * 0.5]), b, xs), (0, None, None), rtol=1e-5)
    check_vmap(f, (w, b, np.stack([xs, xs[::-1]], 2)), (None, None, 2), rtol=1e-5)
    check_vmap(lambda c0, x: lax.scan(lambda c, y: (c * y, c + y), c0, x),
               (_f32(rng, 2), _f32(rng, 4)), (0, None), rtol=1e-5)


def test_vmap_of_grad_of_scan(rng: np.random.Generator) -> None:
    xs = rng.uniform(0.5, 1.5, (3, 6)).astype(np.float32)
    expected = jax.vmap(jax.grad(_cumprod(jax.lax, jnp)))(xs)
    assert_trees_close(lamina.vmap(lamina.grad(_cumprod(lax, lnp)))(xs), expected, rtol=1e-5)
    expected = jax.grad(lambda x: jnp.sum(jax.vmap(_cumprod(jax.lax, jnp))(x)))(xs)
    got = lamina.grad(lambda x: lnp.sum(lamina.vmap(_cumprod(lax, lnp))(x)))(xs)
    assert_trees_close(got, expected, rtol=1e-5)


# --------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------


def test_branch_mismatch_errors() -> None:
    with pytest.raises(TypeError, match="same pytree structure"):
        lax.cond(True, lambda x: (x, x), lambda x: x, 1.0)
    with pytest.raises(TypeError, match=r"same types.*false_fun: f32\[3\], true_fun: f32\[2\]"):
        lax.cond(True, lambda x: lnp.zeros(2), lambda x: lnp.zeros(3), 1.0)
    with pytest.raises(TypeError, match="integer scalar"):
        lax.switch(np.float32(1), [lambda: 0, lambda: 1])
    # A weakly typed branch output joins the other branch's dtype, as in jax.
    out = lax.cond(True, lambda: np.float32(1), lambda: 2.0)
    assert out.dtype == np.float32


def test_scan_carry_type_error_names_path_and_types() -> None:
    def body(c: Any, x: Any) -> Any:
        return {"a": c["a"], "b": lnp.zeros(3, np.float32)}, x
    init = {"a": np.float32(0), "b": np.float32(0)}
    with pytest.raises(TypeError, match=r"carry\['b'\] has type f32\[\] but the "
                                        r"corresponding output carry component has type "
                                        r"f32\[3\]"):
        lax.scan(body, init, np.zeros(2, np.float32))
    with pytest.raises(TypeError, match="pytree structure"):
        lax.scan(lambda c, x: ((c, c), x), 0.0, np.zeros(2, np.float32))
    with pytest.raises(TypeError, match="dtypes do not match"):
        lax.while_loop(lambda c: c < 3, lambda c: c * 0.5, np.int32(1))


def test_scan_length_errors() -> None:
    with pytest.raises(ValueError, match="same leading axis size, got sizes 2, 3"):
        lax.scan(lambda c, x: (c, x), 0.0, (np.zeros(2), np.zeros(3)))
    with pytest.raises(ValueError, match="`length` is 4"):
        lax.scan(lambda c, x: (c, x), 0.0, np.zeros(3), length=4)
    with pytest.raises(ValueError, match="pass `length=`"):
        lax.scan(lambda c, x: (c, x), 0.0, None)
    with pytest.raises(TypeError, match="pair"):
        lax.scan(lambda c, x: c, 0.0, np.zeros(3))
    with pytest.raises(TypeError, match="boolean scalar"):
        lax.while_loop(lambda c: c, lambda c: c, np.float32(1))
