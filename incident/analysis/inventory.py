"""What was read, as `incident inspect` reports it: inputs and their formats, counts,
services, alerts, the covered time range and data-quality warnings (DESIGN.md's JSON shape).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from incident.model import Bundle

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Times outside these bounds are garbage from a broken exporter, not part of the range.
_MIN_NS = 1
_MAX_NS = 253_402_300_799 * 10**9  # 9999-12-31T23:59:59Z


def iso_utc(ns: int | None) -> str | None:
    """ISO 8601 UTC with microseconds and a Z, or None for a missing or impossible time."""
    if ns is None or not _MIN_NS <= ns <= _MAX_NS:
        return None
    moment = _EPOCH + timedelta(microseconds=ns // 1000)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _plausible(ns: int | None) -> bool:
    return ns is not None and _MIN_NS <= ns <= _MAX_NS


def time_range(bundle: Bundle) -> tuple[int | None, int | None]:
    """Earliest and latest instant seen in spans, logs and alerts (ns), ignoring bad times."""
    lo: int | None = None
    hi: int | None = None
    starts = [s.start_ns for s in bundle.spans if _plausible(s.start_ns)]
    ends = [s.end_ns for s in bundle.spans if _plausible(s.end_ns)]
    starts += [r.time_ns for r in bundle.logs if r.time_ns is not None and _plausible(r.time_ns)]
    ends += [r.time_ns for r in bundle.logs if r.time_ns is not None and _plausible(r.time_ns)]
    for a in bundle.alerts:
        for t in (a.starts_ns, a.ends_ns):
            if t is not None and _plausible(t):
                starts.append(t)
                ends.append(t)
    if starts:
        lo = min(starts)
    if ends:
        hi = max(ends)
    if lo is not None and hi is not None and hi < lo:
        lo, hi = hi, lo
    return lo, hi


def inventory(bundle: Bundle) -> dict[str, Any]:
    """The `inspect --format json` document for a loaded bundle.

    `spans` counts span records as kept (a Zipkin client and server sharing an id are two;
    an exact repeat of a (trace, span) id is dropped and counted in `data_quality`).
    """
    lo, hi = time_range(bundle)
    q = bundle.quality
    return {
        "inputs": [
            {
                "path": i.path,
                "kind": i.kind,
                "format": i.format,
                "records": i.records,
                "skipped": i.skipped,
                "notes": list(i.notes),
            }
            for i in bundle.inputs
        ],
        "spans": len(bundle.spans),
        "traces": len({s.trace_id for s in bundle.spans}),
        "services": sorted({s.service for s in bundle.spans}),
        "logs": len(bundle.logs),
        "alerts": [
            {
                "source": a.source,
                "status": a.status,
                "name": a.name,
                "severity": a.severity,
                "service": a.service,
                "starts_at": iso_utc(a.starts_ns),
            }
            for a in bundle.alerts
        ],
        "time_range": {"start": iso_utc(lo), "end": iso_utc(hi)},
        "warnings": list(q.warnings),
        "notices": list(bundle.notices),
        "data_quality": {
            "duplicates": q.duplicates,
            "skipped": q.skipped,
            "repaired": q.repaired,
            "log_lines_skipped": q.log_lines_skipped,
        },
    }
