"""Decoding and network behaviour on a tiny random model: KV cache vs full recompute, scan/remat
equivalence, packing, beam search, loss, sharded parameters."""

from __future__ import annotations

import numpy as np
import pytest

jax = pytest.importorskip("jax")
import jax.numpy as jnp  # noqa: E402

from snitk.models import T5Config, decoding  # noqa: E402
from snitk.models.model import EncoderDecoderModel  # noqa: E402

CFG = T5Config(vocab_size=64, emb_dim=32, num_heads=4, head_dim=8, mlp_dim=64, num_encoder_layers=1,
               num_decoder_layers=2)
NE, ND = CFG.num_encoder_layers, CFG.num_decoder_layers


def numpy_params(model: EncoderDecoderModel, seed: int) -> dict:
    """Random parameters drawn with numpy (no XLA compile), scaled like the t5x initialisation."""
    rng = np.random.default_rng(seed)

    def draw(path, s):
        name = path[-2].key
        if name == "embedding":
            return rng.normal(0, 1, s.shape).astype(np.float32)
        if path[-1].key == "scale":
            return (1 + 0.1 * rng.normal(0, 1, s.shape)).astype(np.float32)
        if name == "relpos_bias":
            return rng.uniform(-0.5, 0.5, s.shape).astype(np.float32)
        std = 1 / np.sqrt(s.shape[-2]) * (4.0 if name == "logits_dense" else 1.0)
        return rng.normal(0, std, s.shape).astype(np.float32)

    return jax.tree_util.tree_map_with_path(draw, model.abstract_params())


@pytest.fixture(scope="module")
def tiny():
    model = EncoderDecoderModel(CFG)
    params = numpy_params(model, 0)  # logits scaled up: no argmax near-ties
    rng = np.random.default_rng(0)
    enc = np.zeros((3, 12), np.int32)
    for i, n in enumerate((12, 7, 4)):
        enc[i, : n - 1] = rng.integers(3, 64, n - 1)
        enc[i, n - 1] = 1
    return model, params, enc


def _stack_layers(params: dict, n_enc: int, n_dec: int) -> dict:
    def stack(tree, n):
        return jax.tree_util.tree_map(lambda *xs: jnp.stack(xs), *[tree[f"layers_{i}"] for i in range(n)])

    out = {"token_embedder": params["token_embedder"], "encoder": {}, "decoder": {}}
    for side, n in (("encoder", n_enc), ("decoder", n_dec)):
        out[side] = {k: v for k, v in params[side].items() if not k.startswith("layers_")}
        out[side]["layers"] = stack(params[side], n)
    return out


def _batch(enc, tgt):
    tgt = np.asarray(tgt, np.int32)
    return {"encoder_input_tokens": enc, "decoder_target_tokens": tgt,
            "decoder_input_tokens": np.concatenate([np.zeros_like(tgt[:, :1]), tgt[:, :-1]], axis=1),
            "decoder_loss_weights": (tgt > 0).astype(np.float32)}


@pytest.mark.parametrize("scan", [False, True])
def test_kv_cache_steps_equal_full_recompute(tiny, scan):
    model, params, enc = tiny
    tokens = np.random.default_rng(1).integers(2, 64, (3, 4)).astype(np.int32)
    dec_in = np.concatenate([np.zeros((3, 1), np.int32), tokens[:, :-1]], axis=1)
    # Reference: the unrolled model without cache (so the scanned variant is also checked against it).
    full = np.asarray(jax.jit(model.module.apply, static_argnames="enable_dropout")(
        {"params": params}, enc, dec_in, enable_dropout=False))
    if scan:
        model = EncoderDecoderModel(CFG.replace(scan_layers=True))
        params = _stack_layers(params, NE, ND)

    @jax.jit
    def stepwise(p, enc, dec_in):
        encoded = model.module.apply({"params": p}, enc, enable_dropout=False, method=model.module.encode)
        cache = decoding.init_cache(model.module, p, encoded, enc, dec_in.shape[1])
        outs = []
        for t in range(dec_in.shape[1]):
            logits, cache = decoding.decode_step(model.module, p, cache, dec_in[:, t], enc)
            outs.append(logits)
        return jnp.stack(outs, axis=1)

    np.testing.assert_allclose(np.asarray(stepwise(params, enc, dec_in)), full, atol=2e-5, rtol=1e-5)
    if scan:  # beam search reorders the stacked cache along its batch axis (axis 1 under scan)
        unrolled_p = tiny[1]
        b1, s1 = decoding.jitted_search(CFG, 5, 3, 0.6)(unrolled_p, enc)
        b2, s2 = decoding.jitted_search(model.config, 5, 3, 0.6)(params, enc)
        np.testing.assert_array_equal(np.asarray(b2), np.asarray(b1))
        np.testing.assert_allclose(np.asarray(s2), np.asarray(s1), atol=1e-5)


