"""lamina.scipy.signal: `jax.scipy.signal`'s convolutions and `detrend`.

Direct convolutions are one `lax.conv_general_dilated` (any number of dimensions);
`fftconvolve` multiplies (real) FFTs. Only `boundary='fill', fillvalue=0` exists for the
2-D functions, as in jax.

>>> import lamina.numpy as lnp
>>> from lamina.scipy import signal
>>> signal.convolve(lnp.array([1., 2., 3.]), lnp.array([0., 1., 0.5]))
Array([0. , 1. , 2.5, 4. , 1.5], dtype=float32)
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

import lamina.numpy as lnp
from lamina import lax
from lamina._api_batching import vmap
from lamina.numpy._util import promote_dtypes_inexact

__all__ = ["convolve", "convolve2d", "correlate", "correlate2d", "detrend", "fftconvolve"]

_MODES = ("full", "same", "valid")


def _check_mode(fun: str, mode: str) -> None:
    if mode not in _MODES:
        raise ValueError(f"lamina.scipy.signal.{fun}: mode must be one of {list(_MODES)}, "
                         f"got {mode!r}.")


def _conv_direct(fun: str, in1: Any, in2: Any, mode: str, precision: Any) -> Any:
    """scipy's N-d convolution of in1 and in2 (same rank) as a cross-correlation of in1
    with the flipped kernel; the larger input plays in1 (so 'valid' is never empty)."""
    _check_mode(fun, mode)
    in1, in2 = lnp.asarray(in1), lnp.asarray(in2)
    if in1.ndim != in2.ndim:
        raise ValueError(f"lamina.scipy.signal.{fun}: in1 and in2 must have the same number "
                         f"of dimensions, got shapes {in1.shape} and {in2.shape}.")
    if in1.size == 0 or in2.size == 0:
        raise ValueError(f"lamina.scipy.signal.{fun}: zero-size arrays are not supported, "
                         f"got shapes {in1.shape} and {in2.shape}.")
    in1, in2 = promote_dtypes_inexact(in1, in2)
    smaller = all(a <= b for a, b in zip(in1.shape, in2.shape))
    larger = all(a >= b for a, b in zip(in1.shape, in2.shape))
    if not (smaller or larger):
        raise ValueError(f"lamina.scipy.signal.{fun}: one input must be at least as large as "
                         f"the other in every dimension, got shapes {in1.shape} and "
                         f"{in2.shape}.")
    # NOTE: 'same' keeps in1's size; the padding is written in terms of the original
    # in2's size so that it also holds when the inputs trade places.
    ref = in2.shape
    if not larger:
        in1, in2 = in2, in1
    k = in2.shape
    if mode == "full":
        padding = [(s - 1, s - 1) for s in k]
    elif mode == "same":
        padding = [(s - 1 - (r - 1) // 2, s - r + (r - 1) // 2) for s, r in zip(k, ref)]
    else:
        padding = [(0, 0)] * len(k)
    out = lax.conv_general_dilated(in1[None, None], lnp.flip(in2)[None, None],
                                   (1,) * len(k), padding, precision=precision)
    return out[0, 0]


def convolve(in1: Any, in2: Any, mode: str = "full", method: str = "auto",
             precision: Any = None) -> Any:
    """N-dimensional convolution of two arrays of the same rank, as
    `jax.scipy.signal.convolve`.

    Args:
        in1, in2: the inputs (one must be at least as large as the other in every
            dimension).
        mode: 'full' (every overlap), 'same' (the size of in1, centred) or 'valid'
            (only complete overlaps).
        method: 'auto' or 'direct' (a convolution op), or 'fft' (`fftconvolve`).
        precision: the `lax.Precision` of the direct method.

    Returns:
        The convolution, in the inputs' promoted inexact dtype.

    >>> import lamina.numpy as lnp
    >>> from lamina.scipy.signal import convolve
    >>> convolve(lnp.array([1., 2., 3., 4.]), lnp.array([1., 1.]), mode="valid")
    Array([3., 5., 7.], dtype=float32)
    """
    if method == "fft":
        return fftconvolve(in1, in2, mode=mode)
    if method in ("auto", "direct"):
        return _conv_direct("convolve", in1, in2, mode, precision)
    raise ValueError(f"lamina.scipy.signal.convolve: method must be 'auto', 'direct' or "
                     f"'fft', got {method!r}.")


def correlate(in1: Any, in2: Any, mode: str = "full", method: str = "auto",
              precision: Any = None) -> Any:
    """N-dimensional cross-correlation, as `jax.scipy.signal.correlate`: the convolution
    of in1 with in2 flipped (and conjugated).

    >>> import lamina.numpy as lnp
    >>> from lamina.scipy.signal import correlate
    >>> correlate(lnp.array([1., 2., 3.]), lnp.array([1., 0.]))
    Array([0., 1., 2., 3.], dtype=float32)
    """
    in2 = lnp.asarray(in2)
    return convolve(in1, lnp.flip(lnp.conj(in2)), mode, method=method, precision=precision)


def _check_2d(fun: str, in1: Any, in2: Any, boundary: str, fillvalue: Any) -> None:
    if boundary != "fill" or fillvalue != 0:
        raise NotImplementedError(f"lamina.scipy.signal.{fun}: only boundary='fill' with "
                                  f"fillvalue=0 is supported (as in jax), got "
                                  f"boundary={boundary!r}, fillvalue={fillvalue!r}.")
    if np.ndim(in1) != 2 or np.ndim(in2) != 2:
        raise ValueError(f"lamina.scipy.signal.{fun}: both inputs must be 2-D, got shapes "
                         f"{np.shape(in1)} and {np.shape(in2)}. Use convolve/correlate for "
                         "other ranks.")


def convolve2d(in1: Any, in2: Any, mode: str = "full", boundary: str = "fill",
               fillvalue: float = 0, precision: Any = None) -> Any:
    """2-D convolution, as `jax.scipy.signal.convolve2d` (zero fill only).

    >>> import lamina.numpy as lnp
    >>> from lamina.scipy.signal import convolve2d
    >>> convolve2d(lnp.ones((3, 3)), lnp.ones((2, 2)), mode="valid")
    Array([[4., 4.],
           [4., 4.]], dtype=float32)
    """
    _check_2d("convolve2d", in1, in2, boundary, fillvalue)
    return _conv_direct("convolve2d", in1, in2, mode, precision)


def correlate2d(in1: Any, in2: Any, mode: str = "full", boundary: str = "fill",
                fillvalue: float = 0, precision: Any = None) -> Any:
    """2-D cross-correlation, as `jax.scipy.signal.correlate2d` (zero fill only),
    including scipy's conventions when in2 is the larger input.

    >>> import lamina.numpy as lnp
    >>> from lamina.scipy.signal import correlate2d
    >>> correlate2d(lnp.arange(4.).reshape(2, 2), lnp.array([[1., 0.]]))
    Array([[0., 0., 1.],
           [0., 2., 3.]], dtype=float32)
    """
    _check_2d("correlate2d", in1, in2, boundary, fillvalue)
    _check_mode("correlate2d", mode)
    in1, in2 = lnp.asarray(in1), lnp.asarray(in2)
    in2_larger = all(a <= b for a, b in zip(in1.shape, in2.shape))
    same = in1.shape == in2.shape

    def flipped() -> Any:
        # correlate(a, v) read backwards is convolve(flip(a), conj(v)).
        return lnp.flip(_conv_direct("correlate2d", lnp.flip(in1), lnp.conj(in2), mode,
                                     precision))

    if mode == "same" or not in2_larger or (mode == "valid" and same):
        return flipped()
    out = _conv_direct("correlate2d", lnp.flip(in2), lnp.conj(in1), mode, precision)
    return out if mode == "valid" else lnp.conj(out)


def _fftconvolve_core(in1: Any, in2: Any, mode: str) -> Any:
    full = tuple(a + b - 1 for a, b in zip(in1.shape, in2.shape))
    if mode == "valid":
        if not (all(a >= b for a, b in zip(in1.shape, in2.shape))
                or all(a <= b for a, b in zip(in1.shape, in2.shape))):
            raise ValueError("lamina.scipy.signal.fftconvolve: for mode='valid' one input "
                             "must be at least as large as the other in every dimension, "
                             f"got shapes {in1.shape} and {in2.shape}.")
        if not all(a >= b for a, b in zip(in1.shape, in2.shape)):
            in1, in2 = in2, in1
    if all(a == 1 or b == 1 for a, b in zip(in1.shape, in2.shape)):
        conv = in1 * in2
    elif lnp.iscomplexobj(in1):
        conv = lnp.fft.ifftn(lnp.fft.fftn(in1, full) * lnp.fft.fftn(in2, full), full)
    else:
        conv = lnp.fft.irfftn(lnp.fft.rfftn(in1, full) * lnp.fft.rfftn(in2, full), full)
    if mode == "full":
        shape = full
    elif mode == "same":
        shape = in1.shape
    else:
        shape = tuple(a - b + 1 for a, b in zip(in1.shape, in2.shape))
    start = tuple((f - s) // 2 for f, s in zip(full, shape))
    return lax.dynamic_slice(conv, start, shape)


def fftconvolve(in1: Any, in2: Any, mode: str = "full",
                axes: Sequence[int] | None = None) -> Any:
    """Convolution through FFTs, as `jax.scipy.signal.fftconvolve`.

    Args:
        in1, in2: inputs of the same rank.
        mode: 'full', 'same' or 'valid' (as in `convolve`).
        axes: the axes to convolve over (default all); the other axes must have equal
            sizes and are treated as a batch.

    >>> import lamina.numpy as lnp
    >>> from lamina.scipy.signal import fftconvolve
    >>> fftconvolve(lnp.array([1., 2., 3.]), lnp.array([1., 1.])).round(4)
    Array([1., 3., 5., 3.], dtype=float32)
    """
    in1, in2 = promote_dtypes_inexact(lnp.asarray(in1), lnp.asarray(in2))
    if in1.ndim != in2.ndim:
        raise ValueError("lamina.scipy.signal.fftconvolve: in1 and in2 must have the same "
                         f"number of dimensions, got shapes {in1.shape} and {in2.shape}.")
    _check_mode("fftconvolve", mode)

    def fun(a: Any, b: Any) -> Any:
        return _fftconvolve_core(a, b, mode)

    if axes is None:
        return fun(in1, in2)
    axes = (axes,) if isinstance(axes, (int, np.integer)) else tuple(axes)
    for ax in axes:
        if not -in1.ndim <= ax < in1.ndim:
            raise ValueError(f"lamina.scipy.signal.fftconvolve: axis {ax} is out of bounds "
                             f"for inputs of rank {in1.ndim}.")
    axes = tuple(ax % in1.ndim for ax in axes)
    batch = sorted(set(range(in1.ndim)) - set(axes))
    if any(in1.shape[i] != in2.shape[i] for i in batch):
        raise ValueError("lamina.scipy.signal.fftconvolve: the axes not convolved over must "
                         f"have equal sizes, got in1.shape={in1.shape}, in2.shape="
                         f"{in2.shape}, axes={axes}.")
    for ax in batch:
        fun = vmap(fun, in_axes=ax, out_axes=ax)
    return fun(in1, in2)


def detrend(data: Any, axis: int = -1, type: str = "linear", bp: Any = 0,
            overwrite_data: None = None) -> Any:
    """Removes the mean ('constant') or a least-squares line ('linear', piecewise between
    the breakpoints `bp`) along `axis`, as `jax.scipy.signal.detrend`.

    >>> import lamina.numpy as lnp
    >>> from lamina.scipy.signal import detrend
    >>> lnp.allclose(detrend(lnp.array([1., 2., 3., 5.])), lnp.array([.2, -.1, -.4, .3]),
    ...              atol=1e-6)
    Array(True, dtype=bool)
    """
    if overwrite_data is not None:
        raise NotImplementedError("lamina.scipy.signal.detrend: overwrite_data is not "
                                  "supported (arrays are immutable); leave it None.")
    if type not in ("constant", "linear"):
        raise ValueError("lamina.scipy.signal.detrend: type must be 'linear' or "
                         f"'constant', got {type!r}.")
    (x,) = promote_dtypes_inexact(lnp.asarray(data))
    if type == "constant":
        return x - x.mean(axis, keepdims=True)
    n = x.shape[axis]
    edges = np.unique(np.concatenate([[0], np.ravel(bp), [n]]).astype(np.int64))
    if edges[0] < 0 or edges[-1] > n:
        raise ValueError(f"lamina.scipy.signal.detrend: breakpoints must lie in [0, {n}] "
                         f"(the length along axis {axis}), got bp={bp!r}.")
    x = lnp.moveaxis(x, axis, 0)
    shape = x.shape
    x = x.reshape(n, -1)
    for lo, hi in zip(edges[:-1], edges[1:]):
        m = int(hi - lo)
        design = lnp.stack([lnp.ones(m, x.dtype),
                            lnp.arange(1, m + 1, dtype=x.dtype) / np.asarray(m, x.dtype)],
                           axis=1)
        coef = lnp.linalg.lstsq(design, x[lo:hi])[0]
        x = x.at[lo:hi].add(-lnp.matmul(design, coef, precision=lax.Precision.HIGHEST))
    return lnp.moveaxis(x.reshape(shape), 0, axis)
