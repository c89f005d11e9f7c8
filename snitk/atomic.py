"""Atomic file output, locally and on object stores (paths through `snitk.paths.resolve`).

* Local paths: write a temporary file in the same directory, fsync, then rename it over the target.
* URLs (`gs://`, ...): object stores have no atomic rename (a "rename" is copy + delete), but an
  object becomes visible only when its upload completes. So the content is spooled to a local
  temporary file and uploaded with one write once the block succeeded; on an error nothing is
  uploaded. Readers see the old object or the whole new one, never a partial one.

`open_append` is the append-only log (metrics.jsonl, the eval's predictions.partial.jsonl): local
files are appended to and fsynced on `flush()`; objects cannot be appended to, so on object stores
`flush()` rewrites the whole object atomically, at most every `object_interval_s` seconds (bounding
the re-upload cost of a long log); `sync()` and closing always do.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import tempfile
import time
from typing import IO, Any, Iterator

from snitk.paths import is_url, resolve


def current_umask() -> int:
    """The process umask (read by setting and restoring it)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "w", encoding: str | None = "utf-8") -> Iterator[IO[Any]]:
    """Open a temporary file for `path`; on success it replaces `path` (rename, or one upload), on error it is deleted."""
    path = resolve(path)
    url = is_url(path)
    if url:
        fd, tmp = tempfile.mkstemp(prefix="snitk-upload-", suffix=".tmp")
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=os.fspath(path.parent))
    os.fchmod(fd, 0o666 & ~current_umask())  # mkstemp makes 0600; outputs get the mode open() would give
    if "b" in mode:
        encoding = None
    try:
        with os.fdopen(fd, mode, encoding=encoding) as f:
            yield f
            f.flush()
            if not url:
                os.fsync(f.fileno())
        if url:
            _upload(tmp, path)
        else:
            os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def _upload(local: str, dest: Any) -> None:
    """Copy a finished local file to the object `dest` in one upload (the object appears when it completes).

    `put_file` rather than a writable file object: such an object commits what it holds when it is
    closed, also while an exception propagates.
    """
    import fsspec

    fs, remote = fsspec.core.url_to_fs(os.fspath(dest))
    fs.put_file(local, remote)


def write_text(path: str | os.PathLike, text: str) -> None:
    """Atomically write `text` to `path`."""
    with atomic_open(path, "w") as f:
        f.write(text)


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Atomically write `data` to `path`."""
    with atomic_open(path, "wb") as f:
        f.write(data)


def write_json(path: str | os.PathLike, obj: Any, indent: int | None = 2) -> None:
    """Atomically write `obj` as JSON (UTF-8, non-ASCII kept) to `path`."""
    with atomic_open(path, "w") as f:
        json.dump(obj, f, ensure_ascii=False, indent=indent)
        f.write("\n")


def write_jsonl(path: str | os.PathLike, rows: Any) -> None:
    """Atomically write an iterable of JSON objects, one per line."""
    with atomic_open(path, "w") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False))
            f.write("\n")


class _ObjectLog(io.StringIO):
    """Text log kept in memory; `flush()` atomically rewrites the whole object at `path` (rate-limited)."""

    def __init__(self, path: Any, initial: str, interval_s: float):
        super().__init__()
        self.write(initial)
        self._path = path
        self._saved = initial
        self._interval_s = interval_s
        self._last_upload = -float("inf")

    def flush(self, force: bool = False) -> None:
        super().flush()
        if not force and time.monotonic() - self._last_upload < self._interval_s:
            return
        text = self.getvalue()
        if text != self._saved:
            write_text(self._path, text)
            self._saved = text
            self._last_upload = time.monotonic()

    def sync(self) -> None:
        """Upload now, whatever the interval."""
        self.flush(force=True)


@contextlib.contextmanager
def open_append(path: str | os.PathLike, *, object_interval_s: float = 30.0) -> Iterator[IO[str]]:
    """Append lines to the text log `path` (created when absent); `flush()` makes them durable
    (on object stores: at most every `object_interval_s` seconds), `sync()` and closing always do.

    A torn last line (a crash mid-write) is ended with a newline first, so it cannot swallow the next line.
    """
    path = resolve(path)
    if is_url(path):
        old = path.read_text(encoding="utf-8") if path.exists() else ""
        if old and not old.endswith("\n"):
            old += "\n"
        log = _ObjectLog(path, old, object_interval_s)
        try:
            yield log
        finally:
            log.sync()
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+b") as f:
        if f.tell():
            f.seek(-1, os.SEEK_END)
            if f.read(1) != b"\n":
                f.write(b"\n")
    with open(path, "a", encoding="utf-8") as f:
        yield _FsyncOnFlush(f)


class _FsyncOnFlush:
    """A local append-mode text file whose `flush()` also fsyncs."""

    def __init__(self, f: IO[str]):
        self._f = f

    def write(self, text: str) -> int:
        return self._f.write(text)

    def flush(self) -> None:
        self._f.flush()
        os.fsync(self._f.fileno())

    sync = flush
