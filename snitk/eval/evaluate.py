"""Decode the held-out test tasks from a checkpoint and score them with the official protocol.

Outputs in OUTPUT_DIR:
- ``predictions.jsonl``: one record per test instance in the official format
  (``id, Task, Definition, Categories, Instance {id, input, output}, prediction``);
- ``references.jsonl``: ``id, references, task_id, task_category, track`` (the natural-instructions
  leaderboard script's reference file);
- ``metrics.json``: ``{"overall", "per_category", "per_task", ...}`` with a 95% bootstrap interval
  (``ci95``) beside the overall and per-category scores; ``report.md``: the tables;
- ``instance_scores.jsonl``: every instance's scores (what the intervals and `compare` resample).

Decoding appends finished batches to ``predictions.partial.jsonl``; an interrupted run started again
with the same output directory decodes only what is missing.
"""

from __future__ import annotations

import json
import logging
import math
import os
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

from etils.epath import Path

from snitk.atomic import open_append, write_json, write_jsonl, write_text
from snitk.errors import ConfigError, DataError
from snitk.eval.postprocess import generated_tokens, hf_decode
from snitk.paths import resolve

log = logging.getLogger(__name__)

TRACKS = ("default", "xlingual")
OFFICIAL_PER_TASK = 100
PARTIAL = "predictions.partial.jsonl"
RUN_INFO = "eval_run.json"


@dataclass(frozen=True)
class TestSet:
    """The selected test tasks (each holding its first `max_per_task` instances) and what is missing."""

    track: str
    data_dir: Path
    tasks: list  # list[snitk.natinst.Task]
    missing: list[str]

    @property
    def num_instances(self) -> int:
        return sum(len(t.instances) for t in self.tasks)


def check_track(track: str) -> str:
    if track not in TRACKS:
        raise ConfigError(f"--track {track!r}: expected one of {', '.join(TRACKS)}")
    return track


def load_test_set(
    track: str,
    data_dir: str | os.PathLike | None = None,
    *,
    max_per_task: int = OFFICIAL_PER_TASK,
    max_tasks: int | None = None,
    allow_missing_tasks: bool = False,
) -> TestSet:
    """The test split of `track`: first `max_per_task` instances of every test task (file order).

    Missing task files raise a DataError listing them, unless `allow_missing_tasks` (then a warning).
    """
    from snitk.natinst.corpus import Corpus, default_data_dir

    check_track(track)
    corpus = Corpus(data_dir, track=track)
    root = resolve(data_dir) if data_dir is not None else default_data_dir()
    missing = list(corpus.missing_tasks("test"))
    if missing and not allow_missing_tasks:
        shown = ", ".join(missing[:20]) + (f", ... ({len(missing)} in all)" if len(missing) > 20 else "")
        raise DataError(
            root, f"splits/{track}/test_tasks.txt",
            f"{len(missing)} test task file(s) missing: {shown} (download them, or pass --allow-missing-tasks)",
        )
    if missing:
        log.warning(
            "%d of the %s test tasks are missing and skipped: %s%s", len(missing), track,
            ", ".join(missing[:10]), ", ..." if len(missing) > 10 else "",
        )
    tasks = []
    for task in corpus.test_tasks(max_per_task=max_per_task, allow_missing=True):
        if max_tasks is not None and len(tasks) >= max_tasks:
            break
        if not task.instances:
            raise DataError(corpus.task_path(task.name), "Instances", "at least one instance (a test task without "
                            "instances cannot be scored; remove it from the test split or add instances)")
        tasks.append(task)
    return TestSet(track, root, tasks, missing)


def make_record(task: Any, instance: Any, prediction: str) -> dict[str, Any]:
    """One line of predictions.jsonl in the official (Tk-Instruct) format."""
    return {
        "id": instance.id,
        "Task": task.name,
        "Definition": [task.definition],
        "Categories": list(task.categories),
        "Instance": {"id": instance.id, "input": instance.input, "output": list(instance.output)},
        "prediction": prediction,
    }


