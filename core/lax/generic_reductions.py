"""`lax.reduce` and `lax.reduce_window` with an arbitrary computation, and the two
primitives they bind when the computation is not a known monoid:

* `reduce_p(*operands, *init_values, computation, dimensions)` -> `stablehlo.reduce`;
* `reduce_window_p(*operands, *init_values, computation, window_dimensions,
  window_strides, padding, base_dilation, window_dilation)` -> `stablehlo.reduce_window`.

`computation` is the user's Python function of two pytrees of scalars, traced once per
(function, init types) to a closed `Program` of scalar inputs `(*left, *right)` and
outputs, which the lowering inlines into the op's region. Constants it captures are
inlined as literals; a captured *tracer* cannot be (an XLA region closes over nothing)
and is an error, as in jax.

As in jax, a single operand whose concrete scalar init value is the identity of a known
monoid (`lax.add` with 0, `lax.mul` with 1, `lax.max` with -inf or iinfo.min,
`lax.min`, the bitwise ops on bool/int) dispatches to `reduce_sum`/`reduce_prod`/...
(`reduce_window_sum`/`max`/`min` for windows), which keep their own rules.

Rules (jax's):

* JVP of `reduce`: a pairwise tree of the computation (vmapped over the kept elements)
  is differentiated instead, so `grad` works too; JVP of `reduce_window`: a variadic
  reduce_window over (primal, tangent) pairs with the computation's JVP, which is
  forward-mode only (its transpose raises). Tangents of init values are not supported.
* Batching moves the batch dimension to the front (a window of 1 for reduce_window);
  batched init values fall back to a `scan` over the batch.
"""
from __future__ import annotations

import functools
import warnings
from collections.abc import Sequence
from typing import Any, Callable

import numpy as np

from lamina import dtypes, tree_util
from lamina.backend.array import scalar_to_device
from lamina.config import config
from lamina.errors import ConcretizationError, MissingRuleError
from lamina.interpreters import ad, batching, lowering, partial_eval as pe
from lamina.ir import (AbstractArray, Eqn, Literal, Primitive, Program, Tracer, Var,
                       set_current_trace)
from lamina.lax import elementwise as ew
from lamina.lax import reductions as red
from lamina.lax import structural as st
from lamina.lax._util import aval_of, canonicalize_axes, check_arraylike

Array = Any

__all__ = ["reduce", "reduce_window"]


# --------------------------------------------------------------------------------------
# Arguments: pytrees of operands and init values
# --------------------------------------------------------------------------------------


def _short(aval: AbstractArray) -> str:
    return aval.strip_weak_type().str_short()


def _types(avals: Sequence[AbstractArray]) -> str:
    return "[" + ", ".join(_short(a) for a in avals) + "]"


def _arg_names(fun_name: str) -> tuple[str, str]:
    """The names of the operand and init-value arguments (jax's, per function)."""
    if fun_name.endswith("window"):
        return "operand", "init_value"
    return "operands", "init_values"


def _flat_args(fun_name: str, operands: Any, init_values: Any
               ) -> tuple[list[Any], list[Any], list[str], Any]:
    """Flat operands, flat init values, the leaves' paths and the shared tree."""
    ops_name, init_name = _arg_names(fun_name)
    flat_ops, op_tree = tree_util.tree_flatten(operands)
    init_leaves, init_tree = tree_util.tree_flatten_with_path(init_values)
    if op_tree != init_tree:
        raise ValueError(f"{fun_name}: {ops_name} and {init_name} must have the same pytree "
                         f"structure (one scalar init value per operand), got {ops_name} "
                         f"{op_tree} and {init_name} {init_tree}")
    if not flat_ops:
        raise ValueError(f"{fun_name} needs at least one operand, got {operands!r}")
    paths = [tree_util.keystr(p) for p, _ in init_leaves]
    flat_inits = [x for _, x in init_leaves]
    for what, leaves in ((ops_name, flat_ops), (init_name, flat_inits)):
        for path, x in zip(paths, leaves):
            try:
                check_arraylike(fun_name, x)
            except TypeError:
                raise TypeError(f"{fun_name}: {what}{path} must be an array or a scalar, got "
                                f"{type(x).__name__}: {x!r}") from None
    return flat_ops, flat_inits, paths, op_tree


