"""Reading JSON-lines files with errors that name the file and line (writing: `snitk.atomic.write_jsonl`)."""

from __future__ import annotations

import json
import os
from typing import Any, Iterator

from snitk.errors import DataError
from snitk.paths import resolve


def iter_jsonl(path: str | os.PathLike) -> Iterator[tuple[int, dict[str, Any]]]:
    """`(line number, object)` for every non-blank line; DataError naming `path:line` on bad JSON."""
    with resolve(path).open(encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"{path}:{lineno}", None, f"a JSON object ({exc})") from exc
            if not isinstance(row, dict):
                raise DataError(f"{path}:{lineno}", None, f"a JSON object, got {type(row).__name__}")
            yield lineno, row
