"""lamina.numpy tensor contractions beyond the OpRecord table: einsum over many
subscripts (both optimize settings), einsum_path, result dtypes and weak types against
jax.numpy, preferred_element_type, and errors naming the function and shapes."""
import os
import sys

import ml_dtypes
import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))

import lamina.numpy as lnp  # noqa: E402
from lamina import lax  # noqa: E402
from lamina.numpy._util import asarray  # noqa: E402
from lamina.testing import assert_array_close  # noqa: E402

EINSUM_CASES = [
    ("ij,jk->ik", [(3, 4), (4, 5)]),
    ("ij,jk", [(3, 4), (4, 5)]),
    ("i,i->", [(4,), (4,)]),
    ("i,i", [(4,), (4,)]),
    ("i,j->ij", [(3,), (4,)]),
    ("i,j", [(3,), (4,)]),
    ("ij->ji", [(3, 4)]),
    ("ji", [(3, 4)]),
    ("ii->i", [(4, 4)]),
    ("ii", [(4, 4)]),
    ("iij->j", [(3, 3, 4)]),
    ("iji->ij", [(3, 2, 3)]),
    ("ij->", [(3, 4)]),
    ("ij->j", [(3, 4)]),
    ("ij,ij->ij", [(3, 4), (3, 4)]),
    ("ij,ij->", [(3, 4), (3, 4)]),
    ("ij,i->", [(3, 4), (3,)]),
    ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]),
    ("...ij,...jk->...ik", [(2, 3, 4), (2, 4, 5)]),
    ("...ij,...jk", [(2, 1, 3, 4), (5, 4, 2)]),
    ("ij...,jk...->ik...", [(3, 4, 2), (4, 5, 2)]),
    ("i...->...", [(3, 4, 5)]),
    ("...,...->...", [(3, 1), (1, 4)]),
    ("...i,...i->...", [(2, 3), (3,)]),
    ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 5)]),
    ("ij,jk,kl,lm->im", [(2, 3), (3, 4), (4, 5), (5, 2)]),
    ("abc,cd,db->a", [(2, 3, 4), (4, 5), (5, 3)]),
    ("ijk,jil->kl", [(3, 4, 5), (4, 3, 2)]),
    ("ii,ij->j", [(3, 3), (3, 4)]),
    ("iij,jk->ik", [(3, 3, 4), (4, 2)]),
    ("i,i,i->i", [(4,), (4,), (4,)]),
    ("bn,anm,bm->ba", [(2, 3), (5, 3, 4), (2, 4)]),
    ("ab,cd->abcd", [(2, 3), (4, 1)]),
    ("a,ab,abc->abc", [(2,), (2, 3), (2, 3, 4)]),
    ("Ab,bC->CA", [(2, 3), (3, 4)]),
    ("ij,kj->ik", [(0, 3), (2, 3)]),
    ("i,i->i", [(0,), (0,)]),
]


@pytest.mark.parametrize("optimize", [True, False], ids=["greedy", "left-to-right"])
@pytest.mark.parametrize("case", EINSUM_CASES, ids=[c[0] for c in EINSUM_CASES])
def test_einsum_matches_numpy(case, optimize):
    eq, shapes = case
    rng = np.random.default_rng(len(eq))
    ops = [rng.normal(size=s).astype(np.float32) for s in shapes]
    expected = np.einsum(eq, *[o.astype(np.float64) for o in ops]).astype(np.float32)
    assert_array_close(lnp.einsum(eq, *ops, optimize=optimize), expected, rtol=1e-5, atol=1e-5)


def test_einsum_interleaved_form():
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    y = np.arange(12, dtype=np.float32).reshape(3, 4)
    assert_array_close(lnp.einsum(x, [0, 1], y, [1, 2], [0, 2]), x @ y)
    assert_array_close(lnp.einsum(x, [0, 1], y, [1, 2]), x @ y)
    assert_array_close(lnp.einsum(x, [Ellipsis, 1], [Ellipsis]), x.sum(-1))


