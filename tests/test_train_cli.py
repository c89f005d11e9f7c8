"""The t5x-style CLI: bad gin fails before compute, dry runs of the pod configs, an end-to-end run."""

import json
import re

import gin
import jax
import pytest

from snitk.training.train import main

SMOKE = "--gin_file=experiments/smoke_synthetic_cpu.gin"


@pytest.mark.parametrize("args, expected", [
    (["--gin.train.nonexistent=1"], "nonexistent"),
    (["--gin.TRAIN_STEPS='many'"], "train.train_steps"),
    (["--gin.TASK_FEATURE_LENGTHS=[1, 2]"], "train.task_feature_lengths"),
    (["--gin.trian.seed=1"], "trian"),
    (["--gin.partitioning.mesh_shape=(1, 2, 3)"], "mesh_shape"),
    (["--gin.optimizer.name='lamb'"], "optimizer.name"),
    (["--gin_file=no/such/file.gin"], "no/such/file.gin"),
    (["--learning_rate=3"], "--learning_rate"),
])
def test_bad_config_fails_before_compute(tmp_path, capsys, args, expected):
    model_dir = tmp_path / "m"
    rc = main([SMOKE, f"--gin.MODEL_DIR='{model_dir}'", *args])
    err = capsys.readouterr().err
    assert rc == 2 and "ConfigError" in err and expected in err, err
    assert not model_dir.exists()


def test_missing_required_macro(tmp_path, capsys):
    rc = main(["--gin_file=runs/train.gin", "--gin_file=models/t5_1_1_tiny.gin"])
    err = capsys.readouterr().err
    assert rc == 2 and ("MODEL_DIR" in err or "model_dir" in err), err


@pytest.mark.parametrize("config, params_b", [("tk_instruct_11b_tpu_v3_256", 11.1e9),
                                              ("mtk_instruct_13b_tpu_v3_256", 12.9e9)])
def test_pod_dry_runs_fit_16gib_per_core(tmp_path, capsys, config, params_b):
    rc = main([f"--gin_file=experiments/{config}.gin", f"--gin.MODEL_DIR='{tmp_path}/m'", "--dry_run"])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "mesh: data=32 x model=8 (256 devices)" in out
    n = int(re.search(r"parameters: ([\d,]+)", out).group(1).replace(",", ""))
    assert abs(n - params_b) / params_b < 0.01
    total = float(re.search(r"total\s+([\d.]+) GiB", out).group(1))
    assert 1.0 < total < 16.0 and "FITS" in out
    assert "decoder/layers_*/mlp/wi_0/kernel" in out and "('data', 'model')" in out
    # without FSDP the same model does not fit: the planner is not a rubber stamp
    rc = main([f"--gin_file=experiments/{config}.gin", f"--gin.MODEL_DIR='{tmp_path}/m'", "--dry_run",
               "--gin.partitioning.fsdp=False", "--gin.train.num_microbatches=1", "--gin.model.overrides={}"])
    assert "DOES NOT FIT" in capsys.readouterr().out


def test_end_to_end_run_from_init_checkpoint_with_preemption(tmp_path, capsys):
    """INIT_CHECKPOINT, metrics.jsonl, TensorBoard, operative config, eval hook; SIGTERM (sent by the
    hook at step 3) saves a checkpoint and returns 143; the rerun continues from it."""
    import os
    import signal

    from snitk.models import EncoderDecoderModel, get_preset
    from snitk.models.checkpoint import fingerprint, load_model, save_model

    calls = []

    def hook(params, step):
        calls.append(step)
        if step == 3:
            os.kill(os.getpid(), signal.SIGTERM)  # preemption notice
        return {"score": float(step)}

    gin.external_configurable(hook, "test_cli_eval_hook")
    cfg = get_preset("t5_1_1_tiny", vocab_size=128, emb_dim=32, num_heads=4, head_dim=8, mlp_dim=64,
                     num_encoder_layers=1, num_decoder_layers=1)
    init = tmp_path / "init"
    save_model(init, cfg, EncoderDecoderModel(cfg).init_params(jax.random.key(7)))
    model_dir = tmp_path / "run"
    args = [SMOKE, f"--gin.MODEL_DIR='{model_dir}'", "--gin.TRAIN_STEPS=6", "--gin.SAVE_PERIOD=100",
            f"--gin.INIT_CHECKPOINT='{init}'", "--gin.LEARNING_RATE=0.0", "--gin.train.log_period=2",
            "--gin.train.eval_hook=@test_cli_eval_hook", "--gin.train.eval_period=3", "--gin.NUM_PARTITIONS=2"]
    assert main(args) == 143, capsys.readouterr().err  # preempted: saved, then the requeue status
    assert sorted(p.name for p in model_dir.glob("checkpoint_*")) == ["checkpoint_3"]  # saved on SIGTERM
    assert main(args) == 0, capsys.readouterr().err  # resumes from step 3
    assert sorted(p.name for p in model_dir.glob("checkpoint_*")) == ["checkpoint_3", "checkpoint_6"]
    rows = [json.loads(line) for line in (model_dir / "metrics.jsonl").read_text().splitlines()]
    train_rows = [r for r in rows if "loss" in r]
    assert [r["step"] for r in train_rows] == [2, 4, 6]
    for r in train_rows:
        assert set(r) >= {"step", "loss", "z_loss", "learning_rate", "grad_norm", "tokens_per_second", "step_time"}
        assert r["tokens_per_second"] > 0 and r["learning_rate"] == 0.0
    assert calls == [3, 6] and [r["eval/score"] for r in rows if "eval/score" in r] == [3.0, 6.0]
    operative = (model_dir / "config.gin").read_text()
    assert "TRAIN_STEPS = 6" in operative and "train.train_steps = %TRAIN_STEPS" in operative
    assert list((model_dir / "tensorboard").glob("events.out.tfevents.*"))
    # lr 0: the final parameters are exactly the INIT_CHECKPOINT's
    assert fingerprint(load_model(model_dir)[1]) == fingerprint(load_model(init)[1])
    # rerunning a finished run is a no-op
    assert main(args) == 0 and calls == [3, 6]


def test_search_paths_and_local_dry_run(tmp_path, capsys):
    (tmp_path / "mine.gin").write_text("include 'experiments/smoke_synthetic_cpu.gin'\nBATCH_SIZE = 16\n")
    rc = main([f"--gin_search_paths={tmp_path}", "--gin_file", "mine.gin", f"--gin.MODEL_DIR='{tmp_path}/m'",
               "--gin.NUM_PARTITIONS=4", "--dry_run"])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "8 local devices" in out and "mesh: data=2 x model=4 (8 devices)" in out and "batch 16" in out
    assert not (tmp_path / "m").exists()  # a dry run writes nothing
