#!/usr/bin/env python
"""Benchmark: preparing both tracks' selections from a corpus with the real repository's size profile.

Generates a synthetic natural-instructions data dir (1,616 tasks at --scale 1; about 3,100
instances per task on average, capped at 6,500; ~3 GB of JSON with a heavy tail: 1% of the tasks
are long-document tasks of ~60 MB per file; split lists sized like the real ones), then, each in a fresh subprocess, builds the training
selection (100 per task, seeded) and the test selection (first 100) of the default and xlingual
tracks and reports wall time and peak RSS. `--scale` scales the number of tasks only, so every file
keeps the real per-file size profile (peak memory does not depend on the scale; time is linear).

    python scripts/bench_corpus.py --scale 0.1            # ~160 tasks, ~300 MB, under a minute
    python scripts/bench_corpus.py --scale 1 --keep DIR   # the full profile, ~3 GB on disk
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from snitk.entry import run_script, script_parser
from snitk.errors import ConfigError

NUM_TASKS = 1616
MAX_INSTANCES = 6500
MEAN_INSTANCES = 3100
# Real split sizes (natural-instructions splits/): default 756 train / 119 test, xlingual 1270 / 35.
SPLIT_SIZES = {"default": (756, 119), "xlingual": (1270, 35)}
WORDS = (
    "the of and to in is was for on that with as by at from it an be this which or are were has have not "
    "sentence question answer passage context premise hypothesis review title summary entity relation label "
    "véritable naïve 日本語 のテキスト खाना пример مثال niño über"
).split()


def instance_counts(n_tasks: int, rng: random.Random) -> list[int]:
    """About 35% of tasks at the 6,500 cap, the rest uniform in [26, 2,500]: mean ~3,100."""
    return [MAX_INSTANCES if rng.random() < 0.35 else rng.randint(26, 2500) for _ in range(n_tasks)]


def _text_pool(rng: random.Random, size: int = 1 << 21) -> str:
    words = []
    total = 0
    while total < size:
        w = rng.choice(WORDS)
        words.append(w)
        total += len(w) + 1
    return " ".join(words)


def generate(root: Path, scale: float, seed: int = 0) -> dict:
    """Write the synthetic corpus under root/tasks and root/splits; return size facts."""
    rng = random.Random(seed)
    n_tasks = max(4, round(NUM_TASKS * scale))
    names = [f"task{i:04d}_synthetic_{rng.choice(WORDS[:20])}" for i in range(n_tasks)]
    counts = instance_counts(n_tasks, rng)
    pool = _text_pool(rng)
    tdir = root / "tasks"
    tdir.mkdir(parents=True)
    total_bytes = total_inst = 0
    from tqdm import tqdm

    long_docs = set(rng.sample(range(n_tasks), max(1, n_tasks // 100)))
    for t, (name, n) in enumerate(tqdm(list(zip(names, counts)), desc="generate", unit="task")):
        mu = 9.0 if t in long_docs else 5.6  # long documents: median ~8 KB; others: median ~270 characters
        if t in long_docs:
            n = MAX_INSTANCES
        head = {
            "Contributors": ["bench"], "Source": ["synthetic"], "URL": ["https://example.org"],
            "Categories": [rng.choice(["Question Answering", "Text Categorization", "Summarization", "Translation"])],
            "Reasoning": [], "Definition": ["Answer the question about the passage. " * 4],
            "Input_language": [rng.choice(["English", "English", "English", "French", "Hindi"])],
            "Output_language": ["English"], "Instruction_language": ["English"], "Domains": ["Wikipedia"],
            "Positive Examples": [{"input": pool[:400], "output": "yes", "explanation": pool[400:520]}] * 3,
            "Negative Examples": [{"input": pool[600:900], "output": "no", "explanation": pool[900:1000]}] * 2,
        }
        parts = [json.dumps(head, ensure_ascii=False, indent=4)[:-2], ',\n    "Instances": [\n']
        for i in range(n):
            length = min(int(rng.lognormvariate(mu, 0.7)), 60000)
            start = rng.randrange(0, len(pool) - length - 1)
            text = pool[start : start + length].strip()
            out = pool[start + length : start + length + 20].strip() or "x"
            sep = ",\n" if i else ""
            parts.append(f'{sep}        {{"id": "{name}-{i}", "input": "{text}", "output": ["{out}"]}}')
        parts.append('\n    ],\n    "Instance License": ["CC BY 4.0"]\n}\n')
        data = "".join(parts).encode("utf-8")
        (tdir / f"{name}.json").write_bytes(data)
        total_bytes += len(data)
        total_inst += n
    order = list(names)
    for track, (n_train, n_test) in SPLIT_SIZES.items():
        n_train = max(1, round(n_train * scale))
        n_test = max(1, round(n_test * scale))
        rng.shuffle(order)
        sd = root / "splits" / track
        sd.mkdir(parents=True)
        (sd / "train_tasks.txt").write_text("\n".join(order[:n_train]) + "\n")
        (sd / "test_tasks.txt").write_text("\n".join(order[n_train : n_train + n_test]) + "\n")
        (sd / "excluded_tasks.txt").write_text("\n".join(order[n_train + n_test :]) + "\n")
    return {"tasks": n_tasks, "instances": total_inst, "bytes": total_bytes, "max_per_task": max(counts)}


_WORKER = r"""
import json, resource, sys, time
from snitk.natinst.corpus import Corpus

