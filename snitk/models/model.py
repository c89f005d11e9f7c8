"""`EncoderDecoderModel`: parameters, loss, scoring and prediction around the T5 network.

Batches are seqio `EncDecFeatureConverter` features: `encoder_input_tokens`, `decoder_input_tokens`,
`decoder_target_tokens`, `decoder_loss_weights` and, when packed, `encoder_segment_ids`,
`decoder_segment_ids`, `encoder_positions`, `decoder_positions`.
"""

from __future__ import annotations

from typing import Any, Mapping

import jax
import jax.numpy as jnp
import numpy as np
import flax.linen as nn

from snitk.errors import ConfigError
from snitk.models.configs import T5Config
from snitk.models.t5 import Transformer

Array = jax.Array
Params = Any

MODEL_FEATURES = ("encoder_input_tokens", "decoder_input_tokens", "decoder_target_tokens", "encoder_segment_ids",
                  "decoder_segment_ids", "encoder_positions", "decoder_positions")


def _model_inputs(batch: Mapping[str, Any]) -> dict[str, Array]:
    missing = [k for k in MODEL_FEATURES[:3] if k not in batch]
    if missing:
        raise ConfigError(f"model batch: missing features {missing}; expected {list(MODEL_FEATURES)}")
    return {k: jnp.asarray(batch[k]) for k in MODEL_FEATURES if batch.get(k) is not None}


def cross_entropy_with_z_loss(logits: Array, targets: Array, z_loss: float = 0.0,
                              label_smoothing: float = 0.0) -> tuple[Array, Array]:
    """Per-token cross entropy and z-loss (`z_loss * logsumexp(logits)^2`), both `[..., length]` float32."""
    logits = logits.astype(jnp.float32)
    log_z = jax.nn.logsumexp(logits, axis=-1)
    target_logit = jnp.take_along_axis(logits, targets[..., None].astype(jnp.int32), axis=-1)[..., 0]
    if label_smoothing > 0:
        v = logits.shape[-1]
        conf = 1.0 - label_smoothing
        low = label_smoothing / (v - 1)
        norm_const = -(conf * np.log(conf) + (v - 1) * low * np.log(low + 1e-20))
        logp_mean = jnp.sum(logits, axis=-1) - v * log_z
        ce = -(conf * (target_logit - log_z) + low * (logp_mean - (target_logit - log_z))) - norm_const
    else:
        ce = log_z - target_logit
    return ce, z_loss * jnp.square(log_z)


