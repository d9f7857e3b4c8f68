"""JVP, VJP and vmap of the gather/scatter family (lamina/lax/indexing_rules.py), end to
end through lamina.numpy indexing (`x[idx]`, take, take_along_axis, `x.at[idx]...`).

Every case is one function written against a numpy module and a lax module, so the
same code runs on lamina (lnp, lamina.lax) and on the jax oracle (jnp, jax.lax).
Index arrays are arguments, so the vmap tests can map the operand, the indices or both.
Values have no ties (min/max cases), so finite differences are well defined.
"""
from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import lamina
import lamina.numpy as lnp
from lamina import lax as llax
from lamina.config import config
from lamina.testing import assert_trees_close, check_grads, check_vmap


class Case(NamedTuple):
    name: str
    fn: Callable[..., Any]  # fn(xp, lax, operand, indices[, updates])
    shapes: tuple[tuple[int, ...], ...]  # operand (and updates) shapes
    indices: np.ndarray  # per-example indices (a batch of them is made for vmap)
    diff_argnums: tuple[int, ...] = (0,)  # positions of differentiable args (0, 2)


def _dn(lax: Any, kind: str, *fields: Any) -> Any:
    cls = lax.GatherDimensionNumbers if kind == "gather" else lax.ScatterDimensionNumbers
    return cls(*fields)


def _row_gather(xp: Any, lax: Any, x: Any, i: Any) -> Any:
    # A window gather: rows i, columns [1, 3) (slice_sizes > 1, offset dims).
    dn = _dn(lax, "gather", (1,), (0,), (0,))
    return lax.gather(x, i, dn, (1, 2), mode="clip")


def _scatter_add_windows(xp: Any, lax: Any, x: Any, i: Any, y: Any) -> Any:
    dn = _dn(lax, "scatter", (1,), (0,), (0,))
    return lax.scatter_add(x, i, y, dn)


def _scatter_unique(xp: Any, lax: Any, x: Any, i: Any, y: Any) -> Any:
    dn = _dn(lax, "scatter", (), (0,), (0,))
    return lax.scatter(x, i, y, dn, unique_indices=True)


I32 = np.int32
CASES = [
    # gathers ---------------------------------------------------------------------------
    Case("lax_gather_window_clip", _row_gather, ((4, 3),), np.array([[2], [0], [5]], I32)),
    Case("getitem_int_array", lambda xp, lax, x, i: x[i], ((5, 3),),
         np.array([[4, 0], [1, 4]], I32)),
    Case("getitem_slice_and_array", lambda xp, lax, x, i: x[1:, i], ((3, 5),),
         np.array([3, 0, 3], I32)),
    Case("getitem_two_arrays", lambda xp, lax, x, i: x[i[0], i[1]], ((4, 5),),
         np.array([[0, 3, 3], [4, 1, 4]], I32)),
    Case("getitem_fill", lambda xp, lax, x, i: x.at[i].get(mode="fill", fill_value=0.0),
         ((4,),), np.array([1, 7, 3], I32)),
    Case("get_strided_slice", lambda xp, lax, x, i: x.at[::2, i].get(mode="fill"),
         ((5, 3),), np.array([2, 0], I32)),
    Case("take", lambda xp, lax, x, i: xp.take(x, i, axis=1), ((2, 4),),
         np.array([3, 3, 0], I32)),
    Case("take_along_axis", lambda xp, lax, x, i: xp.take_along_axis(x, i, axis=1),
         ((3, 4),), np.array([[0, 3], [2, 2], [1, 0]], I32)),
    # scatters --------------------------------------------------------------------------
    Case("lax_scatter_add_windows", _scatter_add_windows, ((4, 3), (3, 3)),
         np.array([[1], [3], [1]], I32), (0, 2)),
    Case("lax_scatter_unique", _scatter_unique, ((5,), (2,)), np.array([[3], [0]], I32),
         (0, 2)),
    Case("at_add_duplicates", lambda xp, lax, x, i, y: x.at[i].add(y), ((4, 2), (3, 2)),
         np.array([2, 0, 2], I32), (0, 2)),
    Case("at_add_drop_out_of_bounds", lambda xp, lax, x, i, y: x.at[i].add(y, mode="drop"),
         ((4,), (3,)), np.array([1, 9, 1], I32), (0, 2)),
    Case("at_subtract", lambda xp, lax, x, i, y: x.at[i].subtract(y), ((4,), (3,)),
         np.array([1, 1, 3], I32), (0, 2)),
    Case("at_set_unique", lambda xp, lax, x, i, y: x.at[i].set(y), ((5, 2), (2, 2)),
         np.array([4, 1], I32), (0, 2)),
    Case("at_set_strided", lambda xp, lax, x, i, y: x.at[::2, i].set(y), ((5, 3), (3,)),
         np.array(1, I32), (0, 2)),
    Case("at_multiply_strided", lambda xp, lax, x, i, y: x.at[i, ::2].multiply(y),
         ((3, 4), (2,)), np.array(2, I32), (0, 2)),
    Case("at_min_duplicates", lambda xp, lax, x, i, y: x.at[i].min(y), ((5,), (4,)),
         np.array([3, 0, 3, 1], I32), (0, 2)),
    Case("at_max_duplicates", lambda xp, lax, x, i, y: x.at[i].max(y), ((5,), (4,)),
         np.array([3, 0, 3, 1], I32), (0, 2)),
]
IDS = [c.name for c in CASES]


