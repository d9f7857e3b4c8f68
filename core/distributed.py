"""`lamina.distributed`: running one program as several processes (jax.distributed's API).

Each process calls `initialize(...)` first thing. Process 0 starts XLA's coordination
service at `coordinator_address`; every process connects to it, and lamina's CPU client
then spans all processes: `lamina.devices()` lists every process's devices (ids from the
runtime, not 0..N-1), `lamina.local_devices()` this process's, and collectives between
processes run over gloo (JAXLIB_FACTS §5). `lamina.pmap` then maps over all processes'
devices, each process feeding its local slice. The coordination service also gives a
`barrier` and a key-value store (`key_value_set` / `key_value_get` ...).

A process that dies stops sending heartbeats; after `heartbeat_timeout_seconds` the
service reports it and every other process is terminated with a FATAL log line
("Terminating process because the JAX distributed service detected fatal errors ...
another task died"), as in jax: a run never hangs on a dead peer. Before each program
with collectives across processes (a pmap, eager, differentiated or jitted), the
processes check that they all run the same one (`_agree`): a process calling with
other shapes is a ValueError on every process, not a collective that never completes.

Run two processes on one machine (each with 2 CPU devices)::

    LAMINA_NUM_CPU_DEVICES=2 LAMINA_COORDINATOR_ADDRESS=127.0.0.1:12355 \\
        LAMINA_NUM_PROCESSES=2 LAMINA_PROCESS_ID=0 python train.py &
    LAMINA_NUM_CPU_DEVICES=2 LAMINA_COORDINATOR_ADDRESS=127.0.0.1:12355 \\
        LAMINA_NUM_PROCESSES=2 LAMINA_PROCESS_ID=1 python train.py

with `lamina.distributed.initialize()` at the top of train.py.

Without `initialize` there is one process; `barrier` then returns at once and the
key-value store is a dict in this process, so code written for several processes also
runs alone.

>>> import lamina
>>> lamina.distributed.is_initialized(), lamina.process_count()
(False, 1)
>>> lamina.distributed.barrier("start")  # one process: returns at once
"""
from __future__ import annotations

import atexit
import os
import re
import threading
from typing import Any, Sequence

from lamina.backend import _jaxlib, client as _client

__all__ = ["initialize", "shutdown", "is_initialized", "barrier", "key_value_set",
           "key_value_get", "key_value_get_bytes", "key_value_try_get", "key_value_delete",
           "key_value_dir_get"]


class _State:
    def __init__(self) -> None:
        self.service: Any = None
        self.client: Any = None
        self.process_id = 0
        self.num_processes = 1
        self.coordinator_address: str | None = None
        self.local_device_ids: list[int] | None = None
        self.local_kv: dict[str, bytes] = {}  # the store of a single-process run
        self.calls = 0  # cross-process programs run so far (`_agree`)


def _agree_timeout() -> float:
    value = os.environ.get("LAMINA_CROSS_PROCESS_TIMEOUT", "600")
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not seconds > 0:
        raise ValueError(f"lamina.distributed: LAMINA_CROSS_PROCESS_TIMEOUT={value!r} must be "
                         "a positive number of seconds")
    return seconds


_state = _State()
_lock = threading.Lock()
_atexit_registered = False


# --------------------------------------------------------------------------------------
# Auto-detection of the parameters from the environment
# --------------------------------------------------------------------------------------


def _env(*names: str) -> tuple[str, str] | None:
    for name in names:
        value = os.environ.get(name)
        if value:
            return name, value
    return None


def _env_int(*names: str) -> int | None:
    found = _env(*names)
    if found is None:
        return None
    name, value = found
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"lamina.distributed.initialize: environment variable {name}={value!r} "
                         "is not an integer") from None


def _slurm_present() -> bool:
    return all(v in os.environ for v in ("SLURM_JOB_ID", "SLURM_STEP_NODELIST", "SLURM_NTASKS",
                                         "SLURM_PROCID"))