def _check_operands(fun_name: str, ops: Sequence[AbstractArray],
                    inits: Sequence[AbstractArray], paths: Sequence[str] | None = None
                    ) -> None:
    """Operands share one shape; init values are scalars of their operand's dtype."""
    ops_name, init_name = _arg_names(fun_name)
    paths = paths or [f"[{i}]" for i in range(len(ops))]
    for path, op, init in zip(paths, ops, inits):
        if op.shape != ops[0].shape:
            raise TypeError(f"{fun_name}: all operands must have the same shape, but "
                            f"{ops_name}{path} is {_short(op)} and the first one "
                            f"{_short(ops[0])}")
        if init.shape != ():
            raise TypeError(f"{fun_name}: {init_name}{path} must be a scalar, got "
                            f"{_short(init)}; pass one scalar per operand (e.g. "
                            "x.dtype.type(0), not an array)")
        if init.dtype != op.dtype:
            raise TypeError(
                f"{fun_name}: {init_name}{path} has dtype {init.dtype.name} but its operand "
                f"{_short(op)} has dtype {op.dtype.name}; give each init value its "
                f"operand's dtype (e.g. np.{op.dtype.name}(...) or "
                f"lax.convert_element_type(init, {op.dtype.name!r}))")


def _exact_cast(value: Any, dtype: np.dtype) -> np.ndarray | None:
    """`value` (a Python scalar) as a 0-d array of `dtype` if it converts exactly and the
    kinds agree (bool to bool; int to int/float/complex; float to float/complex)."""
    if isinstance(value, bool) != dtypes.is_bool(dtype):
        return None
    if isinstance(value, complex) and not dtypes.is_complex(dtype):
        return None
    if isinstance(value, float) and not dtypes.is_inexact(dtype):
        return None
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            cast = np.asarray(value, dtype)
    except (OverflowError, TypeError, ValueError):
        return None
    if bool(cast == value) or (cast != cast and value != value):
        return cast
    return None


def _fit_init(fun_name: str, path: str, init: Any, op: AbstractArray) -> Any:
    """A weakly typed concrete init value (a Python scalar) takes its operand's dtype
    when the value converts exactly (lamina is lenient here where jax is strict);
    anything else passes through for `_check_operands` to judge."""
    aval = aval_of(init)
    if aval.dtype == op.dtype or aval.shape != () or not aval.weak_type or isinstance(
            init, Tracer):
        return init
    value = np.asarray(init)[()].item()
    cast = _exact_cast(value, op.dtype)
    if cast is None:
        raise TypeError(f"{fun_name}: {_arg_names(fun_name)[1]}{path} {value!r} does not "
                        f"convert exactly to "
                        f"the dtype of its operand {_short(op)}; pass an init value of "
                        f"dtype {op.dtype.name} (e.g. np.{op.dtype.name}(...))")
    return scalar_to_device(cast[()], op.dtype, True)


def _concrete_scalar(x: Any) -> np.generic | None:
    """The value of a concrete (not traced) scalar, else None."""
    if isinstance(x, Tracer):
        return None
    value = np.asarray(x)
    return value[()] if value.shape == () else None


# --------------------------------------------------------------------------------------
# Monoids: (computation, init value) pairs served by the dedicated primitives
# --------------------------------------------------------------------------------------


def _is_intlike(dtype: np.dtype) -> bool:
    return dtypes.is_bool(dtype) or dtypes.is_integer(dtype)


def _anything(dtype: np.dtype) -> bool:
    return True


# computation -> (kind, identity of a dtype, the init dtypes it applies to)
_MONOIDS: dict[Callable[..., Any], tuple[str, Callable[[np.dtype], Any],
                                         Callable[[np.dtype], bool]]] = {
    ew.add: ("sum", lambda d: 0, _anything),
    ew.mul: ("prod", lambda d: 1, _anything),
    ew.max: ("max", red._max_identity, _anything),
    ew.min: ("min", red._min_identity, _anything),
    ew.bitwise_and: ("and", red._all_ones, _is_intlike),
    ew.bitwise_or: ("or", lambda d: 0, _is_intlike),
    ew.bitwise_xor: ("xor", lambda d: 0, _is_intlike),
}


def _monoid_kind(computation: Any, init: Any, operand: AbstractArray,
                 kinds: Sequence[str]) -> str | None:
    """The monoid `computation` forms with the concrete scalar `init`, if any.

    jax's test: `init` equals the identity in init's own dtype (so -inf makes a max of
    int32 values a `reduce_max`); lamina also accepts the identity in the operand's dtype
    for a Python scalar (-128 for an int8 max), where jax raises.
    """
    try:
        entry = _MONOIDS.get(computation)
    except TypeError:  # an unhashable callable
        return None
    value = _concrete_scalar(init)
    if entry is None or entry[0] not in kinds or value is None:
        return None
    kind, identity, applies = entry
    candidates = [aval_of(init).dtype]
    if dtypes.is_python_scalar(init):
        candidates.append(operand.dtype)
    for dtype in candidates:
        if applies(dtype):
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore")
                if bool(np.equal(value, np.asarray(identity(dtype)).astype(dtype))):
                    return kind
    return None


# --------------------------------------------------------------------------------------
# Tracing the computation
# --------------------------------------------------------------------------------------


