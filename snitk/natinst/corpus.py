"""A natural-instructions data directory: split lists, tracks and the official instance selections.

Layout (the repository's): task files in ``D/tasks/*.json`` (or directly in ``D`` when ``D/tasks``
holds no JSON, as in the bundled demo corpus) and split lists in
``D/splits/{default,xlingual}/{train,test,excluded}_tasks.txt``.

Selections:
- test: the FIRST ``max_per_task`` (100) instances of each test task in file order (official rule);
- train: per task, a shuffle seeded by (seed, task name), then the first ``max_per_task`` (100;
  ``None`` keeps all, in file order, as the official loader does); optional filters by language,
  category (``Categories[0]``) and a seeded subset of ``num_tasks`` tasks (nested: the subset for
  k tasks contains the one for j < k tasks, for scaling studies).

Loading is lazy: one task file is read, validated and reduced to its selection at a time, so peak
memory is bounded by the largest single file, not the corpus.
"""

from __future__ import annotations

import json
import logging
import os
import random
from typing import Any, Iterable, Iterator, Sequence

from etils.epath import Path

from snitk.errors import ConfigError, DataError
from snitk.natinst.schema import Task, _str_list, load_task, read_split_list
from snitk.paths import resolve

log = logging.getLogger(__name__)

TRACKS = ("default", "xlingual")
SPLITS = ("train", "test", "excluded")
_HEADER_CHUNK = 1 << 16


def default_data_dir() -> Path:
    """`$SNITK_DATA_DIR`, else the bundled demo corpus (the repository's top-level `tasks/`)."""
    env = os.environ.get("SNITK_DATA_DIR")
    if env:
        return resolve(env)
    import snitk

    return resolve(os.path.join(os.path.dirname(os.path.dirname(os.path.realpath(snitk.__file__))), "tasks"))


def find_task_dir(data_dir: str | os.PathLike) -> Path:
    """`D/tasks` when it holds task JSON files, else `D` itself."""
    d = resolve(data_dir)
    sub = d / "tasks"
    if sub.is_dir() and any(sub.glob("*.json")):
        return sub
    return d


def list_task_files(task_dir: str | os.PathLike) -> list[Path]:
    """Every `*.json` task file of a folder, sorted by name."""
    return sorted(p for p in resolve(task_dir).glob("*.json") if p.is_file())


def _skip_ws(text: str, pos: int) -> int:
    n = len(text)
    while pos < n and text[pos] in " \t\r\n":
        pos += 1
    if pos >= n:
        raise IndexError(pos)
    return pos


def _parse_header(text: str) -> dict[str, Any]:
    """Top-level members of a task object that come before "Instances" (IndexError/ValueError if cut short)."""
    dec = json.JSONDecoder()
    pos = _skip_ws(text, 0)
    if text[pos] != "{":
        raise json.JSONDecodeError("expected '{'", text, pos)
    pos += 1
    header: dict[str, Any] = {}
    while True:
        pos = _skip_ws(text, pos)
        if text[pos] == "}":
            return header
        key, pos = dec.raw_decode(text, pos)
        if not isinstance(key, str):
            raise json.JSONDecodeError("expected a key", text, pos)
        pos = _skip_ws(text, pos)
        if text[pos] != ":":
            raise json.JSONDecodeError("expected ':'", text, pos)
        pos = _skip_ws(text, pos + 1)
        if key == "Instances":
            return header
        header[key], pos = dec.raw_decode(text, pos)
        pos = _skip_ws(text, pos)
        if text[pos] == ",":
            pos += 1
        elif text[pos] != "}":
            raise json.JSONDecodeError("expected ',' or '}'", text, pos)


