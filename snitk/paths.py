"""The one path layer: every path the user gives (flag, gin binding, config) goes through `resolve`.

Local paths become absolute (orbax and tensorstore need absolute paths, and a run must not change
meaning when a later step changes directory); `~` is expanded. URLs (`gs://`, `s3://`, ...) are kept
as they are, as `etils.epath` paths, the path layer t5x and orbax use.
"""

from __future__ import annotations

import os
import re

from etils import epath

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
