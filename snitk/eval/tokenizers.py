"""GPT-2 byte-level BPE token strings for the cross-lingual track of the official SNI metric.

The official script tokenises with HF's ``GPT2Tokenizer.tokenize`` and strips the leading "Ġ"
of every token. We reproduce that with tiktoken (fast, Rust) from GPT-2's merge ranks:
the text is pre-tokenised with GPT-2's own regular expression (the one HF uses), BPE-encoded, and
every token id is mapped back to its string in GPT-2's byte-to-unicode alphabet, so the token
strings are identical to HF's.

Merge ranks come from, in order: an explicit path (``--gpt2-bpe``), ``$SNITK_GPT2_BPE`` (tiktoken's
``.tiktoken`` format: base64 token bytes and rank per line), or the copy shipped with the package,
``snitk/assets/gpt2.tiktoken`` (GPT-2's 50,256 tokens and merge ranks, MIT licence beside it), whose SHA-256 is
checked at load. Nothing is downloaded.
"""

from __future__ import annotations

import functools
import hashlib
import os
from pathlib import Path

from snitk.errors import ConfigError
from snitk.paths import resolve

ENV_VAR = "SNITK_GPT2_BPE"
# GPT-2's ranks as published (r50k_base.tiktoken; also whisper/assets/gpt2.tiktoken), shipped with snitk.
SHIPPED_RANKS = Path(__file__).resolve().parents[1] / "assets" / "gpt2.tiktoken"
SHIPPED_RANKS_SHA256 = "306cd27f03c1a714eca7108e03d66b7dc042abe8c258b44c199a7ed9838dd930"
ENDOFTEXT = "<|endoftext|>"
ENDOFTEXT_ID = 50256
# GPT-2's pre-tokenisation pattern exactly as in its encoder.py (and HF's GPT2Tokenizer).
GPT2_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""


@functools.lru_cache(maxsize=1)
def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's reversible map from the 256 byte values to printable unicode characters."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(
        range(ord("®"), ord("ÿ") + 1)
    )
    mapping: dict[int, str] = {b: chr(b) for b in printable}
    extra = 0
    for b in range(256):
        if b not in mapping:
            mapping[b] = chr(256 + extra)
            extra += 1
    return mapping


def _read_ranks(path: Path, expected_sha256: str | None = None) -> dict[bytes, int]:
    """Merge ranks from a ``.tiktoken`` file; with `expected_sha256`, the file's bytes must hash to it."""
    from tiktoken.load import load_tiktoken_bpe

    if not path.is_file():
        raise ConfigError(
            f"{path}: GPT-2 BPE ranks file not found (expected a tiktoken .tiktoken file; set --gpt2-bpe or ${ENV_VAR})"
        )
    if expected_sha256 is not None:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if digest != expected_sha256:
            raise ConfigError(
                f"{path}: sha256 {digest} does not match the shipped GPT-2 ranks' {expected_sha256} "
                "(the file is damaged: reinstall snitk, or pass --gpt2-bpe PATH)"
            )
    try:
        return load_tiktoken_bpe(str(path))
    except Exception as exc:  # malformed file
        raise ConfigError(f"{path}: not a tiktoken .tiktoken ranks file ({exc})") from exc


def _load_ranks(spec: str | os.PathLike | None) -> dict[bytes, int]:
    """Ranks from `spec`, else ``$SNITK_GPT2_BPE``, else the shipped, checksum-verified asset."""
    path = spec or os.environ.get(ENV_VAR)
    if path:
        return _read_ranks(resolve(path))
    return _read_ranks(SHIPPED_RANKS, SHIPPED_RANKS_SHA256)


class GPT2Tokenizer:
    """``tokenize(text)`` -> GPT-2 token strings with leading "Ġ" stripped (the official xlingual tokens)."""

    def __init__(self, ranks_path: str | os.PathLike | None = None):
        import tiktoken

        ranks = _load_ranks(ranks_path)
        self._enc = tiktoken.Encoding(
            name="snitk_gpt2",
            pat_str=GPT2_PATTERN,
            mergeable_ranks=ranks,
            special_tokens={ENDOFTEXT: ENDOFTEXT_ID},
        )
        b2u = bytes_to_unicode()
        self._strings: dict[int, str] = {
            rank: "".join(b2u[b] for b in token) for token, rank in ranks.items()
        }
        self._strings[ENDOFTEXT_ID] = ENDOFTEXT

    def token_strings(self, text: str) -> list[str]:
        """HF ``GPT2Tokenizer.tokenize(text)``: byte-level BPE tokens in the byte-to-unicode alphabet."""
        if ENDOFTEXT in text:  # HF splits its special token out before BPE
            out: list[str] = []
            for i, piece in enumerate(text.split(ENDOFTEXT)):
                if i:
                    out.append(ENDOFTEXT)
                out += self.token_strings(piece)
            return out
        strings = self._strings
        return [strings[i] for i in self._enc.encode_ordinary(text)]

    def tokenize(self, text: str) -> list[str]:
        """Official xlingual tokens: every token's leading "Ġ" characters stripped (empty tokens kept)."""
        return [t.lstrip("Ġ") for t in self.token_strings(text)]


@functools.lru_cache(maxsize=4)
def _cached_tokenizer(ranks_path: str | None) -> GPT2Tokenizer:
    return GPT2Tokenizer(ranks_path)


def get_gpt2_tokenizer(ranks_path: str | os.PathLike | None = None) -> GPT2Tokenizer:
    """A cached tokenizer for `ranks_path` (None: ``$SNITK_GPT2_BPE``, else the shipped ranks)."""
    spec = ranks_path or os.environ.get(ENV_VAR) or None
    return _cached_tokenizer(str(spec) if spec else None)
