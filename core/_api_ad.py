"""Differentiation API with jax's names and semantics: `jvp`, `linearize`, `vjp`,
`grad`, `value_and_grad`, `jacfwd`, `jacrev`, `hessian`."""
from __future__ import annotations

import functools
from typing import Any, Callable, Sequence

import numpy as np

from lamina import dtypes, tree_util
from lamina.interpreters import ad
from lamina.ir import AbstractArray, shaped_abstractify


def _argnums_tuple(fun_name: str, argnums: int | Sequence[int], nargs: int) -> tuple[int, ...]:
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    for i in nums:
        if not -nargs <= int(i) < nargs:
            raise TypeError(f"{fun_name}: argnums {argnums!r} out of range for a call with "
                            f"{nargs} positional arguments")
    return tuple(int(i) % nargs for i in nums)


def _describe(aval: AbstractArray) -> str:
    return f"{aval.dtype.name} ({aval.str_short()})"


def _not_complex(fun_name: str, what: str, aval: AbstractArray) -> TypeError:
    """The error for a real or integer input/output under holomorphic=True."""
    if what == "inputs":
        fix = ("Cast the argument to a complex dtype (e.g. x.astype(lamina.numpy.complex64)) "
               "or drop holomorphic=True.")
    else:
        fix = ("A holomorphic function returns complex values; to differentiate a "
               "real-valued function of complex inputs, drop holomorphic=True.")
    return TypeError(f"{fun_name} with holomorphic=True requires {what} with complex dtype, "
                     f"but got {_describe(aval)}. {fix}")


def _check_inputs(fun_name: str, leaves: Sequence[Any], allow_int: bool,
                  holomorphic: bool = False) -> None:
    """Reverse mode's conditions on the differentiated inputs (grad, jacrev), as jax:
    holomorphic=True needs complex leaves (even with allow_int); otherwise integer and
    boolean leaves need allow_int (their cotangent is float0)."""
    for x in leaves:
        aval = shaped_abstractify(x)
        if holomorphic and not dtypes.is_complex(aval.dtype):
            raise _not_complex(fun_name, "inputs", aval)
        if not dtypes.is_inexact(aval.dtype) and not allow_int:
            raise TypeError(
                f"{fun_name} requires real- or complex-valued inputs (input dtype that is a "
                f"sub-dtype of np.inexact), but got {_describe(aval)}. "
                "If you want to use Boolean- or integer-valued inputs, use vjp or set "
                "allow_int to True.")


def _check_outputs(fun_name: str, leaves: Sequence[Any], holomorphic: bool) -> None:
    """Reverse mode's conditions on the differentiated outputs (grad, jacrev), as jax:
    complex under holomorphic=True, real floating otherwise."""
    for y in leaves:
        aval = shaped_abstractify(y)
        if holomorphic:
            if not dtypes.is_complex(aval.dtype):
                raise _not_complex(fun_name, "outputs", aval)
        elif dtypes.is_complex(aval.dtype):
            raise TypeError(
                f"{fun_name} requires real-valued outputs (a sub-dtype of np.floating), but "
                f"got {_describe(aval)}. If the function is holomorphic, pass "
                "holomorphic=True; otherwise differentiate its real and imaginary parts "
                "separately or call lamina.vjp with a complex cotangent.")
        elif not dtypes.is_floating(aval.dtype):
            raise TypeError(
                f"{fun_name} requires real-valued outputs (a sub-dtype of np.floating), but "
                f"got {_describe(aval)}: integer and boolean outputs have no derivative. "
                "Call lamina.vjp directly (their cotangent is float0).")


def _check_fwd_inputs(leaves: Sequence[Any], holomorphic: bool) -> None:
    """jacfwd's conditions on its inputs, as jax: complex under holomorphic=True, real
    floating otherwise (there is no allow_int: the basis tangents must be numbers)."""
    for x in leaves:
        aval = shaped_abstractify(x)
        if holomorphic:
            if not dtypes.is_complex(aval.dtype):
                raise _not_complex("jacfwd", "inputs", aval)
        elif not dtypes.is_floating(aval.dtype):
            raise TypeError(
                "jacfwd requires real-valued inputs (a sub-dtype of np.floating), but got "
                f"{_describe(aval)}. For a holomorphic function of complex inputs pass "
                "holomorphic=True; for other complex- or integer-input functions use "
                "lamina.jvp (or lamina.jacrev) directly.")


