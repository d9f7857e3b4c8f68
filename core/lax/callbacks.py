"""Host callbacks: `pure_callback_p` and `debug_callback_p`, Python called from programs.

Eagerly the callback is called directly. Compiled, each call is a
`stablehlo.custom_call @xla_ffi_python_cpu_callback` (jaxlib's FFI handler for Python
callbacks on CPU): the callback is registered with the process
(`_jaxlib.register_host_callback`) and the custom call names its index; programs that
call Python are compiled with those callbacks and kept out of the persistent cache.

* `pure_callback_p[callback, result_avals, vmap_method]`: a pure function of its
  operands with results of `result_avals`; XLA may drop or merge calls whose results
  are unused or equal, as in jax. No JVP (jax raises too: use custom_jvp).
* `debug_callback_p[callback, ordered]`: no results, run for its effect
  (`has_side_effect`, and `dce` keeps it). `ordered=False`: XLA may run two callbacks
  of one program in either order when no data dependence orders them. `ordered=True`:
  the custom call also threads the region's effect token (`RuleContext.effect_token`),
  so the program's ordered callbacks run in program order. Control flow whose body
  has ordered callbacks (`lowering.token_effects`) carries the token through its
  regions (an extra `!stablehlo.token` operand and result of the `stablehlo.while` or
  `stablehlo.case`), so calls inside a scan/while/cond body are ordered against the
  calls before and after it too, as jax's.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from lamina import dtypes
from lamina.backend import _jaxlib
from lamina.backend.array import Array, device_put_host
from lamina.interpreters import ad, batching, eval as eval_interp, lowering
from lamina.interpreters import partial_eval as pe
from lamina.ir import AbstractArray, Primitive
from lamina.lax import sharding_ops

pure_callback_p = Primitive("pure_callback", multiple_results=True)
debug_callback_p = Primitive("debug_callback", multiple_results=True)
pe.effectful_primitives.add(debug_callback_p)
lowering.token_effects[debug_callback_p] = lambda params: params["ordered"]

VMAP_METHODS = ("sequential", "sequential_unrolled", "expand_dims", "broadcast_all")


class FlatCallback:
    """`fun(*numpy arrays) -> list of numpy arrays`, hashed by identity (a primitive
    parameter); `name` is the user's function's name, for errors."""

    __slots__ = ("fun", "name")

    def __init__(self, fun: Callable[..., Sequence[Any]], name: str) -> None:
        self.fun, self.name = fun, name

    def __call__(self, *args: Any) -> Sequence[Any]:
        return self.fun(*args)

    def __repr__(self) -> str:
        return self.name


def _check_results(api: str, name: str, outs: Sequence[Any],
                   result_avals: Sequence[AbstractArray]) -> list[np.ndarray]:
    """The callback's results as numpy arrays of exactly `result_avals`' types."""
    outs = list(outs)
    if len(outs) != len(result_avals):
        raise RuntimeError(f"{api}: callback {name} returned {len(outs)} arrays, "
                           f"result_shape_dtypes declares {len(result_avals)}")
    checked = []
    for i, (x, aval) in enumerate(zip(outs, result_avals)):
        x = np.asarray(x)
        if x.dtype != aval.dtype and dtypes.canonicalize_dtype(x.dtype) == aval.dtype:
            x = x.astype(aval.dtype)  # 64-bit results narrowed as lamina narrows inputs
        if x.shape != aval.shape or x.dtype != aval.dtype:
            raise RuntimeError(
                f"{api}: callback {name} returned result {i} of shape {x.shape} and dtype "
                f"{x.dtype}, but result_shape_dtypes declares {aval.str_short()}; return "
                "arrays of the declared shapes and dtypes")
        checked.append(x)
    return checked


def _host_values(arrays: Sequence[Any]) -> list[np.ndarray]:
    return [np.asarray(a) for a in arrays]


# --------------------------------------------------------------------------------------
# pure_callback
# --------------------------------------------------------------------------------------


@pure_callback_p.def_abstract_eval
def _pure_callback_abstract_eval(*avals: AbstractArray, callback: FlatCallback,
                                 result_avals: tuple[AbstractArray, ...],
                                 vmap_method: str | None) -> list[AbstractArray]:
    del avals, callback, vmap_method
    return list(result_avals)


def _pure_callback_impl(*arrays: Array, callback: FlatCallback,
                        result_avals: tuple[AbstractArray, ...],
                        vmap_method: str | None) -> list[Array]:
    del vmap_method
    outs = _check_results("pure_callback", callback.name, callback(*_host_values(arrays)),
                          result_avals)
    return [device_put_host(x, dtype=a.dtype, weak_type=a.weak_type)
            for x, a in zip(outs, result_avals)]


eval_interp.impl_rules[pure_callback_p] = _pure_callback_impl


def _emit_callback(ctx: lowering.RuleContext, args: Sequence[str], fun: Callable[..., Any],
                   result_avals: Sequence[AbstractArray], side_effect: bool,
                   ordered: bool = False) -> list[str]:
    """The custom call of `fun`. `ordered`: it also takes the region's effect token as
    its first operand and gives the next one as its first result (as jax's ordered
    callbacks), which orders it after the region's previous ordered effects."""
    operands, avals_in, avals_out = list(args), list(ctx.avals_in), list(result_avals)
    if ordered:
        operands.insert(0, ctx.effect_token())
        avals_in.insert(0, lowering.token)
        avals_out.insert(0, lowering.token)
        untokened = fun

        def fun(_token: Any, *operands: np.ndarray) -> tuple[Any, ...]:
            # NOTE: jaxlib's handler passes None for a token operand and does not read
            # the token result's slot (kept, as jax does).
            return (None, *untokened(*operands))

    if ctx.platform != "cpu":
        raise NotImplementedError(
            f"host callbacks (pure_callback, debug.print, debug.callback) run only in "
            f"programs compiled for the CPU in lamina, not on a {ctx.platform} device yet: "
            "call them outside the jitted function, or run it on a CPU device")
    index = _jaxlib.register_host_callback(fun)
    attrs = {
        "call_target_name": lowering.str_attr(_jaxlib.PYTHON_CALLBACK_TARGET),
        "api_version": lowering.i32_attr(4),
        "backend_config": f"{{index = {index} : ui64}}",
        "has_side_effect": lowering.bool_attr(side_effect),
        # NOTE: row-major operands and results: what the callback's numpy arrays are.
        "operand_layouts": "[" + ", ".join(_row_major(a) for a in avals_in) + "]",
        "result_layouts": "[" + ", ".join(_row_major(a) for a in avals_out) + "]",
    }
    sharding = _callback_sharding(len(avals_out), ordered)
    if sharding is not None:
        attrs["sdy.sharding"] = sharding
    outs = ctx.op("stablehlo.custom_call", operands, avals_out, attrs)
    if ordered:
        ctx.set_effect_token(outs.pop(0))
    return outs


