"""Global Arrays from per-device pieces, as jax's constructors of the same names.

* `make_array_from_single_device_arrays(shape, sharding, arrays)`: the pieces are
  already Arrays on their devices; their buffers become the shards of the result
  (no copies, nothing goes through the host).
* `make_array_from_callback(shape, sharding, data_callback)`: the piece of each of this
  process's devices is `data_callback(index)`, `index` being the tuple of slices (or, for
  a `PmapSharding`, the integer and slices) that selects it from the global array.

Both only deal with this process's devices (`sharding.addressable_devices`), so every
process of a multi-process run calls them with its own pieces.
"""
from __future__ import annotations

import operator
from typing import Any, Callable, Sequence

import numpy as np

from lamina import dtypes
from lamina.backend import _jaxlib
from lamina.backend.array import Array, ShardedArray, commit
from lamina.backend.client import Device, is_local, process_index
from lamina.ir import AbstractArray, Tracer
from lamina.sharding import Sharding, SingleDeviceSharding

Index = tuple[Any, ...]


def _index_shape(index: Index, shape: tuple[int, ...]) -> tuple[int, ...]:
    """The shape of `x[index]` for an `x` of `shape` (an integer index drops its dim)."""
    return tuple(len(range(*i.indices(n))) for i, n in zip(index, shape)
                 if isinstance(i, slice))


def _layout(fn: str, shape: Any, sharding: Any) -> tuple[tuple[int, ...], list[Device],
                                                           dict[Device, Index]]:
    """(global shape, this process's devices in shard order, their indices), checked."""
    if not isinstance(sharding, Sharding):
        raise TypeError(f"{fn}: sharding must be a lamina.sharding.Sharding (e.g. "
                        f"NamedSharding(mesh, P('x'))), got {type(sharding).__name__}: "
                        f"{sharding!r}")
    try:
        shape = tuple(operator.index(n) for n in shape)
    except TypeError:
        raise TypeError(f"{fn}: shape must be a sequence of ints, got "
                        f"{type(shape).__name__}: {shape!r}") from None
    try:
        indices = sharding.devices_indices_map(shape)
    except ValueError as e:
        raise ValueError(f"{fn}: shape {shape} does not fit {sharding!r}: {e}") from None
    local = [d for d in sharding._device_assignment if is_local(d)]
    if not local:
        raise ValueError(f"{fn}: none of the devices of {sharding!r} belongs to this "
                         f"process (process {process_index()}), so it holds no shard")
    return shape, local, indices


def _assemble(aval: AbstractArray, sharding: Sharding, devices: Sequence[Device],
              bufs: Sequence[Any]) -> Array:
    """One Array laid out as `sharding` from one buffer per device of `devices`."""
    if isinstance(sharding, SingleDeviceSharding):
        # Placed on purpose, as jax's result is "committed" to its device.
        return commit(Array._from_buffer(bufs[0], aval, devices[0]))
    return ShardedArray._from_sharded(_jaxlib.assemble_shards(aval, devices, bufs), aval,
                                      sharding)


def _dtype_arg(fn: str, dtype: Any, first: np.dtype | None, what: str) -> np.dtype:
    """The result's dtype: `dtype` if given (it must equal the pieces'), else `first`'s."""
    if dtype is None:
        assert first is not None
        return first
    dtype = dtypes.check_user_dtype_supported(dtype, fn)
    if first is not None and first != dtype:
        raise ValueError(f"{fn}: dtype={dtype.name} was given, but {what} have dtype "
                         f"{first.name}; the pieces are not converted, so pass "
                         f"dtype={first.name} (or None), or convert the pieces first "
                         f"(x.astype({dtype.name}))")
    return dtype


def _single_device_piece(x: Array) -> Array | None:
    """`x` as an Array on one device (a ShardedArray over one device gives its shard)."""
    if type(x) is not ShardedArray:
        return x
    shards = x._shards()
    return shards[0] if len(shards) == 1 and len(x.devices()) == 1 else None


