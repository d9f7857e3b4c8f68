"""`einsum` and `einsum_path` of lamina.numpy (jax.numpy's API; split from `tensor`,
which re-exports them).

einsum contracts two operands at a time, each pair with one `lax.dot_general`
(labels on both sides that are still needed become batch dimensions, the others are
contracted); labels that appear in a single operand and nowhere else are summed first,
repeated labels within an operand (`'ii->i'`) are reduced with an iota mask. The order
of the pairs is `optimize`: False contracts left to right, anything else picks greedily
the pair whose result is smallest relative to its inputs.
"""
from __future__ import annotations

import collections
import math
import operator
import string
from typing import Any, Sequence

import numpy as np

from lamina import dtypes, lax
from lamina.numpy._lax_helpers import _convert, _full
from lamina.numpy._tensor_util import _dot, _finish, _operands, _transpose

__all__ = ["einsum", "einsum_path"]

Array = Any


def _sum(x: Array, axes: Sequence[int], dtype: np.dtype | None = None) -> Array:
    """Sum over `axes` (logical or for bool), optionally in `dtype`."""
    axes = tuple(axes)
    if not axes:
        return x
    if dtype is not None and dtypes.promote_types(x.dtype, dtype) != x.dtype:
        x = _convert(x, dtype)
    if dtypes.is_bool(x.dtype):
        return lax.reduce_or(x, axes)
    return lax.reduce_sum(x, axes)


# --------------------------------------------------------------------------------------
# einsum
# --------------------------------------------------------------------------------------

_LETTERS = string.ascii_letters


def _parse_einsum(subscripts: Any, operands: Sequence[Any]) -> tuple[str, list[Any]]:
    """`(equation, operands)` from either calling convention; the equation is explicit
    ('...->...'), with ellipses left in."""
    if isinstance(subscripts, str):
        return subscripts.replace(" ", ""), list(operands)
    # Interleaved form: op0, sublist0, op1, sublist1, ..., [sublist_out].
    args = [subscripts, *operands]
    out_sub = args[-1] if len(args) % 2 == 1 else None
    body = args[:-1] if out_sub is not None else args
    ops, subs = body[0::2], body[1::2]

    def term(sub: Sequence[Any]) -> str:
        text = ""
        for s in sub:
            if s is Ellipsis:
                text += "..."
            else:
                i = operator.index(s)
                if not 0 <= i < len(_LETTERS):
                    raise ValueError(f"lamina.numpy.einsum: subscript {i} must be in "
                                     f"[0, {len(_LETTERS)})")
                text += _LETTERS[i]
        return text

    eq = ",".join(term(s) for s in subs)
    if out_sub is not None:
        eq += "->" + term(out_sub)
    return eq, list(ops)


