"""Hugging Face T5 / mT5 folders <-> snitk checkpoints, one tensor at a time.

Import reads ``config.json`` plus ``model.safetensors`` / ``pytorch_model.bin`` (sharded through
``*.index.json`` or not).  Safetensors files are read with a small header parser (a seek and a read
per tensor, no mmap, bfloat16 through ml_dtypes), ``.bin`` files with ``torch.load(mmap=True)``.
Every parameter becomes a :class:`~snitk.models.checkpoint.LazyArray`, so the orbax writer loads,
transposes and writes one tensor before touching the next.

Export (``snitk.models.convert.hf_export``) streams the other way.
HF ``nn.Linear`` weights are ``[out, in]``; t5x kernels ``[in, out]``: every kernel is transposed.
"""

from __future__ import annotations

import json
import logging
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import ml_dtypes
import numpy as np

from snitk.errors import CheckpointError, ConfigError
from snitk.models import checkpoint as ck

log = logging.getLogger(__name__)

_ST_DTYPES = {
    "F64": np.dtype(np.float64),
    "F32": np.dtype(np.float32),
    "F16": np.dtype(np.float16),
    "BF16": np.dtype(ml_dtypes.bfloat16),
    "I64": np.dtype(np.int64),
    "I32": np.dtype(np.int32),
    "I16": np.dtype(np.int16),
    "I8": np.dtype(np.int8),
    "U8": np.dtype(np.uint8),
    "BOOL": np.dtype(np.bool_),
}
_ST_NAMES = {v: k for k, v in _ST_DTYPES.items()}

_ACTIVATIONS = {  # HF feed_forward_proj -> t5x mlp_activations
    "gated-gelu": ("gelu", "linear"),
    "gated-silu": ("silu", "linear"),
    "gated-relu": ("relu", "linear"),
    "relu": ("relu",),
    "gelu": ("gelu_exact",),  # HF non-gated "gelu" is the exact erf GELU
    "silu": ("silu",),
}


# --------------------------------------------------------------------------------------------------
# Config
# --------------------------------------------------------------------------------------------------
def config_get(config: Any, key: str, default: Any = None) -> Any:
    if isinstance(config, dict):
        return config.get(key, default)
    return getattr(config, key, default)


def config_as_dict(config: Any) -> dict:
    return dict(config.to_dict()) if hasattr(config, "to_dict") else dict(config)


def make_config(fields: dict) -> Any:
    """A T5Config from a field dict (a plain dict until snitk.models.configs exists)."""
    try:
        from snitk.models.configs import T5Config
    except ImportError:  # pragma: no cover
        return dict(fields)
    return T5Config.from_dict(fields)


def config_from_hf(hf: dict, *, dtype: str = "float32", path: Any = "config.json") -> Any:
    """Map an HF T5Config / MT5Config dict to snitk's T5Config."""
    for key in ("vocab_size", "d_model", "num_heads", "num_layers", "d_kv", "d_ff"):
        if key not in hf:
            raise CheckpointError(f"{path}: field {key!r} missing (expected an HF T5/mT5 config.json)")
    proj = hf.get("feed_forward_proj", "relu")
    if proj not in _ACTIVATIONS:
        raise CheckpointError(f"{path}: feed_forward_proj={proj!r}; expected one of {sorted(_ACTIVATIONS)}")
    # transformers 5 always writes tie_word_embeddings=true and records the T5-1.0 output scaling as
    # scale_decoder_outputs; older configs use tie_word_embeddings for both meanings.
    # MT5ForConditionalGeneration never scales (its config always says tied).
    if hf.get("model_type") == "mt5":
        tied = False
    else:
        tied = bool(hf.get("scale_decoder_outputs", hf.get("tie_word_embeddings", True)))
    return make_config(
        {
            "vocab_size": int(hf["vocab_size"]),
            "emb_dim": int(hf["d_model"]),
            "num_heads": int(hf["num_heads"]),
            "num_encoder_layers": int(hf["num_layers"]),
            "num_decoder_layers": int(hf.get("num_decoder_layers") or hf["num_layers"]),
            "head_dim": int(hf["d_kv"]),
            "mlp_dim": int(hf["d_ff"]),
            "mlp_activations": list(_ACTIVATIONS[proj]),
            "dropout_rate": float(hf.get("dropout_rate", 0.0)),
            "logits_via_embedding": tied,
            "dtype": dtype,
            "param_dtype": dtype if dtype in ("float32", "bfloat16") else "float32",
            "relative_attention_num_buckets": int(hf.get("relative_attention_num_buckets", 32)),
            "relative_attention_max_distance": int(hf.get("relative_attention_max_distance", 128)),
            "layer_norm_epsilon": float(hf.get("layer_norm_epsilon", 1e-6)),
        }
    )


