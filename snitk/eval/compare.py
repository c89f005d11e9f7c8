"""Compare evaluation runs: scores with 95% intervals, paired bootstrap tests of every pairwise
difference (overall and per category, Holm-corrected), and a per-category bar chart with error bars.

Paired tests need the runs' per-instance scores on the same instances: ``instance_scores.jsonl`` of
each output directory, or (for outputs written before it existed) its ``predictions.jsonl``, rescored.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass
from itertools import combinations
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from snitk.atomic import atomic_open, write_json, write_text
from snitk.errors import ConfigError, DataError
from snitk.eval.bootstrap import (
    DEFAULT_RESAMPLES, bootstrap_means, holm, micro_mean, min_resamples_for, paired_result, rng_for,
)
from snitk.eval.intervals import INSTANCE_SCORES, METHOD, InstanceScores, group_name, interval, read_instance_scores
from snitk.eval.metrics import METRICS, category_metric
from snitk.eval.report import category_order, table

log = logging.getLogger(__name__)
_NAMES = {"exact_match": "EM", "rouge1": "ROUGE-1", "rougeL": "ROUGE-L"}


def run_dir(run: str | os.PathLike) -> Path:
    """The output directory of a run given as a directory or as its metrics.json."""
    path = Path(run)
    return path.parent if path.name == "metrics.json" else path


def load_run(run: str | os.PathLike) -> dict[str, Any]:
    """metrics.json of an output directory (or the file itself)."""
    path = run_dir(run) / "metrics.json"
    if not path.is_file():
        raise DataError(path, None, "metrics.json written by `python -m snitk.eval` (evaluate, score or baseline)")
    try:
        with open(path, encoding="utf-8") as f:
            metrics = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(path, None, f"a complete metrics.json (truncated or not JSON: {exc})") from None
    if not isinstance(metrics, dict) or not isinstance(metrics.get("overall"), dict):
        raise DataError(path, "overall", "an object with exact_match, rouge1, rougeL, n")
    return metrics


def run_label(run: str | os.PathLike) -> str:
    return run_dir(run).name


def load_instance_scores(run: str | os.PathLike, metrics: dict[str, Any]) -> InstanceScores:
    """Per-instance scores of a run: instance_scores.jsonl, else predictions.jsonl rescored."""
    d = run_dir(run)
    if (d / INSTANCE_SCORES).is_file():
        return read_instance_scores(d / INSTANCE_SCORES)
    if (d / "predictions.jsonl").is_file():  # an output dir written before instance_scores.jsonl existed
        from snitk.eval.evaluate import score_records_per_instance
        from snitk.jsonl import iter_jsonl

        path = d / "predictions.jsonl"
        records = []
        for lineno, rec in iter_jsonl(path):
            if not isinstance(rec.get("Instance"), dict) or "Task" not in rec or "prediction" not in rec:
                raise DataError(path, f"line {lineno}", "an official record with Task, Instance and prediction")
            records.append(rec)
        return score_records_per_instance(records, metrics.get("track", "default"))[1]
    raise DataError(d, INSTANCE_SCORES, "per-instance scores (written by `python -m snitk.eval`) or predictions.jsonl")


def align(tables: Sequence[InstanceScores], runs: Sequence[str | os.PathLike]) -> list[InstanceScores]:
    """Every table reordered to the first one's instance order; DataError when the instance sets differ."""
    first = tables[0].keys()
    where = {k: i for i, k in enumerate(first)}
    out = [tables[0]]
    for tab, run in zip(tables[1:], runs[1:]):
        keys = tab.keys()
        if len(keys) != len(first) or set(keys) != where.keys():
            missing = len(where.keys() - set(keys))
            raise DataError(run_dir(run) / INSTANCE_SCORES, None,
                            f"the same (task, id) instances as {run_dir(runs[0])} for paired tests "
                            f"({len(keys)} vs {len(first)} instances, {missing} of the first run's missing)")
        order = np.argsort([where[k] for k in keys])
        out.append(InstanceScores(tables[0].tasks, tables[0].ids, tables[0].categories, tab.scores[order]))
    return out


