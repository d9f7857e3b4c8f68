"""User-defined derivative rules: `custom_jvp` and `custom_vjp` (jax's API).

Both trace the user's functions into closed Programs when called under a
transformation; values the functions close over (arrays, tracers of enclosing
transformations) become leading operands, so jit, vmap and grad see them.

* `custom_jvp_call[call, jvp, num_consts, num_nondiff, symbolic_zeros]` operands:
  consts, nondiff arguments that hold tracers, differentiable arguments. `call` (a
  closed Program) computes the outputs; `jvp` wraps the user's rule (compared by
  identity) and is only called when differentiating: a rule usually calls the custom
  function itself, so it cannot be traced eagerly. Eagerly, under jit (lowering) and
  under partial evaluation the call is inlined; the JVP calls the rule; vmap batches
  `call` and wraps the rule in vmap.
* `custom_vjp_call[call, fwd, bwd, num_consts]` operands: consts, arguments. Its JVP
  calls `fwd` (outputs and residuals) and emits the output tangents through the
  linear `custom_lin[bwd]`, whose transpose calls `bwd(residuals, cotangents)`.
  `custom_lin` has no forward rule: evaluating it (forward-mode jvp of a custom_vjp
  function) raises jax's error.

NOTE: values the *rules* close over are used as they are when the rule runs: tracers
of enclosing transformations (jit, an outer vmap) work; a tracer of a vmap applied
inside the differentiation (grad(vmap(f)) with a rule closing over the vmapped value)
does not. Pass such values as arguments.
"""
from __future__ import annotations

import functools
import inspect
from typing import Any, Callable, Sequence

import numpy as np

from lamina import dtypes, tree_util
from lamina.interpreters import ad, batching, eval as eval_interp, lowering
from lamina.interpreters import partial_eval as pe
from lamina.ir import (AbstractArray, Primitive, Program, Tracer, current_trace,
                       set_current_trace, shaped_abstractify)

__all__ = ["custom_jvp", "custom_vjp", "SymbolicZero", "custom_jvp_call_p",
           "custom_vjp_call_p", "custom_lin_p"]

_CLOSURE_MSG = (
    "Detected differentiation of a {kind} function with respect to a closed-over value. "
    "That isn't supported because the custom {rule} rule only specifies how to "
    "differentiate the {kind} function with respect to explicit input parameters. Try "
    "passing the closed-over value into the {kind} function as an argument, and adapting "
    "the {kind} rule.")

_FWD_MODE_MSG = "can't apply forward-mode autodiff (jvp) to a custom_vjp function."


def _inexact(x: Any) -> bool:
    aval = x if isinstance(x, AbstractArray) else shaped_abstractify(x)
    return dtypes.is_inexact(aval.dtype)


def _float0_zeros(aval: AbstractArray) -> np.ndarray:
    return np.zeros(aval.shape, dtypes.float0)


def _same_type(a: AbstractArray, b: AbstractArray) -> bool:
    return a.shape == b.shape and a.dtype == b.dtype


def _resolve_args(fun: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
                  ) -> tuple[Any, ...]:
    """Keyword arguments bound to positions (jax requires this for custom rules)."""
    if not kwargs:
        return args
    try:
        bound = inspect.signature(fun).bind(*args, **kwargs)
    except (TypeError, ValueError) as e:
        raise TypeError(f"{getattr(fun, '__name__', fun)}: {e}") from None
    bound.apply_defaults()
    if bound.kwargs:
        raise TypeError("keyword-only arguments are not supported by custom_jvp/custom_vjp "
                        f"functions; got {sorted(bound.kwargs)}")
    return tuple(bound.args)


def _is_eager() -> bool:
    return isinstance(current_trace(), eval_interp.EvalTrace)


def _has_tracer(tree: Any) -> bool:
    return any(isinstance(x, Tracer) for x in tree_util.tree_leaves(tree))


def _inline_call_lowering(ctx: lowering.RuleContext, *args: str, call: Program,
                          **params: Any) -> list[str]:
    del params
    return ctx.lower_program(call, args)


def _inline_call_impl(*args: Any, call: Program, **params: Any) -> list[Any]:
    del params
    return pe.eval_program(call, [], args)


def _inline_call_partial_eval(trace: pe.ProgramTrace, primitive: Primitive,
                              args: Sequence[Any], params: dict[str, Any]) -> list[Any]:
    # NOTE: partial evaluation only builds linear maps (linearize, vjp): the custom rule
    # has already been applied by the JVP, so the call is inlined (as jax does).
    del primitive
    with set_current_trace(trace):
        return pe.eval_program(params["call"], [], args)


# --------------------------------------------------------------------------------------
# custom_jvp
# --------------------------------------------------------------------------------------