def _slurm_coordinator() -> str:
    port = _env("LAMINA_COORDINATOR_PORT", "JAX_COORDINATOR_PORT")
    # NOTE: the same port rule as jax (one port per job in the top 4096), so mixed
    # jax/lamina tooling agrees on it.
    port_s = port[1] if port else str(int(os.environ["SLURM_JOB_ID"]) % 4096 + 61440)
    # The first host of a Slurm node list: 'n01', 'n01,n02', 'n[01-04],m1', 'n[01,07-09]'.
    nodes = os.environ["SLURM_STEP_NODELIST"]
    match = re.match(r"([^,\[]+)(?:\[([^,\-\]]+))?", nodes)
    if match is None:
        raise ValueError(f"lamina.distributed.initialize: cannot read the first host of "
                         f"SLURM_STEP_NODELIST={nodes!r}; pass coordinator_address")
    return f"{match.group(1)}{match.group(2) or ''}:{port_s}"


def _detect(coordinator_address: str | None, num_processes: int | None,
            process_id: int | None, local_device_ids: Any,
            cluster_detection_method: str | None
            ) -> tuple[str | None, int | None, int | None, Any]:
    if coordinator_address is None:
        found = _env("LAMINA_COORDINATOR_ADDRESS", "JAX_COORDINATOR_ADDRESS")
        coordinator_address = found[1] if found else None
    if num_processes is None:
        num_processes = _env_int("LAMINA_NUM_PROCESSES")
    if process_id is None:
        process_id = _env_int("LAMINA_PROCESS_ID")
    if local_device_ids is None:
        found = _env("LAMINA_LOCAL_DEVICE_IDS", "JAX_LOCAL_DEVICE_IDS")
        if found:
            try:
                local_device_ids = [int(i) for i in found[1].split(",")]
            except ValueError:
                raise ValueError(f"lamina.distributed.initialize: environment variable "
                                 f"{found[0]}={found[1]!r} must be comma-separated integers"
                                 ) from None
    if cluster_detection_method not in (None, "slurm", "deactivate"):
        raise ValueError(f"lamina.distributed.initialize: cluster_detection_method="
                         f"{cluster_detection_method!r} is not supported; use None (auto), "
                         "'slurm' or 'deactivate'")
    if cluster_detection_method == "slurm" and not _slurm_present():
        raise RuntimeError("lamina.distributed.initialize: cluster_detection_method='slurm' "
                           "but the Slurm environment variables (SLURM_JOB_ID, "
                           "SLURM_STEP_NODELIST, SLURM_NTASKS, SLURM_PROCID) are not all set")
    if (cluster_detection_method != "deactivate"
            and None in (coordinator_address, num_processes, process_id)
            and _slurm_present()):
        coordinator_address = coordinator_address or _slurm_coordinator()
        if num_processes is None:
            num_processes = int(os.environ["SLURM_NTASKS"])
        if process_id is None:
            process_id = int(os.environ["SLURM_PROCID"])
    return coordinator_address, num_processes, process_id, local_device_ids


def _is_loopback(host: str) -> bool:
    return host in ("localhost", "::1", "[::1]") or host.startswith("127.")


# --------------------------------------------------------------------------------------
# initialize / shutdown
# --------------------------------------------------------------------------------------


