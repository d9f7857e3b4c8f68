"""Implicitly differentiated solvers (lax/solves.py): custom_linear_solve, custom_root.

Each case is written against an `(api, lax, numpy)` triple so that the same code runs
with lamina and with jax (the oracle). Values are compared with direct solutions;
gradients with jax, finite differences (`check_grads`, float64) and analytic
derivatives; batching with Python loops. The solvers are not differentiated through
(a `while_loop` inside one is fine under grad). Error messages close the file.
"""
from __future__ import annotations

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

LAMINA = (lamina, lax, lnp)
JAX = (jax, jax.lax, jnp)


def _matrix(rng: np.random.Generator, n: int, dtype: Any = np.float32) -> np.ndarray:
    """A well conditioned non-symmetric matrix."""
    return (rng.standard_normal((n, n)) + 3 * np.eye(n)).astype(dtype)


def _spd(rng: np.random.Generator, n: int, dtype: Any = np.float32) -> np.ndarray:
    m = rng.standard_normal((n, n))
    return (m @ m.T + n * np.eye(n)).astype(dtype)


# --------------------------------------------------------------------------------------
# Linear solves written against (api, lax, numpy)
# --------------------------------------------------------------------------------------


def _dense(t: Any, *, transpose: bool = True, symmetric: bool = False) -> Callable[..., Any]:
    """x = A^-1 b through custom_linear_solve with dense solvers."""
    _, l, n = t

    def f(a: Any, b: Any) -> Any:
        return l.custom_linear_solve(
            lambda x: a @ x, b, lambda mv, rhs: n.linalg.solve(a, rhs),
            (lambda vm, rhs: n.linalg.solve(a.T, rhs)) if transpose else None,
            symmetric=symmetric)
    return f


def _cg(t: Any) -> Callable[..., Any]:
    """Conjugate gradients in a while_loop (not reverse-differentiable itself)."""
    _, l, n = t

    def solve(matvec: Callable[[Any], Any], b: Any) -> Any:
        def body(state: Any) -> Any:
            x, r, p, rs, k = state
            ap = matvec(p)
            alpha = rs / n.vdot(p, ap)
            x, r = x + alpha * p, r - alpha * ap
            rs_new = n.vdot(r, r)
            return x, r, r + (rs_new / rs) * p, rs_new, k + 1

        def cond(state: Any) -> Any:
            return (state[3] > 1e-20) & (state[4] < 2 * b.shape[0])

        x0 = n.zeros_like(b)
        return l.while_loop(cond, body, (x0, b, b, n.vdot(b, b), 0))[0]

    def f(a: Any, b: Any) -> Any:
        return l.custom_linear_solve(lambda x: a @ x, b, solve, symmetric=True)
    return f


def test_dense_solve_matches_the_direct_solution(rng):
    a, b = _matrix(rng, 4), rng.standard_normal(4).astype(np.float32)
    want = np.linalg.solve(a.astype(np.float64), b)
    f = _dense(LAMINA)
    assert_trees_close(f(a, b), want.astype(np.float32), rtol=1e-5, atol=1e-5)
    assert_trees_close(lamina.jit(f)(a, b), want.astype(np.float32), rtol=1e-5, atol=1e-5)
    assert_trees_close(f(a, b), _dense(JAX)(a, b), rtol=1e-5, atol=1e-6)


def test_grads_wrt_b_and_the_matrix_match_jax(rng):
    a, b = _matrix(rng, 3), rng.standard_normal(3).astype(np.float32)
    w = rng.standard_normal(3).astype(np.float32)

    def loss(t: Any) -> Callable[..., Any]:
        return lambda a, b: (_dense(t)(a, b) * w).sum()

    got = lamina.grad(loss(LAMINA), (0, 1))(a, b)
    assert_trees_close(got, jax.grad(loss(JAX), (0, 1))(a, b), rtol=1e-4, atol=1e-5)
    # d/db (w . A^-1 b) = A^-T w and d/dA = -(A^-T w) x^T.
    x = np.linalg.solve(a.astype(np.float64), b)
    lam = np.linalg.solve(a.T.astype(np.float64), w)
    assert_trees_close(got, (np.float32(-np.outer(lam, x)), np.float32(lam)),
                       rtol=1e-4, atol=1e-5)
    assert_trees_close(lamina.jit(lamina.grad(loss(LAMINA), (0, 1)))(a, b), got,
                       rtol=1e-5, atol=1e-6)


