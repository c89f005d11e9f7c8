"""Reading JSON-lines files with errors that name the file and line (writing: `snitk.atomic.write_jsonl`)."""

from __future__ import annotations

import json
import os
from typing import Any, Iterator

from snitk.errors import DataError
from snitk.paths import resolve


def iter_jsonl(path: str | os.PathLike) -> Iterator[tuple[int, dict[str, Any]]]:
    """`(line number, object)` for every non-blank line; DataError naming `path:line` on bad JSON."""
    lineno = 0
    try:
        with resolve(path).open(encoding="utf-8") as f:
            for lineno, line in enumerate(f, 1):
                yield from _parse(path, lineno, line)
    except UnicodeDecodeError as exc:
        raise DataError(path, None, f"UTF-8 text; undecodable bytes after line {lineno} ({exc.reason})") from None
    except OSError as exc:
        raise DataError(path, None, f"a readable JSON-lines file ({exc.strerror or exc})") from None


def _parse(path: str | os.PathLike, lineno: int, line: str) -> Iterator[tuple[int, dict[str, Any]]]:
    if line.strip():
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"{path}:{lineno}", None, f"a JSON object ({exc})") from exc
        if not isinstance(row, dict):
            raise DataError(f"{path}:{lineno}", None, f"a JSON object, got {type(row).__name__}")
        yield lineno, row
