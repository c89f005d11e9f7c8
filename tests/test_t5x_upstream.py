"""snitk from upstream t5x: the task vocabulary t5x compares, `configs/t5x/*.gin` in real `t5x.train` /
`t5x.eval`, and `python -m snitk.eval` on the checkpoints t5x writes.

The integration tests install upstream t5x from ../shared/upstream (`install_t5x.sh`) into a virtual
environment of their own, layered over the running one (cached under $SNITK_CACHE or ~/.cache/snitk), and
run t5x as subprocesses from the repository root, exactly as the README's "Using snitk from t5x" shows.
One t5x training run is shared by all of them (file-locked, so pytest-xdist workers share it too).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import math
import os
import re
import shutil
import site
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest

from conftest import REPO, require_shared, t5x_fixture_examples

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import seqio  # noqa: E402

import snitk.tasks as T  # noqa: E402
from snitk.vocab import DEMO_VOCAB, Vocabulary  # noqa: E402

TINY = "t5x/examples/t5/t5_1_1/tiny.gin"
# Small enough for 2 CPU cores: 3 demo steps, then 2 fine-tuning steps from that checkpoint.
# RANDOM_SEED: t5x's default (None) draws a new seed per run.
SMALL = ["--gin.BATCH_SIZE=8", "--gin.TASK_FEATURE_LENGTHS={'inputs': 128, 'targets': 32}", "--gin.RANDOM_SEED=0"]
DEMO_STEPS, FINETUNE_STEPS = 3, 5


# --------------------------------------------------------------------------------------------------
# The vocabulary t5x compares (no t5x needed)
# --------------------------------------------------------------------------------------------------
def test_task_vocabulary_equals_the_vocabulary_a_t5x_model_gin_builds(monkeypatch):
    monkeypatch.setenv("SNITK_VOCAB", str(DEMO_VOCAB))
    deferred = T._DeferredVocabulary()
    model_vocab = seqio.SentencePieceVocabulary(str(DEMO_VOCAB), extra_ids=100)  # t5x's VOCABULARY
    assert deferred == model_vocab and model_vocab == deferred
    assert deferred == T.vocabulary() and T.vocabulary() == deferred
    assert deferred != seqio.SentencePieceVocabulary(str(DEMO_VOCAB), extra_ids=0)
    assert deferred.vocab_size == model_vocab.vocab_size
    text = "Input: red fox <extra_id_0>"
    assert deferred.encode(text) == model_vocab.encode(text)
    import copy
    import pickle

    for clone in (copy.deepcopy(deferred), pickle.loads(pickle.dumps(deferred))):  # gin deep-copies arguments
        assert clone == model_vocab and clone.encode(text) == model_vocab.encode(text)


def test_registered_tasks_carry_the_equal_vocabulary():
    task = seqio.get_mixture_or_task("snitk_default_def_pos2")
    resolved = T.vocabulary()
    plain = seqio.SentencePieceVocabulary(resolved.sentencepiece_model_file, extra_ids=resolved.extra_ids)
    for feature in ("inputs", "targets"):
        assert task.output_features[feature].vocabulary == plain


def test_task_vocabulary_takes_file_and_extra_ids_from_vocabulary(monkeypatch):
    # mT5's file holds its extra ids as pieces: configs/t5x/mtk_instruct_xlingual.gin binds extra_ids = 0.
    url = "gs://t5-data/vocabs/mc4.250000.100extra/sentencepiece.model"
    monkeypatch.setattr(T, "vocabulary", lambda: seqio.SentencePieceVocabulary(url, extra_ids=0))
    deferred = T._DeferredVocabulary()
    assert deferred == seqio.SentencePieceVocabulary(url, extra_ids=0)
    assert deferred != seqio.SentencePieceVocabulary(url, extra_ids=100)
    assert deferred.sentencepiece_model_file == url and deferred.extra_ids == 0


T5X_VOCABS = {  # what the non-demo configs must give, in t5x's own terms
    "tk_instruct_default.gin": ("gs://t5-data/vocabs/cc_all.32000/sentencepiece.model", 100),
    "mtk_instruct_xlingual.gin": ("gs://t5-data/vocabs/mc4.250000.100extra/sentencepiece.model", 0),  # = mt5/base.gin's
}


@pytest.mark.parametrize("name", sorted(T5X_VOCABS))
def test_t5x_configs_name_one_vocabulary_for_tasks_and_model(name):
    import gin

    try:
        gin.parse_config_file(str(REPO / "configs" / "t5x" / name), skip_unknown=True)
        assert gin.query_parameter("%DROPOUT_RATE") == 0.1  # required by t5x's model files; finetune.gin's value
        assert gin.query_parameter("%MIXTURE_OR_TASK_NAME").endswith("_def_pos2_len1024")  # official truncation
        assert gin.query_parameter("%VOCABULARY").selector == "snitk.tasks.vocabulary"
        url, extra_ids = T5X_VOCABS[name]
        expected = seqio.SentencePieceVocabulary(url, extra_ids=extra_ids)
        assert T.vocabulary() == expected  # the model's VOCABULARY (gs:// files are opened lazily)
        assert T._DeferredVocabulary() == expected  # the tasks'
    finally:
        gin.clear_config()


# --------------------------------------------------------------------------------------------------
# snitk reads T5X checkpoints directly (the fixture t5x wrote; no t5x needed)
# --------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_fixture() -> Path:
    return require_shared("t5x-tiny-checkpoint")


def test_t5x_checkpoint_detection(tiny_fixture, tmp_path):
    from snitk.models.t5x_checkpoint import find_t5x_checkpoint

    for layout in ("legacy", "orbax"):
        step = tiny_fixture / layout / "checkpoint_2000"
        assert find_t5x_checkpoint(step) == step
        assert find_t5x_checkpoint(tiny_fixture / layout) == step  # a t5x MODEL_DIR: its latest checkpoint
    assert find_t5x_checkpoint(tiny_fixture) is None
    assert find_t5x_checkpoint(tmp_path / "missing") is None
    (tmp_path / "checkpoint_5" / "params").mkdir(parents=True)  # not a T5X layout
    assert find_t5x_checkpoint(tmp_path) is None


@pytest.mark.parametrize("layout", ["legacy", "orbax"])
def test_eval_predictor_reproduces_t5x_greedy_decodes(tiny_fixture, layout):
    from snitk.eval.evaluate import CheckpointPredictor
    from snitk.models.t5x_checkpoint import find_t5x_checkpoint

    rows = t5x_fixture_examples(tiny_fixture)
    predictor = CheckpointPredictor(
        None, t5x_checkpoint=find_t5x_checkpoint(tiny_fixture / layout), batch_size=len(rows),
        vocab=Vocabulary(tiny_fixture / "spm.model", extra_ids=0),
        max_decode_length=13,  # HF's max_length counts the start token: 12 decode positions, as t5x decoded
    )
    assert predictor.config.num_decoder_layers == 3  # from the config.gin t5x wrote beside the checkpoint
    assert predictor.predict_ids([r["input_ids"] for r in rows]) == [r["greedy_text"] for r in rows]


def test_eval_predictor_names_a_mismatching_model_config(tiny_fixture):
    from snitk.errors import CheckpointError
    from snitk.eval.evaluate import CheckpointPredictor

    with pytest.raises(CheckpointError, match="checkpoint_2000: parameters"):
        CheckpointPredictor(None, t5x_checkpoint=tiny_fixture / "legacy" / "checkpoint_2000",
                            model_config="t5_1_1_small", vocab=Vocabulary(tiny_fixture / "spm.model", extra_ids=0))


# --------------------------------------------------------------------------------------------------
# Upstream t5x, installed from ../shared/upstream
# --------------------------------------------------------------------------------------------------
@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _run(cmd: list[str], env: dict[str, str], what: str) -> str:
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"{what} failed (exit {proc.returncode}):\n{' '.join(cmd)}\n...{out[-4000:]}"
    return out


@pytest.fixture(scope="session")
def t5x_python() -> Path:
    """A Python with upstream t5x installed (over this environment's packages); installed once per machine."""
    upstream = require_shared("upstream")
    script = upstream / "install_t5x.sh"
    key = hashlib.sha256(script.read_bytes() + sys.prefix.encode()
                         + b"".join(str(p.stat().st_size).encode() for p in sorted(upstream.glob("*.tar.gz"))))
    root = Path(os.environ.get("SNITK_CACHE", Path.home() / ".cache" / "snitk")) / "t5x-upstream" / key.hexdigest()[:16]
    python = root / "venv" / "bin" / "python"
    with _locked(root.parent / f"{root.name}.lock"):
        if not (root / "installed").exists():
            subprocess.run([sys.executable, "-m", "venv", "--clear", "--without-pip", str(root / "venv")], check=True)
            child_site = subprocess.run([str(python), "-c", "import site; print(site.getsitepackages()[0])"],
                                        check=True, capture_output=True, text=True).stdout.strip()
            # the new environment sees this one's packages (jax, seqio, pip, snitk, ...) behind its own
            parents = [p for p in site.getsitepackages() if Path(p).is_dir()]
            Path(child_site, "_snitk_parent_env.pth").write_text(
                "".join(f"import site; site.addsitedir({p!r})\n" for p in parents))
            env = {**os.environ, "PATH": f"{python.parent}{os.pathsep}{os.environ['PATH']}"}
            env.pop("PYTHONPATH", None)
            proc = subprocess.run(["bash", str(script), str(root / "src")], env=env, capture_output=True, text=True,
                                  timeout=900)
            assert proc.returncode == 0, f"{script} failed:\n{(proc.stdout + proc.stderr)[-4000:]}"
            (root / "installed").write_text("ok\n")
    return python


@pytest.fixture(scope="session")
def run_env() -> dict[str, str]:
    """Subprocess environment: this checkout's snitk first, one CPU device, quiet TensorFlow."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "JAX_PLATFORMS": "cpu", "TF_CPP_MIN_LOG_LEVEL": "3"}
    env.pop("XLA_FLAGS", None)  # the test-suite's 8 virtual devices would split t5x's tiny batches
    env.pop("SNITK_VOCAB", None)
    env.pop("SNITK_DATA_DIR", None)
    return env


@pytest.fixture(scope="session")
def shared_runs(tmp_path_factory) -> Path:
    """A folder that all pytest-xdist workers of this session share (t5x runs happen once)."""
    base = tmp_path_factory.getbasetemp()
    return (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "t5x_runs"


def _once(folder: Path, make) -> Path:
    with _locked(folder.parent / f"{folder.name}.lock"):
        if not (folder / "done").exists():
            shutil.rmtree(folder, ignore_errors=True)  # a failed earlier attempt must not be resumed
            folder.mkdir(parents=True)
            log = make(folder)
            (folder / "run.log").write_text(log)
            (folder / "done").write_text("ok\n")
    return folder


def demo_train_cmd(python: Path, model_dir: Path) -> list[str]:
    """README: t5x.train with configs/t5x/demo.gin (a few steps, small batch)."""
    return [str(python), "-m", "t5x.train", f"--gin_file={TINY}", "--gin_file=t5x/configs/runs/pretrain.gin",
            "--gin_file=configs/t5x/demo.gin", f"--gin.MODEL_DIR='{model_dir}'", f"--gin.TRAIN_STEPS={DEMO_STEPS}",
            *SMALL]


@pytest.fixture(scope="session")
def demo_run(t5x_python, run_env, shared_runs) -> Path:
    return _once(shared_runs / "demo", lambda d: _run(demo_train_cmd(t5x_python, d / "model"), run_env, "t5x.train demo.gin"))


@pytest.fixture(scope="session")
def finetune_run(t5x_python, run_env, shared_runs, demo_run) -> Path:
    init = demo_run / "model" / f"checkpoint_{DEMO_STEPS}"

    def make(d: Path) -> str:
        cmd = [str(t5x_python), "-m", "t5x.train", f"--gin_file={TINY}", "--gin_file=t5x/configs/runs/finetune.gin",
               "--gin_file=configs/t5x/tk_instruct_default.gin", f"--gin.MODEL_DIR='{d / 'model'}'",
               f"--gin.INITIAL_CHECKPOINT_PATH='{init}'", f"--gin.TRAIN_STEPS={FINETUNE_STEPS}",
               "--gin.snitk.tasks.vocabulary.spec=None",  # the demo vocabulary, for the demo model
               "--gin.network.T5Config.vocab_size=3200",  # the demo checkpoint's embedding
               "--gin.EVALUATOR_NUM_EXAMPLES=8", "--gin.EVAL_STEPS=2", *SMALL]
        return _run(cmd, run_env, "t5x.train tk_instruct_default.gin")

    return _once(shared_runs / "finetune", make)


def _target_params(ckpt: Path) -> dict[str, np.ndarray]:
    from snitk.models.convert.t5x import read_t5x_params

    return {n: a.load() for n, a in read_t5x_params(ckpt).items()}


def test_t5x_train_with_demo_gin(demo_run):
    model = demo_run / "model"
    assert (model / f"checkpoint_{DEMO_STEPS}" / "state" / "_METADATA").is_file()
    config = (model / "config.gin").read_text()
    assert "MIXTURE_OR_TASK_NAME = 'snitk_default_def_pos2'" in config and "DROPOUT_RATE = 0.0" in config
    losses = re.findall(r"collection=training_eval/snitk_default_def_pos2 .*?\bloss=([-\d.e+]+)",
                        (demo_run / "run.log").read_text())
    assert losses and all(math.isfinite(float(x)) for x in losses)  # t5x evaluated on our validation split


def test_t5x_finetunes_from_a_t5x_checkpoint_with_tk_instruct_gin(demo_run, finetune_run):
    model = finetune_run / "model"
    start = _target_params(demo_run / "model" / f"checkpoint_{DEMO_STEPS}")
    restored = _target_params(model / f"checkpoint_{DEMO_STEPS}")  # t5x re-saves the step it restored
    final = _target_params(model / f"checkpoint_{FINETUNE_STEPS}")
    assert set(start) == set(final)
    assert all(np.array_equal(start[n], restored[n]) for n in start)
    assert any(not np.array_equal(start[n], final[n]) for n in start)
    # t5x's inference evaluator decoded our validation split and scored it with the task's metric
    rows = [json.loads(x) for x in next((model / "inference_eval").glob("*-metrics.jsonl")).read_text().splitlines()]
    assert rows and {"rougeL", "exact_match"} <= set(rows[-1])


def test_t5x_eval_on_the_validation_split(t5x_python, run_env, finetune_run, tmp_path):
    ckpt = finetune_run / "model" / f"checkpoint_{FINETUNE_STEPS}"
    cmd = [str(t5x_python), "-m", "t5x.eval", f"--gin_file={TINY}", "--gin_file=t5x/configs/runs/eval.gin",
           "--gin_file=configs/t5x/demo.gin", f"--gin.CHECKPOINT_PATH='{ckpt}'", f"--gin.EVAL_OUTPUT_DIR='{tmp_path}'",
           "--gin.utils.DatasetConfig.split='validation'", "--gin.utils.DatasetConfig.batch_size=8",
           "--gin.seqio.Evaluator.num_examples=16"]
    _run(cmd, run_env, "t5x.eval")
    (preds,) = (tmp_path / "inference_eval").glob(f"snitk_default_def_pos2-{FINETUNE_STEPS:06d}.jsonl")
    rows = [json.loads(x) for x in preds.read_text().splitlines()]
    assert len(rows) == 16
    validation = {e["inputs"] for e in T.iter_examples(T._REGISTERED["snitk_default_def_pos2"], "validation")}
    assert all(r["input"]["inputs_pretokenized"] in validation for r in rows)
    assert all(isinstance(r["prediction"], str) for r in rows)


def test_snitk_eval_scores_a_t5x_model_dir_like_its_conversion(finetune_run, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO), "JAX_PLATFORMS": "cpu"}
    env.pop("XLA_FLAGS", None)
    model = finetune_run / "model"
    select = ["--max-tasks", "2", "--max-per-task", "4", "--max-decode-length", "16", "--batch-size", "8"]
    _run([sys.executable, "-m", "snitk.eval", "--checkpoint", str(model), "--output-dir", str(tmp_path / "direct"),
          *select], env, "snitk.eval on the t5x model dir")
    _run([sys.executable, "-m", "snitk.models", "convert", "--from", "t5x", "--src",
          str(model / f"checkpoint_{FINETUNE_STEPS}"), "--dst", str(tmp_path / "converted")], env, "convert --from t5x")
    _run([sys.executable, "-m", "snitk.eval", "--checkpoint", str(tmp_path / "converted"), "--output-dir",
          str(tmp_path / "via_convert"), *select], env, "snitk.eval on the converted checkpoint")

    def outputs(name: str) -> tuple[list[str], dict]:
        preds = [json.loads(x)["prediction"] for x in (tmp_path / name / "predictions.jsonl").read_text().splitlines()]
        return preds, json.loads((tmp_path / name / "metrics.json").read_text())

    (direct, m_direct), (converted, m_converted) = outputs("direct"), outputs("via_convert")
    assert len(direct) == 8 and direct == converted
    assert m_direct["overall"] == m_converted["overall"] and m_direct["per_task"] == m_converted["per_task"]
    assert m_direct["settings"]["checkpoint"].endswith(f"checkpoint_{FINETUNE_STEPS}")
    # the parameters snitk.eval decoded with are exactly the converted checkpoint's
    from snitk.models.checkpoint import flatten_params, load_model
    from snitk.models.t5x_checkpoint import find_t5x_checkpoint, load_t5x_model

    cfg_direct, direct_params = load_t5x_model(find_t5x_checkpoint(model))
    cfg_converted, converted_params = load_model(tmp_path / "converted")
    assert cfg_direct == cfg_converted
    a, b = flatten_params(direct_params), flatten_params(converted_params)
    assert set(a) == set(b) and all(np.array_equal(np.asarray(a[n]), np.asarray(b[n])) for n in a)

