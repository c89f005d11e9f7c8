"""The demo's pre-training (`python -m snitk.demo.pretrain`): its objectives, its text (training tasks
only), and the run end to end at smoke scale: pre-train, export, fine-tune from the export."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import jax
import numpy as np

from snitk.demo import pretrain

REPO = Path(__file__).resolve().parents[1]
TASKS = REPO / "tasks"
TOP = 3199  # a vocabulary's last id: the first sentinel


def _uncorrupt(inputs: list[int], targets: list[int]) -> list[int]:
    """Put the spans of `targets` back in place of the sentinels of `inputs` (ids > 3000 are sentinels)."""
    spans: dict[int, list[int]] = {}
    current = None
    for t in targets:
        if t > 3000:
            current = spans.setdefault(t, [])
        else:
            current.append(t)
    out: list[int] = []
    for t in inputs:
        out += spans[t] if t > 3000 else [t]
    return out


def test_span_corruption_hides_about_15_percent_in_sentinel_spans_and_is_invertible():
    rng = random.Random(0)
    for n in (4, 17, 60, 200):
        ids = [rng.randrange(3, 3000) for _ in range(n)]
        inputs, targets = pretrain.span_corruption(ids, rng, TOP)
        sentinels = [t for t in inputs if t > 3000]
        assert sentinels == list(range(TOP, TOP - len(sentinels), -1))  # T5's order: the top id first
        assert [t for t in targets if t > 3000] == sentinels
        assert _uncorrupt(inputs, targets) == ids
        hidden = len(targets) - len(sentinels)
        assert 1 <= hidden <= max(3, 0.3 * n)


def test_prefix_lm_splits_the_text_once_with_both_sides_non_empty():
    rng = random.Random(1)
    ids = list(range(10, 30))
    cuts = set()
    for _ in range(50):
        inputs, targets = pretrain.prefix_lm(ids, rng)
        assert inputs and targets and inputs + targets == ids
        cuts.add(len(inputs))
    assert len(cuts) > 5


def test_pretraining_text_is_the_training_tasks_only():
    texts = set(pretrain.training_texts(TASKS))
    held_out = (TASKS / "splits" / "default" / "test_tasks.txt").read_text().split()
    for name in held_out:
        task = json.loads((TASKS / f"{name}.json").read_text())
        for inst in task["Instances"]:
            assert f"{inst['input']} {inst['output'][0]}" not in texts
        assert task["Definition"][0] not in texts
    train = (TASKS / "splits" / "default" / "train_tasks.txt").read_text().split()
    first = json.loads((TASKS / f"{train[0]}.json").read_text())
    assert first["Definition"][0] in texts


def test_task_documents_hold_every_instance_once_after_the_definition():
    pairs = [(f"in {i}", f"out {i}") for i in range(10)]
    docs = pretrain.task_documents("Do it.", pairs, random.Random(0), per_document=4)
    assert [len(d.split(" Input: ")) - 1 for d in docs] == [4, 4, 2]
    assert all(d.startswith("Do it. Input: ") for d in docs)
    found = re.findall(r"Input: (in \d+) Output: (out \d+)", " ".join(docs))
    assert sorted(found) == sorted(pairs) and all(x[3:] == y[4:] for x, y in found)  # each pair kept together
    assert found != pairs  # a seeded order, not file order
    assert docs == pretrain.task_documents("Do it.", pairs, random.Random(0), per_document=4)


def test_pretraining_documents_are_the_training_tasks_only():
    texts = pretrain.training_texts(TASKS)
    docs = " ".join(t for t in texts if " Input: " in t)
    train = (TASKS / "splits" / "default" / "train_tasks.txt").read_text().split()
    first = json.loads((TASKS / f"{train[0]}.json").read_text())
    inst = first["Instances"][0]
    assert f"Input: {inst['input']} Output: {inst['output'][0]}" in docs
    for name in (TASKS / "splits" / "default" / "test_tasks.txt").read_text().split():
        task = json.loads((TASKS / f"{name}.json").read_text())
        assert task["Definition"][0] not in docs
        assert not any(f"Input: {i['input']} " in docs for i in task["Instances"]), name


def test_shipped_pretrained_model_loads_and_matches_the_bundled_vocabulary():
    """`snitk/assets/demo_pretrained` (what `snitk demo` fine-tunes): a model checkpoint of the demo model's
    shape, trained with the bundled vocabulary (by sha256), loadable without its optimizer state."""
    from snitk.models.checkpoint import load_model, load_vocab_identity
    from snitk.vocab import DEMO_VOCAB, Vocabulary
    from snitk.vocab_identity import sha256_file

    config, params = load_model(pretrain.SHIPPED)
    assert (config.emb_dim, config.num_encoder_layers, config.num_decoder_layers) == (128, 2, 2)
    assert config.vocab_size == -(-Vocabulary(DEMO_VOCAB).vocab_size // 128) * 128
    assert load_vocab_identity(pretrain.SHIPPED)["sha256"] == sha256_file(DEMO_VOCAB)
    leaves = jax.tree_util.tree_leaves(params)
    assert sum(x.size for x in leaves) > 1_000_000 and all(np.isfinite(np.asarray(x)).all() for x in leaves)


def test_examples_alternate_objectives_and_skip_tiny_texts():
    encode = lambda text: [ord(c) for c in text]  # noqa: E731
    pairs = list(pretrain.pretraining_examples(["abc", "a longer piece of text"], encode, TOP, copies=4))
    assert len(pairs) == 4  # "abc" (3 tokens) is skipped
    assert any(t > 3000 for t in pairs[0][0]) and not any(t > 3000 for t in pairs[1][0])
    assert pairs[1][0] + pairs[1][1] == encode("a longer piece of text")


def test_pretrain_export_and_fine_tune_from_it(tmp_path):
    """Smoke scale: 3 pre-training steps, the export is a loadable model checkpoint holding the final
    parameters, and fine-tuning restores exactly those parameters before its first step."""
    from snitk.demo import run as demo
    from snitk.models.checkpoint import fingerprint, load_model, load_vocab_identity

    from test_demo_job import SMOKE  # the demo job test's smoke-scale settings

    out = tmp_path / "pretrained"
    smoke = ["--gin", "TRAIN_STEPS = 3", "--gin", "SAVE_PERIOD = 3", "--gin", "BATCH_SIZE = 8"]
    assert pretrain.main(["--model-dir", str(tmp_path / "pt"), "--out", str(out), *smoke]) == 0
    config, params = load_model(out)
    _, trained = load_model(tmp_path / "pt")
    assert config.emb_dim == 128
    assert load_vocab_identity(out) == load_vocab_identity(tmp_path / "pt")
    assert fingerprint(params) == fingerprint(trained)
    assert not (out.parent / "pretrained.tmp").exists()

    # a rerun resumes the finished pre-training and rewrites the export in place
    assert pretrain.main(["--model-dir", str(tmp_path / "pt"), "--out", str(out), *smoke]) == 0
    _, again = load_model(out)
    assert fingerprint(again) == fingerprint(params)

    # `snitk demo --pretrained`: with a zero learning rate the fine-tuned parameters are the pre-trained ones
    demo_out = tmp_path / "demo"
    assert demo.main(["--pretrained", str(out), "--output-dir", str(demo_out), "--no-ablation",
                      "--gin", "LEARNING_RATE = 0.0", *SMOKE]) == 0
    _, tuned = load_model(demo_out / "model")
    assert fingerprint(tuned) == fingerprint(params)
    assert json.loads((demo_out / "metrics.json").read_text())["model"]["n"] > 0


def test_cli_reports_a_missing_data_dir_in_one_line(tmp_path):
    import subprocess
    import sys

    missing = tmp_path / "no_such_corpus"
    proc = subprocess.run([sys.executable, "-m", "snitk.demo.pretrain", "--data-dir", str(missing),
                           "--out", str(tmp_path / "out")], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1
    assert f"{missing}: data directory not found" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "out").exists()