def _flat_fun(fun: Callable[..., Any], in_tree: Any, out_tree_box: list[Any]
              ) -> Callable[..., list[Any]]:
    def flat(*leaves: Any) -> list[Any]:
        args = tree_util.tree_unflatten(in_tree, leaves)
        out = fun(*args)
        out_leaves, out_tree = tree_util.tree_flatten(out)
        out_tree_box[:] = [out_tree]
        return out_leaves
    return flat


def _same_type(tangent: Any, primal: Any) -> bool:
    t, p = shaped_abstractify(tangent), shaped_abstractify(primal)
    return t.shape == p.shape and t.dtype == ad.tangent_dtype(p.dtype)


# --------------------------------------------------------------------------------------
# Forward mode
# --------------------------------------------------------------------------------------


def jvp(fun: Callable[..., Any], primals: Sequence[Any], tangents: Sequence[Any],
        has_aux: bool = False) -> tuple[Any, ...]:
    """`(fun(*primals), d fun(primals)[tangents])`: forward-mode derivative.

    >>> import lamina, lamina.numpy as lnp
    >>> lamina.jvp(lnp.sin, (0.0,), (2.0,))
    (Array(0., dtype=float32, weak_type=True), Array(2., dtype=float32, weak_type=True))
    """
    if not isinstance(primals, (tuple, list)) or not isinstance(tangents, (tuple, list)):
        raise TypeError("jvp: primal and tangent arguments must be tuples or lists; found "
                        f"{type(primals).__name__} and {type(tangents).__name__}")
    p_leaves, p_tree = tree_util.tree_flatten(tuple(primals))
    t_leaves, t_tree = tree_util.tree_flatten(tuple(tangents))
    if p_tree != t_tree:
        raise TypeError("jvp: primal and tangent arguments must have the same tree "
                        f"structure; got {p_tree} and {t_tree}")
    for p, t in zip(p_leaves, t_leaves):
        if not _same_type(t, p):
            pa, ta = shaped_abstractify(p), shaped_abstractify(t)
            raise TypeError(
                "jvp: primal and tangent arguments must have equal types (a float0 tangent "
                f"for an integer primal); got primal {pa.str_short()} and tangent "
                f"{ta.str_short()}")
    tangents_in = [ad.Zero(ad.tangent_aval(shaped_abstractify(p)))
                   if not dtypes.is_inexact(shaped_abstractify(p).dtype) else t
                   for p, t in zip(p_leaves, t_leaves)]
    box: list[Any] = []
    outs, touts = ad.jvp_flat(_flat_fun(fun, p_tree, box), p_leaves, tangents_in)
    touts = [ad.instantiate_zeros(t) for t in touts]
    out_tree = box[0]
    if has_aux:
        (out, aux), (tout, _) = (tree_util.tree_unflatten(out_tree, outs),
                                 tree_util.tree_unflatten(out_tree, touts))
        return out, tout, aux
    return tree_util.tree_unflatten(out_tree, outs), tree_util.tree_unflatten(out_tree, touts)


def linearize(fun: Callable[..., Any], *primals: Any, has_aux: bool = False) -> tuple[Any, ...]:
    """`(fun(*primals), f_jvp)` where `f_jvp(*tangents)` applies the linear map
    recorded once (the primal computation is not repeated)."""
    p_leaves, p_tree = tree_util.tree_flatten(primals)
    box: list[Any] = []
    flat = _flat_fun_aux(fun, p_tree, box) if has_aux else _flat_fun(fun, p_tree, box)
    lin = ad.linearize_flat(flat, p_leaves, has_aux=has_aux)
    out_tree = box[0]

    def f_jvp(*tangents: Any) -> Any:
        t_leaves, t_tree = tree_util.tree_flatten(tangents)
        if t_tree != p_tree:
            raise TypeError(f"linearize: f_jvp expects tangents structured like the primals "
                            f"({p_tree}), got {t_tree}")
        return tree_util.tree_unflatten(out_tree, lin.jvp(t_leaves))

    out = tree_util.tree_unflatten(out_tree, lin.primals_out)
    if has_aux:
        return out, f_jvp, tree_util.tree_unflatten(box[1], lin.aux)
    return out, f_jvp


# --------------------------------------------------------------------------------------
# Reverse mode
# --------------------------------------------------------------------------------------