def _args(case: Case, dtype: Any, seed: int = 0) -> list[Any]:
    """Distinct values (a permutation, scaled), so min/max have no ties."""
    rng = np.random.default_rng(seed)
    out = []
    for shape in case.shapes:
        n = int(np.prod(shape))
        out.append((rng.permutation(n).reshape(shape) * 0.37 - 1.1 + rng.uniform(0, 0.1))
                   .astype(dtype))
    return [out[0], case.indices, *out[1:]]


def _lamina_fn(case: Case) -> Callable[..., Any]:
    # NOTE: check_grads calls f on numpy arrays too; `.at` needs a lamina array.
    return lambda x, i, *y: case.fn(lnp, llax, lnp.asarray(x), i, *map(lnp.asarray, y))


def _jax_fn(case: Case) -> Callable[..., Any]:
    return lambda *args: case.fn(jnp, jax.lax, *args)


def _partial(f: Callable[..., Any], args: list[Any], argnums: tuple[int, ...]
             ) -> tuple[Callable[..., Any], list[Any]]:
    """`f` as a function of the differentiable arguments only."""
    def g(*diff: Any) -> Any:
        full = list(args)
        for k, v in zip(argnums, diff):
            full[k] = v
        return f(*full)
    return g, [args[k] for k in argnums]


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_jvp_and_vjp_match_jax(case: Case) -> None:
    args = _args(case, np.float32)
    f, primals = _partial(_lamina_fn(case), args, case.diff_argnums)
    jf, _ = _partial(_jax_fn(case), args, case.diff_argnums)
    rng = np.random.default_rng(1)
    tangents = [rng.standard_normal(p.shape).astype(np.float32) for p in primals]
    out, t_out = lamina.jvp(f, tuple(primals), tuple(tangents))
    # NOTE: the oracle runs jitted: one compile instead of one per jax primitive.
    j_out, j_t_out = jax.jit(lambda p, t: jax.jvp(jf, p, t))(tuple(primals), tuple(tangents))
    assert_trees_close(out, np.asarray(j_out))
    assert_trees_close(t_out, np.asarray(j_t_out))
    out, f_vjp = lamina.vjp(f, *primals)
    ct = rng.standard_normal(np.shape(j_out)).astype(np.float32)
    j_cts = jax.jit(lambda p, ct: jax.vjp(jf, *p)[1](ct))(tuple(primals), ct)
    assert_trees_close(f_vjp(ct), tuple(np.asarray(c) for c in j_cts))


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_check_grads_float64(case: Case) -> None:
    with config.override(enable_x64=True):
        args = _args(case, np.float64)
        f, primals = _partial(_lamina_fn(case), args, case.diff_argnums)
        check_grads(f, tuple(primals), order=1)


def _batched(case: Case, n: int = 3) -> list[Any]:
    """`n` examples of every argument, stacked on axis 0; the index batches are the
    original indices rolled, so each lane reads different positions."""
    lanes = [_args(case, np.float32, seed=s) for s in range(n)]
    out = [np.stack([lane[k] for lane in lanes]) for k in range(len(lanes[0]))]
    size = case.shapes[0][0]
    idx = case.indices
    out[1] = np.stack([np.where((idx >= 0) & (idx < size), (idx + s) % size, idx)
                       for s in range(n)]).astype(idx.dtype)
    return out


# NOTE: the index rolling above assumes the indices address axis 0; the other cases
# keep their indices unmapped.
_ROLLABLE = {"lax_gather_window_clip", "getitem_int_array", "getitem_fill",
             "lax_scatter_add_windows", "lax_scatter_unique", "at_add_duplicates",
             "at_subtract", "at_set_unique", "at_add_drop_out_of_bounds", "at_min_duplicates",
             "at_max_duplicates", "at_multiply_strided"}


