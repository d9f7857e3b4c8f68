"""The Module system: init/apply/bind, naming, sharing, methods, state, rngs, errors,
lifted transforms, summary, params utilities, precision, and the three model styles."""
import numpy as np
import pytest

import lamina
import lamina.numpy as lnp
import lamina.testing  # noqa: F401
from lamina import nn, optim

K = lamina.random.PRNGKey(0)
X = lnp.asarray(np.random.default_rng(0).normal(size=(4, 3)).astype(np.float32))


def shapes(tree):
    return lamina.tree_util.tree_map(lambda a: tuple(a.shape), tree)


class MLP(nn.Module):
    features: tuple

    def __call__(self, x):
        for f in self.features[:-1]:
            x = nn.relu(nn.Dense(f)(x))
        return nn.Dense(self.features[-1], name="head")(x)


class Counter(nn.Module):
    def __call__(self, x):
        c = self.variable("state", "count", lambda: lnp.zeros((), lnp.int32))
        if not self.is_initializing():
            c.value = c.value + 1
        if self.is_training:
            x = x + lamina.random.normal(self.make_rng("dropout"), x.shape)
        return x


class AE(nn.Module):
    enc: nn.Module
    dec: nn.Module = nn.Dense(3)

    def __call__(self, x):
        return self.decode(self.encode(x))

    def encode(self, x):
        return Counter()(self.enc(x))

    def decode(self, z):
        return self.dec(z)


def test_dataclass_hash_and_fields():
    m = MLP((8, 2))
    assert m == MLP((8, 2)) and hash(m) == hash(MLP(features=(8, 2)))
    assert m != MLP((8, 3)) and MLP((8, 2), name="a").name == "a"
    with pytest.raises(Exception):
        m.features = (1,)
    assert nn.Dense(3) == nn.Dense(3) and {nn.Dense(3): 1}[nn.Dense(3)] == 1


def test_init_apply_names():
    m = MLP((8, 2))
    v = m.init(K, X)
    assert shapes(v) == {"params": {"Dense_0": {"bias": (8,), "kernel": (3, 8)},
                                    "head": {"bias": (2,), "kernel": (8, 2)}}}
    y = m.apply(v, X)
    p = v["params"]
    ref = nn.relu(X @ p["Dense_0"]["kernel"] + p["Dense_0"]["bias"]) @ p["head"]["kernel"] \
        + p["head"]["bias"]
    np.testing.assert_allclose(np.asarray(y), np.asarray(ref), rtol=1e-6, atol=1e-6)
    # deterministic and key-dependent
    v2 = m.init(K, X)
    np.testing.assert_array_equal(np.asarray(v2["params"]["head"]["kernel"]),
                                  np.asarray(p["head"]["kernel"]))
    v3 = m.init(lamina.random.PRNGKey(1), X)
    assert not np.array_equal(np.asarray(v3["params"]["head"]["kernel"]),
                              np.asarray(p["head"]["kernel"]))
    # different params get different keys
    assert not np.array_equal(np.asarray(p["Dense_0"]["kernel"][:, :2]),
                              np.asarray(p["head"]["kernel"][:3]))


def test_init_is_jittable_and_takes_shape_structs():
    m = MLP((8, 2))
    v = lamina.jit(lambda k: m.init(k, X))(K)
    vs = m.init(K, lamina.ShapeDtypeStruct((4, 3), lnp.float32))
    assert shapes(v) == shapes(vs) == shapes(m.init(K, X))
    np.testing.assert_array_equal(np.asarray(v["params"]["head"]["kernel"]),
                                  np.asarray(vs["params"]["head"]["kernel"]))


