#!/usr/bin/env python
"""Throughput of snitk's Flax T5 next to HF transformers (PyTorch) on the same shapes, in one run.

For each preset: forward+backward tokens/s (encoder + decoder tokens per second of
``value_and_grad(loss)``, no optimizer update) and greedy-decode tokens/s (KV cache on both sides),
then the snitk/HF ratio.  Weights are random; both models use the same config.

    python scripts/bench_models.py                                   # CPU, t5_1_1_tiny and t5_1_1_small
    python scripts/bench_models.py --batch 16 --input-len 256 --target-len 64 --steps 5
    python scripts/bench_models.py --device gpu --dtype bfloat16     # + model FLOPs utilisation

On GPU the HF side runs only when the installed torch has CUDA; MFU uses 6 * params * tokens for
forward+backward (2 * params * tokens for decoding) against ``--peak-tflops`` (default from the device
name: H100/H200 989, A100 312 dense bf16).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from snitk.entry import run_script, script_parser  # noqa: E402


def _time(fn, steps: int) -> float:
    fn()  # warm up / compile
    t0 = time.perf_counter()
    for _ in range(steps):
        fn()
    return (time.perf_counter() - t0) / steps


def bench_snitk(config, batch: dict, decode_len: int, steps: int) -> tuple[float, float, int]:
    import jax

    from snitk.models.model import EncoderDecoderModel

    model = EncoderDecoderModel(config)
    params = model.init_params(0)
    grad_fn = jax.jit(jax.value_and_grad(lambda p, b: model.loss_fn(p, b)[0]))
    jbatch = {k: jax.numpy.asarray(v) for k, v in batch.items()}

    def train():
        loss, grads = grad_fn(params, jbatch)
        jax.block_until_ready(grads)

    def decode():
        jax.block_until_ready(model.predict_batch(params, jbatch["encoder_input_tokens"], max_decode_length=decode_len))

    n = int(sum(x.size for x in jax.tree_util.tree_leaves(params)))
    return _time(train, steps), _time(decode, steps), n


def bench_hf(config, batch: dict, decode_len: int, steps: int, device: str, dtype: str) -> tuple[float, float]:
    import torch
    import transformers

    from snitk.models.convert.hf import config_to_hf

    hf_cfg = config_to_hf(config)
    for k in ("architectures", "model_type", "dtype"):
        hf_cfg.pop(k)
    torch.manual_seed(0)
    model = transformers.T5ForConditionalGeneration(transformers.T5Config(**hf_cfg))
    tdev = "cuda" if device == "gpu" else "cpu"
    model = model.to(tdev, dtype=torch.bfloat16 if dtype == "bfloat16" else torch.float32)
    tb = {k: torch.tensor(v, dtype=torch.long, device=tdev) for k, v in batch.items() if k != "decoder_loss_weights"}
    enc, mask = tb["encoder_input_tokens"], (tb["encoder_input_tokens"] != 0).long()
    labels = tb["decoder_target_tokens"].masked_fill(tb["decoder_target_tokens"] == 0, -100)

    def sync():
        if tdev == "cuda":
            torch.cuda.synchronize()

    def train():
        model.train()
        out = model(input_ids=enc, attention_mask=mask, decoder_input_ids=tb["decoder_input_tokens"], labels=labels)
        out.loss.backward()
        model.zero_grad(set_to_none=True)
        sync()

    def decode():
        model.eval()
        with torch.no_grad():
            model.generate(input_ids=enc, attention_mask=mask, max_new_tokens=decode_len, min_new_tokens=decode_len,
                           do_sample=False, num_beams=1, use_cache=True)
        sync()

    return _time(train, steps), _time(decode, steps)


def make_batch(vocab: int, b: int, li: int, lt: int, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    enc = rng.integers(3, vocab, size=(b, li), dtype=np.int32)
    tgt = rng.integers(3, vocab, size=(b, lt), dtype=np.int32)
    enc[:, -1] = tgt[:, -1] = 1
    return {"encoder_input_tokens": enc,
            "decoder_input_tokens": np.concatenate([np.zeros((b, 1), np.int32), tgt[:, :-1]], 1),
            "decoder_target_tokens": tgt, "decoder_loss_weights": np.ones((b, lt), np.float32)}


def peak_flops(arg: float | None) -> float | None:
    if arg:
        return arg * 1e12
    import jax

    kind = jax.devices()[0].device_kind.upper()
    for name, tflops in (("H200", 989), ("H100", 989), ("A100", 312), ("L4", 121)):
        if name in kind:
            return tflops * 1e12
    return None


def main(argv: list[str] | None = None) -> int:
    p = script_parser(__doc__)
    p.add_argument("--presets", default="t5_1_1_tiny,t5_1_1_small")
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--input-len", type=int, default=64)
    p.add_argument("--target-len", type=int, default=16)
    p.add_argument("--decode-len", type=int, default=16)
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--device", choices=["cpu", "gpu"], default="cpu")
    p.add_argument("--dtype", choices=["float32", "bfloat16"], default=None,
                   help="activation dtype (default float32 on CPU, bfloat16 on GPU)")
    p.add_argument("--threads", type=int, default=1,
                   help="CPU threads for both sides (torch intra-op threads; with 1, XLA's Eigen pool is single "
                        "threaded too). 0 = library defaults. 1 keeps a shared machine's numbers comparable")
    p.add_argument("--peak-tflops", type=float, default=None)
    p.add_argument("--no-hf", action="store_true")
    args = p.parse_args(argv)
    if args.device == "cpu":
        os.environ.setdefault("JAX_PLATFORMS", "cpu")
        if args.threads == 1:
            os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_cpu_multi_thread_eigen=false "
                                       "intra_op_parallelism_threads=1").strip()
    dtype = args.dtype or ("bfloat16" if args.device == "gpu" else "float32")

    import jax

    from snitk.models.configs import get_preset

    have_torch = False
    if not args.no_hf:
        try:
            import torch

            if args.threads:
                torch.set_num_threads(args.threads)
            have_torch = args.device == "cpu" or torch.cuda.is_available()
        except ImportError:
            print("torch not importable: HF columns left empty")
    print(f"jax {jax.__version__} on {jax.devices()[0].device_kind} ({jax.default_backend()}), dtype={dtype}, "
          f"batch={args.batch}, input/target len={args.input_len}/{args.target_len}, decode len={args.decode_len}, "
          f"steps={args.steps}, threads={args.threads or 'default'}")
    peak = peak_flops(args.peak_tflops) if args.device == "gpu" else None
    header = (f"{'preset':<14}{'params':>8} | {'fwd+bwd tok/s snitk':>20}{'HF':>10}{'ratio':>7} | "
              f"{'greedy tok/s snitk':>19}{'HF':>9}{'ratio':>7}" + (f" | {'MFU train':>9}{'MFU dec':>8}" if peak else ""))
    rows = []
    for name in args.presets.split(","):
        config = get_preset(name, dtype=dtype, param_dtype="float32", dropout_rate=0.0)
        batch = make_batch(config.vocab_size, args.batch, args.input_len, args.target_len)
        train_tok = args.batch * (args.input_len + args.target_len)
        dec_tok = args.batch * args.decode_len
        t_train, t_dec, n = bench_snitk(config, batch, args.decode_len, args.steps)
        hf = bench_hf(config, batch, args.decode_len, args.steps, args.device, dtype) if have_torch else None
        r = {"name": name, "n": n, "train": train_tok / t_train, "dec": dec_tok / t_dec,
             "hf_train": hf and train_tok / hf[0], "hf_dec": hf and dec_tok / hf[1]}
        if peak:
            r["mfu_train"] = 6 * n * r["train"] / peak
            r["mfu_dec"] = 2 * n * r["dec"] / peak
        rows.append(r)
        print(f"  {name}: snitk train {t_train * 1e3:.0f} ms/step, decode {t_dec * 1e3:.0f} ms"
              + (f"; HF train {hf[0] * 1e3:.0f} ms/step, decode {hf[1] * 1e3:.0f} ms" if hf else ""), flush=True)

    def f(x):
        return f"{x:,.0f}" if x else "-"

    print()
    print(header)
    print("-" * len(header))
    for r in rows:
        ratio_t = f"{r['train'] / r['hf_train']:.2f}" if r["hf_train"] else "-"
        ratio_d = f"{r['dec'] / r['hf_dec']:.2f}" if r["hf_dec"] else "-"
        line = (f"{r['name']:<14}{r['n'] / 1e6:>7.1f}M | {f(r['train']):>20}{f(r['hf_train']):>10}{ratio_t:>7} | "
                f"{f(r['dec']):>19}{f(r['hf_dec']):>9}{ratio_d:>7}")
        if peak:
            line += f" | {r['mfu_train']:>8.1%}{r['mfu_dec']:>8.1%}"
        print(line)
    print("ratio = snitk / HF (higher is better for snitk)")
    return 0


if __name__ == "__main__":
    run_script(main, "bench_models.py")
