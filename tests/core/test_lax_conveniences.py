"""tile, stack, unstack, broadcast_shapes, broadcast_like, empty, index_take, mulhi:
values against jax.lax, jit, vmap against a Python loop, grads against jax."""
import jax
import jax.lax as jl
import numpy as np
import pytest

import lamina
import lamina.numpy as lnp
from lamina import lax


def _same(a, b, tol=0.0):
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape and a.dtype == b.dtype, (a.shape, a.dtype, b.shape, b.dtype)
    np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


def test_tile_stack_unstack_match_jax(rng):
    x = rng.normal(size=(2, 3)).astype(np.float32)
    for reps in [(1, 1), (2, 3), (0, 2)]:
        _same(lax.tile(x, reps), jl.tile(x, reps))
    _same(lamina.jit(lambda v: lax.tile(v, (2, 3)))(x), jl.tile(x, (2, 3)))
    for axis in [0, 1, -1, 2]:
        _same(lax.stack([x, x + 1, x * 2], axis), jl.stack([x, x + 1, x * 2], axis))
    for axis in [0, 1, -1]:
        ours, theirs = lax.unstack(x, axis), jl.unstack(x, axis)
        assert isinstance(ours, tuple) and len(ours) == len(theirs)
        for a, b in zip(ours, theirs):
            _same(a, b)
    with pytest.raises(ValueError, match="len\\(reps\\)"):
        lax.tile(x, (2,))
    with pytest.raises(ValueError, match="stack"):
        lax.stack([])


def test_tile_stack_grads_and_vmap(rng):
    x = rng.normal(size=(2, 3)).astype(np.float32)
    w = rng.normal(size=(4, 6)).astype(np.float32)
    g = lamina.grad(lambda v: (lax.tile(v, (2, 2)) * w).sum())(x)
    _same(g, jax.grad(lambda v: (jl.tile(v, (2, 2)) * w).sum())(x), 1e-6)
    g = lamina.grad(lambda v: (lax.stack(lax.unstack(v, 1), 0) ** 2).sum())(x)
    _same(g, 2 * x, 1e-6)
    xs = rng.normal(size=(3, 2, 3)).astype(np.float32)
    _same(lamina.vmap(lambda v: lax.tile(v, (2, 1)))(xs),
          np.stack([np.tile(v, (2, 1)) for v in xs]))


def test_broadcast_shapes_like_empty():
    assert lax.broadcast_shapes((2, 1), (3,)) == jl.broadcast_shapes((2, 1), (3,)) == (2, 3)
    assert lax.broadcast_shapes((1, 4), (5, 1), ()) == (5, 4)
    with pytest.raises(ValueError, match="Incompatible shapes"):
        lax.broadcast_shapes((2,), (3,))
    _same(lax.broadcast_like(np.arange(3, dtype=np.int32), np.zeros((2, 3))),
          jl.broadcast_like(np.arange(3, dtype=np.int32), np.zeros((2, 3))))
    e = lax.empty((2, 3), np.float16)
    assert e.shape == (2, 3) and e.dtype == np.float16
    assert lax.empty(4, np.int32).shape == (4,)


def test_index_take_matches_jax(rng):
    x = rng.normal(size=(3, 4, 5)).astype(np.float32)
    i0 = np.array([0, 2, -1, 5], np.int32)
    i2 = np.array([1, 4, 7, -3], np.int32)
    _same(lax.index_take(x, (i0, i2), (0, 2)), jl.index_take(x, (i0, i2), (0, 2)))
    _same(lax.index_take(x, (i2,), (1,)), jl.index_take(x, (i2,), (1,)))
    _same(lamina.jit(lambda v: lax.index_take(v, (i0, i2), (0, 2)))(x),
          jl.index_take(x, (i0, i2), (0, 2)))
    g = lamina.grad(lambda v: lax.index_take(v, (i0, i2), (0, 2)).sum())(x)
    _same(g, jax.grad(lambda v: jl.index_take(v, (i0, i2), (0, 2)).sum())(x), 1e-6)


@pytest.mark.parametrize("dtype", [np.int8, np.uint16, np.int32, np.uint32])
def test_mulhi_matches_jax(rng, dtype):
    info = np.iinfo(dtype)
    x = rng.integers(info.min, info.max, size=(17,), endpoint=True).astype(dtype)
    y = rng.integers(info.min, info.max, size=(17,), endpoint=True).astype(dtype)
    x[:4] = [info.min, info.max, 0, info.max]
    y[:4] = [info.min, info.max, info.min, info.min]
    _same(lax.mulhi(x, y), jl.mulhi(x, y))
    _same(lamina.jit(lax.mulhi)(x, y[0]), jl.mulhi(x, y[0]))


def test_mulhi_64_bit_in_x64():
    # 64-bit operands need x64; compare with exact Python integers
    import subprocess
    import sys
    code = """
import numpy as np, lamina
from lamina import lax
rng = np.random.default_rng(1)
for dt in (np.int64, np.uint64):
    info = np.iinfo(dt)
    x = rng.integers(info.min, info.max, size=9, endpoint=True, dtype=dt)
    y = rng.integers(info.min, info.max, size=9, endpoint=True, dtype=dt)
    x[:3] = [info.min, info.max, info.max]; y[:3] = [info.min, info.max, info.min]
    got = np.asarray(lax.mulhi(x, y))
    want = np.array([(int(a) * int(b)) >> 64 for a, b in zip(x, y)], dtype=object)
    assert got.dtype == dt, got.dtype
    assert [int(v) for v in got] == [int(v) for v in want], (got, want)
print("ok")
"""
    import os
    env = dict(os.environ, LAMINA_ENABLE_X64="1")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.stdout.strip() == "ok", out.stderr[-2000:]


def test_mulhi_vmap_and_errors(rng):
    x = rng.integers(-1000, 1000, size=(3, 4)).astype(np.int32) << 20
    y = rng.integers(-1000, 1000, size=(4,)).astype(np.int32) << 18
    _same(lamina.vmap(lax.mulhi, (0, None))(x, y), np.stack([jl.mulhi(v, y) for v in x]))
    with pytest.raises(TypeError, match="mulhi"):
        lax.mulhi(np.float32(1), np.float32(2))
    # integer outputs: zero tangent, as jax
    t = lamina.jvp(lambda a: lax.mulhi(a, a), (x,), (np.zeros(x.shape, lamina.dtypes.float0),))
    assert t[0].dtype == np.int32


def test_stage_and_shape_as_value():
    a = lax.stage(2.0)
    assert isinstance(a, lamina.Array) and a.dtype == np.float32 and a.aval.weak_type
    _same(lamina.jit(lambda x: lax.stage(np.arange(3, dtype=np.float32)) * x)(np.float32(2)),
          np.arange(3, dtype=np.float32) * 2)
    assert float(lamina.grad(lambda x: lax.stage(x) * x)(3.0)) == 6.0
    _same(lamina.vmap(lambda x: lax.stage(x) + 1)(np.arange(3, dtype=np.float32)),
          np.arange(3, dtype=np.float32) + 1)
    _same(lax.shape_as_value((2, 3)), jl.shape_as_value((2, 3)))
    _same(lax.shape_as_value(()), jl.shape_as_value(()))


def test_dtype_matches_jax():
    for x in [1.0, 3, True, 1j, np.arange(3), np.arange(3.0), np.ones(2, np.int8), "bfloat16",
              np.float16]:
        assert lax.dtype(x) == jl.dtype(x), x
    with pytest.raises(ValueError, match="None"):
        lax.dtype(None)
    with pytest.raises(TypeError):
        lax.dtype([1, 2])
