"""gs:// paths against a real GCS API on 127.0.0.1 (the `gcs_emulator` fixture): atomic writes, append logs,
data download into a bucket, corpus reading and eval resume from a bucket."""

from __future__ import annotations

import json

import pytest

from snitk.atomic import atomic_open, open_append, write_json
from snitk.errors import DataError
from snitk.paths import kvstore_spec, resolve


def test_resolve_keeps_urls_and_tensorstore_specs(tmp_path):
    assert str(resolve("gs://b/x/y")) == "gs://b/x/y"
    assert str(resolve("gs://b/x") / "y") == "gs://b/x/y"
    assert kvstore_spec("gs://bucket/a/b/") == {"driver": "gcs", "bucket": "bucket", "path": "a/b/"}
    assert kvstore_spec(tmp_path) == {"driver": "file", "path": f"{tmp_path}/"}


def test_atomic_write_to_bucket_leaves_old_object_or_whole_new_one(gcs_dir):
    target = resolve(gcs_dir) / "out" / "metrics.json"
    write_json(target, {"v": 1})
    assert json.loads(target.read_text()) == {"v": 1}
    with pytest.raises(RuntimeError):
        with atomic_open(target) as f:
            f.write('{"v": 2, "half')
            raise RuntimeError("crash mid-write")
    assert json.loads(target.read_text()) == {"v": 1}  # the old object, untouched
    fresh = resolve(gcs_dir) / "never.json"
    with pytest.raises(RuntimeError):
        with atomic_open(fresh) as f:
            f.write("x" * 1000)
            raise RuntimeError("crash")
    assert not fresh.exists()
    assert sorted(p.name for p in (resolve(gcs_dir) / "out").iterdir()) == ["metrics.json"]  # no temp objects


def test_append_log_on_bucket_survives_reopen(gcs_dir):
    log = resolve(gcs_dir) / "metrics.jsonl"
    with open_append(log, object_interval_s=3600) as f:
        f.write('{"step": 1}\n')
        f.flush()
        assert log.read_text() == '{"step": 1}\n'  # the first flush uploads
        f.write('{"step": 2}\n')
        f.flush()
        assert log.read_text() == '{"step": 1}\n'  # rate-limited: the next upload waits for the interval
    assert log.read_text() == '{"step": 1}\n{"step": 2}\n'  # closing always uploads
    with open_append(log, object_interval_s=0) as f:
        f.write('{"step": 3}\n')
        f.flush()
        assert log.read_text().endswith('{"step": 3}\n')  # no interval: durable at every flush
    assert [json.loads(x)["step"] for x in log.read_text().splitlines()] == [1, 2, 3]


def test_download_into_bucket_then_read_corpus(gcs_dir, tmp_path, monkeypatch):
    from test_download import make_archive

    from snitk.data import main
    from snitk.natinst.corpus import Corpus
    from snitk.natinst.download import COMPLETE_MARKER, count_tasks

    monkeypatch.setenv("SNITK_CACHE", str(tmp_path / "cache"))
    archive = make_archive(tmp_path / "src.tar.gz")
    data_dir = f"{gcs_dir}/natinst"
    assert main(["download", "--data-dir", data_dir, "--url", archive.as_uri(), "--expect-tasks", "5", "--quiet"]) == 0
    root = resolve(data_dir)
    assert count_tasks(root) == 5
    assert (root / COMPLETE_MARKER).exists()
    assert (root / "splits" / "default" / "test_tasks.txt").read_text() == "task002_t\n"
    assert not (root / "src").exists()
    corpus = Corpus(data_dir)
    assert [t.name for t in corpus.test_tasks()] == ["task002_t"]
    assert corpus.missing_tasks("train") == []
    assert main(["validate", "--task-dir", f"{data_dir}/tasks"]) == 0
    # complete: a rerun does nothing, even without the archive
    archive.unlink()
    assert main(["download", "--data-dir", data_dir, "--url", archive.as_uri(), "--quiet"]) == 0
    # a partial upload (no completion marker) is refused without --force
    (root / COMPLETE_MARKER).unlink()
    with pytest.raises(DataError, match="not a complete download"):
        from snitk.natinst.download import download

        download(data_dir, archive.as_uri(), quiet=True)


class _CountingPredictor:
    """Decodes the input length as text; optionally crashes after `crash_after` batches."""

    batch_size = 2
    max_input_length = 64

    def __init__(self, crash_after: int | None = None):
        from snitk.vocab import get_vocabulary

        self.vocab = get_vocabulary()
        self.crash_after = crash_after
        self.decoded = 0
        self.batches = 0

    def encode(self, prompt):
        return self.vocab.encode(prompt)[: self.max_input_length]

    def predict_ids(self, batch):
        if self.crash_after is not None and self.batches >= self.crash_after:
            raise KeyboardInterrupt("killed")
        self.batches += 1
        self.decoded += len(batch)
        return [f"len {len(ids)}" for ids in batch]


