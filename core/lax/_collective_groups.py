"""Where a collective's data moves: the device groups of a collective over named axes
and their StableHLO attributes (`lax/collectives.py` lowers each collective with these).

Under `pmap`, devices are replicas of one replica-style module; `ReplicaLayout` says how
the replicas split into (possibly nested) pmap axes, so a collective over some of those
axes groups the replicas that differ only along them. Inside a `shard_map`, devices are
partitions of a mesh, grouped by mesh axes, and the collective gets a channel (as jax
emits). `axis_index_groups` split each group further; the checks of that argument live
here too.
"""
from __future__ import annotations

import contextlib
import contextvars
import itertools
from typing import Any, Iterator, NamedTuple, Sequence

import numpy as np

from lamina.interpreters import axis_env, lowering
from lamina.ir import AbstractArray

# --------------------------------------------------------------------------------------
# axis_index_groups
# --------------------------------------------------------------------------------------


def index_groups(api: str, axis_index_groups: Any, size: int, axis_name: Any,
                 even: bool) -> tuple[tuple[int, ...], ...] | None:
    """`axis_index_groups` canonicalised to a tuple of tuples (hashable, for params) and
    checked: the groups partition the indices `0..size-1` of the axis; `even`: all groups
    have the same size (what gathers and scatters need)."""
    if axis_index_groups is None:
        return None
    try:
        groups = tuple(tuple(int(i) for i in g) for g in axis_index_groups)
    except (TypeError, ValueError):
        raise TypeError(f"{api}: axis_index_groups must be a list of lists of axis indices, "
                        f"e.g. [[0, 1], [2, 3]], got {axis_index_groups!r}") from None
    flat = [i for g in groups for i in g]
    if not groups or sorted(flat) != list(range(len(flat))):
        # jax's own check, with its message
        raise ValueError(f"{api}: axis_index_groups must cover all indices exactly once, got "
                         f"{axis_index_groups!r}")
    if len(flat) != size:
        raise ValueError(f"{api}: axis_index_groups {axis_index_groups!r} cover {len(flat)} "
                         f"indices, but axis {axis_name!r} has size {size}; they must cover "
                         f"0..{size - 1} exactly once")
    if even and len({len(g) for g in groups}) != 1:
        raise ValueError(f"{api}: the groups of axis_index_groups must all have the same size, "
                         f"got {axis_index_groups!r}")
    return groups


def group_size(size: int, groups: tuple[tuple[int, ...], ...] | None) -> int:
    # NOTE: as jax, the size of the first group (pmean divides by it even when the
    # groups are uneven).
    return size if groups is None else len(groups[0])


def no_groups_under_vmap(api: str, groups: Any, message: str) -> None:
    if groups is not None:
        raise NotImplementedError(f"{api}: {message} (axis_index_groups={groups!r}); lamina "
                                  "follows jax here. Use pmap, or write the grouping with "
                                  "reshapes of the batch")


# --------------------------------------------------------------------------------------
# Device groups
# --------------------------------------------------------------------------------------


class ReplicaLayout(NamedTuple):
    """How the replicas of the program being lowered split into pmap axes.

    `total` replicas; replica r's index along pmap axis `name` is `(r // stride) % size`
    for `(name, size, stride)` in `axes` (outermost first); `remaining` replicas share each
    index of the innermost axis so far (a pmap nested inside gets `remaining / its size`
    as its stride). One pmap of N devices is `ReplicaLayout(N, 1, (('i', N, 1),))`; a jit
    whose body calls pmap starts from `ReplicaLayout(R, R, ())`.
    """

    total: int
    remaining: int
    axes: tuple[tuple[Any, int, int], ...]

    def nest(self, name: Any, size: int, op: str) -> "ReplicaLayout":
        if self.remaining % size:
            raise NotImplementedError(
                f"{op}: a pmap of size {size} cannot run inside a program over "
                f"{self.total} replicas whose enclosing axes leave {self.remaining} per "
                "index; nested or sibling pmaps inside one jit/pmap must have sizes that "
                "divide each other")
        stride = self.remaining // size
        return ReplicaLayout(self.total, stride, (*self.axes, (name, size, stride)))


_replica_layout: contextvars.ContextVar[ReplicaLayout | None] = contextvars.ContextVar(
    "lamina_replica_layout", default=None)


@contextlib.contextmanager
def replica_layout(layout: ReplicaLayout) -> Iterator[ReplicaLayout]:
    """Lower the program of a replica-style module with this layout in scope."""
    token = _replica_layout.set(layout)
    try:
        yield layout
    finally:
        _replica_layout.reset(token)


def current_replica_layout() -> ReplicaLayout | None:
    return _replica_layout.get()


