"""The tools themselves: one function per tool, `(Context, arguments) -> Result`, each a
read-only query over the assessed evidence. They return raw payloads (the Toolbox redacts
and cuts them to size) and propose evidence ids for the spans and log lines they show.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from incident.analysis.critical_path import critical_path as walk_back
from incident.analysis.critical_path import self_times
from incident.analysis.semconv import ERROR, error_text
from incident.analysis.trees import SpanTable
from incident.tools.context import Context, NotFound
from incident.tools.stats import Aggregates, distribution, ms


@dataclass(frozen=True)
class Result:
    payload: dict[str, Any]
    items_key: str | None = None


Query = Callable[[Context, dict[str, Any]], Result]


def _rate(k: int, n: int) -> float:
    return round(k / n, 4) if n else 0.0


def _ratio(now: float, before: float) -> float | None:
    return round(now / before, 2) if before > 0 else None


def _kind_of(ctx: Context, name: str) -> str:
    return ctx.a.inc.peer_kind.get(name, "service") if name not in ctx.inc.services else "service"


def list_services(ctx: Context, args: dict[str, Any]) -> Result:
    inc, base = ctx.inc, ctx.base
    causes = {c.service for c in ctx.report.root_causes}
    blast = set(ctx.report.blast_radius.services)
    rows: list[dict[str, Any]] = []
    for name in ctx.services():
        ops = inc.service_ops(name)
        errors = sum(inc.ops[k].errors for k in ops)
        origin = ctx.a.inc.origins.get(name)
        b_ops = base.service_ops(name) if base else []
        instances = {i for k in ops for i in inc.ops[k].instances}
        versions = sorted({v for k in ops for v in inc.ops[k].versions})
        calls_in = sum(e.calls for (a, b), e in inc.edges.items() if b == name)
        rows.append(
            {
                "service": name,
                "kind": _kind_of(ctx, name),
                "spans": inc.services.get(name, 0),
                "calls_in": calls_in,
                "failing_spans": errors,
                "failures_originating": (origin.errors + origin.user_errors) if origin else 0,
                "baseline_spans": base.services.get(name, 0) if base else None,
                "baseline_failing_spans": sum(base.ops[k].errors for k in b_ops) if base else None,
                "instances": len(instances),
                "versions": versions[:5],
                "root_cause": name in causes,
                "in_blast_radius": name in blast,
            }
        )
    order = args["sort"]
    if order == "errors":
        rows.sort(key=lambda r: (-r["failures_originating"], -r["failing_spans"], r["service"]))
    elif order == "spans":
        rows.sort(key=lambda r: (-(r["spans"] or r["calls_in"]), r["service"]))
    limit = args["limit"]
    payload = {
        "window": ctx.report.window.baseline,
        "traces": inc.traces,
        "baseline_traces": base.traces if base else None,
        "services": rows[:limit],
        "omitted": max(0, len(rows) - limit),
    }
    return Result(payload, "services")


def list_operations(ctx: Context, args: dict[str, Any]) -> Result:
    inc, base = ctx.inc, ctx.base
    service = ctx.service(args["service"]) if args.get("service") else None
    rows = []
    for key, op in inc.ops.items():
        if service is not None and key[0] != service:
            continue
        d = distribution(op.durations)
        b = base.ops.get(key) if base else None
        bd = distribution(b.durations) if b else {"n": 0}
        rows.append(
            {
                "service": key[0],
                "operation": key[1],
                "n": d["n"],
                "errors": op.errors,
                "error_rate": _rate(op.errors, d["n"]),
                "p50_ms": d.get("p50_ms", 0.0),
                "p99_ms": d.get("p99_ms", 0.0),
                "critical_path_ms": round(ctx.a.inc.mean_path_ms(("self", *key)), 3),
                "baseline_n": bd["n"],
                "baseline_error_rate": _rate(b.errors, bd["n"]) if b else None,
                "baseline_p99_ms": bd.get("p99_ms"),
            }
        )
    if service is not None and not rows:
        raise NotFound(f"{service} has no spans of its own in the incident window")
    sort = args["sort"]
    keys: dict[str, Callable[[dict[str, Any]], Any]] = {
        "critical_path": lambda r: (-r["critical_path_ms"], r["service"], r["operation"]),
        "errors": lambda r: (-r["errors"], -r["error_rate"], r["service"], r["operation"]),
        "p99": lambda r: (-r["p99_ms"], r["service"], r["operation"]),
        "count": lambda r: (-r["n"], r["service"], r["operation"]),
    }
    rows.sort(key=keys[sort])
    limit = args["limit"]
    return Result(
        {"sorted_by": sort, "operations": rows[:limit], "omitted": max(0, len(rows) - limit)},
        "operations",
    )


def _window_of_op(agg: Aggregates | None, key: tuple[str, str]) -> dict[str, Any] | None:
    op = agg.ops.get(key) if agg else None
    if op is None:
        return None
    d = distribution(op.durations)
    return {
        **d,
        "errors": op.errors,
        "client_errors": op.user_errors,
        "error_rate": _rate(op.errors, d["n"]),
        "instances": dict(op.instances.most_common(5)),
        "versions": dict(op.versions.most_common(5)),
    }


def compare_operation(ctx: Context, args: dict[str, Any]) -> Result:
    service = ctx.service(args["service"])
    op = ctx.operation(service, args["operation"])
    key = (service, op)
    now, before = _window_of_op(ctx.inc, key), _window_of_op(ctx.base, key)
    hop = ("self", service, op)
    payload: dict[str, Any] = {
        "service": service,
        "operation": op,
        "baseline": ctx.report.window.baseline,
        "incident": now,
        "before": before,
        "critical_path_ms_per_request": {
            "incident": round(ctx.a.inc.mean_path_ms(hop), 3),
            "baseline": round(ctx.a.base.mean_path_ms(hop), 3) if ctx.a.base else None,
        },
    }
    if now and before:
        payload["change"] = {
            "p50_ratio": _ratio(now["p50_ms"], before["p50_ms"]),
            "p99_ratio": _ratio(now["p99_ms"], before["p99_ms"]),
            "error_rate_delta": round(now["error_rate"] - before["error_rate"], 4),
        }
    payload["evidence"] = _inflation_ids(ctx, service, op)
    return Result(payload)


def _inflation_ids(ctx: Context, service: str, op: str | None) -> list[str]:
    """Report evidence already citing this component (its root-cause entry)."""
    out: list[str] = []
    for rc in ctx.report.root_causes:
        if rc.service == service and (op is None or rc.operation in (None, op)):
            out.extend(rc.evidence[:4])
    return out


def compare_edge(ctx: Context, args: dict[str, Any]) -> Result:
    caller = ctx.service(args["caller"])
    callee = ctx.service(args["callee"])
    now = ctx.inc.edges.get((caller, callee))
    before = ctx.base.edges.get((caller, callee)) if ctx.base else None
    if now is None and before is None:
        raise NotFound(f"{caller} makes no calls to {callee} in either window")
    either = now or before
    peer = either.peer if either is not None else False
    hop = ("peer" if peer else "edge", caller, callee)

    def side(e: Any, traces: int) -> dict[str, Any] | None:
        if e is None:
            return None
        out = {
            "calls": e.calls,
            "calls_per_trace": round(e.calls / traces, 3) if traces else None,
            "errors": e.errors,
            "error_rate": _rate(e.errors, e.calls),
            "callee_time": distribution(e.callee),
        }
        if not e.peer:
            out["gap"] = distribution(e.gaps)
        return out

    payload = {
        "caller": caller,
        "callee": callee,
        "callee_kind": "uninstrumented peer" if peer else "service",
        "note": "gap = caller's client span minus the callee's server span "
        "(network, queueing, connection pools)",
        "incident": side(now, ctx.inc.traces),
        "before": side(before, ctx.base.traces if ctx.base else 0),
        "critical_path_ms_per_request": {
            "incident": round(ctx.a.inc.mean_path_ms(hop), 3),
            "baseline": round(ctx.a.base.mean_path_ms(hop), 3) if ctx.a.base else None,
        },
        "evidence": _inflation_ids(ctx, callee, None),
    }
    return Result(payload)


def call_pattern(ctx: Context, args: dict[str, Any]) -> Result:
    caller = ctx.service(args["caller"])
    callee = ctx.service(args["callee"])
    now = ctx.inc.edges.get((caller, callee))
    before = ctx.base.edges.get((caller, callee)) if ctx.base else None
    if now is None and before is None:
        out = sorted(b for (a, b) in ctx.inc.edges if a == caller)
        raise NotFound(
            f"{caller} makes no calls to {callee}; it calls: {', '.join(out[:12]) or 'nothing'}"
        )
    pairs = set(now.pairs if now else ()) | set(before.pairs if before else ())
    rows: list[dict[str, Any]] = []
    for pair in pairs:
        rows.append(
            {
                "caller_operation": pair[0],
                "callee_operation": pair[1],
                "calls": now.pairs.get(pair, 0) if now else 0,
                "errors": now.pair_errors.get(pair, 0) if now else 0,
                "baseline_calls": before.pairs.get(pair, 0) if before else 0,
                "baseline_errors": before.pair_errors.get(pair, 0) if before else 0,
            }
        )
    rows.sort(key=lambda r: (-r["calls"], -r["baseline_calls"], r["caller_operation"]))
    limit = args["limit"]
    inc_t, base_t = ctx.inc.traces, ctx.base.traces if ctx.base else 0
    payload = {
        "caller": caller,
        "callee": callee,
        "calls": now.calls if now else 0,
        "calls_per_trace": round(now.calls / inc_t, 3) if now and inc_t else 0.0,
        "baseline_calls": before.calls if before else 0,
        "baseline_calls_per_trace": round(before.calls / base_t, 3) if before and base_t else None,
        "reverse_calls": ctx.inc.edges[(callee, caller)].calls
        if (callee, caller) in ctx.inc.edges
        else 0,
        "pairs": rows[:limit],
        "omitted": max(0, len(rows) - limit),
    }
    return Result(payload, "pairs")


def critical_path(ctx: Context, args: dict[str, Any]) -> Result:
    trace_id = args.get("trace_id")
    if not trace_id:
        if ctx.report.critical_paths:
            trace_id = ctx.report.critical_paths[0].trace_id
        elif ctx.a.inc.traces:
            t = ctx.a.inc.table
            k = max(ctx.a.inc.traces, key=lambda k: t.end[t.roots[k]] - t.start[t.roots[k]])
            trace_id = t.trace_ids[k]
        else:
            raise NotFound("no traces were read")
    t, k, in_base = ctx.trace(trace_id)
    r = t.roots[k]
    label = "baseline" if in_base else "failed" if t.flag[r] == ERROR else None
    if label is None:
        label = "slow" if ctx.a.slow.get(k) else "typical"
    steps = _steps(ctx, t, k)
    rs = t.spans[r]
    # The hops the request waited on longest first, so they survive any cut of the steps.
    heavy = sorted(steps, key=lambda s: -s["on_path_ms"])[:3]
    payload = {
        "trace_id": rs.trace_id,
        "label": label,
        "entrypoint": f"{rs.service} {rs.name}",
        "duration_ms": ms(t.end[r] - t.start[r]),
        "spans_in_trace": len(t.members[k]),
        "longest_on_path": [
            {"service": s["service"], "operation": s["operation"], "on_path_ms": s["on_path_ms"]}
            | ({"evidence": s["evidence"]} if "evidence" in s else {})
            for s in heavy
        ],
        "steps": steps,
    }
    return Result(payload, "steps")


def _steps(ctx: Context, t: SpanTable, k: int) -> list[dict[str, Any]]:
    r = t.roots[k]
    children = t.children_of(k)
    on_path: dict[int, int] = {}
    for i, ns, _lead in walk_back(t, r, children):
        on_path[i] = on_path.get(i, 0) + ns
    selfs = self_times(t, sorted(on_path), children)
    top = set(sorted(on_path, key=lambda i: (-on_path[i], i))[:3])
    t0 = t.start[r]
    steps = []
    for i in sorted(on_path, key=lambda i: (t.start[i], _depth(t, i)))[:200]:
        s = t.spans[i]
        step: dict[str, Any] = {
            "service": s.service,
            "operation": s.name,
            "depth": _depth(t, i),
            "start_ms": ms(t.start[i] - t0),
            "duration_ms": ms(t.end[i] - t.start[i]),
            "self_ms": ms(selfs.get(i, 0)),
            "on_path_ms": ms(on_path[i]),
        }
        if t.flag[i]:
            step["error"] = error_text(s) or "failed"
        if t.flag[i] or i in top:
            step["span_id"] = s.span_id
            step["evidence"] = span_evidence(ctx, t, i)
        steps.append(step)
    return steps


def _depth(t: SpanTable, i: int) -> int:
    d, j = 0, t.parent[i]
    while j >= 0 and d < 10_000:
        d += 1
        j = t.parent[j]
    return d


def span_evidence(ctx: Context, t: SpanTable, i: int) -> str:
    """The evidence id of one span shown in an answer (the report's, or a proposed T id)."""
    s = t.spans[i]
    what = error_text(s) if t.flag[i] else "on the critical path"
    text = f"{s.service} {s.name}: {what or 'failed'} ({ms(t.end[i] - t.start[i])} ms)"
    return ctx.ledger.propose("span", f"{s.trace_id}/{s.span_id}", text)
