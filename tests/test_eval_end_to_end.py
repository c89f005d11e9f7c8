"""The evaluator end to end: resume after an interruption, and a tiny random checkpoint on the demo corpus."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from snitk.eval.evaluate import PARTIAL, evaluate
from test_eval_scoring import write_splits, write_task


class WordVocab:
    """A stand-in vocabulary: one id per whitespace word (enough for prompt budgeting)."""

    eos_id = 1
    pad_id = 0
    path = "word-vocab"

    def __init__(self) -> None:
        self.words: dict[str, int] = {}
        self.inv: dict[int, str] = {}

    def encode(self, text: str) -> list[int]:
        out = []
        for w in text.split():
            if w not in self.words:
                self.words[w] = len(self.words) + 3
                self.inv[self.words[w]] = w
            out.append(self.words[w])
        return out

    def decode(self, ids) -> str:
        return " ".join(self.inv[i] for i in ids if i in self.inv)


class EchoPredictor:
    """Predicts the last word of the instance input; raises after `fail_after` batches (an interruption)."""

    def __init__(self, fail_after: int | None = None, batch_size: int = 4):
        self.vocab = WordVocab()
        self.batch_size = batch_size
        self.max_input_length = 256
        self.fail_after = fail_after
        self.batches = 0
        self.decoded = 0

    def encode(self, prompt: str) -> list[int]:
        return self.vocab.encode(prompt)[: self.max_input_length - 1] + [1]

    def predict_ids(self, batch):
        if self.fail_after is not None and self.batches >= self.fail_after:
            raise KeyboardInterrupt("simulated interruption")
        self.batches += 1
        self.decoded += len(batch)
        # the prompt ends "... Input: <input>. Output:" -> the input's last word sits before "Output:"
        return [self.vocab.decode([ids[-3]]).rstrip(".") for ids in batch]


@pytest.fixture()
def corpus(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    write_task(root, "task1_echo", "Data to Text", [(f"task1-{i}", f"say word{i}", [f"word{i}"]) for i in range(7)])
    write_task(root, "task2_echo", "Textual Entailment", [(f"task2-{i}", f"label yes{i % 2}", [f"yes{i % 2}"]) for i in range(6)])
    write_splits(root, "default", ["task1_echo", "task2_echo"], [])
    return root


def test_interrupted_evaluation_resumes_without_redecoding(corpus: Path, tmp_path: Path):
    out = tmp_path / "out"
    first = EchoPredictor(fail_after=2, batch_size=4)
    with pytest.raises(KeyboardInterrupt):
        evaluate("fake-ckpt", "default", out, data_dir=corpus, predictor=first, encoding="def")
    partial = out / PARTIAL
    assert len(partial.read_text().splitlines()) == 8 == first.decoded
    assert not (out / "metrics.json").exists()
    with open(partial, "a") as f:  # a torn line from a crash mid-write
        f.write('{"Task": "task1_ec')

    second = EchoPredictor(fail_after=1, batch_size=4)  # interrupted again, right after the torn line
    with pytest.raises(KeyboardInterrupt):
        evaluate("fake-ckpt", "default", out, data_dir=corpus, predictor=second, encoding="def")
    assert second.decoded == 4

    third = EchoPredictor(batch_size=4)
    metrics = evaluate("fake-ckpt", "default", out, data_dir=corpus, predictor=third, encoding="def")
    assert third.decoded == 13 - 8 - 4
    assert not partial.exists()
    rows = [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]
    assert [r["id"] for r in rows] == [f"task1-{i}" for i in range(7)] + [f"task2-{i}" for i in range(6)]
    assert all(r["prediction"] == r["Instance"]["output"][0] for r in rows)
    assert metrics["overall"].pop("ci95")["rougeL"] == [100.0, 100.0]  # every instance right: no spread
    assert metrics["overall"] == {"exact_match": 100.0, "rouge1": 100.0, "rougeL": 100.0, "n": 13}
    assert metrics["per_category"]["Textual Entailment"]["metric"] == "exact_match"

    # a finished evaluation rerun with the same settings decodes nothing
    fourth = EchoPredictor(batch_size=4)
    evaluate("fake-ckpt", "default", out, data_dir=corpus, predictor=fourth, encoding="def")
    assert fourth.decoded == 0
    # different settings on an unfinished run are refused
    with pytest.raises(KeyboardInterrupt):
        evaluate("fake-ckpt", "default", tmp_path / "o2", data_dir=corpus, predictor=EchoPredictor(fail_after=1), encoding="def")
    from snitk.errors import ConfigError

    with pytest.raises(ConfigError, match="different settings"):
        evaluate("fake-ckpt", "default", tmp_path / "o2", data_dir=corpus, predictor=EchoPredictor(), encoding="def_pos2")


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory):
    """(checkpoint dir, config, params) of a tiny random T5 on the demo vocabulary."""
    return _tiny_checkpoint(tmp_path_factory.mktemp("tiny"))


def _tiny_checkpoint(tmp_path: Path):
    import jax
    import numpy as np

    from snitk.models.checkpoint import save_model
    from snitk.models.configs import get_preset
    from snitk.models.model import EncoderDecoderModel
    from snitk.vocab import get_vocabulary

    vocab = get_vocabulary()
    config = get_preset("t5_1_1_tiny").replace(
        vocab_size=vocab.vocab_size, emb_dim=32, num_heads=2, head_dim=8, mlp_dim=64,
        num_encoder_layers=1, num_decoder_layers=1,
    )
    # random weights with the model's own parameter shapes (faster than init_params' compile)
    rng = np.random.default_rng(0)
    abstract = EncoderDecoderModel(config).abstract_params()
    params = jax.tree.map(lambda s: (rng.standard_normal(s.shape) * 0.5).astype(s.dtype), abstract)
    ckpt = tmp_path / "ckpt"
    save_model(ckpt, config, params)
    return ckpt, config, params


def _demo_corpus(repo_root: Path) -> Path:
    tasks = repo_root / "tasks"
    if not (tasks / "splits" / "default" / "test_tasks.txt").exists():
        pytest.fail("the bundled demo corpus tasks/ is missing (regenerate: python -m snitk.demo.generate --out tasks)")
    return tasks


def test_tiny_checkpoint_on_demo_corpus(repo_root: Path, tmp_path: Path, tiny_checkpoint):
    from snitk.eval.__main__ import main

    data = _demo_corpus(repo_root)
    ckpt, _, _ = tiny_checkpoint
    out = tmp_path / "eval"
    rc = main([
        "--checkpoint", str(ckpt), "--track", "default", "--data-dir", str(data), "--output-dir", str(out),
        "--max-tasks", "2", "--max-per-task", "3", "--batch-size", "8", "--max-decode-length", "6",
        "--max-input-length", "128", "--num-partitions", "2",  # (4 data x 2 model) mesh over 8 CPU devices
    ])
    assert rc == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["overall"]["n"] == 6 and metrics["num_tasks"] == 2
    for key in ("exact_match", "rouge1", "rougeL"):
        assert 0.0 <= metrics["overall"][key] <= 100.0
    rows = [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]
    assert len(rows) == 6 and all(isinstance(r["prediction"], str) for r in rows)
    assert "## Per category" in (out / "report.md").read_text()
    assert not (out / PARTIAL).exists()

    # batching and the data/model-parallel split over 8 devices do not change any prediction:
    # decode every prompt alone, unsharded, and compare
    import numpy as np

    from snitk.models.model import EncoderDecoderModel
    from snitk.natinst.corpus import Corpus
    from snitk.prompts import render
    from snitk.eval.postprocess import hf_decode
    from snitk.vocab import get_vocabulary

    vocab = get_vocabulary()
    _, config, params = tiny_checkpoint
    model = EncoderDecoderModel(config)
    tasks = {t.name: t for t in Corpus(data, "default").test_tasks(max_per_task=3)}
    for r in rows:
        task = tasks[r["Task"]]
        inst = next(i for i in task.instances if i.id == r["id"])
        ids = vocab.encode(render(task, inst, "def_pos2", token_budget=128, vocab=vocab))[:127] + [vocab.eos_id]
        row = np.zeros((1, 128), np.int32)  # one shape -> one compilation
        row[0, : len(ids)] = ids
        alone = model.predict_batch(params, row, max_decode_length=5)  # HF max_length 6: 5 generated tokens
        assert hf_decode(vocab, np.asarray(alone)[0].tolist()) == r["prediction"]


def test_training_hook_on_demo_corpus(repo_root: Path, tmp_path: Path, tiny_checkpoint):
    from snitk.eval.hook import make_eval_hook

    data = _demo_corpus(repo_root)
    _, config, params = tiny_checkpoint
    hook = make_eval_hook("default", data, None, num_tasks=2, per_task=2, config=config,
                          max_decode_length=4, max_input_length=96, batch_size=8, output_dir=tmp_path / "hook")
    out = hook(params, 10)
    assert set(out) == {"eval/rougeL", "eval/rouge1", "eval/exact_match"}
    assert all(0.0 <= v <= 100.0 for v in out.values())
    assert (tmp_path / "hook" / "step_10" / "metrics.json").exists()
    assert hook(config, params, 20) == out  # same params -> same predictions


def test_training_hook_from_gin(repo_root: Path, tmp_path: Path, tiny_checkpoint):
    """`train.eval_hook = @snitk.eval.eval_hook()`: the hook takes the model config from the gin `model` binding."""
    import gin

    import snitk.eval.hook  # noqa: F401  (registers snitk.eval.eval_hook)
    import snitk.training.config  # noqa: F401  (registers snitk.training.model)

    data = _demo_corpus(repo_root)
    _, config, params = tiny_checkpoint
    gin.clear_config()
    try:
        gin.parse_config(f"""
snitk.training.model.preset = 't5_1_1_tiny'
snitk.training.model.overrides = {{'emb_dim': 32, 'num_heads': 2, 'head_dim': 8, 'mlp_dim': 64,
                                   'num_encoder_layers': 1, 'num_decoder_layers': 1}}
snitk.eval.eval_hook.data_dir = '{data}'
snitk.eval.eval_hook.num_tasks = 1
snitk.eval.eval_hook.per_task = 2
snitk.eval.eval_hook.max_decode_length = 4
snitk.eval.eval_hook.max_input_length = 96
""")
        hook = gin.get_configurable("snitk.eval.eval_hook")()
        out = hook(params, 5)
    finally:
        gin.clear_config()
    assert hook.config == config  # vocabulary size taken from the parameters
    assert set(out) == {"eval/rougeL", "eval/rouge1", "eval/exact_match"}