def test_einsum_one_dot_general_per_pair(monkeypatch):
    calls = []
    real = lax.dot_general
    monkeypatch.setattr(lax, "dot_general", lambda *a, **k: calls.append(1) or real(*a, **k))
    ops = [np.ones(s, np.float32) for s in [(2, 3), (3, 4), (4, 5), (5, 2)]]
    lnp.einsum("ij,jk,kl,lm->im", *ops)
    assert len(calls) == 3


def test_einsum_path():
    x, y, z = np.ones((2, 3)), np.ones((3, 100)), np.ones((100, 5))
    path, info = lnp.einsum_path("ij,jk,kl", x, y, z, optimize="greedy")
    assert path == [(1, 2), (0, 1)]
    assert "Complete contraction" in info and "ij,jk,kl" in info
    path_lr, _ = lnp.einsum_path("ij,jk,kl", x, y, z, optimize=False)
    assert path_lr == [(0, 1), (0, 1)]
    ops = [np.random.default_rng(0).normal(size=o.shape).astype(np.float32) for o in (x, y, z)]
    expected = ops[0] @ ops[1] @ ops[2]
    for p in [path, path_lr, ["einsum_path", (0, 1), (0, 1)]]:
        assert_array_close(lnp.einsum("ij,jk,kl", *ops, optimize=p), expected, rtol=1e-5)
    with pytest.raises(ValueError, match="does not contract all"):
        lnp.einsum("ij,jk,kl", *ops, optimize=[(0, 1)])


def test_einsum_errors():
    a = np.ones((2, 3), np.float32)
    cases = [
        (lambda: lnp.einsum("ij,jk", a), "2 operand subscripts for 1 operands"),
        (lambda: lnp.einsum("ijk", a), "do not match the operand's rank"),
        (lambda: lnp.einsum("ij,ij", a, np.ones((2, 4))), "size of label 'j' differs"),
        (lambda: lnp.einsum("i1", a), "invalid subscript characters"),
        (lambda: lnp.einsum("ij->k", a), "output labels \\['k'\\]"),
        (lambda: lnp.einsum("ij->ii", a), "repeat"),
        (lambda: lnp.einsum("ij", a, optimize="fastest"), "unknown optimize"),
    ]
    for fn, match in cases:
        with pytest.raises(ValueError, match=match):
            fn()
    with pytest.raises(NotImplementedError, match="out"):
        lnp.einsum("ij", a, out=a)


DTYPE_PAIRS = [(np.int8, np.int8), (np.int8, np.uint8), (ml_dtypes.bfloat16, np.float32),
               (np.int32, np.float16), (np.bool_, np.bool_), (np.uint8, np.uint32),
               (np.complex64, np.float32)]


def _dtype_cases():
    import jax.numpy as jnp
    fns = {
        "matmul": (lnp.matmul, jnp.matmul, (2, 3), (3, 2)),
        "dot": (lnp.dot, jnp.dot, (2, 3), (3,)),
        "einsum": (lambda a, b: lnp.einsum("ij,jk", a, b),
                   lambda a, b: jnp.einsum("ij,jk", a, b), (2, 3), (3, 2)),
        "tensordot": (lnp.tensordot, jnp.tensordot, (2, 3), (2, 3)),
        "inner": (lnp.inner, jnp.inner, (3,), (3,)),
        "outer": (lnp.outer, jnp.outer, (2,), (3,)),
        "kron": (lnp.kron, jnp.kron, (2,), (2,)),
        "vdot": (lnp.vdot, jnp.vdot, (3,), (3,)),
    }
    return fns


