"""Contractions: `dot_general` and jax.lax's wrappers `dot` and `batch_matmul`.

The primitive lowers to one `stablehlo.dot_general`; the wrappers only canonicalise
arguments and bind it. The block ends with the JVP (product rule: the op is
bilinear), transpose and batching rules. `Precision` is shared with the convolutions
(lamina.lax.convolution).
"""
from __future__ import annotations

import enum
import operator
from typing import Any, Sequence, Union

import numpy as np

from lamina import dtypes
from lamina.interpreters import ad, batching, lowering
from lamina.ir import AbstractArray, Primitive
from lamina.lax._util import (ArrayLike, DTypeLike, aval_of, check_arraylike,
                              convert_python_scalars)

__all__ = [
    "Precision",
    "dot_general",
    "dot",
    "batch_matmul",
]

Array = Any  # lamina.Array or a Tracer


# --------------------------------------------------------------------------------------
# Precision
# --------------------------------------------------------------------------------------


class Precision(enum.Enum):
    """How precisely a matrix multiply or convolution computes float32 inputs.

    Members: `DEFAULT` (fastest; on TPU float32 is computed in one bfloat16 pass, on
    recent GPUs in tensorfloat32), `HIGH` (three bfloat16 passes, or tensorfloat32) and
    `HIGHEST` (full float32). The CPU backend ignores it. The strings accepted by jax
    (`'default'`, `'fastest'`, `'bfloat16'`, `'high'`, `'bfloat16_3x'`,
    `'tensorfloat32'`, `'highest'`, `'float32'`) name the same members.
    """

    DEFAULT = 0
    HIGH = 1
    HIGHEST = 2

    @classmethod
    def _missing_(cls, value: object) -> "Precision | None":
        return _PRECISION_NAMES.get(value) if isinstance(value, str) else None

    def __repr__(self) -> str:
        return f"Precision.{self.name}"

    def __str__(self) -> str:
        return self.name


_PRECISION_NAMES: dict[str, Precision] = {
    "default": Precision.DEFAULT, "fastest": Precision.DEFAULT, "bfloat16": Precision.DEFAULT,
    "high": Precision.HIGH, "bfloat16_3x": Precision.HIGH, "tensorfloat32": Precision.HIGH,
    "highest": Precision.HIGHEST, "float32": Precision.HIGHEST,
}

PrecisionLike = Union[None, str, Precision, tuple[str, str], tuple[Precision, Precision]]
CanonicalPrecision = Union[None, tuple[Precision, Precision]]


def _one_precision(p: Any, fun_name: str) -> Precision:
    if isinstance(p, Precision):
        return p
    if isinstance(p, str) and p.lower() in _PRECISION_NAMES:
        return _PRECISION_NAMES[p.lower()]
    if isinstance(p, str) and p.upper() in Precision.__members__:
        return Precision[p.upper()]
    raise ValueError(
        f"lax.{fun_name}: precision must be None, a lax.Precision, one of the strings "
        f"{sorted(_PRECISION_NAMES)}, or a pair of these (lhs, rhs), got {p!r}. "
        "(jax's DotAlgorithm / DotAlgorithmPreset are not supported by lamina.)")


def canonicalize_precision(precision: PrecisionLike, fun_name: str = "dot_general"
                           ) -> CanonicalPrecision:
    """None, or one `Precision` per operand as a pair (a hashable primitive parameter)."""
    if precision is None:
        return None
    if isinstance(precision, (list, tuple)):
        if len(precision) != 2:
            raise ValueError(f"lax.{fun_name}: a precision pair must have two entries "
                             f"(lhs, rhs), got {precision!r}")
        return (_one_precision(precision[0], fun_name), _one_precision(precision[1], fun_name))
    p = _one_precision(precision, fun_name)
    return (p, p)


def _precision_attr(precision: CanonicalPrecision) -> str:
    lhs, rhs = precision if precision is not None else (Precision.DEFAULT, Precision.DEFAULT)
    return f"[#stablehlo<precision {lhs.name}>, #stablehlo<precision {rhs.name}>]"


# --------------------------------------------------------------------------------------
# Helpers shared by both primitives
# --------------------------------------------------------------------------------------


def _operands(fun_name: str, lhs: ArrayLike, rhs: ArrayLike) -> tuple[Any, Any]:
    check_arraylike(f"lax.{fun_name}", lhs, rhs)
    if dtypes.is_python_scalar(lhs) and dtypes.is_python_scalar(rhs):
        return lhs, rhs  # both stay weakly typed
    lhs, rhs = convert_python_scalars(fun_name, lhs, rhs)
    return lhs, rhs


