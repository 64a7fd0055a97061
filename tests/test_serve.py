"""`incident serve` over real HTTP on loopback: Uvicorn on 127.0.0.1 port 0 in a thread, a
stand-in Slack / webhook endpoint (stdlib http.server) on loopback, the real queue file.

Every alert payload the project has is posted and triaged; signatures, size limits, garbage
and rate limits are refused before anything is queued; repeats are de-duplicated; failing
destinations are retried, then dead-lettered, and replayed.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx2
import pytest
from realfiles import FIXTURES, ROOT, real_param
from test_triage_render import HAND_BUILT, slack_errors

from incident.serve.config import Destination, Settings, SourceRule
from incident.serve.queue import Queue
from incident.serve.server import bind, build, server
from incident.serve.worker import group_fingerprint, read_payload

ALERTS = FIXTURES / "alerts"
CRASHLOOP = ALERTS / "holmesgpt_11_KubePodCrashLooping_issue_data.json"
PROM = ALERTS / "prom_post_request.json"
GRAFANA = ALERTS / "handmade" / "grafana_unified_resolved.json"
PAGERDUTY = ALERTS / "handmade" / "pagerduty_v3_incident_resolved.json"


# --- a stand-in destination ----------------------------------------------------------------


@dataclass
class Sink:
    """A loopback HTTP endpoint recording every POST; `answer` picks each reply's status."""

    answer: Callable[[int], int] = lambda n: 200
    posts: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    ok: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    cond: threading.Condition = field(default_factory=threading.Condition)
    url: str = ""

    def wait(self, count: int, timeout: float = 10.0) -> None:
        """Until `count` posts were answered 2xx (fails the test after `timeout`)."""
        with self.cond:
            assert self.cond.wait_for(lambda: len(self.ok) >= count, timeout), self.ok


@contextmanager
def sink(answer: Callable[[int], int] = lambda n: 200) -> Iterator[Sink]:
    box = Sink(answer=answer)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with box.cond:
                status = box.answer(len(box.posts))
                box.posts.append((dict(self.headers), body))
                if status < 300:
                    box.ok.append((dict(self.headers), body))
                box.cond.notify_all()
            self.send_response(status)
            self.end_headers()
            self.wfile.write(b"ok" if status < 300 else b"no_service")

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    box.url = f"http://127.0.0.1:{httpd.server_address[1]}/hook"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield box
    finally:
        httpd.shutdown()
        httpd.server_close()


# --- the receiver in a thread ----------------------------------------------------------------


@dataclass
class Running:
    url: str
    queue: Path

    def post(self, body: bytes, headers: dict[str, str] | None = None) -> httpx2.Response:
        return httpx2.post(f"{self.url}/webhook", content=body, headers=headers or {})

    def counts(self) -> dict[str, int]:
        q = Queue(self.queue)
        try:
            return q.counts()
        finally:
            q.close()

    def settle(self, timeout: float = 10.0) -> dict[str, int]:
        """Until nothing is ready or leased; the final counts."""
        deadline = time.monotonic() + timeout
        while True:
            counts = self.counts()
            if counts["ready"] == counts["leased"] == 0:
                return counts
            assert time.monotonic() < deadline, counts
            time.sleep(0.02)


