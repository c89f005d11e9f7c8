"""Multi-seed experiment helpers (snitk.experiments): run layout, SEED bindings, summaries, trend, plots."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from snitk import experiments as ex
from snitk.atomic import write_json
from snitk.errors import ConfigError
from snitk.eval.intervals import INSTANCE_SCORES, InstanceScores, write_instance_scores

TASKS = np.repeat([f"task{t}" for t in range(12)], 10)


def fake_eval(d: Path, rouge_l: np.ndarray) -> Path:
    """An evaluation output dir (metrics.json + instance_scores.jsonl) with the given per-instance ROUGE-L."""
    ids = [f"{t}-{i % 10}" for i, t in enumerate(TASKS)]
    table = InstanceScores(list(TASKS), ids, ["Title Generation"] * len(ids), np.stack([rouge_l > 0.5, rouge_l, rouge_l], 1))
    d.mkdir(parents=True)
    write_instance_scores(d / INSTANCE_SCORES, table)
    write_json(d / "metrics.json", {"overall": {"rougeL": round(100 * float(rouge_l.mean()), 4), "n": len(ids)}})
    return d


def test_seed_runs_layout_and_bindings(tmp_path, monkeypatch):
    assert ex.seed_runs(tmp_path / "r", 1) == [(0, tmp_path / "r")]  # the single-run layout is unchanged
    assert ex.seed_runs(tmp_path / "r", 3) == [(k, tmp_path / "r" / f"seed{k}") for k in range(3)]
    with pytest.raises(ConfigError, match="--seeds 0"):
        ex.seed_runs(tmp_path, 0)
    calls = []
    def fake_train(model_dir, gin_files, bindings=()):
        calls.append((model_dir, list(bindings)))
        return model_dir

    monkeypatch.setattr(ex, "train", fake_train)
    runs = ex.train_seeds(tmp_path / "r", 2, ["x.gin"], ["A = 1"])
    assert [m for _, m in runs] == [tmp_path / "r" / "seed0" / "model", tmp_path / "r" / "seed1" / "model"]
    assert [c[1] for c in calls] == [["A = 1", "SEED = 0"], ["A = 1", "SEED = 1"]]


def test_summary_over_seeds(tmp_path):
    rng = np.random.default_rng(0)
    dirs = [fake_eval(tmp_path / f"s{k}", np.clip(0.4 + 0.03 * k + rng.normal(0, 0.1, len(TASKS)), 0, 1)) for k in range(3)]
    s = ex.summarize_seeds(dirs, n_resamples=500)
    values = [float(json.loads((d / "metrics.json").read_text())["overall"]["rougeL"]) for d in dirs]
    assert s.values == values and s.mean == pytest.approx(np.mean(values))
    assert s.std == pytest.approx(np.std(values, ddof=1))
    assert s.lower < s.mean < s.upper and len(s.dist) == 500
    assert s.cell() == f"{s.mean:.2f} ± {s.std:.2f} [{s.lower:.2f}, {s.upper:.2f}]"
    one = ex.summarize_seeds(dirs[:1], n_resamples=500)
    assert math.isnan(one.std) and "±" not in one.cell() and one.as_json()["std"] is None


def test_loglinear_trend_recovers_a_known_slope_and_plots(tmp_path):
    rng = np.random.default_rng(1)
    xs, slope = [8.0, 32.0, 128.0, 512.0], 0.05  # 5 points per 10x
    summaries = []
    for x in xs:
        mean = 0.3 + slope * np.log10(x)
        dirs = [fake_eval(tmp_path / f"x{int(x)}_s{k}", np.clip(mean + rng.normal(0, 0.05, len(TASKS)), 0, 1)) for k in range(2)]
        summaries.append(ex.summarize_seeds(dirs, n_resamples=400))
    trend = ex.loglinear_trend([*xs, float("nan")], [*summaries, summaries[0]])  # NaN x ("all") is left out
    assert trend.slope == pytest.approx(100 * slope, abs=1.0)
    assert trend.slope_lower < 100 * slope < trend.slope_upper
    assert "points per 10x" in trend.describe()
    assert ex.loglinear_trend([8.0, float("nan")], summaries[:2]) is None
    png = ex.scaling_plot(xs, ["8", "32", "128", "512"], summaries, tmp_path / "s.png", xlabel="tasks", title="t", trend=trend)
    bars = ex.bar_chart(["a", "b"], {"default": summaries[:2], "xlingual": [summaries[2], None]}, tmp_path / "b.png")
    for path in (png, bars):
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
