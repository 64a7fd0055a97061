"""Root-cause ranking: one scoring scheme over every component (service or uninstrumented
peer) that combines the added latency it explains on critical paths with the new errors whose
deepest failing span points at it, then names the kind, instance or version."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field

from incident.analysis.config import AnalysisConfig
from incident.analysis.evidence import (
    MAJOR_LATENCY_SHARE,
    MIN_EVIDENCE,
    MIN_LATENCY_GROWTH,
    MIN_LATENCY_SHARE,
    ms_text,
    plural,
)
from incident.analysis.semconv import ERROR, Category, Origin, classify, peer_name
from incident.analysis.signals import OriginErrors, WindowStats
from incident.analysis.trees import SpanTable
from incident.model import SpanKind


@dataclass
class Candidate:
    component: str
    ctype: str = "service"  # service|db|cache|external
    lat_self: float = 0.0
    lat_lead: float = 0.0
    lat_net: float = 0.0  # added edge gap on calls into this component
    lat_net_out: float = 0.0  # added edge gap on calls this component makes
    lat_peer: float = 0.0
    # Added time its callers spent waiting to retry calls to it that failed (backoff): the
    # callers' own work did not grow, the retries of this component's failures did.
    lat_retry: float = 0.0
    # Baseline critical-path ms of the hops charged to it that grew: how big they were before.
    lat_before: float = 0.0
    # Incident critical-path spans behind its latency (a claim of change needs enough).
    lat_samples: int = 0
    err_new: float = 0.0
    user_new: float = 0.0
    errors: int = 0
    baseline_errors: int = 0
    timeouts: int = 0
    absorbed: float = 0.0  # share of its failures that the entry point absorbed
    score: float = 0.0
    lat_score: float = 0.0
    err_score: float = 0.0
    kind: str = "latency"
    category: Category = "transient"
    origin: Origin = "infrastructure"
    instance: str | None = None
    version: str | None = None
    operation: str | None = None
    examples: list[int] = field(default_factory=list)
    facts: list[str] = field(default_factory=list)
    symptom_of: str | None = None
    spread: float = 1.0  # failing spans each of its failures accounts for, on average
    unreachable: int = 0  # calls to it that never connected
    callers: list[str] = field(default_factory=list)
    first_ns: int | None = None
    first_span: int = -1
    # Share of the added request latency it explains (of all request time without a baseline).
    lat_share: float = 0.0
    # Its failures happen while consuming messages: no caller waits for them or absorbs them.
    consumer: bool = False
    # Ranked against a baseline: only then may its wording claim a change.
    compared: bool = False
    # The measured fact behind an instance or version claim, for the summary.
    concentration: str = ""
    # For a network cause seen from the caller side: the callee its slow calls go to.
    net_callee: str | None = None

    @property
    def err_weight(self) -> float:
        """The new failing spans it explains: its own new failures times the failing spans
        above each of them, so a failure that broke the request path outweighs one that
        stayed where it started."""
        return (self.err_new + self.user_new) * min(self.spread, 8.0)

    @property
    def latency(self) -> float:
        return self.own_latency + 0.5 * self.lat_net_out

    @property
    def lat_growth(self) -> float:
        """How much the hops charged to it grew, relative to their baseline size."""
        return self.own_latency / self.lat_before if self.lat_before > 0 else math.inf

    @property
    def latency_claim_holds(self) -> bool:
        """Is "it got slower and explains N% of the added latency" a fair sentence? Against a
        baseline it needs a real share of the added time, a real rise of its own hops and
        enough spans behind it; without one, only a share worth reading."""
        if not self.compared:
            return self.lat_share >= 0.02
        grew = self.lat_growth >= MIN_LATENCY_GROWTH or self.lat_share >= MAJOR_LATENCY_SHARE
        return self.lat_share >= MIN_LATENCY_SHARE and grew and self.lat_samples >= MIN_EVIDENCE

    @property
    def own_latency(self) -> float:
        """The added time charged to it alone: each critical-path hop is charged to exactly
        one component, so these add up over candidates without counting anything twice. (Its
        outgoing calls' network time is its callee's; it only weighs in the score.)"""
        return self.lat_self + self.lat_net + self.lat_peer + self.lat_retry


def _get(cands: dict[str, Candidate], name: str, ctype: str = "service") -> Candidate:
    c = cands.get(name)
    if c is None:
        c = cands[name] = Candidate(name, ctype)
    elif ctype != "service" and c.ctype == "service":
        c.ctype = ctype
    return c


def _attribute_latency(
    cands: dict[str, Candidate], inc: WindowStats, base: WindowStats | None
) -> dict[tuple[str, str, str], float]:
    added: dict[tuple[str, str, str], float] = {}
    keys = set(inc.path) | (set(base.path) if base else set())
    # Sorted: candidate order feeds float sums and ties, which must not follow hash order.
    for key in sorted(keys):
        d = inc.mean_path_ms(key) - (base.mean_path_ms(key) if base else 0.0)
        added[key] = d
        if d <= 0:
            continue
        what, a, b = key
        before = base.mean_path_ms(key) if base else 0.0
        if what == "self":
            c = _get(cands, a)
            c.lat_self += d
            c.lat_before += before
            lead = inc.lead.get(key, 0) / max(1, inc.sampled) / 1e6 - (
                base.lead.get(key, 0) / max(1, base.sampled) / 1e6 if base else 0.0
            )
            c.lat_lead += min(max(lead, 0.0), d)
        elif what == "edge":
            _get(cands, b).lat_net += d
            _get(cands, b).lat_before += before
            _get(cands, a).lat_net_out += d
        else:
            c = _get(cands, b, inc.peer_kind.get(b, "external"))
            c.lat_peer += d
            c.lat_before += before
    return added


def _retry_waits(ws: WindowStats, max_path_traces: int) -> dict[tuple[str, str], float]:
    """Mean ms per request that a caller sat idle between a failed call and its next attempt
    at the same callee (retry backoff), over the traces whose critical paths were sampled.
    That idle time is the caller's self time on the critical path, yet its own work did not
    grow: the failures it retries did."""
    table = ws.table
    start, end, flag, parent, svc = table.start, table.end, table.flag, table.parent, table.service
    has_child, spans = table.has_child, table.spans
    waits: dict[tuple[str, str], int] = {}
    step = max(1, len(ws.traces) // max(1, max_path_traces))

    def target(i: int, kids: dict[int, list[int]]) -> str | None:
        if has_child[i]:
            return next((svc[c] for c in kids.get(i, ()) if svc[c] != svc[i]), None)
        return peer_name(spans[i])

    for t in ws.traces[::step]:
        failed = [
            i for i in table.members[t] if flag[i] and parent[i] >= 0 and svc[parent[i]] == svc[i]
        ]
        if not failed:
            continue
        kids = table.children_of(t)
        for i in failed:
            callee = target(i, kids)
            if callee is None or callee == svc[i]:
                continue
            siblings = kids[parent[i]]
            later = [
                j
                for j in siblings
                if j != i and start[j] >= end[i] and svc[j] == svc[i] and target(j, kids) == callee
            ]
            if not later:
                continue
            lo, hi = end[i], min(start[j] for j in later)
            # Only the idle part: another call running meanwhile is not waiting.
            busy = sorted(
                (max(lo, start[j]), min(hi, end[j]))
                for j in siblings
                if start[j] < hi and end[j] > lo
            )
            idle, cur = 0, lo
            for s_, e_ in busy:
                if s_ > cur:
                    idle += s_ - cur
                cur = max(cur, e_)
            idle += max(0, hi - cur)
            if idle > 0:
                key = (svc[i], callee)
                waits[key] = waits.get(key, 0) + idle
    n = max(1, ws.sampled)
    return {k: v / n / 1e6 for k, v in waits.items()}


def _charge_retries(
    cands: dict[str, Candidate], inc: WindowStats, base: WindowStats | None, config: AnalysisConfig
) -> None:
    """Move added retry backoff from the caller's self time to the callee it retried, so the
    same added time is not claimed by the caller as "got slower" and by the callee's failures."""
    now = _retry_waits(inc, config.max_path_traces)
    before = _retry_waits(base, config.max_path_traces) if base else {}
    for (caller, callee), ms in sorted(now.items()):
        c = cands.get(caller)
        grew = ms - before.get((caller, callee), 0.0)
        if c is None or grew <= 0 or c.lat_self <= 0:
            continue
        moved = min(grew, c.lat_self)
        c.lat_self -= moved
        c.lat_lead = min(c.lat_lead, c.lat_self)
        # The caller's baseline self time stays with the caller's remaining growth.
        callee_c = _get(cands, callee, inc.peer_kind.get(callee, "service"))
        callee_c.lat_retry += moved
        callee_c.lat_before += before.get((caller, callee), 0.0)