def _flat_fun_aux(fun: Callable[..., Any], in_tree: Any, box: list[Any]
                  ) -> Callable[..., tuple[list[Any], list[Any]]]:
    """Like `_flat_fun` for a function returning `(output, aux)`: the flat function
    returns the two leaf lists; `box` receives the output and aux tree structures."""
    def flat(*leaves: Any) -> tuple[list[Any], list[Any]]:
        pair = fun(*tree_util.tree_unflatten(in_tree, leaves))
        if not (isinstance(pair, (tuple, list)) and len(pair) == 2):
            raise TypeError("has_aux=True requires the function to return a pair "
                            f"(output, aux), got {type(pair).__name__}")
        out_leaves, out_tree = tree_util.tree_flatten(pair[0])
        aux_leaves, aux_tree = tree_util.tree_flatten(pair[1])
        box[:] = [out_tree, aux_tree]
        return out_leaves, aux_leaves
    return flat


class _VJPFunction:
    """The pullback returned by `vjp`: cotangents of the outputs -> of the inputs."""

    def __init__(self, lin: ad.Linearized, in_tree: Any, out_tree: Any,
                 in_avals: list[AbstractArray]) -> None:
        self._lin, self._in_tree, self._out_tree = lin, in_tree, out_tree
        self._in_avals = in_avals

    def __call__(self, cotangent: Any) -> tuple[Any, ...]:
        ct_leaves, ct_tree = tree_util.tree_flatten(cotangent)
        if ct_tree != self._out_tree:
            raise TypeError(f"vjp: the cotangent must be structured like the primal output "
                            f"({self._out_tree}), got {ct_tree}")
        for ct, aval in zip(ct_leaves, self._lin.out_avals):
            ct_aval = shaped_abstractify(ct)
            if ct_aval.shape != aval.shape or (
                    ct_aval.dtype != aval.dtype and aval.dtype != dtypes.float0):
                raise ValueError(f"vjp: cotangent {ct_aval.str_short()} does not match the "
                                 f"primal output's type {aval.str_short()}")
        in_cts = self._lin.transpose(ct_leaves)
        return tuple(tree_util.tree_unflatten(self._in_tree, in_cts))


def vjp(fun: Callable[..., Any], *primals: Any, has_aux: bool = False) -> tuple[Any, ...]:
    """`(fun(*primals), f_vjp)`, where `f_vjp(cotangent)` returns one cotangent per
    primal argument (a tuple).

    >>> import lamina, lamina.numpy as lnp
    >>> y, f_vjp = lamina.vjp(lnp.sin, 0.0)
    >>> f_vjp(1.0)
    (Array(1., dtype=float32, weak_type=True),)
    """
    p_leaves, p_tree = tree_util.tree_flatten(primals)
    box: list[Any] = []
    flat = _flat_fun_aux(fun, p_tree, box) if has_aux else _flat_fun(fun, p_tree, box)
    lin = ad.linearize_flat(flat, p_leaves, has_aux=has_aux)
    f_vjp = _VJPFunction(lin, p_tree, box[0], lin.in_avals)
    out = tree_util.tree_unflatten(box[0], lin.primals_out)
    if has_aux:
        return out, f_vjp, tree_util.tree_unflatten(box[1], lin.aux)
    return out, f_vjp


def value_and_grad(fun: Callable[..., Any], argnums: int | Sequence[int] = 0,
                   has_aux: bool = False, holomorphic: bool = False, allow_int: bool = False,
                   reduce_axes: Sequence[Any] = ()) -> Callable[..., Any]:
    """A function returning `(fun(*args), gradient)` for scalar-output `fun`.

    With `holomorphic=True` the inputs and the output must be complex and the gradient
    is the complex derivative f'(z) (the pullback of the cotangent 1+0j). Without it, a
    real-valued function of complex inputs gets jax's convention: df/dx - i df/dy.

    >>> import lamina, lamina.numpy as lnp
    >>> lamina.value_and_grad(lambda x: (x ** 2).sum())(lnp.arange(3.0))
    (Array(5., dtype=float32), Array([0., 2., 4.], dtype=float32))
    >>> lamina.grad(lambda z: z ** 2, holomorphic=True)(lnp.complex64(1 + 2j))
    Array(2.+4.j, dtype=complex64)
    """
    del reduce_axes

    @functools.wraps(fun)
    def value_and_grad_f(*args: Any, **kwargs: Any) -> Any:
        nums = _argnums_tuple("grad", argnums, len(args))
        diff_args = tuple(args[i] for i in nums)
        _check_inputs("grad", tree_util.tree_leaves(diff_args), allow_int, holomorphic)

        def partial_fun(*diff: Any) -> Any:
            full = list(args)
            for i, d in zip(nums, diff):
                full[i] = d
            return fun(*full, **kwargs)

        if has_aux:
            out, f_vjp, aux = vjp(partial_fun, *diff_args, has_aux=True)
        else:
            out, f_vjp = vjp(partial_fun, *diff_args)
        out_aval = _check_scalar_output(out, holomorphic)
        grads = f_vjp(np.ones((), out_aval.dtype))
        grads = grads[0] if isinstance(argnums, int) else grads
        return ((out, aux), grads) if has_aux else (out, grads)

    return value_and_grad_f


