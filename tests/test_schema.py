"""snitk.natinst.schema: parsing and validation of natural-instructions task files."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from snitk.errors import DataError
from snitk.natinst.schema import METADATA_KEYS, REQUIRED_KEYS, load_task, parse_task, read_split_list, select_indices, validate_file


def make_task(n: int = 5, **over) -> dict:
    obj = {
        "Contributors": ["A. Person"],
        "Source": ["src"],
        "URL": ["https://example.org"],
        "Categories": ["Text Editing", "Other"],
        "Reasoning": [],
        "Definition": ["Reverse the word."],
        "Input_language": ["English"],
        "Output_language": ["English"],
        "Instruction_language": ["English"],
        "Domains": ["Misc"],
        "Positive Examples": [
            {"input": "abc", "output": "cba", "explanation": "reversed"},
            {"input": "xy", "output": "yx"},
        ],
        "Negative Examples": [{"input": "ab", "output": "ab", "explanation": "not reversed"}],
        "Instances": [{"id": f"t-{i}", "input": f"w{i}", "output": [f"{i}w"]} for i in range(n)],
        "Instance License": ["MIT"],
    }
    obj.update(over)
    return obj


def write(tmp_path: Path, obj, name: str = "task001_demo") -> Path:
    path = tmp_path / f"{name}.json"
    path.write_text(obj if isinstance(obj, str) else json.dumps(obj), encoding="utf-8")
    return path


def test_parse_valid_task(tmp_path):
    path = write(tmp_path, make_task(7))
    task = load_task(path)
    assert task.name == "task001_demo"
    assert task.path == path
    assert task.definition == "Reverse the word."
    assert task.category == "Text Editing"
    assert task.categories == ("Text Editing", "Other")
    assert task.num_instances == 7 and len(task.instances) == 7
    assert task.instances[3].id == "t-3" and task.instances[3].output == ("3w",)
    assert task.positive_examples[0].explanation == "reversed"
    assert task.positive_examples[1].explanation is None  # missing explanation is allowed
    assert task.instance_license == ("MIT",)
    assert task.languages == frozenset({"English"})


def test_definition_string_or_list(tmp_path):
    as_str = load_task(write(tmp_path, make_task(Definition="Say hi"), "task002_a"))
    as_list = load_task(write(tmp_path, make_task(Definition=["First one.", "Second one."]), "task003_b"))
    assert as_str.definition == "Say hi" and as_str.definitions == ("Say hi",)
    assert as_list.definition == "First one."  # official behaviour: Definition[0]
    assert as_list.definitions == ("First one.", "Second one.")
    empty = load_task(write(tmp_path, make_task(Definition=[""]), "task004_c"))
    assert empty.definition == ""


def test_instance_license_optional_and_extra_keys_ignored(tmp_path):
    obj = make_task()
    del obj["Instance License"]
    obj["Instruction Source"] = ["whatever"]
    task = load_task(write(tmp_path, obj))
    assert task.instance_license == ()
    assert task.warnings == ()  # both are keys upstream files may or may not carry


@pytest.mark.parametrize(
    "mutate, field, kept",
    [
        (lambda o: o.update(URL=[float("nan")]), "URL[0]", ("url", ())),  # upstream task267
        (lambda o: o.update(Source=[None, "src"]), "Source[0]", ("source", ("src",))),
        (lambda o: o.update(Domains=None), "Domains", ("domains", ())),
        (lambda o: o.update(Reasoning=3), "Reasoning", ("reasoning", ())),
        (lambda o: o.update(Contributors=[{"name": "x"}]), "Contributors[0]", ("contributors", ())),
        (lambda o: o.update(**{"Instance License": 5}), "Instance License", ("instance_license", ())),
        (lambda o: o.pop("URL"), "URL: missing metadata key", ("url", ())),
        (lambda o: o.pop("Instruction_language"), "Instruction_language: missing", ("instruction_language", ())),
        (lambda o: o.update(Extra_field=[1]), "Extra_field: unknown key", ("url", ("https://example.org",))),
    ],
)
def test_metadata_quirks_are_warnings_naming_file_and_field(tmp_path, mutate, field, kept):
    obj = copy.deepcopy(make_task())
    mutate(obj)
    path = tmp_path / "task001_demo.json"
    path.write_text(json.dumps(obj), encoding="utf-8")  # json.dumps writes NaN as upstream does
    task = load_task(path)
    assert len(task.warnings) == 1, task.warnings
    assert str(path) in task.warnings[0] and field in task.warnings[0], task.warnings
    attr, value = kept
    assert getattr(task, attr) == value
    assert len(task.instances) == 5  # the consumed part is intact


def test_multiple_and_empty_string_references_accepted(tmp_path):
    obj = make_task(2)
    obj["Instances"][0]["output"] = ["a", "b", ""]
    task = load_task(write(tmp_path, obj))
    assert task.instances[0].output == ("a", "b", "")


def test_consumed_and_metadata_keys_are_disjoint():
    assert set(REQUIRED_KEYS) == {"Definition", "Positive Examples", "Negative Examples", "Instances", "Categories",
                                  "Input_language", "Output_language"}
    assert not set(REQUIRED_KEYS) & set(METADATA_KEYS)


@pytest.mark.parametrize("key", REQUIRED_KEYS)
def test_missing_required_key(tmp_path, key):
    obj = make_task()
    del obj[key]
    path = write(tmp_path, obj)
    with pytest.raises(DataError) as err:
        load_task(path)
    assert str(path) in str(err.value) and key in str(err.value) and "missing" in str(err.value)


def test_bad_json_names_file_and_position(tmp_path):
    path = write(tmp_path, '{"Definition": ["x"],\n  "Source": [}')
    with pytest.raises(DataError) as err:
        load_task(path)
    msg = str(err.value)
    assert str(path) in msg and "invalid JSON" in msg and "line 2" in msg


def test_top_level_not_object(tmp_path):
    with pytest.raises(DataError, match="JSON object"):
        load_task(write(tmp_path, "[1, 2]"))


@pytest.mark.parametrize(
    "mutate, field, expect",
    [
        (lambda o: o.update(Definition=3), "Definition", "string or a list"),
        (lambda o: o.update(Definition=[]), "Definition", "non-empty"),
        (lambda o: o.update(Definition=["ok", 5]), "Definition[1]", "string"),
        (lambda o: o.update(Categories={"a": 1}), "Categories", "list of strings"),
        (lambda o: o.update(Input_language=[None]), "Input_language[0]", "string"),
        (lambda o: o["Positive Examples"][1].update(output=["cba"]), "Positive Examples[1].output", "string"),
        (lambda o: o["Negative Examples"][0].pop("input"), "Negative Examples[0]", "input"),
        (lambda o: o["Negative Examples"][0].update(explanation=7), "Negative Examples[0].explanation", "string"),
        (lambda o: o.update(**{"Positive Examples": "none"}), "Positive Examples", "list"),
        (lambda o: o.update(Instances={}), "Instances", "list"),
        (lambda o: o["Instances"][2].update(output="2w"), "instance t-2", "list of strings"),
        (lambda o: o["Instances"][2].update(output=[]), "instance t-2", "at least one reference"),
        (lambda o: o["Instances"][2].update(output=["x", 3]), "instance t-2", "string"),
        (lambda o: o["Instances"][2].update(input=None), "instance t-2", "string"),
        (lambda o: o["Instances"][2].pop("id"), "Instances[2]", "'id'"),
        (lambda o: o["Instances"][2].update(id=2), "Instances[2].id", "string"),
        (lambda o: o["Instances"][3].update(id="t-1"), "instance t-1 (Instances[3])", "unique"),
    ],
)
def test_violations_raise_dataerror_naming_field(tmp_path, mutate, field, expect):
    obj = copy.deepcopy(make_task())
    mutate(obj)
    path = write(tmp_path, obj)
    with pytest.raises(DataError) as err:
        load_task(path)
    msg = str(err.value)
    assert str(path) in msg, msg
    assert field in msg, msg
    assert expect in msg, msg


def test_selection_first_and_sample(tmp_path):
    path = write(tmp_path, make_task(50))
    first = load_task(path, first=10)
    assert [i.id for i in first.instances] == [f"t-{i}" for i in range(10)]
    assert first.num_instances == 50
    a = load_task(path, sample=20, seed="s1")
    b = load_task(path, sample=20, seed="s1")
    c = load_task(path, sample=20, seed="s2")
    ids_a = [i.id for i in a.instances]
    assert ids_a == [i.id for i in b.instances]
    assert ids_a != [i.id for i in c.instances]
    assert len(set(ids_a)) == 20 and ids_a != [f"t-{i}" for i in range(20)]
    # a bigger cap extends the same shuffle (prefix property)
    d = load_task(path, sample=30, seed="s1")
    assert [i.id for i in d.instances][:20] == ids_a
    assert len(load_task(path, sample=500, seed=0).instances) == 50


def test_select_indices_rules():
    assert select_indices(5) == [0, 1, 2, 3, 4]
    assert select_indices(5, first=2) == [0, 1]
    shuffled = select_indices(100, shuffle=True, seed=3)
    assert sorted(shuffled) == list(range(100)) and shuffled != list(range(100))


def test_validate_file_checks_everything_keeps_nothing(tmp_path):
    obj = make_task(300)
    obj["Instances"][299]["output"] = []
    path = write(tmp_path, obj)
    with pytest.raises(DataError, match="t-299"):
        validate_file(path)
    obj["Instances"][299]["output"] = ["ok"]
    task = validate_file(write(tmp_path, obj))
    assert task.instances == () and task.num_instances == 300


def test_non_utf8_file(tmp_path):
    path = tmp_path / "task009_bin.json"
    path.write_bytes(b'{"Definition": "\xff\xfe"}')
    with pytest.raises(DataError, match="task009_bin"):
        load_task(path)


def test_parse_task_from_object():
    task = parse_task(make_task(3), "/nowhere/task777_x.json")
    assert task.name == "task777_x" and len(task.instances) == 3


def test_read_split_list(tmp_path):
    p = tmp_path / "train_tasks.txt"
    p.write_text("task1_a\n\ntask2_b\r\ntask3_c", encoding="utf-8")
    assert read_split_list(p) == ["task1_a", "task2_b", "task3_c"]
    p.write_text("task1_a\ntask1_a\n", encoding="utf-8")
    with pytest.raises(DataError, match="line 2"):
        read_split_list(p)
    p.write_text("task1_a.json\n", encoding="utf-8")
    with pytest.raises(DataError, match="bare task name"):
        read_split_list(p)
    with pytest.raises(DataError, match="cannot read"):
        read_split_list(tmp_path / "nope.txt")
