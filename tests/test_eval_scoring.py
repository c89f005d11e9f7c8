"""Scoring through the evaluator's outputs: baselines on the real sample, `score`, `compare`, missing tasks."""

from __future__ import annotations

import json
import string
from pathlib import Path

import pytest

from conftest import require_shared
from snitk.errors import DataError
from snitk.eval.__main__ import main


def write_task(root: Path, name: str, category: str, instances: list[tuple[str, str, list[str]]], demo: str = "demo out", lang: str = "English") -> None:
    obj = {
        "Contributors": ["test"], "Source": ["test"], "URL": ["http://example.org"], "Categories": [category],
        "Reasoning": [], "Definition": [f"Definition of {name}."], "Input_language": [lang], "Output_language": [lang],
        "Instruction_language": ["English"], "Domains": ["Misc"],
        "Positive Examples": [{"input": "demo in", "output": demo, "explanation": "because"}],
        "Negative Examples": [],
        "Instances": [{"id": i, "input": x, "output": y} for i, x, y in instances],
    }
    (root / "tasks").mkdir(parents=True, exist_ok=True)
    (root / "tasks" / f"{name}.json").write_text(json.dumps(obj, ensure_ascii=False))


def write_splits(root: Path, track: str, test: list[str], train: list[str] = ()) -> None:
    d = root / "splits" / track
    d.mkdir(parents=True, exist_ok=True)
    (d / "test_tasks.txt").write_text("\n".join(test) + "\n")
    (d / "train_tasks.txt").write_text("\n".join(train) + "\n")
    (d / "excluded_tasks.txt").write_text("")


def _norm(s: str) -> str:
    s = "".join(c for c in s.lower() if c not in set(string.punctuation))
    return " ".join(s.split())


def _independent_scores(data_dir: Path, track: str, kind: str, per_task: int) -> tuple[dict, dict]:
    """Expected (overall, per_task) computed straight from the JSON files with rouge-score."""
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)
    names = [n.strip() for n in (data_dir / "splits" / track / "test_tasks.txt").read_text().split("\n") if n.strip()]
    em_all, rl_all, n_all, per = 0.0, 0.0, 0, {}
    for name in names:
        path = data_dir / "tasks" / f"{name}.json"
        if not path.exists():
            continue
        task = json.loads(path.read_text())
        em_t = rl_t = 0.0
        insts = task["Instances"][:per_task]
        for inst in insts:
            pred = inst["input"] if kind == "copy_input" else task["Positive Examples"][0]["output"]
            em = max(float(_norm(pred) == _norm(r)) for r in inst["output"])
            rl = max(scorer.score(target=r, prediction=pred)["rougeL"].fmeasure for r in inst["output"])
            em_t += em
            rl_t += rl
            em_all += em
            rl_all += rl
        n_all += len(insts)
        key = "task121_zest_question_rewriting" if name == "task121_atomic_question_rewriting" else name
        per[key] = {"exact_match": round(100 * em_t / len(insts), 4), "rougeL": round(100 * rl_t / len(insts), 4)}
    return {"exact_match": round(100 * em_all / n_all, 4), "rougeL": round(100 * rl_all / n_all, 4), "n": n_all}, per


@pytest.mark.parametrize("kind", ["copy_demo", "copy_input"])
def test_baselines_on_real_sample_match_independent_rouge(kind, tmp_path):
    sample = require_shared("natinst-sample")
    per_task = 100  # the official selection
    out = tmp_path / kind
    rc = main(["baseline", "--kind", kind, "--track", "default", "--data-dir", str(sample), "--output-dir", str(out),
               "--allow-missing-tasks", "--max-per-task", str(per_task)])
    assert rc == 0
    metrics = json.loads((out / "metrics.json").read_text())
    overall, per = _independent_scores(sample, "default", kind, per_task)
    assert metrics["overall"]["n"] == overall["n"]
    assert metrics["overall"]["exact_match"] == overall["exact_match"]
    assert metrics["overall"]["rougeL"] == overall["rougeL"]
    assert set(metrics["per_task"]) == set(per)
    for task, exp in per.items():
        assert metrics["per_task"][task]["rougeL"] == exp["rougeL"], task
        assert metrics["per_task"][task]["exact_match"] == exp["exact_match"], task
    assert metrics["num_missing_tasks"] > 0
    # official record format
    rec = json.loads((out / "predictions.jsonl").read_text().split("\n")[0])
    assert {"id", "Task", "Definition", "Instance", "prediction"} <= set(rec)
    assert {"id", "input", "output"} <= set(rec["Instance"])
    assert (out / "report.md").read_text().startswith("# Baseline")
    ref = json.loads((out / "references.jsonl").read_text().split("\n")[0])
    assert ref["id"] == rec["id"] and ref["references"] == rec["Instance"]["output"]


