"""Training tasks of the categories design whose answer is a label that only the definition names.

On the real benchmark, thousands of training classification tasks each name their own label words
("entailment" / "neutral", "positive" / "negative", "Yes" / "No", "A" / "B", ...), so a model that is
instruction-tuned on them learns to answer a new classification task with one of the labels its
definition names, the first thing an unseen category asks of it. A demo model trained on a few fixed
label pairs instead answers an unseen category with the words of the training task whose input looks
alike. These tasks teach the former: the same condition over the same inputs is asked with different
label words (curated pairs shared with other conditions, and pairs of everyday words that no other task
uses), so the input does not tell the answer; the definition does. Their label words are none of the
held-out tasks'.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, Callable

from snitk.demo import spec as S
from snitk.demo import words as W
from snitk.demo.spec import Spec, custom
from snitk.demo.world import FACTS, FEMALE, MALE, facts_passage, fill_slots, sample_facts, sample_thing


@dataclass(frozen=True)
class Condition:
    """A yes/no question about an input: `holds(payload)` says whether `text` is true of it."""

    slug: str
    text: str  # completes "Answer X if ..."
    sample: Callable[[random.Random], Any]
    render: Callable[[Any], str]
    holds: Callable[[Any], bool]


def _word_list(pool: list[str]) -> Callable[[random.Random], list[str]]:
    def sample(rng: random.Random) -> list[str]:
        words = rng.sample(W.GENERAL[:150], rng.randint(3, 5))
        if rng.random() < 0.5:
            words.insert(rng.randrange(len(words) + 1), rng.choice(pool))
        return words

    return sample


def _passage(rng: random.Random) -> tuple[str, dict[str, str]]:
    return sample_facts(rng, 2)


def _person_sentence(rng: random.Random) -> tuple[str, bool]:
    female = rng.random() < 0.5
    template = rng.choice(("{name} bought a {fruit} in {city}.", "{name} saw a {animal} near the {noun}.",
                           "{name} took the {noun} to {city}."))
    return fill_slots(rng, template, name=rng.choice(FEMALE if female else MALE)), female


def _record(rng: random.Random) -> dict[str, Any]:
    return {"name": rng.choice(W.NAMES), "age": rng.randint(18, 70), "city": rng.choice(W.CITIES)}


EUROPE = set("Paris London Berlin Madrid Rome Vienna Prague Dublin Lisbon Oslo Athens Warsaw Helsinki Zurich".split())
CONDITIONS = (
    Condition("number_above_50", "the list contains a number greater than 50",
              lambda rng: S.numbers(rng, 3, 5, 60), S.as_text("comma"), lambda p: max(p) > 50),
    Condition("more_than_four", "the list has more than four numbers",
              lambda rng: S.numbers(rng, 3, 6), S.as_text("space"), lambda p: len(p) > 4),
    Condition("first_larger", "the first number is larger than the last one",
              lambda rng: S.numbers(rng, 3, 5), S.as_text("bracket"), lambda p: p[0] > p[-1]),
    Condition("has_animal", "the list names an animal", _word_list(W.ANIMALS), S.as_text("comma"),
              lambda p: any(w in W.ANIMALS for w in p)),
    Condition("has_fruit", "one of the words is a fruit", _word_list(W.FRUITS), S.as_text("space"),
              lambda p: any(w in W.FRUITS for w in p)),
    Condition("says_city", "the text says where the person lives", _passage, lambda p: facts_passage(*p),
              lambda p: "city" in p[1]),
    Condition("says_pet", "the text mentions the person's pet", _passage, lambda p: facts_passage(*p),
              lambda p: "pet" in p[1]),
    Condition("is_woman", "the person in the sentence is a woman", _person_sentence, lambda p: p[0],
              lambda p: p[1]),
    Condition("older_than_40", "the person is older than 40", _record,
              lambda p: S.record(p, ("name", "age", "city")), lambda p: p["age"] > 40),
    Condition("lives_in_europe", "the city is in Europe",
              lambda rng: (rng.choice(W.NAMES), rng.choice(W.CITIES)),
              lambda p: FACTS["city"][1].format(name=p[0], v=p[1]), lambda p: p[1] in EUROPE),
)

# label words (said when the condition holds, when it does not): none is a held-out task's label
LABEL_PAIRS = (("keep", "drop"), ("high", "low"), ("pass", "fail"), ("accept", "reject"), ("on", "off"),
               ("valid", "invalid"), ("present", "absent"), ("inside", "outside"), ("big", "small"),
               ("left", "right"), ("up", "down"), ("hot", "cold"), ("include", "exclude"), ("found", "missing"),
               ("A", "B"), ("1", "0"), ("plus", "minus"), ("many", "few"), ("north", "south"), ("alpha", "beta"),
               ("T", "F"), ("Y", "N"), ("agree", "disagree"), ("sun", "moon"), ("light", "dark"), ("open", "closed"),
               ("good", "bad"), ("right", "wrong"))
PAIRS_PER_CONDITION = 3  # of these pairs, each condition is asked with
# ... and with pairs of everyday words of its own, so that the label words of a task cannot be memorised
RANDOM_PAIRS_PER_CONDITION = 3
LABELS_PER_TASK_INSTANCES = 75  # instances of each two-label task (half the demo's usual 150: there are many)
DEFINITIONS = ("Answer \"{x}\" if {cond}, otherwise answer \"{y}\".",
               "Output \"{y}\" unless {cond}; in that case output \"{x}\".",
               "Label the input \"{x}\" when {cond} and \"{y}\" when not.")

# Multi-way tasks: the kind of a word or the fact a sentence states, under label words each task names.
KIND_LABELS = ({"animal": "creature", "fruit": "food", "color": "shade", "city": "place", "job": "work"},
               {"animal": "beast", "fruit": "snack", "color": "paint", "city": "town", "job": "trade"})
FACT_LABELS = ({"city": "home", "job": "work", "sport": "game", "pet": "pets", "color": "taste"},
               {"city": "where", "job": "occupation", "sport": "hobby", "pet": "companion", "color": "favorite"})


def _quoted(labels: dict[str, str]) -> str:
    words = [f"\"{v}\"" for v in labels.values()]
    return ", ".join(words[:-1]) + " or " + words[-1]


def _binary(cond: Condition, pair: tuple[str, str], style: int) -> Spec:
    x, y = pair
    definition = DEFINITIONS[style % len(DEFINITIONS)].format(x=x, y=y, cond=cond.text)
    return custom(f"label_{cond.slug}_{x.lower()}_{y.lower()}", "train", definition, "Text Categorization",
                  cond.sample, cond.render, lambda p: x if cond.holds(p) else y,
                  [(lambda p: y if cond.holds(p) else x, "The definition names the other label for this input.")],
                  "The answer is \"{answer}\".", family="classification", reasoning=("Deductive Reasoning",),
                  num_instances=LABELS_PER_TASK_INSTANCES)


def _kind(labels: dict[str, str], n: int) -> Spec:
    return custom(f"kind_label_{n}", "train",
                  f"Classify the word that the person wrote as {_quoted(labels)}, for an animal, a fruit, a color, "
                  "a city and a job.",
                  "Word Semantics", sample_thing, lambda p: f"{p[2]} wrote the word {p[0]}.", lambda p: labels[p[1]],
                  [(lambda p: labels["city" if p[1] != "city" else "job"], "The word is another kind of thing.")],
                  "The label is \"{answer}\".", family="classification", reasoning=("Deductive Reasoning",))


def _fact(labels: dict[str, str], n: int) -> Spec:
    def sample(rng: random.Random) -> tuple[str, str, str]:
        rel = rng.choice(sorted(FACTS))
        return rng.choice(W.NAMES), rel, rng.choice(FACTS[rel][0])

    return custom(f"fact_label_{n}", "train",
                  f"Which fact does the sentence state? Answer {_quoted(labels)} for the person's city, job, sport, "
                  "pet and color.", "Text Categorization", sample,
                  lambda p: FACTS[p[1]][1].format(name=p[0], v=p[2]), lambda p: labels[p[1]],
                  [(lambda p: labels["job" if p[1] != "job" else "city"], "The sentence states another fact.")],
                  "\"{answer}\"", family="classification", reasoning=("Deductive Reasoning",))


def _random_pairs(n: int) -> list[tuple[str, str]]:
    """`n` pairs of distinct everyday words, none in two pairs (from the part of `W.GENERAL` that no input here
    draws from, less the curated label words)."""
    pool = [w for w in W.GENERAL[150:] if w not in {x for p in LABEL_PAIRS for x in p}]
    words = random.Random("snitk demo label words").sample(pool, 2 * n)
    return list(zip(words[::2], words[1::2]))


def label_specs() -> list[Spec]:
    """Each condition with `PAIRS_PER_CONDITION` label pairs (rotating through `LABEL_PAIRS`, so each pair
    answers a different condition each time) and `RANDOM_PAIRS_PER_CONDITION` pairs of its own, plus the
    multi-way tasks."""
    specs = []
    fresh = iter(_random_pairs(len(CONDITIONS) * RANDOM_PAIRS_PER_CONDITION))
    for i, cond in enumerate(CONDITIONS):
        pairs = [LABEL_PAIRS[(i * PAIRS_PER_CONDITION + j * 7) % len(LABEL_PAIRS)] for j in range(PAIRS_PER_CONDITION)]
        pairs += [next(fresh) for _ in range(RANDOM_PAIRS_PER_CONDITION)]
        for j, pair in enumerate(pairs):
            specs.append(_binary(cond, pair, i + j))
    specs += [_kind(labels, n) for n, labels in enumerate(KIND_LABELS, 1)]
    specs += [_fact(labels, n) for n, labels in enumerate(FACT_LABELS, 1)]
    return specs
