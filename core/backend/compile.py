"""Compiling StableHLO text and running the result with validated inputs.

jaxlib segfaults on some bad inputs to a multi-device execute and silently accepts a
dtype mismatch of equal byte size (JAXLIB_FACTS §4), so `Executable.__call__` checks
every argument's shape, dtype and device in Python before launching.
"""
from __future__ import annotations

import ctypes
import sys
from typing import Any, Callable, Sequence

from lamina.backend import _jaxlib, persistent_cache
from lamina.backend.array import new_array as _new_array
from lamina.backend.client import Device, is_local
from lamina.errors import DeletedArrayError
from lamina.ir import AbstractArray

_compile_cache: dict[tuple[Any, ...], "_jaxlib.LoadedExecutable"] = {}

CompilerOptions = tuple[tuple[str, Any], ...]

LATENCY_OPTIONS: CompilerOptions = (("xla_cpu_use_fusion_emitters", False),)
"""XLA options for eager primitives whose result is exactly defined (`eval.py`): they
compile once per new shape, so compile time is what counts. XLA:CPU's older loop
emitters compile such a one-op program in ~10 ms instead of ~16. Not for approximated
functions (tan and float16 log/exp came out 1 ulp apart from the default emitters) nor
whole programs (train steps ran 14-20% slower). Other platforms ignore it."""


def canonical_compiler_options(options: Any, where: str) -> CompilerOptions:
    """jit's `compiler_options` ({XLA debug option: value}) as a sorted, hashable tuple,
    or a TypeError naming the bad entry."""
    if options is None:
        return ()
    if not isinstance(options, dict):
        raise TypeError(f"{where}: compiler_options must be a dict of XLA options "
                        f"({{'xla_cpu_...': value}}), got {type(options).__name__}: "
                        f"{options!r}")
    for name, value in options.items():
        if not isinstance(name, str) or not isinstance(value, (bool, int, float, str)):
            raise TypeError(f"{where}: compiler_options entry {name!r}: {value!r} must map "
                            f"an option name (str) to a bool, int, float or str")
    return tuple(sorted(options.items()))


def compile_module(module_text: str, device: Device,
                   compiler_options: CompilerOptions = ()) -> Any:
    """Compile a single-device module, or fetch it from the in-process cache, or from
    the persistent cache on disk (`persistent_cache.py`). `compiler_options`: the
    canonical tuple of `canonical_compiler_options`."""
    key = (module_text, (device.id,), (), compiler_options)
    exe = _compile_cache.get(key)
    if exe is None:
        # NOTE (issue 5): pin the device; the default assignment is device 0, which made
        # eager ops on Arrays committed to another device (a pmap output's shard) fail.
        # The disk key names the device too: an entry holds its device assignment.
        options = _jaxlib.compile_options(device_assignment=[[device.id]],
                                          overrides=compiler_options)
        exe = _load_or_compile(module_text, [device], options,
                               f"replicas=1,partitions=1,device={device.id}",
                               "XLA failed to compile a lamina program", compiler_options)
        _compile_cache[key] = exe
    return exe


