"""Building blocks shared by the demo and the paper-reproduction scripts: train, evaluate, baseline, plot.

Each function is a thin, restartable wrapper over the public entry points (`snitk.training.train.run`,
`snitk.eval.evaluate.evaluate`, `snitk.eval.baselines.run_baseline`): finished work is detected from
the files it leaves behind and skipped on a rerun. `--seeds N` runs every setting N times (gin `SEED`)
and summarises them (`summarize_seeds`: mean, std, a bootstrap interval over seeds x instances).
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import numpy as np

from snitk.atomic import atomic_open
from snitk.errors import ConfigError
from snitk.eval.bootstrap import DEFAULT_RESAMPLES

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[1]
CONFIG_DIR = REPO_ROOT / "configs"


def gin_path(name: str) -> str:
    """Absolute path of a gin file given relative to `configs/` (or as an existing path)."""
    path = Path(name)
    if path.exists():
        return str(path)
    return str(CONFIG_DIR / name)


def data_dir_binding(data_dir: Path) -> str:
    """The gin binding that points every snitk seqio task at `data_dir`."""
    return f"snitk.tasks.data_dir.path = '{Path(data_dir).resolve()}'"


def train(model_dir: Path, gin_files: Sequence[str], bindings: Iterable[str] = ()) -> Path:
    """Train (or resume, or skip when finished) a model into `model_dir`; returns `model_dir`."""
    from snitk.training.train import run

    bindings = [f"MODEL_DIR = '{model_dir}'", *bindings]
    return Path(run([gin_path(f) for f in gin_files], list(bindings)))


def evaluate(checkpoint: Path, output_dir: Path, *, track: str = "default", encoding: str = "def_pos2",
             data_dir: Path | None = None, **kwargs) -> dict:
    """Decode and score the held-out tasks of `track`; reuses `output_dir/metrics.json` when present."""
    done = output_dir / "metrics.json"
    if done.exists():
        return json.loads(done.read_text())
    from snitk.eval.evaluate import evaluate as run_eval

    return run_eval(checkpoint, track, output_dir, encoding=encoding, data_dir=data_dir, **kwargs)


def baseline(kind: str, output_dir: Path, *, track: str = "default", data_dir: Path | None = None, **kwargs) -> dict:
    """Score a heuristic baseline (`copy_input` or `copy_demo`) on the held-out tasks of `track`."""
    done = output_dir / "metrics.json"
    if done.exists():
        return json.loads(done.read_text())
    from snitk.eval.baselines import run_baseline

    return run_baseline(kind, track, data_dir, output_dir, **kwargs)


def read_metrics_log(model_dir: Path) -> list[dict]:
    """The rows of `model_dir/metrics.jsonl` (one per logged training step)."""
    path = Path(model_dir) / "metrics.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def pyplot():
    """`matplotlib.pyplot` on the non-interactive Agg backend (plots are only written to files)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path: Path) -> Path:
    """Write a matplotlib figure to a PNG atomically and close it."""
    plt = pyplot()
    with atomic_open(path, "wb") as f:
        fig.savefig(f, format="png", dpi=120, bbox_inches="tight")
    plt.close(fig)
    return path


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A GitHub-flavoured Markdown table; floats get two decimals."""

    def cell(value: object) -> str:
        return f"{value:.2f}" if isinstance(value, float) else str(value)

    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def summary_row(metrics: Mapping) -> dict:
    """`{"rougeL", "exact_match", "n"}` from an evaluator/baseline metrics.json."""
    overall = metrics["overall"]
    return {"rougeL": overall["rougeL"], "exact_match": overall["exact_match"], "n": overall["n"]}


# ----------------------------------------------------------------------------------------------
# Several seeds per setting: run directories, summaries with bootstrap intervals, plots with error bars


def seed_runs(base: Path, seeds: int) -> list[tuple[int, Path]]:
    """(seed, run dir) for seeds 0..N-1: `base` itself for one seed (the single-run layout), else `base/seed<k>`."""
    if seeds < 1:
        raise ConfigError(f"--seeds {seeds}: expected a positive number of runs per setting")
    return [(0, Path(base))] if seeds == 1 else [(k, Path(base) / f"seed{k}") for k in range(seeds)]


def seed_binding(seed: int) -> str:
    """The gin binding of a run's seed (parameter initialisation and data order)."""
    return f"SEED = {int(seed)}"


