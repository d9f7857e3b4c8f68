"""`lamina.sharding`: how an Array's data is laid out over devices (jax.sharding's names).

A sharding answers two questions for a global shape: which devices hold data
(`device_set`) and which part of the array each holds (`devices_indices_map`). Every
`lamina.Array` has one (`x.sharding`). The kinds:

* `SingleDeviceSharding(device)`: the whole array on one device (every eager result);
* `PmapSharding(devices)`: axis 0 split over `devices`, one index per device, as `pmap`
  outputs are (device k holds `x[k]`);
* `NamedSharding(mesh, PartitionSpec(...))`: array dimensions split over the named axes
  of a device `Mesh` (what `device_put`, `jit(in_shardings=...)` and the SPMD
  partitioner work with).

Every sharding reduces to the layout XLA's `HloSharding` describes (`TileLayout`): the
number of tiles per array dimension, plus how many devices hold each tile, with the
device of every (tile, replica) slot. That one form answers the index questions and is
what compiled programs are checked against.

>>> import lamina, lamina.numpy as lnp
>>> lamina.numpy.arange(3).sharding
SingleDeviceSharding(device=CpuDevice(id=0))
"""
from __future__ import annotations

import contextvars
import itertools
import math
from typing import Any, Hashable, Sequence

import numpy as np

from lamina.backend.client import Device

__all__ = ["Sharding", "SingleDeviceSharding", "PmapSharding", "NamedSharding", "Mesh",
           "PartitionSpec", "P", "make_mesh"]

Index = tuple[Any, ...]


class Sharding:
    """The base class: a layout of arrays over a set of devices."""

    @property
    def device_set(self) -> set[Device]:
        raise NotImplementedError

    @property
    def _device_assignment(self) -> tuple[Device, ...]:
        """The devices in shard order."""
        raise NotImplementedError

    def devices_indices_map(self, global_shape: Sequence[int]) -> dict[Device, Index]:
        """`{device: index}`: `x[index]` is the shard that device holds."""
        raise NotImplementedError

    def shard_shape(self, global_shape: Sequence[int]) -> tuple[int, ...]:
        raise NotImplementedError

    @property
    def is_fully_addressable(self) -> bool:
        """Whether every device is this process's (always, without lamina.distributed)."""
        from lamina.backend.client import is_local
        return all(is_local(d) for d in self._device_assignment)

    @property
    def is_fully_replicated(self) -> bool:
        raise NotImplementedError

    @property
    def addressable_devices(self) -> set[Device]:
        """The devices of this process among `device_set`."""
        from lamina.backend.client import is_local
        return {d for d in self.device_set if is_local(d)}

    @property
    def memory_kind(self) -> str:
        return "device"

    @property
    def num_devices(self) -> int:
        return len(self.device_set)

    def _layout(self, ndim: int) -> "TileLayout":
        """This sharding as tiles over `_device_assignment` for an array of rank `ndim`."""
        raise NotImplementedError

    def is_equivalent_to(self, other: "Sharding", ndim: int) -> bool:
        """Whether both place the same pieces of a rank-`ndim` array on the same devices."""
        try:
            return (tuple(self._device_assignment) == tuple(other._device_assignment)
                    and self._layout(ndim) == other._layout(ndim))
        except NotImplementedError:
            return self == other