def initialize(coordinator_address: str | None = None, num_processes: int | None = None,
               process_id: int | None = None,
               local_device_ids: int | Sequence[int] | None = None,
               cluster_detection_method: str | None = None,
               initialization_timeout: int = 300, heartbeat_timeout_seconds: int = 100,
               shutdown_timeout_seconds: int = 300,
               coordinator_bind_address: str | None = None) -> None:
    """Join this process to a multi-process run, as `jax.distributed.initialize`.

    Call it before anything else in lamina that starts the backend (a computation,
    `lamina.devices()`, `lamina.device_put`...); every process of the run calls it.

    Args:
        coordinator_address: `host:port` of process 0, where the coordination service
            runs. Default: `$LAMINA_COORDINATOR_ADDRESS`, `$JAX_COORDINATOR_ADDRESS`, or
            the first host of a Slurm job.
        num_processes: the number of processes. Default: `$LAMINA_NUM_PROCESSES` or
            Slurm's `SLURM_NTASKS`.
        process_id: this process's index in `[0, num_processes)`. Default:
            `$LAMINA_PROCESS_ID` or Slurm's `SLURM_PROCID`.
        local_device_ids: the accelerator devices this process uses (default
            `$LAMINA_LOCAL_DEVICE_IDS` / `$JAX_LOCAL_DEVICE_IDS`); kept for accelerator
            backends, ignored on the CPU, whose device count is `LAMINA_NUM_CPU_DEVICES`.
        cluster_detection_method: None (use Slurm's variables when present), `'slurm'`
            (require them) or `'deactivate'` (environment variables named above only).
        initialization_timeout: seconds to wait for every process to connect.
        heartbeat_timeout_seconds: a process silent for this long counts as dead, and
            the others are terminated with an error naming it.
        shutdown_timeout_seconds: how long `shutdown` waits for the other processes.
        coordinator_bind_address: where process 0's service listens (default
            `[::]:<port of coordinator_address>`, or `$JAX_COORDINATOR_BIND_ADDRESS`).

    >>> import lamina
    >>> lamina.distributed.initialize(  # doctest: +SKIP
    ...     coordinator_address="10.0.0.1:1234", num_processes=2, process_id=0)
    """
    global _atexit_registered
    fn = "lamina.distributed.initialize"
    if isinstance(local_device_ids, int):
        local_device_ids = [local_device_ids]
    coordinator_address, num_processes, process_id, local_device_ids = _detect(
        coordinator_address, num_processes, process_id, local_device_ids,
        cluster_detection_method)
    if coordinator_address is None:
        raise ValueError(f"{fn}: coordinator_address is not set; pass it ('host:port' of "
                         "process 0) or set LAMINA_COORDINATOR_ADDRESS")
    if num_processes is None:
        raise ValueError(f"{fn}: num_processes is not set; pass it or set "
                         "LAMINA_NUM_PROCESSES")
    if process_id is None:
        raise ValueError(f"{fn}: process_id is not set; pass it or set LAMINA_PROCESS_ID")
    if not isinstance(num_processes, int) or isinstance(num_processes, bool) \
            or num_processes < 1:
        raise ValueError(f"{fn}: num_processes must be a positive int, got {num_processes!r}")
    if not isinstance(process_id, int) or isinstance(process_id, bool) \
            or not 0 <= process_id < num_processes:
        raise ValueError(f"{fn}: process_id must be an int in [0, num_processes="
                         f"{num_processes}), got {process_id!r}")
    if not isinstance(coordinator_address, str) or ":" not in coordinator_address:
        raise ValueError(f"{fn}: coordinator_address must be a 'host:port' string, got "
                         f"{coordinator_address!r}")
    host, port = coordinator_address.rsplit(":", 1)
    if not port.isdigit():
        raise ValueError(f"{fn}: coordinator_address={coordinator_address!r} has no numeric "
                         "port; use 'host:port'")
    if local_device_ids is not None:
        local_device_ids = list(local_device_ids)
        if not all(isinstance(i, int) and i >= 0 for i in local_device_ids):
            raise ValueError(f"{fn}: local_device_ids must be non-negative ints, got "
                             f"{local_device_ids!r}")
    for name, value in (("initialization_timeout", initialization_timeout),
                        ("heartbeat_timeout_seconds", heartbeat_timeout_seconds),
                        ("shutdown_timeout_seconds", shutdown_timeout_seconds)):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{fn}: {name} must be a positive int (seconds), got {value!r}")
    bind = (coordinator_bind_address or os.environ.get("JAX_COORDINATOR_BIND_ADDRESS")
            or f"[::]:{port}")
    with _lock:
        if _state.client is not None:
            raise RuntimeError(f"{fn} should only be called once (call "
                               "lamina.distributed.shutdown() first to start again)")
        if _client.backend_started():
            _client.set_distributed(None)  # raises the "call it first" error
        timeouts = dict(heartbeat_timeout=heartbeat_timeout_seconds,
                        shutdown_timeout=shutdown_timeout_seconds)
        service = None
        if process_id == 0:
            try:
                service = _jaxlib.start_coordination_service(bind, num_processes, **timeouts)
            except _jaxlib.JaxRuntimeError as e:
                raise RuntimeError(f"{fn}: process 0 could not start the coordination service "
                                   f"on {bind!r} (is the port free?): {e}") from None
        try:
            coordination = _jaxlib.connect_coordination_client(
                coordinator_address, process_id, init_timeout=initialization_timeout,
                **timeouts)
        except _jaxlib.JaxRuntimeError as e:
            if service is not None:
                service.shutdown()
            raise RuntimeError(
                f"{fn}: process {process_id} could not join the run at {coordinator_address!r} "
                f"within initialization_timeout={initialization_timeout}s (did all "
                f"{num_processes} processes start, with the same address?): {e}") from None
        _client.set_distributed(dict(
            coordination=coordination, process_id=process_id, num_processes=num_processes,
            gloo_hostname="127.0.0.1" if _is_loopback(host) else None))
        _state.service, _state.client = service, coordination
        _state.process_id, _state.num_processes = process_id, num_processes
        _state.calls = 0
        _state.coordinator_address = coordinator_address
        _state.local_device_ids = local_device_ids
        if not _atexit_registered:
            # NOTE: a process that exits without shutting down looks dead to the others,
            # which the service then terminates.
            atexit.register(shutdown)
            _atexit_registered = True


