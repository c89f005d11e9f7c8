"""Test-wide settings: 8 virtual CPU devices for the partitioning tests, quiet TensorFlow."""

import json
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


def t5x_fixture_examples(root: Path) -> list[dict]:
    """The rows of the t5x fixture's expected.jsonl (token ids, t5x log-likelihoods, decodes)."""
    return [json.loads(line) for line in (root / "expected.jsonl").read_text().splitlines() if line.strip()]


def t5x_fixture_batch(examples: list[dict], enc_len: int = 48, dec_len: int = 24) -> dict:
    """The teacher-forced batch t5x scored the fixture with: padded ids, targets shifted right after id 0."""
    import numpy as np

    n = len(examples)
    enc = np.zeros((n, enc_len), np.int32)
    tgt = np.zeros((n, dec_len), np.int32)
    for i, e in enumerate(examples):
        enc[i, : len(e["input_ids"])] = e["input_ids"]
        tgt[i, : len(e["target_ids"])] = e["target_ids"]
    dec = np.concatenate([np.zeros((n, 1), np.int32), tgt[:, :-1]], axis=1)
    return {"encoder_input_tokens": enc, "decoder_input_tokens": dec, "decoder_target_tokens": tgt,
            "decoder_loss_weights": (tgt > 0).astype(np.float32)}
