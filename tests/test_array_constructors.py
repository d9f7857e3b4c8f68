"""`make_array_from_single_device_arrays`, `make_array_from_callback` and
`process_indices` against jax 0.10.2: values, shardings, each addressable shard's data
and index, the indices the callback sees, use in a sharded jit, and the errors. Runs
itself in a 4-device child process when the suite's client has one device
(tests/_multidevice.py); the child gives the jax oracle 4 CPU devices too."""
from __future__ import annotations

import numpy as np
import pytest

import _multidevice


def test_process_indices_in_one_process():
    import jax
    import lamina
    assert lamina.process_indices() == [0] == jax.process_indices()
    assert lamina.process_indices() == list(range(lamina.process_count()))


if not _multidevice.in_child():
    def test_array_constructors_on_4_devices():
        _multidevice.run_in_child(__file__)
else:
    import jax
    import lamina
    import lamina.numpy as lnp
    from lamina.backend.array import ShardedArray
    from lamina.sharding import (Mesh, NamedSharding, PartitionSpec as P, PmapSharding,
                                 SingleDeviceSharding)
    from lamina.testing import assert_array_close

    DEVS = lamina.devices()
    JDEVS = jax.devices()
    MESH = lamina.make_mesh((2, 2), ("x", "y"))
    JMESH = jax.sharding.Mesh(np.array(JDEVS).reshape(2, 2), ("x", "y"))
    A = (np.arange(24, dtype=np.float32).reshape(4, 6) - 5) / 3.0
    MAKE_ARRAY_FN = "lamina.make_array_from_single_device_arrays"

    # (id, lamina sharding, the jax oracle's equivalent)
    CASES = [
        ("xy", NamedSharding(MESH, P("x", "y")),
         jax.sharding.NamedSharding(JMESH, jax.sharding.PartitionSpec("x", "y"))),
        ("x", NamedSharding(MESH, P("x")),
         jax.sharding.NamedSharding(JMESH, jax.sharding.PartitionSpec("x"))),
        ("replicated", NamedSharding(MESH, P()),
         jax.sharding.NamedSharding(JMESH, jax.sharding.PartitionSpec())),
        ("single", SingleDeviceSharding(DEVS[2]), jax.sharding.SingleDeviceSharding(JDEVS[2])),
    ]

    def _pieces(sharding, value):
        """lamina single-device Arrays, one per device, holding its shard of `value`."""
        return [lamina.device_put(value[index], d)
                for d, index in sharding.devices_indices_map(value.shape).items()]

    def _jax_pieces(sharding, value):
        return [jax.device_put(value[index], d)
                for d, index in sharding.addressable_devices_indices_map(value.shape).items()]

    def _index_key(index):
        return tuple((i.start, i.stop, i.step) if isinstance(i, slice) else i for i in index)

    def _check_like_jax(x, jx, sharding, value):
        assert x.shape == jx.shape == value.shape
        assert x.dtype == jx.dtype and x.weak_type == jx.weak_type is False
        assert x.sharding == sharding
        np.testing.assert_array_equal(np.asarray(x), np.asarray(jx))
        np.testing.assert_array_equal(np.asarray(x), value)
        assert len(x.addressable_shards) == len(jx.addressable_shards)
        for ours, theirs in zip(x.addressable_shards, jx.addressable_shards):
            assert ours.device.id == theirs.device.id
            assert _index_key(ours.index) == _index_key(theirs.index)
            assert ours.replica_id == theirs.replica_id
            assert ours.data.sharding == SingleDeviceSharding(ours.device)
            np.testing.assert_array_equal(np.asarray(ours.data), np.asarray(theirs.data))
        assert x.is_fully_replicated == jx.is_fully_replicated
        assert {d.id for d in x.devices()} == {d.id for d in jx.devices()}

    # -- make_array_from_single_device_arrays --------------------------------------

    @pytest.mark.parametrize("name,sharding,jsharding", CASES, ids=[c[0] for c in CASES])
    def test_single_device_arrays_match_jax(name, sharding, jsharding):
        pieces = _pieces(sharding, A)
        x = lamina.make_array_from_single_device_arrays(A.shape, sharding, pieces)
        jx = jax.make_array_from_single_device_arrays(A.shape, jsharding,
                                                      _jax_pieces(jsharding, A))
        _check_like_jax(x, jx, sharding, A)
        assert isinstance(x, ShardedArray) == (name != "single")
        # The pieces' device buffers are the shards: nothing was copied.
        by_device = {p.device: p for p in pieces}
        for shard in x.addressable_shards:
            assert (shard.data._buf.unsafe_buffer_pointer()
                    == by_device[shard.device]._buf.unsafe_buffer_pointer())
        # Any order of the pieces (each goes to its device's shard), as in jax.
        y = lamina.make_array_from_single_device_arrays(list(A.shape), sharding,
                                                        tuple(pieces[::-1]), dtype="float32")
        _check_like_jax(y, jx, sharding, A)

    def test_single_device_arrays_from_computed_and_weak_pieces():
        s = NamedSharding(MESH, P("x", "y"))
        # pieces that are results of eager ops on their devices, and weakly typed ones
        pieces = [lnp.sin(p) * 2 for p in _pieces(s, A)]
        x = lamina.make_array_from_single_device_arrays(A.shape, s, pieces)
        assert_array_close(x, np.sin(A) * 2)
        weak = [lamina.device_put(1.5, d) for d in DEVS]
        z = lamina.make_array_from_single_device_arrays((2, 2), s, [w.reshape(1, 1)
                                                                    for w in weak])
        assert weak[0].weak_type and not z.weak_type and z.dtype == np.float32
        np.testing.assert_array_equal(np.asarray(z), np.full((2, 2), 1.5, np.float32))

    def test_single_device_arrays_pmap_sharding():
        # jax 0.10.2 has no PmapSharding (its pmap outputs use a NamedSharding over a
        # 1-d mesh, whose shards keep the leading axis), so the oracle is that layout.
        s = PmapSharding(DEVS)
        B = np.arange(12, dtype=np.int32).reshape(4, 3)
        x = lamina.make_array_from_single_device_arrays(
            B.shape, s, [lamina.device_put(B[k], d) for k, d in enumerate(DEVS)])
        jmesh = jax.sharding.Mesh(np.array(JDEVS), ("i",))
        js = jax.sharding.NamedSharding(jmesh, jax.sharding.PartitionSpec("i"))
        jx = jax.make_array_from_single_device_arrays(
            B.shape, js, [jax.device_put(B[k:k + 1], d) for k, d in enumerate(JDEVS)])
        assert x.sharding == s == lamina.pmap(lambda v: v)(B).sharding
        np.testing.assert_array_equal(np.asarray(x), np.asarray(jx))
        for k, (ours, theirs) in enumerate(zip(x.addressable_shards, jx.addressable_shards)):
            assert ours.device.id == theirs.device.id == DEVS[k].id
            assert ours.index == (k, slice(None)) and theirs.index[0] == slice(k, k + 1)
            np.testing.assert_array_equal(np.asarray(ours.data), np.asarray(theirs.data)[0])
        # a pmap takes it as it is laid out
        np.testing.assert_array_equal(np.asarray(lamina.pmap(lambda v: v * 2)(x)), B * 2)

    def test_single_device_arrays_in_sharded_jit():
        s = NamedSharding(MESH, P("x", "y"))
        x = lamina.make_array_from_single_device_arrays(A.shape, s, _pieces(s, A))
        y = lamina.jit(lambda u: lnp.tanh(u) * 2 + 1)(x)
        assert_array_close(y, np.tanh(A) * 2 + 1)
        assert y.sharding == s  # propagated from the input
        r = lamina.jit(lambda u: u.sum(0), out_shardings=NamedSharding(MESH, P("y")))(x)
        assert_array_close(r, A.sum(0), rtol=1e-5)
        jx = jax.make_array_from_single_device_arrays(
            A.shape, CASES[0][2], _jax_pieces(CASES[0][2], A))
        np.testing.assert_allclose(np.asarray(r), np.asarray(jax.jit(lambda u: u.sum(0))(jx)),
                                   rtol=1e-6)
        # in_shardings naming the same layout takes it without moving anything
        g = lamina.jit(lambda u: u @ u.T, in_shardings=s)
        assert_array_close(g(x), A @ A.T, rtol=1e-5, atol=1e-5)

    def test_single_device_arrays_errors():
        s = NamedSharding(MESH, P("x"))
        good = _pieces(s, A)
        with pytest.raises(ValueError, match=r"expected 4 arrays, one per device .* got 3"):
            lamina.make_array_from_single_device_arrays(A.shape, s, good[:3])
        with pytest.raises(ValueError, match=r"arrays\[3\] is on .*id=0.*distinct devices"):
            lamina.make_array_from_single_device_arrays(A.shape, s, good[:3] + [good[0]])
        mesh2 = Mesh(np.array(DEVS[:2]), ("x",))
        s2 = NamedSharding(mesh2, P("x"))
        wrong = [lamina.device_put(A[:2], DEVS[0]), lamina.device_put(A[2:], DEVS[3])]
        with pytest.raises(ValueError, match=r"arrays\[1\] \(f32\[2,6\]\) is on .*id=3.*not a "
                                             r"device of NamedSharding.*device_put"):
            lamina.make_array_from_single_device_arrays(A.shape, s2, wrong)
        bad_shape = [lamina.device_put(A[:1], d) for d in DEVS]
        with pytest.raises(ValueError, match=r"the array on .*id=0.* is f32\[1,6\], but the shard "
                                             r".* is f32\[2,6\] \(index"):
            lamina.make_array_from_single_device_arrays(A.shape, s, bad_shape)
        mixed = good[:3] + [lamina.device_put(A[2:].astype(np.int32), DEVS[3])]
        with pytest.raises(ValueError, match=r"the array on .*id=3.* is i32\[2,6\], but .* is "
                                             r"f32\[2,6\]"):
            lamina.make_array_from_single_device_arrays(A.shape, s, mixed)
        with pytest.raises(ValueError, match=r"dtype=int32 was given, but the arrays have dtype "
                                             r"float32"):
            lamina.make_array_from_single_device_arrays(A.shape, s, good, dtype=np.int32)
        with pytest.raises(TypeError, match=r"arrays\[0\] must be a lamina Array on one device, "
                                            r"got a ndarray of shape \(2, 6\).*device_put"):
            lamina.make_array_from_single_device_arrays(A.shape, s, [A[:2]] * 4)
        with pytest.raises(ValueError, match=r"arrays\[0\] \(f32\[4,6\]\) is split over devices"):
            lamina.make_array_from_single_device_arrays(A.shape, s, [lamina.device_put(A, s)] * 4)
        with pytest.raises(ValueError, match=r"shape \(5, 6\) does not fit NamedSharding"):
            lamina.make_array_from_single_device_arrays((5, 6), s, good)
        with pytest.raises(TypeError, match="arrays must be a list or tuple"):
            lamina.make_array_from_single_device_arrays(A.shape, s, iter(good))
        with pytest.raises(TypeError, match="sharding must be a lamina.sharding.Sharding"):
            lamina.make_array_from_single_device_arrays(A.shape, "x", good)
        with pytest.raises(TypeError, match="traced value"):
            lamina.jit(lambda p: lamina.make_array_from_single_device_arrays(
                (2, 6), SingleDeviceSharding(DEVS[0]), [p]))(A[:2])

    # -- make_array_from_callback --------------------------------------------------

    @pytest.mark.parametrize("name,sharding,jsharding", CASES, ids=[c[0] for c in CASES])
    def test_callback_matches_jax(name, sharding, jsharding):
        ours, theirs = [], []

        def callback(log):
            def cb(index):
                log.append(index)
                return A[index]
            return cb

        x = lamina.make_array_from_callback(A.shape, sharding, callback(ours))
        jx = jax.make_array_from_callback(A.shape, jsharding, callback(theirs))
        _check_like_jax(x, jx, sharding, A)
        # the same indices, as many times (a fully replicated layout: once)
        assert sorted(map(_index_key, ours)) == sorted(map(_index_key, theirs))
        assert len(ours) == {"xy": 4, "x": 4, "replicated": 1, "single": 1}[name]

    def test_callback_pmap_sharding():
        s = PmapSharding(DEVS)
        B = np.arange(12, dtype=np.float32).reshape(4, 3)
        seen = []
        x = lamina.make_array_from_callback(B.shape, s, lambda i: seen.append(i) or B[i])
        assert seen == [(k, slice(None)) for k in range(4)]
        assert x.sharding == s
        for k, shard in enumerate(x.addressable_shards):
            assert shard.device == DEVS[k] and shard.data.shape == (3,)
            np.testing.assert_array_equal(np.asarray(shard.data), B[k])
        jmesh = jax.sharding.Mesh(np.array(JDEVS), ("i",))
        jx = jax.make_array_from_callback(
            B.shape, jax.sharding.NamedSharding(jmesh, jax.sharding.PartitionSpec("i")),
            lambda i: B[i])
        np.testing.assert_array_equal(np.asarray(x), np.asarray(jx))
        np.testing.assert_array_equal(np.asarray(lamina.pmap(lambda v: v + 1)(x)), B + 1)

    def test_callback_values_and_dtypes():
        s = NamedSharding(MESH, P("x", "y"))
        # float64 numpy data becomes float32 (x64 off), as in jax
        A64 = A.astype(np.float64)
        x = lamina.make_array_from_callback(A.shape, s, lambda i: A64[i])
        jx = jax.make_array_from_callback(A.shape, CASES[0][2], lambda i: A64[i])
        assert x.dtype == jx.dtype == np.float32
        _check_like_jax(x, jx, s, A)
        # lists, and a Python scalar for a 0-d array
        y = lamina.make_array_from_callback((4, 2), s, lambda i: [[1], [2]])
        np.testing.assert_array_equal(np.asarray(y), [[1, 1], [2, 2], [1, 1], [2, 2]])
        assert y.dtype == np.int32
        z = lamina.make_array_from_callback((), SingleDeviceSharding(DEVS[1]), lambda i: 2.5)
        jz = jax.make_array_from_callback((), CASES[3][2], lambda i: 2.5)
        assert z.dtype == jz.dtype and z.weak_type == jz.weak_type and float(z) == 2.5
        assert z.device == DEVS[1]
        # lamina Arrays: the one already on the device is used as is, others are moved
        on_dev = {d: lamina.device_put(A[idx], d)
                  for d, idx in s.devices_indices_map(A.shape).items()}
        devs = iter(DEVS)
        w = lamina.make_array_from_callback(A.shape, s, lambda i: on_dev[next(devs)])
        for shard in w.addressable_shards:
            assert (shard.data._buf.unsafe_buffer_pointer()
                    == on_dev[shard.device]._buf.unsafe_buffer_pointer())
        v = lamina.make_array_from_callback(A.shape, s, lambda i: lnp.asarray(A[i]) + 0)
        _check_like_jax(v, jx, s, A)
        # a replicated sharded Array returned for a replicated sharding
        r = NamedSharding(MESH, P())
        rep = lamina.device_put(A, r)
        u = lamina.make_array_from_callback(A.shape, r, lambda i: rep)
        _check_like_jax(u, jax.make_array_from_callback(A.shape, CASES[2][2], lambda i: A), r, A)
        # dtype given and equal to the data's
        t = lamina.make_array_from_callback(A.shape, s, lambda i: A[i], dtype=np.float32)
        assert t.dtype == np.float32

    def test_callback_in_sharded_jit():
        s = NamedSharding(MESH, P("x"))
        x = lamina.make_array_from_callback(A.shape, s, lambda i: A[i])
        f = lamina.jit(lambda u, v: (u * v).sum(1), out_shardings=NamedSharding(MESH, P("x")))
        assert_array_close(f(x, 3.0), (A * 3).sum(1), rtol=1e-5)
        jx = jax.make_array_from_callback(A.shape, CASES[1][2], lambda i: A[i])
        np.testing.assert_allclose(np.asarray(f(x, 3.0)),
                                   np.asarray(jax.jit(lambda u: (u * 3.0).sum(1))(jx)),
                                   rtol=1e-6)

    def test_callback_errors():
        s = NamedSharding(MESH, P("x", "y"))
        with pytest.raises(ValueError, match=r"data_callback returned f32\[2,6\] for index "
                                             r"\(slice\(0, 2, None\), slice\(0, 3, None\)\) .* is "
                                             r"f32\[2,3\]; return global_data\[index\]"):
            lamina.make_array_from_callback(A.shape, s, lambda i: A[i[:1]])
        calls = iter(range(4))
        with pytest.raises(ValueError, match=r"returned i32\[2,3\] .*is f32\[2,3\]"):
            lamina.make_array_from_callback(
                A.shape, s, lambda i: A[i] if next(calls) < 2 else A[i].astype(np.int32))
        with pytest.raises(ValueError, match=r"dtype=float16 was given, but the callback's "
                                             r"pieces have dtype float32"):
            lamina.make_array_from_callback(A.shape, s, lambda i: A[i], dtype=np.float16)
        with pytest.raises(ValueError, match=r"shape \(3, 6\) does not fit NamedSharding.*"
                                             r"not divisible"):
            lamina.make_array_from_callback((3, 6), s, lambda i: A[i])
        with pytest.raises(ValueError, match=r"PmapSharding over 4 devices needs a leading "
                                             r"axis of size 4"):
            lamina.make_array_from_callback((2, 3), PmapSharding(DEVS), lambda i: A[i])
        with pytest.raises(TypeError, match="data_callback must be a function"):
            lamina.make_array_from_callback(A.shape, s, A)
        with pytest.raises(TypeError, match="shape must be a sequence of ints"):
            lamina.make_array_from_callback((4.0, 6), s, lambda i: A[i])
        with pytest.raises(TypeError, match=r"returned a ndarray of dtype object"):
            lamina.make_array_from_callback((2, 2), s, lambda i: np.array([[object()]]))

    def test_process_indices_with_4_devices():
        assert lamina.process_indices() == [0] == jax.process_indices()