class SingleDeviceSharding(Sharding):
    """The whole array on one device.

    >>> import lamina
    >>> s = lamina.sharding.SingleDeviceSharding(lamina.devices()[0])
    >>> s.shard_shape((4, 2))
    (4, 2)
    """

    __slots__ = ("_device",)

    def __init__(self, device: Device, *, memory_kind: str | None = None) -> None:
        if not isinstance(device, Device):
            raise TypeError(f"SingleDeviceSharding: device must be a lamina device (from "
                            f"lamina.devices()), got {type(device).__name__}: {device!r}")
        self._device = device

    @property
    def device_set(self) -> set[Device]:
        return {self._device}

    @property
    def _device_assignment(self) -> tuple[Device, ...]:
        return (self._device,)

    def devices_indices_map(self, global_shape: Sequence[int]) -> dict[Device, Index]:
        return {self._device: (slice(None),) * len(global_shape)}

    def shard_shape(self, global_shape: Sequence[int]) -> tuple[int, ...]:
        return tuple(global_shape)

    @property
    def is_fully_replicated(self) -> bool:
        return True

    def _layout(self, ndim: int) -> "TileLayout":
        return TileLayout((1,) * ndim, np.zeros(1))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SingleDeviceSharding) and other._device == self._device

    def __hash__(self) -> int:
        return hash(("single", self._device.id))

    def __repr__(self) -> str:
        return f"SingleDeviceSharding(device={self._device!r})"


class PmapSharding(Sharding):
    """Axis 0 of the array split over `devices`: device k holds `x[k]` (a `pmap` output).

    >>> import lamina
    >>> s = lamina.sharding.PmapSharding(lamina.devices()[:1])
    >>> s.shard_shape((1, 3))
    (3,)
    """

    __slots__ = ("_devices",)

    def __init__(self, devices: Sequence[Device]) -> None:
        devices = tuple(np.asarray(devices, dtype=object).reshape(-1))
        if not devices or not all(isinstance(d, Device) for d in devices):
            raise TypeError(f"PmapSharding: devices must be a non-empty sequence of lamina "
                            f"devices, got {devices!r}")
        if len({d.id for d in devices}) != len(devices):
            raise ValueError(f"PmapSharding: devices must be distinct, got {devices!r}")
        self._devices = devices

    @classmethod
    def default(cls, shape: Sequence[int], sharded_dim: int = 0,
                devices: Sequence[Device] | None = None) -> "PmapSharding":
        """The sharding pmap gives an output of global `shape`: axis 0 over the first
        `shape[0]` devices."""
        if sharded_dim != 0:
            raise NotImplementedError("PmapSharding.default: lamina shards axis 0 only")
        if devices is None:
            from lamina.backend.client import local_devices
            devices = local_devices()[:shape[0]]
        return cls(devices)

    @property
    def devices(self) -> np.ndarray:
        return np.array(self._devices, dtype=object)

    @property
    def device_set(self) -> set[Device]:
        return set(self._devices)

    @property
    def _device_assignment(self) -> tuple[Device, ...]:
        return self._devices

    def _check(self, global_shape: Sequence[int]) -> None:
        if not global_shape or global_shape[0] != len(self._devices):
            raise ValueError(f"PmapSharding over {len(self._devices)} devices needs a "
                             f"leading axis of size {len(self._devices)}, got shape "
                             f"{tuple(global_shape)}")

    def devices_indices_map(self, global_shape: Sequence[int]) -> dict[Device, Index]:
        self._check(global_shape)
        rest = (slice(None),) * (len(global_shape) - 1)
        return {d: (k, *rest) for k, d in enumerate(self._devices)}

    def shard_shape(self, global_shape: Sequence[int]) -> tuple[int, ...]:
        self._check(global_shape)
        return tuple(global_shape[1:])

    @property
    def is_fully_replicated(self) -> bool:
        return len(self._devices) == 1

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PmapSharding) and other._devices == self._devices

    def __hash__(self) -> int:
        return hash(("pmap", tuple(d.id for d in self._devices)))

    def __repr__(self) -> str:
        return f"PmapSharding(devices={list(self._devices)!r})"



# --------------------------------------------------------------------------------------
# The HloSharding-equivalent layout
# --------------------------------------------------------------------------------------