def _callback_sharding(num_results: int, ordered: bool) -> str | None:
    """Where a callback runs in a program XLA partitions (as jax): in a partitioned
    (`jit` over a mesh) region, once, on the program's first device, seeing whole
    values (a maximal sharding; the partitioner gathers the operands there); in a
    shard_map body, on every device with its shard (no annotation: the body is manual).
    None outside partitioned programs (pmap and single-device programs run it per
    device)."""
    spmd = sharding_ops.spmd_context()
    if spmd is None:
        return None
    if ordered and any(m.size > 1 for m in spmd.symbols):
        raise ValueError("an ordered host callback (ordered=True) cannot run in a program "
                         "partitioned over several devices (jax refuses it too): pass "
                         "ordered=False, or call it outside the sharded jit/shard_map")
    if spmd.partial_manual:
        raise NotImplementedError("host callbacks in a shard_map with axis_names= (some mesh "
                                  "axes left to the partitioner) are not supported (nor in "
                                  "jax): make every mesh axis manual")
    if spmd.manual:
        return None
    # NOTE: Shardy wants one sharding per result, and one even for an op without results.
    per_value = ", ".join([f"<@{spmd.maximal_mesh()}, []>"] * max(1, num_results))
    return f"#sdy.sharding_per_value<[{per_value}]>"


def _row_major(aval: AbstractArray | lowering.TokenType) -> str:
    dims = list(range(aval.ndim - 1, -1, -1))
    return f"dense<[{', '.join(map(str, dims))}]> : tensor<{len(dims)}xindex>"


def _pure_callback_lowering(ctx: lowering.RuleContext, *args: str, callback: FlatCallback,
                            result_avals: tuple[AbstractArray, ...],
                            vmap_method: str | None) -> list[str]:
    del vmap_method

    def host(*operands: np.ndarray) -> tuple[np.ndarray, ...]:
        return tuple(_check_results("pure_callback", callback.name, callback(*operands),
                                    result_avals))

    return _emit_callback(ctx, args, host, result_avals, side_effect=False)


