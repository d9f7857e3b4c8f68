"""The adapter: every call into jaxlib's private, unstable surface lives here.

jaxlib is pinned (pyproject.toml) to the version these calls were checked against
(`../shared/JAXLIB_FACTS.md`). Nothing else in lamina touches `jaxlib._jax` directly;
the rest of the backend goes through the functions below.

Calls we avoid on purpose (they import `jax.core` from C++, costing 40-250 µs per call
and importing jax when it is installed): `disassemble_into_single_device_arrays`,
`dlpack_managed_tensor_to_buffer`, and `_single_device_array_to_np_array_did_copy`
except for reading accelerator buffers (`host_copy`, which blocks that import).
"""
from __future__ import annotations

import os
import sys

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


def make_cpu_client(num_devices: int, asynchronous: bool = True) -> Client:
    return xc.make_cpu_client(num_devices=num_devices, asynchronous=asynchronous)


# -- PJRT plugins (accelerators): `lamina.backend.plugins` finds them, these load them ----


def load_plugin(name: str, library_path: str) -> None:
    """dlopen a PJRT plugin library under `name` and initialise it (once per process;
    jaxlib keeps a process-wide registry of plugins by name and cannot unload one).

    Raises JaxRuntimeError when the file is missing, not a shared library, or has no
    `GetPjrtApi` (not a PJRT plugin), or when its PJRT API version is incompatible.
    """
    if not _jax.pjrt_plugin_loaded(name):
        xc.load_pjrt_plugin_dynamically(name, library_path)
    if not xc.pjrt_plugin_initialized(name):
        xc.initialize_pjrt_plugin(name)


def jaxlib_version() -> str:
    import jaxlib
    return jaxlib.__version__


def plugin_loaded(name: str) -> bool:
    return bool(_jax.pjrt_plugin_loaded(name))


def gpu_plugin_options() -> dict[str, Any]:
    """The CUDA/ROCm plugin's create options from jax's environment variables
    (XLA_PYTHON_CLIENT_ALLOCATOR, XLA_CLIENT_MEM_FRACTION, XLA_PYTHON_CLIENT_PREALLOCATE,
    XLA_PYTHON_CLIENT_COLLECTIVE_MEM_SIZE_MB, ...); jaxlib's own helper, jax-free."""
    return dict(xc.generate_pjrt_gpu_plugin_options())


def make_plugin_client(name: str, options: dict[str, Any],
                       coordination: CoordinationClient | None = None) -> Client:
    """A client of the loaded plugin `name`. With `coordination` (multi-process runs),
    `options` must carry `node_id` and `num_nodes`; the client then lists every
    process's devices."""
    return xc.make_c_api_client(name, options, coordination)


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


def dlpack_capsule(buf: DeviceBuffer, stream: int | None = None) -> Any:
    return _jax.buffer_to_dlpack_managed_tensor(buf, stream=stream)


def host_view(buf: DeviceBuffer) -> np.ndarray:
    """The buffer's data as a read-only numpy array: on the CPU a view (no copy; keeps
    the buffer alive), on an accelerator a host copy (`host_copy`).

    The caller handles dtypes that DLPack cannot describe (bfloat16).
    """
    # NOTE: the DLPack view is only valid for host memory: on a GPU/TPU the DLPack
    # tensor points at device memory that numpy cannot read (JAXLIB_FACTS §6).
    if buf.platform() != "cpu":
        return host_copy(buf)
    return np.from_dlpack(_DLPackView(buf))


def host_copy(buf: DeviceBuffer) -> np.ndarray:
    """A read-only numpy copy of a single-device buffer on any platform (the path jax
    itself uses to read GPU/TPU arrays: PJRT's device-to-host transfer).

    jaxlib's C++ tries `import jax.core` (and `jax._src.sharding_impls`) during this
    call: each failed try costs ~150 µs, and a successful one imports jax (JAXLIB_FACTS
    §1, §8; rule 1 of DESIGN.md). So while jax is not imported, `jax` is marked absent
    (None in `sys.modules`) for the duration of the call, which makes every such
    import fail at once without searching the disk.
    """
    block = "jax" not in sys.modules
    if block:
        sys.modules["jax"] = None  # type: ignore[assignment]
    try:
        value, _ = buf._single_device_array_to_np_array_did_copy()
    finally:
        if block and "jax" in sys.modules and sys.modules["jax"] is None:
            del sys.modules["jax"]
    value = np.asarray(value)
    if value.flags.writeable:
        value.setflags(write=False)
    return value