def _preferred_dtype(preferred_element_type: DTypeLike | None, fun_name: str) -> np.dtype | None:
    if preferred_element_type is None:
        return None
    return dtypes.check_user_dtype_supported(preferred_element_type, f"lax.{fun_name}")


def _bit_width(dtype: np.dtype) -> int:
    return 1 if dtypes.is_bool(dtype) else 8 * (dtype.itemsize // (2 if dtypes.is_complex(dtype)
                                                                  else 1))


def _int_tuple(values: Any, what: str, fun_name: str) -> tuple[int, ...]:
    if isinstance(values, (int, np.integer)):
        values = (values,)
    try:
        return tuple(operator.index(v) for v in values)
    except TypeError:
        raise TypeError(f"lax.{fun_name}: {what} must be a sequence of integers, "
                        f"got {values!r}") from None


def _convert(ctx: lowering.RuleContext, value: lowering.Value, aval: AbstractArray,
             dtype: np.dtype) -> lowering.Value:
    if aval.dtype == dtype:
        return value
    return ctx.op("stablehlo.convert", [value], aval.update(dtype=dtype, weak_type=False))


def _pair(a: AbstractArray, b: AbstractArray) -> str:
    return f"lhs {a.str_short()} and rhs {b.str_short()}"


# --------------------------------------------------------------------------------------
# dot_general
# --------------------------------------------------------------------------------------

DotDimensionNumbers = tuple[tuple[tuple[int, ...], tuple[int, ...]],
                            tuple[tuple[int, ...], tuple[int, ...]]]

dot_general_p = Primitive("dot_general")


def _canonicalize_dot_dnums(dimension_numbers: Any, lhs_ndim: int, rhs_ndim: int,
                            fun_name: str) -> DotDimensionNumbers:
    try:
        (lc, rc), (lb, rb) = dimension_numbers
    except (TypeError, ValueError):
        raise TypeError(
            f"lax.{fun_name}: dimension_numbers must have the form ((lhs_contracting, "
            f"rhs_contracting), (lhs_batch, rhs_batch)), got {dimension_numbers!r}") from None

    def fix(dims: Any, ndim: int, what: str) -> tuple[int, ...]:
        # NOTE: negative dimensions are normalised here (jax rejects them); anything
        # still out of range is reported by the abstract-evaluation rule.
        return tuple(d + ndim if -ndim <= d < 0 else d
                     for d in _int_tuple(dims, what, fun_name))

    return ((fix(lc, lhs_ndim, "lhs_contracting"), fix(rc, rhs_ndim, "rhs_contracting")),
            (fix(lb, lhs_ndim, "lhs_batch"), fix(rb, rhs_ndim, "rhs_batch")))


def dot_general(lhs: ArrayLike, rhs: ArrayLike, dimension_numbers: Any,
                precision: PrecisionLike = None,
                preferred_element_type: DTypeLike | None = None) -> Array:
    """General tensor contraction (XLA's DotGeneral).

    Args:
        lhs: an array.
        rhs: an array.
        dimension_numbers: `((lhs_contracting, rhs_contracting), (lhs_batch,
            rhs_batch))`, each a sequence of dimension numbers. Contracting dimensions
            are summed over; batch dimensions are matched elementwise.
        precision: None, a `Precision` (or its string name), or a pair of them for
            (lhs, rhs).
        preferred_element_type: the result dtype, e.g. `int32` for int8 inputs or
            `float32` for bfloat16 inputs, so that the sum is accumulated (and
            returned) in a wider type.

    Returns:
        An array whose dimensions are the batch dimensions (in `lhs_batch` order), then
        the free dimensions of `lhs`, then the free dimensions of `rhs`. Its dtype is
        `preferred_element_type`, or the wider of the two input dtypes.

    >>> import numpy as np
    >>> x = np.ones((2, 3, 4), np.float32); y = np.ones((2, 4, 5), np.float32)
    >>> dot_general(x, y, (((2,), (1,)), ((0,), (0,)))).shape
    (2, 3, 5)
    """
    lhs, rhs = _operands("dot_general", lhs, rhs)
    dnums = _canonicalize_dot_dnums(dimension_numbers, aval_of(lhs).ndim, aval_of(rhs).ndim,
                                    "dot_general")
    return dot_general_p.bind(
        lhs, rhs, dimension_numbers=dnums,
        precision=canonicalize_precision(precision, "dot_general"),
        preferred_element_type=_preferred_dtype(preferred_element_type, "dot_general"))


