"""scripts/rehearse.py walks the paper's path on the real-data sample: shapes, and baselines = snitk.eval baseline."""

from __future__ import annotations

import importlib.util
import json

from conftest import REPO, require_shared

PER_TASK = 2


def _rehearse_main():
    spec = importlib.util.spec_from_file_location("rehearse", REPO / "scripts" / "rehearse.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


def test_rehearsal_on_the_natinst_sample(tmp_path, capsys):
    data = require_shared("natinst-sample")
    bpe = require_shared("vocab/gpt2.tiktoken")
    out = tmp_path / "rehearsal"
    rc = _rehearse_main()(["--data-dir", str(data), "--out", str(out), "--steps", "2", "--max-per-task", str(PER_TASK),
                           "--max-decode-length", "6", "--input-length", "128", "--gpt2-bpe", str(bpe)])
    assert rc == 0, capsys.readouterr().err
    table = json.loads((out / "table3.json").read_text())
    assert set(table["tracks"]) == {"default", "xlingual"} and not table["skipped"]
    assert table["missing_listed_tasks"]["default/train"] > 0  # the sample holds 8 of the training tasks
    # validate ran on the real files: metadata quirks (task267's "URL": [NaN]) are warnings, not failures
    checks = json.loads((out / "validate.json").read_text())
    assert not checks["problems"] and any("task267" in w for w in checks["warnings"])
    md = (out / "table3.md").read_text()
    assert "## default track" in md and "## xlingual track" in md and "| **overall** |" in md

    # the training checkpoint stores the vocabulary it was trained with
    from snitk.models.checkpoint import load_vocab_identity
    from snitk.vocab import DEMO_VOCAB
    from snitk.vocab_identity import sha256_file

    assert load_vocab_identity(out / "model")["sha256"] == sha256_file(DEMO_VOCAB)

    from snitk.eval.__main__ import main as eval_main

    for track, rows in table["tracks"].items():
        assert set(rows["overall"]) == {"copy_input", "copy_demo", "model"}
        n = len(set(rows["n"].values()))
        assert n == 1  # every system scored on the same instances
        for kind in ("copy_input", "copy_demo"):
            ref = tmp_path / "ref" / track / kind
            assert eval_main(["baseline", "--kind", kind, "--track", track, "--data-dir", str(data),
                              "--allow-missing-tasks", "--max-per-task", str(PER_TASK), "--gpt2-bpe", str(bpe),
                              "--output-dir", str(ref)]) == 0
            metrics = json.loads((ref / "metrics.json").read_text())
            assert rows["overall"][kind] == metrics["overall"]["rougeL"]
            assert rows["n"][kind] == metrics["overall"]["n"]
            assert {c: r[kind] for c, r in rows["per_category"].items()} == {
                c: r["rougeL"] for c, r in metrics["per_category"].items()}
