"""The `snitk` console command: `snitk data ...`, `snitk models ...`, `snitk train ...`, `snitk eval ...`, `snitk demo`."""

from __future__ import annotations

import argparse
import importlib
import sys

from snitk.entry import guarded

COMMANDS = {
    "data": ("snitk.data", "prepare, validate, render and list the natural-instructions data"),
    "models": ("snitk.models.__main__", "model info, generate, score and checkpoint conversion"),
    "train": ("snitk.training.train", "train a model (gin-configured, t5x style)"),
    "eval": ("snitk.eval.__main__", "decode held-out tasks and score them with the official protocol"),
    "demo": ("snitk.demo.run", "the main job: train, evaluate and report on the bundled demo corpus"),
}


def path_arg(text: str) -> str:
    """argparse type of every path flag: relative paths become absolute (``snitk.paths.resolve``)."""
    from snitk.paths import resolve

    if not text:
        raise argparse.ArgumentTypeError("expected a path, got an empty string")
    return str(resolve(text))


def positive_int(text: str) -> int:
    """argparse type of counts and budgets: an integer >= 1 (negative or zero values are rejected)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def _usage() -> str:
    lines = ["usage: snitk COMMAND [ARGS ...]", "", "commands:"]
    lines += [f"  {name:<8} {help_}" for name, (_, help_) in COMMANDS.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Dispatch `snitk COMMAND ...` to the module that implements COMMAND."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in {"-h", "--help"}:
        print(_usage())
        return 0
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"snitk: unknown command {name!r}\n\n{_usage()}", file=sys.stderr)
        return 2
    module = importlib.import_module(COMMANDS[name][0])
    return guarded(lambda: module.main(rest), f"snitk {name}")


if __name__ == "__main__":
    sys.exit(main())
