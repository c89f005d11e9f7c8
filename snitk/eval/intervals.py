"""Per-instance scores of an evaluation (``instance_scores.jsonl``) and the 95% intervals in metrics.json.

Every overall and per-category score gets ``ci95: {metric: [lower, upper]}``, from
`snitk.eval.bootstrap.bootstrap_means` over that group's tasks and instances; metrics.json's
``bootstrap`` entry records how (resamples, seed, method). Each group draws from its own generator,
seeded by (seed, group name), so `snitk.eval compare` reproduces the same intervals.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from snitk.atomic import write_jsonl
from snitk.errors import DataError
from snitk.eval.bootstrap import CONFIDENCE, bootstrap_means, percentile_interval, rng_for
from snitk.eval.metrics import METRICS, OFFICIAL_DECIMALS
from snitk.jsonl import iter_jsonl

INSTANCE_SCORES = "instance_scores.jsonl"
METHOD = "hierarchical percentile bootstrap (tasks with replacement, then instances within each drawn task)"


@dataclass(frozen=True)
class InstanceScores:
    """Per-instance (exact match, ROUGE-1, ROUGE-L) in [0, 1] with each instance's task, id and category."""

    tasks: list[str]
    ids: list[str]
    categories: list[str]
    scores: np.ndarray  # (N, 3) in METRICS order

    @classmethod
    def from_records(cls, records: Sequence[dict[str, Any]], scores: Sequence[Sequence[float]],
                     categories: Sequence[str]) -> "InstanceScores":
        """From prediction records (official format), their scores and their categories."""
        ids = [str(r.get("id", r["Instance"].get("id"))) for r in records]
        matrix = np.asarray(scores, dtype=np.float64).reshape(-1, len(METRICS))
        return cls([r["Task"] for r in records], ids, list(categories), matrix)

    def keys(self) -> list[tuple[str, str]]:
        return list(zip(self.tasks, self.ids))

    def select(self, mask: np.ndarray) -> "InstanceScores":
        idx = np.flatnonzero(mask)
        pick = lambda xs: [xs[i] for i in idx]  # noqa: E731
        return InstanceScores(pick(self.tasks), pick(self.ids), pick(self.categories), self.scores[idx])


def write_instance_scores(path: str | os.PathLike, table: InstanceScores) -> None:
    """One JSON line per instance: id, task, category, exact_match, rouge1, rougeL (in [0, 1])."""
    write_jsonl(path, (
        {"id": i, "task": t, "category": c, **{m: float(v) for m, v in zip(METRICS, row)}}
        for i, t, c, row in zip(table.ids, table.tasks, table.categories, table.scores)
    ))


def read_instance_scores(path: str | os.PathLike) -> InstanceScores:
    """Read what `write_instance_scores` wrote (DataError naming the file, line and field otherwise)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(path, None, f"{INSTANCE_SCORES} written by `python -m snitk.eval` (evaluate, score or baseline)")
    tasks, ids, cats, rows = [], [], [], []
    for lineno, row in iter_jsonl(path):
        for key in ("id", "task", "category", *METRICS):
            if key not in row:
                raise DataError(path, f"line {lineno}: {key}",
                                "per-instance record with id, task, category, exact_match, rouge1, rougeL")
        tasks.append(row["task"])
        ids.append(str(row["id"]))
        cats.append(row["category"])
        rows.append([float(row[m]) for m in METRICS])
    if not rows:
        raise DataError(path, None, "at least one per-instance record")
    return InstanceScores(tasks, ids, cats, np.asarray(rows))


def interval(table: InstanceScores, name: str, n_resamples: int, seed: int,
             confidence: float = CONFIDENCE) -> dict[str, list[float]]:
    """{metric: [lower, upper]} (x 100) of `table`'s micro-averages; the generator is seeded by (seed, name)."""
    dist = bootstrap_means(table.scores, table.tasks, n_resamples, rng_for(seed, name))
    lo, hi = percentile_interval(dist, confidence)
    pct = lambda v: round(100 * float(v), OFFICIAL_DECIMALS)  # noqa: E731
    return {m: [pct(a), pct(b)] for m, a, b in zip(METRICS, lo, hi)}


def group_name(category: str | None) -> str:
    """The generator name of a group: "overall" or "category:<name>"."""
    return "overall" if category is None else f"category:{category}"


def add_intervals(metrics: dict[str, Any], table: InstanceScores, n_resamples: int, seed: int = 0) -> dict[str, Any]:
    """Put ``ci95`` beside the overall and every per-category score of `metrics`; record the method."""
    metrics["overall"]["ci95"] = interval(table, group_name(None), n_resamples, seed)
    cats = np.asarray(table.categories)
    for cat, entry in metrics.get("per_category", {}).items():
        entry["ci95"] = interval(table.select(cats == cat), group_name(cat), n_resamples, seed)
    metrics["bootstrap"] = {"method": METHOD, "confidence": CONFIDENCE, "resamples": n_resamples, "seed": seed}
    return metrics
