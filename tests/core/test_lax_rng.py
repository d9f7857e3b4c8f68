"""rng_bit_generator and rng_uniform: bits against jax.lax (XLA's algorithms), jit, vmap."""
import jax
import jax.lax as jl
import numpy as np
import pytest

import lamina
from lamina import lax

KEY = np.array([1, 2, 3, 4], np.uint32)


def _eq(a, b):
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape and a.dtype == b.dtype, (a.shape, a.dtype, b.shape, b.dtype)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("algorithm", list(lax.RandomAlgorithm))
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.uint32])
def test_rng_bit_generator_matches_jax(algorithm, dtype):
    ours = lax.rng_bit_generator(KEY, (3, 5), dtype, algorithm)
    theirs = jl.rng_bit_generator(KEY, (3, 5), dtype, jl.RandomAlgorithm(int(algorithm)))
    assert isinstance(ours, tuple) and len(ours) == 2
    for a, b in zip(ours, theirs):
        _eq(a, b)


def test_rng_bit_generator_jit_vmap_and_errors():
    philox = lax.RandomAlgorithm.RNG_PHILOX
    f = lamina.jit(lambda k: lax.rng_bit_generator(k, (4,), algorithm=philox))
    g = jax.jit(lambda k: jl.rng_bit_generator(k, (4,), algorithm=jl.RandomAlgorithm.RNG_PHILOX))
    for a, b in zip(f(KEY), g(KEY)):
        _eq(a, b)
    keys = np.arange(12, dtype=np.uint32).reshape(3, 4)
    # vmap follows jax's rule (bits drawn from the first key), so compare with jax's vmap
    for a, b in zip(lamina.vmap(lambda k: lax.rng_bit_generator(k, (2,)))(keys),
                    jax.vmap(lambda k: jl.rng_bit_generator(k, (2,)))(keys)):
        _eq(a, b)
    with pytest.raises(TypeError, match="unsupported dtype"):
        lax.rng_bit_generator(KEY, (2,), np.int32)
    with pytest.raises(TypeError, match="uint32\\[4\\]"):
        lax.rng_bit_generator(KEY[:2], (2,))


def test_rng_uniform():
    x = lax.rng_uniform(np.float32(2.0), np.float32(3.0), (1000,))
    x = np.asarray(x)
    assert x.shape == (1000,) and x.dtype == np.float32
    assert (x >= 2).all() and (x < 3).all() and 2.4 < x.mean() < 2.6
    y = np.asarray(lamina.jit(lambda a: lax.rng_uniform(a, a + 1, (7,)))(np.float32(0)))
    assert y.shape == (7,) and ((y >= 0) & (y < 1)).all()
    with pytest.raises(ValueError, match="scalars"):
        lax.rng_uniform(np.zeros(2, np.float32), np.float32(1), (2,))