def test_field_submodules_methods_state_rngs():
    m = AE(nn.Dense(2))
    v = m.init(K, X)
    assert shapes(v) == {"params": {"dec": {"bias": (3,), "kernel": (2, 3)},
                                    "enc": {"bias": (2,), "kernel": (3, 2)}},
                         "state": {"Counter_0": {"count": ()}}}
    z, _ = m.apply(v, X, method="encode", mutable=True)
    assert z.shape == (4, 2)
    assert m.apply(v, z, method=AE.decode).shape == (4, 3)
    assert m.apply(v, z, method=lambda mod, z: mod.dec(z)).shape == (4, 3)
    y, new = m.apply(v, X, mutable=["state"])
    assert int(new["state"]["Counter_0"]["count"]) == 1
    v = {**v, **new}
    y1, _ = m.apply(v, X, mutable=True, train=True, rngs={"dropout": K})
    y2, _ = m.apply(v, X, mutable=True, train=True, rngs=K)
    y3, _ = m.apply(v, X, mutable=True, train=True, rngs={"dropout": lamina.random.PRNGKey(5)})
    assert not np.allclose(np.asarray(y1), np.asarray(y)) and not np.allclose(
        np.asarray(y1), np.asarray(y3))
    y1b, _ = m.apply(v, X, mutable=True, train=True, rngs={"dropout": K})
    np.testing.assert_array_equal(np.asarray(y1), np.asarray(y1b))
    del y2


def test_bind():
    m = AE(nn.Dense(2))
    b = m.bind(m.init(K, X), mutable=True)
    assert b(X).shape == (4, 3) and b.encode(X).shape == (4, 2)
    assert int(b.variables["state"]["Counter_0"]["count"]) == 2
    assert b.enc == nn.Dense(2)


def test_sharing_by_reuse():
    class Shared(nn.Module):
        def __call__(self, x):
            d = nn.Dense(3)
            return d(d(x))

    class Twice(nn.Module):
        inner: nn.Module

        def __call__(self, x):
            return self.inner(x) + self.inner(x)

    assert shapes(Shared().init(K, X)) == {"params": {"Dense_0": {"bias": (3,), "kernel": (3, 3)}}}
    v = Twice(MLP((3, 3))).init(K, X)
    assert sorted(v["params"]["inner"]) == ["Dense_0", "head"]
    with pytest.raises(nn.NameInUseError, match="proj"):
        class Clash(nn.Module):
            def __call__(self, x):
                return nn.Dense(3, name="proj")(x) + nn.Dense(3, name="proj")(x)
        Clash().init(K, X)


def test_errors_name_path_and_shapes():
    v = MLP((8, 2)).init(K, X)
    with pytest.raises(nn.ParamShapeError, match=r"'head'.*\[8, 2\].*\[8, 5\]"):
        MLP((8, 5)).apply(v, X)
    with pytest.raises(nn.MissingVariableError, match=r"whole dict"):
        MLP((8, 2)).apply(v["params"], X)
    with pytest.raises(nn.MissingVariableError, match="Dense_1"):
        MLP((8, 8, 2)).apply(v, X)
    with pytest.raises(nn.UnusedVariableError, match="extra"):
        MLP((2,)).apply({"params": {**v["params"], "head": {"kernel": lnp.ones((3, 2)),
                                                            "bias": lnp.ones(2)}}}, X)
    with pytest.raises(nn.MissingRngError, match="Counter_0.*'dropout'"):
        AE(nn.Dense(2)).apply(AE(nn.Dense(2)).init(K, X), X, train=True, mutable=True)
    with pytest.raises(nn.ImmutableVariableError, match="mutable"):
        AE(nn.Dense(2)).apply(AE(nn.Dense(2)).init(K, X), X)
    with pytest.raises(nn.UnboundModuleError, match="apply"):
        nn.Dense(3)(X)
    with pytest.raises(AttributeError, match="nope"):
        MLP((2,)).apply(v, X, method="nope")


