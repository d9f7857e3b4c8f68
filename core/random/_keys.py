"""PRNG keys for `lamina.random`: seeding, `split`, `fold_in`, `bits` and the typed key
array, all on top of the `threefry2x32` primitive and bit-identical to jax.random's
default implementation (threefry2x32 with `jax_threefry_partitionable=True`, jax 0.10's
default).

Key data is uint32[2]. Two key forms are accepted everywhere, as in jax:

* raw ("legacy") keys: a uint32 array of shape (2,), from `PRNGKey`;
* typed keys: a `KeyArray` from `key` / `wrap_key_data`. lamina has no extended dtypes,
  so a `KeyArray` is a registered pytree node holding one leaf, its uint32 data of
  shape `(*batch_shape, 2)`, and it presents the batch shape as its own `shape`. Under
  `jit`, `vmap` and `scan` the transformations see the data leaf: vmap over a batch of
  typed keys maps the data's leading axis (so `in_axes`/`out_axes` must name a batch
  axis, not the trailing key axis).

Every sampler takes a single key (`shape == ()` for typed keys, `(2,)` for raw ones);
batches of keys go through `lamina.vmap`.
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from lamina import dtypes, tree_util
from lamina import lax
from lamina import numpy as lnp
from lamina._api_jit import jit
from lamina.backend.array import Array, device_put_host
from lamina.interpreters.eval import running_eagerly
from lamina.ir import Tracer, shaped_abstractify
from lamina.lax.random_bits import threefry2x32, threefry2x32_host

__all__ = ["KeyArray", "PRNGKey", "key", "key_data", "wrap_key_data", "key_impl",
           "split", "fold_in", "bits", "clone"]

_U32 = np.dtype(np.uint32)
_UINT_DTYPES = {8: np.dtype(np.uint8), 16: np.dtype(np.uint16), 32: _U32,
                64: np.dtype(np.uint64)}
IMPL_NAME = "threefry2x32"


class KeyDType:
    """The dtype of a typed key array: prints as jax's `key<fry>`."""

    name = "key<fry>"

    def __repr__(self) -> str:
        return self.name

    __str__ = __repr__

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, KeyDType)

    def __hash__(self) -> int:
        return hash(KeyDType)


class KeyArray:
    """A typed PRNG key array (jax's `key<fry>` arrays) of shape `batch_shape`.

    It wraps uint32 key data of shape `(*batch_shape, 2)`; get it back with `key_data`.
    Indexing, `len`, iteration and `reshape` act on the batch shape.

    >>> import lamina
    >>> k = lamina.random.key(0)
    >>> k.shape, k.dtype
    ((), key<fry>)
    >>> lamina.random.split(k, 3).shape
    (3,)
    """

    __slots__ = ("_data",)

    def __init__(self, data: Any) -> None:
        self._data = data

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(_shape_of(self._data)[:-1])

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    @property
    def dtype(self) -> KeyDType:
        return KeyDType()

    def __len__(self) -> int:
        if not self.shape:
            raise TypeError("len() of an unsized (0-d) key array")
        return self.shape[0]

    def __iter__(self) -> Any:
        len(self)   # the 0-d TypeError
        return (KeyArray(row) for row in self._data)

    def __getitem__(self, idx: Any) -> "KeyArray":
        idx = idx if isinstance(idx, tuple) else (idx,)
        # NOTE: the trailing full slice keeps the key-data axis whole, also after `...`.
        return KeyArray(self._data[(*idx, slice(None))])

    def reshape(self, *shape: Any) -> "KeyArray":
        if len(shape) == 1 and not isinstance(shape[0], (int, np.integer)):
            shape = tuple(shape[0])
        return KeyArray(lnp.reshape(self._data, (*shape, 2)))

    def __eq__(self, other: Any) -> Any:  # type: ignore[override]
        if not isinstance(other, KeyArray):
            return NotImplemented
        return lnp.all(self._data == other._data, axis=-1)

    def __ne__(self, other: Any) -> Any:  # type: ignore[override]
        if not isinstance(other, KeyArray):
            return NotImplemented
        return lnp.any(self._data != other._data, axis=-1)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        if isinstance(self._data, Tracer):
            return f"KeyArray({shaped_abstractify(self._data).str_short()} data, key<fry>)"
        return (f"Array({self.shape}, dtype=key<fry>) overlaying:\n"
                f"{np.asarray(self._data)}")


tree_util.register_pytree_node(
    KeyArray, lambda k: ((k._data,), None), lambda _, children: KeyArray(children[0]))


def _shape_of(x: Any) -> tuple[int, ...]:
    return tuple(shaped_abstractify(x).shape) if isinstance(x, (Array, Tracer)) else np.shape(x)


def _is_arraylike(x: Any) -> bool:
    return isinstance(x, (Array, Tracer, np.ndarray, np.generic)) or hasattr(x, "__array__")


