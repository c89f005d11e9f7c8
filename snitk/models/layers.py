"""Building blocks of the T5 network (Flax Linen) with t5x parameter names and logical axes.

Parameters are declared with `nn.with_logical_partitioning`, so the boxed tree carries logical axis
names (`embed`, `mlp`, `heads`, `kv`, `joined_kv`, `vocab`, `relpos_buckets`, and `layers` when
scanned). Activations get logical constraints (`batch`, `length`, ...) that only act under a mesh
with axis rules.
"""

from __future__ import annotations

import functools
from typing import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import flax.linen as nn

from snitk.models.configs import T5Config

Array = jax.Array
NEG_INF = -1e10

default_kernel_init = nn.initializers.variance_scaling(1.0, "fan_in", "truncated_normal")
attention_kernel_init = nn.initializers.variance_scaling(1.0, "fan_in", "normal")


def constrain(x: Array, axes: tuple[str | None, ...]) -> Array:
    """Logical sharding constraint; a no-op outside a mesh / axis-rules context."""
    return nn.with_logical_constraint(x, axes)


def activation_fn(name: str) -> Callable[[Array], Array]:
    return {
        "gelu": functools.partial(jax.nn.gelu, approximate=True),
        "gelu_exact": functools.partial(jax.nn.gelu, approximate=False),
        "relu": jax.nn.relu,
        "silu": jax.nn.silu,
        "linear": lambda x: x,
    }[name]


class Dense(nn.Module):
    """`y = x @ kernel` with a 2-D kernel `[in, out]` (no bias), as t5x's DenseGeneral stores it."""

    features: int
    kernel_axes: tuple[str, str]
    dtype: jnp.dtype = jnp.float32
    param_dtype: jnp.dtype = jnp.float32
    kernel_init: Callable = default_kernel_init

    @nn.compact
    def __call__(self, x: Array) -> Array:
        kernel = self.param("kernel", nn.with_logical_partitioning(self.kernel_init, self.kernel_axes),
                            (x.shape[-1], self.features), self.param_dtype)
        return jnp.dot(x.astype(self.dtype), jnp.asarray(kernel, self.dtype))


class RMSNorm(nn.Module):
    """T5 layer norm: `x / sqrt(mean(x^2) + eps) * scale`, statistics in float32."""

    epsilon: float = 1e-6
    dtype: jnp.dtype = jnp.float32
    param_dtype: jnp.dtype = jnp.float32

    @nn.compact
    def __call__(self, x: Array) -> Array:
        x32 = jnp.asarray(x, jnp.float32)
        var = jnp.mean(jnp.square(x32), axis=-1, keepdims=True)
        y = jnp.asarray(x32 * jax.lax.rsqrt(var + self.epsilon), self.dtype)
        scale = self.param("scale", nn.with_logical_partitioning(nn.initializers.ones, ("embed",)),
                           (x.shape[-1],), self.param_dtype)
        return y * jnp.asarray(scale, self.dtype)


class Embed(nn.Module):
    """Token embedding `[vocab, embed]`; `attend` gives tied logits."""

    num_embeddings: int
    features: int
    dtype: jnp.dtype = jnp.float32
    param_dtype: jnp.dtype = jnp.float32

    def setup(self) -> None:
        self.embedding = self.param(
            "embedding", nn.with_logical_partitioning(nn.initializers.normal(stddev=1.0), ("vocab", "embed")),
            (self.num_embeddings, self.features), self.param_dtype)

    def __call__(self, ids: Array) -> Array:
        return jnp.take(jnp.asarray(self.embedding, self.dtype), ids.astype(jnp.int32), axis=0)

    def attend(self, x: Array) -> Array:
        return jnp.dot(x.astype(self.dtype), jnp.asarray(self.embedding, self.dtype).T)