class SymbolicZero:
    """A zero tangent passed to a `defjvp(..., symbolic_zeros=True)` rule (jax's
    `custom_derivatives.SymbolicZero`): it has an `aval`, `shape` and `dtype`. A rule
    may also return one for a zero output tangent."""

    def __init__(self, aval: AbstractArray) -> None:
        self.aval = aval

    shape = property(lambda self: self.aval.shape)
    dtype = property(lambda self: self.aval.dtype)
    ndim = property(lambda self: self.aval.ndim)

    def __repr__(self) -> str:
        return f"SymbolicZero({self.aval.str_short()})"


custom_jvp_call_p = Primitive("custom_jvp_call", multiple_results=True)


@custom_jvp_call_p.def_abstract_eval
def _custom_jvp_call_abstract_eval(*avals: AbstractArray, call: Program, jvp: Any,
                                   num_consts: int, num_nondiff: int,
                                   symbolic_zeros: bool) -> list[AbstractArray]:
    del jvp, num_consts, num_nondiff, symbolic_zeros
    expected = call.in_avals
    if len(avals) != len(expected) or not all(map(_same_type, avals, expected)):
        raise TypeError(f"custom_jvp_call: operands {[a.str_short() for a in avals]} do not "
                        f"match the program's inputs {[a.str_short() for a in expected]}")
    return call.out_avals


lowering.register_lowering(custom_jvp_call_p, _inline_call_lowering)
eval_interp.impl_rules[custom_jvp_call_p] = _inline_call_impl
pe.partial_eval_rules[custom_jvp_call_p] = _inline_call_partial_eval


def _custom_jvp_call_jvp(primals: Sequence[Any], tangents: Sequence[Any], *, call: Program,
                         jvp: Callable[..., Any], num_consts: int, num_nondiff: int,
                         symbolic_zeros: bool) -> tuple[list[Any], list[Any]]:
    del call, symbolic_zeros
    if any(not isinstance(t, ad.Zero) for t in tangents[:num_consts]):
        raise ValueError(_CLOSURE_MSG.format(kind="custom_jvp", rule="JVP"))
    n_fixed = num_consts + num_nondiff
    # NOTE: nondiff arguments are not differentiated (jax stops their gradient).
    return jvp(primals[num_consts:n_fixed], primals[n_fixed:], tangents[n_fixed:])


ad.primitive_jvps[custom_jvp_call_p] = _custom_jvp_call_jvp


class _BatchedJvp:
    """The `jvp` param of a batched `custom_jvp_call`: the inner rule under vmap.
    Every output (and output tangent) is batched at 0."""

    def __init__(self, inner: Callable[..., Any], in_mapped: Sequence[bool], size: int) -> None:
        self.inner, self.in_mapped, self.size = inner, list(in_mapped), size

    def __call__(self, nondiff: Sequence[Any], primals: Sequence[Any], tangents: Sequence[Any]
                 ) -> tuple[list[Any], list[Any]]:
        n_nd, n_p = len(nondiff), len(primals)
        inexact_in = [_inexact(p) for p in primals]
        nz_t = [ad.instantiate_zeros(t) for t, ok in zip(tangents, inexact_in) if ok]
        primal_dims = [0 if m else None for m in self.in_mapped]
        t_dims = [d for d, ok in zip(primal_dims[n_nd:], inexact_in) if ok]
        inexact_out: list[bool] = []

        def flat(*xs: Any) -> list[Any]:
            nd, ps, nz = xs[:n_nd], xs[n_nd:n_nd + n_p], iter(xs[n_nd + n_p:])
            ts = [next(nz) if ok else ad.Zero.like(p) for p, ok in zip(ps, inexact_in)]
            outs, touts = self.inner(nd, ps, ts)
            inexact_out[:] = [_inexact(o) for o in outs]
            return [*outs, *[ad.instantiate_zeros(t) for t, o in zip(touts, outs) if _inexact(o)]]

        res = batching.vmap_flat(flat, [*nondiff, *primals, *nz_t], [*primal_dims, *t_dims],
                                 self.size, lambda: [0] * (len(inexact_out) + sum(inexact_out)))
        outs, nz_out = res[:len(inexact_out)], iter(res[len(inexact_out):])
        return outs, [next(nz_out) if ok else ad.Zero.like(o)
                      for o, ok in zip(outs, inexact_out)]


