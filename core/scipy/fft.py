"""lamina.scipy.fft: the type-2 discrete cosine transform and its inverse (`dct`, `dctn`,
`idct`, `idctn`), as `jax.scipy.fft`, computed with one complex FFT per axis (Makhoul's
reordering: even samples, then odd samples reversed).

>>> import lamina.numpy as lnp
>>> from lamina.scipy.fft import dct, idct
>>> x = lnp.array([1., 2., 3., 4.])
>>> lnp.allclose(dct(x), lnp.array([20., -6.3086, 0., -0.4483]), atol=1e-4)
Array(True, dtype=bool)
>>> lnp.allclose(idct(dct(x)), x, atol=1e-5)
Array(True, dtype=bool)
"""
from __future__ import annotations

import operator
from typing import Any, Callable, Sequence

import numpy as np

import lamina.numpy as lnp
from lamina import lax
from lamina.numpy._util import promote_dtypes_inexact

__all__ = ["dct", "dctn", "idct", "idctn"]

_NORMS = (None, "backward", "ortho")


def _check(fun: str, x: Any, type: int, norm: Any) -> Any:
    if type != 2:
        raise NotImplementedError(f"lamina.scipy.fft.{fun}: only the type-2 DCT is "
                                  f"implemented (as in jax), got type={type!r}.")
    if norm not in _NORMS:
        raise ValueError(f"lamina.scipy.fft.{fun}: norm must be None, 'backward' or "
                         f"'ortho', got {norm!r}.")
    (x,) = promote_dtypes_inexact(lnp.asarray(x))
    return x


def _axis(fun: str, axis: int, ndim: int) -> int:
    if not -ndim <= axis < ndim:
        raise ValueError(f"lamina.scipy.fft.{fun}: axis {axis} is out of bounds for an "
                         f"array of rank {ndim}.")
    return axis % ndim


def _resize(x: Any, n: int | None, axis: int, fun: str) -> Any:
    """Zero-pads or truncates x along axis to length n."""
    if n is None:
        return x
    n = operator.index(n)
    if n < 1:
        raise ValueError(f"lamina.scipy.fft.{fun}: the transform length must be >= 1, got "
                         f"{n}.")
    size = x.shape[axis]
    if n <= size:
        return lax.slice_in_dim(x, 0, n, axis=axis)
    pad = [(0, 0)] * x.ndim
    pad[axis] = (0, n - size)
    return lnp.pad(x, pad)


def _along(x: Any, axis: int, values: Any) -> Any:
    """`values` (1-D, length x.shape[axis]) shaped to broadcast against x along axis."""
    shape = [1] * x.ndim
    shape[axis] = x.shape[axis]
    return values.reshape(shape)


def _twiddle(n: int, real_dtype: Any) -> Any:
    """exp(-i pi k / (2 n)) for k = 0..n-1."""
    k = lnp.arange(n, dtype=real_dtype)
    return lnp.exp((-0.5j * np.pi / n) * k)


def _ortho_scale(n: int, dtype: Any) -> Any:
    """The 'ortho' factors of the type-2 DCT: sqrt(1/(4n)) for k=0, sqrt(1/(2n)) else."""
    f = np.full(n, 1 / np.sqrt(2 * n))
    f[0] = 1 / np.sqrt(4 * n)
    return lnp.asarray(f.astype(dtype))


def _split_complex(fun: Callable[..., Any], x: Any, **kw: Any) -> Any:
    return lax.complex(fun(lnp.real(x), **kw), fun(lnp.imag(x), **kw))


def dct(x: Any, type: int = 2, n: int | None = None, axis: int = -1,
        norm: str | None = None) -> Any:
    """The type-2 DCT along `axis`, as `jax.scipy.fft.dct` (scipy's definition:
    `y[k] = 2 sum_j x[j] cos(pi k (2j + 1) / (2N))`).

    Args:
        x: the input array (complex inputs transform their real and imaginary parts).
        type: only 2.
        n: the transform length: x is zero-padded or truncated to it along `axis`.
        axis: the axis to transform (default -1).
        norm: None/'backward' (unscaled) or 'ortho' (an orthonormal transform).

    >>> import lamina.numpy as lnp
    >>> from lamina.scipy.fft import dct
    >>> dct(lnp.array([1., 1., 1., 1.]), norm="ortho")[0]
    Array(2., dtype=float32)
    """
    x = _check("dct", x, type, norm)
    if lnp.iscomplexobj(x):
        return _split_complex(dct, x, type=type, n=n, axis=axis, norm=norm)
    axis = _axis("dct", axis, x.ndim)
    x = _resize(x, n, axis, "dct")
    size = x.shape[axis]
    evens = lax.slice_in_dim(x, 0, None, 2, axis=axis)
    odds = lnp.flip(lax.slice_in_dim(x, 1, None, 2, axis=axis), axis)
    spectrum = lnp.fft.fft(lnp.concatenate([evens, odds], axis=axis), axis=axis)
    out = 2 * lnp.real(spectrum * _along(x, axis, _twiddle(size, x.dtype)))
    if norm == "ortho":
        out = out * _along(x, axis, _ortho_scale(size, x.dtype))
    return out.astype(x.dtype)


