"""`python -m snitk.models {info,generate,score,convert}`.

  info --preset NAME | --checkpoint DIR [--fingerprint]     parameter count (`params: N`) [+ `sha256: ...`]
  generate --checkpoint DIR [--vocab SPM] --input-file IN --output-file OUT --max-decode-length N
           [--beam-size K] [--alpha A] [--batch-size B]        IN {"id","inputs"} -> OUT {"id","prediction"}
  score --checkpoint DIR [--vocab SPM] --input-file IN --output-file OUT
                                                           IN {"id","inputs","targets"} -> OUT {"id","log_likelihood"}
  convert ...                                              checkpoint conversion (snitk.models.convert)
"""

from __future__ import annotations

import argparse
import logging
import math
import sys
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

from snitk.cli import path_arg, positive_int
from snitk.errors import DataError, SnitkError
from snitk.jsonl import iter_jsonl

log = logging.getLogger(__name__)
EOS_ID = 1


def bucket_length(n: int, minimum: int = 16) -> int:
    """Padded length for `n` tokens: the next power of two >= `minimum` (limits jit re-compilation)."""
    return max(minimum, 1 << max(0, math.ceil(math.log2(max(n, 1)))))


def read_jsonl(path: str | Path, fields: Sequence[str]) -> list[dict[str, Any]]:
    """Rows of a JSON-lines file; DataError naming the line and field when one is missing."""
    rows = []
    for lineno, row in iter_jsonl(path):
        for field in fields:
            if field not in row:
                raise DataError(f"{path}:{lineno}", field, f"a JSON object with fields {list(fields)}")
        if not isinstance(row["inputs"], str):
            raise DataError(f"{path}:{lineno}", "inputs", "a string")
        rows.append(row)
    return rows


def encode_with_eos(vocab: Any, text: str, max_length: int | None) -> list[int]:
    """Token ids + EOS; when longer than `max_length`, trimmed to `max_length - 1` tokens then EOS (seqio)."""
    ids = vocab.encode(text)
    if max_length is not None and len(ids) >= max_length:
        ids = ids[: max_length - 1]
    return ids + [EOS_ID]


def pad_batch(seqs: Sequence[Sequence[int]], batch_size: int, length: int) -> np.ndarray:
    out = np.zeros((batch_size, length), np.int32)
    for i, s in enumerate(seqs):
        out[i, : len(s)] = s
    return out


def batches(order: Sequence[int], batch_size: int) -> Iterator[list[int]]:
    for start in range(0, len(order), batch_size):
        yield list(order[start : start + batch_size])


def _load(args: argparse.Namespace) -> tuple[Any, Any, Any, Any]:
    from snitk.models.checkpoint import load_model
    from snitk.models.model import EncoderDecoderModel
    from snitk.vocab import Vocabulary, check_model_vocab

    config, params = load_model(args.checkpoint)
    model = EncoderDecoderModel(config)
    from snitk.models.checkpoint import load_vocab_identity

    if load_vocab_identity(args.checkpoint) is not None or args.vocab is None:  # the stored vocabulary
        from snitk.vocab_identity import checkpoint_vocabulary

        return config, params, model, checkpoint_vocabulary(args.checkpoint, args.vocab,
                                                            allow_mismatch=args.allow_vocab_mismatch)
    probe = Vocabulary(args.vocab, extra_ids=0)
    extra = args.extra_ids
    if extra is None:  # T5's 100 sentinels when the embedding has room for them
        extra = 100 if config.vocab_size >= probe.base_size + 100 else 0
    vocab = Vocabulary(args.vocab, extra_ids=extra) if extra else probe
    check_model_vocab(vocab.vocab_size, config.vocab_size, where=f"{args.checkpoint} with --vocab {vocab.path}")
    return config, params, model, vocab


def cmd_info(args: argparse.Namespace) -> int:
    import jax

    from snitk.models.configs import get_preset
    from snitk.models.model import num_params

    if args.preset:
        config = get_preset(args.preset)
        count = num_params(config)
        sha = None
        if args.fingerprint:
            print("info: --fingerprint needs --checkpoint", file=sys.stderr)
            return 2
    else:
        from snitk.models import checkpoint as ckpt

        config = ckpt.load_config(args.checkpoint)
        if args.fingerprint:
            _, params = ckpt.load_model(args.checkpoint)
            count = int(sum(math.prod(x.shape) for x in jax.tree_util.tree_leaves(params)))
            sha = ckpt.fingerprint(params)
        else:
            meta = ckpt.params_metadata(args.checkpoint)
            count = int(sum(math.prod(x.shape) for x in jax.tree_util.tree_leaves(meta)))
            sha = None
    for key, value in config.to_dict().items():
        print(f"{key}: {value}")
    print(f"params: {count}")
    if sha is not None:
        print(f"sha256: {sha}")
    return 0


