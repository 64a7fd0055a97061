"""`incident serve` as a subprocess under load and faults (bench/serve_load.py): webhooks at
a steady rate while the destination fails half of the posts and the receiver is killed with
SIGKILL once and restarted. Nothing accepted is lost, nothing is delivered twice once the
idempotency key is honoured. Plus a graceful SIGTERM with work in the queue.
"""

from __future__ import annotations

import importlib.util
import signal
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx2
import pytest
from realfiles import FIXTURES, ROOT


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("serve_load", ROOT / "bench" / "serve_load.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["serve_load"] = module
    spec.loader.exec_module(module)
    return module


serve_load = _bench()


def _check(f: Any, count: int) -> None:
    print("\n".join(f.lines()))
    assert f.accepted == count
    assert f.lost == 0
    assert f.delivered_twice == 0
    assert f.delivered + f.dead_lettered >= count
    assert f.sink_failed > 0 and f.retried > 0
    assert f.restarts == 1


def test_load_with_failing_destination_and_a_kill_small() -> None:
    """200 webhooks, half the posts failing, one SIGKILL and restart: every accepted
    payload is delivered or dead-lettered, none lost, none delivered twice."""
    _check(serve_load.run_load(200, rate=100.0, fail_rate=0.5), 200)


@pytest.mark.slow
def test_load_with_failing_destination_and_a_kill_2000() -> None:
    """The issue's figure: 2,000 webhooks at 100/s under the same faults."""
    _check(serve_load.run_load(2000, rate=100.0, fail_rate=0.5), 2000)


def test_sigterm_finishes_or_requeues_and_closes_the_queue(tmp_path: Path) -> None:
    """SIGTERM with payloads queued: the process exits by the signal after a graceful
    shutdown; nothing is left leased, and a restart delivers whatever was not done."""
    with serve_load.run_sink(0.0) as (box, url):
        rx = serve_load.Receiver(tmp_path, url)
        rx.start()
        body = (FIXTURES / "alerts" / "prom_post_request.json").read_bytes()
        for i in range(20):
            answer = httpx2.post(f"{rx.url}/webhook", content=serve_load.payload(i))
            assert answer.status_code == 202
        assert httpx2.post(f"{rx.url}/webhook", content=body).status_code == 202
        status = rx.stop()
        assert status in (0, -signal.SIGTERM)
        from incident.serve.queue import Queue

        q = Queue(rx.queue)
        counts = q.counts()
        q.close()
        assert counts["leased"] == 0
        assert counts["ready"] + counts["done"] == 21
        rx.start()
        while rx.depth():
            time.sleep(0.02)
        rx.stop()
        assert len(box.keys) == 21