def _custom_jvp_call_batch(args: Sequence[Any], dims: Sequence[Any], *, call: Program,
                           jvp: Callable[..., Any], num_consts: int, num_nondiff: int,
                           symbolic_zeros: bool) -> tuple[list[Any], list[Any]]:
    size = batching.dim_size(args, dims)
    mapped = [d is not batching.not_mapped for d in dims]
    args = [batching.moveaxis(x, d, 0) if m else x for x, d, m in zip(args, dims, mapped)]
    # NOTE: every output is forced to be batched so that `call` and `jvp` agree.
    call_b, _ = batching.batch_program(call, mapped, size, out_mapped=True)
    jvp_b = _BatchedJvp(jvp, mapped[num_consts:], size)
    outs = custom_jvp_call_p.bind(*args, call=call_b, jvp=jvp_b, num_consts=num_consts,
                                  num_nondiff=num_nondiff, symbolic_zeros=symbolic_zeros)
    return outs, [0] * len(outs)


batching.primitive_batchers[custom_jvp_call_p] = _custom_jvp_call_batch


class _Args:
    """A call's positional arguments split into nondiff (static or traced) and
    differentiable parts, with the flat leaves that become program inputs."""

    def __init__(self, fun_name: str, args: tuple[Any, ...], nondiff_argnums: tuple[int, ...],
                 allow_traced_nondiff: bool) -> None:
        n = len(args)
        for i in nondiff_argnums:
            if not 0 <= i < n:
                raise TypeError(f"{fun_name}: nondiff_argnums {nondiff_argnums} out of range "
                                f"for a call with {n} positional arguments")
        self.args = args
        self.nondiff = tuple(sorted(nondiff_argnums))
        self.diff = tuple(i for i in range(n) if i not in self.nondiff)
        self.traced_nondiff = tuple(i for i in self.nondiff if _has_tracer(args[i]))
        if self.traced_nondiff and not allow_traced_nondiff:
            raise TypeError(
                "Found a lamina Tracer object passed as an argument to a custom_vjp function "
                "in a position indicated by nondiff_argnums as non-differentiable. Tracers "
                "cannot be passed as non-differentiable arguments to custom_vjp functions; "
                "instead, nondiff_argnums should only be used for arguments that can't be or "
                "contain tracers, e.g. function-valued arguments. In particular, "
                "array-valued arguments should typically not be indicated as nondiff_argnums.")
        self.nd_leaves, self.nd_tree = tree_util.tree_flatten(
            tuple(args[i] for i in self.traced_nondiff))
        self.diff_leaves, self.diff_tree = tree_util.tree_flatten(
            tuple(args[i] for i in self.diff))
        self.diff_avals = [shaped_abstractify(x) for x in self.diff_leaves]
        self.nd_avals = [shaped_abstractify(x) for x in self.nd_leaves]

    def rebuild(self, nd_leaves: Sequence[Any], diff_leaves: Sequence[Any]
                ) -> tuple[list[Any], tuple[Any, ...]]:
        """(all positional args, the differentiable args) from new leaves."""
        full = list(self.args)
        for i, v in zip(self.traced_nondiff, tree_util.tree_unflatten(self.nd_tree, nd_leaves)):
            full[i] = v
        diff = tree_util.tree_unflatten(self.diff_tree, diff_leaves)
        for i, v in zip(self.diff, diff):
            full[i] = v
        return full, diff