def _check_scalar_output(out: Any, holomorphic: bool) -> AbstractArray:
    leaves = tree_util.tree_leaves(out)
    if len(leaves) != 1 or tree_util.tree_structure(out) != tree_util.tree_structure(0):
        raise TypeError("Gradient only defined for scalar-output functions. Output was "
                        f"{tree_util.tree_structure(out)} (use vjp or jacrev for "
                        "non-scalar outputs)")
    aval = shaped_abstractify(leaves[0])
    if aval.shape != ():
        raise TypeError("Gradient only defined for scalar-output functions. Output had "
                        f"shape: {aval.shape}. Reduce it (e.g. .sum() or .mean()) or use "
                        "jacrev/vjp.")
    _check_outputs("grad", leaves, holomorphic)
    return aval


def grad(fun: Callable[..., Any], argnums: int | Sequence[int] = 0, has_aux: bool = False,
         holomorphic: bool = False, allow_int: bool = False,
         reduce_axes: Sequence[Any] = ()) -> Callable[..., Any]:
    """The gradient of scalar-output `fun` with respect to argument(s) `argnums`.

    >>> import lamina, lamina.numpy as lnp
    >>> lamina.grad(lambda x: lnp.sin(x) * x)(0.0)
    Array(0., dtype=float32, weak_type=True)
    """
    vg = value_and_grad(fun, argnums, has_aux, holomorphic, allow_int, reduce_axes)

    @functools.wraps(fun)
    def grad_f(*args: Any, **kwargs: Any) -> Any:
        if has_aux:
            (_, aux), g = vg(*args, **kwargs)
            return g, aux
        return vg(*args, **kwargs)[1]

    return grad_f


# --------------------------------------------------------------------------------------
# Jacobians
# --------------------------------------------------------------------------------------


def _std_basis(leaves: Sequence[Any]) -> tuple[list[Any], int]:
    """Stacked one-hot tangents for every scalar of `leaves`: leaf i gets shape
    `(n, *leaf.shape)`, where n is the total number of scalars."""
    from lamina import numpy as lnp
    sizes = [shaped_abstractify(x).size for x in leaves]
    n = int(sum(sizes))
    out, start = [], 0
    for x, size in zip(leaves, sizes):
        aval = shaped_abstractify(x)
        eye = lnp.eye(n, dtype=aval.dtype)[:, start:start + size]
        out.append(eye.reshape((n, *aval.shape)))
        start += size
    return out, n


def _unravel_jacobian(stacked: Any, out_aval: AbstractArray, in_leaves: Sequence[Any],
                      in_tree: Any, batch_first: bool) -> Any:
    """Split the stacked basis axis of a Jacobian block into the input pytree."""
    from lamina import numpy as lnp
    pieces, start = [], 0
    for x in in_leaves:
        aval = shaped_abstractify(x)
        if batch_first:  # (n, *out_shape) -> (*out_shape, *in_shape)
            block = stacked[start:start + aval.size]
            block = lnp.moveaxis(block, 0, -1).reshape((*out_aval.shape, *aval.shape))
        else:  # (*out_shape, n)
            block = stacked[..., start:start + aval.size].reshape((*out_aval.shape, *aval.shape))
        pieces.append(block)
        start += aval.size
    return tree_util.tree_unflatten(in_tree, pieces)


def _diff_target(fun_name: str, fun: Callable[..., Any], argnums: int | Sequence[int],
                 args: tuple[Any, ...], kwargs: dict[str, Any]
                 ) -> tuple[Any, Callable[[Any], Any]]:
    """The differentiated argument(s) (one value for an int argnums, a tuple otherwise)
    and `fun` as a function of them alone."""
    nums = _argnums_tuple(fun_name, argnums, len(args))
    target = args[nums[0]] if isinstance(argnums, int) else tuple(args[i] for i in nums)

    def of_target(t: Any) -> Any:
        full = list(args)
        for i, v in zip(nums, (t,) if isinstance(argnums, int) else t):
            full[i] = v
        return fun(*full, **kwargs)

    return target, of_target


