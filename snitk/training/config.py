"""Gin plumbing for training: configurables, type checks, t5x-style flags, search paths.

Configurables (usable in gin files with these names):
``train`` (run settings), ``model`` (preset + overrides), ``partitioning`` (mesh), ``optimizer``,
``schedule`` (learning rate) and ``distributed`` (multi-host). Every value is type-checked when the
configuration is assembled, before any device is touched; problems raise ``ConfigError``.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import inspect
import types
import typing
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence, Union

import gin

from snitk.errors import ConfigError

CONFIG_DIR = Path(__file__).resolve().parents[2] / "configs"
MODULE = "snitk.training"


def _check(value: Any, tp: Any) -> bool:
    if tp is Any or tp is inspect.Parameter.empty:
        return True
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        return any(_check(value, a) for a in typing.get_args(tp))
    if tp is None or tp is type(None):
        return value is None
    if tp is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if tp in (str, bool):
        return isinstance(value, tp)
    if origin is typing.Literal:
        return value in typing.get_args(tp)
    if origin in (collections.abc.Callable,) or tp is Callable:
        return callable(value)
    if origin in (dict, collections.abc.Mapping):
        args = typing.get_args(tp)
        if not isinstance(value, collections.abc.Mapping):
            return False
        return not args or all(_check(k, args[0]) and _check(v, args[1]) for k, v in value.items())
    if origin in (list, tuple, collections.abc.Sequence):
        if not isinstance(value, (list, tuple)):
            return False
        args = [a for a in typing.get_args(tp) if a is not Ellipsis]
        return not args or all(_check(v, args[0]) for v in value)
    if isinstance(tp, type):
        return isinstance(value, tp)
    return True


def typecheck(name: str, fn: Callable[..., Any], values: Mapping[str, Any]) -> None:
    """Raise ConfigError when a value does not match the annotation of ``fn``'s parameter."""
    hints = typing.get_type_hints(fn)
    for key, value in values.items():
        tp = hints.get(key, Any)
        if not _check(value, tp):
            raise ConfigError(f"gin binding {name}.{key} = {value!r}: expected {_fmt(tp)}, "
                              f"got {type(value).__name__}")