def config_to_hf(config: Any, *, torch_dtype: str = "float32") -> dict:
    """HF config.json for a snitk T5Config (T5 or, for the 250k vocabulary, mT5)."""
    acts = tuple(config_get(config, "mlp_activations"))
    inverse = {v: k for k, v in _ACTIVATIONS.items()}
    if acts not in inverse:
        raise ConfigError(f"mlp_activations={acts!r} has no HF equivalent; expected one of {sorted(inverse)}")
    proj = inverse[acts]
    act = acts[0]
    mt5 = int(config_get(config, "vocab_size")) >= 250000
    tied = bool(config_get(config, "logits_via_embedding"))
    return {
        "architectures": ["MT5ForConditionalGeneration" if mt5 else "T5ForConditionalGeneration"],
        "model_type": "mt5" if mt5 else "t5",
        "vocab_size": int(config_get(config, "vocab_size")),
        "d_model": int(config_get(config, "emb_dim")),
        "d_kv": int(config_get(config, "head_dim")),
        "d_ff": int(config_get(config, "mlp_dim")),
        "num_layers": int(config_get(config, "num_encoder_layers")),
        "num_decoder_layers": int(config_get(config, "num_decoder_layers")),
        "num_heads": int(config_get(config, "num_heads")),
        "relative_attention_num_buckets": int(config_get(config, "relative_attention_num_buckets", 32)),
        "relative_attention_max_distance": int(config_get(config, "relative_attention_max_distance", 128)),
        "dropout_rate": float(config_get(config, "dropout_rate", 0.0)),
        "layer_norm_epsilon": float(config_get(config, "layer_norm_epsilon", 1e-6)),
        "initializer_factor": 1.0,
        "feed_forward_proj": proj,
        "dense_act_fn": {"gelu": "gelu_new", "gelu_exact": "gelu"}.get(act, act),
        "is_gated_act": len(acts) > 1,
        "tie_word_embeddings": tied,
        "is_encoder_decoder": True,
        "use_cache": True,
        "pad_token_id": 0,
        "eos_token_id": 1,
        "decoder_start_token_id": 0,
        "dtype": torch_dtype,
    }


# --------------------------------------------------------------------------------------------------
# Name mapping
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Mapping1:
    """One t5x parameter; ``hf`` lists the HF tensors it comes from (several, stacked, when scanned)."""

    name: str
    hf: tuple[str, ...]
    transpose: bool


def _mlp_names(acts: tuple[str, ...]) -> list[str]:
    return ["wi"] if len(acts) == 1 else [f"wi_{i}" for i in range(len(acts))]


def _layer_pairs(config: Any) -> Iterator[tuple[str, str, str, bool]]:
    """(stack, t5x name inside layers_i, HF name template with {i}, transpose)."""
    mlp = _mlp_names(tuple(config_get(config, "mlp_activations")))
    qkvo = (("query", "q"), ("key", "k"), ("value", "v"), ("out", "o"))
    yield "encoder", "pre_attention_layer_norm/scale", "encoder.block.{i}.layer.0.layer_norm.weight", False
    for t, h in qkvo:
        yield "encoder", f"attention/{t}/kernel", f"encoder.block.{{i}}.layer.0.SelfAttention.{h}.weight", True
    yield "encoder", "pre_mlp_layer_norm/scale", "encoder.block.{i}.layer.1.layer_norm.weight", False
    for w in mlp + ["wo"]:
        yield "encoder", f"mlp/{w}/kernel", f"encoder.block.{{i}}.layer.1.DenseReluDense.{w}.weight", True
    yield "decoder", "pre_self_attention_layer_norm/scale", "decoder.block.{i}.layer.0.layer_norm.weight", False
    for t, h in qkvo:
        yield "decoder", f"self_attention/{t}/kernel", f"decoder.block.{{i}}.layer.0.SelfAttention.{h}.weight", True
    yield "decoder", "pre_cross_attention_layer_norm/scale", "decoder.block.{i}.layer.1.layer_norm.weight", False
    for t, h in qkvo:
        yield (
            "decoder",
            f"encoder_decoder_attention/{t}/kernel",
            f"decoder.block.{{i}}.layer.1.EncDecAttention.{h}.weight",
            True,
        )
    yield "decoder", "pre_mlp_layer_norm/scale", "decoder.block.{i}.layer.2.layer_norm.weight", False
    for w in mlp + ["wo"]:
        yield "decoder", f"mlp/{w}/kernel", f"decoder.block.{{i}}.layer.2.DenseReluDense.{w}.weight", True