class TileLayout:
    """`tiles[d]` pieces along dimension d; `assignment[(*tile, r)]` is the position (in
    the sharding's device assignment) of replica r of that tile. XLA's HloSharding
    `{devices=[*tiles, replicas]<=[...] last_tile_dim_replicate}`."""

    __slots__ = ("tiles", "assignment", "_key")

    def __init__(self, tiles: Sequence[int], assignment: np.ndarray) -> None:
        self.tiles = tuple(int(t) for t in tiles)
        self.assignment = np.asarray(assignment, dtype=np.int64).reshape(*self.tiles, -1)
        self._key = (self.tiles, self.assignment.shape, self.assignment.tobytes())

    @property
    def replicas(self) -> int:
        return self.assignment.shape[-1]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TileLayout) and other._key == self._key

    def __hash__(self) -> int:
        return hash(self._key)

    def check_shape(self, global_shape: Sequence[int], what: str) -> None:
        if len(global_shape) != len(self.tiles):
            raise ValueError(f"{what} is for arrays of rank {len(self.tiles)}, but was applied "
                             f"to a value of rank {len(global_shape)} (shape {tuple(global_shape)})")
        for d, (n, t) in enumerate(zip(global_shape, self.tiles)):
            if n % t:
                raise ValueError(
                    f"{what} splits array dimension {d} into {t} pieces, but its size {n} "
                    f"is not divisible by {t} (shape {tuple(global_shape)}, pieces per "
                    f"dimension {list(self.tiles)}); pad the array or choose another spec")

    def shard_shape(self, global_shape: Sequence[int]) -> tuple[int, ...]:
        return tuple(n // t for n, t in zip(global_shape, self.tiles))

    def indices(self, global_shape: Sequence[int]) -> list[tuple[Index, int]]:
        """`(index, replica_id)` for each position of the device assignment."""
        out: list[Any] = [None] * self.assignment.size
        shard = self.shard_shape(global_shape)
        for tile in itertools.product(*[range(t) for t in self.tiles]):
            index = tuple(slice(None) if t == 1 else slice(i * s, (i + 1) * s)
                          for i, s, t in zip(tile, shard, self.tiles))
            for r, pos in enumerate(self.assignment[tile]):
                out[int(pos)] = (index, r)
        return out


def _replicated_layout(ndim: int, n: int) -> TileLayout:
    return TileLayout((1,) * ndim, np.arange(n))


# --------------------------------------------------------------------------------------
# Mesh, PartitionSpec, NamedSharding
# --------------------------------------------------------------------------------------

_current_mesh: contextvars.ContextVar[Any] = contextvars.ContextVar("lamina_mesh", default=None)


def get_mesh() -> "Mesh | None":
    """The mesh of the innermost `with mesh:` block, if any."""
    return _current_mesh.get()


class Mesh:
    """A grid of devices with named axes, as `jax.sharding.Mesh`.

    Args:
        devices: an array (or nested list) of distinct devices; its shape is the mesh's.
        axis_names: one name per dimension of `devices`.

    Also a context manager: inside `with mesh:`, a bare `PartitionSpec` may stand for
    `NamedSharding(mesh, spec)`.

    >>> import lamina, numpy as np
    >>> mesh = lamina.sharding.Mesh(np.array(lamina.devices()[:1]), ('x',))
    >>> mesh.shape
    {'x': 1}
    """

    __slots__ = ("devices", "axis_names", "_hash", "_tokens")

    def __init__(self, devices: Any, axis_names: str | Sequence[Hashable],
                 axis_types: Any = None) -> None:
        del axis_types  # lamina's meshes behave as jax's Auto axes
        if isinstance(axis_names, str):
            axis_names = (axis_names,)
        axis_names = tuple(axis_names)
        devs = np.asarray(devices, dtype=object)
        if devs.ndim == 0:
            devs = devs.reshape(1)
        if devs.ndim != len(axis_names):
            raise ValueError(f"Mesh: devices has {devs.ndim} dimensions (shape {devs.shape}) but "
                             f"{len(axis_names)} axis names were given ({axis_names}); give "
                             "one name per dimension")
        if len(set(axis_names)) != len(axis_names):
            raise ValueError(f"Mesh: axis names must be distinct, got {axis_names}")
        if not all(isinstance(d, Device) for d in devs.flat) or devs.size == 0:
            raise TypeError(f"Mesh: devices must be a non-empty array of lamina devices (from "
                            f"lamina.devices()), got {devices!r}")
        if len({d.id for d in devs.flat}) != devs.size:
            raise ValueError(f"Mesh: each device may appear once, got {devs.tolist()}")
        devs.flags.writeable = False
        self.devices = devs
        self.axis_names = axis_names
        self._hash = hash((axis_names, devs.shape, tuple(d.id for d in devs.flat)))
        self._tokens: list[Any] = []

    @property
    def shape(self) -> dict[Hashable, int]:
        return dict(zip(self.axis_names, self.devices.shape))

    @property
    def axis_sizes(self) -> tuple[int, ...]:
        return tuple(self.devices.shape)

    @property
    def size(self) -> int:
        return int(self.devices.size)

    @property
    def device_ids(self) -> np.ndarray:
        return np.vectorize(lambda d: d.id, otypes=[np.int64])(self.devices)

    @property
    def _flat_devices(self) -> tuple[Device, ...]:
        return tuple(self.devices.flat)

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, Mesh) and other._hash == self._hash
                and other.axis_names == self.axis_names
                and other._flat_devices == self._flat_devices
                and other.devices.shape == self.devices.shape)

    def __hash__(self) -> int:
        return self._hash

    def __enter__(self) -> "Mesh":
        self._tokens.append(_current_mesh.set(self))
        return self

    def __exit__(self, *exc: Any) -> None:
        _current_mesh.reset(self._tokens.pop())

    def __repr__(self) -> str:
        axes = ", ".join(f"{n!r}: {s}" for n, s in self.shape.items())
        return f"Mesh({axes})"


