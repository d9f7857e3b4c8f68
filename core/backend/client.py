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
            _clients[platform] = _jaxlib.make_cpu_client(num_cpu_devices())
        return _clients[platform]


def default_backend() -> str:
    """The platform name of the default backend (`'cpu'`)."""
    return "cpu"


def devices(backend: str | None = None) -> list[Device]:
    """All devices of `backend` (default: the default backend), like `jax.devices()`."""
    return list(get_client(backend or default_backend()).devices())


def local_devices(backend: str | None = None) -> list[Device]:
    return list(get_client(backend or default_backend()).local_devices())


def device_count(backend: str | None = None) -> int:
    return len(devices(backend))


def local_device_count(backend: str | None = None) -> int:
    return len(local_devices(backend))


_default_device: list[Device] = []


def default_device() -> Device:
    if not _default_device:
        _default_device.append(local_devices()[0])
    return _default_device[0]
