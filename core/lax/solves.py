"""`custom_linear_solve` and `custom_root`: solvers with implicitly defined derivatives,
with jax.lax's names and semantics.

The solver itself is never differentiated: it may be a `while_loop`, an iterative
method, a call into a factorization. Derivatives come from the equation the solution
satisfies (the implicit function theorem).

* `linear_solve_p(*matvec_consts, *vecmat_consts, *solve_consts, *transpose_solve_consts,
  *b, const_lengths, matvec, vecmat, solve, transpose_solve)`: `solve(b)`, the solution
  of `matvec(x) = b`. The four params are closed programs (their captured constants are
  the leading operands, counted by `const_lengths`); `vecmat` (the transpose of matvec)
  and `transpose_solve` are None when no transpose solver was given. Eagerly and when
  lowered it runs `solve`. Its JVP is another `linear_solve_p` (`A dx = db - dA x`), so
  higher orders work; its transpose is the `linear_solve_p` of the transposed system
  (matvec <-> vecmat, solve <-> transpose_solve), which is what reverse mode needs.
  The solver may return auxiliary outputs (`has_aux`), appended after x; they get zero
  tangents.
* `custom_root` is a `custom_jvp` function (as in jax) whose rule differentiates
  `f(solution) = 0`: `d solution = -tangent_solve(f'(solution), df)`.

Both check that the spaces agree (b and matvec's output, the initial guess and f's
output: the same pytree structure, shapes and dtypes) and say which leaf differs.
"""
from __future__ import annotations

import collections
from typing import Any, Callable, Sequence

from lamina import dtypes, tree_util
from lamina.custom_derivatives import SymbolicZero, custom_jvp
from lamina.interpreters import ad, batching, eval as eval_interp, lowering
from lamina.interpreters import partial_eval as pe
from lamina.ir import AbstractArray, Primitive, Program, shaped_abstractify
from lamina.lax.elementwise import convert_element_type, neg
from lamina.lax._control_flow_util import (
    _abstractify, _or, _same_type, _split, _trace, _types,
)

# `solve(operator, rhs) -> solution`, the signature of every user solver here.
Solver = Callable[[Callable[[Any], Any], Any], Any]

__all__ = [
    "custom_linear_solve",
    "custom_root",
]


# --------------------------------------------------------------------------------------
# Tracing user functions and checking that their outputs live in the expected space
# --------------------------------------------------------------------------------------


class _Traced:
    """A user function of one pytree argument staged into a closed program.

    `tree`/`n_out` describe the main output (the solution), `full_tree` the whole
    output (with the aux part when `has_aux`), `consts` the captured values."""

    __slots__ = ("program", "consts", "tree", "full_tree", "n_out")

    def __init__(self, program: Program, consts: list[Any], tree: Any, full_tree: Any,
                 n_out: int) -> None:
        self.program, self.consts = program, consts
        self.tree, self.full_tree, self.n_out = tree, full_tree, n_out

    @property
    def out_avals(self) -> list[AbstractArray]:
        return self.program.out_avals[:self.n_out]


def _stage(api: str, what: str, fun: Callable[..., Any], in_trees: Sequence[Any],
           in_avals: Sequence[AbstractArray], has_aux: bool = False) -> _Traced:
    """Stage `fun(*args)` (one pytree per entry of `in_trees`, leaves of `in_avals`)."""
    box: list[Any] = []
    sizes = [t.num_leaves for t in in_trees]

    def flat(*leaves: Any) -> list[Any]:
        parts = _split(leaves, sizes[:-1])
        args = [tree_util.tree_unflatten(t, p) for t, p in zip(in_trees, parts)]
        out = fun(*args)
        if has_aux:
            if not (isinstance(out, (tuple, list)) and len(out) == 2):
                got = tree_util.tree_structure(out)
                raise ValueError(f"{api}: {what} produced a pytree with structure {got}, but "
                                 "a pair (solution, aux) was expected because has_aux=True. "
                                 f"Return a pair from {what}, or pass has_aux=False.")
            main = out[0]
        else:
            main = out
        main_leaves, main_tree = tree_util.tree_flatten(main)
        all_leaves, full_tree = tree_util.tree_flatten(out)
        box[:] = [main_tree, full_tree, len(main_leaves)]
        # NOTE: a pair flattens to its first element's leaves, then its second's.
        return all_leaves

    program, consts = _trace(flat, in_avals)
    return _Traced(program, consts, *box)


