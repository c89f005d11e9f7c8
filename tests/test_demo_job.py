"""`snitk demo` end to end at smoke scale: fine-tune the shipped pre-trained model a few steps (or train from
scratch), evaluate, score baselines, write the outputs."""

from __future__ import annotations

import json

import pytest
from PIL import Image

from snitk.demo import run as demo
from snitk.demo.pretrain import SHIPPED
from snitk.errors import ConfigError

SMOKE = ["--gin", "TRAIN_STEPS = 3", "--gin", "SAVE_PERIOD = 3", "--gin", "BATCH_SIZE = 8",
         "--gin", "TASK_FEATURE_LENGTHS = {'inputs': 192, 'targets': 16}",
         "--max-per-task", "2", "--max-decode-length", "4", "--batch-size", "32"]


def test_demo_job_writes_metrics_report_and_plot(tmp_path, capsys):
    out = tmp_path / "demo"
    assert demo.main(["--output-dir", str(out), "--no-ablation", *SMOKE]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics) == {"model", "copy_demo", "copy_input", "per_task"}
    held_out = 12 * 2  # 12 held-out default-track demo tasks (one per evaluation category), 2 instances each
    for system in ("model", "copy_demo", "copy_input"):
        assert set(metrics[system]) == {"rougeL", "exact_match", "n"}
        assert metrics[system]["n"] == held_out
        assert 0.0 <= metrics[system]["rougeL"] <= 100.0
    assert len(metrics["per_task"]) == 12
    config = (out / "model" / "config.gin").read_text()
    assert f"INIT_CHECKPOINT = '{SHIPPED}'" in config  # the shipped model
    assert "MIXTURE_OR_TASK_NAME = 'snitk_default_def_pos2_relabel100'" in config  # label words substituted
    assert all(set(row) == {"model", "copy_demo", "copy_input"} for row in metrics["per_task"].values())
    # copy_input copies the instance input, so its per-task scores are those of the baseline's own metrics.json
    own = json.loads((out / "eval_copy_input" / "metrics.json").read_text())["per_task"]
    assert {t: r["copy_input"] for t, r in metrics["per_task"].items()} == {t: r["rougeL"] for t, r in own.items()}
    rows = [json.loads(line) for line in (out / "model" / "metrics.jsonl").read_text().splitlines()]
    assert rows and rows[-1]["step"] == 3
    report = (out / "report.md").read_text()
    assert "copy_demo" in report and "ROUGE-L per task" in report
    with Image.open(out / "demo.png") as image:
        assert image.size[0] > 600 and image.size[1] > 300
    assert "snitk demo" in capsys.readouterr().out

    # A rerun finds every stage finished and reproduces the same summary without training again.
    log_before = (out / "model" / "metrics.jsonl").read_text()
    checkpoints = sorted(p.name for p in (out / "model").glob("checkpoint_*"))
    predictions = (out / "eval_model" / "predictions.jsonl").stat().st_mtime_ns
    assert demo.main(["--output-dir", str(out), "--no-ablation", *SMOKE]) == 0
    assert json.loads((out / "metrics.json").read_text())["model"] == metrics["model"]
    assert (out / "model" / "metrics.jsonl").read_text() == log_before
    assert sorted(p.name for p in (out / "model").glob("checkpoint_*")) == checkpoints == ["checkpoint_3"]
    assert (out / "eval_model" / "predictions.jsonl").stat().st_mtime_ns == predictions

    # By default (the ablation): the same model, evaluated with the instance only and the definition only too.
    assert demo.main(["--output-dir", str(out), *SMOKE]) == 0
    with_ablation = json.loads((out / "metrics.json").read_text())
    assert with_ablation["model"] == metrics["model"]
    assert list(with_ablation["ablation"]) == ["instance_only", "def", "def_pos2"]
    assert with_ablation["ablation"]["def_pos2"] == metrics["model"]  # the main evaluation, not a second one
    for enc in ("instance_only", "def"):
        own = json.loads((out / f"eval_model_{enc}" / "metrics.json").read_text())
        assert own["settings"]["encoding"] == enc and own["settings"]["checkpoint"].endswith("checkpoint_3")
        assert with_ablation["ablation"][enc]["n"] == held_out
    assert "What the instruction does" in (out / "report.md").read_text()
    assert (out / "model" / "metrics.jsonl").read_text() == log_before  # not trained again
    with Image.open(out / "demo.png") as image:
        assert image.size[0] > 1500  # the third panel


def test_from_scratch_starts_from_random_weights_and_another_vocabulary_needs_it(tmp_path, monkeypatch):
    out = tmp_path / "scratch"
    assert demo.main(["--output-dir", str(out), "--no-ablation", "--from-scratch", *SMOKE]) == 0
    assert "INIT_CHECKPOINT = None" in (out / "model" / "config.gin").read_text()
    assert json.loads((out / "metrics.json").read_text())["model"]["n"] == 12 * 2
    other = tmp_path / "other.model"
    other.write_bytes(b"not the bundled vocabulary")
    monkeypatch.setenv("SNITK_VOCAB", str(other))
    with pytest.raises(ConfigError, match="--from-scratch"):
        demo.main(["--output-dir", str(tmp_path / "other"), *SMOKE])
    assert not (tmp_path / "other").exists()


def test_per_task_table_merges_systems():
    table = demo.per_task_table({"model": {"per_task": {"b": {"rougeL": 1.0}, "a": {"rougeL": 2.0}}},
                                 "copy_demo": {"per_task": {"a": {"rougeL": 3.0}}}})
    assert list(table) == ["a", "b"]
    assert table == {"a": {"model": 2.0, "copy_demo": 3.0}, "b": {"model": 1.0}}


def test_small_model_cpu_flags_keep_the_users_setting():
    from snitk.xla_cpu import YNN_FUSIONS_OFF, use_small_model_cpu_flags

    env: dict[str, str] = {}
    assert use_small_model_cpu_flags(env) and env["XLA_FLAGS"] == YNN_FUSIONS_OFF
    assert not use_small_model_cpu_flags(env) and env["XLA_FLAGS"] == YNN_FUSIONS_OFF
    env = {"XLA_FLAGS": "--xla_force_host_platform_device_count=8"}
    assert use_small_model_cpu_flags(env)
    assert env["XLA_FLAGS"].split() == ["--xla_force_host_platform_device_count=8", YNN_FUSIONS_OFF]
    env = {"XLA_FLAGS": "--xla_cpu_experimental_ynn_fusion_type=kDot"}
    assert not use_small_model_cpu_flags(env) and env["XLA_FLAGS"] == "--xla_cpu_experimental_ynn_fusion_type=kDot"


def test_installed_jaxlib_accepts_the_cpu_flag_and_computes_the_same():
    """XLA aborts on unknown flags: this fails loudly if a jaxlib upgrade drops the flag."""
    import os
    import subprocess
    import sys

    from snitk.xla_cpu import YNN_FUSIONS_OFF

    code = ("import jax, jax.numpy as jnp, numpy as np; r = np.random.RandomState(0); "
            "a, b = r.randn(64, 128).astype('f4'), r.randn(128, 32).astype('f4'); "
            "print(float(np.abs(np.asarray(jnp.dot(a, b)) - a @ b).max()))")
    env = {**os.environ, "XLA_FLAGS": YNN_FUSIONS_OFF, "JAX_PLATFORMS": "cpu"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert float(out.stdout.strip().splitlines()[-1]) < 1e-3
