"""Collectives (lax.psum, pmean, pmax, pmin, all_gather, psum_scatter, all_to_all,
ppermute, pshuffle, pswapaxes, pbroadcast, axis_index, axis_size) on 4 CPU devices under
pmap, the same under vmap(axis_name=...), their gradients against jax.pmap, and errors.
Runs itself in a 4-device child process when the suite's client has one device."""
from __future__ import annotations

import numpy as np
import pytest

import _multidevice

if not _multidevice.in_child():
    def test_collectives_on_4_devices():
        _multidevice.run_in_child(__file__)

    def test_collectives_under_vmap_on_one_device():
        import lamina
        import lamina.numpy as lnp
        from lamina import lax
        x = lnp.arange(8.0).reshape(4, 2)
        out = lamina.vmap(lambda r: lax.all_gather(lax.psum(r, 'i'), 'i', tiled=True),
                          axis_name='i')(x)
        np.testing.assert_allclose(out, np.tile(np.asarray(x).sum(0), (4, 4)))
        with pytest.raises(NameError, match="unbound axis name 'i'.*none"):
            lax.psum(x, 'i')
        # collectives inside jit / cond under a named vmap are batched over its axis
        v = lnp.arange(4.0)
        out = lamina.vmap(lambda a: lamina.jit(lambda b: lax.psum(b, 'i') + lax.axis_index('i'))(a),
                          axis_name='i')(v)
        np.testing.assert_allclose(out, [6, 7, 8, 9])
        out = lamina.vmap(lambda a: lax.cond(a > 1, lambda b: lax.psum(b, 'i'), lambda b: b, a),
                          axis_name='i')(v)
        np.testing.assert_allclose(out, [0, 1, 6, 6])
        g = lamina.grad(lambda a: lamina.vmap(lambda b: lax.pmean(b ** 2, 'i'),
                                              axis_name='i')(a).sum())(v)
        np.testing.assert_allclose(g, 2 * np.asarray(v))
        # pmap over the single device of this process
        y = lamina.pmap(lambda a: lax.psum(a, 'i') * 2, 'i')(np.ones((1, 3), np.float32))
        np.testing.assert_allclose(y, np.full((1, 3), 2.0))