class Executable:
    """A compiled single-device program taking and returning lamina Arrays.

    `exe(args)` checks every argument; `exe.call_matched(args)` is the dispatch fast
    path for callers that looked the executable up by exactly the arguments' types and
    device (the eager op cache, `jit`'s per-signature cache): it only checks that no
    buffer was deleted, and defers to the checked call (for its error) if one was.
    """

    __slots__ = ("loaded", "in_avals", "out_avals", "device", "donated", "_launch",
                 "_in_types", "_single_out")

    def __init__(self, loaded: Any, in_avals: Sequence[AbstractArray],
                 out_avals: Sequence[AbstractArray], device: Device,
                 donated: Sequence[bool] = ()) -> None:
        self.loaded = loaded
        self.in_avals = list(in_avals)
        self.out_avals = list(out_avals)
        self.device = device
        self.donated = tuple(donated)
        self._launch = _jaxlib.make_launcher(
            loaded, [_jaxlib.result_handler(a, device) for a in out_avals])
        self._in_types = [(a.shape, a.dtype) for a in in_avals]
        # The type of the only output (None for several): the dispatch paths' shortcut.
        self._single_out = self.out_avals[0] if len(self.out_avals) == 1 else None

    def __call__(self, args: Sequence[Any]) -> list[Any]:
        if len(args) != len(self._in_types):
            raise TypeError(f"compiled program expects {len(self._in_types)} arguments, got {len(args)}")
        device = self.device
        bufs = []
        for i, (a, expected, (shape, dtype)) in enumerate(zip(args, self.in_avals,
                                                               self._in_types)):
            aval = a.aval
            # NOTE: the identity test skips the comparison in steady-state loops, where
            # an argument is an earlier output carrying this program's own aval object.
            if aval is not expected and (aval.shape != shape or aval.dtype != dtype):
                raise TypeError(f"argument {i} of the compiled program has type "
                                f"{aval.str_short()}, expected {AbstractArray(shape, dtype).str_short()}")
            if a._device is not device and a._device != device:
                raise ValueError(f"argument {i} lives on {a._device}, but the program was "
                                 f"compiled for {device}; move it with lamina.device_put")
            buf = a._buf
            if buf is None or buf.is_deleted():
                raise DeletedArrayError(f"argument {i} ({aval.str_short()}) was deleted or "
                                        "donated to an earlier call and cannot be used again")
            bufs.append(buf)
        return self._wrap(self._launch(bufs))

    def call_matched(self, args: Sequence[Any]) -> list[Any]:
        """`self(args)` for arguments already known to have this program's input types
        and to live on its device."""
        bufs = []
        for a in args:
            buf = a._buf
            if buf is None or buf.is_deleted():
                return self(args)  # raises DeletedArrayError, naming the argument
            bufs.append(buf)
        return self._wrap(self._launch(bufs))

    def _wrap(self, outs: list[Any]) -> list[Any]:
        device = self.device
        if self._single_out is not None:
            return [_new_array(outs[0], self._single_out, device)]
        return [_new_array(b, aval, device) for b, aval in zip(outs, self.out_avals)]

    def cost_analysis(self) -> dict[str, float]:
        return dict(self.loaded.cost_analysis())

    def hlo_text(self) -> str:
        return _jaxlib.hlo_text(self.loaded)


_replicated_cache: dict[tuple[str, tuple[int, ...]], Any] = {}


def compile_replicated(module_text: str, devices: Sequence[Device],
                       compiler_options: CompilerOptions = ()) -> Any:
    """Compile a replica-style module (`mhlo.num_replicas = len(devices)`, replica k on
    `devices[k]`), or fetch it from the in-process cache, or from the persistent cache
    on disk (keyed by the text, the replica count and the device assignment)."""
    key = (module_text, tuple(d.id for d in devices), compiler_options)
    exe = _replicated_cache.get(key)
    if exe is None:
        ids = [d.id for d in devices]
        options = _jaxlib.compile_options(num_replicas=len(devices), num_partitions=1,
                                          device_assignment=[[i] for i in ids],
                                          overrides=compiler_options)
        exe = _load_or_compile(module_text, devices, options,
                               f"replicas={len(ids)},partitions=1,assignment={ids}",
                               "XLA failed to compile a lamina program", compiler_options)
        _replicated_cache[key] = exe
    return exe


