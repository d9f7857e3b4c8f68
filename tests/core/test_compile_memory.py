"""Issue 9: after each XLA compile, and each load from the persistent cache, lamina hands
the C heap's free pages back to the OS (`compile.release_free_heap`, glibc's
`malloc_trim`). These tests check when it is called and that it changes no result; the
memory it saves is measured by benchmarks/workloads/memory.py, not asserted here."""
import platform
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import lamina
from lamina.backend import compile as compile_mod
from lamina.backend import persistent_cache
from lamina.backend.array import device_put_host
from lamina.backend.compile import Executable, compile_module
from lamina.interpreters.eval import single_primitive_program
from lamina.interpreters.lowering import lower_program
from lamina.ir import AbstractArray


class _RecordingTrim:
    def __init__(self):
        self.calls = []

    def __call__(self, pad):
        self.calls.append(pad)
        return 1


def _mul_text(shape):
    from lamina.lax.elementwise import mul_p
    aval = AbstractArray(shape, np.float32)
    return aval, lower_program(single_primitive_program(mul_p, (aval, aval), {}))


def _run_mul(loaded, aval, device):
    x = np.arange(np.prod(aval.shape), dtype=np.float32).reshape(aval.shape)
    exe = Executable(loaded, [aval, aval], [aval], device)
    (out,) = exe([device_put_host(x, device), device_put_host(x + 1, device)])
    np.testing.assert_array_equal(np.asarray(out), x * (x + 1))


def test_compile_and_disk_load_release_the_heap_and_cache_hits_do_not(monkeypatch,
                                                                      tmp_path):
    monkeypatch.setenv("LAMINA_CACHE_DIR", str(tmp_path))
    trim = _RecordingTrim()
    monkeypatch.setattr(compile_mod, "_malloc_trim", trim)
    device = lamina.devices()[0]
    aval, text = _mul_text((3, 7, 11))  # a shape no other test compiles
    key = (text, (device.id,), (), ())
    compile_mod._compile_cache.pop(key, None)
    writes = persistent_cache.stats["writes"]

    first = compile_module(text, device)  # compiled by XLA, then written to disk
    assert trim.calls == [0]  # malloc_trim(0): keep no padding
    assert persistent_cache.stats["writes"] == writes + 1
    _run_mul(first, aval, device)

    assert compile_module(text, device) is first  # the in-process cache: no XLA work
    assert trim.calls == [0]

    del compile_mod._compile_cache[key]
    hits = persistent_cache.stats["hits"]
    loaded = compile_module(text, device)  # deserialized from the disk cache
    assert persistent_cache.stats["hits"] == hits + 1
    assert trim.calls == [0, 0]
    _run_mul(loaded, aval, device)


def test_a_failed_compile_does_not_release(monkeypatch):
    trim = _RecordingTrim()
    monkeypatch.setattr(compile_mod, "_malloc_trim", trim)
    with pytest.raises(RuntimeError, match="XLA failed to compile"):
        compile_module("module { func.func public @main() -> () { bogus } }",
                       lamina.devices()[0])
    assert trim.calls == []


def test_without_malloc_trim_compiling_still_works(monkeypatch):
    # What a C library without malloc_trim (macOS, musl) gets: release is a no-op.
    monkeypatch.setattr(compile_mod, "_malloc_trim", None)
    releases = compile_mod.heap_releases
    device = lamina.devices()[0]
    aval, text = _mul_text((5, 2, 9))
    compile_mod._compile_cache.pop((text, (device.id,), (), ()), None)
    _run_mul(compile_module(text, device), aval, device)
    compile_mod.release_free_heap()
    assert compile_mod.heap_releases == releases


@pytest.mark.skipif(sys.platform != "linux" or platform.libc_ver()[0] != "glibc",
                    reason="malloc_trim is glibc's")
def test_glibc_malloc_trim_is_found_and_harmless():
    assert compile_mod._malloc_trim is not None
    releases = compile_mod.heap_releases
    keep = [np.full((256, 1024), i, np.float32) for i in range(8)]  # live memory survives
    compile_mod.release_free_heap()
    assert compile_mod.heap_releases == releases + 1
    assert all(float(a[-1, -1]) == i for i, a in enumerate(keep))
    f = lamina.jit(lambda a, b: (a * b).sum(axis=1))
    x = np.arange(12.0, dtype=np.float32).reshape(3, 4)
    np.testing.assert_allclose(np.asarray(f(x, x + 1)), (x * (x + 1)).sum(axis=1))


def test_a_jitted_step_releases_once_per_new_program():
    """In a fresh process (so no earlier test compiled these programs): the first call of
    a jitted function compiles and releases once; later calls compile nothing more."""
    code = """
        import numpy as np
        import lamina, lamina.numpy as lnp
        from lamina.backend import compile as c
        x = lnp.asarray(np.arange(6.0, dtype=np.float32).reshape(2, 3))
        f = lamina.jit(lambda a: lnp.tanh(a @ a.T).sum() * 2.0)
        before = c.heap_releases
        y = float(f(x))
        after_first = c.heap_releases
        for _ in range(5):
            y = float(f(x))
        print(after_first - before, c.heap_releases - after_first, round(y, 5))
    """
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    a = np.arange(6.0).reshape(2, 3)
    want = round(float(np.tanh(a @ a.T).sum() * 2.0), 5)
    expected_first = "1" if compile_mod._malloc_trim is not None else "0"
    assert out.stdout.split() == [expected_first, "0", str(want)]
