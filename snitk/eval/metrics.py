"""The official Super-NaturalInstructions metrics: exact match, ROUGE-1 and ROUGE-L, both tracks.

Behaviour follows the official scorer (natural-instructions ``eval/automatic/evaluation.py`` and
Tk-Instruct ``src/compute_metrics.py``):

- exact match on ``normalize_answer`` (lower-case, ASCII punctuation dropped, whitespace collapsed;
  articles are kept), ROUGE-1 / ROUGE-L F-measure from rouge-score;
- the maximum over all references of an instance, micro-averaged over instances, x 100, rounded to
  4 decimals;
- default track: rouge-score's default tokenizer with the Porter stemmer; xlingual track: GPT-2
  byte-level BPE token strings with the leading "Ġ" stripped (no lower-casing, no stemming).

The numbers are identical to the official per-pair code, but computed much faster: tokenisers
and stemmer are built once, every distinct text is tokenised once (stems cached), LCS uses a
bit-parallel algorithm, and very large inputs (or an explicit ``num_workers``) are spread over
worker processes.
"""

from __future__ import annotations

import json
import math
import os
import string
import sys
from collections import Counter
from typing import Any, Hashable, Iterable, Sequence

OFFICIAL_DECIMALS = 4
METRICS = ("exact_match", "rouge1", "rougeL")

# The official per-category choice of metric (the paper's category table).
CATEGORY_METRICS: dict[str, str] = {
    "Textual Entailment": "exact_match",
    "Cause Effect Classification": "exact_match",
    "Coreference Resolution": "exact_match",
    "Dialogue Act Recognition": "exact_match",
    "Answerability Classification": "exact_match",
    "Word Analogy": "exact_match",
    "Overlap Extraction": "rougeL",
    "Keyword Tagging": "rougeL",
    "Question Rewriting": "rougeL",
    "Title Generation": "rougeL",
    "Data to Text": "rougeL",
    "Grammar Error Correction": "rougeL",
}
TASK_RENAMES = {"task121_atomic_question_rewriting": "task121_zest_question_rewriting"}

_PUNCT_TABLE = str.maketrans("", "", string.punctuation)
# Instances from which worker processes pay off: a worker needs ~1.5 s to start (nltk import), one
# process scores the 15,310 SNI test instances in ~2 s, so SNI-size inputs stay in-process.
_PARALLEL_MIN = 100_000


def normalize_answer(s: str) -> str:
    """Lower-case, drop ASCII punctuation, collapse whitespace (SQuAD's normaliser without article removal)."""
    return " ".join(s.lower().translate(_PUNCT_TABLE).split())


def category_key(category: str) -> str:
    """The official group key of a category: "Textual Entailment" -> "textual_entailment"."""
    return "_".join(category.lower().split())


def category_metric(category: str) -> str:
    """The metric the official report uses for `category` (ROUGE-L for categories not in its table)."""
    by_key = {category_key(c): m for c, m in CATEGORY_METRICS.items()}
    return by_key.get(category_key(category), "rougeL")


def canonical_task_name(task: str) -> str:
    """Task name as scored officially (task121_atomic_question_rewriting -> task121_zest_question_rewriting)."""
    return TASK_RENAMES.get(task, task)


# ----------------------------------------------------------------------------------------------
# Tokenisers


class DefaultTokenizer:
    """rouge-score's default tokenizer with the Porter stemmer (``rouge_score.tokenize.tokenize``).

    Same steps — lower-case, non-[a-z0-9] runs to spaces, split, stem words longer than 3
    characters, keep tokens matching ^[a-z0-9]+$ — with the per-word result cached.
    """

    def __init__(self) -> None:
        from nltk.stem import porter
        from rouge_score import tokenize as rs_tokenize

        self._stemmer = porter.PorterStemmer()
        self._non_alnum = rs_tokenize.NON_ALPHANUM_RE
        self._valid = rs_tokenize.VALID_TOKEN_RE
        self._words: dict[str, str | None] = {}

    def _word(self, w: str) -> str | None:
        out = self._stemmer.stem(w) if len(w) > 3 else w
        return out if self._valid.match(out) else None

    def tokenize(self, text: str) -> list[str]:
        words = self._words
        out = []
        for w in self._non_alnum.sub(" ", text.lower()).split():
            t = words.get(w, "")
            if t == "":
                t = words[w] = self._word(w)
            if t is not None:
                out.append(t)
        return out


