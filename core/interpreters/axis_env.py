"""The named-axis environment: which axis names collectives may use here.

`pmap(f, axis_name)` and `vmap(f, axis_name=...)` push a frame `(name, size, kind)`
while `f` runs; `lax.psum(x, 'i')` and friends look their axis up here (at trace time,
for the error message and the size) and, for `pmap` axes, when lowering (for the
replica groups). A context variable, so threads and nested transforms see their own.
"""
from __future__ import annotations

import contextlib
import contextvars
from typing import Any, Hashable, Iterator, NamedTuple


class AxisFrame(NamedTuple):
    name: Hashable
    size: int
    kind: str  # "pmap" (a device axis), "vmap" (a batch axis) or "mesh" (in shard_map)
    mesh: Any = None  # kind "mesh": the lamina.sharding.Mesh the axis belongs to


_frames: contextvars.ContextVar[tuple[AxisFrame, ...]] = contextvars.ContextVar(
    "lamina_axis_env", default=())


def frames() -> tuple[AxisFrame, ...]:
    return _frames.get()


@contextlib.contextmanager
def extend(name: Hashable, size: int, kind: str, mesh: Any = None) -> Iterator[None]:
    """Bind axis `name` (of `size`) while the block runs; `name=None` binds nothing."""
    if name is None:
        yield
        return
    token = _frames.set((*_frames.get(), AxisFrame(name, int(size), kind, mesh)))
    try:
        yield
    finally:
        _frames.reset(token)


def lookup(name: Any, api: str) -> AxisFrame:
    """The innermost frame binding `name`; a NameError naming the axes in scope if none."""
    for frame in reversed(_frames.get()):
        if frame.name == name:
            return frame
    in_scope = [f.name for f in _frames.get()]
    raise NameError(
        f"{api}: unbound axis name {name!r}. Axis names in scope: "
        f"{in_scope if in_scope else 'none'}. Collectives name an axis bound by an "
        "enclosing lamina.pmap(f, axis_name=...) or lamina.vmap(f, axis_name=...).")
