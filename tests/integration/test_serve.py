"""The HTTP service, started for real with uvicorn in a subprocess and stopped after."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

from labelwise import TextClassifier  # noqa: E402
from labelwise.types import Example  # noqa: E402

TEXTS = ["good great fine", "bad awful poor", "great good nice", "awful bad sad"] * 8
LABELS = ["pos", "neg", "pos", "neg"] * 8
CFG = {
    "model": {"encoder": {"name": "cnn", "embed_dim": 16, "num_filters": 8, "kernel_sizes": [2]}},
    "tokenizer": {"vocab_size": 120, "max_length": 16},
    "train": {"epochs": 3, "batch_size": 8, "lr": 0.01, "progress": False, "tensorboard": False},
}
TOKEN = "s3cret-token"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("serve") / "run"
    TextClassifier(CFG).fit_examples([Example(t, (lab,)) for t, lab in zip(TEXTS, LABELS, strict=True)],
                                     run_dir=path)
    return path


def _start(run_dir: Path, *extra: str, env: dict[str, str] | None = None) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "labelwise", "serve", str(run_dir), "--port", str(port), *extra],
        env={**os.environ, "OMP_NUM_THREADS": "1", **(env or {})},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited: {proc.stderr.read() if proc.stderr else ''}")
        try:
            headers = {"Authorization": f"Bearer {TOKEN}"} if env and "LABELWISE_TOKEN" in env else {}
            with urllib.request.urlopen(urllib.request.Request(f"{url}/health", headers=headers), timeout=2):
                return proc, url
        except (urllib.error.URLError, ConnectionError, OSError):
            time.sleep(0.2)
    proc.kill()
    raise AssertionError("server did not start within 60 s")


@pytest.fixture(scope="module")
def server(run_dir: Path) -> Iterator[str]:
    proc, url = _start(run_dir, "--max-texts", "8", "--max-text-chars", "1000", "--max-body-bytes", "20000")
    yield url
    proc.terminate()
    proc.wait(timeout=10)


def _post(url: str, body: bytes | object, headers: dict[str, str] | None = None) -> tuple[int, dict]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method="POST",
                                 headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"{}")


def test_predict_health_metadata(server: str, run_dir: Path) -> None:
    status, out = _post(f"{server}/predict", {"texts": ["good great fine", "awful bad sad"], "top_k": 1})
    assert status == 200
    expected = TextClassifier.load(run_dir).predict(["good great fine", "awful bad sad"])
    assert [p["labels"] for p in out["predictions"]] == [[e] for e in expected]
    assert all(len(p["top_k"]) == 1 for p in out["predictions"])
    with urllib.request.urlopen(f"{server}/metadata") as resp:
        meta = json.loads(resp.read())
    assert sorted(meta["labels"]) == ["neg", "pos"] and meta["task"] == "multiclass"


@pytest.mark.parametrize(("body", "status", "field"), [
    (b"{not json", 400, "body"),
    (b"\xff\xfe", 400, "body"),
    ([1, 2], 422, "body"),
    ({"text": ["a"]}, 422, "text"),
    ({"texts": "a string"}, 422, "texts"),
    ({"texts": ["a"] * 9}, 422, "texts"),
    ({"texts": ["ok", 3]}, 422, "texts[1]"),
    ({"texts": ["x" * 1001]}, 422, "texts[0]"),
    ({"texts": ["a"], "top_k": 0}, 422, "top_k"),
    ({"texts": ["y" * 900] * 30}, 413, "body"),
    ({"texts": [""]}, 422, "texts[0]"),
    ({"texts": ["fine", "  \t"]}, 422, "texts[1]"),
    ({"texts": ["a\ud800b"]}, 422, "texts[0]"),
    (b'{"texts": ["a"], "top_k": ' + b"7" * 5000 + b"}", 422, "top_k"),
    (b"[" * 5000 + b"]" * 5000, 400, "body"),
    ({"texts": ["a"], "top_k": 1.5}, 422, "top_k"),
    ({"texts": ["a"], "top_k": True}, 422, "top_k"),
])
def test_bad_requests_get_a_4xx_naming_the_field(server: str, body: object, status: int, field: str) -> None:
    got, out = _post(f"{server}/predict", body)
    assert got == status and out["error"]["field"] == field, out


def test_concurrent_requests_are_batched_and_bad_ones_never_kill_the_server(server: str) -> None:
    def one(i: int) -> int:
        return _post(f"{server}/predict", {"texts": [TEXTS[i % 4]]})[0]

    with urllib.request.urlopen(f"{server}/metadata") as resp:
        before = json.loads(resp.read())["batches_run"]
    with ThreadPoolExecutor(16) as pool:
        codes = list(pool.map(one, range(64)))
    assert codes == [200] * 64
    with urllib.request.urlopen(f"{server}/metadata") as resp:
        after = json.loads(resp.read())["batches_run"]
    assert after - before < 64  # some requests shared a model call
    for i in range(300):
        _post(f"{server}/predict", [b"{", {"texts": 1}, {"texts": [None]}][i % 3])
    assert _post(f"{server}/predict", {"texts": ["good"]})[0] == 200


def test_a_bad_client_never_fails_good_ones(server: str) -> None:
    """Empty, blank and invalid texts sent beside good requests fail alone, with 422; before,
    the bad item's error failed the whole shared batch (about half of the good requests)."""
    bad = [{"texts": [""]}, {"texts": ["  \t"]}, {"texts": ["ok", "\ud800"]}]

    def one(i: int) -> tuple[bool, int]:
        if i % 5 == 0:
            return False, _post(f"{server}/predict", bad[i % 3])[0]
        return True, _post(f"{server}/predict", {"texts": [TEXTS[i % 4], TEXTS[(i + 1) % 4]]})[0]

    with ThreadPoolExecutor(17) as pool:
        results = list(pool.map(one, range(170)))
    assert {code for good, code in results if good} == {200}
    assert {code for good, code in results if not good} == {422}


