"""Greedy and beam-search decoding with a KV cache (flax "cache" collection).

The whole decode (encoder, cache initialisation, `lax.while_loop` over positions) is one jitted function
per (model, max_decode_length, beam_size, alpha); jax re-traces only for new input shapes, so callers
should bucket input lengths. Parameters may be sharded: nothing is moved to a single device.

Semantics follow t5x: the decoder starts from id 0; greedy (`temperature_sample` at temperature 0)
writes 0 after EOS and may end without EOS; beam search keeps the top 2k candidates per step, scores
finished hypotheses by `log p / ((5 + len) / 6) ** alpha`, stops early when no live beam can beat the
worst finished one, and falls back to the live beams for rows where nothing finished.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

from snitk.models.t5 import Transformer

if TYPE_CHECKING:
    from snitk.models.model import EncoderDecoderModel

Array = jax.Array
EOS_ID = 1
NEG_INF = -1.0e7
_BEAM_GATHERED = ("cached_key", "cached_value")


def brevity_penalty(alpha: float, length: Array | int) -> Array:
    """t5x / GNMT length penalty `((5 + length) / 6) ** alpha`."""
    return jnp.power((5.0 + jnp.asarray(length, jnp.float32)) / 6.0, alpha)


def _encode(module: Transformer, params: Any, enc_tokens: Array) -> Array:
    return module.apply({"params": params}, enc_tokens, enable_dropout=False, method=Transformer.encode)


def init_cache(module: Transformer, params: Any, encoded: Array, enc_tokens: Array, max_len: int) -> Any:
    """The decoding cache for `max_len` positions; cross-attention keys/values of `encoded` are precomputed.
    (Under jit the throw-away full-length decoder pass is dead code and gets removed.)"""
    dummy = jnp.zeros((enc_tokens.shape[0], max_len), jnp.int32)
    _, variables = module.apply({"params": params}, encoded, enc_tokens, dummy, enable_dropout=False, decode=True,
                                method=Transformer.decode, mutable=["cache"])
    return variables["cache"]


def decode_step(module: Transformer, params: Any, cache: Any, tokens: Array, enc_tokens: Array
                ) -> tuple[Array, Any]:
    """Logits `[batch, vocab]` for the next position given the current tokens `[batch]`, and the new cache."""
    logits, variables = module.apply({"params": params, "cache": cache}, None, enc_tokens, tokens[:, None],
                                     enable_dropout=False, decode=True, method=Transformer.decode, mutable=["cache"])
    return logits[:, 0].astype(jnp.float32), variables["cache"]


def greedy_search(module: Transformer, params: Any, enc_tokens: Array, max_len: int) -> tuple[Array, Array]:
    """Argmax decoding. Returns ids `[batch, max_len]` (0 after EOS) and their summed log-probs `[batch]`."""
    b = enc_tokens.shape[0]
    encoded = _encode(module, params, enc_tokens)
    cache = init_cache(module, params, encoded, enc_tokens, max_len)

    def cond(state):
        i, _, _, done, _, _ = state
        return (i < max_len) & ~jnp.all(done)

    def body(state):
        i, seqs, cur, done, logp_sum, cache = state
        logits, cache = decode_step(module, params, cache, cur, enc_tokens)
        logp = jax.nn.log_softmax(logits, axis=-1)
        nxt = jnp.argmax(logits, axis=-1).astype(jnp.int32)
        logp_sum = logp_sum + jnp.where(done, 0.0, jnp.take_along_axis(logp, nxt[:, None], axis=-1)[:, 0])
        nxt = jnp.where(done, 0, nxt)
        seqs = jax.lax.dynamic_update_slice(seqs, nxt[:, None], (0, i))
        return i + 1, seqs, nxt, done | (nxt == EOS_ID), logp_sum, cache

    state = (jnp.asarray(0, jnp.int32), jnp.zeros((b, max_len), jnp.int32), jnp.zeros((b,), jnp.int32),
             jnp.zeros((b,), bool), jnp.zeros((b,), jnp.float32), cache)
    _, seqs, _, _, logp_sum, _ = jax.lax.while_loop(cond, body, state)
    return seqs, logp_sum


def _gather_beams(x: Array, idx: Array) -> Array:
    """x `[b, n, ...]`, idx `[b, m]` -> `[b, m, ...]`."""
    return jnp.take_along_axis(x, idx.reshape(idx.shape + (1,) * (x.ndim - 2)), axis=1)


def _cache_gather(cache: Any, src: Array, batch: int, beams: int, scanned: bool) -> Any:
    """Reorder the self-attention KV cache rows `[batch*beams]` by source beam `src` `[batch, beams]`."""
    axis = 1 if scanned else 0

    def fn(path, x):
        name = getattr(path[-1], "key", None)
        if name not in _BEAM_GATHERED:
            return x
        x = jnp.moveaxis(x, axis, 0)
        y = x.reshape((batch, beams) + x.shape[1:])
        y = _gather_beams(y, src).reshape(x.shape)
        return jnp.moveaxis(y, 0, axis)

    return jax.tree_util.tree_map_with_path(fn, cache)


def beam_search(module: Transformer, params: Any, enc_tokens: Array, max_len: int, beam_size: int,
                alpha: float = 0.6) -> tuple[Array, Array]:
    """Beam search. Returns all beams `[batch, beam, max_len]` best first, and their scores `[batch, beam]`
    (length-normalised log-probs for finished beams, raw log-probs where nothing finished)."""
    b, k = enc_tokens.shape[0], beam_size
    scanned = module.config.scan_layers
    flat_enc = jnp.repeat(enc_tokens, k, axis=0)
    encoded = _encode(module, params, flat_enc)
    cache = init_cache(module, params, encoded, flat_enc, max_len)
    total = max_len + 1  # slot 0 holds the start token
    max_bp = brevity_penalty(alpha, total)

    def cond(state):
        i, live_lp, _, fin_scores, _, fin_flags, _ = state
        best_live = live_lp[:, :1] / max_bp
        worst_fin = jnp.where(fin_flags, jnp.min(fin_scores, axis=1, keepdims=True), NEG_INF)
        return (i < total - 1) & ~jnp.all(worst_fin > best_live)

    def body(state):
        i, live_lp, live_seqs, fin_scores, fin_seqs, fin_flags, cache = state
        cur = jax.lax.dynamic_index_in_dim(live_seqs, i, axis=2, keepdims=False).reshape(b * k)
        logits, cache = decode_step(module, params, cache, cur, flat_enc)
        vocab = logits.shape[-1]
        logp = jax.nn.log_softmax(logits, axis=-1).reshape(b, k, vocab) + live_lp[:, :, None]
        cand_lp, cand_idx = jax.lax.top_k(logp.reshape(b, k * vocab), 2 * k)
        cand_beam, cand_tok = cand_idx // vocab, (cand_idx % vocab).astype(jnp.int32)
        cand_seqs = _gather_beams(live_seqs, cand_beam)
        cand_seqs = jax.lax.dynamic_update_slice(cand_seqs, cand_tok[:, :, None], (0, 0, i + 1))
        is_eos = cand_tok == EOS_ID
        # Live set: best k candidates that did not end.
        alive_lp = cand_lp + is_eos * NEG_INF
        _, keep = jax.lax.top_k(alive_lp, k)
        new_live_seqs = _gather_beams(cand_seqs, keep)
        new_live_lp = _gather_beams(alive_lp, keep)
        cache = _cache_gather(cache, _gather_beams(cand_beam, keep), b, k, scanned)
        # Finished set: merge old finished with candidates that just ended, keep the best k.
        new_scores = cand_lp / brevity_penalty(alpha, i + 1) + (~is_eos) * NEG_INF
        all_scores = jnp.concatenate([fin_scores, new_scores], axis=1)
        all_seqs = jnp.concatenate([fin_seqs, cand_seqs], axis=1)
        all_flags = jnp.concatenate([fin_flags, is_eos], axis=1)
        _, top = jax.lax.top_k(all_scores, k)
        return (i + 1, new_live_lp, new_live_seqs, _gather_beams(all_scores, top), _gather_beams(all_seqs, top),
                _gather_beams(all_flags, top), cache)

    live_lp0 = jnp.tile(jnp.asarray([0.0] + [NEG_INF] * (k - 1), jnp.float32), (b, 1))
    seqs0 = jnp.zeros((b, k, total), jnp.int32)
    state = (jnp.asarray(0, jnp.int32), live_lp0, seqs0, jnp.full((b, k), NEG_INF, jnp.float32), seqs0,
             jnp.zeros((b, k), bool), cache)
    _, live_lp, live_seqs, fin_scores, fin_seqs, fin_flags, _ = jax.lax.while_loop(cond, body, state)
    any_fin = jnp.any(fin_flags, axis=1)
    seqs = jnp.where(any_fin[:, None, None], fin_seqs, live_seqs)
    scores = jnp.where(any_fin[:, None], fin_scores, live_lp)
    return seqs[:, :, 1:], scores


@functools.lru_cache(maxsize=64)
def jitted_search(config: Any, max_len: int, beam_size: int, alpha: float = 0.6) -> Callable:
    """`fn(params, encoder_input_tokens)` compiled once per shape: `greedy_search` for `beam_size == 1`
    (ids, log-probs), else `beam_search` (all beams, scores). Cached per (config, max_len, beam, alpha)."""
    module = Transformer(config)
    if beam_size == 1:
        return jax.jit(lambda p, x: greedy_search(module, p, x, max_len))
    return jax.jit(lambda p, x: beam_search(module, p, x, max_len, beam_size, alpha))


def predict(model: "EncoderDecoderModel", params: Any, encoder_input_tokens: Any, *, max_decode_length: int,
            beam_size: int = 1, alpha: float = 0.6) -> Array:
    """Decoded ids `[batch, max_decode_length]` (greedy when `beam_size == 1`, else the best beam)."""
    if beam_size < 1 or max_decode_length < 1:
        from snitk.errors import ConfigError

        raise ConfigError(f"decoding: beam_size ({beam_size}) and max_decode_length ({max_decode_length}) "
                          "must be >= 1")
    fn = jitted_search(model.config, int(max_decode_length), int(beam_size), float(alpha if beam_size > 1 else 0.0))
    tokens = encoder_input_tokens
    if not isinstance(tokens, jax.Array):
        tokens = np.asarray(tokens, np.int32)
    seqs, _ = fn(params, tokens)
    return seqs if beam_size == 1 else seqs[:, 0]
