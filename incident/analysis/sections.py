"""Section writers for what broke: one pure function per report field, each
`(Assessment, EvidenceLog, done) -> field`, where `done` holds the fields already written.
They read the assessment's decisions and never make new ones; the evidence log numbers what
they cite, in the order `diagnose` calls them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from itertools import chain, compress, repeat
from operator import eq
from typing import Any, Literal

from incident.analysis.assess import Assessment, percentile_sorted
from incident.analysis.classify import failure_category
from incident.analysis.critical_path import critical_path, self_times
from incident.analysis.describe import in_consumer
from incident.analysis.evidence import EvidenceLog
from incident.analysis.examples import examples, ms, span_ref
from incident.analysis.semconv import (
    ERROR,
    USER_ERROR,
    classify,
    error_text,
    peer_name,
    user_of,
)
from incident.analysis.trees import SpanTable
from incident.analysis.wording import cause_sentence
from incident.model import SpanKind
from incident.report import (
    BlastRadius,
    CriticalPath,
    Entrypoint,
    Failure,
    Impact,
    LatencyInflation,
    PathStep,
    RootCause,
)
from incident.text import clip

Fields = Mapping[str, Any]
PathLabel = Literal["slow", "typical", "failed", "baseline"]


def root_causes(a: Assessment, ev: EvidenceLog, done: Fields) -> list[RootCause]:
    """The ranked causes, each with its evidence (facts and example spans) and sentence."""
    out: list[RootCause] = []
    table = a.inc.table
    for c in a.causes:
        evidence: list[str] = []
        for fact in c.facts[:3]:
            eid = ev.add("stat", c.component, f"{c.component}: {fact}")
            if eid:
                evidence.append(eid)
        for i, text in examples(a, c):
            eid = ev.add("span", span_ref(table, i), text)
            if eid:
                evidence.append(eid)
        kind_word = {"db": "database", "cache": "cache", "external": "external API"}.get(
            c.ctype, "service"
        )
        component = f"{a.inc.peer_system.get(c.component) or kind_word} {c.component}"
        summary = cause_sentence(a, c)
        out.append(
            RootCause(
                service=c.component,
                operation=c.operation,
                component=component,
                kind=c.kind,
                category=c.category,
                origin=c.origin,
                score=round(min(1.0, max(0.0, c.score)), 3),
                instance=c.instance,
                version=c.version,
                summary=summary,
                evidence=evidence,
            )
        )
    return out


def blast_radius(a: Assessment, ev: EvidenceLog, done: Fields) -> BlastRadius:
    """The callers upstream of the cause, the entry points and the share of requests and
    users it reached (users counted, never listed)."""
    causes, slow = a.causes, a.slow
    if not causes or not a.inc.n_traces:
        return BlastRadius()
    cause = causes[0].component
    # Sorted: a set's order changes with PYTHONHASHSEED and the report must not.
    graph = sorted(a.inc.graph)
    upstream: list[str] = []
    frontier = [cause]
    seen = {cause}
    while frontier:
        nxt = []
        for node in frontier:
            for caller, callee in graph:
                if callee == node and caller not in seen:
                    seen.add(caller)
                    upstream.append(caller)
                    nxt.append(caller)
        frontier = sorted(nxt)
    t = a.inc.table
    svc, flag, kind, peer, calls, has_child = (
        t.service,
        t.flag,
        t.kind,
        t.peer,
        t.calls,
        t.has_child,
    )
    affected_traces: list[int] = []
    for k in a.inc.traces:
        r = t.roots[k]
        if not (flag[r] == ERROR or slow.get(k)):
            continue
        for i in t.members[k]:
            # The peer column holds what childless calls name (`semconv.peer_name`).
            if (
                svc[i] == cause
                or (calls[i] and not has_child[i] and peer[i] == cause)
                or (flag[i] and kind[i] == SpanKind.CLIENT and peer_name(t.spans[i]) == cause)
            ):
                affected_traces.append(k)
                break
    # A trace that lost its context continues a request of another trace: its users
    # came in through that trace's entry point, so count that request instead.
    outer = _continued_requests(t, a.inc.traces, affected_traces)
    entry_hits: Counter[str] = Counter()
    users: set[str] = set()
    affected_ids: set[str] = set()
    counted: set[int] = set()
    for k in affected_traces:
        k = outer.get(k, k)
        if k in counted:
            continue
        counted.add(k)
        rs = t.spans[t.roots[k]]
        entry_hits[f"{rs.service} {rs.name}"] += 1
        affected_ids.add(rs.trace_id)
        u = user_of(rs.attributes) if rs.attributes else None
        if u:
            users.add(u)
    affected = len(counted)
    # Logs of the affected requests name users the spans did not carry.
    for rec in a.bundle.logs:
        if rec.trace_id in affected_ids and rec.fields:
            u = user_of(rec.fields)
            if u:
                users.add(u)
    br = BlastRadius(
        services=[cause, *upstream],
        entrypoints=[e for e, _ in entry_hits.most_common()],
        share_of_requests=round(affected / max(1, a.inc.n_traces), 4),
        users_affected=len(users) if users else None,
    )
    return br


def impact(a: Assessment, ev: EvidenceLog, done: Fields) -> Impact:
    """Requests, failures and slow requests, per entry point against the baseline."""
    inc, base = a.inc, a.base
    t = inc.table
    entries: list[Entrypoint] = []
    for key, agg in sorted(inc.entries.items(), key=lambda kv: -len(kv[1].durations)):
        d = sorted(agg.durations)
        b = base.entries.get(key) if base else None
        bd = sorted(b.durations) if b else []
        n = len(d)
        ep = Entrypoint(
            service=key[0],
            operation=key[1],
            requests=n,
            error_rate=round((agg.errors + agg.user_errors) / max(1, n), 4),
            p50_ms=ms(percentile_sorted(d, 0.5)),
            p95_ms=ms(percentile_sorted(d, 0.95)),
            p99_ms=ms(percentile_sorted(d, 0.99)),
            business_critical=a.config.is_critical(f"{key[0]} {key[1]}"),
        )
        if b:
            ep.baseline_requests = len(bd)
            ep.baseline_error_rate = round((b.errors + b.user_errors) / max(1, len(bd)), 4)
            ep.baseline_p50_ms = ms(percentile_sorted(bd, 0.5))
            ep.baseline_p95_ms = ms(percentile_sorted(bd, 0.95))
            ep.baseline_p99_ms = ms(percentile_sorted(bd, 0.99))
        entries.append(ep)
    slow = a.slow
    failed = 0
    n_slow = 0
    for k in inc.traces:
        n_slow += slow.get(k, False)
        failed += t.flag[t.roots[k]] != 0
    n = max(1, inc.n_traces)
    base_failed = (base.failed_traces / max(1, base.n_traces)) if base else 0.0
    user_facing = (inc.failed_traces / n - base_failed > 0.01) or n_slow / n > 0.05
    if (a.causes and a.causes[0].category == "partial") or a.verdict.status == "no-incident":
        # Absorbed failures, or a system at rest: no impact of an incident reached users.
        user_facing = False
    imp = Impact(
        user_facing=user_facing,
        traces=inc.n_traces,
        traces_failed=failed,
        traces_slow=n_slow,
        entrypoints=entries[:20],
    )
    if inc.n_traces:
        imp.duration_s = round((inc.end_ns - inc.start_ns) / 1e9, 3)
    imp.business_critical_hit = [
        f"{e.service} {e.operation}"
        for e in entries
        if e.business_critical
        and (
            e.error_rate > e.baseline_error_rate + 0.01
            or (e.baseline_p99_ms and e.p99_ms > 1.5 * e.baseline_p99_ms)
        )
    ]
    imp.users_affected = done["blast_radius"].users_affected
    return imp


def latency_inflation(a: Assessment, ev: EvidenceLog, done: Fields) -> list[LatencyInflation]:
    """Added critical-path time per hop, biggest first, with the share of the growth."""
    inc, base = a.inc, a.base
    total = inc.mean_root_ms() - (base.mean_root_ms() if base else 0.0)
    # Of the gross growth, as the ranking does: hops that left the critical path offset
    # the net rise, and shares of it would add up past 100%; when the requests as a whole
    # did not slow down, a hop that grew still has its share of what grew.
    total = max(total, sum(d for d in a.added.values() if d > 0))
    rows: list[LatencyInflation] = []
    limit = a.config.max_latency_rows
    for key, d in sorted(a.added.items(), key=lambda kv: (-kv[1], kv[0])):
        if d <= 0 or len(rows) >= limit:
            break
        what, first, second = key
        before = base.mean_path_ms(key) if base else 0.0
        row = LatencyInflation(
            service=first if what == "self" else second,
            operation=second if what == "self" else None,
            edge=None if what == "self" else f"{first}->{second}",
            baseline_ms=round(before, 3),
            incident_ms=round(inc.mean_path_ms(key), 3),
            added_ms=round(d, 3),
            share=round(min(1.0, d / total), 3) if total > 0 else 0.0,
            new_hop=base is not None and key not in base.path,
        )
        rows.append(row)
    return rows


def failures(a: Assessment, ev: EvidenceLog, done: Fields) -> list[Failure]:
    """Failing components by impact: category, origin, user-facing or absorbed."""
    inc, base = a.inc, a.base
    t = inc.table
    rows: list[Failure] = []
    instrumented = {k[0] for k in inc.res_acc}
    # The ranking judged each failing component: its sample sizes and whether it rose
    # (without a comparison, nothing can have risen).
    judged = {c.component: c for c in a.ordered}
    for name, o in sorted(inc.origins.items(), key=lambda kv: -(kv[1].errors + kv[1].user_errors)):
        if not o.examples:
            continue
        i = o.examples[0]
        s = t.spans[i]
        flag = t.flag[i]
        category, origin = classify(s, flag if flag in (ERROR, USER_ERROR) else ERROR)
        if inc.peer_kind.get(name) == "external" and origin == "infrastructure":
            origin = "dependency"
        if origin == "dependency" and (
            name in instrumented or inc.peer_kind.get(name) == "service"
        ):
            # It emits spans of its own, or is called as one of our RPC services: a
            # service of ours (a proxy, say) that callers failed to reach, not a third
            # party. The root causes judge it the same way.
            origin = "infrastructure"
        count = o.errors + o.user_errors
        absorbed = o.absorbed >= 0.8 * count
        consumer = sum(in_consumer(t, j) for j in o.examples) >= 0.5 * len(o.examples)
        category = failure_category(category, count, o.absorbed, o.retried, consumer)
        entry_names = {
            f"{t.spans[t.roots[t.tix[j]]].service} {t.spans[t.roots[t.tix[j]]].name}"
            for j in o.examples
        }
        op = max(o.operations.items(), key=lambda kv: kv[1])[0] if o.operations else None
        b = base.origins.get(name) if base else None
        rows.append(
            Failure(
                service=name,
                operation=op,
                category=category,
                origin=origin,
                count=count,
                user_facing=not absorbed and not consumer,
                business_critical=any(a.config.is_critical(x) for x in [*entry_names, op or ""]),
                baseline_count=(b.errors + b.user_errors) if b else 0,
                example=clip(error_text(s), 200),
                calls=judged[name].calls,
                baseline_calls=judged[name].baseline_calls,
                rose=a.compared is not None and judged[name].fails_more,
            )
        )
        if len(rows) >= a.config.max_failure_rows:
            break
    return rows


def critical_paths(a: Assessment, ev: EvidenceLog, done: Fields) -> list[CriticalPath]:
    """Critical paths of a representative slow and failed request, and of a baseline one."""
    causes, slow = a.causes, a.slow
    out: list[CriticalPath] = []
    inc = a.inc
    t = inc.table
    if not inc.traces:
        return out
    cause = causes[0].component if causes else ""

    def touches(k: int) -> bool:
        return any(
            t.spans[i].service == cause or peer_name(t.spans[i]) == cause
            for i in t.members[k][:500]
        )

    slow_traces = [k for k in inc.traces if slow.get(k)]
    pool = slow_traces or inc.traces
    pool = sorted(pool, key=lambda k: t.end[t.roots[k]] - t.start[t.roots[k]])
    # The slowest traces through the cause, looking at a bounded number of them.
    upper = pool[len(pool) // 2 :][-300:]
    picked = next((k for k in reversed(upper) if touches(k)), pool[-1])
    out.append(_path_of(t, picked, "slow" if slow_traces else "typical"))
    failed = [k for k in inc.traces if t.flag[t.roots[k]] == ERROR]
    if failed:
        k = next((k for k in failed[:200] if touches(k)), failed[0])
        out.append(_path_of(t, k, "failed"))
    if a.base and a.base.traces:
        bt = a.base.table
        entry = t.spans[t.roots[picked]]
        same = [
            k
            for k in a.base.traces
            if bt.spans[bt.roots[k]].name == entry.name
            and bt.spans[bt.roots[k]].service == entry.service
        ] or a.base.traces
        same = sorted(same, key=lambda k: bt.end[bt.roots[k]] - bt.start[bt.roots[k]])
        out.append(_path_of(bt, same[len(same) // 2], "baseline"))
    return out


def _path_of(t: SpanTable, k: int, label: PathLabel) -> CriticalPath:
    r = t.roots[k]
    children = t.children_of(k)
    segs = critical_path(t, r, children)
    on_path = {i for i, _, _ in segs}
    selfs = self_times(t, sorted(on_path), children)
    depth: dict[int, int] = {r: 0}

    def depth_of(i: int) -> int:
        chain: list[int] = []
        j = i
        while j not in depth and j >= 0 and len(chain) < 10_000:
            chain.append(j)
            j = t.parent[j]
        d = depth.get(j, 0)
        for x in reversed(chain):
            d += 1
            depth[x] = d
        return depth[i]

    t0 = t.start[r]
    steps = []
    for i in sorted(on_path, key=lambda i: (t.start[i], depth_of(i)))[:200]:
        s = t.spans[i]
        steps.append(
            PathStep(
                service=s.service,
                operation=s.name,
                start_ms=ms(t.start[i] - t0),
                duration_ms=ms(t.end[i] - t.start[i]),
                self_ms=ms(selfs.get(i, 0)),
                depth=depth_of(i),
                error=t.flag[i] != 0,
                kind=SpanKind(s.kind).name.lower() if s.kind in SpanKind._value2member_map_ else "",
            )
        )
    rs = t.spans[r]
    return CriticalPath(
        trace_id=rs.trace_id,
        label=label,
        entrypoint=f"{rs.service} {rs.name}",
        duration_ms=ms(t.end[r] - t.start[r]),
        steps=steps,
    )


def _continued_requests(t: SpanTable, traces: list[int], detached: list[int]) -> dict[int, int]:
    """Traces among `detached` whose root is a server span without a parent that starts and
    ends inside a childless server span of the same service in another trace (a framework
    that dropped the trace context mid-request), mapped to that other trace."""
    roots = {
        k
        for k in detached
        if t.kind[t.roots[k]] == SpanKind.SERVER and not t.spans[t.roots[k]].parent_id
    }
    if not roots:
        return {}
    services = {t.service[t.roots[k]] for k in roots}
    leaves: dict[str, list[int]] = {}
    idx = list(chain.from_iterable(map(t.members.__getitem__, traces)))
    servers = compress(idx, map(eq, map(t.kind.__getitem__, idx), repeat(SpanKind.SERVER)))
    for i in servers:
        if not t.has_child[i] and t.parent[i] >= 0 and t.service[i] in services:
            leaves.setdefault(t.service[i], []).append(i)
    out: dict[int, int] = {}
    for k in sorted(roots):
        r = t.roots[k]
        lo, hi = t.start[r], t.end[r]
        inside = [
            i
            for i in leaves.get(t.service[r], ())
            if t.tix[i] != k and t.start[i] <= lo and hi <= t.end[i] + (t.end[i] - t.start[i]) // 10
        ]
        if inside:
            # The tightest enclosing leaf is the request this trace belongs to.
            best = min(inside, key=lambda i: (t.end[i] - t.start[i], i))
            out[k] = t.tix[best]
    return out


def linked_root_causes(a: Assessment, ev: EvidenceLog, done: Fields) -> list[RootCause]:
    """Root causes also cite new or surging error logs from their service and the alerts
    that fire on it (written once the logs and alerts have their evidence ids)."""
    causes: list[RootCause] = done["root_causes"]
    for rc in causes:
        for tpl in done["log_templates"]:
            if tpl.evidence and rc.service in tpl.services and tpl.evidence not in rc.evidence:
                rc.evidence.append(tpl.evidence)
                if len(rc.evidence) >= 8:
                    break
        for al in done["alerts"]:
            if (
                al.evidence
                and al.role == "cause"
                and al.service == rc.service
                and (al.evidence not in rc.evidence)
            ):
                rc.evidence.append(al.evidence)
    return causes
