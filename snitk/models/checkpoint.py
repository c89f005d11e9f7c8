"""The one snitk checkpoint format: an orbax Composite checkpoint.

A checkpoint directory holds the items

* ``params``       -- ``StandardSave`` of the plain nested-dict parameter tree (t5x names),
* ``model_config`` -- ``JsonSave`` of ``T5Config.to_dict()``,

and training checkpoints (``MODEL_DIR/checkpoint_<step>/``, written by an orbax ``CheckpointManager``
with ``step_prefix="checkpoint"``) add ``opt_state`` and ``train_state``.  Everything here reads
only ``params`` and ``model_config``, so converted and trained checkpoints load the same way.

Large conversions stream: a parameter tree may hold :class:`LazyArray` leaves (shape, dtype and a
loader).  They are written one at a time, so saving never holds more than one tensor in memory.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from typing import Any, Callable, Mapping, Sequence

import jax
import numpy as np
import orbax.checkpoint as ocp
from orbax.checkpoint import type_handlers as ocp_type_handlers

from snitk.errors import CheckpointError
from etils import epath

from snitk.models import checkpoint_health as health
from snitk.paths import kvstore_spec, resolve

log = logging.getLogger(__name__)

PARAMS_ITEM = "params"
CONFIG_ITEM = "model_config"
STEP_PREFIX = "checkpoint"
_STEP_RE = re.compile(rf"^{STEP_PREFIX}_(\d+)$")


# --------------------------------------------------------------------------------------------------
# Streaming leaves
# --------------------------------------------------------------------------------------------------
class LazyArray:
    """A parameter that is read (and converted) only when it is written to disk.

    ``loader()`` must return a numpy array of exactly ``shape`` and ``dtype``.
    """

    def __init__(self, shape: Sequence[int], dtype: Any, loader: Callable[[], np.ndarray]):
        self.shape = tuple(int(s) for s in shape)
        self.dtype = np.dtype(dtype)
        self._loader = loader

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def nbytes(self) -> int:
        return self.size * self.dtype.itemsize

    def load(self) -> np.ndarray:
        value = np.ascontiguousarray(self._loader())
        if value.shape != self.shape or value.dtype != self.dtype:
            raise CheckpointError(
                f"lazy tensor loader returned {value.shape} {value.dtype}, expected {self.shape} {self.dtype}"
            )
        return value

    def __repr__(self) -> str:
        return f"LazyArray(shape={self.shape}, dtype={self.dtype})"


class _LazyArrayHandler(ocp_type_handlers.NumpyHandler):
    """Writes :class:`LazyArray` leaves sequentially; on disk they are ordinary numpy arrays."""

    def __init__(self) -> None:
        super().__init__(deepcopy_host_arrays=False)

    async def _background_serialize(self, values, infos, args=None):  # type: ignore[override]
        args = args or [ocp_type_handlers.SaveArgs()] * len(values)
        for lazy, info, arg in zip(values, infos, args):
            value = lazy.load()
            await super()._background_serialize([value], [info], [arg])
            del value


class _StreamingStandardHandler(ocp.StandardCheckpointHandler):
    """StandardCheckpointHandler that also accepts LazyArray leaves (same on-disk format and typestr)."""

    def __init__(self) -> None:
        super().__init__()
        self._supported_types = tuple(self._supported_types) + (LazyArray,)


@ocp.args.register_with_handler(_StreamingStandardHandler, for_save=True)
class _StreamingSave(ocp.args.StandardSave):
    """StandardSave whose tree may contain LazyArray leaves."""


@ocp.args.register_with_handler(_StreamingStandardHandler, for_restore=True)
class _StreamingRestore(ocp.args.StandardRestore):
    """Restore counterpart (orbax requires one per handler; snitk restores with StandardRestore)."""


_HANDLER_REGISTERED = False


def _register_lazy_handler() -> None:
    global _HANDLER_REGISTERED
    if not _HANDLER_REGISTERED:
        absl_logger = logging.getLogger("absl")
        level = absl_logger.level
        absl_logger.setLevel(logging.ERROR)  # "overriding type ... collision on np.ndarray" is intended
        try:
            ocp_type_handlers.register_type_handler(LazyArray, _LazyArrayHandler(), override=True)
        finally:
            absl_logger.setLevel(level)
        _HANDLER_REGISTERED = True


# --------------------------------------------------------------------------------------------------
# Save / resolve / load
# --------------------------------------------------------------------------------------------------
def _config_dict(config: Any) -> dict:
    if hasattr(config, "to_dict"):
        return dict(config.to_dict())
    if isinstance(config, Mapping):
        return dict(config)
    raise CheckpointError(f"model config must be a T5Config or a dict, got {type(config).__name__}")


def _config_from_dict(d: dict, where: epath.Path) -> Any:
    """T5Config.from_dict(d) (a plain dict if snitk.models.configs is unavailable)."""
    try:
        from snitk.models.configs import T5Config
    except ImportError:  # pragma: no cover - only before configs.py exists
        return d
    try:
        return T5Config.from_dict(d)
    except Exception as e:  # noqa: BLE001
        raise CheckpointError(f"{where}/{CONFIG_ITEM}: not a valid T5Config ({e})") from e


def _to_savable(params: Any) -> Any:
    def conv(x):
        if isinstance(x, (LazyArray, np.ndarray, jax.Array)):
            return x
        return np.asarray(x)

    return jax.tree_util.tree_map(conv, params)


def save_model(path: str | os.PathLike, config: Any, params: Any, *, overwrite: bool = False) -> None:
    """Write ``params`` + ``config`` as a snitk checkpoint at ``path`` (orbax writes a temp dir, then renames).

    ``params`` is the plain nested dict; leaves may be jax/numpy arrays or :class:`LazyArray`.
    """
    path = resolve(path)
    if path.exists() and not overwrite:
        raise CheckpointError(f"{path}: already exists (pass --overwrite to replace it)")
    params = _to_savable(params)
    has_lazy = any(isinstance(x, LazyArray) for x in jax.tree_util.tree_leaves(params))
    if has_lazy:
        _register_lazy_handler()
    save_cls = _StreamingSave if has_lazy else ocp.args.StandardSave
    args = ocp.args.Composite(
        **{
            PARAMS_ITEM: save_cls(params),
            CONFIG_ITEM: ocp.args.JsonSave(_config_dict(config)),
        }
    )
    with ocp.Checkpointer(ocp.CompositeCheckpointHandler()) as ckptr:
        ckptr.save(path, args=args, force=overwrite)
    log.info("saved checkpoint %s", path)


def is_checkpoint_dir(path: str | os.PathLike) -> bool:
    """True when ``path`` is a finished snitk checkpoint (every item it declares is present and intact)."""
    return health.problem(path) is None


def _looks_like_checkpoint(path: epath.Path) -> bool:
    return any((path / n).exists() for n in ("_CHECKPOINT_METADATA", PARAMS_ITEM, CONFIG_ITEM))


def resolve_checkpoint(path: str | os.PathLike, *, flag: str | None = None) -> epath.Path:
    """A checkpoint dir as is, or for a MODEL_DIR its latest complete ``checkpoint_<N>`` (absolute, or a URL).

    "Complete" is ``checkpoint_health.problem`` (the same rule training resumes by); newer incomplete
    checkpoints are skipped with a warning; a damaged checkpoint given directly is a CheckpointError.
    """
    where = f"{flag}: " if flag else ""
    path = resolve(path)
    if not path.exists():
        raise CheckpointError(f"{where}{path}: no such checkpoint or model directory")
    if path.is_dir() and _looks_like_checkpoint(path):
        return health.verify(path, flag=flag)
    if path.is_dir():
        good, skipped = health.complete_steps(path)
        if good:
            for step in sorted(s for s in skipped if s > good[0]):
                log.warning("skipping incomplete %s; using step %d", skipped[step], good[0])
            return path / f"{STEP_PREFIX}_{good[0]}"
        if skipped:
            raise CheckpointError(f"{where}{path}: no complete checkpoint; {'; '.join(skipped.values())}")
    raise CheckpointError(
        f"{where}{path}: expected a snitk checkpoint (a directory with '{PARAMS_ITEM}/', '{CONFIG_ITEM}' and "
        f"_CHECKPOINT_METADATA) or a model directory holding complete '{STEP_PREFIX}_<step>/' checkpoints"
    )


def load_config(path: str | os.PathLike) -> Any:
    """The T5Config stored in a checkpoint (or the latest checkpoint of a MODEL_DIR)."""
    ckpt = resolve_checkpoint(path)
    handler = ocp.CompositeCheckpointHandler(**{CONFIG_ITEM: ocp.JsonCheckpointHandler()})
    with health.reading(ckpt, CONFIG_ITEM), ocp.Checkpointer(handler) as ckptr:
        restored = ckptr.restore(ckpt, args=ocp.args.Composite(**{CONFIG_ITEM: ocp.args.JsonRestore()}))
    return _config_from_dict(restored[CONFIG_ITEM], ckpt)


def params_metadata(path: str | os.PathLike) -> Any:
    """Tree of (shape, dtype) ``jax.ShapeDtypeStruct`` for the stored params, read without loading data."""
    ckpt = resolve_checkpoint(path)
    with health.reading(ckpt, PARAMS_ITEM):
        meta = ocp.StandardCheckpointHandler().metadata(ckpt / PARAMS_ITEM)
    tree = getattr(meta, "tree", meta)

    def to_struct(m):
        return jax.ShapeDtypeStruct(tuple(m.shape), np.dtype(m.dtype))

    return jax.tree_util.tree_map(to_struct, tree, is_leaf=lambda x: hasattr(x, "shape") and hasattr(x, "dtype"))


def load_model(path: str | os.PathLike, *, shardings: Any = None, dtype: Any = None) -> tuple[Any, Any]:
    """Load ``(config, params)``; with ``shardings`` (a tree matching params) arrays are restored
    straight into those shardings (each host reads only its shards), else onto the default device.
    ``dtype`` casts every parameter while reading."""
    ckpt = resolve_checkpoint(path)
    config = load_config(ckpt)
    abstract = params_metadata(ckpt)
    if shardings is None:
        default = jax.sharding.SingleDeviceSharding(jax.devices()[0])
        shardings = jax.tree_util.tree_map(lambda _: default, abstract)
    try:
        target = jax.tree_util.tree_map(
            lambda a, s: jax.ShapeDtypeStruct(a.shape, np.dtype(dtype) if dtype is not None else a.dtype, sharding=s),
            abstract,
            shardings,
        )
    except ValueError as e:
        raise CheckpointError(f"{ckpt}/{PARAMS_ITEM}: the shardings tree does not match the stored params ({e})") from e
    handler = ocp.CompositeCheckpointHandler(**{PARAMS_ITEM: ocp.StandardCheckpointHandler()})
    with health.reading(ckpt, PARAMS_ITEM), ocp.Checkpointer(handler) as ckptr:
        restored = ckptr.restore(ckpt, args=ocp.args.Composite(**{PARAMS_ITEM: ocp.args.StandardRestore(target)}))
    return config, _plain_dict(restored[PARAMS_ITEM])


def _plain_dict(tree: Any) -> Any:
    if isinstance(tree, Mapping):
        return {k: _plain_dict(v) for k, v in tree.items()}
    return tree


def param_names(path: str | os.PathLike) -> list[str]:
    """Slash-joined names of the stored parameters (from the params item's _METADATA)."""
    ckpt = resolve_checkpoint(path)
    meta = json.loads((ckpt / PARAMS_ITEM / "_METADATA").read_text())
    names = []
    for entry in meta["tree_metadata"].values():
        names.append("/".join(str(k["key"]) for k in entry["key_metadata"]))
    return sorted(names)


def open_param(path: str | os.PathLike, name: str) -> Any:
    """A tensorstore handle on one stored parameter (``name`` slash-joined), for streaming reads."""
    import tensorstore as ts

    ckpt = resolve_checkpoint(path)
    item = ckpt / PARAMS_ITEM
    meta = json.loads((item / "_METADATA").read_text())
    key = name.replace("/", ".") + "/"
    base = kvstore_spec(item)
    if meta.get("use_ocdbt", True):
        kvstore = {"driver": "ocdbt", "base": base, "path": key}
    else:
        kvstore = {**base, "path": base["path"] + key}
    driver = "zarr3" if meta.get("use_zarr3") else "zarr"
    with health.reading(ckpt, f"{PARAMS_ITEM}/{name}"):
        return ts.open({"driver": driver, "kvstore": kvstore}, open=True).result()


# --------------------------------------------------------------------------------------------------
# Vocabulary identity (snitk.vocab_identity): converted checkpoints hold VOCAB_FILE, training
# checkpoints the "vocabulary" key of their train_state item.
# --------------------------------------------------------------------------------------------------
VOCAB_FILE = "vocabulary.json"


def write_vocab_identity(path: str | epath.Path, vocabulary: Mapping[str, Any]) -> None:
    """Record the vocabulary identity ({"path", "extra_ids", "size", "sha256"}) in a checkpoint."""
    from snitk.atomic import write_json

    write_json(resolve_checkpoint(path) / VOCAB_FILE, dict(vocabulary))


def load_vocab_identity(path: str | epath.Path) -> dict[str, Any] | None:
    """The vocabulary identity stored with a checkpoint (or a MODEL_DIR's latest), None when absent."""
    ckpt = resolve_checkpoint(path)
    if (ckpt / VOCAB_FILE).is_file():
        return json.loads((ckpt / VOCAB_FILE).read_text())
    for cand in (ckpt / "train_state" / "metadata", ckpt / "train_state"):
        if cand.is_file():
            return json.loads(cand.read_text()).get("vocabulary") or None
    return None


# --------------------------------------------------------------------------------------------------
# Fingerprint
# --------------------------------------------------------------------------------------------------
def flatten_params(params: Any) -> dict[str, Any]:
    """``{"encoder/layers_0/attention/query/kernel": array, ...}`` for a nested dict tree."""
    out: dict[str, Any] = {}

    def walk(prefix: str, node: Any) -> None:
        if isinstance(node, Mapping):
            for k, v in node.items():
                walk(f"{prefix}/{k}" if prefix else str(k), v)
        else:
            out[prefix] = node

    walk("", params)
    return out


def unflatten_params(flat: Mapping[str, Any]) -> dict:
    """Inverse of :func:`flatten_params`."""
    tree: dict = {}
    for name, value in flat.items():
        node = tree
        parts = name.split("/")
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = value
    return tree


def _host_bytes(x: Any) -> np.ndarray:
    if isinstance(x, jax.Array) and not x.is_fully_addressable:
        from jax.experimental import multihost_utils

        x = multihost_utils.process_allgather(x, tiled=True)
    arr = np.asarray(jax.device_get(x))
    return np.ascontiguousarray(arr.astype(arr.dtype.newbyteorder("<"), copy=False))


def fingerprint(params: Any) -> str:
    """sha256 over every parameter (name, dtype, shape and little-endian C-order bytes) in sorted name order."""
    h = hashlib.sha256()
    for name, value in sorted(flatten_params(params).items()):
        arr = _host_bytes(value)
        h.update(f"{name}|{arr.dtype.str}|{list(arr.shape)}\n".encode())
        h.update(arr.tobytes())
    return h.hexdigest()


__all__ = [
    "LazyArray",
    "save_model",
    "resolve_checkpoint",
    "load_model",
    "load_config",
    "params_metadata",
    "fingerprint",
    "flatten_params",
    "unflatten_params",
    "is_checkpoint_dir",
    "param_names",
    "open_param",
    "write_vocab_identity",
    "load_vocab_identity",
]
