"""The one path layer: every path the user gives (flag, gin binding, config) goes through `resolve`.

Local paths become absolute (orbax and tensorstore need absolute paths, and a run must not change
meaning when a later step changes directory); `~` is expanded. URLs (`gs://`, `s3://`, ...) are kept
as they are, as `etils.epath` paths, the path layer t5x and orbax use, so every read and write
(checkpoints, metrics, eval outputs, data, vocabularies) works the same on a bucket.

Cloud URLs go through fsspec (gcsfs for `gs://`), not `tf.io.gfile`: importing this module sets
`EPATH_USE_TF=false` unless the environment already sets it. One client then serves snitk and orbax
alike, and it honours the client libraries' own test setting `STORAGE_EMULATOR_HOST` (TensorFlow's
GCS client has a fixed endpoint). Tensorstore (orbax's array I/O) reads `TENSORSTORE_GCS_HTTP_URL`.
"""

from __future__ import annotations

import os
import re
from typing import Any

os.environ.setdefault("EPATH_USE_TF", "false")

from etils import epath  # noqa: E402 - after the backend choice above

_URL_RE = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")


def is_url(path: str | os.PathLike) -> bool:
    """True for `scheme://...` paths (cloud storage and other remote file systems)."""
    return bool(_URL_RE.match(os.fspath(path)))


def resolve(path: str | os.PathLike) -> epath.Path:
    """`path` as an absolute local path (relative to the current directory) or as the URL it is."""
    text = os.fspath(path)
    if is_url(text):
        return epath.Path(text)
    return epath.Path(os.path.abspath(os.path.expanduser(text)))


def resolve_optional(path: str | os.PathLike | None) -> epath.Path | None:
    """`resolve(path)`, or None for None / an empty string."""
    return resolve(path) if path else None


def kvstore_spec(path: str | os.PathLike) -> dict[str, Any]:
    """The tensorstore kvstore spec of a directory: `file` for local paths, `gcs` / `s3` for buckets."""
    text = os.fspath(resolve(path))
    m = re.match(r"^(gs|s3)://([^/]+)/?(.*)$", text)
    if m:
        scheme, bucket, key = m.groups()
        key = key.rstrip("/")
        return {"driver": "gcs" if scheme == "gs" else "s3", "bucket": bucket, "path": f"{key}/" if key else ""}
    if is_url(text):
        return {"driver": text.split("://", 1)[0], "path": text}
    return {"driver": "file", "path": text.rstrip("/") + "/"}