@functools.lru_cache(maxsize=None)
def _bucket_table(bidirectional: bool, num_buckets: int, max_distance: int) -> np.ndarray:
    """Bucket of every relative position `key - query` in [-max_distance, max_distance] (numpy, float32 math
    as the reference implementation). Beyond +-max_distance the bucket saturates, so clipping is exact."""
    rel = np.arange(-max_distance, max_distance + 1, dtype=np.int64)
    n = -rel
    ret = np.zeros_like(n)
    nb = num_buckets
    if bidirectional:
        nb //= 2
        ret += (n < 0).astype(np.int64) * nb
        n = np.abs(n)
    else:
        n = np.maximum(n, 0)
    max_exact = nb // 2
    is_small = n < max_exact
    large = max_exact + (
        np.log(n.astype(np.float32) / max_exact + np.finfo(np.float32).eps)
        / np.log(max_distance / max_exact) * (nb - max_exact)
    ).astype(np.int64)
    large = np.minimum(large, nb - 1)
    ret += np.where(is_small, n, large)
    return ret.astype(np.int32)


def relative_position_bucket(relative_position: Array, *, bidirectional: bool, num_buckets: int = 32,
                             max_distance: int = 128) -> Array:
    """T5 bucket of `relative_position = key_pos - query_pos` (any integer array)."""
    table = jnp.asarray(_bucket_table(bidirectional, num_buckets, max_distance))
    idx = jnp.clip(relative_position, -max_distance, max_distance) + max_distance
    return table[idx]


class RelativePositionBiases(nn.Module):
    """Per-head bias `rel_embedding[h, bucket(k - q)]` -> `[batch|1, heads, q, k]`."""

    num_buckets: int
    max_distance: int
    num_heads: int
    dtype: jnp.dtype = jnp.float32
    param_dtype: jnp.dtype = jnp.float32

    @nn.compact
    def __call__(self, q_pos: Array, k_pos: Array, bidirectional: bool) -> Array:
        """q_pos `[b, q]`, k_pos `[b, k]` (b may be 1) integer positions."""
        table = self.param(
            "rel_embedding",
            nn.with_logical_partitioning(nn.initializers.variance_scaling(1.0, "fan_avg", "uniform"),
                                         ("heads", "relpos_buckets")),
            (self.num_heads, self.num_buckets), self.param_dtype)
        rel = k_pos[:, None, :] - q_pos[:, :, None]
        buckets = relative_position_bucket(rel, bidirectional=bidirectional, num_buckets=self.num_buckets,
                                           max_distance=self.max_distance)
        values = jnp.take(jnp.asarray(table, self.dtype).T, buckets, axis=0)  # [b, q, k, h]
        return jnp.transpose(values, (0, 3, 1, 2))


def mask_to_bias(mask: Array, dtype: jnp.dtype) -> Array:
    """Boolean `[b, 1|h, q, k]` mask -> additive bias (0 or -1e10)."""
    return jnp.where(mask, jnp.zeros((), dtype), jnp.asarray(NEG_INF, dtype))


