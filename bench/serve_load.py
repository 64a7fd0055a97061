"""Load and fault test of `incident serve`, on loopback only: N webhooks at a steady rate to a
receiver running as a subprocess, while the destination fails half of the posts and the
receiver is killed (SIGKILL) once halfway and restarted. Prints what happened:

    accepted, delivered, retried, dead-lettered, duplicates dropped by the idempotency key,
    lost (must be 0), delivered twice (must be 0), p50/p99 time from first send to post.

Usage:

    python bench/serve_load.py                      # 2,000 webhooks at 100/s
    python bench/serve_load.py --count 200 --rate 200

The sender behaves like Alertmanager: a request refused or cut off (the receiver is down)
is sent again until it is accepted, so every payload is eventually accepted; a payload
accepted twice (its 202 lost in the kill) is de-duplicated by the receiver and the sink.
`tests/test_serve_load.py` runs a small version of this in the normal suite.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx2

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Sink:
    """The destination: fails a share of the posts at random, records the successes by
    idempotency key (what a careful receiver de-duplicates on)."""

    fail_rate: float
    rng: random.Random = field(default_factory=lambda: random.Random(7))
    lock: threading.Lock = field(default_factory=threading.Lock)
    posts: int = 0
    failed: int = 0
    first_ok: dict[str, float] = field(default_factory=dict)  # alert name -> time
    keys: dict[str, set[str]] = field(default_factory=dict)  # alert name -> keys
    duplicates: int = 0


def _alert_names(triage: dict[str, Any]) -> list[str]:
    return [str(g["name"]) for g in triage.get("groups", [])]


@contextmanager
def run_sink(fail_rate: float) -> Iterator[tuple[Sink, str]]:
    box = Sink(fail_rate)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            now = time.time()
            with box.lock:
                box.posts += 1
                fail = box.rng.random() < box.fail_rate
                if fail:
                    box.failed += 1
                else:
                    doc = json.loads(body)
                    key = str(doc["idempotency_key"])
                    for name in _alert_names(doc["triage"]):
                        seen = box.keys.setdefault(name, set())
                        if key in seen:
                            box.duplicates += 1
                        seen.add(key)
                        box.first_ok.setdefault(name, now)
            self.send_response(500 if fail else 200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield box, f"http://127.0.0.1:{httpd.server_address[1]}/hook"
    finally:
        httpd.shutdown()
        httpd.server_close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Receiver:
    """`incident serve` as a subprocess on a fixed loopback port (kept across restarts)."""

    def __init__(self, workdir: Path, sink_url: str) -> None:
        self.port = _free_port()
        self.queue = workdir / "queue.sqlite3"
        self.config = workdir / "serve.toml"
        self.config.write_text(
            f'listen = "127.0.0.1:{self.port}"\n'
            f'queue = "{self.queue}"\n'
            "max_attempts = 6\nbackoff_base_s = 0.05\nbackoff_max_s = 1.0\n"
            "post_timeout_s = 5\n\n"
            f'[[destinations]]\nkind = "webhook"\nurl = "{sink_url}"\n'
        )
        self.log = (workdir / "serve.log").open("ab")
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        env = {**os.environ, "INCIDENT_LOG_FORMAT": "json"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "incident", "serve", "--config", str(self.config)],
            stdout=subprocess.DEVNULL,
            stderr=self.log,
            env=env,
            cwd=ROOT,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx2.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx2.HTTPError:
                time.sleep(0.05)
        raise RuntimeError("the receiver did not start; see serve.log")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> int:
        """SIGTERM (graceful); the exit status."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(30)

    def depth(self) -> int:
        text = httpx2.get(f"{self.url}/metrics", timeout=5).text
        total = 0
        for line in text.splitlines():
            if line.startswith("incident_serve_queue_depth{") and (
                'state="ready"' in line or 'state="leased"' in line
            ):
                total += int(line.rsplit(" ", 1)[1])
        return total


def payload(i: int) -> bytes:
    """One Alertmanager webhook (its documented shape) with one alert of a unique name."""
    name = f"LoadAlert{i:05d}"
    alert = {
        "status": "firing",
        "labels": {"alertname": name, "service": "load", "severity": "warning"},
        "annotations": {"summary": f"load test alert {i}"},
        "startsAt": "2026-01-01T00:00:00Z",
        "endsAt": "0001-01-01T00:00:00Z",
        "fingerprint": f"{i:016x}",
    }
    doc = {
        "version": "4",
        "status": "firing",
        "receiver": "incident",
        "groupKey": f'{{}}:{{alertname="{name}"}}',
        "groupLabels": {"alertname": name},
        "commonLabels": alert["labels"],
        "commonAnnotations": {},
        "externalURL": "http://alertmanager.invalid",
        "alerts": [alert],
    }
    return json.dumps(doc).encode()


