"""Checkpoint conversion: ``python -m snitk.models convert --from hf|t5x --src SRC --dst DIR`` and ``--to hf``.

All conversions stream one tensor at a time (see :mod:`snitk.models.convert.hf` and
:mod:`snitk.models.convert.t5x`); the output is the one snitk checkpoint format of
:mod:`snitk.models.checkpoint`.
"""

from __future__ import annotations

import argparse
import logging
import sys

from snitk.cli import path_arg
from snitk.errors import SnitkError

log = logging.getLogger(__name__)


def build_parser(parser: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
    p = parser or argparse.ArgumentParser(prog="python -m snitk.models convert", description=__doc__)
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--from", dest="src_format", choices=["hf", "t5x"], help="import from this format")
    g.add_argument("--to", dest="dst_format", choices=["hf"], help="export a snitk checkpoint to this format")
    p.add_argument("--src", required=True, type=path_arg, help="source folder (HF model dir, T5X checkpoint_<N> dir, or snitk checkpoint/MODEL_DIR)")
    p.add_argument("--dst", required=True, type=path_arg, help="destination folder")
    p.add_argument("--config", default=None, help="t5x import: T5Config as a JSON file, a gin file or a preset name "
                   "(default: config.gin beside the checkpoint, completed from the parameter shapes)")
    p.add_argument("--dtype", default=None, choices=["float32", "bfloat16"],
                   help="parameter dtype to write (import default float32; export default: as stored)")
    p.add_argument("--scan-layers", action="store_true", help="hf import: stack layers (config.scan_layers=True)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing destination (checkpoint or HF export)")
    p.add_argument("--max-shard-gb", type=float, default=4.0, help="hf export: safetensors shard size")
    p.add_argument("--vocab", default=None, type=path_arg, help="hf export: SentencePiece model to ship as spiece.model (T5Tokenizer)")
    p.add_argument("--extra-ids", type=int, default=100, help="hf export: sentinel tokens added by T5Tokenizer")
    return p


def _record_vocab(args: argparse.Namespace, cfg) -> None:
    """On import with --vocab (and --extra-ids: T5 100, mT5 0): check the vocabulary against the model's
    embedding and store its identity (path, size, sha256) with the checkpoint."""
    if not args.vocab:
        return
    from snitk.models.checkpoint import write_vocab_identity
    from snitk.vocab import check_model_vocab
    from snitk.vocab_identity import identity

    ident = identity(args.vocab, args.extra_ids)
    check_model_vocab(ident["size"], cfg.vocab_size, where=f"{args.dst}: model_config")
    write_vocab_identity(args.dst, ident)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``convert`` subcommand; returns a process exit code."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("absl").setLevel(logging.WARNING)
    try:
        from snitk.outputs import check_output_dir

        check_output_dir(args.dst, "--dst")
        if args.src_format == "hf":
            from snitk.models.convert.hf import import_hf

            cfg = import_hf(args.src, args.dst, dtype=args.dtype or "float32", overwrite=args.overwrite,
                            scan_layers=args.scan_layers)
            _record_vocab(args, cfg)
        elif args.src_format == "t5x":
            from snitk.models.convert.t5x import import_t5x

            cfg = import_t5x(args.src, args.dst, config=args.config, dtype=args.dtype or "float32",
                             overwrite=args.overwrite)
            _record_vocab(args, cfg)
        else:
            from snitk.models.checkpoint import load_config
            from snitk.models.convert.hf_export import export_hf

            cfg = load_config(args.src)
            export_hf(args.src, args.dst, dtype=args.dtype, max_shard_bytes=int(args.max_shard_gb * (1 << 30)),
                      vocab=args.vocab, extra_ids=args.extra_ids, overwrite=args.overwrite)
    except SnitkError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"wrote {args.dst}")
    print(f"config: {cfg.to_dict() if hasattr(cfg, 'to_dict') else cfg}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