def test_finite_differences_and_second_order_x64(rng):
    with config.override(enable_x64=True):
        a, b = _matrix(rng, 3, np.float64), rng.standard_normal(3)
        check_grads(_dense(LAMINA), (a, b), order=2)
        s = _spd(rng, 3, np.float64)
        check_grads(_dense(LAMINA, transpose=False, symmetric=True), (s, b), order=1)
        # hessian of a scalar loss wrt b: reverse over forward, with jax as the oracle
        h = lamina.hessian(lambda b: (_dense(LAMINA)(a, b) ** 3).sum())(b)
        with jax.enable_x64(True):
            want = jax.hessian(lambda b: (_dense(JAX)(a, b) ** 3).sum())(b)
        assert_trees_close(h, want, rtol=1e-10, atol=1e-12)


def test_symmetric_uses_solve_for_the_transpose(rng):
    s, b = _spd(rng, 4), rng.standard_normal(4).astype(np.float32)

    def loss(t: Any) -> Callable[..., Any]:
        f = _dense(t, transpose=False, symmetric=True)
        return lambda a, b: (f(a, b) ** 2).sum()

    got = lamina.grad(loss(LAMINA), (0, 1))(s, b)
    assert_trees_close(got, jax.grad(loss(JAX), (0, 1))(s, b), rtol=1e-4, atol=1e-5)


def test_iterative_solver_in_a_while_loop_is_not_differentiated(rng):
    s, b = _spd(rng, 5), rng.standard_normal(5).astype(np.float32)
    x = _cg(LAMINA)(s, b)
    assert_trees_close(x, np.float32(np.linalg.solve(s.astype(np.float64), b)),
                       rtol=1e-4, atol=1e-5)

    def loss(t: Any) -> Callable[..., Any]:
        return lambda a, b: (_cg(t)(a, b) ** 2).sum()

    got = lamina.grad(loss(LAMINA), (0, 1))(s, b)
    assert_trees_close(got, jax.grad(loss(JAX), (0, 1))(s, b), rtol=1e-3, atol=1e-5)


def test_reverse_mode_runs_transpose_solve_on_the_derived_transpose(rng):
    a, b = _matrix(rng, 3), rng.standard_normal(3).astype(np.float32)

    def f(t: Any) -> Callable[..., Any]:
        api, l, n = t

        def transpose_solve(vecmat: Callable[[Any], Any], rhs: Any) -> Any:
            # vecmat is derived from matvec: its Jacobian is A^T. Doubling the answer
            # shows that reverse mode uses this solver.
            return 2 * n.linalg.solve(api.jacfwd(vecmat)(rhs), rhs)

        return lambda b: l.custom_linear_solve(
            lambda x: a @ x, b, lambda mv, rhs: n.linalg.solve(a, rhs), transpose_solve).sum()

    got = lamina.grad(f(LAMINA))(b)
    assert_trees_close(got, jax.grad(f(JAX))(b), rtol=1e-5, atol=1e-6)
    want = 2 * np.linalg.solve(a.T.astype(np.float64), np.ones(3))
    assert_trees_close(got, np.float32(want), rtol=1e-5, atol=1e-6)


def _block(t: Any) -> Callable[..., Any]:
    """A pytree system: {'u': f32[2], 'v': f32[]} with a dense 3x3 operator."""
    _, l, n = t

    def f(a: Any, b: Any) -> Any:
        def pack(x: Any) -> Any:
            return n.concatenate([x["u"], x["v"][None]])

        def unpack(y: Any) -> Any:
            return {"u": y[:2], "v": y[2]}

        return l.custom_linear_solve(
            lambda x: unpack(a @ pack(x)), b,
            lambda mv, rhs: unpack(n.linalg.solve(a, pack(rhs))),
            lambda vm, rhs: unpack(n.linalg.solve(a.T, pack(rhs))))
    return f


def test_pytree_b(rng):
    a = _matrix(rng, 3)
    b = {"u": rng.standard_normal(2).astype(np.float32), "v": np.float32(0.5)}
    x = _block(LAMINA)(a, b)
    want = np.linalg.solve(a.astype(np.float64), np.append(b["u"], b["v"]))
    assert_trees_close(x, {"u": np.float32(want[:2]), "v": np.float32(want[2])},
                       rtol=1e-5, atol=1e-5)

    def loss(t: Any) -> Callable[..., Any]:
        return lambda a, b: (_block(t)(a, b)["u"] ** 2).sum() + 3 * _block(t)(a, b)["v"]

    got = lamina.grad(loss(LAMINA), (0, 1))(a, b)
    assert_trees_close(got, jax.grad(loss(JAX), (0, 1))(a, b), rtol=1e-4, atol=1e-5)