def is_initialized() -> bool:
    """Whether `initialize` has run (and `shutdown` has not)."""
    return _state.client is not None


def shutdown() -> None:
    """Leave the multi-process run: waits (up to `shutdown_timeout_seconds`) for the other
    processes to shut down too, then stops the coordination service on process 0. Does
    nothing without `initialize`. Collectives across processes no longer work after it.
    """
    with _lock:
        coordination, service = _state.client, _state.service
        _state.client = _state.service = None
        if coordination is not None:
            coordination.shutdown()
        if service is not None:
            service.shutdown()


# --------------------------------------------------------------------------------------
# Barrier and key-value store
# --------------------------------------------------------------------------------------


def _ms(fn: str, timeout: float) -> int:
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
        raise ValueError(f"{fn}: timeout must be a positive number of seconds, got {timeout!r}")
    return max(1, int(timeout * 1000))


def _check_key(fn: str, key: Any) -> None:
    if not isinstance(key, str) or not key:
        raise TypeError(f"{fn}: key must be a non-empty str, got {key!r}")


def _runtime_error(fn: str, what: str, timeout: float | None, e: Exception) -> Exception:
    text = str(e)
    if "DEADLINE_EXCEEDED" in text:
        return TimeoutError(f"{fn}: {what} did not complete within timeout={timeout}s "
                            f"(is every process running and reaching it?): {text}")
    return RuntimeError(f"{fn}: {what} failed (did another process die?): {text}")


def barrier(name: str, timeout: float = 300.0,
            process_ids: Sequence[int] | None = None) -> None:
    """Wait until every process (or every process in `process_ids`) reaches the barrier
    `name`. Raises TimeoutError after `timeout` seconds. Without `initialize`: returns.
    """
    fn = "lamina.distributed.barrier"
    _check_key(fn, name)
    ms = _ms(fn, timeout)
    coordination = _state.client
    if coordination is None:
        return
    try:
        coordination.wait_at_barrier(name, ms, None if process_ids is None
                                     else [int(p) for p in process_ids])
    except _jaxlib.JaxRuntimeError as e:
        raise _runtime_error(fn, f"barrier {name!r}", timeout, e) from None