def make_array_from_single_device_arrays(shape: Sequence[int], sharding: Sharding,
                                         arrays: Sequence[Array], *,
                                         dtype: Any = None) -> Array:
    """A global Array of `shape` laid out as `sharding`, made of `arrays`: one
    single-device Array per device of this process in `sharding`, each holding that
    device's shard (`x[index]` for its index in `sharding.devices_indices_map(shape)`),
    as `jax.make_array_from_single_device_arrays`.

    The arrays may come in any order (each goes to the shard of the device it is on);
    their device buffers become the result's shards without copies, so the result
    shares memory with them (deleting or donating one affects the other).

    Args:
        shape: the global shape (checked against the pieces' shapes).
        sharding: a `NamedSharding`, `PmapSharding` or `SingleDeviceSharding`.
        arrays: a list or tuple of single-device Arrays, typically made with
            `lamina.device_put(piece, device)`.
        dtype: the result's dtype (default: the pieces'); it must equal theirs.

    >>> import lamina, numpy as np
    >>> from lamina.sharding import NamedSharding, PartitionSpec as P
    >>> mesh = lamina.make_mesh((lamina.device_count(),), ('x',))
    >>> s = NamedSharding(mesh, P('x'))
    >>> data = np.arange(8.0).reshape(lamina.device_count(), -1)
    >>> pieces = [lamina.device_put(data[index], d)
    ...           for d, index in s.devices_indices_map(data.shape).items()]
    >>> x = lamina.make_array_from_single_device_arrays(data.shape, s, pieces)
    >>> x.sharding == s, np.asarray(x).sum()
    (True, np.float32(28.0))
    """
    fn = "lamina.make_array_from_single_device_arrays"
    if not isinstance(arrays, (list, tuple)):
        raise TypeError(f"{fn}: arrays must be a list or tuple of single-device Arrays, "
                        f"got {type(arrays).__name__}")
    shape, local, indices = _layout(fn, shape, sharding)
    if len(arrays) != len(local):
        raise ValueError(
            f"{fn}: expected {len(local)} arrays, one per device of {sharding!r} in this "
            f"process (device ids {[d.id for d in local]}), but got {len(arrays)}")
    by_device: dict[Device, Array] = {}
    for k, x in enumerate(arrays):
        if isinstance(x, Tracer):
            raise TypeError(f"{fn}: arrays[{k}] is a traced value {x.aval.str_short()}; "
                            "this function needs concrete Arrays, so call it outside "
                            "jit/vmap/grad")
        if not isinstance(x, Array):
            desc = (f"{type(x).__name__} of shape {np.shape(x)}" if hasattr(x, "shape")
                    else type(x).__name__)
            raise TypeError(f"{fn}: arrays[{k}] must be a lamina Array on one device, got "
                            f"a {desc}; put it there first with lamina.device_put(x, device)")
        piece = _single_device_piece(x)
        if piece is None:
            raise ValueError(f"{fn}: arrays[{k}] ({x.aval.str_short()}) is split over "
                             f"devices {sorted(d.id for d in x.devices())}; pass one "
                             "single-device Array per device (e.g. its "
                             "x.addressable_shards[i].data)")
        piece._check_alive()
        device = piece._device
        if device not in indices:
            raise ValueError(
                f"{fn}: arrays[{k}] ({piece.aval.str_short()}) is on {device!r}, which is not "
                f"a device of {sharding!r} (device ids {[d.id for d in local]}); "
                f"move it with lamina.device_put(x, device)")
        if device in by_device:
            raise ValueError(
                f"{fn}: arrays[{k}] is on {device!r}, like an earlier array; the arrays must "
                f"be on distinct devices, one per device of {sharding!r} (device ids "
                f"{[d.id for d in local]})")
        by_device[device] = piece
    dtype = _dtype_arg(fn, dtype, arrays[0].dtype, "the arrays")
    bufs = []
    for device in local:
        piece = by_device[device]
        want = _index_shape(indices[device], shape)
        if piece.shape != want or piece.dtype != dtype:
            raise ValueError(
                f"{fn}: the array on {device!r} is {piece.aval.str_short()}, but the shard of "
                f"an array of shape {shape} that device holds under {sharding!r} is "
                f"{AbstractArray(want, dtype).str_short()} (index {indices[device]}); pass "
                f"x[index] for each device's index in sharding.devices_indices_map(shape)")
        bufs.append(piece._buf)
    return _assemble(AbstractArray(shape, dtype), sharding, local, bufs)