lowering.register_lowering(pure_callback_p, _pure_callback_lowering)


def _pure_callback_jvp(primals: Sequence[Any], tangents: Sequence[Any], *,
                       callback: FlatCallback, result_avals: Any, vmap_method: Any) -> Any:
    del primals, tangents, result_avals, vmap_method
    raise ValueError(f"pure_callback: cannot differentiate callback {callback.name}: pure "
                     "callbacks have no JVP. Wrap the call in lamina.custom_jvp (or "
                     "custom_vjp) and give its derivative.")


ad.primitive_jvps[pure_callback_p] = _pure_callback_jvp


def _batched_callback(callback: FlatCallback, mapped: Sequence[bool], size: int,
                      method: str) -> Callable[..., list[np.ndarray]]:
    """The callback of the batched call: operands come with the batch axis first where
    `mapped`; results go out with a batch axis first."""
    if method in ("sequential", "sequential_unrolled"):
        def seq(*args: np.ndarray) -> list[np.ndarray]:
            per_item = [callback(*[a[i] if m else a for a, m in zip(args, mapped)])
                        for i in range(size)]
            return [np.stack([np.asarray(item[k]) for item in per_item])
                    for k in range(len(per_item[0]))] if per_item else []
        return seq
    if method == "expand_dims":
        def expand(*args: np.ndarray) -> list[np.ndarray]:
            outs = callback(*[a if m else a[None] for a, m in zip(args, mapped)])
            return [np.broadcast_to(np.asarray(o), (size, *np.shape(o)[1:])) for o in outs]
        return expand

    def broadcast(*args: np.ndarray) -> list[np.ndarray]:
        outs = callback(*[a if m else np.broadcast_to(a, (size, *np.shape(a)))
                          for a, m in zip(args, mapped)])
        return [np.asarray(o) for o in outs]
    return broadcast


def _pure_callback_batch(args: Sequence[Any], dims: Sequence[Any], *, callback: FlatCallback,
                         result_avals: tuple[AbstractArray, ...], vmap_method: str | None
                         ) -> tuple[list[Any], list[Any]]:
    if vmap_method is None:
        raise NotImplementedError(
            f"vmap of pure_callback({callback.name}) needs vmap_method: pass "
            "vmap_method='sequential' (one call per batch element), 'expand_dims' or "
            "'broadcast_all' (one call with the whole batch) to lamina.pure_callback")
    size = batching.dim_size(args, dims)
    mapped = [d is not batching.not_mapped for d in dims]
    args = [batching.moveaxis(x, d, 0) if m else x for x, d, m in zip(args, dims, mapped)]
    batched = FlatCallback(_batched_callback(callback, mapped, size, vmap_method),
                           callback.name)
    out_avals = tuple(a.update(shape=(size, *a.shape)) for a in result_avals)
    outs = pure_callback_p.bind(*args, callback=batched, result_avals=out_avals,
                                vmap_method=vmap_method)
    return outs, [0] * len(outs)


batching.primitive_batchers[pure_callback_p] = _pure_callback_batch


# --------------------------------------------------------------------------------------
# debug_callback
# --------------------------------------------------------------------------------------


@debug_callback_p.def_abstract_eval
def _debug_callback_abstract_eval(*avals: AbstractArray, callback: FlatCallback,
                                  ordered: bool) -> list[AbstractArray]:
    del avals, callback, ordered
    return []


def _debug_callback_impl(*arrays: Array, callback: FlatCallback, ordered: bool) -> list[Any]:
    del ordered  # eager calls run one at a time, in order
    callback(*_host_values(arrays))
    return []


eval_interp.impl_rules[debug_callback_p] = _debug_callback_impl


def _debug_callback_lowering(ctx: lowering.RuleContext, *args: str,
                             callback: FlatCallback, ordered: bool) -> list[str]:
    def host(*operands: np.ndarray) -> tuple[()]:
        callback(*operands)
        return ()

    return _emit_callback(ctx, args, host, [], side_effect=True, ordered=ordered)


lowering.register_lowering(debug_callback_p, _debug_callback_lowering)


def _debug_callback_jvp(primals: Sequence[Any], tangents: Sequence[Any], *,
                        callback: FlatCallback, ordered: bool) -> tuple[list[Any], list[Any]]:
    # NOTE: as jax: the callback sees the primal values; there are no outputs.
    del tangents
    debug_callback_p.bind(*primals, callback=callback, ordered=ordered)
    return [], []