def test_slow_headers_are_cut_off(run_dir: Path) -> None:
    proc, url = _start(run_dir, "--header-timeout", "1")
    try:
        port = int(url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(b"POST /predict HTTP/1.1\r\nHost: x\r\n")  # never finishes the head
            t0 = time.time()
            assert sock.recv(100) == b""  # closed by the server
            assert time.time() - t0 < 5
        assert _post(f"{url}/predict", {"texts": ["good"]})[0] == 200
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_token_is_required_when_set(run_dir: Path) -> None:
    proc, url = _start(run_dir, env={"LABELWISE_TOKEN": TOKEN})
    try:
        assert _post(f"{url}/predict", {"texts": ["good"]})[0] == 401
        assert _post(f"{url}/predict", {"texts": ["good"]}, {"Authorization": "Bearer wrong"})[0] == 401
        assert _post(f"{url}/predict", {"texts": ["good"]}, {"Authorization": f"Bearer {TOKEN}"})[0] == 200
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_serve_says_it_is_loading_and_where_it_listens(run_dir: Path) -> None:
    proc, url = _start(run_dir)
    proc.terminate()
    _, err = proc.communicate(timeout=10)
    loading, ready = err.index("labelwise: loading"), err.index(f"labelwise: serving {run_dir} on {url}")
    assert loading < ready and "Ctrl-C" in err


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], str]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=10) as resp:
            return resp.status, dict(resp.headers), resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read().decode()


def test_the_page_is_served_without_the_token_and_fetches_only_from_the_server(tmp_path: Path) -> None:
    run = tmp_path / "linear"
    TextClassifier({"model": {"type": "linear", "linear": {"min_df": 1}}}).fit_examples(
        [Example(t, (lab,)) for t, lab in zip(TEXTS, LABELS, strict=True)], run_dir=run)
    proc, url = _start(run, env={"LABELWISE_TOKEN": TOKEN})
    try:
        status, headers, page = _get(f"{url}/")
        assert status == 200 and "<textarea" in page and "default-src 'self'" in headers["content-security-policy"]
        assert not re.search(r"""(src|href)=["']?https?:""", page) and "fetch(\"http" not in page
        auth = {"Authorization": f"Bearer {TOKEN}"}
        assert _get(f"{url}/docs", auth)[0] == 404  # FastAPI's page loads its scripts from a CDN: off
        assert _get(f"{url}/openapi.json", auth)[0] == 200
        assert _post(f"{url}/explain", {"texts": ["good great"]})[0] == 401  # the token rule holds
        status, body = _post(f"{url}/explain", {"texts": ["good great day"], "labels": ["pos"]}, auth)
        assert status == 200
        [rec] = body["explanations"]
        assert rec["labels"][0]["label"] == "pos" and rec["words"]["tokens"] == ["good", "great", "day"]
        assert _post(f"{url}/explain", {"texts": ["good"], "labels": ["meh"]}, auth)[0] == 422
        assert _post(f"{url}/explain", {"texts": ["good"] * 9}, auth)[0] == 422
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_a_cnn_is_explained_by_integrated_gradients(server: str) -> None:
    pytest.importorskip("captum")
    status, body = _post(f"{server}/explain", {"texts": ["good great"]})
    assert status == 200 and body["explanations"][0]["method"].startswith("integrated gradients")
    status, body = _post(f"{server}/explain", {"texts": ["good great"], "labels": [3]})
    assert status == 422 and body["error"]["field"] == "labels"