def _leaf_paths(tree: Any) -> list[str]:
    example = tree_util.tree_unflatten(tree, range(tree.num_leaves))
    return [tree_util.keystr(p) for p, _ in tree_util.tree_flatten_with_path(example)[0]]


def _check_space(api: str, what: str, name: str, traced: _Traced, tree: Any,
                 avals: Sequence[AbstractArray], fix: str) -> None:
    """Raise unless `what`'s main output has `name`'s pytree structure, shapes and
    dtypes (weak types may differ)."""
    if traced.tree != tree:
        raise TypeError(f"{api}: {what} must return a pytree with the same structure as "
                        f"{name}, but it returns {traced.tree} and {name} is {tree}. {fix}")
    shapes, kinds = [], []
    for path, a, o in zip(_leaf_paths(tree), avals, traced.out_avals):
        if _same_type(a, o):
            continue
        line = (f"  * {name}{path} is {a.str_short()} but {what}'s output{path} is "
                f"{o.str_short()}")
        (shapes if a.shape != o.shape else kinds).append(line)
    if shapes:
        raise ValueError(f"{api}: {what} must return arrays with the shapes of {name}, but "
                         "they differ:\n" + "\n".join(shapes + kinds) + f"\n{fix}")
    if kinds:
        raise TypeError(f"{api}: {what} must return arrays with the dtypes of {name}, but "
                        "they differ:\n" + "\n".join(kinds) + f"\n{fix}")


def _weak_promotions(traced: _Traced, tree: Any, avals: Sequence[AbstractArray]
                     ) -> dict[int, Any]:
    """Weakly typed leaves (Python scalars) of the input that the function's output
    gives a different dtype of the same shape: {leaf index: that dtype}, as loops
    promote a weakly typed initial carry. Empty when anything else differs."""
    if traced.tree != tree:
        return {}
    promote = {}
    for i, (a, o) in enumerate(zip(avals, traced.out_avals)):
        if _same_type(a, o):
            continue
        if a.shape != o.shape or not a.weak_type:
            return {}
        promote[i] = o.dtype
    return promote


def _stage_square(api: str, name: str, fn: Callable[[Any], Any], leaves: list[Any],
                  tree: Any) -> tuple[_Traced, list[Any], list[AbstractArray]]:
    """`fn` (an operator from the space of `leaves` to itself) staged at their types,
    with `(staged, leaves, avals)` returned; Python-scalar leaves take the dtype `fn`
    gives them, as a loop's weakly typed carry does."""
    avals = [_abstractify(api, x) for x in leaves]
    staged = _stage(api, name, fn, [tree], avals)
    promote = _weak_promotions(staged, tree, avals)
    if promote:
        leaves = [convert_element_type(x, promote[i]) if i in promote else x
                  for i, x in enumerate(leaves)]
        avals = [_abstractify(api, x) for x in leaves]
        staged = _stage(api, name, fn, [tree], avals)
    return staged, leaves, avals


# --------------------------------------------------------------------------------------
# custom_linear_solve: the primitive
# --------------------------------------------------------------------------------------

linear_solve_p = Primitive("custom_linear_solve", multiple_results=True)

_NAMES = ("matvec", "vecmat", "solve", "transpose_solve")


def _params(const_lengths: tuple[int, ...], programs: Sequence[Program | None]
            ) -> dict[str, Any]:
    return dict(const_lengths=tuple(const_lengths), **dict(zip(_NAMES, programs)))


