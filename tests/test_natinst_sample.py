"""Real natural-instructions tasks (../shared/natinst-sample): validate, select and render byte for byte.

The expected prompt text is built here straight from the raw JSON and the written format spec of the
Tk-Instruct collator, line by line, without calling snitk.prompts.
"""

from __future__ import annotations

import io
import json
from contextlib import redirect_stdout

import pytest

from conftest import require_shared
from snitk import prompts
from snitk.natinst.corpus import Corpus
from snitk.natinst.schema import load_task, validate_file

ASCII_PUNCT = set("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")


def _dot(line: str) -> str:
    """A line gets a "." unless its last character is ASCII punctuation."""
    return line if line[-1:] and line[-1] in ASCII_PUNCT else line + "."


def _example(kind: str, k: int, ex: dict, with_expl: bool) -> str:
    lines = [f" {kind} Example {k} -", _dot("Input: " + ex["input"].strip()), _dot(" Output: " + ex["output"].strip())]
    if with_expl and "explanation" in ex:
        lines.append(_dot(" Explanation: " + ex["explanation"].strip()))
    return "\n".join(lines) + "\n\n"


def expected_text(raw: dict, inst: dict, n_pos: int, n_neg: int, with_expl: bool) -> str:
    definition = raw["Definition"][0] if isinstance(raw["Definition"], list) else raw["Definition"]
    out = _dot("Definition: " + definition.strip()) + "\n\n"
    for k, ex in enumerate(raw["Positive Examples"][:n_pos], 1):
        out += _example("Positive", k, ex, with_expl)
    for k, ex in enumerate(raw["Negative Examples"][:n_neg], 1):
        out += _example("Negative", k, ex, with_expl)
    out += "Now complete the following example -\n"
    out += _dot("Input: " + inst["input"].strip()) + "\n"
    return out + "Output: "


@pytest.fixture(scope="module")
def sample():
    root = require_shared("natinst-sample")
    files = sorted((root / "tasks").glob("*.json"))
    if not files:
        pytest.skip(f"{root}/tasks holds no task files")
    return root, files


def test_all_real_tasks_validate(sample):
    _, files = sample
    for path in files:
        task = validate_file(path)
        raw = json.loads(path.read_text(encoding="utf-8"))
        assert task.num_instances == len(raw["Instances"])
        assert task.category == raw["Categories"][0]


def test_task267_nan_url_is_a_warning_not_an_error(sample, capsys):
    """Upstream's task267 holds `"URL": [NaN]`: it loads, renders, and `validate` warns naming file and field."""
    from snitk.data import main

    root, files = sample
    path = root / "tasks" / "task267_concatenate_and_reverse_all_elements_from_index_i_to_j.json"
    if path not in files:
        pytest.skip(f"{path} is not in this sample")
    task = load_task(path)
    assert task.url == () and any("URL[0]" in w for w in task.warnings)
    assert main(["validate", "--task-dir", str(root)]) == 0
    err = capsys.readouterr().err
    assert any(path.name in line and "URL[0]" in line for line in err.splitlines() if line.startswith("WARNING")), err


@pytest.mark.parametrize(
    "encoding, n_pos, n_neg, expl",
    [("def", 0, 0, False), ("def_pos2", 2, 0, False), ("def_pos2_neg2", 2, 2, False),
     ("def_pos2_expl", 2, 0, True), ("def_pos2_neg2_expl", 2, 2, True), ("def_pos4", 4, 0, False)],
)
def test_real_tasks_render_byte_for_byte(sample, encoding, n_pos, n_neg, expl):
    _, files = sample
    checked = 0
    for path in files:
        raw = json.loads(path.read_text(encoding="utf-8"))
        task = load_task(path)
        for inst_raw, inst in zip(raw["Instances"], task.instances, strict=True):
            assert inst.id == inst_raw["id"] and list(inst.output) == inst_raw["output"]
            got = prompts.render(task, inst, encoding)
            want = expected_text(raw, inst_raw, n_pos, n_neg, expl)
            assert got == want, f"{path.name} {inst.id} {encoding}"
            checked += 1
    assert checked >= len(files)


def test_every_encoding_renders_every_real_instance(sample):
    _, files = sample
    for path in files:
        task = load_task(path)
        for name in prompts.ENCODINGS:
            for inst in task.instances:
                text = prompts.render(task, inst, name)
                assert text.endswith("\nOutput: ") and text.count("Now complete the following example -\n") >= 1


def test_real_test_selection_matches_file_order(sample):
    root, files = sample
    corpus = Corpus(root)
    present = {p.stem for p in files}
    got = {t.name: t for t in corpus.test_tasks(allow_missing=True)}
    expected_names = [n for n in corpus.task_names("test") if n in present]
    assert list(got) == expected_names
    for name, task in got.items():
        raw = json.loads((root / "tasks" / f"{name}.json").read_text(encoding="utf-8"))
        assert [i.id for i in task.instances] == [i["id"] for i in raw["Instances"][:100]]


def test_render_cli_on_real_tasks(sample):
    from snitk.data import main

    root, files = sample
    path = files[0]
    raw = json.loads(path.read_text(encoding="utf-8"))
    buf = io.StringIO()
    with redirect_stdout(buf):
        assert main(["render", "--task-dir", str(root), "--task", path.stem, "--encoding", "def_pos2", "--limit", "3"]) == 0
    rows = [json.loads(line) for line in buf.getvalue().splitlines()]
    assert [r["id"] for r in rows] == [i["id"] for i in raw["Instances"][:3]]
    for row, inst in zip(rows, raw["Instances"]):
        assert row["task"] == path.stem and row["targets"] == inst["output"]
        assert row["inputs"] == expected_text(raw, inst, 2, 0, False)
    buf = io.StringIO()
    with redirect_stdout(buf):
        assert main(["validate", "--task-dir", str(root)]) == 0