def hwm_kib():
    # VmHWM is reset by exec (ru_maxrss is not: it would report the parent's peak)
    try:
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

root, track, split = sys.argv[1], sys.argv[2], sys.argv[3]
base = hwm_kib()
t0 = time.perf_counter()
c = Corpus(root, track)
tasks = inst = 0
it = c.train_tasks(max_per_task=100, seed=42) if split == "train" else c.test_tasks(max_per_task=100)
for task in it:
    tasks += 1
    inst += len(task.instances)
dt = time.perf_counter() - t0
peak = hwm_kib()
print(json.dumps({"tasks": tasks, "instances": inst, "seconds": dt, "peak_rss_kib": peak, "import_rss_kib": base}))
"""


def measure(root: Path, track: str, split: str) -> dict:
    proc = subprocess.run([sys.executable, "-c", _WORKER, str(root), track, split], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"benchmark worker failed for {track}/{split}:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    p = script_parser(__doc__)
    p.add_argument("--scale", type=float, default=0.1, help="fraction of the 1,616 tasks to generate (default 0.1)")
    p.add_argument("--keep", default=None, help="generate into (or reuse) this folder and keep it")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", default=None, help="also write the results to this JSON file")
    args = p.parse_args(argv)
    if args.scale <= 0:
        raise ConfigError(f"--scale {args.scale}: expected a positive fraction of the 1,616 tasks")
    if args.keep and Path(args.keep).exists() and not Path(args.keep).is_dir():
        raise ConfigError(f"{args.keep}: --keep expects a folder, found a file")

    tmp = None
    if args.keep:
        root = Path(args.keep)
    else:
        tmp = tempfile.mkdtemp(prefix="snitk-bench-")
        root = Path(tmp) / "ni"
    try:
        t0 = time.perf_counter()
        if (root / "tasks").is_dir():
            files = list((root / "tasks").glob("*.json"))
            facts = {"tasks": len(files), "instances": None, "bytes": sum(f.stat().st_size for f in files), "max_per_task": None}
            gen_s = 0.0
        else:
            facts = generate(root, args.scale, args.seed)
            gen_s = time.perf_counter() - t0
        print(
            f"corpus: {facts['tasks']} tasks, {facts['instances']} instances, {facts['bytes'] / 2**30:.2f} GiB JSON "
            f"(generated in {gen_s:.0f} s) at {root}"
        )
        rows = []
        for track in ("default", "xlingual"):
            for split in ("train", "test"):
                r = measure(root, track, split)
                r.update(track=track, split=split)
                rows.append(r)
        print(f"\n{'track':<9} {'split':<6} {'tasks':>6} {'instances':>10} {'time s':>8} {'peak RSS MiB':>13} {'import RSS MiB':>15}")
        for r in rows:
            print(
                f"{r['track']:<9} {r['split']:<6} {r['tasks']:>6} {r['instances']:>10} {r['seconds']:>8.1f} "
                f"{r['peak_rss_kib'] / 1024:>13.0f} {r['import_rss_kib'] / 1024:>15.0f}"
            )
        total = sum(r["seconds"] for r in rows)
        worst = max(r["peak_rss_kib"] for r in rows) / 1024
        print(f"\nall selections: {total:.1f} s, worst peak RSS {worst:.0f} MiB (limit 2048 MiB)")
        if args.json:
            Path(args.json).write_text(json.dumps({"corpus": facts, "scale": args.scale, "rows": rows}, indent=2))
        return 0 if worst < 2048 else 1
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    run_script(main, "bench_corpus.py")
