"""`lamina.Array`: an immutable array whose data lives on a device.

Operators and most methods (`+`, `@`, indexing, `.at`, `.reshape`, `.sum`...) are
installed by `lamina.numpy._array_methods`, on `Array` and `Tracer` alike, so the core
never imports `lamina.numpy`. Host reads are zero-copy DLPack views (JAXLIB_FACTS §1),
read-only like jax's.
"""
from __future__ import annotations

import sys
import weakref
from typing import Any, Iterator

import ml_dtypes
import numpy as np

from lamina import dtypes
from lamina.backend import _jaxlib
from lamina.backend.client import Device, default_device, is_local
from lamina.errors import DeletedArrayError
from lamina.ir import AbstractArray

_BFLOAT16 = np.dtype(ml_dtypes.bfloat16)
# DLPack's DLDeviceType codes (kDLCPU, kDLCUDA, kDLROCM) of the platforms that have one.
_DLPACK_DEVICE_TYPES = {"cpu": 1, "cuda": 2, "rocm": 10}


class Array:
    """A device-backed array (the type of every concrete lamina value)."""

    __slots__ = ("_buf", "aval", "_device", "_npy", "__weakref__")
    __array_priority__ = 100

    _buf: Any
    aval: AbstractArray
    _device: Device
    _npy: np.ndarray | None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise TypeError("lamina.Array cannot be constructed directly; use "
                        "lamina.numpy.asarray(x) or lamina.device_put(x)")

    @classmethod
    def _from_buffer(cls, buf: Any, aval: AbstractArray, device: Device) -> "Array":
        self = object.__new__(cls)
        self._buf = buf
        self.aval = aval
        self._device = device
        self._npy = None
        return self

    # -- metadata --------------------------------------------------------------------

    @property
    def shape(self) -> tuple[int, ...]:
        return self.aval.shape

    @property
    def dtype(self) -> np.dtype:
        return self.aval.dtype

    @property
    def weak_type(self) -> bool:
        return self.aval.weak_type

    @property
    def ndim(self) -> int:
        return self.aval.ndim

    @property
    def size(self) -> int:
        return self.aval.size

    @property
    def itemsize(self) -> int:
        return self.aval.dtype.itemsize

    @property
    def nbytes(self) -> int:
        return self.size * self.itemsize

    @property
    def device(self) -> Device:
        """The device holding this array."""
        return self._device

    def devices(self) -> set[Device]:
        return {self._device}

    @property
    def sharding(self) -> Any:
        """How the data is laid out over devices (`lamina.sharding`)."""
        from lamina.sharding import SingleDeviceSharding
        return SingleDeviceSharding(self._device)

    @property
    def addressable_shards(self) -> list[Any]:
        """One `Shard` (device, index, data) per device holding part of this array."""
        from lamina.sharding import Shard
        return [Shard(self._device, (slice(None),) * self.ndim, self)]

    @property
    def is_fully_addressable(self) -> bool:
        return True

    @property
    def is_fully_replicated(self) -> bool:
        return self.sharding.is_fully_replicated

    def is_deleted(self) -> bool:
        return self._buf is None or self._buf.is_deleted()

    def delete(self) -> None:
        """Free the device memory now; later uses raise `DeletedArrayError`.

        If a numpy view of the data (`np.asarray(x)` on the CPU) is still alive, the
        memory is freed with the last such view instead.
        """
        buf, npy = self._buf, self._npy
        self._buf = self._npy = None
        if buf is None:
            return
        # NOTE: a host view holds the buffer; deleting it under a live view aborts the
        # process inside PJRT ("Non-zero type 1 hold on destruction"). Our own
        # references here are `npy` and getrefcount's argument.
        if npy is not None and sys.getrefcount(npy) > 2:
            return
        del npy
        buf.delete()

    def block_until_ready(self) -> "Array":
        self._check_alive()
        self._buf.block_until_ready()
        return self

    def _check_alive(self) -> None:
        if self.is_deleted():
            raise DeletedArrayError(f"Array {self.aval.str_short()} has been deleted (or donated "
                                    "to a jitted call) and cannot be used again")

    # -- host access -----------------------------------------------------------------

    def _value(self) -> np.ndarray:
        """A read-only numpy view of the data (cached)."""
        npy = self._npy
        if npy is None:
            self._check_alive()
            if self.aval.dtype == _BFLOAT16 and self._buf.platform() == "cpu":
                # NOTE: the CPU view goes through DLPack, which has no bfloat16 numpy
                # takes; an accelerator's host copy (PJRT's transfer) keeps the dtype.
                npy = _jaxlib.host_view(_bitcast_to_uint16(self)._buf).view(_BFLOAT16)
            else:
                npy = _jaxlib.host_view(self._buf)
            self._npy = npy
        return npy

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        value = self._value()
        if dtype is not None and np.dtype(dtype) != value.dtype:
            return value.astype(dtype)
        if copy:
            return value.copy()
        return value

    def __dlpack__(self, *, stream: Any = None, max_version: Any = None,
                   dl_device: Any = None, copy: bool | None = None) -> Any:
        """A DLPack capsule viewing this array's device memory. `stream`: the
        consumer's CUDA/ROCm stream, which jaxlib makes wait for the data."""
        self._check_alive()
        if dl_device is not None and tuple(dl_device) != self.__dlpack_device__():
            raise BufferError(f"__dlpack__: this array lives on DLPack device "
                              f"{self.__dlpack_device__()}, not {tuple(dl_device)}; move it "
                              "there first with lamina.device_put")
        return _jaxlib.dlpack_capsule(self._buf, stream)

    def __dlpack_device__(self) -> tuple[int, int]:
        device = self.device
        kind = _DLPACK_DEVICE_TYPES.get(device.platform)
        if kind is None:
            raise BufferError(f"__dlpack_device__: DLPack has no device type for "
                              f"{device.platform} arrays")
        return kind, (0 if kind == _DLPACK_DEVICE_TYPES["cpu"] else device.local_hardware_id)

    def item(self, *args: Any) -> Any:
        return self._value().item(*args)

    def tolist(self) -> Any:
        return self._value().tolist()

    def __reduce__(self) -> Any:
        return (_array_from_pickle, (np.array(self._value()), self.weak_type))

    # -- Python protocols on concrete values -------------------------------------------

    def __bool__(self) -> bool:
        return bool(self._value())

    def __int__(self) -> int:
        return int(self._value())

    def __float__(self) -> float:
        return float(self._value())

    def __complex__(self) -> complex:
        return complex(self._value())

    def __index__(self) -> int:
        if not dtypes.is_integer(self.dtype) and not dtypes.is_bool(self.dtype):
            raise TypeError(f"only integer arrays can be used as an index, got {self.aval.str_short()}")
        return int(self._value())

    def __len__(self) -> int:
        if not self.shape:
            raise TypeError("len() of unsized object (a 0-d array)")
        return self.shape[0]

    def __iter__(self) -> Iterator["Array"]:
        if not self.shape:
            raise TypeError("iteration over a 0-d array")
        return (self[i] for i in range(self.shape[0]))  # type: ignore[index]

    def __hash__(self) -> int:
        raise TypeError(f"unhashable type: lamina.Array {self.aval.str_short()}; "
                        "use a tuple or x.item() as a dict key")

    def __format__(self, spec: str) -> str:
        if self.ndim == 0:
            return format(self._value()[()], spec)
        return format(str(self), spec)

    def __repr__(self) -> str:
        if self.is_deleted():
            return f"Array(<deleted>, {self.aval.str_short()})"
        extra = f", dtype={self.dtype.name}" + (", weak_type=True" if self.weak_type else "")
        if self.size == 0:  # numpy prints `[]` for every empty shape, so name it (as jax)
            extra = f", shape={self.shape}{extra}"
        body = np.array2string(self._value(), separator=", ", prefix="Array(",
                               suffix=extra + ")")
        return f"Array({body}{extra})"

    def __str__(self) -> str:
        return str(self._value())


