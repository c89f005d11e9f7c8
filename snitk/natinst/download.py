"""Fetch the natural-instructions repository archive into a data dir (restartable, atomic, verified).

`download(data_dir)` downloads the public GitHub archive of allenai/natural-instructions to
``<data_dir>.tar.gz`` (through a ``.part`` file resumed with an HTTP Range request after an
interruption; ```file://`` URLs and plain paths are copied, also resuming a ``.part``), extracts its ``tasks/`` and ``splits/``
into a temporary folder beside the data dir, checks the number of task files and only then renames
the folder to the data dir. A data dir that is already complete is left alone.

A bucket data dir (``gs://...``, any URL `snitk.paths` handles) is staged locally (archive and
extraction under ``$SNITK_CACHE/download/``, so an interrupted download still resumes), verified,
then uploaded file by file; ``.snitk-download-complete`` is written last and marks it complete
(object stores cannot rename a folder atomically).
"""

from __future__ import annotations

import contextlib
import gzip
import logging
import os
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import zipfile
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path, PurePosixPath

from snitk.atomic import current_umask
from snitk.errors import DataError
from snitk.paths import is_url, resolve

log = logging.getLogger(__name__)

DEFAULT_URL = "https://github.com/allenai/natural-instructions/archive/refs/heads/master.tar.gz"
DEFAULT_NUM_TASKS = 1616
_KEEP_DIRS = ("tasks", "splits")
_CHUNK = 1 << 20


def _progress(total: int | None, initial: int, desc: str, quiet: bool):
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, unit="B", unit_scale=True, unit_divisor=1024, desc=desc, disable=quiet)


def _local_source(url: str) -> Path | None:
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme == "file":
        return Path(urllib.request.url2pathname(parsed.path))
    if parsed.scheme == "" or (len(parsed.scheme) == 1 and os.name == "nt"):
        return Path(url)
    return None


def fetch(url: str, dest: str | os.PathLike, *, quiet: bool = False, timeout: float = 60.0) -> Path:
    """Download `url` to `dest`, resuming `dest`.part when it exists; return `dest`."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    local = _local_source(url)
    if local is not None:
        if not local.is_file():
            raise DataError(local, None, "archive not found")
        size = local.stat().st_size
        have = part.stat().st_size if part.exists() else 0
        if have > size:
            have = 0
        with open(local, "rb") as src, open(part, "ab" if have else "wb") as out, _progress(size, have, dest.name, quiet) as bar:
            src.seek(have)
            while chunk := src.read(_CHUNK):
                out.write(chunk)
                bar.update(len(chunk))
        os.replace(part, dest)
        return dest

    have = part.stat().st_size if part.exists() else 0
    req = urllib.request.Request(url, headers={"User-Agent": "snitk-download"})
    if have:
        req.add_header("Range", f"bytes={have}-")
    try:
        resp = urllib.request.urlopen(req, timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:  # the .part file already holds everything
            log.info("%s: server says the partial download is complete", part)
            os.replace(part, dest)
            return dest
        raise DataError(url, None, f"download failed: HTTP {exc.code} {exc.reason}") from exc
    except OSError as exc:
        raise DataError(url, None, f"download failed: {exc}") from exc
    with resp:
        if have and resp.status == 206:
            mode, initial = "ab", have
            log.info("resuming %s at byte %d", url, have)
        else:
            mode, initial = "wb", 0
            if have:
                log.info("server ignored the Range request; downloading %s from the start", url)
        length = resp.headers.get("Content-Length")
        total = initial + int(length) if length and length.isdigit() else None
        try:
            with open(part, mode) as out, _progress(total, initial, dest.name, quiet) as bar:
                while chunk := resp.read(_CHUNK):
                    out.write(chunk)
                    bar.update(len(chunk))
        except OSError as exc:
            raise DataError(url, None, f"download interrupted ({exc}); run again to resume from {part}") from exc
    if total is not None and part.stat().st_size != total:
        raise DataError(url, None, f"download incomplete ({part.stat().st_size} of {total} bytes); run again to resume")
    os.replace(part, dest)
    return dest


def _strip_root(name: str) -> tuple[str, ...] | None:
    """Path parts below the archive's top folder when they lie under tasks/ or splits/, else None."""
    parts = PurePosixPath(name).parts
    for i, p in enumerate(parts[:2]):  # "<repo>-master/tasks/..." or "tasks/..."
        if p in _KEEP_DIRS:
            rest = parts[i:]
            if any(x in ("..", "") for x in rest):
                return None
            return rest
    return None