def test_has_aux(rng):
    a, b = _matrix(rng, 3), rng.standard_normal(3).astype(np.float32)

    def f(t: Any) -> Callable[..., Any]:
        _, l, n = t

        def solve(mv: Callable[[Any], Any], rhs: Any) -> Any:
            x = n.linalg.solve(a, rhs)
            return x, {"residual": n.abs(mv(x) - rhs).max(), "iters": n.int32(1)}

        def transpose_solve(vm: Callable[[Any], Any], rhs: Any) -> Any:
            return n.linalg.solve(a.T, rhs), {"residual": n.float32(0), "iters": n.int32(0)}

        return lambda b: l.custom_linear_solve(lambda x: a @ x, b, solve, transpose_solve,
                                               has_aux=True)

    x, aux = f(LAMINA)(b)
    assert sorted(aux) == ["iters", "residual"] and int(aux["iters"]) == 1
    assert float(aux["residual"]) < 1e-5
    assert_trees_close(x, f(JAX)(b)[0], rtol=1e-5, atol=1e-6)

    def loss(t: Any) -> Callable[..., Any]:
        def g(b: Any) -> Any:
            x, aux = f(t)(b)
            return (x ** 2).sum(), aux
        return g

    (g, aux), (g_jax, _) = (lamina.grad(loss(LAMINA), has_aux=True)(b),
                            jax.grad(loss(JAX), has_aux=True)(b))
    assert_trees_close(g, g_jax, rtol=1e-4, atol=1e-5)
    assert int(aux["iters"]) == 1
    _, x_dot = lamina.jvp(lambda b: f(LAMINA)(b)[0], (b,), (np.ones(3, np.float32),))
    assert_trees_close(x_dot, np.float32(np.linalg.solve(a.astype(np.float64), np.ones(3))),
                       rtol=1e-5, atol=1e-5)


def test_vmap_matches_a_python_loop(rng):
    a, bs = _matrix(rng, 3), rng.standard_normal((4, 3)).astype(np.float32)
    as_ = np.stack([_matrix(rng, 3) for _ in range(4)])
    f = _dense(LAMINA)
    check_vmap(f, (a, bs), (None, 0), rtol=1e-5, atol=1e-5)  # only b batched
    check_vmap(f, (as_, bs.T), (0, 1), rtol=1e-5, atol=1e-5)
    loss = lambda a, b: (f(a, b) ** 2).sum()  # noqa: E731
    check_vmap(lamina.grad(loss, (0, 1)), (as_, bs), (0, 0), rtol=1e-4, atol=1e-5)
    # grad of vmap, jitted, against jax
    total = lambda t: lambda a, b: (t[0].vmap(_dense(t))(a, b) ** 2).sum()  # noqa: E731
    got = lamina.jit(lamina.grad(total(LAMINA), (0, 1)))(as_, bs)
    assert_trees_close(got, jax.grad(total(JAX), (0, 1))(as_, bs), rtol=1e-4, atol=1e-5)
    # an iterative solver: lanes may finish at different trips
    check_vmap(_cg(LAMINA), (np.stack([_spd(rng, 3) for _ in range(3)]), bs[:3]),
               rtol=1e-4, atol=1e-5)


def test_forward_mode_needs_no_transpose_solve(rng):
    a, b = _matrix(rng, 3), rng.standard_normal(3).astype(np.float32)
    f = _dense(LAMINA, transpose=False)
    jac = lamina.jacfwd(f, 1)(a, b)
    assert_trees_close(jac, np.float32(np.linalg.inv(a.astype(np.float64))),
                       rtol=1e-4, atol=1e-5)
    with pytest.raises(TypeError, match="transpose_solve required for backwards mode"):
        lamina.grad(lambda b: f(a, b).sum())(b)


# --------------------------------------------------------------------------------------
# custom_root
# --------------------------------------------------------------------------------------


def _newton(t: Any) -> Callable[..., Any]:
    """Newton's method in a while_loop (reverse mode cannot go through it)."""
    api, l, n = t

    def solve(f: Callable[[Any], Any], x0: Any) -> Any:
        def step(x: Any) -> Any:
            return x - f(x) / api.grad(f)(x)
        return l.while_loop(lambda x: n.abs(f(x)) > 1e-6, step, x0)
    return solve