def _inline_consts(program: Program) -> Program:
    """`program` with its (concrete) constants written as literals: a region closes
    over nothing."""
    if not program.constvars:
        return program
    literals: dict[int, Literal] = {}
    for v, c in zip(program.constvars, program.consts):
        value = np.asarray(c, v.aval.dtype)
        literals[v.id] = Literal(value[()] if value.ndim == 0 else value, v.aval)

    def sub(atom: Any) -> Any:
        return literals.get(atom.id, atom) if isinstance(atom, Var) else atom

    eqns = [Eqn(e.primitive, [sub(a) for a in e.invars], e.outvars, e.params)
            for e in program.eqns]
    return Program([], program.invars, eqns, [sub(a) for a in program.outvars])


def _trace_uncached(fun_name: str, computation: Callable[..., Any],
                    in_avals: tuple[AbstractArray, ...], in_tree: Any
                    ) -> tuple[Program, Any]:
    n = len(in_avals)
    out_tree: list[Any] = []

    def flat_fun(*flat: Any) -> list[Any]:
        xs = tree_util.tree_unflatten(in_tree, flat[:n])
        ys = tree_util.tree_unflatten(in_tree, flat[n:])
        leaves, tree = tree_util.tree_flatten(computation(xs, ys))
        for leaf in leaves:
            try:
                check_arraylike(fun_name, leaf)
            except TypeError:
                raise TypeError(f"{fun_name}: the computation must return arrays (a pytree "
                                f"like init_values), got {type(leaf).__name__}: {leaf!r}"
                                ) from None
        out_tree[:] = [tree]
        return leaves

    program = pe.trace_to_program(flat_fun, [*in_avals, *in_avals])
    for c in program.consts:
        if isinstance(c, Tracer):
            raise ConcretizationError(
                f"{fun_name}: the computation closes over a traced value {_short(c.aval)} "
                f"(from an enclosing transformation such as jit, vmap or grad); a "
                "reduction's computation can only capture concrete constants (as in jax). "
                "Pass the value as an extra operand instead, or make it static.")
    program = _inline_consts(program)
    if any(pe.has_effects(e) for e in program.eqns):
        raise NotImplementedError(
            f"{fun_name}: the computation has side effects (lamina.debug.print or a "
            "callback), which a reduction region cannot run (as in jax); move them out of "
            "the computation")
    return program, out_tree[0]


@functools.lru_cache(maxsize=256)
def _trace_cached(fun_name: str, computation: Callable[..., Any],
                  in_avals: tuple[AbstractArray, ...], in_tree: Any, x64: bool
                  ) -> tuple[Program, Any]:
    del x64  # NOTE: part of the key only: constants in the computation depend on it
    return _trace_uncached(fun_name, computation, in_avals, in_tree)


def _trace_computation(fun_name: str, computation: Callable[..., Any],
                       init_avals: Sequence[AbstractArray], init_tree: Any,
                       paths: Sequence[str]) -> Program:
    """The computation as a closed program `(*left, *right) -> outs`, checked to return
    init_values' structure and scalar types. Cached per function and types (as jax), so
    that eager calls reuse one program and hence one compiled executable."""
    if not callable(computation):
        raise TypeError(f"{fun_name}: computation must be a function of two pytrees of "
                        f"scalars, got {computation!r}")
    in_avals = tuple(init_avals)
    try:
        program, out_tree = _trace_cached(fun_name, computation, in_avals, init_tree,
                                          config.enable_x64)
    except TypeError as e:
        if "unhashable" not in str(e):
            raise
        program, out_tree = _trace_uncached(fun_name, computation, in_avals, init_tree)
    outs = program.out_avals
    if out_tree != init_tree:
        raise TypeError(f"{fun_name}: the computation must return the pytree structure of "
                        f"{_arg_names(fun_name)[1]}, {init_tree}, but it returned {out_tree}")
    for path, a, o in zip(paths, in_avals, outs):
        if o.shape != () or o.dtype != a.dtype:
            raise TypeError(f"{fun_name}: the computation must return scalars of the init "
                            f"values' dtypes {_types(in_avals)}, but its output{path} is "
                            f"{_short(o)}; convert it (lax.convert_element_type) or "
                            "reduce it to a scalar")
    return program


def _check_computation(name: str, program: Program, inits: Sequence[AbstractArray]) -> None:
    scalars = [AbstractArray((), a.dtype) for a in inits]
    ins = [(a.shape, a.dtype) for a in program.in_avals]
    outs = [(a.shape, a.dtype) for a in program.out_avals]
    want = [(a.shape, a.dtype) for a in scalars]
    if program.constvars or ins != want + want or outs != want:
        raise TypeError(f"{name}: the computation {_types(program.in_avals)} -> "
                        f"{_types(program.out_avals)} does not match the init values "
                        f"{_types(scalars)} (it must map two of them to one)")