def _load_or_compile(module_text: str, devices: Sequence[Device], options: Any,
                     options_key: str, failure: str,
                     compiler_options: CompilerOptions = ()) -> Any:
    """An executable from the persistent cache, else compiled (and stored).
    `options_key` names the compile options for the disk key; `failure` starts the
    error of a failed compile, which blames the user's `compiler_options` when there
    are some, else lamina.

    NOTE: programs calling Python skip the disk cache (they hold this process's
    callbacks), and so do programs spanning several processes: each process would load
    its own copy of an executable whose collectives are set up across processes, a case
    not checked against jaxlib.
    """
    if compiler_options:
        options_key += f",options={compiler_options!r}"
        failure += (f" with compiler_options={dict(compiler_options)!r} (check the option "
                    "names and values)")
    else:
        failure += " (a lamina bug; please report it)"
    client = devices[0].client
    disk_key = None
    if all(is_local(d) for d in devices) and not _jaxlib.has_host_callbacks(module_text):
        disk_key = persistent_cache.entry_key(module_text, options_key, devices[0])
        exe = persistent_cache.load(
            disk_key, lambda blob: _jaxlib.deserialize(client, blob, devices, options))
        if exe is not None:
            release_free_heap()
            return exe
    try:
        exe = _jaxlib.compile(client, module_text, devices, options)
    except _jaxlib.JaxRuntimeError as e:
        raise RuntimeError(f"{failure}:\n{e}\n--- module ---\n{module_text}") from None
    if disk_key is not None:
        persistent_cache.store(disk_key, _jaxlib.serialize(exe))
    release_free_heap()
    return exe


