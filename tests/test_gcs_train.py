"""Training, resume, evaluation and the TPU-pod launch commands with MODEL_DIR on a real GCS API (the emulator)."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

from snitk.paths import resolve

REPO = Path(__file__).resolve().parents[1]
STEPS = 12
TRAIN = [sys.executable, "-m", "snitk.train", "--gin_file=experiments/smoke_synthetic_cpu.gin",
         f"--gin.TRAIN_STEPS={STEPS}", "--gin.SAVE_PERIOD=4", "--gin.train.log_period=1",
         "--gin.train.tensorboard=False",  # TensorBoard event files go through TensorFlow's own GCS client
         # the smoke model with an embedding that fits the demo vocabulary the evaluation decodes with
         "--gin.model.overrides={'vocab_size': 3200, 'emb_dim': 32, 'num_heads': 4, 'head_dim': 8, 'mlp_dim': 64, "
         "'num_encoder_layers': 1, 'num_decoder_layers': 1}"]


def _metric_steps(model_dir: str) -> list[dict]:
    return [json.loads(x) for x in (resolve(model_dir) / "metrics.jsonl").read_text().splitlines()]


def test_train_killed_resumed_then_evaluated_from_bucket(gcs_dir, tmp_path):
    from snitk.eval.__main__ import main as eval_main
    from snitk.models.checkpoint import is_checkpoint_dir, resolve_checkpoint
    from snitk.training.checkpoints import read_train_state

    model_dir = f"{gcs_dir}/model"
    cmd = TRAIN + [f"--gin.MODEL_DIR='{model_dir}'"]
    first = subprocess.Popen(cmd, cwd=REPO, stdout=open(tmp_path / "first.log", "wb"), stderr=subprocess.STDOUT)
    committed = resolve(model_dir) / "checkpoint_4" / "commit_success.txt"
    deadline = time.monotonic() + 240
    try:
        while not committed.exists():
            assert first.poll() is None, (tmp_path / "first.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "no checkpoint_4 on the bucket in time"
            time.sleep(0.1)
    finally:
        first.kill()  # SIGKILL: nothing is flushed or cleaned up
        first.wait()
    assert first.returncode == -9, "the run finished before it could be killed"
    killed_rows = _metric_steps(model_dir)

    second = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert second.returncode == 0, second.stdout[-2000:] + second.stderr[-3000:]
    restored = re.search(rf"restored {re.escape(model_dir)}/checkpoint_(\d+)", second.stderr)
    assert restored, second.stderr[-3000:]
    k = int(restored.group(1))
    assert 4 <= k < STEPS and k % 4 == 0
    rows = _metric_steps(model_dir)
    assert [r["step"] for r in rows] == list(range(1, STEPS + 1))  # every step once: no gap, no replay
    assert rows[:k] == killed_rows[:k]  # lines up to the restored step kept as written before the kill
    final = resolve_checkpoint(model_dir)
    assert final.name == f"checkpoint_{STEPS}" and str(final).startswith("gs://")
    state = read_train_state(final)
    assert is_checkpoint_dir(final) and state["step"] == STEPS
    assert min(state["data_position"]["row_cursors"]) >= STEPS  # one cursor per row, each past >= 1 example a step
    assert "MODEL_DIR" in (resolve(model_dir) / "config.gin").read_text()

    out = f"{gcs_dir}/eval"
    assert eval_main(["--checkpoint", model_dir, "--output-dir", out, "--max-tasks", "2", "--max-per-task", "2",
                      "--max-decode-length", "4", "--max-input-length", "64", "--batch-size", "8"]) == 0
    metrics = json.loads((resolve(out) / "metrics.json").read_text())
    assert metrics["overall"]["n"] == 4
    assert metrics["settings"]["checkpoint"] == f"{model_dir}/checkpoint_{STEPS}"
    assert len((resolve(out) / "predictions.jsonl").read_text().splitlines()) == 4


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_launch_script_host_commands_write_checkpoint_to_bucket(gcs_dir, tmp_path):
    """`launch_tpu_pod.sh --dry_run` prints each host's commands; its train command, run by two local
    jax.distributed processes in place of the pod's hosts, writes a checkpoint to the bucket."""
    from snitk.models.checkpoint import is_checkpoint_dir

    bucket = f"{gcs_dir}/runs"
    dry = subprocess.run(
        ["bash", "scripts/launch_tpu_pod.sh", "--tpu", "pod", "--zone", "zone", "--bucket", bucket, "--run-name", "r1",
         "--gin_file", "experiments/smoke_synthetic_cpu.gin", "--gin.TRAIN_STEPS=2", "--gin.SAVE_PERIOD=2",
         "--gin.NUM_PARTITIONS=2", "--gin.train.tensorboard=False", "--dry_run"],
        cwd=REPO, capture_output=True, text=True, timeout=60, check=True).stdout
    lines = dict(line.split(": ", 1) for line in dry.splitlines() if line.startswith(("host setup: ", "host train: ")))
    assert "pip install" in lines["host setup"] and "gcloud compute tpus tpu-vm ssh pod" in dry
    host_train = lines["host train"]
    assert host_train.startswith("python -m snitk.train ")
    port = _free_port()
    procs, logs = [], []
    for pid in range(2):  # the pod's hosts; on TPU, jax.distributed finds its peers itself
        env = dict(os.environ, SNITK_COORDINATOR_ADDRESS=f"127.0.0.1:{port}", SNITK_NUM_PROCESSES="2",
                   SNITK_PROCESS_ID=str(pid), XLA_FLAGS="--xla_force_host_platform_device_count=4")
        logs.append(tmp_path / f"host{pid}.log")
        procs.append(subprocess.Popen(["bash", "-c", host_train], cwd=REPO, env=env,
                                      stdout=open(logs[-1], "wb"), stderr=subprocess.STDOUT))
    try:
        for p, log in zip(procs, logs):
            assert p.wait(timeout=300) == 0, log.read_text()[-3000:]
    finally:
        for p in procs:
            p.kill()
    ckpt = resolve(bucket) / "r1" / "checkpoint_2"
    assert is_checkpoint_dir(ckpt)
    assert "process 1 of 2 (4 local devices)" in logs[1].read_text()