def _prepare(fun_name: str, operands: Any, init_values: Any, computation: Any
             ) -> tuple[list[Any], list[Any], Program, Any]:
    """Flatten and check the arguments of the generic primitives; trace the computation."""
    flat_ops, flat_inits, paths, tree = _flat_args(fun_name, operands, init_values)
    op_avals = [aval_of(x) for x in flat_ops]
    flat_inits = [_fit_init(fun_name, p, x, a) for p, x, a in zip(paths, flat_inits, op_avals)]
    init_avals = [aval_of(x) for x in flat_inits]
    _check_operands(fun_name, op_avals, init_avals, paths)
    program = _trace_computation(fun_name, computation, init_avals, tree, paths)
    return flat_ops, flat_inits, program, tree


def _region(ctx: lowering.RuleContext, program: Program,
            init_avals: Sequence[AbstractArray]) -> str:
    scalars = [AbstractArray((), a.dtype) for a in init_avals]
    return ctx.region([*scalars, *scalars], lambda args: ctx.lower_program(program, args))


def _unsupported(prim: Primitive, transform: str, message: str) -> MissingRuleError:
    err = MissingRuleError(prim, transform)
    err.args = (message,)
    return err


def _output_deps(program: Program) -> list[set[int]]:
    """For each output of `program`, the indices of the inputs it depends on."""
    deps: dict[int, set[int]] = {v.id: {i} for i, v in enumerate(program.invars)}
    for eqn in program.eqns:
        used = set().union(*[deps.get(a.id, set()) for a in eqn.invars if isinstance(a, Var)])
        for v in eqn.outvars:
            deps[v.id] = used
    return [deps.get(a.id, set()) if isinstance(a, Var) else set() for a in program.outvars]


def _closure(program: Program, flags: Sequence[bool]) -> list[bool]:
    """The operands whose results depend on a flagged operand (flagged ones included):
    output i depends on operand j if it reads the left or right input j."""
    n = len(flags)
    deps = _output_deps(program)
    flags = list(flags)
    while True:
        grown = [f or any(flags[i % n] for i in d) for f, d in zip(flags, deps)]
        if grown == flags:
            return flags
        flags = grown


def _needed(program: Program, flags: Sequence[bool]) -> list[bool]:
    """The operands the results of the flagged ones need (flagged ones included)."""
    n = len(flags)
    deps = _output_deps(program)
    flags = list(flags)
    while True:
        grown = list(flags)
        for f, d in zip(flags, deps):
            for i in d if f else ():
                grown[i % n] = True
        if grown == flags:
            return flags
        flags = grown


@functools.lru_cache(maxsize=256)
def _restrict(program: Program, keep: tuple[bool, ...]) -> Program:
    """The computation over the operands `keep` alone, whose results must not depend on
    the others (`_closure`). Cached, so that eager calls reuse one program."""
    if all(keep):
        return program
    n = len(keep)
    pruned = pe.dce(program, keep)
    idx = [i for i in range(n) if keep[i]]
    invars = [pruned.invars[i] for i in idx] + [pruned.invars[n + i] for i in idx]
    return Program([], invars, pruned.eqns, pruned.outvars)


def _pick(flags: Sequence[bool], xs: Sequence[Any]) -> list[Any]:
    return [x for f, x in zip(flags, xs) if f]


def _bind_subset(prim: Primitive, keep: Sequence[bool], args: Sequence[Any],
                 params: dict[str, Any]) -> list[Any]:
    """`prim` over the operands `keep` (with their init values) alone."""
    n = len(keep)
    program = _restrict(params["computation"], tuple(keep))
    return prim.bind(*_pick(keep, args[:n]), *_pick(keep, args[n:]),
                     **{**params, "computation": program})


def _merge(flags: Sequence[bool], if_true: Sequence[Any], if_false: Sequence[Any]
           ) -> list[Any]:
    t, f = iter(if_true), iter(if_false)
    return [next(t) if flag else next(f) for flag in flags]


