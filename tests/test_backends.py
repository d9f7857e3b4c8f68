"""Accelerator backends: PJRT plugin discovery (faked plugin layouts, environment
overrides, entry points, libtpu), platform choice (LAMINA_PLATFORMS), the error for a
requested platform that is missing or fails to load, and the device-to-host path used
for accelerator buffers. Tests marked `gpu` need a real CUDA/ROCm device and are
skipped when none loads."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import ml_dtypes
import numpy as np
import pytest

import lamina
import lamina.numpy as lnp
from lamina.backend import _jaxlib, client, plugins
from lamina.backend.array import device_put_host


def _fake_package_tree(root, packages):
    """`root/jax_plugins/<package>/<library>` files (empty: never loaded here), each
    package with an `__init__` that would fail if anything imported it."""
    for package, library in packages:
        d = root / "jax_plugins" / package
        d.mkdir(parents=True)
        (d / "__init__.py").write_text("raise RuntimeError('a plugin __init__ was run')\n")
        if library:
            (d / library).write_bytes(b"")
    return root


@pytest.fixture
def fake_tree(tmp_path, monkeypatch):
    root = _fake_package_tree(tmp_path, [
        ("xla_cuda12", "xla_cuda_plugin.so"), ("xla_cuda13", "xla_cuda_plugin.so"),
        ("xla_rocm7", "xla_rocm_plugin.so"), ("xla_my_chip", "xla_my_chip_plugin.so"),
        ("not_a_plugin", None)])
    monkeypatch.syspath_prepend(str(root))
    return root


def _under(root, found):
    # (a real plugin installed on the test machine may come after the fakes)
    return [p for p in found if p.library_path.startswith(str(root))]


def test_package_plugins_found_without_running_their_init(fake_tree):
    cuda = _under(fake_tree, plugins.find_plugins("cuda", environ={}))
    # NOTE: the newer CUDA's package comes first.
    assert [p.library_path for p in cuda] == [
        str(fake_tree / "jax_plugins" / v / "xla_cuda_plugin.so")
        for v in ("xla_cuda13", "xla_cuda12")]
    assert cuda[0].source.startswith("package jax_plugins.xla_cuda13 in ")
    assert [p.name for p in _under(fake_tree, plugins.find_plugins("rocm", environ={}))] == [
        "rocm"]
    assert [p.name for p in plugins.find_plugins("my_chip", environ={})] == ["my_chip"]
    assert not any(m.startswith("jax_plugins") for m in sys.modules)


def test_tpu_library_from_env_then_libtpu_wheel(tmp_path, monkeypatch):
    (tmp_path / "libtpu").mkdir()
    (tmp_path / "libtpu" / "libtpu.so").write_bytes(b"")
    (tmp_path / "libtpu" / "__init__.py").write_text("raise RuntimeError('imported')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    wheel = str(tmp_path / "libtpu" / "libtpu.so")
    assert [p.library_path for p in plugins.find_plugins("tpu", environ={})] == [wheel]
    own = tmp_path / "my_libtpu.so"
    own.write_bytes(b"")
    found = plugins.find_plugins("tpu", environ={"TPU_LIBRARY_PATH": str(own)})
    assert [(p.library_path, p.source) for p in found][0] == (str(own), "TPU_LIBRARY_PATH")
    missing = {"TPU_LIBRARY_PATH": str(tmp_path / "nope.so")}
    assert [p.library_path for p in plugins.find_plugins("tpu", environ=missing)] == [wheel]
    assert any("nope.so', not a file" in s for s in plugins.searched("tpu", missing))
    assert "libtpu" not in sys.modules


def test_environment_overrides_win_and_json_configs(fake_tree, tmp_path):
    config = tmp_path / "chip.json"
    config.write_text(json.dumps({"library_path": "/opt/chip.so",
                                  "create_options": {"flag": 1, "name": "x"}}))
    env = {"LAMINA_PJRT_PLUGIN_CUDA": "/opt/my_cuda.so",
           "PJRT_NAMES_AND_LIBRARY_PATHS": f"Chip{os.pathsep}{config}, other{os.pathsep}/o.so"}
    cuda = plugins.find_plugins("cuda", environ=env)
    assert (cuda[0].library_path, cuda[0].source) == ("/opt/my_cuda.so", "LAMINA_PJRT_PLUGIN_CUDA")
    assert len(_under(fake_tree, cuda)) == 2  # then the two packages
    (chip,) = plugins.find_plugins("chip", environ=env)
    assert chip.library_path == "/opt/chip.so" and dict(chip.options) == {"flag": 1, "name": "x"}
    assert plugins.client_options(chip, dict, environ={}) == {"flag": 1, "name": "x"}
    assert [p.library_path for p in plugins.find_plugins("other", environ=env)] == ["/o.so"]
    with pytest.raises(ValueError, match=r"PJRT_NAMES_AND_LIBRARY_PATHS='nocolon': entry "
                                         r"'nocolon' is not 'name:path'"):
        plugins.override_plugins({"PJRT_NAMES_AND_LIBRARY_PATHS": "nocolon"})
    config.write_text("[1, 2]")
    with pytest.raises(ValueError, match="'library_path' field"):
        plugins.find_plugins("chip", environ=env)


def test_entry_points_are_read_only_when_thorough(tmp_path, monkeypatch):
    d = tmp_path / "devplugin" / "impl"
    d.mkdir(parents=True)
    (d / "xla_devchip_plugin.so").write_bytes(b"")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(plugins, "_entry_point_modules", lambda: ["devplugin.impl"])
    assert plugins.find_plugins("devchip", environ={}) == []
    (found,) = plugins.find_plugins("devchip", thorough=True, environ={})
    assert found.library_path == str(d / "xla_devchip_plugin.so")
    assert found.source.startswith("entry point jax_plugins -> devplugin.impl")
    monkeypatch.undo()
    assert isinstance(plugins._entry_point_modules(), list)  # the real scan works


def test_parse_platforms():
    assert plugins.parse_platforms(None) is None and plugins.parse_platforms(" ") is None
    assert plugins.parse_platforms("CUDA, cpu") == ["cuda", "cpu"]
    with pytest.raises(ValueError, match=r"LAMINA_PLATFORMS='cuda,,cpu' has an empty entry"):
        plugins.parse_platforms("cuda,,cpu")


def test_default_candidates_order_and_hardware_check():
    found = [plugins.Plugin(n, f"/{n}.so", "test")
             for n in ("zeta", "cuda", "rocm", "tpu", "alpha", "cuda")]
    assert plugins.default_candidates(found, lambda n: None) == [
        "tpu", "cuda", "rocm", "alpha", "zeta"]
    present = {"tpu": False, "cuda": True, "rocm": False}
    assert plugins.default_candidates(found, present.get) == ["cuda", "alpha", "zeta"]
    assert plugins.default_candidates([], lambda n: True) == []


def test_gpu_client_options(monkeypatch):
    gpu = {"platform_name": "cuda", "allocator": "default"}
    cuda, rocm = plugins.Plugin("cuda", "/c.so", "t"), plugins.Plugin("rocm", "/r.so", "t")
    assert plugins.client_options(cuda, lambda: dict(gpu), environ={}) == gpu
    assert plugins.client_options(rocm, lambda: dict(gpu), environ={})["platform_name"] == "ROCM"
    opts = plugins.client_options(cuda, lambda: dict(gpu),
                                  environ={"JAX_CUDA_VISIBLE_DEVICES": "1,3"})
    assert opts["visible_devices"] == [1, 3]
    opts = plugins.client_options(cuda, lambda: dict(gpu), environ={
        "JAX_CUDA_VISIBLE_DEVICES": "1,3", "LAMINA_VISIBLE_DEVICES": "0"})
    assert opts["visible_devices"] == [0]
    with pytest.raises(ValueError, match=r"LAMINA_VISIBLE_DEVICES='a' must be a comma list"):
        plugins.client_options(cuda, dict, environ={"LAMINA_VISIBLE_DEVICES": "a"})
    assert plugins.client_options(plugins.Plugin("tpu", "/t.so", "t"), dict, environ={}) == {}
    # jaxlib's own generator reads the allocator settings from the environment
    monkeypatch.setenv("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
    assert _jaxlib.gpu_plugin_options()["preallocate"] is False


@pytest.mark.parametrize("name, hint", [("cuda", "jax-cuda12-plugin"), ("rocm", "jax-rocm7"),
                                        ("tpu", "pip install libtpu"),
                                        ("gpu", "jax-cuda12-plugin"),
                                        ("cdua", "none of lamina's known platforms")])
def test_missing_platform_is_a_clear_error(name, hint, monkeypatch):
    monkeypatch.delenv("LAMINA_PLATFORMS", raising=False)
    canonical = client._canonical_platform(name)
    if plugins.find_plugins(canonical, thorough=True):
        pytest.skip(f"a {canonical} plugin is installed here")
    with pytest.raises(RuntimeError) as info:
        lamina.devices(name)
    message = str(info.value)
    for part in (f"backend {canonical!r} is not available", "Searched:",
                 f"LAMINA_PJRT_PLUGIN_{canonical.upper()}", "jax_plugins", hint,
                 "LAMINA_PLATFORMS=cpu"):
        assert part in message, (part, message)
    assert canonical not in client._clients


def test_platform_not_in_lamina_platforms_is_refused(monkeypatch):
    monkeypatch.setenv("LAMINA_PLATFORMS", "cpu")
    with pytest.raises(RuntimeError, match=r"backend 'tpu' is not available: "
                                           r"LAMINA_PLATFORMS='cpu' does not list it"):
        lamina.devices("tpu")
    assert lamina.devices("cpu")[0].platform == "cpu"  # get_client('cpu') is unchanged
    assert lamina.devices("CPU") == lamina.devices("cpu")


def test_plugin_that_fails_to_load_is_a_clear_error(tmp_path, monkeypatch):
    bogus = tmp_path / "bogus_plugin.so"
    bogus.write_bytes(b"")
    monkeypatch.setenv("LAMINA_PJRT_PLUGIN_BOGUSCHIP", str(bogus))
    monkeypatch.delenv("LAMINA_PLATFORMS", raising=False)
    with pytest.raises(RuntimeError) as info:
        lamina.devices("boguschip")
    message = str(info.value)
    for part in (f"backend 'boguschip' failed to start from the PJRT plugin {bogus}",
                 "found through LAMINA_PJRT_PLUGIN_BOGUSCHIP", "file too short",
                 "LAMINA_PLATFORMS=cpu"):
        assert part in message, (part, message)
    assert "boguschip" not in client._clients and not _jaxlib.plugin_loaded("boguschip")


def test_gpu_alias(fake_tree, monkeypatch):
    monkeypatch.delenv("LAMINA_PLATFORMS", raising=False)
    assert client._canonical_platform("GPU") == "cuda"  # the fake tree has both
    monkeypatch.setenv("LAMINA_PLATFORMS", "rocm,cpu")
    assert client._canonical_platform("gpu") == "rocm"
    with pytest.raises(TypeError, match="backend must be a platform name"):
        client._canonical_platform(3)


class _AsAccelerator:
    """A CPU buffer that reports another platform, to drive host_view's accelerator path."""

    def __init__(self, buf):
        self._buf = buf

    def platform(self):
        return "gpu"

    def __getattr__(self, name):
        return getattr(self._buf, name)


