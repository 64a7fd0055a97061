"""Running the receiver: the queue, the worker and the app put together and served by
Uvicorn (the only module that imports it). Uvicorn handles SIGTERM and SIGINT: it stops
accepting, lets requests in flight finish, then the app's lifespan stops the worker after
the item in hand and closes the queue.
"""

from __future__ import annotations

import socket

import uvicorn

from incident import log
from incident.errors import UsageError
from incident.serve.app import PATH, Parts, create_app
from incident.serve.config import Settings
from incident.serve.metrics import Metrics
from incident.serve.queue import Queue
from incident.serve.worker import Worker

# Seconds uvicorn waits for requests in flight on shutdown.
_GRACE_S = 10


def build(settings: Settings) -> Parts:
    """The queue (two handles: a durable one for the requests, one for the worker), the
    metrics and the worker, for `create_app`."""
    if not settings.destinations:
        raise UsageError(
            "no destination: give --folder DIR, or [[destinations]] (slack, webhook, folder) "
            "in the --config file"
        )
    metrics = Metrics()
    intake = Queue(settings.queue, durable=True)
    worker = Worker(settings, Queue(settings.queue, durable=False), metrics)
    return Parts(settings=settings, intake=intake, metrics=metrics, worker=worker)


def bind(host: str, port: int) -> socket.socket:
    """The listening socket, bound before the server starts (so port 0 is known)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        return socket.create_server((host, port), family=family, backlog=2048)
    except OSError as exc:
        raise UsageError(f"--listen {host}:{port}: cannot listen: {exc.strerror or exc}") from exc


def server(parts: Parts, sock: socket.socket) -> uvicorn.Server:
    """A Uvicorn server for the app over `parts`, logging where it listens once started."""
    host, port = sock.getsockname()[:2]

    def started() -> None:
        shown = f"[{host}]" if ":" in host else host
        log.info(
            "serve.listening",
            f"listening on http://{shown}:{port}{PATH} (queue {parts.settings.queue}, "
            f"{len(parts.settings.destinations)} destination(s))",
            host=host,
            port=port,
        )

    parts.on_start = started
    config = uvicorn.Config(
        create_app(parts),
        log_config=None,
        log_level="warning",
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=_GRACE_S,
        server_header=False,
    )
    return uvicorn.Server(config)


def run(settings: Settings) -> None:
    """Serve until SIGTERM or SIGINT."""
    parts = build(settings)
    sock = bind(settings.host, settings.port)
    try:
        server(parts, sock).run(sockets=[sock])
    finally:
        sock.close()


def replay(settings: Settings) -> int:
    """Move the dead letters back to the queue; a running server (or the next start) sends
    them. How many."""
    queue = Queue(settings.queue)
    try:
        for item_id, source, reason, _ in queue.dead_letters():
            log.info("serve.replay", f"replaying item {item_id} ({source}): {reason}", item=item_id)
        return queue.replay()
    finally:
        queue.close()
