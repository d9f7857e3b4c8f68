"""`lamina.debug_nans`, `lamina.debug.print`/`callback` and `lamina.pure_callback`.

Oracles: jax for the semantics (which calls raise under jax_debug_nans; what
debug.print prints under jit/vmap/grad), numpy for callback values.
"""
from __future__ import annotations

import inspect
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


def _line_of(fun, text: str) -> int:
    """The line number of the first source line of `fun` containing `text`."""
    lines, start = inspect.getsourcelines(fun)
    return start + next(i for i, l in enumerate(lines) if text in l)


# --------------------------------------------------------------------------------------
# debug_nans
# --------------------------------------------------------------------------------------

def _inner(x):
    y = x * 2.0
    return lnp.log(y - 10.0)  # the NaN


_jit_inner = lamina.jit(_inner)


def _outer(x):
    return _jit_inner(x) + 1.0


_jit_outer = lamina.jit(_outer)
_LOG_LINE = f"{__file__}:{_line_of(_inner, 'the NaN')} (_inner)"


def _where_sqrt(x):
    return lnp.where(x > 0, lnp.sqrt(x), 0.0).sum()  # sqrt of a negative


def _jax_raises(fun, *args):
    with jax.debug_nans(True):
        try:
            jax.block_until_ready(fun(*args))
        except FloatingPointError:
            return True
    return False


def test_flag_off_no_check_and_fast_path():
    assert not lamina.config.debug_nans
    x = lnp.arange(3.0)
    for _ in range(2):
        out = _jit_outer(x)
    assert np.isnan(np.asarray(out)).all()
    assert _jit_outer._fast[0], "the dispatch fast path is used with the flag off"
    assert np.isnan(np.asarray(lnp.log(lnp.float32(-1.0))))


def test_jit_names_primitive_and_line_inside_nested_jit():
    x = lnp.arange(3.0)
    assert _jax_raises(jax.jit(lambda x: jnp.log(x * 2.0 - 10.0) + 1.0), np.arange(3.0))
    with lamina.debug_nans(True):
        with pytest.raises(FloatingPointError) as e:
            _jit_outer(x)
    assert str(e.value) == f"invalid value (nan) encountered in log at {_LOG_LINE}"
    # the context manager restored the flag; the fast path still works
    assert not lamina.config.debug_nans
    assert np.isnan(np.asarray(_jit_outer(x))).all()


def test_div_zero_by_zero_and_config_update():
    f = lamina.jit(lambda a, b: (a * 1.0) / b)
    z = lnp.zeros(2)
    lamina.config.update("debug_nans", True)
    try:
        with pytest.raises(FloatingPointError, match=r"encountered in div at .*test_debugging"):
            f(z, z)
        assert np.asarray(f(lnp.ones(2), lnp.ones(2))).tolist() == [1.0, 1.0]
    finally:
        lamina.config.update("debug_nans", False)