def key_value_set(key: str, value: str | bytes, allow_overwrite: bool = False) -> None:
    """Store `value` (str or bytes) under `key`, visible to every process.

    Setting an existing key raises unless `allow_overwrite`.
    """
    fn = "lamina.distributed.key_value_set"
    _check_key(fn, key)
    if not isinstance(value, (str, bytes)):
        raise TypeError(f"{fn}: value must be str or bytes, got {type(value).__name__}")
    coordination = _state.client
    if coordination is None:
        if key in _state.local_kv and not allow_overwrite:
            raise RuntimeError(f"{fn}: key {key!r} already exists (pass allow_overwrite=True)")
        _state.local_kv[key] = value.encode() if isinstance(value, str) else value
        return
    try:
        if isinstance(value, bytes):
            coordination.key_value_set_bytes(key, value, allow_overwrite)
        else:
            coordination.key_value_set(key, value, allow_overwrite)
    except _jaxlib.JaxRuntimeError as e:
        if "ALREADY_EXISTS" in str(e):
            raise RuntimeError(f"{fn}: key {key!r} already exists (pass "
                               "allow_overwrite=True)") from None
        raise _runtime_error(fn, f"setting key {key!r}", None, e) from None


def key_value_get_bytes(key: str, timeout: float = 300.0) -> bytes:
    """The value of `key` as bytes, waiting up to `timeout` seconds for some process to
    set it (TimeoutError after that)."""
    fn = "lamina.distributed.key_value_get"
    _check_key(fn, key)
    ms = _ms(fn, timeout)
    coordination = _state.client
    if coordination is None:
        if key not in _state.local_kv:
            # NOTE: one process: nobody else can set it, so waiting would only delay the error.
            raise TimeoutError(f"{fn}: key {key!r} was never set (single-process run)")
        return _state.local_kv[key]
    try:
        return coordination.blocking_key_value_get_bytes(key, ms)
    except _jaxlib.JaxRuntimeError as e:
        raise _runtime_error(fn, f"waiting for key {key!r}", timeout, e) from None


def key_value_get(key: str, timeout: float = 300.0) -> str:
    """The value of `key` as str, waiting up to `timeout` seconds for some process to set
    it (TimeoutError after that).

    >>> import lamina
    >>> lamina.distributed.key_value_set("doc/step", "7", allow_overwrite=True)
    >>> lamina.distributed.key_value_get("doc/step")
    '7'
    """
    return key_value_get_bytes(key, timeout).decode()


def key_value_try_get(key: str) -> str | None:
    """The value of `key` as str, or None if no process has set it (no waiting)."""
    fn = "lamina.distributed.key_value_try_get"
    _check_key(fn, key)
    coordination = _state.client
    if coordination is None:
        value = _state.local_kv.get(key)
        return None if value is None else value.decode()
    try:
        return coordination.key_value_try_get(key)
    except _jaxlib.JaxRuntimeError as e:
        if "NOT_FOUND" in str(e):
            return None
        raise _runtime_error(fn, f"reading key {key!r}", None, e) from None


def key_value_delete(key: str) -> None:
    """Remove `key` (and every key under the directory `key/`)."""
    fn = "lamina.distributed.key_value_delete"
    _check_key(fn, key)
    coordination = _state.client
    if coordination is None:
        for k in [k for k in _state.local_kv if k == key or k.startswith(key + "/")]:
            del _state.local_kv[k]
        return
    try:
        coordination.key_value_delete(key)
    except _jaxlib.JaxRuntimeError as e:
        raise _runtime_error(fn, f"deleting key {key!r}", None, e) from None


def key_value_dir_get(prefix: str) -> list[tuple[str, str]]:
    """Every `(key, value)` whose key is under the directory `prefix` (`prefix/...`)."""
    fn = "lamina.distributed.key_value_dir_get"
    _check_key(fn, prefix)
    coordination = _state.client
    if coordination is None:
        root = prefix.rstrip("/") + "/"
        return sorted((k, v.decode()) for k, v in _state.local_kv.items()
                      if k.startswith(root))
    try:
        return list(coordination.key_value_dir_get(prefix))
    except _jaxlib.JaxRuntimeError as e:
        raise _runtime_error(fn, f"listing {prefix!r}", None, e) from None


# --------------------------------------------------------------------------------------
# Agreeing on a cross-process program before running it
# --------------------------------------------------------------------------------------


_AGREE_BLOCK = 64  # calls per key directory; process 0 drops old directories in blocks


