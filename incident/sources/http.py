"""The one HTTP client of the live sources (the only sources module that imports httpx2).

It adds what every backend needs: credentials from the environment (never from the URL or
the command line), timeouts, bounded retries (429 honouring Retry-After, 5xx, connection
errors and timeouts), response bodies read up to the input size limit, progress on stderr,
and every failure turned into one line naming the URL without credentials.

Environment, per backend (JAEGER, TEMPO, LOKI, ALERTMANAGER):
    INCIDENT_<B>_TOKEN                      bearer token
    INCIDENT_<B>_USER, INCIDENT_<B>_PASSWORD basic auth
    INCIDENT_<B>_TENANT                     X-Scope-OrgID (multi-tenant Tempo, Loki, Mimir)
and for all of them INCIDENT_HTTP_TIMEOUT (seconds, default 30) and INCIDENT_HTTP_RETRIES
(default 3).
"""

from __future__ import annotations

import email.utils
import os
import random
import time
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import NoReturn

import httpx2

from incident import __version__, log
from incident.errors import UnreadableInputError, UsageError
from incident.ingest.sources import Blob, gunzip, max_input_bytes, size_text

DEFAULT_TIMEOUT = 30.0
DEFAULT_RETRIES = 3
# A server asking to wait longer than this is treated as refusing.
MAX_RETRY_AFTER = 60.0
_BACKOFF = 0.25
_RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
_REASONS = {401: "401 Unauthorized", 403: "403 Forbidden", 404: "404 Not Found"}
_MESSAGE_CHARS = 200

Params = Mapping[str, str | int] | Sequence[tuple[str, str]]
# (status, body) -> True when that answer means "nothing here" rather than an error.
Absent = Callable[[int, bytes], bool]


@dataclass(frozen=True)
class Endpoint:
    """A source URL taken apart: which backend, where, and how to name it in messages."""

    backend: str  # "jaeger"
    base: str  # "http://host:16686/prefix" (no trailing slash)
    shown: str  # "jaeger+http://host:16686/prefix": safe to print

    def url(self, path: str) -> str:
        return self.shown + path

    def env(self, what: str) -> str:
        return f"INCIDENT_{self.backend.upper()}_{what}"


def endpoint(url: str, backend: str) -> Endpoint:
    """Parse `backend+http(s)://host:port/prefix`; refuse credentials in it."""
    scheme, sep, rest = url.partition("://")
    transport = scheme.partition("+")[2].lower()
    if not sep or transport not in ("http", "https"):
        raise UsageError(
            f"{url.split('@')[-1]}: write {backend}+http://HOST:PORT or {backend}+https://HOST:PORT"
        )
    parts = urllib.parse.urlsplit(f"{transport}://{rest}")
    host = parts.hostname or ""
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError as exc:
        raise UsageError(f"{scheme}://{host}: the port is not a number") from exc
    if ":" in host:
        host = f"[{host}]"
    path = parts.path.rstrip("/")
    shown = f"{scheme.lower()}://{host}{port}{path}"
    if "@" in parts.netloc:
        b = backend.upper()
        raise UsageError(
            f"{shown}: credentials in the URL are refused (they would show in the process "
            f"list and shell history); set INCIDENT_{b}_TOKEN, or INCIDENT_{b}_USER and "
            f"INCIDENT_{b}_PASSWORD, in the environment instead"
        )
    if not host:
        raise UsageError(f"{shown}: no host in the URL")
    return Endpoint(backend, f"{transport}://{host}{port}{path}", shown)