def _fmt(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _checked(name: str):
    """Decorator: register ``fn`` as a gin configurable ``name`` whose arguments are type-checked."""
    def deco(fn):
        sig = inspect.signature(fn)

        def wrapper(**kwargs):
            bound = sig.bind(**kwargs)
            bound.apply_defaults()
            typecheck(name, fn, bound.arguments)
            return fn(**bound.arguments)

        wrapper.__signature__ = sig  # type: ignore[attr-defined]
        wrapper.__name__ = fn.__name__
        wrapper.__doc__ = fn.__doc__
        wrapper.__annotations__ = fn.__annotations__
        return gin.configurable(name, module=MODULE)(wrapper)
    return deco


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    model_dir: str
    train_steps: int
    batch_size: int
    task_feature_lengths: dict[str, int]
    mixture_or_task_name: str
    seed: int = 0
    save_period: int = 1000
    keep_checkpoints: int = 3
    init_checkpoint: str | None = None
    init_restore: str = "params"
    log_period: int = 10
    eval_hook: Callable[..., Any] | None = None
    eval_period: int = 0
    num_microbatches: int = 1
    pack: bool = True
    shuffle: bool = True
    split: str = "train"
    use_cached: bool = False
    z_loss: float = 1e-4
    loss_normalizing_factor: float | str | None = "num_target_tokens"
    async_checkpointing: bool = False
    tensorboard: bool = True


@_checked("train")
def train_config(model_dir: str, train_steps: int, batch_size: int, task_feature_lengths: dict[str, int],
                 mixture_or_task_name: str, seed: int = 0, save_period: int = 1000, keep_checkpoints: int = 3,
                 init_checkpoint: str | None = None, init_restore: str = "params", log_period: int = 10,
                 eval_hook: Callable[..., Any] | None = None, eval_period: int = 0, num_microbatches: int = 1,
                 pack: bool = True, shuffle: bool = True, split: str = "train", use_cached: bool = False,
                 z_loss: float = 1e-4, loss_normalizing_factor: float | str | None = "num_target_tokens",
                 async_checkpointing: bool = False, tensorboard: bool = True) -> TrainConfig:
    """Run settings (MODEL_DIR, TRAIN_STEPS, BATCH_SIZE, TASK_FEATURE_LENGTHS, MIXTURE_OR_TASK_NAME, ...)."""
    if init_restore not in ("params", "full"):
        raise ConfigError(f"gin binding train.init_restore = {init_restore!r}: expected 'params' or 'full' "
                          "(snitk.training.init_restore)")
    for key, val in (("train_steps", train_steps), ("batch_size", batch_size), ("save_period", save_period),
                     ("log_period", log_period), ("num_microbatches", num_microbatches)):
        if val < 1 and not (key == "train_steps" and val == 0):
            raise ConfigError(f"gin binding train.{key} = {val}: expected a positive integer")
    if init_checkpoint == "":
        init_checkpoint = None
    return TrainConfig(**{k: v for k, v in locals().items() if k in {f.name for f in dataclasses.fields(TrainConfig)}})


@_checked("model")
def model_config(preset: str = "t5_1_1_tiny", overrides: dict[str, Any] | None = None,
                 vocab_size: int | None = None, vocab_from_task: bool = False, pad_vocab_to: int = 128):
    """A ``T5Config``: a preset with overrides; ``vocab_from_task`` sizes the vocabulary from the task
    (padded up to a multiple of ``pad_vocab_to``)."""
    from snitk.models import get_preset

    kw = dict(overrides or {})
    if vocab_size is not None:
        kw["vocab_size"] = vocab_size
    try:
        cfg = get_preset(preset, **kw)
    except TypeError as e:
        raise ConfigError(f"gin binding model.overrides = {overrides!r}: {e}") from e
    return cfg, {"vocab_from_task": vocab_from_task, "pad_vocab_to": pad_vocab_to}


@dataclasses.dataclass(frozen=True)
class PartitioningConfig:
    num_partitions: int = 1
    mesh_shape: tuple[int, int] | None = None
    fsdp: bool = False
    dry_run_devices: int | None = None
    device_memory_gib: float | None = None


@_checked("partitioning")
def partitioning_config(num_partitions: int = 1, mesh_shape: Sequence[int] | None = None, fsdp: bool = False,
                        dry_run_devices: int | None = None, device_memory_gib: float | None = None
                        ) -> PartitioningConfig:
    """Mesh (data, model): NUM_PARTITIONS or an explicit shape; ``fsdp`` shards 'embed' over 'data'.
    ``dry_run_devices`` plans for a device count this machine does not have (dry run only)."""
    if mesh_shape is not None and len(mesh_shape) != 2:
        raise ConfigError(f"gin binding partitioning.mesh_shape = {mesh_shape!r}: expected (data, model)")
    return PartitioningConfig(num_partitions, tuple(mesh_shape) if mesh_shape else None, fsdp, dry_run_devices,
                              device_memory_gib)


@_checked("optimizer")
def optimizer_config(name: str = "adafactor", decay_rate: float = 0.8, multiply_by_parameter_scale: bool = True,
                     clipping_threshold: float | None = 1.0, min_dim_size_to_factor: int = 128,
                     factored: bool = True, momentum: float | None = None, b1: float = 0.9, b2: float = 0.999,
                     eps: float = 1e-8, weight_decay: float = 0.0, max_grad_norm: float | None = None) -> dict:
    """Optimizer settings (see ``snitk.training.optim.make_optimizer``)."""
    return {k: v for k, v in locals().items()}


@_checked("schedule")
def schedule_config(name: str = "constant", base_learning_rate: float = 1e-3, warmup_steps: int = 0,
                    total_steps: int | None = None, end_learning_rate: float = 0.0) -> dict:
    """Learning-rate schedule settings (see ``snitk.training.optim.make_schedule``)."""
    return {k: v for k, v in locals().items()}


@_checked("distributed")
def distributed_config(coordinator_address: str | None = None, num_processes: int | None = None,
                       process_id: int | None = None, auto: bool = False) -> dict:
    """jax.distributed settings; flags and SNITK_* environment variables override these."""
    return {k: v for k, v in locals().items()}


def parse(gin_files: Sequence[str], gin_bindings: Sequence[str], search_paths: Sequence[str] = ()) -> None:
    """Parse gin files + bindings (search paths: given ones, cwd, the repository's configs/)."""
    gin.clear_config()
    for p in [*search_paths, str(CONFIG_DIR), "."]:
        gin.add_config_file_search_path(p)
    files = []
    for f in gin_files:
        if Path(f).exists():
            files.append(f)
        elif (CONFIG_DIR / f).exists():
            files.append(str(CONFIG_DIR / f))
        elif not any((Path(sp) / f).exists() for sp in search_paths):
            raise ConfigError(f"--gin_file={f}: no such file (searched ., {', '.join(search_paths) or '-'}, "
                              f"{CONFIG_DIR})")
        else:
            files.append(f)
    try:
        gin.parse_config_files_and_bindings(files, list(gin_bindings), finalize_config=False)
    except (ValueError, KeyError, SyntaxError, IOError) as e:
        raise ConfigError(f"bad gin configuration: {e}") from e


def call(fn: Callable[[], Any], name: str) -> Any:
    """Call a gin configurable, turning gin's errors (unset REQUIRED macro, ...) into ConfigError."""
    try:
        return fn()
    except ConfigError:
        raise
    except (ValueError, RuntimeError, TypeError, KeyError) as e:
        raise ConfigError(f"gin configuration of {name!r}: {e}") from e


def parse_argv(argv: Sequence[str]) -> tuple[list[str], list[str], list[str], dict[str, Any]]:
    """Split t5x-style flags into (gin files, gin bindings, search paths, other flags)."""
    files: list[str] = []
    bindings: list[str] = []
    paths: list[str] = []
    flags: dict[str, Any] = {"dry_run": False}
    it = iter(argv)
    for arg in it:
        def value(prefix: str) -> str:
            if arg.startswith(prefix + "="):
                return arg[len(prefix) + 1:]
            try:
                return next(it)
            except StopIteration:
                raise ConfigError(f"{prefix} needs a value") from None
        if arg.startswith("--gin_file"):
            files.append(value("--gin_file"))
        elif arg.startswith("--gin_bindings"):
            bindings.append(value("--gin_bindings"))
        elif arg.startswith("--gin_search_paths"):
            paths += [p for p in value("--gin_search_paths").split(",") if p]
        elif arg.startswith("--gin."):
            if "=" not in arg:
                raise ConfigError(f"{arg}: expected --gin.KEY=VALUE")
            key, val = arg[len("--gin."):].split("=", 1)
            bindings.append(f"{key} = {val}")
        elif arg in ("--dry_run", "--dry-run"):
            flags["dry_run"] = True
        elif arg.split("=")[0] in ("--coordinator_address", "--num_processes", "--process_id"):
            flags[arg.split("=")[0][2:]] = value(arg.split("=")[0])
        elif arg in ("--multihost", "--distributed"):
            flags["auto"] = True
        else:
            raise ConfigError(f"unknown argument {arg!r}; expected --gin_file, --gin.KEY=VALUE, "
                              "--gin_search_paths, --dry_run, --coordinator_address, --num_processes, --process_id")
    return files, bindings, paths, flags
