#!/usr/bin/env python
"""A rehearsal of the paper's reproduction at toy scale, on any repository-format data dir.

    python scripts/rehearse.py --data-dir data/natural-instructions --out runs/rehearsal --steps 20 --max-per-task 100

Walks the path a researcher takes: (1) validate every task file and split list (metadata quirks are
warnings), (2) corpus statistics of both tracks, (3) train a tiny T5 for a few steps on the default
track's training tasks with the paper's def_pos2 encoding and the official collator's truncation
(`configs/experiments/rehearsal_cpu.gin`), (4) evaluate it on the held-out tasks of both tracks, (5) score
both heuristic baselines (copy_input, copy_demo) on the same instances, and (6) write the Table-3 rows,
overall and per category, as `table3.md` and `table3.json` under --out.

Listed task files that are absent (a partial copy of the repository) are reported and left out: the run
uses a view of the data dir whose split lists name only the present tasks (`OUT/data`). The
cross-lingual metric uses GPT-2's BPE ranks shipped with snitk (--gpt2-bpe or $SNITK_GPT2_BPE override
them). A rerun skips finished stages.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any, Sequence

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from snitk import experiments as ex  # noqa: E402
from snitk.atomic import write_json, write_text  # noqa: E402
from snitk.entry import run_script, script_parser  # noqa: E402
from snitk.errors import ConfigError, SnitkError  # noqa: E402

TRACKS = ("default", "xlingual")
BASELINES = ("copy_input", "copy_demo")
GIN_FILE = "experiments/rehearsal_cpu.gin"


def present_view(data_dir: Path, out: Path) -> tuple[Path, dict[str, int]]:
    """`data_dir` itself when every listed task file exists, else a view at `out` (tasks/ linked, split
    lists restricted to the present files); returns (dir, {track/split: missing count})."""
    from snitk.natinst.corpus import Corpus

    missing: dict[str, int] = {}
    for track in TRACKS:
        corpus = Corpus(data_dir, track)
        for split in ("train", "test"):
            if corpus.split_path(split).is_file():
                missing[f"{track}/{split}"] = len(corpus.missing_tasks(split))
    if not any(missing.values()):
        return data_dir, missing
    tasks = out / "tasks"
    if not tasks.exists():
        out.mkdir(parents=True, exist_ok=True)
        tasks.symlink_to(Corpus(data_dir, "default").task_dir.resolve(), target_is_directory=True)
    for track in TRACKS:
        src = data_dir / "splits" / track
        for lst in sorted(src.glob("*_tasks.txt")):
            names = [n for n in lst.read_text(encoding="utf-8").split() if (tasks / f"{n}.json").is_file()]
            write_text(out / "splits" / track / lst.name, "".join(n + "\n" for n in names))
    return out, missing


def _rows(metrics: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """{"overall": {system: rougeL}, "per_category": {category: {system: rougeL}}} of one track."""
    overall = {name: m["overall"]["rougeL"] for name, m in metrics.items()}
    cats: dict[str, dict[str, float]] = {}
    for name, m in metrics.items():
        for cat, row in m["per_category"].items():
            cats.setdefault(cat, {})[name] = row["rougeL"]
    return {"overall": overall, "per_category": dict(sorted(cats.items())),
            "n": {name: m["overall"]["n"] for name, m in metrics.items()}}


def _markdown(table: dict[str, Any]) -> str:
    systems = [*BASELINES, "model"]
    parts = ["# Rehearsal: Table 3 at toy scale (ROUGE-L)\n",
             f"Data: `{table['data_dir']}`; model: {table['settings']['train_steps']} training steps "
             f"(`{GIN_FILE}`), {table['settings']['max_per_task']} instances per test task.\n"]
    for track, rows in table["tracks"].items():
        parts.append(f"\n## {track} track\n\n")
        body = [["**overall**", *(rows["overall"].get(s, "-") for s in systems)]]
        body += [[cat, *(r.get(s, "-") for s in systems)] for cat, r in rows["per_category"].items()]
        parts.append(ex.markdown_table(["category", *systems], body))
    for track, why in table.get("skipped", {}).items():
        parts.append(f"\n{track} track skipped: {why}\n")
    return "".join(parts)


def rehearse(data_dir: Path, out: Path, *, steps: int, max_per_task: int, gpt2_bpe: str | None,
             bindings: Sequence[str] = (), batch_size: int = 32, max_decode_length: int = 128,
             input_length: int = 256) -> dict[str, Any]:
    """Run the six stages (see the module docstring); returns the Table-3 JSON."""
    from snitk.data import corpus_stats, validate_dir

    out.mkdir(parents=True, exist_ok=True)
    print(f"[1/6] validate {data_dir}")
    warnings: list[str] = []
    problems = validate_dir(data_dir / "tasks", warnings=warnings, quiet=True)
    write_json(out / "validate.json", {"problems": problems, "warnings": warnings})
    if problems:
        raise SnitkError(f"{data_dir}: {len(problems)} invalid task file(s) or split list(s), e.g. {problems[0]} "
                         f"(all in {out / 'validate.json'})")
    print(f"      OK, {len(warnings)} warning(s) (metadata quirks, missing listed files)")
    print("[2/6] stats")
    stats = [corpus_stats(data_dir, t, quiet=True) for t in TRACKS]
    write_json(out / "stats.json", stats)
    view, missing = present_view(data_dir, out / "data")
    if view != data_dir:
        print(f"      listed task files absent (left out): {missing}; using the view {view}")

    print(f"[3/6] train ({GIN_FILE}, {steps} steps, def_pos2 truncated as the official collator)")
    import snitk.tasks  # noqa: F401 - registers the configurables the bindings name

    model_dir = out / "model"
    # the prompt budget is the input length, as in the paper configs (`_len{L}` = TASK_FEATURE_LENGTHS inputs)
    ex.train(model_dir, [GIN_FILE], [ex.data_dir_binding(view), f"TRAIN_STEPS = {steps}", f"SAVE_PERIOD = {steps}",
                                     f"MIXTURE_OR_TASK_NAME = 'snitk_default_def_pos2_inst8_len{input_length}'",
                                     f"TASK_FEATURE_LENGTHS = {{'inputs': {input_length}, 'targets': 64}}",
                                     *bindings])

    tracks: dict[str, Any] = {}
    skipped: dict[str, str] = {}
    for track in TRACKS:
        if track == "xlingual":
            from snitk.eval.tokenizers import get_gpt2_tokenizer

            try:
                get_gpt2_tokenizer(gpt2_bpe)
            except SnitkError as exc:
                skipped[track] = str(exc)
                print(f"      {track} track skipped: {exc}")
                continue
        print(f"[4/6] evaluate the model, {track} track")
        metrics = {"model": ex.evaluate(model_dir, out / "eval" / track / "model", track=track, data_dir=view,
                                        max_per_task=max_per_task, gpt2_bpe=gpt2_bpe, batch_size=batch_size,
                                        max_decode_length=max_decode_length, max_input_length=input_length)}
        print(f"[5/6] baselines, {track} track")
        for kind in BASELINES:
            metrics[kind] = ex.baseline(kind, out / "eval" / track / kind, track=track, data_dir=view,
                                        max_per_task=max_per_task, gpt2_bpe=gpt2_bpe)
        tracks[track] = _rows(metrics)
    table = {"data_dir": str(data_dir), "view": str(view), "missing_listed_tasks": missing, "tracks": tracks,
             "skipped": skipped, "settings": {"train_steps": steps, "max_per_task": max_per_task, "gin": GIN_FILE,
                                              "bindings": list(bindings), "input_length": input_length}}
    print("[6/6] Table-3 rows")
    write_json(out / "table3.json", table)
    text = _markdown(table)
    write_text(out / "table3.md", text)
    print(text)
    return table


def main(argv: Sequence[str] | None = None) -> int:
    p = script_parser(__doc__)
    p.add_argument("--data-dir", type=Path, required=True, help="natural-instructions layout (tasks/, splits/)")
    p.add_argument("--out", type=Path, default=Path("runs/rehearsal"))
    p.add_argument("--steps", type=int, default=20, help="training steps of the toy model")
    p.add_argument("--max-per-task", type=int, default=100, help="instances per test task (official: 100)")
    p.add_argument("--batch-size", type=int, default=32, help="decoding batch")
    p.add_argument("--max-decode-length", type=int, default=128, help="HF max_length of the predictions")
    p.add_argument("--input-length", type=int, default=256, help="input tokens = the prompt budget (paper: 1024)")
    p.add_argument("--gpt2-bpe", default=os.environ.get("SNITK_GPT2_BPE"), help="GPT-2 .tiktoken ranks (xlingual)")
    p.add_argument("--gin", action="append", default=[], help="extra gin binding for training (repeatable)")
    args = p.parse_args(argv)
    for flag in ("steps", "max_per_task", "batch_size", "max_decode_length", "input_length"):
        if getattr(args, flag) < 1:
            raise ConfigError(f"--{flag.replace('_', '-')} {getattr(args, flag)}: expected a positive count")
    import logging

    from snitk.paths import resolve

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:  # gin logs every search-path miss of an include
        handler.addFilter(lambda r: not str(r.msg).startswith(("Path not found", "system_path_file_exists")))

    rehearse(Path(resolve(args.data_dir)), Path(resolve(args.out)), steps=args.steps,
             max_per_task=args.max_per_task, gpt2_bpe=args.gpt2_bpe, bindings=args.gin,
             batch_size=args.batch_size, max_decode_length=args.max_decode_length,
             input_length=args.input_length)
    return 0


if __name__ == "__main__":
    run_script(main, "rehearse.py")