@contextmanager
def receiver(settings: Settings) -> Iterator[Running]:
    parts = build(settings)
    sock = bind("127.0.0.1", 0)
    srv = server(parts, sock)
    started = threading.Event()
    parts.on_start = started.set
    thread = threading.Thread(target=srv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    assert started.wait(10), "the receiver did not start"
    try:
        yield Running(f"http://127.0.0.1:{sock.getsockname()[1]}", settings.queue)
    finally:
        srv.should_exit = True
        thread.join(15)
        sock.close()
        assert not thread.is_alive()


def settings(tmp_path: Path, *dests: Destination, **kw: Any) -> Settings:
    if not dests:
        folder = tmp_path / "out"
        folder.mkdir(exist_ok=True)
        dests = (Destination(name="folder", kind="folder", path=folder),)
    return Settings(queue=tmp_path / "q.sqlite3", destinations=dests, **kw)


def webhook(url: str, name: str = "webhook") -> Destination:
    return Destination(name=name, kind="webhook", url=url)


# --- every payload kind ------------------------------------------------------------------------

PAYLOADS = [
    pytest.param(p, id=str(p.relative_to(ALERTS)))
    for p in sorted(ALERTS.rglob("*.json"))
    # handmade/*: shapes as the vendors document them (see tests/fixtures/alerts/README.md)
] + [
    real_param(f"alerts/{rel}")
    for rel in sorted(HAND_BUILT)
    if not (ALERTS / Path(rel).name).exists()
]


@pytest.mark.parametrize("path", PAYLOADS)
def test_every_payload_kind_is_accepted_and_triaged(tmp_path: Path, path: Path) -> None:
    """Each real or documented-shape payload gets 202, and the folder then holds one
    incident.triage/1 file per alert group, named by the group's fingerprint."""
    body = path.read_bytes()
    bundle = read_payload("expected", body)
    groups = {(a.name, a.service) for a in bundle.alerts}
    s = settings(tmp_path)
    with receiver(s) as rx:
        answer = rx.post(body)
        assert answer.status_code == 202, answer.text
        assert answer.json()["source"] == bundle.inputs[0].format
        assert rx.settle()["done"] == 1
    out = tmp_path / "out"
    expected = {group_fingerprint(name, service) for name, service in groups}
    assert {p.stem for p in out.glob("*.json")} == expected
    for fp in expected:
        doc = json.loads((out / f"{fp}.json").read_text())
        assert doc["schema"] == "incident.triage/1"
        assert len(doc["groups"]) == 1
        assert (out / f"{fp}.md").read_text().startswith("### Alert triage:")


def test_slack_stand_in_receives_valid_block_kit_redacted(tmp_path: Path) -> None:
    """A Slack destination gets Block Kit that passes the structural checks, and the secrets
    and personal data in the payload do not reach it."""
    doc = json.loads(CRASHLOOP.read_text())
    secret = "AKIAIOSFODNN7EXAMPLE"
    email = "oncall.person@example.com"
    body = json.dumps(doc).replace("CrashLooping", f"CrashLooping {email} key {secret}", 1)
    with sink() as slack:
        s = settings(tmp_path, Destination(name="slack", kind="slack", url=slack.url))
        with receiver(s) as rx:
            assert rx.post(body.encode()).status_code == 202
            slack.wait(1)
    headers, posted = slack.ok[0]
    blocks = json.loads(posted)
    assert slack_errors(blocks) == []
    assert blocks["blocks"][0]["type"] == "header"
    assert secret not in posted.decode() and email not in posted.decode()
    assert headers["Content-Type"] == "application/json"
    assert len(headers["Idempotency-Key"]) == 32


# --- refused before queueing -------------------------------------------------------------------


def _grafana_sig(secret: str, body: bytes, stamp: str | None = None) -> str:
    message = f"{stamp}:".encode() + body if stamp else body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def test_grafana_hmac_good_passes_bad_gets_401_and_is_not_queued(tmp_path: Path) -> None:
    """Grafana's HMAC-SHA256 over `timestamp:body`: a wrong signature, a missing one and a
    stale timestamp get 401; the right one 202; only that one is queued."""
    rule = SourceRule(
        name="grafana",
        verify="grafana",
        secret="s3cret",
        timestamp_header="X-Grafana-Alerting-Signature-Timestamp",
    )
    body = GRAFANA.read_bytes()
    now = str(int(time.time()))
    with receiver(settings(tmp_path, sources={"grafana": rule})) as rx:
        bad = rx.post(
            body,
            {
                "X-Grafana-Alerting-Signature": _grafana_sig("wrong", body, now),
                "X-Grafana-Alerting-Signature-Timestamp": now,
            },
        )
        missing = rx.post(body)
        old = str(int(time.time()) - 3600)
        stale = rx.post(
            body,
            {
                "X-Grafana-Alerting-Signature": _grafana_sig("s3cret", body, old),
                "X-Grafana-Alerting-Signature-Timestamp": old,
            },
        )
        for answer in (bad, missing, stale):
            assert answer.status_code == 401
            assert answer.text.count("\n") == 1
        assert rx.counts()["ready"] + rx.counts()["done"] == 0
        good = rx.post(
            body,
            {
                "X-Grafana-Alerting-Signature": _grafana_sig("s3cret", body, now),
                "X-Grafana-Alerting-Signature-Timestamp": now,
            },
        )
        assert good.status_code == 202
        assert sum(rx.settle().values()) == 1


def test_pagerduty_v3_signature_with_rotation(tmp_path: Path) -> None:
    """PagerDuty V3 sends `v1=<hex>` signatures, several during a secret rotation: one
    match passes; none gets 401."""
    rule = SourceRule(name="pagerduty", verify="pagerduty", secret="pd-secret")
    body = PAGERDUTY.read_bytes()
    good = "v1=" + hmac.new(b"pd-secret", body, hashlib.sha256).hexdigest()
    other = "v1=" + hmac.new(b"old-secret", body, hashlib.sha256).hexdigest()
    with receiver(settings(tmp_path, sources={"pagerduty": rule})) as rx:
        assert rx.post(body, {"X-PagerDuty-Signature": other}).status_code == 401
        assert rx.post(body, {"X-PagerDuty-Signature": f"{other},{good}"}).status_code == 202
        assert sum(rx.settle().values()) == 1


def test_default_token_rule_covers_sources_without_their_own(tmp_path: Path) -> None:
    """`[sources.default]` with a bearer token guards every other source (Alertmanager's
    http_config authorization sends `Authorization: Bearer ...`)."""
    rule = SourceRule(name="default", verify="token", secret="tok")
    with receiver(settings(tmp_path, sources={"default": rule})) as rx:
        assert rx.post(PROM.read_bytes(), {"Authorization": "Bearer nope"}).status_code == 401
        assert rx.post(PROM.read_bytes(), {"Authorization": "Bearer tok"}).status_code == 202


def test_oversized_body_gets_413_and_is_not_queued(tmp_path: Path) -> None:
    """Past max_body, declared or streamed without a length, the answer is 413."""
    body = PROM.read_bytes()
    with receiver(settings(tmp_path, max_body=len(body) - 1)) as rx:
        assert rx.post(body).status_code == 413

        def chunks() -> Iterator[bytes]:
            yield body[:100]
            yield body[100:]

        streamed = httpx2.post(f"{rx.url}/webhook", content=chunks())
        assert streamed.status_code == 413
        assert "larger than" in streamed.text
        assert sum(rx.counts().values()) == 0


@pytest.mark.parametrize(
    "body",
    [b"garbage", b"", b'{"hello": "world"}', b"\x89PNG\r\n\x1a\n\x00\x00", b'{"alerts": [1'],
    ids=["text", "empty", "not-alerts", "binary", "truncated"],
)
def test_garbage_gets_400_with_one_line_and_is_not_queued(tmp_path: Path, body: bytes) -> None:
    """Whatever no alert reader recognises is refused with one line saying why."""
    with receiver(settings(tmp_path)) as rx:
        answer = rx.post(body)
        assert answer.status_code == 400
        assert answer.text.endswith("\n") and answer.text.count("\n") == 1
        assert answer.text.startswith("webhook:")
        assert sum(rx.counts().values()) == 0


def test_rate_limit_per_source_gets_429(tmp_path: Path) -> None:
    """A source over its rate gets 429 with Retry-After; another source is unaffected."""
    rules = {"alertmanager": SourceRule(name="alertmanager", rate=0.001, burst=2)}
    with receiver(settings(tmp_path, sources=rules)) as rx:
        codes = [rx.post(PROM.read_bytes()).status_code for _ in range(4)]
        assert codes == [202, 202, 429, 429]
        assert rx.post(GRAFANA.read_bytes()).status_code == 202
        assert rx.settle()["done"] == 3


# --- de-duplication, retries, dead letters -----------------------------------------------------


def _resolved(doc: dict[str, Any]) -> bytes:
    doc = json.loads(json.dumps(doc))
    doc["status"] = "resolved"
    for alert in doc["alerts"]:
        alert["status"] = "resolved"
        alert["endsAt"] = "2018-03-07T07:00:00Z"
    return json.dumps(doc).encode()


def test_repeats_post_once_and_resolution_updates(tmp_path: Path) -> None:
    """Five copies of a firing payload post once; its resolution posts once more, with the
    same group fingerprint and status "resolved", in the documented envelope."""
    with sink() as hook, receiver(settings(tmp_path, webhook(hook.url))) as rx:
        for _ in range(5):
            assert rx.post(PROM.read_bytes()).status_code == 202
        rx.settle()
        assert rx.post(_resolved(json.loads(PROM.read_text()))).status_code == 202
        rx.settle()
        metrics = httpx2.get(f"{rx.url}/metrics").text
    assert len(hook.ok) == 2
    first, second = (json.loads(body) for _, body in hook.ok)
    assert first["schema"] == "incident.serve.post/1"
    assert (first["status"], second["status"]) == ("firing", "resolved")
    assert first["fingerprint"] == second["fingerprint"]
    assert first["idempotency_key"] != second["idempotency_key"]
    assert second["triage"]["groups"][0]["status"] == "resolved"
    assert 'incident_serve_deduplicated_total{destination="webhook"} 4' in metrics
    assert 'incident_serve_received_total{source="alertmanager"} 6' in metrics


def test_failing_destination_is_retried_then_dead_lettered_and_replayed(tmp_path: Path) -> None:
    """5xx answers are retried with backoff up to max_attempts, then the item is a dead
    letter with its reason; `replay` sends it again once the destination is back."""
    failing = True
    with sink(lambda n: 503 if failing else 200) as hook:
        s = settings(tmp_path, webhook(hook.url), max_attempts=3, backoff_base_s=0.01)
        with receiver(s) as rx:
            assert rx.post(PROM.read_bytes()).status_code == 202
            assert rx.settle()["dead"] == 1
            assert len(hook.posts) == 3
            q = Queue(s.queue)
            ((_, source, reason, _),) = q.dead_letters()
            assert source == "alertmanager"
            assert "HTTP 503" in reason and "gave up after 3 attempts" in reason
            assert hook.url not in reason
            failing = False
            assert q.replay() == 1
            q.close()
            hook.wait(1)
            assert rx.settle()["done"] == 1


def test_client_error_dead_letters_at_once(tmp_path: Path) -> None:
    """A 4xx (a revoked Slack URL says 404 no_service) is not retried."""
    with (
        sink(lambda n: 404) as hook,
        receiver(settings(tmp_path, webhook(hook.url), max_attempts=5)) as rx,
    ):
        assert rx.post(PROM.read_bytes()).status_code == 202
        assert rx.settle()["dead"] == 1
    assert len(hook.posts) == 1


def test_restart_resumes_queued_and_leased_items(tmp_path: Path) -> None:
    """Items queued while no worker ran, and one a killed worker left leased, are all
    processed when the receiver starts again."""
    s = settings(tmp_path)
    q = Queue(s.queue)
    q.enqueue("alertmanager", PROM.read_bytes())
    q.enqueue("alertmanager", CRASHLOOP.read_bytes())
    leased = q.claim(lease_s=3600, max_attempts=5)
    assert leased is not None
    q.close()
    with receiver(s) as rx:
        assert rx.settle() == {"ready": 0, "leased": 0, "done": 2, "dead": 0}


def test_old_delivered_items_are_forgotten_and_dead_letters_kept(tmp_path: Path) -> None:
    """A receiver that runs for months keeps a bounded queue file: delivered items finished
    more than keep_done_s ago go at start (and hourly), recent ones and dead letters stay;
    keep_done_s = 0 keeps everything."""
    s = settings(tmp_path)
    q = Queue(s.queue)
    ids = [q.enqueue("alertmanager", PROM.read_bytes()) for _ in range(4)]
    for item_id in ids[:3]:
        q.ack(item_id)
    q.bury(ids[3], "a revoked URL")
    old = time.time() - 8 * 86400
    with sqlite3.connect(s.queue) as db:
        db.execute("UPDATE items SET finished_at = ? WHERE id IN (?, ?)", (old, ids[0], ids[3]))
    q.close()
    with receiver(replace(s, keep_done_s=0)) as rx:
        assert rx.settle() == {"ready": 0, "leased": 0, "done": 3, "dead": 1}
    with receiver(s) as rx:
        assert rx.settle() == {"ready": 0, "leased": 0, "done": 2, "dead": 1}


def test_healthz_and_metrics(tmp_path: Path) -> None:
    """/healthz answers ok with the queue counts; /metrics is Prometheus text with the
    counters, the queue depth and the latency histogram."""
    with receiver(settings(tmp_path)) as rx:
        assert rx.post(b"nope").status_code == 400
        health = httpx2.get(f"{rx.url}/healthz")
        metrics = httpx2.get(f"{rx.url}/metrics")
    assert health.status_code == 200 and health.json()["status"] == "ok"
    assert metrics.headers["content-type"].startswith("text/plain; version=0.0.4")
    text = metrics.text
    for name in ("received_total", "processed_total", "failed_total", "post_latency_seconds"):
        assert f"# TYPE incident_serve_{name} " in text
    assert 'incident_serve_rejected_total{reason="bad_payload"} 1' in text
    assert 'incident_serve_queue_depth{state="ready"} 0' in text


# --- evidence, config and the command ------------------------------------------------------

SAMPLE = ROOT / "samples" / "checkout-db-latency"


def test_live_evidence_adds_the_likely_cause_to_each_group(tmp_path: Path) -> None:
    """With traces configured, each group's triage carries the engine's likely cause, the
    same one `incident triage --traces` names."""
    from incident import pipeline

    alerts = (SAMPLE / "alertmanager-webhook.json").read_bytes()
    traces = str(SAMPLE / "traces.otlp.json")
    bundle = read_payload("expected", alerts)
    expected = pipeline.triage(bundle.alerts, bundle.notices, pipeline.load([traces]))
    assert expected.likely_cause is not None
    with receiver(settings(tmp_path, traces=(traces,))) as rx:
        assert rx.post(alerts).status_code == 202
        assert rx.settle()["done"] == 1
    docs = [json.loads(p.read_text()) for p in (tmp_path / "out").glob("*.json")]
    assert len(docs) == len(expected.groups)
    for doc in docs:
        assert doc["likely_cause"]["service"] == expected.likely_cause.service
