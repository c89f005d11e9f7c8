"""Schedules, Adafactor as t5x configures it, and gradient accumulation over microbatches."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from snitk.errors import ConfigError
from snitk.training.optim import make_optimizer, make_schedule


def test_schedules():
    const = make_schedule("constant", 0.01)
    assert float(const(0)) == pytest.approx(0.01) and float(const(10_000)) == pytest.approx(0.01)
    rs = make_schedule("rsqrt", 0.01, warmup_steps=100)
    assert float(rs(0)) < float(rs(50)) < float(rs(99)) == pytest.approx(0.01)
    assert float(rs(400)) == pytest.approx(0.005, rel=1e-5)  # 1/sqrt decay after warmup
    lin = make_schedule("linear", 1.0, warmup_steps=10, total_steps=110)
    assert float(lin(9)) == pytest.approx(1.0)
    assert float(lin(60)) == pytest.approx(0.5)
    assert float(lin(110)) == pytest.approx(0.0, abs=1e-7) and float(lin(500)) == pytest.approx(0.0, abs=1e-7)
    with pytest.raises(ConfigError):
        make_schedule("linear", 1.0)
    with pytest.raises(ConfigError):
        make_schedule("exponential", 1.0)
    with pytest.raises(ConfigError):
        make_optimizer("lamb")


def test_adafactor_factors_large_matrices_and_clips_updates():
    params = {"big": jnp.ones((256, 128)), "small": jnp.ones((64, 32)), "vec": jnp.ones((128,))}
    tx = make_optimizer("adafactor", 1.0, multiply_by_parameter_scale=False)
    state = tx.init(params)
    fact = state[0]
    assert {fact.v_row["big"].shape, fact.v_col["big"].shape} == {(256,), (128,)}  # factored moments
    assert fact.v["small"].shape == (64, 32)  # below min_dim_size_to_factor: full second moment
    # with lr 1 the update RMS is clipped to clipping_threshold (1.0), however large the gradient
    grads = jax.tree.map(lambda p: jnp.full(p.shape, 1e3) * jnp.arange(p.size).reshape(p.shape) / p.size, params)
    updates, _ = tx.update(grads, state, params)
    for u in jax.tree.leaves(updates):
        assert float(jnp.sqrt(jnp.mean(u ** 2))) <= 1.0 + 1e-4
    # decay 0.8 schedule: t5x's beta2_t = 1 - t^-0.8 ; after one step v == g^2 exactly for unfactored
    _, st1 = tx.update(grads, state, params)
    np.testing.assert_allclose(np.asarray(st1[0].v["small"]), np.asarray(grads["small"]) ** 2 + 1e-30, rtol=1e-5)


def test_adamw_and_parameter_scaling():
    params = {"w": jnp.full((4, 4), 10.0)}
    g = {"w": jnp.ones((4, 4))}
    tx = make_optimizer("adafactor", 0.1, multiply_by_parameter_scale=True)
    upd, _ = tx.update(g, tx.init(params), params)
    tx2 = make_optimizer("adafactor", 0.1, multiply_by_parameter_scale=False)
    upd2, _ = tx2.update(g, tx2.init(params), params)
    np.testing.assert_allclose(np.asarray(upd["w"]), 10.0 * np.asarray(upd2["w"]), rtol=1e-4)  # scaled by RMS(w)
    adam = make_optimizer("adamw", 0.1, weight_decay=0.5, max_grad_norm=1.0)
    upd3, _ = adam.update(g, adam.init(params), params)
    assert np.all(np.asarray(upd3["w"]) < 0)


def test_gradient_accumulation_matches_one_batch():
    from test_partitioning import _batches, tiny_model

    from snitk.training.data import to_global_arrays
    from snitk.training.partitioning import Partitioner
    from snitk.training.trainer import Trainer

    model = tiny_model()
    part = Partitioner(mesh_shape=(2, 1), devices=jax.devices()[:2])
    params = jax.jit(model.init_params)(jax.random.key(0))
    batch = _batches(1, bsz=8)[0]
    batch["decoder_loss_weights"][:3, 2:] = 0  # uneven token counts per microbatch
    out = {}
    for m in (1, 4):
        tr = Trainer(model, make_optimizer("sgd", 0.5), part, num_microbatches=m)
        state, metrics = tr.train_step(tr.state_from_params(params), to_global_arrays(batch, part.data_sharding))
        out[m] = (float(metrics["loss"]), float(metrics["weight_sum"]), jax.device_get(state["params"]))
    assert out[1][0] == pytest.approx(out[4][0], abs=1e-5)
    assert out[1][1] == out[4][1]
    for a, b in zip(jax.tree.leaves(out[1][2]), jax.tree.leaves(out[4][2])):
        np.testing.assert_allclose(a, b, atol=1e-5)
