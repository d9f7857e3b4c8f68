"""XLA's own random-number ops, with jax.lax's names and semantics: `rng_bit_generator`
(stateless: a key in, the next key and random bits out; StableHLO
`rng_bit_generator`) and `rng_uniform` (stateful, experimental; StableHLO `rng`).

Their bits come from XLA's implementation of each algorithm, so they match jax's for
the same key, algorithm and platform. Neither is differentiable (integer bits, or a
sample that does not depend smoothly on its bounds in jax either).
"""
from __future__ import annotations

import enum
from typing import Any, Sequence

import numpy as np

from lamina import dtypes
from lamina.backend.array import Array
from lamina.interpreters import ad, batching, lowering
from lamina.interpreters.lowering import RuleContext, Value
from lamina.ir import AbstractArray, Primitive
from lamina.lax._util import ArrayLike, DTypeLike, canonicalize_shape, convert_python_scalars

__all__ = ["RandomAlgorithm", "rng_bit_generator", "rng_uniform"]


class RandomAlgorithm(enum.IntEnum):
    """The bit-generation algorithm of `rng_bit_generator`."""

    RNG_DEFAULT = 0  # the platform's default
    RNG_THREE_FRY = 1  # Threefry-2x32
    RNG_PHILOX = 2  # Philox-4x32

    def __str__(self) -> str:
        return self.name


_U32, _U64 = np.dtype(np.uint32), np.dtype(np.uint64)
_BIT_DTYPES = tuple(np.dtype(d) for d in (np.uint8, np.uint16, np.uint32, np.uint64))
_ALGORITHM_TEXT = {RandomAlgorithm.RNG_DEFAULT: "DEFAULT",
                   RandomAlgorithm.RNG_THREE_FRY: "THREE_FRY",
                   RandomAlgorithm.RNG_PHILOX: "PHILOX"}


# --------------------------------------------------------------------------------------
# rng_bit_generator
# --------------------------------------------------------------------------------------

rng_bit_generator_p = Primitive("rng_bit_generator", multiple_results=True)


def rng_bit_generator(key: ArrayLike, shape: Sequence[int], dtype: DTypeLike = np.uint32,
                      algorithm: RandomAlgorithm = RandomAlgorithm.RNG_DEFAULT, *,
                      out_sharding: Any = None) -> tuple[Array, Array]:
    """Stateless random bits from XLA's RngBitGenerator.

    Args:
        key: the generator state, a `(4,)` uint32 array (or `(2,)` uint64 with x64).
        shape: the shape of the bits.
        dtype: uint8, uint16, uint32 or uint64.
        algorithm: a `RandomAlgorithm`; the platform default when `RNG_DEFAULT`.

    Returns:
        `(new_key, bits)`: the next state, of `key`'s type, and the bits.

    >>> import numpy as np
    >>> from lamina import lax
    >>> key = np.array([1, 2, 3, 4], np.uint32)
    >>> algorithm = lax.RandomAlgorithm.RNG_THREE_FRY
    >>> new_key, bits = lax.rng_bit_generator(key, (3,), algorithm=algorithm)
    >>> bits.shape, bits.dtype, new_key.shape
    ((3,), dtype('uint32'), (4,))
    """
    if out_sharding is not None:
        raise NotImplementedError("rng_bit_generator: out_sharding is not supported by lamina")
    shape = canonicalize_shape(shape, "rng_bit_generator")
    dtype = dtypes.canonicalize_dtype(np.dtype(dtype))  # uint64 -> uint32 without x64
    if dtype not in _BIT_DTYPES:
        raise TypeError(f"rng_bit_generator: unsupported dtype {dtype}; use uint8, uint16, "
                        "uint32 or uint64")
    algorithm = RandomAlgorithm(algorithm)
    return tuple(rng_bit_generator_p.bind(key, shape=shape, dtype=dtype,
                                          algorithm=algorithm))  # type: ignore[return-value]


def _rng_bit_generator_abstract_eval(key: AbstractArray, *, shape: tuple[int, ...],
                                     dtype: np.dtype, algorithm: RandomAlgorithm
                                     ) -> list[AbstractArray]:
    if not ((key.shape == (4,) and key.dtype == _U32)
            or (key.shape == (2,) and key.dtype == _U64)):
        raise TypeError("rng_bit_generator: the key must be a uint32[4] (or uint64[2]) "
                        f"array, got {key.str_short()}")
    return [key.update(weak_type=False), AbstractArray(shape, dtype)]


