#!/usr/bin/env python
"""Benchmark: training input time per process with 1, 2 and 4 processes, and resume at step 0 vs 10,000.

Each process builds only the batch rows its devices hold (``snitk.training.data.InputPipeline``).
For N in 1, 2, 4 the script starts N local processes (one CPU device each; N > 1 over
``jax.distributed`` on 127.0.0.1); each builds its rows of the same global batches, taking turns
so that wall time is not inflated by the other processes on a small machine, and reports its CPU
and wall time per step. Target: per-process time at N processes <= 1.2/N of the 1-process time.
Resume: restoring the data position saved at steps 10,000..10,009 and building the first batch,
against the same at steps 0..9 (target: within 10%); the replay the old pipeline needed is
estimated as 10,000 x the 1-process step time.

Corpora: the bundled demo corpus (tasks/) and the synthetic corpus of scripts/bench_corpus.py
(real per-file size profile; ``--scale`` picks the number of tasks, 1 = the full 1,616).

    python scripts/bench_input.py                               # demo + synthetic at --scale 0.05
    python scripts/bench_input.py --corpus synthetic --scale 1  # full-size synthetic corpus (slow)
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from snitk.entry import run_script, script_parser
from snitk.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]
PROCESSES = (1, 2, 4)
RESUME_STEP = 10_000


def _source(data_dir: str, lengths: dict[str, int], encoding: str):
    from snitk.training.sources import SelectionSource
    from snitk.vocab import get_vocabulary

    return SelectionSource.from_corpus(data_dir, "default", encoding, get_vocabulary(), lengths)


def worker(args: argparse.Namespace) -> None:
    """One process: build its rows of ``--steps`` global batches, timed in its turn."""
    import jax
    import numpy as np
    from jax.experimental import multihost_utils
    from jax.sharding import Mesh, NamedSharding, PartitionSpec

    from snitk.training.data import InputPipeline, local_rows

    n, pid = args.num_processes, args.process_id
    if n > 1:
        jax.distributed.initialize(coordinator_address=f"127.0.0.1:{args.port}", num_processes=n, process_id=pid)
    sharding = NamedSharding(Mesh(np.array(jax.devices()), ("data",)), PartitionSpec("data"))
    lengths = _lengths(args.lengths)
    t0 = time.perf_counter()
    source = _source(args.data_dir, lengths, args.encoding)
    setup = time.perf_counter() - t0
    rows = local_rows(sharding, args.batch_size)
    pipe = InputPipeline(source, lengths, args.batch_size, seed=0, rows=rows)
    next(pipe)  # the first step also draws epoch 0's permutation
    result = {}
    for turn in range(n):
        if turn == pid:
            c0, w0 = time.process_time(), time.perf_counter()
            for _ in range(args.steps):
                next(pipe)
            result = {"process": pid, "rows": len(rows), "setup_s": setup,
                      "cpu_per_step": (time.process_time() - c0) / args.steps,
                      "wall_per_step": (time.perf_counter() - w0) / args.steps}
        if n > 1:
            multihost_utils.sync_global_devices(f"bench_input_turn_{turn}")
    Path(args.out).write_text(json.dumps(result))


def _lengths(text: str) -> dict[str, int]:
    i, t = (int(x) for x in text.split(","))
    return {"inputs": i, "targets": t}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def per_process(data_dir: str, n: int, args: argparse.Namespace, tmp: Path) -> list[dict]:
    """Start ``n`` worker processes and collect their timings."""
    env = dict(os.environ, JAX_PLATFORMS="cpu", XLA_FLAGS="--xla_force_host_platform_device_count=1",
               PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    port = _free_port()
    outs = [tmp / f"input_{n}_{pid}.json" for pid in range(n)]
    procs = [subprocess.Popen([sys.executable, __file__, "--worker", "--out", str(out), "--port", str(port),
                               "--num-processes", str(n), "--process-id", str(pid), "--data-dir", data_dir,
                               "--batch-size", str(args.batch_size), "--steps", str(args.steps),
                               "--lengths", args.lengths, "--encoding", args.encoding],
                              env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
             for pid, out in enumerate(outs)]
    for p in procs:
        log, _ = p.communicate()
        if p.returncode != 0:
            raise SystemExit(f"bench_input: worker failed ({p.returncode}):\n{log.decode()[-3000:]}")
    return [json.loads(o.read_text()) for o in outs]


def resume_times(data_dir: str, args: argparse.Namespace, positions: int = 10, repeats: int = 3) -> dict[str, float]:
    """CPU and wall seconds to restore a saved data position and build the first global batch, at
    steps 0..9 and at steps 10,000..10,009 (mean over the positions: batches differ in content;
    median over ``repeats``)."""
    from snitk.training.data import InputPipeline

    lengths = _lengths(args.lengths)
    source = _source(data_dir, lengths, args.encoding)
    probe = InputPipeline(source, lengths, args.batch_size, seed=0)
    early = []
    for _ in range(positions):
        early.append(probe.global_cursors())
        next(probe)
    # positions RESUME_STEP steps later: each row moved by the measured mean examples per row-step
    # plus a random-walk drift (rows pack at their own pace: spread ~ sqrt(steps) x per-step std)
    import numpy as np

    per_step = np.diff(np.array(early + [probe.global_cursors()]), axis=0)  # (steps, rows)
    drift = np.random.default_rng(0).normal(0, per_step.std() * RESUME_STEP ** 0.5, args.batch_size)
    shift = np.round(per_step.mean() * RESUME_STEP + drift).astype(int)
    late = [[int(c + d) for c, d in zip(cur, shift)] for cur in early]
    times: dict[str, list[float]] = {}
    for _ in range(repeats):
        for key, starts in (("0", early), (str(RESUME_STEP), late)):
            c0, w0 = time.process_time(), time.perf_counter()
            for cursors in starts:
                next(InputPipeline(source, lengths, args.batch_size, seed=0, cursors=cursors))
            times.setdefault(f"cpu_{key}", []).append((time.process_time() - c0) / positions)
            times.setdefault(f"wall_{key}", []).append((time.perf_counter() - w0) / positions)
    return {k: statistics.median(v) for k, v in times.items()} | {"epochs_at_resume": sum(late[0]) / len(source)}


def bench_corpus(label: str, data_dir: str, args: argparse.Namespace, tmp: Path) -> dict:
    print(f"\n== {label}: {data_dir} (batch {args.batch_size} rows x {args.lengths} tokens, packed, "
          f"{args.encoding}; {args.steps} timed steps)", flush=True)
    runs = {n: per_process(data_dir, n, args, tmp) for n in PROCESSES}
    base_cpu = max(r["cpu_per_step"] for r in runs[1])
    base_wall = max(r["wall_per_step"] for r in runs[1])
    print(f"{'processes':>9} {'rows/proc':>9} {'cpu ms/step':>12} {'wall ms/step':>13} {'cpu ratio':>10} "
          f"{'target':>7} {'wall ratio':>11} {'setup s':>8}")
    ok = True
    table = []
    for n, rs in runs.items():
        cpu, wall = max(r["cpu_per_step"] for r in rs), max(r["wall_per_step"] for r in rs)
        ratio, target = cpu / base_cpu, 1.2 / n
        ok &= ratio <= target
        table.append({"processes": n, "cpu_per_step": cpu, "wall_per_step": wall, "cpu_ratio": ratio,
                      "wall_ratio": wall / base_wall, "setup_s": max(r["setup_s"] for r in rs)})
        print(f"{n:>9} {rs[0]['rows']:>9} {cpu * 1e3:>12.1f} {wall * 1e3:>13.1f} {ratio:>10.3f} {target:>7.3f} "
              f"{wall / base_wall:>11.3f} {table[-1]['setup_s']:>8.1f}")
    res = resume_times(data_dir, args)
    r_ratio = res[f"cpu_{RESUME_STEP}"] / res["cpu_0"]
    ok &= r_ratio <= 1.1
    print(f"resume (restore + first batch, mean of 10 positions, CPU / wall): step 0 {res['cpu_0'] * 1e3:.1f} / {res['wall_0'] * 1e3:.1f} ms, "
          f"step {RESUME_STEP:,} {res[f'cpu_{RESUME_STEP}'] * 1e3:.1f} / {res[f'wall_{RESUME_STEP}'] * 1e3:.1f} ms "
          f"(epoch {res['epochs_at_resume']:.1f}); CPU ratio {r_ratio:.3f} (target <= 1.1); replaying "
          f"{RESUME_STEP:,} steps instead: ~{RESUME_STEP * base_cpu:.0f} s CPU")
    return {"corpus": label, "per_process": table, "resume": res, "resume_ratio": r_ratio, "ok": ok}


def main(argv: list[str] | None = None) -> int:
    p = script_parser(__doc__)
    p.add_argument("--corpus", choices=("demo", "synthetic", "both"), default="both")
    p.add_argument("--scale", type=float, default=0.05, help="synthetic corpus: fraction of the 1,616 tasks")
    p.add_argument("--batch-size", type=int, default=32, help="global batch rows (divisible by 4)")
    p.add_argument("--lengths", default=None, help="inputs,targets tokens (default: demo 256,32; synthetic 1024,128)")
    p.add_argument("--steps", type=int, default=None, help="timed steps per process (default: demo 50, synthetic 10)")
    p.add_argument("--encoding", default="tk_mix")
    p.add_argument("--json", default=None, help="also write the results to this JSON file")
    for flag in ("--out", "--data-dir"):
        p.add_argument(flag, help=argparse.SUPPRESS)
    for flag in ("--port", "--num-processes", "--process-id"):
        p.add_argument(flag, type=int, help=argparse.SUPPRESS)
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        worker(args)
        return 0
    if args.batch_size < 4 or args.batch_size % 4:
        raise ConfigError(f"--batch-size {args.batch_size}: expected a positive multiple of 4 (up to 4 processes)")

    tmp = Path(tempfile.mkdtemp(prefix="snitk-bench-input-"))
    results = []
    try:
        if args.corpus in ("demo", "both"):
            a = argparse.Namespace(**{**vars(args), "lengths": args.lengths or "256,32", "steps": args.steps or 50})
            results.append(bench_corpus("demo corpus", str(REPO / "tasks"), a, tmp))
        if args.corpus in ("synthetic", "both"):
            sys.path.insert(0, str(REPO / "scripts"))
            from bench_corpus import generate

            root = tmp / "synthetic"
            facts = generate(root, args.scale)
            print(f"synthetic corpus at --scale {args.scale}: {facts['tasks']} tasks, {facts['instances']:,} "
                  f"instances, {facts['bytes'] / 2**20:.0f} MiB JSON")
            a = argparse.Namespace(**{**vars(args), "lengths": args.lengths or "1024,128", "steps": args.steps or 10})
            results.append(bench_corpus(f"synthetic corpus (scale {args.scale})", str(root), a, tmp))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    ok = all(r["ok"] for r in results)
    print("\nall targets met" if ok else "\nsome targets missed")
    return 0 if ok else 1


if __name__ == "__main__":
    run_script(main, "bench_input.py")
