"""Import T5X checkpoints (without t5x) into snitk checkpoints.

Two on-disk layouts are read:

* **legacy** (``t5x.checkpoints.Checkpointer``; the public ``t5_1_1_*`` / ``mt5_*`` checkpoints): a msgpack
  ``checkpoint`` file ``{"version", "optimizer": {"target": params, "state": ...}}`` whose leaves are
  inline arrays (msgpack ExtType 1: ``[shape, dtype name, bytes]``; flax's chunked form for huge
  ones) or TensorStore specs pointing at zarr folders ``target.<dotted name>/`` beside it;
* **orbax/OCDBT** (newer ``t5x.train``): ``state/`` holding an OCDBT key-value store with a zarr array
  per leaf (keys ``target.<dotted name>/...``) and ``state/_METADATA`` listing the leaves.

Only ``target`` (the parameters) is read; optimizer state is ignored.  Parameters are streamed one
at a time through :class:`~snitk.models.checkpoint.LazyArray`.

The model config comes from ``--config`` (a JSON file or preset name), else from the ``config.gin``
that t5x writes next to its checkpoints (``*.T5Config.<field> = value`` with gin macros), and is
completed from the parameter shapes.
"""

from __future__ import annotations

import ast
import dataclasses
import json
import logging
import re
from pathlib import Path
from typing import Any

import ml_dtypes
import msgpack
import numpy as np

from snitk.errors import CheckpointError, ConfigError
from snitk.models import checkpoint as ck
from snitk.models.convert.hf import config_as_dict, make_config, name_mapping
from snitk.paths import kvstore_spec, resolve

log = logging.getLogger(__name__)

_CONFIG_FIELDS = (
    "vocab_size", "emb_dim", "num_heads", "num_encoder_layers", "num_decoder_layers", "head_dim", "mlp_dim",
    "mlp_activations", "dropout_rate", "logits_via_embedding", "dtype", "param_dtype",
    "relative_attention_num_buckets", "relative_attention_max_distance", "layer_norm_epsilon", "scan_layers",
    "remat_policy",
)


def _np_dtype(name: str) -> np.dtype:
    return np.dtype(ml_dtypes.bfloat16) if name == "bfloat16" else np.dtype(name)


# --------------------------------------------------------------------------------------------------
# Legacy msgpack layout
# --------------------------------------------------------------------------------------------------
def _ext_hook(code: int, data: bytes) -> Any:
    if code == 1:  # ndarray: [shape, dtype name, raw bytes]
        shape, dtype, raw = msgpack.unpackb(data, raw=False)
        return np.frombuffer(raw, dtype=_np_dtype(dtype)).reshape(shape)
    if code == 3:  # numpy scalar, same payload
        shape, dtype, raw = msgpack.unpackb(data, raw=False)
        return np.frombuffer(raw, dtype=_np_dtype(dtype)).reshape(shape)[()]
    if code == 2:  # complex
        re_, im = msgpack.unpackb(data, raw=False)
        return complex(re_, im)
    return msgpack.ExtType(code, data)


def _unchunk(node: dict) -> np.ndarray:
    chunks = [node["chunks"][k] for k in sorted(node["chunks"], key=int)]
    shape = [node["shape"][k] for k in sorted(node["shape"], key=int)]
    return np.concatenate([np.ravel(c) for c in chunks]).reshape(shape)


def _is_ts_spec(node: Any) -> bool:
    return isinstance(node, dict) and "driver" in node and ("kvstore" in node or "path" in node)


def _local_spec(spec: dict, ckpt_dir: Path) -> dict:
    """Point a stored TensorStore spec at the array folder inside ``ckpt_dir`` (t5x stores relative or gs:// paths)."""
    spec = json.loads(json.dumps(spec))
    kv = spec.get("kvstore")
    path = None
    if isinstance(kv, dict):
        path = kv.get("path")
    elif isinstance(kv, str):
        path = kv
    if spec.get("path"):  # older spec form: base kvstore + array path
        path = spec.pop("path")
    if not path:
        raise CheckpointError(f"{ckpt_dir}/checkpoint: tensorstore spec without a path: {spec}")
    folder = path.rstrip("/").split("/")[-1]
    # tensorstore rejects ".." in file paths: normalise (../shared/ckpt -> /abs/shared/ckpt)
    spec["kvstore"] = kvstore_spec(ckpt_dir / folder)  # local (absolute) or the bucket the checkpoint is in
    spec.pop("metadata", None)  # the .zarray on disk is authoritative
    spec.pop("dtype", None)
    return spec


def _ts_lazy(spec: dict, where: str) -> ck.LazyArray:
    import tensorstore as ts

    try:
        store = ts.open(spec, open=True, read=True).result()
    except Exception as e:  # noqa: BLE001
        raise CheckpointError(f"{where}: cannot open the array ({e})") from e
    dtype = np.dtype(store.dtype.numpy_dtype)

    def load(store=store) -> np.ndarray:
        return np.asarray(store.read().result())

    return ck.LazyArray(tuple(store.shape), dtype, load)


