"""The held-out demo tasks: the 12 evaluation categories of the real default track, in the demo's world.

Like the real benchmark's default track, each held-out category is a whole category that no training task
belongs to: textual entailment, cause-effect classification, coreference resolution, dialogue act
recognition, answerability classification, word analogy, overlap extraction, keyword tagging, question
rewriting, title generation, data to text and grammar error correction. Each category has one test task
and one development task (another phrasing, label set or template of the same category), so settings are
chosen on development tasks without looking at the test tasks. The skills are those training teaches
(reading records and sentences, copying and replacing words, answering with a label the definition
names); the categories and their instructions are new.
"""

from __future__ import annotations

import random
from typing import Callable

from snitk.demo import words as W
from snitk.demo.spec import Spec, custom
from snitk.demo.world import (CAUSE_EFFECT, CLASSES, DIALOGUE_ACTS, FACTS, FEMALE, MALE, STATEMENTS, capitalize,
                              fact_sentence, facts_passage, fill_slots, profile_text, sample_facts, sample_profile)

COREF = (  # {a}, {b}: the two people in order of mention; {pa}/{pb}: subject pronouns, {pb_obj}: object pronoun
    "{a} met {b} in {city}, and {pa} gave {pb_obj} a {fruit}.",
    "{a} called {b} because {pa} needed the {noun}.",
    "{a} visited {b} in {city} after {pb} moved there.",
    "{a} thanked {b} when {pb} found the {noun}.",
)

# nouns for the article task: those taking "an" (from all pools), then those taking "a" (animals and fruits)
ARTICLE_NOUNS = ([w for w in W.ANIMALS + W.FRUITS + W.GENERAL if w[0] in "aeiou" and len(w) > 2]
                 + [w for w in W.ANIMALS + W.FRUITS if w[0] not in "aeiou"])


def _entailment(rng: random.Random) -> tuple[str, str, bool]:
    name, facts = sample_facts(rng, rng.randint(2, 3))
    premise = facts_passage(name, facts)
    rel = rng.choice(sorted(facts))
    holds = rng.random() < 0.5
    value = facts[rel] if holds else rng.choice([v for v in FACTS[rel][0] if v != facts[rel]])
    return premise, fact_sentence(name, rel, value), holds


def _cause_effect(rng: random.Random) -> tuple[str, str, bool]:
    cause, effect = rng.choice(CAUSE_EFFECT)
    cause_first = rng.random() < 0.5
    a, b = (cause, effect) if cause_first else (effect, cause)
    filled = fill_slots(rng, a + "|" + b).split("|")  # the same person, city, ... in both events
    return capitalize(filled[0]) + ".", capitalize(filled[1]) + ".", cause_first


def _coreference(rng: random.Random) -> tuple[str, str, str, str]:
    """(sentence, pronoun, the name it refers to, the other name): one woman and one man, so the pronoun decides."""
    template = rng.choice(COREF)
    woman, man = rng.choice(FEMALE), rng.choice(MALE)
    a, b = (woman, man) if rng.random() < 0.5 else (man, woman)
    subj = {woman: "she", man: "he"}
    obj = {woman: "her", man: "him"}
    sentence = fill_slots(rng, template, a=a, b=b, pa=subj[a], pb=subj[b], pb_obj=obj[b])
    words = sentence.rstrip(".").replace(",", "").split()
    asked = rng.choice([n for n in (a, b) if subj[n] in words or obj[n] in words])
    pronoun = subj[asked] if subj[asked] in words else obj[asked]
    return sentence, pronoun, asked, b if asked == a else a


def _dialogue(acts: dict[str, tuple[str, ...]]) -> Callable[[random.Random], tuple[str, str]]:
    def sample(rng: random.Random) -> tuple[str, str]:
        act = rng.choice(sorted(acts))
        return fill_slots(rng, rng.choice(acts[act])), act

    return sample


def _answerability(rng: random.Random) -> tuple[str, str, bool]:
    name, facts = sample_facts(rng, 2)
    passage = facts_passage(name, facts)
    answerable = rng.random() < 0.5
    rel = rng.choice(sorted(facts)) if answerable else rng.choice([r for r in FACTS if r not in facts])
    return passage, FACTS[rel][2].format(name=name), answerable


