"""Sharding on one host with 4 CPU devices: Mesh / PartitionSpec / NamedSharding,
device_put by sharding, jit with in/out shardings through XLA's SPMD partitioner
(Shardy), sharding propagation from sharded inputs, with_sharding_constraint, shard_map
with collectives, and errors. Runs itself in a 4-device child process when the suite's
client has one device (tests/_multidevice.py)."""
from __future__ import annotations

import numpy as np
import pytest

import _multidevice

if not _multidevice.in_child():
    def test_sharding_on_4_devices():
        _multidevice.run_in_child(__file__)
else:
    import lamina
    import lamina.numpy as lnp
    from lamina import lax
    from lamina.backend.array import ShardedArray
    from lamina.sharding import Mesh, NamedSharding, PartitionSpec as P, SingleDeviceSharding
    from lamina.testing import assert_array_close

    MESH = lamina.make_mesh((2, 2), ("x", "y"))
    MESH1 = lamina.make_mesh((4,), ("d",))
    A = (np.arange(32, dtype=np.float32).reshape(4, 8) - 10) / 7.0

    def _check_shards(x, value):
        for s in x.addressable_shards:
            assert s.data.sharding == SingleDeviceSharding(s.device)
            np.testing.assert_array_equal(np.asarray(s.data), value[s.index])

    def test_mesh_and_specs():
        assert MESH.shape == {"x": 2, "y": 2} and MESH.size == 4
        assert MESH.devices.tolist() == np.array(lamina.devices()).reshape(2, 2).tolist()
        assert P("x", None) == ("x", None) and lamina.sharding.P is P
        assert NamedSharding(MESH, P("x", None)) == NamedSharding(MESH, P("x"))
        with MESH:
            assert lamina.sharding.get_mesh() is MESH
        assert lamina.sharding.get_mesh() is None

    @pytest.mark.parametrize("mesh,spec", [
        (MESH1, P("d")), (MESH1, P(None, "d")), (MESH, P("x", "y")), (MESH, P("y", "x")),
        (MESH, P("x")), (MESH, P(None, ("x", "y"))), (MESH, P())])
    def test_device_put_named(mesh, spec):
        s = NamedSharding(mesh, spec)
        x = lamina.device_put(A, s)
        assert isinstance(x, ShardedArray) and x.sharding == s and x.shape == A.shape
        np.testing.assert_array_equal(np.asarray(x), A)
        _check_shards(x, A)
        assert x.is_fully_replicated == (spec == P())
        assert {sh.data.shape for sh in x.addressable_shards} == {s.shard_shape(A.shape)}
        if spec == P("x"):  # replicated along y: replica ids 0, 1
            assert [sh.replica_id for sh in x.addressable_shards] == [0, 1, 0, 1]
        # pytree of values with one sharding; an already-placed array is reused
        tree = lamina.device_put({"a": A, "b": A + 1}, s)
        np.testing.assert_array_equal(np.asarray(tree["b"]), A + 1)
        assert lamina.device_put(x, s) is x

    def test_sharded_jit_elementwise_and_propagation():
        x = lamina.device_put(A, NamedSharding(MESH, P("x", "y")))
        f = lamina.jit(lambda u, v: lnp.tanh(u) * v + 1.0)
        y = f(x, 2.0)
        assert_array_close(y, np.tanh(A) * 2 + 1)
        assert y.sharding == NamedSharding(MESH, P("x", "y"))  # propagated from the input
        _check_shards(y, np.asarray(y))
        r = lamina.jit(lambda u: u.sum(0))(x)
        assert_array_close(r, A.sum(0), rtol=1e-5)
        assert r.sharding == NamedSharding(MESH, P("y"))  # what XLA chose (as jax)
        # eager ops on a sharded array still work (gathered to one device)
        assert_array_close(x * 2, A * 2)

    def test_sharded_matmul_with_sharded_contraction_and_out_shardings(rng):
        w = rng.standard_normal((8, 6)).astype(np.float32)
        g = lamina.jit(lambda u, v: u @ v,
                       in_shardings=(NamedSharding(MESH, P("x", "y")),
                                     NamedSharding(MESH, P("y", None))),
                       out_shardings=NamedSharding(MESH, P(None, "x")))
        z = g(A, w)
        assert_array_close(z, A @ w, rtol=1e-5, atol=1e-5)
        assert z.sharding == NamedSharding(MESH, P(None, "x"))
        assert [s.data.shape for s in z.addressable_shards] == [(4, 3)] * 4
        _check_shards(z, np.asarray(z))

    def test_out_shardings_pytree_and_replicated():
        f = lamina.jit(lambda u: {"a": u * 2, "b": u.sum()},
                       out_shardings={"a": NamedSharding(MESH, P("x")),
                                      "b": NamedSharding(MESH, P())})
        out = f(A)
        assert out["a"].sharding == NamedSharding(MESH, P("x"))
        assert out["b"].is_fully_replicated and out["b"].shape == ()
        assert_array_close(out["a"], A * 2)
        assert_array_close(out["b"], A.sum(), rtol=1e-5)

    def test_mlp_train_step_matches_unsharded(rng):
        params = {"w1": rng.standard_normal((8, 16)).astype(np.float32) * 0.3,
                  "b1": np.zeros(16, np.float32),
                  "w2": rng.standard_normal((16, 2)).astype(np.float32) * 0.3}
        xb = rng.standard_normal((8, 8)).astype(np.float32)
        yb = rng.standard_normal((8, 2)).astype(np.float32)

        def loss(p, x, y):
            h = lnp.tanh(x @ p["w1"] + p["b1"])
            return lnp.mean((h @ p["w2"] - y) ** 2)

        def step(p, x, y):
            l, g = lamina.value_and_grad(loss)(p, x, y)
            return lamina.tree_util.tree_map(lambda a, b: a - 0.1 * b, p, g), l

        ref_p, ref_l = lamina.jit(step)(params, xb, yb)
        psharding = {"w1": NamedSharding(MESH, P(None, "y")), "b1": NamedSharding(MESH, P("y")),
                     "w2": NamedSharding(MESH, P("y", None))}
        data = NamedSharding(MESH, P("x"))
        sharded = lamina.jit(step, in_shardings=(psharding, data, data),
                             out_shardings=(psharding, NamedSharding(MESH, P())))
        p, l = sharded(params, xb, yb)
        p, l = sharded(p, xb, yb)  # sharded outputs feed the next step as they are
        ref_p, ref_l = lamina.jit(step)(ref_p, xb, yb)
        assert_array_close(l, ref_l, rtol=1e-5, atol=1e-6)
        for k in params:
            assert p[k].sharding == psharding[k]
            assert_array_close(p[k], ref_p[k], rtol=1e-5, atol=1e-6)

    def test_with_sharding_constraint():
        s = NamedSharding(MESH, P(None, ("x", "y")))
        f = lamina.jit(lambda u: lax.with_sharding_constraint(u * 2, s))
        y = f(A)
        assert y.sharding == s
        assert_array_close(y, A * 2)
        # eagerly it places the value; bare specs under `with mesh:`
        with MESH:
            z = lax.with_sharding_constraint(lnp.asarray(A), P("x"))
        assert z.sharding == NamedSharding(MESH, P("x"))
        # identity for grad and vmap
        g = lamina.grad(lambda u: (lax.with_sharding_constraint(u, s) ** 2).sum())(A)
        assert_array_close(g, 2 * A)
        v = lamina.jit(lamina.vmap(lambda r: lax.with_sharding_constraint(r * 3, NamedSharding(
            MESH, P("x")))))(A)
        assert_array_close(v, A * 3)

    def test_shard_map_psum_and_collectives():
        f = lamina.shard_map(lambda a: lax.psum(a, "x"), mesh=MESH, in_specs=P("x", "y"),
                             out_specs=P(None, "y"))
        y = f(A)
        assert y.shape == (2, 8)
        assert_array_close(y, A[:2] + A[2:])
        total = lamina.jit(lamina.shard_map(lambda a: lax.psum(a.sum(), ("x", "y")),
                                            mesh=MESH, in_specs=P("x", "y"), out_specs=P()))
        assert_array_close(total(A), A.sum(), rtol=1e-5)

        def body(a):  # each device's block index and a ring shift along y
            idx = lax.axis_index("x") * 2 + lax.axis_index("y")
            shifted = lax.ppermute(a, "y", perm=[(0, 1), (1, 0)])
            return a * 0 + idx.astype(a.dtype), shifted, lax.all_gather(a, "x", tiled=True)

        # (all_gather's result is replicated along x, but jax's check cannot prove it)
        ids, shifted, gathered = lamina.shard_map(
            body, mesh=MESH, in_specs=P("x", "y"),
            out_specs=(P("x", "y"), P("x", "y"), P(None, "y")), check_rep=False)(A)
        np.testing.assert_array_equal(np.asarray(ids)[::2, ::4], [[0, 1], [2, 3]])
        np.testing.assert_array_equal(np.asarray(shifted),
                                      np.concatenate([A[:, 4:], A[:, :4]], axis=1))
        np.testing.assert_array_equal(np.asarray(gathered), A)
        # grad through shard_map with psum matches the unsharded gradient
        loss = lamina.shard_map(lambda a: lax.psum((a ** 2).sum(), ("x", "y")), mesh=MESH,
                                in_specs=P("x", "y"), out_specs=P())
        assert_array_close(lamina.jit(lamina.grad(loss))(A), 2 * A, rtol=1e-5)

    def test_shard_map_replication_check_matches_jax():
        import jax
        jmesh = jax.sharding.Mesh(np.array(jax.devices()).reshape(2, 2), ("x", "y"))
        jp = lambda s: jax.sharding.PartitionSpec(*s)
        # (body, in_specs, out_specs): jax 0.10.2 accepts the first group, rejects the rest
        ok = [(lambda L, a: L.lax.psum(a, "x"), P("x", "y"), P(None, "y")),
              (lambda L, a: L.lax.pmax(a, ("x", "y")), P("x", "y"), P()),
              (lambda L, a: a * 2, P(), P()),
              (lambda L, a: L.jit(lambda b: L.lax.psum(b, "x"))(a), P("x", "y"), P(None, "y")),
              (lambda L, a: L.lax.pmean(a, "y") * L.lax.psum(1, "x"), P(None, "y"), P())]
        bad = [(lambda L, a: a, P("x", "y"), P()),
               (lambda L, a: a, P("x", "y"), P("x")),
               (lambda L, a: L.lax.all_gather(a, "x", tiled=True), P("x", "y"), P(None, "y")),
               (lambda L, a: a * 0 + L.lax.axis_index("x"), P(None, "y"), P(None, "y")),
               (lambda L, a: L.lax.ppermute(L.lax.psum(a, "x"), "x", [(0, 1), (1, 0)]),
                P("x", "y"), P(None, "y")),
               (lambda L, a: a + L.lax.psum(a, "x"), P("x", "y"), P(None, "y")),
               (lambda L, a: L.lax.cond(True, lambda b: b, lambda b: b * 2, a), P("x", "y"),
                P())]
        for k, (body, i, o) in enumerate(ok):
            expected = jax.shard_map(lambda a: body(jax, a), mesh=jmesh, in_specs=jp(i),
                                     out_specs=jp(o))(A)
            actual = lamina.shard_map(lambda a: body(lamina, a), mesh=MESH, in_specs=i,
                                      out_specs=o)(A)
            assert_array_close(actual, np.asarray(expected), rtol=1e-6, err_msg=str(k))
        for k, (body, i, o) in enumerate(bad):
            with pytest.raises(ValueError, match="out_specs which require replication"):
                jax.shard_map(lambda a: body(jax, a), mesh=jmesh, in_specs=jp(i),
                              out_specs=jp(o))(A)
            with pytest.raises(ValueError, match="is replicated .* but it may vary along"):
                lamina.shard_map(lambda a: body(lamina, a), mesh=MESH, in_specs=i,
                                 out_specs=o)(A)
            # check_vma=False skips the check (which device's value comes back is then
            # unspecified, in jax as here)
            expected = jax.shard_map(lambda a: body(jax, a), mesh=jmesh, in_specs=jp(i),
                                     out_specs=jp(o), check_vma=False)(A)
            actual = lamina.shard_map(lambda a: body(lamina, a), mesh=MESH, in_specs=i,
                                      out_specs=o, check_vma=False)(A)
            assert actual.shape == expected.shape, k
        # axis_index_groups inside shard_map (jax needs check_vma=False for them; a grouped
        # psum is not replicated along the axis, so lamina's check keeps it varying)
        groups = [[0, 2], [1, 3]]
        jmesh1 = jax.sharding.Mesh(np.array(jax.devices()), ("d",))
        for body in (lambda L, a: L.lax.psum(a, "d", axis_index_groups=groups),
                     lambda L, a: L.lax.all_gather(a, "d", axis_index_groups=groups, tiled=True)):
            expected = jax.shard_map(lambda a: body(jax, a), mesh=jmesh1, in_specs=jp(("d",)),
                                     out_specs=jp(("d",)), check_vma=False)(A)
            actual = lamina.shard_map(lambda a: body(lamina, a), mesh=MESH1, in_specs=P("d"),
                                      out_specs=P("d"))(A)
            assert_array_close(actual, np.asarray(expected))
        with pytest.raises(ValueError, match="may vary along"):
            lamina.shard_map(lambda a: lax.psum(a, "d", axis_index_groups=groups), mesh=MESH1,
                             in_specs=P("d"), out_specs=P())(A)

    def test_partial_manual_shard_map_matches_jax():
        import jax
        jmesh = jax.sharding.Mesh(np.array(jax.devices()).reshape(2, 2), ("x", "y"))
        jp = lambda s: jax.sharding.PartitionSpec(*s)
        # manual over x only (jax's axis_names={'x'}); y stays with the partitioner
        cases = [(lambda L, a: L.lax.psum(a, "x") * 2, ("x",), ()),
                 (lambda L, a: a + L.lax.axis_index("x"), ("x",), ("x",)),
                 (lambda L, a: L.lax.all_gather(a, "x", tiled=True), ("x",), ("x",)),
                 (lambda L, a: L.lax.pmax(a.sum(1), "x"), ("x",), ())]
        for k, (body, i, o) in enumerate(cases):
            expected = jax.jit(jax.shard_map(lambda a: body(jax, a), mesh=jmesh, in_specs=jp(i),
                                             out_specs=jp(o), axis_names={"x"}))(A)
            f = lamina.shard_map(lambda a: body(lamina, a), mesh=MESH, in_specs=P(*i),
                                 out_specs=P(*o), axis_names={"x"})
            assert_array_close(lamina.jit(f)(A), np.asarray(expected), rtol=1e-6,
                               err_msg=str(k))
            assert_array_close(f(A), np.asarray(expected), rtol=1e-6, err_msg=str(k))
        # auto= is the complement of axis_names (jax.experimental.shard_map's spelling);
        # the decorator form
        g = lamina.shard_map(mesh=MESH, in_specs=P("x"), out_specs=P(), auto=frozenset({"y"}))(
            lambda a: lax.psum((a ** 2).sum(), "x"))
        assert_array_close(g(A), (A ** 2).sum(), rtol=1e-5)
        assert_array_close(lamina.jit(lamina.grad(g))(A), 2 * A, rtol=1e-5)
        with pytest.raises(ValueError, match="names mesh axis 'y', which is not a manual axis"):
            lamina.shard_map(lambda a: a, mesh=MESH, in_specs=P("x", "y"), out_specs=P("x"),
                             axis_names={"x"})(A)
        with pytest.raises(NameError, match="unbound axis name 'y'"):
            lamina.shard_map(lambda a: lax.psum(a, "y"), mesh=MESH, in_specs=P("x"),
                             out_specs=P(), axis_names={"x"})(A)
        with pytest.raises(ValueError, match="'z' in axis_names/auto is not an axis"):
            lamina.shard_map(lambda a: a, mesh=MESH, in_specs=P("x"), out_specs=P("x"),
                             axis_names={"z"})

    def test_host_callbacks_in_sharded_programs_match_jax(capfd):
        import jax
        jmesh = jax.sharding.Mesh(np.array(jax.devices()).reshape(2, 2), ("x", "y"))
        jsharding = jax.sharding.NamedSharding(jmesh, jax.sharding.PartitionSpec("x", "y"))

        def f(L, a):
            L.debug.print("a={a}", a=a)
            s, c = L.pure_callback(lambda v: (np.sin(v), np.cos(v).sum(0)),
                                   (L.ShapeDtypeStruct(a.shape, a.dtype),
                                    L.ShapeDtypeStruct(a.shape[1:], a.dtype)), a)
            return s * 2 + c

        def printed():
            jax.effects_barrier()  # jax runs its callbacks asynchronously
            return sorted(line for line in capfd.readouterr().out.splitlines() if line)

        # a partitioned jit runs each callback once, on whole values (jax: a maximal
        # sharding on the first device)
        expected = jax.jit(lambda a: f(jax, a))(jax.device_put(A, jsharding))
        jax_lines = printed()
        x = lamina.device_put(A, NamedSharding(MESH, P("x", "y")))
        got = lamina.jit(lambda a: f(lamina, a))(x)
        assert_array_close(got, np.asarray(expected), rtol=1e-6)
        assert printed() == jax_lines and sum("a=" in t for t in jax_lines) == 1
        # ... also in its gradient
        loss = lambda L, a: (L.debug.print("s={s}", s=a.sum()), (a ** 2).sum())[1]
        jax.jit(jax.grad(lambda a: loss(jax, a)))(jax.device_put(A, jsharding))
        jax_lines = printed()
        assert_array_close(lamina.jit(lamina.grad(lambda a: loss(lamina, a)))(x), 2 * A,
                           rtol=1e-6)
        assert printed() == jax_lines and len(jax_lines) == 1
        # a shard_map body runs them on every device with its shard
        body = lambda L, a: (L.debug.print("shard={a}", a=a), a + L.pure_callback(
            np.cos, L.ShapeDtypeStruct(a.shape, a.dtype), a))[1]
        jp = jax.sharding.PartitionSpec
        expected = jax.jit(jax.shard_map(lambda a: body(jax, a), mesh=jmesh,
                                         in_specs=jp("x", "y"), out_specs=jp("x", "y")))(A)
        jax_lines = printed()
        got = lamina.jit(lamina.shard_map(lambda a: body(lamina, a), mesh=MESH,
                                          in_specs=P("x", "y"), out_specs=P("x", "y")))(A)
        assert_array_close(got, np.asarray(expected), rtol=1e-6)
        assert printed() == jax_lines and sum("shard=" in t for t in jax_lines) == 4
        # pmap runs them per device, like jax
        jax.pmap(lambda a: body(jax, a))(A)
        jax_lines = printed()
        assert_array_close(lamina.pmap(lambda a: body(lamina, a))(A), A + np.cos(A),
                           rtol=1e-6)
        assert printed() == jax_lines and sum("shard=" in t for t in jax_lines) == 4
        # ordered calls on one device keep their order; over several, refused (as jax)
        ordered = lambda a: (lamina.debug.print("1:{a}", a=a.sum(), ordered=True),
                             lamina.debug.print("2:{a}", a=a.max(), ordered=True), a)[2]
        one = lamina.device_put(A, NamedSharding(lamina.make_mesh((1,), ("d",)), P("d")))
        lamina.jit(ordered)(one)
        assert capfd.readouterr().out.split() == ["1:{}".format(np.array(A.sum())),
                                                  "2:{}".format(np.array(A.max()))]
        with pytest.raises(ValueError, match="ordered=True.* partitioned over several"):
            lamina.jit(ordered)(x)
        with pytest.raises(NotImplementedError, match="callbacks in a shard_map with axis_names"):
            lamina.jit(lamina.shard_map(lambda a: body(lamina, a), mesh=MESH, in_specs=P("x"),
                                        out_specs=P("x"), axis_names={"x"}))(A)

    def test_compiler_options_reach_sharded_and_replica_programs(tmp_path):
        # a mesh-sharded jit and a jit(pmap(...)) compile with the jit's XLA options
        x = lamina.device_put(A, NamedSharding(MESH, P("x", "y")))
        for k, (f, arg, want) in enumerate([
                (lambda a: a * 3 + 1, x, A * 3 + 1),
                (lamina.pmap(lambda a: lax.psum(a, "i"), "i"), A, np.tile(A.sum(0), (4, 1)))]):
            dump = tmp_path / f"dump{k}"
            g = lamina.jit(f, compiler_options={"xla_dump_to": str(dump)})
            assert_array_close(g(arg), want, rtol=1e-6)
            assert any(dump.iterdir()), k          # XLA honoured the option
            bad = lamina.jit(f, compiler_options={"xla_no_such_option": True})
            with pytest.raises(RuntimeError, match="compiler_options=.*xla_no_such_option"):
                bad(arg)

    def test_creation_device_argument_matches_jax():
        import jax
        import jax.numpy as jnp
        jmesh = jax.sharding.Mesh(np.array(jax.devices()).reshape(2, 2), ("x", "y"))
        spec = ("x", "y")
        for fn, args in [("zeros", ((4, 8),)), ("ones", ((4, 2), np.int32)),
                         ("full", ((2, 4), 3.5)), ("eye", (4,)), ("arange", (8.0,)),
                         ("asarray", (A,)), ("array", (A,))]:
            ndim = np.ndim(getattr(np, fn)(*args))
            s = NamedSharding(MESH, P(*spec[:ndim]))
            got = getattr(lnp, fn)(*args, device=s)
            want = getattr(jnp, fn)(*args, device=jax.sharding.NamedSharding(
                jmesh, jax.sharding.PartitionSpec(*spec[:ndim])))
            assert got.sharding == s, fn
            assert [sh.index for sh in got.addressable_shards] == [
                sh.index for sh in want.addressable_shards], fn
            np.testing.assert_array_equal(np.asarray(got), np.asarray(want), err_msg=fn)
            _check_shards(got, np.asarray(want))
        d3 = lamina.devices()[3]
        x = lnp.linspace(0, 1, 5, device=d3)
        assert x.device == d3 and lnp.zeros_like(x, device=d3).device == d3
        # DLPack sees one device's memory: a sharded array is exported gathered
        sharded = lnp.asarray(A, device=NamedSharding(MESH, P("x", "y")))
        assert sharded.__dlpack_device__() == (1, 0)
        np.testing.assert_array_equal(np.from_dlpack(sharded), A)
        np.testing.assert_array_equal(np.asarray(lnp.from_dlpack(A, device=d3)), A)

    def test_errors():
        with pytest.raises(ValueError, match="needs 8 devices, but only 4"):
            lamina.make_mesh((4, 2), ("a", "b"))
        with pytest.raises(ValueError, match="'z', which is not an axis of the mesh"):
            NamedSharding(MESH, P("z"))
        with pytest.raises(ValueError, match="uses mesh axis 'x' twice"):
            NamedSharding(MESH, P("x", "x"))
        with pytest.raises(ValueError, match="not divisible by 2"):
            lamina.device_put(np.ones((3, 4)), NamedSharding(MESH, P("x")))
        with pytest.raises(ValueError, match="rank at least 2"):
            lamina.device_put(np.ones(4), NamedSharding(MESH, P("x", "y")))
        with pytest.raises(ValueError, match="not divisible"):
            lamina.jit(lambda u: u, in_shardings=NamedSharding(MESH, P("x")))(np.ones((3, 2)))
        with pytest.raises(ValueError, match="does not divide"):
            lamina.shard_map(lambda a: a, mesh=MESH, in_specs=P("x"), out_specs=P("x"))(
                np.ones(3))
        with pytest.raises(NameError, match="unbound axis name 'z'"):
            lamina.shard_map(lambda a: lax.psum(a, "z"), mesh=MESH, in_specs=P("x"),
                             out_specs=P())(np.ones(4))
        with pytest.raises(ValueError, match="each device may appear once"):
            Mesh(np.array([lamina.devices()[0]] * 2), ("x",))
        with pytest.raises(ValueError, match="2 dimensions .* but 1 axis names"):
            Mesh(np.array(lamina.devices()).reshape(2, 2), ("x",))
        with pytest.raises(ValueError, match="'z', which is not an axis of the mesh"):
            lamina.shard_map(lambda a: a, mesh=MESH, in_specs=P("z"), out_specs=P())(A)
        with pytest.raises(ValueError, match="names 2 dimensions"):
            lamina.shard_map(lambda a: a, mesh=MESH, in_specs=P("x", "y"),
                             out_specs=P("x", "y"))(np.ones(4))
        # a mismatched shard layout never reaches XLA (it would segfault there)
        x = lamina.device_put(A, NamedSharding(MESH, P("x")))
        from lamina import _spmd
        with pytest.raises(ValueError, match="does not match the compiled"):
            _spmd._check_placed("f", 0, x, NamedSharding(MESH, P("y")), x.aval)
