"""Demo task families over short texts: rule-based classification, extraction from sentences and
records, and data-to-text templates.
"""

from __future__ import annotations

import random

from snitk.demo import words as W
from snitk.demo.spec import Spec, custom, record, words

SENTENCES = (
    "{name} saw a {color} {animal} eating a {fruit} in {city}.",
    "In {city}, {name} gave a {fruit} to the {color} {animal}.",
    "The {animal} near the {noun} in {city} wanted the {color} {fruit} from {name}.",
    "{name} painted a {fruit} and a {animal} {color} while visiting {city}.",
    "A {color} {animal} followed {name} through {city} for a {fruit}.",
    "After the trip to {city}, {name} drew a {animal} holding a {color} {fruit}.",
)
SLOTS = {"name": W.NAMES, "color": W.COLORS, "animal": W.ANIMALS, "fruit": W.FRUITS, "city": W.CITIES, "noun": W.GENERAL}


ADJECTIVES = [w for w in W.GENERAL[W.GENERAL.index("silver"):W.GENERAL.index("jump")]]


def _scene(rng: random.Random) -> dict:
    slots = {k: rng.choice(v) for k, v in SLOTS.items()}
    slots["template"] = rng.randrange(len(SENTENCES))
    return slots


def _scene_text(p: dict) -> str:
    return SENTENCES[p["template"]].format(**p)


def _with_key(rng: random.Random, lo: int = 4, hi: int = 6, inside: bool = True) -> tuple[list[str], str]:
    ws = words(rng, W.GENERAL, lo, hi)
    return ws, rng.choice(ws[:-1]) if inside else rng.choice(ws)


def _key_text(label: str):
    return lambda p: f"{' '.join(p[0])} | {label}: {p[1]}"


PERSON_FIELDS = {
    "name": W.NAMES,
    "age": [str(a) for a in range(18, 90)],
    "city": W.CITIES,
    "job": W.JOBS,
    "color": W.COLORS,
    "sport": W.SPORTS,
    "pet": W.PETS,
}


def _person(fields: tuple[str, ...], extra: int = 1):
    """Sampler of a record with `fields` plus `extra` distractor fields, keys in a random order."""

    def sample(rng: random.Random) -> tuple[dict, list[str]]:
        others = [k for k in PERSON_FIELDS if k not in fields and k != "pet"]
        keys = list(fields) + rng.sample(others, extra)
        vals = {k: rng.choice(PERSON_FIELDS[k]) for k in keys}
        rng.shuffle(keys)
        return vals, keys

    return sample


def _record_text(p) -> str:
    return record(p[0], p[1])


