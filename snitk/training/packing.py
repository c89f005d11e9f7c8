"""One batch row from tokenised examples, in the feature layout of seqio's ``EncDecFeatureConverter``.

A row holds one example (unpacked) or as many consecutive examples of its stream as fit (packed,
greedy: the first example that does not fit in either feature ends the row and starts the next
one). Features: ``encoder_input_tokens``, ``decoder_target_tokens``, ``decoder_input_tokens``
(targets shifted right, within each segment when packed, 0 first), ``decoder_loss_weights`` (1 on target
tokens) and, packed, ``encoder_segment_ids`` / ``decoder_segment_ids`` (1, 2, ... per example) and
``encoder_positions`` / ``decoder_positions`` (0, 1, ... within each example). All int32.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

Example = Mapping[str, np.ndarray]  # {"inputs": ids, "targets": ids}: trimmed, EOS appended

PACKED_KEYS = ("encoder_input_tokens", "encoder_segment_ids", "encoder_positions", "decoder_target_tokens",
               "decoder_input_tokens", "decoder_segment_ids", "decoder_positions", "decoder_loss_weights")
UNPACKED_KEYS = ("encoder_input_tokens", "decoder_target_tokens", "decoder_input_tokens", "decoder_loss_weights")


def batch_shapes(lengths: Mapping[str, int], batch_size: int, pack: bool) -> dict[str, tuple[int, int]]:
    """The global shape of every feature of a batch (all int32), as ``build_row`` and ``stack_rows`` make it."""
    li, lt = int(lengths["inputs"]), int(lengths["targets"])
    keys = PACKED_KEYS if pack else UNPACKED_KEYS
    return {k: (int(batch_size), li if k.startswith("encoder") else lt) for k in keys}


def trim_and_append_eos(ids: Sequence[int], length: int, eos_id: int = 1) -> np.ndarray:
    """``ids[:length - 1] + [EOS]`` as int32 (seqio's ``append_eos_after_trim``)."""
    out = np.empty(min(len(ids), length - 1) + 1, np.int32)
    out[:-1] = np.asarray(ids[: length - 1], np.int32)
    out[-1] = eos_id
    return out


def fits(used: Mapping[str, int], example: Example, lengths: Mapping[str, int]) -> bool:
    """Whether ``example`` fits in a row that already holds ``used`` tokens per feature."""
    return all(used[k] + len(example[k]) <= lengths[k] for k in ("inputs", "targets"))


def build_row(examples: Sequence[Example], lengths: Mapping[str, int], pack: bool) -> dict[str, np.ndarray]:
    """The features of one row holding ``examples`` (exactly one when ``pack`` is False)."""
    if not pack and len(examples) != 1:
        raise ValueError(f"an unpacked row holds one example, got {len(examples)}")
    li, lt = int(lengths["inputs"]), int(lengths["targets"])
    row = {k: np.zeros(li if k.startswith("encoder") else lt, np.int32) for k in PACKED_KEYS}
    ei = ti = 0
    for seg, ex in enumerate(examples, start=1):
        x, y = np.asarray(ex["inputs"])[:li - ei], np.asarray(ex["targets"])[:lt - ti]
        row["encoder_input_tokens"][ei:ei + len(x)] = x
        row["encoder_segment_ids"][ei:ei + len(x)] = seg
        row["encoder_positions"][ei:ei + len(x)] = np.arange(len(x))
        row["decoder_target_tokens"][ti:ti + len(y)] = y
        row["decoder_input_tokens"][ti + 1:ti + len(y)] = y[:-1]
        row["decoder_segment_ids"][ti:ti + len(y)] = seg
        row["decoder_positions"][ti:ti + len(y)] = np.arange(len(y))
        row["decoder_loss_weights"][ti:ti + len(y)] = 1
        ei, ti = ei + len(x), ti + len(y)
    if not pack:  # without segment ids the shift runs over the padding too (the EOS moves one step right)
        row["decoder_input_tokens"][1:] = row["decoder_target_tokens"][:-1]
        return {k: row[k] for k in UNPACKED_KEYS}
    return row


def stack_rows(rows: Sequence[Mapping[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """A batch (rows, length) per feature."""
    return {k: np.stack([r[k] for r in rows]) for k in rows[0]}