def _dot_type_rank(dtype: np.dtype) -> tuple[Any, ...]:
    """XLA's order for mixed-dtype dots (primitive_util::HigherPrecisionType): complex
    over real, then exponent range, mantissa, width, and signed over unsigned."""
    base = dtypes.real_dtype(dtype) if dtypes.is_complex(dtype) else dtype
    floating = dtypes.is_floating(base)
    fi = dtypes.finfo(base) if floating else None
    return (dtypes.is_complex(dtype), fi.maxexp if fi else -1, fi.nmant if fi else -1,
            _bit_width(base), not dtypes.is_unsigned_integer(base))


def _dot_result_dtype(name: str, lhs: AbstractArray, rhs: AbstractArray,
                      preferred: np.dtype | None) -> np.dtype:
    lrank, rrank = _dot_type_rank(lhs.dtype), _dot_type_rank(rhs.dtype)
    if lrank == rrank and lhs.dtype != rhs.dtype:
        raise TypeError(f"lax.{name}: cannot mix dtypes {lhs.dtype.name} and {rhs.dtype.name} "
                        f"({_pair(lhs, rhs)}); convert one of them first")
    result = lhs.dtype if lrank >= rrank else rhs.dtype
    if preferred is None or preferred == result:
        return result
    if not dtypes.is_floating(result) and _bit_width(preferred) < _bit_width(result):
        raise TypeError(f"lax.{name}: preferred_element_type {preferred.name} is narrower than "
                        f"the result type {result.name} of {_pair(lhs, rhs)}")
    # NOTE: stricter than jax, which lets a complex product silently drop its imaginary
    # part when asked for a real preferred_element_type.
    if dtypes.is_complex(result) and not dtypes.is_complex(preferred):
        raise TypeError(f"lax.{name}: preferred_element_type {preferred.name} is real but the "
                        f"product of {_pair(lhs, rhs)} is complex")
    return preferred


def _dot_general_abstract_eval(lhs: AbstractArray, rhs: AbstractArray, *,
                               dimension_numbers: DotDimensionNumbers,
                               precision: CanonicalPrecision,
                               preferred_element_type: np.dtype | None) -> AbstractArray:
    del precision
    name = "lax.dot_general"
    (lc, rc), (lb, rb) = dimension_numbers
    for side, aval, dims in (("lhs", lhs, lc + lb), ("rhs", rhs, rc + rb)):
        bad = [d for d in dims if not 0 <= d < aval.ndim]
        if bad:
            raise TypeError(f"{name}: {side} dimension numbers {bad} are out of range for "
                            f"{side} {aval.str_short()} of rank {aval.ndim} "
                            f"(dimension_numbers={dimension_numbers})")
    if len(lb) != len(rb):
        raise TypeError(f"{name}: lhs_batch {lb} and rhs_batch {rb} must have the same "
                        f"length ({_pair(lhs, rhs)})")
    if len(lc) != len(rc):
        raise TypeError(f"{name}: lhs_contracting {lc} and rhs_contracting {rc} must have the "
                        f"same length ({_pair(lhs, rhs)})")
    for what, dims in (("lhs_batch", lb), ("rhs_batch", rb), ("lhs_contracting", lc),
                       ("rhs_contracting", rc)):
        if len(set(dims)) != len(dims):
            raise TypeError(f"{name}: {what} dimensions {dims} must be distinct")
    if set(lc) & set(lb) or set(rc) & set(rb):
        raise TypeError(f"{name}: batch and contracting dimensions must be disjoint, got "
                        f"dimension_numbers={dimension_numbers}")
    lbs, rbs = tuple(lhs.shape[d] for d in lb), tuple(rhs.shape[d] for d in rb)
    if lbs != rbs:
        raise TypeError(f"{name}: batch dimensions must have equal sizes, got {lbs} and {rbs} "
                        f"for {_pair(lhs, rhs)} with lhs_batch {lb}, rhs_batch {rb}")
    lcs, rcs = tuple(lhs.shape[d] for d in lc), tuple(rhs.shape[d] for d in rc)
    if lcs != rcs:
        raise TypeError(f"{name}: contracting dimensions must have equal sizes, got {lcs} and "
                        f"{rcs} for {_pair(lhs, rhs)} with lhs_contracting {lc}, "
                        f"rhs_contracting {rc}")
    dtype = _dot_result_dtype("dot_general", lhs, rhs, preferred_element_type)
    lhs_free = tuple(s for i, s in enumerate(lhs.shape) if i not in lc and i not in lb)
    rhs_free = tuple(s for i, s in enumerate(rhs.shape) if i not in rc and i not in rb)
    weak = lhs.weak_type and rhs.weak_type and preferred_element_type is None
    return AbstractArray(lbs + lhs_free + rhs_free, dtype, weak)


