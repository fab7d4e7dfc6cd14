"""``labelwise serve RUN_DIR``: an HTTP service for a trained run (FastAPI + uvicorn).

- ``POST /predict`` ``{"texts": [...], "top_k": 5}`` -> ``{"predictions": [{labels, scores,
  top_k}, ...]}``; limits on the body size, the number of texts and each text's length
  answer 413/422 naming the field.
- ``GET /health`` -> ``{"status": "ok"}``; ``GET /metadata`` -> labels, task, model, version.
- Requests that arrive together are batched: a single worker takes every request queued
  while the model was busy (up to ``max_batch`` texts, optionally waiting ``max_wait_ms``
  for more) and runs the model once for all of them, in a thread so the event loop keeps
  accepting requests.
- Optional bearer token (``--token`` or ``$LABELWISE_TOKEN``), compared in constant time;
  bound to 127.0.0.1 unless told otherwise; each request has a timeout.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import os
import sys
from collections.abc import Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse

from labelwise.estimator import TextClassifier
from labelwise.predict import prediction_records
from labelwise.texts import text_problem

TOKEN_ENV = "LABELWISE_TOKEN"


@dataclass
class ServeConfig:
    """Limits and batching of the service."""

    max_texts: int = 256  # texts per request
    max_text_chars: int = 100_000  # characters per text
    max_body_bytes: int = 8 * 1024 * 1024
    max_batch: int = 64  # texts per model call
    # how long the batcher waits for more requests once the model is free. 0 (default): no
    # wait; requests that arrive while the model runs form the next batch, so batches grow
    # with the load and a lone request pays no delay
    max_wait_ms: float = 0.0
    timeout_s: float = 30.0  # per request
    header_timeout_s: float = 10.0  # for the request line and headers to arrive
    token: str | None = None
    top_k: int | None = None  # default: the run's decode.top_k


@dataclass
class _Job:
    texts: list[str]
    k: int
    future: asyncio.Future[list[dict[str, Any]]]


Scorer = Callable[[list[str], int], list[dict[str, Any]]]


@dataclass
class Batcher:
    """Collects jobs from concurrent requests and runs them through the model together.

    A batch that fails is scored again request by request, so a failure reaches only the
    request that caused it, never the others that happened to share its model call."""

    score: Scorer
    cfg: ServeConfig
    queue: asyncio.Queue[_Job] = field(default_factory=asyncio.Queue)
    batches: int = 0  # model calls so far (for tests and /metadata)

    async def submit(self, texts: list[str], k: int) -> list[dict[str, Any]]:
        fut: asyncio.Future[list[dict[str, Any]]] = asyncio.get_running_loop().create_future()
        await self.queue.put(_Job(texts, k, fut))
        return await fut

    async def run(self) -> None:
        while True:
            await self._run_batch(await self._collect())

    async def _collect(self) -> list[_Job]:
        loop = asyncio.get_running_loop()
        jobs = [await self.queue.get()]
        size = len(jobs[0].texts)
        deadline = loop.time() + self.cfg.max_wait_ms / 1000
        while size < self.cfg.max_batch:
            # what queued while the model was busy joins this batch at once; then wait
            # up to max_wait_ms for more (0: never wait, so a lone request goes straight in)
            if not self.queue.empty():
                job = self.queue.get_nowait()
            else:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                try:
                    job = await asyncio.wait_for(self.queue.get(), remaining)
                except TimeoutError:
                    break
            jobs.append(job)
            size += len(job.texts)
        return jobs

    async def _run_batch(self, jobs: list[_Job]) -> None:
        jobs = [j for j in jobs if not j.future.done()]  # a request that timed out is gone
        if not jobs:
            return
        texts = [t for j in jobs for t in j.texts]
        k = max(j.k for j in jobs)
        try:
            records = await asyncio.get_running_loop().run_in_executor(None, self.score, texts, k)
        except Exception as err:
            if len(jobs) == 1:
                jobs[0].future.set_exception(err)
                return
            for j in jobs:  # isolate the failure: each request alone
                await self._run_batch([j])
            return
        self.batches += 1
        start = 0
        for j in jobs:
            part = records[start:start + len(j.texts)]
            start += len(j.texts)
            for rec in part:
                rec.pop("text", None)
                rec["top_k"] = rec["top_k"][: j.k]
            if not j.future.done():
                j.future.set_result(part)


def _error(status: int, field_name: str, message: str) -> Any:
    return JSONResponse(status_code=status, content={"error": {"field": field_name, "message": message}})


def create_app(run_dir: str | Path, cfg: ServeConfig | None = None, ready_message: str | None = None) -> Any:
    """The FastAPI application serving the run in ``run_dir``; ``ready_message`` is printed
    to stderr once it starts serving."""
    from labelwise.version import __version__

    cfg = cfg or ServeConfig()
    clf = TextClassifier.load(run_dir)
    default_k = cfg.top_k or clf.config_.decode.top_k
    batcher = Batcher(lambda texts, k: prediction_records(clf, texts, k), cfg)

    @asynccontextmanager
    async def lifespan(app: FastAPI):  # type: ignore[no-untyped-def]
        worker = asyncio.create_task(batcher.run())
        if ready_message:
            print(ready_message, file=sys.stderr, flush=True)
        yield
        worker.cancel()

    # no /docs or /redoc: FastAPI's pages load their scripts from a CDN (/openapi.json stays)
    app = FastAPI(title="labelwise", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.batcher = batcher
    metadata = {
        "labels": [str(c) for c in clf.classes_],
        "task": clf.task_.value,
        "model": {"encoder": clf.config_.model.encoder.get("name"), "head": clf.config_.model.head.get("name"),
                  "type": clf.config_.model.type},
        "run_dir": str(Path(run_dir).resolve().name),
        "version": __version__,
        "limits": {"max_texts": cfg.max_texts, "max_text_chars": cfg.max_text_chars,
                   "max_body_bytes": cfg.max_body_bytes},
    }

    page = resources.files("labelwise").joinpath("static", "index.html").read_text(encoding="utf-8")

    @app.middleware("http")
    async def guard(request: Request, call_next):  # type: ignore[no-untyped-def]
        # the page itself holds no data: it loads without the token and sends it with
        # every request it makes, which the rule below checks like any other
        public = request.method == "GET" and request.url.path == "/"
        if cfg.token is not None and not public:
            got = request.headers.get("authorization", "")
            want = f"Bearer {cfg.token}"
            if not hmac.compare_digest(got.encode(), want.encode()):
                return JSONResponse(status_code=401, content={"error": {
                    "field": "Authorization", "message": "missing or wrong bearer token"}},
                    headers={"WWW-Authenticate": "Bearer"})
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > cfg.max_body_bytes:
            return _error(413, "body", f"request body over {cfg.max_body_bytes} bytes")
        try:
            return await asyncio.wait_for(call_next(request), cfg.timeout_s)
        except TimeoutError:
            return _error(504, "request", f"no answer within {cfg.timeout_s} s")

    @app.get("/", include_in_schema=False)
    async def index() -> HTMLResponse:
        """The web page: type a text, see its labels and, for each, the tokens that drove it."""
        return HTMLResponse(page, headers={"Content-Security-Policy": "default-src 'self'; "
                                           "script-src 'unsafe-inline'; style-src 'unsafe-inline'"})

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/metadata")
    async def meta() -> dict[str, Any]:
        return {**metadata, "batches_run": batcher.batches}

    async def read_json(request: Request) -> tuple[Any, Any]:
        """(the body as JSON, None), or (None, the error response): a body over the limit is
        a 413 even without a content-length, unreadable JSON a 400."""
        body = bytearray()
        async for piece in request.stream():  # a body without content-length is capped too
            body += piece
            if len(body) > cfg.max_body_bytes:
                return None, _error(413, "body", f"request body over {cfg.max_body_bytes} bytes")
        try:
            return _parse_json(bytes(body)), None
        except ValueError as err:
            return None, _error(400, "body", str(err))

    @app.post("/predict", openapi_extra={"requestBody": {
        "required": True, "content": {"application/json": {"schema": request_schema(cfg)}}}})
    async def predict(request: Request) -> Any:
        payload, failed = await read_json(request)
        if failed is not None:
            return failed
        problem = _check_payload(payload, cfg)
        if problem is not None:
            return _error(422, *problem)
        k = payload.get("top_k", default_k)
        if not payload["texts"]:
            return {"predictions": []}
        try:
            preds = await batcher.submit(payload["texts"], k)
        except Exception as err:  # the texts passed every check, so this is our fault
            return _error(500, "texts", f"the model failed on this request ({type(err).__name__}: "
                                        f"{str(err)[:200]})")
        return {"predictions": preds}

    @app.post("/explain")
    async def explain(request: Request) -> Any:
        """Per-label token weights of ``texts`` (``labels``: the labels to explain; default
        the labels each text is given), as ``labelwise explain`` writes them."""
        payload, failed = await read_json(request)
        if failed is not None:
            return failed
        labels = payload.pop("labels", None) if isinstance(payload, dict) else None
        problem = _check_payload(payload, cfg)
        if problem is not None:
            return _error(422, *problem)
        if labels is not None and (not isinstance(labels, list) or not all(isinstance(x, str) for x in labels)):
            return _error(422, "labels", "expected a list of label names")
        if len(payload["texts"]) > MAX_EXPLAIN:
            return _error(422, "texts", f"at most {MAX_EXPLAIN} texts a request to explain")
        try:
            records = await asyncio.get_running_loop().run_in_executor(
                None, lambda: clf.explain(payload["texts"], labels or None))
        except ValueError as err:  # an unknown label, or a model this cannot explain yet
            return _error(422, "labels" if labels else "model", str(err)[:300])
        return {"explanations": records}

    return app


MAX_EXPLAIN = 8  # texts a /explain request: an explanation costs more than a prediction


class TooLongInteger(float):
    """An integer literal too long to convert (``int()`` refuses over 4,300 digits): kept
    as infinity, so the field's own check names it instead of the parser failing."""


