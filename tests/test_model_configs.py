"""Presets, parameter counts from shapes, config (de)serialisation and the parameter tree layout."""

from __future__ import annotations

import json

import pytest

jax = pytest.importorskip("jax")

from snitk.errors import ConfigError  # noqa: E402
from snitk.models import PRESETS, T5Config, get_preset, num_params  # noqa: E402
from snitk.models.model import EncoderDecoderModel  # noqa: E402


def formula_count(c: T5Config) -> int:
    """Independent count of a T5-1.1-style model from its dimensions."""
    inner = c.num_heads * c.head_dim
    attn = 4 * c.emb_dim * inner
    mlp = (len(c.mlp_activations) + 1) * c.emb_dim * c.mlp_dim
    enc_layer = attn + mlp + 2 * c.emb_dim
    dec_layer = 2 * attn + mlp + 3 * c.emb_dim
    rel = c.num_heads * c.relative_attention_num_buckets
    emb = c.vocab_size * c.emb_dim
    logits = 0 if c.logits_via_embedding else emb
    return emb + logits + c.num_encoder_layers * enc_layer + c.num_decoder_layers * dec_layer + 2 * (c.emb_dim + rel)


def test_xxl_count_is_the_published_number():
    # The T5-1.1 XXL count from the issue (11,135,332,352), computed from shapes only.
    assert num_params(get_preset("t5_1_1_xxl")) == 11_135_332_352
    mt5 = num_params(get_preset("mt5_xxl"))
    assert abs(mt5 - 12.92e9) < 0.01e9
    assert get_preset("mt5_xxl").vocab_size == 250112


@pytest.mark.parametrize("name", ["t5_1_1_tiny", "t5_1_1_small", "mt5_base", "t5_small"])
def test_counts_match_formula(name):
    assert num_params(get_preset(name)) == formula_count(get_preset(name))


def test_published_dimensions():
    small, base, large, xl = (get_preset(f"t5_1_1_{s}") for s in ("small", "base", "large", "xl"))
    assert (small.emb_dim, small.num_encoder_layers, small.num_heads, small.mlp_dim) == (512, 8, 6, 1024)
    assert (base.emb_dim, base.num_encoder_layers, base.num_heads, base.mlp_dim) == (768, 12, 12, 2048)
    assert (large.emb_dim, large.num_encoder_layers, large.num_heads, large.mlp_dim) == (1024, 24, 16, 2816)
    assert (xl.emb_dim, xl.num_encoder_layers, xl.num_heads, xl.mlp_dim) == (2048, 24, 32, 5120)
    assert all(get_preset(n).vocab_size == 32128 for n in PRESETS if n.startswith("t5_"))
    assert get_preset("t5_small").mlp_activations == ("relu",) and get_preset("t5_small").logits_via_embedding


def test_config_roundtrip_and_errors():
    c = get_preset("t5_1_1_base", dropout_rate=0.1, scan_layers=True)
    d = json.loads(json.dumps(c.to_dict()))
    assert T5Config.from_dict(d) == c
    assert c.replace(dropout_rate=0.0).dropout_rate == 0.0
    with pytest.raises(ConfigError, match="t5_1_1_tiny"):
        get_preset("t5_1_1_huge")
    with pytest.raises(ConfigError, match="unknown fields"):
        T5Config.from_dict({**d, "bogus": 1})
    with pytest.raises(ConfigError, match="remat_policy"):
        c.replace(remat_policy="sometimes")


def _flat(tree, is_leaf=None):
    return {"/".join(k.key for k in p): x for p, x in jax.tree_util.tree_flatten_with_path(tree, is_leaf=is_leaf)[0]}


def test_tree_names_axes_and_scan_layout():
    c = T5Config(vocab_size=64, emb_dim=16, num_heads=2, head_dim=8, mlp_dim=32, num_encoder_layers=2,
                 num_decoder_layers=3)
    shapes = _flat(EncoderDecoderModel(c).abstract_params())
    assert shapes["encoder/layers_1/attention/query/kernel"].shape == (16, 16)
    assert shapes["decoder/layers_2/encoder_decoder_attention/out/kernel"].shape == (16, 16)
    assert shapes["decoder/logits_dense/kernel"].shape == (16, 64)
    assert shapes["decoder/relpos_bias/rel_embedding"].shape == (2, 32)
    assert "encoder/layers_0/mlp/wi_0/kernel" in shapes and "decoder/layers_3/mlp/wo/kernel" not in shapes

    scanned = EncoderDecoderModel(c.replace(scan_layers=True))
    s_shapes = _flat(scanned.abstract_params())
    s_axes = _flat(scanned.param_logical_axes(), is_leaf=lambda x: isinstance(x, jax.sharding.PartitionSpec))
    assert s_shapes["decoder/layers/self_attention/key/kernel"].shape == (3, 16, 16)
    assert tuple(s_axes["decoder/layers/self_attention/key/kernel"]) == ("layers", "embed", "joined_kv")
    assert tuple(s_axes["encoder/layers/mlp/wo/kernel"]) == ("layers", "mlp", "embed")
    assert tuple(s_axes["token_embedder/embedding"]) == ("vocab", "embed")
    assert sum(x.size for x in s_shapes.values()) == sum(x.size for x in shapes.values())

    orig = _flat(EncoderDecoderModel(c.replace(mlp_activations=("relu",), logits_via_embedding=True)).abstract_params())
    assert "decoder/logits_dense/kernel" not in orig and "encoder/layers_0/mlp/wi/kernel" in orig


def test_init_params_plain_dict_in_param_dtype():
    c = T5Config(vocab_size=64, emb_dim=16, num_heads=2, head_dim=8, mlp_dim=32, num_encoder_layers=1,
                 num_decoder_layers=1, dtype="bfloat16")
    params = EncoderDecoderModel(c).init_params(jax.random.PRNGKey(0))
    assert type(params) is dict and type(params["encoder"]) is dict
    leaves = jax.tree_util.tree_leaves(params)
    assert all(isinstance(x, jax.Array) and x.dtype == jax.numpy.float32 for x in leaves)
    # t5x initialisation: unit-variance embedding, query kernel scaled down by sqrt(head_dim), norms at one.
    import numpy as np

    assert 0.8 < float(np.std(params["token_embedder"]["embedding"])) < 1.2
    q = float(np.std(params["encoder"]["layers_0"]["attention"]["query"]["kernel"]))
    k = float(np.std(params["encoder"]["layers_0"]["attention"]["key"]["kernel"]))
    assert 0.2 < q / k * np.sqrt(8) < 5  # query ~ key / sqrt(8)
    assert q < k
    np.testing.assert_array_equal(params["encoder"]["encoder_norm"]["scale"], 1.0)