class custom_jvp:
    """A function with a custom JVP (forward-mode derivative) rule; reverse mode is
    derived from it by transposition (jax's `custom_jvp`).

    Args:
        fun: the primal function (pytrees in and out).
        nondiff_argnums: positions of arguments that are not differentiated; they are
            passed to the JVP rule first, before `primals` and `tangents`.

    >>> import lamina, lamina.numpy as lnp
    >>> from lamina.custom_derivatives import custom_jvp
    >>> @custom_jvp
    ... def log1pexp(x):
    ...     return lnp.log(1. + lnp.exp(x))
    >>> @log1pexp.defjvp
    ... def log1pexp_jvp(primals, tangents):
    ...     x, = primals
    ...     t, = tangents
    ...     return log1pexp(x), t * (1. - 1. / (1. + lnp.exp(x)))
    >>> lamina.grad(log1pexp)(100.)  # the naive derivative would be nan
    Array(1., dtype=float32...)
    """

    def __init__(self, fun: Callable[..., Any], nondiff_argnums: Sequence[int] = ()) -> None:
        functools.update_wrapper(self, fun)
        self.fun = fun
        self.nondiff_argnums = tuple(int(i) for i in nondiff_argnums)
        self.jvp: Callable[..., Any] | None = None
        self.symbolic_zeros = False

    def __get__(self, obj: Any, objtype: Any = None) -> Any:
        return self if obj is None else functools.partial(self, obj)

    def defjvp(self, jvp: Callable[..., Any], symbolic_zeros: bool = False
               ) -> Callable[..., Any]:
        """Set the rule `jvp(*nondiff_args, primals, tangents) -> (primal_out,
        tangent_out)`; `primals`/`tangents` are tuples over the differentiable
        arguments. With `symbolic_zeros=True`, a tangent known to be zero is passed as a
        `SymbolicZero` (instead of an array of zeros) and the rule may return one.
        Returns `jvp` (a decorator)."""
        self.jvp = jvp
        self.symbolic_zeros = bool(symbolic_zeros)
        return jvp

    def defjvps(self, *jvps: Callable[..., Any] | None) -> None:
        """One rule per differentiable argument, `jvp_i(tangent_i, primal_out,
        *primals) -> tangent_out` contribution (None: the output does not depend on it).

        >>> import lamina, lamina.numpy as lnp
        >>> from lamina.custom_derivatives import custom_jvp
        >>> f = custom_jvp(lambda x, y: lnp.sin(x) * y)
        >>> f.defjvps(lambda t, ans, x, y: lnp.cos(x) * y * t,
        ...           lambda t, ans, x, y: lnp.sin(x) * t)
        >>> lamina.grad(f, 1)(0.0, 2.0)
        Array(0., dtype=float32, weak_type=True)
        """
        if self.nondiff_argnums:
            raise TypeError("Can't use ``defjvps`` with ``nondiff_argnums``.")

        def jvp(primals: tuple[Any, ...], tangents: tuple[Any, ...]) -> tuple[Any, Any]:
            primal_out = self(*primals)
            out_leaves, out_tree = tree_util.tree_flatten(primal_out)
            total: list[Any] = [None] * len(out_leaves)
            for rule, t in zip(jvps, tangents):
                if rule is None:
                    continue
                contrib = tree_util.tree_leaves(rule(t, primal_out, *primals))
                if len(contrib) != len(out_leaves):
                    raise TypeError("custom_jvp defjvps: a rule returned "
                                    f"{len(contrib)} tangent leaves for an output with "
                                    f"{len(out_leaves)} leaves")
                total = [c if s is None else s + c for s, c in zip(total, contrib)]
            from lamina import lax
            total = [lax.full(shaped_abstractify(o).shape, 0,
                              shaped_abstractify(o).dtype) if s is None else s
                     for s, o in zip(total, out_leaves)]
            return primal_out, tree_util.tree_unflatten(out_tree, total)

        self.defjvp(jvp)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        name = getattr(self.fun, "__name__", repr(self.fun))
        if self.jvp is None:
            raise AttributeError(f"No JVP defined for custom_jvp function {name} using "
                                 "defjvp.")
        args = _resolve_args(self.fun, args, kwargs)
        if _is_eager():
            return self.fun(*args)  # NOTE: no derivative can be requested from here
        a = _Args(f"custom_jvp({name})", args, self.nondiff_argnums, True)
        out_tree_box: list[Any] = []
        n_nd = len(a.nd_leaves)

        def call_flat(*leaves: Any) -> list[Any]:
            full, _ = a.rebuild(leaves[:n_nd], leaves[n_nd:])
            out_leaves, out_tree = tree_util.tree_flatten(self.fun(*full))
            out_tree_box[:] = [out_tree]
            return out_leaves

        call, consts = pe.close_over_consts(
            pe.trace_to_program(call_flat, [*a.nd_avals, *a.diff_avals]))
        out_tree = out_tree_box[0]
        jvp = _UserJvp(name, self.jvp, self.symbolic_zeros, a, out_tree, call.out_avals)
        outs = custom_jvp_call_p.bind(*consts, *a.nd_leaves, *a.diff_leaves, call=call,
                                      jvp=jvp, num_consts=len(consts), num_nondiff=n_nd,
                                      symbolic_zeros=self.symbolic_zeros)
        return tree_util.tree_unflatten(out_tree, outs)


class _UserJvp:
    """The `jvp` param of `custom_jvp_call`: `(nondiff_leaves, primal_leaves, tangent
    leaves (maybe Zero)) -> (output leaves, output tangents (Zero for integer outputs))`,
    calling the user's rule. Compared by identity; called lazily (only when
    differentiated), since a rule usually calls the custom function itself."""

    def __init__(self, name: str, rule: Callable[..., Any], symbolic: bool, args: "_Args",
                 out_tree: Any, out_avals: Sequence[AbstractArray]) -> None:
        self.name, self.rule, self.symbolic, self.a = name, rule, symbolic, args
        self.out_tree, self.out_avals = out_tree, list(out_avals)

    def __repr__(self) -> str:
        return getattr(self.rule, "__name__", "jvp")

    def __call__(self, nondiff: Sequence[Any], primals: Sequence[Any], tangents: Sequence[Any]
                 ) -> tuple[list[Any], list[Any]]:
        full, primal_args = self.a.rebuild(nondiff, primals)
        t_leaves = []
        for p, t in zip(primals, tangents):
            if isinstance(t, ad.Zero):
                if self.symbolic:
                    t = SymbolicZero(t.aval)
                elif _inexact(p):
                    t = ad.instantiate_zeros(t)
                else:
                    t = _float0_zeros(shaped_abstractify(p))
            t_leaves.append(t)
        tangent_args = tree_util.tree_unflatten(self.a.diff_tree, t_leaves)
        result = self.rule(*[full[i] for i in self.a.nondiff], primal_args, tangent_args)
        flat = _check_jvp_result(self.name, result, self.out_tree, self.out_avals)
        n = len(self.out_avals)
        outs, nz = flat[:n], iter(flat[n:])
        return outs, [next(nz) if _inexact(a) else ad.Zero(ad.tangent_aval(a))
                      for a in self.out_avals]