def score_records(
    records: Sequence[dict[str, Any]],
    track: str,
    *,
    data_dir: str | os.PathLike | None = None,
    gpt2_bpe: str | None = None,
    num_workers: int | None = None,
) -> dict[str, Any]:
    """Official metrics of prediction records: {"overall", "per_category", "per_task"}.

    The category of a task is ``Categories[0]`` of the record, else of its task file in `data_dir`.
    """
    return score_records_per_instance(records, track, data_dir=data_dir, gpt2_bpe=gpt2_bpe, num_workers=num_workers)[0]


def score_records_per_instance(
    records: Sequence[dict[str, Any]],
    track: str,
    *,
    data_dir: str | os.PathLike | None = None,
    gpt2_bpe: str | None = None,
    num_workers: int | None = None,
) -> tuple[dict[str, Any], Any]:
    """`score_records` and the per-instance scores (a `snitk.eval.intervals.InstanceScores`)."""
    from snitk.eval.intervals import InstanceScores
    from snitk.eval.metrics import report_from_scores, score_instances

    check_track(track)
    if not records:
        raise DataError(data_dir or "the test set", None, "at least one instance to score (n=0 is not a metric)")
    corpus = None
    cats: dict[str, str] = {}
    categories = []
    for rec in records:
        task = rec["Task"]
        if task not in cats:
            if rec.get("Categories"):
                cats[task] = rec["Categories"][0]
            else:
                if corpus is None:
                    from snitk.natinst.corpus import Corpus

                    corpus = Corpus(data_dir, track=track)
                try:
                    cats[task] = corpus.category(task)
                except (DataError, FileNotFoundError, OSError) as exc:
                    raise DataError(task, "Categories", f"the task's category: record has none and its task file is unreadable ({exc})") from exc
        categories.append(cats[task])
    preds = [str(r["prediction"]) for r in records]
    refs = [list(r["Instance"]["output"]) for r in records]
    tasks = [r["Task"] for r in records]
    scores = score_instances(preds, refs, xlingual=(track == "xlingual"), gpt2_bpe=gpt2_bpe, num_workers=num_workers)
    report = report_from_scores(scores, tasks, categories)
    report["track"] = track
    report["num_tasks"] = len(report["per_task"])
    return report, InstanceScores.from_records(records, scores, categories)