class ShardedArray(Array):
    """An Array whose data is split over several devices: a `pmap` output
    (`PmapSharding`), or laid out by a `NamedSharding` (`device_put`, a sharded `jit`).

    `_buf` is one multi-device buffer (one shard per device, in the sharding's device
    order); `_device` is None, so single-device programs never take it as is: eager ops
    and `jit` see it through `to_array`, which gathers it onto the default device once
    (`_gathered`). `pmap` passes it through without copying when it is already split
    the way the program needs.
    """

    __slots__ = ("_sharding", "_shard_arrays", "_gathered")

    _sharding: Any
    _shard_arrays: list[Array] | None
    _gathered: Array | None

    @classmethod
    def _from_sharded(cls, buf: Any, aval: AbstractArray, sharding: Any) -> "ShardedArray":
        self = object.__new__(cls)
        self._buf = buf
        self.aval = aval
        self._device = None  # type: ignore[assignment]
        self._npy = None
        self._sharding = sharding
        self._shard_arrays = None
        self._gathered = None
        return self

    @property
    def device(self) -> Device:
        raise ValueError(f"Array {self.aval.str_short()} is split over "
                         f"{len(self._sharding.device_set)} devices, so it has no single "
                         "device; use x.devices() or x.sharding")

    def devices(self) -> set[Device]:
        return set(self._sharding.device_set)

    @property
    def sharding(self) -> Any:
        return self._sharding

    def _shards(self) -> list[Array]:
        """Each device's piece as a single-device Array (no copies)."""
        shards = self._shard_arrays
        if shards is None:
            self._check_alive()
            # NOTE: after lamina.distributed.initialize, the buffer holds only this
            # process's shards (JAXLIB_FACTS §5), in device-assignment order.
            devices = [d for d in self._sharding._device_assignment if is_local(d)]
            shape = self._sharding.shard_shape(self.aval.shape)
            aval = self.aval.update(shape=shape)
            shards = [Array._from_buffer(b, aval, d)
                      for b, d in zip(_jaxlib.shard_buffers(self._buf), devices)]
            self._shard_arrays = shards
        return shards

    @property
    def addressable_shards(self) -> list[Any]:
        from lamina.sharding import Shard
        indices = self._sharding.devices_indices_map(self.aval.shape)
        replica_ids = getattr(self._sharding, "_replica_ids", None)
        ids = replica_ids(self.aval.shape) if replica_ids else [0] * len(indices)
        return [Shard(a._device, indices[a._device], a, r)
                for a, r in zip(self._shards(), ids)]

    @property
    def is_fully_addressable(self) -> bool:
        return self._sharding.is_fully_addressable

    def _value(self) -> np.ndarray:
        npy = self._npy
        if npy is None:
            if not self._sharding.is_fully_addressable:
                raise RuntimeError(
                    f"cannot read Array {self.aval.str_short()} on the host: it spans "
                    "devices of other processes (multi-process run); read this process's "
                    "part with x.addressable_shards, or gather it inside a pmap/jit")
            indices = self._sharding.devices_indices_map(self.aval.shape)
            npy = np.empty(self.aval.shape, self.aval.dtype)
            for shard in self._shards():
                npy[indices[shard._device]] = shard._value()
            npy.setflags(write=False)
            self._npy = npy
        return npy

    def _to_single_device(self) -> Array:
        """The same values on the default device (for single-device programs)."""
        gathered = self._gathered
        if gathered is None or gathered.is_deleted():
            gathered = device_put_host(self._value(), dtype=self.dtype,
                                       weak_type=self.weak_type)
            self._gathered = gathered
        return gathered

    # NOTE: DLPack describes one device's memory: a sharded array is exported gathered.
    def __dlpack__(self, *, stream: Any = None, max_version: Any = None,
                   dl_device: Any = None, copy: bool | None = None) -> Any:
        return self._to_single_device().__dlpack__(stream=stream, dl_device=dl_device)

    def __dlpack_device__(self) -> tuple[int, int]:
        return self._to_single_device().__dlpack_device__()

    def delete(self) -> None:
        super().delete()
        self._shard_arrays = None
        self._gathered = None