else:
    import lamina
    import lamina.numpy as lnp
    from lamina import lax
    from lamina.testing import assert_array_close

    N = _multidevice.NUM_DEVICES
    rng0 = np.random.default_rng(0)
    X = rng0.normal(size=(N, N, 3)).astype(np.float32)  # per device: (N, 3)
    PERM = ((0, 1), (1, 2), (2, 0))  # device 3 receives nothing
    SOURCES = (2, 0, 3, 1)  # pshuffle's perm: device k receives from SOURCES[k]

    def _ppermute_ref(x):
        out = np.zeros_like(x)
        for s, t in PERM:
            out[t] = x[s]
        return out

    def _all_to_all_ref(x, split, concat):  # x: (N, *per_device)
        per = [np.split(x[k], N, axis=split) for k in range(N)]
        return np.stack([np.concatenate([per[j][k] for j in range(N)], axis=concat)
                         for k in range(N)])

    # name -> (per-device function, numpy reference of the stacked result)
    CASES = {
        "psum": (lambda x: lax.psum(x, 'i'), lambda x: np.broadcast_to(x.sum(0), x.shape)),
        "pmean": (lambda x: lax.pmean(x, 'i'), lambda x: np.broadcast_to(x.mean(0), x.shape)),
        "pmax": (lambda x: lax.pmax(x, 'i'), lambda x: np.broadcast_to(x.max(0), x.shape)),
        "pmin": (lambda x: lax.pmin(x, 'i'), lambda x: np.broadcast_to(x.min(0), x.shape)),
        "all_gather": (lambda x: lax.all_gather(x, 'i', axis=1),
                       lambda x: np.broadcast_to(np.moveaxis(x, 0, 1), (N, *np.moveaxis(x, 0, 1).shape))),
        "all_gather_tiled": (lambda x: lax.all_gather(x, 'i', axis=1, tiled=True),
                             lambda x: np.broadcast_to(np.concatenate(list(x), 1),
                                                       (N, N, 3 * N))),
        "psum_scatter": (lambda x: lax.psum_scatter(x, 'i'), lambda x: x.sum(0)),
        "psum_scatter_tiled": (lambda x: lax.psum_scatter(x, 'i', tiled=True),
                               lambda x: x.sum(0).reshape(N, 1, 3)),
        # device k gets row k of every device's x, stacked along axis 1
        "all_to_all": (lambda x: lax.all_to_all(x, 'i', 0, 1),
                       lambda x: np.stack([np.stack([x[j, k] for j in range(N)], 1)
                                           for k in range(N)])),
        "all_to_all_tiled": (lambda x: lax.all_to_all(x, 'i', 0, 0, tiled=True),
                             lambda x: _all_to_all_ref(x, 0, 0)),
        "ppermute": (lambda x: lax.ppermute(x, 'i', PERM), _ppermute_ref),
        # device k gets device SOURCES[k]'s x
        "pshuffle": (lambda x: lax.pshuffle(x, 'i', SOURCES), lambda x: x[list(SOURCES)]),
        # device k gets row k of every device's x, stacked along axis 0
        "pswapaxes": (lambda x: lax.pswapaxes(x, 'i', 0), lambda x: np.swapaxes(x, 0, 1)),
        "pbroadcast": (lambda x: lax.pbroadcast(x, 'i', 2),
                       lambda x: np.broadcast_to(x[2], x.shape)),
        "axis_index": (lambda x: x * lax.axis_index('i') + lax.axis_size('i'),
                       lambda x: x * np.arange(N)[:, None, None] + N),
    }

    @pytest.fixture(scope="module")
    def pmapped():
        return {k: lamina.pmap(f, 'i') for k, (f, _) in CASES.items()}

    @pytest.mark.parametrize("name", sorted(CASES))
    def test_collective_under_pmap_matches_numpy(name, pmapped):
        out = pmapped[name](X)
        assert isinstance(out, lamina.Array)
        assert_array_close(out, CASES[name][1](X).astype(np.float32), rtol=1e-5, atol=1e-6)

    @pytest.mark.parametrize("name", sorted(CASES))
    def test_collective_under_vmap_matches_pmap(name, pmapped):
        f = CASES[name][0]
        assert_array_close(lamina.vmap(f, axis_name='i')(X), pmapped[name](X),
                           rtol=1e-5, atol=1e-6)

    def test_collectives_on_unmapped_values_under_vmap():
        c = np.ones(3, np.float32)
        f = lambda x: (lax.psum(c, 'i'), lax.all_gather(c, 'i'), lax.axis_index('i'),
                       lax.ppermute(c, 'i', PERM), lax.psum(1, 'i'))
        out = lamina.vmap(f, axis_name='i')(X)
        g = lamina.pmap(f, 'i')(X)
        for a, b in zip(out, g):
            assert_array_close(a, b)

    def test_grads_match_jax():
        import jax
        import jax.numpy as jnp
        w = rng0.normal(size=(N, N, 3)).astype(np.float32)
        bodies = {
            "psum": lambda L, x: L.lax.psum(x, 'i'),
            "pmean": lambda L, x: L.lax.pmean(x * x, 'i'),
            "all_gather": lambda L, x: L.lax.all_gather(x, 'i', axis=1),
            "psum_scatter": lambda L, x: L.lax.psum_scatter(x, 'i', tiled=True),
            # (jax 0.10.2 cannot transpose the untiled form with split_axis != concat_axis)
            "all_to_all": lambda L, x: L.lax.all_to_all(x, 'i', 0, 1, tiled=True),
            "ppermute": lambda L, x: L.lax.ppermute(x, 'i', PERM),
        }
        for name, body in bodies.items():
            def loss(L, np_):
                f = L.pmap(lambda x: np_.tanh(body(L, x)), 'i')
                return lambda x: (f(x) * np_.sum(w)).sum() + (f(x) ** 2).sum()
            expected = jax.grad(loss(jax, jnp))(X)
            actual = lamina.grad(loss(lamina, lnp))(X)
            assert_array_close(actual, np.asarray(expected), rtol=2e-5, atol=1e-5,
                               err_msg=name)

    def test_pmax_pmin_jvp_follows_the_extremum():
        t = rng0.normal(size=X.shape).astype(np.float32)
        for op, arg in ((lax.pmax, X.argmax(0)), (lax.pmin, X.argmin(0))):
            f = lamina.pmap(lambda x: op(x, 'i'), 'i')
            _, tout = lamina.jvp(f, (X,), (t,))
            expected = np.take_along_axis(t, arg[None], 0)[0]
            assert_array_close(tout, np.broadcast_to(expected, X.shape), rtol=1e-6)
            g = lambda x: lamina.vmap(lambda y: op(y, 'i'), axis_name='i')(x)
            assert_array_close(lamina.jvp(g, (X,), (t,))[1], tout, rtol=1e-6)

    def test_pmap_of_grad_with_collective_matches_vmap():
        def f(x):
            def loss(y):
                z = lax.psum(y ** 2, 'i') * lax.all_gather(y, 'i')
                return lnp.sum(lnp.sin(lax.all_to_all(z, 'i', 0, 1)) * lax.axis_index('i'))
            return lamina.grad(loss)(x)
        assert_array_close(lamina.pmap(f, 'i')(X), lamina.vmap(f, axis_name='i')(X),
                           rtol=1e-5, atol=1e-5)

    def test_bool_psum_and_int_pmean():
        b = np.array([True, False, True, True])
        assert_array_close(lamina.pmap(lambda v: lax.psum(v, 'i'), 'i')(b), np.full(N, 3, np.int32))
        m = lamina.pmap(lambda v: lax.pmean(v, 'i'), 'i')(np.arange(N))
        assert m.dtype == np.float32
        assert_array_close(m, np.full(N, 1.5, np.float32))

    def test_errors():
        with pytest.raises(NameError, match=r"unbound axis name 'j'. Axis names in scope: \['i'\]"):
            lamina.pmap(lambda x: lax.all_gather(x, 'j'), 'i')(X)
        with pytest.raises(NameError, match="unbound axis name 'k'"):
            lamina.vmap(lambda x: lax.axis_index('k'), axis_name='i')(X)
        with pytest.raises(ValueError, match="must equal the size 4"):
            lamina.pmap(lambda x: lax.psum_scatter(x, 'i', scatter_dimension=1), 'i')(X)
        with pytest.raises(ValueError, match="all_to_all requires the size"):
            lamina.pmap(lambda x: lax.all_to_all(x, 'i', 1, 0), 'i')(X)
        with pytest.raises(ValueError, match="sources and destinations must be unique"):
            lamina.pmap(lambda x: lax.ppermute(x, 'i', [(0, 1), (0, 2)]), 'i')(X)
        with pytest.raises(ValueError, match="outside the axis"):
            lamina.pmap(lambda x: lax.ppermute(x, 'i', [(0, 7)]), 'i')(X)
        G = [[0, 1], [2, 3]]
        with pytest.raises(ValueError, match="cover all indices exactly once"):
            lamina.pmap(lambda x: lax.psum(x, 'i', axis_index_groups=[[0, 1], [1, 2]]),
                        'i')(X)
        with pytest.raises(ValueError, match="cover 6 indices, but axis 'i' has size 4"):
            lamina.pmap(lambda x: lax.psum(x, 'i', axis_index_groups=[[0, 1], [2, 3], [4, 5]]),
                        'i')(X)
        with pytest.raises(ValueError, match="must all have the same size"):
            lamina.pmap(lambda x: lax.all_gather(x, 'i', axis_index_groups=[[0], [1, 2, 3]]),
                        'i')(X)
        with pytest.raises(TypeError, match="list of lists"):
            lamina.pmap(lambda x: lax.psum(x, 'i', axis_index_groups=[0, 1, 2, 3]), 'i')(X)
        with pytest.raises(ValueError, match="must equal the size 2"):  # the group size
            lamina.pmap(lambda x: lax.psum_scatter(x, 'i', axis_index_groups=G), 'i')(X)

    G2 = [[0, 2], [3, 1]]  # jax's docstring example: groups out of order

    # name -> body(L, x) for L in (jax, lamina); per-device x is (N, 3)
    GROUP_CASES = {
        "psum": lambda L, x: L.lax.psum(x, 'i', axis_index_groups=G2),
        "pmean": lambda L, x: L.lax.pmean(x, 'i', axis_index_groups=G2),
        "pmax": lambda L, x: L.lax.pmax(x, 'i', axis_index_groups=G2),
        "pmin": lambda L, x: L.lax.pmin(x, 'i', axis_index_groups=G2),
        # uneven groups: pmean divides by the first group's size, as jax does
        "psum_uneven": lambda L, x: L.lax.psum(x, 'i', axis_index_groups=[[0], [1, 2, 3]]),
        "pmean_uneven": lambda L, x: L.lax.pmean(x, 'i', axis_index_groups=[[2, 0, 3], [1]]),
        "psum_const": lambda L, x: x * L.lax.psum(1, 'i', axis_index_groups=G2),
        "all_gather": lambda L, x: L.lax.all_gather(x, 'i', axis_index_groups=G2, axis=1),
        "all_gather_tiled": lambda L, x: L.lax.all_gather(x, 'i', axis_index_groups=G2,
                                                          tiled=True),
        "psum_scatter": lambda L, x: L.lax.psum_scatter(x[:2], 'i', axis_index_groups=G2),
        "psum_scatter_tiled": lambda L, x: L.lax.psum_scatter(x, 'i', axis_index_groups=G2,
                                                              scatter_dimension=0, tiled=True),
        "all_to_all": lambda L, x: L.lax.all_to_all(x[:2], 'i', 0, 1, axis_index_groups=G2),
        "all_to_all_tiled": lambda L, x: L.lax.all_to_all(x, 'i', 0, 0, axis_index_groups=G2,
                                                          tiled=True),
    }

    def test_axis_index_groups_match_jax():
        import jax
        for name, body in GROUP_CASES.items():
            expected = jax.pmap(lambda x: body(jax, x), 'i')(X)
            actual = lamina.pmap(lambda x: body(lamina, x), 'i')(X)
            assert_array_close(actual, np.asarray(expected), rtol=1e-6, err_msg=name)
        # inside jit inside pmap, and under a vmap over another axis (passed through)
        f = lambda L: L.pmap(L.jit(lambda x: GROUP_CASES["all_gather"](L, x)), 'i')
        assert_array_close(f(lamina)(X), np.asarray(f(jax)(X)), err_msg="jit")
        w = np.arange(2, dtype=np.float32)
        g = lambda L: L.vmap(lambda v: L.pmap(lambda x: GROUP_CASES["psum"](L, x * v), 'i')(X))
        assert_array_close(g(lamina)(w), np.asarray(g(jax)(w)), err_msg="vmap of pmap")

    def test_axis_index_groups_grads_match_jax():
        import jax
        import jax.numpy as jnp
        names = ["psum", "pmean", "all_gather", "psum_scatter_tiled", "all_to_all_tiled"]
        for name in names:
            body = GROUP_CASES[name]

            def loss(L, np_):
                f = L.pmap(lambda x: np_.sin(body(L, x)), 'i')
                return lambda x: (f(x) ** 2).sum()
            expected = jax.grad(loss(jax, jnp))(X)
            actual = lamina.grad(loss(lamina, lnp))(X)
            assert_array_close(actual, np.asarray(expected), rtol=2e-5, atol=1e-5, err_msg=name)

    def test_axis_index_groups_pmax_jvp():
        # (jax 0.10.2 has no pmax/pmin JVP; the reference is the tangent of the maximum)
        t = rng0.normal(size=X.shape).astype(np.float32)
        f = lamina.pmap(lambda x: lax.pmax(x, 'i', axis_index_groups=G2), 'i')
        _, tout = lamina.jvp(f, (X,), (t,))
        expected = np.empty_like(t)
        for g in G2:
            pick = np.take_along_axis(t[g], X[g].argmax(0)[None], 0)[0]
            expected[g] = pick
        assert_array_close(tout, expected, rtol=1e-6)

    def test_axis_index_groups_under_vmap_raise_as_in_jax():
        # jax: NotImplementedError for a named vmap axis (a constant psum still folds)
        for body in (GROUP_CASES["psum"], GROUP_CASES["pmax"], GROUP_CASES["all_gather"],
                     GROUP_CASES["psum_scatter"], GROUP_CASES["all_to_all"]):
            with pytest.raises(NotImplementedError, match="axis_index_groups"):
                lamina.vmap(lambda x: body(lamina, x), axis_name='i')(X)
        out = lamina.vmap(lambda x: GROUP_CASES["psum_const"](lamina, x), axis_name='i')(X)
        assert_array_close(out, X * 2)

    # pshuffle, pswapaxes, pbroadcast: name -> body(L, x) for L in (jax, lamina);
    # per-device x is (N, 3)

    def _pbroadcast(L, x, source):
        if L is lamina:
            return lax.pbroadcast(x, 'i', source)
        # NOTE: jax 0.10.2 lowers pbroadcast for GPU only (and its vmap rule fails on
        # jax arrays), so the oracle is the equivalent its docstring gives.
        import jax
        import jax.numpy as jnp
        return jax.lax.psum(jnp.where(jax.lax.axis_index('i') == source, x, 0), 'i')

    CONVENIENCE_CASES = {
        "pshuffle": lambda L, x: L.lax.pshuffle(x, 'i', SOURCES),
        # devices 2 and 3 receive zeros
        "pshuffle_short": lambda L, x: L.lax.pshuffle(x, 'i', [1, 0]),
        "pshuffle_tree": lambda L, x: L.lax.pshuffle({"a": x, "b": (x[0] * 2,)}, 'i',
                                                     np.array([1, 2, 3, 0])),
        "pswapaxes": lambda L, x: L.lax.pswapaxes(x, 'i', 0),
        "pswapaxes_axis1": lambda L, x: L.lax.pswapaxes(x.T, 'i', 1),
        "pswapaxes_tree": lambda L, x: L.lax.pswapaxes([x, x[:, :1] + 1], 'i', 0),
        "pswapaxes_groups": lambda L, x: L.lax.pswapaxes(x[:2], 'i', 0,
                                                         axis_index_groups=G2),
        "pbroadcast": lambda L, x: _pbroadcast(L, x, 2),
        "pbroadcast_0": lambda L, x: _pbroadcast(L, x[0], 0),
        "pbroadcast_int": lambda L, x: _pbroadcast(L, (x * 10).astype(np.int32), 3),
    }

    def test_pshuffle_pswapaxes_pbroadcast_match_jax():
        import jax
        for name, body in CONVENIENCE_CASES.items():
            expected = jax.pmap(lambda x: body(jax, x), 'i')(X)
            actual = lamina.pmap(lambda x: body(lamina, x), 'i')(X)
            assert (lamina.tree_util.tree_structure(actual).num_leaves
                    == jax.tree_util.tree_structure(expected).num_leaves), name
            for a, e in zip(lamina.tree_util.tree_leaves(actual),
                            jax.tree_util.tree_leaves(expected)):
                assert_array_close(a, np.asarray(e), err_msg=name)
            if name.endswith("_groups"):  # jax: no axis_index_groups under vmap
                with pytest.raises(NotImplementedError, match="axis_index_groups"):
                    lamina.vmap(lambda x: body(lamina, x), axis_name='i')(X)
                continue
            vmapped = lamina.vmap(lambda x: body(lamina, x), axis_name='i')(X)
            if name == "pshuffle_short":  # jax's vmap of ppermute wants all indices
                expected = actual
            else:
                expected = jax.vmap(lambda x: body(jax, x), axis_name='i')(X)
            for a, e in zip(lamina.tree_util.tree_leaves(vmapped),
                            jax.tree_util.tree_leaves(expected)):
                assert_array_close(a, np.asarray(e), err_msg=f"vmap {name}")

    def test_pbroadcast_matches_jax_pbroadcast_under_vmap():
        import jax
        # (jax's own primitive: its vmap rule works on numpy inputs only)
        for source in range(N):
            expected = jax.vmap(lambda x: jax.lax.pbroadcast(x, 'i', source),
                                axis_name='i')(X)
            actual = lamina.vmap(lambda x: lax.pbroadcast(x, 'i', source),
                                 axis_name='i')(X)
            assert_array_close(actual, np.asarray(expected))
        b = X > 0
        out = lamina.pmap(lambda x: lax.pbroadcast(x, 'i', 1), 'i')(b)
        assert out.dtype == np.bool_
        np.testing.assert_array_equal(out, np.broadcast_to(b[1], b.shape))
        out = lamina.vmap(lambda x: lax.pbroadcast(x, 'i', 1), axis_name='i')(b)
        np.testing.assert_array_equal(out, np.broadcast_to(b[1], b.shape))
        # an unmapped value is already the same everywhere
        c = np.arange(3, dtype=np.float32)
        out = lamina.vmap(lambda x: lax.pbroadcast(c, 'i', 1) + x[0], axis_name='i')(X)
        assert_array_close(out, X[:, 0] + c)

    def test_pshuffle_pswapaxes_pbroadcast_grads_match_jax():
        import jax
        import jax.numpy as jnp
        w = rng0.normal(size=(N, N * 3)).astype(np.float32)
        names = ["pshuffle", "pshuffle_short", "pswapaxes", "pswapaxes_axis1",
                 "pswapaxes_groups", "pbroadcast", "pbroadcast_0"]
        for name in names:
            body = CONVENIENCE_CASES[name]
            for mapped in ("pmap", "vmap"):
                if mapped == "vmap" and name in ("pswapaxes_groups", "pshuffle_short"):
                    continue  # (jax 0.10.2 supports neither under vmap)

                def loss(L, np_):
                    if mapped == "pmap":
                        f = L.pmap(lambda x: np_.sin(body(L, x)), 'i')
                    else:
                        f = L.vmap(lambda x: np_.sin(body(L, x)), axis_name='i')

                    def total(x):
                        y = f(x)
                        weighted = y.reshape(N, -1) * w[:, :y[0].size]
                        return weighted.sum() + (y ** 2).sum()
                    return total
                expected = jax.grad(loss(jax, jnp))(X)
                actual = lamina.grad(loss(lamina, lnp))(X)
                assert_array_close(actual, np.asarray(expected), rtol=2e-5, atol=1e-5,
                                   err_msg=f"{mapped} {name}")

    def test_pshuffle_pswapaxes_pbroadcast_errors():
        pmap = lambda f: lamina.pmap(f, 'i')(X)
        with pytest.raises(ValueError, match=r"perm must be a permutation of "
                           r"range\(len\(perm\)\), each index exactly once; "
                           r"got \[1, 1, 0\]"):
            pmap(lambda x: lax.pshuffle(x, 'i', [1, 1, 0]))
        with pytest.raises(ValueError, match=r"permutation .*got \[0, 2\]"):
            lamina.vmap(lambda x: lax.pshuffle(x, 'i', [0, 2]), axis_name='i')(X)
        with pytest.raises(ValueError,
                           match=r"has 5 entries, more than the size 4 of axis 'i'"):
            pmap(lambda x: lax.pshuffle(x, 'i', range(5)))
        with pytest.raises(TypeError,
                           match=r"perm must be a sequence of integer .* \[0.5\]"):
            pmap(lambda x: lax.pshuffle(x, 'i', [0.5]))
        with pytest.raises(ValueError, match=r"pswapaxes requires x.shape\[axis\] "
                           r"\(3, axis=1\) to equal its size \(4\) along the mapped "
                           r"axis 'i'; x is f32\[4,3\]"):
            pmap(lambda x: lax.pswapaxes(x, 'i', 1))
        with pytest.raises(ValueError, match=r"equal the size of its groups \(2\)"):
            pmap(lambda x: lax.pswapaxes(x, 'i', 0, axis_index_groups=G2))
        with pytest.raises(ValueError, match=r"pswapaxes: axis=2 is out of range for "
                           r"an operand of rank 2"):
            lamina.vmap(lambda x: lax.pswapaxes(x, 'i', 2), axis_name='i')(X)
        with pytest.raises(ValueError,
                           match="axis_index_groups must all have the same size"):
            pmap(lambda x: lax.pswapaxes(x, 'i', 0, axis_index_groups=[[0], [1, 2, 3]]))
        for source in (4, -1):
            with pytest.raises(ValueError, match=rf"pbroadcast: source={source} is out "
                               r"of range for axis 'i' of size 4"):
                pmap(lambda x: lax.pbroadcast(x, 'i', source))
        with pytest.raises(ValueError, match="source=7 is out of range"):
            lamina.vmap(lambda x: lax.pbroadcast(x, 'i', 7), axis_name='i')(X)
        with pytest.raises(TypeError,
                           match=r"source must be an int axis index, got 1.5"):
            pmap(lambda x: lax.pbroadcast(x, 'i', 1.5))
        with pytest.raises(NameError, match="unbound axis name 'j'"):
            pmap(lambda x: lax.pbroadcast(x, 'j', 0))
