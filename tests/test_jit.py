"""`jit`, `make_jaxpr`, `eval_shape` and the persistent compilation cache.

Oracles: numpy for values, jax.jit for what a jitted call returns (dtype, weak type).
"""
from __future__ import annotations

import functools
import os
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import lamina
import lamina.numpy as lnp
from lamina.backend import persistent_cache
from lamina.errors import ConcretizationError, DeletedArrayError
from lamina.testing import assert_array_close, assert_trees_close


def _counting(fun):
    calls = []

    def wrapped(*args, **kwargs):
        calls.append(1)
        return fun(*args, **kwargs)

    return wrapped, calls


def test_values_dtypes_and_weak_types_match_jax():
    cases = [
        (lambda x: x * 2 + 1, (np.arange(3, dtype=np.float32),)),
        (lambda x: x * 2, (3.0,)),  # a weak Python scalar stays weak
        (lambda x, y: x + y, (np.int8(3), 2)),
        (lambda x: (x.sum(), x.T), (np.ones((2, 3), np.float32),)),
    ]
    for fun, args in cases:
        got = lamina.jit(fun)(*args)
        want = jax.jit(fun)(*args)
        assert_trees_close(got, want)
        for g, w in zip(jax.tree_util.tree_leaves(got), jax.tree_util.tree_leaves(want)):
            assert g.dtype == w.dtype and g.weak_type == w.weak_type


def test_pytrees_in_and_out():
    def f(params, batch):
        return {"y": params["w"] @ batch[0] + params["b"], "n": batch[1]}

    params = {"w": np.ones((2, 3), np.float32), "b": np.float32(1.0)}
    batch = (np.arange(3, dtype=np.float32), np.int32(7))
    got = lamina.jit(f)(params, batch)
    assert set(got) == {"y", "n"}
    assert_array_close(got["y"], np.array([4.0, 4.0], np.float32))
    assert int(got["n"]) == 7


def test_retraces_only_on_new_shapes_dtypes_or_statics():
    fun, calls = _counting(lambda x, n: x * n)
    f = lamina.jit(fun, static_argnums=1)
    f(np.ones(3, np.float32), 2)
    f(np.zeros(3, np.float32), 2)  # same types: cached
    assert len(calls) == 1
    f(np.ones(4, np.float32), 2)  # new shape
    f(np.ones(4, np.int32), 2)  # new dtype
    f(np.ones(4, np.int32), 3)  # new static value
    assert len(calls) == 4


def test_static_argnames_and_keyword_arguments():
    fun, calls = _counting(lambda x, *, mode: x + 1 if mode == "inc" else x - 1)
    f = lamina.jit(fun, static_argnames="mode")
    assert float(f(1.0, mode="inc")) == 2.0
    assert float(f(1.0, mode="dec")) == 0.0
    assert len(calls) == 2
    g = lamina.jit(lambda x, y: x * y)
    assert float(g(2.0, y=3.0)) == 6.0


def test_static_argnums_also_name_the_parameter():
    f = lamina.jit(lambda x, n: x * n, static_argnums=1)
    assert float(f(2.0, n=3)) == 6.0


def test_unhashable_static_argument_is_a_clear_error():
    f = lamina.jit(lambda x, s: x, static_argnums=1)
    with pytest.raises(ValueError, match="static argument .* not hashable"):
        f(1.0, [1, 2])


def test_non_array_argument_names_its_path():
    f = lamina.jit(lambda d: d["a"])
    with pytest.raises(TypeError, match=r"\['a'\].*str"):
        f({"a": "text"})


def test_python_control_flow_on_tracers_is_a_concretization_error():
    def f(x):
        if x > 0:
            return x
        return -x

    with pytest.raises(ConcretizationError, match="static_argnums"):
        lamina.jit(f)(1.0)


def test_closure_over_arrays_becomes_constants():
    w = lnp.arange(3.0)
    f = lamina.jit(lambda x: x * w)
    assert_array_close(f(2.0), np.array([0.0, 2.0, 4.0], np.float32))
    jaxpr = lamina.make_jaxpr(lambda x: x * w)(2.0)
    assert len(jaxpr.constvars) == 1


def test_nested_jit():
    inner = lamina.jit(lambda x: x * 2)
    outer = lamina.jit(lambda x: inner(x) + inner(x + 1))
    assert_array_close(outer(np.arange(3.0, dtype=np.float32)),
                       np.array([2.0, 6.0, 10.0], np.float32))
    assert "jit" in str(lamina.make_jaxpr(outer)(1.0))


