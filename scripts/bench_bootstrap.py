#!/usr/bin/env python
"""Bootstrap speed on a full-size evaluation: 15,310 instances in 154 tasks, 1,000 resamples.

Times snitk's vectorised hierarchical bootstrap (`snitk.eval.bootstrap.bootstrap_means`, the overall
intervals of all three metrics) against a naive loop (one resample at a time, one task at a time, with
numpy inside) on the same scores, checks both give the same distribution, then times everything
`python -m snitk.eval` adds to an evaluation (overall + every category, `intervals.add_intervals`).
Target: the full evaluation's intervals in under 5 s on 2 cores.

    python scripts/bench_bootstrap.py [--resamples 1000] [--naive-resamples 1000]
"""

from __future__ import annotations

import os
import time
from contextlib import contextmanager
from typing import Iterator

import numpy as np

from snitk.entry import run_script, script_parser
from snitk.errors import ConfigError
from snitk.eval.bootstrap import bootstrap_means
from snitk.eval.intervals import InstanceScores, add_intervals
from snitk.eval.metrics import CATEGORY_METRICS

TASKS, INSTANCES = 154, 15_310


def synthetic_evaluation(seed: int = 0) -> InstanceScores:
    """154 tasks (150 of 100 instances, four smaller ones) in 12 categories, scores in [0, 1]."""
    rng = np.random.default_rng(seed)
    sizes = [100] * 150 + [90, 80, 70, 70]
    assert len(sizes) == TASKS and sum(sizes) == INSTANCES
    cats = list(CATEGORY_METRICS)
    tasks, ids, categories = [], [], []
    for t, size in enumerate(sizes):
        tasks += [f"task{t:04d}"] * size
        ids += [f"task{t:04d}-{i}" for i in range(size)]
        categories += [cats[t % len(cats)]] * size
    skill = rng.beta(2, 2, TASKS).repeat(sizes)
    em = (rng.random(INSTANCES) < skill).astype(float)
    rouge = np.clip(skill + rng.normal(0, 0.2, INSTANCES), 0, 1)
    return InstanceScores(tasks, ids, categories, np.stack([em, rouge, rouge * 0.95], axis=1))


def naive_bootstrap(scores: np.ndarray, tasks: list[str], n_resamples: int, seed: int) -> np.ndarray:
    """The textbook loop: per resample, draw tasks, then each drawn task's instances, then average."""
    rng = np.random.default_rng(seed)
    by_task: dict[str, list[int]] = {}
    for i, t in enumerate(tasks):
        by_task.setdefault(t, []).append(i)
    members = [np.array(v) for v in by_task.values()]
    out = np.empty((n_resamples, scores.shape[1]))
    for b in range(n_resamples):
        drawn = [members[t] for t in rng.integers(0, len(members), len(members))]
        inst = np.concatenate([rng.choice(m, size=len(m), replace=True) for m in drawn])
        out[b] = scores[inst].mean(axis=0)
    return out


@contextmanager
def timed(into: dict[str, float]) -> Iterator[None]:
    """Wall and CPU seconds of the block (the machine is shared: CPU time is the steadier figure)."""
    wall, cpu = time.perf_counter(), time.process_time()
    yield
    into["wall"], into["cpu"] = time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    p = script_parser(__doc__)
    p.add_argument("--resamples", type=int, default=1000)
    p.add_argument("--naive-resamples", type=int, default=1000, help="resamples of the naive loop (time scaled to --resamples)")
    args = p.parse_args()
    if args.resamples < 1 or args.naive_resamples < 1:
        raise ConfigError(f"--resamples {args.resamples} --naive-resamples {args.naive_resamples}: expected positive counts")
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    table = synthetic_evaluation()
    print(f"{INSTANCES:,} instances, {TASKS} tasks, {len(set(table.categories))} categories, "
          f"{args.resamples} resamples, {cores} cores")

    t_fast: dict[str, float] = {}
    t_naive: dict[str, float] = {}
    with timed(t_fast):
        fast = bootstrap_means(table.scores, table.tasks, args.resamples, rng=0)
    with timed(t_naive):
        naive = naive_bootstrap(table.scores, table.tasks, args.naive_resamples, seed=0)
    t_naive = {k: v * args.resamples / args.naive_resamples for k, v in t_naive.items()}
    # same distribution (different random streams): means and spreads agree
    se = fast.std(axis=0)
    assert np.all(np.abs(fast.mean(0) - naive.mean(0)) < 6 * se / np.sqrt(min(len(fast), len(naive)))), "means differ"
    assert np.allclose(naive.std(0), se, rtol=0.15), "spreads differ"
    for clock in ("wall", "cpu"):
        print(f"overall, 3 metrics ({clock}): naive loop {t_naive[clock]:.2f} s, snitk {t_fast[clock]:.2f} s, "
              f"ratio {t_naive[clock] / t_fast[clock]:.1f}x")

    metrics = {"overall": {}, "per_category": {c: {} for c in sorted(set(table.categories))}}
    t_all: dict[str, float] = {}
    with timed(t_all):
        add_intervals(metrics, table, args.resamples, seed=0)
    print(f"evaluation intervals (overall + {len(metrics['per_category'])} categories, 3 metrics): "
          f"{t_all['wall']:.2f} s wall, {t_all['cpu']:.2f} s CPU (target < 5 s)")


if __name__ == "__main__":
    run_script(main, "bench_bootstrap.py")
