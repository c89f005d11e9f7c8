"""Gin plumbing for training: configurables, type checks, t5x-style flags, search paths.

Configurables (usable in gin files with these names):
``train`` (run settings), ``model`` (preset + overrides), ``partitioning`` (mesh), ``optimizer``,
``schedule`` (learning rate) and ``distributed`` (multi-host). Every value is type-checked when the
configuration is assembled, before any device is touched; problems raise ``ConfigError``.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import difflib
import inspect
import os
import re
import types
import typing
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence, Union

import gin

from snitk.errors import ConfigError
from snitk.paths import resolve

CONFIG_DIR = Path(__file__).resolve().parents[2] / "configs"
MODULE = "snitk.training"
# gin parameter -> the macro (and flag) that sets it in configs/runs/train.gin
MACRO_OF = {"train.model_dir": "MODEL_DIR", "train.mixture_or_task_name": "MIXTURE_OR_TASK_NAME",
            "train.init_checkpoint": "INIT_CHECKPOINT", "train.train_steps": "TRAIN_STEPS",
            "train.batch_size": "BATCH_SIZE", "train.task_feature_lengths": "TASK_FEATURE_LENGTHS"}


def closest(name: str, known: "collections.abc.Iterable[str]", n: int = 3) -> str:
    """' (did you mean A, B?)' with the closest names of `known` (difflib), or '' when none is close."""
    near = difflib.get_close_matches(name, sorted(set(known)), n=n, cutoff=0.6)
    if not near:
        near = [k for k in sorted(set(known)) if k.lower() == name.lower()]
    return f" (did you mean {', '.join(near)}?)" if near else ""


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
        if value is gin.REQUIRED:
            macro = MACRO_OF.get(f"{name}.{key}")
            how = (f"--gin.{macro}=\"'...'\" (macro {macro})" if macro else f"--gin.{name}.{key}=...")
            raise ConfigError(f"required setting {name}.{key} is missing: set it with {how}")
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
    precompile: bool = True


@_checked("train")
def train_config(model_dir: str, train_steps: int, batch_size: int, task_feature_lengths: dict[str, int],
                 mixture_or_task_name: str, seed: int = 0, save_period: int = 1000, keep_checkpoints: int = 3,
                 init_checkpoint: str | None = None, init_restore: str = "params", log_period: int = 10,
                 eval_hook: Callable[..., Any] | None = None, eval_period: int = 0, num_microbatches: int = 1,
                 pack: bool = True, shuffle: bool = True, split: str = "train", use_cached: bool = False,
                 z_loss: float = 1e-4, loss_normalizing_factor: float | str | None = "num_target_tokens",
                 async_checkpointing: bool = False, tensorboard: bool = True, precompile: bool = True) -> TrainConfig:
    """Run settings (MODEL_DIR, TRAIN_STEPS, BATCH_SIZE, TASK_FEATURE_LENGTHS, MIXTURE_OR_TASK_NAME, ...).

    ``precompile``: compile the train step in a background thread while the state is initialised or
    restored and the first batch is built (False: compile at the first step, as plain ``jax.jit``)."""
    if init_restore not in ("params", "full"):
        raise ConfigError(f"gin binding train.init_restore = {init_restore!r}: expected 'params' or 'full' "
                          "(snitk.training.init_restore)")
    for key, val in (("train_steps", train_steps), ("batch_size", batch_size), ("save_period", save_period),
                     ("log_period", log_period), ("num_microbatches", num_microbatches)):
        if val < 1 and not (key == "train_steps" and val == 0):
            raise ConfigError(f"gin binding train.{key} = {val}: expected a positive integer")
    if init_checkpoint == "":
        init_checkpoint = None
    model_dir = str(resolve(model_dir))  # relative paths are relative to the working directory
    if init_checkpoint is not None:
        init_checkpoint = str(resolve(init_checkpoint))
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


def _safe_exists(check: Callable[[str], bool]) -> Callable[[str], bool]:
    """gin's package-path reader crashes (TypeError) on namespace packages such as a ./runs folder."""
    def exists(path: str) -> bool:
        try:
            return bool(check(path))
        except (TypeError, ValueError, ImportError):
            return False
    exists.snitk_safe = True  # type: ignore[attr-defined]
    return exists


def _set_search_paths(search_paths: Sequence[str]) -> list[str]:
    """Includes resolve in the package's configs/ first (never shadowed by ./runs or ./models), then
    the given search paths, then the working directory."""
    prefixes = [str(CONFIG_DIR), *(str(resolve(p)) for p in search_paths), ""]
    gin.config._LOCATION_PREFIXES[:] = prefixes
    gin.config._FILE_READERS[:] = [(r, c if getattr(c, "snitk_safe", False) else _safe_exists(c))
                                   for r, c in gin.config._FILE_READERS]
    return prefixes


