"""Checks of a training run's inputs and outputs before anything is compiled or read into tf.data.

``preflight(parts)`` runs after the configuration is assembled: MODEL_DIR must be a writable folder,
INIT_CHECKPOINT a complete checkpoint, and the training selection of a snitk task (data dir, split list,
selected task files) must be non-empty and valid. Each problem is one ``SnitkError`` naming the file,
field or flag.
"""

from __future__ import annotations

import logging
from typing import Any

from snitk.errors import DataError

log = logging.getLogger(__name__)


def preflight(parts: dict[str, Any]) -> None:
    """Fail early (one clear error) on a bad MODEL_DIR, INIT_CHECKPOINT or training selection."""
    from snitk.outputs import check_output_dir

    tc = parts["train"]
    check_output_dir(tc.model_dir, "MODEL_DIR")
    if tc.init_checkpoint:
        from snitk.models.checkpoint import resolve_checkpoint

        resolve_checkpoint(tc.init_checkpoint, flag="INIT_CHECKPOINT")
    check_training_data(tc.mixture_or_task_name, tc.split)


def _snitk_selections(name: str) -> list[Any]:
    """The snitk.tasks selections behind a task or mixture name (empty for other seqio tasks)."""
    from snitk.training.data import get_task

    get_task(name)  # registers snitk names on demand
    import seqio

    import snitk.tasks as tasks

    names = [name]
    if name in seqio.MixtureRegistry.names():
        names = [t.name for t in seqio.get_mixture_or_task(name).get_subtasks()]
    return [tasks._REGISTERED[n] for n in names if n in tasks._REGISTERED]


def check_training_data(name: str, split: str = "train") -> None:
    """Validate every task file the selection of `name` reads (data dir, split list, files, instances)."""
    from tqdm import tqdm

    from snitk.natinst.corpus import Corpus
    from snitk.natinst.schema import validate_file

    if split not in ("train", "test", "validation"):
        return
    seen: set[str] = set()
    for sel in _snitk_selections(name):
        corpus = Corpus(sel.resolved_data_dir(), sel.track)
        if split == "train":
            names = corpus.select_train_names(seed=sel.seed, num_tasks=sel.num_train_tasks)
        else:
            names = corpus.task_names("test")
            missing = corpus.missing_tasks("test")
            if missing:
                raise DataError(corpus.split_path("test"), None, f"{len(missing)} listed task file(s) missing "
                                f"from {corpus.task_dir}: {', '.join(missing[:5])}")
        list_file = corpus.split_path("train" if split == "train" else "test")
        if not names:
            raise DataError(list_file, None, f"no {split} tasks selected for {name!r} (the list is empty or the "
                            "selection keeps none); expected at least one task")
        paths = [corpus.task_path(n) for n in names if str(corpus.task_path(n)) not in seen]
        for path in tqdm(paths, desc="check training data", unit="task", disable=len(paths) < 200):
            task = validate_file(path)
            if not task.num_instances:
                raise DataError(path, "Instances", "at least one instance (the training selection reads this task)")
            seen.add(str(path))