def name_mapping(config: Any) -> list[Mapping1]:
    """Every t5x parameter of ``config`` with its HF source tensor(s) and whether kernels transpose.

    With ``scan_layers`` the per-layer parameters are stacked under ``<stack>/layers/...`` with a
    leading layer axis; their ``hf`` tuple lists the layers in order.
    """
    out = [
        Mapping1("token_embedder/embedding", ("shared.weight",), False),
        Mapping1("encoder/relpos_bias/rel_embedding",
                 ("encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight",), True),
        Mapping1("encoder/encoder_norm/scale", ("encoder.final_layer_norm.weight",), False),
        Mapping1("decoder/relpos_bias/rel_embedding",
                 ("decoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight",), True),
        Mapping1("decoder/decoder_norm/scale", ("decoder.final_layer_norm.weight",), False),
    ]
    if not config_get(config, "logits_via_embedding"):
        out.append(Mapping1("decoder/logits_dense/kernel", ("lm_head.weight",), True))
    depth = {"encoder": int(config_get(config, "num_encoder_layers")),
             "decoder": int(config_get(config, "num_decoder_layers"))}
    scan = bool(config_get(config, "scan_layers", False))
    for stack, sub, hf, transpose in _layer_pairs(config):
        if scan:
            out.append(Mapping1(f"{stack}/layers/{sub}", tuple(hf.format(i=i) for i in range(depth[stack])), transpose))
        else:
            out.extend(Mapping1(f"{stack}/layers_{i}/{sub}", (hf.format(i=i),), transpose) for i in range(depth[stack]))
    return out


# --------------------------------------------------------------------------------------------------
# Reading HF folders
# --------------------------------------------------------------------------------------------------
class _SafetensorsFile:
    def __init__(self, path: Path):
        self.path = path
        with open(path, "rb") as f:
            (n,) = struct.unpack("<Q", f.read(8))
            header = json.loads(f.read(n))
        self.base = 8 + n
        header.pop("__metadata__", None)
        self.entries = header

    def shape_dtype(self, name: str) -> tuple[tuple[int, ...], np.dtype]:
        e = self.entries[name]
        if e["dtype"] not in _ST_DTYPES:
            raise CheckpointError(f"{self.path}: tensor {name} has dtype {e['dtype']}; expected one of {sorted(_ST_DTYPES)}")
        return tuple(e["shape"]), _ST_DTYPES[e["dtype"]]

    def read(self, name: str) -> np.ndarray:
        shape, dtype = self.shape_dtype(name)
        start, end = self.entries[name]["data_offsets"]
        count = int(np.prod(shape, dtype=np.int64))
        if end - start != count * dtype.itemsize:
            raise CheckpointError(f"{self.path}: tensor {name}: data_offsets do not match its shape/dtype")
        with open(self.path, "rb") as f:
            f.seek(self.base + start)
            arr = np.fromfile(f, dtype=dtype.newbyteorder("<"), count=count)
        return arr.astype(dtype, copy=False).reshape(shape)


class _TorchBinFile:
    def __init__(self, path: Path):
        try:
            import torch
        except ImportError as e:
            raise CheckpointError(f"{path}: reading pytorch_model.bin needs torch (pip install torch==2.13.0)") from e
        self.path = path
        self._torch = torch
        self.state = torch.load(path, map_location="cpu", mmap=True, weights_only=True)
        self.entries = self.state

    def shape_dtype(self, name: str) -> tuple[tuple[int, ...], np.dtype]:
        t = self.state[name]
        dt = str(t.dtype).replace("torch.", "")
        return tuple(t.shape), np.dtype(ml_dtypes.bfloat16) if dt == "bfloat16" else np.dtype(dt)

    def read(self, name: str) -> np.ndarray:
        t = self.state[name]
        if t.dtype == self._torch.bfloat16:
            return t.view(self._torch.int16).numpy().copy().view(ml_dtypes.bfloat16)
        return t.numpy().copy()


