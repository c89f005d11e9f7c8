"""`python -m snitk.data`: render, validate, stats and list-tasks."""

from __future__ import annotations

import json
import subprocess
import sys
import types
from pathlib import Path

import pytest

from snitk.data import main


def task_obj(name: str, n: int = 4, category: str = "Cat", lang: str = "English") -> dict:
    return {
        "Contributors": ["x"], "Source": ["s"], "URL": ["u"], "Categories": [category], "Reasoning": [],
        "Definition": [f"Solve {name}"], "Input_language": [lang], "Output_language": [lang],
        "Instruction_language": ["English"], "Domains": ["d"],
        "Positive Examples": [{"input": "p1", "output": "o1", "explanation": "e1"}, {"input": "p2", "output": "o2", "explanation": "e2"}],
        "Negative Examples": [{"input": "n1", "output": "x1", "explanation": "bad"}],
        "Instances": [{"id": f"{name}-{i}", "input": f"q{i}?", "output": [f"a{i}", f"b{i}"]} for i in range(n)],
    }


@pytest.fixture()
def task_dir(tmp_path):
    d = tmp_path / "tasks"
    d.mkdir()
    for name, n in (("task002_b", 3), ("task001_a", 5)):
        (d / f"{name}.json").write_text(json.dumps(task_obj(name, n)), encoding="utf-8")
    return d


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_render_all_tasks_in_file_order(capsys, task_dir):
    code, out, _ = run(capsys, "render", "--task-dir", str(task_dir), "--encoding", "def_pos2")
    assert code == 0
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["id"] for r in rows] == [f"task001_a-{i}" for i in range(5)] + [f"task002_b-{i}" for i in range(3)]
    assert set(rows[0]) == {"task", "id", "inputs", "targets"}
    assert rows[0]["targets"] == ["a0", "b0"]
    assert rows[0]["inputs"] == (
        "Definition: Solve task001_a.\n\n"
        " Positive Example 1 -\nInput: p1.\n Output: o1.\n\n"
        " Positive Example 2 -\nInput: p2.\n Output: o2.\n\n"
        "Now complete the following example -\nInput: q0?\nOutput: "
    )


def test_render_selected_tasks_and_limit(capsys, task_dir):
    code, out, _ = run(capsys, "render", "--task-dir", str(task_dir), "--task", "task002_b", "task001_a",
                       "--encoding", "def", "--limit", "2")
    assert code == 0
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["id"] for r in rows] == ["task002_b-0", "task002_b-1", "task001_a-0", "task001_a-1"]
    assert rows[0]["inputs"].startswith("Definition: Solve task002_b.\n\nNow complete")


def test_render_unknown_task_or_encoding(capsys, task_dir):
    code, _, err = run(capsys, "render", "--task-dir", str(task_dir), "--task", "task404_none", "--encoding", "def")
    assert code == 1 and "task404_none" in err
    with pytest.raises(SystemExit):
        main(["render", "--task-dir", str(task_dir), "--encoding", "nope"])


def test_render_token_budget_needs_real_vocab(capsys, task_dir, repo_root):
    model = Path(repo_root) / "snitk" / "assets" / "demo_spm.model"
    if not model.exists():
        pytest.skip(f"{model} not present (the demo vocabulary is generated with the demo corpus)")
    code, out, _ = run(capsys, "render", "--task-dir", str(task_dir), "--encoding", "def_pos2", "--token-budget", "12",
                       "--vocab", str(model), "--truncation", "keep-tail", "--limit", "1")
    assert code == 0
    assert all(json.loads(line)["inputs"].endswith("Output: ") for line in out.splitlines())


def test_validate_ok_and_bad_files(capsys, task_dir):
    code, out, _ = run(capsys, "validate", "--task-dir", str(task_dir))
    assert code == 0 and "2 task file(s) valid" in out
    bad1 = task_obj("task003_c")
    bad1["Instances"][1]["output"] = []
    (task_dir / "task003_c.json").write_text(json.dumps(bad1), encoding="utf-8")
    (task_dir / "task004_d.json").write_text("{not json", encoding="utf-8")
    code, _, err = run(capsys, "validate", "--task-dir", str(task_dir))
    assert code == 1
    assert "task003_c.json" in err and "task003_c-1" in err
    assert "task004_d.json" in err and "invalid JSON" in err
    assert "task001_a" not in err


