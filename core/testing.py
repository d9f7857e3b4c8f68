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


# --------------------------------------------------------------------------------------
# Checking transformations
# --------------------------------------------------------------------------------------


def _inexact_leaves(args: Any) -> Any:
    from lamina import tree_util
    return [x for x in tree_util.tree_leaves(args) if dtypes.is_inexact(np.asarray(x).dtype)]


def _random_like(x: Any, rng: np.random.Generator) -> np.ndarray:
    """A random direction of the same shape and dtype as `x` (0-d ok)."""
    x = np.asarray(x)
    v = rng.standard_normal(x.shape)
    if dtypes.is_complex(x.dtype):
        v = v + 1j * rng.standard_normal(x.shape)
    return np.asarray(v, x.dtype)


def _real_inner(a: Any, b: Any) -> float:
    """Re <a, b> = Re sum(conj(a) * b) over matching leaves."""
    total = 0.0
    for x, y in zip(a, b):
        x64 = np.asarray(x).astype(np.complex128)
        y64 = np.asarray(y).astype(np.complex128)
        total += float(np.real(np.sum(np.conj(x64) * y64)))
    return total


def check_jvp(f: Any, args: tuple[Any, ...], *, eps: float | None = None,
              rtol: float | None = None, atol: float | None = None, seed: int = 0) -> None:
    """The JVP of `f` at `args` along a random direction equals a central finite
    difference. Integer arguments are held fixed. Compute in float64 (x64) for tight
    tolerances; float32 needs loose ones."""
    from lamina import tree_util
    from lamina._api_ad import jvp
    rng = np.random.default_rng(seed)
    leaves, tree = tree_util.tree_flatten(args)
    dirs = [_random_like(x, rng) if dtypes.is_inexact(np.asarray(x).dtype)
            else np.zeros(np.shape(x), dtypes.float0) for x in leaves]
    tangents = tree_util.tree_unflatten(tree, dirs)
    _, tangent_out = jvp(f, tuple(args), tuple(tangents))
    dtype = max((np.asarray(x).dtype for x in _inexact_leaves(args)),
                key=lambda d: d.itemsize, default=np.dtype(np.float32))
    eps = eps if eps is not None else (1e-4 if dtype.itemsize >= 8 else 1e-2)

    def shifted(sign: float) -> Any:
        moved = [np.asarray(x) + sign * eps * d if dtypes.is_inexact(np.asarray(x).dtype)
                 else x for x, d in zip(leaves, dirs)]
        moved = [np.asarray(m, np.asarray(x).dtype) if dtypes.is_inexact(np.asarray(x).dtype)
                 else m for m, x in zip(moved, leaves)]
        return f(*tree_util.tree_unflatten(tree, moved))

    plus, minus = shifted(1.0), shifted(-1.0)
    fd = tree_util.tree_map(lambda p, m: (np.asarray(p).astype(np.complex128)
                                          - np.asarray(m).astype(np.complex128)) / (2 * eps),
                            plus, minus)
    tol = GRAD_TOL.get(dtype, 2e-3)
    for got, want in zip(tree_util.tree_leaves(tangent_out), tree_util.tree_leaves(fd)):
        got = np.asarray(got)
        if got.dtype == dtypes.float0:
            continue
        np.testing.assert_allclose(got.astype(np.complex128), want,
                                   rtol=rtol if rtol is not None else tol,
                                   atol=atol if atol is not None else tol,
                                   err_msg="JVP differs from the central finite difference")


def check_vjp(f: Any, args: tuple[Any, ...], *, rtol: float | None = None,
              atol: float | None = None, seed: int = 0) -> None:
    """Reverse mode agrees with forward mode: <ct, J t> == <J^T ct, t> for random
    t and ct (the transposition check)."""
    from lamina import tree_util
    from lamina._api_ad import jvp, vjp
    rng = np.random.default_rng(seed)
    leaves, tree = tree_util.tree_flatten(args)
    inexact = [dtypes.is_inexact(np.asarray(x).dtype) for x in leaves]
    t = [_random_like(x, rng) if ie else np.zeros(np.shape(x), dtypes.float0)
         for x, ie in zip(leaves, inexact)]
    out, f_vjp = vjp(f, *args)
    _, jt = jvp(f, tuple(args), tuple(tree_util.tree_unflatten(tree, t)))
    out_leaves, out_tree = tree_util.tree_flatten(out)
    ct = [_random_like(o, rng) if dtypes.is_inexact(np.asarray(o).dtype)
          else np.zeros(np.shape(o), dtypes.float0) for o in out_leaves]
    # NOTE: jax's convention for complex maps (transposes do not conjugate): compare
    # Re<t, conj(vjp(conj ct))> with Re<J t, ct>, which also holds for maps that are
    # only real-linear (real <-> complex).
    conj_ct = [np.conj(c) if np.iscomplexobj(c) else c for c in ct]
    jct = [np.conj(np.asarray(j)) if np.iscomplexobj(np.asarray(j)) else j for j in
           tree_util.tree_leaves(f_vjp(tree_util.tree_unflatten(out_tree, conj_ct)))]
    out_inexact = [dtypes.is_inexact(np.asarray(o).dtype) for o in out_leaves]
    lhs = _real_inner([j for j, ie in zip(jct, inexact) if ie],
                      [x for x, ie in zip(t, inexact) if ie])
    rhs = _real_inner([j for j, ie in zip(tree_util.tree_leaves(jt), out_inexact) if ie],
                      [c for c, ie in zip(ct, out_inexact) if ie])
    dtype = max((np.asarray(x).dtype for x in _inexact_leaves(args)),
                key=lambda d: d.itemsize, default=np.dtype(np.float32))
    tol = GRAD_TOL.get(dtype, 2e-3)
    np.testing.assert_allclose(lhs, rhs, rtol=rtol if rtol is not None else tol,
                               atol=atol if atol is not None else tol,
                               err_msg="VJP is not the transpose of the JVP")


def check_grads(f: Any, args: tuple[Any, ...], order: int = 1,
                modes: tuple[str, ...] = ("fwd", "rev"), **tols: Any) -> None:
    """jax.test_util.check_grads: forward mode against finite differences and reverse
    mode against forward mode, up to `order` (higher orders differentiate the JVP)."""
    from lamina._api_ad import jvp
    if "fwd" in modes:
        check_jvp(f, args, **tols)
    if "rev" in modes:
        check_vjp(f, args, **tols)
    if order > 1:
        rng = np.random.default_rng(1)
        dirs = tuple(_random_like(x, rng) for x in args)

        def f_jvp(*primals: Any) -> Any:
            return jvp(f, primals, dirs)[1]

        check_grads(f_jvp, args, order - 1, modes, **tols)


def check_vmap(f: Any, args: tuple[Any, ...], in_axes: Any = 0, *, rtol: Any = None,
               atol: Any = None) -> None:
    """`vmap(f, in_axes)(*args)` equals stacking `f` over a Python loop."""
    from lamina import tree_util
    from lamina._api_batching import vmap
    axes = in_axes if isinstance(in_axes, tuple) else (in_axes,) * len(args)
    sizes = {np.shape(a)[ax] for a, ax in zip(args, axes) if ax is not None}
    assert len(sizes) == 1, sizes
    n = sizes.pop()
    got = vmap(f, in_axes=axes)(*args)
    outs = [f(*[a if ax is None else np.take(np.asarray(a), i, axis=ax)
                for a, ax in zip(args, axes)]) for i in range(n)]
    want = tree_util.tree_map(lambda *xs: np.stack([np.asarray(x) for x in xs]), *outs)
    assert_trees_close(got, want, rtol=rtol, atol=atol)
