"""Configuration and paths of `python -m snitk.train` through the real CLI: typos list the closest known
names, missing settings name their flag, bad MODEL_DIRs and training data fail before anything is built."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from snitk.training.train import main

REPO = Path(__file__).resolve().parents[1]
SMOKE = "--gin_file=experiments/smoke_synthetic_cpu.gin"
DEMO = "--gin_file=experiments/demo_cpu.gin"


@pytest.mark.parametrize("args, message", [
    (["--gin.TRAIN_STEP=3"], "macro TRAIN_STEP is set but nothing uses it (did you mean TRAIN_STEPS?)"),
    (["--gin.train.model_dir=%MODEL_DIRR"], "macro %MODEL_DIRR is used but never set (did you mean MODEL_DIR?)"),
    (["--gin.trian.seed=1"], "unknown configurable 'trian' (did you mean train?)"),
    (["--gin.train.sed=1"], "'train' has no parameter 'sed' (did you mean seed?)"),
    (["--gin.MIXTURE_OR_TASK_NAME=snitk_synthetic"],
     "--gin.MIXTURE_OR_TASK_NAME=snitk_synthetic: a string value needs quotes inside the flag, e.g. "
     "--gin.MIXTURE_OR_TASK_NAME=\"'snitk_synthetic'\""),
])
def test_typos_and_unquoted_strings(tmp_path, capsys, args, message):
    model_dir = tmp_path / "m"
    assert main([SMOKE, f"--gin.MODEL_DIR='{model_dir}'", *args]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1, err
    assert not model_dir.exists()


def test_misspelled_macro_in_a_gin_file_and_missing_required_settings(tmp_path, capsys):
    mine = tmp_path / "mine.gin"
    mine.write_text("include 'experiments/smoke_synthetic_cpu.gin'\nSAVE_PERIDO = 5\n")
    assert main([f"--gin_file={mine}", f"--gin.MODEL_DIR='{tmp_path / 'm'}'"]) == 2
    assert "macro SAVE_PERIDO is set but nothing uses it (did you mean SAVE_PERIOD?)" in capsys.readouterr().err
    assert main([SMOKE]) == 2
    assert ("required setting train.model_dir is missing: set it with --gin.MODEL_DIR=\"'...'\""
            in capsys.readouterr().err)
    assert main([SMOKE, "--gin.MODEL_DIR=/some/path"]) == 2
    assert "--gin.MODEL_DIR=\"'/some/path'\"" in capsys.readouterr().err


def test_model_dir_that_is_or_lies_under_a_file(tmp_path, capsys):
    afile = tmp_path / "afile"
    afile.write_text("x")
    assert main([SMOKE, f"--gin.MODEL_DIR='{afile}'"]) == 2
    assert f"MODEL_DIR {afile}: is a file; expected a directory" in capsys.readouterr().err
    assert main([SMOKE, f"--gin.MODEL_DIR='{afile}/run'"]) == 2
    assert f"lies under {afile}, which is a file" in capsys.readouterr().err
    assert afile.read_text() == "x"
    if os.geteuid() != 0:  # root writes anywhere
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        assert main([SMOKE, f"--gin.MODEL_DIR='{locked}/run'"]) == 2
        assert "not writable" in capsys.readouterr().err


def test_cli_in_a_folder_with_runs_and_models_and_relative_paths(tmp_path):
    """The README's flow run twice: ./runs and ./models never shadow the package's gin includes; relative
    MODEL_DIR / INIT_CHECKPOINT resolve against the working directory; a missing INIT_CHECKPOINT is one
    clear error before anything is created (no stray traceback at exit)."""
    (tmp_path / "runs" / "mine").mkdir(parents=True)
    (tmp_path / "models").mkdir()
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.run(
        [sys.executable, "-m", "snitk.train", SMOKE, "--gin.MODEL_DIR='runs/next'", "--gin.INIT_CHECKPOINT='runs/nope'"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert f"INIT_CHECKPOINT: {tmp_path}/runs/nope: no such checkpoint or model directory" in proc.stderr
    assert "Traceback" not in proc.stderr and "cannot schedule new futures" not in proc.stderr
    assert not (tmp_path / "runs" / "next").exists()


@pytest.fixture()
def tiny_corpus(tmp_path: Path) -> Path:
    """Two demo training tasks and one test task in a data dir of their own."""
    src = REPO / "tasks"
    names = sorted(p.stem for p in src.glob("*.json"))[:3]
    root = tmp_path / "ni"
    (root / "tasks").mkdir(parents=True)
    for n in names:
        shutil.copy(src / f"{n}.json", root / "tasks")
    split = root / "splits" / "default"
    split.mkdir(parents=True)
    (split / "train_tasks.txt").write_text(f"{names[0]}\n{names[1]}\n")
    (split / "test_tasks.txt").write_text(f"{names[2]}\n")
    return root


def test_bad_training_data_fails_before_the_pipeline(tiny_corpus, tmp_path, capsys):
    def train(data_dir: Path) -> str:
        rc = main([DEMO, f"--gin.MODEL_DIR='{tmp_path / 'm'}'", f"--gin.snitk.tasks.data_dir.path='{data_dir}'",
                   "--gin.TRAIN_STEPS=1"])
        err = capsys.readouterr().err
        assert rc == 2 and "Traceback" not in err, err
        return err

    assert "data directory not found" in train(tmp_path / "nowhere")
    train_list = tiny_corpus / "splits" / "default" / "train_tasks.txt"
    names = train_list.read_text().split()
    train_list.write_text("")
    assert "no train tasks selected" in train(tiny_corpus)
    train_list.write_text("\n".join(names) + "\n")
    bad = tiny_corpus / "tasks" / f"{names[1]}.json"
    task = json.loads(bad.read_text())
    task["Instances"][3]["output"] = "not a list"
    bad.write_text(json.dumps(task))
    err = train(tiny_corpus)
    assert f"{bad}" in err and "output" in err
    assert not (tmp_path / "m").exists()


@pytest.mark.parametrize("gin_file", sorted(p.name for p in (REPO / "configs" / "experiments").glob("*.gin")))
def test_shipped_experiments_pass_the_macro_check(gin_file):
    from snitk.training import config as C

    C.parse([f"experiments/{gin_file}"], ["MODEL_DIR = 'x'", "MIXTURE_OR_TASK_NAME = 'y'"])
    C.check_macros()  # every macro set is used and every macro used is set
