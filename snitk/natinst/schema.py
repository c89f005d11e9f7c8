"""The natural-instructions task schema: parse and validate one task JSON file.

A task file of allenai/natural-instructions is one JSON object with the keys below. Validation is
faithful to what the real repository contains (checked against its task files and its own
`src/test_all.py`) and strict about anything a loader would choke on:

- every key of `REQUIRED_KEYS` must be present; `Instance License` (and the occasional
  `Instruction Source`) may be absent; unknown extra keys are ignored;
- `Definition` is a string or a non-empty list of strings (the official loader uses `Definition[0]`);
- the metadata keys are lists of strings (a bare string is accepted and wrapped);
- examples are objects with string `input` and `output`; `explanation` may be missing;
- instances are objects with a string `id`, a string `input` and a NON-EMPTY list of strings
  `output` (a reference may be the empty string); ids are unique within the file.

Every violation raises :class:`snitk.errors.DataError` naming the file, the key or instance and
what was expected.
"""

from __future__ import annotations

import json
import os
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

from snitk.errors import DataError

REQUIRED_KEYS: tuple[str, ...] = (
    "Contributors",
    "Source",
    "URL",
    "Categories",
    "Reasoning",
    "Definition",
    "Input_language",
    "Output_language",
    "Instruction_language",
    "Domains",
    "Positive Examples",
    "Negative Examples",
    "Instances",
)
OPTIONAL_KEYS: tuple[str, ...] = ("Instance License", "Instruction Source")
# Metadata keys: lists of strings; field name on Task.
_LIST_FIELDS: dict[str, str] = {
    "Contributors": "contributors",
    "Source": "source",
    "URL": "url",
    "Categories": "categories",
    "Reasoning": "reasoning",
    "Input_language": "input_language",
    "Output_language": "output_language",
    "Instruction_language": "instruction_language",
    "Domains": "domains",
}


@dataclass(frozen=True)
class Example:
    """A positive or negative demonstration example."""

    input: str
    output: str
    explanation: str | None = None


@dataclass(frozen=True)
class Instance:
    """One task instance; `output` holds every reference answer."""

    id: str
    input: str
    output: tuple[str, ...]


@dataclass(frozen=True)
class Task:
    """A parsed task file with the selection of instances that was asked for."""

    name: str
    path: Path
    definition: str
    categories: tuple[str, ...]
    source: tuple[str, ...]
    url: tuple[str, ...]
    contributors: tuple[str, ...]
    reasoning: tuple[str, ...]
    domains: tuple[str, ...]
    input_language: tuple[str, ...]
    output_language: tuple[str, ...]
    instruction_language: tuple[str, ...]
    positive_examples: tuple[Example, ...]
    negative_examples: tuple[Example, ...]
    instances: tuple[Instance, ...]
    num_instances: int
    definitions: tuple[str, ...] = ()
    instance_license: tuple[str, ...] = ()

    @property
    def category(self) -> str:
        """The task's category: `Categories[0]` ("" when the list is empty)."""
        return self.categories[0] if self.categories else ""

    @property
    def languages(self) -> frozenset[str]:
        """Input and output languages together."""
        return frozenset(self.input_language) | frozenset(self.output_language)


def _type_name(value: Any) -> str:
    return type(value).__name__


def _str_list(value: Any, path: object, key: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list):
        raise DataError(path, key, f"expected a list of strings, got {_type_name(value)}")
    for i, item in enumerate(value):
        if not isinstance(item, str):
            raise DataError(path, f"{key}[{i}]", f"expected a string, got {_type_name(item)}")
    return tuple(value)


def _definition(value: Any, path: object) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list):
        if not value:
            raise DataError(path, "Definition", "expected a string or a non-empty list of strings, got []")
        return _str_list(value, path, "Definition")
    raise DataError(path, "Definition", f"expected a string or a list of strings, got {_type_name(value)}")


def _examples(value: Any, path: object, key: str) -> tuple[Example, ...]:
    if not isinstance(value, list):
        raise DataError(path, key, f"expected a list of example objects, got {_type_name(value)}")
    out = []
    for i, ex in enumerate(value):
        where = f"{key}[{i}]"
        if not isinstance(ex, dict):
            raise DataError(path, where, f"expected an object with input/output, got {_type_name(ex)}")
        for field in ("input", "output"):
            if field not in ex:
                raise DataError(path, where, f"missing key {field!r} (expected a string)")
            if not isinstance(ex[field], str):
                raise DataError(path, f"{where}.{field}", f"expected a string, got {_type_name(ex[field])}")
        expl = ex.get("explanation")
        if expl is not None and not isinstance(expl, str):
            raise DataError(path, f"{where}.explanation", f"expected a string or absent, got {_type_name(expl)}")
        out.append(Example(ex["input"], ex["output"], expl))
    return tuple(out)


def _check_instance(inst: Any, i: int, path: object) -> None:
    if not isinstance(inst, dict):
        raise DataError(path, f"Instances[{i}]", f"expected an object with id/input/output, got {_type_name(inst)}")
    for field in ("id", "input", "output"):
        if field not in inst:
            raise DataError(path, f"Instances[{i}]", f"missing key {field!r}")
    iid = inst["id"]
    if not isinstance(iid, str):
        raise DataError(path, f"Instances[{i}].id", f"expected a string, got {_type_name(iid)}")
    if not isinstance(inst["input"], str):
        raise DataError(path, f"instance {iid} (Instances[{i}]).input", f"expected a string, got {_type_name(inst['input'])}")
    out = inst["output"]
    if not isinstance(out, list):
        raise DataError(path, f"instance {iid} (Instances[{i}]).output", f"expected a list of strings, got {_type_name(out)}")
    if not out:
        raise DataError(path, f"instance {iid} (Instances[{i}]).output", "expected at least one reference, got []")
    for j, ref in enumerate(out):
        if not isinstance(ref, str):
            raise DataError(path, f"instance {iid} (Instances[{i}]).output[{j}]", f"expected a string, got {_type_name(ref)}")


