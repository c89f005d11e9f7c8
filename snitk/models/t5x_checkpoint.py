"""Use T5X checkpoints in place of snitk checkpoints (``python -m snitk.eval --checkpoint T5X_DIR``).

A T5X checkpoint directory is recognised by its layout (see :mod:`snitk.models.convert.t5x`): the legacy
msgpack ``checkpoint`` file, or the orbax/OCDBT ``state/_METADATA``. A t5x ``MODEL_DIR`` stands for its
latest ``checkpoint_<step>``. Parameters are read without t5x, exactly as ``snitk.models convert --from t5x``
reads them; the model config comes from ``config`` (preset name, JSON or gin file) or the ``config.gin``
t5x wrote beside the checkpoints.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from etils import epath

import numpy as np

from snitk.paths import resolve

_STEP_DIR = re.compile(r"^checkpoint_(\d+)$")


def is_t5x_checkpoint(path: str | Path) -> bool:
    """True for one T5X checkpoint directory (legacy or orbax layout)."""
    path = resolve(path)
    if (path / "model_config").exists():  # a snitk checkpoint (params/ + model_config items)
        return False
    return (path / "checkpoint").is_file() or (path / "state" / "_METADATA").is_file()


def find_t5x_checkpoint(path: str | os.PathLike) -> "epath.Path | None":
    """``path`` if it is a T5X checkpoint, the latest T5X ``checkpoint_<step>`` of a t5x model dir, else None."""
    resolved = resolve(path)  # local (absolute) or a bucket URL
    if not resolved.is_dir():
        return None
    if is_t5x_checkpoint(resolved):
        return resolved
    steps = [(int(m.group(1)), child) for child in resolved.iterdir()
             if (m := _STEP_DIR.match(child.name)) and is_t5x_checkpoint(child)]
    return max(steps)[1] if steps else None


def load_t5x_model(path: str | Path, *, config: str | dict | None = None, dtype: str | None = None,
                   partitioner: Any = None) -> tuple[Any, dict]:
    """``(T5Config, params)`` of a T5X checkpoint dir; params cast to ``dtype`` (default float32) and, with
    a ``snitk.training.partitioning.Partitioner``, placed with its shardings one tensor at a time."""
    import jax

    from snitk.models import checkpoint as ck
    from snitk.models.convert.t5x import read_t5x_params, t5x_model_config

    dtype = str(jax.numpy.dtype(dtype or "float32"))
    flat = read_t5x_params(path)
    cfg = t5x_model_config(path, flat, config=config, dtype=dtype)
    out_dtype = jax.numpy.dtype(dtype)
    shardings: dict[str, Any] = {}
    if partitioner is not None:
        from snitk.models.model import EncoderDecoderModel

        abstract = ck.unflatten_params({n: jax.ShapeDtypeStruct(a.shape, out_dtype) for n, a in flat.items()})
        specs = partitioner.param_specs(abstract, EncoderDecoderModel(cfg).param_logical_axes())
        shardings = ck.flatten_params(partitioner.to_shardings(specs))
    params = {n: jax.device_put(np.asarray(a.load()).astype(out_dtype, copy=False), shardings.get(n))
              for n, a in flat.items()}
    return cfg, ck.unflatten_params(params)


__all__ = ["is_t5x_checkpoint", "find_t5x_checkpoint", "load_t5x_model"]
