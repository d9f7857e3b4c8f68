"""Tensor contractions for lamina.numpy: dot, vdot, vecdot, matmul, matvec, vecmat,
inner, outer, tensordot, einsum (with its own contraction-order optimizer),
einsum_path, kron, trace and cross (jax.numpy's API).

Dtypes follow jax.numpy: operands are promoted to their result type (weak types
included: `int8 @ int8` is int8, `x @ 2.0` keeps x's float dtype), and
`preferred_element_type` makes `lax.dot_general` accumulate and return a wider type.

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
from lamina.lax._util import canonicalize_axis, operator_index
from lamina.numpy._util import (
    asarray,
    broadcast_shapes,
    broadcast_to_shape,
    check_arraylike,
    promote_dtypes,
)
from lamina.numpy._lax_helpers import _const, _convert, _full, _moveaxis, _ravel
from lamina.numpy.indexing import getitem

__all__ = [
    "cross",
    "dot",
    "einsum",
    "einsum_path",
    "inner",
    "kron",
    "matmul",
    "matvec",
    "outer",
    "tensordot",
    "trace",
    "vdot",
    "vecdot",
    "vecmat",
]

Array = Any
ArrayLike = Any


# --------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------


def _operands(fun_name: str, preferred_element_type: Any, *args: ArrayLike
              ) -> tuple[list[Array], np.dtype | None, np.dtype, bool]:
    """Promoted operands, the preferred type for dot_general, and the result dtype and
    weak type (jax: the promoted type unless `preferred_element_type` is given)."""
    check_arraylike(fun_name, *args)
    arrays = promote_dtypes(*args) if len(args) > 1 else [asarray(args[0])]
    dtype, weak = arrays[0].dtype, all(a.weak_type for a in arrays)
    if preferred_element_type is None:
        return arrays, None, dtype, weak
    preferred = dtypes.check_user_dtype_supported(preferred_element_type,
                                                  f"lamina.numpy.{fun_name}")
    return arrays, preferred, preferred, False


def _dot(lhs: Array, rhs: Array, contracting: tuple[Sequence[int], Sequence[int]],
         batch: tuple[Sequence[int], Sequence[int]], precision: Any, preferred: Any) -> Array:
    return lax.dot_general(lhs, rhs, ((tuple(contracting[0]), tuple(contracting[1])),
                                      (tuple(batch[0]), tuple(batch[1]))),
                           precision=precision, preferred_element_type=preferred)


def _finish(x: Array, dtype: np.dtype, weak: bool) -> Array:
    return _convert(x, dtype, weak)


def _transpose(x: Array, perm: Sequence[int]) -> Array:
    perm = tuple(perm)
    return x if perm == tuple(range(len(perm))) else lax.transpose(x, perm)


def _mul(x: Array, y: Array) -> Array:
    """lax.mul, or logical and for bool (jnp.multiply's rule)."""
    return lax.bitwise_and(x, y) if dtypes.is_bool(x.dtype) else lax.mul(x, y)


def _multiply(x: Array, y: Array) -> Array:
    """Elementwise product with NumPy broadcasting (operands share a dtype)."""
    shape = broadcast_shapes("multiply", x.shape, y.shape)
    if x.shape not in ((), shape):
        x = broadcast_to_shape(x, shape)
    if y.shape not in ((), shape):
        y = broadcast_to_shape(y, shape)
    return _mul(x, y)


def _subtract(x: Array, y: Array) -> Array:
    shape = broadcast_shapes("subtract", x.shape, y.shape)
    if x.shape not in ((), shape):
        x = broadcast_to_shape(x, shape)
    if y.shape not in ((), shape):
        y = broadcast_to_shape(y, shape)
    return lax.sub(x, y)


def _conj(x: Array) -> Array:
    return lax.conj(x) if dtypes.is_complex(x.dtype) else x


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
# dot, vdot, vecdot, matmul, matvec, vecmat, inner, outer, tensordot
# --------------------------------------------------------------------------------------


def dot(a: ArrayLike, b: ArrayLike, *, precision: Any = None,
        preferred_element_type: Any = None) -> Array:
    """The dot product of two arrays (numpy.dot): a scalar product for 0-d operands,
    else contracting `a`'s last axis with `b`'s last (1-D) or second-to-last axis.

    Args:
        a, b: arrays.
        precision: passed to lax.dot_general.
        preferred_element_type: the accumulation and result dtype.

    Returns:
        The product, with dimensions `a.shape[:-1] + b.shape[:-2] + b.shape[-1:]`.

    >>> import lamina.numpy as lnp
    >>> lnp.dot(lnp.asarray([1, 2]), lnp.asarray([3, 4]))
    Array(11, dtype=int32)
    """
    (a, b), preferred, dtype, weak = _operands("dot", preferred_element_type, a, b)
    if a.ndim == 0 or b.ndim == 0:
        contract: tuple[tuple[int, ...], tuple[int, ...]] = ((), ())
    else:
        contract = ((a.ndim - 1,), (0,) if b.ndim == 1 else (b.ndim - 2,))
        if a.shape[contract[0][0]] != b.shape[contract[1][0]]:
            raise TypeError(f"lamina.numpy.dot: shapes {a.shape} and {b.shape} are not aligned: "
                            f"{a.shape[contract[0][0]]} (dim {contract[0][0]}) != "
                            f"{b.shape[contract[1][0]]} (dim {contract[1][0]})")
    return _finish(_dot(a, b, contract, ((), ()), precision, preferred), dtype, weak)


def vdot(a: ArrayLike, b: ArrayLike, *, precision: Any = None,
         preferred_element_type: Any = None) -> Array:
    """The dot product of the flattened arrays, conjugating `a` (numpy.vdot).

    Args:
        a, b: arrays of the same size.
        precision: passed to lax.dot_general.
        preferred_element_type: the accumulation and result dtype.

    Returns:
        A 0-d array.
    """
    check_arraylike("vdot", a, b)
    a, b = asarray(a), asarray(b)
    if a.size != b.size:
        raise ValueError(f"lamina.numpy.vdot: arrays must have the same size, got shapes "
                         f"{a.shape} and {b.shape}")
    return dot(_ravel(_conj(a)), _ravel(b), precision=precision,
               preferred_element_type=preferred_element_type)


def vecdot(x1: ArrayLike, x2: ArrayLike, /, *, axis: int = -1, precision: Any = None,
           preferred_element_type: Any = None) -> Array:
    """The conjugated dot product of vectors along `axis`, broadcasting the other
    dimensions (numpy.vecdot / array API).

    Args:
        x1, x2: arrays whose `axis` dimensions have equal sizes.
        axis: the axis of the vectors.
        precision: passed to lax.dot_general.
        preferred_element_type: the accumulation and result dtype.

    Returns:
        The broadcast shape without `axis`.
    """
    (x1, x2), preferred, dtype, weak = _operands("vecdot", preferred_element_type, x1, x2)
    a1 = canonicalize_axis(operator_index(axis), x1.ndim, "lamina.numpy.vecdot")
    a2 = canonicalize_axis(operator_index(axis), x2.ndim, "lamina.numpy.vecdot")
    if x1.shape[a1] != x2.shape[a2]:
        raise ValueError(f"lamina.numpy.vecdot: axes must match; got shapes {x1.shape} and "
                         f"{x2.shape} with axis={axis}")
    x1, x2 = _moveaxis(_conj(x1), a1, x1.ndim - 1), _moveaxis(x2, a2, x2.ndim - 1)
    batch = broadcast_shapes("vecdot", x1.shape[:-1], x2.shape[:-1])
    n = x1.shape[-1]
    x1, x2 = broadcast_to_shape(x1, batch + (n,)), broadcast_to_shape(x2, batch + (n,))
    dims = tuple(range(len(batch)))
    out = _dot(x1, x2, ((len(batch),), (len(batch),)), (dims, dims), precision, preferred)
    return _finish(out, dtype, weak)


def matmul(a: ArrayLike, b: ArrayLike, *, precision: Any = None,
           preferred_element_type: Any = None) -> Array:
    """Matrix product with NumPy's rules (numpy.matmul, `a @ b`): 1-D operands are
    promoted to matrices and the added axis removed; leading (batch) dimensions
    broadcast.

    Args:
        a, b: arrays of rank >= 1.
        precision: passed to lax.dot_general.
        preferred_element_type: the accumulation and result dtype.

    Returns:
        `broadcast(a.shape[:-2], b.shape[:-2]) + (a.shape[-2],) + (b.shape[-1],)`, without
        the dimensions of 1-D operands.

    >>> import lamina.numpy as lnp
    >>> (lnp.ones((2, 3, 4)) @ lnp.ones((4, 5))).shape
    (2, 3, 5)
    """
    (a, b), preferred, dtype, weak = _operands("matmul", preferred_element_type, a, b)
    for i, x in enumerate((a, b)):
        if x.ndim < 1:
            raise ValueError(f"lamina.numpy.matmul: input operand {i} must have ndim at least 1, "
                             f"but it has shape {x.shape}")
    a_mat, b_mat = a.ndim > 1, b.ndim > 1
    k_a, k_b = a.shape[-1], b.shape[-2] if b_mat else b.shape[0]
    if k_a != k_b:
        raise TypeError(f"lamina.numpy.matmul: contracting dimensions differ: {a.shape} @ "
                        f"{b.shape} ({k_a} != {k_b})")
    a_batch = a.shape[:-2] if a_mat else ()
    b_batch = b.shape[:-2] if b_mat else ()
    nb = max(len(a_batch), len(b_batch))
    a_dims = (None,) * (nb - len(a_batch)) + tuple(a_batch)
    b_dims = (None,) * (nb - len(b_batch)) + tuple(b_batch)
    a_squeeze, b_squeeze, both_squeeze = [], [], []
    a_bat, b_bat, pos_batch, pos_a, pos_b = [], [], [], [], []
    ia = ib = 0  # positions in a's and b's batch dimensions
    for i, (da, db) in enumerate(zip(a_dims, b_dims)):
        if da is None:
            pos_b.append(i)
            ib += 1
        elif db is None:
            pos_a.append(i)
            ia += 1
        elif da == 1 and db == 1:
            a_squeeze.append(ia)
            b_squeeze.append(ib)
            both_squeeze.append(i)
            ia += 1
            ib += 1
        elif da == 1:
            a_squeeze.append(ia)
            pos_b.append(i)
            ia += 1
            ib += 1
        elif db == 1:
            b_squeeze.append(ib)
            pos_a.append(i)
            ia += 1
            ib += 1
        elif da == db:
            a_bat.append(ia - len(a_squeeze))
            b_bat.append(ib - len(b_squeeze))
            pos_batch.append(i)
            ia += 1
            ib += 1
        else:
            raise ValueError(f"lamina.numpy.matmul: batch dimensions of shapes {a.shape} and "
                             f"{b.shape} cannot be broadcast together")
    if a_squeeze:
        a = lax.squeeze(a, tuple(a_squeeze))
    if b_squeeze:
        b = lax.squeeze(b, tuple(b_squeeze))
    if a_mat:
        pos_a.append(nb)
    if b_mat:
        pos_b.append(nb + a_mat)
    out = _dot(a, b, ((a.ndim - 1,), (b.ndim - 1 - b_mat,)), (a_bat, b_bat), precision,
               preferred)
    # dot_general's layout is (batch, a's free, b's free); put them in NumPy's order.
    perm = np.argsort(np.asarray(pos_batch + pos_a + pos_b, dtype=np.int64))
    out = _transpose(out, perm)
    if both_squeeze:
        out = lax.expand_dims(out, tuple(both_squeeze))
    return _finish(out, dtype, weak)


def _batched_vector_product(fun_name: str, mat: Array, vec: Array, mat_axis: int,
                            precision: Any, preferred: Any) -> Array:
    """`mat` (..., n, m) contracted with `vec` (..., k) over `mat_axis` (-1 or -2),
    broadcasting the leading dimensions."""
    if mat.ndim < 2 or vec.ndim < 1:
        raise ValueError(f"lamina.numpy.{fun_name}: needs a matrix and a vector, got shapes "
                         f"{mat.shape} and {vec.shape}")
    if mat.shape[mat_axis] != vec.shape[-1]:
        raise ValueError(f"lamina.numpy.{fun_name}: size mismatch between {mat.shape} and "
                         f"{vec.shape}")
    batch = broadcast_shapes(fun_name, mat.shape[:-2], vec.shape[:-1])
    mat = broadcast_to_shape(mat, batch + mat.shape[-2:])
    vec = broadcast_to_shape(vec, batch + vec.shape[-1:])
    dims = tuple(range(len(batch)))
    return _dot(mat, vec, ((mat.ndim + mat_axis,), (len(batch),)), (dims, dims), precision,
                preferred)


def matvec(x1: ArrayLike, x2: ArrayLike, /) -> Array:
    """Matrix-vector product `(..., n, m) x (..., m) -> (..., n)`, broadcasting batches.

    Args:
        x1: the matrices.
        x2: the vectors.

    Returns:
        The products.
    """
    (x1, x2), preferred, dtype, weak = _operands("matvec", None, x1, x2)
    return _finish(_batched_vector_product("matvec", x1, x2, -1, None, preferred), dtype, weak)


def vecmat(x1: ArrayLike, x2: ArrayLike, /) -> Array:
    """Conjugated vector-matrix product `(..., n) x (..., n, m) -> (..., m)`.

    Args:
        x1: the vectors (conjugated).
        x2: the matrices.

    Returns:
        The products.
    """
    (x1, x2), preferred, dtype, weak = _operands("vecmat", None, x1, x2)
    out = _batched_vector_product("vecmat", x2, _conj(x1), -2, None, preferred)
    return _finish(out, dtype, weak)


def tensordot(a: ArrayLike, b: ArrayLike, axes: Any = 2, *, precision: Any = None,
              preferred_element_type: Any = None) -> Array:
    """Tensor contraction over `axes` (numpy.tensordot).

    Args:
        a, b: arrays.
        axes: an int N (contract `a`'s last N axes with `b`'s first N), or a pair of
            axis sequences (or of ints).
        precision: passed to lax.dot_general.
        preferred_element_type: the accumulation and result dtype.

    Returns:
        `a`'s free dimensions followed by `b`'s.
    """
    (a, b), preferred, dtype, weak = _operands("tensordot", preferred_element_type, a, b)
    if type(axes) is int or isinstance(axes, np.integer):
        n = int(axes)
        if n < 0 or n > min(a.ndim, b.ndim):
            raise TypeError(f"lamina.numpy.tensordot: number of axes {n} exceeds the input "
                            f"ranks ({a.shape} and {b.shape})")
        contract = (tuple(range(a.ndim - n, a.ndim)), tuple(range(n)))
    elif isinstance(axes, (tuple, list)) and len(axes) == 2:
        ax1, ax2 = axes
        if isinstance(ax1, (int, np.integer)) and isinstance(ax2, (int, np.integer)):
            ax1, ax2 = (ax1,), (ax2,)
        elif not (isinstance(ax1, (tuple, list)) and isinstance(ax2, (tuple, list))):
            raise TypeError("lamina.numpy.tensordot: axes must be an int or a pair of ints or "
                            f"of int sequences, got {axes!r}")
        if len(ax1) != len(ax2):
            raise TypeError(f"lamina.numpy.tensordot: axes lists must have equal length, got "
                            f"{ax1} and {ax2}")
        contract = (tuple(canonicalize_axis(operator_index(i), a.ndim, "lamina.numpy.tensordot")
                          for i in ax1),
                    tuple(canonicalize_axis(operator_index(i), b.ndim, "lamina.numpy.tensordot")
                          for i in ax2))
    else:
        raise TypeError("lamina.numpy.tensordot: axes must be an int, a pair of ints, or a pair "
                        f"of int sequences; got {axes!r}")
    for i, j in zip(*contract):
        if a.shape[i] != b.shape[j]:
            raise TypeError(f"lamina.numpy.tensordot: shape mismatch for the contracted axes: "
                            f"{a.shape} axis {i} and {b.shape} axis {j}")
    return _finish(_dot(a, b, contract, ((), ()), precision, preferred), dtype, weak)


def inner(a: ArrayLike, b: ArrayLike, *, precision: Any = None,
          preferred_element_type: Any = None) -> Array:
    """Inner product over the last axes (numpy.inner); a product for 0-d operands.

    Args:
        a, b: arrays.
        precision: passed to lax.dot_general.
        preferred_element_type: the accumulation and result dtype.

    Returns:
        `a.shape[:-1] + b.shape[:-1]`.
    """
    check_arraylike("inner", a, b)
    if np.ndim(a) == 0 or np.ndim(b) == 0:
        (a, b), preferred, dtype, weak = _operands("inner", preferred_element_type, a, b)
        if preferred is not None:
            a, b = _convert(a, preferred), _convert(b, preferred)
        return _finish(_multiply(a, b), dtype, weak)
    return tensordot(a, b, (-1, -1), precision=precision,
                     preferred_element_type=preferred_element_type)


def outer(a: ArrayLike, b: ArrayLike, out: None = None) -> Array:
    """The outer product of the flattened arrays (numpy.outer).

    Args:
        a, b: arrays.
        out: unsupported (must be None).

    Returns:
        A `(a.size, b.size)` array.
    """
    if out is not None:
        raise NotImplementedError("The 'out' argument to lamina.numpy.outer is not supported.")
    (a, b), _, _, _ = _operands("outer", None, a, b)
    a, b = _ravel(a), _ravel(b)
    shape = (a.shape[0], b.shape[0])
    return _mul(lax.broadcast_in_dim(a, shape, (0,)), lax.broadcast_in_dim(b, shape, (1,)))


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


# --------------------------------------------------------------------------------------
# kron, trace, cross
# --------------------------------------------------------------------------------------


def kron(a: ArrayLike, b: ArrayLike) -> Array:
    """The Kronecker product (numpy.kron).

    Args:
        a, b: arrays (the lower-rank one gets leading unit dimensions).

    Returns:
        An array of shape `a.shape * b.shape` (elementwise, after rank matching).
    """
    check_arraylike("kron", a, b)
    a, b = promote_dtypes(a, b)
    nd = max(a.ndim, b.ndim)
    a = lax.reshape(a, (1,) * (nd - a.ndim) + a.shape)
    b = lax.reshape(b, (1,) * (nd - b.ndim) + b.shape)
    # (a0, 1, a1, 1, ...) * (1, b0, 1, b1, ...), then merge each pair.
    a_exp = lax.reshape(a, tuple(d for s in a.shape for d in (s, 1)))
    b_exp = lax.reshape(b, tuple(d for s in b.shape for d in (1, s)))
    shape = tuple(d for sa, sb in zip(a.shape, b.shape) for d in (sa, sb))
    prod = _mul(broadcast_to_shape(a_exp, shape), broadcast_to_shape(b_exp, shape))
    return lax.reshape(prod, tuple(sa * sb for sa, sb in zip(a.shape, b.shape)))


def _sum_dtype(dtype: np.dtype) -> np.dtype:
    """jnp.sum's default result dtype: small integers and bool widen to the default int."""
    if dtypes.is_bool(dtype):
        return dtypes.default_int_dtype()
    if dtypes.is_unsigned_integer(dtype) and dtype.itemsize < dtypes.default_uint_dtype().itemsize:
        return dtypes.default_uint_dtype()
    if dtypes.is_signed_integer(dtype) and dtype.itemsize < dtypes.default_int_dtype().itemsize:
        return dtypes.default_int_dtype()
    return dtype


def trace(a: ArrayLike, offset: int = 0, axis1: int = 0, axis2: int = 1, dtype: Any = None,
          out: None = None) -> Array:
    """Sum along a diagonal (numpy.trace).

    Args:
        a: an array of rank >= 2.
        offset: the diagonal offset (positive: above the main diagonal).
        axis1, axis2: the axes of the 2-D sub-arrays.
        dtype: the accumulation and result dtype (default: jnp.sum's).
        out: unsupported (must be None).

    Returns:
        `a` without `axis1` and `axis2`.
    """
    if out is not None:
        raise NotImplementedError("The 'out' argument to lamina.numpy.trace is not supported.")
    check_arraylike("trace", a)
    a = asarray(a)
    if a.ndim < 2:
        raise ValueError(f"lamina.numpy.trace: a must have at least 2 dimensions, got shape "
                         f"{a.shape}")
    ax1 = canonicalize_axis(operator_index(axis1), a.ndim, "lamina.numpy.trace")
    ax2 = canonicalize_axis(operator_index(axis2), a.ndim, "lamina.numpy.trace")
    if ax1 == ax2:
        raise ValueError(f"lamina.numpy.trace: axis1 and axis2 can not be the same, got "
                         f"axis1={axis1} and axis2={axis2}")
    offset = operator_index(offset)
    out_dtype = _sum_dtype(a.dtype) if dtype is None else dtypes.check_user_dtype_supported(
        dtype, "lamina.numpy.trace")
    perm = [i for i in range(a.ndim) if i not in (ax1, ax2)] + [ax1, ax2]
    x = _transpose(a, perm)
    shape = x.shape
    rows = lax.broadcasted_iota(np.int32, shape[-2:], 0)
    cols = lax.broadcasted_iota(np.int32, shape[-2:], 1)
    mask = lax.eq(lax.sub(cols, rows), _const(offset, np.int32))
    mask = lax.broadcast_in_dim(mask, shape, (x.ndim - 2, x.ndim - 1))
    x = _convert(x, out_dtype, a.weak_type and dtype is None)
    x = lax.select(mask, x, _full(shape, 0, x.dtype, x.weak_type))
    return lax.reduce_sum(x, (x.ndim - 2, x.ndim - 1))


def cross(a: ArrayLike, b: ArrayLike, axisa: int = -1, axisb: int = -1, axisc: int = -1,
          axis: int | None = None) -> Array:
    """The cross product of 2- or 3-vectors along the given axes, broadcasting the
    others (numpy.cross).

    Args:
        a, b: arrays whose vector axes have length 2 or 3.
        axisa, axisb: the vector axes of `a` and `b`.
        axisc: the vector axis of the result (3-vectors only).
        axis: if given, overrides `axisa`, `axisb` and `axisc`.

    Returns:
        The cross products (the z component only when both inputs are 2-vectors).
    """
    check_arraylike("cross", a, b)
    a, b = promote_dtypes(a, b)
    if axis is not None:
        axisa = axisb = axisc = axis
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError("lamina.numpy.cross: inputs must have at least one dimension")
    a = _moveaxis(a, canonicalize_axis(operator_index(axisa), a.ndim, "lamina.numpy.cross"),
                  a.ndim - 1)
    b = _moveaxis(b, canonicalize_axis(operator_index(axisb), b.ndim, "lamina.numpy.cross"),
                  b.ndim - 1)
    if a.shape[-1] not in (2, 3) or b.shape[-1] not in (2, 3):
        raise ValueError(f"lamina.numpy.cross: incompatible dimensions for cross product "
                         f"(dimension must be 2 or 3), got shapes {a.shape} and {b.shape}")

    def comp(x: Array, i: int) -> Array:
        if i < x.shape[-1]:
            return getitem(x, (Ellipsis, i))
        return _full(x.shape[:-1], 0, x.dtype, x.weak_type)

    a0, a1, a2 = (comp(a, i) for i in range(3))
    b0, b1, b2 = (comp(b, i) for i in range(3))
    if a.shape[-1] == 2 and b.shape[-1] == 2:
        return _subtract(_multiply(a0, b1), _multiply(a1, b0))
    parts = [_subtract(_multiply(a1, b2), _multiply(a2, b1)),
             _subtract(_multiply(a2, b0), _multiply(a0, b2)),
             _subtract(_multiply(a0, b1), _multiply(a1, b0))]
    shape = parts[0].shape
    c = lax.concatenate([lax.reshape(p, (1,) + shape) for p in parts], 0)
    axisc = canonicalize_axis(operator_index(axisc), c.ndim, "lamina.numpy.cross")
    return _moveaxis(c, 0, axisc)