dot_general_p.def_abstract_eval(_dot_general_abstract_eval)


def _dot_dnums_attr(dimension_numbers: DotDimensionNumbers) -> str:
    (lc, rc), (lb, rb) = dimension_numbers
    fields = [(k, v) for k, v in (("lhs_batching_dimensions", lb), ("rhs_batching_dimensions", rb),
                                  ("lhs_contracting_dimensions", lc),
                                  ("rhs_contracting_dimensions", rc)) if v]
    return "#stablehlo.dot<" + ", ".join(f"{k} = [{', '.join(map(str, v))}]"
                                         for k, v in fields) + ">"


def _dot_general_lower(ctx: lowering.RuleContext, lhs: lowering.Value, rhs: lowering.Value, *,
                       dimension_numbers: DotDimensionNumbers, precision: CanonicalPrecision,
                       preferred_element_type: np.dtype | None) -> lowering.Value:
    del preferred_element_type  # the output aval carries it
    lhs_aval, rhs_aval = ctx.avals_in
    out = ctx.aval_out
    if lhs_aval.dtype != rhs_aval.dtype:
        # NOTE: XLA's CPU and GPU backends do not compile every mixed-dtype dot that
        # its type system accepts, so (as jax does) both sides are converted first.
        lhs = _convert(ctx, lhs, lhs_aval, out.dtype)
        rhs = _convert(ctx, rhs, rhs_aval, out.dtype)
    return ctx.op("stablehlo.dot_general", [lhs, rhs], out.strip_weak_type(), {
        "dot_dimension_numbers": _dot_dnums_attr(dimension_numbers),
        "precision_config": _precision_attr(precision)})


lowering.register_lowering(dot_general_p, _dot_general_lower)


# dot_general: transformation rules. It is bilinear, so its JVP is the product rule
# and each operand's transpose is another dot_general of the cotangent with the other
# operand, permuted back to the operand's layout (an outer product is instead taken in
# the operand order that gives that layout).


def _ranges_like(*lists: Sequence[int]) -> list[list[int]]:
    """Consecutive index ranges with the lengths of `lists` ([2, 1] -> [0, 1], [2])."""
    start, out = 0, []
    for xs in lists:
        out.append(list(range(start, start + len(xs))))
        start += len(xs)
    return out


def _dot_free_dims(ndim: int, contract: Sequence[int], batch: Sequence[int]) -> list[int]:
    return [d for d in range(ndim) if d not in contract and d not in batch]


