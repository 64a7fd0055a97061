"""Sending a rendered triage where it goes: a Slack incoming webhook, a generic webhook (HTTP
POST through httpx2, the project's one HTTP client) or a folder (atomic file writes).

Failures are sorted once, here: what a retry may fix (network errors, timeouts, 408, 429,
5xx, a disk that is full for now) is transient; what it cannot (any other 4xx: a revoked
Slack URL, a rejected body) is permanent and dead-letters at once. A destination's URL is
a secret (Slack's holds a token): reasons name the destination, never the URL.
"""

from __future__ import annotations

from pathlib import Path

import httpx2

from incident.errors import UsageError
from incident.outfile import write_atomic
from incident.serve.config import Destination

_RETRYABLE = {408, 425, 429}


class DeliveryError(Exception):
    """A post or write that did not happen; `permanent` when retrying cannot help."""

    def __init__(self, reason: str, *, permanent: bool = False) -> None:
        super().__init__(reason)
        self.permanent = permanent


class Poster:
    """One HTTP client (connection pool) for every destination of the process."""

    def __init__(self, timeout: float) -> None:
        self._client = httpx2.Client(timeout=timeout, follow_redirects=False)

    def close(self) -> None:
        self._client.close()

    def post(self, dest: Destination, body: bytes, headers: dict[str, str]) -> None:
        """POST `body` (JSON) to a slack or webhook destination; DeliveryError if not 2xx."""
        assert dest.url is not None
        try:
            response = self._client.post(
                dest.url, content=body, headers={"Content-Type": "application/json", **headers}
            )
        except httpx2.HTTPError as exc:
            raise DeliveryError(f"{dest.name}: {type(exc).__name__}") from exc
        status = response.status_code
        if 200 <= status < 300:
            return
        # A short, single-line excerpt of the answer: Slack says e.g. "invalid_blocks".
        said = " ".join(response.text[:120].split())
        permanent = 400 <= status < 500 and status not in _RETRYABLE
        raise DeliveryError(f"{dest.name}: HTTP {status} {said}".rstrip(), permanent=permanent)


def write_files(dest: Destination, fingerprint: str, files: dict[str, bytes]) -> None:
    """One file per group and suffix (`<fingerprint>.md`, `.json`), replaced atomically, so
    a resolution rewrites the group's file instead of adding another."""
    assert dest.path is not None
    for suffix, data in files.items():
        target = Path(dest.path) / f"{fingerprint}{suffix}"
        try:
            write_atomic(target, data)
        except UsageError as exc:
            raise DeliveryError(f"{dest.name}: {exc}") from exc