def _check_jvp_result(name: str, result: Any, out_tree: Any,
                      out_avals: Sequence[AbstractArray]) -> list[Any]:
    """The flat [primal outputs, tangents of the inexact outputs] of a user JVP rule."""
    if not (isinstance(result, (tuple, list)) and len(result) == 2):
        raise TypeError(f"Custom JVP rule for function {name} must produce a pair (list or "
                        "tuple of length two) representing primal and tangent outputs, but "
                        f"got {result!r}.")
    primal_out, tangent_out = result
    p_leaves, p_tree = tree_util.tree_flatten(primal_out)
    t_leaves, t_tree = tree_util.tree_flatten(
        tangent_out, is_leaf=lambda x: isinstance(x, SymbolicZero))
    if p_tree != out_tree:
        raise TypeError(f"Custom JVP rule for function {name} must produce primal outputs "
                        "with the same container (pytree) structure as the custom_jvp "
                        f"function's output, but got {p_tree} and {out_tree} respectively.")
    if t_tree != p_tree:
        raise TypeError(f"Custom JVP rule for function {name} must produce primal and "
                        "tangent outputs with equal container (pytree) structures, but got "
                        f"{p_tree} and {t_tree} respectively.")
    tangents = []
    for i, (p, t, expected) in enumerate(zip(p_leaves, t_leaves, out_avals)):
        p_aval = shaped_abstractify(p)
        if not _same_type(p_aval, expected):
            raise TypeError(f"Custom JVP rule for function {name} must produce primal outputs "
                            "with the same shapes and dtypes as the function's outputs, but "
                            f"output {i} is {p_aval.str_short()} instead of "
                            f"{expected.str_short()}.")
        if not _inexact(expected):
            continue  # integer outputs have no tangent
        if isinstance(t, SymbolicZero):
            from lamina import lax
            t = lax.full(expected.shape, 0, expected.dtype)
        t_aval = shaped_abstractify(t)
        if t_aval.shape != expected.shape or t_aval.dtype != ad.tangent_dtype(expected.dtype):
            raise TypeError(f"Custom JVP rule for function {name} must produce primal and "
                            "tangent outputs with corresponding shapes and dtypes, but got "
                            f"{expected.str_short()} and {t_aval.str_short()} for output {i}.")
        tangents.append(t)
    return [*p_leaves, *tangents]


# --------------------------------------------------------------------------------------
# custom_vjp
# --------------------------------------------------------------------------------------

custom_vjp_call_p = Primitive("custom_vjp_call", multiple_results=True)


@custom_vjp_call_p.def_abstract_eval
def _custom_vjp_call_abstract_eval(*avals: AbstractArray, call: Program, fwd: Any, bwd: Any,
                                   num_consts: int) -> list[AbstractArray]:
    del fwd, bwd, num_consts
    expected = call.in_avals
    if len(avals) != len(expected) or not all(map(_same_type, avals, expected)):
        raise TypeError(f"custom_vjp_call: operands {[a.str_short() for a in avals]} do not "
                        f"match the program's inputs {[a.str_short() for a in expected]}")
    return call.out_avals


lowering.register_lowering(custom_vjp_call_p, _inline_call_lowering)
eval_interp.impl_rules[custom_vjp_call_p] = _inline_call_impl
pe.partial_eval_rules[custom_vjp_call_p] = _inline_call_partial_eval