def _analogy(rng: random.Random) -> tuple[str, str, str, str]:
    c1, c2 = rng.choice(sorted(CLASSES)), rng.choice(sorted(CLASSES))
    x1 = rng.choice(CLASSES[c1])
    x2 = rng.choice([x for x in CLASSES[c2] if x != x1])
    return x1, c1, x2, c2


def _overlap(rng: random.Random) -> tuple[list[str], list[str], str]:
    pool = W.GENERAL[:120]
    common = rng.choice(pool)
    rest = rng.sample([w for w in pool if w != common], 8)
    a, b = rest[:4], rest[4:]
    a.insert(rng.randrange(5), common)
    b.insert(rng.randrange(5), common)
    return a, b, common


def _scene(rng: random.Random) -> dict[str, str]:
    return {"name": rng.choice(W.NAMES), "city": rng.choice(W.CITIES), "animal": rng.choice(W.ANIMALS),
            "fruit": rng.choice(W.FRUITS), "template": rng.randrange(3)}


SCENES = ("{name} saw a {animal} eating a {fruit} in {city}.", "In {city}, {name} fed a {fruit} to the {animal}.",
          "The {animal} followed {name} through {city} for a {fruit}.")


def _scene_text(p: dict) -> str:
    return SCENES[p["template"]].format(**p)


def _question_swap(rel: str | None) -> Callable[[random.Random], tuple[str, str, str]]:
    """(question, what to replace, its replacement): the person (rel None) or the value of a relation."""
    def sample(rng: random.Random) -> tuple[str, str, str]:
        name = rng.choice(W.NAMES)
        if rel is None:
            question = FACTS[rng.choice(sorted(FACTS))][2].format(name=name)
            return question, name, rng.choice([n for n in W.NAMES if n != name])
        value = rng.choice(FACTS[rel][0])
        question = {"sport": "Does {name} play {v}?", "city": "Does {name} live in {v}?"}[rel].format(name=name, v=value)
        return question, value, rng.choice([v for v in FACTS[rel][0] if v != value])

    return sample


def _duplicated(rng: random.Random) -> tuple[str, int]:
    text = _scene_text(_scene(rng))
    words = text.rstrip(".").split()
    return text, rng.randrange(len(words))


def _with_duplicate(p: tuple[str, int]) -> str:
    words = p[0].rstrip(".").split()
    return " ".join(words[: p[1] + 1] + words[p[1]:]) + "."


def _article(rng: random.Random) -> tuple[str, str, str, str]:
    name, noun = rng.choice(W.NAMES), rng.choice(ARTICLE_NOUNS)
    verb = rng.choice(("saw", "found", "drew", "wanted"))
    return name, verb, noun, rng.choice(W.CITIES)


def _article_text(p: tuple[str, str, str, str], correct: bool) -> str:
    name, verb, noun, city = p
    right = "an" if noun[0] in "aeiou" else "a"
    wrong = "a" if right == "an" else "an"
    return f"{name} {verb} {right if correct else wrong} {noun} in {city}."


