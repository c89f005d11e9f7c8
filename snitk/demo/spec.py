"""The building block of the demo corpus: a `Spec` describes one task (definition, input sampler,
reference solver, plausible wrong answers for the negative examples), and small helpers build the
common shapes (list operations, records, sentences).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

Payload = Any


@dataclass(frozen=True)
class Spec:
    """One demo task. `solve` is the reference solver: every output in the file is `solve(payload)`."""

    slug: str  # file name part after "taskNNNN_demo_"
    split: str  # "train" or "test"
    definition: str
    category: str
    sample: Callable[[random.Random], Payload]
    render: Callable[[Payload], str]
    solve: Callable[[Payload], str]
    wrongs: tuple[tuple[Callable[[Payload], str], str], ...]  # (wrong answer, explanation)
    explain: str  # explanation of a positive example; "{answer}" is replaced by the output
    reasoning: tuple[str, ...] = ()
    domains: tuple[str, ...] = ("Miscellaneous",)
    language: str = "English"
    family: str = "misc"
    num_instances: int | None = None  # instances of this task (None: the corpus's count; never more than it)
    extra: dict = field(default_factory=dict)


def _fmt(style: str) -> Callable[[Sequence[Any]], str]:
    if style == "space":
        return lambda xs: " ".join(map(str, xs))
    if style == "comma":
        return lambda xs: ", ".join(map(str, xs))
    if style == "bracket":
        return lambda xs: "[" + ", ".join(map(str, xs)) + "]"
    raise ValueError(style)


def as_text(style: str) -> Callable[[Any], str]:
    """Formats list values in `style`, anything else with str()."""
    fmt = _fmt(style)
    return lambda v: fmt(v) if isinstance(v, (list, tuple)) else str(v)


def listop(
    slug: str,
    split: str,
    definition: str,
    category: str,
    sample: Callable[[random.Random], list],
    style: str,
    op: Callable[[list], Any],
    wrongs: Sequence[tuple[Callable[[list], Any], str]],
    explain: str,
    **kw: Any,
) -> Spec:
    """A task whose input is a list rendered in `style` and whose output is `op(list)` in the same style."""
    out = as_text(style)
    fmt = _fmt(style)
    return Spec(
        slug=slug,
        split=split,
        definition=definition,
        category=category,
        sample=sample,
        render=lambda p: fmt(p),
        solve=lambda p: out(op(p)),
        wrongs=tuple((lambda p, w=w: out(w(p)), e) for w, e in wrongs),
        explain=explain,
        **kw,
    )


def custom(
    slug: str,
    split: str,
    definition: str,
    category: str,
    sample: Callable[[random.Random], Any],
    render: Callable[[Any], str],
    solve: Callable[[Any], Any],
    wrongs: Sequence[tuple[Callable[[Any], Any], str]],
    explain: str,
    **kw: Any,
) -> Spec:
    """A task with its own input rendering; outputs are converted with str()."""
    return Spec(
        slug=slug,
        split=split,
        definition=definition,
        category=category,
        sample=sample,
        render=render,
        solve=lambda p: str(solve(p)),
        wrongs=tuple((lambda p, w=w: str(w(p)), e) for w, e in wrongs),
        explain=explain,
        **kw,
    )


# ---------------------------------------------------------------- samplers


def words(rng: random.Random, pool: Sequence[str], lo: int = 4, hi: int = 6) -> list[str]:
    """`lo..hi` distinct words from `pool`."""
    return rng.sample(list(pool), rng.randint(lo, hi))


def numbers(rng: random.Random, lo: int = 4, hi: int = 6, top: int = 99) -> list[int]:
    """`lo..hi` distinct integers in 1..top."""
    return rng.sample(range(1, top + 1), rng.randint(lo, hi))


def record(fields: dict[str, Any], order: Sequence[str]) -> str:
    """`key: value | key: value` in the given key order."""
    return " | ".join(f"{k}: {fields[k]}" for k in order)


def parse_record(text: str) -> dict[str, str]:
    """Inverse of `record`."""
    out = {}
    for part in text.split(" | "):
        key, _, value = part.partition(": ")
        out[key] = value
    return out
