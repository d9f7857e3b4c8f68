"""Function-lifting helpers of jax.numpy: vectorize (NumPy's generalized-ufunc
wrapper, built on `lamina.vmap` instead of a Python loop), apply_along_axis,
apply_over_axes and piecewise.

`vectorize` squeezes each argument's unit loop dimensions, maps one `vmap` per loop
dimension over the arguments that really have it, and re-inserts the dimensions every
argument had as 1 at the end, so that size-1 broadcasting costs nothing.
"""
from __future__ import annotations

import functools
import re
from typing import Any, Callable, Collection, Sequence

from lamina import dtypes, lax, tree_util
from lamina._api_batching import vmap
from lamina.lax._util import canonicalize_axis
from lamina.numpy._util import asarray, broadcast_shapes, check_arraylike

__all__ = ["apply_along_axis", "apply_over_axes", "piecewise", "vectorize"]

Array = Any  # lamina.Array or a Tracer
ArrayLike = Any
CoreDims = tuple[str, ...]


# --------------------------------------------------------------------------------------
# Generalized-ufunc signatures: "(m,n),(n)->(m)"
# --------------------------------------------------------------------------------------

_NAME = r"\w+"
_ONE = rf"\((?:{_NAME}(?:,{_NAME})*)?\)"
_MANY = rf"{_ONE}(?:,{_ONE})*"
_SIGNATURE_RE = re.compile(rf"^{_MANY}->{_MANY}$")


def _parse_signature(signature: str) -> tuple[list[CoreDims], list[CoreDims]]:
    """The input and output core dimensions named by a gufunc signature."""
    if not isinstance(signature, str) or not _SIGNATURE_RE.match(signature.replace(" ", "")):
        raise ValueError(f"lamina.numpy.vectorize: not a valid gufunc signature: {signature!r}; "
                         "expected e.g. '(m,n),(n)->(m)' (no spaces needed)")
    sides = signature.replace(" ", "").split("->")
    return tuple([tuple(re.findall(_NAME, group)) for group in re.findall(_ONE, side)]
                 for side in sides)  # type: ignore[return-value]


def _bind_core_dims(sizes: dict[str, int], shape: tuple[int, ...], core: CoreDims,
                    what: str, context: str) -> None:
    """Record (or check) the sizes of the core dimensions `core` at the end of `shape`."""
    tail = shape[len(shape) - len(core):] if core else ()
    for name, size in zip(core, tail):
        known = sizes.setdefault(name, size)
        if known != size:
            raise ValueError(f"lamina.numpy.vectorize: inconsistent size for core dimension "
                             f"{name!r}: {size} in {what} vs {known} before {context}")


def _is_arraylike(x: Any) -> bool:
    return hasattr(x, "shape") and hasattr(x, "dtype")


def _check_outputs(func: Callable[..., Any], sizes: dict[str, int], out_core: list[CoreDims],
                   context: str) -> Callable[..., Any]:
    """`func`, checking that what it returns matches the signature's outputs."""

    def checked(*args: Any) -> Any:
        out = func(*args)
        if len(out_core) > 1 and not isinstance(out, tuple):
            raise TypeError(f"lamina.numpy.vectorize: the function must return a tuple of "
                            f"{len(out_core)} arrays, got a single "
                            f"{'array' if _is_arraylike(out) else type(out).__name__} {context}")
        outs = out if isinstance(out, tuple) else (out,)
        if len(outs) != len(out_core):
            raise TypeError(f"lamina.numpy.vectorize: the function returned {len(outs)} "
                            f"outputs but the signature has {len(out_core)} {context}")
        known = dict(sizes)
        for k, (o, core) in enumerate(zip(outs, out_core)):
            shape = tuple(asarray(o).shape)
            if len(shape) != len(core):
                raise ValueError(f"lamina.numpy.vectorize: output {k} has shape {shape}, which "
                                 f"does not match its core dimensions {core} {context}")
            _bind_core_dims(known, shape, core, f"output {k}", context)
        return out

    return checked


# --------------------------------------------------------------------------------------
# vectorize
# --------------------------------------------------------------------------------------


