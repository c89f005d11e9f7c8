"""The few exception types snitk raises; messages name the file, the field and what was expected."""

from __future__ import annotations


class SnitkError(Exception):
    """Base class of every error snitk raises on purpose."""


class DataError(SnitkError):
    """A task file, split list or data directory does not follow the natural-instructions schema."""

    def __init__(self, path: object, field: str | None, expected: str):
        self.path = str(path)
        self.field = field
        self.expected = expected
        where = f"{self.path}: {field}" if field else self.path
        super().__init__(f"{where}: {expected}")


class ConfigError(SnitkError):
    """A configuration value (gin binding, CLI flag, preset name) is unknown or has the wrong type."""


class CheckpointError(SnitkError):
    """A checkpoint is missing, incomplete or does not match the model it is loaded into."""
