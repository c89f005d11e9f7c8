"""The vocabulary a model was trained with: its identity, and its agreement with the model's embedding.

A vocabulary is never guessed for a paper-scale model. Three rules:

- `snitk.vocab.check_model_vocab`: the model's embedding size equals the vocabulary's size (pieces +
  extra ids) or that size padded to a multiple of 128 (T5 32,100 -> 32,128; mT5 250,100 -> 250,112; the
  demo 3,100 -> 3,200). Anything else is an error.
- `identity`: ``{"path", "size", "sha256"}`` (sha256 of the SentencePiece model file), stored with
  every checkpoint (training checkpoints: in ``train_state``; converted ones: the ``vocabulary`` item).
- `check_same`: a different vocabulary than the stored one is refused unless explicitly allowed.

The public vocabularies' sizes are known without reading them (`KNOWN_SIZES`), so a dry run of a
paper config checks them offline.
"""

from __future__ import annotations

import hashlib
import os
from typing import Any

from snitk.errors import ConfigError
from snitk.vocab import DEMO_VOCAB, MT5_VOCAB_URL, T5_VOCAB_URL, resolve_vocab_path

# (SentencePiece pieces, extra ids to add) of the public vocabularies. T5's model holds 32,000 pieces and
# T5 appends 100 sentinels; the mT5 model already holds its 100 sentinels among 250,100 pieces (extra_ids=0).
KNOWN_SIZES: dict[str, tuple[int, int]] = {T5_VOCAB_URL: (32_000, 100), MT5_VOCAB_URL: (250_100, 0)}


def vocab_size(spec: str | os.PathLike, extra_ids: int) -> int:
    """Pieces + extra ids of the vocabulary at `spec` (public ones from `KNOWN_SIZES`, without reading)."""
    spec = str(spec)
    if spec in KNOWN_SIZES:
        pieces, _ = KNOWN_SIZES[spec]
        return pieces + int(extra_ids)
    from snitk.vocab import get_vocabulary

    return get_vocabulary(spec, extra_ids).vocab_size


def sha256_file(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def identity(spec: str | os.PathLike, extra_ids: int = 100) -> dict[str, Any]:
    """``{"path", "extra_ids", "size", "sha256"}`` of a vocabulary (reads the model file; URLs are fetched once)."""
    spec = str(spec)
    local = resolve_vocab_path(spec)
    if not local.is_file():
        raise ConfigError(f"{spec}: vocabulary file not found (expected a SentencePiece .model file)")
    from snitk.vocab import get_vocabulary

    return {"path": spec if "://" in spec else str(local.absolute()), "extra_ids": int(extra_ids),
            "size": get_vocabulary(str(local), extra_ids).vocab_size, "sha256": sha256_file(local)}


def check_same(stored: dict[str, Any] | None, current: dict[str, Any], *, allow: bool, where: str) -> None:
    """ConfigError when `current` differs (sha256 or size) from the vocabulary stored with a checkpoint."""
    if not stored:
        return
    if stored.get("sha256") == current.get("sha256") and stored.get("size") == current.get("size"):
        return
    msg = (f"{where}: the checkpoint was trained with the vocabulary {stored.get('path')} (size {stored.get('size')}, "
           f"sha256 {str(stored.get('sha256'))[:12]}...) but {current.get('path')} (size {current.get('size')}, "
           f"sha256 {str(current.get('sha256'))[:12]}...) was given")
    if not allow:
        raise ConfigError(msg + "; omit --vocab to use the stored one, or pass --allow-vocab-mismatch")
    import logging

    logging.getLogger(__name__).warning("%s (allowed by --allow-vocab-mismatch)", msg)


def _is_bundled(stored: dict[str, Any]) -> bool:
    """True when a stored identity names snitk's bundled demo vocabulary (same file name and sha256)."""
    return (os.path.basename(str(stored.get("path", ""))) == DEMO_VOCAB.name and DEMO_VOCAB.is_file()
            and stored.get("sha256") == sha256_file(DEMO_VOCAB))


def checkpoint_vocabulary(checkpoint: str | os.PathLike, given: str | os.PathLike | None, *,
                          allow_mismatch: bool = False, default_extra_ids: int = 100) -> Any:
    """The `snitk.vocab.Vocabulary` to decode a checkpoint with: the one stored with it by default;
    `given` only when it is the same file (sha256), unless `allow_mismatch`. Checkpoints without a stored
    identity (older ones) use `given`, else $SNITK_VOCAB / the demo vocabulary."""
    import logging

    from snitk.models.checkpoint import load_vocab_identity
    from snitk.vocab import get_vocabulary

    from snitk.errors import CheckpointError

    try:
        stored = load_vocab_identity(checkpoint)
    except CheckpointError:  # not a snitk checkpoint (e.g. a T5X one): nothing stored
        stored = None
    if stored is None:
        if given is None:
            logging.getLogger(__name__).warning("%s stores no vocabulary identity; using $SNITK_VOCAB or the demo "
                                                "vocabulary (pass --vocab)", checkpoint)
        return get_vocabulary(given, default_extra_ids)
    extra_ids = int(stored.get("extra_ids", default_extra_ids))
    spec = str(given) if given is not None else str(stored["path"])
    if given is None and "://" not in spec and not os.path.isfile(spec) and _is_bundled(stored):
        spec = str(DEMO_VOCAB)  # the bundled vocabulary of another checkout or install: same file by sha256
    if given is None and "://" not in spec and not os.path.isfile(spec):
        raise ConfigError(f"{checkpoint}: the stored vocabulary {spec} is not on this machine; pass --vocab with a "
                          "copy of it (its sha256 is checked)")
    check_same(stored, identity(spec, extra_ids), allow=allow_mismatch, where=str(checkpoint))
    return get_vocabulary(spec, extra_ids)
