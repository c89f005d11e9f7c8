"""Test-wide settings: 8 virtual CPU devices for the partitioning tests, quiet TensorFlow."""

import os
from pathlib import Path

os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=8")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("JAX_PLATFORMS", "cpu")

import pytest  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    return SHARED


def require_shared(sub: str) -> Path:
    """Return ../shared/<sub>, or skip the test saying the fixture folder is absent."""
    path = SHARED / sub
    if not path.exists():
        pytest.skip(f"{path} is not present (shared fixtures live beside the repository); skipping")
    return path
