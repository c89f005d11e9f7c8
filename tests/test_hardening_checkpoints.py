"""Damaged, incomplete and existing checkpoints through the real CLIs: one error naming the checkpoint step
and what is missing, the same in every command; resume falls back; exports need --overwrite; outputs honour
the umask; relative paths work."""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path

import pytest

from snitk.eval.__main__ import main as eval_main
from snitk.models.__main__ import main as models_main
from snitk.training.train import main as train_main
from snitk.vocab import DEMO_VOCAB

SMOKE = "--gin_file=experiments/smoke_synthetic_cpu.gin"


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    """A 4-step smoke run with checkpoints at steps 2 and 4, written under umask 022."""
    root = tmp_path_factory.mktemp("hardening_ckpt") / "model"
    old = os.umask(0o022)
    try:
        rc = train_main([SMOKE, f"--gin.MODEL_DIR='{root}'", "--gin.TRAIN_STEPS=4", "--gin.SAVE_PERIOD=2",
                         "--gin.train.log_period=2", "--gin.train.tensorboard=False"])
    finally:
        os.umask(old)
    assert rc == 0
    return root


def damaged_copy(model_dir: Path, dst: Path, damage) -> Path:
    shutil.copytree(model_dir, dst)
    damage(dst / "checkpoint_4")
    return dst


def test_outputs_are_readable_by_the_group(model_dir):
    modes = {p: p.stat().st_mode & 0o777 for p in model_dir.rglob("*")}
    assert modes and all(m & 0o044 == 0o044 for m in modes.values()), {str(p): oct(m) for p, m in modes.items()}


def test_a_damaged_checkpoint_is_the_same_error_in_every_command(model_dir, tmp_path, capsys, monkeypatch):
    bad_dir = damaged_copy(model_dir, tmp_path / "bad", lambda c: (c / "params" / "manifest.ocdbt").unlink())
    bad = bad_dir / "checkpoint_4"
    expected = f"checkpoint step 4 ({bad}): params/manifest.ocdbt is missing"
    runs = {
        "eval": lambda: eval_main(["--checkpoint", str(bad), "--output-dir", str(tmp_path / "e")]),
        "info": lambda: models_main(["info", "--checkpoint", str(bad)]),
        "convert": lambda: models_main(["convert", "--to", "hf", "--src", str(bad), "--dst", str(tmp_path / "hf")]),
        "init": lambda: train_main([SMOKE, f"--gin.MODEL_DIR='{tmp_path / 'fresh'}'", f"--gin.INIT_CHECKPOINT='{bad}'"]),
    }
    for name, run in runs.items():
        rc = run()
        err = capsys.readouterr().err
        assert rc != 0 and expected in err and "Traceback" not in err, (name, err)
    assert not (tmp_path / "hf").exists() and not (tmp_path / "fresh").exists() and not (tmp_path / "e").exists()

    # "latest" skips it the same way in eval/info and in training
    from snitk.models.checkpoint import resolve_checkpoint
    from snitk.training.checkpoints import TrainCheckpointer

    assert resolve_checkpoint(bad_dir).name == "checkpoint_2"
    assert TrainCheckpointer(bad_dir).latest_step() == 2
    monkeypatch.chdir(bad_dir.parent)  # relative paths: orbax needs absolute ones, the CLI resolves them
    assert models_main(["info", "--checkpoint", "bad"]) == 0
    assert "params: " in capsys.readouterr().out


def test_resume_falls_back_to_the_previous_complete_checkpoint(model_dir, tmp_path, caplog):
    def truncate_data(ckpt: Path) -> None:
        for f in (ckpt / "params" / "d").iterdir():
            f.write_bytes(f.read_bytes()[:10])

    run = damaged_copy(model_dir, tmp_path / "run", truncate_data)
    args = [SMOKE, f"--gin.MODEL_DIR='{run}'", "--gin.TRAIN_STEPS=4", "--gin.SAVE_PERIOD=2",
            "--gin.train.tensorboard=False"]
    with caplog.at_level(logging.WARNING):
        assert train_main(args) == 0
    assert "resuming from the previous complete checkpoint" in caplog.text and "checkpoint step 4" in caplog.text
    assert (run / "damaged_checkpoint_4").is_dir()  # kept for inspection, never resumed
    from snitk.models.checkpoint_health import problem

    assert problem(run / "checkpoint_4") is None  # retrained from step 2


def test_generate_rejects_a_vocabulary_of_another_size_and_lines_without_id(model_dir, tmp_path, capsys):
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps({"id": "a", "inputs": "hello"}) + "\n")
    out = tmp_path / "out.jsonl"
    rc = models_main(["generate", "--checkpoint", str(model_dir), "--vocab", str(DEMO_VOCAB), "--input-file",
                      str(src), "--output-file", str(out), "--max-decode-length", "4"])
    err = capsys.readouterr().err
    assert rc == 2 and "vocab_size=128" in err and not out.exists()
    src.write_text(json.dumps({"inputs": "hello"}) + "\n")
    rc = models_main(["generate", "--checkpoint", str(model_dir), "--vocab", str(DEMO_VOCAB), "--input-file",
                      str(src), "--output-file", str(out), "--max-decode-length", "4"])
    assert rc == 2 and "in.jsonl:1: id" in capsys.readouterr().err


def test_export_and_import_never_replace_without_overwrite(model_dir, tmp_path, capsys):
    hf = tmp_path / "hf"
    convert = ["convert", "--to", "hf", "--src", str(model_dir), "--dst", str(hf)]
    assert models_main(convert) == 0
    before = {p.name: p.stat().st_mtime_ns for p in hf.iterdir()}
    assert hf.stat().st_mode & 0o055 == 0o055  # not mkdtemp's 0700
    assert models_main(convert) == 1
    assert "--overwrite" in capsys.readouterr().err
    assert {p.name: p.stat().st_mtime_ns for p in hf.iterdir()} == before
    assert models_main(convert + ["--overwrite"]) == 0
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".hf")]  # no temporary left behind
    imported = tmp_path / "imported"
    back = ["convert", "--from", "hf", "--src", str(hf), "--dst", str(imported)]
    old = os.umask(0o022)
    try:
        assert models_main(back) == 0
    finally:
        os.umask(old)
    assert all(p.stat().st_mode & 0o044 == 0o044 for p in [imported, *imported.rglob("*")])
    assert models_main(back) == 1
    assert "pass --overwrite to replace it" in capsys.readouterr().err
