"""The receiver's settings: a TOML file (stdlib tomllib) merged with the command's flags, the
flags winning. Secrets are never values in the file: a source's signing secret and a
Slack webhook URL are named by the environment variable that holds them (`secret_env`,
`url_env`), read when the server starts.

    listen = "0.0.0.0:9095"
    queue = "/var/lib/incident/queue.sqlite3"
    max_body = "1M"
    max_attempts = 8

    [sources.grafana]                 # any alert source name, or "default" for the rest
    verify = "grafana"                # grafana | pagerduty | hmac-sha256 | token
    secret_env = "GRAFANA_WEBHOOK_SECRET"
    rate = 20                         # payloads per second, with `burst` in hand

    [[destinations]]
    kind = "slack"                    # slack | webhook | folder
    url_env = "SLACK_WEBHOOK_URL"
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from incident.errors import UsageError
from incident.ingest.alerts import SOURCES
from incident.ingest.sources import parse_size

Scheme = Literal["grafana", "pagerduty", "hmac-sha256", "token"]
Kind = Literal["slack", "webhook", "folder"]
SCHEMES: tuple[Scheme, ...] = ("grafana", "pagerduty", "hmac-sha256", "token")
KINDS: tuple[Kind, ...] = ("slack", "webhook", "folder")
DEFAULT_SOURCE = "default"
# The header each scheme reads when the file names none (the vendors' documented defaults).
DEFAULT_HEADERS: dict[Scheme, str] = {
    "grafana": "X-Grafana-Alerting-Signature",
    "pagerduty": "X-PagerDuty-Signature",
    "hmac-sha256": "X-Signature",
    "token": "Authorization",
}
# Keys that would put a secret's value in the file.
_SECRET_KEYS = ("secret", "token", "password", "api_key")
_TOP = {
    "slow_ms",
    "listen",
    "queue",
    "folder",
    "traces",
    "logs",
    "max_body",
    "max_attempts",
    "backoff_base_s",
    "backoff_max_s",
    "lease_s",
    "flap_window_s",
    "keep_done_s",
    "post_timeout_s",
    "workers",
    "sources",
    "destinations",
}


@dataclass(frozen=True)
class SourceRule:
    """How payloads of one source are checked: signature scheme and rate limit."""

    name: str
    verify: Scheme | None = None
    secret_env: str | None = None
    header: str | None = None
    # Grafana signs `timestamp:body` when a timestamp header is configured on its side.
    timestamp_header: str | None = None
    max_skew_s: float = 300.0
    rate: float | None = None
    burst: int | None = None
    secret: str = field(default="", repr=False)

    @property
    def signature_header(self) -> str:
        return self.header or DEFAULT_HEADERS[self.verify or "token"]


@dataclass(frozen=True)
class Destination:
    """Where triage goes: a Slack incoming webhook, a generic webhook or a folder."""

    name: str
    kind: Kind
    url: str | None = field(default=None, repr=False)
    path: Path | None = None


@dataclass(frozen=True)
class Settings:
    """Everything `incident serve` runs with, after the file and the flags are merged."""

    host: str = "127.0.0.1"
    port: int = 9095
    queue: Path = Path("incident-queue.sqlite3")
    traces: tuple[str, ...] = ()
    logs: tuple[str, ...] = ()
    max_body: int = 1024 * 1024
    max_attempts: int = 8
    backoff_base_s: float = 1.0
    backoff_max_s: float = 300.0
    lease_s: float = 120.0
    # A group that fires again this soon after its resolution is flapping: not re-posted.
    flap_window_s: float = 300.0
    post_timeout_s: float = 10.0
    # Delivered items are forgotten this long after they were finished (0: kept forever).
    keep_done_s: float = 7 * 86400.0
    # Worker threads: posts wait on the network, so a few overlap well.
    workers: int = 4
    # What "slow" means for the evidence's requests where no baseline tells (`--slow-ms`);
    # None: the analysis' default.
    slow_ms: float | None = None
    sources: dict[str, SourceRule] = field(default_factory=dict)
    destinations: tuple[Destination, ...] = ()

    def rule(self, source: str) -> SourceRule | None:
        """The rule for a detected source: its own section, else `[sources.default]`. A
        section that sets only a rate still gets the default's check (it never weakens it)."""
        own, fallback = self.sources.get(source), self.sources.get(DEFAULT_SOURCE)
        if own is None or fallback is None or own.verify is not None:
            return own or fallback
        return replace(
            own,
            verify=fallback.verify,
            secret=fallback.secret,
            header=fallback.header,
            timestamp_header=fallback.timestamp_header,
            max_skew_s=fallback.max_skew_s,
        )


