"""Test utilities: per-dtype tolerances and comparators that check tree structure,
then shape, then dtype, then values (optax/tinygrad/MLX order)."""
from __future__ import annotations

from typing import Any

import ml_dtypes
import numpy as np

from lamina import dtypes

# Default tolerances by dtype (JAX's defaults). A test may loosen one only for a named
# dtype and backend, with a comment saying why.
TOL: dict[np.dtype, float] = {
    np.dtype(np.float16): 1e-3, np.dtype(ml_dtypes.bfloat16): 1e-2,
    np.dtype(np.float32): 1e-6, np.dtype(np.float64): 1e-15,
    np.dtype(np.complex64): 1e-6, np.dtype(np.complex128): 1e-15,
}
GRAD_TOL: dict[np.dtype, float] = {np.dtype(np.float32): 2e-3, np.dtype(np.float64): 1e-5}


def default_tolerance(dtype: Any, table: dict[np.dtype, float] | None = None) -> float:
    """The tolerance for `dtype` (0 for integers and bool: they must match exactly)."""
    dtype = np.dtype(dtype)
    return (table or TOL).get(dtype, 0.0)


def _tol(tol: Any, dtype: np.dtype) -> float:
    if tol is None:
        return default_tolerance(dtype)
    if isinstance(tol, dict):
        return {np.dtype(k): v for k, v in tol.items()}.get(dtype, default_tolerance(dtype))
    return float(tol)


def assert_array_close(actual: Any, desired: Any, *, rtol: Any = None, atol: Any = None,
                       check_dtype: bool = True, err_msg: str = "") -> None:
    """Assert shape, then dtype, then values (per-dtype tolerance of `desired`'s dtype
    when `rtol`/`atol` are None; either may be a `{dtype: tol}` dict)."""
    a = np.asarray(actual)
    d = np.asarray(desired)
    if a.shape != d.shape:
        raise AssertionError(f"{err_msg} shape mismatch: actual {a.shape}, desired {d.shape}")
    if check_dtype and a.dtype != d.dtype:
        raise AssertionError(f"{err_msg} dtype mismatch: actual {a.dtype}, desired {d.dtype}")
    dtype = d.dtype
    if not dtypes.is_inexact(dtype) and not dtypes.is_inexact(a.dtype):
        np.testing.assert_array_equal(a, d, err_msg=err_msg)
        return
    # Compare in float64/complex128: numpy cannot do arithmetic on bfloat16 reliably.
    wide = np.complex128 if dtypes.is_complex(dtype) or dtypes.is_complex(a.dtype) else np.float64
    np.testing.assert_allclose(a.astype(wide), d.astype(wide), rtol=_tol(rtol, dtype),
                               atol=_tol(atol, dtype), equal_nan=True, err_msg=err_msg)


def assert_trees_close(actual: Any, desired: Any, **kwargs: Any) -> None:
    """Tree structure first, then `assert_array_close` leaf by leaf."""
    from lamina import tree_util
    a_leaves, a_def = tree_util.tree_flatten(actual)
    d_leaves, d_def = tree_util.tree_flatten(desired)
    if a_def != d_def:
        raise AssertionError(f"tree structure mismatch: actual {a_def}, desired {d_def}")
    for i, (a, d) in enumerate(zip(a_leaves, d_leaves)):
        assert_array_close(a, d, err_msg=f"leaf {i}:", **kwargs)
