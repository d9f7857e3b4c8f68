"""`device_put`, `device_get`, `block_until_ready`: moving pytrees of arrays."""
from __future__ import annotations

from typing import Any

import numpy as np

from lamina import tree_util
from lamina.backend.array import Array, commit, device_put_host
from lamina.backend.client import Device
from lamina.ir import Tracer


def _put_leaf(x: Any, device: Device | None) -> Any:
    if isinstance(x, Tracer):
        return x
    if isinstance(x, Array):
        if device is None or x.devices() == {device}:
            return x
        return device_put_host(x._value(), device, weak_type=x.weak_type)
    from lamina import dtypes
    return device_put_host(x, device, weak_type=dtypes.is_python_scalar(x))


def device_put(x: Any, device: Any = None) -> Any:
    """Copy every leaf of pytree `x` to `device` (default: the default device), or lay it
    out over several devices as a sharding (`NamedSharding(mesh, P(...))`; a bare
    `PartitionSpec` inside `with mesh:`; or a pytree prefix of shardings).

    >>> import lamina
    >>> lamina.device_put([1.0, 2]).__class__.__name__
    'list'
    >>> from lamina.sharding import NamedSharding, PartitionSpec as P
    >>> mesh = lamina.make_mesh((1,), ('x',))
    >>> lamina.device_put(lamina.numpy.zeros((2, 3)), NamedSharding(mesh, P('x'))).sharding
    NamedSharding(mesh=Mesh('x': 1), spec=PartitionSpec('x'))
    """
    from lamina.sharding import PartitionSpec, Sharding, resolve_sharding
    if device is None:
        return tree_util.tree_map(lambda leaf: _put_leaf(leaf, None), x)
    if isinstance(device, Device):
        def put_committed(leaf: Any) -> Any:
            out = _put_leaf(leaf, device)
            return commit(out) if isinstance(out, Array) else out
        return tree_util.tree_map(put_committed, x)
    if isinstance(device, (Sharding, PartitionSpec)) or isinstance(device, (tuple, list, dict)):
        from lamina._spmd import flatten_prefix, put
        leaves, treedef = tree_util.tree_flatten(x)
        flat = flatten_prefix("device_put", "device", device, x)
        return tree_util.tree_unflatten(treedef, [
            leaf if isinstance(leaf, Tracer) else put(leaf, resolve_sharding("device_put", s))
            for leaf, s in zip(leaves, flat)])
    raise TypeError(f"device_put: device must be a lamina device (from lamina.devices()) or a "
                    f"sharding, got {type(device).__name__}: {device!r}")


def device_get(x: Any) -> Any:
    """Every Array leaf of pytree `x` as a numpy array (a copy on the host)."""
    return tree_util.tree_map(lambda leaf: np.array(leaf) if isinstance(leaf, Array) else leaf, x)


def block_until_ready(x: Any) -> Any:
    """Wait until every Array in pytree `x` is computed; returns `x`."""
    for leaf in tree_util.tree_leaves(x):
        if isinstance(leaf, Array):
            leaf.block_until_ready()
    return x


