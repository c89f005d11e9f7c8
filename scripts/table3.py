#!/usr/bin/env python
"""Table 3 of the paper (main results): heuristic baselines and models, both tracks, ROUGE-L.

Each `--system NAME=PATH` is a checkpoint (decoded here with `snitk.eval`) or an official-format
predictions file (scored here), optionally per track as `NAME=default:PATH,xlingual:PATH`.

Tiny scale (demo corpus, the demo model):  python scripts/table3.py --system tk-tiny=runs/demo/model --out runs/table3
Several seeds: `--seeds 3 --system tk=runs/tk_seed{seed}/model` scores the checkpoints of seeds 0, 1, 2 (a path
without `{seed}` is one run); cells give mean ± std [95% CI over seeds x instances]; also writes table3.png.
Full scale: python scripts/table3.py --data-dir natural-instructions --system Tk-Instruct-11B=ckpt/tk11b ...
Paper (ROUGE-L, En / X-lingual): copy_input 14.20 / 5.44, copy_demo 28.54 / 50.31, Tk-Instruct 11B 62.0 / -,
mTk-Instruct 13B 57.1 / 66.1.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from snitk import experiments as ex
from snitk.atomic import write_json, write_text
from snitk.entry import run_script, script_parser
from snitk.errors import ConfigError

TRACKS = ("default", "xlingual")
PAPER = {"copy_input": (14.20, 5.44), "copy_demo": (28.54, 50.31)}


def parse_system(spec: str) -> tuple[str, dict[str, Path]]:
    name, _, rest = spec.partition("=")
    if not rest:
        raise ConfigError(f"--system {spec!r}: expected NAME=PATH or NAME=default:PATH,xlingual:PATH")
    paths: dict[str, Path] = {}
    for part in rest.split(","):
        track, sep, path = part.partition(":")
        if sep and track in TRACKS:
            paths[track] = Path(path)
        else:
            paths = {t: Path(part) for t in TRACKS}
    return name, paths


def score_system(path: Path, out: Path, track: str, args: argparse.Namespace) -> dict:
    if path.is_file():
        done = out / "metrics.json"
        if done.exists():
            import json

            return json.loads(done.read_text())
        from snitk.eval.predictions import score_predictions_file

        return score_predictions_file(path, track, args.data_dir, out)
    return ex.evaluate(path, out, track=track, encoding=args.encoding, data_dir=args.data_dir,
                       max_decode_length=args.max_decode_length)


def main() -> None:
    p = script_parser(__doc__)
    p.add_argument("--data-dir", type=Path, default=None)
    p.add_argument("--system", action="append", default=[], help="NAME=PATH (checkpoint dir or predictions.jsonl)")
    p.add_argument("--tracks", nargs="+", default=list(TRACKS), choices=TRACKS)
    p.add_argument("--encoding", default="def_pos2")
    p.add_argument("--max-decode-length", type=int, default=128)
    p.add_argument("--out", type=Path, default=Path("runs/table3"))
    p.add_argument("--seeds", type=int, default=1, help="runs per system whose PATH contains {seed} (seeds 0..N-1)")
    args = p.parse_args()
    [parse_system(spec) for spec in args.system]  # flag errors before any work
    rows: dict[str, dict[str, ex.SeedSummary]] = {}
    for kind in ("copy_input", "copy_demo"):  # deterministic: one run, instance-level interval
        for t in args.tracks:
            ex.baseline(kind, args.out / t / kind, track=t, data_dir=args.data_dir)
        rows[kind] = {t: ex.summarize_seeds([args.out / t / kind]) for t in args.tracks}
    for spec in args.system:
        name, paths = parse_system(spec)
        rows[name] = {}
        for t in (t for t in args.tracks if t in paths):
            runs = ex.seed_runs(args.out / t / name, args.seeds if "{seed}" in str(paths[t]) else 1)
            for seed, out in runs:
                score_system(Path(str(paths[t]).replace("{seed}", str(seed))), out, t, args)
            rows[name][t] = ex.summarize_seeds([out for _, out in runs])
    header = ["method", *(f"ROUGE-L {t}" for t in args.tracks), *(f"paper {t}" for t in args.tracks)]
    table = [[name, *(r[t].cell() if t in r else "-" for t in args.tracks),
              *(PAPER[name][TRACKS.index(t)] if name in PAPER else "-" for t in args.tracks)]
             for name, r in rows.items()]
    text = "# Table 3: main results (ROUGE-L)\n\n" + ex.seeds_note(args.seeds) + "\n" + ex.markdown_table(header, table)
    write_text(args.out / "table3.md", text)
    write_json(args.out / "table3.json", {"seeds": args.seeds,
                                          "rougeL": {name: {t: round(s.mean, 4) for t, s in r.items()} for name, r in rows.items()},
                                          "summary": {name: {t: s.as_json() for t, s in r.items()} for name, r in rows.items()}})
    ex.bar_chart(list(rows), {t: [r.get(t) for r in rows.values()] for t in args.tracks}, args.out / "table3.png",
                 title="Table 3: ROUGE-L on the held-out tasks")
    print(text)


if __name__ == "__main__":
    run_script(main, "table3.py")
