"""Label-word substitution for classification training tasks (off unless a selection asks for it).

A training task is a *label task* when the references of its instances and the outputs of its positive
examples are a few labels (2 to `MAX_LABELS`), each named in double quotes by its definition, as in
`Answer "yes" if ..., otherwise "no".`. A relabeled instance of such a task has each label replaced by
another word of the selection (another label task's label or a word of the training texts: hundreds, so
that no small set of answer words can be memorized), the same replacement everywhere: in the definition and the examples'
explanations (quoted occurrences), in the examples' outputs and in the references. The instruction still
says which answer is right, but the answer word is no longer the one that the task's input format always
led to, so a model can only get it right by reading the instruction (the idea of symbol tuning, Wei et
al., 2023). Held-out tasks are never relabeled; the Tk-Instruct recipe does not relabel (rate 0).
"""

from __future__ import annotations

import dataclasses
import random
import re
from typing import Iterable, Sequence

from snitk.natinst.schema import Example, Instance, Task

MAX_LABELS = 8
WORD = re.compile(r"\b[A-Za-z]{2,12}\b")


def label_set(task: Task) -> tuple[str, ...] | None:
    """The labels of a label task (sorted), or None when `task` is not one."""
    labels = {ref for inst in task.instances for ref in inst.output} | {ex.output for ex in task.positive_examples}
    if not 2 <= len(labels) <= MAX_LABELS or any(f'"{label}"' not in task.definition for label in labels):
        return None
    return tuple(sorted(labels))


class Relabeler:
    """Relabels a fraction `rate` of the examples of the label tasks among `tasks`, drawing the new words from
    the pool of their labels and of the words of their definitions and instance inputs."""

    def __init__(self, tasks: Iterable[Task], rate: float):
        self.rate = rate
        self.labels: dict[str, tuple[str, ...]] = {}
        words: set[str] = set()
        for task in tasks:
            words.update(WORD.findall(task.definition))
            for inst in task.instances:
                words.update(WORD.findall(inst.input))
            labels = label_set(task)
            if labels is not None:
                self.labels[task.name] = labels
        self.pool: tuple[str, ...] = tuple(sorted({w for labels in self.labels.values() for w in labels} | words))
        # per label task, the words its labels may become (computed once: `mapping` runs per training example)
        self._others = {name: [w for w in self.pool if w not in labels] for name, labels in self.labels.items()}

    def mapping(self, task_name: str, rng: random.Random) -> dict[str, str] | None:
        """A random substitution of the task's labels by distinct other words of the pool (None: not a label
        task, or too few other words in the pool)."""
        labels, others = self.labels.get(task_name), self._others.get(task_name)
        if labels is None or len(others) < len(labels):
            return None
        return dict(zip(labels, rng.sample(others, len(labels))))

    def draw(self, task: Task, instance: Instance, target: str, rng: random.Random) -> tuple[Task, Instance, str]:
        """With probability `rate` (drawn from `rng`), the relabeled task, instance and target; else the same."""
        if rng.random() >= self.rate:
            return task, instance, target
        mapping = self.mapping(task.name, rng)
        if mapping is None:
            return task, instance, target
        task, instance = apply(task, instance, mapping)
        return task, instance, mapping.get(target, target)


def _quoted(text: str, mapping: dict[str, str]) -> str:
    for label in mapping:  # via placeholders, so that a swap (a->b, b->a) cannot chain
        text = text.replace(f'"{label}"', f'"\0{label}\0"')
    for label, new in mapping.items():
        text = text.replace(f'"\0{label}\0"', f'"{new}"')
    return text


def _example(ex: Example, mapping: dict[str, str]) -> Example:
    return dataclasses.replace(ex, output=mapping.get(ex.output, ex.output),
                               explanation=None if ex.explanation is None else _quoted(ex.explanation, mapping))


def apply(task: Task, instance: Instance, mapping: dict[str, str]) -> tuple[Task, Instance]:
    """`task` and `instance` with every label replaced as `mapping` says (see the module docstring)."""
    task = dataclasses.replace(
        task, definition=_quoted(task.definition, mapping),
        positive_examples=tuple(_example(ex, mapping) for ex in task.positive_examples),
        negative_examples=tuple(_example(ex, mapping) for ex in task.negative_examples))
    return task, dataclasses.replace(instance, output=tuple(mapping.get(r, r) for r in instance.output))


def relabeler_for(tasks: Sequence[Task], rate: float) -> Relabeler | None:
    """A Relabeler over `tasks` when `rate` > 0 (None: nothing to relabel, no pool to build)."""
    return Relabeler(tasks, rate) if rate > 0 else None