def test_result_dtypes_and_weak_types_match_jax():
    fns = _dtype_cases()
    for name, (ours, theirs, sa, sb) in fns.items():
        for da, db in DTYPE_PAIRS:
            if name == "kron" and da is np.bool_:
                continue  # jnp.kron rejects bool (lax.mul); lamina's uses logical and
            a, b = np.ones(sa, da), np.ones(sb, db)
            o, t = ours(a, b), theirs(a, b)
            assert (o.dtype, o.weak_type) == (t.dtype, t.weak_type), (name, da, db)
            assert_array_close(o, np.asarray(t), err_msg=f"{name} {da} {db}")
    # Python scalars are weak: x @ ... keeps x's dtype, dot with a scalar multiplies.
    import jax.numpy as jnp
    x = np.ones((2, 2), np.float16)
    for o, t in [(lnp.dot(x, 2.0), jnp.dot(x, 2.0)), (lnp.inner(3, x), jnp.inner(3, x)),
                 (lnp.einsum("ij,->ij", x, 2), jnp.einsum("ij,->ij", x, 2))]:
        assert (o.dtype, o.weak_type) == (t.dtype, t.weak_type)
        assert_array_close(o, np.asarray(t))
    w = lax.broadcast_in_dim(asarray(2.0), (2, 2), ())
    assert lnp.matmul(w, w).weak_type and lnp.einsum("ij,jk", w, w).weak_type


def test_preferred_element_type():
    a = np.full((2, 40), 100, np.int8)
    b = np.ones((40, 3), np.int8)
    for fn in [lnp.matmul, lnp.dot, lambda x, y, **k: lnp.einsum("ij,jk", x, y, **k),
               lambda x, y, **k: lnp.tensordot(x, y, 1, **k)]:
        out = fn(a, b, preferred_element_type=np.int32)
        assert out.dtype == np.int32 and not out.weak_type
        assert_array_close(out, np.full((2, 3), 4000, np.int32))
    h = np.ones((3, 4), ml_dtypes.bfloat16)
    out = lnp.matmul(h, h.T, preferred_element_type=np.float32)
    assert out.dtype == np.float32
    assert_array_close(out, np.full((3, 3), 4, np.float32))


def test_contraction_errors():
    a = np.ones((2, 3), np.float32)
    with pytest.raises(ValueError, match="matmul: input operand 1 must have ndim at least 1"):
        lnp.matmul(a, np.float32(2))
    with pytest.raises(TypeError, match="matmul: contracting dimensions differ.*\\(2, 3\\)"):
        lnp.matmul(a, a)
    with pytest.raises(ValueError, match="batch dimensions.*\\(2, 2, 3\\).*\\(3, 3, 4\\)"):
        lnp.matmul(np.ones((2, 2, 3)), np.ones((3, 3, 4)))
    with pytest.raises(TypeError, match="dot: shapes \\(2, 3\\) and \\(2, 3\\) are not aligned"):
        lnp.dot(a, a)
    with pytest.raises(TypeError, match="tensordot: number of axes 3"):
        lnp.tensordot(a, a, 3)
    with pytest.raises(TypeError, match="equal length"):
        lnp.tensordot(a, a, ((0, 1), (0,)))
    with pytest.raises(TypeError, match="shape mismatch"):
        lnp.tensordot(a, a, ((0,), (1,)))
    with pytest.raises(ValueError, match="vdot: arrays must have the same size"):
        lnp.vdot(a, np.ones(5))
    with pytest.raises(ValueError, match="vecdot: axes must match"):
        lnp.vecdot(a, np.ones((2, 4)))
    with pytest.raises(ValueError, match="trace: axis1 and axis2 can not be the same"):
        lnp.trace(a, axis1=1, axis2=-1)
    with pytest.raises(ValueError, match="cross: incompatible dimensions"):
        lnp.cross(np.ones(4), np.ones(3))
    with pytest.raises(TypeError, match="array-like"):
        lnp.matmul([1, 2], [3, 4])


def test_trace_dtype_argument():
    a = np.arange(9, dtype=np.int8).reshape(3, 3)
    assert lnp.trace(a).dtype == np.int32
    out = lnp.trace(a, dtype=np.float32)
    assert out.dtype == np.float32
    assert_array_close(out, np.float32(12))