def get_tokenizer(xlingual: bool = False, gpt2_bpe: str | None = None):
    """The ROUGE tokenizer of a track (an object with ``tokenize(text) -> list[str]``)."""
    if xlingual:
        from snitk.eval.tokenizers import get_gpt2_tokenizer

        return get_gpt2_tokenizer(gpt2_bpe)
    return DefaultTokenizer()


# ----------------------------------------------------------------------------------------------
# ROUGE on token lists (same arithmetic as rouge_score.rouge_scorer)


def _fmeasure(precision: float, recall: float) -> float:
    if precision + recall > 0:
        return 2 * precision * recall / (precision + recall)
    return 0.0


def lcs_length(a: Sequence[Hashable], b: Sequence[Hashable]) -> int:
    """Length of the longest common subsequence (bit-parallel; same value as rouge-score's DP table)."""
    if len(a) < len(b):
        a, b = b, a
    m = len(a)
    if not m or not b:
        return 0
    masks: dict[Hashable, int] = {}
    for i, tok in enumerate(a):
        masks[tok] = masks.get(tok, 0) | (1 << i)
    full = (1 << m) - 1
    v = full
    for tok in b:
        u = v & masks.get(tok, 0)
        v = ((v + u) | (v - u)) & full
    return m - v.bit_count()


def rouge_from_tokens(pred: Sequence[str], ref: Sequence[str], ref_counts: Counter | None = None) -> tuple[float, float]:
    """(ROUGE-1 F, ROUGE-L F) of prediction tokens against reference tokens, as rouge-score computes them."""
    # ROUGE-1 (rouge_scorer._score_ngrams with n=1)
    if ref_counts is None:
        ref_counts = Counter(ref)
    pred_counts = Counter(pred)
    inter = 0
    for tok, c in ref_counts.items():
        inter += min(c, pred_counts[tok])
    p1 = inter / max(len(pred), 1)
    r1 = inter / max(len(ref), 1)
    f1 = _fmeasure(p1, r1)
    # ROUGE-L (rouge_scorer._score_lcs)
    if not ref or not pred:
        return f1, 0.0
    lcs = lcs_length(ref, pred)
    return f1, _fmeasure(lcs / len(pred), lcs / len(ref))


class InstanceScorer:
    """Scores (prediction, references) pairs; builds its tokenizer once and tokenises each text once."""

    def __init__(self, xlingual: bool = False, gpt2_bpe: str | None = None, cache_size: int = 500_000):
        self.xlingual = xlingual
        self._tokenizer = get_tokenizer(xlingual, gpt2_bpe)
        self._cache: dict[str, tuple[tuple[str, ...], Counter, str]] = {}
        self._cache_size = cache_size

    def tokens(self, text: str) -> tuple[tuple[str, ...], Counter, str]:
        """(ROUGE tokens, their counts, normalize_answer(text)) of `text`, cached."""
        hit = self._cache.get(text)
        if hit is None:
            if len(self._cache) >= self._cache_size:
                self._cache.clear()
            toks = tuple(self._tokenizer.tokenize(text))
            hit = self._cache[text] = (toks, Counter(toks), normalize_answer(text))
        return hit

    def score(self, prediction: str, references: Sequence[str]) -> tuple[float, float, float]:
        """(exact match, ROUGE-1, ROUGE-L) of one instance, each the max over its references."""
        if isinstance(references, str):
            references = [references]
        if not references:
            raise ValueError("an instance needs at least one reference output")
        em = 0.0
        best1 = bestL = -1.0
        pred_toks, _, norm_pred = self.tokens(prediction)
        for ref in references:
            ref_toks, ref_counts, norm_ref = self.tokens(ref)
            if norm_ref == norm_pred:
                em = 1.0
            f1, fl = rouge_from_tokens(pred_toks, ref_toks, ref_counts)
            best1 = max(best1, f1)
            bestL = max(bestL, fl)
        return em, best1, bestL


