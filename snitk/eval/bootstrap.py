"""Bootstrap statistics for benchmark scores: hierarchical intervals, paired tests, Holm, seeds.

The benchmark is two-level: tasks, and instances within tasks. `bootstrap_means` draws each resample
in two stages — the tasks with replacement, then, within every drawn task, its instances with
replacement — and returns the micro-average (the official aggregation: sum of instance scores over
the number of instances) of every resample. Everything is vectorised over per-instance scores: the
draws of a block of resamples become instance weights (one ``bincount``) and the means one matrix
product, so every score column (metrics, systems, seeds) shares the same resamples.

Note: drawing at both levels counts the within-task variance twice (its share in the spread of the
task means, and again by the instance draw), so the intervals are slightly conservative when
instance noise dominates the task-to-task spread.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Hashable, Sequence

import numpy as np

CONFIDENCE = 0.95
DEFAULT_RESAMPLES = 1000
# Instances drawn per block of resamples (bounds memory: ~8 bytes x this many, twice).
_BLOCK_DRAWS = 4_000_000


def rng_for(seed: int, name: str = "") -> np.random.Generator:
    """A generator determined by (seed, name): the same group gets the same resamples in every run."""
    return np.random.default_rng([int(seed), zlib.crc32(name.encode("utf-8"))])


@dataclass(frozen=True)
class Layout:
    """Instances grouped by task: ``index[t, j]`` is the j-th instance of task t (padded past ``sizes[t]``)."""

    index: np.ndarray  # (T, M) int
    sizes: np.ndarray  # (T,) int

    @classmethod
    def from_groups(cls, groups: Sequence[Hashable]) -> "Layout":
        labels = np.asarray(groups)
        if labels.ndim != 1 or len(labels) == 0:
            raise ValueError("groups: a non-empty 1-d sequence of task labels, one per instance")
        _, inverse, sizes = np.unique(labels, return_inverse=True, return_counts=True)
        order = np.argsort(inverse, kind="stable")
        starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        pos = np.arange(sizes.max())
        index = order[starts[:, None] + np.minimum(pos, sizes[:, None] - 1)]
        return cls(index, sizes)


def _as_matrix(scores: np.ndarray | Sequence) -> tuple[np.ndarray, bool]:
    arr = np.asarray(scores, dtype=np.float64)
    if arr.ndim == 1:
        return arr[:, None], True
    if arr.ndim != 2:
        raise ValueError(f"scores: shape (instances,) or (instances, columns), got {arr.shape}")
    return arr, False


def bootstrap_means(
    scores: np.ndarray | Sequence,
    groups: Sequence[Hashable],
    n_resamples: int = DEFAULT_RESAMPLES,
    rng: np.random.Generator | int = 0,
) -> np.ndarray:
    """Micro-averages of `scores` over `n_resamples` hierarchical resamples (tasks, then instances).

    `scores` is (N,) or (N, K) — K columns (metrics, systems, seeds) share every resample; `groups`
    gives each instance's task. Returns (n_resamples,) or (n_resamples, K).
    """
    x, flat = _as_matrix(scores)
    n, k = x.shape
    if len(groups) != n:
        raise ValueError(f"{n} scores but {len(groups)} group labels")
    if n_resamples < 1:
        raise ValueError(f"n_resamples: a positive integer, got {n_resamples}")
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    layout = Layout.from_groups(groups)
    t, m = layout.index.shape
    flat_index = layout.index.astype(np.int32).ravel()
    padded = not bool((layout.sizes == m).all())  # slots past a task's size are discarded (spare bin n)
    pos = np.arange(m, dtype=np.int32)
    out = np.empty((n_resamples, k))
    block = max(1, _BLOCK_DRAWS // (t * m))
    for start in range(0, n_resamples, block):
        b = min(block, n_resamples - start)
        tasks = rng.integers(0, t, size=(b, t), dtype=np.int32)  # stage 1: tasks with replacement
        sizes = layout.sizes[tasks].astype(np.int32)  # (b, T)
        # stage 2: instances with replacement within each drawn task. float32 draws scaled to the size
        # cost half of bounded integer draws; each instance's chance is 1/size to a relative
        # size * 2^-24 (6e-6 for 100 instances).
        within = (rng.random((b, t, m), dtype=np.float32) * sizes[..., None]).astype(np.int32)
        np.minimum(within, sizes[..., None] - 1, out=within)
        within += (tasks * m)[..., None]
        inst = flat_index[within]  # (b, T, M) instance ids
        if padded:
            inst = np.where(pos < sizes[..., None], inst, np.int32(n))
        weights = np.empty((b, n))
        for r in range(b):
            weights[r] = np.bincount(inst[r].ravel(), minlength=n + 1)[:n]
        out[start : start + b] = (weights @ x) / sizes.sum(axis=1, dtype=np.int64)[:, None]
    return out[:, 0] if flat else out


def percentile_interval(dist: np.ndarray, confidence: float = CONFIDENCE) -> np.ndarray:
    """The percentile interval of a bootstrap distribution along axis 0: [lower, upper]."""
    tail = 100 * (1 - confidence) / 2
    return np.percentile(np.asarray(dist), [tail, 100 - tail], axis=0)


def micro_mean(scores: np.ndarray | Sequence) -> np.ndarray:
    """The observed micro-average of each column (what the bootstrap resamples)."""
    x, flat = _as_matrix(scores)
    mean = x.sum(axis=0) / len(x)
    return mean[0] if flat else mean


@dataclass(frozen=True)
class PairedResult:
    """Paired comparison of two systems on the same instances: difference a - b, interval, p-value."""

    difference: float
    lower: float
    upper: float
    p_value: float


def two_sided_p(diffs: np.ndarray) -> float:
    """Bootstrap p-value of "difference = 0": twice the smaller tail mass at 0, with the +1 correction."""
    d = np.asarray(diffs)
    b = len(d)
    below = (1 + np.count_nonzero(d <= 0)) / (b + 1)
    above = (1 + np.count_nonzero(d >= 0)) / (b + 1)
    return float(min(1.0, 2 * min(below, above)))


def paired_bootstrap(
    a: np.ndarray | Sequence,
    b: np.ndarray | Sequence,
    groups: Sequence[Hashable],
    n_resamples: int = DEFAULT_RESAMPLES,
    rng: np.random.Generator | int = 0,
    confidence: float = CONFIDENCE,
) -> PairedResult:
    """Difference of micro-averages a - b with the same hierarchical resamples for both systems."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"a and b: per-instance scores of the same instances, got shapes {a.shape} and {b.shape}")
    dist = bootstrap_means(np.stack([a, b], axis=1), groups, n_resamples, rng)
    return paired_result(micro_mean(a) - micro_mean(b), dist[:, 0] - dist[:, 1], confidence)