class PartitionSpec(tuple):
    """How each array dimension is split over mesh axes: an entry per leading dimension,
    `None` (not split), an axis name, or a tuple of axis names (split over their
    product). Missing trailing entries mean `None`. As `jax.sharding.PartitionSpec`.

    >>> from lamina.sharding import PartitionSpec as P
    >>> P('x', None, ('y', 'z'))
    PartitionSpec('x', None, ('y', 'z'))
    """

    def __new__(cls, *entries: Any) -> "PartitionSpec":
        canon = []
        for e in entries:
            if isinstance(e, list):
                e = tuple(e)
            if isinstance(e, tuple) and len(e) == 1:
                e = e[0]
            canon.append(None if e == () else e)
        return super().__new__(cls, canon)

    def __repr__(self) -> str:
        return f"PartitionSpec{tuple.__repr__(self)}" if len(self) != 1 else \
            f"PartitionSpec({self[0]!r})"

    def __reduce__(self) -> Any:
        return (PartitionSpec, tuple(self))

    def _axes(self, d: int) -> tuple[Hashable, ...]:
        e = self[d] if d < len(self) else None
        return () if e is None else (e if isinstance(e, tuple) else (e,))

    def _normalized(self) -> tuple[Any, ...]:
        entries = list(self)
        while entries and entries[-1] is None:
            entries.pop()
        return tuple(entries)


P = PartitionSpec


def _check_spec(api: str, mesh: Mesh, spec: PartitionSpec) -> None:
    seen: set[Any] = set()
    for d in range(len(spec)):
        for name in spec._axes(d):
            if name not in mesh.axis_names:
                raise ValueError(f"{api}: the spec {spec!r} names axis {name!r}, which is not "
                                 f"an axis of the mesh; the mesh's axes are {mesh.axis_names}")
            if name in seen:
                raise ValueError(f"{api}: the spec {spec!r} uses mesh axis {name!r} twice; "
                                 "each mesh axis may split at most one array dimension")
            seen.add(name)


