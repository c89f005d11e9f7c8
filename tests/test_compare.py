"""Confidence intervals in the evaluator's outputs and `python -m snitk.eval compare`'s paired tests."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from snitk.eval.__main__ import main
from test_eval_scoring import write_splits, write_task

CATS = {"Textual Entailment": "task1{}_entail", "Title Generation": "task2{}_title"}


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """Six test tasks in two categories, six instances each; copy_demo is right on about half of entailment."""
    names = []
    for cat, pattern in CATS.items():
        for k in range(3):
            name = pattern.format(k)
            rows = [(f"{name}-{i}", f"a story number {i} about cats and dogs {k}", ["Yes" if (i + k) % 2 else "No"]
                     if cat == "Textual Entailment" else [f"story {i} of cats" if i % 2 else f"the tale {i}"]) for i in range(6)]
            write_task(tmp_path, name, cat, rows, demo="Yes" if cat == "Textual Entailment" else "a title")
            names.append(name)
    write_splits(tmp_path, "default", names)
    return tmp_path


def baseline(data_dir: Path, kind: str, out: Path, *extra: str) -> dict:
    assert main(["baseline", "--kind", kind, "--data-dir", str(data_dir), "--output-dir", str(out), *extra]) == 0
    return json.loads((out / "metrics.json").read_text())


def perfect_run(data_dir: Path, out: Path) -> Path:
    """`score` a predictions file that repeats the references: every instance scores 1."""
    rows = [json.loads(line) for line in (data_dir / "ci" / "predictions.jsonl").read_text().splitlines()]
    preds = data_dir / "perfect.jsonl"
    preds.write_text("".join(json.dumps({**r, "prediction": r["Instance"]["output"][0]}) + "\n" for r in rows))
    assert main(["score", "--predictions", str(preds), "--data-dir", str(data_dir), "--output-dir", str(out)]) == 0
    return out


def test_intervals_beside_every_overall_and_category_score(data_dir):
    m = baseline(data_dir, "copy_input", data_dir / "ci", "--bootstrap-resamples", "300", "--bootstrap-seed", "7")
    assert m["bootstrap"]["resamples"] == 300 and m["bootstrap"]["seed"] == 7
    for entry in [m["overall"], *m["per_category"].values()]:
        for metric in ("exact_match", "rouge1", "rougeL"):
            lo, hi = entry["ci95"][metric]
            assert lo <= entry[metric] <= hi
    assert m["overall"]["ci95"]["rougeL"][1] > m["overall"]["ci95"]["rougeL"][0]  # real spread across tasks
    rows = [json.loads(line) for line in (data_dir / "ci" / "instance_scores.jsonl").read_text().splitlines()]
    assert len(rows) == m["overall"]["n"] == 36
    assert round(100 * sum(r["rougeL"] for r in rows) / len(rows), 4) == m["overall"]["rougeL"]
    report = (data_dir / "ci" / "report.md").read_text()
    assert "hierarchical percentile bootstrap" in report and "300 resamples, seed 7" in report
    ci = m["overall"]["ci95"]["rougeL"]
    assert f"{m['overall']['rougeL']:.2f} [{ci[0]:.2f}, {ci[1]:.2f}]" in report
    # same seed: same intervals; no resamples: no intervals
    again = baseline(data_dir, "copy_input", data_dir / "again", "--bootstrap-resamples", "300", "--bootstrap-seed", "7")
    assert again["overall"]["ci95"] == m["overall"]["ci95"]
    none = baseline(data_dir, "copy_input", data_dir / "none", "--bootstrap-resamples", "0")
    assert "ci95" not in none["overall"] and "bootstrap" not in none


def test_compare_paired_differences_with_holm(data_dir, tmp_path):
    baseline(data_dir, "copy_input", data_dir / "ci")
    perfect = perfect_run(data_dir, data_dir / "perfect")
    out = tmp_path / "cmp"
    runs = [str(data_dir / "ci"), str(data_dir / "ci"), str(perfect)]
    assert main(["compare", *runs, "--labels", "A", "A2", "P", "--output-dir", str(out)]) == 0
    result = json.loads((out / "comparison.json").read_text())
    tests = result["paired"]
    assert len(tests) == 3 * (2 + len(CATS))  # 3 pairs x (overall ROUGE-L, overall EM, each category)
    for t in tests:
        if (t["a"], t["b"]) == ("A", "A2"):  # a run against itself
            assert t["difference"] == 0.0 and t["p_value"] == 1.0 and not t["significant"]
        else:  # copy_input against perfect predictions
            assert t["difference"] < 0 and t["upper"] < 0
    overall = next(t for t in tests if (t["group"], t["metric"], t["b"]) == ("overall", "rougeL", "P") and t["a"] == "A")
    assert overall["significant"] and overall["p_holm"] >= overall["p_value"]
    md = (out / "comparison.md").read_text()
    assert "Holm" in md and "A − P" in md and "**yes**" in md
    assert (out / "per_category.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    scores = {(r["group"], r["metric"]): r for r in result["scores"]}
    ci_metrics = json.loads((data_dir / "ci" / "metrics.json").read_text())
    assert scores["overall", "rougeL"]["ci95"][0] == ci_metrics["overall"]["ci95"]["rougeL"]  # as in metrics.json

    # 100 resamples: p >= 2/101, times 12 tests after Holm > 0.05 -- nothing can be significant, and it says so
    assert main(["compare", *runs, "--bootstrap-resamples", "100", "--output-dir", str(tmp_path / "few")]) == 0
    assert not any(t["significant"] for t in json.loads((tmp_path / "few" / "comparison.json").read_text())["paired"])
    assert "--bootstrap-resamples 480" in (tmp_path / "few" / "comparison.md").read_text()

    # without instance_scores.jsonl the runs' predictions.jsonl are rescored: same tests
    (data_dir / "ci" / "instance_scores.jsonl").unlink()
    assert main(["compare", *runs, "--labels", "A", "A2", "P", "--output-dir", str(tmp_path / "cmp2")]) == 0
    assert json.loads((tmp_path / "cmp2" / "comparison.json").read_text())["paired"] == tests


def test_compare_refuses_runs_on_different_instances(data_dir, tmp_path, capsys):
    baseline(data_dir, "copy_input", data_dir / "all")
    baseline(data_dir, "copy_demo", data_dir / "few", "--max-tasks", "2")
    assert main(["compare", str(data_dir / "all"), str(data_dir / "few"), "--output-dir", str(tmp_path / "c")]) == 2
    err = capsys.readouterr().err
    assert "instance_scores.jsonl" in err and "same (task, id) instances" in err