def _new_errors(
    cands: dict[str, Candidate], inc: WindowStats, base: WindowStats | None, config: AnalysisConfig
) -> None:
    for name, o in inc.origins.items():
        c = _get(cands, name, inc.peer_kind.get(name, "service"))
        c.errors = o.errors + o.user_errors
        c.timeouts = o.timeouts
        c.examples = list(o.examples)
        c.absorbed = o.absorbed / max(1, o.errors + o.user_errors)
        c.spread = o.explained / max(1, o.errors + o.user_errors)
        c.unreachable = o.unreachable
        c.callers = sorted(o.callers, key=lambda k: (-o.callers[k], k))
        c.first_ns, c.first_span = o.first_ns, o.first_span
        calls = inc.calls.get(name, 0) or (o.errors + o.user_errors)
        b: OriginErrors | None = base.origins.get(name) if base else None
        for attr in ("errors", "user_errors"):
            now = getattr(o, attr)
            before = getattr(b, attr) if b is not None else 0
            if b is not None:
                c.baseline_errors += before
            new = float(now)
            if base is not None and (b is not None or base.calls.get(name, 0)):
                # An error that was failing at the same rate before is background, not the
                # cause. The rate is judged per call and per request: a dependency that was
                # always broken but now gets far more of the traffic fails more requests.
                per_call = _growth(now, calls, before, base.calls.get(name, 0) or before, config)
                per_request = _growth(now, inc.n_traces, before, base.n_traces, config)
                new = max(per_call, per_request)
            if attr == "errors":
                c.err_new = new
            else:
                c.user_new = new


