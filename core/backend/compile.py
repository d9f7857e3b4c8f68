"""Compiling StableHLO text and running the result with validated inputs.

jaxlib segfaults on some bad inputs to a multi-device execute and silently accepts a
dtype mismatch of equal byte size (JAXLIB_FACTS §4), so `Executable.__call__` checks
every argument's shape, dtype and device in Python before launching.
"""
from __future__ import annotations

from typing import Any, Sequence

from lamina.backend import _jaxlib, persistent_cache
from lamina.backend.client import Device
from lamina.errors import DeletedArrayError
from lamina.ir import AbstractArray

_compile_cache: dict[tuple[str, tuple[int, ...], tuple[bool, ...]], "_jaxlib.LoadedExecutable"] = {}


def compile_module(module_text: str, device: Device) -> Any:
    """Compile a single-device module, or fetch it from the in-process cache, or from
    the persistent cache on disk (`persistent_cache.py`)."""
    key = (module_text, (device.id,), ())
    exe = _compile_cache.get(key)
    if exe is None:
        client = device.client
        options = _jaxlib.compile_options()
        disk_key = persistent_cache.entry_key(module_text, "replicas=1,partitions=1", device)
        exe = persistent_cache.load(
            disk_key, lambda blob: _jaxlib.deserialize(client, blob, [device], options))
        if exe is None:
            try:
                exe = _jaxlib.compile(client, module_text, [device], options)
            except _jaxlib.JaxRuntimeError as e:
                raise RuntimeError(f"XLA failed to compile a lamina program (a lamina bug; "
                                   f"please report it):\n{e}\n--- module ---\n{module_text}"
                                   ) from None
            persistent_cache.store(disk_key, _jaxlib.serialize(exe))
        _compile_cache[key] = exe
    return exe


class Executable:
    """A compiled single-device program taking and returning lamina Arrays."""

    __slots__ = ("loaded", "in_avals", "out_avals", "device", "donated", "_launch",
                 "_in_types")

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

    def __call__(self, args: Sequence[Any]) -> list[Any]:
        from lamina.backend.array import Array
        if len(args) != len(self._in_types):
            raise TypeError(f"compiled program expects {len(self._in_types)} arguments, got {len(args)}")
        bufs = []
        for i, (a, (shape, dtype)) in enumerate(zip(args, self._in_types)):
            aval = a.aval
            if aval.shape != shape or aval.dtype != dtype:
                raise TypeError(f"argument {i} of the compiled program has type "
                                f"{aval.str_short()}, expected {AbstractArray(shape, dtype).str_short()}")
            if a._device is not self.device and a._device != self.device:
                raise ValueError(f"argument {i} lives on {a._device}, but the program was "
                                 f"compiled for {self.device}; move it with lamina.device_put")
            buf = a._buf
            if buf is None or buf.is_deleted():
                raise DeletedArrayError(f"argument {i} ({aval.str_short()}) was deleted or "
                                        "donated to an earlier call and cannot be used again")
            bufs.append(buf)
        outs = self._launch(bufs)
        device = self.device
        return [Array._from_buffer(b, aval, device) for b, aval in zip(outs, self.out_avals)]

    def cost_analysis(self) -> dict[str, float]:
        return dict(self.loaded.cost_analysis())

    def hlo_text(self) -> str:
        return _jaxlib.hlo_text(self.loaded)
