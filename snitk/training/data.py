"""Training batches from seqio tasks/mixtures, with a data order that is a function of (seed, step).

Every host builds the same global batch stream (seeded shuffle + repeat, packed by seqio's
EncDecFeatureConverter, batched with drop_remainder) and skips the batches already consumed, so a
resumed run sees exactly the batches an uninterrupted one would. Each device then receives its slice of
the global batch (``to_global_arrays``), which works the same for one or many processes.
"""

from __future__ import annotations

import logging
from typing import Any, Iterator, Mapping

import jax
import numpy as np

from snitk.errors import ConfigError

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


def build_dataset(mixture_or_task_name: str, task_feature_lengths: Mapping[str, int], batch_size: int, *,
                  split: str = "train", seed: int = 0, shuffle: bool = True, pack: bool = True,
                  start_batch: int = 0, use_cached: bool = False):
    """The tf.data pipeline of global batches, positioned after ``start_batch`` consumed batches."""
    seqio, tf = _import_seqio()
    if set(task_feature_lengths) != {"inputs", "targets"}:
        raise ConfigError(f"TASK_FEATURE_LENGTHS={dict(task_feature_lengths)!r}: expected keys 'inputs' and 'targets'")
    task = get_task(mixture_or_task_name)
    lengths = {k: int(v) for k, v in task_feature_lengths.items()}
    ds = task.get_dataset(sequence_length=lengths, split=split, shuffle=shuffle, seed=seed, num_epochs=None,
                          use_cached=use_cached, trim_output_features=True)
    ds = seqio.EncDecFeatureConverter(pack=pack)(ds, lengths)
    ds = ds.batch(int(batch_size), drop_remainder=True)
    if start_batch:
        ds = ds.skip(int(start_batch))
    options = tf.data.Options()
    options.deterministic = True
    ds = ds.with_options(options)
    return ds.prefetch(2)


def batch_iterator(mixture_or_task_name: str, task_feature_lengths: Mapping[str, int], batch_size: int,
                   **kw: Any) -> Iterator[dict[str, np.ndarray]]:
    """Numpy global batches (see ``build_dataset``)."""
    ds = build_dataset(mixture_or_task_name, task_feature_lengths, batch_size, **kw)
    for batch in ds.as_numpy_iterator():
        yield {k: np.asarray(v) for k, v in batch.items()}


def to_global_arrays(batch: Mapping[str, np.ndarray], sharding: jax.sharding.Sharding) -> dict[str, jax.Array]:
    """Place a host-global numpy batch onto the mesh: each addressable device takes its slice."""
    out = {}
    for k, v in batch.items():
        v = np.asarray(v)
        out[k] = jax.make_array_from_callback(v.shape, sharding, lambda idx, v=v: v[idx])
    return out


def count_tokens(batch: Mapping[str, np.ndarray]) -> int:
    """Non-padding encoder + decoder target tokens in a batch."""
    n = 0
    for k in ("encoder_input_tokens", "decoder_target_tokens"):
        if k in batch:
            n += int(np.count_nonzero(batch[k]))
    return n
