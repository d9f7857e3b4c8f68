"""PJRT clients (created lazily, one per platform) and the device list.

Platforms: 'cpu' always; 'cuda', 'rocm', 'tpu' (or any PJRT plugin) when its library
is installed (`plugins.py` finds them without importing jax). `LAMINA_PLATFORMS`
(`cuda,cpu`: priority order) chooses the default and restricts the others; unset, the
default is the first accelerator present, else the CPU. 'gpu' names cuda or rocm.

CPU device count: `LAMINA_NUM_CPU_DEVICES=N`, else jax's
`XLA_FLAGS=--xla_force_host_platform_device_count=N`, else 1. A 1-device client makes
single-device dispatch about 2x cheaper than a many-device one (JAXLIB_FACTS §3), so
the default is one device, as in jax.
"""
from __future__ import annotations

import os
import re
import threading

from lamina.backend import _jaxlib, heap, plugins

Device = _jaxlib.Device

_clients: dict[str, _jaxlib.Client] = {}
# NOTE: re-entrant: choosing the default platform creates that platform's client.
_lock = threading.RLock()
_default_platform: list[str] = []
# Set by `lamina.distributed.initialize` (before any client exists): the kwargs of
# `_jaxlib.make_distributed_cpu_client` minus the device count.
_distributed: dict[str, object] = {}


def set_distributed(options: dict[str, object] | None) -> None:
    """Make the CPU client span every process (`options`), or one process again (None).

    Raises if a client exists: its device list cannot change afterwards.
    """
    with _lock:
        if _clients:
            raise RuntimeError(
                "lamina.distributed.initialize() must be called before any lamina call "
                "that starts the backend (any computation, lamina.devices(), "
                "lamina.device_put, ...); call it first thing in the program")
        _distributed.clear()
        _distributed.update(options or {})


def backend_started() -> bool:
    return bool(_clients)


def num_cpu_devices() -> int:
    value = os.environ.get("LAMINA_NUM_CPU_DEVICES")
    if value:
        try:
            n = int(value)
        except ValueError:
            raise ValueError(f"LAMINA_NUM_CPU_DEVICES={value!r} is not an integer") from None
        if n < 1:
            raise ValueError(f"LAMINA_NUM_CPU_DEVICES={n} must be at least 1")
        return n
    match = re.search(r"--xla_force_host_platform_device_count=(\d+)", os.environ.get("XLA_FLAGS", ""))
    return max(1, int(match.group(1))) if match else 1


def get_client(platform: str = "cpu") -> _jaxlib.Client:
    """The client of `platform` ('cpu', 'cuda', 'rocm', 'tpu', 'gpu' or a plugin name),
    created on first use; raises RuntimeError naming what was searched and the fix when
    the platform cannot be loaded or is excluded by LAMINA_PLATFORMS."""
    client = _clients.get(platform)
    if client is not None:
        return client
    with _lock:
        if platform not in _clients:
            name = platform if platform == "cpu" else _canonical_platform(platform)
            if name not in _clients:
                _clients[name] = _make_cpu_client() if name == "cpu" else _make_plugin_client(name)
            _clients[platform] = _clients[name]
        return _clients[platform]


def _make_cpu_client() -> _jaxlib.Client:
    # NOTE: read once, when the client is made (as jax_cpu_enable_async_dispatch). Off,
    # a program runs on the calling thread: a big step (the benchmarks' transformer,
    # CNN) then reuses its ~30 MB scratch from that thread's malloc arena instead of
    # faulting it in afresh on XLA's worker threads (transformer 24.6 -> 19.0 ms,
    # 3800-7000 -> <1 page faults per step), but Python cannot queue the next small step
    # while one runs (MLP step +18%).
    from lamina.config import config
    asynchronous = bool(config.cpu_enable_async_dispatch)
    config.fix("cpu_enable_async_dispatch")
    if config.cpu_malloc_tuning:
        heap.tune()
    config.fix("cpu_malloc_tuning")
    if _distributed:
        return _jaxlib.make_distributed_cpu_client(
            num_cpu_devices(), **_distributed,  # type: ignore[arg-type]
            asynchronous=asynchronous)
    return _jaxlib.make_cpu_client(num_cpu_devices(), asynchronous=asynchronous)


def _canonical_platform(platform: str) -> str:
    """'gpu' -> the cuda or rocm platform that is loaded or installed; other names as is."""
    if not isinstance(platform, str):
        raise TypeError(f"backend must be a platform name such as 'cpu' or 'cuda', got "
                        f"{type(platform).__name__}: {platform!r}")
    members = plugins.ALIASES.get(platform.lower())
    if members is None:
        return platform.lower()
    for name in members:
        if name in _clients:
            return name
    requested = plugins.requested_platforms()
    for name in members:
        if (requested is None or name in requested) and plugins.find_plugins(name):
            return name
    return members[0]  # (fails below with the CUDA message)


