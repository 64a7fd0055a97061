"""The receiver's background loop: claim a queued payload, triage it one alert group at a
time, post each group to every destination, then acknowledge; retry with backoff when a
destination fails, dead-letter after the last attempt.

De-duplication is by (destination, group fingerprint): a group is posted when its status
differs from the last status posted there, so a repeating notification posts once and a
resolution posts an update. A group that fires again within `flap_window_s` of being
posted resolved is flapping and is not re-posted. Each post carries an idempotency key
that is the same every time that post is retried, so a receiver can drop the rare
duplicate a crash between "posted" and "recorded" leaves (delivery is at least once).
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from incident import log, pipeline
from incident.analysis.config import AnalysisConfig
from incident.errors import IncidentError, InputError
from incident.ingest.detect import ALERTS, read_blob
from incident.ingest.sources import Blob
from incident.model import Alert, Bundle
from incident.redact import Redactor
from incident.render.triage import TriageFormat, render_triage
from incident.serve.config import Destination, Settings
from incident.serve.deliver import DeliveryError, Poster, write_files
from incident.serve.metrics import Metrics
from incident.serve.queue import Item, Queue
from incident.triage_report import Triage

POST_SCHEMA = "incident.serve.post/1"
# How long the loop sleeps at most when nothing is due (an enqueue wakes it at once).
_IDLE_S = 1.0
_STRIPES = 64
# How often the loop forgets old delivered items (see Settings.keep_done_s).
_PRUNE_EVERY_S = 3600.0


def group_fingerprint(name: str, service: str | None) -> str:
    """A stable id for an alert group (triage groups by name and service); a hash, so file
    names and logs carry no label values."""
    digest = hashlib.sha256(f"{name}\x00{service or ''}".encode()).hexdigest()
    return digest[:24]


@dataclass
class GroupPost:
    """One group's triage, redacted, ready to render for any destination."""

    fingerprint: str
    status: str
    triage: Triage
    _rendered: dict[str, bytes] = field(default_factory=dict)

    def render(self, fmt: TriageFormat) -> bytes:
        if fmt not in self._rendered:
            self._rendered[fmt] = render_triage(self.triage, fmt).encode("utf-8")
        return self._rendered[fmt]


def read_payload(name: str, body: bytes) -> Bundle:
    """The alerts of one webhook body, detected by content as `triage` detects files."""
    return read_blob(Blob(name, body), force=ALERTS)


def triage_payload(
    bundle: Bundle,
    evidence: Callable[[], Bundle | None],
    now_ns: int | None = None,
    config: AnalysisConfig | None = None,
) -> list[GroupPost]:
    """One redacted single-group triage per alert group of the payload (in payload order).

    `evidence` gives a fresh traces/logs bundle (or None), diagnosed once per payload with
    all its alerts as hints (as `incident triage --traces` does): each group gets the
    engine's likely cause.
    """
    buckets: dict[tuple[str, str | None], list[Alert]] = {}
    for alert in bundle.alerts:
        buckets.setdefault((alert.name, alert.service), []).append(alert)
    redactor = Redactor()  # one per payload: placeholders agree across its posts
    report = pipeline.evidence_report(evidence(), bundle.alerts, config) if buckets else None
    out: list[GroupPost] = []
    for (name, service), alerts in buckets.items():
        result = pipeline.triage(alerts, bundle.notices, None, now_ns=now_ns, report=report)
        if not result.groups:
            continue
        shared = pipeline.shareable_triage(result, redactor)
        out.append(GroupPost(group_fingerprint(name, service), result.groups[0].status, shared))
    return out


def idempotency_key(destination: str, fingerprint: str, status: str, generation: int) -> str:
    raw = f"{destination}|{fingerprint}|{status}|{generation}"
    return hashlib.sha256(raw.encode()).hexdigest()[:32]


