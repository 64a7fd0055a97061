"""The tools that look records up: the failures of one service with examples, log templates
matching a query, the alerts, and one evidence item by id. Same shape as `queries`.

Log search matches the query against the redacted template and example, never the raw
text, so a query cannot probe for a secret the answer would not show.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from incident.analysis.logs import is_junk
from incident.analysis.semconv import ERROR, USER_ERROR, error_text
from incident.report import format_time
from incident.tools.context import Context, NotFound
from incident.tools.queries import Result, span_evidence
from incident.tools.stats import ms

_LEVELS = {"TRACE": 0, "DEBUG": 1, "INFO": 2, "WARN": 3, "ERROR": 4, "FATAL": 5}


def _iso(ns: int | None) -> str | None:
    return format_time(ns) if ns else None


def service_failures(ctx: Context, args: dict[str, Any]) -> Result:
    service = ctx.service(args["service"])
    a = ctx.a
    o = a.inc.origins.get(service)
    b = a.base.origins.get(service) if a.base else None
    ops = ctx.inc.service_ops(service)
    failing_ops = Counter({k[1]: ctx.inc.ops[k].errors for k in ops if ctx.inc.ops[k].errors})
    row = next((f for f in ctx.report.failures if f.service == service), None)
    payload: dict[str, Any] = {
        "service": service,
        "failures_originating": (o.errors + o.user_errors) if o else 0,
        "baseline_failures_originating": (b.errors + b.user_errors) if b else 0,
        "failing_spans_by_operation": dict(failing_ops.most_common(10)),
    }
    if o is not None:
        payload.update(
            {
                "client_errors": o.user_errors,
                "absorbed": o.absorbed,
                "timeouts": o.timeouts,
                "retried": o.retried,
                "unreachable": o.unreachable,
                "first_seen": _iso(o.first_ns),
                "callers": dict(Counter(o.callers).most_common(8)),
                "operations": dict(Counter(o.operations).most_common(8)),
                "where": [
                    {"instance": k[1], "version": k[2], "failures": n}
                    for k, n in Counter(o.by_resource).most_common(5)
                ],
            }
        )
    if row is not None:
        payload["classified"] = {
            "category": row.category,
            "origin": row.origin,
            "user_facing": row.user_facing,
            "business_critical": row.business_critical,
        }
    payload["examples"] = _examples(ctx, service, args["limit"])
    return Result(payload, "examples")


def _examples(ctx: Context, service: str, limit: int) -> list[dict[str, Any]]:
    """Failing spans that start there (the origin's examples), then other failing spans of
    the service, up to `limit`."""
    a = ctx.a
    t = a.inc.table
    o = a.inc.origins.get(service)
    chosen: list[int] = list(o.examples[:limit]) if o else []
    if len(chosen) < limit:
        seen = set(chosen)
        for k in a.inc.traces:
            for i in t.members[k]:
                if t.flag[i] in (ERROR, USER_ERROR) and t.service[i] == service and i not in seen:
                    chosen.append(i)
                    seen.add(i)
                    if len(chosen) >= limit:
                        break
            if len(chosen) >= limit:
                break
    out = []
    for i in chosen:
        s = t.spans[i]
        out.append(
            {
                "trace_id": s.trace_id,
                "span_id": s.span_id,
                "service": s.service,
                "operation": s.name,
                "error": error_text(s) or "failed",
                "client_error": t.flag[i] == USER_ERROR,
                "duration_ms": ms(t.end[i] - t.start[i]),
                "time": _iso(t.start[i]),
                "instance": s.instance,
                "version": s.version,
                "evidence": span_evidence(ctx, t, i),
            }
        )
    return out


def search_logs(ctx: Context, args: dict[str, Any]) -> Result:
    if not ctx.bundle.logs:
        raise NotFound("no logs were read")
    red = ctx.redactor
    query = (args.get("query") or "").lower()
    service = ctx.restore(args["service"]) if args.get("service") else None
    floor = _LEVELS.get(args.get("level") or "", -1)
    by_template = {tpl.template: tpl.evidence for tpl in ctx.report.log_templates}
    rows = []
    for st in ctx.templates:
        if service is not None and service not in st.services:
            continue
        if floor >= 0 and _LEVELS.get(st.level or "", 2) < floor:
            continue
        template, example = red.redact_text(st.template), red.redact_text(st.example)
        if query and query not in template.lower() and query not in example.lower():
            continue
        rows.append((st, template, example))
    if not rows:
        raise NotFound("no log template matches" + (f" {args['query']!r}" if query else ""))
    has_base = ctx.baseline is not None or ctx.a.change is not None

    def rank(item: tuple[Any, str, str]) -> tuple[bool, bool, bool, int]:
        st = item[0]
        new = has_base and st.baseline_count == 0
        return (not is_junk(st.template), new and st.error_like, st.error_like, st.count)

    rows.sort(key=rank, reverse=True)
    limit = args["limit"]
    out = []
    for st, template, example in rows[:limit]:
        item = {
            "template": template,
            "count": st.count,
            "baseline_count": st.baseline_count,
            "new": has_base and st.baseline_count == 0,
            "level": st.level,
            "services": sorted(st.services)[:5],
            "first_seen": _iso(st.first_ns),
            "last_seen": _iso(st.last_ns),
            "example": example,
            "evidence": by_template.get(st.template) or _log_evidence(ctx, st.example_ref),
        }
        out.append(item)
    payload = {
        "query": args.get("query"),
        "matched": len(rows),
        "templates": out,
        "omitted": max(0, len(rows) - limit),
    }
    return Result(payload, "templates")


def _log_evidence(ctx: Context, index: int) -> str:
    rec = ctx.bundle.logs[index]
    ref = rec.source or f"log#{index + 1}"
    return ctx.ledger.propose("log", ref, f"{rec.service or '?'} {rec.level or ''}: {rec.message}")


def list_alerts(ctx: Context, args: dict[str, Any]) -> Result:
    status = args.get("status")
    service = ctx.restore(args["service"]) if args.get("service") else None
    rows = []
    for al in ctx.report.alerts:
        if status and al.status != status:
            continue
        if service and al.service != service:
            continue
        rows.append(al.model_dump(exclude_none=True))
    if not rows and not ctx.report.alerts:
        raise NotFound("no alerts were read")
    payload = {"total": len(ctx.report.alerts), "alerts": rows}
    return Result(payload, "alerts")


def get_evidence(ctx: Context, args: dict[str, Any]) -> Result:
    eid = args["id"].strip().upper()
    item = ctx.ledger.get(eid)
    if item is None:
        raise NotFound(f"no evidence item {args['id']!r} (ids look like E3 or T1)")
    payload: dict[str, Any] = item.model_dump()
    if item.kind == "span" and "/" in item.ref:
        detail = _span_detail(ctx, ctx.redactor.restore(item.ref))
        if detail:
            payload["span"] = detail
    return Result(payload)


def _span_detail(ctx: Context, ref: str) -> dict[str, Any] | None:
    trace_id, _, span_id = ref.partition("/")
    try:
        t, k, _in_base = ctx.trace(trace_id)
    except NotFound:
        return None
    for i in t.members[k]:
        s = t.spans[i]
        if s.span_id != span_id:
            continue
        attrs = dict(list(s.attributes.items())[:25]) if s.attributes else {}
        return {
            "service": s.service,
            "operation": s.name,
            "parent_service": t.service[t.parent[i]] if t.parent[i] >= 0 else None,
            "duration_ms": ms(t.end[i] - t.start[i]),
            "failed": bool(t.flag[i]),
            "status_message": s.status_message or None,
            "attributes": attrs,
            "events": [ev.name for ev in s.events[:10]],
            "instance": s.instance,
            "version": s.version,
        }
    return None
