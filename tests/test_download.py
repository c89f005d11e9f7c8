"""snitk.natinst.download / `snitk data download`: file:// and HTTP (with Range resume), atomic extraction."""

from __future__ import annotations

import http.server
import io
import json
import tarfile
import threading
import zipfile
from pathlib import Path

import pytest

from snitk.data import main
from snitk.errors import DataError
from snitk.natinst.download import count_tasks, download, extract, fetch


def task_json(name: str) -> bytes:
    obj = {
        "Contributors": [], "Source": [], "URL": [], "Categories": ["C"], "Reasoning": [], "Definition": ["d"],
        "Input_language": ["English"], "Output_language": ["English"], "Instruction_language": ["English"],
        "Domains": [], "Positive Examples": [], "Negative Examples": [],
        "Instances": [{"id": f"{name}-{i}", "input": "x" * 300 + str(i), "output": ["y"]} for i in range(40)],
    }
    return json.dumps(obj).encode()


def make_archive(path: Path, n_tasks: int = 5, root: str = "natural-instructions-master") -> Path:
    files = {f"{root}/tasks/task{i:03d}_t.json": task_json(f"task{i:03d}_t") for i in range(n_tasks)}
    files[f"{root}/tasks/README.md"] = b"# tasks"
    files[f"{root}/splits/default/train_tasks.txt"] = b"task000_t\ntask001_t\n"
    files[f"{root}/splits/default/test_tasks.txt"] = b"task002_t\n"
    files[f"{root}/splits/xlingual/test_tasks.txt"] = b"task003_t\n"
    files[f"{root}/src/test_all.py"] = b"print('not extracted')"
    if path.suffix == ".zip":
        with zipfile.ZipFile(path, "w") as zf:
            for name, data in files.items():
                zf.writestr(name, data)
        return path
    with tarfile.open(path, "w:gz") as tf:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return path


class RangeHandler(http.server.BaseHTTPRequestHandler):
    payload = b""
    honour_range = True
    seen_ranges: list = []

    def log_message(self, *args):  # quiet
        pass

    def do_GET(self):
        rng = self.headers.get("Range")
        type(self).seen_ranges.append(rng)
        data = self.payload
        if rng and self.honour_range:
            start = int(rng.split("=")[1].split("-")[0])
            if start >= len(data):
                self.send_response(416)
                self.end_headers()
                return
            body = data[start:]
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            body = data
            self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture()
def server():
    handler = type("H", (RangeHandler,), {"seen_ranges": []})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield httpd, handler
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def test_file_url_download_extracts_tasks_and_splits(tmp_path):
    archive = make_archive(tmp_path / "src.tar.gz")
    target = tmp_path / "data" / "ni"
    target.parent.mkdir()
    out = download(target, archive.as_uri(), expect_tasks=5, quiet=True)
    assert out == target
    assert count_tasks(target) == 5
    assert (target / "splits" / "default" / "test_tasks.txt").read_text() == "task002_t\n"
    assert not (target / "src").exists()  # only tasks/ and splits/ are kept
    assert (target.parent / "ni.tar.gz").read_bytes() == archive.read_bytes()
    assert sorted(p.name for p in target.parent.iterdir()) == ["ni", "ni.tar.gz"]  # no temp folders left
    # the result is a valid data dir
    from snitk.natinst.corpus import Corpus

    assert [t.name for t in Corpus(target).test_tasks()] == ["task002_t"]
    # a complete data dir is left alone (the archive is not even looked at)
    archive.unlink()
    assert download(target, archive.as_uri(), expect_tasks=5, quiet=True) == target


def test_wrong_task_count_leaves_no_data_dir(tmp_path):
    archive = make_archive(tmp_path / "src.tar.gz", n_tasks=3)
    target = tmp_path / "ni"
    with pytest.raises(DataError) as err:
        download(target, archive.as_uri(), expect_tasks=1616, quiet=True)
    assert "expected 1616 task files, found 3" in str(err.value)
    assert not target.exists()
    assert not list(tmp_path.glob(".ni.extract-*"))


