"""``python -m snitk.eval``: evaluate a checkpoint (default action), score a predictions file,
run a heuristic baseline, or compare runs.

    python -m snitk.eval --checkpoint DIR --track default --output-dir OUT [--encoding def_pos2] ...
    python -m snitk.eval score --predictions FILE --track default --data-dir D --output-dir OUT
    python -m snitk.eval baseline --kind copy_input|copy_demo --track default --data-dir D --output-dir OUT
    python -m snitk.eval compare OUT1 OUT2 ... [--output-dir CMP] [--labels A B ...]
"""

from __future__ import annotations

import argparse
import logging
import sys

from snitk.errors import SnitkError

SUBCOMMANDS = ("evaluate", "score", "baseline", "compare")


def _common(p: argparse.ArgumentParser, *, output: bool = True) -> None:
    p.add_argument("--track", default="default", choices=["default", "xlingual"], help="evaluation track (default: default)")
    p.add_argument("--data-dir", default=None, help="natural-instructions data dir (default: $SNITK_DATA_DIR or the bundled tasks/)")
    p.add_argument("--gpt2-bpe", default=None, help="GPT-2 .tiktoken ranks for the xlingual metric (default: $SNITK_GPT2_BPE or tiktoken's gpt2)")
    if output:
        p.add_argument("--output-dir", required=True, help="where predictions.jsonl, metrics.json and report.md go")


def _selection(p: argparse.ArgumentParser) -> None:
    p.add_argument("--allow-missing-tasks", action="store_true", help="skip missing test task files with a warning")
    p.add_argument("--max-tasks", type=int, default=None, help="only the first N test tasks (smoke runs)")
    p.add_argument("--max-per-task", type=int, default=100, help="instances per test task (official: 100)")


def build_parser(cmd: str) -> argparse.ArgumentParser:
    prog = "python -m snitk.eval" + ("" if cmd == "evaluate" else f" {cmd}")
    p = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n")[0])
    if cmd == "evaluate":
        p.add_argument("--checkpoint", required=True, help="checkpoint dir, or a model dir (its latest checkpoint); "
                       "snitk or T5X (legacy msgpack or orbax layout, detected)")
        p.add_argument("--config", default=None, help="T5X checkpoints: model preset, JSON or gin file "
                       "(default: the config.gin t5x wrote beside the checkpoints)")
        _common(p)
        _selection(p)
        p.add_argument("--encoding", default="def_pos2", help="prompt encoding (default: def_pos2)")
        p.add_argument("--vocab", default=None, help="SentencePiece model (default: $SNITK_VOCAB or the demo vocabulary)")
        p.add_argument("--batch-size", type=int, default=32, help="global batch (rounded up to a multiple of the devices)")
        p.add_argument("--beam-size", type=int, default=1)
        p.add_argument("--max-decode-length", type=int, default=128)
        p.add_argument("--max-input-length", type=int, default=1024)
        p.add_argument("--num-partitions", type=int, default=1, help="model-parallel size (default 1: data-parallel only)")
        p.add_argument("--dtype", default=None, help="cast parameters while loading, e.g. bfloat16 (default: as stored)")
    elif cmd == "score":
        p.add_argument("--predictions", required=True, help="predictions .jsonl in the official format")
        _common(p)
    elif cmd == "baseline":
        p.add_argument("--kind", required=True, choices=["copy_input", "copy_demo"])
        _common(p)
        _selection(p)
    elif cmd == "compare":
        p.add_argument("runs", nargs="+", help="output dirs (or metrics.json files) of evaluate/score/baseline")
        p.add_argument("--output-dir", default="comparison", help="where comparison.md and per_category.png go")
        p.add_argument("--labels", nargs="*", default=None, help="column labels (default: the dir names)")
    return p


def _print_overall(metrics: dict) -> None:
    o = metrics["overall"]
    print(f"exact_match {o['exact_match']:.4f}  rouge1 {o['rouge1']:.4f}  rougeL {o['rougeL']:.4f}  n {o['n']}"
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
        if cmd == "evaluate":
            from snitk.eval.evaluate import evaluate

            metrics = evaluate(
                args.checkpoint, args.track, args.output_dir, encoding=args.encoding, data_dir=args.data_dir,
                vocab=args.vocab, batch_size=args.batch_size, beam_size=args.beam_size,
                max_decode_length=args.max_decode_length, max_input_length=args.max_input_length,
                allow_missing_tasks=args.allow_missing_tasks, max_tasks=args.max_tasks,
                max_per_task=args.max_per_task, gpt2_bpe=args.gpt2_bpe, dtype=args.dtype,
                num_partitions=args.num_partitions, model_config=args.config,
            )
        elif cmd == "score":
            from snitk.eval.evaluate import score_predictions_file

            metrics = score_predictions_file(args.predictions, args.track, args.data_dir, args.output_dir, gpt2_bpe=args.gpt2_bpe)
        elif cmd == "baseline":
            from snitk.eval.baselines import run_baseline

            metrics = run_baseline(
                args.kind, args.track, args.data_dir, args.output_dir, allow_missing_tasks=args.allow_missing_tasks,
                max_tasks=args.max_tasks, max_per_task=args.max_per_task, gpt2_bpe=args.gpt2_bpe,
            )
        else:
            from snitk.eval.compare import compare

            print(compare(args.runs, args.output_dir, labels=args.labels))
            return 0
    except SnitkError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    _print_overall(metrics)
    print(f"wrote {args.output_dir}/metrics.json and report.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