def _custom_vjp_call_jvp(primals: Sequence[Any], tangents: Sequence[Any], *, call: Program,
                         fwd: Callable[..., Any], bwd: Callable[..., Any], num_consts: int
                         ) -> tuple[list[Any], list[Any]]:
    del call
    if any(not isinstance(t, ad.Zero) for t in tangents[:num_consts]):
        raise ValueError(_CLOSURE_MSG.format(kind="custom_vjp", rule="VJP"))
    args = primals[num_consts:]
    primals_out, residuals = fwd(args)
    lin_in = [ad.instantiate_zeros(t) for p, t in zip(args, tangents[num_consts:])
              if _inexact(p)]
    out_avals = tuple(ad.tangent_aval(shaped_abstractify(p)) for p in primals_out
                      if _inexact(p))
    lin_out = iter(custom_lin_p.bind(*residuals, *lin_in, bwd=bwd, num_res=len(residuals),
                                     out_avals=out_avals))
    tangents_out = [next(lin_out) if _inexact(p) else ad.Zero.like(p) for p in primals_out]
    return primals_out, tangents_out


ad.primitive_jvps[custom_vjp_call_p] = _custom_vjp_call_jvp


class _BatchedFwd:
    """`fwd` of a batched `custom_vjp_call`: outputs and residuals all batched at 0."""

    def __init__(self, inner: Callable[..., Any], in_mapped: Sequence[bool], size: int) -> None:
        self.inner, self.in_mapped, self.size = inner, list(in_mapped), size

    def __call__(self, args: Sequence[Any]) -> tuple[list[Any], list[Any]]:
        n_out: list[int] = []

        def flat(*xs: Any) -> list[Any]:
            outs, res = self.inner(xs)
            n_out[:] = [len(outs), len(res)]
            return [*outs, *res]

        res = batching.vmap_flat(flat, args, [0 if m else None for m in self.in_mapped],
                                 self.size, lambda: [0] * sum(n_out))
        return res[:n_out[0]], res[n_out[0]:]


class _BatchedBwd:
    """`bwd` of a batched `custom_vjp_call`: residuals and cotangents batched at 0; an
    unbatched argument's cotangent is the sum over the batch."""

    def __init__(self, inner: Callable[..., Any], arg_mapped: Sequence[bool], size: int) -> None:
        self.inner, self.arg_mapped, self.size = inner, list(arg_mapped), size

    def __call__(self, res: Sequence[Any], cts: Sequence[Any]) -> list[Any]:
        from lamina import lax
        n_res = len(res)
        outs = batching.vmap_flat(lambda *xs: self.inner(xs[:n_res], xs[n_res:]),
                                  [*res, *cts], [0] * (n_res + len(cts)), self.size,
                                  lambda: [0] * len(self.arg_mapped))
        return [ct if m else lax.reduce_sum(ct, (0,)) for ct, m in zip(outs, self.arg_mapped)]


def _custom_vjp_call_batch(args: Sequence[Any], dims: Sequence[Any], *, call: Program,
                           fwd: Callable[..., Any], bwd: Callable[..., Any], num_consts: int
                           ) -> tuple[list[Any], list[Any]]:
    size = batching.dim_size(args, dims)
    mapped = [d is not batching.not_mapped for d in dims]
    args = [batching.moveaxis(x, d, 0) if m else x for x, d, m in zip(args, dims, mapped)]
    # NOTE: outputs and residuals are all forced to be batched, so `call`, `fwd` and the
    # cotangents `bwd` receives agree.
    call_b, _ = batching.batch_program(call, mapped, size, out_mapped=True)
    arg_mapped = [m for x, m in zip(args[num_consts:], mapped[num_consts:]) if _inexact(x)]
    outs = custom_vjp_call_p.bind(*args, call=call_b,
                                  fwd=_BatchedFwd(fwd, mapped[num_consts:], size),
                                  bwd=_BatchedBwd(bwd, arg_mapped, size), num_consts=num_consts)
    return outs, [0] * len(outs)


batching.primitive_batchers[custom_vjp_call_p] = _custom_vjp_call_batch


# `custom_lin[bwd, num_res, out_avals](*residuals, *tangents)`: the linear map whose
# transpose is the user's bwd. It only exists to be transposed.
custom_lin_p = Primitive("custom_lin", multiple_results=True)


@custom_lin_p.def_abstract_eval
def _custom_lin_abstract_eval(*avals: AbstractArray, bwd: Any, num_res: int,
                              out_avals: tuple[AbstractArray, ...]) -> list[AbstractArray]:
    del avals, bwd, num_res
    return list(out_avals)


def _custom_lin_forward(*args: Any, **params: Any) -> Any:
    del args, params
    raise TypeError(_FWD_MODE_MSG)


eval_interp.impl_rules[custom_lin_p] = _custom_lin_forward
lowering.register_lowering(custom_lin_p, _custom_lin_forward)
ad.primitive_jvps[custom_lin_p] = _custom_lin_forward
batching.primitive_batchers[custom_lin_p] = _custom_lin_forward


