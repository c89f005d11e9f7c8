"""`snitk demo`: the main job on the bundled demo corpus, end to end on a CPU.

Fine-tunes the shipped pre-trained demo model (`snitk/assets/demo_pretrained`, written by `python -m
snitk.demo.pretrain`; `--from-scratch` trains from random weights instead) on the demo corpus's training
tasks (def_pos2 encoding), as Tk-Instruct fine-tunes T5-LM-adapt, evaluates it on the held-out demo tasks,
scores the copy_demo / copy_input baselines through the same protocol and writes `OUT/metrics.json`,
`OUT/report.md` and `OUT/demo.png`. The same trained model is also
evaluated with the instance only and with the definition only (the paper's Table 4 in miniature;
`--no-ablation` skips it). A rerun resumes or skips finished stages.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path
from typing import Sequence

from snitk import experiments as ex
from snitk.atomic import write_json, write_text
from snitk.errors import ConfigError
from snitk.xla_cpu import use_small_model_cpu_flags

BASELINES = ("copy_demo", "copy_input")
# --ablation: what each part of the instruction is worth to the one trained model
ABLATION = (("instance_only", "instance only"), ("def", "definition"), ("def_pos2", "definition + 2 positive examples"))
DEFAULT_GIN = "experiments/demo_cpu.gin"
log = logging.getLogger(__name__)


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="snitk demo", description=__doc__.splitlines()[0])
    p.add_argument("--output-dir", type=Path, default=Path("runs/demo"), help="where everything is written")
    p.add_argument("--gin_file", action="append", default=None, help=f"gin file(s) (default {DEFAULT_GIN})")
    p.add_argument("--gin", action="append", default=[], metavar="KEY=VALUE", help="extra gin bindings")
    p.add_argument("--data-dir", type=Path, default=None, help="data dir (default: the bundled tasks/)")
    p.add_argument("--encoding", default="def_pos2", help="instruction encoding for evaluation")
    p.add_argument("--batch-size", type=int, default=64, help="evaluation batch size")
    p.add_argument("--max-decode-length", type=int, default=32, help="evaluation decode length")
    p.add_argument("--max-per-task", type=int, default=100,
                   help="held-out instances per task (the official 100; fewer for smoke runs)")
    start = p.add_mutually_exclusive_group()
    start.add_argument("--pretrained", type=Path, default=None, metavar="CHECKPOINT",
                       help="fine-tune this pre-trained demo model (written by `python -m snitk.demo.pretrain`), as "
                            "Tk-Instruct fine-tunes T5-LM-adapt; default: the shipped one, snitk/assets/demo_pretrained "
                            "(bundled vocabulary)")
    start.add_argument("--from-scratch", action="store_true", help="train from random weights instead")
    p.add_argument("--ablation", action=argparse.BooleanOptionalAction, default=True,
                   help="also evaluate the model with the instance only and with the definition only "
                        "(default; ~15 s on 2 CPU cores at the demo's size)")
    return p.parse_args(argv)


def per_task_table(results: dict[str, dict]) -> dict[str, dict[str, float]]:
    """`{task: {system: rougeL}}` from each system's metrics.json."""
    table: dict[str, dict[str, float]] = {}
    for system, metrics in results.items():
        for task, row in metrics.get("per_task", {}).items():
            table.setdefault(task, {})[system] = row["rougeL"]
    return dict(sorted(table.items()))


def plot(loss_rows: list[dict], per_task: dict[str, dict[str, float]], path: Path,
         ablation: dict[str, dict] | None = None) -> Path:
    """Training loss curve and per-task ROUGE-L of the model against the baselines (and, with `ablation`
    `{encoding: summary row}`, the model's overall ROUGE-L per instruction encoding), as one PNG."""
    import numpy as np

    plt = ex.pyplot()

    widths = [1, 2, 1] if ablation else [1, 2]
    fig, axes = plt.subplots(1, len(widths), figsize=(15 + 5 * bool(ablation), 4.8),
                             gridspec_kw={"width_ratios": widths})
    ax_loss, ax_task = axes[0], axes[1]
    if ablation:
        ax_abl = axes[2]
        labels = [label for enc, label in ABLATION if enc in ablation]
        values = [ablation[enc]["rougeL"] for enc, _ in ABLATION if enc in ablation]
        ax_abl.bar(range(len(values)), values, color="tab:blue")
        ax_abl.set_xticks(range(len(values)), [label.replace(" + ", "\n+ ") for label in labels], fontsize=8)
        ax_abl.set(title="the model, by what the prompt holds", ylabel="ROUGE-L (all held-out tasks)")
        ax_abl.grid(axis="y", alpha=0.3)
    if loss_rows:
        ax_loss.plot([r["step"] for r in loss_rows], [r["loss"] for r in loss_rows], color="tab:blue")
    ax_loss.set(title="training loss", xlabel="step", ylabel="loss")
    ax_loss.grid(alpha=0.3)
    systems = ["model", *BASELINES]
    tasks = list(per_task)
    x = np.arange(len(tasks))
    width = 0.8 / len(systems)
    for i, system in enumerate(systems):
        values = [per_task[t].get(system, 0.0) for t in tasks]
        ax_task.bar(x + (i - (len(systems) - 1) / 2) * width, values, width, label=system)
    ax_task.set_xticks(x, [t.split("_", 1)[-1][:28] for t in tasks], rotation=60, ha="right", fontsize=7)
    ax_task.set(title="ROUGE-L per held-out task", ylabel="ROUGE-L")
    ax_task.legend()
    ax_task.grid(axis="y", alpha=0.3)
    return ex.save_figure(fig, path)