def test_donation_deletes_the_donated_input():
    f = lamina.jit(lambda x: x + 1, donate_argnums=0)
    x = lnp.asarray(np.ones(4, np.float32))
    y = f(x)
    assert_array_close(y, np.full(4, 2.0, np.float32))
    assert x.is_deleted()
    with pytest.raises(DeletedArrayError):
        f(x)


def test_lower_as_text_and_compile():
    f = lamina.jit(lambda x, y: x @ y)
    x = np.ones((2, 3), np.float32)
    y = np.ones((3, 4), np.float32)
    lowered = f.lower(x, y)
    text = lowered.as_text()
    assert "stablehlo.dot_general" in text and "tensor<2x3xf32>" in text
    compiled = lowered.compile()
    assert_array_close(compiled(x, y), np.full((2, 4), 3.0, np.float32))
    cost = compiled.cost_analysis()
    assert cost.get("flops", 0) > 0


def test_make_jaxpr_prints_the_program():
    text = str(lamina.make_jaxpr(lambda x: lnp.sin(x) * 2.0)(np.float32(1.0)))
    assert text.splitlines()[0] == "{ lambda ; a:f32[]. let"
    assert "b:f32[] = sin a" in text and "mul b 2.0" in text


def test_eval_shape_runs_nothing():
    def f(x, y):
        return {"z": x @ y, "s": x.sum()}

    out = lamina.eval_shape(f, lamina.ShapeDtypeStruct((1000, 2000), np.float32),
                            np.ones((2000, 3), np.float32))
    assert out["z"] == lamina.ShapeDtypeStruct((1000, 3), np.float32)
    assert out["s"].shape == () and out["s"].dtype == np.float32
    want = jax.eval_shape(f, jax.ShapeDtypeStruct((1000, 2000), jnp.float32),
                          jnp.ones((2000, 3), jnp.float32))
    assert out["z"].shape == want["z"].shape


def test_jit_of_a_method_with_static_self():
    class Scale:
        def __init__(self, k):
            self.k = k

        @functools.partial(lamina.jit, static_argnums=0)
        def __call__(self, x):
            return x * self.k

    assert float(Scale(3)(2.0)) == 6.0
    with pytest.raises(TypeError, match="Scale is not a valid lamina array type"):
        lamina.jit(lambda s, x: x)(Scale(3), 1.0)


# --------------------------------------------------------------------------------------
# Persistent compilation cache
# --------------------------------------------------------------------------------------

_PROGRAM = """
import lamina, lamina.numpy as lnp
from lamina.backend import persistent_cache
f = lamina.jit(lambda x: (lnp.tanh(x) * 3.0 + x ** 2).sum())
print(float(f(lnp.arange(37.0))), persistent_cache.stats["hits"], persistent_cache.stats["writes"])
"""


def _run(env):
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(_PROGRAM)], capture_output=True,
                         text=True, env={**os.environ, **env}, timeout=120)
    assert out.returncode == 0, out.stderr
    value, hits, writes = out.stdout.split()
    return float(value), int(hits), int(writes)


def test_second_process_skips_compilation(tmp_path):
    env = {"LAMINA_CACHE_DIR": str(tmp_path)}
    v1, hits1, writes1 = _run(env)
    assert writes1 > 0 and hits1 == 0
    v2, hits2, writes2 = _run(env)
    assert v2 == v1 and hits2 >= 1 and writes2 == 0


def test_corrupted_entries_are_ignored_and_rebuilt(tmp_path):
    env = {"LAMINA_CACHE_DIR": str(tmp_path)}
    v1, _, _ = _run(env)
    entries = list(tmp_path.rglob("*.bin"))
    assert entries
    for path in entries:  # truncate some, garble the others
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2] if len(entries) % 2 else data[::-1])
    v2, hits, writes = _run(env)
    assert v2 == v1 and hits == 0 and writes >= 1


def test_cache_off(tmp_path):
    v, hits, writes = _run({"LAMINA_CACHE_DIR": "off"})
    assert hits == 0 and writes == 0


def test_entry_key_depends_on_text_and_options():
    device = lamina.devices()[0]
    k1 = persistent_cache.entry_key("module A", "o", device)
    assert k1 == persistent_cache.entry_key("module A", "o", device)
    assert k1 != persistent_cache.entry_key("module B", "o", device)
    assert k1 != persistent_cache.entry_key("module A", "p", device)