def test_transforms_of_apply():
    m = MLP((8, 2))
    v = m.init(K, X)
    f = lamina.jit(m.apply)
    np.testing.assert_allclose(np.asarray(f(v, X)), np.asarray(m.apply(v, X)), rtol=1e-6)
    g = lamina.grad(lambda v: m.apply(v, X).sum())(v)
    assert shapes(g) == shapes(v)
    ys = lamina.vmap(m.apply, in_axes=(None, 0))(v, X[:, None, :])
    assert ys.shape == (4, 1, 2)
    h = lamina.jit(lambda mod, v, x: mod.apply(v, x), static_argnums=0)
    assert h(m, v, X).shape == (4, 2)


class Block(nn.Module):
    def __call__(self, x, _):
        return nn.relu(nn.Dense(4)(x)), None


def test_scan_stack():
    Stack = nn.scan(Block, variable_axes={"params": 0}, split_rngs={"params": True}, length=5)
    x = lnp.ones((2, 4))
    v = Stack().init(K, x, None)
    k = v["params"]["Dense_0"]["kernel"]
    assert k.shape == (5, 4, 4) and not np.allclose(np.asarray(k[0]), np.asarray(k[1]))
    y, _ = lamina.jit(lambda v, x: Stack().apply(v, x, None))(v, x)
    ref = x
    for i in range(5):
        p = lamina.tree_util.tree_map(lambda a: a[i], v["params"]["Dense_0"])
        ref = nn.relu(nn.Dense(4).apply({"params": p}, ref))
    np.testing.assert_allclose(np.asarray(y), np.asarray(ref), rtol=1e-5, atol=1e-6)
    # the body is traced once: one scan in the program, whatever the depth
    jaxpr = str(lamina.make_jaxpr(lambda v: Stack().apply(v, x, None))(v))
    assert jaxpr.count("scan") >= 1 and jaxpr.count("dot_general") == 1
    g = lamina.grad(lambda v: Stack().apply(v, x, None)[0].sum())(v)
    assert shapes(g) == shapes(v)


def test_scan_shared_params_rnn_and_remat_vmap():
    class Cell(nn.Module):
        def __call__(self, h, x):
            h = lnp.tanh(nn.Dense(3)(h) + x)
            return h, h

    RNN = nn.scan(Cell)
    xs = lnp.ones((6, 3))
    v = RNN().init(K, lnp.zeros(3), xs)
    assert shapes(v) == {"params": {"Dense_0": {"bias": (3,), "kernel": (3, 3)}}}
    h, hs = RNN().apply(v, lnp.zeros(3), xs)
    ref = lnp.zeros(3)
    for t in range(6):
        ref, _ = Cell().apply(v, ref, xs[t])
    np.testing.assert_allclose(np.asarray(h), np.asarray(ref), rtol=1e-5)
    assert hs.shape == (6, 3)

    RDense = nn.remat(MLP)
    v = RDense((4, 2)).init(K, X)
    assert shapes(v) == shapes(MLP((4, 2)).init(K, X))
    g1 = lamina.grad(lambda v: RDense((4, 2)).apply(v, X).sum())(v)
    g2 = lamina.grad(lambda v: MLP((4, 2)).apply(v, X).sum())(v)
    lamina.testing.assert_trees_close(g1, g2)

    Ens = nn.vmap(nn.Dense, variable_axes={"params": 0}, split_rngs={"params": True},
                  in_axes=None, axis_size=3)
    v = Ens(2).init(K, X)
    assert v["params"]["kernel"].shape == (3, 3, 2)
    y = Ens(2).apply(v, X)
    p1 = lamina.tree_util.tree_map(lambda a: a[1], v)
    np.testing.assert_allclose(np.asarray(y[1]), np.asarray(nn.Dense(2).apply(p1, X)), rtol=1e-6)


def test_summary():
    s = nn.summary(AE(nn.Dense(2)), X)
    text = str(s)
    assert s.total_params == 3 * 2 + 2 + 2 * 3 + 3
    for word in ("enc", "dec", "Counter_0", "kernel f32[3,2]", "state/count", "total: 17"):
        assert word in text, (word, text)


