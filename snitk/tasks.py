"""seqio registry of the natural-instructions tasks (track x encoding x selection).

`import snitk.tasks` registers the standard grid below (what t5x gin files need); `register(...)`
adds other selections. Every task reads a data dir laid out as the natural-instructions repository
through `snitk.natinst.corpus` and renders prompts with `snitk.prompts`.

Standard names (`list_task_names()`, `snitk data list-tasks`):

| name | kind | what |
|---|---|---|
| `snitk_default_{encoding}` | Task | default (English) track, training tasks / held-out test tasks |
| `snitk_xlingual_{encoding}` | Task | cross-lingual track |
| `snitk_default_instruction_mix` | Mixture | equal-rate mixture of the def, pos2, def_pos2, def_pos2_neg2 and def_pos2_expl tasks |
| `snitk_xlingual_instruction_mix` | Mixture | the same for the cross-lingual track |

`{encoding}` is one of task_name, def, pos1, pos2, pos4, def_pos1, def_pos2, def_pos4,
def_pos2_neg2, def_pos2_expl, def_pos2_neg2_expl, tk_mix (per-instance seeded choice, as Tk-Instruct).
Non-standard selections get suffixes: `_inst{N}` (N training instances per task; `_install` for all),
`_tasks{N}` (a seeded subset of N training tasks), `_seed{S}` (selection seed), `_len{L}` (prompts
truncated to L tokens as the official collator does: examples added greedily while the text fits, then
cut; tokens counted with the task's bound vocabulary; the paper configs use `_len1024`, the input
length), `_len{L}_keeptail` (the same budget, but only the instance input is shortened so that the
prompt keeps its `Output:` cue), `_relabel{P}` (P% of the classification training examples have their
label words replaced by other words, the same everywhere in the prompt and the target:
`snitk.natinst.relabel`; the demo's recipe, not the paper's). `register_by_name("snitk_default_def_pos2_inst8_tasks64")`
registers any such name; from gin, `MIXTURE_OR_TASK_NAME = @snitk.tasks.registered_task()` with
`snitk.tasks.registered_task.num_train_tasks = 64` (etc.) registers and names the selection.

Splits: "train" = the training selection (seeded shuffle, capped per task, default 100) with one
reference as target, chosen by a seeded RNG per (task, id); "test" = the FIRST 100 instances of each
test task in file order, target = the first reference; "validation" = the same as "test" (t5x's
run configs evaluate on "validation"). Examples come in task order; seqio shuffles when asked.

Features: "inputs", "targets" (token ids, EOS appended) plus pass-through strings "task", "id",
"references" (a 1-D tf.string vector of every reference) and, from seqio's tokenizer,
"inputs_pretokenized", "targets_pretokenized". seqio's `EncDecFeatureConverter` (packed or not)
keeps only the model features and silently drops these extra ones, so a trainer needs no filtering;
a caller that batches the *task* dataset itself must drop or ragged-batch "references".

Configuration (resolved when a dataset is read, so gin bindings made after `import snitk.tasks`
apply): data dir = `register(data_dir=...)`, else gin `snitk.tasks.data_dir.path`, else
`$SNITK_DATA_DIR`, else the bundled `tasks/`; vocabulary = `register(vocab=...)`, else gin
`snitk.tasks.vocabulary.spec`, else `$SNITK_VOCAB`, else the demo vocabulary
(`snitk/assets/demo_spm.model`; `python -m snitk.train` accepts that fallback only for models sized from
the task, see `snitk.training.vocab_check`). The paper configs bind the T5 vocabulary
(`gs://t5-data/vocabs/cc_all.32000/sentencepiece.model`; mT5:
`gs://t5-data/vocabs/mc4.250000.100extra/sentencepiece.model`) or a local copy of it.
"""

from __future__ import annotations

import logging
import os
import random
import re
from dataclasses import dataclass
from typing import Any, Iterator

import gin
from etils.epath import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import seqio  # noqa: E402
import tensorflow as tf  # noqa: E402

from snitk.errors import ConfigError  # noqa: E402
from snitk.natinst.corpus import Corpus, default_data_dir  # noqa: E402
from snitk.natinst.relabel import relabeler_for  # noqa: E402
from snitk.paths import resolve  # noqa: E402
from snitk.prompts import ENCODINGS, render  # noqa: E402
from snitk.vocab import get_vocabulary  # noqa: E402

