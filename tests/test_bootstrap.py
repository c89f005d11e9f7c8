"""snitk.eval.bootstrap against closed forms, brute-force enumeration and known error rates."""

from __future__ import annotations

import itertools
from collections import Counter
from fractions import Fraction

import numpy as np
import pytest

from snitk.eval.bootstrap import (
    bootstrap_means,
    holm,
    loglinear_fit,
    micro_mean,
    paired_bootstrap,
    percentile_interval,
    seed_bootstrap_means,
)


def synthetic(rng: np.random.Generator, tasks: int, per_task: int, task_sd: float = 1.0, noise_sd: float = 1.0):
    """Scores with a task effect plus instance noise; returns (scores, task labels)."""
    groups = np.repeat(np.arange(tasks), per_task)
    return rng.normal(0, task_sd, tasks)[groups] + rng.normal(0, noise_sd, tasks * per_task), groups


def test_self_comparison_is_exactly_zero_with_p_one():
    rng = np.random.default_rng(1)
    a, groups = synthetic(rng, 12, 7)
    res = paired_bootstrap(a, a, groups, 500, rng=3)
    assert res.difference == 0.0 and res.lower == 0.0 and res.upper == 0.0
    assert res.p_value == 1.0


def test_hierarchical_variance_matches_closed_form():
    """Equal task sizes m: Var* = (plug-in var of task means + mean plug-in within-task var / m) / T."""
    rng = np.random.default_rng(0)
    tasks, m = 30, 8
    x, groups = synthetic(rng, tasks, m)
    per_task = x.reshape(tasks, m)
    closed = (per_task.mean(1).var() + per_task.var(1).mean() / m) / tasks
    dist = bootstrap_means(x, groups, 20_000, rng=5)
    assert dist.mean() == pytest.approx(x.mean(), abs=4 * np.sqrt(closed / 20_000))
    assert dist.var() == pytest.approx(closed, rel=0.04)  # Monte-Carlo error of a variance: sqrt(2/B) = 1%


def test_brute_force_enumeration_of_a_tiny_case():
    """Two tasks of unequal size: the exact resampling distribution of the micro-average, enumerated."""
    tasks = {"A": [0.0, 1.0], "B": [0.25]}
    names = list(tasks)
    exact: Counter = Counter()
    for drawn in itertools.product(names, repeat=len(names)):  # stage 1: tasks with replacement
        p_tasks = Fraction(1, len(names) ** len(names))
        choices = [itertools.product(tasks[t], repeat=len(tasks[t])) for t in drawn]  # stage 2
        for inst in itertools.product(*choices):
            p = p_tasks * np.prod([Fraction(1, len(tasks[t]) ** len(tasks[t])) for t in drawn])
            values = [v for part in inst for v in part]
            exact[round(sum(values) / len(values), 12)] += p
    assert sum(exact.values()) == 1
    scores = np.array([0.0, 1.0, 0.25])
    resamples = 40_000
    dist = np.round(bootstrap_means(scores, ["A", "A", "B"], resamples, rng=11), 12)
    seen = Counter(dist.tolist())
    assert set(seen) <= set(exact)  # nothing outside the support
    for value, p in exact.items():
        p = float(p)
        assert abs(seen[value] / resamples - p) < 4.5 * np.sqrt(p * (1 - p) / resamples), value


def test_interval_width_shrinks_as_one_over_sqrt_n():
    rng = np.random.default_rng(2)
    sizes = [10, 40, 160, 640]  # tasks of 10 instances each: n = 100 ... 6,400
    widths = []
    for t in sizes:
        x, groups = synthetic(rng, t, 10, task_sd=0.5)
        lo, hi = percentile_interval(bootstrap_means(x, groups, 2000, rng=t))
        widths.append(hi - lo)
    slope = np.polyfit(np.log(sizes), np.log(widths), 1)[0]
    assert slope == pytest.approx(-0.5, abs=0.05)