def _transposed(const_lengths: tuple[int, ...], programs: Sequence[Program | None]
                ) -> tuple[tuple[int, ...], list[Program | None]]:
    """The transposed system: matvec <-> vecmat and solve <-> transpose_solve."""
    order = (1, 0, 3, 2)
    return tuple(const_lengths[i] for i in order), [programs[i] for i in order]


@linear_solve_p.def_abstract_eval
def _linear_solve_abstract_eval(*avals: AbstractArray, const_lengths: tuple[int, ...],
                                matvec: Program, vecmat: Program | None, solve: Program,
                                transpose_solve: Program | None) -> list[AbstractArray]:
    *consts, b = _split(avals, const_lengths)
    for name, program, cs in zip(_NAMES, (matvec, vecmat, solve, transpose_solve), consts):
        if program is None:
            if cs:
                raise TypeError(f"custom_linear_solve: no {name} program, but "
                                f"{len(cs)} constants for it")
            continue
        ins = [*cs, *b]
        if len(ins) != len(program.invars) or not all(map(_same_type, ins, program.in_avals)):
            raise TypeError(f"custom_linear_solve: operands {_types(ins)} do not match the "
                            f"{name} program's inputs {_types(program.in_avals)}")
        outs = program.out_avals[:len(b)]
        if len(outs) != len(b) or not all(map(_same_type, outs, b)):
            raise TypeError(f"custom_linear_solve: the {name} program returns "
                            f"{_types(program.out_avals)}, which does not start with b's "
                            f"types {_types(b)}")
    return solve.out_avals


def _solve_operands(args: Sequence[Any], const_lengths: tuple[int, ...]) -> list[Any]:
    *consts, b = _split(args, const_lengths)
    return [*consts[2], *b]


def _linear_solve_impl(*args: Any, const_lengths: tuple[int, ...], solve: Program,
                       **programs: Any) -> list[Any]:
    # NOTE: eagerly the solver runs op by op, as a custom_jvp function's body does.
    del programs
    return pe.eval_program(solve, [], _solve_operands(args, const_lengths))


eval_interp.impl_rules[linear_solve_p] = _linear_solve_impl


def _linear_solve_lower(ctx: lowering.RuleContext, *args: lowering.Value,
                        const_lengths: tuple[int, ...], solve: Program,
                        **programs: Any) -> list[lowering.Value]:
    del programs
    return ctx.lower_program(solve, _solve_operands(args, const_lengths))


lowering.register_lowering(linear_solve_p, _linear_solve_lower)


def _linear_solve_jvp(primals: Sequence[Any], tangents: Sequence[Any], *,
                      const_lengths: tuple[int, ...], matvec: Program,
                      vecmat: Program | None, solve: Program,
                      transpose_solve: Program | None) -> tuple[list[Any], list[Any]]:
    # A x = b  =>  A dx = db - dA x: one more solve of the same system. The solvers'
    # constants get no tangent: the solver is not differentiated through.
    params = _params(const_lengths, (matvec, vecmat, solve, transpose_solve))
    x = linear_solve_p.bind(*primals, **params)
    n_consts = sum(const_lengths)
    mv_consts, mv_dots = primals[:const_lengths[0]], tangents[:const_lengths[0]]
    b_dots = list(tangents[n_consts:])
    x_main = x[:len(b_dots)]
    rhs = b_dots
    if not all(isinstance(t, ad.Zero) for t in mv_dots):
        # dA x: the tangent of matvec with respect to its constants, x held fixed.
        _, dA_x = ad.jvp_flat(lambda *xs: pe.eval_program(matvec, [], xs),
                              [*mv_consts, *x_main],
                              [*mv_dots, *[ad.Zero.like(v) for v in x_main]])
        rhs = [t if isinstance(d, ad.Zero) else ad.add_tangents(t, neg(d))
               for t, d in zip(b_dots, dA_x)]
    zeros_out = [ad.Zero.like(v) for v in x]
    if all(isinstance(t, ad.Zero) for t in rhs):
        return x, zeros_out
    rhs = [ad.instantiate_zeros(t) for t in rhs]
    x_dot = linear_solve_p.bind(*primals[:n_consts], *rhs, **params)
    return x, [*x_dot[:len(x_main)], *zeros_out[len(x_main):]]  # aux: zero tangents