def comparison_groups(table: InstanceScores) -> list[tuple[str | None, str]]:
    """(category or None for overall, metric): overall ROUGE-L and EM, then each category's official metric."""
    cats = category_order(sorted(set(table.categories)))
    return [(None, "rougeL"), (None, "exact_match")] + [(c, category_metric(c)) for c in cats]


@dataclass(frozen=True)
class PairedRow:
    """One paired test: run a minus run b on one group and metric (points x 100)."""

    group: str
    metric: str
    a: str
    b: str
    difference: float
    lower: float
    upper: float
    p_value: float
    p_holm: float = float("nan")
    significant: bool = False


def paired_tests(labels: Sequence[str], tables: Sequence[InstanceScores], n_resamples: int, seed: int,
                 alpha: float = 0.05) -> list[PairedRow]:
    """Every pairwise difference per group, with the same resamples for all systems; Holm over all tests."""
    base = tables[0]
    cats = np.asarray(base.categories)
    rows = []
    for cat, metric in comparison_groups(base):
        mask = np.ones(len(cats), bool) if cat is None else cats == cat
        tasks = [t for t, keep in zip(base.tasks, mask) if keep]
        col = METRICS.index(metric)
        systems = np.stack([t.scores[mask, col] for t in tables], axis=1)  # (instances, runs): one resampling
        dist = bootstrap_means(systems, tasks, n_resamples, rng_for(seed, "paired:" + group_name(cat)))
        observed = micro_mean(systems)
        for i, j in combinations(range(len(tables)), 2):
            res = paired_result(observed[i] - observed[j], dist[:, i] - dist[:, j])
            rows.append(PairedRow(cat or "overall", metric, labels[i], labels[j], 100 * res.difference,
                                  100 * res.lower, 100 * res.upper, res.p_value))
    adjusted = holm([r.p_value for r in rows])
    return [PairedRow(**{**asdict(r), "p_holm": float(p), "significant": bool(p <= alpha)}) for r, p in zip(rows, adjusted)]


def score_rows(metrics: Sequence[dict[str, Any]], tables: Sequence[InstanceScores], n_resamples: int, seed: int
               ) -> list[dict[str, Any]]:
    """Per group: {"group", "metric", "scores": [...], "ci95": [[lo, hi] or None, ...]} across runs."""
    out = []
    for cat, metric in comparison_groups(tables[0]):
        scores, cis = [], []
        for m, tab in zip(metrics, tables):
            entry = m["overall"] if cat is None else m.get("per_category", {}).get(cat, {})
            scores.append(entry.get(metric))
            sub = tab if cat is None else tab.select(np.asarray(tab.categories) == cat)
            cis.append(interval(sub, group_name(cat), n_resamples, seed)[metric] if n_resamples and sub.tasks else None)
        out.append({"group": cat or "overall", "metric": metric, "scores": scores, "ci95": cis})
    return out


def _cell(score: Any, ci: Sequence[float] | None) -> str:
    if score is None:
        return "—"
    return f"{score:.2f}" + (f" [{ci[0]:.2f}, {ci[1]:.2f}]" if ci else "")


def _resolution_note(n_tests: int, n_resamples: int, alpha: float) -> str:
    need = min_resamples_for(n_tests, alpha)
    if n_resamples >= need:
        return ""
    return (f" **Too few resamples:** the smallest p-value {n_resamples} resamples can give, 2/{n_resamples + 1}, "
            f"is not significant after Holm over {n_tests} tests; rerun with --bootstrap-resamples {need} or more.")


