#!/usr/bin/env python
"""Scaling studies (paper Figure 5): ROUGE-L against the number of training tasks, instances per task,
or model size, each run trained and evaluated on the held-out tasks; writes a table and a PNG curve.

Tiny scale:  python scripts/scaling.py --axis tasks --values 8 16 32 64 --gin "TRAIN_STEPS = 60"
             python scripts/scaling.py --axis instances --values 8 32 100 --gin "TRAIN_STEPS = 60"
             python scripts/scaling.py --axis size --values t5_1_1_tiny t5_1_1_small --gin "TRAIN_STEPS = 60"
             (add --seeds 3 to train every setting with seeds 0, 1, 2: mean, std, 95% CI, fitted slope)
Full scale (paper): tasks 6..757, instances 8..6400 (or `all`), sizes small..xxl, with a full-scale gin file.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from snitk import experiments as ex
from snitk.atomic import write_json, write_text
from snitk.entry import run_script, script_parser
from snitk.xla_cpu import use_small_model_cpu_flags

AXES = {
    # axis: (gin binding template, x-axis label)
    "tasks": ("MIXTURE_OR_TASK_NAME = 'snitk_{track}_{encoding}_tasks{v}'", "number of training tasks"),
    "instances": ("MIXTURE_OR_TASK_NAME = 'snitk_{track}_{encoding}_inst{v}'", "training instances per task"),
    # the preset as published: drop the demo gin's width/depth overrides
    "size": ("model.preset = '{v}'\nmodel.overrides = {{}}", "model"),
}


def binding(axis: str, value: str, track: str, encoding: str) -> str:
    """The gin binding that sets `axis` to `value` (task names follow `snitk.tasks.register_by_name`)."""
    return AXES[axis][0].format(v=value, track=track, encoding=encoding)


def x_values(axis: str, values: list[str]) -> list[float]:
    """The numeric x of each setting (parameters for `size`; NaN for `all`)."""
    if axis == "size":
        from snitk.models.configs import get_preset
        from snitk.models.model import num_params

        return [float(num_params(get_preset(v))) for v in values]
    return [float("nan") if v == "all" else float(v) for v in values]


def main() -> None:
    use_small_model_cpu_flags()  # before JAX starts; a no-op off CPU
    p = script_parser(__doc__)
    p.add_argument("--axis", choices=sorted(AXES), required=True)
    p.add_argument("--values", nargs="+", required=True)
    p.add_argument("--gin_file", action="append", default=None, help="base gin (default experiments/demo_cpu.gin)")
    p.add_argument("--gin", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--track", default="default")
    p.add_argument("--encoding", default="def_pos2")
    p.add_argument("--data-dir", type=Path, default=None)
    p.add_argument("--max-decode-length", type=int, default=32)
    p.add_argument("--out", type=Path, default=None)
    p.add_argument("--seeds", type=int, default=1, help="runs per setting (gin SEED = 0..N-1; default 1)")
    args, unknown = p.parse_known_args()
    out = args.out or Path("runs") / f"scaling_{args.axis}"
    bindings = args.gin + [u[len("--gin."):] for u in unknown if u.startswith("--gin.")]
    if args.data_dir:
        bindings.append(ex.data_dir_binding(args.data_dir))
    summaries = []
    for value in args.values:
        models = ex.train_seeds(out / f"{args.axis}_{value}", args.seeds, args.gin_file or ["experiments/demo_cpu.gin"],
                                [*bindings, f"MIXTURE_OR_TASK_NAME = 'snitk_{args.track}_{args.encoding}'",
                                 binding(args.axis, value, args.track, args.encoding)])
        summaries.append(ex.evaluate_seeds(models, "eval", track=args.track, encoding=args.encoding,
                                           data_dir=args.data_dir, max_decode_length=args.max_decode_length))
    xs = x_values(args.axis, args.values)
    trend = ex.loglinear_trend(xs, summaries)
    text = (f"# Scaling: {AXES[args.axis][1]}\n\n" + ex.seeds_note(args.seeds)
            + "\n" + ex.markdown_table([args.axis, "ROUGE-L"], [(v, s.cell()) for v, s in zip(args.values, summaries)])
            + (f"\n{trend.describe()}\n" if trend else ""))
    write_text(out / "scaling.md", text)
    write_json(out / "scaling.json", {"axis": args.axis, "values": args.values, "seeds": args.seeds,
                                      "rougeL": [round(s.mean, 4) for s in summaries],
                                      "summary": [s.as_json() for s in summaries],
                                      "fit": None if trend is None else trend.__dict__})
    ex.scaling_plot(xs, args.values, summaries, out / "scaling.png", trend=trend,
                    xlabel=AXES[args.axis][1] + (" (parameters)" if args.axis == "size" else ""),
                    title=f"scaling: {AXES[args.axis][1]}")
    print(text)


if __name__ == "__main__":
    run_script(main, "scaling.py")
