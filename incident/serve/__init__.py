"""`incident serve`: a webhook receiver. Alert payloads in on one endpoint, queued durably
(SQLite), triaged in the background, posted to Slack, a webhook or a folder.

    app.py      routes (the only module importing Starlette)
    server.py   Uvicorn, start-up and shutdown (the only module importing Uvicorn)
    config.py   the TOML file and the flags
    verify.py   signatures and shared secrets
    queue.py    the durable queue, retries, dead letters, the de-duplication table
    worker.py   triage, render, de-duplicate, deliver
    deliver.py  Slack / webhook posts (httpx2) and folder writes
    metrics.py  Prometheus text
"""

from __future__ import annotations

from incident.serve.config import Settings, load_settings
from incident.serve.server import replay, run

__all__ = ["Settings", "load_settings", "replay", "run"]