def extract(archive: str | os.PathLike, target: str | os.PathLike, *, quiet: bool = False) -> int:
    """Extract tasks/ and splits/ of a .tar(.gz) or .zip archive into `target`; return the files written."""
    archive, target = Path(archive), Path(target)
    from tqdm import tqdm

    count = 0
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            for info in tqdm(zf.infolist(), desc="extract", unit="file", disable=quiet):
                rest = _strip_root(info.filename)
                if rest is None or info.is_dir():
                    continue
                out = target.joinpath(*rest)
                out.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(info) as src, open(out, "wb") as dst:
                    shutil.copyfileobj(src, dst, _CHUNK)
                count += 1
        return count
    try:
        tf = tarfile.open(archive, "r:*")
    except (tarfile.TarError, OSError) as exc:
        raise DataError(archive, None, f"not a readable .tar.gz/.zip archive ({exc})") from exc
    with tf:
        for member in tqdm(tf, desc="extract", unit="file", disable=quiet):
            rest = _strip_root(member.name)
            if rest is None or not member.isfile():
                continue
            out = target.joinpath(*rest)
            out.parent.mkdir(parents=True, exist_ok=True)
            src = tf.extractfile(member)
            if src is None:
                continue
            with src, open(out, "wb") as dst:
                shutil.copyfileobj(src, dst, _CHUNK)
            count += 1
    return count


COMPLETE_MARKER = ".snitk-download-complete"
_UPLOAD_THREADS = 16


def count_tasks(data_dir: str | os.PathLike) -> int:
    """Number of task files in `data_dir/tasks`."""
    return sum(1 for _ in (resolve(data_dir) / "tasks").glob("*.json"))


def _staging_dir(data_dir: str) -> Path:
    """A local folder, stable per bucket data dir, where its archive is fetched and extracted."""
    import re

    cache = Path(os.environ.get("SNITK_CACHE") or Path.home() / ".cache" / "snitk")
    return cache / "download" / re.sub(r"[^A-Za-z0-9._-]+", "_", data_dir)


def _upload_tree(local: Path, dest, *, quiet: bool) -> int:
    """Copy every file under `local` to the same relative path under the URL `dest`; return the count."""
    from tqdm import tqdm

    files = sorted(p for p in local.rglob("*") if p.is_file())

    def put(p: Path) -> None:
        (dest / p.relative_to(local).as_posix()).write_bytes(p.read_bytes())

    with ThreadPoolExecutor(_UPLOAD_THREADS) as pool:
        for _ in tqdm(pool.map(put, files), total=len(files), desc="upload", unit="file", disable=quiet):
            pass
    return len(files)


def _download_to_url(data_dir, url: str, *, expect_tasks: int | None, force: bool, keep_archive: bool,
                     quiet: bool):
    """`download` for a bucket data dir (see the module docstring)."""
    marker = data_dir / COMPLETE_MARKER
    if marker.exists() and not force:
        log.info("%s is a complete download; nothing to do (use force to re-download)", data_dir)
        return data_dir
    if not force and data_dir.is_dir() and any(data_dir.iterdir()):
        raise DataError(data_dir, None, f"exists and is not a complete download (no {COMPLETE_MARKER}); "
                                        "pass force to replace it")
    stage = _staging_dir(os.fspath(data_dir))
    stage.mkdir(parents=True, exist_ok=True)
    local = download(stage / "data", url, expect_tasks=expect_tasks, force=force, keep_archive=keep_archive,
                     quiet=quiet)
    if force and data_dir.exists():
        marker.unlink(missing_ok=True)
        data_dir.rmtree(missing_ok=True)
    n = _upload_tree(local, data_dir, quiet=quiet)
    from snitk.atomic import write_text

    write_text(marker, f"{n} files from {url}\n")
    shutil.rmtree(local, ignore_errors=True)
    log.info("%s: %d files uploaded (%d task files)", data_dir, n, count_tasks(data_dir))
    return data_dir