log = logging.getLogger(__name__)

TRACKS = ("default", "xlingual")
STANDARD_ENCODINGS = tuple(ENCODINGS)
MIX_ENCODINGS = ("def", "pos2", "def_pos2", "def_pos2_neg2", "def_pos2_expl")
# The paper's training tasks with the official collator's truncation to 1,024 input tokens, registered at
# import so that a t5x gin (which names a task, never registers one) can use them.
PAPER_ENCODINGS = ("def_pos2", "tk_mix")
PAPER_INPUT_TOKENS = 1024
TEST_INSTANCES = 100
SPLITS = ("train", "test", "validation")  # "validation" = "test" (t5x's eval configs read it)


@gin.configurable(module="snitk.tasks")
def data_dir(path: str | None = None) -> Path:
    """The data dir of tasks registered without one: gin `path`, else $SNITK_DATA_DIR, else `tasks/`."""
    return resolve(path) if path else default_data_dir()


@gin.configurable(module="snitk.tasks")
def vocabulary(spec: str | None = None, extra_ids: int = 100) -> seqio.Vocabulary:
    """The seqio vocabulary of tasks registered without one (gin `spec`, else $SNITK_VOCAB, else demo).

    A `gs://` spec is handed to seqio as is (read lazily through tf.io.gfile, as on Cloud TPUs), so it
    equals the vocabulary a t5x model gin builds for the same URL; snitk's own readers
    (`snitk.vocab.get_vocabulary`) copy bucket files once into the local cache instead.
    """
    spec = spec or os.environ.get("SNITK_VOCAB") or None
    if spec and str(spec).startswith("gs://"):
        return seqio.SentencePieceVocabulary(str(spec), extra_ids=extra_ids)
    return get_vocabulary(spec, extra_ids).to_seqio()


def bound_vocabulary() -> tuple[str | None, int]:
    """(spec, extra_ids) that `vocabulary()` resolves: gin `snitk.tasks.vocabulary.spec`, else
    $SNITK_VOCAB; spec None when neither names one (then the demo vocabulary is used)."""
    def bound(param: str, default: Any) -> Any:
        try:
            value = gin.query_parameter(f"snitk.tasks.vocabulary.{param}")
            for _ in range(8):  # a macro (%VOCABULARY), possibly bound to another macro
                if not (isinstance(value, gin.config.ConfigurableReference) and str(value).startswith("%")):
                    break
                value = gin.query_parameter(str(value))
            return value
        except ValueError:
            return default

    spec = bound("spec", None) or os.environ.get("SNITK_VOCAB") or None
    return (str(spec) if spec else None), int(bound("extra_ids", 100))


class _DeferredVocabulary(seqio.SentencePieceVocabulary):
    """The vocabulary `vocabulary()` gives (file and extra ids), resolved on first use.

    Its state (and so `seqio.SentencePieceVocabulary.__eq__`) is that of the equivalent plain
    `seqio.SentencePieceVocabulary`: it equals the vocabulary a t5x model gin builds for the same file
    and extra ids, which t5x checks before training.
    """

    def __init__(self) -> None:
        self._resolved: seqio.SentencePieceVocabulary | None = None
        super().__init__("<resolved on first use>")

    def _target(self) -> seqio.SentencePieceVocabulary:
        if self._resolved is None:
            vocab = vocabulary()
            if not isinstance(vocab, seqio.SentencePieceVocabulary):
                raise ConfigError(f"snitk.tasks.vocabulary() must give a SentencePiece vocabulary, got {type(vocab)}")
            self._resolved = vocab
        return self._resolved

    @property  # type: ignore[override]
    def _sentencepiece_model_file(self) -> str:
        return self._target().sentencepiece_model_file

    @_sentencepiece_model_file.setter
    def _sentencepiece_model_file(self, value: str) -> None:
        pass

    @property  # type: ignore[override]
    def _extra_ids(self) -> int:
        return self._target().extra_ids

    @_extra_ids.setter
    def _extra_ids(self, value: int) -> None:
        pass

    def __getstate__(self) -> dict[str, Any]:
        return self._target().__getstate__()

    def __setstate__(self, state: dict[str, Any]) -> None:
        plain = seqio.SentencePieceVocabulary.__new__(seqio.SentencePieceVocabulary)
        plain.__setstate__(state)
        self.__dict__.update({k: v for k, v in state.items() if k not in ("_sentencepiece_model_file", "_extra_ids")})
        self._resolved = plain
        self._model = None


