"""What fine-tuning restores from INIT_CHECKPOINT (`train.init_restore`).

- ``"params"`` (default): the parameters only, with a fresh optimizer state at step 0. This is all a
  converted checkpoint (`snitk models convert --from hf|t5x`) holds.
- ``"full"``: parameters, optimizer state and step, as t5x's fine-tuning restores a pretrained train state
  (`RestoreCheckpointConfig(mode='specific')`); TRAIN_STEPS then counts the restored steps too, as in t5x.
  Needs a snitk training checkpoint (`MODEL_DIR/checkpoint_<step>`) trained with the same optimizer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from snitk.errors import CheckpointError, ConfigError

INIT_RESTORE = ("params", "full")


def restore_full_state(path: str | Path, abstract_state: dict[str, Any]) -> dict[str, Any]:
    """The train state (step, params, opt_state) stored at `path`, read into `abstract_state`'s shardings."""
    import jax
    import jax.numpy as jnp
    import orbax.checkpoint as ocp

    from snitk.models.checkpoint import resolve_checkpoint

    ckpt = resolve_checkpoint(path)
    if not (ckpt / "opt_state").is_dir() or not (ckpt / "train_state").exists():
        raise ConfigError(f"{ckpt}: train.init_restore='full' needs a checkpoint with 'opt_state' and 'train_state' "
                          "(a snitk training checkpoint); converted checkpoints hold parameters only")
    args = ocp.args.Composite(params=ocp.args.StandardRestore(abstract_state["params"]),
                              opt_state=ocp.args.StandardRestore(abstract_state["opt_state"]),
                              train_state=ocp.args.JsonRestore())
    try:
        with ocp.Checkpointer(ocp.CompositeCheckpointHandler()) as ckptr:
            out = ckptr.restore(ckpt, args=args)
    except Exception as e:  # noqa: BLE001 - orbax raises many types
        raise CheckpointError(f"{ckpt}: cannot restore the optimizer state into the configured optimizer "
                              f"({type(e).__name__}: {e})") from e
    step = jax.device_put(jnp.asarray(int(out["train_state"]["step"]), jnp.int32), abstract_state["step"].sharding)
    return {"step": step, "params": out["params"], "opt_state": out["opt_state"]}
