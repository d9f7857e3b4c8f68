"""`device_put`, `device_get`, `block_until_ready`: moving pytrees of arrays."""
from __future__ import annotations

from typing import Any

import numpy as np

from lamina import tree_util
from lamina.backend.array import Array, device_put_host
from lamina.backend.client import Device
from lamina.ir import Tracer


def _put_leaf(x: Any, device: Device | None) -> Any:
    if isinstance(x, Tracer):
        return x
    if isinstance(x, Array):
        if device is None or x.device == device:
            return x
        return device_put_host(x._value(), device, weak_type=x.weak_type)
    from lamina import dtypes
    return device_put_host(x, device, weak_type=dtypes.is_python_scalar(x))


def device_put(x: Any, device: Device | None = None) -> Any:
    """Copy every leaf of pytree `x` to `device` (default: the default device).

    >>> import lamina
    >>> lamina.device_put([1.0, 2]).__class__.__name__
    'list'
    """
    if device is not None and not isinstance(device, Device):
        raise TypeError(f"device_put: device must be a lamina device (from lamina.devices()), "
                        f"got {type(device).__name__}: {device!r}")
    return tree_util.tree_map(lambda leaf: _put_leaf(leaf, device), x)


def device_get(x: Any) -> Any:
    """Every Array leaf of pytree `x` as a numpy array (a copy on the host)."""
    return tree_util.tree_map(lambda leaf: np.array(leaf) if isinstance(leaf, Array) else leaf, x)


def block_until_ready(x: Any) -> Any:
    """Wait until every Array in pytree `x` is computed; returns `x`."""
    for leaf in tree_util.tree_leaves(x):
        if isinstance(leaf, Array):
            leaf.block_until_ready()
    return x


