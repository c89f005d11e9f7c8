"""snitk.natinst.corpus: layout, tracks, the official selections and the filters."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from snitk.errors import ConfigError, DataError
from snitk.natinst.corpus import Corpus, default_data_dir, find_task_dir, read_header


def task_obj(name: str, n: int, category: str = "Cat A", in_lang: str = "English", out_lang: str = "English", pad: int = 0):
    return {
        "Contributors": ["x"], "Source": ["s"], "URL": ["u"], "Categories": [category], "Reasoning": [],
        "Definition": ["Do it."], "Input_language": [in_lang], "Output_language": [out_lang],
        "Instruction_language": ["English"], "Domains": ["d"],
        "Positive Examples": [{"input": "a" * pad + "p", "output": "q", "explanation": "e"}],
        "Negative Examples": [],
        "Instances": [{"id": f"{name}-{i}", "input": f"in {i}", "output": [f"out {i}"]} for i in range(n)],
    }


def build(root: Path, *, nested: bool, train: dict, test: dict, xl_train=(), xl_test=(), excluded=()) -> Path:
    """A data dir; `train`/`test` map task name -> kwargs of task_obj."""
    tdir = root / "tasks" if nested else root
    tdir.mkdir(parents=True, exist_ok=True)
    for name, kw in {**train, **test}.items():
        (tdir / f"{name}.json").write_text(json.dumps(task_obj(name, **kw)), encoding="utf-8")
    for track, tr, te in (("default", list(train), list(test)), ("xlingual", list(xl_train), list(xl_test))):
        sd = root / "splits" / track
        sd.mkdir(parents=True, exist_ok=True)
        (sd / "train_tasks.txt").write_text("\n".join(tr) + "\n", encoding="utf-8")
        (sd / "test_tasks.txt").write_text("\n".join(te) + "\n", encoding="utf-8")
        (sd / "excluded_tasks.txt").write_text("\n".join(excluded) + "\n", encoding="utf-8")
    return root


@pytest.fixture()
def corpus_dir(tmp_path):
    train = {
        "task010_a": {"n": 250, "category": "Cat A"},
        "task011_b": {"n": 40, "category": "Cat B"},
        "task012_c": {"n": 120, "category": "Cat A", "in_lang": "French", "out_lang": "English"},
        "task013_d": {"n": 30, "category": "Cat C", "in_lang": "Hindi", "out_lang": "Hindi"},
        "task014_e": {"n": 101, "category": "Cat B"},
    }
    test = {"task900_t": {"n": 150, "category": "Cat T"}, "task901_u": {"n": 60, "category": "Cat U"}}
    return build(tmp_path / "D", nested=True, train=train, test=test,
                 xl_train=["task012_c", "task013_d"], xl_test=["task901_u"], excluded=["task999_gone"])


def test_layout_rule(tmp_path, corpus_dir):
    assert find_task_dir(corpus_dir) == corpus_dir / "tasks"
    flat = build(tmp_path / "flat", nested=False, train={"task1_x": {"n": 3}}, test={"task2_y": {"n": 3}})
    assert find_task_dir(flat) == flat
    c = Corpus(flat)
    assert c.task_path("task1_x") == flat / "task1_x.json"
    assert [t.name for t in c.train_tasks()] == ["task1_x"]


def test_default_data_dir(monkeypatch, tmp_path, repo_root):
    monkeypatch.setenv("SNITK_DATA_DIR", str(tmp_path))
    assert default_data_dir() == tmp_path
    monkeypatch.delenv("SNITK_DATA_DIR")
    assert default_data_dir() == Path(repo_root) / "tasks"


def test_test_selection_is_first_100_in_file_order(corpus_dir):
    c = Corpus(corpus_dir)
    tasks = list(c.test_tasks())
    assert [t.name for t in tasks] == ["task900_t", "task901_u"]
    assert [i.id for i in tasks[0].instances] == [f"task900_t-{i}" for i in range(100)]
    assert tasks[0].num_instances == 150
    assert [i.id for i in tasks[1].instances] == [f"task901_u-{i}" for i in range(60)]
    assert len(next(c.test_tasks(max_per_task=None)).instances) == 150


def test_train_selection_seeded_shuffle_and_cap(corpus_dir):
    c = Corpus(corpus_dir)
    a = {t.name: [i.id for i in t.instances] for t in c.train_tasks()}
    b = {t.name: [i.id for i in t.instances] for t in c.train_tasks()}
    other = {t.name: [i.id for i in t.instances] for t in c.train_tasks(seed=7)}
    assert a == b
    assert a["task010_a"] != other["task010_a"]
    assert list(a) == ["task010_a", "task011_b", "task012_c", "task013_d", "task014_e"]
    assert len(a["task010_a"]) == 100 and len(set(a["task010_a"])) == 100
    assert a["task010_a"] != [f"task010_a-{i}" for i in range(100)]  # shuffled, not the first 100
    assert set(a["task011_b"]) == {f"task011_b-{i}" for i in range(40)}
    every = {t.name: t for t in c.train_tasks(max_per_task=None)}
    assert len(every["task010_a"].instances) == 250
    capped = {t.name: [i.id for i in t.instances] for t in c.train_tasks(max_per_task=8)}
    assert capped["task010_a"] == a["task010_a"][:8]


def test_num_tasks_nested_seeded_subset(corpus_dir):
    c = Corpus(corpus_dir)
    all_names = c.task_names("train")
    subsets = [c.select_train_names(num_tasks=k, seed=3) for k in range(6)]
    for k, s in enumerate(subsets):
        assert len(s) == k
        assert s == [n for n in all_names if n in s]  # list order kept
    for small, big in zip(subsets, subsets[1:]):
        assert set(small) < set(big)
    assert subsets[5] == all_names
    assert [t.name for t in c.train_tasks(num_tasks=2, seed=3)] == subsets[2]
    picks = {tuple(c.select_train_names(num_tasks=2, seed=s)) for s in range(12)}
    assert len(picks) > 1
    with pytest.raises(ConfigError):
        c.select_train_names(num_tasks=-1)


def test_language_and_category_filters(corpus_dir):
    c = Corpus(corpus_dir)
    assert c.select_train_names(languages=["English"]) == ["task010_a", "task011_b", "task014_e"]
    assert c.select_train_names(languages=["English", "French"]) == ["task010_a", "task011_b", "task012_c", "task014_e"]
    assert c.select_train_names(categories=["Cat B", "Cat C"]) == ["task011_b", "task013_d", "task014_e"]
    assert c.select_train_names(categories=["Cat A"], languages=["English"]) == ["task010_a"]
    assert c.category("task013_d") == "Cat C"
    assert c.languages("task012_c") == frozenset({"French", "English"})


def test_xlingual_track(corpus_dir):
    c = Corpus(corpus_dir, track="xlingual")
    assert [t.name for t in c.train_tasks()] == ["task012_c", "task013_d"]
    assert [t.name for t in c.test_tasks()] == ["task901_u"]
    with pytest.raises(ConfigError, match="xlingual"):
        Corpus(corpus_dir, track="multilingual")


def test_missing_tasks(corpus_dir):
    c = Corpus(corpus_dir)
    (corpus_dir / "tasks" / "task901_u.json").unlink()
    assert c.missing_tasks("test") == ["task901_u"]
    assert c.missing_tasks("excluded") == ["task999_gone"]
    with pytest.raises(DataError, match="task901_u"):
        list(c.test_tasks())
    assert [t.name for t in c.test_tasks(allow_missing=True)] == ["task900_t"]


def test_missing_split_list_and_dir(tmp_path, corpus_dir):
    (corpus_dir / "splits" / "default" / "test_tasks.txt").unlink()
    with pytest.raises(DataError, match="test_tasks.txt"):
        Corpus(corpus_dir).task_names("test")
    with pytest.raises(DataError, match="not found"):
        Corpus(tmp_path / "nothing")


def test_read_header_large_examples_and_errors(tmp_path):
    # positive example far larger than the first read chunk: the header reader must keep reading
    obj = task_obj("task5_big", 3, pad=300_000, category="Big Cat")
    path = tmp_path / "task5_big.json"
    path.write_text(json.dumps(obj, indent=2), encoding="utf-8")
    head = read_header(path)
    assert head["Categories"] == ["Big Cat"] and "Instances" not in head
    assert len(head["Positive Examples"][0]["input"]) == 300_001
    bad = tmp_path / "task6_bad.json"
    bad.write_text('{"Categories": ["x"], "Definition": [oops]}', encoding="utf-8")
    with pytest.raises(DataError, match="task6_bad"):
        read_header(bad)
    cut = tmp_path / "task7_cut.json"
    cut.write_text('{"Categories": ["x"], "Definition": ["unterminated', encoding="utf-8")
    with pytest.raises(DataError, match="task7_cut"):
        read_header(cut)


def test_train_tasks_is_lazy(corpus_dir):
    c = Corpus(corpus_dir)
    it = c.train_tasks()
    first = next(it)
    assert first.name == "task010_a"
    # a broken later file only fails when it is reached
    (corpus_dir / "tasks" / "task012_c.json").write_text("{", encoding="utf-8")
    assert next(it).name == "task011_b"
    with pytest.raises(DataError, match="task012_c"):
        next(it)


def test_selection_keeps_only_the_selection(corpus_dir):
    """Each yielded task holds only its selected instances and nothing is cached across tasks."""
    import gc
    import weakref

    c = Corpus(corpus_dir)
    refs = []
    for task in c.train_tasks(max_per_task=10):
        assert len(task.instances) == 10
        refs.append(weakref.ref(task))
        del task
    gc.collect()
    assert all(r() is None for r in refs)