ad.primitive_jvps[linear_solve_p] = _linear_solve_jvp

_NO_TRANSPOSE_MSG = (
    "transpose_solve required for backwards mode automatic differentiation of "
    "custom_linear_solve: reverse mode (grad, vjp, jacrev) solves the transposed system. "
    "Pass transpose_solve=... (a solver for the transposed linear map, which lamina "
    "derives from matvec), or symmetric=True if matvec is symmetric so that `solve` "
    "serves for both; forward mode (jvp, jacfwd) works without it.")


def _linear_solve_transpose(cts: Sequence[Any], *args: Any, const_lengths: tuple[int, ...],
                            matvec: Program, vecmat: Program | None, solve: Program,
                            transpose_solve: Program | None) -> list[Any]:
    if transpose_solve is None:
        raise TypeError(_NO_TRANSPOSE_MSG)
    n_consts = sum(const_lengths)
    if any(ad.is_undefined_primal(a) for a in args[:n_consts]):
        raise NotImplementedError(
            "custom_linear_solve: transposing with respect to values that matvec or a "
            "solver closes over is not supported; only the right-hand side b may be linear")
    b = args[n_consts:]
    # NOTE: the aux outputs get zero tangents, so no cotangent flows into them.
    x_cts = [ad.instantiate_zeros(ct) for ct in cts[:len(b)]]
    *consts, _ = _split(args, const_lengths)
    t_lengths, t_programs = _transposed(const_lengths, (matvec, vecmat, solve,
                                                        transpose_solve))
    t_consts = [c for i in (1, 0, 3, 2) for c in consts[i]]
    b_cts = linear_solve_p.bind(*t_consts, *x_cts, **_params(t_lengths, t_programs))
    return [None] * n_consts + [ct if ad.is_undefined_primal(a) else None
                                for a, ct in zip(b, b_cts)]


ad.primitive_transposes[linear_solve_p] = _linear_solve_transpose


def _linear_solve_batch(args: Sequence[Any], dims: Sequence[Any], *,
                        const_lengths: tuple[int, ...], matvec: Program,
                        vecmat: Program | None, solve: Program,
                        transpose_solve: Program | None) -> tuple[list[Any], list[Any]]:
    size = batching.dim_size(args, dims)
    programs = (matvec, vecmat, solve, transpose_solve)
    mapped = [d is not batching.not_mapped for d in dims]
    *consts_b, b_b = _split(mapped, const_lengths)
    n_b = len(b_b)
    # x and b have the same types, and transposition swaps them: one flag per leaf says
    # whether that leaf is batched in both spaces. Grow it until every program maps
    # batched inputs to outputs batched no more than it says.
    space_b = list(b_b)
    while True:
        batched, new = [], list(space_b)
        for program, cb in zip(programs, consts_b):
            if program is None:
                batched.append((None, []))
                continue
            n_aux = len(program.outvars) - n_b
            prog_b, out_b = batching.batch_program(program, [*cb, *space_b], size,
                                                   [*space_b, *[False] * n_aux])
            batched.append((prog_b, out_b))
            new = _or(new, out_b[:n_b])
        if new == space_b:
            break
        space_b = new
    *consts, b = _split(args, const_lengths)
    *consts_d, b_d = _split(dims, const_lengths)
    new_consts = [batching.moveaxis(x, d, 0) if d is not batching.not_mapped else x
                  for cs, ds in zip(consts, consts_d) for x, d in zip(cs, ds)]
    new_b = [batching.bdim_at_front(x, d, size) if m else x
             for x, d, m in zip(b, b_d, space_b)]
    outs = linear_solve_p.bind(*new_consts, *new_b,
                               **_params(const_lengths, [p for p, _ in batched]))
    solve_out_b = batched[2][1]
    return outs, [0 if m else batching.not_mapped for m in solve_out_b]