def _expand_equation(eq: str, shapes: Sequence[tuple[int, ...]]) -> tuple[list[str], str]:
    """Input label strings (ellipses replaced by fresh labels) and the output labels."""
    if "->" in eq:
        lhs, out = eq.split("->")
        if "->" in out:
            raise ValueError("lamina.numpy.einsum: subscripts contain more than one '->'")
    else:
        lhs, out = eq, None
    terms = lhs.split(",")
    if len(terms) != len(shapes):
        raise ValueError(f"lamina.numpy.einsum: {len(terms)} operand subscripts for "
                         f"{len(shapes)} operands ({eq!r})")
    used = set(eq) - set(".,->")
    bad = sorted(c for c in used if c not in _LETTERS)
    if bad:
        raise ValueError(f"lamina.numpy.einsum: invalid subscript characters {bad} in {eq!r}; "
                         "use letters a-z and A-Z")
    n_ell = 0
    for t, shape in zip(terms, shapes):
        if "..." in t:
            n_ell = max(n_ell, len(shape) - (len(t) - 3))
    # Fresh labels for the ellipsis dimensions (characters that are not letters).
    ell = "".join(chr(0x100 + i) for i in range(n_ell))
    inputs = []
    for t, shape in zip(terms, shapes):
        if "..." in t:
            k = len(shape) - (len(t) - 3)
            if k < 0 or t.count("...") > 1:
                raise ValueError(f"lamina.numpy.einsum: subscripts {t!r} do not fit an operand "
                                 f"of shape {shape}")
            t = t.replace("...", ell[n_ell - k:])
        elif "." in t:
            raise ValueError(f"lamina.numpy.einsum: invalid '.' in subscripts {t!r}")
        if len(t) != len(shape):
            raise ValueError(f"lamina.numpy.einsum: operand subscripts {t!r} do not match the "
                             f"operand's rank (shape {shape})")
        inputs.append(t)
    if out is None:
        counts = collections.Counter("".join(inputs))
        output = ell + "".join(sorted(c for c in counts if counts[c] == 1 and c not in ell))
    else:
        output = out.replace("...", ell)
        if "." in output:
            raise ValueError(f"lamina.numpy.einsum: invalid output subscripts {out!r}")
        if len(set(output)) != len(output):
            raise ValueError(f"lamina.numpy.einsum: output subscripts {out!r} repeat a label")
        missing = sorted(set(output) - set("".join(inputs)))
        if missing:
            raise ValueError(f"lamina.numpy.einsum: output labels {missing} do not appear in "
                             f"the inputs ({eq!r})")
    return inputs, output


def _label_sizes(inputs: Sequence[str], shapes: Sequence[tuple[int, ...]], eq: str
                 ) -> dict[str, int]:
    sizes: dict[str, int] = {}
    for t, shape in zip(inputs, shapes):
        for c, d in zip(t, shape):
            old = sizes.get(c)
            if old is None or old == 1:
                sizes[c] = d
            elif d not in (1, old):
                label = c if c in _LETTERS else "..."
                raise ValueError(f"lamina.numpy.einsum: size of label {label!r} differs between "
                                 f"operands ({old} and {d}) in {eq!r} with shapes "
                                 f"{[tuple(s) for s in shapes]}")
    return sizes


def _greedy_path(inputs: Sequence[str], output: str, sizes: dict[str, int]
                 ) -> list[tuple[int, int]]:
    """Pairs to contract (opt_einsum's convention: pop both, append the result): at each
    step the pair sharing labels whose result is smallest relative to its inputs."""
    terms = [set(t) for t in inputs]
    path = []

    def size(labels: set[str]) -> int:
        return math.prod(sizes[c] for c in labels)

    while len(terms) > 1:
        best = None
        for i in range(len(terms)):
            for j in range(i + 1, len(terms)):
                others = set(output).union(*(terms[k] for k in range(len(terms))
                                             if k not in (i, j)))
                result = (terms[i] | terms[j]) & others
                cost = (not (terms[i] & terms[j]),
                        size(result) - size(terms[i]) - size(terms[j]), size(result), i, j)
                if best is None or cost < best[0]:
                    best = (cost, i, j, result)
        _, i, j, result = best  # type: ignore[misc]
        path.append((i, j))
        terms.pop(j)
        terms.pop(i)
        terms.append(result)
    return path


def _left_to_right_path(n: int) -> list[tuple[int, int]]:
    # With the result appended last, the running product sits at the end of the list.
    return [(0, 1)] + [(0, n - 2 - k) for k in range(n - 2)] if n > 1 else []


def _einsum_path(inputs: Sequence[str], output: str, sizes: dict[str, int], optimize: Any
                 ) -> list[tuple[int, ...]]:
    n = len(inputs)
    if optimize is False or optimize is None:
        return _left_to_right_path(n)
    if optimize is True or isinstance(optimize, str):
        if isinstance(optimize, str) and optimize not in (
                "auto", "greedy", "optimal", "eager", "dp", "branch-all", "branch-2",
                "branch-1", "random-greedy", "auto-hq"):
            raise ValueError(f"lamina.numpy.einsum: unknown optimize={optimize!r}")
        # NOTE: every strategy name maps to the greedy optimizer (there is no
        # opt_einsum); it is what opt_einsum's 'auto' uses beyond a few operands.
        return _greedy_path(inputs, output, sizes)
    path = list(optimize)
    if path and path[0] == "einsum_path":  # numpy.einsum_path's format
        path = path[1:]
    path = [tuple(operator.index(i) for i in p) for p in path]
    remaining = n
    for p in path:
        if not 1 <= len(p) <= 2 or any(not 0 <= i < remaining for i in p) or len(set(p)) != len(p):
            raise ValueError(f"lamina.numpy.einsum: invalid contraction {p} in path {path}")
        remaining -= len(p) - 1
    if remaining != 1:
        raise ValueError(f"lamina.numpy.einsum: path {path} does not contract all {n} operands")
    return path


