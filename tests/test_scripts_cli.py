"""Every script in scripts/ behaves like the CLIs: `--help` shows an example; a SnitkError is one line, exit 1."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from snitk.entry import guarded, script_parser
from snitk.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]
SCRIPTS = sorted(p.name for p in (REPO / "scripts").glob("*.py"))

# One cheap argument error per script (each fails before any heavy work).
ERROR_ARGS = {
    "ablation.py": (["--train-encodings", "no_such_encoding"], "not a snitk task name"),
    "bench_bootstrap.py": (["--resamples", "0"], "--resamples 0 --naive-resamples 1000: expected positive counts"),
    "bench_convert.py": (["--preset", "no_such_preset"], "unknown model preset 'no_such_preset'"),
    "bench_corpus.py": (["--scale", "0"], "--scale 0.0: expected a positive fraction"),
    "bench_demo_step.py": (["--steps", "5", "--skip", "5"], "expected 0 <= skip < steps"),
    "bench_input.py": (["--batch-size", "6"], "--batch-size 6: expected a positive multiple of 4"),
    "bench_metrics.py": (["--n", "0"], "expected 1 <= K <= N"),
    "bench_models.py": (["--presets", "no_such_preset", "--no-hf"], "unknown model preset 'no_such_preset'"),
    "bench_render_budget.py": (["--budget", "0"], "--chars 7000000 --budget 0: expected positive counts"),
    "bench_train.py": (["--presets", "no_such_preset", "--no_hf"], "unknown model preset 'no_such_preset'"),
    "rehearse.py": (["--data-dir", "x", "--steps", "0"], "--steps 0: expected a positive count"),
    "bench_vs_t5x.py": (["--steps", "5", "--skip", "5"], "expected 0 <= skip < steps"),
    "scaling.py": (["--axis", "size", "--values", "no_such_preset"], "unknown model preset 'no_such_preset'"),
    "table3.py": (["--system", "no_equals_sign"], "--system 'no_equals_sign': expected NAME=PATH"),
}


def run_script(name: str, args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO), "JAX_PLATFORMS": "cpu", "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run([sys.executable, str(REPO / "scripts" / name), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def test_every_script_has_an_error_case():
    assert sorted(ERROR_ARGS) == SCRIPTS


@pytest.mark.parametrize("name", SCRIPTS)
def test_help_shows_an_example(name, tmp_path):
    out = run_script(name, ["--help"], tmp_path)
    assert out.returncode == 0, out.stderr
    options_end = out.stdout.index("options:")
    assert f"python scripts/{name}" in out.stdout[options_end:], f"{name} --help has no example after its options"


@pytest.mark.parametrize("name", SCRIPTS)
def test_snitk_error_is_one_line_without_traceback(name, tmp_path):
    args, expected = ERROR_ARGS[name]
    out = run_script(name, [*args, *(["--out", str(tmp_path / "out")] if name in {"ablation.py", "rehearse.py", "scaling.py", "table3.py"} else [])], tmp_path)
    assert out.returncode == 1, (out.stdout, out.stderr)
    assert "Traceback" not in out.stderr
    errors = [line for line in out.stderr.splitlines() if line.startswith(f"{name}: error: ")]
    assert len(errors) == 1 and expected in errors[0], out.stderr
    assert not (tmp_path / "out").exists(), "an argument error must fail before writing outputs"


def test_guarded_turns_snitk_errors_into_status_and_one_line(capsys):
    def fails():
        raise ConfigError("a.gin: field X\n  expected an int")

    assert guarded(fails, "prog") == 1
    assert capsys.readouterr().err == "prog: error: a.gin: field X expected an int\n"
    assert guarded(lambda: 3, "prog") == 3
    assert guarded(lambda: None, "prog") == 0
    with pytest.raises(ValueError):  # bugs keep their traceback
        guarded(lambda: int("x"), "prog")


def test_script_parser_epilog_is_the_docstring_after_its_first_line():
    p = script_parser("Title line.\n\n    python scripts/x.py --flag\n", prog="x.py")
    assert p.description == "Title line."
    assert "python scripts/x.py --flag" in p.format_help().split("options:")[1]