# --------------------------------------------------------------------------------------
# The dispatch fast path: a later call with the same signature skips staging
# --------------------------------------------------------------------------------------


def _no_staging(monkeypatch, f):
    """Make `f`'s general path fail, so a call that succeeds took the fast path."""
    def fail(*args, **kwargs):
        raise AssertionError("the general path ran")
    monkeypatch.setattr(f, "_stage", fail)


def _same_as_jax(out, expected):
    assert out.dtype == expected.dtype and out.weak_type == expected.weak_type
    np.testing.assert_array_equal(np.asarray(out), np.asarray(expected))


def test_fast_path_takes_pytrees_of_arrays(monkeypatch):
    """A train-step-like call (dicts, tuples, None, a Python scalar inside) is served by
    the fast path after the first call, with the general path's results; another
    structure or leaf type is a different signature."""
    def step(state, batch, lr):
        params, count = state
        new = {k: v - lr * batch.sum() for k, v in params.items()}
        return (new, count + 1), None, batch.mean()
    f, jf = lamina.jit(step), jax.jit(step)
    params = {"w": np.ones((2, 3), np.float32), "b": np.arange(3, dtype=np.float32)}
    args = ((params, np.int32(0)), np.arange(4, dtype=np.float32), 0.5)
    lam_args = lamina.tree_util.tree_map(
        lambda x: x if isinstance(x, float) else lnp.asarray(x), args)
    first = f(*lam_args)
    _no_staging(monkeypatch, f)
    for _ in range(2):
        out = f(*lam_args)
        expected = jf(*args)
        assert (lamina.tree_util.tree_structure(out).num_leaves
                == len(jax.tree_util.tree_leaves(expected)))
        for a, b, c in zip(lamina.tree_util.tree_leaves(out),
                           lamina.tree_util.tree_leaves(first),
                           jax.tree_util.tree_leaves(expected)):
            _same_as_jax(a, c)
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
        assert out[1] is None
    other = ((dict(params, extra=lnp.zeros(1)), lam_args[0][1]), *lam_args[1:])
    with pytest.raises(AssertionError, match="general path"):
        f(*other)  # a new structure is staged


def test_fast_path_serves_repeated_calls_with_the_general_paths_results(monkeypatch):
    fun = lambda x, y: (x * y + 1, x)  # noqa: E731
    f, jf = lamina.jit(fun), jax.jit(fun)
    signatures = [
        (np.arange(3, dtype=np.float32), np.float32(2)),
        (np.arange(3, dtype=np.int8), 3),  # a Python int takes the array's dtype
        (np.arange(3, dtype=np.float32), 2.5),
        (1.5, 2),  # two weak scalars
        (True, False),
        (np.arange(3, dtype=np.int32), 1.5),  # promotes to float
    ]
    for args in signatures:
        largs = [lnp.asarray(a) if isinstance(a, (np.ndarray, np.generic)) else a
                 for a in args]
        first = f(*largs)
        with monkeypatch.context() as m:
            _no_staging(m, f)
            second = f(*largs)
        for a, b, e in zip(first, second, jf(*args)):
            _same_as_jax(a, e)
            _same_as_jax(b, e)
    # A weak Array is a different signature from a strong one of the same dtype.
    weak = lnp.asarray(1.0) * 1  # stays weak: both operands are weak
    assert weak.weak_type
    g, jg = lamina.jit(lambda x: x + 1), jax.jit(lambda x: x + 1)
    _same_as_jax(g(lnp.asarray(np.float32(1))), jg(np.float32(1)))
    _same_as_jax(g(weak), jg(jnp.asarray(1.0) * 1))
    _same_as_jax(g(weak), jg(jnp.asarray(1.0) * 1))


def test_fast_path_checks_deleted_and_donated_buffers():
    f = lamina.jit(lambda x: x + 1, donate_argnums=0)
    f(lnp.ones(3))
    x = lnp.ones(3)
    assert_array_close(f(x), np.full(3, 2.0, np.float32))  # the fast path, donating
    assert x.is_deleted()
    with pytest.raises(DeletedArrayError, match="deleted or donated"):
        f(x)
    g = lamina.jit(lambda x, y: x + y)
    a, b = lnp.ones(3), lnp.ones(3)
    g(a, b)
    b.delete()
    with pytest.raises(DeletedArrayError):
        g(a, b)
    b._buf = None  # what Array.delete leaves
    with pytest.raises(DeletedArrayError):
        g(a, b)
    # A deleted captured constant too.
    w = lnp.arange(3.0)
    h = lamina.jit(lambda x: x * w)
    h(a)
    assert_array_close(h(a), np.arange(3.0, dtype=np.float32))
    w.delete()
    with pytest.raises(DeletedArrayError):
        h(a)


