"""Untrusted and malformed inputs through the real CLIs (`snitk data`, `python -m snitk.eval`): one clear
error (message + exit status), nothing written or half-written."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest

from snitk.data import main as data_main
from snitk.eval.__main__ import main as eval_main

WORDS = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu".split()


def write_task(root: Path, name: str, instances: list[tuple[str, str, list[str]]], category: str = "Title Generation") -> Path:
    obj = {
        "Contributors": ["t"], "Source": ["t"], "URL": ["http://example.org"], "Categories": [category],
        "Reasoning": [], "Definition": [f"Definition of {name}."], "Input_language": ["English"],
        "Output_language": ["English"], "Instruction_language": ["English"], "Domains": ["Misc"],
        "Positive Examples": [{"input": "demo in", "output": "demo out", "explanation": "e"}],
        "Negative Examples": [],
        "Instances": [{"id": i, "input": x, "output": y} for i, x, y in instances],
    }
    (root / "tasks").mkdir(parents=True, exist_ok=True)
    path = root / "tasks" / f"{name}.json"
    path.write_text(json.dumps(obj))
    return path


def write_splits(root: Path, test: list[str], train: list[str] = ()) -> None:
    d = root / "splits" / "default"
    d.mkdir(parents=True, exist_ok=True)
    (d / "test_tasks.txt").write_text("".join(f"{n}\n" for n in test))
    (d / "train_tasks.txt").write_text("".join(f"{n}\n" for n in train))


@pytest.fixture()
def data_dir(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    write_task(root, "task1_a", [("task1-1", "cats and dogs", ["cats"]), ("task1-2", "red fish", ["fish"])])
    write_task(root, "task2_b", [("task2-1", "a tall tree", ["tree"])])
    write_splits(root, ["task1_a", "task2_b"])
    return root


def prediction(iid: str, task: str, pred, refs=("edited",)) -> dict:
    return {"id": iid, "Task": task, "Instance": {"id": iid, "input": "?", "output": list(refs)}, "prediction": pred}


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def score(data_dir: Path, preds: Path, out: Path, *extra: str) -> int:
    return eval_main(["score", "--predictions", str(preds), "--data-dir", str(data_dir), "--output-dir", str(out), *extra])


def test_score_takes_references_and_ids_from_the_data_dir(data_dir, tmp_path, capsys):
    good = [prediction("task1-1", "task1_a", "cats"), prediction("task1-2", "task1_a", "fish"),
            prediction("task2-1", "task2_b", "bush")]
    out = tmp_path / "out"
    assert score(data_dir, write_jsonl(tmp_path / "p.jsonl", good), out) == 0
    overall = json.loads((out / "metrics.json").read_text())["overall"]
    assert overall["n"] == 3 and overall["exact_match"] == pytest.approx(200 / 3)  # edited refs ignored
    refs = [json.loads(line)["references"] for line in (out / "references.jsonl").read_text().splitlines()]
    assert refs == [["cats"], ["fish"], ["tree"]]

    cases = {
        "unknown": (good + [prediction("task9-9", "task1_a", "x")], "'task9-9' is not an instance"),
        "duplicate": (good + [good[0]], "appears twice"),
        "null": ([*good[:2], prediction("task2-1", "task2_b", None)], "prediction: a string, got NoneType"),
        "number": ([*good[:2], prediction("task2-1", "task2_b", 5)], "prediction: a string, got int"),
        "partial": (good[:2], "1 missing (first: task2-1); pass --allow-partial"),
        "empty": ([], "at least one prediction"),
    }
    for name, (rows, message) in cases.items():
        bad_out = tmp_path / f"out_{name}"
        assert score(data_dir, write_jsonl(tmp_path / f"{name}.jsonl", rows), bad_out) == 2, name
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1, (name, err)
        assert not (bad_out / "metrics.json").exists()

    partial_out = tmp_path / "partial"
    assert score(data_dir, tmp_path / "partial.jsonl", partial_out, "--allow-partial") == 0
    first_line = (partial_out / "report.md").read_text().splitlines()[0]
    assert first_line.startswith("# PARTIAL: 2 of 3 test instances have predictions")
    assert json.loads((partial_out / "metrics.json").read_text())["coverage"] == {
        "scored": 2, "test_instances": 3, "partial": True}

    latin1 = tmp_path / "latin1.jsonl"
    latin1.write_bytes(json.dumps(good[0]).encode() + b"\n" + '{"id": "caf\xe9"}\n'.encode("latin-1"))
    assert score(data_dir, latin1, tmp_path / "o2") == 2
    assert "UTF-8 text" in capsys.readouterr().err


def test_compare_truncated_metrics_and_empty_or_unsplit_data(data_dir, tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.json").write_text('{"overall": {"exact_match": 1.0, "rou')
    assert eval_main(["compare", str(run), str(run), "--output-dir", str(tmp_path / "cmp")]) == 2
    assert "truncated or not JSON" in capsys.readouterr().err and not (tmp_path / "cmp" / "comparison.md").exists()

    write_task(data_dir, "task3_empty", [])
    write_splits(data_dir, ["task1_a", "task3_empty"])
    rc = eval_main(["baseline", "--kind", "copy_input", "--data-dir", str(data_dir), "--output-dir", str(tmp_path / "b")])
    err = capsys.readouterr().err
    assert rc == 2 and "task3_empty.json: Instances: at least one instance" in err

    nosplits = tmp_path / "nosplits"
    write_task(nosplits, "task1_a", [("task1-1", "x", ["y"])])
    assert data_main(["stats", "--data-dir", str(nosplits)]) == 1
    assert "no split lists" in capsys.readouterr().err
    rc = eval_main(["baseline", "--kind", "copy_input", "--data-dir", str(nosplits), "--output-dir", str(tmp_path / "c")])
    assert rc == 2 and "split list not found" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [
    ["data", "render", "--task-dir", "D", "--token-budget", "-5"],
    ["data", "render", "--task-dir", "D", "--limit", "-1"],
    ["eval", "baseline", "--kind", "copy_input", "--output-dir", "O", "--max-per-task", "-3"],
    ["eval", "--checkpoint", "C", "--output-dir", "O", "--max-tasks", "0"],
])
def test_negative_counts_are_rejected_at_parse_time(argv, capsys):
    from snitk.cli import main

    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2 and "expected a positive integer" in capsys.readouterr().err


def test_garbage_vocab_is_one_clear_error(data_dir, tmp_path, capsys):
    garbage = tmp_path / "garbage.model"
    garbage.write_bytes(b"\x00not a sentencepiece model" * 10)
    rc = data_main(["render", "--task-dir", str(data_dir), "--token-budget", "16", "--vocab", str(garbage)])
    err = capsys.readouterr().err
    assert rc == 1 and f"{garbage}: not a SentencePiece model" in err and "Traceback" not in err


def test_render_work_is_bounded_by_the_token_budget(tmp_path, capsys, monkeypatch):
    from snitk import prompts
    from snitk.natinst.schema import load_task
    from snitk.vocab import get_vocabulary

    vocab = get_vocabulary()
    huge = " ".join(WORDS[i % len(WORDS)] + str(i % 7) for i in range(60_000))  # ~500k characters
    medium = huge[:20_000]
    root = tmp_path / "d"
    path = write_task(root, "task5_huge", [("task5-1", huge, ["x"]), ("task5-2", medium, ["y"])])
    task = load_task(path)
    encoded: list[int] = []

    class Counting:
        def encode(self, text):
            encoded.append(len(text))
            return vocab.encode(text)

        def decode(self, ids):
            return vocab.decode(ids)

    for budget in (32, 200):
        for truncation in ("official", "keep-tail"):
            for inst in task.instances:
                encoded.clear()
                got = prompts.render(task, inst, "def_pos2", token_budget=budget, vocab=Counting(), truncation=truncation)
                assert sum(encoded) < 200 * (budget + 16), (budget, truncation, sum(encoded))
                with monkeypatch.context() as m:  # byte-exact: the same rule tokenizing every text whole
                    m.setattr(prompts, "leading_ids", lambda v, text, n: v.encode(text)[:n])
                    assert got == prompts.render(task, inst, "def_pos2", token_budget=budget, vocab=vocab,
                                                 truncation=truncation)
                assert len(vocab.encode(got)) <= budget and (truncation == "official" or got.endswith("Output: "))
    # the CLI on the same file: every prompt within the budget
    assert data_main(["render", "--task-dir", str(root), "--token-budget", "64"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(rows) == 2 and all(len(vocab.encode(r["inputs"])) <= 64 for r in rows)


def test_truncated_download_archive_is_deleted_and_reported(tmp_path, capsys):
    src = tmp_path / "src.tar.gz"
    with tarfile.open(src, "w:gz") as tf:
        for i in range(30):
            data = json.dumps({"Definition": ["d"], "Instances": [{"id": str(i), "input": "x" * 5000}]}).encode()
            info = tarfile.TarInfo(f"repo/tasks/task{i:03d}_t.json")
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    blob = src.read_bytes()
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(blob[: len(blob) // 2])
    data_dir = tmp_path / "ni"
    rc = data_main(["download", "-q", "--data-dir", str(data_dir), "--url", f"file://{cut}", "--expect-tasks", "0"])
    err = capsys.readouterr().err
    assert rc == 1 and "truncated or corrupt" in err and "deleted it" in err
    assert not data_dir.exists() and not (tmp_path / "ni.tar.gz").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".ni")]  # no half-extracted folder
