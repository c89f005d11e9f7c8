"""Scoring a predictions file safely: the data dir is the only source of ids and references.

A predictions file (official format, or any JSON lines with ``id`` and ``prediction``) contributes only
its predictions. Each line must name a test instance of the track (``id``, or ``Instance.id``), at
most once, with a string prediction; references, task names and categories come from the data dir.
A file that covers the test set partially is an error unless ``allow_partial``; then metrics.json
records the coverage and report.md says so in its first line.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from snitk.errors import DataError
from snitk.jsonl import iter_jsonl


def _instance_id(rec: dict[str, Any]) -> Any:
    if "id" in rec:
        return rec["id"]
    inst = rec.get("Instance")
    return inst.get("id") if isinstance(inst, dict) else None


def match_predictions(path: str | os.PathLike, test_set: Any, *, allow_partial: bool = False
                      ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """(official records in test-set order with the data dir's references, coverage) for a predictions file."""
    from snitk.eval.evaluate import make_record

    path = Path(path)
    if not path.is_file():
        raise DataError(path, None, "predictions file not found")
    by_id = {inst.id: (task, inst) for task in test_set.tasks for inst in task.instances}
    where = f"the {test_set.track} test set of {test_set.data_dir}"
    preds: dict[str, str] = {}
    line_of: dict[str, int] = {}
    for lineno, rec in iter_jsonl(path):
        at = f"{path}:{lineno}"
        iid = _instance_id(rec)
        if not isinstance(iid, str):
            raise DataError(at, "id", "the test instance id (a string, in 'id' or 'Instance.id')")
        if iid not in by_id:
            raise DataError(at, "id", f"{iid!r} is not an instance of {where}")
        if iid in preds:
            raise DataError(at, "id", f"{iid!r} appears twice (first on line {line_of[iid]}); expected one prediction per instance")
        key = "prediction" if "prediction" in rec else "Prediction"
        pred = rec.get(key)
        if not isinstance(pred, str):
            raise DataError(at, "prediction", f"a string, got {type(pred).__name__ if key in rec else 'no prediction'}")
        task = by_id[iid][0]
        if "Task" in rec and rec["Task"] != task.name:
            raise DataError(at, "Task", f"{task.name!r} (the task of {iid!r} in the data dir), got {rec['Task']!r}")
        preds[iid], line_of[iid] = pred, lineno
    total = len(by_id)
    missing = [iid for iid in by_id if iid not in preds]
    if not preds:
        raise DataError(path, None, f"at least one prediction for {where} (n=0 is not a score)")
    if missing and not allow_partial:
        raise DataError(path, None, f"a prediction for each of the {total} instances of {where}; {len(missing)} "
                        f"missing (first: {', '.join(missing[:3])}); pass --allow-partial to score only those present")
    records = [make_record(task, inst, preds[inst.id]) for task in test_set.tasks for inst in task.instances
               if inst.id in preds]
    coverage = {"scored": len(records), "test_instances": total, "partial": bool(missing)}
    return records, coverage


def score_predictions_file(predictions_path: str | os.PathLike, track: str, data_dir: str | os.PathLike | None,
                           output_dir: str | os.PathLike, *, gpt2_bpe: str | None = None,
                           allow_partial: bool = False, n_resamples: int = 1000,
                           bootstrap_seed: int = 0) -> dict[str, Any]:
    """Score a predictions file against the test set of `track` in `data_dir`; write metrics.json + report.md."""
    from snitk.eval.evaluate import load_test_set, write_outputs

    test_set = load_test_set(track, data_dir)
    records, coverage = match_predictions(predictions_path, test_set, allow_partial=allow_partial)
    title = f"Scores of {Path(predictions_path).name} ({track} track)"
    if coverage["partial"]:
        title = (f"PARTIAL: {coverage['scored']} of {coverage['test_instances']} test instances have predictions "
                 f"(--allow-partial) — {title}")
    return write_outputs(
        output_dir, records, track, data_dir=test_set.data_dir, gpt2_bpe=gpt2_bpe, title=title,
        extra={"predictions_file": str(predictions_path), "coverage": coverage},
        write_predictions=Path(predictions_path).resolve() != (Path(output_dir) / "predictions.jsonl").resolve(),
        n_resamples=n_resamples, bootstrap_seed=bootstrap_seed,
    )
