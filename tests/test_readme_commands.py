"""Every command in README.md runs as written (or in the stand-in its marker states), in README order.

The README's convention (documented in its Quickstart): commands live in ```bash blocks (```python blocks
run as one script); an HTML comment right before a block, `<!-- readme-test: DIRECTIVE; ... -->`, states
the stand-in for commands a test machine cannot run as written:

    remove `TEXT`              delete TEXT from each command of the block that contains it
    replace `OLD` with `NEW`   substitute in each command of the block that contains OLD
    append `ARGS`              add ARGS to every command of the block (before a trailing `# comment`)
    parallel                   the block's commands are independent: run them two at a time
    setup `COMMAND`            run COMMAND before the block's commands
    needs `PATH`               report the block as skipped when PATH (e.g. ../shared/...) is absent
    skip: REASON               do not run the block; report it with REASON

`remove` and `replace` must change at least one command (a stale marker fails the lint test). The run
uses a fresh working directory: a copy of the repository's files (what git tracks, plus untracked files
git does not ignore) in a temporary folder, `../shared` beside it linked to the real one when present,
the installed virtual environment's `python` / `snitk` first on PATH, the copy first on PYTHONPATH, no
SNITK_* variables, and the network closed (proxies pointed at a dead local port, HF/tiktoken offline, an
empty tiktoken cache). A persistent JAX compilation cache shared by the commands only saves compile time.
The run prints a table of every command with its outcome (shown by `pytest -rA`, and in the failure).
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
SHELL_LANGS = {"bash", "sh", "shell", "console"}
PYTHON_LANGS = {"python", "py"}
TEXT_LANGS = {"text", "gin", "json", "jsonl", "yaml", "toml", "ini", "diff", "markdown", "md", "csv", "txt"}
COMMAND_TIMEOUT_S = 420
PARALLEL_COMMANDS = 2  # the CI machine's cores
# One spelling per job: the console form and the module form must not both appear in README.md.
SPELLINGS = {"data": "snitk.data", "models": "snitk.models", "train": "snitk.train", "eval": "snitk.eval",
             "demo": "snitk.demo.run"}

MARKER_RE = re.compile(r"<!--\s*readme-test:(.*?)-->", re.S)
FENCE_RE = re.compile(r"^```([^\s`]*)\s*$")
DIRECTIVE_RE = re.compile(
    r"\s*(?:skip:\s*(?P<skip>.+)"
    r"|needs\s+`(?P<needs>[^`]+)`"
    r"|setup\s+`(?P<setup>[^`]+)`"
    r"|remove\s+`(?P<remove>[^`]+)`"
    r"|replace\s+`(?P<old>[^`]+)`\s+with\s+`(?P<new>[^`]*)`"
    r"|append\s+`(?P<append>[^`]+)`"
    r"|(?P<parallel>parallel))\s*(?:;|$)", re.S)


@dataclasses.dataclass
class Marker:
    """The stand-in directives of one `<!-- readme-test: ... -->` comment."""

    text: str
    skip: str | None = None
    needs: list[str] = dataclasses.field(default_factory=list)
    setup: list[str] = dataclasses.field(default_factory=list)
    edits: list[tuple[str, str]] = dataclasses.field(default_factory=list)  # (old, new); remove: new == ""
    append: list[str] = dataclasses.field(default_factory=list)
    parallel: bool = False

    @classmethod
    def parse(cls, text: str, line: int) -> Marker:
        body = " ".join(text.split())
        marker, pos = cls(text=body), 0
        while pos < len(body):
            m = DIRECTIVE_RE.match(body, pos)
            if not m or m.end() == pos:
                raise ValueError(f"README.md:{line}: cannot read readme-test directive at {body[pos:pos + 60]!r}")
            g = m.groupdict()
            if g["skip"]:
                marker.skip = g["skip"].strip()
            elif g["needs"]:
                marker.needs.append(g["needs"])
            elif g["setup"]:
                marker.setup.append(g["setup"])
            elif g["remove"]:
                marker.edits.append((g["remove"], ""))
            elif g["old"]:
                marker.edits.append((g["old"], g["new"]))
            elif g["parallel"]:
                marker.parallel = True
            else:
                marker.append.append(g["append"])
            pos = m.end()
        return marker


@dataclasses.dataclass
class Block:
    """A fenced code block of the README and the marker written right before it."""

    line: int  # of the opening fence, 1-based
    lang: str
    code: str
    marker: Marker | None


@dataclasses.dataclass
class Command:
    line: int
    written: str  # as in the README
    run: str | None  # what is executed (None: not run)
    note: str = ""  # marker skip reason / setup
    parallel: int = 0  # > 0: may run concurrently with the other commands of its block (the block's line)


@dataclasses.dataclass
class Outcome:
    command: Command
    status: str  # ok, FAILED (rc N), skipped
    seconds: float = 0.0
    cpu_seconds: float = 0.0  # user + system time of the command's processes
    log_tail: str = ""


def parse_readme(text: str) -> list[Block]:
    """Fenced blocks with their markers; a marker must be followed (blank lines aside) by a block."""
    lines = text.splitlines()
    blocks: list[Block] = []
    pending: tuple[int, Marker] | None = None
    i = 0
    while i < len(lines):
        stripped = lines[i].strip()
        if stripped.startswith("<!--") and "readme-test:" in stripped:
            start, chunk = i, lines[i]
            while "-->" not in chunk:
                i += 1
                chunk += "\n" + lines[i]
            if pending:
                raise ValueError(f"README.md:{pending[0]}: readme-test marker not followed by a code block")
            pending = (start + 1, Marker.parse(MARKER_RE.search(chunk).group(1), start + 1))
        elif (fence := FENCE_RE.match(stripped)) is not None:
            start, body = i, []
            i += 1
            while i < len(lines) and lines[i].strip() != "```":
                body.append(lines[i])
                i += 1
            blocks.append(Block(start + 1, fence.group(1).lower(), "\n".join(body), pending[1] if pending else None))
            pending = None
        elif stripped and pending:
            raise ValueError(f"README.md:{pending[0]}: readme-test marker not followed by a code block")
        i += 1
    if pending:
        raise ValueError(f"README.md:{pending[0]}: readme-test marker not followed by a code block")
    return blocks


def split_comment(command: str) -> tuple[str, str]:
    """(command, trailing ` # comment`), the comment starting at an unquoted `#` after whitespace."""
    quote = None
    for k, ch in enumerate(command):
        if quote:
            quote = None if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (k == 0 or command[k - 1].isspace()):
            return command[:k].rstrip(), command[k:]
    return command, ""


def block_commands(block: Block) -> list[tuple[int, str]]:
    """(README line, command) of every command in a block: shell lines (with `\\` continuations) or one script."""
    if block.lang in PYTHON_LANGS:
        return [(block.line + 1, f"python - <<'README_PY'\n{block.code}\nREADME_PY")]
    if block.lang not in SHELL_LANGS:
        return []
    out: list[tuple[int, str]] = []
    current, first = "", 0
    for offset, raw in enumerate(block.code.splitlines(), start=block.line + 1):
        if not current and (not raw.strip() or raw.lstrip().startswith("#")):
            continue
        first = first or offset
        if raw.rstrip().endswith("\\"):
            current += raw.strip()[:-1].rstrip() + " "
            continue
        out.append((first, current + raw.strip()))
        current, first = "", 0
    return out


def stand_in(command: str, marker: Marker | None) -> str:
    """The command a marker says to run instead (unchanged without a marker)."""
    if marker is None:
        return command
    for old, new in marker.edits:
        command = command.replace(old, new)
    if marker.append:
        head, comment = split_comment(command)
        command = " ".join([head, *marker.append]) + (f"  {comment}" if comment else "")
    return command


def plan(blocks: list[Block], workdir: Path) -> list[Command]:
    """Every command in README order, as written and as run (setups first; skips and absent needs not run)."""
    commands: list[Command] = []
    for block in blocks:
        marker = block.marker
        cmds = block_commands(block)
        if block.lang not in SHELL_LANGS | PYTHON_LANGS | TEXT_LANGS:
            raise ValueError(f"README.md:{block.line}: code block language {block.lang!r}: use bash (run), "
                             f"python (run) or one of {sorted(TEXT_LANGS)} (not run)")
        if marker and not cmds:
            raise ValueError(f"README.md:{block.line}: readme-test marker before a block without commands")
        if marker and marker.skip:
            commands += [Command(line, cmd, None, f"skip: {marker.skip}") for line, cmd in cmds]
            continue
        missing = [p for p in (marker.needs if marker else []) if not (workdir / p).exists()]
        if missing:
            commands += [Command(line, cmd, None, f"needs {', '.join(missing)} (absent)") for line, cmd in cmds]
            continue
        for setup in marker.setup if marker else []:
            commands.append(Command(block.line, f"(setup) {setup}", setup, "setup"))
        parallel = block.line if marker and marker.parallel else 0
        commands += [Command(line, cmd, stand_in(cmd, marker), parallel=parallel) for line, cmd in cmds]
    return commands


def check_markers(blocks: list[Block]) -> None:
    """Each remove/replace of a marker changes at least one command of its block (no stale markers)."""
    for block in blocks:
        for old, _ in block.marker.edits if block.marker else []:
            if not any(old in cmd for _, cmd in block_commands(block)):
                raise ValueError(f"README.md:{block.line}: readme-test edit {old!r} matches no command of the block")


def fresh_workdir(root: Path) -> Path:
    """A copy of the repository's files in `root/<name>`, with `root/shared` linked to ../shared when present."""
    work = root / REPO.name
    try:
        listing = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                                 capture_output=True, check=True).stdout.decode().split("\0")
    except (OSError, subprocess.CalledProcessError):  # not a git checkout (e.g. an unpacked sdist)
        shutil.copytree(REPO, work, ignore=shutil.ignore_patterns(".git", ".venv", "runs", "__pycache__", "*.egg-info",
                                                                 ".pytest_cache", "build", "dist"))
        listing = []
    for rel in filter(None, listing):
        src = REPO / rel
        if src.is_file():
            (work / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, work / rel)
    if (REPO.parent / "shared").is_dir():
        (root / "shared").symlink_to(REPO.parent / "shared")
    return work