def _generic_batch(prim: Primitive, args: Sequence[Any], dims: Sequence[Any],
                   params: dict[str, Any], batched_params: Callable[[dict[str, Any]],
                                                                    dict[str, Any]]
                   ) -> tuple[list[Any], list[Any]]:
    """Batch a generic reduction. Results that depend on unbatched operands only stay
    unbatched (a reduction of their own: what jacfwd of a reduce_window's JVP needs);
    the others get the batch dimension first (`batched_params` adjusts the params),
    or, where an init value is batched and so cannot be a reduction's scalar init, a
    scan over the batch (jax raises there)."""
    n = len(args) // 2
    nm = batching.not_mapped
    mapped = _closure(params["computation"],
                      [dims[i] is not nm or dims[n + i] is not nm for i in range(n)])
    unmapped = [not m for m in mapped]
    fixed = _bind_subset(prim, unmapped, args, params) if any(unmapped) else []
    # NOTE: the batched reduction also takes the unbatched operands its results read.
    needed = _needed(params["computation"], mapped)
    m_args = [*_pick(needed, args[:n]), *_pick(needed, args[n:])]
    m_dims = [*_pick(needed, dims[:n]), *_pick(needed, dims[n:])]
    k = len(m_args) // 2
    m_params = {**params, "computation": _restrict(params["computation"], tuple(needed))}
    size = batching.dim_size(m_args, m_dims)
    if any(d is not nm for d in m_dims[k:]):
        from lamina.lax.scans import scan  # NOTE: a later family (it imports this one)
        flags = [d is not nm for d in m_dims]
        xs = [batching.moveaxis(x, d, 0) for x, d, f in zip(m_args, m_dims, flags) if f]

        def body(carry: Any, slices: list[Any]) -> tuple[Any, list[Any]]:
            it = iter(slices)
            full = [next(it) if f else x for x, f in zip(m_args, flags)]
            return carry, prim.bind(*full, **m_params)

        _, batched = scan(body, None, xs, length=size)
    else:
        ops = [batching.bdim_at_front(x, d, size) for x, d in zip(m_args[:k], m_dims[:k])]
        batched = prim.bind(*ops, *m_args[k:], **batched_params(m_params))
    batched = _pick(_pick(needed, mapped), batched)
    return _merge(mapped, batched, fixed), [0 if m else nm for m in mapped]


# --------------------------------------------------------------------------------------
# reduce
# --------------------------------------------------------------------------------------

reduce_p = Primitive("reduce", multiple_results=True)

_REDUCERS = {"sum": red.reduce_sum, "prod": red.reduce_prod, "max": red.reduce_max,
             "min": red.reduce_min, "and": red.reduce_and, "or": red.reduce_or,
             "xor": red.reduce_xor}


def reduce(operands: Any, init_values: Any, computation: Callable[[Any, Any], Any],
           dimensions: Sequence[int]) -> Any:
    """Reduce `operands` over `dimensions` with `computation` (XLA's Reduce).

    `computation(x, y)` takes two pytrees shaped like `init_values` (of scalars) and
    returns one; with `init_values` it must form a monoid (associative, with the init
    values as identity): XLA combines elements in any order and may use the init value
    any number of times, so the result is otherwise undefined. Several operands reduce
    together (e.g. a value and its index for an argmax).

    A known monoid (`lax.add` with 0, `lax.mul` with 1, `lax.max` with -inf, `lax.min`
    with +inf, `lax.bitwise_and/or/xor` with their identities) with a concrete init value
    becomes `reduce_sum`/`reduce_prod`/... ; anything else the `reduce` primitive.

    Args:
        operands: an array or a pytree of arrays of one shape.
        init_values: a scalar per operand, same pytree, each of its operand's dtype (a
            Python scalar takes it when it converts exactly).
        computation: `(x, y) -> z`, pytrees of scalars like `init_values`.
        dimensions: the axes to reduce (distinct; negative ones count from the end).

    Returns:
        A pytree like `operands`, each with `dimensions` removed from its shape.

    Raises:
        ValueError: the pytrees of operands and init_values differ.
        TypeError: an init value is not a scalar of its operand's dtype, or the
            computation does not return init_values' pytree of scalars.

    >>> import numpy as np
    >>> from lamina import lax
    >>> x = np.array([[1., -4., 2.], [-3., 0., 1.]], np.float32)
    >>> lax.reduce(x, 0.0, lambda a, b: lax.max(lax.abs(a), lax.abs(b)), (1,))
    Array([4., 3.], dtype=float32)
    >>> def argmax(a, b):  # (value, index) pairs; the first maximum wins
    ...     pick_a = lax.bitwise_or(lax.gt(a[0], b[0]),
    ...                             lax.bitwise_and(lax.eq(a[0], b[0]), lax.lt(a[1], b[1])))
    ...     return lax.select(pick_a, a[0], b[0]), lax.select(pick_a, a[1], b[1])
    >>> idx = np.broadcast_to(np.arange(3, dtype=np.int32), (2, 3))
    >>> lax.reduce((x, idx), (-np.inf, np.int32(0)), argmax, (1,))
    (Array([2., 1.], dtype=float32), Array([2, 2], dtype=int32))
    """
    flat_ops, flat_inits, _, tree = _flat_args("lax.reduce", operands, init_values)
    if len(flat_ops) == 1:
        (operand,), (init,) = flat_ops, flat_inits
        kind = _monoid_kind(computation, init, aval_of(operand), tuple(_REDUCERS))
        if kind is not None:
            out = _REDUCERS[kind](operand, dimensions)
            # NOTE: as jax: weak only if the operand and the init value are both weak.
            weak = aval_of(operand).weak_type and dtypes.is_weakly_typed(init)
            out_aval = aval_of(out)
            if out_aval.weak_type != weak:
                out = ew.convert_element_type(out, out_aval.dtype, weak_type=weak)
            return tree_util.tree_unflatten(tree, [out])
    if isinstance(dimensions, (str, bytes)) or dimensions is None:
        raise TypeError(f"lax.reduce: dimensions must be a sequence of ints, got {dimensions!r}")
    dims = canonicalize_axes(dimensions, aval_of(flat_ops[0]).ndim, "lax.reduce")
    flat_ops, flat_inits, program, tree = _prepare("lax.reduce", operands, init_values,
                                                   computation)
    outs = reduce_p.bind(*flat_ops, *flat_inits, computation=program, dimensions=dims)
    return tree_util.tree_unflatten(tree, outs)


