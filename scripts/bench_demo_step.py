#!/usr/bin/env python
"""CPU demo training step: XLA's default CPU kernels vs snitk's small-model setting (`snitk.xla_cpu`).

Runs the demo's own training configuration (`configs/experiments/demo_cpu.gin`, real demo data,
packing, Adafactor) for `--steps` steps in two fresh processes, once with XLA:CPU's defaults and
once with `use_small_model_cpu_flags()`, and prints the mean step time after `--skip` steps, the
kernel (sys) CPU time of each process and the ratio. The final losses must agree (same kernels'
maths, different implementations), which the script checks.

    python scripts/bench_demo_step.py [--steps 60 --skip 20 --batch-size 16]
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

from snitk.entry import run_script, script_parser
from snitk.errors import ConfigError
from snitk.experiments import read_metrics_log
from snitk.xla_cpu import use_small_model_cpu_flags

REPO = Path(__file__).resolve().parents[1]


def run(model_dir: Path, steps: int, batch_size: int, small_model_flags: bool) -> dict:
    """Train `steps` steps in a subprocess; returns its logged metric rows and its user / sys CPU seconds."""
    env = dict(os.environ)
    env.pop("XLA_FLAGS", None)
    if small_model_flags:
        use_small_model_cpu_flags(env)
    cmd = [sys.executable, "-m", "snitk.train", "--gin_file=experiments/demo_cpu.gin",
           f"--gin.MODEL_DIR='{model_dir}'", f"--gin.TRAIN_STEPS={steps}", "--gin.SAVE_PERIOD=100000",
           f"--gin.BATCH_SIZE={batch_size}", "--gin.train.log_period=1"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(cmd, env=env, cwd=REPO, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {"rows": read_metrics_log(model_dir), "sys_s": after.ru_stime - before.ru_stime, "user_s": after.ru_utime - before.ru_utime}


def main() -> None:
    ap = script_parser(__doc__)
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--skip", type=int, default=20, help="steps left out of the timing (compilation, warm-up)")
    ap.add_argument("--batch-size", type=int, default=16, help="packed rows per step (the demo uses 16)")
    args = ap.parse_args()
    if not 0 <= args.skip < args.steps:
        raise ConfigError(f"--skip {args.skip} --steps {args.steps}: expected 0 <= skip < steps (steps left to time)")
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, flags in (("XLA defaults", False), ("snitk small-model flags", True)):
            out = run(Path(tmp) / name.replace(" ", "_"), args.steps, args.batch_size, flags)
            times = [r["step_time"] for r in out["rows"] if r["step"] > args.skip and "step_time" in r]
            results[name] = {"step_s": sum(times) / len(times), "sys_s": out["sys_s"], "user_s": out["user_s"],
                             "loss": out["rows"][-1]["loss"]}
    base, ours = results["XLA defaults"], results["snitk small-model flags"]
    print(f"demo training step, batch {args.batch_size}, steps {args.skip + 1}..{args.steps}")
    print(f"{'':26} {'step (s)':>9} {'user CPU (s)':>13} {'sys CPU (s)':>12} {'final loss':>11}")
    for name, r in results.items():
        print(f"{name:26} {r['step_s']:9.3f} {r['user_s']:13.1f} {r['sys_s']:12.1f} {r['loss']:11.4f}")
    print(f"speed-up: {base['step_s'] / ours['step_s']:.2f}x")
    if abs(base["loss"] - ours["loss"]) > 1e-2 * abs(base["loss"]):
        sys.exit(f"final losses differ: {base['loss']} vs {ours['loss']}")


if __name__ == "__main__":
    run_script(main, "bench_demo_step.py")