def test_fast_path_is_not_taken_under_transformations():
    f = lamina.jit(lambda x: x * x)
    x = lnp.arange(3.0)
    f(x), f(x)  # the fast path is warm for f32[3]
    f32 = functools.partial(np.array, dtype=np.float32)
    assert_array_close(lamina.grad(lambda x: f(x).sum())(x), f32([0.0, 2.0, 4.0]))
    assert_array_close(lamina.vmap(f)(x), f32([0.0, 1.0, 4.0]))
    assert_array_close(lamina.jit(lambda x: f(x) + 1)(x), f32([1.0, 2.0, 5.0]))
    assert "jit" in str(lamina.make_jaxpr(lambda x: f(x))(x))
    # An escaped tracer with a known signature still gets the general path's error.
    leaked = []
    lamina.jit(lambda x: leaked.append(x) or x)(x)
    with pytest.raises(lamina.errors.EscapedTracerError):
        f(leaked[0])


def test_fast_path_keys_on_x64_and_clear_cache():
    f = lamina.jit(lambda x: x + 1)
    assert f(3).dtype == np.int32 and f(3).dtype == np.int32
    with lamina.config.override(enable_x64=True):
        assert f(3).dtype == np.int64 and f(3).dtype == np.int64
    assert f(3).dtype == np.int32
    f.clear_cache()
    assert not any(f._fast)
    assert int(f(3)) == 4


def test_fast_path_with_arrays_on_another_device():
    program = """
        import numpy as np, lamina, lamina.numpy as lnp
        d0, d1 = lamina.devices()
        f = lamina.jit(lambda x, y: x * y)
        a0 = lamina.device_put(np.arange(3, dtype=np.float32), d0)
        a1 = lamina.device_put(np.arange(3, dtype=np.float32), d1)
        for _ in range(2):
            assert f(a0, a0).device == d0 and f(a1, a1).device == d1
            assert (a1 * a1).device == d1 and (a0 + a0).device == d0
            for bad in (lambda: f(a0, a1), lambda: a0 * a1):
                try:
                    bad()
                except ValueError as e:
                    assert "device" in str(e), e
                else:
                    raise AssertionError("no error for arrays on two devices")
        np.testing.assert_array_equal(np.asarray(f(a1, a1)), [0, 1, 4])
        # host operands and uncommitted arrays (made on the default device) go to the
        # committed Array's device (jax's rule), fast path or not
        for y in (a1 * 2.0, 2.0 * a1, a1 + 1, a1 * np.float32(3), lnp.maximum(a1, 1.5),
                  a1 + np.ones(3, np.float32), lnp.ones(3, np.float32) + a1,
                  lnp.where(a1 > 0, a1, 0.0), f(a1, lnp.ones(3, np.float32))):
            assert y.device == d1, y.device
        np.testing.assert_array_equal(np.asarray(a1 * 2.0), [0, 2, 4])
        print("ok")
    """
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(program)],
                         capture_output=True, text=True, timeout=120,
                         env={**os.environ, "LAMINA_NUM_CPU_DEVICES": "2"})
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr


def test_captured_scalar_arrays_are_inlined_not_inputs():
    # jax writes a captured 0-d constant into the program; lamina did too for Python and
    # numpy scalars but passed `lnp.array(1, dtype)` (as optimizers build) as an input.
    one, cap = lnp.array(1, lnp.int32), lnp.array(7.0)

    def f(x):
        return x + one, x * cap

    text = lamina.jit(f).lower(lnp.arange(3)).as_text()
    main = next(line for line in text.splitlines() if "func.func public @main" in line)
    assert main.count("tensor<") == 1 + 2  # one input, two results
    out = lamina.jit(f)(lnp.arange(3))
    np.testing.assert_array_equal(out[0], [1, 2, 3])
    np.testing.assert_array_equal(out[1], [0.0, 7.0, 14.0])
    assert out[1].dtype == np.float32
