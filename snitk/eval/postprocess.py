"""Predictions post-processed as the Tk-Instruct evaluation does (``src/run_s2s.py``).

The reference decodes generated ids with ``tokenizer.batch_decode(preds, skip_special_tokens=True,
clean_up_tokenization_spaces=True)`` and then ``.strip()``s every prediction; its generation limit is
Hugging Face's ``max_length=128``, which for an encoder-decoder counts the decoder start token, so at most
127 tokens are generated (EOS included). This module reproduces those three rules:

- `hf_decode`: ids up to the first EOS, without pad, unk and sentinel (``<extra_id_N>``) ids -- the special
  tokens of T5's tokenizer -- decoded by the SentencePiece model;
- `clean_up_tokenization`: the tokenizer's clean-up of spaces before punctuation and English contractions;
- `generated_tokens`: the number of decoding steps that ``max_length`` allows.

A stray leading space is not harmless: the cross-lingual metric tokenises with GPT-2's byte-level BPE,
where " word" and "word" are different tokens.
"""

from __future__ import annotations

from typing import Any, Sequence

PAD_ID, EOS_ID, UNK_ID = 0, 1, 2

# (before, after) pairs of the clean-up that Hugging Face tokenizers apply with clean_up_tokenization_spaces.
_CLEAN_UP = ((" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"), (" n't", "n't"), (" 'm", "'m"),
             (" 's", "'s"), (" 've", "'ve"), (" 're", "'re"))


def clean_up_tokenization(text: str) -> str:
    """Remove the spaces a tokenizer leaves before punctuation and contractions (" ." -> ".", " n't" -> "n't")."""
    for before, after in _CLEAN_UP:
        text = text.replace(before, after)
    return text


def generated_tokens(max_length: int) -> int:
    """Decoding steps under HF's ``max_length`` for an encoder-decoder (the start token counts): max_length - 1."""
    if max_length < 2:
        raise ValueError(f"max_length={max_length}: expected >= 2 (the decoder start token counts)")
    return max_length - 1


def hf_decode(vocab: Any, ids: Sequence[int]) -> str:
    """`ids` decoded as ``batch_decode(skip_special_tokens=True, clean_up_tokenization_spaces=True)`` then
    ``.strip()``: cut at EOS, pad / unk / sentinel ids dropped."""
    base = int(getattr(vocab, "base_size", 1 << 62))
    kept: list[int] = []
    for i in ids:
        i = int(i)
        if i == EOS_ID:
            break
        if i in (PAD_ID, UNK_ID) or i >= base:
            continue
        kept.append(i)
    return clean_up_tokenization(vocab.decode(kept)).strip()
