"""JVP, transpose and batching rules of the linear-algebra primitives (lax/linalg.py,
rules in lax/linalg_rules.py), and differentiation of lamina.numpy.linalg end to end.

One table of cases, each a function written against a namespace (`ns.linalg`, `ns.lax`,
`ns.np`) so that the very same code runs with lamina and with jax (the oracle). Per
case: `lamina.jvp` / `lamina.vjp` against jax; `check_grads` in float64 (finite
differences and the transposition identity); `check_vmap` against a Python loop.
Eigen- and singular vectors are only defined up to a sign (phase), so their cases
return `|v|^2` elementwise, which is gauge invariant. Matrices are well conditioned,
SPD where needed, with distinct eigen/singular values.
"""
from __future__ import annotations

import dataclasses
import types
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import lamina
import lamina.numpy as lnp
from lamina.config import config
from lamina.interpreters import ad, batching
from lamina.lax import linalg as L
from lamina.testing import assert_trees_close, check_grads, check_vmap


LAMINA = types.SimpleNamespace(linalg=lamina.lax.linalg, lax=lamina.lax, np=lnp)
JAX = types.SimpleNamespace(linalg=jax.lax.linalg, lax=jax.lax, np=jnp)


# --------------------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------------------


def _mat(rng, m, n, complex_=False):
    x = rng.standard_normal((m, n))
    if complex_:
        x = x + 1j * rng.standard_normal((m, n))
    return x


def _spd(rng, n, complex_=False):
    a = _mat(rng, n, n, complex_)
    return a @ a.conj().T + n * np.eye(n)


def _well(rng, n, complex_=False):
    """Well-conditioned square matrix (dominant diagonal)."""
    return 0.3 * _mat(rng, n, n, complex_) + 2.0 * np.eye(n)


def _distinct_sym(rng, n):
    """Symmetric, eigenvalues 1, 2, ..., n (well separated)."""
    q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    return (q * np.arange(1.0, n + 1)) @ q.T


def _abs2(ns, x):
    """|x|^2 elementwise: invariant under the sign/phase of eigen/singular vectors."""
    if np.issubdtype(x.dtype, np.complexfloating):
        return ns.lax.real(ns.lax.mul(x, ns.lax.conj(x)))
    return ns.lax.mul(x, x)


@dataclasses.dataclass(frozen=True)
class Case:
    """`fn(ns)` builds the function; `args(rng)` returns float64/complex128 inputs (cast
    to 32 bits for the jax comparison). `grads`: run check_grads; `vmap_axes`: in_axes
    to try with a batch of 2."""

    name: str
    fn: Callable[[Any], Callable[..., Any]]
    args: Callable[[np.random.Generator], tuple[np.ndarray, ...]]
    vmap_axes: tuple[Any, ...] = (0,)
    grads: bool = True


def _tri_solve(**kw):
    return lambda ns: lambda a, b: ns.linalg.triangular_solve(a, b, **kw)


def _svd_all(ns):
    def f(x):
        u, s, vh = ns.linalg.svd(x, full_matrices=False)
        return s, _abs2(ns, u), _abs2(ns, vh)
    return f


def _eigh_all(ns):
    def f(x):
        v, w = ns.linalg.eigh(x)
        return w, _abs2(ns, v)
    return f


def _eig_vals(ns):
    return lambda x: ns.linalg.eig(x, compute_left_eigenvectors=False,
                                   compute_right_eigenvectors=False)[0]


def _eig_vecs(ns):
    def f(x):
        w, vr = ns.linalg.eig(x, compute_left_eigenvectors=False, enable_eigvec_derivs=True)
        return w, vr
    return f


def _np_svd(ns):
    def f(x):
        u, s, vh = ns.np.linalg.svd(x, full_matrices=False)
        return s, _abs2(ns, u), _abs2(ns, vh)
    return f


def _np_eigh(ns):
    def f(x):
        w, v = ns.np.linalg.eigh(x)
        return w, _abs2(ns, v)
    return f


def _np_slogdet(ns):
    def f(x):
        sign, logdet = ns.np.linalg.slogdet(x)
        return sign, logdet
    return f


def _np_lstsq(ns):
    return lambda a, b: ns.np.linalg.lstsq(a, b)[0]


