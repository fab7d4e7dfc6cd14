"""Catalog, data-directory resolution, dataset checks and fetch against a local HTTP server."""

from __future__ import annotations

import functools
import gzip
import hashlib
import json
import os
import signal
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

import labelwise.data.catalog as catalog_mod
from labelwise.data import (
    CATALOG,
    DataError,
    DatasetInfo,
    describe,
    fetch_dataset,
    get_dataset,
    load_catalog,
    load_splits,
    resolve_data_dir,
    validate,
)
from labelwise.data import fetch as fetch_module
from labelwise.types import Task

STAGED = Path(__file__).resolve().parents[2] / "../shared/data"
NAMES = {"goemotions", "sst2", "imdb", "20newsgroups", "eurlex57k", "aapd"}


def test_catalog_entries_are_complete() -> None:
    cat = load_catalog()
    assert set(cat) == NAMES
    for info in cat.values():
        assert isinstance(info.task, Task) and info.mirror is None
        assert info.sources and all(s.startswith(("http://", "https://")) for s in info.sources)
        assert info.license and info.conversion
        assert set(info.splits) <= {"train", "valid", "test", "unsup"}
        assert set(info.splits.values()) | set(info.hierarchies.values()) <= set(info.sha256)
        assert all(len(d) == 64 and int(d, 16) >= 0 for d in info.sha256.values())
    assert "train" not in cat["aapd"].splits and cat["eurlex57k"].hierarchy_is_dag
    assert cat["eurlex57k"].task is Task.EXTREME and cat["imdb"].splits["unsup"]


def test_fetch_name_is_the_module() -> None:
    assert fetch_module.fetch is fetch_dataset


def test_lazy_catalog_mapping() -> None:
    assert sorted(CATALOG) == sorted(NAMES) and len(CATALOG) == 6
    assert "GoEmotions" in CATALOG["goemotions"].description


def test_unknown_dataset_suggests() -> None:
    with pytest.raises(DataError, match="Did you mean 'goemotions'"):
        get_dataset("goemotion")


def test_resolve_data_dir_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LABELWISE_DATA", raising=False)
    assert resolve_data_dir(tmp_path) == tmp_path
    with pytest.raises(DataError, match=r"does not exist.*sub-folder"):
        resolve_data_dir(tmp_path / "missing")
    monkeypatch.setenv("LABELWISE_DATA", str(tmp_path))
    assert resolve_data_dir() == tmp_path
    monkeypatch.setenv("LABELWISE_DATA", str(tmp_path / "gone"))
    with pytest.raises(DataError, match=r"\$LABELWISE_DATA"):
        resolve_data_dir()
    monkeypatch.delenv("LABELWISE_DATA")
    shared = tmp_path / "shared" / "data"
    shared.mkdir(parents=True)
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    assert resolve_data_dir() == shared.resolve()


def test_resolve_data_dir_nothing_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LABELWISE_DATA", raising=False)
    cands = [tmp_path / "a", tmp_path / "b", tmp_path / "cache"]
    monkeypatch.setattr(catalog_mod, "_default_candidates", lambda: cands)
    with pytest.raises(DataError, match=r"no data directory found.*--data-dir"):
        resolve_data_dir()
    assert resolve_data_dir(create=True) == cands[-1] and cands[-1].is_dir()


def fake_aapd(root: Path, valid_lines: str | None = None) -> Path:
    """A tiny folder with aapd's file names (contents are not the real ones)."""
    d = root / "aapd"
    d.mkdir(parents=True)
    rec = json.dumps({"text": "an abstract", "labels": ["cs.it", "math.it"]}) + "\n"
    for split in ("valid", "test"):
        body = valid_lines if (split == "valid" and valid_lines is not None) else rec * 3
        (d / f"{split}.jsonl.gz").write_bytes(gzip.compress(body.encode()))
    (d / "labels_hierarchy.tsv").write_text("ROOT\tcs\ncs\tcs.it\nROOT\tmath\nmath\tmath.it\n")
    (d / "labels.txt").write_text("cs.it\nmath.it\n")
    return d


def test_load_splits_and_describe(tmp_path: Path) -> None:
    d = fake_aapd(tmp_path)
    s = load_splits("aapd", tmp_path)
    assert (s.train, s.valid, s.test) == (None, d / "valid.jsonl.gz", d / "test.jsonl.gz")
    assert s.hierarchy == d / "labels_hierarchy.tsv" and s.require("test") == s.test
    with pytest.raises(DataError, match=r"no 'train' split.*README"):
        s.require("train")
    with pytest.raises(DataError, match="no hierarchy 'ekman'"):
        load_splits("aapd", tmp_path, hierarchy="ekman")
    info = describe("aapd", tmp_path)
    assert info["splits"]["valid"]["docs"] == 3 and info["splits"]["valid"]["mean_labels"] == 2
    assert info["label_stats"]["split"] == "valid" and info["label_stats"]["labels"] == 2