class Worker:
    """The loop in its own thread; `stop()` lets it finish the item in hand."""

    def __init__(
        self,
        settings: Settings,
        queue: Queue,
        metrics: Metrics,
        poster: Poster | None = None,
    ) -> None:
        self.settings = settings
        self.queue = queue
        self.metrics = metrics
        self.poster = poster or Poster(settings.post_timeout_s)
        # What the evidence diagnosis counts as slow: the same for every item.
        self.config = AnalysisConfig.slow_at(settings.slow_ms)
        self.wake = threading.Event()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        # Check-post-record of one group is serialised (striped by fingerprint) so two
        # threads never both post the same change.
        self._stripes = [threading.Lock() for _ in range(_STRIPES)]
        self._pruned_at = time.monotonic()

    # --- the loop ------------------------------------------------------------------------

    def start(self) -> None:
        """Release what a previous process left leased, then run the loop in a thread."""
        released = self.queue.recover()
        if released:
            log.info("serve.resumed", f"resuming {released} unfinished item(s)", items=released)
        self.prune()
        for n in range(self.settings.workers):
            thread = threading.Thread(target=self.run, name=f"incident-serve-{n}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def alive(self) -> bool:
        return any(t.is_alive() for t in self._threads)

    def close(self) -> None:
        self.poster.close()
        self.queue.close()

    def stop(self, timeout: float = 30.0) -> bool:
        """Ask the loop to end after the item in hand; True when it did within `timeout`.
        An item still in hand after that keeps its lease and is re-delivered later."""
        self._stop.set()
        self.wake.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        return not self.alive()

    def prune(self) -> None:
        """Forget delivered items older than `keep_done_s` (at start, then every hour)."""
        self._pruned_at = time.monotonic()
        if self.settings.keep_done_s <= 0:
            return
        gone = self.queue.prune(self.settings.keep_done_s)
        if gone:
            log.info("serve.pruned", f"forgot {gone} delivered item(s)", items=gone)

    def run(self) -> None:
        s = self.settings
        while not self._stop.is_set():
            if time.monotonic() - self._pruned_at >= _PRUNE_EVERY_S:
                self.prune()
            item = self.queue.claim(s.lease_s, s.max_attempts)
            if item is None:
                due = self.queue.next_due()
                wait = _IDLE_S if due is None else min(_IDLE_S, max(0.0, due - time.time()))
                self.wake.wait(wait)
                self.wake.clear()
                continue
            self.process(item)

    # --- one item ------------------------------------------------------------------------

    def process(self, item: Item) -> None:
        """Triage, post, then ack / retry / dead-letter the item."""
        s = self.settings
        try:
            payload = read_payload(f"webhook#{item.id}", item.body)
            posts = triage_payload(payload, self._evidence, config=self.config)
        except InputError as exc:
            self._bury(item, f"unreadable payload: {exc}")
            return
        except IncidentError as exc:
            self._retry(item, f"triage failed: {exc}")
            return
        except Exception as exc:  # noqa: BLE001 - a bug must not stop the loop; the item says why
            log.error("serve.bug", f"internal error on item {item.id}: {exc!r}", item=item.id)
            self._retry(item, f"internal error: {type(exc).__name__}: {exc}")
            return
        errors: list[DeliveryError] = []
        for post in posts:
            for dest in s.destinations:
                try:
                    self._send(dest, post, item)
                except DeliveryError as exc:
                    errors.append(exc)
        if not errors:
            self.queue.ack(item.id)
            self.metrics.inc("processed_total")
            log.debug("serve.done", f"item {item.id}: {len(posts)} group(s)", item=item.id)
        elif any(e.permanent for e in errors):
            self._bury(item, "; ".join(str(e) for e in errors))
        else:
            self._retry(item, "; ".join(str(e) for e in errors))

    def _evidence(self) -> Bundle | None:
        s = self.settings
        if not (s.traces or s.logs):
            return None
        # Loaded for each group: triage adds the alerts to it, and live sources move on.
        return pipeline.load(list(s.traces), list(s.logs))

    def _send(self, dest: Destination, post: GroupPost, item: Item) -> None:
        stripe = self._stripes[int(post.fingerprint[:8], 16) % _STRIPES]
        with stripe:
            self._send_locked(dest, post, item)

    def _send_locked(self, dest: Destination, post: GroupPost, item: Item) -> None:
        last = self.queue.last_post(dest.name, post.fingerprint)
        if last is not None:
            # A newer payload about this group was posted already (this one was retried
            # or replayed): its state is older news.
            stale = last.item_id > item.id
            flapping = (
                last.status == "resolved"
                and post.status != "resolved"
                and time.time() - last.posted_at < self.settings.flap_window_s
            )
            if last.status == post.status or flapping or stale:
                self.metrics.inc("deduplicated_total", destination=dest.name)
                return
        generation = (last.generation if last else 0) + 1
        key = idempotency_key(dest.name, post.fingerprint, post.status, generation)
        if dest.kind == "folder":
            write_files(
                dest, post.fingerprint, {".md": post.render("md"), ".json": post.render("json")}
            )
        else:
            body = post.render("slack") if dest.kind == "slack" else self._envelope(post, key)
            headers = {
                "Idempotency-Key": key,
                "X-Incident-Fingerprint": post.fingerprint,
                "X-Incident-Status": post.status,
            }
            self.poster.post(dest, body, headers)
        self.queue.record_post(dest.name, post.fingerprint, post.status, generation, item.id)
        self.metrics.inc("posted_total", destination=dest.name)
        self.metrics.observe(max(0.0, time.time() - item.received_at))

    @staticmethod
    def _envelope(post: GroupPost, key: str) -> bytes:
        doc = {
            "schema": POST_SCHEMA,
            "fingerprint": post.fingerprint,
            "status": post.status,
            "idempotency_key": key,
            "triage": json.loads(post.render("json")),
        }
        return json.dumps(doc, ensure_ascii=False).encode("utf-8")

    def _retry(self, item: Item, reason: str) -> None:
        s = self.settings
        self.metrics.inc("failed_total")
        dead = self.queue.fail(
            item, reason, max_attempts=s.max_attempts, base=s.backoff_base_s, cap=s.backoff_max_s
        )
        if dead:
            self.metrics.inc("dead_lettered_total")
            log.warning(
                "serve.dead_letter", f"item {item.id} dead-lettered: {reason}", item=item.id
            )
        else:
            log.info("serve.retry", f"item {item.id} will be retried: {reason}", item=item.id)

    def _bury(self, item: Item, reason: str) -> None:
        self.metrics.inc("failed_total")
        self.metrics.inc("dead_lettered_total")
        self.queue.bury(item.id, reason)
        log.warning("serve.dead_letter", f"item {item.id} dead-lettered: {reason}", item=item.id)
