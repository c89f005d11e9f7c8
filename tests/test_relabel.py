"""Label-word substitution of classification training tasks (snitk.natinst.relabel) and the selections that
ask for it (`relabel`, `_relabelP` names): the instruction, the examples and the target change together."""

import dataclasses
import random
import re
from pathlib import Path

import pytest

from snitk import tasks
from snitk.errors import ConfigError
from snitk.natinst.corpus import Corpus
from snitk.natinst.relabel import Relabeler, apply, label_set
from snitk.natinst.schema import Example, Instance, Task
from snitk.training.sources import SelectionSource
from snitk.vocab import get_vocabulary

LENGTHS = {"inputs": 256, "targets": 32}
QUOTED = re.compile(r'"([^"]+)"')


def _task(name: str, definition: str, outputs: list[str]) -> Task:
    return Task(name=name, path=Path(f"{name}.json"), definition=definition, categories=("x",), source=(), url=(),
                contributors=(), reasoning=(), domains=(), input_language=("English",), output_language=("English",),
                instruction_language=("English",),
                positive_examples=(Example("a", outputs[0], f'It is "{outputs[0]}".'), Example("b", outputs[1])),
                negative_examples=(Example("c", "maybe"),),
                instances=tuple(Instance(f"{name}-{i}", f"in {i}", (o,)) for i, o in enumerate(outputs)),
                num_instances=len(outputs))


def test_label_tasks_are_those_whose_definition_quotes_a_few_labels():
    assert label_set(_task("t", 'Answer "yes" or "no".', ["yes", "no", "no", "yes"])) == ("no", "yes")
    assert label_set(_task("t", 'Answer "yes" or no.', ["yes", "no", "no", "yes"])) is None  # "no" unquoted
    assert label_set(_task("t", 'Answer "yes" or "no".', ["yes", "yes", "yes"])) is None  # one label
    many = [f"w{i}" for i in range(9)] * 2
    assert label_set(_task("t", " ".join(f'"{w}"' for w in many), many)) is None  # not a few labels


def test_apply_replaces_every_mention_consistently_even_a_swap():
    task = _task("t", 'Say "yes" if so, otherwise "no"; yes and no unquoted stay.', ["yes", "no", "no", "yes"])
    new_task, new_inst = apply(task, task.instances[0], {"yes": "no", "no": "yes"})
    assert new_task.definition == 'Say "no" if so, otherwise "yes"; yes and no unquoted stay.'
    assert [ex.output for ex in new_task.positive_examples] == ["no", "yes"]
    assert new_task.positive_examples[0].explanation == 'It is "no".'
    assert new_task.negative_examples[0].output == "maybe"  # not a label: unchanged
    assert new_inst.output == ("no",) and new_inst.input == task.instances[0].input


def test_mappings_draw_distinct_words_of_the_selection_other_than_the_labels():
    a = _task("a", 'Answer "yes" or "no".', ["yes", "no"] * 2)
    b = _task("b", 'Answer "red", "blue" or "green".', ["red", "blue", "green"] * 2)
    relabeler = Relabeler([a, b, _task("c", "No labels named.", ["x", "y"] * 2)], 1.0)
    assert set(relabeler.labels) == {"a", "b"}
    # the labels and the words of the definitions and inputs ("in 0", "in 1", ...)
    assert set(relabeler.pool) == {"yes", "no", "red", "blue", "green", "Answer", "or", "No", "labels", "named", "in"}
    assert relabeler.mapping("c", random.Random(0)) is None  # not a label task
    drawn = set()
    for seed in range(30):
        mapping = relabeler.mapping("b", random.Random(seed))
        assert set(mapping) == {"red", "blue", "green"} and len(set(mapping.values())) == 3
        assert not set(mapping.values()) & {"red", "blue", "green"}
        drawn.add(tuple(sorted(mapping.items())))
    assert len(drawn) > 5  # seeded draws, not one fixed substitution
    bare = dataclasses.replace(a, definition='"yes" "no"', instances=tuple(
        dataclasses.replace(inst, input=str(i)) for i, inst in enumerate(a.instances)))
    assert Relabeler([bare], 1.0).mapping("a", random.Random(0)) is None  # no other word to draw


@pytest.fixture(scope="module")
def label_source() -> SelectionSource:
    return SelectionSource.from_corpus("tasks", "default", "def_pos2", get_vocabulary(), LENGTHS,
                                       max_train_per_task=10, relabel=1.0)


def _definition_labels(inputs: str) -> list[str]:
    return QUOTED.findall(inputs.split("\n\n", 1)[0])


def test_relabeled_training_examples_answer_with_a_label_their_instruction_names(label_source):
    relabeler = label_source.relabeler
    assert relabeler is not None and len(relabeler.labels) > 50  # the demo corpus's classification tasks
    plain = SelectionSource.from_corpus("tasks", "default", "def_pos2", get_vocabulary(), LENGTHS, max_train_per_task=10)
    changed = 0
    for index, (task, _) in enumerate(label_source.entries):
        text = label_source.text(index, epoch=0, seed=0)
        if task.name not in relabeler.labels:
            assert text == plain.text(index, epoch=0, seed=0)
            continue
        named = _definition_labels(text["inputs"])
        assert text["targets"] in named, (task.name, text)
        assert text["targets"] not in relabeler.labels[task.name], task.name
        changed += text != plain.text(index, epoch=0, seed=0)
    assert changed > 200
    index = next(i for i, (t, _) in enumerate(label_source.entries) if t.name in relabeler.labels)
    draws = {label_source.text(index, epoch=e, seed=0)["targets"] for e in range(12)}
    assert len(draws) > 3  # re-drawn every epoch


def test_evaluation_splits_are_never_relabeled():
    test = SelectionSource.from_corpus("tasks", "default", "def_pos2", get_vocabulary(), LENGTHS, split="test",
                                       relabel=1.0)
    assert test.relabeler is None
    corpus_tasks = {t.name: t for t in Corpus("tasks", "default").test_tasks(max_per_task=100)}
    for index in range(0, len(test), 97):
        task, inst = test.entries[index]
        assert test.text(index, 0, 0)["targets"] == inst.output[0] and task is not None
        assert task.definition == corpus_tasks[task.name].definition


def test_relabel_selections_are_named_and_read_through_seqio():
    assert tasks.task_name("default", "def_pos2", relabel=0.5) == "snitk_default_def_pos2_relabel50"
    name = tasks.register_by_name("snitk_default_def_pos2_inst4_relabel100")
    sel = tasks.registered_selection(name)
    assert sel.relabel == 1.0 and sel.max_train_per_task == 4
    examples = list(tasks.iter_examples(sel, "train"))
    labelled = Relabeler(Corpus("tasks", "default").train_tasks(max_per_task=4), 1.0).labels
    for ex in examples:
        if ex["task"] in labelled:
            assert ex["targets"] in _definition_labels(ex["inputs"])
            assert ex["targets"] not in labelled[ex["task"]]
    with pytest.raises(ConfigError, match="relabel=1.5"):
        tasks.register("default", "def_pos2", relabel=1.5)