def report(summary: dict, per_task: dict[str, dict[str, float]], minutes: float,
           ablation: dict[str, dict] | None = None) -> str:
    """The Markdown report of a demo run."""
    systems = ["model", *BASELINES]
    text = ["# snitk demo: t5_1_1_tiny on the bundled demo corpus\n",
            f"Held-out default-track tasks, def_pos2 encoding; wall time {minutes:.1f} min.\n",
            ex.markdown_table(["system", "ROUGE-L", "exact match", "n"],
                              [[s, summary[s]["rougeL"], summary[s]["exact_match"], summary[s]["n"]] for s in systems])]
    if ablation:
        text += ["\n## What the instruction does (the same trained model, other prompts)\n",
                 ex.markdown_table(["prompt", "encoding", "ROUGE-L", "exact match", "n"],
                                   [[label, enc, ablation[enc]["rougeL"], ablation[enc]["exact_match"], ablation[enc]["n"]]
                                    for enc, label in ABLATION if enc in ablation])]
    text += ["\n## ROUGE-L per task\n",
            ex.markdown_table(["task", *systems], [[t, *(row.get(s, 0.0) for s in systems)] for t, row in per_task.items()]),
            "\n![loss and per-task ROUGE-L](demo.png)\n"]
    return "\n".join(text)


def print_summary(summary: dict, title: str = "snitk demo — held-out tasks (default track)") -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    for col in ("system", "ROUGE-L", "exact match", "n"):
        table.add_column(col, justify="left" if col == "system" else "right")
    for system, row in summary.items():
        table.add_row(system, f"{row['rougeL']:.2f}", f"{row['exact_match']:.2f}", str(row["n"]))
    Console().print(table)


def initial_checkpoint(pretrained: Path | None) -> Path:
    """The checkpoint fine-tuning starts from: `pretrained`, else the shipped pre-trained demo model, which
    needs the bundled vocabulary (a ConfigError naming `--from-scratch` when $SNITK_VOCAB binds another)."""
    if pretrained is not None:
        return pretrained
    from snitk.demo.pretrain import SHIPPED
    from snitk.vocab import DEMO_VOCAB, resolve_vocab_path
    from snitk.vocab_identity import sha256_file

    bound = os.environ.get("SNITK_VOCAB")
    path = resolve_vocab_path(bound) if bound else None
    if path is not None and path.is_file() and sha256_file(path) != sha256_file(DEMO_VOCAB):
        raise ConfigError(f"$SNITK_VOCAB={bound}: the shipped pre-trained demo model ({SHIPPED}) was trained with "
                          f"the bundled vocabulary {DEMO_VOCAB}; pass --from-scratch, or --pretrained CHECKPOINT "
                          "pre-trained with this vocabulary (python -m snitk.demo.pretrain)")
    if not SHIPPED.is_dir():
        raise ConfigError(f"{SHIPPED}: the shipped pre-trained demo model is missing (rebuild it with "
                          f"`python -m snitk.demo.pretrain --out {SHIPPED}`), or pass --from-scratch")
    return SHIPPED


def main(argv: Sequence[str] | None = None) -> int:
    """Run the demo; exit status 0 when every stage finished."""
    args = _parse(argv)
    use_small_model_cpu_flags()  # before JAX starts
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    start = time.time()
    out = args.output_dir.resolve()
    bindings = list(args.gin)
    if not args.from_scratch:
        bindings.insert(0, f"INIT_CHECKPOINT = '{initial_checkpoint(args.pretrained).resolve()}'")
    if args.data_dir is not None:
        bindings.append(ex.data_dir_binding(args.data_dir))
    model_dir = ex.train(out / "model", args.gin_file or [DEFAULT_GIN], bindings)
    results = {"model": ex.evaluate(model_dir, out / "eval_model", encoding=args.encoding, data_dir=args.data_dir,
                                    batch_size=args.batch_size, max_decode_length=args.max_decode_length,
                                    max_per_task=args.max_per_task)}
    for kind in BASELINES:
        results[kind] = ex.baseline(kind, out / f"eval_{kind}", data_dir=args.data_dir, max_per_task=args.max_per_task)
    ablation = None
    if args.ablation:
        ablation = {}
        for enc, label in ABLATION:
            if enc == args.encoding:
                ablation[enc] = ex.summary_row(results["model"])
                continue
            log.info("ablation: evaluating the model with the %s (%s)", label, enc)
            ablation[enc] = ex.summary_row(ex.evaluate(
                model_dir, out / f"eval_model_{enc}", encoding=enc, data_dir=args.data_dir, batch_size=args.batch_size,
                max_decode_length=args.max_decode_length, max_per_task=args.max_per_task))
    summary = {name: ex.summary_row(m) for name, m in results.items()}
    per_task = per_task_table(results)
    write_json(out / "metrics.json", {**summary, "per_task": per_task, **({"ablation": ablation} if ablation else {})})
    plot(ex.read_metrics_log(model_dir), per_task, out / "demo.png", ablation)
    minutes = (time.time() - start) / 60
    write_text(out / "report.md", report(summary, per_task, minutes, ablation))
    print_summary(summary)
    if ablation:
        print_summary({f"model, {enc}": row for enc, row in ablation.items()},
                      title="the same model by what the prompt holds")
    beaten = [b for b in BASELINES if summary["model"]["rougeL"] > summary[b]["rougeL"]]
    verdict = ("beats both heuristics" if len(beaten) == len(BASELINES) else
               f"beats {beaten[0]} but NOT {next(b for b in BASELINES if b not in beaten)}" if beaten else
               "does NOT beat either heuristic")
    print(f"model {verdict} on ROUGE-L; "
          f"wrote {out}/metrics.json, report.md, demo.png in {minutes:.1f} min")
    return 0


if __name__ == "__main__":
    sys.exit(main())