def _bisect(t: Any) -> Callable[..., Any]:
    """Bisection on [0, 10] in a fori_loop, returning the final bracket width as aux."""
    _, l, n = t

    def solve(f: Callable[[Any], Any], x0: Any) -> Any:
        def body(_: Any, lo_hi: Any) -> Any:
            lo, hi = lo_hi
            mid = (lo + hi) / 2
            left = f(mid) > 0
            return n.where(left, lo, mid), n.where(left, mid, hi)
        lo, hi = l.fori_loop(0, 40, body, (n.zeros_like(x0), n.full_like(x0, 10.0)))
        return (lo + hi) / 2, {"width": hi - lo}
    return solve


def _cbrt(t: Any, solver: Callable[[Any], Any] = _newton) -> Callable[..., Any]:
    """y with y^3 = x (so dy/dx = 1 / (3 y^2))."""
    _, l, _ = t

    def f(x: Any) -> Any:
        return l.custom_root(lambda y: y ** 3 - x, 1.0, solver(t), lambda g, y: y / g(1.0))
    return f


def test_custom_root_newton_value_and_grad():
    x = np.float32(5.0)
    y = _cbrt(LAMINA)(x)
    assert_trees_close(y, np.float32(5.0 ** (1 / 3)), rtol=1e-6)
    g = lamina.grad(_cbrt(LAMINA))(x)
    assert_trees_close(g, np.float32(1 / (3 * 5.0 ** (2 / 3))), rtol=1e-5)
    assert_trees_close(g, jax.grad(_cbrt(JAX))(x), rtol=1e-6)
    assert_trees_close(lamina.jit(lamina.grad(_cbrt(LAMINA)))(x), g, rtol=1e-6)
    # second derivative: -2/9 x^(-5/3)
    gg = lamina.grad(lamina.grad(_cbrt(LAMINA)))(x)
    assert_trees_close(gg, np.float32(-2 / 9 * 5.0 ** (-5 / 3)), rtol=1e-4)
    _, t = lamina.jvp(_cbrt(LAMINA), (x,), (np.float32(2.0),))
    assert_trees_close(t, 2 * g, rtol=1e-6)


def test_custom_root_vmap_and_jit():
    xs = np.array([1.0, 8.0, 27.0, 2.0], np.float32)
    check_vmap(_cbrt(LAMINA), (xs,), rtol=1e-5)
    grads = lamina.jit(lamina.vmap(lamina.grad(_cbrt(LAMINA))))(xs)
    want = np.float32(1 / (3 * xs.astype(np.float64) ** (2 / 3)))
    assert_trees_close(grads, want, rtol=1e-5)
    total = lamina.grad(lambda xs: lamina.vmap(_cbrt(LAMINA))(xs).sum())
    assert_trees_close(total(xs), want, rtol=1e-5)


def test_custom_root_has_aux_with_bisection():
    def f(t: Any) -> Callable[..., Any]:
        _, l, _ = t
        return lambda x: l.custom_root(lambda y: y ** 2 - x, 1.0, _bisect(t),
                                       lambda g, y: y / g(1.0), has_aux=True)

    y, aux = f(LAMINA)(np.float32(2.0))
    assert_trees_close(y, np.float32(np.sqrt(2.0)), rtol=1e-6)
    assert list(aux) == ["width"] and float(aux["width"]) < 1e-5
    g = lamina.grad(lambda x: f(LAMINA)(x)[0])(np.float32(2.0))
    assert_trees_close(g, np.float32(0.5 / np.sqrt(2.0)), rtol=1e-5)
    assert_trees_close(g, jax.grad(lambda x: f(JAX)(x)[0])(np.float32(2.0)), rtol=1e-6)
    # an integer aux (jax's own rule rejects one: it gives it an int tangent)
    y, steps = lax.custom_root(lambda y: y ** 2 - 2.0, 1.0,
                               lambda f, x: (_bisect(LAMINA)(f, x)[0], lnp.int32(40)),
                               lambda g, y: y / g(1.0), has_aux=True)
    assert steps.dtype == np.int32 and int(steps) == 40
    g = lamina.grad(lambda x: lax.custom_root(
        lambda y: y ** 2 - x, 1.0, lambda f, x0: (_bisect(LAMINA)(f, x0)[0], lnp.int32(40)),
        lambda g, y: y / g(1.0), has_aux=True)[0])(2.0)
    assert_trees_close(g, np.float32(0.5 / np.sqrt(2.0)), rtol=1e-5, check_dtype=False)