def _agree(what: str, signature: str) -> None:
    """Before this process runs a program with collectives across processes (`what`, e.g.
    `pmap(step)`): check that every other process is about to run one with the same
    `signature` (per-device types), so that a mismatch is an error on every process
    instead of a collective that never completes.

    Call k (counted per process: every process must make the same sequence of
    cross-process calls) publishes each process's signature under `lamina/calls/k`, waits
    at barrier k and reads them all: any difference raises ValueError naming both
    signatures on every process; a process that does not arrive within
    `$LAMINA_CROSS_PROCESS_TIMEOUT` seconds (default 600) is named in a TimeoutError.

    NOTE: three round trips to the coordination service per call, whatever the number
    of processes (~0.3-1 ms on one host). A dead peer is reported sooner, by the
    service's heartbeats.
    """
    coordination = _state.client
    if coordination is None or _state.num_processes == 1:
        return
    with _lock:
        seq = _state.calls
        _state.calls += 1
    me, n, timeout = _state.process_id, _state.num_processes, _agree_timeout()
    block, where = divmod(seq, _AGREE_BLOCK)
    prefix = f"lamina/calls/{block}/{where}"
    try:
        coordination.key_value_set(f"{prefix}/{me}", signature, True)
        try:
            # NOTE: one barrier name for every call (the service counts its rounds): a
            # name per call would grow the service's state for as long as the run lasts.
            coordination.wait_at_barrier("lamina/call", max(1, int(timeout * 1000)), None)
        except _jaxlib.JaxRuntimeError as e:
            if "DEADLINE_EXCEEDED" not in str(e):
                raise
            arrived = {int(k.rsplit("/", 1)[1]) for k, _ in coordination.key_value_dir_get(prefix)}
            missing = [p for p in range(n) if p not in arrived]
            raise TimeoutError(
                f"{what}: process(es) {missing} did not reach cross-process call number {seq} "
                f"within {timeout:g}s (LAMINA_CROSS_PROCESS_TIMEOUT): stuck, or running other "
                "code? Every process must make the same sequence of cross-process pmap calls"
            ) from None
        theirs = {int(k.rsplit("/", 1)[1]): v for k, v in coordination.key_value_dir_get(prefix)}
        for p in range(n):
            if theirs.get(p) != signature:
                raise ValueError(
                    f"{what}: the processes disagree on cross-process call number {seq}: "
                    f"process {me} runs {signature}, process {p} runs {theirs.get(p)}; every "
                    "process must call the same pmapped function with the same shapes and "
                    "dtypes (e.g. the same batch size), in the same order")
        if me == 0 and where == 0 and block >= 2:
            # Every process has read block - 2: each passed barrier seq, after its reads.
            coordination.key_value_delete(f"lamina/calls/{block - 2}")
    except _jaxlib.JaxRuntimeError as e:
        raise RuntimeError(f"{what}: checking the other processes run the same program failed "
                           f"(did another process die?): {e}") from None


# --------------------------------------------------------------------------------------
# Global arrays from per-process pieces
# --------------------------------------------------------------------------------------