def find_gin_file(name: str, search_paths: Sequence[str] = ()) -> str:
    """The file a --gin_file names: absolute as is, else configs/NAME, the search paths, then ./NAME."""
    if os.path.isabs(name):
        if not Path(name).is_file():
            raise ConfigError(f"--gin_file={name}: no such file")
        return name
    for base in (CONFIG_DIR, *(resolve(p) for p in search_paths)):
        if (Path(base) / name).is_file():
            return str(Path(base) / name)
    if Path(name).is_file():
        return str(resolve(name))
    raise ConfigError(f"--gin_file={name}: no such file (searched {CONFIG_DIR}, {', '.join(search_paths) or '-'}, "
                      f"{os.getcwd()})")


_BARE_WORD = re.compile(r"^\s*[^\s'\"\[\]{}()@%0-9+\-.][^'\"]*$")


def _binding_error(binding: str, exc: Exception) -> ConfigError:
    """A ConfigError for one --gin binding: quoting help for bare strings, close names for typos."""
    key, _, value = binding.partition("=")
    key, value = key.strip(), value.strip()
    msg = str(exc).split("\n")[0]
    if isinstance(exc, SyntaxError) and _BARE_WORD.match(value) and value not in ("True", "False", "None"):
        return ConfigError(f"--gin.{key}={value}: a string value needs quotes inside the flag, e.g. "
                           f"--gin.{key}=\"'{value}'\"")
    m = re.search(r"No configurable matching '([^']+)'", msg)
    if m:
        return ConfigError(f"--gin.{key}: unknown configurable {m.group(1)!r}{closest(m.group(1), _configurable_names())}")
    m = re.search(r"Configurable '([^']+)' doesn't have a parameter named '([^']+)'", msg)
    if m:
        return ConfigError(f"--gin.{key}: {m.group(1)!r} has no parameter {m.group(2)!r}"
                           f"{closest(m.group(2), _parameter_names(m.group(1)))}")
    return ConfigError(f"--gin.{key}={value}: {msg}")


def _configurable_names() -> list[str]:
    names = set()
    for selector in gin.config._REGISTRY._selector_map:
        names.add(selector)
        names.add(selector.rsplit(".", 1)[-1])
    return sorted(names)


def _parameter_names(configurable: str) -> list[str]:
    try:
        fn = gin.config._REGISTRY.get_match(configurable).wrapped
        return list(inspect.signature(fn).parameters)
    except Exception:  # noqa: BLE001 - suggestions are best effort
        return []


def _macro_refs(value: Any) -> Iterator[str]:
    if isinstance(value, gin.config.ConfigurableReference):
        if value.config_key[1] == "gin.macro":
            yield value.config_key[0]
    elif isinstance(value, (list, tuple, set)):
        for v in value:
            yield from _macro_refs(v)
    elif isinstance(value, dict):
        for v in value.values():
            yield from _macro_refs(v)


def check_macros() -> None:
    """Every macro that is set must be used and every macro that is used must be set (typos are errors)."""
    defined, used = set(), set()
    for (scope, selector), params in gin.config._CONFIG.items():
        if selector == "gin.macro":
            defined.add(scope)
        for value in params.values():
            used.update(_macro_refs(value))
    for name in sorted(used - defined):
        raise ConfigError(f"macro %{name} is used but never set{closest(name, defined)}")
    for name in sorted(defined - used):
        raise ConfigError(f"macro {name} is set but nothing uses it{closest(name, used - {name})}; "
                          f"known macros: {', '.join(sorted(used))}")


def parse(gin_files: Sequence[str], gin_bindings: Sequence[str], search_paths: Sequence[str] = ()) -> None:
    """Parse gin files + bindings (includes: the repository's configs/, the search paths, then cwd);
    unknown macros, configurables and parameters are ConfigErrors naming the closest known names."""
    gin.clear_config()
    _set_search_paths(search_paths)
    files = [find_gin_file(f, search_paths) for f in gin_files]
    try:
        gin.parse_config_files_and_bindings(files, [], finalize_config=False)
    except (ValueError, KeyError, SyntaxError, IOError) as e:
        raise ConfigError(f"bad gin configuration: {_first_lines(e)}") from e
    for binding in gin_bindings:
        _import_configurables_of(binding)
        try:
            gin.parse_config(binding)
        except (ValueError, KeyError, SyntaxError, IOError) as e:
            raise _binding_error(binding, e) from e
    check_macros()


def _import_configurables_of(binding: str) -> None:
    """`snitk.tasks.data_dir.path = ...` needs snitk.tasks imported (its configurables registered) first."""
    import importlib

    parts = binding.split("=", 1)[0].strip().lstrip("@%").split(".")
    for i in range(len(parts) - 1, 1, -1):
        if parts[0] != "snitk":
            return
        try:
            importlib.import_module(".".join(parts[:i]))
            return
        except ImportError:
            continue


def _first_lines(exc: Exception) -> str:
    text = str(exc)
    m = re.search(r"No configurable matching '([^']+)'", text)
    if m:
        text += closest(m.group(1), _configurable_names())
    return " ".join(line.strip() for line in text.splitlines() if line.strip())


def call(fn: Callable[[], Any], name: str) -> Any:
    """Call a gin configurable, turning gin's errors (unset REQUIRED macro, ...) into ConfigError."""
    try:
        return fn()
    except ConfigError as e:  # gin appends "In call to configurable ..." lines: keep the message
        raise ConfigError(str(e).split("\n")[0]) from None
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