def classification_specs() -> list[Spec]:
    """Rule-based classification with fixed label sets."""
    kw = dict(family="classification", reasoning=("Deductive Reasoning",))
    yn = lambda b: "Yes" if b else "No"  # noqa: E731
    num = lambda rng: rng.randint(1, 999)  # noqa: E731
    sentiment_templates = ("The {noun} was {word}.", "What a {word} {noun}!", "I found the {noun} {word} today.")

    def sentiment(rng):
        pos = rng.random() < 0.5
        return pos, rng.choice(sentiment_templates), rng.choice(W.GENERAL), rng.choice(W.POSITIVE_WORDS if pos else W.NEGATIVE_WORDS)

    def contains(rng):
        ws = words(rng, W.GENERAL, 4, 6)
        if rng.random() < 0.5:
            return ws, rng.choice(ws)
        return ws, rng.choice([w for w in W.GENERAL if w not in ws])

    def two_numbers(rng):
        return rng.sample(range(1, 100), 2)

    def maybe_sorted(rng):
        xs = rng.sample(range(1, 100), rng.randint(3, 6))
        return sorted(xs) if rng.random() < 0.5 else xs

    return [
        custom("is_even", "train", "Decide whether the given number is even. Answer \"Yes\" or \"No\".",
               "Text Categorization", num, str, lambda x: yn(x % 2 == 0),
               [(lambda x: yn(x % 2), "The parity is decided by the last digit; the answer is the opposite.")],
               "The answer is \"{answer}\" because of the last digit of the number.", **kw),
        custom("even_or_odd_true_false", "train",
               "In this task, you are given an integer. Output \"True\" if it is divisible by 2, otherwise output \"False\".",
               "Text Categorization", num, str, lambda x: "True" if x % 2 == 0 else "False",
               [(lambda x: "False" if x % 2 == 0 else "True", "The label is inverted.")],
               "{answer} is right: check whether the last digit is even.", **kw),
        custom("greater_than_500", "train", "Is the given number greater than 500? Answer \"Yes\" or \"No\".",
               "Text Categorization", num, str, lambda x: yn(x > 500),
               [(lambda x: yn(x <= 500), "Compare the number with 500 again; the answer is the opposite.")],
               "The answer is \"{answer}\" after comparing the number with 500.", **kw),
        custom("contains_word", "train",
               "You are given a list of words and a query word. Answer \"Yes\" if the query word is in the list, otherwise \"No\".",
               "Text Matching", contains, _key_text("query"), lambda p: yn(p[1] in p[0]),
               [(lambda p: yn(p[1] not in p[0]), "Look for the query word in the list again.")],
               "The answer is \"{answer}\".", **kw),
        custom("sentiment_positive_negative", "train",
               "Classify the sentiment of the given sentence as \"positive\" or \"negative\".",
               "Sentiment Analysis", sentiment, lambda p: p[1].format(noun=p[2], word=p[3]),
               lambda p: "positive" if p[0] else "negative",
               [(lambda p: "negative" if p[0] else "positive", "The opinion word in the sentence has the opposite sentiment.")],
               "The sentence expresses a {answer} opinion.", **kw),
        custom("sentiment_good_bad", "train",
               "In this task, you read a short review. Output \"good\" if the writer likes the thing and \"bad\" if not.",
               "Sentiment Analysis", sentiment, lambda p: p[1].format(noun=p[2], word=p[3]),
               lambda p: "good" if p[0] else "bad",
               [(lambda p: "bad" if p[0] else "good", "The review says the opposite.")],
               "The review is {answer}.", **kw),
        custom("animal_or_fruit", "train", "Is the thing named by the given phrase an animal or a fruit? Answer \"animal\" or \"fruit\".",
               "Word Semantics", lambda rng: (rng.choice(ADJECTIVES), rng.choice(W.ANIMALS + W.FRUITS)), " ".join,
               lambda p: "animal" if p[1] in W.ANIMALS else "fruit",
               [(lambda p: "fruit" if p[1] in W.ANIMALS else "animal", "The noun names the other kind of thing.")],
               "The word is an {answer}." , **kw),
        custom("is_list_sorted", "train",
               "Decide whether the given list of numbers is sorted in ascending order. Answer \"Yes\" or \"No\".",
               "Text Categorization", maybe_sorted, lambda xs: "[" + ", ".join(map(str, xs)) + "]",
               lambda xs: yn(xs == sorted(xs)),
               [(lambda xs: yn(xs != sorted(xs)), "Compare each number with the next one; the answer is the opposite.")],
               "The answer is \"{answer}\".", **kw),
        custom("which_is_larger", "train",
               "You are given two numbers. Answer \"first\" if the first number is larger and \"second\" if the second number is larger.",
               "Text Categorization", two_numbers, lambda p: f"{p[0]}, {p[1]}",
               lambda p: "first" if p[0] > p[1] else "second",
               [(lambda p: "second" if p[0] > p[1] else "first", "That number is the smaller one.")],
               "The {answer} number is larger.", **kw),
        # ---- held-out
        custom("is_odd", "test", "Decide whether the given number is odd. Answer \"Yes\" or \"No\".",
               "Text Categorization", num, str, lambda x: yn(x % 2 == 1),
               [(lambda x: yn(x % 2 == 0), "The parity is decided by the last digit; the answer is the opposite.")],
               "The answer is \"{answer}\" because of the last digit of the number.", **kw),
        # ---- development variant
        custom("less_than_500", "dev", "Is the given number smaller than 500? Answer \"Yes\" or \"No\".",
               "Text Categorization", num, str, lambda x: yn(x < 500),
               [(lambda x: yn(x >= 500), "Compare the number with 500 again; the answer is the opposite.")],
               "The answer is \"{answer}\" after comparing the number with 500.", **kw),
    ]