def download(
    data_dir: str | os.PathLike,
    url: str = DEFAULT_URL,
    *,
    expect_tasks: int | None = -1,
    force: bool = False,
    keep_archive: bool = True,
    quiet: bool = False,
) -> os.PathLike:
    """Download and extract the repository into `data_dir` (tasks/ + splits/); return `data_dir`.

    `expect_tasks`: the required number of task files (-1: 1616 for the default URL, no check
    otherwise; None: no check). Existing complete data dirs are kept unless `force`.
    """
    if expect_tasks == -1:
        expect_tasks = DEFAULT_NUM_TASKS if url == DEFAULT_URL else None
    if is_url(data_dir):
        return _download_to_url(resolve(data_dir), url, expect_tasks=expect_tasks, force=force,
                                keep_archive=keep_archive, quiet=quiet)
    data_dir = Path(resolve(data_dir))
    if data_dir.exists() and not force:
        have = count_tasks(data_dir)
        if have and (expect_tasks is None or have == expect_tasks):
            log.info("%s already holds %d task files; nothing to do (use force to re-download)", data_dir, have)
            return data_dir
        if any(data_dir.iterdir()):
            raise DataError(data_dir, None, f"exists and is not a complete download ({have} task files); pass force to replace it")
    suffix = ".zip" if urllib.parse.urlparse(url).path.endswith(".zip") else ".tar.gz"
    archive = data_dir.with_name(data_dir.name + suffix)
    if not archive.exists() or force:
        fetch(url, archive, quiet=quiet)
    tmp = Path(tempfile.mkdtemp(prefix=f".{data_dir.name}.extract-", dir=data_dir.parent))
    tmp.chmod(0o777 & ~current_umask())  # it becomes the data dir: the mode mkdir would give, not 0700
    try:
        try:
            extract(archive, tmp, quiet=quiet)
        except (DataError, EOFError, tarfile.TarError, zipfile.BadZipFile, zlib.error, gzip.BadGzipFile) as exc:
            # a truncated or corrupt archive is never reused: delete it so the next run downloads afresh
            archive.unlink(missing_ok=True)
            detail = exc.expected if isinstance(exc, DataError) else f"{type(exc).__name__}: {exc}"
            raise DataError(archive, None, f"the archive is truncated or corrupt ({detail}); deleted it, "
                            "run the command again to download it afresh") from None
        found = count_tasks(tmp)
        if found == 0:
            raise DataError(archive, "tasks/", "expected task JSON files under tasks/ in the archive, found none")
        if expect_tasks is not None and found != expect_tasks:
            raise DataError(archive, "tasks/", f"expected {expect_tasks} task files, found {found}")
        for track in ("default", "xlingual"):
            if not (tmp / "splits" / track / "test_tasks.txt").is_file():
                log.warning("%s: archive has no splits/%s/test_tasks.txt", archive, track)
        if data_dir.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{data_dir.name}.old-", dir=data_dir.parent))
            os.replace(data_dir, old / "d")
            shutil.rmtree(old, ignore_errors=True)
        os.replace(tmp, data_dir)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    if not keep_archive:
        with contextlib.suppress(FileNotFoundError):
            archive.unlink()
    log.info("%s: %d task files", data_dir, count_tasks(data_dir))
    return data_dir
