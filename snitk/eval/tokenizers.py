"""GPT-2 byte-level BPE token strings for the cross-lingual track of the official SNI metric.

The official script tokenises with HF's ``GPT2Tokenizer.tokenize`` and strips the leading "Ġ"
of every token. We reproduce that with tiktoken (fast, Rust) from GPT-2's merge ranks:
the text is pre-tokenised with GPT-2's own regular expression (the one HF uses), BPE-encoded, and
every token id is mapped back to its string in GPT-2's byte-to-unicode alphabet, so the token
strings are identical to HF's.

Merge ranks come from, in order: an explicit path, ``$SNITK_GPT2_BPE`` (tiktoken's ``.tiktoken``
format: base64 token bytes and rank per line), or — online — tiktoken's public ``gpt2`` encoding
(cached by tiktoken under ``$TIKTOKEN_CACHE_DIR``).
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

from snitk.errors import ConfigError

ENV_VAR = "SNITK_GPT2_BPE"
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


def _load_ranks(spec: str | os.PathLike | None) -> dict[bytes, int]:
    import tiktoken
    from tiktoken.load import load_tiktoken_bpe

    path = spec or os.environ.get(ENV_VAR)
    if path:
        if not Path(path).is_file():
            raise ConfigError(
                f"{path}: GPT-2 BPE ranks file not found (expected a tiktoken .tiktoken file; set --gpt2-bpe or ${ENV_VAR})"
            )
        try:
            return load_tiktoken_bpe(str(path))
        except Exception as exc:  # malformed file
            raise ConfigError(f"{path}: not a tiktoken .tiktoken ranks file ({exc})") from exc
    try:
        return dict(tiktoken.get_encoding("gpt2")._mergeable_ranks)
    except Exception as exc:
        raise ConfigError(
            "the cross-lingual metric needs GPT-2's BPE merge ranks: pass --gpt2-bpe PATH or set "
            f"${ENV_VAR} to a gpt2.tiktoken file (offline), or allow tiktoken to download its public "
            f"'gpt2' encoding (failed: {exc})"
        ) from exc


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
    """A cached tokenizer for `ranks_path` (None: ``$SNITK_GPT2_BPE`` or tiktoken's public gpt2)."""
    spec = ranks_path or os.environ.get(ENV_VAR) or None
    return _cached_tokenizer(str(spec) if spec else None)