@reduce_p.def_abstract_eval
def _reduce_abstract_eval(*avals: AbstractArray, computation: Program,
                          dimensions: tuple[int, ...]) -> list[AbstractArray]:
    n = len(avals) // 2
    ops, inits = avals[:n], avals[n:]
    if not n or len(avals) % 2:
        raise TypeError(f"reduce takes operands then as many init values, got {_types(avals)}")
    _check_operands("lax.reduce", ops, inits)
    red._check_axes("reduce", ops[0], dimensions)
    _check_computation("lax.reduce", computation, inits)
    shape = tuple(d for i, d in enumerate(ops[0].shape) if i not in dimensions)
    return [AbstractArray(shape, op.dtype, op.weak_type and init.weak_type)
            for op, init in zip(ops, inits)]


def _reduce_lower(ctx: lowering.RuleContext, *args: lowering.Value, computation: Program,
                  dimensions: tuple[int, ...]) -> list[lowering.Value]:
    n = len(args) // 2
    region = _region(ctx, computation, ctx.avals_in[n:])
    return ctx.op("stablehlo.reduce", list(args), ctx.avals_out,
                  {"dimensions": lowering.i64_array(dimensions)}, regions=[region])


lowering.register_lowering(reduce_p, _reduce_lower)


def _apply_elementwise(program: Program, lefts: Sequence[Array], rights: Sequence[Array]
                       ) -> list[Array]:
    """The scalar `program` applied to each position of equally shaped arrays."""
    shape = tuple(aval_of(lefts[0]).shape)
    size = int(np.prod(shape, dtype=np.int64))
    flat = [st.reshape(x, (size,)) for x in [*lefts, *rights]]
    outs = batching.vmap_flat(lambda *xs: pe.eval_program(program, [], xs), flat,
                              [0] * len(flat), size, [0] * len(lefts))
    return [st.reshape(o, shape) for o in outs]


def _reduce_tree(program: Program, xs: Sequence[Array], inits: Sequence[Array],
                 dimensions: tuple[int, ...]) -> list[Array]:
    """`reduce` as a tree of pairwise combinations (jax's JVP of a general reduce):
    the reduced axes are flattened to a leading one, which is halved until one element
    is left, padding an odd half with the init values."""
    shape = tuple(aval_of(xs[0]).shape)
    kept = tuple(i for i in range(len(shape)) if i not in dimensions)
    rest = tuple(shape[i] for i in kept)
    n = int(np.prod([shape[d] for d in dimensions], dtype=np.int64))
    m = int(np.prod(rest, dtype=np.int64))
    if n == 0 or m == 0:
        return [st.broadcast_in_dim(i, rest, ()) for i in inits]
    xs = [st.reshape(st.transpose(x, (*dimensions, *kept)), (n, m)) for x in xs]
    while n > 1:
        half = (n + 1) // 2
        lo = [st.slice_in_dim(x, 0, half) for x in xs]
        hi = [st.slice_in_dim(x, half, n) for x in xs]
        if n % 2:
            hi = [st.pad(h, i, [(0, 1, 0), (0, 0, 0)]) for h, i in zip(hi, inits)]
        xs, n = _apply_elementwise(program, lo, hi), half
    return [st.reshape(x, rest) for x in xs]


def _reduce_jvp(primals: Sequence[Any], tangents: Sequence[Any], *, computation: Program,
                dimensions: tuple[int, ...]) -> tuple[list[Any], list[Any]]:
    n = len(primals) // 2
    if any(not isinstance(t, ad.Zero) for t in tangents[n:]):
        raise _unsupported(reduce_p, "differentiation (JVP)", (
            "lax.reduce: differentiating with respect to init_values of a general "
            "reduction is not supported (nor in jax); init values must be constants "
            "(the computation's identity). Wrap them in lax.stop_gradient if they only "
            "happen to depend on the differentiated inputs."))
    inits = primals[n:]

    def tree(*xs: Any) -> list[Any]:
        return _reduce_tree(computation, xs, inits, dimensions)

    return ad.jvp_flat(tree, primals[:n], tangents[:n])


ad.primitive_jvps[reduce_p] = _reduce_jvp


def _reduce_batch(args: Sequence[Any], dims: Sequence[Any], **params: Any
                  ) -> tuple[list[Any], list[Any]]:
    def shift(p: dict[str, Any]) -> dict[str, Any]:
        return {**p, "dimensions": tuple(d + 1 for d in p["dimensions"])}

    return _generic_batch(reduce_p, args, dims, params, shift)