def extraction_specs() -> list[Spec]:
    """Extraction from sentences, word lists and key-value records."""
    kw = dict(family="extraction", reasoning=())
    scene = lambda slot, definition, split="train", cat="Named Entity Recognition": custom(  # noqa: E731
        f"extract_{slot}", split, definition, cat, _scene, _scene_text, lambda p: p[slot],
        [(lambda p, o=other: p[o], f"This word is not the {slot} mentioned in the sentence.") for other in
         [s for s in ("name", "animal", "city", "fruit", "color") if s != slot][:2]],
        f"\"{{answer}}\" is the {slot} in the sentence.", **kw)

    def field(key, definition, split="train"):
        return custom(f"record_{key}", split, definition, "Information Extraction",
                      _person((key, "name") if key != "name" else ("name", "city"), extra=2), _record_text,
                      lambda p: p[0][key],
                      [(lambda p: p[0][p[1][0]] if p[1][0] != key else p[0][p[1][1]], "This value belongs to another field."),
                       (lambda p: key, "This is the name of the field, not its value.")],
                      f"The {key} field holds \"{{answer}}\".", **kw)

    def lookup(rng):
        vals, keys = _person(("name", "city", "job", "age"), extra=1)(rng)
        return vals, keys, rng.choice([k for k in keys if k != "pet"])

    def quoted(rng):
        ws = words(rng, W.GENERAL, 4, 6)
        return ws, rng.randrange(len(ws))

    def with_number(rng):
        ws = words(rng, W.GENERAL, 3, 5)
        return ws, rng.randint(2, 999), rng.randrange(len(ws) + 1)

    def number_sentence(p):
        ws = list(p[0])
        ws.insert(p[2], str(p[1]))
        return " ".join(ws)

    return [
        scene("animal", "Find the animal mentioned in the given sentence and output it."),
        scene("city", "In this task, you are given a sentence. Output the name of the city that the sentence mentions."),
        scene("name", "Who is the person in the given sentence? Output the person's name."),
        scene("color", "Extract the color word from the given sentence."),
        custom("which_animal", "train", "Which animal appears in the sentence? Answer with one word.",
               "Named Entity Recognition", _scene, _scene_text, lambda p: p["animal"],
               [(lambda p: p["name"], "This is a person, not an animal."), (lambda p: p["color"], "This is a color.")],
               "The sentence mentions a {answer}.", **kw),
        field("name", "You are given a record with several fields. Output the value of the \"name\" field."),
        field("age", "Read the record and return the person's age, i.e. the value of the \"age\" field."),
        field("city", "What is the city in the given record? Output the value of the \"city\" field."),
        field("job", "In this task, you are given a record about a person. Output the value of the \"job\" field."),
        field("sport", "Output the value of the \"sport\" field of the given record."),
        field("color", "According to the record, what is the person's favorite color? Output the value of the \"color\" field."),
        custom("record_values", "train",
               "Output the values of the given record without the field names, in the order in which they appear.",
               "Information Extraction", _person(("name", "city"), extra=1), _record_text,
               lambda p: " ".join(p[0][k] for k in p[1]),
               [(lambda p: " ".join(p[1]), "These are the field names, not the values."),
                (lambda p: " ".join(p[0][k] for k in reversed(p[1])), "The values are in the wrong order.")],
               "The values are \"{answer}\".", **kw),
        custom("copy_sentence", "train", "Write the given sentence again, exactly as it is.",
               "Text Simplification", _scene, _scene_text, _scene_text,
               [(lambda p: _scene_text(p).rstrip("."), "The final period is missing."),
                (lambda p: " ".join(_scene_text(p).split()[1:]), "The first word is missing.")],
               "The sentence is copied without changes.", **kw),
        custom("record_lookup", "train",
               "You are given a record and a field name after \"field:\". Output the value of that field in the record.",
               "Information Extraction", lookup, lambda p: f"{record(p[0], p[1])} || field: {p[2]}",
               lambda p: p[0][p[2]],
               [(lambda p: p[2], "This is the field name, not its value."),
                (lambda p: p[0][p[1][0]] if p[1][0] != p[2] else p[0][p[1][1]], "This value belongs to a different field.")],
               "The value of the requested field is \"{answer}\".", **kw),
        custom("quoted_word", "train", "One word in the given text is in double quotes. Output that word without the quotes.",
               "Information Extraction", quoted,
               lambda p: " ".join(f"\"{w}\"" if i == p[1] else w for i, w in enumerate(p[0])),
               lambda p: p[0][p[1]],
               [(lambda p: p[0][p[1] - 1], "This word is not in quotes."),
                (lambda p: f"\"{p[0][p[1]]}\"", "The quotes must be removed.")],
               "\"{answer}\" is the quoted word.", **kw),
        custom("number_in_text", "train", "The given text contains exactly one number. Output that number.",
               "Information Extraction", with_number, number_sentence, lambda p: p[1],
               [(lambda p: p[0][0], "This is a word, not the number."), (lambda p: p[1] + 1, "The number is copied wrongly.")],
               "The number in the text is {answer}.", **kw),
        custom("word_after", "train",
               "You are given a sequence of words and a target word from it. Output the word that comes right after the target word.",
               "Information Extraction", _with_key, _key_text("target"), lambda p: p[0][p[0].index(p[1]) + 1],
               [(lambda p: p[1], "This is the target word itself."),
                (lambda p: p[0][-1] if p[0][-1] != p[0][p[0].index(p[1]) + 1] else p[0][0], "This word does not follow the target word.")],
               "\"{answer}\" follows the target word.", **kw),
        custom("next_word", "train", "Find the target word in the sequence and output the word that follows it.",
               "Information Extraction", _with_key, _key_text("target"), lambda p: p[0][p[0].index(p[1]) + 1],
               [(lambda p: p[1], "This is the target word itself."), (lambda p: p[0][0] if p[0][0] != p[0][p[0].index(p[1]) + 1] else p[0][-1],
                 "This word does not follow the target word.")],
               "\"{answer}\" is the word after the target.", **kw),
        custom("substitute_word", "train",
               "In this task, you are given words, an old word and a new word. Write the words again with the old word replaced by the new word.",
               "Text Simplification",
               lambda rng: (lambda ws: (ws, rng.choice(ws), rng.choice([w for w in W.GENERAL if w not in ws])))(words(rng, W.GENERAL, 3, 5)),
               lambda p: f"{' '.join(p[0])} | old: {p[1]} | new: {p[2]}",
               lambda p: " ".join(p[2] if w == p[1] else w for w in p[0]),
               [(lambda p: " ".join(w for w in p[0] if w != p[1]), "The old word was deleted, not replaced."),
                (lambda p: " ".join(p[0]), "Nothing was replaced.")],
               "With the new word: \"{answer}\".", **kw),
        custom("replace_word", "train",
               "Replace the given old word in the sentence with the given new word and output the new sentence.",
               "Text Simplification",
               lambda rng: (lambda ws: (ws, rng.choice(ws), rng.choice([w for w in W.GENERAL if w not in ws])))(words(rng, W.GENERAL, 4, 6)),
               lambda p: f"{' '.join(p[0])} | old: {p[1]} | new: {p[2]}",
               lambda p: " ".join(p[2] if w == p[1] else w for w in p[0]),
               [(lambda p: " ".join(p[0]), "The old word was not replaced."),
                (lambda p: " ".join(p[0] + [p[2]]), "The new word was appended instead of replacing the old word.")],
               "After the replacement the sentence reads \"{answer}\".", **kw),
        custom("words_starting_with_letter", "train",
               "Output the words of the list that start with the given letter, in their original order.",
               "Information Extraction",
               lambda rng: (lambda ws: (ws, rng.choice(ws)[0]))(words(rng, W.GENERAL, 5, 7)),
               lambda p: f"{' '.join(p[0])} | letter: {p[1]}",
               lambda p: " ".join(w for w in p[0] if w[0] == p[1]),
               [(lambda p: " ".join(w for w in p[0] if w[0] != p[1]), "These words do not start with the letter."),
                (lambda p: " ".join(p[0]), "Words with other first letters must be removed.")],
               "The words starting with the letter are \"{answer}\".", **kw),
        # ---- held-out
        scene("fruit", "Find the fruit mentioned in the given sentence and output it.", split="test"),
        field("pet", "You are given a record with several fields. Output the value of the \"pet\" field.", split="test"),
        custom("word_before", "test",
               "You are given a sequence of words and a target word from it. Output the word that comes right before the target word.",
               "Information Extraction", lambda rng: (lambda p: (p[0], p[0][rng.randrange(1, len(p[0]))]))(_with_key(rng)),
               _key_text("target"), lambda p: p[0][p[0].index(p[1]) - 1],
               [(lambda p: p[1], "This is the target word itself."),
                (lambda p: p[0][p[0].index(p[1]) + 1] if p[0].index(p[1]) + 1 < len(p[0]) else p[0][0],
                 "This word does not come before the target word.")],
               "\"{answer}\" comes right before the target word.", **kw),
        custom("remove_given_word", "test",
               "Remove the given word from the sentence and output the remaining words.",
               "Text Simplification", lambda rng: _with_key(rng), _key_text("remove"),
               lambda p: " ".join(w for w in p[0] if w != p[1]),
               [(lambda p: " ".join(p[0]), "The word was not removed."),
                (lambda p: p[1], "Only the word to remove was written; the other words should be output.")],
               "Without the given word the sentence is \"{answer}\".", **kw),
        # ---- development variants
        custom("color_and_animal", "dev", "Output the color and the animal that the given sentence mentions, in that order.",
               "Named Entity Recognition", _scene, _scene_text, lambda p: f"{p['color']} {p['animal']}",
               [(lambda p: f"{p['animal']} {p['color']}", "The order is wrong: the color comes first."),
                (lambda p: p["animal"], "The color is missing.")],
               "The sentence mentions a {answer}.", **kw),
        custom("word_two_after", "dev",
               "You are given a sequence of words and a target word from it. Output the word that comes two places after the target word.",
               "Information Extraction", lambda rng: (lambda ws: (ws, ws[rng.randrange(0, len(ws) - 2)]))(words(rng, W.GENERAL, 4, 6)),
               _key_text("target"), lambda p: p[0][p[0].index(p[1]) + 2],
               [(lambda p: p[0][p[0].index(p[1]) + 1], "This word comes right after the target word, not two places after it."),
                (lambda p: p[1], "This is the target word itself.")],
               "\"{answer}\" comes two places after the target word.", **kw),
    ]