def _parse_json(body: bytes) -> Any:
    """A request body as JSON; ValueError with a short reason for anything unreadable."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ValueError(f"not valid UTF-8 (byte {err.start + 1})") from None
    try:
        return json.loads(text, parse_int=lambda s: int(s) if len(s) <= 30 else TooLongInteger("inf"))
    except json.JSONDecodeError as err:
        raise ValueError(f"not valid JSON ({err.msg} at line {err.lineno}, column {err.colno})") from None
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None


def request_schema(cfg: ServeConfig) -> dict[str, Any]:
    """The JSON schema of a ``/predict`` body, with this service's limits (for the OpenAPI
    document, so clients and fuzzers see what is accepted)."""
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["texts"],
        "properties": {
            "texts": {"type": "array", "maxItems": cfg.max_texts, "items": {
                "type": "string", "minLength": 1, "maxLength": cfg.max_text_chars, "pattern": r"\S"}},
            "top_k": {"type": "integer", "minimum": 1, "maximum": MAX_TOP_K},
        },
    }


MAX_TOP_K = 1000


def _check_payload(payload: Any, cfg: ServeConfig) -> tuple[str, str] | None:
    """(field, message) of the first problem of a /predict body, or None. Every text is
    checked here, before it can join a batch with other clients' texts."""
    if not isinstance(payload, dict):
        return "body", f"expected a JSON object like {{\"texts\": [\"...\"]}}, got {type(payload).__name__}"
    unknown = sorted(set(payload) - {"texts", "top_k"})
    if unknown:
        return unknown[0][:100], "unknown field; allowed: texts, top_k"
    texts = payload.get("texts")
    if not isinstance(texts, list):
        return "texts", "required: a list of strings"
    if len(texts) > cfg.max_texts:
        return "texts", f"{len(texts)} texts in one request; the limit is {cfg.max_texts}"
    for i, t in enumerate(texts):
        problem = text_problem(t, cfg.max_text_chars)
        if problem is not None:
            return f"texts[{i}]", problem
    k = payload.get("top_k")
    if k is not None and (isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_TOP_K):
        return "top_k", f"expected an integer from 1 to {MAX_TOP_K}"
    return None