def idct(x: Any, type: int = 2, n: int | None = None, axis: int = -1,
         norm: str | None = None) -> Any:
    """The inverse of the type-2 DCT (a scaled type-3 DCT) along `axis`, as
    `jax.scipy.fft.idct`: `idct(dct(x, norm=m), norm=m) == x` for either norm.

    Args: as `dct`.

    >>> import lamina.numpy as lnp
    >>> from lamina.scipy.fft import idct
    >>> idct(lnp.array([6., 0., 0.])).round(4)
    Array([1., 1., 1.], dtype=float32)
    """
    x = _check("idct", x, type, norm)
    if lnp.iscomplexobj(x):
        return _split_complex(idct, x, type=type, n=n, axis=axis, norm=norm)
    axis = _axis("idct", axis, x.ndim)
    x = _resize(x, n, axis, "idct")
    size = x.shape[axis]
    if norm == "ortho":
        x = x / _along(x, axis, _ortho_scale(size, x.dtype))
    # Undo y = 2 Re(w V): with y[size] = 0, V[k] = (y[k] - i y[size - k]) / (2 w[k]).
    mirrored = lnp.concatenate(
        [lnp.zeros_like(lax.slice_in_dim(x, 0, 1, axis=axis)),
         lnp.flip(lax.slice_in_dim(x, 1, None, axis=axis), axis)], axis=axis)
    spectrum = (x - 1j * mirrored) / (2 * _along(x, axis, _twiddle(size, x.dtype)))
    v = lnp.real(lnp.fft.ifft(spectrum, axis=axis)).astype(x.dtype)
    # v holds x's even samples, then its odd samples reversed.
    half = (size + 1) // 2
    evens = lax.slice_in_dim(v, 0, half, axis=axis)
    odds = lnp.flip(lax.slice_in_dim(v, half, None, axis=axis), axis)
    if size % 2:
        pad = [(0, 0)] * x.ndim
        pad[axis] = (0, 1)
        odds = lnp.pad(odds, pad)
    pairs = lnp.stack([evens, odds], axis=axis + 1)
    shape = list(x.shape)
    shape[axis] = 2 * half
    return lax.slice_in_dim(pairs.reshape(shape), 0, size, axis=axis)


def _nd(fun: str, one: Callable[..., Any], x: Any, type: int, s: Any, axes: Any,
        norm: Any) -> Any:
    x = _check(fun, x, type, norm)
    if s is not None:
        s = [operator.index(s)] if np.ndim(s) == 0 else [operator.index(v) for v in s]
        if len(s) > x.ndim:
            raise ValueError(f"lamina.scipy.fft.{fun}: s must have at most x.ndim "
                             f"({x.ndim}) entries, got {len(s)}.")
    if axes is None:
        axes = tuple(range(x.ndim - len(s), x.ndim)) if s is not None else \
            tuple(range(x.ndim))
    else:
        axes = (axes,) if np.ndim(axes) == 0 else tuple(axes)
        axes = tuple(_axis(fun, a, x.ndim) for a in axes)
        if len(set(axes)) != len(axes):
            raise ValueError(f"lamina.scipy.fft.{fun}: axes must be distinct, got {axes}.")
    if s is not None and len(s) != len(axes):
        raise ValueError(f"lamina.scipy.fft.{fun}: s and axes must have the same length, "
                         f"got s={s} and axes={axes}.")
    for i, a in enumerate(axes):
        x = one(x, n=None if s is None else s[i], axis=a, norm=norm)
    return x


def dctn(x: Any, type: int = 2, s: Sequence[int] | None = None,
         axes: Sequence[int] | None = None, norm: str | None = None) -> Any:
    """The multidimensional type-2 DCT (a `dct` along each of `axes`), as
    `jax.scipy.fft.dctn`.

    Args:
        x: the input array.
        type: only 2.
        s: the transform lengths along `axes` (zero-pad or truncate).
        axes: the axes to transform (default: the last len(s), or all).
        norm: None/'backward' or 'ortho'.

    >>> import lamina.numpy as lnp
    >>> from lamina.scipy.fft import dctn
    >>> dctn(lnp.ones((2, 2)))
    Array([[16.,  0.],
           [ 0.,  0.]], dtype=float32)
    """
    return _nd("dctn", dct, x, type, s, axes, norm)


def idctn(x: Any, type: int = 2, s: Sequence[int] | None = None,
          axes: Sequence[int] | None = None, norm: str | None = None) -> Any:
    """The inverse of `dctn`, as `jax.scipy.fft.idctn`.

    >>> import lamina.numpy as lnp
    >>> from lamina.scipy.fft import idctn
    >>> idctn(lnp.array([[16., 0.], [0., 0.]]))
    Array([[1., 1.],
           [1., 1.]], dtype=float32)
    """
    return _nd("idctn", idct, x, type, s, axes, norm)
