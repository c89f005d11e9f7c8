"""Building blocks shared by the demo and the paper-reproduction scripts: train, evaluate, baseline, plot.

Each function is a thin, restartable wrapper over the public entry points (`snitk.training.train.run`,
`snitk.eval.evaluate.evaluate`, `snitk.eval.baselines.run_baseline`): finished work is detected from
the files it leaves behind and skipped on a rerun.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Iterable, Mapping, Sequence

from snitk.atomic import atomic_open

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
