"""Every OpRecord against its numpy reference: eager, over its dtypes and shape sweep."""
import sys
import zlib

import numpy as np
import pytest

sys.path.insert(0, __import__("os").path.dirname(__file__))
from op_records import all_records  # noqa: E402

from lamina.testing import assert_array_close  # noqa: E402

CASES = [(r, dt, shapes) for r in all_records() for dt in r.dtypes for shapes in r.arg_shapes()]


def _case_id(case):
    record, dtype, shapes = case
    return f"{record.name}-{np.dtype(dtype).name}-{'x'.join(str(list(s)) for s in shapes)}"


@pytest.mark.parametrize("case", CASES, ids=[_case_id(c) for c in CASES])
def test_op_matches_numpy(case):
    record, dtype, shapes = case
    rng = np.random.default_rng(zlib.crc32(record.name.encode()))
    args = [record.sampler(rng, s, dtype) for s in shapes]
    actual = record.fn(*args, **record.kwargs)
    expected = np.asarray(record.ref(*args, **record.kwargs))
    if record.out_dtype is not None:
        expected = expected.astype(record.out_dtype(*[a.dtype for a in args]))
    assert_array_close(actual, expected, rtol=record.tol, atol=record.tol,
                       check_dtype=record.check_dtype, err_msg=record.name)
