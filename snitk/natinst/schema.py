"""The natural-instructions task schema: parse and validate one task JSON file.

A task file of allenai/natural-instructions is one JSON object. The schema is split by what the
pipeline consumes:

- **Consumed keys** (`REQUIRED_KEYS`) are strict: `Definition` (a string or a non-empty list of
  strings; the official loader uses `Definition[0]`), `Positive Examples` / `Negative Examples`
  (objects with string `input` and `output`, optional string `explanation`), `Instances` (objects
  with a string `id`, a string `input` and a NON-EMPTY list of string `output`s; ids unique),
  `Categories`, `Input_language` and `Output_language` (lists of strings; a bare string is wrapped).
  Every violation raises :class:`snitk.errors.DataError` naming the file, the key or instance and
  what was expected.
- **Metadata keys** (`METADATA_KEYS`: URL, Source, Reasoning, Domains, Contributors, ...) and
  unknown keys are tolerated, as the official code tolerates them: a missing key, a non-list value
  or a non-string item (`NaN`, `null`, a number, as upstream's task267 has `"URL": [NaN]`) becomes a
  warning on :attr:`Task.warnings` naming the file and field, and the bad items are dropped.
"""

from __future__ import annotations

import json
import os
import random
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

from etils.epath import Path

from snitk.errors import DataError
from snitk.paths import resolve

# Keys the pipeline consumes: missing or malformed is an error.
REQUIRED_KEYS: tuple[str, ...] = (
    "Definition",
    "Positive Examples",
    "Negative Examples",
    "Instances",
    "Categories",
    "Input_language",
    "Output_language",
)
# Consumed lists of strings (strict); field name on Task.
_STRICT_LIST_FIELDS: dict[str, str] = {
    "Categories": "categories",
    "Input_language": "input_language",
    "Output_language": "output_language",
}
# Metadata lists of strings (tolerant: problems become warnings); field name on Task.
_METADATA_FIELDS: dict[str, str] = {
    "Contributors": "contributors",
    "Source": "source",
    "URL": "url",
    "Reasoning": "reasoning",
    "Instruction_language": "instruction_language",
    "Domains": "domains",
    "Instance License": "instance_license",
}
# Metadata keys every upstream file is expected to have (absence is a warning, not an error).
METADATA_KEYS: tuple[str, ...] = ("Contributors", "Source", "URL", "Reasoning", "Instruction_language", "Domains")
# Keys that upstream files may or may not carry: no warning when absent.
OPTIONAL_KEYS: tuple[str, ...] = ("Instance License", "Instruction Source")
KNOWN_KEYS: frozenset[str] = frozenset(REQUIRED_KEYS + METADATA_KEYS + OPTIONAL_KEYS)


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
    warnings: tuple[str, ...] = ()

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


def _metadata_list(value: Any, path: object, key: str, warnings: list[str]) -> tuple[str, ...]:
    """A tolerated metadata list: non-string items are dropped and reported in `warnings`."""
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list):
        warnings.append(f"{path}: {key}: expected a list of strings, got {_type_name(value)} ({value!r:.40}); ignored")
        return ()
    kept = []
    for i, item in enumerate(value):
        if isinstance(item, str):
            kept.append(item)
        else:
            warnings.append(f"{path}: {key}[{i}]: expected a string, got {_type_name(item)} ({item!r:.40}); ignored")
    return tuple(kept)


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
    path = resolve(path)
    if not isinstance(obj, dict):
        raise DataError(path, None, f"expected a JSON object at the top level, got {_type_name(obj)}")
    for key in REQUIRED_KEYS:
        if key not in obj:
            raise DataError(path, key, "missing required key")
    warnings: list[str] = []
    lists = {field: _str_list(obj[key], path, key) for key, field in _STRICT_LIST_FIELDS.items()}
    for key, field in _METADATA_FIELDS.items():
        if key in obj:
            lists[field] = _metadata_list(obj[key], path, key, warnings)
        else:
            lists[field] = ()
            if key in METADATA_KEYS:
                warnings.append(f"{path}: {key}: missing metadata key; treated as []")
    for key in obj:
        if key not in KNOWN_KEYS:
            warnings.append(f"{path}: {key}: unknown key; ignored")
    definitions = _definition(obj["Definition"], path)
    pos = _examples(obj["Positive Examples"], path, "Positive Examples")
    neg = _examples(obj["Negative Examples"], path, "Negative Examples")
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
        warnings=tuple(warnings),
        **lists,
    )


def read_json(path: str | os.PathLike) -> Any:
    """Decode a JSON file, turning I/O and syntax problems into DataError."""
    try:
        with resolve(path).open(encoding="utf-8") as f:
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
        text = resolve(path).read_text(encoding="utf-8")
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