def render(labels: Sequence[str], rows: list[dict[str, Any]], tests: list[PairedRow], n_resamples: int, seed: int,
           alpha: float) -> str:
    """comparison.md: scores with intervals, then the paired differences."""
    md = ["# Comparison", "", "## Scores (95% confidence intervals)", "",
          table(["group", "metric", *labels],
                [[r["group"], _NAMES[r["metric"]], *map(_cell, r["scores"], r["ci95"])] for r in rows])]
    if tests:
        md += ["", "## Paired differences", "",
               f"Difference = first run minus second, in points. Interval and p-value from a paired {METHOD}: "
               f"both runs are scored on the same {n_resamples} resamples (seed {seed}); p is two-sided "
               f"(twice the smaller share of resampled differences on either side of 0, +1 corrected). "
               f"Holm's correction runs over all {len(tests)} tests; **yes** = significant at {alpha} after it."
               + _resolution_note(len(tests), n_resamples, alpha), "",
               table(["group", "metric", "runs", "difference", "95% CI", "p", "p (Holm)", "significant"],
                     [[t.group, _NAMES[t.metric], f"{t.a} − {t.b}", f"{t.difference:+.2f}",
                       f"[{t.lower:+.2f}, {t.upper:+.2f}]", f"{t.p_value:.4f}", f"{t.p_holm:.4f}",
                       "**yes**" if t.significant else "no"] for t in tests])]
    md += ["", "![per category](per_category.png)", ""]
    return "\n".join(md)


def compare(runs: Sequence[str | os.PathLike], output_dir: str | os.PathLike, labels: Sequence[str] | None = None, *,
            n_resamples: int = DEFAULT_RESAMPLES, bootstrap_seed: int = 0, alpha: float = 0.05) -> str:
    """Write comparison.md, comparison.json and per_category.png to output_dir; return the Markdown."""
    metrics = [load_run(r) for r in runs]
    labels = list(labels) if labels else [run_label(r) for r in runs]
    if len(labels) != len(runs):
        raise ConfigError(f"--labels: one label per run ({len(runs)}), got {len(labels)}")
    tables = align([load_instance_scores(r, m) for r, m in zip(runs, metrics)], runs)
    rows = score_rows(metrics, tables, n_resamples, bootstrap_seed)
    tests = paired_tests(labels, tables, n_resamples, bootstrap_seed, alpha) if n_resamples and len(runs) > 1 else []
    if tests and n_resamples < min_resamples_for(len(tests), alpha):
        log.warning("%d resamples cannot reach p <= %g after Holm over %d tests; use --bootstrap-resamples %d",
                    n_resamples, alpha, len(tests), min_resamples_for(len(tests), alpha))
    md = render(labels, rows, tests, n_resamples, bootstrap_seed, alpha)
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_text(out / "comparison.md", md)
    write_json(out / "comparison.json", {
        "runs": [str(r) for r in runs], "labels": labels, "scores": rows, "paired": [asdict(t) for t in tests],
        "bootstrap": {"method": METHOD, "resamples": n_resamples, "seed": bootstrap_seed, "alpha": alpha,
                      "correction": "holm"},
    })
    plot(rows, labels, out / "per_category.png")
    return md


def plot(rows: list[dict[str, Any]], labels: Sequence[str], path: Path) -> None:
    """Grouped bar chart: one group per category (official metric), one bar per run, 95% intervals as error bars."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = [f"{r['group']} ({_NAMES[r['metric']]})" for r in rows]
    n_runs = len(labels)
    x = np.arange(len(groups))
    width = 0.8 / max(n_runs, 1)
    fig, ax = plt.subplots(figsize=(max(6, 0.9 * len(groups) + 2), 4.5))
    for j, label in enumerate(labels):
        vals = np.array([r["scores"][j] if r["scores"][j] is not None else 0.0 for r in rows])
        cis = [r["ci95"][j] for r in rows]
        err = np.array([[v - ci[0], ci[1] - v] if ci else [0.0, 0.0] for v, ci in zip(vals, cis)]).T.clip(min=0)
        ax.bar(x + (j - (n_runs - 1) / 2) * width, vals, width, yerr=err, capsize=2, label=label,
               error_kw={"elinewidth": 0.8})
    ax.set_xticks(x)
    ax.set_xticklabels(groups, rotation=40, ha="right", fontsize=8)
    ax.set_ylabel("score (error bars: 95% CI)")
    ax.set_ylim(0, 100)
    ax.legend(fontsize=8)
    ax.set_title("Per-category scores (official metric per category)")
    fig.tight_layout()
    with atomic_open(path, "wb") as f:
        fig.savefig(f, format="png", dpi=120)
    plt.close(fig)