def _static_args(func: Callable[..., Any], args: Sequence[Any], static_pos: Collection[int],
                 kwargs: dict[str, Any], static_names: Collection[str]
                 ) -> tuple[Callable[..., Any], list[Any], list[str]]:
    """Bind the static positional and keyword arguments into `func`; returns the new
    function of the remaining (dynamic) positional values, in order, followed by the
    dynamic keyword values named by the returned list."""
    dyn_pos = [i for i in range(len(args)) if i not in static_pos]
    dyn_names = [k for k in kwargs if k not in static_names]
    fixed_pos = {i: args[i] for i in range(len(args)) if i in static_pos}
    fixed_kw = {k: v for k, v in kwargs.items() if k in static_names}
    nargs = len(args)

    def bound(*values: Any) -> Any:
        it = iter(values[:len(dyn_pos)])
        full = [fixed_pos[i] if i in fixed_pos else next(it) for i in range(nargs)]
        kw = dict(fixed_kw)
        kw.update(zip(dyn_names, values[len(dyn_pos):]))
        return func(*full, **kw)

    values = [args[i] for i in dyn_pos] + [kwargs[k] for k in dyn_names]
    return bound, values, dyn_names


def _input_core_dims(in_core: list[CoreDims], args: Sequence[Any], excluded: Collection[Any],
                     context: str) -> list[CoreDims]:
    """The signature's input core dimensions of the vectorized positional arguments
    (those not excluded), less those of the None arguments, which must have none."""
    dyn = [i for i in range(len(args)) if i not in excluded]
    if len(dyn) != len(in_core):
        raise TypeError(f"lamina.numpy.vectorize: expected {len(in_core)} vectorized "
                        f"positional arguments, got {len(dyn)} {context}")
    nones = [i for i in dyn if args[i] is None]
    if any(in_core[dyn.index(i)] for i in nones):
        raise ValueError(f"lamina.numpy.vectorize: cannot pass None at positions {nones}, "
                         f"which have core dimensions {context}")
    return [c for i, c in zip(dyn, in_core) if args[i] is not None]


def vectorize(pyfunc: Callable[..., Any], *, excluded: Collection[int | str] = frozenset(),
              signature: str | None = None) -> Callable[..., Any]:
    """A version of `pyfunc` that broadcasts over leading (loop) dimensions, like NumPy's
    generalized ufuncs (jax.numpy.vectorize: syntactic sugar for `lamina.vmap`).

    `pyfunc` is traced once per loop dimension, not called per element, so it must be
    written with lamina operations. Without `signature` it receives 0-d arrays; with
    one it receives arrays with exactly the core dimensions named there.

    Args:
        pyfunc: the function to vectorize.
        excluded: positions (ints) or keyword names (strs) of arguments passed to
            `pyfunc` unchanged instead of being vectorized. `None` arguments are always
            passed unchanged.
        signature: a gufunc signature such as `'(m,n),(n)->(m)'`; outputs are checked
            against it. Without it, each argument's core is 0-d and outputs may have
            any shape (an output of shape `s` gets the loop dimensions in front).

    Returns:
        The vectorized function (`pyfunc`'s name and docstring are kept).

    Raises:
        ValueError: a bad signature, an argument with too few dimensions for its core
            dimensions, inconsistent core sizes, or loop dimensions that do not
            broadcast.
        TypeError: a wrong number of arguments or outputs, or a bad `excluded` entry.

    Note:
        Keyword arguments not listed in `excluded` are vectorized like positional ones
        (without a signature), as in NumPy; jax.numpy drops them silently.

    >>> import lamina.numpy as lnp
    >>> matvec = lnp.vectorize(lnp.dot, signature='(m,n),(n)->(m)')
    >>> matvec(lnp.ones((4, 2, 3)), lnp.arange(3.0)).shape
    (4, 2)
    >>> lnp.vectorize(lambda a, b: a * b)(lnp.arange(3), lnp.ones((2, 1), 'int32'))
    Array([[0, 1, 2],
           [0, 1, 2]], dtype=int32)
    """
    if isinstance(excluded, (int, str)):
        raise TypeError(f"lamina.numpy.vectorize: excluded must be a collection of argument "
                        f"positions and names, got {excluded!r}; write excluded={{{excluded!r}}}")
    for e in excluded:
        if isinstance(e, bool) or not isinstance(e, (int, str)):
            raise TypeError(f"lamina.numpy.vectorize can only exclude integer positions or "
                            f"string names, but excluded={excluded!r} contains {e!r}")
        if isinstance(e, int) and e < 0:
            raise ValueError(f"lamina.numpy.vectorize: excluded={excluded!r} contains the "
                             f"negative position {e}; count positions from 0")
    excluded = frozenset(excluded)
    parsed = _parse_signature(signature) if signature is not None else None
    context = f"(vectorized function with excluded={set(excluded) or '{}'} and " \
              f"signature={signature!r})"

    @functools.wraps(pyfunc)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        static_pos = {i for i in excluded if isinstance(i, int)}
        static_pos |= {i for i, a in enumerate(args) if a is None}
        static_names = {k for k in excluded if isinstance(k, str)}
        static_names |= {k for k, v in kwargs.items() if v is None}
        func, values, dyn_names = _static_args(pyfunc, args, static_pos, kwargs, static_names)
        if parsed is None:
            in_core: list[CoreDims] = [()] * len(values)
            out_core = None
        else:
            if dyn_names:
                raise TypeError(f"lamina.numpy.vectorize: keyword arguments {dyn_names} have no "
                                f"core dimensions in the signature; pass them positionally or "
                                f"list them in excluded {context}")
            in_core = _input_core_dims(parsed[0], args, excluded, context)
            out_core = parsed[1]
        values = [asarray(v) for v in values]
        sizes: dict[str, int] = {}
        loop_shapes = []
        for k, (v, core) in enumerate(zip(values, in_core)):
            if v.ndim < len(core):
                raise ValueError(f"lamina.numpy.vectorize: input {k} with shape {v.shape} does "
                                 f"not have enough dimensions for its core dimensions {core} "
                                 f"{context}")
            _bind_core_dims(sizes, v.shape, core, f"input {k}", context)
            loop_shapes.append(v.shape[:v.ndim - len(core)])
        try:
            loop_shape = broadcast_shapes("lamina.numpy.vectorize", *loop_shapes)
        except ValueError:
            raise ValueError(f"lamina.numpy.vectorize: the loop (non-core) dimensions "
                             f"{[tuple(s) for s in loop_shapes]} of the inputs do not broadcast "
                             f"{context}") from None
        if out_core is not None:
            func = _check_outputs(func, sizes, out_core, context)
        nloop = len(loop_shape)
        # Squeeze each input's unit loop dimensions; `has[k][d]` says whether input k
        # keeps loop dimension d (right-aligned) after that.
        squeezed, has = [], []
        for v, s in zip(values, loop_shapes):
            unit = tuple(i for i, d in enumerate(s) if d == 1)
            squeezed.append(lax.squeeze(v, unit) if unit else v)
            pad = nloop - len(s)
            has.append([False] * pad + [d != 1 for d in s])
        mapped = func
        unit_dims = []
        for d in reversed(range(nloop)):
            in_axes = tuple(0 if h[d] else None for h in has)
            if any(a is not None for a in in_axes):
                mapped = vmap(mapped, in_axes=in_axes)
            else:
                unit_dims.append(d)
        out = mapped(*squeezed)
        if not unit_dims:
            return out
        dims = tuple(sorted(unit_dims))
        return tree_util.tree_map(lambda o: _expand(o, dims), out)

    return wrapped


