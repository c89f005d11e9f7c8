"""Training batches: per-process rows of a global batch whose order is a function of (seed, position).

The source (``make_source``) addresses the selected examples by index; ``data_order`` maps every
batch row to its own stream of a seeded, per-epoch permutation, and ``InputPipeline`` builds only the
rows this process's devices hold (``local_rows``), packing each row greedily from its stream. The
global batches are therefore the same for any number of processes, and the data position (one
cursor per row, saved with each checkpoint) restores in constant time: no replay on resume.
"""

from __future__ import annotations

import logging
from typing import Any, Mapping, Sequence

import jax
import numpy as np

from snitk.errors import ConfigError
from snitk.training.data_order import DataOrder, position_state, stream_position
from snitk.training.packing import Example, build_row, fits, stack_rows
from snitk.training.sources import ArraySource, ConcatSource, ExampleSource, SelectionSource

log = logging.getLogger(__name__)

SYNTHETIC_TASK = "snitk_synthetic"


def _import_seqio():
    import os

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import seqio
    import tensorflow as tf

    tf.config.set_visible_devices([], "GPU")
    return seqio, tf


def get_task(name: str):
    """The seqio Task or Mixture ``name`` (registering snitk's tasks first); ConfigError when unknown."""
    seqio, _ = _import_seqio()
    if name.startswith(SYNTHETIC_TASK) and name not in seqio.TaskRegistry.names():
        register_synthetic_task(name)
    if name not in seqio.TaskRegistry.names() and name not in seqio.MixtureRegistry.names():
        try:
            import snitk.tasks as tasks  # registers the standard tasks on import
        except ImportError as e:  # pragma: no cover - depends on the data layer
            raise ConfigError(f"train.mixture_or_task_name={name!r}: snitk.tasks is unavailable ({e})") from e
        if (name not in seqio.TaskRegistry.names() and name not in seqio.MixtureRegistry.names()
                and name.startswith("snitk_") and hasattr(tasks, "register_by_name")):
            tasks.register_by_name(name)
    try:
        return seqio.get_mixture_or_task(name)
    except ValueError as e:
        known = sorted(seqio.TaskRegistry.names())[:20]
        raise ConfigError(f"train.mixture_or_task_name={name!r} is not a registered seqio task or mixture "
                          f"(some known: {known})") from e


def register_synthetic_task(name: str = SYNTHETIC_TASK, *, vocab_size: int = 128, num_examples: int = 512,
                            max_input_length: int = 24, max_target_length: int = 12, seed: int = 0) -> str:
    """Register a seqio task of random token sequences whose target is the reversed input prefix.

    Useful for smoke tests and benchmarks without a tokenizer. Token ids lie in [3, vocab_size); EOS is 1.
    """
    seqio, tf = _import_seqio()
    if name in seqio.TaskRegistry.names():
        return name
    rng = np.random.default_rng(seed)
    inputs, targets = [], []
    for _ in range(num_examples):
        n = int(rng.integers(4, max_input_length))
        x = rng.integers(3, vocab_size, size=n)
        m = int(rng.integers(2, min(n, max_target_length) + 1))
        inputs.append(x.astype(np.int32))
        targets.append(x[:m][::-1].astype(np.int32))

    def dataset_fn(split: str, shuffle_files: bool, seed: int | None = None):
        del split, shuffle_files, seed
        return tf.data.Dataset.from_tensor_slices({
            "inputs": tf.ragged.constant(inputs, dtype=tf.int32),
            "targets": tf.ragged.constant(targets, dtype=tf.int32),
        })

    vocab = seqio.PassThroughVocabulary(size=vocab_size, eos_id=1)
    features = {k: seqio.Feature(vocabulary=vocab, add_eos=True, dtype=tf.int32) for k in ("inputs", "targets")}
    seqio.TaskRegistry.add(
        name,
        source=seqio.FunctionDataSource(dataset_fn, splits=["train", "validation"],
                                        num_input_examples={"train": num_examples, "validation": num_examples}),
        preprocessors=[seqio.preprocessors.append_eos_after_trim],
        output_features=features,
    )
    return name


