"""The paper's heuristic baselines: copy the instance input, or copy the first positive example's output."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from snitk.errors import ConfigError
from snitk.eval.evaluate import OFFICIAL_PER_TASK, load_test_set, make_record, write_outputs

KINDS = ("copy_input", "copy_demo")


def baseline_prediction(kind: str, task: Any, instance: Any) -> str:
    """copy_input: the instance input; copy_demo: the output of the task's first positive example ("" if none)."""
    if kind == "copy_input":
        return instance.input
    if kind == "copy_demo":
        return task.positive_examples[0].output if task.positive_examples else ""
    raise ConfigError(f"--kind {kind!r}: expected one of {', '.join(KINDS)}")


def run_baseline(
    kind: str,
    track: str,
    data_dir: str | os.PathLike | None,
    output_dir: str | os.PathLike,
    *,
    allow_missing_tasks: bool = False,
    max_tasks: int | None = None,
    max_per_task: int = OFFICIAL_PER_TASK,
    gpt2_bpe: str | None = None,
    n_resamples: int = 1000,
    bootstrap_seed: int = 0,
) -> dict[str, Any]:
    """Predict with baseline `kind` on the test split of `track`; write and return the metrics."""
    if kind not in KINDS:
        raise ConfigError(f"--kind {kind!r}: expected one of {', '.join(KINDS)}")
    test_set = load_test_set(track, data_dir, max_per_task=max_per_task, max_tasks=max_tasks, allow_missing_tasks=allow_missing_tasks)
    records = [make_record(t, inst, baseline_prediction(kind, t, inst)) for t in test_set.tasks for inst in t.instances]
    return write_outputs(
        output_dir, records, track, data_dir=test_set.data_dir, gpt2_bpe=gpt2_bpe,
        title=f"Baseline {kind} — {track} track",
        extra={
            "settings": {"baseline": kind, "track": track, "data_dir": str(Path(test_set.data_dir)), "max_per_task": max_per_task, "max_tasks": max_tasks},
            "missing_tasks": test_set.missing,
            "num_missing_tasks": len(test_set.missing),
        },
        n_resamples=n_resamples, bootstrap_seed=bootstrap_seed,
    )