_VMAP_PARAMS = [pytest.param(c, m, id=f"{c.name}-{m}") for c in CASES
                for m in ("operand", "indices", "both") if m == "operand" or c.name in _ROLLABLE]


@pytest.mark.parametrize("case,mapped", _VMAP_PARAMS)
def test_vmap_matches_loop(case: Case, mapped: str) -> None:
    batched = _batched(case)
    plain = _args(case, np.float32)
    n_args = len(plain)
    if mapped == "operand":  # operand (and updates) mapped, indices shared
        args = [batched[0], plain[1], *batched[2:]]
        axes = (0, None, *(0,) * (n_args - 2))
    elif mapped == "indices":  # only the indices mapped
        args = [plain[0], batched[1], *plain[2:]]
        axes = (None, 0, *(None,) * (n_args - 2))
    else:
        args, axes = batched, (0,) * n_args
    check_vmap(_lamina_fn(case), tuple(args), axes)


def test_vmap_moves_batch_axes() -> None:
    # Batch axes in other places than 0, for operand, indices and updates.
    case = CASES[IDS.index("lax_scatter_add_windows")]
    x, i, y = _batched(case)
    args = (np.moveaxis(x, 0, 2), np.moveaxis(i, 0, 1), np.moveaxis(y, 0, 1))
    check_vmap(_lamina_fn(case), args, (2, 1, 1))
    g = CASES[IDS.index("lax_gather_window_clip")]
    x, i = _batched(g)
    check_vmap(_lamina_fn(g), (np.moveaxis(x, 0, 1), np.moveaxis(i, 0, 1)), (1, 1))


def _loss(xp: Any, x: Any, i: Any, y: Any) -> Any:
    z = x.at[i].add(y)
    w = z[i[::-1]] * z[i]
    return (w * w).sum() + xp.take_along_axis(z, i, axis=0).sum()


def test_jit_grad_and_vmap_grad() -> None:
    x = np.linspace(-1.0, 2.0, 5, dtype=np.float32)
    y = np.array([0.5, -0.25, 1.5], np.float32)
    i = np.array([3, 1, 3], I32)
    grad = lamina.jit(lamina.grad(lambda x, y: _loss(lnp, x, i, y), argnums=(0, 1)))
    want = jax.jit(jax.grad(lambda x, y: _loss(jnp, x, i, y), argnums=(0, 1)))(x, y)
    assert_trees_close(grad(x, y), tuple(np.asarray(w) for w in want), rtol=1e-5)
    xs = np.stack([x, x + 1.0])
    vgrad = lamina.jit(lamina.vmap(lamina.grad(lambda x: _loss(lnp, x, i, y))))(xs)
    jvgrad = jax.jit(jax.vmap(jax.grad(lambda x: _loss(jnp, x, i, y))))(xs)
    assert_trees_close(vgrad, np.asarray(jvgrad), rtol=1e-5)
    # grad of a vmapped function, with the indices mapped.
    iis = np.array([[3, 1, 3], [0, 0, 4]], I32)
    gv = lamina.grad(lambda x: lamina.vmap(lambda j: _loss(lnp, x, j, y))(iis).sum())(x)
    jgv = jax.jit(jax.grad(lambda x: jax.vmap(lambda j: _loss(jnp, x, j, y))(iis).sum()))(x)
    assert_trees_close(gv, np.asarray(jgv), rtol=1e-5)


def test_at_set_duplicates_one_update_wins() -> None:
    # With repeated indices, the tangent (and cotangent) follow the update that won.
    x = np.arange(4, dtype=np.float32)
    y = np.array([10.0, 20.0, 30.0], np.float32)
    i = np.array([1, 1, 2], I32)
    out, f_vjp = lamina.vjp(lambda x, y: x.at[i].set(y), x, y)
    winner = 0 if np.asarray(out)[1] == 10.0 else 1
    gx, gy = f_vjp(np.ones(4, np.float32))
    np.testing.assert_array_equal(np.asarray(gx), [1, 0, 0, 1])
    expected = np.array([0, 0, 1], np.float32)
    expected[winner] = 1
    np.testing.assert_array_equal(np.asarray(gy), expected)
    _, t = lamina.jvp(lambda y: lnp.asarray(x).at[i].set(y), (y,),
                      (np.array([1.0, 2.0, 3.0], np.float32),))
    np.testing.assert_array_equal(np.asarray(t), [0, winner + 1, 3, 0])