def write_outputs(
    output_dir: str | os.PathLike,
    records: Sequence[dict[str, Any]],
    track: str,
    *,
    data_dir: str | os.PathLike | None = None,
    gpt2_bpe: str | None = None,
    title: str = "Evaluation",
    extra: dict[str, Any] | None = None,
    write_predictions: bool = True,
    n_resamples: int = 1000,
    bootstrap_seed: int = 0,
) -> dict[str, Any]:
    """Score `records` and write predictions.jsonl, references.jsonl, instance_scores.jsonl, metrics.json
    and report.md; `n_resamples` bootstrap resamples give the 95% intervals (0: none)."""
    from snitk.eval.intervals import INSTANCE_SCORES, add_intervals, write_instance_scores
    from snitk.eval.report import render_report

    out = resolve(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    metrics, per_instance = score_records_per_instance(records, track, data_dir=data_dir, gpt2_bpe=gpt2_bpe)
    if extra:
        metrics.update(extra)
    if n_resamples > 0:
        add_intervals(metrics, per_instance, n_resamples, bootstrap_seed)
    write_instance_scores(out / INSTANCE_SCORES, per_instance)
    if write_predictions:
        write_jsonl(out / "predictions.jsonl", records)
    write_jsonl(
        out / "references.jsonl",
        (
            {
                "id": r.get("id", r["Instance"].get("id")),
                "references": list(r["Instance"]["output"]),
                "task_id": r["Task"],
                "task_category": metrics["per_task"].get(r["Task"], {}).get("category")
                or (r.get("Categories") or [""])[0],
                "track": track,
            }
            for r in records
        ),
    )
    write_json(out / "metrics.json", metrics)
    write_text(out / "report.md", render_report(metrics, title=title))
    o = metrics["overall"]
    log.info("%s: EM %.2f  ROUGE-1 %.2f  ROUGE-L %.2f  (n=%d)", title, o["exact_match"], o["rouge1"], o["rougeL"], o["n"])
    return metrics


# ----------------------------------------------------------------------------------------------
# Decoding


class CheckpointPredictor:
    """Maps encoded prompts to predictions with a checkpoint: batched and sharded over all devices.

    The mesh is ('data', 'model') over jax.devices() (``num_partitions`` = model-parallel size, 1 =
    pure data parallelism); parameters are sharded by their logical axes with the trainer's rules
    (replicated when ``num_partitions`` is 1), batches are split over 'data'. Every process builds
    the same global batch and contributes its own shards, so this also runs on multi-host pods.
    """

    def __init__(
        self,
        checkpoint: str | os.PathLike | None,
        *,
        vocab: Any = None,
        batch_size: int = 32,
        beam_size: int = 1,
        max_decode_length: int = 128,
        max_input_length: int = 1024,
        num_partitions: int = 1,
        params: Any = None,
        config: Any = None,
        dtype: Any = None,
        t5x_checkpoint: str | os.PathLike | None = None,
        model_config: str | None = None,
    ):
        import jax
        import numpy as np

        from snitk.models.model import EncoderDecoderModel
        from snitk.training.partitioning import Partitioner
        from snitk.vocab import get_vocabulary

        if hasattr(vocab, "encode"):
            self.vocab = vocab
        elif params is None and checkpoint is not None:  # the vocabulary stored with the checkpoint
            from snitk.vocab_identity import checkpoint_vocabulary

            self.vocab = checkpoint_vocabulary(checkpoint, vocab)
        else:
            self.vocab = get_vocabulary(vocab)
        # Parameters loaded here are placed on our mesh and batches sharded over it; parameters
        # handed in (the training hook) keep their placement and batches follow them.
        self._shard = params is None or t5x_checkpoint is not None
        self.partitioner = Partitioner(num_partitions=num_partitions)
        if t5x_checkpoint is not None:  # placed on our mesh like a snitk checkpoint
            from snitk.models.t5x_checkpoint import load_t5x_model

            config, params = load_t5x_model(t5x_checkpoint, config=model_config, dtype=dtype,
                                            partitioner=self.partitioner)
        elif params is None:
            from snitk.models.checkpoint import load_config, load_model, params_metadata

            if isinstance(dtype, str):
                dtype = jax.numpy.dtype(dtype)
            model = EncoderDecoderModel(load_config(checkpoint))
            specs = self.partitioner.param_specs(params_metadata(checkpoint), model.param_logical_axes())
            config, params = load_model(checkpoint, shardings=self.partitioner.to_shardings(specs), dtype=dtype)
            if hasattr(self.vocab, "base_size"):
                from snitk.vocab import check_model_vocab

                check_model_vocab(self.vocab.vocab_size, config.vocab_size, where=f"{checkpoint} with {self.vocab.path}")
        self.config = config
        self.model = EncoderDecoderModel(config)
        n_data = self.partitioner.axis_sizes["data"]
        self.batch_size = max(n_data, math.ceil(batch_size / n_data) * n_data)
        self.max_input_length = max_input_length
        self.max_decode_length = max_decode_length
        self.beam_size = beam_size
        self._data_sharding = self.partitioner.data_sharding
        self.params = params
        model = self.model
        steps = generated_tokens(max_decode_length)  # HF's max_length counts the decoder start token

        def _predict(p, x):
            return model.predict_batch(p, x, max_decode_length=steps, beam_size=beam_size)

        out_sharding = self.partitioner.replicated if self._shard else None
        self._fn = jax.jit(_predict, out_shardings=out_sharding) if out_sharding is not None else jax.jit(_predict)
        self._np = np
        self._jax = jax

    @property
    def process_index(self) -> int:
        return self._jax.process_index()

    def encode(self, prompt: str) -> list[int]:
        """Prompt ids truncated to max_input_length, EOS last."""
        ids = self.vocab.encode(prompt)[: self.max_input_length - 1]
        return ids + [self.vocab.eos_id]

    def _bucket(self, n: int) -> int:
        b = 32
        while b < n:
            b *= 2
        return min(b, self.max_input_length)

    def predict_ids(self, batch: Sequence[Sequence[int]]) -> list[str]:
        """Decode up to batch_size encoded prompts (padded to a fixed batch and a length bucket)."""
        np = self._np
        rows = len(batch)
        if rows > self.batch_size:
            raise ValueError(f"{rows} rows > batch size {self.batch_size}")
        length = self._bucket(max(len(x) for x in batch))
        arr = np.zeros((self.batch_size, length), np.int32)
        for i, ids in enumerate(batch):
            arr[i, : len(ids)] = ids
        arr[rows:, 0] = self.vocab.eos_id  # padding rows: a lone EOS
        if self._shard:
            x = self._jax.make_array_from_callback(arr.shape, self._data_sharding, lambda idx: arr[idx])
        else:
            x = arr
        out = np.asarray(self._jax.device_get(self._fn(self.params, x)))
        return [hf_decode(self.vocab, out[i].tolist()) for i in range(rows)]


def _read_partial(path: Path) -> dict[tuple[str, str], dict[str, Any]]:
    done: dict[tuple[str, str], dict[str, Any]] = {}
    if not path.exists():
        return done
    with path.open(encoding="utf-8") as f:
        for line in f:
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:  # a torn last line from a crash: decode it again
                continue
            done[(rec["Task"], rec["Instance"]["id"])] = rec
    return done


def decode_test_set(
    test_set: TestSet,
    predictor: Any,
    output_dir: str | os.PathLike,
    *,
    encoding: str = "def_pos2",
    run_info: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Decode every instance of `test_set` not yet in OUTPUT_DIR/predictions.partial.jsonl; return all records.

    `predictor` needs ``encode(prompt) -> ids``, ``predict_ids(list of ids) -> list[str]``,
    ``batch_size``, ``max_input_length`` and ``vocab``.
    """
    from tqdm import tqdm

    from snitk.prompts import render

    writer = getattr(predictor, "process_index", 0) == 0  # multi-host: process 0 writes (shared output dir)
    out = resolve(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    partial = out / PARTIAL
    info_path = out / RUN_INFO
    same = False
    if run_info is not None:
        old = json.loads(info_path.read_text()) if info_path.exists() else None
        same = old == run_info
        if partial.exists() and old is not None and not same:
            raise ConfigError(
                f"{partial}: unfinished evaluation with different settings ({old} != {run_info}); "
                "use another --output-dir or delete the partial file"
            )
        if writer:
            write_json(info_path, run_info)
    done = _read_partial(out / "predictions.jsonl") if same else {}  # a finished run with these settings
    done.update(_read_partial(partial))
    items = [(t, inst) for t in test_set.tasks for inst in t.instances]
    todo = [(t, inst) for t, inst in items if (t.name, inst.id) not in done]
    if done:
        log.info("resuming: %d of %d instances already decoded", len(items) - len(todo), len(items))
    if todo:
        encoded = []
        for t, inst in tqdm(todo, desc="prompts", unit="inst", disable=len(todo) < 500):
            prompt = render(t, inst, encoding, token_budget=predictor.max_input_length, vocab=predictor.vocab)
            encoded.append(predictor.encode(prompt))
        order = sorted(range(len(todo)), key=lambda i: -len(encoded[i]))
        bs = predictor.batch_size
        with open_append(partial) if writer else open(os.devnull, "a", encoding="utf-8") as f:
            for start in tqdm(range(0, len(order), bs), desc="decode", unit="batch", disable=not writer):
                idx = order[start : start + bs]
                preds = predictor.predict_ids([encoded[i] for i in idx])
                for i, pred in zip(idx, preds):
                    t, inst = todo[i]
                    rec = make_record(t, inst, pred)
                    done[(t.name, inst.id)] = rec
                    f.write(json.dumps(rec, ensure_ascii=False) + "\n")
                f.flush()  # durable: fsync locally, one atomic rewrite on object stores
    return [done[(t.name, inst.id)] for t, inst in items]


def evaluate(
    checkpoint: str | os.PathLike,
    track: str,
    output_dir: str | os.PathLike,
    *,
    encoding: str = "def_pos2",
    data_dir: str | os.PathLike | None = None,
    vocab: str | None = None,
    allow_vocab_mismatch: bool = False,
    batch_size: int = 32,
    beam_size: int = 1,
    max_decode_length: int = 128,
    max_input_length: int = 1024,
    allow_missing_tasks: bool = False,
    max_tasks: int | None = None,
    max_per_task: int = OFFICIAL_PER_TASK,
    gpt2_bpe: str | None = None,
    dtype: str | None = None,
    num_partitions: int = 1,
    predictor: Any = None,
    n_resamples: int = 1000,
    bootstrap_seed: int = 0,
    model_config: str | None = None,
) -> dict[str, Any]:
    """Decode the test split of `track` from `checkpoint`, write the outputs, return metrics.json's contents.

    `checkpoint` is a checkpoint dir or a MODEL_DIR (its latest checkpoint); `dtype` casts the
    parameters while loading (e.g. "bfloat16"); `num_partitions` > 1 shards the parameters
    model-parallel (the trainer's logical axis rules); `predictor` replaces the checkpoint (tests);
    `n_resamples` / `bootstrap_seed` set the 95% intervals (0 resamples: none).
    A T5X checkpoint (or t5x MODEL_DIR) is read directly; its model config is `model_config` (preset
    name, JSON or gin file), else the config.gin t5x wrote beside it.
    Multi-host: every process runs this with the same arguments and a shared output dir.

    The checkpoint is decoded with the vocabulary stored with it (`vocab` must be the same file unless
    `allow_vocab_mismatch`); `max_decode_length` is HF's max_length (max_length - 1 generated tokens)
    and predictions are post-processed as run_s2s.py does (`snitk.eval.postprocess`).
    """
    check_track(track)
    if track == "xlingual":  # fail before decoding when the metric's GPT-2 ranks are unavailable
        from snitk.eval.tokenizers import get_gpt2_tokenizer

        get_gpt2_tokenizer(gpt2_bpe)
    test_set = load_test_set(track, data_dir, max_per_task=max_per_task, max_tasks=max_tasks, allow_missing_tasks=allow_missing_tasks)
    if not test_set.tasks:
        raise DataError(test_set.data_dir, f"splits/{track}/test_tasks.txt", "at least one available test task")
    if predictor is None and vocab is not None and allow_vocab_mismatch:  # decode with it anyway (logged)
        from snitk.vocab_identity import checkpoint_vocabulary

        vocab = checkpoint_vocabulary(checkpoint, vocab, allow_mismatch=True)
    if predictor is None:
        from snitk.models.checkpoint import resolve_checkpoint
        from snitk.models.t5x_checkpoint import find_t5x_checkpoint

        t5x_dir = find_t5x_checkpoint(checkpoint)
        checkpoint = t5x_dir or resolve_checkpoint(checkpoint)
        predictor = CheckpointPredictor(
            None if t5x_dir else checkpoint, vocab=vocab, batch_size=batch_size, beam_size=beam_size,
            max_decode_length=max_decode_length, max_input_length=max_input_length, dtype=dtype,
            num_partitions=num_partitions, t5x_checkpoint=t5x_dir, model_config=model_config,
        )
    settings = {
        "checkpoint": str(checkpoint), "track": track, "encoding": encoding, "data_dir": str(test_set.data_dir),
        "vocab": str(getattr(predictor.vocab, "path", vocab)), "beam_size": beam_size,
        "max_decode_length": max_decode_length, "max_input_length": max_input_length,
        "max_tasks": max_tasks, "max_per_task": max_per_task, "dtype": dtype,
    }
    records = decode_test_set(test_set, predictor, output_dir, encoding=encoding, run_info=settings)
    if getattr(predictor, "process_index", 0) != 0:
        return score_records(records, track, data_dir=test_set.data_dir, gpt2_bpe=gpt2_bpe)
    metrics = write_outputs(
        output_dir, records, track, data_dir=test_set.data_dir, gpt2_bpe=gpt2_bpe,
        title=f"{Path(str(checkpoint)).name} — {track} track, {encoding}",
        extra={"settings": settings, "missing_tasks": test_set.missing, "num_missing_tasks": len(test_set.missing)},
        n_resamples=n_resamples, bootstrap_seed=bootstrap_seed,
    )
    (resolve(output_dir) / PARTIAL).unlink(missing_ok=True)
    return metrics


def iter_items(test_set: TestSet) -> Iterable[tuple[Any, Any]]:
    """(task, instance) pairs of a test set in canonical order."""
    for t in test_set.tasks:
        for inst in t.instances:
            yield t, inst