def validate_instances(instances: Any, path: object) -> int:
    """Check every instance (types, non-empty outputs, unique ids); return how many there are."""
    if not isinstance(instances, list):
        raise DataError(path, "Instances", f"expected a list of instance objects, got {_type_name(instances)}")
    seen: dict[str, int] = {}
    for i, inst in enumerate(instances):
        _check_instance(inst, i, path)
        iid = inst["id"]
        if iid in seen:
            raise DataError(path, f"instance {iid} (Instances[{i}]).id", f"expected unique ids; first used by Instances[{seen[iid]}]")
        seen[iid] = i
    return len(instances)


def select_indices(n: int, *, first: int | None = None, sample: int | None = None, seed: Any = 0, shuffle: bool = False) -> list[int]:
    """Indices of a selection from `n` instances.

    `first=k`: the first k in file order (the official test rule). `shuffle=True` or `sample=k`: a
    shuffle seeded by `seed` (any hashable; strings are stable across runs), then the first k
    (`sample=None` keeps all, shuffled). With neither, all instances in file order.
    """
    idx = list(range(n))
    if first is not None:
        idx = idx[: max(first, 0)]
    if shuffle or sample is not None:
        random.Random(str(seed)).shuffle(idx)
        if sample is not None:
            idx = idx[: max(sample, 0)]
    return idx


def parse_task(
    obj: Any,
    path: str | os.PathLike,
    *,
    name: str | None = None,
    first: int | None = None,
    sample: int | None = None,
    seed: Any = 0,
) -> Task:
    """Validate a decoded task object and build a :class:`Task` (see :func:`select_indices` for the selection)."""
    path = Path(path)
    if not isinstance(obj, dict):
        raise DataError(path, None, f"expected a JSON object at the top level, got {_type_name(obj)}")
    for key in REQUIRED_KEYS:
        if key not in obj:
            raise DataError(path, key, "missing required key")
    lists = {field: _str_list(obj[key], path, key) for key, field in _LIST_FIELDS.items()}
    definitions = _definition(obj["Definition"], path)
    pos = _examples(obj["Positive Examples"], path, "Positive Examples")
    neg = _examples(obj["Negative Examples"], path, "Negative Examples")
    lic = _str_list(obj["Instance License"], path, "Instance License") if "Instance License" in obj else ()
    raw = obj["Instances"]
    n = validate_instances(raw, path)
    idx = select_indices(n, first=first, sample=sample, seed=seed, shuffle=sample is not None)
    instances = tuple(Instance(raw[i]["id"], raw[i]["input"], tuple(raw[i]["output"])) for i in idx)
    return Task(
        name=name or path.stem,
        path=path,
        definition=definitions[0],
        positive_examples=pos,
        negative_examples=neg,
        instances=instances,
        num_instances=n,
        definitions=definitions,
        instance_license=lic,
        **lists,
    )


def read_json(path: str | os.PathLike) -> Any:
    """Decode a JSON file, turning I/O and syntax problems into DataError."""
    try:
        with open(path, encoding="utf-8") as f:
            data = f.read()  # text, not bytes: no second copy of the file while decoding
    except UnicodeDecodeError as exc:
        raise DataError(path, None, f"expected UTF-8 text ({exc})") from exc
    except OSError as exc:
        raise DataError(path, None, f"cannot read file ({exc.strerror or exc})") from exc
    try:
        return json.loads(data)
    except json.JSONDecodeError as exc:
        raise DataError(path, None, f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from exc


def load_task(
    path: str | os.PathLike,
    *,
    first: int | None = None,
    sample: int | None = None,
    seed: Any = 0,
) -> Task:
    """Read, validate and parse one task file; `first`/`sample`/`seed` select instances (see select_indices).

    The decoded file is dropped before returning, so only the selection stays in memory.
    """
    obj = read_json(path)
    task = parse_task(obj, path, first=first, sample=sample, seed=seed)
    del obj
    return task


def validate_file(path: str | os.PathLike) -> Task:
    """Fully validate a task file (all instances) and return it with no instances kept."""
    return load_task(path, first=0)


def read_split_list(path: str | os.PathLike) -> list[str]:
    """Task names of a split list file (one per line, blank lines skipped, order kept)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise DataError(path, None, f"cannot read split list ({exc.strerror or exc})") from exc
    names = []
    seen: set[str] = set()
    for lineno, line in enumerate(text.splitlines(), 1):
        name = line.strip()
        if not name:
            continue
        if name.endswith(".json") or "/" in name or " " in name:
            raise DataError(path, f"line {lineno}", f"expected a bare task name like task001_x, got {name!r}")
        if name in seen:
            raise DataError(path, f"line {lineno}", f"task {name!r} listed twice")
        seen.add(name)
        names.append(name)
    return names


def example_dicts(examples: Sequence[Example] | Iterable[Example]) -> list[dict[str, str]]:
    """Examples back in the file's dict form (explanation omitted when absent)."""
    out = []
    for ex in examples:
        d = {"input": ex.input, "output": ex.output}
        if ex.explanation is not None:
            d["explanation"] = ex.explanation
        out.append(d)
    return out