def test_greedy_equals_argmax_of_full_recompute(tiny):
    model, params, enc = tiny
    length = 8
    got = np.asarray(model.predict_batch(params, enc, max_decode_length=length))
    # Reference: no cache, recompute the whole prefix at every step.
    fwd = jax.jit(lambda p, e, d: model.module.apply({"params": p}, e, d, enable_dropout=False))
    seqs = np.zeros((enc.shape[0], length), np.int32)
    done = np.zeros(enc.shape[0], bool)
    for t in range(length):
        dec_in = np.concatenate([np.zeros((enc.shape[0], 1), np.int32), seqs[:, :-1]], axis=1)
        nxt = np.asarray(fwd(params, enc, dec_in))[:, t].argmax(-1)
        seqs[:, t] = np.where(done, 0, nxt)
        done |= seqs[:, t] == 1
    np.testing.assert_array_equal(got, seqs)
    # Batched with padding rows: each row decodes as it does alone.
    single = np.asarray(model.predict_batch(params, enc[1:2, :8], max_decode_length=length))
    np.testing.assert_array_equal(single[0], got[1])


def test_scan_and_remat_match_unrolled(tiny):
    model, params, enc = tiny
    tgt = np.random.default_rng(2).integers(2, 64, (3, 5)).astype(np.int32)
    tgt[2, 3:] = 0
    batch = _batch(enc, tgt)
    ref_loss, ref_grads = jax.jit(jax.value_and_grad(lambda p: model.loss_fn(p, batch)[0]))(params)
    stacked = _stack_layers(params, NE, ND)
    for cfg, p in ((CFG.replace(scan_layers=True, remat_policy="minimal"), stacked),):
        m = EncoderDecoderModel(cfg)
        loss, grads = jax.jit(jax.value_and_grad(lambda q: m.loss_fn(q, batch)[0]))(p)
        np.testing.assert_allclose(float(loss), float(ref_loss), rtol=1e-6)
        if cfg.scan_layers:
            grads = {"encoder": {"layers_0": jax.tree_util.tree_map(lambda x: x[0], grads["encoder"]["layers"])},
                     "token_embedder": grads["token_embedder"]}
        np.testing.assert_allclose(grads["encoder"]["layers_0"]["mlp"]["wo"]["kernel"],
                                   ref_grads["encoder"]["layers_0"]["mlp"]["wo"]["kernel"], atol=1e-6, rtol=1e-5)
        np.testing.assert_allclose(grads["token_embedder"]["embedding"], ref_grads["token_embedder"]["embedding"],
                                   atol=1e-6, rtol=1e-5)


def test_packed_logits_equal_unpacked_per_segment(tiny):
    model, params, _ = tiny
    logits_fn = jax.jit(model.logits)
    rng = np.random.default_rng(3)
    a_in, b_in = rng.integers(3, 64, 5), rng.integers(3, 64, 4)
    a_tg, b_tg = rng.integers(3, 64, 3), rng.integers(3, 64, 4)

    def one(x, y, lx=12, ly=10):
        e = np.zeros((1, lx), np.int32)
        e[0, : len(x)] = x
        t = np.zeros((1, ly), np.int32)
        t[0, : len(y)] = y
        return np.asarray(logits_fn(params, _batch(e, t)))[0, : len(y)]

    enc = np.zeros((1, 12), np.int32)
    enc[0, :9] = np.concatenate([a_in, b_in])
    tgt = np.zeros((1, 10), np.int32)
    tgt[0, :7] = np.concatenate([a_tg, b_tg])
    dec_in = np.zeros((1, 10), np.int32)
    dec_in[0, 1:3] = a_tg[:-1]
    dec_in[0, 4:7] = b_tg[:-1]  # each segment starts from 0
    seg = lambda n, m, L: np.array([[1] * n + [2] * m + [0] * (L - n - m)], np.int32)  # noqa: E731
    pos = lambda n, m, L: np.array([list(range(n)) + list(range(m)) + [0] * (L - n - m)], np.int32)  # noqa: E731
    packed = {"encoder_input_tokens": enc, "decoder_input_tokens": dec_in, "decoder_target_tokens": tgt,
              "encoder_segment_ids": seg(5, 4, 12), "decoder_segment_ids": seg(3, 4, 10),
              "encoder_positions": pos(5, 4, 12), "decoder_positions": pos(3, 4, 10)}
    logits = np.asarray(logits_fn(params, packed))[0]
    ref_a, ref_b = one(a_in, a_tg), one(b_in, b_tg)
    # Packed and unpacked layouts reduce in a different order (other lengths, other masks), so float32
    # rounding differs: each reduction adds about sqrt(n) * eps relative to its operands' scale, compounded
    # over the layers. 32 eps of the logits' own magnitude (~2.7e-5 at |logit| ~ 7) bounds that with a 2x
    # margin over what was measured across CPUs (1.2e-5); a segment leaking into another moves logits by ~1e-1.
    tol = 32 * np.finfo(np.float32).eps * max(np.abs(ref_a).max(), np.abs(ref_b).max())
    np.testing.assert_allclose(logits[:3], ref_a, atol=tol, rtol=0)
    np.testing.assert_allclose(logits[3:7], ref_b, atol=tol, rtol=0)