def compile_options(num_replicas: int = 1, num_partitions: int = 1,
                    device_assignment: Sequence[Sequence[int]] | None = None,
                    spmd: bool = False, propagate_to_outputs: Sequence[bool] = (),
                    overrides: Sequence[tuple[str, Any]] = ()) -> Any:
    """`spmd`: run XLA's SPMD partitioner (Shardy) over a program annotated with
    `sdy.sharding`s; `propagate_to_outputs[i]`: the partitioner picks output i's sharding;
    `overrides`: (XLA debug option, value) pairs for this compile (jit's
    `compiler_options`)."""
    opts = xc.CompileOptions()
    if overrides:
        opts.env_option_overrides = list(overrides)
    opts.num_replicas = num_replicas
    opts.num_partitions = num_partitions
    if device_assignment is not None:
        opts.device_assignment = xc.DeviceAssignment.create(np.asarray(device_assignment))
    if spmd:
        build = opts.executable_build_options
        build.use_spmd_partitioning = True
        build.use_shardy_partitioner = True
        if any(propagate_to_outputs):
            build.allow_spmd_sharding_propagation_to_output = list(propagate_to_outputs)
    return opts


def tile_layouts(shardings: Sequence[Any], ranks: Sequence[int], n_dev: int
                 ) -> list[tuple[list[int], list[int]] | None]:
    """XLA's shardings of a compiled program's parameters or outputs (OpSharding protos
    from `get_parameter_shardings`/`get_output_shardings`) as `(tile dims + [replicas],
    device positions)`; None for a kind lamina does not read (manual, maximal...)."""
    out: list[Any] = []
    for op, rank in zip(shardings, ranks):
        h = xc.HloSharding.from_proto(op)
        if h.is_replicated():
            out.append(([1] * rank + [n_dev], list(range(n_dev))))
        elif h.is_tiled() and not h.subgroup_types():
            dims = list(h.tile_assignment_dimensions())
            if not h.replicate_on_last_tile_dim():
                dims.append(1)
            out.append((dims, list(h.tile_assignment_devices())))
        else:
            out.append(None)
    return out


def parameter_shardings(executable: LoadedExecutable) -> list[Any]:
    return list(executable.get_parameter_shardings() or [])


def output_shardings(executable: LoadedExecutable) -> list[Any]:
    return list(executable.get_output_shardings() or [])


def compile(client: Client, module_text: str, devices: Sequence[Device],
            options: Any) -> LoadedExecutable:
    if has_host_callbacks(module_text):
        # NOTE: only the overload taking a parsed MLIR module accepts host callbacks;
        # the module gets every callback registered so far (its `index` attributes
        # point into that list).
        return client.compile_and_load(_parse_module(module_text),
                                       xc.DeviceList(tuple(devices)), options,
                                       host_callbacks=list(_host_callbacks))
    return client.compile_and_load(module_text, xc.DeviceList(tuple(devices)), options)


# --------------------------------------------------------------------------------------
# Python callbacks from compiled CPU programs (lamina.pure_callback, lamina.debug)
# --------------------------------------------------------------------------------------

# The FFI target jaxlib installs for Python callbacks on CPU. It calls
# `host_callbacks[index]` (a list given to `compile_and_load`) with the operands as
# numpy arrays, and expects a sequence of numpy arrays of the result types back;
# an exception becomes a JaxRuntimeError carrying its traceback.
PYTHON_CALLBACK_TARGET = "xla_ffi_python_cpu_callback"
_host_callbacks: list[Any] = []
_mlir_context: list[Any] = []


def has_host_callbacks(module_text: str) -> bool:
    """Whether a module calls Python (such executables hold process-local callbacks and
    must not be serialized to the persistent cache)."""
    return PYTHON_CALLBACK_TARGET in module_text


def register_host_callback(fun: Any) -> int:
    """Add `fun` to the process's host callbacks; its index for the custom call's
    `backend_config = {index = <i> : ui64}`. Callbacks stay registered for the life of
    the process (programs compiled with them may run any time)."""
    _host_callbacks.append(fun)
    return len(_host_callbacks) - 1


def _parse_module(module_text: str) -> Any:
    from jaxlib.mlir import ir
    if not _mlir_context:
        from jaxlib.mlir._mlir_libs import _jax_mlir_ext
        from jaxlib.mlir.dialects import sdy, stablehlo
        registry = ir.DialectRegistry()
        _jax_mlir_ext.register_dialects(registry)
        context = ir.Context()
        context.append_dialect_registry(registry)
        context.load_all_available_dialects()
        stablehlo.register_dialect(context)
        sdy.register_dialect(context)  # sharded programs' meshes and shardings
        _mlir_context.append(context)
    with _mlir_context[0]:
        return ir.Module.parse(module_text)


def serialize(executable: LoadedExecutable) -> bytes:
    return executable.serialize()


def deserialize(client: Client, blob: bytes, devices: Sequence[Device],
                options: Any) -> LoadedExecutable:
    return client.deserialize_executable(blob, xc.DeviceList(tuple(devices)), options)