def test_validate_reports_metadata_quirks_as_warnings(capsys, task_dir):
    quirky = task_obj("task005_e")
    quirky["URL"] = [float("nan")]  # as upstream task267
    quirky["Domains"] = None
    (task_dir / "task005_e.json").write_text(json.dumps(quirky), encoding="utf-8")
    code, out, err = run(capsys, "validate", "--task-dir", str(task_dir))
    assert code == 0 and "3 task file(s) valid" in out
    lines = [line for line in err.splitlines() if line.startswith("WARNING")]
    assert any("task005_e.json" in line and "URL[0]" in line and "float" in line for line in lines), err
    assert any("task005_e.json" in line and "Domains" in line for line in lines), err


def test_validate_split_lists(capsys, tmp_path, task_dir):
    root = tmp_path  # task_dir is root/tasks, so splits live in root/splits
    sd = root / "splits" / "default"
    sd.mkdir(parents=True)
    (sd / "train_tasks.txt").write_text("task001_a\n", encoding="utf-8")
    (sd / "test_tasks.txt").write_text("task002_b\ntask777_missing\n", encoding="utf-8")
    code, _, err = run(capsys, "validate", "--task-dir", str(root))
    assert code == 0 and "task777_missing" in err  # missing files are a warning by default
    code, _, err = run(capsys, "validate", "--task-dir", str(root), "--strict-splits")
    assert code == 1 and "task777_missing" in err
    (sd / "test_tasks.txt").write_text("task002_b\ntask001_a\n", encoding="utf-8")
    code, _, err = run(capsys, "validate", "--task-dir", str(task_dir))
    assert code == 1 and "both train and test" in err and "task001_a" in err
    (sd / "test_tasks.txt").write_text("task002_b\ntask002_b\n", encoding="utf-8")
    code, _, err = run(capsys, "validate", "--task-dir", str(root))
    assert code == 1 and "test_tasks.txt" in err and "twice" in err


def test_stats(capsys, tmp_path, task_dir):
    (task_dir / "task005_fr.json").write_text(json.dumps(task_obj("task005_fr", 7, "Other", "French")), encoding="utf-8")
    for track, train, test in (("default", ["task001_a", "task005_fr"], ["task002_b"]), ("xlingual", ["task005_fr"], [])):
        sd = tmp_path / "splits" / track
        sd.mkdir(parents=True)
        (sd / "train_tasks.txt").write_text("\n".join(train) + "\n", encoding="utf-8")
        (sd / "test_tasks.txt").write_text("\n".join(test) + "\n", encoding="utf-8")
    code, out, _ = run(capsys, "stats", "--data-dir", str(tmp_path), "--json")
    assert code == 0
    res = json.loads(out)
    assert res["splits"]["train"]["listed"] == 2 and res["splits"]["train"]["instances"] == 12
    assert res["splits"]["train"]["categories"] == {"Cat": 1, "Other": 1}
    assert res["splits"]["train"]["languages"] == {"English": 1, "French": 1}
    assert res["splits"]["test"]["instances"] == 3
    code, out, _ = run(capsys, "stats", "--data-dir", str(tmp_path), "--track", "all")
    assert code == 0 and "track: default" in out and "track: xlingual" in out
    line = next(ln for ln in out.splitlines() if ln.startswith("train"))
    assert line.split()[:4] == ["train", "2", "2", "12"]


def test_list_tasks(capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "snitk.tasks", None)  # import fails
    code, _, err = run(capsys, "list-tasks")
    assert code == 1 and "snitk.tasks" in err
    fake = types.ModuleType("snitk.tasks")
    fake.list_task_names = lambda: ["snitk_default_def_pos2", "snitk_xlingual_def"]
    monkeypatch.setitem(sys.modules, "snitk.tasks", fake)
    code, out, _ = run(capsys, "list-tasks")
    assert code == 0 and out.split() == ["snitk_default_def_pos2", "snitk_xlingual_def"]


def test_module_entry_point(task_dir):
    proc = subprocess.run(
        [sys.executable, "-m", "snitk.data", "render", "--task-dir", str(task_dir), "--task", "task002_b", "--encoding", "pos1"],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert len(proc.stdout.splitlines()) == 3
    assert json.loads(proc.stdout.splitlines()[0])["inputs"].startswith(" Positive Example 1 -\nInput: p1.\n")
