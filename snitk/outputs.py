"""The one check of an output location (MODEL_DIR, --output-dir, --dst, --output-file's folder).

Run it where the flag or gin value is read, before any compile or download, so that a path that is a
file, lies under a file or is not writable fails at once with one message.
"""

from __future__ import annotations

import os
from pathlib import Path

from etils import epath

from snitk.errors import ConfigError
from snitk.paths import is_url, resolve


def check_output_dir(path: str | os.PathLike, flag: str) -> epath.Path:
    """`path` resolved; ConfigError naming `flag` unless it is, or can be created as, a writable folder.

    URLs (gs://...) are returned unchecked: their permissions are known only when writing.
    """
    if is_url(path):
        return resolve(path)
    target = Path(resolve(path))
    existing = target
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        where = "is a file" if existing == target else f"lies under {existing}, which is a file"
        raise ConfigError(f"{flag} {target}: {where}; expected a directory")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ConfigError(f"{flag} {target}: not writable (no write permission on {existing})")
    return resolve(target)


def check_output_file(path: str | os.PathLike, flag: str) -> epath.Path:
    """`path` resolved; ConfigError naming `flag` when it is a folder or its folder cannot be written."""
    if is_url(path):
        return resolve(path)
    target = Path(resolve(path))
    if target.is_dir():
        raise ConfigError(f"{flag} {target}: is a directory; expected a file name")
    check_output_dir(target.parent, flag)
    return resolve(target)
