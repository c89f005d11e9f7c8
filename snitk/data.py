"""`python -m snitk.data` / `snitk data`: download, validate, stats, render and list-tasks.

    snitk data download --data-dir D [--url URL] [--expect-tasks N] [--force]
    snitk data validate --task-dir DIR
    snitk data stats [--data-dir D] [--track default|xlingual|all] [--json]
    snitk data render --task-dir DIR [--task NAME ...] --encoding ENC [--limit N]
                      [--token-budget N --vocab PATH [--truncation official|keep-tail]] [--seed S]
    snitk data list-tasks
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections import Counter
from pathlib import Path
from typing import Any, Sequence

from snitk.cli import path_arg, positive_int
from snitk.errors import ConfigError, DataError, SnitkError
from snitk.paths import resolve

log = logging.getLogger(__name__)


def _task_files(task_dir: Path, names: Sequence[str] | None) -> list[Path]:
    from snitk.natinst.corpus import find_task_dir, list_task_files

    if not task_dir.is_dir():
        raise DataError(task_dir, None, "task directory not found")
    tdir = find_task_dir(task_dir)
    if not names:
        files = list_task_files(tdir)
        if not files:
            raise DataError(tdir, None, "no task files (*.json) found")
        return files
    files = []
    for name in names:
        stem = name[:-5] if name.endswith(".json") else name
        path = tdir / f"{stem}.json"
        if not path.is_file():
            raise DataError(path, None, f"task {stem!r} not found in {tdir}")
        files.append(path)
    return files


# -- render -------------------------------------------------------------------------------------
def cmd_render(args: argparse.Namespace) -> int:
    from snitk import prompts
    from snitk.natinst.schema import load_task

    prompts.get_encoding(args.encoding)  # fail early on unknown names
    vocab = None
    if args.token_budget is not None:
        from snitk.vocab import get_vocabulary

        vocab = get_vocabulary(args.vocab)
    out = sys.stdout
    for path in _task_files(resolve(args.task_dir), args.task):
        task = load_task(path, first=args.limit)
        for inst in task.instances:
            row = prompts.render_example(
                task, inst, args.encoding, token_budget=args.token_budget, vocab=vocab, truncation=args.truncation, seed=args.seed
            )
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
    out.flush()
    return 0


# -- validate -----------------------------------------------------------------------------------
def _split_dirs(task_dir: Path) -> list[Path]:
    cands = [task_dir / "splits"]
    if task_dir.name == "tasks":
        cands.append(task_dir.parent / "splits")
    return [c for c in cands if c.is_dir()]


def validate_dir(
    task_dir: str | Path, *, strict_splits: bool = False, quiet: bool = False, warnings: list[str] | None = None
) -> list[str]:
    """Validate every task file and split list under `task_dir`; return one message per problem.

    Tolerated metadata quirks (see snitk.natinst.schema) are appended to `warnings`, as are listed
    tasks without a file (those are problems with `strict_splits`).
    """
    from tqdm import tqdm

    from snitk.natinst.corpus import find_task_dir
    from snitk.natinst.schema import read_split_list, validate_file

    task_dir = resolve(task_dir)
    problems: list[str] = []
    files = _task_files(task_dir, None)
    for path in tqdm(files, desc="validate", unit="task", disable=quiet or len(files) < 50):
        try:
            task = validate_file(path)
        except DataError as exc:
            problems.append(str(exc))
            continue
        if warnings is not None:
            warnings.extend(task.warnings)
    present = {p.stem for p in files}
    tdir = find_task_dir(task_dir)
    for sdir in _split_dirs(task_dir):
        for track_dir in sorted(p for p in sdir.iterdir() if p.is_dir()):
            lists: dict[str, list[str]] = {}
            for lst in sorted(track_dir.glob("*_tasks.txt")):
                try:
                    lists[lst.stem.replace("_tasks", "")] = names = read_split_list(lst)
                except DataError as exc:
                    problems.append(str(exc))
                    continue
                missing = [n for n in names if n not in present]
                if missing:
                    msg = f"{lst}: {len(missing)} listed task(s) have no file in {tdir}: {', '.join(missing[:5])}"
                    if strict_splits:
                        problems.append(msg)
                    elif warnings is not None:
                        warnings.append(msg)
            if "train" in lists and "test" in lists:
                both = sorted(set(lists["train"]) & set(lists["test"]))
                if both:
                    problems.append(f"{track_dir}: {len(both)} task(s) in both train and test: {', '.join(both[:5])}")
    return problems


def cmd_validate(args: argparse.Namespace) -> int:
    warnings: list[str] = []
    problems = validate_dir(args.task_dir, strict_splits=args.strict_splits, quiet=args.quiet, warnings=warnings)
    for w in warnings:
        print(f"WARNING {w}", file=sys.stderr)
    for p in problems:
        print(f"INVALID {p}", file=sys.stderr)
    n = len(_task_files(resolve(args.task_dir), None))
    bad_files = len({p.split(":")[0] for p in problems})
    if problems:
        print(f"{len(problems)} problem(s) in {bad_files} file(s); {n} task file(s) checked", file=sys.stderr)
        return 1
    print(f"OK: {n} task file(s) valid")
    return 0


# -- stats --------------------------------------------------------------------------------------
def corpus_stats(data_dir: str | Path | None, track: str, *, quiet: bool = False) -> dict[str, Any]:
    """Per split: tasks listed / present, instances, categories and languages."""
    from tqdm import tqdm

    from snitk.natinst.corpus import SPLITS, Corpus
    from snitk.natinst.schema import validate_file

    corpus = Corpus(data_dir, track)
    if not any(corpus.split_path(split).is_file() for split in SPLITS):
        raise DataError(corpus.split_dir, None, f"no split lists; expected splits/{track}/{{train,test}}_tasks.txt "
                        "in the data dir (the natural-instructions repository layout)")
    out: dict[str, Any] = {"data_dir": str(corpus.data_dir), "track": track, "splits": {}}
    for split in SPLITS:
        if not corpus.split_path(split).is_file():
            continue
        names = corpus.task_names(split)
        present = [n for n in names if corpus.task_path(n).is_file()]
        cats: Counter[str] = Counter()
        langs: Counter[str] = Counter()
        instances = 0
        for name in tqdm(present, desc=f"{track}/{split}", unit="task", disable=quiet or len(present) < 50):
            task = validate_file(corpus.task_path(name))
            instances += task.num_instances
            cats[task.category] += 1
            for lang in sorted(task.languages):
                langs[lang] += 1
        out["splits"][split] = {
            "listed": len(names),
            "present": len(present),
            "instances": instances,
            "categories": dict(cats.most_common()),
            "languages": dict(langs.most_common()),
        }
    return out


def _fmt_counter(d: dict[str, int], k: int = 4) -> str:
    items = list(d.items())
    s = ", ".join(f"{n} ({c})" for n, c in items[:k])
    return s + (f", +{len(items) - k} more" if len(items) > k else "")


def cmd_stats(args: argparse.Namespace) -> int:
    tracks = ["default", "xlingual"] if args.track == "all" else [args.track]
    results = [corpus_stats(args.data_dir, t, quiet=args.quiet) for t in tracks]
    if args.json:
        print(json.dumps(results if len(results) > 1 else results[0], indent=2, ensure_ascii=False))
        return 0
    for res in results:
        print(f"data dir: {res['data_dir']}   track: {res['track']}")
        header = f"{'split':<9} {'listed':>6} {'present':>7} {'instances':>10} {'#cat':>5} {'#lang':>5}  top categories / languages"
        print(header)
        print("-" * len(header))
        for split, s in res["splits"].items():
            print(
                f"{split:<9} {s['listed']:>6} {s['present']:>7} {s['instances']:>10} {len(s['categories']):>5} "
                f"{len(s['languages']):>5}  {_fmt_counter(s['categories'])} / {_fmt_counter(s['languages'], 3)}"
            )
        print()
    return 0


# -- download / list-tasks ----------------------------------------------------------------------
def cmd_download(args: argparse.Namespace) -> int:
    from snitk.natinst.download import DEFAULT_URL, download

    url = args.url or DEFAULT_URL
    expect = args.expect_tasks if args.expect_tasks is not None else -1
    if expect == 0:
        expect = None
    path = download(args.data_dir, url, expect_tasks=expect, force=args.force, quiet=args.quiet)
    from snitk.natinst.download import count_tasks

    print(f"{path}: {count_tasks(path)} task files")
    return 0


def cmd_list_tasks(args: argparse.Namespace) -> int:
    try:
        from snitk.tasks import list_task_names
    except ImportError as exc:
        print(f"list-tasks: the seqio task registry (snitk.tasks.list_task_names) is not available: {exc}", file=sys.stderr)
        return 1
    for name in list_task_names():
        print(name)
    return 0


# -- entry point --------------------------------------------------------------------------------
def _nonnegative_int(text: str) -> int:
    if text.strip() == "0":
        return 0
    return positive_int(text)


def build_parser() -> argparse.ArgumentParser:
    from snitk.prompts import ENCODINGS, TRUNCATIONS

    p = argparse.ArgumentParser(prog="snitk data", description="Natural-instructions data: download, validate, stats, render.")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    sub = p.add_subparsers(dest="command", required=True)

    d = sub.add_parser("download", parents=[common], help="fetch the natural-instructions repository into a data dir")
    d.add_argument("--data-dir", required=True, type=path_arg, help="target folder (gets tasks/ and splits/)")
    d.add_argument("--url", default=None, help="archive URL or file:// path (default: GitHub master .tar.gz)")
    d.add_argument("--expect-tasks", type=_nonnegative_int, default=None, help="required task count (default 1616 for the default URL; 0 = no check)")
    d.add_argument("--force", action="store_true", help="re-download and replace an existing data dir")
    d.set_defaults(func=cmd_download)

    v = sub.add_parser("validate", parents=[common], help="validate every task file (and split lists) of a folder")
    v.add_argument("--task-dir", required=True, type=path_arg)
    v.add_argument("--strict-splits", action="store_true", help="listed tasks without a file are errors, not warnings")
    v.set_defaults(func=cmd_validate)

    s = sub.add_parser("stats", parents=[common], help="tasks per split, instances, categories, languages")
    s.add_argument("--data-dir", default=None, type=path_arg, help="default: $SNITK_DATA_DIR or the bundled tasks/")
    s.add_argument("--track", choices=["default", "xlingual", "all"], default="default")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_stats)

    r = sub.add_parser("render", parents=[common], help="print rendered prompts as JSON lines {task,id,inputs,targets}")
    r.add_argument("--task-dir", required=True, type=path_arg)
    r.add_argument("--task", nargs="+", action="extend", default=None, help="task names (default: every task in the dir)")
    r.add_argument("--encoding", default="def_pos2", choices=list(ENCODINGS))
    r.add_argument("--limit", type=positive_int, default=None, help="at most N instances per task (first N in file order)")
    r.add_argument("--token-budget", type=positive_int, default=None, help="max input tokens (needs a vocabulary)")
    r.add_argument("--vocab", default=None, type=path_arg, help="SentencePiece model (default $SNITK_VOCAB or the demo vocabulary)")
    r.add_argument("--truncation", choices=list(TRUNCATIONS), default="official")
    r.add_argument("--seed", type=int, default=0, help="seed of the tk_mix choice")
    r.set_defaults(func=cmd_render)

    lt = sub.add_parser("list-tasks", parents=[common], help="print the registered seqio task names")
    lt.set_defaults(func=cmd_list_tasks)
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of `python -m snitk.data` (returns the exit status)."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args) or 0)
    except (SnitkError, ConfigError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