def test_file_url_resumes_part_file(tmp_path):
    src = tmp_path / "blob.bin"
    src.write_bytes(bytes(range(256)) * 100)
    dest = tmp_path / "out" / "blob.bin"
    dest.parent.mkdir()
    part = dest.with_name(dest.name + ".part")
    part.write_bytes(b"\xff" * 1000)  # stands for the first 1000 bytes copied before an interruption
    fetch(src.as_uri(), dest, quiet=True)
    data = dest.read_bytes()
    assert len(data) == len(src.read_bytes())
    assert data[:1000] == b"\xff" * 1000  # kept, not copied again
    assert data[1000:] == src.read_bytes()[1000:]
    assert not part.exists()
    # an interrupted real archive copy resumes into a valid archive
    archive = make_archive(tmp_path / "src.tar.gz")
    target = tmp_path / "ni"
    head = archive.read_bytes()[:700]
    (tmp_path / "ni.tar.gz.part").write_bytes(head)
    download(target, archive.as_uri(), expect_tasks=5, quiet=True)
    assert (tmp_path / "ni.tar.gz").read_bytes() == archive.read_bytes() and count_tasks(target) == 5


def test_zip_and_plain_path(tmp_path):
    archive = make_archive(tmp_path / "src.zip", n_tasks=4)
    target = tmp_path / "z"
    download(target, str(archive), expect_tasks=None, quiet=True)
    assert count_tasks(target) == 4


def test_http_resume_from_part_file(tmp_path, server):
    httpd, handler = server
    archive = make_archive(tmp_path / "src.tar.gz", n_tasks=6)
    handler.payload = archive.read_bytes()
    url = f"http://127.0.0.1:{httpd.server_address[1]}/master.tar.gz"
    dest = tmp_path / "dl" / "repo.tar.gz"
    dest.parent.mkdir()
    half = len(handler.payload) // 2
    part = dest.with_name(dest.name + ".part")
    part.write_bytes(handler.payload[:half])  # an interrupted earlier download
    fetch(url, dest, quiet=True)
    assert handler.seen_ranges == [f"bytes={half}-"]
    assert dest.read_bytes() == handler.payload and not part.exists()


def test_http_server_without_range_restarts(tmp_path, server):
    httpd, handler = server
    handler.payload = make_archive(tmp_path / "src.tar.gz").read_bytes()
    handler.honour_range = False
    url = f"http://127.0.0.1:{httpd.server_address[1]}/x.tar.gz"
    dest = tmp_path / "repo.tar.gz"
    dest.with_name(dest.name + ".part").write_bytes(b"garbage that must not be kept")
    fetch(url, dest, quiet=True)
    assert dest.read_bytes() == handler.payload


def test_http_part_already_complete(tmp_path, server):
    httpd, handler = server
    handler.payload = make_archive(tmp_path / "src.tar.gz").read_bytes()
    url = f"http://127.0.0.1:{httpd.server_address[1]}/x.tar.gz"
    dest = tmp_path / "repo.tar.gz"
    dest.with_name(dest.name + ".part").write_bytes(handler.payload)
    fetch(url, dest, quiet=True)  # server answers 416
    assert dest.read_bytes() == handler.payload


def test_http_download_end_to_end_via_cli(tmp_path, server, capsys):
    httpd, handler = server
    handler.payload = make_archive(tmp_path / "src.tar.gz", n_tasks=7).read_bytes()
    url = f"http://127.0.0.1:{httpd.server_address[1]}/master.tar.gz"
    target = tmp_path / "ni"
    code = main(["download", "--url", url, "--data-dir", str(target), "--expect-tasks", "7", "-q"])
    out, _ = capsys.readouterr()
    assert code == 0 and "7 task files" in out
    code = main(["download", "--url", url, "--data-dir", str(tmp_path / "other"), "--expect-tasks", "9", "-q"])
    _, err = capsys.readouterr()
    assert code == 1 and "expected 9 task files, found 7" in err


def test_missing_source_and_bad_archive(tmp_path):
    with pytest.raises(DataError, match="file://|not found"):
        fetch((tmp_path / "missing.tar.gz").as_uri(), tmp_path / "x.tar.gz", quiet=True)
    bad = tmp_path / "bad.tar.gz"
    bad.write_bytes(b"not an archive")
    with pytest.raises(DataError, match="archive"):
        extract(bad, tmp_path / "out", quiet=True)


def test_existing_incomplete_dir_needs_force(tmp_path):
    archive = make_archive(tmp_path / "src.tar.gz", n_tasks=2)
    target = tmp_path / "ni"
    (target / "junk").mkdir(parents=True)
    with pytest.raises(DataError, match="force"):
        download(target, archive.as_uri(), expect_tasks=2, quiet=True)
    download(target, archive.as_uri(), expect_tasks=2, force=True, quiet=True)
    assert count_tasks(target) == 2 and not (target / "junk").exists()