def check_key(name: str, key: Any, *, allow_batched: bool = False) -> tuple[Any, bool]:
    """`(data, typed)`: the uint32 key data of a raw or typed key, checked.

    Raises TypeError (wrong type, dtype or trailing shape) or ValueError (a batch of
    keys where a single key is expected), naming `name` and the key's shape/dtype.
    """
    if isinstance(key, KeyArray):
        data, typed = key._data, True
    elif _is_arraylike(key) and not dtypes.is_python_scalar(key):
        data, typed = key, False
        dtype = dtypes.dtype_of(data, canonicalize=False) if not isinstance(
            data, (Array, Tracer)) else shaped_abstractify(data).dtype
        if np.dtype(dtype) != _U32:
            raise TypeError(
                f"{name}: key must be a PRNG key (lamina.random.key(seed) or PRNGKey(seed)),"
                f" i.e. uint32 key data of shape (..., 2); got dtype {np.dtype(dtype).name}")
        shape = _shape_of(data)
        if not shape or shape[-1] != 2:
            raise TypeError(
                f"{name}: key must be a PRNG key; raw key data must have shape (..., 2) "
                f"(threefry2x32), got shape {shape}")
        if not isinstance(data, (Array, Tracer)):
            data = lnp.asarray(np.asarray(data))
    else:
        raise TypeError(f"{name}: key must be a PRNG key (lamina.random.key(seed) or "
                        f"PRNGKey(seed)), got {type(key).__name__}: {key!r}")
    batch = _shape_of(data)[:-1]
    if batch and not allow_batched:
        raise ValueError(f"{name} accepts a single key, but was given a key array of shape "
                         f"{batch} != (). Use lamina.vmap for batching.")
    return data, typed


def _rewrap(typed: bool, data: Any) -> Any:
    return KeyArray(data) if typed else data


# --------------------------------------------------------------------------------------
# Seeding
# --------------------------------------------------------------------------------------


def _seed_data(name: str, seed: Any) -> Any:
    if isinstance(seed, KeyArray):
        raise TypeError(f"{name} accepts a scalar seed, but was given a PRNG key.")
    if np.ndim(seed) if not isinstance(seed, (Array, Tracer)) else _shape_of(seed):
        raise TypeError(f"{name} accepts a scalar seed, but was given an array of shape "
                        f"{_shape_of(seed)} != (). Use lamina.vmap for batching.")
    if isinstance(seed, (bool, np.bool_)) or (
            not isinstance(seed, int) and not dtypes.is_integer(
                shaped_abstractify(seed).dtype if isinstance(seed, (Array, Tracer))
                else np.asarray(seed).dtype)):
        raise TypeError(f"{name}: PRNG key seed must be an integer; got {seed!r} "
                        f"(of type {type(seed).__name__})")
    if isinstance(seed, (int, np.integer)):
        s = int(seed)
        if not -(2 ** 63) <= s < 2 ** 64:
            raise OverflowError(f"{name}: seed {s} does not fit in 64 bits")
        s %= 2 ** 64
        if not dtypes.x64_enabled():
            # NOTE: as jax: without x64 the seed is narrowed to int32 first, so only its
            # low 32 bits count and the high word is 0 (a logical shift of an int32).
            s &= 0xFFFFFFFF
        return lnp.asarray(np.array([s >> 32, s & 0xFFFFFFFF], dtype=np.uint32))
    return _seed_traced(seed)


@jit
def _seed_traced(seed: Any) -> Any:
    dtype = shaped_abstractify(seed).dtype
    lo = lax.convert_element_type(seed, _U32)
    if dtype.itemsize == 8:
        hi = lax.convert_element_type(lax.shift_right_logical(seed, np.array(32, dtype)), _U32)
    else:
        hi = lax.full((), 0, _U32)
    return lnp.stack([hi, lo])


def PRNGKey(seed: Any) -> Any:
    """A raw PRNG key (uint32 data of shape (2,)) from an integer seed, as
    `jax.random.PRNGKey`.

    The key is `[seed >> 32, seed & 0xFFFFFFFF]`; without x64 the seed is first
    narrowed to int32, so `PRNGKey(-7)` is `[0, 4294967289]`.

    Args:
        seed: a Python int or a 0-d integer array (traced values are fine).

    Returns:
        A uint32 array of shape (2,).

    >>> import lamina
    >>> lamina.random.PRNGKey(42)
    Array([ 0, 42], dtype=uint32)
    """
    return _seed_data("PRNGKey", seed)


def key(seed: Any, *, impl: Any = None) -> KeyArray:
    """A typed PRNG key (shape `()`, dtype `key<fry>`) from an integer seed, as
    `jax.random.key`. It holds the same data as `PRNGKey(seed)`.

    >>> import lamina
    >>> lamina.random.key_data(lamina.random.key(42))
    Array([ 0, 42], dtype=uint32)
    """
    _check_impl("key", impl)
    return KeyArray(_seed_data("key", seed))