def jacfwd(fun: Callable[..., Any], argnums: int | Sequence[int] = 0, has_aux: bool = False,
           holomorphic: bool = False) -> Callable[..., Any]:
    """The Jacobian of `fun` by forward mode (one vmapped JVP over a basis).

    Output leaf shape `(*out_shape, *in_shape)` for every (output, input) leaf pair,
    nested as output tree of input trees, as jax.jacfwd. Inputs must be real floating,
    or complex with `holomorphic=True` (then the outputs must be complex too and the
    result is the complex Jacobian).
    """
    from lamina._api_batching import vmap

    def jacfun(*args: Any, **kwargs: Any) -> Any:
        target, f_target = _diff_target("jacfwd", fun, argnums, args, kwargs)
        leaves, tree = tree_util.tree_flatten(target)
        _check_fwd_inputs(leaves, holomorphic)
        basis, _ = _std_basis(leaves)

        def push(*t_leaves: Any) -> Any:
            return jvp(f_target, (target,), (tree_util.tree_unflatten(tree, t_leaves),),
                       has_aux=has_aux)

        results = vmap(push, out_axes=(None, -1, None) if has_aux else (None, -1))(*basis)
        out, tout = results[0], results[1]
        for o_aval in map(shaped_abstractify, tree_util.tree_leaves(out)):
            if holomorphic and not dtypes.is_complex(o_aval.dtype):
                raise _not_complex("jacfwd", "outputs", o_aval)
        jac = tree_util.tree_map(
            lambda o, t: _unravel_jacobian(t, shaped_abstractify(o), leaves, tree,
                                           batch_first=False), out, tout)
        return (jac, results[2]) if has_aux else jac

    return jacfun


def jacrev(fun: Callable[..., Any], argnums: int | Sequence[int] = 0, has_aux: bool = False,
           holomorphic: bool = False, allow_int: bool = False) -> Callable[..., Any]:
    """The Jacobian of `fun` by reverse mode (one vmapped VJP over a basis).

    The outputs must be real floating, or complex with `holomorphic=True` (then the
    inputs must be complex too and the result is the complex Jacobian)."""
    from lamina._api_batching import vmap

    def jacfun(*args: Any, **kwargs: Any) -> Any:
        from lamina import numpy as lnp
        target, f_target = _diff_target("jacrev", fun, argnums, args, kwargs)
        leaves, tree = tree_util.tree_flatten(target)
        _check_inputs("jacrev", leaves, allow_int, holomorphic)
        if has_aux:
            out, f_vjp, aux = vjp(f_target, target, has_aux=True)
        else:
            out, f_vjp = vjp(f_target, target)
        out_leaves, out_tree = tree_util.tree_flatten(out)
        _check_outputs("jacrev", out_leaves, holomorphic)
        basis, n_out = _std_basis(out_leaves)
        in_avals = [shaped_abstractify(x) for x in leaves]
        inexact = [dtypes.is_inexact(a.dtype) for a in in_avals]

        def pull(*b: Any) -> list[Any]:
            cts = tree_util.tree_leaves(f_vjp(tree_util.tree_unflatten(out_tree, b))[0])
            return [c for c, keep in zip(cts, inexact) if keep]

        rows = iter(vmap(pull)(*basis))
        # An integer input (allow_int) has a float0 cotangent, which is not batched:
        # its Jacobian block is zeros of the input's own dtype, as jax's.
        ct_leaves = [next(rows) if keep else lnp.zeros((n_out, *a.shape), a.dtype)
                     for a, keep in zip(in_avals, inexact)]
        # ct_leaves[k]: (n_out_total, *in_shape_k); split the stacked axis per output.
        per_out, start = [], 0
        for o in out_leaves:
            o_aval = shaped_abstractify(o)
            blocks = [c[start:start + o_aval.size].reshape((*o_aval.shape, *c.shape[1:]))
                      for c in ct_leaves]
            per_out.append(tree_util.tree_unflatten(tree, blocks))
            start += o_aval.size
        jac = tree_util.tree_unflatten(out_tree, per_out)
        return (jac, aux) if has_aux else jac

    return jacfun


def hessian(fun: Callable[..., Any], argnums: int | Sequence[int] = 0, has_aux: bool = False,
            holomorphic: bool = False) -> Callable[..., Any]:
    """The Hessian of scalar `fun`: `jacfwd(jacrev(fun))`, both with `holomorphic`."""
    return jacfwd(jacrev(fun, argnums, has_aux=has_aux, holomorphic=holomorphic),
                  argnums, has_aux=has_aux, holomorphic=holomorphic)