def _env_number(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError as exc:
        raise UsageError(f"{name}={raw!r} is not a number") from exc
    if value < 0:
        raise UsageError(f"{name}={raw!r} must not be negative")
    return value


def _auth(ep: Endpoint) -> tuple[dict[str, str], httpx2.BasicAuth | None]:
    headers = {"User-Agent": f"incident/{__version__}", "Accept": "application/json"}
    token = os.environ.get(ep.env("TOKEN"), "").strip()
    user = os.environ.get(ep.env("USER"), "")
    password = os.environ.get(ep.env("PASSWORD"), "")
    tenant = os.environ.get(ep.env("TENANT"), "").strip()
    if token and user:
        raise UsageError(f"set {ep.env('TOKEN')} or {ep.env('USER')}, not both")
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if tenant:
        headers["X-Scope-OrgID"] = tenant
    return headers, httpx2.BasicAuth(user, password) if user else None


def _retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (seconds or an HTTP date); None when absent."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _one_line(body: bytes) -> str:
    text = " ".join(body[: _MESSAGE_CHARS * 4].decode("utf-8", "replace").split())
    return text[:_MESSAGE_CHARS] + ("..." if len(text) > _MESSAGE_CHARS else "")


class _Retry(Exception):
    """One failed attempt worth another: why, and how long the server asked to wait."""

    def __init__(self, why: str, wait: float | None = None) -> None:
        super().__init__(why)
        self.why = why
        self.wait = wait


class Client:
    """GET requests to one backend, with the policy above; use as a context manager."""

    def __init__(self, ep: Endpoint, *, max_bytes: int | None = None) -> None:
        self.endpoint = ep
        self._limit = max_input_bytes(max_bytes)
        self._timeout = _env_number("INCIDENT_HTTP_TIMEOUT", DEFAULT_TIMEOUT) or DEFAULT_TIMEOUT
        self._retries = int(_env_number("INCIDENT_HTTP_RETRIES", DEFAULT_RETRIES))
        headers, auth = _auth(ep)
        self._http = httpx2.Client(
            base_url=ep.base,
            headers=headers,
            auth=auth,
            timeout=httpx2.Timeout(self._timeout),
            follow_redirects=True,
        )

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._http.close()

    def get(
        self, path: str, params: Params | None = None, *, absent: Absent | None = None
    ) -> bytes | None:
        """The body of GET `path`; None when `absent` says the answer means "nothing".

        Raises UnreadableInputError (exit 2) when the backend cannot be reached, refuses,
        keeps failing after the retries, or answers with more than the size limit.
        """
        shown = self.endpoint.url(path)
        attempts = self._retries + 1
        for attempt in range(1, attempts + 1):
            try:
                return self._once(path, params, shown, absent)
            except _Retry as retry:
                if attempt == attempts:
                    tries = f" after {attempts} attempts" if attempts > 1 else ""
                    raise UnreadableInputError(shown, f"{retry.why}{tries}") from None
                wait = retry.wait
                if wait is None:
                    wait = _BACKOFF * 2 ** (attempt - 1) * (1 + random.random() / 2)
                log.warning(
                    "source.retry",
                    f"{shown}: {retry.why}; retrying in {wait:.1f}s "
                    f"(attempt {attempt + 1} of {attempts})",
                    url=shown,
                    attempt=attempt + 1,
                )
                time.sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover

    def _once(
        self, path: str, params: Params | None, shown: str, absent: Absent | None
    ) -> bytes | None:
        log.debug("source.request", f"GET {shown}", url=shown)
        try:
            query = params.items() if isinstance(params, Mapping) else params or ()
            pairs = tuple((k, str(v)) for k, v in query)
            with self._http.stream("GET", path, params=pairs) as response:
                status = response.status_code
                if status >= 400:
                    # Error bodies are short; read a bounded head for the message.
                    body = self._read(response, shown, min(self._limit, 64 * 1024), error=True)
                    if absent is not None and absent(status, body):
                        return None
                    self._refuse(status, response.headers, body, shown)
                body = self._read(response, shown, self._limit)
        except httpx2.TimeoutException as exc:
            raise _Retry(f"no answer within {self._timeout:g}s ({type(exc).__name__})") from exc
        except httpx2.TransportError as exc:
            raise _Retry(f"unreachable ({_cause(exc)})") from exc
        log.debug("source.response", f"{shown}: {len(body):,} bytes", url=shown, bytes=len(body))
        return gunzip(body, shown, self._limit)

    def _read(
        self, response: httpx2.Response, shown: str, limit: int, *, error: bool = False
    ) -> bytes:
        chunks: list[bytes] = []
        total = 0
        try:
            for chunk in response.iter_bytes():
                chunks.append(chunk)
                total += len(chunk)
                if total > limit:
                    if error:
                        break
                    raise UnreadableInputError(
                        shown,
                        f"answered with more than {size_text(limit)}",
                        "a narrower --since/--from, a smaller --limit, or a higher "
                        "--max-input-size",
                    )
        except httpx2.DecodingError as exc:
            raise UnreadableInputError(shown, f"undecodable response body ({exc})") from exc
        return b"".join(chunks)

    def _refuse(self, status: int, headers: httpx2.Headers, body: bytes, shown: str) -> NoReturn:
        if status in _RETRY_STATUS:
            wait = _retry_after(headers.get("retry-after")) if status in (429, 503) else None
            if wait is not None and wait > MAX_RETRY_AFTER:
                raise UnreadableInputError(
                    shown, f"answered {status} and asks to wait {wait:.0f}s (Retry-After)"
                )
            raise _Retry(f"answered {status}", wait)
        reason = _REASONS.get(status, f"answered {status}")
        if status in (401, 403):
            ep = self.endpoint
            raise UnreadableInputError(
                shown,
                f"{reason}: the server refused the credentials"
                if status == 401
                else f"{reason}: not allowed",
                f"credentials in {ep.env('TOKEN')} or {ep.env('USER')}/{ep.env('PASSWORD')}"
                f" (and {ep.env('TENANT')} for a multi-tenant server)",
            )
        if status == 404:
            raise UnreadableInputError(
                shown, reason, f"a {self.endpoint.backend} server at that address"
            )
        detail = _one_line(body)
        raise UnreadableInputError(shown, f"{reason}: {detail}" if detail else reason)


def _cause(exc: BaseException) -> str:
    """The innermost reason of a transport error, in a few words."""
    inner: BaseException = exc
    while inner.__cause__ is not None or inner.__context__ is not None:
        nxt = inner.__cause__ or inner.__context__
        if nxt is None or nxt is inner:
            break
        inner = nxt
    text = str(inner) or type(inner).__name__
    return text.splitlines()[0][:_MESSAGE_CHARS]


def blob(ep: Endpoint, label: str, body: bytes) -> Blob:
    """A response body as an ingest input named after where it came from."""
    return Blob(f"{ep.shown} ({label})" if label else ep.shown, body)