@dataclass
class Figures:
    count: int
    accepted: int = 0
    accepted_twice: int = 0
    sends: int = 0
    delivered: int = 0
    dead_lettered: int = 0
    retried: int = 0
    sink_posts: int = 0
    sink_failed: int = 0
    duplicates_dropped: int = 0
    delivered_twice: int = 0
    lost: int = 0
    p50_s: float = 0.0
    p99_s: float = 0.0
    wall_s: float = 0.0
    restarts: int = 0
    stop_status: int = 0

    def lines(self) -> list[str]:
        return [
            f"webhooks sent        {self.count} (HTTP requests incl. resends: {self.sends})",
            f"accepted (202)       {self.accepted} (accepted twice, 202 lost in the kill: "
            f"{self.accepted_twice})",
            f"delivered            {self.delivered}",
            f"retried (attempts)   {self.retried}",
            f"dead-lettered        {self.dead_lettered}",
            f"destination posts    {self.sink_posts} ({self.sink_failed} answered 500)",
            f"duplicates dropped   {self.duplicates_dropped} (same idempotency key)",
            f"delivered twice      {self.delivered_twice}",
            f"lost                 {self.lost}",
            f"time to post p50     {self.p50_s * 1000:.0f} ms",
            f"time to post p99     {self.p99_s * 1000:.0f} ms",
            f"restarts (SIGKILL)   {self.restarts}",
            f"wall time            {self.wall_s:.1f} s",
        ]


def _send(client: httpx2.Client, url: str, body: bytes, deadline: float) -> tuple[int, int]:
    """Send until accepted: (HTTP requests made, 1 if accepted)."""
    tries = 0
    while time.monotonic() < deadline:
        tries += 1
        try:
            if client.post(f"{url}/webhook", content=body).status_code == 202:
                return tries, 1
        except httpx2.HTTPError:
            pass
        time.sleep(0.05)
    return tries, 0


def run_load(count: int, rate: float, fail_rate: float = 0.5, kill: bool = True) -> Figures:
    """The whole test; every figure measured, nothing asserted (callers judge)."""
    figures = Figures(count)
    started = time.monotonic()
    with (
        tempfile.TemporaryDirectory(prefix="serve-load-") as tmp,
        run_sink(fail_rate) as (
            box,
            sink_url,
        ),
    ):
        rx = Receiver(Path(tmp), sink_url)
        rx.start()
        first_send: dict[str, float] = {}
        accepted = [0]
        lock = threading.Lock()
        deadline = time.monotonic() + count / rate + 120

        # One client (pool) for all senders: building one per request costs more CPU than
        # the receiver spends on it.
        client = httpx2.Client(timeout=5, limits=httpx2.Limits(max_connections=32))

        def one(i: int) -> tuple[int, int]:
            due = started + i / rate
            time.sleep(max(0.0, due - time.monotonic()))
            first_send[f"LoadAlert{i:05d}"] = time.time()
            result = _send(client, rx.url, payload(i), deadline)
            with lock:
                accepted[0] += result[1]
            return result

        with client, ThreadPoolExecutor(max_workers=16) as pool:
            futures = [pool.submit(one, i) for i in range(count)]
            if kill:
                while accepted[0] < count // 2:
                    time.sleep(0.01)
                rx.kill()
                figures.restarts = 1
                time.sleep(0.3)
                rx.start()
            results = [f.result() for f in futures]
        figures.sends = sum(r[0] for r in results)
        figures.accepted = sum(r[1] for r in results)
        settle = time.monotonic() + 120
        while rx.depth() and time.monotonic() < settle:
            time.sleep(0.05)
        figures.stop_status = rx.stop()
        _from_queue(figures, rx.queue, box, first_send)
    figures.wall_s = time.monotonic() - started
    return figures


def _from_queue(f: Figures, queue: Path, box: Sink, first_send: dict[str, float]) -> None:
    db = sqlite3.connect(queue)
    try:
        rows = db.execute("SELECT state, attempts, body FROM items").fetchall()
    finally:
        db.close()
    f.accepted_twice = len(rows) - f.accepted
    f.retried = sum(max(0, attempts - 1) for _, attempts, _ in rows)
    dead = {
        json.loads(body)["alerts"][0]["labels"]["alertname"]
        for state, _, body in rows
        if state == "dead"
    }
    f.dead_lettered = len(dead)
    f.sink_posts, f.sink_failed = box.posts, box.failed
    f.duplicates_dropped = box.duplicates
    f.delivered = len(box.keys)
    f.delivered_twice = sum(1 for keys in box.keys.values() if len(keys) > 1)
    expected = {f"LoadAlert{i:05d}" for i in range(f.count)}
    f.lost = len(expected - set(box.keys) - dead)
    waits = sorted(box.first_ok[n] - first_send[n] for n in box.first_ok if n in first_send)
    if waits:
        f.p50_s = waits[len(waits) // 2]
        f.p99_s = waits[min(len(waits) - 1, int(len(waits) * 0.99))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--fail-rate", type=float, default=0.5)
    parser.add_argument("--no-kill", action="store_true")
    args = parser.parse_args()
    figures = run_load(args.count, args.rate, args.fail_rate, kill=not args.no_kill)
    print("\n".join(figures.lines()))
    sys.exit(0 if figures.lost == 0 and figures.delivered_twice == 0 else 1)


if __name__ == "__main__":
    main()
