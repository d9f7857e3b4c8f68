"""JVP, transpose and batching rules of `fft_p` (lax/fft.py), and differentiation of
lamina.numpy.fft end to end.

Each case is written against a namespace (`ns.lax`, `ns.np`) so the same code runs
with lamina and with jax (the oracle): `lamina.jvp` / `lamina.vjp` against jax (which
pins the complex-cotangent and RFFT/IRFFT scaling conventions), `check_grads` in
float64 (finite differences and the transposition identity), `check_vmap` against a
Python loop.
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
from lamina.lax.fft import fft_p
from lamina.testing import assert_trees_close, check_grads, check_vmap

LAMINA = types.SimpleNamespace(lax=lamina.lax, np=lnp)
JAX = types.SimpleNamespace(lax=jax.lax, np=jnp)


def _real(rng, *shape):
    return rng.standard_normal(shape)


def _cplx(rng, *shape):
    return rng.standard_normal(shape) + 1j * rng.standard_normal(shape)


@dataclasses.dataclass(frozen=True)
class Case:
    """`fn(ns)` builds the function; `args(rng)` its float64/complex128 inputs (cast to
    32 bits for the jax comparison and vmap); `vmap_axes` the in_axes to try."""

    name: str
    fn: Callable[[Any], Callable[..., Any]]
    args: Callable[[np.random.Generator], tuple[np.ndarray, ...]]
    vmap_axes: tuple[Any, ...] = ()


def _lax_fft(kind: str, lengths: tuple[int, ...]):
    return lambda ns: lambda x: ns.lax.fft(x, kind.upper(), lengths)


CASES = [
    Case("lax_fft", _lax_fft("fft", (4,)), lambda r: (_cplx(r, 3, 4),), (0, 1)),
    Case("lax_ifft_2d", _lax_fft("ifft", (3, 4)), lambda r: (_cplx(r, 2, 3, 4),), (2,)),
    Case("lax_rfft_even", _lax_fft("rfft", (6,)), lambda r: (_real(r, 2, 6),), (0,)),
    Case("lax_rfft_odd_2d", _lax_fft("rfft", (3, 5)), lambda r: (_real(r, 3, 5),), ()),
    Case("lax_irfft_even", _lax_fft("irfft", (6,)), lambda r: (_cplx(r, 2, 4),), (1,)),
    Case("lax_irfft_odd_2d", _lax_fft("irfft", (2, 5)), lambda r: (_cplx(r, 2, 3),), ()),
    Case("np_fft_real_in", lambda ns: lambda x: ns.np.fft.fft(x, axis=0),
         lambda r: (_real(r, 4, 3),), ()),
    Case("np_ifft_norm", lambda ns: lambda x: ns.np.fft.ifft(x, n=6, norm="ortho"),
         lambda r: (_cplx(r, 5),), ()),
    Case("np_rfft_pad", lambda ns: lambda x: ns.np.fft.rfft(x, n=8), lambda r: (_real(r, 2, 5),),
         (0,)),
    Case("np_irfft", lambda ns: lambda x: ns.np.fft.irfft(x, axis=0),
         lambda r: (_cplx(r, 4, 2),), ()),
    Case("np_fftn", lambda ns: ns.np.fft.fftn, lambda r: (_cplx(r, 2, 3, 2),), ()),
    Case("np_rfft2_abs", lambda ns: lambda x: ns.np.abs(ns.np.fft.rfft2(x)),
         lambda r: (_real(r, 3, 4),), ()),
    Case("np_irfftn", lambda ns: lambda x: ns.np.fft.irfftn(x, s=(3, 4)),
         lambda r: (_cplx(r, 3, 3),), ()),
    Case("np_hfft", lambda ns: ns.np.fft.hfft, lambda r: (_cplx(r, 4),), ()),
]
_IDS = [c.name for c in CASES]


def _args32(case: Case, seed: int = 0) -> tuple[np.ndarray, ...]:
    args = case.args(np.random.default_rng(seed))
    return tuple(a.astype(np.complex64 if np.iscomplexobj(a) else np.float32) for a in args)


def _like(x: Any, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = np.asarray(x)
    t = rng.standard_normal(x.shape)
    if np.iscomplexobj(x):
        t = t + 1j * rng.standard_normal(x.shape)
    return t.astype(x.dtype)


TOL32 = dict(rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("case", CASES, ids=_IDS)
def test_jvp_matches_jax(case: Case) -> None:
    args = _args32(case)
    tangents = tuple(_like(a, 1) for a in args)
    # NOTE: the oracle runs under jax.jit: eager jax compiles every op separately.
    want = jax.jit(lambda a, t: jax.jvp(case.fn(JAX), a, t))(args, tangents)
    got = lamina.jvp(lamina.jit(case.fn(LAMINA)), args, tangents)
    assert_trees_close(got, want, check_dtype=False, **TOL32)


@pytest.mark.parametrize("case", CASES, ids=_IDS)
def test_vjp_matches_jax(case: Case) -> None:
    args = _args32(case)
    shape = jax.eval_shape(case.fn(JAX), *args)
    ct = _like(np.zeros(shape.shape, shape.dtype), 2)

    @jax.jit
    def oracle(a, c):
        out, pullback = jax.vjp(case.fn(JAX), *a)
        return out, pullback(c)

    out, want = oracle(args, ct)
    got_out, got_pullback = lamina.vjp(lamina.jit(case.fn(LAMINA)), *args)
    assert_trees_close(got_out, out, check_dtype=False, **TOL32)
    assert_trees_close(got_pullback(ct), want, check_dtype=False, **TOL32)


@pytest.mark.parametrize("case", CASES, ids=_IDS)
def test_check_grads_x64(case: Case) -> None:
    args = case.args(np.random.default_rng(0))
    with config.override(enable_x64=True):
        # check_vjp uses jax's convention, so it covers the real <-> complex transforms
        check_grads(lamina.jit(case.fn(LAMINA)), args, rtol=1e-6, atol=1e-6)


_VMAP = [(c, ax) for c in CASES for ax in c.vmap_axes]


@pytest.mark.parametrize("case,in_axes", _VMAP, ids=[f"{c.name}-{ax}" for c, ax in _VMAP])
def test_vmap_matches_loop(case: Case, in_axes: int) -> None:
    x = np.stack([_args32(case, seed)[0] for seed in range(2)], axis=in_axes)
    check_vmap(lamina.jit(case.fn(LAMINA)), (x,), in_axes, rtol=1e-5, atol=1e-5)


def test_jit_grad_of_power_spectrum() -> None:
    x = _real(np.random.default_rng(4), 2, 8).astype(np.float32)

    def loss(ns, x):
        spec = ns.np.fft.rfft(x)
        return ns.np.sum(ns.np.abs(spec) ** 2) + ns.np.sum(ns.np.fft.irfft(spec * spec) ** 2)

    want = jax.jit(jax.grad(lambda x: loss(JAX, x)))(x)
    assert_trees_close(lamina.jit(lamina.grad(lambda x: loss(LAMINA, x)))(x), want,
                       check_dtype=False, rtol=1e-3, atol=1e-3)
    want_v = jax.jit(jax.vmap(jax.grad(lambda x: loss(JAX, x))))(x)
    got_v = lamina.jit(lamina.vmap(lamina.grad(lambda x: loss(LAMINA, x))))(x)
    assert_trees_close(got_v, want_v, check_dtype=False, rtol=1e-3, atol=1e-3)


def test_rule_coverage() -> None:
    assert fft_p in ad.primitive_jvps
    assert fft_p in ad.primitive_transposes
    assert fft_p in batching.primitive_batchers