# NOTE: jaxlib 0.10 checks an Array's shards against its aval unless told to skip (jax's
# Python does the check); 0.11's result handler dropped the keyword and never checks,
# while its ArrayImpl still takes it. Learn once per constructor which form it takes.
_skip_checks: dict[Any, dict[str, bool]] = {}


def _unchecked(make: Any, *args: Any) -> Any:
    """`make(*args)` without jaxlib's shard checks, with whichever jaxlib is installed."""
    kwargs = _skip_checks.get(make)
    if kwargs is not None:
        return make(*args, **kwargs)
    try:
        out = make(*args, _skip_checks=True)
    except TypeError as e:
        if "_skip_checks" not in str(e):
            raise
        _skip_checks[make] = {}
        return make(*args)
    _skip_checks[make] = {"_skip_checks": True}
    return out


def result_handler(aval: Any, device: Device) -> Any:
    return _unchecked(_jax.array_result_handler, aval, _jax.SingleDeviceSharding(device),
                      True)


# -- multi-device buffers (JAXLIB_FACTS §4) ----------------------------------------------
# A multi-device buffer is one ArrayImpl holding one single-device buffer per device, in
# the executable's device-assignment order. jaxlib only uses the sharding object as the
# carrier of the device list here (lamina keeps its own sharding: `lamina.sharding`).


def _device_list_sharding(devices: Sequence[Device]) -> Any:
    return _jax.GSPMDSharding(xc.DeviceList(tuple(devices)), xc.HloSharding.replicate())


def assemble_shards(aval: Any, devices: Sequence[Device],
                    shards: Sequence[DeviceBuffer]) -> DeviceBuffer:
    """One multi-device buffer from single-device `shards` (shard k on `devices[k]`).

    The caller checks the shards' shapes, dtypes and devices: a bad multi-device
    argument can segfault an execute (JAXLIB_FACTS §4).
    """
    return _unchecked(_jax.ArrayImpl, aval, _device_list_sharding(devices), list(shards),
                      True)


def shard_buffers(buf: DeviceBuffer) -> list[DeviceBuffer]:
    """The single-device buffers of a multi-device buffer, in device order."""
    return list(buf._arrays)


def multi_device_result_handler(aval: Any, devices: Sequence[Device]) -> Any:
    """A handler producing one multi-device buffer per output of a program compiled for
    `devices` (`aval` is the global type; jaxlib does not check it against the shards)."""
    return _unchecked(_jax.array_result_handler, aval, _device_list_sharding(devices),
                      True)


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


# -- multi-process: coordination service, coordination client, distributed CPU client ----
# (JAXLIB_FACTS §5). Process 0 runs the service; every process connects a client, which
# gives the barrier and key-value store and lets the CPU client build its global device
# list (ids are not 0..N-1) and gloo collectives across processes. When a peer stops
# sending heartbeats the service reports it to every client, and jaxlib's client
# terminates the process with a FATAL log naming the cause (its Python
# `missed_heartbeat_callback` crashes with std::bad_cast in 0.10.2, so we keep the default).

CoordinationService = _jax.DistributedRuntimeService
CoordinationClient = _jax.DistributedRuntimeClient


def start_coordination_service(bind_address: str, num_processes: int, *,
                               heartbeat_timeout: int, shutdown_timeout: int
                               ) -> CoordinationService:
    return _jax.get_distributed_runtime_service(
        bind_address, num_processes, heartbeat_timeout=heartbeat_timeout,
        shutdown_timeout=shutdown_timeout)


def connect_coordination_client(address: str, process_id: int, *, init_timeout: int,
                                heartbeat_timeout: int, shutdown_timeout: int
                                ) -> CoordinationClient:
    """A connected client (blocks until every process has connected, or raises
    JaxRuntimeError after `init_timeout` seconds)."""
    client = _jax.get_distributed_runtime_client(
        address, process_id, init_timeout=init_timeout, heartbeat_timeout=heartbeat_timeout,
        shutdown_timeout=shutdown_timeout, use_compression=True)
    client.connect()
    return client


def make_distributed_cpu_client(num_devices: int, coordination: CoordinationClient,
                                process_id: int, num_processes: int,
                                gloo_hostname: str | None, asynchronous: bool = True
                                ) -> Client:
    """A CPU client whose `devices()` are every process's devices (gloo collectives)."""
    collectives = _jax.make_gloo_tcp_collectives(coordination, hostname=gloo_hostname)
    return xc.make_cpu_client(distributed_client=coordination, node_id=process_id,
                              num_nodes=num_processes, collectives=collectives,
                              num_devices=num_devices, asynchronous=asynchronous)
