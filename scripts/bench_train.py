#!/usr/bin/env python
"""Training throughput: snitk (JAX, sharded train step) vs Hugging Face transformers + PyTorch AdamW.

Same shapes on both sides: full-length random sequences (no padding), ``batch x (inputs + targets)``
tokens per step; the timing excludes compilation / the first ``--warmup`` steps. On CPU it prints
tokens/s of both and their ratio for each preset; on a GPU (``--device gpu``) it measures snitk in bf16
and reports model FLOPs utilisation (MFU) against the chip's peak bf16 dense FLOP/s.

    python scripts/bench_train.py                                  # CPU: t5_1_1_tiny, t5_1_1_small vs HF
    python scripts/bench_train.py --device gpu --presets t5_1_1_base t5_1_1_large t5_1_1_xl --batch_size 64
"""

from __future__ import annotations

import os
import sys
import time

import numpy as np

from snitk.entry import run_script, script_parser

PEAK_BF16 = {"H100": 989e12, "H200": 989e12, "A100": 312e12, "L4": 121e12, "A10": 125e12, "V100": 125e12}


def model_flops_per_step(cfg, batch: int, li: int, lt: int) -> float:
    """Training FLOPs (fwd + bwd = 3 x forward) of one step: matmuls with weights + attention scores."""
    e, f, hd = cfg.emb_dim, cfg.mlp_dim, cfg.num_heads * cfg.head_dim
    n_mlp = len(cfg.mlp_activations)
    enc = cfg.num_encoder_layers * (4 * e * hd + (n_mlp + 1) * e * f) * li
    dec = cfg.num_decoder_layers * (8 * e * hd + (n_mlp + 1) * e * f) * lt
    logits = e * cfg.vocab_size * lt
    attn = cfg.num_encoder_layers * 2 * li * li * hd + cfg.num_decoder_layers * 2 * (lt * lt + lt * li) * hd
    return 3 * 2 * batch * (enc + dec + logits + attn)


def random_batch(batch: int, li: int, lt: int, vocab: int, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    enc = rng.integers(3, vocab, size=(batch, li)).astype(np.int32)
    tgt = rng.integers(3, vocab, size=(batch, lt)).astype(np.int32)
    dec_in = np.concatenate([np.zeros((batch, 1), np.int32), tgt[:, :-1]], axis=1)
    return {"encoder_input_tokens": enc, "decoder_input_tokens": dec_in, "decoder_target_tokens": tgt,
            "decoder_loss_weights": np.ones_like(tgt)}


def bench_snitk(preset: str, batch: int, li: int, lt: int, steps: int, warmup: int, dtype: str | None,
                optimizer: str) -> dict:
    import jax

    from snitk.models import EncoderDecoderModel, get_preset
    from snitk.training.data import to_global_arrays
    from snitk.training.optim import make_optimizer
    from snitk.training.partitioning import Partitioner
    from snitk.training.trainer import Trainer

    cfg = get_preset(preset, **({"dtype": dtype} if dtype else {}))
    part = Partitioner()
    opt = make_optimizer(optimizer, 1e-4, weight_decay=0.0)
    trainer = Trainer(EncoderDecoderModel(cfg), opt, part)
    state = trainer.init_state(0)
    data = to_global_arrays(random_batch(batch, li, lt, cfg.vocab_size), part.data_sharding)
    t0 = time.perf_counter()
    for _ in range(warmup):
        state, m = trainer.train_step(state, data)
    jax.block_until_ready(m)
    compile_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    for _ in range(steps):
        state, m = trainer.train_step(state, data)
    jax.block_until_ready(m)
    dt = (time.perf_counter() - t0) / steps
    return {"impl": "snitk-jax", "preset": preset, "dtype": cfg.dtype, "optimizer": optimizer,
            "step_time": dt, "tokens_per_second": batch * (li + lt) / dt, "warmup_s": compile_s,
            "loss": float(m["loss"]), "flops_per_step": model_flops_per_step(cfg, batch, li, lt),
            "device": str(jax.devices()[0].device_kind), "num_devices": jax.device_count()}


def bench_hf(preset: str, batch: int, li: int, lt: int, steps: int, warmup: int) -> dict:
    import torch
    from transformers import T5Config as HFConfig
    from transformers import T5ForConditionalGeneration

    from snitk.models import get_preset

    cfg = get_preset(preset)
    torch.set_num_threads(os.cpu_count() or 1)
    hf = HFConfig(vocab_size=cfg.vocab_size, d_model=cfg.emb_dim, d_kv=cfg.head_dim, d_ff=cfg.mlp_dim,
                  num_layers=cfg.num_encoder_layers, num_decoder_layers=cfg.num_decoder_layers,
                  num_heads=cfg.num_heads, relative_attention_num_buckets=cfg.relative_attention_num_buckets,
                  relative_attention_max_distance=cfg.relative_attention_max_distance, dropout_rate=0.0,
                  feed_forward_proj="gated-gelu", tie_word_embeddings=False, decoder_start_token_id=0,
                  pad_token_id=0, eos_token_id=1)
    torch.manual_seed(0)
    model = T5ForConditionalGeneration(hf)
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.0)
    b = random_batch(batch, li, lt, cfg.vocab_size)
    inputs = torch.from_numpy(b["encoder_input_tokens"]).long()
    labels = torch.from_numpy(b["decoder_target_tokens"]).long()

    def step():
        opt.zero_grad(set_to_none=True)
        loss = model(input_ids=inputs, labels=labels).loss
        loss.backward()
        opt.step()
        return loss

    t0 = time.perf_counter()
    for _ in range(warmup):
        step()
    warm = time.perf_counter() - t0
    t0 = time.perf_counter()
    for _ in range(steps):
        loss = step()
    dt = (time.perf_counter() - t0) / steps
    return {"impl": "hf-torch", "preset": preset, "dtype": "float32", "optimizer": "adamw", "step_time": dt,
            "tokens_per_second": batch * (li + lt) / dt, "warmup_s": warm, "loss": float(loss),
            "torch_threads": torch.get_num_threads()}


