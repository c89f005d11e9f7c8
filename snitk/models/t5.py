"""The T5 encoder-decoder network (Flax Linen) with t5x parameter names.

Tree: `token_embedder/embedding`, `encoder/{relpos_bias, layers_i, encoder_norm}`,
`decoder/{relpos_bias, layers_i, decoder_norm, logits_dense}` (with `scan_layers` the layers are stacked
under `layers` with a leading `layers` axis). One relative-position table per stack, shared by its layers
and never used in cross-attention. Packed inputs: segment ids mask attention across segments and
positions (when given) drive the relative positions.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import flax.linen as nn

from snitk.models.configs import T5Config
from snitk.models.layers import (Dense, Embed, MlpBlock, MultiHeadAttention, RelativePositionBiases, RMSNorm,
                                 constrain, mask_to_bias)

Array = jax.Array


def remat_policy(name: str) -> Any:
    """`jax.checkpoint` policy for a `T5Config.remat_policy` name (None means save nothing)."""
    pol = jax.checkpoint_policies
    return {
        "full": None,
        "save_nothing": None,
        "minimal": pol.dots_with_no_batch_dims_saveable,
        "dots_no_batch": pol.dots_with_no_batch_dims_saveable,
        "dots": pol.checkpoint_dots,
    }[name]


class EncoderLayer(nn.Module):
    config: T5Config
    deterministic: bool = True

    @nn.compact
    def __call__(self, x: Array, bias: Array) -> tuple[Array, None]:
        cfg = self.config
        dtype, pdt = jnp.dtype(cfg.dtype), jnp.dtype(cfg.param_dtype)
        norm = lambda name: RMSNorm(cfg.layer_norm_epsilon, dtype, pdt, name=name)  # noqa: E731
        drop = lambda y: nn.Dropout(cfg.dropout_rate, broadcast_dims=(-2,))(y, deterministic=self.deterministic)  # noqa: E731
        y = norm("pre_attention_layer_norm")(x)
        y = MultiHeadAttention(cfg, "self", deterministic=self.deterministic, name="attention")(y, y, bias)
        x = x + drop(y)
        y = MlpBlock(cfg, self.deterministic, name="mlp")(norm("pre_mlp_layer_norm")(x))
        x = x + drop(y)
        return constrain(x, ("batch", "length", "embed")), None


class DecoderLayer(nn.Module):
    config: T5Config
    deterministic: bool = True
    decode: bool = False

    @nn.compact
    def __call__(self, y: Array, self_bias: Array, encoded: Array | None, cross_bias: Array,
                 decode_position: Array | None) -> tuple[Array, None]:
        cfg = self.config
        dtype, pdt = jnp.dtype(cfg.dtype), jnp.dtype(cfg.param_dtype)
        norm = lambda name: RMSNorm(cfg.layer_norm_epsilon, dtype, pdt, name=name)  # noqa: E731
        drop = lambda z: nn.Dropout(cfg.dropout_rate, broadcast_dims=(-2,))(z, deterministic=self.deterministic)  # noqa: E731
        z = norm("pre_self_attention_layer_norm")(y)
        z = MultiHeadAttention(cfg, "self", decode=self.decode, deterministic=self.deterministic,
                               name="self_attention")(z, z, self_bias, decode_position)
        y = y + drop(z)
        z = norm("pre_cross_attention_layer_norm")(y)
        z = MultiHeadAttention(cfg, "cross", decode=self.decode, deterministic=self.deterministic,
                               name="encoder_decoder_attention")(z, encoded, cross_bias)
        y = y + drop(z)
        z = MlpBlock(cfg, self.deterministic, name="mlp")(norm("pre_mlp_layer_norm")(y))
        y = y + drop(z)
        return constrain(y, ("batch", "length", "embed")), None


def _stack(module: nn.Module, layer_cls: type, num_layers: int, carry: Array, args: tuple, **kw: Any) -> Array:
    """Apply `num_layers` layers (unrolled `layers_i`, or one `nn.scan` named `layers`) with optional remat."""
    cfg: T5Config = module.config
    if cfg.remat_policy != "none":
        layer_cls = nn.remat(layer_cls, policy=remat_policy(cfg.remat_policy), prevent_cse=not cfg.scan_layers)
    if cfg.scan_layers:
        scanned = nn.scan(layer_cls, variable_axes={"params": 0, "cache": 0},
                          split_rngs={"params": True, "dropout": True}, in_axes=(nn.broadcast,) * len(args),
                          length=num_layers, metadata_params={nn.PARTITION_NAME: "layers"})
        carry, _ = scanned(cfg, name="layers", **kw)(carry, *args)
        return carry
    for i in range(num_layers):
        carry, _ = layer_cls(cfg, name=f"layers_{i}", **kw)(carry, *args)
    return carry


def _pair_mask(q_valid: Array, k_valid: Array) -> Array:
    return q_valid[:, None, :, None] & k_valid[:, None, None, :]


class Encoder(nn.Module):
    config: T5Config
    shared_embedding: nn.Module

    @nn.compact
    def __call__(self, tokens: Array, segment_ids: Array | None = None, positions: Array | None = None,
                 deterministic: bool = True) -> Array:
        cfg = self.config
        dtype, pdt = jnp.dtype(cfg.dtype), jnp.dtype(cfg.param_dtype)
        x = self.shared_embedding(tokens).astype(dtype)
        x = nn.Dropout(cfg.dropout_rate, broadcast_dims=(-2,))(x, deterministic=deterministic)
        x = constrain(x, ("batch", "length", "embed"))
        valid = tokens > 0
        mask = _pair_mask(valid, valid)
        if segment_ids is not None:
            mask = mask & (segment_ids[:, None, :, None] == segment_ids[:, None, None, :])
        pos = positions if positions is not None else jnp.arange(tokens.shape[1], dtype=jnp.int32)[None]
        rel = RelativePositionBiases(cfg.relative_attention_num_buckets, cfg.relative_attention_max_distance,
                                     cfg.num_heads, dtype, pdt, name="relpos_bias")(pos, pos, True)
        bias = mask_to_bias(mask, dtype) + rel
        x = _stack(self, EncoderLayer, cfg.num_encoder_layers, x, (bias,), deterministic=deterministic)
        x = RMSNorm(cfg.layer_norm_epsilon, dtype, pdt, name="encoder_norm")(x)
        return nn.Dropout(cfg.dropout_rate, broadcast_dims=(-2,))(x, deterministic=deterministic)


class Decoder(nn.Module):
    config: T5Config
    shared_embedding: nn.Module

    @nn.compact
    def __call__(self, encoded: Array | None, encoder_tokens: Array, tokens: Array,
                 target_tokens: Array | None = None, encoder_segment_ids: Array | None = None,
                 segment_ids: Array | None = None, positions: Array | None = None,
                 deterministic: bool = True, decode: bool = False) -> Array:
        cfg = self.config
        dtype, pdt = jnp.dtype(cfg.dtype), jnp.dtype(cfg.param_dtype)
        b, length = tokens.shape
        relpos = RelativePositionBiases(cfg.relative_attention_num_buckets, cfg.relative_attention_max_distance,
                                        cfg.num_heads, dtype, pdt, name="relpos_bias")
        enc_valid = encoder_tokens > 0
        stepping = decode and self.has_variable("cache", "position")
        decode_position = None
        if stepping:
            # One decoding step with the KV cache: query position = cache position.
            pos_var = self.variable("cache", "position", lambda: jnp.zeros((), jnp.int32))
            keys_var = self.variable("cache", "key_positions", lambda: jnp.zeros((0,), jnp.int32))
            p = pos_var.value
            k_pos = keys_var.value[None]
            self_bias = relpos(jnp.reshape(p, (1, 1)), k_pos, False)
            self_bias = self_bias + mask_to_bias((k_pos <= p)[:, None, None, :], dtype)
            cross_bias = mask_to_bias(_pair_mask(jnp.ones((b, length), bool), enc_valid), dtype)
            decode_position = p
            pos_var.value = p + 1
        else:
            if decode:  # cache-initialisation call: remember the maximum length
                self.variable("cache", "position", lambda: jnp.zeros((), jnp.int32))
                self.variable("cache", "key_positions", lambda: jnp.arange(length, dtype=jnp.int32))
            q_valid = target_tokens > 0 if target_tokens is not None else jnp.ones((b, length), bool)
            causal = jnp.arange(length)[:, None] >= jnp.arange(length)[None, :]
            self_mask = _pair_mask(q_valid, q_valid) & causal[None, None]
            cross_mask = _pair_mask(q_valid, enc_valid)
            if segment_ids is not None:
                self_mask = self_mask & (segment_ids[:, None, :, None] == segment_ids[:, None, None, :])
                if encoder_segment_ids is not None:
                    cross_mask = cross_mask & (segment_ids[:, None, :, None] == encoder_segment_ids[:, None, None, :])
            pos = positions if positions is not None else jnp.arange(length, dtype=jnp.int32)[None]
            self_bias = mask_to_bias(self_mask, dtype) + relpos(pos, pos, False)
            cross_bias = mask_to_bias(cross_mask, dtype)

        y = self.shared_embedding(tokens).astype(dtype)
        y = nn.Dropout(cfg.dropout_rate, broadcast_dims=(-2,))(y, deterministic=deterministic)
        y = constrain(y, ("batch", "length", "embed"))
        y = _stack(self, DecoderLayer, cfg.num_decoder_layers, y,
                   (self_bias, encoded, cross_bias, decode_position), deterministic=deterministic, decode=decode)
        y = RMSNorm(cfg.layer_norm_epsilon, dtype, pdt, name="decoder_norm")(y)
        y = nn.Dropout(cfg.dropout_rate, broadcast_dims=(-2,))(y, deterministic=deterministic)
        if cfg.logits_via_embedding:
            logits = self.shared_embedding.attend(y) / np.sqrt(y.shape[-1]).astype(np.float32)
            logits = logits.astype(jnp.float32)
        else:
            logits = Dense(cfg.vocab_size, ("embed", "vocab"), dtype=jnp.float32, param_dtype=pdt,
                           name="logits_dense")(y)
        return constrain(logits, ("batch", "length", "vocab"))


class Transformer(nn.Module):
    """T5 encoder-decoder. `__call__` gives teacher-forced logits `[batch, target_len, vocab]` (float32)."""

    config: T5Config

    def setup(self) -> None:
        cfg = self.config
        self.token_embedder = Embed(cfg.vocab_size, cfg.emb_dim, jnp.dtype(cfg.dtype), jnp.dtype(cfg.param_dtype))
        self.encoder = Encoder(cfg, shared_embedding=self.token_embedder)
        self.decoder = Decoder(cfg, shared_embedding=self.token_embedder)

    def encode(self, encoder_input_tokens: Array, encoder_segment_ids: Array | None = None,
               encoder_positions: Array | None = None, enable_dropout: bool = True) -> Array:
        return self.encoder(encoder_input_tokens, encoder_segment_ids, encoder_positions,
                            deterministic=not enable_dropout)

    def decode(self, encoded: Array | None, encoder_input_tokens: Array, decoder_input_tokens: Array,
               decoder_target_tokens: Array | None = None, encoder_segment_ids: Array | None = None,
               decoder_segment_ids: Array | None = None, decoder_positions: Array | None = None,
               enable_dropout: bool = True, decode: bool = False) -> Array:
        return self.decoder(encoded, encoder_input_tokens, decoder_input_tokens, decoder_target_tokens,
                            encoder_segment_ids, decoder_segment_ids, decoder_positions,
                            deterministic=not enable_dropout, decode=decode)

    def __call__(self, encoder_input_tokens: Array, decoder_input_tokens: Array,
                 decoder_target_tokens: Array | None = None, encoder_segment_ids: Array | None = None,
                 decoder_segment_ids: Array | None = None, encoder_positions: Array | None = None,
                 decoder_positions: Array | None = None, enable_dropout: bool = True,
                 decode: bool = False) -> Array:
        encoded = self.encode(encoder_input_tokens, encoder_segment_ids, encoder_positions, enable_dropout)
        return self.decode(encoded, encoder_input_tokens, decoder_input_tokens, decoder_target_tokens,
                           encoder_segment_ids, decoder_segment_ids, decoder_positions, enable_dropout, decode)