# ---------------------------------------------------------------------------------------------- specs
def heldout_specs() -> list[Spec]:
    """One test and one development task for each evaluation category but data to text (whose held-out
    templates are `families_text.data_to_text_specs`'s test and development tasks)."""
    cls = dict(family="classification", reasoning=("Deductive Reasoning",))
    gen = dict(family="heldout", reasoning=())
    specs: list[Spec] = []

    def add(split: str, slug: str, definition: str, category: str, sample, render, solve, wrongs, explain, kw):
        specs.append(custom(slug, split, definition, category, sample, render, solve, wrongs, explain, **kw))

    def binary(split: str, slug: str, definition: str, category: str, sample, render, labels: tuple[str, str],
               why: str, explain: str):
        """A balanced two-label task whose sampler's last element says whether the first label is right."""
        add(split, slug, definition, category, sample, render, lambda p: labels[0] if p[-1] else labels[1],
            [(lambda p: labels[1] if p[-1] else labels[0], why)], explain, cls)

    # Textual Entailment
    binary("test", "premise_entails_hypothesis",
           "In this task, you are given a premise and a hypothesis about a person. Answer \"yes\" if the premise "
           "entails the hypothesis and \"no\" if the premise contradicts it.", "Textual Entailment", _entailment,
           lambda p: f"Premise: {p[0]} Hypothesis: {p[1]}", ("yes", "no"),
           "Compare the hypothesis with the facts of the premise.", "The answer is \"{answer}\".")
    binary("dev", "sentence_supports_claim",
           "Read the two sentences. Does the first sentence support the claim in the second one? Answer \"true\" or "
           "\"false\".", "Textual Entailment", _entailment, lambda p: f"Sentence 1: {p[0]} Sentence 2: {p[1]}",
           ("true", "false"), "The second sentence is checked against the first one.", "The claim is {answer}.")
    # Cause Effect Classification (the sampler's flag: the cause comes first)
    binary("test", "second_event_cause_or_effect",
           "You are given two events. Decide whether the second event is the \"cause\" or the \"effect\" of the first "
           "event.", "Cause Effect Classification", _cause_effect, lambda p: f"Event 1: {p[0]} Event 2: {p[1]}",
           ("effect", "cause"), "The order of cause and effect is reversed.", "The second event is the {answer}.")
    binary("dev", "which_event_is_the_cause",
           "Two sentences describe events. Which one is the cause of the other? Answer \"first\" or \"second\".",
           "Cause Effect Classification", _cause_effect, lambda p: f"{p[0]} {p[1]}", ("first", "second"),
           "That sentence describes the effect.", "The {answer} sentence is the cause.")
    # Coreference Resolution
    add("test", "who_is_the_pronoun",
        "In this task, you are given a sentence and a pronoun from it. Output the name of the person the pronoun refers to.",
        "Coreference Resolution", _coreference, lambda p: f"{p[0]} Pronoun: {p[1]}", lambda p: p[2],
        [(lambda p: p[3], "The pronoun refers to the other person.")],
        "\"{answer}\" is the person the pronoun refers to.", gen)
    add("dev", "pronoun_antecedent",
        "Which person does the given pronoun stand for? Answer with the person's name.",
        "Coreference Resolution", _coreference, lambda p: f"Text: {p[0]} | pronoun: {p[1]}", lambda p: p[2],
        [(lambda p: p[1], "The answer must be the name, not the pronoun.")],
        "The pronoun stands for {answer}.", gen)
    # Dialogue Act Recognition
    add("test", "dialogue_act",
        "You are given an utterance from a conversation. Classify its dialogue act as \"greeting\", \"question\", "
        "\"request\" or \"thanks\".", "Dialogue Act Recognition", _dialogue(DIALOGUE_ACTS), lambda p: p[0],
        lambda p: p[1], [(lambda p: "question" if p[1] != "question" else "request", "The utterance does something else.")],
        "The utterance is a {answer}.", cls)
    add("dev", "question_or_statement",
        "Is the given utterance a \"question\" or a \"statement\"?", "Dialogue Act Recognition",
        _dialogue({"question": DIALOGUE_ACTS["question"], "statement": STATEMENTS}), lambda p: p[0], lambda p: p[1],
        [(lambda p: "statement" if p[1] == "question" else "question", "Look at how the utterance ends.")],
        "It is a {answer}.", cls)
    # Answerability Classification
    binary("test", "question_answerable_from_passage",
           "Given a passage and a question, answer \"yes\" if the passage contains the answer to the question, "
           "otherwise \"no\".", "Answerability Classification", _answerability,
           lambda p: f"Passage: {p[0]} Question: {p[1]}", ("yes", "no"),
           "Check whether the passage mentions what the question asks.", "The answer is \"{answer}\".")
    binary("dev", "answerable_or_not",
           "Can the query be answered from the context? Output \"answerable\" or \"unanswerable\".",
           "Answerability Classification", _answerability, lambda p: f"Context: {p[0]} | query: {p[1]}",
           ("answerable", "unanswerable"), "The context does (not) mention the queried fact.", "The query is {answer}.")
    # Word Analogy
    add("test", "word_class_analogy",
        "Complete the analogy \"A : B :: C : ?\". B is the kind of thing A is; output the kind of thing C is "
        "(animal, fruit, color, city or job).", "Word Analogy", _analogy,
        lambda p: f"{p[0]} : {p[1]} :: {p[2]} : ?", lambda p: p[3],
        [(lambda p: p[1] if p[1] != p[3] else p[2], "This is not the kind of thing C is.")],
        "{answer} is the kind of thing C is.", gen)
    add("dev", "is_to_as_analogy",
        "Fill in the blank: \"A is to B as C is to ?\", where B says what kind of thing A is.", "Word Analogy", _analogy,
        lambda p: f"{p[0]} is to {p[1]} as {p[2]} is to ?", lambda p: p[3],
        [(lambda p: p[2], "The blank is the kind of thing, not the word itself.")],
        "{answer}.", gen)
    # Overlap Extraction
    add("test", "common_word_of_two_sentences",
        "You are given two sentences. Output the one word that appears in both of them.", "Overlap Extraction",
        _overlap, lambda p: f"Sentence 1: {' '.join(p[0])}. Sentence 2: {' '.join(p[1])}.", lambda p: p[2],
        [(lambda p: p[0][0] if p[0][0] != p[2] else p[0][1], "This word is only in the first sentence.")],
        "\"{answer}\" occurs in both sentences.", gen)
    add("dev", "shared_word_of_two_lists",
        "Find the word that the two word lists share.", "Overlap Extraction", _overlap,
        lambda p: f"{', '.join(p[0])} | {', '.join(p[1])}", lambda p: p[2],
        [(lambda p: p[1][-1] if p[1][-1] != p[2] else p[1][0], "This word is only in the second list.")],
        "Both lists contain \"{answer}\".", gen)
    # Keyword Tagging
    add("test", "person_and_city_keywords",
        "Tag the keywords of the sentence: output the person's name and the city, separated by a comma.",
        "Keyword Tagging", _scene, _scene_text, lambda p: f"{p['name']}, {p['city']}",
        [(lambda p: f"{p['animal']}, {p['fruit']}", "These are not the person and the city.")],
        "The keywords are {answer}.", gen)
    add("dev", "animal_and_fruit_keywords",
        "Output the keywords of the given sentence: the animal and the fruit, separated by a comma.",
        "Keyword Tagging", _scene, _scene_text, lambda p: f"{p['animal']}, {p['fruit']}",
        [(lambda p: f"{p['name']}, {p['city']}", "These are the person and the city.")],
        "The keywords are {answer}.", gen)
    # Question Rewriting
    add("test", "rewrite_question_for_person",
        "Rewrite the given question so that it asks about the new person instead of the person it names.",
        "Question Rewriting", _question_swap(None), lambda p: f"Question: {p[0]} | new person: {p[2]}",
        lambda p: p[0].replace(p[1], p[2]),
        [(lambda p: p[0], "The question still asks about the old person.")],
        "The rewritten question is \"{answer}\".", gen)
    add("dev", "rewrite_question_for_sport",
        "Rewrite the question so that it asks about the given sport instead.", "Question Rewriting",
        _question_swap("sport"), lambda p: f"{p[0]} | sport: {p[2]}", lambda p: p[0].replace(p[1], p[2]),
        [(lambda p: p[0], "The sport was not replaced.")], "\"{answer}\"", gen)
    # Title Generation
    add("test", "profile_title",
        "Write a title for the short profile, of the form \"The <job> from <city>\".", "Title Generation",
        sample_profile, profile_text, lambda p: f"The {p[1]['job']} from {p[1]['city']}",
        [(lambda p: f"{p[0]} and the {p[1]['pet']}", "The title does not follow the requested form.")],
        "\"{answer}\" names the job and the city.", gen)
    add("dev", "pet_story_title",
        "Give the profile a title of the form \"<name> and the <pet>\".", "Title Generation", sample_profile, profile_text,
        lambda p: f"{p[0]} and the {p[1]['pet']}",
        [(lambda p: f"The {p[1]['job']} from {p[1]['city']}", "The title does not follow the requested form.")],
        "\"{answer}\" names the person and the pet.", gen)
    # Grammar Error Correction
    add("test", "fix_repeated_word",
        "The given sentence has a grammatical error: one word is written twice in a row. Output the corrected sentence.",
        "Grammar Error Correction", _duplicated, _with_duplicate, lambda p: p[0],
        [(_with_duplicate, "The repeated word is still there.")], "The corrected sentence is \"{answer}\".", gen)
    add("dev", "fix_article",
        "Correct the article (\"a\" or \"an\") in the given sentence and output the corrected sentence.",
        "Grammar Error Correction", _article, lambda p: _article_text(p, False), lambda p: _article_text(p, True),
        [(lambda p: _article_text(p, False), "The article is still wrong.")], "Corrected: \"{answer}\".", gen)
    return specs


CATEGORIES = ("Textual Entailment", "Cause Effect Classification", "Coreference Resolution", "Dialogue Act Recognition",
              "Answerability Classification", "Word Analogy", "Overlap Extraction", "Keyword Tagging",
              "Question Rewriting", "Title Generation", "Data to Text", "Grammar Error Correction")