def _find_malloc_trim() -> Callable[[int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        trim = ctypes.CDLL(None).malloc_trim  # glibc's; absent from musl and others
    except (OSError, AttributeError):
        return None
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return trim


_malloc_trim = _find_malloc_trim()
heap_releases = 0
"""How many times `release_free_heap` handed memory back (tests read it)."""


def release_free_heap() -> None:
    """Hand the C heap's free pages back to the OS (glibc's `malloc_trim(0)`; a no-op
    where the C library has no such call).

    Called after each XLA compile and each load from the persistent cache. NOTE
    (issue 9): XLA compiles on several threads, so its scratch (~120 MB for the
    benchmarks' small transformer train step) is freed into several glibc arenas, which
    keep it; the program's runs then allocate their buffers in other threads' arenas,
    on top of it, and that sum was the process's high-water mark. Trimming took ~40 ms
    after that 3-4 s compile, ~0.1-1 ms after a small compile or a cache load.

    >>> release_free_heap()
    """
    global heap_releases
    if _malloc_trim is not None:
        _malloc_trim(0)
        heap_releases += 1


class _MultiDeviceExecutable:
    """What replica-style and partitioned programs share: a launcher over multi-device
    buffers, the deleted-buffer check, and the optional wait for results (`sync`)."""

    __slots__ = ("loaded", "in_avals", "out_avals", "devices", "sync", "_launch")
    _arg_kind = ""  # how an argument's type is described in errors

    def __call__(self, bufs: Sequence[Any]) -> list[Any]:
        for i, b in enumerate(bufs):
            if b.is_deleted():
                raise DeletedArrayError(f"argument {i} ({self.in_avals[i].str_short()}"
                                        f"{self._arg_kind}) was deleted or donated to an "
                                        "earlier call and cannot be used again")
        return self.call_matched(bufs)

    def call_matched(self, bufs: Sequence[Any]) -> list[Any]:
        """`self(bufs)` for buffers the caller already found alive (pmap's fast path)."""
        outs = self._launch(bufs)
        if self.sync and outs:
            # NOTE: one wait covers the whole execution: XLA:CPU makes every result of
            # an execution on a device ready at once (one completion event per device),
            # and a multi-device buffer waits for each of its devices (checked: after
            # it, every shard of all 20 outputs of a pmapped train step was ready).
            outs[-1].block_until_ready()
        return outs

    def hlo_text(self) -> str:
        return _jaxlib.hlo_text(self.loaded)


class ReplicatedExecutable(_MultiDeviceExecutable):
    """A compiled replica-style program over N devices (what `pmap` runs).

    Takes and returns multi-device buffers (`_jaxlib.assemble_shards`) whose shard k has
    the per-device type and lives on `devices[k]`; the caller builds the inputs, so
    their shapes, dtypes and device order are right by construction (a wrong multi-
    device argument segfaults jaxlib, JAXLIB_FACTS §4). `in_avals`/`out_avals` are the
    per-device types. With `sync` (programs with collectives on the CPU), each call
    waits for its results: two collective programs in flight at once can deadlock
    XLA:CPU's rendezvous on a machine with few cores (JAXLIB_FACTS §4).
    """

    __slots__ = ("placed",)
    _arg_kind = " per device"

    def __init__(self, loaded: Any, in_avals: Sequence[AbstractArray],
                 out_avals: Sequence[AbstractArray], devices: Sequence[Device],
                 sync: bool) -> None:
        self.loaded = loaded
        self.in_avals = list(in_avals)
        self.out_avals = list(out_avals)
        self.devices = tuple(devices)
        self.sync = sync
        # `_api_pmap`'s replicated copies of the operands given to every device, by
        # operand index, reused while the operand is the same (`_place_unmapped`).
        self.placed: dict[int, tuple[Any, Any]] = {}
        n = len(devices)
        # NOTE: across processes, an execute returns this process's shards only (§5).
        local = [d for d in devices if is_local(d)]
        self._launch = _jaxlib.make_launcher(loaded, [
            _jaxlib.multi_device_result_handler(a.update(shape=(n, *a.shape)), local)
            for a in out_avals])


_partitioned_cache: dict[tuple[Any, ...], Any] = {}


def compile_partitioned(module_text: str, devices: Sequence[Device],
                        propagate_to_outputs: Sequence[bool],
                        compiler_options: CompilerOptions = ()) -> Any:
    """Compile an SPMD module (`mhlo.num_partitions = len(devices)`, partition k on
    `devices[k]`) with XLA's Shardy partitioner, or fetch it from the in-process cache,
    or from the persistent cache on disk."""
    key = (module_text, tuple(d.id for d in devices), tuple(propagate_to_outputs),
           compiler_options)
    exe = _partitioned_cache.get(key)
    if exe is None:
        ids = [d.id for d in devices]
        options = _jaxlib.compile_options(
            num_replicas=1, num_partitions=len(devices),
            device_assignment=[ids], spmd=True,
            propagate_to_outputs=propagate_to_outputs, overrides=compiler_options)
        propagate = "".join("1" if p else "0" for p in propagate_to_outputs)
        exe = _load_or_compile(module_text, devices, options,
                               f"replicas=1,partitions={len(ids)},assignment={ids},"
                               f"spmd=shardy,propagate_to_outputs={propagate}",
                               "XLA failed to compile a sharded lamina program",
                               compiler_options)
        _partitioned_cache[key] = exe
    return exe


class PartitionedExecutable(_MultiDeviceExecutable):
    """A compiled SPMD program over N devices (what a sharded `jit` runs).

    Takes and returns multi-device buffers whose shard k lives on `devices[k]`;
    `in_avals`/`out_avals` are the global types. The caller (`lamina._spmd`) checks that
    every argument's shards have the layout the program was compiled for: a wrong
    multi-device argument segfaults jaxlib (JAXLIB_FACTS §4). On the CPU each call waits
    for its results: the partitioner may insert collectives, and two collective programs
    in flight can deadlock XLA:CPU's rendezvous on a few-core machine (§4).
    """

    __slots__ = ()

    def __init__(self, loaded: Any, in_avals: Sequence[AbstractArray],
                 out_avals: Sequence[AbstractArray], devices: Sequence[Device]) -> None:
        self.loaded = loaded
        self.in_avals = list(in_avals)
        self.out_avals = list(out_avals)
        self.devices = tuple(devices)
        self.sync = devices[0].platform == "cpu" and len(devices) > 1
        self._launch = _jaxlib.make_launcher(loaded, [
            _jaxlib.multi_device_result_handler(a, devices) for a in out_avals])

