"""Eager primitives compile with `LATENCY_OPTIONS` where that cannot change a bit
(`eval._EXACT_PRIMITIVES`); the oracle is the same primitive inside `jit` (XLA's
default emitters) and numpy."""
import numpy as np
import pytest

import lamina
import lamina.numpy as lnp
from lamina import lax
from lamina.backend import compile as compile_mod
from lamina.backend.compile import LATENCY_OPTIONS
from lamina.interpreters import eval as eval_interp

_SPECIAL = [0.0, -0.0, 1.0, -1.5, 3.0e38, -3.0e38, 1.0e-40, -1.0e-42, np.inf, -np.inf,
            np.nan, 2.5, 0.5, -2.5, 7.0, 1.0e-45]


def _floats(dtype, n=512, seed=0):
    rs = np.random.RandomState(seed)
    base = rs.standard_normal(n) * 10.0 ** rs.randint(-6, 6, n)
    with np.errstate(over="ignore"):  # float16: the large values become inf
        return np.concatenate([np.array(_SPECIAL), base]).astype(dtype)


def _ints(dtype, n=512, seed=0):
    info = np.iinfo(dtype)
    rs = np.random.RandomState(seed)
    vals = rs.randint(info.min, int(info.max) + 1, n, dtype=np.int64).astype(dtype)
    return np.concatenate([np.array([0, 1, info.max, info.min], dtype), vals])


_BINARY = [lax.add, lax.sub, lax.mul, lax.div, lax.rem, lax.max, lax.min]
_UNARY_FLOAT = [lax.neg, lax.abs, lax.sign, lax.floor, lax.ceil, lax.sqrt, lax.square,
                lax.is_finite, lambda x: lax.round(x, lax.RoundingMethod.TO_NEAREST_EVEN)]


@pytest.mark.parametrize("dtype", [np.float32, np.float16, lnp.bfloat16])
@pytest.mark.parametrize("op", _BINARY, ids=lambda f: f.__name__)
def test_eager_float_binary_matches_jit_bit_for_bit(op, dtype):
    x, y = _floats(dtype, seed=1), _floats(dtype, seed=2)[::-1].copy()
    eager = np.asarray(op(lnp.asarray(x), lnp.asarray(y)))
    jitted = np.asarray(lamina.jit(op)(lnp.asarray(x), lnp.asarray(y)))
    assert eager.tobytes() == jitted.tobytes()


@pytest.mark.parametrize("dtype", [np.float32, np.float16, lnp.bfloat16])
@pytest.mark.parametrize("op", _UNARY_FLOAT, ids=lambda f: getattr(f, "__name__", "round"))
def test_eager_float_unary_matches_jit_bit_for_bit(op, dtype):
    x = _floats(dtype, seed=3)
    eager = np.asarray(op(lnp.asarray(x)))
    jitted = np.asarray(lamina.jit(op)(lnp.asarray(x)))
    assert eager.tobytes() == jitted.tobytes()


@pytest.mark.parametrize("dtype", [np.int32, np.uint8, np.int8, np.uint32])
@pytest.mark.parametrize("op", [lax.add, lax.sub, lax.mul, lax.div, lax.rem, lax.max,
                                lax.bitwise_and, lax.bitwise_xor, lax.shift_left,
                                lax.shift_right_arithmetic, lax.shift_right_logical, lax.lt],
                         ids=lambda f: f.__name__)
def test_eager_integer_ops_match_jit_and_numpy(op, dtype):
    x, y = _ints(dtype, seed=4), _ints(dtype, seed=5)
    if op in (lax.div, lax.rem):
        y = np.where(y == 0, np.ones_like(y), y)
        if np.issubdtype(dtype, np.signedinteger):  # the one overflowing quotient
            y = np.where((x == np.iinfo(dtype).min) & (y == -1), np.ones_like(y), y)
    if op in (lax.shift_left, lax.shift_right_arithmetic, lax.shift_right_logical):
        y = (y.astype(np.int64) % (8 * np.dtype(dtype).itemsize)).astype(dtype)
    eager = np.asarray(op(lnp.asarray(x), lnp.asarray(y)))
    assert eager.tobytes() == np.asarray(lamina.jit(op)(lnp.asarray(x),
                                                        lnp.asarray(y))).tobytes()
    if op is lax.add:
        np.testing.assert_array_equal(eager, (x + y).astype(dtype))


def _compiles(monkeypatch):
    """Record the compiler options of every XLA compile that follows."""
    seen = []
    real = compile_mod._jaxlib.compile

    def recording(client, text, devices, options):
        seen.append(tuple(options.env_option_overrides))
        return real(client, text, devices, options)

    monkeypatch.setattr(compile_mod._jaxlib, "compile", recording)
    monkeypatch.setenv("LAMINA_CACHE_DIR", "off")
    return seen