def replica_axes(names: Sequence[Any], op: str) -> tuple[int, list[tuple[int, int]]]:
    """(total replicas, (size, stride) per name) for a collective over pmap axes."""
    frames = [axis_env.lookup(n, op) for n in names]
    if not all(f.kind == "pmap" for f in frames):
        raise NotImplementedError(
            f"{op} over axes {tuple(names)!r} cannot be lowered: lamina lowers collectives "
            "over pmap axes or over the mesh axes of a shard_map, not a mix of both (an "
            "axis of a vmap inside jit is batched away first)")
    layout = _replica_layout.get()
    if layout is None:  # lowered outside a pmap's module: one axis over every replica
        if len(frames) != 1:
            raise NotImplementedError(f"{op} over axes {tuple(names)!r} outside a pmap")
        return frames[0].size, [(frames[0].size, 1)]
    found = {name: (size, stride) for name, size, stride in layout.axes}
    missing = [n for n in names if n not in found]
    if missing:
        raise NotImplementedError(f"{op}: axis {missing[0]!r} is not a pmap axis of the "
                                  "program being lowered (a lamina bug if seen)")
    return layout.total, [found[n] for n in names]


def _replica_groups_of(names: Sequence[Any], op: str) -> np.ndarray:
    """Replica ids grouped by the pmap axes `names`: row g lists the replicas that differ
    only along `names`, ordered by their (row-major, in `names` order) index along them."""
    total, axes = replica_axes(names, op)
    r = np.arange(total)
    index = np.zeros(total, np.int64)
    base = r.copy()
    for size, stride in axes:
        digit = (r // stride) % size
        index = index * size + digit
        base -= digit * stride
    rows = [r[base == b][np.argsort(index[base == b], kind="stable")]
            for b in np.unique(base)]
    return np.stack(rows)


def _partition_groups(mesh: Any, names: Sequence[Any]) -> np.ndarray:
    """Partition ids grouped by the mesh axes `names`: row g lists the devices that differ
    only along `names`, ordered by their (row-major) index along those axes."""
    order = [mesh.axis_names.index(n) for n in names]
    rest = [i for i in range(len(mesh.axis_names)) if i not in order]
    ids = np.arange(mesh.size).reshape(mesh.devices.shape).transpose(rest + order)
    return ids.reshape(-1, int(np.prod([mesh.devices.shape[i] for i in order], dtype=int)))


def mesh_of(names: Sequence[Any], op: str) -> Any:
    """The mesh when every axis in `names` is a mesh axis of the enclosing shard_map."""
    frames = [axis_env.lookup(n, op) for n in names]
    if frames and all(f.kind == "mesh" for f in frames):
        return frames[0].mesh
    return None


def device_groups(names: Sequence[Any], op: str,
                  groups: tuple[tuple[int, ...], ...] | None = None
                  ) -> tuple[list[list[int]], Any]:
    """(the device groups of a collective over `names`, the mesh or None): replica ids
    under pmap, partition ids inside a shard_map; `groups` (axis_index_groups) split
    each group further, as jax: `[[row[i] for i in g] for row in rows for g in groups]`."""
    mesh = mesh_of(names, op)
    rows = _replica_groups_of(names, op) if mesh is None else _partition_groups(mesh, names)
    if groups is None:
        return rows.tolist(), mesh
    return [[int(row[i]) for i in g] for row in rows for g in groups], mesh


_channel_ids = itertools.count(1)


def groups_attr(members: list[list[int]]) -> str:
    # NOTE: uneven groups (psum with axis_index_groups of different sizes) are padded
    # with -1, as jax emits them.
    width = max(len(g) for g in members)
    return lowering.dense_i64([g + [-1] * (width - len(g)) for g in members])


def collective_attrs(names: Sequence[Any], op: str, global_ids: bool = True,
                     groups: tuple[tuple[int, ...], ...] | None = None
                     ) -> tuple[int, dict[str, str]]:
    """(group size, the replica-group attributes) of a collective over `names`: replicas
    of a pmap, or partitions (with a channel, as jax emits) inside a shard_map."""
    members, mesh = device_groups(names, op, groups)
    attrs = {"replica_groups": groups_attr(members)}
    if mesh is not None:
        attrs["channel_handle"] = (f"#stablehlo.channel_handle<handle = {next(_channel_ids)}, "
                                   "type = 1>")
        if global_ids:
            attrs["use_global_device_ids"] = "unit"
    return len(members[0]), attrs


def reducer_region(ctx: lowering.RuleContext, dtype: np.dtype, op: str) -> str:
    scalar = AbstractArray((), dtype)
    return ctx.region([scalar, scalar], lambda args: [ctx.op(op, args, scalar)])