def _callback_value(fn: str, value: Any, index: Index) -> Any:
    """What the callback returned for `index`, as an Array or a canonical numpy array."""
    if isinstance(value, Tracer):
        raise TypeError(f"{fn}: data_callback returned a traced value "
                        f"{value.aval.str_short()} for index {index}; it must return "
                        "concrete data (a numpy array or Array), so call this outside "
                        "jit/vmap/grad")
    if isinstance(value, Array):
        return value
    try:
        dtype = dtypes.dtype_of(value)
    except TypeError:
        value = np.asarray(value)
        try:
            dtype = dtypes.dtype_of(value)
        except TypeError:
            raise TypeError(f"{fn}: data_callback returned a {type(value).__name__} of "
                            f"dtype {value.dtype} for index {index}; return a numpy array "
                            "of a supported dtype") from None
    host = np.asarray(value)
    return host if host.dtype == dtype else host.astype(dtype)


def make_array_from_callback(shape: Sequence[int], sharding: Sharding,
                             data_callback: Callable[[Index], Any],
                             dtype: Any = None) -> Array:
    """A global Array of `shape` laid out as `sharding`, whose shard on each device of
    this process is `data_callback(index)`, as `jax.make_array_from_callback`.

    `index` is that device's entry of `sharding.devices_indices_map(shape)`: a tuple
    of slices (an integer for a `PmapSharding`'s leading axis), so `global_data[index]`
    is the right answer. As in jax, a fully replicated sharding calls it once (with the
    whole-array index) and gives every device that piece; otherwise it is called once per
    device, replicas included. It returns numpy arrays (or anything `np.asarray` takes,
    64-bit dtypes becoming 32-bit unless x64 is on) or lamina Arrays (an Array already
    on the device is used without a copy).

    Args:
        shape: the global shape.
        sharding: a `NamedSharding`, `PmapSharding` or `SingleDeviceSharding`.
        data_callback: `index -> data` of shape `sharding.shard_shape(shape)`.
        dtype: the result's dtype (default: the data's); it must equal the data's.

    >>> import lamina, numpy as np
    >>> from lamina.sharding import NamedSharding, PartitionSpec as P
    >>> mesh = lamina.make_mesh((lamina.device_count(),), ('x',))
    >>> data = np.arange(8 * lamina.device_count()).reshape(-1, 4)
    >>> x = lamina.make_array_from_callback(data.shape, NamedSharding(mesh, P('x')),
    ...                                     lambda index: data[index])
    >>> x.dtype, bool((np.asarray(x) == data).all())
    (dtype('int32'), True)
    """
    fn = "lamina.make_array_from_callback"
    if not callable(data_callback):
        raise TypeError(f"{fn}: data_callback must be a function index -> data, got "
                        f"{type(data_callback).__name__}: {data_callback!r}")
    shape, local, indices = _layout(fn, shape, sharding)

    def fetch(index: Index) -> Any:
        return _callback_value(fn, data_callback(index), index)

    if sharding.is_fully_replicated:
        # One piece for every device (jax computes it once too).
        index = indices[local[0]]
        value = fetch(index)
        values, device_index = [value] * len(local), [index] * len(local)
    else:
        device_index = [indices[d] for d in local]
        values = [fetch(i) for i in device_index]
    dtype = _dtype_arg(fn, dtype, np.dtype(values[0].dtype), "the callback's pieces")
    host_of: dict[int, np.ndarray] = {}  # one host copy per distinct piece
    bufs = []
    for device, index, value in zip(local, device_index, values):
        want = _index_shape(index, shape)
        if tuple(value.shape) != want or value.dtype != dtype:
            got = (value.aval.str_short() if isinstance(value, Array)
                   else AbstractArray(value.shape, value.dtype).str_short())
            raise ValueError(
                f"{fn}: data_callback returned {got} for index {index} (the shard of "
                f"{device!r}), but a shard of an array of shape {shape} under {sharding!r} is "
                f"{AbstractArray(want, dtype).str_short()}; return global_data[index]")
        aval = AbstractArray(want, dtype)
        if isinstance(value, Array):
            piece = _single_device_piece(value)
            if type(value) is ShardedArray and value.is_fully_replicated:
                piece = next((s for s in value._shards() if s._device == device), None)
            if piece is not None and piece._device == device:
                piece._check_alive()
                bufs.append(piece._buf)
                continue
        host = host_of.get(id(value))
        if host is None:
            host = value._value() if isinstance(value, Array) else value
            # NOTE: np.array(..., order="C") rather than ascontiguousarray, which makes
            # 0-d arrays 1-d.
            host = host_of[id(value)] = np.array(host, order="C", copy=None)
        bufs.append(_jaxlib.device_put(host, aval, device))
    return _assemble(AbstractArray(shape, dtype), sharding, local, bufs)