def test_paired_test_rejects_a_null_at_the_stated_rate_and_detects_a_shift():
    """One instance per task (the bootstrap of a mean): ~5% false positives at alpha 0.05; a shift of
    4 standard errors found nearly always."""
    trials, n, alpha = 300, 200, 0.05
    null = shift = 0
    for seed in range(trials):
        rng = np.random.default_rng(seed)
        common = rng.normal(0, 1, n)  # shared instance difficulty: the pairing matters
        a, b = common + rng.normal(0, 1, n), common + rng.normal(0, 1, n)
        groups = np.arange(n)
        null += paired_bootstrap(a, b, groups, 500, rng=seed).p_value <= alpha
        shift += paired_bootstrap(a + 4 * np.sqrt(2 / n), b, groups, 500, rng=seed).p_value <= alpha
    # binomial(300, 0.05): mean 15, sd 3.8 -> 2% .. 9.5% holds with ample margin
    assert 0.02 <= null / trials <= 0.095
    assert shift / trials >= 0.9


def test_hierarchical_paired_test_is_not_anticonservative():
    trials, alpha = 200, 0.05
    rejections = 0
    for seed in range(trials):
        rng = np.random.default_rng(1000 + seed)
        x, groups = synthetic(rng, 20, 5)
        y = x - rng.normal(0, 1, len(x)) + rng.normal(0, 1, len(x))
        rejections += paired_bootstrap(x, y, groups, 400, rng=seed).p_value <= alpha
    assert rejections / trials <= alpha + 0.035  # binomial(200, 0.05) sd 1.5%


def test_holm_against_a_hand_computed_case():
    # sorted: 0.005*4 = 0.02, 0.01*3 = 0.03, 0.03*2 = 0.06, 0.04*1 = 0.04 -> max(0.06, 0.04) = 0.06
    adjusted = holm([0.01, 0.04, 0.03, 0.005])
    np.testing.assert_allclose(adjusted, [0.03, 0.06, 0.06, 0.02])
    assert list(adjusted <= 0.05) == [True, False, False, True]
    assert holm([0.6, 0.9]).tolist() == [1.0, 1.0]  # capped at 1


def test_seed_level_resampling_matches_closed_form():
    """Instances without spread within a seed: only the seed draw varies, Var* = plug-in var / S."""
    per_seed = np.array([40.0, 42.0, 47.0])
    scores = np.repeat(per_seed[:, None], 60, axis=1)
    dist = seed_bootstrap_means(scores, np.repeat(np.arange(6), 10), 20_000, rng=4)
    assert dist.mean() == pytest.approx(per_seed.mean(), abs=0.05)
    assert dist.var() == pytest.approx(per_seed.var() / len(per_seed), rel=0.04)


def test_resamples_are_seeded_and_columns_share_them():
    rng = np.random.default_rng(8)
    groups = np.repeat(np.arange(9), [2, 5, 2, 3, 1, 3, 2, 2, 7])  # unequal task sizes
    x = rng.normal(size=len(groups))
    one = bootstrap_means(x, groups, 300, rng=1)
    np.testing.assert_array_equal(one, bootstrap_means(x, groups, 300, rng=1))
    assert not np.array_equal(one, bootstrap_means(x, groups, 300, rng=2))
    both = bootstrap_means(np.stack([x, 2 * x + 1], axis=1), groups, 300, rng=1)
    np.testing.assert_allclose(both[:, 0], one)
    np.testing.assert_allclose(both[:, 1], 2 * one + 1)  # same resamples: an affine map of the first column
    assert micro_mean(x) == pytest.approx(x.mean())


def test_loglinear_fit_recovers_slope():
    x = [8, 32, 128, 512]
    intercept, slope = loglinear_fit(x, [3 + 2 * np.log10(v) for v in x])
    assert intercept == pytest.approx(3) and slope == pytest.approx(2)
    with pytest.raises(ValueError):
        loglinear_fit([5, 5], [1, 2])