def _check_impl(name: str, impl: Any) -> None:
    if impl is not None and str(impl) != IMPL_NAME:
        raise ValueError(f"{name}: lamina implements only the {IMPL_NAME!r} PRNG, "
                         f"got impl={impl!r}")


def key_data(keys: Any) -> Any:
    """The uint32 data (shape `(*keys.shape, 2)`) underlying typed or raw keys.

    >>> import lamina
    >>> lamina.random.key_data(lamina.random.split(lamina.random.key(0), 2)).shape
    (2, 2)
    """
    data, _ = check_key("key_data", keys, allow_batched=True)
    return data


def wrap_key_data(key_bits_array: Any, *, impl: Any = None) -> KeyArray:
    """Wrap uint32 key data of shape `(..., 2)` into a typed key array of shape `(...)`.

    >>> import lamina
    >>> k = lamina.random.wrap_key_data(lamina.random.PRNGKey(1))
    >>> k.shape, k.dtype
    ((), key<fry>)
    """
    _check_impl("wrap_key_data", impl)
    if isinstance(key_bits_array, KeyArray):
        raise TypeError("wrap_key_data: key_bits_array is already a typed key array; "
                        "pass its key_data(...)")
    data, _ = check_key("wrap_key_data", key_bits_array, allow_batched=True)
    return KeyArray(data)


def key_impl(keys: Any) -> str:
    """The PRNG implementation's name: always `'threefry2x32'` in lamina."""
    check_key("key_impl", keys, allow_batched=True)
    return IMPL_NAME


def clone(key: Any) -> Any:
    """A copy of `key` (jax uses it to mark a deliberate key reuse; here a no-op).

    >>> import lamina
    >>> k = lamina.random.key(0)
    >>> bool(lamina.random.clone(k) == k)
    True
    """
    data, typed = check_key("clone", key, allow_batched=True)
    return _rewrap(typed, data)


# --------------------------------------------------------------------------------------
# Counters, split, fold_in, bits
# --------------------------------------------------------------------------------------


def _counters(shape: tuple[int, ...]) -> tuple[Any, Any]:
    """The flat index of every element of `shape` as (hi, lo) uint32 words (jax's
    `iota_2x32_shape`); `hi` is a 0-d zero while the size fits in 32 bits."""
    n = math.prod(shape)
    if n >= 2 ** 32:
        raise NotImplementedError(f"random bits for {n} >= 2**32 elements (shape {shape})")
    hi = lax.full((), 0, _U32)
    if not shape:
        return hi, lax.full((), 0, _U32)
    return hi, lax.reshape(lax.iota(_U32, n), shape)


def _hash(data: Any, shape: tuple[int, ...]) -> list[Any]:
    hi, lo = _counters(shape)
    return threefry2x32(data[0], data[1], hi, lo)


@jit(static_argnames=("shape",))
def _split_data(data: Any, shape: tuple[int, ...]) -> Any:
    b1, b2 = _hash(data, shape)
    return lnp.stack([b1, b2], axis=len(shape))


@jit(static_argnames=("bit_width", "shape"))
def random_bits(data: Any, bit_width: int, shape: tuple[int, ...]) -> Any:
    """Raw random bits of `bit_width` in {8, 16, 32, 64} from single-key data."""
    b1, b2 = _hash(data, shape)
    dtype = _UINT_DTYPES[bit_width]
    if bit_width == 64:
        hi = lax.convert_element_type(b1, dtype)
        lo = lax.convert_element_type(b2, dtype)
        return lax.bitwise_or(lax.shift_left(hi, np.array(32, dtype)), lo)
    x = lax.bitwise_xor(b1, b2)
    return x if bit_width == 32 else lax.convert_element_type(x, dtype)


def _split_num(name: str, num: Any) -> tuple[int, ...]:
    shape = tuple(num) if isinstance(num, (tuple, list)) else (num,)
    return canonical_shape(name, shape, "num")


def canonical_shape(name: str, shape: Any, arg: str = "shape") -> tuple[int, ...]:
    """A tuple of non-negative Python ints, or a TypeError/ValueError naming `arg`."""
    if isinstance(shape, (int, np.integer)) and not isinstance(shape, bool):
        shape = (shape,)
    try:
        out = []
        for d in shape:
            if isinstance(d, Tracer):
                raise TypeError("a traced value (shapes must be static)")
            if isinstance(d, (bool, np.bool_)) or not isinstance(
                    d, (int, np.integer)) and not (hasattr(d, "__index__")):
                raise TypeError(f"element {d!r} is not an integer")
            out.append(int(d.__index__()))
    except TypeError as e:
        raise TypeError(f"{name}: {arg} must be a sequence of integers, got {shape!r} ({e})"
                        ) from None
    if any(d < 0 for d in out):
        raise ValueError(f"{name}: {arg} {tuple(out)} has a negative dimension")
    return tuple(out)


