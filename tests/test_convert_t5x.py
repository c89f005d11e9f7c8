"""T5X checkpoint import: the shared t5x fixture (both layouts) and a T5X-layout checkpoint written here."""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path

import ml_dtypes
import msgpack
import numpy as np
import pytest
import tensorstore as ts

from conftest import require_shared, t5x_fixture_batch, t5x_fixture_examples
from snitk.errors import CheckpointError
from snitk.models import checkpoint as ck
from snitk.models.convert import main as convert_main
from snitk.models.convert.t5x import import_t5x, parse_gin_t5config


def _sha(arr) -> str:
    return hashlib.sha256(np.ascontiguousarray(np.asarray(arr), dtype="<f4").tobytes()).hexdigest()


@pytest.fixture(scope="module")
def fixture_dir() -> Path:
    return require_shared("t5x-tiny-checkpoint")


@pytest.fixture(scope="module")
def imported(fixture_dir, tmp_path_factory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("t5x")
    # legacy through the Python API, orbax through the CLI (config from the gin file beside it)
    import_t5x(fixture_dir / "legacy" / "checkpoint_2000", out / "legacy")
    rc = convert_main(["--from", "t5x", "--src", str(fixture_dir / "orbax" / "checkpoint_2000"), "--dst", str(out / "orbax")])
    assert rc == 0
    return {"legacy": out / "legacy", "orbax": out / "orbax"}


@pytest.mark.parametrize("layout", ["legacy", "orbax"])
def test_fixture_layouts_import_bit_exact(fixture_dir, imported, layout):
    ref = {p["name"]: p for p in json.loads((fixture_dir / "params.json").read_text())["params"]}
    cfg, params = ck.load_model(imported[layout])
    flat = ck.flatten_params(params)
    assert sorted(flat) == sorted(ref)
    for name, value in flat.items():
        assert list(np.shape(value)) == ref[name]["shape"], name
        assert _sha(value) == ref[name]["sha256_le_c_order"], name
    d = cfg.to_dict() if hasattr(cfg, "to_dict") else cfg
    # README "Model hyperparameters" table
    assert (d["vocab_size"], d["emb_dim"], d["num_heads"], d["head_dim"]) == (120, 64, 4, 16)
    assert (d["num_encoder_layers"], d["num_decoder_layers"], d["mlp_dim"]) == (2, 3, 128)
    assert tuple(d["mlp_activations"]) == ("gelu", "linear") and d["logits_via_embedding"] is False


def test_gin_parsing_resolves_macros(tmp_path):
    gin = tmp_path / "config.gin"
    gin.write_text(
        "from t5x.examples.t5 import network\nDROPOUT_RATE = 0.1\nEMB = 32\n"
        "network.T5Config.dropout_rate = %DROPOUT_RATE\nnetwork.T5Config.emb_dim = %EMB  # comment\n"
        "network.T5Config.mlp_activations = (\n    'gelu',\n    'linear')\nnetwork.T5Config.dtype = 'bfloat16'\n"
        "network.T5Config.float32_attention_logits = True\nnetwork.Transformer.config = @network.T5Config()\n"
    )
    got = parse_gin_t5config(gin)
    assert got == {"dropout_rate": 0.1, "emb_dim": 32, "mlp_activations": ("gelu", "linear"), "dtype": "bfloat16"}


def test_fixture_log_likelihoods_and_greedy(fixture_dir, imported):
    model_mod = pytest.importorskip("snitk.models.model")
    rows = t5x_fixture_examples(fixture_dir)
    cfg, params = ck.load_model(imported["legacy"])
    model = model_mod.EncoderDecoderModel(cfg)
    batch = t5x_fixture_batch(rows)
    ll = np.asarray(model.score_batch(params, batch))
    np.testing.assert_allclose(ll, [r["log_likelihood"] for r in rows], atol=1e-4, rtol=0)
    try:
        from snitk.models import decoding  # noqa: F401
    except ImportError:
        pytest.skip("snitk.models.decoding not available yet; log-likelihoods checked")
    pred = np.asarray(model.predict_batch(params, batch["encoder_input_tokens"], max_decode_length=12))
    np.testing.assert_array_equal(pred, [r["greedy_ids"] for r in rows])


# --------------------------------------------------------------------------------------------------
# A checkpoint in t5x's legacy layout written by this test (README of the fixture documents it)
# --------------------------------------------------------------------------------------------------
ENC, DEC, EMB, HEADS, HD, MLP, VOCAB = 1, 2, 16, 2, 8, 24, 40


def _t5x_shapes() -> dict[str, tuple[int, ...]]:
    s = {"token_embedder/embedding": (VOCAB, EMB), "decoder/logits_dense/kernel": (EMB, VOCAB),
         "encoder/relpos_bias/rel_embedding": (HEADS, 32), "decoder/relpos_bias/rel_embedding": (HEADS, 32),
         "encoder/encoder_norm/scale": (EMB,), "decoder/decoder_norm/scale": (EMB,)}
    mlp = {"wi_0": (EMB, MLP), "wi_1": (EMB, MLP), "wo": (MLP, EMB)}
    for i in range(ENC):
        p = f"encoder/layers_{i}"
        s[f"{p}/pre_attention_layer_norm/scale"] = s[f"{p}/pre_mlp_layer_norm/scale"] = (EMB,)
        for k in ("query", "key", "value", "out"):
            s[f"{p}/attention/{k}/kernel"] = (EMB, HEADS * HD)
        for k, v in mlp.items():
            s[f"{p}/mlp/{k}/kernel"] = v
    for i in range(DEC):
        p = f"decoder/layers_{i}"
        for n in ("pre_self_attention_layer_norm", "pre_cross_attention_layer_norm", "pre_mlp_layer_norm"):
            s[f"{p}/{n}/scale"] = (EMB,)
        for a in ("self_attention", "encoder_decoder_attention"):
            for k in ("query", "key", "value", "out"):
                s[f"{p}/{a}/{k}/kernel"] = (EMB, HEADS * HD)
        for k, v in mlp.items():
            s[f"{p}/mlp/{k}/kernel"] = v
    return s


def _inline(arr: np.ndarray) -> msgpack.ExtType:
    return msgpack.ExtType(1, msgpack.packb([list(arr.shape), arr.dtype.name, arr.tobytes()]))


def test_self_written_t5x_legacy_checkpoint(tmp_path):
    rng = np.random.default_rng(7)
    ckpt = tmp_path / "checkpoint_100"
    ckpt.mkdir()
    values, target = {}, {}
    kinds = {"inline": 0, "chunked": 0, "bfloat16": 0, "float32": 0}
    for n, (name, shape) in enumerate(sorted(_t5x_shapes().items())):
        arr = rng.normal(size=shape).astype(np.float32)
        values[name] = arr
        node = target
        parts = name.split("/")
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        if n % 5 == 0:  # some leaves inline in the msgpack file
            node[parts[-1]] = _inline(arr)
            kinds["inline"] += 1
            continue
        if n % 5 == 1 and len(shape) == 1:  # flax's chunked form of a big inline array (split flat)
            flat = arr.ravel()
            node[parts[-1]] = {"__msgpack_chunked_array__": True, "shape": {str(i): d for i, d in enumerate(shape)},
                               "chunks": {"0": _inline(flat[:5]), "1": _inline(flat[5:])}}
            kinds["chunked"] += 1
            continue
        stored = "float32"
        if n % 7 == 3:  # some arrays stored as bfloat16 (the importer casts to float32)
            stored = "bfloat16"
            arr = arr.astype(ml_dtypes.bfloat16)
            values[name] = arr.astype(np.float32)
        kinds[stored] += 1
        folder = "target." + name.replace("/", ".")
        chunks = [max(1, d // 3) for d in shape]  # several chunks per array
        spec = {"driver": "zarr", "dtype": stored,
                "kvstore": {"driver": "file", "path": str(ckpt / folder) + "/"},
                "metadata": {"shape": list(shape), "chunks": chunks, "compressor": {"id": "gzip", "level": 1}}}
        store = ts.open(spec, create=True).result()
        store.write(arr).result()
        # as t5x records it: path relative to the checkpoint directory
        node[parts[-1]] = {"driver": "zarr", "dtype": stored, "kvstore": {"driver": "file", "path": folder + "/"},
                           "metadata": spec["metadata"]}
    assert all(kinds[k] > 0 for k in ("inline", "chunked", "bfloat16", "float32")), kinds
    first = ckpt / "target.encoder.layers_0.attention.query.kernel"
    assert len([p for p in first.iterdir() if not p.name.startswith(".")]) > 1, "test must write multi-chunk arrays"
    # and the chunks really are gzip streams
    chunk = next(p for p in first.iterdir() if not p.name.startswith("."))
    gzip.decompress(chunk.read_bytes())
    state = {"step": _inline(np.array(100, np.int32)), "param_states": {}}
    (ckpt / "checkpoint").write_bytes(msgpack.packb({"version": 3, "optimizer": {"target": target, "state": state}}))
    cfg_json = tmp_path / "model.json"
    cfg_json.write_text(json.dumps({"dropout_rate": 0.0, "dtype": "float32"}))

    rc = convert_main(["--from", "t5x", "--src", str(ckpt), "--dst", str(tmp_path / "out"), "--config", str(cfg_json)])
    assert rc == 0
    cfg, params = ck.load_model(tmp_path / "out")
    d = cfg.to_dict() if hasattr(cfg, "to_dict") else cfg
    assert (d["num_encoder_layers"], d["num_decoder_layers"], d["head_dim"], d["mlp_dim"]) == (ENC, DEC, HD, MLP)
    flat = ck.flatten_params(params)
    assert sorted(flat) == sorted(values)
    for name, arr in values.items():
        np.testing.assert_array_equal(np.asarray(flat[name]), arr, err_msg=name)

    # a bfloat16 import casts on the way
    import_t5x(ckpt, tmp_path / "bf16", config=str(cfg_json), dtype="bfloat16")
    _, bf = ck.load_model(tmp_path / "bf16")
    got = np.asarray(ck.flatten_params(bf)["decoder/logits_dense/kernel"])
    assert got.dtype.name == "bfloat16"
    np.testing.assert_allclose(got.astype(np.float32), values["decoder/logits_dense/kernel"], rtol=1e-2)


def test_not_a_t5x_checkpoint(tmp_path):
    with pytest.raises(CheckpointError, match="not a T5X checkpoint"):
        import_t5x(tmp_path, tmp_path / "out")
    assert convert_main(["--from", "t5x", "--src", str(tmp_path), "--dst", str(tmp_path / "out")]) == 1


def test_relative_source_with_dotdot_gives_tensorstore_a_normalised_path(tmp_path, monkeypatch):
    """tensorstore rejects '..' in file paths; `--src ../shared/ckpt` (as in the README) must still load."""
    from snitk.models.convert.t5x import _local_spec

    (tmp_path / "repo").mkdir()
    monkeypatch.chdir(tmp_path / "repo")
    spec = _local_spec({"driver": "zarr", "kvstore": {"driver": "file", "path": "target.a.b/"}}, Path("../ckpt"))
    assert spec["kvstore"]["path"] == f"{tmp_path}/ckpt/target.a.b/"
