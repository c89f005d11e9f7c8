"""`python -m snitk.train`: gin-configured, sharded, resumable training (t5x-style flags).

    python -m snitk.train --gin_file=configs/experiments/demo_cpu.gin --gin.MODEL_DIR="'/tmp/demo'"
    python -m snitk.train --gin_file=experiments/tk_instruct_11b_tpu_v3_256.gin --dry_run

Python API: ``run(gin_files, gin_bindings) -> Path`` (the MODEL_DIR). Exit status 0 when finished, 2 on a
configuration/data/checkpoint error, 3 on a non-finite loss, 143 after a SIGTERM save (rerun to resume).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import sys
import time
from typing import Any, Sequence

from snitk.errors import CheckpointError, ConfigError, SnitkError
from snitk.training import config as C

log = logging.getLogger("snitk.train")


# ------------------------------------------------------------------------------------ multi-host
def initialize_distributed(settings: dict[str, Any]) -> None:
    """Start jax.distributed from flags / gin / SNITK_* environment (or automatically on TPU pods)."""
    import jax

    env = os.environ
    addr = settings.get("coordinator_address") or env.get("SNITK_COORDINATOR_ADDRESS")
    nproc = settings.get("num_processes") or env.get("SNITK_NUM_PROCESSES")
    pid = settings.get("process_id")
    pid = pid if pid is not None else env.get("SNITK_PROCESS_ID")
    if addr:
        if nproc is None or pid is None:
            raise ConfigError("distributed: coordinator_address needs num_processes and process_id "
                              "(flags --num_processes/--process_id or SNITK_NUM_PROCESSES/SNITK_PROCESS_ID)")
        if int(nproc) > 1:
            jax.distributed.initialize(coordinator_address=addr, num_processes=int(nproc), process_id=int(pid))
    elif settings.get("auto") or env.get("TPU_WORKER_HOSTNAMES") or env.get("MEGASCALE_COORDINATOR_ADDRESS"):
        jax.distributed.initialize()  # cluster auto-detection (TPU pods, SLURM, ...)


# ------------------------------------------------------------------------------------ assembly
def assemble() -> dict[str, Any]:
    """Call every configurable (type checks happen here), before any device is touched."""
    from snitk.training.optim import make_optimizer, make_schedule

    tc = C.call(C.train_config, "train")
    model_cfg, model_extra = C.call(C.model_config, "model")
    pc = C.call(C.partitioning_config, "partitioning")
    oc = C.call(C.optimizer_config, "optimizer")
    sc = C.call(C.schedule_config, "schedule")
    dc = C.call(C.distributed_config, "distributed")
    if sc["total_steps"] is None:
        sc = {**sc, "total_steps": tc.train_steps}
    schedule = make_schedule(**sc)
    optimizer = make_optimizer(learning_rate=schedule, **oc)
    return {"train": tc, "model": model_cfg, "model_extra": model_extra, "partitioning": pc,
            "optimizer": optimizer, "schedule": schedule, "distributed": dc}


def _resolve_vocab(parts: dict[str, Any]) -> Any:
    cfg = parts["model"]
    extra = parts["model_extra"]
    if extra["vocab_from_task"]:
        from snitk.training.data import task_vocab_size

        n = task_vocab_size(parts["train"].mixture_or_task_name)
        pad = max(int(extra["pad_vocab_to"]), 1)
        cfg = cfg.replace(vocab_size=-(-n // pad) * pad)
    return cfg


def _write_operative_config(model_dir: Any) -> None:
    import gin

    from snitk.atomic import write_text

    write_text(model_dir / "config.gin", gin.operative_config_str())


# ------------------------------------------------------------------------------------ dry run
def dry_run(parts: dict[str, Any]) -> dict[str, Any]:
    """Print mesh, shardings per parameter group and per-device memory; allocate nothing."""
    from snitk.models import EncoderDecoderModel
    from snitk.training import dry_run as D
    from snitk.training.partitioning import MeshShape, mesh_shape_for, standard_logical_axis_rules

    import jax

    tc, pc = parts["train"], parts["partitioning"]
    cfg = parts["model"]
    if parts["model_extra"]["vocab_from_task"]:
        cfg = _resolve_vocab(parts)
    n_dev = pc.dry_run_devices or jax.device_count()
    data, model = mesh_shape_for(n_dev, pc.num_partitions, pc.mesh_shape)
    mesh = MeshShape(data, model)
    summary = D.analyse(EncoderDecoderModel(cfg), parts["optimizer"], standard_logical_axis_rules(pc.fsdp),
                        mesh.axis_sizes, batch_size=tc.batch_size, task_feature_lengths=tc.task_feature_lengths,
                        num_microbatches=tc.num_microbatches)
    where = "abstract mesh (no devices)" if pc.dry_run_devices else f"{jax.device_count()} local devices"
    print(f"dry run: {where}; batch {tc.batch_size} x {dict(tc.task_feature_lengths)}, "
          f"{tc.num_microbatches} microbatch(es), fsdp={pc.fsdp}, dtype={cfg.dtype}, remat={cfg.remat_policy}")
    print(D.format_report(summary, pc.device_memory_gib))
    summary["fits"] = (summary["total"] <= pc.device_memory_gib * D.GiB) if pc.device_memory_gib else None
    return summary


# ------------------------------------------------------------------------------------ training
class Preempted(SnitkError):
    """SIGTERM stopped training after saving a checkpoint; the CLI exits 143 so schedulers requeue."""

    exit_code = 143


class _Preemption:
    """SIGTERM -> finish the current step, save, raise Preempted (exit 143)."""

    def __init__(self) -> None:
        self.requested = False
        self._old = None

    def __enter__(self):
        try:
            self._old = signal.signal(signal.SIGTERM, self._handle)
        except ValueError:  # not the main thread
            self._old = None
        return self

    def _handle(self, signum, frame) -> None:  # noqa: ARG002
        log.warning("SIGTERM received: saving a checkpoint after this step, then exiting")
        self.requested = True

    def __exit__(self, *exc) -> None:
        if self._old is not None:
            signal.signal(signal.SIGTERM, self._old)

    def any_process(self) -> bool:
        import jax

        if jax.process_count() == 1:
            return self.requested
        import numpy as np
        from jax.experimental import multihost_utils

        return bool(np.max(multihost_utils.process_allgather(np.int32(self.requested))))


def _truncate_metrics(path: Any, last_step: int) -> None:
    """Drop metric lines beyond the restored step (they will be produced again)."""
    if not path.exists():
        return
    from snitk.atomic import atomic_open

    keep = []
    for line in path.read_text().splitlines():
        try:
            if int(json.loads(line).get("step", 0)) <= last_step:
                keep.append(line)
        except (ValueError, AttributeError):
            continue
    with atomic_open(path) as f:
        f.write("".join(k + "\n" for k in keep))


def train_loop(parts: dict[str, Any]) -> os.PathLike:
    """Restore or initialise, then train to ``train_steps`` with checkpoints, metrics and eval hook."""
    import jax
    from tqdm import tqdm

    from snitk.atomic import open_append
    from snitk.models import EncoderDecoderModel
    from snitk.paths import resolve
    from snitk.training import data as D
    from snitk.training.checkpoints import TrainCheckpointer, load_init_params
    from snitk.training.partitioning import Partitioner
    from snitk.training.trainer import Trainer, check_finite
    from snitk.training.vocab_check import check_run_vocabulary

    started = time.perf_counter()
    tc, pc = parts["train"], parts["partitioning"]
    model_dir = resolve(tc.model_dir)
    is_main = jax.process_index() == 0
    cfg = _resolve_vocab(parts)
    vocab_id = None
    if parts.get("vocabulary"):
        from snitk.vocab_identity import identity

        vocab_id = identity(*parts["vocabulary"])
        check_run_vocabulary(model_dir, tc.init_checkpoint, vocab_id)  # resumed / initial checkpoint: same vocabulary
    # A SentencePiece task vocabulary was checked against the embedding in `run` (check_training_vocabulary);
    # any other task vocabulary (e.g. a plain seqio task's) must at least fit in it.
    task_vocab = D.task_vocab_size(tc.mixture_or_task_name) if vocab_id is None else 0
    if task_vocab > cfg.vocab_size:
        raise ConfigError(f"model vocab_size={cfg.vocab_size} is smaller than the vocabulary of "
                          f"{tc.mixture_or_task_name!r} ({task_vocab}); set model.vocab_from_task = True")
    if is_main:
        model_dir.mkdir(parents=True, exist_ok=True)
        _write_operative_config(model_dir)
    partitioner = Partitioner(pc.num_partitions, pc.mesh_shape, pc.fsdp)
    model = EncoderDecoderModel(cfg)
    trainer = Trainer(model, parts["optimizer"], partitioner, schedule=parts["schedule"],
                      num_microbatches=tc.num_microbatches, z_loss=tc.z_loss,
                      loss_normalizing_factor=tc.loss_normalizing_factor, seed=tc.seed)
    log.info("process %d of %d (%d local devices); %s; model %s", jax.process_index(), jax.process_count(),
             jax.local_device_count(), partitioner.describe(), cfg)
    ckpt = TrainCheckpointer(model_dir, keep=tc.keep_checkpoints, async_save=tc.async_checkpointing)
    try:  # an error before the training loop must still close the checkpoint manager
        latest, restored = ckpt.restore_latest(trainer.abstract_state())
    except BaseException:
        ckpt.close()
        raise
    metrics_path = model_dir / "metrics.jsonl"
    if tc.precompile and (latest is None or latest < tc.train_steps):  # compile while state and batch are made
        from snitk.training.packing import batch_shapes

        trainer.precompile_train_step(batch_shapes(tc.task_feature_lengths, tc.batch_size, tc.pack))
    if latest is not None:
        state, saved_cfg, train_state = restored
        if saved_cfg != cfg.to_dict():
            ckpt.close()
            raise CheckpointError(f"{model_dir}/checkpoint_{latest}/model_config differs from the configured model")
        data_position = train_state.get("data_position", latest)  # row cursors (an int: older checkpoints)
        for key, now in (("mixture_or_task_name", tc.mixture_or_task_name), ("batch_size", tc.batch_size),
                         ("task_feature_lengths", dict(tc.task_feature_lengths)), ("seed", tc.seed)):
            if key in train_state and train_state[key] != now:
                log.warning("resuming with %s=%r but checkpoint_%d was trained with %r: the data order will "
                            "differ from an uninterrupted run", key, now, latest, train_state[key])
        log.info("restored %s/checkpoint_%d", model_dir, latest)
        if is_main:
            _truncate_metrics(metrics_path, latest)
    elif tc.init_checkpoint and tc.init_restore == "full":  # as t5x: parameters, optimizer state and step
        from snitk.training.init_restore import restore_full_state

        try:
            state = restore_full_state(tc.init_checkpoint, trainer.abstract_state())
        except BaseException:
            ckpt.close()
            raise
        data_position = None  # the fine-tuning data starts at its beginning, whatever the restored step
    elif tc.init_checkpoint:
        from snitk.models.checkpoint import load_config

        init_cfg = load_config(tc.init_checkpoint)
        for field in ("vocab_size", "emb_dim", "num_heads", "head_dim", "mlp_dim", "num_encoder_layers", "num_decoder_layers"):
            if getattr(init_cfg, field) != getattr(cfg, field):
                ckpt.close()
                raise CheckpointError(f"{tc.init_checkpoint}: model_config.{field}={getattr(init_cfg, field)} "
                                      f"but the configured model has {getattr(cfg, field)}")
        _, params = load_init_params(tc.init_checkpoint, trainer.param_shardings, dtype=cfg.param_dtype)
        state = trainer.state_from_params(params)
        data_position = None
    else:
        state = trainer.init_state(tc.seed)
        data_position = None
    start = int(jax.device_get(state["step"]))
    if tc.eval_hook is not None and hasattr(tc.eval_hook, "bind_config"):
        tc.eval_hook.bind_config(cfg)
    train_state = {"seed": tc.seed, "mixture_or_task_name": tc.mixture_or_task_name,
                   "batch_size": tc.batch_size, "task_feature_lengths": dict(tc.task_feature_lengths),
                   "vocabulary": vocab_id}

    def save(st, position):
        if metrics_file is not None:  # the log up to a checkpoint is durable before it (buckets: every 30 s)
            metrics_file.sync()
        ckpt.save(st, cfg.to_dict(), {**train_state, "data_position": position})

    if start >= tc.train_steps:
        log.info("already trained to step %d >= train_steps=%d", start, tc.train_steps)
        trainer.wait_for_precompile()
        ckpt.close()
        return model_dir
    from snitk.training.data_order import cursors_from_state

    # This process builds only the rows its devices hold; the data position restores in O(1).
    source = D.make_source(tc.mixture_or_task_name, tc.task_feature_lengths, split=tc.split, use_cached=tc.use_cached)
    batches = D.InputPipeline(source, tc.task_feature_lengths, tc.batch_size, seed=tc.seed, shuffle=tc.shuffle,
                              pack=tc.pack, rows=D.local_rows(partitioner.data_sharding, tc.batch_size),
                              cursors=None if data_position is None
                              else cursors_from_state(data_position, tc.batch_size, start))
    writer = None
    if is_main and tc.tensorboard:
        import tensorflow as tf

        writer = tf.summary.create_file_writer(str(model_dir / "tensorboard"))
    closing = contextlib.ExitStack()
    metrics_file = closing.enter_context(open_append(metrics_path)) if is_main else None
    bar = tqdm(total=tc.train_steps, initial=start, desc="train", disable=not is_main, dynamic_ncols=True)
    window_tokens, window_time, window_steps = 0, 0.0, 0
    step = start
    try:
        with _Preemption() as preempt:
            t_last = time.perf_counter()
            while step < tc.train_steps:
                batch = D.to_global_arrays(next(batches), partitioner.data_sharding, batches.rows, tc.batch_size)
                tokens = D.count_global_tokens(batch)
                state, metrics = trainer.train_step(state, batch)
                metrics = {k: float(v) for k, v in jax.device_get(metrics).items()}
                step += 1
                now = time.perf_counter()
                dt, t_last = now - t_last, now
                if step == start + 1:
                    log.info("first step done %.1f s after training started (state, first batch, compile%s)",
                             now - started, ", compiled in the background" if tc.precompile else "")
                check_finite(metrics, step)
                window_tokens += tokens
                window_time += dt
                window_steps += 1
                bar.update(1)
                bar.set_postfix(loss=f"{metrics['loss']:.4f}")
                if step % tc.log_period == 0 or step == tc.train_steps:
                    row = {"step": step, "loss": metrics["loss"], "z_loss": metrics.get("z_loss"),
                           "learning_rate": metrics.get("learning_rate"), "grad_norm": metrics["grad_norm"],
                           "tokens_per_second": window_tokens / max(window_time, 1e-9),
                           "step_time": window_time / window_steps,
                           **{k: v for k, v in metrics.items() if k in ("cross_ent_loss", "accuracy", "weight_sum")}}
                    window_tokens, window_time, window_steps = 0, 0.0, 0
                    _emit(row, metrics_file, writer, step)
                if tc.eval_hook is not None and tc.eval_period and (step % tc.eval_period == 0
                                                                    or step == tc.train_steps):
                    results = tc.eval_hook(state["params"], step)
                    _emit({"step": step, **{(k if k.startswith("eval/") else f"eval/{k}"): float(v)
                                            for k, v in dict(results or {}).items()}},
                          metrics_file, writer, step)
                    t_last = time.perf_counter()
                stop = preempt.any_process()
                if step % tc.save_period == 0 or step == tc.train_steps or stop:
                    save(state, batches.position())
                    t_last = time.perf_counter()
                if stop:
                    log.warning("preempted at step %d: checkpoint saved, exiting", step)
                    break
    finally:
        bar.close()
        closing.close()
        if writer is not None:
            writer.flush()
        ckpt.close()
    if step < tc.train_steps:
        raise Preempted(f"SIGTERM: stopped at step {step} of {tc.train_steps} after saving checkpoint_{step} "
                        f"in {model_dir}; rerun the same command to resume")
    return model_dir


def _emit(row: dict[str, Any], f: Any, writer: Any, step: int) -> None:
    if f is not None:
        f.write(json.dumps(row) + "\n")
        f.flush()
    if writer is not None:
        import tensorflow as tf

        from tensorflow.core.framework import summary_pb2

        meta = summary_pb2.SummaryMetadata(plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="scalars"))
        with writer.as_default(step=step):
            for k, v in row.items():
                if k != "step" and isinstance(v, (int, float)):
                    # tf.summary.scalar needs the tensorboard package; the raw write is what it does.
                    tf.summary.write(k, tf.constant(float(v), tf.float32), step=step, metadata=meta)


# ------------------------------------------------------------------------------------ entry points
def run(gin_files: Sequence[str], gin_bindings: Sequence[str] = (), *, search_paths: Sequence[str] = (),
        dry_run_only: bool = False, distributed: dict[str, Any] | None = None) -> os.PathLike:
    """Parse gin, assemble (type-checked), check inputs/outputs (``preflight``), then dry-run or train.
    Returns MODEL_DIR; raises ``Preempted`` when SIGTERM stopped training after a checkpoint save."""
    C.parse(gin_files, gin_bindings, search_paths)
    parts = assemble()
    from snitk.training.vocab_check import check_prompt_budget, check_training_vocabulary

    # before anything is compiled: a paper model names its vocabulary, and the sizes agree
    parts["vocabulary"] = check_training_vocabulary(parts["train"].mixture_or_task_name, _resolve_vocab(parts),
                                                    parts["model_extra"])
    check_prompt_budget(parts["train"].mixture_or_task_name, int(parts["train"].task_feature_lengths["inputs"]))
    if dry_run_only:
        dry_run(parts)
        from snitk.paths import resolve

        return resolve(parts["train"].model_dir)
    from snitk.training.preflight import preflight

    preflight(parts)
    initialize_distributed({**parts["distributed"], **{k: v for k, v in (distributed or {}).items() if v is not None and v is not False}})
    return train_loop(parts)


def main(argv: Sequence[str] | None = None) -> int:
    """CLI: --gin_file (repeatable), --gin.KEY=VALUE, --gin_search_paths, --dry_run, multi-host flags."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:  # gin logs every search-path miss of an include
        handler.addFilter(lambda r: not str(r.msg).startswith(("Path not found", "system_path_file_exists")))
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0
    from snitk.training.trainer import NonFiniteLossError

    try:
        files, bindings, paths, flags = C.parse_argv(argv)
        if not files:
            raise ConfigError("at least one --gin_file is required")
        dist = {k: flags.get(k) for k in ("coordinator_address", "num_processes", "process_id", "auto")}
        model_dir = run(files, bindings, search_paths=paths, dry_run_only=flags["dry_run"], distributed=dist)
    except NonFiniteLossError as e:
        print(f"snitk train: {e}", file=sys.stderr)
        return 3
    except Preempted as e:
        print(f"snitk train: {e}", file=sys.stderr)
        return Preempted.exit_code
    except SnitkError as e:
        print(f"snitk train: {type(e).__name__}: {e}", file=sys.stderr)
        return 2
    if not flags["dry_run"]:
        print(f"model dir: {model_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
