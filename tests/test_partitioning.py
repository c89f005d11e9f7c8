"""Mesh + logical-axis rules; the same loss on every (data, model) mesh of 8 CPU devices."""

import jax
import numpy as np
import pytest
from jax.sharding import PartitionSpec as P

from snitk.errors import ConfigError
from snitk.training.optim import make_optimizer
from snitk.training.partitioning import (MeshShape, Partitioner, logical_to_mesh_spec, mesh_shape_for,
                                         opt_state_mesh_specs, params_mesh_specs, per_device_bytes,
                                         standard_logical_axis_rules)

TINY = dict(vocab_size=128, emb_dim=32, num_heads=8, head_dim=4, mlp_dim=64, num_encoder_layers=1,
            num_decoder_layers=1, dtype="float32")


def tiny_model():
    from snitk.models import EncoderDecoderModel, get_preset

    return EncoderDecoderModel(get_preset("t5_1_1_tiny", **TINY))


def test_rules_map_logical_names_like_t5x():
    rules = standard_logical_axis_rules()
    sizes = {"data": 4, "model": 2}
    assert logical_to_mesh_spec(P("batch", "length"), rules, axis_sizes=sizes) == P("data")
    assert logical_to_mesh_spec(P("embed", "mlp"), rules, shape=(8, 16), axis_sizes=sizes) == P(None, "model")
    assert logical_to_mesh_spec(P("vocab", "embed"), rules, shape=(16, 8), axis_sizes=sizes) == P("model")
    fsdp = standard_logical_axis_rules(fsdp=True)
    assert logical_to_mesh_spec(P("embed", "joined_kv"), fsdp, shape=(8, 16), axis_sizes=sizes) == P("data", "model")
    # a mesh axis is used once; an indivisible dimension is replicated
    assert logical_to_mesh_spec(P("heads", "mlp"), rules, shape=(4, 4), axis_sizes=sizes) == P("model")
    assert logical_to_mesh_spec(P("vocab", "embed"), rules, shape=(15, 8), axis_sizes=sizes) == P()
    with pytest.raises(ConfigError, match="no partitioning rule"):
        logical_to_mesh_spec(P("nonsense"), rules)


def test_mesh_shapes_and_errors():
    assert mesh_shape_for(8, 2) == (4, 2)
    assert mesh_shape_for(256, 8) == (32, 8)
    assert mesh_shape_for(8, mesh_shape=(1, 8)) == (1, 8)
    with pytest.raises(ConfigError):
        mesh_shape_for(8, 3)
    with pytest.raises(ConfigError):
        mesh_shape_for(8, mesh_shape=(2, 2))
    part = Partitioner(mesh_shape=(2, 4))
    assert part.mesh.axis_names == ("data", "model") and part.mesh.devices.shape == (2, 4)


def test_abstract_pod_memory_is_sharded_without_devices():
    model = tiny_model()
    abstract = model.abstract_params()
    pod = MeshShape(32, 8)
    rules = standard_logical_axis_rules(fsdp=True)
    specs = params_mesh_specs(abstract, model.param_logical_axes(), rules, pod.axis_sizes)
    full = per_device_bytes(abstract, jax.tree.map(lambda _: P(), abstract), {})
    sharded = per_device_bytes(abstract, specs, pod.axis_sizes)
    assert sharded < full / 8
    opt = make_optimizer("adafactor", 1e-3)
    ostate = jax.eval_shape(opt.init, abstract)
    ospecs = opt_state_mesh_specs(ostate, abstract, specs)
    assert jax.tree.structure(ostate) == jax.tree.structure(
        jax.tree.map(lambda s: 0, ospecs, is_leaf=lambda x: isinstance(x, P)))


def _batches(n, bsz=8, li=12, lt=6, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        enc = rng.integers(3, 128, size=(bsz, li)).astype(np.int32)
        tgt = rng.integers(3, 128, size=(bsz, lt)).astype(np.int32)
        enc[:, -3:] = 0
        tgt[:, -2:] = 0
        dec_in = np.concatenate([np.zeros((bsz, 1), np.int32), tgt[:, :-1]], axis=1)
        out.append({"encoder_input_tokens": enc, "decoder_input_tokens": dec_in, "decoder_target_tokens": tgt,
                    "decoder_loss_weights": (tgt > 0).astype(np.int32)})
    return out


def _losses(mesh_shape, batches, params, fsdp=False):
    from snitk.training.data import to_global_arrays
    from snitk.training.trainer import Trainer

    n = mesh_shape[0] * mesh_shape[1]
    part = Partitioner(mesh_shape=mesh_shape, fsdp=fsdp, devices=jax.devices()[:n])
    # SGD with momentum: a sharded optimizer state that is cheap to compile five times
    trainer = Trainer(tiny_model(), make_optimizer("sgd", 0.5, momentum=0.9), part, seed=0)
    state = trainer.state_from_params(params)
    losses = []
    for b in batches:
        state, m = trainer.train_step(state, to_global_arrays(b, part.data_sharding))
        losses.append(float(m["loss"]))
    # where the parameters live: sharded over the mesh, not replicated, when model > 1
    spec = state["params"]["decoder"]["layers_0"]["mlp"]["wi_0"]["kernel"].sharding.spec
    return losses, spec


def test_same_loss_on_every_mesh():
    assert jax.device_count() >= 8, "conftest sets --xla_force_host_platform_device_count=8"
    batches = _batches(3)
    model = tiny_model()
    params = jax.device_get(jax.jit(model.init_params)(jax.random.key(0)))
    ref, _ = _losses((1, 1), batches, params)
    assert ref[-1] < ref[0]  # it learns
    for shape, fsdp in [((8, 1), False), ((4, 2), False), ((2, 4), True), ((1, 8), False)]:
        got, spec = _losses(shape, batches, params, fsdp)
        np.testing.assert_allclose(got, ref, rtol=0, atol=1e-5, err_msg=f"mesh {shape}")
        if shape[1] > 1:
            assert "model" in tuple(spec)


def test_state_is_created_sharded():
    """init_state creates params and optimizer state directly with their mesh shardings."""
    from snitk.training.trainer import Trainer

    part = Partitioner(mesh_shape=(2, 4))
    trainer = Trainer(tiny_model(), make_optimizer("adafactor", 1e-2), part)
    state = trainer.init_state(0)
    kernel = state["params"]["encoder"]["layers_0"]["mlp"]["wi_0"]["kernel"]  # (embed, mlp)
    assert kernel.sharding.spec == P(None, "model")
    assert kernel.addressable_shards[0].data.shape == (kernel.shape[0], kernel.shape[1] // 4)
    v = state["opt_state"][0].v["encoder"]["layers_0"]["mlp"]["wi_0"]["kernel"]
    assert v.sharding.spec == P(None, "model")
    # the same random init as on one device (sharding-independent RNG)
    one = Trainer(tiny_model(), make_optimizer("adafactor", 1e-2), Partitioner(devices=jax.devices()[:1]))
    np.testing.assert_array_equal(np.asarray(kernel),
                                  np.asarray(one.init_state(0)["params"]["encoder"]["layers_0"]["mlp"]["wi_0"]["kernel"]))
