"""What a ranked candidate is: its kind (error, latency, network, saturation, dependency,
client-input, behaviour, deploy), failure category, origin, operation, the instance or
version its trouble sits on, and its facts. The decisions are made here, from the window's
statistics; every sentence is phrased by `wording`."""

from __future__ import annotations

from collections import Counter

from incident.analysis import wording
from incident.analysis.candidate import MIN_STRUCT_SCORE, Candidate
from incident.analysis.classify import failure_category
from incident.analysis.evidence import MIN_EVIDENCE
from incident.analysis.semconv import ERROR, classify, peer_name
from incident.analysis.signals import OriginErrors, ResKey, WindowStats
from incident.analysis.trees import SpanTable
from incident.analysis.variation import rate_z
from incident.model import SpanKind

HopKey = tuple[str, str, str]

# Failures pinned on one instance or version: its failure rate against its peers', as a
# two-proportion z. Background errors spread by chance reach about 3 in a few dozen
# exports; a pod that is really bad stands at 8 and far above.
CONCENTRATION_Z = 4.0


def describe(
    c: Candidate,
    inc: WindowStats,
    base: WindowStats | None,
    added: dict[HopKey, float],
) -> None:
    """Kind, category, origin, operation and one-line facts of a ranked candidate, by what
    its evidence is mostly made of: what it does, its new failures, or its added time."""
    if c.ctype == "external":
        c.origin = "dependency"
    # A component with new failures is described by them: they explain what it stopped doing.
    if c.struct_part > max(c.lat_score, c.err_score) and not c.fails_more:
        _describe_behaviour(c)
    elif c.err_score >= c.lat_score and c.fails_more:
        _describe_failures(c, inc, base)
    else:
        _describe_latency(c, inc, base, added)
    if c.edge_note:
        c.facts.append(c.edge_note)
    if c.kind != "behaviour" and c.struct_score >= MIN_STRUCT_SCORE:
        c.facts.extend(_behaviour_facts(c)[:2])
    _concentration(c, inc, base)
    # (One slow instance says more than "all its operations": it names where.)
    fact = None
    if c.uniform and not c.instance:
        slowed, compared = c.uniform_slowed
        fact = wording.uniform_fact(slowed, compared, c.uniform_ratio)
    elif c.pooled and not c.instance:
        fact = wording.pooled_fact(c.pooled_ops, c.pooled_ratio, calls=c.pooled_calls)
    if fact is not None:
        # First when it is what made the cause: its share of the requests' time is small.
        c.facts.insert(0 if c.pooled_led else len(c.facts), fact)
    if c.kind == "client-input":
        c.origin = "user"


def _describe_failures(c: Candidate, inc: WindowStats, base: WindowStats | None) -> None:
    """A candidate described by its new failures: client input, timeouts, an unreachable
    dependency, or errors of its own (with their category)."""
    o = inc.origins.get(c.component)
    if c.user_new > c.err_new:
        c.kind, c.category, c.origin = "client-input", "permanent", "user"
    elif c.timeouts >= 0.5 * max(1, c.errors):
        c.kind, c.category = "latency", "transient"
    elif c.unreachable >= 0.5 * max(1, c.errors) and c.ctype in ("service", "external"):
        # Calls that never connected say nothing about the peer's own code: it is down,
        # unresolvable or cut off. (A store keeps kind "error": its actions differ.)
        c.kind, c.category = "dependency", "transient"
        c.facts.append(wording.unreachable_fact(c.unreachable, c.callers[:5]))
    else:
        _describe_errors(c, inc, base, o)
    if o and o.operations:
        c.operation = max(o.operations.items(), key=lambda kv: kv[1])[0]
    c.facts.insert(
        0, wording.failures_fact(c.errors, c.baseline_errors if base is not None else None)
    )
    if c.timeouts:
        c.facts.append(wording.timeouts_fact(c.timeouts))
    if c.consumer:
        c.facts.append(wording.CONSUMER_FACT)
    elif c.absorbed:
        c.facts.append(wording.absorbed_fact(c.absorbed))