def _growth(now: int, n_now: int, before: int, n_before: int, config: AnalysisConfig) -> float:
    """Failures beyond what the baseline rate predicts, 0 unless the rise is significant."""
    expected = before / max(1, n_before) * n_now
    n1, n2 = max(1, n_before), max(1, n_now)
    p1, p2 = before / n1, now / n2
    pooled = (before + now) / (n1 + n2)
    se = math.sqrt(max(pooled * (1 - pooled), 1e-12) * (1 / n1 + 1 / n2))
    z = (p2 - p1) / se  # two-proportion test: is the failure rate really higher than before?
    if now < expected * config.error_rate_growth or z < 2.0:
        return 0.0
    # Barely significant growth counts for less than a clear jump.
    return (now - expected) * min(1.0, (z - 1.5) / 2.5)


def rank(
    inc: WindowStats, base: WindowStats | None, config: AnalysisConfig
) -> tuple[list[Candidate], dict[tuple[str, str, str], float]]:
    """Candidates best first, and the added critical-path ms per hop (for the report)."""
    cands: dict[str, Candidate] = {}
    added = _attribute_latency(cands, inc, base)
    _charge_retries(cands, inc, base, config)
    _new_errors(cands, inc, base, config)
    instrumented = {k[0] for k in inc.res_acc}
    for name, kind in inc.peer_kind.items():
        if name in cands:
            # A peer that emits spans of its own is one of our services, not an external API.
            cands[name].ctype = "service" if name in instrumented else kind

    base_root = base.mean_root_ms() if base else 0.0
    total_added = inc.mean_root_ms() - base_root
    # Hops that left the critical path (a parallel branch no longer the last to finish) make
    # the net rise smaller than the sum of the hops that grew; a share of the net rise would
    # then let two candidates each claim most of it. Shares are of the gross growth.
    grown = sum(d for d in added.values() if d > 0)
    lat_pool = sum(c.latency for c in cands.values()) or 1e-9
    own_pool = sum(c.own_latency for c in cands.values()) or 1e-9
    lat_mag = min(1.0, max(0.0, total_added) / max(base_root, 1.0)) if base else 0.3
    err_pool = sum(c.err_new + c.user_new for c in cands.values()) or 1e-9
    weight_pool = sum(c.err_weight for c in cands.values()) or 1e-9
    # A handful of failures is weak evidence however large a share of few traces it is.
    err_mag = min(1.0, err_pool / max(1, inc.n_traces) * 4.0) * min(1.0, err_pool / 5.0)
    for c in cands.values():
        c.lat_score = lat_mag * min(1.0, c.latency / lat_pool)
        c.lat_share = min(
            1.0, c.own_latency / (max(total_added, grown) if base and total_added > 0 else own_pool)
        )
        c.err_score = err_mag * min(1.0, c.err_weight / weight_pool)
        if c.user_new > c.err_new and c.absorbed >= 0.8:
            # A 4xx the entry point absorbed (a lookup that found nothing, a retried token) is
            # routine traffic, not an outage the client caused.
            c.err_score *= 0.5
        c.score = 1.0 - (1.0 - c.lat_score) * (1.0 - c.err_score)
        c.compared = base is not None
        c.lat_samples = inc.calls.get(c.component, 0)
        if base is None:
            c.score *= 0.7  # nothing to compare with: the ranking is a weaker guess

    _cache_pushes_database(cands, inc, base)
    ordered = sorted(cands.values(), key=lambda c: (-c.score, c.component))
    for c in ordered[: config.max_root_causes]:
        _describe(c, inc, base, added)
    return ordered, added