batching.primitive_batchers[linear_solve_p] = _linear_solve_batch


# --------------------------------------------------------------------------------------
# custom_linear_solve: the user-facing function
# --------------------------------------------------------------------------------------


def _program_fn(program: Program, consts: Sequence[Any], tree: Any) -> Callable[[Any], Any]:
    """The Python function of one pytree (of structure `tree`) that runs `program`."""
    def fn(x: Any) -> Any:
        leaves, x_tree = tree_util.tree_flatten(x)
        if x_tree != tree:
            raise TypeError(f"expected an argument with structure {tree}, got {x_tree}")
        return tree_util.tree_unflatten(tree, pe.eval_program(program, [], [*consts, *leaves]))
    return fn


def custom_linear_solve(matvec: Callable[[Any], Any], b: Any, solve: Solver,
                        transpose_solve: Solver | None = None, symmetric: bool = False,
                        has_aux: bool = False) -> Any:
    """Solves `matvec(x) = b` with `solve`, with derivatives defined implicitly.

    The derivative is not taken through `solve` (which need not be differentiable: a
    `while_loop`, an iterative method...) but from the equation at the solution:
    `A dx = db - dA x` is solved with `solve` again, and reverse mode solves the
    transposed system with `transpose_solve`.

    Required invariant (not checked)::

        x = solve(matvec, b)
        assert matvec(x) == b

    Args:
        matvec: the linear map to invert, `x -> A x`, a differentiable function of one
            pytree returning a pytree of the same structure, shapes and dtypes as `b`.
        b: the right-hand side (a pytree of arrays).
        solve: `solve(matvec, b) -> x`, a solver for the equation.
        transpose_solve: `transpose_solve(vecmat, b) -> x` solving `vecmat(x) = b`,
            where `vecmat` is the transpose of `matvec` (derived from it by lamina).
            Needed for reverse mode (grad, vjp) unless `symmetric=True`.
        symmetric: whether `matvec` is symmetric (its own transpose); then `solve`
            also serves as `transpose_solve`.
        has_aux: whether `solve` (and `transpose_solve`) return `(x, aux)`, where
            `aux` holds solver diagnostics that are not differentiated.

    Returns:
        `solve(matvec, b)`, or `(x, aux)` with `has_aux`, differentiable with respect
        to `b` and to the values `matvec` closes over.

    >>> import lamina, lamina.numpy as lnp
    >>> from lamina import lax
    >>> a = lnp.array([[2., 1.], [1., 3.]])
    >>> def solve_with(a, b):
    ...     return lax.custom_linear_solve(lambda x: a @ x, b,
    ...                                    lambda mv, rhs: lnp.linalg.solve(a, rhs),
    ...                                    symmetric=True)
    >>> solve_with(a, lnp.array([4., 7.]))
    Array([1., 2.], dtype=float32)
    >>> lamina.grad(lambda b: solve_with(a, b).sum())(lnp.array([1., 2.]))
    Array([0.4, 0.2], dtype=float32)
    """
    api = "lax.custom_linear_solve"
    for name, fn in (("matvec", matvec), ("solve", solve)):
        if not callable(fn):
            raise TypeError(f"{api}: {name} must be a function, got {fn!r}")
    if transpose_solve is not None and not callable(transpose_solve):
        raise TypeError(f"{api}: transpose_solve must be a function or None, got "
                        f"{transpose_solve!r}")
    if transpose_solve is None and symmetric:
        transpose_solve = solve
    b_flat, tree = tree_util.tree_flatten(b)
    fix = ("matvec maps a value shaped like b to one shaped like b (the operator is "
           "square): make it return the same pytree of arrays of the same shapes and "
           "dtypes (cast with .astype(b.dtype) if needed).")
    mv, b_flat, b_avals = _stage_square(api, "matvec", matvec, b_flat, tree)
    _check_space(api, "matvec", "b", mv, tree, b_avals, fix)
    sol = _stage(api, "solve", lambda x: solve(matvec, x), [tree], b_avals, has_aux)
    _check_space(api, "solve", "b", sol, tree, b_avals,
                 "solve(matvec, b) must return x, shaped like b" +
                 (" (and aux, as a pair)." if has_aux else "."))
    vecmat_prog = vecmat_consts = tr = None
    if transpose_solve is not None:
        if symmetric:
            vecmat_prog, vecmat_consts, vecmat = mv.program, mv.consts, matvec
        else:
            n_c = len(mv.consts)
            vecmat_prog = ad.transpose_program(
                mv.program, [False] * n_c + [True] * len(b_flat))
            vecmat_consts = mv.consts
            vecmat = _program_fn(vecmat_prog, vecmat_consts, tree)
        tr = _stage(api, "transpose_solve", lambda x: transpose_solve(vecmat, x), [tree],
                    b_avals, has_aux)
        _check_space(api, "transpose_solve", "b", tr, tree, b_avals,
                     "transpose_solve(vecmat, b) must return x, shaped like b" +
                     (" (and aux, as a pair)." if has_aux else "."))
    programs = (mv.program, vecmat_prog, sol.program, tr.program if tr else None)
    consts = (mv.consts, vecmat_consts or [], sol.consts, tr.consts if tr else [])
    outs = linear_solve_p.bind(*[c for cs in consts for c in cs], *b_flat,
                               **_params(tuple(len(cs) for cs in consts), programs))
    return tree_util.tree_unflatten(sol.full_tree, outs)