def _describe_errors(
    c: Candidate, inc: WindowStats, base: WindowStats | None, o: OriginErrors | None
) -> None:
    """Errors of its own: the category its example failures mostly have, adjusted for who
    absorbed or retried them and for failures while consuming messages."""
    c.kind = "error"
    cats = Counter(classify(inc.table.spans[i], ERROR)[0] for i in c.examples)
    c.category = cats.most_common(1)[0][0] if cats else "transient"
    o_retried = o.retried if o else 0
    c.consumer = bool(c.examples) and sum(
        in_consumer(inc.table, i) for i in c.examples
    ) >= 0.5 * len(c.examples)
    # A message consumer's failure is not absorbed by anyone: the producer moved on
    # long ago and the message is retried, dead-lettered or lost.
    c.category = failure_category(
        c.category,
        c.errors,
        round(c.absorbed * max(1, c.errors)),
        o_retried,
        c.consumer,
    )
    if o_retried:
        c.facts.append(wording.retried_fact(o_retried))
    if c.lat_retry > 0 and base is not None:
        c.facts.append(wording.retry_wait_fact(c.lat_retry))


def _describe_latency(
    c: Candidate, inc: WindowStats, base: WindowStats | None, added: dict[HopKey, float]
) -> None:
    """A candidate described by its added time: network, saturation or latency, the
    operation that grew most, and where its time went."""
    c.category = "transient"
    parts = {"network": c.lat_net + c.lat_net_own, "self": c.lat_self, "peer": c.lat_peer}
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
    if (c.uniform or (c.pooled and not c.pooled_calls)) and main != "peer":
        # Every operation of its own slowed, short ones too: the instances are starved
        # (CPU, memory, throttling), whichever hop shows it most: a starved process is
        # late to take requests and to send its calls. Where the time sits tells what
        # looks the same: a delayed network (the network holds most of it) or requests
        # waiting for a database connection (most of it before its database calls); then
        # the wording names both.
        queued = c.kind == "saturation"
        c.alike = "network" if main == "network" else "pool" if queued else ""
        c.kind, c.starved = "saturation", True
    own = [
        (d, k)
        for k, d in added.items()
        if d > 0
        and ((k[0] == "self" and k[1] == c.component) or (k[0] != "self" and k[2] == c.component))
    ]
    if own:
        _, k = max(own)
        c.operation = k[2] if k[0] == "self" else None
        if k[0] == "peer":
            spans = inc.table.spans
            c.operation = next((spans[i].name for i in _examples_for_peer(inc, k)), None)
    # The parts add up to the total, and each added millisecond is stated for one
    # component only: its outgoing calls' network time is its callee's.
    c.facts.insert(
        0,
        wording.latency_fact(
            wording.LatencyParts(
                total=c.own_latency,
                net_in=c.lat_net,
                net_own=c.lat_net_own,
                own_work=c.lat_self,
                peer=c.lat_peer,
                retry=c.lat_retry,
                elsewhere=c.lat_net_out - c.lat_net_own,
            ),
            compared=base is not None,
        ),
    )


def _concentration(c: Candidate, inc: WindowStats, base: WindowStats | None) -> None:
    """Name the version (a deploy) or the instance (a bad pod) the trouble sits on."""
    keys = [k for k in inc.res_acc if k[0] == c.component]
    if len(keys) < 2:
        return
    o = inc.origins.get(c.component)
    if c.err_new > 0 and o and _on_new_version(c, inc, base, o, keys):
        return
    instances = [k for k in keys if k[1]]
    if len(instances) < 2:
        return
    if c.err_score >= c.lat_score and o and o.by_resource:
        _failing_instance(c, inc, o, keys)
    elif c.lat_score > c.err_score:
        _slow_instance(c, inc, instances)


