"""The shared vocabulary: spans, log records, alerts and the bundle that holds what was read.

Records are msgspec structs without GC tracking: a million spans must stay small and cheap
to create. Times are integer nanoseconds since the Unix epoch (UTC). Ids are lowercase hex.
Readers build these; everything downstream only reads them.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any

import msgspec

Attributes = dict[str, Any]


class SpanKind(IntEnum):
    """OTLP numbering, so OTLP integers map directly."""

    UNSPECIFIED = 0
    INTERNAL = 1
    SERVER = 2
    CLIENT = 3
    PRODUCER = 4
    CONSUMER = 5


class StatusCode(IntEnum):
    """OTLP numbering: UNSET means 'not an error' unless other signals say so."""

    UNSET = 0
    OK = 1
    ERROR = 2


class SpanEvent(msgspec.Struct, gc=False, frozen=True):
    time_ns: int
    name: str
    attributes: Attributes = msgspec.field(default_factory=dict)


class SpanLink(msgspec.Struct, gc=False, frozen=True):
    trace_id: str
    span_id: str


class Span(msgspec.Struct, gc=False):
    """One span as read. `resource` is shared by every span of the same resource."""

    trace_id: str
    span_id: str
    parent_id: str | None
    service: str
    name: str
    kind: int = SpanKind.UNSPECIFIED
    start_ns: int = 0
    end_ns: int = 0
    status: int = StatusCode.UNSET
    status_message: str = ""
    attributes: Attributes = msgspec.field(default_factory=dict)
    events: tuple[SpanEvent, ...] = ()
    links: tuple[SpanLink, ...] = ()
    resource: Attributes = msgspec.field(default_factory=dict)
    # The duration was missing in the source (Zipkin); end_ns == start_ns then.
    no_duration: bool = False

    @property
    def duration_ns(self) -> int:
        return self.end_ns - self.start_ns

    @property
    def instance(self) -> str | None:
        """Pod, else host, else service.instance.id: where this span ran."""
        for key in ("k8s.pod.name", "host.name", "service.instance.id", "container.id"):
            value = self.resource.get(key)
            if value:
                return str(value)
        return None

    @property
    def version(self) -> str | None:
        value = self.resource.get("service.version")
        return str(value) if value else None


class LogRecord(msgspec.Struct, gc=False):
    """One log line or record. `level` is normalised: TRACE DEBUG INFO WARN ERROR FATAL."""

    time_ns: int | None
    level: str | None
    message: str
    service: str | None = None
    trace_id: str | None = None
    span_id: str | None = None
    instance: str | None = None
    fields: Attributes = msgspec.field(default_factory=dict)
    # "path:line" so evidence can point back at the source.
    source: str = ""


class Alert(msgspec.Struct, gc=False):
    """One alert from any pager or monitoring tool, mapped to one shape."""

    # alertmanager|grafana|pagerduty|opsgenie|cloudwatch|gcp-monitoring|sentry|datadog|generic
    source: str
    status: str  # firing|resolved|acknowledged|...
    name: str
    severity: str | None = None
    service: str | None = None
    labels: dict[str, str] = msgspec.field(default_factory=dict)
    annotations: dict[str, str] = msgspec.field(default_factory=dict)
    starts_ns: int | None = None
    ends_ns: int | None = None
    fingerprint: str | None = None
    runbook: str | None = None
    generator_url: str | None = None
    summary: str | None = None
    source_ref: str = ""


class InputInfo(msgspec.Struct):
    """What one input file turned out to be."""

    path: str
    kind: str  # traces|logs|alerts
    # otlp-json|otlp-jsonl|otlp-proto|jaeger|zipkin|otlp-logs|jsonl|text|alertmanager|...
    format: str
    records: int
    skipped: int = 0
    notes: list[str] = msgspec.field(default_factory=list)


class DataQuality(msgspec.Struct):
    """Counters of what was read around rather than used as is."""

    spans: int = 0
    traces: int = 0
    orphans: int = 0
    duplicates: int = 0
    skipped: int = 0
    clock_skew_adjusted: int = 0
    repaired: int = 0
    log_lines_skipped: int = 0
    warnings: list[str] = msgspec.field(default_factory=list)

    def warn(self, text: str, limit: int = 50) -> None:
        """Record a warning once; past `limit` distinct warnings, only count them."""
        if text in self.warnings:
            return
        if len(self.warnings) < limit:
            self.warnings.append(text)


class Bundle(msgspec.Struct):
    """Everything read for one run: the input to analysis."""

    spans: list[Span] = msgspec.field(default_factory=list)
    logs: list[LogRecord] = msgspec.field(default_factory=list)
    alerts: list[Alert] = msgspec.field(default_factory=list)
    inputs: list[InputInfo] = msgspec.field(default_factory=list)
    quality: DataQuality = msgspec.field(default_factory=DataQuality)
    # Payloads that were recognised but are not incidents (e.g. a PagerDuty service.updated).
    notices: list[str] = msgspec.field(default_factory=list)

    def extend(self, other: Bundle) -> None:
        self.spans.extend(other.spans)
        self.logs.extend(other.logs)
        self.alerts.extend(other.alerts)
        self.inputs.extend(other.inputs)
        self.notices.extend(other.notices)
        q, o = self.quality, other.quality
        q.skipped += o.skipped
        q.duplicates += o.duplicates
        q.repaired += o.repaired
        q.log_lines_skipped += o.log_lines_skipped
        for w in o.warnings:
            q.warn(w)
