"""Two CPU processes (4 devices each) over 127.0.0.1 train like one process with 8 devices."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

STEPS = 6
ARGS = ["--gin_file=experiments/smoke_synthetic_cpu.gin", f"--gin.TRAIN_STEPS={STEPS}", "--gin.NUM_PARTITIONS=2",
        "--gin.SAVE_PERIOD=100", "--gin.train.log_period=1", "--gin.train.tensorboard=False"]
REPO = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _losses(model_dir: Path) -> list[float]:
    return [json.loads(line)["loss"] for line in (model_dir / "metrics.jsonl").read_text().splitlines()]


def test_two_processes_match_one(tmp_path):
    from snitk.training.train import run

    import jax

    assert jax.device_count() == 8
    one = tmp_path / "one"
    bindings = [a[len("--gin."):].replace("=", " = ", 1) for a in ARGS if a.startswith("--gin.")]
    run(["experiments/smoke_synthetic_cpu.gin"], bindings + [f"MODEL_DIR = '{one}'"])
    ref = _losses(one)
    assert len(ref) == STEPS

    two = tmp_path / "two"
    port = _free_port()
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4 --xla_backend_optimization_level=0",
               JAX_PLATFORMS="cpu",
               TF_CPP_MIN_LOG_LEVEL="3")
    procs, logs = [], []
    for pid in range(2):
        log = tmp_path / f"proc{pid}.log"
        logs.append(log)
        cmd = [sys.executable, "-m", "snitk.train", *ARGS, f"--gin.MODEL_DIR='{two}'",
               f"--coordinator_address=127.0.0.1:{port}", "--num_processes=2", f"--process_id={pid}"]
        procs.append(subprocess.Popen(cmd, env=env, cwd=REPO, stdout=open(log, "wb"), stderr=subprocess.STDOUT))
    for p, log in zip(procs, logs):
        try:
            rc = p.wait(timeout=280)
        except subprocess.TimeoutExpired:
            for q in procs:
                q.kill()
            raise
        assert rc == 0, log.read_text()[-3000:]
    got = _losses(two)
    assert len(got) == STEPS
    assert max(abs(a - b) for a, b in zip(got, ref)) < 1e-5, (got, ref)
    assert (two / f"checkpoint_{STEPS}").is_dir()
    assert "process 1 of 2 (4 local devices)" in logs[1].read_text()