CASES = [
    # --- lax.linalg primitives ---
    Case("cholesky", lambda ns: ns.linalg.cholesky, lambda r: (_spd(r, 4),), (1,)),
    Case("cholesky_c", lambda ns: ns.linalg.cholesky, lambda r: (_spd(r, 3, True),), ()),
    Case("tri_solve_left_lower", _tri_solve(left_side=True, lower=True),
         lambda r: (_well(r, 4), _mat(r, 4, 2)), ((None, 1), (1, None))),
    Case("tri_solve_right_upper_t", _tri_solve(left_side=False, lower=False, transpose_a=True),
         lambda r: (_well(r, 3), _mat(r, 4, 3)), ((None, 0), (0, 0))),
    Case("tri_solve_unit_c", _tri_solve(left_side=True, lower=False, transpose_a=True,
                                        conjugate_a=True, unit_diagonal=True),
         lambda r: (_well(r, 3, True), _mat(r, 3, 2, True)), ()),
    Case("lu_square", lambda ns: lambda x: ns.linalg.lu(x)[0], lambda r: (_mat(r, 4, 4),),
         (2,)),
    Case("lu_wide", lambda ns: lambda x: ns.linalg.lu(x)[0], lambda r: (_mat(r, 3, 5),), ()),
    Case("qr_tall", lambda ns: lambda x: ns.linalg.qr(x, full_matrices=False),
         lambda r: (_mat(r, 5, 3),), (1,)),
    Case("qr_wide", lambda ns: lambda x: ns.linalg.qr(x, full_matrices=False),
         lambda r: (_mat(r, 3, 5),), ()),
    Case("qr_full_tall", lambda ns: lambda x: ns.linalg.qr(x, full_matrices=True),
         lambda r: (_mat(r, 5, 3),), ()),
    Case("qr_c", lambda ns: lambda x: ns.linalg.qr(x, full_matrices=False),
         lambda r: (_mat(r, 4, 3, True),), ()),
    Case("qr_pivoting", lambda ns: lambda x: ns.linalg.qr(x, pivoting=True)[:2],
         lambda r: (_mat(r, 4, 4),), ()),
    Case("svd_values", lambda ns: lambda x: ns.linalg.svd(x, compute_uv=False),
         lambda r: (_mat(r, 4, 3),), (0,)),
    Case("svd_tall", _svd_all, lambda r: (_mat(r, 4, 3),), (0,)),
    Case("svd_wide", _svd_all, lambda r: (_mat(r, 3, 4),), ()),
    Case("svd_c", _svd_all, lambda r: (_mat(r, 3, 3, True),), ()),
    Case("eigh", _eigh_all, lambda r: (_distinct_sym(r, 4),), (0,)),
    Case("eigh_c", _eigh_all, lambda r: (_spd(r, 3, True),), ()),
    Case("eig_values", _eig_vals, lambda r: (_well(r, 4),), (0,)),
    Case("eig_vectors", _eig_vecs, lambda r: (_well(r, 3),), (), grads=False),
    # --- lamina.numpy.linalg end to end (finite differences only for a few: the jax
    # comparison covers the rest, and every primitive has its own check above) ---
    Case("np_inv", lambda ns: ns.np.linalg.inv, lambda r: (_well(r, 4),), (0,), grads=False),
    Case("np_solve", lambda ns: ns.np.linalg.solve, lambda r: (_well(r, 4), _mat(r, 4, 2)),
         ((None, 0),), grads=False),
    Case("np_det", lambda ns: ns.np.linalg.det, lambda r: (_well(r, 4),), (0,)),
    Case("np_slogdet", _np_slogdet, lambda r: (_mat(r, 4, 4),), (), grads=False),
    Case("np_pinv", lambda ns: ns.np.linalg.pinv, lambda r: (_mat(r, 4, 3),), (), grads=False),
    Case("np_norm_2", lambda ns: lambda x: ns.np.linalg.norm(x, 2), lambda r: (_mat(r, 4, 3),),
         (), grads=False),
    Case("np_norm_nuc", lambda ns: lambda x: ns.np.linalg.norm(x, "nuc"),
         lambda r: (_mat(r, 3, 4),), (), grads=False),
    Case("np_norm_fro", lambda ns: ns.np.linalg.norm, lambda r: (_mat(r, 3, 4),), (), grads=False),
    Case("np_lstsq", _np_lstsq, lambda r: (_mat(r, 5, 3), _mat(r, 5, 2)), ()),
    Case("np_eigh", _np_eigh, lambda r: (_distinct_sym(r, 3),), (), grads=False),
    Case("np_svd", _np_svd, lambda r: (_mat(r, 3, 4),), (), grads=False),
]

_IDS = [c.name for c in CASES]


def _args32(case: Case, seed: int = 0) -> tuple[np.ndarray, ...]:
    args = case.args(np.random.default_rng(seed))
    return tuple(a.astype(np.complex64 if np.iscomplexobj(a) else np.float32) for a in args)


def _tangents(args: tuple[np.ndarray, ...], seed: int = 1) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    out = []
    for a in args:
        t = rng.standard_normal(a.shape)
        if np.iscomplexobj(a):
            t = t + 1j * rng.standard_normal(a.shape)
        out.append(t.astype(a.dtype))
    return tuple(out)


# NOTE: decompositions in float32 lose a few digits through the rules' solves.
TOL32 = dict(rtol=2e-3, atol=2e-3)


@pytest.mark.parametrize("case", CASES, ids=_IDS)
def test_jvp_matches_jax(case: Case) -> None:
    args = _args32(case)
    tangents = _tangents(args)
    # NOTE: the oracle runs under jax.jit: eager jax compiles every op separately.
    want = jax.jit(lambda a, t: jax.jvp(case.fn(JAX), a, t))(args, tangents)
    got = lamina.jvp(lamina.jit(case.fn(LAMINA)), args, tangents)
    assert_trees_close(got, want, check_dtype=False, **TOL32)