def _on_new_version(
    c: Candidate, inc: WindowStats, base: WindowStats | None, o: OriginErrors, keys: list[ResKey]
) -> bool:
    """Name the new version its failures sit on (kind "deploy"); False if none stands out."""
    acc = inc.res_acc
    by_version: Counter[str] = Counter()
    calls_version: Counter[str] = Counter()
    for k in keys:
        calls_version[k[2] or ""] += acc[k][0]
        by_version[k[2] or ""] += o.by_resource.get(k, 0)
    if len(calls_version) < 2:
        return False
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
            and rate_z(errs, calls_version[v], total - errs, older_calls) >= CONCENTRATION_Z
        ):
            c.kind, c.version = "deploy", v
            c.concentration = wording.version_concentration(errs, total, v, rate, rest)
            c.facts.append(c.concentration)
            return True
    return False


def _failing_instance(c: Candidate, inc: WindowStats, o: OriginErrors, keys: list[ResKey]) -> None:
    """Name the one instance most of its failures sit on, if one stands out."""
    acc = inc.res_acc
    total = sum(o.by_resource.values())
    k, errs = max(o.by_resource.items(), key=lambda kv: (kv[1], kv[0][1] or ""))
    calls = acc[k][0] if k in acc else 1
    rate = errs / max(1, calls)
    rest_calls = sum(acc[x][0] for x in keys if x != k)
    rest = (total - errs) / max(1, rest_calls)
    if (
        k[1]
        and errs >= 0.6 * total
        and rate >= 3 * rest
        and errs >= MIN_EVIDENCE
        and rest_calls >= MIN_EVIDENCE
        and rate_z(errs, calls, total - errs, rest_calls) >= CONCENTRATION_Z
    ):
        c.instance = k[1]
        c.concentration = wording.instance_failures(
            errs, total, c.instance, rate, rest, len(keys) - 1
        )
        c.facts.append(c.concentration)


def _slow_instance(c: Candidate, inc: WindowStats, instances: list[ResKey]) -> None:
    """Name the one instance whose spans are far slower than its peers', if one is."""
    acc = inc.res_acc
    means = {k: acc[k][1] / max(1, acc[k][0]) for k in instances}
    k = max(means, key=lambda x: (means[x], x[1] or ""))
    others = sorted(m for x, m in means.items() if x != k)
    median = others[len(others) // 2] if others else 0.0
    peer_spans = sum(acc[x][0] for x in instances if x != k)
    if (
        k[1]  # (always named: `instances` holds only named ones)
        and median > 0
        and means[k] >= 3 * median
        and acc[k][0] >= MIN_EVIDENCE
        and peer_spans >= MIN_EVIDENCE
    ):
        c.instance = k[1]
        c.concentration = wording.instance_latency(c.instance, means[k] / 1e6, median / 1e6)
        c.facts.append(c.concentration)


def _behaviour_facts(c: Candidate) -> list[str]:
    """One sentence per structural change: calls stopped, started or repeated, callers
    that now stop after calling it, and a caller mix that moved."""
    facts: list[str] = []
    b = c.behaviour
    if b is not None:
        facts.extend(wording.call_change_fact(ch) for ch in b.changes[:3])
        for callee, _ev in sorted(b.stops_after.items(), key=lambda kv: -kv[1])[:1]:
            facts.append(wording.ends_after_fact(callee))
        if b.context_shift >= 0.2:
            facts.append(wording.caller_mix_fact(b.context_shift))
        if b.upstream >= 0.5:
            facts.append(wording.UPSTREAM_FACT)
    if c.stopped_caller:
        facts.append(wording.stopped_caller_fact(c.stopped_caller))
    return facts


def _describe_behaviour(c: Candidate) -> None:
    """A candidate whose evidence is what it does, not how long it takes or whether its
    spans fail: kind "behaviour" (a code-level change: an exception, a changed return value,
    a feature switched on or off)."""
    c.kind, c.category, c.origin = "behaviour", "transient", "infrastructure"
    b = c.behaviour
    if b is not None and b.changes:
        c.operation = b.changes[0].op[1]
    c.facts[:0] = _behaviour_facts(c)


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


def _examples_for_peer(inc: WindowStats, key: HopKey) -> list[int]:
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
