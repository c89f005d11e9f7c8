"""The shipped GPT-2 BPE ranks: checksum verified at load, tokens equal tiktoken's gpt2 encoding, offline."""

from __future__ import annotations

import hashlib
import shutil

import pytest

from snitk.errors import ConfigError
from snitk.eval import tokenizers as T

TEXTS = [
    "Hello world!  It's 2024, isn't it?\n\nYes.",
    "Привет, как дела? Всё хорошо.",
    "日本語のテキストです。中文文本，还有标点。",
    "  leading spaces and trailing   ",
    "emoji 😀👍 mixed العربية हिन्दी ไทย 한국어",
    "tab\tsep\r\nline 3.14159 don't we'll I'M",
    "Ελληνικά, Türkçe ğüşıöç, Español ñ ¿qué?",
]


@pytest.fixture(scope="module")
def tiktoken_gpt2(tmp_path_factory):
    """tiktoken's own registry encoding for GPT-2's ranks (r50k_base: tiktoken's `gpt2` ranks, pattern and
    special token), loaded offline: its cache is seeded with the shipped file and tiktoken checks the hash."""
    import tiktoken
    import tiktoken.load
    import tiktoken_ext.openai_public as public

    cache = tmp_path_factory.mktemp("tiktoken_cache")
    url = "https://openaipublic.blob.core.windows.net/encodings/r50k_base.tiktoken"
    shutil.copy(T.SHIPPED_RANKS, cache / hashlib.sha1(url.encode()).hexdigest())
    mp = pytest.MonkeyPatch()
    mp.setenv("TIKTOKEN_CACHE_DIR", str(cache))
    mp.setattr(tiktoken.load, "read_file", lambda blobpath: pytest.fail(f"tried to download {blobpath}"))
    try:
        spec = public.r50k_base()
    finally:
        mp.undo()
    return tiktoken.Encoding(**{**spec, "name": "gpt2"})


def test_default_is_the_shipped_checksummed_file(monkeypatch):
    monkeypatch.delenv(T.ENV_VAR, raising=False)
    assert hashlib.sha256(T.SHIPPED_RANKS.read_bytes()).hexdigest() == T.SHIPPED_RANKS_SHA256
    assert T.SHIPPED_RANKS.with_name("gpt2.LICENSE").read_text().startswith("MIT License")
    tok = T.GPT2Tokenizer()
    assert len(tok._strings) == 50257
    assert tok.token_strings("Hello world") == ["Hello", "Ġworld"]  # GPT-2 ids 15496, 995


def test_tokens_equal_tiktoken_gpt2_on_multilingual_text(tiktoken_gpt2, monkeypatch):
    monkeypatch.delenv(T.ENV_VAR, raising=False)
    ours = T.GPT2Tokenizer()
    b2u = T.bytes_to_unicode()
    for text in TEXTS:
        ids = tiktoken_gpt2.encode_ordinary(text)
        expected = ["".join(b2u[b] for b in tiktoken_gpt2.decode_single_token_bytes(i)) for i in ids]
        assert ours._enc.encode_ordinary(text) == ids, text
        assert ours.token_strings(text) == expected, text
        assert ours.tokenize(text) == [t.lstrip("Ġ") for t in expected], text


def test_damaged_shipped_file_is_a_clear_error(tmp_path, monkeypatch):
    damaged = tmp_path / "gpt2.tiktoken"
    data = bytearray(T.SHIPPED_RANKS.read_bytes())
    data[:4] = b"IR=="
    damaged.write_bytes(bytes(data))
    monkeypatch.delenv(T.ENV_VAR, raising=False)
    monkeypatch.setattr(T, "SHIPPED_RANKS", damaged)
    with pytest.raises(ConfigError, match=rf"{damaged}: sha256 .* does not match .*{T.SHIPPED_RANKS_SHA256}"):
        T.GPT2Tokenizer()


def test_env_and_flag_override_the_shipped_file(tmp_path, monkeypatch):
    """A two-byte vocabulary: its tokens differ from GPT-2's, proving the override is the file used."""
    import base64

    lines = [f"{base64.b64encode(bytes([b])).decode()} {b}" for b in range(256)]
    lines.append(f"{base64.b64encode(b'ab').decode()} 256")
    tiny = tmp_path / "tiny.tiktoken"
    tiny.write_text("\n".join(lines) + "\n")
    monkeypatch.setenv(T.ENV_VAR, str(tiny))
    assert T.GPT2Tokenizer().token_strings("abc") == ["ab", "c"]
    monkeypatch.delenv(T.ENV_VAR)
    assert T.GPT2Tokenizer(tiny).token_strings("abc") == ["ab", "c"]
    assert T.GPT2Tokenizer().token_strings("abc") == ["abc"]
    with pytest.raises(ConfigError, match="nope.tiktoken: GPT-2 BPE ranks file not found"):
        T.GPT2Tokenizer(tmp_path / "nope.tiktoken")
