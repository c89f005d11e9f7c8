#!/usr/bin/env python
"""Instruction-element ablation (paper Table 4 / Figure 7): train on each encoding, evaluate on each.

Writes `OUT/ablation.md` (the train × eval ROUGE-L matrix), `OUT/ablation.png` (a heatmap) and
`OUT/ablation_bars.png` (the same scores as bars with 95% error bars). `--seeds N` trains each encoding N times.
Tiny scale:  python scripts/ablation.py --gin "TRAIN_STEPS = 60" --train-encodings def pos2 def_pos2
Full scale:  python scripts/ablation.py --gin_file experiments/tk_instruct_3b_8gpu.gin --data-dir natural-instructions
"""

from __future__ import annotations

from pathlib import Path

from snitk import experiments as ex
from snitk.atomic import write_json, write_text
from snitk.entry import run_script, script_parser
from snitk.xla_cpu import use_small_model_cpu_flags

ENCODINGS = ["task_name", "def", "pos1", "pos2", "def_pos1", "def_pos2", "def_pos2_neg2", "def_pos2_expl",
             "def_pos2_neg2_expl"]


def heatmap(matrix: list[list[float]], train: list[str], evals: list[str], path: Path) -> None:
    plt = ex.pyplot()

    fig, ax = plt.subplots(figsize=(1.1 * len(evals) + 3, 0.6 * len(train) + 2))
    image = ax.imshow(matrix, cmap="viridis")
    ax.set_xticks(range(len(evals)), evals, rotation=45, ha="right")
    ax.set_yticks(range(len(train)), train)
    ax.set(xlabel="evaluation encoding", ylabel="training encoding", title="ROUGE-L (held-out tasks)")
    for i, row in enumerate(matrix):
        for j, value in enumerate(row):
            ax.text(j, i, f"{value:.1f}", ha="center", va="center", color="w", fontsize=8)
    fig.colorbar(image, ax=ax)
    ex.save_figure(fig, path)


def main() -> None:
    use_small_model_cpu_flags()  # before JAX starts; a no-op off CPU
    p = script_parser(__doc__)
    p.add_argument("--gin_file", action="append", default=None, help="base gin (default experiments/demo_cpu.gin)")
    p.add_argument("--gin", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--train-encodings", nargs="+", default=ENCODINGS)
    p.add_argument("--eval-encodings", nargs="+", default=None, help="default: same as --train-encodings")
    p.add_argument("--track", default="default")
    p.add_argument("--data-dir", type=Path, default=None)
    p.add_argument("--max-decode-length", type=int, default=32)
    p.add_argument("--out", type=Path, default=Path("runs/ablation"))
    p.add_argument("--seeds", type=int, default=1, help="runs per training encoding (gin SEED = 0..N-1; default 1)")
    args, unknown = p.parse_known_args()
    bindings = args.gin + [u[len("--gin."):] for u in unknown if u.startswith("--gin.")]
    if args.data_dir:
        bindings.append(ex.data_dir_binding(args.data_dir))
    evals = args.eval_encodings or args.train_encodings
    summaries = []
    for enc in args.train_encodings:
        models = ex.train_seeds(args.out / f"train_{enc}", args.seeds, args.gin_file or ["experiments/demo_cpu.gin"],
                                [*bindings, f"MIXTURE_OR_TASK_NAME = 'snitk_{args.track}_{enc}'"], model_subdir="")
        summaries.append([ex.evaluate_seeds(models, f"eval_{ev}", track=args.track, encoding=ev, data_dir=args.data_dir,
                                            max_decode_length=args.max_decode_length) for ev in evals])
    matrix = [[round(s.mean, 4) for s in row] for row in summaries]
    text = "# Instruction-element ablation (ROUGE-L; rows: training encoding, columns: evaluation encoding)\n\n"
    text += ex.seeds_note(args.seeds) + "\n"
    text += ex.markdown_table(["train \\ eval", *evals],
                              [[t, *(s.cell() for s in row)] for t, row in zip(args.train_encodings, summaries)])
    write_text(args.out / "ablation.md", text)
    write_json(args.out / "ablation.json", {"train": args.train_encodings, "eval": evals, "rougeL": matrix,
                                            "seeds": args.seeds, "summary": [[s.as_json() for s in row] for row in summaries]})
    heatmap(matrix, args.train_encodings, evals, args.out / "ablation.png")
    ex.bar_chart(args.train_encodings, {ev: [row[j] for row in summaries] for j, ev in enumerate(evals)},
                 args.out / "ablation_bars.png", title="ROUGE-L by training (groups) and evaluation (bars) encoding")
    print(text)


if __name__ == "__main__":
    run_script(main, "ablation.py")
