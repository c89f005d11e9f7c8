"""Gin parsing from a user's working directory: the README's `python -m snitk.train` after `snitk demo`."""

from __future__ import annotations

import gin

from snitk.training import config as C


def test_cwd_folder_named_like_an_include_folder(tmp_path, monkeypatch):
    """`python -m` puts the cwd on sys.path; a `runs/` folder there (what `snitk demo` writes) made gin's
    package-path reader crash on `include 'runs/train.gin'` (TypeError) instead of searching configs/."""
    (tmp_path / "runs").mkdir()
    (tmp_path / "models").mkdir()
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    C.parse(["experiments/demo_cpu.gin"], ["TRAIN_STEPS = 3"])
    assert gin.query_parameter("%TRAIN_STEPS") == 3


def test_bindings_naming_snitk_tasks_configurables_parse(tmp_path):
    """`--data-dir` of snitk demo / ablation / scaling becomes `snitk.tasks.data_dir.path = ...`."""
    C.parse(["experiments/demo_cpu.gin"], [f"snitk.tasks.data_dir.path = '{tmp_path}'"])
    assert gin.query_parameter("snitk.tasks.data_dir.path") == str(tmp_path)