def train_seeds(base: Path, seeds: int, gin_files: Sequence[str], bindings: Iterable[str] = (),
                model_subdir: str = "model") -> list[tuple[Path, Path]]:
    """Train one setting once per seed (`SEED = k`); returns (seed dir, model dir) pairs."""
    runs = []
    for seed, seed_dir in seed_runs(base, seeds):
        model_dir = seed_dir / model_subdir if model_subdir else seed_dir
        runs.append((seed_dir, train(model_dir, gin_files, [*bindings, seed_binding(seed)])))
    return runs


def evaluate_seeds(runs: Sequence[tuple[Path, Path]], name: str, **kwargs) -> "SeedSummary":
    """Evaluate every (seed dir, model dir) of `train_seeds` into `seed dir/name`; summarise over the seeds."""
    for seed_dir, model_dir in runs:
        evaluate(model_dir, seed_dir / name, **kwargs)
    return summarize_seeds([seed_dir / name for seed_dir, _ in runs])


@dataclass(frozen=True)
class SeedSummary:
    """A setting's score over its seeds: mean, sample std, 95% bootstrap interval over seeds x instances."""

    values: list[float]
    mean: float
    std: float  # nan for one seed
    lower: float
    upper: float
    dist: np.ndarray = field(repr=False, compare=False)  # bootstrap means (x 100), shared resamples across settings

    def cell(self) -> str:
        """"41.23 ± 0.52 [40.10, 42.31]" (no ± for a single seed)."""
        spread = f" ± {self.std:.2f}" if len(self.values) > 1 else ""
        return f"{self.mean:.2f}{spread} [{self.lower:.2f}, {self.upper:.2f}]"

    def as_json(self) -> dict:
        r = lambda v: round(float(v), 4)  # noqa: E731  (the official scores' precision)
        return {"mean": r(self.mean), "std": None if math.isnan(self.std) else r(self.std),
                "ci95": [r(self.lower), r(self.upper)], "per_seed": self.values}


def summarize_seeds(eval_dirs: Sequence[Path], metric: str = "rougeL", n_resamples: int = DEFAULT_RESAMPLES,
                    bootstrap_seed: int = 0) -> SeedSummary:
    """Summary of one setting evaluated once per seed (each dir holds metrics.json and per-instance scores).

    The interval resamples tasks, instances within tasks, then seeds (`bootstrap.seed_bootstrap_means`);
    every call with the same test set draws the same resamples, so settings can be compared resample
    by resample (e.g. the slope of a scaling curve).
    """
    from snitk.eval.bootstrap import percentile_interval, rng_for, seed_bootstrap_means
    from snitk.eval.compare import align, load_instance_scores, load_run
    from snitk.eval.intervals import group_name
    from snitk.eval.metrics import METRICS

    runs = [load_run(d) for d in eval_dirs]
    values = [float(m["overall"][metric]) for m in runs]
    tables = align([load_instance_scores(d, m) for d, m in zip(eval_dirs, runs)], list(eval_dirs))
    col = METRICS.index(metric)
    stacked = np.stack([t.scores[:, col] for t in tables])  # (seeds, instances)
    # the generator of metrics.json's overall interval: a single seed gets exactly that interval
    dist = 100 * seed_bootstrap_means(stacked, tables[0].tasks, n_resamples, rng_for(bootstrap_seed, group_name(None)))
    lo, hi = percentile_interval(dist)
    std = float(np.std(values, ddof=1)) if len(values) > 1 else float("nan")
    return SeedSummary(values, float(np.mean(values)), std, float(lo), float(hi), dist)


def seeds_note(seeds: int, n_resamples: int = DEFAULT_RESAMPLES) -> str:
    """The Markdown sentence that says how a multi-seed table's cells were computed."""
    return (f"Cells: mean over the runs of a setting ({seeds} seed(s) per trained setting)"
            f"{', ± sample standard deviation' if seeds > 1 else ''}, [95% interval of a bootstrap over seeds x "
            f"instances: tasks, then instances within tasks, then seeds, each with replacement; {n_resamples} "
            "resamples].\n")


