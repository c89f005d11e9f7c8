"""How every command-line entry point starts and ends: `--help` with examples, and errors as one line.

`script_parser(__doc__)` builds the argument parser of a script from its docstring (first line: the
description; the rest, with its example commands, is printed after the options by `--help`).
`guarded(main, prog)` runs `main` and turns a `SnitkError` into one line on stderr and exit status 1
(Ctrl-C: one line and 130), never a traceback; `run_script(main, prog)` does that and exits.
"""

from __future__ import annotations

import argparse
import sys
from typing import Callable, NoReturn

from snitk.errors import SnitkError

ERROR_STATUS = 1
INTERRUPTED_STATUS = 130


def script_parser(doc: str, prog: str | None = None) -> argparse.ArgumentParser:
    """An `ArgumentParser` whose description is `doc`'s first line and whose epilog is the rest of `doc`."""
    head, _, rest = doc.strip().partition("\n")
    return argparse.ArgumentParser(prog=prog, description=head.strip(), epilog=rest.strip("\n") or None,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)


def guarded(main: Callable[[], int | None], prog: str) -> int:
    """`main()`'s exit status; a `SnitkError` prints `prog: error: message` on stderr and gives 1."""
    try:
        return int(main() or 0)
    except SnitkError as exc:
        message = " ".join(str(exc).split()) or type(exc).__name__
        print(f"{prog}: error: {message}", file=sys.stderr)
        return ERROR_STATUS
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return INTERRUPTED_STATUS


def run_script(main: Callable[[], int | None], prog: str) -> NoReturn:
    """Exit the process with `guarded(main, prog)`'s status (the `if __name__ == "__main__"` of scripts)."""
    sys.exit(guarded(main, prog))