class HFWeights:
    """Tensor name -> file lookup over a (possibly sharded) HF folder; reads one tensor at a time."""

    def __init__(self, folder: str | Path):
        folder = Path(folder)
        self.folder = folder
        self.files: dict[str, Any] = {}
        self.where: dict[str, str] = {}
        for index_name, single in (("model.safetensors.index.json", "model.safetensors"),
                                   ("pytorch_model.bin.index.json", "pytorch_model.bin")):
            index, single_path = folder / index_name, folder / single
            if index.exists():
                weight_map = json.loads(index.read_text()).get("weight_map")
                if not isinstance(weight_map, dict):
                    raise CheckpointError(f"{index}: field 'weight_map' missing (expected name -> shard file)")
                self.where = dict(weight_map)
                break
            if single_path.exists():
                self.where = {n: single for n in self._open(single).entries}
                break
        else:
            raise CheckpointError(
                f"{folder}: no model.safetensors, pytorch_model.bin or their *.index.json (expected an HF model folder)"
            )

    def _open(self, fname: str) -> Any:
        if fname not in self.files:
            path = self.folder / fname
            if not path.exists():
                raise CheckpointError(f"{path}: shard listed in the index is missing")
            self.files[fname] = _SafetensorsFile(path) if fname.endswith(".safetensors") else _TorchBinFile(path)
        return self.files[fname]

    def __contains__(self, name: str) -> bool:
        return name in self.where

    def shape_dtype(self, name: str) -> tuple[tuple[int, ...], np.dtype]:
        return self._open(self.where[name]).shape_dtype(name)

    def read(self, name: str) -> np.ndarray:
        return self._open(self.where[name]).read(name)


def _resolve_aliases(weights: HFWeights, name: str) -> str:
    """HF sometimes stores the embedding as encoder.embed_tokens.weight only."""
    if name in weights:
        return name
    if name in ("shared.weight", "lm_head.weight"):  # a tied but unscaled head is stored as shared only
        for alt in ("shared.weight", "encoder.embed_tokens.weight", "decoder.embed_tokens.weight"):
            if alt in weights:
                return alt
    raise CheckpointError(f"{weights.folder}: tensor {name!r} is missing (expected a T5/mT5 state dict)")


def hf_to_lazy_params(folder: str | Path, config: Any, *, dtype: Any = np.float32) -> dict:
    """The snitk params tree for an HF folder, every leaf a LazyArray (nothing is read yet)."""
    weights = HFWeights(folder)
    flat: dict[str, ck.LazyArray] = {}
    dtype = np.dtype(dtype)
    for m in name_mapping(config):
        srcs = tuple(_resolve_aliases(weights, h) for h in m.hf)
        shape, _ = weights.shape_dtype(srcs[0])
        for s in srcs[1:]:
            if weights.shape_dtype(s)[0] != shape:
                raise CheckpointError(f"{folder}: {s} has shape {weights.shape_dtype(s)[0]}, expected {shape}")
        one = tuple(reversed(shape)) if m.transpose else tuple(shape)
        full = ((len(srcs),) + one) if m.name.split("/")[1] == "layers" else one

        def load(srcs=srcs, transpose=m.transpose, single=len(full) == len(one)) -> np.ndarray:
            parts = [weights.read(s) for s in srcs]
            parts = [p.T if transpose else p for p in parts]
            out = parts[0] if single else np.stack(parts)
            return np.ascontiguousarray(out.astype(dtype, copy=False))

        flat[m.name] = ck.LazyArray(full, dtype, load)
    return ck.unflatten_params(flat)


def import_hf(src: str | Path, dst: str | Path, *, dtype: str = "float32", overwrite: bool = False,
              scan_layers: bool = False) -> Any:
    """Convert an HF T5/mT5 folder to a snitk checkpoint at ``dst``; returns the T5Config."""
    src = Path(src)
    cfg_path = src / "config.json"
    if not cfg_path.exists():
        raise CheckpointError(f"{cfg_path}: missing (expected an HF model folder with config.json)")
    hf = json.loads(cfg_path.read_text())
    config = config_from_hf(hf, dtype=dtype, path=cfg_path)
    if scan_layers:
        d = config_as_dict(config)
        d["scan_layers"] = True
        config = make_config(d)
    weights = HFWeights(src)
    if config_get(config, "logits_via_embedding") and "lm_head.weight" in weights:
        log.warning("%s: decoder outputs are scaled (T5 1.0 style), so the logits use the shared embedding; "
                    "lm_head.weight is not read", src)
    params = hf_to_lazy_params(src, config, dtype=np.dtype(ml_dtypes.bfloat16) if dtype == "bfloat16" else np.float32)
    ck.save_model(dst, config, params, overwrite=overwrite)
    return config