class MultiHeadAttention(nn.Module):
    """Multi-head dot-product attention without `1/sqrt(d)` (folded into the query init, as t5x).

    `kind` is "self" or "cross". With `decode=True` a "self" layer keeps a KV cache (`cached_key`,
    `cached_value`, `[b, max_len, heads, head_dim]`) written at `decode_position`; a "cross" layer keeps
    the projected encoder keys/values (`cross_key`, `cross_value`) computed on the cache-init call.
    """

    config: T5Config
    kind: str = "self"
    decode: bool = False
    deterministic: bool = True

    @nn.compact
    def __call__(self, x_q: Array, x_kv: Array | None, bias: Array | None,
                 decode_position: Array | None = None) -> Array:
        cfg = self.config
        dtype, pdt = jnp.dtype(cfg.dtype), jnp.dtype(cfg.param_dtype)
        h, d = cfg.num_heads, cfg.head_dim
        depth_scaling = float(np.sqrt(d))

        def q_init(key, shape, dt=jnp.float32):
            return attention_kernel_init(key, shape, dt) / jnp.asarray(depth_scaling, dt)

        proj = functools.partial(Dense, features=h * d, kernel_axes=("embed", "joined_kv"), dtype=dtype,
                                 param_dtype=pdt, kernel_init=attention_kernel_init)
        b, ql = x_q.shape[0], x_q.shape[1]
        q = proj(name="query", kernel_init=q_init)(x_q).reshape(b, ql, h, d)

        def kv() -> tuple[Array, Array]:
            kl = x_kv.shape[1]
            k = proj(name="key")(x_kv).reshape(b, kl, h, d)
            v = proj(name="value")(x_kv).reshape(b, kl, h, d)
            return k, v

        if self.decode and self.kind == "cross":
            if self.has_variable("cache", "cross_key"):
                k = self.get_variable("cache", "cross_key")
                v = self.get_variable("cache", "cross_value")
            else:
                k, v = kv()
                self.put_variable("cache", "cross_key", k)
                self.put_variable("cache", "cross_value", v)
        elif self.decode and self.kind == "self":
            initialized = self.has_variable("cache", "cached_key")
            k, v = kv()
            ck = self.variable("cache", "cached_key", jnp.zeros, k.shape, k.dtype)
            cv = self.variable("cache", "cached_value", jnp.zeros, v.shape, v.dtype)
            if initialized:
                pos = jnp.asarray(decode_position, jnp.int32)
                ck.value = jax.lax.dynamic_update_slice(ck.value, k.astype(ck.value.dtype), (0, pos, 0, 0))
                cv.value = jax.lax.dynamic_update_slice(cv.value, v.astype(cv.value.dtype), (0, pos, 0, 0))
                k, v = ck.value, cv.value
        else:
            k, v = kv()

        q = constrain(q, ("batch", "length", "heads", "kv"))
        k = constrain(k, ("batch", "length", "heads", "kv"))
        v = constrain(v, ("batch", "length", "heads", "kv"))
        logits = jnp.einsum("bqhd,bkhd->bhqk", q, k)
        if bias is not None:
            logits = logits + bias.astype(logits.dtype)
        weights = jax.nn.softmax(logits.astype(jnp.float32), axis=-1).astype(dtype)
        if not self.deterministic and cfg.dropout_rate > 0:
            keep = 1.0 - cfg.dropout_rate
            shape = list(weights.shape)
            shape[-2] = 1  # broadcast over queries
            mask = jax.random.bernoulli(self.make_rng("dropout"), keep, shape)
            weights = weights * (mask.astype(dtype) / jnp.asarray(keep, dtype))
        out = jnp.einsum("bhqk,bkhd->bqhd", weights, v).reshape(b, ql, h * d)
        return Dense(cfg.emb_dim, ("joined_kv", "embed"), dtype=dtype, param_dtype=pdt,
                     kernel_init=attention_kernel_init, name="out")(out)


class MlpBlock(nn.Module):
    """Gated MLP: `prod_i act_i(x @ wi_i) @ wo` (`wi` alone when there is one activation)."""

    config: T5Config
    deterministic: bool = True

    @nn.compact
    def __call__(self, x: Array) -> Array:
        cfg = self.config
        dtype, pdt = jnp.dtype(cfg.dtype), jnp.dtype(cfg.param_dtype)
        acts: Sequence[str] = cfg.mlp_activations
        hidden = None
        for i, act in enumerate(acts):
            name = "wi" if len(acts) == 1 else f"wi_{i}"
            y = activation_fn(act)(Dense(cfg.mlp_dim, ("embed", "mlp"), dtype=dtype, param_dtype=pdt, name=name)(x))
            hidden = y if hidden is None else hidden * y
        hidden = nn.Dropout(cfg.dropout_rate, broadcast_dims=(-2,))(hidden, deterministic=self.deterministic)
        hidden = constrain(hidden, ("batch", "length", "mlp"))
        return Dense(cfg.emb_dim, ("mlp", "embed"), dtype=dtype, param_dtype=pdt, name="wo")(hidden)
