"""Every sentence the engine writes about a cause, in one place: the one-line summary of
each root cause (`cause_sentence`), the facts listed under it, the notes on ambiguous edges
and concentrations, and the small number words they use (`ms_text` and `plural` from
`evidence` are the one millisecond formatter and the one plural). The engine decides what to
say (`rank`, `attribution`, `describe`); this module only phrases it. Claims of change
("new", "a surge", "got slower", "one instance", "one version") need a baseline and enough
observations; without them the sentence states the counts instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from incident.analysis.evidence import MIN_EVIDENCE, ms_text, plural

if TYPE_CHECKING:
    from incident.analysis.assess import Assessment
    from incident.analysis.behaviour import CallChange
    from incident.analysis.candidate import Candidate
    from incident.analysis.windows import ChangePoint


# --- the summary sentence -----------------------------------------------------------------


def cause_sentence(a: Assessment, c: Candidate) -> str:
    """One sentence a responder can act on. Claims of change ("new", "a surge", "got
    slower", "one instance", "one version") need a baseline and enough observations;
    without them the sentence states the counts instead."""
    if c.kind == "deploy":
        return (
            f"Version {c.version} of {c.component} fails where older versions do not: "
            f"{c.concentration}."
        )
    if c.instance:
        return (
            f"{_where(c)} misbehaves on one instance, {c.instance}, while its peers are "
            f"healthy: {c.concentration}."
        )
    compared = a.base is not None
    text = _failure_sentence(c, compared) or _kind_sentence(c, compared)
    if c.symptom_of:
        text += f" Likely a symptom of {c.symptom_of}."
    return text


def _where(c: Candidate) -> str:
    return c.component + (f" ({c.operation})" if c.operation else "")


def _failures(c: Candidate, compared: bool) -> str:
    """Its failure counts, during the incident and before (or in the export)."""
    return (
        f"{c.errors:,} during the incident, {c.baseline_errors:,} before"
        if compared
        else f"{plural(c.errors, 'failure')} in the export, no baseline to compare with"
    )


def _added(c: Candidate, compared: bool) -> str:
    """Its share of the added request latency (of critical-path time without a baseline)."""
    share = _share(c.lat_share)
    # The same added time the share is of: its own hops, not its callees' network time.
    per_request = ms_text(c.own_latency)
    return (
        f"explains {share} of the added request latency (+{per_request} per request)"
        if compared
        else f"takes {share} of critical-path time ({per_request} per request; no "
        f"baseline to compare with)"
    )


def _failure_sentence(c: Candidate, compared: bool) -> str | None:
    """The sentence for failures that are not plainly the component's own: calls that time
    out, rejected client input, a failing consumer, failures its callers fall back from."""
    where, failures, n_fail = _where(c), _failures(c, compared), c.errors
    if c.kind == "latency" and c.errors and c.timeouts >= 0.5 * c.errors:
        return (
            f"Callers time out waiting for {where}: {plural(c.timeouts, 'call')} gave "
            f"up ({failures})."
        )
    if c.kind == "client-input":
        # A surge needs a baseline that shows the rise and enough rejections to be one.
        surged = compared and c.user_new >= MIN_EVIDENCE
        rejected = plural(n_fail, "client request")
        counted = (
            f"{n_fail:,} during the incident, {c.baseline_errors:,} before"
            if compared
            else "in the export; no baseline to compare with"
        )
        return (
            f"{where} rejects a surge of invalid client requests (4xx): {failures}; "
            f"the service itself is healthy."
            if surged
            else f"{where} rejected {rejected} with a 4xx ({counted}); a 4xx is the "
            f"client's mistake, not a failure of the service."
        )
    if c.kind == "error" and c.consumer:
        return (
            f"{where} fails while consuming messages: {failures}. No caller waits for "
            f"a consumer, so nothing absorbs these; users notice only if the messages "
            f"matter to them (check consumer lag and the dead-letter queue)."
        )
    if c.kind == "error" and c.category == "partial":
        # "Requests still succeed", not "users are not affected": the fallback may cost
        # latency elsewhere (a cache miss lands on the database).
        return (
            f"{where} fails, but its callers fall back and the requests still succeed ({failures})."
            if n_fail >= MIN_EVIDENCE
            else f"{where} failed {_times(n_fail)} and the request still succeeded"
            f"{' each time' if n_fail > 1 else ''} ({failures})."
        )
    return None


def _kind_sentence(c: Candidate, compared: bool) -> str:
    """The sentence for each kind of cause, from what it explains."""
    where, failures, added = _where(c), _failures(c, compared), _added(c, compared)
    # "New" only for failures that rose significantly, never for fewer than before.
    is_new = compared and c.fails_more and c.errors > c.baseline_errors
    lead = f"New {c.category}" if is_new else c.category.capitalize()
    first = c.facts[0].rstrip(".") if c.facts else "its calls changed"
    # A slowdown of a service few requests reach: sized for them, not as a share of all.
    few = f"adds {ms_text(c.own_latency)} per request, however few requests reach it"
    return {
        "saturation": f"Every operation of {c.component} slowed alike, short ones too "
        f"{_starved(c)}; it {few if c.pooled_led else added}."
        if c.starved and c.uniform
        else f"The own work of {c.component} became x{c.pooled_ratio:.1f} as long over "
        f"{plural(c.pooled_ops, 'operation')} taken together, short ones too "
        f"{_starved(c)}; it {few if c.pooled_led else added}."
        if c.starved
        else f"Requests queue inside {where} before its database calls "
        f"(connection pool or worker saturation); it {added}.",
        "behaviour": f"{where} changed what it does next while its callers did not "
        f"(a code-level change: an exception or a changed result): {first}.",
        "network": _network_sentence(c, compared, added, few),
        "dependency": f"{c.component} could not be reached: "
        f"{plural(c.unreachable, 'call')} from {_join(c.callers)} never "
        f"connected (unavailable, refused or unresolvable); {failures}.",
        "error": f"{lead} failures originate in {where}: {failures}."
        if c.errors or not c.facts
        else f"Named by the records that were read ({first}); no failing span confirms it.",
        "latency": f"{where} got slower: it {added}."
        if compared and c.latency_claim_holds
        else f"{where} barely changed: its critical-path time rose "
        f"{_growth_text(c.lat_growth)} (+{ms_text(c.own_latency)} per request, "
        f"{_share(c.lat_share)} of the added latency), too little to explain "
        f"the incident; nothing else stood out."
        if compared
        else f"{where} {added}.",
    }.get(c.kind, f"{where} is the most likely origin.")


def _starved(c: Candidate) -> str:
    """Why a service whose own work slowed alike is read as starved, and what looks the
    same where its added time sits (`Candidate.alike`)."""
    why = "(contention for CPU, memory or threads on it)"
    if c.alike == "network":
        return (
            f"{why}, but most of the time it added is on the network into it or on its "
            f"side of its calls: a starved process is late to take requests and to send, "
            f"and a delayed network there looks the same"
        )
    if c.alike == "pool":
        return (
            f"{why}, but most of the time it added is spent before its database calls, "
            f"where requests waiting for a database connection look the same"
        )
    return why


def _network_sentence(c: Candidate, compared: bool, added: str, few: str) -> str:
    """A network cause: on its own side of every call it makes, seen from the caller (its
    slow calls to one callee) or on the path into it."""
    if c.slow_to_send:
        return (
            f"{c.component} is slow on its own side of every call it makes: its calls to "
            f"{plural(c.pooled_ops, 'other service')} waited x{c.pooled_ratio:.1f} as long "
            f"between its client spans and the callees' server spans, taken together "
            f"(starved of CPU or threads, or its own network); it {few}."
        )
    if c.net_callee and compared:
        return (
            f"{c.component} waits on the network for its calls to "
            f"{c.net_callee} (+{ms_text(c.lat_net_out)} per request on those "
            f"calls): the same delay as on the path to {c.net_callee}, seen from "
            f"the caller."
        )
    if c.net_callee:
        return (
            f"{c.component}'s calls to {c.net_callee} spend their time between "
            f"its client spans and {c.net_callee}'s server spans "
            f"({ms_text(c.lat_net_out)} per request; no baseline to compare "
            f"with)."
        )
    if compared:
        return (
            f"The network path to {c.component} got slower while its own work "
            f"stayed fast; it {added}."
        )
    return (
        f"Calls to {c.component} spend most of their time between the "
        f"caller's client span and {c.component}'s own server span (network, "
        f"queues, connection setup); that gap {added}."
    )


# --- the facts under a cause --------------------------------------------------------------


def failures_fact(errors: int, baseline_errors: int | None) -> str:
    """How many failures originate in it; `baseline_errors` None without a baseline."""
    if baseline_errors is None:
        return f"{plural(errors, 'failure')} originate here (no baseline to compare with)"
    return (
        f"{plural(errors, 'failure')} originate here during the incident "
        f"({baseline_errors} in the baseline)"
    )


def unreachable_fact(calls: int, callers: list[str]) -> str:
    return (
        f"{calls} calls from {', '.join(callers)} never connected "
        f"(unavailable, refused or unresolvable)"
    )


def retried_fact(calls: int) -> str:
    return f"{calls} failed calls were retried by their callers"


def retry_wait_fact(ms: float) -> str:
    return f"callers waited {ms_text(ms)} more per request between retries of its failed calls"


def timeouts_fact(calls: int) -> str:
    return f"{plural(calls, 'call')} gave up with a timeout waiting for it"


CONSUMER_FACT = "the failures happen while consuming messages: no caller waits for them"


def absorbed_fact(share: float) -> str:
    return f"{share:.0%} of them were absorbed: the entry point succeeded"


@dataclass(frozen=True)
class LatencyParts:
    """A component's added (or, without a baseline, total) critical-path ms per request and
    what it is made of; `elsewhere` is its outgoing calls' network time charged to callees."""

    total: float
    net_in: float
    net_own: float
    own_work: float
    peer: float
    retry: float
    elsewhere: float


def latency_fact(p: LatencyParts, *, compared: bool) -> str:
    """The time it explains and its parts, which add up to the total; each added
    millisecond is stated for one component only."""
    pieces = [
        text
        for value, text in (
            (p.net_in, f"network into it {ms_text(p.net_in)}"),
            (p.net_own, f"its side of its outgoing calls {ms_text(p.net_own)}"),
            (p.own_work, f"own work {ms_text(p.own_work)}"),
            (p.peer, f"time in calls to it {ms_text(p.peer)}"),
            (p.retry, f"callers waiting to retry it {ms_text(p.retry)}"),
        )
        if value > 0
    ]
    if p.elsewhere > 1e-9:
        pieces.append(
            f"besides, its own calls spent {ms_text(p.elsewhere)} on the "
            f"network, counted for the callee"
        )
    if not compared:
        pieces.append("no baseline to compare with")
    parts_text = f" ({'; '.join(pieces)})" if pieces else ""
    if compared:
        return f"explains {ms_text(p.total)} of added critical-path time per request{parts_text}"
    return f"takes {ms_text(p.total)} of critical-path time per request{parts_text}"


def uniform_fact(slowed: int, compared: int, ratio: float) -> str:
    return (
        f"{slowed} of its {plural(compared, 'own operation')} slowed alike (median "
        f"self time x{ratio:.1f}), short ones too: resource contention on "
        f"its instances (CPU, memory, threads or connections)"
    )


def pooled_fact(ops: int, ratio: float, *, calls: bool = False) -> str:
    if calls:
        return (
            f"its calls to {plural(ops, 'other service')} all waited longer on its own side "
            f"(between its client span and the callee's server span), x{ratio:.1f} taken "
            f"together, each against its own baseline: the caller itself is slow to send "
            f"and to read (starved of CPU or threads, or its own network), not its callees"
        )
    return (
        f"its own time over {plural(ops, 'operation')} rose x{ratio:.1f} taken together, "
        f"each against its own baseline: resource contention on its instances (CPU, "
        f"memory, threads or connections)"
    )


def cache_misses_fact(db: str, ratio: float, cache: str) -> str:
    return f"calls to {db} per request rose {ratio:.1f}x while {cache} failed"


# Why a grown client->server gap could sit on either end of its edge.
EdgeDoubt = Literal["both slowed", "nothing to compare", "no side told"]


def edge_note(caller: str, callee: str, doubt: EdgeDoubt) -> str:
    a, b = caller, callee
    why = {
        "both slowed": f"{a} and {b} both slowed on their other calls too",
        "nothing to compare": f"{a} calls nothing else and {b} has no other caller to compare with",
        "no side told": f"neither {a}'s other calls nor {b}'s other callers tell the sides apart",
    }[doubt]
    return (
        f"the added gap on calls from {a} to {b} sits between {a}'s client spans and "
        f"{b}'s server spans and may be either end's: {why}"
    )


def version_concentration(errs: int, total: int, version: str, rate: float, rest: float) -> str:
    return (
        f"{errs} of {total} failures on new version {version} "
        f"({rate:.0%} vs {rest:.0%} on older versions)"
    )


def instance_failures(
    errs: int, total: int, instance: str, rate: float, rest: float, peers: int
) -> str:
    return (
        f"{errs} of {total} failures on {instance} "
        f"({rate:.0%} vs {rest:.0%} on its {plural(peers, 'peer')})"
    )


def instance_latency(instance: str, mean_ms: float, median_ms: float) -> str:
    return f"{instance} spans average {ms_text(mean_ms)} vs {ms_text(median_ms)} on its peers"


# --- what it does differently -------------------------------------------------------------


def _op_text(op: tuple[str, str]) -> str:
    return f"{op[0]}.{op[1]}"


def call_change_fact(ch: CallChange) -> str:
    """A call it stopped, started or repeats, with the shares (or counts) and how far the
    change stands out."""
    call, op = _op_text(ch.call), _op_text(ch.op)
    if ch.how in ("stopped", "started"):
        return (
            f"{ch.how} calling {call}: {ch.after:.0%} of its {op} invocations make that "
            f"call, {ch.before:.0%} did before ({ch.n_after} invocations, {ch.z:.1f} "
            f"standard errors beyond the baseline's variation)"
        )
    return (
        f"calls {call} {ch.after:.1f} times per {op} invocation that calls it (was {ch.before:.1f})"
    )


def ends_after_fact(callee: str) -> str:
    return f"its invocations now often end right after a call to {callee}"


def caller_mix_fact(shift: float) -> str:
    return (
        f"the mix of calls into it moved too ({shift:.0%} of them), "
        f"which may explain part of the change"
    )


UPSTREAM_FACT = (
    "services calling it changed what they do as well: it may only be answering different requests"
)


def stopped_caller_fact(caller: str) -> str:
    return (
        f"{caller} now often stops right after calling it and skips the calls "
        f"that used to follow: what it answered may be why"
    )


# --- number words -------------------------------------------------------------------------


def _times(n: int) -> str:
    return "once" if n == 1 else "twice" if n == 2 else f"{n:,} times"


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


def onset_event(change: ChangePoint) -> str:
    """The timeline's first anomaly, saying what marked it."""
    where = change.where or "one service"
    return {
        "entry": "First anomaly: entry-point latency or error rate departs from the baseline",
        "operation": "First anomaly: one operation's duration shifts at this moment",
        "service": f"First anomaly: the spans of {where} become several times as long",
        "edge": (
            f"First anomaly: calls into {where} start taking several times as long between "
            "the caller's call and its own span"
        ),
        "alert": (
            "Incident start taken from the first alert inside the export (less its usual "
            "delay): the traces show no clear onset of their own"
        ),
    }[change.signal]
