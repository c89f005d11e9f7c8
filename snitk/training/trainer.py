"""The sharded train step: loss + z-loss, gradient accumulation over microbatches, optimizer update.

Train state is a plain dict ``{"step": int32[], "params": tree, "opt_state": optax state}`` whose arrays
are created directly with their mesh shardings (``jax.jit(..., out_shardings=...)``), never materialised
on one device first.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future
from typing import Any, Callable, Mapping

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import PartitionSpec

from snitk.errors import ConfigError, SnitkError
from snitk.training.partitioning import Partitioner, opt_state_mesh_specs

log = logging.getLogger(__name__)


class NonFiniteLossError(SnitkError):
    """The loss became NaN or infinite; the run stops keeping the last good checkpoint."""


LOSS_NORMALIZATIONS = ("num_target_tokens", "per_sequence_mean")


def _normalizer(batch: Mapping[str, jax.Array], loss_normalizing_factor: float | str | None) -> jax.Array:
    """The divisor of the summed token loss, as in t5x: None = no normalisation (an unnormalised sum),
    a number = that constant, "num_target_tokens" = the target tokens of the whole batch;
    "per_sequence_mean" divides by the number of sequences (the weights are rescaled by `_loss_weights`)."""
    if loss_normalizing_factor is None:
        return jnp.asarray(1.0, jnp.float32)
    if loss_normalizing_factor == "num_target_tokens":
        return jnp.maximum(jnp.sum(batch["decoder_loss_weights"].astype(jnp.float32)), 1.0)
    if loss_normalizing_factor == "per_sequence_mean":
        weights = batch["decoder_loss_weights"].astype(jnp.float32)
        return jnp.maximum(jnp.sum(jnp.sum(weights, axis=-1) > 0), 1.0)
    if isinstance(loss_normalizing_factor, (int, float)) and not isinstance(loss_normalizing_factor, bool):
        return jnp.asarray(float(loss_normalizing_factor), jnp.float32)
    raise ConfigError(f"train.loss_normalizing_factor={loss_normalizing_factor!r}: expected None (an unnormalised "
                      f"sum, as t5x), a number, or one of {LOSS_NORMALIZATIONS}")


def _loss_weights(batch: Mapping[str, jax.Array], loss_normalizing_factor: float | str | None) -> dict:
    """For "per_sequence_mean", each row's weights divided by its target tokens (unpacked rows: the mean
    over sequences of each sequence's mean token loss, as Hugging Face's Trainer with batch 1 per device)."""
    if loss_normalizing_factor != "per_sequence_mean":
        return dict(batch)
    if "decoder_segment_ids" in batch:
        raise ConfigError("train.loss_normalizing_factor='per_sequence_mean' needs unpacked rows (train.pack = False)")
    w = batch["decoder_loss_weights"].astype(jnp.float32)
    return {**batch, "decoder_loss_weights": w / jnp.maximum(jnp.sum(w, axis=-1, keepdims=True), 1.0)}


class Trainer:
    """Builds sharded init / train / eval functions for an ``EncoderDecoderModel`` on a ``Partitioner`` mesh."""

    def __init__(self, model: Any, optimizer: optax.GradientTransformation, partitioner: Partitioner, *,
                 schedule: Callable[[Any], Any] | None = None, num_microbatches: int = 1, z_loss: float = 1e-4,
                 loss_normalizing_factor: float | str | None = "num_target_tokens", seed: int = 0):
        self.model = model
        self.optimizer = optimizer
        self.partitioner = partitioner
        self.schedule = schedule
        self.num_microbatches = int(num_microbatches)
        if self.num_microbatches < 1:
            raise ConfigError(f"train.num_microbatches={num_microbatches}: expected >= 1")
        self.z_loss = float(z_loss)
        self.loss_normalizing_factor = loss_normalizing_factor
        _normalizer({"decoder_loss_weights": jnp.ones((1,))}, loss_normalizing_factor)  # validate early
        self.seed = int(seed)
        self.abstract_params = model.abstract_params()
        self.param_specs = partitioner.param_specs(self.abstract_params, model.param_logical_axes())
        self.abstract_opt_state = jax.eval_shape(optimizer.init, self.abstract_params)
        self.opt_specs = opt_state_mesh_specs(self.abstract_opt_state, self.abstract_params, self.param_specs)
        specs = {"step": PartitionSpec(), "params": self.param_specs, "opt_state": self.opt_specs}
        self.state_specs = specs
        self.state_shardings = partitioner.to_shardings(specs)
        self.param_shardings = self.state_shardings["params"]
        self._train_step = None
        self._precompiled: Future | None = None
        self._precompiled_shapes: dict[str, tuple] | None = None
        self._eval_loss = None

    # ----------------------------------------------------------------------------- state
    def abstract_state(self) -> dict[str, Any]:
        """ShapeDtypeStructs (with shardings) of the train state; no allocation."""
        tree = {"step": jax.ShapeDtypeStruct((), jnp.int32), "params": self.abstract_params,
                "opt_state": self.abstract_opt_state}
        return jax.tree.map(lambda a, s: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=s), tree,
                            self.state_shardings)

    def init_state(self, seed: int | None = None) -> dict[str, Any]:
        """Random parameters and a fresh optimizer state, created sharded."""
        key = jax.random.key(self.seed if seed is None else seed)

        def init(k):
            params = self.model.init_params(k)
            return {"step": jnp.zeros((), jnp.int32), "params": params, "opt_state": self.optimizer.init(params)}

        return jax.jit(init, out_shardings=self.state_shardings)(key)

    def state_from_params(self, params: Any, step: int = 0) -> dict[str, Any]:
        """A train state around given (e.g. converted) parameters with a fresh optimizer state."""
        params = jax.device_put(params, self.param_shardings)

        def init(p):
            return {"step": jnp.asarray(step, jnp.int32), "params": p, "opt_state": self.optimizer.init(p)}

        return jax.jit(init, out_shardings=self.state_shardings)(params)

    # ----------------------------------------------------------------------------- steps
    def _loss_and_grads(self, params: Any, batch: Mapping[str, jax.Array], rng: jax.Array):
        norm = _normalizer(batch, self.loss_normalizing_factor)
        batch = _loss_weights(batch, self.loss_normalizing_factor)

        def loss_fn(p, mb, r):
            loss, aux = self.model.loss_fn(p, mb, r, z_loss=self.z_loss, loss_normalizing_factor=norm)
            return loss, aux

        grad_fn = jax.value_and_grad(loss_fn, has_aux=True)
        m = self.num_microbatches
        if m == 1:
            (loss, aux), grads = grad_fn(params, batch, rng)
            return loss, aux, grads
        bsz = next(iter(batch.values())).shape[0]
        if bsz % m:
            raise ConfigError(f"batch size {bsz} is not divisible by train.num_microbatches={m}")

        def split(x):  # microbatch j = rows j, j+m, j+2m, ... (spread evenly over the data axis)
            x = x.reshape((bsz // m, m) + x.shape[1:])
            x = jnp.swapaxes(x, 0, 1)
            return jax.lax.with_sharding_constraint(
                x, jax.sharding.NamedSharding(self.partitioner.mesh, PartitionSpec(None, "data")))

        micro = {k: split(v) for k, v in batch.items()}
        zeros = jax.tree.map(lambda p: jnp.zeros(p.shape, jnp.float32), params)

        def body(carry, xs):
            g_acc, loss_acc, aux_acc = carry
            mb, j = xs
            (loss, aux), g = grad_fn(params, mb, jax.random.fold_in(rng, j))
            g_acc = jax.tree.map(lambda a, b: a + b.astype(jnp.float32), g_acc, g)
            aux_acc = jax.tree.map(lambda a, b: a + jnp.asarray(b, jnp.float32), aux_acc, aux)
            return (g_acc, loss_acc + loss, aux_acc), None

        aux_shape = jax.eval_shape(lambda: grad_fn(params, jax.tree.map(lambda x: x[0], micro), rng)[0][1])
        aux0 = jax.tree.map(lambda a: jnp.zeros(a.shape, jnp.float32), aux_shape)
        (grads, loss, aux), _ = jax.lax.scan(body, (zeros, jnp.zeros((), jnp.float32), aux0),
                                             (micro, jnp.arange(m)))
        # Ratios (accuracy) were summed over microbatches: average them; sums stay sums.
        aux = {k: (v if k in ("cross_ent_loss", "z_loss", "weight_sum") else v / m) for k, v in aux.items()}
        grads = jax.tree.map(lambda g, p: g.astype(p.dtype), grads, params)
        return loss, aux, grads

    def _step(self, state: dict[str, Any], batch: Mapping[str, jax.Array]):
        step = state["step"]
        rng = jax.random.fold_in(jax.random.key(self.seed + 1), step)
        loss, aux, grads = self._loss_and_grads(state["params"], batch, rng)
        updates, opt_state = self.optimizer.update(grads, state["opt_state"], state["params"])
        params = optax.apply_updates(state["params"], updates)
        metrics = {"loss": loss, "grad_norm": optax.tree.norm(grads)}
        for k, v in aux.items():
            metrics[k] = v
        if self.schedule is not None:
            metrics["learning_rate"] = jnp.asarray(self.schedule(step), jnp.float32)
        return {"step": step + 1, "params": params, "opt_state": opt_state}, metrics

    def batch_shardings(self, batch: Mapping[str, Any]) -> dict[str, Any]:
        return {k: self.partitioner.data_sharding for k in batch}

    def _jit_step(self):
        return jax.jit(self._step, in_shardings=(self.state_shardings, self.partitioner.data_sharding),
                       out_shardings=(self.state_shardings, self.partitioner.replicated), donate_argnums=(0,))

    def precompile_train_step(self, batch_shapes: Mapping[str, tuple[int, ...]]) -> None:
        """Start tracing and compiling the train step for int32 batches of ``batch_shapes`` in a background
        thread. XLA compiles without the GIL, so this overlaps parameter initialisation and the building of
        the first batch; the first ``train_step`` on batches of these shapes waits for it and uses it."""
        if self._train_step is not None or self._precompiled is not None:
            return
        future: Future = Future()
        shapes = {k: tuple(int(n) for n in v) for k, v in batch_shapes.items()}
        abstract_batch = {k: jax.ShapeDtypeStruct(v, jnp.int32, sharding=self.partitioner.data_sharding)
                          for k, v in shapes.items()}

        def compile_() -> None:
            start = time.perf_counter()
            try:
                compiled = self.compile_train_step(abstract_batch).compile()
            except BaseException as e:  # noqa: BLE001 -- re-raised by train_step in the caller's thread
                future.set_exception(e)
                return
            log.info("train step traced and compiled in %.1f s (in the background)", time.perf_counter() - start)
            future.set_result(compiled)

        self._precompiled, self._precompiled_shapes = future, shapes
        # not a daemon: an error exit before the first step waits for XLA instead of killing it mid-compile
        threading.Thread(target=compile_, name="snitk-compile-train-step").start()

    def wait_for_precompile(self) -> None:
        """Block until a background compile (if any) has finished; call before exiting without training."""
        if self._precompiled is not None:
            self._precompiled.exception()

    def train_step(self, state: dict[str, Any], batch: Mapping[str, jax.Array]):
        """One optimizer step on a global batch -> (new state, metrics). The old state is donated."""
        batch = dict(batch)
        if self._train_step is None:
            if self._precompiled is not None and self._precompiled_shapes == {
                    k: tuple(v.shape) for k, v in batch.items()} and all(v.dtype == jnp.int32 for v in batch.values()):
                waited = time.perf_counter()
                compiled = self._precompiled.result()
                log.info("waited %.1f s for the train step's compile", time.perf_counter() - waited)
                self._precompiled = None
                try:
                    self._train_step = compiled
                    return compiled(state, batch)
                except TypeError as e:  # argument types checked before anything runs (nothing donated yet)
                    log.warning("the precompiled train step does not fit this state (%s); compiling again", e)
            self._precompiled = None
            self._train_step = self._jit_step()
        return self._train_step(state, batch)

    def eval_loss(self, params: Any, batch: Mapping[str, jax.Array]):
        """(loss, aux) of a batch without updating anything (same normalisation as training)."""
        if self._eval_loss is None:
            def f(p, b):
                norm = _normalizer(b, self.loss_normalizing_factor)
                b = _loss_weights(b, self.loss_normalizing_factor)
                return self.model.loss_fn(p, b, None, z_loss=self.z_loss, loss_normalizing_factor=norm)

            self._eval_loss = jax.jit(f, in_shardings=(self.param_shardings, self.partitioner.data_sharding),
                                      out_shardings=self.partitioner.replicated)
        return self._eval_loss(params, dict(batch))

    def compile_train_step(self, batch_shapes: Mapping[str, jax.ShapeDtypeStruct]):
        """Lower the train step from abstract shapes only (for dry runs / memory analysis)."""
        return self._jit_step().lower(self.abstract_state(), dict(batch_shapes))


def check_finite(metrics: Mapping[str, Any], step: int) -> None:
    """Raise NonFiniteLossError when the loss (or gradient norm) is NaN/inf."""
    for k in ("loss", "grad_norm"):
        if k in metrics and not np.isfinite(float(metrics[k])):
            raise NonFiniteLossError(
                f"{k} is {float(metrics[k])} at step {step}: stopping; the last good checkpoint is kept "
                "(lower the learning rate, check the data, or enable update clipping)")
