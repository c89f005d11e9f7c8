"""``python -m snitk.eval``: evaluate a checkpoint (default action), score a predictions file,
run a heuristic baseline, or compare runs.

    python -m snitk.eval --checkpoint DIR --track default --output-dir OUT [--encoding def_pos2] ...
    python -m snitk.eval score --predictions FILE --track default --data-dir D --output-dir OUT
    python -m snitk.eval baseline --kind copy_input|copy_demo --track default --data-dir D --output-dir OUT
    python -m snitk.eval compare OUT1 OUT2 ... [--output-dir CMP] [--labels A B ...]

Every score gets a 95% interval from a hierarchical bootstrap (tasks, then instances within tasks):
--bootstrap-resamples N (default 1000, 0: none), --bootstrap-seed S.
"""

from __future__ import annotations

import argparse
import logging
import sys

from snitk.cli import path_arg, positive_int
from snitk.errors import ConfigError, SnitkError

SUBCOMMANDS = ("evaluate", "score", "baseline", "compare")


def _common(p: argparse.ArgumentParser, *, output: bool = True) -> None:
    p.add_argument("--track", default="default", choices=["default", "xlingual"], help="evaluation track (default: default)")
    p.add_argument("--data-dir", default=None, type=path_arg, help="natural-instructions data dir (default: $SNITK_DATA_DIR or the bundled tasks/)")
    p.add_argument("--gpt2-bpe", default=None, type=path_arg, help="GPT-2 .tiktoken ranks for the xlingual metric (default: $SNITK_GPT2_BPE, else the copy shipped in snitk/assets)")
    if output:
        p.add_argument("--output-dir", required=True, type=path_arg, help="where predictions.jsonl, metrics.json and report.md go")
        _bootstrap(p)


def _bootstrap(p: argparse.ArgumentParser) -> None:
    p.add_argument("--bootstrap-resamples", type=int, default=1000, metavar="N",
                   help="bootstrap resamples for the 95%% intervals and paired tests (default 1000; 0: none)")
    p.add_argument("--bootstrap-seed", type=int, default=0, metavar="S", help="seed of the bootstrap (default 0)")


def _selection(p: argparse.ArgumentParser) -> None:
    p.add_argument("--allow-missing-tasks", action="store_true", help="skip missing test task files with a warning")
    p.add_argument("--max-tasks", type=positive_int, default=None, help="only the first N test tasks (smoke runs)")
    p.add_argument("--max-per-task", type=positive_int, default=100, help="instances per test task (official: 100)")


def build_parser(cmd: str) -> argparse.ArgumentParser:
    prog = "python -m snitk.eval" + ("" if cmd == "evaluate" else f" {cmd}")
    p = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n")[0])
    if cmd == "evaluate":
        p.add_argument("--checkpoint", required=True, type=path_arg, help="checkpoint dir, or a model dir (its latest checkpoint); "
                       "snitk or T5X (legacy msgpack or orbax layout, detected)")
        p.add_argument("--config", default=None, help="T5X checkpoints: model preset, JSON or gin file "
                       "(default: the config.gin t5x wrote beside the checkpoints)")
        _common(p)
        _selection(p)
        p.add_argument("--encoding", default="def_pos2", help="prompt encoding (default: def_pos2)")
        p.add_argument("--vocab", default=None, type=path_arg, help="SentencePiece model (default: $SNITK_VOCAB or the demo vocabulary)")
        p.add_argument("--batch-size", type=positive_int, default=32, help="global batch (rounded up to a multiple of the devices)")
        p.add_argument("--beam-size", type=positive_int, default=1)
        p.add_argument("--max-decode-length", type=positive_int, default=128)
        p.add_argument("--max-input-length", type=positive_int, default=1024)
        p.add_argument("--num-partitions", type=positive_int, default=1, help="model-parallel size (default 1: data-parallel only)")
        p.add_argument("--dtype", default=None, help="cast parameters while loading, e.g. bfloat16 (default: as stored)")
        p.add_argument("--allow-vocab-mismatch", action="store_true",
                       help="--vocab defaults to the vocabulary stored with the checkpoint, and one with another sha256 "
                       "is refused; this flag decodes with it anyway. --max-decode-length is HF's max_length: the "
                       "decoder start token counts, so at most N-1 tokens are generated")
    elif cmd == "score":
        p.add_argument("--predictions", required=True, type=path_arg, help="predictions .jsonl in the official format")
        _common(p)
        p.add_argument("--allow-partial", action="store_true",
                       help="score a file that covers only part of the test set (report.md's first line says so)")
    elif cmd == "baseline":
        p.add_argument("--kind", required=True, choices=["copy_input", "copy_demo"])
        _common(p)
        _selection(p)
    elif cmd == "compare":
        p.add_argument("runs", nargs="+", type=path_arg, help="output dirs (or metrics.json files) of evaluate/score/baseline")
        p.add_argument("--output-dir", default="comparison", type=path_arg, help="where comparison.md, comparison.json and per_category.png go")
        p.add_argument("--labels", nargs="*", default=None, help="column labels (default: the dir names)")
        p.add_argument("--alpha", type=float, default=0.05, help="significance level after Holm's correction (default 0.05)")
        _bootstrap(p)
    return p