def _header_timeout_protocol(seconds: float) -> type:
    """uvicorn's h11 protocol, closing a connection whose request line and headers have not
    all arrived within ``seconds`` (uvicorn bounds only idle keep-alive connections, so a
    client sending its headers a byte at a time would hold a connection forever)."""
    import h11
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class HeaderTimeoutProtocol(H11Protocol):
        _head_timer: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm()

        def _arm(self) -> None:
            if self._head_timer is None:
                self._head_timer = self.loop.call_later(seconds, self._head_expired)

        def _disarm(self) -> None:
            if self._head_timer is not None:
                self._head_timer.cancel()
                self._head_timer = None

        def data_received(self, data: bytes) -> None:
            if self.conn.their_state is h11.IDLE:
                self._arm()  # a request head is arriving: it has `seconds` to complete
            super().data_received(data)
            if self.conn.their_state is not h11.IDLE:
                self._disarm()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def _head_expired(self) -> None:
            self._head_timer = None
            if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
                self.transport.close()

    return HeaderTimeoutProtocol


def serve(run_dir: str | Path, host: str = "127.0.0.1", port: int = 8000, cfg: ServeConfig | None = None) -> None:
    """Run the service with uvicorn until interrupted."""
    import uvicorn

    cfg = cfg or ServeConfig()
    if cfg.token is None:
        cfg.token = os.environ.get(TOKEN_ENV) or None
    # loading a neural run takes seconds: say so, and say where it listens once it does
    print(f"labelwise: loading {run_dir} ...", file=sys.stderr, flush=True)
    shown = f"[{host}]" if ":" in host else host
    ready = (f"labelwise: serving {run_dir} on http://{shown}:{port} (POST /predict, GET /health, "
             f"/metadata{'; a bearer token is required' if cfg.token else ''}); Ctrl-C stops it")
    uvicorn.run(create_app(run_dir, cfg, ready), host=host, port=port, log_level="warning",
                http=_header_timeout_protocol(cfg.header_timeout_s))
