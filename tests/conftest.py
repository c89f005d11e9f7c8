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


@pytest.fixture(autouse=True)
def _fresh_gin_config():
    """Gin bindings are process-global: a test that parses a config (e.g. a paper config binding the T5
    vocabulary) must not leak it into the next test run by the same worker."""
    yield
    import sys

    gin = sys.modules.get("gin")
    if gin is not None:
        gin.clear_config()


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


# ------------------------------------------------------------------------------------ GCS emulator
GCS_BUCKET = "snitk-test"  # bucket names need 3+ characters


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def gcs_emulator_env(endpoint: str) -> dict[str, str]:
    """The client libraries' own test settings that point them at a local GCS API (see README)."""
    return {
        "STORAGE_EMULATOR_HOST": endpoint,  # google-cloud-storage, gcsfs (snitk.paths, orbax metadata)
        "TENSORSTORE_GCS_HTTP_URL": endpoint,  # tensorstore (orbax array data)
        "GOOGLE_AUTH_TOKEN_FOR_TESTING": "emulator",  # tensorstore: no credential lookup
        "GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT": "false",  # gcsfs: no bucket-type probe of the real control API
    }  # EPATH_USE_TF=false comes from snitk.paths itself (tf.io.gfile could not reach an emulator)


@pytest.fixture(scope="session")
def gcs_emulator():
    """A real GCS JSON API on 127.0.0.1 (gcp-storage-emulator, in memory; see tests/gcs_emulator.py) with
    bucket `snitk-test`.

    Yields the settings dict; they are also exported to this process (and so to subprocesses) while it runs.
    """
    import subprocess
    import sys
    import tempfile
    import time
    import urllib.request

    import importlib.util

    if importlib.util.find_spec("gcp_storage_emulator") is None:
        pytest.skip("gcp-storage-emulator is not installed (pip install -e '.[test]')")
    port = _free_port()
    endpoint = f"http://127.0.0.1:{port}"
    errors = tempfile.TemporaryFile()
    proc = subprocess.Popen([sys.executable, str(Path(__file__).with_name("gcs_emulator.py")), "start", "--host", "127.0.0.1", "--port", str(port), "--in-memory", "--quiet",
                             "--default-bucket", GCS_BUCKET], stdout=subprocess.DEVNULL, stderr=errors)
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(f"{endpoint}/storage/v1/b/{GCS_BUCKET}", timeout=1).close()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                errors.seek(0)
                pytest.fail(f"gcp-storage-emulator did not start: {errors.read().decode()[-2000:]}")
            time.sleep(0.1)
    env = gcs_emulator_env(endpoint)
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield env
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        errors.close()


@pytest.fixture()
def gcs_dir(gcs_emulator, request) -> str:
    """A fresh `gs://snitk-test/<test>-<random>` prefix on the emulator."""
    import uuid

    return f"gs://{GCS_BUCKET}/{request.node.name.replace('[', '-').rstrip(']')}-{uuid.uuid4().hex[:8]}"