def _resampling(args: argparse.Namespace) -> dict:
    if args.bootstrap_resamples < 0:
        raise ConfigError(f"--bootstrap-resamples {args.bootstrap_resamples}: expected 0 (no intervals) or a positive count")
    return {"n_resamples": args.bootstrap_resamples, "bootstrap_seed": args.bootstrap_seed}


def _print_overall(metrics: dict) -> None:
    o = metrics["overall"]
    ci = o.get("ci95", {}).get("rougeL")
    print(f"exact_match {o['exact_match']:.4f}  rouge1 {o['rouge1']:.4f}  rougeL {o['rougeL']:.4f}"
          + (f" [95% CI {ci[0]:.2f}, {ci[1]:.2f}]" if ci else "") + f"  n {o['n']}"
          f"  tasks {metrics.get('num_tasks')}"
          + (f"  (missing tasks skipped: {metrics['num_missing_tasks']})" if metrics.get("num_missing_tasks") else ""))


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    cmd = argv[0] if argv and argv[0] in SUBCOMMANDS else "evaluate"
    if argv and argv[0] in SUBCOMMANDS:
        argv = argv[1:]
    args = build_parser(cmd).parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("absl").setLevel(logging.WARNING)  # orbax is chatty at INFO
    try:
        from snitk.outputs import check_output_dir

        check_output_dir(args.output_dir, "--output-dir")
        if cmd == "evaluate":
            from snitk.eval.evaluate import evaluate

            metrics = evaluate(
                args.checkpoint, args.track, args.output_dir, encoding=args.encoding, data_dir=args.data_dir,
                vocab=args.vocab, allow_vocab_mismatch=args.allow_vocab_mismatch, batch_size=args.batch_size,
                beam_size=args.beam_size,
                max_decode_length=args.max_decode_length, max_input_length=args.max_input_length,
                allow_missing_tasks=args.allow_missing_tasks, max_tasks=args.max_tasks,
                max_per_task=args.max_per_task, gpt2_bpe=args.gpt2_bpe, dtype=args.dtype,
                num_partitions=args.num_partitions, model_config=args.config, **_resampling(args),
            )
        elif cmd == "score":
            from snitk.eval.predictions import score_predictions_file

            metrics = score_predictions_file(args.predictions, args.track, args.data_dir, args.output_dir,
                                             gpt2_bpe=args.gpt2_bpe, allow_partial=args.allow_partial,
                                             **_resampling(args))
        elif cmd == "baseline":
            from snitk.eval.baselines import run_baseline

            metrics = run_baseline(
                args.kind, args.track, args.data_dir, args.output_dir, allow_missing_tasks=args.allow_missing_tasks,
                max_tasks=args.max_tasks, max_per_task=args.max_per_task, gpt2_bpe=args.gpt2_bpe, **_resampling(args),
            )
        else:
            from snitk.eval.compare import compare

            print(compare(args.runs, args.output_dir, labels=args.labels, alpha=args.alpha, **_resampling(args)))
            return 0
    except SnitkError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    _print_overall(metrics)
    print(f"wrote {args.output_dir}/metrics.json and report.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