# --------------------------------------------------------------------------------------
# custom_root (a custom_jvp function, as in jax)
# --------------------------------------------------------------------------------------

_RootPrograms = collections.namedtuple("_RootPrograms", "f solve l_and_s")


def _run_root_solver(const_lengths: tuple[int, int, int], programs: _RootPrograms,
                     *args: Any) -> list[Any]:
    _, solve_consts, _, guess = _split(args, const_lengths)
    return pe.eval_program(programs.solve, [], [*solve_consts, *guess])


_custom_root = custom_jvp(_run_root_solver, nondiff_argnums=(0, 1))


def _root_jvp(const_lengths: tuple[int, int, int], programs: _RootPrograms,
              primals: tuple[Any, ...], tangents: tuple[Any, ...]
              ) -> tuple[list[Any], list[Any]]:
    # f(m, u(m)) = 0 for the constants m that f closes over, so
    # d_m f + d_u f . du = 0, i.e. du = -(d_u f)^-1 (d_m f . dm): one tangent_solve.
    out = _custom_root(const_lengths, programs, *primals)
    n = len(programs.f.outvars)
    solution, aux = out[:n], out[n:]
    f_consts, _, ls_consts, _ = _split(primals, const_lengths)
    # NOTE: the rule takes symbolic zeros; integer constants have no tangent.
    f_dots = [ad.Zero.like(p) if isinstance(t, SymbolicZero) or not dtypes.is_inexact(
        shaped_abstractify(p).dtype) else t for p, t in zip(f_consts, tangents)]
    aux_dots = [SymbolicZero(ad.tangent_aval(shaped_abstractify(a))) for a in aux]
    if all(isinstance(t, ad.Zero) for t in f_dots):
        return out, [*[SymbolicZero(ad.tangent_aval(shaped_abstractify(s)))
                       for s in solution], *aux_dots]
    _, rhs = ad.jvp_flat(lambda *cs: pe.eval_program(programs.f, [], [*cs, *solution]),
                         f_consts, f_dots)
    if all(isinstance(t, ad.Zero) for t in rhs):
        return out, [*[SymbolicZero(t.aval) for t in rhs], *aux_dots]
    rhs = [ad.instantiate_zeros(t) for t in rhs]
    dsol = pe.eval_program(programs.l_and_s, [], [*ls_consts, *solution, *rhs])
    return out, [*[neg(t) for t in dsol], *aux_dots]