def test_eval_resumes_from_bucket(gcs_dir):
    from snitk.eval.evaluate import PARTIAL, evaluate

    out = f"{gcs_dir}/eval"
    kw = dict(max_tasks=2, max_per_task=3)
    crashing = _CountingPredictor(crash_after=1)
    with pytest.raises(KeyboardInterrupt):
        evaluate("ckpt", "default", out, predictor=crashing, **kw)
    partial = resolve(out) / PARTIAL
    assert len(partial.read_text().splitlines()) == 2  # the first batch was flushed to the bucket
    resumed = _CountingPredictor()
    metrics = evaluate("ckpt", "default", out, predictor=resumed, **kw)
    assert resumed.decoded == 6 - 2
    assert metrics["overall"]["n"] == 6
    assert not partial.exists()
    records = [json.loads(x) for x in (resolve(out) / "predictions.jsonl").read_text().splitlines()]
    assert len({r["id"] for r in records}) == 6
    assert json.loads((resolve(out) / "metrics.json").read_text())["overall"]["n"] == 6


def test_model_checkpoint_on_bucket_saves_loads_and_streams(gcs_dir):
    import numpy as np

    from snitk.models.checkpoint import is_checkpoint_dir, load_model, open_param, param_names, save_model

    params = {"encoder": {"layers_0": {"kernel": np.arange(12, dtype=np.float32).reshape(3, 4)}},
              "token_embedder": {"embedding": np.ones((5, 2), np.float32)}}
    from test_checkpoint_io import CONFIG as config

    ckpt = f"{gcs_dir}/converted"
    save_model(ckpt, config, params)
    assert is_checkpoint_dir(ckpt)
    assert param_names(ckpt) == ["encoder/layers_0/kernel", "token_embedder/embedding"]
    _, loaded = load_model(ckpt)
    np.testing.assert_array_equal(np.asarray(loaded["encoder"]["layers_0"]["kernel"]), params["encoder"]["layers_0"]["kernel"])
    store = open_param(ckpt, "encoder/layers_0/kernel")  # tensorstore's gcs kvstore under OCDBT
    np.testing.assert_array_equal(store[1].read().result(), params["encoder"]["layers_0"]["kernel"][1])


def test_vocabulary_from_bucket_is_cached_locally(gcs_dir, tmp_path, monkeypatch):
    from snitk.vocab import DEMO_VOCAB, Vocabulary, resolve_vocab_path

    monkeypatch.setenv("SNITK_CACHE", str(tmp_path / "cache"))
    url = f"{gcs_dir}/vocab/spm.model"
    resolve(url).write_bytes(DEMO_VOCAB.read_bytes())
    local = resolve_vocab_path(url)
    assert local.is_file() and str(local).startswith(str(tmp_path / "cache"))
    assert local.read_bytes() == DEMO_VOCAB.read_bytes()
    text = "sort the numbers 3 1 2"
    assert Vocabulary(local).encode(text) == Vocabulary(DEMO_VOCAB).encode(text)


@pytest.mark.parametrize("layout", ["legacy", "orbax"])
def test_t5x_checkpoint_on_bucket_converts_like_the_local_one(gcs_dir, layout):
    """A pod user's pretrained T5X checkpoint lives in a bucket: `convert --from t5x` and `snitk.eval`'s
    detection read it there (tensorstore's gcs kvstore, OCDBT or zarr), with the same parameters."""
    import fsspec
    import numpy as np

    from conftest import require_shared
    from snitk.models.checkpoint import fingerprint, load_model
    from snitk.models.convert.t5x import import_t5x
    from snitk.models.t5x_checkpoint import find_t5x_checkpoint

    local = require_shared("t5x-tiny-checkpoint") / layout
    fs, root = fsspec.core.url_to_fs(f"{gcs_dir}/{layout}")
    fs.put(str(local), root, recursive=True)
    remote = f"{gcs_dir}/{layout}"
    found = find_t5x_checkpoint(remote)  # a t5x model dir on the bucket: its latest checkpoint
    assert found is not None and str(found) == f"{remote}/checkpoint_2000"
    cfg_remote = import_t5x(str(found), f"{gcs_dir}/converted")
    cfg_local = import_t5x(local / "checkpoint_2000", f"{gcs_dir}/converted_local")
    assert cfg_remote == cfg_local and cfg_remote.num_decoder_layers == 3  # config.gin read from the bucket
    _, a = load_model(f"{gcs_dir}/converted")
    _, b = load_model(f"{gcs_dir}/converted_local")
    assert fingerprint(a) == fingerprint(b)
    assert np.isfinite(np.asarray(a["token_embedder"]["embedding"])).all()