def _local_pieces(fn: str, sharding: Any, data: Any, global_shape: tuple[int, ...] | None
                  ) -> tuple[tuple[int, ...], list[Any], list[Any]]:
    """(global shape, this process's devices, their pieces of `data`)."""
    from lamina.backend.client import is_local
    from lamina.sharding import PmapSharding
    devices = list(sharding._device_assignment)
    local = [d for d in devices if is_local(d)]
    if not local:
        raise ValueError(f"{fn}: none of the sharding's devices belongs to this process "
                         f"(process {_client.process_index()}); sharding={sharding!r}")
    if isinstance(sharding, PmapSharding):  # device k holds x[k]
        if data.ndim < 1 or data.shape[0] != len(local):
            raise ValueError(f"{fn}: with a PmapSharding the local data's axis 0 must have one "
                             f"entry per local device ({len(local)}), got shape {data.shape}")
        inferred = (len(devices), *data.shape[1:])
        if global_shape is not None and tuple(global_shape) != inferred:
            raise ValueError(f"{fn}: global_shape={tuple(global_shape)} does not match the "
                             f"PmapSharding over {len(devices)} devices and local shape "
                             f"{data.shape}; expected {inferred}")
        return inferred, local, [data[i] for i in range(len(local))]
    ndim = data.ndim
    # Infer how many pieces each dim is cut into by probing with a shape every mesh split
    # divides (the device count), then scale by the share this process holds.
    probe = (len(devices),) * ndim
    probe_map = sharding.devices_indices_map(probe)
    inferred = []
    for d in range(ndim):
        sl = probe_map[devices[0]][d]
        parts = probe[d] // len(range(*sl.indices(probe[d])))
        here = len({probe_map[dev][d].indices(probe[d])[0] for dev in local})
        if (data.shape[d] * parts) % here:
            raise ValueError(f"{fn}: local data shape {data.shape} cannot be split evenly "
                             f"over this process's {here} pieces of dimension {d}")
        inferred.append(data.shape[d] * parts // here)
    if global_shape is None:
        global_shape = tuple(inferred)
    else:
        global_shape = tuple(int(s) for s in global_shape)
        bad = [d for d in range(ndim) if global_shape[d] not in (inferred[d], data.shape[d])]
        if len(global_shape) != ndim or bad:
            raise ValueError(f"{fn}: global_shape={global_shape} does not fit local data of "
                             f"shape {data.shape} under {sharding!r}: each dimension must be "
                             f"the local size or {tuple(inferred)}")
    index_map = sharding.devices_indices_map(global_shape)
    starts = [sorted({index_map[dev][d].indices(global_shape[d])[0] for dev in local})
              for d in range(ndim)]
    pieces = []
    for dev in local:
        index = []
        for d, sl in enumerate(index_map[dev]):
            start, stop, _ = sl.indices(global_shape[d])
            if global_shape[d] == data.shape[d]:
                index.append(slice(start, stop))
            else:  # this process's pieces of dim d are stacked in its local data
                k = starts[d].index(start)
                index.append(slice(k * (stop - start), (k + 1) * (stop - start)))
        pieces.append(data[tuple(index)])
    return global_shape, local, pieces


def make_array_from_process_local_data(sharding: Any, local_data: Any,
                                       global_shape: Sequence[int] | None = None) -> Any:
    """One global Array laid out as `sharding` from each process's part of it, as
    `jax.make_array_from_process_local_data`.

    Each process passes the data of its own devices: with `PmapSharding(devices)` (what
    pmap takes), axis 0 of `local_data` has one entry per local device; with a
    `NamedSharding`, `local_data` is this process's rows (columns...) stacked in device
    order, and a dimension of `local_data` equal to `global_shape`'s holds the whole
    dimension. `global_shape` defaults to the shape implied by every process holding the
    same share.

    >>> import lamina, numpy as np
    >>> s = lamina.sharding.PmapSharding(lamina.local_devices())
    >>> x = lamina.make_array_from_process_local_data(s, np.ones((lamina.local_device_count(), 3)))
    >>> x.shape == (lamina.device_count(), 3)
    True
    """
    import numpy as np
    from lamina import dtypes
    from lamina.backend.array import Array, ShardedArray
    from lamina.ir import AbstractArray
    from lamina.sharding import Sharding, SingleDeviceSharding
    fn = "lamina.make_array_from_process_local_data"
    if not isinstance(sharding, Sharding):
        raise TypeError(f"{fn}: sharding must be a lamina.sharding.Sharding, got "
                        f"{type(sharding).__name__}: {sharding!r}")
    data = np.asarray(local_data)
    dtype = dtypes.canonicalize_dtype(data.dtype)
    if data.dtype != dtype:
        data = data.astype(dtype)
    shape, local, pieces = _local_pieces(fn, sharding, data, global_shape)
    bufs = []
    for piece, dev in zip(pieces, local):
        piece = np.array(piece, order="C", copy=None)
        bufs.append(_jaxlib.device_put(piece, AbstractArray(piece.shape, dtype), dev))
    aval = AbstractArray(shape, dtype)
    if isinstance(sharding, SingleDeviceSharding):
        return Array._from_buffer(bufs[0], aval, local[0])
    return ShardedArray._from_sharded(_jaxlib.assemble_shards(aval, local, bufs), aval,
                                      sharding)