def _dot_general_transpose_lhs(ct: Any, lhs: Any, rhs: Any, *,
                               dimension_numbers: DotDimensionNumbers,
                               precision: CanonicalPrecision,
                               preferred_element_type: np.dtype | None,
                               swap_ans: bool = False) -> Any:
    from lamina.lax import structural  # NOTE: lazy: sibling family
    (lc, rc), (lb, rb) = dimension_numbers
    x_aval = lhs.aval
    y_ndim = aval_of(rhs).ndim
    x_free = _dot_free_dims(x_aval.ndim, lc, lb)
    y_free = _dot_free_dims(y_ndim, rc, rb)
    # Where the batch and rhs-free dimensions sit in the cotangent (the output): the
    # output is (batch, lhs free, rhs free), or (batch, rhs free, lhs free) when this is
    # the rhs transpose calling with the operands swapped.
    if swap_ans:
        ct_batch, ct_y, _ = _ranges_like(lb, y_free, x_free)
    else:
        ct_batch, _, ct_y = _ranges_like(lb, x_free, y_free)
    # ct . rhs contracting the rhs-free dims gives (batch, lhs free, rhs contracting);
    # the rhs contracting dims come out in rhs order, i.e. lhs contracting sorted by rc.
    # rhs . ct gives (batch, rhs contracting, lhs free) instead.
    x_contract_by_y = [lc[i] for i in np.argsort(rc)]
    perm = _inverse_perm([*lb, *x_free, *x_contract_by_y])
    swapped_perm = _inverse_perm([*lb, *x_contract_by_y, *x_free])
    y_shape = aval_of(rhs).shape
    outer = all(y_shape[d] == 1 for d in y_free)  # nothing summed: a broadcast product
    if outer and not _is_identity(perm) and _is_identity(swapped_perm):
        # NOTE: an outer product (the weight cotangent of a per-example `x[None] @ w`)
        # is elementwise, so the order that needs no transpose moves no data. In jax's
        # order (ct first) XLA:CPU computes the product and then copies it into the
        # transposed layout when it is batched (vmap of grad), writing the weight-sized
        # result twice. Real contractions keep jax's order: XLA folds the transpose
        # into the dot there, and the other order made it transpose (and recompute)
        # the activations instead, slower in the transformer step.
        dims = ((tuple(y_free), tuple(ct_y)), (tuple(rb), tuple(ct_batch)))
        flipped = None if precision is None else (precision[1], precision[0])
        return _fit_dtype(dot_general(rhs, ct, dims, precision=flipped,
                                      preferred_element_type=preferred_element_type), x_aval)
    dims = ((tuple(ct_y), tuple(y_free)), (tuple(ct_batch), tuple(rb)))
    x_bar = dot_general(ct, rhs, dims, precision=precision,
                        preferred_element_type=preferred_element_type)
    if not _is_identity(perm):
        x_bar = structural.transpose(x_bar, perm)
    return _fit_dtype(x_bar, x_aval)


def _inverse_perm(dims: Sequence[int]) -> tuple[int, ...]:
    return tuple(int(i) for i in np.argsort(dims))


def _is_identity(perm: Sequence[int]) -> bool:
    return all(i == p for i, p in enumerate(perm))


def _fit_dtype(x_bar: Any, x_aval: AbstractArray) -> Any:
    from lamina.lax import elementwise  # NOTE: lazy: sibling family
    # NOTE: mixed-dtype operands and preferred_element_type make the product wider
    # than this operand; its cotangent must come back in the operand's own dtype.
    if aval_of(x_bar).dtype != x_aval.dtype:
        x_bar = elementwise.convert_element_type(x_bar, x_aval.dtype)
    return x_bar


def _dot_general_transpose_rule(ct: Any, lhs: Any, rhs: Any, *,
                                dimension_numbers: DotDimensionNumbers,
                                precision: CanonicalPrecision,
                                preferred_element_type: np.dtype | None) -> list[Any]:
    assert not (ad.is_undefined_primal(lhs) and ad.is_undefined_primal(rhs)), \
        "dot_general is bilinear, not linear in both operands at once"
    if ad.is_undefined_primal(lhs):
        return [_dot_general_transpose_lhs(
            ct, lhs, rhs, dimension_numbers=dimension_numbers, precision=precision,
            preferred_element_type=preferred_element_type), None]
    (lc, rc), (lb, rb) = dimension_numbers
    swapped = ((rc, lc), (rb, lb))
    rhs_precision = None if precision is None else (precision[1], precision[0])
    return [None, _dot_general_transpose_lhs(
        ct, rhs, lhs, dimension_numbers=swapped, precision=rhs_precision,
        preferred_element_type=preferred_element_type, swap_ans=True)]


def _dot_general_batch_dnums(ndims: tuple[int, int], bdims: tuple[Any, Any],
                             dimension_numbers: DotDimensionNumbers
                             ) -> tuple[DotDimensionNumbers, int]:
    """Dimension numbers for the batched operands (`ndims` are the unbatched ranks)
    and the position of the batch dimension in the output."""
    (lc, rc), (lb, rb) = dimension_numbers
    lbd, rbd = bdims

    def bump(dims: Sequence[int], bd: int) -> tuple[int, ...]:
        return tuple(d + (d >= bd) for d in dims)

    if lbd is not None and rbd is not None:
        # Both mapped: the vmapped dimension becomes a new leading dot batch dimension.
        return ((bump(lc, lbd), bump(rc, rbd)),
                ((lbd, *bump(lb, lbd)), (rbd, *bump(rb, rbd)))), 0
    if lbd is not None:
        # Only lhs mapped: it is one more lhs free dimension; find it in the output.
        lhs_free = _dot_free_dims(ndims[0], lc, lb)
        out_dim = len(lb) + sum(d < lbd for d in lhs_free)
        return ((bump(lc, lbd), rc), (bump(lb, lbd), rb)), out_dim
    rhs_free = _dot_free_dims(ndims[1], rc, rb)
    n_lhs_out = ndims[0] - len(lc)  # batch + lhs free dimensions
    out_dim = n_lhs_out + sum(d < rbd for d in rhs_free)
    return ((lc, bump(rc, rbd)), (lb, bump(rb, rbd))), out_dim


