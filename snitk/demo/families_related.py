"""Training tasks of the categories design in the real benchmark's *training* categories that share the
held-out categories' world (`--held-out categories`).

On the real default track, the held-out categories are new, but the training mixture is full of tasks in
neighbouring categories that read the same kinds of text: question answering over passages, text
matching, gender classification, word semantics, dialogue generation, question generation, sentence
perturbation, summarization, text completion, part-of-speech tagging, punctuation errors. These are the
demo's versions of those training categories, over the same people, facts, events and utterances as the
held-out tasks (`world`, `families_heldout`), with their own instructions, input layouts and outputs; none of them
is in a held-out category, and no held-out input occurs in them (the generator reserves those).
"""

from __future__ import annotations

import random

from snitk.demo import words as W
from snitk.demo.spec import Spec, custom
from snitk.demo.world import (CAUSE_EFFECT, DIALOGUE_ACTS, FACTS, FEMALE, MALE, capitalize, fact_sentence, facts_passage,
                              fill_slots, profile_text, sample_facts, sample_profile, sample_thing)

# a deterministic reply for each dialogue act (dialogue generation)
REPLIES = {"greeting": "Hello, nice to see you too!", "question": "Let me think about it.",
           "request": "Sure, here you are.", "thanks": "You are welcome!"}
PAIR_TEMPLATES = ("{a} and {b} walked to the {noun} shop in {city}.", "{a} met {b} at the station in {city}.",
                  "{a} gave {b} a {fruit} in {city}.", "{a} and {b} watched a {animal} in {city}.")
ONE_PERSON_TEMPLATES = ("{name} walked to the {noun} shop in {city}.", "{name} met the {animal} at the station in {city}.",
                        "{name} gave the {animal} a {fruit} in {city}.", "{name} watched a {animal} in {city}.")


def _passage_question(rng: random.Random) -> tuple[str, str, str]:
    name, facts = sample_facts(rng, rng.randint(2, 3))
    rel = rng.choice(sorted(facts))
    return facts_passage(name, facts), FACTS[rel][2].format(name=name), facts[rel]


def _same_fact(rng: random.Random) -> tuple[str, str, bool]:
    name, rel = rng.choice(W.NAMES), rng.choice(sorted(FACTS))
    value = rng.choice(FACTS[rel][0])
    same = rng.random() < 0.5
    other = value if same else rng.choice([v for v in FACTS[rel][0] if v != value])
    return fact_sentence(name, rel, value), fact_sentence(name, rel, other), same


def _one_person(rng: random.Random) -> tuple[str, bool]:
    female = rng.random() < 0.5
    name = rng.choice(FEMALE if female else MALE)
    return fill_slots(rng, rng.choice(ONE_PERSON_TEMPLATES), name=name), female


def _two_people(rng: random.Random) -> tuple[str, str, str]:
    """(sentence, the woman, the man), in either order of mention."""
    woman, man = rng.choice(FEMALE), rng.choice(MALE)
    a, b = (woman, man) if rng.random() < 0.5 else (man, woman)
    return fill_slots(rng, rng.choice(PAIR_TEMPLATES), a=a, b=b), woman, man


def _utterance(rng: random.Random) -> tuple[str, str]:
    act = rng.choice(sorted(DIALOGUE_ACTS))
    return fill_slots(rng, rng.choice(DIALOGUE_ACTS[act])), act


def _event_pair(rng: random.Random) -> tuple[str, str]:
    cause, effect = rng.choice(CAUSE_EFFECT)
    filled = fill_slots(rng, cause + "|" + effect).split("|")
    return capitalize(filled[0]) + ".", capitalize(filled[1]) + "."


def _one_fact(rng: random.Random) -> tuple[str, str, str]:
    name, rel = rng.choice(W.NAMES), rng.choice(sorted(FACTS))
    return name, rel, rng.choice(FACTS[rel][0])


def _rename(rng: random.Random) -> tuple[str, str, str]:
    name, rel, value = _one_fact(rng)
    return fact_sentence(name, rel, value), name, rng.choice([n for n in W.NAMES if n != name])