def spec_layout(mesh: Mesh, spec: PartitionSpec, ndim: int, what: str) -> TileLayout:
    """The tile layout of `NamedSharding(mesh, spec)` for a rank-`ndim` array (positions
    are into `mesh.devices.flat`)."""
    if len(spec) > ndim:
        raise ValueError(f"{what} is only valid for values of rank at least {len(spec)}, but "
                         f"was applied to a value of rank {ndim}")
    index = {n: i for i, n in enumerate(mesh.axis_names)}
    order = [index[n] for d in range(ndim) for n in spec._axes(d)]
    order += [i for i in range(len(mesh.axis_names)) if i not in order]
    ids = np.arange(mesh.size).reshape(mesh.devices.shape).transpose(order)
    tiles = [math.prod(mesh.devices.shape[index[n]] for n in spec._axes(d))
             for d in range(ndim)]
    return TileLayout(tiles, ids.reshape(*tiles, -1))


class NamedSharding(Sharding):
    """Array dimensions split over named mesh axes, as `jax.sharding.NamedSharding`.

    >>> import lamina, numpy as np
    >>> from lamina.sharding import Mesh, NamedSharding, PartitionSpec as P
    >>> mesh = Mesh(np.array(lamina.devices()[:1]), ('x',))
    >>> NamedSharding(mesh, P('x')).shard_shape((4, 2))
    (4, 2)
    """

    __slots__ = ("mesh", "spec", "_layouts")

    def __init__(self, mesh: Mesh, spec: PartitionSpec = PartitionSpec(), *,
                 memory_kind: str | None = None) -> None:
        if not isinstance(mesh, Mesh):
            raise TypeError(f"NamedSharding: mesh must be a lamina.sharding.Mesh, got "
                            f"{type(mesh).__name__}: {mesh!r}")
        if spec is None:
            spec = PartitionSpec()
        if not isinstance(spec, PartitionSpec):
            if isinstance(spec, (tuple, list)):
                spec = PartitionSpec(*spec)
            else:
                raise TypeError(f"NamedSharding: spec must be a PartitionSpec, got "
                                f"{type(spec).__name__}: {spec!r}")
        _check_spec("NamedSharding", mesh, spec)
        self.mesh, self.spec = mesh, spec
        self._layouts: dict[int, TileLayout] = {}

    @property
    def device_set(self) -> set[Device]:
        return set(self.mesh.devices.flat)

    @property
    def _device_assignment(self) -> tuple[Device, ...]:
        return self.mesh._flat_devices

    def _layout(self, ndim: int) -> TileLayout:
        layout = self._layouts.get(ndim)
        if layout is None:
            layout = self._layouts[ndim] = spec_layout(self.mesh, self.spec, ndim, repr(self))
        return layout

    def devices_indices_map(self, global_shape: Sequence[int]) -> dict[Device, Index]:
        layout = self._layout(len(global_shape))
        layout.check_shape(global_shape, repr(self))
        return {d: idx for d, (idx, _) in zip(self._device_assignment,
                                              layout.indices(global_shape))}

    def _replica_ids(self, global_shape: Sequence[int]) -> list[int]:
        return [r for _, r in self._layout(len(global_shape)).indices(global_shape)]

    def shard_shape(self, global_shape: Sequence[int]) -> tuple[int, ...]:
        layout = self._layout(len(global_shape))
        layout.check_shape(global_shape, repr(self))
        return layout.shard_shape(global_shape)

    @property
    def is_fully_replicated(self) -> bool:
        return all(not self.spec._axes(d) or
                   math.prod(self.mesh.shape[n] for n in self.spec._axes(d)) == 1
                   for d in range(len(self.spec)))

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, NamedSharding) and other.mesh == self.mesh
                and other.spec._normalized() == self.spec._normalized())

    def __hash__(self) -> int:
        return hash((self.mesh, self.spec._normalized()))

    def __repr__(self) -> str:
        return f"NamedSharding(mesh={self.mesh!r}, spec={self.spec!r})"


