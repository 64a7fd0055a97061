"""The receiver's HTTP face (the only module that imports Starlette): one endpoint for every
alert payload kind, `/healthz` and `/metrics`.

`POST /webhook`: the body is bounded (413 past `max_body`), read by the same content
detection and readers as `incident triage` (400 with one line saying why), checked against
its source's signature rule (401) and rate limit (429), then committed to the queue in a
thread before the 202. Nothing refused is queued.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from incident import log
from incident.errors import InputError
from incident.ingest.sources import size_text
from incident.serve import verify
from incident.serve.config import Settings
from incident.serve.metrics import Metrics
from incident.serve.queue import Queue
from incident.serve.worker import Worker, read_payload

PATH = "/webhook"


@dataclass
class _Bucket:
    """A token bucket: `rate` payloads a second, `burst` at once."""

    rate: float
    burst: float
    tokens: float = field(default=0.0)
    at: float = field(default_factory=time.monotonic)

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


@dataclass
class Parts:
    """What the app runs with; the lifespan starts the worker and closes the rest."""

    settings: Settings
    intake: Queue
    metrics: Metrics
    worker: Worker
    on_start: Callable[[], None] = lambda: None
    buckets: dict[str, _Bucket] = field(default_factory=dict)

    def allow(self, source: str) -> bool:
        rule = self.settings.rule(source)
        if rule is None or not rule.rate:
            return True
        bucket = self.buckets.get(source)
        if bucket is None:
            burst = float(rule.burst or max(1, int(rule.rate)))
            bucket = self.buckets[source] = _Bucket(rule.rate, burst, tokens=burst)
        return bucket.take()


def _refuse(parts: Parts, status: int, reason: str, kind: str) -> Response:
    parts.metrics.inc("rejected_total", reason=kind)
    log.info("serve.rejected", f"refused ({status}): {reason}", status=status, reason=kind)
    return PlainTextResponse(" ".join(reason.split()) + "\n", status_code=status)


async def _body(request: Request, limit: int) -> bytes | None:
    """The request body, or None as soon as it is longer than `limit`."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def create_app(parts: Parts) -> Starlette:
    """The ASGI app over `parts`."""
    settings = parts.settings

    async def receive(request: Request) -> Response:
        received = time.time()
        body = await _body(request, settings.max_body)
        if body is None:
            return _refuse(
                parts, 413, f"body larger than {size_text(settings.max_body)}", "too_large"
            )
        try:
            bundle = await run_in_threadpool(read_payload, "webhook", body)
        except InputError as exc:
            return _refuse(parts, 400, str(exc), "bad_payload")
        source = bundle.inputs[0].format if bundle.inputs else "generic"
        try:
            verify.check(settings.rule(source), request.headers, body)
        except verify.VerifyError as exc:
            return _refuse(parts, 401, f"{source}: {exc}", "bad_signature")
        if not parts.allow(source):
            response = _refuse(parts, 429, f"{source}: rate limit exceeded", "rate_limited")
            response.headers["Retry-After"] = "1"
            return response
        item_id = await run_in_threadpool(parts.intake.enqueue, source, body, received)
        parts.metrics.inc("received_total", source=source)
        parts.worker.wake.set()
        return JSONResponse({"status": "queued", "id": item_id, "source": source}, 202)

    async def healthz(_: Request) -> Response:
        counts = await run_in_threadpool(parts.intake.counts)
        alive = parts.worker.alive()
        return JSONResponse(
            {"status": "ok" if alive else "worker stopped", "queue": counts},
            200 if alive else 503,
        )

    async def metrics(_: Request) -> Response:
        counts = await run_in_threadpool(parts.intake.counts)
        return PlainTextResponse(
            parts.metrics.render(counts), media_type="text/plain; version=0.0.4"
        )

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        parts.worker.start()
        parts.on_start()
        try:
            yield
        finally:
            log.info("serve.stopping", "stopping: finishing the item in hand")
            finished = await run_in_threadpool(parts.worker.stop)
            if not finished:
                log.warning(
                    "serve.unfinished",
                    "the item in hand did not finish; it stays leased and is re-delivered",
                )
            parts.worker.close()
            parts.intake.close()

    return Starlette(
        routes=[
            Route(PATH, receive, methods=["POST", "PUT"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/metrics", metrics, methods=["GET"]),
        ],
        lifespan=lifespan,
    )