def data_to_text_specs() -> list[Spec]:
    """Sentences from records, following a template that the definition spells out."""
    kw = dict(family="data_to_text", reasoning=())

    def template(slug, fields, pattern, definition, split="train"):
        def solve(p):
            return pattern.format(**p[0])

        def wrong_order(p):
            vals = p[0]
            swapped = dict(vals)
            a, b = fields[0], fields[-1]
            swapped[a], swapped[b] = vals[b], vals[a]
            return pattern.format(**swapped)

        return custom(slug, split, definition, "Data to Text", _person(fields, extra=1), _record_text, solve,
                      [(wrong_order, "The values are in the wrong places of the sentence."),
                       (lambda p: " ".join(p[0][k] for k in fields), "This only lists the values; it is not the requested sentence.")],
                      "The sentence follows the pattern with the values of the record.", **kw)

    return [
        template("sentence_lives_in", ("name", "city"), "{name} lives in {city}.",
                 "Write a sentence of the form \"<name> lives in <city>.\" using the fields of the given record."),
        template("sentence_age", ("name", "age"), "{name} is {age} years old.",
                 "Using the record, write the sentence \"<name> is <age> years old.\""),
        template("sentence_job", ("name", "job"), "{name} works as a {job}.",
                 "In this task, you are given a record about a person. Write \"<name> works as a <job>.\" with the values from the record."),
        template("sentence_sport", ("name", "sport"), "{name} plays {sport}.",
                 "Turn the record into the sentence \"<name> plays <sport>.\""),
        template("sentence_color", ("name", "color"), "The favorite color of {name} is {color}.",
                 "Write \"The favorite color of <name> is <color>.\" filling in the values of the given record."),
        template("question_where", ("name", "city"), "Where in {city} does {name} live?",
                 "Write a question of the form \"Where in <city> does <name> live?\" from the given record."),
        template("sentence_comes_from", ("name", "city"), "{name} comes from {city}.",
                 "Using the record, write the sentence \"<name> comes from <city>.\""),
        template("sentence_likes_color", ("name", "color"), "{name} likes the color {color}.",
                 "In this task, you are given a record. Write \"<name> likes the color <color>.\" using its values."),
        template("sentence_job_age", ("name", "age", "job"), "{name} is a {job} aged {age}.",
                 "Write the sentence \"<name> is a <job> aged <age>.\" using the values of the record."),
        # ---- held-out
        template("sentence_job_city", ("name", "job", "city"), "{name} is a {job} from {city}.",
                 "Write a sentence of the form \"<name> is a <job> from <city>.\" using the fields of the given record.",
                 split="test"),
        # ---- development variant
        template("sentence_sport_city", ("name", "sport", "city"), "{name} plays {sport} in {city}.",
                 "Write the sentence \"<name> plays <sport> in <city>.\" using the values of the record.", split="dev"),
    ]