def main(argv: list[str] | None = None) -> int:
    ap = script_parser(__doc__)
    ap.add_argument("--device", choices=["cpu", "gpu"], default="cpu")
    ap.add_argument("--presets", nargs="+", default=None)
    ap.add_argument("--batch_size", type=int, default=None)
    ap.add_argument("--inputs", type=int, default=None)
    ap.add_argument("--targets", type=int, default=None)
    ap.add_argument("--steps", type=int, default=None)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--optimizer", default="adamw", help="snitk optimizer (adamw matches the HF side)")
    ap.add_argument("--no_hf", action="store_true", help="skip the HF transformers + PyTorch comparison")
    ap.add_argument("--out", default=None, help="write the results as JSON here")
    args = ap.parse_args(argv)
    gpu = args.device == "gpu"
    if not gpu:
        os.environ.setdefault("JAX_PLATFORMS", "cpu")
    presets = args.presets or (["t5_1_1_base", "t5_1_1_large", "t5_1_1_xl"] if gpu else ["t5_1_1_tiny", "t5_1_1_small"])
    batch = args.batch_size or (64 if gpu else 8)
    li, lt = args.inputs or (512 if gpu else 128), args.targets or (128 if gpu else 32)
    steps = args.steps or (20 if gpu else 5)
    results = []
    for preset in presets:
        r = bench_snitk(preset, batch, li, lt, steps, args.warmup, "bfloat16" if gpu else "float32", args.optimizer)
        if gpu:
            kind = r["device"]
            peak = next((v for k, v in PEAK_BF16.items() if k in kind), None)
            r["mfu"] = r["flops_per_step"] / r["step_time"] / (peak * r["num_devices"]) if peak else None
        results.append(r)
        line = f"{preset:<14} snitk  {r['tokens_per_second']:>10.0f} tok/s  step {r['step_time'] * 1e3:8.1f} ms"
        if gpu and r.get("mfu") is not None:
            line += f"  MFU {100 * r['mfu']:.1f}% ({r['device']})"
        if not gpu and not args.no_hf:
            h = bench_hf(preset, batch, li, lt, steps, args.warmup)
            results.append(h)
            line += (f" | HF+torch {h['tokens_per_second']:>10.0f} tok/s  step {h['step_time'] * 1e3:8.1f} ms"
                     f" | ratio snitk/HF {r['tokens_per_second'] / h['tokens_per_second']:.2f}x")
        print(line, flush=True)
    print(f"shapes: batch {batch} x (inputs {li} + targets {lt}) tokens, {steps} timed steps after {args.warmup} "
          f"warm-up steps; snitk optimizer {args.optimizer}, HF AdamW")
    if args.out:
        from snitk.atomic import write_json

        write_json(args.out, results)
    return 0


if __name__ == "__main__":
    run_script(main, "bench_train.py")