@pytest.mark.parametrize("dtype", [np.float32, np.int8, np.bool_, ml_dtypes.bfloat16,
                                   np.complex64, np.uint32], ids=lambda d: np.dtype(d).name)
def test_accelerator_device_to_host_path(dtype):
    host = (np.arange(6).reshape(2, 3) % 3).astype(dtype)
    buf = device_put_host(host)._buf
    value = _jaxlib.host_view(_AsAccelerator(buf))
    assert value.dtype == host.dtype and value.shape == host.shape
    np.testing.assert_array_equal(value, host)
    assert not value.flags.writeable
    if np.dtype(dtype) != ml_dtypes.bfloat16:  # (the CPU path: views, no bfloat16)
        assert np.shares_memory(_jaxlib.host_view(buf), _jaxlib.host_view(buf))


def _run(code, **env):
    full = {k: v for k, v in os.environ.items()
            if k != "LAMINA_PLATFORMS" and not k.startswith("LAMINA_PJRT_PLUGIN_")}
    full.update(env)
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, env=full, timeout=120)


def test_default_choice_and_lamina_platforms_cpu_in_fresh_processes(tmp_path):
    """With a (bogus) CUDA plugin installed: unset LAMINA_PLATFORMS picks cuda only where
    an NVIDIA device is present (failing with the plugin's path here), else the CPU;
    LAMINA_PLATFORMS=cpu never touches the plugin. Reading fresh arrays through the
    accelerator path keeps jax out of sys.modules."""
    root = _fake_package_tree(tmp_path, [("xla_cuda12", "xla_cuda_plugin.so")])
    code = """
        import sys
        import lamina, lamina.numpy as lnp
        from lamina.backend import _jaxlib, plugins
        print(plugins.hardware_present("cuda"))
        try:
            print(lamina.default_backend(), float((lnp.ones(2) + 1)[0]))
        except RuntimeError as e:
            print("error:", str(e).splitlines()[0])
        for i in range(3):
            _jaxlib.host_copy((lnp.arange(4.0) + i)._buf)
        print("jax" in sys.modules, "jax.core" in sys.modules, "jax_plugins" in sys.modules)
    """
    proc = _run(code, PYTHONPATH=f"{root}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    assert proc.returncode == 0, proc.stderr
    hardware, outcome, modules = proc.stdout.strip().splitlines()
    if hardware == "False":
        assert outcome == "cpu 2.0"
    else:
        assert outcome.startswith("error: LAMINA_PLATFORMS") or (
            "failed to start from the PJRT plugin" in outcome and "xla_cuda12" in outcome)
    assert modules == "False False False"

    proc = _run("""
        import lamina
        print(lamina.default_backend(), lamina.devices()[0].platform)
        try:
            lamina.devices("gpu")
        except RuntimeError as e:
            print(str(e))
    """, LAMINA_PLATFORMS="cpu", PYTHONPATH=str(root))
    assert proc.returncode == 0, proc.stderr
    first, second = proc.stdout.strip().splitlines()
    assert first == "cpu cpu"
    assert second.startswith("backend 'cuda' is not available: LAMINA_PLATFORMS='cpu'")


def test_requested_platform_that_fails_stops_the_first_computation(tmp_path):
    bogus = tmp_path / "chip.so"
    bogus.write_bytes(b"")
    proc = _run("import lamina.numpy as lnp; lnp.ones(2)", LAMINA_PLATFORMS="chip,cpu",
                LAMINA_PJRT_PLUGIN_CHIP=str(bogus))
    assert proc.returncode != 0
    assert ("LAMINA_PLATFORMS='chip,cpu' makes 'chip' the default backend, but backend "
            f"'chip' failed to start from the PJRT plugin {bogus}") in proc.stderr


@pytest.mark.parametrize("platform", ["cuda", "rocm", "tpu"])
def test_cpu_only_kernels_refuse_accelerator_lowering_clearly(platform):
    # LAPACK (lax.linalg's factorizations) and Python callbacks are CPU kernels in
    # lamina: lowering them for an accelerator names the op and the way out instead of
    # leaving XLA to fail on an unknown custom call; everything else lowers as for the CPU.
    from lamina.interpreters import lowering
    x = np.eye(3, dtype=np.float32) + 1
    lapack = [lnp.linalg.inv, lnp.linalg.eigh, lnp.linalg.svd, lnp.linalg.qr,
              lnp.linalg.det, lnp.linalg.cholesky]
    callbacks = [lambda a: (lamina.debug.print("{}", a), a)[1],
                 lambda a: lamina.pure_callback(np.sin, lamina.ShapeDtypeStruct(a.shape, a.dtype), a)]
    for f in lapack + callbacks:
        program = lamina.jit(f).trace(x)
        assert "module @lamina" in lowering.lower_program(program, platform="cpu")
        expected = "LAPACK's .* on the CPU only" if f in lapack else "host callbacks .* CPU"
        with pytest.raises(NotImplementedError, match=f"{expected}.*{platform} device"):
            lowering.lower_program(program, platform=platform)
    for f in [lambda a: lamina.lax.linalg.triangular_solve(a, a, left_side=True),
              lambda a: lnp.fft.fft(a), lambda a: a @ a + 1]:
        program = lamina.jit(f).trace(x)  # native HLO ops: the same text on every platform
        assert (lowering.lower_program(program, platform=platform)
                == lowering.lower_program(program, platform="cpu"))


# -- on a real accelerator --------------------------------------------------------------


@pytest.fixture(scope="module")
def gpu():
    requested = plugins.requested_platforms()
    if requested is not None and not {"gpu", "cuda", "rocm"} & set(requested):
        pytest.skip("LAMINA_PLATFORMS excludes the GPU")
    if not (plugins.find_plugins("cuda") or plugins.find_plugins("rocm")):
        pytest.skip("no CUDA/ROCm PJRT plugin installed")
    try:
        return lamina.devices("gpu")[0]
    except RuntimeError as e:
        pytest.skip(f"no GPU backend loads here: {str(e).splitlines()[0]}")


@pytest.mark.gpu
def test_gpu_jit_train_step(gpu):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(16, 4)).astype(np.float32), rng.normal(size=(16, 1)).astype(np.float32)
    w = np.zeros((4, 1), np.float32)
    xs, ys, ws = (lamina.device_put(a, gpu) for a in (x, y, w))

    @lamina.jit
    def step(w, x, y):
        loss, g = lamina.value_and_grad(lambda w: lnp.mean((x @ w - y) ** 2))(w)
        return w - 0.1 * g, loss

    for _ in range(5):
        ws, loss = step(ws, xs, ys)
        w_ref = w - 0.1 * (2.0 / len(x)) * x.T @ (x @ w - y)
        loss_ref = np.mean((x @ w - y) ** 2)
        w = w_ref
        np.testing.assert_allclose(float(loss), loss_ref, rtol=1e-5)
    assert ws.device == gpu
    np.testing.assert_allclose(np.asarray(ws), w, rtol=1e-5, atol=1e-6)


