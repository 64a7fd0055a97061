"""Span tables in CSV, as RCA datasets and trace-store queries export them (one span a row:
trace id, span id, parent id, pod or service, operation, start and end or duration).

Such tables carry no span kinds or status codes; the engine infers client/server edges from
parent-child pairs across services. Pod names are mapped to services by stripping the
Kubernetes replica-set and pod hashes, and kept as the instance.
"""

from __future__ import annotations

import csv
import io
import re
import sys

from incident.errors import FormatError
from incident.ingest.ids import norm_id
from incident.model import Bundle, InputInfo, Span, StatusCode

EXPECTED = "a CSV span table with TraceID, SpanID, ParentID and start/end columns"
# Header names seen in exports, lower-cased with separators removed.
_COLUMNS = {
    "trace": ("traceid",),
    "span": ("spanid",),
    "parent": ("parentid", "parentspanid"),
    "pod": ("podname", "pod", "instance", "hostname"),
    "service": ("servicename", "service"),
    "name": ("operationname", "spanname", "name", "operation"),
    "start": ("starttimeunixnano", "starttime", "start", "timestamp"),
    "end": ("endtimeunixnano", "endtime", "end"),
    "duration": ("duration", "durationus", "duration(µs)", "duration(us)"),
    "status": ("statuscode", "status"),
}
# <deployment>-<replica-set hash>-<pod suffix>, or a StatefulSet's <name>-<ordinal>.
_POD_HASHES = re.compile(r"-[0-9a-f]{6,10}-[0-9a-z]{5}$|-[0-9a-z]{5}$")
_NO_PARENT = frozenset({"", "root", "none", "null", "0", "-1"})


def _key(header: str) -> str:
    return re.sub(r"[\s_\-.]", "", header.strip().lower())


def looks_like_span_csv(head: str) -> bool:
    """A header line naming at least a trace id, a span id and a start time."""
    first = head.split("\n", 1)[0]
    if first.count(",") < 3:
        return False
    keys = {_key(h) for h in first.split(",")}
    return all(any(alias in keys for alias in _COLUMNS[c]) for c in ("trace", "span", "start"))


def _columns(header: list[str], name: str) -> dict[str, int]:
    keys = [_key(h) for h in header]
    found: dict[str, int] = {}
    for column, aliases in _COLUMNS.items():
        for alias in aliases:
            if alias in keys:
                found[column] = keys.index(alias)
                break
    if not {"trace", "span", "start"} <= found.keys() or not ({"end", "duration"} & found.keys()):
        raise FormatError(name, "CSV without trace, span and timing columns", EXPECTED)
    return found


def service_of_pod(pod: str) -> str:
    """`web-579b9bff58-t2dbm` -> `web`; a name without hashes stays as it is."""
    return _POD_HASHES.sub("", pod) or pod


def _to_ns(value: str) -> int:
    number = int(float(value)) if "." in value or "e" in value.lower() else int(value)
    # Seconds, milliseconds and microseconds since the epoch, told apart by magnitude.
    if number < 10**11:
        return number * 10**9
    if number < 10**14:
        return number * 10**6
    if number < 10**17:
        return number * 10**3
    return number


def read(text: str, name: str) -> Bundle:
    """Read a span table; rows that do not parse are skipped and counted."""
    reader = csv.reader(io.StringIO(text))
    try:
        header = next(reader)
    except (StopIteration, csv.Error) as exc:
        raise FormatError(name, "no CSV header", EXPECTED) from exc
    col = _columns(header, name)
    bundle = Bundle()
    resources: dict[tuple[str, str], dict[str, object]] = {}
    skipped = 0
    width = max(col.values()) + 1
    intern = sys.intern
    rows = 0
    try:
        for row in reader:
            if not row:
                continue
            rows += 1
            if len(row) < width:
                skipped += 1
                continue
            trace_id = norm_id(row[col["trace"]])
            span_id = norm_id(row[col["span"]])
            if trace_id is None or span_id is None:
                skipped += 1
                continue
            raw_parent = row[col["parent"]].strip() if "parent" in col else ""
            parent_id = None if raw_parent.lower() in _NO_PARENT else norm_id(raw_parent)
            pod = row[col["pod"]].strip() if "pod" in col else ""
            service = row[col["service"]].strip() if "service" in col else service_of_pod(pod)
            service = intern(service or pod or "unknown")
            try:
                start = _to_ns(row[col["start"]])
                if "end" in col:
                    end = _to_ns(row[col["end"]])
                else:
                    # A duration column without an end: microseconds, as the exports write.
                    end = start + int(float(row[col["duration"]])) * 1000
            except (ValueError, OverflowError):  # not a number, NaN, or inf/1e999
                skipped += 1
                continue
            if end < start:
                start, end = end, start
                bundle.quality.repaired += 1
            key = (service, pod)
            resource = resources.get(key)
            if resource is None:
                resource = {"service.name": service}
                if pod:
                    resource["k8s.pod.name"] = pod
                resources[key] = resource
            status = StatusCode.UNSET
            if "status" in col and row[col["status"]].strip().lower() in ("2", "error"):
                status = StatusCode.ERROR
            bundle.spans.append(
                Span(
                    trace_id=trace_id,
                    span_id=span_id,
                    parent_id=parent_id,
                    service=service,
                    name=intern(row[col["name"]].strip()) if "name" in col else "",
                    start_ns=start,
                    end_ns=end,
                    status=status,
                    resource=resource,
                )
            )
    except csv.Error as exc:
        raise FormatError(name, f"malformed CSV: {exc}", EXPECTED) from exc
    bundle.quality.skipped += skipped
    if skipped:
        bundle.quality.warn(f"{name}: {skipped} CSV rows skipped (unparseable)")
    bundle.inputs.append(
        InputInfo(path=name, kind="traces", format="span-csv", records=rows, skipped=skipped)
    )
    return bundle
