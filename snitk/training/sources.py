"""Index-addressable training examples: ``source.example(index, epoch, seed)`` -> token ids.

A source knows how many examples its selection holds and builds any one of them on demand, so the
input pipeline reads only the examples of the rows it builds. Examples come trimmed to the feature
lengths with EOS appended (as seqio's ``append_eos_after_trim``).

- ``SelectionSource``: a snitk selection (natural-instructions tasks x instances). What the
  Tk-Instruct collator draws per batch is drawn per (selection seed, run seed, epoch, index): the
  reference used as target when an instance has several (training split) and the concrete encoding
  of a mix encoding such as ``tk_mix``. Rendering and tokenising need no TensorFlow.
- ``ArraySource``: pre-tokenised examples held in memory (any other seqio task, read once).
- ``ConcatSource``: several sources back to back (a seqio mixture whose rates follow task sizes).
"""

from __future__ import annotations

import bisect
import random
from pathlib import Path
from typing import Any, Mapping, Protocol, Sequence

import numpy as np

from snitk.training.packing import Example, trim_and_append_eos


class ExampleSource(Protocol):
    def __len__(self) -> int: ...

    def example(self, index: int, epoch: int, seed: int) -> Example: ...


class _Tokenizer(Protocol):
    def encode(self, text: str) -> Sequence[int]: ...

    def decode(self, ids: Any) -> str: ...


class SelectionSource:
    """Rendered and tokenised examples of (task, instance) pairs, re-drawn per epoch."""

    def __init__(self, entries: Sequence[tuple[Any, Any]], encoding: str, vocab: _Tokenizer,
                 lengths: Mapping[str, int], *, selection_seed: int = 42, max_input_tokens: int | None = None,
                 redraw: bool = True, relabel: float = 0.0):
        from snitk.natinst.relabel import relabeler_for
        from snitk.prompts import get_encoding

        self.entries = list(entries)
        self.encoding = get_encoding(encoding)
        self.vocab = vocab
        self.lengths = {k: int(v) for k, v in lengths.items()}
        self.selection_seed = int(selection_seed)
        self.max_input_tokens = max_input_tokens
        self.redraw = redraw
        # training only: a fraction `relabel` of the label tasks' examples, re-drawn per epoch (natinst.relabel)
        self.relabeler = relabeler_for(list({id(t): t for t, _ in self.entries}.values()), relabel if redraw else 0.0)

    @classmethod
    def from_corpus(cls, data_dir: str | Path, track: str, encoding: str, vocab: _Tokenizer,
                    lengths: Mapping[str, int], *, split: str = "train", max_train_per_task: int | None = 100,
                    num_train_tasks: int | None = None, selection_seed: int = 42,
                    max_input_tokens: int | None = None, relabel: float = 0.0) -> "SelectionSource":
        """The selection snitk.tasks registers for these settings (same tasks, instances and order)."""
        from snitk.errors import ConfigError
        from snitk.natinst.corpus import Corpus

        corpus = Corpus(data_dir, track)
        if split == "train":
            tasks = corpus.train_tasks(max_per_task=max_train_per_task, seed=selection_seed,
                                       num_tasks=num_train_tasks)
        elif split in ("test", "validation"):
            tasks = corpus.test_tasks(max_per_task=100)
        else:
            raise ConfigError(f"split {split!r}: expected 'train', 'test' or 'validation'")
        entries = [(task, inst) for task in tasks for inst in task.instances]
        return cls(entries, encoding, vocab, lengths, selection_seed=selection_seed,
                   max_input_tokens=max_input_tokens, redraw=split == "train", relabel=relabel)

    def __len__(self) -> int:
        return len(self.entries)

    def draw(self, index: int, epoch: int, seed: int) -> tuple[Any, str]:
        """(concrete encoding, target text) of example ``index`` in ``epoch`` of a run with ``seed``."""
        from snitk.prompts import choose_encoding, get_encoding

        task, inst = self.entries[index]
        refs = list(inst.output)
        if not self.redraw:  # evaluation splits: the stable choice and the first reference, as snitk.tasks
            return choose_encoding(self.encoding, task.name, inst.id, self.selection_seed), refs[0]
        # the encoding name decorrelates the draws of a mixture's tasks (one selection, several encodings)
        rng = random.Random(f"{self.selection_seed}:{self.encoding.name}:{seed}:{epoch}:{index}")
        enc = get_encoding(rng.choice(self.encoding.mix)) if self.encoding.mix else self.encoding
        return enc, rng.choice(refs)

    def text(self, index: int, epoch: int, seed: int) -> dict[str, str]:
        """The rendered inputs and chosen target of one example."""
        from snitk.prompts import render

        task, inst = self.entries[index]
        enc, target = self.draw(index, epoch, seed)
        if self.relabeler is not None:
            rng = random.Random(f"{self.selection_seed}:relabel:{seed}:{epoch}:{index}")
            task, inst, target = self.relabeler.draw(task, inst, target, rng)
        budget = self.max_input_tokens
        inputs = render(task, inst, enc, token_budget=budget, vocab=self.vocab if budget else None,
                        seed=self.selection_seed)
        return {"inputs": inputs, "targets": target}

    def example(self, index: int, epoch: int, seed: int) -> Example:
        text = self.text(index, epoch, seed)
        return {k: trim_and_append_eos(self.vocab.encode(text[k]), self.lengths[k]) for k in ("inputs", "targets")}


class ArraySource:
    """Pre-tokenised examples (``inputs``/``targets`` id arrays, EOS included) in a fixed list."""

    def __init__(self, examples: Sequence[Mapping[str, np.ndarray]]):
        self.examples = [{k: np.asarray(ex[k], np.int32) for k in ("inputs", "targets")} for ex in examples]

    def __len__(self) -> int:
        return len(self.examples)

    def example(self, index: int, epoch: int, seed: int) -> Example:
        del epoch, seed
        return self.examples[index]


class ConcatSource:
    """Sources back to back: index ``i`` of the whole is the matching index of one part."""

    def __init__(self, parts: Sequence[ExampleSource]):
        self.parts = list(parts)
        self.offsets = np.cumsum([0] + [len(p) for p in self.parts]).tolist()

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def example(self, index: int, epoch: int, seed: int) -> Example:
        k = bisect.bisect_right(self.offsets, index) - 1
        return self.parts[k].example(index - self.offsets[k], epoch, seed)