# ----------------------------------------------------------------------------------------------
# Many instances, possibly in parallel

def _worker_main() -> None:
    """Worker process: JSON {"xlingual", "gpt2_bpe", "pairs"} on stdin -> JSON list of score triples on stdout."""
    job = json.load(sys.stdin)
    scorer = InstanceScorer(job["xlingual"], job["gpt2_bpe"])
    json.dump([scorer.score(p, r) for p, r in job["pairs"]], sys.stdout)


def _score_in_subprocesses(pairs: list, xlingual: bool, gpt2_bpe: str | None, workers: int) -> list:
    """Score contiguous parts of `pairs` in `workers` fresh Python processes (no fork of a JAX process,
    no re-import of the caller's __main__); floats travel as JSON, which round-trips them exactly."""
    import subprocess
    from concurrent.futures import ThreadPoolExecutor
    from pathlib import Path

    size = math.ceil(len(pairs) / workers)
    parts = [pairs[i : i + size] for i in range(0, len(pairs), size)]
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    cmd = [sys.executable, "-c", "from snitk.eval.metrics import _worker_main; _worker_main()"]

    def run(part: list) -> list:
        payload = json.dumps({"xlingual": xlingual, "gpt2_bpe": gpt2_bpe, "pairs": part})
        proc = subprocess.run(cmd, input=payload, capture_output=True, text=True, env=env, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"metric worker failed: {proc.stderr.strip()[-2000:]}")
        return [tuple(x) for x in json.loads(proc.stdout)]

    with ThreadPoolExecutor(len(parts)) as pool:
        results = list(pool.map(run, parts))
    return [x for part in results for x in part]


