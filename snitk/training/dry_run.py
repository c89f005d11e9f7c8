"""Dry run: shardings and per-device memory from abstract shapes only (no parameter is allocated).

Works on the real devices of this machine or on a device-less mesh description (``MeshShape``), e.g. a
TPU v3-256 pod planned from a laptop. Activation memory is an analytic estimate (documented below), not
an XLA measurement.
"""

from __future__ import annotations

import functools
import math
import re
from typing import Any, Mapping

import jax
import numpy as np

from snitk.training.partitioning import (LogicalRules, opt_state_mesh_specs, params_mesh_specs,
                                         per_device_bytes)

GiB = 1024 ** 3


def _path_str(path: tuple) -> str:
    parts = []
    for k in path:
        parts.append(str(getattr(k, "key", getattr(k, "name", getattr(k, "idx", k)))))
    return "/".join(parts)


def group_name(path: str) -> str:
    """Parameter group: the path with layer numbers folded (encoder/layers_*/mlp/wi_0/kernel)."""
    return re.sub(r"layers_\d+", "layers_*", path)


def activation_bytes(cfg: Any, per_device_batch: int, input_length: int, target_length: int,
                     model_parallel: int) -> int:
    """Estimated activation memory per device for one forward+backward pass of a T5 encoder-decoder.

    Without remat every layer keeps roughly: layer norms/residuals (6 x emb per token in the encoder,
    9 x in the decoder), q/k/v/out (4 x heads*head_dim / model_parallel), the gated MLP (3 x mlp_dim /
    model_parallel) in the activation dtype, plus attention logits and probabilities per head (fp32 + dtype).
    With a remat policy other than "none" only each layer's input is kept, plus one layer recomputed.
    Logits and their softmax (fp32) over the vocabulary shard are always counted.
    """
    s = np.dtype(cfg.dtype if cfg.dtype != "bfloat16" else np.float16).itemsize
    b, li, lt, m = per_device_batch, input_length, target_length, max(model_parallel, 1)
    e, hd, f, h = cfg.emb_dim, cfg.num_heads * cfg.head_dim, cfg.mlp_dim, cfg.num_heads
    n_mlp = len(cfg.mlp_activations)
    enc_tok, dec_tok = b * li, b * lt
    enc_layer = enc_tok * (6 * e + 4 * hd / m + (n_mlp + 1) * f / m) * s + b * (h / m) * li * li * (4 + s)
    dec_layer = (dec_tok * (9 * e + 8 * hd / m + (n_mlp + 1) * f / m) * s
                 + b * (h / m) * (lt * lt + lt * li) * (4 + s) + 2 * b * li * hd / m * s)
    if cfg.remat_policy == "none":
        layers = cfg.num_encoder_layers * enc_layer + cfg.num_decoder_layers * dec_layer
    else:
        layers = (cfg.num_encoder_layers * enc_tok * e * s + cfg.num_decoder_layers * dec_tok * e * s
                  + max(enc_layer, dec_layer))
    logits = 2 * dec_tok * cfg.vocab_size / m * 4
    return int(layers + logits + enc_tok * e * s)  # + encoder output kept for cross attention


@functools.lru_cache(maxsize=8)
def _abstract(cfg: Any) -> tuple[Any, Any]:
    """(abstract params, logical axes) of a config; remat/dtype do not change parameter shapes."""
    from snitk.models import EncoderDecoderModel

    model = EncoderDecoderModel(cfg.replace(remat_policy="none", dtype="float32"))
    return model.abstract_params(), model.param_logical_axes()


def analyse(model: Any, optimizer: Any, rules: LogicalRules, axis_sizes: Mapping[str, int], *,
            batch_size: int, task_feature_lengths: Mapping[str, int], num_microbatches: int = 1) -> dict[str, Any]:
    """Per-group shardings and per-device memory (bytes) for params, grads, optimizer state, activations."""
    cfg = model.config
    abstract, logical_axes = _abstract(cfg)
    specs = params_mesh_specs(abstract, logical_axes, rules, axis_sizes)
    opt_abstract = jax.eval_shape(optimizer.init, abstract)
    opt_specs = opt_state_mesh_specs(opt_abstract, abstract, specs)
    groups: dict[str, dict[str, Any]] = {}
    flat = jax.tree_util.tree_flatten_with_path(abstract)[0]
    flat_specs = jax.tree.leaves(specs, is_leaf=lambda x: isinstance(x, jax.sharding.PartitionSpec))
    logical = jax.tree.leaves(logical_axes, is_leaf=lambda x: isinstance(x, jax.sharding.PartitionSpec))
    for (path, a), s, la in zip(flat, flat_specs, logical):
        g = group_name(_path_str(path))
        row = groups.setdefault(g, {"shape": tuple(a.shape), "dtype": str(np.dtype(a.dtype)), "count": 0,
                                    "logical": tuple(la), "mesh": tuple(s), "bytes_per_device": 0})
        row["count"] += 1
        row["bytes_per_device"] += per_device_bytes(a, s, axis_sizes)
    params_b = per_device_bytes(abstract, specs, axis_sizes)
    opt_b = per_device_bytes(opt_abstract, opt_specs, axis_sizes)
    data = axis_sizes.get("data", 1)
    per_dev_batch = max(1, math.ceil(batch_size / data / max(num_microbatches, 1)))
    act_b = activation_bytes(cfg, per_dev_batch, int(task_feature_lengths["inputs"]),
                             int(task_feature_lengths["targets"]), axis_sizes.get("model", 1))
    grads_b = params_b * (2 if num_microbatches > 1 else 1)  # + fp32 accumulator with microbatches
    total = params_b + grads_b + opt_b + act_b
    n_params = sum(math.prod(a.shape) for a in jax.tree.leaves(abstract))
    return {"groups": groups, "params": params_b, "grads": grads_b, "opt_state": opt_b, "activations": act_b,
            "total": total, "num_params": n_params, "per_device_batch": per_dev_batch,
            "axis_sizes": dict(axis_sizes)}


def format_report(summary: Mapping[str, Any], device_memory_gib: float | None) -> str:
    """Human-readable table of the dry-run summary."""
    ax = summary["axis_sizes"]
    lines = [f"mesh: data={ax.get('data', 1)} x model={ax.get('model', 1)} "
             f"({ax.get('data', 1) * ax.get('model', 1)} devices)",
             f"parameters: {summary['num_params']:,}",
             "", f"{'parameter group':<58} {'n':>3} {'shape':<18} {'logical axes':<28} {'mesh axes':<18} {'MiB/dev':>9}"]
    for g, r in sorted(summary["groups"].items()):
        lines.append(f"{g:<58} {r['count']:>3} {str(r['shape']):<18} {str(r['logical']):<28} "
                     f"{str(r['mesh']):<18} {r['bytes_per_device'] / 2**20:>9.2f}")
    lines.append("")
    lines.append(f"per-device memory (microbatch of {summary['per_device_batch']} sequences per device):")
    for k in ("params", "grads", "opt_state", "activations", "total"):
        lines.append(f"  {k:<12} {summary[k] / GiB:8.3f} GiB")
    if device_memory_gib:
        fits = summary["total"] <= device_memory_gib * GiB
        lines.append(f"  device memory {device_memory_gib} GiB: {'FITS' if fits else 'DOES NOT FIT'} "
                     f"({100 * summary['total'] / (device_memory_gib * GiB):.1f}% used)")
    return "\n".join(lines)
