#!/usr/bin/env python
"""Training on the demo task: snitk (`python -m snitk.train`) vs upstream t5x (`python -m t5x.train`).

The same model (the demo's narrow T5.1.1: width 128, 4 heads of 32, MLP 512, 2+2 layers, tied embeddings,
3,200-row vocabulary, float32), batch (16 packed rows of 256 / 32 tokens), task (`snitk_default_def_pos2`,
through snitk's seqio task on both sides) and optimizer (Adafactor, decay rate 0.8, factored), from scratch,
one CPU device, XLA defaults on both sides. The runs alternate (snitk, snitk without the background compile,
t5x, ...) in fresh processes, so machine load hits all alike. Printed per run: the mean seconds per step
after `--skip` steps (snitk: metrics.jsonl; t5x: its timing/steps_per_second summaries); from jax's own
compile log (`JAX_LOG_COMPILES`), the train step's trace + lowering and XLA compile and the parameter-
initialisation compile; the start-up, from launch to the end of the first step, timed by this script on
each output line as it arrives (snitk: its "first step done" line; t5x: its "BEGIN Train loop" line, written
after the compile, plus one step); and the process's wall and CPU time; then the ratios.

    python scripts/bench_vs_t5x.py [--steps 30 --skip 10 --repeats 2] [--t5x-python PATH]

Skips (exit 0) when the `--t5x-python` interpreter (default: this one) cannot import t5x; install it with
`../shared/upstream/install_t5x.sh` or from source.
"""

from __future__ import annotations

import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from snitk.entry import run_script, script_parser
from snitk.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]
MODEL = {"emb_dim": 128, "num_heads": 4, "head_dim": 32, "mlp_dim": 512, "num_encoder_layers": 2,
         "num_decoder_layers": 2, "logits_via_embedding": True}
LENGTHS = "{'inputs': 256, 'targets': 32}"
BATCH = 16
# start-up markers: snitk's first step is done; t5x has initialised and compiled and starts its loop
_MARKERS = {"snitk": "first step done", "t5x": "BEGIN Train loop"}
_COMPILE = re.compile(r"Finished XLA compilation of (\S+) in ([\d.]+) sec")
_LOWER = re.compile(r"Finished (?:tracing \+ transforming|jaxpr to MLIR module conversion) (\S+) (?:for \S+ )?in ([\d.]+) sec")


def snitk_cmd(model_dir: Path, steps: int, precompile: bool = True) -> list[str]:
    return [sys.executable, "-m", "snitk.train", "--gin_file=experiments/demo_cpu.gin", f"--gin.MODEL_DIR='{model_dir}'",
            f"--gin.TRAIN_STEPS={steps}", f"--gin.SAVE_PERIOD={steps}", f"--gin.BATCH_SIZE={BATCH}",
            f"--gin.TASK_FEATURE_LENGTHS={LENGTHS}", "--gin.train.log_period=1", "--gin.schedule.name='constant'",
            f"--gin.train.precompile={precompile}"]


def t5x_cmd(python: str, model_dir: Path, steps: int, stats_period: int) -> list[str]:
    net = [f"--gin.network.T5Config.{k}={v!r}" for k, v in {**MODEL, "vocab_size": 3200, "dtype": "float32"}.items()]
    return [python, "-m", "t5x.train", "--gin_file=t5x/examples/t5/t5_1_1/tiny.gin",
            "--gin_file=t5x/configs/runs/pretrain.gin", "--gin_file=configs/t5x/demo.gin", *net,
            f"--gin.MODEL_DIR='{model_dir}'", f"--gin.TRAIN_STEPS={steps}", f"--gin.BATCH_SIZE={BATCH}",
            f"--gin.TASK_FEATURE_LENGTHS={LENGTHS}", "--gin.train.train_eval_dataset_cfg=None",
            f"--gin.train.stats_period={stats_period}", f"--gin.utils.SaveCheckpointConfig.period={steps}",
            "--gin.utils.create_learning_rate_scheduler.factors='constant'",
            "--gin.utils.create_learning_rate_scheduler.base_learning_rate=0.03"]