ad.primitive_jvps[debug_callback_p] = _debug_callback_jvp


def _debug_callback_batch(args: Sequence[Any], dims: Sequence[Any], *,
                          callback: FlatCallback, ordered: bool
                          ) -> tuple[list[Any], list[Any]]:
    # NOTE: as jax: one call per batch element, in order, with that element's values.
    size = batching.dim_size(args, dims)
    mapped = [d is not batching.not_mapped for d in dims]
    args = [batching.moveaxis(x, d, 0) if m else x for x, d, m in zip(args, dims, mapped)]

    def per_element(*operands: np.ndarray) -> list[Any]:
        for i in range(size):
            callback(*[a[i] if m else a for a, m in zip(operands, mapped)])
        return []

    debug_callback_p.bind(*args, callback=FlatCallback(per_element, callback.name),
                          ordered=ordered)
    return [], []


batching.primitive_batchers[debug_callback_p] = _debug_callback_batch


# --------------------------------------------------------------------------------------
# The public wrappers
# --------------------------------------------------------------------------------------


def _result_avals(result_shape_dtypes: Any) -> tuple[list[AbstractArray], Any]:
    from lamina import tree_util
    leaves, tree = tree_util.tree_flatten(result_shape_dtypes)
    avals = []
    for x in leaves:
        shape, dtype = getattr(x, "shape", None), getattr(x, "dtype", None)
        if shape is None or dtype is None:
            raise TypeError(f"pure_callback: result_shape_dtypes leaves must have .shape and "
                            f".dtype (lamina.ShapeDtypeStruct or an array), got {x!r}")
        avals.append(AbstractArray(shape, dtypes.canonicalize_dtype(dtype)))
    return avals, tree


def pure_callback(callback: Callable[..., Any], result_shape_dtypes: Any, *args: Any,
                  sharding: Any = None, vmap_method: str | None = None,
                  **kwargs: Any) -> Any:
    """Call the Python function `callback(*args, **kwargs)` on the host, also from inside
    `jit` and `vmap`, as `jax.pure_callback`.

    `callback` gets numpy arrays and must return a pytree of arrays matching
    `result_shape_dtypes` (a pytree of `lamina.ShapeDtypeStruct`s or arrays). It must
    be pure: a jitted program may skip a call whose results are unused. Under `vmap`,
    `vmap_method` says how: "sequential" calls it once per batch element,
    "expand_dims" once with unbatched arguments given a leading axis of size 1,
    "broadcast_all" once with every argument broadcast to the batch; None raises.
    It cannot be differentiated (wrap it in `custom_jvp`).

    >>> import numpy as np, lamina, lamina.numpy as lnp
    >>> f = lamina.jit(lambda x: lamina.pure_callback(
    ...     np.sin, lamina.ShapeDtypeStruct(x.shape, x.dtype), x) * 2)
    >>> f(lnp.zeros(2))
    Array([0., 0.], dtype=float32)
    """
    from lamina import tree_util
    if not callable(callback):
        raise TypeError(f"pure_callback: callback must be callable, got {callback!r}")
    if vmap_method not in (None, *VMAP_METHODS):
        raise ValueError(f"pure_callback: vmap_method must be one of {VMAP_METHODS} or None, "
                         f"got {vmap_method!r}")
    if sharding is not None:
        raise NotImplementedError("pure_callback: sharding is not supported yet; pass "
                                  "sharding=None (the callback runs on one device)")
    result_avals, out_tree = _result_avals(result_shape_dtypes)
    leaves, in_tree = tree_util.tree_flatten((args, kwargs))
    name = getattr(callback, "__name__", type(callback).__name__)

    def flat(*flat_args: np.ndarray) -> list[Any]:
        call_args, call_kwargs = tree_util.tree_unflatten(in_tree, list(flat_args))
        out = callback(*call_args, **call_kwargs)
        out_leaves, tree = tree_util.tree_flatten(out)
        if tree != out_tree:
            raise RuntimeError(f"pure_callback: callback {name} returned a pytree of "
                               f"structure {tree}, result_shape_dtypes has {out_tree}")
        return out_leaves

    outs = pure_callback_p.bind(*leaves, callback=FlatCallback(flat, name),
                                result_avals=tuple(result_avals), vmap_method=vmap_method)
    return tree_util.tree_unflatten(out_tree, outs)
