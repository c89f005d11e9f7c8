"""snitk.models.checkpoint: save/load, restore into shardings, MODEL_DIR resolution, streaming leaves, fingerprint."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp
import pytest

from snitk.errors import CheckpointError
from snitk.models import checkpoint as ck

CONFIG = {
    "vocab_size": 32,
    "emb_dim": 8,
    "num_heads": 2,
    "num_encoder_layers": 1,
    "num_decoder_layers": 2,
    "head_dim": 4,
    "mlp_dim": 16,
    "mlp_activations": ["gelu", "linear"],
    "dropout_rate": 0.0,
    "logits_via_embedding": False,
    "dtype": "float32",
    "param_dtype": "float32",
    "relative_attention_num_buckets": 32,
    "relative_attention_max_distance": 128,
    "layer_norm_epsilon": 1e-6,
    "scan_layers": False,
    "remat_policy": "none",
}


def _as_dict(cfg):
    return cfg.to_dict() if hasattr(cfg, "to_dict") else dict(cfg)


def _params(seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    return {
        "token_embedder": {"embedding": rng.normal(size=(32, 8)).astype(np.float32)},
        "encoder": {
            "layers_0": {"attention": {"query": {"kernel": rng.normal(size=(8, 8)).astype(np.float32)}}},
            "encoder_norm": {"scale": jnp.asarray(rng.normal(size=(8,)), jnp.float32)},
        },
        "decoder": {"logits_dense": {"kernel": rng.normal(size=(8, 32)).astype(np.float32)}},
    }


def _assert_same(a, b):
    fa, fb = ck.flatten_params(a), ck.flatten_params(b)
    assert sorted(fa) == sorted(fb)
    for k in fa:
        np.testing.assert_array_equal(np.asarray(fa[k]), np.asarray(fb[k]), err_msg=k)


def test_save_load_roundtrip_and_fingerprint(tmp_path):
    params = _params()
    ck.save_model(tmp_path / "ck", CONFIG, params)
    assert ck.is_checkpoint_dir(tmp_path / "ck")
    cfg, loaded = ck.load_model(tmp_path / "ck")
    assert _as_dict(cfg)["num_decoder_layers"] == 2 and _as_dict(cfg)["vocab_size"] == 32
    _assert_same(params, loaded)
    assert isinstance(loaded["decoder"]["logits_dense"]["kernel"], jax.Array)
    assert ck.fingerprint(params) == ck.fingerprint(loaded)
    # one changed element changes the fingerprint
    changed = ck.unflatten_params(dict(ck.flatten_params(params)))
    k = np.array(changed["encoder"]["layers_0"]["attention"]["query"]["kernel"])
    k[3, 5] = np.nextafter(k[3, 5], np.float32(np.inf))
    changed["encoder"]["layers_0"]["attention"]["query"]["kernel"] = k
    assert ck.fingerprint(changed) != ck.fingerprint(params)
    # the metadata tree has shapes and dtypes without loading
    meta = ck.params_metadata(tmp_path / "ck")
    assert meta["token_embedder"]["embedding"].shape == (32, 8)
    # no overwrite by accident
    with pytest.raises(CheckpointError, match="already exists"):
        ck.save_model(tmp_path / "ck", CONFIG, params)
    ck.save_model(tmp_path / "ck", CONFIG, _params(1), overwrite=True)
    assert ck.fingerprint(ck.load_model(tmp_path / "ck")[1]) == ck.fingerprint(_params(1))


def test_lazy_leaves_are_loaded_once_each(tmp_path):
    params = _params()
    flat = ck.flatten_params(params)
    calls: list[str] = []

    def loader(name):
        def load():
            calls.append(name)
            return np.asarray(flat[name])

        return load

    lazy = ck.unflatten_params(
        {n: ck.LazyArray(np.shape(v), np.float32, loader(n)) for n, v in flat.items()}
    )
    ck.save_model(tmp_path / "lazy", CONFIG, lazy)
    assert sorted(calls) == sorted(flat)
    _assert_same(params, ck.load_model(tmp_path / "lazy")[1])

    bad = {"x": ck.LazyArray((2, 2), np.float32, lambda: np.zeros((3,), np.float32))}
    with pytest.raises(Exception, match="expected"):
        ck.save_model(tmp_path / "bad", CONFIG, bad)


def test_restore_into_shardings_and_dtype(tmp_path):
    devices = jax.devices()
    if len(devices) < 8:
        pytest.skip("needs 8 (virtual) devices; conftest sets XLA_FLAGS")
    params = _params()
    ck.save_model(tmp_path / "ck", CONFIG, params)
    mesh = jax.sharding.Mesh(np.array(devices[:8]).reshape(2, 4), ("data", "model"))
    P, NS = jax.sharding.PartitionSpec, jax.sharding.NamedSharding
    shardings = {
        "token_embedder": {"embedding": NS(mesh, P("model", "data"))},
        "encoder": {
            "layers_0": {"attention": {"query": {"kernel": NS(mesh, P("data", "model"))}}},
            "encoder_norm": {"scale": NS(mesh, P())},
        },
        "decoder": {"logits_dense": {"kernel": NS(mesh, P(None, "model"))}},
    }
    _, loaded = ck.load_model(tmp_path / "ck", shardings=shardings)
    emb = loaded["token_embedder"]["embedding"]
    assert emb.sharding == shardings["token_embedder"]["embedding"]
    assert emb.addressable_shards[0].data.shape == (8, 4)
    _assert_same(params, loaded)
    _, bf = ck.load_model(tmp_path / "ck", shardings=shardings, dtype=jnp.bfloat16)
    assert bf["decoder"]["logits_dense"]["kernel"].dtype == jnp.bfloat16
    np.testing.assert_allclose(
        np.asarray(bf["decoder"]["logits_dense"]["kernel"], np.float32),
        params["decoder"]["logits_dense"]["kernel"],
        rtol=1e-2,
    )
    with pytest.raises(CheckpointError, match="shardings"):
        ck.load_model(tmp_path / "ck", shardings={"token_embedder": shardings["token_embedder"]})


def test_resolve_model_dir_picks_latest_complete_training_checkpoint(tmp_path):
    model_dir = tmp_path / "model"
    opts = ocp.CheckpointManagerOptions(step_prefix=ck.STEP_PREFIX, max_to_keep=5)
    with ocp.CheckpointManager(model_dir, options=opts) as mngr:
        for step, seed in ((10, 0), (20, 1)):
            p = _params(seed)
            mngr.save(
                step,
                args=ocp.args.Composite(
                    params=ocp.args.StandardSave(p),
                    model_config=ocp.args.JsonSave(CONFIG),
                    opt_state=ocp.args.StandardSave({"v": np.ones((3,), np.float32)}),
                    train_state=ocp.args.JsonSave({"step": step, "seed": 0}),
                ),
            )
        mngr.wait_until_finished()
    # an unfinished later step (a crash mid-write) and unrelated folders are ignored
    (model_dir / "checkpoint_30.orbax-checkpoint-tmp-123" / "params").mkdir(parents=True)
    (model_dir / "checkpoint_40").mkdir()
    (model_dir / "logs").mkdir()
    assert ck.resolve_checkpoint(model_dir) == model_dir / "checkpoint_20"
    assert ck.resolve_checkpoint(model_dir / "checkpoint_10") == model_dir / "checkpoint_10"
    cfg, params = ck.load_model(model_dir)
    assert _as_dict(cfg)["emb_dim"] == 8
    assert ck.fingerprint(params) == ck.fingerprint(_params(1))


def test_relative_checkpoint_paths_load(tmp_path, monkeypatch):
    """`--checkpoint runs/mine` (relative, as the README writes it) works like the absolute path."""
    ck.save_model(tmp_path / "runs" / "mine", CONFIG, _params(2))
    monkeypatch.chdir(tmp_path)
    assert ck.resolve_checkpoint("runs/mine") == tmp_path / "runs" / "mine"
    cfg, params = ck.load_model("runs/mine")
    assert _as_dict(cfg)["emb_dim"] == 8 and ck.fingerprint(params) == ck.fingerprint(_params(2))


def test_clear_errors(tmp_path):
    with pytest.raises(CheckpointError, match="no such"):
        ck.resolve_checkpoint(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match="checkpoint_<step>"):
        ck.load_model(tmp_path / "empty")
