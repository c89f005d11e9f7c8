"""Exactness against t5x itself: a tiny checkpoint written by t5x plus t5x's own log-likelihoods, logits and
decodes (../shared/t5x-tiny-checkpoint, see its README). The legacy zarr arrays are read directly here."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import numpy as np
import pytest

from conftest import require_shared, t5x_fixture_batch, t5x_fixture_examples

jax = pytest.importorskip("jax")

from snitk.models import T5Config  # noqa: E402
from snitk.models.model import EncoderDecoderModel  # noqa: E402


def read_legacy_params(ckpt: Path) -> dict:
    """`target.<dotted name>/` zarr v2 folders (single gzip float32 chunk) -> nested dict."""
    params: dict = {}
    for folder in sorted(ckpt.glob("target.*")):
        meta = json.loads((folder / ".zarray").read_text())
        assert meta["dtype"] == "<f4" and meta["compressor"]["id"] == "gzip" and meta["chunks"] == meta["shape"]
        chunk = folder / ".".join("0" * len(meta["shape"]))
        arr = np.frombuffer(gzip.decompress(chunk.read_bytes()), "<f4").reshape(meta["shape"])
        node = params
        *parents, leaf = folder.name[len("target."):].split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = arr
    return params


@pytest.fixture(scope="module")
def fixture():
    root = require_shared("t5x-tiny-checkpoint")
    config = T5Config(vocab_size=120, emb_dim=64, num_heads=4, num_encoder_layers=2, num_decoder_layers=3,
                      head_dim=16, mlp_dim=128, mlp_activations=("gelu", "linear"), dropout_rate=0.0,
                      logits_via_embedding=False, dtype="float32")
    params = read_legacy_params(root / "legacy" / "checkpoint_2000")
    examples = t5x_fixture_examples(root)
    logits = json.loads((root / "logits.json").read_text())["examples"]
    return root, config, params, examples, logits


def test_parameter_tree_and_axes_match_t5x(fixture):
    root, config, params, _, _ = fixture
    model = EncoderDecoderModel(config)
    flat_ours = {"/".join(k.key for k in path): x for path, x in
                 jax.tree_util.tree_flatten_with_path(model.abstract_params())[0]}
    flat_axes = {"/".join(k.key for k in path): x for path, x in jax.tree_util.tree_flatten_with_path(
        model.param_logical_axes(), is_leaf=lambda x: isinstance(x, jax.sharding.PartitionSpec))[0]}
    listed = {}
    for line in (root / "legacy" / "model-info.txt").read_text().splitlines():
        m = re.match(r"Variable (\S+)\s+size \d+\s+shape \(([^)]*)\)", line)
        if m and m.group(1).split("/")[0] in ("token_embedder", "encoder", "decoder"):
            dims = [d.split("=") for d in m.group(2).split(", ")]
            listed[m.group(1)] = (tuple(d[0] for d in dims), tuple(int(d[1]) for d in dims))
    assert set(listed) == set(flat_ours)
    for name, (axes, shape) in listed.items():
        assert flat_ours[name].shape == shape, name
        assert tuple(flat_axes[name]) == axes, name


def test_log_likelihoods_and_logits_match_t5x(fixture):
    _, config, params, examples, logits = fixture
    model = EncoderDecoderModel(config)
    batch = t5x_fixture_batch(examples)
    ll = np.asarray(model.score_batch(params, batch))
    np.testing.assert_allclose(ll, [e["log_likelihood"] for e in examples], atol=1e-4, rtol=0)
    ours = np.asarray(jax.jit(model.logits)(params, batch))
    for i, ex in enumerate(logits):
        ref = np.asarray(ex["logits"], np.float32)
        np.testing.assert_allclose(ours[i, : len(ref)], ref, atol=1e-4, rtol=0)
    # Per-token log-probs too.
    logp = np.asarray(jax.nn.log_softmax(ours, axis=-1))
    for i, e in enumerate(examples):
        tok = [logp[i, t, tid] for t, tid in enumerate(e["target_ids"])]
        np.testing.assert_allclose(tok, e["target_token_log_probs"], atol=1e-4, rtol=0)


def test_greedy_and_beam1_decodes_match_t5x(fixture):
    from snitk.models import decoding
    from snitk.vocab import Vocabulary

    root, config, params, examples, _ = fixture
    model = EncoderDecoderModel(config)
    enc = t5x_fixture_batch(examples)["encoder_input_tokens"]
    greedy = np.asarray(model.predict_batch(params, enc, max_decode_length=12))
    np.testing.assert_array_equal(greedy, [e["greedy_ids"] for e in examples])
    vocab = Vocabulary(root / "spm.model", extra_ids=0)
    assert [vocab.decode(g.tolist()) for g in greedy] == [e["greedy_text"] for e in examples]
    assert [vocab.encode(e["inputs"]) + [1] for e in examples] == [e["input_ids"] for e in examples]
    beams, _ = jax.jit(lambda p, x: decoding.beam_search(model.module, p, x, 12, 1, 0.6))(params, enc)
    np.testing.assert_array_equal(np.asarray(beams)[:, 0], [e["beam1_ids"] for e in examples])
    # Scores of the greedy output (t5x's greedy_log_likelihood).
    tgt = greedy.copy()
    batch = {"encoder_input_tokens": enc, "decoder_target_tokens": tgt,
             "decoder_input_tokens": np.concatenate([np.zeros_like(tgt[:, :1]), tgt[:, :-1]], axis=1)}
    np.testing.assert_allclose(np.asarray(model.score_batch(params, batch)),
                               [e["greedy_log_likelihood"] for e in examples], atol=1e-4, rtol=0)