_object_new = object.__new__


# Arrays placed on a device explicitly (`device_put(x, device)`), as jax's "committed"
# arrays. An operation on arrays from several devices moves the uncommitted ones (made
# on the default device: constants, `lnp.ones(3)`, ...) to the committed ones' device.
# NOTE: id -> weak reference rather than an Array slot keeps the dispatch paths free of
# it (it is read only when an operation's arguments disagree about their device), and
# rather than a WeakSet because Arrays are unhashable, as in jax.
_committed: dict[int, "weakref.ref[Array]"] = {}


def commit(x: Array) -> Array:
    """Mark `x` as placed on its device on purpose (see `is_committed`)."""
    key = id(x)
    _committed[key] = weakref.ref(x, lambda _, key=key: _committed.pop(key, None))
    return x


def is_committed(x: Array) -> bool:
    """Whether `x` must stay where it is: put there explicitly, or on a non-default
    device (which only explicit placement or computations on such arrays produce)."""
    ref = _committed.get(id(x))
    return (ref is not None and ref() is x) or x._device != default_device()


def new_array(buf: Any, aval: AbstractArray, device: Device) -> Array:
    """`Array._from_buffer` as a plain function (the dispatch paths call it per output)."""
    self = _object_new(Array)
    self._buf = buf
    self.aval = aval
    self._device = device
    self._npy = None
    return self


