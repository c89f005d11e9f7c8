"""The training data order: a function of (seed, position), cheap to restore at any step.

Global example stream: position ``p`` is example ``perm_e[p % N]`` of epoch ``e = p // N``, where
``perm_e`` is a permutation of the N examples seeded by (seed, e) — a fresh order every epoch.

Row streams: batch row ``r`` of ``B`` reads the global positions ``r, r + B, r + 2B, ...``; its
*cursor* counts the examples it has consumed. Each step every row takes the next example of its
stream (unpacked) or as many as fit (packed), so a row depends only on its own stream: a process
builds just the rows its devices hold, and the global batch is the same for any number of
processes. The data position saved with a checkpoint is the vector of row cursors, so resuming at
step S costs what starting at step 0 does.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from typing import Any, Mapping, Sequence

import numpy as np

from snitk.errors import CheckpointError, ConfigError

log = logging.getLogger(__name__)

POSITION_VERSION = 2
CACHED_EPOCHS = 16


class DataOrder:
    """Maps global stream positions to (epoch, example index); a seeded permutation per epoch."""

    def __init__(self, num_examples: int, seed: int, shuffle: bool = True):
        if num_examples <= 0:
            raise ConfigError("train.mixture_or_task_name: the selected task has no examples (expected at "
                              "least one; check its data dir, split and selection settings)")
        self.num_examples = int(num_examples)
        self.seed = int(seed)
        self.shuffle = bool(shuffle)
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()  # recently used epochs

    def permutation(self, epoch: int) -> np.ndarray:
        """The example order of ``epoch`` (identity when not shuffling)."""
        perm = self._cache.get(epoch)
        if perm is not None:
            self._cache.move_to_end(epoch)
            return perm
        if self.shuffle:
            rng = np.random.default_rng(np.random.SeedSequence([self.seed & 0xFFFFFFFF, epoch, 0x5D17]))
            perm = rng.permutation(self.num_examples).astype(np.int32)
        else:
            perm = np.arange(self.num_examples, dtype=np.int32)
        # Rows drift apart (each packs at its own pace), so a process reads a few epochs at once.
        if len(self._cache) >= CACHED_EPOCHS:
            self._cache.popitem(last=False)
        self._cache[epoch] = perm
        return perm

    def example_at(self, position: int) -> tuple[int, int]:
        """(epoch, example index) at a global stream position."""
        epoch, offset = divmod(int(position), self.num_examples)
        return epoch, int(self.permutation(epoch)[offset])


def stream_position(row: int, cursor: int, num_rows: int) -> int:
    """The global stream position of example ``cursor`` of row ``row``'s stream."""
    return int(cursor) * int(num_rows) + int(row)


def position_state(cursors: Sequence[int]) -> dict[str, Any]:
    """The JSON-able data position saved in a checkpoint's train_state."""
    return {"version": POSITION_VERSION, "row_cursors": [int(c) for c in cursors]}


def cursors_from_state(state: Any, num_rows: int, step: int, where: str = "train_state") -> list[int]:
    """Row cursors from a saved data position.

    An integer (checkpoints of the earlier replaying pipeline: steps consumed) maps to ``step``
    examples per row — exact for unpacked rows, an approximation of the old packed order.
    """
    if isinstance(state, Mapping):
        cursors = state.get("row_cursors")
        if state.get("version") != POSITION_VERSION or not isinstance(cursors, list):
            raise CheckpointError(f"{where}.data_position: expected version {POSITION_VERSION} with row_cursors, "
                                  f"got {dict(state)!r:.200}")
        if len(cursors) != num_rows:  # batch size changed: continue after as many examples as were consumed
            log.warning("%s.data_position has %d row cursors for a batch of %d rows: continuing at %d examples "
                        "per row", where, len(cursors), num_rows, sum(cursors) // num_rows)
            return [sum(int(c) for c in cursors) // num_rows] * num_rows
        return [int(c) for c in cursors]
    return [int(state if state is not None else step)] * num_rows
