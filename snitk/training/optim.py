"""Optimisers and learning-rate schedules (t5x defaults: Adafactor, decay 0.8, parameter scaling, clipping 1.0)."""

from __future__ import annotations

from typing import Callable

import jax.numpy as jnp
import optax

from snitk.errors import ConfigError

Schedule = Callable[[int], jnp.ndarray]
SCHEDULES = ("constant", "rsqrt", "linear", "cosine")
OPTIMIZERS = ("adafactor", "adamw", "sgd")


def make_schedule(name: str = "constant", base_learning_rate: float = 1e-3, *, warmup_steps: int = 0,
                  total_steps: int | None = None, end_learning_rate: float = 0.0) -> Schedule:
    """A learning-rate schedule ``step -> lr``.

    - ``constant``: ``base`` (after an optional linear warmup).
    - ``rsqrt``: linear warmup to ``base`` over ``warmup_steps``, then ``base * sqrt(warmup / step)``
      (t5x's ``rsqrt_decay`` scaled so that ``base`` is the peak).
    - ``linear``: linear warmup, then linear decay to ``end_learning_rate`` at ``total_steps``.
    - ``cosine``: linear warmup, then cosine decay to ``end_learning_rate`` at ``total_steps``.
    """
    if name not in SCHEDULES:
        raise ConfigError(f"schedule.name={name!r}: expected one of {SCHEDULES}")
    if warmup_steps < 0:
        raise ConfigError(f"schedule.warmup_steps={warmup_steps}: expected >= 0")
    if name in ("linear", "cosine") and not total_steps:
        raise ConfigError(f"schedule.name={name!r} needs total_steps (defaults to train.train_steps)")
    base = float(base_learning_rate)
    w = int(warmup_steps)

    def warm(step: jnp.ndarray) -> jnp.ndarray:
        if w == 0:
            return jnp.ones_like(step, dtype=jnp.float32)
        return jnp.minimum(1.0, (step.astype(jnp.float32) + 1.0) / w)

    def fn(step):
        step = jnp.asarray(step)
        s = step.astype(jnp.float32)
        if name == "constant":
            return base * warm(step)
        if name == "rsqrt":
            ref = float(max(w, 1))
            return base * warm(step) * jnp.sqrt(ref / jnp.maximum(s, ref))
        frac = jnp.clip((s - w) / max(int(total_steps) - w, 1), 0.0, 1.0)  # type: ignore[arg-type]
        if name == "linear":
            decay = 1.0 - frac
        else:
            decay = 0.5 * (1.0 + jnp.cos(jnp.pi * frac))
        return warm(step) * (end_learning_rate + (base - end_learning_rate) * decay)

    return fn


def make_optimizer(name: str = "adafactor", learning_rate: float | Schedule = 1e-3, *,
                   decay_rate: float = 0.8, multiply_by_parameter_scale: bool = True,
                   clipping_threshold: float | None = 1.0, min_dim_size_to_factor: int = 128,
                   factored: bool = True, momentum: float | None = None,
                   b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8, weight_decay: float = 0.0,
                   max_grad_norm: float | None = None) -> optax.GradientTransformation:
    """Adafactor configured as t5x does (factored second moments for dims >= 128, decay 0.8,
    update clipping 1.0, updates scaled by parameter RMS), AdamW, or plain SGD.

    ``max_grad_norm`` optionally clips the global gradient norm first.
    """
    if name == "adafactor":
        tx = optax.adafactor(learning_rate=learning_rate, min_dim_size_to_factor=min_dim_size_to_factor,
                             decay_rate=decay_rate, multiply_by_parameter_scale=multiply_by_parameter_scale,
                             clipping_threshold=clipping_threshold, momentum=momentum, factored=factored)
    elif name == "adamw":
        tx = optax.adamw(learning_rate=learning_rate, b1=b1, b2=b2, eps=eps, weight_decay=weight_decay)
    elif name == "sgd":
        tx = optax.sgd(learning_rate=learning_rate, momentum=momentum)
    else:
        raise ConfigError(f"optimizer.name={name!r}: expected one of {OPTIMIZERS}")
    if max_grad_norm:
        tx = optax.chain(optax.clip_by_global_norm(max_grad_norm), tx)
    return tx