def _pronoun_sentence(rng: random.Random) -> tuple[str, str]:
    name, pronoun = rng.choice(W.NAMES), rng.choice(("he", "she"))
    template = rng.choice(("{name} said that {p} would visit {city}.", "When {name} saw the {animal}, {p} smiled.",
                           "{name} dropped the {noun} because {p} was tired."))
    return fill_slots(rng, template, name=name, p=pronoun), pronoun


# Summarization of a profile: (slug, definition, the summary's form, a wrong form for the negative examples)
SUMMARIES = (
    ("profile_in_one_sentence", "Summarize the profile in one sentence of the form \"<name> is a <job>.\"",
     "{name} is a {job}.", "{name} has a {pet}."),
    ("profile_home_sentence", "Summarize the profile in one sentence of the form \"<name> lives in <city>.\"",
     "{name} lives in {city}.", "{name} is a {job}."),
    ("profile_pet_owner", "Summarize the profile as \"The <pet> of <name>\".", "The {pet} of {name}",
     "{name} lives in {city}."),
    ("profile_job_and_pet", "Write a one-line summary of the profile: \"A <job> with a <pet>\".",
     "A {job} with a {pet}", "The {pet} of {name}"),
)


def summary(slug: str, definition: str, form: str, wrong: str) -> Spec:
    """A training summarization task: the profile in the given form."""
    def fill(text: str):
        return lambda p: text.format(name=p[0], **p[1])

    return custom(slug, "train", definition, "Summarization", sample_profile, profile_text, fill(form),
                  [(fill(wrong), "The summary does not follow the form.")], "\"{answer}\"", family="related", reasoning=())