def run(cmd: list[str]) -> dict:
    """Run one training process; its log, wall time and CPU (user + sys) seconds."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "JAX_PLATFORMS": "cpu", "JAX_LOG_COMPILES": "1",
           "TF_CPP_MIN_LOG_LEVEL": "3"}
    env.pop("XLA_FLAGS", None)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines, marks = [], {}
    for line in proc.stdout:  # each line timed as it arrives: the start-up markers
        lines.append(line)
        for name, marker in _MARKERS.items():
            if name not in marks and marker in line:
                marks[name] = time.perf_counter() - start
    proc.wait()
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    log = "".join(lines)
    if proc.returncode:
        sys.exit(f"{' '.join(cmd[:3])} failed (exit {proc.returncode}):\n{log[-3000:]}")
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return {"log": log, "wall_s": wall, "cpu_s": cpu, "marks": marks}


def phases(log: str) -> dict[str, float]:
    """The train step's trace + lowering and XLA compile, and the init compile, from jax's compile log."""
    def bare(name: str) -> str:
        return re.sub(r"^p?jit\((.*)\)$", r"\1", name)

    compiles = [(bare(name), float(s)) for name, s in _COMPILE.findall(log)]
    lowers = [(bare(name), float(s)) for name, s in _LOWER.findall(log)]
    # snitk: _step and init (Trainer.init_state); t5x: train_step and initialize_train_state
    step = max((c for c in compiles if c[0] in ("_step", "train_step")), key=lambda c: c[1], default=("", 0.0))
    init = max((c for c in compiles if c[0] in ("init", "initialize_train_state")), key=lambda c: c[1],
               default=("", 0.0))
    return {"step_compile_s": step[1], "step_lower_s": sum(s for n, s in lowers if n == step[0]),
            "init_compile_s": init[1], "programs": len(compiles)}


def snitk_steps(model_dir: Path, skip: int, run_: dict) -> dict[str, float]:
    """Mean s/step after `skip`, and the start-up: launch to the "first step done" line."""
    rows = [json.loads(x) for x in (model_dir / "metrics.jsonl").read_text().splitlines() if x.strip()]
    times = [r["step_time"] for r in rows if r.get("step", 0) > skip and "step_time" in r]
    if "snitk" not in run_["marks"]:
        sys.exit(f"snitk.train logged no {_MARKERS['snitk']!r} line")
    return {"step_s": statistics.mean(times), "startup_s": run_["marks"]["snitk"]}


def t5x_steps(log: str, run_: dict) -> dict[str, float]:
    """Mean s/step after the first summary window, and the start-up: launch to "BEGIN Train loop" + one step."""
    rates = [float(x) for x in re.findall(r"collection=train .*?timing/steps_per_second=([\d.e+-]+)", log)]
    if len(rates) < 2:
        sys.exit("t5x logged fewer than two timing/steps_per_second summaries; raise --steps")
    if "t5x" not in run_["marks"]:
        sys.exit(f"t5x.train logged no {_MARKERS['t5x']!r} line")
    step_s = statistics.mean(1.0 / r for r in rates[1:])  # the first window holds the first step's warm-up
    return {"step_s": step_s, "startup_s": run_["marks"]["t5x"] + step_s}


def main() -> None:
    ap = script_parser(__doc__)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--skip", type=int, default=10, help="steps left out of the per-step timing (t5x: first window)")
    ap.add_argument("--repeats", type=int, default=2, help="alternating snitk / t5x run pairs")
    ap.add_argument("--t5x-python", default=sys.executable, help="a Python that can import t5x")
    args = ap.parse_args()
    if not 0 <= args.skip < args.steps or args.repeats < 1:
        raise ConfigError(f"--steps {args.steps} --skip {args.skip} --repeats {args.repeats}: expected 0 <= skip < steps "
                          "and at least one repeat")
    probe = subprocess.run([args.t5x_python, "-c", "import t5x.train"], capture_output=True,
                           env={**os.environ, "PYTHONPATH": str(REPO), "JAX_PLATFORMS": "cpu"})
    if probe.returncode:
        print(f"skipped: {args.t5x_python} cannot import t5x (install it, e.g. ../shared/upstream/install_t5x.sh)")
        return
    rows: list[tuple[str, dict]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.repeats):
            for name, precompile in (("snitk", True), ("snitk serial", False)):
                d = Path(tmp) / f"{name.replace(' ', '_')}{i}"
                r = run(snitk_cmd(d, args.steps, precompile))
                rows.append((name, {**r, **phases(r["log"]), **snitk_steps(d, args.skip, r)}))
            r = run(t5x_cmd(args.t5x_python, Path(tmp) / f"t5x{i}", args.steps, args.skip))
            rows.append(("t5x", {**r, **phases(r["log"]), **t5x_steps(r["log"], r)}))
    print(f"demo model, batch {BATCH} x {LENGTHS}, {args.steps} steps, Adafactor; one CPU device")
    # "snitk serial": train.precompile = False (the train step compiles at the first step, as plain jax.jit)
    head = ("run", "s/step", "step trace+lower", "step XLA compile", "init compile", "start-up to first step",
            "programs", "wall", "CPU")
    print(" | ".join(head))
    for name, r in rows:
        print(f"{name} | {r['step_s']:.3f} | {r['step_lower_s']:.2f} | {r['step_compile_s']:.2f} | "
              f"{r['init_compile_s']:.2f} | {r['startup_s']:.2f} | {r['programs']} | {r['wall_s']:.1f} | "
              f"{r['cpu_s']:.1f}")

    def mean(name: str, key: str) -> float:
        return statistics.mean(r[key] for n, r in rows if n == name)

    for key in ("step_s", "step_compile_s", "init_compile_s", "startup_s", "wall_s"):
        print(f"t5x / snitk {key}: {mean('t5x', key) / max(mean('snitk', key), 1e-9):.2f}x"
              f"  (t5x / snitk serial: {mean('t5x', key) / max(mean('snitk serial', key), 1e-9):.2f}x)")


if __name__ == "__main__":
    run_script(main, "bench_vs_t5x.py")
