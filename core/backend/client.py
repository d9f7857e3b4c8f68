"""PJRT clients (created lazily, one per platform) and the device list.

CPU device count: `LAMINA_NUM_CPU_DEVICES=N`, else jax's
`XLA_FLAGS=--xla_force_host_platform_device_count=N`, else 1. A 1-device client makes
single-device dispatch about 2x cheaper than a many-device one (JAXLIB_FACTS §3), so
the default is one device, as in jax.
"""
from __future__ import annotations

import os
import re
import threading

from lamina.backend import _jaxlib

Device = _jaxlib.Device

_clients: dict[str, _jaxlib.Client] = {}
_lock = threading.Lock()
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
    client = _clients.get(platform)
    if client is not None:
        return client
    with _lock:
        if platform not in _clients:
            if platform != "cpu":
                raise RuntimeError(f"backend {platform!r} is not available; available backends: ['cpu']")
            if _distributed:
                _clients[platform] = _jaxlib.make_distributed_cpu_client(
                    num_cpu_devices(), **_distributed)  # type: ignore[arg-type]
            else:
                _clients[platform] = _jaxlib.make_cpu_client(num_cpu_devices())
        return _clients[platform]


def default_backend() -> str:
    """The platform name of the default backend (`'cpu'`)."""
    return "cpu"


def devices(backend: str | None = None) -> list[Device]:
    """All devices of `backend` (default: the default backend), like `jax.devices()`.

    After `lamina.distributed.initialize` this is every process's devices; their ids
    come from the runtime (not 0..N-1).
    """
    return list(get_client(backend or default_backend()).devices())


def local_devices(process_index: int | None = None, backend: str | None = None
                  ) -> list[Device]:
    """The devices of this process (or of process `process_index`), like
    `jax.local_devices()`."""
    client = get_client(backend or default_backend())
    if process_index is None:
        return list(client.local_devices())
    return [d for d in client.devices() if d.process_index == process_index]


def process_index(backend: str | None = None) -> int:
    """This process's index among the processes of a multi-process run (0 alone)."""
    return get_client(backend or default_backend()).process_index()


def process_count(backend: str | None = None) -> int:
    """The number of processes of the run (1 without `lamina.distributed.initialize`)."""
    return len({d.process_index for d in devices(backend)})


def is_local(device: Device) -> bool:
    """Whether `device` belongs to this process (its buffers are addressable here)."""
    return device.process_index == device.client.process_index()


def device_count(backend: str | None = None) -> int:
    return len(devices(backend))


def local_device_count(backend: str | None = None) -> int:
    return len(local_devices(backend=backend))


_default_device: list[Device] = []


def default_device() -> Device:
    if not _default_device:
        _default_device.append(local_devices()[0])
    return _default_device[0]