_DEFERRED_VOCAB: _DeferredVocabulary | None = None


def deferred_vocabulary() -> seqio.Vocabulary:
    """The vocabulary `vocabulary()` gives, resolved on first use (so gin bindings made later apply); one
    shared instance."""
    global _DEFERRED_VOCAB
    if _DEFERRED_VOCAB is None:
        _DEFERRED_VOCAB = _DeferredVocabulary()
    return _DEFERRED_VOCAB


@dataclass(frozen=True)
class Selection:
    """What one registered task reads."""

    track: str
    encoding: str
    data_dir: str | None  # None: resolved through `data_dir()` when read
    max_train_per_task: int | None
    num_train_tasks: int | None
    seed: int
    max_input_tokens: int | None
    vocab: str | None  # None: resolved through `vocabulary()`
    truncation: str = "official"  # or "keep-tail" (prompts.render)
    relabel: float = 0.0  # fraction of the label tasks' training examples relabeled (snitk.natinst.relabel)

    def resolved_data_dir(self) -> Path:
        return resolve(self.data_dir) if self.data_dir else data_dir()


_REGISTERED: dict[str, Selection] = {}


def task_name(track: str, encoding: str, *, max_train_per_task: int | None = 100, num_train_tasks: int | None = None,
              seed: int = 42, max_input_tokens: int | None = None, truncation: str = "official",
              relabel: float = 0.0) -> str:
    """The seqio name of a selection (see the module docstring)."""
    name = f"snitk_{track}_{encoding}"
    if max_train_per_task != 100:
        name += "_install" if max_train_per_task is None else f"_inst{max_train_per_task}"
    if num_train_tasks is not None:
        name += f"_tasks{num_train_tasks}"
    if seed != 42:
        name += f"_seed{seed}"
    if max_input_tokens is not None:
        name += f"_len{max_input_tokens}"
        if truncation == "keep-tail":
            name += "_keeptail"
    if relabel:
        name += f"_relabel{round(relabel * 100)}"
    return name


def iter_examples(sel: Selection, split: str) -> Iterator[dict[str, Any]]:
    """Rendered examples of a selection: dicts with inputs, targets, task, id, references (strings)."""
    if split not in SPLITS:
        raise ConfigError(f"split {split!r}: expected one of {SPLITS}")
    corpus = Corpus(sel.resolved_data_dir(), sel.track)
    budget_vocab = None
    if sel.max_input_tokens:  # count tokens with the vocabulary the task is bound to (as the model sees them)
        spec, extra_ids = (sel.vocab, 100) if sel.vocab else bound_vocabulary()
        budget_vocab = get_vocabulary(spec, extra_ids)
    relabeler = None
    if split == "train":
        tasks = list(corpus.train_tasks(max_per_task=sel.max_train_per_task, seed=sel.seed,
                                        num_tasks=sel.num_train_tasks))
        relabeler = relabeler_for(tasks, sel.relabel)
    else:  # test, and its alias validation
        tasks = corpus.test_tasks(max_per_task=TEST_INSTANCES)
    for task in tasks:
        for inst in task.instances:
            refs = list(inst.output)
            shown = task
            if split == "train":  # one reference per instance, a seeded choice per (task, id)
                rng = random.Random(f"{sel.seed}:{task.name}:{inst.id}")
                target = rng.choice(refs)
                if relabeler is not None:
                    shown, inst, target = relabeler.draw(task, inst, target, rng)
            else:
                target = refs[0]
            inputs = render(shown, inst, sel.encoding, token_budget=sel.max_input_tokens, vocab=budget_vocab,
                            truncation=sel.truncation, seed=sel.seed)
            yield {"inputs": inputs, "targets": target, "task": task.name, "id": inst.id,
                   "references": list(inst.output)}


_SIGNATURE = {
    "inputs": tf.TensorSpec([], tf.string),
    "targets": tf.TensorSpec([], tf.string),
    "task": tf.TensorSpec([], tf.string),
    "id": tf.TensorSpec([], tf.string),
    "references": tf.TensorSpec([None], tf.string),
}