def paired_result(observed: float, diffs: np.ndarray, confidence: float = CONFIDENCE) -> PairedResult:
    """A `PairedResult` from the observed difference and its resampled differences (same resamples)."""
    lo, hi = percentile_interval(diffs, confidence)
    return PairedResult(float(observed), float(lo), float(hi), two_sided_p(diffs))


def min_resamples_for(n_tests: int, alpha: float) -> int:
    """Fewest resamples whose smallest p-value, 2 / (B + 1), stays significant after Holm over `n_tests`."""
    return int(np.ceil(2 * n_tests / alpha))


def holm(p_values: Sequence[float]) -> np.ndarray:
    """Holm-Bonferroni adjusted p-values (reject where adjusted <= alpha); same order as given."""
    p = np.asarray(p_values, dtype=np.float64)
    m = len(p)
    if m == 0:
        return p
    order = np.argsort(p, kind="stable")
    scaled = np.minimum(1.0, p[order] * (m - np.arange(m)))
    adjusted = np.empty(m)
    adjusted[order] = np.maximum.accumulate(scaled)
    return adjusted


def seed_bootstrap_means(
    scores: np.ndarray | Sequence,
    groups: Sequence[Hashable],
    n_resamples: int = DEFAULT_RESAMPLES,
    rng: np.random.Generator | int = 0,
) -> np.ndarray:
    """Bootstrap over seeds x instances: `scores` is (S seeds, N instances) on the same instances.

    Each resample draws tasks, then instances (shared by all seeds, as they share the test set),
    then S seeds with replacement; returns the mean over the drawn seeds of their micro-averages.
    """
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim != 2:
        raise ValueError(f"scores: shape (seeds, instances), got {s.shape}")
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    per_seed = bootstrap_means(s.T, groups, n_resamples, rng)  # (B, S)
    picks = rng.integers(0, s.shape[0], size=per_seed.shape)
    return np.take_along_axis(per_seed, picks, axis=1).mean(axis=1)


def loglinear_fit(x: Sequence[float], y: Sequence[float]) -> tuple[float, float]:
    """Least-squares fit y = intercept + slope * log10(x); returns (intercept, slope per 10x)."""
    lx = np.log10(np.asarray(x, dtype=np.float64))
    yy = np.asarray(y, dtype=np.float64)
    if len(lx) < 2 or np.ptp(lx) == 0:
        raise ValueError("a log-linear fit needs at least two distinct positive x values")
    slope, intercept = np.polyfit(lx, yy, 1)
    return float(intercept), float(slope)