def _legacy_params(ckpt_dir: Path) -> dict[str, ck.LazyArray]:
    path = ckpt_dir / "checkpoint"
    with path.open("rb") as f:
        try:
            tree = msgpack.unpackb(f.read(), ext_hook=_ext_hook, raw=False, strict_map_key=False)
        except Exception as e:  # noqa: BLE001
            raise CheckpointError(f"{path}: not a msgpack T5X checkpoint ({e})") from e
    if not isinstance(tree, dict) or "optimizer" not in tree or "target" not in tree["optimizer"]:
        raise CheckpointError(f"{path}: expected top-level keys 'version' and 'optimizer' with 'target' (legacy T5X)")
    out: dict[str, ck.LazyArray] = {}

    def walk(prefix: str, node: Any) -> None:
        if isinstance(node, dict) and "__msgpack_chunked_array__" in node:
            arr = _unchunk(node)
            out[prefix] = ck.LazyArray(arr.shape, arr.dtype, lambda a=arr: a)
        elif _is_ts_spec(node):
            out[prefix] = _ts_lazy(_local_spec(node, ckpt_dir), f"{path}: {prefix}")
        elif isinstance(node, dict):
            for k, v in node.items():
                walk(f"{prefix}/{k}" if prefix else str(k), v)
        elif isinstance(node, (np.ndarray, np.generic, int, float)):
            arr = np.asarray(node)
            out[prefix] = ck.LazyArray(arr.shape, arr.dtype, lambda a=arr: a)
        elif node is not None:
            raise CheckpointError(f"{path}: leaf {prefix} has unexpected type {type(node).__name__}")

    walk("", tree["optimizer"]["target"])
    return out


# --------------------------------------------------------------------------------------------------
# Orbax / OCDBT layout
# --------------------------------------------------------------------------------------------------
def _orbax_params(state_dir: Path) -> dict[str, ck.LazyArray]:
    meta_path = state_dir / "_METADATA"
    meta = json.loads(meta_path.read_text())
    if "tree_metadata" not in meta:
        raise CheckpointError(f"{meta_path}: field 'tree_metadata' missing (expected an orbax PyTree checkpoint)")
    driver = "zarr3" if meta.get("use_zarr3") else "zarr"
    out: dict[str, ck.LazyArray] = {}
    for entry in meta["tree_metadata"].values():
        keys = [str(k["key"]) for k in entry["key_metadata"]]
        if not keys or keys[0] not in ("target", "params"):
            continue
        dotted = ".".join(keys) + "/"
        if meta.get("use_ocdbt", True):
            kvstore = {"driver": "ocdbt", "base": kvstore_spec(state_dir), "path": dotted}
        else:
            kvstore = kvstore_spec(state_dir)
            kvstore["path"] += dotted
        out["/".join(keys[1:])] = _ts_lazy({"driver": driver, "kvstore": kvstore}, f"{state_dir}: {'/'.join(keys)}")
    if not out:
        raise CheckpointError(f"{meta_path}: no 'target' leaves (expected a T5X train state)")
    return out


def read_t5x_params(src: str | Path) -> dict[str, ck.LazyArray]:
    """Flat ``{t5x name: LazyArray}`` for a T5X checkpoint directory of either layout (local or a bucket URL)."""
    src = resolve(src)
    if (src / "checkpoint").is_file():
        return _legacy_params(src)
    for state in (src / "state", src):
        if (state / "_METADATA").is_file():
            return _orbax_params(state)
    raise CheckpointError(
        f"{src}: not a T5X checkpoint (expected a msgpack 'checkpoint' file, or 'state/_METADATA' of the orbax layout)"
    )


# --------------------------------------------------------------------------------------------------
# Config
# --------------------------------------------------------------------------------------------------
_GIN_LINE = re.compile(r"^(?:[\w.]+\.)?T5Config\.(\w+)\s*=\s*(.+)$")
_GIN_MACRO = re.compile(r"^([A-Z_][A-Z0-9_]*)\s*=\s*(.+)$")


def parse_gin_t5config(path: str | Path) -> dict:
    """``*.T5Config.<field> = value`` bindings of a gin file (macros resolved, unknown fields dropped)."""
    text = resolve(path).read_text()
    # join continuation lines of bracketed values
    lines, buf, depth = [], "", 0
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].rstrip() if not buf else raw.rstrip()
        if not line.strip() and not buf:
            continue
        buf = f"{buf} {line.strip()}" if buf else line.strip()
        depth = sum(buf.count(c) for c in "([{") - sum(buf.count(c) for c in ")]}")
        if depth <= 0:
            lines.append(buf)
            buf = ""
    macros = {m.group(1): m.group(2).strip() for m in map(_GIN_MACRO.match, lines) if m}
    out: dict = {}
    for line in lines:
        m = _GIN_LINE.match(line)
        if not m or m.group(1) not in _CONFIG_FIELDS:
            continue
        value = m.group(2).strip()
        for _ in range(10):
            if value.startswith("%") and value[1:] in macros:
                value = macros[value[1:]]
        try:
            out[m.group(1)] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            log.warning("%s: cannot parse T5Config.%s = %s; ignored", path, m.group(1), value)
    return out