@pytest.mark.gpu
def test_gpu_eager_dispatch_stays_on_device(gpu):
    a = lamina.device_put(np.arange(6.0, dtype=np.float32).reshape(2, 3), gpu)
    b = lnp.sin(a) * 2 + a.sum()
    assert b.device == gpu
    np.testing.assert_allclose(np.asarray(b), np.sin(np.arange(6.0).reshape(2, 3)) * 2 + 15,
                               rtol=1e-6)
    f = lamina.jit(lambda v: v + 1)
    v = lamina.device_put(np.float32(0), gpu)
    for _ in range(100):
        v = f(v)
    assert float(v) == 100.0 and v.device == gpu


@pytest.mark.gpu
def test_gpu_pmap_over_one_device(gpu):
    f = lamina.pmap(lambda x: lamina.lax.psum(x * 2, "i"), axis_name="i", devices=[gpu])
    out = f(np.arange(3.0, dtype=np.float32)[None])
    np.testing.assert_allclose(np.asarray(out), [[0.0, 2.0, 4.0]])
    assert out.devices() == {gpu}


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", [np.float32, np.float16, ml_dtypes.bfloat16, np.int32,
                                   np.bool_, np.complex64], ids=lambda d: np.dtype(d).name)
def test_gpu_device_to_host(gpu, dtype):
    host = (np.arange(12).reshape(3, 4) % 5).astype(dtype)
    x = lamina.device_put(host, gpu)
    assert x.device == gpu and x._buf.platform() != "cpu"
    back = np.asarray(x)
    assert back.dtype == host.dtype and not back.flags.writeable
    np.testing.assert_array_equal(back, host)
    np.testing.assert_array_equal(lamina.device_get({"x": x})["x"], host)
    cpu = lamina.device_put(x, lamina.devices("cpu")[0])
    np.testing.assert_array_equal(np.asarray(cpu), host)


@pytest.mark.gpu
def test_gpu_linalg_and_callbacks_are_clear_errors(gpu):
    x = lamina.device_put(np.eye(3, dtype=np.float32), gpu)
    with pytest.raises(NotImplementedError, match="LAPACK's .* (cuda|gpu) device"):
        lnp.linalg.inv(x)
    with pytest.raises(NotImplementedError, match="host callbacks"):
        lamina.jit(lambda a: (lamina.debug.print("{}", a), a)[1])(x)


@pytest.mark.gpu
def test_gpu_cache_key_differs_from_cpu(gpu):
    from lamina.backend import persistent_cache
    cpu = lamina.devices("cpu")[0]
    assert (persistent_cache.entry_key("m", "o", gpu)
            != persistent_cache.entry_key("m", "o", cpu))
