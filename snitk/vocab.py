"""SentencePiece vocabularies (T5 32k, mT5 250k, or a local model) with T5's extra ids.

Light on purpose: only `sentencepiece` is imported, so prompts, metrics and model code never pull
in TensorFlow. `to_seqio()` builds the equivalent `seqio.SentencePieceVocabulary` when seqio is
needed (task registration).
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import urllib.request
from pathlib import Path
from typing import IO, Iterable, Sequence

from snitk.atomic import atomic_open
from snitk.errors import ConfigError
from snitk.paths import is_url, resolve

PAD_ID = 0
EOS_ID = 1
UNK_ID = 2

# Public locations of the vocabularies the paper's models use (used only when online; a local path
# always works). T5 / T5-1.1 / LM-adapt: 32,000 pieces + 100 extra ids; mT5: 250,000 + 100.
T5_VOCAB_URL = "gs://t5-data/vocabs/cc_all.32000/sentencepiece.model"
MT5_VOCAB_URL = "gs://t5-data/vocabs/mc4.250000.100extra/sentencepiece.model"
DEMO_VOCAB = Path(__file__).parent / "assets" / "demo_spm.model"

_EXTRA_ID = re.compile(r"<extra_id_(\d+)>")


class Vocabulary:
    """A SentencePiece model plus `extra_ids` sentinel tokens appended after its pieces, as T5 does.

    `<extra_id_0>` is the last id (`vocab_size - 1`), `<extra_id_1>` the one before, and so on.
    """

    def __init__(self, path: str | os.PathLike, extra_ids: int = 100):
        import sentencepiece as spm

        self.path = str(path)
        if not Path(self.path).is_file():
            raise ConfigError(f"{self.path}: vocabulary file not found (expected a SentencePiece .model file)")
        try:
            self._sp = spm.SentencePieceProcessor(model_file=self.path)
        except (RuntimeError, OSError, ValueError) as exc:
            raise ConfigError(f"{self.path}: not a SentencePiece model ({str(exc).splitlines()[0][:200]})") from None
        self.extra_ids = int(extra_ids)
        self.base_size = self._sp.get_piece_size()
        if self._sp.pad_id() != PAD_ID or self._sp.eos_id() != EOS_ID:
            raise ConfigError(
                f"{self.path}: SentencePiece model must have pad_id={PAD_ID} and eos_id={EOS_ID} "
                f"(got pad_id={self._sp.pad_id()}, eos_id={self._sp.eos_id()})"
            )

    @property
    def vocab_size(self) -> int:
        """Pieces plus extra ids (the model's embedding may be padded beyond this, e.g. 32128)."""
        return self.base_size + self.extra_ids

    pad_id = PAD_ID
    eos_id = EOS_ID
    unk_id = UNK_ID

    def encode(self, text: str) -> list[int]:
        """Token ids of `text` without EOS; `<extra_id_N>` markers become their sentinel ids."""
        if self.extra_ids == 0 or "<extra_id_" not in text:
            return list(self._sp.encode(text))
        ids: list[int] = []
        pos = 0
        for match in _EXTRA_ID.finditer(text):
            n = int(match.group(1))
            if n >= self.extra_ids:
                continue
            ids += self._sp.encode(text[pos : match.start()])
            ids.append(self.vocab_size - 1 - n)
            pos = match.end()
        ids += self._sp.encode(text[pos:])
        return ids

    def encode_batch(self, texts: Iterable[str]) -> list[list[int]]:
        return [self.encode(t) for t in texts]

    def decode(self, ids: Sequence[int]) -> str:
        """Text of `ids`, cut at the first EOS; pad ids are dropped, extra ids become `<extra_id_N>`."""
        out: list[str] = []
        chunk: list[int] = []
        for i in ids:
            i = int(i)
            if i == EOS_ID:
                break
            if i == PAD_ID:
                continue
            if i >= self.base_size:
                if chunk:
                    out.append(self._sp.decode(chunk))
                    chunk = []
                n = self.vocab_size - 1 - i
                out.append(f"<extra_id_{n}>" if 0 <= n < self.extra_ids else "")
            else:
                chunk.append(i)
        if chunk:
            out.append(self._sp.decode(chunk))
        return "".join(out)

    def to_seqio(self):
        """The equivalent `seqio.SentencePieceVocabulary` (imports TensorFlow)."""
        import seqio

        return seqio.SentencePieceVocabulary(self.path, extra_ids=self.extra_ids)


EMBEDDING_PAD_TO = 128  # T5: 32,100 -> 32,128; mT5: 250,100 -> 250,112; snitk's vocab_from_task: 3,100 -> 3,200


def check_model_vocab(size: int, model_vocab_size: int, *, where: object = "model",
                      pad_to: int = EMBEDDING_PAD_TO) -> None:
    """ConfigError unless a model's embedding fits a vocabulary of `size` ids (pieces + extra ids).

    The one rule, everywhere a vocabulary meets a model: the embedding has exactly `size` rows, or
    `size` padded up to the next multiple of `pad_to` (128: the padding of T5's and mT5's released
    checkpoints and of snitk's `vocab_from_task` models). Anything else is the wrong vocabulary.
    """
    padded = -(-size // pad_to) * pad_to
    if model_vocab_size in (size, padded):
        return
    raise ConfigError(f"{where}: vocab_size={model_vocab_size} but the vocabulary has {size} ids (pieces + extra "
                      f"ids); expected {size}" + (f" or its padding to a multiple of {pad_to}, {padded}" if padded != size
                                                   else "") + ". Use the vocabulary the model was trained with")


def _open_url(spec: str) -> IO[bytes]:
    """A binary stream of `spec`: `http(s)://` through urllib, bucket URLs through the path layer."""
    if spec.startswith(("http://", "https://")):
        return urllib.request.urlopen(spec, timeout=60)
    return resolve(spec).open("rb")


def resolve_vocab_path(spec: str | os.PathLike, cache_dir: str | os.PathLike | None = None) -> Path:
    """A local path (made absolute); a URL (`gs://`, `http(s)://`, ...) is copied once into the local cache.

    SentencePiece reads local files only, so bucket vocabularies are cached under `$SNITK_CACHE/vocab`.
    """
    spec = os.fspath(spec)
    if not is_url(spec):
        return Path(resolve(spec))
    cache = Path(cache_dir or os.environ.get("SNITK_CACHE", Path.home() / ".cache" / "snitk")) / "vocab"
    target = cache / re.sub(r"[^A-Za-z0-9._-]+", "_", spec)
    if not target.exists():
        cache.mkdir(parents=True, exist_ok=True)
        try:
            with _open_url(spec) as src, atomic_open(target, "wb") as f:
                shutil.copyfileobj(src, f)
        except OSError as exc:
            raise ConfigError(f"{spec}: could not read the vocabulary ({exc}); pass a local path instead") from exc
    return target


@functools.lru_cache(maxsize=8)
def get_vocabulary(spec: str | os.PathLike | None = None, extra_ids: int = 100) -> Vocabulary:
    """The vocabulary at `spec` (path or URL); default `$SNITK_VOCAB`, else the bundled demo vocabulary."""
    spec = spec or os.environ.get("SNITK_VOCAB") or DEMO_VOCAB
    return Vocabulary(resolve_vocab_path(spec), extra_ids=extra_ids)
