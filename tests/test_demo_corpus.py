"""The bundled demo corpus (tasks/, the `categories` held-out design): reproducible, schema-valid, consistent
splits, no leaks, held-out tasks solvable from their definitions, prompts short enough for the CPU demo; and
the first design (`--held-out variants`), generated on demand."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import pytest

from snitk.demo import generate
from snitk.demo import words as W

REPO = Path(__file__).resolve().parents[1]
TASKS = REPO / "tasks"
KEYS = ["Contributors", "Source", "URL", "Categories", "Reasoning", "Definition", "Input_language", "Output_language",
        "Instruction_language", "Domains", "Positive Examples", "Negative Examples", "Instances", "Instance License"]


def _split(track: str, split: str, root: Path = TASKS) -> list[str]:
    return (root / "splits" / track / f"{split}_tasks.txt").read_text(encoding="utf-8").split()


def _load(name: str, root: Path = TASKS) -> dict:
    return json.loads((root / f"{name}.json").read_text(encoding="utf-8"))


def _inputs(task: dict) -> set[str]:
    return ({i["input"] for i in task["Instances"]}
            | {e["input"] for e in task["Positive Examples"] + task["Negative Examples"]})


def _files() -> list[Path]:
    return sorted(TASKS.glob("*.json"))


@pytest.fixture(scope="module")
def variants_dir(tmp_path_factory) -> Path:
    """The first held-out design (`--held-out variants`): held-out tasks are new variants of training skills."""
    out = tmp_path_factory.mktemp("variants")
    assert generate.main(["--held-out", "variants", "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def dev_dir(tmp_path_factory) -> Path:
    """The development variant of the bundled corpus (`--dev`): the development twins are the held-out split."""
    out = tmp_path_factory.mktemp("dev")
    assert generate.main(["--dev", "--out", str(out)]) == 0
    return out


def test_regeneration_is_byte_identical(tmp_path):
    assert generate.main(["--out", str(tmp_path)]) == 0
    fresh = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    shipped = sorted(p.relative_to(TASKS) for p in TASKS.rglob("*") if p.is_file())
    assert fresh == shipped, "tasks/ differs from `python -m snitk.demo.generate --out tasks` (rerun it)"
    for rel in fresh:
        assert (tmp_path / rel).read_bytes() == (TASKS / rel).read_bytes(), f"{rel} is not reproducible"
    assert generate.main(["--out", str(tmp_path), "--check"]) == 0
    (tmp_path / fresh[0]).write_text("changed", encoding="utf-8")
    assert generate.main(["--out", str(tmp_path), "--check"]) == 1


def test_every_file_loads_through_the_schema_in_repository_key_order():
    from snitk.natinst.schema import load_task

    files = _files()
    assert len(files) >= 72
    held_out = set(_split("default", "test")) | set(_split("xlingual", "test"))
    for path in files:
        raw = json.loads(path.read_text(encoding="utf-8"))
        assert list(raw) == KEYS, path.name
        assert path.read_text(encoding="utf-8") == json.dumps(raw, indent=4, ensure_ascii=False) + "\n"
        task = load_task(path)
        assert task.name == path.stem
        assert re.fullmatch(r"task9\d{3}_demo_[a-z0-9_]+", task.name)
        assert task.definition.strip() and len(task.definition) >= 15
        assert task.category == raw["Categories"][0]
        assert len(task.positive_examples) >= 2 and len(task.negative_examples) >= 2
        for ex in task.positive_examples + task.negative_examples:
            assert ex.input.strip() and ex.output.strip() and ex.explanation and ex.explanation.strip()
        assert len(task.instances) >= (100 if task.name in held_out else 50)  # held-out: the official first 100
        num = task.name.split("_")[0]
        for inst in task.instances:
            assert re.fullmatch(rf"{num}-[0-9a-f]{{32}}", inst.id)
            assert inst.output and all(o.strip() for o in inst.output)
        assert len({i.input for i in task.instances}) == len(task.instances), f"{path.name}: duplicate inputs"
        example_inputs = {e.input for e in task.positive_examples + task.negative_examples}
        assert not example_inputs & {i.input for i in task.instances}, f"{path.name}: an example is also an instance"


def test_splits_are_consistent_and_large_enough():
    names = {p.stem for p in _files()}
    for track in ("default", "xlingual"):
        train, test, excluded = (_split(track, s) for s in ("train", "test", "excluded"))
        assert len(set(train)) == len(train) and len(set(test)) == len(test)
        assert not set(train) & set(test) and not set(train) & set(excluded) and not set(test) & set(excluded)
        assert set(train) | set(test) | set(excluded) == names, f"{track}: every task file is in exactly one list"
    d_train, d_test = _split("default", "train"), _split("default", "test")
    assert len(d_train) >= 60 and len(d_test) >= 12
    for name in d_train + d_test:
        assert _load(name)["Input_language"] == ["English"], f"{name} is not English but in the default track"
    x_test = _split("xlingual", "test")
    non_english = [n for n in x_test if _load(n)["Input_language"] != ["English"]]
    assert len(set(_load(n)["Input_language"][0] for n in non_english)) >= 4
    assert set(_split("xlingual", "train")) >= set(d_train)
    cats = {_load(n)["Categories"][0] for n in d_train}
    assert len(cats) >= 5, cats


def test_no_heldout_instance_leaks_into_training():
    for track in ("default", "xlingual"):
        test_inputs, test_ids = set(), set()
        for name in _split(track, "test"):
            for inst in _load(name)["Instances"]:
                test_inputs.add(inst["input"])
                test_ids.add(inst["id"])
        for name in _split(track, "train"):
            task = _load(name)
            texts = _inputs(task)
            assert not texts & test_inputs, f"{name} contains a held-out input"
            assert not {i["id"] for i in task["Instances"]} & test_ids
        # held-out task definitions are not copies of training definitions
        train_defs = {_load(n)["Definition"][0] for n in _split(track, "train")}
        assert not train_defs & {_load(n)["Definition"][0] for n in _split(track, "test")}


# ---- independent reference solvers of the held-out tasks (written from their definitions)


def _nums(text: str) -> list[int]:
    return [int(x) for x in re.findall(r"\d+", text)]


def _record(text: str) -> dict[str, str]:
    return dict(part.split(": ", 1) for part in text.split(" | "))


def _target(text: str) -> tuple[list[str], str]:
    words, _, key = text.rpartition(" | ")
    return words.split(), key.split(": ", 1)[1]


SOLVERS = {
    "sort_numbers_descending": lambda s: "[" + ", ".join(map(str, sorted(_nums(s), reverse=True))) + "]",
    "smallest_number": lambda s: str(min(_nums(s))),
    "keep_odd_numbers": lambda s: "[" + ", ".join(str(x) for x in _nums(s) if x % 2) + "]",
    "shortest_word": lambda s: min(s.split(), key=len),
    "remove_last_word": lambda s: " ".join(s.split()[:-1]),
    "last_two_words": lambda s: " ".join(s.split()[-2:]),
    "swap_first_and_last_word": lambda s: " ".join([s.split()[-1]] + s.split()[1:-1] + [s.split()[0]]),
    "every_other_word": lambda s: " ".join(s.split()[0::2]),
    "is_odd": lambda s: "Yes" if int(s) % 2 else "No",
    "extract_fruit": lambda s: next(w for w in re.findall(r"[A-Za-z]+", s) if w in W.FRUITS),
    "record_pet": lambda s: _record(s)["pet"],
    "word_before": lambda s: (lambda ws, t: ws[ws.index(t) - 1])(*_target(s)),
    "remove_given_word": lambda s: (lambda ws, t: " ".join(w for w in ws if w != t))(*_target(s)),
    "sentence_job_city": lambda s: (lambda r: f"{r['name']} is a {r['job']} from {r['city']}.")(_record(s)),
    "last_word_es": lambda s: s.split()[-1],
    "remove_first_word_fr": lambda s: " ".join(s.split()[1:]),
    "smallest_number_de": lambda s: str(min(_nums(s))),
    "last_two_words_zh": lambda s: " ".join(s.split()[-2:]),
    "first_two_words_ru": lambda s: " ".join(s.split()[:2]),
    # development tasks (only in the `--dev` variant)
    "numbers_below_50": lambda s: "[" + ", ".join(str(x) for x in _nums(s) if x < 50) + "]",
    "remove_last_number": lambda s: ", ".join(map(str, _nums(s)[:-1])),
    "last_three_words": lambda s: " ".join(s.split()[-3:]),
    "third_word": lambda s: s.split()[2],
    "rotate_words_right": lambda s: " ".join(s.split()[-1:] + s.split()[:-1]),
    "less_than_500": lambda s: "Yes" if int(s) < 500 else "No",
    "color_and_animal": lambda s: " ".join([next(w for w in re.findall(r"[A-Za-z]+", s) if w in W.COLORS),
                                            next(w for w in re.findall(r"[A-Za-z]+", s) if w in W.ANIMALS)]),
    "word_two_after": lambda s: (lambda ws, t: ws[ws.index(t) + 2])(*_target(s)),
    "sentence_sport_city": lambda s: (lambda r: f"{r['name']} plays {r['sport']} in {r['city']}.")(_record(s)),
}


def _sentences(text: str) -> list[str]:
    return [x.strip() + "." for x in text.split(".") if x.strip()]


def _word_set(text: str) -> list[str]:
    return re.findall(r"[A-Za-z]+", text)


MALE_NAMES = set("Ben David Frank Henry Jack Leo Oscar Sam Umar Walter Xavier Liam Noah Ethan Lucas Mason Omar Ivan".split())
ASKED_FACT = {"live": "lives in", "job": "works as", "sport": "plays", "pet": "has a", "color": "likes the color"}
WORD_CLASSES = {"animal": W.ANIMALS, "fruit": W.FRUITS, "color": W.COLORS, "city": W.CITIES, "job": W.JOBS}


def _pronoun_referent(text: str, pronoun: str) -> str:
    names = [w for w in _word_set(text) if w in W.NAMES]
    male = pronoun in ("he", "him")
    return next(n for n in names if (n in MALE_NAMES) == male)


def _answerable(passage: str, question: str) -> bool:
    asked = next(phrase for key, phrase in ASKED_FACT.items() if key in question)
    return f" {asked} " in f" {passage} "


def _word_class(word: str) -> str:
    return next(c for c, pool in WORD_CLASSES.items() if word in pool)


def _common(a: str, b: str) -> str:
    (word,) = set(_word_set(a)) & set(_word_set(b))
    return word


def _undouble(text: str) -> str:
    ws = text.rstrip(".").split()
    return " ".join(w for i, w in enumerate(ws) if i == 0 or w != ws[i - 1]) + "."


def _article_fixed(text: str) -> str:
    ws = text.split()
    i = next(i for i, w in enumerate(ws) if w in ("a", "an"))
    ws[i] = "an" if ws[i + 1][0] in "aeiou" else "a"
    return " ".join(ws)


def _profile_parts(text: str) -> dict[str, str]:
    m = re.match(r"(\w+) works as a (\w+) in (\w+)\. \w+ has a (\w+)", text)
    return dict(zip(("name", "job", "city", "pet"), m.groups()))


CATEGORY_SOLVERS = {  # the 12 held-out categories of `--held-out categories` (test, then development twins)
    "premise_entails_hypothesis": lambda s: (lambda pre, hyp: "yes" if hyp in _sentences(pre) else "no")(
        *s[len("Premise: "):].split(" Hypothesis: ")),
    "who_is_the_pronoun": lambda s: _pronoun_referent(*s.rsplit(" Pronoun: ", 1)),
    "dialogue_act": lambda s: ("question" if s.endswith("?") else "thanks" if s.startswith("Thank")
                               else "greeting" if s.split()[0].strip(",!") in ("Hello", "Good", "Hi") else "request"),
    "question_answerable_from_passage": lambda s: "yes" if _answerable(*s[len("Passage: "):].split(" Question: ")) else "no",
    "word_class_analogy": lambda s: _word_class(s.split(" :: ")[1].split(" : ")[0]),
    "common_word_of_two_sentences": lambda s: _common(*s[len("Sentence 1: "):].split(" Sentence 2: ")),
    "person_and_city_keywords": lambda s: ", ".join([next(w for w in _word_set(s) if w in W.NAMES),
                                                     next(w for w in _word_set(s) if w in W.CITIES)]),
    "rewrite_question_for_person": lambda s: (lambda q, new: re.sub(
        r"[A-Za-z]+", lambda m: new if m.group() in W.NAMES else m.group(), q))(*s[len("Question: "):].split(" | new person: ")),
    "profile_title": lambda s: (lambda f: f"The {f['job']} from {f['city']}")(_profile_parts(s)),
    "sentence_job_city": SOLVERS["sentence_job_city"],
    "fix_repeated_word": _undouble,
    "sentence_supports_claim": lambda s: (lambda pre, hyp: "true" if hyp in _sentences(pre) else "false")(
        *s[len("Sentence 1: "):].split(" Sentence 2: ")),
    "pronoun_antecedent": lambda s: _pronoun_referent(*s[len("Text: "):].rsplit(" | pronoun: ", 1)),
    "question_or_statement": lambda s: "question" if s.endswith("?") else "statement",
    "answerable_or_not": lambda s: ("answerable" if _answerable(*s[len("Context: "):].split(" | query: "))
                                    else "unanswerable"),
    "is_to_as_analogy": lambda s: _word_class(s.split(" as ")[1].split(" is to ")[0]),
    "shared_word_of_two_lists": lambda s: _common(*s.split(" | ")),
    "animal_and_fruit_keywords": lambda s: ", ".join([next(w for w in _word_set(s) if w in W.ANIMALS),
                                                      next(w for w in _word_set(s) if w in W.FRUITS)]),
    "rewrite_question_for_sport": lambda s: (lambda q, new: re.sub(
        r"[A-Za-z]+", lambda m: new if m.group() in W.SPORTS else m.group(), q))(*s.split(" | sport: ")),
    "pet_story_title": lambda s: (lambda f: f"{f['name']} and the {f['pet']}")(_profile_parts(s)),
    "sentence_sport_city": SOLVERS["sentence_sport_city"],
    "fix_article": _article_fixed,
}
# cause and effect need world knowledge that only the generator's event table holds: checked by label balance
ALL_SOLVERS = {**SOLVERS, **CATEGORY_SOLVERS}


def _check_solvers(data_dir: Path, names: list[str]) -> None:
    """Every label and output of the held-out tasks `names`, re-derived from the input alone by the solvers
    above; the cause-effect tasks (world knowledge) are checked for two balanced labels."""
    for name in names:
        slug = name.split("_demo_", 1)[1]
        if "cause" in slug:
            labels = [i["output"][0] for i in _load(name, data_dir)["Instances"]]
            assert len(set(labels)) == 2 and abs(labels.count(labels[0]) - len(labels) / 2) <= 1, name
            continue
        assert slug in ALL_SOLVERS, f"held-out task {name} has no independent solver in this test"
        solve = ALL_SOLVERS[slug]
        task = _load(name, data_dir)
        for inst in task["Instances"]:
            assert solve(inst["input"]) == inst["output"][0], (name, inst["input"])
        for ex in task["Positive Examples"]:
            assert solve(ex["input"]) == ex["output"], (name, ex)
        for ex in task["Negative Examples"]:
            assert solve(ex["input"]) != ex["output"], (name, ex)


def test_heldout_tasks_are_solvable_by_independent_solvers():
    held_out = sorted(set(_split("default", "test")) | set(_split("xlingual", "test")))
    assert held_out
    _check_solvers(TASKS, held_out)


def test_development_variant_holds_out_other_tasks_with_the_same_training_data(dev_dir):
    """`--dev` (for choosing the demo's settings) swaps the test tasks for development tasks and keeps
    every training task byte-identical; development inputs never occur in training either."""
    for track in ("default", "xlingual"):
        assert _split(track, "train", dev_dir) == _split(track, "train")
    dev_tasks = _split("default", "test", dev_dir)
    assert len(dev_tasks) >= 8
    assert not set(dev_tasks) & {p.stem for p in _files()}, "development tasks must not be in the bundled corpus"
    assert not any((dev_dir / f"{n}.json").exists() for n in _split("default", "test")), "test tasks leaked into --dev"
    for name in _split("xlingual", "train"):
        assert (dev_dir / f"{name}.json").read_bytes() == (TASKS / f"{name}.json").read_bytes(), name
    dev = [_load(n, dev_dir) for n in dev_tasks]
    dev_inputs = {i["input"] for task in dev for i in task["Instances"]}
    for name in _split("default", "train"):
        task = _load(name)
        texts = _inputs(task)
        assert not texts & dev_inputs, f"{name} contains a development input"
    dev_defs = {task["Definition"][0] for task in dev}
    assert not dev_defs & {_load(n)["Definition"][0] for n in _split("default", "train") + _split("default", "test")}
    _check_solvers(dev_dir, dev_tasks)


def test_variants_design_holds_out_solvable_new_variants_of_training_skills(variants_dir):
    """`--held-out variants`: the held-out tasks are in training categories, solvable from their inputs, and
    their outputs are instance-specific: copying the first demonstration's output (copy_demo) is right only
    on label-style tasks."""
    held_out = _split("default", "test", variants_dir)
    assert len(held_out) >= 12
    _check_solvers(variants_dir, sorted(set(held_out) | set(_split("xlingual", "test", variants_dir))))
    train_categories = {_load(n, variants_dir)["Categories"][0] for n in _split("default", "train", variants_dir)}
    assert {_load(n, variants_dir)["Categories"][0] for n in held_out} <= train_categories
    held_inputs = set().union(*(_inputs(_load(n, variants_dir)) for n in held_out))
    for name in _split("default", "train", variants_dir):
        assert not _inputs(_load(name, variants_dir)) & held_inputs, f"{name} contains a held-out input"
    for name in held_out:
        task = _load(name, variants_dir)
        demo = task["Positive Examples"][0]["output"]
        hits = sum(demo in inst["output"] for inst in task["Instances"][:100])
        if task["Categories"][0] != "Text Categorization":
            assert hits <= 10, f"{name}: copy_demo is exact on {hits}/100 instances"
    labels = [n for n in held_out if _load(n, variants_dir)["Categories"][0] == "Text Categorization"]
    assert len(labels) <= 2
    for name in labels:  # balanced, so copying a demonstration's label is right about half of the time
        outputs = [inst["output"][0] for inst in _load(name, variants_dir)["Instances"][:100]]
        counts = sorted(outputs.count(o) for o in set(outputs))
        assert counts[-1] - counts[0] <= 20, (name, counts)


def test_def_pos2_prompts_are_short_with_the_demo_vocabulary():
    from snitk.natinst.corpus import Corpus
    from snitk.prompts import render
    from snitk.vocab import Vocabulary

    vocab = Vocabulary(REPO / "snitk" / "assets" / "demo_spm.model")
    assert 2000 <= vocab.base_size <= 4000
    assert vocab.encode("Definition: In this task") == vocab._sp.encode("Definition: In this task")
    longest_in, longest_out = 0, 0
    for track in ("default", "xlingual"):
        corpus = Corpus(TASKS, track)
        for task in list(corpus.test_tasks()) + list(corpus.train_tasks(max_per_task=20)):
            for inst in task.instances:
                longest_in = max(longest_in, len(vocab.encode(render(task, inst, "def_pos2"))))
                longest_out = max(longest_out, max(len(vocab.encode(o)) for o in inst.output))
    assert longest_in <= 200 and longest_out <= 32, (longest_in, longest_out)
    assert "<unk>" not in vocab.decode(vocab.encode("Positive Example 1 - Output: Zürich 北京 Москва"))


@pytest.mark.parametrize("slug", ["reverse_words", "sort_numbers_ascending", "record_name"])
def test_training_tasks_cover_the_skills_the_heldout_ones_recombine(slug):
    assert any(n.endswith("_demo_" + slug) for n in _split("default", "train"))


def test_vocabulary_is_reproducible(tmp_path):
    import sentencepiece as spm

    from snitk.demo.vocab import TRAINED_WITH, train

    shipped = REPO / "snitk" / "assets" / "demo_spm.model"
    out = train(TASKS, tmp_path / "demo_spm.model")
    if spm.__version__ == TRAINED_WITH:
        assert out.read_bytes() == shipped.read_bytes(), \
            "snitk/assets/demo_spm.model does not match `python -m snitk.demo.vocab` on tasks/"
    else:  # another sentencepiece release may order or score pieces differently; the pieces must agree
        pieces = [{p.id_to_piece(i) for i in range(p.get_piece_size())}
                  for p in (spm.SentencePieceProcessor(model_file=str(f)) for f in (out, shipped))]
        assert len(pieces[0] & pieces[1]) >= 0.95 * len(pieces[1])


# ---- the bundled held-out design: the 12 evaluation categories of the real default track


def test_categories_design_holds_out_whole_categories_mirroring_the_real_default_track(tmp_path, dev_dir):
    """The bundled corpus (`--held-out categories`): test and development tasks are the 12 evaluation
    categories, no training task is in any of them, training is byte-identical between test and development
    variants, nothing leaks, and the two heuristics land near their real-benchmark values (copy_input 14.2,
    copy_demo 28.5)."""
    from snitk.demo.families_heldout import CATEGORIES
    from snitk.demo.families_labels import LABELS_PER_TASK_INSTANCES
    from snitk.eval.baselines import run_baseline

    test_dir = TASKS
    train = _split("default", "train", test_dir)
    assert train == _split("default", "train", dev_dir)
    for name in _split("xlingual", "train", test_dir):
        assert (test_dir / f"{name}.json").read_bytes() == (dev_dir / f"{name}.json").read_bytes(), name
    held = {d: [_load(n, d) for n in _split("default", "test", d)] for d in (test_dir, dev_dir)}
    for tasks in held.values():
        assert sorted(t["Categories"][0] for t in tasks) == sorted(CATEGORIES)
    train_tasks = [_load(n, test_dir) for n in train]
    assert not {t["Categories"][0] for t in train_tasks} & set(CATEGORIES)
    assert len({t["Categories"][0] for t in train_tasks}) >= 8
    # as on the real benchmark, neighbouring training categories read the held-out categories' kinds of text
    assert {"Question Answering", "Text Matching", "Gender Classification", "Word Semantics", "Summarization",
            "Question Generation", "Dialogue Generation"} <= {t["Categories"][0] for t in train_tasks}
    # a task's own instance count (the many two-label tasks of families_labels) reaches the written corpus
    sizes = {len(t["Instances"]) for n, t in zip(train, train_tasks) if "_demo_label_" in n}
    assert sizes == {LABELS_PER_TASK_INSTANCES}
    for d in (test_dir, dev_dir):  # every label and output, re-derived from the input alone
        _check_solvers(d, _split("default", "test", d))
    held_inputs = set().union(*(_inputs(t) for tasks in held.values() for t in tasks))
    for name, task in zip(train, train_tasks):
        assert not _inputs(task) & held_inputs, f"{name} contains a held-out input"
    assert not {t["Definition"][0] for t in held[test_dir]} & {t["Definition"][0] for t in held[dev_dir]}

    # the heuristics, scored through `snitk.eval baseline` on the test tasks (the official protocol)
    scores = {kind: run_baseline(kind, "default", test_dir, tmp_path / kind, n_resamples=10)["overall"]["rougeL"]
              for kind in ("copy_input", "copy_demo")}
    assert 10 <= scores["copy_input"] <= 25 and 20 <= scores["copy_demo"] <= 35, scores


def test_label_tasks_name_their_labels_and_need_the_definition_to_pick_them():
    """The categories design's label tasks (`families_labels`): every output is one of the words the
    definition quotes, labels are balanced, no label word is a held-out task's label, and each condition is
    asked with several label pairs (so the input alone does not tell the answer), curated pairs recurring
    across conditions and everyday-word pairs each used by one condition only."""
    from snitk.demo.families_heldout import heldout_specs
    from snitk.demo.families_labels import CONDITIONS, PAIRS_PER_CONDITION, RANDOM_PAIRS_PER_CONDITION, label_specs

    specs = label_specs()
    assert all(s.split == "train" for s in specs)
    held_labels = set()
    for spec in heldout_specs():
        if spec.family == "classification":
            held_labels |= {spec.solve(spec.sample(random.Random(i))) for i in range(300)}
    assert {"yes", "no", "cause", "effect", "greeting", "answerable"} <= held_labels
    pairs_of: dict[str, set] = {}
    conditions_of: dict[frozenset, set] = {}
    for spec in specs:
        task = generate.build_task(f"task9999_demo_{spec.slug}", spec, reserved=set(), num_instances=40)
        quoted = set(re.findall(r'"([^"]+)"', spec.definition))
        outputs = [i["output"][0] for i in task["Instances"]]
        assert set(outputs) <= quoted and not quoted & held_labels, spec.slug
        assert all(e["output"] in quoted for e in task["Positive Examples"] + task["Negative Examples"]), spec.slug
        counts = [outputs.count(label) for label in set(outputs)]
        assert len(counts) == len(quoted) and max(counts) - min(counts) <= 1, (spec.slug, counts)
        if spec.slug.startswith("label_"):
            cond = next(c.slug for c in CONDITIONS if spec.slug.startswith(f"label_{c.slug}_"))
            pairs_of.setdefault(cond, set()).add(frozenset(quoted))
            conditions_of.setdefault(frozenset(quoted), set()).add(cond)
    assert len(pairs_of) == len(CONDITIONS)
    assert all(len(p) == PAIRS_PER_CONDITION + RANDOM_PAIRS_PER_CONDITION for p in pairs_of.values())
    assert sum(len(c) > 1 for c in conditions_of.values()) >= 5  # curated pairs answer several conditions
    once = [pair for pair, conds in conditions_of.items() if len(conds) == 1]
    assert len(once) >= len(CONDITIONS) * RANDOM_PAIRS_PER_CONDITION  # the everyday-word pairs, one condition each