def named_from_layout(mesh: Mesh, layout: TileLayout) -> NamedSharding | None:
    """A NamedSharding over `mesh` with exactly `layout` (positions into the mesh's flat
    devices), or None. Tries each way of giving mesh axes to dimensions, in mesh order."""
    ndim, names = len(layout.tiles), mesh.axis_names
    for choice in itertools.product(range(ndim + 1), repeat=len(names)):
        entries: list[Any] = [None] * ndim
        for name, d in zip(names, choice):
            if d < ndim:
                entries[d] = (*(entries[d] or ()), name)
        spec = PartitionSpec(*entries)
        if spec_layout(mesh, spec, ndim, "") == layout:
            return NamedSharding(mesh, spec)
    return None


def sharding_from_layout(devices: Sequence[Device], layout: TileLayout,
                         mesh: Mesh | None) -> NamedSharding:
    """`layout` over `devices` as a NamedSharding: over `mesh` when it fits, else over a
    mesh built from the layout itself (axes `_tile0`, ..., `_replica`)."""
    if mesh is not None and tuple(mesh._flat_devices) == tuple(devices):
        named = named_from_layout(mesh, layout)
        if named is not None:
            return named
    ndim = len(layout.tiles)
    grid = np.empty(layout.assignment.shape, dtype=object)
    for pos, k in np.ndenumerate(layout.assignment):
        grid[pos] = devices[int(k)]
    names = tuple(f"_tile{d}" for d in range(ndim)) + ("_replica",)
    return NamedSharding(Mesh(grid, names), PartitionSpec(*names[:ndim]))


def make_mesh(axis_shapes: Sequence[int], axis_names: Sequence[Hashable],
              axis_types: Any = None, *, devices: Sequence[Device] | None = None) -> Mesh:
    """A Mesh of the first `prod(axis_shapes)` devices (default: all of them), in order.

    >>> import lamina
    >>> lamina.make_mesh((1,), ('x',)).shape
    {'x': 1}
    """
    del axis_types
    axis_shapes, axis_names = tuple(int(s) for s in axis_shapes), tuple(axis_names)
    if len(axis_shapes) != len(axis_names):
        raise ValueError(f"make_mesh: {len(axis_shapes)} axis shapes {axis_shapes} but "
                         f"{len(axis_names)} axis names {axis_names}; give one name per axis")
    if devices is None:
        from lamina.backend.client import devices as all_devices
        devices = all_devices()
    devices = list(np.asarray(devices, dtype=object).flat)
    n = math.prod(axis_shapes)
    if n > len(devices) or n < 1:
        raise ValueError(
            f"make_mesh: the mesh {dict(zip(axis_names, axis_shapes))} needs {n} devices, but "
            f"only {len(devices)} are available (on the CPU, start with "
            f"LAMINA_NUM_CPU_DEVICES={max(n, 1)})")
    return Mesh(np.array(devices[:n], dtype=object).reshape(axis_shapes), axis_names)


def resolve_sharding(api: str, s: Any) -> Sharding:
    """`s` as a Sharding: a bare PartitionSpec means one over the current `with mesh:`."""
    if isinstance(s, Sharding):
        return s
    if isinstance(s, PartitionSpec):
        mesh = get_mesh()
        if mesh is None:
            raise ValueError(f"{api}: a bare PartitionSpec {s!r} needs a mesh: use "
                             "NamedSharding(mesh, spec), or call inside `with mesh:`")
        return NamedSharding(mesh, s)
    if isinstance(s, Device):
        return SingleDeviceSharding(s)
    raise TypeError(f"{api}: expected a Sharding (e.g. NamedSharding(mesh, P(...))), got "
                    f"{type(s).__name__}: {s!r}")


class Shard:
    """One device's piece of an Array (an entry of `x.addressable_shards`)."""

    __slots__ = ("device", "index", "data", "replica_id")

    def __init__(self, device: Device, index: Index, data: Any, replica_id: int = 0) -> None:
        self.device, self.index, self.data, self.replica_id = device, index, data, replica_id

    def __repr__(self) -> str:
        return f"Shard(device={self.device!r}, index={self.index}, replica_id={self.replica_id})"
