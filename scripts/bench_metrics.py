#!/usr/bin/env python
"""Benchmark snitk.eval.metrics against the official per-pair scoring on 15,310 synthetic instances.

The reference way is a local re-implementation of Tk-Instruct's ``compute_metrics``: for every
(prediction, reference) pair it builds a new ``rouge_scorer.RougeScorer`` for ROUGE-1 and another
for ROUGE-L (Porter stemmer), and takes the max over references. Ours is
``snitk.eval.metrics.compute_metrics``. Both run in this process on the same data; the script
prints both timings, the speed-up and checks that the numbers are identical.

    python scripts/bench_metrics.py [--n 15310] [--seed 0] [--workers N] [--official-subset K]

``--official-subset K`` times the official way on the first K instances only and extrapolates
(for slow machines); the equality check then uses those K instances.
"""

from __future__ import annotations

import random
import string
import sys
import time

from snitk.entry import run_script, script_parser
from snitk.errors import ConfigError

WORDS = (
    "the a of to and in is was for on that with as it by at from this be are have an not or which "
    "question answer running runs ran runner jumping jumped quickly quick happiness happy studies "
    "studying studied generation generate generated classification classify title summary sentence "
    "paragraph review positive negative neutral entailment contradiction yes no true false cat cats dog "
    "dogs house houses apple apples cooking cooked cook children child teacher teachers school schools "
    "Obama Paris London 1999 2024 42 3.14 movie movies played playing player government governments"
).split()
LABELS = ["Yes", "No", "True", "False", "positive", "negative", "neutral", "entailment", "contradiction", "A", "B"]


def synthetic(n: int, seed: int) -> tuple[list[str], list[list[str]]]:
    """A mix like the SNI test set: ~45% label answers, the rest free text of 3-60 words, 1-3 references."""
    rng = random.Random(seed)

    def text(lo: int, hi: int) -> str:
        words = rng.choices(WORDS, k=rng.randint(lo, hi))
        out = " ".join(words)
        if rng.random() < 0.5:
            out = out.capitalize() + rng.choice(string.punctuation[:12])
        return out

    preds, refs = [], []
    for _ in range(n):
        if rng.random() < 0.45:
            gold = [rng.choice(LABELS)]
            pred = rng.choice(LABELS + [gold[0] + ".", gold[0].lower()])
        else:
            gold = [text(3, 60) for _ in range(rng.choice([1, 1, 1, 2, 3]))]
            pred = text(0, 60) if rng.random() < 0.7 else gold[0].upper()
        preds.append(pred)
        refs.append(gold)
    return preds, refs


def official_compute_metrics(predictions, references):
    """Tk-Instruct's per-pair scoring, re-implemented locally for timing (a new scorer for every pair)."""
    from rouge_score import rouge_scorer

    from snitk.eval.metrics import normalize_answer

    def rouge(pred, gold, kind):
        scorer = rouge_scorer.RougeScorer([kind], use_stemmer=True)
        return scorer.score(prediction=pred, target=gold)[kind].fmeasure

    em = r1 = rl = 0.0
    for pred, golds in zip(predictions, references):
        em += max(normalize_answer(pred) == normalize_answer(g) for g in golds)
        r1 += max(rouge(pred, g, "rouge1") for g in golds)
        rl += max(rouge(pred, g, "rougeL") for g in golds)
    n = len(references)
    return {
        "exact_match": round(100.0 * em / n, 4),
        "rouge1": round(100.0 * r1 / n, 4),
        "rougeL": round(100.0 * rl / n, 4),
        "n": n,
    }


def main(argv: list[str] | None = None) -> int:
    parser = script_parser(__doc__)
    parser.add_argument("--n", type=int, default=15310, help="number of synthetic instances (SNI test: 15,310 incl. xlingual)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=None, help="processes for ours (default: all cores)")
    parser.add_argument("--official-subset", type=int, default=None, help="time the official way on K instances only")
    args = parser.parse_args(argv)
    if args.n < 1 or not 1 <= (args.official_subset or args.n) <= args.n:
        raise ConfigError(f"--n {args.n} --official-subset {args.official_subset}: expected 1 <= K <= N instances")

    from snitk.eval.metrics import compute_metrics

    preds, refs = synthetic(args.n, args.seed)
    k = args.official_subset or args.n

    t0 = time.perf_counter()
    official = official_compute_metrics(preds[:k], refs[:k])
    t_official = (time.perf_counter() - t0) * (args.n / k)

    t0 = time.perf_counter()
    ours = compute_metrics(preds, refs, num_workers=args.workers)
    t_ours = time.perf_counter() - t0
    ours_check = ours if k == args.n else compute_metrics(preds[:k], refs[:k], num_workers=1)

    print(f"instances: {args.n}  (official timed on {k}{', extrapolated' if k != args.n else ''})")
    print(f"official (new scorer per pair): {t_official:8.2f} s  {official}")
    print(f"snitk.eval.metrics:             {t_ours:8.2f} s  {ours}")
    print(f"speed-up: {t_official / t_ours:.1f}x")
    same = official == ours_check
    print("identical numbers:", same)
    return 0 if same else 1


if __name__ == "__main__":
    run_script(main, "bench_metrics.py")
