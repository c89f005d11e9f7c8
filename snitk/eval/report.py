"""Markdown reports of metrics.json contents, laid out like the paper's tables."""

from __future__ import annotations

from typing import Any

from snitk.eval.metrics import CATEGORY_METRICS, category_metric

_NAMES = {"exact_match": "EM", "rouge1": "ROUGE-1", "rougeL": "ROUGE-L"}


def _fmt(x: Any) -> str:
    if isinstance(x, bool) or isinstance(x, int):
        return str(x)
    return f"{x:.2f}" if isinstance(x, float) else str(x)


def table(header: list[str], rows: list[list[Any]]) -> str:
    """A Markdown table (numbers with two decimals)."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" if i == 0 else "---:" for i in range(len(header))) + "|"]
    lines += ["| " + " | ".join(_fmt(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def with_interval(entry: dict[str, Any], metric: str) -> str:
    """"41.23 [39.80, 42.65]": a score with its 95% interval when metrics.json has one."""
    ci = entry.get("ci95", {}).get(metric)
    return f"{entry[metric]:.2f}" + (f" [{ci[0]:.2f}, {ci[1]:.2f}]" if ci else "")


def interval_note(metrics: dict[str, Any]) -> str:
    """How the intervals were computed (from metrics.json's ``bootstrap`` entry); "" when there are none."""
    b = metrics.get("bootstrap")
    if not b:
        return ""
    return (f"Brackets: {100 * b['confidence']:.0f}% confidence intervals from a {b['method']}, "
            f"{b['resamples']} resamples, seed {b['seed']}; each resample's score is the micro-average of its "
            "drawn instances, and the interval is the 2.5th-97.5th percentile of those scores. "
            "Per-category intervals resample that category's tasks only.")


def category_order(categories: list[str]) -> list[str]:
    """The paper's 12 reported categories first (in its order), then the others alphabetically."""
    known = [c for c in CATEGORY_METRICS if c in categories]
    return known + sorted(c for c in categories if c not in CATEGORY_METRICS)


def render_report(metrics: dict[str, Any], title: str = "Evaluation") -> str:
    """Overall scores, per-category scores (with the official metric of each category) and per-task scores."""
    o = metrics["overall"]
    parts = [f"# {title}", ""]
    if metrics.get("track"):
        parts.append(f"Track: **{metrics['track']}** — {metrics.get('num_tasks', len(metrics.get('per_task', {})))} tasks, {o['n']} instances.")
    if metrics.get("num_missing_tasks"):
        parts.append(f"Missing test tasks skipped: {metrics['num_missing_tasks']}.")
    overall = [with_interval(o, m) for m in ("exact_match", "rouge1", "rougeL")]
    parts += ["", "## Overall", "", table(["", "EM", "ROUGE-1", "ROUGE-L", "n"], [["all", *overall, o["n"]]])]
    if interval_note(metrics):
        parts += ["", interval_note(metrics)]

    cats = metrics.get("per_category", {})
    if cats:
        rows = []
        for c in category_order(list(cats)):
            m = cats[c]
            metric = m.get("metric", category_metric(c))
            rows.append([c, _NAMES[metric], with_interval(m, metric), m["exact_match"], m["rouge1"], m["rougeL"], m["n"]])
        parts += [
            "", "## Per category", "",
            "The official metric of a category is EM for the classification-like categories and ROUGE-L otherwise.", "",
            table(["category", "metric", "score", "EM", "ROUGE-1", "ROUGE-L", "n"], rows),
        ]
    tasks = metrics.get("per_task", {})
    if tasks:
        rows = []
        for t in sorted(tasks):
            m = tasks[t]
            metric = m.get("metric", "rougeL")
            rows.append([t, m.get("category", ""), _NAMES[metric], m[metric], m["exact_match"], m["rougeL"], m["n"]])
        parts += ["", "## Per task", "", table(["task", "category", "metric", "score", "EM", "ROUGE-L", "n"], rows)]
    settings = metrics.get("settings")
    if settings:
        parts += ["", "## Settings", ""] + [f"- {k}: `{v}`" for k, v in settings.items()]
    return "\n".join(parts) + "\n"