def test_beam_search_scores_and_quality(tiny):
    model, params, enc = tiny
    length, alpha = 8, 0.6
    greedy, greedy_lp = (np.asarray(x) for x in decoding.jitted_search(CFG, length, 1)(params, enc))
    beams, scores = (np.asarray(x) for x in decoding.jitted_search(CFG, length, 4, alpha)(params, enc))
    assert beams.shape == (3, 4, length)
    assert np.all(np.diff(scores, axis=1) <= 1e-6)  # best first
    score = jax.jit(model.score_batch)
    np.testing.assert_allclose(np.asarray(score(params, _batch(enc, greedy))), greedy_lp, atol=1e-4)

    def penalised(seqs):
        ll = np.asarray(score(params, _batch(enc, seqs)))
        lengths = np.array([list(r).index(1) + 1 if 1 in r else length for r in seqs])
        finished = np.array([1 in r for r in seqs])
        return np.where(finished, ll / ((5.0 + lengths) / 6.0) ** alpha, ll), finished

    for k in range(4):
        expected, _ = penalised(beams[:, k])
        filler = scores[:, k] < -1e6  # fewer than 4 hypotheses finished: empty slot
        assert not beams[filler, k].any()
        np.testing.assert_allclose(scores[~filler, k], expected[~filler], atol=1e-4, rtol=1e-4)
        for r in beams[:, k]:  # after EOS only padding
            if 1 in r:
                assert not r[list(r).index(1) + 1:].any()
    # Beam search finds hypotheses at least as good (by its own length-penalised score) as greedy.
    g_score, g_finished = penalised(greedy)
    assert np.all(scores[g_finished, 0] >= g_score[g_finished] - 1e-5)
    top = np.asarray(model.predict_batch(params, enc, max_decode_length=length, beam_size=4, alpha=alpha))
    np.testing.assert_array_equal(top, beams[:, 0])


def test_loss_fn_consistent_with_scores(tiny):
    model, params, enc = tiny
    tgt = np.random.default_rng(4).integers(2, 64, (3, 6)).astype(np.int32)
    tgt[1, 4:] = 0
    batch = _batch(enc, tgt)
    drop = EncoderDecoderModel(CFG.replace(dropout_rate=0.3, dtype="bfloat16"))

    @jax.jit
    def everything(p, b):
        return (model.score_batch(p, b), model.loss_fn(p, b, z_loss=0.0),
                model.loss_fn(p, b, z_loss=1e-4, loss_normalizing_factor=100.0),
                drop.loss_fn(p, b, jax.random.PRNGKey(1))[0], drop.loss_fn(p, b)[0])

    ll, (loss0, m0), (loss1, m1), a, c = jax.tree_util.tree_map(np.asarray, everything(params, batch))
    n = float(batch["decoder_loss_weights"].sum())
    np.testing.assert_allclose(float(loss0), -ll.sum() / n, rtol=1e-5)
    np.testing.assert_allclose(float(m1["cross_ent_loss"]), -ll.sum() / 100.0, rtol=1e-5)
    assert float(m1["z_loss"]) > 0 and float(m1["weight_sum"]) == n
    np.testing.assert_allclose(float(loss1), float(m1["cross_ent_loss"] + m1["z_loss"]), rtol=1e-6)
    assert 0.0 <= float(m0["accuracy"]) <= 1.0
    assert np.isfinite([a, c]).all() and a != c  # dropout active only with an rng
    assert abs(c - float(loss0)) < 0.05 * abs(float(loss0))  # bf16 activations, no dropout


def test_predict_with_sharded_params(tiny):
    import flax.linen as nn
    from jax.sharding import Mesh

    model, params, enc = tiny
    if len(jax.devices()) < 8:
        pytest.skip("needs 8 (virtual) devices; tests/conftest.py sets XLA_FLAGS for that")
    mesh = Mesh(np.array(jax.devices()[:8]).reshape(2, 4), ("data", "model"))
    rules = [("batch", "data"), ("vocab", "model"), ("mlp", "model"), ("heads", "model"), ("joined_kv", "model"),
             ("embed", None), ("kv", None), ("relpos_buckets", None), ("layers", None), ("length", None)]
    shardings = nn.logical_to_mesh_sharding(model.param_logical_axes(), mesh, rules)
    sharded = jax.device_put(params, shardings)
    assert len(sharded["decoder"]["logits_dense"]["kernel"].sharding.device_set) == 8
    ref = np.asarray(model.predict_batch(params, enc, max_decode_length=6))
    enc4 = np.concatenate([enc, enc[:1]])  # batch divisible by the data axis
    with jax.set_mesh(mesh), nn.logical_axis_rules(rules):
        out = np.asarray(model.predict_batch(sharded, enc4, max_decode_length=6))
    np.testing.assert_array_equal(out[:3], ref)
