"""The HTTP client the SDK is given for the AI step: no SDK retries (ours are the only
ones), per-attempt timeouts cut to the time left, and a response hook that enforces the
byte cap and the step's deadline while the body is read, so a 400 MB or one-byte-a-second
reply is abandoned instead of read to the end. Imported only when a call is made: it
loads the SDK and httpx2."""

from __future__ import annotations

from collections.abc import Iterator

import anthropic
import httpx2

from incident.llm.budget import Deadline
from incident.llm.evidence import label
from incident.llm.reply import MAX_RESPONSE_BYTES, Unusable, too_large

# Connecting succeeds quickly or not at all; waiting longer only spends the budget.
CONNECT_TIMEOUT = 5.0


class _GuardedStream(httpx2.SyncByteStream):
    """A response body that stops at the byte cap and at the deadline."""

    def __init__(
        self,
        inner: httpx2.SyncByteStream,
        deadline: Deadline,
        limit: int,
        request: httpx2.Request,
    ) -> None:
        self._inner = inner
        self._deadline = deadline
        self._limit = limit
        self._request = request

    def __iter__(self) -> Iterator[bytes]:
        seen = 0
        for chunk in self._inner:
            seen += len(chunk)
            if seen > self._limit:
                raise Unusable(too_large())
            if self._deadline.expired():
                raise httpx2.ReadTimeout(
                    f"{self._deadline.label()} passed while the reply was read",
                    request=self._request,
                )
            yield chunk

    def close(self) -> None:
        self._inner.close()


class ResponseGuard:
    """An httpx response hook: refuse what is announced too large or compressed (we ask for
    none, and a compressed body could inflate past the cap), and guard the body's reading."""

    def __init__(self, deadline: Deadline, limit: int = MAX_RESPONSE_BYTES) -> None:
        self.deadline = deadline
        self.limit = limit

    def __call__(self, response: httpx2.Response) -> None:
        length = response.headers.get("content-length", "").strip()
        if length.isdigit() and (len(length) > 15 or int(length) > self.limit):
            raise Unusable(too_large())
        encoding = response.headers.get("content-encoding", "").strip().lower()
        if encoding not in ("", "identity"):
            raise Unusable(
                f"the API's reply is compressed ({label(encoding)}) although none was asked for"
            )
        if isinstance(response.stream, httpx2.SyncByteStream):
            response.stream = _GuardedStream(
                response.stream, self.deadline, self.limit, response.request
            )


def request_timeout(left: float) -> httpx2.Timeout:
    """The SDK timeout for one attempt: no single operation may outlast the step."""
    return httpx2.Timeout(left, connect=min(left, CONNECT_TIMEOUT))


def make_client(deadline: Deadline) -> anthropic.Anthropic:
    """The SDK client for one AI step (configured from the environment as usual)."""
    http = anthropic.DefaultHttpxClient(event_hooks={"response": [ResponseGuard(deadline)]})
    try:
        return anthropic.Anthropic(
            max_retries=0,
            timeout=request_timeout(deadline.remaining()),
            http_client=http,
            default_headers={"Accept-Encoding": "identity"},
        )
    except BaseException:
        http.close()
        raise


def could_not_connect(exc: BaseException) -> bool:
    """Whether the failure was in reaching the server at all (refused, DNS, connect timeout):
    those are retried quickly and only a few times."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, httpx2.ConnectError | httpx2.ConnectTimeout):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False