def _reduce_repeats(x: Array, names: str, keep: set[str], preferred: Any) -> tuple[Array, str]:
    """Take diagonals of labels repeated in `names`; sum the repeated labels not in
    `keep` completely."""
    counts = collections.Counter(names)
    for c, k in counts.items():
        if k < 2:
            continue
        axes = [i for i, n in enumerate(names) if n == c]
        shape = x.shape
        mask = None
        first = lax.broadcasted_iota(np.int32, shape, axes[0])
        for ax in axes[1:]:
            eq = lax.eq(first, lax.broadcasted_iota(np.int32, shape, ax))
            mask = eq if mask is None else lax.bitwise_and(mask, eq)
        x = lax.select(mask, x, _full(shape, 0, x.dtype, x.weak_type))
        summed = axes if c not in keep else axes[1:]
        x = _sum(x, summed, preferred)
        names = "".join(n for i, n in enumerate(names) if i not in summed)
    return x, names


def _reduce_single(x: Array, names: str, keep: set[str], preferred: Any) -> tuple[Array, str]:
    """Sum the labels of `x` that are used nowhere else, then take diagonals."""
    counts = collections.Counter(names)
    uniques = [i for i, c in enumerate(names) if counts[c] == 1 and c not in keep]
    if uniques:
        x = _sum(x, uniques, preferred)
        names = "".join(c for i, c in enumerate(names) if i not in uniques)
    return _reduce_repeats(x, names, keep, preferred)


def _squeeze_broadcast_dims(x: Array, names: str, other: Array, other_names: str
                            ) -> tuple[Array, str]:
    """Drop unit dimensions whose label has a larger size in the other operand: they
    broadcast (NumPy allows this for ellipsis dimensions)."""
    drop = [i for i, c in enumerate(names)
            if x.shape[i] == 1 and c in other_names
            and other.shape[other_names.index(c)] != 1]
    if not drop:
        return x, names
    return lax.squeeze(x, tuple(drop)), "".join(c for i, c in enumerate(names) if i not in drop)


def _contract_pair(lhs: Array, lnames: str, rhs: Array, rnames: str, keep: set[str],
                   precision: Any, preferred: Any) -> tuple[Array, str]:
    lhs, lnames = _squeeze_broadcast_dims(lhs, lnames, rhs, rnames)
    rhs, rnames = _squeeze_broadcast_dims(rhs, rnames, lhs, lnames)
    lhs, lnames = _reduce_single(lhs, lnames, keep | set(rnames), preferred)
    rhs, rnames = _reduce_single(rhs, rnames, keep | set(lnames), preferred)
    shared = [c for c in lnames if c in rnames]
    batch = [c for c in shared if c in keep]
    contracted = [c for c in shared if c not in keep]
    lhs_free = [c for c in lnames if c not in shared]
    rhs_free = [c for c in rnames if c not in shared]
    out = _dot(lhs, rhs, ([lnames.index(c) for c in contracted],
                          [rnames.index(c) for c in contracted]),
               ([lnames.index(c) for c in batch], [rnames.index(c) for c in batch]),
               precision, preferred)
    return out, "".join(batch + lhs_free + rhs_free)