def test_missing_test_tasks_are_an_error_listing_them(tmp_path, capsys):
    write_task(tmp_path, "task1_present", "Title Generation", [("task1-1", "in", ["out"])])
    write_splits(tmp_path, "default", ["task1_present", "task2_absent", "task3_absent"], ["task1_present"])
    from snitk.eval.evaluate import load_test_set

    with pytest.raises(DataError, match="task2_absent.*task3_absent|task3_absent.*task2_absent"):
        load_test_set("default", tmp_path)
    rc = main(["baseline", "--kind", "copy_input", "--data-dir", str(tmp_path), "--output-dir", str(tmp_path / "o")])
    assert rc == 2 and "task2_absent" in capsys.readouterr().err
    rc = main(["baseline", "--kind", "copy_input", "--data-dir", str(tmp_path), "--output-dir", str(tmp_path / "o"), "--allow-missing-tasks"])
    assert rc == 0
    metrics = json.loads((tmp_path / "o" / "metrics.json").read_text())
    assert metrics["num_missing_tasks"] == 2 and metrics["overall"]["n"] == 1


def test_score_predictions_file_xlingual(tmp_path):
    bpe = require_shared("vocab") / "gpt2.tiktoken"
    write_task(tmp_path, "task9_zh_title", "Title Generation",
               [("task9-1", "文章", ["我喜欢猫"]), ("task9-2", "文章", ["今天天气很好"])], lang="Chinese")
    write_splits(tmp_path, "xlingual", ["task9_zh_title"])
    preds = tmp_path / "preds.jsonl"
    rows = [
        {"id": "task9-1", "Task": "task9_zh_title", "Instance": {"id": "task9-1", "input": "文章", "output": ["我喜欢猫"]}, "prediction": "我喜欢猫"},
        {"id": "task9-2", "Task": "task9_zh_title", "Instance": {"id": "task9-2", "input": "文章", "output": ["今天天气很好"]}, "Prediction": "zzz"},
    ]
    preds.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n")
    out = tmp_path / "scored"
    rc = main(["score", "--predictions", str(preds), "--track", "xlingual", "--data-dir", str(tmp_path),
               "--output-dir", str(out), "--gpt2-bpe", str(bpe)])
    assert rc == 0
    m = json.loads((out / "metrics.json").read_text())
    assert m["overall"].pop("ci95")["exact_match"] == [0.0, 100.0]  # one right, one wrong
    assert m["overall"] == {"exact_match": 50.0, "rouge1": 50.0, "rougeL": 50.0, "n": 2}
    # category came from the task file (the records have no Categories)
    assert list(m["per_category"]) == ["Title Generation"]
    # references and ids come from the data dir: the default track has no such test set, so nothing is scored
    rc = main(["score", "--predictions", str(preds), "--track", "default", "--data-dir", str(tmp_path), "--output-dir", str(tmp_path / "d")])
    assert rc == 2 and not (tmp_path / "d" / "metrics.json").exists()


def test_compare_writes_table_and_png(tmp_path):
    write_task(tmp_path, "task1_a", "Textual Entailment", [("task1-1", "p. h.", ["Yes"]), ("task1-2", "x", ["No"])], demo="Yes")
    write_task(tmp_path, "task2_b", "Title Generation", [("task2-1", "a long story about cats", ["story of cats"])], demo="a title")
    write_splits(tmp_path, "default", ["task1_a", "task2_b"])
    for kind in ("copy_input", "copy_demo"):
        assert main(["baseline", "--kind", kind, "--data-dir", str(tmp_path), "--output-dir", str(tmp_path / kind)]) == 0
    demo = json.loads((tmp_path / "copy_demo" / "metrics.json").read_text())
    assert demo["per_category"]["Textual Entailment"]["exact_match"] == 50.0
    rc = main(["compare", str(tmp_path / "copy_input"), str(tmp_path / "copy_demo"), "--output-dir", str(tmp_path / "cmp")])
    assert rc == 0
    md = (tmp_path / "cmp" / "comparison.md").read_text()
    assert "copy_input" in md and "copy_demo" in md and "Textual Entailment" in md and "| EM |" in md
    png = (tmp_path / "cmp" / "per_category.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