@pytest.mark.parametrize("name", ["getitem_int_array", "at_set_unique", "at_max_duplicates"])
def test_second_order(name: str) -> None:
    case = CASES[IDS.index(name)]
    with config.override(enable_x64=True):
        args = _args(case, np.float64)
        f, primals = _partial(_lamina_fn(case), args, case.diff_argnums)
        check_grads(f, tuple(primals), order=2, modes=("fwd",))


@pytest.mark.parametrize("op", ["min", "max"])
def test_extremum_ties_average_like_jax(op: str) -> None:
    # Ties between the operand and updates, and between updates: the tangent is
    # shared evenly (jax's convention), which finite differences cannot check.
    x = np.array([1.0, 5.0, 2.0, 0.0], np.float32)
    y = np.array([5.0, 5.0, 2.0, 3.0], np.float32)
    i = np.array([1, 1, 2, 0], I32)
    tx = np.array([1.0, 2.0, 3.0, 4.0], np.float32)
    ty = np.array([10.0, 20.0, 30.0, 40.0], np.float32)
    f = lambda x, y: getattr(lnp.asarray(x).at[i], op)(y)  # noqa: E731
    jf = lambda x, y: getattr(jnp.asarray(x).at[i], op)(y)  # noqa: E731
    out, t = lamina.jvp(f, (x, y), (tx, ty))
    j_out, j_t = jax.jvp(jf, (x, y), (tx, ty))
    assert_trees_close((out, t), (np.asarray(j_out), np.asarray(j_t)))


@pytest.mark.parametrize("unique", [True, False])
def test_scatter_transpose_rule(unique: bool) -> None:
    # scatter_p's own transpose against the adjoint identity <ct, L t> = <L^T ct, t>,
    # with L = scatter(., i, .); with repeated indices only the written update counts.
    from lamina.interpreters import ad
    from lamina.lax.indexing import scatter_p
    dn = llax.ScatterDimensionNumbers((), (0,), (0,))
    i = np.array([[3], [0]] if unique else [[3], [0], [3]], I32)
    rng = np.random.default_rng(0)
    tx, ct = rng.standard_normal(5).astype(np.float32), rng.standard_normal(5).astype(np.float32)
    ty = rng.standard_normal(len(i)).astype(np.float32)
    params = dict(dimension_numbers=dn, indices_are_sorted=False, unique_indices=unique,
                  mode=llax.GatherScatterMode.FILL_OR_DROP)
    lt = np.asarray(scatter_p.bind(lnp.asarray(tx), i, lnp.asarray(ty), **params))
    undefined = [ad.UndefinedPrimal(lnp.asarray(v).aval) for v in (tx, ty)]
    gx, _, gy = ad.primitive_transposes[scatter_p](lnp.asarray(ct), undefined[0], i,
                                                   undefined[1], **params)
    np.testing.assert_allclose(np.vdot(ct, lt), np.vdot(gx, tx) + np.vdot(gy, ty), rtol=1e-5)
    assert np.asarray(gx)[[0, 3]].tolist() == [0, 0]


def test_scatter_mul_repeated_indices_updates_grad_unsupported() -> None:
    dn = llax.ScatterDimensionNumbers((), (0,), (0,))
    i = np.array([[1], [1]], I32)
    x = np.ones(3, np.float32)
    with pytest.raises(NotImplementedError, match="unique_indices"):
        lamina.jvp(lambda y: llax.scatter_mul(x, i, y, dn), (np.ones(2, np.float32),),
                   (np.ones(2, np.float32),))
    # ... while the operand's derivative is fine.
    _, t = lamina.jvp(lambda x: llax.scatter_mul(x, i, np.array([2.0, 3.0], np.float32), dn),
                      (x,), (np.ones(3, np.float32),))
    np.testing.assert_array_equal(np.asarray(t), [1, 6, 1])


@pytest.mark.parametrize("op", ["set", "max"])
def test_vmap_of_grad_through_masking_rules(op: str) -> None:
    # The repeated-index JVPs (winner masks, tie shares) under vmap, indices mapped.
    w = np.array([0.5, -1.0, 2.0, 1.5, 3.0], np.float32)

    def f(x: Any, i: Any, y: Any) -> Any:
        return lamina.grad(lambda x, y: (getattr(x.at[i], op)(y) * w).sum(),
                           argnums=(0, 1))(lnp.asarray(x), lnp.asarray(y))

    case = CASES[IDS.index("at_max_duplicates")]
    check_vmap(f, tuple(_batched(case)), (0, 0, 0))