def read_header(path: str | os.PathLike) -> dict[str, Any]:
    """The metadata keys before "Instances" of a task file, reading only as much of it as needed."""
    try:
        with resolve(path).open(encoding="utf-8") as f:
            text = ""
            chunk = _HEADER_CHUNK
            while True:
                more = f.read(chunk)
                text += more
                try:
                    return _parse_header(text)
                except (IndexError, ValueError) as exc:
                    if not more:
                        if isinstance(exc, json.JSONDecodeError):
                            raise DataError(path, None, f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from exc
                        raise DataError(path, None, "invalid JSON: unexpected end of file") from exc
                chunk *= 2
    except OSError as exc:
        raise DataError(path, None, f"cannot read file ({exc.strerror or exc})") from exc
    except UnicodeDecodeError as exc:
        raise DataError(path, None, f"expected UTF-8 text ({exc})") from exc


def _nested_subset(names: Sequence[str], k: int, seed: int) -> set[str]:
    order = list(names)
    random.Random(f"tasks:{seed}").shuffle(order)
    return set(order[:k])


class Corpus:
    """The split lists and task files of one track of a natural-instructions data dir."""

    def __init__(self, data_dir: str | os.PathLike | None = None, track: str = "default"):
        if track not in TRACKS:
            raise ConfigError(f"unknown track {track!r}; expected one of: {', '.join(TRACKS)}")
        self.data_dir = resolve(data_dir) if data_dir is not None else default_data_dir()
        if not self.data_dir.is_dir():
            raise DataError(self.data_dir, None, "data directory not found (expected tasks/*.json and splits/)")
        self.track = track
        self.task_dir = find_task_dir(self.data_dir)
        self.split_dir = self.data_dir / "splits" / track
        self._splits: dict[str, list[str]] = {}
        self._headers: dict[str, dict[str, Any]] = {}
        self._present_names: set[str] | None = None

    def __repr__(self) -> str:
        return f"Corpus({str(self.data_dir)!r}, track={self.track!r})"

    # -- names and paths -------------------------------------------------------------------
    def split_path(self, split: str) -> Path:
        if split not in SPLITS:
            raise ConfigError(f"unknown split {split!r}; expected one of: {', '.join(SPLITS)}")
        return self.split_dir / f"{split}_tasks.txt"

    def task_names(self, split: str) -> list[str]:
        """Task names of `split` in the order of its list file."""
        if split not in self._splits:
            path = self.split_path(split)
            if not path.is_file():
                raise DataError(path, None, f"split list not found (expected splits/{self.track}/{split}_tasks.txt)")
            self._splits[split] = read_split_list(path)
        return list(self._splits[split])

    def task_path(self, name: str) -> Path:
        return self.task_dir / f"{name}.json"

    def all_task_names(self) -> list[str]:
        """Every task file present in the task dir (whatever the splits say)."""
        return [p.stem for p in list_task_files(self.task_dir)]

    def missing_tasks(self, split: str) -> list[str]:
        """Names listed in `split` whose task file is absent (one directory listing, also on buckets)."""
        if self._present_names is None:
            self._present_names = set(self.all_task_names())
        return [n for n in self.task_names(split) if n not in self._present_names]

    def _present(self, split: str, allow_missing: bool) -> list[str]:
        missing = self.missing_tasks(split)
        if missing and not allow_missing:
            shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
            raise DataError(self.split_path(split), None, f"{len(missing)} listed task file(s) missing from {self.task_dir}: {shown}")
        if missing:
            log.warning("%s/%s: skipping %d missing task file(s)", self.track, split, len(missing))
        return [n for n in self.task_names(split) if n not in set(missing)]

    # -- metadata ----------------------------------------------------------------------------
    def info(self, name: str) -> dict[str, Any]:
        """The task's metadata keys (everything before "Instances"), cached; cheap for big files."""
        if name not in self._headers:
            self._headers[name] = read_header(self.task_path(name))
        return self._headers[name]

    def category(self, name: str) -> str:
        """`Categories[0]` of a task."""
        path = self.task_path(name)
        cats = _str_list(self.info(name).get("Categories", []), path, "Categories")
        if not cats:
            raise DataError(path, "Categories", "expected at least one category")
        return cats[0]

    def languages(self, name: str) -> frozenset[str]:
        """Input and output languages of a task."""
        info, path = self.info(name), self.task_path(name)
        return frozenset(_str_list(info.get("Input_language", []), path, "Input_language")) | frozenset(
            _str_list(info.get("Output_language", []), path, "Output_language")
        )

    # -- selections --------------------------------------------------------------------------
    def test_tasks(self, max_per_task: int | None = 100, allow_missing: bool = False) -> Iterator[Task]:
        """Test tasks in list order, each with its FIRST `max_per_task` instances in file order."""
        for name in self._present("test", allow_missing):
            yield load_task(self.task_path(name), first=max_per_task)

    def select_train_names(
        self,
        *,
        seed: int = 42,
        num_tasks: int | None = None,
        languages: Iterable[str] | None = None,
        categories: Iterable[str] | None = None,
        allow_missing: bool = False,
    ) -> list[str]:
        """Training task names after the filters, in list order.

        `languages`: keep tasks whose input AND output languages are all in the set.
        `categories`: keep tasks whose `Categories[0]` is in the set.
        `num_tasks`: then a seeded, nested subset of that many tasks.
        """
        names = self._present("train", allow_missing)
        if languages is not None:
            langs = set(languages)
            names = [n for n in names if self.languages(n) <= langs]
        if categories is not None:
            cats = set(categories)
            names = [n for n in names if self.category(n) in cats]
        if num_tasks is not None:
            if num_tasks < 0:
                raise ConfigError(f"num_tasks must be >= 0, got {num_tasks}")
            keep = _nested_subset(names, num_tasks, seed)
            names = [n for n in names if n in keep]
        return names

    def train_tasks(
        self,
        max_per_task: int | None = 100,
        seed: int = 42,
        num_tasks: int | None = None,
        languages: Iterable[str] | None = None,
        categories: Iterable[str] | None = None,
        allow_missing: bool = False,
    ) -> Iterator[Task]:
        """Training tasks (see select_train_names), each with a seeded shuffle capped at `max_per_task`."""
        names = self.select_train_names(
            seed=seed, num_tasks=num_tasks, languages=languages, categories=categories, allow_missing=allow_missing
        )
        for name in names:
            yield load_task(self.task_path(name), sample=max_per_task, seed=f"{seed}:{name}")

    def iter_split(self, split: str, **kw: Any) -> Iterator[Task]:
        """`train_tasks(**kw)` or `test_tasks(**kw)` by split name."""
        if split == "train":
            return self.train_tasks(**kw)
        if split == "test":
            return self.test_tasks(**kw)
        raise ConfigError(f"cannot select instances of split {split!r}; expected 'train' or 'test'")