def infer_config_fields(flat: dict[str, Any]) -> dict:
    """T5Config fields that follow from the parameter names and shapes (T5.1.1 gated GELU assumed)."""
    if any(n.split("/")[1:2] == ["layers"] for n in flat if "/" in n):
        raise CheckpointError("scanned (layer-stacked) T5X checkpoints are not supported; export unscanned params")

    def shape(name: str) -> tuple[int, ...]:
        if name not in flat:
            raise CheckpointError(f"T5X checkpoint has no parameter {name!r} (expected T5/T5.1.1/mT5 names)")
        return tuple(flat[name].shape)

    vocab, emb = shape("token_embedder/embedding")
    heads, buckets = shape("encoder/relpos_bias/rel_embedding")
    joined = shape("encoder/layers_0/attention/query/kernel")[1]
    gated = "encoder/layers_0/mlp/wi_0/kernel" in flat
    mlp_dim = shape("encoder/layers_0/mlp/wi_0/kernel" if gated else "encoder/layers_0/mlp/wi/kernel")[1]

    def depth(stack: str) -> int:
        return len({n.split("/")[1] for n in flat if n.startswith(f"{stack}/layers_")})

    return {
        "vocab_size": vocab, "emb_dim": emb, "num_heads": heads, "head_dim": joined // heads, "mlp_dim": mlp_dim,
        "num_encoder_layers": depth("encoder"), "num_decoder_layers": depth("decoder"),
        "mlp_activations": ["gelu", "linear"] if gated else ["relu"],
        "logits_via_embedding": "decoder/logits_dense/kernel" not in flat,
        "relative_attention_num_buckets": buckets,
    }


def _config_from_arg(spec: str) -> dict:
    path = Path(spec)
    if path.exists():
        if path.suffix == ".gin":
            return parse_gin_t5config(path)
        try:
            return dict(json.loads(path.read_text()))
        except json.JSONDecodeError as e:
            raise ConfigError(f"{path}: not valid JSON ({e}); expected T5Config fields") from e
    try:
        from snitk.models.configs import get_preset
    except ImportError as e:  # pragma: no cover
        raise ConfigError(f"--config {spec!r}: not a file and presets are unavailable") from e
    return config_as_dict(get_preset(spec))


def find_gin(src: Path) -> Path | None:
    for d in (src, src.parent):
        if (d / "config.gin").is_file():
            return d / "config.gin"
    return None


def t5x_model_config(src: str | Path, flat: dict[str, Any], *, config: str | dict | None = None,
                     dtype: str = "float32") -> Any:
    """The T5Config of the T5X checkpoint ``src`` with parameters ``flat``.

    Fields come from ``config`` (a dict, JSON/gin file or preset name), else from the ``config.gin`` t5x
    wrote beside the checkpoint, completed from the parameter shapes; the names must match the config's.
    """
    src = resolve(src)
    fields = infer_config_fields(flat)
    if isinstance(config, dict):
        fields.update(config)
    elif config:
        fields.update(_config_from_arg(config))
    elif (gin := find_gin(src)) is not None:
        log.info("model config from %s", gin)
        fields.update(parse_gin_t5config(gin))
    fields["param_dtype"] = dtype
    try:
        from snitk.models.configs import T5Config

        known = {f.name for f in dataclasses.fields(T5Config)}
        fields = {k: v for k, v in fields.items() if k in known}
    except ImportError:  # pragma: no cover
        pass
    cfg = make_config(fields)
    expected = {m.name for m in name_mapping(cfg)}
    missing = sorted(expected - set(flat))
    if missing:
        raise CheckpointError(f"{src}: parameters missing for the model config: {missing[:5]}{'...' if len(missing) > 5 else ''}")
    extra = sorted(set(flat) - expected)
    if extra:
        raise CheckpointError(f"{src}: parameters the model config does not have: {extra[:5]}")
    return cfg


def import_t5x(src: str | Path, dst: str | Path, *, config: str | dict | None = None, dtype: str = "float32",
               overwrite: bool = False) -> Any:
    """Convert a T5X checkpoint directory to a snitk checkpoint at ``dst``; returns the T5Config."""
    flat = read_t5x_params(src)
    cfg = t5x_model_config(src, flat, config=config, dtype=dtype)
    out_dtype = _np_dtype(dtype)

    def cast(lazy: ck.LazyArray) -> ck.LazyArray:
        return ck.LazyArray(lazy.shape, out_dtype, lambda: lazy.load().astype(out_dtype, copy=False))

    ck.save_model(dst, cfg, ck.unflatten_params({n: cast(v) for n, v in flat.items()}), overwrite=overwrite)
    return cfg


__all__: list[str] = ["import_t5x", "t5x_model_config", "read_t5x_params", "parse_gin_t5config", "infer_config_fields", "find_gin"]
