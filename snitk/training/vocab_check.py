"""Which vocabulary a training run uses, checked against the model before anything is compiled.

- A model whose embedding size is fixed by its preset (every paper config) must be given a vocabulary:
  gin `snitk.tasks.vocabulary.spec` (the configs' `VOCABULARY` macro) or `$SNITK_VOCAB`. Falling back to
  the demo vocabulary is allowed only for models sized from the task (`model.vocab_from_task`, the demo).
- The vocabulary's size must agree with the embedding (`snitk.vocab_identity.check_model_vocab`).
- Its identity (path, size, sha256) is stored in every training checkpoint's ``train_state``; resuming or
  initialising from a checkpoint trained with another vocabulary is an error.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from snitk.errors import ConfigError
from snitk.vocab import EMBEDDING_PAD_TO, check_model_vocab
from snitk.vocab_identity import vocab_size


def task_vocabulary(task_name: str, *, vocab_from_task: bool) -> tuple[str, int] | None:
    """(spec, extra_ids) of the training task's vocabulary; None for a task without SentencePiece (synthetic).

    ConfigError when a snitk task names no vocabulary and the model is not sized from the task.
    """
    import seqio

    from snitk.training.data import get_task

    task = get_task(task_name)
    first = task.tasks[0] if isinstance(task, seqio.Mixture) else task
    vocab = first.output_features["targets"].vocabulary
    if not isinstance(vocab, seqio.SentencePieceVocabulary):
        return None
    from snitk import tasks as T

    if isinstance(vocab, T._DeferredVocabulary):
        spec, extra_ids = T.bound_vocabulary()
        if spec is None:
            if not vocab_from_task:
                raise ConfigError(
                    f"train.mixture_or_task_name={task_name!r}: no vocabulary is bound, and this model's embedding "
                    "size is fixed by its preset; bind the model's own vocabulary, e.g. VOCABULARY = "
                    "'gs://t5-data/vocabs/cc_all.32000/sentencepiece.model' (T5 / T5-1.1 / LM-adapt) or "
                    "'gs://t5-data/vocabs/mc4.250000.100extra/sentencepiece.model' with "
                    "snitk.tasks.vocabulary.extra_ids = 0 (mT5), or a local copy (or set $SNITK_VOCAB)")
            from snitk.vocab import DEMO_VOCAB

            spec = str(DEMO_VOCAB)
        return spec, extra_ids
    return str(vocab.sentencepiece_model_file), int(vocab.extra_ids)


def check_training_vocabulary(task_name: str, model_cfg: Any, model_extra: dict[str, Any]) -> tuple[str, int] | None:
    """The training vocabulary (spec, extra_ids) after checking that it is bound and fits the model."""
    found = task_vocabulary(task_name, vocab_from_task=bool(model_extra["vocab_from_task"]))
    if found is None:
        return None
    spec, extra_ids = found
    pad_to = int(model_extra["pad_vocab_to"]) if model_extra["vocab_from_task"] else EMBEDDING_PAD_TO
    check_model_vocab(vocab_size(spec, extra_ids), model_cfg.vocab_size, pad_to=pad_to,
                      where=f"model ({spec} with {extra_ids} extra ids)")
    return found


def check_checkpoint_vocabulary(stored: dict[str, Any] | None, current: dict[str, Any] | None, where: str) -> None:
    """ConfigError when a checkpoint's stored vocabulary differs from the one this run trains with."""
    if not stored or not current:
        return
    if stored.get("sha256") != current.get("sha256") or stored.get("size") != current.get("size"):
        raise ConfigError(f"{where} was trained with the vocabulary {stored.get('path')} (size {stored.get('size')}) "
                          f"but this run binds {current.get('path')} (size {current.get('size')}, another sha256)")


def check_run_vocabulary(model_dir: str | Path, init_checkpoint: str | None, current: dict[str, Any] | None) -> None:
    """ConfigError when the checkpoint this run resumes (MODEL_DIR's latest) or starts from (INIT_CHECKPOINT)
    was trained with another vocabulary than `current`."""
    from snitk.errors import CheckpointError
    from snitk.models.checkpoint import load_vocab_identity, resolve_checkpoint

    try:
        where = resolve_checkpoint(model_dir)  # the latest complete checkpoint_<step>
    except CheckpointError:
        where = init_checkpoint
    if where:
        check_checkpoint_vocabulary(load_vocab_identity(where), current, str(where))


def check_prompt_budget(task_name: str, input_length: int) -> None:
    """ConfigError when a `_lenN` selection's prompt budget exceeds the configured input length (seqio
    would then cut the prompt's end again, the Output: cue first); a smaller budget is logged."""
    import logging

    import seqio

    from snitk import tasks as T
    from snitk.training.data import get_task

    task = get_task(task_name)
    for sub in (task.tasks if isinstance(task, seqio.Mixture) else [task]):
        sel = T._REGISTERED.get(sub.name)
        budget = sel.max_input_tokens if sel else None
        if budget is None:
            continue
        if budget > input_length:
            raise ConfigError(f"{sub.name}: prompts are truncated to {budget} tokens but "
                              f"TASK_FEATURE_LENGTHS['inputs'] = {input_length}; use _len{input_length}")
        if budget < input_length:
            logging.getLogger(__name__).warning("%s: prompt budget %d < input length %d", sub.name, budget,
                                                input_length)
