"""snitk checkpoint -> Hugging Face T5 / mT5 folder, one tensor at a time.

Each parameter is read from the checkpoint's tensorstore, transposed (HF ``nn.Linear`` weights are
``[out, in]``, t5x kernels ``[in, out]``) and appended to a hand-written safetensors file (shards of at
most ``max_shard_bytes``). The folder is written beside the destination and renamed when complete.
"""

from __future__ import annotations

import json
import shutil
import struct
import tempfile
from pathlib import Path
from typing import Any, Callable

import ml_dtypes
import numpy as np
from tqdm import tqdm

from snitk.atomic import atomic_open, current_umask, write_json
from snitk.errors import CheckpointError
from snitk.models import checkpoint as ck
from snitk.models.convert.hf import _ST_NAMES, config_to_hf, name_mapping
from snitk.paths import resolve


def write_safetensors(path: Path, tensors: list[tuple[str, tuple[int, ...], np.dtype, Callable[[], np.ndarray]]],
                       progress: Any = None) -> None:
    header: dict[str, Any] = {"__metadata__": {"format": "pt"}}
    offset = 0
    for name, shape, dtype, _ in tensors:
        nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        header[name] = {"dtype": _ST_NAMES[dtype], "shape": list(shape), "data_offsets": [offset, offset + nbytes]}
        offset += nbytes
    blob = json.dumps(header, separators=(",", ":")).encode()
    blob += b" " * (-len(blob) % 8)
    with atomic_open(path, "wb") as f:
        f.write(struct.pack("<Q", len(blob)))
        f.write(blob)
        for name, shape, dtype, load in tensors:
            arr = np.ascontiguousarray(load())
            if arr.shape != tuple(shape) or arr.dtype != dtype:
                raise CheckpointError(f"{path}: {name} came out {arr.shape} {arr.dtype}, expected {shape} {dtype}")
            f.write(arr.astype(dtype.newbyteorder("<"), copy=False).tobytes())
            del arr
            if progress is not None:
                progress.update(1)


def export_hf(src: str | Path, dst: str | Path, *, dtype: str | None = None,
              max_shard_bytes: int = 4 << 30, vocab: str | Path | None = None, extra_ids: int = 100,
              overwrite: bool = False) -> Path:
    """Write ``dst/config.json`` + safetensors (sharded above ``max_shard_bytes``) that transformers loads.

    With ``vocab`` (a SentencePiece model) the folder also gets ``spiece.model`` and a
    ``tokenizer_config.json`` for ``T5Tokenizer`` with ``extra_ids`` sentinel tokens (T5's convention).
    The export is written to a temporary folder beside ``dst`` and renamed when complete; an existing,
    non-empty ``dst`` is replaced only with ``overwrite``.
    """
    final = Path(resolve(dst))
    if final.exists() and (not final.is_dir() or any(final.iterdir())) and not overwrite:
        raise CheckpointError(f"{final}: already exists (pass --overwrite to replace it)")
    ckpt = ck.resolve_checkpoint(src)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.export-", dir=final.parent))
    tmp.chmod(0o777 & ~current_umask())
    try:
        _export_hf(ckpt, tmp, dtype=dtype, max_shard_bytes=max_shard_bytes, vocab=vocab, extra_ids=extra_ids)
        old = final.with_name(f".{final.name}.old-{tmp.name}")
        if final.exists():
            final.rename(old)
        tmp.rename(final)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final


def _export_hf(ckpt: Path, dst: Path, *, dtype: str | None, max_shard_bytes: int, vocab: str | Path | None,
               extra_ids: int) -> Path:
    config = ck.load_config(ckpt)
    stored = set(ck.param_names(ckpt))
    out_dtype = None if dtype is None else np.dtype(ml_dtypes.bfloat16 if dtype == "bfloat16" else dtype)
    entries: list[tuple[str, tuple[int, ...], np.dtype, Callable[[], np.ndarray]]] = []
    handles: dict[str, Any] = {}

    def handle(name: str) -> Any:
        if name not in handles:
            if name not in stored:
                raise CheckpointError(f"{ckpt}: parameter {name!r} missing for this model config")
            handles[name] = ck.open_param(ckpt, name)
        return handles[name]

    for m in name_mapping(config):
        h = handle(m.name)
        shape = tuple(h.shape)
        dt = out_dtype or np.dtype(h.dtype.numpy_dtype)
        for i, hf_name in enumerate(m.hf):
            scanned = m.name.split("/")[1] == "layers"
            one = shape[1:] if scanned else shape
            hf_shape = tuple(reversed(one)) if m.transpose else one

            def load(h=h, i=i, scanned=scanned, transpose=m.transpose, dt=dt) -> np.ndarray:
                arr = np.asarray(h[i].read().result() if scanned else h.read().result())
                return np.ascontiguousarray((arr.T if transpose else arr).astype(dt, copy=False))

            entries.append((hf_name, hf_shape, dt, load))
    # an untied head is written as its own lm_head.weight with tie_word_embeddings=false (transformers 4 and 5
    # then keep it untied; transformers 5 re-ties only when the two tensors are equal, which is then harmless)
    hf_config = config_to_hf(config, torch_dtype=str(entries[0][2]))
    # shard
    shards: list[list] = [[]]
    size = 0
    for e in entries:
        nbytes = int(np.prod(e[1], dtype=np.int64)) * e[2].itemsize
        if shards[-1] and size + nbytes > max_shard_bytes:
            shards.append([])
            size = 0
        shards[-1].append(e)
        size += nbytes
    progress = tqdm(total=len(entries), desc="export hf", unit="tensor", disable=len(entries) < 200)
    if len(shards) == 1:
        write_safetensors(dst / "model.safetensors", shards[0], progress)
    else:
        weight_map = {}
        total = 0
        for k, shard in enumerate(shards):
            fname = f"model-{k + 1:05d}-of-{len(shards):05d}.safetensors"
            write_safetensors(dst / fname, shard, progress)
            for name, shape, dt_, _ in shard:
                weight_map[name] = fname
                total += int(np.prod(shape, dtype=np.int64)) * dt_.itemsize
        write_json(dst / "model.safetensors.index.json", {"metadata": {"total_size": total}, "weight_map": weight_map})
    progress.close()
    write_json(dst / "config.json", hf_config)
    if vocab is not None:
        vocab = Path(vocab)
        if not vocab.is_file():
            raise CheckpointError(f"{vocab}: no such SentencePiece model")
        with atomic_open(dst / "spiece.model", "wb") as f:
            f.write(vocab.read_bytes())
        write_json(dst / "tokenizer_config.json", {
            "tokenizer_class": "T5Tokenizer", "extra_ids": int(extra_ids), "eos_token": "</s>",
            "unk_token": "<unk>", "pad_token": "<pad>", "model_max_length": 1 << 20})
    write_json(dst / "generation_config.json", {"decoder_start_token_id": 0, "eos_token_id": 1, "pad_token_id": 0})
    return dst
