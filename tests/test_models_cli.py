"""`python -m snitk.models` info / generate / score on presets and a tiny random checkpoint."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

jax = pytest.importorskip("jax")

from snitk.models import T5Config  # noqa: E402
from snitk.models.__main__ import bucket_length, main  # noqa: E402
from snitk.models.model import EncoderDecoderModel  # noqa: E402
from snitk.vocab import DEMO_VOCAB, Vocabulary  # noqa: E402


def test_info_preset_subprocess(repo_root):
    out = subprocess.run([sys.executable, "-m", "snitk.models", "info", "--preset", "t5_1_1_xxl"], cwd=repo_root,
                         capture_output=True, text=True, check=True).stdout
    assert "params: 11135332352" in out.splitlines()


def test_bucket_length():
    assert [bucket_length(n) for n in (1, 16, 17, 100, 513)] == [16, 16, 32, 128, 1024]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    from snitk.models.checkpoint import save_model

    if not DEMO_VOCAB.exists():
        pytest.skip(f"{DEMO_VOCAB} missing (the demo corpus worker ships it)")
    vocab = Vocabulary(DEMO_VOCAB, extra_ids=0)
    config = T5Config(vocab_size=vocab.vocab_size, emb_dim=32, num_heads=2, head_dim=16, mlp_dim=64,
                      num_encoder_layers=1, num_decoder_layers=2)
    model = EncoderDecoderModel(config)
    rng = np.random.default_rng(0)
    params = jax.tree_util.tree_map(lambda s: rng.normal(0, 0.3, s.shape).astype(np.float32), model.abstract_params())
    # Make EOS likely after a few tokens so that predictions differ in length.
    params["decoder"]["logits_dense"]["kernel"][:, 1] += 0.5
    path = tmp_path_factory.mktemp("ckpt") / "model"
    save_model(path, config, params)
    return path, config, params, vocab


def _write_jsonl(path: Path, rows) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_generate_and_score(checkpoint, tmp_path, capsys):
    path, config, params, vocab = checkpoint
    texts = ["Sort the numbers: 3, 1, 2", "Reverse 5 4", "x", "Sort the numbers in ascending order: 10, 9, 8, 7"]
    rows = [{"id": f"ex{i}", "inputs": t} for i, t in enumerate(texts)]
    src = _write_jsonl(tmp_path / "in.jsonl", rows)
    out = tmp_path / "out" / "pred.jsonl"
    assert main(["generate", "--checkpoint", str(path), "--vocab", str(DEMO_VOCAB), "--input-file", str(src),
                 "--output-file", str(out), "--max-decode-length", "6", "--batch-size", "3", "--quiet"]) == 0
    preds = _read_jsonl(out)
    assert [p["id"] for p in preds] == [r["id"] for r in rows]
    # Same as decoding all examples in one batch in file order (the CLI sorts, buckets and pads batches).
    model = EncoderDecoderModel(config)
    enc = np.zeros((len(rows), 40), np.int32)
    for i, row in enumerate(rows):
        ids = vocab.encode(row["inputs"]) + [1]
        enc[i, : len(ids)] = ids
    direct = np.asarray(model.predict_batch(params, enc, max_decode_length=6))
    assert [p["prediction"] for p in preds] == [vocab.decode(d.tolist()) for d in direct]

    beam_out = tmp_path / "beam.jsonl"
    assert main(["generate", "--checkpoint", str(path), "--vocab", str(DEMO_VOCAB), "--input-file", str(src),
                 "--output-file", str(beam_out), "--max-decode-length", "6", "--beam-size", "2", "--quiet"]) == 0
    assert len(_read_jsonl(beam_out)) == len(rows)

    score_rows = [{"id": r["id"], "inputs": r["inputs"], "targets": t} for r, t in zip(rows, ["1, 2, 3", "4 5", "", "7"])]
    score_in = _write_jsonl(tmp_path / "score.jsonl", score_rows)
    score_out = tmp_path / "scores.jsonl"
    assert main(["score", "--checkpoint", str(path), "--vocab", str(DEMO_VOCAB), "--input-file", str(score_in),
                 "--output-file", str(score_out), "--batch-size", "2", "--quiet"]) == 0
    scores = _read_jsonl(score_out)
    assert [s["id"] for s in scores] == [r["id"] for r in score_rows]
    # Independent reference: log-softmax of a plain causal forward pass, summed over target tokens incl. EOS.
    tgt = np.zeros((len(rows), 20), np.int32)
    for i, row in enumerate(score_rows):
        ids = vocab.encode(row["targets"]) + [1]
        tgt[i, : len(ids)] = ids
    dec = np.concatenate([np.zeros_like(tgt[:, :1]), tgt[:, :-1]], axis=1)
    logits = jax.jit(model.module.apply, static_argnames="enable_dropout")(
        {"params": params}, enc, dec, enable_dropout=False)
    logp = np.asarray(jax.nn.log_softmax(logits, -1))
    for i, s in enumerate(scores):
        n = int((tgt[i] > 0).sum())
        assert s["log_likelihood"] == pytest.approx(float(sum(logp[i, t, tgt[i, t]] for t in range(n))), abs=1e-4)
        assert s["log_likelihood"] < 0


def test_info_checkpoint_fingerprint(checkpoint, capsys):
    path, config, params, _ = checkpoint
    assert main(["info", "--checkpoint", str(path), "--fingerprint"]) == 0
    text = capsys.readouterr().out
    n = sum(x.size for x in jax.tree_util.tree_leaves(params))
    assert f"params: {n}" in text.splitlines()
    assert re.search(r"^sha256: [0-9a-f]{64}$", text, re.M)
    assert main(["info", "--checkpoint", str(path)]) == 0
    assert f"params: {n}" in capsys.readouterr().out.splitlines()


def test_bad_input_names_line_and_field(checkpoint, tmp_path, capsys):
    path, *_ = checkpoint
    src = _write_jsonl(tmp_path / "in.jsonl", [{"id": 1, "inputs": "a"}, {"id": 2}])
    rc = main(["generate", "--checkpoint", str(path), "--vocab", str(DEMO_VOCAB), "--input-file", str(src),
               "--output-file", str(tmp_path / "o.jsonl"), "--max-decode-length", "4"])
    assert rc == 2 and re.search(r"in.jsonl:2.*inputs", capsys.readouterr().err)