def _default_workers(n: int) -> int:
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return 1 if n < _PARALLEL_MIN else max(1, min(cpus, n // (_PARALLEL_MIN // 2)))


def score_instances(
    predictions: Sequence[str],
    references: Sequence[Sequence[str]],
    xlingual: bool = False,
    *,
    gpt2_bpe: str | None = None,
    num_workers: int | None = None,
) -> list[tuple[float, float, float]]:
    """Per-instance (exact match, ROUGE-1, ROUGE-L) in [0, 1], in input order.

    `num_workers` None: one process below 100,000 instances, else up to all available cores (fresh
    worker processes; numbers are identical either way).
    """
    if len(predictions) != len(references):
        raise ValueError(f"{len(predictions)} predictions but {len(references)} reference lists")
    n = len(predictions)
    workers = _default_workers(n) if num_workers is None else max(1, int(num_workers))
    pairs = [(str(p), [str(r) for r in ([refs] if isinstance(refs, str) else refs)]) for p, refs in zip(predictions, references)]
    if xlingual and gpt2_bpe is None:
        from snitk.eval.tokenizers import ENV_VAR

        gpt2_bpe = os.environ.get(ENV_VAR) or None
    if workers <= 1 or n < 2:
        scorer = InstanceScorer(xlingual, gpt2_bpe)
        return [scorer.score(p, r) for p, r in pairs]
    InstanceScorer(xlingual, gpt2_bpe)  # fail early here (e.g. missing GPT-2 ranks), not in a worker
    return _score_in_subprocesses(pairs, xlingual, gpt2_bpe, workers)


def aggregate(scores: Iterable[tuple[float, float, float]]) -> dict[str, Any]:
    """Micro-average x 100 with the official rounding: {"exact_match","rouge1","rougeL","n"}."""
    em = r1 = rl = 0.0
    n = 0
    for e, a, b in scores:  # sequential sums, as the official loop
        em += e
        r1 += a
        rl += b
        n += 1
    if n == 0:
        return {"exact_match": 0.0, "rouge1": 0.0, "rougeL": 0.0, "n": 0}
    return {
        "exact_match": round(100.0 * em / n, OFFICIAL_DECIMALS),
        "rouge1": round(100.0 * r1 / n, OFFICIAL_DECIMALS),
        "rougeL": round(100.0 * rl / n, OFFICIAL_DECIMALS),
        "n": n,
    }


def exact_match(prediction: str, reference: str) -> float:
    """1.0 when the normalised strings are equal, else 0.0."""
    return float(normalize_answer(prediction) == normalize_answer(reference))


def _pair_rouge(prediction: str, reference: str, xlingual: bool, gpt2_bpe: str | None) -> tuple[float, float]:
    tok = get_tokenizer(xlingual, gpt2_bpe)
    return rouge_from_tokens(tok.tokenize(prediction), tok.tokenize(reference))


def rouge1(prediction: str, reference: str, xlingual: bool = False, gpt2_bpe: str | None = None) -> float:
    """ROUGE-1 F-measure of one pair (in [0, 1])."""
    return _pair_rouge(prediction, reference, xlingual, gpt2_bpe)[0]


def rougeL(prediction: str, reference: str, xlingual: bool = False, gpt2_bpe: str | None = None) -> float:
    """ROUGE-L F-measure of one pair (in [0, 1])."""
    return _pair_rouge(prediction, reference, xlingual, gpt2_bpe)[1]


def compute_metrics(
    predictions: Sequence[str],
    references: Sequence[Sequence[str]],
    xlingual: bool = False,
    *,
    gpt2_bpe: str | None = None,
    num_workers: int | None = None,
) -> dict[str, Any]:
    """Official corpus metrics: {"exact_match", "rouge1", "rougeL", "n"} (percentages, 4 decimals)."""
    return aggregate(score_instances(predictions, references, xlingual, gpt2_bpe=gpt2_bpe, num_workers=num_workers))


def group_scores(scores: Sequence[tuple[float, float, float]], groups: Sequence[Hashable]) -> dict[Hashable, dict[str, Any]]:
    """Aggregate per-instance scores per group (groups in order of first appearance)."""
    if len(scores) != len(groups):
        raise ValueError(f"{len(scores)} scores but {len(groups)} group labels")
    by_group: dict[Hashable, list[tuple[float, float, float]]] = {}
    for s, g in zip(scores, groups):
        by_group.setdefault(g, []).append(s)
    return {g: aggregate(v) for g, v in by_group.items()}


def compute_grouped_metrics(
    predictions: Sequence[str],
    references: Sequence[Sequence[str]],
    groups: Sequence[Hashable],
    xlingual: bool = False,
    *,
    gpt2_bpe: str | None = None,
    num_workers: int | None = None,
) -> dict[Hashable, dict[str, Any]]:
    """Official metrics per group label, e.g. per task or per category."""
    scores = score_instances(predictions, references, xlingual, gpt2_bpe=gpt2_bpe, num_workers=num_workers)
    return group_scores(scores, groups)


def score_report(
    predictions: Sequence[str],
    references: Sequence[Sequence[str]],
    tasks: Sequence[str],
    categories: Sequence[str],
    xlingual: bool = False,
    *,
    gpt2_bpe: str | None = None,
    num_workers: int | None = None,
) -> dict[str, Any]:
    """{"overall", "per_category", "per_task"}; each category entry also names its official metric."""
    scores = score_instances(predictions, references, xlingual, gpt2_bpe=gpt2_bpe, num_workers=num_workers)
    return report_from_scores(scores, tasks, categories)


def report_from_scores(
    scores: Sequence[tuple[float, float, float]], tasks: Sequence[str], categories: Sequence[str]
) -> dict[str, Any]:
    """`score_report` of already computed per-instance (exact match, ROUGE-1, ROUGE-L) scores."""
    tasks = [canonical_task_name(t) for t in tasks]
    per_category = group_scores(scores, categories)
    for cat, m in per_category.items():
        m["metric"] = category_metric(str(cat))
    per_task = group_scores(scores, tasks)
    task_cat = dict(zip(tasks, categories))
    for task, m in per_task.items():
        m["category"] = task_cat[task]
        m["metric"] = category_metric(task_cat[task])
    return {
        "overall": aggregate(scores),
        "per_category": dict(sorted(per_category.items())),
        "per_task": dict(sorted(per_task.items())),
    }