def _custom_lin_transpose(cts: Sequence[Any], *args: Any, bwd: Callable[..., Any],
                          num_res: int, out_avals: tuple[AbstractArray, ...]) -> list[Any]:
    del out_avals
    cts = [ad.instantiate_zeros(ct) for ct in cts]
    return [None] * num_res + list(bwd(args[:num_res], cts))


ad.primitive_transposes[custom_lin_p] = _custom_lin_transpose


class custom_vjp:
    """A function with a custom VJP (reverse-mode derivative) rule (jax's `custom_vjp`).

    `fwd(*args) -> (out, residuals)` and `bwd(*nondiff_args, residuals, out_cotangent)
    -> tuple` with one cotangent per differentiable argument (None for a zero one).
    Forward-mode differentiation (`jvp`, `jacfwd`) of such a function is an error.

    >>> import lamina
    >>> from lamina.custom_derivatives import custom_vjp
    >>> @custom_vjp
    ... def clip_gradient(x):
    ...     return x
    >>> clip_gradient.defvjp(lambda x: (x, None),
    ...                      lambda _, g: (lamina.numpy.clip(g, -1.0, 1.0),))
    >>> lamina.grad(lambda x: 3.0 * clip_gradient(x))(2.0)
    Array(1., dtype=float32...)
    """

    def __init__(self, fun: Callable[..., Any], nondiff_argnums: Sequence[int] = ()) -> None:
        functools.update_wrapper(self, fun)
        self.fun = fun
        self.nondiff_argnums = tuple(int(i) for i in nondiff_argnums)
        self.fwd: Callable[..., Any] | None = None
        self.bwd: Callable[..., Any] | None = None

    def __get__(self, obj: Any, objtype: Any = None) -> Any:
        return self if obj is None else functools.partial(self, obj)

    def defvjp(self, fwd: Callable[..., Any], bwd: Callable[..., Any],
               symbolic_zeros: bool = False, optimize_remat: bool = False) -> None:
        """Set the forward pass `fwd(*args) -> (out, residuals)` and the backward pass
        `bwd(*nondiff_args, residuals, g) -> tuple of cotangents`."""
        if symbolic_zeros or optimize_remat:
            raise NotImplementedError("custom_vjp.defvjp: symbolic_zeros and optimize_remat "
                                      "are not supported")
        self.fwd, self.bwd = fwd, bwd

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        name = getattr(self.fun, "__name__", repr(self.fun))
        if self.fwd is None or self.bwd is None:
            raise AttributeError(f"No VJP defined for custom_vjp function {name} using "
                                 "defvjp.")
        args = _resolve_args(self.fun, args, kwargs)
        a = _Args(f"custom_vjp({name})", args, self.nondiff_argnums, False)
        if _is_eager():
            return self.fun(*args)
        out_tree_box: list[Any] = []

        def call_flat(*leaves: Any) -> list[Any]:
            full, _ = a.rebuild((), leaves)
            out_leaves, out_tree = tree_util.tree_flatten(self.fun(*full))
            out_tree_box[:] = [out_tree]
            return out_leaves

        call, consts = pe.close_over_consts(pe.trace_to_program(call_flat, a.diff_avals))
        out_tree = out_tree_box[0]
        res_tree_box: list[Any] = []
        fwd = _UserFwd(name, self.fwd, a, out_tree, call.out_avals, res_tree_box)
        bwd = _UserBwd(name, self.bwd, a, out_tree, call.out_avals, res_tree_box)
        outs = custom_vjp_call_p.bind(*consts, *a.diff_leaves, call=call, fwd=fwd, bwd=bwd,
                                      num_consts=len(consts))
        return tree_util.tree_unflatten(out_tree, outs)


class _UserFwd:
    """The `fwd` param of `custom_vjp_call`: argument leaves -> (output leaves, residual
    leaves), calling the user's fwd (lazily: it usually calls the custom function)."""

    def __init__(self, name: str, rule: Callable[..., Any], args: "_Args", out_tree: Any,
                 out_avals: Sequence[AbstractArray], res_tree_box: list[Any]) -> None:
        self.name, self.rule, self.a = name, rule, args
        self.out_tree, self.out_avals, self.res_tree_box = out_tree, list(out_avals), res_tree_box

    def __call__(self, leaves: Sequence[Any]) -> tuple[list[Any], list[Any]]:
        full, _ = self.a.rebuild((), leaves)
        result = self.rule(*full)
        name = self.name
        if not (isinstance(result, (tuple, list)) and len(result) == 2):
            raise TypeError(f"Custom VJP fwd rule {getattr(self.rule, '__name__', self.rule)} "
                            f"for function {name} must produce a pair (list or tuple of "
                            "length two) where the first element represents the primal "
                            "output and the second the residuals, but got "
                            f"{type(result).__name__}.")
        out, res = result
        o_leaves, o_tree = tree_util.tree_flatten(out)
        if o_tree != self.out_tree:
            raise TypeError(f"Custom VJP fwd rule for function {name} must produce a pair "
                            "whose first element has the same container (pytree) structure "
                            f"as the primal output, but got {o_tree} instead of "
                            f"{self.out_tree}.")
        for o, e in zip(o_leaves, self.out_avals):
            if not _same_type(shaped_abstractify(o), e):
                raise TypeError(f"Custom VJP fwd rule for function {name} must produce "
                                "primal outputs with the same shapes and dtypes as the "
                                f"function, but got {shaped_abstractify(o).str_short()} "
                                f"instead of {e.str_short()}.")
        r_leaves, r_tree = tree_util.tree_flatten(res)
        self.res_tree_box[:] = [r_tree]
        return o_leaves, r_leaves