def test_exact_primitives_take_the_latency_options_and_others_do_not(monkeypatch):
    seen = _compiles(monkeypatch)
    x = lnp.asarray(np.linspace(0.1, 2.0, 37, dtype=np.float32))   # a shape no test uses
    lax.div(x, x)
    lax.tan(x)
    lax.reduce_sum(x, (0,))
    z = lnp.asarray(np.ones(37, np.complex64))
    lax.div(z, z)
    assert seen == [LATENCY_OPTIONS, (), (), ()]
    assert "tan" not in eval_interp._EXACT_PRIMITIVES


def test_user_jit_keeps_xla_defaults(monkeypatch):
    seen = _compiles(monkeypatch)
    lamina.jit(lambda a: a + 1)(lnp.asarray(np.ones(41, np.float32)))
    assert seen == [()]


def test_eager_zeros_full_and_split_compile_nothing(monkeypatch):
    import jax
    seen = _compiles(monkeypatch)
    z = lnp.zeros((3, 5))
    f = lax.full((2,), 7)                      # a Python int: weakly typed
    h = lnp.full((4,), np.float16(2.5))
    k = lamina.random.PRNGKey(11)
    keys = lamina.random.split(k, 3)
    folded = lamina.random.fold_in(k, 5)
    rows = list(keys)
    assert seen == []
    assert z.aval.str_short() == "f32[3,5]" and not np.asarray(z).any()
    assert f.aval.weak_type and f.dtype == np.int32 and np.asarray(f).tolist() == [7, 7]
    assert h.dtype == np.float16 and np.asarray(h).tolist() == [2.5] * 4
    kj = jax.random.PRNGKey(11)
    np.testing.assert_array_equal(np.asarray(keys), np.asarray(jax.random.split(kj, 3)))
    np.testing.assert_array_equal(np.asarray(folded), np.asarray(jax.random.fold_in(kj, 5)))
    np.testing.assert_array_equal(np.stack([np.asarray(r) for r in rows]), np.asarray(keys))


def test_traced_zeros_and_split_stay_in_the_program():
    text = str(lamina.make_jaxpr(lambda k: (lnp.zeros(3), lamina.random.split(k)))(
        lamina.random.PRNGKey(0)))
    assert "broadcast_in_dim" in text and "threefry2x32" in text


def test_iterating_a_large_array_compiles_one_program_per_chunk_size(monkeypatch):
    seen = _compiles(monkeypatch)
    x = np.arange(250 * 20, dtype=np.float32).reshape(250, 20)   # over the host limit
    rows = list(lnp.asarray(x))
    assert len(seen) == 2                       # chunks of 100, 100 and 50 rows
    assert len(rows) == 250
    for i in (0, 99, 100, 249):
        np.testing.assert_array_equal(np.asarray(rows[i]), x[i])
    with pytest.raises(TypeError, match="0-d"):
        iter(lnp.asarray(1.0))


def test_sampler_bounds_are_not_program_arguments():
    # A scalar bound broadcast on the host to a shape over the inline limit used to
    # become a full-size argument of the sampler's program, sent at every call.
    program = lamina.make_jaxpr(lambda k: lamina.random.normal(k, (64, 256)))(
        lamina.random.PRNGKey(0))
    assert str(program).startswith("{ lambda ; ")


def test_jit_compiler_options_reach_xla(tmp_path, monkeypatch):
    x = lnp.asarray(np.arange(43.0, dtype=np.float32))
    seen = _compiles(monkeypatch)
    dump = tmp_path / "dump"
    f = lamina.jit(lambda a: a * 3 + 1, compiler_options={"xla_dump_to": str(dump)})
    out = f(x)
    np.testing.assert_array_equal(np.asarray(out), np.arange(43.0) * 3 + 1)
    assert seen == [(("xla_dump_to", str(dump)),)]
    assert any(dump.iterdir())                  # XLA honoured the option
    f(x)                                        # cached with its options: no recompile
    assert len(seen) == 1
    lowered = lamina.jit(lambda a: a - 2).lower(x)
    lowered.compile(compiler_options={"xla_cpu_use_fusion_emitters": False})
    assert seen[-1] == (("xla_cpu_use_fusion_emitters", False),)


def test_jit_compiler_options_errors_name_the_bad_entry():
    with pytest.raises(TypeError, match="compiler_options must be a dict"):
        lamina.jit(lambda a: a, compiler_options=["xla_dump_to"])
    with pytest.raises(TypeError, match="entry 'xla_dump_to': None"):
        lamina.jit(lambda a: a, compiler_options={"xla_dump_to": None})
    f = lamina.jit(lambda a: a + 1, compiler_options={"xla_no_such_option": True})
    with pytest.raises(RuntimeError, match="compiler_options=.*xla_no_such_option"):
        f(lnp.asarray(np.arange(47.0, dtype=np.float32)))


def test_an_op_the_latency_emitters_lack_falls_back_to_the_defaults(monkeypatch):
    seen = _compiles(monkeypatch)
    t, f = np.array(True), np.array(False)
    out = lax.clamp(f, lnp.asarray(np.array([[True, False, True]])), t)  # PRED clamp
    np.testing.assert_array_equal(np.asarray(out), [[True, False, True]])
    assert seen == [LATENCY_OPTIONS, ()]
