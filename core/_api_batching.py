"""`vmap`, with jax's in_axes/out_axes semantics."""
from __future__ import annotations

import functools
from typing import Any, Callable, Hashable

from lamina import tree_util
from lamina.interpreters.batching import not_mapped, vmap_flat
from lamina.ir import shaped_abstractify


def check_axis_spec(fun_name: str, where: str, spec: Any) -> None:
    """`spec` (in_axes/out_axes of vmap or pmap) holds only ints and Nones."""
    for leaf in tree_util.tree_leaves(spec):
        if not isinstance(leaf, int):
            raise TypeError(f"{fun_name} {where} must be an int, None, or a (nested) tuple/"
                            f"list/dict of those, got {leaf!r} of type {type(leaf).__name__}")


def broadcast_axes(fun_name: str, where: str, spec: Any, tree: Any, treedef: Any
                   ) -> list[Any]:
    """One axis (or None) per leaf of `tree` (structure `treedef`), from a prefix-tree
    `spec`."""
    if isinstance(spec, int) or spec is None:
        return [spec] * treedef.num_leaves
    try:
        return tree_util.broadcast_prefix(spec, tree, is_leaf=lambda x: x is None)
    except ValueError as e:
        raise ValueError(f"{fun_name} {where} specification must be a tree prefix of the "
                         f"corresponding value, got specification {spec!r} for value tree "
                         f"{treedef}: {e}") from None


def vmap(fun: Callable[..., Any], in_axes: Any = 0, out_axes: Any = 0,
         axis_name: Hashable = None, axis_size: int | None = None,
         spmd_axis_name: Any = None) -> Callable[..., Any]:
    """Vectorise `fun` over an axis of its inputs.

    Args:
        fun: a function of arrays / pytrees.
        in_axes: an int, None, or a pytree prefix of the positional arguments (a tuple
            with one entry per argument) giving the mapped axis of each input.
        out_axes: the same for the outputs: where the mapped axis goes.
        axis_name: a name for collectives (`lax.psum(x, axis_name)`) inside `fun`.
        axis_size: the mapped size, required when no input is mapped.

    >>> import lamina, lamina.numpy as lnp
    >>> lamina.vmap(lambda x, y: x @ y, in_axes=(0, None))(lnp.ones((4, 3)), lnp.ones(3))
    Array([3., 3., 3., 3.], dtype=float32)
    """
    if not callable(fun):
        raise TypeError(f"vmap: expected a function, got {type(fun).__name__}: {fun!r}")
    if isinstance(in_axes, list):
        in_axes = tuple(in_axes)  # jax treats a list the same as a tuple here
    check_axis_spec("vmap", "in_axes", in_axes)
    check_axis_spec("vmap", "out_axes", out_axes)

    @functools.wraps(fun)
    def vmapped(*args: Any, **kwargs: Any) -> Any:
        if isinstance(in_axes, tuple) and len(in_axes) != len(args):
            raise ValueError(f"vmap in_axes must be an int, None, or a tuple of entries "
                             f"corresponding to the positional arguments passed to the "
                             f"function, but got len(in_axes)={len(in_axes)}, "
                             f"len(args)={len(args)}")
        leaves, in_tree = tree_util.tree_flatten((args, kwargs))
        # kwargs are always mapped over axis 0, as in jax
        axes = broadcast_axes("vmap", "in_axes", (in_axes, 0), (args, kwargs), in_tree)
        sizes: dict[int, list[str]] = {}
        dims = []
        for x, ax in zip(leaves, axes):
            if ax is None:
                dims.append(not_mapped)
                continue
            aval = shaped_abstractify(x)
            if not -aval.ndim <= ax < aval.ndim:
                raise ValueError(f"vmap was requested to map its argument along axis {ax}, "
                                 f"which implies that its rank should be at least {ax + 1 if ax >= 0 else -ax}, "
                                 f"but is only {aval.ndim} (its shape is {aval.shape})")
            ax %= aval.ndim
            dims.append(ax)
            sizes.setdefault(aval.shape[ax], []).append(f"{aval.str_short()} axis {ax}")
        if axis_size is not None:
            sizes.setdefault(int(axis_size), [])
        if not sizes:
            raise ValueError("vmap must have at least one non-None value in in_axes (or "
                             "pass axis_size)")
        if len(sizes) > 1:
            detail = "; ".join(f"size {n}: {', '.join(w) or 'axis_size'}"
                               for n, w in sizes.items())
            raise ValueError(f"vmap got inconsistent sizes for array axes to be mapped: {detail}")
        size = next(iter(sizes))
        out_tree_box: list[Any] = []

        def flat_fun(*flat: Any) -> list[Any]:
            a, k = tree_util.tree_unflatten(in_tree, flat)
            out = fun(*a, **k)
            out_leaves, out_tree = tree_util.tree_flatten(out)
            out_tree_box[:] = [out_tree, out]
            return out_leaves

        def out_dims() -> list[Any]:  # out_axes is a prefix of the output tree
            out_tree, out = out_tree_box
            return broadcast_axes("vmap", "out_axes", out_axes, out, out_tree)

        outs = vmap_flat(flat_fun, leaves, dims, size, out_dims, axis_name, spmd_axis_name)
        return tree_util.tree_unflatten(out_tree_box[0], outs)

    return vmapped