def _expand(x: Any, dims: tuple[int, ...]) -> Array:
    """Insert unit axes at the positions `dims` (sorted) of the result."""
    x = asarray(x)
    shape = list(x.shape)
    for d in dims:
        shape.insert(d, 1)
    return lax.reshape(x, tuple(shape))


# --------------------------------------------------------------------------------------
# apply_along_axis, apply_over_axes
# --------------------------------------------------------------------------------------


def apply_along_axis(func1d: Callable[..., Any], axis: int, arr: ArrayLike, *args: Any,
                     **kwargs: Any) -> Array:
    """Apply `func1d` to every 1-D slice of `arr` along `axis` (jax.numpy.apply_along_axis;
    `vmap`ped rather than looped).

    Args:
        func1d: maps a 1-D array (plus `args`, `kwargs`) to an array of any fixed shape.
        axis: the axis the slices run along.
        arr: the input array (rank >= 1).
        *args, **kwargs: passed to `func1d` unchanged.

    Returns:
        An array of shape `arr.shape[:axis] + out.shape + arr.shape[axis+1:]`, where `out`
        is what `func1d` returns for one slice.

    >>> import lamina.numpy as lnp
    >>> x = lnp.arange(6.0).reshape(2, 3)
    >>> lnp.apply_along_axis(lambda v: v.max() - v.min(), 1, x)
    Array([2., 2.], dtype=float32)
    """
    fn = "lamina.numpy.apply_along_axis"
    check_arraylike(fn, arr)
    arr = asarray(arr)
    axis = canonicalize_axis(axis, arr.ndim, fn)
    x = arr if axis == arr.ndim - 1 else lax.transpose(
        arr, tuple(i for i in range(arr.ndim) if i != axis) + (axis,))
    func = lambda v: func1d(v, *args, **kwargs)  # noqa: E731
    for _ in range(arr.ndim - 1):
        func = vmap(func)
    n_after = arr.ndim - 1 - axis

    def place(out: Any) -> Array:
        # out: (*before, *after, *core); numpy puts the core dimensions at `axis`.
        out = asarray(out)
        if n_after == 0:
            return out
        ncore = out.ndim - (arr.ndim - 1)
        before = list(range(axis))
        after = list(range(axis, axis + n_after))
        core = list(range(axis + n_after, axis + n_after + ncore))
        return lax.transpose(out, tuple(before + core + after))

    return tree_util.tree_map(place, func(x))