class _UserBwd:
    """The `bwd` param: (residual leaves, cotangents of the inexact outputs) -> the
    cotangents of the inexact argument leaves, calling the user's bwd."""

    def __init__(self, name: str, rule: Callable[..., Any], args: "_Args", out_tree: Any,
                 out_avals: Sequence[AbstractArray], res_tree_box: list[Any]) -> None:
        self.name, self.rule, self.out_tree = name, rule, out_tree
        self.out_avals, self.res_tree_box = list(out_avals), res_tree_box
        self.nondiff_args = [args.args[i] for i in args.nondiff]
        self.arg_templates = tree_util.tree_unflatten(args.diff_tree, args.diff_avals)

    def __call__(self, res: Sequence[Any], cts: Sequence[Any]) -> list[Any]:
        nz = iter(cts)
        ct_leaves = [next(nz) if _inexact(o) else _float0_zeros(o) for o in self.out_avals]
        out = self.rule(*self.nondiff_args,
                        tree_util.tree_unflatten(self.res_tree_box[0], res),
                        tree_util.tree_unflatten(self.out_tree, ct_leaves))
        return _check_bwd_result(self.name, out, self.arg_templates)


def _check_bwd_result(name: str, cts: Any, diff_args: Sequence[Any]) -> list[Any]:
    """The flat cotangents of the inexact leaves of `diff_args` (zeros for None)."""
    from lamina import lax
    args_tree = tree_util.tree_structure(tuple(diff_args))
    if not isinstance(cts, (tuple, list)) or len(cts) != len(diff_args):
        got = tree_util.tree_structure(cts) if not isinstance(cts, (tuple, list)) else (
            f"a {type(cts).__name__} of length {len(cts)}")
        raise TypeError(
            f"Custom VJP bwd rule for function {name} must produce an output with the same "
            "container (pytree) structure as the args tuple of the primal function, and in "
            "particular must produce a tuple of length equal to the number of arguments to "
            f"the primal function, but got bwd output structure {got} for primal input "
            f"structure {args_tree}.")
    flat = []
    for k, (ct, arg) in enumerate(zip(cts, diff_args)):
        a_leaves, a_tree = tree_util.tree_flatten(arg)
        if ct is None:
            ct_leaves = [None] * len(a_leaves)
        else:
            ct_leaves, ct_tree = tree_util.tree_flatten(ct, is_leaf=lambda x: x is None)
            if ct_tree != a_tree and tree_util.tree_structure(ct) != a_tree:
                raise TypeError(
                    f"Custom VJP bwd rule for function {name} must produce an output with "
                    "the same container (pytree) structure as the args tuple of the primal "
                    f"function, but at output[{k}] the bwd rule produced structure {ct_tree} "
                    f"for an argument of structure {a_tree}.")
            if ct_tree != a_tree:
                ct_leaves = tree_util.tree_leaves(ct)
        for x, c in zip(a_leaves, ct_leaves):
            aval = shaped_abstractify(x)
            if not _inexact(aval):
                continue
            if c is None:
                flat.append(lax.full(aval.shape, 0, aval.dtype))
                continue
            c_aval = shaped_abstractify(c)
            if c_aval.weak_type and c_aval.shape == aval.shape and c_aval.dtype != aval.dtype:
                c = lax.convert_element_type(c, aval.dtype)  # e.g. a Python float
                c_aval = shaped_abstractify(c)
            if c_aval.shape != aval.shape or c_aval.dtype != aval.dtype:
                raise ValueError(
                    f"Custom VJP bwd rule for function {name} must produce an output with the "
                    "same shape/dtypes as the args tuple of the primal function, but at "
                    f"output[{k}] the bwd rule produced an output of shape/dtype "
                    f"{c_aval.str_short()} corresponding to an input of shape/dtype "
                    f"{aval.str_short()}.")
            flat.append(c)
    return flat