def task_vocab_size(name: str) -> int:
    """Vocabulary size of the task's "targets" feature."""
    return int(get_task(name).output_features["targets"].vocabulary.vocab_size)


def _check_lengths(task_feature_lengths: Mapping[str, int]) -> dict[str, int]:
    if set(task_feature_lengths) != {"inputs", "targets"}:
        raise ConfigError(f"TASK_FEATURE_LENGTHS={dict(task_feature_lengths)!r}: expected keys 'inputs' and 'targets'")
    return {k: int(v) for k, v in task_feature_lengths.items()}


def _selection_vocab(seqio_vocab: Any) -> Any:
    """The snitk Vocabulary of a seqio SentencePiece vocabulary (same ids); a gs:// one stays seqio's."""
    from snitk.vocab import get_vocabulary

    path = str(seqio_vocab.sentencepiece_model_file)
    if path.startswith("gs://"):
        return seqio_vocab
    return get_vocabulary(path, seqio_vocab.extra_ids)


def make_source(mixture_or_task_name: str, task_feature_lengths: Mapping[str, int], *, split: str = "train",
                use_cached: bool = False) -> ExampleSource:
    """The index-addressable examples of a task or mixture (see ``snitk.training.sources``).

    snitk selections render on demand; any other seqio task is read once into memory; a mixture
    concatenates its tasks, which needs mixing rates proportional to the tasks' sizes.
    """
    seqio, _ = _import_seqio()
    lengths = _check_lengths(task_feature_lengths)
    task = get_task(mixture_or_task_name)
    if isinstance(task, seqio.Mixture):
        parts = [make_source(t.name, lengths, split=split, use_cached=use_cached) for t in task.tasks]
        per_example = [task.get_rate(t) / max(len(p), 1) for t, p in zip(task.tasks, parts)]
        if max(per_example) > min(per_example) * (1 + 1e-6):
            raise ConfigError(f"train.mixture_or_task_name={mixture_or_task_name!r}: mixing rates "
                              f"{[task.get_rate(t) for t in task.tasks]} are not proportional to the task sizes "
                              f"{[len(p) for p in parts]}; the index-based input pipeline reads a mixture as the "
                              f"concatenation of its tasks")
        return ConcatSource(parts)
    import snitk.tasks as tasks

    sel = tasks.registered_selection(mixture_or_task_name)
    if sel is not None:
        vocab = _selection_vocab(task.output_features["inputs"].vocabulary)
        return SelectionSource.from_corpus(sel.resolved_data_dir(), sel.track, sel.encoding, vocab, lengths,
                                           split=split, max_train_per_task=sel.max_train_per_task,
                                           num_train_tasks=sel.num_train_tasks, selection_seed=sel.seed,
                                           max_input_tokens=sel.max_input_tokens, relabel=sel.relabel)
    ds = task.get_dataset(sequence_length=lengths, split=split, shuffle=False, num_epochs=1, use_cached=use_cached,
                          trim_output_features=True)
    return ArraySource([{k: ex[k][:lengths[k]] for k in lengths} for ex in ds.as_numpy_iterator()])


def local_rows(sharding: jax.sharding.Sharding, batch_size: int) -> list[int]:
    """The global batch rows held by this process's devices under ``sharding`` (sorted)."""
    rows: set[int] = set()
    for idx in sharding.addressable_devices_indices_map((int(batch_size),)).values():
        rows.update(range(*(idx[0] if idx else slice(None)).indices(int(batch_size))))
    return sorted(rows)