def apply_over_axes(func: Callable[[Array, int], Array], a: ArrayLike,
                    axes: int | Sequence[int]) -> Array:
    """Apply `func(a, axis)` repeatedly, once per axis in `axes`, keeping the rank
    (jax.numpy.apply_over_axes): a result with one dimension fewer gets it back as 1.

    Args:
        func: a reduction-like function `func(array, axis)` that returns an array of the
            same rank or of one less.
        a: the input array.
        axes: the axes, applied in order (a single int is accepted too).

    Returns:
        An array of `a`'s rank.

    >>> import lamina.numpy as lnp
    >>> lnp.apply_over_axes(lnp.sum, lnp.arange(6).reshape(2, 3), [0, 1])
    Array([[15]], dtype=int32)
    """
    fn = "lamina.numpy.apply_over_axes"
    check_arraylike(fn, a)
    out = asarray(a)
    for axis in ((axes,) if isinstance(axes, int) else axes):
        b = asarray(func(out, axis))
        if b.ndim == out.ndim - 1:
            ax = canonicalize_axis(axis, out.ndim, fn)
            b = lax.reshape(b, b.shape[:ax] + (1,) + b.shape[ax:])
        elif b.ndim != out.ndim:
            raise ValueError(f"{fn}: func(a, {axis}) returned an array of shape {b.shape} for "
                             f"an input of shape {out.shape}; it must keep the rank or drop "
                             "the one axis")
        out = b
    return out


# --------------------------------------------------------------------------------------
# piecewise
# --------------------------------------------------------------------------------------


def piecewise(x: ArrayLike, condlist: Array | Sequence[ArrayLike],
              funclist: Sequence[ArrayLike | Callable[..., Array]], *args: Any,
              **kw: Any) -> Array:
    """Evaluate a piecewise-defined function (jax.numpy.piecewise).

    Element `i` of the result is `funclist[k](x[i], *args, **kw)` for the last `k` whose
    condition holds at `i`; with one more function than conditions, the extra (last)
    function is the default where no condition holds, otherwise the default is 0.
    Entries of `funclist` may be constants instead of functions. Each function is
    called on scalars (through `vectorize` and `lax.switch`), and results are cast to
    `x`'s dtype. Differentiable and usable under `jit`.

    Args:
        x: the input array.
        condlist: a list of boolean arrays (or a stacked boolean array), one per
            condition, each broadcastable with `x`.
        funclist: `len(condlist)` or `len(condlist) + 1` functions or constants.
        *args, **kw: passed to each function after the scalar.

    Returns:
        An array of `x`'s dtype and the broadcast shape of `x` and the conditions.

    >>> import lamina.numpy as lnp
    >>> x = lnp.array([-2.0, 0.5, 3.0])
    >>> lnp.piecewise(x, [x < 0, x > 1], [lambda v: -v, lambda v: v * 10, 0.0])
    Array([ 2.,  0., 30.], dtype=float32)
    """
    fn = "lamina.numpy.piecewise"
    check_arraylike(fn, x)
    x = asarray(x)
    conds = [asarray(c, bool) for c in condlist]
    nc, nf = len(conds), len(funclist)
    if nf == nc + 1:
        funcs = [funclist[-1], *funclist[:-1]]
    elif nf == nc:
        funcs = [0, *funclist]
    else:
        raise ValueError(f"{fn}: with {nc} condition(s), either {nc} or {nc + 1} functions are "
                         f"expected; got {nf}. condlist must be a list with one boolean array "
                         "per condition (wrap a single condition array as [cond]).")
    dtype = x.dtype
    # The index of the branch per element: 0 (default), else the last true condition.
    index = lax.full((), 0, dtypes.int32)
    for k, c in enumerate(conds, start=1):
        shape = broadcast_shapes(fn, c.shape, index.shape)
        index = lax.select(_bcast(c, shape), lax.full(shape, k, dtypes.int32),
                           _bcast(index, shape))

    def branch(f: Any) -> Callable[[Array], Array]:
        if callable(f):
            return lambda v: lax.convert_element_type(asarray(f(v, *args, **kw)), dtype)
        return lambda v: lax.convert_element_type(asarray(f), dtype)

    branches = [branch(f) for f in funcs]
    return vectorize(lax.switch, excluded=(1,))(index, branches, x)


def _bcast(x: Array, shape: tuple[int, ...]) -> Array:
    if x.shape == shape:
        return x
    return lax.broadcast_in_dim(x, shape, tuple(range(len(shape) - x.ndim, len(shape))))