def test_params_utils():
    v = MLP((8, 2)).init(K, X)["params"]
    assert nn.param_paths(v) == ["Dense_0/bias", "Dense_0/kernel", "head/bias", "head/kernel"]
    assert nn.param_paths(nn.filter(v, "*/kernel")) == ["Dense_0/kernel", "head/kernel"]
    train, frozen = nn.partition(v, "head/**")
    assert frozen["head"]["kernel"] is None and train["Dense_0"]["bias"] is None
    back = nn.combine(train, frozen)
    lamina.testing.assert_trees_close(back, v)
    # freezing: gradients only for the trainable part
    g = lamina.grad(lambda t: MLP((8, 2)).apply({"params": nn.combine(t, frozen)}, X).sum())(train)
    assert g["Dense_0"]["kernel"] is None and g["head"]["kernel"].shape == (8, 2)


def test_precision_policy():
    pol = nn.Precision(params="bfloat16", compute="bfloat16", output="float32")
    m = MLP((8, 2))
    v = m.init(K, X, precision=pol)
    assert all(a.dtype == lnp.bfloat16 for a in lamina.tree_util.tree_leaves(v))
    y = m.apply(v, X, precision=pol)
    assert y.dtype == np.float32
    ref = m.apply(lamina.tree_util.tree_map(lambda a: a.astype(lnp.float32), v), X)
    np.testing.assert_allclose(np.asarray(y), np.asarray(ref), rtol=5e-2, atol=5e-2)
    seen = []

    class Probe(nn.Module):
        def __call__(self, x):
            seen.append(nn.compute_dtype(None, x))
            return x

    Probe().apply({}, X, precision=nn.Precision(compute="float16"))
    assert seen == [np.dtype("float16")] and nn.compute_dtype(None, X) == np.float32


def _data():
    r = np.random.default_rng(1)
    x = r.normal(size=(64, 4)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] > 0).astype(np.int32) + (x[:, 2] > 1).astype(np.int32)
    return lnp.asarray(x), lnp.asarray(y)


def _train(loss_fn, params, steps=15):
    tx = optim.sgd(0.3)
    state = tx.init(params)

    @lamina.jit
    def step(params, state):
        loss, g = lamina.value_and_grad(loss_fn)(params)
        upd, state = tx.update(g, state, params)
        return optim.apply_updates(params, upd), state, loss

    first = None
    for _ in range(steps):
        params, state, loss = step(params, state)
        first = loss if first is None else first
    return float(first), float(loss_fn(params))


def test_three_model_styles_train_to_same_loss():
    x, y = _data()
    ce = optim.losses.softmax_cross_entropy_with_integer_labels
    init_params = MLP((16, 3)).init(K, x)["params"]

    # (1) a pure function of a params dict
    def f(params, x):
        h = nn.relu(x @ params["Dense_0"]["kernel"] + params["Dense_0"]["bias"])
        return h @ params["head"]["kernel"] + params["head"]["bias"]

    # (2) a Module class, (3) library layers composed
    seq = nn.Sequential([nn.Dense(16), nn.relu, nn.Dense(3)])
    seq_params = {"layers_0": init_params["Dense_0"], "layers_2": init_params["head"]}
    assert shapes(seq.init(K, x)["params"]) == shapes(seq_params)

    l1 = _train(lambda p: ce(f(p, x), y).mean(), init_params)
    l2 = _train(lambda p: ce(MLP((16, 3)).apply({"params": p}, x), y).mean(), init_params)
    l3 = _train(lambda p: ce(seq.apply({"params": p}, x), y).mean(), seq_params)
    assert l1[1] < l1[0] * 0.8
    np.testing.assert_allclose(l1, l2, rtol=1e-5)
    np.testing.assert_allclose(l1, l3, rtol=1e-5)