def related_specs() -> list[Spec]:
    """Training tasks in training categories over the held-out categories' world (see the module docstring)."""
    cls = dict(family="classification", reasoning=("Deductive Reasoning",))
    gen = dict(family="related", reasoning=())
    yn = lambda b: "yes" if b else "no"  # noqa: E731
    return [
        # Question Answering
        custom("answer_from_text", "train",
               "Read the text about a person and answer the question with a single word from the text.",
               "Question Answering", _passage_question, lambda p: f"Text: {p[0]} Question: {p[1]}", lambda p: p[2],
               [(lambda p: p[0].split()[0], "This is the person, not the answer to the question.")],
               "The text says \"{answer}\".", **gen),
        custom("fact_lookup_question", "train", "Answer the question using the facts given before it.",
               "Question Answering", _passage_question, lambda p: f"{p[0]} | {p[1]}", lambda p: p[2],
               [(lambda p: p[1].split()[0], "The answer must come from the facts.")], "{answer}", **gen),
        # Text Matching
        custom("same_fact_yes_no", "train",
               "Do the two sentences say the same thing? Answer \"yes\" if they do and \"no\" if they do not.",
               "Text Matching", _same_fact, lambda p: f"A: {p[0]} B: {p[1]}", lambda p: yn(p[2]),
               [(lambda p: yn(not p[2]), "Compare the two sentences word by word.")], "The answer is \"{answer}\".", **cls),
        custom("same_or_different", "train",
               "You are given two sentences. Output \"same\" if they state the same fact and \"different\" otherwise.",
               "Text Matching", _same_fact, lambda p: f"{p[0]} | {p[1]}", lambda p: "same" if p[2] else "different",
               [(lambda p: "different" if p[2] else "same", "Look at the value each sentence gives.")],
               "They are {answer}.", **cls),
        # Gender Classification
        custom("person_gender", "train",
               "Is the person named in the sentence \"female\" or \"male\"?", "Gender Classification", _one_person,
               lambda p: p[0], lambda p: "female" if p[1] else "male",
               [(lambda p: "male" if p[1] else "female", "Look at the person's name.")], "The person is {answer}.", **cls),
        custom("name_of_the_woman", "train",
               "The sentence mentions a woman and a man. Output the woman's name.", "Gender Classification",
               _two_people, lambda p: p[0], lambda p: p[1],
               [(lambda p: p[2], "This is the man's name.")], "{answer} is the woman.", **gen),
        custom("name_of_the_man", "train",
               "Output the name of the man mentioned in the given sentence.", "Gender Classification",
               _two_people, lambda p: p[0], lambda p: p[2],
               [(lambda p: p[1], "This is the woman's name.")], "{answer} is the man.", **gen),
        # Word Semantics
        custom("kind_of_thing", "train",
               "What kind of thing is the word in quotes? Answer \"animal\", \"fruit\", \"color\", \"city\" or \"job\".",
               "Word Semantics", sample_thing, lambda p: f"{p[2]} said the word \"{p[0]}\".", lambda p: p[1],
               [(lambda p: "city" if p[1] != "city" else "job", "The word is something else.")],
               "It is a {answer}.", **cls),
        # Dialogue Generation
        custom("reply_to_utterance", "train",
               "Reply to the utterance: answer a greeting with \"Hello, nice to see you too!\", a question with "
               "\"Let me think about it.\", a request with \"Sure, here you are.\" and thanks with \"You are welcome!\".",
               "Dialogue Generation", _utterance, lambda p: p[0], lambda p: REPLIES[p[1]],
               [(lambda p: REPLIES["thanks" if p[1] != "thanks" else "greeting"], "This reply does not fit the utterance.")],
               "\"{answer}\" fits the utterance.", **gen),
        # Text Completion
        custom("what_happened_next", "train",
               "Given an event, write the event that it caused.", "Text Completion", _event_pair, lambda p: p[0],
               lambda p: p[1], [(lambda p: p[0], "This repeats the given event.")], "{answer}", **gen),
        # Question Generation
        custom("question_about_fact", "train",
               "Write the question that the given sentence answers.", "Question Generation",
               _one_fact, lambda p: fact_sentence(*p), lambda p: FACTS[p[1]][2].format(name=p[0]),
               [(lambda p: fact_sentence(*p), "This is the sentence, not a question.")], "\"{answer}\"", **gen),
        # Sentence Perturbation
        custom("change_the_name", "train",
               "Rewrite the sentence with the new name in place of the person's name.", "Sentence Perturbation",
               _rename, lambda p: f"{p[0]} | new name: {p[2]}", lambda p: p[0].replace(p[1], p[2]),
               [(lambda p: p[0], "The name was not changed.")], "\"{answer}\"", **gen),
        # Summarization
        *[summary(*form) for form in SUMMARIES],
        custom("same_fact_match", "train",
               "Compare the two statements. Output \"match\" if they agree and \"mismatch\" if they do not.",
               "Text Matching", _same_fact, lambda p: f"Statement 1: {p[0]} Statement 2: {p[1]}",
               lambda p: "match" if p[2] else "mismatch",
               [(lambda p: "mismatch" if p[2] else "match", "Compare the values.")], "It is a {answer}.", **cls),
        custom("same_fact_correct", "train",
               "The second sentence repeats the first one. Answer \"correct\" if it repeats the fact correctly, "
               "otherwise \"wrong\".", "Text Matching", _same_fact, lambda p: f"{p[0]} Repeated: {p[1]}",
               lambda p: "correct" if p[2] else "wrong",
               [(lambda p: "wrong" if p[2] else "correct", "Compare the values.")], "The repetition is {answer}.", **cls),
        custom("person_woman_or_man", "train",
               "Answer \"woman\" if the person in the sentence is a woman and \"man\" if it is a man.",
               "Gender Classification", _one_person, lambda p: p[0], lambda p: "woman" if p[1] else "man",
               [(lambda p: "man" if p[1] else "woman", "Look at the person's name.")], "A {answer}.", **cls),
        custom("pronoun_for_person", "train",
               "Which pronoun should refer to the person in the sentence? Answer \"she\" or \"he\".",
               "Gender Classification", _one_person, lambda p: p[0], lambda p: "she" if p[1] else "he",
               [(lambda p: "he" if p[1] else "she", "Look at the person's name.")], "\"{answer}\"", **cls),
        # Pos Tagging
        custom("find_the_pronoun", "train", "Output the pronoun that the given sentence contains.", "Pos Tagging",
               _pronoun_sentence, lambda p: p[0], lambda p: p[1],
               [(lambda p: p[0].split()[0], "This is a name, not a pronoun.")], "\"{answer}\" is the pronoun.", **gen),
        # Punctuation Error Detection
        custom("add_the_final_period", "train",
               "The final period of the sentence is missing. Output the sentence with the period.",
               "Punctuation Error Detection", _one_fact, lambda p: fact_sentence(*p)[:-1], lambda p: fact_sentence(*p),
               [(lambda p: fact_sentence(*p)[:-1], "The period is still missing.")], "\"{answer}\"", **gen),
    ]
