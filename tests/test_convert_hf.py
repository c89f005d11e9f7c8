"""Exactness against HF transformers (PyTorch CPU) on random small T5-1.1 / mT5 / T5 models.

Each model has different encoder and decoder depths.  The test builds its own SentencePiece
vocabulary (pad 0, eos 1, unk 2), saves a random HF model with ``save_pretrained``, imports it,
and compares target log-likelihoods (1e-3) and greedy decodes (exact) with HF; then exports the
snitk checkpoint back to an HF folder, reloads it in transformers and compares again.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

try:
    import torch
except ImportError:  # pragma: no cover
    pytest.skip("torch is not importable: the HF parity tests need torch==2.13.0 + transformers "
                "(pip install torch==2.13.0, then the 'hf' extra)", allow_module_level=True)
torch.set_num_threads(1)  # tiny matrices: threads only contend on a shared CPU
transformers = pytest.importorskip("transformers", reason="HF parity tests need transformers (the 'hf' extra)")
import sentencepiece as spm  # noqa: E402

from snitk.models import checkpoint as ck  # noqa: E402
from snitk.models.convert import main as convert_main  # noqa: E402
from snitk.models.convert.hf import import_hf  # noqa: E402
from snitk.models.convert.hf_export import export_hf  # noqa: E402

CORPUS = [
    "the quick brown fox jumps over the lazy dog",
    "a small model reads every instruction carefully",
    "translate english to german: the house is wonderful",
    "summarize: the weather today is sunny with light wind",
    "question: what colour is the sky? answer: blue",
    "definition: copy the last three words of the sentence",
    "positive example input: my friend likes green apples",
    "negative example output: red boats sail at night",
] * 20
INPUTS = ["translate english to german: the house is wonderful", "question: what colour is the dog?",
          "summarize: a quick fox", "definition: copy the words"]
TARGETS = ["the lazy dog", "blue", "sunny with light wind today and every day", "red"]

VARIANTS = {
    # T5-1.1: gated GELU, untied head; 2 encoder / 3 decoder layers
    "t5_1_1": dict(model="T5ForConditionalGeneration", d_model=32, d_kv=8, num_heads=4, d_ff=48, num_layers=2,
                   num_decoder_layers=3, feed_forward_proj="gated-gelu", tie_word_embeddings=False, extra=0),
    # mT5 style: MT5 class, vocabulary padded with extra ids, heads*d_kv != d_model; 3 encoder / 1 decoder
    "mt5": dict(model="MT5ForConditionalGeneration", d_model=24, d_kv=10, num_heads=3, d_ff=40, num_layers=3,
                num_decoder_layers=1, feed_forward_proj="gated-gelu", tie_word_embeddings=False, extra=12),
    # original T5: ReLU, logits through the tied, scaled embedding; 1 encoder / 2 decoder layers
    "t5_orig": dict(model="T5ForConditionalGeneration", d_model=32, d_kv=8, num_heads=2, d_ff=64, num_layers=1,
                    num_decoder_layers=2, feed_forward_proj="relu", tie_word_embeddings=True, extra=0),
}
DECODE_LEN = 10


@pytest.fixture(scope="module")
def sp_path(tmp_path_factory):
    d = tmp_path_factory.mktemp("spm")
    (d / "corpus.txt").write_text("\n".join(CORPUS) + "\n")
    spm.SentencePieceTrainer.train(
        input=str(d / "corpus.txt"), model_prefix=str(d / "spm"), vocab_size=64, model_type="unigram",
        pad_id=0, eos_id=1, unk_id=2, bos_id=-1, hard_vocab_limit=False, character_coverage=1.0,
        minloglevel=2,
    )
    return d / "spm.model"


@pytest.fixture(scope="module")
def sp(sp_path):
    proc = spm.SentencePieceProcessor(model_file=str(sp_path))
    assert (proc.pad_id(), proc.eos_id(), proc.unk_id()) == (0, 1, 2)
    return proc


def _batch(sp) -> dict[str, np.ndarray]:
    enc = [sp.encode(t) + [1] for t in INPUTS]
    tgt = [sp.encode(t) + [1] for t in TARGETS]
    b, le, lt = len(enc), max(map(len, enc)) + 2, max(map(len, tgt)) + 1
    e = np.zeros((b, le), np.int32)
    t = np.zeros((b, lt), np.int32)
    for i in range(b):
        e[i, : len(enc[i])] = enc[i]
        t[i, : len(tgt[i])] = tgt[i]
    return {"encoder_input_tokens": e, "decoder_input_tokens": np.concatenate([np.zeros((b, 1), np.int32), t[:, :-1]], 1),
            "decoder_target_tokens": t, "decoder_loss_weights": (t > 0).astype(np.float32)}


def _make_hf(variant: str, vocab: int, seed: int):
    v = dict(VARIANTS[variant])
    cls = getattr(transformers, v.pop("model"))
    vocab += v.pop("extra")
    cfg_cls = transformers.MT5Config if cls.__name__.startswith("MT5") else transformers.T5Config
    cfg = cfg_cls(vocab_size=vocab, dropout_rate=0.0, layer_norm_epsilon=1e-6, relative_attention_num_buckets=32,
                  relative_attention_max_distance=128, decoder_start_token_id=0, pad_token_id=0, eos_token_id=1, **v)
    torch.manual_seed(seed)
    model = cls(cfg).eval()
    g = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("layer_norm.weight"):  # norms away from 1, so a swapped norm would show
                p.copy_(0.5 + torch.rand(p.shape, generator=g))
            elif "relative_attention_bias" in name:
                p.copy_(torch.randn(p.shape, generator=g))
        if not v["tie_word_embeddings"]:  # transformers ties lm_head to shared at construction: untie by hand
            model.lm_head.weight = torch.nn.Parameter(torch.randn(vocab, v["d_model"], generator=g) * 0.5)
        else:  # with tied embeddings a random decoder just repeats its input token: strengthen its blocks
            for name, p in model.named_parameters():
                if name.startswith("decoder.") and name.endswith(("Attention.o.weight", "DenseReluDense.wo.weight")):
                    p.mul_(10.0)
    return model


def _hf_log_likelihood(model, batch) -> np.ndarray:
    enc = torch.tensor(batch["encoder_input_tokens"], dtype=torch.long)
    with torch.no_grad():
        logits = model(input_ids=enc, attention_mask=(enc != 0).long(),
                       decoder_input_ids=torch.tensor(batch["decoder_input_tokens"], dtype=torch.long)).logits
    lp = torch.log_softmax(logits.double(), -1)
    tgt = torch.tensor(batch["decoder_target_tokens"], dtype=torch.long)
    tok = lp.gather(-1, tgt[..., None])[..., 0] * torch.tensor(batch["decoder_loss_weights"], dtype=torch.double)
    return tok.sum(-1).numpy()


def _hf_greedy(model, enc_tokens: np.ndarray, length: int) -> np.ndarray:
    """Greedy decoding without the KV cache (transformers' cache fails for unequal depths)."""
    enc = torch.tensor(enc_tokens, dtype=torch.long)
    dec = torch.zeros((enc.shape[0], 1), dtype=torch.long)
    done = torch.zeros(enc.shape[0], dtype=torch.bool)
    with torch.no_grad():
        for _ in range(length):
            logits = model(input_ids=enc, attention_mask=(enc != 0).long(), decoder_input_ids=dec, use_cache=False).logits
            nxt = logits[:, -1].argmax(-1)
            nxt = torch.where(done, torch.zeros_like(nxt), nxt)
            done |= nxt == 1
            dec = torch.cat([dec, nxt[:, None]], 1)
    return dec[:, 1:].numpy()


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_hf_parity_and_round_trip(variant, sp, sp_path, tmp_path):
    from snitk.models.model import EncoderDecoderModel

    batch = _batch(sp)
    hf_model = _make_hf(variant, sp.get_piece_size(), seed=sorted(VARIANTS).index(variant))
    hf_dir = tmp_path / "hf"
    hf_model.save_pretrained(hf_dir)
    hf_ll = _hf_log_likelihood(hf_model, batch)
    assert np.all(np.isfinite(hf_ll)) and np.ptp(hf_ll) > 0.1

    # import an HF folder written by save_pretrained
    assert convert_main(["--from", "hf", "--src", str(hf_dir), "--dst", str(tmp_path / "snitk")]) == 0
    cfg, params = ck.load_model(tmp_path / "snitk")
    d = cfg.to_dict()
    v = VARIANTS[variant]
    assert (d["num_encoder_layers"], d["num_decoder_layers"]) == (v["num_layers"], v["num_decoder_layers"])
    assert d["logits_via_embedding"] is v["tie_word_embeddings"]
    model = EncoderDecoderModel(cfg)
    ours = np.asarray(model.score_batch(params, batch))
    np.testing.assert_allclose(ours, hf_ll, atol=1e-3, rtol=0)

    # greedy decodes are identical
    try:
        from snitk.models import decoding  # noqa: F401
        have_decoding = True
    except ImportError:
        have_decoding = False
    if have_decoding:
        ours_greedy = np.asarray(model.predict_batch(params, batch["encoder_input_tokens"], max_decode_length=DECODE_LEN))
        hf_greedy = _hf_greedy(hf_model, batch["encoder_input_tokens"], DECODE_LEN)
        assert len(np.unique(hf_greedy)) > 3, "degenerate decodes would prove little"
        np.testing.assert_array_equal(ours_greedy, hf_greedy)

    # export back (sharded, to exercise the index) and reload in transformers
    out = tmp_path / "hf_out"
    export_hf(tmp_path / "snitk", out, max_shard_bytes=20_000)
    assert (out / "model.safetensors.index.json").exists()
    reloaded = getattr(transformers, v["model"]).from_pretrained(out).eval()
    if not v["tie_word_embeddings"]:
        assert not torch.equal(reloaded.lm_head.weight, reloaded.shared.weight)
    np.testing.assert_allclose(_hf_log_likelihood(reloaded, batch), hf_ll, atol=1e-5, rtol=0)
    sd_a, sd_b = hf_model.state_dict(), reloaded.state_dict()
    for name, tensor in sd_a.items():
        if name == "lm_head.weight" and v["tie_word_embeddings"]:
            continue
        assert torch.equal(tensor, sd_b[name]), name

    if variant == "t5_1_1":
        # the exported folder can ship the vocabulary: T5Tokenizer gives the same ids (+ EOS) and T5's sentinels
        assert convert_main(["--to", "hf", "--src", str(tmp_path / "snitk"), "--dst", str(tmp_path / "hf_tok"),
                             "--vocab", str(sp_path), "--extra-ids", "7"]) == 0
        tok = transformers.AutoTokenizer.from_pretrained(tmp_path / "hf_tok")
        for text in INPUTS:
            assert tok(text).input_ids == sp.encode(text) + [1]
        assert tok.convert_tokens_to_ids("<extra_id_0>") == sp.get_piece_size() + 6

        # a pytorch_model.bin folder imports to the same weights; and an export -> import round trip is exact
        bin_dir = tmp_path / "hf_bin"
        bin_dir.mkdir()
        (bin_dir / "config.json").write_text(json.dumps(json.loads((hf_dir / "config.json").read_text())))
        torch.save({k: t.contiguous() for k, t in hf_model.state_dict().items()}, bin_dir / "pytorch_model.bin")
        import_hf(bin_dir, tmp_path / "from_bin")
        import_hf(out, tmp_path / "again")
        fp = ck.fingerprint(params)
        assert ck.fingerprint(ck.load_model(tmp_path / "from_bin")[1]) == fp
        assert ck.fingerprint(ck.load_model(tmp_path / "again")[1]) == fp

        # scan_layers: layers stacked on a leading axis; same scores, and it exports to the same HF weights
        scfg = import_hf(hf_dir, tmp_path / "scan", scan_layers=True)
        assert scfg.scan_layers
        scfg, sparams = ck.load_model(tmp_path / "scan")
        q = sparams["decoder"]["layers"]["self_attention"]["query"]["kernel"]
        assert q.shape[0] == v["num_decoder_layers"]
        np.testing.assert_array_equal(np.asarray(q[1]), np.asarray(params["decoder"]["layers_1"]["self_attention"]["query"]["kernel"]))
        np.testing.assert_allclose(np.asarray(EncoderDecoderModel(scfg).score_batch(sparams, batch)), hf_ll, atol=1e-3, rtol=0)
        export_hf(tmp_path / "scan", tmp_path / "hf_scan")
        sd_c = getattr(transformers, v["model"]).from_pretrained(tmp_path / "hf_scan").state_dict()
        for name, tensor in sd_a.items():
            assert torch.equal(tensor, sd_c[name]), name


def test_t5x_fixture_exported_to_hf_matches_t5x(tmp_path):
    """t5x checkpoint -> snitk -> HF folder: transformers reproduces t5x's own log-likelihoods."""
    from conftest import require_shared, t5x_fixture_batch, t5x_fixture_examples
    from snitk.models.convert.t5x import import_t5x

    fx = require_shared("t5x-tiny-checkpoint")
    rows = t5x_fixture_examples(fx)
    import_t5x(fx / "orbax" / "checkpoint_2000", tmp_path / "snitk")
    export_hf(tmp_path / "snitk", tmp_path / "hf")
    model = transformers.T5ForConditionalGeneration.from_pretrained(tmp_path / "hf").eval()
    batch = t5x_fixture_batch(rows)
    np.testing.assert_allclose(_hf_log_likelihood(model, batch), [r["log_likelihood"] for r in rows], atol=1e-4, rtol=0)
