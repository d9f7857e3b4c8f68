"""Identity, triangular and diagonal constructions of `lamina.numpy`: `eye`, `identity`,
`tri`, `tril`, `triu`, `diag`, `diagflat` and the index helpers `diag_indices`,
`tril_indices`, `triu_indices` (jax.numpy's names and semantics; split from `creation`,
which re-exports them).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from lamina import dtypes
from lamina import lax
from lamina.backend.array import device_put_host
from lamina.ir import Tracer
from lamina.numpy import shape_ops as _shape_ops
from lamina.numpy._shape_util import (
    _arr, _default_dtype, _index_dtype, _name, _on_device, _static_int,
)

__all__ = [
    "eye", "identity", "tri", "tril", "triu", "diag", "diagflat", "diag_indices",
    "tril_indices", "triu_indices",
]


Array = Any
ArrayLike = Any


# --------------------------------------------------------------------------------------
# Identity, triangles, diagonals
# --------------------------------------------------------------------------------------


def _dim(fn: str, name: str, n: Any) -> int:
    n = _static_int(fn, name, n)
    if n < 0:
        raise ValueError(f"{_name(fn)}: negative dimensions are not allowed, got {name}={n}")
    return n


def _offset_mask(n: int, m: int, k: Any, direction: str) -> Array:
    """The bool (n, m) mask `i + k <direction> j` of row index i and column index j."""
    i = lax.broadcasted_iota(np.int32, (n, m), 0)
    j = lax.broadcasted_iota(np.int32, (n, m), 1)
    if isinstance(k, int):
        if k:
            i = lax.add(i, np.int32(k))
    else:
        i = lax.add(i, lax.convert_element_type(k, np.int32))
    return {"eq": lax.eq, "ge": lax.ge}[direction](i, j)


def _offset_arg(fn: str, k: Any) -> Any:
    """`k` as a Python int, or a 0-d integer lamina value when traced."""
    if isinstance(k, Tracer):
        if k.ndim != 0 or not dtypes.is_integer(k.dtype):
            raise TypeError(f"{_name(fn)}: k must be an integer scalar, got {k.aval.str_short()}")
        return k
    return _static_int(fn, "k", k)


def eye(N: int, M: int | None = None, k: int | ArrayLike = 0, dtype: Any = None, *,
        device: Any = None) -> Array:
    """A 2-D array with ones on the `k`-th diagonal and zeros elsewhere.

    Args:
        N: the number of rows.
        M: the number of columns (default `N`).
        k: the diagonal: 0 main, > 0 above, < 0 below (may be traced).
        dtype: the dtype (default float32).
        device: a device or sharding to put the result on (as `lamina.device_put`).

    Returns:
        An (N, M) array.

    >>> import lamina.numpy as lnp
    >>> lnp.eye(2, dtype=int).tolist()
    [[1, 0], [0, 1]]
    """
    fn = "eye"
    dtype = _default_dtype(fn, dtype)
    n = _dim(fn, "N", N)
    m = n if M is None else _dim(fn, "M", M)
    mask = _offset_mask(n, m, _offset_arg(fn, k), "eq")
    out = mask if dtypes.is_bool(dtype) else lax.convert_element_type(mask, dtype)
    return _on_device(fn, out, device)


def identity(n: int, dtype: Any = None) -> Array:
    """The (n, n) identity matrix.

    >>> import lamina.numpy as lnp
    >>> lnp.identity(2).tolist()
    [[1.0, 0.0], [0.0, 1.0]]
    """
    return eye(n, dtype=_default_dtype("identity", dtype))


def tri(N: int, M: int | None = None, k: int = 0, dtype: Any = None) -> Array:
    """An (N, M) array with ones at and below the `k`-th diagonal.

    >>> import lamina.numpy as lnp
    >>> lnp.tri(2, 3, dtype=int).tolist()
    [[1, 0, 0], [1, 1, 0]]
    """
    fn = "tri"
    dtype = _default_dtype(fn, dtype)
    n = _dim(fn, "N", N)
    m = n if M is None else _dim(fn, "M", M)
    mask = _offset_mask(n, m, _offset_arg(fn, k), "ge")
    return mask if dtypes.is_bool(dtype) else lax.convert_element_type(mask, dtype)


def _triangle(fn: str, m: ArrayLike, k: Any, lower: bool) -> Array:
    a = _arr(fn, m)
    if a.ndim < 2:
        raise ValueError(f"{_name(fn)}: argument must be at least 2-D, got shape {a.shape}")
    n_rows, n_cols = a.shape[-2:]
    k = _offset_arg(fn, k)
    # lower: keep j <= i + k; upper: keep j >= i + k, i.e. drop j <= i + k - 1.
    kk = k if lower else (k - 1 if isinstance(k, int) else lax.sub(k, np.int32(1)))
    mask = _offset_mask(n_rows, n_cols, kk, "ge")
    mask = lax.broadcast_in_dim(mask, a.shape, (a.ndim - 2, a.ndim - 1))
    zeros = lax.full_like(a, 0)
    return lax.select(mask, a, zeros) if lower else lax.select(mask, zeros, a)


def tril(m: ArrayLike, k: int = 0) -> Array:
    """`m` with the elements above the `k`-th diagonal zeroed (on the last two axes).

    >>> import lamina.numpy as lnp
    >>> lnp.tril(lnp.ones((2, 2), int)).tolist()
    [[1, 0], [1, 1]]
    """
    return _triangle("tril", m, k, lower=True)


def triu(m: ArrayLike, k: int = 0) -> Array:
    """`m` with the elements below the `k`-th diagonal zeroed (on the last two axes).

    >>> import lamina.numpy as lnp
    >>> lnp.triu(lnp.ones((2, 2), int)).tolist()
    [[1, 1], [0, 1]]
    """
    return _triangle("triu", m, k, lower=False)


def diag(v: ArrayLike, k: int = 0) -> Array:
    """The `k`-th diagonal of a 2-D `v`, or a 2-D array with 1-D `v` on its `k`-th
    diagonal.

    >>> import lamina.numpy as lnp
    >>> lnp.diag(lnp.asarray([1, 2])).tolist()
    [[1, 0], [0, 2]]
    """
    fn = "diag"
    v = _arr(fn, v)
    k = _static_int(fn, "k", k)
    if v.ndim == 2:
        return _shape_ops.diagonal(v, offset=k)
    if v.ndim != 1:
        raise ValueError(f"{_name(fn)}: input must be 1-D or 2-D, got shape {v.shape}")
    length = v.shape[0]
    n = length + abs(k)
    if length == 0:
        return lax.full_like(v, 0, shape=(n, n))
    # NOTE: element (i, i + k) of a row-major (n, n) matrix sits at flat position
    # i * (n + 1) + k (k >= 0) or |k| * n + i * (n + 1) (k < 0): one interior-padded
    # vector, reshaped.
    low = k if k >= 0 else -k * n
    high = n * n - (low + (length - 1) * (n + 1) + 1)
    flat = lax.pad(v, _zero_of(v), [(low, high, n)])
    return lax.reshape(flat, (n, n))


def _zero_of(x: Array) -> Any:
    """A zero that lax.pad accepts for `x` (a weak Python scalar keeps a weak result)."""
    zero = np.zeros((), x.dtype)
    return zero.item() if x.weak_type else zero


def diagflat(v: ArrayLike, k: int = 0) -> Array:
    """A 2-D array with the flattened `v` on its `k`-th diagonal.

    >>> import lamina.numpy as lnp
    >>> lnp.diagflat(lnp.ones((1, 2), int)).tolist()
    [[1, 0], [0, 1]]
    """
    v = _arr("diagflat", v)
    if v.weak_type:  # NOTE: jax builds the result by scattering into strong zeros
        v = lax.convert_element_type(v, v.dtype)
    return diag(lax.reshape(v, (v.size,)), k)


def diag_indices(n: int, ndim: int = 2) -> tuple[Array, ...]:
    """Indices of the main diagonal of an array of `ndim` axes of length `n`.

    >>> import lamina.numpy as lnp
    >>> [i.tolist() for i in lnp.diag_indices(2)]
    [[0, 1], [0, 1]]
    """
    fn = "diag_indices"
    n = _static_int(fn, "n", n)
    ndim = _static_int(fn, "ndim", ndim)
    if n < 0:
        raise ValueError(f"{_name(fn)}: n argument must be non-negative, got {n}")
    if ndim < 0:
        raise ValueError(f"{_name(fn)}: ndim argument must be non-negative, got {ndim}")
    idx = lax.iota(_index_dtype(), n)
    return (idx,) * ndim


def _host_indices(pair: tuple[np.ndarray, ...]) -> tuple[Array, ...]:
    # NOTE: the positions depend only on static sizes: computed on the host once.
    return tuple(device_put_host(p.astype(_index_dtype())) for p in pair)


def tril_indices(n: int, k: int = 0, m: int | None = None) -> tuple[Array, Array]:
    """Row and column indices of the lower triangle (at and below diagonal `k`) of an
    (n, m) array.

    >>> import lamina.numpy as lnp
    >>> [i.tolist() for i in lnp.tril_indices(2)]
    [[0, 1, 1], [0, 0, 1]]
    """
    fn = "tril_indices"
    n, k = _dim(fn, "n", n), _static_int(fn, "k", k)
    m = n if m is None else _dim(fn, "m", m)
    return _host_indices(np.tril_indices(n, k, m))


def triu_indices(n: int, k: int = 0, m: int | None = None) -> tuple[Array, Array]:
    """Row and column indices of the upper triangle (at and above diagonal `k`) of an
    (n, m) array.

    >>> import lamina.numpy as lnp
    >>> [i.tolist() for i in lnp.triu_indices(2)]
    [[0, 0, 1], [0, 1, 1]]
    """
    fn = "triu_indices"
    n, k = _dim(fn, "n", n), _static_int(fn, "k", k)
    m = n if m is None else _dim(fn, "m", m)
    return _host_indices(np.triu_indices(n, k, m))
