"""checkpoint/remat: values and gradients against jax.checkpoint, composition with jit
and vmap, and the policy's effect on what the backward pass recomputes."""
import jax
import jax.numpy as jnp
from jax.ad_checkpoint import checkpoint_name as jax_checkpoint_name
import numpy as np
import pytest

import lamina
import lamina.numpy as lnp
from lamina.ad_checkpoint import checkpoint, checkpoint_name, checkpoint_policies
from lamina.testing import assert_array_close

W = (np.arange(9, dtype=np.float32).reshape(3, 3) - 4.) * 0.1
X = np.array([0.5, -1., 2.], np.float32)


def _mlp(np_, name=lambda x, n: x):
    def f(w, x):
        h = name(np_.sin(w @ x), "h")
        return np_.sum(np_.cos(w @ h))
    return f


POLICIES = ["nothing_saveable", "dots_saveable", "everything_saveable",
            "dots_with_no_batch_dims_saveable"]


@pytest.mark.parametrize("policy", POLICIES)
def test_grad_matches_jax(policy):
    pl = getattr(checkpoint_policies, policy)
    pj = getattr(jax.checkpoint_policies, policy)
    got = lamina.grad(checkpoint(_mlp(lnp), policy=pl), (0, 1))(W, X)
    want = jax.grad(jax.checkpoint(_mlp(jnp), policy=pj), (0, 1))(W, X)
    for g, w in zip(got, want):
        assert_array_close(g, np.asarray(w))


def test_compositions():
    fl, fj = checkpoint(_mlp(lnp)), jax.checkpoint(_mlp(jnp))
    xs = np.stack([X, 2 * X])
    assert_array_close(lamina.jit(fl)(W, X), np.asarray(fj(W, X)))
    cases = [
        (lambda api, f: api.jit(api.grad(f))(W, X)),
        (lambda api, f: api.grad(api.jit(f))(W, X)),
        (lambda api, f: api.vmap(api.grad(f), (None, 0))(W, xs)),
        (lambda api, f: api.grad(lambda w: api.vmap(f, (None, 0))(w, xs).sum())(W)),
        (lambda api, f: api.jvp(lambda x: f(W, x), (X,), (X,))[1]),
    ]
    for case in cases:
        assert_array_close(case(lamina, fl), np.asarray(case(jax, fj)), rtol=1e-5, atol=1e-6)


def _backward_remat(program):
    """The primitive names inside the (transposed) remat equation of a grad program,
    and the names of the equations outside it."""
    inner = [e for e in program.eqns if e.primitive.name == "remat"]
    assert len(inner) == 1, program
    outside = [e.primitive.name for e in program.eqns if e.primitive.name != "remat"]
    return [e.primitive.name for e in inner[0].params["program"].eqns], outside


def test_policy_changes_what_is_saved():
    def grad_program(policy):
        return lamina.make_jaxpr(lamina.grad(checkpoint(_mlp(lnp), policy=policy)))(W, X)

    inner, outside = _backward_remat(grad_program(checkpoint_policies.nothing_saveable))
    assert outside == [] and "sin" in inner and "cos" in inner  # everything recomputed
    assert inner.count("dot_general") == 2 + 3  # 2 recomputed + 3 transposed
    inner, outside = _backward_remat(grad_program(checkpoint_policies.dots_saveable))
    # the dots are saved; sin(w @ x) only feeds the second dot forward and is recomputed
    assert outside.count("dot_general") == 2 and "cos" not in outside
    assert inner.count("dot_general") == 3 and "sin" in inner and "cos" in inner
    inner, outside = _backward_remat(grad_program(checkpoint_policies.everything_saveable))
    assert "sin" in outside and "sin" not in inner and "cos" not in inner


def test_names_policy():
    f = _mlp(lnp, checkpoint_name)
    policy = checkpoint_policies.save_only_these_names("h")
    program = lamina.make_jaxpr(lamina.grad(checkpoint(f, policy=policy)))(W, X)
    inner, outside = _backward_remat(program)
    # h = sin(w @ x) is saved; the only sin left inside is cos's derivative
    assert "name" in outside and inner.count("sin") == 1
    got = lamina.grad(checkpoint(f, policy=policy))(W, X)
    want = jax.grad(jax.checkpoint(
        _mlp(jnp, jax_checkpoint_name),
        policy=jax.checkpoint_policies.save_only_these_names("h")))(W, X)
    assert_array_close(got, np.asarray(want))
    policy = checkpoint_policies.save_anything_except_these_names("h")
    inner, _ = _backward_remat(lamina.make_jaxpr(
        lamina.grad(checkpoint(f, policy=policy)))(W, X))
    assert "name" in inner and "sin" not in inner  # only the named value is recomputed


def test_static_argnums_and_pytrees():
    def f(params, x, n):
        for _ in range(n):
            x = lnp.tanh(params["w"] @ x + params["b"])
        return x.sum()

    g = lamina.grad(checkpoint(f, static_argnums=(2,)))({"w": W, "b": X}, X, 2)

    def fj(params, x, n):
        for _ in range(n):
            x = jnp.tanh(params["w"] @ x + params["b"])
        return x.sum()

    gj = jax.grad(jax.checkpoint(fj, static_argnums=(2,)))({"w": W, "b": X}, X, 2)
    assert_array_close(g["w"], np.asarray(gj["w"]))
    assert_array_close(g["b"], np.asarray(gj["b"]))
