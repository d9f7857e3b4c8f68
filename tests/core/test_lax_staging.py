"""optimization_barrier, platform_dependent and composite: values, jit, vmap, grads."""
import jax
import jax.lax as jl
import jax.numpy as jnp
import numpy as np
import pytest

import lamina
import lamina.numpy as lnp
from lamina import lax


def _close(a, b, tol=1e-6):
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape and a.dtype == b.dtype, (a.shape, a.dtype, b.shape, b.dtype)
    np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


def test_optimization_barrier_values_grad_vmap(rng):
    x = rng.normal(size=(3,)).astype(np.float32)
    out = lax.optimization_barrier({"a": x, "b": (x * 2, 3)})
    _close(out["a"], x)
    _close(out["b"][0], x * 2)
    assert int(out["b"][1]) == 3
    assert lax.optimization_barrier(()) == ()
    f = lambda v: (lax.optimization_barrier(lnp.sin(v)) * v).sum()  # noqa: E731
    g = lambda v: (jl.optimization_barrier(jnp.sin(v)) * v).sum()  # noqa: E731
    _close(lamina.grad(f)(x), jax.grad(g)(x))
    _close(lamina.jit(lamina.grad(f))(x), jax.grad(g)(x))
    _close(lamina.jvp(f, (x,), (np.ones_like(x),))[1], jax.jvp(g, (x,), (np.ones_like(x),))[1])
    xs = rng.normal(size=(4, 3)).astype(np.float32)
    _close(lamina.vmap(lambda v: lax.optimization_barrier(v * 2)[1:])(xs), xs[:, 1:] * 2)


def test_optimization_barrier_lowers_to_stablehlo():
    from lamina.interpreters import lowering, partial_eval as pe
    from lamina.ir import AbstractArray
    prog = pe.trace_to_program(lambda v: lax.optimization_barrier([v, v]),
                               [AbstractArray((2,), np.dtype(np.float32))])
    assert "stablehlo.optimization_barrier" in lowering.lower_program(prog)


def test_platform_dependent():
    f = lambda v: lax.platform_dependent(v, cpu=lnp.sin, default=lnp.cos)  # noqa: E731
    _close(lamina.jit(f)(np.float32(1.0)), np.sin(np.float32(1.0)))
    _close(f(np.float32(1.0)), np.sin(np.float32(1.0)))
    h = lambda v: lax.platform_dependent(v, tpu=lnp.sin, gpu=lnp.tan, default=lnp.cos)  # noqa: E731
    _close(lamina.jit(h)(np.float32(1.0)), np.cos(np.float32(1.0)))
    _close(lamina.grad(f)(np.float32(1.0)), np.cos(np.float32(1.0)))
    xs = np.linspace(0, 1, 4, dtype=np.float32)
    _close(lamina.vmap(f)(xs), np.sin(xs))
    with pytest.raises(NotImplementedError, match="no implementation for platform 'cpu'"):
        lamina.jit(lambda v: lax.platform_dependent(v, tpu=lnp.sin))(np.float32(1.0))
    with pytest.raises(TypeError, match="at least one"):
        lax.platform_dependent(1.0)


def test_composite_runs_its_decomposition(rng):
    c = np.arange(3, dtype=np.float32)

    def body(x, y, *, scale):
        return {"s": lnp.sin(x) * scale + c, "p": x * y}

    def jbody(x, y, *, scale):
        return {"s": jnp.sin(x) * scale + c, "p": x * y}

    ours = lax.composite(body, name="my.op", version=2)
    theirs = jl.composite(jbody, name="my.op", version=2)
    x, y = (rng.normal(size=(3,)).astype(np.float32) for _ in range(2))
    for fn in (ours, lamina.jit(lambda a, b: ours(a, b, scale=2.0))):
        out = fn(x, y, scale=2.0) if fn is ours else fn(x, y)
        want = theirs(x, y, scale=2.0)
        _close(out["s"], want["s"])
        _close(out["p"], want["p"])
    def loss(a, b):
        out = ours(a, b, scale=3.0)
        return (out["s"] * out["p"]).sum()

    # NOTE: jax has no JVP rule for composite; lamina differentiates the decomposition,
    # so the oracle is jax's gradient of the plain body.
    def jloss(a, b):
        out = jbody(a, b, scale=3.0)
        return (out["s"] * out["p"]).sum()

    for a, b in zip(lamina.grad(loss, (0, 1))(x, y), jax.grad(jloss, (0, 1))(x, y)):
        _close(a, b, 1e-5)
    for a, b in zip(lamina.jit(lamina.grad(loss, (0, 1)))(x, y), jax.grad(jloss, (0, 1))(x, y)):
        _close(a, b, 1e-5)
    xs = rng.normal(size=(4, 3)).astype(np.float32)
    got = lamina.vmap(lambda a: ours(a, y, scale=1.0)["p"])(xs)
    _close(got, np.stack([np.asarray(ours(a, y, scale=1.0)["p"]) for a in xs]))
    with pytest.raises(TypeError, match="hashable"):
        ours(x, y, scale=[1.0])


def test_dce_sink_keeps_the_value_in_the_program():
    def f(x):
        lax.dce_sink({"a": lnp.sin(x), "b": x * 2})
        return x * 3

    assert lax.dce_sink(np.float32(1)) is None
    assert "dce_sink" in str(lamina.make_jaxpr(f)(1.0))
    assert "sin" in str(lamina.make_jaxpr(f)(1.0))
    assert float(lamina.jit(f)(np.float32(2))) == 6.0
    assert float(lamina.grad(f)(np.float32(2))) == 3.0
    _close(lamina.vmap(f)(np.arange(3, dtype=np.float32)), np.arange(3, dtype=np.float32) * 3)
    with pytest.raises(NotImplementedError, match="prevent_mlir_dce"):
        lax.dce_sink(1.0, prevent_mlir_dce=True)