_custom_root.defjvp(_root_jvp, symbolic_zeros=True)


def custom_root(f: Callable[[Any], Any], initial_guess: Any, solve: Solver,
                tangent_solve: Solver, has_aux: bool = False) -> Any:
    """Finds a root of `f` with `solve`, differentiable by the implicit function
    theorem.

    The derivative is not taken through `solve` (which need not be differentiable:
    Newton's method in a `while_loop`, bisection...). Derivatives with respect to the
    values `f` closes over come from `f(solution) = 0`: with `g` the linearization of
    `f` at the solution, `d solution = -tangent_solve(g, d_f)`.

    Args:
        f: the function whose root is sought; it maps a pytree to a pytree of the same
            structure, shapes and dtypes.
        initial_guess: the starting point (a pytree of arrays).
        solve: `solve(f, initial_guess) -> solution` with `f(solution) == 0`.
        tangent_solve: `tangent_solve(g, y) -> x` with `g(x) == y`, for `g` the
            (linear) linearization of `f` at the solution, e.g. `lambda g, y: y /
            g(1.0)` for a scalar `y`. It must be linear in `y` for reverse mode.
        has_aux: whether `solve` returns `(solution, aux)`; `aux` is not differentiated.

    Returns:
        `solve(f, initial_guess)` (with its aux when `has_aux`).

    >>> import lamina
    >>> from lamina import lax
    >>> def newton(f, x0):
    ...     step = lambda x: x - f(x) / lamina.grad(f)(x)
    ...     return lax.while_loop(lambda x: abs(f(x)) > 1e-6, step, x0)
    >>> def sqrt(a):
    ...     return lax.custom_root(lambda x: x ** 2 - a, 1.0, newton,
    ...                            lambda g, y: y / g(1.0))
    >>> sqrt(2.0)
    Array(1.4142135, dtype=float32, weak_type=True)
    >>> lamina.grad(sqrt)(2.0)  # 1 / (2 sqrt(2)), though the while_loop is not
    Array(0.35355338, dtype=float32, weak_type=True)
    """
    api = "lax.custom_root"
    for name, fn in (("f", f), ("solve", solve), ("tangent_solve", tangent_solve)):
        if not callable(fn):
            raise TypeError(f"{api}: {name} must be a function, got {fn!r}")
    guess_flat, tree = tree_util.tree_flatten(initial_guess)
    fix = ("f maps a value shaped like initial_guess to one shaped like it (a system "
           "of as many equations as unknowns): make f return the same pytree of arrays "
           "of the same shapes and dtypes, or pass an initial guess of f's output type.")
    f_t, guess_flat, avals = _stage_square(api, "f", f, guess_flat, tree)
    _check_space(api, "f", "initial_guess", f_t, tree, avals, fix)
    sol = _stage(api, "solve", lambda x: solve(f, x), [tree], avals, has_aux)
    _check_space(api, "solve", "initial_guess", sol, tree, avals,
                 "solve(f, initial_guess) must return a solution shaped like "
                 "initial_guess" + (" (and aux, as a pair)." if has_aux else "."))

    def linearize_and_solve(x: Any, y: Any) -> Any:
        from lamina._api_ad import linearize
        _, g = linearize(f, x)
        return tangent_solve(g, y)

    ls = _stage(api, "tangent_solve", linearize_and_solve, [tree, tree], [*avals, *avals])
    _check_space(api, "tangent_solve", "initial_guess", ls, tree, avals,
                 "tangent_solve(g, y) must return x with g(x) = y, shaped like y.")
    programs = _RootPrograms(f_t.program, sol.program, ls.program)
    const_lengths = (len(f_t.consts), len(sol.consts), len(ls.consts))
    outs = _custom_root(const_lengths, programs, *f_t.consts, *sol.consts, *ls.consts,
                        *guess_flat)
    return tree_util.tree_unflatten(sol.full_tree, outs)
