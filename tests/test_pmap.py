"""lamina.pmap on 4 CPU devices: sharded Arrays, in/out axes, composition with grad, vmap
and jit, a data-parallel MLP train step, and errors. Runs itself in a 4-device child
process when the suite's client has one device (tests/_multidevice.py)."""
from __future__ import annotations

import numpy as np
import pytest

import _multidevice

if not _multidevice.in_child():
    def test_pmap_on_4_devices():
        _multidevice.run_in_child(__file__)
else:
    import lamina
    import lamina.numpy as lnp
    from lamina import lax
    from lamina.backend.array import ShardedArray
    from lamina.sharding import PmapSharding, SingleDeviceSharding
    from lamina.testing import assert_array_close

    N = _multidevice.NUM_DEVICES
    X = np.arange(N * 6, dtype=np.float32).reshape(N, 2, 3) / 7.0

    def test_device_count():
        assert lamina.device_count() == N

    def test_elementwise_and_sharded_output():
        f = lamina.pmap(lambda x: lnp.sin(x) * 2 + 1)
        y = f(X)
        assert isinstance(y, ShardedArray) and isinstance(y, lamina.Array)
        assert y.shape == X.shape and y.dtype == np.float32
        assert y.sharding == PmapSharding(lamina.devices())
        assert y.devices() == set(lamina.devices())
        shards = y.addressable_shards
        assert [s.device for s in shards] == lamina.devices()
        for k, s in enumerate(shards):
            assert s.index[0] == k and s.data.shape == (2, 3)
            assert s.data.sharding == SingleDeviceSharding(lamina.devices()[k])
            assert_array_close(s.data, np.sin(X[k]) * 2 + 1)
        assert_array_close(y, np.sin(X) * 2 + 1)
        with pytest.raises(ValueError, match="split over 4 devices"):
            y.device

    def test_reductions_per_device():
        f = lamina.pmap(lambda x: (x.sum(), x.max(axis=0), lnp.mean(x, axis=1)))
        s, m, mean = f(X)
        assert_array_close(s, X.sum(axis=(1, 2)), rtol=1e-6)
        assert_array_close(m, X.max(axis=1))
        assert_array_close(mean, X.mean(axis=2), rtol=1e-6)

    def test_sharded_input_passes_through_without_copy():
        from lamina._api_pmap import _place
        f = lamina.pmap(lambda x: x * 2.0)
        y = f(X)
        sharding = PmapSharding(lamina.devices())
        assert _place(y, y.aval.update(shape=(2, 3)), True, tuple(lamina.devices()), sharding,
                      0, "f") is y._buf
        assert_array_close(f(y), X * 4)

    def test_eager_ops_and_jit_on_sharded_arrays():
        y = lamina.pmap(lambda x: x + 1.0)(X)
        assert_array_close(y * 2, (X + 1) * 2)
        assert_array_close(lamina.jit(lambda a: a.sum(0))(y), (X + 1).sum(0), rtol=1e-6)
        assert_array_close(y[1], X[1] + 1)
        assert_array_close(lamina.device_get(y), X + 1)

    def test_eager_ops_on_pmap_outputs_match_jax():
        import jax
        import jax.numpy as jnp
        ops = {"add": lambda np_, y: y + 1, "sum": lambda np_, y: np_.sum(y),
               "sum0": lambda np_, y: y.sum(0), "matmul": lambda np_, y: y[..., 0] @ y[..., 1].T,
               "where": lambda np_, y: np_.where(y > 1, y, -y), "index": lambda np_, y: y[2, 1],
               "mixed": lambda np_, y: y * np_.arange(3.0)}
        y = lamina.pmap(lambda x: x * 2)(X)
        yj = jax.pmap(lambda x: x * 2)(X)
        for name, op in ops.items():
            assert_array_close(op(lnp, y), np.asarray(op(jnp, yj)), rtol=1e-6, err_msg=name)
        # each shard is an Array on its own device: eager ops run there
        for k, shard in enumerate(y.addressable_shards):
            z = shard.data * shard.data
            assert z.sharding == SingleDeviceSharding(lamina.devices()[k])
            assert_array_close(z, (2 * X[k]) ** 2)

    def test_nested_pmap_on_a_2x2_grid():
        # jax 0.10.2's own pmap (built on shard_map) rejects nesting; the oracle is jax's
        # vmap of vmap with the same axis names (classic pmap semantics).
        import jax
        x = np.arange(N * 6, dtype=np.float32).reshape(2, 2, 6) / 5.0

        def body(L):
            def f(v):
                s_i, s_j = L.lax.psum(v, 'i'), L.lax.psum(v, 'j')
                idx = L.lax.axis_index('i') * 10 + L.lax.axis_index('j')
                g = L.lax.all_gather(v, 'i', axis=0)
                return s_i * s_j + idx, L.lax.pmean(v, ('i', 'j')), g, L.lax.pmax(v, 'j')
            return f

        expected = jax.vmap(jax.vmap(body(jax), axis_name='j'), axis_name='i')(x)
        f = lamina.pmap(lamina.pmap(body(lamina), 'j'), 'i')
        out = f(x)
        for a, b in zip(out, expected):
            assert_array_close(a, np.asarray(b), rtol=1e-5)
        assert out[0].sharding == PmapSharding(lamina.devices()[::2])
        out = lamina.pmap(lamina.jit(lamina.pmap(body(lamina), 'j')), 'i')(x)  # jit between
        for a, b in zip(out, expected):
            assert_array_close(a, np.asarray(b), rtol=1e-5)
        # grad through the nested pmap
        loss = lambda L, np_: lambda v: np_.sum(L.pmap(L.pmap(
            lambda u: np_.sin(L.lax.psum(u, 'i')) * L.lax.pmean(u, 'j'), 'j'), 'i')(v))
        g = lamina.grad(loss(lamina, lnp))(x)
        import jax.numpy as jnp
        vloss = lambda v: jnp.sum(jax.vmap(jax.vmap(
            lambda u: jnp.sin(jax.lax.psum(u, 'i')) * jax.lax.pmean(u, 'j'), axis_name='j'),
            axis_name='i')(v))
        assert_array_close(g, np.asarray(jax.grad(vloss)(x)), rtol=1e-5, atol=1e-6)

    def test_pmap_inside_jit_matches_jax():
        import jax
        import jax.numpy as jnp
        w = np.float32(1.5)

        def fn(L, np_):
            def f(x, w):
                y = L.pmap(lambda a, b: np_.sin(L.lax.psum(a * b, 'i')), 'i',
                           in_axes=(0, None))(x, w)
                m = L.pmap(lambda a: L.lax.pmean(a, 'i'), 'i', out_axes=None)(x)
                return (y * 2 + 1).sum(0) + m, y
            return f

        expected = jax.jit(fn(jax, jnp))(X, w)
        jitted = lamina.jit(fn(lamina, lnp))
        out = jitted(X, w)
        for a, b in zip(out, expected):
            assert_array_close(a, np.asarray(b), rtol=1e-5)
        v = X
        for _ in range(5):  # chained collective programs: no rendezvous deadlock
            v = jitted(v, w)[1]
        ref = X
        for _ in range(5):
            ref = jax.jit(fn(jax, jnp))(ref, w)[1]
        assert_array_close(v, np.asarray(ref), rtol=1e-4, atol=1e-5)
        loss = lambda L, np_: lambda x, w: fn(L, np_)(x, w)[0].sum()
        for argnums in (0, 1):
            g = lamina.grad(lamina.jit(loss(lamina, lnp)), argnums)(X, w)
            ref = jax.grad(jax.jit(loss(jax, jnp)), argnums)(X, w)
            assert_array_close(g, np.asarray(ref), rtol=1e-5, atol=1e-5)
        # jit applied to a pmapped function directly
        jp = lambda L: L.jit(L.pmap(lambda a: L.lax.psum(a, 'i') * L.lax.axis_index('i'), 'i'))
        assert_array_close(jp(lamina)(X), np.asarray(jp(jax)(X)))
        # a smaller pmap than the device count, and vmap of jit of pmap
        h = lambda L: L.jit(L.vmap(lambda x: L.pmap(lambda a: L.lax.psum(a, 'i'), 'i')(x)))
        assert_array_close(h(lamina)(X[:, :2].T), np.asarray(h(jax)(X[:, :2].T)))

    def test_eager_control_flow_around_pmap_matches_jax():
        # scan/fori/while/cond run eagerly (no jit) with a pmap in the body: one program
        # over the replicas, as jit(pmap) (jax compiles them the same way)
        import jax
        import jax.numpy as jnp

        def cases(L):
            f = L.pmap(lambda v: L.lax.psum(v, "i") * 0.1 + L.lax.axis_index("i"), "i")
            return {
                "scan": lambda x: L.lax.scan(lambda c, _: (f(c), c.sum()), x, None, length=3),
                "fori": lambda x: L.lax.fori_loop(0, 3, lambda i, c: f(c) * i, x),
                "while": lambda x: L.lax.while_loop(lambda c: c.sum() < 50, f, x),  # 1 trip
                "cond": lambda x: L.lax.cond(x.sum() > 0, f, lambda c: c - 1, x),
                "switch": lambda x: L.lax.switch(1, [lambda c: c, f], x),
            }

        ours, theirs = cases(lamina), cases(jax)
        for name in ours:
            got, want = ours[name](X), theirs[name](jnp.asarray(X))
            for a, b in zip(lamina.tree_util.tree_leaves(got), jax.tree_util.tree_leaves(want)):
                assert_array_close(a, np.asarray(b), rtol=1e-5, err_msg=name)

    def test_in_axes_out_axes_kwargs_and_static():
        w = np.float32(3.0)
        f = lamina.pmap(lambda x, w: x * w, in_axes=(0, None))
        assert_array_close(f(X, w), X * 3)
        g = lamina.pmap(lambda x: x + 1, in_axes=1, out_axes=1)
        xt = np.swapaxes(X, 0, 1)  # mapped axis 1
        assert_array_close(g(xt), xt + 1)
        h = lamina.pmap(lambda x: lax.psum(x, 'i'), 'i', out_axes=None)
        out = h(X)
        assert out.shape == (2, 3)
        assert_array_close(out, X.sum(0), rtol=1e-6)
        k = lamina.pmap(lambda x, *, b: x - b)
        assert_array_close(k(X, b=X), np.zeros_like(X))
        s = lamina.pmap(lambda x, p: x ** p, static_broadcasted_argnums=1)
        assert_array_close(s(X, 2), X ** 2, rtol=1e-6)
        assert_array_close(s(X, 3), X ** 3, rtol=1e-6)
        d = {"a": X, "b": (X, X)}
        t = lamina.pmap(lambda t: t["a"] + t["b"][1])(d)
        assert_array_close(t, 2 * X)

    def test_fewer_devices_than_available():
        f = lamina.pmap(lambda x: lax.psum(x, 'i'), 'i')
        y = f(X[:2])
        assert y.sharding == PmapSharding(lamina.devices()[:2])
        assert_array_close(y, np.broadcast_to(X[:2].sum(0), (2, 2, 3)), rtol=1e-6)
        g = lamina.pmap(lambda x: x * 2, devices=lamina.devices()[2:])
        assert g(X[:2]).devices() == set(lamina.devices()[2:])
        # backend= picks the devices of that platform (the first N local ones)
        h = lamina.pmap(lambda x: lax.psum(x, 'i'), 'i', backend="cpu")
        assert h(X[:3]).sharding == PmapSharding(lamina.local_devices(backend="cpu")[:3])
        with pytest.raises(RuntimeError, match="backend 'no_such_chip' is not available"):
            lamina.pmap(lambda x: x, backend="no_such_chip")
        with pytest.raises(ValueError, match="requires 5 logical devices, but only 4"):
            lamina.pmap(lambda x: x, backend="cpu")(np.ones((5, 2)))

    def test_jit_and_vmap_inside():
        @lamina.jit
        def inner(x):
            return lax.psum(x, 'i') * 2

        f = lamina.pmap(lambda x: lamina.vmap(lambda r: r * lax.axis_index('i'))(inner(x)), 'i')
        expected = np.stack([np.broadcast_to(X.sum(0) * 2, (2, 3)) * k for k in range(N)])
        assert_array_close(f(X), expected, rtol=1e-6)

    def test_vmap_of_pmap():
        f = lamina.pmap(lambda x, w: lax.psum(x * w, 'i'), 'i', in_axes=(0, None))
        ws = np.arange(3, dtype=np.float32)
        out = lamina.vmap(lambda w: f(X, w))(ws)
        expected = np.stack([np.broadcast_to((X * w).sum(0), X.shape) for w in ws])
        assert_array_close(out, expected, rtol=1e-6)

    def test_grad_through_pmap_with_pmean():
        def loss(w, x):
            per_device = lamina.pmap(lambda x, w: lax.pmean(lnp.sum((x * w) ** 2), 'i'),
                                     'i', in_axes=(0, None))(x, w)
            return per_device[0]

        w = np.float32(1.5)
        expected = np.mean([(2 * w * X[k] ** 2).sum() for k in range(N)])
        assert_array_close(lamina.grad(loss)(w, X), expected, rtol=1e-5)
        gx = lamina.grad(loss, argnums=1)(w, X)
        assert_array_close(gx, 2 * w ** 2 * X / N, rtol=1e-5)

    def test_grad_and_jvp_of_mapped_inputs():
        f = lamina.pmap(lambda x: lnp.tanh(x) * lax.psum(x, 'i'), 'i')
        t = np.ones_like(X)
        y, ty = lamina.jvp(f, (X,), (t,))
        s = X.sum(0)
        assert_array_close(y, np.tanh(X) * s, rtol=1e-5)
        assert_array_close(ty, (1 - np.tanh(X) ** 2) * s + np.tanh(X) * N, rtol=1e-5)
        g = lamina.grad(lambda x: f(x).sum())(X)
        # d/dx_k sum_j tanh(x_j) s = sech^2(x_k) s + sum_j tanh(x_j) (checked against jax)
        assert_array_close(g, (1 - np.tanh(X) ** 2) * s + np.tanh(X).sum(0), rtol=1e-5)

    def _mlp_params(rng):
        return {"w1": rng.normal(size=(3, 8)).astype(np.float32) * 0.5,
                "b1": np.zeros(8, np.float32),
                "w2": rng.normal(size=(8, 1)).astype(np.float32) * 0.5,
                "b2": np.zeros(1, np.float32)}

    def _mlp_loss(p, x, y):
        h = lnp.tanh(x @ p["w1"] + p["b1"])
        return lnp.mean((h @ p["w2"] + p["b2"] - y) ** 2)

    def test_pmap_train_step_matches_single_device(rng):
        params = _mlp_params(rng)
        x = rng.normal(size=(N * 4, 3)).astype(np.float32)
        y = rng.normal(size=(N * 4, 1)).astype(np.float32)
        lr = 0.1

        @lamina.jit
        def step(p, x, y):
            g = lamina.grad(_mlp_loss)(p, x, y)
            return lamina.tree_util.tree_map(lambda a, b: a - lr * b, p, g)

        def pstep(p, x, y):
            g = lax.pmean(lamina.grad(_mlp_loss)(p, x, y), 'batch')
            return lamina.tree_util.tree_map(lambda a, b: a - lr * b, p, g)

        pstep = lamina.pmap(pstep, 'batch', in_axes=(None, 0, 0), out_axes=None)
        single, multi = params, params
        xs, ys = x.reshape(N, 4, 3), y.reshape(N, 4, 1)
        for _ in range(5):
            single = step(single, x, y)
            multi = pstep(multi, xs, ys)
        for k in params:
            assert_array_close(multi[k], single[k], rtol=1e-6, atol=1e-6)

    def test_replicated_params_train_loop_stays_on_device(rng):
        params = _mlp_params(rng)
        rep = lamina.tree_util.tree_map(lambda a: np.broadcast_to(a, (N, *a.shape)), params)
        xs = rng.normal(size=(N, 4, 3)).astype(np.float32)
        ys = rng.normal(size=(N, 4, 1)).astype(np.float32)

        @lamina.pmap
        def noop(p):
            return p

        def pstep(p, x, y):
            loss, g = lamina.value_and_grad(_mlp_loss)(p, x, y)
            g = lax.pmean(g, 'b')
            return lamina.tree_util.tree_map(lambda a, b: a - 0.1 * b, p, g), lax.pmean(loss, 'b')

        pstep = lamina.pmap(pstep, 'b')
        rep = noop(rep)
        for _ in range(20):  # chained collective programs: no rendezvous deadlock
            rep, loss = pstep(rep, xs, ys)
        assert isinstance(rep["w1"], ShardedArray)
        w1 = np.asarray(rep["w1"])
        assert np.allclose(w1, w1[0], atol=1e-6)  # replicas stay identical
        assert np.allclose(np.asarray(loss), np.asarray(loss)[0])

    def test_donation():
        f = lamina.pmap(lambda x: x + 1, donate_argnums=0)
        y = lamina.pmap(lambda x: x * 1.0)(X)
        z = f(y)
        assert_array_close(z, X + 1)
        assert y.is_deleted()

    def test_errors():
        f = lamina.pmap(lambda x: x)
        with pytest.raises(ValueError, match="requires 5 logical devices, but only 4"):
            f(np.zeros((5, 2)))
        with pytest.raises(ValueError, match="inconsistent sizes"):
            lamina.pmap(lambda a, b: a + b)(np.zeros((4, 2)), np.zeros((3, 2)))
        with pytest.raises(ValueError, match="at least one argument with a mapped axis"):
            lamina.pmap(lambda a: a, in_axes=None)(np.zeros(3))
        with pytest.raises(ValueError, match="rank should be at least 1"):
            f(np.float32(1.0))
        with pytest.raises(ValueError, match="axis_size 3 doesn't match received axis_size 4"):
            lamina.pmap(lambda x: x, axis_size=3)(np.zeros(4))
        with pytest.raises(ValueError, match="size 2 .*but 3 devices"):
            lamina.pmap(lambda x: x, devices=lamina.devices()[:3])(np.zeros(2))
        with pytest.raises(NameError, match=r"unbound axis name 'j'.*\['i'\]"):
            lamina.pmap(lambda x: lax.psum(x, 'j'), 'i')(np.zeros(4))
        with pytest.raises(ValueError, match="requires 8 logical devices, but only 4"):
            lamina.pmap(lamina.pmap(lambda x: x, 'j'), 'i')(np.zeros((2, 4)))
        with pytest.raises(ValueError, match="requires 5 logical devices"):
            lamina.jit(lambda x: lamina.pmap(lambda y: y)(x))(np.zeros(5))
        with pytest.raises(ValueError, match="must be distinct"):
            lamina.pmap(lambda x: x, devices=[lamina.devices()[0]] * 2)
        from lamina.sharding import NamedSharding, PartitionSpec as P
        s = NamedSharding(lamina.make_mesh((4,), ("d",)), P("d"))
        with pytest.raises(NotImplementedError, match="cannot also use shardings"):
            lamina.jit(lambda x: lamina.pmap(lambda y: y * 2)(x), out_shardings=s)(X)
        with pytest.raises(ValueError, match="in_axes"):
            lamina.pmap(lambda a, b: a, in_axes=(0,))(np.zeros(4), np.zeros(4))
        with pytest.raises(TypeError, match="expected a function"):
            lamina.pmap(3)

    def _count_device_puts(monkeypatch):
        from lamina.backend import _jaxlib
        calls = []
        real = _jaxlib.device_put
        monkeypatch.setattr(_jaxlib, "device_put", lambda *a: calls.append(1) or real(*a))
        return calls

    def test_unmapped_operand_copies_are_reused_only_while_unchanged(monkeypatch):
        import gc
        from lamina._api_pmap import _pmap_executables
        from lamina.errors import DeletedArrayError
        f = lamina.pmap(lambda x, c: x / c, in_axes=(0, None))
        y = lamina.pmap(lambda x: x + 1.0)(X)  # already split: passed without a copy
        c1, c2 = lnp.asarray(np.float32(2.0)), lnp.asarray(np.float32(4.0))
        for c in (lnp.asarray(np.float32(1.0)), 1.0, 1):  # trace and compile outside the count
            f(y, c)
        puts = _count_device_puts(monkeypatch)
        for c, v, copies in [(c1, 2, N), (c1, 2, 0), (c2, 4, N), (c1, 2, N), (c1, 2, 0)]:
            before = len(puts)
            assert_array_close(f(y, c), (X + 1) / v)
            assert len(puts) - before == copies
        # Python scalars: by value, -0.0 apart from 0.0 (and 3 is another signature)
        for c, copies in [(3.0, N), (3.0, 0), (0.0, N), (-0.0, N), (-0.0, 0), (3, N), (3, 0)]:
            before = len(puts)
            with np.errstate(divide="ignore"):
                np.testing.assert_allclose(np.asarray(f(y, c)), (X + 1) / np.float32(c),
                                           rtol=1e-6)
            assert len(puts) - before == copies, c
        # a numpy array may change in place: copied every call
        h = np.full((), 5.0, np.float32)
        assert_array_close(f(y, h), (X + 1) / 5)
        h[...] = 10.0
        assert_array_close(f(y, h), (X + 1) / 10)
        # a deleted operand still raises, right after its copies were reused
        # NOTE: drop the host view its copies were made from first: deleting an Array
        # read on the host aborts jaxlib ("Non-zero type 1 hold on destruction").
        c1._npy = None
        c1.delete()
        with pytest.raises(DeletedArrayError):
            f(y, c1)
        # the copies of an Array are dropped when it dies
        c3 = lnp.asarray(np.float32(8.0))
        assert_array_close(f(y, c3), (X + 1) / 8)
        [placed] = [e.placed for e in _pmap_executables.values()
                    if 1 in e.placed and type(e.placed[1][0]) is not tuple
                    and e.placed[1][0]() is c3]
        del c3
        gc.collect()
        assert 1 not in placed

    def test_captured_constants_are_copied_once(monkeypatch):
        scale = lnp.asarray(np.float32(3.0))
        offset = lnp.arange(3, dtype=np.float32)
        f = lamina.pmap(lambda x: lax.psum(x * scale + offset, 'i'), 'i')
        y = lamina.pmap(lambda x: x * 1.0)(X)
        expected = (X * 3 + np.arange(3, dtype=np.float32)).sum(0)
        assert_array_close(f(y), np.broadcast_to(expected, X.shape), rtol=1e-6)
        puts = _count_device_puts(monkeypatch)
        for _ in range(3):
            out = f(y)
        assert not puts
        assert_array_close(out, np.broadcast_to(expected, X.shape), rtol=1e-6)
        assert out.sharding == PmapSharding(lamina.devices())

    def test_fast_path_keeps_semantics():
        from lamina.errors import DeletedArrayError
        f = lamina.pmap(lambda p, x: ({"w": p["w"] + x.sum()}, lax.pmean(x, 'i')), 'i',
                        out_axes=({"w": 0}, None))
        p = {"w": lamina.pmap(lambda x: x[:, 0])(X)}
        y = lamina.pmap(lambda x: x * 1.0)(X)
        for _ in range(3):
            p, m = f(p, y)
        assert len(f._fast[0]) + len(f._fast[1]) == 1  # one signature, one launcher
        assert isinstance(p["w"], ShardedArray) and type(m) is lamina.Array
        assert_array_close(p["w"], X[:, :, 0] + 3 * X.sum(axis=(1, 2))[:, None], rtol=1e-5)
        assert_array_close(m, X.mean(0), rtol=1e-6)
        # numpy batches: split on every call (a launcher of their own), in-place
        # changes seen
        xb = X.copy()
        for k in range(3):
            assert_array_close(f({"w": X[:, :, 0]}, xb)[1], (X + k).mean(0), rtol=1e-6)
            xb += 1
        assert len(f._fast[0]) + len(f._fast[1]) == 2
        # a single-device Array: split on every call, like numpy (by the launcher of the
        # ShardedArray signature: the key is the global type)
        w1 = lnp.asarray(X[:, :, 0])
        for _ in range(2):
            out = f({"w": w1}, y)
            assert_array_close(out[0]["w"], X[:, :, 0] + X.sum(axis=(1, 2))[:, None],
                               rtol=1e-5)
        assert len(f._fast[0]) + len(f._fast[1]) == 2
        w1.delete()
        with pytest.raises(DeletedArrayError):
            f({"w": w1}, y)
        # a new shape: a new signature
        assert f({"w": np.zeros((N, 5), np.float32)}, y)[0]["w"].shape == (N, 5)
        # a deleted or donated argument still raises
        g = lamina.pmap(lambda x: x + 1, donate_argnums=0)
        z = lamina.pmap(lambda x: x * 1.0)(X)
        f(p, z)
        f(p, z)
        g(z)
        assert z.is_deleted()
        with pytest.raises(DeletedArrayError):
            f(p, z)
        p, _ = f(p, y)
        p["w"].delete()  # (never read on the host: see the NOTE above)
        with pytest.raises(DeletedArrayError):
            f(p, y)