rng_bit_generator_p.def_abstract_eval(_rng_bit_generator_abstract_eval)
ad.defjvp_zero(rng_bit_generator_p)


def _rng_bit_generator_batch(args: Any, dims: Any, *, shape: tuple[int, ...], dtype: np.dtype,
                             algorithm: RandomAlgorithm) -> tuple[Any, Any]:
    import lamina.lax as lax
    (keys,), (d,) = args, dims
    if d is batching.not_mapped:
        return rng_bit_generator_p.bind(keys, shape=shape, dtype=dtype,
                                        algorithm=algorithm), [None, None]
    # NOTE: as jax: the batch draws one block of bits from the first key and advances
    # only that key (XLA's op has no batched form).
    keys = batching.moveaxis(keys, d, 0)
    n = keys.shape[0]
    key = lax.index_in_dim(keys, 0, 0, keepdims=False)
    new_key, bits = rng_bit_generator_p.bind(key, shape=(n, *shape), dtype=dtype,
                                             algorithm=algorithm)
    new_keys = lax.dynamic_update_index_in_dim(keys, new_key, 0, 0)
    return [new_keys, bits], [0, 0]


batching.primitive_batchers[rng_bit_generator_p] = _rng_bit_generator_batch


def _rng_bit_generator_lower(ctx: RuleContext, key: Value, *, shape: tuple[int, ...],
                             dtype: np.dtype, algorithm: RandomAlgorithm) -> list[Value]:
    key_aval, bits_aval = ctx.avals_out
    u64_key = AbstractArray((2,), _U64)
    if key_aval.dtype == _U32:  # XLA's op takes u64[2]: view the four words as two
        pairs = ctx.op("stablehlo.reshape", [key], AbstractArray((2, 2), _U32))
        key = ctx.op("stablehlo.bitcast_convert", [pairs], u64_key)
    attr = f"#stablehlo<rng_algorithm {_ALGORITHM_TEXT[algorithm]}>"
    new_key, bits = ctx.op("stablehlo.rng_bit_generator", [key], [u64_key, bits_aval],
                           {"rng_algorithm": attr})
    if key_aval.dtype == _U32:
        pairs = ctx.op("stablehlo.bitcast_convert", [new_key], AbstractArray((2, 2), _U32))
        new_key = ctx.op("stablehlo.reshape", [pairs], key_aval)
    return [new_key, bits]


lowering.register_lowering(rng_bit_generator_p, _rng_bit_generator_lower)


# --------------------------------------------------------------------------------------
# rng_uniform
# --------------------------------------------------------------------------------------

rng_uniform_p = Primitive("rng_uniform")


def rng_uniform(a: ArrayLike, b: ArrayLike, shape: Sequence[int]) -> Array:
    """Stateful uniform samples in `[a, b)` from XLA's Rng op (experimental, as in jax;
    prefer `lamina.random`). Undefined when `b <= a`.

    >>> from lamina import lax
    >>> x = lax.rng_uniform(0.0, 1.0, (3,))
    >>> x.shape, bool(((x >= 0) & (x < 1)).all())
    ((3,), True)
    """
    a, b = convert_python_scalars("rng_uniform", a, b)
    return rng_uniform_p.bind(a, b, shape=canonicalize_shape(shape, "rng_uniform"))


def _rng_uniform_abstract_eval(a: AbstractArray, b: AbstractArray, *,
                               shape: tuple[int, ...]) -> AbstractArray:
    if a.dtype != b.dtype:
        raise ValueError(f"Arguments to rng_uniform must have identical dtypes, got "
                         f"{a.dtype} and {b.dtype}.")
    if a.shape != () or b.shape != ():
        raise ValueError(f"Arguments to rng_uniform must be scalars; got shapes {a.shape} "
                         f"and {b.shape}.")
    return AbstractArray(shape, a.dtype, a.weak_type and b.weak_type)


def _rng_uniform_lower(ctx: RuleContext, a: Value, b: Value, *, shape: tuple[int, ...]
                       ) -> Value:
    dims = ctx.constant(np.array(shape, np.int64), AbstractArray((len(shape),),
                                                                 np.dtype(np.int64)))
    return ctx.op("stablehlo.rng", [a, b, dims], ctx.aval_out,
                  {"rng_distribution": "#stablehlo<rng_distribution UNIFORM>"})


rng_uniform_p.def_abstract_eval(_rng_uniform_abstract_eval)
lowering.register_lowering(rng_uniform_p, _rng_uniform_lower)