batching.primitive_batchers[reduce_p] = _reduce_batch


# --------------------------------------------------------------------------------------
# reduce_window
# --------------------------------------------------------------------------------------

reduce_window_p = Primitive("reduce_window", multiple_results=True)

_WINDOW_REDUCERS = {"sum": red.reduce_window_sum_p, "max": red.reduce_window_max_p,
                    "min": red.reduce_window_min_p}


def reduce_window(operand: Any, init_value: Any, computation: Callable[[Any, Any], Any],
                  window_dimensions: Sequence[int],
                  window_strides: Sequence[int] | None = None,
                  padding: str | Sequence[tuple[int, int]] = "VALID",
                  base_dilation: Sequence[int] | None = None,
                  window_dilation: Sequence[int] | None = None) -> Any:
    """Reduce each (padded, dilated) window of `operand` with `computation`.

    XLA's ReduceWindow: every output element is the reduction, by `computation`, of the
    init value and the operand elements its window covers; padding and the holes of
    `base_dilation` hold the init value. As for `reduce`, `computation` with
    `init_value` should form a monoid. A single operand with `lax.add` and 0, `lax.max`
    and -inf or `lax.min` and +inf (concrete) becomes `reduce_window_sum`/`max`/`min`;
    anything else the `reduce_window` primitive, which is differentiable in forward
    mode only (as in jax).

    Args:
        operand: an array or a pytree of arrays of one shape.
        init_value: a scalar per operand, same pytree, each of its operand's dtype (a
            Python scalar takes it when it converts exactly).
        computation: `(x, y) -> z`, pytrees of scalars like `init_value`.
        window_dimensions: the window size, one entry per dimension.
        window_strides: the window step per dimension (default: 1).
        padding: 'VALID', 'SAME', 'SAME_LOWER' or one `(low, high)` pair per dimension.
        base_dilation: operand dilation per dimension (default: 1).
        window_dilation: window dilation per dimension (default: 1).

    Returns:
        A pytree like `operand`, each of the shape `reduce_window_shape_tuple` gives.

    >>> import numpy as np
    >>> from lamina import lax
    >>> lax.reduce_window(np.arange(5.0, dtype=np.float32), 0.0, lax.add, (2,))
    Array([1., 3., 5., 7.], dtype=float32)
    >>> lax.reduce_window(np.arange(1.0, 6.0, dtype=np.float32), 1.0, lax.mul, (2,),
    ...                   padding=((1, 0),))
    Array([ 1.,  2.,  6., 12., 20.], dtype=float32)
    """
    flat_ops, flat_inits, _, tree = _flat_args("lax.reduce_window", operand, init_value)
    params = red._window_params("lax.reduce_window", flat_ops[0], window_dimensions,
                                window_strides, padding, base_dilation, window_dilation)
    if len(flat_ops) == 1:
        kind = _monoid_kind(computation, flat_inits[0], aval_of(flat_ops[0]),
                            tuple(_WINDOW_REDUCERS))
        if kind is not None:
            out = _WINDOW_REDUCERS[kind].bind(flat_ops[0], **params)
            return tree_util.tree_unflatten(tree, [out])
    flat_ops, flat_inits, program, tree = _prepare("lax.reduce_window", operand, init_value,
                                                   computation)
    outs = reduce_window_p.bind(*flat_ops, *flat_inits, computation=program, **params)
    return tree_util.tree_unflatten(tree, outs)


@reduce_window_p.def_abstract_eval
def _reduce_window_abstract_eval(*avals: AbstractArray, computation: Program,
                                 **params: Any) -> list[AbstractArray]:
    n = len(avals) // 2
    ops, inits = avals[:n], avals[n:]
    if not n or len(avals) % 2:
        raise TypeError(f"reduce_window takes operands then as many init values, got "
                        f"{_types(avals)}")
    _check_operands("lax.reduce_window", ops, inits)
    _check_computation("lax.reduce_window", computation, inits)
    shape = red._window_shape("reduce_window", ops[0], **params)
    # NOTE: jax's generic reduce_window gives strongly typed results.
    return [AbstractArray(shape, op.dtype) for op in ops]


def _reduce_window_lower(ctx: lowering.RuleContext, *args: lowering.Value,
                         computation: Program, **params: Any) -> list[lowering.Value]:
    n = len(args) // 2
    region = _region(ctx, computation, ctx.avals_in[n:])
    return ctx.op("stablehlo.reduce_window", list(args), ctx.avals_out,
                  red._window_attrs(**params), regions=[region])


lowering.register_lowering(reduce_window_p, _reduce_window_lower)


