"""OpRecords for lax.dot_general and its wrappers, against numpy einsum.

References compute in a wide dtype (int64 / float64 / complex128) and the suite casts
the result to the lamina dtype (`out_dtype`), so integer results wrap exactly as the
narrow accumulation does.
"""
import numpy as np
from op_records import (ALL, COMPLEX, FLOATS, NUMERIC, OpRecord, bfloat16, float16, float32,
                        int8, int16, int32, uint8)

from lamina.lax import dots as dc

_LETTERS = "abcdefghijklmnopqrstuvwxyz"


def _wide(x):
    x = np.asarray(x)
    if np.issubdtype(x.dtype, np.complexfloating):
        return x.astype(np.complex128)
    if x.dtype == np.bool_ or np.issubdtype(x.dtype, np.integer):
        return x.astype(np.int64)
    return x.astype(np.float64)


def dot_general_ref(lhs, rhs, dimension_numbers, precision=None, preferred_element_type=None):
    """numpy einsum spelled from dot_general's dimension numbers."""
    del precision, preferred_element_type
    (lc, rc), (lb, rb) = dimension_numbers
    lhs, rhs = _wide(lhs), _wide(rhs)
    letters = iter(_LETTERS)
    lhs_sub = [next(letters) for _ in range(lhs.ndim)]
    rhs_sub = [next(letters) for _ in range(rhs.ndim)]
    for l_dim, r_dim in zip(lc + lb, rc + rb):
        rhs_sub[r_dim] = lhs_sub[l_dim]
    out = [lhs_sub[d] for d in lb]
    out += [s for i, s in enumerate(lhs_sub) if i not in lc and i not in lb]
    out += [s for i, s in enumerate(rhs_sub) if i not in rc and i not in rb]
    return np.einsum(f"{''.join(lhs_sub)},{''.join(rhs_sub)}->{''.join(out)}", lhs, rhs)


def _same(*in_dtypes):
    return in_dtypes[0]


def _to(dtype):
    return lambda *in_dtypes: dtype


MATMUL = (((1,), (0,)), ((), ()))
BATCHED = (((2,), (1,)), ((0,), (0,)))
OUTER = (((), ()), ((), ()))
# lhs (3, 2, 4, 5) x rhs (5, 2, 4, 6): two contracting dims in another order, and a
# batch dimension that is not leading.
MIXED = (((2, 3), (2, 0)), ((1,), (1,)))

RECORDS = [
    OpRecord("dot_general_matmul", dc.dot_general, dot_general_ref, 2, ALL,
             shapes=[((3, 4), (4, 5)), ((0, 4), (4, 2)), ((3, 0), (0, 2))],
             kwargs=dict(dimension_numbers=MATMUL), out_dtype=_same),
    OpRecord("dot_general_batched", dc.dot_general, dot_general_ref, 2, NUMERIC,
             shapes=[((2, 3, 4), (2, 4, 5)), ((0, 3, 4), (0, 4, 1))],
             kwargs=dict(dimension_numbers=BATCHED), out_dtype=_same),
    OpRecord("dot_general_outer", dc.dot_general, dot_general_ref, 2, NUMERIC,
             shapes=[((3,), (4,)), ((), (3,)), ((), ())],
             kwargs=dict(dimension_numbers=OUTER), out_dtype=_same),
    OpRecord("dot_general_mixed_dims", dc.dot_general, dot_general_ref, 2,
             (int32, float32, *COMPLEX),
             shapes=[((3, 2, 4, 5), (5, 2, 4, 6))],
             kwargs=dict(dimension_numbers=MIXED), out_dtype=_same),
    OpRecord("dot_general_int_accumulate", dc.dot_general, dot_general_ref, 2,
             (int8, int16, uint8), shapes=[((3, 40), (40, 2))],
             kwargs=dict(dimension_numbers=MATMUL, preferred_element_type=np.int32),
             out_dtype=_to(int32)),
    OpRecord("dot_general_float_accumulate", dc.dot_general, dot_general_ref, 2,
             (float16, bfloat16), shapes=[((2, 3, 16), (2, 16, 4))],
             kwargs=dict(dimension_numbers=BATCHED, preferred_element_type=np.float32),
             out_dtype=_to(float32)),
    OpRecord("dot", dc.dot, lambda a, b: np.dot(_wide(a), _wide(b)), 2, NUMERIC,
             shapes=[((4,), (4,)), ((3, 4), (4,)), ((4,), (4, 3)), ((3, 4), (4, 2))],
             out_dtype=_same),
    OpRecord("batch_matmul", dc.batch_matmul, lambda a, b: np.matmul(_wide(a), _wide(b)), 2,
             FLOATS, shapes=[((2, 3, 4), (2, 4, 5)), ((2, 1, 3, 4), (2, 1, 4, 2))],
             out_dtype=_same),
]
