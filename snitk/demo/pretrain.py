"""Pre-train the demo's tiny T5: `python -m snitk.demo.pretrain [--data-dir tasks] [--out DIR]`.

Tk-Instruct fine-tunes a *pretrained* T5 (T5-LM-adapt). This is the demo's miniature of that
pre-training: the demo model (`configs/experiments/demo_cpu.gin`) trained with T5's two self-supervised
objectives, mixed 1:1, on the text of the *training* tasks of a data dir (held-out tasks are never read):
its pieces (definitions; example inputs, outputs and explanations; instance inputs and outputs) and its
*documents*: a task's definition followed by a run of its instances as "Input: ... Output: ..." lines, as
web text puts a list of questions and answers under a heading. The documents are the text from which
a language model learns to continue a pattern it was shown (in-context learning); no prompt template,
no positive or negative examples, no held-out task is in them.

- span corruption (T5): 15% of the tokens in spans of mean length 3 are replaced by sentinels (the
  top ids of the vocabulary, as T5's extra ids); the target is the sentinels with the dropped spans;
- prefix LM (T5-LM-adapt): the text up to a random point is the input, the rest the target.

The seqio task `snitk_demo_pretrain` (registered when this module is imported; the data dir and the
vocabulary resolve as for every snitk task) feeds `python -m snitk.train`; the CLI trains with
`configs/experiments/demo_pretrain_cpu.gin` and writes the final parameters as a model checkpoint
(`--out`, default `runs/demo_pretrained`), which `snitk demo --pretrained CHECKPOINT` fine-tunes from.
`snitk demo` fine-tunes the shipped one, `snitk/assets/demo_pretrained` (rebuilt on the bundled corpus by
`python -m snitk.demo.pretrain --out snitk/assets/demo_pretrained`). Cost at the demo's size: 10,000 steps,
~55 minutes on 2 CPU cores; the result is 5.8 MB.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

TASK_NAME = "snitk_demo_pretrain"
SHIPPED = Path(__file__).resolve().parents[1] / "assets" / "demo_pretrained"  # what `snitk demo` fine-tunes
DEFAULT_GIN = "experiments/demo_pretrain_cpu.gin"
MAX_TOKENS = 200  # longest text piece, in tokens (longer ones are cut)
NOISE_DENSITY = 0.15
MEAN_SPAN = 3
COPIES = 4  # objectives drawn per text piece: span corruption and prefix LM alternate
DOCUMENT_INSTANCES = 4  # instances per task document
SEED = 0


def training_texts(data_dir: str | os.PathLike) -> list[str]:
    """The text of every default-track training task of `data_dir` (split-list order, instances in file order),
    read through the corpus layer (schema checks and errors that name the file and field; local or gs://)."""
    from snitk.natinst.corpus import Corpus

    texts: list[str] = []
    for task in Corpus(data_dir, "default").train_tasks(max_per_task=None):
        texts.append(task.definition)
        for ex in task.positive_examples + task.negative_examples:
            texts.append(" ".join(str(x or "") for x in (ex.input, ex.output, ex.explanation)).strip())
        texts += [f"{inst.input} {inst.output[0]}" for inst in task.instances]
        texts += task_documents(task.definition, [(inst.input, inst.output[0]) for inst in task.instances],
                                random.Random(f"{SEED}:{task.name}"))
    return [t for t in texts if t]


def task_documents(definition: str, pairs: Sequence[tuple[str, str]], rng: random.Random,
                   per_document: int = DOCUMENT_INSTANCES) -> list[str]:
    """A task's instances (input, output) in a seeded order, `per_document` to a document, each document
    the definition followed by "Input: ... Output: ..." for each of its instances."""
    order = list(pairs)
    rng.shuffle(order)
    return [" ".join([definition] + [f"Input: {x} Output: {y}" for x, y in order[i:i + per_document]])
            for i in range(0, len(order), per_document)]


def span_corruption(ids: Sequence[int], rng: random.Random, top_id: int) -> tuple[list[int], list[int]]:
    """T5's span corruption of `ids`: dropped spans become sentinels `top_id`, `top_id - 1`, ... in the input;
    the target lists each sentinel followed by the tokens it replaced."""
    n = len(ids)
    n_spans = max(1, round(n * NOISE_DENSITY / MEAN_SPAN))
    mask = np.zeros(n, bool)
    for start in rng.sample(range(n), min(n_spans, n)):
        mask[start:start + MEAN_SPAN] = True
    inputs: list[int] = []
    targets: list[int] = []
    sentinel = top_id
    i = 0
    while i < n:
        if not mask[i]:
            inputs.append(ids[i])
            i += 1
            continue
        inputs.append(sentinel)
        targets.append(sentinel)
        while i < n and mask[i]:
            targets.append(ids[i])
            i += 1
        sentinel -= 1
    return inputs, targets


def prefix_lm(ids: Sequence[int], rng: random.Random) -> tuple[list[int], list[int]]:
    """The tokens up to a random point (at least one on each side) and the rest."""
    cut = rng.randrange(1, len(ids))
    return list(ids[:cut]), list(ids[cut:])


def pretraining_examples(texts: Sequence[str], encode, top_id: int, copies: int = COPIES,
                         seed: int = SEED) -> Iterator[tuple[list[int], list[int]]]:
    """(inputs, targets) token ids: `copies` examples per text piece, the objectives alternating."""
    rng = random.Random(seed)
    for text in texts:
        ids = encode(text)[:MAX_TOKENS]
        if len(ids) < 4:
            continue
        for c in range(copies):
            yield span_corruption(ids, rng, top_id) if c % 2 == 0 else prefix_lm(ids, rng)


def register(name: str = TASK_NAME) -> str:
    """Register the seqio pre-training task (idempotent); its data dir and vocabulary resolve when read."""
    import seqio
    import tensorflow as tf

    import snitk.tasks as tasks

    if name in seqio.TaskRegistry.names():
        return name
    vocab = tasks.deferred_vocabulary()  # resolved when the data is read, after every gin binding

    def dataset_fn(split: str, shuffle_files: bool, seed: int | None = None) -> tf.data.Dataset:
        texts = training_texts(tasks.data_dir())
        pairs = list(pretraining_examples(texts, vocab.encode, vocab.vocab_size - 1))
        return tf.data.Dataset.from_tensor_slices({
            "inputs": tf.ragged.constant([p[0] for p in pairs], dtype=tf.int32),
            "targets": tf.ragged.constant([p[1] for p in pairs], dtype=tf.int32)})

    features = {k: seqio.Feature(vocabulary=vocab, add_eos=True, dtype=tf.int32) for k in ("inputs", "targets")}
    seqio.TaskRegistry.add(name, source=seqio.FunctionDataSource(dataset_fn, splits=["train"]),
                           preprocessors=[seqio.preprocessors.append_eos_after_trim], output_features=features)
    return name


def export(model_dir: Path, out: Path) -> Path:
    """Write the latest checkpoint of `model_dir` as a model checkpoint (parameters, model config and the
    vocabulary identity; no optimizer state) at `out`, replacing it (written to a temporary name first)."""
    from snitk.models.checkpoint import load_model, load_vocab_identity, save_model, write_vocab_identity

    from snitk.vocab import DEMO_VOCAB
    from snitk.vocab_identity import sha256_file

    config, params = load_model(model_dir)
    vocabulary = load_vocab_identity(model_dir)
    if vocabulary and DEMO_VOCAB.is_file() and vocabulary.get("sha256") == sha256_file(DEMO_VOCAB):
        vocabulary = {**vocabulary, "path": str(DEMO_VOCAB)}  # the bundled one, found again in any checkout
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    save_model(tmp, config, params)
    if vocabulary:
        write_vocab_identity(tmp, vocabulary)
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Pre-train (or resume) into `--model-dir`, then export the parameters to `--out`."""
    from snitk import experiments as ex
    from snitk.xla_cpu import use_small_model_cpu_flags

    p = argparse.ArgumentParser(prog="python -m snitk.demo.pretrain", description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", type=Path, default=None, help="data dir (default: the bundled tasks/)")
    p.add_argument("--model-dir", type=Path, default=Path("runs/demo_pretrain"), help="training checkpoints")
    p.add_argument("--out", type=Path, default=Path("runs/demo_pretrained"),
                   help="where the pre-trained model (a model checkpoint) is written")
    p.add_argument("--gin", action="append", default=[], metavar="KEY=VALUE", help="extra gin bindings")
    args = p.parse_args(argv)
    from snitk.natinst.corpus import Corpus

    Corpus(args.data_dir, "default").task_names("train")  # a missing or malformed data dir fails here, in one line
    use_small_model_cpu_flags()
    bindings = list(args.gin)
    if args.data_dir is not None:
        bindings.append(ex.data_dir_binding(args.data_dir))
    model_dir = ex.train(args.model_dir.resolve(), [DEFAULT_GIN], bindings)
    out = export(model_dir, args.out.resolve())
    print(f"wrote the pre-trained demo model to {out}")
    return 0


if __name__ == "__main__":
    from snitk.entry import run_script

    run_script(main, "python -m snitk.demo.pretrain")