@pytest.mark.parametrize("case", CASES, ids=_IDS)
def test_vjp_matches_jax(case: Case) -> None:
    args = _args32(case)
    shapes = jax.eval_shape(case.fn(JAX), *args)
    cts = jax.tree_util.tree_map(
        lambda o: _tangents((np.zeros(o.shape, o.dtype),), seed=2)[0], shapes)

    @jax.jit
    def oracle(a, c):
        out, pullback = jax.vjp(case.fn(JAX), *a)
        return out, pullback(c)

    out, want = oracle(args, cts)
    got_out, got_pullback = lamina.vjp(lamina.jit(case.fn(LAMINA)), *args)
    assert_trees_close(got_out, out, check_dtype=False, **TOL32)
    assert_trees_close(got_pullback(cts), want, check_dtype=False, **TOL32)


@pytest.mark.parametrize("case", [c for c in CASES if c.grads], ids=lambda c: c.name)
def test_check_grads_x64(case: Case) -> None:
    args = case.args(np.random.default_rng(0))
    with config.override(enable_x64=True):
        # check_vjp uses jax's convention, so it covers complex decompositions too
        check_grads(lamina.jit(case.fn(LAMINA)), args, rtol=1e-5, atol=1e-5)


_VMAP = [(c, ax) for c in CASES for ax in c.vmap_axes]


@pytest.mark.parametrize("case,in_axes", _VMAP, ids=[f"{c.name}-{ax}" for c, ax in _VMAP])
def test_vmap_matches_loop(case: Case, in_axes: Any) -> None:
    samples = [_args32(case, seed) for seed in range(2)]
    axes = in_axes if isinstance(in_axes, tuple) else (in_axes,)
    args = tuple(np.stack([s[i] for s in samples], axis=ax) if ax is not None else samples[0][i]
                 for i, ax in enumerate(axes))
    check_vmap(lamina.jit(case.fn(LAMINA)), args, axes, rtol=1e-4, atol=1e-4)


# --------------------------------------------------------------------------------------
# Compositions, errors and rule coverage
# --------------------------------------------------------------------------------------


def test_jit_grad_and_vmap_grad() -> None:
    rng = np.random.default_rng(3)
    xs = np.stack([_spd(rng, 3) for _ in range(2)]).astype(np.float32)

    def loss(ns, x):
        chol = ns.linalg.cholesky(x)
        return ns.np.sum(ns.np.linalg.inv(x) * x) + ns.np.sum(chol ** 2) + \
            ns.np.linalg.slogdet(x)[1]

    want = jax.jit(jax.vmap(jax.grad(lambda x: loss(JAX, x))))(xs)
    got = lamina.jit(lamina.vmap(lamina.grad(lambda x: loss(LAMINA, x))))(xs)
    assert_trees_close(got, want, check_dtype=False, **TOL32)
    got2 = lamina.jit(lamina.grad(lambda x: loss(LAMINA, x)))(xs[0])
    assert_trees_close(got2, want[0], check_dtype=False, **TOL32)


def test_vmap_compact_qr_and_pivots() -> None:
    """The primitives without a JVP (geqrf, householder_product) and the integer
    lu_pivots_to_permutation still batch."""
    x = np.random.default_rng(0).standard_normal((2, 4, 3)).astype(np.float32)
    check_vmap(lamina.jit(L.geqrf), (x,), 0)
    check_vmap(lamina.jit(lambda a: L.householder_product(*L.geqrf(a))),
               (np.moveaxis(x, 0, 2),), 2)
    pivots = np.array([[2, 2, 3], [1, 3, 2]], np.int32)
    check_vmap(lambda p: L.lu_pivots_to_permutation(p, 4), (pivots,), 0)


def test_eig_vector_derivatives_need_opt_in() -> None:
    x = _well(np.random.default_rng(0), 3).astype(np.float32)
    with pytest.raises(NotImplementedError, match="enable_eigvec_derivs"):
        lamina.jvp(lambda a: L.eig(a, compute_left_eigenvectors=False)[1], (x,), (x,))


def test_svd_full_matrices_jvp_not_implemented() -> None:
    x = np.ones((3, 2), np.float32) + np.eye(3, 2, dtype=np.float32)
    with pytest.raises(NotImplementedError, match="full_matrices"):
        lamina.jvp(lambda a: L.svd(a, full_matrices=True)[0], (x,), (x,))


def test_rule_coverage() -> None:
    """Every linalg primitive batches; all but LAPACK's compact-QR internals (no JVP in
    jax either) differentiate; triangular_solve transposes."""
    prims = [L.cholesky_p, L.eig_p, L.eigh_p, L.geqrf_p, L.householder_product_p, L.lu_p,
             L.lu_pivots_to_permutation_p, L.qr_p, L.svd_p, L.triangular_solve_p]
    no_jvp = {L.geqrf_p, L.householder_product_p}
    for p in prims:
        assert p in batching.primitive_batchers, p
        assert (p in ad.primitive_jvps) != (p in no_jvp), p
    assert L.triangular_solve_p in ad.primitive_transposes
