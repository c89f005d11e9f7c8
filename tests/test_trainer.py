"""Loss details (packing, normalisation) and the NaN guard of the training loop."""

import jax
import numpy as np
import pytest

from snitk.training.optim import make_optimizer
from snitk.training.partitioning import Partitioner


def _converted(pack: bool, examples, lengths):
    import seqio
    import tensorflow as tf

    ds = tf.data.Dataset.from_generator(
        lambda: iter(examples), output_signature={"inputs": tf.TensorSpec([None], tf.int32),
                                                  "targets": tf.TensorSpec([None], tf.int32)})
    ds = seqio.EncDecFeatureConverter(pack=pack)(ds, lengths)
    rows = list(ds.as_numpy_iterator())
    return {k: np.stack([r[k] for r in rows]) for k in rows[0]}


def test_packed_and_unpacked_batches_give_the_same_loss():
    from test_partitioning import tiny_model

    rng = np.random.default_rng(0)
    examples = []
    for n, m in [(9, 4), (5, 3), (12, 5), (7, 2), (4, 4), (10, 3)]:
        examples.append({"inputs": np.append(rng.integers(3, 128, n), 1).astype(np.int32),
                         "targets": np.append(rng.integers(3, 128, m), 1).astype(np.int32)})
    lengths = {"inputs": 32, "targets": 16}
    packed = _converted(True, examples, lengths)
    unpacked = _converted(False, examples, lengths)
    assert packed["encoder_input_tokens"].shape[0] < len(examples) == unpacked["encoder_input_tokens"].shape[0]
    assert packed["encoder_segment_ids"].max() > 1
    model = tiny_model()
    params = jax.jit(model.init_params)(jax.random.key(1))
    f = jax.jit(lambda p, b, n: model.loss_fn(p, b, None, z_loss=1e-4, loss_normalizing_factor=n))
    lp, ap = f(params, packed, None)
    lu, au = f(params, unpacked, None)
    assert float(ap["weight_sum"]) == float(au["weight_sum"]) == sum(len(e["targets"]) for e in examples)
    assert float(lp) == pytest.approx(float(lu), abs=1e-5)
    assert float(ap["z_loss"]) == pytest.approx(float(au["z_loss"]), abs=1e-7)
    assert float(ap["z_loss"]) > 0
    # constant normalisation: the summed loss divided by the constant
    lc, _ = f(params, packed, 1000.0)
    assert float(lc) * 1000.0 == pytest.approx(float(lp) * float(ap["weight_sum"]), rel=1e-5)


def test_trainer_uses_constant_normaliser(tmp_path):
    from snitk.errors import ConfigError
    from snitk.training.trainer import Trainer

    from test_partitioning import tiny_model

    with pytest.raises(ConfigError):
        Trainer(tiny_model(), make_optimizer("sgd", 0.1), Partitioner(devices=jax.devices()[:1]),
                loss_normalizing_factor="per_sequence")
    with pytest.raises(ConfigError):
        Trainer(tiny_model(), make_optimizer("sgd", 0.1), Partitioner(devices=jax.devices()[:1]), num_microbatches=0)


def test_nan_loss_stops_and_keeps_last_good_checkpoint(tmp_path, capsys):
    from snitk.models.checkpoint import load_model
    from snitk.training.train import main

    model_dir = tmp_path / "nan"
    rc = main(["--gin_file=experiments/smoke_synthetic_cpu.gin", f"--gin.MODEL_DIR='{model_dir}'",
               "--gin.TRAIN_STEPS=6", "--gin.SAVE_PERIOD=1", "--gin.optimizer.name='sgd'",
               "--gin.LEARNING_RATE=1e30", "--gin.train.tensorboard=False"])
    err = capsys.readouterr().err
    assert rc == 3, err
    assert "last good checkpoint is kept" in err and "at step" in err
    bad_step = int(err.split("at step ")[1].split(":")[0])
    steps = sorted(int(p.name.split("_")[1]) for p in model_dir.glob("checkpoint_*"))
    assert steps and max(steps) == bad_step - 1
    _, params = load_model(model_dir)
    assert all(np.isfinite(np.asarray(x)).all() for x in jax.tree.leaves(params))


def test_precompiled_train_step_matches_the_jitted_one_and_falls_back_on_other_shapes(caplog):
    """The train step compiled in the background (overlapping init and the first batch) computes exactly what
    the plain jit does; a batch of other shapes is compiled the ordinary way."""
    import logging

    from snitk.training.packing import batch_shapes
    from snitk.training.trainer import Trainer

    from test_partitioning import tiny_model

    lengths, rows = {"inputs": 16, "targets": 8}, 4
    rng = np.random.default_rng(0)
    batch = {k: rng.integers(1 if "segment" in k else 0, 3 if "segment" in k else 100, shape).astype(np.int32)
             for k, shape in batch_shapes(lengths, rows, pack=True).items()}

    def two_steps(precompile: bool, shapes):
        trainer = Trainer(tiny_model(), make_optimizer("adafactor", 0.01), Partitioner(devices=jax.devices()[:1]))
        if precompile:
            trainer.precompile_train_step(shapes)
        state = trainer.init_state(0)
        out = []
        for _ in range(2):
            state, metrics = trainer.train_step(state, batch)
            out.append(float(metrics["loss"]))
        return out, jax.device_get(state["params"])

    plain_losses, plain_params = two_steps(False, None)
    with caplog.at_level(logging.INFO, logger="snitk.training.trainer"):
        pre_losses, pre_params = two_steps(True, batch_shapes(lengths, rows, pack=True))
    assert "waited" in caplog.text
    assert pre_losses == plain_losses
    jax.tree.map(np.testing.assert_array_equal, pre_params, plain_params)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="snitk.training.trainer"):
        other_losses, _ = two_steps(True, batch_shapes(lengths, rows * 2, pack=True))
    assert "waited" not in caplog.text  # the precompiled program is for another batch: not used
    assert other_losses == plain_losses