def cmd_generate(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from snitk.outputs import check_output_file

    from snitk.atomic import write_jsonl

    rows = read_jsonl(args.input_file, ("id", "inputs"))
    check_output_file(args.output_file, "--output-file")
    _, params, model, vocab = _load(args)
    encoded = [encode_with_eos(vocab, r["inputs"], args.max_input_length) for r in rows]
    order = sorted(range(len(rows)), key=lambda i: len(encoded[i]))  # similar lengths share a batch
    predictions: list[str | None] = [None] * len(rows)
    for idx in tqdm(list(batches(order, args.batch_size)), desc="generate", unit="batch", disable=args.quiet):
        length = bucket_length(max(len(encoded[i]) for i in idx))
        tokens = pad_batch([encoded[i] for i in idx], args.batch_size, length)
        out = np.asarray(model.predict_batch(params, tokens, max_decode_length=args.max_decode_length,
                                             beam_size=args.beam_size, alpha=args.alpha))
        for row, i in enumerate(idx):
            predictions[i] = vocab.decode(out[row].tolist())
    write_jsonl(args.output_file, ({"id": r["id"], "prediction": p} for r, p in zip(rows, predictions)))
    log.info("wrote %d predictions to %s", len(rows), args.output_file)
    return 0


def cmd_score(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from snitk.outputs import check_output_file

    from snitk.atomic import write_jsonl

    rows = read_jsonl(args.input_file, ("id", "inputs", "targets"))
    for lineno, r in enumerate(rows, 1):
        if not isinstance(r["targets"], str):
            raise DataError(f"{args.input_file}:{lineno}", "targets", "a string")
    check_output_file(args.output_file, "--output-file")
    _, params, model, vocab = _load(args)
    enc = [encode_with_eos(vocab, r["inputs"], args.max_input_length) for r in rows]
    tgt = [encode_with_eos(vocab, r["targets"], args.max_target_length) for r in rows]
    order = sorted(range(len(rows)), key=lambda i: (len(enc[i]), len(tgt[i])))
    scores: list[float] = [0.0] * len(rows)
    for idx in tqdm(list(batches(order, args.batch_size)), desc="score", unit="batch", disable=args.quiet):
        targets = pad_batch([tgt[i] for i in idx], args.batch_size, bucket_length(max(len(tgt[i]) for i in idx)))
        batch = {
            "encoder_input_tokens": pad_batch([enc[i] for i in idx], args.batch_size,
                                              bucket_length(max(len(enc[i]) for i in idx))),
            "decoder_target_tokens": targets,
            "decoder_input_tokens": np.concatenate([np.zeros_like(targets[:, :1]), targets[:, :-1]], axis=1),
            "decoder_loss_weights": (targets > 0).astype(np.float32),
        }
        out = np.asarray(model.score_batch(params, batch))
        for row, i in enumerate(idx):
            scores[i] = float(out[row])
    write_jsonl(args.output_file, ({"id": r["id"], "log_likelihood": s} for r, s in zip(rows, scores)))
    log.info("wrote %d scores to %s", len(rows), args.output_file)
    return 0


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m snitk.models", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    info = sub.add_parser("info", help="config and parameter count of a preset or checkpoint")
    src = info.add_mutually_exclusive_group(required=True)
    src.add_argument("--preset")
    src.add_argument("--checkpoint", type=path_arg)
    info.add_argument("--fingerprint", action="store_true", help="also print a sha256 over all parameter bytes")

    def common(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--checkpoint", required=True, type=path_arg, help="checkpoint dir or MODEL_DIR (latest checkpoint)")
        sp.add_argument("--vocab", default=None, type=path_arg, help="SentencePiece model file (default: the one stored "
                        "with the checkpoint; a different one is refused)")
        sp.add_argument("--extra-ids", type=int, default=None,
                        help="sentinel ids after the pieces (default: 100 when the model vocabulary has room)")
        sp.add_argument("--input-file", required=True, type=path_arg)
        sp.add_argument("--output-file", required=True, type=path_arg)
        sp.add_argument("--batch-size", type=positive_int, default=8)
        sp.add_argument("--max-input-length", type=positive_int, default=None, help="truncate inputs (tokens incl. EOS)")
        sp.add_argument("--quiet", action="store_true", help="no progress bar")
        sp.add_argument("--allow-vocab-mismatch", action="store_true",
                        help="use --vocab even when it differs from the checkpoint's stored vocabulary")

    gen = sub.add_parser("generate", help="decode inputs (greedy or beam search)")
    common(gen)
    gen.add_argument("--max-decode-length", type=positive_int, required=True)
    gen.add_argument("--beam-size", type=positive_int, default=1)
    gen.add_argument("--alpha", type=float, default=0.6, help="beam-search length penalty exponent")
    score = sub.add_parser("score", help="log-likelihood of targets given inputs")
    common(score)
    score.add_argument("--max-target-length", type=positive_int, default=None)
    sub.add_parser("convert", help="checkpoint conversion (see `convert --help`)", add_help=False)
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of `python -m snitk.models` / `snitk models`."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "convert":
        from snitk.models.convert import main as convert_main

        return int(convert_main(argv[1:]) or 0)
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("jax").setLevel(logging.WARNING)
    logging.getLogger("absl").setLevel(logging.WARNING)  # orbax is chatty at INFO
    try:
        return {"info": cmd_info, "generate": cmd_generate, "score": cmd_score}[args.command](args)
    except SnitkError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