def shuffled_examples(sel: Selection, split: str, seed: int) -> Iterator[dict[str, Any]]:
    """`iter_examples` in a seeded global order.

    The source reads task after task; seqio's shuffle buffer (1,000 examples) cannot mix a training
    selection of 10^4-10^5 examples, so without this a model would see one task family at a time.
    The rendered selection is small (capped per task), so it is held in memory and permuted.
    """
    examples = list(iter_examples(sel, split))
    random.Random(f"{sel.seed}:{seed}:{split}").shuffle(examples)
    yield from examples


def _dataset_fn(sel: Selection):
    def dataset_fn(split: str, shuffle_files: bool = False, seed: int | None = None) -> tf.data.Dataset:
        # seqio asks for shuffled "files" exactly when it shuffles examples: permute the whole split
        # (deterministic in the seed), on top of which seqio's buffer shuffles each epoch.
        if shuffle_files:
            gen = lambda: shuffled_examples(sel, split, seed or 0)  # noqa: E731
        else:
            gen = lambda: iter_examples(sel, split)  # noqa: E731
        return tf.data.Dataset.from_generator(gen, output_signature=_SIGNATURE)

    return dataset_fn


def _postprocess(output: str, example: dict | None = None, is_target: bool = False):
    """Targets become the list of references (for multi-reference metrics); predictions stay text."""
    if is_target and example is not None and "references" in example:
        return [r.decode("utf-8") if isinstance(r, bytes) else str(r) for r in example["references"]]
    return output


def _metric_fn(xlingual: bool):
    def rouge_and_em(targets: list, predictions: list) -> dict[str, float]:
        from snitk.eval.metrics import compute_metrics

        refs = [t if isinstance(t, list) else [t] for t in targets]
        scores = compute_metrics(list(predictions), refs, xlingual=xlingual)
        return {k: float(v) for k, v in scores.items() if k != "n"}

    rouge_and_em.__name__ = "snitk_rouge_em"
    return rouge_and_em


def register(track: str, encoding: str, *, data_dir: str | os.PathLike | None = None, vocab: str | None = None,
             max_train_per_task: int | None = 100, num_train_tasks: int | None = None, seed: int = 42,
             max_input_tokens: int | None = None, truncation: str = "official", relabel: float = 0.0,
             name: str | None = None) -> str:
    """Register (idempotently) the seqio Task for this selection and return its name.

    `name` overrides the standard name (e.g. for a private data dir). Registering an existing name
    with a different selection, data dir or vocabulary replaces the earlier task.
    """
    if track not in TRACKS:
        raise ConfigError(f"unknown track {track!r}; expected one of {TRACKS}")
    if encoding not in ENCODINGS:
        raise ConfigError(f"unknown encoding {encoding!r}; expected one of: {', '.join(ENCODINGS)}")
    if truncation not in ("official", "keep-tail"):
        raise ConfigError(f"truncation {truncation!r}: expected 'official' or 'keep-tail'")
    if not 0 <= relabel <= 1:
        raise ConfigError(f"relabel={relabel!r}: expected a fraction between 0 and 1")
    name = name or task_name(track, encoding, max_train_per_task=max_train_per_task,
                             num_train_tasks=num_train_tasks, seed=seed, max_input_tokens=max_input_tokens,
                             truncation=truncation, relabel=relabel)
    sel = Selection(track, encoding, str(data_dir) if data_dir else None, max_train_per_task, num_train_tasks, seed,
                    max_input_tokens, str(vocab) if vocab else None, truncation, relabel)
    if _REGISTERED.get(name) == sel and name in seqio.TaskRegistry.names():
        return name
    if name in seqio.TaskRegistry.names():
        log.info("re-registering seqio task %s with %s", name, sel)
        seqio.TaskRegistry.remove(name)
    seq_vocab = get_vocabulary(vocab).to_seqio() if vocab else deferred_vocabulary()
    features = {
        "inputs": seqio.Feature(vocabulary=seq_vocab, add_eos=True, required=True),
        "targets": seqio.Feature(vocabulary=seq_vocab, add_eos=True),
    }
    seqio.TaskRegistry.add(
        name,
        source=seqio.FunctionDataSource(_dataset_fn(sel), splits=SPLITS),
        preprocessors=[
            seqio.preprocessors.tokenize,  # keeps inputs_pretokenized / targets_pretokenized
            seqio.preprocessors.append_eos_after_trim,
        ],
        output_features=features,
        postprocess_fn=_postprocess,
        metric_fns=[_metric_fn(track == "xlingual")],
    )
    _REGISTERED[name] = sel
    return name


