"""The demo's small world of people, facts, events and utterances, shared by the held-out categories
(`families_heldout`) and the training tasks that read the same kinds of text (`families_related`)."""

from __future__ import annotations

import random

from snitk.demo import words as W

FEMALE = ("Anna Carla Emma Grace Irene Karen Maria Nina Paula Rosa Tina Vera Yara Zoe Mia Olivia Sofia "
          "Chloe Ella Hana Lena").split()
MALE = "Ben David Frank Henry Jack Leo Oscar Sam Umar Walter Xavier Liam Noah Ethan Lucas Mason Omar Ivan".split()

# A person's facts: relation -> (pool, sentence, question)
FACTS: dict[str, tuple[list[str], str, str]] = {
    "city": (W.CITIES, "{name} lives in {v}.", "Where does {name} live?"),
    "job": (W.JOBS, "{name} works as a {v}.", "What is the job of {name}?"),
    "sport": (W.SPORTS, "{name} plays {v}.", "Which sport does {name} play?"),
    "pet": (W.PETS, "{name} has a {v}.", "What pet does {name} have?"),
    "color": (W.COLORS, "{name} likes the color {v}.", "Which color does {name} like?"),
}

# (cause, effect) event pairs; {name}, {noun}, {fruit}, {city}, {sport}, {animal} are filled in
CAUSE_EFFECT = (
    ("{name} forgot the umbrella", "{name} got wet in the rain"),
    ("{name} was very hungry", "{name} ate a {fruit}"),
    ("{name} missed the train", "{name} arrived late in {city}"),
    ("the {animal} ran all day", "the {animal} fell asleep"),
    ("{name} trained every morning", "{name} won the {sport} match"),
    ("{name} lost the key", "{name} could not open the door"),
    ("{name} dropped the {noun}", "the {noun} broke"),
    ("the {animal} was thirsty", "the {animal} drank from the lake"),
    ("{name} stayed up late", "{name} was tired in the morning"),
    ("the storm hit {city}", "the streets of {city} were flooded"),
)

DIALOGUE_ACTS = {
    "greeting": ("Hello {name}, good to see you today!", "Good morning, {name}!", "Hi {name}, nice to see you in {city}!"),
    "question": ("Where did you put the {noun}?", "Do you like the {fruit}, {name}?", "When does the train to {city} leave?"),
    "request": ("Please give me the {noun}.", "Bring me the {fruit}, please, {name}.", "Please call me when you are in {city}."),
    "thanks": ("Thank you for the {noun}, {name}!", "Thanks a lot for the {fruit}.", "Thank you for showing me {city}."),
}
STATEMENTS = ("{name} left the {noun} in {city}.", "The {fruit} is on the table.", "{name} is waiting at the station.")

CLASSES = {"animal": W.ANIMALS, "fruit": W.FRUITS, "color": W.COLORS, "city": W.CITIES, "job": W.JOBS}

# things that are carried, dropped, broken and given ({noun} in the templates)
THINGS = "bottle candle mirror pencil glass plate cup lamp clock camera ticket wallet".split()


def fill_slots(rng: random.Random, text: str, **fixed: str) -> str:
    """`text` with its {name}, {noun}, {fruit}, {city}, {sport} and {animal} slots drawn (`fixed` ones given)."""
    slots = {"name": rng.choice(W.NAMES), "noun": rng.choice(THINGS), "fruit": rng.choice(W.FRUITS),
             "city": rng.choice(W.CITIES), "sport": rng.choice(W.SPORTS), "animal": rng.choice(W.ANIMALS)}
    slots.update(fixed)
    return text.format(**slots)


def capitalize(text: str) -> str:
    """`text` with its first letter upper-cased (the rest unchanged, unlike `str.capitalize`)."""
    return text[0].upper() + text[1:]


# ------------------------------------------------------------------------------------------- samplers
def sample_facts(rng: random.Random, n: int) -> tuple[str, dict[str, str]]:
    """A person and `n` of their facts `{relation: value}`."""
    name = rng.choice(W.NAMES)
    rels = rng.sample(sorted(FACTS), n)
    return name, {r: rng.choice(FACTS[r][0]) for r in rels}


def fact_sentence(name: str, rel: str, value: str) -> str:
    """The sentence stating one fact ("Anna lives in Paris.")."""
    return FACTS[rel][1].format(name=name, v=value)


def facts_passage(name: str, facts: dict[str, str]) -> str:
    """The sentences of all of a person's facts, in order."""
    return " ".join(fact_sentence(name, rel, value) for rel, value in facts.items())


def sample_thing(rng: random.Random) -> tuple[str, str, str]:
    """A word of one of the `CLASSES`, its class, and a person who says or writes it."""
    kind = rng.choice(sorted(CLASSES))
    return rng.choice(CLASSES[kind]), kind, rng.choice(W.NAMES)


def sample_profile(rng: random.Random) -> tuple[str, dict[str, str]]:
    """A person with a job, a city and a pet."""
    return rng.choice(W.NAMES), {r: rng.choice(FACTS[r][0]) for r in ("job", "city", "pet")}


def profile_text(p: tuple[str, dict[str, str]]) -> str:
    """The short profile text of `sample_profile`'s person."""
    name, f = p
    return f"{name} works as a {f['job']} in {f['city']}. {name} has a {f['pet']} and walks it every evening."
