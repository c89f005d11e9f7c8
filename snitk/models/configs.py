"""Model configuration (`T5Config`) and size presets for T5-1.1 / LM-adapt, mT5 and the original T5.

Dimensions follow the public T5-1.1 and mT5 releases (t5x gin files `t5_1_1/*.gin`, `mt5/*.gin`).
`snitk.models.model.num_params` counts parameters from shapes only, so it works for XXL on a laptop.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from snitk.errors import ConfigError

REMAT_POLICIES = ("none", "full", "minimal", "dots", "dots_no_batch", "save_nothing")
ACTIVATIONS = ("gelu", "relu", "linear", "gelu_exact", "silu")


@dataclass(frozen=True)
class T5Config:
    """Hyper-parameters of an encoder-decoder T5 (names as in t5x `network.T5Config`)."""

    vocab_size: int
    emb_dim: int
    num_heads: int
    num_encoder_layers: int
    num_decoder_layers: int
    head_dim: int
    mlp_dim: int
    mlp_activations: tuple[str, ...] = ("gelu", "linear")
    dropout_rate: float = 0.0
    logits_via_embedding: bool = False
    dtype: str = "float32"  # activations
    param_dtype: str = "float32"
    relative_attention_num_buckets: int = 32
    relative_attention_max_distance: int = 128
    layer_norm_epsilon: float = 1e-6
    scan_layers: bool = False
    remat_policy: str = "none"

    def __post_init__(self) -> None:
        object.__setattr__(self, "mlp_activations", tuple(self.mlp_activations))
        for act in self.mlp_activations:
            if act not in ACTIVATIONS:
                raise ConfigError(f"T5Config.mlp_activations: unknown activation {act!r}; expected one of {ACTIVATIONS}")
        if self.remat_policy not in REMAT_POLICIES:
            raise ConfigError(f"T5Config.remat_policy: {self.remat_policy!r}; expected one of {REMAT_POLICIES}")
        for name in ("vocab_size", "emb_dim", "num_heads", "head_dim", "mlp_dim", "num_encoder_layers",
                     "num_decoder_layers"):
            if int(getattr(self, name)) <= 0:
                raise ConfigError(f"T5Config.{name}: expected a positive integer, got {getattr(self, name)!r}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly dict (tuples become lists)."""
        d = dataclasses.asdict(self)
        d["mlp_activations"] = list(self.mlp_activations)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "T5Config":
        """Inverse of `to_dict`; unknown keys raise ConfigError."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ConfigError(f"T5Config: unknown fields {unknown}; expected a subset of {sorted(names)}")
        d = dict(d)
        if "mlp_activations" in d:
            d["mlp_activations"] = tuple(d["mlp_activations"])
        return cls(**d)

    def replace(self, **kw: Any) -> "T5Config":
        """A copy with some fields changed."""
        return dataclasses.replace(self, **kw)


T5_VOCAB_SIZE = 32128  # 32,000 pieces + 100 extra ids, padded to a multiple of 128
MT5_VOCAB_SIZE = 250112  # 250,000 pieces + 100 extra ids, padded


def _t511(emb: int, layers: int, heads: int, mlp: int, vocab: int = T5_VOCAB_SIZE, dtype: str = "bfloat16",
          head_dim: int = 64) -> T5Config:
    return T5Config(vocab_size=vocab, emb_dim=emb, num_heads=heads, num_encoder_layers=layers,
                    num_decoder_layers=layers, head_dim=head_dim, mlp_dim=mlp, dtype=dtype)


def _t5_orig(emb: int, layers: int, heads: int, mlp: int) -> T5Config:
    return T5Config(vocab_size=T5_VOCAB_SIZE, emb_dim=emb, num_heads=heads, num_encoder_layers=layers,
                    num_decoder_layers=layers, head_dim=64, mlp_dim=mlp, mlp_activations=("relu",),
                    logits_via_embedding=True, dtype="bfloat16")


_SIZES = {  # emb, layers, heads, mlp (T5-1.1 and mT5 share them)
    "small": (512, 8, 6, 1024),
    "base": (768, 12, 12, 2048),
    "large": (1024, 24, 16, 2816),
    "xl": (2048, 24, 32, 5120),
    "xxl": (4096, 24, 64, 10240),
}

PRESETS: dict[str, T5Config] = {
    # CPU demo size: float32 activations.
    "t5_1_1_tiny": _t511(256, 4, 4, 1024, dtype="float32"),
    **{f"t5_1_1_{k}": _t511(*v) for k, v in _SIZES.items()},
    **{f"mt5_{k}": _t511(*v, vocab=MT5_VOCAB_SIZE) for k, v in _SIZES.items()},
    # The original T5 (ReLU MLP, logits through the tied embedding).
    "t5_small": _t5_orig(512, 6, 8, 2048),
    "t5_base": _t5_orig(768, 12, 12, 3072),
    "t5_large": _t5_orig(1024, 24, 16, 4096),
}
# LM-adapted T5-1.1 checkpoints (t5_1_1_lm100k_*) have exactly the T5-1.1 architecture.
for _k in _SIZES:
    PRESETS[f"t5_1_1_lm100k_{_k}"] = PRESETS[f"t5_1_1_{_k}"]


def get_preset(name: str, **overrides: Any) -> T5Config:
    """The preset `name` with `overrides` applied (ConfigError listing known names)."""
    if name not in PRESETS:
        raise ConfigError(f"unknown model preset {name!r}; expected one of {sorted(PRESETS)}")
    return PRESETS[name].replace(**overrides) if overrides else PRESETS[name]
