"""A small-subset evaluation hook for the trainer: decode a few test tasks, return official metrics.

    hook = make_eval_hook("default", data_dir, vocab, num_tasks=8, per_task=10, config=model_config)
    hook(params, step)          # -> {"eval/rougeL": ..., "eval/exact_match": ..., "eval/rouge1": ...}

The trainer calls ``hook(params, step)``; bind the model config with ``config=`` or
``hook.bind_config(config)`` (or call ``hook(model_or_config, params, step)``); without either, the
config comes from the active gin training configuration (``model`` configurable, vocabulary size
read off the parameters). Test tasks and prompts are loaded once; decoding compiles once per config.

gin (t5x style)::

    import snitk.eval.hook
    train.eval_hook = @snitk.eval.eval_hook()
    train.eval_period = 200
    snitk.eval.eval_hook.track = 'default'
    snitk.eval.eval_hook.num_tasks = 8
    snitk.eval.eval_hook.per_task = 10
"""

from __future__ import annotations

import logging
import os
from typing import Any

from snitk.paths import resolve

log = logging.getLogger(__name__)


class EvalHook:
    """Callable ``(params, step)`` or ``(model_or_config, params, step)`` -> {"eval/<metric>": value}."""

    def __init__(
        self,
        track: str = "default",
        data_dir: str | os.PathLike | None = None,
        vocab: Any = None,
        *,
        num_tasks: int = 8,
        per_task: int = 10,
        encoding: str = "def_pos2",
        config: Any = None,
        batch_size: int = 32,
        max_decode_length: int = 64,
        max_input_length: int = 512,
        gpt2_bpe: str | None = None,
        output_dir: str | os.PathLike | None = None,
    ):
        from snitk.eval.evaluate import check_track

        self.track = check_track(track)
        self.data_dir = data_dir
        self.vocab = vocab
        self.num_tasks = num_tasks
        self.per_task = per_task
        self.encoding = encoding
        self.config = config
        self.batch_size = batch_size
        self.max_decode_length = max_decode_length
        self.max_input_length = max_input_length
        self.gpt2_bpe = gpt2_bpe
        self.output_dir = resolve(output_dir) if output_dir else None
        self._items: list[tuple[Any, Any, list[int]]] | None = None
        self._predictor: Any = None
        self._predictor_config: Any = None

    def bind_config(self, config: Any) -> "EvalHook":
        """Bind the model config (a trainer may call this before the first ``hook(params, step)``)."""
        self.config = getattr(config, "config", config)
        return self

    def _prepare(self, config: Any, params: Any) -> Any:
        from snitk.eval.evaluate import CheckpointPredictor, load_test_set
        from snitk.prompts import render

        if self._predictor is None or self._predictor_config != config:
            self._predictor = CheckpointPredictor(
                None, vocab=self.vocab, batch_size=self.batch_size, max_decode_length=self.max_decode_length,
                max_input_length=self.max_input_length, params=params, config=config,
            )
            self._predictor_config = config
            self._items = None
        self._predictor.params = params
        if self._items is None:
            test = load_test_set(self.track, self.data_dir, max_per_task=self.per_task, max_tasks=self.num_tasks, allow_missing_tasks=True)
            p = self._predictor
            self._items = [
                (t, inst, p.encode(render(t, inst, self.encoding, token_budget=p.max_input_length, vocab=p.vocab)))
                for t in test.tasks for inst in t.instances
            ]
        return self._predictor

    def __call__(self, *args: Any) -> dict[str, float]:
        if len(args) == 3:
            model_or_config, params, step = args
            config = getattr(model_or_config, "config", model_or_config)
        elif len(args) == 2:
            params, step = args
            if self.config is None:
                self.config = _config_from_gin(params)
            config = self.config
        else:
            raise TypeError("call the hook as hook(params, step) or hook(model_or_config, params, step)")
        from snitk.atomic import write_json, write_jsonl
        from snitk.eval.evaluate import make_record, score_records

        predictor = self._prepare(config, params)
        assert self._items is not None
        bs = predictor.batch_size
        records = []
        for start in range(0, len(self._items), bs):
            chunk = self._items[start : start + bs]
            preds = predictor.predict_ids([ids for _, _, ids in chunk])
            records += [make_record(t, inst, pred) for (t, inst, _), pred in zip(chunk, preds)]
        metrics = score_records(records, self.track, data_dir=self.data_dir, gpt2_bpe=self.gpt2_bpe, num_workers=1)
        o = metrics["overall"]
        out = {f"eval/{k}": float(o[k]) for k in ("rougeL", "rouge1", "exact_match")}
        log.info("step %s eval (%d instances): %s", step, o["n"], out)
        if self.output_dir is not None:
            d = self.output_dir / f"step_{int(step)}"
            write_jsonl(d / "predictions.jsonl", records)
            write_json(d / "metrics.json", metrics)
        return out


def _config_from_gin(params: Any) -> Any:
    """The model config of the current gin training configuration, vocab size read off the params."""
    try:
        from snitk.training import config as C

        cfg, _ = C.model_config()
        vocab = params["token_embedder"]["embedding"].shape[0]
        return cfg.replace(vocab_size=int(vocab)) if cfg.vocab_size != vocab else cfg
    except Exception as exc:  # no gin model configuration in scope
        raise TypeError(
            "the eval hook needs the model config: make_eval_hook(..., config=T5Config), hook.bind_config(config), "
            f"or call hook(model_or_config, params, step) (could not take it from gin: {exc})"
        ) from exc


def make_eval_hook(
    track: str = "default",
    data_dir: str | os.PathLike | None = None,
    vocab: Any = None,
    *,
    num_tasks: int = 8,
    per_task: int = 10,
    encoding: str = "def_pos2",
    config: Any = None,
    **kw: Any,
) -> EvalHook:
    """Build the trainer's evaluation hook (see the module docstring); `config` binds the model config."""
    return EvalHook(track, data_dir, vocab, num_tasks=num_tasks, per_task=per_task, encoding=encoding, config=config, **kw)


try:  # gin: `import snitk.eval.hook` then `train.eval_hook = @snitk.eval.eval_hook()`
    import gin

    gin.configurable("eval_hook", module="snitk.eval")(make_eval_hook)
except ImportError:  # pragma: no cover - gin is a dependency, but the hook works without it
    pass