def _dot_general_batch_rule(args: Sequence[Any], dims: Sequence[Any], *,
                            dimension_numbers: DotDimensionNumbers,
                            precision: CanonicalPrecision,
                            preferred_element_type: np.dtype | None) -> tuple[Any, int]:
    lhs, rhs = args
    lbd, rbd = dims
    ndims = (aval_of(lhs).ndim - (lbd is not None), aval_of(rhs).ndim - (rbd is not None))
    dnums, out_dim = _dot_general_batch_dnums(ndims, (lbd, rbd), dimension_numbers)
    out = dot_general_p.bind(lhs, rhs, dimension_numbers=dnums, precision=precision,
                             preferred_element_type=preferred_element_type)
    return out, out_dim


ad.defjvp(dot_general_p,
          lambda g, lhs, rhs, **params: dot_general_p.bind(g, rhs, **params),
          lambda g, lhs, rhs, **params: dot_general_p.bind(lhs, g, **params))
ad.primitive_transposes[dot_general_p] = _dot_general_transpose_rule
batching.primitive_batchers[dot_general_p] = _dot_general_batch_rule


def dot(lhs: ArrayLike, rhs: ArrayLike, precision: PrecisionLike = None,
        preferred_element_type: DTypeLike | None = None, *,
        dimension_numbers: Any = None) -> Array:
    """Vector/matrix dot product: `lhs @ rhs` for 1-D and 2-D operands.

    Args:
        lhs: a vector or matrix.
        rhs: a vector or matrix whose first dimension matches `lhs`'s last.
        precision: as in `dot_general`.
        preferred_element_type: as in `dot_general`.
        dimension_numbers: if given, `dot` is `dot_general` (jax 0.10's signature).

    Returns:
        The contraction of the last dimension of `lhs` with the first of `rhs`.

    >>> import numpy as np
    >>> dot(np.ones((2, 3), np.float32), np.ones(3, np.float32)).shape
    (2,)
    """
    if dimension_numbers is not None:
        return dot_general(lhs, rhs, dimension_numbers, precision, preferred_element_type)
    lhs_shape, rhs_shape = aval_of(lhs).shape, aval_of(rhs).shape
    if not (1 <= len(lhs_shape) <= 2 and 1 <= len(rhs_shape) <= 2
            and lhs_shape[-1] == rhs_shape[0]):
        raise TypeError(
            f"lax.dot: without dimension_numbers, lax.dot multiplies vectors and matrices "
            f"whose inner sizes agree; got shapes {lhs_shape} and {rhs_shape}. Use "
            "lax.dot_general (or lamina.numpy.matmul / einsum) for other contractions.")
    return dot_general(lhs, rhs, (((len(lhs_shape) - 1,), (0,)), ((), ())), precision,
                       preferred_element_type)


def batch_matmul(lhs: ArrayLike, rhs: ArrayLike, precision: PrecisionLike = None) -> Array:
    """Batched matrix product over all leading dimensions: `[..., m, k] x [..., k, n]`.

    Args:
        lhs: an array of rank >= 2.
        rhs: an array of the same rank, with matching leading (batch) dimensions.
        precision: as in `dot_general`.

    Returns:
        The `[..., m, n]` product.

    >>> import numpy as np
    >>> batch_matmul(np.ones((4, 2, 3), np.float32), np.ones((4, 3, 5), np.float32)).shape
    (4, 2, 5)
    """
    lhs_ndim, rhs_ndim = aval_of(lhs).ndim, aval_of(rhs).ndim
    if min(lhs_ndim, rhs_ndim) < 2 or lhs_ndim != rhs_ndim:
        raise ValueError(f"lax.batch_matmul: arguments must have the same rank >= 2, got "
                         f"shapes {aval_of(lhs).shape} and {aval_of(rhs).shape}")
    batch = tuple(range(lhs_ndim - 2))
    return dot_general(lhs, rhs, (((lhs_ndim - 1,), (rhs_ndim - 2,)), (batch, batch)),
                       precision)