def parse_listen(text: str) -> tuple[str, int]:
    """HOST:PORT (IPv6 in brackets) -> (host, port); UsageError otherwise."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise UsageError(f"--listen {text!r}: expected HOST:PORT, e.g. 127.0.0.1:9095")
    return host.strip("[]") or "0.0.0.0", int(port)


def load_settings(
    path: Path | None,
    *,
    listen: str | None = None,
    folder: Path | None = None,
    queue: Path | None = None,
    traces: tuple[str, ...] = (),
    env: dict[str, str] | None = None,
) -> Settings:
    """Read the TOML file (if any), apply the flags on top, resolve the secrets."""
    doc = _read_toml(path) if path is not None else {}
    where = str(path) if path is not None else "settings"
    unknown = set(doc) - _TOP
    if unknown:
        raise UsageError(f"{where}: unknown setting(s) {', '.join(sorted(unknown))}")
    environ = env if env is not None else dict(os.environ)
    settings = Settings()
    host, port = parse_listen(listen or str(doc.get("listen", f"{settings.host}:{settings.port}")))
    settings = replace(
        settings,
        host=host,
        port=port,
        queue=queue or Path(str(doc.get("queue", settings.queue))),
        traces=traces or tuple(_strings(doc, "traces", where)),
        logs=tuple(_strings(doc, "logs", where)),
        max_body=_size(doc.get("max_body"), settings.max_body, where),
        max_attempts=int(_number(doc, "max_attempts", settings.max_attempts, where)),
        backoff_base_s=_number(doc, "backoff_base_s", settings.backoff_base_s, where),
        backoff_max_s=_number(doc, "backoff_max_s", settings.backoff_max_s, where),
        lease_s=_number(doc, "lease_s", settings.lease_s, where),
        flap_window_s=_number(doc, "flap_window_s", settings.flap_window_s, where),
        post_timeout_s=_number(doc, "post_timeout_s", settings.post_timeout_s, where),
        keep_done_s=_number(doc, "keep_done_s", settings.keep_done_s, where),
        workers=int(_number(doc, "workers", settings.workers, where)),
        slow_ms=_number(doc, "slow_ms", 0.0, where) if "slow_ms" in doc else None,
        sources=_sources(doc.get("sources", {}), where, environ),
        destinations=_destinations(
            doc, folder or (Path(str(doc["folder"])) if "folder" in doc else None), where, environ
        ),
    )
    if settings.max_attempts < 1 or settings.workers < 1:
        raise UsageError(f"{where}: max_attempts and workers must be at least 1")
    if settings.slow_ms is not None and settings.slow_ms < 1.0:
        raise UsageError(f"{where}: slow_ms must be at least 1 (milliseconds)")
    return settings


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except OSError as exc:
        raise UsageError(f"{path}: cannot read the config file: {exc.strerror or exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{path}: not valid TOML: {exc}") from exc


def _strings(doc: dict[str, Any], key: str, where: str) -> list[str]:
    value = doc.get(key, [])
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise UsageError(f"{where}: {key} must be a string or a list of strings")
    return list(value)


def _number(doc: dict[str, Any], key: str, default: float, where: str) -> float:
    value = doc.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise UsageError(f"{where}: {key} must be a non-negative number")
    return float(value)


def _size(value: object, default: int, where: str) -> int:
    if value is None:
        return default
    try:
        return value if isinstance(value, int) and value > 0 else parse_size(str(value))
    except ValueError as exc:
        raise UsageError(f"{where}: max_body {value!r} is not a size (e.g. 1M, 512K)") from exc


def _no_secret_values(table: dict[str, Any], where: str) -> None:
    for key in table:
        if key.lower() in _SECRET_KEYS:
            raise UsageError(
                f"{where}: {key!r} would put a secret in the file; name the environment "
                f"variable that holds it instead ({key}_env / secret_env)"
            )


def _secret(name: str | None, environ: dict[str, str], where: str) -> str:
    if not name:
        raise UsageError(f"{where}: secret_env is required when verify is set")
    value = environ.get(name, "")
    if not value:
        raise UsageError(f"{where}: the environment variable {name} is not set or empty")
    return value


def _sources(table: object, where: str, environ: dict[str, str]) -> dict[str, SourceRule]:
    if not isinstance(table, dict):
        raise UsageError(f"{where}: [sources] must be a table of source names")
    out: dict[str, SourceRule] = {}
    known = (*SOURCES, DEFAULT_SOURCE)
    for name, raw in table.items():
        at = f"{where}: [sources.{name}]"
        if name not in known:
            raise UsageError(f"{at}: unknown source (expected one of {', '.join(known)})")
        if not isinstance(raw, dict):
            raise UsageError(f"{at}: must be a table")
        _no_secret_values(raw, at)
        verify = raw.get("verify")
        if verify is not None and verify not in SCHEMES:
            raise UsageError(f"{at}: verify {verify!r} (expected one of {', '.join(SCHEMES)})")
        rate = raw.get("rate")
        out[name] = SourceRule(
            name=name,
            verify=verify,
            secret_env=raw.get("secret_env"),
            header=raw.get("header"),
            timestamp_header=raw.get("timestamp_header"),
            max_skew_s=float(raw.get("max_skew_s", 300.0)),
            rate=float(rate) if rate is not None else None,
            burst=int(raw["burst"]) if "burst" in raw else None,
            secret=_secret(raw.get("secret_env"), environ, at) if verify else "",
        )
    return out


def _destinations(
    doc: dict[str, Any], folder: Path | None, where: str, environ: dict[str, str]
) -> tuple[Destination, ...]:
    raw = doc.get("destinations", [])
    if not isinstance(raw, list):
        raise UsageError(f"{where}: destinations must be an array of tables ([[destinations]])")
    out: list[Destination] = []
    for i, item in enumerate(raw):
        at = f"{where}: destinations[{i}]"
        if not isinstance(item, dict):
            raise UsageError(f"{at}: must be a table")
        kind = item.get("kind")
        if kind not in KINDS:
            raise UsageError(f"{at}: kind {kind!r} (expected one of {', '.join(KINDS)})")
        if kind == "slack" and "url" in item:
            raise UsageError(f"{at}: a Slack webhook URL is a secret; name it with url_env")
        _no_secret_values(item, at)
        name = str(item.get("name") or kind)
        if kind == "folder":
            if folder is not None:
                continue  # --folder wins over the file's folder
            out.append(Destination(name=name, kind="folder", path=Path(str(item.get("path")))))
            continue
        url = item.get("url") or (
            _secret(item.get("url_env"), environ, at) if item.get("url_env") else None
        )
        if not url:
            raise UsageError(f"{at}: give url_env (the variable holding the URL) or url")
        out.append(Destination(name=name, kind=kind, url=str(url)))
    if folder is not None:
        out.append(Destination(name="folder", kind="folder", path=folder))
    names = [d.name for d in out]
    if len(set(names)) != len(names):
        raise UsageError(f"{where}: two destinations share a name; give each a distinct `name`")
    for d in out:
        if d.kind == "folder" and d.path is not None and not d.path.is_dir():
            raise UsageError(f"{d.path}: the triage folder does not exist")
    return tuple(out)