class EncoderDecoderModel:
    """Pure functions of `(params, batch)` around a `Transformer(config)`; jitted functions are cached."""

    def __init__(self, config: T5Config):
        self.config = config
        self.module = Transformer(config)
        self._init_jit = jax.jit(self._init_unboxed)
        self._score_jit = jax.jit(self._score_impl)

    # ---------------------------------------------------------------- parameters
    def _dummy_inputs(self) -> tuple[Array, Array]:
        return jnp.ones((1, 1), jnp.int32), jnp.ones((1, 1), jnp.int32)

    def _init_boxed(self, rng: Array) -> Params:
        enc, dec = self._dummy_inputs()
        return self.module.init({"params": rng}, enc, dec, dec, enable_dropout=False)["params"]

    def _init_unboxed(self, rng: Array) -> Params:
        return nn.meta.unbox(self._init_boxed(rng))

    def init_params(self, rng: Array | int) -> Params:
        """Freshly initialised parameters: a plain nested dict of arrays in `param_dtype` (t5x init)."""
        if isinstance(rng, int):
            rng = jax.random.PRNGKey(rng)
        return self._init_jit(rng)

    def abstract_params(self) -> Params:
        """The parameter tree as `jax.ShapeDtypeStruct`s (no allocation)."""
        return jax.eval_shape(self._init_unboxed, jax.random.PRNGKey(0))

    def param_logical_axes(self) -> Params:
        """Tree of `PartitionSpec`s of logical axis names, same structure as the parameters."""
        return nn.get_partition_spec(jax.eval_shape(self._init_boxed, jax.random.PRNGKey(0)))

    # ---------------------------------------------------------------- forward
    def logits(self, params: Params, batch: Mapping[str, Any], dropout_rng: Array | None = None) -> Array:
        """Teacher-forced logits `[batch, target_len, vocab]` float32 (dropout on iff `dropout_rng`)."""
        inputs = _model_inputs(batch)
        rngs = {"dropout": dropout_rng} if dropout_rng is not None else None
        return self.module.apply({"params": params}, **inputs, enable_dropout=dropout_rng is not None, rngs=rngs)

    def loss_fn(self, params: Params, batch: Mapping[str, Any], dropout_rng: Array | None = None, *,
                z_loss: float = 1e-4, loss_normalizing_factor: float | str | None = None,
                label_smoothing: float = 0.0) -> tuple[Array, dict[str, Array]]:
        """Weighted cross entropy plus z-loss.

        `loss_normalizing_factor`: None or "NUM_REAL_TARGET_TOKENS" divides the summed loss by the sum of
        `decoder_loss_weights`; a number divides by that constant (t5x's fixed factor).
        Returns `(loss, {"cross_ent_loss", "z_loss", "weight_sum", "accuracy"})`.
        """
        logits = self.logits(params, batch, dropout_rng)
        targets = jnp.asarray(batch["decoder_target_tokens"])
        weights = batch.get("decoder_loss_weights")
        weights = (targets > 0).astype(jnp.float32) if weights is None else jnp.asarray(weights, jnp.float32)
        ce, zl = cross_entropy_with_z_loss(logits, targets, z_loss, label_smoothing)
        weight_sum = jnp.sum(weights)
        if loss_normalizing_factor is None or loss_normalizing_factor == "NUM_REAL_TARGET_TOKENS":
            norm = jnp.maximum(weight_sum, 1e-8)
        elif isinstance(loss_normalizing_factor, str):
            raise ConfigError(f"loss_normalizing_factor: {loss_normalizing_factor!r}; expected None, "
                              "'NUM_REAL_TARGET_TOKENS' or a number")
        else:
            norm = jnp.asarray(loss_normalizing_factor, jnp.float32)
        ce_sum = jnp.sum(ce * weights)
        z_sum = jnp.sum(zl * weights)
        correct = jnp.sum((jnp.argmax(logits, axis=-1) == targets) * weights)
        loss = (ce_sum + z_sum) / norm
        metrics = {"cross_ent_loss": ce_sum / norm, "z_loss": z_sum / norm, "weight_sum": weight_sum,
                   "accuracy": correct / jnp.maximum(weight_sum, 1e-8)}
        return loss, metrics

    def _score_impl(self, params: Params, inputs: dict[str, Array], weights: Array) -> Array:
        logits = self.module.apply({"params": params}, **inputs, enable_dropout=False)
        logp = jax.nn.log_softmax(logits.astype(jnp.float32), axis=-1)
        tok = jnp.take_along_axis(logp, inputs["decoder_target_tokens"][..., None].astype(jnp.int32), axis=-1)[..., 0]
        return jnp.sum(tok * weights, axis=-1)

    def score_batch(self, params: Params, batch: Mapping[str, Any]) -> Array:
        """`[batch]` float32 log-likelihood: sum of `log p(target)` over positions with non-zero weight."""
        inputs = _model_inputs(batch)
        weights = batch.get("decoder_loss_weights")
        targets = inputs["decoder_target_tokens"]
        weights = (targets > 0).astype(jnp.float32) if weights is None else jnp.asarray(weights, jnp.float32)
        return self._score_jit(params, inputs, weights)

    def predict_batch(self, params: Params, encoder_input_tokens: Array, *, max_decode_length: int,
                      beam_size: int = 1, alpha: float = 0.6) -> Array:
        """Decoded ids `[batch, max_decode_length]` int32: greedy for `beam_size == 1`, else beam search.
        The decoder starts from id 0; positions after EOS are 0."""
        from snitk.models import decoding

        return decoding.predict(self, params, encoder_input_tokens, max_decode_length=max_decode_length,
                                beam_size=beam_size, alpha=alpha)


def num_params(config: T5Config) -> int:
    """Number of parameters, computed from shapes only (no allocation)."""
    import math

    # Scanned layers trace each stack once (fast for 24-layer models); the count is the same.
    shapes = EncoderDecoderModel(config.replace(scan_layers=True, remat_policy="none")).abstract_params()
    return int(sum(math.prod(x.shape) for x in jax.tree_util.tree_leaves(shapes)))
