"""Device mesh ('data', 'model') and t5x-style logical axis rules.

Parameters carry logical axis names (``embed``, ``mlp``, ``heads``, ``kv``, ``joined_kv``, ``vocab``,
``relpos_buckets``, ``layers``); activations use ``batch``/``length``. Rules map logical names onto mesh
axes. A logical dimension that does not divide evenly by its mesh axis is replicated (with a log line),
so odd vocabulary sizes never break a run.

The same code computes shardings on real devices (``Partitioner``) and on a device-less description of
a pod (``MeshShape``), which the dry run uses to print per-device memory for a TPU v3-256.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from typing import Any, Iterable, Mapping, Sequence

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from snitk.errors import ConfigError

log = logging.getLogger(__name__)

AXES = ("data", "model")
LogicalRules = tuple[tuple[str, str | None], ...]


def standard_logical_axis_rules(fsdp: bool = False) -> LogicalRules:
    """The t5x rules: batch->data; vocab, mlp, heads, joined_kv->model; embed->data when ``fsdp``."""
    return (
        ("batch", "data"),
        ("vocab", "model"),
        ("mlp", "model"),
        ("heads", "model"),
        ("joined_kv", "model"),
        ("kv", None),
        ("embed", "data" if fsdp else None),
        ("relpos_buckets", None),
        ("layers", None),
        ("length", None),
    )


def logical_to_mesh_spec(
    logical: PartitionSpec | Sequence[str | None] | None,
    rules: Iterable[tuple[str, str | None]],
    *,
    shape: Sequence[int] | None = None,
    axis_sizes: Mapping[str, int] | None = None,
) -> PartitionSpec:
    """Map a PartitionSpec of logical names to mesh axes.

    Each mesh axis is used at most once (first dimension wins, as in t5x). With ``shape`` and
    ``axis_sizes`` a dimension not divisible by the mesh axis size is replicated instead.
    """
    if logical is None:
        return PartitionSpec()
    rule_map: dict[str, str | None] = {}
    for name, axis in rules:
        rule_map.setdefault(name, axis)
    used: set[str] = set()
    out: list[str | None] = []
    for i, name in enumerate(tuple(logical)):
        axis = None
        if name is not None:
            if isinstance(name, tuple):
                raise ConfigError(f"nested logical axes {name!r} are not supported")
            if name not in rule_map:
                raise ConfigError(f"logical axis {name!r} has no partitioning rule; known: {sorted(rule_map)}")
            axis = rule_map[name]
        if axis is not None and axis in used:
            axis = None
        if axis is not None and shape is not None and axis_sizes is not None:
            size = axis_sizes.get(axis, 1)
            if size > 1 and shape[i] % size:
                log.info("dimension %d (%s, size %d) is not divisible by mesh axis %s=%d: replicated",
                         i, name, shape[i], axis, size)
                axis = None
        if axis is not None and axis_sizes is not None and axis_sizes.get(axis, 1) == 1:
            axis = None
        if axis is not None:
            used.add(axis)
        out.append(axis)
    while out and out[-1] is None:
        out.pop()
    return PartitionSpec(*out)


def mesh_shape_for(num_devices: int, num_partitions: int = 1, mesh_shape: Sequence[int] | None = None) -> tuple[int, int]:
    """The (data, model) mesh shape: explicit ``mesh_shape`` or ``(num_devices // num_partitions, num_partitions)``."""
    if mesh_shape is not None:
        shape = tuple(int(x) for x in mesh_shape)
        if len(shape) != 2 or math.prod(shape) != num_devices:
            raise ConfigError(f"mesh_shape {shape} must be (data, model) with data*model == {num_devices} devices")
        return shape  # type: ignore[return-value]
    if num_partitions < 1 or num_devices % num_partitions:
        raise ConfigError(f"num_partitions={num_partitions} must divide the number of devices ({num_devices})")
    return (num_devices // num_partitions, num_partitions)


def create_mesh(num_partitions: int = 1, mesh_shape: Sequence[int] | None = None,
                devices: Sequence[Any] | None = None) -> Mesh:
    """A ('data', 'model') Mesh over ``devices`` (default all), ordered by (process, id).

    Ordering by process keeps every host's devices contiguous along 'data' so per-host input slices are
    contiguous rows of the global batch. Model-parallel groups stay within a host when possible.
    """
    devs = list(devices) if devices is not None else list(jax.devices())
    devs.sort(key=lambda d: (d.process_index, d.id))
    shape = mesh_shape_for(len(devs), num_partitions, mesh_shape)
    return Mesh(np.array(devs, dtype=object).reshape(shape), AXES)


@dataclasses.dataclass(frozen=True)
class MeshShape:
    """A device-less mesh description (for dry runs of pod configurations)."""

    data: int
    model: int

    @property
    def axis_sizes(self) -> dict[str, int]:
        return {"data": self.data, "model": self.model}

    @property
    def size(self) -> int:
        return self.data * self.model


def _is_spec(x: Any) -> bool:
    return isinstance(x, PartitionSpec)


def params_mesh_specs(abstract_params: Any, logical_axes: Any, rules: LogicalRules,
                      axis_sizes: Mapping[str, int]) -> Any:
    """Tree of mesh PartitionSpecs for parameters (structure of ``abstract_params``)."""
    return jax.tree.map(
        lambda a, la: logical_to_mesh_spec(la, rules, shape=a.shape, axis_sizes=axis_sizes),
        abstract_params, logical_axes, is_leaf=lambda x: _is_spec(x) or x is None)


def _leaf_spec_like(leaf_shape: tuple[int, ...], pshape: tuple[int, ...], pspec: PartitionSpec) -> PartitionSpec:
    """Spec for an optimizer-state leaf derived from its parameter (same shape, or one dim removed)."""
    full = tuple(pspec) + (None,) * (len(pshape) - len(tuple(pspec)))
    if tuple(leaf_shape) == tuple(pshape):
        return pspec
    if len(leaf_shape) == len(pshape) - 1:
        # factored second moments: one dimension was removed; prefer the smallest spec loss.
        for i in reversed(range(len(pshape))):
            if tuple(np.delete(np.array(pshape), i)) == tuple(leaf_shape):
                rest = full[:i] + full[i + 1:]
                return PartitionSpec(*rest)
    return PartitionSpec()


def opt_state_mesh_specs(abstract_opt_state: Any, abstract_params: Any, param_specs: Any) -> Any:
    """Mesh PartitionSpecs for an optax state: subtrees shaped like the params follow the params.

    Leaves with the parameter's shape take its spec; factored statistics (one dimension removed) keep the
    spec of the remaining dimensions; everything else (counts, scalars) is replicated.
    """
    p_leaves, p_def = jax.tree.flatten(abstract_params)
    s_leaves = jax.tree.leaves(param_specs, is_leaf=_is_spec)

    def visit(node: Any) -> Any:
        leaves, treedef = jax.tree.flatten(node)
        if treedef == p_def and leaves:
            return jax.tree.unflatten(
                treedef, [_leaf_spec_like(tuple(l.shape), tuple(p.shape), s)
                          for l, p, s in zip(leaves, p_leaves, s_leaves)])
        if hasattr(node, "shape") and hasattr(node, "dtype"):
            return PartitionSpec()
        if isinstance(node, tuple) and hasattr(node, "_fields"):
            return type(node)(*[visit(c) for c in node])
        if isinstance(node, (list, tuple)):
            return type(node)(visit(c) for c in node)
        if isinstance(node, dict):
            return type(node)((k, visit(v)) for k, v in node.items())
        return jax.tree.map(lambda _: PartitionSpec(), node)

    return visit(abstract_opt_state)


def per_device_bytes(abstract_tree: Any, specs: Any, axis_sizes: Mapping[str, int]) -> int:
    """Bytes per device of a tree of ShapeDtypeStructs sharded by ``specs``."""
    total = 0
    leaves = jax.tree.leaves(abstract_tree)
    spec_leaves = jax.tree.leaves(specs, is_leaf=_is_spec)
    for a, s in zip(leaves, spec_leaves):
        n = math.prod(a.shape) * np.dtype(a.dtype).itemsize
        for ax in tuple(s):
            if ax is not None:
                n //= axis_sizes.get(ax, 1)
        total += n
    return total


class Partitioner:
    """Mesh + rules on real devices: NamedShardings for params, optimizer state and batches."""

    def __init__(self, num_partitions: int = 1, mesh_shape: Sequence[int] | None = None, fsdp: bool = False,
                 devices: Sequence[Any] | None = None, rules: LogicalRules | None = None):
        self.mesh = create_mesh(num_partitions, mesh_shape, devices)
        self.rules = tuple(rules) if rules is not None else standard_logical_axis_rules(fsdp)
        self.fsdp = fsdp

    @property
    def axis_sizes(self) -> dict[str, int]:
        return dict(zip(self.mesh.axis_names, self.mesh.devices.shape))

    def sharding(self, spec: PartitionSpec) -> NamedSharding:
        return NamedSharding(self.mesh, spec)

    @property
    def replicated(self) -> NamedSharding:
        return NamedSharding(self.mesh, PartitionSpec())

    @property
    def data_sharding(self) -> NamedSharding:
        """Batch arrays: leading dimension over 'data'."""
        return NamedSharding(self.mesh, PartitionSpec("data"))

    def param_specs(self, abstract_params: Any, logical_axes: Any) -> Any:
        return params_mesh_specs(abstract_params, logical_axes, self.rules, self.axis_sizes)

    def to_shardings(self, specs: Any) -> Any:
        return jax.tree.map(self.sharding, specs, is_leaf=_is_spec)

    def describe(self) -> str:
        d = self.axis_sizes
        return f"Mesh(data={d['data']}, model={d['model']}) over {self.mesh.devices.size} devices"
