"""kill -9 at any moment, rerun the same command: the final parameters are bit-identical to an
uninterrupted run (SIGTERM preemption is tested in test_train_cli)."""

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

STEPS = 60


def _env(cache: Path) -> dict:
    env = dict(os.environ)
    env.update(XLA_FLAGS="--xla_force_host_platform_device_count=4 --xla_backend_optimization_level=0",
               JAX_PLATFORMS="cpu", TF_CPP_MIN_LOG_LEVEL="3", JAX_COMPILATION_CACHE_DIR=str(cache),
               JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0", JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES="0")
    return env


def _cmd(model_dir: Path) -> list[str]:
    return [sys.executable, "-m", "snitk.train", "--gin_file=experiments/smoke_synthetic_cpu.gin",
            f"--gin.MODEL_DIR='{model_dir}'", f"--gin.TRAIN_STEPS={STEPS}", "--gin.NUM_PARTITIONS=2",
            "--gin.SAVE_PERIOD=10", "--gin.train.keep_checkpoints=2"]


def _steps(model_dir: Path) -> list[int]:
    return sorted(int(p.name.split("_")[1]) for p in model_dir.glob("checkpoint_*") if p.name.split("_")[1].isdigit())


def _start(model_dir: Path, env: dict, log: Path) -> subprocess.Popen:
    return subprocess.Popen(_cmd(model_dir), env=env, stdout=open(log, "ab"), stderr=subprocess.STDOUT,
                            cwd=Path(__file__).resolve().parents[1])


def _wait_for(proc: subprocess.Popen, model_dir: Path, beyond: int, log: Path, timeout: float = 240) -> int:
    t0 = time.time()
    while time.time() - t0 < timeout:
        done = [s for s in _steps(model_dir) if s > beyond]
        if done:
            return done[0]
        if proc.poll() is not None:
            pytest.fail(f"training exited ({proc.returncode}) before a checkpoint after step {beyond}:\n"
                        + log.read_text()[-3000:])
        time.sleep(0.02)
    proc.kill()
    pytest.fail("no checkpoint appeared in time")


def _fingerprint(model_dir: Path) -> str:
    from snitk.models.checkpoint import fingerprint, load_model

    return fingerprint(load_model(model_dir / f"checkpoint_{STEPS}")[1])


def test_kill9_then_rerun_is_bit_identical(tmp_path):
    env = _env(tmp_path / "jax_cache")
    log = tmp_path / "log.txt"
    ref = tmp_path / "ref"
    res = subprocess.run(_cmd(ref), env=env, stdout=open(log, "ab"), stderr=subprocess.STDOUT,
                         cwd=Path(__file__).resolve().parents[1])
    assert res.returncode == 0, log.read_text()[-3000:]

    run = tmp_path / "run"
    proc = _start(run, env, log)
    _wait_for(proc, run, 0, log)
    time.sleep(random.uniform(0.0, 0.3))  # "at any moment": mid-step, mid-save, mid-log
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert STEPS not in _steps(run), "the run finished before it was killed; the test did not interrupt it"

    res = subprocess.run(_cmd(run), env=env, stdout=open(log, "ab"), stderr=subprocess.STDOUT,
                         cwd=Path(__file__).resolve().parents[1])
    assert res.returncode == 0, log.read_text()[-3000:]
    assert len(_steps(run)) <= 2  # keep the last N
    assert not [p for p in run.iterdir() if "tmp" in p.name]
    assert _fingerprint(run) == _fingerprint(ref)
    # the data position is one cursor per batch row (restored without replaying the consumed batches)
    from snitk.training.checkpoints import read_train_state

    positions = [read_train_state(d / f"checkpoint_{STEPS}")["data_position"] for d in (run, ref)]
    assert positions[0] == positions[1] and len(positions[0]["row_cursors"]) == 8
    assert min(positions[0]["row_cursors"]) >= STEPS  # packed rows: at least one example per step
    # metrics of replayed steps are not duplicated
    import json

    steps = [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert steps == sorted(set(steps)) and steps[-1] == STEPS