@functools.lru_cache(maxsize=256)
def _carried_tangents(program: Program, nonzero: tuple[bool, ...]
                      ) -> tuple[Program, list[bool]]:
    """The computation's JVP as a computation over (primal, tangent) pairs: inputs
    `(*left, *left_tangents, *right, *right_tangents)`, outputs `(*outs, *tangents)`,
    for the operands whose tangents are carried (those given, and any output tangent
    they feed: iterated to a fixpoint, as a loop carry). Cached, so that eager calls
    reuse one program."""
    n, nonzero = len(nonzero), list(nonzero)
    while True:
        jvp, out_nz = ad.jvp_program(program, [*nonzero, *nonzero], instantiate=nonzero)
        grown = [a or b for a, b in zip(nonzero, out_nz)]
        if grown == nonzero:
            break
        nonzero = grown
    k = sum(nonzero)
    # jvp's inputs: left (n), right (n), left tangents (k), right tangents (k)
    order = [*range(n), *range(2 * n, 2 * n + k), *range(n, 2 * n),
             *range(2 * n + k, 2 * n + 2 * k)]
    invars = [jvp.invars[i] for i in order]
    return Program([], invars, jvp.eqns, jvp.outvars), nonzero


def _reduce_window_jvp(primals: Sequence[Any], tangents: Sequence[Any], *,
                       computation: Program, **params: Any) -> tuple[list[Any], list[Any]]:
    """jax's rule: one reduce_window over the primals and their tangents, whose
    computation is the JVP of `computation` (init tangents: zeros)."""
    n = len(primals) // 2
    if any(not isinstance(t, ad.Zero) for t in tangents[n:]):
        raise _unsupported(reduce_window_p, "differentiation (JVP)", (
            "lax.reduce_window: differentiating with respect to init_value of a general "
            "windowed reduction is not supported (nor in jax); init values must be "
            "constants. Wrap them in lax.stop_gradient if they only happen to depend on "
            "the differentiated inputs."))
    ops, inits, op_ts = primals[:n], primals[n:], tangents[:n]
    nonzero = [not isinstance(t, ad.Zero) for t in op_ts]
    program, carried = _carried_tangents(computation, tuple(nonzero))
    ts = [ad.instantiate_zeros(t) for t, c in zip(op_ts, carried) if c]
    t_inits = [np.zeros((), aval_of(x).dtype) for x, c in zip(inits, carried) if c]
    outs = reduce_window_p.bind(*ops, *ts, *inits, *t_inits, computation=program, **params)
    t_iter = iter(outs[n:])
    t_outs = [next(t_iter) if c else ad.Zero.like(o) for o, c in zip(outs[:n], carried)]
    return outs[:n], t_outs


ad.primitive_jvps[reduce_window_p] = _reduce_window_jvp


def _reduce_window_transpose(cts: Any, *args: Any, **params: Any) -> list[Any]:
    raise _unsupported(reduce_window_p, "transposition (reverse-mode differentiation)", (
        "lax.reduce_window with a general computation is not reverse-mode "
        "differentiable (nor in jax): its JVP is itself a reduce_window over (primal, "
        "tangent) pairs, which has no transpose. Use forward mode (lamina.jvp, "
        "lamina.jacfwd), or a computation with a reverse-mode rule: lax.add with 0, "
        "lax.max with -inf, lax.min with +inf."))


ad.primitive_transposes[reduce_window_p] = _reduce_window_transpose


_WINDOW_FILL = {"window_dimensions": 1, "window_strides": 1, "padding": (0, 0),
                "base_dilation": 1, "window_dilation": 1}


def _reduce_window_batch(args: Sequence[Any], dims: Sequence[Any], **params: Any
                         ) -> tuple[list[Any], list[Any]]:
    def window_of_one(p: dict[str, Any]) -> dict[str, Any]:
        return {name: (_WINDOW_FILL[name], *v) if name in _WINDOW_FILL else v
                for name, v in p.items()}

    return _generic_batch(reduce_window_p, args, dims, params, window_of_one)


batching.primitive_batchers[reduce_window_p] = _reduce_window_batch


def _reduce_window_partial_eval(trace: pe.ProgramTrace, primitive: Primitive,
                                args: Sequence[Any], params: dict[str, Any]) -> list[Any]:
    """Known operands whose results depend on known operands only (the primals of a
    JVP) are reduced now by a reduce_window of their own; the whole reduction is staged
    for the others (recomputing the known part, as while_loop's rule does)."""
    n = len(args) // 2
    unknown = _closure(params["computation"],
                       [trace.is_own(a) or trace.is_own(i) for a, i in zip(args[:n], args[n:])])
    if all(unknown):
        return trace.stage(primitive, args, params)
    with set_current_trace(trace.parent):
        known = _bind_subset(primitive, [not u for u in unknown], args, params)
    staged = trace.stage(primitive, args, params)
    return _merge(unknown, _pick(unknown, staged), known)


pe.partial_eval_rules[reduce_window_p] = _reduce_window_partial_eval