class InputPipeline:
    """Iterator of this process's rows of each global batch (numpy, ``(len(rows), length)`` per feature).

    ``rows``: the global row indices to build (default: all). ``cursors``: the saved per-row data
    position (``data_order.cursors_from_state``); default the start.
    """

    def __init__(self, source: ExampleSource, task_feature_lengths: Mapping[str, int], batch_size: int, *,
                 seed: int = 0, shuffle: bool = True, pack: bool = True, rows: Sequence[int] | None = None,
                 cursors: Sequence[int] | None = None):
        self.source = source
        self.lengths = _check_lengths(task_feature_lengths)
        self.batch_size = int(batch_size)
        self.seed = int(seed)
        self.pack = bool(pack)
        self.order = DataOrder(len(source), seed, shuffle)
        self.rows = list(range(self.batch_size)) if rows is None else sorted(int(r) for r in rows)
        if cursors is not None and len(cursors) != self.batch_size:
            raise ConfigError(f"{len(cursors)} row cursors for a batch of {self.batch_size} rows")
        self.cursors = {r: int(cursors[r]) if cursors is not None else 0 for r in self.rows}
        self._pending: dict[int, tuple[int, Example]] = {}  # row -> (cursor, example that did not fit)

    def _example(self, row: int, cursor: int) -> Example:
        pending = self._pending.pop(row, None)
        if pending is not None and pending[0] == cursor:
            return pending[1]
        epoch, index = self.order.example_at(stream_position(row, cursor, self.batch_size))
        return self.source.example(index, epoch, self.seed)

    def _next_row(self, row: int) -> dict[str, np.ndarray]:
        cursor = self.cursors[row]
        taken = [self._example(row, cursor)]
        cursor += 1
        if self.pack:
            used = {k: len(taken[0][k]) for k in ("inputs", "targets")}
            while True:
                ex = self._example(row, cursor)
                if not fits(used, ex, self.lengths):
                    self._pending[row] = (cursor, ex)
                    break
                taken.append(ex)
                used = {k: used[k] + len(ex[k]) for k in used}
                cursor += 1
        self.cursors[row] = cursor
        return build_row(taken, self.lengths, self.pack)

    def __iter__(self) -> "InputPipeline":
        return self

    def __next__(self) -> dict[str, np.ndarray]:
        return stack_rows([self._next_row(r) for r in self.rows])

    def global_cursors(self) -> list[int]:
        """Every row's cursor (gathered from all processes; a collective call when there are several)."""
        local = np.full(self.batch_size, -1, np.int64)
        for r, c in self.cursors.items():
            local[r] = c
        if jax.process_count() > 1:
            from jax.experimental import multihost_utils

            gathered = np.asarray(multihost_utils.process_allgather(local))
            local = gathered.reshape(-1, self.batch_size).max(axis=0)
        if (local < 0).any():
            raise ConfigError(f"rows {np.flatnonzero(local < 0).tolist()[:8]} of the batch are built by no process")
        return [int(c) for c in local]

    def position(self) -> dict[str, Any]:
        """The data position to save with a checkpoint (collective, see ``global_cursors``)."""
        return position_state(self.global_cursors())


def to_global_arrays(batch: Mapping[str, np.ndarray], sharding: jax.sharding.Sharding,
                     rows: Sequence[int] | None = None, batch_size: int | None = None) -> dict[str, jax.Array]:
    """Place a batch onto the mesh: each addressable device takes its slice.

    ``batch`` holds the whole global batch, or (with ``rows`` and ``batch_size``) only the global
    rows ``rows`` of a batch of ``batch_size`` rows — those this process's devices hold.
    """
    out = {}
    pos = None if rows is None else {int(r): i for i, r in enumerate(rows)}
    for k, v in batch.items():
        v = np.asarray(v)
        if pos is None:
            out[k] = jax.make_array_from_callback(v.shape, sharding, lambda idx, v=v: v[idx])
            continue
        shape = (int(batch_size if batch_size is not None else len(pos)),) + v.shape[1:]

        def local(idx, v=v, n=shape[0]):
            want = [pos[r] for r in range(*idx[0].indices(n))]
            return v[want][(slice(None),) + tuple(idx[1:])]

        out[k] = jax.make_array_from_callback(shape, sharding, local)
    return out


def count_global_tokens(batch: Mapping[str, jax.Array]) -> int:
    """Non-padding encoder + decoder target tokens of a batch on the mesh (all rows, whichever process
    built them)."""
    return int(_count_nonzero({k: batch[k] for k in ("encoder_input_tokens", "decoder_target_tokens") if k in batch}))


@jax.jit
def _count_nonzero(arrays: Mapping[str, jax.Array]) -> jax.Array:
    return sum(jax.numpy.count_nonzero(v) for v in arrays.values())