def command_env(root: Path, work: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SNITK_") and k not in {"XLA_FLAGS", "PYTHONPATH"}}
    dead_proxy = "http://127.0.0.1:9"
    env.update(PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}", PYTHONPATH=str(work),
               HTTP_PROXY=dead_proxy, HTTPS_PROXY=dead_proxy, http_proxy=dead_proxy, https_proxy=dead_proxy,
               NO_PROXY="localhost,127.0.0.1", no_proxy="localhost,127.0.0.1", HF_HUB_OFFLINE="1",
               TRANSFORMERS_OFFLINE="1", TIKTOKEN_CACHE_DIR=str(root / "tiktoken-cache"),
               JAX_COMPILATION_CACHE_DIR=str(root / "jax-cache"), JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0",
               JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES="0", TF_CPP_MIN_LOG_LEVEL="3", PYTHONUNBUFFERED="1")
    return env


def run_one(n: int, cmd: Command, work: Path, env: dict[str, str], logs: Path, keep_exports: bool,
            sessions: list[int] | None = None) -> Outcome:
    """Run one command in its own bash (sourcing, and unless concurrent updating, the exported variables)."""
    if cmd.run is None:
        return Outcome(cmd, "skipped")
    state, log, cpu_file = logs / "exports.sh", logs / f"{n:02d}.log", logs / f"{n:02d}.times"
    save = f"export -p | grep -vE '^declare -x (PWD|OLDPWD|SHLVL|_)=' > {state}\n" if keep_exports else ""
    script = f"set -o pipefail\n[ -f {state} ] && . {state}\n{cmd.run}\nrc=$?\n{save}times > {cpu_file}\nexit $rc\n"
    start = time.perf_counter()
    with log.open("w") as f:
        # Its own session: what it leaves running in the background (`... &`, e.g. the GCS emulator) stays up
        # for the next commands and is stopped with its session when all have run.
        proc = subprocess.Popen(["bash", "-c", script], cwd=work, env=env, stdout=f, stderr=subprocess.STDOUT,
                                start_new_session=True)
        if sessions is not None:
            sessions.append(proc.pid)
        try:
            rc = proc.wait(timeout=COMMAND_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            rc = f"timeout {COMMAND_TIMEOUT_S}s"
    seconds = time.perf_counter() - start
    # bash's `times`: second line = user and system time of the command's processes, e.g. "0m30.301s 0m2.1s"
    times = cpu_file.read_text().splitlines() if cpu_file.exists() else []
    cpu = sum(int(m) * 60 + float(sec) for m, sec in re.findall(r"(\d+)m([\d.]+)s", times[1])) if len(times) > 1 else 0.0
    tail = "" if rc == 0 else "\n".join(log.read_text(errors="replace").splitlines()[-25:])
    return Outcome(cmd, "ok" if rc == 0 else f"FAILED (rc {rc})", seconds, cpu, tail)


def run_commands(commands: list[Command], work: Path, env: dict[str, str], logs: Path) -> list[Outcome]:
    """Run in order in `work`; exported variables carry over like in one shell. The commands of a
    `parallel` block run two at a time (they must not depend on each other)."""
    logs.mkdir(parents=True, exist_ok=True)
    outcomes: list[Outcome] = []
    sessions: list[int] = []
    try:
        _run_in_order(commands, work, env, logs, outcomes, sessions)
    finally:
        for pid in sessions:  # background processes the commands started
            try:
                os.killpg(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
    return outcomes


def _run_in_order(commands: list[Command], work: Path, env: dict[str, str], logs: Path, outcomes: list[Outcome],
                  sessions: list[int]) -> None:
    n = 0
    while n < len(commands):
        group = [n]
        while commands[n].parallel and group[-1] + 1 < len(commands) and \
                commands[group[-1] + 1].parallel == commands[n].parallel:
            group.append(group[-1] + 1)
        if len(group) == 1:
            outcomes.append(run_one(n + 1, commands[n], work, env, logs, keep_exports=True, sessions=sessions))
        else:
            with ThreadPoolExecutor(max_workers=PARALLEL_COMMANDS) as pool:
                outcomes += list(pool.map(lambda k: run_one(k + 1, commands[k], work, env, logs, False, sessions),
                                          group))
        n = group[-1] + 1


def report(outcomes: list[Outcome]) -> str:
    """The table of every README command with its outcome (failures followed by their log tails)."""
    def one_line(text: str, width: int = 150) -> str:
        text = " ".join(text.split())
        return text if len(text) <= width else text[: width - 3] + "..."

    pad = " " * 38
    rows = [f"{'#':>3}  {'line':>5}  {'outcome':<14} {'wall s':>6} {'cpu s':>6}  command"]
    for n, o in enumerate(outcomes, start=1):
        c = o.command
        secs = f"{o.seconds:6.1f} {o.cpu_seconds:6.1f}" if o.status != "skipped" else f"{'-':>6} {'-':>6}"
        rows.append(f"{n:>3}  {c.line:>5}  {o.status:<14} {secs}  {one_line(c.written)}")
        if c.run is not None and c.run != c.written and c.note != "setup":
            rows.append(f"{pad}  stand-in: {one_line(c.run)}")
        if c.note and c.note != "setup":
            rows.append(f"{pad}  {c.note}")
    failures = [(n, o) for n, o in enumerate(outcomes, start=1) if o.status.startswith("FAILED")]
    for n, o in failures:
        rows += ["", f"--- #{n} (README.md:{o.command.line}) {o.status}: last lines of its output ---", o.log_tail]
    ran = [o for o in outcomes if o.status != "skipped"]
    rows += ["", f"{len(outcomes)} commands: {sum(o.status == 'ok' for o in ran)} ok, {len(failures)} failed, "
             f"{len(outcomes) - len(ran)} skipped by marker; {sum(o.seconds for o in ran):.0f} s wall, "
             f"{sum(o.cpu_seconds for o in ran):.0f} s CPU"]
    return "\n".join(rows)


def spelling_conflicts(text: str) -> list[str]:
    """Jobs spelled both `snitk JOB` and `python -m MODULE` in README.md."""
    return [f"`snitk {job}` and `python -m {module}`" for job, module in SPELLINGS.items()
            if re.search(rf"(?<![\w.-])snitk {job}\b", text) and re.search(rf"python3? -m {re.escape(module)}(?![\w.])", text)]


# ------------------------------------------------------------------------------------------------ tests


def test_readme_markers_and_blocks_are_well_formed():
    blocks = parse_readme(README.read_text())
    check_markers(blocks)
    commands = plan(blocks, REPO)
    assert len(commands) >= 20, "README.md should show its commands in ```bash blocks"
    written = [c.written for c in commands]
    assert any(w.startswith("python3 -m venv .venv") and "pytest" in w for w in written)
    demo = next(b for b in blocks if "snitk demo" in b.code)
    assert demo.marker and "TRAIN_STEPS" in stand_in(demo.code, demo.marker), "the demo runs in a stand-in form"


def test_readme_uses_one_spelling_per_job():
    assert spelling_conflicts(README.read_text()) == []


def test_harness_fails_unmarked_commands_and_reports_every_command(tmp_path):
    readme = "\n".join([
        "<!-- readme-test: replace `false` with `true`; append `--flag` -->", "```bash", "false   # note", "```",
        "<!-- readme-test: skip: needs a pod -->", "```bash", "exit 3", "```",
        "<!-- readme-test: needs `no/such/dir` -->", "```sh", "exit 4", "```",
        "```bash", "export GREETING=hi", "test \"$GREETING\" = hi && \\", "  echo continued", "exit 5", "```",
        "```text", "not a command", "```",
        "<!-- readme-test: parallel -->", "```bash", "sleep 1 && echo a > a.txt", "sleep 1 && echo b > b.txt", "```"])
    blocks = parse_readme(readme)
    commands = plan(blocks, tmp_path)
    assert [c.run for c in commands] == ["true --flag  # note", None, None, "export GREETING=hi",
                                         'test "$GREETING" = hi && echo continued', "exit 5",
                                         "sleep 1 && echo a > a.txt", "sleep 1 && echo b > b.txt"]
    start = time.perf_counter()
    outcomes = run_commands(commands, tmp_path, dict(os.environ), tmp_path / "logs")
    assert [o.status for o in outcomes] == ["ok", "skipped", "skipped", "ok", "ok", "FAILED (rc 5)", "ok", "ok"]
    assert (tmp_path / "a.txt").exists() and (tmp_path / "b.txt").exists()
    assert time.perf_counter() - start < 1.9 + sum(o.seconds for o in outcomes[:6]), "parallel block ran serially"
    table = report(outcomes)
    assert "skip: needs a pod" in table and "needs no/such/dir (absent)" in table and "1 failed" in table
    with pytest.raises(ValueError, match="matches no command"):
        check_markers(parse_readme("<!-- readme-test: remove `zzz` -->\n```bash\necho a\n```"))
    with pytest.raises(ValueError, match="not followed by a code block"):
        parse_readme("<!-- readme-test: skip: x -->\nprose\n```bash\necho a\n```")
    with pytest.raises(ValueError, match="cannot read"):
        parse_readme("<!-- readme-test: frobnicate `x` -->\n```bash\necho a\n```")
    with pytest.raises(ValueError, match="language ''"):
        plan(parse_readme("```\necho a\n```"), tmp_path)
    assert spelling_conflicts("`snitk eval` and `python -m snitk.eval score`") != []
    assert spelling_conflicts("`snitk demo` and `python -m snitk.demo.generate`") == []


@pytest.mark.timeout(1800)  # ~5 min on 2 quiet cores; the bound is for heavily shared machines
def test_every_readme_command_runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("readme")
    work = fresh_workdir(root)
    commands = plan(parse_readme((work / "README.md").read_text()), work)
    outcomes = run_commands(commands, work, command_env(root, work), root / "logs")
    table = report(outcomes)
    print(table)
    (root / "readme-commands.txt").write_text(table + "\n")
    failed = [o for o in outcomes if o.status.startswith("FAILED")]
    assert not failed, f"{len(failed)} README command(s) failed:\n{table}"