# NOTE: eager key derivation (split, fold_in) of a key on a CPU device runs on the host
# up to this many keys: numpy's threefry takes microseconds where XLA would compile a
# program per new count (~35 ms).
_HOST_KEYS_MAX = 1 << 16


def _host_key_data(data: Any, count: int) -> np.ndarray | None:
    """The host value of single-key data when deriving `count` keys from it can run on
    the host now (an eager call; a concrete key on a CPU device), else None."""
    if (type(data) is not Array or count > _HOST_KEYS_MAX or data.device.platform != "cpu"
            or not running_eagerly()):
        return None
    return np.asarray(data)


def split(key: Any, num: int | Sequence[int] = 2) -> Any:
    """Split a key into `num` new keys (or an array of keys of shape `num`).

    Args:
        key: a single PRNG key (typed or raw).
        num: a non-negative int or a tuple of ints: the number or shape of the keys.

    Returns:
        Keys of shape `num` (typed input) or key data of shape `(*num, 2)` (raw input).

    >>> import lamina
    >>> lamina.random.split(lamina.random.PRNGKey(0))
    Array([[1797259609, 2579123966],
           [ 928981903, 3453687069]], dtype=uint32)
    """
    data, typed = check_key("split", key)
    shape = _split_num("split", num)
    host = _host_key_data(data, math.prod(shape))
    if host is not None:
        counters = np.arange(math.prod(shape), dtype=_U32).reshape(shape)
        y1, y2 = threefry2x32_host(host[0], host[1], 0, counters)
        return _rewrap(typed, device_put_host(np.stack([y1, y2], axis=len(shape)),
                                              data.device))
    return _rewrap(typed, _split_data(data, shape))



@jit
def _fold_in_data(data: Any, d: Any) -> Any:
    y1, y2 = threefry2x32(data[0], data[1], lax.full((), 0, _U32), d)
    return lnp.stack([y1, y2])


def fold_in(key: Any, data: Any) -> Any:
    """A new key derived from `key` and a 32-bit integer `data` (a step or layer id).

    >>> import lamina
    >>> lamina.random.fold_in(lamina.random.PRNGKey(1), 7).shape
    (2,)
    """
    kdata, typed = check_key("fold_in", key)
    if isinstance(data, (Array, Tracer)):
        aval = shaped_abstractify(data)
        if aval.shape:
            raise TypeError(f"fold_in accepts a scalar data, but was given an array of shape "
                            f"{aval.shape} != (). Use lamina.vmap for batching.")
        if not (dtypes.is_integer(aval.dtype) or dtypes.is_bool(aval.dtype)):
            raise TypeError(f"fold_in: data must be an integer, got {aval.str_short()}")
        d = lax.convert_element_type(data, _U32)
    else:
        if np.ndim(data):
            raise TypeError(f"fold_in accepts a scalar data, but was given an array of shape "
                            f"{np.shape(data)} != (). Use lamina.vmap for batching.")
        arr = np.asarray(data)
        if not (np.issubdtype(arr.dtype, np.integer) or arr.dtype == np.bool_):
            raise TypeError(f"fold_in: data must be an integer, got {data!r}")
        if isinstance(data, int) and not 0 <= data < 2 ** 32:
            raise OverflowError(f"fold_in: data {data} is out of bounds for uint32; "
                                "pass a value in [0, 2**32)")
        host = _host_key_data(kdata, 1)
        if host is not None:
            y1, y2 = threefry2x32_host(host[0], host[1], 0, arr.astype(np.uint32))
            return _rewrap(typed, device_put_host(np.stack([y1, y2]), kdata.device))
        d = lnp.asarray(arr.astype(np.uint32))
    return _rewrap(typed, _fold_in_data(kdata, d))


def bits(key: Any, shape: Sequence[int] = (), dtype: Any = None) -> Any:
    """Uniform random bits as unsigned integers (default uint32; uint64 with x64).

    >>> import lamina
    >>> lamina.random.bits(lamina.random.PRNGKey(0), (3,))
    Array([4070199207, 4202968722, 1427181096], dtype=uint32)
    """
    data, _ = check_key("bits", key)
    dtype = dtypes.default_uint_dtype() if dtype is None else dtypes.canonicalize_dtype(dtype)
    if not dtypes.is_unsigned_integer(dtype):
        raise ValueError(f"bits: dtype must be an unsigned int dtype, got {np.dtype(dtype).name}")
    return random_bits(data, np.dtype(dtype).itemsize * 8, canonical_shape("bits", shape))
