"""Bit packing of jax.numpy: packbits (booleans to uint8 bytes) and unpackbits
(uint8 bytes to 0/1 uint8 bits). The axis, count and bit order are static."""
from __future__ import annotations

from typing import Any

import numpy as np

from lamina import dtypes, lax
from lamina.lax._util import canonicalize_axis, operator_index
from lamina.ir import Tracer
from lamina.numpy._lax_helpers import _const, _moveaxis, _ravel, _slice_axis
from lamina.numpy._util import asarray, check_arraylike

__all__ = ["packbits", "unpackbits"]

Array = Any  # lamina.Array or a Tracer
ArrayLike = Any

_U8 = np.dtype(np.uint8)


def _bit_values(bitorder: str, fn: str) -> np.ndarray:
    """The value of each of the 8 bit positions of a byte, first position first."""
    if bitorder not in ("big", "little"):
        raise ValueError(f"lamina.numpy.{fn}: bitorder must be 'big' or 'little', got "
                         f"{bitorder!r}")
    values = (1 << np.arange(8)).astype(np.uint8)
    return values[::-1].copy() if bitorder == "big" else values


def _prepare(a: Array, axis: int | None, fn: str) -> tuple[Array, int]:
    """`a` with the packing axis moved last (flattened if `axis` is None)."""
    if axis is None:
        return _ravel(a), 0
    if isinstance(axis, Tracer):
        raise axis._concrete_value_error(f"the axis argument of lamina.numpy.{fn}")
    axis = canonicalize_axis(axis, a.ndim, f"lamina.numpy.{fn}")
    return _moveaxis(a, axis, a.ndim - 1), axis


def packbits(a: ArrayLike, axis: int | None = None, bitorder: str = "big") -> Array:
    """Pack the truth values of `a` into bytes, 8 per uint8 (jax.numpy.packbits).

    Args:
        a: an integer or boolean array; nonzero entries are 1 bits.
        axis: the axis to pack along (static); None packs the flattened array.
        bitorder: 'big' (the first element is the most significant bit) or 'little'.

    Returns:
        A uint8 array whose packing axis has length `ceil(n / 8)` (the last byte is
        padded with zero bits).

    >>> import lamina.numpy as lnp
    >>> lnp.packbits(lnp.array([1, 0, 1, 1, 0, 0, 0, 1, 1]))
    Array([177, 128], dtype=uint8)
    """
    fn = "packbits"
    check_arraylike(f"lamina.numpy.{fn}", a)
    a = asarray(a)
    if not (dtypes.is_integer(a.dtype) or dtypes.is_bool(a.dtype)):
        raise TypeError(f"lamina.numpy.{fn}: expected an integer or boolean array, got "
                        f"{a.aval.str_short()}; compare first, e.g. packbits(x != 0)")
    weights = _bit_values(bitorder, fn)
    bits = lax.convert_element_type(lax.ne(a, _const(0, a.dtype)), _U8)
    bits, axis = _prepare(bits, axis, fn)
    n = bits.shape[-1]
    if n % 8:
        pads = [(0, 0, 0)] * (bits.ndim - 1) + [(0, 8 - n % 8, 0)]
        bits = lax.pad(bits, _const(0, _U8), pads)
    grouped = lax.reshape(bits, (*bits.shape[:-1], bits.shape[-1] // 8, 8))
    # The bits of a byte are distinct powers of two: their sum is their bitwise or.
    weights = lax.broadcast_in_dim(asarray(weights), grouped.shape, (grouped.ndim - 1,))
    packed = lax.reduce_sum(lax.mul(grouped, weights), (grouped.ndim - 1,))
    return _moveaxis(packed, packed.ndim - 1, axis)


def unpackbits(a: ArrayLike, axis: int | None = None, count: int | None = None,
               bitorder: str = "big") -> Array:
    """Unpack uint8 bytes into their bits, as 0/1 uint8 values (jax.numpy.unpackbits).

    Args:
        a: a uint8 array.
        axis: the axis to unpack along (static); None unpacks the flattened array.
        count: keep this many bits along the axis (static): fewer drops the extra
            trailing bits, more pads with zeros, a negative count drops that many from
            the end; None keeps all `8 * n`.
        bitorder: 'big' (most significant bit first) or 'little'.

    Returns:
        A uint8 array of 0s and 1s.

    >>> import lamina.numpy as lnp
    >>> lnp.unpackbits(lnp.array([5], dtype=lnp.uint8))
    Array([0, 0, 0, 0, 0, 1, 0, 1], dtype=uint8)
    """
    fn = "unpackbits"
    check_arraylike(f"lamina.numpy.{fn}", a)
    a = asarray(a)
    if a.dtype != _U8:
        raise TypeError(f"lamina.numpy.{fn}: expected a uint8 array, got {a.aval.str_short()}; "
                        "convert it with a.astype(lnp.uint8)")
    masks = asarray(_bit_values(bitorder, fn))
    a, axis = _prepare(a, axis, fn)
    expanded = lax.broadcast_in_dim(a, (*a.shape, 8), tuple(range(a.ndim)))
    masks = lax.broadcast_in_dim(masks, expanded.shape, (a.ndim,))
    bits = lax.convert_element_type(
        lax.ne(lax.bitwise_and(expanded, masks), _const(0, _U8)), _U8)
    bits = lax.reshape(bits, (*a.shape[:-1], a.shape[-1] * 8))
    if count is not None:
        if isinstance(count, Tracer):
            raise count._concrete_value_error(f"the count argument of lamina.numpy.{fn}")
        count = operator_index(count)
        n = bits.shape[-1]
        if count > n:
            pads = [(0, 0, 0)] * (bits.ndim - 1) + [(0, count - n, 0)]
            bits = lax.pad(bits, _const(0, _U8), pads)
        else:
            stop = slice(None, count).indices(n)[1]
            bits = _slice_axis(bits, 0, stop, bits.ndim - 1)
    return _moveaxis(bits, bits.ndim - 1, axis)