def registered_selection(name: str) -> Selection | None:
    """The selection a snitk task was registered with (None for other names); the training input
    pipeline reads its examples by index through it."""
    return _REGISTERED.get(name) if name in seqio.TaskRegistry.names() else None


_NAME = re.compile(
    r"^snitk_(?P<track>default|xlingual)_(?P<encoding>" + "|".join(sorted(map(re.escape, ENCODINGS), key=len, reverse=True))
    + r")(?:_inst(?P<inst>\d+|all))?(?:_tasks(?P<tasks>\d+))?(?:_seed(?P<seed>\d+))?(?:_len(?P<len>\d+)(?P<tail>_keeptail)?)?(?:_relabel(?P<relabel>\d+))?$"
)


def register_by_name(name: str, **kw: Any) -> str:
    """Register the task a standard-scheme name describes, e.g. `snitk_default_def_pos2_inst8_tasks64`."""
    m = _NAME.match(name)
    if not m:
        raise ConfigError(f"{name!r} is not a snitk task name "
                          "(snitk_{track}_{encoding}[_instN][_tasksN][_seedS][_lenL[_keeptail]][_relabelP])")
    inst = m["inst"]
    kw.setdefault("name", name)  # as spelled: `_inst100` (the default cap) must be registered under that name too
    return register(m["track"], m["encoding"],
                    max_train_per_task=None if inst == "all" else int(inst) if inst else 100,
                    num_train_tasks=int(m["tasks"]) if m["tasks"] else None,
                    seed=int(m["seed"]) if m["seed"] else 42,
                    max_input_tokens=int(m["len"]) if m["len"] else None,
                    truncation="keep-tail" if m["tail"] else "official",
                    relabel=int(m["relabel"]) / 100 if m["relabel"] else 0.0, **kw)


@gin.configurable(module="snitk.tasks")
def registered_task(track: str = "default", encoding: str = "def_pos2", max_train_per_task: int | None = 100,
                    num_train_tasks: int | None = None, seed: int = 42, max_input_tokens: int | None = None,
                    data_dir: str | None = None, vocab: str | None = None, truncation: str = "official",
                    relabel: float = 0.0) -> str:
    """Gin hook: `MIXTURE_OR_TASK_NAME = @snitk.tasks.registered_task()` registers the configured
    selection and passes its name (bind e.g. `snitk.tasks.registered_task.num_train_tasks = 16`)."""
    return register(track, encoding, data_dir=data_dir, vocab=vocab, max_train_per_task=max_train_per_task,
                    num_train_tasks=num_train_tasks, seed=seed, max_input_tokens=max_input_tokens,
                    truncation=truncation, relabel=relabel)


def mixture_name(track: str) -> str:
    return f"snitk_{track}_instruction_mix"


def register_standard() -> list[str]:
    """Register every standard task and mixture (idempotent); returns their names."""
    names = []
    for track in TRACKS:
        for encoding in STANDARD_ENCODINGS:
            names.append(register(track, encoding))
        for encoding in PAPER_ENCODINGS:
            names.append(register(track, encoding, max_input_tokens=PAPER_INPUT_TOKENS))
        mix = mixture_name(track)
        if mix not in seqio.MixtureRegistry.names():
            seqio.MixtureRegistry.add(mix, [(f"snitk_{track}_{e}", 1.0) for e in MIX_ENCODINGS])
        names.append(mix)
    return names


def list_task_names() -> list[str]:
    """The standard task and mixture names (without registering anything)."""
    names = []
    for track in TRACKS:
        names += [f"snitk_{track}_{e}" for e in STANDARD_ENCODINGS]
        names += [f"snitk_{track}_{e}_len{PAPER_INPUT_TOKENS}" for e in PAPER_ENCODINGS]
        names.append(mixture_name(track))
    return names


register_standard()
