"""Runs a lamina.optim transformation and its optax twin side by side and compares them.

One params pytree holds the three test problems (a parabola, a Rosenbrock valley and a
small MLP) plus a scalar leaf and a None leaf, in nested dicts, lists and tuples; the
loss is their sum, so one jitted update per optimizer covers all of them. At every step
both optimizers get the same gradients and params (lamina's trajectory, "teacher
forcing"), so chaotic dynamics cannot make them drift apart: only the optimizer math is
compared. Updates and states must agree within 1e-6 relative (float32), and the state
pytrees must have the same NamedTuple type names and fields.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

import lamina
import lamina.numpy as lnp
import lamina.optim as optim
from lamina.tree_util import tree_leaves, tree_map

RTOL = 1e-6
STEPS = 30


def init_params(scalar_leaf: bool = True) -> dict:
    rng = np.random.default_rng(0)
    f32 = lambda *s: rng.normal(size=s).astype(np.float32)  # noqa: E731
    params = {
        "parabola": [f32(5)],
        "rosen": (np.array([-1.2, 1.0], np.float32),),
        "mlp": {"w1": f32(3, 4) * 0.5, "b1": f32(4) * 0.1, "w2": f32(4, 2) * 0.5,
                "b2": f32(2) * 0.1},
        "frozen": None,
    }
    if scalar_leaf:
        params["scalar"] = np.array(0.5, np.float32)
    return params


_X = np.random.default_rng(1).normal(size=(8, 3)).astype(np.float32)
_Y = np.random.default_rng(2).normal(size=(8, 2)).astype(np.float32)


def loss(p):
    parabola = lnp.sum(lnp.arange(1.0, 6.0) * p["parabola"][0] ** 2)
    x, y = p["rosen"][0][0], p["rosen"][0][1]
    rosen = (1 - x) ** 2 + 10.0 * (y - x ** 2) ** 2
    m = p["mlp"]
    h = lnp.tanh(_X @ m["w1"] + m["b1"])
    mlp = lnp.mean((h @ m["w2"] + m["b2"] - _Y) ** 2)
    total = parabola + rosen + mlp
    if "scalar" in p:
        total = total + 3.0 * p["scalar"] ** 2
    return total


_grad = lamina.jit(lamina.grad(loss))


def to_numpy(tree):
    return tree_map(np.asarray, tree)


def to_jax(tree):
    return jax.tree.map(jnp.asarray, to_numpy(tree))


def _describe(tree, lib):
    """The structure of a state as plain data: NamedTuples by type name and fields."""
    if tree is None:
        return None
    if isinstance(tree, tuple) and hasattr(tree, "_fields"):
        return (type(tree).__name__, tree._fields,
                tuple(_describe(x, lib) for x in tree))
    if isinstance(tree, (tuple, list)):
        return (type(tree).__name__, tuple(_describe(x, lib) for x in tree))
    if isinstance(tree, dict):
        return ("dict", tuple((k, _describe(tree[k], lib)) for k in sorted(tree)))
    return "leaf"


def _key_data_or_array(x, lib):
    if lib == "jax" and isinstance(x, jax.Array) and jax.dtypes.issubdtype(
            x.dtype, jax.dtypes.prng_key):
        return np.asarray(jax.random.key_data(x))
    if lib == "lamina" and "key" in str(getattr(x, "dtype", "")):
        import lamina.random
        return np.asarray(lamina.random.key_data(x))
    return np.asarray(x)


def assert_same(ours, theirs, what: str, rtol: float = RTOL) -> None:
    """Same structure (NamedTuple names and fields included), dtypes and values."""
    d_ours, d_theirs = _describe(ours, "lamina"), _describe(theirs, "jax")
    assert d_ours == d_theirs, f"{what}: structure differs\nlamina: {d_ours}\noptax:  {d_theirs}"
    a_leaves = [_key_data_or_array(x, "lamina") for x in tree_leaves(ours)]
    b_leaves = [_key_data_or_array(x, "jax") for x in jax.tree.leaves(theirs)]
    assert len(a_leaves) == len(b_leaves), what
    for i, (a, b) in enumerate(zip(a_leaves, b_leaves)):
        assert a.shape == b.shape, f"{what}, leaf {i}: shape {a.shape} vs optax {b.shape}"
        assert a.dtype == b.dtype, f"{what}, leaf {i}: dtype {a.dtype} vs optax {b.dtype}"
        if a.dtype == np.bool_ or np.issubdtype(a.dtype, np.integer):
            np.testing.assert_array_equal(a, b, err_msg=f"{what}, leaf {i}")
            continue
        a64, b64 = a.astype(np.float64), b.astype(np.float64)
        # NOTE: elements that come out of cancellations (e.g. g - mean(g)) carry an
        # absolute error relative to the leaf's scale, so atol follows the leaf's size.
        finite = np.abs(b64[np.isfinite(b64)])
        scale = float(finite.max()) if finite.size else 0.0
        np.testing.assert_allclose(a64, b64, rtol=rtol, atol=rtol * 0.1 * scale + 1e-30,
                                   err_msg=f"{what}, leaf {i}")


def run_against_optax(ours, theirs, *, steps: int = STEPS, scalar_leaf: bool = True,
                      step_size: float = 1.0, rtol: float = RTOL, extra_args=None) -> None:
    """Runs `steps` jitted updates of both; `step_size` scales the updates applied to
    the shared params (for building blocks whose raw output is not a descent step)."""
    extra_args = extra_args or {}
    params = tree_map(lnp.asarray, init_params(scalar_leaf))
    state = ours.init(params)
    ostate = theirs.init(to_jax(params))
    assert_same(state, ostate, "init state", rtol)
    our_step = lamina.jit(lambda g, s, p: ours.update(g, s, p, **extra_args))
    their_step = jax.jit(lambda g, s, p: theirs.update(g, s, p, **extra_args))
    for i in range(steps):
        grads = _grad(params)
        updates, state = our_step(grads, state, params)
        oupdates, ostate = their_step(to_jax(grads), ostate, to_jax(params))
        assert_same(updates, oupdates, f"step {i}: updates", rtol)
        assert_same(state, ostate, f"step {i}: state", rtol)
        if step_size != 1.0:
            updates = tree_map(lambda u: step_size * u, updates)
        params = optim.apply_updates(params, updates)
    assert all(np.all(np.isfinite(np.asarray(x))) for x in tree_leaves(params))
