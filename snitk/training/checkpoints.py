"""Training checkpoints: MODEL_DIR/checkpoint_<step>/ through an orbax CheckpointManager.

Items (the one on-disk format shared with ``snitk.models.checkpoint``): ``params`` (StandardSave of the
plain parameter tree), ``model_config`` (JSON of ``T5Config.to_dict()``), ``opt_state`` (StandardSave of the
optax state) and ``train_state`` (JSON: step, seed, data position, data settings). Orbax writes into a
temporary directory and renames it when complete, so a crash never leaves a checkpoint that restores
half-written; incomplete temporaries are ignored (and cleaned up) on the next start. On object stores
(``gs://``), where there is no atomic rename, orbax writes ``commit_success.txt`` last and only steps
that have it count. MODEL_DIR may be any path ``snitk.paths.resolve`` accepts.
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any

import jax
import jax.numpy as jnp
import orbax.checkpoint as ocp

from snitk.errors import CheckpointError
from snitk.models import checkpoint_health as health
from snitk.paths import resolve

log = logging.getLogger(__name__)

ITEMS = ("params", "model_config", "opt_state", "train_state")
STEP_PREFIX = "checkpoint"


class TrainCheckpointer:
    """Save / restore train states (see module docstring) keeping the last ``keep`` checkpoints."""

    def __init__(self, model_dir: str | os.PathLike, *, keep: int | None = 3, async_save: bool = False):
        self.model_dir = resolve(model_dir)
        self.async_save = async_save
        options = ocp.CheckpointManagerOptions(
            max_to_keep=keep, step_prefix=STEP_PREFIX, create=True, cleanup_tmp_directories=True,
            enable_async_checkpointing=async_save)
        self.manager = ocp.CheckpointManager(self.model_dir, options=options, item_names=ITEMS)

    def latest_step(self) -> int | None:
        """The newest complete checkpoint step (``checkpoint_health``: the rule eval uses too), or None."""
        good, _ = health.complete_steps(self.model_dir, ITEMS)
        return good[0] if good else None

    def _set_aside(self, step: int, why: str) -> None:
        """Rename a damaged checkpoint_<step> to damaged_checkpoint_<step> (kept, but never resumed)."""
        log.warning("%s; resuming from the previous complete checkpoint instead", why)
        if jax.process_index() == 0:
            src = self.model_dir / f"{STEP_PREFIX}_{step}"
            dst = self.model_dir / f"damaged_{STEP_PREFIX}_{step}"
            n = 1
            while dst.exists():
                dst, n = self.model_dir / f"damaged_{STEP_PREFIX}_{step}.{n}", n + 1
            if src.exists():
                src.rename(dst)
                log.warning("moved %s to %s", src, dst)
        self.manager.reload()

    def restore_latest(self, abstract_state: dict[str, Any]) -> tuple[int | None, Any]:
        """(step, restore(...)) of the newest checkpoint that is complete and restores; (None, None) when
        there is none. Newer incomplete or damaged checkpoints are set aside with a warning."""
        good, skipped = health.complete_steps(self.model_dir, ITEMS)
        if skipped and not good:  # never restart from scratch silently over a damaged run
            raise CheckpointError(f"{'; '.join(skipped.values())}; no earlier complete checkpoint to resume from "
                                  f"(move the folder away to start afresh)")
        for step in sorted((s for s in skipped if s > good[0]), reverse=True) if good else ():
            self._set_aside(step, skipped[step])
        first_error: CheckpointError | None = None
        failed: list[int] = []
        for step in good:
            try:
                restored = self.restore(abstract_state, step)
            except CheckpointError as e:
                first_error = first_error or e
                failed.append(step)
                continue
            for bad in failed:
                self._set_aside(bad, f"checkpoint_{bad} does not restore ({first_error})")
            return step, restored
        if first_error is not None:
            raise first_error
        return None, None

    def all_steps(self) -> list[int]:
        self.manager.reload()
        return list(self.manager.all_steps())

    def save(self, state: dict[str, Any], model_config: dict[str, Any], train_state: dict[str, Any],
             *, force: bool = True) -> int:
        """Write checkpoint_<step>; returns the step. Blocks until it is complete on disk."""
        step = int(jax.device_get(state["step"]))
        if step in self.all_steps():
            return step
        args = ocp.args.Composite(
            params=ocp.args.StandardSave(state["params"]),
            model_config=ocp.args.JsonSave(model_config),
            opt_state=ocp.args.StandardSave(state["opt_state"]),
            train_state=ocp.args.JsonSave({**train_state, "step": step}),
        )
        self.manager.save(step, args=args, force=force)
        if not self.async_save:
            self.manager.wait_until_finished()
        log.info("saved checkpoint %s", self.model_dir / f"{STEP_PREFIX}_{step}")
        return step

    def restore(self, abstract_state: dict[str, Any], step: int | None = None) -> tuple[dict[str, Any], dict, dict]:
        """Restore (state, model_config dict, train_state dict) into the shardings of ``abstract_state``."""
        step = self.latest_step() if step is None else step
        if step is None:
            raise CheckpointError(f"{self.model_dir}: no complete checkpoint_<step> directory to restore")
        args = ocp.args.Composite(
            params=ocp.args.StandardRestore(abstract_state["params"]),
            model_config=ocp.args.JsonRestore(),
            opt_state=ocp.args.StandardRestore(abstract_state["opt_state"]),
            train_state=ocp.args.JsonRestore(),
        )
        try:
            with health.reading(self.model_dir / f"{STEP_PREFIX}_{step}", "params or opt_state"):
                out = self.manager.restore(step, args=args)
        except CheckpointError as e:
            raise CheckpointError(f"{e} (a damaged file, or a model/optimizer that differs from the one "
                                  "configured)") from None
        train_state = dict(out["train_state"])
        sharding = abstract_state["step"].sharding
        state = {"step": jax.device_put(jnp.asarray(int(train_state["step"]), jnp.int32), sharding),
                 "params": out["params"], "opt_state": out["opt_state"]}
        return state, dict(out["model_config"]), train_state

    def close(self) -> None:
        self.manager.wait_until_finished()
        self.manager.close()


def read_train_state(checkpoint_dir: str | os.PathLike) -> dict[str, Any]:
    """The JSON train_state item of one checkpoint directory."""
    path = resolve(checkpoint_dir) / "train_state"
    for cand in (path / "metadata", path):
        if cand.is_file():
            return json.loads(cand.read_text())
    raise CheckpointError(f"{path}: no train_state item")


def load_init_params(path: str | os.PathLike, shardings: Any, dtype: str | None = None) -> tuple[Any, Any]:
    """(T5Config, params) from a converted or trained checkpoint (``snitk.models.checkpoint.load_model``)."""
    try:
        from snitk.models.checkpoint import load_model
    except ImportError as e:  # pragma: no cover - depends on the conversion module
        raise CheckpointError(f"{path}: snitk.models.checkpoint is not available ({e})") from e
    return load_model(path, shardings=shardings, dtype=dtype)