def bar_chart(groups: Sequence[str], series: Mapping[str, Sequence[SeedSummary | None]], path: Path, *,
              ylabel: str = "ROUGE-L", title: str = "") -> Path:
    """Grouped bars (one group per entry of `groups`, one bar per series) with 95% intervals as error bars."""
    plt = pyplot()
    x = np.arange(len(groups))
    width = 0.8 / max(len(series), 1)
    fig, ax = plt.subplots(figsize=(max(5, 0.8 * len(groups) * max(1, len(series) / 2) + 2), 4))
    for j, (label, row) in enumerate(series.items()):
        means = np.array([s.mean if s else np.nan for s in row])
        err = np.array([[s.mean - s.lower, s.upper - s.mean] if s else [0, 0] for s in row]).T.clip(min=0)
        ax.bar(x + (j - (len(series) - 1) / 2) * width, means, width, yerr=err, capsize=2, label=label)
    ax.set_xticks(x, groups, rotation=30, ha="right")
    ax.set(ylabel=f"{ylabel} (error bars: 95% CI)", title=title)
    if len(series) > 1:
        ax.legend(fontsize=8)
    return save_figure(fig, path)


@dataclass(frozen=True)
class LogLinearTrend:
    """score = intercept + slope * log10(x), fitted to every seed's score; slope interval from the bootstrap."""

    intercept: float
    slope: float
    slope_lower: float
    slope_upper: float

    def describe(self, metric: str = "ROUGE-L") -> str:
        return (f"log-linear fit: {metric} = {self.intercept:.2f} + {self.slope:.2f} · log10(x); slope "
                f"{self.slope:+.2f} points per 10x [95% CI {self.slope_lower:+.2f}, {self.slope_upper:+.2f}]")


def loglinear_trend(xs: Sequence[float], summaries: Sequence[SeedSummary]) -> LogLinearTrend | None:
    """The trend over the settings with a finite positive x (None when fewer than two distinct ones)."""
    from snitk.eval.bootstrap import loglinear_fit, percentile_interval

    keep = [i for i, x in enumerate(xs) if math.isfinite(x) and x > 0]
    if len({xs[i] for i in keep}) < 2:
        return None
    px = [xs[i] for i in keep for _ in summaries[i].values]
    py = [v for i in keep for v in summaries[i].values]
    intercept, slope = loglinear_fit(px, py)
    lx = np.log10([xs[i] for i in keep])
    dists = np.stack([summaries[i].dist for i in keep], axis=1)  # (resamples, settings), shared resamples
    slopes = np.polyfit(lx, dists.T, 1)[0]
    lo, hi = percentile_interval(slopes)
    return LogLinearTrend(intercept, slope, float(lo), float(hi))


def scaling_plot(xs: Sequence[float], labels: Sequence[str], summaries: Sequence[SeedSummary], path: Path, *,
                 xlabel: str, title: str, trend: LogLinearTrend | None) -> Path:
    """Mean score per setting with 95% error bars on a log x axis, every seed as a dot, and the fitted trend."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    means = np.array([s.mean for s in summaries])
    err = np.array([[s.mean - s.lower, s.upper - s.mean] for s in summaries]).T.clip(min=0)
    ax.errorbar(xs, means, yerr=err, fmt="o", capsize=3, label="mean, 95% CI")
    for x, s in zip(xs, summaries):
        if len(s.values) > 1:
            ax.scatter([x] * len(s.values), s.values, s=8, color="grey", alpha=0.6, zorder=1)
    for x, y, v in zip(xs, means, labels):
        if math.isfinite(x):
            ax.annotate(v, (x, y), textcoords="offset points", xytext=(0, 6), ha="center", fontsize=8)
    if trend is not None:
        finite = [x for x in xs if math.isfinite(x) and x > 0]
        grid = np.geomspace(min(finite), max(finite), 50)
        ax.plot(grid, trend.intercept + trend.slope * np.log10(grid), "--",
                label=f"fit: slope {trend.slope:+.2f} / 10x [{trend.slope_lower:+.2f}, {trend.slope_upper:+.2f}]")
    ax.set_xscale("log")
    ax.set(xlabel=xlabel, ylabel="ROUGE-L", title=title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return save_figure(fig, path)
