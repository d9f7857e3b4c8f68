"""The adapter: every call into jaxlib's private, unstable surface lives here.

jaxlib is pinned (pyproject.toml) to the version these calls were checked against
(`../shared/JAXLIB_FACTS.md`). Nothing else in lamina touches `jaxlib._jax` directly;
the rest of the backend goes through the functions below.

Calls we avoid on purpose (they import `jax.core` from C++, costing 40-250 µs per call
and importing jax when it is installed): `disassemble_into_single_device_arrays`,
`dlpack_managed_tensor_to_buffer`, `_single_device_array_to_np_array_did_copy`.
"""
from __future__ import annotations

import os

# NOTE: must be set before jaxlib is imported, or every client creation logs at INFO.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from typing import Any, Sequence  # noqa: E402

import numpy as np  # noqa: E402
from jaxlib import _jax, utils  # noqa: E402
from jaxlib import xla_client as xc  # noqa: E402

utils.absl_set_min_log_level(2)

JAXLIB_VERSION = xc._version
JaxRuntimeError = _jax.JaxRuntimeError
Device = _jax.Device
Client = _jax.Client
LoadedExecutable = _jax.LoadedExecutable
DeviceBuffer = _jax.ArrayImpl  # one array's device memory (one shard per device)


def _patch_sharding_class(cls: type) -> None:
    # batched_device_put reads these two attributes, which jax normally installs.
    if not hasattr(cls, "_to_xla_hlo_sharding"):
        cls._to_xla_hlo_sharding = lambda self, ndim: xc.HloSharding.replicate()
    if not isinstance(getattr(cls, "memory_kind", None), property):
        cls.memory_kind = property(lambda self: self._memory_kind)


_patch_sharding_class(_jax.SingleDeviceSharding)


def make_cpu_client(num_devices: int) -> Client:
    return xc.make_cpu_client(num_devices=num_devices)


def single_device_sharding(device: Device) -> Any:
    return _jax.SingleDeviceSharding(device)


def device_put(value: np.ndarray, aval: Any, device: Device) -> DeviceBuffer:
    """Copy host `value` (already of `aval`'s shape and dtype) to `device`.

    `aval` needs `.shape`, `.dtype`, `.weak_type`; it becomes the buffer's `.aval`.
    """
    assert value.shape == aval.shape and value.dtype == aval.dtype, (value.shape, value.dtype, aval)
    return _jax.batched_device_put(
        aval, _jax.SingleDeviceSharding(device), [value], [device], True, False,
        _jax.HostBufferSemantics.IMMUTABLE_ONLY_DURING_CALL, True)


class _DLPackView:
    """What `np.from_dlpack` needs to view a CPU device buffer without copying."""

    __slots__ = ("buf",)

    def __init__(self, buf: DeviceBuffer) -> None:
        self.buf = buf

    def __dlpack__(self, stream: Any = None, **kwargs: Any) -> Any:
        return _jax.buffer_to_dlpack_managed_tensor(self.buf)

    def __dlpack_device__(self) -> tuple[int, int]:
        return (1, 0)  # kDLCPU


def dlpack_capsule(buf: DeviceBuffer) -> Any:
    return _jax.buffer_to_dlpack_managed_tensor(buf)


def host_view(buf: DeviceBuffer) -> np.ndarray:
    """A read-only numpy view of a CPU buffer (no copy; keeps the buffer alive).

    The caller handles dtypes that DLPack cannot describe (bfloat16).
    """
    return np.from_dlpack(_DLPackView(buf))


def compile_options(num_replicas: int = 1, num_partitions: int = 1,
                    device_assignment: Sequence[Sequence[int]] | None = None) -> Any:
    opts = xc.CompileOptions()
    opts.num_replicas = num_replicas
    opts.num_partitions = num_partitions
    if device_assignment is not None:
        opts.device_assignment = xc.DeviceAssignment.create(np.asarray(device_assignment))
    return opts


def compile(client: Client, module_text: str, devices: Sequence[Device],
            options: Any) -> LoadedExecutable:
    return client.compile_and_load(module_text, xc.DeviceList(tuple(devices)), options)


def serialize(executable: LoadedExecutable) -> bytes:
    return executable.serialize()


def deserialize(client: Client, blob: bytes, devices: Sequence[Device],
                options: Any) -> LoadedExecutable:
    return client.deserialize_executable(blob, xc.DeviceList(tuple(devices)), options)


def result_handler(aval: Any, device: Device) -> Any:
    return _jax.array_result_handler(aval, _jax.SingleDeviceSharding(device), True,
                                     _skip_checks=True)


def make_launcher(executable: LoadedExecutable, handlers: Sequence[Any]) -> Any:
    """`launch(buffers) -> output buffers` for a compiled program; outputs stay on device.

    Built once per executable so that a call is one bound-method call plus the handler
    pass (the leanest dispatch path, JAXLIB_FACTS §3). Inputs must be validated first.
    """
    execute_sharded = executable.execute_sharded
    handlers = list(handlers)

    def launch(buffers: Sequence[DeviceBuffer]) -> list[DeviceBuffer]:
        return execute_sharded(buffers).consume_with_handlers(handlers)

    return launch


def hlo_text(executable: LoadedExecutable) -> str:
    return executable.hlo_modules()[0].to_string()