def test_load_splits_missing_files(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"incomplete.*labelwise data fetch sst2"):
        load_splits("sst2", tmp_path)


def test_validate_reports_checksums_counts_and_bad_rows(tmp_path: Path) -> None:
    bad = json.dumps({"text": "ok", "labels": ["a"]}) + "\n" + '{"text": ""}\n'
    d = fake_aapd(tmp_path, valid_lines=bad)
    report = validate("aapd", tmp_path)
    problems = report["problems"]
    assert not report["ok"] and report["files"]["valid.jsonl.gz"] == "sha256 mismatch"
    assert report["docs"] == {"test": 3}
    assert any("valid.jsonl.gz: sha256 differs" in p for p in problems)
    assert any(f"{d / 'valid.jsonl.gz'}:2: 'text' is empty" in p for p in problems)
    assert any("test.jsonl.gz: 3 documents, the catalog says 1000" in p for p in problems)


@pytest.mark.skipif(not (STAGED / "sst2").is_dir(), reason="staged data not present")
def test_validate_staged_sst2() -> None:
    report = validate("sst2", STAGED)
    assert report["ok"] and report["problems"] == [] and report["docs"]["valid"] == 872


# -- fetch -------------------------------------------------------------------------------
class QuietHandler(SimpleHTTPRequestHandler):
    requests: list[str] = []

    def log_message(self, format: str, *args: object) -> None:
        QuietHandler.requests.append(self.path)


