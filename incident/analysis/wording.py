"""Every sentence the engine writes about a cause, in one place: the one-line summary of
each root cause, and the small number words it uses. Claims of change ("new", "a surge",
"got slower", "one instance", "one version") need a baseline and enough observations;
without them the sentence states the counts instead.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from incident.analysis.evidence import MIN_EVIDENCE, ms_text, plural
from incident.analysis.rank import Candidate

if TYPE_CHECKING:
    from incident.analysis.assess import Assessment


def cause_sentence(a: Assessment, c: Candidate) -> str:
    """One sentence a responder can act on. Claims of change ("new", "a surge", "got
    slower", "one instance", "one version") need a baseline and enough observations;
    without them the sentence states the counts instead."""
    where = c.component + (f" ({c.operation})" if c.operation else "")
    compared = a.base is not None
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
            f"{where} fails, but its callers fall back and the requests still succeed ({failures})."
            if n_fail >= MIN_EVIDENCE
            else f"{where} failed {_times(n_fail)} and the request still succeeded"
            f"{' each time' if n_fail > 1 else ''} ({failures})."
        )
    else:
        # "New" only for failures that rose significantly, never for fewer than before.
        is_new = compared and c.err_new + c.user_new > 0 and c.errors > c.baseline_errors
        lead = f"New {c.category}" if is_new else c.category.capitalize()
        first = c.facts[0].rstrip(".") if c.facts else "its calls changed"
        text = {
            "saturation": f"Every operation of {c.component} slowed alike, short ones too "
            f"(contention for CPU, memory or threads on it); it {added}."
            if c.uniform
            else f"Requests queue inside {where} before its database calls "
            f"(connection pool or worker saturation); it {added}.",
            "behaviour": f"{where} changed what it does next while its callers did not "
            f"(a code-level change: an exception or a changed result): {first}.",
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
