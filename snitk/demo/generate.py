"""Generate the bundled demo corpus: `python -m snitk.demo.generate --out tasks`.

Writes task files in the exact natural-instructions schema and layout (`OUT/*.json`,
`OUT/splits/{default,xlingual}/{train,test,excluded}_tasks.txt`). Deterministic: every task has its
own `random.Random` seeded from (seed, task name), so the output is a pure function of the code.

Design of the bundled corpus (`--held-out categories`, the default): like the real default track, the
held-out tasks are whole categories that no training task belongs to, mirroring its 12 evaluation
categories (textual entailment, cause-effect classification, coreference, dialogue acts, answerability,
word analogy, overlap extraction, keyword tagging, question rewriting, title generation, data to text,
grammar error correction; `families_heldout`), one test and one development task each, so that the
heuristics land near their values on the real benchmark. Training covers the skills they need from other
categories: transformations and extractions over number lists, word lists, records and sentences
(`families_lists`, `families_words`, ...), the real benchmark's neighbouring *training* categories over
the same world (question answering, text matching, gender classification, word semantics, dialogue
generation, question generation, sentence perturbation, summarization, text completion, POS tagging,
punctuation; `families_related`) and classification tasks whose label words only their definitions name
(`families_labels`).
- Classification tasks have balanced labels (a seeded order), so no label is favoured by chance.
- Prompts are short (a one- or two-sentence definition, inputs of a few words or numbers), so that a tiny
  model fine-tunes on many of them in the CPU demo's minutes.
- No held-out instance or example input occurs as an instance or example input of any training task.

`--held-out variants` writes the first design, kept for comparison: the held-out tasks are *different
tasks* that recombine skills training covers (training sorts ascending, the test sorts descending;
training extracts animals, cities, names and colours, the test fruits; ...), in training categories, with
instance-specific outputs, so copy_demo scores low and copy_input high (10 and 45 ROUGE-L).

Development tasks (in each design, a twin of every held-out task, disjoint from training and test) exist
for choosing the demo's model, schedule and corpus settings without looking at the test tasks: `--dev`
writes a corpus whose held-out split is the development tasks instead of the test tasks (same training
tasks, byte for byte). The bundled corpus does not contain them.

Task numbers: 9001+ English training, 9301+ English development, 9401+ English held-out, 9501+
non-English training, 9601+ non-English held-out. Default track: English tasks (non-English ones are
excluded). Cross-lingual track: all training tasks for training; the non-English and the English
held-out tasks for test.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import logging
import random
import sys
from pathlib import Path
from typing import Sequence

from snitk.demo.families_heldout import heldout_specs
from snitk.demo.families_labels import label_specs
from snitk.demo.families_lists import arithmetic_specs, number_specs
from snitk.demo.families_related import related_specs
from snitk.demo.families_text import classification_specs, data_to_text_specs, extraction_specs
from snitk.demo.families_words import word_specs
from snitk.demo.families_xlingual import xlingual_specs
from snitk.demo.spec import Spec

log = logging.getLogger(__name__)

SEED = 20221
NUM_INSTANCES = 150
NUM_POSITIVE = 4
NUM_NEGATIVE = 2
CONTRIBUTORS = ["snitk demo generator"]
SOURCE = ["snitk_demo"]
URL = ["snitk/demo/generate.py"]
LICENSE = ["Apache 2.0"]
BASES = {("English", "train"): 9001, ("English", "dev"): 9301, ("English", "test"): 9401,
         ("other", "train"): 9501, ("other", "test"): 9601}
HELD_OUT = ("dev", "test")


HELD_OUT_DESIGNS = ("categories", "variants")
DEFAULT_DESIGN = "categories"  # the bundled corpus (tasks/)


def all_specs(held_out: str = DEFAULT_DESIGN) -> list[Spec]:
    """Every demo task spec, in a fixed order.

    ``held_out="categories"`` (the bundled corpus): the held-out tasks are the 12 evaluation categories of the
    real default track (`families_heldout`), none of which any training task belongs to; the skill variants
    are training tasks and the data-to-text templates (a held-out category) leave training. ``"variants"``
    (the first design, kept for comparison): the held-out and development tasks are new variants of
    training skills, in training categories.
    """
    if held_out not in HELD_OUT_DESIGNS:
        raise ValueError(f"held_out={held_out!r}: expected one of {HELD_OUT_DESIGNS}")
    english = number_specs() + arithmetic_specs() + word_specs() + classification_specs() + extraction_specs()
    if held_out == "variants":
        specs = english + data_to_text_specs() + xlingual_specs()
    else:
        held = heldout_specs() + [s for s in data_to_text_specs() if s.split in HELD_OUT]
        specs = ([dataclasses.replace(s, split="train") for s in english] + related_specs() + label_specs() + held
                 + xlingual_specs())
        held_categories = {s.category for s in held}
        clash = [s.slug for s in specs if s.split == "train" and s.category in held_categories]
        if clash:
            raise ValueError(f"training tasks in a held-out category: {clash}")
    slugs = [s.slug for s in specs]
    dupes = {s for s in slugs if slugs.count(s) > 1}
    if dupes:
        raise ValueError(f"duplicate demo task slugs: {sorted(dupes)}")
    return specs


def task_names(specs: Sequence[Spec] | None = None, held_out: str = DEFAULT_DESIGN) -> dict[str, Spec]:
    """`{task name: spec}` with the numbering described in the module docstring."""
    specs = all_specs(held_out) if specs is None else specs
    counters = dict(BASES)
    out: dict[str, Spec] = {}
    for spec in specs:
        key = ("English" if spec.language == "English" else "other", spec.split)
        if key not in counters:
            raise ValueError(f"demo task {spec.slug!r}: no task numbers for {key} (expected one of {sorted(BASES)})")
        num = counters[key]
        counters[key] += 1
        out[f"task{num}_demo_{spec.slug}"] = spec
    ranges = sorted(BASES.values()) + [10_000]
    for key, base in BASES.items():
        limit = ranges[ranges.index(base) + 1]
        if counters[key] > limit:
            raise ValueError(f"demo tasks {key}: {counters[key] - base} tasks overflow the numbers {base}..{limit - 1}")
    return out


def _instance_id(name: str, index: int, text: str) -> str:
    num = name.split("_", 1)[0]
    digest = hashlib.md5(f"{name}|{index}|{text}".encode("utf-8")).hexdigest()
    return f"{num}-{digest}"


def build_task(name: str, spec: Spec, *, reserved: set[str], seed: int = SEED,
               num_instances: int = NUM_INSTANCES) -> dict:
    """The task file content for `spec` (a dict in the repository's key order).

    Inputs in `reserved` are never used (held-out inputs, when building training tasks).
    """
    rng = random.Random(f"{seed}:{name}")
    used: set[str] = set()

    def draw(accept=lambda p: True, tries: int = 10_000):
        for _ in range(tries):
            payload = spec.sample(rng)
            text = spec.render(payload)
            if text in used or text in reserved or not accept(payload):
                continue
            if not spec.solve(payload).strip():
                continue
            used.add(text)
            return payload, text
        raise RuntimeError(f"{name}: could not draw a fresh input after {tries} tries (input space too small?)")

    positives = []
    for _ in range(NUM_POSITIVE):
        payload, text = draw()
        answer = spec.solve(payload)
        positives.append({"input": text, "output": answer, "explanation": spec.explain.replace("{answer}", answer)})
    negatives = []
    for i in range(NUM_NEGATIVE):
        wrong, why = spec.wrongs[i % len(spec.wrongs)]
        payload, text = draw(lambda p, wrong=wrong: wrong(p) != spec.solve(p) and bool(wrong(p).strip()))
        negatives.append({"input": text, "output": wrong(payload), "explanation": why})
    instances = []
    wanted: list[str | None] = [None] * num_instances
    if spec.family == "classification":  # balanced labels, in a seeded order
        labels = sorted({spec.solve(spec.sample(rng)) for _ in range(200)})
        wanted = [labels[i % len(labels)] for i in range(num_instances)]
        rng.shuffle(wanted)
    for i in range(num_instances):
        label = wanted[i]
        payload, text = draw() if label is None else draw(lambda p, label=label: spec.solve(p) == label)
        instances.append({"id": _instance_id(name, i, text), "input": text, "output": [spec.solve(payload)]})
    lang = [spec.language]
    return {
        "Contributors": CONTRIBUTORS,
        "Source": SOURCE,
        "URL": URL,
        "Categories": [spec.category],
        "Reasoning": list(spec.reasoning),
        "Definition": [spec.definition],
        "Input_language": lang,
        "Output_language": lang,
        "Instruction_language": lang,
        "Domains": list(spec.domains),
        "Positive Examples": positives,
        "Negative Examples": negatives,
        "Instances": instances,
        "Instance License": LICENSE,
    }


def splits(named: dict[str, Spec]) -> dict[str, list[str]]:
    """Split files (`"default/train"` -> task names) for both tracks; every non-training task in
    `named` (test or development) is held out."""
    eng = {n: s for n, s in named.items() if s.language == "English"}
    other = {n: s for n, s in named.items() if s.language != "English"}
    return {
        "default/train": [n for n, s in eng.items() if s.split == "train"],
        "default/test": [n for n, s in eng.items() if s.split in HELD_OUT],
        "default/excluded": list(other),
        "xlingual/train": [n for n, s in named.items() if s.split == "train"],
        "xlingual/test": ([n for n, s in other.items() if s.split in HELD_OUT]
                          + [n for n, s in eng.items() if s.split in HELD_OUT]),
        "xlingual/excluded": [],
    }


def _readme(named: dict[str, Spec], split_lists: dict[str, list[str]], dev: bool = False,
            held_out: str = DEFAULT_DESIGN) -> str:
    design = "" if held_out == DEFAULT_DESIGN else f" --held-out {held_out}"
    command = "python -m snitk.demo.generate" + (" --dev" if dev else "") + design + (" --out DIR" if dev else " --out tasks")
    title = "The snitk demo corpus, development variant (held-out = development tasks)" if dev else "The snitk demo corpus"
    lines = [f"# {title}", "",
             f"Generated by `{command}` (deterministic; do not edit by hand).",
             "Same schema and layout as the natural-instructions repository. See `snitk/demo/generate.py` for the design.",
             ""]
    for split in ("default/train", "default/test", "xlingual/test"):
        lines.append(f"## {split} ({len(split_lists[split])} tasks)")
        lines.append("")
        for n in split_lists[split]:
            s = named[n]
            lines.append(f"- `{n}` ({s.category}, {s.language}): {s.definition}")
        lines.append("")
    return "\n".join(lines)


def build_corpus(seed: int = SEED, num_instances: int = NUM_INSTANCES, dev: bool = False,
                 held_out: str = DEFAULT_DESIGN) -> dict[str, str]:
    """`{relative path: file text}` of the whole corpus; with `dev`, the development tasks replace the
    test tasks as the held-out split. Held-out tasks are drawn first and training tasks never use
    their instance or example inputs (test and development alike), so the training tasks are the same in
    both variants.
    ``held_out``: the held-out design (see ``all_specs``)."""
    named = task_names(held_out=held_out)
    order = [n for n, s in named.items() if s.split in HELD_OUT] + [n for n, s in named.items() if s.split == "train"]
    reserved: set[str] = set()
    tasks: dict[str, dict] = {}
    for name in order:
        spec = named[name]
        tasks[name] = build_task(name, spec, reserved=reserved if spec.split == "train" else set(), seed=seed,
                                 num_instances=min(num_instances, spec.num_instances or num_instances))
        if spec.split in HELD_OUT:
            task = tasks[name]
            reserved |= {ex["input"] for ex in task["Instances"] + task["Positive Examples"] + task["Negative Examples"]}
    shown = {n: s for n, s in named.items() if s.split != ("test" if dev else "dev")}
    files = {f"{name}.json": json.dumps(tasks[name], indent=4, ensure_ascii=False) + "\n" for name in shown}
    split_lists = splits(shown)
    for key, names in split_lists.items():
        files[f"splits/{key}_tasks.txt"] = "".join(n + "\n" for n in names)
    files["README.md"] = _readme(shown, split_lists, dev, held_out) + "\n"
    return dict(sorted(files.items()))


def write_corpus(out: Path, files: dict[str, str]) -> None:
    """Write `files` under `out`, removing stale demo task files."""
    from snitk.atomic import write_text

    out.mkdir(parents=True, exist_ok=True)
    for stale in out.glob("task*_demo_*.json"):
        if stale.name not in files:
            stale.unlink()
    for rel, text in files.items():
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        write_text(path, text)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m snitk.demo.generate", description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=Path("tasks"), help="output data dir (default: tasks)")
    p.add_argument("--seed", type=int, default=SEED)
    p.add_argument("--instances", type=int, default=NUM_INSTANCES, help="instances per task")
    p.add_argument("--dev", action="store_true",
                   help="write the development variant: the development tasks are the held-out split (for tuning)")
    p.add_argument("--held-out", choices=HELD_OUT_DESIGNS, default=DEFAULT_DESIGN,
                   help="held-out design: the 12 evaluation categories of the real default track, none of them "
                        "trained on (the bundled corpus), or variants of training skills (the first design)")
    p.add_argument("--check", action="store_true", help="only compare OUT with a fresh generation; exit 1 on a difference")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    files = build_corpus(args.seed, args.instances, dev=args.dev, held_out=args.held_out)
    if args.check:
        bad = [rel for rel, text in files.items()
               if not (args.out / rel).is_file() or (args.out / rel).read_text(encoding="utf-8") != text]
        for rel in bad:
            print(f"differs: {args.out / rel}", file=sys.stderr)
        return 1 if bad else 0
    write_corpus(args.out, files)
    n_tasks = sum(rel.endswith(".json") for rel in files)
    print(f"wrote {n_tasks} tasks and the split lists to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