def test_custom_root_vector_system_x64(rng):
    """A 2-unknown system f(y) = M y + c * y^3 - p = 0, root wrt parameters (M, p)."""
    def root(t: Any) -> Callable[..., Any]:
        api, l, n = t

        def solve(f: Callable[[Any], Any], y0: Any) -> Any:
            step = lambda y: y - n.linalg.solve(api.jacfwd(f)(y), f(y))  # noqa: E731
            return l.fori_loop(0, 30, lambda _, y: step(y), y0)

        def tangent_solve(g: Callable[[Any], Any], y: Any) -> Any:
            return n.linalg.solve(api.jacfwd(g)(y), y)

        return lambda m, p: l.custom_root(lambda y: m @ y + 0.1 * y ** 3 - p,
                                          n.zeros(2, m.dtype), solve, tangent_solve)

    with config.override(enable_x64=True):
        m, p = _spd(rng, 2, np.float64), rng.standard_normal(2)
        y = root(LAMINA)(m, p)
        np.testing.assert_allclose(np.asarray(m @ y + 0.1 * y ** 3), p, atol=1e-12)
        check_grads(root(LAMINA), (m, p), order=1)
        # implicit derivatives: J dy = dp - dM y with J = M + 0.3 diag(y^2)
        y = np.asarray(y)
        j_inv = np.linalg.inv(m + 0.3 * np.diag(y ** 2))
        d_m, d_p = lamina.jacrev(root(LAMINA), (0, 1))(m, p)
        assert_trees_close(d_p, j_inv, rtol=1e-10, atol=1e-12)
        assert_trees_close(d_m, -np.einsum("ai,j->aij", j_inv, y), rtol=1e-10, atol=1e-12)


# --------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------


def test_linear_solve_errors_name_the_mismatch(rng):
    a = _matrix(rng, 3)
    b = rng.standard_normal(3).astype(np.float32)
    solve = lambda mv, rhs: lnp.linalg.solve(a, rhs)  # noqa: E731
    with pytest.raises(TypeError, match=r"(?s)matvec must return a pytree with the same "
                                        r"structure as b.*\(\*, \*\)"):
        lax.custom_linear_solve(lambda x: (x, x), b, solve)
    with pytest.raises(ValueError, match=r"(?s)shapes of b.*b is f32\[3\] but matvec's output "
                                         r"is f32\[2\].*square"):
        lax.custom_linear_solve(lambda x: x[:2], b, solve)
    with pytest.raises(TypeError, match=r"(?s)dtypes of b.*\['u'\] is f32\[3\] but matvec's "
                                        r"output\['u'\] is i32\[3\].*astype"):
        lax.custom_linear_solve(lambda x: {"u": x["u"].astype(np.int32)}, {"u": b}, solve)
    with pytest.raises(ValueError, match=r"solve must return arrays with the shapes of b"):
        lax.custom_linear_solve(lambda x: a @ x, b, lambda mv, rhs: rhs[:2])
    with pytest.raises(ValueError, match=r"a pair \(solution, aux\) was expected because "
                                         r"has_aux=True"):
        lax.custom_linear_solve(lambda x: a @ x, b, solve, has_aux=True)
    with pytest.raises(TypeError, match=r"solve must be a function"):
        lax.custom_linear_solve(lambda x: a @ x, b, None)


def test_custom_root_errors_name_the_mismatch():
    solve = lambda f, x: x  # noqa: E731
    tangent = lambda g, y: y  # noqa: E731
    with pytest.raises(ValueError, match=r"(?s)f must return arrays with the shapes of "
                                         r"initial_guess.*initial_guess is f32\[2\] but f's "
                                         r"output is f32\[\]"):
        lax.custom_root(lambda y: y.sum(), np.zeros(2, np.float32), solve, tangent)
    with pytest.raises(TypeError, match=r"f must return a pytree with the same structure "
                                        r"as initial_guess"):
        lax.custom_root(lambda y: [y, y], np.float32(1), solve, tangent)
    with pytest.raises(TypeError, match=r"(?s)dtypes of initial_guess.*i32\[\] but f's output "
                                        r"is f32\[\]"):
        lax.custom_root(lambda y: y * 1.5 - np.float32(2), np.int32(1), solve, tangent)
    with pytest.raises(ValueError, match=r"tangent_solve must return arrays with the shapes"):
        lax.custom_root(lambda y: y - 1.0, np.zeros(2, np.float32), solve,
                        lambda g, y: y.sum())


def test_weak_python_scalars_take_the_operator_dtype():
    # A Python float guess (weakly typed) with an f32 function: no error, f32 result.
    y = lax.custom_root(lambda y: y * np.float32(2) - np.float32(1), 0.0,
                        lambda f, x: x + 0.5, lambda g, y: y / g(1.0))
    assert y.dtype == np.float32 and float(y) == 0.5
