"""The paper configs are what the README's recipe tables say; losses, truncation, token counts and
post-processing behave as in the reference code."""

from __future__ import annotations

import math
import shutil

import itertools

import pytest

from conftest import require_shared


def _assembled(config: str) -> dict:
    import gin

    from snitk.training import config as C
    from snitk.training.train import assemble

    C.parse([f"experiments/{config}.gin"], ["MODEL_DIR = '/tmp/unused'"])
    try:
        parts = assemble()
        parts["macros"] = {m: gin.query_parameter(f"%{m}") for m in ("LEARNING_RATE", "VOCABULARY")}
        parts["optimizer_settings"] = C.call(C.optimizer_config, "optimizer")
        parts["schedule_settings"] = C.call(C.schedule_config, "schedule")
    finally:
        gin.clear_config()  # the paper vocabularies are not on this machine
    return parts


def test_3b_recipe_is_the_tk_instruct_release():
    p = _assembled("tk_instruct_3b_8gpu")
    tc, opt, sched = p["train"], p["optimizer_settings"], p["schedule_settings"]
    assert opt["name"] == "adamw" and (opt["b1"], opt["b2"], opt["eps"], opt["weight_decay"]) == (0.9, 0.999, 1e-8, 0.0)
    assert opt["max_grad_norm"] == 1.0
    assert sched == {**sched, "name": "constant", "base_learning_rate": 5e-5, "warmup_steps": 0}
    assert p["model"].dropout_rate == 0.1
    # 8 GPUs x per-device batch 1 x gradient accumulation 2, unpacked, 1024 / 128 tokens
    assert (tc.batch_size, tc.num_microbatches, tc.pack) == (16, 2, False)
    assert dict(tc.task_feature_lengths) == {"inputs": 1024, "targets": 128}
    # two epochs over 757 tasks x 100 instances, counted as HF's Trainer does
    assert tc.train_steps == 2 * (math.ceil(757 * 100 / 8) // 2)
    assert tc.mixture_or_task_name.endswith("_len1024") and tc.loss_normalizing_factor == "per_sequence_mean"
    assert p["macros"]["VOCABULARY"].endswith("cc_all.32000/sentencepiece.model")


@pytest.mark.parametrize("config, track, vocab", [("tk_instruct_11b_tpu_v3_256", "default", "cc_all.32000"),
                                                  ("mtk_instruct_13b_tpu_v3_256", "xlingual", "mc4.250000.100extra")])
def test_pod_recipes_follow_the_paper_and_t5x_finetune(config, track, vocab):
    p = _assembled(config)
    tc = p["train"]
    assert p["schedule_settings"]["name"] == "constant" and p["macros"]["LEARNING_RATE"] == 1e-5
    assert tc.train_steps == 1000 and tc.pack
    assert 1_000_000 <= tc.batch_size * tc.task_feature_lengths["inputs"] < 1_100_000  # ~1M-token batches
    assert p["model"].dropout_rate == 0.1  # t5x finetune.gin DROPOUT_RATE
    assert tc.loss_normalizing_factor is None  # t5x LOSS_NORMALIZING_FACTOR = None: the summed loss
    assert tc.mixture_or_task_name == f"snitk_{track}_def_pos2_len1024" and vocab in p["macros"]["VOCABULARY"]


def test_loss_normalising_factor_none_is_an_unnormalised_sum():
    import jax.numpy as jnp

    from snitk.training.trainer import _loss_weights, _normalizer

    w = jnp.asarray([[1, 1, 1, 0], [1, 0, 0, 0]], jnp.float32)
    batch = {"decoder_loss_weights": w}
    assert float(_normalizer(batch, None)) == 1.0
    assert float(_normalizer(batch, "num_target_tokens")) == 4.0
    assert float(_normalizer(batch, 8.0)) == 8.0
    # HF with batch 1 per device: every sequence's mean token loss, averaged over sequences
    per_token = jnp.asarray([[2.0, 4.0, 6.0, 9.0], [3.0, 9.0, 9.0, 9.0]])
    rescaled = _loss_weights(batch, "per_sequence_mean")["decoder_loss_weights"]
    loss = float(jnp.sum(per_token * rescaled) / _normalizer(batch, "per_sequence_mean"))
    assert loss == pytest.approx(((2 + 4 + 6) / 3 + 3) / 2)


def test_predictions_are_post_processed_as_run_s2s():
    from snitk.eval.postprocess import clean_up_tokenization, generated_tokens, hf_decode
    from snitk.vocab import get_vocabulary

    assert generated_tokens(128) == 127  # HF max_length counts the decoder start token
    assert clean_up_tokenization("it is n't here , is it ? yes .") == "it isn't here, is it? yes."
    vocab = get_vocabulary()
    word = vocab.encode("hello")
    sentinel = vocab.vocab_size - 1  # <extra_id_0>, a special token HF skips
    ids = [sentinel, *vocab.encode(" hello ."), 2, 0, 1, *word]
    assert hf_decode(vocab, ids) == "hello."  # sentinel / unk / pad dropped, cut at EOS, cleaned, stripped


def test_stray_space_costs_xlingual_rouge():
    """The cross-lingual metric tokenises with GPT-2 BPE: " 你好 世界" and "你好 世界" differ in tokens."""
    bpe = require_shared("vocab/gpt2.tiktoken")
    from snitk.eval.metrics import compute_metrics

    refs = [["Das ist gut"], ["你好 世界"]]
    raw = compute_metrics([" Das ist gut", " 你好 世界"], refs, xlingual=True, gpt2_bpe=str(bpe), num_workers=1)
    stripped = compute_metrics(["Das ist gut", "你好 世界"], refs, xlingual=True, gpt2_bpe=str(bpe), num_workers=1)
    assert stripped["rougeL"] == 100.0 and stripped["exact_match"] == 100.0
    assert raw["rougeL"] < stripped["rougeL"]


def test_token_counts_agree_with_hf_t5_tokenizer_fast(tmp_path):
    """On real prompts, our SentencePiece counts equal HF's T5TokenizerFast's on a unigram model (as T5's)."""
    spm = require_shared("t5x-tiny-checkpoint/spm.model")
    data = require_shared("natinst-sample")
    transformers = pytest.importorskip("transformers")
    from snitk.natinst.corpus import Corpus
    from snitk.prompts import render
    from snitk.vocab import get_vocabulary

    shutil.copy(spm, tmp_path / "spiece.model")
    fast = transformers.T5TokenizerFast.from_pretrained(str(tmp_path), extra_ids=100)
    ours = get_vocabulary(str(spm))
    n = 0
    for task in itertools.islice(Corpus(data, "default").test_tasks(max_per_task=2, allow_missing=True), 40):
        for inst in task.instances:
            prompt = render(task, inst, "def_pos2")
            assert fast(prompt)["input_ids"] == ours.encode(prompt) + [1], task.name
            n += 1
    assert n >= 40


def _present_view(data, out):
    """`data` with split lists restricted to the task files present (the sample lacks most training tasks)."""
    (out / "tasks").symlink_to(data / "tasks")
    for track in ("default", "xlingual"):
        (out / "splits" / track).mkdir(parents=True)
        for split in ("train", "test", "excluded"):
            names = (data / "splits" / track / f"{split}_tasks.txt").read_text().split()
            kept = [n for n in names if (data / "tasks" / f"{n}.json").exists()]
            (out / "splits" / track / f"{split}_tasks.txt").write_text("\n".join(kept) + "\n")
    return out


def test_training_examples_are_truncated_as_the_evaluator_does(tmp_path):
    """The seqio `_len` training task renders exactly what snitk.eval feeds the model (same rule, same vocabulary)."""
    data = _present_view(require_shared("natinst-sample"), tmp_path)
    from snitk import tasks as T
    from snitk.natinst.corpus import Corpus
    from snitk.prompts import render
    from snitk.vocab import get_vocabulary

    sel = T.Selection("default", "def_pos2", str(data), 3, None, 42, 256, None)
    vocab = get_vocabulary()
    tasks = {t.name: t for t in Corpus(data, "default").train_tasks(max_per_task=3, seed=42)}
    cut = 0
    for ex in T.iter_examples(sel, "train"):
        inst = next(i for i in tasks[ex["task"]].instances if i.id == ex["id"])
        untruncated = render(tasks[ex["task"]], inst, "def_pos2")
        assert ex["inputs"] == render(tasks[ex["task"]], inst, "def_pos2", token_budget=256, vocab=vocab)
        assert len(vocab.encode(ex["inputs"])) <= 256
        cut += ex["inputs"] != untruncated
    assert cut > 0  # real prompts exceed the budget


def test_init_restore_full_continues_the_optimizer_state_and_step(tmp_path, capsys, caplog):
    """train.init_restore='full' restores step and optimizer state as t5x's fine-tuning does (TRAIN_STEPS
    counts the restored steps); a checkpoint without an optimizer state (a converted one) is refused."""
    import logging

    from snitk.models.checkpoint import load_model, save_model
    from snitk.training.train import main

    smoke = ["--gin_file=experiments/smoke_synthetic_cpu.gin", "--gin.train.tensorboard=False", "--gin.SAVE_PERIOD=2",
             "--gin.TRAIN_STEPS=2"]
    assert main([*smoke, f"--gin.MODEL_DIR='{tmp_path}/a'"]) == 0
    with caplog.at_level(logging.INFO, logger="snitk.train"):
        assert main([*smoke, f"--gin.MODEL_DIR='{tmp_path}/b'", f"--gin.INIT_CHECKPOINT='{tmp_path}/a/checkpoint_2'",
                     "--gin.train.init_restore='full'"]) == 0
    assert "already trained to step 2" in caplog.text and not list((tmp_path / "b").glob("checkpoint_*"))
    cfg, params = load_model(tmp_path / "a" / "checkpoint_2")
    save_model(tmp_path / "converted", cfg, params)
    assert main([*smoke, f"--gin.MODEL_DIR='{tmp_path}/c'", f"--gin.INIT_CHECKPOINT='{tmp_path}/converted'",
                 "--gin.train.init_restore='full'"]) == 2
    assert "needs a checkpoint with 'opt_state'" in capsys.readouterr().err
