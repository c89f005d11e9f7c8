"""Compare evaluation runs: one Markdown table and one PNG bar chart per category across runs."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Sequence

from snitk.atomic import write_text
from snitk.errors import DataError
from snitk.eval.report import category_order, table

_NAMES = {"exact_match": "EM", "rouge1": "ROUGE-1", "rougeL": "ROUGE-L"}


def load_run(run: str | os.PathLike) -> dict[str, Any]:
    """metrics.json of an output directory (or the file itself)."""
    path = Path(run)
    if path.is_dir():
        path = path / "metrics.json"
    if not path.is_file():
        raise DataError(path, None, "metrics.json written by `python -m snitk.eval` (evaluate, score or baseline)")
    with open(path, encoding="utf-8") as f:
        metrics = json.load(f)
    if "overall" not in metrics:
        raise DataError(path, "overall", "an object with exact_match, rouge1, rougeL, n")
    return metrics


def run_label(run: str | os.PathLike) -> str:
    p = Path(run)
    return p.parent.name if p.name == "metrics.json" else p.name


def comparison_rows(runs: Sequence[dict[str, Any]]) -> tuple[list[str], list[list[Any]]]:
    """Rows: overall ROUGE-L / EM, then every category with its official metric; one column per run."""
    cats: list[str] = []
    for m in runs:
        cats += [c for c in m.get("per_category", {}) if c not in cats]
    rows: list[list[Any]] = [
        ["overall", "ROUGE-L"] + [m["overall"]["rougeL"] for m in runs],
        ["overall", "EM"] + [m["overall"]["exact_match"] for m in runs],
    ]
    for c in category_order(cats):
        metric = next(m["per_category"][c].get("metric", "rougeL") for m in runs if c in m.get("per_category", {}))
        rows.append([c, _NAMES[metric]] + [m.get("per_category", {}).get(c, {}).get(metric, "—") for m in runs])
    return cats, rows


def compare(runs: Sequence[str | os.PathLike], output_dir: str | os.PathLike, labels: Sequence[str] | None = None) -> str:
    """Write comparison.md and per_category.png to output_dir; return the Markdown."""
    metrics = [load_run(r) for r in runs]
    labels = list(labels) if labels else [run_label(r) for r in runs]
    cats, rows = comparison_rows(metrics)
    md = "# Comparison\n\n" + table(["group", "metric"] + labels, rows) + "\n\n![per category](per_category.png)\n"
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_text(out / "comparison.md", md)
    plot(rows, labels, out / "per_category.png")
    return md


def plot(rows: list[list[Any]], labels: Sequence[str], path: Path) -> None:
    """Grouped bar chart: one group per category (official metric), one bar per run."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    groups = [f"{r[0]} ({r[1]})" for r in rows]
    n_runs = len(labels)
    x = np.arange(len(groups))
    width = 0.8 / max(n_runs, 1)
    fig, ax = plt.subplots(figsize=(max(6, 0.9 * len(groups) + 2), 4.5))
    for j, label in enumerate(labels):
        vals = [r[2 + j] if isinstance(r[2 + j], (int, float)) else 0.0 for r in rows]
        ax.bar(x + (j - (n_runs - 1) / 2) * width, vals, width, label=label)
    ax.set_xticks(x)
    ax.set_xticklabels(groups, rotation=40, ha="right", fontsize=8)
    ax.set_ylabel("score")
    ax.set_ylim(0, 100)
    ax.legend(fontsize=8)
    ax.set_title("Per-category scores (official metric per category)")
    fig.tight_layout()
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=120)
    plt.close(fig)
    os.replace(tmp, path)
