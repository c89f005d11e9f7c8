#!/usr/bin/env python
"""Peak memory of the streaming HF -> snitk conversion on a synthetic checkpoint.

Writes a random HF T5 folder (config.json + safetensors, sharded like the hub's) with the shapes of a
preset, converts it with ``snitk.models.convert`` in a child process and reports the child's peak
RSS against the largest tensor and the total size.  A second child that only imports the same
modules gives the baseline RSS of the interpreter + jax + orbax.

    python scripts/bench_convert.py                        # t5_1_1_base shapes (~1 GB), ~1-2 min
    python scripts/bench_convert.py --preset t5_1_1_xxl --num-layers 2   # XXL-sized tensors
    python scripts/bench_convert.py --preset t5_1_1_xxl    # the full 11 B model (44 GB of disk)
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from snitk.entry import run_script, script_parser  # noqa: E402
from snitk.models.configs import get_preset  # noqa: E402
from snitk.models.convert.hf import config_to_hf, name_mapping  # noqa: E402
from snitk.models.convert.hf_export import write_safetensors  # noqa: E402


def write_synthetic_hf(folder: Path, config, *, shard_bytes: int = 2 << 30, seed: int = 0) -> tuple[int, int]:
    """Random HF T5 folder for ``config``; returns (total bytes, largest tensor bytes). Streams tensors."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    tensors = []
    for m in name_mapping(config):
        tensors.extend(m.hf)
    # shapes in HF layout
    d, h, kv, ff, v = config.emb_dim, config.num_heads, config.head_dim, config.mlp_dim, config.vocab_size
    buckets = config.relative_attention_num_buckets

    def hf_shape(name: str) -> tuple[int, ...]:
        if name in ("shared.weight", "lm_head.weight"):
            return (v, d)
        if name.endswith("relative_attention_bias.weight"):
            return (buckets, h)
        if name.endswith("layer_norm.weight"):
            return (d,)
        if name.endswith(("q.weight", "k.weight", "v.weight")):
            return (h * kv, d)
        if name.endswith("o.weight"):
            return (d, h * kv)
        if name.endswith(("wi.weight", "wi_0.weight", "wi_1.weight")):
            return (ff, d)
        if name.endswith("wo.weight"):
            return (d, ff)
        raise ValueError(name)

    def loader(shape):
        return lambda: rng.standard_normal(shape, dtype=np.float32)

    entries = [(n, hf_shape(n), np.dtype(np.float32), loader(hf_shape(n))) for n in tensors]
    sizes = [int(np.prod(e[1])) * 4 for e in entries]
    shards, cur, size = [], [], 0
    for e, nbytes in zip(entries, sizes):
        if cur and size + nbytes > shard_bytes:
            shards.append(cur)
            cur, size = [], 0
        cur.append(e)
        size += nbytes
    shards.append(cur)
    weight_map = {}
    for k, shard in enumerate(shards):
        fname = f"model-{k + 1:05d}-of-{len(shards):05d}.safetensors"
        write_safetensors(folder / fname, shard)
        weight_map.update({e[0]: fname for e in shard})
    (folder / "model.safetensors.index.json").write_text(
        json.dumps({"metadata": {"total_size": sum(sizes)}, "weight_map": weight_map}))
    (folder / "config.json").write_text(json.dumps(config_to_hf(config)))
    return sum(sizes), max(sizes)


# Each child reports its own VmHWM (peak RSS of its address space since exec); a forked child's
# ru_maxrss would include the parent's RSS at fork time.
_HWM = ("import sys\n"
        "def _hwm():\n"
        "    for line in open('/proc/self/status'):\n"
        "        if line.startswith('VmHWM:'): sys.stderr.write('VMHWM %d\\n' % (int(line.split()[1]) * 1024))\n")
CHILD_CONVERT = _HWM + "from snitk.models.convert import main\nrc = main(sys.argv[1:])\n_hwm()\nsys.exit(rc)\n"
CHILD_BASELINE = _HWM + ("import jax, orbax.checkpoint, tensorstore, numpy\nimport snitk.models.convert.hf\n"
                         "import snitk.models.checkpoint\njax.process_index()\n_hwm()\n")


def child_peak_rss(cmd: list[str]) -> tuple[float, int, float]:
    """Run ``cmd``; returns (seconds, the child's peak RSS in bytes, exit code)."""
    t0 = time.time()
    proc = subprocess.run(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                          env={**os.environ, "JAX_PLATFORMS": "cpu"})
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr[-4000:])
    peak = [int(line.split()[1]) for line in proc.stderr.splitlines() if line.startswith("VMHWM ")]
    return time.time() - t0, (peak[-1] if peak else 0), proc.returncode


def main(argv: list[str] | None = None) -> int:
    p = script_parser(__doc__)
    p.add_argument("--preset", default="t5_1_1_base")
    p.add_argument("--num-layers", type=int, default=None, help="override encoder and decoder depth")
    p.add_argument("--workdir", default=None, help="where to write (default: a temp dir, deleted afterwards)")
    args = p.parse_args(argv)
    overrides = {"dtype": "float32"}
    if args.num_layers:
        overrides.update(num_encoder_layers=args.num_layers, num_decoder_layers=args.num_layers)
    config = get_preset(args.preset, **overrides)
    work = Path(args.workdir or tempfile.mkdtemp(prefix="bench_convert_"))
    try:
        t0 = time.time()
        total, largest = write_synthetic_hf(work / "hf", config)
        print(f"synthetic HF checkpoint: preset={args.preset} layers={config.num_encoder_layers}/"
              f"{config.num_decoder_layers} total={total / 2**30:.2f} GiB largest tensor={largest / 2**20:.0f} MiB "
              f"(written in {time.time() - t0:.0f}s)")
        _, base_rss, _ = child_peak_rss([sys.executable, "-c", CHILD_BASELINE])
        secs, peak, rc = child_peak_rss([sys.executable, "-c", CHILD_CONVERT, "--from", "hf", "--src",
                                         str(work / "hf"), "--dst", str(work / "snitk")])
        if rc != 0:
            print("conversion failed")
            return 1
        over = peak - base_rss
        print(f"convert --from hf: {secs:.1f}s, {total / 2**20 / secs:.0f} MiB/s")
        print(f"peak RSS {peak / 2**20:.0f} MiB; import-only baseline {base_rss / 2**20:.0f} MiB; "
              f"conversion overhead {over / 2**20:.0f} MiB = {over / largest:.2f} x largest tensor = "
              f"{over / total:.3f} x total")
        secs, peak, rc = child_peak_rss([sys.executable, "-c", CHILD_CONVERT, "--to", "hf", "--src",
                                         str(work / "snitk"), "--dst", str(work / "hf_out")])
        over = peak - base_rss
        print(f"convert --to hf:   {secs:.1f}s; peak RSS {peak / 2**20:.0f} MiB; overhead {over / 2**20:.0f} MiB = "
              f"{over / largest:.2f} x largest tensor = {over / total:.3f} x total" + ("" if rc == 0 else " (FAILED)"))
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    run_script(main, "bench_convert.py")