def einsum(subscripts: Any, /, *operands: Any, out: None = None, optimize: Any = "auto",
           precision: Any = None, preferred_element_type: Any = None) -> Array:
    """Einstein summation (numpy.einsum), as a sequence of pairwise `lax.dot_general`s.

    Args:
        subscripts: e.g. `'ij,jk->ik'`, `'...ij,...jk'`, `'ii->i'`; or the interleaved
            form `einsum(x, [0, 1], y, [1, 2], [0, 2])`.
        *operands: the arrays.
        out: unsupported (must be None).
        optimize: the contraction order: False (left to right), True / 'auto' /
            'greedy' / 'optimal' (lamina's greedy optimizer), or a path as returned by
            `einsum_path`.
        precision: passed to lax.dot_general.
        preferred_element_type: the accumulation and result dtype.

    Returns:
        The contraction.

    >>> import lamina.numpy as lnp
    >>> lnp.einsum('ij,j->i', lnp.ones((2, 3)), lnp.ones(3))
    Array([3., 3.], dtype=float32)
    """
    if out is not None:
        raise NotImplementedError("The 'out' argument to lamina.numpy.einsum is not supported.")
    eq, ops = _parse_einsum(subscripts, operands)
    if not ops:
        raise ValueError("lamina.numpy.einsum: at least one operand is required")
    arrays, preferred, dtype, weak = _operands("einsum", preferred_element_type, *ops)
    shapes = [a.shape for a in arrays]
    inputs, output = _expand_equation(eq, shapes)
    sizes = _label_sizes(inputs, shapes, eq)
    path = _einsum_path(inputs, output, sizes, optimize)
    terms = list(zip(arrays, inputs))
    for step in path:
        picked = [terms[i] for i in step]
        for i in sorted(step, reverse=True):
            terms.pop(i)
        keep = set(output).union(*(set(n) for _, n in terms))
        if len(picked) == 1:
            terms.append(_reduce_single(picked[0][0], picked[0][1], keep, preferred))
        else:
            (lhs, ln), (rhs, rn) = picked
            terms.append(_contract_pair(lhs, ln, rhs, rn, keep, precision, preferred))
    (x, names), = terms
    x, names = _reduce_single(x, names, set(output), preferred)
    x = _transpose(x, [names.index(c) for c in output])
    return _finish(x, dtype, weak)


def einsum_path(subscripts: Any, /, *operands: Any, optimize: Any = "auto"
                ) -> tuple[list[tuple[int, ...]], str]:
    """The contraction order `einsum` would use, and a printable summary
    (numpy/jax.numpy.einsum_path).

    Args:
        subscripts: as for `einsum`.
        *operands: arrays (or anything with `.shape`).
        optimize: as for `einsum`.

    Returns:
        `(path, description)`; `path` can be passed back as `einsum(..., optimize=path)`.
    """
    eq, ops = _parse_einsum(subscripts, operands)
    shapes = [tuple(np.shape(o)) if not hasattr(o, "shape") else tuple(o.shape) for o in ops]
    inputs, output = _expand_equation(eq, shapes)
    sizes = _label_sizes(inputs, shapes, eq)
    path = _einsum_path(inputs, output, sizes, optimize)
    naive = math.prod(sizes.values()) * max(len(inputs) - 1, 1)
    terms = [set(t) for t in inputs]
    lines, flops, largest = [], 0, 0
    for step in path:
        picked = [terms[i] for i in step]
        for i in sorted(step, reverse=True):
            terms.pop(i)
        keep = set(output).union(*terms)
        involved = set().union(*picked)
        result = involved & keep
        flops += math.prod(sizes[c] for c in involved)
        largest = max(largest, math.prod(sizes[c] for c in result))
        terms.append(result)
        inputs_text = ",".join("".join(sorted(t)) for t in picked)
        lines.append(f"  {inputs_text} -> {''.join(sorted(result))}")
    info = "\n".join([f"  Complete contraction:  {eq}",
                      f"      Naive FLOP count:  {naive:.3e}",
                      f"  Optimized FLOP count:  {flops:.3e}",
                      f"  Largest intermediate:  {largest:.3e} elements",
                      "  Contractions:", *lines])
    return path, info
