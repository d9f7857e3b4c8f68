"""The persistent compilation cache: compiled executables on disk, shared by processes.

On by default (jax has it off): `$LAMINA_CACHE_DIR`, default `~/.cache/lamina`;
`LAMINA_CACHE_DIR=off` disables it. An entry is keyed by a SHA-256 of everything that
determines the executable: the StableHLO text, the compile options (with the device
assignment of multi-device programs), the jaxlib version, the platform and device kind
(and an accelerator's runtime version), and this host's CPU feature flags (XLA:CPU code
uses the host's vector extensions, so an entry from another CPU must not be loaded).

Entries are written atomically (a temporary file, then `os.replace`) and carry a
checksum of their payload. A corrupted, truncated or foreign entry is ignored, removed
and rebuilt; the cache never turns a compile into an error.
"""
from __future__ import annotations

import functools
import hashlib
import os
import platform
import tempfile
from pathlib import Path
from typing import Any, Callable

_MAGIC = b"LAMINA-XLA-CACHE-1\n"
_DIGEST = 32

stats = {"hits": 0, "misses": 0, "writes": 0, "errors": 0}
"""Counters for this process (tests and benchmarks read them)."""


def cache_dir() -> Path | None:
    """The cache directory, or None when the cache is off."""
    value = os.environ.get("LAMINA_CACHE_DIR", "")
    if value.strip().lower() in ("off", "0", "false", "none"):
        return None
    return Path(value).expanduser() if value else Path.home() / ".cache" / "lamina"


@functools.lru_cache(maxsize=1)
def _host_fingerprint() -> str:
    flags = ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith(("flags", "Features")):
                    flags = line
                    break
    except OSError:
        pass
    return f"{platform.machine()}|{platform.system()}|{flags.strip()}"


def entry_key(module_text: str, options_key: str, device: Any) -> str:
    """The entry's name: a SHA-256 of everything the executable depends on.

    `options_key` spells out the compile options (replicas, partitions, device
    assignment, partitioner settings); `device` gives the platform, device kind and,
    on accelerators, the runtime version (e.g. CUDA's), whose compiled code differs.
    """
    import jaxlib
    h = hashlib.sha256()
    parts = [_MAGIC.decode(), jaxlib.__version__, device.platform,
             getattr(device, "device_kind", ""), _host_fingerprint(), options_key,
             module_text]
    if device.platform != "cpu":  # (CPU keys stay as they were)
        parts.append(str(getattr(device.client, "platform_version", "")))
    for part in parts:
        h.update(part.encode())
        h.update(b"\0")
    return h.hexdigest()


def _path(directory: Path, key: str) -> Path:
    return directory / key[:2] / f"{key}.bin"


def load(key: str, deserialize: Callable[[bytes], Any]) -> Any | None:
    """The cached executable for `key`, or None (absent, disabled or unreadable)."""
    directory = cache_dir()
    if directory is None:
        return None
    path = _path(directory, key)
    try:
        data = path.read_bytes()
    except OSError:
        stats["misses"] += 1
        return None
    header = _MAGIC + key.encode()
    body = data[len(header) + _DIGEST:]
    if (not data.startswith(header)
            or data[len(header):len(header) + _DIGEST] != hashlib.sha256(body).digest()):
        _discard(path)
        return None
    try:
        executable = deserialize(body)
    except Exception:  # noqa: BLE001  (a stale or foreign entry: rebuild it)
        _discard(path)
        return None
    stats["hits"] += 1
    return executable


def store(key: str, payload: bytes) -> None:
    """Write an entry atomically; failures (read-only disk, full disk) are ignored."""
    directory = cache_dir()
    if directory is None:
        return
    path = _path(directory, key)
    header = _MAGIC + key.encode()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(header + hashlib.sha256(payload).digest() + payload)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError:
        stats["errors"] += 1
        return
    stats["writes"] += 1


def _discard(path: Path) -> None:
    stats["errors"] += 1
    stats["misses"] += 1
    try:
        path.unlink()
    except OSError:
        pass
