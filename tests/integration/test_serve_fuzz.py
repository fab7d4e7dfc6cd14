"""The service fuzzed from its own OpenAPI schema (schemathesis): requests that follow the
schema and requests that break it, generated with a fixed seed, none of which may get a 5xx.
A batch whose scoring fails is re-scored request by request, so only its own request fails."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi")
schemathesis = pytest.importorskip("schemathesis")

from hypothesis import HealthCheck, given, settings  # noqa: E402

from labelwise.serve import Batcher, ServeConfig  # noqa: E402
from tests.integration.test_serve import _start  # noqa: E402
from tests.integration.test_serve import run_dir as run_dir  # noqa: E402,F401  (fixture)


@pytest.fixture(scope="module")
def fuzz_server(run_dir: Path):  # noqa: F811
    proc, url = _start(run_dir, "--max-texts", "8", "--max-text-chars", "2000", "--max-body-bytes", "40000")
    yield url
    proc.terminate()
    proc.wait(timeout=10)


@pytest.mark.parametrize("mode", ["positive", "negative"])
def test_no_generated_request_gets_a_server_error(fuzz_server: str, mode: str) -> None:
    schema = schemathesis.openapi.from_url(f"{fuzz_server}/openapi.json")
    operations = [op.ok() for op in schema.get_all_operations()]
    assert any(op.path == "/predict" for op in operations)
    seen: list[int] = []
    for op in operations:
        if mode == "positive" or op.path == "/predict":  # the GETs take no input to break
            _fuzz(op, mode, fuzz_server, seen)
    if mode == "positive":
        assert 200 in seen
    else:
        assert any(400 <= code < 500 for code in seen)


def _fuzz(op: Any, mode: str, url: str, seen: list[int]) -> None:
    @settings(max_examples=60 if op.path == "/predict" else 5, derandomize=True, database=None,
              deadline=None, suppress_health_check=list(HealthCheck))
    @given(case=op.as_strategy(generation_mode=schemathesis.GenerationMode(mode)))
    def check(case: Any) -> None:
        response = case.call(base_url=url, timeout=30)
        seen.append(response.status_code)
        assert response.status_code < 500, (op.path, case.body, response.text[:300])

    check()


class _FakeModel:
    """Scores texts; fails any batch that holds a text with 'boom' in it."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def __call__(self, texts: list[str], k: int) -> list[dict[str, Any]]:
        self.calls.append(list(texts))
        if any("boom" in t for t in texts):
            raise RuntimeError("model exploded")
        return [{"text": t, "labels": [t.upper()], "scores": {}, "top_k": [[t, 1.0]] * 3} for t in texts]


def test_a_failing_batch_fails_only_the_request_that_caused_it() -> None:
    model = _FakeModel()

    async def scenario() -> list[Any]:
        batcher = Batcher(model, ServeConfig(max_batch=64, max_wait_ms=50))
        worker = asyncio.create_task(batcher.run())
        requests = [["a", "b"], ["boom"], ["c"], ["d", "e"]]
        results = await asyncio.gather(*(batcher.submit(t, 2) for t in requests), return_exceptions=True)
        worker.cancel()
        return results

    results = asyncio.run(scenario())
    assert [r["labels"] for r in results[0]] == [["A"], ["B"]]
    assert isinstance(results[1], RuntimeError)
    assert [r["labels"] for r in results[2]] == [["C"]]
    assert [r["labels"] for r in results[3]] == [["D"], ["E"]]
    assert len(model.calls[0]) == 6  # they shared one model call first
    assert all(len(r[0]["top_k"]) == 2 for r in (results[0], results[2]))