def test_eager_primitive():
    with lamina.debug_nans(True):
        with pytest.raises(FloatingPointError,
                           match=r"invalid value \(nan\) encountered in sqrt at .*test_debugging"):
            lnp.sqrt(lnp.array([-1.0, 4.0]))
        with pytest.raises(FloatingPointError, match="encountered in sub"):
            lnp.array([np.inf]) - lnp.array([np.inf])  # the eager binary fast path
        assert np.asarray(lnp.sqrt(lnp.array([4.0]))).tolist() == [2.0]  # no NaN: no error
        # integer outputs are never checked
        assert np.asarray(lnp.arange(3) // 1).tolist() == [0, 1, 2]


def test_inside_grad():
    x = lnp.array([-1.0, 4.0])
    line = f"{__file__}:{_line_of(_where_sqrt, 'sqrt of a negative')} (_where_sqrt)"
    # jax: eager grad and jit(grad) both raise (the gradient is NaN: 0 * inf)
    assert _jax_raises(jax.grad(lambda x: jnp.where(x > 0, jnp.sqrt(x), 0.0).sum()),
                       np.array([-1.0, 4.0]))
    with lamina.debug_nans(True):
        with pytest.raises(FloatingPointError) as e:
            lamina.grad(_where_sqrt)(x)
        assert str(e.value) == f"invalid value (nan) encountered in sqrt at {line}"
        with pytest.raises(FloatingPointError) as e:
            lamina.jit(lamina.grad(_where_sqrt))(x)
        assert str(e.value) == f"invalid value (nan) encountered in sqrt at {line}"
        with pytest.raises(FloatingPointError, match="encountered in sqrt"):
            lamina.grad(lamina.jit(_where_sqrt))(x)


_MUL_AT_THIS_FILE = r"invalid value \(nan\) encountered in mul at .*test_debugging"


def _where_sqrt_at_zero(x):
    return lnp.where(x > 0, lnp.sqrt(x), 0.0).sum()


def test_nan_only_in_backward_pass_names_jax_primitive():
    # forward is finite at 0; the gradient is 0 * inf = NaN in the backward pass. jax
    # names `mul` for all three; lamina's line is the one running the backward pass.
    x = np.array([0.0, 4.0], np.float32)
    grad_jax = jax.grad(lambda x: jnp.where(x > 0, jnp.sqrt(x), 0.0).sum())
    assert _jax_raises(grad_jax, x) and _jax_raises(jax.jit(grad_jax), x)
    with lamina.debug_nans(True):
        for g in [lamina.grad(_where_sqrt_at_zero), lamina.jit(lamina.grad(_where_sqrt_at_zero)),
                  lamina.grad(lamina.jit(_where_sqrt_at_zero))]:
            with pytest.raises(FloatingPointError, match=_MUL_AT_THIS_FILE):
                g(x)


def test_nan_passed_through_is_reported_as_not_reproduced():
    f = lamina.jit(lambda x: x)
    nan = lnp.array([np.nan])
    with lamina.debug_nans(True):
        with pytest.raises(FloatingPointError, match=r"jit\(<lambda>\).*produced no NaN"):
            f(nan)


def _jax_raises_inf(fun, *args):
    with jax.debug_infs(True):
        try:
            jax.block_until_ready(fun(*args))
        except FloatingPointError as e:
            return str(e).split(" encountered in ")[1].split()[0]  # the primitive
    return None


def _exp_then_scale(x):
    return lnp.exp(x) * 2.0  # the inf


def test_debug_infs_matches_jax():
    big = np.array([1.0, 100.0], np.float32)
    line = f"{__file__}:{_line_of(_exp_then_scale, 'the inf')} (_exp_then_scale)"
    cases = [  # (jax function, lamina function, args)
        (lambda x: jnp.exp(x) * 2.0, _exp_then_scale, (big,)),
        (jax.jit(lambda x: jnp.exp(x) * 2.0), lamina.jit(_exp_then_scale), (big,)),
        (lambda a, b: jnp.asarray(a) / b, lambda a, b: lnp.asarray(a) / b,
         (np.ones(2, np.float32), np.zeros(2, np.float32))),
        (jax.grad(lambda x: jnp.log(x).sum()), lamina.grad(lambda x: lnp.log(x).sum()),
         (np.array([0.0, 1.0], np.float32),)),
    ]
    for jax_fun, fun, args in cases:
        primitive = _jax_raises_inf(jax_fun, *args)
        assert primitive is not None
        with lamina.debug_infs(True):
            with pytest.raises(FloatingPointError,
                               match=rf"invalid value \(inf\) encountered in {primitive}"):
                fun(*args)
    with lamina.debug_infs(True):
        with pytest.raises(FloatingPointError) as e:
            lamina.jit(_exp_then_scale)(big)
        assert str(e.value) == f"invalid value (inf) encountered in exp at {line}"
        # debug_infs alone leaves NaNs alone (as jax), and finite results pass
        assert np.isnan(np.asarray(lnp.log(lnp.float32(-1.0))))
        assert np.asarray(lamina.jit(_exp_then_scale)(lnp.zeros(2))).tolist() == [2.0, 2.0]
        with pytest.raises(FloatingPointError, match=r"jit\(<lambda>\).*produced no inf"):
            lamina.jit(lambda x: x)(lnp.array([np.inf]))
    # both flags: a NaN is still reported as one
    with lamina.debug_infs(True), lamina.debug_nans(True):
        with pytest.raises(FloatingPointError, match=r"\(nan\) encountered in log"):
            lnp.log(lnp.float32(-1.0))
    assert not lamina.config.debug_infs and not lamina.config.flags()["debug_infs"]
    with pytest.raises(ValueError, match="unknown flag 'debug_floats'"):
        lamina.config.update("debug_floats", True)  # derived, not a flag


def test_env_var_in_subprocess():
    code = textwrap.dedent("""
        import lamina, lamina.numpy as lnp
        assert lamina.config.debug_nans
        f = lamina.jit(lambda x: lnp.log(x) * 2.0)
        try:
            f(lnp.array([-1.0]))
        except FloatingPointError as e:
            print("RAISED", e)
    """)
    env = dict(os.environ, LAMINA_DEBUG_NANS="1")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "RAISED invalid value (nan) encountered in log at <string>:4 (<lambda>)" in out.stdout


# --------------------------------------------------------------------------------------
# debug.print / debug.callback (jax is the oracle for what is printed)
# --------------------------------------------------------------------------------------

def _printing(debug, np_):
    def f(x):
        debug.print("x = {} y = {y}", x, y=x * 2.0)
        return (x ** 2).sum()
    return f


def _printed(capsys, run) -> str:
    capsys.readouterr()
    run()
    return capsys.readouterr().out


@pytest.mark.parametrize("transform", ["jit", "vmap", "grad", "jit_grad", "jit_vmap"])
def test_debug_print_matches_jax(capsys, transform):
    x = np.arange(3.0, dtype=np.float32)
    ours_f, theirs_f = _printing(lamina.debug, lnp), _printing(jax.debug, jnp)
    wrap = {
        "jit": lambda m, f: m.jit(f),
        "vmap": lambda m, f: m.vmap(f),
        "grad": lambda m, f: m.grad(f),
        "jit_grad": lambda m, f: m.jit(m.grad(f)),
        "jit_vmap": lambda m, f: m.jit(m.vmap(f)),
    }[transform]
    ours = _printed(capsys, lambda: lamina.block_until_ready(wrap(lamina, ours_f)(x)))
    theirs = _printed(capsys, lambda: jax.block_until_ready(wrap(jax, theirs_f)(x)))
    # NOTE: unordered callbacks: jax's jit(vmap) may print the elements in any order
    # (one call per element, which XLA schedules freely); lamina prints them in order.
    assert sorted(ours.splitlines()) == sorted(theirs.splitlines())
    assert ours.count("x = ") == (3 if "vmap" in transform else 1)
    if "vmap" in transform:
        assert ours.splitlines() == [f"x = {v} y = {2 * v}" for v in x]


def test_debug_print_eager_and_kept_when_unused(capsys):
    # the print's value is used by nothing: it must survive dead-code elimination
    f = lamina.jit(lambda x: (lamina.debug.print("v={v}", v=x + 1.0), x)[1])
    out = _printed(capsys, lambda: lamina.block_until_ready(f(lnp.float32(1.0))))
    assert out == "v=2.0\n"
    assert _printed(capsys, lambda: lamina.debug.print("{} {}", 1, lnp.arange(2))) == "1 [0 1]\n"


def test_debug_callback_inside_cond_and_scan():
    seen = []

    def body(c, x):
        lamina.debug.callback(lambda v: seen.append(float(v)), x)
        return c + x, None

    f = lamina.jit(lambda xs: lamina.lax.scan(body, 0.0, xs)[0])
    assert float(f(lnp.arange(4.0))) == 6.0
    assert sorted(seen) == [0.0, 1.0, 2.0, 3.0]
    seen.clear()
    g = lamina.jit(lambda p, x: lamina.lax.cond(
        p, lambda x: (lamina.debug.callback(lambda v: seen.append(float(v)), x), x)[1],
        lambda x: x, x))
    g(True, lnp.float32(5.0)), g(False, lnp.float32(6.0))
    assert seen == [5.0]


def test_callbacks_in_unused_control_flow_and_nested_jit_are_kept():
    seen = []
    record = lambda v: seen.append(float(v))  # noqa: E731

    def f(x):
        lamina.lax.cond(x > 0, lambda x: (lamina.debug.callback(record, x), x)[1],
                        lambda x: x, x)                     # result unused
        lamina.lax.scan(lambda c, _: (lamina.debug.callback(record, c) or c, None), x, None,
                        length=2)                            # result unused
        lamina.lax.fori_loop(0, 1, lambda i, c: (lamina.debug.callback(record, c), c)[1], x)
        return x * 2.0

    lamina.block_until_ready(lamina.jit(f)(lnp.float32(3.0)))
    assert seen == [3.0, 3.0, 3.0, 3.0]
    seen.clear()
    inner = lamina.jit(lambda x: (lamina.debug.callback(record, x), x * x)[1])
    lamina.block_until_ready(lamina.jit(lamina.grad(inner))(lnp.float32(2.0)))
    assert seen == [2.0]


def _many_prints(debug, n=20):
    # n ordered prints, no data dependence between them
    def f(x):
        for i in range(n):
            debug.print("p{} {}", i, x[0] + i, ordered=True)
        return (x ** 2).sum()
    return f


def test_debug_print_ordered_in_program_order(capsys):
    f = lamina.jit(_many_prints(lamina.debug))
    x = np.arange(3.0, dtype=np.float32)
    want = [f"p{i} {float(i)}" for i in range(20)]
    for _ in range(4):
        assert _printed(capsys, lambda: lamina.block_until_ready(f(x))).splitlines() == want
    theirs = _printed(capsys, lambda: jax.block_until_ready(
        jax.jit(_many_prints(jax.debug))(x)))
    assert theirs.splitlines() == want
    # one token chain: each callback takes the previous one's token
    text = f.lower(x).as_text()
    assert text.count("stablehlo.after_all") == 1
    assert text.count("(!stablehlo.token, tensor<i32>, tensor<f32>) -> (!stablehlo.token)") == 20
    # unordered calls thread no token
    g = lamina.jit(lambda x: (lamina.debug.print("{}", x, ordered=False), x)[1])
    assert "token" not in g.lower(x).as_text()
    assert _printed(capsys, lambda: lamina.block_until_ready(g(x))) == "[0. 1. 2.]\n"


@pytest.mark.parametrize("transform", ["jit_vmap", "jit_grad", "vmap", "grad"])
def test_debug_print_ordered_under_transforms_matches_jax(capsys, transform):
    x = np.arange(3.0, dtype=np.float32)
    wrap = {
        "vmap": lambda m, f: m.vmap(f),
        "grad": lambda m, f: m.grad(f),
        "jit_grad": lambda m, f: m.jit(m.grad(f)),
        "jit_vmap": lambda m, f: m.jit(m.vmap(f)),
    }[transform]
    arg = x.reshape(3, 1) if "vmap" in transform else x
    ours_f = wrap(lamina, _many_prints(lamina.debug, 6))
    theirs = _printed(capsys, lambda: jax.block_until_ready(
        wrap(jax, _many_prints(jax.debug, 6))(arg)))
    for _ in range(2):
        ours = _printed(capsys, lambda: lamina.block_until_ready(ours_f(arg)))
        assert ours == theirs
    per_call = 3 if "vmap" in transform else 1
    assert len(ours.splitlines()) == 6 * per_call


def test_debug_print_ordered_in_scan_body(capsys):
    def body(debug):
        def step(c, x):
            for k in "abcdef":
                debug.print(k + "{}", x, ordered=True)
            return c + x, None
        return step

    xs = np.arange(3.0, dtype=np.float32)
    want = [f"{k}{float(v)}" for v in xs for k in "abcdef"]
    f = lamina.jit(lambda xs: lamina.lax.scan(body(lamina.debug), 0.0, xs)[0])
    for _ in range(3):
        assert _printed(capsys, lambda: lamina.block_until_ready(f(xs))).splitlines() == want
    theirs = _printed(capsys, lambda: jax.block_until_ready(
        jax.jit(lambda xs: jax.lax.scan(body(jax.debug), 0.0, xs)[0])(xs)))
    assert theirs.splitlines() == want
    # a cond branch's ordered calls
    g = lamina.jit(lambda p, x: lamina.lax.cond(
        p, lambda x: ([lamina.debug.print(k + "{}", x, ordered=True) for k in "abcdef"],
                      x + 1)[1], lambda x: x, x))
    out = _printed(capsys, lambda: lamina.block_until_ready(g(True, xs[1])))
    assert out.splitlines() == [k + "1.0" for k in "abcdef"]


def _around_control_flow(m, with_while):
    # ordered prints before, inside (several iterations) and after control flow, none of
    # them data-dependent on the previous one
    dbg, lax = m.debug, m.lax

    def f(x):
        dbg.print("a {}", x[0], ordered=True)
        dbg.print("b {}", x[0] * 2, ordered=True)
        r = lax.cond(x[1] > 0, lambda v: (dbg.print("c {}", v, ordered=True), v + 1)[1],
                     lambda v: (dbg.print("e {}", v, ordered=True), v * 2)[1], x[1])

        def step(c, v):
            dbg.print("s {}", v, ordered=True)
            inner = lambda i, cc: (dbg.print("i {} {}", i, v, ordered=True), cc + v)[1]
            return lax.fori_loop(0, 2, inner, c), c * v

        c, ys = lax.scan(step, 0.0, x)
        n = m.jit(lambda v: (dbg.print("j {}", v, ordered=True), v * 3)[1])(x[2])
        w = lax.fori_loop(0, 2, lambda i, c: (dbg.print("f {}", i, ordered=True), c + 1.0)[1],
                          x[2])
        if with_while:
            w = w + lax.while_loop(
                lambda c: c[0] < 3,
                lambda c: (dbg.print("w {}", c[0], ordered=True), (c[0] + 1, c[1] * x[0]))[1],
                (0, x[1]))[1]
        dbg.print("d {}", x[0] + 1, ordered=True)
        return r + c + ys.sum() + n + w
    return f


@pytest.mark.parametrize("transform", ["jit", "jit_grad", "jit_vmap"])
def test_debug_print_ordered_across_control_flow_matches_jax(capsys, transform):
    x = np.array([1.0, 2.0, 3.0], np.float32)
    with_while = transform != "jit_grad"  # jax neither: no reverse mode through while
    wrap = {
        "jit": lambda m, f: m.jit(f),
        "jit_grad": lambda m, f: m.jit(m.grad(f)),
        "jit_vmap": lambda m, f: m.jit(m.vmap(f)),
    }[transform]
    arg = np.stack([x, x - 3.0]) if transform == "jit_vmap" else x
    theirs = _printed(capsys, lambda: jax.block_until_ready(
        wrap(jax, _around_control_flow(jax, with_while))(arg)))
    ours_f = wrap(lamina, _around_control_flow(lamina, with_while))
    for _ in range(3):
        ours = _printed(capsys, lambda: lamina.block_until_ready(ours_f(arg)))
        assert ours.splitlines() == theirs.splitlines()
    lines = ours.splitlines()
    assert lines[0].startswith("a ") and lines[-1].startswith("d ")
    # NOTE: under vmap the batched cond runs both branches and the while runs until every
    # lane stops (as jax)
    assert len(lines) == {"jit": 19, "jit_grad": 16, "jit_vmap": 35}[transform]
    # one token chain through the whole program: the body's calls continue it
    text = ours_f.lower(arg).as_text()
    assert text.count("stablehlo.after_all") == 1
    if transform == "jit":  # the cond's case returns the token after its own result
        assert "(tensor<i32>) -> (tensor<f32>, !stablehlo.token)" in text


def test_control_flow_without_ordered_effects_threads_no_token():
    x = np.arange(3.0, dtype=np.float32)

    def f(x):
        lamina.debug.print("{}", x)  # unordered: no token
        c = lamina.lax.scan(lambda c, v: (c + v, None), 0.0, x)[0]
        w = lamina.lax.while_loop(lambda c: c < 10.0, lambda c: c * 2.0 + 1.0, c)
        return lamina.lax.cond(w > 0, lambda v: v + 1, lambda v: v * 2, w)

    text = lamina.jit(f).lower(x).as_text()
    assert "token" not in text and text.count("stablehlo.while") == 2


def test_debug_ordered_bad_arguments():
    with pytest.raises(TypeError, match="debug.callback: ordered must be a bool"):
        lamina.debug.print("{}", 1.0, ordered="yes")
    with pytest.raises(NotImplementedError, match="partitioned=True"):
        lamina.debug.callback(print, 1.0, partitioned=True)


# --------------------------------------------------------------------------------------
# pure_callback (numpy is the oracle for values, jax for semantics)
# --------------------------------------------------------------------------------------

def _sin_cb(x):
    return lamina.pure_callback(np.sin, lamina.ShapeDtypeStruct(x.shape, x.dtype), x)


def test_pure_callback_eager_and_jit_match_numpy():
    x = np.linspace(-2, 2, 5, dtype=np.float32)
    np.testing.assert_allclose(np.asarray(_sin_cb(lnp.asarray(x))), np.sin(x), rtol=1e-6)
    f = lamina.jit(lambda x: _sin_cb(x * 2.0) + 1.0)
    np.testing.assert_allclose(np.asarray(f(x)), np.sin(2 * x) + 1, rtol=1e-6)


def test_pure_callback_pytrees_kwargs_and_x64_narrowing():
    def cb(a, b, *, scale):
        return {"s": (a + b) * scale, "n": np.array(len(a), np.int64)}  # f64 / i64 results

    shapes = {"s": jax.ShapeDtypeStruct((2,), np.float32), "n": np.zeros((), np.int32)}
    f = lamina.jit(lambda a, b: lamina.pure_callback(cb, shapes, a, b, scale=2.0))
    out = f(np.ones(2, np.float32), np.arange(2.0, dtype=np.float32))
    assert np.asarray(out["s"]).tolist() == [2.0, 4.0] and int(out["n"]) == 2


@pytest.mark.parametrize("method", ["sequential", "expand_dims", "broadcast_all"])
def test_pure_callback_vmap_matches_jax(method):
    calls = {"ours": [], "jax": []}

    def cb(who):
        def add(x, y):
            calls[who].append((np.shape(x), np.shape(y)))
            return np.asarray(x + y, np.float32)
        return add

    x, y = np.arange(6.0, dtype=np.float32).reshape(3, 2), np.full(2, 10.0, np.float32)

    def f(m, who):
        return lambda x, y: m.pure_callback(cb(who), m.ShapeDtypeStruct((2,), np.float32),
                                            x, y, vmap_method=method)

    ours = lamina.jit(lamina.vmap(f(lamina, "ours"), in_axes=(0, None)))(x, y)
    theirs = jax.jit(jax.vmap(f(jax, "jax"), in_axes=(0, None)))(x, y)
    np.testing.assert_array_equal(np.asarray(ours), np.asarray(theirs))
    np.testing.assert_array_equal(np.asarray(ours), x + y)
    assert calls["ours"] == calls["jax"]


def test_pure_callback_errors():
    x = lnp.arange(3.0)
    with pytest.raises(NotImplementedError, match="vmap_method"):
        lamina.vmap(_sin_cb)(lnp.ones((2, 3)))
    with pytest.raises(ValueError, match="no JVP"):
        lamina.grad(lambda x: _sin_cb(x).sum())(x)
    bad = lamina.jit(lambda x: lamina.pure_callback(
        lambda v: v[:2], lamina.ShapeDtypeStruct((3,), np.float32), x))
    with pytest.raises(Exception, match=r"returned result 0 of shape \(2,\)"):
        lamina.block_until_ready(bad(x))
    with pytest.raises(RuntimeError, match=r"returned result 0 of shape \(2,\)"):
        lamina.pure_callback(lambda v: v[:2], lamina.ShapeDtypeStruct((3,), np.float32), x)
    with pytest.raises(ValueError, match="vmap_method must be"):
        lamina.pure_callback(np.sin, lamina.ShapeDtypeStruct((3,), np.float32), x,
                             vmap_method="bogus")


def test_callback_programs_stay_out_of_the_persistent_cache(tmp_path):
    # Two processes compile the same program text (the callback is index 0 in both)
    # with different callbacks: the second must not load the first one's executable.
    code = textwrap.dedent("""
        import sys, numpy as np, lamina, lamina.numpy as lnp
        k = float(sys.argv[1])
        f = lamina.jit(lambda x: lamina.pure_callback(
            lambda v: v * k, lamina.ShapeDtypeStruct((2,), np.float32), x))
        print(np.asarray(f(lnp.ones(2))).tolist())
    """)
    env = dict(os.environ, LAMINA_CACHE_DIR=str(tmp_path))
    for k in ("2", "3"):
        out = subprocess.run([sys.executable, "-c", code, k], env=env, capture_output=True,
                             text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip() == f"[{k}.0, {k}.0]"