def _cache_pushes_database(
    cands: dict[str, Candidate], inc: WindowStats, base: WindowStats | None
) -> None:
    """A failing cache sends its misses to the database: the cache is the cause and the slow
    database its symptom, when database calls per trace rose along with the cache errors."""
    for cache in [c for c in cands.values() if c.ctype == "cache" and c.err_new > 0]:
        callers = {a for a, b in inc.graph if b == cache.component}
        for db in [c for c in cands.values() if c.ctype == "db" and c is not cache]:
            if not any((a, db.component) in inc.graph for a in callers):
                continue
            now = inc.calls.get(db.component, 0) / max(1, inc.n_traces)
            before = (base.calls.get(db.component, 0) / max(1, base.n_traces)) if base else now
            if before and now >= 1.3 * before:
                cache.score = min(1.0, cache.score + db.score)
                cache.facts.append(
                    f"calls to {db.component} per request rose {now / before:.1f}x while "
                    f"{cache.component} failed"
                )
                db.score *= 0.4
                db.symptom_of = cache.component


def _concentration(c: Candidate, inc: WindowStats, base: WindowStats | None) -> None:
    """Name the version (a deploy) or the instance (a bad pod) the trouble sits on."""
    o = inc.origins.get(c.component)
    keys = [k for k in inc.res_acc if k[0] == c.component]
    if len(keys) < 2:
        return
    acc = inc.res_acc
    by_version: Counter[str] = Counter()
    calls_version: Counter[str] = Counter()
    for k in keys:
        calls_version[k[2] or ""] += acc[k][0]
        if o:
            by_version[k[2] or ""] += o.by_resource.get(k, 0)
    if c.err_new > 0 and o and len(calls_version) >= 2:
        old_versions: set[str] = set()
        if base:
            seen: Counter[str] = Counter()
            for k, a in base.res_acc.items():
                if k[0] == c.component:
                    seen[k[2] or ""] += a[0]
            # A version that barely ran before the incident was still rolling out.
            old_versions = {v for v, n in seen.items() if n >= 0.1 * sum(seen.values())}
        else:
            cutoff = inc.start_ns + (inc.end_ns - inc.start_ns) // 10
            old_versions = {k[2] or "" for k in keys if acc[k][2] <= cutoff}
        total = sum(by_version.values()) or 1
        for v, errs in by_version.most_common():
            if not v or v in old_versions:
                continue
            rate = errs / max(1, calls_version[v])
            rest = (total - errs) / max(1, sum(calls_version.values()) - calls_version[v])
            older_calls = sum(calls_version.values()) - calls_version[v]
            # Blaming a version needs failures enough to tell a pattern from chance, and
            # older versions serving enough traffic to compare with.
            if (
                errs >= 0.5 * total
                and rate >= 3 * rest
                and errs >= MIN_EVIDENCE
                and older_calls >= MIN_EVIDENCE
            ):
                c.kind, c.version = "deploy", v
                c.concentration = (
                    f"{errs} of {total} failures on new version {v} "
                    f"({rate:.0%} vs {rest:.0%} on older versions)"
                )
                c.facts.append(c.concentration)
                return
    instances = [k for k in keys if k[1]]
    if len(instances) < 2:
        return
    if c.err_score >= c.lat_score and o and o.by_resource:
        total = sum(o.by_resource.values())
        k, errs = max(o.by_resource.items(), key=lambda kv: (kv[1], kv[0][1] or ""))
        rate = errs / max(1, acc[k][0] if k in acc else 1)
        rest_calls = sum(acc[x][0] for x in keys if x != k)
        rest = (total - errs) / max(1, rest_calls)
        if (
            k[1]
            and errs >= 0.6 * total
            and rate >= 3 * rest
            and errs >= MIN_EVIDENCE
            and rest_calls >= MIN_EVIDENCE
        ):
            c.instance = k[1]
            c.concentration = (
                f"{errs} of {total} failures on {c.instance} "
                f"({rate:.0%} vs {rest:.0%} on its "
                f"{plural(len(keys) - 1, 'peer')})"
            )
            c.facts.append(c.concentration)
    elif c.lat_score > c.err_score:
        means = {k: acc[k][1] / max(1, acc[k][0]) for k in instances}
        k = max(means, key=lambda x: (means[x], x[1] or ""))
        others = sorted(m for x, m in means.items() if x != k)
        median = others[len(others) // 2] if others else 0.0
        peer_spans = sum(acc[x][0] for x in instances if x != k)
        if (
            median > 0
            and means[k] >= 3 * median
            and acc[k][0] >= MIN_EVIDENCE
            and peer_spans >= MIN_EVIDENCE
        ):
            c.instance = k[1]
            c.concentration = (
                f"{c.instance} spans average {ms_text(means[k] / 1e6)} vs "
                f"{ms_text(median / 1e6)} on its peers"
            )
            c.facts.append(c.concentration)


def _describe(
    c: Candidate,
    inc: WindowStats,
    base: WindowStats | None,
    added: dict[tuple[str, str, str], float],
) -> None:
    """Kind, category, origin, operation and one-line facts of a ranked candidate."""
    o = inc.origins.get(c.component)
    spans = inc.table.spans
    if c.ctype == "external":
        c.origin = "dependency"
    if c.err_score >= c.lat_score and (c.err_new + c.user_new) > 0:
        if c.user_new > c.err_new:
            c.kind, c.category, c.origin = "client-input", "permanent", "user"
        elif c.timeouts >= 0.5 * max(1, c.errors):
            c.kind, c.category = "latency", "transient"
        elif c.unreachable >= 0.5 * max(1, c.errors) and c.ctype in ("service", "external"):
            # Calls that never connected say nothing about the peer's own code: it is down,
            # unresolvable or cut off. (A store keeps kind "error": its actions differ.)
            c.kind, c.category = "dependency", "transient"
            c.facts.append(
                f"{c.unreachable} calls from {', '.join(c.callers[:5])} never connected "
                f"(unavailable, refused or unresolvable)"
            )
        else:
            c.kind = "error"
            cats = Counter(classify(spans[i], ERROR)[0] for i in c.examples)
            c.category = cats.most_common(1)[0][0] if cats else "transient"
            o_retried = o.retried if o else 0
            c.consumer = bool(c.examples) and sum(
                in_consumer(inc.table, i) for i in c.examples
            ) >= 0.5 * len(c.examples)
            # A message consumer's failure is not absorbed by anyone: the producer moved on
            # long ago and the message is retried, dead-lettered or lost.
            if c.absorbed >= 0.8 and o_retried < 0.5 * max(1, c.errors) and not c.consumer:
                c.category = "partial"
            if o_retried:
                c.facts.append(f"{o_retried} failed calls were retried by their callers")
            if c.lat_retry > 0 and base is not None:
                c.facts.append(
                    f"callers waited {ms_text(c.lat_retry)} more per request "
                    f"between retries of its failed calls"
                )
        if o and o.operations:
            c.operation = max(o.operations.items(), key=lambda kv: kv[1])[0]
        c.facts.insert(
            0,
            f"{plural(c.errors, 'failure')} originate here during the incident "
            f"({c.baseline_errors} in the baseline)"
            if base is not None
            else f"{plural(c.errors, 'failure')} originate here (no baseline to compare with)",
        )
        if c.timeouts:
            c.facts.append(f"{plural(c.timeouts, 'call')} gave up with a timeout waiting for it")
        if c.consumer:
            c.facts.append("the failures happen while consuming messages: no caller waits for them")
        elif c.absorbed:
            c.facts.append(f"{c.absorbed:.0%} of them were absorbed: the entry point succeeded")
    else:
        c.category = "transient"
        parts = {"network": c.lat_net, "self": c.lat_self, "peer": c.lat_peer}
        main = max(parts, key=lambda k: parts[k])
        has_store = any(
            b for a, b in inc.graph if a == c.component and inc.peer_kind.get(b) in ("db", "cache")
        )
        if main == "network" or (
            c.lat_net_out > c.lat_self + c.lat_peer and c.lat_net_out > 0.3 * c.latency
        ):
            c.kind = "network"
            if c.lat_net_out > c.lat_net:
                # The delay sits on calls it makes: the same time its callee is charged with.
                out = [
                    (d, k[2])
                    for k, d in added.items()
                    if k[0] == "edge" and k[1] == c.component and k[2] != c.component and d > 0
                ]
                if out:
                    c.net_callee = max(out)[1]
        elif main == "self" and c.lat_lead >= 0.6 * c.lat_self and has_store:
            c.kind = "saturation"
        else:
            c.kind = "latency"
        own = [
            (d, k)
            for k, d in added.items()
            if d > 0
            and (
                (k[0] == "self" and k[1] == c.component) or (k[0] != "self" and k[2] == c.component)
            )
        ]
        if own:
            _, k = max(own)
            c.operation = k[2] if k[0] == "self" else None
            if k[0] == "peer":
                c.operation = next((spans[i].name for i in _examples_for_peer(inc, k)), None)
        # The parts add up to the total, and each added millisecond is stated for one
        # component only: its outgoing calls' network time is its callee's.
        pieces = [
            text
            for value, text in (
                (c.lat_net, f"network into it {ms_text(c.lat_net)}"),
                (c.lat_self, f"own work {ms_text(c.lat_self)}"),
                (c.lat_peer, f"time in calls to it {ms_text(c.lat_peer)}"),
                (c.lat_retry, f"callers waiting to retry it {ms_text(c.lat_retry)}"),
            )
            if value > 0
        ]
        if c.lat_net_out > 0:
            pieces.append(
                f"besides, its own calls spent {ms_text(c.lat_net_out)} on the "
                f"network, counted for the callee"
            )
        if base is None:
            pieces.append("no baseline to compare with")
        parts_text = f" ({'; '.join(pieces)})" if pieces else ""
        c.facts.insert(
            0,
            f"explains {ms_text(c.own_latency)} of added critical-path time per request{parts_text}"
            if base is not None
            else f"takes {ms_text(c.own_latency)} of critical-path time per request{parts_text}",
        )
    _concentration(c, inc, base)
    if c.kind == "client-input":
        c.origin = "user"


def in_consumer(table: SpanTable, i: int) -> bool:
    """Does span `i` run inside message consumption: below (or as) a CONSUMER span, or below
    a PRODUCER span's hand-off? Such work is asynchronous to whoever sent the message."""
    spans, parent = table.spans, table.parent
    j = i
    for _ in range(256):
        k = spans[j].kind
        if k == SpanKind.CONSUMER:
            return True
        p = parent[j]
        if p < 0:
            return False
        if spans[p].kind == SpanKind.PRODUCER:
            return True
        j = p
    return False


def _examples_for_peer(inc: WindowStats, key: tuple[str, str, str]) -> list[int]:
    """A few client spans from `key[1]` to the peer `key[2]`, scanning a bounded prefix."""
    out: list[int] = []
    table = inc.table
    for t in inc.traces[:200]:
        for i in table.members[t]:
            s = table.spans[i]
            if s.service == key[1] and not table.has_child[i] and peer_name(s) == key[2]:
                out.append(i)
                if len(out) >= 3:
                    return out
    return out