@pytest.fixture
def mirror(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    root = tmp_path / "mirror"
    (root / "tiny").mkdir(parents=True)
    handler = functools.partial(QuietHandler, directory=str(root))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    QuietHandler.requests = []
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", root
    finally:
        server.shutdown()
        server.server_close()


def tiny_catalog(mirror_root: Path, corrupt: bool = False) -> dict[str, DatasetInfo]:
    files = {
        "train.jsonl.gz": gzip.compress(b'{"text": "a", "labels": ["x"]}\n'),
        "labels_hierarchy.tsv": b"ROOT\tx\n",
    }
    sums = {}
    for name, data in files.items():
        (mirror_root / "tiny" / name).write_bytes(data)
        sums[name] = hashlib.sha256(data + (b"!" if corrupt else b"")).hexdigest()
    info = DatasetInfo(
        name="tiny",
        title="tiny",
        task=Task.MULTILABEL,
        splits={"train": "train.jsonl.gz"},
        counts={"train": 1},
        sha256=sums,
        sources=("https://example.org/tiny",),
        conversion="Nothing to do.",
    )
    return {"tiny": info}


def test_fetch_downloads_then_skips(mirror: tuple[str, Path], tmp_path: Path) -> None:
    url, root = mirror
    cat = tiny_catalog(root)
    folder = fetch_dataset("tiny", tmp_path / "data", base_url=url, progress=False, catalog=cat)
    assert folder == tmp_path / "data" / "tiny"
    out = [folder / "train.jsonl.gz", folder / "labels_hierarchy.tsv"]
    assert [p.read_bytes() for p in out] == [(root / "tiny" / p.name).read_bytes() for p in out]
    assert sorted(QuietHandler.requests) == ["/tiny/labels_hierarchy.tsv", "/tiny/train.jsonl.gz"]
    QuietHandler.requests.clear()
    out[1].write_bytes(b"damaged")  # a wrong local copy is fetched again, a good one skipped
    fetch_dataset("tiny", tmp_path / "data", base_url=url, progress=False, catalog=cat)
    assert QuietHandler.requests == ["/tiny/labels_hierarchy.tsv"]
    assert out[1].read_bytes() == b"ROOT\tx\n"
    assert sorted(p.name for p in out[0].parent.iterdir()) == sorted(p.name for p in out)


def test_fetch_checksum_mismatch_leaves_nothing(mirror: tuple[str, Path], tmp_path: Path) -> None:
    url, root = mirror
    with pytest.raises(DataError, match=r"checksum mismatch.*train\.jsonl\.gz.*--base-url"):
        fetch_dataset(
            "tiny", tmp_path / "d", base_url=url, progress=False, catalog=tiny_catalog(root, True)
        )
    assert list((tmp_path / "d" / "tiny").iterdir()) == []


def test_fetch_http_404(mirror: tuple[str, Path], tmp_path: Path) -> None:
    url, root = mirror
    cat = tiny_catalog(root)
    (root / "tiny" / "labels_hierarchy.tsv").unlink()
    with pytest.raises(
        DataError, match=r"labels_hierarchy\.tsv failed: HTTP 404.*<base>/<dataset>/<file>"
    ):
        fetch_dataset("tiny", tmp_path / "d", base_url=url, progress=False, catalog=cat)
    assert [p.name for p in (tmp_path / "d" / "tiny").iterdir()] == ["train.jsonl.gz"]


def test_fetch_env_mirror_and_local_folder(
    mirror: tuple[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, root = mirror
    cat = tiny_catalog(root)
    monkeypatch.setenv("LABELWISE_DATA_MIRROR", url)
    folder = fetch_dataset("tiny", tmp_path / "a", progress=False, catalog=cat)
    assert len(list(folder.iterdir())) == 2
    monkeypatch.delenv("LABELWISE_DATA_MIRROR")
    folder = fetch_dataset("tiny", tmp_path / "b", base_url=str(root), progress=False, catalog=cat)
    assert sorted(p.name for p in folder.iterdir()) == ["labels_hierarchy.tsv", "train.jsonl.gz"]


def test_fetch_without_mirror_explains_source(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LABELWISE_DATA_MIRROR", raising=False)
    with pytest.raises(DataError) as info:
        fetch_dataset("goemotions", tmp_path, progress=False)
    msg = str(info.value)
    assert "no download mirror" in msg and "https://github.com/google-research" in msg
    assert "--base-url" in msg and "emotions.txt" in msg
    assert not (tmp_path / "goemotions").exists()


class EndlessHandler(BaseHTTPRequestHandler):
    """A mirror that never stops sending (slowly when told to), without a Content-Length."""

    delay = 0.0

    def do_GET(self) -> None:  # noqa: N802
        self.send_response(200)
        self.end_headers()
        try:
            while True:
                self.wfile.write(b"x" * 65536)
                if self.delay:
                    time.sleep(self.delay)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def endless() -> Iterator[type[EndlessHandler]]:
    handler = type("Handler", (EndlessHandler,), {})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    handler.url = f"http://127.0.0.1:{server.server_address[1]}"  # type: ignore[attr-defined]
    try:
        yield handler
    finally:
        server.shutdown()
        server.server_close()


def test_fetch_stops_at_the_catalog_size(endless: type[EndlessHandler], tmp_path: Path) -> None:
    info = DatasetInfo(name="tiny", title="tiny", task=Task.MULTILABEL, splits={"train": "train.jsonl.gz"},
                       counts={"train": 1}, sha256={"train.jsonl.gz": "0" * 64},
                       sizes={"train.jsonl.gz": 1_000_000})
    with pytest.raises(DataError, match=r"more than 1,075,536 bytes"):
        fetch_dataset("tiny", tmp_path, base_url=endless.url, progress=False,  # type: ignore[attr-defined]
                      catalog={"tiny": info})
    assert list((tmp_path / "tiny").iterdir()) == []  # no .part left


def test_sigterm_during_fetch_removes_the_part_file(endless: type[EndlessHandler], tmp_path: Path) -> None:
    endless.delay = 0.05
    proc = subprocess.Popen([sys.executable, "-m", "labelwise", "data", "fetch", "goemotions",
                             "--data-dir", str(tmp_path), "--base-url", endless.url],  # type: ignore[attr-defined]
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    folder = tmp_path / "goemotions"
    deadline = time.time() + 60
    while not (folder.is_dir() and list(folder.glob("*.part"))):
        assert time.time() < deadline and proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 143 and "Traceback" not in err, err
    assert list(folder.iterdir()) == []


def test_fetched_files_follow_the_umask(mirror: tuple[str, Path], tmp_path: Path) -> None:
    url, root = mirror
    old = os.umask(0o027)
    try:
        folder = fetch_dataset("tiny", tmp_path / "data", base_url=url, progress=False,
                               catalog=tiny_catalog(root))
    finally:
        os.umask(old)
    assert {stat.S_IMODE(p.stat().st_mode) for p in folder.iterdir()} == {0o640}


def test_data_dir_naming_a_file_is_a_clear_error(tmp_path: Path) -> None:
    a_file = tmp_path / "notes.txt"
    a_file.write_text("x")
    for create in (False, True):
        with pytest.raises(DataError, match=r"notes.txt' \(from --data-dir\) is a file, not a folder"):
            resolve_data_dir(a_file, create=create)
