"""`diagnose`: assemble traces, split baseline from incident, rank root causes, and fill every
section of the report (impact, inflation, failures, blast radius, logs, alerts, timeline)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Literal

import msgspec

from incident.analysis import actions as action_rules
from incident.analysis.alerts import alert_service, role, runbook_of
from incident.analysis.config import AnalysisConfig
from incident.analysis.critical_path import critical_path, self_times
from incident.analysis.evidence import MIN_EVIDENCE, EvidenceLog, ms_text, plural
from incident.analysis.logs import mine, surge
from incident.analysis.rank import Candidate, in_consumer, rank
from incident.analysis.semconv import (
    ERROR,
    USER_ERROR,
    calls_peer,
    classify,
    error_text,
    peer_name,
    user_of,
)
from incident.analysis.signals import WindowStats, collect
from incident.analysis.trees import SpanTable, build
from incident.analysis.verdict import decide
from incident.analysis.windows import ChangePoint, find_change, percentile
from incident.model import Bundle, LogRecord, SpanKind
from incident.report import (
    AlertSummary,
    BlastRadius,
    CriticalPath,
    DataQualityReport,
    Entrypoint,
    Failure,
    Impact,
    LatencyInflation,
    LogTemplate,
    PathStep,
    Report,
    RootCause,
    TimelineEvent,
    format_time,
)
from incident.text import clip

PathLabel = Literal["slow", "failed", "baseline"]
Source = Literal["alert", "trace", "log", "deploy", "analysis"]


def iso(ns: int | None) -> str | None:
    return None if ns is None else format_time(ns)


def _ms(ns: float) -> float:
    return round(ns / 1e6, 3)


def _span_ref(table: SpanTable, i: int) -> str:
    s = table.spans[i]
    return f"{s.trace_id}/{s.span_id}"


class _Run:
    """One diagnosis in progress: the inputs, the windows and the evidence handed out."""

    def __init__(self, bundle: Bundle, baseline: Bundle | None, config: AnalysisConfig) -> None:
        self.bundle = bundle
        self.baseline = baseline
        self.config = config
        self.table = build(bundle.spans)
        self.btable = build(baseline.spans) if baseline is not None and baseline.spans else None
        self.ev = EvidenceLog(config.max_evidence)
        self.report = Report()
        self.change: ChangePoint | None = None
        self.inc: WindowStats
        self.base: WindowStats | None = None
        self.ordered: list[Candidate] = []
        # No candidate stood out, and the causes are the fallback's best guess.
        self.fell_back = False

    # -- windows ----------------------------------------------------------------------
    def split(self) -> None:
        t = self.table
        all_traces = list(range(len(t.members)))
        cap = self.config.max_path_traces
        w = self.report.window
        if self.btable is not None:
            self.inc = collect(t, all_traces, cap)
            self.base = collect(self.btable, list(range(len(self.btable.members))), cap)
            w.baseline = "file"
            w.baseline_start, w.baseline_end = iso(self.base.start_ns), iso(self.base.end_ns)
            w.incident_start = iso(self.inc.start_ns) if all_traces else None
            return
        roots = t.roots
        times = [t.start[r] for r in roots]
        durs = [t.end[r] - t.start[r] for r in roots]
        # Any failing span counts: failures absorbed before the entry point still mark the onset.
        failed = [False] * len(roots)
        for i, f in enumerate(t.flag):
            if f:
                failed[t.tix[i]] = True
        alert_starts = [a.starts_ns for a in self.bundle.alerts if a.starts_ns]
        self.change = find_change(times, durs, failed, alert_starts, self.config.change_buckets)
        if self.change is None:
            self.inc = collect(t, all_traces, cap)
            w.baseline = "none"
            if all_traces:
                w.incident_start = iso(self.inc.start_ns)
            return
        cp = self.change
        before = [k for k in all_traces if times[k] < cp.start_ns]
        during = [
            k
            for k in all_traces
            if times[k] >= cp.start_ns and (cp.end_ns is None or times[k] < cp.end_ns)
        ]
        self.inc = collect(t, during, cap)
        self.base = collect(t, before, cap)
        w.baseline = "in-file"
        w.incident_start = iso(cp.start_ns)
        w.incident_end = iso(cp.end_ns)
        w.baseline_start, w.baseline_end = iso(self.base.start_ns), iso(cp.start_ns)

    # -- root causes ------------------------------------------------------------------
    def causes(self) -> list[Candidate]:
        ordered, self.added = rank(self.inc, self.base, self.config)
        self.ordered = ordered
        scored = [c for c in ordered if c.score > 0.0]
        # A candidate that adds no new failures and whose latency claim does not hold (too
        # small a share of the added time, or a hop that barely grew) explains nothing a
        # responder should look at; keep one only if nothing else is left.
        top = [
            c
            for c in scored
            if c.err_new + c.user_new > 0
            or c.kind == "deploy"
            or c.latency_claim_holds
            or c.symptom_of
        ] or scored[:1]
        top = top[: self.config.max_root_causes]
        if not top:
            self.fell_back = True
            top = self.fallback(ordered)
        return top

    def fallback(self, ordered: list[Candidate]) -> list[Candidate]:
        """Nothing stood out against the baseline: name the most error-heavy or slowest
        service, else the noisiest logger, else the alerting service, with a low score."""
        inc = self.inc
        if inc.origins:
            name, o = max(
                inc.origins.items(), key=lambda kv: (kv[1].errors + kv[1].user_errors, kv[0])
            )
            c = Candidate(
                name,
                inc.peer_kind.get(name, "service"),
                kind="error",
                score=0.1,
                examples=list(o.examples),
            )
            c.errors = o.errors + o.user_errors
            c.facts.append(
                f"{c.errors} failures originate here; none stands out against the baseline"
            )
            cats = Counter(classify(inc.table.spans[i], ERROR)[0] for i in c.examples)
            c.category = cats.most_common(1)[0][0] if cats else "transient"
            return [c]
        if inc.path:
            best = max(inc.path.items(), key=lambda kv: (kv[1], kv[0]))
            what, a, b = best[0]
            name = a if what == "self" else b
            c = Candidate(name, inc.peer_kind.get(name, "service"), kind="latency", score=0.05)
            c.operation = b if what == "self" else None
            c.facts.append(
                f"largest share of critical-path time "
                f"({ms_text(inc.mean_path_ms(best[0]))} per request)"
            )
            return [c]
        svc_errors: Counter[str] = Counter()
        for rec in self.bundle.logs:
            if rec.service and rec.level in ("ERROR", "FATAL", "WARN"):
                svc_errors[rec.service] += 1
        if not svc_errors:
            for rec in self.bundle.logs:
                if rec.service:
                    svc_errors[rec.service] += 1
        if svc_errors:
            name, count = max(svc_errors.items(), key=lambda kv: (kv[1], kv[0]))
            c = Candidate(name, kind="error", score=0.05)
            c.facts.append(f"{count} warning or error log lines, the most of any service")
            return [c]
        for alert in self.bundle.alerts:
            svc = alert_service(alert)
            if svc:
                c = Candidate(svc, kind="error", score=0.05)
                c.facts.append(f"alert {alert.name} fires on it")
                return [c]
        if self.bundle.spans:
            c = Candidate(self.bundle.spans[0].service, kind="latency", score=0.01)
            c.facts.append("the only service seen; nothing anomalous was found")
            return [c]
        if self.bundle.logs or self.bundle.alerts:
            c = Candidate("unknown", kind="error", score=0.01)
            c.facts.append("no record names a service")
            return [c]
        return []

    def root_causes(self, cands: list[Candidate]) -> list[RootCause]:
        out: list[RootCause] = []
        table = self.inc.table
        for c in cands:
            evidence: list[str] = []
            for fact in c.facts[:3]:
                eid = self.ev.add("stat", c.component, f"{c.component}: {fact}")
                if eid:
                    evidence.append(eid)
            for i in c.examples[:2] or self.example_spans(c)[:2]:
                s = table.spans[i]
                text = (
                    f"{s.service} {s.name}: {error_text(s) or 'slow'} "
                    f"({_ms(table.end[i] - table.start[i])} ms)"
                )
                eid = self.ev.add("span", _span_ref(table, i), text)
                if eid:
                    evidence.append(eid)
            kind_word = {"db": "database", "cache": "cache", "external": "external API"}.get(
                c.ctype, "service"
            )
            component = f"{self.inc.peer_system.get(c.component) or kind_word} {c.component}"
            summary = self.summary(c)
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

    def example_spans(self, c: Candidate) -> list[int]:
        """A slow span of the component, for latency causes without failing examples."""
        table = self.inc.table
        best: list[tuple[int, int]] = []
        for t in self.inc.traces[:: max(1, len(self.inc.traces) // 300)]:
            for i in table.members[t]:
                s = table.spans[i]
                if s.service == c.component or (
                    calls_peer(s) and not table.has_child[i] and peer_name(s) == c.component
                ):
                    best.append((table.end[i] - table.start[i], i))
        best.sort(reverse=True)
        return [i for _, i in best[:2]]

    def summary(self, c: Candidate) -> str:
        """One sentence a responder can act on. Claims of change ("new", "a surge", "got
        slower", "one instance", "one version") need a baseline and enough observations;
        without them the sentence states the counts instead."""
        where = c.component + (f" ({c.operation})" if c.operation else "")
        compared = self.base is not None
        n_fail = c.errors
        failures = (
            f"{n_fail:,} during the incident, {c.baseline_errors:,} before"
            if compared
            else f"{plural(n_fail, 'failure')} in the export, no baseline to compare with"
        )
        if c.kind == "deploy":
            return (
                f"Version {c.version} of {c.component} fails where older versions do not: "
                f"{c.concentration}."
            )
        if c.instance:
            return (
                f"{where} misbehaves on one instance, {c.instance}, while its peers are "
                f"healthy: {c.concentration}."
            )
        share = _share(c.lat_share)
        # The same added time the share is of: its own hops, not its callees' network time.
        per_request = ms_text(c.own_latency)
        added = (
            f"explains {share} of the added request latency (+{per_request} per request)"
            if compared
            else f"takes {share} of critical-path time ({per_request} per request; no "
            f"baseline to compare with)"
        )
        if c.kind == "latency" and c.errors and c.timeouts >= 0.5 * c.errors:
            text = (
                f"Callers time out waiting for {where}: {plural(c.timeouts, 'call')} gave "
                f"up ({failures})."
            )
        elif c.kind == "client-input":
            # A surge needs a baseline that shows the rise and enough rejections to be one.
            surged = compared and c.user_new >= MIN_EVIDENCE
            rejected = plural(n_fail, "client request")
            counted = (
                f"{n_fail:,} during the incident, {c.baseline_errors:,} before"
                if compared
                else "in the export; no baseline to compare with"
            )
            text = (
                f"{where} rejects a surge of invalid client requests (4xx): {failures}; "
                f"the service itself is healthy."
                if surged
                else f"{where} rejected {rejected} with a 4xx ({counted}); a 4xx is the "
                f"client's mistake, not a failure of the service."
            )
        elif c.kind == "error" and c.consumer:
            text = (
                f"{where} fails while consuming messages: {failures}. No caller waits for "
                f"a consumer, so nothing absorbs these; users notice only if the messages "
                f"matter to them (check consumer lag and the dead-letter queue)."
            )
        elif c.kind == "error" and c.category == "partial":
            # "Requests still succeed", not "users are not affected": the fallback may cost
            # latency elsewhere (a cache miss lands on the database).
            text = (
                f"{where} fails, but its callers fall back and the requests still "
                f"succeed ({failures})."
                if n_fail >= MIN_EVIDENCE
                else f"{where} failed {_times(n_fail)} and the request still succeeded"
                f"{' each time' if n_fail > 1 else ''} ({failures})."
            )
        else:
            # "New" only for failures that rose significantly, never for fewer than before.
            is_new = compared and c.err_new + c.user_new > 0 and c.errors > c.baseline_errors
            lead = f"New {c.category}" if is_new else c.category.capitalize()
            text = {
                "saturation": f"Requests queue inside {where} before its database calls "
                f"(connection pool or worker saturation); it {added}.",
                "network": f"{c.component} waits on the network for its calls to "
                f"{c.net_callee} (+{ms_text(c.lat_net_out)} per request on those "
                f"calls): the same delay as on the path to {c.net_callee}, seen from "
                f"the caller."
                if c.net_callee and compared
                else f"{c.component}'s calls to {c.net_callee} spend their time between "
                f"its client spans and {c.net_callee}'s server spans "
                f"({ms_text(c.lat_net_out)} per request; no baseline to compare "
                f"with)."
                if c.net_callee
                else f"The network path to {c.component} got slower while its own work "
                f"stayed fast; it {added}."
                if compared
                else f"Calls to {c.component} spend most of their time between the "
                f"caller's client span and {c.component}'s own server span (network, "
                f"queues, connection setup); that gap {added}.",
                "dependency": f"{c.component} could not be reached: "
                f"{plural(c.unreachable, 'call')} from {_join(c.callers)} never "
                f"connected (unavailable, refused or unresolvable); {failures}.",
                "error": f"{lead} failures originate in {where}: {failures}.",
                "latency": f"{where} got slower: it {added}."
                if compared and c.latency_claim_holds
                else f"{where} barely changed: its critical-path time rose "
                f"{_growth_text(c.lat_growth)} (+{per_request} per request, "
                f"{_share(c.lat_share)} of the added latency), too little to explain "
                f"the incident; nothing else stood out."
                if compared
                else f"{where} {added}.",
            }.get(c.kind, f"{where} is the most likely origin.")
        if c.symptom_of:
            text += f" Likely a symptom of {c.symptom_of}."
        return text

    # -- impact -----------------------------------------------------------------------
    def impact(self, causes: list[Candidate]) -> tuple[Impact, dict[int, bool]]:
        inc, base = self.inc, self.base
        t = inc.table
        entries: list[Entrypoint] = []
        slow_cut: dict[tuple[str, str], float] = {}
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
                p50_ms=_ms(percentile_sorted(d, 0.5)),
                p95_ms=_ms(percentile_sorted(d, 0.95)),
                p99_ms=_ms(percentile_sorted(d, 0.99)),
                business_critical=self.config.is_critical(f"{key[0]} {key[1]}"),
            )
            if b:
                ep.baseline_requests = len(bd)
                ep.baseline_error_rate = round((b.errors + b.user_errors) / max(1, len(bd)), 4)
                ep.baseline_p50_ms = _ms(percentile_sorted(bd, 0.5))
                ep.baseline_p95_ms = _ms(percentile_sorted(bd, 0.95))
                ep.baseline_p99_ms = _ms(percentile_sorted(bd, 0.99))
            entries.append(ep)
            if len(bd) >= 20:
                slow_cut[key] = percentile_sorted(bd, self.config.slow_percentile)
            else:
                slow_cut[key] = self.config.slow_threshold_ms * 1e6
        slow: dict[int, bool] = {}
        failed = 0
        n_slow = 0
        for k in inc.traces:
            r = t.roots[k]
            s = t.spans[r]
            is_slow = (t.end[r] - t.start[r]) > slow_cut.get((s.service, s.name), 1e18)
            slow[k] = is_slow
            n_slow += is_slow
            failed += t.flag[r] != 0
        n = max(1, inc.n_traces)
        base_failed = (base.failed_traces / max(1, base.n_traces)) if base else 0.0
        user_facing = (inc.failed_traces / n - base_failed > 0.01) or n_slow / n > 0.05
        if causes and causes[0].category == "partial":
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
        return imp, slow

    def blast(self, causes: list[Candidate], slow: dict[int, bool]) -> BlastRadius:
        if not causes or not self.inc.n_traces:
            return BlastRadius()
        cause = causes[0].component
        # Sorted: a set's order changes with PYTHONHASHSEED and the report must not.
        graph = sorted(self.inc.graph)
        upstream: list[str] = []
        frontier = [cause]
        seen = {cause}
        while frontier:
            nxt = []
            for node in frontier:
                for a, b in graph:
                    if b == node and a not in seen:
                        seen.add(a)
                        upstream.append(a)
                        nxt.append(a)
            frontier = sorted(nxt)
        t = self.inc.table
        affected_traces: list[int] = []
        for k in self.inc.traces:
            r = t.roots[k]
            if not (t.flag[r] == ERROR or slow.get(k)):
                continue
            touches = False
            for i in t.members[k]:
                s = t.spans[i]
                if (
                    s.service == cause
                    or (t.flag[i] and s.kind == SpanKind.CLIENT and peer_name(s) == cause)
                    or (not t.has_child[i] and calls_peer(s) and peer_name(s) == cause)
                ):
                    touches = True
                    break
            if touches:
                affected_traces.append(k)
        # A trace that lost its context continues a request of another trace: its users
        # came in through that trace's entry point, so count that request instead.
        outer = _continued_requests(t, self.inc.traces, affected_traces)
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
        for rec in self.bundle.logs:
            if rec.trace_id in affected_ids and rec.fields:
                u = user_of(rec.fields)
                if u:
                    users.add(u)
        br = BlastRadius(
            services=[cause, *upstream],
            entrypoints=[e for e, _ in entry_hits.most_common()],
            share_of_requests=round(affected / max(1, self.inc.n_traces), 4),
            users_affected=len(users) if users else None,
        )
        return br

    # -- tables -----------------------------------------------------------------------
    def inflation(self) -> list[LatencyInflation]:
        inc, base = self.inc, self.base
        total = inc.mean_root_ms() - (base.mean_root_ms() if base else 0.0)
        # Of the gross growth, as the ranking does: hops that left the critical path offset
        # the net rise, and shares of it would add up past 100%.
        if total > 0:
            total = max(total, sum(d for d in self.added.values() if d > 0))
        rows: list[LatencyInflation] = []
        for key, d in sorted(self.added.items(), key=lambda kv: (-kv[1], kv[0])):
            if d <= 0 or len(rows) >= self.config.max_latency_rows:
                break
            what, a, b = key
            before = base.mean_path_ms(key) if base else 0.0
            row = LatencyInflation(
                service=a if what == "self" else b,
                operation=b if what == "self" else None,
                edge=None if what == "self" else f"{a}->{b}",
                baseline_ms=round(before, 3),
                incident_ms=round(inc.mean_path_ms(key), 3),
                added_ms=round(d, 3),
                share=round(min(1.0, d / total), 3) if total > 0 else 0.0,
            )
            rows.append(row)
        return rows

    def failures(self) -> list[Failure]:
        inc, base = self.inc, self.base
        t = inc.table
        rows: list[Failure] = []
        instrumented = {k[0] for k in inc.res_acc}
        for name, o in sorted(
            inc.origins.items(), key=lambda kv: -(kv[1].errors + kv[1].user_errors)
        ):
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
            if absorbed and category != "fatal" and not consumer:
                category = "partial"
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
                    business_critical=any(
                        self.config.is_critical(x) for x in [*entry_names, op or ""]
                    ),
                    baseline_count=(b.errors + b.user_errors) if b else 0,
                    example=clip(error_text(s), 200),
                )
            )
            if len(rows) >= self.config.max_failure_rows:
                break
        return rows

    def paths(self, causes: list[Candidate], slow: dict[int, bool]) -> list[CriticalPath]:
        out: list[CriticalPath] = []
        inc = self.inc
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
        out.append(self.path_of(t, picked, "slow"))
        failed = [k for k in inc.traces if t.flag[t.roots[k]] == ERROR]
        if failed:
            k = next((k for k in failed[:200] if touches(k)), failed[0])
            out.append(self.path_of(t, k, "failed"))
        if self.base and self.base.traces:
            bt = self.base.table
            entry = t.spans[t.roots[picked]]
            same = [
                k
                for k in self.base.traces
                if bt.spans[bt.roots[k]].name == entry.name
                and bt.spans[bt.roots[k]].service == entry.service
            ] or self.base.traces
            same = sorted(same, key=lambda k: bt.end[bt.roots[k]] - bt.start[bt.roots[k]])
            out.append(self.path_of(bt, same[len(same) // 2], "baseline"))
        return out

    def path_of(self, t: SpanTable, k: int, label: PathLabel) -> CriticalPath:
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
                    start_ms=_ms(t.start[i] - t0),
                    duration_ms=_ms(t.end[i] - t.start[i]),
                    self_ms=_ms(selfs.get(i, 0)),
                    depth=depth_of(i),
                    error=t.flag[i] != 0,
                    kind=SpanKind(s.kind).name.lower()
                    if s.kind in SpanKind._value2member_map_
                    else "",
                )
            )
        rs = t.spans[r]
        return CriticalPath(
            trace_id=rs.trace_id,
            label=label,
            entrypoint=f"{rs.service} {rs.name}",
            duration_ms=_ms(t.end[r] - t.start[r]),
            steps=steps,
        )

    # -- logs, alerts, timeline -------------------------------------------------------
    def log_templates(self) -> list[LogTemplate]:
        logs = self.bundle.logs
        if not logs:
            return []
        base_logs = self.baseline.logs if self.baseline is not None else []
        start = self.change.start_ns if self.change else None
        logs = self._with_services(logs)
        stats = mine(logs, base_logs, start)
        inc_span = (self.inc.end_ns - self.inc.start_ns) or 1
        base_span = ((self.base.end_ns - self.base.start_ns) if self.base else 0) or inc_span
        ratio = inc_span / base_span
        has_base = bool(base_logs) or start is not None
        rows = []
        for st in stats:
            sg = surge(st, ratio)
            is_new = has_base and st.baseline_count == 0
            rank_key = (is_new and st.error_like, sg or 0.0, st.error_like, st.count)
            rows.append((rank_key, st, sg, is_new))
        rows.sort(key=lambda x: x[0], reverse=True)
        out: list[LogTemplate] = []
        for _, st, sg, is_new in rows[: self.config.max_log_templates]:
            ev = None
            if st.error_like and (is_new or (sg or 0) > 2):
                rec = logs[st.example_ref]
                ev = self.ev.add(
                    "log",
                    rec.source or f"log#{st.example_ref + 1}",
                    f"{rec.service or '?'} {rec.level or ''}: {st.example}",
                )
            out.append(
                LogTemplate(
                    template=st.template,
                    count=st.count,
                    level=st.level,
                    services=sorted(st.services)[:10],
                    first_seen=iso(st.first_ns),
                    last_seen=iso(st.last_ns),
                    baseline_count=st.baseline_count,
                    new=is_new,
                    surge=round(sg, 2) if sg is not None else None,
                    example=st.example,
                    evidence=ev,
                )
            )
        return out

    def _with_services(self, logs: list[LogRecord]) -> list[LogRecord]:
        """Logs without a service take it from the span they name (by span id, else by
        trace id: the trace's entry service)."""
        missing = [r for r in logs if not r.service and (r.span_id or r.trace_id)]
        if not missing:
            return logs
        wanted_spans = {r.span_id for r in missing if r.span_id}
        wanted_traces = {r.trace_id for r in missing if r.trace_id}
        by_span: dict[str, str] = {}
        by_trace: dict[str, str] = {}
        t = self.table
        for i, s in enumerate(t.spans):
            if s.span_id in wanted_spans:
                by_span[s.span_id] = s.service
            if s.trace_id in wanted_traces and t.parent[i] < 0:
                by_trace.setdefault(s.trace_id, s.service)
        out = []
        for r in logs:
            if not r.service and (r.span_id or r.trace_id):
                svc = by_span.get(r.span_id or "") or by_trace.get(r.trace_id or "")
                if svc:
                    r = msgspec.structs.replace(r, service=svc)
            out.append(r)
        return out

    def alert_rows(self, causes: list[Candidate]) -> list[AlertSummary]:
        names = [c.component for c in causes[:2]]
        entry_services = {k[0] for k in self.inc.entries}
        out = []
        for a in sorted(self.bundle.alerts, key=lambda a: (a.starts_ns or 0, a.name)):
            ev = self.ev.add(
                "alert",
                a.name,
                f"{a.status} {a.name} on "
                f"{alert_service(a) or '?'}"
                f"{': ' + a.summary if a.summary else ''}",
            )
            out.append(
                AlertSummary(
                    source=a.source,
                    status=a.status,
                    name=a.name,
                    severity=a.severity,
                    service=alert_service(a),
                    starts_at=iso(a.starts_ns),
                    ends_at=iso(a.ends_ns),
                    role=role(a, names, entry_services),
                    runbook=runbook_of(a),
                    summary=a.summary
                    or a.annotations.get("summary")
                    or a.annotations.get("description"),
                    evidence=ev,
                )
            )
        return out

    def timeline(
        self, causes: list[Candidate], alerts: list[AlertSummary], templates: list[LogTemplate]
    ) -> list[TimelineEvent]:
        ev: list[tuple[int, TimelineEvent]] = []

        def add(
            ns: int | None, source: Source, text: str, evidence: Iterable[str | None] = ()
        ) -> None:
            stamp = iso(ns)
            if stamp:
                ev.append(
                    (
                        ns or 0,
                        TimelineEvent(
                            time=stamp,
                            source=source,
                            event=text,
                            evidence=[e for e in evidence if e],
                        ),
                    )
                )

        inc, t = self.inc, self.inc.table
        if self.change:
            add(
                self.change.start_ns,
                "analysis",
                "First anomaly: entry-point latency or error rate departs from the baseline",
            )
            add(self.change.peak_ns, "analysis", "Peak of the incident")
            add(self.change.end_ns, "analysis", "Recovery: entry points back to baseline")
        elif inc.n_traces:
            add(inc.start_ns, "trace", "First trace of the incident export")
        # The incident's first error comes from a new or surging source; one that failed at
        # the same rate before is background (listed with the failures that predate it).
        new_sources = [
            c
            for c in self.ordered
            if c.err_new + c.user_new > 0 and c.first_span >= 0 and c.first_ns is not None
        ]
        first = min(new_sources, key=lambda c: (c.first_ns or 0, c.component), default=None)
        if first is not None:
            i = first.first_span
            s = t.spans[i]
            eid = self.ev.add("span", _span_ref(t, i), f"{s.service} {s.name}: {error_text(s)}")
            add(
                first.first_ns,
                "trace",
                f"First error: {s.service} {s.name} — {clip(error_text(s), 120)}",
                [eid],
            )
        for a in alerts:
            if a.starts_at:
                ev.append(
                    (
                        0,
                        TimelineEvent(
                            time=a.starts_at,
                            source="alert",
                            event=f"Alert {a.name} fired ({a.role})",
                            evidence=[a.evidence] if a.evidence else [],
                        ),
                    )
                )
            if a.ends_at and a.status == "resolved":
                ev.append(
                    (
                        0,
                        TimelineEvent(
                            time=a.ends_at, source="alert", event=f"Alert {a.name} resolved"
                        ),
                    )
                )
        for ns, text in self.deploys():
            add(ns, "deploy", text)
        for tpl in templates[:5]:
            if tpl.new and tpl.first_seen and tpl.level in ("ERROR", "FATAL", "WARN"):
                ev.append(
                    (
                        0,
                        TimelineEvent(
                            time=tpl.first_seen,
                            source="log",
                            event=f"New log message: {clip(tpl.template, 120)}",
                            evidence=[tpl.evidence] if tpl.evidence else [],
                        ),
                    )
                )
        ev.sort(key=lambda x: x[1].time)
        return [e for _, e in ev][:60]

    def deploys(self) -> list[tuple[int, str]]:
        """Versions first seen in the incident window that the baseline did not run."""
        inc, base = self.inc, self.base
        if base is None:
            return []
        old = {(k[0], k[2]) for k in base.res_acc}
        first: dict[tuple[str, str], int] = {}
        for k, acc in inc.res_acc.items():
            if k[2] and (k[0], k[2]) not in old:
                key = (k[0], k[2])
                if key not in first or acc[2] < first[key]:
                    first[key] = acc[2]
        return [
            (ns, f"Deploy: {svc} version {v} first seen")
            for (svc, v), ns in sorted(first.items(), key=lambda kv: kv[1])
        ]

    def quality(self) -> DataQualityReport:
        q = self.bundle.quality
        t = self.table
        warnings = list(q.warnings)
        warnings.extend(w for w in t.warnings if w not in warnings)
        if self.report.window.baseline == "none" and self.bundle.spans:
            warnings.append(
                "no baseline: no fault-free export was given and no calm period "
                "was found before the incident, so nothing is compared"
            )
        return DataQualityReport(
            spans=q.spans or t.n,
            traces=len(t.members),
            orphans=max(q.orphans, t.orphans),
            duplicates=max(q.duplicates, t.duplicates),
            skipped=q.skipped,
            clock_skew_adjusted=q.clock_skew_adjusted + t.skew_adjusted,
            repaired=q.repaired + t.cycles,
            logs=len(self.bundle.logs),
            log_lines_skipped=q.log_lines_skipped,
            alerts=len(self.bundle.alerts),
            warnings=warnings[:50],
        )


def _times(n: int) -> str:
    return "once" if n == 1 else "twice" if n == 2 else f"{n:,} times"


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
    for k in traces:
        for i in t.members[k]:
            if (
                t.kind[i] == SpanKind.SERVER
                and not t.has_child[i]
                and t.parent[i] >= 0
                and t.service[i] in services
            ):
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


def _growth_text(x: float) -> str:
    return "from nothing" if x == float("inf") else f"{x:.0%}"


def _share(x: float) -> str:
    return "under 1%" if x < 0.01 else f"{x:.0%}"


def _join(names: list[str]) -> str:
    """ "a", "a and b", "a, b and c", "a, b, c and 2 more"."""
    if not names:
        return "its callers"
    if len(names) > 3:
        return ", ".join(names[:3]) + f" and {len(names) - 3} more"
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + f" and {names[-1]}"


def _link_evidence(rep: Report) -> None:
    """Root causes also cite new or surging error logs from their service and the alerts
    that fire on it."""
    for rc in rep.root_causes:
        for tpl in rep.log_templates:
            if tpl.evidence and rc.service in tpl.services and tpl.evidence not in rc.evidence:
                rc.evidence.append(tpl.evidence)
                if len(rc.evidence) >= 8:
                    break
        for al in rep.alerts:
            if (
                al.evidence
                and al.role == "cause"
                and al.service == rc.service
                and (al.evidence not in rc.evidence)
            ):
                rc.evidence.append(al.evidence)


def percentile_sorted(values: list[int], q: float) -> float:
    return percentile([float(v) for v in values], q) if values else 0.0


def diagnose(
    bundle: Bundle, baseline: Bundle | None = None, config: AnalysisConfig | None = None
) -> Report:
    """The deterministic diagnosis of one incident bundle (optionally against a baseline)."""
    run = _Run(bundle, baseline, config or AnalysisConfig())
    run.split()
    cands = run.causes()
    rep = run.report
    base = run.base if run.base is not None and run.base.n_traces else None
    if run.base is not None and base is None:
        # The change starts where the export starts: nothing before it to compare with.
        rep.window.baseline = "none"
    firing = sum(1 for a in bundle.alerts if a.status == "firing")
    rep.verdict = decide(cands, run.inc, base, fell_back=run.fell_back, alerts_firing=firing)
    if rep.verdict.status == "no-incident":
        cands = []  # no culprit on a system at rest
    rep.root_causes = run.root_causes(cands)
    rep.impact, slow = run.impact(cands)
    rep.blast_radius = run.blast(cands, slow)
    rep.impact.users_affected = rep.blast_radius.users_affected
    rep.latency_inflation = run.inflation()
    rep.failures = run.failures()
    rep.critical_paths = run.paths(cands, slow)
    rep.log_templates = run.log_templates()
    rep.alerts = run.alert_rows(cands)
    _link_evidence(rep)
    rep.timeline = run.timeline(cands, rep.alerts, rep.log_templates)
    rep.actions = action_rules.suggest(cands, rep.alerts)
    rep.evidence = run.ev.items
    rep.data_quality = run.quality()
    services = {s for s in run.inc.calls} | {c.component for c in cands}
    services |= {s.service for s in bundle.logs if s.service} if bundle.logs else set()
    rep.services = sorted(services)
    rep.inputs = [i.path for i in bundle.inputs]
    times = [ns for ns in (run.inc.start_ns or None, run.inc.end_ns or None) if ns]
    times += [r.time_ns for r in bundle.logs[:1] + bundle.logs[-1:] if r.time_ns]
    times += [a.starts_ns for a in bundle.alerts if a.starts_ns]
    if run.base is not None and run.report.window.baseline == "in-file":
        times.append(run.base.start_ns)
    if times:
        rep.window.start, rep.window.end = iso(min(times)), iso(max(times))
    return rep