def _array_from_pickle(value: np.ndarray, weak_type: bool) -> Array:
    return device_put_host(value, weak_type=weak_type)


def device_put_host(value: Any, device: Device | None = None, *, dtype: Any = None,
                    weak_type: bool = False) -> Array:
    """Copy a host value (numpy array, numpy or Python scalar) to a device Array.

    The dtype is canonicalised (64-bit becomes 32-bit unless x64 is enabled).
    """
    device = device or default_device()
    if dtype is None:
        dtype = dtypes.dtype_of(value)
    dtype = dtypes.canonicalize_dtype(dtype)
    host = np.asarray(value)
    if host.dtype != dtype:
        host = host.astype(dtype)
    aval = AbstractArray(host.shape, dtype, weak_type)
    buf = _jaxlib.device_put(host, aval, device)
    array = Array._from_buffer(buf, aval, device)
    if host.ndim == 0:
        # NOTE: a 0-d Array keeps its host value, so a trace that captures it (say
        # `lnp.array(1, dtype)` inside a jitted optimizer step) writes it inline as a
        # constant instead of passing it as one more input at every call, as jax does.
        host = host.copy()
        host.setflags(write=False)
        array._npy = host
    return array


def _python_scalar_as(value: Any, dtype: Any) -> np.ndarray:
    """`value` as a 0-d numpy array of `dtype`; a Python int into a narrower integer
    dtype wraps modulo 2**bits (jax's rule for `uint8_array + -1` or `+ 300`), but
    must fit the default integer dtype (int32, or int64 with x64) as in jax."""
    dtype = np.dtype(dtype)
    if type(value) is int and dtype.kind in "iu":
        from lamina import dtypes
        wide = dtypes.default_int_dtype()
        info = np.iinfo(wide)
        if not info.min <= value <= info.max:
            raise OverflowError(
                f"Python int {value} is too large for {wide.name}, the default integer "
                f"dtype it converts through (to {dtype.name}); use a numpy scalar of the "
                f"wanted dtype, or enable 64-bit types (LAMINA_ENABLE_X64=1) for int64")
        return np.asarray(value, wide).astype(dtype)
    return np.asarray(value, dtype)


_SCALAR_CACHE_SIZE = 4096
_scalar_cache: dict[tuple[Any, ...], Array] = {}


def scalar_to_device(value: Any, dtype: Any, weak_type: bool,
                     device: Device | None = None) -> Array:
    """A 0-d Array holding `value` on `device` (default: the default device), cached:
    eager code like `x * 2.0` reuses the constant instead of paying a host-to-device
    transfer per call.

    Keyed by the value's bytes, so 0.0 and -0.0 (equal as Python keys) stay distinct.
    Arrays are immutable, so sharing one is safe; the cache is cleared when full.
    """
    host = _python_scalar_as(value, dtype)
    device = device or default_device()
    key = (host.dtype, weak_type, host.tobytes(), device)
    cached = _scalar_cache.get(key)
    if cached is not None and not cached.is_deleted():
        return cached
    if len(_scalar_cache) >= _SCALAR_CACHE_SIZE:
        _scalar_cache.clear()
    array = device_put_host(host, device, weak_type=weak_type)
    # Tracing inlines such constants as IR literals; keeping the host value saves a read.
    host.setflags(write=False)
    array._npy = host
    _scalar_cache[key] = array
    return array


def _bitcast_to_uint16(x: Array) -> Array:
    # DLPack has no bfloat16 that numpy accepts; bitcast on the device and reinterpret.
    from lamina.backend.compile import Executable, compile_module
    from lamina.interpreters.lowering import tensor_type
    out = AbstractArray(x.shape, np.uint16)
    text = "\n".join([
        "module @bf16_to_u16 {",
        f"  func.func public @main(%x: {tensor_type(x.aval)}) -> ({tensor_type(out)}) {{",
        f'    %0 = "stablehlo.bitcast_convert"(%x) : ({tensor_type(x.aval)}) -> ({tensor_type(out)})',
        f'    "func.return"(%0) : ({tensor_type(out)}) -> ()',
        "  }", "}"])
    exe = Executable(compile_module(text, x.device), [x.aval], [out], x.device)
    return exe([x])[0]