def _make_plugin_client(name: str) -> _jaxlib.Client:
    requested = plugins.requested_platforms()
    if requested is not None and name not in requested and not (
            name in plugins.GPU_PLATFORMS and "gpu" in requested):
        raise RuntimeError(
            f"backend {name!r} is not available: LAMINA_PLATFORMS="
            f"{os.environ['LAMINA_PLATFORMS']!r} does not list it; add it there "
            f"(e.g. LAMINA_PLATFORMS={','.join([*requested, name])}) or unset LAMINA_PLATFORMS")
    found = plugins.find_plugins(name) or plugins.find_plugins(name, thorough=True)
    if not found:
        where = "\n  ".join(plugins.searched(name))
        raise RuntimeError(
            f"backend {name!r} is not available: no PJRT plugin library for {name!r} was "
            f"found. Searched:\n  {where}\nFix: {plugins.install_hint(name)}; or run on "
            "the CPU (LAMINA_PLATFORMS=cpu).")
    plugin = found[0]
    if name == "cuda":
        plugins.preload_nvidia_libraries()
    try:
        _jaxlib.load_plugin(plugin.name, plugin.library_path)
        options = plugins.client_options(plugin, _jaxlib.gpu_plugin_options)
        coordination = None
        if _distributed:
            options.update(node_id=_distributed["process_id"],
                           num_nodes=_distributed["num_processes"])
            coordination = _distributed["coordination"]
        client = _jaxlib.make_plugin_client(plugin.name, options, coordination)
    except (_jaxlib.JaxRuntimeError, ValueError) as e:
        raise RuntimeError(
            f"backend {name!r} failed to start from the PJRT plugin {plugin.library_path} "
            f"(found through {plugin.source}): {e}\nFix: check that the driver is "
            "installed and the devices are visible to this process, and that the plugin "
            f"matches jaxlib {_jaxlib.jaxlib_version()} (to reinstall: "
            f"{plugins.install_hint(name)}); or run on the CPU (LAMINA_PLATFORMS=cpu)."
            ) from None
    if not client.devices():
        raise RuntimeError(f"backend {name!r} (PJRT plugin {plugin.library_path}) started but "
                           "has no devices; check the drivers or LAMINA_VISIBLE_DEVICES, or "
                           "run on the CPU (LAMINA_PLATFORMS=cpu)")
    return client


def default_platform() -> str:
    """lamina's name of the default platform: the first of LAMINA_PLATFORMS, else the
    first accelerator installed and present (tpu, cuda, rocm, other plugins), else
    'cpu'. Chosen once; the chosen platform's client is started (except the CPU's)."""
    if _default_platform:
        return _default_platform[0]
    with _lock:
        if not _default_platform:
            requested = plugins.requested_platforms()
            if requested is not None:
                name = _canonical_platform(requested[0])
                if name != "cpu":
                    try:
                        get_client(name)
                    except RuntimeError as e:
                        raise RuntimeError(
                            f"LAMINA_PLATFORMS={os.environ['LAMINA_PLATFORMS']!r} makes "
                            f"{requested[0]!r} the default backend, but {e}") from None
            else:
                name = "cpu"
                for candidate in plugins.default_candidates(plugins.find_plugins()):
                    # NOTE: as jax, an installed plugin whose hardware is present but
                    # which fails to start is an error (with the fix), not a silent CPU run.
                    get_client(candidate)
                    name = candidate
                    break
            _default_platform.append(name)
    return _default_platform[0]


def default_backend() -> str:
    """The platform name of the default backend, as `jax.default_backend()` (`'cpu'`;
    on a GPU what its client reports, as in jax).

    >>> import lamina
    >>> lamina.default_backend() in ('cpu', 'gpu', 'cuda', 'rocm', 'tpu')
    True
    """
    name = default_platform()
    return "cpu" if name == "cpu" else get_client(name).platform


def devices(backend: str | None = None) -> list[Device]:
    """All devices of `backend` (default: the default backend), like `jax.devices()`:
    `lamina.devices("cuda")` (or `"gpu"`) starts the CUDA plugin if it is not running.

    After `lamina.distributed.initialize` this is every process's devices; their ids
    come from the runtime (not 0..N-1).

    >>> import lamina
    >>> lamina.devices("cpu")[0].platform
    'cpu'
    """
    return list(get_client(backend or default_platform()).devices())


def local_devices(process_index: int | None = None, backend: str | None = None
                  ) -> list[Device]:
    """The devices of this process (or of process `process_index`), like
    `jax.local_devices()`."""
    client = get_client(backend or default_platform())
    if process_index is None:
        return list(client.local_devices())
    return [d for d in client.devices() if d.process_index == process_index]


def process_index(backend: str | None = None) -> int:
    """This process's index among the processes of a multi-process run (0 alone)."""
    return get_client(backend or default_platform()).process_index()


def process_count(backend: str | None = None) -> int:
    """The number of processes of the run (1 without `lamina.distributed.initialize`)."""
    return len({d.process_index for d in devices(backend)})


def process_indices(backend: str | None = None) -> list[int]:
    """The index of every process of the run, `list(range(process_count()))`, like
    `jax.process_indices()`.

    >>> import lamina
    >>> lamina.process_indices()  # one process, without lamina.distributed.initialize
    [0]
    """
    return list(range(process_count(backend)))


def is_local(device: Device) -> bool:
    """Whether `device` belongs to this process (its buffers are addressable here)."""
    return device.process_index == device.client.process_index()


def device_count(backend: str | None = None) -> int:
    return len(devices(backend))


def local_device_count(backend: str | None = None) -> int:
    return len(local_devices(backend=backend))


_default_device: list[Device] = []


def default_device() -> Device:
    """Where new arrays and computations without array arguments go: the first local
    device of the default backend (`default_platform`)."""
    if not _default_device:
        _default_device.append(local_devices()[0])
    return _default_device[0]
