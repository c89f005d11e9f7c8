"""Is a checkpoint complete and readable? One answer, used by training, eval, info, convert and INIT_CHECKPOINT.

``problem(dir, items)`` checks the files orbax needs (``_CHECKPOINT_METADATA``, each item's metadata,
the OCDBT manifest and data folder) without reading tensors; ``reading(dir, item)`` turns any failure
while orbax/tensorstore read an item into one ``CheckpointError`` naming the checkpoint step and item
(and silences tensorstore's "Event loop is closed" noise that follows a failed read).
"""

from __future__ import annotations

import asyncio
import os
import contextlib
import json
import re
from typing import Iterator, Sequence

from etils import epath

from snitk.errors import CheckpointError
from snitk.paths import resolve

ARRAY_ITEMS = ("params", "opt_state")
JSON_ITEMS = ("model_config", "train_state")
MODEL_ITEMS = ("params", "model_config")
TRAIN_ITEMS = ("params", "model_config", "opt_state", "train_state")
_STEP_RE = re.compile(r"^checkpoint_(\d+)$")


def describe(ckpt: str | os.PathLike) -> str:
    """'checkpoint step N (PATH)' for checkpoint_<N> folders, else the path."""
    ckpt = resolve(ckpt)
    m = _STEP_RE.match(ckpt.name)
    return f"checkpoint step {m.group(1)} ({ckpt})" if m else f"checkpoint {ckpt}"


def _json_file_problem(path: epath.Path) -> str | None:
    if not path.is_file():
        return f"{path.relative_to(path.parents[1])} is missing"
    try:
        json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        return f"{path.relative_to(path.parents[1])} is unreadable ({type(e).__name__})"
    return None


def problem(ckpt: str | os.PathLike, items: Sequence[str] = MODEL_ITEMS) -> str | None:
    """What is missing or unreadable in checkpoint folder `ckpt` for `items`; None when complete."""
    ckpt = resolve(ckpt)
    if not ckpt.is_dir():
        return "no such checkpoint folder"
    if ".orbax-checkpoint-tmp" in ckpt.name:
        return "an unfinished save (orbax temporary folder)"
    if not (ckpt / "_CHECKPOINT_METADATA").is_file():
        return "_CHECKPOINT_METADATA is missing (the save did not finish)"
    import orbax.checkpoint as ocp

    if not ocp.path.step.is_path_finalized(ckpt):  # on buckets: orbax writes commit_success.txt last
        return "the save did not finish (orbax's commit marker is missing)"
    try:  # every item the save declared must be there too
        declared = json.loads((ckpt / "_CHECKPOINT_METADATA").read_text(encoding="utf-8")).get("item_handlers") or {}
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, AttributeError):
        return "_CHECKPOINT_METADATA is unreadable"
    for item in dict.fromkeys([*items, *(declared if isinstance(declared, dict) else ())]):
        folder = ckpt / item
        if not folder.is_dir():
            return f"item {item}/ is missing"
        if item in JSON_ITEMS:
            bad = _json_file_problem(folder / "metadata")
        else:
            bad = _json_file_problem(folder / "_METADATA")
            if bad is None:
                meta = json.loads((folder / "_METADATA").read_text(encoding="utf-8"))
                if meta.get("use_ocdbt", True):
                    if not (folder / "manifest.ocdbt").is_file():
                        bad = f"{item}/manifest.ocdbt is missing"
                    elif not any(f.is_file() and f.stat().length for f in (folder / "d").glob("*")):
                        bad = f"{item}/d/ holds no data files"
        if bad:
            return bad
    return None


def verify(ckpt: str | os.PathLike, items: Sequence[str] = MODEL_ITEMS, flag: str | None = None) -> epath.Path:
    """`ckpt` when complete for `items`, else one CheckpointError naming the step and what is wrong."""
    bad = problem(ckpt, items)
    if bad:
        where = f"{flag}: " if flag else ""
        raise CheckpointError(f"{where}{describe(ckpt)}: {bad}")
    return resolve(ckpt)


def step_dirs(model_dir: str | os.PathLike) -> list[tuple[int, epath.Path]]:
    """(step, folder) of every checkpoint_<N> folder of a MODEL_DIR, newest first."""
    model_dir = resolve(model_dir)
    if not model_dir.is_dir():
        return []
    found = [(int(m.group(1)), c) for c in model_dir.iterdir() if (m := _STEP_RE.match(c.name)) and c.is_dir()]
    return sorted(found, reverse=True)


def complete_steps(model_dir: str | os.PathLike, items: Sequence[str] = MODEL_ITEMS) -> tuple[list[int], dict[int, str]]:
    """(complete steps newest first, {step: what is wrong} for incomplete ones) of a MODEL_DIR."""
    good, skipped = [], {}
    for step, folder in step_dirs(model_dir):
        bad = problem(folder, items)
        if bad:
            skipped[step] = f"{describe(folder)}: {bad}"
        else:
            good.append(step)
    return good, skipped


@contextlib.contextmanager
def _closed_loop_tolerant() -> Iterator[None]:
    """While orbax reads: tensorstore callbacks that arrive after a failed read closed orbax's event loop
    are dropped instead of printing one 'Event loop is closed' traceback each (kept after a failure)."""
    base = asyncio.BaseEventLoop
    original = base.call_soon_threadsafe

    def call_soon_threadsafe(self, *args, **kwargs):
        if self.is_closed():
            return None
        return original(self, *args, **kwargs)

    base.call_soon_threadsafe = call_soon_threadsafe  # type: ignore[method-assign]
    failed = False
    try:
        yield
    except BaseException:
        failed = True
        raise
    finally:
        if not failed:
            base.call_soon_threadsafe = original  # type: ignore[method-assign]


@contextlib.contextmanager
def reading(ckpt: str | os.PathLike, item: str) -> Iterator[None]:
    """Turn any failure while reading `item` of `ckpt` into one CheckpointError naming step and item."""
    try:
        with _closed_loop_tolerant():
            yield
    except CheckpointError:
        raise
    except Exception as e:  # noqa: BLE001 - orbax and tensorstore raise many types
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise CheckpointError(f"{describe(ckpt)}: {item}/ is damaged or unreadable ({first[:300]})") from None
